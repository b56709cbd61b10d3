//! Opening files that must never make nsgate block or follow a planted link.
#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` read-only, close-on-exec, without following a symbolic link
/// in its last component (fails with ELOOP), without blocking on a FIFO or
/// device, and without ever making a terminal our controlling one. The
/// caller checks with `File::metadata` (fstat of the opened descriptor) what
/// it got before reading.
pub(crate) fn open_nofollow_nonblocking(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn refuses_symlink_and_does_not_block_on_fifo() {
        let dir = std::env::temp_dir().join(format!("nsgate-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("file"), b"1\n").unwrap();
        std::os::unix::fs::symlink(dir.join("file"), dir.join("link")).unwrap();
        nix::unistd::mkfifo(&dir.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();

        assert!(open_nofollow_nonblocking(&dir.join("file")).is_ok());
        let err = open_nofollow_nonblocking(&dir.join("link")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        // No writer: a blocking open would hang here forever.
        let fifo = open_nofollow_nonblocking(&dir.join("fifo")).unwrap();
        assert!(fifo.metadata().unwrap().file_type().is_fifo());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
