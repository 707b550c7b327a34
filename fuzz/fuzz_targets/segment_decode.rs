//! Arbitrary bytes through the cold tier's decoders: the manifest, the twin directory parser and every
//! block decoder (timestamps, integers, doubles, strings, column blocks of each type). Each
//! must return a value or an error, never panic or allocate without bound.
//!
//! The check is in `fuzz/checks/segment_decode.rs`, shared with the seed regression test.
#![no_main]

#[path = "../checks/segment_decode.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
