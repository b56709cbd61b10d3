//! Targets named by a file: a pid file, containerd's `init.pid`, and
//! systemd-machined's record of an nspawn machine. Every file is opened
//! without following a final symlink and without blocking, must be a regular
//! file owned by root and not writable by group or others (as the
//! configuration), and is read bounded and parsed strictly.
#![forbid(unsafe_code)]

use super::parse_pid;
use super::why::Why;
use crate::config::NameKind;
use crate::reader::{self, Bound, Link, Owner, Source};
use crate::system::Pid;
use std::path::{Path, PathBuf};

/// Larger than any pid file or machine record; more is refused, not read.
pub(super) const MAX_FILE: u64 = 64 << 10;

/// Where systemd-machined keeps one file per running machine.
pub(super) const MACHINES_DIR: &str = "/run/systemd/machines";

/// A file that names the target's pid, and how to read the pid from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PidSource {
    /// A pid file, or containerd's `init.pid`: the decimal pid.
    Plain(PathBuf),
    /// systemd-machined's machine record: its `LEADER=` line.
    Machine { name: String, path: PathBuf },
}

impl PidSource {
    pub(super) fn path(&self) -> &Path {
        match self {
            PidSource::Plain(path) | PidSource::Machine { path, .. } => path,
        }
    }

    /// Reads the pid now; called once to resolve and once more to verify.
    pub(super) fn read_pid(&self) -> Result<Pid, Why> {
        let path = self.path();
        let text = read_root_file(path)?;
        match self {
            PidSource::Plain(_) => parse_pid(&text).ok_or_else(|| Why::NotAPid {
                path: path.to_path_buf(),
                start: text[..text.len().min(32)].to_vec(),
            }),
            PidSource::Machine { name, .. } => {
                machine_leader(&text).map_err(|record| Why::Machine {
                    name: name.clone(),
                    record,
                })
            }
        }
    }
}

/// `STATE/io.containerd.runtime.v2.task/NAMESPACE/ID/init.pid`, once both
/// names are checked to be containerd identifiers (so neither is a path).
pub(super) fn containerd_init_pid(state: &Path, namespace: &str, id: &str) -> Result<PathBuf, Why> {
    NameKind::ContainerdNamespace
        .check(namespace)
        .and_then(|()| NameKind::ContainerdId.check(id))
        .map_err(Why::Name)?;
    Ok(state
        .join("io.containerd.runtime.v2.task")
        .join(namespace)
        .join(id)
        .join("init.pid"))
}

/// `/run/systemd/machines/MACHINE`, once the name is checked to be a
/// machine name (a hostname, so not a path).
pub(super) fn machine_file(machine: &str) -> Result<PathBuf, Why> {
    NameKind::Machine.check(machine).map_err(Why::Name)?;
    Ok(Path::new(MACHINES_DIR).join(machine))
}

/// The `LEADER=` pid of a machine record; refuses a VM's (its leader is the
/// hypervisor, not a container init) and a record with none or several.
pub(super) fn machine_leader(text: &[u8]) -> Result<Pid, Record> {
    let text = std::str::from_utf8(text).map_err(|_| Record::NotUtf8)?;
    let mut leader = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("LEADER=") {
            if leader.is_some() {
                return Err(Record::SeveralLeaders);
            }
            let pid = parse_pid(value.as_bytes()).ok_or_else(|| Record::BadLeader(value.into()))?;
            leader = Some(pid);
        } else if let Some(class) = line.strip_prefix("CLASS=") {
            if class != "container" {
                return Err(Record::NotAContainer(class.into()));
            }
        }
    }
    leader.ok_or(Record::NoLeader)
}

/// Why a machine record names no container init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Record {
    NotUtf8,
    NoLeader,
    SeveralLeaders,
    /// The `LEADER=` value.
    BadLeader(String),
    /// The `CLASS=` value (a VM's is `vm`).
    NotAContainer(String),
}

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Record::NotUtf8 => f.write_str("record is not UTF-8"),
            Record::NoLeader => f.write_str("record has no LEADER= (machine not running?)"),
            Record::SeveralLeaders => f.write_str("record has more than one LEADER="),
            Record::BadLeader(value) => write!(f, "LEADER={value:?} is not a pid"),
            Record::NotAContainer(class) => write!(f, "is a {class:?}, not a container"),
        }
    }
}

