//! The warnings of `--check` (nsgate.conf(5) DIAGNOSTICS): patterns that let a
//! permitted program run other programs, programs looked up in the
//! container's PATH, rules that can never match or never decide, and
//! targets no permit rule names.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use super::{
    glob, Action, Config, Pattern, PatternWord, Principal, Rule, RuleCommand, Targets, Who,
};

/// Programs that can run other programs or code taken from their arguments
/// or stdin, so that a glob or `...` after them may permit anything.
const RUNS_CODE: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "ash",
    "zsh",
    "ksh",
    "mksh",
    "csh",
    "tcsh",
    "fish",
    "busybox",
    "python",
    "perl",
    "ruby",
    "node",
    "nodejs",
    "php",
    "lua",
    "tclsh",
    "wish",
    "irb",
    "R",
    "Rscript",
    "java",
    "jshell",
    "gawk",
    "awk",
    "mawk",
    "nawk",
    "sed",
    "ed",
    "env",
    "xargs",
    "find",
    "tar",
    "rsync",
    "scp",
    "sftp",
    "ssh",
    "git",
    "vi",
    "vim",
    "nvim",
    "view",
    "ex",
    "emacs",
    "nano",
    "less",
    "more",
    "most",
    "man",
    "pager",
    "psql",
    "mysql",
    "mariadb",
    "sqlite3",
    "redis-cli",
    "mongo",
    "mongosh",
    "timeout",
    "nice",
    "ionice",
    "nohup",
    "chroot",
    "nsenter",
    "unshare",
    "setsid",
    "stdbuf",
    "taskset",
    "chrt",
    "flock",
    "watch",
    "strace",
    "ltrace",
    "gdb",
    "sudo",
    "doas",
    "su",
    "runuser",
    "setpriv",
    "make",
    "docker",
    "podman",
    "kubectl",
    "crontab",
    "systemd-run",
    "script",
    "expect",
    "socat",
    "nc",
    "ncat",
    "openssl",
    "zip",
    "dpkg",
    "apt",
    "apt-get",
    "rpm",
    "yum",
    "dnf",
    "pip",
    "pip3",
    "npm",
    "cpio",
];

/// Interpreter families written with a version, as `python3.11`.
const VERSIONED: &[&str] = &["python", "perl", "ruby", "php", "lua", "node", "pip"];

/// The warnings of each statement with its line, for sorting among errors,
/// in line order. Cheap enough for every load, gate mode's included.
pub(super) fn warnings(file: &str, config: &Config) -> Vec<(u32, String)> {
    let mut out = programs(file, config);
    out.extend(dead_globs(file, config));
    // Stable: the warnings of one line keep their order.
    out.sort_by_key(|(line, _)| *line);
    out
}

/// Every warning of a valid configuration for `--check`, in line order: those
/// of each statement, and those about the whole policy (rules that never
/// decide, targets no permit rule names), which only a complete file can
/// show and which cost too much for every login.
pub(crate) fn check_warnings(file: &str, config: &Config) -> Vec<String> {
    let mut out = warnings(file, config);
    out.extend(never_decide(file, config));
    out.extend(unnamed_targets(file, config));
    out.sort_by_key(|(line, _)| *line);
    out.into_iter().map(|(_, w)| w).collect()
}

/// The warnings about a rule's program and what follows it.
fn programs(file: &str, config: &Config) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    if let Some(rule) = first_principal_rule(config) {
        if config.settings.trusted_ca.is_empty() {
            let line = rule.origin.line;
            out.push((line, format!(
                "{file}:{line}: warning: principal rules match only certificates from a CA of \"set trusted-ca\", and none is listed"
            )));
        }
    }
    for rule in &config.rules {
        let RuleCommand::Cmd(pattern) = &rule.what else {
            continue;
        };
        let program = pattern.words[0].text();
        let at = format!("{file}:{}", rule.origin.line);
        if let (Action::Permit, PatternWord::Glob(g)) = (rule.action, &pattern.words[0]) {
            out.push((
                rule.origin.line,
                format!(
                "{at}: warning: the program \"{g}\" is a glob and permits every program it matches"
            ),
            ));
        }
        if !program.starts_with('/') && program.contains('/') {
            out.push((rule.origin.line, format!(
                "{at}: warning: the program \"{program}\" is a relative path; it is resolved from the working directory"
            )));
        } else if !program.starts_with('/') {
            out.push((rule.origin.line, match rule.action {
                Action::Permit => format!(
                    "{at}: warning: the program \"{program}\" is not an absolute path; it is looked up in the container's PATH"
                ),
                Action::Deny => format!(
                    "{at}: warning: the program \"{program}\" is not an absolute path; this rule does not deny it by its full path"
                ),
            }));
        }
        let open_ended = pattern.rest
            || pattern.words[1..]
                .iter()
                .any(|w| matches!(w, PatternWord::Glob(_)));
        if rule.action == Action::Permit && open_ended && runs_code(program) {
            out.push((rule.origin.line, format!(
                "{at}: warning: \"{program}\" can run other programs or code from its arguments or stdin; a glob or \"...\" after it may permit any command"
            )));
        }
    }
    out
}

