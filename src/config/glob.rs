//! Glob words of command patterns (nsgate.conf(5), "Command patterns"): `?`,
//! `*` and `[...]` over one argument. They never match `/`, an option the
//! pattern did not start as one, or a path with an empty, `.` or `..`
//! component.
#![forbid(unsafe_code)]

/// True when `word`, written unquoted in a pattern, is a glob: it contains
/// `*`, `?` or a `[` that opens a set (so a lone `[`, the `test` program,
/// is a literal).
pub(crate) fn is_glob(word: &str) -> bool {
    let chars: Vec<char> = word.chars().collect();
    chars.iter().enumerate().any(|(i, c)| match c {
        '*' | '?' => true,
        '[' => set_end(&chars, i).is_some(),
        _ => false,
    })
}

/// Whether the glob `pattern` matches the argument `arg`.
pub(crate) fn matches(pattern: &str, arg: &str) -> bool {
    // No option smuggling: `tar -C /srv *` must not accept `--to-command=id`.
    if arg.starts_with('-') && !pattern.starts_with('-') {
        return false;
    }
    if !clean_path(arg) {
        return false;
    }
    // Sets never span a `/` (see `set_end`), so every `/` of the pattern is
    // literal and the two can be compared component by component.
    let pats: Vec<&str> = pattern.split('/').collect();
    let args: Vec<&str> = arg.split('/').collect();
    pats.len() == args.len()
        && pats.iter().zip(&args).all(|(p, a)| {
            let arg: Vec<char> = a.chars().collect();
            match_component(&tokens(p), &arg)
        })
}

/// Whether the glob `pattern` matches `arg` for a rule's `redact`
/// (nsgate.conf(5), "Rules"): there `*`, `?` and sets match `/` too, and
/// options and paths are not guarded, since an argument the glob failed to
/// match would be written in the clear.
pub(crate) fn matches_redact(pattern: &str, arg: &str) -> bool {
    let arg: Vec<char> = arg.chars().collect();
    match_tokens(&tokens(pattern), &arg, Token::matches_any)
}

/// True when no argument can match `pattern`: a component after the leading
/// `/` that matches only an empty, `.` or `..` component (`/var/log//x*`,
/// `/srv/./*`, `/srv/../*`, `/srv/*/`), which [`matches`] refuses in every
/// argument.
pub(crate) fn never_matches(pattern: &str) -> bool {
    let rest = pattern.strip_prefix('/').unwrap_or(pattern);
    rest.split('/').any(|c| only_dots(&tokens(c)))
}

/// Whether a component's tokens match nothing but "", "." or "..": at most
/// two tokens, each a `.` or a set of nothing but `.`.
fn only_dots(tokens: &[Token]) -> bool {
    tokens.len() <= 2
        && tokens.iter().all(|t| match t {
            Token::Char(c) => *c == '.',
            Token::Set {
                negated: false,
                ranges,
            } => ranges.iter().all(|&r| r == ('.', '.')),
            _ => false,
        })
}

