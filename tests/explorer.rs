//! The explorer page at `/`, in headless Chromium (tests/browser/explorer.mjs) against
//! `twinstore serve` over plain HTTP: the tree down to thermostat67, its Temperature on the
//! chart, a zoom, the view reloaded from its URL, the events table, the CSV, stacked axes, a
//! merged series, and the token form on a server that needs one. What the page drew is
//! checked against hand-computed values and against the store's own aggregates, asked from
//! Rust with the span and interval the chart used.

#[path = "browser/harness.rs"]
mod harness;

use serde_json::{Value as Json, json};
use twinstore::server::ServerOptions;
use twinstore::{Options, Record, Store, Timestamp};

const TOKEN: &str = "explorer-t0ken";
const MODEL: &str = "dtmi:contosocom:DigitalTwins:Thermostat;1";
/// thermostat67's five updates (examples/thermostats.rs), one a minute from 08:00.
const THERMOSTAT67: [f64; 5] = [20.5, 21.0, 21.25, 20.75, 22.0];

/// The thermostat walk-through's data (examples/thermostats.rs, steps 1 to 3), written the
/// same way: thermostat67's five ADT Twin.Update events, the flattened records of
/// thermostat68 and room-12, and a minute of three stream thermostats, one record a second
/// from 08:10:00. And a twin graph for the ADT hierarchy: building1 contains floor1, which
/// contains thermostat67 and thermostat68.
fn store(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, Options::default().background_maintenance(false)).expect("open");
    let mut adt = String::new();
    for (minute, t) in THERMOSTAT67.iter().enumerate() {
        adt.push_str(&format!(
            concat!(
                r#"{{"specversion":"1.0","id":"evt-{}","source":"contoso.api.wus2.digitaltwins.azure.net","#,
                r#""type":"Microsoft.DigitalTwins.Twin.Update","subject":"thermostat67","#,
                r#""time":"2026-01-01T08:0{}:00Z","data":{{"modelId":"{}","#,
                r#""patch":[{{"op":"replace","path":"/Temperature","value":{:.2}}}]}}}}"#,
                "\n"
            ),
            minute, minute, MODEL, t
        ));
    }
    for (id, source, target) in [
        ("r1", "building1", "floor1"),
        ("r2", "floor1", "thermostat67"),
        ("r3", "floor1", "thermostat68"),
    ] {
        adt.push_str(&format!(
            concat!(
                r#"{{"type":"Microsoft.DigitalTwins.Relationship.Create","subject":"{}/relationships/{}","#,
                r#""time":"2026-01-01T07:00:00Z","data":{{"$relationshipId":"{}","$sourceId":"{}","#,
                r#""$targetId":"{}","$relationshipName":"contains"}}}}"#,
                "\n"
            ),
            source, id, id, source, target
        ));
    }
    // thermostat68 names its model in a Twin.Create, as ADT sends it before any update.
    adt.push_str(&format!(
        r#"{{"type":"Microsoft.DigitalTwins.Twin.Create","subject":"thermostat68","time":"2026-01-01T07:00:00Z","data":{{"$dtId":"thermostat68","$metadata":{{"$model":"{MODEL}"}}}}}}"#
    ));
    adt.push('\n');
    let report = store.ingest_adt(adt.as_bytes()).expect("adt");
    assert_eq!((report.records, report.rejected.len()), (5, 0), "{report:?}");
    let flat =
        br#"{"$dtId":"thermostat68","$ts":"2026-01-01T08:00:00Z","Temperature":19.5,"Mode":"heat","Setpoint":21.0}
{"$dtId":"room-12","$ts":"2026-01-01T08:00:30Z","Occupied":true,"CO2":455,"Front.Temperature":19.25}
{"$dtId":"thermostat68","$ts":"2026-01-01T08:02:00Z","Temperature":20.0}
{"$dtId":"room-12","$ts":"2026-01-01T08:03:00Z","CO2":610}
"#;
    store.ingest_ndjson(flat).expect("flat");
    let start = Timestamp::parse("2026-01-01T08:10:00Z").expect("start");
    for second in 0..60 {
        let ts = start.saturating_add_nanos(second * 1_000_000_000);
        let records: Vec<Record> = (0..3)
            .map(|i| {
                Record::new(format!("stream-thermostat-{i}"), ts).with("Temperature", stream_temperature(second, i))
            })
            .collect();
        store.write(&records).expect("stream");
    }
    store
}

/// The stream thermostats' Temperature at `second` (examples/thermostats.rs).
fn stream_temperature(second: i64, i: i64) -> f64 {
    let drift = (second as f64 / 60.0 * std::f64::consts::PI).sin();
    (2000.0 + 100.0 * drift + 50.0 * i as f64).round() / 100.0
}

