//! The event trace: every processed event becomes one line, hashed (FNV-1a 64) so two runs
//! of a seed can be compared byte for byte; the last lines are kept for failure reports.
//! Also the simulated clock that `tracing` output is stamped with.

use std::cell::Cell;
use std::collections::VecDeque;

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
    recent: VecDeque<(u64, Line)>,
    keep: usize,
}

/// A kept line; peer deliveries (most lines) are formatted only when shown.
#[derive(Debug)]
enum Line {
    Text(String),
    Deliver(u64, u64, &'static str),
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Trace {
    /// A trace keeping the last `keep` lines.
    pub fn new(keep: usize) -> Trace {
        Trace {
            hash: FNV_OFFSET,
            lines: 0,
            recent: VecDeque::with_capacity(keep),
            keep,
        }
    }

    /// Mixes one number into the hash (every event's time, sequence number and kind).
    pub fn mix(&mut self, x: u64) {
        for b in x.to_le_bytes() {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
    }

    /// Records one readable line at simulated time `at_ns`.
    pub fn line(&mut self, at_ns: u64, line: String) {
        self.mix(at_ns);
        self.bytes(line.as_bytes());
        self.bytes(b"\n");
        self.keep_line(at_ns, Line::Text(line));
    }

    /// Records the line `deliver {from}->{to} {name}` without formatting it (hashing the
    /// same bytes as [`Trace::line`] would).
    pub fn deliver(&mut self, at_ns: u64, from: u64, to: u64, name: &'static str) {
        self.mix(at_ns);
        self.bytes(b"deliver ");
        self.decimal(from);
        self.bytes(b"->");
        self.decimal(to);
        self.bytes(b" ");
        self.bytes(name.as_bytes());
        self.bytes(b"\n");
        self.keep_line(at_ns, Line::Deliver(from, to, name));
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.hash ^= u64::from(*b);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
    }

    fn decimal(&mut self, x: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut x = x;
        loop {
            i -= 1;
            buf[i] = b'0' + (x % 10) as u8;
            x /= 10;
            if x == 0 {
                break;
            }
        }
        self.bytes(&buf[i..]);
    }

    fn keep_line(&mut self, at_ns: u64, line: Line) {
        self.lines += 1;
        if self.keep > 0 {
            if self.recent.len() == self.keep {
                self.recent.pop_front();
            }
            self.recent.push_back((at_ns, line));
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
        self.recent
            .iter()
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

    #[test]
    fn deliver_hashes_like_the_formatted_line() {
        let mut a = Trace::new(4);
        let mut b = Trace::new(4);
        a.line(7, "deliver 3->12 Proposal".to_string());
        b.deliver(7, 3, 12, "Proposal");
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.recent(), b.recent());
    }
}
