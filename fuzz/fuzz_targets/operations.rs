//! The whole store against a naive model, on operations read from the fuzz input: writes of
//! every value type (duplicate and out-of-order times, removals), flushes, compactions,
//! range and twin deletions, reopens, and queries (raw events, latest state, state at an
//! instant, bucketed counts and sums, TSI JSON). Any disagreement or panic is a finding.
//!
//! The check is in `fuzz/checks/operations.rs`, shared with the seed regression test.
#![no_main]

#[path = "../checks/operations.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
