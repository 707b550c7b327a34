//! Arbitrary bytes as NDJSON flat records: never a panic; every line is either stored or
//! reported, and a reopened store answers the same.
//!
//! The check is in `fuzz/checks/ingest_ndjson.rs`, shared with the seed regression test.
#![no_main]

#[path = "../checks/ingest_ndjson.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
