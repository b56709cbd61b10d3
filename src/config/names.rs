//! The names a target line hands its runtime, one check per kind of name.
//! The configuration parser (so `--check`) and resolution call the same
//! check, so the two can never disagree; each accepts what its runtime
//! accepts, which also keeps a name from reshaping the URL or path it is put
//! into (no `/`, no `.` or `..`, bounded).
#![forbid(unsafe_code)]

/// A kind of name, with the rule of the runtime that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    /// Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, which covers a full or
    /// 12-or-more-digit hex id too.
    DockerContainer,
    /// Podman's `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (one character is enough).
    PodmanContainer,
    /// containerd's identifier rule, which namespaces share.
    ContainerdNamespace,
    ContainerdId,
    /// systemd-machined's machine names: hostnames.
    Machine,
}

/// The longest Docker or Podman name nsgate asks for; the engines set none.
const MAX_CONTAINER_NAME: usize = 255;
/// containerd's `identifiers.Validate` limit.
const MAX_CONTAINERD_IDENTIFIER: usize = 76;
/// `HOST_NAME_MAX`, systemd's limit for machine names.
const MAX_MACHINE_NAME: usize = 64;

impl NameKind {
    /// The name's kind as messages say it.
    pub(crate) fn what(self) -> &'static str {
        match self {
            NameKind::DockerContainer => "docker container name",
            NameKind::PodmanContainer => "podman container name",
            NameKind::ContainerdNamespace => "containerd namespace",
            NameKind::ContainerdId => "containerd id",
            NameKind::Machine => "machine name",
        }
    }

    /// The rule, in words, for messages.
    pub(crate) fn rule(self) -> &'static str {
        match self {
            NameKind::DockerContainer => {
                "a letter or digit, then letters, digits, '_', '.' or '-'; 2 to 255 characters"
            }
            NameKind::PodmanContainer => {
                "a letter or digit, then letters, digits, '_', '.' or '-'; at most 255 characters"
            }
            NameKind::ContainerdNamespace | NameKind::ContainerdId => {
                "letters and digits, with single '.', '_' or '-' between them; at most 76 characters"
            }
            NameKind::Machine => {
                "letters, digits and '-', in labels joined by single '.', no label starting or ending with '-'; at most 64 characters"
            }
        }
    }

    pub(crate) fn is_valid(self, name: &str) -> bool {
        match self {
            NameKind::DockerContainer => name.len() >= 2 && is_engine_name(name),
            NameKind::PodmanContainer => is_engine_name(name),
            NameKind::ContainerdNamespace | NameKind::ContainerdId => {
                name.len() <= MAX_CONTAINERD_IDENTIFIER
                    && name.split(['.', '_', '-']).all(|run| {
                        !run.is_empty() && run.bytes().all(|b| b.is_ascii_alphanumeric())
                    })
            }
            NameKind::Machine => {
                name.len() <= MAX_MACHINE_NAME
                    && name.split('.').all(|label| {
                        !label.is_empty()
                            && !label.starts_with('-')
                            && !label.ends_with('-')
                            && label
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
            }
        }
    }

    /// `name`, or why this kind of name cannot be it.
    pub(crate) fn check(self, name: &str) -> Result<(), InvalidName> {
        if self.is_valid(name) {
            return Ok(());
        }
        Err(InvalidName {
            kind: self,
            name: name.to_string(),
        })
    }
}

/// Target names that are nsgate's subcommands (`nsgate log`, `nsgate
/// replay`): a target of that name is a configuration error, so that
/// `command="nsgate log"` in authorized_keys can never mean a target.
pub(crate) const RESERVED_TARGETS: [&str; 2] = ["log", "replay"];

/// The engines' shared rule; the length bound is nsgate's.
fn is_engine_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_CONTAINER_NAME
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A name its runtime would refuse; `Display` says which rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidName {
    pub kind: NameKind,
    pub name: String,
}

impl std::fmt::Display for InvalidName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid {} \"{}\" ({})",
            self.kind.what(),
            self.name.escape_debug(),
            self.kind.rule()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::NameKind::{self, *};

    #[test]
    fn each_kind_accepts_what_its_runtime_accepts() {
        let long = |n: usize| "a".repeat(n);
        let hex_id = "f79a5481c8bc5a613f93d9d493a199960390154dfa92021efa8b06949b11b038";
        let table: &[(NameKind, &str, bool)] = &[
            (DockerContainer, "web1", true),
            (DockerContainer, "my_app.v2-x", true),
            (DockerContainer, "0abc", true),
            (DockerContainer, hex_id, true),
            (DockerContainer, &hex_id[..12], true),
            (DockerContainer, "ab", true),
            (DockerContainer, "a", false),
            (DockerContainer, "", false),
            (DockerContainer, ".", false),
            (DockerContainer, "..", false),
            (DockerContainer, "-x", false),
            (DockerContainer, "_x", false),
            (DockerContainer, ".x", false),
            (DockerContainer, "a/b", false),
            (DockerContainer, "a b", false),
            (DockerContainer, "a?b", false),
            (DockerContainer, "a%2f", false),
            (DockerContainer, "é", false),
            (DockerContainer, "a\n", false),
            (DockerContainer, &long(255), true),
            (DockerContainer, &long(256), false),
            (PodmanContainer, "a", true),
            (PodmanContainer, "web1", true),
            (PodmanContainer, "../x", false),
            (PodmanContainer, &long(256), false),
            (ContainerdId, "abc-1.x_2", true),
            (ContainerdId, hex_id, true),
            (ContainerdId, "a", true),
            (ContainerdId, "", false),
            (ContainerdId, "..", false),
            (ContainerdId, "a..b", false),
            (ContainerdId, "a.-b", false),
            (ContainerdId, "-a", false),
            (ContainerdId, "a-", false),
            (ContainerdId, "x/../y", false),
            (ContainerdId, "a b", false),
            (ContainerdId, &long(76), true),
            (ContainerdId, &long(77), false),
            (ContainerdNamespace, "moby", true),
            (ContainerdNamespace, "k8s.io", true),
            (ContainerdNamespace, "a/b", false),
            (ContainerdNamespace, "..", false),
            (Machine, "web-1.x", true),
            (Machine, "box", true),
            (Machine, "a.b.c", true),
            (Machine, "", false),
            (Machine, ".", false),
            (Machine, "..", false),
            (Machine, ".hidden", false),
            (Machine, "a.", false),
            (Machine, "a..b", false),
            (Machine, "-a", false),
            (Machine, "a-", false),
            (Machine, "a.-b", false),
            (Machine, "a_b", false),
            (Machine, "a/b", false),
            (Machine, "a b", false),
            (Machine, ".host", false),
            (Machine, &long(64), true),
            (Machine, &long(65), false),
        ];
        for (kind, name, valid) in table {
            assert_eq!(kind.is_valid(name), *valid, "{kind:?} {name:?}");
            assert_eq!(kind.check(name).is_ok(), *valid, "{kind:?} {name:?}");
        }
    }

    #[test]
    fn refusals_say_the_rule() {
        assert_eq!(
            ContainerdId.check("a..b").unwrap_err().to_string(),
            "invalid containerd id \"a..b\" (letters and digits, with single '.', '_' or '-' between them; at most 76 characters)"
        );
        assert_eq!(
            DockerContainer.check("a\n").unwrap_err().to_string(),
            "invalid docker container name \"a\\n\" (a letter or digit, then letters, digits, '_', '.' or '-'; 2 to 255 characters)"
        );
    }
}
