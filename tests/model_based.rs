//! The store answers exactly like a naive in-memory model, whatever the order of writes.
//!
//! The guarantee: for any sequence of write calls of typed records (a handful of twins and
//! property names, values of every kind including removal markers, times from a small range so
//! that equal times and out-of-order rows are the rule, bursts of hundreds of late rows so the
//! warm tier's late-row merge runs, now and then an invalid record), reopens (WAL replay) and
//! queries, the store's raw events (both orders, ranges, projections, limits), latest values,
//! state at any instant, schema, twin list and sizes equal those of a model that keeps every
//! accepted record in a list: events sorted stably by (time, arrival) and filtered on
//! `[from, to)` and the projection; the state at `t` holds, per property name, the value of the
//! newest (time, arrival) record at or before `t` that names it, left out when that value is a
//! removal.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use common::{event_view, state_view, temp_store, utc_nanos};
use proptest::prelude::*;
use twinstore::{Durability, Error, EventsQuery, Options, Record, Store, Timestamp, Value, ValueType};

const TWINS: [&str; 4] = ["t0", "t1", "twin-é", "t3"];
const NAMES: [&str; 5] = ["a", "b", "c", "d.e", "Front.Temperature"];
/// Times are `BASE + k` seconds with `k` in `0..SPAN`.
const SPAN: i64 = 40;

fn base() -> i64 {
    utc_nanos(2026, 1, 1, 0, 0, 0, 0)
}

fn at(k: i64) -> Timestamp {
    Timestamp::from_nanos(base() + k * 1_000_000_000)
}

/// A value, as generated.
#[derive(Clone, Debug)]
enum Val {
    Double(i8),
    Long(i64),
    Bool(bool),
    Str(u8),
    Date(i64),
    Removed,
}

impl Val {
    fn value(&self) -> Value {
        match self {
            Val::Double(k) => Value::Double(f64::from(*k) * 0.25),
            Val::Long(v) => Value::Long(*v),
            Val::Bool(b) => Value::Bool(*b),
            Val::Str(k) => Value::String(["", "x", "héllo", "a\nb", "2026-01-01T00:00:00Z"][*k as usize % 5].into()),
            Val::Date(k) => Value::DateTime(at(*k)),
            Val::Removed => Value::Removed,
        }
    }
}

#[derive(Clone, Debug)]
struct Rec {
    twin: usize,
    ts: i64,
    values: Vec<(usize, Val)>,
}

