//! Records in the journal (nsgate(8) AUDIT, "The journal"), error records of
//! sessions that fail before they have a configuration or a valid command
//! line, and `redact` (nsgate.conf(5), "Rules"), through the real binary.
//!
//! Each journal test starts its own `systemd-journald` in a private mount
//! namespace (`unshare -m`) with tmpfs over /run/systemd, /run/log and
//! /var/log/journal: it listens on the usual /run/systemd/journal/socket
//! there, so nsgate is tested with its defaults, and neither the host nor
//! a test running at the same time sees it. nsgate and journalctl run in
//! that namespace with `nsenter -m`.
//!
//! Needs root and systemd-journald (Docker too for the session test). Where
//! they are missing the tests print a notice and return; with NSGATE_E2E=1
//! (CI) they fail.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

mod common;
use common::{
    containers_ready, is_root, private_dir, remove_containers, s, skip_or_fail, start_container,
    wait_limited, write_trusted, Line, Rsyslogd, NSGATE,
};

const JOURNALD: &str = "/lib/systemd/systemd-journald";

/// The MESSAGE_IDs of nsgate(8) AUDIT.
const ALLOW: &str = "cc4be57901b84e1daeea7463734a0c79";
const DENY: &str = "465d7b2f45c94fcc906ca3e4e4510ae2";
const EXIT: &str = "24ad20d78e1e47c89d4ca4b01acd844c";
const ERROR: &str = "7fc772a543da4941a9cee76f1da82e02";

const SSH_CONNECTION: &str = "192.0.2.7 50022 192.0.2.1 22";

/// What the test's journald does: mounts its private /run/systemd and
/// journal storage, starts, says `ready`, and stops when stdin closes.
const SCRIPT: &str = r#"set -e
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir /run/systemd/journal
mount -t tmpfs -o mode=0755 tmpfs /run/log
mount -t tmpfs -o mode=0755 tmpfs /var/log/journal
"$0" </dev/null >/dev/null 2>&1 &
j=$!
i=0
while [ ! -S /run/systemd/journal/socket ]; do
    i=$((i + 1)); [ "$i" -lt 200 ] || { echo "journald did not start"; exit 3; }
    sleep 0.05
done
echo ready
read -r _ || true
kill "$j"
wait "$j" || true
"#;

