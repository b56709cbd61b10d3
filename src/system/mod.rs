//! All unsafe code and libc calls of nsgate, wrapped into safe functions that
//! return `io::Result`. Nothing outside this module uses `unsafe`.

mod ids;
mod pidfd;
mod random;

pub(crate) use ids::{Gid, Pid, Uid};
pub(crate) use pidfd::pidfd_open;
pub(crate) use random::getrandom;

// Target resolution (nsgate.conf(5), "Targets"): runtime sockets, pid files,
// liveness via pidfd.
mod open;
mod pidfd_signal;
mod unix_connect;

pub(crate) use open::open_nofollow_nonblocking;
pub(crate) use pidfd_signal::{is_no_such_process, pidfd_send_signal};
pub(crate) use unix_connect::connect_unix;

// Entering the target and supervising the command (nsgate(8) ENTERING THE
// CONTAINER).
mod channel;
mod creds;
mod exe;
mod files;
mod poll;
mod process;
mod seccomp;
mod signals;
mod term;

pub(crate) use channel::{channel_pair, channel_recv, channel_send};
pub(crate) use creds::{
    clear_ambient, drop_bounding, last_cap, set_caps, set_gids, set_groups, set_rlimit, set_uids,
    CapSets, Rlimit, RLIMIT_ROWS,
};
pub(crate) use exe::{
    clone_parent_from_exec_stage, dup_above, dup_to, inherited_fd, node_name, sealed_copy_of,
    sealed_view_of, Cloned,
};
pub(crate) use files::{
    chdir_to, chown_chmod, chroot_to, create_file_at, dup_onto, file_info, identity_at,
    make_dir_at, open_dir_at, open_dir_nofollow, open_dir_path_at, open_file_at, open_in_root,
    open_null, open_proc_dir, open_root, pipe, read_at, read_fd, remove_at, rename_at,
    set_nonblocking, set_pipe_size, std_fd, try_lock, would_block, write_fd, Access, Locked,
};
pub(crate) use poll::{poll, Interest, Ready};
pub(crate) use process::{
    cloexec_from, default_sigpipe, execve_fd, exit_now, fork_single_threaded, getpid, getppid,
    is_access_denied, is_link_refused, is_not_found, is_tty, ns_flag, reset_signals, set_dumpable,
    set_no_new_privs, set_parent_death_kill, set_umask, setns, setsid, signal_name, try_wait, wait,
    Exit, Forked, NAMESPACES, SIGCONT, SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGSTOP, SIGTERM, SIGUSR1,
    SIGUSR2, SIGWINCH,
};
pub(crate) use seccomp::{
    copy_filters, install_filter, BpfProgram, INSN_BYTES, MAX_FILTERS, MAX_INSNS,
};
pub(crate) use signals::Signals;
pub(crate) use term::{
    open_pty_master, open_pty_peer, set_controlling_terminal, set_window_size, window_size,
    RawMode, WindowSize,
};
