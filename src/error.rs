//! The one error type. Its `Display` is the line an administrator reads
//! after `nsgate: ` and the `reason` of audit records; `client_message` is
//! the line the SSH client reads instead, without host details.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// Exit code for failures of nsgate itself (nsgate(8) EXIT STATUS).
pub(crate) const EXIT_FAILURE: i32 = 125;
/// Exit code for policy denials and non-executable programs (nsgate(8)
/// EXIT STATUS).
pub(crate) const EXIT_DENIED: i32 = 126;
/// Exit code for a program not found in the container (nsgate(8) EXIT STATUS).
pub(crate) const EXIT_NOT_FOUND: i32 = 127;

#[derive(Debug)]
pub(crate) enum Error {
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
    /// The certificate of SSH_USER_AUTH is not one nsgate accepts.
    Certificate(crate::cert::CertError),
    /// A target could not be resolved, pinned or entered.
    Target {
        target: String,
        why: String,
    },
    Audit(String),
    /// The session's recording could not be created (nsgate(8) RECORDING).
    Record(String),
    /// Entering the container or starting the program failed; `code` is 125, or
    /// 126/127 for a program not executable/not found (nsgate(8) EXIT STATUS).
    Enter {
        code: i32,
        message: String,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
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
            Error::Certificate(why) => write!(f, "refusing the SSH certificate: {why}"),
            Error::Target { target, why } => write!(f, "target {target}: {why}"),
            Error::Audit(why) => write!(f, "audit unavailable: {why}"),
            Error::Record(why) => write!(f, "cannot record the session: {why}"),
            Error::Enter { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// What a gate-mode client is told about a failure, besides the error.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClientView<'a> {
    /// The target named in authorized_keys.
    pub target: &'a str,
    /// The session id of the audit records, once there is one.
    pub sid: Option<&'a str>,
    /// The program the client asked for, in its own words.
    pub program: Option<&'a str>,
}

impl Error {
    /// The line the SSH client reads after `nsgate: `. It never holds a host
    /// path, file mode or errno text: what failed, in words, and the session
    /// whose audit record has the `Display` text. Denials and unknown
    /// targets say only what the client sent and the target's name.
    pub(crate) fn client_message(&self, view: &ClientView) -> String {
        let target = view.target;
        let details = match view.sid {
            Some(sid) => format!(" (session {sid}; the audit record has the details)"),
            None => String::new(),
        };
        let program = view
            .program
            .map(|p| format!("\"{}\"", crate::quote::escape(p.as_bytes())));
        match self {
            Error::UnknownTarget(_) | Error::Denied(_) => self.to_string(),
            // The error record (default settings) and --check have the details.
            Error::ConfigIo { .. } | Error::ConfigUnsafe { .. } => {
                "cannot load the configuration; an administrator can run nsgate --check".into()
            }
            Error::Config(_) => {
                "the configuration is invalid; an administrator can run nsgate --check".into()
            }
            Error::UserAuth { .. } => format!("cannot read SSH_USER_AUTH{details}"),
            // About the client's own certificate: nothing of the host's.
            Error::Certificate(_) => format!("{self}{details}"),
            Error::Target { .. } => {
                format!("cannot find a running container for target {target}{details}")
            }
            // No record could be written, so none has the details.
            Error::Audit(_) => "cannot write the audit record, so nothing was run".into(),
            Error::Record(_) => format!("cannot record the session, so nothing was run{details}"),
            Error::Enter { code, .. } => match (*code, program) {
                (EXIT_NOT_FOUND, Some(program)) => {
                    format!("{program}: not found in the container{details}")
                }
                (EXIT_NOT_FOUND, None) => {
                    format!("the login shell is not found in the container{details}")
                }
                (EXIT_DENIED, Some(program)) => {
                    format!("{program}: cannot execute in the container{details}")
                }
                (EXIT_DENIED, None) => {
                    format!("cannot execute the login shell in the container{details}")
                }
                _ => format!("cannot enter the container of target {target}{details}"),
            },
        }
    }

    /// The exit code (nsgate(8) EXIT STATUS) for this failure.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Denied(_) => EXIT_DENIED,
            Error::Enter { code, .. } => *code,
            _ => EXIT_FAILURE,
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// An OS error as the C library words it, without Rust's "(os error N)".
pub(crate) fn os_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_reads_what_failed_never_the_host_details() {
        let sid = "9f2c0b71a4d35e6f8091a2b3c4d5e6f7";
        let view = ClientView {
            target: "web1",
            sid: Some(sid),
            program: Some("cat"),
        };
        let details = format!(" (session {sid}; the audit record has the details)");
        let enter = |code: i32, message: &str| Error::Enter {
            code,
            message: message.into(),
        };
        let table: Vec<(Error, String)> = vec![
            (
                Error::ConfigIo {
                    path: "/etc/nsgate.conf".into(),
                    source: std::io::Error::from_raw_os_error(libc::EACCES),
                },
                "cannot load the configuration; an administrator can run nsgate --check".into(),
            ),
            (
                Error::ConfigUnsafe {
                    path: "/etc/nsgate.conf".into(),
                    why: "writable by group or others".into(),
                },
                "cannot load the configuration; an administrator can run nsgate --check".into(),
            ),
            (
                Error::Config(vec!["/etc/nsgate.conf:2: unknown target \"web2\"".into()]),
                "the configuration is invalid; an administrator can run nsgate --check".into(),
            ),
            (
                Error::UserAuth {
                    path: "/tmp/sshd-auth.XYZ".into(),
                    why: "Permission denied".into(),
                },
                format!("cannot read SSH_USER_AUTH{details}"),
            ),
            (
                Error::Target {
                    target: "web1".into(),
                    why: "docker daemon at /var/run/docker.sock not answering: connect: Connection refused".into(),
                },
                format!("cannot find a running container for target web1{details}"),
            ),
            (
                Error::Audit("cannot connect to syslog socket /dev/log: No such file or directory".into()),
                "cannot write the audit record, so nothing was run".into(),
            ),
            (
                enter(EXIT_FAILURE, "cannot enter the container: joining namespaces: Operation not permitted"),
                format!("cannot enter the container of target web1{details}"),
            ),
            (
                enter(EXIT_DENIED, "/usr/bin/cat: cannot execute in the container: Permission denied"),
                format!("\"cat\": cannot execute in the container{details}"),
            ),
            (
                enter(EXIT_NOT_FOUND, "cat: not found in the container"),
                format!("\"cat\": not found in the container{details}"),
            ),
            (
                Error::Certificate(crate::cert::CertError::Expired(1_700_000_000)),
                format!("refusing the SSH certificate: expired at 2023-11-14T22:13:20Z{details}"),
            ),
            (Error::UnknownTarget("web9".into()), "unknown target web9".into()),
            (
                Error::Denied("\"cat /etc/shadow\" is not permitted on web1".into()),
                "denied: \"cat /etc/shadow\" is not permitted on web1".into(),
            ),
        ];
        for (error, want) in &table {
            let got = error.client_message(&view);
            assert_eq!(&got, want, "{error:?}");
            for secret in [
                "/etc",
                "/var",
                "/tmp",
                "/dev",
                "/usr",
                "Permission denied",
                "Operation not permitted",
                "No such file",
                "Connection refused",
                "writable",
            ] {
                if !matches!(error, Error::Denied(_)) {
                    assert!(!got.contains(secret), "{secret} in {got}");
                }
            }
        }
    }

    #[test]
    fn without_a_session_or_a_program_it_says_less() {
        let view = ClientView {
            target: "web1",
            ..ClientView::default()
        };
        let enter = |code: i32| Error::Enter {
            code,
            message: "x".into(),
        };
        assert_eq!(
            enter(EXIT_FAILURE).client_message(&view),
            "cannot enter the container of target web1"
        );
        assert_eq!(
            enter(EXIT_DENIED).client_message(&view),
            "cannot execute the login shell in the container"
        );
        assert_eq!(
            enter(EXIT_NOT_FOUND).client_message(&view),
            "the login shell is not found in the container"
        );
        // The client's own word, escaped as in the audit record.
        let view = ClientView {
            program: Some("a\"b\\"),
            ..view
        };
        assert_eq!(
            enter(EXIT_NOT_FOUND).client_message(&view),
            "\"a\\\"b\\\\\": not found in the container"
        );
    }
}
