//! Reading the configuration file safely (nsgate(8), "The configuration file"):
//! a regular file owned by root, not writable by group or others, in
//! directories only root can write, read without blocking and bounded, by
//! the one reader of such files (`crate::reader`).
#![forbid(unsafe_code)]

use super::Config;
use crate::error::{Error, Result};
use crate::reader::{self, Bound, Link, NotRead, Owner, Source};
use std::path::Path;

/// The largest configuration nsgate reads.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Reads the configuration file, refusing it as `reader::read` says for a
/// file of root's.
fn read_config(path: &Path) -> Result<Vec<u8>> {
    let source = Source::Path(path, Link::Follow);
    reader::read(source, Bound::AtMost(MAX_CONFIG_BYTES), Owner::Root).map_err(|e| {
        let why = match e {
            NotRead::Io(_, source) => {
                return Error::ConfigIo {
                    path: path.to_path_buf(),
                    source,
                }
            }
            NotRead::Symlink => "a symbolic link".to_string(),
            NotRead::NotRegular => "not a regular file".to_string(),
            NotRead::Owner(_) => "not owned by root".to_string(),
            NotRead::Writable(_) => "writable by group or others".to_string(),
            NotRead::TooLarge => "larger than 1 MiB".to_string(),
            NotRead::Directory(why) => why.to_string(),
        };
        Error::ConfigUnsafe {
            path: path.to_path_buf(),
            why,
        }
    })
}

/// Reads, checks and parses the configuration at `path`.
pub(crate) fn load(path: &Path) -> Result<Config> {
    let text = read_config(path)?;
    super::parse(&path.to_string_lossy(), &text).map_err(Error::Config)
}
