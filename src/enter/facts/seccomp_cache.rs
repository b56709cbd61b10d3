//! A cache of target inits' seccomp filters, so that repeated sessions on
//! one container neither pay for the ptrace copy nor stop its init.
//!
//! An entry is keyed by the init's pid and start time, which name one
//! process while the system is up (the boot id guards against a /run that
//! survives a reboot), and by its `Seccomp_filters:` count: filters can be
//! added but never removed, so the same process with the same count has the
//! same filters. Only root writes here: the directory is root's and 0700,
//! and an entry is read only if it is a regular file of root's that no one
//! else can write, no larger than the largest possible set of filters.
//! Anything wrong with an entry makes it a miss (the filters are copied
//! again), never an error: the cache only ever saves time.
#![forbid(unsafe_code)]

use crate::own_dir::{self, DirProblem};
use crate::reader::{self, Bound, NotRead, Owner, Source};
use crate::system::{self, BpfProgram, Pid, INSN_BYTES, MAX_FILTERS, MAX_INSNS};
use std::fmt;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where the cache lives: /run is emptied at boot and only root writes it.
/// The cache directory below `BASE`.
const DIR: &str = "seccomp";
/// Names of entries being written: this prefix and the writer's pid.
const TEMP_PREFIX: &str = ".tmp-";
/// Longer than any header `Key::header` writes.
const MAX_HEADER: usize = 256;
/// The largest entry: a header, then MAX_FILTERS filters of MAX_INSNS
/// instructions, each with its 4-byte length (about 2 MiB).
const MAX_ENTRY: u64 = (MAX_HEADER + MAX_FILTERS * (4 + MAX_INSNS * INSN_BYTES)) as u64;

/// Why the cache is not used: an entry is a miss, the directory cannot be
/// opened or an entry not written. Only the tests read it.
#[derive(Debug)]
pub(super) enum Why {
    /// The base or the cache directory.
    Dir(DirProblem),
    /// A key no entry is kept for.
    NotHeld,
    /// An entry, by name, that the reader refused.
    Entry(String, NotRead),
    Damaged(String, Damaged),
    /// Removing an old temporary file.
    Io(io::Error),
    /// Filters to store that are not the ones the key counts.
    Mismatch,
    /// Writing the temporary file of this name.
    Write(String, io::Error),
}

/// What is wrong with the bytes of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Damaged {
    Header,
    /// Filter number `n`, from 0.
    Missing(usize),
    BadLength(usize),
    BadFilter(usize),
    Trailing,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Dir(why) => why.fmt(f),
            Why::NotHeld => f.write_str("not a key the cache holds"),
            Why::Entry(name, not_read) => match not_read {
                NotRead::Io(_, e) => e.fmt(f),
                NotRead::Symlink => write!(f, "{name} is a symbolic link"),
                NotRead::NotRegular => write!(f, "{name} is not a regular file"),
                NotRead::Owner(uid) => write!(f, "{name} is owned by uid {uid}, not root"),
                NotRead::Writable(_) => write!(f, "{name} is writable by group or others"),
                NotRead::TooLarge => write!(f, "{name} is larger than any entry"),
                NotRead::Directory(why) => write!(f, "{name}: {why}"),
            },
            Why::Damaged(name, damaged) => write!(f, "{name}: {damaged}"),
            Why::Io(e) => e.fmt(f),
            Why::Mismatch => f.write_str("the filters do not match the key"),
            Why::Write(temp, e) => write!(f, "{temp}: {e}"),
        }
    }
}

impl fmt::Display for Damaged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damaged::Header => f.write_str("the header does not name this process"),
            Damaged::Missing(n) => write!(f, "filter {n} is missing"),
            Damaged::BadLength(n) => write!(f, "filter {n} has a bad length"),
            Damaged::BadFilter(n) => write!(f, "filter {n} is bad"),
            Damaged::Trailing => f.write_str("bytes after the last filter"),
        }
    }
}

/// What an entry is for: one process, and how many filters it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Key {
    /// /proc/sys/kernel/random/boot_id.
    pub boot_id: String,
    pub pid: Pid,
    /// Field 22 of /proc/PID/stat.
    pub start_time: u64,
    /// `Seccomp_filters:` of /proc/PID/status.
    pub filters: usize,
}

impl Key {
    fn file_name(&self) -> String {
        format!("{}-{}-{}", self.pid, self.start_time, self.filters)
    }

