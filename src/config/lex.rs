//! Splits the configuration text into logical lines of words (nsgate.conf(5),
//! "Lexical structure"): blanks separate words, a word is wholly double-quoted
//! or not quoted at all, `#` outside quotes starts a comment, a trailing `\`
//! joins the next line.
#![forbid(unsafe_code)]

/// One word with where it starts, for `FILE:LINE:COL` messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word {
    pub text: String,
    /// Written in double quotes: always literal.
    pub quoted: bool,
    pub line: u32,
    pub col: u32,
}

/// The words of one logical line (continuations joined), never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub words: Vec<Word>,
}

/// A lexical error at `line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LexError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

/// Splits `text` into logical lines. A logical line with an error is reported
/// and left out; the rest of the file is still read so every error is found.
pub(super) fn lex(text: &[u8]) -> (Vec<Line>, Vec<LexError>) {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    let mut current: Vec<Word> = Vec::new();
    let mut broken = false;
    for (index, raw) in text.split(|b| *b == b'\n').enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let continues = match std::str::from_utf8(raw) {
            Ok(physical) => match lex_physical(physical, number) {
                Ok((mut words, continues)) => {
                    current.append(&mut words);
                    continues
                }
                Err(e) => {
                    errors.push(e);
                    broken = true;
                    ends_with_backslash(physical)
                }
            },
            Err(e) => {
                errors.push(LexError {
                    line: number,
                    col: 0,
                    message: format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1),
                });
                broken = true;
                false
            }
        };
        if !continues {
            if !broken && !current.is_empty() {
                lines.push(Line {
                    words: std::mem::take(&mut current),
                });
            }
            current.clear();
            broken = false;
        }
    }
    (lines, errors)
}

/// Whether a line that failed to lex still looked like it continued, so the
/// next physical line is not read as a fresh statement.
fn ends_with_backslash(physical: &str) -> bool {
    physical.trim_end_matches([' ', '\t']).ends_with('\\')
}

/// Lexes one physical line; returns its words and whether it continues.
fn lex_physical(line: &str, number: u32) -> Result<(Vec<Word>, bool), LexError> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c == ' ' || c == '\t' {
            i += 1;
            continue;
        }
        if c == '#' {
            break;
        }
        if c.is_control() || is_bidi_control(c) {
            return Err(lex_error(number, col, control_message(c)));
        }
        let quoted = c == '"';
        let (text, next) = if quoted {
            quoted_word(&chars, i, number)?
        } else {
            bare_word(&chars, i, number)?
        };
        words.push(Word {
            text,
            quoted,
            line: number,
            col: u32::try_from(col).unwrap_or(u32::MAX),
        });
        i = next;
    }
    let continues = join_continuation(&mut words);
    Ok((words, continues))
}

/// An error at 1-based column `col` of physical line `number`.
fn lex_error(number: u32, col: usize, message: String) -> LexError {
    LexError {
        line: number,
        col: u32::try_from(col).unwrap_or(u32::MAX),
        message,
    }
}

/// The double-quoted word whose `"` is at `start`, and the index after it.
fn quoted_word(chars: &[char], start: usize, number: u32) -> Result<(String, usize), LexError> {
    let err = |col: usize, message: String| lex_error(number, col, message);
    let col = start + 1;
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        let Some(&q) = chars.get(i) else {
            return Err(err(col, "unterminated quoted word".to_string()));
        };
        match q {
            '"' => break,
            '\\' => match chars.get(i + 1) {
                Some(&e @ ('"' | '\\')) => {
                    text.push(e);
                    i += 1;
                }
                Some(&e) => {
                    return Err(err(
                        i + 1,
                        format!("unknown escape \"\\{e}\" in a quoted word (only \\\" and \\\\)"),
                    ))
                }
                None => return Err(err(col, "unterminated quoted word".to_string())),
            },
            q if q.is_control() || is_bidi_control(q) => {
                return Err(err(i + 1, control_message(q)))
            }
            q => text.push(q),
        }
        i += 1;
    }
    i += 1;
    if let Some(&next) = chars.get(i) {
        if next != ' ' && next != '\t' && next != '#' {
            return Err(err(
                i + 1,
                "a quoted word must be followed by a blank".to_string(),
            ));
        }
    }
    Ok((text, i))
}

