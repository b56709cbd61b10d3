//! Audit records (§6): one syslog datagram per event, failing closed.
#![forbid(unsafe_code)]

/// Escapes a value for a double-quoted audit field (§6): `\` and `"` get a
/// backslash, every byte outside 0x20–0x7E becomes `\xHH`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_backslashes_and_non_printables() {
        assert_eq!(escape(b"a \"b\" \\c"), r#"a \"b\" \\c"#);
        assert_eq!(escape(b"x\ny\x1b[0m\xff"), r"x\x0Ay\x1B[0m\xFF");
        assert_eq!(escape("é".as_bytes()), r"\xC3\xA9");
    }
}
