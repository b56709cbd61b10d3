//! Process, user and group ids as types of their own, so that one is never
//! mistaken for another, or for a signal, a count or a descriptor. Only
//! `system` turns one back into the raw integer, at the system call.
#![forbid(unsafe_code)]

use std::fmt;

/// A process id as the kernel gives it: always in 1..=[`Pid::MAX`]. Zero
/// and negative numbers, which kill(2) and friends read as a process group
/// or every process, cannot be made into one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Pid(i32);

impl Pid {
    /// The kernel's largest possible pid (`PID_MAX_LIMIT` on 64-bit).
    pub(crate) const MAX: i32 = 4_194_304;

    /// `raw` as a pid, if it can be one.
    pub(crate) fn new(raw: i32) -> Option<Pid> {
        (1..=Pid::MAX).contains(&raw).then_some(Pid(raw))
    }

    /// A pid the kernel returned (getpid, fork, clone), which is never 0
    /// or negative.
    pub(in crate::system) fn from_kernel(raw: i32) -> Pid {
        Pid(raw)
    }

    pub(in crate::system) fn as_raw(self) -> i32 {
        self.0
    }

    /// The form the entering processes send a pid in (see `enter::message`).
    pub(crate) fn to_le_bytes(self) -> [u8; 4] {
        self.0.to_le_bytes()
    }

    pub(crate) fn from_le_bytes(bytes: [u8; 4]) -> Option<Pid> {
        Pid::new(i32::from_le_bytes(bytes))
    }
}

/// A user id. Never `(uid_t)-1`, which setresuid(2) and chown(2) read as
/// "leave unchanged".
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Uid(u32);

impl Uid {
    pub(crate) const ROOT: Uid = Uid(0);

    /// `raw` as a uid, if it can be one.
    pub(crate) fn new(raw: u32) -> Option<Uid> {
        (raw != u32::MAX).then_some(Uid(raw))
    }

    /// A uid the kernel returned (fstat), which is never -1.
    pub(in crate::system) fn from_kernel(raw: u32) -> Uid {
        Uid(raw)
    }

    pub(in crate::system) fn as_raw(self) -> u32 {
        self.0
    }

    pub(crate) fn is_root(self) -> bool {
        self == Uid::ROOT
    }

    /// The real uid of this process: the user sshd logged in.
    pub(crate) fn real() -> Uid {
        Uid(nix::unistd::getuid().as_raw())
    }
}

/// A group id. Never `(gid_t)-1`, which setresgid(2) and chown(2) read as
/// "leave unchanged".
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Gid(u32);

impl Gid {
    pub(crate) const ROOT: Gid = Gid(0);

    /// `raw` as a gid, if it can be one.
    pub(crate) fn new(raw: u32) -> Option<Gid> {
        (raw != u32::MAX).then_some(Gid(raw))
    }

    /// A gid the kernel returned (fstat), which is never -1.
    pub(in crate::system) fn from_kernel(raw: u32) -> Gid {
        Gid(raw)
    }

    pub(in crate::system) fn as_raw(self) -> u32 {
        self.0
    }
}

/// The decimal number, as in `/proc/PID`, audit records and messages, and
/// in debug output too, which reads as it did with raw integers.
macro_rules! as_number {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

as_number!(Pid, Uid, Gid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_names_one_process() {
        for raw in [i32::MIN, -1, 0, Pid::MAX + 1, i32::MAX] {
            assert_eq!(Pid::new(raw), None, "{raw}");
        }
        for raw in [1, 4242, Pid::MAX] {
            let pid = Pid::new(raw).unwrap();
            assert_eq!(pid.as_raw(), raw);
            assert_eq!(pid.to_string(), raw.to_string());
            assert_eq!(format!("{pid:?}"), raw.to_string());
            assert_eq!(Pid::from_le_bytes(pid.to_le_bytes()), Some(pid));
        }
        assert_eq!(Pid::from_le_bytes(0i32.to_le_bytes()), None);
        assert_eq!(Pid::from_le_bytes((-1i32).to_le_bytes()), None);
    }

    #[test]
    fn ids_are_never_minus_one() {
        assert_eq!(Uid::new(u32::MAX), None);
        assert_eq!(Gid::new(u32::MAX), None);
        for raw in [0, 1000, u32::MAX - 1] {
            let (uid, gid) = (Uid::new(raw).unwrap(), Gid::new(raw).unwrap());
            assert_eq!((uid.as_raw(), gid.as_raw()), (raw, raw));
            assert_eq!(
                (uid.to_string(), gid.to_string()),
                (raw.to_string(), raw.to_string())
            );
            assert_eq!(format!("{:?}", [uid]), format!("[{raw}]"));
            assert_eq!(format!("{:?}", [gid]), format!("[{raw}]"));
        }
        assert!(Uid::new(0).unwrap().is_root());
        assert!(!Uid::new(1).unwrap().is_root());
    }
}