/// False for an argument with an empty, `.` or `..` path component, the
/// empty one before the `/` of an absolute path apart.
fn clean_path(arg: &str) -> bool {
    let rest = arg.strip_prefix('/').unwrap_or(arg);
    rest.split('/').all(|c| !matches!(c, "" | "." | ".."))
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`
    Any,
    /// `*`
    Star,
    /// `[...]` as inclusive ranges; `[!...]` is `negated`.
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    /// Whether this token matches `c`; `Star` is handled by the caller.
    fn matches(&self, c: char) -> bool {
        // Components hold no `/`; checked again so no wildcard ever can.
        c != '/' && self.matches_any(c)
    }

    /// As `matches`, but a wildcard matches `/` too (`redact`).
    fn matches_any(&self, c: char) -> bool {
        match self {
            Token::Char(t) => *t == c,
            Token::Any | Token::Star => true,
            Token::Set { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// The tokens of one `/`-free component of a glob.
fn tokens(component: &str) -> Vec<Token> {
    let chars: Vec<char> = component.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            // Runs of `*` are one star: less backtracking, same language.
            '*' if out.last() == Some(&Token::Star) => {}
            '*' => out.push(Token::Star),
            '?' => out.push(Token::Any),
            '[' => match set_end(&chars, i) {
                Some(end) => {
                    out.push(set(&chars[i + 1..end]));
                    i = end;
                }
                None => out.push(Token::Char('[')),
            },
            c => out.push(Token::Char(c)),
        }
        i += 1;
    }
    out
}

/// The index of the `]` that closes a set opened by the `[` at `open`, or
/// `None` when that `[` is an ordinary character. As in fnmatch, a `]` right
/// after `[` or `[!` is a member; as in POSIX pathname globbing, a `/` before
/// the closing `]` makes the `[` ordinary.
fn set_end(chars: &[char], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if chars.get(i) == Some(&'!') {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    while let Some(&c) = chars.get(i) {
        match c {
            ']' => return Some(i),
            '/' => return None,
            _ => i += 1,
        }
    }
    None
}

/// A set from the text between `[` and its closing `]`.
fn set(body: &[char]) -> Token {
    let (negated, body) = match body.split_first() {
        Some(('!', rest)) => (true, rest),
        _ => (false, body),
    };
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < body.len() {
        // A `-` first or last is a member, as in fnmatch.
        if i + 2 < body.len() && body[i + 1] == '-' {
            ranges.push((body[i], body[i + 2]));
            i += 3;
        } else {
            ranges.push((body[i], body[i]));
            i += 1;
        }
    }
    Token::Set { negated, ranges }
}

/// The classic two-pointer wildcard match: on a mismatch only the last star
/// is widened, which is enough when every other token takes one character,
/// so the cost is at most len(pattern) × len(arg), never exponential.
fn match_component(pat: &[Token], arg: &[char]) -> bool {
    match_tokens(pat, arg, Token::matches)
}

/// `match_component` with `fits` saying which characters a token takes.
fn match_tokens(pat: &[Token], arg: &[char], fits: fn(&Token, char) -> bool) -> bool {
    let (mut p, mut a) = (0, 0);
    // After the last star seen: the pattern index following it and the arg
    // index where its run currently ends.
    let mut star: Option<(usize, usize)> = None;
    while a < arg.len() {
        match pat.get(p) {
            Some(Token::Star) => {
                star = Some((p + 1, a));
                p += 1;
            }
            Some(t) if fits(t, arg[a]) => {
                p += 1;
                a += 1;
            }
            _ => match star {
                Some((after, end)) if fits(&Token::Star, arg[end]) => {
                    star = Some((after, end + 1));
                    p = after;
                    a = end + 1;
                }
                _ => return false,
            },
        }
    }
    pat[p..].iter().all(|t| *t == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::{matches, never_matches};

    #[test]
    fn words_no_argument_can_match() {
        for dead in [
            "/var/log//x*",
            "/var/./log/*",
            "/var/log/../*",
            "/srv/*/",
            "./*.log",
            "../x*",
            "//x*",
            "/srv/[.]/*",
            "/srv/[.][.]/*",
            "/srv/.[.]/*",
        ] {
            assert!(never_matches(dead), "{dead}");
        }
        for live in [
            "/var/log/*",
            "*.log",
            "/srv/.*",
            "/srv/..?*",
            "/srv/[.a]/*",
            "/srv/[!.]/*",
            "/srv/.../*",
            "/srv/?/*",
            "-*",
        ] {
            assert!(!never_matches(live), "{live}");
        }
    }

    proptest::proptest! {
        /// What `never_matches` calls dead, `matches` never accepts.
        #[test]
        fn a_dead_word_matches_nothing(
            pattern in "[/.a*?\\[\\]!-]{0,12}",
            arg in "[/.a-]{0,12}",
        ) {
            if never_matches(&pattern) {
                proptest::prop_assert!(!matches(&pattern, &arg));
            }
        }
    }
}
