//! Why a target could not be resolved or pinned. `Display` is the `why` of
//! `Error::Target`, which the admin reads and the error record keeps.
#![forbid(unsafe_code)]

use super::engine::{Answer, Engine, Refused};
use super::files::Record;
use super::http::HttpError;
use super::stat::StatError;
use crate::config::InvalidName;
use crate::reader::NotRead;
use crate::system::Pid;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(super) enum Why {
    /// A container, containerd or machine name its runtime would refuse.
    Name(InvalidName),
    /// A pid file or machine record that is not read as trusted.
    File {
        path: PathBuf,
        not_read: NotRead,
    },
    /// A pid file that holds something else than a pid (its first bytes).
    NotAPid {
        path: PathBuf,
        start: Vec<u8>,
    },
    Machine {
        name: String,
        record: Record,
    },
    /// No `init.pid`: containerd has no running task of that id.
    NoTask {
        namespace: String,
        id: String,
        path: PathBuf,
    },
    /// No record: systemd-machined has no running machine of that name.
    NoMachine {
        name: String,
        path: PathBuf,
    },
    /// The engine's API did not answer as it should.
    Api {
        engine: Engine,
        socket: PathBuf,
        problem: Api,
    },
    /// The engine answered: this container cannot be entered.
    Container {
        engine: Engine,
        container: String,
        refused: Refused,
    },
    /// The engine names another container or pid on the second look.
    ContainerChanged {
        engine: Engine,
        container: String,
        id: String,
        pid: Pid,
    },
    /// The pid file names another pid on the second look.
    FileChanged {
        path: PathBuf,
        pid: Pid,
    },
    NotRunning(Pinning),
    PidfdOpen(Pinning, std::io::Error),
    Replaced(Pinning),
    Zombie(Pinning),
    ExitedWhilePinning(Pinning, std::io::Error),
    Stat(StatError),
}

/// What went wrong talking to a Docker or Podman API.
#[derive(Debug)]
pub(super) enum Api {
    Http(HttpError),
    /// Neither 200 nor 404: the status and the API's message.
    Status {
        status: u16,
        container: String,
        message: String,
    },
    Json(serde_json::Error),
    Unexpected(Answer),
}

/// The process being pinned, as messages name it.
#[derive(Debug, Clone)]
pub(super) enum Pinning {
    Container {
        engine: Engine,
        container: String,
        pid: Pid,
    },
    File {
        pid: Pid,
        path: PathBuf,
    },
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Name(invalid) => invalid.fmt(f),
            Why::File { path, not_read } => file_refused(f, path, not_read),
            Why::NotAPid { path, start } => write!(
                f,
                "{} holds {:?}, not a pid (a decimal number and at most one newline)",
                path.display(),
                String::from_utf8_lossy(start)
            ),
            Why::Machine { name, record } => write!(f, "machine {name}: {record}"),
            Why::NoTask {
                namespace,
                id,
                path,
            } => write!(
                f,
                "containerd task {namespace}/{id} is not running (no {})",
                path.display()
            ),
            Why::NoMachine { name, path } => {
                write!(f, "machine {name} is not running (no {})", path.display())
            }
            Why::Api {
                engine,
                socket,
                problem,
            } => {
                write!(f, "{} at {} ", engine.daemon(), socket.display())?;
                problem.fmt(f)
            }
            Why::Container {
                engine,
                container,
                refused,
            } => write!(f, "{} container \"{container}\" {refused}", engine.name()),
            Why::ContainerChanged {
                engine,
                container,
                id,
                pid,
            } => write!(
                f,
                "{} container \"{container}\" changed while being pinned (now id {}, pid {pid})",
                engine.name(),
                id.get(..12).unwrap_or(id)
            ),
            Why::FileChanged { path, pid } => write!(
                f,
                "{} changed while being pinned (now pid {pid})",
                path.display()
            ),
            Why::NotRunning(what) => write!(f, "{what} is not running"),
            Why::PidfdOpen(what, e) => write!(f, "cannot pin {what}: pidfd_open: {e}"),
            Why::Replaced(what) => write!(
                f,
                "{what} was replaced by another process while being pinned"
            ),
            Why::Zombie(what) => write!(f, "{what} has exited (zombie)"),
            Why::ExitedWhilePinning(what, e) => {
                write!(f, "{what} exited while being pinned ({e})")
            }
            Why::Stat(e) => e.fmt(f),
        }
    }
}

/// A pid file or machine record that the reader refused, in words.
fn file_refused(f: &mut fmt::Formatter<'_>, path: &Path, not_read: &NotRead) -> fmt::Result {
    let shown = path.display();
    match not_read {
        NotRead::Io(step, e) => write!(f, "cannot {step} {shown}: {e}"),
        NotRead::Symlink => {
            write!(f, "{shown} is a symbolic link; name the file itself")
        }
        NotRead::NotRegular => write!(f, "{shown} is not a regular file"),
        NotRead::Owner(uid) => write!(f, "{shown} is owned by uid {uid}, not root"),
        NotRead::Writable(mode) => write!(
            f,
            "{shown} is writable by group or others (mode {:04o})",
            mode & 0o7777
        ),
        NotRead::TooLarge => write!(
            f,
            "{shown} is larger than {} KiB",
            super::files::MAX_FILE >> 10
        ),
        NotRead::Directory(why) => write!(f, "{shown}: {why}"),
    }
}

impl fmt::Display for Api {
    /// What the engine did wrong, after "DAEMON at SOCKET ".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Api::Http(HttpError::Unreachable(why)) => write!(f, "not answering: {why}"),
            Api::Http(HttpError::Malformed(why)) => {
                write!(f, "sent a malformed response: {why}")
            }
            Api::Status {
                status,
                container,
                message,
            } => write!(
                f,
                "answered HTTP {status} for container \"{container}\": {message}"
            ),
            Api::Json(e) => write!(f, "sent invalid JSON: {e}"),
            Api::Unexpected(answer) => write!(f, "sent an unexpected answer: {answer}"),
        }
    }
}

impl fmt::Display for Pinning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pinning::Container {
                engine,
                container,
                pid,
            } => write!(f, "{} container \"{container}\" (pid {pid})", engine.name()),
            Pinning::File { pid, path } => write!(f, "pid {pid} from {}", path.display()),
        }
    }
}