impl Rec {
    fn record(&self) -> Record {
        Record {
            twin: TWINS[self.twin].to_string(),
            ts: at(self.ts),
            values: self
                .values
                .iter()
                .map(|(n, v)| (NAMES[*n].to_string(), v.value()))
                .collect(),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// One write call.
    Write(Vec<Rec>),
    /// Hundreds of records of one twin, most older than the newest (late), in several calls.
    Burst {
        calls: Vec<Vec<Rec>>,
    },
    Reopen,
    Events {
        twin: usize,
        from: Option<i64>,
        to: Option<i64>,
        props: Option<Vec<usize>>,
        limit: Option<usize>,
        desc: bool,
    },
    StateAt {
        twin: usize,
        at: i64,
    },
    Latest {
        twin: usize,
    },
    Schema {
        twin: usize,
    },
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![
        3 => any::<i8>().prop_map(Val::Double),
        3 => prop_oneof![Just(i64::MIN), Just(i64::MAX), -3i64..4].prop_map(Val::Long),
        2 => any::<bool>().prop_map(Val::Bool),
        2 => any::<u8>().prop_map(Val::Str),
        1 => (0..SPAN).prop_map(Val::Date),
        2 => Just(Val::Removed),
    ]
}

/// Values with distinct names, or (rarely) a name twice, which the store must reject.
fn values() -> impl Strategy<Value = Vec<(usize, Val)>> {
    (
        proptest::collection::btree_map(0..NAMES.len(), val(), 1..4),
        proptest::bool::weighted(0.03),
    )
        .prop_map(|(map, duplicate)| {
            let mut values: Vec<(usize, Val)> = map.into_iter().collect();
            if duplicate {
                let first = values[0].0;
                values.push((first, Val::Bool(true)));
            }
            values
        })
}

fn rec(twin: impl Strategy<Value = usize>) -> impl Strategy<Value = Rec> {
    (twin, 0..SPAN, values()).prop_map(|(twin, ts, values)| Rec { twin, ts, values })
}

fn burst() -> impl Strategy<Value = Op> {
    (0..TWINS.len(), 300usize..700, 1usize..4)
        .prop_flat_map(|(twin, rows, calls)| {
            (
                proptest::collection::vec(rec(Just(twin)), rows),
                proptest::collection::vec(0..rows, calls - 1),
            )
        })
        .prop_map(|(rows, mut cuts)| {
            cuts.sort_unstable();
            let mut calls = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([rows.len()]) {
                calls.push(rows[start..cut.max(start)].to_vec());
                start = cut.max(start);
            }
            Op::Burst { calls }
        })
}

fn op() -> impl Strategy<Value = Op> {
    let twin = 0..TWINS.len();
    let time = proptest::option::weighted(0.8, -1..SPAN + 1);
    prop_oneof![
        8 => proptest::collection::vec(rec(0..TWINS.len()), 1..12).prop_map(Op::Write),
        1 => burst(),
        1 => Just(Op::Reopen),
        4 => (
            twin.clone(),
            time.clone(),
            time,
            proptest::option::of(proptest::collection::vec(0..NAMES.len() + 1, 0..3)),
            proptest::option::of(0usize..6),
            any::<bool>(),
        )
            .prop_map(|(twin, from, to, props, limit, desc)| Op::Events { twin, from, to, props, limit, desc }),
        2 => (twin.clone(), -1..SPAN + 1).prop_map(|(twin, at)| Op::StateAt { twin, at }),
        1 => twin.clone().prop_map(|twin| Op::Latest { twin }),
        1 => twin.prop_map(|twin| Op::Schema { twin }),
    ]
}

type View = (Timestamp, Vec<(String, Value)>);

/// One accepted record in the model.
struct Row {
    ts: Timestamp,
    arrival: u64,
    values: Vec<(String, Value)>,
}

/// The naive model: every accepted record, per twin, in arrival order.
#[derive(Default)]
struct Model {
    /// Twins in order of first accepted record.
    order: Vec<String>,
    rows: BTreeMap<String, Vec<Row>>,
    arrivals: u64,
    /// Per twin, row indexes in (time, arrival) order; dropped when the twin is written.
    order_cache: RefCell<BTreeMap<String, Rc<Vec<usize>>>>,
}

impl Model {
    /// Applies one write call; returns the 1-based indexes of the records it rejects.
    fn write(&mut self, records: &[Record]) -> Vec<u64> {
        let mut rejected = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let mut names: Vec<&str> = r.values.iter().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            if names.windows(2).any(|w| w[0] == w[1]) {
                rejected.push(i as u64 + 1);
                continue;
            }
            self.arrivals += 1;
            self.order_cache.get_mut().remove(&r.twin);
            if !self.rows.contains_key(&r.twin) {
                self.order.push(r.twin.clone());
            }
            let mut values = r.values.clone();
            values.sort_by(|a, b| a.0.cmp(&b.0));
            self.rows.entry(r.twin.clone()).or_default().push(Row {
                ts: r.ts,
                arrival: self.arrivals,
                values,
            });
        }
        rejected
    }

    fn sorted(&self, twin: &str) -> Vec<&Row> {
        let Some(rows) = self.rows.get(twin) else {
            return Vec::new();
        };
        let order = self
            .order_cache
            .borrow_mut()
            .entry(twin.to_string())
            .or_insert_with(|| {
                let mut order: Vec<usize> = (0..rows.len()).collect();
                order.sort_by_key(|&i| (rows[i].ts, rows[i].arrival));
                Rc::new(order)
            })
            .clone();
        order.iter().map(|&i| &rows[i]).collect()
    }

    fn events(&self, q: &EventsQuery) -> Vec<View> {
        let mut rows = self.sorted(&q.twin);
        if q.order == twinstore::Order::Descending {
            rows.reverse();
        }
        rows.into_iter()
            .filter(|r| q.from.is_none_or(|f| r.ts >= f) && q.to.is_none_or(|t| r.ts < t))
            .filter_map(|r| {
                let kept: Vec<(String, Value)> = r
                    .values
                    .iter()
                    .filter(|(n, _)| q.properties.as_ref().is_none_or(|p| p.contains(n)))
                    .cloned()
                    .collect();
                (!kept.is_empty()).then_some((r.ts, kept))
            })
            .take(q.limit.unwrap_or(usize::MAX))
            .collect()
    }

    fn state(&self, twin: &str, at: Option<Timestamp>) -> BTreeMap<String, (Value, Timestamp)> {
        let mut out = BTreeMap::new();
        for row in self.sorted(twin) {
            if at.is_some_and(|at| row.ts > at) {
                break;
            }
            for (name, value) in &row.values {
                if *value == Value::Removed {
                    out.remove(name);
                } else {
                    out.insert(name.clone(), (value.clone(), row.ts));
                }
            }
        }
        out
    }

    fn schema(&self, twin: &str) -> Vec<(String, ValueType, u64)> {
        let mut counts: BTreeMap<(String, ValueType), u64> = BTreeMap::new();
        for row in self.rows.get(twin).into_iter().flatten() {
            for (name, value) in &row.values {
                if *value != Value::Removed {
                    *counts.entry((name.clone(), value.value_type())).or_default() += 1;
                }
            }
        }
        counts.into_iter().map(|((n, t), c)| (n, t, c)).collect()
    }

    /// Records and points (removal markers count as written values).
    fn sizes(&self, twin: &str) -> (u64, u64) {
        let rows = self.rows.get(twin).map_or(&[][..], |r| r.as_slice());
        (rows.len() as u64, rows.iter().map(|r| r.values.len() as u64).sum())
    }
}

struct Harness {
    dir: tempfile::TempDir,
    store: Option<Store>,
    model: Model,
}

fn options() -> Options {
    Options::default().durability(Durability::NoSync)
}

impl Harness {
    fn new() -> Self {
        let (dir, store) = temp_store(options());
        Harness {
            dir,
            store: Some(store),
            model: Model::default(),
        }
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("store open")
    }

