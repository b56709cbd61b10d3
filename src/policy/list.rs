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

/// Every label and fingerprint the rules name, in the order first named,
/// then `*`: a key no rule names, which only rules for `*` apply to.
fn principals(config: &Config) -> Vec<(String, Identity)> {
    let mut seen: Vec<(String, Identity)> = Vec::new();
    for rule in &config.rules {
        let Who::List(list) = &rule.who else {
            continue;
        };
        for principal in list {
            let who = match principal {
                Principal::Label(l) => Identity {
                    label: Some(l.clone()),
                    fingerprint: None,
                },
                Principal::Fingerprint(f) => Identity {
                    label: None,
                    fingerprint: Some(f.clone()),
                },
            };
            let name = who.label.clone().or(who.fingerprint.clone());
            let name = name.unwrap_or_default();
            if !seen.iter().any(|(n, _)| *n == name) {
                seen.push((name, who));
            }
        }
    }
    seen.push(("*".to_string(), Identity::default()));
    seen
}
