//! What nsgate learns about the pinned target from the host side before it
//! forks: which namespaces differ from its own, the cgroups, limits and
//! capabilities of the target's init, and its seccomp filters (cached in
//! `seccomp_cache`). Everything is read through a
//! descriptor on /proc/PID, and the pidfd is checked afterwards, so a pid
//! reused meanwhile is detected, never entered.
#![forbid(unsafe_code)]

mod seccomp_cache;

use super::cgroup;
use crate::config::{NsSet, NS_NAMES};
use crate::resolve::Pinned;
use crate::system::{self, Rlimit};
use seccomp_cache::Cache;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// /proc files of a process are small; more is not a file we understand.
const PROC_FILE_LIMIT: u64 = 1 << 20;

/// The target init's confinement, from /proc/PID/status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TargetCaps {
    pub bounding: u64,
    pub permitted: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub no_new_privs: bool,
    /// 0 none, 1 strict, 2 filter (the `Seccomp:` line).
    pub seccomp_mode: u8,
}

pub(super) struct Facts {
    /// The namespaces to join.
    pub ns: NsSet,
    /// The target's root directory, when its mount namespace is joined.
    pub root: Option<OwnedFd>,
    pub cgroups: Vec<cgroup::Hierarchy>,
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adj: Option<i32>,
    pub caps: TargetCaps,
    /// The highest capability number the kernel knows.
    pub last_cap: u32,
    /// The target init's seccomp filters, oldest first.
    pub seccomp: Vec<system::BpfProgram>,
}

impl Facts {
    /// `setns` flags for every namespace to join (for pid, the namespace
    /// children are born into).
    pub(super) fn setns_flags(&self) -> i32 {
        self.ns
            .names()
            .filter_map(system::ns_flag)
            .fold(0, |a, f| a | f)
    }
}

