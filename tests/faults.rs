//! Fault injection: the store runs on a [`FaultyVfs`] that fails chosen file operations (a
//! full disk, EIO on a read or a write, a failed fsync, a short or torn write), and every
//! test checks the documented outcome (docs/RELIABILITY.md, "Faults"):
//!
//! - the call that met the fault gets an error naming the file;
//! - a failed write is not visible, and every acknowledged one is, exactly once;
//! - the store keeps working, or (when the log cannot be trusted) refuses writes with
//!   `Error::ReadOnly` while reads go on;
//! - once the fault is lifted the store carries on, or a reopen recovers it, with nothing
//!   lost and `verify` clean: no manual repair.
//!
//! The expectation is a plain map of the acknowledged rows, kept by the test.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use twinstore::vfs::{Fault, FaultRule, FaultyVfs, Op};
use twinstore::{Durability, Error, EventsQuery, Options, Record, Store, Timestamp, Value};

const BASE_MS: i64 = 1_767_225_600_000;

/// Acknowledged rows: twin -> ms -> value.
#[derive(Default)]
struct Model(BTreeMap<String, BTreeMap<i64, f64>>);

impl Model {
    fn add(&mut self, rows: &[(String, i64, f64)]) {
        for (twin, ms, v) in rows {
            self.0.entry(twin.clone()).or_default().insert(*ms, *v);
        }
    }

    /// Writes whose outcome a reopen decides (the store went read-only on them): each is
    /// either there whole, then added, or not at all.
    fn resolve(&mut self, store: &Store, uncertain: &mut Vec<Vec<(String, i64, f64)>>, when: &str) {
        for rows in uncertain.drain(..) {
            let Some((twin, ms, v)) = rows.first() else { continue };
            let events = match store.events(&EventsQuery::new(twin)) {
                Ok(events) => events,
                // The refused write was the twin's first: the reopen did not keep it.
                Err(Error::UnknownTwin(_)) => Vec::new(),
                Err(e) => panic!("{when}: events of {twin} after a reopen: {e}"),
            };
            let found = events.iter().any(|e| {
                e.ts.as_nanos() / 1_000_000 == *ms
                    && e.values.iter().any(|(n, x)| &**n == "v" && *x == Value::Double(*v))
            });
            if found {
                self.add(&rows);
            }
            // `check` then finds the rest of the write, or none of it.
        }
    }

    /// Every twin's rows as a query returns them.
    fn check(&self, store: &Store, when: &str) {
        for (twin, rows) in &self.0 {
            let events = store
                .events(&EventsQuery::new(twin))
                .unwrap_or_else(|e| panic!("{when}: events of {twin}: {e}"));
            let seen: Vec<(i64, f64)> = events
                .iter()
                .map(|e| {
                    let v = match e.values.iter().find(|(n, _)| &**n == "v") {
                        Some((_, Value::Double(v))) => *v,
                        other => panic!("{when}: {twin} at {}: no v: {other:?}", e.ts),
                    };
                    (e.ts.as_nanos() / 1_000_000, v)
                })
                .collect();
            let want: Vec<(i64, f64)> = rows.iter().map(|(ms, v)| (*ms, *v)).collect();
            assert_eq!(seen, want, "{when}: rows of {twin}");
        }
    }
}

/// A batch of `n` rows over three twins, numbered from `first`.
fn batch(first: i64, n: i64) -> Vec<(String, i64, f64)> {
    (first..first + n)
        .map(|i| (format!("twin-{}", i % 3), BASE_MS + i * 1000, i as f64 * 0.5))
        .collect()
}

fn write(store: &Store, rows: &[(String, i64, f64)]) -> twinstore::Result<()> {
    let records: Vec<Record> = rows
        .iter()
        .map(|(twin, ms, v)| Record::new(twin.as_str(), Timestamp::from_millis(*ms).expect("time")).with("v", *v))
        .collect();
    store.write(&records).map(|_| ())
}

fn options(vfs: &Arc<FaultyVfs>) -> Options {
    Options::default()
        .vfs(vfs.clone())
        .background_maintenance(false)
        .block_cache_bytes(0)
}

