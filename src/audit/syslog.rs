//! Sending records: the local `/dev/log` framing and a datagram socket that
//! fails closed (every error seen, a bounded wait, one reconnect).
#![forbid(unsafe_code)]

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::chain;
use super::record::{Event, Record};
use crate::config::{Facility, Settings};
use crate::error::{Error, Result};
use crate::system::{self, Pid};

/// No datagram, header included, is ever longer (nsgate(8) AUDIT). rsyslogd's
/// default message size limit is 8096.
pub(super) const MAX_RECORD_BYTES: usize = 8000;

/// How long one send may wait for a full socket before nsgate gives up.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

const TAG: &str = "nsgate";

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Mmm dd hh:mm:ss` in UTC, the day padded with a space (`Nov  9`).
pub(super) fn timestamp(unix_secs: i64) -> String {
    let (_, month, day) = civil_from_days(unix_secs.div_euclid(86_400));
    let s = unix_secs.rem_euclid(86_400);
    format!(
        "{} {day:>2} {:02}:{:02}:{:02}",
        MONTHS[month as usize - 1],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// (year, month 1–12, day 1–31) of a count of days since 1970-01-01, in the
/// proleptic Gregorian calendar (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `<PRI>Mmm dd hh:mm:ss nsgate[PID]: ` for this event.
fn header(facility: Facility, event: Event, unix_secs: i64, pid: Pid) -> String {
    let pri = u16::from(facility.code()) * 8 + u16::from(event.severity());
    format!("<{pri}>{} {TAG}[{pid}]: ", timestamp(unix_secs))
}

/// A whole datagram for `message`, without any size check.
#[cfg(test)]
fn frame(facility: Facility, event: Event, unix_secs: i64, pid: Pid, message: &str) -> String {
    header(facility, event, unix_secs, pid) + message
}

/// Writes audit records to the syslog socket of the settings. Connects on
/// the first send; the connection is close-on-exec (std opens every socket
/// with `SOCK_CLOEXEC`).
#[derive(Debug)]
pub(crate) struct Auditor {
    path: PathBuf,
    facility: Facility,
    socket: Option<UnixDatagram>,
    /// journald's native protocol on `path` instead of syslog (journal.rs).
    journal: bool,
    /// The records' hash chain.
    chain: chain::State,
}

/// Why one attempt failed, for the message and the reconnect decision.
enum Failure {
    Connect(io::Error),
    Send(io::Error),
    Short(usize),
}

impl Auditor {
    pub(crate) fn new(settings: &Settings) -> Auditor {
        let journal = super::journal::chosen(settings);
        Auditor {
            path: match journal {
                true => settings.journal_socket.clone(),
                false => settings.syslog_socket.clone(),
            },
            facility: settings.syslog_facility,
            socket: None,
            journal,
            chain: chain::State::new(settings.audit_state.clone()),
        }
    }

    /// The datagram `send` would write at `now`, without its `seq` and
    /// `chain` (and, to journald, its framing), or the error for a record
    /// over the size limit.
    #[cfg(test)]
    pub(crate) fn datagram(&self, record: &Record, now: SystemTime) -> Result<String> {
        let (header, message) = self.parts(record, now)?;
        Ok(header + &message)
    }

    /// The syslog header (none to journald, whose fields say the same) and
    /// the MESSAGE without `seq` and `chain`, which keeps room for them.
    fn parts(&self, record: &Record, now: SystemTime) -> Result<(String, String)> {
        // Before 1970 only on a broken clock; the daemon re-stamps anyway.
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let header = match self.journal {
            true => String::new(),
            false => header(self.facility, record.event, secs, system::getpid()),
        };
        let fixed = header.len() + chain::SUFFIX_MAX;
        match record.fit(MAX_RECORD_BYTES.saturating_sub(fixed)) {
            Ok(message) => Ok((header, message)),
            Err(len) => Err(too_long(record, fixed + len)),
        }
    }

    /// Sends one record as the next of the hash chain (nsgate(8) AUDIT).
    /// `Ok` means the socket accepted the whole datagram.
    pub(crate) fn send(&mut self, record: &Record) -> Result<()> {
        let (header, message) = self.parts(record, SystemTime::now())?;
        let event = record.event;
        // The chain is taken out for the send, which needs `self` too.
        let mut chain = std::mem::take(&mut self.chain);
        let sent = chain.append(&header, &message, |text| {
            if !self.journal {
                return self.deliver(text);
            }
            let text = String::from_utf8_lossy(text);
            let pid = system::getpid();
            self.deliver(&super::journal::datagram(&text, event, self.facility, pid))
        });
        self.chain = chain;
        sent
    }

    /// Sends one datagram. When the daemon has gone away since the last
    /// send (restarted, socket re-created), reconnects once and tries again.
    fn deliver(&mut self, data: &[u8]) -> Result<()> {
        let result = match self.attempt(data) {
            Err(Failure::Connect(e) | Failure::Send(e)) if reconnectable(&e) => self.attempt(data),
            other => other,
        };
        result.map_err(|f| self.explain(f, data.len()))
    }

    /// Connects if needed and sends; a connection is kept only while it works.
    fn attempt(&mut self, data: &[u8]) -> std::result::Result<(), Failure> {
        let socket = match self.socket.take() {
            Some(s) => s,
            None => connect(&self.path).map_err(Failure::Connect)?,
        };
        send_within(&socket, data, WRITE_TIMEOUT)?;
        self.socket = Some(socket);
        Ok(())
    }

    fn explain(&self, failure: Failure, len: usize) -> Error {
        let path = self.path.display();
        let (syslog, daemon) = match self.journal {
            true => ("journal", "journald"),
            false => ("syslog", "syslog daemon"),
        };
        Error::Audit(match failure {
            Failure::Connect(e) => format!(
                "cannot connect to {syslog} socket {path}: {}",
                crate::error::os_message(&e)
            ),
            Failure::Send(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                format!(
                    "{syslog} socket {path} accepted nothing for {} s ({daemon} stuck?)",
                    WRITE_TIMEOUT.as_secs()
                )
            }
            Failure::Send(e) => format!(
                "cannot send to {syslog} socket {path}: {}",
                crate::error::os_message(&e)
            ),
            Failure::Short(n) => {
                format!("{syslog} socket {path} took only {n} of {len} bytes of a record")
            }
        })
    }
}

fn too_long(record: &Record, len: usize) -> Error {
    Error::Audit(format!(
        "the {} record would be {len} bytes, over the {MAX_RECORD_BYTES}-byte limit",
        record.event
    ))
}

fn connect(path: &Path) -> io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.connect(path)?;
    Ok(socket)
}

/// One send that waits at most `timeout` in total: an EINTR (a signal, even
/// with SA_RESTART, since the socket has a timeout) retries with what is left.
fn send_within(
    socket: &UnixDatagram,
    data: &[u8],
    timeout: Duration,
) -> std::result::Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    let mut left = timeout;
    loop {
        socket
            .set_write_timeout(Some(left))
            .map_err(Failure::Send)?;
        match socket.send(data) {
            Ok(n) if n == data.len() => return Ok(()),
            Ok(n) => return Err(Failure::Short(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Failure::Send(io::ErrorKind::TimedOut.into()));
                }
            }
            Err(e) => return Err(Failure::Send(e)),
        }
    }
}

/// Errors of a daemon that went away (its socket gone, re-created, or closed).
fn reconnectable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::NotConnected
            | io::ErrorKind::NotFound
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
    )
}

/// The parts of a datagram as nsgate writes it, for the tests.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Frame<'a> {
    pub pri: u16,
    pub timestamp: &'a str,
    pub pid: u32,
    pub message: &'a str,
}

/// Splits `<PRI>Mmm dd hh:mm:ss nsgate[PID]: MESSAGE`; `None` if it is not
/// in that shape.
#[cfg(test)]
pub(super) fn parse_frame(datagram: &str) -> Option<Frame<'_>> {
    let rest = datagram.strip_prefix('<')?;
    let (pri, rest) = rest.split_once('>')?;
    let ts = rest.get(..15)?;
    let rest = rest.get(15..)?.strip_prefix(" nsgate[")?;
    let (pid, message) = rest.split_once("]: ")?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pri) || !digits(pid) {
        return None;
    }
    Some(Frame {
        pri: pri.parse().ok()?,
        timestamp: ts,
        pid: pid.parse().ok()?,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::SessionId;
    use crate::system::Exit;
    use std::os::fd::AsRawFd;

    #[test]
    fn timestamps_for_known_seconds() {
        assert_eq!(timestamp(0), "Jan  1 00:00:00");
        assert_eq!(timestamp(1_699_488_000), "Nov  9 00:00:00");
        assert_eq!(timestamp(1_700_000_000), "Nov 14 22:13:20");
        assert_eq!(timestamp(951_782_400), "Feb 29 00:00:00");
        assert_eq!(timestamp(1_709_251_199), "Feb 29 23:59:59");
        assert_eq!(timestamp(1_709_251_200), "Mar  1 00:00:00");
        assert_eq!(timestamp(4_107_456_000), "Feb 28 00:00:00");
        assert_eq!(timestamp(4_107_542_400), "Mar  1 00:00:00");
        assert_eq!(timestamp(1_735_689_599), "Dec 31 23:59:59");
        assert_eq!(timestamp(-1), "Dec 31 23:59:59");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(47_540), (2100, 2, 28));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
        // Every day of 1970–2400 follows the one before it.
        let mut prev = civil_from_days(-1);
        for d in 0..157_000 {
            let cur = civil_from_days(d);
            let next_day = (prev.0, prev.1, prev.2 + 1);
            let next_month = (prev.0, prev.1 + 1, 1);
            let next_year = (prev.0 + 1, 1, 1);
            assert!(
                cur == next_day || cur == next_month || cur == next_year,
                "{d}"
            );
            prev = cur;
        }
    }

    #[test]
    fn header_has_pri_tag_and_pid() {
        let pid = |raw| Pid::new(raw).unwrap();
        let d = frame(
            Facility::Authpriv,
            Event::Deny,
            1_700_000_000,
            pid(77),
            "v=1",
        );
        assert_eq!(d, "<84>Nov 14 22:13:20 nsgate[77]: v=1");
        let d = frame(Facility::Local(7), Event::Error, 0, pid(1), "");
        assert!(d.starts_with("<187>"));
        let d = frame(Facility::Kern, Event::Allow, 0, pid(1), "m");
        assert!(d.starts_with("<6>"));
        let f = parse_frame("<86>Nov  9 00:00:00 nsgate[123]: v=1 x=y").unwrap();
        assert_eq!(
            f,
            Frame {
                pri: 86,
                timestamp: "Nov  9 00:00:00",
                pid: 123,
                message: "v=1 x=y"
            }
        );
        assert!(parse_frame("<86>Nov  9 00:00:00 other[123]: v=1").is_none());
        assert!(parse_frame("<x>Nov  9 00:00:00 nsgate[123]: v=1").is_none());
    }

    fn sid() -> SessionId {
        SessionId::from_bytes([7; 16])
    }

    #[test]
    fn datagrams_never_exceed_8000_bytes() {
        let a = Auditor::new(&Settings {
            journal: crate::config::Journal::No,
            ..Settings::default()
        });
        let now = SystemTime::now();
        // Find the longest allow request that still fits: one byte more fails.
        let mut r = Record::new(sid(), Event::Allow);
        r.cmd = Some(Vec::new());
        let empty = a.datagram(&r, now).unwrap().len();
        // Room is kept for the longest `seq` and `chain`.
        let fits = MAX_RECORD_BYTES - chain::SUFFIX_MAX - empty;
        r.cmd = Some(vec![b'a'; fits]);
        assert_eq!(
            a.datagram(&r, now).unwrap().len(),
            MAX_RECORD_BYTES - chain::SUFFIX_MAX
        );
        r.cmd = Some(vec![b'a'; fits + 1]);
        let err = a.datagram(&r, now).unwrap_err().to_string();
        assert!(err.contains("allow record would be 8001 bytes"), "{err}");
        // A 4096-byte request of the worst bytes (nsgate(8) THE REQUEST bounds
        // it escaped).
        r.cmd = Some(vec![0xff; 1024]);
        assert!(a.datagram(&r, now).is_ok());
        // Deny and exit records are shortened instead, to exactly fit or less.
        r.cmd = Some(vec![b'\n'; 100_000]);
        for ev in [Event::Deny, Event::Error] {
            r.event = ev;
            let d = a.datagram(&r, now).unwrap();
            let room = MAX_RECORD_BYTES - chain::SUFFIX_MAX;
            assert!(d.len() <= room && d.len() > room - 8);
        }
        let exit = r.exit(Exit::Signaled(9), Duration::from_secs(1), None);
        assert!(a.datagram(&exit, now).unwrap().len() <= MAX_RECORD_BYTES);
    }

    #[test]
    fn sends_to_a_bound_socket_and_reports_failures() {
        let dir = std::env::temp_dir().join(format!("nsgate-audit-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let settings = Settings {
            syslog_socket: path.clone(),
            audit_state: dir.join("state"),
            ..Settings::default()
        };
        let mut a = Auditor::new(&settings);
        let r = Record::new(sid(), Event::Allow);

        let err = a.send(&r).unwrap_err().to_string();
        assert!(
            err.starts_with("audit unavailable: cannot connect to syslog socket"),
            "{err}"
        );

        let server = UnixDatagram::bind(&path).unwrap();
        a.send(&r).unwrap();
        let mut buf = vec![0; 9000];
        let n = server.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        let f = parse_frame(got).unwrap();
        assert_eq!(f.pri, 86);
        assert_eq!(f.pid, std::process::id());
        let chained = f.message.strip_prefix(&r.message()).unwrap();
        assert!(chained.starts_with(" seq=1 chain="), "{chained}");

        // The connection does not leak into commands nsgate runs.
        let fd = a.socket.as_ref().unwrap().as_raw_fd();
        let flags = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
        let flags = flags.lines().find(|l| l.starts_with("flags:")).unwrap();
        let flags = u32::from_str_radix(flags.split_whitespace().nth(1).unwrap(), 8).unwrap();
        assert_ne!(flags & 0o2_000_000, 0, "O_CLOEXEC missing");

        // The daemon re-creates its socket: the next send reconnects once.
        drop(server);
        std::fs::remove_file(&path).unwrap();
        let server = UnixDatagram::bind(&path).unwrap();
        a.send(&r).unwrap();
        assert!(server.recv(&mut buf).unwrap() > 0);

        // Gone for good: an error, not a hang.
        drop(server);
        let err = a.send(&r).unwrap_err().to_string();
        assert!(err.contains("Connection refused"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
