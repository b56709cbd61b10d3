//! The client's request (nsgate(8) THE REQUEST): `SSH_ORIGINAL_COMMAND` split
//! into an argv with POSIX quoting and nothing else. No shell is ever involved.
#![forbid(unsafe_code)]

mod reach;
#[cfg(test)]
mod tests;

pub(crate) use reach::{named, Reach};

// The size bound is on the request as the audit record will hold it.
use crate::quote::escaped_len;

/// The most words a request may have (nsgate(8) THE REQUEST).
pub(crate) const MAX_WORDS: usize = 256;

/// A parsed, validated request: at least one word, each valid UTF-8 without
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Argv(Vec<String>);

impl Argv {
    pub(crate) fn words(&self) -> &[String] {
        &self.0
    }
}

/// What the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// `SSH_ORIGINAL_COMMAND` unset: an interactive session.
    Interactive,
    /// `raw` is exactly what the client sent, for the audit record.
    Command { raw: Vec<u8>, argv: Argv },
}

/// Why a request was refused before any rule was consulted. Positions are
/// 1-based and count characters, not bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    TooLong {
        len: usize,
        limit: usize,
    },
    InvalidUtf8 {
        at: usize,
        byte: usize,
    },
    Control {
        ch: char,
        at: usize,
    },
    UnmatchedQuote {
        quote: char,
        at: usize,
    },
    TrailingBackslash {
        at: usize,
    },
    Operator {
        op: char,
        at: usize,
    },
    Comment {
        at: usize,
    },
    TooManyWords {
        count: usize,
        first_extra_at: usize,
    },
    Empty,
    /// Empty where the request must name its target ([`named`]).
    NoTarget,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooLong { len, limit } => write!(
                f,
                "request too long: {len} bytes once escaped for the audit record, more than the \
                 limit of {limit} (max-command-bytes): nsgate runs no shell and passes only \
                 bounded requests"
            ),
            Refusal::InvalidUtf8 { at, byte } => write!(
                f,
                "invalid UTF-8 at character {at} (byte {byte}): nsgate runs no shell and accepts \
                 only UTF-8 text"
            ),
            Refusal::Control { ch, at } => write!(
                f,
                "{} U+{:04X} at character {at}: nsgate runs no shell and refuses control \
                 characters, even quoted",
                control_kind(*ch),
                u32::from(*ch)
            ),
            Refusal::UnmatchedQuote { quote, at } => write!(
                f,
                "unmatched {} quote at character {at}: nsgate runs no shell, it splits words with \
                 POSIX quoting only, and every quote must be closed",
                if *quote == '\'' { "single" } else { "double" }
            ),
            Refusal::TrailingBackslash { at } => write!(
                f,
                "lone backslash at the end (character {at}): nsgate runs no shell, and a backslash \
                 must escape a following character"
            ),
            Refusal::Operator { op, at } => write!(
                f,
                "unquoted \"{op}\" at character {at}: nsgate runs no shell, so shell operators are \
                 not allowed (quote it to pass it literally)"
            ),
            Refusal::Comment { at } => write!(
                f,
                "unquoted \"#\" at character {at}: nsgate runs no shell, so there are no comments \
                 and \"#\" is not allowed unquoted (quote it to pass it literally)"
            ),
            Refusal::TooManyWords {
                count,
                first_extra_at,
            } => write!(
                f,
                "too many words: {count}, more than the limit of {MAX_WORDS} (word {} starts at \
                 character {first_extra_at}): nsgate runs no shell and passes at most {MAX_WORDS} \
                 words",
                MAX_WORDS + 1
            ),
            Refusal::Empty => f.write_str(
                "empty command: nsgate runs no shell and has nothing to run (send no command at all \
                 for an interactive session)",
            ),
            Refusal::NoTarget => f.write_str(
                "empty command: nsgate runs no shell and needs a target name first (send no \
                 command at all to see what this key may do)",
            ),
        }
    }
}

fn control_kind(ch: char) -> &'static str {
    if u32::from(ch) < 0x200 {
        "control character"
    } else {
        "bidirectional control character"
    }
}

