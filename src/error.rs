//! The one error type. Its `Display` is the line a user reads after `nsgate: `.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// Exit code for failures of nsgate itself (§7).
pub const EXIT_FAILURE: i32 = 125;
/// Exit code for policy denials and non-executable programs (§7).
pub const EXIT_DENIED: i32 = 126;
/// Exit code for a program not found in the container (§7).
pub const EXIT_NOT_FOUND: i32 = 127;

#[derive(Debug)]
pub enum Error {
    Usage(String),
    ConfigIo {
        path: PathBuf,
        source: std::io::Error,
    },
    ConfigUnsafe {
        path: PathBuf,
        why: String,
    },
    /// Every diagnostic, already formatted as `FILE:LINE[:COL]: message`.
    Config(Vec<String>),
    UnknownTarget(String),
    Denied(String),
    UserAuth {
        path: PathBuf,
        why: String,
    },
    /// A target could not be resolved, pinned or entered.
    Target {
        target: String,
        why: String,
    },
    Audit(String),
    /// Entering the container or starting the program failed; `code` is
    /// 125, or 126/127 for a program not executable/not found (§7).
    Enter {
        code: i32,
        message: String,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage(message) => f.write_str(message),
            Error::ConfigIo { path, source } => write!(
                f,
                "cannot read configuration {}: {}",
                path.display(),
                os_message(source)
            ),
            Error::ConfigUnsafe { path, why } => {
                write!(f, "refusing configuration {}: {why}", path.display())
            }
            Error::Config(diagnostics) => f.write_str(&diagnostics.join("\n")),
            Error::UnknownTarget(name) => write!(f, "unknown target {name}"),
            Error::Denied(why) => write!(f, "denied: {why}"),
            Error::UserAuth { path, why } => {
                write!(f, "cannot read SSH_USER_AUTH {}: {why}", path.display())
            }
            Error::Target { target, why } => write!(f, "target {target}: {why}"),
            Error::Audit(why) => write!(f, "audit unavailable: {why}"),
            Error::Enter { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

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
