//! The real fixtures in tests/fixtures read back exactly as an independent reading says.
//!
//! - The ADT event samples flatten as ProcessDTUpdatetoTSI (plus twinstore's documented
//!   rules) would: values and times written out by hand below.
//! - The real Payerne station data (75,844 flattened records) is checked against a model
//!   built here by reading every line with serde_json: every value of every property in
//!   order, latest values, states at instants, a one-hour range, before and after a reopen.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use twinstore::{EventsQuery, IngestOptions, Options, Store, Timestamp, Value};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn t(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("valid time")
}

#[test]
fn adt_samples_flatten_as_documented() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("open");
    let input = std::fs::read(fixture("adt-twin-updates.ndjson")).expect("fixture");
    let report = store.ingest_adt(&input).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.records, 6, "six Twin.Update events");
    assert_eq!(report.skipped, 0);
    assert_eq!(
        report.model_events, 1,
        "the Twin.Create event goes to the Time Series Model"
    );

    let thermostat = store.events(&EventsQuery::new("thermostat67")).expect("events");
    assert_eq!(thermostat.len(), 2);
    assert_eq!(
        thermostat[0].ts,
        t("2026-01-01T08:00:00.1234567Z"),
        "seven fractional digits kept"
    );
    assert_eq!(thermostat[0].values, vec![("Temperature".into(), Value::Double(20.5))]);
    assert_eq!(thermostat[1].ts, t("2026-01-01T08:01:00.5Z"));
    assert_eq!(
        thermostat[1].values,
        vec![
            ("Temperature".into(), Value::Long(21)),
            ("Mode".into(), Value::String("Heat".into()))
        ]
    );
    let floor = store.events(&EventsQuery::new("floor4")).expect("events");
    assert_eq!(
        floor[0].values,
        vec![
            ("Temperature".into(), Value::Long(40)),
            ("comp1.prop1".into(), Value::Long(30)),
            ("comp1.prop2".into(), Value::Removed),
        ]
    );
    let room = store.events(&EventsQuery::new("room-12")).expect("events");
    assert_eq!(room.len(), 3);
    assert_eq!(
        room[0].values,
        vec![
            ("Front.Temperature".into(), Value::Double(19.25)),
            ("Front.Humidity".into(), Value::Long(41)),
            ("Occupied".into(), Value::Bool(true)),
            ("Zones".into(), Value::Dynamic("[1,2,3]".into())),
        ]
    );
    assert_eq!(
        room[1].values,
        vec![
            ("Sensors/CO2".into(), Value::Long(415)),
            ("Label~Name".into(), Value::String("a~b".into()))
        ]
    );
    // Occupied was removed at 08:04: gone from the latest state, present before.
    let latest = store.latest("room-12").expect("latest");
    assert_eq!(latest.get("Occupied"), None);
    assert_eq!(latest.get("Sensors/CO2"), Some(&Value::Long(415)));
    let before = store.state_at("room-12", t("2026-01-01T08:03:59Z")).expect("state");
    assert_eq!(before.get("Occupied"), Some(&Value::Bool(true)));
    assert!(
        store.events(&EventsQuery::new("room-13")).is_err(),
        "Twin.Create made no twin"
    );
    let info = store.twin_info("thermostat67").expect("info");
    assert_eq!(info.model.as_deref(), Some("dtmi:contosocom:DigitalTwins:Thermostat;1"));
}

/// Per twin, per property: the (time, value) sequence, read independently of twinstore.
type SensorModel = BTreeMap<String, BTreeMap<String, Vec<(Timestamp, Value)>>>;

fn payerne() -> (Vec<u8>, SensorModel) {
    let file = std::fs::File::open(fixture("payerne-bsrn-2016-06.ndjson.zst")).expect("fixture");
    let mut text = Vec::new();
    zstd::stream::read::Decoder::new(file)
        .expect("zstd")
        .read_to_end(&mut text)
        .expect("decompress");
    let mut model = SensorModel::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let json: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line).expect("fixture line");
        let twin = json["$dtId"].as_str().expect("id").to_string();
        let ts = t(json["$ts"].as_str().expect("time"));
        for (name, value) in &json {
            if name.starts_with('$') {
                continue;
            }
            let value = match value {
                serde_json::Value::Number(n) if n.is_f64() => Value::Double(n.as_f64().expect("f64")),
                serde_json::Value::Number(n) => Value::Long(n.as_i64().expect("i64")),
                other => panic!("unexpected value {other}"),
            };
            model
                .entry(twin.clone())
                .or_default()
                .entry(name.clone())
                .or_default()
                .push((ts, value));
        }
    }
    (text, model)
}

