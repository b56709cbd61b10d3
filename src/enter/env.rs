//! The command's environment, built from scratch (nsgate(8), "Environment"):
//! nothing of the host's environment reaches it except a checked `TERM` when a
//! terminal is relayed.
#![forbid(unsafe_code)]

use super::users::Credentials;
use crate::config::EnvVar;

/// `PATH` when the runtime's environment has none (as Docker's default).
pub(super) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Set unless the target or rule `env` sets them: pagers that cannot run
/// other programs (nsgate(8), "Environment").
const PAGER_SAFETY: [(&str, &str); 4] = [
    ("LESSSECURE", "1"),
    ("PAGER", "cat"),
    ("GIT_PAGER", "cat"),
    ("SYSTEMD_PAGERSECURE", "1"),
];

/// Everything the environment is made from.
pub(super) struct Inputs<'a> {
    /// The runtime's `Config.Env`, `NAME=VALUE` each.
    pub runtime: &'a [String],
    /// For `HOSTNAME`: uname(2)'s in the container's UTS namespace.
    pub hostname: Option<&'a str>,
    /// The client's `TERM`, only when a terminal is relayed.
    pub term: Option<&'a str>,
    pub user: &'a Credentials,
    /// Target then rule `env`.
    pub plan: &'a [EnvVar],
}

/// Whether a client's `TERM` may be passed on (nsgate(8) THE REQUEST).
pub(crate) fn valid_term(term: &str) -> bool {
    (1..=64).contains(&term.len())
        && term
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

/// The environment as `NAME=VALUE` strings, in docker exec's order: its
/// defaults, then the runtime's env replacing or appending, then what the
/// user's passwd entry adds where missing, then the pager settings, then
/// the target and rule `env`.
pub(super) fn build(inputs: &Inputs<'_>) -> Vec<String> {
    let mut env = Env(Vec::new());
    env.set("PATH", DEFAULT_PATH);
    if let Some(h) = inputs.hostname {
        env.set("HOSTNAME", h);
    }
    if let Some(t) = inputs.term.filter(|t| valid_term(t)) {
        env.set("TERM", t);
    }
    for entry in inputs.runtime {
        // An entry without `=` names no value; docker exec drops it too.
        if let Some((name, value)) = entry.split_once('=') {
            if !name.is_empty() {
                env.set(name, value);
            }
        }
    }
    env.set_default("HOME", &inputs.user.home);
    if let Some(name) = &inputs.user.name {
        env.set_default("USER", name);
        env.set_default("LOGNAME", name);
    }
    if let Some(shell) = &inputs.user.shell {
        env.set_default("SHELL", shell);
    }
    for (name, value) in PAGER_SAFETY {
        env.set(name, value);
    }
    for var in inputs.plan {
        env.set(&var.name, &var.value);
    }
    env.0.into_iter().map(|(n, v)| format!("{n}={v}")).collect()
}

struct Env(Vec<(String, String)>);

impl Env {
    fn set(&mut self, name: &str, value: &str) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.0.push((name.to_string(), value.to_string())),
        }
    }

    fn set_default(&mut self, name: &str, value: &str) {
        if !self.0.iter().any(|(n, _)| n == name) {
            self.0.push((name.to_string(), value.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(name: Option<&str>) -> Credentials {
        Credentials {
            uid: crate::system::Uid::new(1000).unwrap(),
            gid: crate::system::Gid::new(1000).unwrap(),
            groups: vec![],
            name: name.map(str::to_string),
            home: "/home/app".to_string(),
            shell: name.map(|_| "/bin/ash".to_string()),
        }
    }

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.to_string(),
            value: value.to_string(),
        }
    }

    #[test]
    fn builds_in_docker_order() {
        let runtime = vec![
            "PATH=/opt/bin:/bin".to_string(),
            "FOO=bar".to_string(),
            "PAGER=less".to_string(),
            "NOVALUE".to_string(),
            "HOME=/srv".to_string(),
        ];
        let plan = vec![var("FOO", "rule"), var("GIT_PAGER", "more")];
        let user = creds(Some("app"));
        let env = build(&Inputs {
            runtime: &runtime,
            hostname: Some("web1"),
            term: Some("xterm-256color"),
            user: &user,
            plan: &plan,
        });
        assert_eq!(
            env,
            [
                "PATH=/opt/bin:/bin",
                "HOSTNAME=web1",
                "TERM=xterm-256color",
                "FOO=rule",
                "PAGER=cat",
                "HOME=/srv",
                "USER=app",
                "LOGNAME=app",
                "SHELL=/bin/ash",
                "LESSSECURE=1",
                "GIT_PAGER=more",
                "SYSTEMD_PAGERSECURE=1",
            ]
        );
    }

    #[test]
    fn defaults_without_runtime_env() {
        let user = creds(None);
        let env = build(&Inputs {
            runtime: &[],
            hostname: None,
            term: Some("bad term\x1b"),
            user: &user,
            plan: &[],
        });
        assert_eq!(
            env,
            [
                &format!("PATH={DEFAULT_PATH}"),
                "HOME=/home/app",
                "LESSSECURE=1",
                "PAGER=cat",
                "GIT_PAGER=cat",
                "SYSTEMD_PAGERSECURE=1",
            ]
        );
    }

    #[test]
    fn term_is_checked() {
        for good in [
            "xterm",
            "xterm-256color",
            "screen.xterm",
            "rxvt+unicode",
            "a",
        ] {
            assert!(valid_term(good), "{good}");
        }
        let long = "x".repeat(65);
        for bad in ["", "xterm color", "x;y", "\u{e9}", "x/y", long.as_str()] {
            assert!(!valid_term(bad), "{bad}");
        }
    }
}
