//! Concurrent readers see consistent snapshots while writers run.
//!
//! Several writer threads write batches (each call: K rows per twin, all tagged with the
//! call's batch id, to two private twins and one twin shared by all writers, some rows out
//! of time order); reader threads query at the same time. A reader must never see part of a
//! call's rows for a twin, row counts seen by one reader never shrink, the latest value is
//! never older than what an earlier query returned, and at the end every row is there. The
//! second test runs the same with flushes and compactions racing the readers: rows moving
//! from the warm tier to segment files must never be seen twice or not at all.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use twinstore::{Durability, Error, EventsQuery, Options, Record, Store, Timestamp, Value};

const WRITERS: u64 = 3;
const READERS: usize = 3;
const ROWS_PER_TWIN: u64 = 4;

fn twins_of(writer: u64) -> [String; 3] {
    [format!("w{writer}-a"), format!("w{writer}-b"), "shared".to_string()]
}

/// What a reader saw of one twin: rows per batch id, and the time of the newest row.
struct Seen {
    batches: BTreeMap<i64, u64>,
    newest: Option<Timestamp>,
}

/// One twin as a reader sees it; `None` before the twin's first write.
fn batches(store: &Store, twin: &str) -> Option<Seen> {
    let events = match store.events(&EventsQuery::new(twin)) {
        Ok(events) => events,
        Err(Error::UnknownTwin(_)) => return None,
        Err(e) => panic!("events of {twin}: {e}"),
    };
    let mut batches = BTreeMap::new();
    let newest = events.iter().map(|e| e.ts).max();
    for event in events {
        let b = event.values.iter().find(|(n, _)| &**n == "b").map(|(_, v)| v.clone());
        match b {
            Some(Value::Long(b)) => *batches.entry(b).or_insert(0) += 1,
            other => panic!("{twin}: event without a batch id: {other:?}"),
        }
    }
    Some(Seen { batches, newest })
}

/// The latest state of `twin` must be the newest row of some batch: `k` is the last row of
/// its call (rows of a call are written in time order, and calls are at least 10 ms apart),
/// `b` and `k` come from that same row, and it is not older than the newest row this reader
/// saw before: `events_newest` from the events query just made, `newest_seen` from earlier
/// latest states. For a twin with one writer, the newest row is the one of the
/// writer's newest in-order call, so its batch id never goes back either.
fn check_latest(
    store: &Store,
    twin: &str,
    events_newest: Option<Timestamp>,
    newest_seen: &mut BTreeMap<String, (Timestamp, i64)>,
) {
    let latest = match store.latest(twin) {
        Ok(latest) => latest,
        Err(Error::UnknownTwin(_)) => {
            assert!(
                events_newest.is_none() && !newest_seen.contains_key(twin),
                "{twin}: known, then unknown"
            );
            return;
        }
        Err(e) => panic!("latest of {twin}: {e}"),
    };
    if latest.properties.is_empty() {
        // A twin whose first write call is still being applied is known, without rows.
        assert!(
            events_newest.is_none() && !newest_seen.contains_key(twin),
            "{twin}: an empty latest state after rows were seen"
        );
        return;
    }
    let property = |name: &str| match latest.properties.iter().find(|p| &*p.name == name) {
        Some(p) => match p.value {
            Value::Long(x) => (p.ts, x),
            ref other => panic!("{twin}: latest {name} is {other:?}"),
        },
        None => panic!("{twin}: latest state without {name}: {latest:?}"),
    };
    let (ts, b) = property("b");
    let (k_ts, k) = property("k");
    assert_eq!(
        k,
        ROWS_PER_TWIN as i64 - 1,
        "{twin}: the latest row is not the last of its call"
    );
    assert_eq!(ts, k_ts, "{twin}: latest b and k come from different rows");
    if let Some(newest) = events_newest {
        assert!(
            ts >= newest,
            "{twin}: latest row at {ts}, older than an event seen at {newest}"
        );
    }
    if let Some(&(before_ts, before_b)) = newest_seen.get(twin) {
        assert!(ts >= before_ts, "{twin}: latest went back from {before_ts} to {ts}");
        if twin != "shared" {
            assert!(b >= before_b, "{twin}: latest batch went back from {before_b} to {b}");
        }
    }
    newest_seen.insert(twin.to_string(), (ts, b));
}