fn open(dir: &Path, vfs: &Arc<FaultyVfs>) -> Store {
    Store::open(dir, options(vfs)).expect("open")
}

/// A store on a fresh `FaultyVfs` holding `rows`, and the model of it.
fn store_with(rows: &[(String, i64, f64)]) -> (tempfile::TempDir, Arc<FaultyVfs>, Store, Model) {
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new());
    let store = open(dir.path(), &vfs);
    let mut model = Model::default();
    write(&store, rows).expect("write");
    model.add(rows);
    (dir, vfs, store, model)
}

/// The error is an I/O error on a file whose path contains `file`.
fn assert_io_on(result: twinstore::Result<()>, file: &str, what: &str) {
    match result {
        Err(Error::Io { path, source }) => {
            assert!(
                path.to_string_lossy().contains(file),
                "{what}: error names {} (wanted a {file} file): {source}",
                path.display()
            );
            assert!(source.to_string().contains("injected"), "{what}: {source}");
        }
        other => panic!("{what}: wanted an I/O error on a {file} file, got {other:?}"),
    }
}

/// Reopens with faults lifted; checks the model and that `verify` finds nothing.
fn reopen_and_check(dir: &Path, store: Store, model: &Model, when: &str) -> (Store, Arc<FaultyVfs>) {
    drop(store);
    let vfs = Arc::new(FaultyVfs::new());
    let store = open(dir, &vfs);
    model.check(&store, when);
    let report = store.verify().expect("verify");
    assert!(report.is_ok(), "{when}: verify: {:?}", report.problems);
    (store, vfs)
}

#[test]
fn full_disk_on_the_log_fails_the_write_and_lifts_without_a_reopen() {
    for fault in [Fault::NoSpace, Fault::Eio, Fault::TornWrite] {
        let dir = tempfile::tempdir().expect("tempdir");
        let vfs = Arc::new(FaultyVfs::new());
        let store = open(dir.path(), &vfs);
        let mut model = Model::default();
        let good = batch(0, 30);
        write(&store, &good).expect("first write");
        model.add(&good);

        vfs.inject(FaultRule::new(Op::Write, fault).path_contains(".wal"));
        for attempt in 0..3 {
            let what = format!("{fault:?} attempt {attempt}");
            assert_io_on(write(&store, &batch(100 + attempt * 10, 10)), ".wal", &what);
            model.check(&store, &what);
        }
        vfs.clear();
        let after = batch(200, 30);
        write(&store, &after).unwrap_or_else(|e| panic!("{fault:?}: write after the fault is lifted: {e}"));
        model.add(&after);
        model.check(&store, &format!("{fault:?}: after the fault"));
        let (store, _) = reopen_and_check(dir.path(), store, &model, &format!("{fault:?}: reopened"));
        write(&store, &batch(300, 3)).expect("write after reopen");
    }
}

#[test]
fn short_writes_are_continued() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new());
    let store = open(dir.path(), &vfs);
    let mut model = Model::default();
    vfs.inject(FaultRule::new(Op::Write, Fault::ShortWrite).times(50));
    for i in 0..10 {
        let rows = batch(i * 20, 20);
        write(&store, &rows).expect("a short write is not an error");
        model.add(&rows);
        if i % 4 == 3 {
            store.flush().expect("flush with short writes");
        }
    }
    assert!(!vfs.injected().is_empty());
    model.check(&store, "short writes");
    reopen_and_check(dir.path(), store, &model, "short writes, reopened");
}

#[test]
fn failed_fsync_of_the_log_fails_the_write_and_the_store_goes_on() {
    let (dir, vfs, store, mut model) = store_with(&batch(0, 12));

    // One failed fdatasync: the write is refused, the log is cut back and synced, and
    // writing goes on.
    vfs.inject(FaultRule::new(Op::Sync, Fault::Eio).path_contains(".wal").times(1));
    assert_io_on(write(&store, &batch(50, 6)), ".wal", "fsync");
    model.check(&store, "after a failed fsync");
    let more = batch(60, 6);
    write(&store, &more).expect("write after one failed fsync");
    model.add(&more);
    model.check(&store, "after a failed fsync and a good write");
    reopen_and_check(dir.path(), store, &model, "failed fsync, reopened");
}

