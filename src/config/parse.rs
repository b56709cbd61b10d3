//! The statements of nsgate.conf(5) (`target`, `permit`, `deny`, `set`) from
//! lexed lines. A statement with an error is reported and left out; parsing
//! goes on so that `--check` names every error at once.
#![forbid(unsafe_code)]

use super::lex::{lex, Line, Word};
use super::names::NameKind;
use super::*;

/// Parses `text` read from `file`; every error as `FILE:LINE[:COL]: message`.
pub(crate) fn parse(file: &str, text: &[u8]) -> Result<Config, Vec<String>> {
    let (lines, lex_errors) = lex(text);
    let mut diagnostics: Vec<(u32, u32, String)> = lex_errors
        .into_iter()
        .map(|e| (e.line, e.col, e.message))
        .collect();
    let mut parser = Parser {
        file,
        config: Config {
            settings: Settings::default(),
            targets: Vec::new(),
            rules: Vec::new(),
            warnings: Vec::new(),
        },
        settings_seen: Vec::new(),
    };
    for line in &lines {
        if let Err(e) = parser.statement(line) {
            diagnostics.push((e.line, e.col, e.message));
        }
    }
    // `auto` is the journal only where no syslog socket was named.
    if parser.settings_seen.iter().any(|s| s == "syslog-socket")
        && parser.config.settings.journal == Journal::Auto
    {
        parser.config.settings.journal = Journal::No;
    }
    let warnings = super::warn::warnings(file, &parser.config);
    if diagnostics.is_empty() {
        let mut config = parser.config;
        config.warnings = warnings.into_iter().map(|(_, w)| w).collect();
        return Ok(config);
    }
    let mut all: Vec<(u32, u32, String)> = diagnostics
        .into_iter()
        .map(|(line, col, message)| match col {
            0 => (line, col, format!("{file}:{line}: {message}")),
            _ => (line, col, format!("{file}:{line}:{col}: {message}")),
        })
        .collect();
    // Warnings of the statements that did parse, among the errors by line.
    all.extend(warnings.into_iter().map(|(line, w)| (line, u32::MAX, w)));
    all.sort_by_key(|(line, col, _)| (*line, *col));
    Err(all.into_iter().map(|(_, _, text)| text).collect())
}

struct ParseError {
    line: u32,
    col: u32,
    message: String,
}

type Parsed<T> = std::result::Result<T, ParseError>;

fn at(word: &Word, message: impl Into<String>) -> ParseError {
    ParseError {
        line: word.line,
        col: word.col,
        message: message.into(),
    }
}

/// The words of one statement, consumed left to right.
struct Words<'a> {
    words: &'a [Word],
    next: usize,
}

impl<'a> Words<'a> {
    fn peek(&self) -> Option<&'a Word> {
        self.words.get(self.next)
    }
    fn take(&mut self) -> Option<&'a Word> {
        let word = self.words.get(self.next);
        self.next += usize::from(word.is_some());
        word
    }
    /// The next word, which `what` describes for the error when it is missing.
    fn expect(&mut self, what: &str) -> Parsed<&'a Word> {
        let last = &self.words[self.words.len() - 1];
        self.take().ok_or_else(|| ParseError {
            line: last.line,
            col: last.col + u32::try_from(last.text.chars().count()).unwrap_or(0) + 1,
            message: format!("missing {what}"),
        })
    }
    /// An unquoted keyword, or `None` for a quoted word.
    fn keyword(word: &Word) -> Option<&str> {
        (!word.quoted).then_some(word.text.as_str())
    }
}

struct Parser<'f> {
    file: &'f str,
    config: Config,
    settings_seen: Vec<String>,
}

