//! Requests that name their target (nsgate(8) THE REQUEST): when the
//! authorized_keys line gives no TARGET, or a comma list of them, the first
//! word of the request is the target and the rest is the command.
#![forbid(unsafe_code)]

use super::{parse, Argv, Refusal, Request};
use crate::config::{self, Config, Target};

/// Which targets a login reaches: what its forced command gives in place
/// of TARGET (nsgate(8) SYNOPSIS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// One TARGET: the whole request is the command.
    Fixed(String),
    /// No TARGET: the request names any target of the configuration.
    Any,
    /// `TARGET,TARGET...`: the request names one of these.
    Only(Vec<String>),
}

impl Reach {
    /// The reach of the command line's TARGET word (`None`: none given);
    /// `None` for a list with a word that is not a target name. A word
    /// without a comma is taken as it is, as before lists existed.
    pub(crate) fn from_arg(arg: Option<&str>) -> Option<Reach> {
        let Some(arg) = arg else {
            return Some(Reach::Any);
        };
        if !arg.contains(',') {
            return Some(Reach::Fixed(arg.to_string()));
        }
        let names: Vec<String> = arg.split(',').map(str::to_string).collect();
        names
            .iter()
            .all(|n| config::is_name(n))
            .then_some(Reach::Only(names))
    }

    /// Whether the session may enter `target`.
    pub(crate) fn allows(&self, target: &str) -> bool {
        match self {
            Reach::Fixed(name) => name == target,
            Reach::Any => true,
            Reach::Only(names) => names.iter().any(|n| n == target),
        }
    }

    /// The targets of `config` this reach allows, in the configuration's order.
    pub(crate) fn targets<'a>(&self, config: &'a Config) -> Vec<&'a Target> {
        config
            .targets
            .iter()
            .filter(|t| self.allows(&t.name))
            .collect()
    }

    /// The TARGET word that gives this reach back (`None`: no TARGET).
    pub(crate) fn arg(&self) -> Option<String> {
        match self {
            Reach::Fixed(name) => Some(name.clone()),
            Reach::Any => None,
            Reach::Only(names) => Some(names.join(",")),
        }
    }
}

/// Splits a request that names its target: the first word, and what the
/// rest asks for. Nothing after the name is an interactive session; else
/// the command's `raw` is the rest of the request as the client sent it
/// (for the denial message; the audit record keeps the whole request).
/// The whole request is parsed as one, so quoting and every limit are
/// exactly those of any other request.
pub(crate) fn named(raw: &[u8], max_command_bytes: usize) -> Result<(String, Request), Refusal> {
    let Argv { mut words, spans } =
        parse(raw, max_command_bytes).map_err(|refusal| match refusal {
            Refusal::Empty => Refusal::NoTarget,
            other => other,
        })?;
    // parse refuses a request without words.
    let target = words.remove(0);
    let request = match spans.get(1) {
        Some(second) => {
            let at = second.start;
            Request::Command {
                raw: raw.get(at..).unwrap_or_default().to_vec(),
                // Where each word is in the rest of the request.
                argv: Argv {
                    words,
                    spans: spans[1..]
                        .iter()
                        .map(|s| s.start - at..s.end - at)
                        .collect(),
                },
            }
        }
        None => Request::Interactive,
    };
    Ok((target, request))
}
