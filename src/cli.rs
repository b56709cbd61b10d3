//! The command line of nsgate(8) OPTIONS: gate mode and the admin's `--check`,
//! `--explain`, `--list`, `--authorized-key`, `--authorized-principal` and
//! `--probe`.
#![forbid(unsafe_code)]

mod key_lines;
mod keys;
mod modes;

use crate::error::EXIT_FAILURE;
use crate::identity;
use crate::request::Reach;
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
        Mode::Check => modes::check(&args),
        Mode::Explain => modes::explain(&args),
        Mode::List => modes::list(&args),
        Mode::AuthorizedKey => key_lines::authorized_key(&args, std::io::stdin().lock()),
        Mode::AuthorizedPrincipal => key_lines::authorized_principal(&args),
        Mode::Probe => modes::probe(&args),
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
        assert_eq!(
            modes::admin_identity(&args).fingerprint.as_deref(),
            Some(FP)
        );
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
