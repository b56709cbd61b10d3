//! Set-up that the integration tests in tests/ share, so that each rule of
//! the harness is written once: the NSGATE_E2E rule (where CI asked, a test
//! that cannot run fails, never skips), helper programs and the
//! tests/support scripts, waits that fail instead of hanging, files nsgate
//! trusts, and a private rsyslogd whose records a test reads back.
// Every test crate compiles its own copy and uses only a part of it.
#![allow(dead_code)]
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

pub mod audit;
pub use audit::Value;

/// This build of nsgate.
pub const NSGATE: &str = env!("CARGO_BIN_EXE_nsgate");
/// One podman service for every test binary that needs one.
pub const PODMAN_SOCK: &str = "/tmp/nsgate-test-podman/podman.sock";
/// Where Docker's own containerd keeps its tasks.
pub const DOCKER_CONTAINERD_STATE: &str = "/run/docker/containerd/daemon";

pub fn support(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script)
}

/// A path as an argument; the tests only make UTF-8 ones.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A name no other test of this process has used.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An empty temporary directory PREFIX-PID-TEST, 0755 as nsgate wants the
/// directories of its configuration; left over from an earlier run, it is
/// emptied first.
pub fn private_dir(prefix: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A [`private_dir`] whose files nsgate accepts ([`write_trusted`]),
/// removed when dropped.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(prefix: &str, test: &str) -> Dir {
        Dir(private_dir(prefix, test))
    }

    /// Writes NAME in the directory as nsgate trusts it; its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        write_trusted(&path, text);
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes a file nsgate trusts, as a configuration or pid file must be
/// (root's, 0644): the umask must not decide whether a test's file is refused.
pub fn write_trusted(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}

/// nsgate in gate mode as sshd starts it: an empty environment but for the
/// request, which callers add to as sshd would.
pub fn gate_command(conf: &Path, key: &str, target: &str, request: impl AsRef<OsStr>) -> Command {
    gate_command_of(Path::new(NSGATE), conf, key, target, request)
}

/// `gate_command` for another copy of the binary: a test that attacks the
/// running nsgate must not be able to destroy the build.
pub fn gate_command_of(
    program: &Path,
    conf: &Path,
    key: &str,
    target: &str,
    request: impl AsRef<OsStr>,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(["--config", s(conf), "--key", key, target])
        .env_clear()
        .env("SSH_ORIGINAL_COMMAND", request)
        .stdin(Stdio::null());
    cmd
}

