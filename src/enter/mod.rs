//! Entering the pinned target (§5): namespaces, cgroup, confinement, user,
//! working directory, environment, then exec; and the exit status back.
//!
//! The process model: nsgate (the supervisor) reads what it needs about the
//! target from the host side, marks itself non-dumpable, points its
//! children's pid namespace at the target's and forks. The child is thus
//! born inside the target's pid namespace while nsgate itself stays in all
//! of the host's namespaces and can wait for the command directly. The child
//! joins the other namespaces through the pidfd in one `setns`, takes the
//! target's root, resolves the user from the container's own files, changes
//! directory, sets up its terminal or pipes and becomes a session leader,
//! while nsgate moves it into the target's cgroups. Once nsgate says that is
//! done, the child takes the target's capabilities and seccomp filter, the
//! user's credentials, and execs.
//! Failures come back over a close-on-exec channel as one message each.
#![forbid(unsafe_code)]

mod cgroup;
mod child;
mod env;
mod facts;
mod users;

pub use crate::supervise::EndReason;
pub use crate::system::Exit as Status;
pub use env::{valid_term, DEFAULT_PATH};
pub use facts::TargetCaps;

use crate::config::{EnvVar, NsSet, UserSpec};
use crate::error::{Error, Result, EXIT_FAILURE};
use crate::supervise::{self, Relay};
use crate::system::{self, Forked, Signals};
use crate::target::{Pinned, RuntimeConfig};
use child::ChildIo;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// What to run in the target, and how; the caller has merged target and
/// rule settings into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The command; None for an interactive session, which runs the user's
    /// shell from the container's /etc/passwd (else `/bin/sh`) with argv
    /// `[shell]`, not as a `-sh` login shell, as `docker exec` does.
    pub argv: Option<Vec<String>>,
    /// None: the runtime's `Config.User`, else root (uid 0).
    pub user: Option<UserSpec>,
    /// Restricts the namespaces joined; None: every one that differs.
    pub ns: Option<NsSet>,
    /// None: the runtime's working directory, else `/` for a command and
    /// the user's home for a shell.
    pub cwd: Option<String>,
    /// Target `env` then rule `env`.
    pub env: Vec<EnvVar>,
    /// The rule allows a terminal (`shell`, or `cmd` with `tty`).
    pub tty: bool,
    pub timeout: Option<Duration>,
}

/// How a command that was started ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// Set when nsgate ended the command: its timeout passed or the client
    /// went away.
    pub ended_by: Option<EndReason>,
    /// From fork to the end of the command (and its session).
    pub duration: Duration,
}

impl Outcome {
    /// nsgate's exit code (§7): the command's status, or 128+N for signal N.
    pub fn exit_code(&self) -> i32 {
        match self.status {
            Status::Exited(code) => code,
            Status::Signaled(signal) => 128 + signal,
        }
    }

    /// The signal's name without `SIG` when the command was killed by one.
    pub fn signal_name(&self) -> Option<String> {
        match self.status {
            Status::Exited(_) => None,
            Status::Signaled(signal) => Some(system::signal_name(signal)),
        }
    }
}

/// The user the command runs as (for the audit record too): the plan's,
/// else the runtime's `Config.User`, else uid 0.
pub fn effective_user(plan: &Plan, runtime: &RuntimeConfig) -> UserSpec {
    if let Some(user) = &plan.user {
        return user.clone();
    }
    match runtime.user.as_deref().filter(|u| !u.is_empty()) {
        Some(spec) => {
            let (user, group) = match spec.split_once(':') {
                Some((u, g)) => (u, Some(g.to_string()).filter(|g| !g.is_empty())),
                None => (spec, None),
            };
            UserSpec {
                user: if user.is_empty() { "0" } else { user }.to_string(),
                group,
            }
        }
        None => UserSpec {
            user: "0".to_string(),
            group: None,
        },
    }
}

/// What entering needs to know about the target, read from the host side
/// before anything is entered (so the allow record can name the namespaces).
pub struct Prepared(facts::Facts);

impl Prepared {
    /// The namespaces the command will join: those where the target
    /// differs from nsgate, restricted to the plan's `ns`.
    pub fn namespaces(&self) -> NsSet {
        self.0.ns
    }
}

/// Reads what `start` needs about the pinned target; enters nothing.
pub fn prepare(pinned: &Pinned, plan: &Plan) -> Result<Prepared> {
    facts::gather(pinned, plan.ns)
        .map(Prepared)
        .map_err(cannot_enter)
}

/// Messages on the channel between supervisor and child: one byte of kind,
/// then the payload.
pub(crate) struct Msg;

