//! The sequence numbers and hash chain of nsgate(8) AUDIT: every record ends
//! ` seq=N chain=HEX`, so an auditor can tell a deleted, altered or
//! reordered record from the log alone.
//!
//! `chain` of record N is the lowercase hex SHA-256 of: `chain` of record
//! N-1 (64 hex digits; 64 zeros before record 1), one space, and the
//! record's MESSAGE up to, not including, ` chain=` (so it ends `seq=N`).
//!
//! The last `seq` and `chain` live in the file `chain` of the state
//! directory (`set audit-state`, default /var/lib/nsgate), one line
//! `seq=N chain=HEX`. One record at a time: under an exclusive flock(2) of
//! the directory, read the state, build the next record, send it, and only
//! if the socket took it replace the state (a new file renamed over the old
//! one), then unlock. So the send order is the seq order, and a record that
//! could not be sent leaves no gap.
//!
//! Choices where the task left room:
//! - Only root's directory, 0700 or stricter, below directories of root's
//!   that nobody else can write, is used; it is created 0700 when missing.
//! - No state file starts a chain at `seq=1` from 64 zeros (a new host, or
//!   an administrator who removed a damaged one: `--verify` shows the
//!   restart). A state file that is not exactly one such line fails closed:
//!   records that cannot be chained are not written, so sessions are
//!   refused until an administrator looks.
//! - The lock is waited for at most 10 s (a holder waits at most 2 s for the
//!   socket, twice), then the record fails closed; never a hang.
//! - The new state replaces the old by rename, not synced: a sync cost
//!   0.25 ms a record, twice a session, and bought nothing coherent, since
//!   the syslog daemon does not sync its lines either. A host crash may
//!   thus cost the last states (a `seq` used again, which `--verify`
//!   reports) as it may cost the last lines of the log (a gap).
#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::own_dir::{self, DirProblem};
use crate::reader::{self, Bound, NotRead, Owner, Source};
use crate::system::{self, Locked};

/// The `chain` before the first record.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The longest ` seq=N chain=HEX`: room every record keeps for it.
pub(super) const SUFFIX_MAX: usize = " seq=".len() + 20 + " chain=".len() + 64;
/// How long a record waits for the lock before it fails closed.
pub(super) const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// The state file, and the name it is written under before the rename.
const STATE: &str = "chain";
const TEMP: &str = "chain.new";
/// Longer than any state line.
const MAX_STATE: u64 = 128;

/// Where a chain stands: the last record's `seq` and `chain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub seq: u64,
    pub chain: String,
}

impl Link {
    pub(crate) fn genesis() -> Link {
        Link {
            seq: 0,
            chain: GENESIS.to_string(),
        }
    }

    /// The link of the record after this one whose MESSAGE, without `seq`
    /// and `chain`, is `message`; and that record's whole MESSAGE.
    pub(super) fn next(&self, message: &str) -> Option<(Link, String)> {
        let seq = self.seq.checked_add(1)?;
        let text = format!("{message} seq={seq}");
        let chain = chain_value(&self.chain, &text);
        let whole = format!("{text} chain={chain}");
        Some((Link { seq, chain }, whole))
    }

    /// The state file's one line.
    fn encode(&self) -> String {
        format!("seq={} chain={}\n", self.seq, self.chain)
    }

    /// Exactly what `encode` writes, or `None`.
    fn decode(bytes: &[u8]) -> Option<Link> {
        let line = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?;
        let (seq, chain) = line.strip_prefix("seq=")?.split_once(" chain=")?;
        Some(Link {
            seq: parse_seq(seq)?,
            chain: is_chain_value(chain).then(|| chain.to_string())?,
        })
    }
}

