//! The Query API examples of TSI's 2020-07-31 specification (Azure/azure-rest-api-specs,
//! specification/timeseriesinsights/data-plane/Microsoft.TimeSeriesInsights/stable/2020-07-31/
//! examples/), each request body in tests/fixtures/tsi/examples/ under its example's file name
//! (see tests/fixtures/tsi/README.md): every one runs unchanged but for the Time Series ID, and
//! is checked against the example's published response where the response gives values.
//!
//! The data is built to the examples' geometry, read off their responses: series T1 has one
//! event a second from 2016-08-01T00:00:10Z to 00:09:59Z (50 events in the first minute, 60
//! in each of the next nine, none from 00:10:00: the published counts), Building
//! "Millenium", and a Temperature that climbs 0.25 a second from 65.125 and falls back to
//! 65.125 after 99.875 (a 140-second sawtooth: the published per-minute minimum, maximum and
//! average of every minute, and the published first events 65.125, 65.375, ...).

use serde_json::{Value as Json, json};
use twinstore::{Options, Store};

/// Seconds after 2016-08-01T00:00:00Z of T1's events.
const FIRST: u32 = 10;
const LAST: u32 = 599;

/// T1's Temperature at second `t` (the sawtooth described above).
fn temperature(t: u32) -> f64 {
    65.125 + 0.25 * f64::from((t - FIRST) % 140)
}

fn time(t: u32) -> String {
    format!("2016-08-01T00:{:02}:{:02}Z", t / 60, t % 60)
}

/// T1's events. Status alternates Good / Bad, and the Bad events carry a Value, so that the
/// examples' filter `($event.Value.Double != null) OR ($event.Status.String = 'Good')` keeps
/// each through one side of the OR.
fn t1_events() -> String {
    let mut out = String::new();
    for t in FIRST..=LAST {
        let status = if t % 2 == 0 {
            r#""Status":"Good""#.to_owned()
        } else {
            r#""Status":"Bad","Value":1.0"#.to_owned()
        };
        out.push_str(&format!(
            r#"{{"$dtId":"T1","$ts":"{}","Building":"Millenium","Temperature":{},{status}}}"#,
            time(t),
            temperature(t)
        ));
        out.push('\n');
    }
    out
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/tsi/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The answer to example `name` on `data`, warm and again cold (which must agree).
fn ask(name: &str, data: &str) -> Json {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).unwrap();
    store.ingest_ndjson(data.as_bytes()).unwrap();
    let body = fixture(name);
    let warm = store.query_json(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
    store.flush().unwrap();
    let cold = store.query_json(&body).unwrap();
    assert_eq!(warm, cold, "{name}: warm and cold answers differ");
    warm
}

fn column<'a>(answer: &'a Json, name: &str) -> &'a [Json] {
    answer["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {answer}"))["values"]
        .as_array()
        .unwrap()
}

