//! `redact GLOB` (nsgate.conf(5), "Rules"): the `cmd` of a record with every
//! argument a glob matches written `<redacted:HEX>`, the first 12 hex digits
//! of the SHA-256 of the argument, so one secret can be followed across
//! records without being stored.
//!
//! `cmd` stays the request as the client sent it: only the text each
//! matching word was lexed from (its quotes and backslashes included) is
//! replaced, so no byte of it is left. A request nsgate could not split
//! into words has no words to match: when any glob applies, all of it is
//! redacted. Unquoted `<` is refused in requests, so in a permitted
//! request's `cmd` a `<redacted:...>` can only be nsgate's.
#![forbid(unsafe_code)]

use sha2::{Digest, Sha256};

use crate::config::glob;
use crate::request::Request;

/// `<redacted:` and 12 hex digits of the SHA-256 of `secret`, and `>`.
pub(crate) fn mark(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("<redacted:{hex}>")
}

/// The record's `cmd` for `raw` (`None`: an interactive session), as parsed
/// into `request` (`None`: refused by the request parser), with `globs`
/// applied.
pub(crate) fn cmd<'g>(
    raw: Option<&[u8]>,
    request: Option<&Request>,
    globs: impl Iterator<Item = &'g str> + Clone,
) -> Option<Vec<u8>> {
    let raw = raw?;
    if globs.clone().next().is_none() {
        return Some(raw.to_vec());
    }
    let argv = match request {
        Some(Request::Command { argv, .. }) => argv,
        _ => return Some(mark(raw).into_bytes()),
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut done = 0;
    for (word, span) in argv.spans() {
        if globs.clone().any(|g| glob::matches_redact(g, word)) {
            out.extend_from_slice(raw.get(done..span.start)?);
            out.extend_from_slice(mark(word.as_bytes()).as_bytes());
            done = span.end;
        }
    }
    out.extend_from_slice(raw.get(done..)?);
    Some(out)
}

/// The words of `request` that `globs` redact, longest first.
pub(crate) fn secrets<'g>(
    request: &Request,
    globs: impl Iterator<Item = &'g str> + Clone,
) -> Vec<String> {
    let Request::Command { argv, .. } = request else {
        return Vec::new();
    };
    let mut out: Vec<String> = argv
        .words()
        .iter()
        .filter(|w| globs.clone().any(|g| glob::matches_redact(g, w)))
        .cloned()
        .collect();
    out.sort_by_key(|w| std::cmp::Reverse(w.len()));
    out
}

/// `text` (nsgate's own words, such as "PROGRAM: not found") with every
/// occurrence of a secret replaced by its mark, so a reason cannot give
/// away what `cmd` hides.
pub(crate) fn scrub(text: String, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text, |text, s| {
            text.replace(s.as_str(), &mark(s.as_bytes()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(raw: &str, globs: &[&str]) -> String {
        let request = crate::request::from_env(Some(raw.as_ref()), 4096).ok();
        let out = cmd(
            Some(raw.as_bytes()),
            request.as_ref(),
            globs.iter().copied(),
        );
        String::from_utf8(out.unwrap()).unwrap()
    }

    #[test]
    fn marks_are_12_hex_digits_of_sha256() {
        // printf %s hunter2 | sha256sum
        assert_eq!(mark(b"hunter2"), "<redacted:f52fbd32b2b3>");
        assert_eq!(mark(b""), "<redacted:e3b0c44298fc>");
    }

    #[test]
    fn matching_words_are_replaced_where_they_were_written() {
        let h = mark(b"--password=hunter2");
        let table: &[(&str, &[&str], String)] = &[
            (
                "mysql --password=hunter2 db",
                &["--password=*"],
                format!("mysql {h} db"),
            ),
            // Quoted or escaped, the word is the same and so is its mark.
            (
                "mysql '--password=hunter2'  db",
                &["--password=*"],
                format!("mysql {h}  db"),
            ),
            (
                "mysql --pass\"word=hun\"ter2",
                &["--password=*"],
                format!("mysql {h}"),
            ),
            (
                "mysql --pass\\word=hunter2",
                &["--password=*"],
                format!("mysql {h}"),
            ),
            // `*` takes `/` and leading dashes here: a secret must not slip by.
            (
                "x --token=a/b/../c",
                &["--token=*"],
                format!("x {}", mark(b"--token=a/b/../c")),
            ),
            (
                "x s3cr3t",
                &["*"],
                format!("{} {}", mark(b"x"), mark(b"s3cr3t")),
            ),
            (
                "x -p s",
                &["-p", "s"],
                format!("x {} {}", mark(b"-p"), mark(b"s")),
            ),
            (
                "x --user=bob",
                &["--password=*"],
                "x --user=bob".to_string(),
            ),
            ("x  --k=[1] ", &["--k=\\[*"], "x  --k=[1] ".to_string()),
            (
                "x --k=[1]",
                &["--k=[[]*"],
                format!("x {}", mark(b"--k=[1]")),
            ),
            ("x é=1", &["?=1"], format!("x {}", mark("é=1".as_bytes()))),
        ];
        for (raw, globs, want) in table {
            assert_eq!(&redacted(raw, globs), want, "{raw} {globs:?}");
        }
    }

    #[test]
    fn no_globs_keep_the_request_and_unparsed_ones_are_all_redacted() {
        assert_eq!(redacted("a 'b", &[]), "a 'b");
        assert_eq!(redacted("a 'b", &["x"]), mark(b"a 'b"));
        assert_eq!(cmd(None, None, ["x"].into_iter()), None);
    }

    #[test]
    fn reasons_lose_the_secrets_too() {
        let request = crate::request::from_env(Some("sekrit x sekrit2".as_ref()), 4096).unwrap();
        let secrets = secrets(&request, ["sekrit*"].into_iter());
        assert_eq!(secrets, ["sekrit2", "sekrit"]);
        let reason = scrub("sekrit: not found; sekrit2".into(), &secrets);
        assert!(!reason.contains("sekrit"), "{reason}");
        assert!(reason.starts_with(&mark(b"sekrit")), "{reason}");
    }

    proptest::proptest! {
        #[test]
        fn no_byte_of_a_redacted_secret_is_left(
            secret in "[a-zA-Z0-9/'\" \\\\]{1,20}",
            before in "[a-z ]{0,10}",
        ) {
            // The secret sent as one quoted word, however it is quoted.
            let quoted = format!("'--secret={}'", secret.replace('\'', "'\\''"));
            let raw = format!("prog {before} {quoted} tail");
            let out = redacted(&raw, &["--secret=*"]);
            let word = format!("--secret={secret}");
            proptest::prop_assert!(!out.contains(&quoted), "{}", out);
            proptest::prop_assert!(out.contains(&mark(word.as_bytes())), "{}", out);
            proptest::prop_assert!(out.ends_with(" tail"));
        }
    }
}
