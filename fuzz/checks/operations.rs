//! The whole store against a naive model, on operations read from the fuzz input: writes of
//! every value type (duplicate and out-of-order times, removals), flushes, compactions,
//! range and twin deletions, reopens, Time Series Model changes (types and instances put
//! and deleted, relationship events), and queries (raw events, latest state, state at an
//! instant, bucketed counts and sums, TSI JSON, every twin's instance and the types). Any
//! disagreement or panic is a finding.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/operations.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use twinstore::{AggregateQuery, Aggregation, Durability, EventsQuery, Options, Record, Store, Timestamp, Value};

const TWINS: [&str; 3] = ["a", "b", "c"];
const NAMES: [&str; 3] = ["T", "Mode", "n"];
const S: i64 = 1_000_000_000;

/// Per twin: (time, arrival, values).
type Rows = BTreeMap<&'static str, Vec<(i64, u64, Vec<(String, Value)>)>>;

/// What the naive model keeps of the Time Series Model: type ids put (with their name
/// index) and the type id of each instance put.
#[derive(Default)]
struct Tsm {
    types: BTreeMap<&'static str, usize>,
    instances: BTreeMap<&'static str, &'static str>,
}

const TYPE_IDS: [&str; 2] = ["t0", "t1"];
const TYPE_NAMES: [&str; 2] = ["N0", "N1"];

/// One model change read from the input (`code` picks the kind, `arg` its target).
fn model_change(store: &Store, rows: &Rows, tsm: &mut Tsm, code: u8, arg: u8) {
    use twinstore::tsm::{DEFAULT_TYPE_ID, Instance, TimeSeriesType};
    let ty = TYPE_IDS[usize::from(arg) % 2];
    let twin = TWINS[usize::from(arg / 2) % TWINS.len()];
    match code % 5 {
        0 => {
            let name = usize::from(arg / 8) % 2;
            let t = TimeSeriesType {
                id: ty.into(),
                name: TYPE_NAMES[name].into(),
                description: None,
                variables: vec![(
                    "V".into(),
                    twinstore::Variable::numeric("$event.T.Double", "avg($value)"),
                )],
            };
            let ok = store.put_time_series_types(vec![t]).expect("logged")[0].is_ok();
            let clash = tsm.types.iter().any(|(id, n)| *n == name && *id != ty);
            assert_eq!(ok, !clash, "put type {ty} named {}", TYPE_NAMES[name]);
            if ok {
                tsm.types.insert(ty, name);
            }
        }
        1 => {
            let ok = store.delete_time_series_types(&[ty]).expect("logged")[0].is_ok();
            let expected = tsm.types.contains_key(ty) && !tsm.instances.values().any(|t| *t == ty);
            assert_eq!(ok, expected, "delete type {ty}");
            if ok {
                tsm.types.remove(ty);
            }
        }
        2 => {
            let ok = store.put_instances(vec![Instance::new(twin, ty)]).expect("logged")[0].is_ok();
            assert_eq!(ok, tsm.types.contains_key(ty), "put instance {twin} of {ty}");
            if ok {
                tsm.instances.insert(twin, ty);
            }
        }
        3 => {
            // As TSI: the instance of a twin with events stays; a missing one is no error.
            let ok = store.delete_instances(&[twin]).expect("logged")[0].is_ok();
            assert_eq!(ok, !rows.contains_key(twin), "delete instance {twin}");
            if ok {
                tsm.instances.remove(twin);
            }
        }
        _ => {
            let target = TWINS[usize::from(arg) % TWINS.len()];
            let event = format!(
                r#"{{"type":"Microsoft.DigitalTwins.Relationship.Create","subject":"{twin}/relationships/r{arg}","time":"2026-01-01T00:00:00Z","data":{{"$relationshipId":"r{arg}","$sourceId":"{twin}","$targetId":"{target}","$relationshipName":"contains"}}}}"#
            );
            let report = store.ingest_adt(event.as_bytes()).expect("relationship");
            assert_eq!(report.model_events, 1);
        }
    }
    let _ = DEFAULT_TYPE_ID;
}

