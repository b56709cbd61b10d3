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

/// Calls `each` with every line of `reader`, without its newline, and
/// whether it was longer than `MAX_LINE` (then cut there). Lines are read in
/// place in the reader's buffer; only one that spans two reads is copied.
pub(super) fn each_line<E>(
    reader: &mut dyn BufRead,
    on_read: impl Fn(io::Error) -> E,
    mut each: impl FnMut(&[u8], bool) -> Result<(), E>,
) -> Result<(), E> {
    let mut carry = Vec::new();
    let mut long = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(on_read(e)),
        };
        if buf.is_empty() {
            if !carry.is_empty() || long {
                each(&carry, long)?;
            }
            return Ok(());
        }
        let mut start = 0;
        while let Some(n) = find_newline(&buf[start..]) {
            let end = start + n;
            if carry.is_empty() && !long {
                each(&buf[start..end], false)?;
            } else {
                keep(&mut carry, &mut long, &buf[start..end]);
                each(&carry, long)?;
                carry.clear();
                long = false;
            }
            start = end + 1;
        }
        keep(&mut carry, &mut long, &buf[start..]);
        let used = buf.len();
        reader.consume(used);
    }
}

/// Adds `piece` to a line being put together, up to `MAX_LINE`.
fn keep(carry: &mut Vec<u8>, long: &mut bool, piece: &[u8]) {
    let room = MAX_LINE - carry.len();
    if piece.len() > room {
        *long = true;
    }
    carry.extend_from_slice(&piece[..piece.len().min(room)]);
}

/// The first `\n` in `b`, eight bytes at a time.
fn find_newline(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let x = u64::from_le_bytes(eight) ^ NEWLINES;
        // The lowest set bit marks the first zero byte exactly.
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == b'\n')
        .map(|n| at + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8]) -> Vec<(usize, bool)> {
        // Small reads, so lines span them.
        let mut r = BufReader::with_capacity(7, data);
        let mut out = Vec::new();
        each_line(
            &mut r,
            |e| e,
            |l, long| {
                out.push((l.len(), long));
                Ok(())
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn newlines_are_found_anywhere() {
        for len in 0..40 {
            for at in 0..len {
                let mut b = vec![b'x'; len];
                b[at] = b'\n';
                if at + 1 < len {
                    b[len - 1] = b'\n';
                }
                assert_eq!(find_newline(&b), Some(at), "{len} {at}");
            }
            let mut b = vec![0x8a_u8; len];
            assert_eq!(find_newline(&b), None);
            b.push(b'\n');
            assert_eq!(find_newline(&b), Some(len));
        }
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
        let mut r = BufReader::new(&big[..]);
        let mut n = 0;
        each_line(
            &mut r,
            |e| e,
            |_, _| {
                n += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 2);
        assert!(lines(b"").is_empty());
    }
}