fn first_principal_rule(config: &Config) -> Option<&Rule> {
    config.rules.iter().find(|r| match &r.who {
        Who::List(list) => list.iter().any(|p| matches!(p, Principal::Certified(_))),
        Who::Anyone => false,
    })
}

/// Rules with a glob word that no argument can match (see
/// `glob::never_matches`): the rule never matches at all.
fn dead_globs(file: &str, config: &Config) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for rule in &config.rules {
        let RuleCommand::Cmd(pattern) = &rule.what else {
            continue;
        };
        for word in &pattern.words {
            if let PatternWord::Glob(g) = word {
                if glob::never_matches(g) {
                    out.push((rule.origin.line, format!(
                        "{file}:{}: warning: the glob \"{g}\" has an empty, \".\" or \"..\" path component, which no argument may have; this rule never matches",
                        rule.origin.line
                    )));
                }
            }
        }
    }
    out
}

/// Rules that never decide: a later rule matches every request they match,
/// and the last matching rule decides. Only what is certain is reported
/// (see `covers`), so a rule with a glob the later one does not repeat
/// word for word is never reported.
fn never_decide(file: &str, config: &Config) -> Vec<(u32, String)> {
    // Only rules that start their command the same way (or with a glob
    // program, or match everything) and are for anyone or for one of the
    // rule's keys can cover it: index them so, to compare only those.
    let mut index: Index<'_> = HashMap::new();
    for (i, rule) in config.rules.iter().enumerate() {
        let head = Head::of(rule);
        match &rule.who {
            Who::Anyone => index.entry((head, None)).or_default().push(i),
            Who::List(keys) => {
                for key in keys {
                    index.entry((head, Some(key))).or_default().push(i);
                }
            }
        }
    }
    let globs = glob_heads(&index);
    let mut out = Vec::new();
    for (i, rule) in config.rules.iter().enumerate() {
        let Some(j) = first_cover(config, &index, &globs, i) else {
            continue;
        };
        let action = match rule.action {
            Action::Permit => "permit",
            Action::Deny => "deny",
        };
        out.push((rule.origin.line, format!(
            "{file}:{}: warning: this {action} rule never decides: the later rule at line {} matches every request it matches",
            rule.origin.line, config.rules[j].origin.line
        )));
    }
    out
}

/// Rules by how their command starts and a key they are for (`None`: anyone).
type Index<'a> = HashMap<(Head<'a>, Option<&'a Principal>), Vec<usize>>;

/// The glob programs of the rules, each once.
fn glob_heads<'a>(index: &Index<'a>) -> Vec<Head<'a>> {
    let mut heads: Vec<Head<'a>> = index
        .keys()
        .map(|(h, _)| *h)
        .filter(|h| matches!(h, Head::Glob(_)))
        .collect();
    heads.sort_unstable_by_key(|h| match h {
        Head::Glob(g) => *g,
        _ => "",
    });
    heads.dedup();
    heads
}

/// The first rule after rule `i` that covers it.
fn first_cover(config: &Config, index: &Index<'_>, globs: &[Head<'_>], i: usize) -> Option<usize> {
    let rule = &config.rules[i];
    let head = Head::of(rule);
    let mut heads = vec![Head::Everything, head];
    if matches!(head, Head::Literal(_)) {
        heads.extend(globs);
    }
    let key = match &rule.who {
        Who::Anyone => None,
        Who::List(keys) => keys.first(),
    };
    let mut whos = vec![None];
    whos.extend(key.map(Some));
    heads
        .iter()
        .flat_map(|h| whos.iter().map(move |w| (*h, *w)))
        .filter_map(|k| index.get(&k))
        .filter_map(|list| {
            list[list.partition_point(|&j| j <= i)..]
                .iter()
                .copied()
                .find(|&j| covers(&config.rules[j], rule))
        })
        .min()
}

