//! Entering the pinned target: namespaces, cgroup, confinement, user,
//! working directory, environment, then exec; and the exit status back.
//!
//! The process model (nsgate(8) SECURITY, "Entering"): the supervisor reads
//! what it needs about the target from the host side and stays in the
//! host's namespaces. It forks the entering process (`child.rs`) in the
//! host's pid namespace, where nothing in the container can see it; that
//! process joins the target's namespaces, takes its root and every part of
//! its confinement and the user's credentials, then execs the exec stage
//! (`stage.rs`) from a sealed in-memory copy of nsgate. The stage makes the
//! command's process in the container's pid namespace, as a child of the
//! supervisor, and exits; that process just execs the command. So the only
//! process of nsgate the container can ever see is already inside and
//! confined, and runs no host file. Every process of the session is born
//! into a cgroup of the session's own (`cgroup.rs`), by which the supervisor
//! ends them all.
#![forbid(unsafe_code)]

mod cgroup;
mod child;
mod confine;
mod env;
mod facts;
mod message;
mod seal;
pub(crate) mod stage;
mod users;

pub(crate) use cgroup::SessionCgroup;
pub(crate) use env::valid_term;
pub(crate) use message::{Message, Received};
pub(crate) use users::check_from_host;

use crate::config::{EnvVar, NsSet, UserSpec};
use crate::error::{Error, Result, EXIT_FAILURE};
use crate::resolve::{Pinned, RuntimeConfig};
use crate::system::{self, Forked, Signals};
use child::ChildIo;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// What to run in the target, and how; the caller has merged target and
/// rule settings into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
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
    /// When the login's certificate ends (its valid_before), if it does:
    /// the session ends then too.
    pub cert_end: Option<std::time::SystemTime>,
    /// Background processes may outlive the session (`detach`).
    pub detach: bool,
    /// Names the session's cgroup (`nsgate-NAME`): the session id.
    pub session: String,
    /// The session is recorded, so its bytes must pass through nsgate:
    /// pipes where there would be none.
    pub record: bool,
}

/// Why nsgate ended the command rather than the command ending by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    Timeout,
    Disconnect,
    /// The recording could not be written (nsgate(8) RECORDING).
    RecordFailed,
    /// The login's certificate reached its valid_before.
    CertExpired,
}

impl EndReason {
    /// As the exit record's `reason` names it (nsgate(8) AUDIT).
    pub(crate) fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Disconnect => "disconnect",
            EndReason::RecordFailed => "record-failed",
            EndReason::CertExpired => "cert-expired",
        }
    }
}

/// The capacity of a recorded session's stdout and stderr pipes.
const RECORDED_PIPE_BYTES: i32 = 1 << 20;

/// Signals forwarded to the command.
const FORWARDED: [i32; 7] = [
    system::SIGHUP,
    system::SIGINT,
    system::SIGQUIT,
    system::SIGTERM,
    system::SIGUSR1,
    system::SIGUSR2,
    system::SIGWINCH,
];

/// The entering process (later the exec stage), our child in the host's
/// pid namespace.
pub(crate) struct Entering {
    pub pid: system::Pid,
    pub pidfd: OwnedFd,
}

