//! The built binary's command line: exact output and exit codes of
//! `--check`, `--explain`, `--list` and gate-mode refusals.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

mod common;
use common::{audit, is_root, s, write_trusted, Dir, Line, NSGATE};

const CONFIG: &str = "\
# a small policy
target web1 docker web1 user app
target db pidfile /run/db.pid ns net
set max-command-bytes 200

permit alice on web1 cmd /bin/cat /srv/*.log
permit alice,bob on web1,db as root:root timeout 5m cmd /bin/ls ...
permit SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw on * shell
permit * on db cmd ss -tln
deny bob on db
";

fn nsgate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(NSGATE);
    cmd.args(args).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// (exit code, stdout, stderr)
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = nsgate(args, env);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn require_root() {
    // The configuration must be owned by root: these tests only mean something as root.
    assert!(
        is_root(),
        "the CLI tests need root (the configuration must be root-owned); run them as root"
    );
}

#[test]
fn check_accepts_a_good_file_and_prints_only_warnings() {
    require_root();
    let dir = Dir::new("nsgate-cli", "check-good");
    let conf = dir.file("nsgate.conf", CONFIG);
    let (code, out, err) = run(&["--config", s(&conf), "--check"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("{c}:9: warning: the program \"ss\" is not an absolute path; it is looked up in the container's PATH\n", c = s(&conf))
    );
}

#[test]
fn check_reports_every_error_and_exits_1() {
    require_root();
    let dir = Dir::new("nsgate-cli", "check-bad");
    let conf = dir.file(
        "bad.conf",
        "target web1 docker web1\npermit alice on web2 cmd ls\npermit * on web1 cmd ls ... x\nset syslog-facility nope\n",
    );
    let (code, out, err) = run(&["--check", "--config", s(&conf)], &[]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    let c = s(&conf);
    assert_eq!(
        err,
        format!(
            "{c}:2:17: unknown target \"web2\" (define it with a target line before rules that name it)\n\
             {c}:3:29: \"...\" must be the last word of the command\n\
             {c}:4:21: unknown syslog facility \"nope\"\n"
        )
    );
}

#[test]
fn check_refuses_runtime_names_that_resolution_would_refuse() {
    require_root();
    let dir = Dir::new("nsgate-cli", "check-names");
    let conf = dir.file(
        "names.conf",
        "target ok1 docker web1\n\
         target d1 docker a\n\
         target d2 docker ../etc\n\
         target p1 podman a\n\
         target c1 containerd moby/a..b\n\
         target c2 containerd ../x\n\
         target m1 nspawn .hidden\n\
         target m2 nspawn a_b\n",
    );
    let (code, out, err) = run(&["--config", s(&conf), "--check"], &[]);
    let c = s(&conf);
    let docker = "a letter or digit, then letters, digits, '_', '.' or '-'; 2 to 255 characters";
    let containerd =
        "letters and digits, with single '.', '_' or '-' between them; at most 76 characters";
    let machine = "letters, digits and '-', in labels joined by single '.', no label starting or ending with '-'; at most 64 characters";
    assert_eq!(
        (code, out.as_str(), err),
        (
            1,
            "",
            format!(
                "{c}:2:18: invalid docker container name \"a\" ({docker})\n\
                 {c}:3:18: invalid docker container name \"../etc\" ({docker})\n\
                 {c}:5:22: invalid containerd id \"a..b\" ({containerd})\n\
                 {c}:6:22: invalid containerd namespace \"..\" ({containerd})\n\
                 {c}:7:18: invalid machine name \".hidden\" ({machine})\n\
                 {c}:8:18: invalid machine name \"a_b\" ({machine})\n"
            )
        )
    );
}

#[test]
fn refuses_an_unsafe_configuration_file() {
    require_root();
    let dir = Dir::new("nsgate-cli", "unsafe");
    let conf = dir.file("nsgate.conf", CONFIG);
    let c = s(&conf);

    fs::set_permissions(&conf, fs::Permissions::from_mode(0o664)).unwrap();
    let want = format!("nsgate: refusing configuration {c}: writable by group or others\n");
    assert_eq!(
        run(&["--config", c, "--check"], &[]),
        (1, String::new(), want.clone())
    );
    // The client learns neither the path nor the mode: --check has them.
    let client = "nsgate: cannot load the configuration; an administrator can run nsgate --check\n";
    assert_eq!(
        run(&["--config", c, "web1"], &[("SSH_ORIGINAL_COMMAND", "ls")]),
        (125, String::new(), client.to_string())
    );
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o646)).unwrap();
    assert_eq!(run(&["--config", c, "--check"], &[]).0, 1);

    fs::set_permissions(&conf, fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&conf, Some(1000), Some(0)).unwrap();
    assert_eq!(
        run(&["--config", c, "--check"], &[]),
        (
            1,
            String::new(),
            format!("nsgate: refusing configuration {c}: not owned by root\n")
        )
    );

    let fifo = dir.0.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    assert_eq!(
        run(&["--config", s(&fifo), "--check"], &[]),
        (
            1,
            String::new(),
            format!(
                "nsgate: refusing configuration {}: not a regular file\n",
                s(&fifo)
            )
        )
    );
    assert_eq!(
        run(&["--config", s(&dir.0), "--check"], &[]),
        (
            1,
            String::new(),
            format!(
                "nsgate: refusing configuration {}: not a regular file\n",
                s(&dir.0)
            )
        )
    );
    // Nobody but root may be able to swap the file out from under nsgate.
    let open_dir = dir.0.join("open");
    fs::create_dir(&open_dir).unwrap();
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let inside = open_dir.join("nsgate.conf");
    write_trusted(&inside, CONFIG);
    assert_eq!(
        run(&["--config", s(&inside), "--check"], &[]),
        (
            1,
            String::new(),
            format!(
                "nsgate: refusing configuration {}: directory {} is writable by group or others\n",
                s(&inside),
                s(&open_dir)
            )
        )
    );
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&open_dir, Some(1000), None).unwrap();
    assert_eq!(
        run(&["--config", s(&inside), "--check"], &[]).2,
        format!(
            "nsgate: refusing configuration {}: directory {} is not owned by root\n",
            s(&inside),
            s(&open_dir)
        )
    );

    let missing = dir.0.join("missing");
    assert_eq!(
        run(&["--config", s(&missing), "--check"], &[]),
        (
            1,
            String::new(),
            format!(
                "nsgate: cannot read configuration {}: No such file or directory\n",
                s(&missing)
            )
        )
    );
    assert_eq!(
        run(&["--config", s(&missing), "web1"], &[]),
        (125, String::new(), client.to_string())
    );
}

#[test]
fn explain_decides_as_gate_mode_would() {
    require_root();
    let dir = Dir::new("nsgate-cli", "explain");
    let conf = dir.file("nsgate.conf", CONFIG);
    let c = s(&conf);
    let explain = |key: Option<&str>, target: &str, command: Option<&str>| {
        let mut args = vec!["--config", c];
        if let Some(key) = key {
            args.extend(["--key", key]);
        }
        args.extend(["--explain", target]);
        args.extend(command);
        run(&args, &[])
    };
    assert_eq!(
        explain(Some("alice"), "web1", Some("/bin/cat /srv/app.log")),
        (
            0,
            format!("permit\nrule: {c}:6\nargv: \"/bin/cat\" \"/srv/app.log\"\nuser: app\nns: (every namespace that differs)\n\
                     cwd: (runtime default, else /)\nenv: (none set by the configuration)\ntimeout: none\ntty: no\n"),
            String::new()
        )
    );
    assert_eq!(
        explain(Some("alice"), "web1", Some("/bin/cat /srv/../etc/shadow")),
        (
            1,
            "deny\nrule: none\nargv: \"/bin/cat\" \"/srv/../etc/shadow\"\n".to_string(),
            String::new()
        )
    );
    assert_eq!(
        explain(Some("bob"), "db", Some("/bin/ls -l '/a b'")),
        (
            1,
            format!("deny\nrule: {c}:10\nargv: \"/bin/ls\" \"-l\" \"/a b\"\n"),
            String::new()
        )
    );
    assert_eq!(
        explain(Some("alice"), "db", Some("/bin/ls -l '/a b'")),
        (
            0,
            format!("permit\nrule: {c}:7\nargv: \"/bin/ls\" \"-l\" \"/a b\"\nuser: root:root\nns: net\n\
                     cwd: /\nenv: (none set by the configuration)\ntimeout: 300s\ntty: no\n"),
            String::new()
        )
    );
    assert_eq!(
        explain(None, "db", Some("ss -tln")),
        (
            0,
            format!(
                "permit\nrule: {c}:9\nargv: \"ss\" \"-tln\"\nuser: root\nns: net\ncwd: /\n\
                     env: (none set by the configuration)\ntimeout: none\ntty: no\n"
            ),
            String::new()
        )
    );
    assert_eq!(
        explain(Some("alice"), "web1", None),
        (
            1,
            "deny\nrule: none\nargv: (interactive session)\n".to_string(),
            String::new()
        )
    );
    let (code, out, _) = explain(Some("alice"), "web1", Some("/bin/cat /srv/x.log; id"));
    assert_eq!(code, 1);
    assert!(out.starts_with("deny\nreason: "), "{out}");
    assert!(out.contains("nsgate runs no shell"), "{out}");
    assert_eq!(
        explain(Some("alice"), "nope", Some("ls")),
        (
            2,
            String::new(),
            "nsgate: unknown target nope\n".to_string()
        )
    );
    assert_eq!(explain(Some("bad label"), "web1", Some("ls")).0, 2);
}

/// After `--explain TARGET` the next word is COMMAND, whatever it looks
/// like: a request that starts with `-` is explained, never obeyed.
#[test]
fn explain_takes_any_word_after_its_target_as_the_command() {
    require_root();
    let dir = Dir::new("nsgate-cli", "explain-dash");
    let conf = dir.file(
        "nsgate.conf",
        "target web1 docker web1\npermit alice on web1 cmd --version\n",
    );
    let c = s(&conf);
    let explain = |words: &[&str]| {
        let mut args = vec!["--config", c, "--key", "alice", "--explain", "web1"];
        args.extend(words);
        run(&args, &[])
    };
    let denied = |argv: &str| {
        (
            1,
            format!("deny\nrule: none\nargv: {argv}\n"),
            String::new(),
        )
    };
    assert_eq!(
        explain(&["--version"]),
        (
            0,
            format!(
                "permit\nrule: {c}:2\nargv: \"--version\"\nuser: (runtime default, else root)\nns: (every namespace that differs)\n\
                 cwd: (runtime default, else /)\nenv: (none set by the configuration)\ntimeout: none\ntty: no\n"
            ),
            String::new()
        )
    );
    for request in [
        "-h",
        "--help",
        "--check",
        "--list",
        "--explain",
        "--key",
        "--config=/x",
    ] {
        assert_eq!(
            explain(&[request]),
            denied(&format!("\"{request}\"")),
            "{request}"
        );
    }
    assert_eq!(explain(&["--version -x"]), denied("\"--version\" \"-x\""));
    assert_eq!(explain(&["--"]), denied("\"--\""));
    // The form earlier versions needed still works: `--` before COMMAND.
    assert_eq!(explain(&["--", "-x"]), denied("\"-x\""));
    // The TARGET is the word after --explain too: no option is read there.
    assert_eq!(
        run(&["--config", c, "--explain", "--check", "ls"], &[]),
        (2, String::new(), "nsgate: unknown target --check\n".into())
    );
    // Nothing may follow COMMAND, not even an option.
    for extra in [
        &["ls", "x"][..],
        &["ls", "--key", "bob"],
        &["--", "-x", "y"],
    ] {
        let (code, out, err) = explain(extra);
        assert_eq!((code, out.as_str()), (2, ""), "{extra:?}");
        assert!(
            err.starts_with("nsgate: too many arguments\nusage: nsgate "),
            "{extra:?}: {err}"
        );
    }
}

/// Whether a usage error is the admin's (usage text, exit 2) or the
/// client's (one line, 125) follows the parse: option values and the words
/// after `--` or `--explain TARGET` never count as a mode option.
#[test]
fn usage_errors_go_to_whoever_the_mode_is_for() {
    for (args, code, message) in [
        (
            &["--key", "--help", "web1"][..],
            125,
            "invalid key label \"--help\" (letters, digits, '.', '_', '-', '@', at most 64)",
        ),
        (
            &["--key", "-h", "web1", "extra"][..],
            125,
            "invalid key label \"-h\" (letters, digits, '.', '_', '-', '@', at most 64)",
        ),
        (&["web1", "--", "--check"][..], 125, "too many arguments"),
        (&["--bogus", "--check"][..], 2, "unknown option \"--bogus\""),
        (
            &["--check", "--explain", "web1", "ls"][..],
            2,
            "give only one of --check, --explain, --list, --authorized-key, --authorized-principal, --probe, --version, --help",
        ),
        (&["web1", "--explain", "web2"][..], 2, "too many arguments"),
        (&["--explain=web1"][..], 2, "--explain takes no value"),
    ] {
        let (got, out, err) = run(args, &[]);
        assert_eq!((got, out.as_str()), (code, ""), "{args:?}");
        let line = format!("nsgate: {message}\n");
        if code == 125 {
            assert_eq!(err, line, "{args:?}");
        } else {
            assert!(
                err.starts_with(&format!("{line}usage: nsgate ")),
                "{args:?}: {err}"
            );
        }
    }
}

#[test]
fn list_shows_the_rules_that_could_permit() {
    require_root();
    let dir = Dir::new("nsgate-cli", "list");
    let conf = dir.file("nsgate.conf", CONFIG);
    let c = s(&conf);
    assert_eq!(
        run(&["--config", c, "--key", "alice", "--list", "db"], &[]),
        (
            0,
            format!(
                "{c}:7: permit alice,bob on web1,db as root:root timeout 5m cmd /bin/ls ...\n\
                 {c}:9: permit * on db cmd ss -tln\n"
            ),
            String::new()
        )
    );
    assert_eq!(
        run(&["--config", c, "--key", "bob", "--list", "db"], &[]),
        (0, String::new(), String::new())
    );
}

#[test]
fn gate_mode_denials_say_one_line_and_exit_126() {
    require_root();
    let dir = Dir::new("nsgate-cli", "gate");
    let conf = dir.file("nsgate.conf", CONFIG);
    let c = s(&conf);
    let gate = |key: &str, target: &str, command: Option<&str>| {
        let mut env = vec![("PATH", "/usr/bin:/bin")];
        env.extend(command.map(|cmd| ("SSH_ORIGINAL_COMMAND", cmd)));
        run(&["--config", c, "--key", key, target], &env)
    };
    assert_eq!(
        gate("alice", "web1", Some("cat /etc/shadow")),
        (
            126,
            String::new(),
            "nsgate: denied: \"cat /etc/shadow\" is not permitted on web1\n".into()
        )
    );
    assert_eq!(
        gate("alice", "web1", None),
        (
            126,
            String::new(),
            "nsgate: denied: an interactive session is not permitted on web1\n".into()
        )
    );
    assert_eq!(
        gate("bob", "db", Some("/bin/ls")),
        (
            126,
            String::new(),
            "nsgate: denied: \"/bin/ls\" is not permitted on db\n".into()
        )
    );
    for bad in [
        "ls; id",
        "ls | sh",
        "ls $(id)",
        "ls `id`",
        "ls && id",
        "ls > /x",
        "ls # x",
        "",
        "   ",
        "ls 'x",
        "ls \\",
        "ls\nid",
        "ls \u{1b}[2J",
    ] {
        let (code, out, err) = gate("alice", "web1", Some(bad));
        assert_eq!((code, out.as_str()), (126, ""), "{bad:?}");
        assert!(err.starts_with("nsgate: denied: "), "{bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        assert!(err.contains("nsgate runs no shell"), "{bad:?}: {err}");
    }
    let long = format!("/bin/ls {}", "x".repeat(300));
    let (code, _, err) = gate("alice", "web1", Some(&long));
    assert_eq!(code, 126, "{err}");
    assert_eq!(
        gate("alice", "web9", Some("ls")),
        (125, String::new(), "nsgate: unknown target web9\n".into())
    );
}

#[test]
fn gate_mode_does_not_reveal_configuration_errors() {
    require_root();
    let dir = Dir::new("nsgate-cli", "gate-bad");
    let conf = dir.file(
        "nsgate.conf",
        "target web1 docker web1\npermit secret-rule on web2 cmd ls\n",
    );
    let (code, out, err) = run(
        &["--config", s(&conf), "web1"],
        &[("SSH_ORIGINAL_COMMAND", "ls")],
    );
    assert_eq!((code, out.as_str()), (125, ""));
    assert_eq!(
        err,
        "nsgate: the configuration is invalid; an administrator can run nsgate --check\n"
    );
    // The administrator's --check has the details.
    let (code, _, err) = run(&["--config", s(&conf), "--check"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "{}:2:23: unknown target \"web2\" (define it with a target line before rules that name it)\n",
            s(&conf)
        )
    );
}

/// A failure of nsgate itself: the client reads what failed and the session,
/// the audit record (read here from a socket of the test's own) the details.
#[test]
fn gate_mode_failures_name_the_session_not_the_host() {
    require_root();
    let dir = Dir::new("nsgate-cli", "gate-fail");
    let socket = dir.0.join("log.sock");
    let syslog = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    syslog
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let conf = dir.file(
        "nsgate.conf",
        &format!(
            "set syslog-socket {}\ntarget web1 docker web1\npermit * on web1 cmd /bin/true\n",
            s(&socket)
        ),
    );
    let auth = dir.0.join("no-such-auth");
    let (code, out, err) = run(
        &["--config", s(&conf), "--key", "alice", "web1"],
        &[
            ("SSH_ORIGINAL_COMMAND", "/bin/true"),
            ("SSH_USER_AUTH", s(&auth)),
        ],
    );
    let mut buf = vec![0u8; 8192];
    let n = syslog.recv(&mut buf).unwrap();
    let datagram = String::from_utf8(buf[..n].to_vec()).unwrap();
    let record = Line::datagram(&datagram);
    assert_eq!(record.priority, "authpriv.err");
    let field = |name: &str| record.text(name);
    assert_eq!(field("event"), "error");
    assert_eq!(
        field("reason"),
        format!(
            "cannot read SSH_USER_AUTH {}: No such file or directory",
            s(&auth)
        )
    );
    assert_eq!(
        (code, out, err),
        (
            125,
            String::new(),
            format!(
                "nsgate: cannot read SSH_USER_AUTH (session {}; the audit record has the details)\n",
                field("sid")
            )
        )
    );
}

#[test]
fn output_errors_are_exit_codes_not_panics() {
    require_root();
    let dir = Dir::new("nsgate-cli", "output");
    let conf = dir.file("nsgate.conf", CONFIG);
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(NSGATE)
        .args(["--config", s(&conf), "--key", "alice", "--list", "db"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "nsgate: cannot write the output: No space left on device\n"
    );
    // A reader that went away early (`| head -1`) is no error.
    let mut child = Command::new(NSGATE)
        .args(["--config", s(&conf), "--key", "alice", "--list", "db"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(0), String::new())
    );
    // A denial whose stderr cannot be written is still a denial.
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let status = Command::new(NSGATE)
        .args(["--config", s(&conf), "--key", "alice", "web1"])
        .env_clear()
        .env("SSH_ORIGINAL_COMMAND", "cat /etc/shadow")
        .stderr(full)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(126));
}

#[test]
fn usage_errors() {
    assert_eq!(
        run(&["--version"], &[]),
        (
            0,
            format!("nsgate {}\n", env!("CARGO_PKG_VERSION")),
            String::new()
        )
    );
    assert!(run(&["--help"], &[]).1.starts_with("usage: nsgate"));
    for (args, code) in [
        (&["web1,"][..], 125),
        (&["--frobnicate", "web1"][..], 125),
        (&["--check", "extra"][..], 2),
        (&["--explain"][..], 2),
        (&["--check", "--list", "x"][..], 2),
        (&["--check=yes"][..], 2),
        (&["--list=web1"][..], 2),
        (&["--key"][..], 125),
        (&["--key", "a", "--key", "b", "web1"][..], 125),
        (&["--key", "-x", "web1"][..], 125),
    ] {
        let (got, out, err) = run(args, &[]);
        assert_eq!((got, out.as_str()), (code, ""), "{args:?}");
        assert!(err.starts_with("nsgate: "), "{args:?}: {err}");
        if code == 125 {
            // Gate mode: the client gets one line, not the usage text.
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
    }
}

/// The tests' own audit decoder (tests/common/audit.rs) takes the manual's
/// records apart and refuses what the manual does not allow, so that a
/// malformed record fails a test instead of decoding to something.
#[test]
fn the_tests_audit_decoder_is_strict() {
    let head = "<86>Nov  9 09:15:02 nsgate[4711]: ";
    let fields = "v=1 sid=9f2c0b71aa55e1f09f2c0b71aa55e1f0 event=allow key=alice \
fp=SHA256:nh3L/x+y from=[2001:db8::1]:22 target=web1 container=- pid=4242 user=app \
ns=mnt,uts rule=/etc/nsgate.conf:12";
    // Every record ends with its place in the hash chain.
    let chained = format!(" seq=7 chain={}", "0a".repeat(32));
    let good = format!(
        "{head}{fields} cmd=\"a\\\"b\\\\\\x0A\\xFF\" reason=\"\" status=0 duration_ms=87{chained}"
    );
    let line = Line::datagram(&good);
    assert_eq!(line.priority, "authpriv.info");
    assert_eq!(line.pid, 4711);
    assert_eq!(line.bytes("cmd"), Some(&b"a\"b\\\n\xff"[..]));
    assert_eq!(line.get("container"), Some(&audit::Value::Missing));
    assert_eq!(line.text("from"), "[2001:db8::1]:22");
    assert_eq!(line.bytes("reason"), Some(&b""[..]));
    let interactive = format!("{head}{fields} cmd=-{chained}");
    assert_eq!(
        Line::datagram(&interactive).get("cmd"),
        Some(&audit::Value::Missing)
    );

    for bad in [
        "<86>Nov  9 09:15:02 nsgate[4711]:",
        "<86> Nov  9 09:15:02 nsgate[4711]: v=1",
        "<86>Nov 09 09:15:02 nsgate[4711]: v=1",
        "<86>Nov  9 9:15:02 nsgate[4711]: v=1",
        "<86>Nox  9 09:15:02 nsgate[4711]: v=1",
        "<86>Nov  9 24:15:02 nsgate[4711]: v=1",
        "<86>Nov  9 09:15:02 sshd[4711]: v=1",
        "<86>Nov  9 09:15:02 nsgate[x]: v=1",
        "<192>Nov  9 09:15:02 nsgate[1]: v=1",
        "86>Nov  9 09:15:02 nsgate[1]: v=1",
    ] {
        assert!(
            audit::parse_frame(bad).is_err()
                || audit::parse_message(audit::parse_frame(bad).unwrap().message).is_err(),
            "{bad:?}"
        );
    }
    for tail in [
        "cmd=\"x\" ",
        "cmd=\"x\"  status=0",
        "cmd=\"abc",
        "cmd=\"a\\",
        "cmd=\"a\\q\"",
        "cmd=\"\\x4\"",
        "cmd=\"\\x4g\"",
        "cmd=\"\\x41\"",
        "cmd=\"a\"b",
        "cmd=a\"b\"",
        "cmd=ab",
        "cmd=\"a\tb\"",
        "cmd=\"\u{e9}\"",
        "cmd=\"x\" reason=bare",
        "cmd=\"x\" status=0 signal=SIGKILL",
        "cmd=\"x\" duration_ms=1 status=0",
        "cmd=\"x\" bogus=1",
        "cmd=\"x\" status=",
        "cmd=\"x\" status=\"0\"",
        "cmd=\"x\" status=a\\b",
        "cmd=\"x\" cmd=\"y\"",
    ] {
        let message = format!("{fields} {tail}");
        assert!(audit::parse_message(&message).is_err(), "{tail:?}");
    }
    // Every field up to cmd is in every record, in the manual's order.
    assert!(audit::parse_message("v=1 sid=1 event=deny cmd=\"x\"").is_err());
    let swapped = fields
        .replace("key=alice fp=", "fp=")
        .replace(" from=", " key=alice from=");
    assert!(audit::parse_message(&format!("{swapped} cmd=\"x\"")).is_err());
    assert!(audit::parse_message(&format!("{}  cmd=\"x\"", fields.replace("v=1", "v=2"))).is_err());
    assert!(audit::parse_message(&format!("{} cmd=\"x\"", fields.replace("v=1", "v=2"))).is_err());
    // The severity must be the event's.
    let warning = good.replace("<86>", "<84>");
    assert!(std::panic::catch_unwind(|| Line::datagram(&warning)).is_err());
}

/// nsgate with `stdin` on its standard input: (exit code, stdout, stderr).
fn run_with_input(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(NSGATE)
        .args(args)
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn authorized_key_prints_a_ready_line_with_restrict_and_pty_only_where_needed() {
    require_root();
    let dir = Dir::new("nsgate-cli", "authorized-key");
    let conf = dir.file(
        "nsgate.conf",
        "target web1 docker web1\n\
         target db docker db1\n\
         permit alice on web1 cmd /bin/cat /etc/hostname\n\
         permit alice on db shell\n\
         permit SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw on web1 cmd /bin/true\n",
    );
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGwm/o6mcb7adn0KwqwcOmsPssWFZjE4Vx7LzHW0f77e";
    let pub_file = format!("{key} alice@laptop\n");
    let line = |key_label: Option<&str>, target: &str| {
        let mut args = vec!["--config", s(&conf)];
        if let Some(label) = key_label {
            args.extend(["--key", label]);
        }
        args.extend(["--authorized-key", target]);
        run_with_input(&args, &pub_file)
    };
    let command = |rest: &str| format!("{NSGATE} --config {} {rest}", s(&conf));
    // Commands only: restrict, no pty.
    assert_eq!(
        line(Some("alice"), "web1"),
        (
            0,
            format!(
                "restrict,command=\"{}\" {key} alice@laptop\n",
                command("--key alice web1")
            ),
            String::new()
        )
    );
    // A shell rule needs a terminal: pty is added back.
    assert_eq!(
        line(Some("alice"), "db"),
        (
            0,
            format!(
                "restrict,pty,command=\"{}\" {key} alice@laptop\n",
                command("--key alice db")
            ),
            String::new()
        )
    );
    // Rules naming the key's fingerprint count without a label.
    assert_eq!(line(None, "web1").0, 0);
    // A key nothing permits gets no line.
    assert_eq!(
        line(Some("bob"), "db"),
        (
            1,
            String::new(),
            "nsgate: no rule permits this key anything on db\n".into()
        )
    );
    // Junk, or a key whose blob names another type, is refused.
    for junk in [
        "hello\n",
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGwm/o6mcb7adn0KwqwcOmsPssWFZjE4Vx7LzHW0f77e\n",
        "ssh-ed25519 not-base64\n",
    ] {
        let (code, out, err) =
            run_with_input(&["--config", s(&conf), "--authorized-key", "web1"], junk);
        assert_eq!((code, out.as_str()), (2, ""), "{junk}");
        assert!(
            err.starts_with("nsgate: standard input holds no public key"),
            "{err}"
        );
    }
}

/// `--principal` asks as a certificate from a trusted CA would, and
/// `--authorized-principal` writes the AuthorizedPrincipalsFile line.
#[test]
fn principals_for_explain_list_and_authorized_principal() {
    require_root();
    let dir = Dir::new("nsgate-cli", "principals");
    let text = "target web1 docker web1\n\
                target db docker db1\n\
                permit principal:ops on web1 cmd /bin/cat /etc/hostname\n\
                permit principal:dba on db shell\n";
    let ca = "set trusted-ca SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og\n";
    let conf = dir.file("nsgate.conf", &format!("{ca}{text}"));
    let c = s(&conf);
    let explain = |who: &[&str]| {
        let mut args = vec!["--config", c];
        args.extend(who);
        args.extend(["--explain", "web1", "/bin/cat /etc/hostname"]);
        run(&args, &[]).0
    };
    assert_eq!(explain(&["--principal", "ops"]), 0);
    assert_eq!(explain(&["--principal", "dba"]), 1);
    assert_eq!(explain(&["--key", "ops"]), 1);
    assert_eq!(
        run(&["--config", c, "--principal", "dba", "--list", "db"], &[]),
        (
            0,
            format!("{c}:5: permit principal:dba on db shell\n"),
            String::new()
        )
    );
    let command = |rest: &str| format!("{NSGATE} --config {c} {rest}");
    assert_eq!(
        run(
            &["--config", c, "--authorized-principal", "ops", "web1"],
            &[]
        ),
        (
            0,
            format!("restrict,command=\"{}\" ops\n", command("--key ops web1")),
            String::new()
        )
    );
    // A shell rule needs a terminal; without TARGET, every target counts.
    assert_eq!(
        run(&["--config", c, "--authorized-principal", "dba"], &[]),
        (
            0,
            format!("restrict,pty,command=\"{}\" dba\n", command("--key dba")),
            String::new()
        )
    );
    assert_eq!(
        run(&["--config", c, "--authorized-principal", "ops", "db"], &[]),
        (
            1,
            String::new(),
            "nsgate: no rule permits principal ops anything on db\n".into()
        )
    );
    // Without a trusted CA the line is still written, with a warning, and
    // --check warns too.
    let bare = dir.file("bare.conf", text);
    let (code, _, err) = run(
        &["--config", s(&bare), "--authorized-principal", "ops"],
        &[],
    );
    assert_eq!(code, 0);
    assert!(err.contains("no \"set trusted-ca\""), "{err}");
    let (code, _, err) = run(&["--config", s(&bare), "--check"], &[]);
    assert_eq!(code, 0);
    assert!(
        err.contains(":3: warning: principal rules match only certificates"),
        "{err}"
    );

    // Gate mode never takes a principal from its command line.
    assert_eq!(
        run(&["--config", c, "--principal", "ops", "web1"], &[]),
        (
            125,
            String::new(),
            "nsgate: --principal goes only with --explain or --list\n".into()
        )
    );
    for (args, message) in [
        (&["--authorized-principal", "a b"][..], "invalid principal \"a b\" (1 to 255 bytes, no blank, comma or control character)"),
        (&["--authorized-principal", "a:b"][..], "principal \"a:b\" cannot be a --key label (letters, digits, '.', '_', '-', '@', at most 64)"),
        (&["--key", "x", "--authorized-principal", "ops"][..], "--key does not go with --authorized-principal, whose NAME is the label"),
        (&["--principal", "a", "--principal", "b", "--list", "web1"][..], "--principal given twice"),
        (&["--principal", "ops", "--check"][..], "--principal goes only with --explain or --list"),
    ] {
        let (code, out, err) = run(args, &[]);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
        assert!(err.starts_with(&format!("nsgate: {message}\nusage: ")), "{args:?}: {err}");
    }
}