/// A private journald; stopped (and its namespace gone) on drop.
struct Journald {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Journald {
    fn start(test: &str) -> Option<Journald> {
        if !is_root() {
            skip_or_fail(test, "needs root");
            return None;
        }
        if !Path::new(JOURNALD).exists() {
            skip_or_fail(test, "systemd-journald is not installed");
            return None;
        }
        for dir in ["/run/systemd", "/run/log", "/var/log/journal"] {
            fs::create_dir_all(dir).unwrap();
        }
        let mut child = Command::new("unshare")
            .args([
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                SCRIPT,
                JOURNALD,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let out = child.stdout.take().unwrap();
        BufReader::new(out).read_line(&mut first).unwrap();
        let stdin = child.stdin.take();
        let journald = Journald { child, stdin };
        assert_eq!(first.trim(), "ready", "journald did not start");
        Some(journald)
    }

    /// `program args` in the journal's mount namespace.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.child.id().to_string(), "-m", "--", program])
            .args(args);
        cmd
    }

    /// nsgate in gate mode as sshd starts it, inside the namespace.
    fn gate(&self, conf: &Path, key: &str, request: &str) -> Output {
        let mut child = self
            .command(NSGATE, &["--config", s(conf), "--key", key, "web"])
            .env_clear()
            .env("SSH_ORIGINAL_COMMAND", request)
            .env("SSH_CONNECTION", SSH_CONNECTION)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_limited(&mut child, Duration::from_secs(30), "nsgate");
        child.wait_with_output().unwrap()
    }

    /// `journalctl -o json MATCHES`: nsgate's entries, as JSON text and parsed.
    fn entries(&self, matches: &[&str]) -> (String, Vec<Map<String, Json>>) {
        let mut args = vec!["-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=nsgate"];
        args.extend(matches);
        let out = self.command("journalctl", &args).output().unwrap();
        assert!(out.status.success(), "journalctl {args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let entries = text
            .lines()
            .map(|l| match serde_json::from_str(l).unwrap() {
                Json::Object(map) => map,
                other => panic!("not an entry: {other}"),
            })
            .collect();
        (text, entries)
    }

    /// Waits (at most 10 s) until MATCHES select `n` entries; those.
    fn wait(&self, matches: &[&str], n: usize) -> Vec<Map<String, Json>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (text, entries) = self.entries(matches);
            if entries.len() >= n || Instant::now() > deadline {
                assert_eq!(entries.len(), n, "{matches:?}:\n{text}");
                return entries;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

fn field<'a>(entry: &'a Map<String, Json>, name: &str) -> &'a str {
    entry
        .get(name)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("no text {name} in {entry:?}"))
}

/// The mark nsgate.conf(5) documents for a redacted argument.
fn mark(secret: &str) -> String {
    let hex: String = Sha256::digest(secret.as_bytes())[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<redacted:{hex}>")
}

/// A 0755 directory with a configuration nsgate accepts.
fn config(test: &str, text: &str) -> (PathBuf, PathBuf) {
    let dir = private_dir("nsgate-journal", test);
    let conf = dir.join("nsgate.conf");
    write_trusted(&conf, text);
    (dir, conf)
}

#[test]
fn sessions_denials_and_their_secrets_in_the_journal() {
    let test = "session";
    let Some(journal) = Journald::start(test) else {
        return;
    };
    if let Err(e) = containers_ready() {
        skip_or_fail(test, &e);
        return;
    }
    let name = format!("nsgate-journal-{}", std::process::id());
    let container = Container(name.clone());
    let id = start_container("docker-run", &name, &[]);
    let (dir, conf) = config(
        test,
        &format!(
            "target web docker {name}\n\
             permit alice on web redact --password=* cmd /bin/echo ...\n"
        ),
    );

    let ok = journal.gate(&conf, "alice", "/bin/echo hi '--password=hunter2'");
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert_eq!(ok.stdout, b"hi --password=hunter2\n");
    // Denied by no rule, and refused by the request parser: the client reads
    // its own request back, the records never hold the secret.
    let denied = journal.gate(&conf, "alice", "/bin/cat --password=hunter2");
    assert_eq!(denied.status.code(), Some(126), "{denied:?}");
    assert!(String::from_utf8_lossy(&denied.stderr).contains("--password=hunter2"));
    let refused = journal.gate(&conf, "alice", "/bin/echo 'hunter2");
    assert_eq!(refused.status.code(), Some(126), "{refused:?}");

    let all = journal.wait(&["NSGATE_KEY=alice"], 4);
    let events: Vec<&str> = all.iter().map(|e| field(e, "NSGATE_EVENT")).collect();
    assert_eq!(events, ["allow", "exit", "deny", "deny"]);
    let (text, _) = journal.entries(&[]);
    assert!(!text.contains("hunter2"), "{text}");

    let allow = &journal.wait(&[&format!("MESSAGE_ID={ALLOW}")], 1)[0];
    let exit = &journal.wait(&[&format!("MESSAGE_ID={EXIT}")], 1)[0];
    let denies = journal.wait(&[&format!("MESSAGE_ID={DENY}")], 2);
    assert_eq!(field(allow, "NSGATE_SID"), field(exit, "NSGATE_SID"));
    for (name, want) in [
        ("PRIORITY", "6"),
        ("SYSLOG_FACILITY", "10"),
        ("SYSLOG_IDENTIFIER", "nsgate"),
        ("NSGATE_V", "1"),
        ("NSGATE_TARGET", "web"),
        ("NSGATE_CONTAINER", id.as_str()),
        ("NSGATE_FROM", "192.0.2.7:50022"),
        ("_TRANSPORT", "journal"),
    ] {
        assert_eq!(field(allow, name), want, "{name}");
    }
    assert_eq!(field(allow, "SYSLOG_PID"), field(allow, "_PID"));
    assert!(allow.get("NSGATE_REASON").is_none(), "no reason: no field");
    let cmd = format!("/bin/echo hi {}", mark("--password=hunter2"));
    assert_eq!(field(allow, "NSGATE_CMD"), cmd);
    assert_eq!(field(exit, "NSGATE_STATUS"), "0");
    // MESSAGE is the record as syslog would carry it, and decodes to the
    // same fields.
    let record = Line::parse(&format!(
        "authpriv.info <86>Jan  1 00:00:00 nsgate[1]: {}",
        field(allow, "MESSAGE")
    ));
    assert_eq!(record.text("cmd"), cmd);
    assert_eq!(record.text("key"), "alice");

    // A deny by no rule: every redact glob of the configuration applies.
    let deny = &denies[0];
    assert_eq!(field(deny, "PRIORITY"), "4");
    let cmd = format!("/bin/cat {}", mark("--password=hunter2"));
    assert_eq!(field(deny, "NSGATE_CMD"), cmd);
    assert!(field(deny, "NSGATE_REASON").contains(&cmd));
    // Not split into words: all of it.
    assert_eq!(field(&denies[1], "NSGATE_CMD"), mark("/bin/echo 'hunter2"));

    drop(container);
    let _ = fs::remove_dir_all(dir);
}

/// A container removed when the test ends, passed or not.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        remove_containers(&[&self.0]);
    }
}

#[test]
fn a_bad_configuration_leaves_an_error_record_in_the_journal() {
    let test = "badconf";
    let Some(journal) = Journald::start(test) else {
        return;
    };
    let (dir, conf) = config(test, "target web docker web1\nbogus line\n");
    let run = journal.gate(&conf, "alice", "ls --password=hunter2");
    assert_eq!(run.status.code(), Some(125), "{run:?}");
    // The client reads one generic line; the record has the details.
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        "nsgate: the configuration is invalid; an administrator can run nsgate --check\n"
    );
    let error = &journal.wait(&[&format!("MESSAGE_ID={ERROR}")], 1)[0];
    assert_eq!(field(error, "PRIORITY"), "3");
    assert_eq!(field(error, "NSGATE_EVENT"), "error");
    assert_eq!(field(error, "NSGATE_KEY"), "alice");
    assert_eq!(field(error, "NSGATE_TARGET"), "web");
    assert_eq!(field(error, "NSGATE_FROM"), "192.0.2.7:50022");
    let reason = field(error, "NSGATE_REASON");
    assert!(reason.contains("unknown statement"), "{reason}");
    // No configuration says what is secret: none of the request is kept.
    assert_eq!(field(error, "NSGATE_CMD"), mark("ls --password=hunter2"));
    let (text, _) = journal.entries(&[]);
    assert!(!text.contains("hunter2"), "{text}");

