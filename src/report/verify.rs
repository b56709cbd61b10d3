//! `nsgate log --verify`: each host's records must go on `seq` by one, each
//! `chain` following from the one before (nsgate(8) AUDIT). A gap is
//! records deleted, a `chain` that does not follow is a record altered (this
//! one or the one before), a `seq` that goes back is records reordered or
//! repeated, a record without `seq` and `chain` cannot be trusted.
//!
//! The first record of a host in the input is taken as it is (the log may
//! begin after a rotation) unless it is `seq=1`, whose `chain` must follow
//! from 64 zeros. A `seq=1` later on is a new chain (the state was removed)
//! and is reported too.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use super::record::Chained;
use crate::audit::{chain_value, Link, GENESIS};

/// Where a host's chain stands.
#[derive(Debug)]
struct Last {
    seq: u64,
    chain: String,
    first: u64,
    records: u64,
}

/// The chains of every host seen so far, and what was wrong with them.
#[derive(Debug, Default)]
pub(crate) struct Verifier {
    hosts: HashMap<String, Last>,
    /// Host names in the order they were first seen, for the summary.
    order: Vec<String>,
    pub problems: u64,
}

impl Verifier {
    /// Checks one record of `host`; a problem is returned to be reported
    /// with the record's place.
    pub(crate) fn add(&mut self, host: &str, chained: Option<Chained<'_>>) -> Option<String> {
        let problem = self.check(host, chained);
        self.problems += u64::from(problem.is_some());
        problem
    }

    fn check(&mut self, host: &str, chained: Option<Chained<'_>>) -> Option<String> {
        let Some(c) = chained else {
            return Some("record without seq and chain".into());
        };
        let follows = |prev: &str| chain_value(prev, c.text) == c.chain;
        let Some(last) = self.hosts.get_mut(host) else {
            self.order.push(host.to_string());
            self.hosts.insert(
                host.to_string(),
                Last {
                    seq: c.seq,
                    chain: c.chain.to_string(),
                    first: c.seq,
                    records: 1,
                },
            );
            return (c.seq == 1 && !follows(GENESIS))
                .then(|| format!("chain of seq=1 on {host} does not start from zeros (altered)"));
        };
        let was = std::mem::replace(
            last,
            Last {
                seq: c.seq,
                chain: c.chain.to_string(),
                first: last.first,
                records: last.records + 1,
            },
        );
        let expected = was.seq.saturating_add(1);
        if c.seq == expected {
            return (!follows(&was.chain)).then(|| {
                format!(
                    "chain breaks at seq={} on {host}: this record or the one before was altered",
                    c.seq
                )
            });
        }
        if c.seq > expected {
            let missing = c.seq - expected;
            let range = match missing {
                1 => format!("seq={expected}"),
                _ => format!("seq={expected}..{}", c.seq - 1),
            };
            return Some(format!(
                "{missing} record{} of {host} missing before this one ({range}: deleted)",
                if missing == 1 { "" } else { "s" }
            ));
        }
        if c.seq == 1 && follows(GENESIS) {
            last.first = 1;
            return Some(format!(
                "chain of {host} starts again at seq=1 after seq={} (audit state removed?)",
                was.seq
            ));
        }
        Some(format!(
            "seq={} of {host} after seq={} (reordered or repeated)",
            c.seq, was.seq
        ))
    }

    /// Compares `host`'s last record with the state nsgate keeps: a state
    /// ahead of the log is records cut off the end.
    pub(crate) fn against_state(&mut self, host: &str, state: &Link) -> String {
        let Some(last) = self.hosts.get(host) else {
            self.problems += 1;
            return format!(
                "no records of {host} to compare with its state seq={}",
                state.seq
            );
        };
        let verdict = if last.seq == state.seq && last.chain == state.chain {
            return format!(
                "last record of {host} is the one the state holds (seq={})",
                state.seq
            );
        } else if last.seq < state.seq {
            format!(
                "{} record(s) of {host} missing at the end: the log stops at seq={}, the state is at seq={}",
                state.seq - last.seq,
                last.seq,
                state.seq
            )
        } else if last.seq == state.seq {
            format!(
                "last record of {host} (seq={}) is not the one the state holds (altered)",
                last.seq
            )
        } else {
            format!(
                "the log of {host} goes on to seq={} past the state's seq={}",
                last.seq, state.seq
            )
        };
        self.problems += 1;
        verdict
    }

