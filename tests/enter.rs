//! Entering a real container (§5, §7): a throwaway one built by
//! tests/support/mkcontainer.sh with unshare around a busybox root, entered
//! by the real binary in gate mode through a `pidfile` target naming its
//! init (`gate`), with the records read from a socket the test binds.
//!
//! These tests need root and unshare. Without them they say so and pass,
//! unless NSGATE_E2E=1, where they fail. The runtime's settings (Docker's
//! Config.User, Env, WorkingDir, Hostname, GroupAdd), which a pidfile target
//! has not, are tested in tests/target.rs and tests/docker.rs.
#![forbid(unsafe_code)]

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{
    is_root, private_dir, s, skip_or_fail, support, syslog_setting, unique, wait_limited,
    write_trusted, Line, NSGATE,
};

/// Set on nsgate: must never reach a command.
const HOST_MARKER: (&str, &str) = ("NSGATE_HOST_SECRET", "leaked-from-host");

// ---------------------------------------------------------------- harness

/// Whether these tests can run here; with NSGATE_E2E=1 they must.
fn can_run() -> bool {
    let root = is_root();
    let unshare = Command::new("unshare")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let busybox = Command::new("busybox")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if root && unshare && busybox {
        return true;
    }
    let why = format!(
        "needs root, unshare and busybox (root={root} unshare={unshare} busybox={busybox})"
    );
    skip_or_fail("this test", &why);
    false
}

/// A throwaway container; killed and removed when dropped.
struct Container {
    dir: PathBuf,
    pid: i32,
}

impl Container {
    fn start(mode: &str, env: &[(&str, &str)]) -> Container {
        let dir = std::env::temp_dir().join(unique("nsgate-ct"));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("sh")
            .arg(support("mkcontainer.sh"))
            .arg(&dir)
            .arg(mode)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            panic!(
                "mkcontainer.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let pid = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Container { dir, pid }
    }

    /// Processes in the container's pid namespace other than its init that
    /// are still running (the init, `sleep`, never reaps: zombies stay).
    fn others(&self) -> Vec<String> {
        let ns = std::fs::read_link(format!("/proc/{}/ns/pid", self.pid)).unwrap();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(pid) = name.parse::<i32>() else {
                continue;
            };
            if pid == self.pid {
                continue;
            }
            if std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok() != Some(ns.clone()) {
                continue;
            }
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rfind(')')
                .and_then(|i| stat.get(i + 2..i + 3))
                .unwrap_or("?");
            if state != "Z" && !stat.is_empty() {
                found.push(stat);
            }
        }
        found
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // By pid, not pidfd: the init lives a few seconds and the test runs
        // no other process that could take its pid meanwhile.
        let pid = Pid::from_raw(self.pid);
        if kill(pid, Signal::SIGKILL).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while kill(pid, None).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A request to run in a container.
#[derive(Default, Clone)]
struct Req<'a> {
    /// None: an interactive shell.
    argv: Option<&'a [&'a str]>,
    user: Option<&'a str>,
    ns: Option<&'a str>,
    /// The target's `cwd`.
    cwd: Option<&'a str>,
    /// The rule's `cwd`, over the target's.
    rule_cwd: Option<&'a str>,
    env: &'a [&'a str],
    tty: bool,
    timeout_ms: Option<u64>,
    /// What the command reads on stdin (default: nothing, /dev/null).
    stdin: Option<&'a str>,
}

