//! The warnings of `--check` (nsgate.conf(5) DIAGNOSTICS): patterns that let a
//! permitted program run other programs, and programs looked up in the
//! container's PATH.
#![forbid(unsafe_code)]

use super::{Action, Config, PatternWord, Principal, RuleCommand, Who};

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

/// Each warning with its line, for sorting among errors.
pub(super) fn warnings(file: &str, config: &Config) -> Vec<(u32, String)> {
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

fn first_principal_rule(config: &Config) -> Option<&super::Rule> {
    config.rules.iter().find(|r| match &r.who {
        Who::List(list) => list.iter().any(|p| matches!(p, Principal::Certified(_))),
        Who::Anyone => false,
    })
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
