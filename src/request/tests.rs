//! Tests of the request parser: tables of requests and what they become,
//! and properties over arbitrary input.

use super::*;
use proptest::prelude::*;
use std::ffi::OsStr;

const LIMIT: usize = 4096;

/// The argv on one line, each word quoted shell-style where needed, so
/// that parsing the result gives this argv back: an oracle for the parser.
fn display(argv: &Argv) -> String {
    let mut out = String::new();
    for (i, word) in argv.words().iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.is_empty() || word.chars().any(needs_quoting) {
            out.push('\'');
            for c in word.chars() {
                match c {
                    '\'' => out.push_str(r"'\''"),
                    _ => out.push(c),
                }
            }
            out.push('\'');
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Characters that `display` quotes.
fn needs_quoting(c: char) -> bool {
    matches!(c, ' ' | '\'' | '"' | '\\' | '#') || is_operator(c)
}

fn words(raw: &str) -> Result<Vec<String>, Refusal> {
    parse(raw.as_bytes(), LIMIT).map(|a| a.words().to_vec())
}

#[test]
fn splits_with_posix_quoting() {
    let rows: &[(&str, &[&str])] = &[
        ("ls", &["ls"]),
        ("ls -l /tmp", &["ls", "-l", "/tmp"]),
        ("  ls   -l  ", &["ls", "-l"]),
        ("echo 'a b'", &["echo", "a b"]),
        (r#"echo "a\"b""#, &["echo", r#"a"b"#]),
        (r"echo a\ b", &["echo", "a b"]),
        (r#"echo "a\b""#, &["echo", r"a\b"]),
        (r#"echo "a\\b""#, &["echo", r"a\b"]),
        (r#"echo "\$x\`""#, &["echo", "$x`"]),
        (r"echo 'a\b'", &["echo", r"a\b"]),
        (r"echo 'a\'", &["echo", r"a\"]),
        (r"echo \a\'", &["echo", "a'"]),
        (r"echo \\", &["echo", r"\"]),
        ("echo 'a;b'", &["echo", "a;b"]),
        (r#"echo "x|y""#, &["echo", "x|y"]),
        (r"echo \;", &["echo", ";"]),
        (r#"echo "$HOME""#, &["echo", "$HOME"]),
        ("echo '#'", &["echo", "#"]),
        (r"echo \#x", &["echo", "#x"]),
        ("echo '&<>()`'", &["echo", "&<>()`"]),
        ("echo a'b c'd", &["echo", "ab cd"]),
        (r#"echo 'a'"b"\c"#, &["echo", "abc"]),
        ("printf '' x", &["printf", "", "x"]),
        ("printf x ''", &["printf", "x", ""]),
        (r#"printf """#, &["printf", ""]),
        ("''", &[""]),
        (
            "ls *.log ~ ~/x ? [a] {a,b} !x a=b",
            &["ls", "*.log", "~", "~/x", "?", "[a]", "{a,b}", "!x", "a=b"],
        ),
        ("echo é", &["echo", "é"]),
        ("echo 'ünïcødé ✓'", &["echo", "ünïcødé ✓"]),
    ];
    for (input, expected) in rows {
        let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(words(input), Ok(expected), "input {input:?}");
    }
}

#[test]
fn refuses_what_a_shell_would_interpret() {
    use Refusal::*;
    let rows: &[(&str, Refusal)] = &[
        ("ls /tmp; id", Operator { op: ';', at: 8 }),
        ("ls | id", Operator { op: '|', at: 4 }),
        ("ls&", Operator { op: '&', at: 3 }),
        ("cat <x", Operator { op: '<', at: 5 }),
        ("cat >x", Operator { op: '>', at: 5 }),
        ("(ls)", Operator { op: '(', at: 1 }),
        ("ls)", Operator { op: ')', at: 3 }),
        ("echo $HOME", Operator { op: '$', at: 6 }),
        ("echo `id`", Operator { op: '`', at: 6 }),
        ("echo a'b'$x", Operator { op: '$', at: 10 }),
        ("ls # x", Comment { at: 4 }),
        ("ls a#b", Comment { at: 5 }),
        ("echo 'a", UnmatchedQuote { quote: '\'', at: 6 }),
        (r#"echo "a"#, UnmatchedQuote { quote: '"', at: 6 }),
        (r#"echo "a\""#, UnmatchedQuote { quote: '"', at: 6 }),
        (r#"echo "\"#, UnmatchedQuote { quote: '"', at: 6 }),
        (
            r"echo 'a\' '",
            UnmatchedQuote {
                quote: '\'',
                at: 11,
            },
        ),
        (r"echo a\", TrailingBackslash { at: 7 }),
        (r"\", TrailingBackslash { at: 1 }),
        ("", Empty),
        (" ", Empty),
        ("     ", Empty),
        ("ls\tx", Control { ch: '\t', at: 3 }),
        ("ls\n", Control { ch: '\n', at: 3 }),
        ("ls\r", Control { ch: '\r', at: 3 }),
        ("'\u{0}'", Control { ch: '\0', at: 2 }),
        (
            "echo '\u{1b}[2J'",
            Control {
                ch: '\u{1b}',
                at: 7,
            },
        ),
        (
            "\"\u{7f}\"",
            Control {
                ch: '\u{7f}',
                at: 2,
            },
        ),
        (
            "é\u{85}",
            Control {
                ch: '\u{85}',
                at: 2,
            },
        ),
        (
            "\u{9f}",
            Control {
                ch: '\u{9f}',
                at: 1,
            },
        ),
        (
            "ls '\u{202e}'",
            Control {
                ch: '\u{202e}',
                at: 5,
            },
        ),
        (
            "\u{200e}",
            Control {
                ch: '\u{200e}',
                at: 1,
            },
        ),
        (
            "\u{200f}",
            Control {
                ch: '\u{200f}',
                at: 1,
            },
        ),
        (
            "\u{202a}",
            Control {
                ch: '\u{202a}',
                at: 1,
            },
        ),
        (
            "\u{2066}",
            Control {
                ch: '\u{2066}',
                at: 1,
            },
        ),
        (
            "\u{2069}",
            Control {
                ch: '\u{2069}',
                at: 1,
            },
        ),
        (
            "\u{61c}",
            Control {
                ch: '\u{61c}',
                at: 1,
            },
        ),
        // Control characters come before quoting: even an unmatched quote
        // later on reports the control character.
        ("ls ';\t", Control { ch: '\t', at: 6 }),
        // Left to right among quoting and operators.
        ("ls ; 'x", Operator { op: ';', at: 4 }),
        ("ls 'x ;", UnmatchedQuote { quote: '\'', at: 4 }),
    ];
    for (input, expected) in rows {
        assert_eq!(words(input).as_ref(), Err(expected), "input {input:?}");
    }
}

#[test]
fn characters_that_are_not_refused() {
    // Neighbours of the refused ranges.
    for ch in [
        '\u{a0}', '\u{200d}', '\u{2010}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}',
    ] {
        let input = format!("echo {ch}");
        assert_eq!(words(&input), Ok(vec!["echo".into(), ch.to_string()]));
    }
}

#[test]
fn refuses_invalid_utf8() {
    // `at` counts the characters before the bad byte, `byte` counts bytes.
    let rows: &[(&[u8], Refusal)] = &[
        (b"\xff", Refusal::InvalidUtf8 { at: 1, byte: 1 }),
        (b"ls \xc3", Refusal::InvalidUtf8 { at: 4, byte: 4 }),
        (
            b"\xc3\xa9'\xc3\xa9\x80",
            Refusal::InvalidUtf8 { at: 4, byte: 6 },
        ),
        (b"ls \xed\xa0\x80", Refusal::InvalidUtf8 { at: 4, byte: 4 }),
    ];
    for (input, expected) in rows {
        assert_eq!(
            parse(input, LIMIT).as_ref(),
            Err(expected),
            "input {input:?}"
        );
    }
}

#[test]
fn limits_words_to_256() {
    let ok = "a ".repeat(MAX_WORDS);
    assert_eq!(words(&ok).map(|w| w.len()), Ok(MAX_WORDS));
    let ok = vec!["''"; MAX_WORDS].join(" ");
    assert_eq!(words(&ok).map(|w| w.len()), Ok(MAX_WORDS));
    let too_many = "a ".repeat(MAX_WORDS + 1);
    assert_eq!(
        words(&too_many),
        Err(Refusal::TooManyWords {
            count: 257,
            first_extra_at: 513
        })
    );
    let too_many = format!("{} ''", vec!["x"; 300].join(" "));
    assert_eq!(
        words(&too_many),
        Err(Refusal::TooManyWords {
            count: 301,
            first_extra_at: 513
        })
    );
}

#[test]
fn limits_bytes_as_escaped_for_the_audit_record() {
    // (input, escaped length): `"` and `\` count 2, each non-ASCII byte 4.
    let rows: &[(&str, usize)] = &[
        ("ls", 2),
        (r#"a"b""#, 6),
        (r"a\\b", 6),
        ("echo é", 13),
        ("echo '\u{2603}'", 7 + 12),
    ];
    for &(input, len) in rows {
        assert_eq!(escaped_len(input.as_bytes()), len, "input {input:?}");
        assert_eq!(
            crate::audit::escape(input.as_bytes()).len(),
            len,
            "input {input:?}"
        );
        assert!(
            parse(input.as_bytes(), len).is_ok(),
            "input {input:?} at the limit"
        );
        assert_eq!(
            parse(input.as_bytes(), len - 1),
            Err(Refusal::TooLong {
                len,
                limit: len - 1
            }),
            "input {input:?} one over"
        );
    }
    // The default limit, exactly at and one over.
    let at = format!("echo {}", "x".repeat(LIMIT - 5));
    assert!(words(&at).is_ok());
    let over = format!("echo {}", "x".repeat(LIMIT - 4));
    assert_eq!(
        words(&over),
        Err(Refusal::TooLong {
            len: 4097,
            limit: 4096
        })
    );
    // Size is checked before anything else.
    assert_eq!(
        parse(b"\xff", 3),
        Err(Refusal::TooLong { len: 4, limit: 3 })
    );
    assert_eq!(
        parse(b"\xff", 4),
        Err(Refusal::InvalidUtf8 { at: 1, byte: 1 })
    );
    assert_eq!(parse(b";\n", 1), Err(Refusal::TooLong { len: 5, limit: 1 }));
}

#[test]
fn messages_say_what_where_and_that_there_is_no_shell() {
    assert_eq!(
        words("ls /tmp; id").unwrap_err().to_string(),
        "unquoted \";\" at character 8: nsgate runs no shell, so shell operators are not \
         allowed (quote it to pass it literally)"
    );
    assert_eq!(
        words("echo '\u{1b}[2J'").unwrap_err().to_string(),
        "control character U+001B at character 7: nsgate runs no shell and refuses control \
         characters, even quoted"
    );
    assert_eq!(
        words("   ").unwrap_err().to_string(),
        "empty command: nsgate runs no shell and has nothing to run (send no command at all \
         for an interactive session)"
    );
    let long = "a ".repeat(300);
    let rows: &[(&[u8], usize, &str)] = &[
        (b"xxxxxxxxxx", 9, "request too long: 10 bytes once escaped for the audit record, more than the limit of 9 (max-command-bytes)"),
        (b"ls \xff", LIMIT, "invalid UTF-8 at character 4 (byte 4)"),
        ("ls \u{202e}".as_bytes(), LIMIT, "bidirectional control character U+202E at character 4"),
        (b"ls \x7f", LIMIT, "control character U+007F at character 4"),
        (b"ls 'x", LIMIT, "unmatched single quote at character 4"),
        (b"ls \"x", LIMIT, "unmatched double quote at character 4"),
        (b"ls \\", LIMIT, "lone backslash at the end (character 4)"),
        (b"ls `id`", LIMIT, "unquoted \"`\" at character 4"),
        (b"ls #", LIMIT, "unquoted \"#\" at character 4: nsgate runs no shell, so there are no comments"),
        (long.as_bytes(), LIMIT, "too many words: 300, more than the limit of 256 (word 257 starts at character 513)"),
    ];
    for (input, limit, start) in rows {
        let msg = parse(input, *limit).unwrap_err().to_string();
        assert!(
            msg.starts_with(start),
            "{msg:?} should start with {start:?}"
        );
        assert!(msg.contains("nsgate runs no shell"), "{msg:?}");
        assert!(!msg.contains('\n'), "{msg:?}");
    }
}

#[test]
fn display_quotes_only_where_needed() {
    let rows: &[(&str, &str)] = &[
        ("cat /etc/shadow", "cat /etc/shadow"),
        ("ls *.log ~ é", "ls *.log ~ é"),
        ("echo 'a b'", "echo 'a b'"),
        ("printf '' x", "printf '' x"),
        (r#"echo "it's""#, r"echo 'it'\''s'"),
        (r#"echo 'a"b'"#, r#"echo 'a"b'"#),
        (r"echo a\\b", r"echo 'a\b'"),
        ("echo 'a;b' '#' '$x'", "echo 'a;b' '#' '$x'"),
    ];
    for (input, shown) in rows {
        let argv = parse(input.as_bytes(), LIMIT).unwrap();
        assert_eq!(display(&argv), *shown, "input {input:?}");
        assert_eq!(parse(shown.as_bytes(), LIMIT), Ok(argv), "input {input:?}");
    }
}

#[test]
fn from_env_unset_is_interactive_and_blank_is_refused() {
    assert_eq!(from_env(None, LIMIT), Ok(Request::Interactive));
    assert_eq!(from_env(Some(OsStr::new("")), LIMIT), Err(Refusal::Empty));
    assert_eq!(
        from_env(Some(OsStr::new("   ")), LIMIT),
        Err(Refusal::Empty)
    );
    let Ok(Request::Command { raw, argv }) = from_env(Some(OsStr::new("ls  'a b'")), LIMIT) else {
        panic!("not a command");
    };
    assert_eq!(raw, b"ls  'a b'");
    assert_eq!(argv.words(), ["ls", "a b"]);
}

fn tricky() -> impl Strategy<Value = String> {
    let alphabet = vec!['\'', '"', '\\', ' ', ';', '#', 'a', 'é', '\u{202e}'];
    proptest::collection::vec(proptest::sample::select(alphabet), 0..600)
        .prop_map(|chars| chars.into_iter().collect())
}

/// Requests built from well-formed parts, each with the literal text it
/// stands for (`None`: a separator), so the parser has an oracle to meet.
/// At most 80 parts: the word limit is tested elsewhere.
fn well_quoted() -> impl Strategy<Value = (String, Vec<String>)> {
    use proptest::sample::select;
    type Item = (&'static str, &'static str);
    let inside = |items: Vec<Item>| proptest::collection::vec(select(items), 0..8);
    let join = |items: Vec<Item>, quote: char| {
        let src: String = items.iter().map(|i| i.0).collect();
        let lit: String = items.iter().map(|i| i.1).collect();
        (format!("{quote}{src}{quote}"), Some(lit))
    };
    let single = ["a", " ", ";", "#", "\"", "\\", "$", "`", "é", "|", "*"].map(|c| (c, c));
    let double = [
        ("a", "a"),
        (" ", " "),
        (";", ";"),
        ("#", "#"),
        ("'", "'"),
        ("\\\\", "\\"),
        ("\\\"", "\""),
        ("\\$", "$"),
        ("\\`", "`"),
        ("\\a", "\\a"),
        ("$", "$"),
        ("é", "é"),
    ];
    let part = prop_oneof![
        select(vec!["a", "é", "*", "~", "=", "-", "/", "!"])
            .prop_map(|c| (c.to_string(), Some(c.to_string()))),
        select(vec![" ", "  "]).prop_map(|c| (c.to_string(), None)),
        inside(single.to_vec()).prop_map(move |items| join(items, '\'')),
        inside(double.to_vec()).prop_map(move |items| join(items, '"')),
        select(vec!["a", ";", "#", "'", "\"", "\\", " ", "$", "é"])
            .prop_map(|c| (format!("\\{c}"), Some(c.to_string()))),
    ];
    proptest::collection::vec(part, 0..80).prop_map(|parts| {
        let mut src = String::new();
        let mut words = Vec::new();
        let mut word: Option<String> = None;
        for (text, lit) in parts {
            src.push_str(&text);
            match lit {
                Some(lit) => word.get_or_insert_with(String::new).push_str(&lit),
                None => words.extend(word.take()),
            }
        }
        words.extend(word);
        (src, words)
    })
}

fn check_accepted(raw: &[u8], limit: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(escaped_len(raw), crate::audit::escape(raw).len());
    if let Ok(argv) = parse(raw, limit) {
        prop_assert!(!argv.words().is_empty());
        prop_assert!(argv.words().len() <= MAX_WORDS);
        prop_assert!(crate::audit::escape(raw).len() <= limit);
        for word in argv.words() {
            prop_assert!(!word.chars().any(is_forbidden_control), "{:?}", word);
        }
        prop_assert_eq!(parse(display(&argv).as_bytes(), usize::MAX), Ok(argv));
    }
    Ok(())
}

proptest! {
    #[test]
    fn never_panics_on_bytes(raw in proptest::collection::vec(any::<u8>(), 0..600), limit in 0usize..5000) {
        check_accepted(&raw, limit)?;
    }

    #[test]
    fn never_panics_on_tricky_strings(raw in tricky()) {
        check_accepted(raw.as_bytes(), LIMIT)?;
    }

    #[test]
    fn splits_like_the_oracle((raw, expected) in well_quoted()) {
        check_accepted(raw.as_bytes(), usize::MAX)?;
        let got = parse(raw.as_bytes(), usize::MAX).map(|a| a.words().to_vec());
        if expected.is_empty() {
            prop_assert_eq!(got, Err(Refusal::Empty));
        } else {
            prop_assert_eq!(got, Ok(expected));
        }
    }
}

/// A request that names its target is split by the same parser: the first
/// word is the target whatever its quoting, the rest the command as sent.
#[test]
fn a_named_target_is_the_first_word_of_the_same_parse() {
    let command = |raw: &str, argv: &[&str]| Request::Command {
        raw: raw.as_bytes().to_vec(),
        argv: Argv {
            words: argv.iter().map(|w| w.to_string()).collect(),
            // Not compared: the spans are checked below.
            spans: Vec::new(),
        },
    };
    let rows: &[(&str, &str, Request)] = &[
        (
            "web1 tail -n 100 /var/log/app.log",
            "web1",
            command(
                "tail -n 100 /var/log/app.log",
                &["tail", "-n", "100", "/var/log/app.log"],
            ),
        ),
        ("web1", "web1", Request::Interactive),
        ("  web1   ", "web1", Request::Interactive),
        ("'web1' cat", "web1", command("cat", &["cat"])),
        (
            "we'b1'  cat  '/a b'  ",
            "web1",
            command("cat  '/a b'  ", &["cat", "/a b"]),
        ),
        ("\"a b\" ls", "a b", command("ls", &["ls"])),
        ("web1 '' x", "web1", command("'' x", &["", "x"])),
        ("'' ls", "", command("ls", &["ls"])),
        ("é ls", "é", command("ls", &["ls"])),
    ];
    for (raw, target, request) in rows {
        assert_eq!(
            named(raw.as_bytes(), LIMIT),
            Ok((target.to_string(), request.clone())),
            "{raw:?}"
        );
        // The command's words are where they are in the command as sent,
        // as `redact` needs them.
        if let Ok((_, Request::Command { raw: rest, argv })) = named(raw.as_bytes(), LIMIT) {
            let alone = parse(&rest, LIMIT).unwrap();
            assert_eq!(argv.spans, alone.spans, "{raw:?}");
        }
    }
    // Every refusal of a whole request holds, the target word included.
    assert_eq!(named(b"", LIMIT), Err(Refusal::NoTarget));
    assert_eq!(named(b"   ", LIMIT), Err(Refusal::NoTarget));
    assert_eq!(
        named(b"web1;id ls", LIMIT),
        Err(Refusal::Operator { op: ';', at: 5 })
    );
    assert_eq!(
        named(b"'web1 ls", LIMIT),
        Err(Refusal::UnmatchedQuote { quote: '\'', at: 1 })
    );
    assert!(matches!(named(b"web1 ls", 3), Err(Refusal::TooLong { .. })));
}

#[test]
fn a_reach_is_a_target_none_or_a_list_of_names() {
    let only = |names: &[&str]| Some(Reach::Only(names.iter().map(|n| n.to_string()).collect()));
    assert_eq!(Reach::from_arg(None), Some(Reach::Any));
    // Without a comma, TARGET is taken as ever, valid or not.
    assert_eq!(
        Reach::from_arg(Some("web1")),
        Some(Reach::Fixed("web1".into()))
    );
    assert_eq!(
        Reach::from_arg(Some("a/b")),
        Some(Reach::Fixed("a/b".into()))
    );
    assert_eq!(Reach::from_arg(Some("web1,db1")), only(&["web1", "db1"]));
    for bad in ["web1,", ",web1", "web1,,db1", "web1,a/b", "web1,-x", ","] {
        assert_eq!(Reach::from_arg(Some(bad)), None, "{bad}");
    }
    let list = Reach::Only(vec!["web1".into(), "db1".into()]);
    assert!(list.allows("db1") && !list.allows("web2") && !list.allows(""));
    assert!(Reach::Any.allows("anything"));
    assert!(Reach::Fixed("web1".into()).allows("web1"));
    assert!(!Reach::Fixed("web1".into()).allows("db1"));
    assert_eq!(list.arg().as_deref(), Some("web1,db1"));
    assert_eq!(Reach::Any.arg(), None);
}

proptest! {
    /// Naming a target never changes how the command is split: the rest is
    /// what the whole request's words are after the first.
    #[test]
    fn naming_a_target_splits_as_the_whole(raw in "[a-z' \"\\\\]{0,40}") {
        let whole = parse(raw.as_bytes(), LIMIT);
        let split = named(raw.as_bytes(), LIMIT);
        match (whole, split) {
            (Ok(argv), Ok((target, request))) => {
                prop_assert_eq!(&argv.words()[0], &target);
                match request {
                    Request::Interactive => prop_assert_eq!(argv.words().len(), 1),
                    Request::Command { raw: rest, argv: tail } => {
                        prop_assert_eq!(tail.words(), &argv.words()[1..]);
                        prop_assert_eq!(parse(&rest, LIMIT).unwrap(), tail);
                    }
                }
            }
            (Err(Refusal::Empty), Err(b)) => prop_assert_eq!(b, Refusal::NoTarget),
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{:?} / {:?}", a, b),
        }
    }
}
