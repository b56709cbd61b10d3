//! Files opened on behalf of the target: its /proc directory (held by
//! descriptor, so a reused pid cannot redirect later reads), and paths inside
//! the container resolved so they cannot leave it.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

/// Opens `/proc/PID` as a directory descriptor.
pub(crate) fn open_proc_dir(pid: super::Pid) -> io::Result<OwnedFd> {
    let path = format!("/proc/{pid}");
    Ok(nix::fcntl::open(
        path.as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Reads at most `limit` bytes of `name` below directory `dir`.
pub(crate) fn read_at(dir: BorrowedFd<'_>, name: &str, limit: u64) -> io::Result<Vec<u8>> {
    let fd = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )?;
    let mut data = Vec::new();
    File::from(fd).take(limit).read_to_end(&mut data)?;
    Ok(data)
}

/// Device and inode of what `name` below `dir` refers to (links followed):
/// for `ns/*` entries, the identity of a namespace.
pub(crate) fn identity_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<(u64, u64)> {
    let st = nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::empty())?;
    Ok((st.st_dev, st.st_ino))
}

/// Opens directory `name` below `dir` (links followed) as a path-only
/// descriptor, e.g. `root` of a /proc/PID directory.
pub(crate) fn open_dir_path_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    Ok(nix::fcntl::openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Owner, group, type and permission bits and size of an open file (fstat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileInfo {
    pub uid: super::Uid,
    pub gid: super::Gid,
    /// `st_mode`: the file type and permission bits.
    pub mode: u32,
    pub size: u64,
}

impl FileInfo {
    pub(crate) fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    pub(crate) fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// The permission bits, setuid, setgid and sticky included.
    pub(crate) fn perms(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// What `fd` is, from fstat(2): checked on the descriptor, so what is
/// checked is what is then read.
pub(crate) fn file_info(fd: BorrowedFd<'_>) -> io::Result<FileInfo> {
    let st = nix::sys::stat::fstat(fd)?;
    Ok(FileInfo {
        uid: super::Uid::from_kernel(st.st_uid),
        gid: super::Gid::from_kernel(st.st_gid),
        mode: st.st_mode,
        size: u64::try_from(st.st_size).unwrap_or(0),
    })
}

/// Opens directory `path`, refusing a symbolic link as its last component.
pub(crate) fn open_dir_nofollow(path: &std::path::Path) -> io::Result<OwnedFd> {
    Ok(nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens directory `name` below `dir`, refusing a symbolic link.
pub(crate) fn open_dir_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    Ok(nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Creates directory `name` below `dir` with permission bits `mode` (less
/// the umask); an existing one is left as it is, for the caller to check.
pub(crate) fn make_dir_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<()> {
    match nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(mode)) {
        Err(nix::errno::Errno::EEXIST) => Ok(()),
        r => Ok(r?),
    }
}

/// Opens file `name` below `dir` for reading without following a symbolic
/// link, blocking on a FIFO or taking a terminal; the caller checks
/// `file_info` before reading.
pub(crate) fn open_file_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<File> {
    let fd = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

/// Creates file `name` below `dir` for writing, with permission bits
/// `mode`; fails if anything of that name exists (O_EXCL), a link included.
pub(crate) fn create_file_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<File> {
    let fd = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )?;
    Ok(File::from(fd))
}

/// Renames `from` to `to`, both below `dir`; replaces `to` atomically.
pub(crate) fn rename_at(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    Ok(nix::fcntl::renameat(dir, from, dir, to)?)
}

/// Removes file `name` below `dir` (never a directory).
pub(crate) fn remove_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    Ok(nix::unistd::unlinkat(
        dir,
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    )?)
}

/// Makes directory `dir` our root and working directory (as `nsenter --root`).
pub(crate) fn chroot_to(dir: BorrowedFd<'_>) -> io::Result<()> {
    nix::unistd::fchdir(dir)?;
    nix::unistd::chroot(".")?;
    Ok(())
}

/// Changes our working directory to `dir`.
pub(crate) fn chdir_to(dir: BorrowedFd<'_>) -> io::Result<()> {
    Ok(nix::unistd::fchdir(dir)?)
}

/// Our root directory, as a descriptor to resolve container paths from.
pub(crate) fn open_root() -> io::Result<OwnedFd> {
    Ok(nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// How to open a path inside the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A directory, path-only: for chdir.
    Directory,
    /// Any file, path-only: to check and exec it.
    Path,
    /// Like `Path`, but a symlink in the last component is opened itself.
    PathNoFollow,
    /// Reading, never blocking (a FIFO opens at once) and never becoming our
    /// controlling terminal.
    Read,
    /// Reading and writing a terminal device that must not become our
    /// controlling terminal.
    Terminal,
}

/// Opens `path` below `root` so that it resolves as if `root` were `/`:
/// `..` and absolute symlinks stay inside, and /proc magic links (such as
/// `/proc/self/fd/N` or `/proc/self/exe`) are refused.
pub(crate) fn open_in_root(
    root: BorrowedFd<'_>,
    path: &str,
    access: Access,
) -> io::Result<OwnedFd> {
    let flags = match access {
        Access::Directory => OFlag::O_PATH | OFlag::O_DIRECTORY,
        Access::Path => OFlag::O_PATH,
        Access::PathNoFollow => OFlag::O_PATH | OFlag::O_NOFOLLOW,
        Access::Read => OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
        Access::Terminal => OFlag::O_RDWR | OFlag::O_NOCTTY,
    } | OFlag::O_CLOEXEC;
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    Ok(nix::fcntl::openat2(root, path, how)?)
}

/// Gives `fd` to `uid`:`gid` with permission bits `mode`.
pub(crate) fn chown_chmod(
    fd: impl AsFd,
    uid: super::Uid,
    gid: super::Gid,
    mode: u32,
) -> io::Result<()> {
    nix::unistd::fchown(
        fd.as_fd(),
        Some(nix::unistd::Uid::from_raw(uid.as_raw())),
        Some(nix::unistd::Gid::from_raw(gid.as_raw())),
    )?;
    nix::sys::stat::fchmod(fd.as_fd(), Mode::from_bits_truncate(mode))?;
    Ok(())
}

/// A pipe, both ends close-on-exec.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

/// Asks for a pipe of `bytes` capacity (F_SETPIPE_SZ); the kernel's
/// choice, at least that, is returned.
pub(crate) fn set_pipe_size(fd: BorrowedFd<'_>, bytes: i32) -> io::Result<usize> {
    let size = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(bytes))?;
    Ok(usize::try_from(size).unwrap_or(0))
}

/// Makes `fd` our stdin (0), stdout (1) or stderr (2); the copy is not
/// close-on-exec.
pub(crate) fn dup_onto(fd: impl AsFd, target: i32) -> io::Result<()> {
    match target {
        0 => nix::unistd::dup2_stdin(fd)?,
        1 => nix::unistd::dup2_stdout(fd)?,
        2 => nix::unistd::dup2_stderr(fd)?,
        _ => return Err(io::Error::from_raw_os_error(libc::EBADF)),
    }
    Ok(())
}

/// Opens the host's /dev/null for reading and writing.
pub(crate) fn open_null() -> io::Result<OwnedFd> {
    Ok(nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )?)
}

/// Sets or clears O_NONBLOCK on `fd`; returns whether it was set before.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<bool> {
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)?;
    let mut flags = OFlag::from_bits_retain(flags);
    let was = flags.contains(OFlag::O_NONBLOCK);
    flags.set(OFlag::O_NONBLOCK, on);
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags))?;
    Ok(was)
}

/// Whether `e` says the file would block (EAGAIN).
pub(crate) fn would_block(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EAGAIN)
}

/// One `read(2)`.
pub(crate) fn read_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(nix::unistd::read(fd, buf)?)
}