    // A configuration that cannot be read at all, likewise.
    let run = journal.gate(&dir.join("missing.conf"), "alice", "ls");
    assert_eq!(run.status.code(), Some(125), "{run:?}");
    let errors = journal.wait(&[&format!("MESSAGE_ID={ERROR}")], 2);
    assert!(field(&errors[1], "NSGATE_REASON").contains("cannot read configuration"));
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn a_usage_error_in_gate_mode_leaves_an_error_record_in_syslog() {
    let test = "usage";
    if !is_root() {
        skip_or_fail(test, "needs root");
        return;
    }
    let dir = private_dir("nsgate-journal", test);
    let syslog = Rsyslogd::new(&dir);
    if !syslog.start(test) {
        return;
    }
    let conf = dir.join("nsgate.conf");
    write_trusted(
        &conf,
        &format!(
            "{}\ntarget web docker web1\npermit * on web redact --password=* cmd ls ...\n",
            syslog.setting()
        ),
    );
    let mut child = Command::new(NSGATE)
        .args(["--config", s(&conf), "--key", "bad label!", "web"])
        .env_clear()
        .env("SSH_ORIGINAL_COMMAND", "ls --password=hunter2")
        .env("SSH_CONNECTION", SSH_CONNECTION)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_limited(&mut child, Duration::from_secs(30), "nsgate");
    let run = child.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(125), "{run:?}");
    let client = String::from_utf8_lossy(&run.stderr);
    assert_eq!(client.lines().count(), 1, "{client}");
    let lines = syslog.records(1, Duration::from_secs(10), Some(Duration::from_millis(300)));
    let r = &lines[0];
    assert_eq!(r.priority, "authpriv.err");
    assert_eq!(r.text("event"), "error");
    assert_eq!(r.text("target"), "web");
    assert_eq!(r.text("from"), "192.0.2.7:50022");
    assert_eq!(r.get("key"), Some(&common::Value::Missing));
    assert!(r.text("reason").contains("invalid key label"), "{r:?}");
    assert_eq!(r.text("cmd"), format!("ls {}", mark("--password=hunter2")));
    assert!(!r.message.contains("hunter2"));
    syslog.stop();
    let _ = fs::remove_dir_all(dir);
}

/// Admin modes write no records: `--check` of a bad configuration reaches
/// no journal.
#[test]
fn admin_modes_write_no_record() {
    let test = "admin";
    let Some(journal) = Journald::start(test) else {
        return;
    };
    let (dir, conf) = config(test, "bogus\n");
    let out = journal
        .command(NSGATE, &["--config", s(&conf), "--check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = journal
        .command(NSGATE, &["--config", s(&conf), "--bogus"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(125),
        "gate mode, unknown option: {out:?}"
    );
    // Only the gate-mode usage error left a record.
    let entries = journal.wait(&[], 1);
    assert!(field(&entries[0], "NSGATE_REASON").contains("unknown option"));
    let _ = fs::remove_dir_all(dir);
}