    /// The first line of an entry: the whole key again, so that an entry is
    /// only ever taken for the process it was written for.
    fn header(&self) -> String {
        format!(
            "nsgate seccomp filters 1 boot {} pid {} start {} count {}\n",
            self.boot_id, self.pid, self.start_time, self.filters
        )
    }

    /// A key the cache can hold: at least one filter and no more than a
    /// copy would accept.
    fn usable(&self) -> bool {
        (1..=MAX_FILTERS).contains(&self.filters) && self.header().len() <= MAX_HEADER
    }
}

/// The pid, start time and filter count an entry's name stands for.
fn parse_name(name: &str) -> Option<(i32, u64, usize)> {
    let mut parts = name.split('-');
    let (Some(pid), Some(start), Some(count), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some((pid.parse().ok()?, start.parse().ok()?, count.parse().ok()?))
}

/// This boot's id, or None when it cannot be read (then nothing is cached).
pub(super) fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim_end_matches('\n');
    let ok = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then(|| id.to_string())
}

/// An entry's bytes: the header line, then each filter, oldest first, as
/// its instruction count (4 bytes, little-endian) and its instructions.
pub(super) fn encode(key: &Key, filters: &[BpfProgram]) -> Vec<u8> {
    let mut out = key.header().into_bytes();
    for filter in filters {
        let len = u32::try_from(filter.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&filter.to_bytes());
    }
    out
}

/// The filters of an entry written for `key`; the reason if it is not one.
pub(super) fn decode(key: &Key, bytes: &[u8]) -> Result<Vec<BpfProgram>, Damaged> {
    let mut rest = bytes
        .strip_prefix(key.header().as_bytes())
        .ok_or(Damaged::Header)?;
    let mut filters = Vec::with_capacity(key.filters.min(MAX_FILTERS));
    for n in 0..key.filters {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or(Damaged::Missing(n))?;
        let len = usize::try_from(u32::from_le_bytes(*len)).unwrap_or(usize::MAX);
        if !(1..=MAX_INSNS).contains(&len) || tail.len() < len * INSN_BYTES {
            return Err(Damaged::BadLength(n));
        }
        let (program, tail) = tail.split_at(len * INSN_BYTES);
        filters.push(BpfProgram::from_bytes(program).ok_or(Damaged::BadFilter(n))?);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(Damaged::Trailing);
    }
    Ok(filters)
}

/// The cache directory, opened and checked.
#[derive(Debug)]
pub(super) struct Cache {
    dir: OwnedFd,
    path: PathBuf,
}

impl Cache {
    /// Opens the cache directory below `base` (`BASE` but in tests),
    /// creating both 0700 first when `create`. Refused unless `base` is a
    /// directory of root's that no one else can write, and the cache
    /// directory one of root's that no one else can use at all.
    pub(super) fn open(base: &Path, create: bool) -> Result<Cache, Why> {
        let base_fd = own_dir::open(base, create, own_dir::SHARED_WRITE).map_err(Why::Dir)?;
        let dir = own_dir::open_at(base_fd.as_fd(), base, DIR, create, own_dir::ANY_ACCESS)
            .map_err(Why::Dir)?;
        let path = base.join(DIR);
        Ok(Cache { dir, path })
    }

    /// The filters cached for `key`, or None: nothing to trust there.
    pub(super) fn load(&self, key: &Key) -> Option<Vec<BpfProgram>> {
        self.read(key).ok()
    }

    /// The filters cached for `key`; why not, for tests.
    fn read(&self, key: &Key) -> Result<Vec<BpfProgram>, Why> {
        if !key.usable() {
            return Err(Why::NotHeld);
        }
        let name = key.file_name();
        let source = Source::At(self.dir.as_fd(), &name);
        let bytes = match reader::read(source, Bound::AtMost(MAX_ENTRY), Owner::Root) {
            Ok(bytes) => bytes,
            Err(not_read) => return Err(Why::Entry(name, not_read)),
        };
        decode(key, &bytes).map_err(|damaged| Why::Damaged(name, damaged))
    }

