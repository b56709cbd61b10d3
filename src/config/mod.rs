//! The configuration of nsgate.conf(5): targets, rules and settings, as parsed
//! from `/etc/nsgate.conf`. Parsing is in `parse`, safety checks of the file in
//! `load`.
#![forbid(unsafe_code)]

pub(crate) mod glob;
mod lex;
mod load;
mod names;
mod parse;
mod warn;

#[cfg(test)]
mod tests;

pub(crate) use load::load;
pub(crate) use names::{InvalidName, NameKind};
pub(crate) use parse::parse;
// A request names its target by the same rule (nsgate(8) THE REQUEST).
pub(crate) use parse::is_name;
pub(crate) use warn::check_warnings;

use std::path::PathBuf;
use std::time::Duration;

/// Where a rule or target was written, for `FILE:LINE` in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub file: String,
    pub line: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub settings: Settings,
    pub targets: Vec<Target>,
    /// In file order; the last matching rule decides.
    pub rules: Vec<Rule>,
    /// `FILE:LINE: warning: ...` lines for `--check` (nsgate.conf(5)
    /// DIAGNOSTICS).
    pub warnings: Vec<String>,
}

impl Config {
    pub(crate) fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub syslog_socket: PathBuf,
    pub syslog_facility: Facility,
    pub max_command_bytes: usize,
    /// Whether records go by journald's native protocol (`set journal`).
    pub journal: Journal,
    /// journald's native socket (`set journal-socket`).
    pub journal_socket: PathBuf,
    /// Where `record` rules write their sessions (`record-dir`).
    pub record_dir: PathBuf,
    /// A recording's largest size in bytes (`record-max-bytes`).
    pub record_max_bytes: u64,
    /// `SHA256:` fingerprints of the CAs whose certificates principal rules
    /// match (`set trusted-ca`, repeatable).
    pub trusted_ca: Vec<String>,
    /// Where the audit hash chain's state lives (nsgate(8) AUDIT).
    pub audit_state: PathBuf,
}

/// `set journal yes|no|auto` (nsgate.conf(5), "Settings").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Journal {
    Yes,
    No,
    /// The journal when its socket exists, unless `syslog-socket` is set.
    Auto,
}

/// journald's native protocol socket on every systemd host.
pub(crate) const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            syslog_socket: PathBuf::from("/dev/log"),
            syslog_facility: Facility::Authpriv,
            max_command_bytes: 4096,
            journal: Journal::Auto,
            journal_socket: PathBuf::from(JOURNAL_SOCKET),
            record_dir: PathBuf::from("/var/log/nsgate/sessions"),
            record_max_bytes: 64 << 20,
            trusted_ca: Vec::new(),
            audit_state: PathBuf::from("/var/lib/nsgate"),
        }
    }
}

/// Syslog facilities by their names in syslog.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Facility {
    Kern,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Authpriv,
    Ftp,
    Local(u8),
}

impl Facility {
    pub(crate) fn from_name(name: &str) -> Option<Facility> {
        Some(match name {
            "kern" => Facility::Kern,
            "user" => Facility::User,
            "mail" => Facility::Mail,
            "daemon" => Facility::Daemon,
            "auth" => Facility::Auth,
            "syslog" => Facility::Syslog,
            "lpr" => Facility::Lpr,
            "news" => Facility::News,
            "uucp" => Facility::Uucp,
            "cron" => Facility::Cron,
            "authpriv" => Facility::Authpriv,
            "ftp" => Facility::Ftp,
            _ => {
                let n = name.strip_prefix("local")?;
                if n.len() != 1 {
                    return None;
                }
                let n = n.parse::<u8>().ok().filter(|n| *n <= 7)?;
                Facility::Local(n)
            }
        })
    }