    fn write(&mut self, recs: &[Rec]) {
        let records: Vec<Record> = recs.iter().map(Rec::record).collect();
        self.write_records(&records);
    }

    fn write_records(&mut self, records: &[Record]) {
        let report = self.store().write(records).expect("write");
        let rejected = self.model.write(records);
        let got: Vec<u64> = report.rejected.iter().map(|e| e.line).collect();
        assert_eq!(got, rejected, "rejected records");
        assert_eq!(report.records, (records.len() - rejected.len()) as u64);
        for e in &report.rejected {
            assert!(e.field.is_some(), "a duplicate names its field: {e}");
        }
    }

    fn reopen(&mut self) {
        drop(self.store.take());
        self.store = Some(Store::open(self.dir.path(), options()).expect("reopen"));
    }

    fn known(&self, twin: &str) -> bool {
        self.model.rows.contains_key(twin)
    }

    fn check_events(&self, q: &EventsQuery) {
        match self.store().events(q) {
            Ok(events) => {
                assert!(self.known(&q.twin), "events of unknown twin {}", q.twin);
                let got: Vec<View> = events.iter().map(event_view).collect();
                assert_eq!(got, self.model.events(q), "{q:?}");
            }
            Err(Error::UnknownTwin(t)) => assert!(!self.known(&t), "{t} is known"),
            Err(e) => panic!("{q:?}: {e}"),
        }
    }

