//! Who is asking: the `--key` label from authorized_keys, the key's SHA256
//! fingerprint and, for a certificate login, the certificate, from the file
//! sshd names in `SSH_USER_AUTH`.
#![forbid(unsafe_code)]

use crate::cert::{self, Certificate};
use crate::error::{Error, Result};
use crate::reader::{self, Bound, Link, NotRead, Owner, Source};
use crate::system::Uid;
use base64::Engine;
use sha2::Digest;
use std::path::Path;

/// The identity of the key that logged in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Identity {
    pub label: Option<String>,
    /// `SHA256:` + unpadded base64, as `ssh-keygen -lf` writes it.
    pub fingerprint: Option<String>,
    /// The principals of a certificate signed by a CA of `set trusted-ca`;
    /// empty for any other login (nsgate.conf(5), "Rules").
    pub principals: Vec<String>,
}

/// Key labels: letters, digits, `.`, `_`, `-` and `@`, at most 64, not
/// starting with `-`.
pub(crate) fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// `SHA256:` and 43 characters of unpadded base64, as `ssh-keygen -l`
/// prints a fingerprint (32 bytes of SHA-256).
pub(crate) fn is_fingerprint(s: &str) -> bool {
    s.strip_prefix("SHA256:").is_some_and(|hash| {
        hash.len() == 43
            && hash
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    })
}

/// sshd's ExposeAuthInfo file is small; anything larger is not sshd's.
const MAX_USER_AUTH_BYTES: u64 = 64 * 1024;

/// The key a client logged in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoginKey {
    /// Of a certificate, the certified key's, as sshd logs it.
    pub fingerprint: String,
    pub certificate: Option<Certificate>,
}

/// The key of the first `publickey` line of the SSH_USER_AUTH file, `None`
/// when that file names no public key (e.g. password logins). sshd makes
/// the file, mode 0600, as the login user, in a directory anyone may write
/// (/tmp): it must be a regular file of nsgate's real user, named itself
/// (not through a link), of at most 64 KiB. A certificate must be one sshd
/// would have accepted, still valid at `now` (seconds since the epoch).
pub(crate) fn key_from_user_auth(path: &Path, now: u64) -> Result<Option<LoginKey>> {
    let fail = |why: String| Error::UserAuth {
        path: path.to_path_buf(),
        why,
    };
    let source = Source::Path(path, Link::Refuse);
    let owner = Owner::User(Uid::real());
    let read = reader::read(source, Bound::AtMost(MAX_USER_AUTH_BYTES), owner);
    let text = read.map_err(|not_read| {
        fail(match not_read {
            NotRead::Io("open", e) => crate::error::os_message(&e),
            NotRead::Io(_, e) => e.to_string(),
            NotRead::NotRegular => "not a regular file".into(),
            NotRead::Symlink => "a symbolic link".into(),
            NotRead::Owner(uid) => format!("owned by uid {uid}, not {}", Uid::real()),
            NotRead::Writable(_) => "writable by group or others".into(),
            NotRead::TooLarge => format!("larger than {MAX_USER_AUTH_BYTES} bytes"),
            // Only root's files have their directories checked.
            NotRead::Directory(why) => why.to_string(),
        })
    })?;
    for line in text.split(|b| *b == b'\n') {
        let mut fields = line.split(|b| *b == b' ');
        if fields.next() != Some(b"publickey") {
            continue;
        }
        let kind = fields.next().unwrap_or_default();
        let blob = fields
            .next()
            .ok_or_else(|| fail("publickey line without a key".into()))?;
        if !cert::is_certificate_type(kind) {
            let fingerprint = fingerprint(blob)
                .ok_or_else(|| fail("publickey line with a malformed key".into()))?;
            return Ok(Some(LoginKey {
                fingerprint,
                certificate: None,
            }));
        }
        let certificate = cert::decode_base64(blob).map_err(Error::Certificate)?;
        // The line's type must be the blob's own, as sshd writes it.
        let named = blob_type(blob).is_some_and(|t| t == kind);
        if !named {
            return Err(fail("publickey line whose type is not its key's".into()));
        }
        certificate
            .check_validity(now)
            .map_err(Error::Certificate)?;
        return Ok(Some(LoginKey {
            fingerprint: certificate.key_fingerprint.clone(),
            certificate: Some(certificate),
        }));
    }
    Ok(None)
}

/// The type name a base64 key blob starts with.
fn blob_type(base64_blob: &[u8]) -> Option<Vec<u8>> {
    let blob = base64::engine::general_purpose::STANDARD
        .decode(base64_blob)
        .ok()?;
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    blob.get(4..4usize.checked_add(len)?).map(<[u8]>::to_vec)
}

/// The principals `certificate` vouches for, if a CA of `trusted` (`set
/// trusted-ca`) signed it; else none, so principal rules give it nothing.
pub(crate) fn trusted_principals(certificate: &Certificate, trusted: &[String]) -> Vec<String> {
    if trusted.contains(&certificate.ca) {
        certificate.principals.clone()
    } else {
        Vec::new()
    }
}

