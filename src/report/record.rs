//! An nsgate record read back from a log: decoded by the audit decoder,
//! then held to the shape nsgate(8) AUDIT gives it, so that a line merely
//! tagged `nsgate` (by `logger -t nsgate`, say) is reported, not believed.
#![forbid(unsafe_code)]

// Every field a version 1 record can have, in the one order they are
// written in (those of some events or logins only included).
use crate::audit::FIELD_ORDER as ORDER;
use crate::audit::{self, Raw};

/// Places in ORDER of the fields `check` looks at.
const SID: usize = 1;
const EVENT: usize = 2;
const NUMBERS: [usize; 5] = [18, 20, 21, 22, 23];
const SEQ: usize = 24;
const CHAIN: usize = 25;

/// What a record reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Allow,
    Deny,
    Exit,
    Error,
    List,
}

/// A record's place in its host's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chained<'a> {
    pub seq: u64,
    /// The MESSAGE up to, not including, ` chain=`: what `chain` hashes.
    pub text: &'a str,
    pub chain: &'a str,
}

/// A record that has the shape of nsgate's.
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    pub kind: Kind,
    pub sid: &'a str,
    /// `None` for a record of a version of nsgate before the chain.
    pub chained: Option<Chained<'a>>,
    /// Every field, in order, as split.
    pub fields: Vec<(&'a str, Raw<'a>)>,
}

/// The fields of a message already checked.
pub(crate) fn fields(message: &str) -> Vec<(&str, Raw<'_>)> {
    audit::split_message(message).unwrap_or_default()
}

/// A field's value among `fields`.
pub(crate) fn get<'a>(fields: &[(&str, Raw<'a>)], name: &str) -> Option<Raw<'a>> {
    fields.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// Checks the MESSAGE of an nsgate line; why it is not a record otherwise.
pub(crate) fn check(message: &str) -> Result<Checked<'_>, String> {
    let fields = audit::split_message(message).map_err(|e| e.to_string())?;
    if fields.first() != Some(&("v", Raw::Bare("1"))) {
        return Err("not a version 1 record (v=1 first)".into());
    }
    // Each field's value by its place in ORDER.
    let mut by_order: [Option<Raw<'_>>; ORDER.len()] = [None; ORDER.len()];
    let mut last = 0;
    for (i, (name, raw)) in fields.iter().enumerate().skip(1) {
        // Fields come in ORDER: look ahead of the last one first.
        let ahead = ORDER[last + 1..].iter().position(|n| n == name);
        let Some(at) = ahead
            .map(|n| n + last + 1)
            .or_else(|| ORDER.iter().position(|n| n == name))
        else {
            return Err(format!("unknown field {name}"));
        };
        if at <= last {
            let twice = fields[..i].iter().any(|(n, _)| n == name);
            return Err(format!(
                "field {name} {}",
                if twice { "given twice" } else { "out of order" }
            ));
        }
        last = at;
        by_order[at] = Some(*raw);
    }
    let get = |at: usize| by_order[at];
    let bare = |at: usize| match get(at) {
        Some(Raw::Bare(v)) => Ok(v),
        _ => Err(format!("no {} field", ORDER[at])),
    };
    let sid = bare(SID)?;
    if sid.len() != 32 || !sid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("sid is not 32 lowercase hex digits".into());
    }
    let kind = match bare(EVENT)? {
        "allow" => Kind::Allow,
        "deny" => Kind::Deny,
        "exit" => Kind::Exit,
        "error" => Kind::Error,
        "list" => Kind::List,
        other => return Err(format!("unknown event {other}")),
    };
    for at in NUMBERS {
        let number = ORDER[at];
        if let Some(raw) = get(at) {
            let Raw::Bare(v) = raw else {
                return Err(format!("{number} is not a number"));
            };
            if v.trim_start_matches('-').parse::<u64>().is_err() || v.starts_with("--") {
                return Err(format!("{number} is not a number"));
            }
        }
    }
    let chained = match (get(SEQ), get(CHAIN)) {
        (None, None) => None,
        (Some(Raw::Bare(seq)), Some(Raw::Bare(chain))) => {
            let seq = audit::parse_seq(seq).filter(|&s| s > 0).ok_or("bad seq")?;
            if !audit::is_chain_value(chain) {
                return Err("bad chain value".into());
            }
            let cut = message.len() - chain.len() - " chain=".len();
            Some(Chained {
                seq,
                text: &message[..cut],
                chain,
            })
        }
        _ => return Err("seq and chain must both be there, bare".into()),
    };
    Ok(Checked {
        kind,
        sid,
        chained,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "0123456789abcdef0123456789abcdef";

    fn rec(tail: &str) -> String {
        format!("v=1 sid={SID} event=allow key=alice fp=- from=- target=web1 container=- pid=- user=- ns=- rule=- cmd=\"id\"{tail}")
    }

    #[test]
    fn places_name_their_fields() {
        assert_eq!(
            [ORDER[super::SID], ORDER[EVENT], ORDER[SEQ], ORDER[CHAIN]],
            ["sid", "event", "seq", "chain"]
        );
        assert_eq!(
            NUMBERS.map(|n| ORDER[n]),
            ["status", "duration_ms", "ended", "left", "recorded"]
        );
    }

    #[test]
    fn records_of_every_shape_check() {
        let plain = rec("");
        let c = check(&plain).unwrap();
        assert_eq!((c.kind, c.sid, c.chained), (Kind::Allow, SID, None));
        let chain = "a".repeat(64);
        let m = rec(&format!(" seq=7 chain={chain}"));
        let c = check(&m).unwrap();
        let ch = c.chained.unwrap();
        assert_eq!((ch.seq, ch.chain), (7, &chain[..]));
        assert!(ch.text.ends_with("cmd=\"id\" seq=7"));
        let m = format!(
            "v=1 sid={SID} event=exit key=a fp=- cert_id=\"x y\" from=- target=t container=- \
             pid=- user=- ns=- rule=- cmd=- reason=\"timeout\" signal=SIGTERM duration_ms=5 \
             ended=1 recorded=100 seq=1 chain={chain}"
        );
        assert_eq!(check(&m).unwrap().kind, Kind::Exit);
        assert_eq!(
            check(&format!("v=1 sid={SID} event=list")).unwrap().kind,
            Kind::List
        );
    }

    #[test]
    fn forged_looking_records_are_refused() {
        let chain = "a".repeat(64);
        for (bad, why) in [
            ("hello world".to_string(), "malformed audit record"),
            (rec("").replace("v=1", "v=2"), "version 1"),
            (format!("sid={SID} v=1"), "version 1"),
            (rec(" key=bob"), "key given twice"),
            (rec(" extra=1"), "unknown field extra"),
            (
                rec("").replace("key=alice fp=-", "fp=- key=alice"),
                "key out of order",
            ),
            (rec("").replace(SID, "XYZ"), "sid is not"),
            (
                rec("").replace("event=allow", "event=\"allow\""),
                "no event",
            ),
            (
                rec("").replace("event=allow", "event=grant"),
                "unknown event grant",
            ),
            (rec(" seq=1"), "both"),
            (rec(&format!(" seq=0 chain={chain}")), "bad seq"),
            (rec(&format!(" seq=01 chain={chain}")), "bad seq"),
            (rec(" seq=1 chain=abc"), "bad chain"),
            (rec(" status=x"), "status is not a number"),
            (rec(" duration_ms=\"5\""), "duration_ms is not a number"),
            (format!("{} ", rec("")), "malformed"),
        ] {
            let err = check(&bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err} (wanted {why})");
        }
    }
}
