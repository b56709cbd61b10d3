//! The client's request (nsgate(8) THE REQUEST): `SSH_ORIGINAL_COMMAND` split
//! into an argv with POSIX quoting and nothing else. No shell is ever involved.
#![forbid(unsafe_code)]

mod reach;
#[cfg(test)]
mod tests;

pub(crate) use reach::{named, Reach};

// The size bound is on the request as the audit record will hold it.
use crate::quote::escaped_len;
use std::ops::Range;

/// The most words a request may have (nsgate(8) THE REQUEST).
pub(crate) const MAX_WORDS: usize = 256;

/// A parsed, validated request: at least one word, each valid UTF-8 without
/// control characters, and where each word was written in the request.
#[derive(Debug, Clone, Eq)]
pub(crate) struct Argv {
    words: Vec<String>,
    /// The bytes of the raw request each word was lexed from, quotes
    /// included: what `redact` replaces in the audit record.
    spans: Vec<Range<usize>>,
}

/// Two requests mean the same when their words are the same, however quoted.
impl PartialEq for Argv {
    fn eq(&self, other: &Argv) -> bool {
        self.words == other.words
    }
}

impl Argv {
    pub(crate) fn words(&self) -> &[String] {
        &self.words
    }

    /// Each word with its span in the raw request.
    pub(crate) fn spans(&self) -> impl Iterator<Item = (&str, Range<usize>)> {
        self.words
            .iter()
            .map(String::as_str)
            .zip(self.spans.iter().cloned())
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
    let (words, spans) = lex(text)?.into_iter().unzip();
    let argv = Argv { words, spans };
    if argv.words.is_empty() {
        return Err(Refusal::Empty);
    }
    Ok(argv)
}

/// A word and the bytes of the text it was lexed from.
type Lexed = (String, Range<usize>);

/// Splits `text` into words with POSIX quoting. Words past `MAX_WORDS` are
/// counted but not kept, so memory stays within the input's size.
fn lex(text: &str) -> Result<Vec<Lexed>, Refusal> {
    let mut words = Vec::new();
    let mut count = 0usize;
    let mut first_extra_at = 0;
    // The word being lexed and the byte it starts at.
    let mut word: Option<(String, usize)> = None;
    let mut chars = text
        .char_indices()
        .enumerate()
        .map(|(i, (byte, c))| (i + 1, byte, c))
        .peekable();

    while let Some((at, byte, c)) = chars.next() {
        if c == ' ' {
            if let Some((done, start)) = word.take() {
                if count < MAX_WORDS {
                    words.push((done, start..byte));
                }
                count += 1;
            }
            continue;
        }
        if word.is_none() && count == MAX_WORDS {
            first_extra_at = at;
        }
        let (current, _) = word.get_or_insert_with(|| (String::new(), byte));
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
    if let Some((done, start)) = word {
        if count < MAX_WORDS {
            words.push((done, start..text.len()));
        }
        count += 1;
    }
    if count > MAX_WORDS {
        return Err(Refusal::TooManyWords {
            count,
            first_extra_at,
        });
    }
    Ok(words)
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
