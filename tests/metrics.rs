//! `Store::metrics`: every counter against what the test did, counted by hand.

use std::time::Duration;

use twinstore::{AggregateQuery, EventsQuery, Options, QueryKind, Record, Store, Timestamp};

fn t(s: i64) -> Timestamp {
    Timestamp::from_millis(1_767_225_600_000 + s * 1000).expect("time")
}

#[test]
fn metrics_count_writes_maintenance_and_queries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options::default()
        .background_maintenance(false)
        .slow_query(Duration::ZERO);
    let store = Store::open(dir.path(), options).expect("open");
    let zero = store.metrics();
    assert_eq!((zero.records_ingested, zero.flushes, zero.wal_bytes_written), (0, 0, 0));
    // One entry per query kind (events, aggregate, get_events, get_series,
    // aggregate_series, catalog, state, json), all at zero.
    assert_eq!(zero.queries.len(), 8, "{:?}", zero.queries);
    assert!(zero.queries.iter().all(|(_, q)| q.count == 0));

    // 3 records of 2 values, then an NDJSON call with 1 good record (1 value) and 1 bad line.
    store
        .write(&[
            Record::new("a", t(0)).with("T", 1.0).with("n", 1i64),
            Record::new("a", t(1)).with("T", 2.0).with("n", 2i64),
            Record::new("b", t(2)).with("T", 3.0).with("n", 3i64),
        ])
        .expect("write");
    store.flush().expect("flush");
    let report = store
        .ingest_ndjson(b"{\"$dtId\":\"a\",\"$ts\":\"2026-01-01T00:00:10Z\",\"T\":4.0}\n{\"T\":1}\n")
        .expect("ingest");
    assert_eq!((report.records, report.rejected.len()), (1, 1));
    store.flush().expect("flush");
    assert!(store.compact().expect("compact"));

    store.events(&EventsQuery::new("a")).expect("events");
    store.events(&EventsQuery::new("b")).expect("events");
    assert!(store.events(&EventsQuery::new("nobody")).is_err());
    store
        .aggregate(&AggregateQuery::new("a", "T", t(0), t(60), Duration::from_secs(60)))
        .expect("aggregate");
    store.latest("a").expect("latest");

    let m = store.metrics();
    assert_eq!(m.records_ingested, 4);
    assert_eq!(m.points_ingested, 7);
    assert_eq!(m.records_rejected, 1);
    assert_eq!(m.flushes, 2);
    assert_eq!(m.compactions, 1);
    assert_eq!(m.rewrites, 0);
    assert_eq!(m.maintenance_failures, 0);
    assert!(m.wal_bytes_written > 0);
    // Two flushed files and the compacted one.
    assert!(m.segment_bytes_written >= store.stats().cold_bytes);
    let q = |kind: QueryKind| {
        m.queries
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, q)| *q)
            .unwrap_or_else(|| panic!("no entry for {kind:?}"))
    };
    // Failed queries count too; with a zero threshold every query is slow.
    assert_eq!((q(QueryKind::Events).count, q(QueryKind::Events).slow), (3, 3));
    assert_eq!(q(QueryKind::Aggregate).count, 1);
    assert_eq!(q(QueryKind::State).count, 1);
    assert_eq!(q(QueryKind::Json).count, 0);
    assert!(q(QueryKind::Events).max <= q(QueryKind::Events).total);
}
