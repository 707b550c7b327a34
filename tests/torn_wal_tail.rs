//! A crash in the middle of a WAL append leaves a torn last frame in the last segment: on
//! open it is cut off (the file is truncated to the frame's first byte) and every complete
//! frame before it is kept, with its exact values, and the store takes new writes that
//! survive the next reopen. Damage anywhere else (a frame of an earlier segment, or a frame
//! of the last segment followed by complete frames) is never silently skipped: the open fails
//! with `Error::Corruption` naming the file and the frame's offset, and leaves the files as
//! they were. A store directory is opened by one `Store` at a time (`Error::Locked`).

use std::path::{Path, PathBuf};

use twinstore::{Error, EventsQuery, Options, Record, Store, Timestamp, Value};

/// Size of a segment header and of a frame header (docs/FORMAT.md).
const SEGMENT_HEADER: u64 = 24;
const FRAME_HEADER: u64 = 16;

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("timestamp")
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    files.sort();
    files
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("metadata").len()
}

/// One event as `(time, [(property, value)])`, for comparison with literal expectations.
type Row = (Timestamp, Vec<(String, Value)>);

/// Every event of `twin`, or `None` when the store does not know the twin.
fn rows(store: &Store, twin: &str) -> Option<Vec<Row>> {
    match store.events(&EventsQuery::new(twin)) {
        Ok(events) => Some(
            events
                .into_iter()
                .map(|e| (e.ts, e.values.into_iter().map(|(n, v)| (n.to_string(), v)).collect()))
                .collect(),
        ),
        Err(Error::UnknownTwin(_)) => None,
        Err(e) => panic!("events of {twin}: {e}"),
    }
}

fn row(ts: &str, values: &[(&str, Value)]) -> Row {
    (at(ts), values.iter().map(|(n, v)| (n.to_string(), v.clone())).collect())
}

fn twin_ids(store: &Store) -> Vec<String> {
    store.twins().expect("twins").into_iter().map(|t| t.id).collect()
}

/// The frames of a segment as `(offset, payload length)`, read with the documented layout.
fn frames(bytes: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut pos = SEGMENT_HEADER as usize;
    while pos + FRAME_HEADER as usize <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        out.push((pos as u64, len as u64));
        pos += FRAME_HEADER as usize + len;
    }
    assert_eq!(pos, bytes.len(), "the frames tile the segment");
    out
}

/// Frame 1: two twins by NDJSON. Frame 2: one typed record.
fn write_first_two(store: &Store) {
    let report = store
        .ingest_ndjson(
            br#"{"$dtId":"pump-1","$ts":"2026-01-01T08:00:00Z","Temperature":20.5,"Mode":"heat"}
{"$dtId":"pump-2","$ts":"2026-01-01T08:00:00Z","Pressure":3}
"#,
        )
        .expect("frame 1");
    assert_eq!((report.records, report.points), (2, 3));
    store
        .write(&[Record::new("pump-1", at("2026-01-01T08:01:00Z")).with("Temperature", 21.0)])
        .expect("frame 2");
}

/// Frame 3: a batch touching a known twin and defining a new one.
fn write_third(store: &Store) {
    store
        .write(&[
            Record::new("pump-1", at("2026-01-01T08:02:00Z")).with("Temperature", 22.5),
            Record::new("valve-9", at("2026-01-01T08:02:00Z")).with("Open", true),
        ])
        .expect("frame 3");
}

/// What frames 1 and 2 hold.
fn expect_first_two(store: &Store, context: &str) {
    assert_eq!(
        rows(store, "pump-1"),
        Some(vec![
            row(
                "2026-01-01T08:00:00Z",
                &[
                    ("Temperature", Value::Double(20.5)),
                    ("Mode", Value::String("heat".into()))
                ]
            ),
            row("2026-01-01T08:01:00Z", &[("Temperature", Value::Double(21.0))]),
        ]),
        "{context}"
    );
    assert_eq!(
        rows(store, "pump-2"),
        Some(vec![row("2026-01-01T08:00:00Z", &[("Pressure", Value::Long(3))])]),
        "{context}"
    );
}

/// What frames 1 to 3 hold.
fn expect_all_three(store: &Store, context: &str) {
    assert_eq!(
        rows(store, "pump-1"),
        Some(vec![
            row(
                "2026-01-01T08:00:00Z",
                &[
                    ("Temperature", Value::Double(20.5)),
                    ("Mode", Value::String("heat".into()))
                ]
            ),
            row("2026-01-01T08:01:00Z", &[("Temperature", Value::Double(21.0))]),
            row("2026-01-01T08:02:00Z", &[("Temperature", Value::Double(22.5))]),
        ]),
        "{context}"
    );
    assert_eq!(
        rows(store, "valve-9"),
        Some(vec![row("2026-01-01T08:02:00Z", &[("Open", Value::Bool(true))])]),
        "{context}"
    );
}

