//! Core protocol tests: an in-crate harness (`harness`) wiring N replicas with a manual
//! clock, and tests asserting exact output sequences.

mod clients;
mod clock;
mod damage;
mod ensemble;
mod harness;
mod hostile;
mod random;
mod standalone;
mod throttle;
mod watches;
mod zab;