/// Every twin's instance: the one put, else an implied one of the default type for a twin
/// that was ever written; and the types: the default one and those put.
fn check_model(store: &Store, rows: &Rows, tsm: &Tsm) {
    use twinstore::tsm::DEFAULT_TYPE_ID;
    for twin in TWINS {
        let expected = match tsm.instances.get(twin) {
            Some(ty) => Some(*ty),
            None => rows.contains_key(twin).then_some(DEFAULT_TYPE_ID),
        };
        assert_eq!(
            store.instance(twin).map(|i| i.type_id),
            expected.map(str::to_string),
            "instance of {twin}"
        );
    }
    let mut types: Vec<String> = store.time_series_types().into_iter().map(|t| t.id).collect();
    types.sort();
    let mut expected: Vec<String> = tsm.types.keys().map(|t| t.to_string()).collect();
    expected.push(DEFAULT_TYPE_ID.into());
    expected.sort();
    assert_eq!(types, expected);
}

fn options() -> Options {
    Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false)
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
}

fn value(kind: u8, x: u8) -> Value {
    match kind % 5 {
        0 => Value::Double(f64::from(x) / 4.0 - 10.0),
        1 => Value::Long(i64::from(x) - 100),
        2 => Value::String(format!("s{}", x % 4).into()),
        3 => Value::Bool(x.is_multiple_of(2)),
        _ => Value::Removed,
    }
}

/// The model's events of `twin` in [from, to): by time, then arrival.
fn model_events(rows: &Rows, twin: &str, from: i64, to: i64) -> Vec<(i64, Vec<(String, Value)>)> {
    let mut list: Vec<_> = rows.get(twin).map(|r| r.iter().collect()).unwrap_or_default();
    list.sort_by_key(|(t, a, _)| (*t, *a));
    list.into_iter()
        .filter(|(t, _, _)| *t >= from && *t < to)
        .map(|(t, _, v)| (*t, v.clone()))
        .collect()
}

/// Each name's last value at or before `at` (removed ones left out).
fn model_state(rows: &Rows, twin: &str, at: i64) -> BTreeMap<String, Value> {
    let mut best: BTreeMap<String, (i64, u64, Value)> = BTreeMap::new();
    for (t, a, values) in rows.get(twin).into_iter().flatten() {
        if *t > at {
            continue;
        }
        for (n, v) in values {
            if best.get(n).is_none_or(|(bt, ba, _)| (*bt, *ba) < (*t, *a)) {
                best.insert(n.clone(), (*t, *a, v.clone()));
            }
        }
    }
    best.into_iter()
        .filter(|(_, (_, _, v))| *v != Value::Removed)
        .map(|(n, (_, _, v))| (n, v))
        .collect()
}

fn sorted(mut values: Vec<(String, Value)>) -> Vec<(String, Value)> {
    values.sort_by(|a, b| a.0.cmp(&b.0));
    values
}

