//! The lines of sshd's `authorized_keys` and `AuthorizedPrincipalsFile` files
//! (sshd(8) AUTHORIZED_KEYS FILE FORMAT, sshd_config(5)) whose forced command
//! runs nsgate, for `--check --authorized-keys` (nsgate(8) OPTIONS): their
//! options, key and command words. Only read, never trusted: a line this
//! parser is not sure of is reported, not guessed at.
#![forbid(unsafe_code)]

use std::fmt;

/// A line whose `command="..."` runs nsgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forced {
    /// `restrict` is among the options.
    pub restrict: bool,
    /// Whether sshd gives the key a terminal: unless `restrict` or `no-pty`
    /// and no `pty` after them.
    pub pty: bool,
    /// The public key's base64 blob; `None` on a principals file's line.
    pub key: Option<String>,
    /// The command's words as the shell splits them, nsgate first.
    pub words: Vec<String>,
}

/// What one line is, for the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// Blank, a comment, or a key or principal whose command is not nsgate.
    Other,
    Forced(Forced),
    /// The command names nsgate but runs something else first (`sudo`,
    /// `exec`, `env`): its words are not checked.
    Indirect(String),
    Junk(Junk),
}

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Junk {
    NotUtf8,
    /// sshd refuses these options too (auth-options.c's wording).
    Options(&'static str),
    TwoCommands,
    /// Options but no key or principal after them.
    NothingAfterOptions,
    /// The command naming nsgate, and why it cannot be split without a shell.
    Command(String, Unsplit),
}

/// Why a command cannot be split as plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsplit {
    /// An unquoted character the shell gives a meaning.
    Special(char),
    /// `$` or a backquote inside double quotes: an expansion.
    Expansion(char),
    Unterminated(char),
    TrailingBackslash,
    ControlCharacter,
    /// `NAME=value` before the program.
    Assignment,
    Empty,
}

impl fmt::Display for Junk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Junk::NotUtf8 => f.write_str("a line naming nsgate that is not valid UTF-8"),
            Junk::Options(why) => write!(f, "bad options ({why}); sshd refuses this line"),
            Junk::TwoCommands => f.write_str("command given twice; sshd refuses this line"),
            Junk::NothingAfterOptions => {
                f.write_str("no key or principal after the options; sshd refuses this line")
            }
            Junk::Command(command, why) => {
                write!(
                    f,
                    "cannot split the command \"{}\" without a shell: ",
                    command.escape_debug()
                )?;
                match why {
                    Unsplit::Special(c) => write!(f, "unquoted '{}'", c.escape_debug()),
                    Unsplit::Expansion(c) => write!(f, "'{c}' inside double quotes"),
                    Unsplit::Unterminated(q) => write!(f, "unterminated {q}"),
                    Unsplit::TrailingBackslash => f.write_str("a backslash at the end"),
                    Unsplit::ControlCharacter => f.write_str("a control character"),
                    Unsplit::Assignment => f.write_str("a variable assignment before the program"),
                    Unsplit::Empty => f.write_str("no words"),
                }
            }
        }
    }
}