#[test]
fn readers_never_see_half_a_batch() {
    run(Options::default().durability(Durability::NoSync), false);
}

#[test]
fn readers_never_see_half_a_batch_while_rows_move_to_the_cold_tier() {
    // A 64 KiB warm budget: the background thread flushes every few calls.
    let options = Options::default()
        .durability(Durability::NoSync)
        .warm_budget_bytes(64 << 10);
    run(options, true);
}

fn run(options: Options, compactor: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), options).expect("open");
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
            std::thread::spawn(move || {
                let mut calls = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let b = (w * 1_000_000 + calls) as i64;
                    let mut records = Vec::new();
                    for twin in twins_of(w) {
                        for k in 0..ROWS_PER_TWIN {
                            // Every third call goes back in time: late rows.
                            let base = if calls % 3 == 2 {
                                1_000_000 - calls as i64
                            } else {
                                1_000_000 + calls as i64
                            };
                            let ts = Timestamp::from_millis(base * 10 + k as i64).expect("time");
                            records.push(Record::new(twin.clone(), ts).with("b", b).with("k", k as i64));
                        }
                    }
                    store.write(&records).expect("write");
                    written.fetch_add(records.len() as u64, Ordering::Relaxed);
                    calls += 1;
                }
                calls
            })
        })
        .collect();

    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let store = store.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut last_count: BTreeMap<String, usize> = BTreeMap::new();
                // Per twin: time and batch id of the newest row this reader has seen.
                let mut newest_seen: BTreeMap<String, (Timestamp, i64)> = BTreeMap::new();
                let mut last_records = 0u64;
                let mut queries = 0u64;
                let mut i = r as u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let twin = twins_of(i % WRITERS)[(i % 3) as usize].clone();
                    let Some(seen) = batches(&store, &twin) else {
                        assert!(!last_count.contains_key(&twin), "{twin}: seen, then unknown");
                        continue;
                    };
                    for (b, rows) in &seen.batches {
                        assert_eq!(*rows, ROWS_PER_TWIN, "{twin}: batch {b} seen with {rows} rows");
                    }
                    let count: usize = seen.batches.values().map(|&n| n as usize).sum();
                    let previous = last_count.insert(twin.clone(), count).unwrap_or(0);
                    assert!(count >= previous, "{twin}: rows went from {previous} to {count}");
                    if let (Some(newest), Some(&(before, _))) = (seen.newest, newest_seen.get(&twin)) {
                        assert!(
                            newest >= before,
                            "{twin}: newest row went back from {before} to {newest}"
                        );
                    }
                    check_latest(&store, &twin, seen.newest, &mut newest_seen);
                    let records = store.stats().records;
                    assert!(
                        records >= last_records,
                        "stats: records went from {last_records} to {records}"
                    );
                    last_records = records;
                    queries += 1;
                }
                queries
            })
        })
        .collect();

    // Explicit flushes and compactions besides the background ones.
    let maintainer = compactor.then(|| {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                store.flush().expect("flush");
                store.compact().expect("compact");
                rounds += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            rounds
        })
    });
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(m) = maintainer {
        let rounds = m.join().expect("maintainer");
        assert!(rounds > 0);
        assert!(store.stats().files >= 1, "rows reached the cold tier");
        assert_eq!(store.maintenance_error(), None);
    }
    let calls: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    let queries: u64 = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    assert!(calls > 0 && queries > 0, "calls {calls}, queries {queries}");

    // Everything written is there, exactly.
    let total = written.load(Ordering::Relaxed);
    assert_eq!(store.stats().records, total);
    for w in 0..WRITERS {
        for twin in twins_of(w) {
            let seen = batches(&store, &twin).expect("twin exists");
            assert!(seen.batches.values().all(|&rows| rows == ROWS_PER_TWIN), "{twin}");
        }
    }
    // And after a reopen (WAL replay).
    drop(store);
    let store = Store::open(dir.path(), Options::default()).expect("reopen");
    assert_eq!(store.stats().records, total);
}
