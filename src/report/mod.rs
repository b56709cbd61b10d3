//! `nsgate log`, the auditor's report (nsgate(8) LOG REPORT): nsgate's
//! records found among the other lines of syslog files, one line (or JSON
//! object) per session, and with `--verify` the check of their hash chain.
//!
//! It streams: a line at a time (at most `MAX_LINE` bytes of it), so memory
//! does not grow with the files; only sessions waiting for their exit
//! record are kept, within the bounds of `pair`.
#![forbid(unsafe_code)]

mod input;
mod line;
mod pair;
mod record;
mod show;
mod verify;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;

use line::{Line, Stamp};
use pair::{Pairing, Rec, Session};
use show::View;
use verify::Verifier;

const DEFAULT_LOG: &str = "/var/log/auth.log";

const USAGE: &str = "usage: nsgate log [--json] [--key LABEL] [--target NAME] [--sid SID]
                  [--since TIME] [--until TIME] [--denied | --unpaired] [FILE...]
       nsgate log --verify [--state DIR] [FILE...]
FILE is a syslog file (gzip or not; - for stdin), oldest first; default /var/log/auth.log.
TIME is YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM], UTC when no zone is given.";

/// Exit status when records are malformed or the chain is broken.
const EXIT_FOUND: i32 = 1;
/// Exit status of a usage error or a file that cannot be read.
const EXIT_TROUBLE: i32 = 2;

/// What the command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    files: Vec<OsString>,
    key: Option<String>,
    target: Option<String>,
    sid: Option<String>,
    since: Option<Stamp>,
    until: Option<Stamp>,
    denied: bool,
    unpaired: bool,
    json: bool,
    verify: bool,
    state: Option<PathBuf>,
    help: bool,
}

impl Options {
    /// Whether a session is one the filters ask for.
    fn wants(&self, v: &View<'_>) -> bool {
        let is = |want: &Option<String>, name| {
            want.as_ref()
                .map_or(true, |w| v.bytes(name).as_deref() == Some(w.as_bytes()))
        };
        let start = v.start();
        is(&self.key, "key")
            && is(&self.target, "target")
            && self.sid.as_deref().map_or(true, |s| s == v.sid())
            && self.since.map_or(true, |t| start >= t)
            && self.until.map_or(true, |t| start < t)
            && (!self.denied || v.session.main().kind == record::Kind::Deny)
            && (!self.unpaired || v.session.is_unpaired())
    }
}

/// Parses the words after `log`.
fn parse_options(args: Vec<OsString>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut words = args.into_iter();
    let mut options_done = false;
    while let Some(word) = words.next() {
        let text = word.to_str().map(str::to_string);
        let Some(flag) = text.filter(|t| !options_done && t.starts_with("--")) else {
            o.files.push(word);
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => words
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or(format!("{name} needs a value")),
            }
        };
        let time = |v: String| line::parse_time(&v).ok_or(format!("{name}: bad time \"{v}\""));
        match name.as_str() {
            "--" if inline.is_none() => options_done = true,
            "--key" => o.key = Some(value()?),
            "--target" => o.target = Some(value()?),
            "--sid" => o.sid = Some(value()?),
            "--since" => o.since = Some(time(value()?)?),
            "--until" => o.until = Some(time(value()?)?),
            "--state" => o.state = Some(PathBuf::from(value()?)),
            flag if inline.is_some() => return Err(format!("{flag} takes no value")),
            "--denied" => o.denied = true,
            "--unpaired" => o.unpaired = true,
            "--json" => o.json = true,
            "--verify" => o.verify = true,
            "--help" => o.help = true,
            other => return Err(format!("unknown option \"{other}\"")),
        }
    }
    let filtered = o.key.is_some()
        || o.target.is_some()
        || o.sid.is_some()
        || o.since.is_some()
        || o.until.is_some()
        || o.denied
        || o.unpaired
        || o.json;
    if o.verify && filtered {
        return Err("--verify checks every record: it takes no filter and no --json".into());
    }
    if o.state.is_some() && !o.verify {
        return Err("--state goes with --verify".into());
    }
    if o.denied && o.unpaired {
        return Err("give only one of --denied and --unpaired".into());
    }
    if o.files.is_empty() {
        o.files.push(DEFAULT_LOG.into());
    }
    Ok(o)
}

