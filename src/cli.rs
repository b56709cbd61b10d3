//! The command line of nsgate(8) OPTIONS: gate mode and the admin's `--check`,
//! `--explain`, `--list`, `--authorized-key`, `--authorized-principal` and
//! `--probe`.
#![forbid(unsafe_code)]

mod keys;

use crate::config::{self, Config, TargetKind};
use crate::error::{Error, EXIT_FAILURE};
use crate::identity::{self, Identity};
use crate::policy::{self, Decision};
use crate::request::{self, Reach, Request};
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

pub(crate) const DEFAULT_CONFIG: &str = "/etc/nsgate.conf";

const USAGE: &str = "usage: nsgate [--config FILE] [--key LABEL] [TARGET | TARGET,TARGET...]
       nsgate [--config FILE] --check [--authorized-keys FILE]...
       nsgate [--config FILE] [--key LABEL] [--fingerprint SHA256:...] [--principal NAME] --explain TARGET [COMMAND]
       nsgate [--config FILE] [--key LABEL] [--fingerprint SHA256:...] [--principal NAME] --list [TARGET]
       nsgate [--config FILE] [--key LABEL] --authorized-key [TARGET | TARGET,TARGET...] < KEY.pub
       nsgate [--config FILE] --authorized-principal NAME [TARGET | TARGET,TARGET...]
       nsgate [--config FILE] --probe
       nsgate replay [--config FILE | --dir DIR] [--speed X] [--cat] SID
       nsgate log [--verify] [OPTION...] [FILE...]
       nsgate --version | --help";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Gate,
    Check,
    Explain,
    List,
    AuthorizedKey,
    AuthorizedPrincipal,
    Probe,
    Version,
    Help,
}

#[derive(Debug)]
struct Args {
    mode: Mode,
    config: PathBuf,
    key: Option<String>,
    /// `--fingerprint`: the admin modes decide as if this key logged in.
    fingerprint: Option<String>,
    /// `--principal` (`--explain`, `--list`), or `--authorized-principal`'s NAME.
    principal: Option<String>,
    target: Option<String>,
    /// Gate mode's and `--authorized-key`'s TARGET: one, none or a list.
    reach: Reach,
    /// `--explain`'s COMMAND, parsed exactly like SSH_ORIGINAL_COMMAND.
    command: Option<OsString>,
    /// `--check`'s `--authorized-keys` files, in order.
    authorized_keys: Vec<PathBuf>,
}

