//! One identity for many containers (issue 12, "Reach"), through the built
//! binary: a forced command without TARGET or with a comma list, the
//! listing a login without a request reads, `--list` for every key,
//! `--explain --fingerprint` and `--authorized-key` for several targets.
//! Exact output and exit codes, and the audit records from a socket of
//! the test's own.

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{is_root, private_dir, s, syslog_setting, write_trusted, Line, Value, NSGATE};

const FP: &str = "SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw";

/// The policy after its `set syslog-socket` line, so rule N is on line N+1.
const POLICY: &str = "\
target web1 docker web1 user app
target db1 pidfile /run/db.pid ns net env A=1
target web2 docker web2
permit alice on web1 cmd /bin/cat /srv/*.log
permit alice,bob on web1,db1 as root timeout 5m env \"B=x y\" cwd /srv cmd /bin/ls ...
permit SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw on * shell
permit * on db1 cmd /usr/bin/ss -tln
deny bob on db1
";

/// A private directory with the policy, and the socket its records reach.
struct World {
    dir: PathBuf,
    conf: PathBuf,
    syslog: UnixDatagram,
}

impl World {
    fn new(name: &str) -> World {
        World::with(name, POLICY)
    }

    fn with(name: &str, policy: &str) -> World {
        assert!(
            is_root(),
            "the CLI tests need root (the configuration must be root-owned); run them as root"
        );
        let dir = private_dir("nsgate-cli-reach", name);
        let socket = dir.join("log.sock");
        let syslog = UnixDatagram::bind(&socket).unwrap();
        syslog
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let conf = dir.join("nsgate.conf");
        write_trusted(&conf, &format!("{}\n{policy}", syslog_setting(&socket)));
        World { dir, conf, syslog }
    }

    fn c(&self) -> &str {
        s(&self.conf)
    }

    /// nsgate with these arguments after `--config`: (exit code, stdout, stderr).
    fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> (i32, String, String) {
        use std::io::Write;
        let mut child = Command::new(NSGATE)
            .args(["--config", self.c()])
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let out = child.wait_with_output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    fn admin(&self, args: &[&str]) -> (i32, String, String) {
        self.run(args, &[], "")
    }

    /// Gate mode with `request` as SSH_ORIGINAL_COMMAND (`None`: unset).
    fn gate(&self, args: &[&str], request: Option<&str>) -> (i32, String, String) {
        let mut env = vec![("PATH", "/usr/bin:/bin")];
        env.extend(request.map(|r| ("SSH_ORIGINAL_COMMAND", r)));
        self.run(args, &env, "")
    }

    /// The next record that reached the socket.
    fn record(&self) -> Line {
        let mut buf = vec![0u8; 9000];
        let n = self.syslog.recv(&mut buf).expect("an audit record");
        Line::datagram(std::str::from_utf8(&buf[..n]).unwrap())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn ok(out: &str) -> (i32, String, String) {
    (0, out.to_string(), String::new())
}

#[test]
fn list_without_a_key_shows_what_every_key_may_do() {
    let w = World::new("list");
    let c = w.c();
    let r4 = format!("{c}:5: permit alice on web1 cmd /bin/cat /srv/*.log");
    let r5 = format!(
        "{c}:6: permit alice,bob on web1,db1 as root timeout 5m cwd /srv env \"B=x y\" cmd /bin/ls ..."
    );
    let r6 = format!("{c}:7: permit {FP} on * shell");
    let r7 = format!("{c}:8: permit * on db1 cmd /usr/bin/ss -tln");
    assert_eq!(
        w.admin(&["--list"]),
        ok(&format!(
            "web1:\n  alice:\n    {r4}\n    {r5}\n  bob:\n    {r5}\n  {FP}:\n    {r6}\n\
             db1:\n  alice:\n    {r5}\n    {r7}\n  {FP}:\n    {r6}\n    {r7}\n  *:\n    {r7}\n\
             web2:\n  {FP}:\n    {r6}\n"
        ))
    );
    assert_eq!(
        w.admin(&["--list", "db1"]),
        ok(&format!(
            "alice:\n  {r5}\n  {r7}\n{FP}:\n  {r6}\n  {r7}\n*:\n  {r7}\n"
        ))
    );
    // One key on every target; with --fingerprint as if that key logged in.
    assert_eq!(
        w.admin(&["--key", "bob", "--list"]),
        ok(&format!(
            "web1:\n  {r5}\ndb1:\n  (nothing permitted)\nweb2:\n  (nothing permitted)\n"
        ))
    );
    assert_eq!(
        w.admin(&["--key", "bob", "--fingerprint", FP, "--list", "web2"]),
        ok(&format!("{r6}\n"))
    );
    // One key on one target: as before.
    assert_eq!(w.admin(&["--key", "bob", "--list", "db1"]), ok(""));
    assert_eq!(
        w.admin(&["--list", "web9"]),
        (2, String::new(), "nsgate: unknown target web9\n".into())
    );
}

#[test]
fn explain_shows_cwd_env_timeout_and_tty_and_takes_a_fingerprint() {
    let w = World::new("explain");
    let c = w.c();
    assert_eq!(
        w.admin(&["--key", "alice", "--explain", "db1", "/bin/ls -l"]),
        ok(&format!(
            "permit\nrule: {c}:6\nargv: \"/bin/ls\" \"-l\"\nuser: root\nns: net\ncwd: /srv\n\
             env: \"A=1\" \"B=x y\"\ntimeout: 300s\ntty: no\n"
        ))
    );
    // Without the fingerprint no rule gives carol a shell; with it, one does.
    assert_eq!(
        w.admin(&["--key", "carol", "--explain", "web2"]),
        (
            1,
            "deny\nrule: none\nargv: (interactive session)\n".into(),
            String::new()
        )
    );
    assert_eq!(
        w.admin(&["--key", "carol", "--fingerprint", FP, "--explain", "web2"]),
        ok(&format!(
            "permit\nrule: {c}:7\nargv: (interactive session)\nuser: (runtime default, else root)\n\
             ns: (every namespace that differs)\ncwd: (runtime default, else the user's home directory)\n\
             env: (none set by the configuration)\ntimeout: none\ntty: yes\n"
        ))
    );
    assert_eq!(
        w.admin(&["--fingerprint", FP, "--explain", "db1"]).1,
        format!(
            "permit\nrule: {c}:7\nargv: (interactive session)\nuser: root\nns: net\n\
             cwd: (the user's home directory)\nenv: \"A=1\"\ntimeout: none\ntty: yes\n"
        )
    );
    let (code, out, err) = w.admin(&["--fingerprint", "SHA256:x", "--explain", "db1"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with("nsgate: invalid fingerprint \"SHA256:x\" (write it as ssh-keygen -l prints it, SHA256:...)\nusage: "),
        "{err}"
    );
}

/// `command="nsgate --key alice"`: the request names the target first; an
/// empty login lists what the key may do; every other name is a denial
/// like any other.
#[test]
fn the_request_names_its_target_when_the_forced_command_gives_none() {
    let w = World::new("gate");
    // No request: the key's own permissions, exit 0, a list record.
    assert_eq!(
        w.gate(&["--key", "alice"], None),
        ok("web1: cmd /bin/cat /srv/*.log\n\
            web1: timeout 5m cmd /bin/ls ...\n\
            db1: timeout 5m cmd /bin/ls ...\n\
            db1: cmd /usr/bin/ss -tln\n")
    );
    let list = w.record();
    assert_eq!(list.priority, "authpriv.info");
    assert_eq!(
        (list.text("event"), list.text("key")),
        ("list".into(), "alice".into())
    );
    for missing in ["target", "rule", "cmd"] {
        assert_eq!(list.get(missing), Some(&Value::Missing), "{missing}");
    }
    assert_eq!(list.get("reason"), None);
    // A list limits both what is listed and what may be named.
    assert_eq!(
        w.gate(&["--key", "alice", "db1,web2"], None),
        ok("db1: timeout 5m cmd /bin/ls ...\ndb1: cmd /usr/bin/ss -tln\n")
    );
    assert_eq!(w.record().text("event"), "list");
    // Nothing permitted: still exit 0, and one line that says so.
    assert_eq!(
        w.gate(&["--key", "carol", "web1,web2"], None),
        (
            0,
            String::new(),
            "nsgate: this key is permitted nothing\n".into()
        )
    );
    assert_eq!(w.record().text("key"), "carol");

    // Not permitted, not in the list, no target, not a name: one denial.
    let denial = |target: &str| {
        (
            126,
            String::new(),
            format!("nsgate: denied: \"cat /x\" is not permitted on {target}\n"),
        )
    };
    for (args, request, target, recorded) in [
        (&["--key", "alice"][..], "web1 cat /x", "web1", "web1"),
        (&["--key", "alice"][..], "web9 cat /x", "web9", "web9"),
        (
            &["--key", "alice", "db1,web2"][..],
            "web1 cat /x",
            "web1",
            "web1",
        ),
        (&["--key", "alice"][..], "'a b' cat /x", "\"a b\"", "a b"),
        (&["--key", "alice"][..], "'' cat /x", "\"\"", ""),
    ] {
        assert_eq!(w.gate(args, Some(request)), denial(target), "{request}");
        let deny = w.record();
        assert_eq!(deny.priority, "authpriv.warning");
        assert_eq!(deny.text("event"), "deny");
        assert_eq!(deny.text("target"), recorded, "{request}");
        assert_eq!(deny.text("cmd"), request);
        assert_eq!(deny.get("rule"), Some(&Value::Missing));
        assert_eq!(
            deny.text("reason"),
            denial(target).2["nsgate: denied: ".len()..].trim_end()
        );
    }
    // The name alone asks for an interactive session there.
    assert_eq!(
        w.gate(&["--key", "alice"], Some("web9")),
        (
            126,
            String::new(),
            "nsgate: denied: an interactive session is not permitted on web9\n".into()
        )
    );
    assert_eq!(w.record().text("cmd"), "web9");
    // The parser refuses the whole request, target word included.
    let (code, out, err) = w.gate(&["--key", "alice"], Some("web1;id ls"));
    assert_eq!((code, out.as_str()), (126, ""));
    assert!(err.contains("nsgate runs no shell"), "{err}");
    let deny = w.record();
    assert_eq!(deny.get("target"), Some(&Value::Missing));

    // Set but empty is no listing: there is no target to name.
    let (code, out, err) = w.gate(&["--key", "alice"], Some(" "));
    assert_eq!((code, out.as_str()), (126, ""));
    assert_eq!(
        err,
        "nsgate: denied: empty command: nsgate runs no shell and needs a target name first \
         (send no command at all to see what this key may do)\n"
    );
    assert_eq!(w.record().text("event"), "deny");
    // A single TARGET keeps the request as the command.
    assert_eq!(
        w.gate(&["--key", "alice", "web1"], Some("web1 cat /x")),
        (
            126,
            String::new(),
            "nsgate: denied: \"web1 cat /x\" is not permitted on web1\n".into()
        )
    );
    assert_eq!(w.record().text("target"), "web1");
    // A malformed list is the admin's mistake: one line, 125.
    assert_eq!(
        w.gate(&["--key", "alice", "web1,"], Some("web1 ls")),
        (
            125,
            String::new(),
            "nsgate: invalid target list \"web1,\" (target names joined by single commas)\n".into()
        )
    );
}

/// The listing is audited before it is shown: without the record, nothing.
#[test]
fn the_listing_fails_closed_without_its_record() {
    let w = World::new("list-closed");
    let conf = w.dir.join("closed.conf");
    let gone = w.dir.join("no-such.sock");
    write_trusted(&conf, &format!("{}\n{POLICY}", syslog_setting(&gone)));
    let mut cmd = Command::new(NSGATE);
    let out = cmd
        .args(["--config", s(&conf), "--key", "alice"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(out.stdout, b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "nsgate: cannot write the audit record, so nothing was run\n"
    );
}

#[test]
fn authorized_key_for_every_target_or_a_list() {
    let w = World::new("authorized-key");
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGwm/o6mcb7adn0KwqwcOmsPssWFZjE4Vx7LzHW0f77e";
    let public = format!("{key} alice@laptop\n");
    let line = |args: &[&str]| w.run(args, &[], &public);
    let command = |rest: &str| format!("{NSGATE} --config {} {rest}", w.c());
    // This test key's fingerprint is FP, whose rule gives a shell anywhere.
    assert_eq!(
        line(&["--key", "alice", "--authorized-key"]),
        ok(&format!(
            "restrict,pty,command=\"{}\" {key} alice@laptop\n",
            command("--key alice")
        ))
    );
    assert_eq!(
        line(&["--key", "bob", "--authorized-key", "web1,db1"]),
        ok(&format!(
            "restrict,pty,command=\"{}\" {key} alice@laptop\n",
            command("--key bob web1,db1")
        ))
    );
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO850L58plWieF6FjkYTYwxUE7hYfNkHH3ko6yeHiVcu";
    let public = format!("{other} bob\n");
    let other_line = |args: &[&str]| w.run(args, &[], &public);
    assert_eq!(
        other_line(&["--key", "bob", "--authorized-key", "web1,db1"]),
        ok(&format!(
            "restrict,command=\"{}\" {other} bob\n",
            command("--key bob web1,db1")
        ))
    );
    assert_eq!(
        other_line(&["--key", "bob", "--authorized-key", "db1,web2"]),
        (
            1,
            String::new(),
            "nsgate: no rule permits this key anything on db1,web2\n".into()
        )
    );
    // Any key may run ss on db1: no TARGET reaches it.
    assert_eq!(
        other_line(&["--key", "carol", "--authorized-key"]),
        ok(&format!(
            "restrict,command=\"{}\" {other} bob\n",
            command("--key carol")
        ))
    );
    assert_eq!(
        other_line(&["--key", "carol", "--authorized-key", "web1,web2"]),
        (
            1,
            String::new(),
            "nsgate: no rule permits this key anything on web1,web2\n".into()
        )
    );
    assert_eq!(
        other_line(&["--key", "bob", "--authorized-key", "web1,web9"]),
        (2, String::new(), "nsgate: unknown target web9\n".into())
    );
}

/// `redact` still hides the secret when the request names its target: in
/// a denial (every glob applies) and past the permit (the rule's globs),
/// with the target's name kept as the client sent it.
#[test]
fn redaction_holds_when_the_request_names_its_target() {
    let w = World::with(
        "redact",
        "target db1 pidfile /nonexistent/db.pid\n\
         permit alice on db1 redact --password=* cmd /bin/login ...\n",
    );
    let mark = "<redacted:4c6bdd3ba6c7>"; // printf %s --password=hunter2 | sha256sum
    let (code, _, err) = w.gate(
        &["--key", "alice"],
        Some("web9 /bin/login --password=hunter2"),
    );
    assert_eq!(code, 126, "{err}");
    let deny = w.record();
    assert_eq!(deny.text("event"), "deny");
    assert_eq!(deny.text("cmd"), format!("web9 /bin/login {mark}"));
    assert_eq!(
        deny.text("reason"),
        format!("\"/bin/login {mark}\" is not permitted on web9")
    );
    // Permitted, then the pid file fails: the error record has the request.
    let (code, _, err) = w.gate(
        &["--key", "alice"],
        Some("db1 /bin/login '--password=hunter2'"),
    );
    assert_eq!(code, 125, "{err}");
    let error = w.record();
    assert_eq!(error.text("event"), "error");
    assert_eq!(error.text("cmd"), format!("db1 /bin/login {mark}"));
    for record in [&deny, &error] {
        assert!(!format!("{record:?}").contains("hunter2"), "{record:?}");
    }
}
