//! `Store::verify` (and `twinstore check`): every byte read, every problem reported with its
//! file and offset, damage confined to what it touches.

use std::path::{Path, PathBuf};

use twinstore::{Durability, EventsQuery, Options, Store};

fn options() -> Options {
    Options::default()
        .background_maintenance(false)
        .durability(Durability::NoSync)
}

/// Three twins, flushed to one segment file, then more writes in the WAL.
fn store(dir: &Path) -> Store {
    let store = Store::open(dir, options()).unwrap();
    let mut text = String::new();
    for twin in ["a", "b", "c"] {
        for i in 0..500 {
            text.push_str(&format!(
                "{{\"$dtId\":\"{twin}\",\"$ts\":{},\"T\":{}.5,\"Mode\":\"m{}\"}}\n",
                1_700_000_000_000i64 + i * 1000,
                i,
                i % 3
            ));
        }
    }
    store.ingest_ndjson(text.as_bytes()).unwrap();
    store.flush().unwrap();
    store
        .ingest_ndjson(b"{\"$dtId\":\"a\",\"$ts\":1800000000000,\"T\":1.0}\n")
        .unwrap();
    store
}

fn files(dir: &Path, sub: &str, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_sound_store_verifies_clean_and_counts_what_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let report = store.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.segment_files, 1);
    // Per twin one group: a timestamp block and two column blocks.
    assert_eq!(report.blocks, 9);
    assert!(report.wal_frames >= 1, "{report:?}");
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}

#[test]
fn a_damaged_block_is_reported_with_file_and_offset_and_the_rest_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let seg = &files(dir.path(), "cold", "seg")[0];
    // Byte 20 is inside the first twin's first block (the 16-byte header comes first).
    flip(seg, 20);
    let report = store.verify().unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let p = &report.problems[0];
    assert_eq!(&p.path, seg);
    assert!(p.offset.is_some_and(|o| o <= 20), "{p}");
    assert!(p.what.contains("checksum"), "{p}");
    // Twins b and c do not touch the damaged block.
    assert_eq!(store.events(&EventsQuery::new("b")).unwrap().len(), 500);
    assert_eq!(store.events(&EventsQuery::new("c")).unwrap().len(), 500);
    // Twin a's read of that block fails with the same file.
    let e = store.events(&EventsQuery::new("a")).unwrap_err().to_string();
    assert!(e.contains(&seg.display().to_string()), "{e}");
}

#[test]
fn wal_damage_and_stray_files_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let wal = files(dir.path(), "wal", "wal");
    let last = wal.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    // The last byte of the newest frame's payload.
    flip(last, len - 1);
    std::fs::write(dir.path().join("cold").join("0000000000000999.seg"), b"left by a crash").unwrap();
    let report = store.verify().unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(&report.problems[0].path, last);
    assert!(report.problems[0].what.contains("checksum"), "{}", report.problems[0]);
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(report.notes[0].contains("0000000000000999.seg"));
}
