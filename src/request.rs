//! The client's request (§4): `SSH_ORIGINAL_COMMAND` split into an argv with
//! POSIX quoting and nothing else. No shell is ever involved.
#![forbid(unsafe_code)]

/// A parsed, validated request: at least one word, each valid UTF-8 without
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(Vec<String>);

impl Argv {
    pub fn words(&self) -> &[String] {
        &self.0
    }
    pub fn program(&self) -> &str {
        &self.0[0]
    }
}

/// What the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `SSH_ORIGINAL_COMMAND` unset: an interactive session.
    Interactive,
    /// `raw` is exactly what the client sent, for the audit record.
    Command { raw: Vec<u8>, argv: Argv },
}

/// Why a request was refused before any rule was consulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("TODO")]
    Todo,
}

/// Parses a request string (§4).
pub fn parse(_raw: &[u8], _max_command_bytes: usize) -> Result<Argv, Refusal> {
    Err(Refusal::Todo)
}

/// The request from `SSH_ORIGINAL_COMMAND`'s value (`None`: unset).
pub fn from_env(
    value: Option<&std::ffi::OsStr>,
    max_command_bytes: usize,
) -> Result<Request, Refusal> {
    use std::os::unix::ffi::OsStrExt;
    match value {
        None => Ok(Request::Interactive),
        Some(v) => {
            let raw = v.as_bytes().to_vec();
            let argv = parse(&raw, max_command_bytes)?;
            Ok(Request::Command { raw, argv })
        }
    }
}

impl Argv {
    /// Placeholder until the request parser lands.
    pub fn display(&self) -> String {
        self.0.join(" ")
    }
}
