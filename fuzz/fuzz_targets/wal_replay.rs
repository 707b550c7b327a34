//! Arbitrary bytes as a WAL segment (after a valid header): opening the store never panics;
//! it either recovers (cutting a torn tail) or reports corruption.
//!
//! The check is in `fuzz/checks/wal_replay.rs`, shared with the seed regression test.
#![no_main]

#[path = "../checks/wal_replay.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
