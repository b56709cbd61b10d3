//! The private channel between the supervisor and the child entering the
//! container: a SOCK_SEQPACKET pair (one message per send, end of file when
//! the other side exits or execs), able to carry one descriptor.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr,
};

/// A connected pair, both ends close-on-exec.
pub(crate) fn channel_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// Sends one message, with descriptor `fd` attached if given.
pub(crate) fn channel_send(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let iov = [IoSlice::new(data)];
    let fds;
    let cmsgs: &[ControlMessage<'_>] = match fd {
        Some(fd) => {
            fds = [fd.as_raw_fd()];
            &[ControlMessage::ScmRights(&fds)]
        }
        None => &[],
    };
    loop {
        match sendmsg::<UnixAddr>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one message into `buf`: its length (0 at end of file) and the
/// descriptor attached to it, close-on-exec.
pub(crate) fn channel_recv(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = loop {
        match recvmsg::<UnixAddr>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => break msg,
            // A peer that closed with our message unread reports ECONNRESET
            // once, before what it sent us; that is still to be read.
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::ECONNRESET) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut received = None;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for raw in fds {
                // SAFETY: the kernel just installed this descriptor for us and
                // nothing else owns it; extra ones are closed by dropping them.
                let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                if received.is_none() {
                    received = Some(fd);
                }
            }
        }
    }
    Ok((msg.bytes, received))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// The child's last words survive it closing with our message unread.
    #[test]
    fn message_from_a_peer_gone_with_ours_unread() {
        let (ours, theirs) = channel_pair().unwrap();
        channel_send(ours.as_fd(), b"G", None).unwrap();
        channel_send(theirs.as_fd(), b"F-last words", None).unwrap();
        drop(theirs);
        let mut buf = [0u8; 64];
        let (n, fd) = channel_recv(ours.as_fd(), &mut buf).unwrap();
        assert_eq!((&buf[..n], fd.is_none()), (&b"F-last words"[..], true));
        assert_eq!(channel_recv(ours.as_fd(), &mut buf).unwrap().0, 0);
    }
}
