//! TSI query bodies (getEvents, getSeries, aggregateSeries, availability, eventSchema) on a
//! small hand-made series, with every expected value worked out by hand in the comments.
//! Each query runs on warm data and again after a flush (cold) and must give the same JSON.

use serde_json::{Value as Json, json};
use twinstore::{Options, Store};

/// Twin t1 (model dtmi:t;1), times in seconds after 2026-01-01T00:00:00Z:
///
/// | t  | Temperature | Mode  | Count |
/// |----|-------------|-------|-------|
/// | 0  | 10.0        | heat  |       |
/// | 30 | 20.0        |       | 1     |
/// | 45 |             | cool  |       |
/// | 60 | 30.0        |       | 2     |
/// | 90 | 40.0        | heat  |       |
/// | 130| 50.0        |       |       |  (after `to` = 120 in most queries)
///
/// Twin t2 (model dtmi:t;1): Temperature 100.0 at 10 s and 200.0 at 70 s.
/// Twin other (model dtmi:o;1): Temperature 1000.0 at 10 s.
const DATA: &str = r#"
{"$dtId":"t1","$ts":"2026-01-01T00:00:00Z","Temperature":10.0,"Mode":"heat"}
{"$dtId":"t1","$ts":"2026-01-01T00:00:30Z","Temperature":20.0,"Count":1}
{"$dtId":"t1","$ts":"2026-01-01T00:00:45Z","Mode":"cool"}
{"$dtId":"t1","$ts":"2026-01-01T00:01:00Z","Temperature":30.0,"Count":2}
{"$dtId":"t1","$ts":"2026-01-01T00:01:30Z","Temperature":40.0,"Mode":"heat"}
{"$dtId":"t1","$ts":"2026-01-01T00:02:10Z","Temperature":50.0}
{"$dtId":"t2","$ts":"2026-01-01T00:00:10Z","Temperature":100.0}
{"$dtId":"t2","$ts":"2026-01-01T00:01:10Z","Temperature":200.0}
{"$dtId":"other","$ts":"2026-01-01T00:00:10Z","Temperature":1000.0}
"#;

const SPAN: &str = r#"{"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:02:00Z"}"#;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).unwrap();
    let report = store.ingest_ndjson(DATA.as_bytes()).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    store.set_model("t1", "dtmi:t;1").unwrap();
    store.set_model("t2", "dtmi:t;1").unwrap();
    store.set_model("other", "dtmi:o;1").unwrap();
    (dir, store)
}

/// Runs `body` on warm data, then after a flush, and checks both answers are the same.
fn ask(body: &str) -> Json {
    let (_dir, store) = store();
    let warm = store
        .query_json(body.as_bytes())
        .unwrap_or_else(|e| panic!("{e}\n{body}"));
    store.flush().unwrap();
    let cold = store.query_json(body.as_bytes()).unwrap();
    assert_eq!(warm, cold, "warm and cold answers differ for {body}");
    warm
}

fn ask_err(body: &str) -> String {
    let (_dir, store) = store();
    match store.query_json(body.as_bytes()) {
        Ok(v) => panic!("expected an error for {body}, got {v}"),
        Err(e) => e.to_string(),
    }
}

/// The values of the property named `name` in a TSI response.
fn column(response: &Json, name: &str) -> Vec<Json> {
    response["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no property {name} in {response}"))["values"]
        .as_array()
        .unwrap()
        .clone()
}

fn numbers(values: &[Json]) -> Vec<Option<f64>> {
    values.iter().map(Json::as_f64).collect()
}

fn close(actual: &[Option<f64>], expected: &[Option<f64>]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        match (a, e) {
            (Some(a), Some(e)) => assert!((a - e).abs() < 1e-9, "{actual:?} vs {expected:?}"),
            _ => assert_eq!(a, e, "{actual:?} vs {expected:?}"),
        }
    }
}

fn aggregate(variables: Json, extra: &str) -> Json {
    let body = format!(
        r#"{{"aggregateSeries": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "interval": "PT1M",
            "inlineVariables": {variables} {extra}}}}}"#
    );
    ask(&body)
}

