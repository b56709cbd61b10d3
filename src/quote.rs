//! How nsgate writes bytes it did not choose (the client's request, names
//! from a container) inside double quotes: the escaping of nsgate(8) AUDIT,
//! used by audit records and by the client's one-line messages alike. Its
//! own module so that neither audit nor error depends on the other.
#![forbid(unsafe_code)]

/// Escapes a value for a double-quoted audit field (nsgate(8) AUDIT): `\` and
/// `"` get a backslash, every byte outside 0x20–0x7E becomes `\xHH`.
pub(crate) fn escape(bytes: &[u8]) -> String {
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

/// The length of `escape(bytes)` without building it: the request's size
/// bound, and where a prefix of `cmd` can be cut.
pub(crate) fn escaped_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| match b {
            b'\\' | b'"' => 2,
            0x20..=0x7e => 1,
            _ => 4,
        })
        .fold(0usize, usize::saturating_add)
}
