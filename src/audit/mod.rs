//! Audit records (nsgate(8) AUDIT): one syslog datagram per event, failing
//! closed.
//!
//! `record` builds the message (`v=1 sid=... event=...`), `syslog` frames it
//! as a `/dev/log` datagram and sends it, `chain` gives it its place in the
//! hash chain, `decode` reads a record back (for the unit tests and
//! `nsgate log`).
//!
//! Choices where the interface contract is silent:
//! - A missing value is a bare `-` (`key=-` without `--key`, `container=-`
//!   for targets that have no container id, `cmd=-` for an interactive
//!   session). A present value that is empty or is `-` itself is quoted
//!   (`""`, `"-"`), so the two never mix.
//! - `cmd` and `reason` are always quoted when present. Every other text
//!   value is written bare only when it is made of `[A-Za-z0-9._:/@,+=-]`
//!   and brackets (`from=[2001:db8::1]:22`); otherwise it is quoted and
//!   escaped like `cmd`. A record is therefore
//!   always one line of printable ASCII and decodes exactly.
//! - The syslog timestamp is UTC: nsgate reads neither `TZ` nor
//!   `/etc/localtime` (nothing in the environment steers it), and rsyslogd
//!   and journald stamp local-socket messages with their own receive time.
//! - Only allow records are never shortened: one over 8000 bytes refuses the
//!   session. Deny, error and exit records that would be over the limit keep
//!   a prefix of `cmd` and say so in `reason`; the session's allow record
//!   holds the whole request.
#![forbid(unsafe_code)]

mod chain;
mod decode;
mod journal;
mod record;
pub(crate) mod redact;
#[cfg(test)]
mod socket_tests;
mod syslog;

pub(crate) use chain::{
    chain_value, current as chain_state, is_chain_value, parse_seq, Link, GENESIS,
};
#[cfg(test)]
use decode::Value;
#[cfg(test)]
use decode::{parse_message, unescape};
pub(crate) use decode::{split_message, Raw};
pub(crate) use record::{client_address, Event, Record, SessionId, FIELD_ORDER};
pub(crate) use syslog::{civil_from_days, Auditor};
#[cfg(test)]
use syslog::{parse_frame, MAX_RECORD_BYTES};

pub(crate) use crate::quote::{escape, escaped_len};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_quotes_backslashes_and_non_printables() {
        assert_eq!(escape(b"a \"b\" \\c"), r#"a \"b\" \\c"#);
        assert_eq!(escape(b"x\ny\x1b[0m\xff"), r"x\x0Ay\x1B[0m\xFF");
        assert_eq!(escape("é".as_bytes()), r"\xC3\xA9");
    }

    #[test]
    fn escapes_each_hostile_byte_and_decodes_back() {
        let cases: &[&[u8]] = &[
            b"a\nb",
            b"a\rb",
            b"\x1b]0;pwned\x07",
            b"\"\"\\\\",
            b"]]] [x]",
            b"\xff\xfe\xc3",
            b"\x00\x7f\x80\x9f",
            "\u{202e}evil".as_bytes(),
            b"",
        ];
        for case in cases {
            let e = escape(case);
            assert!(e.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{e}");
            assert_eq!(unescape(&e).unwrap(), *case);
            assert_eq!(e.len(), escaped_len(case));
        }
        let long = vec![b'x'; 4000];
        assert_eq!(unescape(&escape(&long)).unwrap(), long);
    }

    proptest! {
        #[test]
        fn decode_inverts_escape(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let e = escape(&bytes);
            prop_assert!(e.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(unescape(&e).unwrap(), bytes);
        }
    }
}