#[test]
fn when_the_log_cannot_be_cut_back_the_store_is_read_only_until_reopened() {
    let (dir, vfs, store, mut model) = store_with(&batch(0, 12));

    // A torn write, then the truncation that would cut it off fails too: the write is
    // refused, and the store says that a reopen decides whether it is there.
    vfs.inject(FaultRule::new(Op::Write, Fault::TornWrite).path_contains(".wal"));
    vfs.inject(FaultRule::new(Op::Truncate, Fault::Eio));
    match write(&store, &batch(50, 6)) {
        Err(Error::ReadOnly(reason)) => assert!(reason.contains("may find the write"), "{reason}"),
        other => panic!("wanted ReadOnly, got {other:?}"),
    }
    vfs.clear();
    // The log holds a torn frame: writes are refused, reads go on.
    match write(&store, &batch(60, 3)) {
        Err(Error::ReadOnly(reason)) => assert!(reason.contains("injected"), "{reason}"),
        other => panic!("wanted ReadOnly, got {other:?}"),
    }
    model.check(&store, "read-only");
    // A flush only moves acknowledged rows, which the warm tier holds whole (the torn frame
    // never reached it): it succeeds, the rows are then in a segment file, and the store stays
    // read-only for writes.
    store.flush().expect("a flush of a read-only store");
    assert_eq!(store.stats().files, 1, "the flush wrote one segment file");
    assert_eq!(store.stats().warm_bytes, 0, "rows left warm after the flush");
    model.check(&store, "read-only, flushed");
    assert!(
        matches!(write(&store, &batch(65, 3)), Err(Error::ReadOnly(_))),
        "a flush must not lift the read-only state"
    );
    // A reopen cuts the torn frame: every acknowledged row, nothing of the torn one.
    let (store, _) = reopen_and_check(dir.path(), store, &model, "torn tail, reopened");
    let more = batch(70, 6);
    write(&store, &more).expect("write after reopen");
    model.add(&more);
    model.check(&store, "after reopen");
}

#[test]
fn group_commit_sync_failure_makes_the_store_read_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new());
    let opts = options(&vfs).durability(Durability::GroupCommit {
        interval: Duration::from_millis(5),
    });
    let store = Store::open(dir.path(), opts).expect("open");
    let mut model = Model::default();
    let good = batch(0, 12);
    write(&store, &good).expect("write");
    model.add(&good);
    vfs.inject(FaultRule::new(Op::Sync, Fault::Eio).path_contains(".wal"));
    // The background sync fails: acknowledged writes may not be durable, so new ones are
    // refused until a reopen.
    let mut refused = None;
    for i in 0..400 {
        let rows = batch(100 + i * 3, 3);
        match write(&store, &rows) {
            Ok(()) => model.add(&rows),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    match refused {
        Some(Error::ReadOnly(reason)) => assert!(reason.contains("injected"), "{reason}"),
        other => panic!("wanted ReadOnly after the background sync failed, got {other:?}"),
    }
    assert!(matches!(store.sync(), Err(Error::ReadOnly(_)) | Err(Error::Io { .. })));
    model.check(&store, "group commit, read-only");
    vfs.clear();
    let (store, _) = reopen_and_check(dir.path(), store, &model, "group commit, reopened");
    write(&store, &batch(2000, 3)).expect("write after reopen");
}

#[test]
fn creating_a_log_segment_fails_then_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new());
    let store = open(dir.path(), &vfs);
    let mut model = Model::default();
    // The very first write creates the first segment: its header write fails.
    vfs.inject(FaultRule::new(Op::Write, Fault::NoSpace).path_contains(".wal").times(1));
    assert_io_on(write(&store, &batch(0, 6)), ".wal", "segment header");
    vfs.inject(
        FaultRule::new(Op::Create, Fault::NoSpace)
            .path_contains(".wal")
            .times(1),
    );
    assert_io_on(write(&store, &batch(10, 6)), ".wal", "segment creation");
    let rows = batch(20, 6);
    write(&store, &rows).expect("write after the faults");
    model.add(&rows);
    reopen_and_check(dir.path(), store, &model, "segment creation, reopened");
}