/// Every line of `text` that is not [`Line::Other`], with its number from 1.
pub(crate) fn lines(text: &[u8]) -> Vec<(u32, Line)> {
    text.split(|&b| b == b'\n')
        .zip(1u32..)
        .map(|(bytes, n)| {
            let line = match std::str::from_utf8(bytes) {
                Ok(s) => parse_line(s),
                Err(_) if contains(bytes, b"nsgate") => Line::Junk(Junk::NotUtf8),
                Err(_) => Line::Other,
            };
            (n, line)
        })
        .filter(|(_, line)| *line != Line::Other)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One line: `[OPTIONS] TYPE BASE64 [COMMENT]` or `[OPTIONS] PRINCIPAL`.
pub(crate) fn parse_line(line: &str) -> Line {
    let line = line.trim_start_matches([' ', '\t']).trim_end_matches('\r');
    if line.is_empty() || line.starts_with('#') {
        return Line::Other;
    }
    let (first, rest) = first_field(line);
    let rest = rest.trim_start_matches([' ', '\t']);
    // A key without options: no command.
    if is_key_type(first) {
        return Line::Other;
    }
    // A principal alone, unless it is options (with an unclosed quote
    // perhaps) that name a command and lack what follows them.
    if rest.is_empty() && !first.to_ascii_lowercase().contains("command=") {
        return Line::Other;
    }
    let options = match options(first) {
        Ok(options) => options,
        Err(junk) => return Line::Junk(junk),
    };
    let mut commands = options.iter().filter(|(name, _)| name == "command");
    let Some((_, Some(command))) = commands.next() else {
        return Line::Other;
    };
    if commands.next().is_some() {
        return Line::Junk(Junk::TwoCommands);
    }
    if !command.contains("nsgate") {
        return Line::Other;
    }
    if rest.is_empty() {
        return Line::Junk(Junk::NothingAfterOptions);
    }
    let words = match split(command) {
        Ok(words) => words,
        Err(why) => return Line::Junk(Junk::Command(command.clone(), why)),
    };
    if basename(&words[0]) != "nsgate" {
        return match words.iter().any(|w| basename(w) == "nsgate") {
            true => Line::Indirect(words[0].clone()),
            false => Line::Other,
        };
    }
    let (kind, after) = first_field(rest);
    let key = is_key_type(kind)
        .then(|| after.split_whitespace().next().map(str::to_string))
        .flatten();
    let mut pty = true;
    for (name, _) in &options {
        match name.as_str() {
            "restrict" | "no-pty" => pty = false,
            "pty" => pty = true,
            _ => {}
        }
    }
    Line::Forced(Forced {
        restrict: options.iter().any(|(name, _)| name == "restrict"),
        pty,
        key,
        words,
    })
}

/// The text up to the first blank outside double quotes, and the rest, as
/// sshd skips past the options (`\"` inside them is no closing quote).
fn first_field(line: &str) -> (&str, &str) {
    let mut quoted = false;
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quoted && line[i + 1..].starts_with('"') => {
                chars.next();
            }
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return (&line[..i], &line[i..]),
            _ => {}
        }
    }
    (line, "")
}

/// Key types as ssh-keygen writes them, certificates included.
fn is_key_type(word: &str) -> bool {
    ["ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-sha2-"]
        .iter()
        .any(|p| word.starts_with(p))
}

/// The options, `name` or `name="value"`, comma-separated; names in lower
/// case, as sshd compares them. Inside the quotes `\"` is a quote and any
/// other backslash is itself.
fn options(text: &str) -> Result<Vec<(String, Option<String>)>, Junk> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let end = rest.find([',', '=']).unwrap_or(rest.len());
        let name = rest[..end].to_ascii_lowercase();
        if name.is_empty() {
            return Err(Junk::Options("empty option"));
        }
        rest = &rest[end..];
        let value = match rest.strip_prefix('=') {
            Some(quoted) => {
                let (value, after) = dequote(quoted)?;
                rest = after;
                Some(value)
            }
            None => None,
        };
        out.push((name, value));
        match rest.strip_prefix(',') {
            None if rest.is_empty() => return Ok(out),
            None => return Err(Junk::Options("unknown key option")),
            Some("") => return Err(Junk::Options("unexpected end-of-options")),
            Some(more) => rest = more,
        }
    }
}

/// A double-quoted value and the text after it.
fn dequote(text: &str) -> Result<(String, &str), Junk> {
    let body = text
        .strip_prefix('"')
        .ok_or(Junk::Options("missing start quote"))?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &body[i + 1..])),
            '\\' if body[i + 1..].starts_with('"') => {
                chars.next();
                value.push('"');
            }
            c => value.push(c),
        }
    }
    Err(Junk::Options("missing end quote"))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Characters that mean something to the shell when unquoted; `#`, `~` and
/// `=` only in some places, refused everywhere all the same.
const SPECIAL: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '[', ']', '{', '}', '~', '#', '!', '=',
];

/// Splits `command` as `sh -c` would, refusing whatever is more than words
/// and quotes: expansions, globs, operators, redirections. `=` is allowed
/// inside a word that is not the first (`--config=FILE`).
fn split(command: &str) -> Result<Vec<String>, Unsplit> {
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        if c.is_control() && c != '\t' {
            return Err(Unsplit::ControlCharacter);
        }
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) if c.is_control() => return Err(Unsplit::ControlCharacter),
                        Some(c) => w.push(c),
                        None => return Err(Unsplit::Unterminated('\'')),
                    }
                }
            }
            '"' => double_quoted(&mut chars, word.get_or_insert_with(String::new))?,
            '\\' => match chars.next() {
                Some(c) if c.is_control() => return Err(Unsplit::ControlCharacter),
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err(Unsplit::TrailingBackslash),
            },
            '=' if !words.is_empty() && word.is_some() => {
                word.get_or_insert_with(String::new).push(c)
            }
            '=' if word.is_some() => return Err(Unsplit::Assignment),
            c if SPECIAL.contains(&c) => return Err(Unsplit::Special(c)),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    if words.is_empty() {
        return Err(Unsplit::Empty);
    }
    Ok(words)
}