#[test]
fn the_tsi_docs_aggregate_example_count_min_max() {
    // TSI's own example, with our twin id and property name.
    let r = ask(&format!(
        r#"{{"aggregateSeries": {{
            "timeSeriesId": ["t1"],
            "searchSpan": {SPAN},
            "interval": "PT1M",
            "inlineVariables": {{
                "Count": {{"kind": "aggregate", "filter": null, "aggregation": {{"tsx": "count()"}}}},
                "MinTemperature": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature"}}, "filter": null,
                                   "aggregation": {{"tsx": "min($value)"}}}},
                "MaxTemperature": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double"}}, "filter": null,
                                   "aggregation": {{"tsx": "max($value)"}}}}
            }},
            "projectedVariables": ["Count", "MinTemperature", "MaxTemperature"]
        }}}}"#
    ));
    assert_eq!(r["timestamps"], json!(["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"]));
    let names: Vec<&str> = r["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Count", "MinTemperature", "MaxTemperature"]);
    // Events in [0, 60): 0, 30, 45 -> 3; in [60, 120): 60, 90 -> 2.
    assert_eq!(column(&r, "Count"), [json!(3), json!(2)]);
    assert_eq!(r["properties"][0]["type"], "Long");
    assert_eq!(r["properties"][1]["type"], "Double");
    close(&numbers(&column(&r, "MinTemperature")), &[Some(10.0), Some(30.0)]);
    close(&numbers(&column(&r, "MaxTemperature")), &[Some(20.0), Some(40.0)]);
    assert_eq!(r["progress"], json!(100.0));
}

#[test]
fn every_plain_aggregation_by_hand() {
    let vars = json!({
        "avg": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"}, "aggregation": {"tsx": "avg($value)"}},
        "sum": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"}, "aggregation": {"tsx": "sum($value)"}},
        "first": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"}, "aggregation": {"tsx": "first($value)"}},
        "last": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"}, "aggregation": {"tsx": "last($value)"}},
        "median": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"}, "aggregation": {"tsx": "median($value)"}},
        "stdev": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"}, "aggregation": {"tsx": "stdev($value)"}},
        "range": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"}, "aggregation": {"tsx": "max($value) - min($value)"}},
        "twice": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double * 2"}, "aggregation": {"tsx": "avg($value)"}},
        "spread": {"kind": "aggregate", "aggregation": {"tsx": "max($event.Temperature.Double) - min($event.Temperature.Double)"}},
        "longs": {"kind": "numeric", "value": {"tsx": "$event.Count.Long"}, "aggregation": {"tsx": "sum($value)"}}
    });
    let r = aggregate(vars, "");
    // Bucket 0 holds 10, 20; bucket 1 holds 30, 40 (50 is after `to`).
    close(&numbers(&column(&r, "avg")), &[Some(15.0), Some(35.0)]);
    close(&numbers(&column(&r, "sum")), &[Some(30.0), Some(70.0)]);
    // first, last and median are by event and do not avoid nulls (TSI's TSX syntax
    // reference): bucket 0's events are at 0 (10), 30 (20) and 45 s (Mode only), so its last
    // is null and its middle event is the one at 30 s; bucket 1's are at 60 (30) and 90 s (40),
    // and the earlier of its two middle events is at 60 s.
    close(&numbers(&column(&r, "first")), &[Some(10.0), Some(30.0)]);
    close(&numbers(&column(&r, "last")), &[None, Some(40.0)]);
    close(&numbers(&column(&r, "median")), &[Some(20.0), Some(30.0)]);
    // Sample stdev of {10, 20}: sqrt(((-5)^2 + 5^2) / 1) = sqrt(50).
    close(
        &numbers(&column(&r, "stdev")),
        &[Some(50f64.sqrt()), Some(50f64.sqrt())],
    );
    close(&numbers(&column(&r, "range")), &[Some(10.0), Some(10.0)]);
    close(&numbers(&column(&r, "twice")), &[Some(30.0), Some(70.0)]);
    close(&numbers(&column(&r, "spread")), &[Some(10.0), Some(10.0)]);
    // Count is a Long column: 1 in bucket 0, 2 in bucket 1, summed as Double.
    close(&numbers(&column(&r, "longs")), &[Some(1.0), Some(2.0)]);
}

