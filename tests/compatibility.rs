//! Format compatibility: stores written by format version 1 open and read the same forever.
//!
//! `tests/fixtures/v1/` holds a store written by this version (two WAL segments) and a copy
//! with one flipped byte in the first segment. The clean store must replay to exactly the
//! records below; the damaged one must be refused with a corruption error naming the file.
//! Regenerate the files only for a new format version:
//! `cargo test --test compatibility -- --ignored write_golden_files`.

use std::path::{Path, PathBuf};

use twinstore::{Durability, Error, EventsQuery, Options, Record, Store, Timestamp, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

/// The records of the golden store, by segment.
fn golden_records() -> [Vec<Record>; 2] {
    let t = |s: &str| Timestamp::parse(s).expect("valid time");
    [
        vec![
            Record::new("thermostat67", t("2026-01-01T08:00:00.1234567Z"))
                .with("Temperature", 20.5)
                .with("Mode", "heat"),
            Record::new("room-12", t("2026-01-01T08:00:30Z"))
                .with("Occupied", true)
                .with("CO2", 455i64)
                .with("Front.Temperature", 19.25),
        ],
        vec![
            Record::new("thermostat67", t("2026-01-01T08:01:00.5Z")).with("Temperature", 21i64),
            Record::new("room-12", t("2026-01-01T08:04:00Z"))
                .with("Occupied", Value::Removed)
                .with("Since", Value::DateTime(t("2026-01-01T07:00:00Z")))
                .with("Zones", Value::Dynamic("[1,2,3]".into())),
        ],
    ]
}

/// Copies a fixture store to a temporary directory (opening a store may write to it).
fn copy_store(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let wal = dir.path().join("wal");
    std::fs::create_dir_all(&wal).expect("wal dir");
    for entry in std::fs::read_dir(fixtures().join(name).join("wal")).expect("fixture exists") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), wal.join(entry.file_name())).expect("copy");
    }
    dir
}

#[test]
fn version_1_store_replays_exactly() {
    let dir = copy_store("store");
    let store = Store::open(dir.path(), Options::default()).expect("golden store opens");
    let t = |s: &str| Timestamp::parse(s).expect("valid time");

    let thermostat = store.events(&EventsQuery::new("thermostat67")).expect("events");
    assert_eq!(thermostat.len(), 2);
    assert_eq!(thermostat[0].ts, t("2026-01-01T08:00:00.1234567Z"));
    assert_eq!(
        thermostat[0].values,
        vec![
            ("Temperature".into(), Value::Double(20.5)),
            ("Mode".into(), Value::String("heat".into()))
        ]
    );
    assert_eq!(thermostat[1].values, vec![("Temperature".into(), Value::Long(21))]);

    let room = store.events(&EventsQuery::new("room-12")).expect("events");
    assert_eq!(room.len(), 2);
    assert_eq!(
        room[1].values,
        vec![
            ("Occupied".into(), Value::Removed),
            ("Since".into(), Value::DateTime(t("2026-01-01T07:00:00Z"))),
            ("Zones".into(), Value::Dynamic("[1,2,3]".into())),
        ]
    );
    let latest = store.latest("room-12").expect("latest");
    assert_eq!(latest.get("Occupied"), None, "removed by the second segment");
    assert_eq!(latest.get("CO2"), Some(&Value::Long(455)));
    assert_eq!(store.stats().records, 4);
}

#[test]
fn version_1_store_with_a_flipped_byte_is_refused_with_the_file() {
    let dir = copy_store("store-corrupt");
    match Store::open(dir.path(), Options::default()) {
        Err(Error::Corruption { path, offset, .. }) => {
            assert!(path.ends_with("00000000000000000001.wal"), "{path:?}");
            assert!(offset >= 24, "damage is in a frame, not the header: {offset}");
        }
        Err(other) => panic!("expected corruption, got {other}"),
        Ok(_) => panic!("a damaged first segment must not open"),
    }
}

/// Writes the fixtures (run by hand, only when a new format version is introduced).
#[test]
#[ignore = "writes tests/fixtures/v1; run only to create fixtures for a new format version"]
fn write_golden_files() {
    let root = fixtures();
    let store_dir = root.join("store");
    let _ = std::fs::remove_dir_all(&root);
    for records in golden_records() {
        // Each open that writes starts a new segment.
        let store = Store::open(&store_dir, Options::default().durability(Durability::SyncEachWrite)).expect("open");
        store.write(&records).expect("write");
    }
    std::fs::remove_file(store_dir.join("LOCK")).expect("lock file");
    let corrupt = root.join("store-corrupt/wal");
    std::fs::create_dir_all(&corrupt).expect("dir");
    for entry in std::fs::read_dir(store_dir.join("wal")).expect("wal") {
        let entry = entry.expect("entry");
        let mut bytes = std::fs::read(entry.path()).expect("read");
        if entry.file_name() == "00000000000000000001.wal" {
            // A bit flip in the middle of the first segment's frame payload.
            let middle = 24 + (bytes.len() - 24) / 2;
            bytes[middle] ^= 0x10;
        }
        std::fs::write(corrupt.join(entry.file_name()), bytes).expect("write");
    }
}
