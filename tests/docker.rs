//! The built binary in gate mode against real Docker and Podman containers
//! (§3.1, §5, §7 and issue 4), compared with `docker exec` (or
//! `podman exec`) in the same container: what the command sees, its exit
//! codes, signals, `timeout`, refusals that run nothing, the user and
//! confinement it runs with, and the runtime's settings (environment,
//! hostname, working directory, user, added groups) against what the
//! configuration puts over them.
//!
//! These need root, Docker, Podman and rsyslogd;
//! `tests/support/containers.sh setup` makes them ready. With
//! `NSGATE_E2E=1` a missing piece fails the test; without it the tests
//! print a notice and return.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{
    containers, e2e_with_containers, engine_pid, gate_command, must, private_dir,
    remove_containers, start_container, wait_limited, write_trusted, Line, Rsyslogd,
    DOCKER_CONTAINERD_STATE, PODMAN_SOCK,
};

/// Set on every nsgate process: must never reach a command.
const HOST_MARKER: (&str, &str) = ("NSGATE_DK_HOST_SECRET", "leaked-from-host");
/// No nsgate run may take longer than this; a hang fails the test.
const LIMIT: Duration = Duration::from_secs(30);

/// Run only under NSGATE_E2E=1, where a missing piece fails the test.
fn e2e(test: &str) -> bool {
    e2e_with_containers(test, "root, Docker, Podman and rsyslogd")
}

/// What one nsgate run gave.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{self:?}");
        &self.stdout
    }

    /// The session id the client's one `nsgate: ` line names after CLIENT,
    /// the words for what failed; nothing on stdout, exit 125.
    fn refused_session(&self, what: &str, client: &str) -> &str {
        assert_eq!(
            (self.code, self.stdout.as_str()),
            (125, ""),
            "{what}: {self:?}"
        );
        self.stderr
            .strip_prefix(&format!("nsgate: {client} (session "))
            .and_then(|rest| rest.strip_suffix("; the audit record has the details)\n"))
            .filter(|sid| sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_else(|| panic!("{what}: {self:?}"))
    }
}

/// The client's words for a target that cannot be resolved or pinned.
const NOT_FOUND: &str = "cannot find a running container for target";
/// The client's words for a failure entering the container.
const NOT_ENTERED: &str = "cannot enter the container of target";

/// One test's private world: a directory nsgate accepts (root, 0755), an
/// rsyslogd listening in it, a configuration, and the containers to remove.
/// Dropping it cleans everything, whether the test passed or not.
struct Env {
    dir: PathBuf,
    conf: PathBuf,
    containers: Vec<String>,
    runs: u32,
    syslog: Rsyslogd,
}

impl Env {
    fn new(test: &str) -> Env {
        let dir = private_dir("nsgate-dk", test);
        let env = Env {
            conf: dir.join("nsgate.conf"),
            syslog: Rsyslogd::new(&dir),
            dir,
            containers: Vec::new(),
            runs: 0,
        };
        // Only under NSGATE_E2E=1 (e2e()), where a missing rsyslogd fails
        // the test inside start() already.
        let started = env.syslog.start(test);
        assert!(started, "rsyslogd did not start");
        env
    }

    /// Writes the policy after the line that points at our rsyslogd.
    fn config(&self, policy: &str) {
        let text = format!("{}\n{policy}", self.syslog.setting());
        write_trusted(&self.conf, &text);
    }

    /// Starts a Docker container `nsgate-dk-SUFFIX`; its name and full id.
    /// A refusal of nsgate itself: exit 125, one line that says CLIENT
    /// about TARGET and names the session, and SAYS in the `reason` of that
    /// session's audit record; the client's line has none of SAYS.
    fn assert_refused(&self, out: &Out, target: &str, client: &str, says: &str) {
        let sid = out.refused_session(target, &format!("{client} {target}"));
        assert!(!out.stderr.contains(says), "{target}: {out:?}");
        let mut reason = None;
        wait_until(
            "the refusal's audit record",
            Duration::from_secs(10),
            || {
                reason = self
                    .syslog
                    .out_log()
                    .iter()
                    .map(|l| Line::parse(l))
                    .find(|l| l.text("sid") == sid && l.get("reason").is_some())
                    .map(|l| l.text("reason"));
                reason.is_some()
            },
        );
        let reason = reason.unwrap();
        assert!(reason.contains(says), "{target}: {reason}");
    }

    fn docker(&mut self, suffix: &str, opts: &[&str]) -> (String, String) {
        self.run_container("docker-run", suffix, opts)
    }

