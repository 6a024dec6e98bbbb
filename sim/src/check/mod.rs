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
pub mod liveness;
pub mod monotonic_reads;
pub mod primary_order;
pub mod session_fifo;
pub mod watch_order;

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

pub(crate) fn fail(checker: &'static str, detail: String) -> CheckResult {
    Err(Violation { checker, detail })
}