    /// One line per host: the range of `seq` seen and how many records.
    pub(crate) fn summary(&self) -> Vec<String> {
        self.order
            .iter()
            .filter_map(|h| self.hosts.get(h).map(|l| (h, l)))
            .map(|(h, l)| format!("{h}: {} records, seq={}..{}", l.records, l.first, l.seq))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MESSAGE texts and chain values of `n` records of one chain.
    fn chain(n: u64) -> Vec<(u64, String, String)> {
        let mut link = Link::genesis();
        (1..=n)
            .map(|seq| {
                let text = format!("v=1 sid=x{seq} seq={seq}");
                let c = chain_value(&link.chain, &text);
                link = Link {
                    seq,
                    chain: c.clone(),
                };
                (seq, text, c)
            })
            .collect()
    }

    fn run(records: &[(u64, String, String)]) -> Vec<String> {
        let mut v = Verifier::default();
        records
            .iter()
            .filter_map(|(seq, text, c)| {
                v.add(
                    "h",
                    Some(Chained {
                        seq: *seq,
                        text,
                        chain: c,
                    }),
                )
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_passes() {
        let c = chain(5);
        assert!(run(&c).is_empty());
        // A log that begins after a rotation.
        assert!(run(&c[2..]).is_empty());
        let mut v = Verifier::default();
        for (seq, text, ch) in &c {
            v.add(
                "h",
                Some(Chained {
                    seq: *seq,
                    text,
                    chain: ch,
                }),
            );
        }
        assert_eq!(v.summary(), ["h: 5 records, seq=1..5"]);
        let state = Link {
            seq: 5,
            chain: c[4].2.clone(),
        };
        assert!(v
            .against_state("h", &state)
            .contains("is the one the state holds"));
        let ahead = Link {
            seq: 7,
            chain: c[4].2.clone(),
        };
        assert!(v
            .against_state("h", &ahead)
            .contains("2 record(s) of h missing at the end"));
        assert_eq!(v.problems, 1);
    }

    #[test]
    fn deleted_altered_and_reordered_records_are_named() {
        let c = chain(6);
        let mut deleted = c.clone();
        deleted.remove(2);
        assert_eq!(
            run(&deleted),
            ["1 record of h missing before this one (seq=3: deleted)"]
        );
        deleted.remove(2);
        assert!(run(&deleted)[0].contains("2 records of h missing before this one (seq=3..4"));
        let mut altered = c.clone();
        altered[2].1 = altered[2].1.replace("x3", "x9");
        assert_eq!(
            run(&altered),
            ["chain breaks at seq=3 on h: this record or the one before was altered"]
        );
        let mut swapped = c.clone();
        swapped.swap(2, 3);
        let found = run(&swapped);
        assert!(
            found[0].contains("missing before this one (seq=3"),
            "{found:?}"
        );
        assert!(
            found[1].contains("seq=3 of h after seq=4 (reordered"),
            "{found:?}"
        );
        let mut restarted = c.clone();
        restarted.extend(chain(2));
        assert!(run(&restarted)[0].contains("starts again at seq=1 after seq=6"));
        let mut forged = c.clone();
        forged[0].2 = "0".repeat(64);
        assert!(run(&forged)[0].contains("does not start from zeros"));
        let mut v = Verifier::default();
        assert_eq!(
            v.add("h", None).as_deref(),
            Some("record without seq and chain")
        );
    }
}
