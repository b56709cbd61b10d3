//! One line of a syslog file as rsyslogd writes it, in its traditional
//! format (`Nov 30 11:06:51 host nsgate[123]: MESSAGE`) or its RFC 3339 one
//! (`2026-11-30T11:06:51.123456+00:00 host nsgate[123]: MESSAGE`), and the
//! times of `--since` and `--until`.
//!
//! Times are kept as seconds and microseconds on one clock without zones
//! (nsgate(8) LOG REPORT): an RFC 3339 stamp is moved to UTC by its offset;
//! a traditional stamp, which has neither year nor zone, is taken as
//! written, in the year that puts it at most a day after the reference time
//! (now), else in the year before.
#![forbid(unsafe_code)]

use crate::audit::civil_from_days;
use std::fmt;

/// A point in time: microseconds since 1970-01-01 00:00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(pub i64);

impl Stamp {
    fn of(days: i64, secs: i64, micros: i64) -> Stamp {
        Stamp((days * 86_400 + secs) * 1_000_000 + micros)
    }

    pub(crate) fn minus_millis(self, ms: i64) -> Stamp {
        Stamp(self.0.saturating_sub(ms.saturating_mul(1000)))
    }
}

/// `YYYY-MM-DDTHH:MM:SS`, whole seconds.
impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`), `None` for a day the month does not have.
fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let len = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > len {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A fixed-width run of ASCII digits as a number.
fn number(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `hh:mm:ss` as seconds of the day.
fn clock(b: &[u8]) -> Option<i64> {
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (number(&b[..2])?, number(&b[3..5])?, number(&b[6..])?);
    (h < 24 && m < 60 && s < 61).then(|| i64::from(h * 3600 + m * 60 + s.min(59)))
}

/// `Mmm dd hh:mm:ss` (the day padded with a space), in the year that puts
/// it at most a day after `now`.
fn traditional(b: &[u8], now: Stamp) -> Option<Stamp> {
    if b.len() != 15 || b[3] != b' ' || b[6] != b' ' {
        return None;
    }
    let month = MONTHS.iter().position(|m| &b[..3] == *m)? as u32 + 1;
    let day = match b[4] {
        b' ' => number(&b[5..6])?,
        _ => number(&b[4..6])?,
    };
    let secs = clock(&b[7..])?;
    let (year, _, _) = civil_from_days(now.0.div_euclid(86_400_000_000));
    let at = |year| days_from_civil(year, month, day).map(|d| Stamp::of(d, secs, 0));
    // Feb 29 exists only in some years: the latest one not in the future.
    let limit = Stamp(now.0 + 86_400_000_000);
    (0..8)
        .filter_map(|back| at(year - back))
        .find(|t| *t <= limit)
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, moved to UTC; with `zone_optional`
/// (for `--since`), a missing zone is UTC, and the time of day may be left
/// out or given without seconds.
fn rfc3339(s: &str, zone_optional: bool) -> Option<Stamp> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let days = days_from_civil(
        i64::from(number(&b[..4])?),
        number(&b[5..7])?,
        number(&b[8..10])?,
    )?;
    let mut rest = &b[10..];
    let (mut secs, mut micros) = (0, 0);
    if let Some((sep, tail)) = rest.split_first() {
        if *sep != b'T' && !(zone_optional && *sep == b' ') {
            return None;
        }
        let (hms, tail) = match tail.get(5) {
            Some(b':') if tail.len() >= 8 => tail.split_at(8),
            _ if zone_optional && tail.len() >= 5 => {
                let (hm, tail) = tail.split_at(5);
                secs = clock(&[hm, b":00"].concat())?;
                (&[][..], tail)
            }
            _ => return None,
        };
        if !hms.is_empty() {
            secs = clock(hms)?;
        }
        rest = tail;
        if let Some(frac) = rest.strip_prefix(b".") {
            let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return None;
            }
            let digits = number(&frac[..n.min(6)])?;
            micros = i64::from(digits) * 10_i64.pow(6 - n.min(6) as u32);
            rest = &frac[n..];
        }
    } else if !zone_optional {
        return None;
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [] if zone_optional => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (number(&[*h1, *h2])?, number(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = i64::from(h * 3600 + m * 60);
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    Some(Stamp::of(days, secs - offset, micros))
}

/// A time of `--since` or `--until`: `YYYY-MM-DD`, optionally followed by
/// `T` or a space and `HH:MM[:SS[.frac]]`, optionally followed by `Z` or an
/// offset `±HH:MM`; UTC without one.
pub(crate) fn parse_time(s: &str) -> Option<Stamp> {
    rfc3339(s, true)
}

/// What a line of a syslog file is to `nsgate log`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// Another program's line, or not a syslog line at all.
    Other,
    /// A line of program `nsgate`.
    Nsgate(Entry<'a>),
    /// Tagged `nsgate`, but not as nsgate writes: why.
    Bad(&'static str),
}

/// One line of nsgate's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub time: Stamp,
    pub host: &'a str,
    pub pid: u32,
    pub message: &'a [u8],
}

/// Splits a line (without its newline): `TIMESTAMP HOST TAG MESSAGE`.
/// Only the lines whose program is `nsgate` are taken apart further.
pub(crate) fn parse(line: &[u8], now: Stamp) -> Line<'_> {
    let stamp_len = match line.first() {
        Some(b'0'..=b'9') => match line.iter().position(|&c| c == b' ') {
            Some(n) => n,
            None => return Line::Other,
        },
        _ => 15,
    };
    if line.get(stamp_len) != Some(&b' ') {
        return Line::Other;
    }
    let rest = &line[stamp_len + 1..];
    let Some(host_len) = rest.iter().position(|&c| c == b' ') else {
        return Line::Other;
    };
    let (host, tag) = (&rest[..host_len], &rest[host_len + 1..]);
    let program_len = tag
        .iter()
        .position(|&c| matches!(c, b'[' | b':' | b' '))
        .unwrap_or(tag.len());
    if &tag[..program_len] != b"nsgate" {
        return Line::Other;
    }
    entry(&line[..stamp_len], host, &tag[program_len..], now).map_or_else(Line::Bad, Line::Nsgate)
}

fn entry<'a>(
    stamp: &[u8],
    host: &'a [u8],
    tag: &'a [u8],
    now: Stamp,
) -> Result<Entry<'a>, &'static str> {
    let time = match stamp.first() {
        Some(b'0'..=b'9') => std::str::from_utf8(stamp)
            .ok()
            .and_then(|s| rfc3339(s, false)),
        _ => traditional(stamp, now),
    }
    .ok_or("unrecognised time stamp")?;
    let host = std::str::from_utf8(host)
        .ok()
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or("bad host name")?;
    let rest = tag.strip_prefix(b"[").ok_or("tag without [PID]")?;
    let close = rest
        .iter()
        .position(|&c| c == b']')
        .ok_or("tag without [PID]")?;
    let pid = number(&rest[..close])
        .filter(|&p| p > 0)
        .ok_or("bad PID in tag")?;
    let message = rest[close + 1..]
        .strip_prefix(b": ")
        .ok_or("no \": \" after the tag")?;
    Ok(Entry {
        time,
        host,
        pid,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T00:00:00.
    fn now() -> Stamp {
        parse_time("2026-12-01").unwrap()
    }

    #[test]
    fn both_time_stamp_formats() {
        let l = b"Nov 30 11:06:51 web nsgate[123]: v=1 sid=x";
        let Line::Nsgate(e) = parse(l, now()) else {
            panic!()
        };
        assert_eq!(e.time.to_string(), "2026-11-30T11:06:51");
        assert_eq!((e.host, e.pid, e.message), ("web", 123, &b"v=1 sid=x"[..]));
        let l = b"2026-11-30T11:06:51.123456+01:00 web nsgate[9]: v=1";
        let Line::Nsgate(e) = parse(l, now()) else {
            panic!()
        };
        assert_eq!(e.time.to_string(), "2026-11-30T10:06:51");
        assert_eq!(e.time.0 % 1_000_000, 123_456);
        let l = b"2026-11-30T11:06:51Z web nsgate[9]: v=1";
        assert!(matches!(parse(l, now()), Line::Nsgate(_)));
        // The day padded with a space; a date after now is last year's.
        let Line::Nsgate(e) = parse(b"Dec  9 00:00:01 h nsgate[1]: v=1", now()) else {
            panic!()
        };
        assert_eq!(e.time.to_string(), "2025-12-09T00:00:01");
        let Line::Nsgate(e) = parse(b"Dec  1 12:00:01 h nsgate[1]: v=1", now()) else {
            panic!()
        };
        assert_eq!(e.time.to_string(), "2026-12-01T12:00:01");
        let Line::Nsgate(e) = parse(b"Feb 29 12:00:00 h nsgate[1]: v=1", now()) else {
            panic!()
        };
        assert_eq!(e.time.to_string(), "2024-02-29T12:00:00");
    }

    #[test]
    fn other_programs_and_forged_tags() {
        for other in [
            &b"Nov 30 11:06:51 web sshd[77]: Accepted publickey for root"[..],
            b"Nov 30 11:06:51 web CRON[1]: (root) CMD (nsgate[1]: v=1)",
            b"Nov 30 11:06:51 web nsgatex[1]: v=1",
            b"",
            b"garbage",
            b"2026-11-30T11:06:51Z",
            b"Nov 30 11:06:51 web",
        ] {
            assert_eq!(parse(other, now()), Line::Other, "{other:?}");
        }
        for (bad, why) in [
            (&b"Nov 30 11:06:51 web nsgate: v=1"[..], "tag without [PID]"),
            (b"Nov 30 11:06:51 web nsgate[x]: v=1", "bad PID in tag"),
            (b"Nov 30 11:06:51 web nsgate[0]: v=1", "bad PID in tag"),
            (
                b"Nov 30 11:06:51 web nsgate[1]:v=1",
                "no \": \" after the tag",
            ),
            (
                b"Nov 31 11:06:51 web nsgate[1]: v=1",
                "unrecognised time stamp",
            ),
            (
                b"Nox 30 11:06:51 web nsgate[1]: v=1",
                "unrecognised time stamp",
            ),
            (
                b"Nov 30 25:06:51 web nsgate[1]: v=1",
                "unrecognised time stamp",
            ),
            (
                b"2026-11-30T11:06:51 web nsgate[1]: v=1",
                "unrecognised time stamp",
            ),
            (
                b"2026-11-30T11:06:51+1:00 web nsgate[1]: v=1",
                "unrecognised time stamp",
            ),
            (b"Nov 30 11:06:51 w\xffb nsgate[1]: v=1", "bad host name"),
        ] {
            assert_eq!(parse(bad, now()), Line::Bad(why), "{bad:?}");
        }
    }

    #[test]
    fn since_and_until_times() {
        let t = |s| parse_time(s).map(|t| t.to_string());
        assert_eq!(t("2026-11-30").unwrap(), "2026-11-30T00:00:00");
        assert_eq!(t("2026-11-30T11:06").unwrap(), "2026-11-30T11:06:00");
        assert_eq!(t("2026-11-30 11:06:51").unwrap(), "2026-11-30T11:06:51");
        assert_eq!(t("2026-11-30T11:06:51Z").unwrap(), "2026-11-30T11:06:51");
        assert_eq!(
            t("2026-11-30T11:06:51-02:30").unwrap(),
            "2026-11-30T13:36:51"
        );
        assert_eq!(t("2024-02-29").unwrap(), "2024-02-29T00:00:00");
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2025-02-29",
            "2026-11-30T",
            "2026-11-30T1:00",
            "2026-11-30x11:00",
            "2026-11-30T11:06:51+25:00",
            "yesterday",
            "2026-11-30T11:06:51.",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        for d in [-800_000, -1, 0, 11_016, 47_540, 2_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), Some(d));
        }
    }
}