/// `chain` of a record whose MESSAGE up to ` chain=` is `text`, after a
/// record whose `chain` was `previous`.
pub(crate) fn chain_value(previous: &str, text: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(previous.as_bytes());
    hash.update(b" ");
    hash.update(text.as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 lowercase hex digits.
pub(crate) fn is_chain_value(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A `seq` as written: 1 to 20 digits, no leading zero, within u64.
pub(crate) fn parse_seq(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// Why a record could not be chained.
#[derive(Debug)]
pub(super) enum Why {
    /// The state directory, as nsgate checks its own (own_dir).
    Dir(DirProblem),
    /// Reading the state file from `nsgate log --verify --state`.
    Open(PathBuf, io::Error),
    Lock(PathBuf, io::Error),
    Busy(PathBuf),
    Unreadable(PathBuf, NotRead),
    Damaged(PathBuf),
    Exhausted(PathBuf),
    /// Sent as this seq, but the state could not be replaced.
    Write(PathBuf, u64, io::Error),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let os = crate::error::os_message;
        match self {
            Why::Dir(why) => write!(f, "audit state directory {why}"),
            Why::Open(p, e) => write!(f, "audit state directory {}: {}", p.display(), os(e)),
            Why::Lock(p, e) => write!(f, "cannot lock audit state {}: {}", p.display(), os(e)),
            Why::Busy(p) => write!(
                f,
                "audit state {} stayed locked for {} s",
                p.display(),
                LOCK_TIMEOUT.as_secs()
            ),
            Why::Unreadable(p, why) => {
                write!(f, "cannot read audit state {}: ", p.display())?;
                match why {
                    NotRead::Io(step, e) => write!(f, "{step}: {}", os(e)),
                    NotRead::Symlink => f.write_str("a symbolic link"),
                    NotRead::NotRegular => f.write_str("not a regular file"),
                    NotRead::Owner(uid) => write!(f, "owned by uid {uid}, not root"),
                    NotRead::Writable(mode) => write!(f, "mode {:04o}", mode & 0o7777),
                    NotRead::TooLarge => f.write_str("larger than any state"),
                    NotRead::Directory(why) => why.fmt(f),
                }
            }
            Why::Damaged(p) => write!(
                f,
                "audit state {} is damaged (not one line \"seq=N chain=HEX\"), so records \
                 cannot be chained; see nsgate(8) AUDIT",
                p.display()
            ),
            Why::Exhausted(p) => write!(f, "audit state {} is at the last seq", p.display()),
            Why::Write(p, seq, e) => write!(
                f,
                "record seq={seq} was sent, but audit state {} could not be updated: {}",
                p.display(),
                os(e)
            ),
        }
    }
}

impl From<Why> for Error {
    fn from(why: Why) -> Error {
        Error::Audit(why.to_string())
    }
}

/// The chain's state directory, opened and checked once in a process: a
/// session sends its allow and exit records, at least, through it.
#[derive(Debug, Default)]
pub(super) struct State {
    dir: PathBuf,
    /// Open, checked and unlocked between records.
    fd: Option<OwnedFd>,
}

impl State {
    pub(super) fn new(dir: PathBuf) -> State {
        State { dir, fd: None }
    }

    /// Sends the record whose datagram header is `header` and whose
    /// MESSAGE without `seq` and `chain` is `message` as the next one of
    /// the chain, by `send`. The state moves on only when `send` succeeded.
    pub(super) fn append(
        &mut self,
        header: &str,
        message: &str,
        send: impl FnOnce(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let fd = match self.fd.take() {
            Some(fd) => fd,
            None => open_dir(&self.dir)?,
        };
        let state = lock(fd, &self.dir, LOCK_TIMEOUT)?;
        let file = self.dir.join(STATE);
        let last = read_state(state.fd(), &file)?;
        let (link, whole) = last.next(message).ok_or(Why::Exhausted(file.clone()))?;
        send(format!("{header}{whole}").as_bytes())?;
        write_state(state.fd(), &link).map_err(|e| Why::Write(file, link.seq, e))?;
        // Kept for the next record; one that cannot be unlocked is closed,
        // which unlocks it, and the next record opens the directory again.
        self.fd = state.unlock().ok();
        Ok(())
    }
}

/// [`State::append`] in a directory opened for this one record.
#[cfg(test)]
pub(super) fn append(
    dir: &Path,
    header: &str,
    message: &str,
    send: impl FnOnce(&[u8]) -> Result<()>,
) -> Result<()> {
    State::new(dir.to_path_buf()).append(header, message, send)
}

/// The state kept in `dir`, read without the lock and without creating
/// anything: for `nsgate log --verify --state`.
pub(crate) fn current(dir: &Path) -> Result<Link> {
    let fd = system::open_dir_nofollow(dir).map_err(|e| Why::Open(dir.to_path_buf(), e))?;
    Ok(read_state(fd.as_fd(), &dir.join(STATE))?)
}

/// Opens the state directory, creating it 0700 when missing, and checks it
/// as nsgate checks every directory of its own.
fn open_dir(dir: &Path) -> std::result::Result<OwnedFd, Why> {
    own_dir::open(dir, true, own_dir::ANY_ACCESS).map_err(Why::Dir)
}

/// Takes the directory's lock, waiting at most `timeout`.
fn lock(fd: OwnedFd, dir: &Path, timeout: Duration) -> std::result::Result<Locked, Why> {
    let deadline = Instant::now() + timeout;
    let mut fd = fd;
    let mut pause = Duration::from_micros(500);
    loop {
        match system::try_lock(fd) {
            Ok(Ok(locked)) => return Ok(locked),
            Ok(Err(back)) => fd = back,
            Err(e) => return Err(Why::Lock(dir.to_path_buf(), e)),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Why::Busy(dir.to_path_buf()));
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(8));
    }
}

/// The last link, or the genesis when there is no state yet.
fn read_state(dir: BorrowedFd<'_>, file: &Path) -> std::result::Result<Link, Why> {
    match reader::read(
        Source::At(dir, STATE),
        Bound::AtMost(MAX_STATE),
        Owner::Root,
    ) {
        Ok(bytes) => Link::decode(&bytes).ok_or(Why::Damaged(file.to_path_buf())),
        Err(NotRead::Io("open", e)) if e.kind() == io::ErrorKind::NotFound => Ok(Link::genesis()),
        Err(why) => Err(Why::Unreadable(file.to_path_buf(), why)),
    }
}

/// Replaces the state: a new file of root's, 0600, renamed over the old
/// one, so a reader sees one whole state or the other.
fn write_state(dir: BorrowedFd<'_>, link: &Link) -> io::Result<()> {
    // Under the lock nobody else writes TEMP: one that exists is a leftover.
    let mut file = match system::create_file_at(dir, TEMP, 0o600) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            system::remove_at(dir, TEMP)?;
            system::create_file_at(dir, TEMP, 0o600)
        }
        r => r,
    }?;
    let written = file
        .write_all(link.encode().as_bytes())
        .and_then(|()| system::rename_at(dir, TEMP, STATE));
    if written.is_err() {
        let _ = system::remove_at(dir, TEMP);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn not_root() -> bool {
        crate::test_support::skip_without_root("chain", "root-owned audit state")
    }

    /// A fresh directory under /tmp (root's, sticky) to hold a state directory.
    fn base(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nsgate-chain-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn chain_values_are_sha256_of_previous_space_text() {
        // printf '%s %s' 000...0 'v=1 x=y seq=1' | sha256sum
        let text = "v=1 x=y seq=1";
        let want: String = Sha256::digest(format!("{GENESIS} {text}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(chain_value(GENESIS, text), want);
        let (link, whole) = Link::genesis().next("v=1 x=y").unwrap();
        assert_eq!(link.seq, 1);
        assert_eq!(whole, format!("v=1 x=y seq=1 chain={want}"));
        let (two, whole2) = link.next("v=1 a=b").unwrap();
        assert_eq!(two.seq, 2);
        assert_eq!(two.chain, chain_value(&want, "v=1 a=b seq=2"));
        assert!(whole2.ends_with(&format!(" seq=2 chain={}", two.chain)));
        let last = Link {
            seq: u64::MAX,
            chain: GENESIS.into(),
        };
        assert!(last.next("v=1").is_none());
        // The longest suffix fits the room kept for it.
        let max = Link {
            seq: u64::MAX - 1,
            chain: GENESIS.into(),
        };
        let (_, whole) = max.next("m").unwrap();
        assert_eq!(whole.len() - 1, SUFFIX_MAX);
    }

    /// One process's records go through one opened directory: kept
    /// between records, dropped after a failed send and opened again.
    #[test]
    fn a_process_keeps_its_state_directory_between_records() {
        if not_root() {
            return;
        }
        let base = base("kept");
        let mut state = State::new(base.join("state"));
        let mut seqs = Vec::new();
        let mut sent = |d: &[u8]| {
            let text = String::from_utf8(d.to_vec()).unwrap();
            seqs.push(
                text.split(" seq=")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .to_string(),
            );
            Ok(())
        };
        state.append("", "v=1 a", &mut sent).unwrap();
        assert!(state.fd.is_some());
        let lost = state.append("", "v=1 lost", |_| Err(Error::Audit("gone".into())));
        assert!(lost.is_err() && state.fd.is_none());
        state.append("", "v=1 b", &mut sent).unwrap();
        assert_eq!(seqs, ["1", "2"]);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn state_lines_decode_exactly() {
        let link = Link {
            seq: 42,
            chain: "ab".repeat(32),
        };
        assert_eq!(Link::decode(link.encode().as_bytes()), Some(link.clone()));
        let good = link.encode();
        for bad in [
            "".to_string(),
            good.trim_end().to_string(),
            good.replace("42", "042"),
            good.replace("42", "-1"),
            good.replace("42", ""),
            good.replace("42", "99999999999999999999"),
            good.replace("ab", "AB"),
            good.replacen("ab", "", 1),
            good.replace(' ', "  "),
            format!("{good}\n"),
            format!("x{good}"),
        ] {
            assert_eq!(Link::decode(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(parse_seq("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_seq("0"), Some(0));
        for bad in ["", "01", "+1", "1a", "18446744073709551616"] {
            assert_eq!(parse_seq(bad), None, "{bad}");
        }
    }

    #[test]
    fn records_chain_and_a_failed_send_leaves_no_gap() {
        if not_root() {
            return;
        }
        let base = base("append");
        let dir = base.join("state");
        let mut sent = Vec::new();
        let mut send = |m: &str| {
            append(&dir, "<86>H: ", m, |d| {
                sent.push(String::from_utf8(d.to_vec()).unwrap());
                Ok(())
            })
        };
        send("v=1 a").unwrap();
        send("v=1 b").unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // A refused send: the state stays, the next record takes its seq.
        let err = append(&dir, "<86>H: ", "v=1 lost", |_| {
            Err(Error::Audit("socket gone".into()))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "audit unavailable: socket gone");
        append(&dir, "<86>H: ", "v=1 c", |d| {
            sent.push(String::from_utf8(d.to_vec()).unwrap());
            Ok(())
        })
        .unwrap();
        let mut prev = GENESIS.to_string();
        for (i, d) in sent.iter().enumerate() {
            let m = d.strip_prefix("<86>H: ").unwrap();
            let (text, chain) = m.split_once(" chain=").unwrap();
            assert!(text.ends_with(&format!(" seq={}", i + 1)), "{m}");
            assert_eq!(chain, chain_value(&prev, text));
            prev = chain.to_string();
        }
        let state = std::fs::read_to_string(dir.join(STATE)).unwrap();
        assert_eq!(state, format!("seq=3 chain={prev}\n"));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_damaged_or_unsafe_state_fails_closed() {
        if not_root() {
            return;
        }
        let base = base("damaged");
        let dir = base.join("state");
        let never = |_: &[u8]| -> Result<()> { panic!("sent an unchained record") };
        append(&dir, "", "v=1", |_| Ok(())).unwrap();
        std::fs::write(dir.join(STATE), "seq=1 chain=xyz\n").unwrap();
        let err = append(&dir, "", "v=1", never).unwrap_err().to_string();
        assert!(
            err.contains("is damaged") && err.contains("cannot be chained"),
            "{err}"
        );
        std::fs::write(dir.join(STATE), Link::genesis().encode()).unwrap();
        std::fs::set_permissions(dir.join(STATE), std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = append(&dir, "", "v=1", never).unwrap_err().to_string();
        assert!(err.contains("mode 0666"), "{err}");
        std::fs::remove_file(dir.join(STATE)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = append(&dir, "", "v=1", never).unwrap_err().to_string();
        assert!(err.contains("mode 0755, open to group or others"), "{err}");
        std::fs::remove_dir(&dir).unwrap();
        std::fs::write(&dir, "").unwrap();
        let err = append(&dir, "", "v=1", never).unwrap_err().to_string();
        assert!(err.contains("Not a directory"), "{err}");
        std::fs::remove_file(&dir).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = append(&dir, "", "v=1", never).unwrap_err().to_string();
        assert!(err.contains("writable by group or others"), "{err}");
        let err = append(Path::new("/"), "", "v=1", never).unwrap_err();
        assert!(err.to_string().contains("open to group or others"), "{err}");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_held_lock_is_waited_for_then_fails_closed() {
        if not_root() {
            return;
        }
        let base = base("lock");
        let dir = base.join("state");
        let held = lock(open_dir(&dir).unwrap(), &dir, LOCK_TIMEOUT).unwrap();
        let t = Instant::now();
        let err = lock(open_dir(&dir).unwrap(), &dir, Duration::from_millis(300)).unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(err.to_string().contains("stayed locked"), "{err}");
        drop(held);
        lock(open_dir(&dir).unwrap(), &dir, Duration::from_millis(300)).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
    }

    /// The cost of chaining one record (open, lock, read, hash, write,
    /// rename): `cargo test --release chain_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn chain_cost() {
        if not_root() {
            return;
        }
        let base = base("cost");
        let dir = base.join("state");
        let message = "v=1 sid=0123456789abcdef0123456789abcdef event=deny key=alice ".repeat(4);
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            append(
                &dir,
                "<84>Nov 29 09:15:02 nsgate[1]: ",
                &message,
                |_| Ok(()),
            )
            .unwrap();
        }
        let each = t.elapsed() / n;
        eprintln!(
            "chain cost: {each:?} per record over {n} records in {}",
            dir.display()
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
}
