//! The command line of §2: gate mode and the admin's `--check`, `--explain`
//! and `--list`.
#![forbid(unsafe_code)]

use crate::config::{self, Config, RuleCommand, TargetKind};
use crate::error::{Error, EXIT_FAILURE};
use crate::identity::{self, Identity};
use crate::policy::{self, Decision};
use crate::request::{self, Request};
use std::ffi::OsString;
use std::path::PathBuf;

const DEFAULT_CONFIG: &str = "/etc/nsgate.conf";

const USAGE: &str = "usage: nsgate [--config FILE] [--key LABEL] TARGET
       nsgate [--config FILE] --check
       nsgate [--config FILE] [--key LABEL] --explain TARGET [COMMAND]
       nsgate [--config FILE] [--key LABEL] --list TARGET
       nsgate --version | --help";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Gate,
    Check,
    Explain,
    List,
    Version,
    Help,
}

#[derive(Debug)]
struct Args {
    mode: Mode,
    config: PathBuf,
    key: Option<String>,
    target: Option<String>,
    /// `--explain`'s COMMAND, parsed exactly like SSH_ORIGINAL_COMMAND.
    command: Option<OsString>,
}

/// Runs nsgate and returns its exit code.
pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let gate = !args.iter().any(|a| {
        let flag = a.to_str().map(|s| s.split('=').next().unwrap_or(s));
        matches!(
            flag,
            Some("--check" | "--explain" | "--list" | "--version" | "--help" | "-h")
        )
    });
    let args = match parse_args(args) {
        Ok(args) => args,
        // In gate mode the client reads this: one line, no usage text.
        Err(message) if gate => {
            crate::output::error_line(&message);
            return EXIT_FAILURE;
        }
        Err(message) => {
            crate::output::error_line(&message);
            crate::output::stderr(&format!("{USAGE}\n"));
            return 2;
        }
    };
    let report = match args.mode {
        Mode::Version => Report::out(0, format!("nsgate {}\n", env!("CARGO_PKG_VERSION"))),
        Mode::Help => Report::out(0, format!("{USAGE}\n\nSee nsgate(8) and nsgate.conf(5).\n")),
        Mode::Check => check(&args),
        Mode::Explain => explain(&args),
        Mode::List => list(&args),
        Mode::Gate => {
            return crate::session::run(
                &args.config,
                args.key.clone(),
                args.target.as_deref().unwrap_or_default(),
            )
        }
    };
    report.write()
}

/// What an admin mode prints, written at once so a closed pipe or a full
/// disk is an exit code, not a panic.
struct Report {
    code: i32,
    out: String,
    err: String,
}

impl Report {
    fn out(code: i32, out: String) -> Report {
        Report {
            code,
            out,
            err: String::new(),
        }
    }
    fn err(code: i32, err: String) -> Report {
        Report {
            code,
            out: String::new(),
            err,
        }
    }
    fn write(self) -> i32 {
        crate::output::stderr(&self.err);
        match crate::output::stdout(&self.out) {
            Ok(()) => self.code,
            Err(e) => {
                crate::output::error_line(&format!(
                    "cannot write the output: {}",
                    crate::error::os_message(&e)
                ));
                2
            }
        }
    }
}

fn parse_args(raw: Vec<OsString>) -> Result<Args, String> {
    let mut args = Args {
        mode: Mode::Gate,
        config: PathBuf::from(DEFAULT_CONFIG),
        key: None,
        target: None,
        command: None,
    };
    let mut config_seen = false;
    let mut positional: Vec<OsString> = Vec::new();
    let mut raw = raw.into_iter();
    let mut options_done = false;
    while let Some(arg) = raw.next() {
        if options_done || !arg.to_string_lossy().starts_with('-') {
            positional.push(arg);
            continue;
        }
        let text = arg
            .to_str()
            .ok_or_else(|| "an option is not valid UTF-8".to_string())?
            .to_string();
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (text.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => raw
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or_else(|| format!("{name} needs a value")),
            }
        };
        let mode = match flag.as_str() {
            "--" => {
                options_done = true;
                continue;
            }
            "--config" => {
                if config_seen {
                    return Err("--config given twice".into());
                }
                config_seen = true;
                let path = value("--config")?;
                if path.is_empty() || path.len() > 1024 {
                    return Err("--config needs a non-empty path of at most 1024 bytes".into());
                }
                args.config = PathBuf::from(path);
                continue;
            }
            "--key" => {
                if args.key.is_some() {
                    return Err("--key given twice".into());
                }
                let key = value("--key")?;
                if !identity::is_label(&key) {
                    return Err(format!(
                        "invalid key label \"{key}\" (letters, digits, '.', '_', '-', '@', at most 64)"
                    ));
                }
                args.key = Some(key);
                continue;
            }
            "--check" => Mode::Check,
            "--explain" => Mode::Explain,
            "--list" => Mode::List,
            "--version" => Mode::Version,
            "--help" | "-h" => Mode::Help,
            _ => return Err(format!("unknown option \"{text}\"")),
        };
        if inline.is_some() {
            return Err(format!("{flag} takes no value"));
        }
        if args.mode != Mode::Gate {
            return Err("give only one of --check, --explain, --list, --version, --help".into());
        }
        args.mode = mode;
    }
    let mut positional = positional.into_iter();
    let (min, max) = match args.mode {
        Mode::Gate | Mode::List => (1, 1),
        Mode::Explain => (1, 2),
        Mode::Check | Mode::Version | Mode::Help => (0, 0),
    };
    let count = positional.len();
    if count < min {
        return Err("missing TARGET".into());
    }
    if count > max {
        return Err("too many arguments".into());
    }
    if let Some(target) = positional.next() {
        args.target = Some(
            target
                .into_string()
                .map_err(|_| "TARGET is not valid UTF-8".to_string())?,
        );
    }
    args.command = positional.next();
    Ok(args)
}