impl Parser<'_> {
    fn statement(&mut self, line: &Line) -> Parsed<()> {
        let mut words = Words {
            words: &line.words,
            next: 0,
        };
        let first = words.expect("statement")?;
        match Words::keyword(first) {
            Some("target") => self.target(first, &mut words),
            Some("permit") => self.rule(first, Action::Permit, &mut words),
            Some("deny") => self.rule(first, Action::Deny, &mut words),
            Some("set") => self.setting(&mut words),
            _ => Err(at(
                first,
                format!(
                    "unknown statement \"{}\" (expected target, permit, deny or set)",
                    first.text
                ),
            )),
        }
    }

    fn origin(&self, word: &Word) -> Origin {
        Origin {
            file: self.file.to_string(),
            line: word.line,
        }
    }

    fn setting(&mut self, words: &mut Words) -> Parsed<()> {
        let name = words.expect("setting name")?;
        let value = words.expect("setting value")?;
        if let Some(extra) = words.take() {
            return Err(at(extra, "unexpected word after the setting's value"));
        }
        let repeatable = name.text == "trusted-ca";
        if !repeatable && self.settings_seen.contains(&name.text) {
            return Err(at(name, format!("{} is set twice", name.text)));
        }
        let settings = &mut self.config.settings;
        match name.text.as_str() {
            "trusted-ca" => {
                let ca = fingerprint(value, &value.text)?;
                if settings.trusted_ca.contains(&ca) {
                    return Err(at(value, format!("trusted-ca {ca} is listed twice")));
                }
                settings.trusted_ca.push(ca);
            }
            "syslog-socket" => settings.syslog_socket = absolute_path(value)?.into(),
            "audit-state" => settings.audit_state = absolute_path(value)?.into(),
            "syslog-facility" => {
                settings.syslog_facility = Facility::from_name(&value.text)
                    .ok_or_else(|| at(value, format!("unknown syslog facility \"{}\"", value.text)))?
            }
            "max-command-bytes" => {
                settings.max_command_bytes = match value.text.parse::<usize>() {
                    Ok(n) if (16..=MAX_COMMAND_BYTES).contains(&n) => n,
                    _ => {
                        return Err(at(
                            value,
                            format!("max-command-bytes must be a number from 16 to {MAX_COMMAND_BYTES}"),
                        ))
                    }
                }
            }
            "journal" => settings.journal = journal(value)?,
            "journal-socket" => settings.journal_socket = absolute_path(value)?.into(),
            "record-dir" => settings.record_dir = absolute_path(value)?.into(),
            "record-max-bytes" => {
                settings.record_max_bytes = match value.text.parse::<u64>() {
                    Ok(n) if (MIN_RECORD_BYTES..=MAX_RECORD_BYTES).contains(&n) => n,
                    _ => {
                        return Err(at(
                            value,
                            format!("record-max-bytes must be a number of bytes from {MIN_RECORD_BYTES} to {MAX_RECORD_BYTES}"),
                        ))
                    }
                }
            }
            _ => {
                return Err(at(
                    name,
                    format!(
                        "unknown setting \"{}\" (expected syslog-socket, syslog-facility, max-command-bytes, journal, journal-socket, record-dir, record-max-bytes, trusted-ca or audit-state)",
                        name.text
                    ),
                ))
            }
        }
        // Records go to one place: the journal, or the syslog socket named.
        let other = match name.text.as_str() {
            "journal" => "syslog-socket",
            "syslog-socket" => "journal",
            _ => "",
        };
        if self.settings_seen.iter().any(|s| s == other) && settings.journal == Journal::Yes {
            return Err(at(
                name,
                "\"set journal yes\" and \"set syslog-socket\" exclude each other",
            ));
        }
        self.settings_seen.push(name.text.clone());
        Ok(())
    }

    /// `target NAME KIND ARGS [OPTION...]`.
    fn target(&mut self, keyword: &Word, words: &mut Words) -> Parsed<()> {
        let name = self.target_name(words)?;
        let kind = target_kind(words)?;
        let mut target = Target {
            name: name.text.clone(),
            origin: self.origin(keyword),
            kind,
            user: None,
            cwd: None,
            env: Vec::new(),
            ns: None,
        };
        target_options(&mut target, words)?;
        self.config.targets.push(target);
        Ok(())
    }

    /// A target's name: valid, and not defined before.
    fn target_name<'a>(&self, words: &mut Words<'a>) -> Parsed<&'a Word> {
        let name = words.expect("target name")?;
        if !is_name(&name.text) {
            return Err(at(
                name,
                format!(
                    "invalid target name \"{}\" (letters, digits, '.', '_' and '-', at most 64)",
                    name.text
                ),
            ));
        }
        if super::names::RESERVED_TARGETS.contains(&name.text.as_str()) {
            return Err(at(
                name,
                format!(
                    "target name \"{}\" is reserved for nsgate {} (nsgate(8))",
                    name.text, name.text
                ),
            ));
        }
        if self.config.target(&name.text).is_some() {
            return Err(at(name, format!("target {} is defined twice", name.text)));
        }
        Ok(name)
    }

    /// `permit|deny WHO on TARGETS [OPTION...] cmd WORD...|shell`.
    fn rule(&mut self, keyword: &Word, action: Action, words: &mut Words) -> Parsed<()> {
        let who = who(words
            .expect("who the rule is for (key label, SHA256 fingerprint, principal:NAME or *)")?)?;
        let on = words.expect("\"on\"")?;
        if Words::keyword(on) != Some("on") {
            return Err(at(
                on,
                format!("expected \"on\" after who, found \"{}\"", on.text),
            ));
        }
        let targets = self.targets(words.expect("target name, list or *")?)?;
        let mut rule = Rule {
            origin: self.origin(keyword),
            action,
            who,
            targets,
            as_user: None,
            ns: None,
            timeout: None,
            tty: false,
            detach: false,
            cwd: None,
            env: Vec::new(),
            redact: Vec::new(),
            record: None,
            what: RuleCommand::Everything,
        };
        rule_tail(&mut rule, on, words)?;
        self.config.rules.push(rule);
        Ok(())
    }

    fn targets(&self, word: &Word) -> Parsed<Targets> {
        if word.text == "*" && !word.quoted {
            return Ok(Targets::All);
        }
        let mut names = Vec::new();
        for name in list_items(word)? {
            if name == "*" {
                return Err(at(word, format!("invalid target list \"{}\"", word.text)));
            }
            if self.config.target(name).is_none() {
                return Err(at(
                    word,
                    format!("unknown target \"{name}\" (define it with a target line before rules that name it)"),
                ));
            }
            names.push(name.to_string());
        }
        Ok(Targets::Names(names))
    }
}

