//! Finding the target container's init process (nsgate.conf(5), "Targets") and
//! pinning it with a pidfd (nsgate(8), "Pinning the target") so a reused pid is
//! never entered.
//!
//! Pinning: learn the pid from the runtime, read the process's start time,
//! open a pidfd, read the start time again (same process all along), ask the
//! runtime again (it still names this pid), and finally check through the
//! pidfd that the process is alive. A process alive at the end held its pid
//! throughout, so the pidfd is the runtime's process, not a successor.
#![forbid(unsafe_code)]

mod engine;
mod files;
mod http;
mod stat;
mod why;

pub(crate) use stat::{gone_since, proc_stat, start_time};

use crate::config::{Target, TargetKind};
use crate::error::{Error, Result};
use crate::system::{self, Pid};
use engine::Engine;
use files::PidSource;
use stat::StatError;
use std::os::fd::{AsFd, OwnedFd};
use why::{Pinning, Why};

/// What the runtime says about the container, where it says it (Docker's
/// `Config` and `HostConfig`); empty for pidfile, containerd and nspawn
/// targets, except `container_id` for containerd (the task id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RuntimeConfig {
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
pub(crate) struct Pinned {
    pub pidfd: OwnedFd,
    /// The pid in nsgate's (the host's) pid namespace.
    pub pid: Pid,
    pub runtime: RuntimeConfig,
}

/// Asks the target's runtime for its init process and pins it.
/// Every failure is `Error::Target` with a message for the admin (exit 125).
pub(crate) fn resolve_and_pin(target: &Target) -> Result<Pinned> {
    resolve(&target.kind).map_err(|why| Error::Target {
        target: target.name.clone(),
        why: why.to_string(),
    })
}

fn resolve(kind: &TargetKind) -> std::result::Result<Pinned, Why> {
    match kind {
        TargetKind::Docker { container, socket } => pin_engine(Engine::Docker, socket, container),
        TargetKind::Podman { container, socket } => pin_engine(Engine::Podman, socket, container),
        TargetKind::Containerd {
            namespace,
            id,
            state,
        } => {
            let path = files::containerd_init_pid(state, namespace, id)?;
            // No init.pid: containerd has no running task of that id. Any
            // other trouble with the file is reported by opening it.
            if !path.try_exists().unwrap_or(true) {
                return Err(Why::NoTask {
                    namespace: namespace.clone(),
                    id: id.clone(),
                    path,
                });
            }
            let mut pinned = pin_file(&PidSource::Plain(path))?;
            pinned.runtime.container_id = Some(id.clone());
            Ok(pinned)
        }
        TargetKind::Pidfile { path } => pin_file(&PidSource::Plain(path.clone())),
        TargetKind::Nspawn { machine } => {
            let path = files::machine_file(machine)?;
            if !path.try_exists().unwrap_or(true) {
                return Err(Why::NoMachine {
                    name: machine.clone(),
                    path,
                });
            }
            pin_file(&PidSource::Machine {
                name: machine.clone(),
                path,
            })
        }
    }
}

fn pin_engine(
    engine: Engine,
    socket: &std::path::Path,
    container: &str,
) -> std::result::Result<Pinned, Why> {
    let first = engine::inspect(engine, socket, container)?;
    let what = Pinning::Container {
        engine,
        container: container.to_owned(),
        pid: first.pid,
    };
    let pidfd = pin(first.pid, &what, || {
        let again = engine::inspect(engine, socket, container)?;
        if again.id != first.id || again.pid != first.pid {
            return Err(Why::ContainerChanged {
                engine,
                container: container.to_owned(),
                id: again.id,
                pid: again.pid,
            });
        }
        Ok(())
    })?;
    Ok(Pinned {
        pidfd,
        pid: first.pid,
        runtime: first.runtime,
    })
}

fn pin_file(source: &PidSource) -> std::result::Result<Pinned, Why> {
    let pid = source.read_pid()?;
    let what = Pinning::File {
        pid,
        path: source.path().to_path_buf(),
    };
    let pidfd = pin(pid, &what, || {
        let again = source.read_pid()?;
        if again != pid {
            return Err(Why::FileChanged {
                path: source.path().to_path_buf(),
                pid: again,
            });
        }
        Ok(())
    })?;
    Ok(Pinned {
        pidfd,
        pid,
        runtime: RuntimeConfig::default(),
    })
}

/// Opens a pidfd for `pid` and proves it is the process `recheck` (which
/// asks the runtime again) still names; `what` names the pid in messages.
fn pin(
    pid: Pid,
    what: &Pinning,
    recheck: impl FnOnce() -> std::result::Result<(), Why>,
) -> std::result::Result<OwnedFd, Why> {
    let stat = |e| match e {
        StatError::Gone => Why::NotRunning(what.clone()),
        e => Why::Stat(e),
    };
    let before = proc_stat(pid).map_err(stat)?;
    let pidfd = system::pidfd_open(pid).map_err(|e| {
        if system::is_no_such_process(&e) {
            Why::NotRunning(what.clone())
        } else {
            Why::PidfdOpen(what.clone(), e)
        }
    })?;
    let after = proc_stat(pid).map_err(stat)?;
    if after.start_time != before.start_time {
        return Err(Why::Replaced(what.clone()));
    }
    if matches!(after.state, b'Z' | b'X' | b'x') {
        return Err(Why::Zombie(what.clone()));
    }
    recheck()?;
    system::pidfd_send_signal(pidfd.as_fd(), 0)
        .map_err(|e| Why::ExitedWhilePinning(what.clone(), e))?;
    Ok(pidfd)
}

