//! Joining the target's cgroups: every v1 hierarchy and the v2 tree the
//! target's init is in, through the host's cgroup mounts, so the container's
//! limits apply to the command and stopping the container stops it, and
//! refusing a container the cgroup freezer holds (`docker pause`), whose
//! init would never stop for the seccomp copy and which would freeze the
//! command as it joined.
//!
//! In one hierarchy (cgroup v2, else v1 `name=systemd`) the session gets a
//! cgroup of its own below the container's: every process of the session is
//! born into it, so nsgate knows the session's processes by construction and
//! can end them all, and only them (see nsgate(8), "Signals and the end of a
//! session").
#![forbid(unsafe_code)]

use crate::system::Pid;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Why the target's cgroups cannot be found or joined.
#[derive(Debug)]
pub(crate) enum Why {
    /// A hierarchy the target is in, mounted nowhere we can see: its id
    /// and controllers.
    NoMount(String, String),
    /// The target's cgroup path is not below the mount's root.
    OutsideMount {
        path: String,
        mount: String,
    },
    /// A `.` or `..` in the target's cgroup path.
    Suspicious(String),
    /// Neither cgroup v2 nor v1 `name=systemd`: nothing to track the session.
    NoTracking,
    NoSessionHierarchy,
    Open(PathBuf, std::io::Error),
    Read(PathBuf, std::io::Error),
    Create(PathBuf, std::io::Error),
    Join(PathBuf, std::io::Error),
    /// A line of /proc/PID/cgroup that is not `ID:CONTROLLERS:/PATH`.
    Line(String),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::NoMount(id, controllers) => {
                write!(f, "no mount of cgroup hierarchy {id}:{controllers}")
            }
            Why::OutsideMount { path, mount } => {
                write!(f, "cgroup {path} lies outside the mount {mount}")
            }
            Why::Suspicious(path) => write!(f, "suspicious cgroup path {path}"),
            Why::NoTracking => {
                f.write_str("no cgroup v2 or name=systemd hierarchy to hold the session")
            }
            Why::NoSessionHierarchy => f.write_str("no cgroup hierarchy to hold the session"),
            Why::Open(file, e) => write!(f, "cannot open {}: {e}", file.display()),
            Why::Read(file, e) => write!(f, "cannot read {}: {e}", file.display()),
            Why::Create(dir, e) => {
                write!(f, "cannot create the session cgroup {}: {e}", dir.display())
            }
            Why::Join(file, e) => write!(f, "cannot join cgroup {}: {e}", file.display()),
            Why::Line(line) => write!(f, "unexpected line in /proc/PID/cgroup: {line:?}"),
        }
    }
}

/// The file that says the target is frozen, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Frozen {
    /// A v1 `freezer.state` of FREEZING or FROZEN.
    Freezer(PathBuf, String),
    /// A v2 `cgroup.events` with `frozen 1`.
    Events(PathBuf),
    /// A v2 `cgroup.freeze` of 1.
    Freeze(PathBuf),
}

impl fmt::Display for Frozen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frozen::Freezer(file, state) => write!(f, "{} is {state}", file.display()),
            Frozen::Events(file) => write!(f, "{} says frozen 1", file.display()),
            Frozen::Freeze(file) => write!(f, "{} is 1", file.display()),
        }
    }
}

/// The target's cgroup in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// `ID:CONTROLLERS:` as in /proc/PID/cgroup.
    pub prefix: String,
    /// The cgroup's path as /proc/PID/cgroup shows it (from the hierarchy's root).
    pub path: String,
    /// The cgroup's directory on the host.
    pub dir: PathBuf,
    /// Where its hierarchy is mounted: the top of `dir`'s ancestors to look at.
    mount: PathBuf,
}

impl Hierarchy {
    /// A v1 hierarchy with the freezer controller.
    fn v1_freezer(&self) -> bool {
        self.prefix
            .split(':')
            .nth(1)
            .is_some_and(|c| c.split(',').any(|c| c == "freezer"))
    }

