//! `--probe` (nsgate(8) OPTIONS): asks each target's runtime for its
//! container, as gate mode would, and looks up the users its rules run as in
//! the container's own /etc/passwd and /etc/group, read from the host side.
//! Nothing is run and no namespace is entered.
#![forbid(unsafe_code)]

use crate::config::{Action, Config, Target, TargetKind, Targets, UserSpec};
use crate::enter;
use crate::error::Error;
use crate::resolve::{self, Pinned};

/// One line per target; whether every target is ready.
pub(crate) fn run(config: &Config) -> (bool, String) {
    let mut all_ok = true;
    let mut out = String::new();
    for target in &config.targets {
        match probe(config, target) {
            Ok(what) => out += &format!("{}: ok ({what})\n", target.name),
            Err(why) => {
                all_ok = false;
                out += &format!("{}: {why}\n", target.name);
            }
        }
    }
    (all_ok, out)
}

/// The target pinned and described, or every reason it is not ready.
fn probe(config: &Config, target: &Target) -> Result<String, String> {
    let pinned = resolve::resolve_and_pin(target).map_err(|e| match e {
        Error::Target { why, .. } => why,
        e => e.to_string(),
    })?;
    let users = users_of(config, target, &pinned);
    let specs: Vec<UserSpec> = users.iter().map(|(spec, _)| spec.clone()).collect();
    let found = enter::check_from_host(&pinned, &specs).map_err(|e| e.to_string())?;
    let missing: Vec<String> = users
        .iter()
        .zip(found)
        .filter_map(|((_, whose), found)| found.err().map(|why| format!("{why} ({whose})")))
        .collect();
    if !missing.is_empty() {
        return Err(missing.join("; "));
    }
    Ok(format!(
        "{}, pid {}",
        describe(&target.kind, &pinned),
        pinned.pid
    ))
}

/// The users gate mode may run commands as on `target`, each once with
/// where it comes from: the target's `user`, each permit rule's `as`, and
/// the runtime's default where a permit rule leaves the user to it.
fn users_of(config: &Config, target: &Target, pinned: &Pinned) -> Vec<(UserSpec, String)> {
    let mut users: Vec<(UserSpec, String)> = Vec::new();
    let mut add = |spec: UserSpec, whose: String| {
        if !users.iter().any(|(s, _)| *s == spec) {
            users.push((spec, whose));
        }
    };
    if let Some(user) = &target.user {
        add(user.clone(), format!("target {}", target.origin));
    }
    let permits = config.rules.iter().filter(|r| {
        r.action == Action::Permit
            && match &r.targets {
                Targets::All => true,
                Targets::Names(names) => names.contains(&target.name),
            }
    });
    for rule in permits {
        match rule.effective(target).user {
            Some(user) => add(user.clone(), format!("rule {}", rule.origin)),
            None => add(
                enter::default_user(&pinned.runtime),
                format!("the runtime's default user, for rule {}", rule.origin),
            ),
        }
    }
    users
}

/// What the target was found as: the runtime and its name for the process.
fn describe(kind: &TargetKind, pinned: &Pinned) -> String {
    match kind {
        TargetKind::Docker { .. } | TargetKind::Podman { .. } => {
            let id = pinned.runtime.container_id.as_deref().unwrap_or("?");
            format!("{} {}", kind.name(), id.get(..12).unwrap_or(id))
        }
        TargetKind::Containerd { namespace, id, .. } => format!("containerd {namespace}/{id}"),
        TargetKind::Pidfile { path } => format!("pidfile {}", path.display()),
        TargetKind::Nspawn { machine } => format!("nspawn {machine}"),
    }
}
