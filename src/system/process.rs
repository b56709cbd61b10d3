//! Processes: fork, namespaces, exec, wait and signals for the command nsgate
//! supervises, and the per-process settings (prctl, umask, session) made
//! before exec.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use super::Pid;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus};

/// Which side of a fork we are on.
pub(crate) enum Forked {
    Child,
    /// The child's pid in our (the host's) pid namespace.
    Parent(Pid),
}

/// Forks.
///
/// # Safety
///
/// The caller must be the process's only thread: the child has only the
/// calling thread, and a lock another thread held at the fork (in malloc,
/// stdio, std's environment) would stay locked in it forever. The child must
/// end in [`execve_fd`] or [`exit_now`] and never return into the caller's
/// frames. [`fork_single_threaded`] checks the first at run time.
pub(super) unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: the caller promises one thread and a child that only runs
    // nsgate code until exec or _exit, as nix's fork requires.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
        nix::unistd::ForkResult::Parent { child } => {
            Ok(Forked::Parent(Pid::from_kernel(child.as_raw())))
        }
    }
}

/// [`fork`], refused unless the calling process has one thread. The child
/// must end in [`execve_fd`] or [`exit_now`] and never return into the
/// caller's frames.
pub(crate) fn fork_single_threaded() -> io::Result<Forked> {
    check_single_threaded()?;
    // SAFETY: checked just above that we are the only thread, and no thread
    // of ours can be born in between; the caller's child only execs or exits.
    unsafe { fork() }
}

/// Whether we are the process's only thread, asked of the kernel itself
/// rather than of /proc: unshare(2) with CLONE_THREAD has no effect in a
/// single-threaded process and fails with EINVAL in any other.
fn check_single_threaded() -> io::Result<()> {
    match nix::sched::unshare(nix::sched::CloneFlags::CLONE_THREAD) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL) => Err(io::Error::other(
            "nsgate has more than one thread, and a forked copy of it could deadlock",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Ends the process at once: no destructors, no atexit handlers, no flushing
/// of buffers copied from the parent.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes its status by value and never returns.
    unsafe { libc::_exit(code) }
}

/// A namespace type: its name in nsgate.conf(5) and `/proc/PID/ns`, and the
/// `CLONE_NEW*` flag that joins it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NsKind {
    pub name: &'static str,
    pub flag: i32,
}

/// Every namespace type nsgate knows, in the order it names them (config
/// errors, `--explain`, the audit record). The order is not the order of
/// joining: one setns(2) call joins them all, and the kernel takes the user
/// namespace first.
pub(crate) const NAMESPACES: [NsKind; 8] = [
    NsKind {
        name: "mnt",
        flag: libc::CLONE_NEWNS,
    },
    NsKind {
        name: "uts",
        flag: libc::CLONE_NEWUTS,
    },
    NsKind {
        name: "ipc",
        flag: libc::CLONE_NEWIPC,
    },
    NsKind {
        name: "net",
        flag: libc::CLONE_NEWNET,
    },
    NsKind {
        name: "pid",
        flag: libc::CLONE_NEWPID,
    },
    NsKind {
        name: "cgroup",
        flag: libc::CLONE_NEWCGROUP,
    },
    NsKind {
        name: "time",
        flag: libc::CLONE_NEWTIME,
    },
    NsKind {
        name: "user",
        flag: libc::CLONE_NEWUSER,
    },
];

/// The `CLONE_NEW*` flag of a namespace type named as in nsgate.conf(5),
/// "Namespace lists".
pub(crate) fn ns_flag(name: &str) -> Option<i32> {
    NAMESPACES.iter().find(|k| k.name == name).map(|k| k.flag)
}