#[test]
fn filters_apply_per_query_and_per_variable() {
    let vars = json!({
        "warm": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"}, "aggregation": {"tsx": "avg($value)"},
                 "filter": {"tsx": "$event.Temperature.Double >= 20 AND $event.Temperature.Double != 40"}},
        "n": {"kind": "aggregate", "aggregation": {"tsx": "count()"}}
    });
    let r = aggregate(vars.clone(), "");
    // warm: bucket 0 keeps 20; bucket 1 keeps 30.
    close(&numbers(&column(&r, "warm")), &[Some(20.0), Some(30.0)]);
    // The query filter AND-s with each variable's: only events with Mode.
    let r = aggregate(
        vars,
        r#", "filter": {"tsx": "$event.Mode.String = 'heat' OR $event.Mode.String = 'cool'"}"#,
    );
    // Events with a Mode: 0 (10.0), 45 (no temperature), 90 (40.0).
    close(&numbers(&column(&r, "warm")), &[None, None]);
    assert_eq!(column(&r, "n"), [json!(2), json!(1)]);
}

#[test]
fn categorical_counts_and_step_fractions() {
    let vars = json!({
        "Mode": {"kind": "categorical", "value": {"tsx": "$event.Mode.String"},
                 "categories": [{"label": "Heating", "values": ["heat"]}],
                 "defaultCategory": {"label": "Other"}}
    });
    let r = aggregate(vars, "");
    // Bucket 0: heat at 0, cool at 45; bucket 1: heat at 90.
    assert_eq!(column(&r, "Mode[Heating]"), [json!(1), json!(1)]);
    assert_eq!(column(&r, "Mode[Other]"), [json!(1), json!(0)]);
    let vars = json!({
        "Mode": {"kind": "categorical", "value": {"tsx": "$event.Mode.String"},
                 "interpolation": {"kind": "Step", "boundary": {"span": "PT1M"}},
                 "categories": [{"label": "Heating", "values": ["heat"]}],
                 "defaultCategory": {"label": "Other"}}
    });
    let r = aggregate(vars, "");
    // Bucket 0: heat 0..45 (45 s), cool 45..60 (15 s) -> 0.75 / 0.25.
    // Bucket 1: cool 60..90, heat 90..120 -> 0.5 / 0.5.
    close(&numbers(&column(&r, "Mode[Heating]")), &[Some(0.75), Some(0.5)]);
    close(&numbers(&column(&r, "Mode[Other]")), &[Some(0.25), Some(0.5)]);
    assert_eq!(r["properties"][0]["type"], "Double");
}

#[test]
fn categorical_long_values_as_in_the_tsi_docs() {
    let vars = json!({
        "Status": {"kind": "categorical", "value": {"tsx": "$event.Count.Long"},
                   "categories": [{"values": [0, 1], "label": "Good"}, {"values": [4], "label": "Bad"}],
                   "defaultCategory": {"label": "Not Applicable"}}
    });
    let r = aggregate(vars, "");
    // Count 1 at 30 s (Good), 2 at 60 s (default).
    assert_eq!(column(&r, "Status[Good]"), [json!(1), json!(0)]);
    assert_eq!(column(&r, "Status[Bad]"), [json!(0), json!(0)]);
    assert_eq!(column(&r, "Status[Not Applicable]"), [json!(0), json!(1)]);
}

fn interpolated(kind: &str, span: &str, aggregation: &str) -> Vec<Option<f64>> {
    let boundary = if span.is_empty() {
        String::new()
    } else {
        format!(r#", "boundary": {{"span": "{span}"}}"#)
    };
    let vars: Json = serde_json::from_str(&format!(
        r#"{{"v": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double"}},
                "interpolation": {{"kind": "{kind}"{boundary}}}, "aggregation": {{"tsx": "{aggregation}"}}}}}}"#
    ))
    .unwrap();
    numbers(&column(&aggregate(vars, ""), "v"))
}

