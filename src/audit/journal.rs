//! journald's native protocol (nsgate(8) AUDIT, "The journal"): one record
//! as one datagram of `NAME=value` lines on `/run/systemd/journal/socket`,
//! with the record's text as `MESSAGE`, a fixed `MESSAGE_ID` per event, and
//! each field of the record as `NSGATE_NAME`, so that
//! `journalctl NSGATE_KEY=alice` finds a key's sessions.
//!
//! Choices where journald's protocol leaves room:
//! - `NSGATE_*` values are the record's values as `MESSAGE` writes them,
//!   without the surrounding quotes (still escaped, so always printable
//!   ASCII). A missing value (`-`) gives no field at all; an empty one gives
//!   an empty field.
//! - The fields are read back from the rendered `MESSAGE`, never built
//!   separately, so a field added to the record appears here unasked and
//!   the two can never disagree.
//! - A record is at most 8000 bytes of `MESSAGE` and as much again of
//!   fields, far below what a datagram carries: nsgate never needs the
//!   sealed memfd journald accepts for messages too large for one, and an
//!   `EMSGSIZE` would fail closed like any other send error.
#![forbid(unsafe_code)]

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use super::record::Event;
use crate::config::{Facility, Journal, Settings};
use crate::system::Pid;

/// Whether records go to the journal (nsgate.conf(5), `set journal`):
/// `yes`, or `auto` (the default) where journald's socket exists and no
/// syslog socket was named. Decided once, so a session's records all go to
/// one place; a journal that fails later fails closed, never falls back.
pub(super) fn chosen(settings: &Settings) -> bool {
    match settings.journal {
        Journal::Yes => true,
        Journal::No => false,
        Journal::Auto => {
            settings.syslog_socket == Settings::default().syslog_socket
                && is_socket(&settings.journal_socket)
        }
    }
}

fn is_socket(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// `MESSAGE_ID` per event name, made once with `systemd-id128 new`
/// (nsgate(8) AUDIT). Keyed by name so every event nsgate writes has one.
const MESSAGE_IDS: [(&str, &str); 5] = [
    ("allow", "cc4be57901b84e1daeea7463734a0c79"),
    ("deny", "465d7b2f45c94fcc906ca3e4e4510ae2"),
    ("exit", "24ad20d78e1e47c89d4ca4b01acd844c"),
    ("error", "7fc772a543da4941a9cee76f1da82e02"),
    ("list", "4f746db7b547490fbf381ae977ba83d7"),
];

pub(super) fn message_id(event: Event) -> Option<&'static str> {
    MESSAGE_IDS
        .iter()
        .find(|(name, _)| *name == event.name())
        .map(|(_, id)| *id)
}

/// The whole datagram for a record whose text is `message`.
pub(super) fn datagram(message: &str, event: Event, facility: Facility, pid: Pid) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * message.len() + 256);
    if let Some(id) = message_id(event) {
        field(&mut out, "MESSAGE_ID", id.as_bytes());
    }
    field(
        &mut out,
        "PRIORITY",
        event.severity().to_string().as_bytes(),
    );
    field(
        &mut out,
        "SYSLOG_FACILITY",
        facility.code().to_string().as_bytes(),
    );
    field(&mut out, "SYSLOG_IDENTIFIER", b"nsgate");
    field(&mut out, "SYSLOG_PID", pid.to_string().as_bytes());
    field(&mut out, "MESSAGE", message.as_bytes());
    for (name, value) in fields(message) {
        if let Some(value) = value {
            field(&mut out, &field_name(name), value.as_bytes());
        }
    }
    out
}

