//! Gate mode: one SSH session from request to exit status, with its audit
//! records. This is the flow of nsgate(8) DESCRIPTION: parse, decide, pin,
//! audit, enter, wait.
#![forbid(unsafe_code)]

use crate::audit::{self, Auditor, Event, Record, SessionId};
use crate::config::{self, Config, Rule, Target};
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
    // The client must not learn the rules or the host: the details are for --check.
    let config = match config::load(config_path) {
        Ok(config) => config,
        Err(e) => return fail(&e, &view),
    };
    let mut auditor = Auditor::new(&config.settings);
    let sid = match SessionId::generate() {
        Ok(sid) => sid,
        Err(e) => return fail(&e, &view),
    };
    let mut record = Record::new(sid, Event::Error);
    record.key = key.clone();
    record.target = Some(target.to_string());
    record.from = audit::client_address(
        std::env::var_os("SSH_CONNECTION").as_deref(),
        std::env::var_os("SSH_CLIENT").as_deref(),
    );
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
    record.cmd = original.as_ref().map(|v| v.as_bytes().to_vec());
    let target = config
        .target(target_name)
        .ok_or_else(|| Error::UnknownTarget(target_name.to_string()))?;
    let login = match std::env::var_os("SSH_USER_AUTH") {
        Some(path) => identity::key_from_user_auth(&PathBuf::from(path), unix_now())?,
        None => None,
    };
    record.fp = login.as_ref().map(|k| k.fingerprint.clone());
    let certificate = login.and_then(|k| k.certificate);
    record.cert = certificate.clone();
    let who = Identity {
        label: key,
        fingerprint: record.fp.clone(),
        principals: certificate.as_ref().map_or_else(Vec::new, |c| {
            identity::trusted_principals(c, &config.settings.trusted_ca)
        }),
    };
    let request = match request::from_env(original.as_deref(), config.settings.max_command_bytes) {
        Ok(request) => request,
        Err(refusal) => return deny(auditor, record, None, refusal.to_string()),
    };
    let rule = match policy::decide(config, &who, target_name, &request) {
        Decision::Deny(rule) => {
            let message = denied(&request, target_name);
            return deny(auditor, record, rule.map(|r| r.origin.clone()), message);
        }
        Decision::Permit(rule) => rule,
    };
    record.rule = Some(rule.origin.clone());
    if let Request::Command { argv, .. } = &request {
        *program = argv.words().first().cloned();
    }
    let mut plan = plan(rule, target, &request, record.sid.to_string());
    plan.cert_end = certificate.as_ref().and_then(|c| c.end());
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
    enter_and_wait(auditor, record, &pinned, &plan, prepared)
}

/// Seconds since the epoch, for a certificate's validity (a clock before
/// the epoch reads as 0).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the client reads when no rule permits the request.
fn denied(request: &Request, target_name: &str) -> String {
    match request {
        Request::Interactive => {
            format!("an interactive session is not permitted on {target_name}")
        }
        // What the client sent, escaped as in the audit record.
        Request::Command { raw, .. } => {
            format!(
                "\"{}\" is not permitted on {target_name}",
                audit::escape(raw)
            )
        }
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
        cert_end: None,
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
) -> Result<i32> {
    let started = Instant::now();
    match enter::start(pinned, plan, prepared).and_then(supervise::run) {
        Ok(outcome) => {
            let reason = outcome.ended_by.map(|why| match why {
                enter::EndReason::Timeout => "timeout".to_string(),
                enter::EndReason::Disconnect => "disconnect".to_string(),
                enter::EndReason::CertExpired => "cert-expired".to_string(),
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
                Some(e.to_string()),
            );
            let _ = auditor.send(&exit);
            Err(e)
        }
    }
}

/// Refuses the request: a deny record (written or not, it is a deny), one
/// line for the client, exit 126.
fn deny(
    auditor: &mut Auditor,
    record: &mut Record,
    rule: Option<config::Origin>,
    message: String,
) -> Result<i32> {
    record.event = Event::Deny;
    record.rule = rule;
    record.reason = Some(message.clone());
    let _ = auditor.send(record);
    crate::output::error_line(&Error::Denied(message).to_string());
    Ok(EXIT_DENIED)
}
