//! The world of an end-to-end test through OpenSSH: a private sshd on
//! 127.0.0.1 whose authorized_keys force this build of nsgate, a real Docker
//! container and a private rsyslogd for the audit trail. Used by the ssh*
//! test binaries (`mod common; mod ssh_env;`).
// Every test crate compiles its own copy and uses only a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{
    containers_ready, is_root, private_dir, skip_or_fail, support, unique, wait_limited,
    write_trusted, Rsyslogd, NSGATE,
};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Wall-clock limit of an ordinary ssh call (connecting alone is limited to 5 s).
pub const SSH_LIMIT: Duration = Duration::from_secs(30);

/// Whether this machine can run `test`. A missing requirement is a notice
/// without NSGATE_E2E=1 and a failure with it.
pub fn prerequisites(test: &str) -> bool {
    // The support scripts are part of the project: their absence is a bug.
    for script in ["sshd.sh", "containers.sh", "rsyslog.sh"] {
        assert!(
            support(script).is_file(),
            "{} is missing",
            support(script).display()
        );
    }
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root");
    }
    for (path, what) in [
        ("/usr/sbin/sshd", "sshd (openssh-server)"),
        ("/usr/bin/ssh", "ssh (openssh-client)"),
        ("/usr/bin/ssh-keygen", "ssh-keygen (openssh-client)"),
        ("/usr/sbin/rsyslogd", "rsyslogd (rsyslog)"),
        ("/usr/bin/nsenter", "nsenter (util-linux)"),
    ] {
        if !Path::new(path).exists() {
            missing.push(what);
        }
    }
    if Command::new("docker").arg("--version").output().is_err() {
        missing.push("docker (docker.io)");
    }
    let why = if missing.is_empty() {
        match containers_ready() {
            Ok(()) => return true,
            Err(e) => e,
        }
    } else {
        format!("needs {}", missing.join(", "))
    };
    skip_or_fail(test, &why);
    false
}

/// Runs a helper command to completion (limited to 120 s); its stdout.
pub fn helper(cmd: &mut Command) -> String {
    let what = format!("{cmd:?}");
    let err_path = std::env::temp_dir().join(unique("nsgate-e2e-helper"));
    let out_path = err_path.with_extension("out");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = wait_limited(&mut child, Duration::from_secs(120), &what);
    let out = fs::read_to_string(&out_path).unwrap_or_default();
    let err = fs::read_to_string(&err_path).unwrap_or_default();
    let _ = fs::remove_file(&out_path);
    let _ = fs::remove_file(&err_path);
    assert!(status.success(), "{what} failed ({status}): {err}");
    out
}

/// What an ssh call gave back. `code` is -1 when ssh itself was killed.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A key of the test's authorized_keys: its name, the options before
/// `command=`, and the forced command, where `{nsgate}` stands for this
/// build of nsgate with the test's configuration, `{conf}` for that
/// configuration file and `{pid}` for the container's init process.
pub struct Key {
    pub name: &'static str,
    pub options: &'static str,
    pub command: &'static str,
}

pub const fn key(name: &'static str, options: &'static str, command: &'static str) -> Key {
    Key {
        name,
        options,
        command,
    }
}

/// One test's world: sshd, rsyslogd, a container and a configuration.
pub struct Env {
    pub test: String,
    pub dir: PathBuf,
    pub port: u16,
    pub container: String,
    pub id: String,
    pub pid: u32,
    pub conf: PathBuf,
    pub keys: HashMap<&'static str, PathBuf>,
    pub syslog: Rsyslogd,
}

