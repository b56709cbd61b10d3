//! The one error type. Its `Display` is the line a user reads after `nsgate: `.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// Exit code for failures of nsgate itself (§7).
pub const EXIT_FAILURE: i32 = 125;
/// Exit code for policy denials and non-executable programs (§7).
pub const EXIT_DENIED: i32 = 126;
/// Exit code for a program not found in the container (§7).
pub const EXIT_NOT_FOUND: i32 = 127;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read configuration {}: {}", path.display(), os_message(source))]
    ConfigIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refusing configuration {}: {why}", path.display())]
    ConfigUnsafe { path: PathBuf, why: String },
    /// Every diagnostic, already formatted as `FILE:LINE[:COL]: message`.
    #[error("{}", .0.join("\n"))]
    Config(Vec<String>),
    #[error("unknown target {0}")]
    UnknownTarget(String),
    #[error("denied: {0}")]
    Denied(String),
    #[error("cannot read SSH_USER_AUTH {}: {why}", path.display())]
    UserAuth { path: PathBuf, why: String },
    /// A target could not be resolved, pinned or entered.
    #[error("target {target}: {why}")]
    Target { target: String, why: String },
    #[error("audit unavailable: {0}")]
    Audit(String),
    /// Entering the container or starting the program failed; `code` is
    /// 125, or 126/127 for a program not executable/not found (§7).
    #[error("{message}")]
    Enter { code: i32, message: String },
}

impl Error {
    /// The exit code of §7 for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Denied(_) => EXIT_DENIED,
            Error::Enter { code, .. } => *code,
            _ => EXIT_FAILURE,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// An OS error as the C library words it, without Rust's "(os error N)".
pub fn os_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}
