//! The entering process. The supervisor forks it in the host's pid
//! namespace, where nothing in the container can see it. It joins the
//! target's other namespaces (and sets `pid_for_children` to the target's),
//! takes the target's root, resolves the user from the container's own
//! files, changes directory and sets up its terminal or pipes, while the
//! supervisor moves it into the target's cgroups. Once told that is done it
//! takes the target's capabilities, no_new_privs, seccomp filters and the
//! user's credentials, and only then execs the exec stage (`stage.rs`) from
//! the sealed copy of nsgate, which makes the process the container sees.
//! Any failure is sent to the supervisor as one message and the process
//! exits; it never returns into the supervisor's code.
#![forbid(unsafe_code)]

use super::confine::{self, Confinement, Real};
use super::env;
use super::facts::Facts;
use super::message::Message;
use super::seal;
use super::stage;
use super::users::{self, Credentials};
use crate::config::{EnvVar, UserSpec};
use crate::error::{EXIT_DENIED, EXIT_FAILURE, EXIT_NOT_FOUND};
use crate::system::{self, Access, WindowSize};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// How the command's stdin, stdout and stderr are set up.
pub(super) enum ChildIo<'a> {
    /// nsgate's own 0, 1 and 2.
    Direct,
    /// Pipes to the supervisor, which relays them.
    Pipes {
        stdin: BorrowedFd<'a>,
        stdout: BorrowedFd<'a>,
        stderr: BorrowedFd<'a>,
    },
    /// A pseudo-terminal allocated in the container, its master sent to the
    /// supervisor.
    Pty { size: Option<WindowSize> },
}

/// Everything the entering process needs, prepared by the supervisor
/// before forking.
pub(super) struct Spec<'a> {
    pub pidfd: BorrowedFd<'a>,
    pub channel: BorrowedFd<'a>,
    /// The read end of the supervisor's lifeline pipe.
    pub lifeline: BorrowedFd<'a>,
    pub facts: &'a Facts,
    pub user: &'a UserSpec,
    pub group_add: &'a [String],
    /// None: the user's login shell.
    pub argv: Option<&'a [String]>,
    pub cwd: Option<&'a str>,
    pub runtime_env: &'a [String],
    pub term: Option<&'a str>,
    pub plan_env: &'a [EnvVar],
    pub io: ChildIo<'a>,
}

/// Why the command could not be started, and the exit code for it (§7).
pub(super) struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// Tells the supervisor why, on `channel`, and exits with the code.
    pub(super) fn report(self, channel: BorrowedFd<'_>) -> ! {
        // If the supervisor is gone there is no one left to tell.
        let _ = Message::Failed {
            code: self.code,
            text: self.message,
        }
        .send(channel);
        system::exit_now(self.code)
    }

    /// A failure to enter (125), `why` in words.
    pub(super) fn enter(why: String) -> Failure {
        fail(format!("cannot enter the container: {why}"))
    }
}

fn fail(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_FAILURE,
        message: message.into(),
    }
}

fn failed(f: confine::Failed) -> Failure {
    Failure::enter(format!("{}: {}", f.what, f.error))
}

/// Wraps a system call's error into a failure to enter.
pub(super) fn step<T>(what: &str, r: std::io::Result<T>) -> Result<T, Failure> {
    r.map_err(|e| Failure::enter(format!("{what}: {e}")))
}

/// Runs in the entering process after fork; never returns.
pub(super) fn main(spec: &Spec<'_>) -> ! {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| enter(spec)));
    let failure = match outcome {
        Ok(Ok(never)) => match never {},
        Ok(Err(f)) => f,
        Err(_) => fail("cannot enter the container: internal error"),
    };
    failure.report(spec.channel)
}

