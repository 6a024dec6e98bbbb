//! Cross-replica and client-visible properties, one file per property (STYLE §5). Each
//! checker is a plain struct fed observations by the world after every event; each returns
//! a [`Violation`] naming itself when its statement fails. Checkers take plain values, so
//! tests can feed them fabricated violating histories.

pub mod agreement;
pub mod digest;
pub mod durability;
pub mod ephemerals;
pub mod epochs;
pub mod integrity;
pub mod leadership;
pub mod linearizability;
pub mod liveness;
pub mod monotonic_reads;
pub mod primary_order;
pub mod session_fifo;
pub mod watch_order;

/// Checker names, in the order of [`crate::Report::exercised`].
pub const NAMES: [&str; 13] = [
    "agreement",
    "digest",
    "durability",
    "ephemerals",
    "epochs",
    "integrity",
    "leadership",
    "linearizability",
    "liveness",
    "monotonic_reads",
    "primary_order",
    "session_fifo",
    "watch_order",
];
/// Index of `agreement` in [`NAMES`].
pub const AGREEMENT: usize = 0;
/// Index of `digest` in [`NAMES`].
pub const DIGEST: usize = 1;
/// Index of `durability` in [`NAMES`].
pub const DURABILITY: usize = 2;
/// Index of `ephemerals` in [`NAMES`].
pub const EPHEMERALS: usize = 3;
/// Index of `epochs` in [`NAMES`].
pub const EPOCHS: usize = 4;
/// Index of `integrity` in [`NAMES`].
pub const INTEGRITY: usize = 5;
/// Index of `leadership` in [`NAMES`].
pub const LEADERSHIP: usize = 6;
/// Index of `linearizability` in [`NAMES`].
pub const LINEARIZABILITY: usize = 7;
/// Index of `liveness` in [`NAMES`].
pub const LIVENESS: usize = 8;
/// Index of `monotonic_reads` in [`NAMES`].
pub const MONOTONIC_READS: usize = 9;
/// Index of `primary_order` in [`NAMES`].
pub const PRIMARY_ORDER: usize = 10;
/// Index of `session_fifo` in [`NAMES`].
pub const SESSION_FIFO: usize = 11;
/// Index of `watch_order` in [`NAMES`].
pub const WATCH_ORDER: usize = 12;

/// A property that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The checker (file name under `check/`), or `core-assert` for a core panic.
    pub checker: &'static str,
    /// What exactly failed.
    pub detail: String,
}

/// The result of one observation.
pub type CheckResult = Result<(), Violation>;

pub(crate) fn fail<T>(checker: &'static str, detail: String) -> Result<T, Violation> {
    Err(Violation { checker, detail })
}