    fn podman(&mut self, suffix: &str, opts: &[&str]) -> (String, String) {
        containers(&["podman-service", PODMAN_SOCK]).unwrap_or_else(|e| panic!("{e}"));
        self.run_container("podman-run", suffix, opts)
    }

    fn run_container(&mut self, how: &str, suffix: &str, opts: &[&str]) -> (String, String) {
        let name = format!("nsgate-dk-{suffix}");
        self.containers.push(name.clone());
        let id = start_container(how, &name, opts);
        (name, id)
    }

    /// nsgate as sshd would start it, with a host variable set that must not
    /// reach the command.
    fn command(&self, key: &str, target: &str, request: &str) -> Command {
        let mut cmd = gate_command(&self.conf, key, target, request);
        cmd.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env(HOST_MARKER.0, HOST_MARKER.1);
        cmd
    }

    /// Runs nsgate to the end, failing (not hanging) after LIMIT. Output
    /// goes to files: a process left behind holding them cannot hang us.
    fn gate(&mut self, key: &str, target: &str, request: &str) -> Out {
        self.runs += 1;
        let out_path = self.dir.join(format!("run{}.out", self.runs));
        let err_path = self.dir.join(format!("run{}.err", self.runs));
        let mut child = self
            .command(key, target, request)
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap();
        let status = wait_limited(&mut child, LIMIT, &format!("nsgate ({request})"));
        Out {
            code: code(status),
            stdout: fs::read_to_string(&out_path).unwrap(),
            stderr: fs::read_to_string(&err_path).unwrap(),
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let names: Vec<&str> = self.containers.iter().map(String::as_str).collect();
            remove_containers(&names);
        }
        self.syslog.stop();
        if std::env::var_os("NSGATE_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// `ENGINE exec CONTAINER ARGV...`: exit code and stdout.
fn engine_exec(engine: &str, container: &str, opts: &[&str], argv: &[&str]) -> (i32, String) {
    let out = Command::new(engine)
        .arg("exec")
        .args(opts)
        .arg(container)
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        code(out.status),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn dexec(container: &str, argv: &[&str]) -> String {
    let (code, out) = engine_exec("docker", container, &[], argv);
    assert_eq!(code, 0, "docker exec {container} {argv:?}: {out}");
    out
}

// ------------------------------------------------------ what a command sees

/// Mount points of a mountinfo (field 5), as a set.
fn mount_points(mountinfo: &str) -> BTreeSet<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(str::to_owned)
        .collect()
}

/// Interface names of /proc/net/dev.
fn interfaces(dev: &str) -> BTreeSet<String> {
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_owned())
        .collect()
}

/// Pids of `ps -o pid,comm` other than the ps itself.
fn pids(ps: &str) -> BTreeSet<String> {
    ps.lines()
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (pid, comm) = (w.next()?, w.next()?);
            // ps itself: nsgate execs the applet by descriptor, so its
            // name is busybox's (nsgate(8), CAVEATS).
            (comm != "ps" && comm != "busybox").then(|| pid.to_owned())
        })
        .collect()
}

/// The policy that lets any key run the view commands on every target.
const VIEW_POLICY: &str = "\
permit * on * cmd hostname
permit * on * cmd ps -o pid,comm
permit * on * cmd cat /proc/net/dev
permit * on * cmd cat /proc/self/mountinfo
permit * on * cmd cat /proc/self/cgroup
permit * on * cmd ls /proc/self/fd
permit * on * cmd env
permit * on * cmd true
permit * on * cmd sh -c ...
permit * on * cmd no-such-program
";

