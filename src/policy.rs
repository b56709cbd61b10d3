//! Policy decisions (§3.2–§3.3): the last matching rule decides, no match denies.
#![forbid(unsafe_code)]

use crate::config::{Config, Rule};
use crate::identity::Identity;
use crate::request::Request;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    Permit(&'a Rule),
    /// The deny rule that decided, or `None` when no rule matched.
    Deny(Option<&'a Rule>),
}

/// Decides `request` by `who` on `target` (a target name of the configuration).
pub fn decide<'a>(
    _config: &'a Config,
    _who: &Identity,
    _target: &str,
    _request: &Request,
) -> Decision<'a> {
    Decision::Deny(None)
}

/// The permit rules that could permit something for `who` on `target` (`--list`).
pub fn rules_for<'a>(_config: &'a Config, _who: &Identity, _target: &str) -> Vec<&'a Rule> {
    Vec::new()
}

/// Placeholder until the matcher lands.
pub fn is_glob(word: &str) -> bool {
    word.contains(['*', '?', '['])
}
