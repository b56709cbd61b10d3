//! What keys may do, as nsgate(8) `--list` prints it for the administrator
//! and as a login that names no target and sends no request reads it.
#![forbid(unsafe_code)]

use super::rules_for;
use crate::config::{Config, Principal, Rule, Who};
use crate::identity::Identity;
use crate::request::Reach;

/// What the client reads after logging in without a request: one line per
/// permitting rule on each target the key reaches, `TARGET: ` and what
/// the rule permits, with its `timeout` and `tty`. No file names, other
/// keys, users or `env` values: those are the host's, not the client's.
pub(crate) fn for_client(config: &Config, who: &Identity, reach: &Reach) -> String {
    let mut out = String::new();
    for target in reach.targets(config) {
        for rule in rules_for(config, who, &target.name) {
            out += &format!("{}: {}\n", target.name, client_rule(rule));
        }
    }
    out
}

/// A rule as the client reads it: `[timeout D] [tty] cmd WORD...|shell`.
fn client_rule(rule: &Rule) -> String {
    let mut out = String::new();
    if let Some(timeout) = rule.timeout {
        out += &format!("timeout {} ", crate::config::duration_text(timeout));
    }
    if rule.tty {
        out += "tty ";
    }
    out + &rule.what.to_string()
}

/// The rules that could permit something for `who` on `target`, one per
/// line as `FILE:LINE: RULE`, each line after `indent`.
pub(crate) fn rules(config: &Config, who: &Identity, target: &str, indent: &str) -> String {
    rules_for(config, who, target)
        .iter()
        .map(|r| format!("{indent}{}: {r}\n", r.origin))
        .collect()
}

/// `--list` for one key and no TARGET: each target, then its rules.
pub(crate) fn key_on_every_target(config: &Config, who: &Identity) -> String {
    let mut out = String::new();
    for target in &config.targets {
        out += &format!("{}:\n", target.name);
        out += &or_nothing(rules(config, who, &target.name, "  "), "  ");
    }
    out
}

/// `--list TARGET` without a key: each key the rules name, then what it
/// may do on TARGET (`indent` before every line).
pub(crate) fn every_key(config: &Config, target: &str, indent: &str) -> String {
    let mut out = String::new();
    for (name, who) in principals(config) {
        let rules = rules(config, &who, target, &format!("{indent}  "));
        if !rules.is_empty() {
            out += &format!("{indent}{name}:\n{rules}");
        }
    }
    or_nothing(out, indent)
}

/// `--list` with neither key nor TARGET: each target, then [`every_key`].
pub(crate) fn every_target(config: &Config) -> String {
    let mut out = String::new();
    for target in &config.targets {
        out += &format!("{}:\n", target.name);
        out += &every_key(config, &target.name, "  ");
    }
    out
}

fn or_nothing(text: String, indent: &str) -> String {
    if text.is_empty() {
        format!("{indent}(nothing permitted)\n")
    } else {
        text
    }
}