/// Each step of a flush failing in turn: the flush fails, every row stays readable, no file
/// is left behind, and the next flush (fault lifted) moves everything.
#[test]
fn a_failed_flush_keeps_every_row_and_the_next_one_succeeds() {
    let steps: Vec<(&str, FaultRule)> = vec![
        (
            "segment write",
            FaultRule::new(Op::Write, Fault::NoSpace).path_contains(".seg"),
        ),
        (
            "torn segment write",
            FaultRule::new(Op::Write, Fault::TornWrite).path_contains(".seg"),
        ),
        (
            "segment create",
            FaultRule::new(Op::Create, Fault::Eio).path_contains(".seg"),
        ),
        (
            "segment fsync",
            FaultRule::new(Op::Sync, Fault::Eio).path_contains(".seg"),
        ),
        ("segment map", FaultRule::new(Op::Map, Fault::Eio).path_contains(".seg")),
        (
            "cold dir sync",
            FaultRule::new(Op::SyncDir, Fault::Eio).path_contains("cold"),
        ),
        (
            "manifest write",
            FaultRule::new(Op::Write, Fault::NoSpace).path_contains("MANIFEST"),
        ),
        (
            "manifest fsync",
            FaultRule::new(Op::Sync, Fault::Eio).path_contains("MANIFEST"),
        ),
        ("manifest rename", FaultRule::new(Op::Rename, Fault::Eio)),
        (
            "log rotation fsync",
            FaultRule::new(Op::Sync, Fault::Eio).path_contains(".wal"),
        ),
    ];
    for (step, rule) in steps {
        let dir = tempfile::tempdir().expect("tempdir");
        let vfs = Arc::new(FaultyVfs::new());
        let store = open(dir.path(), &vfs);
        let mut model = Model::default();
        let rows = batch(0, 60);
        write(&store, &rows).expect("write");
        model.add(&rows);
        store.flush().expect("first flush");
        let rows = batch(100, 60);
        write(&store, &rows).expect("write");
        model.add(&rows);

        vfs.inject(rule);
        let result = store.flush();
        assert!(result.is_err(), "{step}: the flush should fail");
        model.check(&store, &format!("{step}: after the failed flush"));
        let files_before = segment_files(dir.path());
        vfs.clear();
        if step == "log rotation fsync" {
            // A failed fsync of the log: acknowledged writes may not be durable, so the
            // store refuses writes until reopened.
            assert!(
                matches!(write(&store, &batch(900, 3)), Err(Error::ReadOnly(_))),
                "{step}"
            );
            let (store, _) = reopen_and_check(dir.path(), store, &model, step);
            store.flush().expect("flush after reopen");
            continue;
        }
        let rows = batch(200, 30);
        write(&store, &rows).unwrap_or_else(|e| panic!("{step}: write after the failed flush: {e}"));
        model.add(&rows);
        store
            .flush()
            .unwrap_or_else(|e| panic!("{step}: flush after the fault: {e}"));
        model.check(&store, &format!("{step}: after the retried flush"));
        assert!(
            files_before <= 2,
            "{step}: a failed flush left files behind: {files_before} segment files"
        );
        let (store, _) = reopen_and_check(dir.path(), store, &model, step);
        assert_eq!(
            store.verify().expect("verify").notes,
            Vec::<String>::new(),
            "{step}: stray files"
        );
    }
}