/// A store whose only segment holds frames 1 to 3; returns the segment's bytes, its file
/// name and the offset of frame 3.
fn three_frame_segment() -> (Vec<u8>, std::ffi::OsString, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("open");
    write_first_two(&store);
    let [segment] = &segments(dir.path())[..] else {
        panic!("one segment expected")
    };
    let third_start = file_len(segment);
    write_third(&store);
    drop(store);
    let bytes = std::fs::read(segment).expect("read segment");
    let layout = frames(&bytes);
    assert_eq!(layout.len(), 3, "three calls, three frames");
    assert_eq!(
        layout[2].0, third_start,
        "frame 3 starts where the file ended before it"
    );
    (bytes, segment.file_name().expect("file name").to_owned(), third_start)
}

/// A fresh store directory holding one segment with these bytes.
fn store_with_segment(name: &std::ffi::OsStr, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("wal")).expect("wal dir");
    let path = dir.path().join("wal").join(name);
    std::fs::write(&path, bytes).expect("write segment");
    (dir, path)
}

/// After a recovery that kept frames 1 and 2: the torn frame's twin is unknown, new writes
/// (including re-creating that twin) are kept across another reopen.
fn write_after_recovery_and_reopen(dir: &Path, context: &str) {
    let store = Store::open(dir, Options::default()).expect("reopen");
    store
        .write(&[
            Record::new("pump-1", at("2026-01-01T08:03:00Z")).with("Temperature", 23.0),
            Record::new("valve-9", at("2026-01-01T08:03:00Z")).with("Open", false),
        ])
        .expect("write after recovery");
    drop(store);
    let store = Store::open(dir, Options::default()).expect("reopen after the new write");
    assert_eq!(
        rows(&store, "pump-1"),
        Some(vec![
            row(
                "2026-01-01T08:00:00Z",
                &[
                    ("Temperature", Value::Double(20.5)),
                    ("Mode", Value::String("heat".into()))
                ]
            ),
            row("2026-01-01T08:01:00Z", &[("Temperature", Value::Double(21.0))]),
            row("2026-01-01T08:03:00Z", &[("Temperature", Value::Double(23.0))]),
        ]),
        "{context}"
    );
    assert_eq!(
        rows(&store, "valve-9"),
        Some(vec![row("2026-01-01T08:03:00Z", &[("Open", Value::Bool(false))])]),
        "{context}"
    );
    assert_eq!(twin_ids(&store), ["pump-1", "pump-2", "valve-9"], "{context}");
    let stats = store.stats();
    assert_eq!((stats.twins, stats.records, stats.points), (3, 5, 6), "{context}");
}

#[test]
fn a_cut_anywhere_inside_the_last_frame_drops_only_that_frame() {
    let (full, name, third_start) = three_frame_segment();
    let end = full.len() as u64;
    assert!(end > third_start + FRAME_HEADER + 8, "frame 3 has a real payload");
    // Every cut from "frame 3 not started" through mid-header (third_start + 1..16) and
    // mid-payload to "one byte missing".
    for cut in third_start..end {
        let context = format!("cut at byte {cut} (frame 3 spans {third_start}..{end})");
        let (dir, path) = store_with_segment(&name, &full[..cut as usize]);
        let store = Store::open(dir.path(), Options::default())
            .unwrap_or_else(|e| panic!("{context}: a torn tail is not an error, got {e}"));
        expect_first_two(&store, &context);
        assert_eq!(rows(&store, "valve-9"), None, "{context}: the torn frame's new twin");
        assert_eq!(twin_ids(&store), ["pump-1", "pump-2"], "{context}");
        assert_eq!(store.stats().records, 3, "{context}");
        // The tail is cut off on disk, at the torn frame's first byte.
        assert_eq!(file_len(&path), third_start, "{context}");
        drop(store);
        write_after_recovery_and_reopen(dir.path(), &context);
    }
}

#[test]
fn the_intact_segment_keeps_every_frame() {
    let (full, name, _) = three_frame_segment();
    let (dir, path) = store_with_segment(&name, &full);
    let store = Store::open(dir.path(), Options::default()).expect("open");
    expect_all_three(&store, "no damage");
    assert_eq!(twin_ids(&store), ["pump-1", "pump-2", "valve-9"]);
    drop(store);
    assert_eq!(
        std::fs::read(&path).expect("read"),
        full,
        "an open without writes changes nothing"
    );
}