impl Msg {
    /// Supervisor to child: the cgroups are joined, go on.
    pub const GO: u8 = b'G';
    /// Child to supervisor: the pty master is attached.
    pub const MASTER: u8 = b'M';
    /// Child to supervisor: an exit code byte and a message follow.
    pub const FAILED: u8 = b'F';

    /// The exit code and message of a FAILED message.
    pub fn failure(msg: &[u8]) -> Option<(i32, String)> {
        match msg {
            [Msg::FAILED, code, text @ ..] => {
                Some((i32::from(*code), String::from_utf8_lossy(text).into_owned()))
            }
            _ => None,
        }
    }
}

/// Longest failure message sent by the child.
pub(crate) const MAX_MESSAGE: usize = 2048;

fn cannot_enter(why: String) -> Error {
    Error::Enter {
        code: EXIT_FAILURE,
        message: format!("cannot enter the container: {why}"),
    }
}

fn io_failure(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| cannot_enter(format!("{what}: {e}"))
}

/// `prepare`, then `start`.
pub fn run(pinned: &Pinned, plan: &Plan) -> Result<Outcome> {
    let prepared = prepare(pinned, plan)?;
    start(pinned, plan, prepared)
}

/// Runs `plan` in the pinned target and supervises it to the end. `Err` is
/// a failure before the command started (exit code 125, or 126/127 when
/// the program cannot be executed or is not found, see `Error::exit_code`);
/// `Ok` tells how the started command ended.
///
/// Call it from a single-threaded process: it forks, and the child joins
/// namespaces that require a single thread.
pub fn start(pinned: &Pinned, plan: &Plan, prepared: Prepared) -> Result<Outcome> {
    let facts = prepared.0;
    let user = effective_user(plan, &pinned.runtime);
    let client_tty = system::is_tty(system::std_fd(0));
    let mode = match (client_tty, plan.tty) {
        (false, _) => Mode::Direct,
        (true, true) => Mode::Pty,
        (true, false) => Mode::Pipes,
    };
    let term = match mode {
        Mode::Pty => std::env::var("TERM").ok().filter(|t| valid_term(t)),
        _ => None,
    };
    let runtime = &pinned.runtime;
    let cwd = plan
        .cwd
        .as_deref()
        .or(runtime.working_dir.as_deref().filter(|d| !d.is_empty()));

    let signals = Signals::block(&supervise::FORWARDED).map_err(io_failure("signals"))?;
    let (channel, child_channel) = system::channel_pair().map_err(io_failure("channel"))?;
    // (ours, the command's) for stdin, stdout, stderr.
    let pipes: Option<[(OwnedFd, OwnedFd); 3]> = match mode {
        Mode::Pipes => {
            let pipe = || system::pipe().map_err(io_failure("pipe"));
            let (in_r, in_w) = pipe()?;
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            Some([(in_w, in_r), (out_r, out_w), (err_r, err_w)])
        }
        _ => None,
    };
    let io = match (&pipes, mode) {
        (Some([i, o, e]), _) => ChildIo::Pipes {
            stdin: i.1.as_fd(),
            stdout: o.1.as_fd(),
            stderr: e.1.as_fd(),
        },
        (None, Mode::Pty) => ChildIo::Pty {
            size: system::window_size(system::std_fd(0)).ok(),
        },
        (None, _) => ChildIo::Direct,
    };
    let spec = child::Spec {
        pidfd: pinned.pidfd.as_fd(),
        channel: child_channel.as_fd(),
        facts: &facts,
        user: &user,
        group_add: &runtime.group_add,
        argv: plan.argv.as_deref(),
        cwd,
        runtime_env: &runtime.env,
        hostname: runtime.hostname.as_deref().filter(|h| !h.is_empty()),
        term: term.as_deref(),
        plan_env: &plan.env,
        io,
    };

    // Non-dumpable before anything of ours is in the target's pid namespace;
    // the child inherits it until exec.
    system::set_dumpable(false).map_err(io_failure("non-dumpable"))?;
    let restore_pid_ns = if facts.enters("pid") {
        let own =
            std::fs::File::open("/proc/self/ns/pid").map_err(io_failure("own pid namespace"))?;
        system::setns(pinned.pidfd.as_fd(), system::ns_flag("pid").unwrap_or(0))
            .map_err(io_failure("pid namespace"))?;
        Some(OwnedFd::from(own))
    } else {
        None
    };
    let started = Instant::now();
    let forked = system::fork();
    if let Ok(Forked::Child) = forked {
        child::main(&spec);
    }
    if let Some(own) = restore_pid_ns {
        // Our own namespace is always allowed back; failing here would fork
        // later children into the container, so it is fatal.
        if let Err(e) = system::setns(own.as_fd(), system::ns_flag("pid").unwrap_or(0)) {
            if let Ok(Forked::Parent(pid)) = forked {
                if let Ok(fd) = system::pidfd_open(pid) {
                    let _ = system::pidfd_send_signal(fd.as_fd(), system::SIGKILL);
                    let _ = system::wait(fd.as_fd());
                }
            }
            return Err(io_failure("restoring the pid namespace")(e));
        }
    }
    let pid = match forked {
        Ok(Forked::Parent(pid)) => pid,
        Ok(Forked::Child) => unreachable_child(),
        Err(e) => return Err(io_failure("fork")(e)),
    };
    drop(child_channel);
    let pidfd = system::pidfd_open(pid).map_err(io_failure("pidfd"))?;
    let relay = match (pipes, mode) {
        (Some([i, o, e]), _) => Relay::Pipes {
            stdin: i.0,
            stdout: o.0,
            stderr: e.0,
        },
        (None, Mode::Pty) => Relay::Pty,
        (None, _) => Relay::Direct,
    };

    // The child may have failed meanwhile: then what it said is the reason.
    let stop_child = |why: Error| {
        let _ = system::pidfd_send_signal(pidfd.as_fd(), system::SIGKILL);
        let _ = system::wait(pidfd.as_fd());
        reported_failure(channel.as_fd()).unwrap_or(why)
    };
    if let Err(why) = cgroup::join(&facts.cgroups, pid) {
        return Err(stop_child(cannot_enter(why)));
    }
    if let Err(e) = system::channel_send(channel.as_fd(), &[Msg::GO], None) {
        return Err(stop_child(io_failure("channel")(e)));
    }

    let child = supervise::Child {
        pid,
        pidfd,
        channel,
    };
    let report = supervise::supervise(child, relay, &signals, plan.timeout)
        .map_err(io_failure("supervising"))?;
    let duration = started.elapsed();
    if let Some((code, message)) = report.failure {
        return Err(Error::Enter { code, message });
    }
    Ok(Outcome {
        status: report.exit,
        ended_by: report.ended_by,
        duration,
    })
}

