//! One session as `nsgate log` shows it: a line of `name=value` words whose
//! values are written as in the records (so a hostile command cannot forge
//! a line), or with `--json` one JSON object with every field decoded.
#![forbid(unsafe_code)]

use std::borrow::Cow;

use serde_json::{Map, Value as Json};

use super::line::Stamp;
use super::pair::{Rec, Session};
use super::record::{self, Kind};
use crate::audit::Raw;

/// Fields written as JSON numbers when they are numbers.
const NUMBERS: [&str; 8] = [
    "pid",
    "status",
    "duration_ms",
    "ended",
    "left",
    "recorded",
    "seq",
    "cert_serial",
];

/// A session with the fields of its main record at hand.
pub(crate) struct View<'a> {
    pub session: &'a Session,
    fields: Cow<'a, [(&'a str, Raw<'a>)]>,
}

impl<'a> View<'a> {
    pub(crate) fn new(session: &'a Session) -> View<'a> {
        View {
            session,
            fields: Cow::Owned(record::fields(&session.main().message)),
        }
    }

    /// With the fields of its main record already split (the same text).
    pub(crate) fn with_fields(session: &'a Session, fields: &'a [(&'a str, Raw<'a>)]) -> View<'a> {
        View {
            session,
            fields: Cow::Borrowed(fields),
        }
    }

