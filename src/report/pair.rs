//! Sessions from records: an allow record waits for the exit record of its
//! session id (on the same host); deny, error and list records are sessions
//! of their own.
//!
//! Memory does not grow with the log: only allow records still waiting are
//! kept, at most `MAX_OPEN` of them and `MAX_OPEN_BYTES` of their text.
//! Past either bound the oldest is given up as unpaired (its exit record,
//! should it come, then shows as a session without an allow record, its
//! start reckoned from its duration).
#![forbid(unsafe_code)]

use std::collections::{HashMap, VecDeque};

use super::line::Stamp;
use super::record::Kind;

/// At most this many sessions wait for their exit record.
pub(crate) const MAX_OPEN: usize = 100_000;
/// At most this many bytes of waiting allow records are kept.
pub(crate) const MAX_OPEN_BYTES: usize = 64 << 20;

/// One record as the report keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    pub time: Stamp,
    pub host: String,
    /// Index of the file in the command line's list, and line number.
    pub file: usize,
    pub line: u64,
    /// The syslog tag's PID.
    pub pid: u32,
    pub kind: Kind,
    pub message: String,
}

/// One session: its first record (allow, deny, error or list), its exit
/// record, or both.
#[derive(Debug)]
pub(crate) enum Session {
    /// A deny, error or list record, or an allow record never paired.
    One(Rec),
    /// An allow record and its exit record.
    Pair(Rec, Rec),
    /// An exit record whose allow record is not in the input.
    Exit(Rec),
}

impl Session {
    pub(crate) fn first(&self) -> Option<&Rec> {
        match self {
            Session::One(r) | Session::Pair(r, _) => Some(r),
            Session::Exit(_) => None,
        }
    }

    pub(crate) fn exit(&self) -> Option<&Rec> {
        match self {
            Session::Pair(_, r) | Session::Exit(r) => Some(r),
            Session::One(_) => None,
        }
    }

    /// An allow record without its exit record.
    pub(crate) fn is_unpaired(&self) -> bool {
        matches!(self, Session::One(r) if r.kind == Kind::Allow)
    }

    /// The record that says the most: the exit record has every field of
    /// the allow record, and the outcome.
    pub(crate) fn main(&self) -> &Rec {
        match self {
            Session::One(r) | Session::Pair(_, r) | Session::Exit(r) => r,
        }
    }

    /// When it started: its first record, or its exit less its duration.
    pub(crate) fn start(&self, duration_ms: Option<i64>) -> Stamp {
        match self {
            Session::One(r) | Session::Pair(r, _) => r.time,
            Session::Exit(r) => r.time.minus_millis(duration_ms.unwrap_or(0)),
        }
    }
}

/// The sessions still waiting for their exit record.
#[derive(Debug, Default)]
pub(crate) struct Pairing {
    /// By `HOST SID`: the allow record and the serial of its arrival.
    open: HashMap<String, (u64, Rec)>,
    /// Arrival order, for eviction; entries whose serial no longer matches
    /// were paired meanwhile.
    order: VecDeque<(String, u64)>,
    serial: u64,
    bytes: usize,
    /// How many were given up past the bounds.
    pub evicted: u64,
}