/// The failure a child that is gone reported on `channel`, if any.
fn reported_failure(channel: BorrowedFd<'_>) -> Option<Error> {
    let mut buf = [0u8; MAX_MESSAGE + 2];
    // Ends at end of file: the child and its end of the channel are gone.
    while let Ok((n @ 1.., _)) = system::channel_recv(channel, &mut buf) {
        if let Some((code, message)) = Msg::failure(&buf[..n]) {
            return Some(Error::Enter { code, message });
        }
    }
    None
}

/// The child never gets past `child::main`.
fn unreachable_child() -> ! {
    system::exit_now(EXIT_FAILURE)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No client terminal: the command gets nsgate's 0, 1, 2.
    Direct,
    /// A client terminal but no `tty` in the rule: pipes, relayed.
    Pipes,
    /// A client terminal and a rule allowing one: a pty in the container.
    Pty,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime_user(user: Option<&str>) -> RuntimeConfig {
        RuntimeConfig {
            user: user.map(str::to_string),
            ..RuntimeConfig::default()
        }
    }

    #[test]
    fn user_comes_from_plan_then_runtime_then_root() {
        let plan = Plan::default();
        let cases = [
            (None, "0", None),
            (Some(""), "0", None),
            (Some("app"), "app", None),
            (Some("1000:1000"), "1000", Some("1000")),
            (Some("app:"), "app", None),
            (Some(":5"), "0", Some("5")),
        ];
        for (runtime, user, group) in cases {
            let spec = effective_user(&plan, &runtime_user(runtime));
            assert_eq!(
                (spec.user.as_str(), spec.group.as_deref()),
                (user, group),
                "{runtime:?}"
            );
        }
        let plan = Plan {
            user: Some(UserSpec {
                user: "www".into(),
                group: None,
            }),
            ..Plan::default()
        };
        assert_eq!(
            effective_user(&plan, &runtime_user(Some("app"))).user,
            "www"
        );
    }

    #[test]
    fn exit_codes() {
        let o = |status| Outcome {
            status,
            ended_by: None,
            duration: Duration::ZERO,
        };
        assert_eq!(o(Status::Exited(3)).exit_code(), 3);
        assert_eq!(o(Status::Signaled(15)).exit_code(), 143);
        assert_eq!(
            o(Status::Signaled(9)).signal_name().as_deref(),
            Some("KILL")
        );
    }
}
