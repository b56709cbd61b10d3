//! Reading a record back: the inverse of the writer, strict enough that a
//! record which decodes was written by it (or byte-for-byte like it). The
//! one decoder: the unit tests and `nsgate log` use it.
#![forbid(unsafe_code)]

/// A field's value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A bare `-`.
    Missing,
    Bare(String),
    /// A double-quoted value, unescaped.
    Quoted(Vec<u8>),
}

impl Value {
    /// The value's bytes; `None` when missing.
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Missing => None,
            Value::Bare(s) => Some(s.as_bytes()),
            Value::Quoted(b) => Some(b),
        }
    }
}

/// Where and why a record did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    pub at: usize,
    pub why: &'static str,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "malformed audit record at byte {}: {}",
            self.at, self.why
        )
    }
}

impl std::error::Error for DecodeError {}

fn fail<T>(at: usize, why: &'static str) -> Result<T, DecodeError> {
    Err(DecodeError { at, why })
}

/// Decodes the inside of a quoted value: `\\`, `\"` and `\xHH`; every other
/// byte must be printable ASCII other than `"`.
pub(crate) fn unescape(s: &str) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(s.len());
    walk(s, |b| out.push(b))?;
    Ok(out)
}

/// The bytes a bare value may hold: printable ASCII but space, `"` and `\\`.
const BARE: [bool; 256] = table(0x21, b' ');
/// The bytes that stand for themselves inside quotes: printable ASCII but
/// `"` and `\\`.
const QUOTED_PLAIN: [bool; 256] = table(0x20, b'"');

/// The bytes of a field name: `[a-z0-9_]`.
const NAME: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_lowercase() || (c as u8).is_ascii_digit() || c == b'_' as usize;
        c += 1;
    }
    t
};

const fn table(first: u8, also_not: u8) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = first as usize;
    while c <= 0x7e {
        t[c] = c != b'"' as usize && c != b'\\' as usize && c != also_not as usize;
        c += 1;
    }
    t
}

/// The length of the escape at the start of `b` (`\\`, `\"` or `\xHH`).
fn escape_len(b: &[u8]) -> Result<usize, &'static str> {
    match b.get(1) {
        Some(b'\\' | b'"') => Ok(2),
        Some(b'x') => match b.get(2..4) {
            None => Err("short \\x escape"),
            Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => Ok(4),
            Some(_) => Err("bad \\x escape"),
        },
        _ => Err("unknown escape"),
    }
}

/// The bytes a quoted value's inside stands for, one by one, to `push`.
fn walk(s: &str, mut push: impl FnMut(u8)) -> Result<(), DecodeError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => match b.get(i + 1) {
                Some(b'\\') => push(b'\\'),
                Some(b'"') => push(b'"'),
                Some(b'x') => {
                    let hex = b.get(i + 2..i + 4).ok_or(DecodeError {
                        at: i,
                        why: "short \\x escape",
                    })?;
                    match (hex_digit(hex[0]), hex_digit(hex[1])) {
                        (Some(hi), Some(lo)) => push(hi << 4 | lo),
                        _ => return fail(i, "bad \\x escape"),
                    }
                    i += 2;
                }
                _ => return fail(i, "unknown escape"),
            },
            b'"' => return fail(i, "unescaped quote"),
            c @ 0x20..=0x7e => {
                push(c);
                i += 1;
                continue;
            }
            _ => return fail(i, "byte outside 0x20-0x7E"),
        }
        i += 2;
    }
    Ok(())
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// A field's value as it stands in the record, checked but not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Raw<'a> {
    /// A bare `-`.
    Missing,
    Bare(&'a str),
    /// The inside of a double-quoted value, still escaped (and valid).
    Quoted(&'a str),
}

impl Raw<'_> {
    /// The decoded value.
    pub(crate) fn value(self) -> Value {
        match self {
            Raw::Missing => Value::Missing,
            Raw::Bare(s) => Value::Bare(s.to_string()),
            // Checked when the record was split: it decodes.
            Raw::Quoted(s) => Value::Quoted(unescape(s).unwrap_or_default()),
        }
    }
}

/// Splits a record's MESSAGE (`v=1 sid=... cmd="..."`) into its fields, in
/// order, decoding quoted values.
#[cfg(test)]
pub(crate) fn parse_message(message: &str) -> Result<Vec<(String, Value)>, DecodeError> {
    Ok(split_message(message)?
        .into_iter()
        .map(|(name, raw)| (name.to_string(), raw.value()))
        .collect())
}

/// Splits a record's MESSAGE into its fields, in order, checking every
/// value as `parse_message` does but decoding none: the fast path of
/// `nsgate log`, which decodes only what it shows.
pub(crate) fn split_message(message: &str) -> Result<Vec<(&str, Raw<'_>)>, DecodeError> {
    let b = message.as_bytes();
    let mut fields = Vec::with_capacity(24);
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && NAME[usize::from(b[i])] {
            i += 1;
        }
        if i == start || b.get(i) != Some(&b'=') {
            return fail(i, "expected name=");
        }
        let name = &message[start..i];
        i += 1;
        let value = if b.get(i) == Some(&b'"') {
            let open = i + 1;
            i = open;
            // Plain bytes in runs; an escape is checked where it stands.
            loop {
                while i < b.len() && QUOTED_PLAIN[usize::from(b[i])] {
                    i += 1;
                }
                match b.get(i) {
                    None => return fail(i, "unterminated quote"),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        i += escape_len(&b[i..]).map_err(|why| DecodeError { at: i, why })?
                    }
                    Some(_) => return fail(i, "byte outside 0x20-0x7E"),
                }
            }
            let inner = &message[open..i];
            i += 1;
            Raw::Quoted(inner)
        } else {
            let open = i;
            while i < b.len() && BARE[usize::from(b[i])] {
                i += 1;
            }
            if i < b.len() && b[i] != b' ' {
                return fail(i, "bad byte in bare value");
            }
            match &message[open..i] {
                "" => return fail(open, "empty bare value"),
                "-" => Raw::Missing,
                v => Raw::Bare(v),
            }
        };
        fields.push((name, value));
        match b.get(i) {
            None => return Ok(fields),
            Some(b' ') if i + 1 < b.len() => i += 1,
            _ => return fail(i, "expected one space between fields"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_fields() {
        let f = parse_message(r#"v=1 key=- cmd="a\"b\\\x0A" x_2=[::1]:22"#).unwrap();
        assert_eq!(
            f,
            vec![
                ("v".into(), Value::Bare("1".into())),
                ("key".into(), Value::Missing),
                ("cmd".into(), Value::Quoted(b"a\"b\\\n".to_vec())),
                ("x_2".into(), Value::Bare("[::1]:22".into())),
            ]
        );
    }

    #[test]
    fn rejects_what_the_writer_never_writes() {
        for bad in [
            "",
            "v=1 ",
            "v=1  k=2",
            "v=",
            "=1",
            "V=1",
            "cmd=\"abc",
            "cmd=\"a\\",
            "cmd=\"a\\q\"",
            "cmd=\"\\x4\"",
            "cmd=\"\\x4g\"",
            "cmd=\"a\"b",
            "cmd=a\"b\"",
            "cmd=a\\b",
            "cmd=\"a\tb\"",
            "cmd=\"é\"",
        ] {
            assert!(parse_message(bad).is_err(), "{bad:?}");
        }
        assert!(unescape("\\").is_err());
        assert!(unescape("\"").is_err());
        assert_eq!(unescape("\\xff\\xFF").unwrap(), b"\xff\xff");
    }
}
