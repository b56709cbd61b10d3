//! Policy decisions (nsgate.conf(5), "Rules", "Command patterns"): the last
//! matching rule decides, no match denies.
#![forbid(unsafe_code)]

pub(crate) mod list;
#[cfg(test)]
mod tests;

use crate::config::glob;
use crate::config::{
    Action, Config, Pattern, PatternWord, Principal, Rule, RuleCommand, Targets, Who,
};
use crate::identity::Identity;
use crate::request::Request;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision<'a> {
    Permit(&'a Rule),
    /// The deny rule that decided, or `None` when no rule matched.
    Deny(Option<&'a Rule>),
}

/// Decides `request` by `who` on `target` (a target name of the configuration).
pub(crate) fn decide<'a>(
    config: &'a Config,
    who: &Identity,
    target: &str,
    request: &Request,
) -> Decision<'a> {
    let argv = match request {
        Request::Interactive => None,
        Request::Command { argv, .. } => Some(argv.words()),
    };
    decide_argv(config, who, target, argv)
}

/// `decide` with the request as its argv, `None` for an interactive session.
fn decide_argv<'a>(
    config: &'a Config,
    who: &Identity,
    target: &str,
    argv: Option<&[String]>,
) -> Decision<'a> {
    let last = config
        .rules
        .iter()
        .rev()
        .find(|r| applies(r, who, target) && command_matches(&r.what, argv));
    match last {
        Some(rule) if rule.action == Action::Permit => Decision::Permit(rule),
        Some(rule) => Decision::Deny(Some(rule)),
        None => Decision::Deny(None),
    }
}

/// The permit rules that could permit something for `who` on `target` (`--list`).
pub(crate) fn rules_for<'a>(config: &'a Config, who: &Identity, target: &str) -> Vec<&'a Rule> {
    let applicable: Vec<&Rule> = config
        .rules
        .iter()
        .filter(|r| applies(r, who, target))
        .collect();
    // A later blanket deny makes every permit before it moot.
    let start = applicable
        .iter()
        .rposition(|r| r.action == Action::Deny && r.what == RuleCommand::Everything)
        .map_or(0, |i| i + 1);
    applicable[start..]
        .iter()
        .copied()
        .filter(|r| r.action == Action::Permit)
        .collect()
}

/// Whether the argv matches the pattern one word to one argument, with any
/// further arguments allowed after a trailing `...`.
pub(crate) fn pattern_matches(pattern: &Pattern, argv: &[String]) -> bool {
    let n = pattern.words.len();
    let count_ok = if pattern.rest {
        argv.len() >= n
    } else {
        argv.len() == n
    };
    count_ok
        && pattern
            .words
            .iter()
            .zip(argv)
            .all(|(word, arg)| match word {
                PatternWord::Literal(s) => s == arg,
                PatternWord::Glob(g) => glob::matches(g, arg),
            })
}

/// Whether the rule is for this key and this target, whatever the request.
fn applies(rule: &Rule, who: &Identity, target: &str) -> bool {
    let who_ok = match &rule.who {
        Who::Anyone => true,
        Who::List(principals) => principals.iter().any(|p| match p {
            Principal::Label(l) => who.label.as_deref() == Some(l.as_str()),
            Principal::Fingerprint(f) => who.fingerprint.as_deref() == Some(f.as_str()),
            // Only principals of a trusted CA's certificate are in `who`.
            Principal::Certified(name) => who.principals.iter().any(|p| p == name),
        }),
    };
    let target_ok = match &rule.targets {
        Targets::All => true,
        Targets::Names(names) => names.iter().any(|n| n == target),
    };
    who_ok && target_ok
}

fn command_matches(what: &RuleCommand, argv: Option<&[String]>) -> bool {
    match (what, argv) {
        (RuleCommand::Everything, _) => true,
        (RuleCommand::Shell, None) => true,
        (RuleCommand::Cmd(pattern), Some(argv)) => pattern_matches(pattern, argv),
        (RuleCommand::Shell, Some(_)) | (RuleCommand::Cmd(_), None) => false,
    }
}