/// Compares what nsgate's command sees on TARGET with ENGINE exec in
/// CONTAINER: hostname, processes, interfaces, mounts, cgroup, fds, env.
fn assert_same_view(env: &mut Env, engine: &str, container: &str, target: &str) {
    let exec = |argv: &[&str]| {
        let (code, out) = engine_exec(engine, container, &[], argv);
        assert_eq!(code, 0, "{engine} exec {container} {argv:?}: {out}");
        out
    };
    let mut gate = |request: &str| env.gate("alice", target, request).ok().to_owned();

    assert_eq!(gate("hostname"), exec(&["hostname"]), "hostname");
    let ps = gate("ps -o pid,comm");
    assert_eq!(pids(&ps), pids(&exec(&["ps", "-o", "pid,comm"])), "{ps}");
    assert!(pids(&ps).contains("1"), "the container's init: {ps}");
    let dev = gate("cat /proc/net/dev");
    assert_eq!(
        interfaces(&dev),
        interfaces(&exec(&["cat", "/proc/net/dev"])),
        "{dev}"
    );
    let mounts = gate("cat /proc/self/mountinfo");
    assert_eq!(
        mount_points(&mounts),
        mount_points(&exec(&["cat", "/proc/self/mountinfo"])),
        "{mounts}"
    );
    // The same cgroups, but for the session's own below the container's
    // in cgroup v2 (nsgate(8), "Cgroup").
    let ours = gate("cat /proc/self/cgroup");
    let theirs = exec(&["cat", "/proc/self/cgroup"]);
    assert_eq!(
        ours.lines().count(),
        theirs.lines().count(),
        "cgroup: {ours}"
    );
    for (o, t) in ours.lines().zip(theirs.lines()) {
        match o.strip_prefix(&format!("{t}/nsgate-")) {
            Some(sid) if t.starts_with("0::") => assert!(
                sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit()),
                "cgroup: {ours}"
            ),
            _ => assert_eq!(o, t, "cgroup: {ours}"),
        }
    }
    // ls's own directory fd is the 3.
    let fds = gate("ls /proc/self/fd");
    assert_eq!(
        fds.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2", "3"]
    );
    assert_eq!(fds, exec(&["ls", "/proc/self/fd"]), "fds");

    let ours = gate("env");
    assert!(!ours.contains(HOST_MARKER.0), "host env leaked: {ours}");
    assert!(!ours.contains(HOST_MARKER.1), "host env leaked: {ours}");
    let ours: BTreeSet<&str> = ours.lines().collect();
    let theirs = exec(&["env"]);
    for var in theirs.lines() {
        assert!(ours.contains(var), "{var} missing from {ours:?}");
    }
}

fn assert_exit_codes(env: &mut Env, target: &str) {
    for (request, want) in [
        ("true", 0),
        ("sh -c 'exit 3'", 3),
        ("no-such-program", 127),
        ("sh -c 'kill -TERM $$'", 128 + 15),
        ("sh -c 'kill -KILL $$'", 128 + 9),
    ] {
        let out = env.gate("alice", target, request);
        assert_eq!(out.code, want, "{request}: {out:?}");
    }
}

#[test]
fn docker_command_sees_what_docker_exec_sees() {
    if !e2e("docker_command_sees_what_docker_exec_sees") {
        return;
    }
    let mut env = Env::new("view");
    let (name, _) = env.docker("view", &["--hostname", "web-view"]);
    // A second process, so the pid lists say something.
    must("docker", &["exec", "-d", &name, "sleep", "1000"]);
    env.config(&format!("target web1 docker {name}\n{VIEW_POLICY}"));
    assert_same_view(&mut env, "docker", &name, "web1");
    assert_exit_codes(&mut env, "web1");
}

#[test]
fn containerd_target_with_dockers_state() {
    if !e2e("containerd_target_with_dockers_state") {
        return;
    }
    let mut env = Env::new("containerd");
    let (name, id) = env.docker("containerd", &[]);
    env.config(&format!(
        "target web1 containerd moby/{id} state {DOCKER_CONTAINERD_STATE}\n{VIEW_POLICY}"
    ));
    assert_same_view(&mut env, "docker", &name, "web1");
    assert_exit_codes(&mut env, "web1");
}

#[test]
fn podman_command_sees_what_podman_exec_sees() {
    if !e2e("podman_command_sees_what_podman_exec_sees") {
        return;
    }
    let mut env = Env::new("podman");
    let (name, _) = env.podman("podman", &["--hostname", "web-podman"]);
    env.config(&format!(
        "target web1 podman {name} socket {PODMAN_SOCK}\n{VIEW_POLICY}"
    ));
    assert_same_view(&mut env, "podman", &name, "web1");
    assert_exit_codes(&mut env, "web1");
}

// ------------------------------------------------- signals and ending

