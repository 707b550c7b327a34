//! Queries that use the Time Series Model: projected variables resolved against the
//! instance's type (inline wins), fleets selected by hierarchy path and by type, through
//! the typed API and TSI's JSON bodies. Expected values are worked out by hand from the
//! records written.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value as Json, json};
use twinstore::tsm::{Hierarchy, Instance, TimeSeriesType};
use twinstore::{
    AggregateSeriesQuery, GetSeriesQuery, Options, Record, Store, Timestamp, TwinSelector, Value, Variable,
};

const MINUTE: i64 = 60_000_000_000;

fn t(minute: i64) -> Timestamp {
    Timestamp::from_nanos(minute * MINUTE)
}

fn numeric(tsx: &str, aggregation: &str) -> Variable {
    Variable::numeric(tsx, aggregation)
}

/// Thermostats report Temperature; meters report Power. Each twin writes one record a
/// minute for 4 minutes:
/// - thermostat-a (B1/F1): 20, 21, 22, 23
/// - thermostat-b (B1/F2): 10, 12, 14, 16
/// - thermostat-c (B2/F1): 30, 30, 30, 30
/// - meter-1 (B1/F2, type Meter): Power 100, 200, 300, 400
/// - loose (no instance put: the default type): Temperature 5, 5, 5, 5
fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
    let series: [(&str, &str, [f64; 4]); 5] = [
        ("thermostat-a", "Temperature", [20.0, 21.0, 22.0, 23.0]),
        ("thermostat-b", "Temperature", [10.0, 12.0, 14.0, 16.0]),
        ("thermostat-c", "Temperature", [30.0; 4]),
        ("meter-1", "Power", [100.0, 200.0, 300.0, 400.0]),
        ("loose", "Temperature", [5.0; 4]),
    ];
    let mut records = Vec::new();
    for (twin, property, values) in series {
        for (m, v) in values.iter().enumerate() {
            records.push(Record::new(twin, t(m as i64)).with(property, *v));
        }
    }
    store.write(&records).expect("write");
    let thermostat = TimeSeriesType {
        id: "t-thermostat".into(),
        name: "Thermostat".into(),
        description: None,
        variables: vec![
            ("Level".into(), numeric("$event.Temperature.Double", "avg($value)")),
            ("Peak".into(), numeric("$event.Temperature.Double", "max($value)")),
        ],
    };
    let meter = TimeSeriesType {
        id: "t-meter".into(),
        name: "Meter".into(),
        description: None,
        variables: vec![
            ("Level".into(), numeric("$event.Power.Double", "avg($value)")),
            ("Peak".into(), numeric("$event.Temperature.Double", "max($value)")),
        ],
    };
    let answers = store.put_time_series_types(vec![thermostat, meter]).expect("types");
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    store
        .put_hierarchies(vec![Hierarchy {
            id: "h-loc".into(),
            name: "Location".into(),
            instance_field_names: vec!["Building".into(), "Floor".into()],
        }])
        .expect("hierarchy");
    let placed = |twin: &str, type_id: &str, building: &str, floor: &str| {
        let mut i = Instance::new(twin, type_id);
        i.hierarchy_ids = vec!["h-loc".into()];
        i.instance_fields = BTreeMap::from([
            ("Building".into(), Value::String(building.into())),
            ("Floor".into(), Value::String(floor.into())),
        ]);
        i
    };
    let answers = store
        .put_instances(vec![
            placed("thermostat-a", "t-thermostat", "B1", "F1"),
            placed("thermostat-b", "t-thermostat", "B1", "F2"),
            placed("thermostat-c", "t-thermostat", "B2", "F1"),
            placed("meter-1", "t-meter", "B1", "F2"),
        ])
        .expect("instances");
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    (dir, store)
}

