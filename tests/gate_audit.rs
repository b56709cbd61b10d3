//! The audit trail of issue 5 through the real binary in gate mode: a
//! private rsyslogd (tests/support/rsyslog.sh) on its own socket, a real
//! Docker container (tests/support/containers.sh), and nsgate run as sshd
//! would run it, with the request in SSH_ORIGINAL_COMMAND.
//!
//! Each test has its own temporary directory, rsyslogd and container,
//! removed when it ends. Faults prove that a refused command never ran with
//! a marker file the command would have created inside the container.
//!
//! Needs root, Docker and rsyslogd. Where they are missing the tests print a
//! notice and return; with NSGATE_E2E=1 (CI) they fail.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};

mod common;
use common::{
    gate_command, must, private_dir, record_fields, remove_containers, root_and_containers, s,
    start_container, syslog_setting, wait_limited, write_trusted, Line, Rsyslogd,
};

/// What sshd would set; the records must show the client as `from=`.
const SSH_CONNECTION: &str = "192.0.2.7 50022 192.0.2.1 22";

/// One test's world: a 0755 root-owned directory with the configuration,
/// a private rsyslogd writing DIR/out.log, and a container `nsgate-ga-*`.
struct Fixture {
    dir: PathBuf,
    container: String,
    rules: String,
    /// The configuration whose syslog socket is the private rsyslogd's.
    conf: PathBuf,
    syslog: Rsyslogd,
}

impl Fixture {
    fn new(test: &str, rules: &str) -> Option<Fixture> {
        if !root_and_containers(test) {
            return None;
        }
        let name = format!("nsgate-ga-{}-{test}", std::process::id());
        let dir = private_dir("nsgate-ga", test);
        let mut f = Fixture {
            conf: dir.join("nsgate.conf"),
            syslog: Rsyslogd::new(&dir),
            dir,
            container: name.clone(),
            rules: rules.to_string(),
        };
        if !f.syslog.start(test) {
            return None;
        }
        start_container("docker-run", &name, &[]);
        f.conf = f.config("nsgate.conf", &f.syslog.setting());
        Some(f)
    }

    /// Writes a configuration: the target, `settings`, then the rules.
    fn config(&self, file: &str, settings: &str) -> PathBuf {
        let text = format!(
            "target web docker {}\n{settings}\n{}",
            self.container, self.rules
        );
        self.config_text(file, &text)
    }

    /// Writes a configuration file as nsgate accepts it (root, 0644).
    fn config_text(&self, file: &str, text: &str) -> PathBuf {
        let path = self.dir.join(file);
        write_trusted(&path, text);
        path
    }

    /// `FILE:LINE` of the first line of `conf` containing `needle`.
    fn rule(&self, conf: &Path, needle: &str) -> String {
        let text = fs::read_to_string(conf).unwrap();
        let line = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        format!("{}:{line}", s(conf))
    }

    /// Starts nsgate in gate mode as sshd would, with `request` as
    /// SSH_ORIGINAL_COMMAND; stdout and stderr go to files named after `tag`.
    fn spawn(&self, conf: &Path, request: &OsStr, tag: &str) -> Child {
        let out = fs::File::create(self.dir.join(format!("{tag}.out"))).unwrap();
        let err = fs::File::create(self.dir.join(format!("{tag}.err"))).unwrap();
        gate_command(conf, "alice", "web", request)
            .env("SSH_CONNECTION", SSH_CONNECTION)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap()
    }

    /// Runs one session to its end (at most 30 s).
    fn gate(&self, conf: &Path, request: &[u8]) -> Run {
        let start = Instant::now();
        let mut child = self.spawn(conf, OsStr::from_bytes(request), "gate");
        let pid = child.id();
        // -1: nsgate itself was killed, which no expected code matches.
        let code = wait_limited(&mut child, Duration::from_secs(30), "nsgate")
            .code()
            .unwrap_or(-1);
        Run {
            code,
            pid,
            took: start.elapsed(),
            stdout: fs::read(self.dir.join("gate.out")).unwrap(),
            stderr: fs::read_to_string(self.dir.join("gate.err")).unwrap(),
        }
    }