/// `docker top`'s command column lines.
fn top(container: &str) -> Vec<String> {
    must("docker", &["top", container, "-o", "pid,args"])
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_to_nsgate_reaches_the_command() {
    if !e2e("sigterm_to_nsgate_reaches_the_command") {
        return;
    }
    let mut env = Env::new("sigterm");
    let (name, _) = env.docker("sigterm", &[]);
    env.config(&format!(
        "target web1 docker {name}\npermit * on * cmd sh -c ...\n"
    ));
    // A file, not a pipe: a stuck nsgate fails the test instead of hanging it.
    let out_path = env.dir.join("sigterm.out");
    let mut child = env
        .command(
            "alice",
            "web1",
            "sh -c 'trap \"echo got-term; exit 7\" TERM; echo ready; while :; do sleep 0.1; done'",
        )
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let output = || fs::read_to_string(&out_path).unwrap();
    wait_until("ready", Duration::from_secs(10), || output() == "ready\n");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = wait_limited(&mut child, Duration::from_secs(10), "nsgate (trap)");
    assert_eq!(
        (code(status), output()),
        (7, "ready\ngot-term\n".to_owned())
    );
}

#[test]
fn timeout_ends_the_command_and_leaves_nothing() {
    if !e2e("timeout_ends_the_command_and_leaves_nothing") {
        return;
    }
    let mut env = Env::new("timeout");
    let (name, _) = env.docker("timeout", &[]);
    env.config(&format!(
        "target web1 docker {name}\npermit * on * timeout 2s cmd sleep 100\n"
    ));
    let started = Instant::now();
    let out = env.gate("alice", "web1", "sleep 100");
    let took = started.elapsed();
    assert!(out.code == 128 + 15 || out.code == 128 + 9, "{out:?}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(9),
        "{took:?}"
    );
    let left = top(&name);
    assert!(
        !left.iter().any(|l| l.ends_with("sleep 100")),
        "left behind: {left:?}"
    );
}

#[test]
fn docker_stop_ends_a_running_session() {
    if !e2e("docker_stop_ends_a_running_session") {
        return;
    }
    let mut env = Env::new("stop");
    let (name, _) = env.docker("stop", &[]);
    env.config(&format!(
        "target web1 docker {name}\npermit * on * cmd sleep 100\n"
    ));
    let mut child = env
        .command("alice", "web1", "sleep 100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // docker top lists the container's cgroup: the command joined it.
    wait_until("the command in docker top", Duration::from_secs(10), || {
        top(&name).iter().any(|l| l.ends_with("sleep 100"))
    });
    must("docker", &["stop", "-t", "1", &name]);
    let status = wait_limited(&mut child, Duration::from_secs(10), "nsgate (docker stop)");
    let got = code(status);
    assert!(got == 128 + 9 || got == 128 + 15, "{got}");
    // The session's cgroup did not get in the runtime's way: the container
    // starts again, and no session cgroup is left anywhere.
    must("docker", &["start", &name]);
    let left = Command::new("find")
        .args([
            "/sys/fs/cgroup",
            "-maxdepth",
            "6",
            "-type",
            "d",
            "-name",
            "nsgate-*",
        ])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&left.stdout).into_owned();
    let id = must("docker", &["inspect", "-f", "{{.Id}}", &name]);
    assert!(!left.contains(id.trim()), "{left}");
}

// --------------------------------------------------------- refusals

#[test]
fn stopped_paused_and_missing_containers_run_nothing() {
    if !e2e("stopped_paused_and_missing_containers_run_nothing") {
        return;
    }
    let mut env = Env::new("refuse");
    let (stopped, _) = env.docker("refuse-stopped", &[]);
    let (paused, _) = env.docker("refuse-paused", &[]);
    let missing = "nsgate-dk-refuse-missing";
    env.containers.push(missing.into());
    containers(&["rm", missing]).unwrap();
    must("docker", &["stop", "-t", "0", &stopped]);
    must("docker", &["pause", &paused]);
    env.config(&format!(
        "target stopped docker {stopped}\n\
         target paused docker {paused}\n\
         target missing docker {missing}\n\
         permit * on * cmd touch /tmp/marker\n"
    ));
    for (target, says) in [
        ("stopped", "is not running (status exited)"),
        ("paused", "is paused"),
        ("missing", "not found"),
    ] {
        let out = env.gate("alice", target, "touch /tmp/marker");
        env.assert_refused(&out, target, NOT_FOUND, says);
    }
    must("docker", &["unpause", &paused]);
    must("docker", &["start", &stopped]);
    for container in [&stopped, &paused] {
        let (code, out) = engine_exec("docker", container, &[], &["ls", "/tmp"]);
        assert_eq!((code, out.as_str()), (0, ""), "{container}");
    }
}

#[test]
fn pidfile_naming_a_dead_pid_is_refused() {
    if !e2e("pidfile_naming_a_dead_pid_is_refused") {
        return;
    }
    let mut env = Env::new("deadpid");
    let mut dead = Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    let pidfile = env.dir.join("web.pid");
    write_trusted(&pidfile, &format!("{pid}\n"));
    env.config(&format!(
        "target web1 pidfile {}\npermit * on * cmd touch /tmp/marker\n",
        pidfile.display()
    ));
    let out = env.gate("alice", "web1", "touch /tmp/marker");
    env.assert_refused(&out, "web1", NOT_FOUND, &format!("pid {pid} from "));
}

// ----------------------------------------- user and confinement (issue 4)

const STATUS_FIELDS: [&str; 11] = [
    "Uid",
    "Gid",
    "Groups",
    "CapBnd",
    "CapEff",
    "CapPrm",
    "CapInh",
    "CapAmb",
    "NoNewPrivs",
    "Seccomp",
    "Seccomp_filters",
];

fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
}

