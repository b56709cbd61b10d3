//! The container's users and groups, from its own `/etc/passwd` and
//! `/etc/group`, read after entering its mount namespace (never NSS there,
//! see CVE-2019-14271). Whoever controls the container writes these files,
//! so they are read only if regular and small, and parsed strictly: any
//! malformed line refuses the session.
#![forbid(unsafe_code)]

use crate::config::UserSpec;
use crate::reader::{self, Bound, NotRead, Owner, Source};
use crate::resolve::Pinned;
use crate::system::{self, Access, Gid, Uid};
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};

/// Why the container's users and groups do not give the credentials; each
/// names the file (`/etc/passwd`, `/etc/group`) it is about.
#[derive(Debug)]
pub(crate) enum Why {
    /// A link that leads nowhere.
    Dangling(&'static str),
    /// A file the reader refused.
    File(&'static str, NotRead),
    NotUtf8(&'static str),
    /// A malformed line, by number from 1.
    Line(&'static str, usize, Malformed),
    /// The uid or gid (`what`) of a user, or the gid of a group, by name.
    NotANumber {
        file: &'static str,
        what: &'static str,
        of: &'static str,
        name: String,
    },
    /// A user or group not found; whether the container has the file.
    NoUser {
        name: String,
        have_file: bool,
    },
    NoGroup {
        name: String,
        have_file: bool,
    },
}

/// What is wrong with a line of /etc/passwd or /etc/group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    ControlCharacter,
    /// The number of fields there, and the number wanted.
    Fields(usize, usize),
    InvalidName,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = MAX_FILE_BYTES >> 20;
        match self {
            Why::Dangling(path) => write!(f, "the container's {path} leads nowhere"),
            Why::File(path, not_read) => match not_read {
                NotRead::Io(step, e) => write!(f, "cannot {step} the container's {path}: {e}"),
                NotRead::NotRegular => write!(f, "the container's {path} is not a regular file"),
                NotRead::TooLarge => write!(f, "the container's {path} is larger than {mib} MiB"),
                // Not asked of the container's files; worded all the same.
                NotRead::Symlink => write!(f, "the container's {path} is a symbolic link"),
                NotRead::Owner(uid) => write!(f, "the container's {path} is owned by uid {uid}"),
                NotRead::Writable(_) => {
                    write!(f, "the container's {path} is writable by group or others")
                }
                NotRead::Directory(why) => write!(f, "the container's {path}: {why}"),
            },
            Why::NotUtf8(file) => write!(f, "{file} is not valid UTF-8"),
            Why::Line(file, n, malformed) => {
                write!(f, "{file} line {n}: ")?;
                match malformed {
                    Malformed::ControlCharacter => f.write_str("control character"),
                    Malformed::Fields(got, want) => write!(f, "{got} fields instead of {want}"),
                    Malformed::InvalidName => f.write_str("invalid name"),
                }
            }
            Why::NotANumber {
                file,
                what,
                of,
                name,
            } => write!(f, "{file}: {what} of {of} {name} is not a number"),
            Why::NoUser { name, have_file } => match have_file {
                true => write!(
                    f,
                    "user \"{name}\" not found in the container's /etc/passwd"
                ),
                false => write!(
                    f,
                    "user \"{name}\" not found: the container has no /etc/passwd"
                ),
            },
            Why::NoGroup { name, have_file } => match have_file {
                true => write!(
                    f,
                    "group \"{name}\" not found in the container's /etc/group"
                ),
                false => write!(
                    f,
                    "group \"{name}\" not found: the container has no /etc/group"
                ),
            },
        }
    }
}

/// Larger files are refused: no real passwd or group file comes close.
pub(super) const MAX_FILE_BYTES: u64 = 4 << 20;

/// One line of /etc/passwd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Passwd {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
    pub home: String,
    pub shell: String,
}

/// One line of /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Group {
    pub name: String,
    pub gid: Gid,
    pub members: Vec<String>,
}

/// Who the command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Credentials {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups, in the order docker exec sets them.
    pub groups: Vec<Gid>,
    /// The passwd entry's name, home and shell, where there is an entry.
    pub name: Option<String>,
    pub home: String,
    pub shell: Option<String>,
}

