//! Attacker tests for issue "Containment": what a container, or a session's
//! own processes, can do to the host through the real binary in gate mode
//! against real Docker containers.
//!
//! 1. A watcher inside the container (tests/support/watcher.c, built here
//!    with `gcc -static` and mounted in) catches every process that appears
//!    in its pid namespace and records where it is (root, net, mnt), who it
//!    is (uid, capabilities), what it shows (cmdline, environ, mountinfo,
//!    net/unix) and tries to write to its executable afterwards. Every
//!    process it can see must already be inside and confined, and nsgate
//!    must not be writable through it; once with CAP_SYS_PTRACE, once with
//!    Docker's defaults.
//! 3. Processes a session leaves behind (a background loop, a double fork
//!    with setsid) are ended with it, and counted in the exit record
//!    (`ended=N`); the rule option `detach` keeps them on purpose
//!    (`left=N`). Field and option come with this issue.
//! 4. Ending a session never signals a host process that reuses the pid of
//!    the session's main process. The test makes the reuse happen by
//!    writing the host's /proc/sys/kernel/ns_last_pid.
//! 5. A host terminal on stdout or stderr never reaches the command.
//!
//! Needs root, Docker, rsyslogd and gcc; `tests/support/containers.sh
//! setup` makes the containers ready. Only with `NSGATE_E2E=1`, where a
//! missing piece fails the test; otherwise they say so and return.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{
    e2e_with_containers, engine_pid, gate_command, gate_command_of, must, private_dir,
    remove_containers, s, skip_or_fail, start_container, support, unique, wait_limited,
    write_trusted, Line, Rsyslogd, NSGATE,
};

/// The key label: must never be visible inside the container.
const KEY: &str = "alice-secret-label";
/// The configuration's file name: must never be visible inside either.
const CONF_NAME: &str = "containment-secret.conf";
/// No nsgate run may take longer; a hang fails the test.
const LIMIT: Duration = Duration::from_secs(60);
/// SIGTERM to SIGKILL when nsgate ends a session (nsgate.conf(5)).
const GRACE: Duration = Duration::from_secs(5);
/// What we allow on top of a bound, for a loaded machine.
const SLACK: Duration = Duration::from_secs(4);
/// The container user the watched rule runs as (`as app`).
const APP_UID: &str = "1000";

fn e2e(test: &str) -> bool {
    e2e_with_containers(test, "root, Docker, rsyslogd and gcc")
}

/// One test's world: a private directory (configuration, rsyslogd, a copy
/// of nsgate), the container `target web` names, and whatever must be
/// cleaned up. Dropping it removes all of it, pass or fail.
struct World {
    dir: PathBuf,
    conf: PathBuf,
    syslog: Rsyslogd,
    container: String,
    /// Other directories to remove (the watcher's).
    dirs: Vec<PathBuf>,
    /// Host processes the test started.
    host: Vec<Child>,
}

impl World {
    fn new(test: &str) -> World {
        let dir = private_dir("nsgate-ct", test);
        let w = World {
            conf: dir.join(CONF_NAME),
            syslog: Rsyslogd::new(&dir),
            container: unique("nsgate-ct"),
            dir,
            dirs: Vec::new(),
            host: Vec::new(),
        };
        assert!(w.syslog.start(test), "rsyslogd did not start");
        w
    }

    /// Starts the container with `containers.sh docker-run NAME OPTS...`.
    fn start(&self, opts: &[&str]) {
        start_container("docker-run", &self.container, opts);
    }

    /// Writes the configuration: our rsyslogd, `target web`, the rules.
    fn config(&self, rules: &str) {
        let text = format!(
            "{}\ntarget web docker {}\n{rules}\n",
            self.syslog.setting(),
            self.container
        );
        write_trusted(&self.conf, &text);
    }

    /// nsgate in gate mode, stdout and stderr to DIR/TAG.out and .err (a
    /// process left behind holding them cannot hang us).
    fn spawn(&self, mut cmd: Command, tag: &str) -> Child {
        let out = fs::File::create(self.dir.join(format!("{tag}.out"))).unwrap();
        let err = fs::File::create(self.dir.join(format!("{tag}.err"))).unwrap();
        cmd.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap()
    }

    fn gate(&self, request: &str, tag: &str) -> Child {
        self.spawn(gate_command(&self.conf, KEY, "web", request), tag)
    }

    fn output(&self, tag: &str) -> (String, String) {
        let read = |ext: &str| fs::read_to_string(self.dir.join(format!("{tag}.{ext}"))).unwrap();
        (read("out"), read("err"))
    }

