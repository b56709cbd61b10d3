//! Credentials and confinement of the command: groups, uids and gids,
//! capability sets, resource limits.

use super::{Gid, Uid};
use std::io;

/// Replaces the supplementary groups.
pub(crate) fn set_groups(groups: &[Gid]) -> io::Result<()> {
    let groups: Vec<nix::unistd::Gid> = groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(g.as_raw()))
        .collect();
    Ok(nix::unistd::setgroups(&groups)?)
}

/// Sets real, effective and saved gid.
pub(crate) fn set_gids(gid: Gid) -> io::Result<()> {
    let gid = nix::unistd::Gid::from_raw(gid.as_raw());
    Ok(nix::unistd::setresgid(gid, gid, gid)?)
}

/// Sets real, effective and saved uid.
pub(crate) fn set_uids(uid: Uid) -> io::Result<()> {
    let uid = nix::unistd::Uid::from_raw(uid.as_raw());
    Ok(nix::unistd::setresuid(uid, uid, uid)?)
}

/// The three capability sets of a process, one bit per capability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CapSets {
    pub permitted: u64,
    pub effective: u64,
    pub inheritable: u64,
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_VERSION_3: u32 = 0x2008_0522;

/// Sets our own permitted, effective and inheritable capabilities.
pub(crate) fn set_caps(caps: CapSets) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: caps.effective as u32,
            permitted: caps.permitted as u32,
            inheritable: caps.inheritable as u32,
        },
        CapData {
            effective: (caps.effective >> 32) as u32,
            permitted: (caps.permitted >> 32) as u32,
            inheritable: (caps.inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and the two data structs are valid repr(C) values of
    // the layout capset(2) version 3 expects and live across the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Removes capability `cap` from our bounding set.
pub(crate) fn drop_bounding(cap: u32) -> io::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes the capability number by value.
    let ret = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Empties our ambient capability set.
pub(crate) fn clear_ambient() -> io::Result<()> {
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes only integer arguments.
    let ret = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The highest capability number this kernel knows.
pub(crate) fn last_cap() -> io::Result<u32> {
    let text = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad cap_last_cap"))
}

/// One resource limit: which, soft and hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rlimit {
    resource: u32,
    pub soft: u64,
    pub hard: u64,
}

impl Rlimit {
    /// A limit as /proc/PID/limits shows it; `None` soft or hard is unlimited.
    pub(crate) fn new(resource: u32, soft: Option<u64>, hard: Option<u64>) -> Rlimit {
        Rlimit {
            resource,
            soft: soft.unwrap_or(libc::RLIM_INFINITY),
            hard: hard.unwrap_or(libc::RLIM_INFINITY),
        }
    }
}

/// The rows of /proc/PID/limits and the resources they show. Read there,
/// since prlimit(2) on another user's process needs CAP_SYS_RESOURCE.
pub(crate) const RLIMIT_ROWS: [(&str, u32); 16] = [
    ("Max cpu time", libc::RLIMIT_CPU),
    ("Max file size", libc::RLIMIT_FSIZE),
    ("Max data size", libc::RLIMIT_DATA),
    ("Max stack size", libc::RLIMIT_STACK),
    ("Max core file size", libc::RLIMIT_CORE),
    ("Max resident set", libc::RLIMIT_RSS),
    ("Max processes", libc::RLIMIT_NPROC),
    ("Max open files", libc::RLIMIT_NOFILE),
    ("Max locked memory", libc::RLIMIT_MEMLOCK),
    ("Max address space", libc::RLIMIT_AS),
    ("Max file locks", libc::RLIMIT_LOCKS),
    ("Max pending signals", libc::RLIMIT_SIGPENDING),
    ("Max msgqueue size", libc::RLIMIT_MSGQUEUE),
    ("Max nice priority", libc::RLIMIT_NICE),
    ("Max realtime priority", libc::RLIMIT_RTPRIO),
    ("Max realtime timeout", libc::RLIMIT_RTTIME),
];

/// Applies one limit to ourselves.
pub(crate) fn set_rlimit(limit: &Rlimit) -> io::Result<()> {
    let new = libc::rlimit {
        rlim_cur: limit.soft,
        rlim_max: limit.hard,
    };
    // SAFETY: `new` is a valid rlimit read by the kernel; no old value asked.
    let ret = unsafe {
        libc::prlimit(
            0,
            limit.resource as libc::__rlimit_resource_t,
            &new,
            std::ptr::null_mut(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
