//! tsiclient 1.4.28 (npm; the JavaScript library TSI's explorer was built on), unchanged,
//! in headless Chromium, against `twinstore serve` over HTTPS with a test certificate: its
//! ServerClient calls and its hierarchy tree. The page comes from another origin, so every
//! call crosses origins through CORS as a TSI user's dashboard does. Expected values are
//! worked out by hand from the records written (see `store`).

#[path = "browser/harness.rs"]
mod harness;

use serde_json::{Value as Json, json};
use twinstore::server::ServerOptions;
use twinstore::{Options, Record, Store, Timestamp};

const MINUTE: i64 = 60_000_000_000;
const TOKEN: &str = "s3cret-token";
const PAGE_ORIGIN: &str = "https://dashboard.test";

fn body(json: Json) -> Vec<u8> {
    serde_json::to_vec(&json).expect("body")
}

/// thermostat67 reports Temperature 20, 21, 22, 23 at minutes 0-3 of 2026-01-01 and
/// thermostat68 10 and 12 at minutes 0 and 2. Both are instances of type Thermostat
/// (variable Temp, the average Temperature) in hierarchy Building, at B1/F1 and B1/F2.
fn store(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, Options::default().background_maintenance(false)).expect("open");
    let day = Timestamp::parse("2026-01-01T00:00:00Z").expect("day").as_nanos();
    let at = |m: i64| Timestamp::from_nanos(day + m * MINUTE);
    let mut records: Vec<Record> = (0..4)
        .map(|m| Record::new("thermostat67", at(m)).with("Temperature", 20.0 + m as f64))
        .collect();
    records.push(Record::new("thermostat68", at(0)).with("Temperature", 10.0));
    records.push(Record::new("thermostat68", at(2)).with("Temperature", 12.0));
    store.write(&records).expect("write");
    store
        .types_batch_json(&body(json!({ "put": [{
            "id": "thermostat-type", "name": "Thermostat",
            "variables": { "Temp": { "kind": "numeric", "value": { "tsx": "$event.Temperature.Double" },
                                     "aggregation": { "tsx": "avg($value)" } } } }] })))
        .expect("types");
    store
        .hierarchies_batch_json(&body(json!({ "put": [{
            "id": "building-hierarchy", "name": "Building",
            "source": { "instanceFieldNames": ["Building", "Floor"] } }] })))
        .expect("hierarchies");
    let instance = |twin: &str, name: &str, floor: &str| {
        json!({ "timeSeriesId": [twin], "typeId": "thermostat-type", "name": name,
                "hierarchyIds": ["building-hierarchy"],
                "instanceFields": { "Building": "B1", "Floor": floor } })
    };
    let answer = store
        .instances_batch_json(&body(json!({ "put": [
            instance("thermostat67", "Room 67", "F1"), instance("thermostat68", "Room 68", "F2")] })))
        .expect("instances");
    assert_eq!(answer["put"], json!([{ "error": null }, { "error": null }]));
    store
}