fn check_against_model(store: &Store, model: &SensorModel) {
    let records: u64 = store.twins().expect("twins").iter().map(|t| t.records).sum();
    assert_eq!(records, 75_844);
    let points: usize = model.values().flat_map(|p| p.values()).map(Vec::len).sum();
    assert_eq!(store.stats().points, points as u64);
    for (twin, properties) in model {
        for (name, expected) in properties {
            let got: Vec<(Timestamp, Value)> = store
                .events(&EventsQuery::new(twin.as_str()).properties([name.as_str()]))
                .expect("events")
                .into_iter()
                .map(|e| (e.ts, e.values[0].1.clone()))
                .collect();
            assert_eq!(&got, expected, "{twin}.{name}");
        }
        let latest = store.latest(twin).expect("latest");
        for (name, values) in properties {
            assert_eq!(latest.get(name), values.last().map(|(_, v)| v), "latest {twin}.{name}");
        }
        // States at an update instant and between updates.
        for at in ["2016-06-10T12:00:00Z", "2016-06-10T12:00:30Z", "2016-06-20T00:00:00Z"] {
            let at = t(at);
            let state = store.state_at(twin, at).expect("state");
            for (name, values) in properties {
                let expected = values.iter().rev().find(|(ts, _)| *ts <= at).map(|(_, v)| v);
                assert_eq!(state.get(name), expected, "{twin}.{name} at {at}");
            }
        }
        // A one-hour range, newest first, limited.
        let (from, to) = (t("2016-06-15T10:00:00Z"), t("2016-06-15T11:00:00Z"));
        let got = store
            .events(&EventsQuery::new(twin.as_str()).from(from).to(to).descending().limit(7))
            .expect("events");
        let mut times: Vec<Timestamp> = properties
            .values()
            .flatten()
            .map(|(ts, _)| *ts)
            .filter(|ts| *ts >= from && *ts < to)
            .collect();
        times.sort();
        times.dedup();
        let expected: Vec<Timestamp> = times.into_iter().rev().take(7).collect();
        assert_eq!(got.iter().map(|e| e.ts).collect::<Vec<_>>(), expected, "{twin} hour");
    }
}

#[test]
fn real_station_data_reads_back_exactly() {
    let (text, model) = payerne();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("open");
    let report = store.ingest_ndjson(&text).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected.first());
    assert_eq!(report.records, 75_844);
    check_against_model(&store, &model);
    drop(store);
    let store = Store::open(dir.path(), Options::default()).expect("reopen");
    check_against_model(&store, &model);
}

#[test]
fn real_station_data_in_chunks_keeps_line_numbers() {
    let (text, model) = payerne();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("open");
    let mut line = 1u64;
    let mut rest = &text[..];
    while !rest.is_empty() {
        let cut = rest
            .iter()
            .take(1 << 20)
            .rposition(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (chunk, tail) = rest.split_at(cut);
        let opts = IngestOptions {
            first_line: line,
            ..Default::default()
        };
        store.ingest(chunk, &opts).expect("ingest");
        line += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        rest = tail;
    }
    check_against_model(&store, &model);
    // A bad line at a known position in the middle of a chunked file names its line.
    let bad = b"{\"$dtId\":\"x\",\"$ts\":\"2016-06-01T00:00:00Z\",\"a\":1}\n{\"$dtId\":\"x\",\"a\":}\n";
    let opts = IngestOptions {
        first_line: 75_845,
        ..Default::default()
    };
    let report = store.ingest(bad, &opts).expect("ingest");
    assert_eq!(report.rejected.iter().map(|e| e.line).collect::<Vec<_>>(), vec![75_846]);
}