/// One `write(2)`.
pub(crate) fn write_fd(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    Ok(nix::unistd::write(fd, buf)?)
}

/// Standard descriptor 0, 1 or 2.
pub(crate) fn std_fd(n: u8) -> BorrowedFd<'static> {
    let n = i32::from(n.min(2));
    // SAFETY: nsgate never closes its standard descriptors, so 0, 1 and 2
    // stay open (possibly onto /dev/null) for the life of the process.
    unsafe { BorrowedFd::borrow_raw(n) }
}

/// An exclusive flock(2) lock on a descriptor, released when dropped (the
/// descriptor is closed with it).
#[derive(Debug)]
pub(crate) struct Locked(nix::fcntl::Flock<OwnedFd>);

impl Locked {
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// Releases the lock and gives the descriptor back, to lock again.
    pub(crate) fn unlock(self) -> io::Result<OwnedFd> {
        self.0.unlock().map_err(|(_, e)| e.into())
    }
}

/// Takes an exclusive flock(2) lock on `fd` without waiting: `Ok(Err(fd))`
/// when another open file holds it, to try again.
pub(crate) fn try_lock(fd: OwnedFd) -> io::Result<Result<Locked, OwnedFd>> {
    match nix::fcntl::Flock::lock(fd, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Ok(Locked(lock))),
        Err((fd, nix::errno::Errno::EWOULDBLOCK | nix::errno::Errno::EINTR)) => Ok(Err(fd)),
        Err((_, e)) => Err(e.into()),
    }
}