fn timestamps(answer: &Json) -> Vec<&str> {
    answer["timestamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect()
}

/// The getEvents examples without `take`. QueryGetEventsPage2 and ColdStoreQueryGetEventsPage2
/// publish the first ten events: 00:00:10 to 00:00:19, Building "Millenium", Temperature
/// 65.125 to 67.375 by 0.25. TSI pages them; twinstore answers the whole span in one page
/// (no `take`), so the published page is the answer's first ten rows.
#[test]
fn get_events_examples() {
    let data = t1_events();
    let published_times: Vec<String> = (10..20).map(time).collect();
    let published_temperatures = json!([
        65.125, 65.375, 65.625, 65.875, 66.125, 66.375, 66.625, 66.875, 67.125, 67.375
    ]);
    for name in [
        "QueryGetEventsPage1",
        "QueryGetEventsPage2",
        "QueryGetEventsPage3",
        "QueryGetEventsPage4",
        "WarmStoreQueryGetEventsPage1",
        "ColdStoreQueryGetEventsPage2",
        "ColdStoreQueryGetEventsPage3",
        "ColdStoreQueryGetEventsPage4",
    ] {
        let r = ask(name, &data);
        let times = timestamps(&r);
        assert_eq!(times.len(), 590, "{name}: every event passes the filter");
        assert_eq!(&times[..10], published_times.as_slice(), "{name}");
        assert_eq!(column(&r, "Building")[..10], *vec![json!("Millenium"); 10], "{name}");
        assert_eq!(
            Json::from(column(&r, "Temperature")[..10].to_vec()),
            published_temperatures,
            "{name}"
        );
        assert_eq!(column(&r, "Temperature")[589], json!(temperature(LAST)), "{name}");
        assert!(r.get("continuationToken").is_none(), "{name}");
    }
}

/// QueryGetEventsWithTakePage1: `take` 10. The specification (timeseriesinsights.json,
/// GetEvents.take) counts property values, not events: two projected properties, so five
/// events. The published response carries a continuation token; twinstore ends the answer
/// when `take` is reached, without one (docs/QUERIES.md).
#[test]
fn get_events_with_take_example() {
    let r = ask("QueryGetEventsWithTakePage1", &t1_events());
    let expected: Vec<String> = (10..15).map(time).collect();
    assert_eq!(timestamps(&r), expected);
    assert_eq!(
        Json::from(column(&r, "Temperature").to_vec()),
        json!([65.125, 65.375, 65.625, 65.875, 66.125])
    );
}

/// The getSeries examples: `avg($value)` of `$event.Temperature` at each event. QueryGetSeriesPage2
/// publishes 00:00:10 to 00:00:20 with 65.125 to 67.625 by 0.25.
#[test]
fn get_series_examples() {
    let data = t1_events();
    let published_times: Vec<String> = (10..=20).map(time).collect();
    let published = json!([
        65.125, 65.375, 65.625, 65.875, 66.125, 66.375, 66.625, 66.875, 67.125, 67.375, 67.625
    ]);
    for name in [
        "QueryGetSeriesPage1",
        "QueryGetSeriesPage2",
        "QueryGetSeriesPage3",
        "WarmStoreQueryGetSeriesPage1",
        "WarmStoreQueryGetSeriesPage2",
        "WarmStoreQueryGetSeriesPage3",
        "ColdStoreQueryGetSeriesPage1",
        "ColdStoreQueryGetSeriesPage2",
        "ColdStoreQueryGetSeriesPage3",
    ] {
        let r = ask(name, &data);
        let times = timestamps(&r);
        assert_eq!(times.len(), 590, "{name}");
        assert_eq!(&times[..11], published_times.as_slice(), "{name}");
        assert_eq!(
            Json::from(column(&r, "temperatures")[..11].to_vec()),
            published,
            "{name}"
        );
    }
}

/// QueryGetSeriesWithTakePage1 and 2: `take` 10 values of one variable, ten events. Page 2
/// publishes eleven rows for a take of ten; twinstore gives the first ten of them.
#[test]
fn get_series_with_take_examples() {
    let data = t1_events();
    for name in ["QueryGetSeriesWithTakePage1", "QueryGetSeriesWithTakePage2"] {
        let r = ask(name, &data);
        let expected: Vec<String> = (10..20).map(time).collect();
        assert_eq!(timestamps(&r), expected, "{name}");
        assert_eq!(
            Json::from(column(&r, "temperatures").to_vec()),
            json!([
                65.125, 65.375, 65.625, 65.875, 66.125, 66.375, 66.625, 66.875, 67.125, 67.375
            ]),
            "{name}"
        );
    }
}

/// The count/min/max aggregateSeries examples, checked against the values published in
/// QueryAggregateSeriesPage2, WarmStoreQueryAggregateSeriesPage and
/// ColdStoreQueryAggregateSeriesPage2 for 00:00 to 00:09. From 00:10 there are no events;
/// TSI publishes one such bucket, 00:10, with a null count; twinstore answers every minute of
/// the span (00:00 to 00:16) and gives an empty bucket's count() as 0 (docs/QUERIES.md).
#[test]
fn aggregate_series_examples() {
    let data = t1_events();
    let counts = [50, 60, 60, 60, 60, 60, 60, 60, 60, 60];
    let mins = [
        65.125, 77.625, 65.125, 72.625, 65.125, 67.625, 82.625, 65.125, 77.625, 65.125,
    ];
    let maxs = [
        77.375, 92.375, 99.875, 87.375, 99.875, 82.375, 97.375, 99.875, 92.375, 99.875,
    ];
    for name in [
        "QueryAggregateSeriesPage1",
        "QueryAggregateSeriesPage2",
        "WarmStoreQueryAggregateSeriesPage",
        "ColdStoreQueryAggregateSeriesPage1",
        "ColdStoreQueryAggregateSeriesPage2",
    ] {
        let r = ask(name, &data);
        let times = timestamps(&r);
        let expected_times: Vec<String> = (0..17).map(|m| time(m * 60)).collect();
        assert_eq!(times, expected_times, "{name}");
        assert_eq!(column(&r, "Count")[..10], counts.map(Json::from), "{name}");
        assert_eq!(column(&r, "MinTemperature")[..10], mins.map(Json::from), "{name}");
        assert_eq!(column(&r, "MaxTemperature")[..10], maxs.map(Json::from), "{name}");
        assert_eq!(column(&r, "Count")[10], json!(0), "{name}");
        assert_eq!(column(&r, "MinTemperature")[10], Json::Null, "{name}");
        assert_eq!(column(&r, "MaxTemperature")[10], Json::Null, "{name}");
    }
}

/// QueryAggregateSeriesWithSampleInterpolation: `left($value)` with Linear and with Step
/// interpolation, boundary P1D, per minute. The published values (Linear 50, 60, ..., 62;
/// Step 71.25, 85, ..., 84) are not of one series with the other examples (they repeat the
/// counts and averages of QueryAggregateSeriesPage2), so the expectation here is worked out
/// from T1: the value at each minute's start. At 00:00 there is no earlier point (null for
/// both); at minute m >= 1 there is an event exactly at m:00, so Linear and Step agree on
/// it; from 00:10 the last value (00:09:59) holds under Step and nothing follows for Linear.
#[test]
fn aggregate_series_sample_interpolation_example() {
    let r = ask("QueryAggregateSeriesWithSampleInterpolation", &t1_events());
    let linear = column(&r, "LinearSampleInterpolation");
    let step = column(&r, "StepSampleInterpolation");
    assert_eq!(linear.len(), 17);
    assert_eq!(linear[0], Json::Null);
    assert_eq!(step[0], Json::Null);
    for m in 1..10 {
        assert_eq!(linear[m as usize], json!(temperature(m * 60)), "minute {m}");
        assert_eq!(step[m as usize], json!(temperature(m * 60)), "minute {m}");
    }
    for (m, v) in step.iter().enumerate().skip(10) {
        assert_eq!(*v, json!(temperature(LAST)), "minute {m}");
    }
}

/// QueryAggregateSeriesWithCategoricalVariable: the example that writes property references
/// with unquoted brackets, `$event.[Status].String` and `tolong($event.[Status].Double)`.
/// Its published counts per 2-second bucket (for both variables):
const GOOD: [i64; 10] = [5, 8, 4, 6, 9, 8, 3, 6, 5, 8];
const BAD: [i64; 10] = [4, 3, 3, 5, 5, 3, 9, 7, 7, 7];
const OTHER: [i64; 10] = [11, 9, 13, 9, 6, 9, 8, 7, 8, 5];

/// Sensor_58's events: in each 2-second bucket twenty events with a String Status and then
/// twenty with a Double Status (one property can hold each type, as in TSI), every 50 ms,
/// with the published number of Good, Bad and Other values (cycling through each category's
/// values: "Good", "Very Good", "Excellent" / 0, 1, 2 ...).
fn sensor_58_events() -> String {
    let strings: [&[&str]; 3] = [&["Good", "Very Good", "Excellent"], &["Bad", "OK"], &["Other"]];
    let longs: [&[i64]; 3] = [&[0, 1, 2], &[3, 4], &[5]];
    let mut out = String::new();
    for k in 0..10 {
        let mut slot = 0;
        let mut event = |status: String| {
            let ms = k * 2000 + slot * 50;
            slot += 1;
            out.push_str(&format!(
                r#"{{"$dtId":"Sensor_58","$ts":"2019-10-10T23:42:{:02}.{:03}Z","Status":{status}}}"#,
                ms / 1000,
                ms % 1000
            ));
            out.push('\n');
        };
        let per_category = [GOOD[k as usize], BAD[k as usize], OTHER[k as usize]];
        for (c, n) in per_category.iter().enumerate() {
            for i in 0..*n as usize {
                event(format!("\"{}\"", strings[c][i % strings[c].len()]));
            }
        }
        for (c, n) in per_category.iter().enumerate() {
            for i in 0..*n as usize {
                event(format!("{}.0", longs[c][i % longs[c].len()]));
            }
        }
    }
    out
}

#[test]
fn aggregate_series_categorical_example_with_unquoted_brackets() {
    let r = ask("QueryAggregateSeriesWithCategoricalVariable", &sensor_58_events());
    let expected_times: Vec<String> = (0..10).map(|k| format!("2019-10-10T23:42:{:02}Z", 2 * k)).collect();
    assert_eq!(timestamps(&r), expected_times);
    for variable in ["Status_String", "Status_Long"] {
        for (label, counts) in [("Good", GOOD), ("Bad", BAD), ("Other", OTHER), ("Unknown", [0; 10])] {
            let name = format!("{variable}[{label}]");
            assert_eq!(column(&r, &name), counts.map(Json::from), "{name}");
        }
    }
}