fn time(text: &str) -> i64 {
    Timestamp::parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .as_nanos()
}

fn seconds(iso_duration: &str) -> f64 {
    let text = iso_duration.trim_start_matches("PT");
    let (number, unit) = text.split_at(text.len() - 1);
    let n: f64 = number.parse().unwrap_or_else(|e| panic!("{iso_duration:?}: {e}"));
    match unit {
        "S" => n,
        "M" => n * 60.0,
        "H" => n * 3600.0,
        _ => panic!("unexpected interval {iso_duration:?}"),
    }
}

/// The store's own buckets (aggregateSeries asked from Rust) for `selection` over what the
/// chart drew (its span and interval): (bucket start, avg, min, max) of the non-empty ones.
fn store_buckets(store: &Store, selection: Json, drawn: &Json) -> Vec<(i64, f64, f64, f64)> {
    let over = |f: &str| {
        json!({ "kind": "numeric", "value": { "tsx": "$event.Temperature.Double" },
                "aggregation": { "tsx": format!("{f}($value)") } })
    };
    let mut body = json!({ "aggregateSeries": {
        "searchSpan": { "from": drawn["from"], "to": drawn["to"] },
        "interval": drawn["interval"],
        "inlineVariables": { "a": over("avg"), "lo": over("min"), "hi": over("max") },
        "projectedVariables": ["a", "lo", "hi"] } });
    for (k, v) in selection.as_object().expect("selection") {
        body["aggregateSeries"][k] = v.clone();
    }
    let answer = store.query_json(body.to_string().as_bytes()).expect("aggregateSeries");
    let column = |name: &str| -> Vec<Option<f64>> {
        answer["properties"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .and_then(|p| p["values"].as_array())
            .unwrap_or_else(|| panic!("no {name} in {answer}"))
            .iter()
            .map(Json::as_f64)
            .collect()
    };
    let (avg, min, max) = (column("a"), column("lo"), column("hi"));
    let times = answer["timestamps"].as_array().expect("timestamps");
    times
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((time(t.as_str()?), avg[i]?, min[i]?, max[i]?)))
        .collect()
}

/// The points a drawn series holds: (bucket start, avg, min, max).
fn drawn_points(drawn: &Json) -> Vec<(i64, f64, f64, f64)> {
    drawn["points"]
        .as_array()
        .unwrap_or_else(|| panic!("no points in {drawn}"))
        .iter()
        .map(|p| {
            let number = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k} of {p}"));
            (
                time(p["t"].as_str().expect("t")),
                number("avg"),
                number("min"),
                number("max"),
            )
        })
        .collect()
}

/// The chart's buckets fit its width: one bucket per two to five pixels (the interval is
/// the first round duration at least the span over half the width), the span whole buckets.
fn check_interval(view: &Json) {
    let span = (time(view["to"].as_str().expect("to")) - time(view["from"].as_str().expect("from"))) as f64 / 1e9;
    let interval = seconds(view["interval"].as_str().expect("interval"));
    let width = view["plotWidth"].as_f64().expect("plot width");
    let buckets = span / interval;
    assert_eq!(buckets, buckets.round(), "{view}");
    assert!(
        buckets <= width / 2.0 + 1.0 && buckets >= width / 5.0 - 1.0,
        "{buckets} buckets over {width} px: {view}"
    );
}

#[test]
fn explorer_draws_what_the_store_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir.path().join("db"));
    let server = harness::start(store.clone(), ServerOptions::default());
    let guarded = harness::start(
        store.clone(),
        ServerOptions {
            token: Some(TOKEN.into()),
            ..ServerOptions::default()
        },
    );
    let screenshot = harness::artifacts_dir().join("explorer.png");
    let config = json!({
        "url": format!("http://{}/", server.addr),
        "tokenUrl": format!("http://{}/", guarded.addr),
        "token": TOKEN,
        "screenshot": screenshot.display().to_string(),
    });
    let Some(r) = harness::run_script("explorer.mjs", &config) else {
        return;
    };
    let context = format!("the page's findings: {r:#}");
    assert_eq!(r["errors"], json!([]), "{context}");

    check_first_view(&r, &store, &context);
    check_zoom_url_and_csv(&r, &store, &context);
    check_stacked_and_merged(&r, &store, &context);
    check_table_raw_property_and_token(&r, &store, &context);
    check_time_controls_and_search(&r, &context);
    assert!(screenshot.is_file(), "no screenshot at {}", screenshot.display());
}

