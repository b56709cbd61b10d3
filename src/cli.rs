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
        matches!(
            a.to_str(),
            Some("--check" | "--explain" | "--list" | "--version" | "--help" | "-h")
        )
    });
    let args = match parse_args(args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("nsgate: {message}\n{USAGE}");
            return if gate { EXIT_FAILURE } else { 2 };
        }
    };
    match args.mode {
        Mode::Version => {
            println!("nsgate {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Mode::Help => {
            println!("{USAGE}\n\nSee nsgate(8) and nsgate.conf(5).");
            0
        }
        Mode::Check => check(&args),
        Mode::Explain => explain(&args),
        Mode::List => list(&args),
        Mode::Gate => crate::session::run(
            &args.config,
            args.key.clone(),
            args.target.as_deref().unwrap_or_default(),
        ),
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
                    return Err("--config needs a path of at most 1024 bytes".into());
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
fn check(args: &Args) -> i32 {
    match config::load(&args.config) {
        Ok(config) => {
            for warning in &config.warnings {
                eprintln!("{warning}");
            }
            0
        }
        Err(Error::Config(errors)) => {
            for error in errors {
                eprintln!("{error}");
            }
            1
        }
        Err(e) => {
            eprintln!("nsgate: {e}");
            1
        }
    }
}

/// The configuration and target for `--explain` and `--list`, or exit 2.
fn admin_setup(args: &Args) -> Result<(Config, String), i32> {
    let config = config::load(&args.config).map_err(|e| {
        eprintln!("nsgate: {e}");
        2
    })?;
    let target = args.target.clone().unwrap_or_default();
    if config.target(&target).is_none() {
        eprintln!("nsgate: {}", Error::UnknownTarget(target));
        return Err(2);
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
fn explain(args: &Args) -> i32 {
    let (config, target) = match admin_setup(args) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    let request =
        match request::from_env(args.command.as_deref(), config.settings.max_command_bytes) {
            Ok(request) => request,
            Err(refusal) => {
                println!("deny\nreason: {refusal}");
                return 1;
            }
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
    let decision = policy::decide(&config, &admin_identity(args), &target, &request);
    let rule = match decision {
        Decision::Deny(rule) => {
            println!("deny");
            match rule {
                Some(rule) => println!("rule: {}", rule.origin),
                None => println!("rule: none"),
            }
            println!("argv: {argv}");
            return 1;
        }
        Decision::Permit(rule) => rule,
    };
    let Some(target) = config.target(&target) else {
        return 2;
    };
    let effective = rule.effective(target);
    println!("permit\nrule: {}\nargv: {argv}", rule.origin);
    match (effective.user, &target.kind) {
        (Some(user), _) => println!("user: {user}"),
        (None, TargetKind::Docker { .. } | TargetKind::Podman { .. }) => {
            println!("user: (runtime default, else root)")
        }
        (None, _) => println!("user: root"),
    }
    match effective.ns {
        Some(ns) => println!("ns: {ns}"),
        None => println!("ns: (every namespace that differs)"),
    }
    if let Some(timeout) = rule.timeout {
        println!("timeout: {}s", timeout.as_secs());
    }
    if rule.tty || rule.what == RuleCommand::Shell {
        println!("tty: yes");
    }
    0
}

/// `--list`: the rules that could permit something for this key on TARGET.
fn list(args: &Args) -> i32 {
    let (config, target) = match admin_setup(args) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    for rule in policy::rules_for(&config, &admin_identity(args), &target) {
        println!("{}: {rule}", rule.origin);
    }
    0
}
