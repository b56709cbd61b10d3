//! The supervisor's signals: blocked and read from a signalfd, so that the
//! poll loop sees them in order with everything else.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// Signals blocked for the lifetime of this value and readable from its fd.
/// The child of a fork inherits the block; it resets it before exec.
pub(crate) struct Signals {
    fd: SignalFd,
    previous: SigSet,
}

impl Signals {
    pub(crate) fn block(signals: &[i32]) -> io::Result<Signals> {
        let mut set = SigSet::empty();
        for s in signals {
            set.add(Signal::try_from(*s)?);
        }
        let mut previous = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut previous))?;
        let fd = match SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC) {
            Ok(fd) => fd,
            Err(e) => {
                let _ =
                    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
                return Err(e.into());
            }
        };
        Ok(Signals { fd, previous })
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The next pending signal, if any.
    pub(crate) fn next(&self) -> io::Result<Option<i32>> {
        Ok(self.fd.read_signal()?.map(|info| info.ssi_signo as i32))
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        // Signals meant for a command that has ended are dropped, not left to
        // kill nsgate with their default action once unblocked.
        while let Ok(Some(_)) = self.fd.read_signal() {}
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.previous), None);
    }
}
