//! The exec stage: the last step of entering, run from a sealed in-memory
//! copy of nsgate (see nsgate(8) SECURITY, "Entering").
//!
//! The entering process has joined every namespace but the pid namespace
//! (for which it only set `pid_for_children`), taken the container's root,
//! working directory, terminal, limits, capabilities, seccomp filters and
//! user, all from the host's pid namespace where nothing in the container can
//! see it. It then execs this stage with the command's argv and environment,
//! so that nothing of nsgate's memory, command line or binary reaches the
//! container. The stage makes the command's process with CLONE_PARENT (the
//! supervisor is its parent and reaps it), reports its pid and exits. That
//! process is the only one of nsgate ever in the container's pid namespace:
//! it becomes a session leader, takes its terminal and execs the command.
#![forbid(unsafe_code)]

use super::child::{exec, step, Failure};
use super::message::{Message, Received};
use crate::error::EXIT_FAILURE;
use crate::system::{self, Cloned, Interest};
use std::ffi::{CString, OsString};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// argv[0] of the exec stage, and so the command line the container sees
/// for the moment before the command is executed.
pub(crate) const ARGV0: &str = "nsgate-exec";
/// The channel to the supervisor.
pub(crate) const CHANNEL_FD: i32 = 3;
/// The read end of a pipe only the supervisor can write to: a hang-up
/// there means the supervisor is gone.
pub(crate) const LIFELINE_FD: i32 = 4;

/// Whether this process was executed as the exec stage.
pub(crate) fn is_exec_stage() -> bool {
    std::env::args_os().next().is_some_and(|a| a == ARGV0)
}

/// The exec stage's main; never returns.
pub(crate) fn main() -> ! {
    let (Ok(channel), Ok(lifeline)) = (
        system::inherited_fd(CHANNEL_FD),
        system::inherited_fd(LIFELINE_FD),
    ) else {
        system::exit_now(EXIT_FAILURE)
    };
    let failure = match make_command_process(channel, lifeline) {
        Ok(pid) => match Message::Started(pid).send(channel) {
            Ok(()) => system::exit_now(0),
            // The command's process waits for nothing from us: the supervisor
            // is its parent and learns of it when it exits, if not before.
            Err(_) => system::exit_now(EXIT_FAILURE),
        },
        Err(f) => f,
    };
    failure.report(channel)
}

fn make_command_process(
    channel: BorrowedFd<'_>,
    lifeline: BorrowedFd<'_>,
) -> Result<system::Pid, Failure> {
    // The Rust runtime ignores SIGPIPE; the command must not inherit that.
    // Everything else the entering process reset before it executed us.
    step("SIGPIPE", system::default_sigpipe())?;
    // Only CAP_SYS_PTRACE in the container may look at the process the
    // container is about to see, until it execs the command.
    step("non-dumpable", system::set_dumpable(false))?;
    // The channel and lifeline go no further than the command's exec.
    step("closing descriptors", system::cloexec_from(3))?;
    // The supervisor has moved us into the target's cgroups (runc's order):
    // the command's process is born there, and nothing of the container's
    // runs before.
    match Message::recv(channel) {
        Ok(Some(Received::Message(Message::Go))) => {}
        _ => system::exit_now(EXIT_FAILURE),
    }
    // This stage is a fresh exec of nsgate with one thread; the child only
    // runs `command_process`, which execs or exits.
    match system::clone_parent_from_exec_stage() {
        Ok(Cloned::Parent(pid)) => Ok(pid),
        Ok(Cloned::Child) => command_process(channel, lifeline),
        Err(e) => step("making the command's process", Err(e)),
    }
}

/// Runs in the container's pid namespace: the command's process until exec.
fn command_process(channel: BorrowedFd<'_>, lifeline: BorrowedFd<'_>) -> ! {
    let failure = match prepare_and_exec(lifeline) {
        Ok(never) => match never {},
        Err(f) => f,
    };
    failure.report(channel)
}

fn prepare_and_exec(lifeline: BorrowedFd<'_>) -> Result<std::convert::Infallible, Failure> {
    step("new session", system::setsid())?;
    let stdin = system::std_fd(0);
    if system::is_tty(stdin) {
        step(
            "controlling terminal",
            system::set_controlling_terminal(stdin),
        )?;
    }
    // Our parent is the supervisor: from here its death kills us, and if it
    // died before, its end of the lifeline is closed.
    step("parent-death signal", system::set_parent_death_kill())?;
    let read = Interest {
        read: true,
        write: false,
    };
    let ready = step(
        "lifeline",
        system::poll(&[(lifeline, read)], Some(Duration::ZERO)),
    )?;
    if !ready
        .first()
        .is_some_and(|r| !(r.hangup || r.error || r.read))
    {
        system::exit_now(EXIT_FAILURE);
    }
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(name, value)| {
            let mut entry = name.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            CString::new(entry).ok()
        })
        .collect();
    let argv: Vec<String> = argv
        .into_iter()
        .map(|a| a.into_string())
        .collect::<Result<_, _>>()
        .map_err(|_| Failure::enter("an argument is not valid UTF-8".into()))?;
    let root = step("opening /", system::open_root())?;
    let cwd = step("working directory", std::env::current_dir())?;
    Err(exec(
        std::os::fd::AsFd::as_fd(&root),
        &argv,
        &env,
        &cwd.to_string_lossy(),
    ))
}