/// `setns(2)`: with a pidfd and several flags, joins all those namespaces of
/// that process at once, the user namespace first as the kernel requires.
pub(crate) fn setns(fd: BorrowedFd<'_>, flags: i32) -> io::Result<()> {
    // SAFETY: setns takes a descriptor we borrow and flags, both by value.
    let ret = unsafe { libc::setns(fd.as_raw_fd(), flags) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How a process ended; in exit records also how a command that never
/// started ended (nsgate's own 125–127).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Exited(i32),
    Signaled(i32),
}

/// As exit records write it (nsgate(8) AUDIT): `status=N`, or `signal=NAME`
/// (`SIGTERM`), a number for a signal without a name (real-time signals).
impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Exit::Exited(n) => write!(f, "status={n}"),
            Exit::Signaled(n) => match signal_full_name(n) {
                Some(name) => write!(f, "signal={name}"),
                None => write!(f, "signal={n}"),
            },
        }
    }
}

/// Reaps our child `pidfd` if it has ended, without blocking.
pub(crate) fn try_wait(pidfd: BorrowedFd<'_>) -> io::Result<Option<Exit>> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG;
    Ok(match nix::sys::wait::waitid(Id::PIDFd(pidfd), flags)? {
        WaitStatus::Exited(_, code) => Some(Exit::Exited(code)),
        WaitStatus::Signaled(_, signal, _) => Some(Exit::Signaled(signal as i32)),
        _ => None,
    })
}

/// Reaps our child `pidfd`, waiting for it to end.
pub(crate) fn wait(pidfd: BorrowedFd<'_>) -> io::Result<Exit> {
    loop {
        match nix::sys::wait::waitid(Id::PIDFd(pidfd), WaitPidFlag::WEXITED) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Exit::Exited(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(Exit::Signaled(signal as i32)),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

pub(crate) const SIGHUP: i32 = libc::SIGHUP;
pub(crate) const SIGINT: i32 = libc::SIGINT;
pub(crate) const SIGQUIT: i32 = libc::SIGQUIT;
pub(crate) const SIGTERM: i32 = libc::SIGTERM;
pub(crate) const SIGKILL: i32 = libc::SIGKILL;
pub(crate) const SIGSTOP: i32 = libc::SIGSTOP;
pub(crate) const SIGCONT: i32 = libc::SIGCONT;
pub(crate) const SIGUSR1: i32 = libc::SIGUSR1;
pub(crate) const SIGUSR2: i32 = libc::SIGUSR2;
pub(crate) const SIGWINCH: i32 = libc::SIGWINCH;

/// The name of a signal (`SIGTERM`), as audit records show it; None for
/// one without a name (real-time signals).
fn signal_full_name(signal: i32) -> Option<&'static str> {
    nix::sys::signal::Signal::try_from(signal)
        .ok()
        .map(|s| s.as_str())
}

/// The name of a signal without `SIG` (`TERM`), or its number when it has
/// no name, for messages.
pub(crate) fn signal_name(signal: i32) -> String {
    match signal_full_name(signal) {
        Some(name) => name.trim_start_matches("SIG").to_string(),
        None => signal.to_string(),
    }
}

/// Marks the process non-dumpable (or dumpable again): no core dumps, and
/// no ptrace or /proc access by processes of the same uid.
pub(crate) fn set_dumpable(dumpable: bool) -> io::Result<()> {
    Ok(nix::sys::prctl::set_dumpable(dumpable)?)
}

/// Has the kernel send SIGKILL to us when our parent dies.
pub(crate) fn set_parent_death_kill() -> io::Result<()> {
    Ok(nix::sys::prctl::set_pdeathsig(
        nix::sys::signal::Signal::SIGKILL,
    )?)
}

pub(crate) fn set_no_new_privs() -> io::Result<()> {
    Ok(nix::sys::prctl::set_no_new_privs()?)
}

/// Our parent's pid; `None` if the parent is not in our pid namespace.
pub(crate) fn getppid() -> Option<Pid> {
    Pid::new(nix::unistd::getppid().as_raw())
}

pub(crate) fn getpid() -> Pid {
    Pid::from_kernel(nix::unistd::getpid().as_raw())
}

/// Makes us the leader of a new session and process group.
pub(crate) fn setsid() -> io::Result<()> {
    nix::unistd::setsid()?;
    Ok(())
}

pub(crate) fn set_umask(mask: u32) {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
}

/// Marks every descriptor from `first` up close-on-exec, so exec leaves
/// only those below (0, 1, 2) while descriptors we still need before exec
/// (the status channel) stay usable until then.
pub(crate) fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on our
    // own descriptors; it takes its arguments by value.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// SIGPIPE back to its default disposition: the Rust runtime ignores it at
/// start, and an ignored signal stays ignored across exec.
pub(crate) fn default_sigpipe() -> io::Result<()> {
    // SAFETY: SIG_DFL installs no handler; the signal number is by value.
    if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Every signal back to its default disposition, SIGPIPE included, and an
/// empty signal mask: what a freshly exec'd program expects.
pub(crate) fn reset_signals() -> io::Result<()> {
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL installs no handler; the signal number is by value.
        let old = unsafe { libc::signal(signal, libc::SIG_DFL) };
        if old == libc::SIG_ERR {
            let e = io::Error::last_os_error();
            // glibc reserves two real-time signals for itself and refuses them.
            if e.raw_os_error() == Some(libc::EINVAL) {
                continue;
            }
            return Err(e);
        }
    }
    let empty = nix::sys::signal::SigSet::empty();
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&empty),
        None,
    )?;
    Ok(())
}

