//! The child that becomes the command. It is forked by the supervisor (into
//! the target's pid namespace when that is entered), enters, waits until
//! the supervisor has moved it into the target's cgroups, then confines
//! itself and execs. Any failure is sent to the supervisor as one message and
//! the child exits; it never returns into the supervisor's code.
#![forbid(unsafe_code)]

use super::env;
use super::facts::Facts;
use super::users::{self, Credentials};
use super::Msg;
use crate::config::{EnvVar, UserSpec};
use crate::error::{EXIT_DENIED, EXIT_FAILURE, EXIT_NOT_FOUND};
use crate::system::{self, Access, CapSets, WindowSize};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// How the command's stdin, stdout and stderr are set up.
pub enum ChildIo<'a> {
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

/// Everything the child needs, prepared by the supervisor before forking.
pub struct Spec<'a> {
    pub pidfd: BorrowedFd<'a>,
    pub channel: BorrowedFd<'a>,
    pub facts: &'a Facts,
    pub user: &'a UserSpec,
    pub group_add: &'a [String],
    /// None: the user's login shell.
    pub argv: Option<&'a [String]>,
    pub cwd: Option<&'a str>,
    pub runtime_env: &'a [String],
    pub hostname: Option<&'a str>,
    pub term: Option<&'a str>,
    pub plan_env: &'a [EnvVar],
    pub io: ChildIo<'a>,
}

/// Why the command could not be started, and the exit code for it (§7).
pub struct Failure {
    pub code: i32,
    pub message: String,
}

fn fail(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_FAILURE,
        message: message.into(),
    }
}

/// Wraps a system call's error into a failure to enter.
fn step<T>(what: &str, r: std::io::Result<T>) -> Result<T, Failure> {
    r.map_err(|e| fail(format!("cannot enter the container: {what}: {e}")))
}

/// Runs in the child after fork; never returns.
pub fn main(spec: &Spec<'_>) -> ! {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| enter_and_exec(spec)));
    let failure = match outcome {
        Ok(Ok(never)) => match never {},
        Ok(Err(f)) => f,
        Err(_) => fail("cannot enter the container: internal error"),
    };
    let mut msg = vec![Msg::FAILED, failure.code as u8];
    let text = failure.message.as_bytes();
    msg.extend_from_slice(&text[..text.len().min(super::MAX_MESSAGE)]);
    // If the supervisor is gone there is no one left to tell.
    let _ = system::channel_send(spec.channel, &msg, None);
    system::exit_now(failure.code)
}

fn enter_and_exec(spec: &Spec<'_>) -> Result<Infallible, Failure> {
    // 0 when we were born into the target's pid namespace.
    let parent = system::getppid();
    step("parent-death signal", system::set_parent_death_kill())?;
    match spec.io {
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
    let facts = spec.facts;
    // Limits first: raising a hard limit needs the host's CAP_SYS_RESOURCE,
    // which a user namespace would take away.
    for limit in &facts.rlimits {
        step("resource limits", system::set_rlimit(limit))?;
    }
    if let Some(adj) = facts.oom_score_adj {
        step(
            "oom_score_adj",
            std::fs::write("/proc/self/oom_score_adj", adj.to_string()),
        )?;
    }
    let flags = facts.setns_flags();
    if flags != 0 {
        step("joining namespaces", system::setns(spec.pidfd, flags))?;
    }
    if let Some(root) = &facts.root {
        step(
            "entering the root directory",
            system::chroot_to(root.as_fd()),
        )?;
    }
    let root = step("opening /", system::open_root())?;
    let root = root.as_fd();

    let passwd = users::read_file(root, "/etc/passwd").map_err(fail)?;
    let passwd = passwd
        .map(|p| users::parse_passwd(&p))
        .transpose()
        .map_err(|e| fail(format!("the container's {e}")))?;
    let group = users::read_file(root, "/etc/group").map_err(fail)?;
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
    .map_err(fail)?;

    let hostname = spec.hostname.map(str::to_string).or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim_end().to_string())
    });
    let env = env::build(&env::Inputs {
        runtime: spec.runtime_env,
        hostname: hostname.as_deref(),
        term: spec.term,
        user: &creds,
        plan: spec.plan_env,
    });
    let cwd = change_dir(root, spec, &creds)?;

    let terminal = match spec.io {
        ChildIo::Pty { size } => Some(open_terminal(
            root,
            spec.channel,
            &creds,
            users::tty_gid(group.as_deref()),
            size,
        )?),
        _ => None,
    };
    step("new session", system::setsid())?;
    if let Some(terminal) = terminal {
        step(
            "controlling terminal",
            system::set_controlling_terminal(terminal.as_fd()),
        )?;
        for fd in 0..3 {
            step("terminal", system::dup_onto(terminal.as_fd(), fd))?;
        }
    }
    system::set_umask(0o022);

    // The supervisor moves us into the target's cgroups meanwhile (runc's
    // order too); nothing of the container runs before that is done.
    let mut go = [0u8; 8];
    match system::channel_recv(spec.channel, &mut go) {
        Ok((1, _)) if go[0] == Msg::GO => {}
        _ => system::exit_now(EXIT_FAILURE),
    }
    // Before the target's seccomp filter, which could refuse these.
    step("signal dispositions", system::reset_signals())?;
    step("closing descriptors", system::cloexec_from(3))?;
    become_user(facts, &creds)?;

    // The credentials are final: from here the supervisor's death kills us,
    // and if it died before, our parent has changed.
    step("parent-death signal", system::set_parent_death_kill())?;
    if system::getppid() != parent {
        system::exit_now(EXIT_FAILURE);
    }

    let argv: Vec<String> = match spec.argv {
        Some(argv) => argv.to_vec(),
        None => vec![creds.shell.clone().unwrap_or_else(|| "/bin/sh".to_string())],
    };
    Err(exec(root, &argv, &env, &cwd))
}

