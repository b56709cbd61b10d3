//! OpenSSH user certificates (`ssh-keygen -s`), as sshd exposes the one a
//! client logged in with (`ExposeAuthInfo`): the fields nsgate relies on,
//! decoded from the blob of OpenSSH's PROTOCOL.certkeys. Nothing here
//! verifies a signature: sshd has checked the signature, that the CA is one
//! it trusts, the validity and `source-address` at login. nsgate takes the
//! CA's fingerprint, the principals, serial, key id and validity, and
//! refuses a blob sshd would not have accepted, or cannot be written in a
//! record (nsgate(8), "SSH certificates").
#![forbid(unsafe_code)]

#[cfg(test)]
mod tests;

use base64::Engine;
use sha2::Digest;
use std::fmt;

/// sshd's own limit (SSHKEY_CERT_MAX_PRINCIPALS).
const MAX_PRINCIPALS: usize = 256;
/// Longest principal nsgate accepts; a rule must be able to name it.
const MAX_PRINCIPAL_BYTES: usize = 255;
/// The principals as the record's comma list: a bound that keeps the allow
/// record, which is never shortened, within its limit.
const MAX_PRINCIPALS_TEXT: usize = 1024;
/// Longest key id kept in records.
const MAX_KEY_ID_BYTES: usize = 256;
/// `valid_before` of a certificate without an end.
pub(crate) const FOREVER: u64 = u64::MAX;

/// A user certificate's fields, as sshd accepted them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Certificate {
    /// `SHA256:` of the certified key without the certificate, as sshd logs
    /// it and `ssh-keygen -lf` prints it for the key and its certificate.
    pub key_fingerprint: String,
    pub serial: u64,
    /// The key id, as the CA wrote it (no NUL, as sshd requires).
    pub key_id: Vec<u8>,
    /// Non-empty, distinct, no blank, comma or control character.
    pub principals: Vec<String>,
    /// Seconds since the epoch; `valid_before` is [`FOREVER`] for no end.
    pub valid_after: u64,
    pub valid_before: u64,
    /// `SHA256:` of the signature (CA) key's blob.
    pub ca: String,
}

/// Why a certificate blob is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertError {
    NotBase64,
    /// The blob ends inside the named field.
    Truncated(&'static str),
    /// Bytes after the signature.
    TrailingData,
    /// A key type nsgate does not decode (escaped for display).
    UnknownType(String),
    /// A host certificate, or a type that is neither.
    NotUser(u32),
    /// A key field that is not what its type says.
    BadKey(&'static str),
    BadCaKey(&'static str),
    BadOptions(&'static str),
    TooManyPrincipals,
    EmptyPrincipal,
    /// A principal with a blank, comma or control character, or too long:
    /// its position, from 1.
    BadPrincipal(usize),
    DuplicatePrincipal(String),
    PrincipalsTooLong,
    KeyIdTooLong,
    KeyIdNul,
    /// Not valid before this time (seconds since the epoch).
    NotYetValid(u64),
    /// Ended at this time.
    Expired(u64),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::NotBase64 => f.write_str("not base64"),
            CertError::Truncated(field) => write!(f, "truncated in its {field}"),
            CertError::TrailingData => f.write_str("data after its signature"),
            CertError::UnknownType(t) => write!(f, "unknown certificate type \"{t}\""),
            CertError::NotUser(2) => f.write_str("a host certificate, not a user certificate"),
            CertError::NotUser(_) => f.write_str("of no certificate type"),
            CertError::BadKey(why) => write!(f, "malformed public key: {why}"),
            CertError::BadCaKey(why) => write!(f, "malformed CA key: {why}"),
            CertError::BadOptions(which) => write!(f, "malformed {which}"),
            CertError::TooManyPrincipals => write!(f, "more than {MAX_PRINCIPALS} principals"),
            CertError::EmptyPrincipal => f.write_str("an empty principal"),
            CertError::BadPrincipal(n) => write!(
                f,
                "principal {n} has a blank, comma or control character, or is over {MAX_PRINCIPAL_BYTES} bytes"
            ),
            CertError::DuplicatePrincipal(p) => write!(f, "principal \"{p}\" given twice"),
            CertError::PrincipalsTooLong => {
                write!(f, "principals longer than {MAX_PRINCIPALS_TEXT} bytes in all")
            }
            CertError::KeyIdTooLong => write!(f, "key id over {MAX_KEY_ID_BYTES} bytes"),
            CertError::KeyIdNul => f.write_str("a NUL in its key id"),
            CertError::NotYetValid(t) => write!(f, "not valid before {}", utc(*t)),
            CertError::Expired(t) => write!(f, "expired at {}", utc(*t)),
        }
    }
}

/// Whether `kind` (the first word of a `publickey` line) names a certificate.
pub(crate) fn is_certificate_type(kind: &[u8]) -> bool {
    kind.ends_with(b"-cert-v01@openssh.com")
}

/// Decodes the base64 of a `publickey` line of SSH_USER_AUTH.
pub(crate) fn decode_base64(text: &[u8]) -> Result<Certificate, CertError> {
    let blob = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| CertError::NotBase64)?;
    decode(&blob)
}