/// The largest `max-command-bytes`: with every other field at its bound, a
/// record stays under the 8000 bytes of nsgate(8) AUDIT.
pub(super) const MAX_COMMAND_BYTES: usize = 6144;

/// `record-max-bytes` bounds: room for the header, and 1 TiB.
const MIN_RECORD_BYTES: u64 = 4096;
const MAX_RECORD_BYTES: u64 = 1 << 40;

/// Options given at most once per statement.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn once(&mut self, word: &Word) -> Parsed<()> {
        if self.0.contains(&word.text) {
            return Err(at(word, format!("option \"{}\" given twice", word.text)));
        }
        self.0.push(word.text.clone());
        Ok(())
    }
}

/// A target's KIND and the container, machine or pid file it names.
fn target_kind(words: &mut Words) -> Parsed<TargetKind> {
    let kind_word = words.expect("target kind (docker, podman, containerd, pidfile or nspawn)")?;
    Ok(match kind_word.text.as_str() {
        "docker" | "podman" => container_kind(kind_word.text == "docker", words)?,
        "containerd" => containerd_kind(words)?,
        "pidfile" => TargetKind::Pidfile {
            path: absolute_path(words.expect("pid file path")?)?.into(),
        },
        "nspawn" => {
            let machine = words.expect("machine name")?;
            runtime_name(machine, NameKind::Machine, &machine.text)?;
            TargetKind::Nspawn {
                machine: machine.text.clone(),
            }
        }
        _ => {
            return Err(at(
                kind_word,
                format!(
                    "unknown target kind \"{}\" (expected docker, podman, containerd, pidfile or nspawn)",
                    kind_word.text
                ),
            ))
        }
    })
}

