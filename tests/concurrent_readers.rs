//! Readers running alongside writers see consistent snapshots: a write call's rows of a twin
//! appear all at once or not at all, a query sees every call acknowledged before it started,
//! row counts seen by one reader never shrink, and `latest`, `state_at` and descending
//! `events` agree with the ascending `events` of the same twin (exactly, when nothing was
//! written in between; otherwise they fall between the two surrounding `events` results).
//! At the end every acknowledged batch is stored exactly once, also after a reopen. One test
//! writes in time order, the other writes late (out-of-order) rows while the readers run.
//!
//! Concurrent writers also leave a log that replays to what the store showed before it was
//! closed: when they add new properties to one twin at once (the columns must replay), set
//! one twin's model at once, or write rows of one twin at the same instant (tied rows keep
//! their order, and `latest` its value).
//!
//! Writers: four each own a twin, two more share one twin. Every call writes `K` records of
//! one twin, all tagged with the call's batch id `b` and with distinct times that are a
//! function of (writer, call, k), so a reader can check every value of every row.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use twinstore::{Durability, Error, Event, EventsQuery, Options, Record, Store, Timestamp, TwinState, Value};

/// Records per write call.
const K: i64 = 4;
/// Writers 0..4 own twins p0..p3; writers 4 and 5 share the twin `shared`.
const PRIVATE_WRITERS: i64 = 4;
const WRITERS: i64 = 6;
const READERS: usize = 4;
/// How long writers and readers run, per test, in ms; `TWINSTORE_STRESS_MS` overrides it
/// for a longer soak.
const RUN_FOR_MS: u64 = 1200;
const BASE_MS: i64 = 1_767_225_600_000 + 1_000_000_000;

fn twin_of(writer: i64) -> String {
    if writer < PRIVATE_WRITERS {
        format!("p{writer}")
    } else {
        "shared".to_string()
    }
}

/// Index of a twin in the per-twin tables: 0..4 private, 4 shared.
fn twin_index(writer: i64) -> usize {
    writer.min(PRIVATE_WRITERS) as usize
}

const TWINS: usize = PRIVATE_WRITERS as usize + 1;

fn twin_name(index: usize) -> String {
    twin_of(index as i64)
}

fn batch_id(writer: i64, call: i64) -> i64 {
    writer * 1_000_000 + call
}

/// Event time of record `k` of `call` by `writer`, in ms. With `late`, odd calls go back in
/// time (older than everything written so far); all times of the test are distinct.
fn time_ms(writer: i64, call: i64, k: i64, late: bool) -> i64 {
    let slot = (call * K + k) * WRITERS + writer;
    if late && call % 2 == 1 {
        BASE_MS - slot
    } else {
        BASE_MS + slot
    }
}

fn value_of(b: i64, k: i64) -> f64 {
    (b * 10 + k) as f64 + 0.25
}

/// The order in which a call writes its records: shuffled when writing late rows.
fn k_order(late: bool) -> Vec<i64> {
    if late { vec![1, 3, 0, 2] } else { (0..K).collect() }
}

/// One call: `K` records of the writer's twin, typed and NDJSON in turn.
fn write_call(store: &Store, writer: i64, call: i64, late: bool) {
    let twin = twin_of(writer);
    let b = batch_id(writer, call);
    if call % 2 == 0 {
        let records: Vec<Record> = k_order(late)
            .into_iter()
            .map(|k| {
                let ts = Timestamp::from_millis(time_ms(writer, call, k, late)).expect("time");
                Record::new(twin.as_str(), ts)
                    .with("b", b)
                    .with("k", k)
                    .with("w", writer)
                    .with("v", value_of(b, k))
                    .with("s", format!("{b}/{k}"))
            })
            .collect();
        let report = store.write(&records).expect("write");
        assert_eq!(report.records, K as u64);
    } else {
        let mut input = String::new();
        for k in k_order(late) {
            input.push_str(&format!(
                "{{\"$dtId\":\"{twin}\",\"$ts\":{},\"b\":{b},\"k\":{k},\"w\":{writer},\"v\":{:?},\"s\":\"{b}/{k}\"}}\n",
                time_ms(writer, call, k, late),
                value_of(b, k),
            ));
        }
        let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
        assert_eq!(
            (report.records, report.rejected.len()),
            (K as u64, 0),
            "{:?}",
            report.rejected
        );
    }
}

/// The fields of one stored row, checked against the formula that wrote it.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    ts: Timestamp,
    b: i64,
    k: i64,
}

