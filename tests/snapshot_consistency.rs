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

use twinstore::{Durability, EventsQuery, Options, Record, Store, Timestamp, Value};

const WRITERS: u64 = 3;
const READERS: usize = 3;
const ROWS_PER_TWIN: u64 = 4;

fn twins_of(writer: u64) -> [String; 3] {
    [format!("w{writer}-a"), format!("w{writer}-b"), "shared".to_string()]
}

/// Rows per batch id of one twin, as a reader sees them.
fn batches(store: &Store, twin: &str) -> Option<BTreeMap<i64, u64>> {
    let events = store.events(&EventsQuery::new(twin)).ok()?;
    let mut out = BTreeMap::new();
    for event in events {
        let b = event.values.iter().find(|(n, _)| &**n == "b").map(|(_, v)| v.clone());
        match b {
            Some(Value::Long(b)) => *out.entry(b).or_insert(0) += 1,
            other => panic!("{twin}: event without a batch id: {other:?}"),
        }
    }
    Some(out)
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
                let mut last_b: BTreeMap<String, i64> = BTreeMap::new();
                let mut queries = 0u64;
                let mut i = r as u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let twin = twins_of(i % WRITERS)[(i % 3) as usize].clone();
                    let Some(seen) = batches(&store, &twin) else { continue };
                    for (b, rows) in &seen {
                        assert_eq!(*rows, ROWS_PER_TWIN, "{twin}: batch {b} seen with {rows} rows");
                    }
                    let count: usize = seen.values().map(|&n| n as usize).sum();
                    let previous = last_count.insert(twin.clone(), count).unwrap_or(0);
                    assert!(count >= previous, "{twin}: rows went from {previous} to {count}");
                    if let Ok(latest) = store.latest(&twin)
                        && let Some(Value::Long(k)) = latest.get("k")
                    {
                        // The latest row of a twin is the last row of some batch, k = K - 1 or,
                        // for late batches, whatever is newest in time: just never a torn one.
                        assert!(*k < ROWS_PER_TWIN as i64);
                        if let Some(Value::Long(b)) = latest.get("b") {
                            last_b.insert(twin.clone(), *b);
                        }
                    }
                    let _ = store.stats();
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
            assert!(seen.values().all(|&rows| rows == ROWS_PER_TWIN), "{twin}");
        }
    }
    // And after a reopen (WAL replay).
    drop(store);
    let store = Store::open(dir.path(), Options::default()).expect("reopen");
    assert_eq!(store.stats().records, total);
}