#[test]
fn linear_interpolation_by_hand() {
    // Points (s, value): (0,10) (30,20) (60,30) (90,40); (130,50) only with a boundary span.
    // Without a boundary span the line ends at 90.
    // left: s(0) = 10, s(60) = 30.  right: s(60) = 30, s(120) undefined.
    close(&interpolated("Linear", "", "left($value)"), &[Some(10.0), Some(30.0)]);
    close(&interpolated("Linear", "", "right($value)"), &[Some(30.0), None]);
    // Bucket 0: 30 s at mean 15 + 30 s at mean 25 = 1200 value-seconds over 60 s = 20.
    // Bucket 1: defined on [60, 90] only: 30 s at mean 35 = 1050 over 30 s = 35.
    close(&interpolated("Linear", "", "twavg($value)"), &[Some(20.0), Some(35.0)]);
    close(
        &interpolated("Linear", "", "twsum($value)"),
        &[Some(1200.0), Some(1050.0)],
    );
    // With a boundary span of 1 minute, 50 at 130 s is a neighbour: s(120) = 40 + 10 * 30/40.
    close(
        &interpolated("Linear", "PT1M", "right($value)"),
        &[Some(30.0), Some(47.5)],
    );
    // Bucket 1: 1050 + 30 s at mean (40 + 47.5) / 2 = 1050 + 1312.5 = 2362.5 over 60 s.
    close(
        &interpolated("Linear", "PT1M", "twavg($value)"),
        &[Some(20.0), Some(2362.5 / 60.0)],
    );
    // A boundary span too short to reach it changes nothing.
    close(&interpolated("Linear", "PT5S", "right($value)"), &[Some(30.0), None]);
}

#[test]
fn step_interpolation_by_hand() {
    // Step holds each value until the next: bucket 0 = 10 for 30 s, 20 for 30 s.
    close(&interpolated("Step", "", "twavg($value)"), &[Some(15.0), Some(35.0)]);
    close(&interpolated("Step", "", "twsum($value)"), &[Some(900.0), Some(2100.0)]);
    // left = value at the bucket start; right = value at its end (60 s: 30 was just set).
    close(&interpolated("Step", "", "left($value)"), &[Some(10.0), Some(30.0)]);
    close(&interpolated("Step", "", "right($value)"), &[Some(30.0), Some(40.0)]);
}

#[test]
fn interpolation_on_an_unaligned_span_clips_the_first_bucket() {
    // from = 00:00:15: bucket 0 starts at 00:00:00 (epoch-aligned) but its window is [15, 60).
    let body = r#"{"aggregateSeries": {"timeSeriesId": ["t1"],
        "searchSpan": {"from": "2026-01-01T00:00:15Z", "to": "2026-01-01T00:01:00Z"}, "interval": "PT1M",
        "inlineVariables": {
          "avg": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"},
                  "interpolation": {"kind": "Step", "boundary": {"span": "PT1M"}}, "aggregation": {"tsx": "twavg($value)"}},
          "left": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"},
                  "interpolation": {"kind": "Step", "boundary": {"span": "PT1M"}}, "aggregation": {"tsx": "left($value)"}}}}}"#;
    let r = ask(body);
    assert_eq!(r["timestamps"], json!(["2026-01-01T00:00:00Z"]));
    // The point at 0 s is the neighbour before `from`: 10 on [15, 30), 20 on [30, 60).
    // (10 * 15 + 20 * 30) / 45 = 750 / 45.
    close(&numbers(&column(&r, "avg")), &[Some(750.0 / 45.0)]);
    close(&numbers(&column(&r, "left")), &[Some(10.0)]);
}

