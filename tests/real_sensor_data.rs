//! Real station data reads back exactly, whole or in chunks, before and after a reopen.
//!
//! The guarantee: 75,844 real flattened twin-update records (BSRN station Payerne, June 2016)
//! ingested through the flat NDJSON path, in one call or in several calls with `first_line`,
//! are all kept with their exact times and values; raw-event queries (full, projected, one
//! hour, descending with a limit), `latest`, `state_at` (before the first update, exactly at
//! an update, between two updates) and the schema agree with an independent model built by
//! reading every line with `serde_json`; and a store reopened from its write-ahead log gives
//! the same answers.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use common::{event_view, events_view, parse_utc, reopen, state_view, temp_store, utc};
use twinstore::{EventsQuery, IngestOptions, InputFormat, Options, Store, Timestamp, Value, ValueType};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/payerne-bsrn-2016-06.ndjson.zst"
);
const RECORDS: usize = 75_844;
const MET: &str = "payerne-bsrn-met";
const RADIATION: &str = "payerne-bsrn-radiation";

type View = (Timestamp, Vec<(String, Value)>);

/// The independent model: per twin, its rows in input order.
struct Model {
    text: Vec<u8>,
    /// Twins in order of first appearance.
    twins: Vec<String>,
    rows: BTreeMap<String, Vec<View>>,
    points: u64,
}

impl Model {
    fn rows(&self, twin: &str) -> &[View] {
        &self.rows[twin]
    }

    /// Rows of `twin` in `[from, to)`, in (time, arrival) order, projected on `props`.
    fn events(&self, twin: &str, from: Option<Timestamp>, to: Option<Timestamp>, props: Option<&[&str]>) -> Vec<View> {
        let mut out: Vec<View> = self
            .rows(twin)
            .iter()
            .filter(|(ts, _)| from.is_none_or(|f| *ts >= f) && to.is_none_or(|t| *ts < t))
            .filter_map(|(ts, values)| {
                let kept: Vec<(String, Value)> = values
                    .iter()
                    .filter(|(n, _)| props.is_none_or(|p| p.contains(&n.as_str())))
                    .cloned()
                    .collect();
                (!kept.is_empty()).then_some((*ts, kept))
            })
            .collect();
        out.sort_by_key(|(ts, _)| *ts); // stable: ties stay in arrival order
        out
    }

    /// Per property, its last value at or before `at` (all values when `None`).
    fn state(&self, twin: &str, at: Option<Timestamp>) -> BTreeMap<String, (Value, Timestamp)> {
        let mut out = BTreeMap::new();
        for (ts, values) in self.events(twin, None, None, None) {
            if at.is_some_and(|at| ts > at) {
                continue;
            }
            for (name, value) in values {
                if value == Value::Removed {
                    out.remove(&name);
                } else {
                    out.insert(name, (value, ts));
                }
            }
        }
        out
    }

    /// `(name, type) -> count` for every property of `twin`.
    fn schema(&self, twin: &str) -> Vec<(String, ValueType, u64)> {
        let mut counts: BTreeMap<(String, ValueType), u64> = BTreeMap::new();
        for (_, values) in self.rows(twin) {
            for (name, value) in values {
                *counts.entry((name.clone(), value.value_type())).or_default() += 1;
            }
        }
        counts.into_iter().map(|((n, t), c)| (n, t, c)).collect()
    }

    fn property_names(&self, twin: &str) -> Vec<String> {
        let mut names: Vec<String> = self.schema(twin).into_iter().map(|(n, _, _)| n).collect();
        names.dedup();
        names
    }
}

/// Types a JSON value the way the documentation says (integer Long, fraction Double, ...).
fn model_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Number(n) if n.is_i64() => Value::Long(n.as_i64().expect("i64")),
        serde_json::Value::Number(n) => Value::Double(n.as_f64().expect("f64")),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Null => Value::Removed,
        serde_json::Value::String(s) => Value::String(s.as_str().into()),
        other => panic!("the fixture has no {other}"),
    }
}

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let file = std::fs::File::open(FIXTURE).expect("open the Payerne fixture");
        let mut text = Vec::new();
        zstd::stream::read::Decoder::new(file)
            .expect("zstd decoder")
            .read_to_end(&mut text)
            .expect("decompress the Payerne fixture");
        let mut model = Model {
            text: Vec::new(),
            twins: Vec::new(),
            rows: BTreeMap::new(),
            points: 0,
        };
        let mut lines = 0;
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            lines += 1;
            let record: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(line).expect("the fixture is JSON objects");
            let twin = record["$dtId"].as_str().expect("$dtId").to_string();
            let ts = parse_utc(record["$ts"].as_str().expect("$ts"));
            let mut values: Vec<(String, Value)> = record
                .iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), model_value(v)))
                .collect();
            values.sort_by(|a, b| a.0.cmp(&b.0));
            model.points += values.len() as u64;
            if !model.rows.contains_key(&twin) {
                model.twins.push(twin.clone());
            }
            model.rows.entry(twin).or_default().push((ts, values));
        }
        assert_eq!(lines, RECORDS, "the fixture's README says {RECORDS} records");
        assert_eq!(model.twins, [MET, RADIATION]);
        model.text = text;
        model
    })
}

