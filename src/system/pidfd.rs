//! Process file descriptors: a handle on one process that a reused pid cannot
//! redirect.

use super::Pid;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Opens a pidfd for `pid` (close-on-exec, as every pidfd is).
pub(crate) fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    let pid = pid.as_raw();
    // SAFETY: pidfd_open takes a pid and flags by value and touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_own_pid() {
        assert!(pidfd_open(crate::system::getpid()).is_ok());
    }
}