/// Changes into the working directory inside the container: the rule's or
/// target's, else the runtime's, else `/` for a command and the home
/// directory for a shell (falling back to `/` as login does). Returns it.
fn change_dir(
    root: BorrowedFd<'_>,
    spec: &Spec<'_>,
    creds: &Credentials,
) -> Result<String, Failure> {
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
        Ok(fd) => {
            step("changing directory", system::chdir_to(fd.as_fd()))?;
            Ok(dir.to_string())
        }
        Err(_) if fallback => {
            step("changing directory", system::chdir_to(root))?;
            Ok("/".to_string())
        }
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
    tty_gid: Option<u32>,
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
        None => {
            let file = std::fs::File::from(step("terminal", peer.try_clone())?);
            let meta = step("terminal", file.metadata())?;
            std::os::unix::fs::MetadataExt::gid(&meta)
        }
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
        system::channel_send(channel, &[Msg::MASTER], Some(master.as_fd())),
    )?;
    Ok(peer)
}

/// Capabilities, no_new_privs, seccomp, groups, gid, uid — in the order that keeps
/// the privilege to make each change until it is made.
fn become_user(facts: &Facts, creds: &Credentials) -> Result<(), Failure> {
    let target = facts.caps;
    let is_root = creds.uid == 0;
    // Root keeps no more than the target's init has (§5); anyone else gets
    // only the bounding set, as under docker exec.
    let bounding = if is_root {
        target.bounding & target.permitted
    } else {
        target.bounding
    };
    for cap in 0..=facts.last_cap.min(63) {
        if bounding & (1u64 << cap) == 0 {
            step("capability bounding set", system::drop_bounding(cap))?;
        }
    }
    if target.no_new_privs {
        step("no_new_privs", system::set_no_new_privs())?;
    }
    // While still privileged, as runc does: without no_new_privs, installing
    // a filter needs CAP_SYS_ADMIN. What follows must pass the filter too.
    for filter in &facts.seccomp {
        step(
            "the container's seccomp filter",
            system::install_filter(filter),
        )?;
    }
    step("supplementary groups", system::set_groups(&creds.groups))?;
    step("gid", system::set_gids(creds.gid))?;
    step("uid", system::set_uids(creds.uid))?;
    let sets = if is_root {
        CapSets {
            permitted: bounding,
            effective: bounding,
            inheritable: target.inheritable & bounding,
        }
    } else {
        CapSets::default()
    };
    step("capabilities", system::set_caps(sets))?;
    step("ambient capabilities", system::clear_ambient())?;
    Ok(())
}

/// Looks the program up as execvp would, but in the container and with the
/// built environment's PATH, and execs it. Returns why it could not.
fn exec(root: BorrowedFd<'_>, argv: &[String], env: &[String], cwd: &str) -> Failure {
    let program = &argv[0];
    let candidates: Vec<String> = if program.starts_with('/') {
        vec![program.clone()]
    } else if program.contains('/') {
        vec![format!("{}/{program}", cwd.trim_end_matches('/'))]
    } else {
        // Empty or relative PATH entries would search the working
        // directory; only absolute ones are searched.
        env::path_of(env)
            .split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .collect()
    };
    let (Ok(c_argv), Ok(c_env)) = (to_cstrings(argv), to_cstrings(env)) else {
        return fail("an argument or environment variable contains a NUL byte");
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
        let e = exec_checked(root, fd.as_fd(), candidate, &c_argv, &c_env);
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

fn to_cstrings(strings: &[String]) -> Result<Vec<CString>, std::ffi::NulError> {
    strings.iter().map(|s| CString::new(s.as_str())).collect()
}