fn enter(spec: &Spec<'_>) -> Result<Infallible, Failure> {
    let parent = system::getppid();
    step("parent-death signal", system::set_parent_death_kill())?;
    if system::getppid() != parent {
        system::exit_now(EXIT_FAILURE);
    }
    // Still on the host's side, with its mounts and privileges.
    let exe = step("sealing nsgate for the exec stage", seal::exec_stage())?;
    set_up_stdio(&spec.io)?;
    let facts = spec.facts;
    // Limits first: raising a hard limit needs the host's CAP_SYS_RESOURCE,
    // which a user namespace would take away. oom_score_adj through our own
    // /proc, before the container's /proc (which does not know us) is ours.
    for limit in &facts.rlimits {
        step("resource limits", system::set_rlimit(limit))?;
    }
    if let Some(adj) = facts.oom_score_adj {
        step(
            "oom_score_adj",
            std::fs::write("/proc/self/oom_score_adj", adj.to_string()),
        )?;
    }
    // pid included: for a pid namespace setns only sets where our children
    // are born, and the only child we make is the exec stage's.
    let root = facts.root.as_ref().map(|r| r.as_fd());
    confine::join(&mut Real, spec.pidfd, facts.setns_flags(), root).map_err(failed)?;
    let root = step("opening /", system::open_root())?;
    let root = root.as_fd();
    let (creds, tty_gid) = resolve_user(root, spec)?;
    let hostname = step("host name", system::node_name())?;
    let env = env::build(&env::Inputs {
        runtime: spec.runtime_env,
        hostname: Some(&hostname),
        term: spec.term,
        user: &creds,
        plan: spec.plan_env,
    });
    change_dir(root, spec, &creds)?;
    if let ChildIo::Pty { size } = spec.io {
        let terminal = open_terminal(root, spec.channel, &creds, tty_gid, size)?;
        for fd in 0..3 {
            step("terminal", system::dup_onto(terminal.as_fd(), fd))?;
        }
    }
    system::set_umask(0o022);

    // Before the target's seccomp filter, which could refuse these. The
    // supervisor moves us into the target's cgroups meanwhile; the exec
    // stage waits for it to be done before the container sees anything.
    step("signal dispositions", system::reset_signals())?;
    step("closing descriptors", system::cloexec_from(3))?;
    let target = Confinement {
        caps: facts.caps,
        last_cap: facts.last_cap,
        seccomp: &facts.seccomp,
    };
    confine::become_user(&mut Real, &target, &creds).map_err(failed)?;
    // The credentials are final: from here the supervisor's death kills us.
    step("parent-death signal", system::set_parent_death_kill())?;
    if system::getppid() != parent {
        system::exit_now(EXIT_FAILURE);
    }

    let argv: Vec<String> = match spec.argv {
        Some(argv) => argv.to_vec(),
        None => vec![creds.shell.clone().unwrap_or_else(|| "/bin/sh".to_string())],
    };
    Err(exec_stage(spec, exe.as_fd(), argv, env))
}

/// The command's stdin, stdout and stderr: ours, the relay's pipes, or (for
/// a pty, set up later) /dev/null until then.
fn set_up_stdio(io: &ChildIo<'_>) -> Result<(), Failure> {
    match io {
        ChildIo::Direct => {}
        ChildIo::Pipes {
            stdin,
            stdout,
            stderr,
        } => {
            step("stdin", system::dup_onto(stdin, 0))?;
            step("stdout", system::dup_onto(stdout, 1))?;
            step("stderr", system::dup_onto(stderr, 2))?;
        }
        // The client's terminal never goes into the container.
        ChildIo::Pty { .. } => {
            let null = step("/dev/null", system::open_null())?;
            for fd in 0..3 {
                step("/dev/null", system::dup_onto(null.as_fd(), fd))?;
            }
        }
    }
    Ok(())
}

/// The user's credentials from the container's own passwd and group files,
/// and the gid of its `tty` group.
fn resolve_user(
    root: BorrowedFd<'_>,
    spec: &Spec<'_>,
) -> Result<(Credentials, Option<system::Gid>), Failure> {
    let passwd = users::read_file(root, "/etc/passwd").map_err(|e| fail(e.to_string()))?;
    let passwd = passwd
        .map(|p| users::parse_passwd(&p))
        .transpose()
        .map_err(|e| fail(format!("the container's {e}")))?;
    let group = users::read_file(root, "/etc/group").map_err(|e| fail(e.to_string()))?;
    let group = group
        .map(|g| users::parse_group(&g))
        .transpose()
        .map_err(|e| fail(format!("the container's {e}")))?;
    let creds = users::resolve(
        spec.user,
        spec.group_add,
        passwd.as_deref(),
        group.as_deref(),
    )
    .map_err(|e| fail(e.to_string()))?;
    Ok((creds, users::tty_gid(group.as_deref())))
}