/// The whole content of a small root-owned file, read as the configuration
/// is, but never through a symbolic link.
pub(super) fn read_root_file(path: &Path) -> Result<Vec<u8>, Why> {
    let source = Source::Path(path, Link::Refuse);
    reader::read(source, Bound::AtMost(MAX_FILE), Owner::Root).map_err(|not_read| Why::File {
        path: path.to_path_buf(),
        not_read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn machine_records() {
        let record = b"# This is private data. Do not parse.\nNAME=web\nSCOPE=machine-web.scope\n\
                       SERVICE=systemd-nspawn\nROOT=/var/lib/machines/web\nLEADER=4242\nCLASS=container\n";
        assert_eq!(machine_leader(record), Ok(Pid::new(4242).unwrap()));
        assert_eq!(machine_leader(b"LEADER=7"), Ok(Pid::new(7).unwrap()));
        for (bad, why) in [
            (&b"NAME=web\n"[..], "no LEADER"),
            (b"LEADER=1\nLEADER=2\n", "more than one"),
            (b"LEADER=0\n", "not a pid"),
            (b"LEADER= 12\n", "not a pid"),
            (b"LEADER=12\nCLASS=vm\n", "not a container"),
            (b"LEADER=\xff\n", "UTF-8"),
        ] {
            let err = machine_leader(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn names_never_become_paths() {
        let state = Path::new("/run/docker/containerd/daemon");
        assert_eq!(
            containerd_init_pid(state, "moby", "abc-1.x_2").unwrap(),
            Path::new("/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/abc-1.x_2/init.pid")
        );
        for (ns, id) in [
            ("moby", ".."),
            ("..", "x"),
            ("a/b", "x"),
            ("moby", "x/../y"),
            ("moby", ""),
            ("moby", "a..b"),
            ("moby", "-a"),
        ] {
            assert!(containerd_init_pid(state, ns, id).is_err(), "{ns} {id}");
        }
        assert!(containerd_init_pid(state, "moby", &"a".repeat(77)).is_err());
        assert_eq!(
            machine_file("web-1.x").unwrap(),
            Path::new("/run/systemd/machines/web-1.x")
        );
        for bad in ["", ".", "..", "a/b", ".hidden", "a b"] {
            assert!(machine_file(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn root_file_checks() {
        if crate::test_support::skip_without_root("root_file_checks", "the ownership checks") {
            return;
        }
        let dir = std::env::temp_dir().join(format!("nsgate-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let write = |name: &str, content: &[u8], mode: u32| {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        };
        let good = write("good.pid", b"1234\n", 0o644);
        assert_eq!(
            PidSource::Plain(good.clone()).read_pid().unwrap(),
            Pid::new(1234).unwrap()
        );
        let open = write("open.pid", b"1234\n", 0o664);
        assert!(read_root_file(&open)
            .unwrap_err()
            .to_string()
            .contains("writable by group or others (mode 0664)"));
        let other = write("other.pid", b"1234\n", 0o644);
        nix::unistd::chown(&other, Some(nix::unistd::Uid::from_raw(1000)), None).unwrap();
        assert!(read_root_file(&other)
            .unwrap_err()
            .to_string()
            .contains("owned by uid 1000, not root"));
        std::os::unix::fs::symlink(&good, dir.join("link.pid")).unwrap();
        assert!(read_root_file(&dir.join("link.pid"))
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
        nix::unistd::mkfifo(
            &dir.join("fifo.pid"),
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        )
        .unwrap();
        assert!(read_root_file(&dir.join("fifo.pid"))
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        assert!(read_root_file(&dir)
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        let big = write("big.pid", &vec![b'1'; (MAX_FILE + 1) as usize], 0o644);
        assert!(read_root_file(&big)
            .unwrap_err()
            .to_string()
            .contains("larger than 64 KiB"));
        let junk = write("junk.pid", b"12 34\n", 0o644);
        let err = PidSource::Plain(junk).read_pid().unwrap_err().to_string();
        assert!(err.contains("holds \"12 34\\n\", not a pid"), "{err}");
        assert!(read_root_file(&dir.join("missing"))
            .unwrap_err()
            .to_string()
            .starts_with("cannot open "));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
