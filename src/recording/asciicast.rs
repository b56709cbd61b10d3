//! Writing asciicast v2 (newline-delimited JSON: a header object, then one
//! `[time, code, data]` array per event), as nsgate(8) RECORDING describes.
//!
//! Event data is what the command wrote, untrusted: it becomes a JSON
//! string of UTF-8. As asciinema's own recorder does (an incremental UTF-8
//! decoder with "replace"), a character split between two reads is held
//! back and written whole with the next event of its stream, and each
//! maximal invalid sequence becomes U+FFFD. So `asciinema cat` gives back
//! valid UTF-8 output byte for byte; invalid bytes are not kept.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::time::Duration;

/// The streams of a session, each decoded on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout = 0,
    /// Also written as `"o"` events (asciicast has no other output code).
    Stderr = 1,
    Input = 2,
}

/// Why an event could not be written: the session must end.
#[derive(Debug)]
pub(crate) enum Failure {
    /// It would have taken the file past `record-max-bytes`.
    Full(u64),
    Io(io::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Full(limit) => write!(f, "the recording reached record-max-bytes ({limit})"),
            Failure::Io(e) => write!(
                f,
                "cannot write the recording: {}",
                crate::error::os_message(e)
            ),
        }
    }
}

/// The first line's fields; nsgate's own are under `"nsgate"` (asciinema
/// ignores header keys it does not know).
pub(crate) struct Header<'a> {
    pub width: u16,
    pub height: u16,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// The request as the client sent it; None for a shell.
    pub command: Option<&'a [u8]>,
    pub term: Option<&'a str>,
    pub sid: &'a str,
    pub key: Option<&'a str>,
    pub target: &'a str,
    /// `record input`: the file has `"i"` events.
    pub input: bool,
}

/// An asciicast file being written, at most `limit` bytes.
pub(crate) struct Cast<W: Write> {
    out: W,
    written: u64,
    limit: u64,
    /// The bytes of a character each stream's last read ended inside.
    pending: [Vec<u8>; 3],
    /// One event, built before it is written whole.
    line: Vec<u8>,
}

impl<W: Write> Cast<W> {
    /// Writes the header line.
    pub(crate) fn new(out: W, limit: u64, header: &Header) -> Result<Cast<W>, Failure> {
        let mut cast = Cast {
            out,
            written: 0,
            limit,
            pending: Default::default(),
            line: Vec::with_capacity(64 * 1024),
        };
        let line = &mut cast.line;
        line.extend_from_slice(
            format!(
                "{{\"version\": 2, \"width\": {}, \"height\": {}, \"timestamp\": {}",
                header.width, header.height, header.timestamp
            )
            .as_bytes(),
        );
        if let Some(command) = header.command {
            line.extend_from_slice(b", \"command\": ");
            string(line, command);
        }
        if let Some(term) = header.term {
            line.extend_from_slice(b", \"env\": {\"TERM\": ");
            string(line, term.as_bytes());
            line.push(b'}');
        }
        line.extend_from_slice(b", \"nsgate\": {\"sid\": ");
        string(line, header.sid.as_bytes());
        line.extend_from_slice(b", \"key\": ");
        match header.key {
            Some(key) => string(line, key.as_bytes()),
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b", \"target\": ");
        string(line, header.target.as_bytes());
        line.extend_from_slice(format!(", \"input\": {}}}}}\n", header.input).as_bytes());
        cast.commit()?;
        Ok(cast)
    }