fn mask(hex: &str) -> u64 {
    u64::from_str_radix(hex, 16).unwrap()
}

fn words(s: &str) -> BTreeSet<&str> {
    s.split_whitespace().collect()
}

/// nsgate's /proc/self/status fields against docker exec's in CONTAINER
/// (started with OPTS): equal, except that groups and capabilities may
/// only be fewer, never more.
fn assert_confinement(env: &mut Env, suffix: &str, opts: &[&str]) -> String {
    let (name, _) = env.docker(suffix, opts);
    env.config(&format!(
        "target web1 docker {name}\npermit * on * cmd cat /proc/self/status\n"
    ));
    let ours = env
        .gate("alice", "web1", "cat /proc/self/status")
        .ok()
        .to_owned();
    let theirs = dexec(&name, &["cat", "/proc/self/status"]);
    for field in STATUS_FIELDS {
        let (a, b) = (status_field(&ours, field), status_field(&theirs, field));
        match field {
            "Groups" => assert_eq!(
                words(a),
                words(b),
                "{opts:?} Groups: nsgate {a:?} docker exec {b:?}"
            ),
            f if f.starts_with("Cap") => {
                assert_eq!(
                    mask(a) & !mask(b),
                    0,
                    "{opts:?} {f}: nsgate {a} exceeds {b}"
                );
                assert_eq!(a, b, "{opts:?} {f}");
            }
            _ => assert_eq!(a, b, "{opts:?} {field}"),
        }
    }
    ours
}

#[test]
fn capabilities_and_no_new_privs_as_docker_exec() {
    if !e2e("capabilities_and_no_new_privs_as_docker_exec") {
        return;
    }
    let mut env = Env::new("caps");
    for (suffix, opts) in [
        ("caps-default", &[][..]),
        ("caps-drop-all", &["--cap-drop", "ALL"][..]),
        ("caps-net-admin", &["--cap-add", "NET_ADMIN"][..]),
        ("caps-nnp", &["--security-opt", "no-new-privileges"][..]),
        ("caps-sys-admin", &["--cap-add", "SYS_ADMIN"][..]),
    ] {
        let status = assert_confinement(&mut env, suffix, opts);
        // What the options mean, so that nsgate and docker exec cannot agree
        // on something wrong.
        let nnp = if suffix == "caps-nnp" { "1" } else { "0" };
        assert_eq!(status_field(&status, "NoNewPrivs"), nnp, "{opts:?}");
        assert_eq!(status_field(&status, "CapAmb"), "0000000000000000");
        let bounding = mask(status_field(&status, "CapBnd"));
        let (net_admin, sys_admin) = (1 << 12, 1 << 21);
        match suffix {
            "caps-drop-all" => assert_eq!(bounding, 0),
            "caps-net-admin" => assert_ne!(bounding & net_admin, 0),
            "caps-sys-admin" => assert_ne!(bounding & sys_admin, 0),
            _ => assert_eq!(bounding & (net_admin | sys_admin), 0, "{opts:?}"),
        }
    }
}

#[test]
fn container_user_as_docker_exec() {
    if !e2e("container_user_as_docker_exec") {
        return;
    }
    let mut env = Env::new("user");
    assert_confinement(&mut env, "user-numeric", &["--user", "1000:1000"]);
    assert_confinement(&mut env, "user-name", &["--user", "app"]);
}