fn cmd<'a>(argv: &'a [&'a str]) -> Req<'a> {
    Req {
        argv: Some(argv),
        ..Req::default()
    }
}

/// How a session ended, as its records say.
#[derive(Debug, PartialEq, Eq)]
enum Res {
    /// Exit code, signal name, who ended it.
    Ok(i32, String, String),
    /// Exit code and message.
    Err(i32, String),
}

#[derive(Debug)]
struct Ran {
    stdout: String,
    #[allow(dead_code)] // shown by Debug when an assertion fails
    stderr: String,
    res: Res,
    /// nsgate's exit code.
    code: i32,
    /// The namespaces the allow record names.
    ns: Option<String>,
}

/// Waits until `done`, failing the test (not hanging it) after `limit`.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for nsgate (or `script`), failing the test (not hanging it) after
/// a minute.
fn wait(child: &mut std::process::Child) -> std::process::ExitStatus {
    wait_limited(child, Duration::from_secs(60), "nsgate")
}

// ------------------------------------------------------- gate mode

/// nsgate in gate mode, as sshd starts it, for `req` on a `pidfile` target
/// naming `c`'s init: the rule and target lines say what `Req` asks for
/// (rules: `as`, `ns`, `cwd`, `env`, `tty`, `timeout`; the target: `cwd`), and
/// the records go to a socket the test binds. Returns the command, its
/// directory and that socket; stdin, stdout and stderr are the caller's.
fn gate_setup(c: &Container, req: &Req<'_>) -> (Command, PathBuf, UnixDatagram) {
    let dir = private_dir("nsgate-enter", &unique("gate"));
    let pidfile = dir.join("init.pid");
    write_trusted(&pidfile, &format!("{}\n", c.pid));
    let socket = dir.join("log.sock");
    let syslog = UnixDatagram::bind(&socket).unwrap();
    syslog.set_nonblocking(true).unwrap();
    let mut target = format!("target ct pidfile {}", s(&pidfile));
    if let Some(cwd) = req.cwd {
        target += &format!(" cwd {cwd}");
    }
    let mut rule = "permit alice on ct".to_string();
    if let Some(user) = req.user {
        rule += &format!(" as {user}");
    }
    if let Some(ns) = req.ns {
        rule += &format!(" ns {ns}");
    }
    if let Some(cwd) = req.rule_cwd {
        rule += &format!(" cwd {cwd}");
    }
    if let Some(ms) = req.timeout_ms {
        assert_eq!(ms % 1000, 0, "timeouts are whole seconds");
        rule += &format!(" timeout {}s", ms / 1000);
    }
    // A shell rule always gives one, and takes no `tty`.
    if req.tty && req.argv.is_some() {
        rule += " tty";
    }
    for var in req.env {
        rule += &format!(" env {var}");
    }
    match req.argv {
        Some(argv) => rule += &format!(" cmd {} ...", argv[0]),
        None => rule += " shell",
    }
    let conf = dir.join("nsgate.conf");
    write_trusted(
        &conf,
        &format!("{}\n{target}\n{rule}\n", syslog_setting(&socket)),
    );
    let mut command = Command::new(NSGATE);
    command
        .args(["--config", s(&conf), "--key", "alice", "ct"])
        .env_clear()
        .env(HOST_MARKER.0, HOST_MARKER.1);
    if let Some(argv) = req.argv {
        command.env("SSH_ORIGINAL_COMMAND", request(argv));
    }
    (command, dir, syslog)
}

/// The records a session sent, once it has ended.
fn records_of(syslog: &UnixDatagram) -> Vec<Line> {
    let mut records = Vec::new();
    let mut buf = vec![0u8; 9000];
    while let Ok(n) = syslog.recv(&mut buf) {
        records.push(Line::datagram(std::str::from_utf8(&buf[..n]).unwrap()));
    }
    records
}

/// Runs `req` on `c` to the end.
fn run(c: &Container, req: &Req<'_>) -> Ran {
    let (mut command, dir, syslog) = gate_setup(c, req);
    let stdin = match req.stdin {
        Some(text) => {
            let path = dir.join("in");
            std::fs::write(&path, text).unwrap();
            Stdio::from(std::fs::File::open(&path).unwrap())
        }
        None => Stdio::null(),
    };
    let (out_path, err_path) = (dir.join("out"), dir.join("err"));
    let mut child = command
        .stdin(stdin)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = wait(&mut child);
    let records = records_of(&syslog);
    let ran = Ran {
        stdout: String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned(),
        res: outcome(&records),
        code: status.code().unwrap_or(-1),
        ns: records
            .iter()
            .find(|r| r.text("event") == "allow")
            .map(|r| r.text("ns")),
    };
    let _ = std::fs::remove_dir_all(&dir);
    ran
}

/// The request that gives exactly `argv`, each word single-quoted.
fn request(argv: &[&str]) -> String {
    argv.iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the session's records say: how the command ended (exit code,
/// signal name without `SIG`, who ended it), or why it did not run.
fn outcome(records: &[Line]) -> Res {
    let last = records.last().unwrap_or_else(|| panic!("no audit record"));
    let reason = last
        .bytes("reason")
        .map(|r| String::from_utf8_lossy(r).into_owned());
    match last.text("event").as_str() {
        "error" => Res::Err(125, reason.unwrap()),
        "exit" => {
            assert_eq!(records.len(), 2, "{records:?}");
            assert_eq!(records[0].text("event"), "allow");
            let (code, signal) = match last.bytes("signal") {
                Some(sig) => {
                    let name = std::str::from_utf8(sig).unwrap();
                    let number = name.parse::<nix::sys::signal::Signal>().unwrap() as i32;
                    (128 + number, name.strip_prefix("SIG").unwrap().to_string())
                }
                None => (last.text("status").parse().unwrap(), "-".to_string()),
            };
            match reason.as_deref() {
                None => Res::Ok(code, signal, "-".into()),
                Some("timeout") => Res::Ok(code, signal, "Timeout".into()),
                Some("disconnect") => Res::Ok(code, signal, "Disconnect".into()),
                Some(why) => Res::Err(code, why.to_string()),
            }
        }
        e => panic!("the session's last record is {e}: {records:?}"),
    }
}

/// Runs and expects exit 0; returns stdout.
fn ok(c: &Container, req: &Req<'_>) -> String {
    let ran = run(c, req);
    assert_eq!(ran.res, Res::Ok(0, "-".into(), "-".into()), "{ran:?}");
    ran.stdout
}

// ---------------------------------------------------------------- tests

#[test]
fn sees_the_containers_hostname_processes_network_and_mounts() {
    if !can_run() {
        return;
    }
    for mode in ["pivot", "chroot"] {
        let c = Container::start(mode, &[("NSGATE_TEST_HOSTNAME", "web1-test")]);
        assert_eq!(ok(&c, &cmd(&["hostname"])), "web1-test\n");
        // Only the container's processes: its init and ps itself.
        let ps = ok(&c, &cmd(&["ps", "-o", "pid,comm"]));
        let rows: Vec<&str> = ps.lines().skip(1).map(str::trim).collect();
        assert_eq!(rows.len(), 2, "{mode}: {ps}");
        assert_eq!(rows[0], "1 sleep", "{mode}: {ps}");
        // Exec'd by descriptor, a busybox applet's name is busybox's.
        assert!(rows[1].ends_with(" busybox"), "{mode}: {ps}");
        // Its network: loopback only, none of the host's interfaces.
        let dev = ok(&c, &cmd(&["cat", "/proc/net/dev"]));
        let inside: Vec<&str> = dev
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert!(inside.contains(&"lo"), "{dev}");
        let host = std::fs::read_to_string("/proc/net/dev").unwrap();
        for name in host.lines().skip(2).filter_map(|l| l.split(':').next()) {
            let name = name.trim();
            if name != "lo" {
                assert!(
                    !inside.contains(&name),
                    "host interface {name} inside: {dev}"
                );
            }
        }
        // Its mounts and files: the busybox root, not the host's.
        let passwd = ok(&c, &cmd(&["cat", "/etc/passwd"]));
        assert!(
            passwd.contains("app:x:1000:1000:App:/home/app:/bin/ash"),
            "{passwd}"
        );
        let ran = run(&c, &cmd(&["ls", env!("CARGO_MANIFEST_DIR")]));
        assert_eq!(
            ran.res,
            Res::Ok(1, "-".into(), "-".into()),
            "{mode}: {ran:?}"
        );
        let mounts = ok(&c, &cmd(&["cat", "/proc/self/mountinfo"]));
        let inside_mounts: Vec<&str> = mounts
            .lines()
            .map(|l| l.split(' ').nth(4).unwrap())
            .collect();
        assert!(inside_mounts.contains(&"/dev/pts"), "{mode}: {mounts}");
        assert!(
            !inside_mounts.contains(&"/sys/fs/cgroup"),
            "{mode}: {mounts}"
        );
        assert_eq!(ok(&c, &cmd(&["pwd"])), "/\n", "{mode}");
    }
}

#[test]
fn same_namespaces_as_the_target() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    let names = ["mnt", "uts", "ipc", "net", "pid", "cgroup", "time", "user"];
    let script = names
        .iter()
        .map(|n| format!("readlink /proc/1/ns/{n}; readlink /proc/self/ns/{n}"))
        .collect::<Vec<_>>()
        .join("; ");
    let out = ok(&c, &cmd(&["sh", "-c", &script]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 16, "{out}");
    for pair in lines.chunks(2) {
        assert_eq!(pair[0], pair[1], "{out}");
    }
    // Every namespace but user differs from the host's, and the allow
    // record names those entered; a restriction holds.
    let ran = run(&c, &cmd(&["true"]));
    assert_eq!(ran.res, Res::Ok(0, "-".into(), "-".into()), "{ran:?}");
    assert_eq!(ran.ns.as_deref(), Some("mnt,uts,ipc,net,pid,cgroup,time"));
    let out = ok(
        &c,
        &Req {
            ns: Some("uts"),
            ..cmd(&["hostname"])
        },
    );
    assert_eq!(out, "nsgate-test\n");
    // Only uts: the host's files and network.
    let out = ok(
        &c,
        &Req {
            ns: Some("uts"),
            ..cmd(&["cat", "/proc/net/dev"])
        },
    );
    assert!(out.lines().count() > 3, "{out}");
}

#[test]
fn joins_the_targets_cgroups() {
    if !can_run() {
        return;
    }
    let cg = TestCgroup::new();
    let c = Container::start("pivot", &[("NSGATE_TEST_CGROUP", &cg.name)]);
    let target = std::fs::read_to_string(format!("/proc/{}/cgroup", c.pid)).unwrap();
    assert!(target.contains(&cg.name), "{target}");
    let out = ok(
        &c,
        &cmd(&[
            "sh",
            "-c",
            "cat /proc/1/cgroup; echo ---; cat /proc/self/cgroup",
        ]),
    );
    let (init, ours) = out.split_once("---\n").unwrap();
    // The same, but for the session's own cgroup below the target's in v2,
    // named for the session (nsgate(8), "Cgroup").
    let session = |l: &str| {
        let (parent, name) = l.rsplit_once('/')?;
        let sid = name.strip_prefix("nsgate-")?;
        (l.starts_with("0::") && sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| if parent == "0::" { "0::/" } else { parent }.to_string())
    };
    let ours: Vec<String> = ours
        .lines()
        .map(|l| session(l).unwrap_or_else(|| l.to_string()))
        .collect();
    assert_eq!(init.lines().collect::<Vec<_>>(), ours);
    // From the host: while a command runs, the test cgroups hold it too.
    let ran = {
        let (mut command, dir, _syslog) = gate_setup(&c, &cmd(&["sleep", "2"]));
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        // In v2 the command is in the session's cgroup, below the test's.
        let members: Vec<String> = cg
            .procs_files()
            .iter()
            .map(|f| {
                let below: String = std::fs::read_dir(f.parent().unwrap())
                    .unwrap()
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("nsgate-"))
                    .map(|e| std::fs::read_to_string(e.path().join("cgroup.procs")).unwrap())
                    .collect();
                std::fs::read_to_string(f).unwrap() + &below
            })
            .collect();
        wait(&mut child);
        let _ = std::fs::remove_dir_all(&dir);
        members
    };
    for m in &ran {
        // The init and the command (sleep) in every hierarchy.
        assert!(m.lines().count() >= 2, "{ran:?}");
    }
    drop(c);
}

/// A cgroup of the same name in every hierarchy, removed when dropped.
struct TestCgroup {
    name: String,
}

impl TestCgroup {
    fn hierarchies() -> Vec<PathBuf> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        mountinfo
            .lines()
            .filter(|l| l.contains(" - cgroup ") || l.contains(" - cgroup2 "))
            .map(|l| PathBuf::from(l.split(' ').nth(4).unwrap()))
            .collect()
    }

    fn new() -> TestCgroup {
        let name = unique("nsgate-test");
        for h in Self::hierarchies() {
            let dir = h.join(&name);
            std::fs::create_dir(&dir).unwrap();
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(h.join(f)) {
                    std::fs::write(dir.join(f), v).unwrap();
                }
            }
        }
        TestCgroup { name }
    }

    fn procs_files(&self) -> Vec<PathBuf> {
        Self::hierarchies()
            .into_iter()
            .map(|h| h.join(&self.name).join("cgroup.procs"))
            .collect()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for h in Self::hierarchies() {
            let dir = h.join(&self.name);
            for _ in 0..50 {
                if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A container the cgroup freezer holds, through the v1 freezer hierarchy
/// or the v2 (unified) one, is refused at once, nothing run (a command
/// joining its cgroup would freeze too, and nsgate hang); thawed, it is
/// entered again.
#[test]
fn a_frozen_container_is_refused_at_once() {
    if !can_run() {
        return;
    }
    let cg = TestCgroup::new();
    let c = Container::start("pivot", &[("NSGATE_TEST_CGROUP", &cg.name)]);
    let mut freezers = Vec::new();
    for h in TestCgroup::hierarchies() {
        let dir = h.join(&cg.name);
        if dir.join("freezer.state").exists() {
            freezers.push((dir.join("freezer.state"), "FROZEN", "THAWED"));
        }
        if dir.join("cgroup.freeze").exists() {
            freezers.push((dir.join("cgroup.freeze"), "1", "0"));
        }
    }
    assert!(!freezers.is_empty(), "no cgroup freezer here");
    for (file, freeze, thaw) in freezers {
        std::fs::write(&file, freeze).unwrap();
        let start = Instant::now();
        let ran = run(&c, &cmd(&["true"]));
        let took = start.elapsed();
        std::fs::write(&file, thaw).unwrap();
        match &ran.res {
            Res::Err(125, why) => assert!(
                why.starts_with("cannot enter the container: the container is paused ("),
                "{}: {ran:?}",
                file.display()
            ),
            _ => panic!("{}: {ran:?}", file.display()),
        }
        // At once, not after waiting on the frozen cgroup.
        assert!(
            took < Duration::from_secs(1),
            "{}: {took:?}",
            file.display()
        );
        ok(&c, &cmd(&["true"]));
    }
    drop(c);
}

#[test]
fn only_fds_0_1_2_and_no_host_environment() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    // `; true` keeps sh from exec'ing ls in its place.
    assert_eq!(
        ok(&c, &cmd(&["sh", "-c", "ls /proc/$$/fd; true"])),
        "0\n1\n2\n"
    );
    let env = ok(
        &c,
        &Req {
            env: &["FOO=rule", "PAGER=more"],
            ..cmd(&["env"])
        },
    );
    let mut vars: Vec<&str> = env.lines().collect();
    vars.sort();
    assert_eq!(
        vars,
        [
            "FOO=rule",
            "GIT_PAGER=cat",
            "HOME=/root",
            // uname(2)'s, never a file (nsgate(8)).
            "HOSTNAME=nsgate-test",
            "LESSSECURE=1",
            "LOGNAME=root",
            "PAGER=more",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SHELL=/bin/sh",
            "SYSTEMD_PAGERSECURE=1",
            "USER=root",
        ],
        "{env}"
    );
    assert!(!env.contains(HOST_MARKER.1), "{env}");
    // Without the rule's env: no TERM without a terminal.
    let env = ok(&c, &cmd(&["env"]));
    assert!(env.contains("HOSTNAME=nsgate-test\n"), "{env}");
    assert!(!env.contains("TERM="), "{env}");
}

#[test]
fn exit_codes_come_back() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    let cases: &[(&[&str], Res)] = &[
        (&["true"], Res::Ok(0, "-".into(), "-".into())),
        (&["sh", "-c", "exit 3"], Res::Ok(3, "-".into(), "-".into())),
        (
            &["sh", "-c", "kill -TERM $$"],
            Res::Ok(143, "TERM".into(), "-".into()),
        ),
        (
            &["sh", "-c", "kill -KILL $$"],
            Res::Ok(137, "KILL".into(), "-".into()),
        ),
        (&["hello", "a b"], Res::Ok(0, "-".into(), "-".into())),
    ];
    for (argv, want) in cases {
        let ran = run(&c, &cmd(argv));
        assert_eq!(&ran.res, want, "{argv:?}: {ran:?}");
    }
    assert_eq!(
        ok(&c, &cmd(&["hello", "a b"])),
        "hello from a script: a b\n"
    );
    let ran = run(&c, &cmd(&["no-such-program"]));
    assert_eq!(
        ran.res,
        Res::Err(127, "no-such-program: not found in the container".into()),
        "{ran:?}"
    );
    assert_eq!(ran.code, 127);
    let ran = run(&c, &cmd(&["/usr/local/bin/no-such-program"]));
    assert!(matches!(ran.res, Res::Err(127, _)), "{ran:?}");
    let ran = run(&c, &cmd(&["notexec"]));
    assert!(matches!(ran.res, Res::Err(126, _)), "{ran:?}");
    let ran = run(&c, &cmd(&["/etc/passwd"]));
    assert!(matches!(ran.res, Res::Err(126, _)), "{ran:?}");
    let ran = run(&c, &cmd(&["/etc"]));
    assert!(matches!(ran.res, Res::Err(126, _)), "{ran:?}");
    // A program through /proc/self/exe would be nsgate's own binary.
    let ran = run(&c, &cmd(&["/proc/self/exe"]));
    assert!(matches!(ran.res, Res::Err(126, _)), "{ran:?}");
    let ran = run(
        &c,
        &Req {
            cwd: Some("/no/such/dir"),
            ..cmd(&["true"])
        },
    );
    assert!(
        matches!(ran.res, Res::Err(125, ref m) if m.contains("/no/such/dir")),
        "{ran:?}"
    );
}

#[test]
fn working_directory() {
    if !can_run() {
        return;
    }
    let c = Container::start("chroot", &[]);
    let pwd = |req: Req<'_>| ok(&c, &req);
    assert_eq!(pwd(cmd(&["pwd"])), "/\n");
    assert_eq!(
        pwd(Req {
            cwd: Some("/srv/data"),
            ..cmd(&["pwd"])
        }),
        "/srv/data\n"
    );
    // A rule's cwd over the target's.
    assert_eq!(
        pwd(Req {
            cwd: Some("/srv/data"),
            rule_cwd: Some("/tmp"),
            ..cmd(&["pwd"])
        }),
        "/tmp\n"
    );
    // Through /proc/self links: refused.
    let ran = run(
        &c,
        &Req {
            cwd: Some("/proc/self/cwd"),
            ..cmd(&["pwd"])
        },
    );
    assert!(matches!(ran.res, Res::Err(125, _)), "{ran:?}");
    let ran = run(
        &c,
        &Req {
            cwd: Some("/proc/1/root/etc"),
            ..cmd(&["pwd"])
        },
    );
    assert!(matches!(ran.res, Res::Err(125, _)), "{ran:?}");
    // `..` cannot climb out of the container's root.
    assert_eq!(
        pwd(Req {
            cwd: Some("/../../.."),
            ..cmd(&["ls", "/"])
        })
        .lines()
        .count(),
        9
    );
}

#[test]
fn sigterm_to_nsgate_reaches_the_command() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    let script = "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done";
    let (mut command, dir, syslog) = gate_setup(&c, &cmd(&["sh", "-c", script]));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    // The nsgate just started is the supervising process.
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "got-term");
    wait(&mut child);
    assert_eq!(
        outcome(&records_of(&syslog)),
        Res::Ok(7, "-".into(), "-".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A SIGTERM that reaches nsgate while it is still entering, or before it
/// has learnt the command's pid, is held and then forwarded: the session
/// ends, it does not run on unsignalled.
#[test]
fn sigterm_before_the_command_is_known_still_reaches_it() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    for delay_ms in [0, 5, 15, 40, 100] {
        let (mut command, dir, _syslog) = gate_setup(&c, &cmd(&["sleep", "1000"]));
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let status = wait_limited(&mut child, Duration::from_secs(15), "nsgate after SIGTERM");
        assert!(!status.success(), "after {delay_ms} ms: {status}");
        assert_eq!(c.others(), Vec::<String>::new(), "after {delay_ms} ms");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn timeout_ends_the_whole_session() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    let start = Instant::now();
    let ran = run(
        &c,
        &Req {
            timeout_ms: Some(1000),
            ..cmd(&["sh", "-c", "sleep 1000 & setsid sleep 1001 & sleep 1002"])
        },
    );
    assert_eq!(
        ran.res,
        Res::Ok(143, "TERM".into(), "Timeout".into()),
        "{ran:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(c.others(), Vec::<String>::new());
    // A command that ignores SIGTERM is killed 5 s later.
    let start = Instant::now();
    let ran = run(
        &c,
        &Req {
            timeout_ms: Some(1000),
            ..cmd(&[
                "sh",
                "-c",
                "trap '' TERM; sleep 1000 & while :; do sleep 1; done",
            ])
        },
    );
    assert_eq!(
        ran.res,
        Res::Ok(137, "KILL".into(), "Timeout".into()),
        "{ran:?}"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(c.others(), Vec::<String>::new());
}

#[test]
fn client_disconnect_ends_it_but_eof_on_stdin_does_not() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    // EOF on stdin (stdin is /dev/null): an ordinary session.
    assert_eq!(
        ok(&c, &cmd(&["sh", "-c", "cat; sleep 0.3; echo done"])),
        "done\n"
    );
    // The command closing its own stdout: still an ordinary session.
    assert_eq!(ok(&c, &cmd(&["sh", "-c", "exec >&-; sleep 0.3"])), "");
    // The reader of stdout gone: the session ends.
    let (mut command, dir, syslog) = gate_setup(&c, &cmd(&["sh", "-c", "sleep 1000 & sleep 1001"]));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    wait_until("the command", Duration::from_secs(10), || {
        c.others().len() >= 2
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(out);
    let status = wait(&mut child);
    assert_eq!(status.code(), Some(143));
    assert_eq!(
        outcome(&records_of(&syslog)),
        Res::Ok(143, "TERM".into(), "Disconnect".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(c.others(), Vec::<String>::new());
}

/// The `Uid`, `Gid` and `Groups` lines of the command's /proc/self/status,
/// as `uid gid [groups]`.
fn ids(c: &Container, req: Req<'_>) -> String {
    let status = ok(
        c,
        &Req {
            argv: Some(&["cat", "/proc/self/status"]),
            ..req
        },
    );
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    let (uid, gid, groups) = (field("Uid:"), field("Gid:"), field("Groups:"));
    assert!(uid.iter().all(|u| *u == uid[0]), "{status}");
    assert!(gid.iter().all(|g| *g == gid[0]), "{status}");
    format!("{} {} [{}]", uid[0], gid[0], groups.join(" "))
}

#[test]
fn runs_as_the_container_user() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    let cases: &[(Req<'_>, &str)] = &[
        (Req::default(), "0 0 [0 10]"),
        (
            Req {
                user: Some("root"),
                ..Req::default()
            },
            "0 0 [0 10]",
        ),
        (
            Req {
                user: Some("app"),
                ..Req::default()
            },
            "1000 1000 [10 29 1000]",
        ),
        (
            Req {
                user: Some("1000"),
                ..Req::default()
            },
            "1000 1000 [10 29 1000]",
        ),
        (
            Req {
                user: Some("app:staff"),
                ..Req::default()
            },
            "1000 50 [50]",
        ),
        (
            Req {
                user: Some("app:4242"),
                ..Req::default()
            },
            "1000 4242 [4242]",
        ),
        (
            Req {
                user: Some("1234:1234"),
                ..Req::default()
            },
            "1234 1234 [1234]",
        ),
        (
            Req {
                user: Some("1234"),
                ..Req::default()
            },
            "1234 0 [0]",
        ),
    ];
    for (req, want) in cases {
        assert_eq!(ids(&c, req.clone()), *want, "user {:?}", req.user);
    }
    let env = ok(
        &c,
        &Req {
            user: Some("app"),
            ..cmd(&["env"])
        },
    );
    for var in [
        "HOME=/home/app",
        "USER=app",
        "LOGNAME=app",
        "SHELL=/bin/ash",
    ] {
        assert!(env.lines().any(|l| l == var), "{var}: {env}");
    }
    let env = ok(
        &c,
        &Req {
            user: Some("1234"),
            ..cmd(&["env"])
        },
    );
    assert!(env.lines().any(|l| l == "HOME=/"), "{env}");
    assert!(!env.contains("USER="), "{env}");
    // An interactive session: the user's shell, in the user's home.
    let out = ok(
        &c,
        &Req {
            user: Some("app"),
            stdin: Some("pwd; echo $0; id -un\n"),
            ..Req::default()
        },
    );
    assert_eq!(out, "/home/app\n/bin/ash\napp\n");
    // A home that does not exist: `/`, as login does.
    let out = ok(
        &c,
        &Req {
            user: Some("nohome"),
            argv: None,
            stdin: Some("pwd\n"),
            ..Req::default()
        },
    );
    assert_eq!(out, "/\n");
    // A missing user or group is a refusal.
    for (user, what) in [("ghost", "\"ghost\""), ("app:ghosts", "\"ghosts\"")] {
        let ran = run(
            &c,
            &Req {
                user: Some(user),
                ..cmd(&["true"])
            },
        );
        assert!(
            matches!(&ran.res, Res::Err(125, m) if m.contains(what)),
            "{ran:?}"
        );
    }
}

#[test]
fn hostile_passwd_files_are_refused() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    let passwd = c.dir.join("rootfs/etc/passwd");
    let replace = |make: &dyn Fn(&Path)| {
        let _ = std::fs::remove_file(&passwd);
        make(&passwd);
    };
    let fifo = |p: &Path| {
        assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
    };
    let zero = |p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap();
    let huge = |p: &Path| {
        let f = std::fs::File::create(p).unwrap();
        f.set_len(100 << 20).unwrap();
    };
    let garbage = |p: &Path| std::fs::write(p, b"root:x:0:0:root\n\x00\xff garbage\n").unwrap();
    let escape = |p: &Path| std::os::unix::fs::symlink("/proc/self/root/etc/passwd", p).unwrap();
    type Maker<'a> = &'a dyn Fn(&Path);
    let cases: [(&str, Maker<'_>, &str); 5] = [
        ("fifo", &fifo, "not a regular file"),
        ("/dev/zero", &zero, "not a regular file"),
        ("100 MiB", &huge, "larger than"),
        ("garbage", &garbage, "/etc/passwd"),
        ("/proc link", &escape, "/etc/passwd"),
    ];
    for (name, make, why) in cases {
        replace(make);
        let start = Instant::now();
        for user in ["app", "0"] {
            let ran = run(
                &c,
                &Req {
                    user: Some(user),
                    ..cmd(&["touch", "/tmp/ran"])
                },
            );
            assert!(
                matches!(&ran.res, Res::Err(125, m) if m.contains(why)),
                "{name} as {user}: {ran:?}"
            );
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{name}");
        assert!(
            !c.dir.join("rootfs/tmp/ran").exists(),
            "{name}: the command ran"
        );
    }
    // No passwd at all: numbers still work, names do not.
    let _ = std::fs::remove_file(&passwd);
    assert_eq!(
        ids(
            &c,
            Req {
                user: Some("1000:1000"),
                ..Req::default()
            }
        ),
        "1000 1000 [1000]"
    );
    let ran = run(
        &c,
        &Req {
            user: Some("app"),
            ..cmd(&["true"])
        },
    );
    assert!(
        matches!(&ran.res, Res::Err(125, m) if m.contains("no /etc/passwd")),
        "{ran:?}"
    );
}

/// CapBnd, CapPrm, CapEff, CapInh, CapAmb and NoNewPrivs of a status file.
fn confinement(status: &str) -> [String; 6] {
    [
        "CapBnd:",
        "CapPrm:",
        "CapEff:",
        "CapInh:",
        "CapAmb:",
        "NoNewPrivs:",
    ]
    .map(|f| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(f))
            .unwrap()
            .trim()
            .to_string()
    })
}

#[test]
fn never_more_capabilities_than_the_target() {
    if !can_run() {
        return;
    }
    let caps =
        "-all,+chown,+dac_override,+fowner,+kill,+setgid,+setuid,+sys_chroot,+net_bind_service";
    for (env, nnp) in [
        (vec![], "0"),
        (vec![("NSGATE_TEST_CAPS", caps)], "0"),
        (
            vec![("NSGATE_TEST_CAPS", caps), ("NSGATE_TEST_NNP", "1")],
            "1",
        ),
    ] {
        let c = Container::start("chroot", &env);
        let target =
            confinement(&std::fs::read_to_string(format!("/proc/{}/status", c.pid)).unwrap());
        let zero = "0000000000000000".to_string();
        let root = confinement(&ok(&c, &cmd(&["cat", "/proc/self/status"])));
        assert_eq!(
            root,
            [
                target[0].clone(),
                target[1].clone(),
                target[2].clone(),
                zero.clone(),
                zero.clone(),
                nnp.to_string()
            ],
            "{env:?}"
        );
        let app = confinement(&ok(
            &c,
            &Req {
                user: Some("app"),
                ..cmd(&["cat", "/proc/self/status"])
            },
        ));
        assert_eq!(
            app,
            [
                target[0].clone(),
                zero.clone(),
                zero.clone(),
                zero.clone(),
                zero.clone(),
                nnp.to_string()
            ],
            "{env:?}"
        );
    }
}

#[test]
fn enters_a_user_namespace() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[("NSGATE_TEST_USERNS", "1")]);
    let out = ok(
        &c,
        &cmd(&[
            "sh",
            "-c",
            "readlink /proc/1/ns/user; readlink /proc/self/ns/user; cat /proc/self/uid_map",
        ]),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], lines[1], "{out}");
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>(),
        ["1", "100001", "65535"],
        "{out}"
    );
    assert_eq!(ids(&c, Req::default()), "0 0 [0 10]");
    assert_eq!(
        ids(
            &c,
            Req {
                user: Some("app"),
                ..Req::default()
            }
        ),
        "1000 1000 [10 29 1000]"
    );
    // Outside, the command is the mapped uid.
    assert_eq!(
        ok(
            &c,
            &Req {
                user: Some("app"),
                ..cmd(&["touch", "/home/app/x"])
            }
        ),
        ""
    );
    let meta = std::fs::metadata(c.dir.join("rootfs/home/app/x")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 101000);
}

/// `script` running `line` on a new terminal, with the environment of the
/// gate-mode `nsgate` it runs and `TERM` as a client's.
fn under_script(nsgate: &Command, line: &str) -> Command {
    let mut script = Command::new("script");
    script
        .args(["-qec", line, "/dev/null"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("TERM", "xterm-nsgate");
    for (name, value) in nsgate.get_envs() {
        if let Some(v) = value {
            script.env(name, v);
        }
    }
    script
}

/// The gate-mode command line of `nsgate`, for a shell.
fn command_line(nsgate: &Command) -> String {
    let mut line = shell_quote(nsgate.get_program().to_str().unwrap());
    for arg in nsgate.get_args() {
        line.push(' ');
        line.push_str(&shell_quote(arg.to_str().unwrap()));
    }
    line
}

/// Runs nsgate in gate mode under `script`, so that it has a terminal as
/// under `ssh -t`: `before` and `after` are shell commands run on that
/// terminal around it (`&` after it runs them while it runs). `input` is
/// typed once the terminal shows something, so its echo comes after what
/// the command wrote first. Returns everything the terminal showed, with
/// `\r\n` as `\n`, and the result.
fn run_in_pty(
    c: &Container,
    req: &Req<'_>,
    before: &str,
    after: &str,
    input: &str,
) -> (String, Res) {
    let (nsgate, dir, syslog) = gate_setup(c, req);
    let line = format!("{before} {}{after}", command_line(&nsgate));
    let out_path = dir.join("out");
    let mut child = under_script(&nsgate, &line)
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Like a client, stdin stays open until the session ends.
    let mut stdin = child.stdin.take().unwrap();
    if !input.is_empty() {
        wait_until("output on the terminal", Duration::from_secs(10), || {
            std::fs::metadata(&out_path).is_ok_and(|m| m.len() > 0)
        });
        stdin.write_all(input.as_bytes()).unwrap();
    }
    wait(&mut child);
    drop(stdin);
    let res = outcome(&records_of(&syslog));
    let out = std::fs::read_to_string(&out_path)
        .unwrap()
        .replace("\r\n", "\n");
    let _ = std::fs::remove_dir_all(&dir);
    (out, res)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn a_terminal_inside_the_container() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    let exited = Res::Ok(0, "-".into(), "-".into());
    // `tty` names the container's devpts; the user owns it, group tty, 0620.
    let (out, res) = run_in_pty(
        &c,
        &Req {
            tty: true,
            user: Some("app"),
            ..cmd(&["sh", "-c", "tty; ls -ln $(tty); echo $TERM"])
        },
        "",
        "",
        "",
    );
    assert_eq!(res, exited, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{out}");
    let perms: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&perms[..4], ["crw--w----", "1", "1000", "5"], "{out}");
    assert_eq!(lines[2], "xterm-nsgate", "{out}");
    // A controlling terminal whose foreground group is the command's.
    let (out, res) = run_in_pty(
        &c,
        &Req {
            tty: true,
            ..cmd(&["cat", "/proc/self/stat"])
        },
        "",
        "",
        "",
    );
    assert_eq!(res, exited, "{out}");
    let stat = out;
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // state ppid pgrp session tty_nr tpgid
    assert_ne!(f[4], "0", "{stat}");
    assert_eq!(f[5], f[2], "{stat}");
    // The size, then a change of it, reach the command; the client's
    // terminal is as it was afterwards.
    let (out, res) = run_in_pty(
        &c,
        &Req {
            tty: true,
            ..cmd(&["sh", "-c", "stty size; sleep 2; stty size"])
        },
        "stty rows 33 cols 77; stty -g; (sleep 1; stty rows 44 cols 88 </dev/tty) & ",
        "; wait; stty -g",
        "",
    );
    assert_eq!(res, exited, "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    let before = lines[0];
    let inside: Vec<&str> = lines
        .iter()
        .filter(|l| l.split(' ').all(|w| w.parse::<u16>().is_ok()))
        .copied()
        .collect();
    assert_eq!(inside, ["33 77", "44 88"], "{out}");
    assert_eq!(lines.last(), Some(&before), "{out}");
    // Job control in an interactive shell (the pause lets the job reset
    // the SIGTERM its interactive parent ignores before it is killed).
    let (out, res) = run_in_pty(
        &c,
        &Req {
            tty: true,
            ..Req::default()
        },
        "",
        "",
        "sleep 30 &\nsleep 0.3\njobs\nkill %1\nwait\necho shell-$((6*7))\nexit 5\n",
    );
    assert_eq!(res, Res::Ok(5, "-".into(), "-".into()), "{out}");
    assert!(out.contains("[1]"), "{out}");
    assert!(out.contains("shell-42"), "{out}");
    assert_eq!(c.others(), Vec::<String>::new());
}

#[test]
fn no_terminal_for_a_rule_without_tty() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    // A client terminal, but pipes for the command; relayed both ways.
    let (out, res) = run_in_pty(
        &c,
        &cmd(&[
            "sh",
            "-c",
            "tty; read line; echo got $line; echo err >&2; env",
        ]),
        "",
        "",
        "hello\n",
    );
    assert_eq!(res, Res::Ok(0, "-".into(), "-".into()), "{out}");
    assert!(out.starts_with("not a tty\n"), "{out}");
    assert!(out.contains("got hello\n"), "{out}");
    assert!(out.contains("err\n"), "{out}");
    assert!(!out.contains("TERM="), "{out}");
    let (out, res) = run_in_pty(&c, &cmd(&["sh", "-c", "exit 4"]), "", "", "");
    assert_eq!(res, Res::Ok(4, "-".into(), "-".into()), "{out}");
}

#[test]
fn terminal_hangup_ends_the_session() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    let (nsgate, dir, syslog) = gate_setup(
        &c,
        &Req {
            tty: true,
            ..cmd(&["sh", "-c", "trap '' HUP; sleep 1000 & sleep 1001"])
        },
    );
    let mut child = under_script(&nsgate, &command_line(&nsgate))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(c.others().len(), 2, "{:?}", c.others());
    // The client's terminal goes away.
    child.kill().unwrap();
    child.wait().unwrap();
    // nsgate is not our child: its last record says it has ended.
    let mut records = Vec::new();
    wait_until("the session's last record", Duration::from_secs(10), || {
        records.extend(records_of(&syslog));
        records.last().is_some_and(|r| r.text("event") != "allow")
    });
    std::thread::sleep(Duration::from_millis(100));
    let res = outcome(&records);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        matches!(&res, Res::Ok(_, _, by) if by == "Disconnect"),
        "{res:?}"
    );
    assert_eq!(c.others(), Vec::<String>::new());
}

#[test]
fn the_targets_limits_and_umask() {
    if !can_run() {
        return;
    }
    let c = Container::start("pivot", &[]);
    let pid = c.pid.to_string();
    let set = Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=100:200", "--nproc=3000:4000"])
        .status()
        .unwrap();
    assert!(set.success());
    std::fs::write(format!("/proc/{pid}/oom_score_adj"), "500").unwrap();
    let out = ok(
        &c,
        &cmd(&[
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu; cat /proc/self/oom_score_adj; umask",
        ]),
    );
    assert_eq!(out, "100\n200\n3000\n4000\n500\n0022\n");
}
