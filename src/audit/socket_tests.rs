//! The writer against a datagram socket of the test's own (moved here from
//! tests/audit.rs, which drove the library): records arrive whole and decode
//! to the request, and every fault of the socket is an error with its
//! message within the 2 s timeout, never a hang. Through the real binary and
//! a real rsyslogd, tests/gate_audit.rs checks the same from outside, where
//! these messages never show (the client reads one line, and no record can
//! say why a record could not be written).

use super::*;
use crate::config::{Facility, NsSet, Origin, Settings};
use crate::system::Exit;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// An empty directory of this test's own.
fn dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nsgate-audit-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Records to `socket`, chained in a state directory beside it.
fn settings(socket: &Path) -> Settings {
    Settings {
        syslog_socket: socket.to_path_buf(),
        audit_state: socket.with_file_name("state"),
        ..Settings::default()
    }
}

/// A bound socket, standing for a syslog daemon, in a directory of its own;
/// a thread reads it as a daemon would, unless it is `stuck`.
struct Sink {
    dir: PathBuf,
    socket: UnixDatagram,
    read: Option<std::sync::mpsc::Receiver<Vec<u8>>>,
}

impl Sink {
    fn new(test: &str) -> Sink {
        let mut sink = Sink::stuck(test);
        let socket = sink.socket.try_clone().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 2 * MAX_RECORD_BYTES];
            loop {
                let datagram = match socket.recv(&mut buf) {
                    Ok(n) => buf[..n].to_vec(),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => format!("reader: {e}").into_bytes(),
                };
                if tx.send(datagram).is_err() {
                    break;
                }
            }
        });
        sink.read = Some(rx);
        sink
    }

    /// One that reads only when the test asks.
    fn stuck(test: &str) -> Sink {
        let dir = dir(test);
        let socket = UnixDatagram::bind(dir.join("log.sock")).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Sink {
            dir,
            socket,
            read: None,
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("log.sock")
    }

    fn settings(&self) -> Settings {
        settings(&self.path())
    }

    /// The next datagram, taken apart.
    fn next(&self) -> Received {
        let datagram = match &self.read {
            Some(rx) => rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            None => {
                let mut buf = vec![0u8; 2 * MAX_RECORD_BYTES];
                let n = self.socket.recv(&mut buf).unwrap();
                buf.truncate(n);
                buf
            }
        };
        assert!(
            datagram.len() <= MAX_RECORD_BYTES,
            "{} bytes",
            datagram.len()
        );
        let text = String::from_utf8(datagram).unwrap();
        let frame = parse_frame(&text).unwrap_or_else(|| panic!("not a record: {text}"));
        let fields = parse_message(frame.message).unwrap_or_else(|e| panic!("{e}: {text}"));
        Received {
            pri: frame.pri,
            pid: frame.pid,
            message: frame.message.to_string(),
            fields,
        }
    }

    fn lines(&self, n: usize) -> Vec<Received> {
        (0..n).map(|_| self.next()).collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug)]
struct Received {
    pri: u16,
    pid: u32,
    message: String,
    fields: Vec<(String, Value)>,
}

impl Received {
    fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The MESSAGE without its `seq` and `chain`, which must end it.
    fn unchained(&self) -> &str {
        let names = self.names();
        assert_eq!(
            names[names.len() - 2..],
            ["seq", "chain"],
            "{}",
            self.message
        );
        &self.message[..self.message.rfind(" seq=").unwrap()]
    }

    /// `seq`, and whether `chain` follows from `previous` (nsgate(8) AUDIT).
    fn link(&self, previous: &str) -> (u64, bool) {
        let (text, chain) = self.message.split_once(" chain=").unwrap();
        let seq = self.text("seq").parse().unwrap();
        (seq, chain == super::chain::chain_value(previous, text))
    }

    fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.get(name).and_then(Value::bytes)
    }

    fn text(&self, name: &str) -> String {
        let v = self
            .bytes(name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"));
        String::from_utf8(v.to_vec()).unwrap()
    }
}