    fn check_state(&self, twin: &str, at: Option<Timestamp>) {
        let result = match at {
            Some(at) => self.store().state_at(twin, at),
            None => self.store().latest(twin),
        };
        match result {
            Ok(state) => {
                assert!(self.known(twin));
                assert_eq!(&*state.twin, twin);
                assert_eq!(state.at, at);
                assert_eq!(state_view(&state), self.model.state(twin, at), "{twin} at {at:?}");
            }
            Err(Error::UnknownTwin(t)) => assert!(!self.known(&t)),
            Err(e) => panic!("{twin}: {e}"),
        }
    }

    fn check_schema(&self, twin: &str) {
        match self.store().schema(twin) {
            Ok(schema) => {
                let mut got: Vec<(String, ValueType, u64)> = schema
                    .into_iter()
                    .map(|p| (p.name.to_string(), p.value_type, p.count))
                    .collect();
                got.sort();
                assert_eq!(got, self.model.schema(twin), "schema of {twin}");
            }
            Err(Error::UnknownTwin(t)) => assert!(!self.known(&t)),
            Err(e) => panic!("{twin}: {e}"),
        }
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Write(recs) => self.write(recs),
            Op::Burst { calls } => {
                for call in calls {
                    if !call.is_empty() {
                        self.write(call);
                    }
                }
            }
            Op::Reopen => self.reopen(),
            Op::Events {
                twin,
                from,
                to,
                props,
                limit,
                desc,
            } => {
                let mut q = EventsQuery::new(TWINS[*twin]);
                if let Some(f) = from {
                    q = q.from(at(*f));
                }
                if let Some(t) = to {
                    q = q.to(at(*t));
                }
                if let Some(p) = props {
                    // Index NAMES.len() is a name never written.
                    q = q.properties(p.iter().map(|&i| NAMES.get(i).copied().unwrap_or("never")));
                }
                if let Some(l) = limit {
                    q = q.limit(*l);
                }
                if *desc {
                    q = q.descending();
                }
                self.check_events(&q);
            }
            Op::StateAt { twin, at: k } => self.check_state(TWINS[*twin], Some(at(*k))),
            Op::Latest { twin } => self.check_state(TWINS[*twin], None),
            Op::Schema { twin } => self.check_schema(TWINS[*twin]),
        }
    }