    /// The exit record of the only session: out.log holds allow and exit.
    fn exit_record(&self) -> Line {
        let mut lines = self.syslog.records(2, Duration::from_secs(10), None);
        let exit = lines.pop().unwrap();
        assert_eq!(exit.text("event"), "exit", "{exit:?}");
        exit
    }

    fn init_pid(&self) -> i32 {
        engine_pid("docker", &self.container)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for child in &mut self.host {
            let _ = child.kill();
            let _ = child.wait();
        }
        remove_containers(&[&self.container]);
        self.syslog.stop();
        let _ = fs::remove_dir_all(&self.dir);
        for dir in &self.dirs {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

fn code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Fails the test with the problems found, not just the first (the first
/// 20 of them in full: a watcher may report hundreds).
fn assert_none(problems: &[String], what: &str) {
    const SHOWN: usize = 20;
    let mut text = problems[..problems.len().min(SHOWN)].join("\n");
    if problems.len() > SHOWN {
        text.push_str(&format!("\n... and {} more", problems.len() - SHOWN));
    }
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n{text}",
        problems.len()
    );
}

/// Waits until `done` holds, at most `limit`; whether it did.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------ the host side

/// The processes in the pid namespace of the container whose init has host
/// pid `init`, but for the init itself: (host pid, cmdline with blanks for
/// NULs).
fn container_processes(init: i32) -> Vec<(i32, String)> {
    let ns = |pid: i32| fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(theirs) = ns(init) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if pid == init || ns(pid).as_ref() != Some(&theirs) {
            continue;
        }
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        // A zombie has an empty cmdline: it runs nothing any more.
        if cmdline.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        found.push((pid, text.trim_end().to_string()));
    }
    found
}

/// The state letter of /proc/PID/stat, None when the pid is gone.
fn state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 2..)?.chars().next()
}

