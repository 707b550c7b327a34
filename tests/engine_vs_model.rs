//! The engine answers like a naive in-memory model, on random operations.
//!
//! Random batches of typed records (a few twins and property names, every value type and
//! removal markers, times from a small range so that duplicates and out-of-order rows are
//! common, and sometimes hundreds of late rows at once so the late-row merge runs), with
//! reopens in between, are applied to the store and to a model that keeps every record in a
//! list. Flushes to the cold tier, compactions and deletions are mixed in, so answers come
//! from warm rows, cold files or both. Raw events (both orders, with projections, ranges and
//! limits), the latest state, the state at random instants and the counts must agree.

use std::collections::BTreeMap;

use proptest::prelude::*;
use twinstore::{Durability, EventsQuery, Options, Record, Store, Timestamp, Value};

const TWINS: [&str; 3] = ["a", "b", "c"];
const NAMES: [&str; 4] = ["T", "Mode", "n.x", "On"];

/// One stored record in the model: time, arrival number, values.
type ModelRow = (i64, usize, Vec<(String, Value)>);

#[derive(Default)]
struct Model {
    rows: BTreeMap<String, Vec<ModelRow>>,
    arrivals: usize,
}

impl Model {
    fn write(&mut self, records: &[Record]) {
        for r in records {
            self.arrivals += 1;
            self.rows
                .entry(r.twin.clone())
                .or_default()
                .push((r.ts.as_nanos(), self.arrivals, r.values.clone()));
        }
    }

    fn delete(&mut self, twin: &str, from: i64, to: i64) {
        if let Some(rows) = self.rows.get_mut(twin) {
            rows.retain(|(t, _, _)| *t < from || *t >= to);
        }
    }

    /// Events of `twin` in [from, to), by (time, arrival), projected, limited.
    fn events(
        &self,
        twin: &str,
        from: i64,
        to: i64,
        props: Option<&[String]>,
        desc: bool,
        limit: usize,
    ) -> Vec<(i64, Vec<(String, Value)>)> {
        let mut rows: Vec<&ModelRow> = self.rows.get(twin).map(|r| r.iter().collect()).unwrap_or_default();
        rows.sort_by_key(|(t, a, _)| (*t, *a));
        if desc {
            rows.reverse();
        }
        rows.into_iter()
            .filter(|(t, _, _)| *t >= from && *t < to)
            .filter_map(|(t, _, values)| {
                let kept: Vec<(String, Value)> = values
                    .iter()
                    .filter(|(n, _)| props.is_none_or(|p| p.contains(n)))
                    .cloned()
                    .collect();
                (!kept.is_empty()).then_some((*t, kept))
            })
            .take(limit)
            .collect()
    }

    /// Each property's last value at or before `at` (removed ones left out).
    fn state_at(&self, twin: &str, at: i64) -> BTreeMap<String, (i64, Value)> {
        let mut best: BTreeMap<String, (i64, usize, Value)> = BTreeMap::new();
        for (t, a, values) in self.rows.get(twin).into_iter().flatten() {
            if *t > at {
                continue;
            }
            for (name, value) in values {
                if best.get(name).is_none_or(|(bt, ba, _)| (*bt, *ba) < (*t, *a)) {
                    best.insert(name.clone(), (*t, *a, value.clone()));
                }
            }
        }
        best.into_iter()
            .filter(|(_, (_, _, v))| *v != Value::Removed)
            .map(|(n, (t, _, v))| (n, (t, v)))
            .collect()
    }
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-1000i32..1000).prop_map(|v| Value::Double(f64::from(v) / 4.0)),
        (-5i64..5).prop_map(Value::Long),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec!["heat", "auto", "off"]).prop_map(Value::from),
        Just(Value::Removed),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        prop::sample::select(TWINS.to_vec()),
        0i64..60,
        prop::collection::btree_map(prop::sample::select(NAMES.to_vec()), value(), 1..4),
    )
        .prop_map(|(twin, t, values)| Record {
            twin: twin.to_string(),
            ts: Timestamp::from_nanos(t * 1_000),
            values: values.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
        })
}

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<Record>),
    /// Many rows of one twin going back in time, to force late-row merges.
    LateFlood(String, usize),
    /// Thousands of rows of one twin, so cold chunks have several row groups.
    Bulk(String, usize),
    Reopen,
    Flush,
    Compact,
    Delete(String, i64, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop::collection::vec(record(), 1..12).prop_map(Op::Write),
        1 => (prop::sample::select(TWINS.to_vec()), 300usize..700).prop_map(|(t, n)| Op::LateFlood(t.to_string(), n)),
        1 => (prop::sample::select(TWINS.to_vec()), 2000usize..5000).prop_map(|(t, n)| Op::Bulk(t.to_string(), n)),
        1 => Just(Op::Reopen),
        3 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => (prop::sample::select(TWINS.to_vec()), 0i64..60, 0i64..70)
            .prop_map(|(t, a, b)| Op::Delete(t.to_string(), a * 1_000, b * 1_000)),
    ]
}

fn open(dir: &std::path::Path) -> Store {
    // Maintenance only when the test asks for it, so every run is reproducible.
    let options = Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false);
    Store::open(dir, options).expect("open")
}

