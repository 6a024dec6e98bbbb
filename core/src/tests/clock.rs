//! The driver's monotonic clock stepping backwards or forwards (a broken clock source, a
//! VM pause): never a panic, no timer fired early, remaining durations kept.

use super::harness::{config, TICK_NS};
use crate::replica::{Input, Output, Replica};
use crate::types::{Nanos, WallMillis};
use crate::zab::PeerMessage;

const S: u64 = 1_000_000_000;

/// Feeds a tick at `now`; returns how many vote notifications went out.
fn tick(r: &mut Replica, now: u64) -> usize {
    r.handle(Nanos(now), WallMillis(1_000), Input::Tick);
    let mut votes = 0;
    while let Some(o) = r.poll_output() {
        if let Output::Send {
            msg: PeerMessage::Notification { .. },
            ..
        } = o
        {
            votes += 1;
        }
    }
    votes
}

#[test]
fn backward_clock_step_is_no_elapsed_time() {
    let mut r = Replica::new(config(0, 3));
    while r.poll_output().is_some() {}
    // LOOKING: the vote is re-broadcast every tick.
    assert_eq!(tick(&mut r, 100 * S), 2, "the due election timer fires");
    let d = r.next_deadline().expect("election timer armed");
    assert_eq!(d, Nanos(100 * S + TICK_NS));
    // The next reading is 90 s earlier: the core cannot tell how much time passed since
    // its last input, so it counts none.
    let back_at = 10 * S;
    assert_eq!(
        tick(&mut r, back_at),
        0,
        "nothing is due after a backward step"
    );
    assert_eq!(r.counters().clock_steps_back, 1);
    // The remaining tick is kept, in the driver's new clock.
    let d2 = r.next_deadline().expect("still armed");
    assert_eq!(d2, Nanos(back_at + TICK_NS));
    assert_eq!(tick(&mut r, d2.0 - 1), 0, "not due one ns early");
    assert_eq!(
        tick(&mut r, d2.0),
        2,
        "due exactly when the remaining time elapsed"
    );
    assert_eq!(r.next_deadline(), Some(Nanos(d2.0 + TICK_NS)));
    // A second backward step accumulates.
    assert_eq!(tick(&mut r, S), 0);
    assert_eq!(r.counters().clock_steps_back, 2);
    assert_eq!(r.next_deadline(), Some(Nanos(S + TICK_NS)));
    r.check_invariants();
}

#[test]
fn forward_clock_step_fires_due_timers_at_once() {
    let mut r = Replica::new(config(0, 3));
    while r.poll_output().is_some() {}
    tick(&mut r, S);
    // A VM pause: the clock leaps 30 s; the overdue timer fires once, not 300 times.
    assert_eq!(tick(&mut r, 31 * S), 2);
    assert_eq!(r.next_deadline(), Some(Nanos(31 * S + TICK_NS)));
    assert_eq!(r.counters().clock_steps_back, 0);
}