impl Env {
    /// Sets everything up, or `None` (after a notice) where the machine
    /// cannot run this test. `config` is the policy after the line that
    /// points nsgate at the private rsyslogd; `{container}` stands for the
    /// container's name and `{fp:NAME}` for the fingerprint of key NAME.
    pub fn new(test: &str, config: &str, keys: &[Key]) -> Option<Env> {
        if !prerequisites(test) {
            return None;
        }
        let dir = private_dir("nsgate-e2e", test);
        fs::create_dir(dir.join("out")).unwrap();
        let mut env = Env {
            test: test.to_string(),
            container: format!(
                "nsgate-e2e-{}-{}",
                std::process::id(),
                test.replace('_', "-")
            ),
            conf: dir.join("nsgate.conf"),
            syslog: Rsyslogd::new(&dir.join("syslog")),
            dir,
            port: 0,
            id: String::new(),
            pid: 0,
            keys: HashMap::new(),
        };
        // Through helper, not Rsyslogd::start: every set-up step here has
        // helper's time limit.
        helper(
            Command::new("sh")
                .arg(support("rsyslog.sh"))
                .arg("start")
                .arg(env.syslog.dir()),
        );
        let id = helper(
            Command::new("bash")
                .arg(support("containers.sh"))
                .arg("docker-run")
                .arg(&env.container),
        );
        env.id = id.lines().last().unwrap_or_default().trim().to_string();
        assert!(
            env.id.len() >= 12,
            "containers.sh docker-run printed no id: {id:?}"
        );
        env.pid = helper(Command::new("docker").args([
            "inspect",
            "-f",
            "{{.State.Pid}}",
            &env.container,
        ]))
        .trim()
        .parse()
        .unwrap();

        let mut authorized = String::new();
        let mut fingerprints = HashMap::new();
        for k in keys {
            let path = PathBuf::from(
                helper(
                    Command::new("bash")
                        .arg(support("sshd.sh"))
                        .arg("key")
                        .arg(env.dir.join("sshd"))
                        .arg(k.name),
                )
                .trim(),
            );
            let public = fs::read_to_string(path.with_extension("pub")).unwrap();
            let fp = helper(
                Command::new("ssh-keygen")
                    .arg("-lf")
                    .arg(path.with_extension("pub")),
            );
            fingerprints.insert(k.name, fp.split_whitespace().nth(1).unwrap().to_string());
            let command = k
                .command
                .replace(
                    "{nsgate}",
                    &format!("{NSGATE} --config {}", env.conf.display()),
                )
                .replace("{conf}", &env.conf.to_string_lossy())
                .replace("{pid}", &env.pid.to_string());
            authorized.push_str(&format!(
                "{},command=\"{command}\" {}",
                k.options,
                public.trim_end()
            ));
            authorized.push('\n');
            env.keys.insert(k.name, path);
        }
        fs::create_dir_all(env.dir.join("sshd")).unwrap();
        fs::write(env.dir.join("sshd/authorized_keys"), authorized).unwrap();

        let mut policy = config.replace("{container}", &env.container);
        for (name, fp) in &fingerprints {
            policy = policy.replace(&format!("{{fp:{name}}}"), fp);
        }
        let text = format!("# {test}\n{}\n{policy}", env.syslog.setting());
        write_trusted(&env.conf, &text);

        let port = helper(
            Command::new("bash")
                .arg(support("sshd.sh"))
                .arg("start")
                .arg(env.dir.join("sshd")),
        );
        env.port = port.trim().parse().unwrap();
        Some(env)
    }

