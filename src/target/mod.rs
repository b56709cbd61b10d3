//! Finding the target container's init process (§3.1) and pinning it with a
//! pidfd (§5) so a reused pid is never entered.
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;

/// What the runtime says about the container, where it says it (Docker's
/// `Config` and `HostConfig`); empty for pidfile, containerd and nspawn targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// The full container id, for the audit record.
    pub container_id: Option<String>,
    /// `Config.User`: `name`, `uid`, `name:group` or `uid:gid`.
    pub user: Option<String>,
    /// `Config.Env`, `NAME=VALUE` each.
    pub env: Vec<String>,
    /// `Config.WorkingDir`.
    pub working_dir: Option<String>,
    /// `Config.Hostname`, for `HOSTNAME` as docker exec sets it.
    pub hostname: Option<String>,
    /// `HostConfig.GroupAdd`: names or numbers.
    pub group_add: Vec<String>,
}

/// The target's init process, pinned: `pidfd` refers to the very process
/// the runtime named, verified after opening.
#[derive(Debug)]
pub struct Pinned {
    pub pidfd: OwnedFd,
    /// The pid in nsgate's (the host's) pid namespace.
    pub pid: i32,
    pub runtime: RuntimeConfig,
}
