//! docs/FORMAT.md's promise: a file of a format version this build does not know is refused
//! with `Error::UnsupportedVersion` naming the file, never guessed at.
//!
//! Each test takes a real version 1 file from `tests/fixtures/v1`, writes the first version
//! this build does not read into its version field (2 for the WAL and the manifest, 3 for
//! segment files, whose version 2 this build writes) and recomputes the checksums that cover the field, so that only the version
//! check can refuse it. A control without the checksum fix shows the checksum is checked too.

mod common;

use std::path::{Path, PathBuf};

use twinstore::{Error, EventsQuery, Options, Store};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

/// A copy of the fixture store `name` (every file under it) in a temporary directory.
fn copy_store(name: &str) -> tempfile::TempDir {
    common::copy_tree_to_temp(&fixtures().join(name))
}

/// Writes `version` at `at` of the file, then for each `(covered, crc_at)` the CRC-32C of
/// the covered bytes at `crc_at` (offsets from the end of the file when negative).
fn set_version(path: &Path, at: i64, version: u32, checksums: &[(std::ops::Range<i64>, i64)]) {
    let mut bytes = std::fs::read(path).expect("read");
    let len = bytes.len() as i64;
    let pos = |o: i64| if o < 0 { (len + o) as usize } else { o as usize };
    assert_eq!(
        bytes[pos(at)..pos(at) + 4],
        1u32.to_le_bytes(),
        "the fixture has version 1 at {at}"
    );
    bytes[pos(at)..pos(at) + 4].copy_from_slice(&version.to_le_bytes());
    for (covered, crc_at) in checksums {
        let crc = crc32c::crc32c(&bytes[pos(covered.start)..pos(covered.end)]);
        bytes[pos(*crc_at)..pos(*crc_at) + 4].copy_from_slice(&crc.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write");
}

/// `Store::open`'s error (the store does not implement `Debug`).
fn open_error(dir: &Path) -> Error {
    match Store::open(dir, Options::default().background_maintenance(false)) {
        Ok(_) => panic!("the store must not open"),
        Err(e) => e,
    }
}

/// `(found, supported)` of a WAL or manifest file one version newer than this build's.
const NEWER_LOG: (u32, u32) = (2, 1);
/// `(found, supported)` of a segment file one version newer than this build's (it writes
/// version 2, and reads 1 and 2).
const NEWER_SEGMENT: (u32, u32) = (3, 2);

fn assert_unsupported(error: Error, file: &Path, versions: (u32, u32)) {
    match error {
        Error::UnsupportedVersion { path, found, supported } => {
            assert_eq!(path, file, "the error names the file");
            assert_eq!((found, supported), versions);
        }
        other => panic!("expected UnsupportedVersion for {}, got {other}", file.display()),
    }
}

const WAL_TAIL: &str = "wal/00000000000000000004.wal";
const SEGMENT: &str = "cold/0000000000000005.seg";

/// WAL segment header: version at 8..12, CRC-32C of bytes 0..20 at 20.
fn newer_wal_segment(path: &Path) {
    set_version(path, 8, 2, &[(0..20, 20)]);
}

#[test]
fn newer_wal_segment_is_refused_and_left_alone() {
    // The last segment (a store's WAL tail, where damage would be cut off as a torn tail)
    // and a first segment followed by another: both are refused, neither is changed.
    for (store, segment) in [("store-full", WAL_TAIL), ("store", "wal/00000000000000000001.wal")] {
        let dir = copy_store(store);
        let path = dir.path().join(segment);
        newer_wal_segment(&path);
        let before = std::fs::read(&path).expect("read");
        assert_unsupported(open_error(dir.path()), &path, NEWER_LOG);
        assert_eq!(
            std::fs::read(&path).expect("read"),
            before,
            "a refused segment is not truncated"
        );
    }
}

#[test]
fn wal_segment_version_is_under_its_header_checksum() {
    let dir = copy_store("store-full");
    let path = dir.path().join(WAL_TAIL);
    set_version(&path, 8, 2, &[]);
    match open_error(dir.path()) {
        Error::Corruption { path: p, offset, .. } => assert_eq!((p, offset), (path, 20)),
        other => panic!("expected a header checksum mismatch, got {other}"),
    }
}

/// A frame has no version of its own (docs/FORMAT.md): its payload kind is read by its
/// segment's version, so an unknown kind in a version 1 segment is corruption at the frame.
#[test]
fn frame_of_unknown_payload_kind_is_corruption_at_the_frame() {
    let dir = copy_store("store-full");
    let path = dir.path().join(WAL_TAIL);
    let mut bytes = std::fs::read(&path).expect("read");
    // The first frame is at 24: length (4), CRC (4), sequence (8), then the payload's kind.
    let len = u32::from_le_bytes(bytes[24..28].try_into().expect("4 bytes")) as usize;
    assert_eq!(bytes[40], 1, "kind 1, a batch");
    bytes[40] = 2;
    let crc = crc32c::crc32c(&bytes[32..40 + len]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).expect("write");
    match open_error(dir.path()) {
        Error::Corruption {
            path: p,
            offset,
            reason,
        } => {
            assert_eq!((p, offset), (path, 24), "{reason}");
            assert!(reason.contains("kind 2"), "{reason}");
        }
        other => panic!("expected corruption at the frame, got {other}"),
    }
}

#[test]
fn newer_manifest_is_refused_and_the_store_left_alone() {
    let dir = copy_store("store-full");
    let path = dir.path().join("MANIFEST");
    // The manifest's checksum covers its body only: the version is checked before it.
    set_version(&path, 8, 2, &[]);
    let before = std::fs::read(&path).expect("read");
    assert_unsupported(open_error(dir.path()), &path, NEWER_LOG);
    assert_eq!(std::fs::read(&path).expect("read"), before);
    // Segment files a newer manifest may name are not taken for orphans and deleted.
    for file in [SEGMENT, "cold/0000000000000006.seg", WAL_TAIL] {
        assert!(dir.path().join(file).exists(), "{file} kept");
    }
}

/// Segment file: header version at 8 (CRC-32C of 0..12 at 12); trailer version at 16 of the
/// last 32 bytes (CRC-32C of the trailer's bytes 0..20 at 20). Both say 3, as a version 3
/// writer would write them.
fn newer_segment_file(path: &Path) {
    set_version(path, 8, 3, &[(0..12, 12)]);
    set_version(path, -32 + 16, 3, &[(-32..-12, -12)]);
}

#[test]
fn newer_segment_file_is_refused_by_every_read_that_needs_it() {
    let dir = copy_store("store-full");
    let path = dir.path().join(SEGMENT);
    newer_segment_file(&path);
    // A file the manifest names that cannot be opened does not stop the store from opening
    // (docs/FORMAT.md, "What a reader checks"); reads of it fail with the version error.
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("store opens");
    for twin in ["meter", "boiler"] {
        match store.events(&EventsQuery::new(twin)) {
            Ok(events) => panic!("{twin}: {} events read from a version 3 file", events.len()),
            Err(e) => assert_unsupported(e, &path, NEWER_SEGMENT),
        }
    }
    let report = store.verify().expect("verify runs");
    let problems: Vec<_> = report.problems.iter().filter(|p| p.path == path).collect();
    assert_eq!(problems.len(), 1, "{:?}", report.problems);
    assert!(
        problems[0].what.contains("unsupported format version 3"),
        "{:?}",
        problems[0]
    );
    drop(store);
    assert!(path.exists(), "a file of a newer version is not deleted");
}

#[test]
fn segment_file_version_is_under_its_header_checksum() {
    let dir = copy_store("store-full");
    let path = dir.path().join(SEGMENT);
    set_version(&path, 8, 2, &[]);
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("store opens");
    match store.events(&EventsQuery::new("meter")) {
        Err(Error::Corruption { path: p, offset, .. }) => assert_eq!((p, offset), (path, 12)),
        Err(other) => panic!("expected a header checksum mismatch, got {other}"),
        Ok(_) => panic!("a damaged file must not be read"),
    }
}

#[test]
fn segment_trailer_version_unlike_the_header_is_corruption() {
    let dir = copy_store("store-full");
    let path = dir.path().join(SEGMENT);
    let len = std::fs::metadata(&path).expect("metadata").len();
    set_version(&path, -32 + 16, 2, &[(-32..-12, -12)]);
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("store opens");
    match store.events(&EventsQuery::new("meter")) {
        Err(Error::Corruption { path: p, offset, .. }) => assert_eq!((p, offset), (path, len - 32 + 16)),
        Err(other) => panic!("expected corruption at the trailer version, got {other}"),
        Ok(_) => panic!("a damaged file must not be read"),
    }
}