#[test]
fn as_user_names_numbers_and_groups() {
    if !e2e("as_user_names_numbers_and_groups") {
        return;
    }
    let mut env = Env::new("as");
    let (name, _) = env.docker("as", &[]);
    let cases = [
        ("by-name", "app", "1000", "1000"),
        ("by-number", "1000", "1000", "1000"),
        ("name-group", "app:app", "1000", "1000"),
        ("number-group", "1000:5", "1000", "5"),
        ("root-tty", "root:tty", "0", "5"),
    ];
    let mut policy = format!("target web1 docker {name}\n");
    for (key, user, _, _) in cases {
        policy.push_str(&format!("permit {key} on web1 as {user} cmd id ...\n"));
    }
    policy.push_str("permit nobody-here on web1 as nosuch cmd touch /tmp/marker\n");
    env.config(&policy);

    for (key, user, uid, gid) in cases {
        let mut ours = |flag: &str| {
            env.gate(key, "web1", &format!("id {flag}"))
                .ok()
                .trim()
                .to_owned()
        };
        let (u, g, groups) = (ours("-u"), ours("-g"), ours("-G"));
        let (code, theirs_groups) = engine_exec("docker", &name, &["-u", user], &["id", "-G"]);
        assert_eq!(code, 0, "docker exec -u {user}");
        assert_eq!((u.as_str(), g.as_str()), (uid, gid), "as {user}");
        assert_eq!(
            (u.clone(), g.clone()),
            (
                engine_exec("docker", &name, &["-u", user], &["id", "-u"])
                    .1
                    .trim()
                    .to_owned(),
                engine_exec("docker", &name, &["-u", user], &["id", "-g"])
                    .1
                    .trim()
                    .to_owned()
            ),
            "as {user} vs docker exec -u {user}"
        );
        // Known difference (see the report): only ever fewer groups.
        assert_eq!(
            words(&groups),
            words(&theirs_groups),
            "as {user}: groups {groups:?}, docker exec {theirs_groups:?}"
        );
    }

    let out = env.gate("nobody-here", "web1", "touch /tmp/marker");
    env.assert_refused(&out, "web1", NOT_ENTERED, "user \"nosuch\" not found");
    let (code, out) = engine_exec("docker", &name, &[], &["ls", "/tmp"]);
    assert_eq!((code, out.as_str()), (0, ""), "the refused command ran");
}

// ------------------------------ runtime settings and what replaces them

/// The runtime's environment (`-e`) under the rule's `env`, and HOSTNAME as
/// uname(2) gives it in the container, never the runtime's word for it
/// (nsgate(8), "Environment").
#[test]
fn rule_env_over_the_runtimes_and_hostname_from_uname() {
    if !e2e("rule_env_over_the_runtimes_and_hostname_from_uname") {
        return;
    }
    let mut env = Env::new("rt-env");
    let (name, _) = env.docker(
        "rt-env",
        &[
            "--hostname",
            "web1",
            "-e",
            "FOO=runtime",
            "-e",
            "BAR=runtime",
            "-e",
            "PAGER=less",
        ],
    );
    env.config(&format!(
        "target web1 docker {name}\npermit * on * env FOO=rule env PAGER=more cmd env\n"
    ));
    let named = |env: &str, name: &str| -> Vec<String> {
        env.lines()
            .filter(|l| l.starts_with(&format!("{name}=")))
            .map(str::to_owned)
            .collect()
    };
    let theirs = dexec(&name, &["env"]);
    let ours = env.gate("alice", "web1", "env").ok().to_owned();
    for (var, docker_exec, nsgate) in [
        ("FOO", "FOO=runtime", "FOO=rule"),
        ("BAR", "BAR=runtime", "BAR=runtime"),
        ("PAGER", "PAGER=less", "PAGER=more"),
        ("HOSTNAME", "HOSTNAME=web1", "HOSTNAME=web1"),
    ] {
        assert_eq!(named(&theirs, var), [docker_exec], "docker exec: {theirs}");
        assert_eq!(named(&ours, var), [nsgate], "nsgate: {ours}");
    }
    // The container's host name changes; the runtime still says web1.
    let pid = engine_pid("docker", &name).to_string();
    must(
        "nsenter",
        &["--target", &pid, "--uts", "hostname", "renamed"],
    );
    let said = must("docker", &["inspect", "-f", "{{.Config.Hostname}}", &name]);
    assert_eq!(said.trim(), "web1");
    assert_eq!(dexec(&name, &["uname", "-n"]), "renamed\n");
    let ours = env.gate("alice", "web1", "env").ok().to_owned();
    assert_eq!(named(&ours, "HOSTNAME"), ["HOSTNAME=renamed"], "{ours}");
}

/// The target's `cwd` over the runtime's working directory (`-w`).
#[test]
fn target_cwd_over_the_runtimes_working_dir() {
    if !e2e("target_cwd_over_the_runtimes_working_dir") {
        return;
    }
    let mut env = Env::new("rt-cwd");
    let (name, _) = env.docker("rt-cwd", &["-w", "/srv"]);
    env.config(&format!(
        "target web1 docker {name}\n\
         target web2 docker {name} cwd /tmp\n\
         permit * on * cmd pwd\n"
    ));
    assert_eq!(dexec(&name, &["pwd"]), "/srv\n");
    assert_eq!(env.gate("alice", "web1", "pwd").ok(), "/srv\n");
    assert_eq!(env.gate("alice", "web2", "pwd").ok(), "/tmp\n");
}