/// Runs nsgate and returns its exit code.
pub(crate) fn main() -> i32 {
    let mut argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Subcommands go by the first word only: in authorized_keys that is the
    // administrator's, and neither can be a target (config/names.rs).
    if argv.first().is_some_and(|w| w == "log") {
        return crate::report::main(argv.split_off(1));
    }
    if argv.first().is_some_and(|w| w == "replay") {
        return crate::recording::replay(argv.split_off(1));
    }
    let args = match parse_args(argv) {
        Ok(args) => args,
        // In gate mode the client reads this: one line, no usage text.
        Err(e) if !e.admin => {
            crate::output::error_line(&e.why.to_string());
            // No silent failure: the record has what the command line said.
            let k = e.known;
            crate::session::usage_error(&k.config, k.key, k.target, e.why.to_string());
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
        Mode::AuthorizedPrincipal => authorized_principal(&args),
        Mode::Probe => probe(&args),
        Mode::Gate => return crate::session::run(&args.config, args.key.clone(), &args.reach),
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
    known: Known,
}

/// What a refused command line did say, for gate mode's error record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    config: PathBuf,
    key: Option<String>,
    target: Option<String>,
}

/// What is wrong with a command line; the offending word where there is one.
#[derive(Debug, PartialEq, Eq)]
enum Misuse {
    OptionNotUtf8,
    UnknownOption(String),
    /// `--config`, `--key` or `--authorized-keys` without a value (or with
    /// one not UTF-8).
    NeedsValue(&'static str),
    /// `--authorized-keys` with an empty path.
    KeysPath,
    /// `--authorized-keys` without `--check`.
    KeysNeedCheck,
    ConfigTwice,
    ConfigPath,
    KeyTwice,
    InvalidKey(String),
    FingerprintTwice,
    InvalidFingerprint(String),
    /// `--fingerprint` outside `--explain` and `--list`.
    FingerprintNotHere,
    /// A TARGET with a comma that is not a list of target names.
    InvalidTargetList(String),
    PrincipalTwice,
    InvalidPrincipal(String),
    /// `--authorized-principal NAME`: NAME is its `--key` label too.
    PrincipalNotLabel(String),
    /// `--principal` in another mode than `--explain` and `--list`: never in
    /// gate mode, where only sshd's certificate may name principals.
    PrincipalMode,
    /// `--key` with `--authorized-principal`, which writes its own.
    KeyWithPrincipal,
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
            Misuse::KeysPath => f.write_str("--authorized-keys needs a non-empty path"),
            Misuse::KeysNeedCheck => f.write_str("--authorized-keys is only for --check"),
            Misuse::KeyTwice => f.write_str("--key given twice"),
            Misuse::InvalidKey(key) => write!(
                f,
                "invalid key label \"{key}\" (letters, digits, '.', '_', '-', '@', at most 64)"
            ),
            Misuse::FingerprintTwice => f.write_str("--fingerprint given twice"),
            Misuse::InvalidFingerprint(fp) => write!(
                f,
                "invalid fingerprint \"{fp}\" (write it as ssh-keygen -l prints it, SHA256:...)"
            ),
            Misuse::FingerprintNotHere => {
                f.write_str("--fingerprint is only for --explain and --list")
            }
            Misuse::InvalidTargetList(list) => write!(
                f,
                "invalid target list \"{list}\" (target names joined by single commas)"
            ),
            Misuse::PrincipalTwice => f.write_str("--principal given twice"),
            Misuse::InvalidPrincipal(name) => write!(
                f,
                "invalid principal \"{}\" (1 to 255 bytes, no blank, comma or control character)",
                crate::quote::escape(name.as_bytes())
            ),
            Misuse::PrincipalNotLabel(name) => write!(
                f,
                "principal \"{}\" cannot be a --key label (letters, digits, '.', '_', '-', '@', at most 64)",
                crate::quote::escape(name.as_bytes())
            ),
            Misuse::PrincipalMode => f.write_str("--principal goes only with --explain or --list"),
            Misuse::KeyWithPrincipal => {
                f.write_str("--key does not go with --authorized-principal, whose NAME is the label")
            }
            Misuse::TakesNoValue(flag) => write!(f, "{flag} takes no value"),
            Misuse::OneMode => f.write_str(
                "give only one of --check, --explain, --list, --authorized-key, --authorized-principal, --probe, --version, --help",
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
            fingerprint: None,
            principal: None,
            target: None,
            reach: Reach::Any,
            command: None,
            authorized_keys: Vec::new(),
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
            "--fingerprint" => {
                let value = option_value("--fingerprint", inline, raw);
                self.fingerprint(value);
                return;
            }
            "--principal" => {
                let value = option_value("--principal", inline, raw);
                self.principal(value);
                return;
            }
            "--authorized-principal" => {
                let value = option_value("--authorized-principal", inline, raw);
                self.principal(value);
                self.mode(flag, Mode::AuthorizedPrincipal, false, raw);
                return;
            }
            "--authorized-keys" => {
                match option_value("--authorized-keys", inline, raw) {
                    Err(e) => self.fail(e),
                    Ok(path) if path.is_empty() => self.fail(Misuse::KeysPath),
                    Ok(path) => self.args.authorized_keys.push(PathBuf::from(path)),
                }
                return;
            }
            "--check" => Mode::Check,
            "--probe" => Mode::Probe,
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

    /// `--fingerprint`: at most once, and written as ssh-keygen writes it.
    fn fingerprint(&mut self, value: Result<String, Misuse>) {
        match value {
            Err(e) => self.fail(e),
            Ok(_) if self.args.fingerprint.is_some() => self.fail(Misuse::FingerprintTwice),
            Ok(fp) if !identity::is_fingerprint(&fp) => self.fail(Misuse::InvalidFingerprint(fp)),
            Ok(fp) => self.args.fingerprint = Some(fp),
        }
    }

    /// `--principal` or `--authorized-principal`'s NAME: once, and a name a
    /// certificate could carry.
    fn principal(&mut self, value: Result<String, Misuse>) {
        match value {
            Err(e) => self.fail(e),
            Ok(_) if self.args.principal.is_some() => self.fail(Misuse::PrincipalTwice),
            Ok(name) if !crate::cert::is_principal(&name) => {
                self.fail(Misuse::InvalidPrincipal(name))
            }
            Ok(name) => self.args.principal = Some(name),
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
        let known = Known {
            config: args.config.clone(),
            key: args.key.clone(),
            target: self
                .positional
                .first()
                .and_then(|t| t.to_str())
                .map(str::to_string),
        };
        if let Some(why) = self.error {
            return Err(UsageError { why, admin, known });
        }
        let refuse = |why: Misuse| UsageError {
            why,
            admin,
            known: known.clone(),
        };
        if args.fingerprint.is_some() && !matches!(args.mode, Mode::Explain | Mode::List) {
            return Err(refuse(Misuse::FingerprintNotHere));
        }
        if !args.authorized_keys.is_empty() && args.mode != Mode::Check {
            return Err(refuse(Misuse::KeysNeedCheck));
        }
        check_principal(&args).map_err(refuse)?;
        let mut positional = self.positional.into_iter();
        let (min, max) = match args.mode {
            Mode::Explain => (1, 1),
            Mode::Gate | Mode::List | Mode::AuthorizedKey | Mode::AuthorizedPrincipal => (0, 1),
            Mode::Check | Mode::Probe | Mode::Version | Mode::Help => (0, 0),
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
        if matches!(
            args.mode,
            Mode::Gate | Mode::AuthorizedKey | Mode::AuthorizedPrincipal
        ) {
            let target = args.target.as_deref();
            args.reach = Reach::from_arg(target)
                .ok_or_else(|| refuse(Misuse::InvalidTargetList(target.unwrap_or("").into())))?;
        }
        Ok(args)
    }
}

/// `--principal` only where a principal is supposed, and
/// `--authorized-principal`'s NAME a label, as its line passes it to `--key`.
fn check_principal(args: &Args) -> Result<(), Misuse> {
    match (args.mode, &args.principal) {
        (Mode::AuthorizedPrincipal, _) if args.key.is_some() => Err(Misuse::KeyWithPrincipal),
        (Mode::AuthorizedPrincipal, Some(name)) if !identity::is_label(name) => {
            Err(Misuse::PrincipalNotLabel(name.clone()))
        }
        (Mode::Explain | Mode::List | Mode::AuthorizedPrincipal, _) | (_, None) => Ok(()),
        (_, Some(_)) => Err(Misuse::PrincipalMode),
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

/// `--check`: every error as `FILE:LINE: message`, exit 1; warnings alone
/// exit 0. Then the `--authorized-keys` files, the same way.
fn check(args: &Args) -> Report {
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
fn probe(args: &Args) -> Report {
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
fn admin_config(args: &Args) -> Result<Config, Report> {
    config::load(&args.config).map_err(|e| Report::err(2, config_error(&e)))
}

/// `name` if it is a target of `config`, or exit 2.
fn known<'c>(config: &'c Config, name: &str) -> Result<&'c config::Target, Report> {
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
fn admin_identity(args: &Args) -> Identity {
    Identity {
        label: args.key.clone(),
        fingerprint: args.fingerprint.clone(),
        principals: args.principal.iter().cloned().collect(),
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
fn list(args: &Args) -> Report {
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

/// Longest public key file `--authorized-key` reads.
const MAX_PUBLIC_KEY: u64 = 64 * 1024;

/// `--authorized-key`: the authorized_keys line for the public key on
/// `input` (as ssh-keygen writes it), with `restrict`, and `pty` where the
/// key's rules on a target it reaches give a terminal; exit 1 if no rule
/// permits it anything there.
fn authorized_key(args: &Args, input: impl std::io::Read) -> Report {
    let config = match admin_config(args) {
        Ok(config) => config,
        Err(report) => return report,
    };
    if let Err(report) = reachable(args, &config) {
        return report;
    }
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
        principals: Vec::new(),
    };
    match forced(args, &config, &who, args.key.as_deref(), "this key") {
        Ok(forced) => {
            let comment = key.comment.map(|c| format!(" {c}")).unwrap_or_default();
            Report::out(0, format!("{forced} {} {}{comment}\n", key.kind, key.blob))
        }
        Err(report) => report,
    }
}

/// `--authorized-principal NAME [TARGET]`: the AuthorizedPrincipalsFile
/// line (sshd(8) AUTHORIZED_KEYS FILE FORMAT: key options, then the
/// principal) that runs nsgate with `--key NAME` for certificates naming
/// NAME; with `restrict`, and `pty` where the rules for NAME (label or
/// principal) give a terminal; exit 1 if they permit nothing there.
fn authorized_principal(args: &Args) -> Report {
    let config = match admin_config(args) {
        Ok(config) => config,
        Err(report) => return report,
    };
    if let Err(report) = reachable(args, &config) {
        return report;
    }
    let name = args.principal.clone().unwrap_or_default();
    let who = Identity {
        label: Some(name.clone()),
        fingerprint: None,
        principals: vec![name.clone()],
    };
    let whom = format!("principal {name}");
    let mut report = match forced(args, &config, &who, Some(&name), &whom) {
        Ok(forced) => Report::out(0, format!("{forced} {name}\n")),
        Err(report) => return report,
    };
    if config.settings.trusted_ca.is_empty() {
        report.err =
            "nsgate: warning: no \"set trusted-ca\": principal rules give certificates nothing\n"
                .into();
    }
    report
}

/// Exit 2 unless every target the command line names is one.
fn reachable(args: &Args, config: &Config) -> Result<(), Report> {
    let listed = match &args.reach {
        Reach::Fixed(name) => std::slice::from_ref(name),
        Reach::Only(names) => names.as_slice(),
        Reach::Any => &[],
    };
    listed
        .iter()
        .try_for_each(|name| known(config, name).map(drop))
}

/// The options of an authorized_keys or principals line for `who`:
/// `restrict`, `pty` where a rule on a target of `args.reach` gives a
/// terminal, and the forced command, this nsgate with its `--config`,
/// `--key label` and the reach; exit 1 when no rule permits `whom`
/// anything there.
fn forced(
    args: &Args,
    config: &Config,
    who: &Identity,
    label: Option<&str>,
    whom: &str,
) -> Result<String, Report> {
    let mut permits = Vec::new();
    for target in args.reach.targets(config) {
        for rule in policy::rules_for(config, who, &target.name) {
            permits.push(rule.effective(target).tty);
        }
    }
    if permits.is_empty() {
        let on = args.reach.arg().unwrap_or_else(|| "any target".into());
        return Err(Report::err(
            1,
            format!("nsgate: no rule permits {whom} anything on {on}\n"),
        ));
    }
    let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/sbin/nsgate"));
    let mut command = program.display().to_string();
    if args.config != std::path::Path::new(DEFAULT_CONFIG) {
        command += &format!(" --config {}", args.config.display());
    }
    if let Some(label) = label {
        command += &format!(" --key {label}");
    }
    if let Some(target) = args.reach.arg() {
        command += &format!(" {target}");
    }
    // Inside the option's double quotes, sshd takes \" for a quote.
    let command = command.replace('\\', "\\\\").replace('"', "\\\"");
    let options = if permits.contains(&true) {
        "restrict,pty"
    } else {
        "restrict"
    };
    Ok(format!("{options},command=\"{command}\""))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Args, UsageError> {
        parse_args(words.iter().map(OsString::from).collect())
    }

    fn misuse(words: &[&str]) -> (Misuse, bool) {
        let e = parse(words).expect_err("a usage error");
        (e.why, e.admin)
    }

    const FP: &str = "SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw";

    #[test]
    fn gate_mode_takes_one_target_none_or_a_list() {
        let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect();
        for (words, reach) in [
            (&["--key", "alice", "web1"][..], Reach::Fixed("web1".into())),
            (&["--key", "alice"][..], Reach::Any),
            (&[][..], Reach::Any),
            (&["web1,db1"][..], Reach::Only(names(&["web1", "db1"]))),
            (
                &["--", "web1,db1"][..],
                Reach::Only(names(&["web1", "db1"])),
            ),
        ] {
            let args = parse(words).unwrap();
            assert_eq!((args.mode, args.reach), (Mode::Gate, reach), "{words:?}");
        }
        for list in ["web1,", ",db1", "web1,,db1", "web1,a b", "web1,-x"] {
            assert_eq!(
                misuse(&["--key", "alice", list]),
                (Misuse::InvalidTargetList(list.into()), false)
            );
        }
        assert_eq!(misuse(&["web1", "db1"]), (Misuse::TooManyArguments, false));
    }

    #[test]
    fn list_and_authorized_key_take_an_optional_target() {
        let args = parse(&["--list"]).unwrap();
        assert_eq!((args.mode, args.target), (Mode::List, None));
        let args = parse(&["--key", "a", "--list", "web1"]).unwrap();
        assert_eq!(args.target.as_deref(), Some("web1"));
        let args = parse(&["--authorized-key"]).unwrap();
        assert_eq!((args.mode, args.reach), (Mode::AuthorizedKey, Reach::Any));
        let args = parse(&["--authorized-key", "web1,db1"]).unwrap();
        assert_eq!(args.reach.arg().as_deref(), Some("web1,db1"));
        assert_eq!(
            misuse(&["--authorized-key", "web1,"]),
            (Misuse::InvalidTargetList("web1,".into()), true)
        );
        // --explain still needs its TARGET.
        assert_eq!(misuse(&["--explain"]), (Misuse::MissingTarget, true));
    }

    #[test]
    fn fingerprint_is_for_explain_and_list_only() {
        let args = parse(&["--fingerprint", FP, "--explain", "web1", "ls"]).unwrap();
        assert_eq!(args.fingerprint.as_deref(), Some(FP));
        assert_eq!(admin_identity(&args).fingerprint.as_deref(), Some(FP));
        let args = parse(&["--list", &format!("--fingerprint={FP}")]).unwrap();
        assert_eq!(args.fingerprint.as_deref(), Some(FP));
        // After --explain TARGET every word is the request's.
        assert_eq!(
            misuse(&["--explain", "web1", "--fingerprint", FP]),
            (Misuse::TooManyArguments, true)
        );
        for (words, why, admin) in [
            (
                &["--fingerprint", FP, "web1"][..],
                Misuse::FingerprintNotHere,
                false,
            ),
            (
                &["--fingerprint", FP, "--check"][..],
                Misuse::FingerprintNotHere,
                true,
            ),
            (
                &["--fingerprint", FP, "--authorized-key", "web1"][..],
                Misuse::FingerprintNotHere,
                true,
            ),
            (
                &["--fingerprint", "SHA256:short", "--list"][..],
                Misuse::InvalidFingerprint("SHA256:short".into()),
                true,
            ),
            (
                &["--fingerprint", FP, "--fingerprint", FP, "--list"][..],
                Misuse::FingerprintTwice,
                true,
            ),
            (
                &["--list", "--fingerprint"][..],
                Misuse::NeedsValue("--fingerprint"),
                true,
            ),
        ] {
            assert_eq!(misuse(words), (why, admin), "{words:?}");
        }
    }
}
