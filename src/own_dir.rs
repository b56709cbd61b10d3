//! Directories nsgate keeps its own files in (`/run/nsgate`, `record-dir`,
//! `audit-state`): root's, made 0700 where missing, and checked on the open
//! descriptor every time, the directories above them as those above the
//! configuration are, so that a directory someone else made, or can
//! write to or swap, is refused rather than used (nsgate(8) FILES).
#![forbid(unsafe_code)]

use crate::reader::{self, UnsafeDirectory};
use crate::system::{self, Uid};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// nsgate's directory for what lives only until reboot: the seccomp filter
/// cache and the overlay's empty layer.
pub(crate) const RUN: &str = "/run/nsgate";

/// Write access for group or others: refused for every directory of nsgate's.
pub(crate) const SHARED_WRITE: u32 = 0o022;
/// Any access for group or others: refused where the contents are private.
pub(crate) const ANY_ACCESS: u32 = 0o077;

/// Why a directory of nsgate's cannot be used.
#[derive(Debug)]
pub(crate) enum DirProblem {
    /// Opening or making it failed.
    Io(PathBuf, io::Error),
    NotADirectory(PathBuf),
    Owner(PathBuf, Uid),
    /// Its permission bits.
    Mode(PathBuf, u32),
    /// A directory above it that someone else owns or can write to.
    Above(PathBuf, UnsafeDirectory),
}

impl fmt::Display for DirProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirProblem::Io(path, e) => {
                write!(f, "{}: {}", path.display(), crate::error::os_message(e))
            }
            DirProblem::NotADirectory(path) => write!(f, "{}: not a directory", path.display()),
            DirProblem::Owner(path, uid) => {
                write!(f, "{}: owned by uid {uid}, not root", path.display())
            }
            DirProblem::Mode(path, mode) if mode & SHARED_WRITE != 0 => write!(
                f,
                "{}: mode {mode:04o}, writable by group or others",
                path.display()
            ),
            DirProblem::Mode(path, mode) => write!(
                f,
                "{}: mode {mode:04o}, open to group or others (only root's: 0700)",
                path.display()
            ),
            DirProblem::Above(path, why) => write!(f, "{}: {why}", path.display()),
        }
    }
}

/// Opens directory `path` (never through a symbolic link), first making it
/// and its missing parents 0700 when `create`; refused unless it is root's
/// with none of the bits in `refused`, below directories that only root
/// can write to.
pub(crate) fn open(path: &Path, create: bool, refused: u32) -> Result<OwnedFd, DirProblem> {
    let fail = |e| DirProblem::Io(path.to_path_buf(), e);
    let fd = match system::open_dir_nofollow(path) {
        // Made only when missing: every session opens these.
        Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(fail)?;
            system::open_dir_nofollow(path).map_err(fail)?
        }
        opened => opened.map_err(fail)?,
    };
    check(&fd, path, refused)?;
    reader::check_ancestors(path).map_err(|why| DirProblem::Above(path.to_path_buf(), why))?;
    Ok(fd)
}

/// Opens directory `name` below `dir` (which is at `dir_path`), as [`open`] does.
pub(crate) fn open_at(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &str,
    create: bool,
    refused: u32,
) -> Result<OwnedFd, DirProblem> {
    let path = dir_path.join(name);
    let fail = |e| DirProblem::Io(path.clone(), e);
    let fd = match system::open_dir_at(dir, name) {
        Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
            system::make_dir_at(dir, name, 0o700).map_err(fail)?;
            system::open_dir_at(dir, name).map_err(fail)?
        }
        opened => opened.map_err(fail)?,
    };
    check(&fd, &path, refused)?;
    Ok(fd)
}

/// Checked on the descriptor, so what is checked is what is then used.
fn check(fd: &OwnedFd, path: &Path, refused: u32) -> Result<(), DirProblem> {
    let info = system::file_info(fd.as_fd()).map_err(|e| DirProblem::Io(path.to_path_buf(), e))?;
    if !info.is_dir() {
        return Err(DirProblem::NotADirectory(path.to_path_buf()));
    }
    if !info.uid.is_root() {
        return Err(DirProblem::Owner(path.to_path_buf(), info.uid));
    }
    if info.perms() & refused != 0 {
        return Err(DirProblem::Mode(path.to_path_buf(), info.perms()));
    }
    Ok(())
}
