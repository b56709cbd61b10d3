//! Signalling a process through its pidfd, so the signal cannot reach another
//! process that has since taken over the pid.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Sends `signal` to the process of `pidfd`; signal 0 only checks that the
/// process still exists (as `kill(pid, 0)`). Fails with ESRCH once it has
/// been reaped.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: the descriptor is borrowed and so open for the call; a null
    // siginfo asks the kernel to fill it in as kill(2) would, and flags are 0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `e` says the process does not exist (any more): ESRCH.
pub(crate) fn is_no_such_process(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::pidfd_open;
    use std::os::fd::AsFd;

    #[test]
    fn signal_zero_tells_alive_from_reaped() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pidfd = pidfd_open(crate::system::Pid::new(child.id() as i32).unwrap()).unwrap();
        pidfd_send_signal(pidfd.as_fd(), 0).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let err = pidfd_send_signal(pidfd.as_fd(), 0).unwrap_err();
        assert!(is_no_such_process(&err));
    }
}