fn check(store: &Store, rows: &Rows) {
    for twin in TWINS {
        let model = model_events(rows, twin, i64::MIN, i64::MAX);
        match store.events(&EventsQuery::new(twin)) {
            Ok(events) => {
                let got: Vec<(i64, Vec<(String, Value)>)> = events
                    .into_iter()
                    .map(|e| {
                        (
                            e.ts.as_nanos(),
                            sorted(e.values.into_iter().map(|(n, v)| (n.to_string(), v)).collect()),
                        )
                    })
                    .collect();
                let want: Vec<_> = model.iter().map(|(t, v)| (*t, sorted(v.clone()))).collect();
                assert_eq!(got, want, "events of {twin}");
            }
            Err(twinstore::Error::UnknownTwin(_)) => assert!(model.is_empty(), "{twin} unknown but has rows"),
            Err(e) => panic!("events of {twin}: {e}"),
        }
        if model.is_empty() {
            continue;
        }
        let latest = store.latest(twin).expect("latest");
        let got: BTreeMap<String, Value> = latest
            .properties
            .iter()
            .map(|p| (p.name.to_string(), p.value.clone()))
            .collect();
        // A name with two types: the newest value wins whatever its type.
        assert_eq!(got, model_state(rows, twin, i64::MAX), "latest of {twin}");
        let at = 5 * S;
        let state = store.state_at(twin, Timestamp::from_nanos(at)).expect("state_at");
        let got: BTreeMap<String, Value> = state
            .properties
            .iter()
            .map(|p| (p.name.to_string(), p.value.clone()))
            .collect();
        assert_eq!(got, model_state(rows, twin, at), "state of {twin} at 5 s");
        // Count and sum of T (Double) in 4-second buckets over [0, 16 s).
        let q = AggregateQuery::new(
            twin,
            "T",
            Timestamp::from_nanos(0),
            Timestamp::from_nanos(16 * S),
            Duration::from_secs(4),
        )
        .aggregations([Aggregation::Count, Aggregation::Sum]);
        let result = store.aggregate(&q).expect("aggregate");
        for (b, start) in (0..4).map(|b| (b, b * 4 * S)) {
            let values: Vec<f64> = model
                .iter()
                .filter(|(t, _)| *t >= start && *t < start + 4 * S)
                .flat_map(|(_, v)| v.iter())
                .filter_map(|(n, v)| match v {
                    Value::Double(x) if n == "T" => Some(*x),
                    _ => None,
                })
                .collect();
            let count = result.columns[0].1[b as usize];
            assert_eq!(count, Some(values.len() as f64), "count of {twin} bucket {b}");
            let sum = result.columns[1].1[b as usize];
            let want: f64 = values.iter().sum();
            match sum {
                None => assert!(values.is_empty()),
                Some(s) => assert!((s - want).abs() < 1e-9, "sum of {twin} bucket {b}: {s} vs {want}"),
            }
        }
        // The TSI path agrees on the count of events.
        let body = format!(
            r#"{{"aggregateSeries": {{"timeSeriesId": ["{twin}"], "searchSpan": {{"from": "1970-01-01T00:00:00Z", "to": "1970-01-01T00:00:16Z"}},
                "interval": "PT16S", "inlineVariables": {{"n": {{"kind": "aggregate", "aggregation": {{"tsx": "count()"}}}}}}}}}}"#
        );
        let answer = store.query_json(body.as_bytes()).expect("query_json");
        let in_span = model.iter().filter(|(t, _)| *t >= 0 && *t < 16 * S).count();
        assert_eq!(
            answer["properties"][0]["values"][0],
            serde_json::json!(in_span),
            "count() of {twin}"
        );
    }
}

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary directory for the store");
    let mut store = Store::open(dir.path(), options()).expect("open an empty store");
    let mut rows: Rows = BTreeMap::new();
    let mut tsm = Tsm::default();
    let mut arrivals = 0u64;
    let mut input = Input(data);
    let mut ops = 0;
    while let Some(op) = input.byte() {
        ops += 1;
        if ops > 64 {
            break;
        }
        match op % 8 {
            // A write call of 1-4 records.
            0..=3 => {
                let n = 1 + usize::from(op / 8 % 4);
                let mut records = Vec::new();
                for _ in 0..n {
                    let (Some(t), Some(w), Some(k), Some(x)) = (input.byte(), input.byte(), input.byte(), input.byte())
                    else {
                        break;
                    };
                    let twin = TWINS[usize::from(w) % TWINS.len()];
                    let ts = i64::from(t % 20) * S;
                    let mut record = Record::new(twin, Timestamp::from_nanos(ts));
                    record = record.with(NAMES[usize::from(k) % NAMES.len()], value(k / 4, x));
                    if k & 0x80 != 0 {
                        record = record.with(NAMES[(usize::from(k) + 1) % NAMES.len()], value(x, k));
                    }
                    records.push(record);
                }
                if records.is_empty() {
                    continue;
                }
                store.write(&records).expect("write");
                for r in records {
                    arrivals += 1;
                    let twin = TWINS.iter().find(|t| **t == r.twin).copied().expect("a twin of TWINS");
                    rows.entry(twin)
                        .or_default()
                        .push((r.ts.as_nanos(), arrivals, r.values));
                }
            }
            4 => store.flush().expect("flush"),
            5 => {
                store.compact().expect("compact");
            }
            6 => {
                let (Some(w), Some(a), Some(b)) = (input.byte(), input.byte(), input.byte()) else {
                    break;
                };
                let twin = TWINS[usize::from(w) % TWINS.len()];
                let (from, to) = (i64::from(a % 21) * S, i64::from(b % 21) * S);
                if !rows.contains_key(twin) {
                    continue;
                }
                if w & 0x80 != 0 {
                    store.delete_twin(twin).expect("delete_twin");
                    rows.insert(twin, Vec::new());
                } else if from <= to {
                    store
                        .delete_range(twin, Timestamp::from_nanos(from), Timestamp::from_nanos(to))
                        .expect("delete_range");
                    if let Some(r) = rows.get_mut(twin) {
                        r.retain(|(t, _, _)| *t < from || *t >= to);
                    }
                }
            }
            // A model change (7 with the high bit set).
            _ if op & 0x80 != 0 => {
                let (Some(code), Some(arg)) = (input.byte(), input.byte()) else {
                    break;
                };
                model_change(&store, &rows, &mut tsm, code, arg);
            }
            _ => {
                drop(store);
                store = Store::open(dir.path(), options()).expect("reopen");
            }
        }
        check(&store, &rows);
        check_model(&store, &rows, &tsm);
    }
    let report = store.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
}
