//! Arbitrary bytes as NDJSON flat records: never a panic; every line is either stored or
//! reported, and a reopened store answers the same.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/ingest_ndjson.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

use twinstore::{Durability, Options, Store};

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let options = Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false);
    let Ok(store) = Store::open(dir.path(), options.clone()) else {
        return;
    };
    let Ok(report) = store.ingest_ndjson(data) else { return };
    let lines = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count() as u64;
    assert_eq!(
        report.records + report.rejected.len() as u64,
        lines,
        "every line accounted for"
    );
    let before = store.stats();
    for twin in store.twins().unwrap_or_default() {
        let _ = store.latest(&twin.id);
    }
    drop(store);
    let reopened = Store::open(dir.path(), options).expect("reopen after ingest");
    let after = reopened.stats();
    assert_eq!((before.records, before.points), (after.records, after.points));
}
