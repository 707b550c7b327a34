//! Cold-tier behaviour through the public API: background flush by age and by memory,
//! late rows older than cold data, background compaction, retention and deletion.
//!
//! Expected values are computed by hand from the records each test writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use twinstore::{Clock, Durability, EventsQuery, Options, Record, Store, Timestamp, Value};

const DAY: i64 = 86_400_000_000_000;
const HOUR: i64 = 3_600_000_000_000;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000_000_000;

fn at(nanos: i64) -> Timestamp {
    Timestamp::from_nanos(nanos)
}

fn quiet() -> Options {
    Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false)
}

/// One record per hour for `hours` hours from `start`, value = hour index.
fn hourly(twin: &str, start: i64, hours: i64) -> Vec<Record> {
    (0..hours)
        .map(|h| Record::new(twin, at(start + h * HOUR)).with("v", h))
        .collect()
}

fn values(store: &Store, twin: &str) -> Vec<(i64, Value)> {
    store
        .events(&EventsQuery::new(twin))
        .expect("events")
        .into_iter()
        .map(|e| (e.ts.as_nanos(), e.values[0].1.clone()))
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wal_segments(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("wal")).expect("wal dir").count()
}

#[test]
fn the_background_thread_flushes_once_the_warm_window_passes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options::default()
        .durability(Durability::NoSync)
        .warm_window(Duration::from_millis(100));
    let store = Store::open(dir.path(), options).expect("open");
    store.write(&hourly("t", T0, 24)).expect("write");
    assert_eq!(store.stats().files, 0, "too early for a flush");
    wait_for("a flush", || store.stats().files == 1 && store.stats().warm_bytes == 0);
    // The flushed frames left the log; the rows are all still there.
    wait_for("the WAL cut", || wal_segments(dir.path()) == 0);
    let expected: Vec<(i64, Value)> = (0..24).map(|h| (T0 + h * HOUR, Value::Long(h))).collect();
    assert_eq!(values(&store, "t"), expected);
    assert_eq!(store.maintenance_error(), None);
}

#[test]
fn writes_past_the_memory_budget_are_slowed_not_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options::default()
        .durability(Durability::NoSync)
        .warm_budget_bytes(16 << 10);
    let store = Store::open(dir.path(), options).expect("open");
    // 200 calls of 50 rows: about 1.4 MB by the store's estimate, many times the budget.
    for call in 0..200 {
        store.write(&hourly("t", T0 + call * 50 * HOUR, 50)).expect("write");
    }
    let stats = store.stats();
    assert_eq!(stats.records, 10_000);
    assert!(stats.files >= 1, "the budget forced flushes: {stats:?}");
    // Hourly rows for 10,000 hours, values 0..50 repeating.
    let got = values(&store, "t");
    assert_eq!(got.len(), 10_000);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, (t, v))| *t == T0 + i as i64 * HOUR && *v == Value::Long(i as i64 % 50))
    );
}

#[test]
fn a_row_older_than_cold_data_is_visible_at_once_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    store.write(&hourly("t", T0, 4)).expect("write");
    store.flush().expect("flush");
    // A late row between hours 1 and 2, and one at hour 2 (after the cold one of hour 2).
    store
        .write(&[
            Record::new("t", at(T0 + HOUR + HOUR / 2)).with("v", 100i64),
            Record::new("t", at(T0 + 2 * HOUR)).with("v", 200i64),
        ])
        .expect("write");
    let expected = vec![
        (T0, Value::Long(0)),
        (T0 + HOUR, Value::Long(1)),
        (T0 + HOUR + HOUR / 2, Value::Long(100)),
        (T0 + 2 * HOUR, Value::Long(2)),
        (T0 + 2 * HOUR, Value::Long(200)),
        (T0 + 3 * HOUR, Value::Long(3)),
    ];
    assert_eq!(values(&store, "t"), expected);
    // The later write of hour 2 is the state at hour 2; the latest is hour 3's.
    assert_eq!(
        store.state_at("t", at(T0 + 2 * HOUR)).expect("state").get("v"),
        Some(&Value::Long(200))
    );
    assert_eq!(store.latest("t").expect("latest").get("v"), Some(&Value::Long(3)));
    // Flushed again, the overlap is in two files; after compaction, in one; same answers.
    store.flush().expect("flush");
    assert_eq!(store.stats().files, 2);
    assert_eq!(values(&store, "t"), expected);
    assert!(store.compact().expect("compact"));
    assert_eq!(store.stats().files, 1);
    assert_eq!(values(&store, "t"), expected);
    drop(store);
    let store = Store::open(dir.path(), quiet()).expect("reopen");
    assert_eq!(values(&store, "t"), expected);
    assert_eq!(
        store.state_at("t", at(T0 + 2 * HOUR)).expect("state").get("v"),
        Some(&Value::Long(200))
    );
}

