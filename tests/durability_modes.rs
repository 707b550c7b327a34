//! Every durability mode keeps every acknowledged write across a clean close and reopen (a
//! close syncs `GroupCommit` and `NoSync` writes too), and in every mode an acknowledged
//! write has reached the operating system when the call returns (a copy of the log taken
//! while the store is still open already holds it). `Store::sync` succeeds in every mode,
//! before any write, between writes and concurrently with writers. The `GroupCommit`
//! background sync thread stops when the last handle is dropped, promptly even with a long
//! interval, so dropping a store never hangs.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use twinstore::{Durability, Error, EventsQuery, Options, Record, Store, Timestamp, Value};

/// Tests that start `GroupCommit` stores hold this, so the sync-thread count is exact.
static GROUP_COMMIT_THREADS: Mutex<()> = Mutex::new(());

fn modes() -> [(&'static str, Durability); 4] {
    [
        ("SyncEachWrite", Durability::SyncEachWrite),
        (
            "GroupCommit(5ms)",
            Durability::GroupCommit {
                interval: Duration::from_millis(5),
            },
        ),
        (
            "GroupCommit(1h)",
            Durability::GroupCommit {
                interval: Duration::from_secs(3600),
            },
        ),
        ("NoSync", Durability::NoSync),
    ]
}

fn lock_group_commit() -> std::sync::MutexGuard<'static, ()> {
    GROUP_COMMIT_THREADS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ms(millis: i64) -> Timestamp {
    Timestamp::from_millis(1_767_225_600_000 + millis).expect("time")
}

/// `(time offset ms, n, label)` of every event of `twin`.
fn contents(store: &Store, twin: &str) -> Vec<(i64, i64, String)> {
    let events = match store.events(&EventsQuery::new(twin)) {
        Ok(events) => events,
        Err(Error::UnknownTwin(_)) => return Vec::new(),
        Err(e) => panic!("{twin}: {e}"),
    };
    events
        .into_iter()
        .map(|e| {
            let get = |name: &str| e.values.iter().find(|(n, _)| &**n == name).map(|(_, v)| v.clone());
            let n = match get("n") {
                Some(Value::Long(n)) => n,
                other => panic!("{twin}: n is {other:?}"),
            };
            let label = match get("label") {
                Some(Value::String(s)) => s.to_string(),
                other => panic!("{twin}: label is {other:?}"),
            };
            (e.ts.as_millis() - 1_767_225_600_000, n, label)
        })
        .collect()
}

/// Writes calls `0..calls` (each two records, one per twin; NDJSON and typed in turn).
fn write_calls(store: &Store, calls: std::ops::Range<i64>) {
    for c in calls {
        if c % 2 == 0 {
            let input = format!(
                "{{\"$dtId\":\"a\",\"$ts\":{},\"n\":{c},\"label\":\"json-{c}\"}}\n\
                 {{\"$dtId\":\"b\",\"$ts\":{},\"n\":{c},\"label\":\"json-{c}\"}}\n",
                1_767_225_600_000 + c,
                1_767_225_600_000 + c
            );
            let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
            assert_eq!((report.records, report.points, report.rejected.len()), (2, 4, 0));
        } else {
            let records = ["a", "b"].map(|twin| {
                Record::new(twin, ms(c))
                    .with("n", c)
                    .with("label", format!("typed-{c}"))
            });
            let report = store.write(&records).expect("write");
            assert_eq!((report.records, report.points), (2, 4));
        }
    }
}

fn expected(calls: std::ops::Range<i64>) -> Vec<(i64, i64, String)> {
    calls
        .map(|c| {
            let label = if c % 2 == 0 {
                format!("json-{c}")
            } else {
                format!("typed-{c}")
            };
            (c, c, label)
        })
        .collect()
}

fn check(store: &Store, calls: std::ops::Range<i64>, context: &str) {
    let want = expected(calls);
    assert_eq!(contents(store, "a"), want, "{context}: twin a");
    assert_eq!(contents(store, "b"), want, "{context}: twin b");
    let stats = store.stats();
    let n = want.len() as u64;
    assert_eq!(
        (stats.twins, stats.records, stats.points),
        (2, 2 * n, 4 * n),
        "{context}"
    );
}

/// Copies the store's `wal/` into a fresh directory (what a crash would leave on disk, as far
/// as the OS is concerned).
fn copy_log(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(to.path().join("wal")).expect("wal dir");
    for entry in std::fs::read_dir(from.join("wal")).expect("wal dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.path().join("wal").join(entry.file_name())).expect("copy");
    }
    to
}

#[test]
fn every_mode_keeps_every_acknowledged_write_across_close_and_reopen() {
    let _guard = lock_group_commit();
    for (name, durability) in modes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = Options::default().durability(durability);
        let store = Store::open(dir.path(), options.clone()).expect("open");
        assert_eq!(store.options().durability, durability);
        write_calls(&store, 0..20);
        store.sync().unwrap_or_else(|e| panic!("{name}: sync: {e}"));
        write_calls(&store, 20..30);
        check(&store, 0..30, name);
        // No sync after the last writes: the close must make them durable.
        drop(store);

        let store = Store::open(dir.path(), options.clone()).expect("reopen");
        check(&store, 0..30, &format!("{name}, reopened"));
        write_calls(&store, 30..35);
        drop(store);
        // Any mode reads any other mode's log.
        for (other, other_durability) in modes() {
            let store = Store::open(dir.path(), Options::default().durability(other_durability)).expect("reopen");
            check(&store, 0..35, &format!("{name}, reopened as {other}"));
        }
    }
}