/// Why the target cannot be entered, as the host side sees it.
#[derive(Debug)]
pub(super) enum Why {
    OpenProc(system::Pid, io::Error),
    /// The pidfd says the pinned process has ended.
    Gone(system::Pid, io::Error),
    Root(io::Error),
    /// One of nsgate's own /proc/self files.
    OwnFile(&'static str, io::Error),
    OwnProc(io::Error),
    /// A namespace (by name) of the target, or nsgate's own, not inspected.
    TheirNamespace(&'static str, io::Error),
    OurNamespace(&'static str, io::Error),
    Cgroup(cgroup::Why),
    Paused(cgroup::Frozen),
    /// A file of the target's /proc/PID, by name.
    Read(&'static str, io::Error),
    NotText(&'static str),
    OomScoreAdj(String),
    /// /proc/PID/limits: a value, a row missing, a row too short.
    Limit(String),
    NoLimit(&'static str),
    ShortLimit(&'static str),
    /// /proc/PID/status: a field missing, not hex, an unknown Seccomp mode.
    NoField(&'static str),
    BadField(&'static str),
    SeccompMode(String),
    LastCap(io::Error),
    StrictSeccomp,
    CopyFilters(io::Error),
    /// A filter that can return an errno of 0.
    FakeSuccess,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::OpenProc(pid, e) => write!(f, "cannot open /proc/{pid}: {e}"),
            Why::Gone(pid, e) => write!(f, "the target process {pid} is gone: {e}"),
            Why::Root(e) => write!(f, "cannot open the target's root: {e}"),
            Why::OwnFile(path, e) => write!(f, "cannot read {path}: {e}"),
            Why::OwnProc(e) => write!(f, "cannot open /proc/self: {e}"),
            Why::TheirNamespace(name, e) => {
                write!(f, "cannot inspect the target's {name} namespace: {e}")
            }
            Why::OurNamespace(name, e) => {
                write!(f, "cannot inspect nsgate's {name} namespace: {e}")
            }
            Why::Cgroup(why) => why.fmt(f),
            Why::Paused(why) => write!(f, "the container is paused ({why})"),
            Why::Read(name, e) => write!(f, "cannot read the target's /proc/PID/{name}: {e}"),
            Why::NotText(name) => write!(f, "unexpected bytes in the target's {name}"),
            Why::OomScoreAdj(text) => write!(f, "unexpected oom_score_adj {text:?}"),
            Why::Limit(value) => write!(f, "unexpected limit {value:?} in the target's limits"),
            Why::NoLimit(name) => write!(f, "no \"{name}\" in the target's limits"),
            Why::ShortLimit(name) => write!(f, "short \"{name}\" row in the target's limits"),
            Why::NoField(name) => write!(f, "no {name} in the target's status"),
            Why::BadField(name) => write!(f, "bad {name} in the target's status"),
            Why::SeccompMode(mode) => {
                write!(f, "unexpected Seccomp {mode:?} in the target's status")
            }
            Why::LastCap(e) => write!(f, "cannot read the capability count: {e}"),
            Why::StrictSeccomp => {
                f.write_str("the target runs in strict seccomp mode; no command can run there")
            }
            Why::CopyFilters(e) => write!(f, "cannot copy the target's seccomp filter: {e}"),
            Why::FakeSuccess => f.write_str(
                "the target's seccomp filter can make a system call seem to succeed \
                 without running it (an errno of 0); nsgate will not run a command under it",
            ),
        }
    }
}

/// Reads everything about the target that must come from the host side.
pub(super) fn gather(pinned: &Pinned, restrict: Option<NsSet>) -> Result<Facts, Why> {
    let dir = system::open_proc_dir(pinned.pid).map_err(|e| Why::OpenProc(pinned.pid, e))?;
    alive(pinned)?;
    let dir = dir.as_fd();
    let ns = differing_namespaces(dir)?.intersect(restrict.unwrap_or(NsSet::ALL));
    let root = if ns.contains(NsSet::from_name("mnt").unwrap_or_default()) {
        Some(system::open_dir_path_at(dir, "root").map_err(Why::Root)?)
    } else {
        None
    };
    let target_cgroup = read_text(dir, "cgroup")?;
    let own = |path: &'static str| std::fs::read_to_string(path).map_err(|e| Why::OwnFile(path, e));
    let own_cgroup = own("/proc/self/cgroup")?;
    let mountinfo = own("/proc/self/mountinfo")?;
    let cgroups =
        cgroup::hierarchies(&target_cgroup, &own_cgroup, &mountinfo).map_err(Why::Cgroup)?;
    // Before anything that would wait on a frozen init or freeze the command.
    if let Some(why) = cgroup::frozen(&cgroups).map_err(Why::Cgroup)? {
        return Err(Why::Paused(why));
    }
    let rlimits = parse_limits(&read_text(dir, "limits")?)?;
    let oom = read_text(dir, "oom_score_adj")?;
    let oom_score_adj = Some(
        oom.trim()
            .parse::<i32>()
            .map_err(|_| Why::OomScoreAdj(oom))?,
    );
    let status = read_text(dir, "status")?;
    let caps = parse_status(&status)?;
    let last_cap = system::last_cap().map_err(Why::LastCap)?;
    let seccomp = match caps.seccomp_mode {
        0 => Vec::new(),
        2 => seccomp_filters(pinned, dir, &status)?,
        _ => return Err(Why::StrictSeccomp),
    };
    // Still the pinned process: everything above was about it.
    alive(pinned)?;
    Ok(Facts {
        ns,
        root,
        cgroups,
        rlimits,
        oom_score_adj,
        caps,
        last_cap,
        seccomp,
    })
}

/// How long the target's init may take to stop for the seccomp copy.
const SECCOMP_STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The target init's seccomp filters, so the command gets exactly what the
/// runtime gave the container (docker exec applies the same profile): from
/// the cache when it holds them for this process and filter count, else
/// copied from the init and cached for the next session. Failing to cache
/// costs only the copy next time, so it never fails the session.
fn seccomp_filters(
    pinned: &Pinned,
    dir: BorrowedFd<'_>,
    status: &str,
) -> Result<Vec<system::BpfProgram>, Why> {
    let key = cache_key(pinned.pid, dir, status);
    let base = Path::new(crate::own_dir::RUN);
    let cached = key
        .as_ref()
        .and_then(|key| Cache::open(base, false).ok()?.load(key));
    let copied = cached.is_none();
    let filters = match cached {
        Some(filters) => filters,
        None => system::copy_filters(pinned.pid, pinned.pidfd.as_fd(), SECCOMP_STOP_LIMIT)
            .map_err(Why::CopyFilters)?,
    };
    if filters.iter().any(system::BpfProgram::can_fake_success) {
        return Err(Why::FakeSuccess);
    }
    // A count that changed during the copy would key the wrong filters.
    if let Some(key) = key.filter(|k| copied && k.filters == filters.len()) {
        let _ = Cache::open(base, true).and_then(|cache| cache.store(&key, &filters));
    }
    Ok(filters)
}

/// What names the target's filters: its pid and start time (from the
/// descriptor on its /proc directory, so from this very process; `gather`
/// checks the pidfd afterwards) and its `Seccomp_filters:` count. None when
/// the kernel does not say (before Linux 5.9): then they are always copied.
fn cache_key(pid: system::Pid, dir: BorrowedFd<'_>, status: &str) -> Option<seccomp_cache::Key> {
    let filters = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp_filters:"))?
        .trim()
        .parse()
        .ok()?;
    let stat = system::read_at(dir, "stat", PROC_FILE_LIMIT).ok()?;
    Some(seccomp_cache::Key {
        boot_id: seccomp_cache::boot_id()?,
        pid,
        start_time: crate::resolve::start_time(pid, &stat)?,
        filters,
    })
}

/// The namespaces of the target that differ from nsgate's own (nsgate(8),
/// "Namespaces").
fn differing_namespaces(dir: BorrowedFd<'_>) -> Result<NsSet, Why> {
    let own = system::open_proc_dir(system::getpid()).map_err(Why::OwnProc)?;
    let mut set = NsSet::EMPTY;
    for name in NS_NAMES {
        let entry = format!("ns/{name}");
        let theirs = match system::identity_at(dir, &entry) {
            Ok(id) => id,
            // A kernel without this namespace type: nothing to join.
            Err(e) if system::is_not_found(&e) => continue,
            Err(e) => return Err(Why::TheirNamespace(name, e)),
        };
        let ours =
            system::identity_at(own.as_fd(), &entry).map_err(|e| Why::OurNamespace(name, e))?;
        if theirs != ours {
            set = set.union(NsSet::from_name(name).unwrap_or_default());
        }
    }
    Ok(set)
}

fn alive(pinned: &Pinned) -> Result<(), Why> {
    system::pidfd_send_signal(pinned.pidfd.as_fd(), 0).map_err(|e| Why::Gone(pinned.pid, e))
}

fn read_text(dir: BorrowedFd<'_>, name: &'static str) -> Result<String, Why> {
    let data = system::read_at(dir, name, PROC_FILE_LIMIT).map_err(|e| Why::Read(name, e))?;
    String::from_utf8(data).map_err(|_| Why::NotText(name))
}

/// Every resource limit from /proc/PID/limits: each known row must be
/// there, with a number or `unlimited` for its soft and hard limit.
pub(super) fn parse_limits(limits: &str) -> Result<Vec<system::Rlimit>, Why> {
    let value = |v: &str| match v {
        "unlimited" => Ok(None),
        n => n.parse::<u64>().map(Some).map_err(|_| Why::Limit(n.into())),
    };
    system::RLIMIT_ROWS
        .iter()
        .map(|(name, resource)| {
            let row = limits
                .lines()
                .find_map(|l| l.strip_prefix(name).filter(|r| r.starts_with(' ')))
                .ok_or(Why::NoLimit(name))?;
            let mut fields = row.split_whitespace();
            let (Some(soft), Some(hard)) = (fields.next(), fields.next()) else {
                return Err(Why::ShortLimit(name));
            };
            Ok(system::Rlimit::new(*resource, value(soft)?, value(hard)?))
        })
        .collect()
}

/// The capability sets and no_new_privs from /proc/PID/status.
pub(super) fn parse_status(status: &str) -> Result<TargetCaps, Why> {
    let field = |name: &'static str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
            .ok_or(Why::NoField(name))
    };
    let hex = |name: &'static str| {
        let v = field(name)?;
        u64::from_str_radix(v, 16).map_err(|_| Why::BadField(name))
    };
    Ok(TargetCaps {
        bounding: hex("CapBnd")?,
        permitted: hex("CapPrm")?,
        effective: hex("CapEff")?,
        inheritable: hex("CapInh")?,
        no_new_privs: field("NoNewPrivs")? == "1",
        seccomp_mode: match field("Seccomp")? {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            other => return Err(Why::SeccompMode(other.into())),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_limits_as_prlimit_would() {
        let own = std::fs::read_to_string("/proc/self/limits").unwrap();
        let limits = parse_limits(&own).unwrap();
        assert_eq!(limits.len(), 16);
        let nofile = &limits[libc::RLIMIT_NOFILE as usize];
        let mut want = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(s, h)| (want.rlim_cur, want.rlim_max) = (s, h))
            .unwrap();
        assert_eq!((nofile.soft, nofile.hard), (want.rlim_cur, want.rlim_max));
        assert!(parse_limits("Limit  Soft Limit  Hard Limit  Units\n").is_err());
        assert!(parse_limits(&own.replace("unlimited", "lots")).is_err());
    }

    #[test]
    fn reads_caps_from_status() {
        let status = "Name:\tsleep\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n\
CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n\
Seccomp:\t2\nSeccomp_filters:\t1\n";
        let caps = parse_status(status).unwrap();
        assert_eq!(caps.bounding, 0xa80425fb);
        assert_eq!(caps.permitted, 0xa80425fb);
        assert_eq!(caps.inheritable, 0);
        assert!(caps.no_new_privs);
        assert_eq!(caps.seccomp_mode, 2);
        assert!(parse_status(&status.replace("Seccomp:\t2", "Seccomp:\t3")).is_err());
        assert!(parse_status("Name:\tx\n").is_err());
    }
}