/// The manifest is renamed into place but the directory sync fails: the flush reports the
/// error, the new state is used (no row is lost or doubled), and nothing the old manifest
/// needs is deleted.
#[test]
fn a_manifest_whose_directory_sync_failed_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new());
    let store = open(dir.path(), &vfs);
    let mut model = Model::default();
    for i in 0..4 {
        let rows = batch(i * 100, 40);
        write(&store, &rows).expect("write");
        model.add(&rows);
        store.flush().expect("flush");
    }
    // During a flush: the cold directory sync passes, the manifest's fails.
    let rows = batch(1000, 40);
    write(&store, &rows).expect("write");
    model.add(&rows);
    vfs.inject(FaultRule::new(Op::SyncDir, Fault::Eio).skip(1).times(1));
    assert!(store.flush().is_err());
    model.check(&store, "flush with a failed manifest dir sync");
    // During a compaction: the same.
    vfs.inject(FaultRule::new(Op::SyncDir, Fault::Eio).skip(1).times(1));
    assert!(store.compact().is_err());
    model.check(&store, "compaction with a failed manifest dir sync");
    let (store, vfs) = reopen_and_check(dir.path(), store, &model, "failed dir sync, reopened");
    drop(vfs);
    store.compact().expect("compact after reopen");
    model.check(&store, "compacted after reopen");
}

#[test]
fn a_failed_compaction_or_delete_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new());
    let store = open(dir.path(), &vfs);
    let mut model = Model::default();
    for i in 0..4 {
        let rows = batch(i * 100, 30);
        write(&store, &rows).expect("write");
        model.add(&rows);
        store.flush().expect("flush");
    }
    vfs.inject(FaultRule::new(Op::Write, Fault::NoSpace).path_contains(".seg"));
    assert_io_on(store.compact().map(|_| ()), ".seg", "compaction");
    model.check(&store, "failed compaction");
    let from = Timestamp::from_millis(BASE_MS).expect("time");
    let to = Timestamp::from_millis(BASE_MS + 150_000).expect("time");
    assert_io_on(store.delete_range("twin-0", from, to), ".seg", "delete_range");
    model.check(&store, "failed delete");
    vfs.clear();
    assert!(store.compact().expect("compact"));
    store.delete_range("twin-0", from, to).expect("delete");
    if let Some(rows) = model.0.get_mut("twin-0") {
        rows.retain(|ms, _| *ms >= BASE_MS + 150_000);
    }
    model.check(&store, "after compaction and delete");
    reopen_and_check(dir.path(), store, &model, "compaction and delete, reopened");
}

/// Read faults at open fail the open with the file named; once lifted, the open succeeds.
#[test]
fn read_faults_at_open_fail_the_open_and_lift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut model = Model::default();
    {
        let vfs = Arc::new(FaultyVfs::new());
        let store = open(dir.path(), &vfs);
        let rows = batch(0, 30);
        write(&store, &rows).expect("write");
        model.add(&rows);
        store.flush().expect("flush");
        let rows = batch(100, 30);
        write(&store, &rows).expect("write");
        model.add(&rows);
    }
    for (file, op) in [
        (".wal", Op::Read),
        ("MANIFEST", Op::Read),
        (".seg", Op::Map),
        ("wal", Op::ReadDir),
    ] {
        let vfs = Arc::new(FaultyVfs::new());
        vfs.inject(FaultRule::new(op, Fault::Eio).path_contains(file));
        assert_io_on(
            Store::open(dir.path(), options(&vfs)).map(|_| ()),
            file,
            &format!("open, {op:?} {file}"),
        );
        vfs.clear();
        let store = open(dir.path(), &vfs);
        model.check(&store, &format!("open after {op:?} {file}"));
    }
}

