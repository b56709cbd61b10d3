//! Joining the target's cgroups (§5): every v1 hierarchy and the v2 tree the
//! target's init is in, through the host's cgroup mounts, so the container's
//! limits apply to the command and stopping the container stops it.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;

/// The `cgroup.procs` files to write the command's pid into, from the
/// target's `/proc/PID/cgroup`, ours, and our `/proc/self/mountinfo`.
pub fn procs_files(target: &str, own: &str, mountinfo: &str) -> Result<Vec<PathBuf>, String> {
    let mounts: Vec<Mount> = mountinfo.lines().filter_map(Mount::parse).collect();
    let mut files = Vec::new();
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
            return Err(format!("no mount of cgroup hierarchy {id}:{controllers}"));
        };
        let relative = if mount.root == "/" {
            path
        } else if path == mount.root {
            "/"
        } else {
            path.strip_prefix(mount.root.as_str())
                .filter(|rest| rest.starts_with('/'))
                .ok_or_else(|| format!("cgroup {path} lies outside the mount {}", mount.point))?
        };
        let mut file = PathBuf::from(&mount.point);
        for component in relative.split('/').filter(|c| !c.is_empty()) {
            if component == "." || component == ".." {
                return Err(format!("suspicious cgroup path {path}"));
            }
            file.push(component);
        }
        file.push("cgroup.procs");
        files.push(file);
    }
    Ok(files)
}

/// Moves process `pid` into each of `files`, every write checked.
pub fn join(files: &[PathBuf], pid: i32) -> Result<(), String> {
    for file in files {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .map_err(|e| format!("cannot join cgroup {}: {e}", file.display()))?;
        f.write_all(pid.to_string().as_bytes())
            .map_err(|e| format!("cannot join cgroup {}: {e}", file.display()))?;
    }
    Ok(())
}

/// `ID:CONTROLLERS:PATH`; the path may itself contain colons.
fn split_line(line: &str) -> Result<(&str, &str, &str), String> {
    let mut parts = line.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(id), Some(c), Some(path)) if path.starts_with('/') => Ok((id, c, path)),
        _ => Err(format!("unexpected line in /proc/PID/cgroup: {line:?}")),
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
        let files = procs_files(target, own, MOUNTINFO).unwrap();
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
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
        assert!(procs_files("5:devices:/\n", own, MOUNTINFO)
            .unwrap()
            .is_empty());
        assert!(procs_files("5:devices:/x\n", own, MOUNTINFO)
            .unwrap()
            .is_empty());
        assert!(procs_files("5:devices:/y\n", own, MOUNTINFO).is_err());
    }

    #[test]
    fn refuses_odd_paths() {
        assert!(procs_files("1:cpu:/a/../b\n", "", MOUNTINFO).is_err());
        assert!(procs_files("8:pids:/elsewhere\n", "", MOUNTINFO).is_err());
        assert!(procs_files("garbage\n", "", MOUNTINFO).is_err());
    }
}
