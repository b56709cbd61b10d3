//! Session recording (issue 13, nsgate(8) RECORDING) through the real
//! binary: `record` rules on a real Docker container, the audit trail on a
//! private rsyslogd, a shell session through a real sshd, and the
//! recordings checked with asciinema's own `asciinema cat` (PyPI
//! `asciinema`, installed by scripts/test) and `nsgate replay`.
//!
//! Needs root, Docker, rsyslogd, sshd and asciinema. Where they are missing
//! the tests print a notice and return; with NSGATE_E2E=1 (CI) they fail.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
mod ssh_env;
use common::{
    gate_command, must, private_dir, remove_containers, root_and_containers, skip_or_fail,
    start_container, wait_limited, write_trusted, Line, Rsyslogd, NSGATE,
};
use ssh_env::{key, Env};

/// Whether `test` can run here: root, Docker and asciinema.
fn prerequisites(test: &str) -> bool {
    if Command::new("asciinema").arg("--version").output().is_err() {
        skip_or_fail(test, "needs asciinema (pip install asciinema)");
        return false;
    }
    root_and_containers(test)
}

/// One test's world: a directory with the configuration and the
/// recordings (DIR/casts), a private rsyslogd and a container.
struct Fixture {
    dir: PathBuf,
    container: String,
    conf: PathBuf,
    syslog: Rsyslogd,
}

impl Fixture {
    /// `settings` and `rules` follow the target `web` and the syslog line.
    fn new(test: &str, settings: &str, rules: &str) -> Option<Fixture> {
        if !prerequisites(test) {
            return None;
        }
        let dir = private_dir("nsgate-rec", test);
        let container = format!(
            "nsgate-rec-{}-{}",
            std::process::id(),
            test.replace('_', "-")
        );
        let syslog = Rsyslogd::new(&dir);
        if !syslog.start(test) {
            return None;
        }
        start_container("docker-run", &container, &[]);
        let conf = dir.join("nsgate.conf");
        let settings = settings.replace("{dir}", &dir.to_string_lossy());
        write_trusted(
            &conf,
            &format!(
                "target web docker {container}\n{}\n{settings}\n{rules}",
                syslog.setting()
            ),
        );
        Some(Fixture {
            dir,
            container,
            conf,
            syslog,
        })
    }

    /// Runs `request` as sshd would without a terminal: stdin /dev/null.
    fn gate(&self, request: &str) -> (i32, Vec<u8>, String) {
        let out = self.dir.join("gate.out");
        let err = self.dir.join("gate.err");
        let mut child = gate_command(&self.conf, "alice", "web", request)
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let status = wait_limited(&mut child, Duration::from_secs(30), "nsgate");
        (
            status.code().unwrap_or(-1),
            fs::read(out).unwrap(),
            fs::read_to_string(err).unwrap(),
        )
    }

    fn records(&self, n: usize) -> Vec<Line> {
        self.syslog
            .records(n, Duration::from_secs(10), Some(Duration::from_millis(300)))
    }

    fn casts(&self) -> PathBuf {
        self.dir.join("casts")
    }

    /// Whether /tmp/NAME exists inside the container.
    fn has_marker(&self, name: &str) -> bool {
        let ls = must("docker", &["exec", &self.container, "ls", "/tmp"]);
        ls.lines().any(|l| l == name)
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

/// What `asciinema cat FILE` prints.
fn asciinema_cat(file: &Path) -> Vec<u8> {
    let out = Command::new("asciinema")
        .arg("cat")
        .arg(file)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "asciinema cat {}: {out:?}",
        file.display()
    );
    out.stdout
}

/// What `nsgate replay ARGS` prints; it must succeed.
fn replay(args: &[&str]) -> Vec<u8> {
    let out = Command::new(NSGATE)
        .arg("replay")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "nsgate replay {args:?}: {out:?}");
    out.stdout
}

