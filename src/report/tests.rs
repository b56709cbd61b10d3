//! The report end to end in memory: lines of several daemons in, sessions
//! and verdicts out.

use super::*;
use crate::audit::{chain_value, Link};
use proptest::prelude::*;

const SID_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SID_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SID_C: &str = "cccccccccccccccccccccccccccccccc";

/// Records chained as nsgate writes them, as lines of an auth.log.
struct Log {
    link: Link,
    lines: Vec<String>,
}

impl Log {
    fn new() -> Log {
        Log {
            link: Link::genesis(),
            lines: Vec::new(),
        }
    }

    fn record(&mut self, stamp: &str, body: &str) {
        let seq = self.link.seq + 1;
        let text = format!("v=1 {body} seq={seq}");
        let chain = chain_value(&self.link.chain, &text);
        self.link = Link {
            seq,
            chain: chain.clone(),
        };
        self.lines
            .push(format!("{stamp} web nsgate[4711]: {text} chain={chain}"));
    }

    fn other(&mut self, line: &str) {
        self.lines.push(line.to_string());
    }
}

fn session(sid: &str, event: &str, key: &str, tail: &str) -> String {
    format!(
        "sid={sid} event={event} key={key} fp=SHA256:abc from=192.0.2.7:50022 target=web1 \
         container=- pid=42 user=app ns=mnt rule=/etc/nsgate.conf:3 cmd=\"id\"{tail}"
    )
}

fn sample() -> Log {
    let mut log = Log::new();
    log.other("Nov 30 11:00:00 web sshd[100]: Accepted publickey for root from 192.0.2.7");
    log.record("Nov 30 11:00:01", &session(SID_A, "allow", "alice", ""));
    log.other("Nov 30 11:00:01 web CRON[5]: (root) CMD (nsgate[1]: v=1 forged)");
    log.record(
        "2026-11-30T11:00:02.5+00:00",
        &session(SID_B, "deny", "bob", " reason=\"not permitted\""),
    );
    log.record(
        "Nov 30 11:00:03",
        &session(SID_A, "exit", "alice", " status=0 duration_ms=2000 ended=0"),
    );
    log.record("Nov 30 11:00:04", &session(SID_C, "allow", "carol", ""));
    log.other("Nov 30 11:00:05 web systemd-logind[1]: New session 3 of user root.");
    log
}

