//! Relaying bytes between the client's descriptors and the command's pipes
//! or pty master, without ever blocking the supervisor's loop.
#![forbid(unsafe_code)]

use crate::system;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

/// One read's worth; large, so a busy (or recorded) stream costs few
/// wakeups of the supervisor.
const BUFFER: usize = 256 * 1024;

/// A descriptor a pump reads or writes.
pub(super) enum Handle {
    /// nsgate's own 0, 1 or 2: never closed.
    Std(BorrowedFd<'static>),
    /// A pipe end or the pty master, closed when the last user drops it.
    Ours(Rc<OwnedFd>),
}

impl Handle {
    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Handle::Std(fd) => *fd,
            Handle::Ours(fd) => fd.as_fd(),
        }
    }
}

pub(super) enum Filled {
    Data,
    Nothing,
    Eof,
    Failed,
}

/// Copies from one descriptor to another through a buffer.
pub(super) struct Pump {
    pub from: Handle,
    pub to: Option<Handle>,
    /// Client to command (else command to client).
    pub input: bool,
    /// Always BUFFER long (zeroed once): what was read is `start..end`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pub from_done: bool,
}

impl Pump {
    pub(super) fn new(from: Handle, to: Handle, input: bool) -> Pump {
        Pump {
            from,
            to: Some(to),
            input,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            from_done: false,
        }
    }

    pub(super) fn wants_read(&self) -> bool {
        !self.from_done && self.to.is_some() && self.end == 0
    }

    pub(super) fn wants_write(&self) -> bool {
        self.to.is_some() && self.start < self.end
    }

    pub(super) fn done(&self) -> bool {
        self.to.is_none() || (self.from_done && self.start >= self.end)
    }

    /// What was read and is not yet written.
    pub(super) fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Output nobody will read: stop relaying it.
    pub(super) fn drop_output(&mut self) {
        if !self.input {
            self.to = None;
            self.clear();
        }
    }

    /// Reads once into the empty buffer. `last`: the command has ended, so
    /// nothing to read now means nothing more will come.
    pub(super) fn fill(&mut self, last: bool) -> Filled {
        self.clear();
        match system::read_fd(self.from.fd(), &mut self.buf) {
            Ok(0) => {
                self.clear();
                self.from_done = true;
                Filled::Eof
            }
            Ok(n) => {
                self.end = n;
                Filled::Data
            }
            Err(e) if system::would_block(&e) || e.kind() == io::ErrorKind::Interrupted => {
                self.clear();
                self.from_done |= last;
                Filled::Nothing
            }
            Err(_) => {
                // EIO from a pty master whose terminal is closed: the end.
                self.clear();
                self.from_done = true;
                Filled::Failed
            }
        }
    }

    /// Writes what the buffer holds, as far as it goes without blocking.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        let Some(to) = &self.to else {
            return Ok(());
        };
        while self.start < self.end {
            match system::write_fd(to.fd(), &self.buf[self.start..self.end]) {
                Ok(n) => self.start += n,
                Err(e) if system::would_block(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    return Ok(())
                }
                Err(e) => {
                    self.to = None;
                    self.clear();
                    return Err(e);
                }
            }
        }
        self.clear();
        Ok(())
    }
}

/// Restores the blocking mode of descriptors when dropped.
pub(super) struct NonBlocking {
    saved: Vec<(BorrowedFd<'static>, bool)>,
}

impl NonBlocking {
    pub(super) fn set(fds: &[BorrowedFd<'static>]) -> NonBlocking {
        let saved = fds
            .iter()
            // A closed descriptor is simply not relayed.
            .filter_map(|fd| Some((*fd, system::set_nonblocking(*fd, true).ok()?)))
            .collect();
        NonBlocking { saved }
    }
}

impl Drop for NonBlocking {
    fn drop(&mut self) {
        for (fd, was) in self.saved.iter().rev() {
            let _ = system::set_nonblocking(*fd, *was);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pumps_between_pipes() {
        let (r1, w1) = system::pipe().unwrap();
        let (r2, w2) = system::pipe().unwrap();
        system::write_fd(w1.as_fd(), b"hello").unwrap();
        drop(w1);
        let mut p = Pump::new(Handle::Ours(Rc::new(r1)), Handle::Ours(Rc::new(w2)), false);
        assert!(matches!(p.fill(false), Filled::Data));
        p.flush().unwrap();
        assert!(matches!(p.fill(false), Filled::Eof));
        assert!(p.done());
        let mut buf = [0u8; 16];
        let n = system::read_fd(r2.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
    }
}