    pub(crate) fn raw(&self, name: &str) -> Option<Raw<'a>> {
        record::get(&self.fields, name)
    }

    /// A field decoded; `None` when absent or `-`.
    pub(crate) fn bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.raw(name)
            .and_then(|r| r.value().bytes().map(<[u8]>::to_vec))
    }

    pub(crate) fn sid(&self) -> &'a str {
        match self.raw("sid") {
            Some(Raw::Bare(s)) => s,
            _ => "-",
        }
    }

    fn duration_ms(&self) -> Option<i64> {
        self.session.exit()?;
        match self.raw("duration_ms") {
            Some(Raw::Bare(d)) => d.parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn start(&self) -> Stamp {
        self.session.start(self.duration_ms())
    }

    /// `status:N`, `signal:NAME`, `denied`, `error`, `list` or `unpaired`.
    pub(crate) fn result(&self) -> String {
        if self.session.exit().is_some() {
            let word = |name| match self.raw(name) {
                Some(Raw::Bare(v)) => Some(v),
                _ => None,
            };
            return match (word("status"), word("signal")) {
                (Some(s), _) => format!("status:{s}"),
                (None, Some(s)) => format!("signal:{s}"),
                (None, None) => "exit".into(),
            };
        }
        match self.session.main().kind {
            Kind::Allow => "unpaired",
            Kind::Deny => "denied",
            Kind::Error => "error",
            Kind::List => "list",
            Kind::Exit => "exit",
        }
        .into()
    }

    /// The text line.
    pub(crate) fn text(&self) -> String {
        let w = |name| written(self.raw(name));
        let id = match self.raw("cert_id") {
            Some(cert) if cert != Raw::Missing => written(Some(cert)),
            _ => w("fp"),
        };
        let duration = self
            .duration_ms()
            .map_or_else(|| "-".to_string(), |d| d.to_string());
        let mut line = format!(
            "{} {} sid={} key={} id={id} from={} target={} result={} duration_ms={duration} cmd={}",
            self.start(),
            self.session.main().host,
            self.sid(),
            w("key"),
            w("from"),
            w("target"),
            self.result(),
            w("cmd"),
        );
        if self.raw("reason").is_some() {
            line.push_str(" reason=");
            line.push_str(&w("reason"));
        }
        line
    }

    /// The JSON object.
    pub(crate) fn json(&self, files: &[String]) -> Json {
        let mut o = Map::new();
        o.insert("start".into(), self.start().to_string().into());
        if let Some(exit) = self.session.exit() {
            o.insert("end".into(), exit.time.to_string().into());
        }
        o.insert("host".into(), self.session.main().host.clone().into());
        o.insert("result".into(), self.result().into());
        for (name, raw) in self.fields.iter() {
            if !matches!(*name, "v" | "event" | "seq" | "chain") {
                o.insert((*name).to_string(), json_value(name, *raw));
            }
        }
        let records: Vec<Json> = [self.session.first(), self.session.exit()]
            .into_iter()
            .flatten()
            .map(|r| record_json(r, files))
            .collect();
        o.insert("records".into(), records.into());
        Json::Object(o)
    }
}

/// A value as the record writes it: `-`, bare, or quoted and escaped.
fn written(raw: Option<Raw<'_>>) -> String {
    match raw {
        None | Some(Raw::Missing) => "-".into(),
        Some(Raw::Bare(v)) => v.into(),
        Some(Raw::Quoted(v)) => format!("\"{v}\""),
    }
}

/// `null` for `-`; a number for the numeric fields; a string when the bytes
/// are UTF-8, else `{"escaped": "..."}` with the record's escaped text.
fn json_value(name: &str, raw: Raw<'_>) -> Json {
    match raw {
        Raw::Missing => Json::Null,
        Raw::Bare(v) if NUMBERS.contains(&name) => v
            .parse::<i64>()
            .map(Json::from)
            .or_else(|_| v.parse::<u64>().map(Json::from))
            .unwrap_or_else(|_| v.into()),
        Raw::Bare(v) => v.into(),
        Raw::Quoted(escaped) => {
            match String::from_utf8(raw.value().bytes().unwrap_or_default().to_vec()) {
                Ok(s) => s.into(),
                Err(_) => {
                    let mut e = Map::new();
                    e.insert("escaped".into(), escaped.into());
                    Json::Object(e)
                }
            }
        }
    }
}

/// One record with where it was and every field decoded.
fn record_json(r: &Rec, files: &[String]) -> Json {
    let mut o = Map::new();
    o.insert(
        "file".into(),
        files.get(r.file).cloned().unwrap_or_default().into(),
    );
    o.insert("line".into(), r.line.into());
    o.insert("time".into(), r.time.to_string().into());
    o.insert("pid".into(), r.pid.into());
    let fields: Map<String, Json> = record::fields(&r.message)
        .into_iter()
        .map(|(n, v)| (n.to_string(), json_value(n, v)))
        .collect();
    o.insert("fields".into(), Json::Object(fields));
    Json::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "0123456789abcdef0123456789abcdef";

    fn rec(kind: Kind, message: String, secs: i64) -> Rec {
        Rec {
            time: Stamp(secs * 1_000_000),
            host: "web".into(),
            file: 0,
            line: 1,
            pid: 7,
            kind,
            message,
        }
    }

    fn allow() -> String {
        format!(
            "v=1 sid={SID} event=allow key=alice fp=SHA256:abc from=192.0.2.7:5 target=web1 \
             container=- pid=42 user=app ns=mnt rule=/etc/nsgate.conf:3 cmd=\"echo \\xFF \\\"x\\\"\""
        )
    }

    #[test]
    fn lines_for_each_kind_of_session() {
        let a = rec(Kind::Allow, allow(), 100);
        let exit = allow().replace("event=allow", "event=exit")
            + " signal=SIGTERM duration_ms=1500 ended=1";
        let s = Session::Pair(a.clone(), rec(Kind::Exit, exit.clone(), 102));
        let v = View::new(&s);
        assert_eq!(
            v.text(),
            format!(
                "1970-01-01T00:01:40 web sid={SID} key=alice id=SHA256:abc from=192.0.2.7:5 \
                 target=web1 result=signal:SIGTERM duration_ms=1500 cmd=\"echo \\xFF \\\"x\\\"\""
            )
        );
        // Without the allow record, the start is the exit less its duration.
        let s = Session::Exit(rec(Kind::Exit, exit, 102));
        assert!(View::new(&s).text().starts_with("1970-01-01T00:01:40 "));
        let s = Session::One(a);
        assert!(View::new(&s)
            .text()
            .contains(" result=unpaired duration_ms=- "));
        let deny = allow()
            .replace("event=allow", "event=deny")
            .replace("key=alice", "key=-")
            + " reason=\"not permitted\"";
        let s = Session::One(rec(Kind::Deny, deny, 5));
        let t = View::new(&s).text();
        assert!(t.contains(" key=- ") && t.ends_with(" result=denied duration_ms=- cmd=\"echo \\xFF \\\"x\\\"\" reason=\"not permitted\""), "{t}");
        let cert = allow().replace("fp=SHA256:abc", "fp=SHA256:abc cert_id=\"alice@corp\"");
        let s = Session::One(rec(Kind::Allow, cert, 5));
        assert!(View::new(&s).text().contains(" id=\"alice@corp\" "));
    }

    #[test]
    fn json_has_every_field_decoded() {
        let a = rec(Kind::Allow, allow(), 100);
        let exit =
            allow().replace("event=allow", "event=exit") + " status=3 duration_ms=10 ended=0";
        let s = Session::Pair(a, rec(Kind::Exit, exit, 101));
        let j = View::new(&s).json(&["auth.log".into()]);
        assert_eq!(j["result"], "status:3");
        assert_eq!(j["key"], "alice");
        assert_eq!(j["container"], Json::Null);
        assert_eq!(j["pid"], 42);
        assert_eq!(j["status"], 3);
        assert_eq!(j["cmd"]["escaped"], "echo \\xFF \\\"x\\\"");
        assert_eq!(j["records"][0]["fields"]["event"], "allow");
        assert_eq!(j["records"][1]["fields"]["duration_ms"], 10);
        assert_eq!(j["records"][1]["file"], "auth.log");
        assert_eq!(j["end"], "1970-01-01T00:01:41");
        let deny = allow()
            .replace("\\xFF ", "")
            .replace("event=allow", "event=deny");
        let s = Session::One(rec(Kind::Deny, deny, 1));
        assert_eq!(View::new(&s).json(&[])["cmd"], "echo \"x\"");
    }
}