/// The background thread meets a full disk for segment files: writes go on (the log has
/// room), the error is reported by `maintenance_error`, and once space is back the thread
/// flushes on its own.
#[test]
fn background_flush_on_a_full_disk_retries_until_space_is_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new());
    let opts = options(&vfs)
        .background_maintenance(true)
        .warm_window(Duration::from_millis(20));
    let store = Store::open(dir.path(), opts).expect("open");
    let mut model = Model::default();
    vfs.inject(FaultRule::new(Op::Write, Fault::NoSpace).path_contains(".seg"));
    for i in 0..20 {
        let rows = batch(i * 10, 10);
        write(&store, &rows).expect("writes go on while flushes fail");
        model.add(&rows);
        std::thread::sleep(Duration::from_millis(10));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.maintenance_error().is_none() {
        assert!(std::time::Instant::now() < deadline, "no maintenance error reported");
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = store.maintenance_error().unwrap_or_default();
    assert!(error.contains("no space left"), "{error}");
    model.check(&store, "while flushes fail");
    vfs.clear();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // The round that flushes clears the error when it ends.
    while store.stats().files == 0 || store.stats().warm_bytes > 0 || store.maintenance_error().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "no successful round after the fault was lifted: {:?}",
            store.maintenance_error()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    model.check(&store, "after the background flush");
    reopen_and_check(dir.path(), store, &model, "background, reopened");
}

/// The bytes of every file under `dir`, read with `std::fs` (not through the store's layer).
fn bytes_on_disk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("list the store directory")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let meta = entry.metadata().expect("its metadata");
            if meta.is_dir() {
                bytes_on_disk(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

const RANDOM_OPS: [Op; 12] = [
    Op::Write,
    Op::Sync,
    Op::SyncDir,
    Op::Create,
    Op::Rename,
    Op::Remove,
    Op::Truncate,
    Op::Map,
    Op::Read,
    Op::ReadDir,
    Op::Stat,
    Op::Lock,
];
const RANDOM_FAULTS: [Fault; 4] = [Fault::Eio, Fault::NoSpace, Fault::ShortWrite, Fault::TornWrite];
const RANDOM_PATHS: [&str; 4] = [".wal", ".seg", "MANIFEST", ""];
/// The seed of round `r` of the randomized run is `RANDOM_SEED + r`.
const RANDOM_SEED: u64 = 0xfa17;

/// Faults that took effect in a randomized run, by operation and kind. A write-only fault
/// (short, torn) on another operation fires without effect and is not counted.
#[derive(Default)]
struct Coverage {
    by_pair: BTreeMap<String, u64>,
    ops: [u64; RANDOM_OPS.len()],
    faults: [u64; RANDOM_FAULTS.len()],
}

fn took_effect(op: Op, fault: Fault) -> bool {
    op == Op::Write || !matches!(fault, Fault::ShortWrite | Fault::TornWrite)
}

impl Coverage {
    fn add(&mut self, fired: &[(Op, Fault, std::path::PathBuf)]) {
        for &(op, fault, _) in fired.iter().filter(|(op, fault, _)| took_effect(*op, *fault)) {
            *self.by_pair.entry(format!("{op:?}/{fault:?}")).or_default() += 1;
            self.ops[RANDOM_OPS.iter().position(|o| *o == op).expect("a listed op")] += 1;
            self.faults[RANDOM_FAULTS.iter().position(|f| *f == fault).expect("a listed fault")] += 1;
        }
    }

    /// Operations and fault kinds that have not fired yet, counting `pending` (the faults
    /// fired so far in the current round) too.
    fn missing(&self, pending: &[(Op, Fault, std::path::PathBuf)]) -> (Vec<Op>, Vec<Fault>) {
        let mut all = Coverage {
            ops: self.ops,
            faults: self.faults,
            ..Coverage::default()
        };
        all.add(pending);
        let ops = (0..RANDOM_OPS.len())
            .filter(|&i| all.ops[i] == 0)
            .map(|i| RANDOM_OPS[i]);
        let faults = (0..RANDOM_FAULTS.len())
            .filter(|&i| all.faults[i] == 0)
            .map(|i| RANDOM_FAULTS[i]);
        (ops.collect(), faults.collect())
    }
}

/// One or two random rules to arm. Half the time the operation (or fault kind) is one that
/// has not fired yet in this run, so that a short run reaches all of them.
fn random_rules(rng: &mut impl RngExt, missing: &(Vec<Op>, Vec<Fault>)) -> Vec<FaultRule> {
    let (missing_ops, missing_faults) = missing;
    let mut op = RANDOM_OPS[rng.random_range(0..RANDOM_OPS.len())];
    if !missing_ops.is_empty() && rng.random_range(0..2u32) == 0 {
        op = missing_ops[rng.random_range(0..missing_ops.len())];
    }
    let mut fault = RANDOM_FAULTS[rng.random_range(0..RANDOM_FAULTS.len())];
    if !missing_faults.is_empty() && rng.random_range(0..2u32) == 0 {
        fault = missing_faults[rng.random_range(0..missing_faults.len())];
        if matches!(fault, Fault::ShortWrite | Fault::TornWrite) {
            // Write-only faults take effect on writes alone.
            op = Op::Write;
        }
    }
    let mut rule = FaultRule::new(op, fault);
    let path = RANDOM_PATHS[rng.random_range(0..RANDOM_PATHS.len())];
    if !path.is_empty() {
        rule = rule.path_contains(path);
    }
    let rule = rule.skip(rng.random_range(0..3u64)).times(rng.random_range(1..4u64));
    if op == Op::Truncate {
        // The log is cut back only after a log write failed: arm one with it, or a
        // truncation fault would hardly ever be reached.
        let torn = FaultRule::new(Op::Write, Fault::TornWrite)
            .path_contains(".wal")
            .times(1);
        return vec![rule, torn];
    }
    vec![rule]
}

/// A flush or compaction in the randomized run fails only because of a fault: one fired
/// during the call, or an earlier one left the store read-only.
fn assert_failure_has_a_cause<T: std::fmt::Debug>(result: twinstore::Result<T>, fired: bool, what: &str) {
    match result {
        Ok(_) => {}
        Err(_) if fired => {}
        Err(Error::ReadOnly(_)) => {}
        Err(e) => panic!("{what}: failed although no fault fired during it: {e}"),
    }
}

/// Names the round's seed when a check of the round panics.
struct SeedOnPanic(u64);

impl Drop for SeedOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "the failing round had seed {:#x}: repeat it with TWINSTORE_FAULT_FIRST_ROUND={} TWINSTORE_FAULT_ROUNDS=1 TWINSTORE_FAULT_TRACE=1",
                RANDOM_SEED + self.0,
                self.0
            );
        }
    }
}

