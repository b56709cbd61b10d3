//! Set-up shared by the integration tests in tests/: the paths of the
//! binary and of the tests/support scripts, and private directories and
//! configuration files that nsgate accepts.
// Every test crate compiles its own copy and uses only a part of it.
#![allow(dead_code)]
#![forbid(unsafe_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// This build of nsgate.
pub const NSGATE: &str = env!("CARGO_BIN_EXE_nsgate");

pub fn support(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script)
}

/// A path as an argument; the tests only make UTF-8 ones.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A name no other test of this process has used.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An empty temporary directory PREFIX-PID-TEST, 0755 as nsgate wants the
/// directories of its configuration; left over from an earlier run, it is
/// emptied first.
pub fn private_dir(prefix: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Writes a file nsgate trusts, as a configuration or pid file must be
/// (root's, 0644): the umask must not decide whether a test's file is refused.
pub fn write_trusted(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}