    /// Bytes written so far (the exit record's `recorded=`).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// An `"o"` or `"i"` event for `data` read from `stream` at `at`.
    pub(crate) fn data(
        &mut self,
        at: Duration,
        stream: Stream,
        data: &[u8],
    ) -> Result<(), Failure> {
        let code = if stream == Stream::Input { "i" } else { "o" };
        self.start(at, code);
        let head = self.line.len();
        let pending = &mut self.pending[stream as usize];
        if pending.is_empty() {
            let rest = decode(&mut self.line, data);
            pending.extend_from_slice(rest);
        } else {
            // Rare: a read ended inside a character.
            let mut joined = std::mem::take(pending);
            joined.extend_from_slice(data);
            let rest = decode(&mut self.line, &joined);
            pending.extend_from_slice(rest);
        }
        if self.line.len() == head {
            // Nothing but part of a character yet.
            self.line.clear();
            return Ok(());
        }
        self.line.extend_from_slice(b"\"]\n");
        self.commit()
    }

    /// An `"r"` event: the client's terminal is now `cols` by `rows`.
    pub(crate) fn resize(&mut self, at: Duration, cols: u16, rows: u16) -> Result<(), Failure> {
        self.start(at, "r");
        self.line
            .extend_from_slice(format!("{cols}x{rows}\"]\n").as_bytes());
        self.commit()
    }

    /// Marks what was left of a split character (U+FFFD) and writes
    /// everything out; `at` is the end of the session.
    pub(crate) fn finish(mut self, at: Duration) -> Result<u64, Failure> {
        for stream in [Stream::Stdout, Stream::Stderr, Stream::Input] {
            if !self.pending[stream as usize].is_empty() {
                self.pending[stream as usize].clear();
                self.data(at, stream, &[0xff])?;
            }
        }
        self.out.flush().map_err(Failure::Io)?;
        Ok(self.written)
    }

    /// Writes out what is buffered (the header, before the session starts).
    pub(crate) fn flush(&mut self) -> Result<(), Failure> {
        self.out.flush().map_err(Failure::Io)
    }

    fn start(&mut self, at: Duration, code: &str) {
        self.line.clear();
        self.line.extend_from_slice(
            format!(
                "[{}.{:06}, \"{code}\", \"",
                at.as_secs(),
                at.subsec_micros()
            )
            .as_bytes(),
        );
    }

    /// Writes the line built, unless it would pass the limit.
    fn commit(&mut self) -> Result<(), Failure> {
        let len = self.line.len() as u64;
        if self.written + len > self.limit {
            return Err(Failure::Full(self.limit));
        }
        self.out.write_all(&self.line).map_err(Failure::Io)?;
        self.written += len;
        self.line.clear();
        Ok(())
    }
}

/// A JSON string of `bytes`, invalid UTF-8 replaced (header fields).
fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let rest = decode(out, bytes).to_vec();
    if !rest.is_empty() {
        escape(out, "\u{fffd}");
    }
    out.push(b'"');
}

/// Appends `bytes` as JSON string content: valid UTF-8 exactly, each
/// maximal invalid sequence as U+FFFD. Returns the incomplete character
/// `bytes` ends with, if any, for the next read to complete.
fn decode<'a>(out: &mut Vec<u8>, bytes: &'a [u8]) -> &'a [u8] {
    // The usual case, checked at the standard library's speed.
    if let Ok(text) = std::str::from_utf8(bytes) {
        escape(out, text);
        return &[];
    }
    let mut chunks = bytes.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        escape(out, chunk.valid());
        let invalid = chunk.invalid();
        if invalid.is_empty() {
            continue;
        }
        // Only the very end can be a character still to be completed.
        let incomplete = chunks.peek().is_none()
            && std::str::from_utf8(invalid).is_err_and(|e| e.error_len().is_none());
        if incomplete {
            return &bytes[bytes.len() - invalid.len()..];
        }
        escape(out, "\u{fffd}");
    }
    &[]
}

/// JSON string escaping (RFC 8259 section 7): `"`, `\` and control
/// characters; everything else is copied as it is. Runs of plain bytes
/// are found eight at a time and copied whole: this is the cost of
/// recording a busy session.
fn escape(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if !must_escape(b) {
            let plain = plain_run(&bytes[at..]);
            out.extend_from_slice(&bytes[at..at + plain]);
            at += plain;
            continue;
        }
        at += 1;
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            _ => {
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
                continue;
            }
        };
        out.extend_from_slice(&[b'\\', short]);
    }
}

