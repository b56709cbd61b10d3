//! `--check`'s policy warnings, `--check --authorized-keys` and `--probe`:
//! exact output and exit codes of the built binary; `--probe` against real
//! Docker containers (NSGATE_E2E=1).

use std::fs;
use std::path::PathBuf;
use std::process::Command;

mod common;
use common::{
    e2e_with_containers, is_root, remove_containers, s, start_container, unique, Dir, NSGATE,
};

/// (exit code, stdout, stderr)
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(NSGATE)
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn require_root() {
    assert!(
        is_root(),
        "these tests need root (the configuration must be root-owned); run them as root"
    );
}

#[test]
fn check_warns_of_dead_and_shadowed_rules_and_unnamed_targets() {
    require_root();
    let dir = Dir::new("nsgate-probe", "warn");
    let conf = dir.file(
        "nsgate.conf",
        "target web1 docker web1\n\
         target spare docker spare1\n\
         permit alice on web1 cmd /bin/cat /var/log//x*\n\
         permit alice on web1 cmd /bin/ls /srv\n\
         deny * on web1 cmd /bin/ls ...\n",
    );
    let c = s(&conf);
    assert_eq!(
        run(&["--config", c, "--check"]),
        (
            0,
            String::new(),
            format!(
                "{c}:2: warning: no permit rule names target spare; every request to it is denied\n\
                 {c}:3: warning: the glob \"/var/log//x*\" has an empty, \".\" or \"..\" path component, which no argument may have; this rule never matches\n\
                 {c}:4: warning: this permit rule never decides: the later rule at line 5 matches every request it matches\n"
            )
        )
    );
}

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b";

#[test]
fn check_reads_authorized_keys_and_principals_files() {
    require_root();
    let dir = Dir::new("nsgate-probe", "keys");
    let conf = dir.file(
        "nsgate.conf",
        "target web1 docker web1\n\
         target db pidfile /run/db.pid\n\
         permit alice on web1 cmd /bin/ls\n\
         permit bob on web1,db shell\n",
    );
    let c = s(&conf);
    let keys = dir.file(
        "authorized_keys",
        &format!(
            "# root's keys\n\
             restrict,command=\"/usr/sbin/nsgate --config {c} --key alcie web1\" {KEY}\n\
             command=\"nsgate --config={c} --key bob web1,web9\" {KEY}\n\
             restrict,command=\"nsgate --config {c} --key bob db\" {KEY}\n\
             restrict,pty,command=\"nsgate --config {c} --key \\\"bob\\\" db\" {KEY}\n\
             restrict,command=\"nsgate --key alice web1\" {KEY}\n\
             restrict,command=\"nsgate --config {c} web1; id\" {KEY}\n\
             restrict,command=\"nsgate --config {c} web1 {KEY}\n\
             {KEY}\n\
             restrict,command=\"/bin/ls\" {KEY}\n"
        ),
    );
    let principals = dir.file(
        "principals",
        &format!(
            "alice\n\
             restrict,from=\"10.0.0.1,10.0.0.2\",command=\"nsgate --config {c} --key alice web1\" alice\n\
             restrict,command=\"nsgate --config {c} --key alice --list web1\" alice\n"
        ),
    );
    let (k, p) = (s(&keys), s(&principals));
    assert_eq!(
        run(&["--config", c, "--check", "--authorized-keys", k, "--authorized-keys", p]),
        (
            1,
            String::new(),
            format!(
                "{k}:2: warning: --key alcie: no rule names this label (a typo?)\n\
                 {k}:3: warning: no restrict: sshd gives this key port, agent and X11 forwarding; add restrict\n\
                 {k}:3: unknown target \"web9\"\n\
                 {k}:4: warning: no pty, but the key's rules on db give a terminal (shell or tty); add pty after restrict\n\
                 {k}:6: warning: the command reads --config /etc/nsgate.conf, not {c}; its label and targets are not checked\n\
                 {k}:7: cannot split the command \"nsgate --config {c} web1; id\" without a shell: unquoted ';'\n\
                 {k}:8: bad options (missing end quote); sshd refuses this line\n\
                 {p}:3: the command is not gate mode (an admin option)\n"
            )
        )
    );
    // Only warnings: exit 0. A file that cannot be read: exit 1.
    let good = dir.file(
        "good",
        &format!("restrict,command=\"nsgate --config {c} --key alcie web1\" {KEY}\n"),
    );
    assert_eq!(
        run(&["--config", c, "--check", "--authorized-keys", s(&good)]).0,
        0
    );
    let missing = dir.0.join("missing");
    assert_eq!(
        run(&["--config", c, "--check", "--authorized-keys", s(&missing)]),
        (
            1,
            String::new(),
            format!(
                "nsgate: cannot read {}: open: No such file or directory\n",
                s(&missing)
            )
        )
    );
    // Only with --check.
    let (code, _, err) = run(&["--config", c, "--authorized-keys", k, "--list", "web1"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("nsgate: --authorized-keys is only for --check\n"),
        "{err}"
    );
}

/// Removes the test's containers when it ends.
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        let names: Vec<&str> = self.0.iter().map(String::as_str).collect();
        remove_containers(&names);
    }
}