/// The unquoted word that starts at `start`, and the index after it.
fn bare_word(chars: &[char], start: usize, number: u32) -> Result<(String, usize), LexError> {
    let mut text = String::new();
    let mut i = start;
    while let Some(&w) = chars.get(i) {
        if w == ' ' || w == '\t' || w == '#' {
            break;
        }
        if w == '"' {
            return Err(lex_error(
                number,
                i + 1,
                "a quote in the middle of a word (quote the whole word)".to_string(),
            ));
        }
        if w.is_control() || is_bidi_control(w) {
            return Err(lex_error(number, i + 1, control_message(w)));
        }
        text.push(w);
        i += 1;
    }
    Ok((text, i))
}

/// A `\` as the last unquoted character joins the next line, as a blank.
fn join_continuation(words: &mut Vec<Word>) -> bool {
    let mut continues = false;
    if let Some(last) = words.last_mut() {
        if !last.quoted && last.text.ends_with('\\') {
            last.text.pop();
            continues = true;
            if last.text.is_empty() {
                words.pop();
            }
        }
    }
    continues
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn control_message(c: char) -> String {
    format!("control character U+{:04X} is not allowed", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<Vec<(String, bool)>> {
        let (lines, errors) = lex(src.as_bytes());
        assert!(errors.is_empty(), "{errors:?}");
        lines
            .into_iter()
            .map(|l| l.words.into_iter().map(|w| (w.text, w.quoted)).collect())
            .collect()
    }

    fn first_error(src: &str) -> (u32, u32, String) {
        let (_, errors) = lex(src.as_bytes());
        let e = errors.into_iter().next().expect("an error");
        (e.line, e.col, e.message)
    }

    #[test]
    fn words_quotes_comments_and_continuations() {
        let w = |s: &str, q: bool| (s.to_string(), q);
        assert_eq!(
            texts("a  b\tc"),
            vec![vec![w("a", false), w("b", false), w("c", false)]]
        );
        assert_eq!(
            texts("a \"b c\" d"),
            vec![vec![w("a", false), w("b c", true), w("d", false)]]
        );
        assert_eq!(texts(r#""a\"b\\c""#), vec![vec![w(r#"a"b\c"#, true)]]);
        assert_eq!(texts("a # b c"), vec![vec![w("a", false)]]);
        assert_eq!(texts("a#b"), vec![vec![w("a", false)]]);
        assert_eq!(texts("\"#\" x"), vec![vec![w("#", true), w("x", false)]]);
        assert_eq!(
            texts("a \\\n b\n\nc"),
            vec![vec![w("a", false), w("b", false)], vec![w("c", false)]]
        );
        assert_eq!(texts("a\\\nb"), vec![vec![w("a", false), w("b", false)]]);
        assert_eq!(
            texts("a \\ # comment\n b"),
            vec![vec![w("a", false), w("b", false)]]
        );
        assert_eq!(texts("a\\b c"), vec![vec![w("a\\b", false), w("c", false)]]);
        assert_eq!(texts("\"\" x"), vec![vec![w("", true), w("x", false)]]);
        assert!(texts("# only\n   \n").is_empty());
    }

    #[test]
    fn positions_are_one_based() {
        let (lines, _) = lex(b"\n  ab \"c\"");
        assert_eq!((lines[0].words[0].line, lines[0].words[0].col), (2, 3));
        assert_eq!(lines[0].words[1].col, 6);
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            first_error("ok\nx \"abc"),
            (2, 3, "unterminated quoted word".into())
        );
        assert_eq!(
            first_error("ab\"c\""),
            (
                1,
                3,
                "a quote in the middle of a word (quote the whole word)".into()
            )
        );
        assert_eq!(
            first_error("\"a\"b"),
            (1, 4, "a quoted word must be followed by a blank".into())
        );
        assert_eq!(
            first_error("\"a\\nb\"").2,
            "unknown escape \"\\n\" in a quoted word (only \\\" and \\\\)"
        );
        assert_eq!(
            first_error("a \u{1b}[0m").2,
            "control character U+001B is not allowed"
        );
        assert_eq!(
            first_error("a \u{202e}b").2,
            "control character U+202E is not allowed"
        );
        assert_eq!(
            first_error("a\r").2,
            "control character U+000D is not allowed"
        );
        let (_, errors) = lex(b"a \xff\nb");
        assert_eq!(errors[0].message, "invalid UTF-8 at byte 3");
    }

    #[test]
    fn a_broken_line_is_dropped_and_the_rest_still_read() {
        let (lines, errors) = lex(b"a \"x\nb \\\n \"y\nc");
        assert_eq!(errors.len(), 2);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].words[0].text, "c");
    }
}
