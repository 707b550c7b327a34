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
        let Ok(events) = store.events(&EventsQuery::new(format!("twin-{t}"))) else {
            continue;
        };
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
    let writer = {
        let (store, acked, stop) = (store.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = acked.load(Ordering::Acquire);
            while !stop.load(Ordering::Acquire) && n < 200_000 {
                store.write(&batch(n)).expect("write during the backup");
                n += 1;
                acked.store(n, Ordering::Release);
                if n % 500 == 0 {
                    let _ = store.compact();
                }
            }
        })
    };
    while acked.load(Ordering::Acquire) < 1_000 {
        std::thread::yield_now();
    }
    let before = acked.load(Ordering::Acquire);
    let dest = backups.path().join("b1");
    let report = store.backup(&dest).expect("backup");
    stop.store(true, Ordering::Release);
    writer.join().expect("writer");

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
    assert!(!batches_in(&store).contains_key(&999_999));
    assert!(store.verify().expect("verify the original").is_ok());

    // A non-empty destination, or the store itself, is refused.
    assert!(matches!(store.backup(&dest), Err(Error::InvalidArgument(_))));
    assert!(matches!(store.backup(dir.path()), Err(Error::InvalidArgument(_))));
}