/// Execs the exec stage from the sealed copy, with the command's argv and
/// environment, the channel as descriptor 3 and the lifeline as 4.
fn exec_stage(
    spec: &Spec<'_>,
    exe: BorrowedFd<'_>,
    argv: Vec<String>,
    env: Vec<String>,
) -> Failure {
    let mut words = vec![stage::ARGV0.to_string()];
    words.extend(argv);
    let (Ok(c_argv), Ok(c_env)) = (to_cstrings(&words), to_cstrings(&env)) else {
        return fail("an argument or environment variable contains a NUL byte");
    };
    // Copies above the fixed numbers first, so neither dup3 below can close
    // the other's source.
    let moved = system::dup_above(spec.channel, 10).and_then(|channel| {
        let lifeline = system::dup_above(spec.lifeline, 10)?;
        system::dup_to(channel.as_fd(), stage::CHANNEL_FD)?;
        system::dup_to(lifeline.as_fd(), stage::LIFELINE_FD)
    });
    if let Err(e) = moved {
        return Failure::enter(format!("passing the channel: {e}"));
    }
    let e = system::execve_fd(exe, &c_argv, &c_env);
    Failure::enter(format!("executing the exec stage: {e}"))
}

/// Changes into the working directory inside the container: the rule's or
/// target's, else the runtime's, else `/` for a command and the home
/// directory for a shell (falling back to `/` as login does).
fn change_dir(root: BorrowedFd<'_>, spec: &Spec<'_>, creds: &Credentials) -> Result<(), Failure> {
    let (dir, fallback) = match (spec.cwd, spec.argv) {
        (Some(dir), _) => (dir, false),
        (None, Some(_)) => ("/", false),
        (None, None) => (creds.home.as_str(), true),
    };
    if !dir.starts_with('/') {
        return Err(fail(format!(
            "working directory {dir:?} is not an absolute path"
        )));
    }
    match system::open_in_root(root, dir, Access::Directory) {
        Ok(fd) => step("changing directory", system::chdir_to(fd.as_fd())),
        Err(_) if fallback => step("changing directory", system::chdir_to(root)),
        Err(e) => Err(fail(format!(
            "cannot change to working directory {dir} in the container: {e}"
        ))),
    }
}

/// Allocates a pty in the container's devpts, gives it to the user with
/// group `tty` (mode 0620), sends the master to the supervisor and returns
/// the peer.
fn open_terminal(
    root: BorrowedFd<'_>,
    channel: BorrowedFd<'_>,
    creds: &Credentials,
    tty_gid: Option<system::Gid>,
    size: Option<WindowSize>,
) -> Result<OwnedFd, Failure> {
    let master = step(
        "allocating a terminal in the container's /dev/pts",
        system::open_pty_master(root),
    )?;
    let peer = step(
        "opening the terminal",
        system::open_pty_peer(master.as_fd()),
    )?;
    let gid = match tty_gid {
        Some(gid) => gid,
        None => step("terminal", system::file_info(peer.as_fd()))?.gid,
    };
    step(
        "terminal ownership",
        system::chown_chmod(peer.as_fd(), creds.uid, gid, 0o620),
    )?;
    if let Some(size) = size {
        step("terminal size", system::set_window_size(peer.as_fd(), size))?;
    }
    step(
        "passing the terminal",
        Message::Master(master).send(channel),
    )?;
    Ok(peer)
}

