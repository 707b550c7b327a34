//! Bad input is reported precisely and never costs other data.
//!
//! The guarantee: each kind of bad record (not JSON, not an object, no or bad `$dtId`, bad or
//! out-of-range timestamp, non-finite or out-of-range number, empty or over-long property
//! name, nesting too deep, a line or value over its limit, a property named twice) is
//! rejected with a `RecordError` naming its line, twin, field and a reason; the good records
//! of the same call are written; a strict call refuses the whole batch and writes nothing;
//! data written before is untouched, the store keeps accepting writes, and a reopened store
//! holds exactly the accepted records. It also checks the documented fallbacks (the clock
//! for a missing timestamp, epoch milliseconds, a configured timestamp property) and that a
//! property arriving with several types keeps one column per type.

mod common;

use common::{dynamic, events_view, reopen, s, temp_store, utc, utc_nanos, values};
use twinstore::{
    Clock, Error, EventsQuery, IngestOptions, InputFormat, Options, Record, RecordError, Store, Timestamp, Value,
    ValueType,
};

/// The good line before each bad one.
const GOOD_BEFORE: &str = r#"{"$dtId":"good","$ts":"2026-01-01T00:00:00Z","T":1.5}"#;
/// The good line after each bad one.
const GOOD_AFTER: &str = r#"{"$dtId":"good","$ts":"2026-01-01T00:00:02Z","T":2.5}"#;

fn good_events(store: &Store) -> Vec<(Timestamp, Vec<(String, Value)>)> {
    events_view(
        &store
            .events(&EventsQuery::new("good"))
            .expect("events of the good twin"),
    )
}

fn expected_good() -> Vec<(Timestamp, Vec<(String, Value)>)> {
    vec![
        (utc(2026, 1, 1, 0, 0, 0, 0), values(&[("T", Value::Double(1.5))])),
        (utc(2026, 1, 1, 0, 0, 2, 0), values(&[("T", Value::Double(2.5))])),
    ]
}

/// What a rejection must say.
struct Expect<'a> {
    /// `None`: the twin may or may not be named (the line broke before or after `$dtId`).
    twin: Option<Option<&'a str>>,
    field: Option<&'a str>,
    /// The reason contains one of these (case-insensitive).
    reason_any: &'a [&'a str],
}