/// How a rule's command starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Head<'a> {
    Everything,
    Shell,
    Literal(&'a str),
    Glob(&'a str),
}

impl<'a> Head<'a> {
    fn of(rule: &'a Rule) -> Head<'a> {
        match &rule.what {
            RuleCommand::Everything => Head::Everything,
            RuleCommand::Shell => Head::Shell,
            RuleCommand::Cmd(pattern) => match &pattern.words[0] {
                PatternWord::Literal(p) => Head::Literal(p),
                PatternWord::Glob(g) => Head::Glob(g),
            },
        }
    }
}

/// Whether `later` matches every request `earlier` matches, whoever asks.
fn covers(later: &Rule, earlier: &Rule) -> bool {
    let who = || match (&later.who, &earlier.who) {
        (Who::Anyone, _) => true,
        (Who::List(l), Who::List(e)) => e.iter().all(|p| l.contains(p)),
        (Who::List(_), Who::Anyone) => false,
    };
    let targets = || match (&later.targets, &earlier.targets) {
        (Targets::All, _) => true,
        (Targets::Names(l), Targets::Names(e)) => e.iter().all(|t| l.contains(t)),
        (Targets::Names(_), Targets::All) => false,
    };
    let what = || match (&later.what, &earlier.what) {
        (RuleCommand::Everything, _) | (RuleCommand::Shell, RuleCommand::Shell) => true,
        (RuleCommand::Cmd(l), RuleCommand::Cmd(e)) => pattern_covers(l, e),
        _ => false,
    };
    who() && targets() && what()
}

/// Whether every argv `earlier` matches, `later` matches too: the same
/// number of words (or fewer before a trailing `...` of `later`), each
/// covering the other's.
fn pattern_covers(later: &Pattern, earlier: &Pattern) -> bool {
    let lengths = match (later.rest, earlier.rest) {
        (false, false) => later.words.len() == earlier.words.len(),
        (true, _) => later.words.len() <= earlier.words.len(),
        (false, true) => false,
    };
    lengths
        && later
            .words
            .iter()
            .zip(&earlier.words)
            .all(|(l, e)| match (l, e) {
                (PatternWord::Literal(l), PatternWord::Literal(e)) => l == e,
                // A literal is the one argument it matches.
                (PatternWord::Glob(l), PatternWord::Literal(e)) => glob::matches(l, e),
                (PatternWord::Glob(l), PatternWord::Glob(e)) => l == e,
                (PatternWord::Literal(_), PatternWord::Glob(_)) => false,
            })
}

/// Targets that no permit rule names or covers with `on *`: every request
/// to them is denied.
fn unnamed_targets(file: &str, config: &Config) -> Vec<(u32, String)> {
    let permits = || config.rules.iter().filter(|r| r.action == Action::Permit);
    if permits().any(|r| r.targets == Targets::All) {
        return Vec::new();
    }
    config
        .targets
        .iter()
        .filter(|t| {
            !permits().any(|r| matches!(&r.targets, Targets::Names(n) if n.contains(&t.name)))
        })
        .map(|t| {
            (
                t.origin.line,
                format!(
            "{file}:{}: warning: no permit rule names target {}; every request to it is denied",
            t.origin.line, t.name
        ),
            )
        })
        .collect()
}

fn runs_code(program: &str) -> bool {
    let base = program.rsplit('/').next().unwrap_or(program);
    RUNS_CODE.contains(&base)
        || VERSIONED.iter().any(|family| {
            base.strip_prefix(family).is_some_and(|v| {
                !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            })
        })
}

#[cfg(test)]
mod tests {
    use super::runs_code;

    #[test]
    fn knows_programs_that_run_code() {
        for p in [
            "sh",
            "/bin/bash",
            "python3",
            "/usr/bin/python3.11",
            "find",
            "busybox",
            "tar",
        ] {
            assert!(runs_code(p), "{p}");
        }
        for p in ["cat", "/bin/ls", "python-config", "pythonx", "grep"] {
            assert!(!runs_code(p), "{p}");
        }
    }
}
