//! `nsgate log` and the hash chain of issue 13 through the real binary: a
//! private rsyslogd (tests/support/rsyslog.sh) writing an auth.log in both
//! of its formats, real sessions on a Docker container, and other daemons'
//! lines (`logger -t sshd ...`) to the same socket.
//!
//! Needs root, Docker and rsyslogd. Where they are missing the tests print a
//! notice and return; with NSGATE_E2E=1 (CI) they fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

mod common;
use common::{
    gate_command, private_dir, remove_containers, root_and_containers, s, start_container,
    wait_limited, write_trusted, Rsyslogd, NSGATE,
};

const SSH_CONNECTION: &str = "192.0.2.7 50022 192.0.2.1 22";

/// One test's world: a directory with the configuration and a private
/// state directory, a private rsyslogd, and a container `nsgate-log-*`.
struct Fixture {
    dir: PathBuf,
    container: String,
    conf: PathBuf,
    syslog: Rsyslogd,
}

impl Fixture {
    fn new(test: &str, rules: &str) -> Option<Fixture> {
        if !root_and_containers(test) {
            return None;
        }
        let dir = private_dir("nsgate-log", test);
        let container = format!("nsgate-log-{}-{test}", std::process::id());
        let f = Fixture {
            conf: dir.join("nsgate.conf"),
            syslog: Rsyslogd::new(&dir),
            dir,
            container,
        };
        if !f.syslog.start(test) {
            return None;
        }
        start_container("docker-run", &f.container, &[]);
        write_trusted(
            &f.conf,
            &format!(
                "target web docker {}\n{}\nset audit-state {}\n{rules}",
                f.container,
                f.syslog.setting(),
                s(&f.state())
            ),
        );
        Some(f)
    }

    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// One session to its end: its exit code.
    fn gate(&self, key: &str, request: &str) -> i32 {
        let mut child = gate_command(&self.conf, key, "web", request)
            .env("SSH_CONNECTION", SSH_CONNECTION)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_limited(&mut child, Duration::from_secs(30), "nsgate")
            .code()
            .unwrap_or(-1)
    }