    /// The v2 (unified) hierarchy.
    fn v2(&self) -> bool {
        self.prefix == "0::"
    }

    /// Whether this is where the session's own cgroup goes: cgroup v2, else
    /// v1's controller-less `name=systemd`.
    fn tracks(&self) -> bool {
        self.prefix == "0::" || self.prefix.ends_with(":name=systemd:")
    }
}

/// The target's cgroups, from the target's `/proc/PID/cgroup`, ours, and our
/// `/proc/self/mountinfo`.
pub(super) fn hierarchies(target: &str, own: &str, mountinfo: &str) -> Result<Vec<Hierarchy>, Why> {
    let mounts: Vec<Mount> = mountinfo.lines().filter_map(Mount::parse).collect();
    let mut found = Vec::new();
    for line in target.lines().filter(|l| !l.is_empty()) {
        let (id, controllers, path) = split_line(line)?;
        let mount = mounts.iter().find(|m| {
            if controllers.is_empty() {
                m.fstype == "cgroup2"
            } else {
                m.fstype == "cgroup" && controllers.split(',').all(|c| m.options.contains(&c))
            }
        });
        let Some(mount) = mount else {
            // A hierarchy mounted nowhere we can see is only acceptable
            // where there is nothing to move: we already share its cgroup.
            let ours = own
                .lines()
                .filter_map(|l| split_line(l).ok())
                .find(|(i, c, _)| *i == id && *c == controllers);
            if path == "/" || ours.map(|(_, _, p)| p) == Some(path) {
                continue;
            }
            return Err(Why::NoMount(id.into(), controllers.into()));
        };
        let relative = if mount.root == "/" {
            path
        } else if path == mount.root {
            "/"
        } else {
            path.strip_prefix(mount.root.as_str())
                .filter(|rest| rest.starts_with('/'))
                .ok_or_else(|| Why::OutsideMount {
                    path: path.into(),
                    mount: mount.point.clone(),
                })?
        };
        let mut dir = PathBuf::from(&mount.point);
        for component in relative.split('/').filter(|c| !c.is_empty()) {
            if component == "." || component == ".." {
                return Err(Why::Suspicious(path.into()));
            }
            dir.push(component);
        }
        found.push(Hierarchy {
            prefix: format!("{id}:{controllers}:"),
            path: path.to_string(),
            dir,
            mount: PathBuf::from(&mount.point),
        });
    }
    if !found.iter().any(Hierarchy::tracks) {
        return Err(Why::NoTracking);
    }
    Ok(found)
}

/// Why the target is frozen or being frozen, if it is: a v1 freezer
/// cgroup whose `freezer.state` is FREEZING or FROZEN (the state combines
/// its own and its ancestors', which is all that `self_freezing` and
/// `parent_freezing` tell apart), or a v2 cgroup with `frozen 1` in its
/// `cgroup.events` or a `cgroup.freeze` of 1 in it or an ancestor (which
/// `frozen` only shows once every process has stopped). A file that does
/// not exist (a root cgroup, a kernel without v2 freezing) freezes nothing.
pub(super) fn frozen(cgroups: &[Hierarchy]) -> Result<Option<Frozen>, Why> {
    for cgroup in cgroups {
        if cgroup.v1_freezer() {
            let file = cgroup.dir.join("freezer.state");
            if let Some(state) = read_small(&file)? {
                let state = state.trim();
                if state != "THAWED" {
                    return Ok(Some(Frozen::Freezer(file, state.into())));
                }
            }
        }
        if cgroup.v2() {
            let file = cgroup.dir.join("cgroup.events");
            if let Some(events) = read_small(&file)? {
                if events.lines().any(|l| l == "frozen 1") {
                    return Ok(Some(Frozen::Events(file)));
                }
            }
            let mut dir: &Path = &cgroup.dir;
            while dir.starts_with(&cgroup.mount) {
                let file = dir.join("cgroup.freeze");
                if read_small(&file)?.is_some_and(|f| f.trim() == "1") {
                    return Ok(Some(Frozen::Freeze(file)));
                }
                match dir.parent() {
                    Some(parent) if dir != cgroup.mount => dir = parent,
                    _ => break,
                }
            }
        }
    }
    Ok(None)
}

