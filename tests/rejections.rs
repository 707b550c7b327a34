//! Bad input never panics and never loses other data.
//!
//! Each kind of bad record gets an error naming its line, the field and the reason; the good
//! records of the same call are kept (default) or the whole call is refused (strict); the
//! store stays usable and everything written before is still there.

use twinstore::{
    Clock, Error, EventsQuery, IngestOptions, Limits, Options, Record, Store, Timestamp, Value, ValueType,
};

fn store_with(options: Options) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), options).expect("open");
    (dir, store)
}

const GOOD: &str = r#"{"$dtId":"t1","$ts":"2026-01-01T00:00:00Z","T":1.5}"#;

/// Ingests `GOOD`, then `bad`, then `GOOD` again (at another time), each on its own line;
/// returns the single error, checking the good lines were kept.
fn reject(bad: &str) -> twinstore::RecordError {
    let (_dir, store) = store_with(Options::default());
    let good2 = GOOD.replace("00:00:00Z", "00:00:02Z");
    let input = format!("{GOOD}\n{bad}\n{good2}\n");
    let report = store
        .ingest_ndjson(input.as_bytes())
        .expect("a non-strict call succeeds");
    assert_eq!(report.records, 2, "good lines kept around {bad:?}");
    assert_eq!(
        report.rejected.len(),
        1,
        "exactly one error for {bad:?}: {:?}",
        report.rejected
    );
    let error = report.rejected[0].clone();
    assert_eq!(error.line, 2, "{error}");
    assert_eq!(store.events(&EventsQuery::new("t1")).expect("events").len(), 2);
    error
}

