//! Target resolution and pinning (§3.1, §5) against real runtimes: Docker,
//! Docker's own containerd state, Podman's API service and pid files.
//!
//! These need root, Docker and Podman; `tests/support/containers.sh setup`
//! makes them ready. With `NSGATE_E2E=1` a missing piece fails the test;
//! without it the tests that need containers print a notice and return.
#![forbid(unsafe_code)]

use nsgate::config::{Origin, Target, TargetKind};
use nsgate::error::Error;
use nsgate::resolve::{resolve_and_pin, Pinned};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{
    containers, e2e_with_containers, engine_pid, is_root, must, private_dir, remove_containers,
    skip_or_fail, start_container, DOCKER_CONTAINERD_STATE, PODMAN_SOCK,
};

const DOCKER_SOCK: &str = "/var/run/docker.sock";

/// Run only under NSGATE_E2E=1, where a missing piece fails the test.
fn e2e(test: &str) -> bool {
    e2e_with_containers(test, "root, Docker and Podman")
}

/// Removes the named containers when dropped, whether the test passed or not.
struct Cleanup(Vec<&'static str>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_containers(&self.0);
    }
}

fn target(kind: TargetKind) -> Target {
    Target {
        name: "web1".into(),
        origin: Origin {
            file: "/etc/nsgate.conf".into(),
            line: 1,
        },
        kind,
        user: None,
        cwd: None,
        env: Vec::new(),
        ns: None,
    }
}

fn docker(container: &str) -> Target {
    target(TargetKind::Docker {
        container: container.into(),
        socket: DOCKER_SOCK.into(),
    })
}

fn podman(container: &str) -> Target {
    target(TargetKind::Podman {
        container: container.into(),
        socket: PODMAN_SOCK.into(),
    })
}

/// The message of a resolution failure, which must be a target error (125).
fn refusal(t: &Target) -> String {
    match resolve_and_pin(t) {
        Err(e @ Error::Target { .. }) => {
            assert_eq!(e.exit_code(), 125);
            let shown = e.to_string();
            let prefix = "target web1: ";
            assert!(shown.starts_with(prefix), "{shown}");
            shown[prefix.len()..].to_owned()
        }
        Err(e) => panic!("expected a target error, got {e:?}"),
        Ok(p) => panic!("expected a refusal, pinned pid {}", p.pid),
    }
}

/// The pid the kernel says the pidfd refers to (`Pid:` of its fdinfo).
fn pidfd_pid(pinned: &Pinned) -> i32 {
    let info =
        std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pinned.pidfd.as_raw_fd())).unwrap();
    let line = info.lines().find_map(|l| l.strip_prefix("Pid:")).unwrap();
    line.trim().parse().unwrap()
}

#[test]
fn docker_running_by_name_and_id_prefix() {
    if !e2e("docker_running_by_name_and_id_prefix") {
        return;
    }
    let name = "nsgate-tgt-run";
    let _cleanup = Cleanup(vec![name]);
    let id = start_container(
        "docker-run",
        name,
        &[
            "--user",
            "app",
            "--workdir",
            "/home/app",
            "--hostname",
            "web1x",
            "-e",
            "FOO=bar",
            "--group-add",
            "tty",
        ],
    );
    let pid = engine_pid("docker", name);

    let pinned = resolve_and_pin(&docker(name)).unwrap();
    assert_eq!(pinned.pid, pid);
    assert_eq!(pidfd_pid(&pinned), pid);
    let rt = &pinned.runtime;
    assert_eq!(rt.container_id.as_deref(), Some(id.as_str()));
    assert_eq!(rt.user.as_deref(), Some("app"));
    assert!(rt.env.iter().any(|e| e == "FOO=bar"), "{:?}", rt.env);
    assert_eq!(rt.working_dir.as_deref(), Some("/home/app"));
    assert_eq!(rt.hostname.as_deref(), Some("web1x"));
    assert_eq!(rt.group_add, vec!["tty".to_string()]);

    for by_id in [&id[..12], &id[..20], id.as_str()] {
        let pinned = resolve_and_pin(&docker(by_id)).unwrap();
        assert_eq!(pinned.pid, pid, "{by_id}");
        assert_eq!(pinned.runtime.container_id.as_deref(), Some(id.as_str()));
    }
    // The API itself resolves 11 digits; the contract asks for 12.
    let why = refusal(&docker(&id[..11]));
    assert!(
        why.starts_with(&format!("docker container \"{}\" not found", &id[..11])),
        "{why}"
    );
}

#[test]
fn docker_stopped_created_paused_missing() {
    if !e2e("docker_stopped_created_paused_missing") {
        return;
    }
    let (stopped, created, paused, missing) = (
        "nsgate-tgt-stopped",
        "nsgate-tgt-created",
        "nsgate-tgt-paused",
        "nsgate-tgt-missing",
    );
    let _cleanup = Cleanup(vec![stopped, created, paused, missing]);
    containers(&["rm", missing]).unwrap();
    start_container("docker-run", stopped, &[]);
    must("docker", &["stop", "-t", "0", stopped]);
    must(
        "docker",
        &["create", "--name", created, "nsgate-test:busybox"],
    );
    start_container("docker-run", paused, &[]);
    must("docker", &["pause", paused]);

    assert_eq!(
        refusal(&docker(stopped)),
        "docker container \"nsgate-tgt-stopped\" is not running (status exited)"
    );
    assert_eq!(
        refusal(&docker(created)),
        "docker container \"nsgate-tgt-created\" is not running (status created)"
    );
    assert_eq!(
        refusal(&docker(paused)),
        "docker container \"nsgate-tgt-paused\" is paused"
    );
    assert_eq!(
        refusal(&docker(missing)),
        "docker container \"nsgate-tgt-missing\" not found"
    );
    must("docker", &["unpause", paused]);
    assert!(resolve_and_pin(&docker(paused)).is_ok());
}

