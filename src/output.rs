//! Writing to stdout and stderr without panicking: a closed pipe or a full
//! disk must not turn a refusal's exit code into a crash.
#![forbid(unsafe_code)]

use std::io::{self, Write};

/// Writes `text` to stdout; a reader that went away is not an error.
pub(crate) fn stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes `text` to stderr. Nowhere is left to report a failure.
pub(crate) fn stderr(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// The one line a refusal or failure gives the client: `nsgate: MESSAGE`.
pub(crate) fn error_line(message: &str) {
    stderr(&format!("nsgate: {message}\n"));
}
