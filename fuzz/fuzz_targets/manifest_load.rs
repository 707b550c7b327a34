//! Arbitrary bytes as a store's MANIFEST: opening never panics.
//!
//! The check is in `fuzz/checks/manifest_load.rs`, shared with the seed regression test.
#![no_main]

#[path = "../checks/manifest_load.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