/// Every label, fingerprint and principal the rules name, in the order first named,
/// then `*`: a key no rule names, which only rules for `*` apply to.
fn principals(config: &Config) -> Vec<(String, Identity)> {
    let mut seen: Vec<(String, Identity)> = Vec::new();
    for rule in &config.rules {
        let Who::List(list) = &rule.who else {
            continue;
        };
        for principal in list {
            let (name, who) = match principal {
                Principal::Label(l) => (
                    l.clone(),
                    Identity {
                        label: Some(l.clone()),
                        ..Identity::default()
                    },
                ),
                Principal::Fingerprint(f) => (
                    f.clone(),
                    Identity {
                        fingerprint: Some(f.clone()),
                        ..Identity::default()
                    },
                ),
                Principal::Certified(p) => (
                    format!("principal:{p}"),
                    Identity {
                        principals: vec![p.clone()],
                        ..Identity::default()
                    },
                ),
            };
            if !seen.iter().any(|(n, _)| *n == name) {
                seen.push((name, who));
            }
        }
    }
    seen.push(("*".to_string(), Identity::default()));
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
target web1 docker web1
target db1 docker db1
target web2 docker web2
permit alice on web1 cmd /bin/cat /srv/*.log
permit alice,bob on web1,db1 as root timeout 5m env SECRET=x cmd /bin/ls ...
permit SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw on * shell
permit * on db1 tty cmd /usr/bin/top
deny bob on db1
";

    fn config() -> Config {
        crate::config::parse("f", CONFIG.as_bytes()).unwrap()
    }

    fn label(l: &str) -> Identity {
        Identity {
            label: Some(l.into()),
            ..Identity::default()
        }
    }

    #[test]
    fn the_client_reads_its_own_permissions_without_host_details() {
        let config = config();
        let only = |names: &[&str]| Reach::Only(names.iter().map(|n| n.to_string()).collect());
        assert_eq!(
            for_client(&config, &label("alice"), &Reach::Any),
            "web1: cmd /bin/cat /srv/*.log\n\
             web1: timeout 5m cmd /bin/ls ...\n\
             db1: timeout 5m cmd /bin/ls ...\n\
             db1: tty cmd /usr/bin/top\n"
        );
        // Only the targets its forced command lists.
        assert_eq!(
            for_client(&config, &label("alice"), &only(&["db1", "web2"])),
            "db1: timeout 5m cmd /bin/ls ...\ndb1: tty cmd /usr/bin/top\n"
        );
        // A later blanket deny takes bob's db1 away.
        assert_eq!(
            for_client(&config, &label("bob"), &Reach::Any),
            "web1: timeout 5m cmd /bin/ls ...\n"
        );
        assert_eq!(for_client(&config, &label("carol"), &only(&["web1"])), "");
        let fp = Identity {
            label: Some("carol".into()),
            fingerprint: Some("SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw".into()),
            ..Identity::default()
        };
        assert_eq!(
            for_client(&config, &fp, &only(&["web2", "db1"])),
            "db1: shell\ndb1: tty cmd /usr/bin/top\nweb2: shell\n"
        );
        for who in ["alice", "bob"] {
            let text = for_client(&config, &label(who), &Reach::Any);
            assert!(!text.contains("SECRET") && !text.contains("root"), "{text}");
        }
    }

    #[test]
    fn every_key_is_grouped_under_each_target() {
        let config = config();
        let fp = "SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw";
        let l = |n: u32| match n {
            4 => "f:4: permit alice on web1 cmd /bin/cat /srv/*.log".to_string(),
            5 => {
                "f:5: permit alice,bob on web1,db1 as root timeout 5m env SECRET=x cmd /bin/ls ..."
                    .to_string()
            }
            6 => format!("f:6: permit {fp} on * shell"),
            _ => "f:7: permit * on db1 tty cmd /usr/bin/top".to_string(),
        };
        assert_eq!(
            every_target(&config),
            format!(
                "web1:\n  alice:\n    {}\n    {}\n  bob:\n    {}\n  {fp}:\n    {}\n\
                 db1:\n  alice:\n    {}\n    {}\n  {fp}:\n    {}\n    {}\n  *:\n    {}\n\
                 web2:\n  {fp}:\n    {}\n",
                l(4),
                l(5),
                l(5),
                l(6),
                l(5),
                l(7),
                l(6),
                l(7),
                l(7),
                l(6)
            )
        );
        assert_eq!(
            key_on_every_target(&config, &label("bob")),
            format!(
                "web1:\n  {}\ndb1:\n  (nothing permitted)\nweb2:\n  (nothing permitted)\n",
                l(5)
            )
        );
        let bare = crate::config::parse("f", b"target web1 docker web1\n").unwrap();
        assert_eq!(every_target(&bare), "web1:\n  (nothing permitted)\n");
        assert_eq!(every_key(&bare, "web1", ""), "(nothing permitted)\n");
    }
}