#[test]
fn the_background_thread_compacts_runs_of_small_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options::default()
        .durability(Durability::NoSync)
        .warm_window(Duration::from_secs(3600));
    let store = Store::open(dir.path(), options).expect("open");
    // The next day first, in a file of its own: compaction never merges across days.
    store.write(&hourly("t", T0 + DAY, 4)).expect("write");
    store.flush().expect("flush");
    // Five flushes of four hours each of day 0 (T0 is midnight UTC): five small files of
    // one partition, which the background thread merges into one.
    for part in 0..5 {
        store.write(&hourly("t", T0 + part * 4 * HOUR, 4)).expect("write");
        store.flush().expect("flush");
    }
    wait_for("a compaction", || store.stats().files == 2);
    // The replaced files go when the compaction lets go of them, just after it installs.
    let cold_files = || std::fs::read_dir(dir.path().join("cold")).expect("cold dir").count();
    wait_for("the replaced files deleted", || cold_files() == 2);
    let got = values(&store, "t");
    assert_eq!(got.len(), 24);
    assert_eq!(got[19], (T0 + 19 * HOUR, Value::Long(3)));
    assert_eq!(got[20], (T0 + DAY, Value::Long(0)));
}

#[test]
fn retention_drops_whole_files_and_trims_the_one_that_straddles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let now = Arc::new(AtomicI64::new(T0));
    let clock = {
        let now = now.clone();
        Clock::from_fn(move || Timestamp::from_nanos(now.load(Ordering::Relaxed)))
    };
    let options = quiet().clock(clock).cold_retention(Some(Duration::from_secs(86_400)));
    let store = Store::open(dir.path(), options).expect("open");
    // Day 0 in one flush, days 1-2 in another: one file per day (T0 is midnight UTC).
    store.write(&hourly("t", T0, 24)).expect("write");
    store.flush().expect("flush");
    store.write(&hourly("t", T0 + DAY, 48)).expect("write");
    store.flush().expect("flush");
    assert_eq!(store.stats().files, 3);
    // Now = day 2, 12:00: keep one day, so from day 1, 12:00 on.
    now.store(T0 + 2 * DAY + 12 * HOUR, Ordering::Relaxed);
    store.apply_retention().expect("retention");
    let got = values(&store, "t");
    let expected: Vec<(i64, Value)> = (12..48).map(|h| (T0 + DAY + h * HOUR, Value::Long(h))).collect();
    assert_eq!(got, expected);
    // Day 0 dropped whole, day 1 trimmed, day 2 kept.
    assert_eq!(store.stats().files, 2);
    assert_eq!(store.stats().records, 36);
    drop(store);
    let store = Store::open(dir.path(), quiet()).expect("reopen");
    assert_eq!(values(&store, "t"), expected);
}

