//! Arbitrary bytes as a store's MANIFEST (half of them behind a valid header and checksum,
//! so the fuzzer reaches the body parser): opening the store never panics; it opens, or fails
//! with an error naming the manifest, and whatever opens answers queries and `verify`.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/manifest_load.rs` and the seed regression
//! test `tests/fuzz_seeds.rs`.

use twinstore::{Durability, Options, Store};

/// `body` behind a version-1 manifest header (docs/FORMAT.md, "Manifest").
fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = b"TWINMAN\0".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let rest = data.get(1..).unwrap_or_default();
    let bytes = if data.first().is_some_and(|b| b & 1 == 0) {
        framed(rest)
    } else {
        rest.to_vec()
    };
    if std::fs::write(dir.path().join("MANIFEST"), &bytes).is_err() {
        return;
    }
    let options = Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false);
    match Store::open(dir.path(), options) {
        Ok(store) => {
            for twin in store.twins().unwrap_or_default() {
                let _ = store.latest(&twin.id);
                let _ = store.events(&twinstore::EventsQuery::new(twin.id.as_str()));
            }
            let _ = store.verify();
        }
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains("MANIFEST") || text.contains(".seg") || text.contains("cold"),
                "an open refused by the manifest must name a file: {text}"
            );
        }
    }
}