/// The runtime's user (`--user`) with a group added by number
/// (`--group-add`), and a rule's `as root` over that user: as `docker exec`
/// and `docker exec -u root`.
#[test]
fn as_root_over_the_runtimes_user_and_a_group_added_by_number() {
    if !e2e("as_root_over_the_runtimes_user_and_a_group_added_by_number") {
        return;
    }
    let mut env = Env::new("rt-user");
    let (name, _) = env.docker("rt-user", &["--user", "app", "--group-add", "77"]);
    env.config(&format!(
        "target web1 docker {name}\n\
         permit runtime-user on web1 cmd id ...\n\
         permit as-root on web1 as root cmd id ...\n"
    ));
    for (key, exec_opts, uid, gid) in [
        ("runtime-user", &[][..], "1000", "1000"),
        ("as-root", &["-u", "root"][..], "0", "0"),
    ] {
        let mut ours = |flag: &str| {
            env.gate(key, "web1", &format!("id {flag}"))
                .ok()
                .trim()
                .to_owned()
        };
        let (u, g, groups) = (ours("-u"), ours("-g"), ours("-G"));
        let theirs = |flag: &str| {
            let (code, out) = engine_exec("docker", &name, exec_opts, &["id", flag]);
            assert_eq!(code, 0, "docker exec {exec_opts:?} id {flag}");
            out.trim().to_owned()
        };
        assert_eq!((u.as_str(), g.as_str()), (uid, gid), "{key}");
        assert_eq!((u, g), (theirs("-u"), theirs("-g")), "{key}");
        assert!(words(&groups).contains("77"), "{key}: {groups}");
        assert_eq!(words(&groups), words(&theirs("-G")), "{key}");
    }
}