#[test]
fn probe_finds_missing_containers_stale_pid_files_and_missing_users() {
    let test = "probe_finds_missing_containers_stale_pid_files_and_missing_users";
    if !e2e_with_containers(test, "root and Docker") {
        return;
    }
    let good = unique("nsgate-probe-ok");
    let gone = unique("nsgate-probe-gone");
    let _containers = Containers(vec![good.clone()]);
    let id = start_container("docker-run", &good, &[]);
    let dir = Dir::new("nsgate-probe", "probe");
    // A pid no process has: the highest pid the kernel may hand out.
    let max: u32 = fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stale_pid = max - 1;
    assert!(!PathBuf::from(format!("/proc/{stale_pid}")).exists());
    let stale = dir.file("stale.pid", &format!("{stale_pid}\n"));
    let conf = dir.file(
        "nsgate.conf",
        &format!(
            "target web1 docker {good} user app\n\
             target web2 docker {good}\n\
             target gone docker {gone}\n\
             target stale pidfile {}\n\
             permit alice on web1 cmd /bin/ls\n\
             permit alice on web2 as root cmd /bin/ls\n\
             permit alice on web2 as deploy cmd /bin/id\n\
             permit * on gone,stale cmd /bin/ls\n",
            s(&stale)
        ),
    );
    let c = s(&conf);
    let (code, out, err) = run(&["--config", c, "--probe"]);
    let pid = common::engine_pid("docker", &good);
    assert_eq!(
        (code, out, err),
        (
            1,
            format!(
                "web1: ok (docker {}, pid {pid})\n\
                 web2: user \"deploy\" not found in the container's /etc/passwd (rule {c}:7)\n\
                 gone: docker container \"{gone}\" not found\n\
                 stale: pid {stale_pid} from {} is not running\n",
                &id[..12],
                s(&stale)
            ),
            String::new()
        )
    );
    // Every target ready: exit 0.
    let conf = dir.file(
        "ok.conf",
        &format!("target web1 docker {good}\npermit alice on web1 as app cmd /bin/ls\n"),
    );
    assert_eq!(
        run(&["--config", s(&conf), "--probe"]),
        (
            0,
            format!("web1: ok (docker {}, pid {pid})\n", &id[..12]),
            String::new()
        )
    );
}

#[test]
fn check_authorized_keys_finds_a_typo_against_a_live_configuration() {
    let test = "check_authorized_keys_finds_a_typo_against_a_live_configuration";
    if !e2e_with_containers(test, "root and Docker") {
        return;
    }
    let name = unique("nsgate-probe-keys");
    let _containers = Containers(vec![name.clone()]);
    start_container("docker-run", &name, &[]);
    let dir = Dir::new("nsgate-probe", "probe-keys");
    let conf = dir.file(
        "nsgate.conf",
        &format!("target web1 docker {name}\npermit deploy on web1 as app cmd /bin/ls\n"),
    );
    let c = s(&conf);
    let keys = dir.file(
        "authorized_keys",
        &format!(
            "restrict,command=\"/usr/sbin/nsgate --config {c} --key deploy web1\" {KEY}\n\
             restrict,command=\"/usr/sbin/nsgate --config {c} --key depoly web1\" {KEY}\n"
        ),
    );
    assert_eq!(
        run(&["--config", c, "--check", "--authorized-keys", s(&keys)]),
        (
            0,
            String::new(),
            format!(
                "{}:2: warning: --key depoly: no rule names this label (a typo?)\n",
                s(&keys)
            )
        )
    );
    assert_eq!(run(&["--config", c, "--probe"]).0, 0);
}