fn get<'e>(values: &'e [(Arc<str>, Value)], name: &str) -> Option<&'e Value> {
    values.iter().find(|(n, _)| &**n == name).map(|(_, v)| v)
}

fn long(values: &[(Arc<str>, Value)], name: &str, twin: &str) -> i64 {
    match get(values, name) {
        Some(Value::Long(v)) => *v,
        other => panic!("{twin}: property {name} is {other:?} in {values:?}"),
    }
}

/// Checks one event's values and time; returns its identity.
fn check_event(twin: usize, event: &Event, late: bool) -> Row {
    let name = twin_name(twin);
    let values = &event.values;
    assert_eq!(values.len(), 5, "{name}: {values:?}");
    let (b, k, w) = (
        long(values, "b", &name),
        long(values, "k", &name),
        long(values, "w", &name),
    );
    assert_eq!(twin_index(w), twin, "{name}: a row of writer {w}");
    assert_eq!(b / 1_000_000, w, "{name}: batch {b} of writer {w}");
    assert!((0..K).contains(&k), "{name}: k = {k}");
    assert_eq!(
        get(values, "v"),
        Some(&Value::Double(value_of(b, k))),
        "{name}: b {b} k {k}"
    );
    assert_eq!(
        get(values, "s"),
        Some(&Value::String(format!("{b}/{k}").into())),
        "{name}: b {b} k {k}"
    );
    let want = Timestamp::from_millis(time_ms(w, b % 1_000_000, k, late)).expect("time");
    assert_eq!(event.ts, want, "{name}: time of b {b} k {k}");
    Row { ts: event.ts, b, k }
}

/// Checks an ascending `events` result: strictly ascending distinct times, every batch with
/// exactly its `K` rows. Returns the rows and the batch ids.
fn check_events(twin: usize, events: &[Event], late: bool) -> (Vec<Row>, BTreeSet<i64>) {
    let name = twin_name(twin);
    let rows: Vec<Row> = events.iter().map(|e| check_event(twin, e, late)).collect();
    for pair in rows.windows(2) {
        assert!(pair[0].ts < pair[1].ts, "{name}: events out of order: {pair:?}");
    }
    let mut per_batch: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for row in &rows {
        assert!(
            per_batch.entry(row.b).or_default().insert(row.k),
            "{name}: row b {} k {} seen twice",
            row.b,
            row.k
        );
    }
    for (b, ks) in &per_batch {
        assert_eq!(ks.len() as i64, K, "{name}: batch {b} seen half-applied: k = {ks:?}");
    }
    (rows, per_batch.into_keys().collect())
}

fn events_of(store: &Store, twin: usize, query: EventsQuery) -> Vec<Event> {
    match store.events(&query) {
        Ok(events) => events,
        Err(Error::UnknownTwin(_)) => Vec::new(),
        Err(e) => panic!("events of {}: {e}", twin_name(twin)),
    }
}

/// A state's properties as name -> (value, time); all five properties share one time.
fn state_row(twin: usize, state: &TwinState) -> Option<(Timestamp, BTreeMap<String, Value>)> {
    if state.properties.is_empty() {
        return None;
    }
    let name = twin_name(twin);
    assert_eq!(state.properties.len(), 5, "{name}: {state:?}");
    let ts = state.properties[0].ts;
    assert!(
        state.properties.iter().all(|p| p.ts == ts),
        "{name}: the state mixes rows: {state:?}"
    );
    Some((
        ts,
        state
            .properties
            .iter()
            .map(|p| (p.name.to_string(), p.value.clone()))
            .collect(),
    ))
}

fn event_map(event: &Event) -> BTreeMap<String, Value> {
    event.values.iter().map(|(n, v)| (n.to_string(), v.clone())).collect()
}

/// What one reader did.
#[derive(Default, Debug)]
struct ReaderReport {
    rounds: u64,
    /// Rounds where nothing changed between the two `events` calls, so the other queries
    /// were compared exactly.
    exact: u64,
}

