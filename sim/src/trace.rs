//! The event trace: every processed event becomes one line, hashed so two runs of a seed
//! can be compared; the last lines are kept for failure reports. The hash mixes 64-bit
//! words (an Fx-style rotate-xor-multiply), not bytes: it runs several times per event,
//! and byte-at-a-time FNV-1a cost ≈ 3 % of a run.
//! Also the simulated clock that `tracing` output is stamped with.

use std::cell::Cell;

use crate::fast_hash::{fold, words};

thread_local! {
    static SIM_TIME_NS: Cell<u64> = const { Cell::new(0) };
}

/// The simulated time of the event being processed on this thread (for log timestamps).
pub fn sim_time_ns() -> u64 {
    SIM_TIME_NS.with(|c| c.get())
}

pub(crate) fn set_sim_time_ns(t: u64) {
    SIM_TIME_NS.with(|c| c.set(t));
}

/// Trace hash and recent lines.
#[derive(Debug)]
pub struct Trace {
    hash: u64,
    lines: u64,
    /// The last `keep` lines as a ring: once full, `next` is the oldest, overwritten next.
    recent: Vec<(u64, Line)>,
    next: usize,
    keep: usize,
}

/// A kept line; peer deliveries (most lines) are formatted only when shown.
#[derive(Debug)]
enum Line {
    Text(String),
    Deliver(u64, u64, &'static str),
}

const SEED: u64 = 0xcbf2_9ce4_8422_2325;
/// Marks a delivery in the hash (deliveries are not formatted).
const DELIVER: u64 = 0xde11_7e7d;

impl Trace {
    /// A trace keeping the last `keep` lines.
    pub fn new(keep: usize) -> Trace {
        Trace {
            hash: SEED,
            lines: 0,
            recent: Vec::with_capacity(keep),
            next: 0,
            keep,
        }
    }

    /// Mixes one number into the hash (every event's time, sequence number and kind).
    pub fn mix(&mut self, x: u64) {
        self.hash = fold(self.hash, x);
    }

    /// Records one readable line at simulated time `at_ns`.
    pub fn line(&mut self, at_ns: u64, line: String) {
        self.mix(at_ns);
        self.bytes(line.as_bytes());
        self.keep_line(at_ns, Line::Text(line));
    }

    /// Records the line `deliver {from}->{to} {name}` without formatting it.
    pub fn deliver(&mut self, at_ns: u64, from: u64, to: u64, name: &'static str) {
        self.mix(at_ns);
        self.mix(DELIVER);
        self.mix(from << 32 | to);
        self.bytes(name.as_bytes());
        self.keep_line(at_ns, Line::Deliver(from, to, name));
    }

    /// Mixes bytes eight at a time, then their length (so "a" and "a\0" differ).
    fn bytes(&mut self, bytes: &[u8]) {
        words(bytes, |w| self.mix(w));
    }

    fn keep_line(&mut self, at_ns: u64, line: Line) {
        self.lines += 1;
        if self.recent.len() < self.keep {
            self.recent.push((at_ns, line));
        } else if self.keep > 0 {
            self.recent[self.next] = (at_ns, line);
            self.next = (self.next + 1) % self.keep;
        }
    }

    /// The hash of every line so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Number of lines.
    pub fn len(&self) -> u64 {
        self.lines
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The most recent lines, oldest first, stamped with simulated seconds.
    pub fn recent(&self) -> Vec<String> {
        let (newer, older) = self.recent.split_at(self.next);
        older
            .iter()
            .chain(newer)
            .map(|(t, l)| {
                let l = match l {
                    Line::Text(s) => s.clone(),
                    Line::Deliver(from, to, name) => format!("deliver {from}->{to} {name}"),
                };
                format!(
                    "{:>4}.{:06}s {l}",
                    t / 1_000_000_000,
                    (t / 1_000) % 1_000_000
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Trace;

    fn deliver(at: u64, from: u64, to: u64, name: &'static str) -> u64 {
        let mut t = Trace::new(4);
        t.deliver(at, from, to, name);
        t.hash()
    }

    fn line(at: u64, s: &str) -> u64 {
        let mut t = Trace::new(4);
        t.line(at, s.to_string());
        t.hash()
    }

    #[test]
    fn keeps_the_last_lines_oldest_first_across_wraps() {
        for keep in [0, 1, 3] {
            let mut t = Trace::new(keep);
            for i in 0..7u64 {
                t.line(i * 1_000_000_000, format!("l{i}"));
                let want: Vec<String> = (0..=i)
                    .skip((i + 1).saturating_sub(keep as u64) as usize)
                    .map(|j| format!("{j:>4}.000000s l{j}"))
                    .collect();
                assert_eq!(t.recent(), want, "keep {keep} after {i}");
            }
            assert_eq!(t.len(), 7);
        }
    }

    #[test]
    fn deliver_shows_as_the_formatted_line() {
        let mut a = Trace::new(4);
        let mut b = Trace::new(4);
        a.line(7, "deliver 3->12 Proposal".to_string());
        b.deliver(7, 3, 12, "Proposal");
        assert_eq!(a.recent(), b.recent());
    }

    #[test]
    fn every_part_of_a_line_changes_the_hash() {
        let base = deliver(7, 3, 12, "Proposal");
        assert_eq!(base, deliver(7, 3, 12, "Proposal"));
        assert_ne!(base, deliver(8, 3, 12, "Proposal"), "time");
        assert_ne!(base, deliver(7, 4, 12, "Proposal"), "from");
        assert_ne!(base, deliver(7, 3, 13, "Proposal"), "to");
        assert_ne!(base, deliver(7, 12, 3, "Proposal"), "direction");
        assert_ne!(base, deliver(7, 3, 12, "Commit"), "message");
        assert_ne!(line(1, "a"), line(1, "b"));
        assert_ne!(line(1, "a"), line(1, "a\0"), "length");
        assert_ne!(line(1, "abcdefgh"), line(1, "abcdefgi"), "first word");
        assert_ne!(line(1, "abcdefghX"), line(1, "abcdefghY"), "tail");
        assert_ne!(line(1, "x"), line(2, "x"), "time");
        let mut ab = Trace::new(0);
        ab.mix(1);
        ab.mix(2);
        let mut ba = Trace::new(0);
        ba.mix(2);
        ba.mix(1);
        assert_ne!(ab.hash(), ba.hash(), "order");
    }
}