/// C0, DEL, C1 and the Unicode bidirectional controls (Bidi_Control, which adds
/// U+061C ARABIC LETTER MARK to the contract's list, as nsgate(8) THE REQUEST
/// says): they can hide or reorder what an admin reads in a log or on a
/// terminal.
fn is_forbidden_control(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Unquoted, these would mean something to a shell; nsgate refuses rather
/// than pass them on with a meaning the client may not intend.
fn is_operator(c: char) -> bool {
    matches!(c, ';' | '|' | '&' | '<' | '>' | '(' | ')' | '$' | '`')
}

/// Parses a request string (nsgate(8) THE REQUEST).
///
/// Checks run cheapest first: the size bound, then UTF-8, then control
/// characters anywhere, then the quoting and operators left to right.
pub(crate) fn parse(raw: &[u8], max_command_bytes: usize) -> Result<Argv, Refusal> {
    parse_words(raw, max_command_bytes).map(|lexed| Argv(lexed.words))
}

/// The words of a request, and where its second word starts.
struct Lexed {
    words: Vec<String>,
    /// The byte offset of the second word in the request, if it has one.
    second: Option<usize>,
}

/// [`parse`], keeping where the second word starts, so that a request that
/// names its target first ([`named`]) is split by this same parser.
fn parse_words(raw: &[u8], max_command_bytes: usize) -> Result<Lexed, Refusal> {
    let len = escaped_len(raw);
    if len > max_command_bytes {
        return Err(Refusal::TooLong {
            len,
            limit: max_command_bytes,
        });
    }
    let text = std::str::from_utf8(raw).map_err(|e| {
        let byte = e.valid_up_to();
        let valid = raw.get(..byte).unwrap_or_default();
        // The valid prefix is UTF-8, so counting non-continuation bytes
        // counts its characters.
        let chars = valid.iter().filter(|&&b| b & 0xc0 != 0x80).count();
        Refusal::InvalidUtf8 {
            at: chars + 1,
            byte: byte + 1,
        }
    })?;
    if let Some((i, ch)) = text
        .chars()
        .enumerate()
        .find(|&(_, c)| is_forbidden_control(c))
    {
        return Err(Refusal::Control { ch, at: i + 1 });
    }
    let lexed = lex(text)?;
    if lexed.words.is_empty() {
        return Err(Refusal::Empty);
    }
    Ok(lexed)
}

/// Splits `text` into words with POSIX quoting. Words past `MAX_WORDS` are
/// counted but not kept, so memory stays within the input's size.
fn lex(text: &str) -> Result<Lexed, Refusal> {
    let mut words = Vec::new();
    let mut count = 0usize;
    let mut first_extra_at = 0;
    let mut second = None;
    let mut word: Option<String> = None;
    let mut chars = text
        .char_indices()
        .enumerate()
        .map(|(i, (byte, c))| (i + 1, byte, c))
        .peekable();

    while let Some((at, byte, c)) = chars.next() {
        if c == ' ' {
            if let Some(done) = word.take() {
                if count < MAX_WORDS {
                    words.push(done);
                }
                count += 1;
            }
            continue;
        }
        if word.is_none() && count == 1 {
            second = Some(byte);
        }
        if word.is_none() && count == MAX_WORDS {
            first_extra_at = at;
        }
        let current = word.get_or_insert_with(String::new);
        match c {
            '\'' => loop {
                match chars.next() {
                    Some((_, _, '\'')) => break,
                    Some((_, _, ch)) => current.push(ch),
                    None => return Err(Refusal::UnmatchedQuote { quote: c, at }),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some((_, _, '"')) => break,
                    // As POSIX: inside double quotes a backslash escapes only
                    // these; before anything else it is itself.
                    Some((_, _, '\\')) => match chars.peek() {
                        Some(&(_, _, ch @ ('"' | '\\' | '$' | '`'))) => {
                            chars.next();
                            current.push(ch);
                        }
                        _ => current.push('\\'),
                    },
                    Some((_, _, ch)) => current.push(ch),
                    None => return Err(Refusal::UnmatchedQuote { quote: c, at }),
                }
            },
            '\\' => match chars.next() {
                Some((_, _, ch)) => current.push(ch),
                None => return Err(Refusal::TrailingBackslash { at }),
            },
            '#' => return Err(Refusal::Comment { at }),
            _ if is_operator(c) => return Err(Refusal::Operator { op: c, at }),
            _ => current.push(c),
        }
    }
    if let Some(done) = word {
        if count < MAX_WORDS {
            words.push(done);
        }
        count += 1;
    }
    if count > MAX_WORDS {
        return Err(Refusal::TooManyWords {
            count,
            first_extra_at,
        });
    }
    Ok(Lexed { words, second })
}

/// The request from `SSH_ORIGINAL_COMMAND`'s value (`None`: unset).
pub(crate) fn from_env(
    value: Option<&std::ffi::OsStr>,
    max_command_bytes: usize,
) -> Result<Request, Refusal> {
    use std::os::unix::ffi::OsStrExt;
    match value {
        None => Ok(Request::Interactive),
        Some(v) => {
            let raw = v.as_bytes().to_vec();
            let argv = parse(&raw, max_command_bytes)?;
            Ok(Request::Command { raw, argv })
        }
    }
}
