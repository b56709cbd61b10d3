//! An audit record decoder of the tests' own, written from the AUDIT section
//! of nsgate(8) and not from nsgate's code: a mistake shared by nsgate's
//! writer and a decoder of its own would pass unseen. It is strict: whatever
//! the manual does not allow is an error, and the tests fail on it.
#![forbid(unsafe_code)]

/// A field's value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A bare `-`: no value.
    Missing,
    Bare(String),
    /// A double-quoted value, unescaped.
    Quoted(Vec<u8>),
}

impl Value {
    /// The value's bytes; `None` when missing.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Missing => None,
            Value::Bare(s) => Some(s.as_bytes()),
            Value::Quoted(b) => Some(b),
        }
    }
}

/// `<PRI>Mmm dd hh:mm:ss nsgate[PID]: MESSAGE`, taken apart.
#[derive(Debug)]
pub struct Frame<'a> {
    pub pri: u16,
    pub timestamp: &'a str,
    pub pid: u32,
    pub message: &'a str,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Field names in the manual's fixed order; `status` and `signal` share a
/// place (one or the other).
const ORDER: [&[&str]; 25] = [
    &["v"],
    &["sid"],
    &["event"],
    &["key"],
    &["fp"],
    &["cert_id"],
    &["cert_serial"],
    &["cert_ca"],
    &["cert_principals"],
    &["from"],
    &["target"],
    &["container"],
    &["pid"],
    &["user"],
    &["ns"],
    &["rule"],
    &["cmd"],
    &["reason"],
    &["status", "signal"],
    &["duration_ms"],
    &["ended"],
    &["left"],
    &["recorded"],
    &["seq"],
    &["chain"],
];

/// Fields every record has: those up to and including `cmd`, but the
/// `cert_` ones, which certificate logins have, all four.
const MANDATORY: usize = 13;
const CERT: [&str; 4] = ["cert_id", "cert_serial", "cert_ca", "cert_principals"];

fn digits(s: &str, max: usize) -> Result<u32, String> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not a number"));
    }
    s.parse().map_err(|e| format!("{s:?}: {e}"))
}

/// Two digits, or a space and a digit where `padded`, at most `max`.
fn two(s: &str, padded: bool, min: u32, max: u32) -> Result<(), String> {
    let t = if padded {
        s.strip_prefix(' ').unwrap_or(s)
    } else {
        s
    };
    if s.len() != 2 || (padded && s.starts_with('0')) {
        return Err(format!("{s:?} in the time stamp"));
    }
    let n = digits(t, 2)?;
    if !(min..=max).contains(&n) {
        return Err(format!("{s:?} out of range in the time stamp"));
    }
    Ok(())
}

fn timestamp(ts: &str) -> Result<(), String> {
    let b = ts.as_bytes();
    if ts.len() != 15 || !ts.is_ascii() || b[3] != b' ' || b[6] != b' ' {
        return Err(format!("time stamp {ts:?} is not Mmm dd hh:mm:ss"));
    }
    if !MONTHS.contains(&&ts[..3]) {
        return Err(format!("no month in time stamp {ts:?}"));
    }
    two(&ts[4..6], true, 1, 31)?;
    let time: Vec<&str> = ts[7..].split(':').collect();
    if time.len() != 3 {
        return Err(format!("time stamp {ts:?} is not Mmm dd hh:mm:ss"));
    }
    two(time[0], false, 0, 23)?;
    two(time[1], false, 0, 59)?;
    two(time[2], false, 0, 59)
}

/// Takes a datagram apart; an error for anything but the manual's frame.
pub fn parse_frame(datagram: &str) -> Result<Frame<'_>, String> {
    let rest = datagram.strip_prefix('<').ok_or("no <PRI> at the start")?;
    let (pri, rest) = rest.split_once('>').ok_or("no > after PRI")?;
    let pri = digits(pri, 3)?;
    if pri > 191 {
        return Err(format!("PRI {pri} out of range"));
    }
    let ts = rest.get(..15).ok_or("no time stamp")?;
    timestamp(ts)?;
    let rest = rest[15..]
        .strip_prefix(" nsgate[")
        .ok_or("no \" nsgate[\" after the time stamp")?;
    let (pid, message) = rest.split_once("]: ").ok_or("no \"]: \" after the pid")?;
    let pid = digits(pid, 10)?;
    if pid == 0 {
        return Err("pid 0".into());
    }
    Ok(Frame {
        pri: pri as u16,
        timestamp: ts,
        pid,
        message,
    })
}

/// What a value may hold unquoted (besides letters and digits).
fn bare_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._:/@,+=-[]".contains(&b)
}

/// Decodes the inside of a quoted value.
fn unescape(s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' => match s.get(i + 1) {
                Some(&c @ (b'\\' | b'"')) => {
                    out.push(c);
                    i += 2;
                }
                Some(b'x') => {
                    let hex = s
                        .get(i + 2..i + 4)
                        .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                        .ok_or(format!("bad \\x escape at {i}"))?;
                    let hex = std::str::from_utf8(hex).unwrap();
                    let byte = u8::from_str_radix(hex, 16).unwrap();
                    if (0x20..=0x7e).contains(&byte) && byte != b'\\' && byte != b'"' {
                        return Err(format!("printable byte written as \\x{hex} at {i}"));
                    }
                    out.push(byte);
                    i += 4;
                }
                _ => return Err(format!("unknown escape at {i}")),
            },
            b'"' => return Err(format!("unescaped quote at {i}")),
            c @ 0x20..=0x7e => {
                out.push(c);
                i += 1;
            }
            c => return Err(format!("byte 0x{c:02x} inside quotes at {i}")),
        }
    }
    Ok(out)
}

