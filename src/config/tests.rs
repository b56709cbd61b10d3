//! Parser tests: what each statement yields and every error message.

use super::*;

fn ok(src: &str) -> Config {
    match parse("f", src.as_bytes()) {
        Ok(c) => c,
        Err(e) => panic!("{src:?}: {e:?}"),
    }
}

fn errors(src: &str) -> Vec<String> {
    parse("f", src.as_bytes()).expect_err(src)
}

const T: &str = "target web1 docker web1\n";

#[test]
fn targets_of_every_kind_with_defaults_and_options() {
    let c = ok("target web1 docker web1
target p podman app socket /run/p.sock user app:staff
target c containerd moby/0123456789ab state /run/docker/containerd/daemon
target f pidfile /run/x.pid cwd /srv env A=1 env B=x=y ns net,uts
target m nspawn box
target d2 docker web1 socket /s user 1000:1000 cwd /");
    assert_eq!(
        c.targets[0].kind,
        TargetKind::Docker {
            container: "web1".into(),
            socket: "/var/run/docker.sock".into()
        }
    );
    assert_eq!(
        c.targets[1].kind,
        TargetKind::Podman {
            container: "app".into(),
            socket: "/run/p.sock".into()
        }
    );
    assert_eq!(
        c.targets[1].user,
        Some(UserSpec {
            user: "app".into(),
            group: Some("staff".into())
        })
    );
    assert_eq!(
        c.targets[2].kind,
        TargetKind::Containerd {
            namespace: "moby".into(),
            id: "0123456789ab".into(),
            state: "/run/docker/containerd/daemon".into()
        }
    );
    let f = &c.targets[3];
    assert_eq!(
        f.kind,
        TargetKind::Pidfile {
            path: "/run/x.pid".into()
        }
    );
    assert_eq!(f.cwd.as_deref(), Some("/srv"));
    assert_eq!(
        f.env[1],
        EnvVar {
            name: "B".into(),
            value: "x=y".into()
        }
    );
    assert_eq!(f.ns.map(|n| n.to_string()), Some("uts,net".into()));
    assert_eq!(f.origin.to_string(), "f:4");
    assert_eq!(
        c.targets[4].kind,
        TargetKind::Nspawn {
            machine: "box".into()
        }
    );
    assert_eq!(
        TargetKind::Containerd {
            namespace: "x".into(),
            id: "y".into(),
            state: "/run/containerd".into()
        },
        ok("target c containerd x/y").targets[0].kind
    );
}

#[test]
fn rules_with_options_and_patterns() {
    let c = ok(&format!(
        "{T}permit alice,bob on web1 as app:app ns net timeout 5m tty env \"A=b c\" cmd /bin/cat /srv/*.log \"*\" ...
permit SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw on * timeout 30s shell
deny * on web1
deny alice on web1 cmd rm ..."
    ));
    let r = &c.rules[0];
    assert_eq!(r.action, Action::Permit);
    assert_eq!(
        r.who,
        Who::List(vec![
            Principal::Label("alice".into()),
            Principal::Label("bob".into())
        ])
    );
    assert_eq!(r.targets, Targets::Names(vec!["web1".into()]));
    assert_eq!(r.timeout, Some(Duration::from_secs(300)));
    assert!(r.tty);
    assert_eq!(
        r.env,
        vec![EnvVar {
            name: "A".into(),
            value: "b c".into()
        }]
    );
    assert_eq!(
        r.what,
        RuleCommand::Cmd(Pattern {
            words: vec![
                PatternWord::Literal("/bin/cat".into()),
                PatternWord::Glob("/srv/*.log".into()),
                PatternWord::Literal("*".into()),
            ],
            rest: true,
        })
    );
    assert_eq!(
        r.to_string(),
        "permit alice,bob on web1 as app:app ns net timeout 5m tty env \"A=b c\" cmd /bin/cat /srv/*.log \"*\" ..."
    );
    assert_eq!(c.rules[1].what, RuleCommand::Shell);
    assert_eq!(c.rules[1].targets, Targets::All);
    assert_eq!(c.rules[2].what, RuleCommand::Everything);
    assert_eq!(c.rules[2].who, Who::Anyone);
    assert_eq!(c.rules[3].to_string(), "deny alice on web1 cmd rm ...");
    assert_eq!(c.rules[3].origin.line, 5);
}

#[test]
fn a_rules_cwd_and_detach_over_the_targets() {
    let c = ok(&format!(
        "{T}permit ops on web1 detach cwd /srv/app cmd /usr/sbin/nginx
permit ops on web1 cwd \"/srv/my app\" shell"
    ));
    let (cmd, shell) = (&c.rules[0], &c.rules[1]);
    assert!(cmd.detach);
    assert_eq!(cmd.cwd.as_deref(), Some("/srv/app"));
    assert_eq!(
        cmd.to_string(),
        "permit ops on web1 detach cwd /srv/app cmd /usr/sbin/nginx"
    );
    assert_eq!(shell.cwd.as_deref(), Some("/srv/my app"));
    assert_eq!(
        shell.to_string(),
        "permit ops on web1 cwd \"/srv/my app\" shell"
    );
    let target = c.target("web1").unwrap();
    assert_eq!(cmd.effective(target).cwd, Some("/srv/app"));
    let bad = parse(
        "f",
        format!("{T}permit ops on web1 cwd srv cmd ls").as_bytes(),
    );
    assert!(bad.is_err());
}

#[test]
fn record_on_shell_tty_and_plain_rules() {
    let c = ok(&format!(
        "{T}permit ops on web1 record shell
permit ops on web1 record input tty cmd /bin/top
permit ops on web1 record cmd input
set record-dir /srv/casts
set record-max-bytes 4096"
    ));
    let modes: Vec<_> = c.rules.iter().map(|r| r.record).collect();
    assert_eq!(
        modes,
        [
            Some(RecordMode::Output),
            Some(RecordMode::WithInput),
            Some(RecordMode::Output)
        ]
    );
    assert_eq!(
        c.rules[1].to_string(),
        "permit ops on web1 tty record input cmd /bin/top"
    );
    // `input` after `cmd` is the program.
    assert_eq!(
        c.rules[2].to_string(),
        "permit ops on web1 record cmd input"
    );
    assert_eq!(
        c.settings.record_dir,
        std::path::PathBuf::from("/srv/casts")
    );
    assert_eq!(c.settings.record_max_bytes, 4096);
    assert_eq!(Settings::default().record_max_bytes, 64 << 20);
    let table: &[(&str, &str)] = &[
        (
            "set record-dir casts",
            "f:1:16: expected an absolute path, found \"casts\"",
        ),
        (
            "set record-max-bytes 64M",
            "f:1:22: record-max-bytes must be a number of bytes from 4096 to 1099511627776",
        ),
        (
            "set record-max-bytes 100",
            "f:1:22: record-max-bytes must be a number of bytes from 4096 to 1099511627776",
        ),
    ];
    for (src, want) in table {
        assert_eq!(errors(src), vec![want.to_string()], "{src}");
    }
    assert_eq!(
        errors(&format!("{T}permit ops on web1 record record shell")),
        vec!["f:2:27: option \"record\" given twice".to_string()]
    );
}

#[test]
fn a_lone_bracket_and_quoted_dots_are_literal() {
    let c = ok(&format!("{T}permit * on web1 cmd [ -f x ] \"...\""));
    let RuleCommand::Cmd(p) = &c.rules[0].what else {
        panic!()
    };
    assert_eq!(p.words[0], PatternWord::Literal("[".into()));
    assert_eq!(p.words[4], PatternWord::Literal("...".into()));
    assert!(!p.rest);
}

#[test]
fn settings() {
    let c = ok(
        "set syslog-socket /tmp/log.sock\nset syslog-facility local3\nset max-command-bytes 100",
    );
    assert_eq!(
        c.settings.syslog_socket,
        std::path::PathBuf::from("/tmp/log.sock")
    );
    assert_eq!(c.settings.syslog_facility, Facility::Local(3));
    assert_eq!(c.settings.max_command_bytes, 100);
    assert_eq!(ok("").settings, Settings::default());
    let c = ok("set audit-state /srv/nsgate-state");
    assert_eq!(
        c.settings.audit_state,
        std::path::PathBuf::from("/srv/nsgate-state")
    );
    assert_eq!(
        Settings::default().audit_state,
        std::path::PathBuf::from("/var/lib/nsgate")
    );
}

#[test]
fn trusted_cas_and_principal_rules() {
    let ca1 = "SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og";
    let ca2 = "SHA256:MaeltTSzVnj+lRoiJHMHWwkoYxcxeMbE9/o8b5Gp9Os";
    let c = ok(&format!(
        "set trusted-ca {ca1}\nset trusted-ca {ca2}\n{T}\
         permit principal:ops,alice,principal:db@example.com on web1 cmd /bin/ls\n"
    ));
    assert_eq!(c.settings.trusted_ca, [ca1, ca2]);
    assert_eq!(
        c.rules[0].who,
        Who::List(vec![
            Principal::Certified("ops".into()),
            Principal::Label("alice".into()),
            Principal::Certified("db@example.com".into()),
        ])
    );
    assert_eq!(
        c.rules[0].to_string(),
        "permit principal:ops,alice,principal:db@example.com on web1 cmd /bin/ls"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // Without a trusted CA, principal rules match nothing: --check says so
    // once, at the first.
    let c = ok(&format!(
        "{T}permit alice on web1 cmd /bin/ls\npermit principal:ops on web1 cmd /bin/ls\n\
         deny principal:x on web1"
    ));
    assert_eq!(
        c.warnings,
        ["f:3: warning: principal rules match only certificates from a CA of \"set trusted-ca\", and none is listed"]
    );
}

#[test]
fn every_error_with_line_and_column() {
    let table: &[(&str, &str)] = &[
        ("bogus", "f:1:1: unknown statement \"bogus\" (expected target, permit, deny or set)"),
        ("\"target\" x docker yy", "f:1:1: unknown statement \"target\" (expected target, permit, deny or set)"),
        ("target", "f:1:8: missing target name"),
        ("target -x docker yy", "f:1:8: invalid target name \"-x\" (letters, digits, '.', '_' and '-', at most 64)"),
        ("target a/b docker yy", "f:1:8: invalid target name \"a/b\" (letters, digits, '.', '_' and '-', at most 64)"),
        ("target x lxc y", "f:1:10: unknown target kind \"lxc\" (expected docker, podman, containerd, pidfile or nspawn)"),
        ("target x docker", "f:1:17: missing container name or id"),
        ("target x containerd moby", "f:1:21: invalid containerd NAMESPACE/ID \"moby\""),
        ("target x pidfile run/x.pid", "f:1:18: expected an absolute path, found \"run/x.pid\""),
        ("target x docker yy state /s", "f:1:20: unknown option \"state\" for a docker target (expected socket, user, cwd, env or ns)"),
        ("target x pidfile /p socket /s", "f:1:21: unknown option \"socket\" for a pidfile target (expected user, cwd, env or ns)"),
        ("target x docker yy user a user b", "f:1:27: option \"user\" given twice"),
        ("target x docker yy user a:b:c", "f:1:25: invalid USER[:GROUP] \"a:b:c\""),
        ("target x docker yy env 1A=b", "f:1:24: invalid environment variable name \"1A\""),
        ("target x docker yy env A", "f:1:24: expected NAME=VALUE, found \"A\""),
        ("target x docker yy ns net,foo", "f:1:23: unknown namespace \"foo\" (expected a comma list of mnt, uts, ipc, net, pid, cgroup, time, user)"),
        ("target x docker yy\ntarget x docker z", "f:2:8: target x is defined twice"),
        ("target x docker yy ns net,", "f:1:23: empty item in the list \"net,\" (a comma list has no blanks)"),
        ("permit alice on nope cmd ls", "f:1:17: unknown target \"nope\" (define it with a target line before rules that name it)"),
        ("target x docker yy\npermit alice in x cmd ls", "f:2:14: expected \"on\" after who, found \"in\""),
        ("target x docker yy\npermit a b on x cmd ls", "f:2:10: expected \"on\" after who, found \"b\""),
        ("target x docker yy\npermit al,,ice on x cmd ls", "f:2:8: empty item in the list \"al,,ice\" (a comma list has no blanks)"),
        ("target x docker yy\npermit SHA256:a=b on x cmd ls", "f:2:8: invalid fingerprint \"SHA256:a=b\" (write it as ssh-keygen -l prints it)"),
        ("target x docker yy\npermit SHA256:short on x cmd ls", "f:2:8: invalid fingerprint \"SHA256:short\" (write it as ssh-keygen -l prints it)"),
        ("target x docker yy\npermit * on x, cmd ls", "f:2:13: empty item in the list \"x,\" (a comma list has no blanks)"),
        ("target x docker yy\npermit * on x,* cmd ls", "f:2:13: invalid target list \"x,*\""),
        ("target x docker yy\npermit * on x", "f:2:10: a permit rule must end with \"cmd WORD...\" or \"shell\""),
        ("target x docker yy\npermit * on x cmd", "f:2:15: \"cmd\" needs at least the program"),
        ("target x docker yy\npermit * on x cmd ...", "f:2:19: \"...\" cannot stand for the program"),
        ("target x docker yy\npermit * on x cmd ls ... -l", "f:2:26: \"...\" must be the last word of the command"),
        ("target x docker yy\npermit * on x ns net shell", "f:2:15: option \"ns\" is not allowed in a shell rule (only as, cwd, timeout and record)"),
        ("target x docker yy\npermit * on x shell now", "f:2:21: unexpected word after \"shell\""),
        ("target x docker yy\npermit * on x tty tty cmd ls", "f:2:19: option \"tty\" given twice"),
        ("target x docker yy\npermit * on x timeout 0s cmd ls", "f:2:23: duration \"0s\" out of range (1s to 30 days)"),
        ("target x docker yy\npermit * on x timeout 5 cmd ls", "f:2:23: invalid duration \"5\" (a whole number then s, m or h, e.g. 30s)"),
        ("target x docker yy\npermit * on x timeout 1.5m cmd ls", "f:2:23: invalid duration \"1.5m\" (a whole number then s, m or h, e.g. 30s)"),
        ("target x docker yy\npermit * on x sudo cmd ls", "f:2:15: unknown option \"sudo\" (expected as, ns, timeout, tty, detach, cwd, env, redact, record, then cmd or shell)"),
        ("target x docker yy\ndeny * on x as root cmd ls", "f:2:13: unexpected \"as\": a deny rule takes only \"cmd WORD...\" after the targets"),
        ("target x docker yy\ndeny * on x shell", "f:2:13: unexpected \"shell\": a deny rule takes only \"cmd WORD...\" after the targets"),
        ("set syslog-socket", "f:1:19: missing setting value"),
        ("set syslog-socket dev/log", "f:1:19: expected an absolute path, found \"dev/log\""),
        ("set syslog-facility local8", "f:1:21: unknown syslog facility \"local8\""),
        ("set max-command-bytes 10", "f:1:23: max-command-bytes must be a number from 16 to 6144"),
        ("set max-command-bytes 99999", "f:1:23: max-command-bytes must be a number from 16 to 6144"),
        ("set audit-state var/lib/x", "f:1:17: expected an absolute path, found \"var/lib/x\""),
        ("target log docker yy", "f:1:8: target name \"log\" is reserved for nsgate log (nsgate(8))"),
        ("target replay docker yy", "f:1:8: target name \"replay\" is reserved for nsgate replay (nsgate(8))"),
        ("set colour blue", "f:1:5: unknown setting \"colour\" (expected syslog-socket, syslog-facility, max-command-bytes, journal, journal-socket, record-dir, record-max-bytes, trusted-ca or audit-state)"),
        ("set syslog-facility auth x", "f:1:26: unexpected word after the setting's value"),
        ("set syslog-facility auth\nset syslog-facility user", "f:2:5: syslog-facility is set twice"),
        ("set trusted-ca ops", "f:1:16: invalid fingerprint \"ops\" (write it as ssh-keygen -l prints it)"),
        ("set trusted-ca SHA256:short", "f:1:16: invalid fingerprint \"SHA256:short\" (write it as ssh-keygen -l prints it)"),
        ("set trusted-ca SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og\nset trusted-ca SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og",
            "f:2:16: trusted-ca SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og is listed twice"),
        ("target x docker yy\npermit principal: on x cmd ls", "f:2:8: invalid principal \"\" (1 to 255 bytes, no blank, comma or control character)"),
        ("target x docker yy\npermit \"principal:a b\" on x cmd ls", "f:2:8: invalid principal \"a b\" (1 to 255 bytes, no blank, comma or control character)"),
        ("target x docker yy\npermit principal:ops,principal: on x cmd ls", "f:2:8: invalid principal \"\" (1 to 255 bytes, no blank, comma or control character)"),
        ("target x docker yy \"z\"", "f:1:20: unknown option \"z\" for a docker target (expected socket, user, cwd, env or ns)"),
        ("deny * on * cmd a\"b\"", "f:1:18: a quote in the middle of a word (quote the whole word)"),
    ];
    for (src, want) in table {
        assert_eq!(errors(src), vec![want.to_string()], "{src}");
    }
}

/// Every runtime name is checked by the very function resolution uses
/// (`NameKind`), so `--check` refuses what gate mode would.
#[test]
fn runtime_names_as_resolution_checks_them() {
    const DOCKER: &str =
        "a letter or digit, then letters, digits, '_', '.' or '-'; 2 to 255 characters";
    const PODMAN: &str =
        "a letter or digit, then letters, digits, '_', '.' or '-'; at most 255 characters";
    const CONTAINERD: &str =
        "letters and digits, with single '.', '_' or '-' between them; at most 76 characters";
    const MACHINE: &str = "letters, digits and '-', in labels joined by single '.', no label starting or ending with '-'; at most 64 characters";
    let long = |n: usize| "a".repeat(n);
    let hex_id = "f79a5481c8bc5a613f93d9d493a199960390154dfa92021efa8b06949b11b038";
    let accepted = [
        "target x docker web1".to_string(),
        "target x docker my_app.v2-x".to_string(),
        format!("target x docker {hex_id}"),
        format!("target x docker {}", &hex_id[..12]),
        format!("target x docker {}", long(255)),
        "target x podman a".to_string(),
        "target x containerd moby/abc-1.x_2".to_string(),
        "target x containerd k8s.io/0123456789ab".to_string(),
        format!("target x containerd {}/{}", long(76), long(76)),
        "target x nspawn web-1.x".to_string(),
        format!("target x nspawn {}", long(64)),
    ];
    for src in &accepted {
        ok(src);
    }
    let a256 = long(256);
    let a77 = long(77);
    let a65 = long(65);
    let refused: &[(&str, &str, &str)] = &[
        (
            "target x docker a",
            "f:1:17: invalid docker container name \"a\"",
            DOCKER,
        ),
        (
            "target x docker ../y",
            "f:1:17: invalid docker container name \"../y\"",
            DOCKER,
        ),
        (
            "target x docker .y",
            "f:1:17: invalid docker container name \".y\"",
            DOCKER,
        ),
        (
            "target x docker -yy",
            "f:1:17: invalid docker container name \"-yy\"",
            DOCKER,
        ),
        (
            "target x docker a/b",
            "f:1:17: invalid docker container name \"a/b\"",
            DOCKER,
        ),
        (
            "target x docker a%2f",
            "f:1:17: invalid docker container name \"a%2f\"",
            DOCKER,
        ),
        (
            "target x docker \"a b\"",
            "f:1:17: invalid docker container name \"a b\"",
            DOCKER,
        ),
        (
            &format!("target x docker {a256}"),
            &format!("f:1:17: invalid docker container name \"{a256}\""),
            DOCKER,
        ),
        (
            "target x podman _y",
            "f:1:17: invalid podman container name \"_y\"",
            PODMAN,
        ),
        (
            &format!("target x podman {a256}"),
            &format!("f:1:17: invalid podman container name \"{a256}\""),
            PODMAN,
        ),
        (
            "target x containerd ../x",
            "f:1:21: invalid containerd namespace \"..\"",
            CONTAINERD,
        ),
        (
            "target x containerd moby/..",
            "f:1:21: invalid containerd id \"..\"",
            CONTAINERD,
        ),
        (
            "target x containerd moby/a/b",
            "f:1:21: invalid containerd id \"a/b\"",
            CONTAINERD,
        ),
        (
            "target x containerd moby/a..b",
            "f:1:21: invalid containerd id \"a..b\"",
            CONTAINERD,
        ),
        (
            "target x containerd moby/-a",
            "f:1:21: invalid containerd id \"-a\"",
            CONTAINERD,
        ),
        (
            "target x containerd /x",
            "f:1:21: invalid containerd namespace \"\"",
            CONTAINERD,
        ),
        (
            "target x containerd moby/",
            "f:1:21: invalid containerd id \"\"",
            CONTAINERD,
        ),
        (
            &format!("target x containerd moby/{a77}"),
            &format!("f:1:21: invalid containerd id \"{a77}\""),
            CONTAINERD,
        ),
        (
            "target x nspawn .hidden",
            "f:1:17: invalid machine name \".hidden\"",
            MACHINE,
        ),
        (
            "target x nspawn ..",
            "f:1:17: invalid machine name \"..\"",
            MACHINE,
        ),
        (
            "target x nspawn a_b",
            "f:1:17: invalid machine name \"a_b\"",
            MACHINE,
        ),
        (
            "target x nspawn a-.b",
            "f:1:17: invalid machine name \"a-.b\"",
            MACHINE,
        ),
        (
            "target x nspawn a.",
            "f:1:17: invalid machine name \"a.\"",
            MACHINE,
        ),
        (
            &format!("target x nspawn {a65}"),
            &format!("f:1:17: invalid machine name \"{a65}\""),
            MACHINE,
        ),
    ];
    for (src, want, rule) in refused {
        assert_eq!(errors(src), vec![format!("{want} ({rule})")], "{src}");
    }
}

#[test]
fn reports_every_error_in_line_order() {
    let e = errors("target x docker yy\nbogus\npermit * on x\n\"unterminated\ndeny * on nope");
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[0].starts_with("f:2:1: "));
    assert!(e[1].starts_with("f:3:"));
    assert!(e[2].starts_with("f:4:1: unterminated"));
    assert!(e[3].starts_with("f:5:"));
}

#[test]
fn warnings_for_programs_that_run_code_and_relative_programs() {
    let c = ok(&format!(
        "{T}permit * on web1 cmd /bin/tar -C /srv -xf *
permit * on web1 cmd /bin/cat /srv/*
permit * on web1 cmd python3 ...
permit * on web1 cmd /usr/bin/* x
deny * on web1 cmd rm ...
permit * on web1 cmd /bin/sh /opt/fixed-script
permit * on web1 cmd ./run"
    ));
    assert_eq!(
        c.warnings,
        vec![
            "f:2: warning: \"/bin/tar\" can run other programs or code from its arguments or stdin; a glob or \"...\" after it may permit any command",
            "f:4: warning: the program \"python3\" is not an absolute path; it is looked up in the container's PATH",
            "f:4: warning: \"python3\" can run other programs or code from its arguments or stdin; a glob or \"...\" after it may permit any command",
            "f:5: warning: the program \"/usr/bin/*\" is a glob and permits every program it matches",
            "f:6: warning: the program \"rm\" is not an absolute path; this rule does not deny it by its full path",
            "f:8: warning: the program \"./run\" is a relative path; it is resolved from the working directory",
        ]
    );
}

/// The warnings about rules that never match or never decide and targets
/// no permit rule names, as (config, warnings without the `f:` prefix).
/// Only the first is in every load's warnings, the others only `--check`'s.
#[test]
fn warnings_for_rules_that_never_match_or_decide() {
    let never = "never decides: the later rule at line";
    let dead = "has an empty, \".\" or \"..\" path component, which no argument may have; this rule never matches";
    let table: &[(&str, &[String])] = &[
        // Globs no argument can match; a literal with "//" matches itself.
        (
            "permit * on web1 cmd /bin/cat /var/log//x*\n\
             permit * on web1 cmd /bin/cat /var/./log/* /var/log/../*\n\
             deny * on web1 cmd /bin/rm /srv/*/\n\
             permit * on web1 cmd /bin/cat /var/log//x",
            &[
                format!("2: warning: the glob \"/var/log//x*\" {dead}"),
                format!("3: warning: the glob \"/var/./log/*\" {dead}"),
                format!("3: warning: the glob \"/var/log/../*\" {dead}"),
                format!("4: warning: the glob \"/srv/*/\" {dead}"),
            ],
        ),
        // A later rule for a superset of keys, targets and commands.
        (
            "target db pidfile /run/db.pid\n\
             permit alice on web1 cmd /bin/ls /srv\n\
             permit alice on db cmd /bin/cat /srv/a.log\n\
             permit alice on web1 shell\n\
             permit alice on web1 as root cmd /bin/id\n\
             deny alice,bob on web1,db cmd /bin/ls ...\n\
             permit * on * cmd /bin/cat /srv/*.log\n\
             deny * on web1\n\
             permit alice on web1 cmd /bin/id\n\
             permit * on web1 cmd /bin/cat /srv/a.log ...\n\
             deny * on web1 cmd /bin/cat /srv/*.log ...",
            &[
                format!("3: warning: this permit rule {never} 7 matches every request it matches"),
                format!("4: warning: this permit rule {never} 8 matches every request it matches"),
                format!("5: warning: this permit rule {never} 9 matches every request it matches"),
                format!("6: warning: this permit rule {never} 9 matches every request it matches"),
                format!(
                    "11: warning: this permit rule {never} 12 matches every request it matches"
                ),
            ],
        ),
        // Targets no permit rule names (a deny does not count); none when
        // a permit rule is for every target.
        (
            "target db pidfile /run/db.pid\n\
             target spare docker spare1\n\
             deny * on spare cmd /bin/ls\n\
             permit alice on db shell",
            &[
                "1: warning: no permit rule names target web1; every request to it is denied"
                    .into(),
                "3: warning: no permit rule names target spare; every request to it is denied"
                    .into(),
            ],
        ),
        (
            "target db pidfile /run/db.pid\npermit alice on * shell",
            &[],
        ),
    ];
    for (src, want) in table {
        let c = ok(&format!("{T}{src}"));
        let want: Vec<String> = want.iter().map(|w| format!("f:{w}")).collect();
        assert_eq!(check_warnings("f", &c), want, "{src}");
    }
    // Not certain, so no warning: fewer keys or targets, another or a
    // narrower command, a glob not repeated word for word, a trailing "..."
    // the later rule lacks, a label for a fingerprint.
    let fp = "SHA256:nh3LUKgHFggmLS8sswf/j2DYKmj89O0zAJxgwulDZNw";
    for (earlier, later) in [
        ("alice,bob on web1 cmd /bin/ls", "alice on web1 cmd /bin/ls"),
        ("alice on web1,db cmd /bin/ls", "alice on web1 cmd /bin/ls"),
        ("* on web1 cmd /bin/ls", "alice on * cmd /bin/ls"),
        ("alice on * cmd /bin/ls", "alice on web1,db cmd /bin/ls"),
        ("alice on web1 cmd /bin/ls", "alice on web1 cmd /bin/ls -l"),
        ("alice on web1 cmd /bin/ls -l", "alice on web1 cmd /bin/ls"),
        (
            "alice on web1 cmd /bin/ls ...",
            "alice on web1 cmd /bin/ls x ...",
        ),
        (
            "alice on web1 cmd /bin/ls ...",
            "alice on web1 cmd /bin/ls x",
        ),
        (
            "alice on web1 cmd /bin/cat /srv/*",
            "alice on web1 cmd /bin/cat /srv/*.log",
        ),
        (
            "alice on web1 cmd /bin/cat /srv/*.log",
            "alice on web1 cmd /bin/cat /srv/*",
        ),
        (
            "alice on web1 cmd /bin/cat /srv/a/b",
            "alice on web1 cmd /bin/cat /srv/*",
        ),
        (
            "alice on web1 cmd /bin/cat -x",
            "alice on web1 cmd /bin/cat *",
        ),
        ("alice on web1 cmd /bin/ls", "alice on web1 shell"),
        ("alice on web1 shell", "alice on web1 cmd /bin/sh"),
        (
            "alice on web1 cmd /bin/ls",
            &format!("{fp} on web1 cmd /bin/ls"),
        ),
    ] {
        let src = format!("{T}target db pidfile /run/db.pid\npermit carol on db cmd /bin/true\npermit {earlier}\ndeny {later}\n");
        let src = src.replace("deny alice on web1 shell", "permit alice on web1 shell");
        assert_eq!(
            check_warnings("f", &ok(&src)),
            Vec::<String>::new(),
            "{src}"
        );
    }
}

#[test]
fn errors_come_with_the_warnings_of_the_rest() {
    assert_eq!(
        errors(&format!("{T}permit * on web1 cmd ls\nbogus\ndeny * on web1 cmd /bin/* x")),
        vec![
            "f:2: warning: the program \"ls\" is not an absolute path; it is looked up in the container's PATH",
            "f:3:1: unknown statement \"bogus\" (expected target, permit, deny or set)",
        ]
    );
}

#[test]
fn line_numbers_follow_continuations() {
    let c = ok(
        "target x docker yy \\\n  user app\n\npermit * \\\n on x \\\n cmd ls\npermit * on x cmd id",
    );
    assert_eq!(
        c.targets[0].user.as_ref().map(|u| u.user.as_str()),
        Some("app")
    );
    assert_eq!(c.rules[0].origin.line, 4);
    assert_eq!(c.rules[1].origin.line, 7);
}

#[test]
fn journal_settings() {
    let d = Settings::default();
    assert_eq!(
        (d.journal, d.journal_socket.to_str()),
        (Journal::Auto, Some("/run/systemd/journal/socket"))
    );
    let journal = |src: &str| ok(src).settings.journal;
    assert_eq!(journal("set journal yes"), Journal::Yes);
    assert_eq!(journal("set journal no"), Journal::No);
    assert_eq!(journal("set journal auto"), Journal::Auto);
    // A syslog socket named makes `auto` the syslog socket, in any order.
    assert_eq!(journal("set syslog-socket /s"), Journal::No);
    assert_eq!(
        journal("set journal auto\nset syslog-socket /s"),
        Journal::No
    );
    assert_eq!(journal("set journal no\nset syslog-socket /s"), Journal::No);
    let c = ok("set journal-socket /run/systemd/journal.audit/socket");
    assert_eq!(
        c.settings.journal_socket.to_str(),
        Some("/run/systemd/journal.audit/socket")
    );
    for (src, want) in [
        (
            "set journal maybe",
            "f:1:13: journal must be yes, no or auto, not \"maybe\"",
        ),
        (
            "set journal-socket rel",
            "f:1:20: expected an absolute path, found \"rel\"",
        ),
        (
            "set journal yes\nset syslog-socket /s",
            "f:2:5: \"set journal yes\" and \"set syslog-socket\" exclude each other",
        ),
        (
            "set syslog-socket /s\nset journal yes",
            "f:2:5: \"set journal yes\" and \"set syslog-socket\" exclude each other",
        ),
    ] {
        assert_eq!(errors(src), [want], "{src}");
    }
}

#[test]
fn redact_globs_on_permit_rules() {
    let c = ok(&format!(
        "{T}permit * on web1 redact --password=* redact \"tok en*\" cmd mysql ..."
    ));
    assert_eq!(c.rules[0].redact, ["--password=*", "tok en*"]);
    assert_eq!(
        c.rules[0].to_string(),
        "permit * on web1 redact --password=* redact \"tok en*\" cmd mysql ..."
    );
    for (src, want) in [
        ("permit * on web1 redact", "f:2:25: missing GLOB"),
        ("permit * on web1 redact \"\" cmd ls", "f:2:25: redact needs a GLOB of 1 to 1024 bytes"),
        (
            "permit * on web1 redact x shell",
            "f:2:18: option \"redact\" is not allowed in a shell rule (only as, cwd, timeout and record)",
        ),
        (
            "deny * on web1 redact x cmd ls",
            "f:2:16: unexpected \"redact\": a deny rule takes only \"cmd WORD...\" after the targets",
        ),
    ] {
        let src = format!("{T}{src}");
        assert_eq!(errors(&src), [want], "{src}");
    }
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        let _ = parse("f", &bytes);
    }

    #[test]
    fn never_panics_on_config_like_text(
        words in proptest::collection::vec(
            proptest::sample::select(vec![
                "target", "permit", "deny", "set", "on", "cmd", "shell", "as", "ns", "tty", "env",
                "timeout", "docker", "pidfile", "x", "*", "...", "\"", "\\", "#", "\n", " ", "a,b",
                "SHA256:", "5m", "/p", "A=b", "net", "\"q r\"", ":", "é", "[", "]",
            ]),
            0..60,
        )
    ) {
        let text = words.join(" ");
        if let Ok(config) = parse("f", text.as_bytes()) {
            for rule in &config.rules {
                let _ = rule.to_string();
            }
        }
    }
}