    /// Another daemon's line, through the same socket.
    fn logger(&self, tag: &str, text: &str) {
        let status = Command::new("logger")
            .args([
                "-u",
                s(&self.syslog.socket()),
                "-t",
                tag,
                "-p",
                "authpriv.info",
                text,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "logger");
    }

    /// Waits until `file` in the directory holds `n` lines of nsgate's.
    fn wait_records(&self, file: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = fs::read_to_string(self.dir.join(file)).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            let records = lines.iter().filter(|l| l.contains(" nsgate[")).count();
            if records >= n || Instant::now() > deadline {
                assert_eq!(records, n, "nsgate lines in {file}:\n{text}");
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.syslog.stop();
        remove_containers(&[&self.container]);
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `nsgate log ARGS`.
fn log(args: &[&str]) -> Output {
    Command::new(NSGATE)
        .arg("log")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8(out.to_vec()).unwrap()
}

/// The sessions of the file, the line of each by `sid=`'s session.
fn sessions(file: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = extra.to_vec();
    args.push(s(file));
    let out = log(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    text(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn sessions_denials_and_unpaired_allows_in_both_formats() {
    let rules = "permit alice on web cmd /bin/true\npermit alice on web cmd /bin/sleep 30\n";
    let Some(f) = Fixture::new("sessions", rules) else {
        return;
    };
    f.logger(
        "sshd",
        "Accepted publickey for root from 192.0.2.7 port 50022 ssh2",
    );
    assert_eq!(f.gate("alice", "/bin/true"), 0);
    f.logger("CRON", "(root) CMD (nsgate[1]: v=1 forged by cron)");
    assert_eq!(f.gate("bob", "cat /etc/shadow"), 126);
    // nsgate killed while the command runs: an allow record, no exit record.
    let mut child = gate_command(&f.conf, "alice", "web", "/bin/sleep 30")
        .env("SSH_CONNECTION", SSH_CONNECTION)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    f.wait_records("auth.log", 4);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    f.logger("systemd-logind", "Removed session 3.");
    let traditional = f.wait_records("auth.log", 4);
    f.wait_records("auth-rfc3339.log", 4);
    assert!(traditional
        .iter()
        .any(|l| l.contains(" sshd[") && l.contains("]: Accepted")));

    for file in ["auth.log", "auth-rfc3339.log"] {
        let all = sessions(&f.path(file), &[]);
        assert_eq!(all.len(), 3, "{file}: {all:#?}");
        assert!(
            all[0].contains(" key=alice ")
                && all[0].contains(" from=192.0.2.7:50022 target=web result=status:0 ")
                && all[0].ends_with(" cmd=\"/bin/true\""),
            "{file}: {}",
            all[0]
        );
        assert!(
            all[1].contains(" key=bob ")
                && all[1].contains(" result=denied duration_ms=- cmd=\"cat /etc/shadow\" reason="),
            "{file}: {}",
            all[1]
        );
        assert!(
            all[2].contains(" result=unpaired ") && all[2].contains("cmd=\"/bin/sleep 30\""),
            "{file}: {}",
            all[2]
        );
        assert_eq!(sessions(&f.path(file), &["--denied"]), [all[1].clone()]);
        assert_eq!(sessions(&f.path(file), &["--unpaired"]), [all[2].clone()]);
        assert_eq!(sessions(&f.path(file), &["--key", "bob"]), [all[1].clone()]);
        let json = sessions(
            &f.path(file),
            &["--json", "--key", "alice", "--since", "2000-01-01"],
        );
        assert_eq!(json.len(), 2);
        let first: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
        assert_eq!(first["result"], "status:0");
        assert_eq!(first["records"][1]["fields"]["event"], "exit");
        assert!(sessions(&f.path(file), &["--until", "2000-01-01"]).is_empty());
        // The chain is intact, and the state holds its last record.
        let out = log(&["--verify", "--state", s(&f.state()), s(&f.path(file))]);
        let report = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{report}");
        assert!(report.ends_with("4 records: intact\n"), "{report}");
        assert!(
            report.contains("is the one the state holds (seq=4)"),
            "{report}"
        );
    }

    // One record deleted from the middle: --verify names the line after it.
    let cut = f.path("cut.log");
    let at = traditional
        .iter()
        .position(|l| l.contains(" event=deny "))
        .unwrap();
    let kept: Vec<&str> = traditional
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, l)| l.as_str())
        .collect();
    fs::write(&cut, kept.join("\n") + "\n").unwrap();
    let out = log(&["--verify", s(&cut)]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let next = kept[at..]
        .iter()
        .position(|l| l.contains(" nsgate["))
        .unwrap()
        + at
        + 1;
    assert!(
        report.starts_with(&format!("{}:{next}: 1 record of ", s(&cut)))
            && report.contains("missing before this one (seq=3: deleted)"),
        "{report}"
    );
    // An altered record breaks the chain; a forged nsgate line is reported.
    let altered = f.path("altered.log");
    fs::write(
        &altered,
        traditional.join("\n").replace("key=bob", "key=eve") + "\n",
    )
    .unwrap();
    let out = log(&["--verify", s(&altered)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("chain breaks at seq=3"),
        "{}",
        text(&out.stdout)
    );
    let forged = f.path("forged.log");
    let mut lines = traditional.clone();
    let sshd = traditional.iter().find(|l| l.contains(" sshd[")).unwrap();
    lines.push(sshd.split(" sshd[").next().unwrap().to_string() + " nsgate[1]: v=1 hello");
    fs::write(&forged, lines.join("\n") + "\n").unwrap();
    let out = log(&[s(&forged)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "{}:{}: malformed nsgate record",
            s(&forged),
            lines.len()
        )),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn two_hundred_concurrent_sessions_make_one_unbroken_chain() {
    let Some(f) = Fixture::new("concurrent", "permit alice on web cmd /bin/true\n") else {
        return;
    };
    const N: usize = 200;
    // Denied (no rule permits bob): fast, and a record each.
    let mut children: Vec<_> = (0..N)
        .map(|i| {
            gate_command(&f.conf, "bob", "web", format!("/bin/echo {i}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in &mut children {
        let status = wait_limited(child, Duration::from_secs(60), "nsgate");
        assert_eq!(status.code(), Some(126));
    }
    f.wait_records("auth.log", N);
    let out = log(&["--verify", "--state", s(&f.state()), s(&f.path("auth.log"))]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.ends_with(&format!("{N} records: intact\n")),
        "{report}"
    );
    assert!(
        report.contains(&format!("{N} records, seq=1..{N}")),
        "{report}"
    );
    assert!(
        report.contains(&format!("the state holds (seq={N})")),
        "{report}"
    );
    let denied = sessions(&f.path("auth.log"), &["--denied"]);
    assert_eq!(denied.len(), N);
}
