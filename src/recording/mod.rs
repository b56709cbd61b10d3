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
use crate::own_dir;
use crate::system;
use asciicast::{Cast, Header};
use std::fs::File;
use std::io::BufWriter;
use std::os::fd::AsFd;
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
        // Made root-only with its missing parents; one that exists must be
        // root's and writable by nobody else, and so must those above it.
        let dir_fd = own_dir::open(dir, true, own_dir::SHARED_WRITE)
            .map_err(|e| Error::Record(e.to_string()))?;
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