#[test]
fn each_bad_record_is_named_by_line_field_and_reason() {
    let long_id = "x".repeat(1025);
    let long_name = "p".repeat(513);
    let deep = format!("{}1{}", "{\"a\":".repeat(10), "}".repeat(10));
    let cases: Vec<(String, Option<&str>, &str)> = vec![
        ("{\"$dtId\":\"t1\",\"T\":".into(), None, "not valid JSON"),
        ("[1,2]".into(), None, "not a JSON object"),
        ("\"just a string\"".into(), None, "not a JSON object"),
        (
            r#"{"$ts":"2026-01-01T00:00:01Z","T":1}"#.into(),
            Some("$dtId"),
            "no $dtId",
        ),
        (r#"{"$dtId":"","T":1}"#.into(), Some("$dtId"), "empty"),
        (r#"{"$dtId":42,"T":1}"#.into(), Some("$dtId"), "must be a string"),
        (
            format!(r#"{{"$dtId":"{long_id}","T":1}}"#),
            Some("$dtId"),
            "1025 characters",
        ),
        (
            r#"{"$dtId":"t1","$ts":"yesterday","T":1}"#.into(),
            Some("$ts"),
            "invalid date-time",
        ),
        (
            r#"{"$dtId":"t1","$ts":true,"T":1}"#.into(),
            Some("$ts"),
            "timestamp must be",
        ),
        (r#"{"$dtId":"t1","T":NaN}"#.into(), None, "not valid JSON"),
        (r#"{"$dtId":"t1","T":1e999}"#.into(), None, "not valid JSON"),
        (r#"{"$dtId":"t1","":1}"#.into(), Some(""), "property name is empty"),
        (
            format!(r#"{{"$dtId":"t1","{long_name}":1}}"#),
            Some(long_name.as_str()),
            "513 characters",
        ),
        (format!(r#"{{"$dtId":"t1","d":{deep}}}"#), None, "nested deeper than 10"),
        (
            r#"{"$dtId":"t1","big":18446744073709551615}"#.into(),
            Some("big"),
            "outside the Long range",
        ),
        (
            r#"{"$dtId":"t1","a.b":1,"a":{"b":2}}"#.into(),
            Some("a.b"),
            "duplicate property",
        ),
        (r#"{"$dtId":"t1"}"#.into(), None, "no properties"),
        (
            r#"{"$dtId":"t1","$dtId":"t2","T":1}"#.into(),
            Some("$dtId"),
            "duplicate $dtId",
        ),
    ];
    for (bad, field, reason) in cases {
        let error = reject(&bad);
        if let Some(field) = field {
            assert_eq!(error.field.as_deref(), Some(field), "field for {bad:.80}: {error}");
        }
        assert!(error.reason.contains(reason), "reason for {bad:.80}: {error}");
    }
}

#[test]
fn a_line_of_many_megabytes_is_refused_without_reading_it_whole() {
    let huge = format!(r#"{{"$dtId":"t1","blob":"{}"}}"#, "x".repeat(5 << 20));
    let error = reject(&huge);
    assert!(error.reason.contains("exceeds the limit"), "{error}");
}

#[test]
fn limits_are_settings() {
    let limits = Limits {
        max_twin_id_chars: 4,
        ..Limits::default()
    };
    let (_dir, store) = store_with(Options {
        limits,
        ..Options::default()
    });
    let report = store.ingest_ndjson(br#"{"$dtId":"abcde","T":1}"#).expect("ingest");
    assert_eq!(report.rejected[0].field.as_deref(), Some("$dtId"));
}

#[test]
fn strict_refuses_the_whole_call_and_keeps_the_store() {
    let (_dir, store) = store_with(Options::default().strict(true));
    store.ingest_ndjson(GOOD.as_bytes()).expect("good input");
    let input = format!("{}\nnot json\n{{\"T\":1}}\n", GOOD.replace("00:00:00Z", "00:00:05Z"));
    match store.ingest_ndjson(input.as_bytes()) {
        Err(Error::BatchRejected { errors }) => {
            assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3]);
        }
        other => panic!("strict must refuse: {other:?}"),
    }
    assert_eq!(
        store.events(&EventsQuery::new("t1")).expect("events").len(),
        1,
        "nothing of the refused call"
    );
    // A per-call override, and the store still takes writes.
    let opts = IngestOptions {
        strict: Some(false),
        ..Default::default()
    };
    let report = store.ingest(input.as_bytes(), &opts).expect("non-strict call");
    assert_eq!((report.records, report.rejected.len()), (1, 2));
}

#[test]
fn typed_records_are_validated_too() {
    let (_dir, store) = store_with(Options::default());
    let ts = Timestamp::from_millis(0).expect("time");
    let records = vec![
        Record::new("t1", ts).with("T", 1.0),
        Record::new("t1", ts).with("T", f64::NAN),
        Record::new("", ts).with("T", 1.0),
        Record::new("t1", ts).with("T", f64::INFINITY),
    ];
    let report = store.write(&records).expect("write");
    assert_eq!(report.records, 1);
    let lines: Vec<(u64, Option<&str>)> = report.rejected.iter().map(|e| (e.line, e.field.as_deref())).collect();
    assert_eq!(lines, vec![(2, Some("T")), (3, Some("$dtId")), (4, Some("T"))]);
}

#[test]
fn timestamps_in_every_accepted_form() {
    let fixed = Timestamp::parse("2030-05-05T05:05:05Z").expect("time");
    let (_dir, store) = store_with(Options::default().clock(Clock::fixed(fixed)));
    let input = br#"{"$dtId":"t","$ts":1767225600000,"n":1}
{"$dtId":"t","$ts":1767225600000.5,"n":2}
{"$dtId":"t","$ts":"2026-01-01T01:00:00+01:00","n":3}
{"$dtId":"t","n":4}
"#;
    let report = store.ingest_ndjson(input).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let times: Vec<i64> = store
        .events(&EventsQuery::new("t"))
        .expect("events")
        .iter()
        .map(|e| e.ts.as_nanos())
        .collect();
    let base = 1_767_225_600_000_000_000i64;
    assert_eq!(times, vec![base, base, base + 500_000, fixed.as_nanos()]);

    // Another timestamp property.
    let (_dir, store) = store_with(Options::default().timestamp_property("time"));
    store
        .ingest_ndjson(br#"{"$dtId":"t","time":"2026-01-01T00:00:00Z","$ts":"x","n":1}"#)
        .expect("ingest");
    let event = &store.events(&EventsQuery::new("t")).expect("events")[0];
    assert_eq!(event.ts.as_nanos(), base);
    assert!(
        event.values.contains(&("$ts".into(), Value::String("x".into()))),
        "{event:?}"
    );
}

#[test]
fn one_name_with_three_types_keeps_three_columns() {
    let (_dir, store) = store_with(Options::default());
    let input = br#"{"$dtId":"t","$ts":"2026-01-01T00:00:00Z","p":1.5}
{"$dtId":"t","$ts":"2026-01-01T00:00:01Z","p":2}
{"$dtId":"t","$ts":"2026-01-01T00:00:02Z","p":"two"}
{"$dtId":"t","$ts":"2026-01-01T00:00:03Z","p":"2026-02-02T00:00:00Z"}
"#;
    store.ingest_ndjson(input).expect("ingest");
    let types: Vec<ValueType> = store
        .schema("t")
        .expect("schema")
        .iter()
        .map(|p| p.value_type)
        .collect();
    assert_eq!(
        types,
        vec![
            ValueType::Double,
            ValueType::Long,
            ValueType::String,
            ValueType::DateTime
        ]
    );
    let values: Vec<Value> = store
        .events(&EventsQuery::new("t"))
        .expect("events")
        .into_iter()
        .map(|e| e.values[0].1.clone())
        .collect();
    assert_eq!(
        values,
        vec![
            Value::Double(1.5),
            Value::Long(2),
            Value::String("two".into()),
            Value::DateTime(Timestamp::parse("2026-02-02T00:00:00Z").expect("time")),
        ]
    );
    assert_eq!(store.latest("t").expect("latest").get("p"), Some(&values[3]));
}
