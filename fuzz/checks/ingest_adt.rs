//! Arbitrary bytes as ADT Twin.Update notifications (NDJSON lines, and one AMQP message
//! body): never a panic; ingesting never fails as a whole (bad events are reported, not
//! fatal); a message is written, skipped or rejected, exactly one of them; the store holds
//! exactly the records the reports count, every twin answers its latest state, and a
//! reopened store holds the same.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/ingest_adt.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

use twinstore::{Durability, Options, Store};

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary directory for the store");
    let options = Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false);
    let store = Store::open(dir.path(), options.clone()).expect("open an empty store");
    let lines = store
        .ingest_adt(data)
        .unwrap_or_else(|e| panic!("ingest_adt failed as a whole: {e}"));
    let message = store
        .ingest_adt_message(
            data,
            &[
                ("cloudEvents:subject", "twin"),
                ("cloudEvents:time", "2026-01-01T00:00:00Z"),
            ],
            None,
        )
        .unwrap_or_else(|e| panic!("ingest_adt_message failed as a whole: {e}"));
    assert_eq!(
        message.records + message.skipped + message.rejected.len() as u64,
        1,
        "one message is one record, skipped or rejected: {message:?}"
    );
    let before = store.stats();
    assert_eq!(before.records, lines.records + message.records, "records stored");
    assert_eq!(before.points, lines.points + message.points, "points stored");
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