/// The filter docker gave the container is the one the command gets: the
/// default profile, none, and a profile of our own that forbids mkdir.
#[test]
fn seccomp_filter_as_docker_exec() {
    if !e2e("seccomp_filter_as_docker_exec") {
        return;
    }
    let mut env = Env::new("seccomp");
    let profile = env.dir.join("no-mkdir.json");
    fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let no_mkdir = format!("seccomp={}", profile.display());
    for (suffix, opts, mode, mkdir, unshare) in [
        ("seccomp-default", &[][..], "2", 0, 1),
        (
            "seccomp-unconfined",
            &["--security-opt", "seccomp=unconfined"][..],
            "0",
            0,
            0,
        ),
        (
            "seccomp-no-mkdir",
            &["--security-opt", no_mkdir.as_str()][..],
            "2",
            1,
            0,
        ),
    ] {
        let status = assert_confinement(&mut env, suffix, opts);
        assert_eq!(status_field(&status, "Seccomp"), mode, "{opts:?}");
        let name = format!("nsgate-dk-{suffix}");
        env.config(&format!(
            "target web1 docker {name}\n\
             permit * on * cmd mkdir /tmp/made\n\
             permit * on * cmd unshare -U true\n"
        ));
        for (request, want) in [("mkdir /tmp/made", mkdir), ("unshare -U true", unshare)] {
            // Each starts without the directory the other may have made.
            let rmdir = || engine_exec("docker", &name, &[], &["rmdir", "/tmp/made"]);
            let ours = env.gate("alice", "web1", request);
            let _ = rmdir();
            let argv: Vec<&str> = request.split(' ').collect();
            let (theirs, _) = engine_exec("docker", &name, &[], &argv);
            let _ = rmdir();
            assert_eq!(
                (ours.code, theirs),
                (want, want),
                "{opts:?} {request}: nsgate {ours:?}"
            );
            if want != 0 {
                assert!(
                    ours.stderr.contains("Operation not permitted"),
                    "{opts:?} {request}: {ours:?}"
                );
            }
        }
        // The copy left the container's init running and untraced.
        let pid = engine_pid("docker", &name);
        let init = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert_eq!(status_field(&init, "TracerPid"), "0", "{opts:?}");
        assert!(
            status_field(&init, "State").starts_with('S'),
            "{opts:?}: {init}"
        );
    }

    // A filter that makes setresuid "succeed" without running could keep the
    // command root: such a target is refused, and nothing runs.
    let fake = env.dir.join("fake-setresuid.json");
    fs::write(
        &fake,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["setresuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", fake.display());
    let (name, _) = env.docker("seccomp-fake", &["--security-opt", &opt]);
    env.config(&format!(
        "target web1 docker {name} user app\npermit * on * cmd touch /tmp/ran\n"
    ));
    let out = env.gate("alice", "web1", "touch /tmp/ran");
    env.assert_refused(&out, "web1", NOT_ENTERED, "seem to succeed");
    let (code, _) = engine_exec("docker", &name, &[], &["test", "-e", "/tmp/ran"]);
    assert_eq!(code, 1, "the command ran");

    // A paused container's init is in a frozen cgroup: refused at once from
    // the freezer's state, without waiting for the init to stop for the
    // copy (it never would), nothing run, and the init untraced.
    let name = "nsgate-dk-seccomp-default";
    let pid = engine_pid("docker", name);
    let pidfile = env.dir.join("frozen.pid");
    write_trusted(&pidfile, &pid.to_string());
    env.config(&format!(
        "target web1 pidfile {}\npermit * on * cmd touch /tmp/ran\n",
        pidfile.display()
    ));
    must("docker", &["pause", name]);
    let start = std::time::Instant::now();
    let frozen = env.gate("alice", "web1", "touch /tmp/ran");
    let took = start.elapsed();
    must("docker", &["unpause", name]);
    env.assert_refused(&frozen, "web1", NOT_ENTERED, "the container is paused");
    assert!(took < Duration::from_millis(500), "{took:?}");
    let (code, _) = engine_exec("docker", name, &[], &["test", "-e", "/tmp/ran"]);
    assert_eq!(code, 1, "the command ran");
    let init = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(status_field(&init, "TracerPid"), "0");
}

/// The cache entry /run/nsgate/seccomp/PID-START-COUNT of init `pid`.
fn cache_entry(pid: i32) -> PathBuf {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields = &stat[stat.rfind(')').unwrap() + 2..];
    // Field 22 of proc(5), the 20th after the command name.
    let start = fields.split(' ').nth(19).unwrap();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let count = status_field(&status, "Seccomp_filters");
    PathBuf::from(format!("/run/nsgate/seccomp/{pid}-{start}-{count}"))
}

/// A second session on a container takes the init's seccomp filters from
/// the cache and leaves the init alone: it runs while another tracer
/// (strace) holds the init, which a copy could not attach to. A restarted
/// container (a new init) gets a copy of its own, and the old entry goes.
#[test]
fn seccomp_filters_are_cached_per_init() {
    if !e2e("seccomp_filters_are_cached_per_init") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let mut env = Env::new("cache");
    let (name, _) = env.docker("cache", &[]);
    env.config(&format!(
        "target web1 docker {name}\npermit * on * cmd true\n"
    ));
    let pid = engine_pid("docker", &name);
    let first = cache_entry(pid);
    let _ = fs::remove_file(&first);
    env.gate("alice", "web1", "true").ok();
    let meta = fs::metadata(&first).expect("no cache entry after the first session");
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600));
    let dir = fs::metadata("/run/nsgate/seccomp").unwrap();
    assert_eq!((dir.uid(), dir.mode() & 0o7777), (0, 0o700));

    let mut strace = Command::new("strace")
        .args([
            "-p",
            &pid.to_string(),
            "-e",
            "trace=none",
            "-o",
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace (scripts/test installs it)");
    let tracer = || {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status_field(&status, "TracerPid").to_string()
    };
    wait_until("strace to attach", Duration::from_secs(10), || {
        tracer() != "0"
    });
    let start = Instant::now();
    let cached = env.gate("alice", "web1", "true");
    let took = start.elapsed();
    // The observable means something: without the entry, the copy fails.
    fs::remove_file(&first).unwrap();
    let copied = env.gate("alice", "web1", "true");
    strace.kill().unwrap();
    strace.wait().unwrap();
    wait_until("strace to detach", Duration::from_secs(10), || {
        tracer() == "0"
    });
    cached.ok();
    assert!(took < Duration::from_secs(1), "{took:?}");
    env.assert_refused(&copied, "web1", NOT_ENTERED, "another process traces it");
    assert!(!first.exists(), "a failed copy was cached");

    env.gate("alice", "web1", "true").ok();
    assert!(first.exists());
    must("docker", &["restart", "-t", "0", &name]);
    let second = cache_entry(engine_pid("docker", &name));
    assert_ne!(first, second);
    env.gate("alice", "web1", "true").ok();
    assert!(second.exists(), "no entry for the new init");
    assert!(!first.exists(), "the old init's entry was not pruned");
}