/// `--check`: every error as `FILE:LINE: message`, exit 1; warnings alone exit 0.
fn check(args: &Args) -> Report {
    match config::load(&args.config) {
        Ok(config) => Report::err(0, lines(&config.warnings)),
        Err(e) => Report::err(1, config_error(&e)),
    }
}

fn lines(items: &[String]) -> String {
    items.iter().map(|l| format!("{l}\n")).collect()
}

/// A configuration failure for the admin: the parser's lines as they are,
/// anything else as one `nsgate: ` line.
fn config_error(e: &Error) -> String {
    match e {
        Error::Config(diagnostics) => lines(diagnostics),
        e => format!("nsgate: {e}\n"),
    }
}

/// The configuration and target for `--explain` and `--list`, or exit 2.
fn admin_setup(args: &Args) -> Result<(Config, String), Report> {
    let config = config::load(&args.config).map_err(|e| Report::err(2, config_error(&e)))?;
    let target = args.target.clone().unwrap_or_default();
    if config.target(&target).is_none() {
        return Err(Report::err(
            2,
            format!("nsgate: {}\n", Error::UnknownTarget(target)),
        ));
    }
    Ok((config, target))
}

fn admin_identity(args: &Args) -> Identity {
    Identity {
        label: args.key.clone(),
        fingerprint: None,
    }
}

/// `--explain`: the decision gate mode would take, contacting nothing.
fn explain(args: &Args) -> Report {
    let (config, target) = match admin_setup(args) {
        Ok(setup) => setup,
        Err(report) => return report,
    };
    let request =
        match request::from_env(args.command.as_deref(), config.settings.max_command_bytes) {
            Ok(request) => request,
            Err(refusal) => return Report::out(1, format!("deny\nreason: {refusal}\n")),
        };
    let argv = match &request {
        Request::Interactive => "(interactive session)".to_string(),
        Request::Command { argv, .. } => argv
            .words()
            .iter()
            .map(|w| format!("\"{}\"", crate::audit::escape(w.as_bytes())))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let rule = match policy::decide(&config, &admin_identity(args), &target, &request) {
        Decision::Deny(rule) => {
            let rule = rule.map_or("none".to_string(), |r| r.origin.to_string());
            return Report::out(1, format!("deny\nrule: {rule}\nargv: {argv}\n"));
        }
        Decision::Permit(rule) => rule,
    };
    let Some(target) = config.target(&target) else {
        return Report::err(2, format!("nsgate: {}\n", Error::UnknownTarget(target)));
    };
    let effective = rule.effective(target);
    let mut out = format!("permit\nrule: {}\nargv: {argv}\n", rule.origin);
    out += &match (effective.user, &target.kind) {
        (Some(user), _) => format!("user: {user}\n"),
        (None, TargetKind::Docker { .. } | TargetKind::Podman { .. }) => {
            "user: (runtime default, else root)\n".to_string()
        }
        (None, _) => "user: root\n".to_string(),
    };
    out += &match effective.ns {
        Some(ns) => format!("ns: {ns}\n"),
        None => "ns: (every namespace that differs)\n".to_string(),
    };
    if let Some(timeout) = rule.timeout {
        out += &format!("timeout: {}s\n", timeout.as_secs());
    }
    if rule.tty || rule.what == RuleCommand::Shell {
        out += "tty: yes\n";
    }
    Report::out(0, out)
}

/// `--list`: the rules that could permit something for this key on TARGET.
fn list(args: &Args) -> Report {
    let (config, target) = match admin_setup(args) {
        Ok(setup) => setup,
        Err(report) => return report,
    };
    let rules = policy::rules_for(&config, &admin_identity(args), &target);
    Report::out(
        0,
        rules
            .iter()
            .map(|r| format!("{}: {r}\n", r.origin))
            .collect(),
    )
}
