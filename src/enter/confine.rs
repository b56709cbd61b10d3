//! The system calls of entering and of dropping privileges, in their order,
//! behind one small trait: the entering process runs them on the kernel, and
//! a unit test records them, so the order and flags are pinned without root.
#![forbid(unsafe_code)]

use super::facts::TargetCaps;
use super::users::Credentials;
use crate::system::{self, BpfProgram, CapSets, Gid, Uid};
use std::io;
use std::os::fd::BorrowedFd;

/// One system call of entering, with what it is given.
#[derive(Debug)]
pub(super) enum Call<'a> {
    /// setns(2) through the target's pidfd with these CLONE_NEW* flags.
    Setns {
        pidfd: BorrowedFd<'a>,
        flags: i32,
    },
    /// chroot(2) to the target's root, then chdir to it.
    Chroot(BorrowedFd<'a>),
    /// Drop this capability from the bounding set.
    DropBounding(u32),
    NoNewPrivs,
    Seccomp(&'a BpfProgram),
    SetGroups(&'a [Gid]),
    /// Real, effective and saved gid.
    SetGids(Gid),
    /// Real, effective and saved uid.
    SetUids(Uid),
    SetCaps(CapSets),
    ClearAmbient,
}

impl Call<'_> {
    /// What the step is, for the failure message.
    fn what(&self) -> &'static str {
        match self {
            Call::Setns { .. } => "joining namespaces",
            Call::Chroot(_) => "entering the root directory",
            Call::DropBounding(_) => "capability bounding set",
            Call::NoNewPrivs => "no_new_privs",
            Call::Seccomp(_) => "the container's seccomp filter",
            Call::SetGroups(_) => "supplementary groups",
            Call::SetGids(_) => "gid",
            Call::SetUids(_) => "uid",
            Call::SetCaps(_) => "capabilities",
            Call::ClearAmbient => "ambient capabilities",
        }
    }
}

/// Where the calls go.
pub(super) trait Kernel {
    fn call(&mut self, call: &Call<'_>) -> io::Result<()>;
}

/// The kernel itself.
pub(super) struct Real;

impl Kernel for Real {
    fn call(&mut self, call: &Call<'_>) -> io::Result<()> {
        match call {
            Call::Setns { pidfd, flags } => system::setns(*pidfd, *flags),
            Call::Chroot(root) => system::chroot_to(*root),
            Call::DropBounding(cap) => system::drop_bounding(*cap),
            Call::NoNewPrivs => system::set_no_new_privs(),
            Call::Seccomp(filter) => system::install_filter(filter),
            Call::SetGroups(groups) => system::set_groups(groups),
            Call::SetGids(gid) => system::set_gids(*gid),
            Call::SetUids(uid) => system::set_uids(*uid),
            Call::SetCaps(sets) => system::set_caps(*sets),
            Call::ClearAmbient => system::clear_ambient(),
        }
    }
}

/// A failed call: which step, and the kernel's error.
pub(super) struct Failed {
    pub what: &'static str,
    pub error: io::Error,
}

fn run(kernel: &mut impl Kernel, call: Call<'_>) -> Result<(), Failed> {
    kernel.call(&call).map_err(|error| Failed {
        what: call.what(),
        error,
    })
}

/// Joins the target's namespaces (for pid: where children are born) and
/// takes its root, if its mount namespace was joined.
pub(super) fn join(
    kernel: &mut impl Kernel,
    pidfd: BorrowedFd<'_>,
    flags: i32,
    root: Option<BorrowedFd<'_>>,
) -> Result<(), Failed> {
    if flags != 0 {
        run(kernel, Call::Setns { pidfd, flags })?;
    }
    if let Some(root) = root {
        run(kernel, Call::Chroot(root))?;
    }
    Ok(())
}

/// What the target confines its processes with.
pub(super) struct Confinement<'a> {
    pub caps: TargetCaps,
    /// The highest capability number the kernel knows.
    pub last_cap: u32,
    /// The target init's seccomp filters, oldest first.
    pub seccomp: &'a [BpfProgram],
}

