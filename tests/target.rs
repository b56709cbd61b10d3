//! Target resolution and pinning (§3.1, §5) through the real binary in gate
//! mode, against real runtimes: Docker, Docker's own containerd state,
//! Podman's API service and pid files. A target is found when the command
//! runs in its init's namespaces and the allow record names its pid and
//! container id; it is refused with exit 125, one client line naming the
//! session, and an error record whose reason says why.
//!
//! These need root, Docker and Podman; `tests/support/containers.sh setup`
//! makes them ready. With `NSGATE_E2E=1` a missing piece fails the test;
//! without it the tests that need containers print a notice and return.
#![forbid(unsafe_code)]

use std::fs;
use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{
    containers, e2e_with_containers, engine_pid, gate_command, is_root, must, private_dir,
    remove_containers, s, skip_or_fail, start_container, syslog_setting, wait_limited,
    write_trusted, Line, DOCKER_CONTAINERD_STATE, PODMAN_SOCK,
};

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

/// A directory nsgate accepts, with a syslog socket the test reads itself.
struct Gate {
    dir: PathBuf,
    syslog: UnixDatagram,
    runs: u32,
}

/// One gate-mode session: what the client got, and its records.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    records: Vec<Line>,
}

/// What every rule of these tests permits: a command that shows where it
/// runs and as whom.
const PROBE: &str =
    "sh -c 'readlink /proc/self/ns/pid; id -un; id -G; pwd; hostname; echo FOO=$FOO'";

impl Gate {
    fn new(test: &str) -> Gate {
        let dir = private_dir("nsgate-tgt", test);
        let syslog = UnixDatagram::bind(dir.join("log.sock")).unwrap();
        syslog.set_nonblocking(true).unwrap();
        Gate {
            dir,
            syslog,
            runs: 0,
        }
    }

    /// Runs PROBE on target `web1`, defined by `target` (the words after
    /// `target web1`).
    fn run(&mut self, target: &str) -> Run {
        self.runs += 1;
        let conf = self.dir.join(format!("nsgate{}.conf", self.runs));
        write_trusted(
            &conf,
            &format!(
                "{}\ntarget web1 {target}\npermit alice on web1 cmd sh -c ...\n",
                syslog_setting(&self.dir.join("log.sock"))
            ),
        );
        let out = self.dir.join("out");
        let err = self.dir.join("err");
        let mut child = gate_command(&conf, "alice", "web1", PROBE)
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let status = wait_limited(&mut child, Duration::from_secs(30), "nsgate");
        // Every record of the session is in the socket's queue by now.
        let mut records = Vec::new();
        let mut buf = vec![0u8; 9000];
        loop {
            match self.syslog.recv(&mut buf) {
                Ok(n) => records.push(Line::datagram(std::str::from_utf8(&buf[..n]).unwrap())),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("reading the records: {e}"),
            }
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout: fs::read_to_string(&out).unwrap(),
            stderr: fs::read_to_string(&err).unwrap(),
            records,
        }
    }

    /// Runs PROBE on the target and expects it found: the command ran in
    /// the pid namespace of host pid `pid`, and the allow and exit records
    /// name that pid and `container`. PROBE's output after its first line.
    fn found(&mut self, target: &str, pid: i32, container: Option<&str>) -> String {
        let run = self.run(target);
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (0, ""),
            "{target}: {run:?}"
        );
        let ns = fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
        let (first, rest) = run.stdout.split_once('\n').unwrap();
        assert_eq!(first, s(&ns), "{target}: {run:?}");
        let events: Vec<String> = run.records.iter().map(|r| r.text("event")).collect();
        assert_eq!(events, ["allow", "exit"], "{target}: {run:?}");
        for r in &run.records {
            assert_eq!(r.text("pid"), pid.to_string(), "{target}: {r:?}");
            assert_eq!(r.bytes("container"), container.map(str::as_bytes), "{r:?}");
        }
        rest.to_owned()
    }

    /// Runs PROBE on the target and expects it refused as one that cannot
    /// be found: exit 125, nothing run, one client line naming the session,
    /// whose error record gives the reason. The reason after `target web1: `.
    fn refusal(&mut self, target: &str) -> String {
        let run = self.run(target);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (125, ""),
            "{target}: {run:?}"
        );
        let [record] = &run.records[..] else {
            panic!("{target}: one error record expected: {run:?}");
        };
        assert_eq!(record.text("event"), "error", "{record:?}");
        assert_eq!(record.priority, "authpriv.err", "{record:?}");
        assert_eq!(record.text("target"), "web1", "{record:?}");
        assert_eq!(
            run.stderr,
            format!(
                "nsgate: cannot find a running container for target web1 (session {}; the audit record has the details)\n",
                record.text("sid")
            )
        );
        let reason = record.text("reason");
        reason
            .strip_prefix("target web1: ")
            .unwrap_or_else(|| panic!("{reason}"))
            .to_owned()
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// What PROBE shows in the containers these tests start as user app: the
/// runtime's user (with the group it adds), working directory, hostname
/// and environment.
fn runtime_view(hostname: &str) -> String {
    format!("app\n1000 5\n/home/app\n{hostname}\nFOO=bar\n")
}

/// The runtime settings PROBE shows.
fn runtime_options(hostname: &'static str) -> [&'static str; 10] {
    [
        "--user",
        "app",
        "--workdir",
        "/home/app",
        "--hostname",
        hostname,
        "-e",
        "FOO=bar",
        "--group-add",
        "tty",
    ]
}