/// `docker CONTAINER` or `podman CONTAINER`, at the runtime's default socket.
fn container_kind(docker: bool, words: &mut Words) -> Parsed<TargetKind> {
    let container = words.expect("container name or id")?;
    let kind = if docker {
        NameKind::DockerContainer
    } else {
        NameKind::PodmanContainer
    };
    runtime_name(container, kind, &container.text)?;
    let container = container.text.clone();
    Ok(if docker {
        TargetKind::Docker {
            container,
            socket: "/var/run/docker.sock".into(),
        }
    } else {
        TargetKind::Podman {
            container,
            socket: "/run/podman/podman.sock".into(),
        }
    })
}

/// `containerd NAMESPACE/ID`, at containerd's default state directory.
fn containerd_kind(words: &mut Words) -> Parsed<TargetKind> {
    let spec = words.expect("NAMESPACE/ID")?;
    let (namespace, id) = spec.text.split_once('/').ok_or_else(|| {
        at(
            spec,
            format!("invalid containerd NAMESPACE/ID \"{}\"", spec.text),
        )
    })?;
    runtime_name(spec, NameKind::ContainerdNamespace, namespace)?;
    runtime_name(spec, NameKind::ContainerdId, id)?;
    Ok(TargetKind::Containerd {
        namespace: namespace.to_string(),
        id: id.to_string(),
        state: "/run/containerd".into(),
    })
}