fn read_round(
    store: &Store,
    twin: usize,
    late: bool,
    acked: &[AtomicU64; TWINS],
    last_count: &mut [usize; TWINS],
    report: &mut ReaderReport,
) {
    let name = twin_name(twin);
    // Calls acknowledged before the query started must all be visible.
    let acked_before = acked[twin].load(Ordering::Acquire);
    let first = events_of(store, twin, EventsQuery::new(name.as_str()));
    let (rows1, batches1) = check_events(twin, &first, late);
    assert!(
        batches1.len() as u64 >= acked_before,
        "{name}: {acked_before} calls acknowledged before the query, {} visible",
        batches1.len()
    );
    assert!(
        rows1.len() >= last_count[twin],
        "{name}: rows went from {} to {}",
        last_count[twin],
        rows1.len()
    );
    last_count[twin] = rows1.len();

    // Queries between two `events` calls see a state between the two.
    let latest = store.latest(&name).ok();
    let probe = rows1.get(rows1.len() / 2).map(|r| r.ts);
    let state = probe.map(|at| store.state_at(&name, at).expect("state_at of a known twin"));
    let before_first = rows1.first().map(|r| {
        store
            .state_at(&name, Timestamp::from_nanos(r.ts.as_nanos() - 1))
            .expect("state_at")
    });
    let top = events_of(store, twin, EventsQuery::new(name.as_str()).descending().limit(3));
    let info = store.twin_info(&name).ok();
    let stats = store.stats();
    let second = events_of(store, twin, EventsQuery::new(name.as_str()));
    let (rows2, batches2) = check_events(twin, &second, late);
    assert!(batches1.is_subset(&batches2), "{name}: a batch disappeared");
    last_count[twin] = rows2.len();

    // Sizes count rows held, visible or not: never fewer than a reader saw before.
    assert!(stats.records >= rows1.len() as u64, "{name}: stats {stats:?}");
    if let Some(info) = &info {
        assert!(info.records >= rows1.len() as u64, "{name}: {info:?}");
        if let (Some(first), Some(last)) = (rows1.first(), rows1.last()) {
            let (lo, hi) = info.time_range.expect("a twin with rows has a time range");
            assert!(
                lo <= first.ts && hi >= last.ts,
                "{name}: {info:?} vs {first:?}..{last:?}"
            );
        }
    }
    // Each result lies between the two `events` results.
    let by_ts: BTreeMap<Timestamp, &Event> = second.iter().map(|e| (e.ts, e)).collect();
    let in_second = |ts: Timestamp, values: &BTreeMap<String, Value>, what: &str| {
        let event = by_ts
            .get(&ts)
            .unwrap_or_else(|| panic!("{name}: {what} at {ts} is not in the later events"));
        assert_eq!(&event_map(event), values, "{name}: {what} at {ts}");
    };
    let latest_row = latest.as_ref().and_then(|s| state_row(twin, s));
    match (&latest_row, rows1.last()) {
        (Some((ts, values)), last) => {
            assert!(last.is_none_or(|l| *ts >= l.ts), "{name}: latest older than the events");
            in_second(*ts, values, "latest");
        }
        (None, Some(_)) => panic!("{name}: events but no latest state"),
        (None, None) => {}
    }
    if let (Some(at), Some(state)) = (probe, &state) {
        let (ts, values) = state_row(twin, state).expect("a row at the probe time exists");
        assert!(ts <= at, "{name}: state_at({at}) returned a row at {ts}");
        // At least as new as the newest row at or before `at` that the first query saw.
        let floor = rows1.iter().filter(|r| r.ts <= at).map(|r| r.ts).max();
        assert!(
            floor.is_none_or(|f| ts >= f),
            "{name}: state_at({at}) is older than {floor:?}"
        );
        in_second(ts, &values, "state_at");
    }
    if let Some(state) = &before_first {
        // Rows older than everything the first query saw may have arrived since (late rows).
        if let Some((ts, values)) = state_row(twin, state) {
            // Without late writes only the shared twin's two writers can fall behind.
            assert!(
                late || twin == PRIVATE_WRITERS as usize,
                "{name}: a row before the first row without late writes"
            );
            assert!(ts < rows1[0].ts);
            in_second(ts, &values, "state_at before the first row");
        }
    }
    assert!(
        top.len() >= rows1.len().min(3),
        "{name}: descending limit 3 gave {}",
        top.len()
    );
    assert!(top.len() <= 3);
    for pair in top.windows(2) {
        assert!(pair[0].ts > pair[1].ts, "{name}: descending out of order");
    }
    for event in &top {
        in_second(event.ts, &event_map(event), "descending event");
    }
    if let (Some(newest), Some(last)) = (top.first(), rows1.last()) {
        assert!(newest.ts >= last.ts, "{name}: descending starts before the last event");
    }

    if rows1 == rows2 {
        // Nothing changed in between: exact agreement.
        report.exact += 1;
        let expected_latest = first.last().map(|e| (e.ts, event_map(e)));
        assert_eq!(latest_row, expected_latest, "{name}: latest vs last event");
        if let (Some(at), Some(state)) = (probe, &state) {
            let newest = first.iter().rev().find(|e| e.ts <= at).expect("the probe row");
            assert_eq!(
                state_row(twin, state),
                Some((newest.ts, event_map(newest))),
                "{name}: state_at vs events"
            );
        }
        if let Some(state) = &before_first {
            assert_eq!(state_row(twin, state), None, "{name}: state before the first event");
        }
        let expected_top: Vec<Event> = first.iter().rev().take(3).cloned().collect();
        assert_eq!(top, expected_top, "{name}: descending vs ascending");
    }
    report.rounds += 1;
}