#[test]
fn empty_buckets_are_null_and_count_is_zero() {
    let body = r#"{"aggregateSeries": {"timeSeriesId": ["t1"],
        "searchSpan": {"from": "2026-01-01T01:00:00Z", "to": "2026-01-01T01:02:00Z"}, "interval": "PT1M",
        "inlineVariables": {
          "avg": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"}, "aggregation": {"tsx": "avg($value)"}},
          "n": {"kind": "aggregate", "aggregation": {"tsx": "count()"}}}}}"#;
    let r = ask(body);
    assert_eq!(column(&r, "avg"), [Json::Null, Json::Null]);
    assert_eq!(column(&r, "n"), [json!(0), json!(0)]);
}

#[test]
fn get_events_with_filter_projection_take_and_continuation() {
    let r = ask(&format!(
        r#"{{"getEvents": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "filter": null,
            "projectedProperties": [{{"name": "Temperature", "type": "Double"}}, {{"name": "Mode", "type": "String"}}],
            "take": 250000}}}}"#
    ));
    assert_eq!(
        r["timestamps"],
        json!([
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:30Z",
            "2026-01-01T00:00:45Z",
            "2026-01-01T00:01:00Z",
            "2026-01-01T00:01:30Z"
        ])
    );
    assert_eq!(
        column(&r, "Temperature"),
        [json!(10.0), json!(20.0), Json::Null, json!(30.0), json!(40.0)]
    );
    assert_eq!(
        column(&r, "Mode"),
        [json!("heat"), Json::Null, json!("cool"), Json::Null, json!("heat")]
    );
    assert!(r.get("continuationToken").is_none());

    let r = ask(&format!(
        r#"{{"getEvents": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN},
            "filter": {{"tsx": "$event.Temperature.Double > 15"}}}}}}"#
    ));
    // Every property of the kept events: Temperature and Count (Mode only at 90 s).
    assert_eq!(column(&r, "Temperature"), [json!(20.0), json!(30.0), json!(40.0)]);
    assert_eq!(column(&r, "Count"), [json!(1), json!(2), Json::Null]);
    assert_eq!(column(&r, "Mode"), [Json::Null, Json::Null, json!("heat")]);

    // take counts values over the whole response: the first event has two values (10.0,
    // "heat"), the second two more (20.0, 1): with take 3 only the first fits, with 4 both.
    let r = ask(&format!(
        r#"{{"getEvents": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "take": 3}}}}"#
    ));
    assert_eq!(r["timestamps"], json!(["2026-01-01T00:00:00Z"]));
    let r = ask(&format!(
        r#"{{"getEvents": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "take": 4}}}}"#
    ));
    assert_eq!(r["timestamps"].as_array().unwrap().len(), 2);
    assert!(r.get("continuationToken").is_none(), "take ends the response: {r}");
}

#[test]
fn pages_follow_continuation_tokens_to_the_end() {
    // 250,001 values over pages of at most PAGE_VALUES: every event exactly once.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).unwrap();
    let mut text = String::new();
    for i in 0..120_000 {
        // Two events per second share a timestamp, so pages split inside equal times.
        text.push_str(&format!(
            "{{\"$dtId\":\"p\",\"$ts\":{},\"v\":{i}}}\n",
            1_700_000_000_000i64 + (i / 2) * 1000
        ));
    }
    store.ingest_ndjson(text.as_bytes()).unwrap();
    store.flush().unwrap();
    store
        .ingest_ndjson(b"{\"$dtId\":\"p\",\"$ts\":1700000000000,\"v\":-1}\n")
        .unwrap();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = twinstore::GetEventsQuery::new(
            "p",
            twinstore::Timestamp::from_nanos(0),
            twinstore::Timestamp::from_nanos(i64::MAX - 1),
        )
        .take(twinstore::MAX_TAKE);
        q.continuation = token.clone();
        let page = store.get_events(&q).unwrap();
        pages += 1;
        for v in &page.column("v").unwrap().values {
            match v {
                Some(twinstore::Value::Long(x)) => seen.push(*x),
                other => panic!("unexpected {other:?}"),
            }
        }
        match page.continuation_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 2, "120,001 values in pages of {}", twinstore::PAGE_VALUES);
    // The iterator follows the same tokens.
    let query = twinstore::GetEventsQuery::new(
        "p",
        twinstore::Timestamp::from_nanos(0),
        twinstore::Timestamp::from_nanos(i64::MAX - 1),
    )
    .take(twinstore::MAX_TAKE);
    let sizes: Vec<usize> = store
        .get_events_pages(query)
        .map(|page| page.unwrap().timestamps.len())
        .collect();
    assert_eq!(sizes, [twinstore::PAGE_VALUES, 20_001]);
    assert_eq!(seen.len(), 120_001);
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (-1..120_000).collect::<Vec<i64>>());
    // The late row at the first timestamp comes after the two rows written before it.
    assert_eq!(&seen[..3], &[0, 1, -1]);
}