#[test]
fn a_last_segment_cut_inside_its_header_is_dropped() {
    let (full, name, _) = three_frame_segment();
    let header_of_two = {
        // The second segment's header, as the writer produces it.
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), Options::default()).expect("open");
        write_first_two(&store);
        drop(store);
        let store = Store::open(dir.path(), Options::default()).expect("open");
        write_third(&store);
        drop(store);
        let segs = segments(dir.path());
        assert_eq!(segs.len(), 2);
        std::fs::read(&segs[1]).expect("read")[..SEGMENT_HEADER as usize].to_vec()
    };
    for cut in 0..SEGMENT_HEADER as usize {
        let context = format!("second segment cut to {cut} header bytes");
        let (dir, _) = store_with_segment(&name, &full);
        let second = dir.path().join("wal").join("00000000000000000002.wal");
        std::fs::write(&second, &header_of_two[..cut]).expect("write");
        let store = Store::open(dir.path(), Options::default())
            .unwrap_or_else(|e| panic!("{context}: a torn segment header is not an error, got {e}"));
        expect_all_three(&store, &context);
        assert!(!second.exists(), "{context}: the headerless segment is deleted");
        store
            .write(&[Record::new("pump-2", at("2026-01-01T09:00:00Z")).with("Pressure", 4i64)])
            .expect("write");
        drop(store);
        let store = Store::open(dir.path(), Options::default()).expect("reopen");
        expect_all_three(&store, &context);
        assert_eq!(
            rows(&store, "pump-2"),
            Some(vec![
                row("2026-01-01T08:00:00Z", &[("Pressure", Value::Long(3))]),
                row("2026-01-01T09:00:00Z", &[("Pressure", Value::Long(4))]),
            ]),
            "{context}"
        );
    }
}

#[test]
fn a_flipped_byte_anywhere_in_the_last_frame_drops_that_frame() {
    let (full, name, third_start) = three_frame_segment();
    for i in third_start as usize..full.len() {
        for mask in [0x01u8, 0x80] {
            let context = format!("byte {i} ^ {mask:#04x} (frame 3 starts at {third_start})");
            let mut bytes = full.clone();
            bytes[i] ^= mask;
            let (dir, path) = store_with_segment(&name, &bytes);
            let store = Store::open(dir.path(), Options::default())
                .unwrap_or_else(|e| panic!("{context}: a damaged last frame is a torn tail, got {e}"));
            expect_first_two(&store, &context);
            assert_eq!(rows(&store, "valve-9"), None, "{context}");
            assert_eq!(file_len(&path), third_start, "{context}");
            drop(store);
            if i as u64 == third_start + 20 && mask == 0x01 {
                write_after_recovery_and_reopen(dir.path(), &context);
            }
        }
    }
}

/// Two segments: frames 1-3 in the first, one more frame in the second.
fn two_segments(dir: &Path) -> (PathBuf, PathBuf) {
    let store = Store::open(dir, Options::default()).expect("open");
    write_first_two(&store);
    write_third(&store);
    drop(store);
    let store = Store::open(dir, Options::default()).expect("open");
    assert_eq!(segments(dir).len(), 1, "opening alone creates no segment");
    store
        .write(&[Record::new("pump-2", at("2026-01-01T09:00:00Z")).with("Pressure", 4i64)])
        .expect("write");
    drop(store);
    let segs = segments(dir);
    assert_eq!(segs.len(), 2, "each open that writes starts a segment");
    (segs[0].clone(), segs[1].clone())
}

/// Opens `dir`, expecting `Error::Corruption` at `offset` of `path`, and no file changed.
fn expect_corruption(dir: &Path, path: &Path, offset: u64, context: &str) {
    let before: Vec<Vec<u8>> = segments(dir).iter().map(|p| std::fs::read(p).expect("read")).collect();
    for attempt in 0..2 {
        match Store::open(dir, Options::default()) {
            Err(Error::Corruption {
                path: got,
                offset: got_offset,
                reason,
            }) => {
                assert_eq!(got, path, "{context}: the damaged file ({reason})");
                assert_eq!(got_offset, offset, "{context}: offset of the damaged frame ({reason})");
            }
            Err(other) => panic!("{context}: expected Error::Corruption, got {other}"),
            Ok(store) => {
                let records = store.stats().records;
                drop(store);
                let lens: Vec<(u64, u64)> = segments(dir)
                    .iter()
                    .zip(&before)
                    .map(|(p, b)| (b.len() as u64, file_len(p)))
                    .collect();
                panic!(
                    "{context}: the open must fail, but it succeeded with {records} records; \
                     segment lengths (before, after): {lens:?}"
                )
            }
        }
        // A failed open touches nothing and releases the lock (the second attempt fails the
        // same way, not with Locked).
        let after: Vec<Vec<u8>> = segments(dir).iter().map(|p| std::fs::read(p).expect("read")).collect();
        assert!(before == after, "{context}: attempt {attempt} modified the log");
    }
}

