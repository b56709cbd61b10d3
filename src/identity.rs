//! Who is asking: the `--key` label from authorized_keys and the key's
//! SHA256 fingerprint from the file sshd names in `SSH_USER_AUTH`.
#![forbid(unsafe_code)]

/// The identity of the key that logged in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub label: Option<String>,
    /// `SHA256:` + unpadded base64, as `ssh-keygen -lf` writes it.
    pub fingerprint: Option<String>,
}