#[derive(Default)]
struct RunCounts {
    acked: u64,
    refused: u64,
    flushes_failed: u64,
    compactions_failed: u64,
}

/// Random faults during a random mix of writes, flushes and compactions, with reopens:
/// every acknowledged write is there exactly once, no refused one is, `verify` stays clean;
/// a flush or compaction fails only when a fault caused it; and every operation and every
/// fault kind fired at least once in the run.
#[test]
fn random_faults_lose_nothing_acknowledged() {
    let env =
        |name: &str, default: u64| -> u64 { std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default) };
    let rounds = env("TWINSTORE_FAULT_ROUNDS", 3);
    let first_round = env("TWINSTORE_FAULT_FIRST_ROUND", 0);
    // Past `rounds`, the run goes on until every operation and fault kind has fired, up to
    // this many rounds.
    let max_rounds = rounds.max(env("TWINSTORE_FAULT_MAX_ROUNDS", 20));
    let trace = std::env::var("TWINSTORE_FAULT_TRACE").is_ok();
    let mut coverage = Coverage::default();
    let mut counts = RunCounts::default();
    let mut round = first_round;
    loop {
        let ran = round - first_round;
        let (ops, faults) = coverage.missing(&[]);
        let covered = ops.is_empty() && faults.is_empty();
        if ran >= max_rounds || ran >= rounds && covered {
            break;
        }
        random_round(round, trace, &mut coverage, &mut counts);
        round += 1;
    }
    let ran = round - first_round;
    let total: u64 = coverage.by_pair.values().sum();
    println!(
        "random faults: {ran} rounds (seeds {:#x}..{:#x}), {} writes acknowledged, {} refused, {} flushes and {} compactions failed, {total} faults injected: {:?}",
        RANDOM_SEED + first_round,
        RANDOM_SEED + round,
        counts.acked,
        counts.refused,
        counts.flushes_failed,
        counts.compactions_failed,
        coverage.by_pair
    );
    let (ops, faults) = coverage.missing(&[]);
    assert!(
        ops.is_empty() && faults.is_empty(),
        "after {ran} rounds (seeds {:#x}..{:#x}) these never fired: operations {ops:?}, faults {faults:?}; fired: {:?}",
        RANDOM_SEED + first_round,
        RANDOM_SEED + round,
        coverage.by_pair
    );
    assert!(counts.acked > 0, "no write was acknowledged");
    assert!(counts.refused > 0, "no write met a fault");
}

