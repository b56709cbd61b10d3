//! Reading the configuration file safely (§2): a regular file owned by root,
//! not writable by group or others, read without blocking and bounded.
#![forbid(unsafe_code)]

use super::Config;
use crate::error::{Error, Result};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The largest configuration nsgate reads.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Reads a file that must be as trustworthy as the configuration: checked on
/// the opened descriptor, so a swap after the check changes nothing.
pub fn read_checked(path: &Path) -> Result<Vec<u8>> {
    let unsafe_file = |why: &str| Error::ConfigUnsafe {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let io = |source| Error::ConfigIo {
        path: path.to_path_buf(),
        source,
    };
    // O_NONBLOCK: a FIFO or device must not hang nsgate before fstat says no.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    check_ancestors(path).map_err(|why| unsafe_file(&why))?;
    if !meta.file_type().is_file() {
        return Err(unsafe_file("not a regular file"));
    }
    if meta.uid() != 0 {
        return Err(unsafe_file("not owned by root"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_file("writable by group or others"));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(unsafe_file("larger than 1 MiB"));
    }
    let mut text = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(unsafe_file("larger than 1 MiB"));
    }
    Ok(text)
}

/// Every directory above the file must be root's and not writable by group
/// or others (sticky ones, like /tmp, excepted: there only root or an entry's
/// owner can replace it), so nobody else can swap the file for another.
pub fn check_ancestors(path: &Path) -> std::result::Result<(), String> {
    let real = std::fs::canonicalize(path).map_err(|e| crate::error::os_message(&e))?;
    let given = std::path::absolute(path).map_err(|e| crate::error::os_message(&e))?;
    // The directories of the path as written too: a symlink in a writable
    // directory could be pointed elsewhere.
    for dir in real.ancestors().skip(1).chain(given.ancestors().skip(1)) {
        let meta = std::fs::metadata(dir).map_err(|e| crate::error::os_message(&e))?;
        let shown = dir.display();
        if meta.uid() != 0 {
            return Err(format!("directory {shown} is not owned by root"));
        }
        if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
            return Err(format!("directory {shown} is writable by group or others"));
        }
    }
    Ok(())
}

/// Reads, checks and parses the configuration at `path`.
pub fn load(path: &Path) -> Result<Config> {
    let text = read_checked(path)?;
    super::parse(&path.to_string_lossy(), &text).map_err(Error::Config)
}
