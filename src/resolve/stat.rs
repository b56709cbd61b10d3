//! The one reader of `/proc/PID/stat`: a process's state, parent and start
//! time, as the host's pid namespace sees them.
#![forbid(unsafe_code)]

use crate::system::{self, Pid};
use std::io::Read;

/// The start time (field 22) in `/proc/PID/stat` text of process `pid`:
/// with the pid, it names one process for as long as the system is up.
pub(crate) fn start_time(pid: Pid, stat: &[u8]) -> Option<u64> {
    parse_stat(pid, stat).map(|s| s.start_time)
}

/// Whether process `pid` is gone, or its pid now names a process that
/// started at another time than `start_time`; false when /proc cannot say.
pub(crate) fn gone_since(pid: Pid, start_time: u64) -> bool {
    match proc_stat(pid) {
        Ok(stat) => stat.start_time != start_time,
        Err(StatError::Gone) => true,
        Err(StatError::Unreadable(..) | StatError::Unparsable(..)) => false,
    }
}

/// The fields of `/proc/PID/stat` nsgate uses: those that tell one process
/// from a successor, and its parent (pids as the host sees them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `Z`, ...
    pub state: u8,
    /// Field 4; `None` (0) for a process whose parent is outside the host's
    /// pid namespace, or that has none.
    pub ppid: Option<Pid>,
    /// Field 22: clock ticks after boot; a reused pid has a later one.
    pub start_time: u64,
}

#[derive(Debug)]
pub(crate) enum StatError {
    /// No such process.
    Gone,
    Unreadable(Pid, std::io::Error),
    /// The text that is not a stat line of this pid.
    Unparsable(Pid, Vec<u8>),
}

impl std::fmt::Display for StatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatError::Gone => f.write_str("no such process"),
            StatError::Unreadable(pid, e) => write!(f, "cannot read /proc/{pid}/stat: {e}"),
            StatError::Unparsable(pid, text) => write!(
                f,
                "cannot parse /proc/{pid}/stat: {:?}",
                String::from_utf8_lossy(text)
            ),
        }
    }
}

pub(crate) fn proc_stat(pid: Pid) -> std::result::Result<ProcStat, StatError> {
    let path = format!("/proc/{pid}/stat");
    let file = std::fs::File::open(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => StatError::Gone,
        _ => StatError::Unreadable(pid, e),
    })?;
    let mut text = Vec::new();
    // The line is a few hundred bytes; the bound only guards the parser.
    match file.take(4096).read_to_end(&mut text) {
        Ok(_) => {}
        // The process was reaped between open and read.
        Err(e) if system::is_no_such_process(&e) => return Err(StatError::Gone),
        Err(e) => return Err(StatError::Unreadable(pid, e)),
    }
    parse_stat(pid, &text).ok_or(StatError::Unparsable(pid, text))
}

/// Parses `PID (COMM) STATE ...`; COMM may hold anything, blanks and
/// parentheses included, so the fields start after the last `)`.
fn parse_stat(pid: Pid, text: &[u8]) -> Option<ProcStat> {
    let prefix = format!("{pid} (");
    if !text.starts_with(prefix.as_bytes()) {
        return None;
    }
    let close = text.iter().rposition(|&b| b == b')')?;
    if close < prefix.len() - 1 {
        return None;
    }
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let rest = rest.strip_prefix(' ')?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 of proc(5), so field 22 is fields[19].
    let state = match fields.first()?.as_bytes() {
        [s] => *s,
        _ => return None,
    };
    let ppid = Pid::new(fields.get(1)?.parse().ok()?);
    let start_time = fields.get(19)?;
    if !start_time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(ProcStat {
        state,
        ppid,
        start_time: start_time.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(raw: i32) -> Pid {
        Pid::new(raw).unwrap()
    }

    #[test]
    fn stat_lines() {
        let tail =
            "S 1 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615";
        let line = |comm: &str| format!("42 ({comm}) {tail}\n");
        let want = Some(ProcStat {
            state: b'S',
            ppid: Pid::new(1),
            start_time: 98765,
        });
        for comm in ["sleep", "a b", "x) S 1 2 3 (y", ")", "((", ""] {
            assert_eq!(parse_stat(pid(42), line(comm).as_bytes()), want, "{comm:?}");
        }
        assert_eq!(parse_stat(pid(43), line("sleep").as_bytes()), None);
        assert_eq!(parse_stat(pid(42), b"42 (sleep) S 1 2"), None);
        assert_eq!(parse_stat(pid(42), b"42 (sleep"), None);
        assert_eq!(
            parse_stat(pid(42), format!("42 (sleep)S {tail}").as_bytes()),
            None
        );
        let bad = format!("42 (sleep) {}", tail.replace("98765", "9x"));
        assert_eq!(parse_stat(pid(42), bad.as_bytes()), None);
    }

    #[test]
    fn own_stat_is_stable() {
        let me = system::getpid();
        let a = proc_stat(me).ok().unwrap();
        let b = proc_stat(me).ok().unwrap();
        assert_eq!(a, b);
        assert!(matches!(a.state, b'R' | b'S'));
        assert_eq!(a.ppid, system::getppid());
    }
}