#[test]
fn delete_removes_rows_from_every_tier_for_good() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    store.write(&hourly("a", T0, 10)).expect("write");
    store.write(&hourly("b", T0, 10)).expect("write");
    store.flush().expect("flush");
    store.write(&hourly("a", T0 + 10 * HOUR, 10)).expect("write"); // still warm
    store
        .delete_range("a", at(T0 + 5 * HOUR), at(T0 + 15 * HOUR))
        .expect("delete");
    let expected: Vec<(i64, Value)> = (0..5)
        .chain(15..20)
        .map(|h| (T0 + h * HOUR, Value::Long(h % 10)))
        .collect();
    assert_eq!(values(&store, "a"), expected);
    assert_eq!(values(&store, "b").len(), 10, "other twins are untouched");
    // The deleted values are in no file of the store any more (the WAL was flushed, the
    // segment rewritten): look for the raw bytes of a distinctive deleted string.
    store
        .write(&[Record::new("c", at(T0)).with("secret", "do-not-keep-this")])
        .expect("write");
    store.flush().expect("flush");
    store.delete_twin("c").expect("delete twin");
    drop(store);
    let mut found = false;
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).expect("read");
        found |= bytes.windows(16).any(|w| w == b"do-not-keep-this");
    }
    assert!(!found, "deleted data is still on disk");
    let store = Store::open(dir.path(), quiet()).expect("reopen");
    assert_eq!(values(&store, "a"), expected);
    assert!(values(&store, "c").is_empty());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The values of `state` as (name, value), by name.
fn state_values(state: &twinstore::TwinState) -> Vec<(String, Value)> {
    state
        .properties
        .iter()
        .map(|p| (p.name.to_string(), p.value.clone()))
        .collect()
}

#[test]
fn the_state_at_an_instant_is_found_across_days_late_rows_and_ties() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    let put = |at_ns: i64, name: &str, value: Value| {
        store
            .write(&[Record::new("t", at(at_ns)).with(name, value)])
            .expect("write");
        store.flush().expect("flush");
    };
    // One file per flush, each within one day (T0 is midnight UTC).
    put(T0 + HOUR, "A", Value::Long(1));
    put(T0 + 2 * HOUR, "B", Value::Long(10));
    put(T0 + DAY + HOUR, "B", Value::Long(11));
    put(T0 + 2 * DAY + HOUR, "B", Value::Long(12));
    put(T0 + 2 * DAY + 2 * HOUR, "C", Value::String("x".into()));
    // A late row into day 1, newer than day 1's other row, in a later file.
    put(T0 + DAY + 5 * HOUR, "B", Value::Long(99));
    // The same time as B = 12, written later: it wins the tie.
    put(T0 + 2 * DAY + HOUR, "B", Value::Long(50));
    let s = |name: &str, v: Value| (name.to_string(), v);
    let state_at = |t: i64| state_values(&store.state_at("t", at(t)).expect("state_at"));
    assert_eq!(
        state_values(&store.latest("t").expect("latest")),
        vec![
            s("A", Value::Long(1)),
            s("B", Value::Long(50)),
            s("C", Value::String("x".into()))
        ]
    );
    // (instant, expected state): the same answers while each flush is its own file and once
    // each day is one file.
    let expected = [
        (
            T0 + 2 * HOUR + HOUR / 2,
            vec![s("A", Value::Long(1)), s("B", Value::Long(10))],
        ),
        (
            T0 + DAY + 3 * HOUR,
            vec![s("A", Value::Long(1)), s("B", Value::Long(11))],
        ),
        (
            T0 + DAY + 6 * HOUR,
            vec![s("A", Value::Long(1)), s("B", Value::Long(99))],
        ),
        (
            T0 + 3 * DAY,
            vec![
                s("A", Value::Long(1)),
                s("B", Value::Long(50)),
                s("C", Value::String("x".into())),
            ],
        ),
    ];
    for (t, state) in &expected {
        assert_eq!(&state_at(*t), state, "at {t} with one file per flush");
    }
    store.compact().expect("compact");
    assert_eq!(store.stats().files, 3);
    for (t, state) in &expected {
        assert_eq!(&state_at(*t), state, "at {t} with one file per day");
    }
}