/// A cgroup control file's few bytes; None if there is no such file.
fn read_small(path: &Path) -> Result<Option<String>, Why> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Why::Open(path.to_path_buf(), e)),
    };
    let mut text = String::new();
    file.take(4096)
        .read_to_string(&mut text)
        .map_err(|e| Why::Read(path.to_path_buf(), e))?;
    Ok(Some(text))
}

/// The session's own cgroup, below the target's in the tracking hierarchy;
/// removed when dropped (it must be empty by then).
#[derive(Debug)]
pub(crate) struct SessionCgroup {
    dir: PathBuf,
    /// The line /proc/PID/cgroup shows for a member.
    line: String,
    /// The target's cgroup.procs in the same hierarchy.
    parent_procs: PathBuf,
}

impl SessionCgroup {
    /// Creates `nsgate-NAME` below the target's cgroup.
    pub(crate) fn create(hierarchies: &[Hierarchy], name: &str) -> Result<SessionCgroup, Why> {
        // cgroup v2 where there is one: it can freeze and kill the session.
        let h = hierarchies
            .iter()
            .find(|h| h.prefix == "0::")
            .or_else(|| hierarchies.iter().find(|h| h.tracks()))
            .ok_or(Why::NoSessionHierarchy)?;
        let leaf = format!("nsgate-{name}");
        let dir = h.dir.join(&leaf);
        if let Err(e) = std::fs::create_dir(&dir) {
            return Err(Why::Create(dir, e));
        }
        Ok(SessionCgroup {
            line: format!("{}{}/{leaf}", h.prefix, h.path.trim_end_matches('/')),
            parent_procs: h.dir.join("cgroup.procs"),
            dir,
        })
    }

    /// The pids in the session (as the host sees them), from the kernel's
    /// own list; zombies are not in it.
    pub(crate) fn members(&self) -> std::io::Result<Vec<Pid>> {
        let text = std::fs::read_to_string(self.dir.join("cgroup.procs"))?;
        Ok(text
            .lines()
            .filter_map(|l| Pid::new(l.trim().parse().ok()?))
            .collect())
    }

    /// Whether any process is in the session, or in a cgroup below it
    /// (cgroup v2 says so for the whole subtree; v1 has only the list).
    pub(crate) fn populated(&self) -> std::io::Result<bool> {
        match std::fs::read_to_string(self.dir.join("cgroup.events")) {
            Ok(events) => Ok(events.lines().any(|l| l == "populated 1")),
            Err(_) => Ok(!self.members()?.is_empty()),
        }
    }

