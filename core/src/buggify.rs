//! BUGGIFY-style fault points (FoundationDB's `BUGGIFY`): places where the core may take a
//! rarely taken but legal path — split a persist batch in two, send an extra heartbeat,
//! sync a learner by SNAP where a DIFF would do, skip a compaction snapshot, re-broadcast a
//! vote — so that the simulator exercises those paths far more often than real runs do.
//!
//! Compiled out of the real server: without the `buggify` cargo feature of `arbor-core`,
//! [`buggify!`] expands to `false` at compile time and neither [`Buggify`] nor
//! `Config::buggify` exist. The simulator enables the feature, and even a build that has it
//! takes none of these paths unless `Config::buggify` is set, which only the simulator
//! does (per run: the enabled sites and the firing probability are drawn from the seed).
//!
//! Draws come from a ChaCha stream of their own (seeded from `Config::seed`), so enabling
//! sites never shifts the replica's other random choices.

/// A fault point. Each must only ever select a path the protocol allows anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Site {
    /// A step's persist batch leaves as two `Persist` outputs (two fsyncs); the actions
    /// waiting on the batch wait for the second.
    SplitPersistBatch,
    /// Leader: one more PING to a learner on a heartbeat.
    ExtraPing,
    /// Leader: synchronize a learner by SNAP although DIFF / TRUNC would do.
    ForceSnap,
    /// Skip a due compaction snapshot this time (it is retried at the next apply).
    SkipSnapshot,
    /// LOOKING: re-broadcast our vote twice on the election timer.
    ExtraVote,
}

impl Site {
    /// Every site, in [`Site::index`] order.
    pub const ALL: [Site; 5] = [
        Site::SplitPersistBatch,
        Site::ExtraPing,
        Site::ForceSnap,
        Site::SkipSnapshot,
        Site::ExtraVote,
    ];

    /// The site's kebab-case name (reports).
    pub fn name(self) -> &'static str {
        match self {
            Site::SplitPersistBatch => "split-persist-batch",
            Site::ExtraPing => "extra-ping",
            Site::ForceSnap => "force-snap",
            Site::SkipSnapshot => "skip-snapshot",
            Site::ExtraVote => "extra-vote",
        }
    }

    /// Position in [`Site::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which fault points are on for a run and how often they fire.
#[cfg(feature = "buggify")]
#[derive(Clone, Debug, PartialEq)]
pub struct Buggify {
    /// Enabled sites, indexed by [`Site::index`].
    pub enabled: [bool; Site::ALL.len()],
    /// Probability that an enabled site fires each time it is reached.
    pub fire_prob: f64,
}

/// Per-replica state: the configuration, the own random stream and the firing counts.
#[cfg(feature = "buggify")]
#[derive(Debug)]
pub(crate) struct State {
    cfg: Option<Buggify>,
    rng: rand_chacha::ChaCha8Rng,
    fired: [u64; Site::ALL.len()],
}

#[cfg(feature = "buggify")]
impl State {
    pub(crate) fn new(cfg: Option<Buggify>, seed: u64) -> State {
        use rand_core::SeedableRng;
        State {
            cfg,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xb0_99_1f_7e_5e_ed_00_01),
            fired: [0; Site::ALL.len()],
        }
    }

    /// Whether `site` fires now.
    pub(crate) fn fire(&mut self, site: Site) -> bool {
        use rand_core::RngCore;
        let Some(c) = &self.cfg else {
            return false;
        };
        if !c.enabled[site.index()] || c.fire_prob <= 0.0 {
            return false;
        }
        // A uniform draw in [0, 1) from 53 random bits.
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let fire = u < c.fire_prob;
        if fire {
            self.fired[site.index()] += 1;
            tracing::debug!(site = site.name(), "buggify");
        }
        fire
    }

    pub(crate) fn fired(&self) -> [u64; Site::ALL.len()] {
        self.fired
    }
}

/// `buggify!(self, Site::X)`: whether the fault point fires (always `false`, at compile
/// time, without the `buggify` feature).
macro_rules! buggify {
    ($r:expr, $site:expr) => {{
        #[cfg(feature = "buggify")]
        let fire = $r.buggify.fire($site);
        #[cfg(not(feature = "buggify"))]
        let fire = {
            let _ = $site;
            false
        };
        fire
    }};
}
pub(crate) use buggify;
