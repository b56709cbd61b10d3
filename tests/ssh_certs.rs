//! SSH certificates end to end (issue 12): a CA made by ssh-keygen, client
//! certificates it signs, a private sshd that trusts it, both ways an admin
//! sets that up (TrustedUserCAKeys with an AuthorizedPrincipalsFile, and a
//! `cert-authority` line in authorized_keys), and this build of nsgate.
//!
//! Needs root, sshd, ssh, docker and rsyslogd; where they are missing the
//! tests print a notice and return, and with NSGATE_E2E=1 they fail.

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;
mod ssh_env;
use common::wait_limited;
use ssh_env::*;

/// The value of `name=` in an audit line, quotes and all.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line
        .find(&format!(" {name}="))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + name.len()
        + 2;
    let rest = &line[start..];
    let end = match rest.strip_prefix('"') {
        Some(quoted) => quoted.find('"').map(|i| i + 2),
        None => rest.find(' '),
    };
    &rest[..end.unwrap_or(rest.len())]
}

/// sshd's "Accepted publickey ... ssh2: ED25519-CERT FP ID KEYID (serial N)
/// CA ED25519 CAFP" line: (FP, KEYID, N, CAFP).
fn accepted(line: &str) -> (String, String, String, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = |w: &str| words.iter().position(|x| *x == w).unwrap();
    let cert = at("ED25519-CERT");
    let id = at("ID");
    let serial = at("(serial");
    (
        words[cert + 1].to_string(),
        words[id + 1..serial].join(" "),
        words[serial + 1].trim_end_matches(')').to_string(),
        words[at("CA") + 2].to_string(),
    )
}

/// The certificate's valid_before, in seconds since the epoch, from what
/// `ssh-keygen -L` prints ("Valid: from T1 to T2", in the TZ's time).
fn valid_before(cert: &std::path::Path) -> u64 {
    let text = helper(
        std::process::Command::new("ssh-keygen")
            .env("TZ", "UTC")
            .arg("-Lf")
            .arg(cert),
    );
    let line = text.lines().find(|l| l.contains("Valid: from")).unwrap();
    let to = line.split(" to ").nth(1).unwrap().trim();
    helper(
        std::process::Command::new("date")
            .env("TZ", "UTC")
            .args(["-d", to, "+%s"]),
    )
    .trim()
    .parse()
    .unwrap()
}

