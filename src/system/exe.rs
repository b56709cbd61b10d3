//! The process that is born inside the container never runs from a
//! writable host file: a container process that holds CAP_SYS_PTRACE can
//! open `/proc/PID/exe` of anything in its pid namespace and, were that the
//! host's binary, write to it once the session has ended (CVE-2019-5736,
//! against runc). It runs from nsgate's binary seen through a private
//! overlayfs mount that has only lower layers, which no one can write
//! through or unwrap (runc's zero-copy seal), else from a sealed memfd copy.
//! This module also makes that process with CLONE_PARENT, so the
//! supervisor, not the process that made it, is its parent.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{fcntl, FcntlArg, SealFlag};

/// The seals a copy carries: its size and content can never change again,
/// nor can the seals be undone.
fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// An O_PATH descriptor of the executable at `path`, seen through a new
/// detached overlayfs mount whose layers are `path`'s directory over the
/// empty directory `empty`: with lower layers only, overlayfs refuses every
/// write, and the mount is read-only, nosuid and nodev besides. Nothing is
/// copied. Fails where overlayfs or the new mount API is missing.
pub(crate) fn sealed_view_of(path: &Path, empty: &Path) -> io::Result<OwnedFd> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    // overlayfs separates layers with ':' and escapes with '\'.
    let escape = |p: &Path| {
        let text = p.to_str().unwrap_or_default();
        text.replace('\\', "\\\\").replace(':', "\\:")
    };
    if dir.to_str().is_none() || empty.to_str().is_none() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let lower = CString::new(format!("{}:{}", escape(dir), escape(empty)))
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: fsopen takes a NUL-terminated file system name and flags.
    let ctx =
        check_fd(unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: key and value are NUL-terminated strings that outlive the
    // call; the context descriptor is ours.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_SET_STRING,
            c"lowerdir".as_ptr(),
            lower.as_ptr(),
            0,
        )
    })?;
    // Optional: xino only produces kernel log noise across file systems.
    // SAFETY: as above.
    let _ = check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_SET_STRING,
            c"xino".as_ptr(),
            c"off".as_ptr(),
            0,
        )
    });
    // SAFETY: FSCONFIG_CMD_CREATE takes no key or value.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })?;
    let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    // SAFETY: fsmount takes the context descriptor and flags by value.
    let mount = check_fd(unsafe {
        libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, attrs)
    })?;
    let name = CString::new(name.as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: openat with a NUL-terminated name relative to the mount's root.
    check_fd(unsafe {
        libc::openat(
            mount.as_raw_fd(),
            name.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        ) as libc::c_long
    })
}

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: libc::c_uint = 0x1;
const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;

fn check(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn check_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A close-on-exec memfd holding a copy of the executable at `path`,
/// sealed against every change; checked after sealing.
pub(crate) fn sealed_copy_of(path: &std::path::Path) -> io::Result<OwnedFd> {
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

/// Whether `fd` carries every seal of [`sealed_copy_of`].
pub(super) fn is_sealed(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let have = fcntl(fd, FcntlArg::F_GET_SEALS)?;
    Ok(SealFlag::from_bits_truncate(have).contains(seals()))
}

/// Makes `fd` descriptor number `target`, kept across exec (a copy made
/// by dup3 has no close-on-exec flag). `fd` must not already be `target`.
pub(crate) fn dup_to(fd: BorrowedFd<'_>, target: i32) -> io::Result<()> {
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
pub(crate) fn dup_above(fd: BorrowedFd<'_>, min: i32) -> io::Result<OwnedFd> {
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
pub(crate) fn inherited_fd(n: i32) -> io::Result<BorrowedFd<'static>> {
    // SAFETY: F_GETFD only reads the flags of descriptor `n`.
    if unsafe { libc::fcntl(n, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: checked open just above; the exec stage never closes it
    // before it execs or exits.
    Ok(unsafe { BorrowedFd::borrow_raw(n) })
}

/// Which side of [`clone_parent`] we are on.
pub(crate) enum Cloned {
    Child,
    /// The new process's pid in our pid namespace.
    Parent(super::Pid),
}

/// Like fork, but the new process is a child of our parent (CLONE_PARENT),
/// born into our `pid_for_children` namespace. The plain clone system call,
/// not clone3: container seccomp profiles (Docker's default among them)
/// make clone3 fail with ENOSYS so that callers fall back to clone.
///
/// # Safety
///
/// As for [`super::process::fork`]: the caller must be the process's only
/// thread, and the child must only exec or exit.
pub(super) unsafe fn clone_parent() -> io::Result<Cloned> {
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: with no new stack and no CLONE_VM the child gets a copy of
    // our memory and continues here, exactly as after fork; the caller
    // promises it is the only thread, so no lock is held by a thread
    // missing in the child. x86_64 and aarch64 take (flags, stack,
    // parent_tid, child_tid, tls); the zero pointers are not used.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    compile_error!("clone_parent: the clone argument order of this architecture is not written");
    match ret {
        n if n < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Cloned::Child),
        n => Ok(Cloned::Parent(super::Pid::from_kernel(
            i32::try_from(n).map_err(|_| io::Error::from_raw_os_error(libc::ECHILD))?,
        ))),
    }
}

/// [`clone_parent`] for the exec stage only, which is a freshly executed
/// nsgate image that starts no threads. Unlike
/// [`super::fork_single_threaded`] it cannot check that at run time: /proc
/// there is the container's (of another pid namespace, or whatever the
/// container mounted), and the container's seccomp filter is already in
/// force, under which a probing system call may be refused, kill us, or be
/// answered by the container's seccomp agent. The child must only exec or
/// exit.
pub(crate) fn clone_parent_from_exec_stage() -> io::Result<Cloned> {
    // SAFETY: the exec stage is a fresh image of nsgate that has started no
    // thread (the Rust runtime starts none), and its child only execs or
    // exits.
    unsafe { clone_parent() }
}

/// The host name of our UTS namespace, from uname(2): nothing the container
/// could put in a file.
pub(crate) fn node_name() -> io::Result<String> {
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
        let copy = sealed_copy_of(Path::new("/proc/self/exe")).unwrap();
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

    /// The overlay view reads as the file does, and not even root can open
    /// it for writing, through the view itself or through /proc.
    #[test]
    fn the_overlay_view_cannot_be_written() {
        if crate::test_support::skip_without_root("overlay view", "fsopen needs CAP_SYS_ADMIN") {
            return;
        }
        let top = std::env::temp_dir().join(format!("nsgate-view-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        std::fs::create_dir_all(top.join("bin")).unwrap();
        std::fs::create_dir_all(top.join("empty")).unwrap();
        let file = top.join("bin/prog");
        std::fs::write(&file, b"#!/bin/sh\necho hi\n").unwrap();
        let view = sealed_view_of(&file, &top.join("empty")).unwrap();
        let through = format!("/proc/self/fd/{}", view.as_raw_fd());
        assert_eq!(std::fs::read(&through).unwrap(), b"#!/bin/sh\necho hi\n");
        for write in [true, false] {
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .append(!write)
                .open(&through);
            let e = opened.expect_err("the view opened for writing");
            assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        }
        // The file itself is untouched and still the host's to change.
        std::fs::write(&file, b"changed").unwrap();
        std::fs::remove_dir_all(&top).unwrap();
    }

    #[test]
    fn node_name_is_unames() {
        let name = node_name().unwrap();
        assert!(!name.is_empty());
    }
}
