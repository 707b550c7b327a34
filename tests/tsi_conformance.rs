//! Where Time Series Insights' documentation states a rule, twinstore answers as it says. Each
//! test names its source; the expected values come from that source (a published example
//! response, or the documented rule applied by hand to a hand-made series).
//!
//! Sources:
//! - TSX: the Time Series Expression syntax reference (learn.microsoft.com/rest/api/
//!   time-series-insights/reference-time-series-expression-syntax), section "Aggregation
//!   expressions": `first` "Returns `$value` of the first occurring event in the interval by
//!   event time stamp. Does **not** avoid `null` values", `last` likewise for the last,
//!   `median` "Returns `$value` of the middle event in the interval by event time stamp. Does
//!   **not** avoid `null` values"; for aggregate variables "from all the events in the
//!   interval".
//! - SPEC: the Query API specification, version 2020-07-31 (GitHub Azure/azure-rest-api-specs,
//!   specification/timeseriesinsights/data-plane/Microsoft.TimeSeriesInsights/stable/
//!   2020-07-31/timeseriesinsights.json) and its examples/ folder.

use serde_json::{Value as Json, json};
use twinstore::{AggregateQuery, Aggregation, Options, Store, Timestamp};

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).unwrap();
    (dir, store)
}

/// Ingests `data`, answers `body` warm and again cold (which must agree).
fn ask(data: &str, body: &str) -> Json {
    let (_dir, store) = open();
    let report = store.ingest_ndjson(data.as_bytes()).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let warm = store
        .query_json(body.as_bytes())
        .unwrap_or_else(|e| panic!("{e}\n{body}"));
    store.flush().unwrap();
    let cold = store.query_json(body.as_bytes()).unwrap();
    assert_eq!(warm, cold, "warm and cold answers differ for {body}");
    warm
}

fn column<'a>(answer: &'a Json, name: &str) -> &'a Json {
    &answer["properties"]
        .as_array()
        .unwrap_or_else(|| panic!("no properties in {answer}"))
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {answer}"))["values"]
}

fn numbers(values: &Json) -> Vec<Option<f64>> {
    values.as_array().unwrap().iter().map(Json::as_f64).collect()
}

#[track_caller]
fn close(got: &[Option<f64>], want: &[Option<f64>]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        match (g, w) {
            (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-12, "{got:?} vs {want:?}"),
            _ => assert_eq!(g, w, "{got:?} vs {want:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Item 1 and 2: first, last and median are by event and do not avoid nulls (TSX).

/// Twin m in the minute 00:00 (and an event at 00:01:10 for the second bucket):
///
/// | time     | Mode | Temperature | Flag |
/// |----------|------|-------------|------|
/// | 00:00:20 | heat |             | 1    |
/// | 00:00:30 |      | 10.5        | 1    |
/// | 00:00:50 |      | 40.5        | 0    |
/// | 00:01:10 | cool |             | 0    |
/// | 00:01:20 |      | 30.0        | 1    |
/// | 00:01:30 |      | 10.0        | 1    |
/// | 00:01:40 |      | 20.0        | 1    |
const EVENTS: &str = r#"
{"$dtId":"m","$ts":"2026-01-01T00:00:20Z","Mode":"heat","Flag":1}
{"$dtId":"m","$ts":"2026-01-01T00:00:30Z","Temperature":10.5,"Flag":1}
{"$dtId":"m","$ts":"2026-01-01T00:00:50Z","Temperature":40.5,"Flag":0}
{"$dtId":"m","$ts":"2026-01-01T00:01:10Z","Mode":"cool","Flag":0}
{"$dtId":"m","$ts":"2026-01-01T00:01:20Z","Temperature":30.0,"Flag":1}
{"$dtId":"m","$ts":"2026-01-01T00:01:30Z","Temperature":10.0,"Flag":1}
{"$dtId":"m","$ts":"2026-01-01T00:01:40Z","Temperature":20.0,"Flag":1}
"#;

fn by_event_body(filter: &str, variable_filter: &str) -> String {
    let numeric = |agg: &str| {
        format!(
            r#"{{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double"}}, "filter": {variable_filter},
                 "aggregation": {{"tsx": "{agg}($value)"}}}}"#
        )
    };
    let aggregate = |agg: &str| {
        format!(
            r#"{{"kind": "aggregate", "filter": {variable_filter},
                 "aggregation": {{"tsx": "{agg}($event.Temperature.Double)"}}}}"#
        )
    };
    format!(
        r#"{{"aggregateSeries": {{"timeSeriesId": ["m"], "filter": {filter},
            "searchSpan": {{"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:02:00Z"}}, "interval": "PT1M",
            "inlineVariables": {{
              "first": {}, "last": {}, "median": {},
              "aggFirst": {}, "aggLast": {}, "aggMedian": {},
              "n": {{"kind": "aggregate", "filter": {variable_filter}, "aggregation": {{"tsx": "count()"}}}}}}}}}}"#,
        numeric("first"),
        numeric("last"),
        numeric("median"),
        aggregate("first"),
        aggregate("last"),
        aggregate("median"),
    )
}

