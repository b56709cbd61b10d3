//! The command's process tree, for ending it without leaving anything
//! behind: its session, its process group and every descendant, each held by
//! a pidfd so that a pid reused meanwhile is never signalled.
//!
//! Ending stops the whole tree first (SIGSTOP), looking again until no new
//! process appears, and only then sends the signal (and SIGCONT): a stopped
//! process cannot fork, and no child is orphaned (and so lost to the
//! container's init) before it has been found.
#![forbid(unsafe_code)]

use crate::system;
use std::os::fd::{AsFd, OwnedFd};

/// How often to look again for processes forked while stopping the tree.
const MAX_ROUNDS: usize = 50;

pub struct Tree {
    /// The command's pid (host view): the id of its session and group.
    sid: i32,
    known: Vec<Member>,
}

struct Member {
    pid: i32,
    pidfd: OwnedFd,
}

impl Tree {
    pub fn new(sid: i32) -> Tree {
        Tree {
            sid,
            known: Vec::new(),
        }
    }

    /// Stops every process of the tree, then sends `signal` to all of them
    /// (and SIGCONT, so a stopped process acts on it).
    pub fn end(&mut self, signal: i32) {
        for _ in 0..MAX_ROUNDS {
            let new = self.collect();
            self.signal_all(system::SIGSTOP);
            if new == self.known.len() {
                break;
            }
        }
        self.signal_all(signal);
        if signal != system::SIGKILL {
            self.signal_all(system::SIGCONT);
        }
    }

    /// Sends `signal` to processes that joined the tree since the last look.
    pub fn follow(&mut self, signal: i32) {
        let new = self.collect();
        for m in &self.known[new..] {
            let _ = system::pidfd_send_signal(m.pidfd.as_fd(), signal);
        }
    }

    /// Whether a process of the tree is still running. Zombies do not count:
    /// a container init that never reaps must not keep nsgate waiting.
    pub fn any_alive(&mut self) -> bool {
        self.collect();
        !self.known.is_empty()
    }

    fn signal_all(&self, signal: i32) {
        for m in &self.known {
            let _ = system::pidfd_send_signal(m.pidfd.as_fd(), signal);
        }
    }

    /// Forgets processes that have ended, then adds those of the session or
    /// group and the children of known ones, until nothing new turns up.
    /// Returns the index of the first one added.
    fn collect(&mut self) -> usize {
        self.known.retain(|m| {
            system::pidfd_send_signal(m.pidfd.as_fd(), 0).is_ok()
                && Stat::read(m.pid).is_some_and(|s| !s.zombie)
        });
        let first_new = self.known.len();
        loop {
            let before = self.known.len();
            let Ok(entries) = std::fs::read_dir("/proc") else {
                return first_new;
            };
            for pid in entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            {
                if self.known.iter().any(|m| m.pid == pid) {
                    continue;
                }
                if !Stat::read(pid).is_some_and(|s| self.belongs(&s)) {
                    continue;
                }
                // Pinned, then checked again: now it cannot be another process.
                let Ok(pidfd) = system::pidfd_open(pid) else {
                    continue;
                };
                if Stat::read(pid).is_some_and(|s| self.belongs(&s)) {
                    self.known.push(Member { pid, pidfd });
                }
            }
            if self.known.len() == before {
                return first_new;
            }
        }
    }

    fn belongs(&self, s: &Stat) -> bool {
        !s.zombie
            && (s.pid == self.sid
                || s.session == self.sid
                || s.pgrp == self.sid
                || self.known.iter().any(|m| m.pid == s.ppid))
    }
}

/// The fields of /proc/PID/stat we need (pids as the host sees them).
struct Stat {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    session: i32,
    zombie: bool,
}

impl Stat {
    fn read(pid: i32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may contain anything.
        let rest = text.get(text.rfind(')')? + 2..)?;
        let mut f = rest.split(' ');
        let state = f.next()?;
        Some(Stat {
            pid,
            ppid: f.next()?.parse().ok()?,
            pgrp: f.next()?.parse().ok()?,
            session: f.next()?.parse().ok()?,
            zombie: state == "Z" || state == "X",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat() {
        let me = Stat::read(system::getpid()).unwrap();
        assert_eq!(me.pid, system::getpid());
        assert!(!me.zombie);
        assert!(Stat::read(-1).is_none());
    }

    #[test]
    fn ends_a_tree_that_escapes_its_session() {
        // sh starts a child that leaves the session; ending the tree must
        // still reach it.
        let mut child = std::process::Command::new("setsid")
            .args(["-w", "sh", "-c", "setsid sleep 1000 & sleep 1000"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let sid = child.id() as i32;
        let mut tree = Tree::new(sid);
        assert!(tree.any_alive());
        let pids: Vec<i32> = tree.known.iter().map(|m| m.pid).collect();
        assert!(pids.len() >= 3, "{pids:?}");
        tree.end(system::SIGKILL);
        child.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        for pid in pids {
            assert!(Stat::read(pid).is_none_or(|s| s.zombie), "{pid} survived");
        }
    }
}
