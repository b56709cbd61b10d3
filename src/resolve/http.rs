//! Just enough HTTP/1.1 to ask a container engine one question over its unix
//! socket: one GET, `Connection: close`, a body framed by `Content-Length`,
//! chunked encoding or the end of the connection, everything bounded in size
//! and time.
#![forbid(unsafe_code)]

use crate::system;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Most bytes read for one response, head and framing included.
pub(super) const MAX_RESPONSE: usize = 4 << 20;
/// Most bytes of the status line and headers.
const MAX_HEAD: usize = 64 << 10;
/// Most bytes of one chunk-size line (size, extensions, CRLF).
const MAX_CHUNK_LINE: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub(super) enum HttpError {
    /// Nobody answered in time, or the connection broke: the daemon is down.
    Unreachable(Unreachable),
    /// Something answered, but not a response we can trust.
    Malformed(Malformed),
}

#[derive(Debug)]
pub(super) enum Unreachable {
    /// The step (`connect`, `socket`, `write`, `read`) that failed.
    Io(&'static str, io::Error),
    /// No complete response within this time.
    TooSlow(Duration),
}

/// What is wrong with a response; the offending text where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Malformed {
    Closed,
    TooLarge,
    HeadTooLarge,
    ClosedInHead,
    HeadNotUtf8,
    NoColon(String),
    HeaderName(String),
    ContentLength(String),
    ConflictingLengths,
    TransferEncoding(String),
    /// A Content-Length above MAX_RESPONSE.
    LengthTooLarge(usize),
    /// The body bytes received, and the Content-Length.
    ShortBody(usize, usize),
    StatusLine(String),
    ClosedInChunks,
    ChunkLineTooLong,
    ChunkSize(Vec<u8>),
    BodyTooLarge,
    NoCrlfAfterChunk,
    TrailerTooLong,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreachable::Io(step, e) => write!(f, "{step}: {e}"),
            Unreachable::TooSlow(timeout) => {
                write!(f, "no complete response within {} s", timeout.as_secs_f32())
            }
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = MAX_RESPONSE >> 20;
        match self {
            Malformed::Closed => f.write_str("connection closed before a complete response"),
            Malformed::TooLarge => write!(f, "response larger than {mib} MiB"),
            Malformed::HeadTooLarge => {
                write!(f, "response head larger than {} KiB", MAX_HEAD >> 10)
            }
            Malformed::ClosedInHead => {
                f.write_str("connection closed before a complete response head")
            }
            Malformed::HeadNotUtf8 => f.write_str("response head is not UTF-8"),
            Malformed::NoColon(line) => write!(f, "header line without a colon: {line:?}"),
            Malformed::HeaderName(name) => write!(f, "bad header name {name:?}"),
            Malformed::ContentLength(value) => write!(f, "bad Content-Length {value:?}"),
            Malformed::ConflictingLengths => f.write_str("conflicting Content-Length headers"),
            Malformed::TransferEncoding(value) => {
                write!(f, "unsupported Transfer-Encoding {value:?}")
            }
            Malformed::LengthTooLarge(len) => {
                write!(f, "Content-Length {len} is larger than {mib} MiB")
            }
            Malformed::ShortBody(got, len) => {
                write!(f, "connection closed after {got} of {len} body bytes")
            }
            Malformed::StatusLine(line) => write!(f, "bad status line {line:?}"),
            Malformed::ClosedInChunks => f.write_str("connection closed inside a chunked body"),
            Malformed::ChunkLineTooLong => f.write_str("chunk-size line too long"),
            Malformed::ChunkSize(text) => {
                write!(f, "bad chunk size {:?}", String::from_utf8_lossy(text))
            }
            Malformed::BodyTooLarge => write!(f, "body larger than {mib} MiB"),
            Malformed::NoCrlfAfterChunk => f.write_str("chunk data not followed by CRLF"),
            Malformed::TrailerTooLong => f.write_str("trailer too long"),
        }
    }
}

