//! Rule tests as compact tables: what a user writes, what a key asks, what
//! nsgate decides.
#![forbid(unsafe_code)]

use super::*;
use crate::config::glob::{is_glob, matches};
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// Targets every table may name. Rule numbers in the tables count the
/// table's own lines: rule N is the file's line N after these.
const TARGETS: &str = "\
target web1 docker web1
target db docker db
target cache docker cache
target x docker x1
";

/// `SHA256:abc` in a table stands for a fingerprint `ssh-keygen -l` could
/// print: the short form padded with `0` to the 43 characters of one.
fn long_fingerprints(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("SHA256:") {
        let (head, tail) = rest.split_at(i + "SHA256:".len());
        out.push_str(head);
        let n = tail
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(tail.len());
        out.push_str(&format!("{:0<43}", &tail[..n]));
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

/// The table's rule lines after `TARGETS`, parsed as nsgate parses its file.
fn config(rules: &[&str]) -> Config {
    let text = long_fingerprints(&format!("{TARGETS}{}", rules.join("\n")));
    match crate::config::parse("test.conf", text.as_bytes()) {
        Ok(config) => config,
        Err(errors) => panic!("{text}\n{errors:#?}"),
    }
}

/// The rule's number among the table's lines (see `TARGETS`).
fn number(rule: &Rule) -> u32 {
    rule.origin.line - TARGETS.lines().count() as u32
}

/// `alice`, `SHA256:x`, `alice+SHA256:x`, `principal:ops` (a principal
/// of a certificate from a trusted CA; repeatable), or `` for a key without
/// `--key`.
fn identity(text: &str) -> Identity {
    let mut id = Identity::default();
    for part in text.split('+').filter(|p| !p.is_empty()) {
        if let Some(name) = part.strip_prefix("principal:") {
            id.principals.push(name.to_string());
        } else if part.starts_with("SHA256:") {
            id.fingerprint = Some(long_fingerprints(part));
        } else {
            id.label = Some(part.to_string());
        }
    }
    id
}

/// `SSH_ORIGINAL_COMMAND` as the client sent it, `None` for an interactive
/// session, through the request parser.
fn request(config: &Config, text: Option<&str>) -> Request {
    let max = config.settings.max_command_bytes;
    crate::request::from_env(text.map(std::ffi::OsStr::new), max)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// `permit N`, `deny N` or `deny` (no rule matched).
fn show(d: Decision) -> String {
    match d {
        Decision::Permit(r) => format!("permit {}", number(r)),
        Decision::Deny(Some(r)) => format!("deny {}", number(r)),
        Decision::Deny(None) => "deny".to_string(),
    }
}

/// Cases of (identity, target, request or `None` for interactive, decision).
fn check(rules: &[&str], cases: &[(&str, &str, Option<&str>, &str)]) {
    let config = config(rules);
    for (who, target, text, want) in cases {
        let got = show(decide(
            &config,
            &identity(who),
            target,
            &request(&config, *text),
        ));
        assert_eq!(&got, want, "{who} on {target}: {text:?}");
    }
}

#[test]
fn principal_rules_table() {
    let rules = [
        "permit principal:ops on web1 cmd uptime",
        "permit principal:db-admins,bob on db cmd psql",
        "deny principal:interns on * cmd uptime",
        "permit alice on web1 cmd id",
    ];
    #[rustfmt::skip]
    check(&rules, &[
        ("principal:ops", "web1", Some("uptime"), "permit 1"),
        ("principal:ops", "db", Some("uptime"), "deny"),
        ("principal:ops+principal:db-admins", "db", Some("psql"), "permit 2"),
        ("bob", "db", Some("psql"), "permit 2"),
        // The last match decides: one principal of the certificate is enough to deny.
        ("principal:ops+principal:interns", "web1", Some("uptime"), "deny 3"),
        // A label is not a principal, nor a principal a label.
        ("ops", "web1", Some("uptime"), "deny"),
        ("principal:alice", "web1", Some("id"), "deny"),
        // A certificate login through alice's line: both apply.
        ("alice+principal:ops", "web1", Some("id"), "permit 4"),
        ("alice+principal:ops", "web1", Some("uptime"), "permit 1"),
        // Untrusted CA: no principals at all, the label still counts.
        ("alice", "web1", Some("uptime"), "deny"),
        ("alice", "web1", Some("id"), "permit 4"),
    ]);
}

#[test]
fn glob_table() {
    #[rustfmt::skip]
    let cases = [
        // `*`, `?` and sets never cross `/`
        ("/srv/*", "/srv/a", true),
        ("/srv/*", "/srv/a/b", false),
        ("/srv/*/log", "/srv/a/log", true),
        ("/*/*", "/srv/x", true),
        ("*", "/srv/x", false),
        ("*", "a/b", false),
        ("a?b", "a/b", false),
        ("a[!x]b", "a/b", false),
        // empty, `.` and `..` components
        ("/srv/*", "/srv/", false),
        ("/srv/*", "/srv/..", false),
        ("/srv/*", "/srv/.", false),
        ("/srv/*/x", "/srv/../x", false),
        ("*/x", "./x", false),
        ("x/*", "x/..", false),
        ("a*/b", "a//b", false),
        ("*", "", false),
        ("*", ".", false),
        ("*", "..", false),
        ("/*", "/", false),
        ("*/", "a/", false),
        (".*", ".bashrc", true),
        ("/srv/.*", "/srv/..", false),
        ("/srv/..?", "/srv/...", true),
        // options
        ("*", "--to-command=id", false),
        ("*", "-v", false),
        ("?", "-", false),
        ("[-a]", "-", false),
        ("[!a]", "-", false),
        ("-*", "-v", true),
        ("-*", "--to-command=id", true),
        ("-?", "-v", true),
        ("x[a-]", "x-", true),
        // `?` is one character, not one byte
        ("?", "a", true),
        ("?", "", false),
        ("?", "ab", false),
        ("?", "é", true),
        ("??", "é", false),
        ("?", "日", true),
        ("caf?", "café", true),
        // sets, ranges, complements
        ("[abc]", "b", true),
        ("[abc]", "d", false),
        ("[a-c]x", "bx", true),
        ("[a-c]", "d", false),
        ("[!a-c]", "d", true),
        ("[!a-c]", "b", false),
        ("[]a]", "]", true),
        ("[]a]", "a", true),
        ("[]a]", "b", false),
        ("[!]a]", "]", false),
        ("[!]a]", "b", true),
        ("[é]", "é", true),
        ("[a-z]", "é", false),
        ("[z-a]", "m", false),
        ("[0-9][0-9]", "42", true),
        ("[!!]", "!", false),
        // a `[` without its `]`, or with a `/` before it, is ordinary
        ("[*", "[xyz", true),
        ("[ab*", "[abc", true),
        ("[ab*", "a", false),
        ("a[/]*", "a[/]b", true),
        // stars
        ("*", "abc", true),
        ("a*", "a", true),
        ("*c", "abc", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("**", "x", true),
        ("*.log", "app.log", true),
        ("*.log", "app.log.1", false),
        ("*a*a*b", "aaaaab", true),
        // `\` escapes nothing: quote the word for a literal
        ("a\\*", "a\\b", true),
    ];
    for (pat, arg, want) in cases {
        assert_eq!(matches(pat, arg), want, "glob {pat:?} vs {arg:?}");
    }
}

#[test]
fn is_glob_table() {
    #[rustfmt::skip]
    let cases = [
        ("ls", false), ("/usr/bin/ls", false), ("--", false), ("...", false),
        ("*", true), ("?", true), ("a*b", true), ("]*", true),
        ("[", false), ("[a", false), ("a]", false), ("[]", false), ("[!]", false),
        ("[a]", true), ("[]]", true), ("[!]]", true), ("x[0-9]", true),
        ("[/]", false), ("[a/b]", false),
    ];
    for (word, want) in cases {
        assert_eq!(is_glob(word), want, "is_glob({word:?})");
    }
}

/// One `permit * on * cmd PATTERN` rule against one request.
#[test]
fn pattern_table() {
    #[rustfmt::skip]
    let cases = [
        ("tar -C /srv *", "tar -C /srv data", true),
        ("tar -C /srv *", "tar -C /srv --to-command=id", false),
        ("ls -* /srv", "ls -la /srv", true),
        // a quoted word is literal
        ("cat \"*\"", "cat *", true),
        ("cat \"*\"", "cat x", false),
        ("cat \"/srv/*\"", "cat /srv/x", false),
        // literals match anything exactly, traversal included
        ("cat /srv/../etc/shadow", "cat /srv/../etc/shadow", true),
        ("ls .", "ls .", true),
        ("ls -l", "ls -l", true),
        // the lone `[` of test(1) is literal
        ("[ -f /x ]", "[ -f /x ]", true),
        // `...` and argument counts
        ("ls", "ls", true),
        ("ls", "ls -l", false),
        ("ls /srv/*", "ls", false),
        ("ls ...", "ls", true),
        ("ls ...", "ls -l", true),
        ("ls ...", "ls -l --x=y /a/../b", true),
        ("ls -l ...", "ls", false),
        ("ls -l ...", "ls -a", false),
        // an empty argument
        ("cat *", "cat ''", false),
        ("cat ...", "cat ''", true),
    ];
    for (pat, args, want) in cases {
        let want = if want { "permit 1" } else { "deny" };
        check(
            &[&format!("permit * on * cmd {pat}")],
            &[("alice", "web1", Some(args), want)],
        );
    }
}

#[test]
fn last_match_wins() {
    check(
        &[
            "permit alice on web1 cmd ls ...",
            "deny alice on web1 cmd ls /root ...",
            "deny bob on web1 cmd uptime",
            "permit bob on web1 cmd uptime",
        ],
        &[
            ("alice", "web1", Some("ls /srv"), "permit 1"),
            ("alice", "web1", Some("ls /root"), "deny 2"),
            ("alice", "web1", Some("ls /root -a"), "deny 2"),
            ("alice", "web1", Some("cat /etc/passwd"), "deny"),
            ("alice", "web1", None, "deny"),
            ("alice", "db", Some("ls"), "deny"),
            ("bob", "web1", Some("uptime"), "permit 4"),
            ("bob", "web1", Some("ls"), "deny"),
        ],
    );
}

#[test]
fn who_and_targets() {
    check(
        &[
            "permit alice on web1 cmd id",
            "permit bob,carol on web1,db cmd uptime",
            "permit SHA256:abc on * cmd whoami",
            "permit * on db cmd date",
            "permit alice,SHA256:def on * cmd hostname",
        ],
        &[
            ("alice", "web1", Some("id"), "permit 1"),
            ("bob", "web1", Some("id"), "deny"),
            ("alice", "db", Some("id"), "deny"),
            ("bob", "db", Some("uptime"), "permit 2"),
            ("carol", "web1", Some("uptime"), "permit 2"),
            ("carol", "cache", Some("uptime"), "deny"),
            ("dave", "web1", Some("uptime"), "deny"),
            // labels are compared exactly
            ("Alice", "web1", Some("id"), "deny"),
            ("alice2", "web1", Some("id"), "deny"),
            ("alice+SHA256:abc", "cache", Some("whoami"), "permit 3"),
            ("SHA256:abc", "web1", Some("whoami"), "permit 3"),
            ("SHA256:ABC", "web1", Some("whoami"), "deny"),
            ("dave", "db", Some("date"), "permit 4"),
            ("dave", "web1", Some("date"), "deny"),
            ("carol+SHA256:def", "x", Some("hostname"), "permit 5"),
            // a key without `--key` matches only `*` and fingerprints
            ("", "db", Some("date"), "permit 4"),
            ("", "web1", Some("id"), "deny"),
            ("SHA256:abc", "web1", Some("whoami"), "permit 3"),
            ("", "web1", Some("whoami"), "deny"),
            ("SHA256:def", "web1", Some("hostname"), "permit 5"),
        ],
    );
}

#[test]
fn shell_cmd_and_everything() {
    check(
        &[
            "permit alice on web1 shell",
            "permit alice on web1 cmd sh",
            "permit bob on * cmd * ...",
            "deny carol on web1",
            "permit carol on web1 shell",
            "permit dave on web1 shell",
            "deny dave on web1",
        ],
        &[
            ("alice", "web1", None, "permit 1"),
            ("alice", "web1", Some("sh"), "permit 2"),
            ("alice", "web1", Some("bash"), "deny"),
            // a Cmd rule never permits an interactive session, even one
            // that permits every program
            ("bob", "web1", Some("ls -l"), "permit 3"),
            ("bob", "web1", None, "deny"),
            ("carol", "web1", None, "permit 5"),
            ("carol", "web1", Some("ls"), "deny 4"),
            ("dave", "web1", None, "deny 7"),
            ("dave", "web1", Some("ls"), "deny 7"),
        ],
    );
}

#[test]
fn no_rules_deny() {
    check(
        &[],
        &[
            ("alice", "web1", Some("ls"), "deny"),
            ("alice", "web1", None, "deny"),
        ],
    );
}

#[test]
fn rules_for_leaves_out_moot_permits() {
    let config = config(&[
        "permit alice on web1 cmd ls",
        "permit * on * cmd id",
        "deny alice on web1",
        "permit alice on web1 cmd uptime",
        "deny alice on web1 cmd uptime",
        "permit alice on db cmd date",
        "deny bob on web1",
        "permit alice,bob on web1 shell",
        "deny * on db",
    ]);
    let lines = |who: &str, target: &str| -> Vec<u32> {
        rules_for(&config, &identity(who), target)
            .iter()
            .map(|r| number(r))
            .collect()
    };
    // a deny with `cmd` does not make a permit moot: it may still permit other things
    assert_eq!(lines("alice", "web1"), [4, 8]);
    assert_eq!(lines("bob", "web1"), [8]);
    assert_eq!(lines("carol", "web1"), [2]);
    assert_eq!(lines("alice", "db"), Vec::<u32>::new());
    assert_eq!(lines("alice", "cache"), [2]);
}

#[test]
fn decide_takes_a_request() {
    let config = config(&["permit * on * shell"]);
    let who = identity("alice");
    assert_eq!(
        show(decide(&config, &who, "web1", &request(&config, None))),
        "permit 1"
    );
}

#[test]
fn pathological_globs_are_fast() {
    let start = Instant::now();
    let a4000 = "a".repeat(4000);
    assert!(!matches("*a*a*a*a*a*a*b", &a4000));
    assert!(matches("*a*a*a*a*a*a*a", &a4000));
    assert!(!matches(&format!("{}b", "*a".repeat(500)), &a4000));
    assert!(!matches(&format!("{}b", "?*".repeat(2000)), &a4000));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

fn tricky() -> impl Strategy<Value = String> {
    let alphabet = vec!['*', '?', '[', ']', '!', '-', '/', '.', 'a', 'é'];
    proptest::collection::vec(proptest::sample::select(alphabet), 0..40)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #[test]
    fn glob_properties(pat in tricky(), arg in tricky()) {
        let start = Instant::now();
        let hit = matches(&pat, &arg);
        prop_assert!(start.elapsed() < Duration::from_millis(500));
        if hit {
            prop_assert_eq!(arg.matches('/').count(), pat.matches('/').count());
            prop_assert!(!arg.starts_with('-') || pat.starts_with('-'));
            prop_assert!(!arg.is_empty());
            let rest = arg.strip_prefix('/').unwrap_or(&arg);
            prop_assert!(rest.split('/').all(|c| !matches!(c, "" | "." | "..")));
        }
    }

    #[test]
    fn words_without_glob_syntax_match_only_themselves(pat in tricky(), arg in tricky()) {
        if !is_glob(&pat) && matches(&pat, &arg) {
            prop_assert_eq!(pat, arg);
        }
    }

    /// A glob made from an argument by turning characters into `?` or `*`
    /// matches it exactly when the argument is clean and no option.
    #[test]
    fn globs_match_what_they_were_made_from(
        parts in proptest::collection::vec(
            (proptest::sample::select(vec!['!', '-', '/', '.', 'a', '\u{e9}']), 0u8..3),
            0..30,
        )
    ) {
        let arg: String = parts.iter().map(|(c, _)| *c).collect();
        let pat: String = parts
            .iter()
            .map(|&(c, op)| match op {
                1 if c != '/' => '?',
                2 if c != '/' => '*',
                _ => c,
            })
            .collect();
        let rest = arg.strip_prefix('/').unwrap_or(&arg);
        let clean = rest.split('/').all(|c| !matches!(c, "" | "." | ".."));
        let smuggled = arg.starts_with('-') && !pat.starts_with('-');
        prop_assert_eq!(matches(&pat, &arg), clean && !smuggled, "{:?} vs {:?}", pat, arg);
    }

    #[test]
    fn long_arguments_are_fast(pat in tricky(), n in 0usize..4000) {
        let arg = "a".repeat(n) + "é";
        let start = Instant::now();
        matches(&pat, &arg);
        prop_assert!(start.elapsed() < Duration::from_millis(500));
    }
}
