//! The record of nsgate(8) AUDIT: its fields, their fixed order, and how each
//! is written.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{escape, escaped_len};
use crate::config::{NsSet, Origin};
use crate::error::{Error, Result};
use crate::system::Exit;

/// What a record reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// Permitted; written (and accepted) before anything is entered.
    Allow,
    Deny,
    /// The end of a session that had an allow record.
    Exit,
    /// nsgate itself failed (configuration, target, runtime).
    Error,
    /// A login that named no target and sent no request was shown what it
    /// may do; no exit record pairs with it.
    List,
}

impl Event {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Event::Allow => "allow",
            Event::Deny => "deny",
            Event::Exit => "exit",
            Event::Error => "error",
            Event::List => "list",
        }
    }

    /// The syslog severity (nsgate(8) AUDIT): info, warning or err.
    pub(crate) fn severity(self) -> u8 {
        match self {
            Event::Allow | Event::Exit | Event::List => 6,
            Event::Deny => 4,
            Event::Error => 3,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A random 128-bit session id, written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SessionId([u8; 16]);

impl SessionId {
    /// A fresh id from getrandom(2). Without randomness no record can be
    /// written, so a failure is an audit failure.
    pub(crate) fn generate() -> Result<SessionId> {
        let mut bytes = [0u8; 16];
        crate::system::getrandom(&mut bytes)
            .map_err(|e| Error::Audit(format!("cannot get random bytes for a session id: {e}")))?;
        Ok(SessionId(bytes))
    }

    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: [u8; 16]) -> SessionId {
        SessionId(bytes)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// Every field a record may have, in the order `render` writes them
/// (nsgate(8) AUDIT); the one list `nsgate log` decodes by.
pub(crate) const FIELD_ORDER: [&str; 26] = [
    "v",
    "sid",
    "event",
    "key",
    "fp",
    "cert_id",
    "cert_serial",
    "cert_ca",
    "cert_principals",
    "from",
    "target",
    "container",
    "pid",
    "user",
    "ns",
    "rule",
    "cmd",
    "reason",
    "status",
    "signal",
    "duration_ms",
    "ended",
    "left",
    "recorded",
    "seq",
    "chain",
];

/// Longest `reason` kept, in bytes; reasons are nsgate's own prose.
pub(super) const MAX_REASON_BYTES: usize = 1024;

/// One audit record. `None` is written as `-` (`reason`, `outcome` and
/// `duration` are left out instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub sid: SessionId,
    pub event: Event,
    /// The `--key` label.
    pub key: Option<String>,
    /// `SHA256:...` from `SSH_USER_AUTH`.
    pub fp: Option<String>,
    /// The certificate of a certificate login: `cert_*` fields after `fp`.
    pub cert: Option<crate::cert::Certificate>,
    /// The client, from `SSH_CONNECTION` (see [`client_address`]).
    pub from: Option<SocketAddr>,
    /// The target name as given on the command line.
    pub target: Option<String>,
    /// The runtime's full container id.
    pub container: Option<String>,
    /// The target's init process, as the host sees it.
    pub pid: Option<crate::system::Pid>,
    pub user: Option<String>,
    pub ns: Option<NsSet>,
    /// The rule that decided.
    pub rule: Option<Origin>,
    /// The request exactly as the client sent it; `None` for an interactive
    /// session (written `cmd=-`, while an empty request is `cmd=""`).
    pub cmd: Option<Vec<u8>>,
    pub reason: Option<String>,
    pub outcome: Option<Exit>,
    pub duration: Option<Duration>,
    /// Exit records: processes of the session nsgate had to end.
    pub ended: Option<usize>,
    /// Exit records of `detach` rules: processes left running.
    pub left: Option<usize>,
    /// Exit records of `record` rules: the recording's size in bytes.
    pub recorded: Option<u64>,
}

impl Record {
    /// A record with every field missing but its session and event.
    pub(crate) fn new(sid: SessionId, event: Event) -> Record {
        Record {
            sid,
            event,
            key: None,
            fp: None,
            cert: None,
            from: None,
            target: None,
            container: None,
            pid: None,
            user: None,
            ns: None,
            rule: None,
            cmd: None,
            reason: None,
            outcome: None,
            duration: None,
            ended: None,
            left: None,
            recorded: None,
        }
    }

    /// The exit record that pairs with this allow record: same session and
    /// fields, with how the command ended.
    pub(crate) fn exit(&self, outcome: Exit, duration: Duration, reason: Option<String>) -> Record {
        Record {
            event: Event::Exit,
            outcome: Some(outcome),
            duration: Some(duration),
            reason,
            ..self.clone()
        }
    }

    /// The whole message, nothing shortened but an over-long `reason`.
    pub(crate) fn message(&self) -> String {
        self.render(self.cmd.as_deref(), self.capped_reason().as_deref())
    }

    /// The message in at most `limit` bytes, or the length it would need.
    /// Only allow records are never shortened (see the module docs).
    pub(crate) fn fit(&self, limit: usize) -> std::result::Result<String, usize> {
        let full = self.message();
        if full.len() <= limit {
            return Ok(full);
        }
        let cmd = match &self.cmd {
            Some(cmd) if self.event != Event::Allow => cmd,
            _ => return Err(full.len()),
        };
        let reason = self.capped_reason();
        let note = |kept: usize| {
            let note = format!("cmd truncated to {kept} of {} bytes", cmd.len());
            match &reason {
                Some(r) => format!("{r}; {note}"),
                None => note,
            }
        };
        // The note for the longest count bounds every shorter one.
        let fixed = self.render(Some(b""), Some(&note(cmd.len()))).len();
        let budget = limit.checked_sub(fixed).ok_or(full.len())?;
        let mut used = 0;
        let kept = cmd
            .iter()
            .take_while(|b| {
                used += escaped_len(std::slice::from_ref(*b));
                used <= budget
            })
            .count();
        Ok(self.render(Some(&cmd[..kept]), Some(&note(kept))))
    }

    fn capped_reason(&self) -> Option<Cow<'_, str>> {
        let r = self.reason.as_deref()?;
        if r.len() <= MAX_REASON_BYTES {
            return Some(Cow::Borrowed(r));
        }
        let mut end = MAX_REASON_BYTES - 3;
        while !r.is_char_boundary(end) {
            end -= 1;
        }
        Some(Cow::Owned(format!("{}...", &r[..end])))
    }

    fn render(&self, cmd: Option<&[u8]>, reason: Option<&str>) -> String {
        let mut out = String::with_capacity(320 + cmd.map_or(0, |c| c.len() * 2));
        out.push_str("v=1 sid=");
        out.push_str(&self.sid.to_string());
        out.push_str(" event=");
        out.push_str(self.event.name());
        word(&mut out, "key", self.key.as_deref());
        word(&mut out, "fp", self.fp.as_deref());
        if let Some(cert) = &self.cert {
            // Each as sshd's "Accepted publickey" line has it (nsgate(8) AUDIT).
            quoted(&mut out, "cert_id", &cert.key_id);
            out.push_str(" cert_serial=");
            out.push_str(&cert.serial.to_string());
            word(&mut out, "cert_ca", Some(&cert.ca));
            word(
                &mut out,
                "cert_principals",
                Some(&cert.principals.join(",")),
            );
        }
        word(
            &mut out,
            "from",
            self.from.map(|a| a.to_string()).as_deref(),
        );
        word(&mut out, "target", self.target.as_deref());
        word(&mut out, "container", self.container.as_deref());
        word(&mut out, "pid", self.pid.map(|p| p.to_string()).as_deref());
        word(&mut out, "user", self.user.as_deref());
        word(&mut out, "ns", self.ns.map(|n| n.to_string()).as_deref());
        word(
            &mut out,
            "rule",
            self.rule.as_ref().map(|o| o.to_string()).as_deref(),
        );
        match cmd {
            Some(cmd) => quoted(&mut out, "cmd", cmd),
            None => out.push_str(" cmd=-"),
        }
        if let Some(reason) = reason {
            quoted(&mut out, "reason", reason.as_bytes());
        }
        if let Some(outcome) = self.outcome {
            out.push(' ');
            out.push_str(&outcome.to_string());
        }
        if let Some(d) = self.duration {
            out.push_str(" duration_ms=");
            out.push_str(&d.as_millis().to_string());
        }
        if let Some(n) = self.ended {
            out.push_str(" ended=");
            out.push_str(&n.to_string());
        }
        if let Some(n) = self.left {
            out.push_str(" left=");
            out.push_str(&n.to_string());
        }
        if let Some(n) = self.recorded {
            out.push_str(" recorded=");
            out.push_str(&n.to_string());
        }
        out
    }
}

/// ` name=value`: bare when the value is plainly safe, `-` when missing,
/// quoted otherwise (empty and a literal `-` included).
fn word(out: &mut String, name: &str, value: Option<&str>) {
    match value {
        None => {
            out.push(' ');
            out.push_str(name);
            out.push_str("=-");
        }
        Some(v) if is_bare(v) => {
            out.push(' ');
            out.push_str(name);
            out.push('=');
            out.push_str(v);
        }
        Some(v) => quoted(out, name, v.as_bytes()),
    }
}

fn quoted(out: &mut String, name: &str, value: &[u8]) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    out.push_str(&escape(value));
    out.push('"');
}

