//! `nsgate replay SID` (nsgate(8) OPTIONS): plays a recording back on
//! stdout, in real time or `--speed` times faster, or with `--cat` its
//! output alone at once.
#![forbid(unsafe_code)]

use crate::system;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: nsgate replay [--config FILE | --dir DIR] [--speed X] [--cat] SID";

/// Longest line read: far more than nsgate writes for one event.
const MAX_LINE: u64 = 16 << 20;

#[derive(Debug)]
struct Args {
    config: PathBuf,
    dir: Option<PathBuf>,
    speed: f64,
    cat: bool,
    sid: String,
}

/// Runs `nsgate replay ARGS...`; its exit code (0, 1 on failure, 2 on a
/// usage error).
pub(crate) fn main(args: Vec<OsString>) -> i32 {
    let args = match parse(args) {
        Ok(args) => args,
        Err(why) => {
            crate::output::error_line(&why);
            crate::output::stderr(&format!("{USAGE}\n"));
            return 2;
        }
    };
    match replay(&args) {
        Ok(()) => 0,
        Err(why) => {
            crate::output::error_line(&why);
            1
        }
    }
}

fn parse(argv: Vec<OsString>) -> Result<Args, String> {
    let mut args = Args {
        config: PathBuf::from(crate::cli::DEFAULT_CONFIG),
        dir: None,
        speed: 1.0,
        cat: false,
        sid: String::new(),
    };
    let mut words = argv.into_iter();
    let mut sid = None;
    while let Some(word) = words.next() {
        let text = word
            .to_str()
            .ok_or_else(|| format!("invalid argument {}", word.to_string_lossy()))?;
        let mut value = |name: &str| words.next().ok_or_else(|| format!("{name} needs a value"));
        match text {
            "--config" => args.config = value("--config")?.into(),
            "--dir" => args.dir = Some(value("--dir")?.into()),
            "--speed" => {
                let v = value("--speed")?;
                args.speed = v
                    .to_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|x| x.is_finite() && (0.01..=1000.0).contains(x))
                    .ok_or("--speed takes a number from 0.01 to 1000")?;
            }
            "--cat" => args.cat = true,
            _ if text.starts_with('-') => return Err(format!("unknown option {text}")),
            _ if sid.is_some() => return Err(format!("unexpected argument {text}")),
            _ => sid = Some(text.to_string()),
        }
    }
    let sid = sid.ok_or("missing SID")?;
    if !is_sid(&sid) {
        return Err(format!(
            "invalid session id \"{}\" (32 hex digits, as in the audit records)",
            crate::quote::escape(sid.as_bytes())
        ));
    }
    args.sid = sid.to_ascii_lowercase();
    Ok(args)
}

/// A session id as the audit records write it: nothing else can name a
/// file, so no path can leave the directory.
fn is_sid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn replay(args: &Args) -> Result<(), String> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            let config = crate::config::load(&args.config).map_err(|e| e.to_string())?;
            config.settings.record_dir
        }
    };
    let name = format!("{}.cast", args.sid);
    let path = dir.join(&name);
    let shown = path.display();
    let file = open(&dir, &name).map_err(|e| format!("{shown}: {e}"))?;
    let mut lines = Lines {
        reader: BufReader::new(file),
        buf: Vec::new(),
        number: 0,
    };
    let header = lines
        .next()
        .map_err(|e| format!("{shown}: {e}"))?
        .ok_or_else(|| format!("{shown}: empty file"))?;
    if header.get("version").and_then(|v| v.as_u64()) != Some(2) {
        return Err(format!("{shown}: not an asciicast v2 recording"));
    }
    let start = Instant::now();
    let mut out = io::stdout().lock();
    loop {
        let event = match lines.next() {
            Ok(Some(event)) => event,
            Ok(None) => return Ok(()),
            Err(e) => return Err(format!("{shown}:{}: {e}", lines.number)),
        };
        let (time, code, data) = match event.as_array().map(Vec::as_slice) {
            Some([t, c, d]) => (t.as_f64(), c.as_str(), d.as_str()),
            _ => (None, None, None),
        };
        let (Some(time), Some(code), Some(data)) = (time, code, data) else {
            return Err(format!("{shown}:{}: not an asciicast event", lines.number));
        };
        if code != "o" {
            continue;
        }
        if !args.cat {
            let due = Duration::try_from_secs_f64(time / args.speed).unwrap_or_default();
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let written =
            out.write_all(data.as_bytes()).and_then(
                |()| {
                    if args.cat {
                        Ok(())
                    } else {
                        out.flush()
                    }
                },
            );
        match written {
            Ok(()) => {}
            // Whoever read it has seen enough.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(format!("writing: {e}")),
        }
    }
}

/// Opens `dir/name`: a regular file, not through a link.
fn open(dir: &std::path::Path, name: &str) -> io::Result<File> {
    let dir = system::open_dir_nofollow(dir)?;
    let file = system::open_file_at(dir.as_fd(), name)?;
    if !system::file_info(file.as_fd())?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// The JSON lines of a recording; a blank line ends it, as for asciinema.
struct Lines {
    reader: BufReader<File>,
    buf: Vec<u8>,
    number: usize,
}

impl Lines {
    fn next(&mut self) -> io::Result<Option<serde_json::Value>> {
        self.buf.clear();
        self.number += 1;
        let n = (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 || self.buf == b"\n" {
            return Ok(None);
        }
        serde_json::from_slice(&self.buf)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Result<Args, String> {
        parse(words.iter().map(OsString::from).collect())
    }

    #[test]
    fn sid_is_32_hex_digits_and_nothing_else() {
        let sid = "0123456789ABCDEF0123456789abcdef";
        let a = args(&["--speed", "2.5", "--cat", "--dir", "/d", sid]).unwrap();
        assert_eq!(a.sid, sid.to_ascii_lowercase());
        assert_eq!((a.speed, a.cat), (2.5, true));
        for bad in [
            "../../../etc/passwd",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdefa",
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef/123456789abcdef",
        ] {
            assert!(
                args(&[bad]).unwrap_err().starts_with("invalid session id"),
                "{bad}"
            );
        }
    }

    #[test]
    fn usage_errors() {
        assert_eq!(args(&[]).err().unwrap(), "missing SID");
        assert!(args(&["--speed", "0", "x"]).is_err());
        assert!(args(&["--speed", "nan", "x"]).is_err());
        assert_eq!(args(&["--dir"]).err().unwrap(), "--dir needs a value");
        assert_eq!(args(&["--loud"]).err().unwrap(), "unknown option --loud");
    }
}