#[test]
fn docker_running_by_name_and_id_prefix() {
    if !e2e("docker_running_by_name_and_id_prefix") {
        return;
    }
    let name = "nsgate-tgt-run";
    let _cleanup = Cleanup(vec![name]);
    let id = start_container("docker-run", name, &runtime_options("web1x"));
    let pid = engine_pid("docker", name);
    let mut gate = Gate::new("docker-run");

    let view = gate.found(&format!("docker {name}"), pid, Some(&id));
    assert_eq!(view, runtime_view("web1x"));
    // docker exec agrees.
    let theirs = must(
        "docker",
        &["exec", name, "sh", "-c", &PROBE[7..PROBE.len() - 1]],
    );
    assert_eq!(theirs.split_once('\n').unwrap().1.to_owned() + "\n", view);

    for by_id in [&id[..12], &id[..20], id.as_str()] {
        let view = gate.found(&format!("docker {by_id}"), pid, Some(&id));
        assert_eq!(view, runtime_view("web1x"), "{by_id}");
    }
    // The API itself resolves 11 digits; the contract asks for 12.
    let why = gate.refusal(&format!("docker {}", &id[..11]));
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
    let paused_id = start_container("docker-run", paused, &[]);
    must("docker", &["pause", paused]);
    let mut gate = Gate::new("docker-states");

    assert_eq!(
        gate.refusal(&format!("docker {stopped}")),
        "docker container \"nsgate-tgt-stopped\" is not running (status exited)"
    );
    assert_eq!(
        gate.refusal(&format!("docker {created}")),
        "docker container \"nsgate-tgt-created\" is not running (status created)"
    );
    assert_eq!(
        gate.refusal(&format!("docker {paused}")),
        "docker container \"nsgate-tgt-paused\" is paused"
    );
    assert_eq!(
        gate.refusal(&format!("docker {missing}")),
        "docker container \"nsgate-tgt-missing\" not found"
    );
    must("docker", &["unpause", paused]);
    let pid = engine_pid("docker", paused);
    gate.found(&format!("docker {paused}"), pid, Some(&paused_id));
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
        Gate::new("docker-restarting").refusal(&format!("docker {name}")),
        "docker container \"nsgate-tgt-restarting\" is restarting"
    );
}

#[test]
fn docker_daemon_not_answering() {
    // No daemon needed: the socket is missing. Root is: nsgate trusts only
    // a configuration of root's.
    if !is_root() {
        skip_or_fail("docker_daemon_not_answering", "needs root");
        return;
    }
    let why = Gate::new("docker-gone").refusal("docker web1 socket /nonexistent/docker.sock");
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
    let mut gate = Gate::new("containerd");
    let target = format!("containerd moby/{id} state {DOCKER_CONTAINERD_STATE}");
    gate.found(&target, pid, Some(&id));

    must("docker", &["stop", "-t", "0", name]);
    assert_eq!(
        gate.refusal(&target),
        format!(
            "containerd task moby/{id} is not running (no {DOCKER_CONTAINERD_STATE}/io.containerd.runtime.v2.task/moby/{id}/init.pid)"
        )
    );
    // The short id is not containerd's id.
    let why = gate.refusal(&format!(
        "containerd moby/{name} state {DOCKER_CONTAINERD_STATE}"
    ));
    assert!(
        why.starts_with("containerd task moby/nsgate-tgt-containerd is not running"),
        "{why}"
    );
}

#[test]
fn podman_through_its_api_socket() {
    if !e2e("podman_through_its_api_socket") {
        return;
    }
    containers(&["podman-service", PODMAN_SOCK]).unwrap();
    let (name, stopped) = ("nsgate-tgt-podman", "nsgate-tgt-podman-stopped");
    let _cleanup = Cleanup(vec![name, stopped]);
    let id = start_container("podman-run", name, &runtime_options("web1p"));
    let pid = engine_pid("podman", name);
    let mut gate = Gate::new("podman");

    let view = gate.found(
        &format!("podman {name} socket {PODMAN_SOCK}"),
        pid,
        Some(&id),
    );
    assert_eq!(view, runtime_view("web1p"));
    let view = gate.found(
        &format!("podman {} socket {PODMAN_SOCK}", &id[..12]),
        pid,
        Some(&id),
    );
    assert_eq!(view, runtime_view("web1p"));

    start_container("podman-run", stopped, &[]);
    must("podman", &["stop", "-t", "0", stopped]);
    assert_eq!(
        gate.refusal(&format!("podman {stopped} socket {PODMAN_SOCK}")),
        "podman container \"nsgate-tgt-podman-stopped\" is not running (status exited)"
    );
    assert_eq!(
        gate.refusal(&format!(
            "podman nsgate-tgt-podman-missing socket {PODMAN_SOCK}"
        )),
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
    let mut gate = Gate::new("pidfile");
    let path = gate.dir.join("web.pid");
    let target = format!("pidfile {}", s(&path));

    // A process in a pid namespace of its own, as a container's init is.
    let mut live = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "sleep", "100"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let init = child_of(live.id());
    write_trusted(&path, &format!("{init}\n"));
    gate.found(&target, init, None);
    live.kill().unwrap();
    live.wait().unwrap();

    let mut dead = Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    write_trusted(&path, &format!("{}\n", dead.id()));
    assert_eq!(
        gate.refusal(&target),
        format!("pid {} from {} is not running", dead.id(), path.display())
    );
}

/// The one child of `parent`, once it has one (unshare forks its init).
fn child_of(parent: u32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let children =
            fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).unwrap();
        if let Some(pid) = children.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "{parent} never forked");
        std::thread::sleep(Duration::from_millis(10));
    }
}