/// The rest of a double-quoted part: a backslash escapes only `"`, `\`,
/// `$` and a backquote; `$` and a backquote themselves would expand.
fn double_quoted(chars: &mut std::str::Chars<'_>, word: &mut String) -> Result<(), Unsplit> {
    loop {
        match chars.next() {
            None => return Err(Unsplit::Unterminated('"')),
            Some('"') => return Ok(()),
            Some(c) if c.is_control() => return Err(Unsplit::ControlCharacter),
            Some(c @ ('$' | '`')) => return Err(Unsplit::Expansion(c)),
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                Some(c) if c.is_control() => return Err(Unsplit::ControlCharacter),
                Some(c) => {
                    word.push('\\');
                    word.push(c);
                }
                None => return Err(Unsplit::Unterminated('"')),
            },
            Some(c) => word.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forced(restrict: bool, pty: bool, key: Option<&str>, words: &[&str]) -> Line {
        Line::Forced(Forced {
            restrict,
            pty,
            key: key.map(str::to_string),
            words: words.iter().map(|w| w.to_string()).collect(),
        })
    }

    #[test]
    fn lines_and_what_they_are() {
        let ng = "/usr/sbin/nsgate";
        let table: Vec<(&str, Line)> = vec![
            ("", Line::Other),
            (
                "   # restrict,command=\"nsgate x\" ssh-ed25519 AAAA",
                Line::Other,
            ),
            ("ssh-ed25519 AAAA command=\"nsgate x\"", Line::Other),
            ("alice", Line::Other),
            ("command=\"/bin/ls\" ssh-ed25519 AAAA", Line::Other),
            ("no-pty ssh-ed25519 AAAA", Line::Other),
            (
                "restrict,command=\"/usr/sbin/nsgate --key alice web1\" ssh-ed25519 AAAA c@d",
                forced(true, false, Some("AAAA"), &[ng, "--key", "alice", "web1"]),
            ),
            (
                "  RESTRICT,PTY,Command=\"nsgate web1\"\tssh-rsa BBBB",
                forced(true, true, Some("BBBB"), &["nsgate", "web1"]),
            ),
            (
                "pty,restrict,command=\"nsgate web1\" ssh-rsa BBBB\r",
                forced(true, false, Some("BBBB"), &["nsgate", "web1"]),
            ),
            (
                "no-pty,command=\"nsgate web1\" ssh-rsa BBBB",
                forced(false, false, Some("BBBB"), &["nsgate", "web1"]),
            ),
            (
                "from=\"10.0.0.1,10.0.0.2\",command=\"nsgate web1\" ssh-rsa BBBB",
                forced(false, true, Some("BBBB"), &["nsgate", "web1"]),
            ),
            // Quotes: sshd's \" inside the option, then the shell's quoting.
            (
                r#"restrict,command="nsgate --key 'al ice' \"web 1\" a\ b c\"d\"" ssh-rsa BBBB"#,
                forced(
                    true,
                    false,
                    Some("BBBB"),
                    &["nsgate", "--key", "al ice", "web 1", "a b", "cd"],
                ),
            ),
            (
                r#"restrict,command="nsgate \"a\\\\b\\c\"" x@y"#,
                forced(true, false, None, &["nsgate", r"a\\b\c"]),
            ),
            (
                "restrict,command=\"nsgate --config=/etc/n.conf web1,db\" deploy",
                forced(
                    true,
                    false,
                    None,
                    &["nsgate", "--config=/etc/n.conf", "web1,db"],
                ),
            ),
            (
                "command=\"sudo /usr/sbin/nsgate web1\" ssh-rsa BBBB",
                Line::Indirect("sudo".into()),
            ),
            ("command=\"/opt/nsgate-wrapper\" ssh-rsa BBBB", Line::Other),
            (
                "restrict,command=\"nsgate web1\"",
                Line::Junk(Junk::NothingAfterOptions),
            ),
            ("restrict,command=\"/bin/ls\"", Line::Other),
            (
                "command=\"nsgate x\",command=\"nsgate y\" ssh-rsa BBBB",
                Line::Junk(Junk::TwoCommands),
            ),
            (
                "restrict,command=\"nsgate web1 ssh-rsa BBBB",
                Line::Junk(Junk::Options("missing end quote")),
            ),
            (
                "restrict,,command=\"nsgate web1\" ssh-rsa BBBB",
                Line::Junk(Junk::Options("empty option")),
            ),
            (
                "restrict, ssh-rsa BBBB",
                Line::Junk(Junk::Options("unexpected end-of-options")),
            ),
            (
                "command=nsgate ssh-rsa BBBB",
                Line::Junk(Junk::Options("missing start quote")),
            ),
            (
                "command=\"nsgate\"x ssh-rsa BBBB",
                Line::Junk(Junk::Options("unknown key option")),
            ),
        ];
        for (line, want) in table {
            assert_eq!(parse_line(line), want, "{line}");
        }
    }

    #[test]
    fn commands_a_shell_would_do_more_with() {
        let table = [
            ("nsgate web1; id", Unsplit::Special(';')),
            ("nsgate $TARGET", Unsplit::Special('$')),
            ("nsgate \"$T\"", Unsplit::Expansion('$')),
            ("nsgate \"`id`\"", Unsplit::Expansion('`')),
            ("nsgate web*", Unsplit::Special('*')),
            ("nsgate ~/x", Unsplit::Special('~')),
            ("nsgate web1 | tee", Unsplit::Special('|')),
            ("nsgate web1 > /tmp/x", Unsplit::Special('>')),
            ("nsgate web1 &", Unsplit::Special('&')),
            ("nsgate 'web1", Unsplit::Unterminated('\'')),
            ("nsgate \"web1", Unsplit::Unterminated('"')),
            ("nsgate web1\\", Unsplit::TrailingBackslash),
            ("A=1 nsgate web1", Unsplit::Assignment),
            ("nsgate =x", Unsplit::Special('=')),
            ("nsgate web1 # note", Unsplit::Special('#')),
            ("nsgate\u{7} web1", Unsplit::ControlCharacter),
        ];
        for (command, why) in table {
            assert_eq!(split(command), Err(why), "{command}");
            if why == Unsplit::TrailingBackslash {
                // Its `\"` would be sshd's escaped quote.
                continue;
            }
            let line = format!("command=\"{}\" ssh-rsa B", command.replace('"', "\\\""));
            assert_eq!(
                parse_line(&line),
                Line::Junk(Junk::Command(command.into(), why)),
                "{line}"
            );
        }
        assert_eq!(split("  "), Err(Unsplit::Empty));
        // `=` is plain after the first `=`-free word, as in --config=FILE.
        assert_eq!(
            split("nsgate --config=/x a=b").unwrap(),
            ["nsgate", "--config=/x", "a=b"]
        );
    }

    #[test]
    fn numbers_lines_and_reports_junk() {
        let text = b"# keys\n\nssh-ed25519 AAAA\nrestrict,command=\"nsgate w\" ssh-rsa B\n\xff nsgate\n\xff other\ncommand=\"nsgate\n";
        let got = lines(text);
        assert_eq!(
            got,
            vec![
                (4, forced(true, false, Some("B"), &["nsgate", "w"])),
                (5, Line::Junk(Junk::NotUtf8)),
                (7, Line::Junk(Junk::Options("missing end quote"))),
            ]
        );
        let texts: Vec<String> = got
            .iter()
            .filter_map(|(_, l)| match l {
                Line::Junk(j) => Some(j.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            texts,
            [
                "a line naming nsgate that is not valid UTF-8",
                "bad options (missing end quote); sshd refuses this line"
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_lines(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = lines(&bytes);
        }

        #[test]
        fn never_panics_on_line_like_text(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "restrict", "pty", "no-pty", ",", "command=", "\"", "\\\"", "\\", "'", " ",
                    "\t", "nsgate", "/usr/sbin/nsgate", "--key", "alice", "web1,db", "ssh-ed25519",
                    "AAAA", "$", "=", "#", "é", "\r", ";", "from=\"a,b\"",
                ]),
                0..30,
            )
        ) {
            let line = parts.concat();
            if let Line::Forced(f) = parse_line(&line) {
                proptest::prop_assert!(!f.words.is_empty());
            }
        }
    }
}