fn check(store: &Store, model: &Model, probes: &[(i64, i64, usize, bool)]) {
    for twin in TWINS {
        let latest = match store.latest(twin) {
            Ok(latest) => latest,
            Err(twinstore::Error::UnknownTwin(_)) => {
                assert!(!model.rows.contains_key(twin), "{twin} missing from the store");
                continue;
            }
            Err(e) => panic!("latest({twin}): {e}"),
        };
        let expected = model.state_at(twin, i64::MAX);
        let got: BTreeMap<String, (i64, Value)> = latest
            .properties
            .iter()
            .map(|p| (p.name.to_string(), (p.ts.as_nanos(), p.value.clone())))
            .collect();
        assert_eq!(got, expected, "latest({twin})");
        let rows = model.rows.get(twin).map_or(&[][..], Vec::as_slice);
        let info = store.twin_info(twin).expect("twin_info");
        assert_eq!(info.records, rows.len() as u64, "records of {twin}");
        let points: u64 = rows.iter().map(|(_, _, v)| v.len() as u64).sum();
        assert_eq!(info.points, points, "points of {twin}");
        let counted: u64 = store.schema(twin).expect("schema").iter().map(|p| p.count).sum();
        let removals = rows
            .iter()
            .flat_map(|(_, _, v)| v)
            .filter(|(_, v)| *v == Value::Removed)
            .count() as u64;
        assert_eq!(counted + removals, points, "schema counts of {twin}");
        for &(from, to, limit, desc) in probes {
            let (from, to) = (from * 1_000, to * 1_000);
            let state = store.state_at(twin, Timestamp::from_nanos(from)).expect("state");
            let got: BTreeMap<String, (i64, Value)> = state
                .properties
                .iter()
                .map(|p| (p.name.to_string(), (p.ts.as_nanos(), p.value.clone())))
                .collect();
            assert_eq!(got, model.state_at(twin, from), "state_at({twin}, {from})");
            for props in [None, Some(vec!["T".to_string(), "On".to_string()])] {
                let mut q = EventsQuery::new(twin)
                    .from(Timestamp::from_nanos(from))
                    .to(Timestamp::from_nanos(to))
                    .limit(limit);
                if let Some(p) = &props {
                    q = q.properties(p.clone());
                }
                if desc {
                    q = q.descending();
                }
                let got: Vec<(i64, Vec<(String, Value)>)> = store
                    .events(&q)
                    .expect("events")
                    .into_iter()
                    .map(|e| {
                        let mut values: Vec<(String, Value)> =
                            e.values.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
                        values.sort_by(|a, b| a.0.cmp(&b.0));
                        (e.ts.as_nanos(), values)
                    })
                    .collect();
                let expected: Vec<(i64, Vec<(String, Value)>)> = model
                    .events(twin, from, to, props.as_deref(), desc, limit)
                    .into_iter()
                    .map(|(t, mut values)| {
                        values.sort_by(|a, b| a.0.cmp(&b.0));
                        (t, values)
                    })
                    .collect();
                assert_eq!(
                    got, expected,
                    "events({twin}, [{from}, {to}), {props:?}, desc {desc}, limit {limit})"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn engine_matches_model(
        ops in prop::collection::vec(op(), 1..25),
        probes in prop::collection::vec((0i64..60, 0i64..70, 1usize..50, any::<bool>()), 3),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = open(dir.path());
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Write(records) => {
                    store.write(&records).expect("write");
                    model.write(&records);
                }
                Op::LateFlood(twin, n) => {
                    // One row far in the future, then n rows going back in time.
                    let mut records = vec![Record::new(&twin, Timestamp::from_nanos(100_000)).with("T", 1.5)];
                    for i in 0..n {
                        let t = Timestamp::from_nanos(59_000 - (i as i64 % 59) * 1_000);
                        records.push(Record::new(&twin, t).with("n.x", i as i64));
                    }
                    store.write(&records).expect("write");
                    model.write(&records);
                }
                Op::Bulk(twin, n) => {
                    let records: Vec<Record> = (0..n)
                        .map(|i| {
                            let r = Record::new(&twin, Timestamp::from_nanos((i as i64 * 7919) % 61_000));
                            if i % 3 == 0 { r.with("T", i as f64 / 8.0) } else { r.with("Mode", "auto").with("n.x", i as i64) }
                        })
                        .collect();
                    store.write(&records).expect("write");
                    model.write(&records);
                }
                Op::Reopen => {
                    drop(store);
                    store = open(dir.path());
                }
                Op::Flush => store.flush().expect("flush"),
                Op::Compact => {
                    store.compact().expect("compact");
                }
                Op::Delete(twin, from, to) => {
                    match store.delete_range(&twin, Timestamp::from_nanos(from), Timestamp::from_nanos(to)) {
                        Ok(()) => model.delete(&twin, from, to),
                        Err(twinstore::Error::UnknownTwin(_)) => assert!(!model.rows.contains_key(&twin)),
                        Err(e) => panic!("delete: {e}"),
                    }
                }
            }
            check(&store, &model, &probes);
        }
    }
}