/// Reads `path` below `root` if it exists: `Ok(None)` when it does not.
/// Refuses anything but a regular file of at most [`MAX_FILE_BYTES`], and
/// never blocks (a FIFO opens at once and is then refused).
pub(super) fn read_file(root: BorrowedFd<'_>, path: &'static str) -> Result<Option<Vec<u8>>, Why> {
    let source = Source::InRoot(root, path);
    match reader::read(source, Bound::AtMost(MAX_FILE_BYTES), Owner::Anyone) {
        Ok(data) => Ok(Some(data)),
        // Missing only if nothing is there: a link that leads nowhere (such
        // as into a /proc that does not know us) is refused, not skipped.
        Err(NotRead::Io("open", e)) if system::is_not_found(&e) => {
            match system::open_in_root(root, path, Access::PathNoFollow) {
                Err(e) if system::is_not_found(&e) => Ok(None),
                _ => Err(Why::Dangling(path)),
            }
        }
        Err(not_read) => Err(Why::File(path, not_read)),
    }
}

/// For `--probe`: resolves each of `specs` as gate mode would, from the
/// pinned target's /etc/passwd and /etc/group read from the host side,
/// entering nothing. The files are opened below /proc/PID/root by
/// `read_file`, so they resolve inside the container's root, never out of
/// it, and are refused unless regular and small, as in gate mode.
pub(crate) fn check_from_host(
    pinned: &Pinned,
    specs: &[UserSpec],
) -> Result<Vec<Result<(), Why>>, Why> {
    let not_open = |e| Why::File("/", NotRead::Io("open", e));
    let dir = system::open_proc_dir(pinned.pid).map_err(not_open)?;
    // The directory is the pinned process's, not a successor's of its pid.
    system::pidfd_send_signal(pinned.pidfd.as_fd(), 0).map_err(not_open)?;
    let root = system::open_dir_path_at(dir.as_fd(), "root").map_err(not_open)?;
    let passwd = read_file(root.as_fd(), "/etc/passwd")?
        .map(|p| parse_passwd(&p))
        .transpose()?;
    let group = read_file(root.as_fd(), "/etc/group")?
        .map(|g| parse_group(&g))
        .transpose()?;
    Ok(specs
        .iter()
        .map(|spec| {
            resolve(
                spec,
                &pinned.runtime.group_add,
                passwd.as_deref(),
                group.as_deref(),
            )
            .map(drop)
        })
        .collect())
}

/// The lines of a colon-separated file with `fields` fields each; blank
/// lines and `#` comments are skipped, anything else malformed is refused.
fn records<'a>(
    text: &'a [u8],
    file: &'static str,
    fields: usize,
) -> Result<Vec<Vec<&'a str>>, Why> {
    let text = std::str::from_utf8(text).map_err(|_| Why::NotUtf8(file))?;
    let mut out = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why| Why::Line(file, n + 1, why);
        if line.chars().any(|c| c.is_control()) {
            return Err(bad(Malformed::ControlCharacter));
        }
        let parts: Vec<&str> = line.split(':').collect();
        if parts.len() != fields {
            return Err(bad(Malformed::Fields(parts.len(), fields)));
        }
        if !valid_name(parts[0]) {
            return Err(bad(Malformed::InvalidName));
        }
        out.push(parts);
    }
    Ok(out)
}

/// Names as shadow-utils accepts them, loosely: no blanks, commas or
/// leading `-`/`+` (NIS compat lines are not supported).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.starts_with(['-', '+'])
        && !name.contains([' ', ',', '\t'])
}

/// A decimal id; (uid_t)-1 is never a real one, which `Uid::new` and
/// `Gid::new` refuse.
fn parse_id(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok()
}

