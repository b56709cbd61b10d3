//! `poll(2)` over a handful of descriptors, for the supervisor's loop.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout};

/// What a descriptor is watched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Interest {
    pub read: bool,
    pub write: bool,
}

/// What poll reported for a descriptor. Hang-ups and errors are reported
/// whatever the interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ready {
    pub read: bool,
    pub write: bool,
    pub hangup: bool,
    pub error: bool,
    /// The descriptor is not open.
    pub invalid: bool,
}

/// Waits until one of `fds` is ready or `timeout` passes (None: forever).
/// An interrupted wait reports nothing ready.
pub(crate) fn poll(
    fds: &[(BorrowedFd<'_>, Interest)],
    timeout: Option<Duration>,
) -> io::Result<Vec<Ready>> {
    let mut pollfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|(fd, interest)| {
            let mut flags = PollFlags::empty();
            if interest.read {
                flags |= PollFlags::POLLIN;
            }
            if interest.write {
                flags |= PollFlags::POLLOUT;
            }
            PollFd::new(*fd, flags)
        })
        .collect();
    let timeout = match timeout {
        None => PollTimeout::NONE,
        // Round up so a wait for 0.4 ms does not spin.
        Some(t) => {
            let ms = t
                .as_millis()
                .saturating_add(u128::from(t.subsec_nanos() % 1_000_000 != 0));
            PollTimeout::try_from(ms.min(i32::MAX as u128)).unwrap_or(PollTimeout::MAX)
        }
    };
    match nix::poll::poll(&mut pollfds, timeout) {
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok(vec![Ready::default(); fds.len()]),
        Err(e) => return Err(e.into()),
    }
    Ok(pollfds
        .iter()
        .map(|p| {
            let r = p.revents().unwrap_or(PollFlags::empty());
            Ready {
                read: r.contains(PollFlags::POLLIN),
                write: r.contains(PollFlags::POLLOUT),
                hangup: r.contains(PollFlags::POLLHUP),
                error: r.contains(PollFlags::POLLERR),
                invalid: r.contains(PollFlags::POLLNVAL),
            }
        })
        .collect())
}
