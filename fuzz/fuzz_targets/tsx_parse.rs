//! Arbitrary text as a TSX expression: parsing, printing, type-checking and evaluating never
//! panic, hang or exhaust memory; every text either parses or gets a positioned error, and the
//! printed form of a parsed expression parses back to the same expression.
//!
//! The check is in `fuzz/checks/tsx_parse.rs`, shared with the seed regression test.
#![no_main]

#[path = "../checks/tsx_parse.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
