//! Session recording (nsgate(8) RECORDING): what a `record` rule's session
//! shows, and with `record input` what the client types, written as
//! asciicast v2 to `RECORD-DIR/SID.cast` by the supervisor, on the host,
//! as root; nothing in the container writes it or names it (SID is
//! nsgate's own). `replay` plays a recording back (`nsgate replay`).
#![forbid(unsafe_code)]

mod asciicast;
mod replay;

pub(crate) use asciicast::{Failure, Stream};
pub(crate) use replay::main as replay;

use crate::audit::SessionId;
use crate::config::{RecordMode, Settings};
use crate::error::{Error, Result};
use crate::reader::UnsafeDirectory;
use crate::system;
use asciicast::{Cast, Header};
use std::fs::File;
use std::io::{self, BufWriter};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::{Instant, SystemTime};

/// Buffered so a busy session costs a write(2) per this much, not per read.
const BUFFER: usize = 256 * 1024;

/// What the header says about the session.
pub(crate) struct About<'a> {
    pub sid: SessionId,
    pub key: Option<&'a str>,
    pub target: &'a str,
    /// The request as the client sent it; None for a shell.
    pub command: Option<&'a [u8]>,
}

/// A session's recording, open for writing.
pub(crate) struct Recording {
    cast: Cast<BufWriter<File>>,
    started: Instant,
    input: bool,
}

impl Recording {
    /// Creates `RECORD-DIR/SID.cast` (0600, never an existing file or a
    /// link) and writes its header; any failure refuses the session.
    pub(crate) fn create(
        settings: &Settings,
        mode: RecordMode,
        about: &About,
    ) -> Result<Recording> {
        let dir = &settings.record_dir;
        let fail = |why: String| Error::Record(format!("{}: {why}", dir.display()));
        let dir_fd = open_dir(dir).map_err(|e| fail(e.to_string()))?;
        let sid = about.sid.to_string();
        let name = format!("{sid}.cast");
        let file = system::create_file_at(dir_fd.as_fd(), &name, 0o600)
            .map_err(|e| fail(format!("{name}: {}", crate::error::os_message(&e))))?;
        let fd0 = system::std_fd(0);
        let size = system::is_tty(fd0)
            .then(|| system::window_size(fd0).ok())
            .flatten()
            .filter(|s| s.cols > 0 && s.rows > 0);
        let term = std::env::var("TERM")
            .ok()
            .filter(|t| crate::enter::valid_term(t));
        let header = Header {
            width: size.map_or(80, |s| s.cols),
            height: size.map_or(24, |s| s.rows),
            timestamp: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            command: about.command,
            term: term.as_deref(),
            sid: &sid,
            key: about.key,
            target: about.target,
            input: mode == RecordMode::WithInput,
        };
        let out = BufWriter::with_capacity(BUFFER, file);
        let mut cast = Cast::new(out, settings.record_max_bytes, &header)
            .map_err(|e| fail(format!("{name}: {e}")))?;
        // The header is on disk before anything runs.
        cast.flush().map_err(|e| fail(format!("{name}: {e}")))?;
        Ok(Recording {
            cast,
            started: Instant::now(),
            input: header.input,
        })
    }

    /// What the command wrote to `stream` (stdout, stderr or the terminal).
    pub(crate) fn output(
        &mut self,
        stream: Stream,
        data: &[u8],
    ) -> std::result::Result<(), Failure> {
        self.cast.data(self.started.elapsed(), stream, data)
    }

    /// What the client typed or sent: recorded only with `record input`.
    pub(crate) fn input(&mut self, data: &[u8]) -> std::result::Result<(), Failure> {
        if !self.input {
            return Ok(());
        }
        self.cast.data(self.started.elapsed(), Stream::Input, data)
    }

    pub(crate) fn resize(&mut self, cols: u16, rows: u16) -> std::result::Result<(), Failure> {
        self.cast.resize(self.started.elapsed(), cols, rows)
    }

    /// Bytes handed to the file so far.
    pub(crate) fn written(&self) -> u64 {
        self.cast.written()
    }

    /// Writes out the rest; the recording's size in bytes.
    pub(crate) fn finish(self) -> std::result::Result<u64, Failure> {
        let at = self.started.elapsed();
        self.cast.finish(at)
    }
}

/// Why `record-dir` cannot take recordings.
#[derive(Debug)]
enum BadDir {
    Io(io::Error),
    NotDirectory,
    /// Root's and not writable by group or others, like the directories
    /// above nsgate.conf (nsgate.conf(5) FILES).
    Unsafe(UnsafeDirectory),
}

impl std::fmt::Display for BadDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadDir::Io(e) => f.write_str(&crate::error::os_message(e)),
            BadDir::NotDirectory => f.write_str("not a directory"),
            BadDir::Unsafe(why) => write!(f, "{why}"),
        }
    }
}

/// Opens `record-dir`, made root-only (0700) with its missing parents if
/// it does not exist; an existing one must be root's and writable by
/// nobody else, and so must the directories above it.
fn open_dir(dir: &Path) -> std::result::Result<OwnedFd, BadDir> {
    let fd = match system::open_dir_nofollow(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(BadDir::Io)?;
            system::open_dir_nofollow(dir).map_err(BadDir::Io)?
        }
        r => r.map_err(BadDir::Io)?,
    };
    let info = system::file_info(fd.as_fd()).map_err(BadDir::Io)?;
    if !info.is_dir() {
        return Err(BadDir::NotDirectory);
    }
    if !info.uid.is_root() {
        return Err(BadDir::Unsafe(UnsafeDirectory::NotRoot(dir.to_path_buf())));
    }
    if info.mode & 0o022 != 0 {
        return Err(BadDir::Unsafe(UnsafeDirectory::Writable(dir.to_path_buf())));
    }
    crate::reader::check_directories_above(dir).map_err(BadDir::Unsafe)?;
    Ok(fd)
}