/// Checks every answer of `store` against the model.
fn check(store: &Store, model: &Model) {
    let stats = store.stats();
    assert_eq!(
        (stats.twins, stats.records, stats.points),
        (2, RECORDS as u64, model.points)
    );
    let twins: Vec<_> = store.twins().expect("twins");
    assert_eq!(
        twins.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        model.twins,
        "twins in order of first appearance"
    );
    for info in &twins {
        let rows = model.rows(&info.id);
        assert_eq!(info.records, rows.len() as u64, "{}", info.id);
        let points: usize = rows.iter().map(|(_, v)| v.len()).sum();
        assert_eq!(info.points, points as u64, "{}", info.id);
        assert_eq!(info.model, None);
        let first = rows.iter().map(|(t, _)| *t).min();
        let last = rows.iter().map(|(t, _)| *t).max();
        assert_eq!(info.time_range, first.zip(last), "{}", info.id);
    }

    for twin in [MET, RADIATION] {
        // Schema.
        let mut schema: Vec<(String, ValueType, u64)> = store
            .schema(twin)
            .expect("schema")
            .into_iter()
            .map(|p| (p.name.to_string(), p.value_type, p.count))
            .collect();
        schema.sort();
        assert_eq!(schema, model.schema(twin), "schema of {twin}");

        // Every event.
        let all = store.events(&EventsQuery::new(twin)).expect("events");
        assert_eq!(
            events_view(&all),
            model.events(twin, None, None, None),
            "all events of {twin}"
        );

        // Each property's full sequence through a projection.
        for name in model.property_names(twin) {
            let got = store
                .events(&EventsQuery::new(twin).properties([name.as_str()]))
                .expect("events");
            let expected = model.events(twin, None, None, Some(&[name.as_str()]));
            assert!(!expected.is_empty());
            assert_eq!(events_view(&got), expected, "{twin} / {name}");
        }

        // Latest.
        let latest = state_view(&store.latest(twin).expect("latest"));
        assert_eq!(latest, model.state(twin, None), "latest of {twin}");

        // One hour, with and without a projection.
        let (from, to) = (utc(2016, 6, 10, 10, 0, 0, 0), utc(2016, 6, 10, 11, 0, 0, 0));
        let hour = store.events(&EventsQuery::new(twin).from(from).to(to)).expect("events");
        let expected = model.events(twin, Some(from), Some(to), None);
        assert!(expected.len() > 30, "{twin} changes most minutes");
        assert_eq!(events_view(&hour), expected, "one hour of {twin}");
        assert!(expected.iter().all(|(t, _)| *t >= from && *t < to));
        let first_name = model.property_names(twin).remove(0);
        let hour_one = store
            .events(
                &EventsQuery::new(twin)
                    .from(from)
                    .to(to)
                    .properties([first_name.as_str()]),
            )
            .expect("events");
        assert_eq!(
            events_view(&hour_one),
            model.events(twin, Some(from), Some(to), Some(&[first_name.as_str()]))
        );

        // Newest first with a limit: the whole history and inside a range with a projection.
        let newest = store
            .events(&EventsQuery::new(twin).descending().limit(25))
            .expect("events");
        let mut expected = model.events(twin, None, None, None);
        expected.reverse();
        expected.truncate(25);
        assert_eq!(events_view(&newest), expected, "newest 25 of {twin}");
        let newest_in_hour = store
            .events(
                &EventsQuery::new(twin)
                    .from(from)
                    .to(to)
                    .properties([first_name.as_str()])
                    .descending()
                    .limit(7),
            )
            .expect("events");
        let mut expected = model.events(twin, Some(from), Some(to), Some(&[first_name.as_str()]));
        expected.reverse();
        expected.truncate(7);
        assert_eq!(events_view(&newest_in_hour), expected);

        // A limit larger than the result, and an empty range.
        let few = store
            .events(&EventsQuery::new(twin).from(from).to(to).limit(1_000_000))
            .expect("events");
        assert_eq!(few.len(), model.events(twin, Some(from), Some(to), None).len());
        let empty = store.events(&EventsQuery::new(twin).from(to).to(from)).expect("events");
        assert!(empty.is_empty(), "an inverted range is empty");
        let at_one_instant = store
            .events(&EventsQuery::new(twin).from(from).to(from))
            .expect("events");
        assert!(at_one_instant.is_empty(), "[t, t) is empty");

        // State at instants.
        let rows = model.rows(twin);
        let exact = utc(2016, 6, 15, 12, 0, 0, 0);
        assert!(rows.iter().any(|(t, _)| *t == exact), "{twin} has an update at {exact}");
        let between = utc(2016, 6, 15, 12, 0, 30, 0);
        assert!(rows.iter().all(|(t, _)| *t != between), "{between} is between updates");
        let just_before = Timestamp::from_nanos(exact.as_nanos() - 1);
        let before_all = utc(2016, 5, 31, 23, 59, 59, 0);
        let after_all = utc(2016, 7, 1, 0, 0, 0, 0);
        let first = rows[0].0;
        let last = rows[rows.len() - 1].0;
        for at in [exact, between, just_before, before_all, first, last, after_all] {
            let got = state_view(&store.state_at(twin, at).expect("state"));
            assert_eq!(got, model.state(twin, Some(at)), "{twin} at {at}");
        }
        assert!(store.state_at(twin, before_all).expect("state").properties.is_empty());
        // At exactly an update the state carries that update's values.
        let at_exact = state_view(&store.state_at(twin, exact).expect("state"));
        let (_, update) = rows.iter().find(|(t, _)| *t == exact).expect("update");
        for (name, value) in update {
            assert_eq!(at_exact.get(name), Some(&(value.clone(), exact)), "{twin} {name}");
        }
    }

    // One spot value read straight from the fixture's first line, by hand.
    let first_met = store.events(&EventsQuery::new(MET).limit(1)).expect("events");
    assert_eq!(
        event_view(&first_met[0]),
        (
            utc(2016, 6, 1, 0, 0, 0, 0),
            vec![
                ("pressure".to_string(), Value::Double(958.0)),
                ("relative_humidity".to_string(), Value::Double(100.5)),
                ("temp_air".to_string(), Value::Double(9.3)),
            ]
        )
    );
}

