//! Arbitrary bytes as a TSI query body against a small store (warm and cold data): the
//! answer is JSON or an error, never a panic, a hang or a memory blow-up.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/query_json.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

use std::sync::OnceLock;

use twinstore::{Durability, Options, Store};

const DATA: &str = r#"
{"$dtId":"t1","$ts":"2026-01-01T00:00:00Z","Temperature":10.0,"Mode":"heat","n":1}
{"$dtId":"t1","$ts":"2026-01-01T00:00:30Z","Temperature":20.0,"On":true}
{"$dtId":"t1","$ts":"2026-01-01T00:01:00Z","Temperature":30,"Mode":null,"Zones":[1,2]}
{"$dtId":"t2","$ts":"2026-01-01T00:00:10Z","Temperature":100.0,"When":"2026-01-01T00:00:00Z"}
"#;

const LATE: &str = r#"
{"$dtId":"t1","$ts":"2026-01-01T00:00:15Z","Temperature":15.0,"Mode":"cool"}
{"$dtId":"t3","$ts":"2026-01-01T00:02:00Z","Temperature":-1.5}
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
}

fn store() -> Option<&'static Store> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let dir = tempfile::tempdir().ok()?;
            let options = Options::default()
                .durability(Durability::NoSync)
                .background_maintenance(false);
            let store = Store::open(dir.path(), options).ok()?;
            store.ingest_ndjson(DATA.as_bytes()).ok()?;
            store.flush().ok()?;
            store.ingest_ndjson(LATE.as_bytes()).ok()?;
            Some(Fixture { _dir: dir, store })
        })
        .as_ref()
        .map(|f| &f.store)
}

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    let Some(store) = store() else { return };
    if let Ok(response) = store.query_json(data) {
        // Whatever is answered serializes.
        let _ = serde_json::to_vec(&response);
    }
}