/// One round of the randomized run: 150 random steps on a fresh store, the model checked
/// after each, then a reopen with the faults lifted.
fn random_round(round: u64, trace: bool, coverage: &mut Coverage, counts: &mut RunCounts) {
    let seed = RANDOM_SEED + round;
    let _seed_on_panic = SeedOnPanic(round);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let vfs = Arc::new(FaultyVfs::new());
    let mut store = open(dir.path(), &vfs);
    let mut model = Model::default();
    let mut next = 0i64;
    let mut uncertain = Vec::new();
    for step in 0..150 {
        let when = format!("round {round} (seed {seed:#x}) step {step}");
        let fired_before = vfs.injected().len();
        match rng.random_range(0..21u32) {
            0..=10 => {
                let rows = batch(next, rng.random_range(1..20i64));
                next += 20;
                let result = write(&store, &rows);
                if trace {
                    println!("{when}: write {next}: {result:?}");
                }
                match result {
                    Ok(()) => {
                        model.add(&rows);
                        counts.acked += 1;
                    }
                    Err(Error::ReadOnly(reason)) if reason.contains("may find the write") => {
                        uncertain.push(rows);
                        counts.refused += 1;
                    }
                    Err(Error::Io { .. } | Error::ReadOnly(_)) => counts.refused += 1,
                    Err(e) => panic!("{when}: unexpected error {e}"),
                }
            }
            11..=12 => {
                let result = store.flush();
                if trace {
                    println!("{when}: flush: {result:?}");
                }
                counts.flushes_failed += u64::from(result.is_err());
                let fired = vfs.injected().len() > fired_before;
                assert_failure_has_a_cause(result, fired, &format!("{when}: flush"));
            }
            13 => {
                let result = store.compact();
                if trace {
                    println!("{when}: compact: {result:?}");
                }
                counts.compactions_failed += u64::from(result.is_err());
                let fired = vfs.injected().len() > fired_before;
                assert_failure_has_a_cause(result, fired, &format!("{when}: compact"));
            }
            14..=16 => {
                for rule in random_rules(&mut rng, &coverage.missing(&vfs.injected())) {
                    if trace {
                        println!("{when}: inject {rule:?}");
                    }
                    vfs.inject(rule);
                }
            }
            17 => {
                if trace {
                    println!("{when}: clear; fired so far {:?}", vfs.injected());
                }
                vfs.clear();
            }
            20 => {
                // Sizing the store lists and stats its files: it agrees with the file system
                // read directly, or fails with an I/O error that a fault caused.
                let result = store.disk_bytes();
                if trace {
                    println!("{when}: disk_bytes: {result:?}");
                }
                let fired = vfs.injected().len() > fired_before;
                match result {
                    Ok(bytes) => assert_eq!(bytes, bytes_on_disk(dir.path()), "{when}: disk_bytes"),
                    Err(Error::Io { .. }) if fired => {}
                    Err(e) => panic!("{when}: disk_bytes failed without a fault: {e}"),
                }
            }
            _ => {
                // Reopen: with the faults still armed at first; an open refused by a
                // fault is retried once they are lifted.
                if trace {
                    println!("{when}: reopen");
                }
                drop(store);
                store = match Store::open(dir.path(), options(&vfs)) {
                    Ok(store) => store,
                    Err(Error::Io { .. }) => {
                        vfs.clear();
                        open(dir.path(), &vfs)
                    }
                    Err(e) => panic!("{when}: reopen: {e}"),
                };
                model.resolve(&store, &mut uncertain, &when);
            }
        }
        // Reads see exactly the acknowledged rows, whatever failed.
        model.check(&store, &when);
    }
    coverage.add(&vfs.injected());
    vfs.clear();
    drop(store);
    let peek = open(dir.path(), &vfs);
    let when = format!("round {round} (seed {seed:#x}): final");
    model.resolve(&peek, &mut uncertain, &when);
    let (store, _) = reopen_and_check(dir.path(), peek, &model, &when);
    let rows = batch(next, 5);
    write(&store, &rows).expect("write at the end");
}

fn segment_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("cold"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
                .count()
        })
        .unwrap_or(0)
}