/// Splits a MESSAGE into its fields, checking names, their order, the
/// mandatory ones, and that each value is written as the manual says.
pub fn parse_message(message: &str) -> Result<Vec<(String, Value)>, String> {
    let b = message.as_bytes();
    let mut fields: Vec<(String, Value)> = Vec::new();
    let mut place = 0;
    let mut i = 0;
    loop {
        let eq = message[i..]
            .find('=')
            .map(|n| i + n)
            .ok_or(format!("no name= at {i}"))?;
        let name = &message[i..eq];
        let rank = ORDER
            .iter()
            .position(|names| names.contains(&name))
            .ok_or(format!("unknown field {name:?} at {i}"))?;
        if (i == 0 && rank != 0) || (i > 0 && rank <= place) {
            return Err(format!("field {name:?} out of order at {i}"));
        }
        place = rank;
        i = eq + 1;
        let value = if b.get(i) == Some(&b'"') {
            let open = i + 1;
            let mut j = open;
            loop {
                match b.get(j) {
                    None => return Err(format!("unterminated quote at {i}")),
                    Some(b'"') => break,
                    Some(b'\\') => j += 2,
                    Some(_) => j += 1,
                }
            }
            let bytes = unescape(b.get(open..j).ok_or("escape cut short")?)
                .map_err(|e| format!("{name}: {e}"))?;
            let needed = bytes.is_empty() || bytes == b"-" || !bytes.iter().all(|&c| bare_byte(c));
            if !needed && !["cmd", "reason", "cert_id"].contains(&name) {
                return Err(format!("{name}: a value that could be bare is quoted"));
            }
            i = j + 1;
            Value::Quoted(bytes)
        } else {
            let end = message[i..].find(' ').map_or(b.len(), |n| i + n);
            let v = &message[i..end];
            if v.is_empty() {
                return Err(format!("{name}: empty bare value"));
            }
            if let Some(c) = v.bytes().find(|&c| !bare_byte(c)) {
                return Err(format!("{name}: byte 0x{c:02x} in a bare value"));
            }
            if name == "reason" || name == "cert_id" || (name == "cmd" && v != "-") {
                return Err(format!("{name} is not quoted"));
            }
            i = end;
            if v == "-" {
                Value::Missing
            } else {
                Value::Bare(v.to_string())
            }
        };
        fields.push((name.to_string(), value));
        match b.get(i) {
            None => break,
            Some(b' ') if i + 1 < b.len() => i += 1,
            _ => return Err(format!("expected one space between fields at {i}")),
        }
    }
    let cert = fields
        .iter()
        .filter(|(n, _)| CERT.contains(&n.as_str()))
        .count();
    if cert != 0 && cert != CERT.len() {
        return Err("some cert_ fields without the others".into());
    }
    let core: Vec<&str> = fields
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !CERT.contains(n))
        .collect();
    let mandatory = ORDER.iter().filter(|names| !CERT.contains(&names[0]));
    for (k, names) in mandatory.take(MANDATORY).enumerate() {
        if core.get(k) != Some(&names[0]) {
            return Err(format!("no field {:?}, which every record has", names[0]));
        }
    }
    if fields[0].1 != Value::Bare("1".into()) {
        return Err(format!("version {:?}, not 1", fields[0].1));
    }
    // Every record ends with its place in the hash chain (nsgate(8) AUDIT).
    let n = fields.len();
    match (&fields[n - 2], &fields[n - 1]) {
        ((s, Value::Bare(seq)), (c, Value::Bare(chain))) if s == "seq" && c == "chain" => {
            let number = seq.len() <= 20 && seq.bytes().all(|b| b.is_ascii_digit());
            if !number || seq.starts_with('0') {
                return Err(format!("seq {seq:?} is not a number from 1"));
            }
            if chain.len() != 64
                || !chain
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(format!("chain {chain:?} is not 64 lowercase hex digits"));
            }
        }
        _ => return Err("no seq and chain at the end".into()),
    }
    Ok(fields)
}

/// Syslog's facility names (RFC 5424 codes) as rsyslog writes them.
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// `facility.severity` as rsyslog's `%syslogfacility-text%` and
/// `%syslogseverity-text%` write the PRI.
pub fn priority_name(pri: u16) -> String {
    format!(
        "{}.{}",
        FACILITIES[usize::from(pri / 8)],
        SEVERITIES[usize::from(pri % 8)]
    )
}

/// The severity of each event, as the manual gives it.
pub fn severity_of(event: &str) -> Result<&'static str, String> {
    match event {
        "allow" | "exit" | "list" => Ok("info"),
        "deny" => Ok("warning"),
        "error" => Ok("err"),
        e => Err(format!("unknown event {e:?}")),
    }
}
