//! Arbitrary bytes as ADT Twin.Update notifications: never a panic.
//!
//! The check is in `fuzz/checks/ingest_adt.rs`, shared with the seed regression test.
#![no_main]

#[path = "../checks/ingest_adt.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