/// A target's options, some of them only for its kind; each once but `env`.
fn target_options(target: &mut Target, words: &mut Words) -> Parsed<()> {
    let mut seen = Seen::default();
    while let Some(option) = words.take() {
        let keyword = Words::keyword(option).unwrap_or("");
        if keyword != "env" {
            seen.once(option)?;
        }
        match (keyword, &mut target.kind) {
            ("socket", TargetKind::Docker { socket, .. } | TargetKind::Podman { socket, .. }) => {
                *socket = absolute_path(words.expect("socket path")?)?.into()
            }
            ("state", TargetKind::Containerd { state, .. }) => {
                *state = absolute_path(words.expect("state directory")?)?.into()
            }
            ("user", _) => target.user = Some(user_spec(words.expect("USER[:GROUP]")?)?),
            ("cwd", _) => target.cwd = Some(absolute_path(words.expect("directory")?)?),
            ("env", _) => target.env.push(env_var(words.expect("NAME=VALUE")?)?),
            ("ns", _) => target.ns = Some(ns_list(words.expect("namespace list")?)?),
            _ => {
                return Err(at(
                    option,
                    format!(
                        "unknown option \"{}\" for a {} target (expected {}user, cwd, env or ns)",
                        option.text,
                        target.kind.name(),
                        match target.kind {
                            TargetKind::Docker { .. } | TargetKind::Podman { .. } => "socket, ",
                            TargetKind::Containerd { .. } => "state, ",
                            _ => "",
                        }
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// A rule's options, then what it runs: a permit rule must say what.
fn rule_tail<'a>(rule: &mut Rule, on: &'a Word, words: &mut Words<'a>) -> Parsed<()> {
    let action = rule.action;
    let mut seen = Seen::default();
    let mut options: Vec<&Word> = Vec::new();
    loop {
        let Some(word) = words.take() else {
            if action == Action::Permit {
                let last = options.last().copied().unwrap_or(on);
                return Err(at(
                    last,
                    "a permit rule must end with \"cmd WORD...\" or \"shell\"",
                ));
            }
            return Ok(());
        };
        let keyword = Words::keyword(word).unwrap_or("");
        match keyword {
            "cmd" => {
                rule.what = RuleCommand::Cmd(pattern(word, words)?);
                return Ok(());
            }
            "shell" if action == Action::Permit => {
                shell_alone(words, &options)?;
                rule.what = RuleCommand::Shell;
                return Ok(());
            }
            _ if action == Action::Deny => {
                return Err(at(
                    word,
                    format!("unexpected \"{}\": a deny rule takes only \"cmd WORD...\" after the targets", word.text),
                ))
            }
            "as" | "ns" | "timeout" | "tty" | "detach" | "cwd" | "env" | "redact" | "record" => {
                if keyword != "env" && keyword != "redact" {
                    seen.once(word)?;
                }
                options.push(word);
                rule_option(rule, keyword, words)?;
            }
            _ => {
                return Err(at(
                    word,
                    format!(
                        "unknown option \"{}\" (expected as, ns, timeout, tty, detach, cwd, env, redact, record, then cmd or shell)",
                        word.text
                    ),
                ))
            }
        }
    }
}

/// One rule option and its value, if it takes one.
fn rule_option(rule: &mut Rule, keyword: &str, words: &mut Words) -> Parsed<()> {
    match keyword {
        "as" => rule.as_user = Some(user_spec(words.expect("USER[:GROUP]")?)?),
        "ns" => rule.ns = Some(ns_list(words.expect("namespace list")?)?),
        "timeout" => rule.timeout = Some(duration(words.expect("DURATION")?)?),
        "tty" => rule.tty = true,
        "detach" => rule.detach = true,
        "cwd" => rule.cwd = Some(absolute_path(words.expect("directory")?)?),
        "redact" => rule.redact.push(redact_glob(words.expect("GLOB")?)?),
        "record" => {
            // `record input`: an unquoted `input` is the option's, never a
            // program (a command follows `cmd`).
            let input = words
                .peek()
                .is_some_and(|w| Words::keyword(w) == Some("input"));
            if input {
                words.take();
            }
            rule.record = Some(if input {
                RecordMode::WithInput
            } else {
                RecordMode::Output
            });
        }
        _ => rule.env.push(env_var(words.expect("NAME=VALUE")?)?),
    }
    Ok(())
}

/// `shell` ends the rule, and a shell rule takes only `as` and `timeout`.
fn shell_alone(words: &mut Words, options: &[&Word]) -> Parsed<()> {
    if let Some(extra) = words.take() {
        return Err(at(extra, "unexpected word after \"shell\""));
    }
    if let Some(option) = options
        .iter()
        .find(|o| !matches!(o.text.as_str(), "as" | "cwd" | "timeout" | "record"))
    {
        return Err(at(
            option,
            format!(
                "option \"{}\" is not allowed in a shell rule (only as, cwd, timeout and record)",
                option.text
            ),
        ));
    }
    Ok(())
}

fn pattern(cmd: &Word, words: &mut Words) -> Parsed<Pattern> {
    let mut pattern = Pattern {
        words: Vec::new(),
        rest: false,
    };
    while let Some(word) = words.take() {
        if !word.quoted && word.text == "..." {
            if pattern.words.is_empty() {
                return Err(at(word, "\"...\" cannot stand for the program"));
            }
            if let Some(after) = words.peek() {
                return Err(at(after, "\"...\" must be the last word of the command"));
            }
            pattern.rest = true;
            break;
        }
        pattern
            .words
            .push(if !word.quoted && glob::is_glob(&word.text) {
                PatternWord::Glob(word.text.clone())
            } else {
                PatternWord::Literal(word.text.clone())
            });
    }
    if pattern.words.is_empty() {
        return Err(at(cmd, "\"cmd\" needs at least the program"));
    }
    Ok(pattern)
}

/// The items of a comma list, none of them empty (`alice, bob` is two words).
fn list_items(word: &Word) -> Parsed<Vec<&str>> {
    let items: Vec<&str> = word.text.split(',').collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err(at(
            word,
            format!(
                "empty item in the list \"{}\" (a comma list has no blanks)",
                word.text
            ),
        ));
    }
    Ok(items)
}

fn who(word: &Word) -> Parsed<Who> {
    if word.text == "*" && !word.quoted {
        return Ok(Who::Anyone);
    }
    let mut list = Vec::new();
    for item in list_items(word)? {
        if item.starts_with("SHA256:") {
            list.push(Principal::Fingerprint(fingerprint(word, item)?));
        } else if let Some(name) = item.strip_prefix("principal:") {
            if !crate::cert::is_principal(name) {
                return Err(at(
                    word,
                    format!("invalid principal \"{name}\" (1 to 255 bytes, no blank, comma or control character)"),
                ));
            }
            list.push(Principal::Certified(name.to_string()));
        } else if crate::identity::is_label(item) {
            list.push(Principal::Label(item.to_string()));
        } else {
            return Err(at(
                word,
                format!("invalid key label \"{item}\" (letters, digits, '.', '_', '-', '@', at most 64)"),
            ));
        }
    }
    Ok(Who::List(list))
}

/// A `SHA256:` fingerprint as `ssh-keygen -l` prints it: 32 bytes of
/// SHA-256 are 43 characters of unpadded base64.
fn fingerprint(word: &Word, item: &str) -> Parsed<String> {
    if !crate::identity::is_fingerprint(item) {
        return Err(at(
            word,
            format!("invalid fingerprint \"{item}\" (write it as ssh-keygen -l prints it)"),
        ));
    }
    Ok(item.to_string())
}

fn user_spec(word: &Word) -> Parsed<UserSpec> {
    let (user, group) = match word.text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (word.text.as_str(), None),
    };
    if !is_account_name(user) || !group.map_or(true, is_account_name) {
        return Err(at(word, format!("invalid USER[:GROUP] \"{}\"", word.text)));
    }
    Ok(UserSpec {
        user: user.to_string(),
        group: group.map(str::to_string),
    })
}

fn env_var(word: &Word) -> Parsed<EnvVar> {
    let (name, value) = word.text.split_once('=').ok_or_else(|| {
        at(
            word,
            format!("expected NAME=VALUE, found \"{}\"", word.text),
        )
    })?;
    let mut chars = name.chars();
    let good_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !good_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(at(
            word,
            format!("invalid environment variable name \"{name}\""),
        ));
    }
    Ok(EnvVar {
        name: name.to_string(),
        value: value.to_string(),
    })
}

/// `yes`, `no` or `auto`.
fn journal(word: &Word) -> Parsed<Journal> {
    match word.text.as_str() {
        "yes" => Ok(Journal::Yes),
        "no" => Ok(Journal::No),
        "auto" => Ok(Journal::Auto),
        other => Err(at(
            word,
            format!("journal must be yes, no or auto, not \"{other}\""),
        )),
    }
}

/// A `redact` glob: always a glob, quoted or not, and one that can match.
fn redact_glob(word: &Word) -> Parsed<String> {
    if word.text.is_empty() || word.text.len() > 1024 {
        return Err(at(word, "redact needs a GLOB of 1 to 1024 bytes"));
    }
    Ok(word.text.clone())
}

fn ns_list(word: &Word) -> Parsed<NsSet> {
    let mut set = NsSet::EMPTY;
    for name in list_items(word)? {
        let one = NsSet::from_name(name).ok_or_else(|| {
            at(
                word,
                format!(
                    "unknown namespace \"{name}\" (expected a comma list of {})",
                    NS_NAMES.join(", ")
                ),
            )
        })?;
        set = set.union(one);
    }
    Ok(set)
}

fn duration(word: &Word) -> Parsed<Duration> {
    let bad = || {
        at(
            word,
            format!(
                "invalid duration \"{}\" (a whole number then s, m or h, e.g. 30s)",
                word.text
            ),
        )
    };
    let text = &word.text;
    let unit = match text.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        _ => return Err(bad()),
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|s| (1..=MAX_TIMEOUT_SECONDS).contains(s))
        .ok_or_else(|| {
            at(
                word,
                format!("duration \"{text}\" out of range (1s to 30 days)"),
            )
        })?;
    Ok(Duration::from_secs(seconds))
}

const MAX_TIMEOUT_SECONDS: u64 = 30 * 24 * 3600;

fn absolute_path(word: &Word) -> Parsed<String> {
    if !word.text.starts_with('/') || word.text.len() > 1024 {
        return Err(at(
            word,
            format!("expected an absolute path, found \"{}\"", word.text),
        ));
    }
    Ok(word.text.clone())
}

/// Target names: what an admin would type, safe in messages and records.
pub(crate) fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A name the target's runtime must accept, checked exactly as resolution
/// checks it, so `--check` refuses what gate mode would.
fn runtime_name(word: &Word, kind: NameKind, name: &str) -> Parsed<()> {
    kind.check(name).map_err(|e| at(word, e.to_string()))
}

/// User and group names as useradd accepts them, or numbers.
fn is_account_name(s: &str) -> bool {
    let body = s.strip_suffix('$').unwrap_or(s);
    !body.is_empty()
        && s.len() <= 32
        && !body.starts_with('-')
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
