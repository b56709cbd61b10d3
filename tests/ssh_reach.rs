//! End to end through OpenSSH (issue 12, "Reach"): one key reaches several
//! containers by naming the target as the first word of its request, a
//! forced command with a list limits which, and a login without a request
//! reads what the key may do. Needs what tests/ssh.rs needs; without it the
//! tests print a notice and return, and with NSGATE_E2E=1 they fail.

mod common;
mod ssh_env;
use common::{Line, Value};
use ssh_env::*;

const POLICY: &str = "\
target web1 docker {container}
target db1 docker {container}-db1
target web2 docker {container}
permit alice,bob on web1,db1,web2 cmd cat /etc/hostname
permit alice on db1 timeout 1m cmd ls ...
permit alice on db1 shell
";

/// The record among the private rsyslogd's lines with all of `parts`.
fn record(env: &Env, parts: &[&str]) -> Line {
    Line::parse(&env.audit_line(parts))
}

#[test]
fn one_key_reaches_two_containers_by_naming_them() {
    let Some(env) = Env::new(
        "reach",
        POLICY,
        &[
            key("alice", "restrict", "{nsgate} --key alice"),
            key("bob", "restrict", "{nsgate} --key bob web1,db1"),
        ],
    ) else {
        return;
    };
    let db1 = env.another_container("db1");

    // The first word names the container; the rest is the command.
    for (key, target, hostname, id) in [
        ("alice", "web1", env.hostname(), &env.id),
        ("alice", "db1", db1.hostname(), &db1.id),
        ("bob", "db1", db1.hostname(), &db1.id),
    ] {
        let request = format!("{target} cat /etc/hostname");
        let out = env.cmd(key, &request);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, format!("{hostname}\n").as_str(), ""),
            "{key}: {request}"
        );
        let cmd = format!("cmd=\"{request}\"");
        let allow = record(&env, &["event=allow", &format!("key={key}"), &cmd]);
        assert_eq!(allow.text("target"), target);
        assert_eq!(&allow.text("container"), id);
        assert_eq!(allow.text("cmd"), request);
        let exit = record(&env, &["event=exit", &format!("key={key}"), &cmd]);
        assert_eq!(exit.text("status"), "0");
    }
    assert_ne!(env.hostname(), db1.hostname());

    // The name alone: an interactive session there (a shell on pipes here).
    let out = env.run("alice", &["-T"], Some("db1"), Some("cat /etc/hostname\n"));
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, format!("{}\n", db1.hostname()).as_str(), "")
    );
    let allow = record(&env, &["event=allow", "key=alice", "cmd=\"db1\""]);
    assert_eq!(allow.text("target"), "db1");
    assert_eq!(allow.text("rule"), format!("{}:8", env.conf.display()));

    // Not in bob's list, or no target at all: the ordinary denial.
    for (key, request, target) in [
        ("bob", "web2 cat /etc/hostname", "web2"),
        ("alice", "web9 cat /etc/hostname", "web9"),
    ] {
        let out = env.cmd(key, request);
        assert_denied(&out, request);
        assert_eq!(
            out.stderr,
            format!("nsgate: denied: \"cat /etc/hostname\" is not permitted on {target}\n")
        );
        let deny = record(
            &env,
            &[
                "event=deny",
                &format!("key={key}"),
                &format!("target={target}"),
            ],
        );
        assert_eq!(deny.text("cmd"), request);
        assert_eq!(deny.get("rule"), Some(&Value::Missing));
        assert_eq!(deny.get("container"), Some(&Value::Missing));
    }

    // No request: what the key may do, exit 0, and a list record.
    let out = env.run("alice", &["-T"], None, None);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (
            0,
            "web1: cmd cat /etc/hostname\n\
             db1: cmd cat /etc/hostname\n\
             db1: timeout 1m cmd ls ...\n\
             db1: shell\n\
             web2: cmd cat /etc/hostname\n",
            ""
        )
    );
    let list = record(&env, &["event=list", "key=alice"]);
    assert_eq!(list.priority, "authpriv.info");
    assert_eq!(list.get("cmd"), Some(&Value::Missing));
    assert_eq!(list.get("target"), Some(&Value::Missing));
    assert!(list.text("fp").starts_with("SHA256:"));
    let out = env.run("bob", &["-T"], None, None);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (
            0,
            "web1: cmd cat /etc/hostname\ndb1: cmd cat /etc/hostname\n"
        )
    );
    record(&env, &["event=list", "key=bob"]);
    // A list record has no exit record.
    assert!(!env
        .audit()
        .iter()
        .any(|l| l.contains("event=exit") && l.contains(&format!("sid={}", list.text("sid")))));
}