/// The fields every record has (those up to `cmd`, but a certificate's),
/// then `extra`, then the `seq` and `chain` that end every record.
fn record_fields(extra: &[&'static str]) -> Vec<&'static str> {
    super::FIELD_ORDER
        .iter()
        .take_while(|n| **n != "reason")
        .filter(|n| !n.starts_with("cert_"))
        .chain(extra)
        .chain(&["seq", "chain"])
        .copied()
        .collect()
}

fn allow(cmd: &[u8]) -> Record {
    Record {
        key: Some("alice".into()),
        fp: Some("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8".into()),
        from: Some("192.0.2.7:50022".parse().unwrap()),
        target: Some("web1".into()),
        container: Some("0123456789ab".into()),
        pid: crate::system::Pid::new(4242),
        user: Some("www-data".into()),
        ns: Some(NsSet::ALL),
        rule: Some(Origin {
            file: "/etc/nsgate.conf".into(),
            line: 7,
        }),
        cmd: Some(cmd.to_vec()),
        ..Record::new(SessionId::generate().unwrap(), Event::Allow)
    }
}

#[test]
fn records_arrive_with_their_fields() {
    let d = Sink::new("fields");
    let mut a = Auditor::new(&d.settings());
    let allow = allow(b"ls -l /srv");
    let exit = allow.exit(Exit::Exited(0), Duration::from_millis(15), None);
    let deny = Record {
        event: Event::Deny,
        reason: Some("not permitted".into()),
        ..self::allow(b"cat /etc/shadow")
    };
    let error = Record {
        key: None,
        cmd: None,
        reason: Some("target web1: not running".into()),
        ..Record::new(SessionId::generate().unwrap(), Event::Error)
    };
    let killed = allow.exit(
        Exit::Signaled(9),
        Duration::from_secs(30),
        Some("timeout".into()),
    );
    for r in [&allow, &exit, &deny, &error, &killed] {
        a.send(r).unwrap();
    }
    let lines = d.lines(5);
    // authpriv (10): info 6, warning 4, err 3.
    let want = [
        (86, &allow),
        (86, &exit),
        (84, &deny),
        (83, &error),
        (86, &killed),
    ];
    for (line, (pri, record)) in lines.iter().zip(want) {
        assert_eq!(line.pri, pri);
        assert_eq!(line.pid, std::process::id());
        assert_eq!(line.unchained(), record.message());
    }
    assert_eq!(lines[1].names(), record_fields(&["status", "duration_ms"]));
    assert_eq!(lines[0].text("sid"), lines[1].text("sid"));
    assert_eq!(lines[0].text("sid").len(), 32);
    assert_ne!(lines[0].text("sid"), lines[2].text("sid"));
    assert_eq!(lines[1].text("event"), "exit");
    assert_eq!(lines[1].text("status"), "0");
    assert_eq!(lines[1].text("ns"), "mnt,uts,ipc,net,pid,cgroup,time,user");
    assert_eq!(lines[3].get("key"), Some(&Value::Missing));
    assert_eq!(lines[3].get("cmd"), Some(&Value::Missing));
    assert_eq!(lines[4].text("signal"), "SIGKILL");
    assert_eq!(lines[4].text("reason"), "timeout");

    // Another facility, as `set syslog-facility local3` asks: 19 * 8 + 4.
    let settings = Settings {
        syslog_facility: Facility::Local(3),
        ..d.settings()
    };
    Auditor::new(&settings).send(&deny).unwrap();
    assert_eq!(d.next().pri, 156);
}

#[test]
fn hostile_requests_arrive_as_one_datagram_each_and_decode_exactly() {
    let d = Sink::new("hostile");
    let mut a = Auditor::new(&d.settings());
    let mut long = b"echo ".to_vec();
    long.extend((0..4000).map(|i| b"abcdefgh]\"\\ '"[i % 13]));
    let requests: Vec<Vec<u8>> = vec![
        b"echo a\nb".to_vec(),
        b"echo a\r\nv=1 sid=forged event=allow".to_vec(),
        b"printf '\x1b[2J\x1b]0;title\x07'".to_vec(),
        br#"echo "a\"b" 'c\d' \\"#.to_vec(),
        b"echo ] [ ]]".to_vec(),
        b"echo \xff\xfe\xc3(".to_vec(),
        "echo \u{202e}txt.exe \u{85}".as_bytes().to_vec(),
        long.clone(),
        b"".to_vec(),
    ];
    let mut records = Vec::new();
    for req in &requests {
        let r = allow(req);
        a.send(&r).unwrap();
        let exit = r.exit(Exit::Exited(1), Duration::from_millis(2), None);
        a.send(&exit).unwrap();
        records.push(r);
    }
    // A deny of a request far over the limit is written, shortened.
    let huge = vec![b'\n'; 10_000];
    let deny = Record {
        event: Event::Deny,
        reason: Some("request too long".into()),
        ..allow(&huge)
    };
    a.send(&deny).unwrap();

    let lines = d.lines(2 * requests.len() + 1);
    for (i, req) in requests.iter().enumerate() {
        let (al, ex) = (&lines[2 * i], &lines[2 * i + 1]);
        assert_eq!(al.text("event"), "allow");
        assert_eq!(ex.text("event"), "exit");
        assert_eq!(al.text("sid"), records[i].sid.to_string());
        assert_eq!(ex.text("sid"), records[i].sid.to_string());
        assert_eq!(al.bytes("cmd"), Some(&req[..]), "request {i}");
        assert_eq!(ex.bytes("cmd"), Some(&req[..]), "request {i}");
    }
    let last = &lines[2 * requests.len()];
    let kept = last.bytes("cmd").unwrap();
    assert!(huge.starts_with(kept) && kept.len() > 1000);
    assert_eq!(
        last.text("reason"),
        format!(
            "request too long; cmd truncated to {} of 10000 bytes",
            kept.len()
        )
    );
    let full = Auditor::new(&d.settings())
        .datagram(&deny, std::time::SystemTime::now())
        .unwrap();
    assert!(full.len() <= MAX_RECORD_BYTES);
}

#[test]
fn the_largest_record_arrives_whole_and_a_larger_one_is_refused() {
    let d = Sink::new("largest");
    let mut a = Auditor::new(&d.settings());
    let mut r = allow(b"");
    let room = MAX_RECORD_BYTES
        - super::chain::SUFFIX_MAX
        - a.datagram(&r, std::time::SystemTime::now()).unwrap().len();
    r.cmd = Some(vec![b'x'; room]);
    a.send(&r).unwrap();
    r.cmd = Some(vec![b'x'; room + 1]);
    let err = a.send(&r).unwrap_err();
    assert_eq!(err.exit_code(), 125);
    assert!(
        err.to_string().contains("over the 8000-byte limit"),
        "{err}"
    );
    assert_eq!(d.next().bytes("cmd").unwrap().len(), room);
}

#[test]
fn missing_socket_is_an_error() {
    let dir = dir("missing");
    let t = Instant::now();
    let err = Auditor::new(&settings(&dir.join("no.sock")))
        .send(&allow(b"id"))
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(err.exit_code(), 125);
    let msg = err.to_string();
    assert!(
        msg.starts_with("audit unavailable: cannot connect to syslog socket"),
        "{msg}"
    );
    assert!(
        msg.contains("no.sock") && msg.contains("No such file"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn socket_without_a_reader_is_an_error_within_the_timeout() {
    let dir = dir("noreader");
    let path = dir.join("log.sock");
    let settings = settings(&path);

    // A socket file left behind by a dead daemon.
    drop(UnixDatagram::bind(&path).unwrap());
    let t = Instant::now();
    let err = Auditor::new(&settings).send(&allow(b"id")).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(err.to_string().contains("Connection refused"), "{err}");
    std::fs::remove_file(&path).unwrap();

    // A bound socket nobody reads: its queue fills, then one send waits 2 s.
    let _server = UnixDatagram::bind(&path).unwrap();
    assert_full_socket_fails_in_time(&settings, &path);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sends until the socket refuses; the refusing send took about the 2 s
/// timeout. Returns how many records were accepted.
fn assert_full_socket_fails_in_time(settings: &Settings, path: &Path) -> usize {
    let mut a = Auditor::new(settings);
    let r = allow(&[b'q'; 2000]);
    for accepted in 0..10_000 {
        let t = Instant::now();
        match a.send(&r) {
            Ok(()) => assert!(t.elapsed() < Duration::from_secs(1)),
            Err(err) => {
                let took = t.elapsed();
                assert!(
                    took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
                    "{took:?}"
                );
                assert_eq!(err.exit_code(), 125);
                assert_eq!(
                    err.to_string(),
                    format!(
                        "audit unavailable: syslog socket {} accepted nothing for 2 s \
                         (syslog daemon stuck?)",
                        path.display()
                    )
                );
                return accepted;
            }
        }
    }
    panic!("a socket nobody reads took 10000 records");
}

/// A daemon that stops reading (SIGSTOP): what the socket accepted arrives
/// once it reads again, and the writer works again.
#[test]
fn a_stuck_reader_is_an_error_within_the_timeout_not_a_hang() {
    let d = Sink::stuck("stuck");
    let accepted = assert_full_socket_fails_in_time(&d.settings(), &d.path());
    assert!(accepted > 0);
    // It reads again: every record the socket accepted arrives whole.
    for line in d.lines(accepted) {
        assert_eq!(line.bytes("cmd"), Some(&[b'q'; 2000][..]));
    }
    Auditor::new(&d.settings()).send(&allow(b"true")).unwrap();
    assert_eq!(d.next().text("cmd"), "true");
}

const CHILD_SOCKET: &str = "NSGATE_AUDIT_TEST_SOCKET";
const CHILD_INDEX: &str = "NSGATE_AUDIT_TEST_INDEX";
const SESSIONS: usize = 200;

/// The request of concurrent session `i`: long enough that a torn or
/// interleaved record could not decode to it.
fn session_request(i: usize) -> Vec<u8> {
    let mut req = format!("echo session-{i} ").into_bytes();
    req.extend(vec![b'a' + (i % 26) as u8; 3000]);
    req.extend(b" \"\n\\");
    req
}

/// One of the sessions of `concurrent_sessions_all_arrive`, run as its own
/// process (this test binary, re-run with a filter).
#[test]
#[ignore = "run by concurrent_sessions_all_arrive, once per process"]
fn child_session() {
    let (Some(socket), Some(index)) = (
        std::env::var_os(CHILD_SOCKET),
        std::env::var(CHILD_INDEX).ok(),
    ) else {
        eprintln!("NOTICE: child_session only runs inside concurrent_sessions_all_arrive");
        return;
    };
    let i: usize = index.parse().unwrap();
    let mut a = Auditor::new(&settings(Path::new(&socket)));
    let allow = allow(&session_request(i));
    a.send(&allow).unwrap();
    a.send(&allow.exit(Exit::Exited(0), Duration::from_millis(1), None))
        .unwrap();
}

#[test]
fn concurrent_sessions_all_arrive() {
    let d = Sink::new("concurrent");
    let me = std::env::current_exe().unwrap();
    let child = module_path!().split_once("::").unwrap().1.to_string() + "::child_session";
    let children: Vec<_> = (0..SESSIONS)
        .map(|i| {
            Command::new(&me)
                .args(["--ignored", "--exact", &child, "--test-threads=1", "-q"])
                .env(CHILD_SOCKET, d.path())
                .env(CHILD_INDEX, i.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // Read while they write: the socket's queue is short.
    let lines = d.lines(2 * SESSIONS);
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    // One chain, in the order the socket took them (nsgate(8) AUDIT).
    let mut previous = super::chain::GENESIS.to_string();
    for (n, line) in lines.iter().enumerate() {
        assert_eq!(
            line.link(&previous),
            (n as u64 + 1, true),
            "{}",
            line.message
        );
        previous = line.text("chain");
    }
    let mut seen = vec![(None, None); SESSIONS];
    for line in &lines {
        let cmd = line.bytes("cmd").unwrap();
        let digits = cmd[13..].split(|b| *b == b' ').next().unwrap();
        let i: usize = std::str::from_utf8(digits).unwrap().parse().unwrap();
        assert_eq!(cmd, session_request(i), "torn record: {}", line.message);
        let slot = match line.text("event").as_str() {
            "allow" => &mut seen[i].0,
            "exit" => &mut seen[i].1,
            e => panic!("unexpected event {e}"),
        };
        assert!(slot.is_none(), "session {i} twice");
        *slot = Some((line.text("sid"), line.pid));
    }
    for (i, (allow, exit)) in seen.iter().enumerate() {
        assert!(
            allow.is_some() && allow == exit,
            "session {i}: {allow:?} {exit:?}"
        );
    }
}