fn run(late: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default().durability(Durability::NoSync)).expect("open");
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<[AtomicU64; TWINS]> = Arc::new(std::array::from_fn(|_| AtomicU64::new(0)));

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, stop, acked) = (store.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut call = 0;
                while !stop.load(Ordering::Relaxed) {
                    write_call(&store, writer, call, late);
                    acked[twin_index(writer)].fetch_add(1, Ordering::Release);
                    call += 1;
                }
                call
            })
        })
        .collect();
    let readers: Vec<_> = (0..READERS)
        .map(|reader| {
            let (store, stop, acked) = (store.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut report = ReaderReport::default();
                let mut last_count = [0usize; TWINS];
                let mut last_stats = (0, 0);
                let mut i = reader;
                while !stop.load(Ordering::Relaxed) {
                    read_round(&store, i % TWINS, late, &acked, &mut last_count, &mut report);
                    let stats = store.stats();
                    assert!(
                        stats.twins >= last_stats.0 && stats.records >= last_stats.1,
                        "stats went back: {last_stats:?} -> {stats:?}"
                    );
                    last_stats = (stats.twins, stats.records);
                    i += 1;
                }
                report
            })
        })
        .collect();

    let started = Instant::now();
    let run_for = std::env::var("TWINSTORE_STRESS_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(RUN_FOR_MS);
    std::thread::sleep(Duration::from_millis(run_for));
    stop.store(true, Ordering::Relaxed);
    let calls: Vec<i64> = writers
        .into_iter()
        .map(|w| w.join().expect("writer panicked"))
        .collect();
    let reports: Vec<ReaderReport> = readers
        .into_iter()
        .map(|r| r.join().expect("reader panicked"))
        .collect();
    let elapsed = started.elapsed();
    eprintln!("late={late}: {elapsed:?}, calls per writer {calls:?}, readers {reports:?}");
    assert!(calls.iter().all(|&c| c > 0), "every writer wrote: {calls:?}");
    assert!(reports.iter().all(|r| r.rounds > 0), "every reader read: {reports:?}");
    assert!(
        reports.iter().map(|r| r.exact).sum::<u64>() > 0,
        "no round compared exactly: {reports:?}"
    );

    // Everything acknowledged is there exactly once, with nothing else.
    let check_totals = |store: &Store, context: &str| {
        let mut expected: [BTreeSet<i64>; TWINS] = Default::default();
        for (writer, &n) in calls.iter().enumerate() {
            let writer = writer as i64;
            expected[twin_index(writer)].extend((0..n).map(|c| batch_id(writer, c)));
        }
        for (twin, want) in expected.iter().enumerate() {
            let events = events_of(store, twin, EventsQuery::new(twin_name(twin)));
            let (rows, batches) = check_events(twin, &events, late);
            assert_eq!(&batches, want, "{context}: batches of {}", twin_name(twin));
            assert_eq!(rows.len(), want.len() * K as usize, "{context}");
            let latest = store.latest(&twin_name(twin)).expect("latest");
            let last = events.last().expect("rows");
            assert_eq!(state_row(twin, &latest), Some((last.ts, event_map(last))), "{context}");
        }
        let total: i64 = calls.iter().sum::<i64>() * K;
        let stats = store.stats();
        assert_eq!((stats.twins, stats.records), (TWINS as u64, total as u64), "{context}");
        assert_eq!(stats.points, 5 * total as u64, "{context}");
    };
    check_totals(&store, "after the run");
    drop(store);
    let store = Store::open(dir.path(), Options::default()).expect("reopen");
    check_totals(&store, "after a reopen");
}

#[test]
fn readers_see_whole_batches_with_writes_in_time_order() {
    run(false);
}

#[test]
fn readers_see_whole_batches_with_late_rows() {
    run(true);
}