/// `execveat(fd, "", ..., AT_EMPTY_PATH)`: runs the very file `fd` refers to,
/// with no second path lookup; returns only on failure.
pub(crate) fn execve_fd(fd: BorrowedFd<'_>, argv: &[CString], env: &[CString]) -> io::Error {
    let argv_p: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let env_p: Vec<*const libc::c_char> = env
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: both arrays are null-terminated and point into CStrings that
    // outlive the call; the path is an empty C string; fd is borrowed.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv_p.as_ptr(),
            env_p.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

/// Whether exec failed because the file does not exist (127) rather than
/// because it cannot be executed (126).
pub(crate) fn is_not_found(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

/// Whether `e` is EACCES.
pub(crate) fn is_access_denied(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EACCES)
}

/// Whether `e` is ELOOP: too many links, or a /proc magic link refused.
pub(crate) fn is_link_refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::EXDEV)
}

/// Whether the descriptor is a terminal.
pub(crate) fn is_tty(fd: impl AsFd) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_namespace_name_has_a_flag() {
        for name in crate::config::NS_NAMES {
            assert!(ns_flag(name).is_some(), "{name}");
        }
        assert_eq!(ns_flag("bogus"), None);
    }

    #[test]
    fn namespace_table_has_one_row_per_name_and_flag() {
        for (i, kind) in NAMESPACES.iter().enumerate() {
            assert_eq!(kind.flag.count_ones(), 1, "{}", kind.name);
            for other in &NAMESPACES[..i] {
                assert_ne!(kind.name, other.name);
                assert_ne!(kind.flag, other.flag, "{} and {}", kind.name, other.name);
            }
        }
        let mut all = 0;
        for kind in NAMESPACES {
            all |= kind.flag;
        }
        let every = libc::CLONE_NEWNS
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWCGROUP
            | libc::CLONE_NEWTIME
            | libc::CLONE_NEWUSER;
        assert_eq!(all, every);
        assert_eq!(ns_flag("mnt"), Some(libc::CLONE_NEWNS));
        let names: Vec<&str> = NAMESPACES.iter().map(|k| k.name).collect();
        assert_eq!(names, crate::config::NS_NAMES);
    }

    /// The test harness runs each test in a thread of its own: never a
    /// process that may fork.
    #[test]
    fn fork_is_refused_with_more_than_one_thread() {
        let e = check_single_threaded().expect_err("the harness passed for one thread");
        assert!(e.to_string().contains("more than one thread"), "{e}");
        assert!(fork_single_threaded().is_err());
    }

    #[test]
    fn signal_names_lose_their_prefix() {
        assert_eq!(signal_name(SIGTERM), "TERM");
        assert_eq!(signal_name(SIGKILL), "KILL");
    }
}