/// The values of the property or variable `name` in a query answer, as numbers (they
/// went through JavaScript, which writes 20.0 as 20).
fn values(answer: &Json, name: &str) -> Vec<f64> {
    answer["properties"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .and_then(|p| p["values"].as_array())
        .map(|vs| vs.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_else(|| panic!("no {name} in {answer}"))
}

#[test]
fn tsiclient_drives_the_server_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = harness::certificate(dir.path());
    let store = store(&dir.path().join("db"));
    let server = harness::start(
        store,
        ServerOptions {
            token: Some(TOKEN.into()),
            cors_origins: vec![PAGE_ORIGIN.into()],
            tls: Some(tls),
            ..ServerOptions::default()
        },
    );
    let config = json!({
        "fqdn": format!("127.0.0.1:{}", server.addr.port()),
        "token": TOKEN,
        "pageOrigin": PAGE_ORIGIN,
    });
    let Some(r) = harness::run_script("tsiclient.mjs", &config) else {
        return;
    };
    let context = format!("tsiclient's results: {r:#}");

    // getTsqResults: one answer per query, in order.
    let tsq = r["tsq"]
        .as_array()
        .unwrap_or_else(|| panic!("no tsq results; {context}"));
    assert_eq!(tsq.len(), 5, "{context}");
    // getEvents of thermostat67: its four events.
    assert_eq!(
        tsq[0]["timestamps"],
        json!([
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:01:00Z",
            "2026-01-01T00:02:00Z",
            "2026-01-01T00:03:00Z"
        ]),
        "{context}"
    );
    assert_eq!(values(&tsq[0], "Temperature"), [20.0, 21.0, 22.0, 23.0]);
    // getSeries of thermostat68 with its type's variable Temp: its two events.
    assert_eq!(
        tsq[1]["timestamps"],
        json!(["2026-01-01T00:00:00Z", "2026-01-01T00:02:00Z"]),
        "{context}"
    );
    assert_eq!(values(&tsq[1], "Temp"), [10.0, 12.0]);
    // aggregateSeries over the fleet at Building/B1, merged, one 4-minute bucket:
    // avg(20, 21, 22, 23, 10, 12) = 108 / 6 = 18.
    assert_eq!(tsq[2]["timestamps"], json!(["2026-01-01T00:00:00Z"]), "{context}");
    assert_eq!(values(&tsq[2], "Temp"), [18.0]);
    // tsiclient's own TsqExpression body, 2-minute buckets: avg(20, 21), avg(22, 23).
    assert_eq!(
        tsq[3]["timestamps"],
        json!(["2026-01-01T00:00:00Z", "2026-01-01T00:02:00Z"]),
        "{context}"
    );
    assert_eq!(values(&tsq[3], "Avg"), [20.5, 22.5]);
    // An unknown twin: TSI's error, handed over by tsiclient as __tsiError__.
    assert_eq!(tsq[4]["__tsiError__"]["error"]["code"], "ResourceNotFound", "{context}");
    // storeType=WarmStore, as tsiclient sends it (a query parameter): the warm store holds
    // the last days only (Options::warm_window), and 2026-01-01 is long past, so no bucket.
    assert_eq!(r["tsqWarm"][0]["timestamps"], json!([]), "{context}");

    // getTimeseriesInstances: every instance, over every page.
    let mut ids: Vec<String> = r["instances"]
        .as_array()
        .unwrap_or_else(|| panic!("no instances; {context}"))
        .iter()
        .map(|i| i["timeSeriesId"][0].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["thermostat67", "thermostat68"], "{context}");
    let by_id = &r["instancesById"]["get"][0]["instance"];
    assert_eq!(by_id["name"], "Room 68", "{context}");

    // Types: TSI's default type and Thermostat.
    let mut types: Vec<&str> = r["types"]["types"]
        .as_array()
        .unwrap_or_else(|| panic!("no types; {context}"))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    types.sort_unstable();
    assert_eq!(types, ["DefaultType", "Thermostat"], "{context}");
    assert_eq!(
        r["hierarchies"]["hierarchies"],
        json!([{ "id": "building-hierarchy", "name": "Building",
                 "source": { "instanceFieldNames": ["Building", "Floor"] } }]),
        "{context}"
    );
    assert_eq!(r["modelSettings"]["modelSettings"]["name"], "DefaultModel", "{context}");

    // Suggestions for "thermo": both names start with it.
    let suggestions: Vec<&str> = r["suggestions"]["suggestions"]
        .as_array()
        .unwrap_or_else(|| panic!("no suggestions; {context}"))
        .iter()
        .filter_map(|s| s["searchString"].as_str())
        .collect();
    assert!(suggestions.contains(&"thermostat67"), "{context}");
    assert!(suggestions.contains(&"thermostat68"), "{context}");
    // Search for thermostat68: that instance first.
    assert_eq!(
        r["search"]["instances"]["hits"][0]["timeSeriesId"],
        json!(["thermostat68"]),
        "{context}"
    );
    // Navigation under Building/B1: the floors F1 and F2, one instance each.
    let nodes: Vec<(String, u64)> = r["pathSearch"]["hierarchyNodes"]["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hierarchy nodes; {context}"))
        .iter()
        .map(|n| {
            let name = n["name"].as_str().unwrap_or_default().to_string();
            (name, n["cumulativeInstanceCount"].as_u64().unwrap_or(0))
        })
        .collect();
    assert_eq!(nodes, [("F1".to_string(), 1), ("F2".to_string(), 1)], "{context}");

    // Availability: six events between minute 0 and minute 3.
    let availability = &r["availability"]["availability"];
    assert_eq!(availability["range"]["from"], "2026-01-01T00:00:00Z", "{context}");
    assert_eq!(availability["range"]["to"], "2026-01-01T00:03:00Z", "{context}");
    let counted: u64 = availability["distribution"]
        .as_object()
        .unwrap_or_else(|| panic!("no distribution; {context}"))
        .values()
        .filter_map(Json::as_u64)
        .sum();
    assert_eq!(counted, 6, "{context}");
    // getEventSchema returns the properties list alone.
    assert_eq!(
        r["eventSchema"],
        json!([{ "name": "Temperature", "type": "Double" }]),
        "{context}"
    );

    // A wrong token: tsiclient rejects with the request, status 401, TSI's JSON.
    assert_eq!(r["wrongToken"]["status"], 401, "{context}");
    let refusal: Json = serde_json::from_str(r["wrongToken"]["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("refusal not JSON ({e}); {context}"));
    assert_eq!(refusal["error"]["code"], "AuthenticationFailed");

    // No script error on the page (tsiclient hangs or throws on answers it cannot read).
    let errors: Vec<&Json> = r["consoleLog"]
        .as_array()
        .map(|log| {
            log.iter()
                .filter(|l| l.as_str().is_some_and(|l| l.starts_with("pageerror")))
                .collect()
        })
        .unwrap_or_default();
    assert!(errors.is_empty(), "{context}");

    // tsiclient's HierarchyNavigation (TSI explorer's left pane) drew the hierarchy.
    assert_eq!(r["treeErrors"], json!([]), "{context}");
    let tree = r["treeText"].as_str().unwrap_or_default();
    // Its first view: "All hierarchies", then Building with its 2 instances.
    assert!(tree.contains("Building2"), "{context}");
}