    /// Writes `filters` as the entry for `key`: a new file of root's, 0600,
    /// renamed over any old one, so a reader sees a whole entry or none.
    /// Then removes the entries of processes that are gone.
    pub(super) fn store(&self, key: &Key, filters: &[BpfProgram]) -> Result<(), Why> {
        if !key.usable() || filters.len() != key.filters {
            return Err(Why::Mismatch);
        }
        let dir = self.dir.as_fd();
        // Our pid: no live nsgate writes the same name; one that died
        // writing it left a file nobody else uses.
        let temp = format!("{TEMP_PREFIX}{}", system::getpid());
        let mut file = match system::create_file_at(dir, &temp, 0o600) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                system::remove_at(dir, &temp).map_err(Why::Io)?;
                system::create_file_at(dir, &temp, 0o600)
            }
            r => r,
        }
        .map_err(|e| Why::Write(temp.clone(), e))?;
        let written = file
            .write_all(&encode(key, filters))
            .and_then(|()| system::rename_at(dir, &temp, &key.file_name()));
        if let Err(e) = written {
            let _ = system::remove_at(dir, &temp);
            return Err(Why::Write(temp, e));
        }
        self.prune(key);
        Ok(())
    }

    /// Removes the entries of processes that are gone (their pid names
    /// another process now, or none), those of `kept`'s process that it has
    /// outgrown, and the temporary files of writers that are gone: one
    /// readdir and one /proc read per entry, on a cache miss only.
    fn prune(&self, kept: &Key) {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let stale = if let Some(writer) = name.strip_prefix(TEMP_PREFIX) {
                writer.parse::<i32>().is_ok_and(|pid| {
                    Pid::new(pid) != Some(system::getpid())
                        && !Path::new(&format!("/proc/{pid}")).exists()
                })
            } else if let Some((pid, start, count)) = parse_name(&name) {
                match Pid::new(pid) {
                    // No process ever had that pid.
                    None => true,
                    Some(pid) if (pid, start) == (kept.pid, kept.start_time) => {
                        count < kept.filters
                    }
                    Some(pid) => crate::resolve::gone_since(pid, start),
                }
            } else {
                false
            };
            if stale {
                let _ = system::remove_at(self.dir.as_fd(), &name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn key(filters: usize) -> Key {
        Key {
            boot_id: "0b5c2d55-5e2a-4d8e-9a7a-1f0e3c4b5a69".into(),
            pid: Pid::new(4242).unwrap(),
            start_time: 98765,
            filters,
        }
    }

    /// Two small programs: `ret ALLOW`, and `ld nr; ret ERRNO|1`.
    fn programs() -> Vec<BpfProgram> {
        let ret_allow = [0x06, 0, 0, 0, 0x00, 0x00, 0xff, 0x7f];
        let ld = [0x20, 0, 0, 0, 0, 0, 0, 0];
        let ret_errno = [0x06, 0, 0, 0, 0x01, 0x00, 0x05, 0x00];
        vec![
            BpfProgram::from_bytes(&ret_allow).unwrap(),
            BpfProgram::from_bytes(&[ld, ret_errno].concat()).unwrap(),
        ]
    }

    fn bytes_of(filters: &[BpfProgram]) -> Vec<Vec<u8>> {
        filters.iter().map(BpfProgram::to_bytes).collect()
    }

    #[test]
    fn entries_round_trip_and_name_their_process() {
        let filters = programs();
        let entry = encode(&key(2), &filters);
        assert!(entry.starts_with(
            b"nsgate seccomp filters 1 boot 0b5c2d55-5e2a-4d8e-9a7a-1f0e3c4b5a69 pid 4242 start 98765 count 2\n"
        ));
        let back = decode(&key(2), &entry).unwrap();
        assert_eq!(bytes_of(&back), bytes_of(&filters));

        let other = |f: fn(&mut Key)| {
            let mut k = key(2);
            f(&mut k);
            decode(&k, &entry).unwrap_err().to_string()
        };
        for why in [
            other(|k| k.pid = Pid::new(4243).unwrap()),
            other(|k| k.start_time = 98766),
            other(|k| k.boot_id = k.boot_id.replace('0', "1")),
            decode(&key(3), &entry).unwrap_err().to_string(),
        ] {
            assert!(why.contains("header"), "{why}");
        }
    }

    #[test]
    fn damaged_entries_are_refused() {
        let entry = encode(&key(2), &programs());
        let header = key(2).header().len();
        let at_len = |n: usize| {
            let mut e = entry.clone();
            e[header..header + 4].copy_from_slice(&u32::try_from(n).unwrap().to_le_bytes());
            e
        };
        for (bad, why) in [
            (entry[..entry.len() - 1].to_vec(), "bad length"),
            (entry[..header].to_vec(), "filter 0 is missing"),
            (entry[..header + 2].to_vec(), "filter 0 is missing"),
            ([&entry[..], b"x"].concat(), "after the last filter"),
            (at_len(0), "bad length"),
            (at_len(MAX_INSNS + 1), "bad length"),
            (at_len(2), "bad length"),
            (Vec::new(), "header"),
        ] {
            let err = decode(&key(2), &bad).unwrap_err().to_string();
            assert!(err.contains(why), "{err} (wanted {why})");
        }
        assert_eq!(parse_name("4242-98765-2"), Some((4242, 98765, 2)));
        for bad in [
            "4242-98765",
            "4242-98765-2-1",
            ".tmp-12",
            "a-b-c",
            "4242--2",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    fn not_root() -> bool {
        crate::test_support::skip_without_root("seccomp_cache", "root-owned cache files")
    }

    /// A private base directory, as /run/nsgate would be.
    fn base(test: &str) -> PathBuf {
        let base = std::env::temp_dir().join(format!("nsgate-cache-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        base
    }

    #[test]
    fn stores_reads_back_and_refuses_files_others_could_write() {
        if not_root() {
            return;
        }
        let base = base("files");
        assert!(Cache::open(&base, false).is_err());
        let cache = Cache::open(&base, true).unwrap();
        let meta = std::fs::metadata(base.join(DIR)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
        let k = key(2);
        assert!(cache.load(&k).is_none());
        cache.store(&k, &programs()).unwrap();
        let entry = base.join(DIR).join("4242-98765-2");
        assert_eq!(
            std::fs::metadata(&entry).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        assert_eq!(bytes_of(&cache.load(&k).unwrap()), bytes_of(&programs()));
        assert!(cache.store(&key(1), &programs()).is_err());

        let set_mode =
            |mode| std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
        set_mode(0o620);
        assert!(cache
            .read(&k)
            .unwrap_err()
            .to_string()
            .contains("writable by group"));
        set_mode(0o644);
        assert!(cache.load(&k).is_some());
        nix::unistd::chown(&entry, Some(nix::unistd::Uid::from_raw(1000)), None).unwrap();
        assert!(cache
            .read(&k)
            .unwrap_err()
            .to_string()
            .contains("owned by uid 1000"));
        std::fs::remove_file(&entry).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &entry).unwrap();
        assert!(cache.read(&k).is_err());
        std::fs::remove_file(&entry).unwrap();
        std::fs::create_dir(&entry).unwrap();
        assert!(cache
            .read(&k)
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        std::fs::remove_dir(&entry).unwrap();
        let huge = std::fs::File::create(&entry).unwrap();
        huge.set_len(MAX_ENTRY + 1).unwrap();
        assert!(cache
            .read(&k)
            .unwrap_err()
            .to_string()
            .contains("larger than any entry"));
        std::fs::write(&entry, b"garbage").unwrap();
        assert!(cache.read(&k).unwrap_err().to_string().contains("header"));

        // A cache directory others may enter, or not root's, is not used.
        let dir = base.join(DIR);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(Cache::open(&base, false)
            .unwrap_err()
            .to_string()
            .contains("mode 0755"));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        nix::unistd::chown(&dir, Some(nix::unistd::Uid::from_raw(1000)), None).unwrap();
        assert!(Cache::open(&base, true)
            .unwrap_err()
            .to_string()
            .contains("owned by uid 1000"));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn prunes_entries_of_processes_that_are_gone() {
        if not_root() {
            return;
        }
        let base = base("prune");
        let cache = Cache::open(&base, true).unwrap();
        let me = system::getpid();
        let stat = std::fs::read(format!("/proc/{me}/stat")).unwrap();
        let start = crate::resolve::start_time(me, &stat).unwrap();
        let live = |filters| Key {
            pid: me,
            start_time: start,
            ..key(filters)
        };
        let dead = key(1);
        let reused = Key {
            start_time: start + 1,
            ..live(1)
        };
        cache.store(&dead, &programs()[..1]).unwrap();
        cache.store(&reused, &programs()[..1]).unwrap();
        cache.store(&live(1), &programs()[..1]).unwrap();
        std::fs::write(base.join(DIR).join(".tmp-4194304"), b"").unwrap();
        std::fs::write(base.join(DIR).join("unrelated"), b"").unwrap();
        cache.store(&live(2), &programs()).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(base.join(DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [format!("{me}-{start}-2"), "unrelated".to_string()]);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