    /// Whether process `pid` is in the session now. With a pidfd opened
    /// before asking, a yes means the pidfd's process is a member, or has
    /// ended and its pid was taken by a new member.
    pub(crate) fn holds(&self, pid: Pid) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|text| text.lines().any(|l| l == self.line))
    }

    /// Freezes (or thaws) the session where the hierarchy can (cgroup v2):
    /// a frozen process cannot fork, so a look at the members then is whole.
    /// Returns whether it froze within a short wait.
    pub(crate) fn freeze(&self, on: bool) -> bool {
        if std::fs::write(self.dir.join("cgroup.freeze"), if on { "1" } else { "0" }).is_err() {
            return false;
        }
        if !on {
            return true;
        }
        for _ in 0..50 {
            let events =
                std::fs::read_to_string(self.dir.join("cgroup.events")).unwrap_or_default();
            if events.lines().any(|l| l == "frozen 1") {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        false
    }

    /// SIGKILL to every member at once, forks racing it included, where the
    /// kernel has cgroup.kill (Linux 5.14, cgroup v2). Returns whether it did.
    pub(crate) fn kill(&self) -> bool {
        std::fs::write(self.dir.join("cgroup.kill"), "1").is_ok()
    }

    /// Moves every member to the target's own cgroup: processes a `detach`
    /// rule leaves running become ordinary processes of the container.
    pub(crate) fn release(&self) -> std::io::Result<()> {
        let frozen = self.freeze(true);
        let mut result = Ok(());
        for _ in 0..100 {
            let members = self.members()?;
            if members.is_empty() {
                break;
            }
            for pid in members {
                // One that ended meanwhile is no longer to be moved.
                if let Err(e) = write_pid(&self.parent_procs, pid) {
                    if !crate::system::is_no_such_process(&e) {
                        result = Err(e);
                    }
                }
            }
        }
        if frozen {
            self.freeze(false);
        }
        result
    }
}

impl Drop for SessionCgroup {
    fn drop(&mut self) {
        // Busy if a member could not be ended; ENOENT if the runtime removed
        // the container's cgroups (with ours) first.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Moves process `pid` into the target's cgroups, and into the session's in
/// the tracking hierarchy; every write checked.
pub(super) fn join(
    hierarchies: &[Hierarchy],
    session: &SessionCgroup,
    pid: Pid,
) -> Result<(), Why> {
    for h in hierarchies {
        let file = if h.dir.join("cgroup.procs") == session.parent_procs {
            session.dir.join("cgroup.procs")
        } else {
            h.dir.join("cgroup.procs")
        };
        if let Err(e) = write_pid(&file, pid) {
            return Err(Why::Join(file, e));
        }
    }
    Ok(())
}

fn write_pid(file: &std::path::Path, pid: Pid) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(file)?;
    f.write_all(pid.to_string().as_bytes())
}

/// `ID:CONTROLLERS:PATH`; the path may itself contain colons.
fn split_line(line: &str) -> Result<(&str, &str, &str), Why> {
    let mut parts = line.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(id), Some(c), Some(path)) if path.starts_with('/') => Ok((id, c, path)),
        _ => Err(Why::Line(line.into())),
    }
}

struct Mount<'a> {
    root: String,
    point: String,
    fstype: &'a str,
    options: Vec<&'a str>,
}

impl<'a> Mount<'a> {
    /// One line of mountinfo: `ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS`.
    fn parse(line: &'a str) -> Option<Mount<'a>> {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 6 || right.len() < 3 {
            return None;
        }
        Some(Mount {
            root: unescape(left[3]),
            point: unescape(left[4]),
            fstype: right[0],
            options: right[2].split(',').collect(),
        })
    }
}

/// Mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
24 1 0:22 / / rw,relatime - ext4 /dev/vda rw
30 24 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/systemd rw,relatime shared:5 - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
36 24 0:32 /sub /mnt/with\\040space rw - cgroup cgroup rw,pids
";

