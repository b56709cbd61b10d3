//! Who is asking: the `--key` label from authorized_keys and the key's
//! SHA256 fingerprint from the file sshd names in `SSH_USER_AUTH`.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::reader::{self, Bound, Link, NotRead, Owner, Source};
use base64::Engine;
use sha2::Digest;
use std::path::Path;

/// The identity of the key that logged in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Identity {
    pub label: Option<String>,
    /// `SHA256:` + unpadded base64, as `ssh-keygen -lf` writes it.
    pub fingerprint: Option<String>,
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

/// The fingerprint of the first `publickey` line of the SSH_USER_AUTH file.
/// `None` when that file names no public key (e.g. password logins).
pub(crate) fn fingerprint_from_user_auth(path: &Path) -> Result<Option<String>> {
    let fail = |why: String| Error::UserAuth {
        path: path.to_path_buf(),
        why,
    };
    // Its owner is not checked (it never was): sshd makes it as the login
    // user. Only the first 64 KiB are read, as before.
    let source = Source::Path(path, Link::Follow);
    let read = reader::read(source, Bound::First(MAX_USER_AUTH_BYTES), Owner::Anyone);
    let text = read.map_err(|not_read| {
        fail(match not_read {
            NotRead::Io("open", e) => crate::error::os_message(&e),
            NotRead::Io(_, e) => e.to_string(),
            NotRead::NotRegular => "not a regular file".into(),
            // Not asked of this file; worded all the same.
            NotRead::Symlink => "a symbolic link".into(),
            NotRead::Owner(uid) => format!("owned by uid {uid}"),
            NotRead::Writable(_) => "writable by group or others".into(),
            NotRead::TooLarge => "too large".into(),
            NotRead::Directory(why) => why.to_string(),
        })
    })?;
    for line in text.split(|b| *b == b'\n') {
        let mut fields = line.split(|b| *b == b' ');
        if fields.next() != Some(b"publickey") {
            continue;
        }
        let blob = fields
            .nth(1)
            .ok_or_else(|| fail("publickey line without a key".into()))?;
        return fingerprint(blob)
            .map(Some)
            .ok_or_else(|| fail("publickey line with a malformed key".into()));
    }
    Ok(None)
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

    #[test]
    fn reads_the_first_publickey_line() {
        let dir = std::env::temp_dir().join(format!("nsgate-ua-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("auth");
        std::fs::write(
            &path,
            format!("password\npublickey ssh-ed25519 {KEY}\npublickey ssh-rsa AAAAB3Nza\n"),
        )
        .unwrap();
        assert_eq!(
            fingerprint_from_user_auth(&path).unwrap().as_deref(),
            Some(FP)
        );
        std::fs::write(&path, "keyboard-interactive\n").unwrap();
        assert_eq!(fingerprint_from_user_auth(&path).unwrap(), None);
        std::fs::write(&path, "publickey ssh-ed25519\n").unwrap();
        assert!(fingerprint_from_user_auth(&path).is_err());
        assert!(fingerprint_from_user_auth(&dir).is_err());
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
