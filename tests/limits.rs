//! Limits on properties per twin and records per call, and memory under a flood of writes
//! (docs/RELIABILITY.md, "Limits"). Expected outcomes are written out by hand.

use std::time::Duration;

use twinstore::{Error, EventsQuery, Limits, Options, Record, Store, Timestamp, Value};

const BASE_MS: i64 = 1_767_225_600_000;

fn ts(i: i64) -> Timestamp {
    Timestamp::from_millis(BASE_MS + i * 1000).expect("time")
}

fn options(limits: Limits) -> Options {
    let mut options = Options::default().background_maintenance(false);
    options.limits = limits;
    options
}

fn names(store: &Store, twin: &str) -> Vec<String> {
    let mut names: Vec<String> = store
        .schema(twin)
        .expect("schema")
        .iter()
        .map(|p| format!("{}:{:?}", p.name, p.value_type))
        .collect();
    names.sort();
    names
}

#[test]
fn a_twin_cannot_grow_past_its_property_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits {
        max_properties_per_twin: 5,
        ..Limits::default()
    };
    let store = Store::open(dir.path(), options(limits.clone())).expect("open");
    store
        .write(&[Record::new("t", ts(0)).with("a", 1.0).with("b", 2.0).with("c", 3.0)])
        .expect("three properties");

    let report = store
        .write(&[
            // Line 1: two new properties, reaching the limit of 5.
            Record::new("t", ts(1)).with("d", 4.0).with("e", 5.0),
            // Line 2: a sixth property: rejected.
            Record::new("t", ts(2)).with("a", 6.0).with("f", 7.0),
            // Line 3: a known name with a new type is a new property too: rejected.
            Record::new("t", ts(3)).with("a", "text"),
            // Line 4: known properties only: kept.
            Record::new("t", ts(4)).with("e", 8.0),
            // Line 5: another twin is not affected.
            Record::new("u", ts(5)).with("f", 9.0),
        ])
        .expect("the write keeps the good records");
    assert_eq!(report.records, 3);
    let rejected: Vec<(u64, Option<String>, Option<String>)> = report
        .rejected
        .iter()
        .map(|e| (e.line, e.twin.clone(), e.field.clone()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (2, Some("t".to_string()), Some("f".to_string())),
            (3, Some("t".to_string()), Some("a".to_string())),
        ]
    );
    assert!(
        report.rejected[0].reason.contains("more than 5 properties"),
        "{}",
        report.rejected[0]
    );
    assert_eq!(
        names(&store, "t"),
        ["a:Double", "b:Double", "c:Double", "d:Double", "e:Double"]
    );
    let times: Vec<Timestamp> = store
        .events(&EventsQuery::new("t"))
        .expect("events")
        .iter()
        .map(|e| e.ts)
        .collect();
    assert_eq!(times, vec![ts(0), ts(1), ts(4)]);

    // Strict: the whole call is refused, nothing of it is written.
    let mut strict = options(limits.clone()).strict(true);
    strict.limits = limits.clone();
    drop(store);
    let store = Store::open(dir.path(), strict).expect("reopen strict");
    match store.write(&[
        Record::new("t", ts(6)).with("a", 1.0),
        Record::new("t", ts(7)).with("g", 1.0),
    ]) {
        Err(Error::BatchRejected { errors }) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].line, 2);
        }
        other => panic!("wanted BatchRejected, got {other:?}"),
    }
    assert_eq!(store.events(&EventsQuery::new("t")).expect("events").len(), 3);

    // The limit holds after a flush and a reopen (the count comes from the catalog).
    store.flush().expect("flush");
    drop(store);
    let store = Store::open(dir.path(), options(limits)).expect("reopen");
    let report = store
        .ingest_ndjson(br#"{"$dtId":"t","$ts":"2026-01-01T00:01:00Z","h":1.0}"#)
        .expect("ingest");
    assert_eq!(report.records, 0);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].field.as_deref(), Some("h"));
}

#[test]
fn a_call_over_the_record_limit_is_refused_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits {
        max_records_per_call: 10,
        ..Limits::default()
    };
    let store = Store::open(dir.path(), options(limits)).expect("open");
    let records: Vec<Record> = (0..11).map(|i| Record::new("t", ts(i)).with("v", i as f64)).collect();
    match store.write(&records) {
        Err(Error::InvalidArgument(reason)) => assert!(reason.contains("11 records"), "{reason}"),
        other => panic!("wanted InvalidArgument, got {other:?}"),
    }
    let lines: String = (0..11)
        .map(|i| format!("{{\"$dtId\":\"t\",\"$ts\":\"2026-01-01T00:00:{i:02}Z\",\"v\":{i}}}\n"))
        .collect();
    assert!(matches!(
        store.ingest_ndjson(lines.as_bytes()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(store.twins().expect("twins").iter().all(|t| t.id != "t"));
    assert_eq!(store.stats().records, 0);
    store.write(&records[..10]).expect("ten records are within the limit");
    assert_eq!(store.stats().records, 10);
}

/// Writers flooding a store with a small warm budget are slowed down while the background
/// thread flushes: the warm tier stays within a bound instead of growing with the input.
#[test]
fn memory_stays_bounded_under_a_flood() {
    let dir = tempfile::tempdir().expect("tempdir");
    let budget: u64 = 2 << 20;
    let store = Store::open(
        dir.path(),
        Options::default()
            .durability(twinstore::Durability::NoSync)
            .warm_budget_bytes(budget)
            .warm_window(Duration::from_secs(3600)),
    )
    .expect("open");
    let mut peak = 0u64;
    let batches = 200i64;
    for b in 0..batches {
        let records: Vec<Record> = (0..1000)
            .map(|i| {
                Record::new(format!("twin-{}", i % 50), ts(b * 1000 + i))
                    .with("v", i as f64)
                    .with("w", Value::Long(b))
            })
            .collect();
        store.write(&records).expect("write");
        peak = peak.max(store.stats().warm_bytes);
    }
    // 200,000 records of two values each hold about 12 MB in the warm tier; writers wait at
    // twice the budget, and one batch (about 60 KB) can land past it.
    assert!(
        peak < 3 * budget,
        "warm tier peaked at {peak} bytes against a budget of {budget}"
    );
    assert!(store.stats().files > 0, "no flush happened");
    assert_eq!(store.stats().records, (batches * 1000) as u64);
}
