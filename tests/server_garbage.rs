//! The HTTP layer never panics and always answers in TSI's JSON: random methods, paths,
//! query strings, headers and bodies (bytes, and valid TSI bodies with garbage spliced in)
//! against the router of a real store. A 500 would be a bug (a panic in a call, or a
//! storage error from input): none may appear.

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use tower::ServiceExt;
use twinstore::server::{ServerOptions, router};
use twinstore::{Options, Record, Store, Timestamp};

const PATHS: &[&str] = &[
    "/timeseries/query",
    "/availability",
    "/eventSchema",
    "/timeseries/modelSettings",
    "/timeseries/types/",
    "/timeseries/types/$batch",
    "/timeseries/hierarchies",
    "/timeseries/hierarchies/$batch",
    "/timeseries/instances/",
    "/timeseries/instances/$batch",
    "/timeseries/instances/search",
    "/timeseries/instances/suggest",
    "/ingest/adt",
    "/ingest/ndjson",
    "/",
    "/explorer/main.js",
    "/explorer/nothing.js",
    "/timeseries/%24batch",
];

const BODIES: &[&str] = &[
    r#"{"getEvents": {"timeSeriesId": ["t1"], "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}}}"#,
    r#"{"aggregateSeries": {"timeSeriesId": ["t1"], "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}, "interval": "PT1H", "inlineVariables": {"A": {"kind": "numeric", "value": {"tsx": "$event.T.Double"}, "aggregation": {"tsx": "avg($value)"}}}, "projectedVariables": ["A"]}}"#,
    r#"{"put": [{"timeSeriesId": ["t1"], "typeId": "1be09af9-f089-4d6b-9f0b-48018b5f7393", "name": "x"}]}"#,
    r#"{"get": {"typeIds": ["1be09af9-f089-4d6b-9f0b-48018b5f7393"]}}"#,
    r#"{"searchString": "t* OR x", "instances": {"recursive": true, "pageSize": 2}, "hierarchies": {"expand": {"kind": "UntilChildren"}}}"#,
    r#"{"searchString": "t", "take": 3}"#,
    r#"[{"id": "1", "subject": "t1", "eventType": "Microsoft.DigitalTwins.Twin.Update", "eventTime": "2026-01-01T01:00:00Z", "data": {"patch": [{"op": "replace", "path": "/T", "value": 1}]}}]"#,
    r#"[{"id": "v", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "data": {"validationCode": "c"}}]"#,
    "{\"$dtId\": \"t2\", \"$ts\": \"2026-01-01T00:00:00Z\", \"T\": 2}\n",
    r#"{"searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}}"#,
];

fn request() -> impl Strategy<Value = (String, String, String, Vec<(String, String)>, Vec<u8>)> {
    let method = prop::sample::select(vec!["GET", "POST", "PATCH", "OPTIONS", "PUT", "DELETE"]);
    let path = prop_oneof![
        4 => prop::sample::select(PATHS).prop_map(str::to_string),
        1 => "/[a-z$%/]{0,20}",
    ];
    let query = prop_oneof![
        4 => Just("?api-version=2020-07-31".to_string()),
        1 => Just(String::new()),
        1 => "\\?[a-z=&%-]{0,20}",
        1 => Just("?api-version=2020-07-31&storeType=WarmStore".to_string()),
        1 => "[a-zA-Z=&%+-]{0,16}".prop_map(|tail| format!("?api-version=2020-07-31&{tail}")),
    ];
    let header = prop_oneof![
        (
            Just("content-type".to_string()),
            prop::sample::select(vec![
                "application/json",
                "application/cloudevents+json",
                "application/cloudevents-batch+json",
                "text/plain"
            ])
            .prop_map(str::to_string)
        ),
        (Just("x-ms-continuation".to_string()), "[ -~]{0,12}"),
        (Just("ce-id".to_string()), "[a-z0-9]{0,6}"),
        (
            Just("ce-type".to_string()),
            Just("Microsoft.DigitalTwins.Twin.Update".to_string())
        ),
        (Just("ce-subject".to_string()), "[a-z0-9]{0,6}"),
        (Just("webhook-request-origin".to_string()), "[a-z.]{0,12}"),
    ];
    let spliced =
        (prop::sample::select(BODIES), any::<prop::sample::Index>(), "[ -~]{0,8}").prop_map(|(body, at, garbage)| {
            let mut cut = at.index(body.len() + 1);
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}{garbage}{}", &body[..cut], &body[cut..]).into_bytes()
        });
    let body = prop_oneof![
        2 => prop::sample::select(BODIES).prop_map(|b| b.as_bytes().to_vec()),
        4 => spliced,
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    (
        method.prop_map(str::to_string),
        path,
        query,
        prop::collection::vec(header, 0..4),
        body,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn garbage_gets_a_json_answer_never_a_panic_or_a_500(cases in prop::collection::vec(request(), 1..8)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
        store
            .write(&[Record::new("t1", Timestamp::parse("2026-01-01T00:00:00Z").expect("t")).with("T", 1.0)])
            .expect("write");
        let app = router(store, &ServerOptions::default()).expect("router");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        for (method, path, query, headers, body) in cases {
            let mut builder = Request::builder().method(method.as_str()).uri(format!("{path}{query}"));
            for (k, v) in &headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            let Ok(request) = builder.body(Body::from(body)) else {
                continue; // Not a request HTTP can carry (e.g. a bad URI).
            };
            let response = runtime.block_on(app.clone().oneshot(request)).expect("infallible");
            let status = response.status().as_u16();
            prop_assert_ne!(status, 500, "{} {}{}", method, path, query);
            let bytes = runtime
                .block_on(axum::body::to_bytes(response.into_body(), 1 << 24))
                .expect("body");
            // The OPTIONS handshake answers with headers and an empty body; the explorer's
            // page at `/` and its files are HTML, JavaScript and CSS.
            let handshake = method == "OPTIONS" && status == 200;
            let page = method == "GET" && (path == "/" || path.starts_with("/explorer/")) && status == 200;
            if !(handshake || page) {
                let parsed = serde_json::from_slice::<serde_json::Value>(&bytes);
                prop_assert!(parsed.is_ok(), "{} {}{} answered {}: {:?}", method, path, query, status,
                    String::from_utf8_lossy(&bytes));
            }
        }
    }
}
