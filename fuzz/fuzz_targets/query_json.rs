//! Arbitrary bytes as a TSI query body against a small store (warm and cold data): the
//! answer is JSON or an error, never a panic, a hang or a memory blow-up.
//!
//! The check is in `fuzz/checks/query_json.rs`, shared with the seed regression test.
#![no_main]

#[path = "../checks/query_json.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