/// The single value of each frame's `column` over one 4-minute bucket, by twin.
fn one_bucket(frames: &[twinstore::TwinFrame], column: &str) -> BTreeMap<String, Option<f64>> {
    frames
        .iter()
        .map(|f| {
            let values = f.frame.doubles(column).expect("column");
            assert_eq!(values.len(), 1, "one bucket");
            (f.twin.clone().unwrap_or_default(), values[0])
        })
        .collect()
}

fn four_minutes(selector: TwinSelector) -> AggregateSeriesQuery {
    AggregateSeriesQuery::new(selector, t(0), t(4), Duration::from_secs(240))
}

#[test]
fn a_projected_variable_comes_from_each_twins_type_and_inline_wins() {
    let (_dir, store) = store();
    let q = four_minutes(TwinSelector::Ids(vec![
        "thermostat-a".into(),
        "meter-1".into(),
        "loose".into(),
    ]))
    .project(["EventCount"]);
    // EventCount is the default type's only: thermostats and meters have none.
    let e = store
        .aggregate_series(&q)
        .expect_err("not a variable of Thermostat or Meter");
    let e = e.to_string();
    assert!(
        e.contains("\"EventCount\" is neither an inline variable nor a variable of type"),
        "{e}"
    );
    assert!(e.contains("\"Meter\"") || e.contains("\"Thermostat\""), "{e}");

    let q = four_minutes(TwinSelector::Ids(vec!["thermostat-a".into(), "meter-1".into()])).project(["Level"]);
    let frames = store.aggregate_series(&q).expect("by type");
    // Thermostat Level = avg Temperature (20..23: 21.5); Meter Level = avg Power (250).
    assert_eq!(
        one_bucket(&frames, "Level"),
        BTreeMap::from([("meter-1".into(), Some(250.0)), ("thermostat-a".into(), Some(21.5))])
    );
    assert_eq!(
        frames
            .iter()
            .map(|f| f.twin.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["thermostat-a", "meter-1"],
        "frames in the selection's order"
    );

    // An inline variable of the same name wins over the type's.
    let q = four_minutes(TwinSelector::Ids(vec!["thermostat-a".into()]))
        .variable("Level", numeric("$event.Temperature.Double", "min($value)"))
        .project(["Level", "Peak"]);
    let frames = store.aggregate_series(&q).expect("inline and type");
    assert_eq!(one_bucket(&frames, "Level")["thermostat-a"], Some(20.0));
    assert_eq!(one_bucket(&frames, "Peak")["thermostat-a"], Some(23.0));

    let q = four_minutes(TwinSelector::Ids(vec!["loose".into()])).project(["EventCount"]);
    let frames = store.aggregate_series(&q).expect("the default type");
    assert_eq!(one_bucket(&frames, "EventCount")["loose"], Some(4.0));
}

#[test]
fn a_merged_series_needs_one_definition() {
    let (_dir, store) = store();
    let q = four_minutes(TwinSelector::Ids(vec!["thermostat-a".into(), "meter-1".into()]))
        .project(["Level"])
        .merged();
    let e = store.aggregate_series(&q).expect_err("two definitions of Level");
    assert!(e.to_string().contains("Level"), "{e}");
    // Both thermostats: Level = avg of 20, 21, 22, 23, 10, 12, 14, 16 = 138 / 8 = 17.25.
    let q = four_minutes(TwinSelector::Ids(vec!["thermostat-a".into(), "thermostat-b".into()]))
        .project(["Level"])
        .merged();
    let frames = store.aggregate_series(&q).expect("one type");
    assert_eq!(one_bucket(&frames, "Level")[""], Some(17.25));
}

#[test]
fn get_series_resolves_against_the_twins_type() {
    let (_dir, store) = store();
    let q = GetSeriesQuery::new("meter-1", t(0), t(4)).project(["Level"]);
    let frame = store.get_series(&q).expect("series");
    assert_eq!(
        frame.doubles("Level").expect("Level"),
        [100.0, 200.0, 300.0, 400.0].map(Some).to_vec()
    );
}

#[test]
fn fleets_by_hierarchy_path_and_by_type() {
    let (_dir, store) = store();
    let avg = |selector: TwinSelector| {
        let q = four_minutes(selector)
            .variable("T", numeric("$event.Temperature.Double", "avg($value)"))
            .merged();
        one_bucket(&store.aggregate_series(&q).expect("fleet"), "T")[""]
    };
    let under = |path: &[&str]| TwinSelector::Hierarchy {
        hierarchy: "Location".into(),
        path: path.iter().map(|s| s.to_string()).collect(),
    };
    // B1: thermostat-a (20..23), thermostat-b (10..16), meter-1 (no Temperature):
    // (86 + 52) / 8 = 17.25.
    assert_eq!(avg(under(&["B1"])), Some(17.25));
    // B1/F2: thermostat-b and meter-1: 52 / 4 = 13.
    assert_eq!(avg(under(&["B1", "F2"])), Some(13.0));
    // The whole hierarchy, by id: a, b, c: (86 + 52 + 120) / 12 = 21.5.
    assert_eq!(
        avg(TwinSelector::Hierarchy {
            hierarchy: "h-loc".into(),
            path: vec![]
        }),
        Some(21.5)
    );
    // The default type: only `loose` (5).
    assert_eq!(avg(TwinSelector::Type("DefaultType".into())), Some(5.0));
    assert_eq!(avg(TwinSelector::Type("t-thermostat".into())), Some(21.5));
    assert!(
        store
            .aggregate_series(&four_minutes(under(&["B1", "F2", "R9"])).variable("T", numeric("1.0", "avg($value)")))
            .is_err(),
        "a path longer than the hierarchy"
    );
}

#[test]
fn tsi_bodies_use_the_model() {
    let (_dir, store) = store();
    let body = json!({ "aggregateSeries": {
        "hierarchyPath": { "hierarchy": "Location", "path": ["B1", "F2"] },
        "searchSpan": { "from": "1970-01-01T00:00:00Z", "to": "1970-01-01T00:04:00Z" },
        "interval": "PT4M",
        "projectedVariables": ["Level"]
    } });
    let answer = store
        .query_json(&serde_json::to_vec(&body).expect("body"))
        .expect("answer");
    // One series per twin under B1/F2, in order of first appearance (thermostat-b was written
    // before meter-1), each with its own type's Level: avg Temperature 13, avg Power 250.
    let series = answer["series"].as_array().expect("series");
    let levels: Vec<(Json, Json)> = series
        .iter()
        .map(|s| (s["timeSeriesId"][0].clone(), s["properties"][0]["values"][0].clone()))
        .collect();
    assert_eq!(
        levels,
        [(json!("thermostat-b"), json!(13.0)), (json!("meter-1"), json!(250.0))]
    );
    let body = json!({ "getSeries": {
        "timeSeriesId": ["thermostat-c"],
        "searchSpan": { "from": "1970-01-01T00:00:00Z", "to": "1970-01-01T00:04:00Z" },
        "projectedVariables": ["Peak"]
    } });
    let answer = store
        .query_json(&serde_json::to_vec(&body).expect("body"))
        .expect("answer");
    assert_eq!(answer["properties"][0]["name"], "Peak");
    assert_eq!(answer["properties"][0]["values"], json!([30.0, 30.0, 30.0, 30.0]));
}

#[test]
fn a_body_without_variables_or_projection_returns_the_types_variables() {
    let (_dir, store) = store();
    let body = |selector: &str| {
        format!(
            r#"{{"aggregateSeries": {{{selector}, "interval": "PT4M",
                "searchSpan": {{"from": "1970-01-01T00:00:00Z", "to": "1970-01-01T00:04:00Z"}}}}}}"#
        )
    };
    // thermostat-a is a Thermostat: Level avg(20..23) = 21.5, Peak 23.
    let answer = store
        .query_json(body(r#""timeSeriesId": ["thermostat-a"]"#).as_bytes())
        .expect("query");
    assert_eq!(
        answer["properties"],
        json!([
            { "name": "Level", "type": "Double", "values": [21.5] },
            { "name": "Peak", "type": "Double", "values": [23.0] }
        ])
    );
    // loose has no instance put: the default type, whose EventCount counts its 4 events.
    let answer = store
        .query_json(body(r#""timeSeriesId": ["loose"]"#).as_bytes())
        .expect("query");
    assert_eq!(
        answer["properties"],
        json!([{ "name": "EventCount", "type": "Long", "values": [4] }])
    );
    // getSeries leaves aggregate variables out: thermostat-a's Level and Peak at each event.
    let answer = store
        .query_json(
            br#"{"getSeries": {"timeSeriesId": ["thermostat-a"],
                "searchSpan": {"from": "1970-01-01T00:00:00Z", "to": "1970-01-01T00:02:00Z"}}}"#,
        )
        .expect("query");
    let names: Vec<&str> = answer["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["Level", "Peak"]);
    assert_eq!(answer["properties"][0]["values"], json!([20.0, 21.0]));
}

#[test]
fn a_filter_reads_the_twins_instance_fields() {
    let (_dir, store) = store();
    let thermostats = || {
        TwinSelector::Ids(vec![
            "thermostat-a".into(),
            "thermostat-b".into(),
            "thermostat-c".into(),
            "loose".into(),
        ])
    };
    let mut q = four_minutes(thermostats()).variable("T", numeric("$event.Temperature.Double", "avg($value)"));
    q.filter = Some("$instance.Building = 'B1' AND $event.Temperature.Double > 20".into());
    let frames = store.aggregate_series(&q).expect("per twin");
    // a (B1): 21, 22, 23 pass: 22; b (B1): none above 20; c is in B2 and loose has no
    // Building field (null): no events pass.
    assert_eq!(
        one_bucket(&frames, "T"),
        BTreeMap::from([
            ("thermostat-a".into(), Some(22.0)),
            ("thermostat-b".into(), None),
            ("thermostat-c".into(), None),
            ("loose".into(), None),
        ])
    );
    assert_eq!(
        frames
            .iter()
            .map(|f| f.twin.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["thermostat-a", "thermostat-b", "thermostat-c", "loose"],
        "frames in the selection's order"
    );

    // Merged: twins whose fields give one filter merge; others are refused, saying why.
    q.merge = true;
    let e = store.aggregate_series(&q).expect_err("B1, B2 and no building");
    assert!(e.to_string().contains("$instance"), "{e}");
    q.twins = TwinSelector::Ids(vec!["thermostat-a".into(), "thermostat-b".into()]);
    let frames = store.aggregate_series(&q).expect("both in B1");
    assert_eq!(frames[0].frame.doubles("T").expect("T"), [Some(22.0)]);

    // getEvents through TSI's body: c is in B2, so its 4 events pass one filter and none the other.
    let events = |building: &str| {
        let body = format!(
            r#"{{"getEvents": {{"timeSeriesId": ["thermostat-c"],
                "searchSpan": {{"from": "1970-01-01T00:00:00Z", "to": "1970-01-01T00:04:00Z"}},
                "filter": {{"tsx": "$instance['Building'] = '{building}'"}}}}}}"#
        );
        let answer = store.query_json(body.as_bytes()).expect("getEvents");
        answer["timestamps"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(events("B2"), 4);
    assert_eq!(events("B1"), 0);
    // A malformed reference is refused at its place.
    let mut bad = four_minutes(thermostats()).variable("T", numeric("$event.Temperature.Double", "avg($value)"));
    bad.filter = Some("$instance.Building.String = 'B1'".into());
    let e = store.aggregate_series(&bad).expect_err("one name only");
    assert!(e.to_string().contains("position 18"), "{e}");
}