/// `GET path` on the socket at `socket`; the whole exchange, connecting
/// included, ends within `timeout`.
pub(super) fn get(socket: &Path, path: &str, timeout: Duration) -> Result<Response, HttpError> {
    let unreachable =
        |step: &'static str, e: io::Error| HttpError::Unreachable(Unreachable::Io(step, e));
    let too_slow = || HttpError::Unreachable(Unreachable::TooSlow(timeout));
    let deadline = Instant::now() + timeout;
    let mut stream =
        system::connect_unix(socket, timeout).map_err(|e| unreachable("connect", e))?;
    let left = |deadline: Instant| {
        let d = deadline.saturating_duration_since(Instant::now());
        // A zero timeout means "none" to the socket options.
        (!d.is_zero()).then_some(d)
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: nsgate\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .set_write_timeout(Some(left(deadline).ok_or_else(too_slow)?))
        .map_err(|e| unreachable("socket", e))?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => too_slow(),
            _ => unreachable("write", e),
        })?;

    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        if let Some(response) = parse_response(&buf, false)? {
            return Ok(response);
        }
        stream
            .set_read_timeout(Some(left(deadline).ok_or_else(too_slow)?))
            .map_err(|e| unreachable("socket", e))?;
        match stream.read(&mut chunk) {
            Ok(0) => {
                return parse_response(&buf, true)?.ok_or(HttpError::Malformed(Malformed::Closed))
            }
            Ok(n) => {
                if buf.len() + n > MAX_RESPONSE {
                    return Err(HttpError::Malformed(Malformed::TooLarge));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(too_slow())
            }
            Err(e) => return Err(unreachable("read", e)),
        }
    }
}

/// Parses the bytes received so far. `Ok(None)`: not complete yet (and
/// `eof` is false). `eof`: the peer has closed the connection.
pub(super) fn parse_response(buf: &[u8], eof: bool) -> Result<Option<Response>, HttpError> {
    let bad = |why: Malformed| Err(HttpError::Malformed(why));
    let Some(head_len) = find(buf, b"\r\n\r\n").map(|i| i + 4) else {
        if buf.len() > MAX_HEAD {
            return bad(Malformed::HeadTooLarge);
        }
        if eof {
            return bad(Malformed::ClosedInHead);
        }
        return Ok(None);
    };
    if head_len > MAX_HEAD {
        return bad(Malformed::HeadTooLarge);
    }
    let head = std::str::from_utf8(&buf[..head_len - 4])
        .map_err(|_| HttpError::Malformed(Malformed::HeadNotUtf8))?;
    let mut lines = head.split("\r\n");
    let status = parse_status_line(lines.next().unwrap_or(""))?;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return bad(Malformed::NoColon(line.to_string()));
        };
        if name.is_empty() || name.contains([' ', '\t']) {
            return bad(Malformed::HeaderName(name.to_string()));
        }
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("content-length") {
            let n = parse_decimal(value)
                .ok_or_else(|| HttpError::Malformed(Malformed::ContentLength(value.to_string())))?;
            if content_length.is_some_and(|old| old != n) {
                return bad(Malformed::ConflictingLengths);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.eq_ignore_ascii_case("chunked") {
                return bad(Malformed::TransferEncoding(value.to_string()));
            }
            chunked = true;
        }
    }
    let rest = &buf[head_len..];
    // These never have a body (RFC 9112 §6.3).
    if status == 204 || status == 304 {
        return Ok(Some(Response {
            status,
            body: Vec::new(),
        }));
    }
    // Chunked wins over a Content-Length sent alongside (RFC 9112 §6.3).
    if chunked {
        return parse_chunked(rest, eof).map(|body| body.map(|body| Response { status, body }));
    }
    if let Some(len) = content_length {
        if len > MAX_RESPONSE {
            return bad(Malformed::LengthTooLarge(len));
        }
        if rest.len() >= len {
            let body = rest[..len].to_vec();
            return Ok(Some(Response { status, body }));
        }
        if eof {
            return bad(Malformed::ShortBody(rest.len(), len));
        }
        return Ok(None);
    }
    // Neither: the body runs to the end of the connection.
    Ok(eof.then(|| Response {
        status,
        body: rest.to_vec(),
    }))
}