/// Writers that add new properties to one twin at the same time: the log they leave must
/// replay (each new column is defined before use, whatever order the calls reach the log),
/// giving back what the store held before it was closed.
#[test]
fn concurrent_new_properties_of_one_twin_replay() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 300;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default().durability(Durability::NoSync)).expect("open");
    let barrier = std::sync::Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (store, barrier) = (store.clone(), &barrier);
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    barrier.wait();
                    let i = (round * THREADS + t) as i64;
                    let ts = Timestamp::from_millis(BASE_MS + i).expect("time");
                    store
                        .write(&[Record::new("t", ts).with(format!("p{round}_{t}"), i)])
                        .expect("write");
                }
            });
        }
    });
    let check = |store: &Store, context: &str| {
        let events = store.events(&EventsQuery::new("t")).expect("events");
        assert_eq!(events.len(), THREADS * ROUNDS, "{context}");
        for (i, event) in events.iter().enumerate() {
            let (round, t) = (i / THREADS, i % THREADS);
            assert_eq!(
                event.values,
                vec![(Arc::from(format!("p{round}_{t}").as_str()), Value::Long(i as i64))],
                "{context}: event {i}"
            );
        }
        assert_eq!(store.schema("t").expect("schema").len(), THREADS * ROUNDS, "{context}");
    };
    check(&store, "before the close");
    drop(store);
    let store = match Store::open(dir.path(), Options::default()) {
        Ok(store) => store,
        Err(e) => panic!("the log written by concurrent writers does not replay: {e}"),
    };
    check(&store, "after a reopen");
}

/// Writers setting one twin's model at the same time: after a reopen the twin has the model
/// it had before the close (the log's last model is the one the store reported).
#[test]
fn concurrent_model_changes_replay_to_the_same_model() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 200;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default().durability(Durability::NoSync)).expect("open");
    let barrier = std::sync::Barrier::new(THREADS);
    for round in 0..ROUNDS {
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (store, barrier) = (store.clone(), &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    store
                        .set_model(&format!("twin{round}"), &format!("dtmi:test:m{t};1"))
                        .expect("set_model");
                });
            }
        });
    }
    let before: Vec<_> = store
        .twins()
        .expect("twins")
        .into_iter()
        .map(|t| (t.id, t.model))
        .collect();
    drop(store);
    let store = Store::open(dir.path(), Options::default()).expect("reopen");
    let after: Vec<_> = store
        .twins()
        .expect("twins")
        .into_iter()
        .map(|t| (t.id, t.model))
        .collect();
    assert_eq!(before.len(), ROUNDS);
    assert_eq!(after.len(), ROUNDS, "every twin replays");
    let differ: Vec<_> = before.iter().zip(&after).filter(|(b, a)| b != a).collect();
    assert!(
        differ.is_empty(),
        "{} of {ROUNDS} twins changed model across a reopen: {:?}",
        differ.len(),
        &differ[..differ.len().min(5)]
    );
}

/// Writers writing the same property of one twin at the same instant: the order of the
/// tied rows (the order the calls reached the log) and so `latest` are the same before a
/// close and after the reopen.
#[test]
fn concurrent_writes_at_one_instant_replay_in_the_same_order() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 300;
    const TIED_TWINS: usize = 10;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default().durability(Durability::NoSync)).expect("open");
    let barrier = std::sync::Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (store, barrier) = (store.clone(), &barrier);
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    barrier.wait();
                    let ts = Timestamp::from_millis(BASE_MS + round as i64).expect("time");
                    let record = Record::new(format!("t{}", round % TIED_TWINS), ts).with("x", t as i64);
                    store.write(&[record]).expect("write");
                }
            });
        }
    });
    // Per twin: the writers' ids in event order, and the latest one.
    let view = |store: &Store| -> Vec<(Vec<i64>, Option<Value>)> {
        (0..TIED_TWINS)
            .map(|i| {
                let twin = format!("t{i}");
                let order = store
                    .events(&EventsQuery::new(twin.as_str()))
                    .expect("events")
                    .iter()
                    .map(|e| long(&e.values, "x", &twin))
                    .collect();
                (order, store.latest(&twin).expect("latest").get("x").cloned())
            })
            .collect()
    };
    let before = view(&store);
    drop(store);
    let store = Store::open(dir.path(), Options::default()).expect("reopen");
    let after = view(&store);
    let mut differences = Vec::new();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if b.1 != a.1 {
            differences.push(format!("t{i}: latest x {:?} before the close, {:?} after", b.1, a.1));
        }
        if let Some(at) = (0..b.0.len()).find(|&j| b.0.get(j) != a.0.get(j)) {
            let round = at / THREADS;
            let tied = round * THREADS..(round + 1) * THREADS;
            differences.push(format!(
                "t{i}: tied rows at instant {round} in the order {:?} before the close, {:?} after",
                &b.0[tied.clone()],
                &a.0[tied]
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
