//! Gate mode: one SSH session from request to exit status, with its audit
//! records. This is the flow of nsgate(8) DESCRIPTION: parse, decide, pin,
//! audit, enter, wait.
#![forbid(unsafe_code)]

use crate::audit::{self, redact, Auditor, Event, Record, SessionId};
use crate::config::{self, Config, Rule, Settings, Target};
use crate::enter;
use crate::error::{ClientView, Error, Result, EXIT_DENIED};
use crate::identity::{self, Identity};
use crate::policy::{self, Decision};
use crate::request::{self, Request};
use crate::resolve::{self, Pinned};
use crate::supervise;
use crate::system::Exit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs one gate-mode session and returns nsgate's exit code.
pub(crate) fn run(config_path: &Path, key: Option<String>, target: &str) -> i32 {
    let mut view = ClientView {
        target,
        ..ClientView::default()
    };
    // The client must not learn the rules or the host: the details are for
    // --check, and for the error record the default settings send.
    let config = match config::load(config_path) {
        Ok(config) => config,
        Err(e) => {
            early_error(None, key, Some(target.to_string()), e.to_string());
            return fail(&e, &view);
        }
    };
    let mut auditor = Auditor::new(&config.settings);
    let sid = match SessionId::generate() {
        Ok(sid) => sid,
        Err(e) => return fail(&e, &view),
    };
    let mut record = early_record(sid, Some(&config), key.clone(), Some(target.to_string()));
    let mut program = None;
    match session(
        &config,
        &mut auditor,
        &mut record,
        key,
        target,
        &mut program,
    ) {
        Ok(code) => code,
        Err(e) => {
            if record.event == Event::Error {
                record.reason = Some(e.to_string());
                // Already failing: a lost error record changes nothing.
                let _ = auditor.send(&record);
            }
            let sid = sid.to_string();
            view.sid = Some(&sid);
            view.program = program.as_deref();
            fail(&e, &view)
        }
    }
}

/// A gate-mode command line nsgate refuses (nsgate(8) AUDIT): an error
/// record with what it did say, sent as the configuration it names says,
/// else as the defaults do. Nothing else happens, whether it was sent or not.
pub(crate) fn usage_error(
    config_path: &Path,
    key: Option<String>,
    target: Option<String>,
    reason: String,
) {
    let config = config::load(config_path).ok();
    early_error(config.as_ref(), key, target, reason);
}

/// Writes an error record of a session that ends before any rule is read:
/// with the configuration's settings and `redact` globs when there is one.
fn early_error(config: Option<&Config>, key: Option<String>, target: Option<String>, why: String) {
    let Ok(sid) = SessionId::generate() else {
        return;
    };
    let mut record = early_record(sid, config, key, target);
    record.reason = Some(why);
    let defaults = Settings::default();
    let settings = config.map_or(&defaults, |c| &c.settings);
    // Already failing: a lost error record changes nothing.
    let _ = Auditor::new(settings).send(&record);
}

/// The record of a session before a rule decides: who, from where, and the
/// request with every `redact` glob of the configuration applied, since no
/// rule says yet which words are secrets. Without a configuration, nothing
/// says which are not: all of the request is redacted.
fn early_record(
    sid: SessionId,
    config: Option<&Config>,
    key: Option<String>,
    target: Option<String>,
) -> Record {
    let mut record = Record::new(sid, Event::Error);
    record.key = key;
    record.target = target;
    record.from = audit::client_address(
        std::env::var_os("SSH_CONNECTION").as_deref(),
        std::env::var_os("SSH_CLIENT").as_deref(),
    );
    let original = std::env::var_os("SSH_ORIGINAL_COMMAND");
    let raw = original.as_ref().map(|v| v.as_bytes());
    record.cmd = match config {
        Some(config) => {
            let request =
                request::from_env(original.as_deref(), config.settings.max_command_bytes).ok();
            let globs = config.rules.iter().flat_map(|r| r.redact.iter());
            redact::cmd(raw, request.as_ref(), globs.map(String::as_str))
        }
        None => raw.map(|raw| redact::mark(raw).into_bytes()),
    };
    record
}

/// One line for the client, without host details; the audit record has them.
fn fail(e: &Error, view: &ClientView) -> i32 {
    crate::output::error_line(&e.client_message(view));
    e.exit_code()
}