/// `nsgate log ARGS`; its exit status.
pub(crate) fn main(args: Vec<OsString>) -> i32 {
    let options = match parse_options(args) {
        Ok(o) if o.help => {
            crate::output::stderr(&format!("{USAGE}\n\nSee nsgate(8) LOG REPORT.\n"));
            return 0;
        }
        Ok(o) => o,
        Err(why) => {
            crate::output::error_line(&format!("log: {why}"));
            crate::output::stderr(&format!("{USAGE}\n"));
            return EXIT_TROUBLE;
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let code = match Report::new(&options).run(&mut out) {
        Ok(code) => code,
        Err(Trouble::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => return 0,
        Err(why) => {
            crate::output::error_line(&format!("log: {why}"));
            return EXIT_TROUBLE;
        }
    };
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            crate::output::error_line(&format!("log: cannot write the report: {e}"));
            EXIT_TROUBLE
        }
        _ => code,
    }
}

/// Why the report stopped.
#[derive(Debug)]
enum Trouble {
    /// A file, by name, that could not be opened or read.
    Input(String, io::Error),
    Output(io::Error),
    State(String),
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trouble::Input(file, e) => write!(f, "{file}: {}", crate::error::os_message(e)),
            Trouble::Output(e) => write!(f, "cannot write the report: {e}"),
            Trouble::State(why) => f.write_str(why),
        }
    }
}

/// The record just read: its file and line, and its fields.
type Current<'a> = ((usize, u64), &'a [(&'a str, crate::audit::Raw<'a>)]);

/// What shows a session: the options and the files' names.
struct Printer<'o> {
    options: &'o Options,
    /// The files' names as messages and `--json` give them.
    names: Vec<String>,
}

impl Printer<'_> {
    /// Shows `session`; `current` is the fields of the record just read,
    /// which are its main record's when that is the last of it.
    fn show(
        &self,
        session: &Session,
        current: Option<Current<'_>>,
        out: &mut impl Write,
    ) -> Result<(), Trouble> {
        let main = session.main();
        let view = match current {
            Some((at, fields)) if at == (main.file, main.line) => {
                View::with_fields(session, fields)
            }
            _ => View::new(session),
        };
        if !self.options.wants(&view) {
            return Ok(());
        }
        if self.options.json {
            let json = view.json(&self.names);
            serde_json::to_writer(&mut *out, &json).map_err(|e| Trouble::Output(e.into()))?;
            out.write_all(b"\n").map_err(Trouble::Output)
        } else {
            writeln!(out, "{}", view.text()).map_err(Trouble::Output)
        }
    }
}

/// One run over the files.
struct Report<'o> {
    options: &'o Options,
    printer: Printer<'o>,
    names: Vec<String>,
    now: Stamp,
    malformed: u64,
    records: u64,
    pairing: Pairing,
    verifier: Verifier,
}

impl<'o> Report<'o> {
    fn new(options: &'o Options) -> Report<'o> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let names: Vec<String> = options
            .files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        Report {
            options,
            printer: Printer {
                options,
                names: names.clone(),
            },
            names,
            now: Stamp(now),
            malformed: 0,
            records: 0,
            pairing: Pairing::default(),
            verifier: Verifier::default(),
        }
    }

    fn run(mut self, out: &mut impl Write) -> Result<i32, Trouble> {
        for index in 0..self.options.files.len() {
            let name = self.names[index].clone();
            let mut reader = input::open(&self.options.files[index])
                .map_err(|e| Trouble::Input(name.clone(), e))?;
            let mut number = 0u64;
            input::each_line(
                &mut *reader,
                |e| Trouble::Input(name.clone(), e),
                |line, long| {
                    number += 1;
                    self.line(index, number, line, long, out)
                },
            )?;
        }
        let pairing = std::mem::take(&mut self.pairing);
        let mut result = Ok(());
        let printer = &self.printer;
        pairing.finish(&mut |s| {
            if result.is_ok() {
                result = printer.show(&s, None, out);
            }
        });
        result?;
        self.finish(out)
    }