/// The first view, the tree, the instance's details, its Temperature drawn and its events.
fn check_first_view(r: &Json, store: &Store, context: &str) {
    // The first view: the whole history, 08:00:00 to 08:11:00 (the last event is at 08:10:59;
    // availability's buckets are 10 s for 11 minutes), no series.
    let initial = &r["initial"];
    assert_eq!(initial["state"]["series"], json!([]), "{context}");
    let range = &initial["state"]["range"];
    assert_eq!(
        range["from"].as_i64(),
        Some(time("2026-01-01T08:00:00Z") / 1_000_000),
        "{context}"
    );
    assert_eq!(
        range["to"].as_i64(),
        Some(time("2026-01-01T08:11:00Z") / 1_000_000),
        "{context}"
    );

    // The tree: ADT, building1, floor1 each hold the two thermostats.
    assert_eq!(
        r["counts"],
        json!({ "ADT": "2", "ADT/building1": "2", "ADT/building1/floor1": "2" }),
        "{context}"
    );
    // thermostat67's type: the one derived from its model, with every property its twins
    // reported (thermostat68 also reported Mode and Setpoint); its own events carry
    // Temperature only.
    assert_eq!(
        r["variables"],
        json!(["EventCount", "Mode", "Setpoint", "Temperature"]),
        "{context}"
    );
    assert!(
        r["properties"]
            .as_str()
            .unwrap_or_default()
            .contains("Temperature\tDouble"),
        "{context}"
    );

    // thermostat67's Temperature over the whole history: one point a minute, each alone in
    // its bucket, drawn where the store's aggregate puts it.
    let first = &r["first"];
    check_interval(first);
    assert_eq!(first["from"], "2026-01-01T08:00:00Z", "{context}");
    assert_eq!(first["to"], "2026-01-01T08:11:00Z", "{context}");
    let drawn = &first["drawn"][0];
    assert_eq!(
        (drawn["id"].as_str(), drawn["variable"].as_str()),
        (Some("thermostat67"), Some("Temperature"))
    );
    let points = drawn_points(drawn);
    let hand = thermostat67_buckets();
    assert_eq!(points, hand, "{context}");
    assert_eq!(
        points,
        store_buckets(store, json!({ "timeSeriesId": ["thermostat67"] }), drawn)
    );
    check_heights(drawn);

    // The events table: thermostat67's five events, as written.
    let events = &r["firstEvents"];
    assert_eq!(events["header"], json!(["Timestamp (UTC)", "Temperature"]), "{context}");
    let expected_rows: Vec<Json> = THERMOSTAT67
        .iter()
        .enumerate()
        .map(|(m, t)| json!([format!("2026-01-01T08:0{m}:00Z"), t.to_string()]))
        .collect();
    assert_eq!(events["rows"], json!(expected_rows), "{context}");
}

/// The zoom, the view reloaded from its URL, the CSV.
fn check_zoom_url_and_csv(r: &Json, store: &Store, context: &str) {
    // The zoom: dragged from between 08:00 and 08:01 to between 08:02 and 08:03, so about
    // 08:00:30 to 08:02:30 (a pixel is under a second), in shorter buckets.
    let zoomed = &r["zoomed"];
    check_interval(zoomed);
    assert!(
        seconds(zoomed["interval"].as_str().unwrap_or("PT0S"))
            < seconds(r["first"]["interval"].as_str().unwrap_or("PT0S")),
        "{context}"
    );
    let zoom_range = &zoomed["state"]["range"];
    let near = |got: &Json, expected: &str| (got.as_i64().unwrap_or(0) - time(expected) / 1_000_000).abs() <= 2_000;
    assert!(
        near(&zoom_range["from"], "2026-01-01T08:00:30Z") && near(&zoom_range["to"], "2026-01-01T08:02:30Z"),
        "{context}"
    );
    let drawn = &zoomed["drawn"][0];
    let points = drawn_points(drawn);
    assert_eq!(points, thermostat67_buckets()[1..3].to_vec(), "{context}");
    assert_eq!(
        points,
        store_buckets(store, json!({ "timeSeriesId": ["thermostat67"] }), drawn)
    );
    assert_eq!(
        r["zoomedEvents"]["rows"],
        json!([["2026-01-01T08:01:00Z", "21"], ["2026-01-01T08:02:00Z", "21.25"]]),
        "{context}"
    );

    // The URL holds the view: the same page from it draws the same series, the same way.
    let url = r["url"].as_str().unwrap_or_default();
    assert!(
        url.contains("thermostat67") && url.contains("Temperature") && url.contains("axes=shared"),
        "{url}"
    );
    assert_eq!(r["reloaded"]["state"], zoomed["state"], "{context}");
    assert_eq!(r["reloaded"]["drawn"], zoomed["drawn"], "{context}");

    // The CSV: a row per bucket the chart drew, the store's numbers.
    assert_eq!(r["csvName"], "twinstore-explorer.csv", "{context}");
    let csv = r["csv"].as_str().unwrap_or_default();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,thermostat67 Temperature avg,thermostat67 Temperature min,thermostat67 Temperature max")
    );
    let rows: Vec<(i64, f64, f64, f64)> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let number = |i: usize| cells[i].parse::<f64>().unwrap_or_else(|e| panic!("{line:?}: {e}"));
            (time(cells[0]), number(1), number(2), number(3))
        })
        .collect();
    assert_eq!(rows, thermostat67_buckets()[1..3].to_vec(), "{csv}");
}