/// The session proper; `record` collects what the audit records say.
fn session(
    config: &Config,
    auditor: &mut Auditor,
    record: &mut Record,
    key: Option<String>,
    target_name: &str,
    program: &mut Option<String>,
) -> Result<i32> {
    let original = std::env::var_os("SSH_ORIGINAL_COMMAND");
    let target = config
        .target(target_name)
        .ok_or_else(|| Error::UnknownTarget(target_name.to_string()))?;
    let fingerprint = match std::env::var_os("SSH_USER_AUTH") {
        Some(path) => identity::fingerprint_from_user_auth(&PathBuf::from(path))?,
        None => None,
    };
    record.fp = fingerprint.clone();
    let who = Identity {
        label: key,
        fingerprint,
    };
    let request = match request::from_env(original.as_deref(), config.settings.max_command_bytes) {
        Ok(request) => request,
        Err(refusal) => {
            record.reason = Some(refusal.to_string());
            return deny(auditor, record, None, refusal.to_string());
        }
    };
    let rule = match policy::decide(config, &who, target_name, &request) {
        Decision::Deny(rule) => {
            let raw = match &request {
                Request::Interactive => None,
                Request::Command { raw, .. } => Some(&raw[..]),
            };
            // The client sees what it sent; the record, the request redacted.
            let client = denied(raw, target_name);
            record.reason = Some(denied(record.cmd.as_deref(), target_name));
            return deny(auditor, record, rule.map(|r| r.origin.clone()), client);
        }
        Decision::Permit(rule) => rule,
    };
    record.rule = Some(rule.origin.clone());
    // From here on the permitting rule says which words are secrets.
    let raw = original.as_ref().map(|v| v.as_bytes());
    let globs = rule.redact.iter().map(String::as_str);
    record.cmd = redact::cmd(raw, Some(&request), globs.clone());
    let secrets = redact::secrets(&request, globs);
    if let Request::Command { argv, .. } = &request {
        *program = argv.words().first().cloned();
    }
    let plan = plan(rule, target, &request, record.sid.to_string());
    let pinned = resolve::resolve_and_pin(target)?;
    record.container = pinned.runtime.container_id.clone();
    record.pid = Some(pinned.pid);
    record.user = Some(enter::effective_user(&plan, &pinned.runtime).to_string());
    let prepared = enter::prepare(&pinned, &plan)?;
    record.ns = Some(prepared.namespaces());

    // Fail closed (nsgate(8) AUDIT): nothing is entered unless the allow record
    // was accepted.
    record.event = Event::Allow;
    auditor.send(record)?;
    enter_and_wait(auditor, record, &pinned, &plan, prepared, &secrets)
}

/// What the client reads when no rule permits the request `cmd` (`None`:
/// interactive); with the request redacted, the record's reason.
fn denied(cmd: Option<&[u8]>, target_name: &str) -> String {
    match cmd {
        None => format!("an interactive session is not permitted on {target_name}"),
        // What the client sent, escaped as in the audit record.
        Some(cmd) => format!(
            "\"{}\" is not permitted on {target_name}",
            audit::escape(cmd)
        ),
    }
}

/// What enter runs: the request under the permitting rule and the target's defaults.
fn plan(rule: &Rule, target: &Target, request: &Request, session: String) -> enter::Plan {
    let effective = rule.effective(target);
    enter::Plan {
        argv: match request {
            Request::Interactive => None,
            Request::Command { argv, .. } => Some(argv.words().to_vec()),
        },
        user: effective.user.cloned(),
        ns: effective.ns,
        cwd: effective.cwd.map(str::to_string),
        env: effective.env,
        tty: effective.tty,
        timeout: rule.timeout,
        detach: rule.detach,
        session,
    }
}

/// Runs the allowed command and writes its exit record, whether it ran or failed.
fn enter_and_wait(
    auditor: &mut Auditor,
    record: &Record,
    pinned: &Pinned,
    plan: &enter::Plan,
    prepared: enter::Prepared,
    secrets: &[String],
) -> Result<i32> {
    let started = Instant::now();
    match enter::start(pinned, plan, prepared).and_then(supervise::run) {
        Ok(outcome) => {
            let reason = outcome.ended_by.map(|why| match why {
                enter::EndReason::Timeout => "timeout".to_string(),
                enter::EndReason::Disconnect => "disconnect".to_string(),
            });
            let mut exit = record.exit(outcome.status, outcome.duration, reason);
            exit.ended = Some(outcome.ended);
            exit.left = outcome.left;
            // The command has run: a lost exit record cannot change that.
            let _ = auditor.send(&exit);
            Ok(outcome.exit_code())
        }
        Err(e) => {
            let exit = record.exit(
                Exit::Exited(e.exit_code()),
                started.elapsed(),
                Some(redact::scrub(e.to_string(), secrets)),
            );
            let _ = auditor.send(&exit);
            Err(e)
        }
    }
}

/// Refuses the request: a deny record with the reason already in `record`
/// (written or not, it is a deny), one line for the client, exit 126.
fn deny(
    auditor: &mut Auditor,
    record: &mut Record,
    rule: Option<config::Origin>,
    message: String,
) -> Result<i32> {
    record.event = Event::Deny;
    record.rule = rule;
    let _ = auditor.send(record);
    crate::output::error_line(&Error::Denied(message).to_string());
    Ok(EXIT_DENIED)
}