#[test]
fn an_acknowledged_write_has_reached_the_os_in_every_mode() {
    let _guard = lock_group_commit();
    for (name, durability) in modes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), Options::default().durability(durability)).expect("open");
        for c in 0..6 {
            write_calls(&store, c..c + 1);
            // The store is still open and has not been synced: whatever the OS holds of the
            // log is what a killed process would leave.
            let copy = copy_log(dir.path());
            let reader = Store::open(copy.path(), Options::default()).expect("open the copy");
            check(&reader, 0..c + 1, &format!("{name}: copy after call {c}"));
        }
        drop(store);
    }
}

#[test]
fn sync_succeeds_in_every_mode() {
    let _guard = lock_group_commit();
    for (name, durability) in modes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), Options::default().durability(durability)).expect("open");
        // Before any write there is no segment yet.
        store
            .sync()
            .unwrap_or_else(|e| panic!("{name}: sync of an empty store: {e}"));
        store.sync().unwrap_or_else(|e| panic!("{name}: second sync: {e}"));
        // Concurrently with writers, from clones.
        std::thread::scope(|scope| {
            for w in 0..3i64 {
                let store = store.clone();
                scope.spawn(move || {
                    for k in 0..25 {
                        let n = w * 1000 + k;
                        store
                            .write(&[Record::new(format!("w{w}"), ms(k)).with("n", n).with("label", "x")])
                            .expect("write");
                    }
                });
            }
            let syncer = store.clone();
            scope.spawn(move || {
                for _ in 0..25 {
                    syncer.sync().expect("sync during writes");
                }
            });
        });
        store
            .sync()
            .unwrap_or_else(|e| panic!("{name}: sync after writes: {e}"));
        assert_eq!(store.stats().records, 75, "{name}");
        drop(store);
        let store = Store::open(dir.path(), Options::default()).expect("reopen");
        for w in 0..3i64 {
            let ns: Vec<i64> = contents(&store, &format!("w{w}"))
                .into_iter()
                .map(|(_, n, _)| n)
                .collect();
            assert_eq!(ns, (0..25).map(|k| w * 1000 + k).collect::<Vec<_>>(), "{name}: w{w}");
        }
        // A store opened only to read syncs too.
        store
            .sync()
            .unwrap_or_else(|e| panic!("{name}: sync of a read-only open: {e}"));
    }
}

/// Threads of this process named like the WAL sync thread (Linux: `/proc/self/task/*/comm`,
/// names cut to 15 bytes).
#[cfg(target_os = "linux")]
fn sync_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end().starts_with("twinstore-wal"))
        .count()
}

/// Waits (briefly) for the thread count to settle: a new thread names itself once it runs,
/// and an exited one may linger in `/proc` for a moment after `join` returns.
#[cfg(target_os = "linux")]
fn wait_for_sync_threads(expected: usize) -> usize {
    let start = Instant::now();
    loop {
        let count = sync_threads();
        if count == expected || start.elapsed() > Duration::from_secs(2) {
            return count;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_group_commit_thread_stops_when_the_last_handle_is_dropped() {
    let _guard = lock_group_commit();
    for interval in [
        Duration::from_millis(1),
        Duration::from_millis(50),
        Duration::from_secs(3600),
    ] {
        let context = format!("interval {interval:?}");
        #[cfg(target_os = "linux")]
        assert_eq!(wait_for_sync_threads(0), 0, "{context}: no sync thread before the open");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(
            dir.path(),
            Options::default().durability(Durability::GroupCommit { interval }),
        )
        .expect("open");
        #[cfg(target_os = "linux")]
        assert_eq!(
            wait_for_sync_threads(1),
            1,
            "{context}: one sync thread per GroupCommit store"
        );
        write_calls(&store, 0..10);
        // Let the syncer run a few rounds with short intervals.
        std::thread::sleep(Duration::from_millis(20));
        let clone = store.clone();
        drop(store);
        #[cfg(target_os = "linux")]
        assert_eq!(sync_threads(), 1, "{context}: a live clone keeps the thread");
        write_calls(&clone, 10..12);

        let started = Instant::now();
        drop(clone);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "{context}: dropping the store took {took:?} (it must not wait out the interval)"
        );
        #[cfg(target_os = "linux")]
        assert_eq!(
            wait_for_sync_threads(0),
            0,
            "{context}: the sync thread is gone after the drop"
        );

        let store = Store::open(dir.path(), Options::default()).expect("reopen");
        check(&store, 0..12, &context);
    }
}

#[test]
fn group_commit_with_concurrent_writers_keeps_everything() {
    let _guard = lock_group_commit();
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options::default().durability(Durability::GroupCommit {
        interval: Duration::from_millis(1),
    });
    let store = Store::open(dir.path(), options).expect("open");
    std::thread::scope(|scope| {
        for w in 0..4i64 {
            let store = store.clone();
            scope.spawn(move || {
                for k in 0..100 {
                    let records: Vec<Record> = (0..3)
                        .map(|j| {
                            Record::new(format!("w{w}"), ms(k * 3 + j))
                                .with("n", w * 10_000 + k * 3 + j)
                                .with("label", "gc")
                        })
                        .collect();
                    store.write(&records).expect("write");
                }
            });
        }
    });
    // Dropped right after the burst, while the syncer may be mid-sync.
    drop(store);
    let store = Store::open(dir.path(), Options::default()).expect("reopen");
    assert_eq!(store.stats().records, 4 * 300);
    for w in 0..4i64 {
        let got = contents(&store, &format!("w{w}"));
        let want: Vec<(i64, i64, String)> = (0..300).map(|i| (i, w * 10_000 + i, "gc".to_string())).collect();
        assert_eq!(got, want, "w{w}");
    }
}