/// How the command's stdin, stdout and stderr reach the client.
pub(crate) enum Relay {
    /// The command has nsgate's own 0, 1, 2.
    Direct,
    /// Our ends of the command's stdin, stdout and stderr pipes.
    Pipes {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// The master of the command's pty.
    Pty(OwnedFd),
}

/// A started session, for `supervise`: from the moment the exec stage was
/// told to go on.
pub(crate) struct Started {
    pub entering: Entering,
    pub channel: OwnedFd,
    /// The write end of the lifeline: held, never written.
    pub lifeline: OwnedFd,
    pub cgroup: SessionCgroup,
    pub relay: Relay,
    /// The forwarded signals, blocked and read from a signalfd.
    pub signals: Signals,
    pub timeout: Option<Duration>,
    pub cert_end: Option<std::time::SystemTime>,
    pub detach: bool,
    /// When the entering process was forked.
    pub begun: Instant,
    pub client: ClientTerminals,
}

/// The user the command runs as (for the audit record too): the plan's,
/// else the runtime's `Config.User`, else uid 0.
pub(crate) fn effective_user(plan: &Plan, runtime: &RuntimeConfig) -> UserSpec {
    match &plan.user {
        Some(user) => user.clone(),
        None => default_user(runtime),
    }
}

/// The runtime's `Config.User`, else uid 0: who a command runs as when
/// neither rule nor target says.
pub(crate) fn default_user(runtime: &RuntimeConfig) -> UserSpec {
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
pub(crate) struct Prepared(facts::Facts);

impl Prepared {
    /// The namespaces the command will join: those where the target
    /// differs from nsgate, restricted to the plan's `ns`.
    pub(crate) fn namespaces(&self) -> NsSet {
        self.0.ns
    }
}

/// Reads what `start` needs about the pinned target; enters nothing.
pub(crate) fn prepare(pinned: &Pinned, plan: &Plan) -> Result<Prepared> {
    facts::gather(pinned, plan.ns)
        .map(Prepared)
        .map_err(cannot_enter)
}

fn cannot_enter(why: impl std::fmt::Display) -> Error {
    Error::Enter {
        code: EXIT_FAILURE,
        message: format!("cannot enter the container: {why}"),
    }
}

fn io_failure(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| cannot_enter(format!("{what}: {e}"))
}

/// Starts `plan` in the pinned target, for `supervise::run`. `Err` is a
/// failure before the command's process was made (exit code 125).
///
/// Call it from a single-threaded process: it forks, and the entering
/// process joins namespaces that require a single thread.
pub(crate) fn start(pinned: &Pinned, plan: &Plan, prepared: Prepared) -> Result<Started> {
    let facts = prepared.0;
    let user = effective_user(plan, &pinned.runtime);
    let client = ClientTerminals::now();
    let mode = Mode::choose(client, plan.tty, plan.record);
    // The client's TERM, checked, only for a terminal.
    let term = (mode == Mode::Pty)
        .then(|| std::env::var("TERM").ok().filter(|t| valid_term(t)))
        .flatten();
    let runtime = &pinned.runtime;
    let cwd = plan
        .cwd
        .as_deref()
        .or(runtime.working_dir.as_deref().filter(|d| !d.is_empty()));

    // Checked before anything is started; the sealing itself overlaps the
    // entering process's work (see `go`).
    if !cfg!(target_feature = "crt-static") {
        return Err(cannot_enter(
            "this nsgate is not a static build (see packaging/build-release)",
        ));
    }
    let signals = Signals::block(&FORWARDED).map_err(io_failure("signals"))?;
    let (channel, child_channel) = system::channel_pair().map_err(io_failure("channel"))?;
    let (lifeline, lifeline_hold) = system::pipe().map_err(io_failure("lifeline"))?;
    let pipes = (mode == Mode::Pipes).then(relay_pipes).transpose()?;
    if let (Some([_, out, err]), true) = (&pipes, plan.record) {
        // Recorded output passes through nsgate: larger pipes mean fewer,
        // larger reads (and events). Only an optimisation: errors ignored.
        for (ours, _) in [out, err] {
            let _ = system::set_pipe_size(ours.as_fd(), RECORDED_PIPE_BYTES);
        }
    }
    let spec = child::Spec {
        pidfd: pinned.pidfd.as_fd(),
        channel: child_channel.as_fd(),
        lifeline: lifeline.as_fd(),
        facts: &facts,
        user: &user,
        group_add: &runtime.group_add,
        argv: plan.argv.as_deref(),
        cwd,
        runtime_env: &runtime.env,
        term: term.as_deref(),
        plan_env: &plan.env,
        io: child_io(pipes.as_ref(), mode),
    };
    let session = SessionCgroup::create(&facts.cgroups, &plan.session).map_err(cannot_enter)?;

    let started = Instant::now();
    let entering = fork_entering(&spec)?;
    drop((child_channel, lifeline));
    let master = match go(&entering, &channel, &facts, &session, mode) {
        Ok(master) => master,
        Err(why) => {
            let _ = system::pidfd_send_signal(entering.pidfd.as_fd(), system::SIGKILL);
            let _ = system::wait(entering.pidfd.as_fd());
            // What it said before it went is the better reason.
            return Err(reported_failure(&channel).unwrap_or(why));
        }
    };
    let relay = match (pipes, master) {
        (Some([i, o, e]), _) => Relay::Pipes {
            stdin: i.0,
            stdout: o.0,
            stderr: e.0,
        },
        (None, Some(master)) => Relay::Pty(master),
        (None, None) => Relay::Direct,
    };
    Ok(Started {
        entering,
        channel,
        lifeline: lifeline_hold,
        cgroup: session,
        relay,
        signals,
        timeout: plan.timeout,
        cert_end: plan.cert_end,
        detach: plan.detach,
        begun: started,
        client,
    })
}

/// How the entering process sets up the command's stdin, stdout, stderr.
fn child_io(pipes: Option<&[(OwnedFd, OwnedFd); 3]>, mode: Mode) -> ChildIo<'_> {
    match (pipes, mode) {
        (Some([i, o, e]), _) => ChildIo::Pipes {
            stdin: i.1.as_fd(),
            stdout: o.1.as_fd(),
            stderr: e.1.as_fd(),
        },
        (None, Mode::Pty) => ChildIo::Pty {
            size: system::window_size(system::std_fd(0)).ok(),
        },
        (None, _) => ChildIo::Direct,
    }
}

/// Forks the entering process, which runs `spec` and never returns here.
fn fork_entering(spec: &child::Spec<'_>) -> Result<Entering> {
    // Nothing of ours is ever in the container's pid namespace, but the
    // entering process may join its user namespace.
    system::set_dumpable(false).map_err(io_failure("non-dumpable"))?;
    // The child only runs `child::main`, which execs or exits.
    let pid = match system::fork_single_threaded() {
        Ok(Forked::Child) => child::main(spec),
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => return Err(io_failure("fork")(e)),
    };
    let pidfd = system::pidfd_open(pid).map_err(io_failure("pidfd"))?;
    Ok(Entering { pid, pidfd })
}

/// (ours, the command's) for stdin, stdout, stderr.
fn relay_pipes() -> Result<[(OwnedFd, OwnedFd); 3]> {
    let pipe = || system::pipe().map_err(io_failure("pipe"));
    let (in_r, in_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    Ok([(in_w, in_r), (out_r, out_w), (err_r, err_w)])
}

/// Moves the entering process into the cgroups, takes the pty master where
/// there is one, and tells the exec stage to go on.
fn go(
    entering: &Entering,
    channel: &OwnedFd,
    facts: &facts::Facts,
    session: &SessionCgroup,
    mode: Mode,
) -> Result<Option<OwnedFd>> {
    cgroup::join(&facts.cgroups, session, entering.pid).map_err(cannot_enter)?;
    // The master comes before GO: once the command's process exists, the
    // channel may be in hands other than ours (see `supervise`).
    let master = match mode {
        Mode::Pty => Some(receive_master(channel)?),
        _ => None,
    };
    Message::Go
        .send(channel.as_fd())
        .map_err(io_failure("channel"))?;
    Ok(master)
}

/// The failure the entering process reported before it was gone, if any.
fn reported_failure(channel: &OwnedFd) -> Option<Error> {
    // Ends at end of file: every other end of the channel is closed.
    while let Ok(Some(received)) = Message::recv(channel.as_fd()) {
        if let Received::Message(Message::Failed { code, text }) = received {
            return Some(Error::Enter {
                code,
                message: text,
            });
        }
    }
    None
}

fn receive_master(channel: &OwnedFd) -> Result<OwnedFd> {
    loop {
        match Message::recv(channel.as_fd()).map_err(io_failure("channel"))? {
            Some(Received::Message(Message::Master(fd))) => return Ok(fd),
            Some(Received::Message(Message::Failed { code, text })) => {
                return Err(Error::Enter {
                    code,
                    message: text,
                })
            }
            Some(_) => continue,
            None => return Err(cannot_enter("the entering process ended")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No terminal among nsgate's 0, 1, 2: the command gets them.
    Direct,
    /// A terminal among them, and no pty for the command: pipes, relayed,
    /// so a host terminal is never passed through.
    Pipes,
    /// A client terminal on stdin and a rule allowing one: a pty in the
    /// container.
    Pty,
}

impl Mode {
    /// The one decision about terminals: which of nsgate's 0, 1, 2 are
    /// terminals, and what the rule allows. A recorded session is never
    /// Direct: nsgate must see its bytes.
    fn choose(client: ClientTerminals, rule_allows_tty: bool, record: bool) -> Mode {
        match (client.stdin, rule_allows_tty, client.output || record) {
            (true, true, _) => Mode::Pty,
            (true, false, _) | (false, _, true) => Mode::Pipes,
            (false, _, false) => Mode::Direct,
        }
    }
}

/// Which of nsgate's standard descriptors are terminals, looked at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientTerminals {
    /// Standard input: the client's terminal, relayed in raw mode.
    pub stdin: bool,
    /// Standard output or error.
    pub output: bool,
}

impl ClientTerminals {
    fn now() -> ClientTerminals {
        let tty = |n| system::is_tty(system::std_fd(n));
        ClientTerminals {
            stdin: tty(0),
            output: tty(1) || tty(2),
        }
    }
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
    fn a_recorded_session_is_always_relayed() {
        let t = |stdin, output| ClientTerminals { stdin, output };
        assert_eq!(Mode::choose(t(false, false), false, false), Mode::Direct);
        assert_eq!(Mode::choose(t(false, false), true, true), Mode::Pipes);
        assert_eq!(Mode::choose(t(false, false), false, true), Mode::Pipes);
        assert_eq!(Mode::choose(t(true, false), true, true), Mode::Pty);
        assert_eq!(Mode::choose(t(true, false), false, true), Mode::Pipes);
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
}
