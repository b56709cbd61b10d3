//! The command line of nsgate(8) OPTIONS: gate mode and the admin's `--check`,
//! `--explain`, `--list` and `--authorized-key`.
#![forbid(unsafe_code)]

use crate::config::{self, Config, TargetKind};
use crate::error::{Error, EXIT_FAILURE};
use crate::identity::{self, Identity};
use crate::policy::{self, Decision};
use crate::request::{self, Request};
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

const DEFAULT_CONFIG: &str = "/etc/nsgate.conf";

const USAGE: &str = "usage: nsgate [--config FILE] [--key LABEL] TARGET
       nsgate [--config FILE] --check
       nsgate [--config FILE] [--key LABEL] --explain TARGET [COMMAND]
       nsgate [--config FILE] [--key LABEL] --list TARGET
       nsgate [--config FILE] [--key LABEL] --authorized-key TARGET < KEY.pub
       nsgate log [--verify] [OPTION...] [FILE...]
       nsgate --version | --help";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Gate,
    Check,
    Explain,
    List,
    AuthorizedKey,
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
pub(crate) fn main() -> i32 {
    let mut raw: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Subcommands go by the first word only: in authorized_keys that is
    // the administrator's, and `log` can never be a target (config/names.rs).
    if raw.first().is_some_and(|w| w == "log") {
        return crate::report::main(raw.split_off(1));
    }
    let args = match parse_args(raw) {
        Ok(args) => args,
        // In gate mode the client reads this: one line, no usage text.
        Err(e) if !e.admin => {
            crate::output::error_line(&e.why.to_string());
            return EXIT_FAILURE;
        }
        Err(e) => {
            crate::output::error_line(&e.why.to_string());
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
        Mode::AuthorizedKey => authorized_key(&args, std::io::stdin().lock()),
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

/// A command line nsgate refuses.
#[derive(Debug, PartialEq, Eq)]
struct UsageError {
    why: Misuse,
    /// Whether it asked for an admin mode: then the admin reads the error,
    /// with the usage; else the SSH client does, and gets one line.
    admin: bool,
}

/// What is wrong with a command line; the offending word where there is one.
#[derive(Debug, PartialEq, Eq)]
enum Misuse {
    OptionNotUtf8,
    UnknownOption(String),
    /// `--config` or `--key` without a value (or with one not UTF-8).
    NeedsValue(&'static str),
    ConfigTwice,
    ConfigPath,
    KeyTwice,
    InvalidKey(String),
    /// A mode flag given `=VALUE`.
    TakesNoValue(String),
    OneMode,
    MissingTarget,
    TooManyArguments,
    TargetNotUtf8,
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misuse::OptionNotUtf8 => f.write_str("an option is not valid UTF-8"),
            Misuse::UnknownOption(text) => write!(f, "unknown option \"{text}\""),
            Misuse::NeedsValue(name) => write!(f, "{name} needs a value"),
            Misuse::ConfigTwice => f.write_str("--config given twice"),
            Misuse::ConfigPath => {
                f.write_str("--config needs a non-empty path of at most 1024 bytes")
            }
            Misuse::KeyTwice => f.write_str("--key given twice"),
            Misuse::InvalidKey(key) => write!(
                f,
                "invalid key label \"{key}\" (letters, digits, '.', '_', '-', '@', at most 64)"
            ),
            Misuse::TakesNoValue(flag) => write!(f, "{flag} takes no value"),
            Misuse::OneMode => f.write_str(
                "give only one of --check, --explain, --list, --authorized-key, --version, --help",
            ),
            Misuse::MissingTarget => f.write_str("missing TARGET"),
            Misuse::TooManyArguments => f.write_str("too many arguments"),
            Misuse::TargetNotUtf8 => f.write_str("TARGET is not valid UTF-8"),
        }
    }
}

/// Parses the command line in one pass. Options end at `--`, and at
/// `--explain`: the word after it is TARGET and the next one COMMAND,
/// whatever they look like, so a request such as `--version` is explained,
/// never obeyed. After an error the pass goes on, only to learn the mode.
fn parse_args(raw: Vec<OsString>) -> Result<Args, UsageError> {
    let mut scan = Scan {
        args: Args {
            mode: Mode::Gate,
            config: PathBuf::from(DEFAULT_CONFIG),
            key: None,
            target: None,
            command: None,
        },
        error: None,
        config_seen: false,
        positional: Vec::new(),
        options_done: false,
    };
    let mut raw = raw.into_iter();
    while let Some(arg) = raw.next() {
        scan.word(arg, &mut raw);
    }
    scan.finish()
}

/// The words of the command line not read yet.
type Words = std::vec::IntoIter<OsString>;

/// What the pass of [`parse_args`] has learnt so far.
struct Scan {
    args: Args,
    /// The first error; the pass goes on only to learn the mode.
    error: Option<Misuse>,
    config_seen: bool,
    positional: Vec<OsString>,
    /// Whether `--` has been seen: every later word is positional.
    options_done: bool,
}

impl Scan {
    /// Keeps only the first error, the one reported.
    fn fail(&mut self, why: Misuse) {
        self.error.get_or_insert(why);
    }

    /// One word: a positional, or an option that may take the next word too.
    fn word(&mut self, arg: OsString, raw: &mut Words) {
        if self.options_done || !arg.to_string_lossy().starts_with('-') {
            self.positional.push(arg);
            return;
        }
        let Some(text) = arg.to_str() else {
            self.fail(Misuse::OptionNotUtf8);
            return;
        };
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (text, None),
        };
        let mode = match flag {
            "--" => {
                self.options_done = true;
                return;
            }
            "--config" => {
                let value = option_value("--config", inline, raw);
                self.config(value);
                return;
            }
            "--key" => {
                let value = option_value("--key", inline, raw);
                self.key(value);
                return;
            }
            "--check" => Mode::Check,
            "--explain" => Mode::Explain,
            "--list" => Mode::List,
            "--authorized-key" => Mode::AuthorizedKey,
            "--version" => Mode::Version,
            "--help" | "-h" => Mode::Help,
            _ => {
                self.fail(Misuse::UnknownOption(text.to_string()));
                return;
            }
        };
        self.mode(flag, mode, inline.is_some(), raw);
    }

    /// `--config`: at most once, and a path of sane length.
    fn config(&mut self, value: Result<String, Misuse>) {
        match value {
            Err(e) => self.fail(e),
            Ok(_) if self.config_seen => self.fail(Misuse::ConfigTwice),
            Ok(path) if path.is_empty() || path.len() > 1024 => self.fail(Misuse::ConfigPath),
            Ok(path) => self.args.config = PathBuf::from(path),
        }
        self.config_seen = true;
    }

    /// `--key`: at most once, and a label the audit record can carry.
    fn key(&mut self, value: Result<String, Misuse>) {
        match value {
            Err(e) => self.fail(e),
            Ok(_) if self.args.key.is_some() => self.fail(Misuse::KeyTwice),
            Ok(key) if !identity::is_label(&key) => self.fail(Misuse::InvalidKey(key)),
            Ok(key) => self.args.key = Some(key),
        }
    }

    /// A mode flag: only one is allowed, and `--explain` ends the options.
    fn mode(&mut self, flag: &str, mode: Mode, inline: bool, raw: &mut Words) {
        if inline {
            self.fail(Misuse::TakesNoValue(flag.to_string()));
        }
        if self.args.mode != Mode::Gate {
            self.fail(Misuse::OneMode);
        } else {
            self.args.mode = mode;
        }
        if mode == Mode::Explain && !inline {
            self.explain_words(raw);
        }
    }

    /// TARGET, then COMMAND (after an optional `--`): the last words.
    fn explain_words(&mut self, raw: &mut Words) {
        let mut rest: Vec<OsString> = raw.by_ref().collect();
        if rest.len() == 3 && rest[1] == "--" {
            rest.remove(1);
        }
        let mut rest = rest.into_iter();
        match rest.next() {
            Some(target) => self.positional.push(target),
            None => self.fail(Misuse::MissingTarget),
        }
        self.args.command = rest.next();
        if rest.next().is_some() {
            self.fail(Misuse::TooManyArguments);
        }
    }

    /// The first error, else the positionals checked against what the mode takes.
    fn finish(self) -> Result<Args, UsageError> {
        let mut args = self.args;
        let admin = args.mode != Mode::Gate;
        if let Some(why) = self.error {
            return Err(UsageError { why, admin });
        }
        let refuse = |why: Misuse| UsageError { why, admin };
        let mut positional = self.positional.into_iter();
        let (min, max) = match args.mode {
            Mode::Gate | Mode::List | Mode::Explain | Mode::AuthorizedKey => (1, 1),
            Mode::Check | Mode::Version | Mode::Help => (0, 0),
        };
        let count = positional.len();
        if count < min {
            return Err(refuse(Misuse::MissingTarget));
        }
        if count > max {
            return Err(refuse(Misuse::TooManyArguments));
        }
        if let Some(target) = positional.next() {
            args.target = Some(
                target
                    .into_string()
                    .map_err(|_| refuse(Misuse::TargetNotUtf8))?,
            );
        }
        Ok(args)
    }
}

/// An option's value: after `=`, else the next word, which must be UTF-8.
fn option_value(
    name: &'static str,
    inline: Option<String>,
    raw: &mut Words,
) -> Result<String, Misuse> {
    match inline {
        Some(v) => Ok(v),
        None => raw
            .next()
            .and_then(|v| v.into_string().ok())
            .ok_or(Misuse::NeedsValue(name)),
    }
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
            .map(|w| format!("\"{}\"", crate::quote::escape(w.as_bytes())))
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
    if effective.tty {
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

/// Longest public key file `--authorized-key` reads.
const MAX_PUBLIC_KEY: u64 = 64 * 1024;

/// `--authorized-key`: the authorized_keys line for the public key on
/// `input` (as ssh-keygen writes it), with `restrict`, and `pty` where the
/// key's rules on TARGET give a terminal; exit 1 if no rule permits it
/// anything there.
fn authorized_key(args: &Args, input: impl std::io::Read) -> Report {
    let (config, target) = match admin_setup(args) {
        Ok(setup) => setup,
        Err(report) => return report,
    };
    let mut text = String::new();
    if std::io::Read::read_to_string(&mut input.take(MAX_PUBLIC_KEY), &mut text).is_err() {
        return Report::err(
            2,
            "nsgate: standard input is not a public key in UTF-8\n".into(),
        );
    }
    let Some(key) = PublicKey::parse(&text) else {
        return Report::err(
            2,
            "nsgate: standard input holds no public key (TYPE BASE64 [COMMENT], as in a .pub file)\n"
                .into(),
        );
    };
    let who = Identity {
        label: args.key.clone(),
        fingerprint: Some(key.fingerprint.clone()),
    };
    let Some(target_def) = config.target(&target) else {
        return Report::err(2, format!("nsgate: {}\n", Error::UnknownTarget(target)));
    };
    let permits: Vec<_> = policy::rules_for(&config, &who, &target)
        .into_iter()
        .filter(|r| r.action == config::Action::Permit)
        .collect();
    if permits.is_empty() {
        return Report::err(
            1,
            format!("nsgate: no rule permits this key anything on {target}\n"),
        );
    }
    let pty = permits.iter().any(|r| r.effective(target_def).tty);
    let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/sbin/nsgate"));
    let mut command = program.display().to_string();
    if args.config != std::path::Path::new(DEFAULT_CONFIG) {
        command += &format!(" --config {}", args.config.display());
    }
    if let Some(label) = &args.key {
        command += &format!(" --key {label}");
    }
    command += &format!(" {target}");
    // Inside the option's double quotes, sshd takes \" for a quote.
    let command = command.replace('\\', "\\\\").replace('"', "\\\"");
    let options = if pty { "restrict,pty" } else { "restrict" };
    let comment = key.comment.map(|c| format!(" {c}")).unwrap_or_default();
    Report::out(
        0,
        format!(
            "{options},command=\"{command}\" {} {}{comment}\n",
            key.kind, key.blob
        ),
    )
}

/// One public key line: `TYPE BASE64 [COMMENT]`.
struct PublicKey<'a> {
    kind: &'a str,
    blob: &'a str,
    comment: Option<&'a str>,
    fingerprint: String,
}

impl<'a> PublicKey<'a> {
    /// The first line that is not blank or a `#` comment, if it is a key
    /// whose blob decodes and names the same type.
    fn parse(text: &'a str) -> Option<PublicKey<'a>> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))?;
        let mut fields = line.splitn(3, [' ', '\t']);
        let kind = fields.next()?;
        let blob = fields.next()?.trim();
        let comment = fields.next().map(str::trim).filter(|c| !c.is_empty());
        let known =
            kind.starts_with("ssh-") || kind.starts_with("ecdsa-sha2-") || kind.starts_with("sk-");
        if !known || comment.is_some_and(|c| c.chars().any(char::is_control)) {
            return None;
        }
        let fingerprint = identity::fingerprint(blob.as_bytes())?;
        // The blob starts with its own type as an SSH string.
        let decoded =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, blob).ok()?;
        let len = u32::from_be_bytes(decoded.get(..4)?.try_into().ok()?) as usize;
        (decoded.get(4..4 + len)? == kind.as_bytes()).then_some(PublicKey {
            kind,
            blob,
            comment,
            fingerprint,
        })
    }
}
