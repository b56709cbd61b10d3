//! The session's processes: every process in the session's cgroup, where
//! each of them was born. A member is signalled only through a pidfd opened
//! before the kernel confirmed it a member, so a pid reused meanwhile, by a
//! host process or any other, is never signalled.
//!
//! Ending freezes the cgroup first (cgroup v2), so the list of members is
//! whole and nobody forks while it is read; the final SIGKILL is one write
//! to cgroup.kill. Where the hierarchy has neither (v1), the members are
//! stopped (SIGSTOP) and looked at again until no new one appears.
#![forbid(unsafe_code)]

use crate::enter::SessionCgroup;
use crate::system::{self, Pid};
use std::collections::HashSet;
use std::os::fd::{AsFd, OwnedFd};

/// How often to look again for processes forked while stopping them.
const MAX_ROUNDS: usize = 50;

pub(super) struct Tree {
    cgroup: SessionCgroup,
    /// Every process nsgate signalled to end it, by pid.
    ended: HashSet<Pid>,
}

impl Tree {
    pub(super) fn new(cgroup: SessionCgroup) -> Tree {
        Tree {
            cgroup,
            ended: HashSet::new(),
        }
    }

    /// A pidfd for `pid` if it is our own child: the command's process the
    /// exec stage reports. We have no other child but the entering process
    /// (`not`), so nothing else can pass.
    pub(super) fn own_child(pid: Pid, not: Pid) -> Option<OwnedFd> {
        let pidfd = system::pidfd_open(pid).ok()?;
        // Checked after pinning: a child of ours cannot be reaped by anyone
        // else, so the pid is still the pidfd's process.
        let ours = crate::resolve::proc_stat(pid).is_ok_and(|s| s.ppid == Some(system::getpid()));
        (ours && pid != not).then_some(pidfd)
    }

    /// Ends every process of the session with `signal`.
    pub(super) fn end(&mut self, signal: i32) {
        if signal == system::SIGKILL {
            // Counted first: the kill leaves nothing to count.
            let members = self.members();
            self.count(&members);
            if self.cgroup.kill() {
                return;
            }
        }
        if self.cgroup.freeze(true) {
            let members = self.members();
            self.signal_all(&members, signal);
            self.cgroup.freeze(false);
            return;
        }
        let mut members = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let before = members.len();
            for m in self.members() {
                if !members.iter().any(|k: &Member| k.pid == m.pid) {
                    members.push(m);
                }
            }
            self.signal_all(&members, system::SIGSTOP);
            if members.len() == before {
                break;
            }
        }
        self.signal_all(&members, signal);
        if signal != system::SIGKILL {
            self.signal_all(&members, system::SIGCONT);
        }
    }

    /// Sends `signal` to members not yet signalled.
    pub(super) fn follow(&mut self, signal: i32) {
        let new: Vec<Member> = self
            .members()
            .into_iter()
            .filter(|m| !self.ended.contains(&m.pid))
            .collect();
        self.signal_all(&new, signal);
    }

    /// Whether a process of the session still runs (zombies are not in
    /// a cgroup); None if the cgroup cannot be read.
    pub(super) fn any_alive(&self) -> Option<bool> {
        self.cgroup.populated().ok()
    }

    pub(super) fn count_alive(&self) -> usize {
        self.cgroup.members().map_or(0, |m| m.len())
    }

    /// How many processes nsgate ended.
    pub(super) fn ended(&self) -> usize {
        self.ended.len()
    }

    /// Lets what is left run on as processes of the container.
    pub(super) fn release(&self) {
        // If they cannot be moved they stay, and so does the session's cgroup.
        let _ = self.cgroup.release();
    }

    fn count(&mut self, members: &[Member]) {
        self.ended.extend(members.iter().map(|m| m.pid));
    }

    fn signal_all(&mut self, members: &[Member], signal: i32) {
        if signal != system::SIGSTOP && signal != system::SIGCONT {
            self.count(members);
        }
        for m in members {
            let _ = system::pidfd_send_signal(m.pidfd.as_fd(), signal);
        }
    }

    /// The members now, each pinned by a pidfd, then confirmed in the
    /// session.
    fn members(&self) -> Vec<Member> {
        let pids = self.cgroup.members().unwrap_or_default();
        pids.into_iter()
            .filter_map(|pid| {
                let pidfd = system::pidfd_open(pid).ok()?;
                self.cgroup.holds(pid).then_some(Member { pid, pidfd })
            })
            .collect()
    }
}

struct Member {
    pid: Pid,
    pidfd: OwnedFd,
}