/// `HTTP/1.x NNN reason`: the status code.
fn parse_status_line(line: &str) -> Result<u16, HttpError> {
    let bad = || HttpError::Malformed(Malformed::StatusLine(line.to_string()));
    let rest = line.strip_prefix("HTTP/1.").ok_or_else(bad)?;
    let (minor, rest) = rest.split_once(' ').ok_or_else(bad)?;
    if !(minor == "0" || minor == "1") {
        return Err(bad());
    }
    let code = rest.split_once(' ').map_or(rest, |(code, _)| code);
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let code: u16 = code.parse().map_err(|_| bad())?;
    if !(200..=599).contains(&code) {
        // An interim 1xx is never sent for a plain GET.
        return Err(bad());
    }
    Ok(code)
}

/// Decodes a chunked body (RFC 9112 §7.1); `Ok(None)` while incomplete.
fn parse_chunked(buf: &[u8], eof: bool) -> Result<Option<Vec<u8>>, HttpError> {
    let bad = |why: Malformed| Err(HttpError::Malformed(why));
    let incomplete = || {
        if eof {
            Err(HttpError::Malformed(Malformed::ClosedInChunks))
        } else {
            Ok(None)
        }
    };
    let mut pieces: Vec<&[u8]> = Vec::new();
    let mut total = 0usize;
    let mut pos = 0usize;
    loop {
        let window = &buf[pos..buf.len().min(pos + MAX_CHUNK_LINE)];
        let Some(end) = find(window, b"\r\n") else {
            if window.len() >= MAX_CHUNK_LINE {
                return bad(Malformed::ChunkLineTooLong);
            }
            return incomplete();
        };
        let line = &window[..end];
        let size_text = match line.iter().position(|&b| b == b';') {
            Some(i) => &line[..i],
            None => line,
        };
        let size = parse_hex(size_text)
            .ok_or_else(|| HttpError::Malformed(Malformed::ChunkSize(size_text.to_vec())))?;
        pos += end + 2;
        if size == 0 {
            break;
        }
        total = match total.checked_add(size) {
            Some(t) if t <= MAX_RESPONSE => t,
            _ => return bad(Malformed::BodyTooLarge),
        };
        // size <= MAX_RESPONSE here, so this cannot overflow.
        let data_end = pos + size;
        if buf.len() < data_end + 2 {
            return incomplete();
        }
        if &buf[data_end..data_end + 2] != b"\r\n" {
            return bad(Malformed::NoCrlfAfterChunk);
        }
        pieces.push(&buf[pos..data_end]);
        pos = data_end + 2;
    }
    // Trailer fields, ignored, up to the empty line.
    loop {
        let window = &buf[pos..buf.len().min(pos + MAX_HEAD)];
        let Some(end) = find(window, b"\r\n") else {
            if window.len() >= MAX_HEAD {
                return bad(Malformed::TrailerTooLong);
            }
            return incomplete();
        };
        pos += end + 2;
        if end == 0 {
            break;
        }
    }
    Ok(Some(pieces.concat()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Digits only: no sign, no blanks, no overflow.
fn parse_decimal(text: &str) -> Option<usize> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_hex(text: &[u8]) -> Option<usize> {
    // Bounded before parsing, so no size can overflow.
    if text.is_empty() || text.len() > 8 || !text.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    usize::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixListener;

    fn ok(status: u16, body: &[u8]) -> Option<Response> {
        Some(Response {
            status,
            body: body.to_vec(),
        })
    }

    fn malformed(r: Result<Option<Response>, HttpError>) -> String {
        match r {
            Err(HttpError::Malformed(why)) => why.to_string(),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn content_length() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(r, false).unwrap(), ok(200, b"{}"));
        // Head split across reads, then body split.
        assert_eq!(parse_response(&r[..20], false).unwrap(), None);
        assert_eq!(parse_response(&r[..r.len() - 1], false).unwrap(), None);
        let why = malformed(parse_response(&r[..r.len() - 1], true));
        assert!(why.contains("1 of 2 body bytes"), "{why}");
        // Header names are case-insensitive; repeated equal values are fine.
        let r = b"HTTP/1.0 404 Not Found\r\ncontent-LENGTH: 3\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(parse_response(r, false).unwrap(), ok(404, b"abc"));
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
        assert!(malformed(parse_response(r, false)).contains("conflicting"));
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n";
        assert!(malformed(parse_response(r, false)).contains("Content-Length"));
    }

    #[test]
    fn chunked() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                  4\r\n{\"a\"\r\nA;ext=1\r\n:12345678}\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(
            parse_response(r, false).unwrap(),
            ok(200, b"{\"a\":12345678}")
        );
        for cut in 1..r.len() {
            assert_eq!(parse_response(&r[..cut], false).unwrap(), None, "cut {cut}");
            assert!(parse_response(&r[..cut], true).is_err(), "cut {cut}");
        }
        // Chunked wins over Content-Length.
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
        assert_eq!(parse_response(r, false).unwrap(), ok(200, b"ab"));
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(malformed(parse_response(r, false)).contains("chunk size"));
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n";
        assert!(malformed(parse_response(r, false)).contains("CRLF"));
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert!(malformed(parse_response(r, false)).contains("gzip"));
    }

    #[test]
    fn body_to_end_of_connection() {
        let r = b"HTTP/1.1 200 OK\r\n\r\n{\"x\":1}";
        assert_eq!(parse_response(r, false).unwrap(), None);
        assert_eq!(parse_response(r, true).unwrap(), ok(200, b"{\"x\":1}"));
    }

    #[test]
    fn bad_status_lines() {
        for r in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
        ] {
            assert!(parse_response(r, true).is_err(), "{r:?}");
        }
        assert_eq!(
            parse_response(b"HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n", false).unwrap(),
            ok(500, b"")
        );
    }

    #[test]
    fn oversized() {
        let r = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_RESPONSE + 1
        );
        assert!(malformed(parse_response(r.as_bytes(), false)).contains("larger"));
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n";
        assert!(malformed(parse_response(r, false)).contains("larger"));
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000000\r\n";
        assert!(malformed(parse_response(r, false)).contains("chunk size"));
        let mut r = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        r.resize(MAX_HEAD + 10, b'a');
        assert!(malformed(parse_response(&r, false)).contains("head larger"));
    }

    fn serve(tag: &str, reply: Vec<u8>) -> (std::path::PathBuf, std::thread::JoinHandle<()>) {
        let dir = std::env::temp_dir().join(format!("nsgate-http-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("api.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut req = [0u8; 4096];
            let n = conn.read(&mut req).unwrap();
            assert!(req[..n].starts_with(b"GET /containers/x/json HTTP/1.1\r\nHost: localhost\r\n"));
            // Write in pieces to exercise reassembly; ignore a reader gone.
            for piece in reply.chunks(7) {
                if conn.write_all(piece).is_err() {
                    return;
                }
            }
            // Hold the connection open a while: framing must end the read.
            std::thread::sleep(Duration::from_millis(1000));
        });
        (path, handle)
    }

    #[test]
    fn over_a_socket() {
        let reply =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n".to_vec();
        let (path, server) = serve("chunked", reply);
        let started = Instant::now();
        let r = get(&path, "/containers/x/json", Duration::from_secs(2)).unwrap();
        assert_eq!(
            r,
            Response {
                status: 200,
                body: b"{}\n".to_vec()
            }
        );
        assert!(started.elapsed() < Duration::from_millis(900));
        server.join().unwrap();
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn silent_daemon_times_out() {
        // A head that never ends: the deadline, not the peer, ends the wait.
        let (path, server) = serve("silent", b"HTTP/1.1 200 OK\r\n".to_vec());
        let started = Instant::now();
        let err = get(&path, "/containers/x/json", Duration::from_millis(150)).unwrap_err();
        assert!(
            matches!(&err, HttpError::Unreachable(why) if why.to_string().contains("no complete response")),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(900));
        server.join().unwrap();
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn missing_socket_is_unreachable() {
        let err = get(
            Path::new("/nonexistent/nsgate.sock"),
            "/x",
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(
            matches!(&err, HttpError::Unreachable(why) if why.to_string().starts_with("connect: ")),
            "{err:?}"
        );
    }
}