#[test]
fn get_series_computes_variables_at_each_event() {
    let r = ask(&format!(
        r#"{{"getSeries": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "filter": null,
            "inlineVariables": {{
              "temperature": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double * 2"}}, "filter": null,
                               "aggregation": {{"tsx": "avg($value)"}}}}}},
            "projectedVariables": ["temperature"]}}}}"#
    ));
    // The event at 45 s has no temperature and is left out.
    assert_eq!(
        r["timestamps"],
        json!([
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:30Z",
            "2026-01-01T00:01:00Z",
            "2026-01-01T00:01:30Z"
        ])
    );
    close(
        &numbers(&column(&r, "temperature")),
        &[Some(20.0), Some(40.0), Some(60.0), Some(80.0)],
    );
}

#[test]
fn fleets_per_twin_merged_by_prefix_and_by_model() {
    let vars = r#""inlineVariables": {"avg": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"},
        "aggregation": {"tsx": "avg($value)"}}, "n": {"kind": "aggregate", "aggregation": {"tsx": "count()"}}}"#;
    // Per twin.
    let r = ask(&format!(
        r#"{{"aggregateSeries": {{"timeSeriesIds": [["t1"], ["t2"]], "searchSpan": {SPAN}, "interval": "PT1M", {vars}}}}}"#
    ));
    let series = r["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[1]["timeSeriesId"], json!(["t2"]));
    close(&numbers(&column(&series[1], "avg")), &[Some(100.0), Some(200.0)]);
    // Merged over the model: t1 and t2. Bucket 0: 10, 20, 100 -> 130 / 3; bucket 1: 30, 40, 200 -> 90.
    let merged = ask(&format!(
        r#"{{"aggregateSeries": {{"modelId": "dtmi:t;1", "merge": true, "searchSpan": {SPAN}, "interval": "PT1M", {vars}}}}}"#
    ));
    close(&numbers(&column(&merged, "avg")), &[Some(130.0 / 3.0), Some(90.0)]);
    // Events: t1 3 + 2, t2 1 + 1.
    assert_eq!(column(&merged, "n"), [json!(4), json!(3)]);
    // The prefix "t" selects t1 and t2 as well (not "other").
    let by_prefix = ask(&format!(
        r#"{{"aggregateSeries": {{"twinPrefix": "t", "merge": true, "searchSpan": {SPAN}, "interval": "PT1M", {vars}}}}}"#
    ));
    assert_eq!(merged, by_prefix);
}

#[test]
fn availability_and_event_schema() {
    let r = ask(r#"{"availability": {"interval": "PT1M"}}"#);
    let a = &r["availability"];
    assert_eq!(a["range"]["from"], "2026-01-01T00:00:00Z");
    assert_eq!(a["range"]["to"], "2026-01-01T00:02:10Z");
    assert_eq!(a["intervalSize"], "PT1M");
    // Minute 0: t1 at 0, 30, 45; t2 at 10; other at 10 -> 5. Minute 1: t1 at 60, 90; t2 at 70 -> 3.
    // Minute 2: t1 at 130 -> 1.
    assert_eq!(
        a["distribution"],
        json!({"2026-01-01T00:00:00Z": 5, "2026-01-01T00:01:00Z": 3, "2026-01-01T00:02:00Z": 1})
    );
    let r = ask(r#"{"availability": {"timeSeriesId": ["t2"], "interval": "PT1M"}}"#);
    assert_eq!(
        r["availability"]["distribution"],
        json!({"2026-01-01T00:00:00Z": 1, "2026-01-01T00:01:00Z": 1})
    );
    // Properties seen between 40 s and 70 s of t1: Mode (45 s), Temperature and Count (60 s).
    let r = ask(r#"{"eventSchema": {"timeSeriesId": ["t1"],
            "searchSpan": {"from": "2026-01-01T00:00:40Z", "to": "2026-01-01T00:01:10Z"}}}"#);
    assert_eq!(
        r["properties"],
        json!([
            {"name": "Count", "type": "Long"},
            {"name": "Mode", "type": "String"},
            {"name": "Temperature", "type": "Double"}
        ])
    );
    let r = ask(r#"{"eventSchema": {"timeSeriesId": ["t1"],
            "searchSpan": {"from": "2026-01-01T00:00:46Z", "to": "2026-01-01T00:00:59Z"}}}"#);
    assert_eq!(r["properties"], json!([]));
}