/// CI sets NSGATE_E2E=1: there a test skipped for want of root or a
/// daemon would look like a pass.
pub fn e2e_required() -> bool {
    std::env::var_os("NSGATE_E2E").is_some_and(|v| v == "1")
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Says why `test` cannot run here; under NSGATE_E2E=1 fails it instead.
pub fn skip_or_fail(test: &str, why: &str) {
    assert!(!e2e_required(), "NSGATE_E2E=1 but {test} cannot run: {why}");
    eprintln!("NOTICE: {test} skipped: {why}");
}

/// Whether `test` can run here: root and a ready container environment
/// (else a notice, or a failure with NSGATE_E2E=1).
pub fn root_and_containers(test: &str) -> bool {
    let why = if !is_root() {
        "needs root".to_string()
    } else {
        match containers_ready() {
            Ok(()) => return true,
            Err(e) => e,
        }
    };
    skip_or_fail(test, &why);
    false
}

/// dockerd answering and the test images built (containers.sh setup):
/// once per test binary, as setup may install packages.
pub fn containers_ready() -> Result<(), String> {
    static SETUP: OnceLock<Result<(), String>> = OnceLock::new();
    SETUP
        .get_or_init(|| containers(&["setup"]).map(drop))
        .clone()
}

/// Whether to run a test that needs containers and `needs`: only with
/// NSGATE_E2E=1, and then a missing root or container environment fails it.
pub fn e2e_with_containers(test: &str, needs: &str) -> bool {
    if !e2e_required() {
        eprintln!("{test}: skipped: needs {needs}; run with NSGATE_E2E=1");
        return false;
    }
    assert!(is_root(), "{test}: NSGATE_E2E=1 but not running as root");
    if let Err(e) = containers_ready() {
        panic!("{test}: NSGATE_E2E=1 but the container environment is not ready: {e}");
    }
    true
}

/// Runs a helper program; its stdout, trimmed, or what went wrong.
pub fn helper(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A helper program that must succeed; its stdout, trimmed.
pub fn must(program: &str, args: &[&str]) -> String {
    helper(program, args).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs tests/support/containers.sh with `args`.
pub fn containers(args: &[&str]) -> Result<String, String> {
    let script = support("containers.sh");
    let mut all = vec![s(&script)];
    all.extend(args);
    helper("bash", &all)
}

/// Starts container NAME with `containers.sh HOW NAME OPTS...` (HOW is
/// docker-run or podman-run); its full id.
pub fn start_container(how: &str, name: &str, opts: &[&str]) -> String {
    let mut args = vec![how, name];
    args.extend(opts);
    let out = containers(&args).unwrap_or_else(|e| panic!("{e}"));
    // The id is the last line, whatever the engine said before it.
    let id = out.lines().last().unwrap_or_default().trim().to_owned();
    assert!(id.len() >= 12, "containers.sh {how} printed no id: {out:?}");
    id
}

/// Removes Docker and Podman containers of these names; run from Drop, so
/// a failure is reported, never a panic.
pub fn remove_containers(names: &[&str]) {
    let mut args = vec!["rm"];
    args.extend(names);
    if let Err(e) = containers(&args) {
        eprintln!("cleanup: {e}");
    }
}

/// The host pid of a container's init, as ENGINE inspect says.
pub fn engine_pid(engine: &str, container: &str) -> i32 {
    must(engine, &["inspect", "-f", "{{.State.Pid}}", container])
        .parse()
        .unwrap()
}

/// Waits for `child`, killing it and failing the test past `limit`: a hang
/// must be a failure, not a suite that never ends.
pub fn wait_limited(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}; killed it");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The configuration line that sends nsgate's records to `socket`.
pub fn syslog_setting(socket: &Path) -> String {
    format!("set syslog-socket {}", socket.display())
}

/// A private rsyslogd (tests/support/rsyslog.sh) in DIR: what reaches
/// DIR/log.sock from nsgate lands in DIR/out.log, one line a record. No
/// Drop: its owner stops it in its own, before it removes DIR.
pub struct Rsyslogd {
    dir: PathBuf,
}

impl Rsyslogd {
    /// The daemon of DIR, not started yet; stopping it then does nothing.
    pub fn new(dir: &Path) -> Rsyslogd {
        Rsyslogd {
            dir: dir.to_path_buf(),
        }
    }

    /// Starts it; `false` where rsyslogd is not installed, which fails the
    /// test under NSGATE_E2E=1.
    pub fn start(&self, test: &str) -> bool {
        match self.script("start") {
            0 => true,
            77 => {
                skip_or_fail(test, "rsyslogd is not installed");
                false
            }
            rc => panic!("rsyslog.sh start failed with {rc}"),
        }
    }

    /// `rsyslog.sh CMD DIR`; its exit code.
    pub fn script(&self, cmd: &str) -> i32 {
        let status = Command::new("sh")
            .arg(support("rsyslog.sh"))
            .arg(cmd)
            .arg(&self.dir)
            .stdin(Stdio::null())
            .status()
            .unwrap();
        status.code().unwrap_or(-1)
    }

    pub fn stop(&self) {
        self.script("stop");
    }

    /// Stops and starts it: a new socket inode, as a restarted daemon has.
    pub fn restart(&self) {
        assert_eq!(self.script("restart"), 0);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("log.sock")
    }

    pub fn setting(&self) -> String {
        syslog_setting(&self.socket())
    }

    pub fn pid(&self) -> Pid {
        let pid = fs::read_to_string(self.dir.join("pid")).unwrap();
        Pid::from_raw(pid.trim().parse().unwrap())
    }

    pub fn out_log(&self) -> Vec<String> {
        let text = fs::read(self.dir.join("out.log")).unwrap();
        let text = String::from_utf8(text).expect("out.log is not UTF-8");
        text.lines().map(str::to_string).collect()
    }

    /// Waits until out.log holds `n` lines (at most `limit`), checks that it
    /// holds no more, and parses them. With `settle`, checks again after that
    /// long: a record split in two would show up as a late extra line.
    pub fn records(&self, n: usize, limit: Duration, settle: Option<Duration>) -> Vec<Line> {
        let deadline = Instant::now() + limit;
        loop {
            let lines = self.out_log();
            if lines.len() >= n || Instant::now() > deadline {
                if let Some(settle) = settle.filter(|_| lines.len() == n) {
                    std::thread::sleep(settle);
                    let again = self.out_log();
                    assert_eq!(again.len(), n, "records in out.log:\n{}", again.join("\n"));
                }
                assert_eq!(lines.len(), n, "records in out.log:\n{}", lines.join("\n"));
                return lines.iter().map(|l| Line::parse(l)).collect();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Fields every record has, in the order of §6.
pub const RECORD_FIELDS: [&str; 13] = [
    "v",
    "sid",
    "event",
    "key",
    "fp",
    "from",
    "target",
    "container",
    "pid",
    "user",
    "ns",
    "rule",
    "cmd",
];

/// The field names of a record: those of every record, then `extra`, then
/// the `seq` and `chain` that end every record.
pub fn record_fields(extra: &[&'static str]) -> Vec<&'static str> {
    RECORD_FIELDS
        .iter()
        .chain(extra)
        .chain(&["seq", "chain"])
        .copied()
        .collect()
}

/// One line of out.log: rsyslogd's `facility.severity`, then the datagram,
/// decoded by the tests' own decoder (tests/common/audit.rs). A line that
/// does not decode fails the test.
#[derive(Debug)]
pub struct Line {
    pub priority: String,
    pub pid: u32,
    pub message: String,
    pub fields: Vec<(String, Value)>,
}

impl Line {
    pub fn parse(line: &str) -> Line {
        let (priority, raw) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("not a line of out.log: {line:?}"));
        let record = Line::datagram(raw);
        // rsyslogd's reading of PRI must be the record's own.
        let pri = audit::parse_frame(raw).unwrap();
        assert_eq!(priority, audit::priority_name(pri.pri), "{line:?}");
        record
    }

    /// A datagram as it reached the socket; its priority as rsyslogd names
    /// it, and checked against the record's event.
    pub fn datagram(raw: &str) -> Line {
        let frame = audit::parse_frame(raw).unwrap_or_else(|e| panic!("{e}: {raw:?}"));
        let fields = audit::parse_message(frame.message).unwrap_or_else(|e| panic!("{e}: {raw:?}"));
        let line = Line {
            priority: audit::priority_name(frame.pri),
            pid: frame.pid,
            message: frame.message.to_string(),
            fields,
        };
        let severity = audit::severity_of(&line.text("event")).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            line.priority.ends_with(&format!(".{severity}")),
            "severity of {raw:?}"
        );
        line
    }

    pub fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|(n, _)| n.as_str()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// A field's decoded bytes; `None` when absent or `-`.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.get(name).and_then(Value::bytes)
    }

    pub fn text(&self, name: &str) -> String {
        let v = self
            .bytes(name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"));
        String::from_utf8(v.to_vec()).unwrap()
    }
}
