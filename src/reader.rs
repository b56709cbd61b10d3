//! The one reader of the files nsgate checks before it reads them: the
//! configuration, and the pid files and machine records trusted as it is
//! (root's); the SSH_USER_AUTH file sshd names (the login user's); the
//! seccomp cache's entries
//! (root's); the container's /etc/passwd and /etc/group (hostile). Each is
//! opened without blocking or taking a terminal, checked on the opened
//! descriptor (so what is checked is what is read) and read bounded. Each
//! caller words a refusal for its own file.
#![forbid(unsafe_code)]

use crate::system::{self, Access, Uid};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where the file is, and so how it is opened.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// A path on the host. With [`Owner::Root`], every directory above it
    /// must be root's and not writable by others too.
    Path(&'a Path, Link),
    /// An entry of a directory the caller has opened and checked; never
    /// through a symbolic link.
    At(BorrowedFd<'a>, &'a str),
    /// A path inside a container, resolved from its root as if that were
    /// `/` (openat2 `RESOLVE_IN_ROOT`): links are followed, never out of it.
    InRoot(BorrowedFd<'a>, &'a str),
}

/// Whether a symbolic link may name a file given by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// The configuration may be a link: the directories on both its paths
    /// are checked.
    Follow,
    /// A file that names a target's process must be named itself.
    Refuse,
}

/// Who must own the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Root, and no one else may write it.
    Root,
    /// This user, and no one else may write it: a file another process of
    /// the user's made, in a directory anyone may write (sticky, as /tmp).
    User(Uid),
    /// Anyone: the caller trusts only what it parses out of it.
    Anyone,
}

/// How much of the file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// A file larger than this many bytes is refused.
    AtMost(u64),
}

/// Why a file was not read; each caller words it for its file.
#[derive(Debug)]
pub(crate) enum NotRead {
    /// The step (`open`, `stat`, `read`) that failed.
    Io(&'static str, io::Error),
    /// A symbolic link, with `Link::Refuse`.
    Symlink,
    NotRegular,
    /// Owned by this uid, with `Owner::Root` or `Owner::User`.
    Owner(Uid),
    /// Writable by group or others, with `Owner::Root` or `Owner::User`: its mode.
    Writable(u32),
    /// Larger than `Bound::AtMost`.
    TooLarge,
    /// A directory above it is not safe.
    Directory(UnsafeDirectory),
}

/// Why the directories above a root-owned file do not keep it safe.
#[derive(Debug)]
pub(crate) enum UnsafeDirectory {
    /// The path could not be resolved, or a directory on it examined.
    Io(io::Error),
    NotRoot(PathBuf),
    Writable(PathBuf),
}

impl std::fmt::Display for UnsafeDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnsafeDirectory::Io(e) => f.write_str(&crate::error::os_message(e)),
            UnsafeDirectory::NotRoot(dir) => {
                write!(f, "directory {} is not owned by root", dir.display())
            }
            UnsafeDirectory::Writable(dir) => write!(
                f,
                "directory {} is writable by group or others",
                dir.display()
            ),
        }
    }
}

/// Reads the file at `source`: a regular file, owned as `owner` says, of
/// the size `bound` allows.
pub(crate) fn read(source: Source<'_>, bound: Bound, owner: Owner) -> Result<Vec<u8>, NotRead> {
    let file = open(source)?;
    let info = system::file_info(file.as_fd()).map_err(|e| NotRead::Io("stat", e))?;
    if !info.is_file() {
        return Err(NotRead::NotRegular);
    }
    let owner_uid = match owner {
        Owner::Root => Some(crate::system::Uid::ROOT),
        Owner::User(uid) => Some(uid),
        Owner::Anyone => None,
    };
    if let Some(uid) = owner_uid {
        if info.uid != uid {
            return Err(NotRead::Owner(info.uid));
        }
        if info.mode & 0o022 != 0 {
            return Err(NotRead::Writable(info.mode));
        }
    }
    if let (Owner::Root, Source::Path(path, _)) = (owner, source) {
        check_ancestors(path).map_err(NotRead::Directory)?;
    }
    let Bound::AtMost(limit) = bound;
    if info.size > limit {
        return Err(NotRead::TooLarge);
    }
    let mut data = Vec::new();
    // One byte more: the file may grow after the stat.
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| NotRead::Io("read", e))?;
    if data.len() as u64 > limit {
        return Err(NotRead::TooLarge);
    }
    Ok(data)
}

/// Opens without blocking: a FIFO or device must not hang nsgate before
/// fstat says no.
fn open(source: Source<'_>) -> Result<File, NotRead> {
    let opened = match source {
        Source::Path(path, Link::Follow) => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path),
        Source::Path(path, Link::Refuse) => system::open_nofollow_nonblocking(path),
        Source::At(dir, name) => system::open_file_at(dir, name),
        Source::InRoot(root, path) => {
            system::open_in_root(root, path, Access::Read).map(File::from)
        }
    };
    opened.map_err(|e| match source {
        // Only to word the message: the open itself refused the link.
        Source::Path(path, Link::Refuse)
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
        {
            NotRead::Symlink
        }
        _ => NotRead::Io("open", e),
    })
}

/// Every directory above the file must be root's and not writable by group
/// or others (sticky ones, like /tmp, excepted: there only root or an entry's
/// owner can replace it), so nobody else can swap the file for another.
pub(crate) fn check_ancestors(path: &Path) -> Result<(), UnsafeDirectory> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(path).map_err(UnsafeDirectory::Io)?;
    let given = std::path::absolute(path).map_err(UnsafeDirectory::Io)?;
    // The directories of the path as written too: a symlink in a writable
    // directory could be pointed elsewhere.
    for dir in real.ancestors().skip(1).chain(given.ancestors().skip(1)) {
        let meta = std::fs::metadata(dir).map_err(UnsafeDirectory::Io)?;
        if meta.uid() != 0 {
            return Err(UnsafeDirectory::NotRoot(dir.to_path_buf()));
        }
        if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
            return Err(UnsafeDirectory::Writable(dir.to_path_buf()));
        }
    }
    Ok(())
}
