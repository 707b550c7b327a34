//! Arbitrary bytes as NDJSON flat records: never a panic; ingesting never fails as a whole;
//! every line is either stored or reported, every twin answers its latest state, and a
//! reopened store answers the same.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/ingest_ndjson.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

use twinstore::{Durability, Options, Store};

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary directory for the store");
    let options = Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false);
    let store = Store::open(dir.path(), options.clone()).expect("open an empty store");
    let report = store
        .ingest_ndjson(data)
        .unwrap_or_else(|e| panic!("ingest_ndjson failed as a whole: {e}"));
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
    assert_eq!(before.records, report.records, "records stored");
    for twin in store.twins().expect("twins") {
        store
            .latest(&twin.id)
            .unwrap_or_else(|e| panic!("latest of {:?}: {e}", twin.id));
    }
    drop(store);
    let reopened = Store::open(dir.path(), options).expect("reopen after ingest");
    let after = reopened.stats();
    assert_eq!((before.records, before.points), (after.records, after.points));
}