/// `SHA256:` + unpadded base64 of the SHA-256 of the decoded key blob.
pub(crate) fn fingerprint(base64_blob: &[u8]) -> Option<String> {
    let blob = base64::engine::general_purpose::STANDARD
        .decode(base64_blob)
        .ok()?;
    if blob.is_empty() {
        return None;
    }
    let digest = sha2::Sha256::digest(&blob);
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // ssh-keygen -t ed25519 -N '' -f k; ssh-keygen -lf k.pub
    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIGwm/o6mcb7adn0KwqwcOmsPssWFZjE4Vx7LzHW0f77e";
    const FP: &str = "SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw";

    #[test]
    fn fingerprint_is_what_ssh_keygen_prints() {
        assert_eq!(fingerprint(KEY.as_bytes()).as_deref(), Some(FP));
        assert_eq!(fingerprint(b"not base64!"), None);
        assert_eq!(fingerprint(b""), None);
    }

    fn fp(path: &Path) -> Option<String> {
        key_from_user_auth(path, NOW)
            .unwrap()
            .map(|k| k.fingerprint)
    }

    /// 2023-11-14: after the testdata RSA certificate ended (2020-01-02).
    const NOW: u64 = 1_700_000_000;
    const CERT: &str = include_str!("cert/testdata/ed25519-cert.pub");
    const EXPIRED: &str = include_str!("cert/testdata/rsa-cert.pub");

    fn dir(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nsgate-ua-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A file as sshd makes it: the user's, 0600.
    fn write(path: &Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::remove_file(path);
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn reads_the_first_publickey_line() {
        let dir = dir("first");
        let path = dir.join("auth");
        write(
            &path,
            &format!("password\npublickey ssh-ed25519 {KEY}\npublickey ssh-rsa AAAAB3Nza\n"),
        );
        assert_eq!(fp(&path).as_deref(), Some(FP));
        write(&path, "keyboard-interactive\n");
        assert_eq!(fp(&path), None);
        write(&path, "publickey ssh-ed25519\n");
        assert!(key_from_user_auth(&path, NOW).is_err());
        assert!(key_from_user_auth(&dir, NOW).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_certificate_gives_its_key_fingerprint_and_itself() {
        let dir = dir("cert");
        let path = dir.join("auth");
        // What sshd writes: the type and base64, no comment.
        let line = |pub_line: &str| {
            let mut f = pub_line.split(' ');
            format!("publickey {} {}\n", f.next().unwrap(), f.next().unwrap())
        };
        write(&path, &line(CERT));
        let key = key_from_user_auth(&path, NOW).unwrap().unwrap();
        // ssh-keygen -lf prints this for the key and its certificate alike.
        assert_eq!(
            key.fingerprint,
            "SHA256:UWnkNVAd6PZ+xaAmQXbBoM458NnOO552EEuqfRsRm+M"
        );
        let cert = key.certificate.unwrap();
        assert_eq!(cert.principals, ["alice", "ops"]);
        let ca = "SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og".to_string();
        assert_eq!(trusted_principals(&cert, &[ca]), ["alice", "ops"]);
        assert!(trusted_principals(&cert, &[FP.to_string()]).is_empty());
        assert!(trusted_principals(&cert, &[]).is_empty());

        write(&path, &line(EXPIRED));
        assert!(matches!(
            key_from_user_auth(&path, NOW),
            Err(Error::Certificate(cert::CertError::Expired(1_577_923_200)))
        ));
        // A line whose type is not its blob's is not sshd's.
        let b64 = CERT.split(' ').nth(1).unwrap();
        write(
            &path,
            &format!("publickey ssh-rsa-cert-v01@openssh.com {b64}\n"),
        );
        assert!(matches!(
            key_from_user_auth(&path, NOW),
            Err(Error::UserAuth { .. })
        ));
        write(&path, "publickey ssh-ed25519-cert-v01@openssh.com AAAA\n");
        assert!(matches!(
            key_from_user_auth(&path, NOW),
            Err(Error::Certificate(cert::CertError::Truncated(_)))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_file_must_be_the_users_own_named_and_small() {
        use std::os::unix::fs::PermissionsExt;
        let dir = dir("safe");
        let path = dir.join("auth");
        let why = |path: &Path| match key_from_user_auth(path, NOW) {
            Err(Error::UserAuth { why, .. }) => why,
            other => panic!("{other:?}"),
        };
        write(&dir.join("real"), &format!("publickey ssh-ed25519 {KEY}\n"));
        std::os::unix::fs::symlink(dir.join("real"), &path).unwrap();
        assert_eq!(why(&path), "a symbolic link");
        std::fs::remove_file(&path).unwrap();

        write(&path, &format!("publickey ssh-ed25519 {KEY}\n"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert_eq!(why(&path), "writable by group or others");

        // Over 64 KiB is refused, not cut.
        write(
            &path,
            &format!("publickey ssh-ed25519 {KEY}\n{}", "#".repeat(65536)),
        );
        assert_eq!(why(&path), "larger than 65536 bytes");

        if Uid::real().is_root() {
            write(&path, &format!("publickey ssh-ed25519 {KEY}\n"));
            std::os::unix::fs::chown(&path, Some(1000), None).unwrap();
            assert_eq!(why(&path), "owned by uid 1000, not 0");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn labels() {
        for ok in ["alice", "ops.team", "a_b-c", "alice@laptop", "1"] {
            assert!(is_label(ok), "{ok}");
        }
        for bad in ["", "-x", "a b", "a,b", "*", "a:b", &"x".repeat(65)] {
            assert!(!is_label(bad), "{bad}");
        }
    }
}