#[test]
fn a_flipped_byte_in_an_earlier_segment_is_corruption_naming_the_file() {
    let template = tempfile::tempdir().expect("temp dir");
    let (first, second) = two_segments(template.path());
    let first_bytes = std::fs::read(&first).expect("read");
    let second_bytes = std::fs::read(&second).expect("read");
    let layout = frames(&first_bytes);
    assert_eq!(layout.len(), 3);
    // Frame 2's payload, frame 1's checksum field, frame 3's payload (the last frame of a
    // segment that is not the last one), frame 3's last byte.
    let cases = [
        (layout[1].0 + FRAME_HEADER + layout[1].1 / 2, layout[1].0),
        (layout[0].0 + 5, layout[0].0),
        (layout[2].0 + FRAME_HEADER + 1, layout[2].0),
        (first_bytes.len() as u64 - 1, layout[2].0),
    ];
    for (byte, frame_start) in cases {
        let context = format!("flipped byte {byte} of the first segment");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("wal")).expect("wal dir");
        let mut bytes = first_bytes.clone();
        bytes[byte as usize] ^= 0x10;
        let path = dir.path().join("wal").join(first.file_name().expect("name"));
        std::fs::write(&path, &bytes).expect("write");
        std::fs::write(
            dir.path().join("wal").join(second.file_name().expect("name")),
            &second_bytes,
        )
        .expect("write");
        expect_corruption(dir.path(), &path, frame_start, &context);
    }
}

#[test]
fn a_cut_in_an_earlier_segment_is_corruption_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (first, _) = two_segments(dir.path());
    let bytes = std::fs::read(&first).expect("read");
    let layout = frames(&bytes);
    let cut = layout[2].0 + FRAME_HEADER + 2;
    std::fs::write(&first, &bytes[..cut as usize]).expect("write");
    expect_corruption(dir.path(), &first, layout[2].0, "first segment cut inside frame 3");
}

#[test]
fn the_two_segment_store_reads_back_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    two_segments(dir.path());
    let store = Store::open(dir.path(), Options::default()).expect("open");
    expect_all_three(&store, "two segments");
    assert_eq!(
        rows(&store, "pump-2"),
        Some(vec![
            row("2026-01-01T08:00:00Z", &[("Pressure", Value::Long(3))]),
            row("2026-01-01T09:00:00Z", &[("Pressure", Value::Long(4))]),
        ])
    );
}

/// Damage to the *first* frame of the last segment, with two complete, acknowledged frames
/// after it, is not a torn tail (a crash tears only the frame being appended): it must fail
/// the open as corruption, not truncate the acknowledged frames away.
#[test]
fn damage_before_complete_frames_of_the_last_segment_is_corruption() {
    let (full, name, _) = three_frame_segment();
    let layout = frames(&full);
    let mut bytes = full.clone();
    let byte = layout[0].0 + FRAME_HEADER + 3;
    bytes[byte as usize] ^= 0x04;
    let (dir, path) = store_with_segment(&name, &bytes);
    expect_corruption(dir.path(), &path, layout[0].0, "flipped payload byte of frame 1 of 3");
}

#[test]
fn a_second_open_of_an_open_store_is_locked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Store::open(dir.path(), Options::default()).expect("open");
    write_first_two(&first);
    match Store::open(dir.path(), Options::default()) {
        Err(Error::Locked { path }) => assert_eq!(path, dir.path()),
        Err(other) => panic!("expected Error::Locked, got {other}"),
        Ok(_) => panic!("two handles on one store"),
    }
    // A clone is the same handle: the lock is held until the last clone is dropped.
    let clone = first.clone();
    drop(first);
    assert!(matches!(
        Store::open(dir.path(), Options::default()),
        Err(Error::Locked { .. })
    ));
    // The refused opens did not disturb the open store.
    write_third(&clone);
    expect_all_three(&clone, "after refused opens");
    drop(clone);
    let store = Store::open(dir.path(), Options::default()).expect("open after the last handle is dropped");
    expect_all_three(&store, "reopened");
}