/// The JSON lines of a recording.
fn events(file: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

/// The data of the events with `code`, joined.
fn joined(events: &[serde_json::Value], code: &str) -> String {
    events[1..]
        .iter()
        .filter(|e| e[1] == code)
        .map(|e| e[2].as_str().unwrap())
        .collect()
}

#[test]
fn a_plain_command_is_relayed_and_recorded_byte_for_byte() {
    let Some(f) = Fixture::new(
        "plain",
        "set record-dir {dir}/casts",
        "permit * on web record cmd sh -c ...\n",
    ) else {
        return;
    };
    // Valid UTF-8 with what JSON must escape, a character split across two
    // writes (so two reads), and stderr after stdout.
    let script = r#"printf '\033[1;31mred\033[0m "q" \\ tab\t\001 caf\303'; sleep 0.3; printf '\251 \342\202\254\n'; sleep 0.3; printf 'err\n' >&2"#;
    let (code, stdout, stderr) = f.gate(&format!("sh -c '{}'", script.replace('\'', r"'\''")));
    assert_eq!((code, stderr.as_str()), (0, "err\n"));
    let shown = "\x1b[1;31mred\x1b[0m \"q\" \\ tab\t\x01 café €\n";
    assert_eq!(stdout, shown.as_bytes());

    let lines = f.records(2);
    let sid = lines[0].text("sid");
    assert_eq!(lines[0].text("event"), "allow");
    let file = f.casts().join(format!("{sid}.cast"));
    let meta = fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o600));
    let dir = fs::metadata(f.casts()).unwrap();
    assert_eq!((dir.uid(), dir.mode() & 0o777), (0, 0o700));
    assert_eq!(lines[1].text("event"), "exit");
    assert_eq!(lines[1].text("recorded"), meta.len().to_string());

    let ev = events(&file);
    assert_eq!(ev[0]["version"], 2);
    assert_eq!(ev[0]["nsgate"]["sid"], sid.as_str());
    assert_eq!(ev[0]["nsgate"]["key"], "alice");
    assert_eq!(ev[0]["nsgate"]["target"], "web");
    // stdout and stderr are both "o" events, in the order they were relayed.
    let all = format!("{shown}err\n");
    assert_eq!(joined(&ev, "o"), all);
    assert_eq!(asciinema_cat(&file), all.as_bytes());
    let casts = f.casts();
    let dir_arg = casts.to_str().unwrap();
    assert_eq!(replay(&["--cat", "--dir", dir_arg, &sid]), all.as_bytes());
    let conf = f.conf.to_str().unwrap();
    assert_eq!(
        replay(&["--speed", "50", "--config", conf, &sid]),
        all.as_bytes()
    );

    // Invalid UTF-8 is one U+FFFD per maximal invalid sequence, as
    // asciinema's recorder writes it; the client still gets every byte.
    let (code, stdout, _) = f.gate(r"sh -c 'printf \\377ok\\355\\240\\200\\n'");
    assert_eq!((code, stdout.as_slice()), (0, &b"\xffok\xed\xa0\x80\n"[..]));
    let sid = f.records(4)[2].text("sid");
    let file = f.casts().join(format!("{sid}.cast"));
    assert_eq!(
        String::from_utf8(asciinema_cat(&file)).unwrap(),
        String::from_utf8_lossy(&stdout)
    );
}

#[test]
fn a_record_dir_that_cannot_be_used_refuses_the_session_and_runs_nothing() {
    let Some(f) = Fixture::new(
        "baddir",
        "set record-dir {dir}/file/casts",
        "permit * on web record cmd touch ...\n",
    ) else {
        return;
    };
    fs::write(f.dir.join("file"), "").unwrap();
    let (code, stdout, stderr) = f.gate("touch /tmp/ran");
    let lines = f.records(1);
    let sid = lines[0].text("sid");
    assert_eq!((code, stdout.as_slice()), (125, &b""[..]));
    assert_eq!(
        stderr,
        format!(
            "nsgate: cannot record the session, so nothing was run \
             (session {sid}; the audit record has the details)\n"
        )
    );
    assert_eq!(lines[0].text("event"), "error");
    let reason = lines[0].text("reason");
    assert!(
        reason.starts_with("cannot record the session: ") && reason.contains("/file/casts"),
        "{reason}"
    );
    assert!(!f.has_marker("ran"));

    // An existing directory others can write to is refused too.
    let open = f.dir.join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let text = fs::read_to_string(&f.conf)
        .unwrap()
        .replace("/file/casts", "/open");
    write_trusted(&f.conf, &text);
    let (code, _, _) = f.gate("touch /tmp/ran");
    assert_eq!(code, 125);
    let reason = f.records(2)[1].text("reason");
    assert!(reason.contains("writable by group or others"), "{reason}");
    assert!(!f.has_marker("ran"));
    assert_eq!(fs::read_dir(&open).unwrap().count(), 0);
}

