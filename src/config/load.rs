//! Reading the configuration file safely (nsgate(8), "The configuration file"):
//! a regular file owned by root, not writable by group or others, read without
//! blocking and bounded. The same reader serves every file trusted as the
//! configuration is (pid files, machine records).
#![forbid(unsafe_code)]

use super::Config;
use crate::error::{Error, Result};
use crate::system;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest configuration nsgate reads.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Whether a symbolic link may name the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// The configuration may be a link: the directories on both its paths
    /// are checked.
    Follow,
    /// A file that names a target's process must be named itself.
    Refuse,
}

/// Why a file is not read as trusted; each caller words it for its file.
#[derive(Debug)]
pub(crate) enum Untrusted {
    /// The step (`open`, `stat`, `read`) that failed.
    Io(&'static str, std::io::Error),
    /// A symbolic link, with `Link::Refuse`.
    Symlink,
    NotRegular,
    /// Owned by this uid, not root.
    Owner(u32),
    /// Writable by group or others: its mode.
    Writable(u32),
    /// Larger than the caller's limit.
    TooLarge,
    /// A directory above it is not safe.
    Directory(UnsafeDirectory),
}

/// Why the directories above a trusted file do not keep it safe.
#[derive(Debug)]
pub(crate) enum UnsafeDirectory {
    /// The path could not be resolved, or a directory on it examined.
    Io(std::io::Error),
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

/// Reads a root-owned file no one else can write or swap, checked on the
/// opened descriptor so what is checked is what is read, at most `limit`
/// bytes.
pub(crate) fn read_trusted(
    path: &Path,
    limit: u64,
    link: Link,
) -> std::result::Result<Vec<u8>, Untrusted> {
    // Non-blocking: a FIFO or device must not hang nsgate before fstat says no.
    let opened = match link {
        Link::Follow => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path),
        Link::Refuse => system::open_nofollow_nonblocking(path),
    };
    let file = opened.map_err(|e| {
        // Only to word the message: the open itself refused the link.
        if link == Link::Refuse
            && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        {
            Untrusted::Symlink
        } else {
            Untrusted::Io("open", e)
        }
    })?;
    let meta = file.metadata().map_err(|e| Untrusted::Io("stat", e))?;
    if !meta.file_type().is_file() {
        return Err(Untrusted::NotRegular);
    }
    if meta.uid() != 0 {
        return Err(Untrusted::Owner(meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Untrusted::Writable(meta.mode()));
    }
    check_ancestors(path).map_err(Untrusted::Directory)?;
    if meta.len() > limit {
        return Err(Untrusted::TooLarge);
    }
    let mut text = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut text)
        .map_err(|e| Untrusted::Io("read", e))?;
    if text.len() as u64 > limit {
        return Err(Untrusted::TooLarge);
    }
    Ok(text)
}

/// Reads the configuration file, refusing it as `read_trusted` says.
fn read_config(path: &Path) -> Result<Vec<u8>> {
    read_trusted(path, MAX_CONFIG_BYTES, Link::Follow).map_err(|e| {
        let why = match e {
            Untrusted::Io(_, source) => {
                return Error::ConfigIo {
                    path: path.to_path_buf(),
                    source,
                }
            }
            Untrusted::Symlink => "a symbolic link".to_string(),
            Untrusted::NotRegular => "not a regular file".to_string(),
            Untrusted::Owner(_) => "not owned by root".to_string(),
            Untrusted::Writable(_) => "writable by group or others".to_string(),
            Untrusted::TooLarge => "larger than 1 MiB".to_string(),
            Untrusted::Directory(why) => why.to_string(),
        };
        Error::ConfigUnsafe {
            path: path.to_path_buf(),
            why,
        }
    })
}

/// Every directory above the file must be root's and not writable by group
/// or others (sticky ones, like /tmp, excepted: there only root or an entry's
/// owner can replace it), so nobody else can swap the file for another.
fn check_ancestors(path: &Path) -> std::result::Result<(), UnsafeDirectory> {
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

/// Reads, checks and parses the configuration at `path`.
pub(crate) fn load(path: &Path) -> Result<Config> {
    let text = read_config(path)?;
    super::parse(&path.to_string_lossy(), &text).map_err(Error::Config)
}