    #[test]
    fn finds_every_hierarchy() {
        let target = "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n8:pids:/sub/docker/abc\n0::/system.slice/docker-abc.scope\n";
        let own = "9:name=systemd:/\n4:memory:/\n2:cpuacct:/\n1:cpu:/\n8:pids:/\n0::/\n";
        let files = hierarchies(target, own, MOUNTINFO).unwrap();
        let files: Vec<String> = files
            .iter()
            .map(|h| h.dir.join("cgroup.procs").display().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "/sys/fs/cgroup/systemd/docker/abc/cgroup.procs",
                "/sys/fs/cgroup/memory/docker/abc/cgroup.procs",
                "/sys/fs/cgroup/cpuacct/docker/abc/cgroup.procs",
                "/sys/fs/cgroup/cpu/docker/abc/cgroup.procs",
                "/mnt/with space/docker/abc/cgroup.procs",
                "/sys/fs/cgroup/unified/system.slice/docker-abc.scope/cgroup.procs",
            ]
        );
    }

    #[test]
    fn unmounted_hierarchies_only_where_nothing_moves() {
        let own = "5:devices:/x\n";
        let v2 = "0::/s\n";
        let only_v2 =
            |target: &str| hierarchies(&format!("{target}{v2}"), own, MOUNTINFO).map(|h| h.len());
        assert_eq!(only_v2("5:devices:/\n").unwrap(), 1);
        assert_eq!(only_v2("5:devices:/x\n").unwrap(), 1);
        assert!(only_v2("5:devices:/y\n").is_err());
        // Nowhere to hold the session.
        assert!(hierarchies("1:cpu:/a\n", own, MOUNTINFO).is_err());
    }

    #[test]
    fn knows_the_freezer_hierarchies() {
        let target = "6:freezer:/docker/abc\n4:memory:/docker/abc\n0::/system.slice/x.scope\n";
        let mountinfo = format!(
            "{MOUNTINFO}37 30 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
        );
        let found = hierarchies(target, "", &mountinfo).unwrap();
        let flags: Vec<(bool, bool)> = found.iter().map(|c| (c.v1_freezer(), c.v2())).collect();
        assert_eq!(flags, [(true, false), (false, false), (false, true)]);
        assert_eq!(found[0].dir, Path::new("/sys/fs/cgroup/freezer/docker/abc"));
        assert_eq!(found[2].mount, Path::new("/sys/fs/cgroup/unified"));
    }

    /// The checks on fake hierarchies in a directory: every state file, and
    /// a v2 freeze set on an ancestor, up to the mount but not above it.
    #[test]
    fn frozen_states() {
        let top = std::env::temp_dir().join(format!("nsgate-freezer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        let leaf = top.join("v2/parent/leaf");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::create_dir_all(top.join("v1/docker/abc")).unwrap();
        let v1 = Hierarchy {
            prefix: "6:freezer:".into(),
            path: "/docker/abc".into(),
            dir: top.join("v1/docker/abc"),
            mount: top.join("v1"),
        };
        let v2 = Hierarchy {
            prefix: "0::".into(),
            path: "/parent/leaf".into(),
            dir: leaf.clone(),
            mount: top.join("v2"),
        };
        let both = [v1.clone(), v2.clone()];
        let write = |path: PathBuf, text: &str| std::fs::write(path, text).unwrap();
        assert_eq!(frozen(&both).unwrap(), None);
        write(v1.dir.join("freezer.state"), "THAWED\n");
        write(leaf.join("cgroup.events"), "populated 1\nfrozen 0\n");
        write(leaf.join("cgroup.freeze"), "0\n");
        write(top.join("v2/parent/cgroup.freeze"), "0\n");
        // Above the mount: not this hierarchy's.
        write(top.join("cgroup.freeze"), "1\n");
        assert_eq!(frozen(&both).unwrap(), None);
        for state in ["FREEZING", "FROZEN"] {
            write(v1.dir.join("freezer.state"), &format!("{state}\n"));
            let why = frozen(&both).unwrap().unwrap().to_string();
            assert!(
                why.ends_with(&format!("abc/freezer.state is {state}")),
                "{why}"
            );
        }
        write(v1.dir.join("freezer.state"), "THAWED\n");
        write(top.join("v2/parent/cgroup.freeze"), "1\n");
        let why = frozen(&both).unwrap().unwrap().to_string();
        assert!(why.ends_with("v2/parent/cgroup.freeze is 1"), "{why}");
        write(top.join("v2/parent/cgroup.freeze"), "0\n");
        write(leaf.join("cgroup.events"), "populated 1\nfrozen 1\n");
        let why = frozen(&both).unwrap().unwrap().to_string();
        assert!(why.ends_with("leaf/cgroup.events says frozen 1"), "{why}");
        // Only the hierarchies that can freeze are looked at.
        assert_eq!(frozen(&[v1]).unwrap(), None);
        std::fs::remove_dir_all(&top).unwrap();
    }

    #[test]
    fn refuses_odd_paths() {
        let with_v2 = |line: &str| hierarchies(&format!("{line}0::/\n"), "", MOUNTINFO);
        assert!(with_v2("1:cpu:/a/../b\n").is_err());
        assert!(with_v2("8:pids:/elsewhere\n").is_err());
        assert!(with_v2("garbage\n").is_err());
    }
}
