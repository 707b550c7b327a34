//! Arbitrary bytes as ADT Twin.Update notifications: never a panic.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/ingest_adt.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

use twinstore::{Durability, Options, Store};

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let Ok(store) = Store::open(
        dir.path(),
        Options::default()
            .durability(Durability::NoSync)
            .background_maintenance(false),
    ) else {
        return;
    };
    let _ = store.ingest_adt(data);
    let _ = store.ingest_adt_message(
        data,
        &[
            ("cloudEvents:subject", "twin"),
            ("cloudEvents:time", "2026-01-01T00:00:00Z"),
        ],
        None,
    );
    for twin in store.twins().unwrap_or_default() {
        let _ = store.latest(&twin.id);
    }
}
