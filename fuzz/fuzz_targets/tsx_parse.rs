//! Arbitrary text as a TSX expression: parsing, printing, type-checking and evaluating never
//! panic, hang or exhaust memory; every text either parses or gets a positioned error, and the
//! printed form of a parsed expression parses back to the same expression.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    twinstore::tsx_fuzz::parse_and_check(&String::from_utf8_lossy(data));
});
