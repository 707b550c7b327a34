//! One file layer: the store's `LOCK`, the sizing of its directory, and Parquet export and
//! import go through `Options::vfs`, so a fault injected there (a `FaultyVfs` rule) reaches
//! them and comes back as an error naming the file or directory. Sizes and leftovers are
//! checked with `std::fs`, independently of the file layer under test.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use twinstore::vfs::{Fault, FaultRule, FaultyVfs, Op};
use twinstore::{Durability, Error, Options, Record, Store, Timestamp};

fn options(vfs: &Arc<FaultyVfs>) -> Options {
    Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false)
        .vfs(vfs.clone())
}

/// Three records of two twins, all in January 2026 (one export file).
fn records() -> Vec<Record> {
    let at = |text: &str| Timestamp::parse(text).expect("time");
    vec![
        Record::new("thermostat-1", at("2026-01-05T08:00:00Z")).with("Temperature", 20.5),
        Record::new("thermostat-1", at("2026-01-05T08:01:00Z")).with("Temperature", 20.75),
        Record::new("room-1", at("2026-01-20T12:00:00Z")).with("Occupied", true),
    ]
}

/// Every regular file under `dir` with its size, read with `std::fs`.
fn files_under(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let entry = entry.expect("entry");
        let meta = entry.metadata().expect("metadata");
        if meta.is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push((entry.path(), meta.len()));
        }
    }
    out.sort();
    out
}

/// The path of an I/O error; any other error fails the test.
fn io_path(error: &Error) -> &Path {
    match error {
        Error::Io { path, .. } => path,
        other => panic!("expected an I/O error naming a path, got {other:?}"),
    }
}

#[test]
fn the_lock_is_taken_through_the_file_layer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vfs = Arc::new(FaultyVfs::new());
    vfs.inject(FaultRule::new(Op::Lock, Fault::Eio));
    let error = Store::open(dir.path(), options(&vfs)).err().expect("the lock failed");
    assert_eq!(io_path(&error), dir.path().join("LOCK"));
    assert_eq!(vfs.injected(), [(Op::Lock, Fault::Eio, dir.path().join("LOCK"))]);
    vfs.clear();
    let store = Store::open(dir.path(), options(&vfs)).expect("open once the fault is gone");
    // The lock is real: a second handle, through another file layer, is refused until the
    // first is dropped.
    let other = Arc::new(FaultyVfs::new());
    match Store::open(dir.path(), options(&other)) {
        Err(Error::Locked { path }) => assert_eq!(path, dir.path()),
        Err(other) => panic!("expected Locked, got {other:?}"),
        Ok(_) => panic!("a second handle opened a locked store"),
    }
    drop(store);
    Store::open(dir.path(), options(&other)).expect("open after the first handle is dropped");
}

#[test]
fn a_lock_released_within_the_retry_window_is_taken_and_a_held_one_is_refused_after_it() {
    use twinstore::vfs::{LOCK_RETRY, StdVfs, Vfs};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("LOCK");
    // Held for the whole window: refused, and only once the window has passed.
    let held = StdVfs.lock(&path).expect("first lock");
    let started = std::time::Instant::now();
    let refused = StdVfs.lock(&path).expect_err("a held lock is refused");
    assert_eq!(refused.kind(), std::io::ErrorKind::WouldBlock);
    assert!(started.elapsed() >= LOCK_RETRY, "refused after {:?}", started.elapsed());
    // Released a little later (as when a child process's copy of the descriptor is closed
    // by its exec): taken.
    let releasing = std::thread::spawn(move || {
        std::thread::sleep(LOCK_RETRY / 5);
        drop(held);
    });
    StdVfs
        .lock(&path)
        .expect("taken once the holder lets go within the window");
    releasing.join().expect("releasing thread");
}

#[test]
fn disk_bytes_is_the_size_of_every_file_in_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vfs = Arc::new(FaultyVfs::new());
    let store = Store::open(dir.path(), options(&vfs)).expect("open");
    store.write(&records()).expect("write");
    store.flush().expect("flush");
    store.write(&records()[..1]).expect("write");
    let on_disk = files_under(dir.path());
    // LOCK, MANIFEST, a segment file and a WAL segment at least.
    assert!(on_disk.len() >= 4, "{on_disk:?}");
    let expected: u64 = on_disk.iter().map(|(_, len)| len).sum();
    assert_eq!(store.disk_bytes().expect("disk bytes"), expected);
    assert_eq!(store.stats().disk_bytes, expected);
}

#[test]
fn a_failing_directory_listing_fails_the_sizing_naming_the_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vfs = Arc::new(FaultyVfs::new());
    let store = Store::open(dir.path(), options(&vfs)).expect("open");
    store.write(&records()).expect("write");
    store.flush().expect("flush");
    vfs.inject(FaultRule::new(Op::ReadDir, Fault::Eio).path_contains("/cold"));
    let error = store.disk_bytes().expect_err("the listing failed");
    assert_eq!(io_path(&error), dir.path().join("cold"));
    // `stats` keeps its other figures and reports the size as unknown (0), as documented.
    // The records fall on two days (5 and 20 January), so the flush wrote two files.
    let stats = store.stats();
    assert_eq!((stats.records, stats.files, stats.disk_bytes), (3, 2, 0));
    vfs.clear();
    assert!(store.disk_bytes().expect("disk bytes") > 0);
}