fn expect<'a>(twin: Option<Option<&'a str>>, field: Option<&'a str>, reason_any: &'a [&'a str]) -> Expect<'a> {
    Expect {
        twin,
        field,
        reason_any,
    }
}

fn check_error(what: &str, error: &RecordError, line: u64, e: &Expect<'_>) {
    assert_eq!(error.line, line, "{what}: {error}");
    if let Some(twin) = e.twin {
        assert_eq!(error.twin.as_deref(), twin, "{what}: {error}");
    }
    assert_eq!(error.field.as_deref(), e.field, "{what}: {error}");
    let reason = error.reason.to_lowercase();
    assert!(
        e.reason_any.iter().any(|k| reason.contains(&k.to_lowercase())),
        "{what}: reason {:?} names none of {:?}",
        error.reason,
        e.reason_any
    );
}

/// Ingests `GOOD_BEFORE`, `bad`, `GOOD_AFTER` (lines 1-3) non-strict and strict, in a store
/// that already holds an earlier record, and checks everything the guarantee says.
fn check_flat_rejection(what: &str, options: Options, bad: &[u8], e: Expect<'_>) {
    let (dir, store) = temp_store(options.clone());
    let earlier = store
        .ingest_ndjson(br#"{"$dtId":"earlier","$ts":"2025-12-31T00:00:00Z","x":1}"#)
        .expect("earlier write");
    assert_eq!(earlier.records, 1);

    let mut input = Vec::new();
    input.extend_from_slice(GOOD_BEFORE.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(bad);
    input.push(b'\n');
    input.extend_from_slice(GOOD_AFTER.as_bytes());
    input.push(b'\n');

    // Strict first: refused as a whole, nothing written, nothing new in the catalog.
    let strict = IngestOptions {
        format: InputFormat::Flat,
        strict: Some(true),
        first_line: 1,
    };
    match store.ingest(&input, &strict) {
        Err(Error::BatchRejected { errors }) => {
            assert_eq!(errors.len(), 1, "{what}: {errors:?}");
            check_error(what, &errors[0], 2, &e);
        }
        other => panic!("{what}: strict ingest should fail, got {other:?}"),
    }
    assert_eq!(
        store
            .twins()
            .expect("twins")
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        ["earlier"],
        "{what}: a refused batch creates no twin"
    );
    assert_eq!(store.stats().records, 1, "{what}");

    // Default: the good lines are kept and the bad one reported.
    let report = store.ingest_ndjson(&input).expect("a non-strict call succeeds");
    assert_eq!(report.records, 2, "{what}: good lines kept; {:?}", report.rejected);
    assert_eq!(report.rejected.len(), 1, "{what}: {:?}", report.rejected);
    check_error(what, &report.rejected[0], 2, &e);
    assert_eq!(good_events(&store), expected_good(), "{what}");
    assert_eq!(store.stats().records, 3, "{what}: nothing of the bad line was written");

    // Earlier data is untouched; the store still takes writes.
    let earlier_events = store.events(&EventsQuery::new("earlier")).expect("events");
    assert_eq!(
        events_view(&earlier_events),
        vec![(utc(2025, 12, 31, 0, 0, 0, 0), values(&[("x", Value::Long(1))]))],
        "{what}"
    );
    let after = store
        .write(&[Record::new("good", utc(2026, 1, 1, 0, 0, 3, 0)).with("T", 3.5)])
        .expect("a write after the rejection");
    assert_eq!(after.records, 1, "{what}");

    // The log holds exactly the accepted records.
    drop(store);
    let store = reopen(dir.path(), options);
    let mut expected = expected_good();
    expected.push((utc(2026, 1, 1, 0, 0, 3, 0), values(&[("T", Value::Double(3.5))])));
    assert_eq!(good_events(&store), expected, "{what}: after reopen");
    assert_eq!(store.stats().records, 4, "{what}: after reopen");
}

#[test]
fn not_json_and_not_an_object() {
    let json = &["json", "syntax", "parse", "expected", "eof"][..];
    let object = &["object"][..];
    let cases: Vec<(&str, &[u8], Expect<'_>)> = vec![
        ("truncated", br#"{"$dtId":"t1","T":"#, expect(None, None, json)),
        ("prose", b"hello world", expect(Some(None), None, json)),
        (
            "trailing garbage",
            br#"{"$dtId":"t1","T":1} x"#,
            expect(None, None, json),
        ),
        (
            "two objects",
            br#"{"$dtId":"t1","T":1}{"$dtId":"t1","T":2}"#,
            expect(None, None, json),
        ),
        ("unquoted key", br#"{$dtId:"t1","T":1}"#, expect(Some(None), None, json)),
        (
            "single quotes",
            br#"{'$dtId':'t1','T':1}"#,
            expect(Some(None), None, json),
        ),
        (
            "invalid utf-8",
            b"{\"$dtId\":\"t1\",\"T\":\"\xff\xfe\"}",
            expect(None, None, json),
        ),
        ("array", b"[1]", expect(Some(None), None, object)),
        (
            "array of objects",
            br#"[{"$dtId":"t1","T":1}]"#,
            expect(Some(None), None, object),
        ),
        ("string", br#""x""#, expect(Some(None), None, object)),
        ("number", b"42", expect(Some(None), None, object)),
        ("null", b"null", expect(Some(None), None, object)),
        ("bool", b"true", expect(Some(None), None, object)),
    ];
    for (what, bad, e) in cases {
        check_flat_rejection(what, Options::default(), bad, e);
    }
}

#[test]
fn twin_id_problems() {
    let long_id = "x".repeat(1025);
    let long_line = format!(r#"{{"$dtId":"{long_id}","T":1}}"#);
    let cases: Vec<(&str, &[u8], Expect<'_>)> = vec![
        (
            "missing",
            br#"{"$ts":"2026-01-01T00:00:01Z","T":1}"#,
            expect(Some(None), Some("$dtId"), &["$dtId"]),
        ),
        (
            "empty",
            br#"{"$dtId":"","T":1}"#,
            expect(Some(Some("")), Some("$dtId"), &["empty"]),
        ),
        (
            "1025 characters",
            long_line.as_bytes(),
            expect(Some(Some(long_id.as_str())), Some("$dtId"), &["1024", "1025"]),
        ),
        (
            "a number",
            br#"{"$dtId":42,"T":1}"#,
            expect(Some(None), Some("$dtId"), &["string"]),
        ),
        (
            "null",
            br#"{"$dtId":null,"T":1}"#,
            expect(Some(None), Some("$dtId"), &["string"]),
        ),
        (
            "a bool",
            br#"{"$dtId":true,"T":1}"#,
            expect(Some(None), Some("$dtId"), &["string"]),
        ),
        (
            "an object",
            br#"{"$dtId":{"a":"b"},"T":1}"#,
            expect(Some(None), Some("$dtId"), &["string"]),
        ),
        (
            "an array",
            br#"{"$dtId":["t1"],"T":1}"#,
            expect(Some(None), Some("$dtId"), &["string"]),
        ),
        (
            "twice",
            br#"{"$dtId":"a","$dtId":"b","T":1}"#,
            expect(None, Some("$dtId"), &["duplicate", "twice"]),
        ),
    ];
    for (what, bad, e) in cases {
        check_flat_rejection(what, Options::default(), bad, e);
    }
}

#[test]
fn twin_id_length_is_counted_in_characters() {
    let (_dir, store) = temp_store(Options::default());
    // 1,024 characters is allowed, also when they take 2,048 or 4,096 bytes.
    let ids = ["x".repeat(1024), "é".repeat(1024), "😀".repeat(1024)];
    for id in &ids {
        let line = format!(r#"{{"$dtId":"{id}","$ts":"2026-01-01T00:00:00Z","T":1}}"#);
        let report = store.ingest_ndjson(line.as_bytes()).expect("ingest");
        assert_eq!((report.records, report.rejected.len()), (1, 0), "{:?}", report.rejected);
        assert_eq!(store.events(&EventsQuery::new(id.as_str())).expect("events").len(), 1);
    }
    let over = "é".repeat(1025);
    let line = format!(r#"{{"$dtId":"{over}","T":1}}"#);
    let report = store.ingest_ndjson(line.as_bytes()).expect("ingest");
    assert_eq!(report.records, 0);
    assert_eq!(report.rejected[0].field.as_deref(), Some("$dtId"));
}

#[test]
fn property_name_problems() {
    let long = "p".repeat(513);
    let long_line = format!(r#"{{"$dtId":"t1","{long}":1}}"#);
    // A flattened name over the limit made of two short keys.
    let (a, b) = ("a".repeat(300), "b".repeat(212));
    let nested_long = format!(r#"{{"$dtId":"t1","{a}":{{"{b}":1}}}}"#);
    let nested_name = format!("{a}.{b}");
    let cases: Vec<(&str, &[u8], Expect<'_>)> = vec![
        (
            "empty",
            br#"{"$dtId":"t1","":1}"#,
            expect(Some(Some("t1")), Some(""), &["empty"]),
        ),
        (
            "513 characters",
            long_line.as_bytes(),
            expect(Some(Some("t1")), Some(long.as_str()), &["512", "513"]),
        ),
        (
            "513 characters once flattened",
            nested_long.as_bytes(),
            expect(Some(Some("t1")), Some(nested_name.as_str()), &["512", "513"]),
        ),
        (
            "a literal dotted key and the same nested path",
            br#"{"$dtId":"t1","Front.Temperature":1,"Front":{"Temperature":2}}"#,
            expect(Some(Some("t1")), Some("Front.Temperature"), &["duplicate"]),
        ),
        (
            "the nested path first, then the literal dotted key",
            br#"{"$dtId":"t1","Front":{"Temperature":2},"Front.Temperature":1.5}"#,
            expect(Some(Some("t1")), Some("Front.Temperature"), &["duplicate"]),
        ),
        (
            "the same key twice",
            br#"{"$dtId":"t1","T":1,"T":2}"#,
            expect(Some(Some("t1")), Some("T"), &["duplicate"]),
        ),
        (
            "the same key twice with two types",
            br#"{"$dtId":"t1","T":1,"T":"one"}"#,
            expect(Some(Some("t1")), Some("T"), &["duplicate"]),
        ),
    ];
    for (what, bad, e) in cases {
        check_flat_rejection(what, Options::default(), bad, e);
    }

    // Exactly 512 characters is allowed, also as a flattened name and in multi-byte letters.
    let (_dir, store) = temp_store(Options::default());
    let names = [
        "p".repeat(512),
        "ü".repeat(512),
        format!("{}.{}", "a".repeat(300), "b".repeat(211)),
    ];
    let lines = [
        format!(r#"{{"$dtId":"t1","$ts":"2026-01-01T00:00:00Z","{}":1}}"#, names[0]),
        format!(r#"{{"$dtId":"t1","$ts":"2026-01-01T00:00:00Z","{}":1}}"#, names[1]),
        format!(
            r#"{{"$dtId":"t1","$ts":"2026-01-01T00:00:00Z","{}":{{"{}":1}}}}"#,
            "a".repeat(300),
            "b".repeat(211)
        ),
    ];
    let report = store.ingest_ndjson(lines.join("\n").as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let state = store.latest("t1").expect("latest");
    for name in &names {
        assert_eq!(state.get(name), Some(&Value::Long(1)), "{} chars", name.chars().count());
    }
}

/// `{"d":{"d":...{"d":1}}}` with `levels` property levels: the flattened name has `levels`
/// segments.
fn nested(levels: usize) -> String {
    format!(
        r#"{{"$dtId":"t1","$ts":"2026-01-01T00:00:01Z",{}1{}}}"#,
        r#""d":{"#.repeat(levels - 1).to_string() + r#""d":"#,
        "}".repeat(levels - 1)
    )
}

#[test]
fn nesting_limit() {
    // Ten levels of properties are allowed (the flattened name has ten segments).
    let (_dir, store) = temp_store(Options::default());
    let report = store.ingest_ndjson(nested(10).as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let name = ["d"; 10].join(".");
    assert_eq!(store.latest("t1").expect("latest").get(&name), Some(&Value::Long(1)));

    let deep = &["deep", "nest", "level"][..];
    for levels in [11, 12, 200, 5_000] {
        let line = nested(levels);
        let e = expect(Some(Some("t1")), None, deep);
        // The field is the deepest allowed prefix; only its start is fixed.
        let (dir, store) = temp_store(Options::default());
        let input = format!("{GOOD_BEFORE}\n{line}\n{GOOD_AFTER}\n");
        let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
        assert_eq!(report.records, 2, "{levels} levels");
        assert_eq!(report.rejected.len(), 1, "{levels} levels");
        let error = &report.rejected[0];
        assert_eq!(error.line, 2, "{error}");
        assert_eq!(error.twin.as_deref(), Some("t1"), "{error}");
        let field = error
            .field
            .as_deref()
            .unwrap_or_else(|| panic!("{levels} levels: no field in {error}"));
        assert!(field.starts_with("d.d"), "{levels} levels: field {field:?}");
        let reason = error.reason.to_lowercase();
        assert!(e.reason_any.iter().any(|k| reason.contains(k)), "{error}");
        drop(store);
        drop(dir);
    }

    // Arrays count as nesting too; a shallow array is a Dynamic value.
    let deep_array = format!(
        r#"{{"$dtId":"t1","$ts":"2026-01-01T00:00:01Z","p":{}1{}}}"#,
        "[".repeat(12),
        "]".repeat(12)
    );
    check_flat_rejection(
        "deeply nested array",
        Options::default(),
        deep_array.as_bytes(),
        expect(Some(Some("t1")), Some("p"), deep),
    );
    let very_deep_array = format!(
        r#"{{"$dtId":"t1","$ts":"2026-01-01T00:00:01Z","p":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (_dir, store) = temp_store(Options::default());
    let report = store.ingest_ndjson(very_deep_array.as_bytes()).expect("ingest");
    assert_eq!((report.records, report.rejected.len()), (0, 1), "{:?}", report.rejected);
}

#[test]
fn timestamp_problems() {
    let bad = &["time", "date", "timestamp", "range", "invalid"][..];
    let ts = Some("$ts");
    let t1 = Some(Some("t1"));
    let cases: Vec<(&str, &[u8], Expect<'_>)> = vec![
        (
            "prose",
            br#"{"$dtId":"t1","$ts":"yesterday","T":1}"#,
            expect(t1, ts, bad),
        ),
        (
            "month 13",
            br#"{"$dtId":"t1","$ts":"2026-13-01T00:00:00Z","T":1}"#,
            expect(t1, ts, bad),
        ),
        (
            "31 June",
            br#"{"$dtId":"t1","$ts":"2026-06-31T00:00:00Z","T":1}"#,
            expect(t1, ts, bad),
        ),
        (
            "hour 25",
            br#"{"$dtId":"t1","$ts":"2026-01-01T25:00:00Z","T":1}"#,
            expect(t1, ts, bad),
        ),
        ("empty", br#"{"$dtId":"t1","$ts":"","T":1}"#, expect(t1, ts, bad)),
        (
            "year 3000",
            br#"{"$dtId":"t1","$ts":"3000-01-01T00:00:00Z","T":1}"#,
            expect(t1, ts, bad),
        ),
        (
            "year 1600",
            br#"{"$dtId":"t1","$ts":"1600-01-01T00:00:00Z","T":1}"#,
            expect(t1, ts, bad),
        ),
        ("a bool", br#"{"$dtId":"t1","$ts":true,"T":1}"#, expect(t1, ts, bad)),
        (
            "an object",
            br#"{"$dtId":"t1","$ts":{"a":1},"T":1}"#,
            expect(t1, ts, bad),
        ),
        ("an array", br#"{"$dtId":"t1","$ts":[1],"T":1}"#, expect(t1, ts, bad)),
        (
            "millis out of range",
            br#"{"$dtId":"t1","$ts":1e300,"T":1}"#,
            expect(t1, ts, bad),
        ),
        (
            "integer millis out of range",
            br#"{"$dtId":"t1","$ts":9223372036854775807,"T":1}"#,
            expect(t1, ts, bad),
        ),
        (
            "u64 millis",
            br#"{"$dtId":"t1","$ts":18446744073709551615,"T":1}"#,
            expect(t1, ts, bad),
        ),
        (
            "twice",
            br#"{"$dtId":"t1","$ts":"2026-01-01T00:00:00Z","$ts":"2026-01-01T00:00:01Z","T":1}"#,
            expect(t1, ts, &["duplicate", "twice"]),
        ),
    ];
    for (what, bad, e) in cases {
        check_flat_rejection(what, Options::default(), bad, e);
    }
}

#[test]
fn number_problems() {
    let t1 = Some(Some("t1"));
    let json = &["json", "number", "range", "expected"][..];
    let range = &["range", "long", "overflow"][..];
    let cases: Vec<(&str, &[u8], Expect<'_>)> = vec![
        ("NaN literal", br#"{"$dtId":"t1","T":NaN}"#, expect(None, None, json)),
        (
            "Infinity literal",
            br#"{"$dtId":"t1","T":Infinity}"#,
            expect(None, None, json),
        ),
        (
            "-Infinity literal",
            br#"{"$dtId":"t1","T":-Infinity}"#,
            expect(None, None, json),
        ),
        ("1e999", br#"{"$dtId":"t1","T":1e999}"#, expect(None, None, json)),
        ("leading zero", br#"{"$dtId":"t1","T":01}"#, expect(None, None, json)),
        (
            "i64::MAX + 1",
            br#"{"$dtId":"t1","T":9223372036854775808}"#,
            expect(t1, Some("T"), range),
        ),
        (
            "u64::MAX",
            br#"{"$dtId":"t1","T":18446744073709551615}"#,
            expect(t1, Some("T"), range),
        ),
        (
            "nested i64::MAX + 1",
            br#"{"$dtId":"t1","a":{"b":9223372036854775808}}"#,
            expect(t1, Some("a.b"), range),
        ),
    ];
    for (what, bad, e) in cases {
        check_flat_rejection(what, Options::default(), bad, e);
    }

    // The ends of the Long range are Longs.
    let (_dir, store) = temp_store(Options::default());
    let line = r#"{"$dtId":"t1","$ts":"2026-01-01T00:00:00Z","max":9223372036854775807,"min":-9223372036854775808,"exp":1e3,"neg0":-0.0}"#;
    let report = store.ingest_ndjson(line.as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let state = store.latest("t1").expect("latest");
    assert_eq!(state.get("max"), Some(&Value::Long(i64::MAX)));
    assert_eq!(state.get("min"), Some(&Value::Long(i64::MIN)));
    // A number with an exponent is a Double.
    assert_eq!(state.get("exp"), Some(&Value::Double(1000.0)));
    assert_eq!(
        state.get("neg0").and_then(Value::as_f64).map(f64::is_sign_negative),
        Some(true)
    );
}

/// Integers beyond the Long range that JSON parsers commonly read as floats must not slip
/// through as Doubles: the documentation says an integer outside the Long range is rejected.
/// (`9223372036854775808` to `18446744073709551615` are rejected; below `i64::MIN` or above
/// `u64::MAX` serde_json hands the parser an `f64`, which is stored as a rounded Double.)
#[test]

fn integers_beyond_long_that_parse_as_floats_are_rejected() {
    let range = &["range", "long", "overflow"][..];
    let t1 = Some(Some("t1"));
    let cases: Vec<(&str, &[u8], Expect<'_>)> = vec![
        (
            "i64::MIN - 1",
            br#"{"$dtId":"t1","T":-9223372036854775809}"#,
            expect(t1, Some("T"), range),
        ),
        (
            "u64::MAX + 1",
            br#"{"$dtId":"t1","T":18446744073709551616}"#,
            expect(t1, Some("T"), range),
        ),
        (
            "a 30-digit integer",
            br#"{"$dtId":"t1","T":123456789012345678901234567890}"#,
            expect(t1, Some("T"), range),
        ),
    ];
    for (what, bad, e) in cases {
        check_flat_rejection(what, Options::default(), bad, e);
    }
    // The ADT path: the same value in a patch.
    let (_dir, store) = temp_store(Options::default());
    let event = r#"{"type":"Microsoft.DigitalTwins.Twin.Update","subject":"a1","time":"2026-01-01T00:00:00Z","data":{"patch":[{"op":"add","path":"/T","value":-9223372036854775809}]}}"#;
    let report = store.ingest_adt(event.as_bytes()).expect("ingest");
    assert_eq!(report.records, 0, "{:?}", store.events(&EventsQuery::new("a1")));
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].field.as_deref(), Some("T"));
}

#[test]
fn size_limits() {
    // A line over Limits::max_record_bytes (1 MiB by default).
    let big = format!(r#"{{"$dtId":"t1","s":"{}"}}"#, "x".repeat(1 << 20));
    check_flat_rejection(
        "line over 1 MiB",
        Options::default(),
        big.as_bytes(),
        expect(Some(None), None, &["bytes", "limit", "large"]),
    );
    // A line of several MB.
    let huge = format!(r#"{{"$dtId":"t1","s":"{}"}}"#, "y".repeat(6 << 20));
    check_flat_rejection(
        "line of 6 MB",
        Options::default(),
        huge.as_bytes(),
        expect(Some(None), None, &["bytes", "limit", "large"]),
    );
    // A value over Limits::max_value_bytes in a line under the line limit.
    let long_value = format!(r#"{{"$dtId":"t1","s":"{}"}}"#, "z".repeat((256 << 10) + 1));
    check_flat_rejection(
        "string value over 256 KiB",
        Options::default(),
        long_value.as_bytes(),
        expect(Some(Some("t1")), Some("s"), &["bytes", "limit"]),
    );
    // More properties than Limits::max_properties_per_record.
    let many: String = (0..1001).map(|i| format!(r#","p{i}":{i}"#)).collect();
    let many = format!(r#"{{"$dtId":"t1"{many}}}"#);
    check_flat_rejection(
        "1001 properties",
        Options::default(),
        many.as_bytes(),
        expect(Some(Some("t1")), None, &["1000", "1001", "properties"]),
    );

    // A smaller configured line limit applies, and a line just under it is fine.
    let mut options = Options::default();
    options.limits.max_record_bytes = 100;
    let (_dir, store) = temp_store(options);
    let ok = format!(r#"{{"$dtId":"t1","s":"{}"}}"#, "a".repeat(100 - 21));
    let too_big = format!(r#"{{"$dtId":"t1","s":"{}"}}"#, "a".repeat(100 - 20));
    assert_eq!((ok.len(), too_big.len()), (100, 101));
    let report = store
        .ingest_ndjson(format!("{ok}\n{too_big}\n").as_bytes())
        .expect("ingest");
    assert_eq!(report.records, 1);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, 2);
}

/// A multi-megabyte input (parsed on several threads) with bad lines at known places,
/// among them a line of several MB: every error carries its own line number.
#[test]
fn line_numbers_in_a_large_input_with_a_huge_line() {
    let mut lines: Vec<String> = (0..60_000)
        .map(|i| {
            format!(
                r#"{{"$dtId":"big-{}","$ts":{},"v":{i}}}"#,
                i % 7,
                1_767_225_600_000i64 + i as i64
            )
        })
        .collect();
    // 1-based line numbers of the bad lines, in increasing order.
    let bad_at = [1usize, 17_000, 29_999, 30_000, 30_001, 45_678, 60_005];
    let huge = format!(r#"{{"$dtId":"big-0","s":"{}"}}"#, "h".repeat(5 << 20));
    for (k, &at) in bad_at.iter().enumerate() {
        let bad = if k == 3 {
            huge.clone()
        } else {
            format!(r#"{{"$dtId":"big-bad","$ts":"no time {k}","v":1}}"#)
        };
        lines.insert(at - 1, bad);
    }
    let input = lines.join("\n");
    assert!(input.len() > 4 << 20, "large enough to be parsed on several threads");
    let (dir, store) = temp_store(Options::default().ingest_threads(3));
    let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
    assert_eq!(report.records, 60_000);
    let got: Vec<u64> = report.rejected.iter().map(|e| e.line).collect();
    assert_eq!(got, bad_at.map(|l| l as u64), "{:?}", report.rejected);
    for (k, error) in report.rejected.iter().enumerate() {
        if k == 3 {
            assert_eq!(error.field, None, "{error}");
        } else {
            assert_eq!(error.field.as_deref(), Some("$ts"), "{error}");
            assert_eq!(error.twin.as_deref(), Some("big-bad"), "{error}");
        }
    }
    // Every good line is there with its value, in order.
    let check = |store: &Store| {
        for twin in 0..7 {
            let events = store.events(&EventsQuery::new(format!("big-{twin}"))).expect("events");
            let expected: Vec<i64> = (0..60_000).filter(|i| i % 7 == twin).collect();
            let got: Vec<i64> = events
                .iter()
                .map(|e| match e.values.as_slice() {
                    [(name, Value::Long(v))] if &**name == "v" => *v,
                    other => panic!("unexpected values {other:?}"),
                })
                .collect();
            assert_eq!(got, expected, "big-{twin}");
            for (e, i) in events.iter().zip(&expected) {
                assert_eq!(e.ts.as_nanos(), utc_nanos(2026, 1, 1, 0, 0, 0, 0) + i * 1_000_000);
            }
        }
        assert!(matches!(
            store.events(&EventsQuery::new("big-bad")),
            Err(Error::UnknownTwin(_))
        ));
    };
    check(&store);
    drop(store);
    check(&reopen(dir.path(), Options::default()));
}

#[test]
fn typed_records_are_validated_too() {
    let (dir, store) = temp_store(Options::default());
    let t = utc(2026, 1, 1, 0, 0, 0, 0);
    store
        .write(&[Record::new("typed", t).with("x", 0i64)])
        .expect("an earlier write");
    let records = vec![
        Record::new("typed", t).with("ok", 1.0),
        Record::new("typed", t).with("nan", Value::Double(f64::NAN)),
        Record::new("typed", t).with("inf", Value::Double(f64::INFINITY)),
        Record::new("typed", t).with("ninf", Value::Double(f64::NEG_INFINITY)),
        Record::new("", t).with("a", 1i64),
        Record::new("x".repeat(1025), t).with("a", 1i64),
        Record::new("typed", t).with("", 1i64),
        Record::new("typed", t).with("p".repeat(513), 1i64),
        Record::new("typed", t).with("dup", 1i64).with("dup", 2i64),
        Record::new("typed", t).with("dup2", 1i64).with("dup2", "two"),
        Record::new("typed", utc(2026, 1, 1, 0, 0, 1, 0)).with("ok", 2.0),
    ];
    let p513 = "p".repeat(513);
    let expected: Vec<(u64, Option<&str>, Option<&str>)> = vec![
        (2, Some("typed"), Some("nan")),
        (3, Some("typed"), Some("inf")),
        (4, Some("typed"), Some("ninf")),
        (5, Some(""), Some("$dtId")),
        (6, None, Some("$dtId")),
        (7, Some("typed"), Some("")),
        (8, Some("typed"), Some(p513.as_str())),
        (9, Some("typed"), Some("dup")),
        (10, Some("typed"), Some("dup2")),
    ];
    let check_errors = |errors: &[RecordError]| {
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, (line, twin, field)) in errors.iter().zip(&expected) {
            assert_eq!(error.line, *line, "{error}");
            if let Some(twin) = twin {
                assert_eq!(error.twin.as_deref(), Some(*twin), "{error}");
            }
            assert_eq!(error.field.as_deref(), *field, "{error}");
            assert!(!error.reason.is_empty());
        }
    };
    let report = store.write(&records).expect("non-strict write");
    assert_eq!(report.records, 2);
    check_errors(&report.rejected);
    let events = store
        .events(&EventsQuery::new("typed").properties(["ok"]))
        .expect("events");
    assert_eq!(
        events_view(&events),
        vec![
            (t, values(&[("ok", Value::Double(1.0))])),
            (utc(2026, 1, 1, 0, 0, 1, 0), values(&[("ok", Value::Double(2.0))])),
        ]
    );
    drop(store);

    // Strict: refused whole.
    let store = reopen(dir.path(), Options::default().strict(true));
    match store.write(&records) {
        Err(Error::BatchRejected { errors }) => check_errors(&errors),
        other => panic!("expected BatchRejected, got {other:?}"),
    }
    assert_eq!(store.stats().records, 3, "nothing of the strict batch written");
    // A per-call override of the store's strictness.
    let lenient = IngestOptions {
        format: InputFormat::Flat,
        strict: Some(false),
        first_line: 1,
    };
    let report = store
        .ingest(
            b"{\"$dtId\":\"typed\",\"$ts\":\"2026-01-01T00:00:05Z\",\"ok\":5.5}\nnot json\n",
            &lenient,
        )
        .expect("lenient call");
    assert_eq!((report.records, report.rejected.len()), (1, 1));
    assert_eq!(store.stats().records, 4);
}

#[test]
fn a_nan_from_json_is_invalid_json() {
    // JSON has no NaN: a `NaN` literal fails to parse, and so does a bare `nan`.
    let (_dir, store) = temp_store(Options::default());
    let report = store
        .ingest_ndjson(
            b"{\"$dtId\":\"t1\",\"T\":NaN}\n{\"$dtId\":\"t1\",\"T\":nan}\n{\"$dtId\":\"t1\",\"T\":\"NaN\"}\n",
        )
        .expect("ingest");
    assert_eq!(report.rejected.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 2]);
    // The string "NaN" is just a string.
    assert_eq!(report.records, 1);
    assert_eq!(store.latest("t1").expect("latest").get("T"), Some(&s("NaN")));
}

#[test]
fn timestamp_forms_and_fallbacks() {
    let clock_time = utc(2030, 5, 6, 7, 8, 9, 123_456_789);
    let (_dir, store) = temp_store(Options::default().clock(Clock::fixed(clock_time)));
    let input = [
        // epoch milliseconds, whole and with a fraction, negative, and in exponent form
        r#"{"$dtId":"ms","$ts":1767225600000,"v":1}"#,
        r#"{"$dtId":"ms","$ts":1767225600000.5,"v":2}"#,
        r#"{"$dtId":"ms","$ts":-1000,"v":3}"#,
        r#"{"$dtId":"ms","$ts":1.7672256e12,"v":4}"#,
        // offsets are applied; nine fractional digits kept
        r#"{"$dtId":"iso","$ts":"2026-01-01T09:00:00+01:00","v":1}"#,
        r#"{"$dtId":"iso","$ts":"2026-01-01T09:00:00+0100","v":2}"#,
        r#"{"$dtId":"iso","$ts":"2025-12-31T23:00:00-09:00","v":3}"#,
        r#"{"$dtId":"iso","$ts":"2026-01-01T08:00:00.123456789Z","v":4}"#,
        // an explicit offset followed by a redundant Z (TSI accepts it)
        r#"{"$dtId":"iso","$ts":"2026-01-01T09:00:00+01:00Z","v":5}"#,
        r#"{"$dtId":"iso","$ts":"2026-01-01T09:00:00+0100Z","v":6}"#,
        // no timestamp: the clock
        r#"{"$dtId":"clock","v":1}"#,
    ]
    .join("\n");
    let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let times = |twin: &str| -> Vec<(i64, Value)> {
        store
            .events(&EventsQuery::new(twin))
            .expect("events")
            .into_iter()
            .map(|e| (e.ts.as_nanos(), e.values[0].1.clone()))
            .collect()
    };
    let jan1 = utc_nanos(2026, 1, 1, 0, 0, 0, 0);
    assert_eq!(
        times("ms"),
        vec![
            (-1_000_000_000, Value::Long(3)),
            (jan1, Value::Long(1)),
            (jan1, Value::Long(4)),
            (jan1 + 500_000, Value::Long(2)),
        ]
    );
    let eight = utc_nanos(2026, 1, 1, 8, 0, 0, 0);
    assert_eq!(
        times("iso"),
        vec![
            (eight, Value::Long(1)),
            (eight, Value::Long(2)),
            (eight, Value::Long(3)),
            (eight, Value::Long(5)),
            (eight, Value::Long(6)),
            (eight + 123_456_789, Value::Long(4)),
        ]
    );
    assert_eq!(times("clock"), vec![(clock_time.as_nanos(), Value::Long(1))]);
}

#[test]
fn a_configured_timestamp_property() {
    let clock_time = utc(2030, 1, 1, 0, 0, 0, 0);
    let options = Options::default()
        .timestamp_property("eventTime")
        .clock(Clock::fixed(clock_time));
    let (dir, store) = temp_store(options.clone());
    let input = [
        r#"{"$dtId":"cfg","eventTime":"2026-02-02T02:02:02Z","v":1}"#,
        r#"{"$dtId":"cfg","eventTime":1767225600000,"v":2}"#,
        // no eventTime: the clock
        r#"{"$dtId":"cfg","v":3}"#,
        r#"{"$dtId":"cfg","eventTime":"not a time","v":4}"#,
    ]
    .join("\n");
    let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
    assert_eq!(report.records, 3);
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
    let error = &report.rejected[0];
    assert_eq!(
        (error.line, error.twin.as_deref(), error.field.as_deref()),
        (4, Some("cfg"), Some("eventTime"))
    );
    let check = |store: &Store| {
        let events = store.events(&EventsQuery::new("cfg")).expect("events");
        assert_eq!(
            events_view(&events),
            vec![
                (utc(2026, 1, 1, 0, 0, 0, 0), values(&[("v", Value::Long(2))])),
                (utc(2026, 2, 2, 2, 2, 2, 0), values(&[("v", Value::Long(1))])),
                (clock_time, values(&[("v", Value::Long(3))])),
            ],
            "the timestamp property is the event time, not a stored property"
        );
        let schema = store.schema("cfg").expect("schema");
        assert_eq!(schema.len(), 1, "{schema:?}");
    };
    check(&store);
    drop(store);
    check(&reopen(dir.path(), options));
}

#[test]
fn a_property_with_several_types_keeps_one_column_per_type() {
    let (dir, store) = temp_store(Options::default());
    let input = [
        r#"{"$dtId":"multi","$ts":"2026-01-01T00:00:01Z","p":1.5}"#,
        r#"{"$dtId":"multi","$ts":"2026-01-01T00:00:02Z","p":2}"#,
        r#"{"$dtId":"multi","$ts":"2026-01-01T00:00:03Z","p":"three"}"#,
        r#"{"$dtId":"multi","$ts":"2026-01-01T00:00:04Z","p":true}"#,
        r#"{"$dtId":"multi","$ts":"2026-01-01T00:00:05Z","p":"2026-01-01T00:00:00Z"}"#,
        r#"{"$dtId":"multi","$ts":"2026-01-01T00:00:06Z","p":[5]}"#,
        r#"{"$dtId":"multi","$ts":"2026-01-01T00:00:07Z","p":2.5}"#,
        r#"{"$dtId":"multi","$ts":"2026-01-01T00:00:08Z","p":null}"#,
    ]
    .join("\n");
    let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let at = |s: i64| utc(2026, 1, 1, 0, 0, s, 0);
    let expected_values = [
        Value::Double(1.5),
        Value::Long(2),
        s("three"),
        Value::Bool(true),
        Value::DateTime(utc(2026, 1, 1, 0, 0, 0, 0)),
        dynamic("[5]"),
        Value::Double(2.5),
        Value::Removed,
    ];
    let check = |store: &Store| {
        let mut schema: Vec<(String, ValueType, u64)> = store
            .schema("multi")
            .expect("schema")
            .into_iter()
            .map(|p| (p.name.to_string(), p.value_type, p.count))
            .collect();
        schema.sort();
        let mut expected = vec![
            ("p".to_string(), ValueType::Double, 2),
            ("p".to_string(), ValueType::Long, 1),
            ("p".to_string(), ValueType::String, 1),
            ("p".to_string(), ValueType::Bool, 1),
            ("p".to_string(), ValueType::DateTime, 1),
            ("p".to_string(), ValueType::Dynamic, 1),
        ];
        expected.sort();
        assert_eq!(schema, expected);
        let events = store
            .events(&EventsQuery::new("multi").properties(["p"]))
            .expect("events");
        let expected_events: Vec<_> = expected_values
            .iter()
            .enumerate()
            .map(|(i, v)| (at(i as i64 + 1), values(&[("p", v.clone())])))
            .collect();
        assert_eq!(events_view(&events), expected_events);
        for (i, v) in expected_values.iter().enumerate() {
            let state = store.state_at("multi", at(i as i64 + 1)).expect("state");
            let want = (*v != Value::Removed).then_some(v);
            assert_eq!(state.get("p"), want, "at second {}", i + 1);
        }
        assert_eq!(store.latest("multi").expect("latest").get("p"), None);
    };
    check(&store);
    drop(store);
    check(&reopen(dir.path(), Options::default()));
}

#[test]
fn same_instant_different_types_the_later_arrival_wins() {
    let (_dir, store) = temp_store(Options::default());
    let t = utc(2026, 1, 1, 0, 0, 10, 0);
    let later = utc(2026, 1, 1, 0, 0, 20, 0);
    // Twin a: Long then Double at one instant. Twin b: Double then Long.
    store
        .write(&[
            Record::new("a", t).with("p", 1i64),
            Record::new("a", t).with("p", 1.5),
            Record::new("b", t).with("p", 1.5),
            Record::new("b", t).with("p", 1i64),
        ])
        .expect("write");
    assert_eq!(
        store.state_at("a", t).expect("state").get("p"),
        Some(&Value::Double(1.5))
    );
    assert_eq!(store.state_at("b", t).expect("state").get("p"), Some(&Value::Long(1)));
    assert_eq!(store.latest("a").expect("latest").get("p"), Some(&Value::Double(1.5)));
    assert_eq!(store.latest("b").expect("latest").get("p"), Some(&Value::Long(1)));
    // The same, as late rows (older than a row already written), in separate calls.
    for twin in ["c", "d"] {
        store.write(&[Record::new(twin, later).with("q", true)]).expect("write");
    }
    store.write(&[Record::new("c", t).with("p", 1i64)]).expect("write");
    store.write(&[Record::new("c", t).with("p", 1.5)]).expect("write");
    store.write(&[Record::new("d", t).with("p", 1.5)]).expect("write");
    store.write(&[Record::new("d", t).with("p", 1i64)]).expect("write");
    assert_eq!(
        store.state_at("c", t).expect("state").get("p"),
        Some(&Value::Double(1.5))
    );
    assert_eq!(store.state_at("d", t).expect("state").get("p"), Some(&Value::Long(1)));
    assert_eq!(store.latest("c").expect("latest").get("p"), Some(&Value::Double(1.5)));
    assert_eq!(store.latest("d").expect("latest").get("p"), Some(&Value::Long(1)));
}

/// SEMANTICS.md section 2: the timestamp is "RFC 3339 with any fraction and offset" (RFC 3339
/// allows any number of fractional digits); digits beyond the nanosecond cannot be stored,
/// but the record must not be refused for carrying them.
#[test]

fn more_than_nine_fractional_digits_are_accepted() {
    let (_dir, store) = temp_store(Options::default());
    let input = [
        r#"{"$dtId":"frac","$ts":"2026-01-01T00:00:00.1234567891Z","v":1}"#,
        r#"{"$dtId":"frac","$ts":"2026-01-01T09:00:00.123456789999+01:00","v":2}"#,
    ]
    .join("\n");
    let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let events = store.events(&EventsQuery::new("frac")).expect("events");
    let base = utc_nanos(2026, 1, 1, 0, 0, 0, 0);
    assert_eq!(events[0].ts.as_nanos(), base + 123_456_789);
    // Truncated or rounded to the nanosecond: either is within one nanosecond.
    let second = events[1].ts.as_nanos() - utc_nanos(2026, 1, 1, 8, 0, 0, 0);
    assert!((123_456_789..=123_456_790).contains(&second), "{second}");
}

/// The last representable instant, `2262-04-11T23:47:16.854775807Z` (`Timestamp::MAX`), is
/// accepted by the flat and the typed paths. A record accepted there must then be returned
/// by a query without an end ("`None` = to the end"), like `latest` and `twin_info` see it.
#[test]

fn a_record_at_the_last_instant_is_returned_or_refused() {
    let (_dir, store) = temp_store(Options::default());
    let report = store
        .ingest_ndjson(br#"{"$dtId":"end","$ts":"2262-04-11T23:47:16.854775807Z","v":1}"#)
        .expect("ingest");
    let typed = store
        .write(&[Record::new("end", Timestamp::MAX).with("v", 2i64)])
        .expect("write");
    let accepted = report.records + typed.records;
    let events = store.events(&EventsQuery::new("end"));
    let returned = events.as_ref().map_or(0, Vec::len) as u64;
    assert_eq!(returned, accepted, "accepted records must be returned: {events:?}");
    let descending = store
        .events(&EventsQuery::new("end").descending())
        .map_or(0, |e| e.len()) as u64;
    assert_eq!(descending, accepted);
}

#[test]
fn empty_input_and_blank_lines_write_nothing() {
    let (_dir, store) = temp_store(Options::default().strict(true));
    for input in [&b""[..], b"\n", b"\r\n\r\n", b"   \n\t\n"] {
        let report = store.ingest_ndjson(input).expect("ingest");
        assert_eq!(report, twinstore::IngestReport::default(), "{input:?}");
        let report = store.ingest_adt(input).expect("ingest");
        assert_eq!(report, twinstore::IngestReport::default(), "{input:?}");
    }
    assert!(store.write(&[]).expect("write").rejected.is_empty());
    assert!(store.twins().expect("twins").is_empty());
    assert_eq!(store.stats().records, 0);
}

#[test]
fn twin_ids_and_names_are_case_sensitive_and_unescaped() {
    let (_dir, store) = temp_store(Options::default());
    let input = [
        r#"{"$dtId":"Thermostat67","$ts":"2026-01-01T00:00:00Z","Temp":1}"#,
        r#"{"$dtId":"thermostat67","$ts":"2026-01-01T00:00:01Z","temp":2}"#,
        // JSON escapes in ids, names and values are decoded: the same twin and property.
        r#"{"$dtId":"thermostat\u0036\u0037","$ts":"2026-01-01T00:00:02Z","t\u0065mp":"a\"b\u00e9"}"#,
    ]
    .join("\n");
    let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(
        store
            .twins()
            .expect("twins")
            .into_iter()
            .map(|t| (t.id, t.records))
            .collect::<Vec<_>>(),
        vec![("Thermostat67".to_string(), 1), ("thermostat67".to_string(), 2)]
    );
    let events = store.events(&EventsQuery::new("thermostat67")).expect("events");
    assert_eq!(
        events_view(&events),
        vec![
            (utc(2026, 1, 1, 0, 0, 1, 0), values(&[("temp", Value::Long(2))])),
            (utc(2026, 1, 1, 0, 0, 2, 0), values(&[("temp", s("a\"bé"))])),
        ]
    );
    assert_eq!(store.latest("Thermostat67").expect("latest").get("temp"), None);
}

#[test]
fn member_order_does_not_matter() {
    let (_dir, store) = temp_store(Options::default());
    let input = [
        r#"{"T":1,"$ts":"2026-01-01T00:00:00Z","$dtId":"order"}"#,
        r#"{"$ts":"2026-01-01T00:00:01Z","T":2,"$dtId":"order","U":true}"#,
        // A problem found before `$dtId` is read still names the line and field.
        r#"{"T":18446744073709551615,"$dtId":"order"}"#,
    ]
    .join("\n");
    let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
    assert_eq!(report.records, 2);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(
        (report.rejected[0].line, report.rejected[0].field.as_deref()),
        (3, Some("T"))
    );
    assert_eq!(
        events_view(&store.events(&EventsQuery::new("order")).expect("events")),
        vec![
            (utc(2026, 1, 1, 0, 0, 0, 0), values(&[("T", Value::Long(1))])),
            (
                utc(2026, 1, 1, 0, 0, 1, 0),
                values(&[("T", Value::Long(2)), ("U", Value::Bool(true))])
            ),
        ]
    );
}

#[test]
fn double_then_long_then_string_gives_three_columns() {
    let (_dir, store) = temp_store(Options::default());
    let input = [
        r#"{"$dtId":"dls","$ts":"2026-01-01T00:00:01Z","Temperature":20.5}"#,
        r#"{"$dtId":"dls","$ts":"2026-01-01T00:00:02Z","Temperature":21}"#,
        r#"{"$dtId":"dls","$ts":"2026-01-01T00:00:03Z","Temperature":"warm"}"#,
    ]
    .join("\n");
    let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
    assert_eq!((report.records, report.rejected.len()), (3, 0));
    let mut schema: Vec<(String, ValueType, u64)> = store
        .schema("dls")
        .expect("schema")
        .into_iter()
        .map(|p| (p.name.to_string(), p.value_type, p.count))
        .collect();
    schema.sort();
    let mut expected = vec![
        ("Temperature".to_string(), ValueType::Double, 1),
        ("Temperature".to_string(), ValueType::Long, 1),
        ("Temperature".to_string(), ValueType::String, 1),
    ];
    expected.sort();
    assert_eq!(schema, expected);
    assert_eq!(
        events_view(&store.events(&EventsQuery::new("dls")).expect("events")),
        vec![
            (
                utc(2026, 1, 1, 0, 0, 1, 0),
                values(&[("Temperature", Value::Double(20.5))])
            ),
            (utc(2026, 1, 1, 0, 0, 2, 0), values(&[("Temperature", Value::Long(21))])),
            (utc(2026, 1, 1, 0, 0, 3, 0), values(&[("Temperature", s("warm"))])),
        ]
    );
    let at2 = store.state_at("dls", utc(2026, 1, 1, 0, 0, 2, 500)).expect("state");
    assert_eq!(at2.get("Temperature"), Some(&Value::Long(21)));
    assert_eq!(
        store.latest("dls").expect("latest").get("Temperature"),
        Some(&s("warm"))
    );
}
