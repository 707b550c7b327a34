//! Online backup: a consistent copy taken while a writer goes on, which opens as a store.
//!
//! A writer thread writes numbered batches (each: one row per twin, all carrying the batch
//! number) and records which calls returned; a backup is taken in the middle. The backup must
//! hold every batch acknowledged before the call, each whole, and batches after it only as a
//! prefix of whole batches; `verify` on it finds nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use twinstore::{Durability, Error, EventsQuery, Options, Record, Store, Timestamp, Value};

const TWINS: u64 = 5;
const BASE_MS: i64 = 1_767_225_600_000;

fn batch(n: u64) -> Vec<Record> {
    (0..TWINS)
        .map(|t| {
            Record::new(
                format!("twin-{t}"),
                Timestamp::from_millis(BASE_MS + n as i64 * 10).expect("time"),
            )
            .with("n", Value::Long(n as i64))
            .with("v", n as f64 * 0.5)
        })
        .collect()
}

/// Batch number -> rows of it, over every twin.
fn batches_in(store: &Store) -> BTreeMap<i64, u64> {
    let mut out = BTreeMap::new();
    for t in 0..TWINS {
        let events = store
            .events(&EventsQuery::new(format!("twin-{t}")))
            .unwrap_or_else(|e| panic!("events of twin-{t}: {e}"));
        for e in events {
            match e.values.iter().find(|(n, _)| &**n == "n") {
                Some((_, Value::Long(n))) => *out.entry(*n).or_insert(0) += 1,
                other => panic!("twin-{t}: a row without its batch number: {other:?}"),
            }
        }
    }
    out
}

#[test]
fn a_backup_taken_under_writes_is_consistent_and_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backups = tempfile::tempdir().expect("tempdir");
    let options = Options::default().durability(Durability::NoSync);
    let store = Store::open(dir.path(), options.clone()).expect("open");
    for n in 0..200 {
        store.write(&batch(n)).expect("write");
    }
    store.flush().expect("flush");

    let acked = Arc::new(AtomicU64::new(200));
    let stop = Arc::new(AtomicBool::new(false));
    // Every 500 batches the writer flushes and compacts: the flush adds a file to the one
    // left by the previous compaction (or the first flush), so each compaction has at least
    // two small files to merge and must report a merge.
    let writer = {
        let (store, acked, stop) = (store.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = acked.load(Ordering::Acquire);
            let mut compactions = 0u64;
            while !stop.load(Ordering::Acquire) && n < 200_000 {
                store.write(&batch(n)).expect("write during the backup");
                n += 1;
                acked.store(n, Ordering::Release);
                if n % 500 == 0 {
                    store.flush().expect("flush during the backup");
                    let merged = store.compact().expect("compaction during the backup");
                    assert!(merged, "batch {n}: a compaction after a flush merged nothing");
                    compactions += 1;
                }
            }
            (n, compactions)
        })
    };
    while acked.load(Ordering::Acquire) < 1_000 {
        std::thread::yield_now();
    }
    let before = acked.load(Ordering::Acquire);
    let dest = backups.path().join("b1");
    let report = store.backup(&dest).expect("backup");
    stop.store(true, Ordering::Release);
    let (written, compactions) = writer.join().expect("writer");
    assert!(
        compactions >= 2,
        "{compactions} compactions ran while the backup was taken"
    );

    let copy = Store::open(&dest, options.clone()).expect("open the backup");
    let seen = batches_in(&copy);
    // Every batch acknowledged before the call, each whole; after it, a prefix of whole ones.
    let last = *seen.keys().next_back().expect("batches") as u64;
    assert!(
        last + 1 >= before,
        "the backup ends at batch {last}, but {before} were acknowledged before it"
    );
    for n in 0..=last {
        assert_eq!(seen.get(&(n as i64)), Some(&TWINS), "batch {n} in the backup");
    }
    assert_eq!(report.records, (last + 1) * TWINS);
    assert!(report.files >= 1 && report.bytes > 0);
    assert!(copy.verify().expect("verify").is_ok());
    // The backup is a store: it takes writes, and the original is untouched by them.
    copy.write(&batch(999_999)).expect("write to the restored copy");
    drop(copy);
    // With nothing racing it, a flush of one more batch makes a second file, and a
    // compaction leaves one.
    store.write(&batch(written)).expect("write after the backup");
    store.flush().expect("flush");
    assert!(store.compact().expect("compact"), "two files were left to merge");
    assert_eq!(store.stats().files, 1, "files after the last compaction");
    // The original holds every batch written, once each, through the compactions, and
    // nothing written to the copy.
    let original = batches_in(&store);
    assert_eq!(original.len() as u64, written + 1, "batches in the original");
    for n in 0..=written {
        assert_eq!(original.get(&(n as i64)), Some(&TWINS), "batch {n} in the original");
    }
    assert!(store.verify().expect("verify the original").is_ok());

    // A non-empty destination, or the store itself, is refused.
    assert!(matches!(store.backup(&dest), Err(Error::InvalidArgument(_))));
    assert!(matches!(store.backup(dir.path()), Err(Error::InvalidArgument(_))));
}
