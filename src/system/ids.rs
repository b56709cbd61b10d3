//! Process ids as a type of their own, so a pid is never mistaken for a
//! signal, a count or a descriptor. Only `system` turns one back into the
//! raw integer, at the system call.
#![forbid(unsafe_code)]

use std::fmt;

/// A process id as the kernel gives it: always in 1..=[`Pid::MAX`]. Zero
/// and negative numbers, which kill(2) and friends read as a process group
/// or every process, cannot be made into one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pid(i32);

impl Pid {
    /// The kernel's largest possible pid (`PID_MAX_LIMIT` on 64-bit).
    pub const MAX: i32 = 4_194_304;

    /// `raw` as a pid, if it can be one.
    pub fn new(raw: i32) -> Option<Pid> {
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
    pub fn to_le_bytes(self) -> [u8; 4] {
        self.0.to_le_bytes()
    }

    pub fn from_le_bytes(bytes: [u8; 4]) -> Option<Pid> {
        Pid::new(i32::from_le_bytes(bytes))
    }
}

/// The decimal number, as in `/proc/PID` and audit records.
impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The bare number too, so debug output reads as it did with raw pids.
impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

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
}