fn sha256(path: &Path) -> String {
    must("sha256sum", &[s(path)])
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------- watchers

/// What the watcher saw of one process (a `proc` line of its report).
#[derive(Debug)]
struct Caught {
    line: String,
}

impl Caught {
    fn get(&self, key: &str) -> &str {
        let prefix = format!("{key}=");
        self.line
            .split(' ')
            .find_map(|w| w.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key} in watcher line {:?}", self.line))
    }

    /// Everything wrong with this process being visible in the container.
    fn problems(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (key, what) in [
            ("root", "the host's root directory (or another one)"),
            ("net", "another network namespace"),
            ("mnt", "another mount namespace"),
        ] {
            if self.get(key) == "other" {
                found.push(what.to_string());
            }
        }
        let hex = |key| u64::from_str_radix(self.get(key), 16).ok();
        if let (Some(eff), Some(bnd)) = (hex("capeff"), hex("capbnd")) {
            if eff & !bnd != 0 {
                found.push(format!(
                    "capabilities {eff:x} beyond the container's bounding set {bnd:x}"
                ));
            }
        }
        let uid = self.get("uid");
        if uid != "-" && uid.split(',').any(|id| id != APP_UID) {
            found.push(format!("uids {uid}, not the container user's {APP_UID}"));
        }
        if self.get("leak") != "-" {
            found.push(format!("host data visible: {}", self.get("leak")));
        }
        if self.get("mounts").parse::<u32>().is_ok_and(|n| n > 0) {
            found.push(format!(
                "{} mounts the container does not have",
                self.get("mounts")
            ));
        }
        found
    }
}

/// What a watcher reported.
struct Report {
    caught: Vec<Caught>,
    /// `exe` lines: writes tried on executables the container cannot
    /// reach by path.
    writes: Vec<String>,
    /// nsgate's checksum before and after the sessions.
    before: String,
    after: String,
    sessions: usize,
}

/// Compiles the watcher into DIR/watcher; false (and a notice, or a
/// failure under NSGATE_E2E=1) without gcc.
fn build_watcher(test: &str, dir: &Path) -> bool {
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(dir.join("watcher"))
        .arg(support("watcher.c"))
        .output();
    match out {
        Ok(out) if out.status.success() => true,
        Ok(out) => panic!(
            "gcc could not build watcher.c: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            skip_or_fail(test, &format!("cannot run gcc: {e}"));
            false
        }
    }
}

/// Starts a container running the watcher with `opts`, runs `sessions`
/// sessions of `/bin/true` as `app` through a copy of nsgate, then lets the
/// watcher attack what it caught. None when the test cannot run here.
fn watch(test: &str, opts: &[&str], sessions: usize) -> Option<(World, Report)> {
    let mut w = World::new(test);
    // Its own directory: what is mounted into the container must not hold
    // the configuration, the socket or nsgate.
    let wdir = private_dir("nsgate-ctw", test);
    w.dirs.push(wdir.clone());
    if !build_watcher(test, &wdir) {
        return None;
    }
    // The copy that runs: a successful attack must not destroy the build.
    let nsgate = w.dir.join("nsgate");
    fs::copy(NSGATE, &nsgate).unwrap();
    fs::set_permissions(&nsgate, fs::Permissions::from_mode(0o755)).unwrap();
    let before = sha256(&nsgate);

    w.config(&format!("permit {KEY} on web as app cmd /bin/true"));
    let dir_name = w.dir.file_name().unwrap().to_str().unwrap().to_string();
    let mount = format!("{}:/w", s(&wdir));
    let mut args: Vec<&str> = opts.to_vec();
    args.extend(["-v", &mount, "--", "/w/watcher", "/w"]);
    // What the host has and the container must never see.
    args.extend([KEY, CONF_NAME, "docker.sock", &dir_name]);
    w.start(&args);
    assert!(
        wait_for(Duration::from_secs(10), || wdir.join("ready").exists()),
        "the watcher did not start: {:?}",
        fs::read_to_string(wdir.join("report"))
    );

    for i in 0..sessions {
        let cmd = gate_command_of(&nsgate, &w.conf, KEY, "web", "/bin/true");
        let mut child = w.spawn(cmd, "gate");
        let status = wait_limited(&mut child, LIMIT, "nsgate /bin/true");
        assert_eq!(code(status), 0, "session {i}: {:?}", w.output("gate"));
    }

    write_trusted(&wdir.join("stop"), "");
    assert!(
        wait_for(Duration::from_secs(20), || wdir.join("done").exists()),
        "the watcher did not finish"
    );
    let after = sha256(&nsgate);
    let report = fs::read_to_string(wdir.join("report")).unwrap();
    let caught = report
        .lines()
        .filter(|l| l.starts_with("proc "))
        .map(|l| Caught {
            line: l.to_string(),
        })
        .collect();
    let writes = report
        .lines()
        .filter(|l| l.starts_with("exe "))
        .map(str::to_string)
        .collect();
    let report = Report {
        caught,
        writes,
        before,
        after,
        sessions,
    };
    Some((w, report))
}

/// Asserts that the watcher proved something and found nothing.
fn assert_contained(r: &Report) {
    // Without catches the test proves nothing.
    assert!(
        r.caught.len() >= r.sessions / 8,
        "the watcher caught only {} processes in {} sessions",
        r.caught.len(),
        r.sessions
    );
    let mut problems = Vec::new();
    if r.before != r.after {
        problems.push(format!(
            "nsgate was modified from the container: sha256 {} became {}",
            r.before, r.after
        ));
    }
    // Each kind of problem once, with how often and one watcher line.
    let mut kinds: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for line in &r.writes {
        let written = line
            .split(' ')
            .find_map(|w| w.strip_prefix("written="))
            .unwrap_or("0");
        if written != "0" {
            let kind = "wrote to an executable from outside the container".to_string();
            kinds.entry(kind).or_insert((0, line)).0 += 1;
        }
    }
    for c in &r.caught {
        for kind in c.problems() {
            kinds.entry(kind).or_insert((0, &c.line)).0 += 1;
        }
    }
    for (kind, (n, example)) in kinds {
        problems.push(format!("{n} times: {kind}\n    e.g. {example}"));
    }
    assert_none(
        &problems,
        &format!(
            "{} processes caught in {} sessions",
            r.caught.len(),
            r.sessions
        ),
    );
}

#[test]
fn a_container_with_cap_sys_ptrace_catches_nothing_outside_it() {
    let test = "ptrace_watcher";
    if !e2e(test) {
        return;
    }
    let Some((_w, report)) = watch(test, &["--cap-add", "SYS_PTRACE"], 40) else {
        return;
    };
    assert_contained(&report);
}

#[test]
fn a_default_container_sees_nothing_of_the_host() {
    let test = "default_watcher";
    if !e2e(test) {
        return;
    }
    let Some((_w, report)) = watch(test, &[], 40) else {
        return;
    };
    assert_contained(&report);
}

// ------------------------------------------------- processes left behind

/// The `ended` field of an exit record, which must be there.
fn ended(exit: &Line) -> Result<u32, String> {
    match exit.bytes("ended") {
        Some(v) => String::from_utf8_lossy(v)
            .parse()
            .map_err(|e| format!("ended={:?}: {e}", String::from_utf8_lossy(v))),
        None => Err(format!(
            "no ended= field in the exit record: {}",
            exit.message
        )),
    }
}

#[test]
fn a_background_loop_ends_with_its_session() {
    let test = "background_loop";
    if !e2e(test) {
        return;
    }
    let w = World::new(test);
    w.start(&[]);
    w.config(&format!(
        "permit {KEY} on web timeout 3s cmd /bin/sh -c \"while :; do date; sleep 1; done & exit 0\""
    ));
    let init = w.init_pid();
    let start = Instant::now();
    let mut child = w.gate(
        "/bin/sh -c 'while :; do date; sleep 1; done & exit 0'",
        "loop",
    );
    let status = wait_limited(&mut child, LIMIT, "nsgate (background loop)");
    let took = start.elapsed();

    let mut problems = Vec::new();
    if code(status) != 0 {
        problems.push(format!(
            "exit code {}: {:?}",
            code(status),
            w.output("loop")
        ));
    }
    if took > Duration::from_secs(3) + GRACE + SLACK {
        problems.push(format!("nsgate took {took:?}"));
    }
    let gone = wait_for(Duration::from_secs(3), || {
        container_processes(init).is_empty()
    });
    if !gone {
        problems.push(format!(
            "3 s after nsgate exited the container still runs {:?}",
            container_processes(init)
        ));
    }
    let out = w.dir.join("loop.out");
    let size = || fs::metadata(&out).unwrap().len();
    let first = size();
    std::thread::sleep(Duration::from_millis(2500));
    if size() != first {
        problems.push(format!(
            "output goes on after nsgate exited: {first} bytes, then {}",
            size()
        ));
    }
    match ended(&w.exit_record()) {
        Ok(0) => problems.push("ended=0, but the loop had to be ended".to_string()),
        Ok(_) => {}
        Err(e) => problems.push(e),
    }
    assert_none(&problems, "a background loop");
}

#[test]
fn a_double_fork_with_setsid_ends_at_the_timeout() {
    let test = "setsid_fork";
    if !e2e(test) {
        return;
    }
    let w = World::new(test);
    w.start(&[]);
    w.config(&format!(
        "permit {KEY} on web timeout 2s cmd /bin/sh -c \"(setsid sleep 777 &); sleep 100\""
    ));
    let init = w.init_pid();
    let start = Instant::now();
    let mut child = w.gate("/bin/sh -c '(setsid sleep 777 &); sleep 100'", "setsid");
    // The daemon must have existed, or its absence later proves nothing.
    let daemon = |p: &(i32, String)| p.1 == "sleep 777";
    let started = wait_for(Duration::from_secs(2), || {
        container_processes(init).iter().any(daemon)
    });
    let status = wait_limited(&mut child, LIMIT, "nsgate (setsid)");
    let took = start.elapsed();
    assert!(
        started,
        "sleep 777 never ran: {:?}, {:?}",
        code(status),
        w.output("setsid")
    );

    let mut problems = Vec::new();
    if took > Duration::from_secs(2) + GRACE + SLACK {
        problems.push(format!("nsgate took {took:?}"));
    }
    let gone = wait_for(Duration::from_secs(3), || {
        !container_processes(init).iter().any(daemon)
    });
    if !gone {
        problems.push(format!(
            "3 s after nsgate exited the container still runs {:?}",
            container_processes(init)
        ));
    }
    let exit = w.exit_record();
    if exit.bytes("reason") != Some(b"timeout".as_slice()) {
        problems.push(format!("not ended by the timeout: {}", exit.message));
    }
    match ended(&exit) {
        Ok(0) => problems.push("ended=0, but sleep 777 had to be ended".to_string()),
        Ok(_) => {}
        Err(e) => problems.push(e),
    }
    assert_none(&problems, "a setsid double fork");
}

#[test]
fn detach_leaves_background_processes_running_and_says_so() {
    let test = "detach";
    if !e2e(test) {
        return;
    }
    let w = World::new(test);
    w.start(&[]);
    w.config(&format!(
        "permit {KEY} on web detach cmd /bin/sh -c \"sleep 555 & exit 0\""
    ));
    let init = w.init_pid();
    let mut child = w.gate("/bin/sh -c 'sleep 555 & exit 0'", "detach");
    let status = wait_limited(&mut child, LIMIT, "nsgate (detach)");
    assert_eq!(code(status), 0, "{:?}", w.output("detach"));
    // Long enough for any ending nsgate might still do to have been done.
    std::thread::sleep(Duration::from_secs(1));
    let running = container_processes(init);
    assert!(
        running.iter().any(|p| p.1 == "sleep 555"),
        "sleep 555 did not survive a detach session: {running:?}"
    );
    let exit = w.exit_record();
    assert_eq!(
        exit.bytes("left"),
        Some(b"1".as_slice()),
        "exit record: {}",
        exit.message
    );
}

// ------------------------------------------------------------- pid reuse

#[test]
fn ending_a_session_spares_a_host_process_that_reuses_its_pid() {
    let test = "pid_reuse";
    if !e2e(test) {
        return;
    }
    let mut w = World::new(test);
    w.start(&[]);
    // The main process (`exec sleep 32`) dies of the timeout's SIGTERM;
    // sleep 31 ignores it, so nsgate keeps ending the session for its grace
    // period after the main process is gone. sleep 31 has left the main
    // process's session and group (setsid), or the kernel would keep the
    // main process's pid from being reused while it is still a session id.
    let cmd = "/bin/sh -c \"(trap '' TERM; exec setsid sleep 31) & exec sleep 32\"";
    w.config(&format!("permit {KEY} on web timeout 2s cmd {cmd}"));
    let init = w.init_pid();
    // The request is the rule's command, word for word.
    let mut child = w.gate(cmd, "reuse");

    let mut main = None;
    wait_for(Duration::from_secs(5), || {
        let procs = container_processes(init);
        main = procs.iter().find(|p| p.1 == "sleep 32").map(|p| p.0);
        main.is_some() && procs.iter().any(|p| p.1 == "sleep 31")
    });
    let Some(main) = main else {
        let _ = child.kill();
        panic!(
            "the session's main process never ran: {:?}",
            w.output("reuse")
        );
    };
    // Gone from /proc: reaped, so its pid can be given to someone else.
    assert!(
        wait_for(Duration::from_secs(10), || state(main).is_none()),
        "the main process {main} was not ended and reaped at the timeout"
    );

    // The next host fork gets pid `main`: ns_last_pid is main - 1. Another
    // fork on the host may come in between; then try again.
    let mut reused = None;
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        fs::write("/proc/sys/kernel/ns_last_pid", (main - 1).to_string()).unwrap();
        let mut host = Command::new("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        if host.id() as i32 == main {
            reused = Some(main);
            w.host.push(host);
            break;
        }
        let _ = host.kill();
        let _ = host.wait();
    }
    let still_running = child.try_wait().unwrap().is_none();
    let status = wait_limited(&mut child, LIMIT, "nsgate (pid reuse)");
    let Some(pid) = reused else {
        panic!(
            "no host process got pid {main} while nsgate was still ending the session \
             (nsgate running: {still_running}, status {status:?}); the test proves nothing"
        );
    };
    // Give a signal sent at the very end time to arrive.
    std::thread::sleep(Duration::from_millis(300));
    let host = w.host.iter_mut().find(|c| c.id() as i32 == pid).unwrap();
    match host.try_wait().unwrap() {
        Some(st) => panic!("nsgate ended the host process {pid} that reused the pid: {st}"),
        None => {
            let st = state(pid);
            assert_eq!(
                st,
                Some('S'),
                "the host process {pid} that reused the pid is in state {st:?}"
            );
        }
    }
}