/// Runs the report over `lines` as one file; its stdout and exit code.
fn report(args: &[&str], lines: &[String]) -> (String, i32) {
    let dir = std::env::temp_dir().join(format!(
        "nsgate-report-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("auth.log");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let mut words: Vec<OsString> = args.iter().map(OsString::from).collect();
    words.push(file.clone().into());
    let options = parse_options(words).unwrap();
    let mut report = Report::new(&options);
    report.now = line::parse_time("2026-12-01").unwrap();
    let mut out = Vec::new();
    let code = report.run(&mut out).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let text = String::from_utf8(out).unwrap();
    (text.replace(&format!("{}", file.display()), "F"), code)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn sessions_denials_and_unpaired_allows() {
    let (out, code) = report(&[], &sample().lines);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with(&format!("2026-11-30T11:00:02 web sid={SID_B} key=bob ")));
    assert!(lines[0].contains(" result=denied duration_ms=- cmd=\"id\" reason=\"not permitted\""));
    assert!(lines[1].starts_with(&format!("2026-11-30T11:00:01 web sid={SID_A} key=alice id=SHA256:abc from=192.0.2.7:50022 target=web1 result=status:0 duration_ms=2000 cmd=\"id\"")), "{}", lines[1]);
    assert!(
        lines[2].contains(&format!("sid={SID_C} key=carol"))
            && lines[2].contains("result=unpaired")
    );
    for (args, want) in [
        (&["--denied"][..], vec![SID_B]),
        (&["--unpaired"], vec![SID_C]),
        (&["--key", "alice"], vec![SID_A]),
        (&["--key=carol"], vec![SID_C]),
        (&["--target", "web1"], vec![SID_B, SID_A, SID_C]),
        (&["--target", "web2"], vec![]),
        (&["--sid", SID_A], vec![SID_A]),
        (&["--since", "2026-11-30T11:00:02"], vec![SID_B, SID_C]),
        (&["--until", "2026-11-30T11:00:02"], vec![SID_A]),
        (
            &[
                "--since",
                "2026-11-30T12:00:02+01:00",
                "--until",
                "2026-11-30 11:00:03",
            ],
            vec![SID_B],
        ),
    ] {
        let (out, _) = report(args, &sample().lines);
        let sids: Vec<&str> = out
            .lines()
            .map(|l| l.split(" sid=").nth(1).unwrap().get(..32).unwrap())
            .collect();
        assert_eq!(sids, want, "{args:?}");
    }
    let (out, _) = report(&["--json", "--key", "alice"], &sample().lines);
    let j: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["result"], "status:0");
    assert_eq!(j["records"][0]["line"], 2);
    assert_eq!(j["records"][1]["fields"]["seq"], 3);
    assert_eq!(j["records"][0]["file"], "F");
}

#[test]
fn forged_and_malformed_nsgate_lines_are_reported() {
    let mut log = sample();
    log.other("Nov 30 11:00:06 web nsgate[1]: hello");
    log.other("Nov 30 11:00:06 web nsgate: v=1");
    log.other(&format!(
        "Nov 30 11:00:07 web nsgate[9]: v=1 sid={SID_A} event=allow key=x key=y"
    ));
    log.record("Nov 30 11:00:08", &session(SID_C, "allow", "carol", ""));
    let (out, code) = report(&[], &log.lines);
    assert_eq!(code, 1);
    // The second allow of C is refused; the rest of the report stands.
    assert_eq!(out.lines().count(), 3, "{out}");
    let (_, code) = report(&["--verify"], &log.lines);
    assert_eq!(code, 1);
}

#[test]
fn verify_names_deleted_altered_and_reordered_lines() {
    let log = sample();
    let (out, code) = report(&["--verify"], &log.lines);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "web: 4 records, seq=1..4\n4 records: intact\n");
    let mut deleted = log.lines.clone();
    deleted.remove(3);
    let (out, code) = report(&["--verify"], &deleted);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("F:4: 1 record of web missing before this one (seq=2: deleted)\n"),
        "{out}"
    );
    let mut altered = log.lines.clone();
    altered[3] = altered[3].replace("key=bob", "key=eve");
    let (out, _) = report(&["--verify"], &altered);
    assert!(
        out.starts_with("F:4: chain breaks at seq=2 on web"),
        "{out}"
    );
    let mut swapped = log.lines.clone();
    swapped.swap(3, 4);
    let (out, _) = report(&["--verify"], &swapped);
    assert!(
        out.contains("F:5: seq=2 of web after seq=3 (reordered or repeated)"),
        "{out}"
    );
}

#[test]
fn options_are_checked() {
    let p = |a: &[&str]| parse_options(a.iter().map(OsString::from).collect());
    assert_eq!(p(&[]).unwrap().files, [OsString::from("/var/log/auth.log")]);
    assert_eq!(
        p(&["--", "--json"]).unwrap().files,
        [OsString::from("--json")]
    );
    for (bad, why) in [
        (
            &["--since", "yesterday"][..],
            "--since: bad time \"yesterday\"",
        ),
        (&["--key"], "--key needs a value"),
        (&["--json=1"], "--json takes no value"),
        (&["--bogus"], "unknown option \"--bogus\""),
        (&["--verify", "--key", "a"], "takes no filter"),
        (&["--state", "/x"], "--state goes with --verify"),
        (&["--denied", "--unpaired"], "only one of"),
    ] {
        let err = p(bad).unwrap_err();
        assert!(err.contains(why), "{bad:?}: {err}");
    }
}

proptest! {
    #[test]
    fn the_reader_never_panics(lines in proptest::collection::vec(
        prop_oneof![
            ".*",
            "(Nov 30 11:00:0[0-9]|2026-11-30T11:00:00(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})) [a-z]{1,3} nsgate\\[[0-9]{1,3}\\]: .*",
            "Nov 30 11:00:01 web nsgate\\[1\\]: v=1 sid=[a-c]{32} event=(allow|exit|deny|list) key=(-|a|\"\\\\x\") cmd=\"[ -~]{0,8}\"( seq=[0-9]{1,3} chain=[0-9a-f]{64})?",
        ],
        0..30,
    )) {
        for args in [&[][..], &["--verify"], &["--json"]] {
            let (_, code) = report(args, &lines);
            prop_assert!(code == 0 || code == 1);
        }
    }
}
