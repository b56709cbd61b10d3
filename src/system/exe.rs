//! The process that is born inside the container runs from a sealed
//! in-memory copy of nsgate, never from the host's file: a container process
//! that holds CAP_SYS_PTRACE can open `/proc/PID/exe` of anything in its pid
//! namespace and, were that the host's binary, write to it once the session
//! has ended (CVE-2019-5736, against runc). It also makes that process with
//! CLONE_PARENT, so the supervisor, not the process that made it, is its
//! parent.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, SealFlag};

/// The seals a copy carries: its size and content can never change again,
/// nor can the seals be undone.
fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// A close-on-exec memfd holding a copy of the running binary, sealed
/// against every change; checked after sealing.
pub fn sealed_copy_of_self() -> io::Result<OwnedFd> {
    sealed_copy_of(std::path::Path::new("/proc/self/exe"))
}

/// A sealed copy of the executable at `path` (tests give nsgate's own
/// binary here: their process is the test harness).
pub fn sealed_copy_of(path: &std::path::Path) -> io::Result<OwnedFd> {
    let mut exe = std::fs::File::open(path)?;
    // MFD_EXEC (Linux 6.3) states that the copy is to be executed, where
    // vm.memfd_noexec would otherwise refuse it; older kernels reject the flag.
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let memfd = match memfd(flags | libc::MFD_EXEC) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => memfd(flags)?,
        other => other?,
    };
    let mut copy = std::fs::File::from(memfd);
    let copied = io::copy(&mut exe, &mut copy)?;
    if copied != exe.metadata()?.len() {
        return Err(io::Error::other("short copy of nsgate's own binary"));
    }
    fcntl(copy.as_fd(), FcntlArg::F_ADD_SEALS(seals()))?;
    if !is_sealed(copy.as_fd())? {
        return Err(io::Error::other(
            "the copy of nsgate's binary is not sealed",
        ));
    }
    Ok(OwnedFd::from(copy))
}

fn memfd(flags: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: the name is a NUL-terminated literal; flags are by value.
    let fd = unsafe { libc::memfd_create(c"nsgate".as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether `fd` carries every seal of [`sealed_copy_of_self`].
pub fn is_sealed(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let have = fcntl(fd, FcntlArg::F_GET_SEALS)?;
    Ok(SealFlag::from_bits_truncate(have).contains(seals()))
}

/// Makes `fd` descriptor number `target`, kept across exec (a copy made
/// by dup3 has no close-on-exec flag). `fd` must not already be `target`.
pub fn dup_to(fd: BorrowedFd<'_>, target: i32) -> io::Result<()> {
    if fd.as_raw_fd() == target {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: dup3 takes two descriptor numbers and flags by value; `fd` is
    // borrowed and open, and whatever was at `target` is closed atomically.
    let ret = unsafe { libc::dup3(fd.as_raw_fd(), target, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A close-on-exec duplicate of `fd` numbered `min` or above.
pub fn dup_above(fd: BorrowedFd<'_>, min: i32) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes a borrowed open descriptor and a number
    // by value and returns a new descriptor that nothing else owns.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// Borrows descriptor `n`, which the caller knows to be open for as long
/// as the process runs (the exec stage's inherited descriptors).
pub fn inherited_fd(n: i32) -> io::Result<BorrowedFd<'static>> {
    // SAFETY: F_GETFD only reads the flags of descriptor `n`.
    if unsafe { libc::fcntl(n, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: checked open just above; the exec stage never closes it
    // before it execs or exits.
    Ok(unsafe { BorrowedFd::borrow_raw(n) })
}

/// Which side of [`clone_parent`] we are on.
pub enum Cloned {
    Child,
    /// The new process's pid in our pid namespace.
    Parent(i32),
}

/// Like fork, but the new process is a child of our parent (CLONE_PARENT),
/// born into our `pid_for_children` namespace. The plain clone system call,
/// not clone3: container seccomp profiles (Docker's default among them)
/// make clone3 fail with ENOSYS so that callers fall back to clone. As with
/// [`super::fork`], the child must only exec or exit.
pub fn clone_parent() -> io::Result<Cloned> {
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: with no new stack and no CLONE_VM the child gets a copy of
    // our memory and continues here, exactly as after fork; the exec stage
    // that calls this starts no threads, so no lock is held by a thread
    // missing in the child. x86_64 and aarch64 take (flags, stack,
    // parent_tid, child_tid, tls); the zero pointers are not used.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    compile_error!("clone_parent: the clone argument order of this architecture is not written");
    match ret {
        n if n < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Cloned::Child),
        n => Ok(Cloned::Parent(
            i32::try_from(n).map_err(|_| io::Error::from_raw_os_error(libc::ECHILD))?,
        )),
    }
}

/// The host name of our UTS namespace, from uname(2): nothing the container
/// could put in a file.
pub fn node_name() -> io::Result<String> {
    // SAFETY: utsname is plain bytes, for which all zeroes is a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct we exclusively borrow, no more.
    if unsafe { libc::uname(&mut uts) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // The kernel NUL-terminates every field; a missing NUL takes it all.
    let bytes: Vec<u8> = uts
        .nodename
        .iter()
        .map(|c| *c as u8)
        .take_while(|b| *b != 0)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_is_sealed_and_equal() {
        let copy = sealed_copy_of_self().unwrap();
        assert!(is_sealed(copy.as_fd()).unwrap());
        let ours = std::fs::read("/proc/self/exe").unwrap();
        let mut file = std::fs::File::from(copy);
        let mut theirs = Vec::new();
        io::Seek::rewind(&mut file).unwrap();
        io::Read::read_to_end(&mut file, &mut theirs).unwrap();
        assert!(ours == theirs);
        // Not even root may write to it.
        assert!(io::Write::write(&mut file, b"x").is_err());
        assert!(file.set_len(0).is_err());
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(!is_sealed(null.as_fd()).unwrap_or(false));
    }

    #[test]
    fn node_name_is_unames() {
        let name = node_name().unwrap();
        assert!(!name.is_empty());
    }
}