/// Decodes a certificate blob (PROTOCOL.certkeys); only user certificates.
pub(crate) fn decode(blob: &[u8]) -> Result<Certificate, CertError> {
    let mut r = Reader(blob);
    let cert_type = r.string("type")?;
    let plain = plain_type(cert_type)
        .ok_or_else(|| CertError::UnknownType(crate::audit::escape(cert_type)))?;
    r.string("nonce")?;
    // The key's own fields follow the nonce; with the plain type before
    // them they are the key's blob, whose hash is its fingerprint.
    let key_start = r.0;
    key_fields(&mut r, plain).map_err(CertError::BadKey)?;
    let key_fields_raw = &key_start[..key_start.len() - r.0.len()];
    let mut plain_blob = Vec::with_capacity(4 + plain.len() + key_fields_raw.len());
    put_string(&mut plain_blob, plain.as_bytes());
    plain_blob.extend_from_slice(key_fields_raw);

    let serial = r.u64("serial")?;
    let kind = r.u32("type")?;
    if kind != 1 {
        return Err(CertError::NotUser(kind));
    }
    let key_id = r.string("key id")?;
    let principals = r.string("principals")?;
    let valid_after = r.u64("valid after")?;
    let valid_before = r.u64("valid before")?;
    options(r.string("critical options")?, "critical options")?;
    options(r.string("extensions")?, "extensions")?;
    r.string("reserved")?;
    let ca = r.string("signature key")?;
    r.string("signature")?;
    if !r.0.is_empty() {
        return Err(CertError::TrailingData);
    }
    ca_key(ca)?;
    if key_id.len() > MAX_KEY_ID_BYTES {
        return Err(CertError::KeyIdTooLong);
    }
    if key_id.contains(&0) {
        return Err(CertError::KeyIdNul);
    }
    Ok(Certificate {
        key_fingerprint: fingerprint(&plain_blob),
        serial,
        key_id: key_id.to_vec(),
        principals: principal_list(principals)?,
        valid_after,
        valid_before,
        ca: fingerprint(ca),
    })
}

impl Certificate {
    /// Refuses a certificate outside its validity at `now` (seconds since the
    /// epoch). sshd checked it at login; it may have ended since.
    pub(crate) fn check_validity(&self, now: u64) -> Result<(), CertError> {
        if now < self.valid_after {
            return Err(CertError::NotYetValid(self.valid_after));
        }
        if now >= self.valid_before {
            return Err(CertError::Expired(self.valid_before));
        }
        Ok(())
    }

    /// When the certificate ends, unless it has no end.
    pub(crate) fn end(&self) -> Option<std::time::SystemTime> {
        (self.valid_before != FOREVER)
            .then(|| std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.valid_before))
    }
}

/// `SHA256:` + unpadded base64, as `ssh-keygen -l` prints it.
fn fingerprint(blob: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(blob))
    )
}

/// The certificate types OpenSSH signs and the type of their plain keys.
const TYPES: [(&str, &str); 7] = [
    ("ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519"),
    (
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256",
    ),
    (
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384",
    ),
    (
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521",
    ),
    ("ssh-rsa-cert-v01@openssh.com", "ssh-rsa"),
    (
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519@openssh.com",
    ),
    (
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ),
];

fn plain_type(cert_type: &[u8]) -> Option<&'static str> {
    TYPES
        .iter()
        .find(|(cert, _)| cert.as_bytes() == cert_type)
        .map(|(_, plain)| *plain)
}