pub(super) fn parse_passwd(text: &[u8]) -> Result<Vec<Passwd>, Why> {
    let file = "/etc/passwd";
    records(text, file, 7)?
        .into_iter()
        .map(|f| {
            let bad = |what| Why::NotANumber {
                file,
                what,
                of: "user",
                name: f[0].into(),
            };
            Ok(Passwd {
                name: f[0].to_string(),
                uid: parse_id(f[2])
                    .and_then(Uid::new)
                    .ok_or_else(|| bad("uid"))?,
                gid: parse_id(f[3])
                    .and_then(Gid::new)
                    .ok_or_else(|| bad("gid"))?,
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

pub(super) fn parse_group(text: &[u8]) -> Result<Vec<Group>, Why> {
    let file = "/etc/group";
    records(text, file, 4)?
        .into_iter()
        .map(|f| {
            let gid = parse_id(f[2])
                .and_then(Gid::new)
                .ok_or_else(|| Why::NotANumber {
                    file,
                    what: "gid",
                    of: "group",
                    name: f[0].into(),
                })?;
            let members = f[3]
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            Ok(Group {
                name: f[0].to_string(),
                gid,
                members,
            })
        })
        .collect()
}

/// Resolves `spec` as `docker exec --user` does (runc's GetExecUser): a name
/// must have a passwd entry, a number need not; a passwd entry brings its
/// gid, home and supplementary groups (those listing the user by name),
/// unless a group is given; `group_add` (HostConfig.GroupAdd) is appended;
/// the primary gid always leads the supplementary groups.
pub(super) fn resolve(
    spec: &UserSpec,
    group_add: &[String],
    passwd: Option<&[Passwd]>,
    groups: Option<&[Group]>,
) -> Result<Credentials, Why> {
    let uid_arg = parse_id(&spec.user).and_then(Uid::new);
    let entry = passwd.unwrap_or(&[]).iter().find(|p| match uid_arg {
        // A number is always a uid, as under docker exec.
        Some(uid) => p.uid == uid,
        None => p.name == spec.user,
    });
    let mut creds = match (entry, uid_arg) {
        (Some(p), _) => Credentials {
            uid: p.uid,
            gid: p.gid,
            groups: Vec::new(),
            name: Some(p.name.clone()),
            home: if p.home.is_empty() {
                "/".to_string()
            } else {
                p.home.clone()
            },
            shell: Some(p.shell.clone()).filter(|s| !s.is_empty()),
        },
        (None, Some(uid)) => Credentials {
            uid,
            gid: Gid::ROOT,
            groups: Vec::new(),
            name: None,
            home: "/".to_string(),
            shell: None,
        },
        (None, None) => {
            return Err(Why::NoUser {
                name: spec.user.clone(),
                have_file: passwd.is_some(),
            })
        }
    };
    let all_groups = groups.unwrap_or(&[]);
    match &spec.group {
        Some(g) => creds.gid = find_group(g, all_groups, groups.is_some())?,
        None => {
            if let Some(name) = &creds.name {
                creds.groups = all_groups
                    .iter()
                    .filter(|g| g.members.iter().any(|m| m == name))
                    .map(|g| g.gid)
                    .collect();
            }
        }
    }
    for g in group_add {
        let gid = find_group(g, all_groups, groups.is_some())?;
        creds.groups.push(gid);
    }
    // The primary gid is a supplementary group too, as Docker and containerd
    // set it since CVE-2023-25173, so dropping it cannot grant access.
    creds.groups.insert(0, creds.gid);
    let mut seen = std::collections::HashSet::new();
    creds.groups.retain(|g| seen.insert(*g));
    Ok(creds)
}

/// A group by name (first entry wins) or number (entry optional).
fn find_group(arg: &str, groups: &[Group], have_file: bool) -> Result<Gid, Why> {
    let gid_arg = parse_id(arg).and_then(Gid::new);
    if let Some(g) = groups.iter().find(|g| match gid_arg {
        Some(gid) => g.gid == gid,
        None => g.name == arg,
    }) {
        return Ok(g.gid);
    }
    gid_arg.ok_or_else(|| Why::NoGroup {
        name: arg.into(),
        have_file,
    })
}

/// The gid of group `tty`, which owns a relayed terminal (as under docker exec).
pub(super) fn tty_gid(groups: Option<&[Group]>) -> Option<Gid> {
    groups?.iter().find(|g| g.name == "tty").map(|g| g.gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
app:x:1000:1000:App:/home/app:/bin/ash\n\
dup:x:1000:7::/dup:/bin/sh\n\
\n\
# a comment\n\
nohome:x:1001:1001:::\n";

    const GROUP: &[u8] = b"root:x:0:root\n\
wheel:x:10:root,app\n\
tty:x:5:\n\
app:x:1000:\n\
audio:x:29:app\n\
staff:x:50:\n";

    fn spec(user: &str, group: Option<&str>) -> UserSpec {
        UserSpec {
            user: user.to_string(),
            group: group.map(str::to_string),
        }
    }

    fn resolve_with(user: &str, group: Option<&str>, add: &[&str]) -> Result<Credentials, Why> {
        let p = parse_passwd(PASSWD).unwrap();
        let g = parse_group(GROUP).unwrap();
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve(&spec(user, group), &add, Some(&p), Some(&g))
    }

    #[test]
    fn resolves_like_docker_exec() {
        // (user, group, group_add) → (uid, gid, groups, home)
        type Row<'a> = (
            &'a str,
            Option<&'a str>,
            &'a [&'a str],
            u32,
            u32,
            &'a [u32],
            &'a str,
        );
        let table: &[Row<'_>] = &[
            ("root", None, &[], 0, 0, &[0, 10], "/root"),
            ("0", None, &[], 0, 0, &[0, 10], "/root"),
            ("app", None, &[], 1000, 1000, &[1000, 10, 29], "/home/app"),
            ("1000", None, &[], 1000, 1000, &[1000, 10, 29], "/home/app"),
            ("app", Some("staff"), &[], 1000, 50, &[50], "/home/app"),
            ("app", Some("4242"), &[], 1000, 4242, &[4242], "/home/app"),
            (
                "app",
                Some("tty"),
                &["audio", "77"],
                1000,
                5,
                &[5, 29, 77],
                "/home/app",
            ),
            ("1234", None, &[], 1234, 0, &[0], "/"),
            ("1234", Some("1234"), &[], 1234, 1234, &[1234], "/"),
            ("nohome", None, &[], 1001, 1001, &[1001], "/"),
        ];
        for (user, group, add, uid, gid, groups, home) in table {
            let c = resolve_with(user, *group, add).unwrap();
            let groups: Vec<Gid> = groups.iter().map(|g| Gid::new(*g).unwrap()).collect();
            assert_eq!(
                (Some(c.uid), Some(c.gid), c.groups, c.home.as_str()),
                (Uid::new(*uid), Gid::new(*gid), groups, *home),
                "{user}:{group:?} +{add:?}"
            );
        }
    }

    #[test]
    fn refuses_unknown_names() {
        assert!(resolve_with("nobody", None, &[])
            .unwrap_err()
            .to_string()
            .contains("\"nobody\" not found"));
        assert!(resolve_with("app", Some("nogroup"), &[])
            .unwrap_err()
            .to_string()
            .contains("\"nogroup\""));
        assert!(resolve_with("app", None, &["nogroup"])
            .unwrap_err()
            .to_string()
            .contains("\"nogroup\""));
        let e = resolve(&spec("app", None), &[], None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no /etc/passwd"), "{e}");
    }

    #[test]
    fn numbers_work_without_files() {
        let c = resolve(&spec("1000", Some("1000")), &["20".to_string()], None, None).unwrap();
        assert_eq!(
            (c.uid, c.gid, c.groups, c.home),
            (
                Uid::new(1000).unwrap(),
                Gid::new(1000).unwrap(),
                vec![Gid::new(1000).unwrap(), Gid::new(20).unwrap()],
                "/".to_string()
            )
        );
    }

    #[test]
    fn refuses_malformed_files() {
        for bad in [
            &b"root:x:0:0:root:/root\n"[..],
            b"root:x:zero:0:root:/root:/bin/sh\n",
            b"root:x:4294967295:0:root:/root:/bin/sh\n",
            b"root:x:-1:0:root:/root:/bin/sh\n",
            b"+::::::\n",
            b":x:0:0:root:/root:/bin/sh\n",
            b"root:x:0:0:r\x1boot:/root:/bin/sh\n",
            b"root:x:0:0:root:/root:/bin/sh\xff\n",
            b"\x00\x00\x00\x00",
        ] {
            assert!(parse_passwd(bad).is_err(), "{bad:?}");
        }
        assert!(parse_group(b"wheel:x:10\n").is_err());
        assert!(parse_group(b"wheel:x:ten:\n").is_err());
    }

    #[test]
    fn finds_the_tty_group() {
        let g = parse_group(GROUP).unwrap();
        assert_eq!(tty_gid(Some(&g)), Gid::new(5));
        assert_eq!(tty_gid(None), None);
    }
}
