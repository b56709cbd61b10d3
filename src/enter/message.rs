//! The messages between the supervisor and the processes that enter the
//! container, on one SOCK_SEQPACKET channel: one message per packet, a kind
//! byte then its payload.
#![forbid(unsafe_code)]

use crate::system;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Longest failure text sent.
const MAX_TEXT: usize = 2048;

#[derive(Debug)]
pub(crate) enum Message {
    /// Supervisor to the exec stage: the cgroups are joined, make the
    /// command's process.
    Go,
    /// Entering process to supervisor: the pty master, allocated in the
    /// container's devpts.
    Master(OwnedFd),
    /// Exec stage to supervisor: the command's process was made, with this
    /// pid in the host's pid namespace.
    Started(system::Pid),
    /// Why the command could not be started, and the exit code for it.
    Failed { code: i32, text: String },
}

const GO: u8 = b'G';
const MASTER: u8 = b'M';
const STARTED: u8 = b'S';
const FAILED: u8 = b'F';

impl Message {
    pub(crate) fn send(&self, channel: BorrowedFd<'_>) -> io::Result<()> {
        match self {
            Message::Go => system::channel_send(channel, &[GO], None),
            Message::Master(fd) => system::channel_send(channel, &[MASTER], Some(fd.as_fd())),
            Message::Started(pid) => {
                let mut msg = vec![STARTED];
                msg.extend_from_slice(&pid.to_le_bytes());
                system::channel_send(channel, &msg, None)
            }
            Message::Failed { code, text } => {
                let code = u8::try_from(*code).unwrap_or(u8::MAX);
                let mut msg = vec![FAILED, code];
                let mut end = text.len().min(MAX_TEXT);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                msg.extend_from_slice(&text.as_bytes()[..end]);
                system::channel_send(channel, &msg, None)
            }
        }
    }

    /// The next message; `Ok(None)` at end of file (every peer gone), and
    /// for a packet that is no message (ignored, like any junk).
    pub(crate) fn recv(channel: BorrowedFd<'_>) -> io::Result<Option<Received>> {
        let mut buf = [0u8; MAX_TEXT + 2];
        let (n, fd) = system::channel_recv(channel, &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(match (&buf[..n], fd) {
            ([GO], _) => Received::Message(Message::Go),
            ([MASTER], Some(fd)) => Received::Message(Message::Master(fd)),
            ([STARTED, pid @ ..], _) => match <[u8; 4]>::try_from(pid) {
                Ok(pid) => match system::Pid::from_le_bytes(pid) {
                    Some(pid) => Received::Message(Message::Started(pid)),
                    None => Received::Junk,
                },
                Err(_) => Received::Junk,
            },
            ([FAILED, code, text @ ..], _) => Received::Message(Message::Failed {
                code: i32::from(*code),
                text: String::from_utf8_lossy(text).into_owned(),
            }),
            _ => Received::Junk,
        }))
    }
}

/// What one packet held.
#[derive(Debug)]
pub(crate) enum Received {
    Message(Message),
    Junk,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let (a, b) = system::channel_pair().unwrap();
        let null = system::open_null().unwrap();
        Message::Go.send(a.as_fd()).unwrap();
        Message::Started(system::Pid::new(4242).unwrap())
            .send(a.as_fd())
            .unwrap();
        Message::Failed {
            code: 127,
            text: "ls: not found".into(),
        }
        .send(a.as_fd())
        .unwrap();
        Message::Master(null).send(a.as_fd()).unwrap();
        system::channel_send(a.as_fd(), b"S12", None).unwrap();
        drop(a);
        let got: Vec<String> = std::iter::from_fn(|| Message::recv(b.as_fd()).unwrap())
            .map(|r| match r {
                Received::Message(Message::Master(_)) => "master".to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                "Message(Go)",
                "Message(Started(4242))",
                "Message(Failed { code: 127, text: \"ls: not found\" })",
                "master",
                "Junk",
            ]
        );
    }
}