    /// One line of a file: another program's is passed over.
    fn line(
        &mut self,
        file: usize,
        number: u64,
        text: &[u8],
        long: bool,
        out: &mut impl Write,
    ) -> Result<(), Trouble> {
        let entry = match line::parse(text, self.now) {
            Line::Other => return Ok(()),
            Line::Bad(why) => {
                self.malformed(file, number, why);
                return Ok(());
            }
            Line::Nsgate(_) if long => {
                self.malformed(file, number, "line longer than any record");
                return Ok(());
            }
            Line::Nsgate(entry) => entry,
        };
        let Ok(message) = std::str::from_utf8(entry.message) else {
            self.malformed(file, number, "not UTF-8");
            return Ok(());
        };
        let checked = match record::check(message) {
            Ok(c) => c,
            Err(why) => {
                self.malformed(file, number, &why);
                return Ok(());
            }
        };
        self.records += 1;
        if self.options.verify {
            if let Some(problem) = self.verifier.add(entry.host, checked.chained) {
                let at = format!("{}:{number}", self.names[file]);
                writeln!(out, "{at}: {problem}").map_err(Trouble::Output)?;
            }
            return Ok(());
        }
        let rec = Rec {
            time: entry.time,
            host: entry.host.to_string(),
            file,
            line: number,
            pid: entry.pid,
            kind: checked.kind,
            message: message.to_string(),
        };
        let mut result = Ok(());
        let printer = &self.printer;
        let fields = &checked.fields[..];
        let paired = self.pairing.add(rec, checked.sid, &mut |s| {
            if result.is_ok() {
                result = printer.show(&s, Some(((file, number), fields)), out);
            }
        });
        if let Err(why) = paired {
            self.malformed(file, number, why);
        }
        result
    }

    /// Reports a line tagged nsgate that is not a record of nsgate's.
    fn malformed(&mut self, file: usize, number: u64, why: &str) {
        self.malformed += 1;
        crate::output::stderr(&format!(
            "{}:{number}: malformed nsgate record: {why}\n",
            self.names[file]
        ));
    }

    /// The end: the verdict of `--verify`, and the counts on stderr.
    fn finish(mut self, out: &mut impl Write) -> Result<i32, Trouble> {
        let mut found = self.malformed;
        if self.options.verify {
            if let Some(dir) = &self.options.state {
                let state =
                    crate::audit::chain_state(dir).map_err(|e| Trouble::State(e.to_string()))?;
                let verdict = self.verifier.against_state(&self.state_host(), &state);
                writeln!(out, "state {}: {verdict}", dir.display()).map_err(Trouble::Output)?;
            }
            for line in self.verifier.summary() {
                writeln!(out, "{line}").map_err(Trouble::Output)?;
            }
            found += self.verifier.problems;
            let verdict = match self.verifier.problems {
                0 if self.records > 0 => "intact".to_string(),
                0 => "no nsgate records".to_string(),
                n => format!("{n} problem(s)"),
            };
            writeln!(out, "{} records: {verdict}", self.records).map_err(Trouble::Output)?;
        }
        if self.pairing.evicted > 0 {
            crate::output::stderr(&format!(
                "nsgate log: {} allow records waited too long for their exit record and were shown unpaired\n",
                self.pairing.evicted
            ));
        }
        if self.malformed > 0 {
            crate::output::stderr(&format!(
                "nsgate log: {} malformed nsgate record(s)\n",
                self.malformed
            ));
        }
        Ok(if found > 0 { EXIT_FOUND } else { 0 })
    }

    /// The host whose records the state of this host is for: this host's
    /// name up to the first dot, as rsyslogd writes it.
    fn state_host(&self) -> String {
        crate::system::node_name()
            .map(|n| n.split('.').next().unwrap_or_default().to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
