//! Arbitrary bytes as ADT Twin.Update notifications: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinstore::{Durability, Options, Store};

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let Ok(store) = Store::open(dir.path(), Options::default().durability(Durability::NoSync).background_maintenance(false)) else { return };
    let _ = store.ingest_adt(data);
    let _ = store.ingest_adt_message(data, &[("cloudEvents:subject", "twin"), ("cloudEvents:time", "2026-01-01T00:00:00Z")], None);
    for twin in store.twins().unwrap_or_default() {
        let _ = store.latest(&twin.id);
    }
});
