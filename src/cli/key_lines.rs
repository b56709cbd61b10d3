//! The lines an admin adds for a key or a certificate principal:
//! `--authorized-key` (authorized_keys) and `--authorized-principal`
//! (AuthorizedPrincipalsFile), with `restrict` and `pty` as the rules need.
#![forbid(unsafe_code)]

use super::modes::{admin_config, known};
use super::{Args, Report, DEFAULT_CONFIG};
use crate::config::Config;
use crate::identity::{self, Identity};
use crate::policy;
use crate::request::Reach;
use std::path::PathBuf;

/// Longest public key file `--authorized-key` reads.
const MAX_PUBLIC_KEY: u64 = 64 * 1024;

/// `--authorized-key`: the authorized_keys line for the public key on
/// `input` (as ssh-keygen writes it), with `restrict`, and `pty` where the
/// key's rules on a target it reaches give a terminal; exit 1 if no rule
/// permits it anything there.
pub(super) fn authorized_key(args: &Args, input: impl std::io::Read) -> Report {
    let config = match admin_config(args) {
        Ok(config) => config,
        Err(report) => return report,
    };
    if let Err(report) = reachable(args, &config) {
        return report;
    }
    let mut text = String::new();
    if std::io::Read::read_to_string(&mut input.take(MAX_PUBLIC_KEY), &mut text).is_err() {
        return Report::err(
            2,
            "nsgate: standard input is not a public key in UTF-8\n".into(),
        );
    }
    let Some(key) = PublicKey::parse(&text) else {
        return Report::err(
            2,
            "nsgate: standard input holds no public key (TYPE BASE64 [COMMENT], as in a .pub file)\n"
                .into(),
        );
    };
    let who = Identity {
        label: args.key.clone(),
        fingerprint: Some(key.fingerprint.clone()),
        principals: Vec::new(),
    };
    match forced(args, &config, &who, args.key.as_deref(), "this key") {
        Ok(forced) => {
            let comment = key.comment.map(|c| format!(" {c}")).unwrap_or_default();
            Report::out(0, format!("{forced} {} {}{comment}\n", key.kind, key.blob))
        }
        Err(report) => report,
    }
}

/// `--authorized-principal NAME [TARGET]`: the AuthorizedPrincipalsFile
/// line (sshd(8) AUTHORIZED_KEYS FILE FORMAT: key options, then the
/// principal) that runs nsgate with `--key NAME` for certificates naming
/// NAME; with `restrict`, and `pty` where the rules for NAME (label or
/// principal) give a terminal; exit 1 if they permit nothing there.
pub(super) fn authorized_principal(args: &Args) -> Report {
    let config = match admin_config(args) {
        Ok(config) => config,
        Err(report) => return report,
    };
    if let Err(report) = reachable(args, &config) {
        return report;
    }
    let name = args.principal.clone().unwrap_or_default();
    let who = Identity {
        label: Some(name.clone()),
        fingerprint: None,
        principals: vec![name.clone()],
    };
    let whom = format!("principal {name}");
    let mut report = match forced(args, &config, &who, Some(&name), &whom) {
        Ok(forced) => Report::out(0, format!("{forced} {name}\n")),
        Err(report) => return report,
    };
    if config.settings.trusted_ca.is_empty() {
        report.err =
            "nsgate: warning: no \"set trusted-ca\": principal rules give certificates nothing\n"
                .into();
    }
    report
}

/// Exit 2 unless every target the command line names is one.
fn reachable(args: &Args, config: &Config) -> Result<(), Report> {
    let listed = match &args.reach {
        Reach::Fixed(name) => std::slice::from_ref(name),
        Reach::Only(names) => names.as_slice(),
        Reach::Any => &[],
    };
    listed
        .iter()
        .try_for_each(|name| known(config, name).map(drop))
}

/// The options of an authorized_keys or principals line for `who`:
/// `restrict`, `pty` where a rule on a target of `args.reach` gives a
/// terminal, and the forced command, this nsgate with its `--config`,
/// `--key label` and the reach; exit 1 when no rule permits `whom`
/// anything there.
fn forced(
    args: &Args,
    config: &Config,
    who: &Identity,
    label: Option<&str>,
    whom: &str,
) -> Result<String, Report> {
    let mut permits = Vec::new();
    for target in args.reach.targets(config) {
        for rule in policy::rules_for(config, who, &target.name) {
            permits.push(rule.effective(target).tty);
        }
    }
    if permits.is_empty() {
        let on = args.reach.arg().unwrap_or_else(|| "any target".into());
        return Err(Report::err(
            1,
            format!("nsgate: no rule permits {whom} anything on {on}\n"),
        ));
    }
    let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/sbin/nsgate"));
    let mut command = program.display().to_string();
    if args.config != std::path::Path::new(DEFAULT_CONFIG) {
        command += &format!(" --config {}", args.config.display());
    }
    if let Some(label) = label {
        command += &format!(" --key {label}");
    }
    if let Some(target) = args.reach.arg() {
        command += &format!(" {target}");
    }
    // Inside the option's double quotes, sshd takes \" for a quote.
    let command = command.replace('\\', "\\\\").replace('"', "\\\"");
    let options = if permits.contains(&true) {
        "restrict,pty"
    } else {
        "restrict"
    };
    Ok(format!("{options},command=\"{command}\""))
}

/// One public key line: `TYPE BASE64 [COMMENT]`.
struct PublicKey<'a> {
    kind: &'a str,
    blob: &'a str,
    comment: Option<&'a str>,
    fingerprint: String,
}

impl<'a> PublicKey<'a> {
    /// The first line that is not blank or a `#` comment, if it is a key
    /// whose blob decodes and names the same type.
    fn parse(text: &'a str) -> Option<PublicKey<'a>> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))?;
        let mut fields = line.splitn(3, [' ', '\t']);
        let kind = fields.next()?;
        let blob = fields.next()?.trim();
        let comment = fields.next().map(str::trim).filter(|c| !c.is_empty());
        let known =
            kind.starts_with("ssh-") || kind.starts_with("ecdsa-sha2-") || kind.starts_with("sk-");
        if !known || comment.is_some_and(|c| c.chars().any(char::is_control)) {
            return None;
        }
        let fingerprint = identity::fingerprint(blob.as_bytes())?;
        // The blob starts with its own type as an SSH string.
        let decoded =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, blob).ok()?;
        let len = u32::from_be_bytes(decoded.get(..4)?.try_into().ok()?) as usize;
        (decoded.get(4..4 + len)? == kind.as_bytes()).then_some(PublicKey {
            kind,
            blob,
            comment,
            fingerprint,
        })
    }
}