    /// The facility code of RFC 3164 (not yet multiplied by 8).
    pub(crate) fn code(self) -> u8 {
        match self {
            Facility::Kern => 0,
            Facility::User => 1,
            Facility::Mail => 2,
            Facility::Daemon => 3,
            Facility::Auth => 4,
            Facility::Syslog => 5,
            Facility::Lpr => 6,
            Facility::News => 7,
            Facility::Uucp => 8,
            Facility::Cron => 9,
            Facility::Authpriv => 10,
            Facility::Ftp => 11,
            Facility::Local(n) => 16 + n,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub name: String,
    pub origin: Origin,
    pub kind: TargetKind,
    pub user: Option<UserSpec>,
    pub cwd: Option<String>,
    pub env: Vec<EnvVar>,
    pub ns: Option<NsSet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetKind {
    /// Docker Engine API; `socket` defaults to /var/run/docker.sock.
    Docker {
        container: String,
        socket: PathBuf,
    },
    /// The same API served by `podman system service`; default /run/podman/podman.sock.
    Podman {
        container: String,
        socket: PathBuf,
    },
    /// `STATE/io.containerd.runtime.v2.task/NAMESPACE/ID/init.pid`.
    Containerd {
        namespace: String,
        id: String,
        state: PathBuf,
    },
    Pidfile {
        path: PathBuf,
    },
    /// `LEADER=` in /run/systemd/machines/MACHINE.
    Nspawn {
        machine: String,
    },
}

impl TargetKind {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            TargetKind::Docker { .. } => "docker",
            TargetKind::Podman { .. } => "podman",
            TargetKind::Containerd { .. } => "containerd",
            TargetKind::Pidfile { .. } => "pidfile",
            TargetKind::Nspawn { .. } => "nspawn",
        }
    }
}

/// `USER[:GROUP]`, names or numbers, resolved later inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserSpec {
    pub user: String,
    pub group: Option<String>,
}

impl std::fmt::Display for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.group {
            Some(g) => write!(f, "{}:{}", self.user, g),
            None => f.write_str(&self.user),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvVar {
    pub name: String,
    pub value: String,
}

/// A set of namespace types (nsgate.conf(5), "Namespace lists"): bit `i`
/// is the type in row `i` of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct NsSet(u8);

/// Namespace types in the order nsgate names them: the names of the one
/// table, [`crate::system::NAMESPACES`], which holds their flags too.
pub(crate) const NS_NAMES: [&str; crate::system::NAMESPACES.len()] = {
    let mut names = [""; crate::system::NAMESPACES.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = crate::system::NAMESPACES[i].name;
        i += 1;
    }
    names
};

// An `NsSet` has one bit per namespace type.
const _: () = assert!(NS_NAMES.len() <= u8::BITS as usize);

impl NsSet {
    pub(crate) const ALL: NsSet = NsSet(0xff);
    pub(crate) const EMPTY: NsSet = NsSet(0);

    pub(crate) fn from_name(name: &str) -> Option<NsSet> {
        NS_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| NsSet(1 << i))
    }
    pub(crate) fn contains(self, other: NsSet) -> bool {
        self.0 & other.0 == other.0
    }
    pub(crate) fn union(self, other: NsSet) -> NsSet {
        NsSet(self.0 | other.0)
    }
    pub(crate) fn intersect(self, other: NsSet) -> NsSet {
        NsSet(self.0 & other.0)
    }
    /// The names in this set, in `NS_NAMES` order.
    pub(crate) fn names(self) -> impl Iterator<Item = &'static str> {
        NS_NAMES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| *n)
    }
}

impl std::fmt::Display for NsSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.names().collect();
        f.write_str(&names.join(","))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Permit,
    Deny,
}