#[test]
fn past_record_max_bytes_the_session_ends_record_failed() {
    let Some(f) = Fixture::new(
        "maxbytes",
        "set record-dir {dir}/casts\nset record-max-bytes 65536",
        "permit * on web record cmd yes ...\n",
    ) else {
        return;
    };
    let (code, stdout, stderr) = f.gate("yes 0123456789abcdef");
    assert_eq!(code, 128 + 15, "{stderr}");
    assert_eq!(
        stderr,
        "nsgate: session ended: the recording reached record-max-bytes (65536)\n"
    );
    let lines = f.records(2);
    let exit = &lines[1];
    assert_eq!(exit.text("reason"), "record-failed");
    let file = f.casts().join(format!("{}.cast", exit.text("sid")));
    let size = fs::metadata(&file).unwrap().len();
    assert!(size <= 65536, "{size}");
    assert_eq!(exit.text("recorded"), size.to_string());
    // The client saw exactly what was recorded, nothing unrecorded (the
    // read that would have passed the limit is neither).
    assert_eq!(asciinema_cat(&file), stdout);
}

#[test]
fn a_shell_session_through_sshd_replays_what_was_typed_and_shown() {
    let test = "sshshell";
    if !prerequisites(test) {
        return;
    }
    let casts = private_dir("nsgate-rec-casts", test);
    let config = format!(
        "set record-dir {}\ntarget web1 docker {{container}}\npermit ops on web1 record input shell\n",
        casts.display()
    );
    let Some(env) = Env::new(
        test,
        &config,
        &[key("ops", "restrict,pty", "{nsgate} --key ops web1")],
    ) else {
        return;
    };
    // The answer is built by the shell, so the typed line cannot match it.
    let out = env.run("ops", &["-tt"], None, Some("echo MARK$((6*7))\nexit\n"));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("MARK42"), "{out:?}");
    let exit = env.audit_line(&["event=exit", "recorded="]);
    let sid = exit
        .split(' ')
        .find_map(|w| w.strip_prefix("sid="))
        .unwrap()
        .to_string();
    let file = casts.join(format!("{sid}.cast"));
    let ev = events(&file);
    assert_eq!(ev[0]["nsgate"]["target"], "web1");
    assert_eq!(ev[0]["nsgate"]["input"], true);
    assert_eq!(ev[0]["env"]["TERM"], "xterm");
    assert_eq!(joined(&ev, "i"), "echo MARK$((6*7))\nexit\n");
    // What the client's terminal got is what asciinema and nsgate replay;
    // only sshd's own terminal echoed the input before nsgate took it.
    let shown = asciinema_cat(&file);
    let shown_text = String::from_utf8(shown.clone()).unwrap();
    assert!(out.stdout.ends_with(&shown_text), "{shown_text:?} {out:?}");
    assert!(shown_text.contains("\r\nMARK42\r\n"), "{shown_text:?}");
    let dir = casts.to_str().unwrap();
    assert_eq!(replay(&["--cat", "--dir", dir, &sid]), shown);
    let size = fs::metadata(&file).unwrap().len();
    assert!(exit.contains(&format!(" recorded={size} seq=")), "{exit}");
    let _ = fs::remove_dir_all(&casts);
}
