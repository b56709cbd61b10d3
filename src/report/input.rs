//! The files `nsgate log` reads: plain or gzip-compressed (rotated files),
//! or stdin for `-`; a line at a time, never more than `MAX_LINE` bytes.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

/// The longest line kept; the rest of a longer one is passed over. A
/// record is at most 8000 bytes, and rsyslogd's time stamp and host name
/// add far less than the rest.
pub(super) const MAX_LINE: usize = 64 * 1024;
/// Reads are this large: few system calls on a large file.
const BUFFER: usize = 256 * 1024;

/// Opens `name` (`-` for stdin); gzip data, told by its magic bytes, is
/// decompressed (every member of a concatenated file).
pub(super) fn open(name: &OsStr) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if name == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(name)?)
    };
    let mut reader = BufReader::with_capacity(BUFFER, raw);
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(reader);
        return Ok(Box::new(BufReader::with_capacity(BUFFER, gz)));
    }
    Ok(Box::new(reader))
}

/// The next line into `buf`, without its newline: `Some(true)` when it was
/// longer than `MAX_LINE` and cut there, `None` at the end.
pub(super) fn next_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    let limit = MAX_LINE as u64 + 1;
    if reader.take(limit).read_until(b'\n', buf)? == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(false));
    }
    if buf.len() <= MAX_LINE {
        // The last line, without a newline.
        return Ok(Some(false));
    }
    buf.truncate(MAX_LINE);
    let mut rest = Vec::new();
    loop {
        rest.clear();
        let n = reader.take(limit).read_until(b'\n', &mut rest)?;
        if n == 0 || rest.last() == Some(&b'\n') {
            return Ok(Some(true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8]) -> Vec<(usize, bool)> {
        let mut r: &[u8] = data;
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(long) = next_line(&mut r, &mut buf).unwrap() {
            out.push((buf.len(), long));
        }
        out
    }

    #[test]
    fn lines_are_bounded() {
        assert_eq!(
            lines(b"a\nbb\n\nccc"),
            [(1, false), (2, false), (0, false), (3, false)]
        );
        let mut big = vec![b'x'; 3 * MAX_LINE];
        big.extend(b"\nok\n");
        assert_eq!(lines(&big), [(MAX_LINE, true), (2, false)]);
        let exact = [vec![b'x'; MAX_LINE], b"\n".to_vec()].concat();
        assert_eq!(lines(&exact), [(MAX_LINE, false)]);
        assert!(lines(b"").is_empty());
    }
}