#[test]
fn a_principal_rule_permits_and_the_record_joins_sshds_line() {
    let Some(mut env) = Env::with_cas(
        "certs_principals",
        "set trusted-ca {ca:ca1}\n\
         target web1 docker {container}\n\
         permit principal:ops on web1 cmd hostname\n\
         permit ops on web1 cmd id -un\n",
        &["ca1", "other"],
        CertTrust::PrincipalsFile(&["restrict,command=\"{nsgate} --key ops web1\" ops"]),
    ) else {
        return;
    };
    env.certify("alice", "ca1", "alice@example", "ops,web", 7, "-1m:+1h");
    let out = env.cmd("alice", "hostname");
    assert_eq!(
        (out.code, out.stdout, out.stderr),
        (0, format!("{}\n", env.hostname()), String::new())
    );
    let allow = env.audit_line(&["event=allow", "cmd=\"hostname\""]);
    assert_eq!(field(&allow, "key"), "ops");
    assert_eq!(field(&allow, "cert_id"), "\"alice@example\"");
    assert_eq!(field(&allow, "cert_serial"), "7");
    assert_eq!(field(&allow, "cert_ca"), env.ca_fingerprint("ca1"));
    assert_eq!(field(&allow, "cert_principals"), "ops,web");
    // The certificate's key is the key: ssh-keygen -l prints one fingerprint.
    assert_eq!(field(&allow, "fp"), env.fingerprint("alice"));
    assert!(allow.contains(" fp=") && allow.find(" fp=") < allow.find(" cert_id="));

    // An auditor joins the record with sshd's own line on these values.
    let lines = env.sshd_log(&["Accepted publickey for root", "ED25519-CERT"]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let (fp, id, serial, ca) = accepted(&lines[0]);
    assert_eq!(fp, field(&allow, "fp"));
    assert_eq!(format!("\"{id}\""), field(&allow, "cert_id"));
    assert_eq!(serial, field(&allow, "cert_serial"));
    assert_eq!(ca, field(&allow, "cert_ca"));

    // A CA sshd trusts but nsgate does not: principal rules give nothing,
    // the label of the principals file's line still counts.
    env.certify("mallory", "other", "mallory", "ops", 8, "-1m:+1h");
    assert_denied(&env.cmd("mallory", "hostname"), "untrusted CA");
    let deny = env.audit_line(&["event=deny", "cert_id=\"mallory\""]);
    assert_eq!(field(&deny, "cert_ca"), env.ca_fingerprint("other"));
    let out = env.cmd("mallory", "id -un");
    assert_eq!((out.code, out.stdout.as_str()), (0, "root\n"), "{out:?}");
}

#[test]
fn a_cert_authority_line_works_too() {
    let Some(mut env) = Env::with_cas(
        "certs_authority",
        "set trusted-ca {ca:ca1}\n\
         target web1 docker {container}\n\
         permit principal:db-admins on web1 cmd hostname\n",
        &["ca1"],
        CertTrust::CertAuthority(&[(
            "ca1",
            "cert-authority,principals=\"db-admins\",restrict",
            "{nsgate} --key db web1",
        )]),
    ) else {
        return;
    };
    env.certify("carol", "ca1", "carol", "db-admins", 42, "-1m:+1h");
    let out = env.cmd("carol", "hostname");
    assert_eq!(
        (out.code, out.stdout, out.stderr),
        (0, format!("{}\n", env.hostname()), String::new())
    );
    let allow = env.audit_line(&["event=allow", "cert_serial=42"]);
    assert_eq!(field(&allow, "cert_principals"), "db-admins");
    assert_eq!(field(&allow, "key"), "db");
    // A principal the line does not name: sshd itself refuses.
    env.certify("dan", "ca1", "dan", "web", 43, "-1m:+1h");
    let out = env.cmd("dan", "hostname");
    assert_eq!(out.code, 255, "{out:?}");
}

#[test]
fn a_session_ends_when_its_certificate_does() {
    let Some(mut env) = Env::with_cas(
        "certs_expiry",
        "set trusted-ca {ca:ca1}\n\
         target web1 docker {container}\n\
         permit principal:ops on web1 timeout 5m cmd sleep 60\n",
        &["ca1"],
        CertTrust::PrincipalsFile(&["restrict,command=\"{nsgate} --key ops web1\" ops"]),
    ) else {
        return;
    };
    env.certify("alice", "ca1", "short", "ops", 9, "-1m:+15s");
    let valid_before = valid_before(&env.keys["alice"].with_file_name("alice-cert.pub"));

    let started = Instant::now();
    let mut child = env
        .ssh("alice", &["-T"], Some("sleep 60"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_limited(&mut child, SSH_LIMIT, "ssh sleep 60");
    let took = started.elapsed();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr, "nsgate: certificate expired\n");
    assert_ne!(status.code(), Some(0));
    let exit = env.audit_line(&["event=exit", "cert_serial=9"]);
    assert_eq!(field(&exit, "reason"), "\"cert-expired\"");
    // valid_before is 15 s after signing: the session ends then, well
    // before the rule's 5 m and the command's 60 s.
    let ended = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let late = ended - valid_before as f64;
    eprintln!(
        "certs_expiry: the session took {:.2} s and ended {late:.2} s after valid_before",
        took.as_secs_f64()
    );
    assert!(
        (0.0..3.0).contains(&late),
        "ended {late} s after valid_before"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
}

/// Gate mode as sshd starts it, with SSH_USER_AUTH naming a file that holds
/// `content` (the user's, 0600, as sshd makes it): what a bad certificate,
/// or a file that is not sshd's, gets.
#[test]
fn bad_certificates_and_files_are_refused_with_an_error_record() {
    use base64::Engine;
    use std::os::unix::fs::PermissionsExt;
    if !common::is_root() {
        common::skip_or_fail("certs_refused", "needs root (a root-owned configuration)");
        return;
    }
    let dir = common::private_dir("nsgate-certs", "refused");
    let syslog = common::Rsyslogd::new(&dir.join("syslog"));
    if !syslog.start("certs_refused") {
        return;
    }
    let conf = dir.join("nsgate.conf");
    common::write_trusted(
        &conf,
        &format!(
            "{}\ntarget web1 pidfile {}/no.pid\npermit * on web1 cmd /bin/true\n",
            syslog.setting(),
            dir.display()
        ),
    );
    let testdata = std::path::Path::new(ROOT).join("src/cert/testdata");
    let pub_line = |name: &str| std::fs::read_to_string(testdata.join(name)).unwrap();
    let good = pub_line("ed25519-cert.pub");
    let b64 = good.split(' ').nth(1).unwrap();
    let engine = base64::engine::general_purpose::STANDARD;
    let mut blob = engine.decode(b64).unwrap();
    blob.truncate(blob.len() - 10);
    let truncated = engine.encode(&blob);
    let expired = pub_line("rsa-cert.pub");
    let expired = expired.split(' ').nth(1).unwrap();
    let big = format!(
        "publickey ssh-ed25519-cert-v01@openssh.com {b64}\n{}",
        "#".repeat(65536)
    );

    let auth = dir.join("auth");
    let cases: [(&str, String, &str); 4] = [
        (
            "truncated",
            format!("publickey ssh-ed25519-cert-v01@openssh.com {truncated}\n"),
            "refusing the SSH certificate: truncated in its signature",
        ),
        (
            "a line whose type is not its blob's",
            format!("publickey ssh-dss-cert-v01@openssh.com {b64}\n"),
            "cannot read SSH_USER_AUTH",
        ),
        (
            "expired",
            format!("publickey ssh-rsa-cert-v01@openssh.com {expired}\n"),
            "refusing the SSH certificate: expired at 2020-01-02T00:00:00Z",
        ),
        ("oversized", big, "cannot read SSH_USER_AUTH"),
    ];
    for (n, (what, content, message)) in cases.iter().enumerate() {
        let _ = std::fs::remove_file(&auth);
        std::fs::write(&auth, content).unwrap();
        std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = common::gate_command(&conf, "alice", "web1", "/bin/true")
            .env("SSH_USER_AUTH", &auth)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            (out.status.code(), out.stdout.as_slice()),
            (Some(125), &b""[..]),
            "{what}: {stderr}"
        );
        assert!(
            stderr.starts_with(&format!("nsgate: {message}")) && stderr.lines().count() == 1,
            "{what}: {stderr}"
        );
        let records = syslog.records(n + 1, Duration::from_secs(10), None);
        let last = &records[n];
        assert_eq!(last.bytes("event"), Some(&b"error"[..]), "{what}");
        assert_eq!(last.bytes("rule"), None, "{what}: nothing was decided");
    }
    // A link to a good file is not sshd's file.
    std::fs::write(
        dir.join("real"),
        format!("publickey ssh-ed25519-cert-v01@openssh.com {b64}\n"),
    )
    .unwrap();
    std::fs::set_permissions(dir.join("real"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let _ = std::fs::remove_file(&auth);
    std::os::unix::fs::symlink(dir.join("real"), &auth).unwrap();
    let out = common::gate_command(&conf, "alice", "web1", "/bin/true")
        .env("SSH_USER_AUTH", &auth)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let records = syslog.records(5, Duration::from_secs(10), None);
    let reason = String::from_utf8_lossy(records[4].bytes("reason").unwrap()).into_owned();
    assert!(reason.ends_with(": a symbolic link"), "{reason}");
    syslog.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