    /// Waits until out.log holds `n` lines (at most `limit`), checks that no
    /// more follow, and parses them.
    fn lines_within(&self, n: usize, limit: Duration) -> Vec<Line> {
        self.syslog
            .records(n, limit, Some(Duration::from_millis(300)))
    }

    fn lines(&self, n: usize) -> Vec<Line> {
        self.lines_within(n, Duration::from_secs(10))
    }

    /// The container's full id and its init's host pid.
    fn inspect(&self) -> (String, String) {
        let out = must(
            "docker",
            &["inspect", "-f", "{{.Id}} {{.State.Pid}}", &self.container],
        );
        let (id, pid) = out.split_once(' ').unwrap();
        (id.to_string(), pid.to_string())
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

/// One finished nsgate.
#[derive(Debug)]
struct Run {
    code: i32,
    pid: u32,
    took: Duration,
    stdout: Vec<u8>,
    stderr: String,
}

fn is_sid(sid: &str) -> bool {
    sid.len() == 32
        && sid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

// ---------------------------------------------------------------- records

#[test]
fn permitted_and_denied_commands_are_recorded_in_order() {
    let rules = "permit * on web cmd /bin/echo ...\n";
    let Some(f) = Fixture::new("fields", rules) else {
        return;
    };
    let (id, init) = f.inspect();

    let ok = f.gate(&f.conf, b"/bin/echo hello");
    assert_eq!((ok.code, ok.stderr.as_str()), (0, ""));
    assert_eq!(ok.stdout, b"hello\n");
    let no = f.gate(&f.conf, b"cat /etc/shadow");
    assert_eq!(no.code, 126);
    assert_eq!(
        no.stderr,
        "nsgate: denied: \"cat /etc/shadow\" is not permitted on web\n"
    );

    let lines = f.lines(3);
    let (allow, exit, deny) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(allow.priority, "authpriv.info");
    assert_eq!(exit.priority, "authpriv.info");
    assert_eq!(deny.priority, "authpriv.warning");
    assert_eq!(allow.names(), record_fields(&[]));
    assert_eq!(
        exit.names(),
        record_fields(&["status", "duration_ms", "ended"])
    );
    assert_eq!(exit.text("ended"), "0");
    assert_eq!(deny.names(), record_fields(&["reason"]));
    assert_eq!((allow.pid, exit.pid, deny.pid), (ok.pid, ok.pid, no.pid));

    for l in [allow, exit] {
        assert_eq!(l.text("v"), "1");
        assert_eq!(l.text("key"), "alice");
        assert_eq!(l.bytes("fp"), None);
        assert_eq!(l.text("from"), "192.0.2.7:50022");
        assert_eq!(l.text("target"), "web");
        assert_eq!(l.text("container"), id);
        assert_eq!(l.text("pid"), init);
        assert!(!l.text("user").is_empty());
        assert!(!l.text("ns").is_empty());
        assert_eq!(l.text("rule"), f.rule(&f.conf, "/bin/echo"));
        assert_eq!(l.bytes("cmd"), Some(&b"/bin/echo hello"[..]));
    }
    assert_eq!(allow.text("event"), "allow");
    assert_eq!(exit.text("event"), "exit");
    assert!(is_sid(&allow.text("sid")), "{allow:?}");
    assert_eq!(allow.text("sid"), exit.text("sid"));
    assert_eq!(exit.text("status"), "0");
    let ms: u64 = exit.text("duration_ms").parse().unwrap();
    assert!(ms <= ok.took.as_millis() as u64, "{ms} ms");

    assert_eq!(deny.text("event"), "deny");
    assert!(is_sid(&deny.text("sid")));
    assert_ne!(deny.text("sid"), allow.text("sid"));
    assert_eq!(deny.text("key"), "alice");
    assert_eq!(deny.text("from"), "192.0.2.7:50022");
    assert_eq!(deny.bytes("cmd"), Some(&b"cat /etc/shadow"[..]));
    assert!(deny.text("reason").contains("not permitted"), "{deny:?}");
}

#[test]
fn syslog_facility_setting_is_used() {
    let rules = "permit * on web cmd /bin/true\n";
    let Some(f) = Fixture::new("facility", rules) else {
        return;
    };
    let settings = format!("{}\nset syslog-facility local3", f.syslog.setting());
    let conf = f.config("local3.conf", &settings);
    assert_eq!(f.gate(&conf, b"/bin/true").code, 0);
    assert_eq!(f.gate(&conf, b"/bin/false").code, 126);
    let lines = f.lines(3);
    let got: Vec<(&str, String)> = lines
        .iter()
        .map(|l| (l.priority.as_str(), l.text("event")))
        .collect();
    assert_eq!(
        got,
        [
            ("local3.info", "allow".to_string()),
            ("local3.info", "exit".to_string()),
            ("local3.warning", "deny".to_string()),
        ]
    );
}

#[test]
fn how_a_command_ended_is_in_its_exit_record() {
    let rules = "\
permit * on web cmd /bin/sh -c \"exit 3\"
permit * on web cmd /bin/sh -c \"kill -KILL $$\"
permit * on web timeout 1s cmd /bin/sleep 30
permit * on web cmd /no/such/program
";
    let Some(f) = Fixture::new("outcomes", rules) else {
        return;
    };
    let status = f.gate(&f.conf, b"/bin/sh -c 'exit 3'");
    let killed = f.gate(&f.conf, b"/bin/sh -c 'kill -KILL $$'");
    let timeout = f.gate(&f.conf, b"/bin/sleep 30");
    let missing = f.gate(&f.conf, b"/no/such/program");
    assert_eq!(status.code, 3, "{status:?}");
    assert_eq!(killed.code, 128 + 9, "{killed:?}");
    assert!(timeout.code > 128, "{timeout:?}");
    // The client is told why, before the session ends.
    assert_eq!(
        timeout.stderr, "nsgate: timed out after 1s\n",
        "{timeout:?}"
    );
    assert!(timeout.took < Duration::from_secs(10), "{timeout:?}");
    assert_eq!(missing.code, 127, "{missing:?}");

    let lines = f.lines(8);
    for (i, run) in [&status, &killed, &timeout, &missing].iter().enumerate() {
        let (allow, exit) = (&lines[2 * i], &lines[2 * i + 1]);
        assert_eq!(allow.text("event"), "allow");
        assert_eq!(exit.text("event"), "exit");
        assert_eq!(allow.text("sid"), exit.text("sid"));
        assert_eq!((allow.pid, exit.pid), (run.pid, run.pid));
        assert!(exit.get("duration_ms").is_some(), "{exit:?}");
    }
    let exit = |i: usize| &lines[2 * i + 1];

    assert_eq!(
        exit(0).names(),
        record_fields(&["status", "duration_ms", "ended"])
    );
    assert_eq!(exit(0).text("status"), "3");
    assert_eq!(exit(0).text("ended"), "0");

    assert_eq!(
        exit(1).names(),
        record_fields(&["signal", "duration_ms", "ended"])
    );
    assert_eq!(exit(1).text("signal"), "SIGKILL");
    assert_eq!(exit(1).text("ended"), "0");

    assert_eq!(
        exit(2).names(),
        record_fields(&["reason", "signal", "duration_ms", "ended"])
    );
    assert_eq!(exit(2).text("reason"), "timeout");
    // The timeout ended the command itself.
    assert_eq!(exit(2).text("ended"), "1");
    assert_eq!(timeout.code, 128 + signal_number(&exit(2).text("signal")));
    let ms: u64 = exit(2).text("duration_ms").parse().unwrap();
    assert!((1000..10_000).contains(&ms), "{ms} ms");

    assert_eq!(
        exit(3).names(),
        record_fields(&["reason", "status", "duration_ms"])
    );
    assert_eq!(exit(3).text("status"), "127");
    assert_eq!(
        exit(3).text("reason"),
        "/no/such/program: not found in the container"
    );
    // The client gets its own word back, and the session to ask about.
    assert_eq!(
        missing.stderr,
        format!(
            "nsgate: \"/no/such/program\": not found in the container (session {}; the audit record has the details)\n",
            exit(3).text("sid")
        )
    );
}

fn signal_number(name: &str) -> i32 {
    name.parse::<Signal>().unwrap() as i32
}

#[test]
fn a_target_that_cannot_be_resolved_gives_an_error_record() {
    let Some(f) = Fixture::new("error", "") else {
        return;
    };
    let ghost = format!("{}-gone", f.container);
    let text = format!(
        "target web docker {ghost}\n{}\npermit * on web cmd /bin/true\n",
        f.syslog.setting()
    );
    let conf = f.config_text("ghost.conf", &text);
    let run = f.gate(&conf, b"/bin/true");
    assert_eq!(
        (run.code, run.stdout.as_slice()),
        (125, &b""[..]),
        "{run:?}"
    );
    let lines = f.lines(1);
    let error = &lines[0];
    // The client reads what failed and the session; the record, the details.
    assert_eq!(
        run.stderr,
        format!(
            "nsgate: cannot find a running container for target web (session {}; the audit record has the details)\n",
            error.text("sid")
        )
    );
    assert_eq!(
        error.text("reason"),
        format!("target web: docker container \"{ghost}\" not found")
    );
    assert_eq!(error.priority, "authpriv.err");
    assert_eq!(error.names(), record_fields(&["reason"]));
    assert_eq!(error.text("event"), "error");
    assert_eq!(error.pid, run.pid);
    assert_eq!(error.text("key"), "alice");
    assert_eq!(error.text("target"), "web");
    assert_eq!(error.bytes("cmd"), Some(&b"/bin/true"[..]));
}

// ---------------------------------------------------------------- injection

#[test]
fn hostile_requests_give_one_record_per_event_that_decodes_exactly() {
    let rules = "set max-command-bytes 6144\npermit * on web cmd /bin/echo ...\n";
    let Some(f) = Fixture::new("hostile", rules) else {
        return;
    };
    // Refused by the request parser: each a single deny record.
    let refused: Vec<Vec<u8>> = vec![
        b"/bin/echo 'a\nb'".to_vec(),
        b"/bin/echo \"x\r\nv=1 sid=forged event=allow\"".to_vec(),
        b"/bin/echo '\x1b[2J\x1b]0;title\x07'".to_vec(),
        b"/bin/echo a\nv=1 sid=forged event=allow".to_vec(),
        b"/bin/echo \xff\xfe \"\xc3\"".to_vec(),
    ];
    // Permitted: allow and exit records; echo proves the argv arrived whole.
    let long: Vec<u8> = (0..4000).map(|i| b"abcdefgh]\"\\"[i % 11]).collect();
    let mut long_request = b"/bin/echo '".to_vec();
    long_request.extend(&long);
    long_request.push(b'\'');
    let permitted: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (
            br#"/bin/echo "a\"b" 'c\d' \\ "]" ]"#.to_vec(),
            b"a\"b c\\d \\ ] ]\n".to_vec(),
        ),
        (
            b"/bin/echo ] [ ]] '<13>x'".to_vec(),
            b"] [ ]] <13>x\n".to_vec(),
        ),
        (long_request, [&long[..], b"\n"].concat()),
    ];

    let mut expected = Vec::new();
    for req in &refused {
        let run = f.gate(&f.conf, req);
        assert_eq!(run.code, 126, "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(run.stderr.starts_with("nsgate: denied: "), "{run:?}");
        expected.push(("deny", req.clone(), run.pid));
    }
    for (req, echoed) in &permitted {
        let run = f.gate(&f.conf, req);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
        assert_eq!(&run.stdout, echoed);
        expected.push(("allow", req.clone(), run.pid));
        expected.push(("exit", req.clone(), run.pid));
    }

    // Over max-command-bytes and over what a record holds: still one deny
    // record, its cmd a prefix of the request and saying so.
    let mut huge = b"/bin/echo ".to_vec();
    huge.extend(vec![b'\\'; 10_000]);
    let run = f.gate(&f.conf, &huge);
    assert_eq!(run.code, 126, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");

    let lines = f.lines(expected.len() + 1);
    let last = &lines[expected.len()];
    assert_eq!(last.text("event"), "deny");
    assert_eq!(last.pid, run.pid);
    let kept = last.bytes("cmd").unwrap();
    assert!(huge.starts_with(kept) && kept.len() > 1000, "{last:?}");
    assert!(
        last.text("reason").ends_with(&format!(
            "cmd truncated to {} of {} bytes",
            kept.len(),
            huge.len()
        )),
        "{last:?}"
    );
    for (line, (event, req, pid)) in lines.iter().zip(&expected) {
        assert_eq!(line.text("event"), *event);
        assert_eq!(line.pid, *pid);
        assert_eq!(
            line.bytes("cmd"),
            Some(&req[..]),
            "{event} record of {:?}",
            String::from_utf8_lossy(req)
        );
        assert_ne!(line.text("sid"), "forged");
    }
}

// ---------------------------------------------------------------- faults

const MARKER_RULES: &str = "\
permit * on web cmd /bin/touch /tmp/marker-1
permit * on web cmd /bin/touch /tmp/marker-2
permit * on web cmd /bin/touch /tmp/marker-3
permit * on web cmd /bin/sleep 3
";

/// A refusal for want of an audit trail: 125 and one line that names no
/// socket and no errno (no record can hold the details: the timings of the
/// tests tell the failures apart, and tests/audit.rs their messages).
fn assert_audit_refusal(run: &Run) {
    assert_eq!(
        (run.code, run.stdout.as_slice(), run.stderr.as_str()),
        (
            125,
            &b""[..],
            "nsgate: cannot write the audit record, so nothing was run\n"
        ),
        "{run:?}"
    );
}

/// The same request through the working rsyslogd does create the marker,
/// so its absence after a refusal means the command never ran.
fn assert_marker_proves_something(f: &Fixture, marker: &str) {
    let run = f.gate(&f.conf, format!("/bin/touch /tmp/{marker}").as_bytes());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(f.has_marker(marker));
}

#[test]
fn no_syslog_daemon_refuses_and_nothing_runs() {
    let Some(f) = Fixture::new("nodaemon", MARKER_RULES) else {
        return;
    };
    let missing = f.dir.join("missing.sock");
    let conf = f.config("missing.conf", &syslog_setting(&missing));
    let run = f.gate(&conf, b"/bin/touch /tmp/marker-1");
    assert_audit_refusal(&run);
    assert!(run.took < Duration::from_secs(2), "{run:?}");
    assert!(!f.has_marker("marker-1"));
    // A deny is a deny whether or not its record could be written.
    let deny = f.gate(&conf, b"/bin/touch /tmp/elsewhere");
    assert_eq!(deny.code, 126, "{deny:?}");
    assert_eq!(
        deny.stderr,
        "nsgate: denied: \"/bin/touch /tmp/elsewhere\" is not permitted on web\n"
    );
    assert_marker_proves_something(&f, "marker-1");
}

/// Sends datagrams to `path` until its queue is full.
fn fill(path: &Path) -> usize {
    let filler = UnixDatagram::unbound().unwrap();
    filler.connect(path).unwrap();
    filler.set_nonblocking(true).unwrap();
    // Not an nsgate record: rsyslog.sh's out.log never shows it.
    let junk = format!("<14>Nov 29 00:00:00 filler[1]: {}", "z".repeat(1000));
    for sent in 0..100_000 {
        match filler.send(junk.as_bytes()) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return sent,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    panic!("{} took 100000 datagrams", path.display());
}

#[test]
fn socket_nobody_reads_refuses_within_the_timeout_and_nothing_runs() {
    let Some(f) = Fixture::new("noreader", MARKER_RULES) else {
        return;
    };
    let dead = f.dir.join("dead.sock");
    let _server = UnixDatagram::bind(&dead).unwrap();
    assert!(fill(&dead) > 0);
    let conf = f.config("dead.conf", &syslog_setting(&dead));
    let run = f.gate(&conf, b"/bin/touch /tmp/marker-2");
    assert_audit_refusal(&run);
    assert!(
        run.took >= Duration::from_millis(1900) && run.took < Duration::from_secs(4),
        "{run:?}"
    );
    assert!(!f.has_marker("marker-2"));
    assert_marker_proves_something(&f, "marker-2");
}

#[test]
fn stopped_rsyslogd_refuses_when_its_socket_is_full_and_nothing_runs() {
    let Some(f) = Fixture::new("stopped", MARKER_RULES) else {
        return;
    };
    let pid = f.syslog.pid();
    kill(pid, Signal::SIGSTOP).unwrap();
    // Let a read already under way finish, then fill what is left.
    std::thread::sleep(Duration::from_millis(100));
    fill(&f.syslog.socket());
    let run = f.gate(&f.conf, b"/bin/touch /tmp/marker-3");
    kill(pid, Signal::SIGCONT).unwrap();
    assert_audit_refusal(&run);
    assert!(
        run.took >= Duration::from_millis(1900) && run.took < Duration::from_secs(5),
        "{run:?}"
    );
    assert!(!f.has_marker("marker-3"));
    // The refused session left no record: the daemon, awake, has nothing.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(f.syslog.out_log(), Vec::<String>::new());
    assert_marker_proves_something(&f, "marker-3");
    assert_eq!(
        f.lines(2)[0].bytes("cmd"),
        Some(&b"/bin/touch /tmp/marker-3"[..])
    );
}

#[test]
fn restarted_rsyslogd_still_gets_the_exit_record() {
    let Some(f) = Fixture::new("restart", MARKER_RULES) else {
        return;
    };
    let mut child = f.spawn(&f.conf, OsStr::new("/bin/sleep 3"), "sleep");
    let allow = f.lines(1);
    assert_eq!(allow[0].text("event"), "allow");
    f.syslog.restart();
    assert!(
        child.try_wait().unwrap().is_none(),
        "the session ended before rsyslogd was restarted"
    );
    let status = wait_limited(&mut child, Duration::from_secs(30), "nsgate");
    assert_eq!(status.code(), Some(0));
    let lines = f.lines(2);
    assert_eq!(lines[1].text("event"), "exit");
    assert_eq!(lines[1].text("status"), "0");
    assert_eq!(lines[0].text("sid"), lines[1].text("sid"));
    assert_eq!(lines[1].pid, child.id());
}

// ---------------------------------------------------------------- load

const SESSIONS: usize = 200;

#[test]
fn concurrent_sessions_are_all_recorded_and_paired() {
    let rules = "permit * on web cmd /bin/true\n";
    let Some(f) = Fixture::new("concurrent", rules) else {
        return;
    };
    let start = Instant::now();
    let mut children: Vec<Child> = (0..SESSIONS)
        .map(|i| f.spawn(&f.conf, OsStr::new("/bin/true"), &format!("s{i}")))
        .collect();
    let mut failed = Vec::new();
    for (i, c) in children.iter_mut().enumerate() {
        let left = Duration::from_secs(90).saturating_sub(start.elapsed());
        let code = wait_limited(c, left, "nsgate").code().unwrap_or(-1);
        if code != 0 {
            let err = fs::read_to_string(f.dir.join(format!("s{i}.err"))).unwrap();
            failed.push(format!("session {i}: exit {code}: {err}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join(""));
    eprintln!("{SESSIONS} sessions took {:?}", start.elapsed());

    let lines = f.lines_within(2 * SESSIONS, Duration::from_secs(30));
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let mut by_sid: HashMap<String, (Vec<u32>, Vec<u32>)> = HashMap::new();
    for line in &lines {
        assert_eq!(line.bytes("cmd"), Some(&b"/bin/true"[..]));
        assert!(pids.contains(&line.pid), "{line:?}");
        let entry = by_sid.entry(line.text("sid")).or_default();
        match line.text("event").as_str() {
            "allow" => entry.0.push(line.pid),
            "exit" => {
                assert_eq!(line.text("status"), "0");
                entry.1.push(line.pid)
            }
            e => panic!("unexpected event {e}: {line:?}"),
        }
    }
    assert_eq!(by_sid.len(), SESSIONS);
    let mut seen_pids: Vec<u32> = Vec::new();
    for (sid, (allow, exit)) in &by_sid {
        assert!(
            allow.len() == 1 && *allow == *exit,
            "session {sid}: allow from {allow:?}, exit from {exit:?}"
        );
        seen_pids.push(allow[0]);
    }
    seen_pids.sort_unstable();
    let mut pids = pids;
    pids.sort_unstable();
    assert_eq!(seen_pids, pids);
}
