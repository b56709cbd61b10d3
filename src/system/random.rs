//! Random bytes from the kernel, for audit session ids.

use std::io;

/// Fills `buf` from getrandom(2), waiting for the pool to be initialised as
/// the default flags do. Retries on EINTR and after partial reads.
pub(crate) fn getrandom(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: the pointer and length describe `rest`, a live, writable
        // slice we exclusively borrow; the kernel writes at most that many bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        // Zero bytes for a non-empty buffer never happens; refuse rather than spin.
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n > 0 && *n <= rest.len())
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "getrandom returned no bytes")
            })?;
        filled += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_buffers_and_differs() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        getrandom(&mut a).unwrap();
        getrandom(&mut b).unwrap();
        assert_ne!(a, b);
        getrandom(&mut []).unwrap();
        let mut big = vec![0u8; 1 << 20];
        getrandom(&mut big).unwrap();
        assert!(big.iter().any(|b| *b != 0));
    }
}