/// A pid as runtimes write it: decimal digits without sign, blanks or
/// leading zeros, then at most one newline.
pub(crate) fn parse_pid(text: &[u8]) -> Option<Pid> {
    let digits = text.strip_suffix(b"\n").unwrap_or(text);
    if digits.is_empty()
        || digits.len() > 7
        || digits[0] == b'0'
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    Pid::new(std::str::from_utf8(digits).ok()?.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    #[test]
    fn pids() {
        for (text, pid) in [
            (&b"1"[..], Some(1)),
            (b"1234\n", Some(1234)),
            (b"4194304", Some(4194304)),
            (b"4194305", None),
            (b"0", None),
            (b"01234", None),
            (b"-1", None),
            (b"+1", None),
            (b" 12", None),
            (b"12 ", None),
            (b"12\n\n", None),
            (b"12\r\n", None),
            (b"", None),
            (b"\n", None),
            (b"99999999999999999999", None),
            (b"12a", None),
            (b"\xd9\xa1", None),
        ] {
            assert_eq!(parse_pid(text), pid.and_then(Pid::new), "{text:?}");
        }
    }

    fn target(kind: TargetKind) -> Target {
        Target {
            name: "t".into(),
            origin: Origin {
                file: "test.conf".into(),
                line: 1,
            },
            kind,
            user: None,
            cwd: None,
            env: Vec::new(),
            ns: None,
        }
    }

    fn why(kind: TargetKind) -> String {
        match resolve_and_pin(&target(kind)) {
            Err(Error::Target { target, why }) => {
                assert_eq!(target, "t");
                why
            }
            other => panic!("expected a target error, got {other:?}"),
        }
    }

    #[test]
    fn pins_a_child_and_refuses_it_once_reaped() {
        if crate::test_support::skip_without_root(
            "pins_a_child_and_refuses_it_once_reaped",
            "pid file ownership",
        ) {
            return;
        }
        let dir = std::env::temp_dir().join(format!("nsgate-pin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let path = dir.join("child.pid");
        std::fs::write(&path, format!("{}\n", child.id())).unwrap();
        let kind = TargetKind::Pidfile { path: path.clone() };
        let pinned = resolve_and_pin(&target(kind.clone())).unwrap();
        assert_eq!(Some(pinned.pid), Pid::new(child.id() as i32));
        assert_eq!(pinned.runtime, RuntimeConfig::default());
        child.kill().unwrap();
        child.wait().unwrap();
        // The pidfd still refers to the reaped child, not to the pid.
        assert!(system::pidfd_send_signal(pinned.pidfd.as_fd(), 0).is_err());
        assert_eq!(
            why(kind),
            format!("pid {} from {} is not running", child.id(), path.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pin_refuses_a_process_that_dies_or_is_disowned() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = Pid::new(child.id() as i32).unwrap();
        let what = |pid| Pinning::File {
            pid,
            path: "X".into(),
        };
        // The runtime no longer names this pid on the second look.
        let err = pin(pid, &what(pid), || {
            Err(Why::FileChanged {
                path: "X".into(),
                pid,
            })
        })
        .unwrap_err()
        .to_string();
        assert_eq!(err, format!("X changed while being pinned (now pid {pid})"));
        // The process dies between the runtime's answer and the last check.
        let err = pin(pid, &what(pid), || {
            child.kill().unwrap();
            child.wait().unwrap();
            Ok(())
        })
        .unwrap_err()
        .to_string();
        let x = format!("pid {pid} from X");
        assert!(
            err.starts_with(&format!("{x} exited while being pinned")),
            "{err}"
        );

        // A zombie (killed, not yet reaped) is not entered either.
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = Pid::new(child.id() as i32).unwrap();
        child.kill().unwrap();
        while proc_stat(pid).ok().is_some_and(|s| s.state != b'Z') {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let x = format!("pid {pid} from X");
        let err = pin(pid, &what(pid), || Ok(())).unwrap_err().to_string();
        assert_eq!(err, format!("{x} has exited (zombie)"));
        child.wait().unwrap();
        assert_eq!(
            pin(pid, &what(pid), || Ok(())).unwrap_err().to_string(),
            format!("{x} is not running")
        );
    }

    #[test]
    fn missing_runtime_state() {
        let w = why(TargetKind::Containerd {
            namespace: "moby".into(),
            id: "nope".into(),
            state: "/nonexistent/state".into(),
        });
        assert_eq!(
            w,
            "containerd task moby/nope is not running (no /nonexistent/state/io.containerd.runtime.v2.task/moby/nope/init.pid)"
        );
        let w = why(TargetKind::Nspawn {
            machine: "nsgate-no-such-machine".into(),
        });
        assert_eq!(
            w,
            "machine nsgate-no-such-machine is not running (no /run/systemd/machines/nsgate-no-such-machine)"
        );
        let w = why(TargetKind::Pidfile {
            path: "/nonexistent/web.pid".into(),
        });
        assert!(w.starts_with("cannot open /nonexistent/web.pid: "), "{w}");
        let w = why(TargetKind::Podman {
            container: "web1".into(),
            socket: "/nonexistent/podman.sock".into(),
        });
        assert!(
            w.starts_with("podman service at /nonexistent/podman.sock not answering: connect: "),
            "{w}"
        );
    }
}
