//! Arbitrary text as a TSX expression: parsing, printing, type-checking and evaluating never
//! panic, hang or exhaust memory; every text either parses or gets a positioned error, and the
//! printed form of a parsed expression parses back to the same expression.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/tsx_parse.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    twinstore::tsx_fuzz::parse_and_check(&String::from_utf8_lossy(data));
}