#[test]
fn one_call_then_reopen() {
    let model = model();
    let (dir, store) = temp_store(Options::default());
    let report = store.ingest_ndjson(&model.text).expect("ingest");
    assert!(
        report.rejected.is_empty(),
        "{:?}",
        &report.rejected[..report.rejected.len().min(3)]
    );
    assert_eq!(report.records, RECORDS as u64);
    assert_eq!(report.points, model.points);
    assert_eq!(report.skipped, 0);
    check(&store, model);

    drop(store);
    let store = reopen(dir.path(), Options::default());
    check(&store, model);
}

#[test]
fn chunks_with_first_line_then_reopen() {
    let model = model();
    let mut lines: Vec<&[u8]> = model.text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), RECORDS);
    // A bad line at line 40,001 of the chunked input: its error must carry that number.
    let bad_line_no = 40_001;
    let bad: &[u8] = br#"{"$dtId":"payerne-bsrn-met","$ts":"2016-06-31T00:00:00Z","temp_air":99.9}"#;
    lines.insert(bad_line_no - 1, bad);
    // Chunk sizes in lines: tiny ones, and one over 4 MB so that it is parsed on several
    // threads.
    let sizes = [1, 2, 997, 9_000, 35_000, 12_345];
    let (dir, store) = temp_store(Options::default());
    let mut start = 0;
    let mut total = twinstore::IngestReport::default();
    let mut chunk_sizes = sizes.to_vec();
    chunk_sizes.push(lines.len() - sizes.iter().sum::<usize>());
    for size in chunk_sizes {
        let mut chunk = lines[start..start + size].join(&b'\n');
        chunk.push(b'\n');
        let opts = IngestOptions {
            format: InputFormat::Flat,
            strict: None,
            first_line: start as u64 + 1,
        };
        let report = store.ingest(&chunk, &opts).expect("ingest chunk");
        assert_eq!(
            report.records + report.rejected.len() as u64,
            size as u64,
            "chunk at line {}",
            start + 1
        );
        total.merge(report);
        start += size;
    }
    assert_eq!(start, lines.len());
    assert_eq!(total.records, RECORDS as u64);
    assert_eq!(total.points, model.points);
    assert_eq!(total.rejected.len(), 1, "{:?}", total.rejected);
    let error = &total.rejected[0];
    assert_eq!(error.line, bad_line_no as u64, "{error}");
    assert_eq!(error.twin.as_deref(), Some(MET));
    assert_eq!(error.field.as_deref(), Some("$ts"));
    assert!(error.reason.contains("2016-06-31"), "{error}");
    check(&store, model);

    drop(store);
    let store = reopen(dir.path(), Options::default());
    check(&store, model);
}

#[test]
fn crlf_line_ends_and_blank_lines_change_nothing() {
    let model = model();
    // The same data with Windows line ends and a blank line after every 1,000th record.
    let mut text = Vec::with_capacity(model.text.len() + 2 * RECORDS);
    for (i, line) in model.text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        text.extend_from_slice(line);
        text.extend_from_slice(b"\r\n");
        if i % 1000 == 999 {
            text.extend_from_slice(b"  \r\n");
        }
    }
    let (_dir, store) = temp_store(Options::default().durability(twinstore::Durability::NoSync));
    let report = store.ingest_ndjson(&text).expect("ingest");
    assert!(
        report.rejected.is_empty(),
        "{:?}",
        &report.rejected[..report.rejected.len().min(3)]
    );
    assert_eq!(report.records, RECORDS as u64);
    assert_eq!(report.points, model.points);
    for twin in [MET, RADIATION] {
        let all = store.events(&EventsQuery::new(twin)).expect("events");
        assert_eq!(
            events_view(&all),
            model.events(twin, None, None, None),
            "all events of {twin}"
        );
    }
}
