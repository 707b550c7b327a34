//! The engine answers like a naive in-memory model, on random operations.
//!
//! Random batches of typed records (a few twins and property names, every value type and
//! removal markers, times from a small range so that duplicates and out-of-order rows are
//! common, and sometimes hundreds of late rows at once so the late-row merge runs), with
//! reopens in between, are applied to the store and to a model that keeps every record in a
//! list. Raw events (both orders, with projections, ranges and limits), the latest state and
//! the state at random instants must agree.

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
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop::collection::vec(record(), 1..12).prop_map(Op::Write),
        1 => (prop::sample::select(TWINS.to_vec()), 300usize..700).prop_map(|(t, n)| Op::LateFlood(t.to_string(), n)),
        1 => Just(Op::Reopen),
    ]
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Options::default().durability(Durability::NoSync)).expect("open")
}

fn check(store: &Store, model: &Model, probes: &[(i64, i64, usize, bool)]) {
    for twin in TWINS {
        let Ok(latest) = store.latest(twin) else {
            assert!(!model.rows.contains_key(twin), "{twin} missing from the store");
            continue;
        };
        let expected = model.state_at(twin, i64::MAX);
        let got: BTreeMap<String, (i64, Value)> = latest
            .properties
            .iter()
            .map(|p| (p.name.to_string(), (p.ts.as_nanos(), p.value.clone())))
            .collect();
        assert_eq!(got, expected, "latest({twin})");
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
                Op::Reopen => {
                    drop(store);
                    store = open(dir.path());
                }
            }
            check(&store, &model, &probes);
        }
    }
}
