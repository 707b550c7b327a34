//! `twinstore::server` over real HTTP on loopback: TSI's paths, api-version, the token,
//! continuation headers, TSI's error shape and the body limit. Expected values are worked
//! out by hand from the records written.

#[path = "browser/harness.rs"]
mod harness;

use std::net::SocketAddr;

use serde_json::{Value as Json, json};
use twinstore::server::ServerOptions;
use twinstore::{Options, Record, Store, Timestamp};

const MINUTE: i64 = 60_000_000_000;
const V: &str = "api-version=2020-07-31";

/// A server over a store in which thermostat67 reports Temperature 20, 21, 22, 23 at
/// minutes 0-3 of 2026-01-01 and thermostat68 reports 10 at minute 0. Dropping it stops
/// the server (and its runtime thread). Twin "bulk" has Level 0, 1, ..., 149,999, one a
/// millisecond from midnight.
struct Server {
    addr: SocketAddr,
    // Fields drop in order: the server stops before its directory goes.
    _running: harness::Server,
    _dir: tempfile::TempDir,
}

fn start(options: ServerOptions) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
    let day = Timestamp::parse("2026-01-01T00:00:00Z").expect("day").as_nanos();
    let mut records: Vec<Record> = (0..4)
        .map(|m| {
            Record::new("thermostat67", Timestamp::from_nanos(day + m * MINUTE)).with("Temperature", 20.0 + m as f64)
        })
        .collect();
    records.push(Record::new("thermostat68", Timestamp::from_nanos(day)).with("Temperature", 10.0));
    records.extend(
        (0..150_000).map(|i| Record::new("bulk", Timestamp::from_nanos(day + i * 1_000_000)).with("Level", i as f64)),
    );
    store.write(&records).expect("write");
    let running = harness::start(store, options);
    Server {
        addr: running.addr,
        _running: running,
        _dir: dir,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// An answer: status, JSON body and the x-ms-continuation header.
struct Answer {
    status: u16,
    json: Json,
    continuation: Option<String>,
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let status = response.status().as_u16();
    let continuation = response
        .headers()
        .get("x-ms-continuation")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.body_mut().read_to_string().expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    Answer {
        status,
        json,
        continuation,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = agent().get(self.url(path));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        read(request.call().expect("GET"))
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut request = agent().post(self.url(path)).header("content-type", "application/json");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        read(request.send(body).expect("POST"))
    }
}

fn body(json: Json) -> Vec<u8> {
    serde_json::to_vec(&json).expect("body")
}

#[test]
fn tsi_query_paths_answer_as_the_library_does() {
    let server = start(ServerOptions::default());
    // Two 2-minute buckets of thermostat67: avg(20, 21) = 20.5, avg(22, 23) = 22.5.
    let aggregate = json!({ "aggregateSeries": {
        "timeSeriesId": ["thermostat67"],
        "searchSpan": { "from": "2026-01-01T00:00:00.000Z", "to": "2026-01-01T00:04:00.000Z" },
        "interval": "PT2M",
        "inlineVariables": { "Avg": { "kind": "numeric", "value": { "tsx": "$event.Temperature.Double" },
            "filter": null, "aggregation": { "tsx": "avg($value)" } } },
        "projectedVariables": ["Avg"] } });
    let a = server.post(&format!("/timeseries/query?{V}"), &[], &body(aggregate));
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(
        a.json["timestamps"],
        json!(["2026-01-01T00:00:00Z", "2026-01-01T00:02:00Z"])
    );
    assert_eq!(
        a.json["properties"],
        json!([{ "name": "Avg", "type": "Double", "values": [20.5, 22.5] }])
    );

    // take ends an answer (no continuation): the first two events.
    let events = |twin: &str, take: usize| {
        body(json!({ "getEvents": {
            "timeSeriesId": [twin], "take": take,
            "searchSpan": { "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z" } } }))
    };
    let a = server.post(&format!("/timeseries/query?{V}"), &[], &events("thermostat67", 2));
    assert_eq!(a.json["properties"][0]["values"], json!([20.0, 21.0]), "{}", a.json);
    assert_eq!(a.continuation, None);

    // 150,000 events (values 0..150,000) come in pages of 100,000 values: the token comes
    // back in the body and the x-ms-continuation header, and goes in the header, as tsiclient
    // sends it.
    let (mut pages, mut count, mut sum) = (0, 0u64, 0f64);
    let mut token: Option<String> = None;
    loop {
        let headers: Vec<(&str, &str)> = token.iter().map(|t| ("x-ms-continuation", t.as_str())).collect();
        let page = server.post(&format!("/timeseries/query?{V}"), &headers, &events("bulk", 150_000));
        assert_eq!(page.status, 200, "{}", page.json);
        let values = page.json["properties"][0]["values"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        count += values.len() as u64;
        sum += values.iter().filter_map(Json::as_f64).sum::<f64>();
        pages += 1;
        assert_eq!(
            page.continuation.as_deref(),
            page.json["continuationToken"].as_str(),
            "header and body agree"
        );
        token = page.continuation;
        if token.is_none() || pages > 5 {
            break;
        }
    }
    assert_eq!((pages, count), (2, 150_000));
    assert_eq!(sum, 149_999.0 * 150_000.0 / 2.0);

    // Availability over the store: 150,005 events; the event schema names both properties.
    let a = server.get(&format!("/availability?{V}"), &[]);
    assert_eq!(a.status, 200, "{}", a.json);
    let counts: u64 = a.json["availability"]["distribution"]
        .as_object()
        .expect("distribution")
        .values()
        .filter_map(Json::as_u64)
        .sum();
    assert_eq!(counts, 150_005);
    let a = server.post(
        &format!("/eventSchema?{V}"),
        &[],
        &body(json!({ "searchSpan": { "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z" } })),
    );
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(
        a.json["properties"],
        json!([{ "name": "Level", "type": "Double" }, { "name": "Temperature", "type": "Double" }])
    );
}

#[test]
fn model_paths_with_and_without_the_trailing_slash() {
    let server = start(ServerOptions::default());
    for path in ["/timeseries/types", "/timeseries/types/"] {
        let a = server.get(&format!("{path}?{V}"), &[]);
        assert_eq!(a.status, 200, "{path}: {}", a.json);
        assert_eq!(a.json["types"][0]["name"], "DefaultType");
    }
    let a = server.get(&format!("/timeseries/modelSettings/?{V}"), &[]);
    assert_eq!(
        a.json["modelSettings"]["timeSeriesIdProperties"],
        json!([{ "name": "$dtId", "type": "String" }])
    );
    let put = body(
        json!({ "put": [{ "timeSeriesId": ["thermostat67"], "typeId": "1be09af9-f089-4d6b-9f0b-48018b5f7393",
        "name": "Room 67 thermostat" }] }),
    );
    let a = server.post(&format!("/timeseries/instances/$batch?{V}"), &[], &put);
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["put"][0]["error"], Json::Null);
    // Per-item errors in a 200, as TSI.
    let get = body(json!({ "get": { "timeSeriesIds": [["thermostat67"], ["nobody"]] } }));
    let a = server.post(&format!("/timeseries/instances/$batch?{V}"), &[], &get);
    assert_eq!(a.status, 200);
    assert_eq!(a.json["get"][0]["instance"]["name"], "Room 67 thermostat");
    assert_eq!(a.json["get"][1]["error"]["innerError"]["code"], "InstanceNotFound");
    let a = server.get(&format!("/timeseries/instances/?{V}"), &[]);
    assert_eq!(
        a.json["instances"].as_array().map(Vec::len),
        Some(3),
        "bulk and the two thermostats"
    );

    // Search pages: one hit a page, the token in the header each way.
    let search = body(json!({ "searchString": "thermostat", "instances": { "pageSize": 1, "recursive": true } }));
    let first = server.post(&format!("/timeseries/instances/search?{V}"), &[], &search);
    assert_eq!(first.status, 200, "{}", first.json);
    assert_eq!(first.json["instances"]["hitCount"], 2);
    let token = first.json["instances"]["continuationToken"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = server.post(
        &format!("/timeseries/instances/search?{V}"),
        &[("x-ms-continuation", &token)],
        &search,
    );
    let ids = |a: &Answer| a.json["instances"]["hits"][0]["timeSeriesId"].clone();
    assert_ne!(ids(&first), ids(&second));
    let a = server.post(
        &format!("/timeseries/instances/suggest?{V}"),
        &[],
        &body(json!({ "searchString": "room", "take": 5 })),
    );
    assert_eq!(a.json["suggestions"][0]["searchString"], "Room 67 thermostat");
}

#[test]
fn errors_are_tsis_json_with_the_right_status() {
    let server = start(ServerOptions {
        max_body_bytes: 1000,
        ..ServerOptions::default()
    });
    let a = server.get("/timeseries/types", &[]);
    assert_eq!(
        (a.status, a.json["error"]["code"].as_str()),
        (400, Some("InvalidApiVersion"))
    );
    let a = server.get("/timeseries/types?api-version=2016-12-12", &[]);
    assert_eq!(
        (a.status, a.json["error"]["code"].as_str()),
        (400, Some("InvalidApiVersion"))
    );
    assert!(
        a.json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("2016-12-12")
    );
    let a = server.get(&format!("/timeseries/nothing?{V}"), &[]);
    assert_eq!((a.status, a.json["error"]["code"].as_str()), (404, Some("InvalidUrl")));
    let a = server.post(&format!("/timeseries/query?{V}"), &[], b"{not json");
    assert_eq!(
        (a.status, a.json["error"]["code"].as_str()),
        (400, Some("InvalidInput"))
    );
    // A body a browser could send from another site without a preflight is refused.
    for simple in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = agent()
            .post(server.url("/ingest/ndjson"))
            .header("content-type", simple)
            .send(&b"{\"$dtId\": \"x\", \"$ts\": 1, \"T\": 1}"[..])
            .expect("POST");
        let a = read(response);
        assert_eq!(
            (a.status, a.json["error"]["code"].as_str()),
            (415, Some("InvalidInput")),
            "{simple}"
        );
    }
    let a = server.post(&format!("/timeseries/query?{V}"), &[], &vec![b' '; 1001]);
    assert_eq!(a.status, 413, "{}", a.json);
    let a = server.post(
        &format!("/timeseries/query?{V}"),
        &[],
        &body(json!({ "getEvents": { "timeSeriesId": ["nobody"],
            "searchSpan": { "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z" } } })),
    );
    assert_eq!(
        (a.status, a.json["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    let a = server.post(
        &format!("/timeseries/types/$batch?{V}"),
        &[],
        &body(json!({ "delete": { "typeIds": ["1be09af9-f089-4d6b-9f0b-48018b5f7393"] } })),
    );
    assert_eq!(
        a.json["delete"][0]["innerError"]["code"], "CannotDeleteType",
        "{}",
        a.json
    );
}

#[test]
fn a_token_is_required_when_set() {
    let server = start(ServerOptions {
        token: Some("s3cret".into()),
        ..ServerOptions::default()
    });
    let path = format!("/timeseries/modelSettings?{V}");
    assert_eq!(server.get(&path, &[]).status, 401);
    let a = server.get(&path, &[("authorization", "Bearer wrong!")]);
    assert_eq!(
        (a.status, a.json["error"]["code"].as_str()),
        (401, Some("AuthenticationFailed"))
    );
    assert_eq!(server.get(&path, &[("authorization", "Bearer s3cret")]).status, 200);
}

#[test]
fn exposing_the_store_needs_a_token_or_an_explicit_no_auth() {
    let open = ServerOptions {
        listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
        ..ServerOptions::default()
    };
    assert!(open.check().is_err());
    assert!(
        ServerOptions {
            token: Some("t".into()),
            ..open.clone()
        }
        .check()
        .is_ok()
    );
    assert!(
        ServerOptions {
            allow_no_auth: true,
            ..open.clone()
        }
        .check()
        .is_ok()
    );
    assert!(ServerOptions::default().check().is_ok(), "loopback needs no token");
    assert!(
        ServerOptions {
            token: Some(String::new()),
            ..ServerOptions::default()
        }
        .check()
        .is_err()
    );
}

fn update(id: &str, twin: &str, time: &str, value: f64, event_grid: bool) -> Json {
    let data = json!({ "modelId": "dtmi:contosocom:DigitalTwins:Thermostat;1",
        "patch": [{ "value": value, "path": "/Temperature", "op": "replace" }] });
    if event_grid {
        json!({ "id": id, "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.DigitalTwins/digitalTwinsInstances/z",
            "subject": twin, "eventType": "Microsoft.DigitalTwins.Twin.Update", "eventTime": time,
            "data": data, "dataVersion": "1.0", "metadataVersion": "1" })
    } else {
        json!({ "specversion": "1.0", "id": id, "source": "contoso.api.wus2.digitaltwins.azure.net",
            "type": "Microsoft.DigitalTwins.Twin.Update", "subject": twin, "time": time,
            "datacontenttype": "application/json", "data": data })
    }
}

/// thermostat99's Temperature values, in time order.
fn temperatures(server: &Server, twin: &str) -> Vec<Json> {
    let a = server.post(
        &format!("/timeseries/query?{V}"),
        &[],
        &body(json!({ "getEvents": { "timeSeriesId": [twin],
            "searchSpan": { "from": "2026-02-01T00:00:00Z", "to": "2026-02-02T00:00:00Z" } } })),
    );
    assert_eq!(a.status, 200, "{}", a.json);
    a.json["properties"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "Temperature"))
        .map(|p| p["values"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
}

#[test]
fn event_grid_deliveries_validate_store_and_dedupe() {
    let server = start(ServerOptions::default());
    // The subscription validation handshake.
    let a = server.post(
        "/ingest/adt",
        &[("aeg-event-type", "SubscriptionValidation")],
        &body(
            json!([{ "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66", "topic": "/subscriptions/x",
            "subject": "", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2026-02-01T00:00:00Z", "metadataVersion": "1", "dataVersion": "1",
            "data": { "validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
                      "validationUrl": "https://rp-eastus2.eventgrid.azure.net/x" } }]),
        ),
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json,
        json!({ "validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" })
    );

    let delivery = body(json!([
        update("e1", "thermostat99", "2026-02-01T08:00:00Z", 20.5, true),
        update("e2", "thermostat99", "2026-02-01T08:01:00Z", 21.0, true),
        { "id": "e3", "subject": "", "eventType": "Microsoft.DigitalTwins.Twin.Update",
          "eventTime": "2026-02-01T08:02:00Z",
          "data": { "patch": [{ "value": 1.0, "path": "/Temperature", "op": "replace" }] } }
    ]));
    let a = server.post("/ingest/adt", &[("aeg-event-type", "Notification")], &delivery);
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(
        (a.json["records"].as_u64(), a.json["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    let rejected = a.json["rejected"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 1, "{}", a.json);
    assert_eq!(rejected[0]["item"], 3, "the third event of the delivery");
    // Event Grid retries: the same delivery stores nothing twice.
    let a = server.post("/ingest/adt", &[("aeg-event-type", "Notification")], &delivery);
    assert_eq!(
        (a.json["records"].as_u64(), a.json["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(
        a.json["rejected"][0]["item"], 3,
        "a rejected event is rejected again: {}",
        a.json
    );
    assert_eq!(temperatures(&server, "thermostat99"), [json!(20.5), json!(21.0)]);

    // As ADT sends it in the Event Grid schema: the body wrapped in data.data; the same id
    // from another topic is another event.
    let mut wrapped = update("e1", "thermostat99", "2026-02-01T08:03:00Z", 22.5, true);
    wrapped["topic"] = json!("/subscriptions/x/other-topic");
    wrapped["data"] = json!({ "data": wrapped["data"].clone(), "contenttype": "application/json",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
    let a = server.post("/ingest/adt", &[], &body(json!([wrapped])));
    assert_eq!(
        (a.json["records"].as_u64(), a.json["duplicates"].as_u64()),
        (Some(1), Some(0)),
        "{}",
        a.json
    );
    assert_eq!(
        temperatures(&server, "thermostat99"),
        [json!(20.5), json!(21.0), json!(22.5)]
    );
}

/// A pretty-printed delivery (newlines between tokens, and one inside a string) is read
/// as sent, and an item that is not an event object is rejected by its place while the
/// rest is stored.
#[test]
fn deliveries_as_sent_with_items_that_are_not_events() {
    let server = start(ServerOptions::default());
    let mut first = update("p1", "thermostat97", "2026-02-01T09:00:00Z", 18.5, true);
    first["data"]["note"] = json!("two\nlines");
    let items = json!([
        first,
        5,
        update("p2", "thermostat97", "2026-02-01T09:01:00Z", 19.0, true)
    ]);
    let pretty = serde_json::to_vec_pretty(&items).expect("pretty");
    assert!(pretty.contains(&b'\n'));
    let a = server.post("/ingest/adt", &[], &pretty);
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["records"], 2, "{}", a.json);
    assert_eq!(a.json["rejected"].as_array().map(Vec::len), Some(1), "{}", a.json);
    assert_eq!(a.json["rejected"][0]["item"], 2, "{}", a.json);
    assert_eq!(temperatures(&server, "thermostat97"), [json!(18.5), json!(19.0)]);
    // Not JSON at all, or JSON that is not an event or a list of them: refused whole.
    for bad in [&b"[{\"id\": 1,"[..], b"42", b"\"text\""] {
        let a = server.post("/ingest/adt", &[], bad);
        assert_eq!(a.status, 400, "{}", a.json);
        assert_eq!(a.json["error"]["code"], "InvalidInput");
    }
}

#[test]
fn cloudevents_in_every_mode() {
    let server = start(ServerOptions::default());
    // The abuse-protection handshake.
    let mut request = agent()
        .options(server.url("/ingest/adt"))
        .header("WebHook-Request-Origin", "eventgrid.azure.net");
    request = request.header("WebHook-Request-Rate", "120");
    let response = request.call().expect("OPTIONS");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("webhook-allowed-origin")
            .and_then(|v| v.to_str().ok()),
        Some("eventgrid.azure.net")
    );
    assert!(response.headers().contains_key("webhook-allowed-rate"));

    // Structured: one event.
    let one = body(update("c1", "thermostat7", "2026-02-01T08:00:00Z", 19.0, false));
    let mut request = agent()
        .post(server.url("/ingest/adt"))
        .header("content-type", "application/cloudevents+json; charset=utf-8");
    request = request.header("x-other", "1");
    let a = read(request.send(&one[..]).expect("structured"));
    assert_eq!(a.json["records"], 1, "{}", a.json);
    // Batched: two events, one of them the event above again.
    let batch = body(json!([
        update("c1", "thermostat7", "2026-02-01T08:00:00Z", 19.0, false),
        update("c2", "thermostat7", "2026-02-01T08:01:00Z", 19.5, false)
    ]));
    let a = read(
        agent()
            .post(server.url("/ingest/adt"))
            .header("content-type", "application/cloudevents-batch+json")
            .send(&batch[..])
            .expect("batched"),
    );
    assert_eq!(
        (a.json["records"].as_u64(), a.json["duplicates"].as_u64()),
        (Some(1), Some(1))
    );
    // Binary: the attributes in ce-* headers, the body the data.
    let data = body(json!({ "modelId": "dtmi:contosocom:DigitalTwins:Thermostat;1",
        "patch": [{ "value": 18.0, "path": "/Temperature", "op": "replace" }] }));
    let send_binary = || {
        read(
            agent()
                .post(server.url("/ingest/adt"))
                .header("content-type", "application/json")
                .header("ce-specversion", "1.0")
                .header("ce-id", "c3")
                .header("ce-source", "contoso.api.wus2.digitaltwins.azure.net")
                .header("ce-type", "Microsoft.DigitalTwins.Twin.Update")
                .header("ce-subject", "thermostat7")
                .header("ce-time", "2026-02-01T08:02:00Z")
                .send(&data[..])
                .expect("binary"),
        )
    };
    let a = send_binary();
    assert_eq!(a.json["records"], 1, "{}", a.json);
    assert_eq!(send_binary().json["duplicates"], 1);
    assert_eq!(
        temperatures(&server, "thermostat7"),
        [json!(19.0), json!(19.5), json!(18.0)]
    );

    // Flattened records.
    let a = server.post(
        "/ingest/ndjson",
        &[],
        b"{\"$dtId\": \"pump1\", \"$ts\": \"2026-02-01T09:00:00Z\", \"Temperature\": 40.5}\n{\"$ts\": 1}\n",
    );
    assert_eq!(a.json["records"], 1, "{}", a.json);
    assert_eq!(a.json["rejected"][0]["item"], 2);
    assert_eq!(temperatures(&server, "pump1"), [json!(40.5)]);
}

#[test]
fn deliveries_need_the_token_but_the_handshake_does_not() {
    let server = start(ServerOptions {
        token: Some("s3cret".into()),
        ..ServerOptions::default()
    });
    let one = body(update("t1", "thermostat1", "2026-02-01T08:00:00Z", 19.0, false));
    assert_eq!(server.post("/ingest/adt", &[], &one).status, 401);
    let a = server.post("/ingest/adt", &[("authorization", "Bearer s3cret")], &one);
    assert_eq!(a.json["records"], 1);
    let response = agent()
        .options(server.url("/ingest/adt"))
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .call()
        .expect("OPTIONS");
    assert_eq!(response.status().as_u16(), 200);
}

/// HTTPS with a user's certificate: a client that trusts it gets TSI's answers; one that
/// does not is refused the connection.
#[cfg(feature = "tls")]
#[test]
fn https_with_a_users_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = harness::certificate(dir.path());
    let pem = std::fs::read_to_string(&files.cert).expect("cert");
    let server = start(ServerOptions {
        tls: Some(files),
        ..ServerOptions::default()
    });
    let url = format!("https://localhost:{}/timeseries/modelSettings?{V}", server.addr.port());
    let trusted = ureq::tls::Certificate::from_pem(pem.as_bytes()).expect("pem");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[trusted]))
                .build(),
        )
        .build()
        .into();
    let a = read(agent.get(&url).call().expect("HTTPS"));
    assert_eq!(a.status, 200);
    assert_eq!(a.json["modelSettings"]["name"], "DefaultModel");
    // The public roots do not vouch for a self-signed certificate.
    assert!(ureq::get(&url).call().is_err());
}

/// A bounded load (loopback, counted, not timed): 4 keep-alive clients send 50 queries
/// each while 2 senders deliver 10 arrays of 100 events each; every query answers the same
/// hand-computed values and every event is stored once.
#[test]
fn bounded_load_answers_every_request() {
    let server = start(ServerOptions::default());
    let addr = server.addr;
    let query = body(json!({ "aggregateSeries": {
        "timeSeriesId": ["thermostat67"],
        "searchSpan": { "from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:04:00Z" },
        "interval": "PT4M",
        "inlineVariables": { "Avg": { "kind": "numeric", "value": { "tsx": "$event.Temperature.Double" },
            "aggregation": { "tsx": "avg($value)" } } },
        "projectedVariables": ["Avg"] } }));
    let queries: Vec<_> = (0..4)
        .map(|_| {
            let query = query.clone();
            std::thread::spawn(move || {
                let agent = agent();
                (0..50)
                    .map(|_| {
                        let url = format!("http://{addr}/timeseries/query?{V}");
                        let a = read(
                            agent
                                .post(&url)
                                .header("content-type", "application/json")
                                .send(&query[..])
                                .expect("POST"),
                        );
                        (a.status, a.json["properties"][0]["values"].clone())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let senders: Vec<_> = (0..2)
        .map(|s| {
            std::thread::spawn(move || {
                let agent = agent();
                let mut stored = 0;
                for b in 0..10 {
                    let events: Vec<Json> = (0..100)
                        .map(|e| {
                            let second = b * 100 + e;
                            update(
                                &format!("{s}-{second}"),
                                &format!("load{s}"),
                                &format!("2026-02-01T00:{:02}:{:02}Z", second / 60, second % 60),
                                second as f64,
                                true,
                            )
                        })
                        .collect();
                    let url = format!("http://{addr}/ingest/adt");
                    let a = read(
                        agent
                            .post(&url)
                            .header("content-type", "application/json")
                            .send(&body(json!(events))[..])
                            .expect("POST"),
                    );
                    stored += a.json["records"].as_u64().unwrap_or(0);
                }
                stored
            })
        })
        .collect();
    for handle in queries {
        for (status, values) in handle.join().expect("client") {
            // avg(20, 21, 22, 23) = 21.5.
            assert_eq!((status, values), (200, json!([21.5])));
        }
    }
    for handle in senders {
        assert_eq!(handle.join().expect("sender"), 1000);
    }
    assert_eq!(temperatures(&server, "load0").len(), 1000);
}