impl Pairing {
    /// Takes one record; calls `done` with each session it completes (or
    /// gives up). An allow record for a session already waiting is
    /// returned as an error, and dropped.
    pub(crate) fn add(
        &mut self,
        rec: Rec,
        sid: &str,
        done: &mut impl FnMut(Session),
    ) -> Result<(), &'static str> {
        let key = format!("{} {sid}", rec.host);
        match rec.kind {
            Kind::Allow => {
                if self.open.contains_key(&key) {
                    return Err("a second allow record for a session");
                }
                self.serial += 1;
                self.bytes += rec.message.len();
                self.order.push_back((key.clone(), self.serial));
                self.open.insert(key, (self.serial, rec));
                self.bound(done);
            }
            Kind::Exit => match self.open.remove(&key) {
                Some((_, allow)) => {
                    self.bytes -= allow.message.len();
                    done(Session::Pair(allow, rec));
                }
                None => done(Session::Exit(rec)),
            },
            Kind::Deny | Kind::Error | Kind::List => done(Session::One(rec)),
        }
        Ok(())
    }

    /// Gives up the oldest waiting sessions past the bounds, and drops
    /// arrival entries of sessions paired meanwhile.
    fn bound(&mut self, done: &mut impl FnMut(Session)) {
        while self.open.len() > MAX_OPEN || self.bytes > MAX_OPEN_BYTES {
            let Some(rec) = self.pop_oldest() else { break };
            self.evicted += 1;
            done(Session::One(rec));
        }
        if self.order.len() > 2 * self.open.len() + 1024 {
            let open = &self.open;
            self.order
                .retain(|(key, serial)| open.get(key).is_some_and(|(s, _)| s == serial));
        }
    }

    fn pop_oldest(&mut self) -> Option<Rec> {
        while let Some((key, serial)) = self.order.pop_front() {
            if self.open.get(&key).is_some_and(|(s, _)| *s == serial) {
                let (_, rec) = self.open.remove(&key)?;
                self.bytes -= rec.message.len();
                return Some(rec);
            }
        }
        None
    }

    /// The end of the input: every session still waiting is unpaired, in
    /// the order their allow records came.
    pub(crate) fn finish(mut self, done: &mut impl FnMut(Session)) {
        while let Some(rec) = self.pop_oldest() {
            done(Session::One(rec));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: Kind, line: u64) -> Rec {
        Rec {
            time: Stamp(line as i64 * 1_000_000),
            host: "h".into(),
            file: 0,
            line,
            pid: 1,
            kind,
            message: format!("m{line}"),
        }
    }

    fn lines(s: &Session) -> (Option<u64>, Option<u64>) {
        (s.first().map(|r| r.line), s.exit().map(|r| r.line))
    }

    #[test]
    fn allows_pair_with_exits_by_host_and_sid() {
        let mut p = Pairing::default();
        let mut out = Vec::new();
        let mut done = |s: Session| out.push(lines(&s));
        p.add(rec(Kind::Allow, 1), "a", &mut done).unwrap();
        p.add(rec(Kind::Allow, 2), "b", &mut done).unwrap();
        p.add(rec(Kind::Deny, 3), "c", &mut done).unwrap();
        p.add(rec(Kind::Exit, 4), "b", &mut done).unwrap();
        p.add(rec(Kind::Exit, 5), "z", &mut done).unwrap();
        assert_eq!(
            p.add(rec(Kind::Allow, 6), "a", &mut done),
            Err("a second allow record for a session")
        );
        let mut other = rec(Kind::Exit, 7);
        other.host = "elsewhere".into();
        p.add(other, "a", &mut done).unwrap();
        p.add(rec(Kind::List, 8), "d", &mut done).unwrap();
        p.add(rec(Kind::Error, 9), "e", &mut done).unwrap();
        p.finish(&mut done);
        assert_eq!(
            out,
            [
                (Some(3), None),
                (Some(2), Some(4)),
                (None, Some(5)),
                (None, Some(7)),
                (Some(8), None),
                (Some(9), None),
                (Some(1), None),
            ]
        );
    }

    #[test]
    fn waiting_sessions_are_bounded() {
        let mut p = Pairing::default();
        let mut evicted = Vec::new();
        let mut done = |s: Session| evicted.push(lines(&s));
        for i in 0..(MAX_OPEN as u64 + 3) {
            p.add(rec(Kind::Allow, i), &i.to_string(), &mut done)
                .unwrap();
            if i % 2 == 1 && i > 10 {
                p.add(rec(Kind::Exit, i), &i.to_string(), &mut done)
                    .unwrap();
            }
        }
        assert!(p.open.len() <= MAX_OPEN);
        assert!(p.order.len() <= 2 * MAX_OPEN + 1024);
        let gone: Vec<_> = evicted.iter().filter(|s| s.1.is_none()).collect();
        assert!(gone.is_empty(), "{gone:?}");
        // One too many, all waiting: the oldest goes first.
        let mut p = Pairing::default();
        let mut first = Vec::new();
        let mut done = |s: Session| first.push(lines(&s));
        for i in 0..(MAX_OPEN as u64 + 2) {
            p.add(rec(Kind::Allow, i), &i.to_string(), &mut done)
                .unwrap();
        }
        assert_eq!(first, [(Some(0), None), (Some(1), None)]);
        assert_eq!(p.evicted, 2);
        let mut p = Pairing::default();
        let mut big = rec(Kind::Allow, 1);
        big.message = "x".repeat(MAX_OPEN_BYTES);
        let mut n = 0;
        p.add(big, "a", &mut |_| n += 1).unwrap();
        p.add(rec(Kind::Allow, 2), "b", &mut |_| n += 1).unwrap();
        assert_eq!((n, p.open.len()), (1, 1));
    }
}