#[test]
fn last_known_value_step_series() {
    let (_dir, store) = store();
    let t = |s: &str| twinstore::Timestamp::parse(s).unwrap();
    let series = store
        .last_known(
            "t1",
            "Mode",
            t("2025-12-31T23:59:30Z"),
            t("2026-01-01T00:02:00Z"),
            std::time::Duration::from_secs(30),
        )
        .unwrap();
    let s = |v: &str| Some(twinstore::Value::String(v.into()));
    let expected = vec![
        (t("2025-12-31T23:59:30Z"), None),
        (t("2026-01-01T00:00:00Z"), s("heat")),
        (t("2026-01-01T00:00:30Z"), s("heat")),
        (t("2026-01-01T00:01:00Z"), s("cool")),
        (t("2026-01-01T00:01:30Z"), s("heat")),
    ];
    assert_eq!(series, expected);
    store.flush().unwrap();
    assert_eq!(
        store
            .last_known(
                "t1",
                "Mode",
                t("2025-12-31T23:59:30Z"),
                t("2026-01-01T00:02:00Z"),
                std::time::Duration::from_secs(30)
            )
            .unwrap(),
        expected
    );
}

#[test]
fn errors_say_what_is_wrong() {
    let e = ask_err("{not json");
    assert!(e.contains("malformed query"), "{e}");
    let e = ask_err(
        r#"{"getEvents": {"timeSeriesId": ["nobody"], "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}}}"#,
    );
    assert!(e.contains("unknown twin"), "{e}");
    let e = ask_err(
        r#"{"getEvents": {"timeSeriesId": ["t1"], "searchSpan": {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}}"#,
    );
    assert!(e.contains("reversed"), "{e}");
    let e = ask_err(&format!(
        r#"{{"getEvents": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "filter": {{"tsx": "$event.Mode.String = 1.5"}}}}}}"#
    ));
    assert!(e.contains("position"), "a type error names its position: {e}");
    let e = ask_err(&format!(
        r#"{{"aggregateSeries": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "interval": "PT0.000001S",
            "inlineVariables": {{"n": {{"kind": "aggregate", "aggregation": {{"tsx": "count()"}}}}}}}}}}"#
    ));
    assert!(e.contains("limit is 200000"), "{e}");
    let e = ask_err(&format!(
        r#"{{"aggregateSeries": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "interval": "PT1M",
            "inlineVariables": {{"v": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double"}},
            "aggregation": {{"tsx": "twavg($value)"}}}}}}}}}}"#
    ));
    assert!(e.contains("interpolation"), "{e}");
    let e = ask_err(&format!(
        r#"{{"aggregateSeries": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "interval": "PT1M",
            "inlineVariables": {{"v": {{"kind": "numeric", "value": {{"tsx": "$event.Mode.String"}},
            "aggregation": {{"tsx": "avg($value)"}}}}}}}}}}"#
    ));
    assert!(e.contains("Double or Long"), "{e}");
    let e = ask_err(&format!(
        r#"{{"aggregateSeries": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "interval": "PT1M",
            "inlineVariables": {{}}, "projectedVariables": ["nope"]}}}}"#
    ));
    assert!(e.contains("nope"), "{e}");
    // A property read with a type it was never stored with.
    let e = ask_err(&format!(
        r#"{{"aggregateSeries": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "interval": "PT1M",
            "inlineVariables": {{"v": {{"kind": "numeric", "value": {{"tsx": "$event.Count.Double"}},
            "aggregation": {{"tsx": "avg($value)"}}}}}}}}}}"#
    ));
    assert!(e.contains("Count as Double") && e.contains("$event.Count.Long"), "{e}");
    let e = ask_err(&format!(
        r#"{{"getEvents": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "filter": {{"tsx": "$event.Mode.Long = 1"}}}}}}"#
    ));
    assert!(e.contains("Mode as Long"), "{e}");
    // A property nobody has is not an error: nothing matches.
    let (_dir, store) = store();
    let r = store
        .query_json(
            format!(
                r#"{{"getEvents": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "filter": {{"tsx": "$event.Nobody.Double > 1"}}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(r["timestamps"], json!([]));
    let e = ask_err(&format!(
        r#"{{"getEvents": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "take": 250001}}}}"#
    ));
    assert!(e.contains("250000"), "{e}");
    let e = ask_err(&format!(
        r#"{{"getEvents": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "continuationToken": "garbage"}}}}"#
    ));
    assert!(e.contains("continuation"), "{e}");
}

#[test]
fn get_series_take_and_continuation() {
    let (_dir, store) = store();
    let q = |token: Option<&str>, take: usize| {
        let token = token.map_or(String::new(), |t| format!(r#", "continuationToken": "{t}""#));
        format!(
            r#"{{"getSeries": {{"timeSeriesId": ["t1"], "searchSpan": {SPAN}, "take": {take}{token},
                "inlineVariables": {{"T": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double"}}}}}}}}}}"#
        )
    };
    // Four events carry a Temperature in the span (0, 30, 60, 90 s); take 3 gives the first three.
    let r = store.query_json(q(None, 3).as_bytes()).unwrap();
    assert_eq!(column(&r, "T"), [json!(10.0), json!(20.0), json!(30.0)]);
    assert!(r.get("continuationToken").is_none(), "take ends the answer: {r}");
    // All four with the default take.
    let r = store.query_json(q(None, 10_000).as_bytes()).unwrap();
    assert_eq!(column(&r, "T"), [json!(10.0), json!(20.0), json!(30.0), json!(40.0)]);
    // A malformed token is an error (pages themselves share getEvents' tested paging).
    let e = store.query_json(q(Some("tw1.x.0.0"), 10).as_bytes()).unwrap_err();
    assert!(e.to_string().contains("continuation"), "{e}");
}

#[test]
fn warm_store_type_limits_the_span_to_the_warm_window() {
    let dir = tempfile::tempdir().unwrap();
    let now = twinstore::Timestamp::parse("2026-01-01T01:00:00Z").unwrap();
    let options = Options::default()
        .background_maintenance(false)
        .clock(twinstore::Clock::fixed(now));
    let store = Store::open(dir.path(), options).unwrap();
    store
        .ingest_ndjson(
            br#"{"$dtId":"w","$ts":"2026-01-01T00:00:00Z","v":1.0}
{"$dtId":"w","$ts":"2026-01-01T00:50:00Z","v":2.0}
"#,
        )
        .unwrap();
    let body = |store_type: &str| {
        format!(
            r#"{{"getEvents": {{"timeSeriesId": ["w"], "storeType": "{store_type}",
                "searchSpan": {{"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T02:00:00Z"}}}}}}"#
        )
    };
    // The warm window is 15 minutes: from 00:45 on.
    let warm = store.query_json(body("WarmStore").as_bytes()).unwrap();
    assert_eq!(column(&warm, "v"), [json!(2.0)]);
    let cold = store.query_json(body("ColdStore").as_bytes()).unwrap();
    assert_eq!(column(&cold, "v"), [json!(1.0), json!(2.0)]);
    let e = store.query_json(body("HotStore").as_bytes()).unwrap_err();
    assert!(e.to_string().contains("storeType"), "{e}");
}