/// Whether a value may be written without quotes.
fn is_bare(v: &str) -> bool {
    !v.is_empty()
        && v != "-"
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/@,+=-[]".contains(&b))
}

/// The client's address from sshd's `SSH_CONNECTION` (`client_ip
/// client_port server_ip server_port`), else `SSH_CLIENT` (`client_ip
/// client_port server_port`). A value not of exactly that shape gives `None`.
pub(crate) fn client_address(
    ssh_connection: Option<&OsStr>,
    ssh_client: Option<&OsStr>,
) -> Option<SocketAddr> {
    ssh_connection
        .and_then(|v| peer(v, 4))
        .or_else(|| ssh_client.and_then(|v| peer(v, 3)))
}

fn peer(value: &OsStr, fields: usize) -> Option<SocketAddr> {
    let parts: Vec<&str> = value.to_str()?.split(' ').collect();
    if parts.len() != fields {
        return None;
    }
    let ip: IpAddr = parts[0].parse().ok()?;
    let client_port = port(parts[1])?;
    if fields == 4 {
        parts[2].parse::<IpAddr>().ok()?;
    }
    port(parts[fields - 1])?;
    Some(SocketAddr::new(ip, client_port))
}

fn port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{parse_message, Value};
    use proptest::prelude::*;

    fn sid() -> SessionId {
        SessionId::from_bytes(*b"\x01\x23\x45\x67\x89\xab\xcd\xef\x00\x11\x22\x33\x44\x55\x66\x77")
    }

    fn allow() -> Record {
        Record {
            key: Some("alice".into()),
            fp: Some("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8".into()),
            from: Some("192.0.2.7:50022".parse().unwrap()),
            target: Some("web1".into()),
            container: Some("3f4e".into()),
            pid: crate::system::Pid::new(4242),
            user: Some("www-data".into()),
            ns: Some(
                NsSet::from_name("mnt")
                    .unwrap()
                    .union(NsSet::from_name("net").unwrap()),
            ),
            rule: Some(Origin {
                file: "/etc/nsgate.conf".into(),
                line: 12,
            }),
            cmd: Some(b"ls -l /srv".to_vec()),
            ..Record::new(sid(), Event::Allow)
        }
    }

    const HEAD: &str = "v=1 sid=0123456789abcdef0011223344556677";
    const MID: &str = "key=alice fp=SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8 \
        from=192.0.2.7:50022 target=web1 container=3f4e pid=4242 user=www-data ns=mnt,net \
        rule=/etc/nsgate.conf:12 cmd=\"ls -l /srv\"";

    #[test]
    fn fields_in_fixed_order_for_each_event() {
        let a = allow();
        assert_eq!(a.message(), format!("{HEAD} event=allow {MID}"));
        let e = a.exit(Exit::Exited(3), Duration::from_millis(1234), None);
        assert_eq!(
            e.message(),
            format!("{HEAD} event=exit {MID} status=3 duration_ms=1234")
        );
        let e = a.exit(
            Exit::Signaled(15),
            Duration::from_micros(5_999),
            Some("timeout after 30s".into()),
        );
        assert_eq!(
            e.message(),
            format!(
                "{HEAD} event=exit {MID} reason=\"timeout after 30s\" signal=SIGTERM duration_ms=5"
            )
        );
        // A recorded session's size comes after `left`.
        let r = Record {
            ended: Some(0),
            left: Some(1),
            recorded: Some(4096),
            ..a.exit(
                Exit::Exited(0),
                Duration::ZERO,
                Some("record-failed".into()),
            )
        };
        assert_eq!(
            r.message(),
            format!("{HEAD} event=exit {MID} reason=\"record-failed\" status=0 duration_ms=0 ended=0 left=1 recorded=4096")
        );
        let d = Record {
            event: Event::Deny,
            reason: Some("not permitted".into()),
            ..allow()
        };
        assert_eq!(
            d.message(),
            format!("{HEAD} event=deny {MID} reason=\"not permitted\"")
        );
        let r = Record {
            reason: Some("target web1: not running".into()),
            ..Record::new(sid(), Event::Error)
        };
        assert_eq!(
            r.message(),
            format!(
                "{HEAD} event=error key=- fp=- from=- target=- container=- pid=- user=- \
                 ns=- rule=- cmd=- reason=\"target web1: not running\""
            )
        );
        assert_eq!((Event::Allow.severity(), Event::Exit.severity()), (6, 6));
        assert_eq!((Event::Deny.severity(), Event::Error.severity()), (4, 3));
        assert_eq!((Event::List.name(), Event::List.severity()), ("list", 6));
    }

    /// FIELD_ORDER, which `nsgate log` decodes by, is the order records
    /// are written in: a record with every field (`status` stands for
    /// `signal` too) writes them so.
    #[test]
    fn field_order_is_the_written_order() {
        let exit = Record {
            reason: Some("x".into()),
            ended: Some(0),
            left: Some(1),
            recorded: Some(2),
            cert: Some(crate::cert::Certificate {
                key_fingerprint: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8".into(),
                serial: 1,
                key_id: b"id".to_vec(),
                principals: vec!["ops".into()],
                valid_after: 0,
                valid_before: crate::cert::FOREVER,
                ca: "SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og".into(),
            }),
            ..allow().exit(Exit::Exited(0), Duration::ZERO, None)
        };
        let text = format!("{} seq=1 chain={}", exit.message(), "0".repeat(64));
        let fields = parse_message(&text).unwrap();
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        let want: Vec<&str> = FIELD_ORDER
            .iter()
            .copied()
            .filter(|n| *n != "signal")
            .collect();
        assert_eq!(names, want);
    }

    #[test]
    fn certificate_fields_follow_fp_as_sshd_logs_them() {
        let cert = crate::cert::Certificate {
            key_fingerprint: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8".into(),
            serial: 18_446_744_073_709_551_615,
            key_id: b"alice@example.com".to_vec(),
            principals: vec!["alice".into(), "ops".into()],
            valid_after: 0,
            valid_before: crate::cert::FOREVER,
            ca: "SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og".into(),
        };
        let r = Record {
            cert: Some(cert.clone()),
            ..allow()
        };
        let m = r.message();
        let want = "fp=SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8 \
            cert_id=\"alice@example.com\" cert_serial=18446744073709551615 \
            cert_ca=SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og \
            cert_principals=alice,ops from=";
        assert!(m.contains(want), "{m}");
        // A key id as the CA wrote it, escaped; no principals at all.
        let r = Record {
            cert: Some(crate::cert::Certificate {
                key_id: b"bob \"x\"\n".to_vec(),
                principals: Vec::new(),
                ..cert
            }),
            ..allow()
        };
        let m = r.message();
        assert!(m.contains(r#" cert_id="bob \"x\"\x0A" "#), "{m}");
        assert!(m.contains(" cert_principals=\"\" from="), "{m}");
        let fields = parse_message(&m).unwrap();
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[3..9],
            [
                "key",
                "fp",
                "cert_id",
                "cert_serial",
                "cert_ca",
                "cert_principals"
            ]
        );
    }

    #[test]
    fn signals_by_name_else_number() {
        assert_eq!(Exit::Signaled(9).to_string(), "signal=SIGKILL");
        assert_eq!(Exit::Signaled(1).to_string(), "signal=SIGHUP");
        assert_eq!(Exit::Signaled(40).to_string(), "signal=40");
        assert_eq!(Exit::Exited(-1).to_string(), "status=-1");
    }

    #[test]
    fn missing_empty_and_dash_values_never_mix() {
        let r = Record {
            key: Some(String::new()),
            user: Some("-".into()),
            cmd: Some(Vec::new()),
            ns: Some(NsSet::EMPTY),
            ..Record::new(sid(), Event::Deny)
        };
        let m = r.message();
        assert!(m.contains(" key=\"\" "), "{m}");
        assert!(m.contains(" user=\"-\" "), "{m}");
        assert!(m.contains(" ns=\"\" "), "{m}");
        assert!(m.ends_with(" cmd=\"\""), "{m}");
        let fields = parse_message(&m).unwrap();
        assert_eq!(fields[3], ("key".to_string(), Value::Quoted(Vec::new())));
        assert_eq!(fields[4], ("fp".to_string(), Value::Missing));
        assert!(Record::new(sid(), Event::Error)
            .message()
            .ends_with(" cmd=-"));
    }

    #[test]
    fn hostile_text_fields_are_quoted() {
        let r = Record {
            key: Some("a b\nc".into()),
            target: Some("x\"y".into()),
            rule: Some(Origin {
                file: "/etc/my conf".into(),
                line: 3,
            }),
            cmd: Some(b"echo \"]\"\r\n\x1b[2J\\ \xff".to_vec()),
            ..Record::new(sid(), Event::Deny)
        };
        let m = r.message();
        assert!(!m.contains('\n') && !m.contains('\r'));
        assert!(m.contains(r#" key="a b\x0Ac" "#), "{m}");
        assert!(m.contains(r#" target="x\"y" "#), "{m}");
        assert!(m.contains(r#" rule="/etc/my conf:3" "#), "{m}");
        assert!(
            m.ends_with(r#" cmd="echo \"]\"\x0D\x0A\x1B[2J\\ \xFF""#),
            "{m}"
        );
        let fields = parse_message(&m).unwrap();
        let cmd = &fields.iter().find(|(n, _)| n == "cmd").unwrap().1;
        assert_eq!(cmd.bytes(), Some(r.cmd.as_deref().unwrap()));
    }

    #[test]
    fn ipv6_clients_in_brackets() {
        let r = Record {
            from: client_address(Some(OsStr::new("2001:db8::5 40000 2001:db8::1 22")), None),
            ..Record::new(sid(), Event::Deny)
        };
        assert!(r.message().contains(" from=[2001:db8::5]:40000 "));
    }

    #[test]
    fn client_address_from_sshd_variables() {
        let s = |v: &str| Some(OsStr::new(v).to_owned());
        let ca = |c: Option<std::ffi::OsString>, d: Option<std::ffi::OsString>| {
            client_address(c.as_deref(), d.as_deref()).map(|a| a.to_string())
        };
        assert_eq!(
            ca(s("192.0.2.1 5555 192.0.2.2 22"), None).as_deref(),
            Some("192.0.2.1:5555")
        );
        assert_eq!(ca(None, s("::1 6000 22")).as_deref(), Some("[::1]:6000"));
        // SSH_CONNECTION wins; a malformed one falls back to SSH_CLIENT.
        assert_eq!(
            ca(s("10.0.0.1 1 10.0.0.2 22"), s("10.0.0.9 9 22")).as_deref(),
            Some("10.0.0.1:1")
        );
        assert_eq!(
            ca(s("10.0.0.1 1 22"), s("10.0.0.9 9 22")).as_deref(),
            Some("10.0.0.9:9")
        );
        for bad in [
            "",
            "192.0.2.1 5555 192.0.2.2",
            "192.0.2.1 5555 192.0.2.2 22 x",
            "192.0.2.1  5555 192.0.2.2 22",
            "192.0.2.1 +5555 192.0.2.2 22",
            "192.0.2.1 65536 192.0.2.2 22",
            "192.0.2.1 5555 nothost 22",
            "192.0.2.1 5555 192.0.2.2 ssh",
            "host 5555 192.0.2.2 22",
            "fe80::1%eth0 5555 fe80::2%eth0 22",
            "192.0.2.1\n 5555 192.0.2.2 22",
        ] {
            assert_eq!(ca(s(bad), None), None, "{bad:?}");
        }
        assert_eq!(ca(None, None), None);
    }

    #[test]
    fn long_reasons_are_capped() {
        let r = Record {
            reason: Some("é".repeat(2000)),
            ..Record::new(sid(), Event::Error)
        };
        let fields = parse_message(&r.message()).unwrap();
        let reason = fields
            .iter()
            .find(|(n, _)| n == "reason")
            .unwrap()
            .1
            .clone();
        let reason = String::from_utf8(reason.bytes().unwrap().to_vec()).unwrap();
        assert!(reason.len() <= MAX_REASON_BYTES && reason.ends_with("..."));
    }

    #[test]
    fn only_allow_records_refuse_to_be_shortened() {
        let big = vec![b'\n'; 3000];
        let a = Record {
            cmd: Some(big.clone()),
            ..allow()
        };
        let len = a.message().len();
        assert!(len > 12_000);
        assert_eq!(a.fit(8000), Err(len));
        assert_eq!(a.fit(len), Ok(a.message()));
        for event in [Event::Deny, Event::Exit, Event::Error] {
            let r = Record {
                event,
                reason: Some("too long".into()),
                ..a.clone()
            };
            let m = r.fit(8000).unwrap();
            assert!(m.len() <= 8000 && m.len() > 7990, "{}", m.len());
            let fields = parse_message(&m).unwrap();
            let get = |k: &str| fields.iter().find(|(n, _)| n == k).unwrap().1.clone();
            let kept = get("cmd").bytes().unwrap().len();
            assert!(big.starts_with(get("cmd").bytes().unwrap()));
            let reason = get("reason");
            assert_eq!(
                reason.bytes().unwrap(),
                format!("too long; cmd truncated to {kept} of 3000 bytes").as_bytes()
            );
        }
    }

    proptest! {
        #[test]
        fn any_record_is_one_printable_line_that_decodes(
            key in proptest::collection::vec(any::<char>(), 0..40),
            cmd in proptest::collection::vec(any::<u8>(), 0..600),
            reason in ".{0,50}",
            interactive in any::<bool>(),
        ) {
            let key: String = key.into_iter().collect();
            let r = Record {
                key: Some(key.clone()),
                cmd: (!interactive).then(|| cmd.clone()),
                reason: Some(reason.clone()),
                ..allow()
            };
            let m = r.message();
            prop_assert!(m.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            let fields = parse_message(&m).unwrap();
            let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
            prop_assert_eq!(names, ["v", "sid", "event", "key", "fp", "from", "target",
                "container", "pid", "user", "ns", "rule", "cmd", "reason"]);
            prop_assert_eq!(fields[3].1.bytes(), Some(key.as_bytes()));
            if interactive {
                prop_assert_eq!(&fields[12].1, &Value::Missing);
            } else {
                prop_assert_eq!(fields[12].1.bytes(), Some(&cmd[..]));
            }
            prop_assert_eq!(fields[13].1.bytes(), Some(reason.as_bytes()));
        }
    }
}
