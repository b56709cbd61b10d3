//! The admin modes that read the configuration and answer from it:
//! `--check` (with `--authorized-keys`), `--probe`, `--explain` and
//! `--list` (nsgate(8) OPTIONS).
#![forbid(unsafe_code)]

use super::{keys, Args, Report};
use crate::config::{self, Config, TargetKind};
use crate::error::Error;
use crate::identity::Identity;
use crate::policy::{self, Decision};
use crate::request::{self, Request};

/// `--check`: every error as `FILE:LINE: message`, exit 1; warnings alone
/// exit 0. Then the `--authorized-keys` files, the same way.
pub(super) fn check(args: &Args) -> Report {
    let config = match config::load(&args.config) {
        Ok(config) => config,
        Err(e) => return Report::err(1, config_error(&e)),
    };
    let warnings = config::check_warnings(&args.config.to_string_lossy(), &config);
    let keys = keys::check(&config, &args.config, &args.authorized_keys);
    Report::err(i32::from(keys.errors), lines(&warnings) + &keys.text)
}

/// `--probe`: one line per target, whether gate mode could enter it now;
/// exit 1 if any could not, 2 when the configuration cannot be used.
pub(super) fn probe(args: &Args) -> Report {
    match config::load(&args.config) {
        Ok(config) => {
            let (all_ok, out) = crate::probe::run(&config);
            Report::out(i32::from(!all_ok), out)
        }
        Err(e) => Report::err(2, config_error(&e)),
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

/// The configuration for an admin mode, or exit 2.
pub(super) fn admin_config(args: &Args) -> Result<Config, Report> {
    config::load(&args.config).map_err(|e| Report::err(2, config_error(&e)))
}

/// `name` if it is a target of `config`, or exit 2.
pub(super) fn known<'c>(config: &'c Config, name: &str) -> Result<&'c config::Target, Report> {
    config.target(name).ok_or_else(|| {
        Report::err(
            2,
            format!("nsgate: {}\n", Error::UnknownTarget(name.to_string())),
        )
    })
}

/// The configuration and target for `--explain`, or exit 2.
fn admin_setup(args: &Args) -> Result<(Config, String), Report> {
    let config = admin_config(args)?;
    let target = args.target.clone().unwrap_or_default();
    known(&config, &target)?;
    Ok((config, target))
}

/// The key the admin modes decide for: `--key`, `--fingerprint` as if that
/// key had logged in (gate mode reads it from SSH_USER_AUTH), and
/// `--principal` as if a certificate from a trusted CA carried it.
pub(super) fn admin_identity(args: &Args) -> Identity {
    Identity {
        label: args.key.clone(),
        fingerprint: args.fingerprint.clone(),
        principals: args.principal.iter().cloned().collect(),
    }
}

/// `--explain`: the decision gate mode would take, contacting nothing.
pub(super) fn explain(args: &Args) -> Report {
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
        Request::Command { argv, .. } => quoted_words(argv.words()),
    };
    let rule = match policy::decide(&config, &admin_identity(args), &target, &request) {
        Decision::Deny(rule) => {
            let rule = rule.map_or("none".to_string(), |r| r.origin.to_string());
            return Report::out(1, format!("deny\nrule: {rule}\nargv: {argv}\n"));
        }
        Decision::Permit(rule) => rule,
    };
    let Ok(target) = known(&config, &target) else {
        return Report::err(2, format!("nsgate: {}\n", Error::UnknownTarget(target)));
    };
    let out = format!("permit\nrule: {}\nargv: {argv}\n", rule.origin);
    Report::out(0, out + &permitted(rule, target, &request))
}

/// Each word in double quotes, escaped as in the audit record.
fn quoted_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{}\"", crate::quote::escape(w.as_bytes())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--explain`'s lines after a permit: what the command would run with, as
/// far as the configuration says (nsgate(8) ENTERING THE CONTAINER).
fn permitted(rule: &config::Rule, target: &config::Target, request: &Request) -> String {
    let effective = rule.effective(target);
    let runtime = matches!(
        target.kind,
        TargetKind::Docker { .. } | TargetKind::Podman { .. }
    );
    let mut out = match (effective.user, runtime) {
        (Some(user), _) => format!("user: {user}\n"),
        (None, true) => "user: (runtime default, else root)\n".to_string(),
        (None, false) => "user: root\n".to_string(),
    };
    out += &match effective.ns {
        Some(ns) => format!("ns: {ns}\n"),
        None => "ns: (every namespace that differs)\n".to_string(),
    };
    let fallback = match request {
        Request::Interactive => "the user's home directory",
        Request::Command { .. } => "/",
    };
    out += &match (effective.cwd, runtime) {
        (Some(cwd), _) => format!("cwd: {cwd}\n"),
        (None, true) => format!("cwd: (runtime default, else {fallback})\n"),
        (None, false) if fallback == "/" => "cwd: /\n".to_string(),
        (None, false) => format!("cwd: ({fallback})\n"),
    };
    // A later setting of a name replaces an earlier one.
    let mut env: Vec<String> = Vec::new();
    for var in &effective.env {
        let prefix = format!("{}=", var.name);
        env.retain(|e| !e.starts_with(&prefix));
        env.push(format!("{prefix}{}", var.value));
    }
    out += &match env.is_empty() {
        true => "env: (none set by the configuration)\n".to_string(),
        false => format!("env: {}\n", quoted_words(&env)),
    };
    out += &match rule.timeout {
        Some(timeout) => format!("timeout: {}s\n", timeout.as_secs()),
        None => "timeout: none\n".to_string(),
    };
    out + if effective.tty {
        "tty: yes\n"
    } else {
        "tty: no\n"
    }
}

/// `--list`: with `--key` (or `--fingerprint`), the rules that could permit
/// something for that key on TARGET, or on every target; without, the same
/// for every key the rules name.
pub(super) fn list(args: &Args) -> Report {
    let config = match admin_config(args) {
        Ok(config) => config,
        Err(report) => return report,
    };
    if let Some(target) = &args.target {
        if let Err(report) = known(&config, target) {
            return report;
        }
    }
    let who = admin_identity(args);
    let by_key = who != Identity::default();
    let out = match (&args.target, by_key) {
        (Some(target), true) => policy::list::rules(&config, &who, target, ""),
        (Some(target), false) => policy::list::every_key(&config, target, ""),
        (None, true) => policy::list::key_on_every_target(&config, &who),
        (None, false) => policy::list::every_target(&config),
    };
    Report::out(0, out)
}
