//! Gate mode: one SSH session from request to exit status, with its audit
//! records. This is the flow of nsgate(8) DESCRIPTION: parse, decide, pin,
//! audit, enter, wait.
#![forbid(unsafe_code)]

use crate::audit::{self, redact, Auditor, Event, Record, SessionId};
use crate::config::{self, Config, RecordMode, Rule, Settings, Target};
use crate::enter;
use crate::error::{ClientView, Error, Result, EXIT_DENIED};
use crate::identity::{self, Identity};
use crate::policy::{self, Decision};
use crate::recording::{self, Recording};
use crate::request::{self, Reach, Request};
use crate::resolve::{self, Pinned};
use crate::supervise;
use crate::system::Exit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs one gate-mode session and returns nsgate's exit code.
pub(crate) fn run(config_path: &Path, key: Option<String>, reach: &Reach) -> i32 {
    let fixed = match reach {
        Reach::Fixed(target) => Some(target.as_str()),
        Reach::Any | Reach::Only(_) => None,
    };
    let mut view = ClientView {
        target: fixed.unwrap_or_default(),
        ..ClientView::default()
    };
    // The client must not learn the rules or the host: the details are for
    // --check, and for the error record the default settings send.
    let config = match config::load(config_path) {
        Ok(config) => config,
        Err(e) => {
            early_error(None, key, fixed.map(str::to_string), e.to_string());
            return fail(&e, &view);
        }
    };
    let mut auditor = Auditor::new(&config.settings);
    let sid = match SessionId::generate() {
        Ok(sid) => sid,
        Err(e) => return fail(&e, &view),
    };
    let mut record = early_record(sid, Some(&config), key.clone(), fixed.map(str::to_string));
    let mut program = None;
    let outcome = session(&config, &mut auditor, &mut record, key, reach, &mut program);
    // A request may have named the target: the client reads that name.
    let target = record.target.clone().unwrap_or_default();
    view.target = &target;
    match outcome {
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
    reach: &Reach,
    program: &mut Option<String>,
) -> Result<i32> {
    let original = std::env::var_os("SSH_ORIGINAL_COMMAND");
    // A TARGET in authorized_keys that is not one is the admin's mistake.
    if let Reach::Fixed(name) = reach {
        config
            .target(name)
            .ok_or_else(|| Error::UnknownTarget(name.clone()))?;
    }
    let who = identify(config, record, key)?;
    let max = config.settings.max_command_bytes;
    let parsed = match (reach, original.as_deref()) {
        (Reach::Fixed(name), original) => {
            request::from_env(original, max).map(|r| (name.clone(), r))
        }
        (_, None) => return list(config, auditor, record, &who, reach),
        (_, Some(raw)) => request::named(raw.as_bytes(), max),
    };
    let (target_name, request) = match parsed {
        Ok(parsed) => parsed,
        Err(refusal) => {
            record.reason = Some(refusal.to_string());
            return deny(auditor, record, None, refusal.to_string());
        }
    };
    record.target = Some(target_name.clone());
    // What the record holds of the request before the target named it.
    let named = original.as_ref().map_or(&[][..], |v| v.as_bytes());
    let prefix = &named[..named.len() - request_raw(&request).map_or(0, <[u8]>::len)];
    // A name that is no target, or not one this key reaches, is denied as
    // if no rule permitted it, so that a client cannot probe for targets.
    let (decision, target) = match config.target(&target_name) {
        Some(target) if reach.allows(&target_name) => {
            (policy::decide(config, &who, &target_name, &request), target)
        }
        _ => return refuse(auditor, record, None, &request, prefix),
    };
    let rule = match decision {
        Decision::Deny(rule) => return refuse(auditor, record, rule, &request, prefix),
        Decision::Permit(rule) => rule,
    };
    record.rule = Some(rule.origin.clone());
    // From here on the permitting rule says which words are secrets.
    let globs = rule.redact.iter().map(String::as_str);
    record.cmd = match redact::cmd(request_raw(&request), Some(&request), globs.clone()) {
        Some(rest) => Some([prefix, &rest].concat()),
        // Interactive: by no request at all, or by a target's name alone.
        None => original.as_ref().map(|_| prefix.to_vec()),
    };
    let secrets = redact::secrets(&request, globs);
    if let Request::Command { argv, .. } = &request {
        *program = argv.words().first().cloned();
    }
    let mut plan = plan(rule, target, &request, record.sid.to_string());
    plan.cert_end = record.cert.as_ref().and_then(|c| c.end());
    let pinned = resolve::resolve_and_pin(target)?;
    record.container = pinned.runtime.container_id.clone();
    record.pid = Some(pinned.pid);
    record.user = Some(enter::effective_user(&plan, &pinned.runtime).to_string());
    let prepared = enter::prepare(&pinned, &plan)?;
    record.ns = Some(prepared.namespaces());
    // Fail closed (nsgate(8) RECORDING): no recording, no session; the allow
    // record follows the file's creation.
    let recording = rule
        .record
        .map(|mode| start_recording(config, record, mode))
        .transpose()?;
    // Fail closed (nsgate(8) AUDIT): nothing is entered unless the allow record
    // was accepted.
    record.event = Event::Allow;
    auditor.send(record)?;
    enter_and_wait(
        auditor, record, &pinned, &plan, prepared, recording, &secrets,
    )
}

/// Who logged in: the `--key` label, and from `SSH_USER_AUTH` the key's
/// fingerprint and, for a certificate, the principals a trusted CA vouches
/// for; the record gets the fingerprint and the certificate.
fn identify(config: &Config, record: &mut Record, key: Option<String>) -> Result<Identity> {
    let login = match std::env::var_os("SSH_USER_AUTH") {
        Some(path) => identity::key_from_user_auth(&PathBuf::from(path), unix_now())?,
        None => None,
    };
    record.fp = login.as_ref().map(|k| k.fingerprint.clone());
    record.cert = login.and_then(|k| k.certificate);
    Ok(Identity {
        label: key,
        fingerprint: record.fp.clone(),
        principals: record.cert.as_ref().map_or_else(Vec::new, |c| {
            identity::trusted_principals(c, &config.settings.trusted_ca)
        }),
    })
}

/// The session's recording, created before anything runs.
fn start_recording(config: &Config, record: &Record, mode: RecordMode) -> Result<Recording> {
    let about = recording::About {
        sid: record.sid,
        key: record.key.as_deref(),
        target: record.target.as_deref().unwrap_or_default(),
        command: record.cmd.as_deref(),
    };
    Recording::create(&config.settings, mode, &about)
}

/// Seconds since the epoch, for a certificate's validity (a clock before
/// the epoch reads as 0).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A login that names no target and sends no request: the key's own
/// permissions (nsgate(8) THE REQUEST), once the `list` record is accepted.
fn list(
    config: &Config,
    auditor: &mut Auditor,
    record: &mut Record,
    who: &Identity,
    reach: &Reach,
) -> Result<i32> {
    record.event = Event::List;
    auditor.send(record)?;
    let text = policy::list::for_client(config, who, reach);
    if text.is_empty() {
        crate::output::error_line("this key is permitted nothing");
    }
    // A client gone or a full pipe is its own loss: it has been audited.
    let _ = crate::output::stdout(&text);
    Ok(0)
}

/// The bytes the client sent as the command (`None`: interactive).
fn request_raw(request: &Request) -> Option<&[u8]> {
    match request {
        Request::Interactive => None,
        Request::Command { raw, .. } => Some(raw),
    }
}

/// Denies `request` on the target in `record` (`rule`: the deny rule that
/// decided, if one did). The client reads what it sent; the record's
/// reason has the request as `cmd` holds it, redacted, without the
/// `prefix` that named the target.
fn refuse(
    auditor: &mut Auditor,
    record: &mut Record,
    rule: Option<&Rule>,
    request: &Request,
    prefix: &[u8],
) -> Result<i32> {
    let target = record.target.clone().unwrap_or_default();
    let client = denied(request_raw(request), &target);
    let recorded = record
        .cmd
        .as_deref()
        .map(|c| c.strip_prefix(prefix).unwrap_or(c));
    record.reason = Some(denied(request_raw(request).and(recorded), &target));
    deny(auditor, record, rule.map(|r| r.origin.clone()), client)
}

/// What the client reads when no rule permits the request `cmd` (`None`:
/// interactive); with the request redacted, the record's reason.
fn denied(cmd: Option<&[u8]>, target_name: &str) -> String {
    // A name the client sent may be anything printable.
    let shown;
    let target_name = if config::is_name(target_name) {
        target_name
    } else {
        shown = format!("\"{}\"", audit::escape(target_name.as_bytes()));
        &shown
    };
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
        cert_end: None,
        detach: rule.detach,
        session,
        record: rule.record.is_some(),
    }
}

/// Runs the allowed command and writes its exit record, whether it ran or failed.
fn enter_and_wait(
    auditor: &mut Auditor,
    record: &Record,
    pinned: &Pinned,
    plan: &enter::Plan,
    prepared: enter::Prepared,
    recording: Option<Recording>,
    secrets: &[String],
) -> Result<i32> {
    let started = Instant::now();
    // What a session that never started has recorded: the header.
    let header = recording.as_ref().map(Recording::written);
    match enter::start(pinned, plan, prepared).and_then(|s| supervise::run(s, recording)) {
        Ok(outcome) => {
            let reason = outcome.ended_by.map(|why| why.name().to_string());
            let mut exit = record.exit(outcome.status, outcome.duration, reason);
            exit.ended = Some(outcome.ended);
            exit.left = outcome.left;
            exit.recorded = outcome.recorded;
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
            let exit = Record {
                recorded: header,
                ..exit
            };
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
