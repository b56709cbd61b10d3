//! `--check --authorized-keys FILE` (nsgate(8) OPTIONS): the lines of
//! authorized_keys and principals files that force nsgate, checked against
//! the configuration, with the command line read by the very parser gate
//! mode uses.
#![forbid(unsafe_code)]

use super::{parse_args, Args, Mode};
use crate::authorized_keys::{self, Forced, Line};
use crate::config::{Action, Config, Principal, Who};
use crate::identity::{self, Identity};
use crate::policy;
use crate::reader::{self, Bound, Link, NotRead, Owner, Source};
use crate::request::Reach;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Larger files are refused: no authorized_keys file comes close.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// What checking the files found: errors (a login that cannot work, a line
/// sshd refuses, a file not read) exit 1 as `--check` does; warnings do not.
#[derive(Default)]
pub(super) struct Findings {
    pub text: String,
    pub errors: bool,
}

impl Findings {
    fn error(&mut self, at: &str, message: impl std::fmt::Display) {
        self.text += &format!("{at}: {message}\n");
        self.errors = true;
    }
    fn warning(&mut self, at: &str, message: impl std::fmt::Display) {
        self.text += &format!("{at}: warning: {message}\n");
    }
}

/// Checks each file's lines in order, against `config` read from `checked`.
pub(super) fn check(config: &Config, checked: &Path, files: &[PathBuf]) -> Findings {
    let mut found = Findings::default();
    for file in files {
        let text = match read(file) {
            Ok(text) => text,
            Err(why) => {
                found.error(&format!("nsgate: cannot read {}", file.display()), why);
                continue;
            }
        };
        for (n, line) in authorized_keys::lines(&text) {
            let at = format!("{}:{n}", file.display());
            match line {
                Line::Other => {}
                Line::Junk(junk) => found.error(&at, junk),
                Line::Indirect(program) => found.warning(
                    &at,
                    format!("the command runs {program}, not nsgate itself; it is not checked"),
                ),
                Line::Forced(forced) => check_line(&mut found, &at, config, checked, &forced),
            }
        }
    }
    found
}

/// Reads a file of keys as a file anyone may own: nothing in it is obeyed.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    let source = Source::Path(path, Link::Follow);
    reader::read(source, Bound::AtMost(MAX_FILE_BYTES), Owner::Anyone).map_err(|e| match e {
        NotRead::Io(step, e) => format!("{step}: {}", crate::error::os_message(&e)),
        NotRead::NotRegular => "not a regular file".into(),
        NotRead::TooLarge => "larger than 4 MiB".into(),
        // Asked only of root's files.
        NotRead::Symlink | NotRead::Owner(_) | NotRead::Writable(_) | NotRead::Directory(_) => {
            "refused".into()
        }
    })
}

/// One line that forces nsgate: its command line as gate mode reads it,
/// then its key label, targets and options against the configuration.
fn check_line(found: &mut Findings, at: &str, config: &Config, checked: &Path, line: &Forced) {
    let words: Vec<OsString> = line.words[1..].iter().map(OsString::from).collect();
    let args = match parse_args(words) {
        Ok(args) if args.mode == Mode::Gate => args,
        Ok(_) => return found.error(at, "the command is not gate mode (an admin option)"),
        Err(e) => return found.error(at, format!("gate mode refuses the command: {}", e.why)),
    };
    if !line.restrict {
        found.warning(
            at,
            "no restrict: sshd gives this key port, agent and X11 forwarding; add restrict",
        );
    }
    if !same_file(&args.config, checked) {
        return found.warning(
            at,
            format!(
                "the command reads --config {}, not {}; its label and targets are not checked",
                args.config.display(),
                checked.display()
            ),
        );
    }
    if let Some(label) = &args.key {
        if !names_label(config, label) {
            found.warning(
                at,
                format!("--key {label}: no rule names this label (a typo?)"),
            );
        }
    }
    let targets = line_targets(&args);
    for name in &targets {
        if config.target(name).is_none() {
            found.error(at, format!("unknown target \"{name}\""));
        }
    }
    let who = Identity {
        label: args.key.clone(),
        fingerprint: line
            .key
            .as_deref()
            .and_then(|k| identity::fingerprint(k.as_bytes())),
        principals: Vec::new(),
    };
    // Without TARGET the client chooses among all of them.
    let reachable: Vec<&str> = match targets.is_empty() {
        true => config.targets.iter().map(|t| t.name.as_str()).collect(),
        false => targets.iter().map(String::as_str).collect(),
    };
    if !line.pty {
        if let Some(target) = reachable.iter().find(|t| gives_terminal(config, &who, t)) {
            found.warning(
                at,
                format!("no pty, but the key's rules on {target} give a terminal (shell or tty); add pty after restrict"),
            );
        }
    }
}

/// The targets a line names: TARGET or a comma list of them; none when
/// the command gives no TARGET.
fn line_targets(args: &Args) -> Vec<String> {
    match &args.reach {
        Reach::Fixed(name) => vec![name.clone()],
        Reach::Only(names) => names.clone(),
        Reach::Any => Vec::new(),
    }
}

/// Whether a rule names `label`, as a label or, for the lines
/// `--authorized-principal` writes, as a principal.
fn names_label(config: &Config, label: &str) -> bool {
    let named = [
        Principal::Label(label.to_string()),
        Principal::Certified(label.to_string()),
    ];
    config
        .rules
        .iter()
        .any(|r| matches!(&r.who, Who::List(list) if list.iter().any(|p| named.contains(p))))
}

/// Whether a rule permits `who` a terminal on `target`, as `--authorized-key`
/// decides where to write `pty`.
fn gives_terminal(config: &Config, who: &Identity, target: &str) -> bool {
    let Some(def) = config.target(target) else {
        return false;
    };
    policy::rules_for(config, who, target)
        .iter()
        .any(|r| r.action == Action::Permit && r.effective(def).tty)
}

/// Whether two paths name the same file (both resolved where they can be).
fn same_file(a: &Path, b: &Path) -> bool {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    real(a) == real(b)
}