/// Looks the program up as execvp would, but in the container and with the
/// environment's PATH, and execs it. Returns why it could not. Runs in the
/// command's own process, already confined (see `stage.rs`).
pub(super) fn exec(root: BorrowedFd<'_>, argv: &[String], env: &[CString], cwd: &str) -> Failure {
    let program = &argv[0];
    let candidates: Vec<String> = if program.starts_with('/') {
        vec![program.clone()]
    } else if program.contains('/') {
        vec![format!("{}/{program}", cwd.trim_end_matches('/'))]
    } else {
        // Empty or relative PATH entries would search the working
        // directory; only absolute ones are searched.
        path_of(env)
            .split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .collect()
    };
    let Ok(c_argv) = to_cstrings(argv) else {
        return fail("an argument contains a NUL byte");
    };
    let not_executable = |e: std::io::Error| Failure {
        code: EXIT_DENIED,
        message: format!("{program}: cannot execute in the container: {e}"),
    };
    let mut denied = None;
    for candidate in &candidates {
        // Checked first, without /proc magic links (a program or a symlink
        // to /proc/self/exe would run nsgate's own binary in the container).
        let fd = match system::open_in_root(root, candidate, Access::Path) {
            Ok(fd) => fd,
            Err(e) if system::is_not_found(&e) => continue,
            Err(e) if system::is_link_refused(&e) => {
                return not_executable(std::io::Error::other(format!(
                    "{candidate} leads through a /proc link or too many symlinks"
                )))
            }
            Err(e) => {
                denied.get_or_insert(e);
                continue;
            }
        };
        // Always the very file just checked, never the path again: a link
        // swapped after the check could send the kernel to /proc/self/exe,
        // nsgate's own binary (the pattern of CVE-2019-5736).
        let e = exec_checked(root, fd.as_fd(), candidate, &c_argv, env);
        let e = match e {
            Ok(e) => e,
            Err(f) => return f,
        };
        if system::is_not_found(&e) {
            continue;
        }
        if system::is_access_denied(&e) {
            denied.get_or_insert(e);
            continue;
        }
        return not_executable(e);
    }
    match denied {
        Some(e) => not_executable(e),
        None => Failure {
            code: EXIT_NOT_FOUND,
            message: format!("{program}: not found in the container"),
        },
    }
}

/// Execs the file `fd` refers to. A `#!` script is run as the kernel runs
/// one, except that its interpreter is opened like a program and exec'd by
/// descriptor too; the interpreter then opens the script by its path, which
/// can at worst name another file of the container, never nsgate.
/// Returns the exec error, or a refusal.
fn exec_checked(
    root: BorrowedFd<'_>,
    fd: BorrowedFd<'_>,
    path: &str,
    argv: &[CString],
    env: &[CString],
) -> Result<std::io::Error, Failure> {
    let e = system::execve_fd(fd, argv, env);
    // ENOENT for a file that exists: a script, whose interpreter cannot
    // open a close-on-exec descriptor (or a missing ELF loader).
    if !system::is_not_found(&e) {
        return Ok(e);
    }
    let Some((interpreter, arg)) = shebang(root, path) else {
        return Ok(e);
    };
    let refused = |why: String| Failure {
        code: EXIT_DENIED,
        message: format!("{path}: cannot execute in the container: {why}"),
    };
    if !interpreter.starts_with('/') {
        return Err(refused(format!(
            "interpreter {interpreter} is not an absolute path"
        )));
    }
    let interpreter_fd = match system::open_in_root(root, &interpreter, Access::Path) {
        Ok(fd) => fd,
        Err(e) if system::is_link_refused(&e) => {
            return Err(refused(format!(
                "interpreter {interpreter} leads through a /proc link"
            )))
        }
        Err(e) => return Ok(e),
    };
    let mut words = vec![interpreter];
    words.extend(arg);
    words.push(path.to_string());
    let Ok(mut script_argv) = to_cstrings(&words) else {
        return Err(fail("a path contains a NUL byte"));
    };
    script_argv.extend(argv.iter().skip(1).cloned());
    Ok(system::execve_fd(interpreter_fd.as_fd(), &script_argv, env))
}

/// The interpreter and its one optional argument from a `#!` line, split as
/// the kernel splits it.
fn shebang(root: BorrowedFd<'_>, path: &str) -> Option<(String, Option<String>)> {
    let fd = system::open_in_root(root, path, Access::Read).ok()?;
    let mut head = [0u8; 256];
    let n = std::io::Read::read(&mut std::fs::File::from(fd), &mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_matches([' ', '\t']);
    let (interpreter, arg) = match line.split_once([' ', '\t']) {
        Some((i, a)) => (
            i,
            Some(a.trim_matches([' ', '\t']).to_string()).filter(|a| !a.is_empty()),
        ),
        None => (line, None),
    };
    (!interpreter.is_empty()).then(|| (interpreter.to_string(), arg))
}

/// The value of `PATH` in an environment.
fn path_of(env: &[CString]) -> &str {
    env.iter()
        .find_map(|e| e.to_str().ok()?.strip_prefix("PATH="))
        .unwrap_or("")
}

fn to_cstrings(strings: &[String]) -> Result<Vec<CString>, std::ffi::NulError> {
    strings.iter().map(|s| CString::new(s.as_str())).collect()
}