/// Capabilities, no_new_privs, seccomp, groups, gid, uid, in the order that
/// keeps the privilege to make each change until it is made.
pub(super) fn become_user(
    kernel: &mut impl Kernel,
    target: &Confinement<'_>,
    creds: &Credentials,
) -> Result<(), Failed> {
    let caps = target.caps;
    let is_root = creds.uid.is_root();
    // Root keeps no more than the target's init has (nsgate(8),
    // Confinement); anyone else gets only the bounding set, as under
    // docker exec.
    let bounding = if is_root {
        caps.bounding & caps.permitted
    } else {
        caps.bounding
    };
    for cap in 0..=target.last_cap.min(63) {
        if bounding & (1u64 << cap) == 0 {
            run(kernel, Call::DropBounding(cap))?;
        }
    }
    if caps.no_new_privs {
        run(kernel, Call::NoNewPrivs)?;
    }
    // While still privileged, as runc does: without no_new_privs, installing
    // a filter needs CAP_SYS_ADMIN. What follows must pass the filter too.
    for filter in target.seccomp {
        run(kernel, Call::Seccomp(filter))?;
    }
    run(kernel, Call::SetGroups(&creds.groups))?;
    run(kernel, Call::SetGids(creds.gid))?;
    run(kernel, Call::SetUids(creds.uid))?;
    let sets = if is_root {
        CapSets {
            permitted: bounding,
            effective: bounding,
            inheritable: caps.inheritable & bounding,
        }
    } else {
        CapSets::default()
    };
    run(kernel, Call::SetCaps(sets))?;
    run(kernel, Call::ClearAmbient)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Records each call as text, and fails the one named in `fail`.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<String>,
        fail: Option<&'static str>,
    }

    impl Kernel for Recorder {
        fn call(&mut self, call: &Call<'_>) -> io::Result<()> {
            let text = match call {
                Call::Setns { flags, .. } => format!("setns {flags:#x}"),
                Call::Chroot(_) => "chroot".into(),
                Call::DropBounding(cap) => format!("drop {cap}"),
                Call::NoNewPrivs => "no_new_privs".into(),
                Call::Seccomp(f) => format!("seccomp {}", f.len()),
                Call::SetGroups(g) => format!("setgroups {g:?}"),
                Call::SetGids(g) => format!("setresgid {g}"),
                Call::SetUids(u) => format!("setresuid {u}"),
                Call::SetCaps(c) => format!(
                    "capset {:x}/{:x}/{:x}",
                    c.permitted, c.effective, c.inheritable
                ),
                Call::ClearAmbient => "ambient clear".into(),
            };
            let failing = self.fail.is_some_and(|f| text.starts_with(f));
            self.calls.push(text);
            if failing {
                return Err(io::Error::from_raw_os_error(libc::EPERM));
            }
            Ok(())
        }
    }

    fn creds(uid: u32) -> Credentials {
        let gid = |raw| Gid::new(raw).unwrap();
        Credentials {
            uid: Uid::new(uid).unwrap(),
            gid: gid(uid + 1),
            groups: vec![gid(uid + 1), gid(5)],
            name: None,
            home: "/".into(),
            shell: None,
        }
    }

    fn filter() -> BpfProgram {
        // RET ALLOW
        BpfProgram::from_bytes(&[6, 0, 0, 0, 0, 0, 0xff, 0x7f]).unwrap()
    }

    fn target(filters: &[BpfProgram]) -> Confinement<'_> {
        Confinement {
            caps: TargetCaps {
                // Capabilities 0, 1 and 3; init holds 0 and 3.
                bounding: 0b1011,
                permitted: 0b1001,
                effective: 0b1001,
                inheritable: 0b0001,
                no_new_privs: true,
                seccomp_mode: 2,
            },
            last_cap: 4,
            seccomp: filters,
        }
    }

    #[test]
    fn root_keeps_only_what_the_targets_init_has_and_drops_the_rest_first() {
        let filters = [filter(), filter()];
        let mut k = Recorder::default();
        assert!(become_user(&mut k, &target(&filters), &creds(0)).is_ok());
        assert_eq!(
            k.calls,
            [
                "drop 1",
                "drop 2",
                "drop 4",
                "no_new_privs",
                "seccomp 1",
                "seccomp 1",
                "setgroups [1, 5]",
                "setresgid 1",
                "setresuid 0",
                "capset 9/9/1",
                "ambient clear",
            ]
        );
    }

    #[test]
    fn another_user_gets_the_bounding_set_and_no_capabilities() {
        let mut k = Recorder::default();
        let mut t = target(&[]);
        t.caps.no_new_privs = false;
        assert!(become_user(&mut k, &t, &creds(1000)).is_ok());
        assert_eq!(
            k.calls,
            [
                "drop 2",
                "drop 4",
                "setgroups [1001, 5]",
                "setresgid 1001",
                "setresuid 1000",
                "capset 0/0/0",
                "ambient clear",
            ]
        );
    }

    #[test]
    fn a_failed_call_stops_everything_after_it_and_says_which() {
        let filters = [filter()];
        let mut k = Recorder {
            fail: Some("seccomp"),
            ..Recorder::default()
        };
        let failed = become_user(&mut k, &target(&filters), &creds(1000)).err();
        assert_eq!(
            failed.map(|f| f.what),
            Some("the container's seccomp filter")
        );
        // Nothing after the filter: the user never changed.
        assert_eq!(k.calls.last().map(String::as_str), Some("seccomp 1"));
        assert!(!k.calls.iter().any(|c| c.starts_with("setres")));
    }

    #[test]
    fn joins_with_one_setns_then_the_root() {
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = null.as_fd();
        let mut k = Recorder::default();
        let flags = libc::CLONE_NEWNS | libc::CLONE_NEWPID;
        assert!(join(&mut k, fd, flags, Some(fd)).is_ok());
        assert_eq!(k.calls, [format!("setns {flags:#x}"), "chroot".into()]);
        let mut k = Recorder::default();
        assert!(join(&mut k, fd, 0, None).is_ok());
        assert!(k.calls.is_empty());
    }
}