/// One field: `NAME=value\n`, or, for a value with a newline, `NAME\n`, its
/// length as 64-bit little endian, the value and `\n` (journald's binary form).
fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    if value.contains(&b'\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// `NSGATE_` and the record field's name in capitals; anything journald
/// would refuse in a field name becomes `_`.
fn field_name(name: &str) -> String {
    let mut out = String::from("NSGATE_");
    out.extend(name.chars().map(|c| match c {
        'a'..='z' => c.to_ascii_uppercase(),
        'A'..='Z' | '0'..='9' => c,
        _ => '_',
    }));
    out.truncate(64);
    out
}

/// The `name=value` fields of a record's text: a value is bare up to the
/// next space, or quoted with `\"` and `\\` inside; a bare `-` is `None`.
/// Stops at the first word not of that shape (nsgate writes none).
fn fields(message: &str) -> Vec<(&str, Option<&str>)> {
    let mut out = Vec::new();
    let mut rest = message;
    while let Some((name, after)) = rest.split_once('=') {
        if name.is_empty() || name.contains([' ', '"']) {
            break;
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => match closing_quote(quoted) {
                Some(end) => (Some(&quoted[..end]), &quoted[end + 1..]),
                None => break,
            },
            None => {
                let end = after.find(' ').unwrap_or(after.len());
                let bare = &after[..end];
                ((bare != "-").then_some(bare), &after[end..])
            }
        };
        out.push((name, value));
        match after.strip_prefix(' ') {
            Some(next) => rest = next,
            None => break,
        }
    }
    out
}

/// The index of the `"` that ends a quoted value, skipping escapes.
fn closing_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// A datagram split back into its fields, binary ones included, for tests.
#[cfg(test)]
pub(super) fn parse_datagram(mut data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let line_end = data.iter().position(|&b| b == b'\n')?;
        let line = &data[..line_end];
        match line.iter().position(|&b| b == b'=') {
            Some(eq) => {
                let name = String::from_utf8(line[..eq].to_vec()).ok()?;
                out.push((name, line[eq + 1..].to_vec()));
                data = &data[line_end + 1..];
            }
            None => {
                let name = String::from_utf8(line.to_vec()).ok()?;
                let rest = &data[line_end + 1..];
                let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
                let value = rest.get(8..8 + len)?;
                if rest.get(8 + len) != Some(&b'\n') {
                    return None;
                }
                out.push((name, value.to_vec()));
                data = &rest[9 + len..];
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Record, SessionId};

    fn get<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
        let found = fields.iter().find(|(n, _)| n == name)?;
        std::str::from_utf8(&found.1).ok()
    }

    #[test]
    fn plain_and_binary_fields() {
        let mut out = Vec::new();
        field(&mut out, "A", b"x=y");
        field(&mut out, "B", b"");
        field(&mut out, "C", b"two\nlines");
        assert_eq!(
            out,
            b"A=x=y\nB=\nC\n\x09\0\0\0\0\0\0\0two\nlines\n".to_vec()
        );
        let back = parse_datagram(&out).unwrap();
        assert_eq!(back[2], ("C".to_string(), b"two\nlines".to_vec()));
        assert_eq!(back[0], ("A".to_string(), b"x=y".to_vec()));
    }

    #[test]
    fn message_ids_are_fixed_distinct_128_bit_ids() {
        assert_eq!(
            message_id(Event::Allow),
            Some("cc4be57901b84e1daeea7463734a0c79")
        );
        assert_eq!(
            message_id(Event::Error),
            Some("7fc772a543da4941a9cee76f1da82e02")
        );
        let ids: Vec<&str> = MESSAGE_IDS.iter().map(|(_, id)| *id).collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(id.len(), 32);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            // Version 4 random ids, as systemd-id128 new makes them.
            assert_eq!(&id[12..13], "4", "{id}");
            assert!(!ids[..i].contains(id));
        }
        for e in [Event::Allow, Event::Deny, Event::Exit, Event::Error] {
            assert!(message_id(e).is_some(), "{e}");
        }
    }

    #[test]
    fn auto_is_the_journal_where_its_socket_is_and_no_syslog_socket_is_named() {
        let dir = std::env::temp_dir().join(format!("nsgate-journal-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("socket");
        let with = |journal, syslog: &str| Settings {
            journal,
            journal_socket: path.clone(),
            syslog_socket: syslog.into(),
            audit_state: dir.join("state"),
            ..Settings::default()
        };
        assert!(!chosen(&with(Journal::Auto, "/dev/log")));
        assert!(chosen(&with(Journal::Yes, "/dev/log")));
        std::fs::write(&path, "").unwrap();
        assert!(!chosen(&with(Journal::Auto, "/dev/log")), "a regular file");
        std::fs::remove_file(&path).unwrap();
        let server = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        assert!(chosen(&with(Journal::Auto, "/dev/log")));
        assert!(!chosen(&with(Journal::Auto, "/run/other.sock")));
        assert!(!chosen(&with(Journal::No, "/dev/log")));

        // The Auditor's datagram on that socket is the native one.
        let r = Record {
            key: Some("alice".into()),
            ..Record::new(SessionId::from_bytes([2; 16]), Event::Allow)
        };
        let mut a = crate::audit::Auditor::new(&with(Journal::Auto, "/dev/log"));
        a.send(&r).unwrap();
        let mut buf = vec![0; 65536];
        let n = server.recv(&mut buf).unwrap();
        let f = parse_datagram(&buf[..n]).unwrap();
        assert_eq!(get(&f, "NSGATE_KEY"), Some("alice"));
        // The chain's seq and chain follow the record (nsgate(8) AUDIT).
        let message = get(&f, "MESSAGE").unwrap();
        assert!(
            message.starts_with(&format!("{} seq=1 chain=", r.message())),
            "{message}"
        );
        assert_eq!(get(&f, "NSGATE_SEQ"), Some("1"));
        let pid = std::process::id().to_string();
        assert_eq!(get(&f, "SYSLOG_PID"), Some(pid.as_str()));
        // Gone: fails closed, naming the journal.
        drop(server);
        let err = a.send(&r).unwrap_err().to_string();
        assert!(err.contains("cannot connect to journal socket"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_journald_accepts() {
        assert_eq!(field_name("key"), "NSGATE_KEY");
        assert_eq!(field_name("duration_ms"), "NSGATE_DURATION_MS");
        assert_eq!(field_name("x-y.z"), "NSGATE_X_Y_Z");
        assert_eq!(field_name(&"a".repeat(100)).len(), 64);
    }

    #[test]
    fn a_record_as_journal_fields() {
        let r = Record {
            key: Some("alice".into()),
            target: Some("web1".into()),
            user: Some(String::new()),
            cmd: Some(b"echo \"a b\" \\ \n".to_vec()),
            reason: Some("x".into()),
            ..Record::new(SessionId::from_bytes([0xab; 16]), Event::Deny)
        };
        let pid = Pid::new(321).unwrap();
        let d = datagram(&r.message(), r.event, Facility::Authpriv, pid);
        let f = parse_datagram(&d).unwrap();
        let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "MESSAGE_ID",
                "PRIORITY",
                "SYSLOG_FACILITY",
                "SYSLOG_IDENTIFIER",
                "SYSLOG_PID",
                "MESSAGE",
                "NSGATE_V",
                "NSGATE_SID",
                "NSGATE_EVENT",
                "NSGATE_KEY",
                "NSGATE_TARGET",
                "NSGATE_USER",
                "NSGATE_CMD",
                "NSGATE_REASON"
            ]
        );
        assert_eq!(get(&f, "MESSAGE_ID"), message_id(Event::Deny));
        assert_eq!(get(&f, "PRIORITY"), Some("4"));
        assert_eq!(get(&f, "SYSLOG_FACILITY"), Some("10"));
        assert_eq!(get(&f, "SYSLOG_IDENTIFIER"), Some("nsgate"));
        assert_eq!(get(&f, "SYSLOG_PID"), Some("321"));
        assert_eq!(get(&f, "MESSAGE"), Some(r.message().as_str()));
        assert_eq!(get(&f, "NSGATE_SID"), Some("ab".repeat(16).as_str()));
        assert_eq!(get(&f, "NSGATE_KEY"), Some("alice"));
        assert_eq!(get(&f, "NSGATE_USER"), Some(""));
        assert_eq!(get(&f, "NSGATE_CMD"), Some(r#"echo \"a b\" \\ \x0A"#));
        assert_eq!(get(&f, "NSGATE_REASON"), Some("x"));
    }

    #[test]
    fn fields_of_odd_text_never_panic() {
        assert_eq!(fields(""), vec![]);
        assert_eq!(fields("a=1 b"), vec![("a", Some("1"))]);
        assert_eq!(fields("a=\"x\\\""), vec![]);
        assert_eq!(
            fields("a=\"\\\\\" b=-"),
            vec![("a", Some("\\\\")), ("b", None)]
        );
        assert_eq!(fields("a=\"\\"), vec![]);
    }

    proptest::proptest! {
        #[test]
        fn every_record_field_becomes_one_journal_field(
            cmd in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            key in ".{0,20}",
        ) {
            let r = Record {
                key: Some(key),
                cmd: Some(cmd),
                reason: Some("r".into()),
                ..Record::new(SessionId::from_bytes([1; 16]), Event::Error)
            };
            let m = r.message();
            let all = crate::audit::parse_message(&m).unwrap();
            let ours = fields(&m);
            proptest::prop_assert_eq!(all.len(), ours.len());
            for ((name, value), (n, v)) in all.iter().zip(&ours) {
                proptest::prop_assert_eq!(name, n);
                proptest::prop_assert_eq!(value.bytes().is_none(), v.is_none());
                if let Some(v) = v {
                    proptest::prop_assert_eq!(
                        value.bytes().unwrap(),
                        &crate::audit::unescape(v).unwrap()[..]
                    );
                }
            }
        }
    }
}
