//! Arbitrary bytes as a store's MANIFEST (half of them behind a valid header and checksum,
//! so the fuzzer reaches the body parser): opening the store never panics; it opens, or fails
//! with an error naming the manifest, and whatever opens answers queries and `verify`: a
//! query (and the twin list) either answers or fails with `Error::Corruption` naming a file
//! (a segment the manifest lists but that is not there), and `verify` then reports a problem.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/manifest_load.rs` and the seed regression
//! test `tests/fuzz_seeds.rs`.

use twinstore::{Durability, Error, EventsQuery, Options, Store};

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
    let dir = tempfile::tempdir().expect("a temporary directory for the store");
    let rest = data.get(1..).unwrap_or_default();
    let bytes = if data.first().is_some_and(|b| b & 1 == 0) {
        framed(rest)
    } else {
        rest.to_vec()
    };
    std::fs::write(dir.path().join("MANIFEST"), &bytes).expect("write the MANIFEST");
    let options = Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false);
    match Store::open(dir.path(), options) {
        Ok(store) => {
            let mut damaged = Vec::new();
            // Listing twins reads every file's directory, so a missing file fails it too.
            let twins = match store.twins() {
                Ok(twins) => twins,
                Err(Error::Corruption { path, .. }) => {
                    damaged.push(path);
                    Vec::new()
                }
                Err(e) => panic!("listing twins failed other than as corruption: {e}"),
            };
            for twin in twins {
                let latest = store.latest(&twin.id).map(|_| ());
                let events = store.events(&EventsQuery::new(twin.id.as_str())).map(|_| ());
                for result in [latest, events] {
                    match result {
                        Ok(()) => {}
                        Err(Error::Corruption { path, .. }) => damaged.push(path),
                        Err(e) => panic!("a query of {:?} failed other than as corruption: {e}", twin.id),
                    }
                }
            }
            let report = store.verify().expect("verify answers");
            assert!(
                damaged.is_empty() || !report.is_ok(),
                "queries failed on {damaged:?} but verify found nothing"
            );
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