#[test]
fn a_failing_stat_fails_the_sizing_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vfs = Arc::new(FaultyVfs::new());
    let store = Store::open(dir.path(), options(&vfs)).expect("open");
    store.write(&records()).expect("write");
    vfs.inject(FaultRule::new(Op::Stat, Fault::Eio).path_contains(".wal"));
    let error = store.disk_bytes().expect_err("the stat failed");
    let path = io_path(&error);
    assert_eq!(path.parent(), Some(dir.path().join("wal").as_path()));
    assert_eq!(path.extension().and_then(|e| e.to_str()), Some("wal"));
    assert!(path.exists(), "{} names no real WAL segment", path.display());
}

#[cfg(feature = "parquet")]
mod parquet {
    use super::*;
    use twinstore::{EventsQuery, ExportOptions};

    /// The one month folder an export of [`records`] writes.
    fn month_folder(out: &Path) -> PathBuf {
        out.join("V=1/PT=Time/Y=2026/M=01")
    }

    #[test]
    fn an_export_to_a_failing_disk_fails_naming_the_file_and_leaves_no_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let vfs = Arc::new(FaultyVfs::new());
        let store = Store::open(dir.path(), options(&vfs)).expect("open");
        store.write(&records()).expect("write");
        // Each file operation of an export, failed in turn: the error names the folder, the
        // temporary file, or (for the rename) the final name.
        let cases: [(Op, Fault, &str); 6] = [
            (Op::Create, Fault::Eio, "M=01"),
            (Op::Create, Fault::NoSpace, ".parquet.tmp"),
            (Op::Write, Fault::NoSpace, ".parquet.tmp"),
            (Op::Write, Fault::TornWrite, ".parquet.tmp"),
            (Op::Sync, Fault::Eio, ".parquet.tmp"),
            (Op::Rename, Fault::Eio, "_twinstore.parquet"),
        ];
        for (op, fault, text) in cases {
            let out = tempfile::tempdir().expect("out dir");
            vfs.inject(FaultRule::new(op, fault).path_contains(text));
            let error = store
                .export_parquet(out.path(), &ExportOptions::default())
                .expect_err("the export failed");
            vfs.clear();
            let path = io_path(&error);
            let case = format!("{op:?} {fault:?} on {text}: {error}");
            if op == Op::Create && text == "M=01" {
                assert_eq!(path, month_folder(out.path()), "{case}");
            } else {
                assert_eq!(path.parent(), Some(month_folder(out.path()).as_path()), "{case}");
                assert!(path.to_string_lossy().ends_with(text), "{case}");
            }
            assert_eq!(files_under(out.path()), [], "{case}: files left behind");
        }
        // The same export without a fault: one file, holding every event.
        let out = tempfile::tempdir().expect("out dir");
        let report = store
            .export_parquet(out.path(), &ExportOptions::default())
            .expect("export");
        assert_eq!((report.rows, report.files.len()), (3, 1));
        let on_disk: Vec<PathBuf> = files_under(out.path()).into_iter().map(|(p, _)| p).collect();
        assert_eq!(on_disk, report.files);
    }

    /// An export of [`records`] written by a store on the real file system, and its file.
    fn exported() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(
            dir.path().join("store"),
            Options::default().background_maintenance(false),
        )
        .expect("open");
        store.write(&records()).expect("write");
        let out = dir.path().join("out");
        let report = store.export_parquet(&out, &ExportOptions::default()).expect("export");
        assert_eq!(report.files.len(), 1);
        let file = report.files[0].clone();
        (dir, file)
    }

    #[test]
    fn an_import_from_a_failing_disk_fails_naming_the_file_and_writes_nothing() {
        let (export_dir, file) = exported();
        let out = export_dir.path().join("out");
        let cases: [(Op, &str, PathBuf); 4] = [
            (Op::Read, "_twinstore.parquet", file.clone()),
            (Op::Stat, "_twinstore.parquet", file.clone()),
            (Op::ReadDir, "M=01", month_folder(&out)),
            (Op::Stat, "/out", out.clone()),
        ];
        for (op, text, expected) in cases {
            let dir = tempfile::tempdir().expect("temp dir");
            let vfs = Arc::new(FaultyVfs::new());
            let store = Store::open(dir.path(), options(&vfs)).expect("open");
            vfs.inject(FaultRule::new(op, Fault::Eio).path_contains(text).times(1));
            let error = store.import_parquet(&out).expect_err("the import failed");
            assert_eq!(io_path(&error), expected, "{op:?} on {text}: {error}");
            assert_eq!(store.stats().records, 0, "{op:?} on {text}: rows imported");
            // The fault fired once and is gone: the same import now reads every event.
            let report = store.import_parquet(&out).expect("import");
            assert_eq!(report.records, 3);
            let temperatures = store.events(&EventsQuery::new("thermostat-1")).expect("events").len();
            assert_eq!(temperatures, 2);
        }
    }
}