    /// The ssh client for key `key`, with `options` and the remote command.
    pub fn ssh(&self, key: &str, options: &[&str], command: Option<&str>) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.dir)
            .env("TERM", "xterm")
            .args(["-F", "/dev/null", "-i"])
            .arg(&self.keys[key])
            .args(["-p", &self.port.to_string()])
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=5",
                "-o",
                "LogLevel=ERROR",
            ])
            .args(options)
            .arg("root@127.0.0.1");
        cmd.args(command);
        cmd
    }

    /// Runs ssh with stdin from `stdin` (text) or /dev/null, within SSH_LIMIT.
    pub fn run(
        &self,
        key: &str,
        options: &[&str],
        command: Option<&str>,
        stdin: Option<&str>,
    ) -> Out {
        let base = self.dir.join("out").join(unique("run"));
        let input = match stdin {
            Some(text) => {
                fs::write(base.with_extension("in"), text).unwrap();
                Stdio::from(fs::File::open(base.with_extension("in")).unwrap())
            }
            None => Stdio::null(),
        };
        let what = format!("ssh {key} {options:?} {command:?}");
        let mut child = self
            .ssh(key, options, command)
            .stdin(input)
            .stdout(fs::File::create(base.with_extension("stdout")).unwrap())
            .stderr(fs::File::create(base.with_extension("stderr")).unwrap())
            .spawn()
            .unwrap();
        let status = wait_limited(&mut child, SSH_LIMIT, &what);
        let read = |ext| {
            String::from_utf8_lossy(&fs::read(base.with_extension(ext)).unwrap()).into_owned()
        };
        Out {
            code: status.code().unwrap_or(-1),
            stdout: read("stdout"),
            stderr: read("stderr"),
        }
    }

    /// `ssh KEY COMMAND` with no stdin and no tty.
    pub fn cmd(&self, key: &str, command: &str) -> Out {
        self.run(key, &["-T"], Some(command), None)
    }

    /// Runs `script` with sh in the container (test set-up, not via nsgate).
    pub fn docker_sh(&self, script: &str) -> String {
        helper(Command::new("docker").args(["exec", &self.container, "sh", "-c", script]))
    }

    pub fn hostname(&self) -> String {
        helper(Command::new("docker").args([
            "inspect",
            "-f",
            "{{.Config.Hostname}}",
            &self.container,
        ]))
        .trim()
        .to_string()
    }

    pub fn fingerprint(&self, key: &str) -> String {
        let out = helper(
            Command::new("ssh-keygen")
                .arg("-lf")
                .arg(self.keys[key].with_extension("pub")),
        );
        out.split_whitespace().nth(1).unwrap().to_string()
    }

    /// Processes in the container other than its init: (pid, command line).
    pub fn container_processes(&self) -> Vec<(u32, String)> {
        let ns = fs::read_link(format!("/proc/{}/ns/pid", self.pid)).unwrap();
        let mut found = Vec::new();
        for entry in fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == self.pid
                || fs::read_link(entry.path().join("ns/pid")).ok().as_ref() != Some(&ns)
            {
                continue;
            }
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .trim_end()
                .to_string();
            found.push((pid, cmdline));
        }
        found
    }

    /// Host processes of nsgate with this test's configuration.
    pub fn nsgate_processes(&self) -> Vec<u32> {
        let conf = self.conf.to_string_lossy().into_owned();
        let mut found = Vec::new();
        for entry in fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            let zombie = fs::read_to_string(entry.path().join("stat"))
                .map(|s| {
                    s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(true);
            if !zombie && cmdline.starts_with(NSGATE) && cmdline.contains(&conf) {
                found.push(pid);
            }
        }
        found
    }

    /// The nsgate lines of the private rsyslogd's output
    /// ("FACILITY.SEVERITY <PRI>... nsgate[PID]: MESSAGE").
    pub fn audit(&self) -> Vec<String> {
        // Not Rsyslogd::out_log, which panics: this runs in Drop too.
        fs::read_to_string(self.syslog.dir().join("out.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits up to 10 s for an audit line containing every one of `parts`.
    pub fn audit_line(&self, parts: &[&str]) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self
                .audit()
                .into_iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
            {
                return line;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no audit record with {parts:?}; the records are:\n{}",
                self.audit().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let quiet = |cmd: &mut Command| {
            let _ = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        quiet(
            Command::new("bash")
                .arg(support("sshd.sh"))
                .arg("stop")
                .arg(self.dir.join("sshd")),
        );
        quiet(Command::new("docker").args(["rm", "-f", &self.container]));
        self.syslog.stop();
        if std::thread::panicking() {
            // What the daemons saw, for whoever reads the failure.
            let log = fs::read_to_string(self.dir.join("sshd/sshd.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("--- {}: sshd.log (last lines)", self.test);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
            eprintln!(
                "--- {}: audit records\n{}",
                self.test,
                self.audit().join("\n")
            );
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Kills an ssh client left running by a failed assertion.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn assert_denied(out: &Out, what: &str) {
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (126, ""),
        "{what}: {out:?}"
    );
    assert!(
        out.stderr.starts_with("nsgate: denied: "),
        "{what}: {out:?}"
    );
    assert_eq!(out.stderr.lines().count(), 1, "{what}: {out:?}");
}

/// A further container of a test, named `{container}-SUFFIX` so that the
/// policy can name it before it runs; removed when dropped.
pub struct Another {
    pub name: String,
    pub id: String,
}

impl Env {
    /// Starts another container from the test image, `{container}-SUFFIX`.
    pub fn another_container(&self, suffix: &str) -> Another {
        let name = format!("{}-{suffix}", self.container);
        let out = helper(
            Command::new("bash")
                .arg(support("containers.sh"))
                .arg("docker-run")
                .arg(&name),
        );
        let id = out.lines().last().unwrap_or_default().trim().to_string();
        assert!(
            id.len() >= 12,
            "containers.sh docker-run printed no id: {out:?}"
        );
        Another { name, id }
    }
}

impl Another {
    pub fn hostname(&self) -> String {
        helper(Command::new("docker").args(["inspect", "-f", "{{.Config.Hostname}}", &self.name]))
            .trim()
            .to_string()
    }
}

impl Drop for Another {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

// ---- SSH certificates (tests/ssh_certs.rs) ----

/// How sshd learns to trust a test's CAs, each as the user's sshd would.
pub enum CertTrust<'a> {
    /// `TrustedUserCAKeys` with every CA, and an `AuthorizedPrincipalsFile`
    /// of these lines (`{nsgate}` as for [`Key`]).
    PrincipalsFile(&'a [&'a str]),
    /// authorized_keys lines `OPTIONS,command="COMMAND" CA.pub`: (CA name,
    /// options, command).
    CertAuthority(&'a [(&'a str, &'a str, &'a str)]),
}

impl Env {
    /// An `Env` whose sshd trusts the CAs `cas` (made here by ssh-keygen,
    /// `DIR/ca/NAME`) as `trust` says. `{ca:NAME}` in `config` stands for
    /// the CA's fingerprint. Sign client keys with [`Env::certify`].
    pub fn with_cas(test: &str, config: &str, cas: &[&str], trust: CertTrust) -> Option<Env> {
        let ca_dir = std::env::temp_dir().join(unique("nsgate-e2e-ca"));
        fs::create_dir_all(&ca_dir).unwrap();
        let mut policy = config.to_string();
        for name in cas {
            let path = ca_dir.join(name);
            helper(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-C"])
                    .arg(format!("{name}@nsgate-test"))
                    .arg("-f")
                    .arg(&path),
            );
            let fp = helper(
                Command::new("ssh-keygen")
                    .arg("-lf")
                    .arg(path.with_extension("pub")),
            );
            policy = policy.replace(
                &format!("{{ca:{name}}}"),
                fp.split_whitespace().nth(1).unwrap(),
            );
        }
        let Some(mut env) = Env::new(test, &policy, &[]) else {
            let _ = fs::remove_dir_all(&ca_dir);
            return None;
        };
        let sshd = env.dir.join("sshd");
        helper(
            Command::new("cp")
                .arg("-r")
                .arg(&ca_dir)
                .arg(env.dir.join("ca")),
        );
        let _ = fs::remove_dir_all(&ca_dir);
        let public = |name: &str| {
            fs::read_to_string(env.dir.join("ca").join(name).with_extension("pub"))
                .unwrap()
                .trim_end()
                .to_string()
        };
        let nsgate = format!("{NSGATE} --config {}", env.conf.display());
        match trust {
            CertTrust::PrincipalsFile(lines) => {
                let keys: Vec<String> = cas.iter().map(|n| public(n)).collect();
                fs::write(sshd.join("trusted_cas"), keys.join("\n") + "\n").unwrap();
                let lines: Vec<String> = lines
                    .iter()
                    .map(|l| l.replace("{nsgate}", &nsgate))
                    .collect();
                fs::write(sshd.join("principals"), lines.join("\n") + "\n").unwrap();
                fs::write(
                    sshd.join("sshd_config.extra"),
                    format!(
                        "TrustedUserCAKeys {0}/trusted_cas\nAuthorizedPrincipalsFile {0}/principals\n",
                        sshd.display()
                    ),
                )
                .unwrap();
                // sshd reads its configuration once: start it again with these.
                helper(
                    Command::new("bash")
                        .arg(support("sshd.sh"))
                        .arg("stop")
                        .arg(&sshd),
                );
                let port = helper(
                    Command::new("bash")
                        .arg(support("sshd.sh"))
                        .arg("start")
                        .arg(&sshd),
                );
                env.port = port.trim().parse().unwrap();
            }
            CertTrust::CertAuthority(lines) => {
                let mut text = String::new();
                for (ca, options, command) in lines {
                    let command = command.replace("{nsgate}", &nsgate);
                    text += &format!("{options},command=\"{command}\" {}\n", public(ca));
                }
                fs::write(sshd.join("authorized_keys"), text).unwrap();
            }
        }
        Some(env)
    }

    /// Makes client key `key` and its certificate from CA `ca`:
    /// `ssh-keygen -s CA -I ID -n PRINCIPALS -z SERIAL -V VALIDITY`; ssh
    /// offers it along with the key (KEY-cert.pub).
    pub fn certify(
        &mut self,
        key: &'static str,
        ca: &str,
        id: &str,
        principals: &str,
        serial: u64,
        validity: &str,
    ) {
        let path = PathBuf::from(
            helper(
                Command::new("bash")
                    .arg(support("sshd.sh"))
                    .arg("key")
                    .arg(self.dir.join("sshd"))
                    .arg(key),
            )
            .trim(),
        );
        helper(
            Command::new("ssh-keygen")
                .arg("-q")
                .arg("-s")
                .arg(self.dir.join("ca").join(ca))
                .args(["-I", id, "-n", principals, "-z", &serial.to_string()])
                .arg(format!("-V{validity}"))
                .arg(path.with_extension("pub")),
        );
        self.keys.insert(key, path);
    }

    /// The fingerprint of CA `ca`, as ssh-keygen -l prints it.
    pub fn ca_fingerprint(&self, ca: &str) -> String {
        let out = helper(
            Command::new("ssh-keygen")
                .arg("-lf")
                .arg(self.dir.join("ca").join(ca).with_extension("pub")),
        );
        out.split_whitespace().nth(1).unwrap().to_string()
    }

    /// sshd's log lines containing every one of `parts`.
    pub fn sshd_log(&self, parts: &[&str]) -> Vec<String> {
        fs::read_to_string(self.dir.join("sshd/sshd.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_string)
            .collect()
    }
}