/// A second series in its own lane, and a series merged over a hierarchy node.
fn check_stacked_and_merged(r: &Json, store: &Store, context: &str) {
    // Stacked: thermostat67 in the upper lane, thermostat68 in the lower one, each its own
    // colour; thermostat68's points are its three readings, as the store buckets them.
    let stacked = &r["stacked"];
    assert_eq!(stacked["state"]["axes"], "stacked", "{context}");
    let lanes = stacked["drawn"].as_array().expect("drawn");
    assert_eq!(lanes.len(), 2, "{context}");
    assert_ne!(lanes[0]["color"], lanes[1]["color"]);
    let ys = |s: &Json| -> Vec<f64> {
        s["points"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["y"].as_f64()).collect())
            .unwrap_or_default()
    };
    let upper_bottom = ys(&lanes[0]).into_iter().fold(f64::MIN, f64::max);
    let lower_top = ys(&lanes[1]).into_iter().fold(f64::MAX, f64::min);
    assert!(upper_bottom < lower_top, "lanes overlap: {context}");
    let t68 = drawn_points(&lanes[1]);
    assert_eq!(
        t68.iter().map(|p| p.1).collect::<Vec<_>>(),
        [19.5, 20.0],
        "thermostat68 at 08:00 and 08:02: {context}"
    );
    assert_eq!(
        t68,
        store_buckets(store, json!({ "timeSeriesId": ["thermostat68"] }), &lanes[1])
    );

    // Merged over floor1: thermostat67 and thermostat68 in the same buckets; at 08:00
    // avg(20.5, 19.5) = 20, min 19.5, max 20.5.
    let merged = &r["merged"]["drawn"][2];
    assert_eq!(merged["path"], json!(["ADT", "building1", "floor1"]), "{context}");
    let points = drawn_points(merged);
    assert_eq!(points[0], (time("2026-01-01T08:00:00Z"), 20.0, 19.5, 20.5), "{context}");
    let fleet = json!({ "hierarchyPath": { "hierarchy": "ADT", "path": ["building1", "floor1"] }, "merge": true });
    assert_eq!(points, store_buckets(store, fleet, merged));
}

/// The events table's "More", a raw property charted, the token form.
fn check_table_raw_property_and_token(r: &Json, store: &Store, context: &str) {
    // "More": 50 of stream-thermostat-0's 60 events, then all 60.
    let first_rows = r["streamFirst"]["rows"].as_array().expect("rows");
    assert_eq!(first_rows.len(), 50, "{context}");
    let more_rows = r["streamMore"]["rows"].as_array().expect("rows");
    for (second, row) in more_rows.iter().enumerate() {
        let at = Timestamp::parse("2026-01-01T08:10:00Z")
            .expect("t")
            .saturating_add_nanos(second as i64 * 1_000_000_000);
        assert_eq!(row[0].as_str(), Some(at.to_string().as_str()), "{context}");
        assert_eq!(
            row[1].as_str().and_then(|v| v.parse::<f64>().ok()),
            Some(stream_temperature(second as i64, 0))
        );
    }
    assert_eq!(more_rows.len(), 60, "{context}");
    assert_eq!(r["moreHidden"], true, "{context}");

    // A twin without a model: DefaultType (EventCount only), its Temperature charted as a
    // raw property; 2 s buckets of two readings each, the first avg(20.00, 20.05).
    assert_eq!(r["streamVariables"], json!(["EventCount"]), "{context}");
    let raw = &r["raw"]["drawn"][3];
    assert_eq!(
        (raw["id"].as_str(), raw["variable"].as_str()),
        (Some("stream-thermostat-0"), Some("Temperature"))
    );
    let points = drawn_points(raw);
    assert_eq!(r["raw"]["interval"], "PT2S", "{context}");
    assert_eq!(points.len(), 30, "{context}");
    let (t, avg, min, max) = points[0];
    assert_eq!((t, min, max), (time("2026-01-01T08:10:00Z"), 20.0, 20.05), "{context}");
    assert!((avg - 20.025).abs() < 1e-9, "{context}");
    assert_eq!(
        points,
        store_buckets(store, json!({ "timeSeriesId": ["stream-thermostat-0"] }), raw)
    );

    // The token: asked for, kept for the tab, and the tree loaded with it.
    assert!(
        r["tokenPrompt"].as_str().unwrap_or_default().contains("token"),
        "{context}"
    );
    assert_eq!(r["tokenKept"], TOKEN, "{context}");
    assert!(r["tokenTree"].as_str().unwrap_or_default().contains("ADT"), "{context}");
    assert_eq!(r["promptAfterReload"], 0, "{context}");
    // The calls refused before the token was given (the first view's model and availability).
    assert!(r["refused"].as_array().is_some_and(|r| !r.is_empty()), "{context}");
}

