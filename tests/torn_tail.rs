//! A crash in the middle of a WAL append leaves a torn tail that recovery detects by length
//! or checksum and drops, keeping every complete frame; damage before the last segment is
//! reported as corruption with the file, never silently skipped.

use std::path::{Path, PathBuf};

use twinstore::{Error, EventsQuery, Options, Record, Store, Timestamp};

fn record(n: i64) -> Record {
    Record::new("t", Timestamp::from_millis(1_000 * n).expect("time")).with("n", n)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

fn numbers(store: &Store) -> Vec<i64> {
    match store.events(&EventsQuery::new("t")) {
        Ok(events) => events
            .iter()
            .map(|e| match e.values[0].1 {
                twinstore::Value::Long(n) => n,
                ref other => panic!("unexpected {other:?}"),
            })
            .collect(),
        Err(Error::UnknownTwin(_)) => Vec::new(),
        Err(e) => panic!("{e}"),
    }
}

/// Writes records 0..3 as three calls (three frames) in one segment; returns the segment and
/// the byte offset where the last frame starts.
fn three_frames(dir: &Path) -> (PathBuf, u64) {
    let store = Store::open(dir, Options::default()).expect("open");
    store.write(&[record(0)]).expect("write");
    store.write(&[record(1)]).expect("write");
    let before_last = std::fs::metadata(&segments(dir)[0]).expect("segment").len();
    store.write(&[record(2)]).expect("write");
    drop(store);
    (segments(dir)[0].clone(), before_last)
}

#[test]
fn every_cut_inside_the_last_frame_drops_only_that_frame() {
    let template = tempfile::tempdir().expect("temp dir");
    let (segment, last_start) = three_frames(template.path());
    let full = std::fs::read(&segment).expect("read");
    for cut in last_start..full.len() as u64 {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("wal")).expect("wal dir");
        let name = segment.file_name().expect("file name");
        std::fs::write(dir.path().join("wal").join(name), &full[..cut as usize]).expect("write");
        let store = Store::open(dir.path(), Options::default()).expect("a torn tail is not an error");
        assert_eq!(numbers(&store), vec![0, 1], "cut at {cut}");
        // New writes after the recovery are kept across another reopen.
        store.write(&[record(3)]).expect("write after recovery");
        drop(store);
        let store = Store::open(dir.path(), Options::default()).expect("reopen");
        assert_eq!(numbers(&store), vec![0, 1, 3], "cut at {cut}, after a new write");
    }
}

#[test]
fn a_flipped_byte_in_the_last_frame_drops_that_frame() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (segment, last_start) = three_frames(dir.path());
    let mut bytes = std::fs::read(&segment).expect("read");
    let at = (last_start as usize + bytes.len()) / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&segment, bytes).expect("write");
    let store = Store::open(dir.path(), Options::default()).expect("open");
    assert_eq!(numbers(&store), vec![0, 1]);
}

#[test]
fn damage_in_an_earlier_segment_is_corruption_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (segment, last_start) = three_frames(dir.path());
    // A second segment: each open that writes starts one.
    let store = Store::open(dir.path(), Options::default()).expect("open");
    store.write(&[record(9)]).expect("write");
    drop(store);
    assert_eq!(segments(dir.path()).len(), 2);
    let mut bytes = std::fs::read(&segment).expect("read");
    bytes[last_start as usize - 3] ^= 0x40;
    std::fs::write(&segment, bytes).expect("write");
    match Store::open(dir.path(), Options::default()) {
        Err(Error::Corruption { path, .. }) => assert_eq!(path, segment),
        Err(other) => panic!("expected corruption, got {other}"),
        Ok(_) => panic!("damage in an earlier segment must fail the open"),
    }
}

#[test]
fn a_second_handle_on_an_open_store_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = Store::open(dir.path(), Options::default()).expect("open");
    assert!(matches!(
        Store::open(dir.path(), Options::default()),
        Err(Error::Locked { .. })
    ));
}