fn must_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// How many bytes at the start of `bytes` JSON takes as they are: none is
/// a control character, `"` or `\`.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `x` is zero, or below 0x20 (bytes of 0x80 and
    // more never count: `!x` clears their high bit).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = |x: u64| x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let x = u64::from_le_bytes(eight);
        if control(x) | zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\')))
            != 0
        {
            break;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| must_escape(b))
        .unwrap_or(bytes.len() - at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn header() -> Header<'static> {
        Header {
            width: 80,
            height: 24,
            timestamp: 1_700_000_000,
            command: Some(b"ls \"-l\"\xff"),
            term: Some("xterm"),
            sid: "0123456789abcdef0123456789abcdef",
            key: None,
            target: "web1",
            input: false,
        }
    }

    fn cast() -> Cast<Vec<u8>> {
        Cast::new(Vec::new(), 1 << 20, &header()).unwrap()
    }

    /// A writer whose bytes can be read after `finish` consumed the cast.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn lines(out: &[u8]) -> Vec<serde_json::Value> {
        std::str::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The output text of every "o" event, joined, as `asciinema cat` prints it.
    fn output(out: &[u8]) -> String {
        lines(out)[1..]
            .iter()
            .filter(|e| e[1] == "o")
            .map(|e| e[2].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn header_is_v2_with_nsgates_fields() {
        let c = cast();
        let h = &lines(&c.out)[0];
        assert_eq!(h["version"], 2);
        assert_eq!(
            (h["width"].as_u64(), h["height"].as_u64()),
            (Some(80), Some(24))
        );
        assert_eq!(h["timestamp"], 1_700_000_000u64);
        assert_eq!(h["command"], "ls \"-l\"\u{fffd}");
        assert_eq!(h["env"]["TERM"], "xterm");
        assert_eq!(h["nsgate"]["sid"], "0123456789abcdef0123456789abcdef");
        assert!(h["nsgate"]["key"].is_null());
        assert_eq!(h["nsgate"]["target"], "web1");
        assert_eq!(h["nsgate"]["input"], false);
        assert_eq!(c.written(), c.out.len() as u64);
    }

    #[test]
    fn events_with_time_code_and_escaped_data() {
        let mut c = cast();
        let at = Duration::from_micros(1_500_002);
        c.data(
            at,
            Stream::Stdout,
            b"a\"b\\c\n\r\t\x00\x1b[0m\x7f\xe2\x80\xa8",
        )
        .unwrap();
        c.data(at, Stream::Input, b"ls\r").unwrap();
        c.resize(at, 100, 40).unwrap();
        let text = std::str::from_utf8(&c.out).unwrap();
        let events: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            events,
            [
                "[1.500002, \"o\", \"a\\\"b\\\\c\\n\\r\\t\\u0000\\u001b[0m\u{7f}\u{2028}\"]",
                "[1.500002, \"i\", \"ls\\r\"]",
                "[1.500002, \"r\", \"100x40\"]",
            ]
        );
        assert_eq!(output(&c.out), "a\"b\\c\n\r\t\0\x1b[0m\u{7f}\u{2028}");
    }

    #[test]
    fn a_character_split_between_reads_is_written_whole() {
        let mut c = cast();
        let euro = "€".as_bytes();
        c.data(Duration::ZERO, Stream::Stdout, &[b'a', euro[0]])
            .unwrap();
        // Another stream's read does not complete it.
        c.data(Duration::ZERO, Stream::Stderr, b"e").unwrap();
        // Nothing whole: no event at all.
        c.data(Duration::ZERO, Stream::Stdout, &euro[1..2]).unwrap();
        c.data(Duration::ZERO, Stream::Stdout, &[euro[2], b'b'])
            .unwrap();
        let events = lines(&c.out);
        assert_eq!(events.len(), 4);
        assert_eq!(output(&c.out), "ae€b");
    }

    #[test]
    fn invalid_bytes_become_one_replacement_each() {
        let mut c = cast();
        // Maximal subparts, as String::from_utf8_lossy and Python's "replace".
        let bytes = b"x\xff\xe2\x82y\xc0\xafz\xed\xa0\x80";
        c.data(Duration::ZERO, Stream::Stdout, bytes).unwrap();
        assert_eq!(output(&c.out), String::from_utf8_lossy(bytes));
    }

    #[test]
    fn a_character_never_completed_is_marked_at_the_end() {
        let buf = Shared::default();
        let mut c = Cast::new(buf.clone(), 1 << 20, &header()).unwrap();
        c.data(Duration::ZERO, Stream::Stdout, b"ok\xf0\x9f")
            .unwrap();
        let n = c.finish(Duration::from_secs(2)).unwrap();
        let out = buf.0.borrow();
        assert_eq!(n, out.len() as u64);
        assert_eq!(output(&out), "ok\u{fffd}");
    }

    #[test]
    fn past_the_limit_nothing_more_is_written() {
        let limit = cast().written() + 50;
        let mut c = Cast::new(Vec::new(), limit, &header()).unwrap();
        let before = c.written();
        // An event that fits, then one that would not.
        c.data(Duration::ZERO, Stream::Stdout, b"0123456789")
            .unwrap();
        let fitted = c.written();
        assert!(fitted > before && fitted <= limit);
        let big = vec![b'a'; 40];
        assert!(matches!(
            c.data(Duration::ZERO, Stream::Stdout, &big),
            Err(Failure::Full(l)) if l == limit
        ));
        assert_eq!(c.written(), fitted);
        assert_eq!(c.out.len() as u64, fitted);
        // A header alone over the limit fails too.
        assert!(matches!(
            Cast::new(Vec::new(), 10, &header()),
            Err(Failure::Full(10))
        ));
    }

    proptest! {
        /// Any output, cut into reads anywhere, gives valid JSON lines
        /// whose text is the lossy decoding of the whole: valid UTF-8 back
        /// byte for byte.
        #[test]
        fn any_bytes_any_cuts(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let buf = Shared::default();
            let mut c = Cast::new(buf.clone(), 1 << 20, &header()).unwrap();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                c.data(Duration::ZERO, Stream::Stdout, &bytes[from..cut]).unwrap();
                from = cut;
            }
            c.finish(Duration::ZERO).unwrap();
            let out = buf.0.borrow();
            prop_assert_eq!(output(&out), String::from_utf8_lossy(&bytes));
        }

        /// Escaping found eight bytes at a time is exact wherever the
        /// bytes to escape fall: JSON gives the very text back.
        #[test]
        fn escaping_is_exact(text in "[ -~\\x00-\\x1f\"\\\\é€]{0,80}") {
            let mut out = b"\"".to_vec();
            escape(&mut out, &text);
            out.push(b'"');
            let back: String = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(back, text);
        }
    }
}

#[cfg(test)]
mod cost {
    use super::*;

    /// The writer's own cost for 64 MiB of terminal text and of NULs:
    /// `cargo test --release --lib recording_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn recording_cost() {
        let header = Header {
            width: 80,
            height: 24,
            timestamp: 0,
            command: None,
            term: None,
            sid: "0",
            key: None,
            target: "t",
            input: false,
        };
        let text: Vec<u8> = b"0123456789abcdef0123456789abcde\n"
            .iter()
            .copied()
            .cycle()
            .take(256 << 10)
            .collect();
        for (name, chunk) in [("text", text), ("zeros", vec![0u8; 256 << 10])] {
            let mut c = Cast::new(io::sink(), u64::MAX, &header).unwrap();
            let start = std::time::Instant::now();
            for _ in 0..256 {
                c.data(Duration::ZERO, Stream::Stdout, &chunk).unwrap();
            }
            eprintln!("{name}: 64 MiB in {:?}", start.elapsed());
        }
    }
}