/// Pan, shift-drag and the availability strip move the range; search finds the streams.
fn check_time_controls_and_search(r: &Json, context: &str) {
    let ms = |range: &Json, k: &str| range[k].as_i64().unwrap_or_else(|| panic!("{k} of {range}; {context}"));
    let at = |text: &str| time(text) / 1_000_000;
    // The whole history, 08:00 to 08:11; back by half: 07:54:30 to 08:05:30.
    let before = &r["beforePan"];
    assert_eq!(
        (ms(before, "from"), ms(before, "to")),
        (at("2026-01-01T08:00:00Z"), at("2026-01-01T08:11:00Z"))
    );
    let panned = &r["panned"];
    assert_eq!(
        (ms(panned, "from"), ms(panned, "to")),
        (at("2026-01-01T07:54:30Z"), at("2026-01-01T08:05:30Z"))
    );
    // Dragging the chart 100 px to the left with shift moves the range later, by 100 px of
    // time, its length kept (to the millisecond).
    let dragged = &r["shiftDragged"];
    let length = ms(panned, "to") - ms(panned, "from");
    assert!(
        (ms(dragged, "to") - ms(dragged, "from") - length).abs() <= 1,
        "{context}"
    );
    let moved = ms(dragged, "from") - ms(panned, "from");
    let width = r["raw"]["plotWidth"].as_f64().unwrap_or(1.0);
    let expected = 100.0 * length as f64 / width;
    assert!(
        (moved as f64 - expected).abs() <= expected * 0.05,
        "moved {moved} ms, not {expected}; {context}"
    );
    // The strip spans 08:00 to 08:11 (10 s buckets): its second quarter, 08:02:45 to 08:05:30,
    // within a pixel or two.
    let picked = &r["picked"];
    let close = |got: i64, expected: &str| (got - at(expected)).abs() <= 2_000;
    assert!(
        close(ms(picked, "from"), "2026-01-01T08:02:45Z") && close(ms(picked, "to"), "2026-01-01T08:05:30Z"),
        "{context}"
    );

    // "stream" suggests the three stream thermostats and finds them; the tree keeps only
    // the group they are in.
    let suggestions = r["suggestions"].as_array().map(Vec::as_slice).unwrap_or_default();
    for i in 0..3 {
        let name = format!("stream-thermostat-{i}");
        assert!(
            suggestions.iter().any(|s| s.as_str() == Some(name.as_str())),
            "{context}"
        );
    }
    let matches = r["matches"].as_str().unwrap_or_default();
    assert!(matches.starts_with("3 matching instances"), "{context}");
    assert_eq!(r["searchTree"], "▸\n(no hierarchy)\n3", "{context}");
}

/// thermostat67's readings, each alone in a bucket shorter than a minute: (bucket start,
/// avg, min, max).
fn thermostat67_buckets() -> Vec<(i64, f64, f64, f64)> {
    THERMOSTAT67
        .iter()
        .enumerate()
        .map(|(m, &t)| (time(&format!("2026-01-01T08:0{m}:00Z")), t, t, t))
        .collect()
}

/// A higher value is drawn higher (a smaller y).
fn check_heights(drawn: &Json) {
    let points = drawn["points"].as_array().expect("points");
    for a in points {
        for b in points {
            let (va, vb) = (a["avg"].as_f64().unwrap_or(0.0), b["avg"].as_f64().unwrap_or(0.0));
            let (ya, yb) = (a["y"].as_f64().unwrap_or(0.0), b["y"].as_f64().unwrap_or(0.0));
            assert!(va <= vb || ya < yb, "{a} drawn below {b}");
        }
    }
}