// ------------------------------------------------------------ host terminal

#[test]
fn a_host_terminal_on_stdout_never_reaches_the_command() {
    let test = "host_tty";
    if !e2e(test) {
        return;
    }
    let w = World::new(test);
    w.start(&[]);
    let cmd = "[ -t 1 ] && echo OUT-IS-TTY; [ -t 2 ] && echo ERR-IS-TTY; echo done";
    w.config(&format!("permit {KEY} on web cmd /bin/sh -c \"{cmd}\""));
    // script(1) gives nsgate a pty on stdout and stderr; stdin is not one,
    // as for an administrator running gate mode locally with < /dev/null.
    let line = format!(
        "exec {NSGATE} --config {} --key {KEY} web < /dev/null",
        s(&w.conf)
    );
    let mut script = Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("SSH_ORIGINAL_COMMAND", format!("/bin/sh -c '{cmd}'"))
        .stdin(Stdio::null());
    let mut child = w.spawn(script, "tty");
    let status = wait_limited(&mut child, LIMIT, "script nsgate");
    let (out, err) = w.output("tty");
    assert_eq!(code(status), 0, "{out:?} {err:?}");
    assert!(
        out.contains("done"),
        "the command's output is lost: {out:?}"
    );
    for leak in ["OUT-IS-TTY", "ERR-IS-TTY"] {
        assert!(
            !out.contains(leak),
            "the host's terminal reached the command: {out:?}"
        );
    }
}