/// Reads the public key fields of a plain key of type `plain`, checking
/// their shape as sshd's parser does, in the one encoding it writes back
/// (so the fingerprint of these bytes is the one sshd prints).
fn key_fields(r: &mut Reader, plain: &str) -> Result<(), &'static str> {
    let short = |_| "truncated";
    match plain {
        "ssh-ed25519" | "sk-ssh-ed25519@openssh.com" => {
            if r.string("key").map_err(short)?.len() != 32 {
                return Err("an Ed25519 key is 32 bytes");
            }
        }
        "ssh-rsa" => {
            let e = r.string("key").map_err(short)?;
            let n = r.string("key").map_err(short)?;
            if !canonical_positive(e) || !canonical_positive(n) {
                return Err("RSA numbers not in their one encoding");
            }
            // sshd's minimum (SSH_RSA_MINIMUM_MODULUS_SIZE), leading zero aside.
            if n.len() < 1024 / 8 {
                return Err("RSA modulus under 1024 bits");
            }
        }
        _ => {
            let (curve, point_len) = match plain {
                "ecdsa-sha2-nistp256" | "sk-ecdsa-sha2-nistp256@openssh.com" => ("nistp256", 65),
                "ecdsa-sha2-nistp384" => ("nistp384", 97),
                "ecdsa-sha2-nistp521" => ("nistp521", 133),
                _ => return Err("unknown key type"),
            };
            if r.string("key").map_err(short)? != curve.as_bytes() {
                return Err("the curve is not the type's");
            }
            let point = r.string("key").map_err(short)?;
            if point.len() != point_len || point[0] != 4 {
                return Err("not an uncompressed point of the curve");
            }
        }
    }
    if plain.starts_with("sk-") {
        // The FIDO application, as a string.
        r.string("key").map_err(short)?;
    }
    Ok(())
}

/// An SSH mpint that is positive and minimal: no needless leading zero.
fn canonical_positive(m: &[u8]) -> bool {
    match m {
        [] => false,
        [first, ..] if first & 0x80 != 0 => false,
        [0] => false,
        [0, second, ..] => second & 0x80 != 0,
        _ => true,
    }
}

/// The signature key: a plain key OpenSSH can sign with, whole.
fn ca_key(blob: &[u8]) -> Result<(), CertError> {
    let mut r = Reader(blob);
    let kind = r
        .string("signature key")
        .map_err(|_| CertError::BadCaKey("truncated"))?;
    let plain = TYPES
        .iter()
        .map(|(_, plain)| *plain)
        .find(|p| p.as_bytes() == kind)
        .ok_or(CertError::BadCaKey("not a key type OpenSSH signs with"))?;
    key_fields(&mut r, plain).map_err(CertError::BadCaKey)?;
    if !r.0.is_empty() {
        return Err(CertError::BadCaKey("data after the key"));
    }
    Ok(())
}

/// Critical options or extensions: pairs of name and data strings. sshd
/// enforces the critical options it knows and refuses any other, so only
/// their shape matters here.
fn options(mut data: &[u8], which: &'static str) -> Result<(), CertError> {
    while !data.is_empty() {
        let mut r = Reader(data);
        r.string(which).map_err(|_| CertError::BadOptions(which))?;
        r.string(which).map_err(|_| CertError::BadOptions(which))?;
        data = r.0;
    }
    Ok(())
}

fn principal_list(mut data: &[u8]) -> Result<Vec<String>, CertError> {
    let mut list: Vec<String> = Vec::new();
    let mut total = 0;
    while !data.is_empty() {
        if list.len() == MAX_PRINCIPALS {
            return Err(CertError::TooManyPrincipals);
        }
        let mut r = Reader(data);
        let raw = r.string("principals")?;
        data = r.0;
        if raw.is_empty() {
            return Err(CertError::EmptyPrincipal);
        }
        let text = std::str::from_utf8(raw)
            .ok()
            .filter(|t| is_principal(t))
            .ok_or(CertError::BadPrincipal(list.len() + 1))?;
        if list.iter().any(|p| p == text) {
            return Err(CertError::DuplicatePrincipal(text.to_string()));
        }
        total += text.len() + 1;
        if total > MAX_PRINCIPALS_TEXT + 1 {
            return Err(CertError::PrincipalsTooLong);
        }
        list.push(text.to_string());
    }
    Ok(list)
}

/// Principal names nsgate can match and record: 1 to 255 bytes, no blank,
/// comma or control character (nsgate.conf(5), "Rules").
pub(crate) fn is_principal(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PRINCIPAL_BYTES
        && !s
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == ',')
}

/// The certificate wire format's reader: big-endian integers and strings
/// with a 32-bit length, never reading past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], CertError> {
        if self.0.len() < n {
            return Err(CertError::Truncated(field));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u32(&mut self, field: &'static str) -> Result<u32, CertError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, field: &'static str) -> Result<u64, CertError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn string(&mut self, field: &'static str) -> Result<&'a [u8], CertError> {
        let n = self.u32(field)?;
        let n = usize::try_from(n).map_err(|_| CertError::Truncated(field))?;
        self.take(n, field)
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    // Type names are short: the length fits.
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s);
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC), as far as year
/// 9999; later is written in seconds.
pub(crate) fn utc(t: u64) -> String {
    const MAX: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if t > MAX {
        return format!("{t} seconds after the epoch");
    }
    let (days, secs) = (t / 86_400, t % 86_400);
    // Howard Hinnant's days-to-civil, for days since 1970-01-01 (unsigned:
    // nothing here is before the epoch).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
