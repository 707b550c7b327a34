//! Arbitrary bytes as a TSI query body against a small store (warm and cold data): the
//! answer is JSON that serializes, or an error about the request (an invalid argument or an
//! unknown twin: the store itself is intact), never a panic, a hang or a memory blow-up.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/query_json.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

use std::sync::OnceLock;

use twinstore::{Durability, Error, Options, Store};

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

/// The store every input is asked, built once; a failure to build it fails the run.
fn store() -> &'static Store {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory for the store");
        let options = Options::default()
            .durability(Durability::NoSync)
            .background_maintenance(false);
        let store = Store::open(dir.path(), options).expect("open the fixture store");
        let report = store.ingest_ndjson(DATA.as_bytes()).expect("ingest the cold rows");
        assert_eq!((report.records, report.rejected.len()), (4, 0), "cold rows");
        store.flush().expect("flush the cold rows");
        let report = store.ingest_ndjson(LATE.as_bytes()).expect("ingest the warm rows");
        assert_eq!((report.records, report.rejected.len()), (2, 0), "warm rows");
        Fixture { _dir: dir, store }
    });
    &fixture.store
}

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    match store().query_json(data) {
        Ok(response) => {
            serde_json::to_vec(&response).expect("an answer serializes");
        }
        Err(Error::InvalidArgument(_) | Error::UnknownTwin(_)) => {}
        Err(e) => panic!("a query failed other than on its request: {e}"),
    }
}