#[test]
fn first_last_and_median_pick_events_and_do_not_avoid_nulls() {
    // TSX, "Aggregation expressions": the value of the first / last / middle event by time,
    // nulls included. Minute 0: events at 20 s (no Temperature), 30 s (10.5), 50 s (40.5):
    // first is the 20 s event's null, last 40.5, the middle event (30 s) gives 10.5.
    // Minute 1: events at 70 s (no Temperature), 80 s (30), 90 s (10), 100 s (20): first null,
    // last 20; four events, the earlier middle one is at 80 s: 30 (a statistical median of
    // {30, 10, 20} would be 20).
    let r = ask(EVENTS, &by_event_body("null", "null"));
    for prefix in ["", "agg"] {
        let name = |n: &str| {
            if prefix.is_empty() {
                n.to_string()
            } else {
                format!("agg{}{}", n[..1].to_uppercase(), &n[1..])
            }
        };
        close(&numbers(column(&r, &name("first"))), &[None, None]);
        close(&numbers(column(&r, &name("last"))), &[Some(40.5), Some(20.0)]);
        close(&numbers(column(&r, &name("median"))), &[Some(10.5), Some(30.0)]);
    }
    assert_eq!(column(&r, "n"), &json!([3, 4]));
}

#[test]
fn first_last_and_median_count_the_events_the_filters_keep() {
    // The events that count are those of the bucket that pass the query's filter and the
    // variable's filter ("Filters ... restrict the number of rows being considered for
    // computation": concepts-variables), with or without the property.
    // Query filter Flag = 1: minute 0 keeps 20 s (null) and 30 s (10.5): first null, last
    // 10.5, earlier middle of two = 20 s: null. Minute 1 keeps 80, 90, 100 s: 30, 20, 10.
    let r = ask(EVENTS, &by_event_body(r#"{"tsx": "$event.Flag.Long = 1"}"#, "null"));
    close(&numbers(column(&r, "first")), &[None, Some(30.0)]);
    close(&numbers(column(&r, "last")), &[Some(10.5), Some(20.0)]);
    close(&numbers(column(&r, "median")), &[None, Some(10.0)]);
    assert_eq!(column(&r, "n"), &json!([2, 3]));
    // The same as a variable filter: the same events count.
    let r = ask(EVENTS, &by_event_body("null", r#"{"tsx": "$event.Flag.Long = 1"}"#));
    close(&numbers(column(&r, "first")), &[None, Some(30.0)]);
    close(&numbers(column(&r, "aggLast")), &[Some(10.5), Some(20.0)]);
    close(&numbers(column(&r, "aggMedian")), &[None, Some(10.0)]);
    // A filter that keeps only events with a Temperature: the nulls are gone.
    let r = ask(
        EVENTS,
        &by_event_body(r#"{"tsx": "$event.Temperature.Double != NULL"}"#, "null"),
    );
    close(&numbers(column(&r, "first")), &[Some(10.5), Some(30.0)]);
    // Minute 1: 30, 10, 20 at 80, 90, 100 s: the middle event is at 90 s.
    close(&numbers(column(&r, "median")), &[Some(10.5), Some(10.0)]);
}

#[test]
fn first_last_and_median_of_a_merged_fleet_pick_among_all_twins_events() {
    // Our choice for merged fleets (TSI has no merge): the events of every twin in one bucket,
    // by time; equal times in the order the query lists the twins.
    // a: 00:00:10 no value, 00:00:40 = 4.0; b: 00:00:10 = 1.0, 00:00:20 = 2.0, 00:00:40 = 5.0.
    let data = r#"
{"$dtId":"a","$ts":"2026-01-01T00:00:10Z","Mode":"x"}
{"$dtId":"a","$ts":"2026-01-01T00:00:40Z","T":4.0}
{"$dtId":"b","$ts":"2026-01-01T00:00:10Z","T":1.0}
{"$dtId":"b","$ts":"2026-01-01T00:00:20Z","T":2.0}
{"$dtId":"b","$ts":"2026-01-01T00:00:40Z","T":5.0}
"#;
    let body = |ids: &str| {
        format!(
            r#"{{"aggregateSeries": {{"timeSeriesIds": {ids}, "merge": true,
            "searchSpan": {{"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:01:00Z"}}, "interval": "PT1M",
            "inlineVariables": {{
              "first": {{"kind": "numeric", "value": {{"tsx": "$event.T.Double"}}, "aggregation": {{"tsx": "first($value)"}}}},
              "last": {{"kind": "numeric", "value": {{"tsx": "$event.T.Double"}}, "aggregation": {{"tsx": "last($value)"}}}},
              "median": {{"kind": "numeric", "value": {{"tsx": "$event.T.Double"}}, "aggregation": {{"tsx": "median($value)"}}}}}}}}}}"#
        )
    };
    // Order a, b: 10 s a (null), 10 s b (1), 20 s b (2), 40 s a (4), 40 s b (5): first null,
    // last 5, five events: middle is the third, 2.
    let r = ask(data, &body(r#"["a", "b"]"#));
    close(&numbers(column(&r, "first")), &[None]);
    close(&numbers(column(&r, "last")), &[Some(5.0)]);
    close(&numbers(column(&r, "median")), &[Some(2.0)]);
    // Order b, a: 10 s b (1) first, 40 s a (4) last.
    let r = ask(data, &body(r#"["b", "a"]"#));
    close(&numbers(column(&r, "first")), &[Some(1.0)]);
    close(&numbers(column(&r, "last")), &[Some(4.0)]);
    close(&numbers(column(&r, "median")), &[Some(2.0)]);
}

#[test]
fn the_typed_property_aggregate_keeps_its_statistical_median() {
    // `Store::aggregate` (one property, no TSX) is not a TSI body: it aggregates the
    // property's values, so first and last are its first and last value and median is the
    // statistical (lower) median, documented in docs/QUERIES.md as twinstore's extension.
    let (_dir, store) = open();
    store.ingest_ndjson(EVENTS.as_bytes()).unwrap();
    let from = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let to = Timestamp::parse("2026-01-01T00:02:00Z").unwrap();
    let q = AggregateQuery::new("m", "Temperature", from, to, std::time::Duration::from_secs(60)).aggregations([
        Aggregation::First,
        Aggregation::Last,
        Aggregation::Median,
    ]);
    let r = store.aggregate(&q).unwrap();
    // Minute 0 values 10.5, 40.5; minute 1 values 30, 10, 20 (sorted 10, 20, 30).
    assert_eq!(r.column(Aggregation::First).unwrap(), &[Some(10.5), Some(30.0)]);
    assert_eq!(r.column(Aggregation::Last).unwrap(), &[Some(40.5), Some(20.0)]);
    assert_eq!(r.column(Aggregation::Median).unwrap(), &[Some(10.5), Some(20.0)]);
}

// ---------------------------------------------------------------------------------------
// Item 3: categorical Step fractions are over the whole interval (SPEC example).

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/tsi/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A series of Sensor_58 with the geometry of the example's answer: per 2 s bucket from
/// 23:41:04, a Good value at the bucket's start, a Bad one and then an Other one, at the
/// milliseconds below (after 23:41:04.000), so that each category holds for the example's
/// fraction of the bucket; the last Other holds to the end of the span. Each status is
/// written twice at its instant: as a String (for Status_String) and as a Double (for
/// `tolong($event.[Status].Double)`), in separate events, as a property has one type per
/// event. The first point, 23:41:04.000, lies 21 ms before the search span, inside its
/// boundary span of 5 s.
const SENSOR_58: [(i64, &str, f64); 30] = [
    (0, "Good", 0.0),
    (427, "Bad", 3.0),
    (959, "Other", 5.0),
    (2000, "Very Good", 1.0),
    (2282, "OK", 4.0),
    (2673, "Other", 5.0),
    (4000, "Excellent", 2.0),
    (4536, "Bad", 3.0),
    (5020, "Other", 5.0),
    (6000, "Good", 0.0),
    (6796, "OK", 4.0),
    (7092, "Other", 5.0),
    (8000, "Very Good", 1.0),
    (8804, "Bad", 3.0),
    (9304, "Other", 5.0),
    (10000, "Excellent", 2.0),
    (10094, "OK", 4.0),
    (10204, "Other", 5.0),
    (12000, "Good", 0.0),
    (12249, "Bad", 3.0),
    (13508, "Other", 5.0),
    (14000, "Very Good", 1.0),
    (15500, "OK", 4.0),
    (15718, "Other", 5.0),
    (16000, "Excellent", 2.0),
    (16412, "Bad", 3.0),
    (17232, "Other", 5.0),
    (18000, "Good", 0.0),
    (18527, "OK", 4.0),
    (18952, "Other", 5.0),
];

fn sensor_58() -> String {
    let base = Timestamp::parse("2019-10-10T23:41:04Z").unwrap().as_nanos();
    let mut text = String::new();
    for (ms, label, long) in SENSOR_58 {
        let ts = Timestamp::from_nanos(base + ms * 1_000_000);
        text.push_str(&format!(r#"{{"$dtId":"Sensor_58","$ts":"{ts}","Status":"{label}"}}"#));
        text.push('\n');
        text.push_str(&format!(r#"{{"$dtId":"Sensor_58","$ts":"{ts}","Status":{long:.1}}}"#));
        text.push('\n');
    }
    text
}

#[test]
fn categorical_step_fractions_match_the_published_example() {
    // SPEC, examples/QueryAggregateSeriesWithCategoricalInterpolatedVariable.json: the first
    // bucket, [23:41:04, 23:41:06), starts 21 ms before the search span; its fractions add up
    // to 0.9895 = 1.979 s / 2 s: time in each category inside the span over the whole
    // interval, the clipped 21 ms in no category (Unknown stays 0).
    let published = fixture("aggregate_series_categorical_interpolated.json");
    let data = sensor_58();
    let (_dir, store) = open();
    store.ingest_ndjson(data.as_bytes()).unwrap();
    // The body runs as published, `$event.[Status]` (brackets without quotes) included.
    let body = published.clone();
    let r = ask(&data, &body);
    let want: Json = serde_json::from_str(&fixture("aggregate_series_categorical_interpolated.response.json")).unwrap();
    // The example shows the first ten of the span's 40 buckets.
    let stamps = r["timestamps"].as_array().unwrap();
    assert_eq!(stamps.len(), 40);
    assert_eq!(&stamps[..10], want["timestamps"].as_array().unwrap().as_slice());
    let names: Vec<&Json> = r["properties"].as_array().unwrap().iter().map(|p| &p["name"]).collect();
    let want_names: Vec<&Json> = want["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert_eq!(names, want_names);
    for p in want["properties"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        assert_eq!(
            r["properties"]
                .as_array()
                .unwrap()
                .iter()
                .find(|q| q["name"] == name)
                .unwrap()["type"],
            "Double"
        );
        let got = numbers(column(&r, name));
        close(&got[..10], &numbers(&p["values"]));
        // After 23:41:24 the last status, Other, holds to `to` = 23:42:22.846: whole buckets
        // of Other, then 0.846 s of the last 2 s bucket.
        let (whole, last) = if name.ends_with("[Other]") {
            (1.0, 0.423)
        } else {
            (0.0, 0.0)
        };
        close(&got[10..39], &[Some(whole); 29]);
        close(&got[39..], &[Some(last)]);
    }
    // The first row adds up to 0.9895, as published.
    let first_row: f64 = ["Good", "Bad", "Other", "Unknown"]
        .iter()
        .map(|c| numbers(column(&r, &format!("Status_String[{c}]")))[0].unwrap())
        .sum();
    assert!((first_row - 0.9895).abs() < 1e-12, "{first_row}");
}

#[test]
fn time_before_the_first_point_is_in_no_category() {
    // Following the example (time inside the bucket without a value is in no category, and
    // fractions are over the whole interval): a signal that starts at 00:00:45 with no point
    // before it within the boundary span gives its category 15 s / 60 s, and the default
    // category nothing for the 45 s before.
    let data = r#"
{"$dtId":"c","$ts":"2026-01-01T00:00:45Z","Mode":"heat"}
{"$dtId":"c","$ts":"2026-01-01T00:01:30Z","Mode":"cool"}
"#;
    let body = |from: &str| {
        format!(
            r#"{{"aggregateSeries": {{"timeSeriesId": ["c"],
        "searchSpan": {{"from": "{from}", "to": "2026-01-01T00:03:00Z"}}, "interval": "PT1M",
        "inlineVariables": {{"Mode": {{"kind": "categorical", "value": {{"tsx": "$event.Mode.String"}},
            "interpolation": {{"kind": "Step", "boundary": {{"span": "PT1M"}}}},
            "categories": [{{"label": "Heating", "values": ["heat"]}}], "defaultCategory": {{"label": "Other"}}}}}}}}}}"#
        )
    };
    let r = ask(data, &body("2026-01-01T00:00:00Z"));
    // Minute 0: heat 45..60; minute 1: heat 60..90, cool 90..120; minute 2: cool throughout.
    close(
        &numbers(column(&r, "Mode[Heating]")),
        &[Some(0.25), Some(0.5), Some(0.0)],
    );
    close(&numbers(column(&r, "Mode[Other]")), &[Some(0.0), Some(0.5), Some(1.0)]);
    // A bucket with no defined time at all stays null (our choice for empty buckets).
    let r = ask(data, &body("2025-12-31T23:59:00Z"));
    assert_eq!(column(&r, "Mode[Heating]")[0], Json::Null, "{r}");
    assert_eq!(column(&r, "Mode[Other]")[0], Json::Null, "{r}");
    close(
        &numbers(column(&r, "Mode[Heating]"))[1..],
        &[Some(0.25), Some(0.5), Some(0.0)],
    );
}

// ---------------------------------------------------------------------------------------
// Item 6: getEvents returns events without any projected property, with nulls (SPEC).

#[test]
fn get_events_returns_events_without_projected_properties_with_nulls() {
    // SPEC, GetEvents.projectedProperties: "These properties must appear in the events;
    // otherwise, they are not returned": it is the *properties* that are not returned, and
    // PropertyValues "May contain nulls". GetEvents retrieves "raw events for a given Time
    // Series ID and search span" (and filter), so the event at 00:00:20, which has only Mode,
    // is returned with a null Temperature; Missing appears in no event and is not returned.
    let body = r#"{"getEvents": {"timeSeriesId": ["m"],
        "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:01:00Z"}, "filter": null,
        "projectedProperties": [{"name": "Temperature", "type": "Double"}, {"name": "Missing", "type": "Double"}]}}"#;
    let r = ask(EVENTS, body);
    assert_eq!(
        r["timestamps"],
        json!(["2026-01-01T00:00:20Z", "2026-01-01T00:00:30Z", "2026-01-01T00:00:50Z"])
    );
    assert_eq!(r["properties"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(column(&r, "Temperature"), &json!([null, 10.5, 40.5]));
    // The filter still selects events: Flag = 0 keeps only 00:00:50.
    let r = ask(
        EVENTS,
        &body.replace(r#""filter": null"#, r#""filter": {"tsx": "$event.Flag.Long = 0"}"#),
    );
    assert_eq!(r["timestamps"], json!(["2026-01-01T00:00:50Z"]));
    // An event with no projected value counts as one value towards take (our choice, so that
    // pages stay bounded): take 2 gives the first two events.
    let r = ask(
        EVENTS,
        &body.replace(r#""filter": null"#, r#""filter": null, "take": 2"#),
    );
    assert_eq!(r["timestamps"], json!(["2026-01-01T00:00:20Z", "2026-01-01T00:00:30Z"]));
    assert_eq!(column(&r, "Temperature"), &json!([null, 10.5]));
}