    /// Every query over every twin.
    fn check_all(&self) {
        let mut twins: Vec<&str> = TWINS.to_vec();
        twins.extend(
            self.model
                .order
                .iter()
                .map(String::as_str)
                .filter(|t| !TWINS.contains(t)),
        );
        for twin in twins {
            let mut names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
            // A few of the twin's other names too (wide twins have dozens).
            names.extend(self.model.schema(twin).into_iter().map(|(n, _, _)| n).take(6));
            names.sort();
            names.dedup();
            self.check_events(&EventsQuery::new(twin));
            self.check_events(&EventsQuery::new(twin).descending());
            self.check_events(&EventsQuery::new(twin).descending().limit(3));
            self.check_events(&EventsQuery::new(twin).from(at(10)).to(at(30)).limit(5));
            self.check_events(&EventsQuery::new(twin).from(at(10)).to(at(30)).descending().limit(5));
            for name in &names {
                self.check_events(&EventsQuery::new(twin).properties([name]));
                self.check_events(&EventsQuery::new(twin).properties([name]).descending().limit(2));
            }
            self.check_state(twin, None);
            for k in (-1..=SPAN).step_by(3) {
                self.check_state(twin, Some(at(k)));
            }
            // Just before an instant: one nanosecond matters.
            self.check_state(twin, Some(Timestamp::from_nanos(at(20).as_nanos() - 1)));
            self.check_schema(twin);
        }
        let twins = self.store().twins().expect("twins");
        assert_eq!(
            twins.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            self.model.order,
            "twins in order of first appearance"
        );
        let (mut records, mut points) = (0, 0);
        for info in &twins {
            let (r, p) = self.model.sizes(&info.id);
            assert_eq!((info.records, info.points), (r, p), "{}", info.id);
            let rows = self.model.sorted(&info.id);
            let range = rows.first().map(|f| f.ts).zip(rows.last().map(|l| l.ts));
            assert_eq!(info.time_range, range, "{}", info.id);
            assert_eq!(info.model, None);
            records += r;
            points += p;
        }
        let stats = self.store().stats();
        assert_eq!(
            (stats.twins, stats.records, stats.points),
            (self.model.order.len() as u64, records, points)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn store_matches_the_model(ops in proptest::collection::vec(op(), 1..25)) {
        let mut h = Harness::new();
        for op in &ops {
            h.run(op);
        }
        h.check_all();
        h.reopen();
        h.check_all();
    }
}

/// A deterministic, late-heavy history (thousands of rows, most of them older than the
/// newest row of their twin, spread over many calls) so that the late-row merge runs many
/// times, checked against the model after every few calls and after a reopen.
#[test]
fn long_late_heavy_history_matches_the_model() {
    let mut h = Harness::new();
    // A small linear congruential generator: reproducible without a seed file.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let vals = [
        Val::Double(3),
        Val::Long(7),
        Val::Bool(true),
        Val::Str(2),
        Val::Date(5),
        Val::Removed,
        Val::Double(-8),
        Val::Long(-1),
    ];
    for call in 0..60 {
        let twin = if call % 5 == 4 {
            next(TWINS.len() as u64) as usize
        } else {
            0
        };
        let rows = 20 + next(200) as usize;
        let recs: Vec<Rec> = (0..rows)
            .map(|_| {
                let n = 1 + next(3) as usize;
                let mut names: Vec<usize> = (0..NAMES.len()).collect();
                let values = (0..n)
                    .map(|_| {
                        let name = names.remove(next(names.len() as u64) as usize);
                        (name, vals[next(vals.len() as u64) as usize].clone())
                    })
                    .collect();
                Rec {
                    twin,
                    // Mostly within the range already written, sometimes a new newest time.
                    ts: next(SPAN as u64) as i64,
                    values,
                }
            })
            .collect();
        h.write(&recs);
        if call % 10 == 9 {
            h.check_all();
        }
        if call == 30 {
            h.reopen();
            h.check_all();
        }
    }
    h.check_all();
    h.reopen();
    h.check_all();
}

/// Write calls large enough to be encoded and applied on several threads (one twin alone, and
/// many twins interleaved), twins with more columns than a linear lookup covers, and a
/// reopen: the same answers as the model.
#[test]
fn large_calls_and_wide_twins_match_the_model() {
    let mut h = Harness::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let names: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
    let value = |next: &mut dyn FnMut(u64) -> u64| -> Value {
        match next(5) {
            0 => Value::Double(next(100) as f64 / 8.0),
            1 => Value::Long(next(1000) as i64 - 500),
            2 => Value::Bool(next(2) == 0),
            3 => Value::String(format!("s{}", next(10)).into()),
            _ => Value::Removed,
        }
    };
    let record = |twin: String, next: &mut dyn FnMut(u64) -> u64| -> Record {
        let mut r = Record::new(twin, at(next(SPAN as u64) as i64));
        let mut picked: Vec<usize> = Vec::new();
        for _ in 0..1 + next(4) {
            let i = next(names.len() as u64) as usize;
            if !picked.contains(&i) {
                picked.push(i);
                r.values.push((names[i].clone(), value(next)));
            }
        }
        r
    };
    // One twin, 25,000 records in one call.
    let single: Vec<Record> = (0..25_000).map(|_| record("solo".to_string(), &mut next)).collect();
    h.write_records(&single);
    // 60 twins interleaved, 30,000 records in one call.
    let many: Vec<Record> = (0..30_000)
        .map(|_| {
            let twin = format!("fleet-{}", next(60));
            record(twin, &mut next)
        })
        .collect();
    h.write_records(&many);
    // A small call of late rows afterwards, to the same twins.
    let late: Vec<Record> = (0..500)
        .map(|i| {
            let twin = if i % 2 == 0 {
                "solo".to_string()
            } else {
                format!("fleet-{}", next(60))
            };
            record(twin, &mut next)
        })
        .collect();
    h.write_records(&late);
    assert!(h.model.schema("solo").len() > 16, "the solo twin has many columns");
    h.check_all();
    h.reopen();
    h.check_all();
}