#[test]
fn docker_restarting() {
    if !e2e("docker_restarting") {
        return;
    }
    let name = "nsgate-tgt-restarting";
    let _cleanup = Cleanup(vec![name]);
    start_container(
        "docker-run",
        name,
        &["--restart", "always", "--", "/bin/false"],
    );
    // Docker backs off 100 ms, 200 ms, ... between restarts; by the fifth
    // it waits seconds in state "restarting", time enough to ask.
    let started = Instant::now();
    loop {
        let state = must(
            "docker",
            &[
                "inspect",
                "-f",
                "{{.State.Restarting}} {{.RestartCount}}",
                name,
            ],
        );
        let (restarting, count) = state.split_once(' ').unwrap();
        if restarting == "true" && count.parse::<u32>().unwrap() >= 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never restarting: {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        refusal(&docker(name)),
        "docker container \"nsgate-tgt-restarting\" is restarting"
    );
}

#[test]
fn docker_daemon_not_answering() {
    // No daemon needed: the socket is missing.
    let t = target(TargetKind::Docker {
        container: "web1".into(),
        socket: "/nonexistent/docker.sock".into(),
    });
    let why = refusal(&t);
    assert!(
        why.starts_with("docker daemon at /nonexistent/docker.sock not answering: connect: "),
        "{why}"
    );
}

#[test]
fn containerd_with_dockers_state() {
    if !e2e("containerd_with_dockers_state") {
        return;
    }
    let name = "nsgate-tgt-containerd";
    let _cleanup = Cleanup(vec![name]);
    let id = start_container("docker-run", name, &[]);
    let pid = engine_pid("docker", name);
    let t = target(TargetKind::Containerd {
        namespace: "moby".into(),
        id: id.clone(),
        state: DOCKER_CONTAINERD_STATE.into(),
    });
    let pinned = resolve_and_pin(&t).unwrap();
    assert_eq!(pinned.pid, pid);
    assert_eq!(pidfd_pid(&pinned), pid);
    assert_eq!(pinned.runtime.container_id.as_deref(), Some(id.as_str()));

    must("docker", &["stop", "-t", "0", name]);
    assert_eq!(
        refusal(&t),
        format!(
            "containerd task moby/{id} is not running (no {DOCKER_CONTAINERD_STATE}/io.containerd.runtime.v2.task/moby/{id}/init.pid)"
        )
    );
    // The short id is not containerd's id.
    let t = target(TargetKind::Containerd {
        namespace: "moby".into(),
        id: name.into(),
        state: DOCKER_CONTAINERD_STATE.into(),
    });
    assert!(refusal(&t).starts_with("containerd task moby/nsgate-tgt-containerd is not running"));
}

#[test]
fn podman_through_its_api_socket() {
    if !e2e("podman_through_its_api_socket") {
        return;
    }
    containers(&["podman-service", PODMAN_SOCK]).unwrap();
    let (name, stopped) = ("nsgate-tgt-podman", "nsgate-tgt-podman-stopped");
    let _cleanup = Cleanup(vec![name, stopped]);
    let id = start_container(
        "podman-run",
        name,
        &[
            "--user",
            "app",
            "--workdir",
            "/home/app",
            "--hostname",
            "web1p",
            "-e",
            "FOO=bar",
            "--group-add",
            "tty",
        ],
    );
    let pid = engine_pid("podman", name);

    let pinned = resolve_and_pin(&podman(name)).unwrap();
    assert_eq!(pinned.pid, pid);
    assert_eq!(pidfd_pid(&pinned), pid);
    let rt = &pinned.runtime;
    assert_eq!(rt.container_id.as_deref(), Some(id.as_str()));
    assert_eq!(rt.user.as_deref(), Some("app"));
    assert!(rt.env.iter().any(|e| e == "FOO=bar"), "{:?}", rt.env);
    assert_eq!(rt.working_dir.as_deref(), Some("/home/app"));
    assert_eq!(rt.hostname.as_deref(), Some("web1p"));
    assert_eq!(rt.group_add, vec!["tty".to_string()]);
    assert_eq!(resolve_and_pin(&podman(&id[..12])).unwrap().pid, pid);

    start_container("podman-run", stopped, &[]);
    must("podman", &["stop", "-t", "0", stopped]);
    assert_eq!(
        refusal(&podman(stopped)),
        "podman container \"nsgate-tgt-podman-stopped\" is not running (status exited)"
    );
    assert_eq!(
        refusal(&podman("nsgate-tgt-podman-missing")),
        "podman container \"nsgate-tgt-podman-missing\" not found"
    );
}

#[test]
fn pidfile_live_and_dead() {
    if !is_root() {
        // The pid file must be root's; only a root run can make one.
        skip_or_fail("pidfile_live_and_dead", "needs root");
        return;
    }
    let dir = private_dir("nsgate-tgt", "pidfile");
    let path = dir.join("web.pid");
    let t = target(TargetKind::Pidfile { path: path.clone() });

    let mut live = Command::new("sleep").arg("100").spawn().unwrap();
    std::fs::write(&path, format!("{}\n", live.id())).unwrap();
    let pinned = resolve_and_pin(&t).unwrap();
    assert_eq!(pinned.pid, live.id() as i32);
    assert_eq!(pidfd_pid(&pinned), live.id() as i32);
    live.kill().unwrap();
    live.wait().unwrap();

    let mut dead = Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    std::fs::write(&path, format!("{}\n", dead.id())).unwrap();
    assert_eq!(
        refusal(&t),
        format!("pid {} from {} is not running", dead.id(), path.display())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