/// Who a rule is for (nsgate.conf(5), "Rules").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Who {
    Anyone,
    /// Key labels, `SHA256:` fingerprints and `principal:NAME`, any of
    /// which matches.
    List(Vec<Principal>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Principal {
    Label(String),
    /// The full `SHA256:...` text, compared exactly.
    Fingerprint(String),
    /// `principal:NAME`: a principal of a certificate from a trusted CA.
    Certified(String),
}

impl std::fmt::Display for Principal {
    /// As the configuration writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Label(s) | Principal::Fingerprint(s) => f.write_str(s),
            Principal::Certified(name) => write!(f, "principal:{name}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Targets {
    All,
    Names(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub origin: Origin,
    pub action: Action,
    pub who: Who,
    pub targets: Targets,
    pub as_user: Option<UserSpec>,
    pub ns: Option<NsSet>,
    pub timeout: Option<Duration>,
    pub tty: bool,
    /// Background processes may outlive the session (`detach`).
    pub detach: bool,
    /// The working directory, over the target's `cwd`.
    pub cwd: Option<String>,
    pub env: Vec<EnvVar>,
    /// `redact GLOB`: arguments written hashed in audit records.
    pub redact: Vec<String>,
    /// The session is recorded (`record`, `record input`).
    pub record: Option<RecordMode>,
    pub what: RuleCommand,
}

/// What a `record` rule writes to the recording besides the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordMode {
    Output,
    /// `record input`: what the client typed too.
    WithInput,
}

/// What a rule's command part permits or denies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuleCommand {
    /// `deny` without `cmd`: every request, interactive included.
    Everything,
    /// `shell`: an interactive session.
    Shell,
    Cmd(Pattern),
}

/// The words after `cmd` (nsgate.conf(5), "Command patterns").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    pub words: Vec<PatternWord>,
    /// A trailing `...`: any number of further arguments.
    pub rest: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternWord {
    Literal(String),
    /// A word with `*`, `?` or `[...]`, kept as written.
    Glob(String),
}

impl PatternWord {
    pub(crate) fn text(&self) -> &str {
        match self {
            PatternWord::Literal(s) | PatternWord::Glob(s) => s,
        }
    }
}

/// A word as it would be written in the configuration, quoted when it must be.
fn config_word(text: &str, literal: bool) -> String {
    let plain = !text.is_empty()
        && !text.contains([' ', '\t', '#', '"', '\\'])
        && !(literal && (glob::is_glob(text) || text == "..."));
    if plain {
        return text.to_string();
    }
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A duration as the configuration writes it: `2h`, `5m` or `30s`.
pub(crate) fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s % 3600 == 0 => format!("{}h", s / 3600),
        _ if s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

impl std::fmt::Display for Rule {
    /// The rule as it would be written in the configuration.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.action {
            Action::Permit => "permit",
            Action::Deny => "deny",
        })?;
        match &self.who {
            Who::Anyone => f.write_str(" *")?,
            Who::List(list) => {
                let items: Vec<String> = list.iter().map(Principal::to_string).collect();
                write!(f, " {}", items.join(","))?;
            }
        }
        match &self.targets {
            Targets::All => f.write_str(" on *")?,
            Targets::Names(names) => write!(f, " on {}", names.join(","))?,
        }
        if let Some(user) = &self.as_user {
            write!(f, " as {user}")?;
        }
        if let Some(ns) = self.ns {
            write!(f, " ns {ns}")?;
        }
        if let Some(timeout) = self.timeout {
            write!(f, " timeout {}", duration_text(timeout))?;
        }
        if self.tty {
            f.write_str(" tty")?;
        }
        if self.detach {
            f.write_str(" detach")?;
        }
        if let Some(cwd) = &self.cwd {
            write!(f, " cwd {}", config_word(cwd, false))?;
        }
        for var in &self.env {
            write!(
                f,
                " env {}",
                config_word(&format!("{}={}", var.name, var.value), false)
            )?;
        }
        for glob in &self.redact {
            write!(f, " redact {}", config_word(glob, false))?;
        }
        match self.record {
            Some(RecordMode::Output) => f.write_str(" record")?,
            Some(RecordMode::WithInput) => f.write_str(" record input")?,
            None => {}
        }
        match &self.what {
            RuleCommand::Everything => Ok(()),
            what => write!(f, " {what}"),
        }
    }
}

impl std::fmt::Display for RuleCommand {
    /// `shell` or `cmd WORD...` as the configuration writes it; nothing for
    /// [`RuleCommand::Everything`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleCommand::Everything => Ok(()),
            RuleCommand::Shell => f.write_str("shell"),
            RuleCommand::Cmd(pattern) => {
                f.write_str("cmd")?;
                for word in &pattern.words {
                    let text = match word {
                        PatternWord::Literal(s) => config_word(s, true),
                        PatternWord::Glob(s) => s.clone(),
                    };
                    write!(f, " {text}")?;
                }
                if pattern.rest {
                    f.write_str(" ...")?;
                }
                Ok(())
            }
        }
    }
}

/// What a permitting rule gives on its target: the rule's options where it
/// sets them, else the target's defaults (nsgate.conf(5), "Targets").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Effective<'a> {
    pub user: Option<&'a UserSpec>,
    pub ns: Option<NsSet>,
    pub cwd: Option<&'a str>,
    /// Target `env` first, then the rule's, so the rule's win.
    pub env: Vec<EnvVar>,
    /// The client may have a terminal: `shell`, or `cmd` with `tty`.
    pub tty: bool,
}

impl Rule {
    pub(crate) fn effective<'a>(&'a self, target: &'a Target) -> Effective<'a> {
        Effective {
            user: self.as_user.as_ref().or(target.user.as_ref()),
            ns: self.ns.or(target.ns),
            cwd: self.cwd.as_deref().or(target.cwd.as_deref()),
            env: target.env.iter().chain(&self.env).cloned().collect(),
            tty: self.tty || self.what == RuleCommand::Shell,
        }
    }
}
