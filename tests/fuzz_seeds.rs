//! The fuzz targets' seed corpora as regression tests: every input kept in
//! `fuzz/seeds/<target>/` (interesting inputs found by fuzzing, minimized with
//! `cargo fuzz cmin`, and every input that once crashed) runs through the same check the
//! fuzz target runs (`fuzz/checks/<target>.rs`), on every `cargo test`.

#[path = "../fuzz/checks/ingest_adt.rs"]
mod ingest_adt;
#[path = "../fuzz/checks/ingest_ndjson.rs"]
mod ingest_ndjson;
#[path = "../fuzz/checks/manifest_load.rs"]
mod manifest_load;
#[path = "../fuzz/checks/operations.rs"]
mod operations;
#[path = "../fuzz/checks/query_json.rs"]
mod query_json;
#[path = "../fuzz/checks/segment_decode.rs"]
mod segment_decode;
#[path = "../fuzz/checks/tsx_parse.rs"]
mod tsx_parse;
#[path = "../fuzz/checks/wal_replay.rs"]
mod wal_replay;

use std::path::Path;

/// Runs `check` on every seed of `target`; returns how many there were.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    seeds.sort();
    for seed in &seeds {
        let data = std::fs::read(seed).unwrap_or_else(|e| panic!("{}: {e}", seed.display()));
        // The seed's name in a failure message says which input broke.
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{target}: seed {} fails its check", seed.display());
    }
    assert!(!seeds.is_empty(), "{target}: no seeds in {}", dir.display());
    seeds.len()
}

#[test]
fn ingest_ndjson_seeds() {
    replay("ingest_ndjson", ingest_ndjson::run);
}

#[test]
fn ingest_adt_seeds() {
    replay("ingest_adt", ingest_adt::run);
}

#[test]
fn manifest_load_seeds() {
    replay("manifest_load", manifest_load::run);
}

#[test]
fn operations_seeds() {
    replay("operations", operations::run);
}

#[test]
fn query_json_seeds() {
    replay("query_json", query_json::run);
}

#[test]
fn segment_decode_seeds() {
    replay("segment_decode", segment_decode::run);
}

#[test]
fn tsx_parse_seeds() {
    replay("tsx_parse", tsx_parse::run);
}

#[test]
fn wal_replay_seeds() {
    replay("wal_replay", wal_replay::run);
}
