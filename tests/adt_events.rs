//! Azure Digital Twins change notifications are flattened exactly as documented.
//!
//! The guarantee: every accepted envelope form (CloudEvents, Event Grid, a JSON array of
//! events on one line, and an AMQP body plus its `cloudEvents:*` properties) turns one
//! Twin.Update patch into one record of its subject twin at the event's time (kept to the
//! nanosecond), with `add`/`replace` values under the dotted path (`~1` -> `/`, `~0` -> `~`,
//! object values flattened further, arrays kept as Dynamic JSON text), `remove` as a
//! `Value::Removed` marker that hides the property from later states, later operations on one
//! path winning, other event types skipped and counted, and model ids kept. Every expected
//! value below is written by hand from the fixture's text and its README.

mod common;

use common::{dynamic, events_view, reopen, s, state_view, temp_store, utc, values};
use twinstore::{Clock, Error, EventsQuery, IngestOptions, InputFormat, Options, Store, Timestamp, Value, ValueType};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/adt-twin-updates.ndjson");

const UPDATE: &str = "Microsoft.DigitalTwins.Twin.Update";

fn fixture() -> Vec<u8> {
    std::fs::read(FIXTURE).expect("read the ADT fixture")
}

/// 2026-01-01 at `h:mi:s` plus `nanos`, UTC.
fn jan1(h: i64, mi: i64, s: i64, nanos: i64) -> Timestamp {
    utc(2026, 1, 1, h, mi, s, nanos)
}

/// Checks everything the fixture's README and text say about the flattened result.
fn check_fixture_contents(store: &Store) {
    // thermostat67: line 1 (seven fractional digits kept) and line 2 (a Long and a String).
    let thermostat = store.events(&EventsQuery::new("thermostat67")).expect("events");
    assert_eq!(
        events_view(&thermostat),
        vec![
            (
                jan1(8, 0, 0, 123_456_700),
                values(&[("Temperature", Value::Double(20.5))])
            ),
            (
                jan1(8, 1, 0, 500_000_000),
                values(&[("Temperature", Value::Long(21)), ("Mode", s("Heat"))])
            ),
        ]
    );
    assert_eq!(thermostat[0].ts.as_nanos(), 1_767_254_400_123_456_700);

    // floor4: a component path and a remove in one patch.
    let floor4 = store.events(&EventsQuery::new("floor4")).expect("events");
    assert_eq!(
        events_view(&floor4),
        vec![(
            jan1(8, 1, 30, 0),
            values(&[
                ("Temperature", Value::Long(40)),
                ("comp1.prop1", Value::Long(30)),
                ("comp1.prop2", Value::Removed),
            ])
        )]
    );
    let latest = state_view(&store.latest("floor4").expect("latest"));
    assert_eq!(
        latest.into_iter().collect::<Vec<_>>(),
        vec![
            ("Temperature".to_string(), (Value::Long(40), jan1(8, 1, 30, 0))),
            ("comp1.prop1".to_string(), (Value::Long(30), jan1(8, 1, 30, 0))),
        ],
        "the removed comp1.prop2 is not a value"
    );

    // room-12: object value flattened, array Dynamic, escapes, then a remove.
    let room = store.events(&EventsQuery::new("room-12")).expect("events");
    assert_eq!(
        events_view(&room),
        vec![
            (
                jan1(8, 2, 0, 0),
                values(&[
                    ("Front.Temperature", Value::Double(19.25)),
                    ("Front.Humidity", Value::Long(41)),
                    ("Occupied", Value::Bool(true)),
                    ("Zones", dynamic("[1,2,3]")),
                ])
            ),
            (
                jan1(8, 3, 0, 0),
                values(&[("Sensors/CO2", Value::Long(415)), ("Label~Name", s("a~b"))])
            ),
            (jan1(8, 4, 0, 0), values(&[("Occupied", Value::Removed)])),
        ]
    );
    let occupied = store
        .events(&EventsQuery::new("room-12").properties(["Occupied"]))
        .expect("events");
    assert_eq!(
        events_view(&occupied),
        vec![
            (jan1(8, 2, 0, 0), values(&[("Occupied", Value::Bool(true))])),
            (jan1(8, 4, 0, 0), values(&[("Occupied", Value::Removed)])),
        ]
    );
    let room_latest = |state: &twinstore::TwinState| {
        state_view(state)
            .into_iter()
            .map(|(k, (v, _))| (k, v))
            .collect::<Vec<_>>()
    };
    let without_occupied = vec![
        ("Front.Humidity".to_string(), Value::Long(41)),
        ("Front.Temperature".to_string(), Value::Double(19.25)),
        ("Label~Name".to_string(), s("a~b")),
        ("Sensors/CO2".to_string(), Value::Long(415)),
        ("Zones".to_string(), dynamic("[1,2,3]")),
    ];
    let mut with_occupied = without_occupied.clone();
    with_occupied.push(("Occupied".to_string(), Value::Bool(true)));
    with_occupied.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(room_latest(&store.latest("room-12").expect("latest")), without_occupied);
    assert_eq!(
        room_latest(&store.state_at("room-12", jan1(8, 3, 0, 0)).expect("state")),
        with_occupied,
        "before the remove the twin is occupied"
    );
    assert_eq!(
        room_latest(&store.state_at("room-12", jan1(8, 3, 59, 999_999_999)).expect("state")),
        with_occupied
    );
    assert_eq!(
        room_latest(&store.state_at("room-12", jan1(8, 4, 0, 0)).expect("state")),
        without_occupied,
        "the remove applies at its own instant"
    );
    let early = state_view(&store.state_at("room-12", jan1(8, 2, 59, 0)).expect("state"));
    assert_eq!(
        early.keys().cloned().collect::<Vec<_>>(),
        ["Front.Humidity", "Front.Temperature", "Occupied", "Zones"]
    );
    assert!(
        store
            .state_at("room-12", jan1(8, 1, 59, 999_999_999))
            .expect("state")
            .properties
            .is_empty(),
        "nothing before the first update"
    );

    // Twin.Create for room-13 wrote no record: the twin has no data.
    assert!(matches!(store.twin_info("room-13"), Err(Error::UnknownTwin(t)) if t == "room-13"));
    assert!(matches!(
        store.events(&EventsQuery::new("room-13")),
        Err(Error::UnknownTwin(_))
    ));

    // Twins in order of first appearance, with their model ids.
    let twins: Vec<(String, Option<String>, u64, u64)> = store
        .twins()
        .expect("twins")
        .into_iter()
        .map(|t| (t.id, t.model, t.records, t.points))
        .collect();
    let model = |m: &str| Some(m.to_string());
    assert_eq!(
        twins,
        vec![
            (
                "thermostat67".into(),
                model("dtmi:contosocom:DigitalTwins:Thermostat;1"),
                2,
                3
            ),
            ("floor4".into(), model("dtmi:example:com:floor4;2"), 1, 3),
            ("room-12".into(), model("dtmi:contosocom:DigitalTwins:Room;1"), 3, 7),
        ]
    );
    let info = store.twin_info("thermostat67").expect("twin info");
    assert_eq!(
        info.time_range,
        Some((jan1(8, 0, 0, 123_456_700), jan1(8, 1, 0, 500_000_000)))
    );

    // Schema: one column per (name, type); removal markers are not a column type users see.
    let schema: Vec<(String, ValueType, u64)> = store
        .schema("room-12")
        .expect("schema")
        .into_iter()
        .map(|p| (p.name.to_string(), p.value_type, p.count))
        .collect();
    let mut expected = vec![
        ("Front.Humidity".to_string(), ValueType::Long, 1),
        ("Front.Temperature".to_string(), ValueType::Double, 1),
        ("Label~Name".to_string(), ValueType::String, 1),
        ("Occupied".to_string(), ValueType::Bool, 1),
        ("Sensors/CO2".to_string(), ValueType::Long, 1),
        ("Zones".to_string(), ValueType::Dynamic, 1),
    ];
    let mut got = schema;
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
}

#[test]
fn fixture_flattens_as_documented_and_survives_reopen() {
    let (dir, store) = temp_store(Options::default());
    let report = store.ingest_adt(&fixture()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.records, 6, "six Twin.Update events");
    assert_eq!(report.points, 1 + 2 + 3 + 4 + 2 + 1);
    assert_eq!((report.skipped, report.model_events), (0, 1), "the Twin.Create event");
    check_fixture_contents(&store);
    let stats = store.stats();
    assert_eq!((stats.twins, stats.records, stats.points), (3, 6, 13));

    drop(store);
    let store = reopen(dir.path(), Options::default());
    check_fixture_contents(&store);
}

#[test]
fn fixture_through_generic_ingest_matches_and_strict_still_skips_other_types() {
    // A Twin.Create is a model event, not a rejection: strict mode accepts the file.
    let (_dir, store) = temp_store(Options::default().strict(true));
    let opts = IngestOptions {
        format: InputFormat::Adt,
        strict: Some(true),
        first_line: 1,
    };
    let report = store.ingest(&fixture(), &opts).expect("strict ingest of the fixture");
    assert_eq!((report.records, report.skipped, report.model_events), (6, 0, 1));
    check_fixture_contents(&store);
}

#[test]
fn fixture_line_by_line_gives_the_same_result() {
    let (_dir, store) = temp_store(Options::default());
    let text = fixture();
    let mut skipped = 0;
    let mut model_events = 0;
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let opts = IngestOptions {
            format: InputFormat::Adt,
            strict: None,
            first_line: i as u64 + 1,
        };
        let report = store.ingest(line, &opts).expect("ingest one line");
        assert!(report.rejected.is_empty(), "line {}: {:?}", i + 1, report.rejected);
        skipped += report.skipped;
        model_events += report.model_events;
    }
    assert_eq!((skipped, model_events), (0, 1), "the Twin.Create is a model event");
    check_fixture_contents(&store);
}

#[test]
fn event_grid_envelope_is_accepted() {
    let (_dir, store) = temp_store(Options::default());
    let line = r#"{"id":"eg-1","topic":"/subscriptions/x/resourceGroups/y/providers/Microsoft.DigitalTwins/digitalTwinsInstances/z","subject":"boiler-1","eventType":"Microsoft.DigitalTwins.Twin.Update","eventTime":"2026-02-03T04:05:06.7654321Z","dataVersion":"1.0","metadataVersion":"1","data":{"modelId":"dtmi:example:Boiler;3","patch":[{"op":"replace","path":"/Pressure","value":2.25},{"op":"add","path":"/Burner/State","value":"on"}]}}"#;
    let report = store.ingest_adt(line.as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!((report.records, report.points, report.skipped), (1, 2, 0));
    let at = utc(2026, 2, 3, 4, 5, 6, 765_432_100);
    assert_eq!(
        events_view(&store.events(&EventsQuery::new("boiler-1")).expect("events")),
        vec![(
            at,
            values(&[("Pressure", Value::Double(2.25)), ("Burner.State", s("on"))])
        )]
    );
    assert_eq!(
        store.twin_info("boiler-1").expect("info").model.as_deref(),
        Some("dtmi:example:Boiler;3")
    );

    // An Event Grid event of another type is skipped and counted.
    let other = r#"{"id":"eg-2","subject":"boiler-1","eventType":"Microsoft.DigitalTwins.Twin.Telemetry","eventTime":"2026-02-03T05:00:00Z","data":{"Flow":1}}"#;
    let report = store.ingest_adt(other.as_bytes()).expect("ingest");
    assert_eq!((report.records, report.skipped, report.rejected.len()), (0, 1, 0));
    // A relationship event without its target is rejected, naming the field (its source
    // comes from the subject, as ADT's examples leave $sourceId out).
    let broken = r#"{"id":"eg-3","subject":"boiler-1/relationships/r1","eventType":"Microsoft.DigitalTwins.Relationship.Create","eventTime":"2026-02-03T05:00:00Z","data":{"$relationshipId":"r1"}}"#;
    let report = store.ingest_adt(broken.as_bytes()).expect("ingest");
    assert_eq!(report.model_events, 0);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].field.as_deref(), Some("data.$targetId"));
    // Without a source in the body or the subject, the source is named.
    let sourceless = broken.replace("boiler-1/relationships/r1", "boiler-1");
    let report = store.ingest_adt(sourceless.as_bytes()).expect("ingest");
    assert_eq!(report.rejected[0].field.as_deref(), Some("data.$sourceId"));
    assert_eq!(store.events(&EventsQuery::new("boiler-1")).expect("events").len(), 1);
}

#[test]
fn a_json_array_of_events_on_one_line_is_accepted() {
    let (_dir, store) = temp_store(Options::default());
    let event = |subject: &str, time: &str, kind: &str, patch: &str| {
        format!(
            r#"{{"specversion":"1.0","id":"{subject}-{time}","source":"x.api.weu.digitaltwins.azure.net","type":"{kind}","subject":"{subject}","time":"{time}","data":{{"modelId":"dtmi:example:Fan;1","patch":{patch}}}}}"#
        )
    };
    let array = format!(
        "[{},{},{}]",
        event(
            "fan-1",
            "2026-03-01T10:00:00Z",
            UPDATE,
            r#"[{"op":"replace","path":"/Speed","value":1200}]"#
        ),
        event(
            "fan-2",
            "2026-03-01T10:00:01Z",
            "Microsoft.DigitalTwins.Twin.Delete",
            "[]"
        ),
        event(
            "fan-1",
            "2026-03-01T10:00:02Z",
            UPDATE,
            r#"[{"op":"replace","path":"/Speed","value":1300.5}]"#
        ),
    );
    // A plain event on the next line, so line numbering after an array line is visible too.
    let input = format!(
        "{array}\n{}\n",
        event(
            "fan-3",
            "2026-03-01T10:00:03Z",
            UPDATE,
            r#"[{"op":"add","path":"/On","value":false}]"#
        )
    );
    let report = store.ingest_adt(input.as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    // The Twin.Delete in the array is a model event, not a record.
    assert_eq!(
        (report.records, report.points, report.skipped, report.model_events),
        (3, 3, 0, 1)
    );
    assert_eq!(
        events_view(&store.events(&EventsQuery::new("fan-1")).expect("events")),
        vec![
            (utc(2026, 3, 1, 10, 0, 0, 0), values(&[("Speed", Value::Long(1200))])),
            (
                utc(2026, 3, 1, 10, 0, 2, 0),
                values(&[("Speed", Value::Double(1300.5))])
            ),
        ]
    );
    assert!(matches!(
        store.events(&EventsQuery::new("fan-2")),
        Err(Error::UnknownTwin(_))
    ));
    assert_eq!(
        events_view(&store.events(&EventsQuery::new("fan-3")).expect("events")),
        vec![(utc(2026, 3, 1, 10, 0, 3, 0), values(&[("On", Value::Bool(false))]))]
    );

    // A bad element of an array is named by the array's line; its neighbours are kept.
    let mixed = format!(
        "{}\n[{},{{\"type\":\"{UPDATE}\",\"time\":\"2026-03-01T11:00:00Z\",\"data\":{{\"patch\":[]}}}}]\n",
        event(
            "fan-4",
            "2026-03-01T11:00:00Z",
            UPDATE,
            r#"[{"op":"add","path":"/On","value":true}]"#
        ),
        event(
            "fan-5",
            "2026-03-01T11:00:01Z",
            UPDATE,
            r#"[{"op":"add","path":"/On","value":true}]"#
        ),
    );
    let report = store.ingest_adt(mixed.as_bytes()).expect("ingest");
    assert_eq!(report.records, 2);
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
    assert_eq!(report.rejected[0].line, 2);
    assert_eq!(report.rejected[0].field.as_deref(), Some("subject"));
    assert!(report.rejected[0].reason.contains("subject"), "{}", report.rejected[0]);
}

#[test]
fn amqp_body_with_cloud_events_properties() {
    let (_dir, store) = temp_store(Options::default());
    let body = br#"{"modelId":"dtmi:example:Pump;2","patch":[{"op":"replace","path":"/Flow","value":12.5},{"op":"add","path":"/Valve~1A","value":"open"}]}"#;
    let props = [
        ("cloudEvents:id", "m-1"),
        ("cloudEvents:source", "x.api.weu.digitaltwins.azure.net"),
        ("cloudEvents:specversion", "1.0"),
        ("cloudEvents:type", UPDATE),
        ("cloudEvents:subject", "pump-7"),
        ("cloudEvents:time", "2026-04-05T06:07:08.0000001Z"),
    ];
    let report = store.ingest_adt_message(body, &props, None).expect("ingest message");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!((report.records, report.points, report.skipped), (1, 2, 0));
    let first = utc(2026, 4, 5, 6, 7, 8, 100);
    assert_eq!(
        events_view(&store.events(&EventsQuery::new("pump-7")).expect("events")),
        vec![(first, values(&[("Flow", Value::Double(12.5)), ("Valve/A", s("open"))]))]
    );
    assert_eq!(
        store.twin_info("pump-7").expect("info").model.as_deref(),
        Some("dtmi:example:Pump;2")
    );

    // A caller-supplied time overrides cloudEvents:time.
    let body2 = br#"{"modelId":"dtmi:example:Pump;2","patch":[{"op":"replace","path":"/Flow","value":13}]}"#;
    let override_at = utc(2026, 4, 5, 7, 0, 0, 0);
    let report = store
        .ingest_adt_message(body2, &props, Some(override_at))
        .expect("ingest message");
    assert_eq!(report.records, 1);
    let flows = store
        .events(&EventsQuery::new("pump-7").properties(["Flow"]))
        .expect("events");
    assert_eq!(
        events_view(&flows),
        vec![
            (first, values(&[("Flow", Value::Double(12.5))])),
            (override_at, values(&[("Flow", Value::Long(13))])),
        ]
    );

    // A lifecycle message writes no record: it goes to the Time Series Model.
    let lifecycle = [
        ("cloudEvents:type", "Microsoft.DigitalTwins.Twin.Delete"),
        ("cloudEvents:subject", "pump-7"),
        ("cloudEvents:time", "2026-04-05T08:00:00Z"),
    ];
    let report = store
        .ingest_adt_message(br#"{"$dtId":"pump-7"}"#, &lifecycle, None)
        .expect("ingest");
    assert_eq!(
        (
            report.records,
            report.skipped,
            report.model_events,
            report.rejected.len()
        ),
        (0, 0, 1, 0)
    );
    assert!(store.is_deleted("pump-7"));

    // A message without a subject is rejected, naming the missing property.
    let no_subject = [
        ("cloudEvents:type", UPDATE),
        ("cloudEvents:time", "2026-04-05T08:00:00Z"),
    ];
    let report = store.ingest_adt_message(body, &no_subject, None).expect("ingest");
    assert_eq!(report.records, 0);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].field.as_deref(), Some("cloudEvents:subject"));

    // A bad time property is rejected, naming it.
    let bad_time = [
        ("cloudEvents:type", UPDATE),
        ("cloudEvents:subject", "pump-7"),
        ("cloudEvents:time", "half past nine"),
    ];
    let report = store.ingest_adt_message(body, &bad_time, None).expect("ingest");
    assert_eq!(report.records, 0);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].field.as_deref(), Some("cloudEvents:time"));
    assert_eq!(report.rejected[0].twin.as_deref(), Some("pump-7"));

    assert_eq!(store.events(&EventsQuery::new("pump-7")).expect("events").len(), 2);
}

#[test]
fn amqp_message_without_time_uses_the_store_clock() {
    let now = utc(2026, 5, 1, 0, 0, 0, 42);
    let (_dir, store) = temp_store(Options::default().clock(Clock::fixed(now)));
    let body = br#"{"modelId":"dtmi:example:Pump;2","patch":[{"op":"replace","path":"/Flow","value":1}]}"#;
    let props = [("cloudEvents:type", UPDATE), ("cloudEvents:subject", "pump-8")];
    let report = store.ingest_adt_message(body, &props, None).expect("ingest");
    assert_eq!(report.records, 1);
    let events = store.events(&EventsQuery::new("pump-8")).expect("events");
    assert_eq!(events_view(&events), vec![(now, values(&[("Flow", Value::Long(1))]))]);

    // The same for a CloudEvents envelope without `time`.
    let line = format!(
        r#"{{"specversion":"1.0","id":"x","source":"s","type":"{UPDATE}","subject":"pump-9","data":{{"patch":[{{"op":"add","path":"/Flow","value":2}}]}}}}"#
    );
    store.ingest_adt(line.as_bytes()).expect("ingest");
    let events = store.events(&EventsQuery::new("pump-9")).expect("events");
    assert_eq!(events_view(&events), vec![(now, values(&[("Flow", Value::Long(2))]))]);
    assert_eq!(store.twin_info("pump-9").expect("info").model, None);
}

fn cloud_event(subject: &str, time: &str, patch: &str) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"1","source":"s","type":"{UPDATE}","subject":"{subject}","time":"{time}","data":{{"modelId":"dtmi:example:T;1","patch":{patch}}}}}"#
    )
}

#[test]
fn a_later_operation_on_the_same_path_wins() {
    let (_dir, store) = temp_store(Options::default());
    let t0 = "2026-06-01T00:00:00Z";
    let lines = [
        // add then replace: the replace's value.
        cloud_event(
            "twice",
            t0,
            r#"[{"op":"add","path":"/Mode","value":"Cool"},{"op":"replace","path":"/Mode","value":"Heat"}]"#,
        ),
        // add then remove: a removal.
        cloud_event(
            "add-remove",
            t0,
            r#"[{"op":"add","path":"/Mode","value":"Cool"},{"op":"remove","path":"/Mode"}]"#,
        ),
        // remove then add: the value.
        cloud_event(
            "remove-add",
            t0,
            r#"[{"op":"remove","path":"/Mode"},{"op":"add","path":"/Mode","value":7}]"#,
        ),
        // an object value, then one of its members replaced: the later member value wins.
        cloud_event(
            "object-then-member",
            t0,
            r#"[{"op":"add","path":"/Front","value":{"Temperature":1,"Humidity":2}},{"op":"replace","path":"/Front/Temperature","value":3.5}]"#,
        ),
        // a member, then the whole object: the object's value wins for that member.
        cloud_event(
            "member-then-object",
            t0,
            r#"[{"op":"replace","path":"/Front/Temperature","value":3.5},{"op":"add","path":"/Front","value":{"Temperature":1}}]"#,
        ),
        // ops that are not kept (move, copy, test) are ignored.
        cloud_event(
            "ignored-ops",
            t0,
            r#"[{"op":"test","path":"/Mode","value":"x"},{"op":"copy","from":"/A","path":"/B"},{"op":"move","from":"/C","path":"/D"},{"op":"replace","path":"/Mode","value":"Auto"}]"#,
        ),
        // a patch whose only operations are ignored gives no record and is counted as skipped.
        cloud_event("only-ignored", t0, r#"[{"op":"test","path":"/Mode","value":"x"}]"#),
    ];
    let report = store.ingest_adt(lines.join("\n").as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!((report.records, report.skipped, report.model_events), (6, 1, 0));
    let at = utc(2026, 6, 1, 0, 0, 0, 0);
    let one = |twin: &str| {
        let events = store.events(&EventsQuery::new(twin)).expect("events");
        assert_eq!(events.len(), 1, "{twin}: {events:?}");
        events_view(&events).remove(0)
    };
    assert_eq!(one("twice"), (at, values(&[("Mode", s("Heat"))])));
    assert_eq!(one("add-remove"), (at, values(&[("Mode", Value::Removed)])));
    assert!(store.latest("add-remove").expect("latest").properties.is_empty());
    assert_eq!(one("remove-add"), (at, values(&[("Mode", Value::Long(7))])));
    assert_eq!(
        one("object-then-member"),
        (
            at,
            values(&[
                ("Front.Temperature", Value::Double(3.5)),
                ("Front.Humidity", Value::Long(2))
            ])
        )
    );
    assert_eq!(
        one("member-then-object"),
        (at, values(&[("Front.Temperature", Value::Long(1))]))
    );
    assert_eq!(one("ignored-ops"), (at, values(&[("Mode", s("Auto"))])));
    assert!(matches!(
        store.events(&EventsQuery::new("only-ignored")),
        Err(Error::UnknownTwin(_))
    ));
}

#[test]
fn an_object_value_is_flattened_further() {
    let (_dir, store) = temp_store(Options::default());
    let line = cloud_event(
        "obj",
        "2026-06-02T00:00:00Z",
        r#"[{"op":"add","path":"/Front","value":{"Temperature":21.5,"Inner":{"Deep":true,"Deeper":{"Leaf":"x"}},"List":[1,"a",{"k":null}],"Seen":"2026-06-01T12:30:00+02:00","Gone":null,"Empty":{}}}]"#,
    );
    let report = store.ingest_adt(line.as_bytes()).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let events = store.events(&EventsQuery::new("obj")).expect("events");
    assert_eq!(
        events_view(&events),
        vec![(
            utc(2026, 6, 2, 0, 0, 0, 0),
            values(&[
                ("Front.Temperature", Value::Double(21.5)),
                ("Front.Inner.Deep", Value::Bool(true)),
                ("Front.Inner.Deeper.Leaf", s("x")),
                ("Front.List", dynamic(r#"[1,"a",{"k":null}]"#)),
                // An ISO 8601 string is a DateTime, its offset applied.
                ("Front.Seen", Value::DateTime(utc(2026, 6, 1, 10, 30, 0, 0))),
                // null inside an added object is a removal, as in flat records.
                ("Front.Gone", Value::Removed),
            ])
        )]
    );
    // The flattened names are ordinary properties: projections and states see them.
    let projected = store
        .events(&EventsQuery::new("obj").properties(["Front.Inner.Deep"]))
        .expect("events");
    assert_eq!(projected.len(), 1);
    assert_eq!(
        events_view(&projected)[0].1,
        values(&[("Front.Inner.Deep", Value::Bool(true))])
    );
    let state = state_view(&store.latest("obj").expect("latest"));
    assert_eq!(state.get("Front.Temperature").map(|v| &v.0), Some(&Value::Double(21.5)));
    assert!(!state.contains_key("Front.Gone"));
    assert!(!state.contains_key("Front"), "the object itself is not a property");
}

#[test]
fn date_like_strings_stay_strings_when_inference_is_off() {
    let options = Options {
        infer_datetime: false,
        ..Options::default()
    };
    let (_dir, store) = temp_store(options);
    let line = cloud_event(
        "dates",
        "2026-06-03T00:00:00Z",
        r#"[{"op":"add","path":"/Seen","value":"2026-06-01T12:30:00Z"}]"#,
    );
    store.ingest_adt(line.as_bytes()).expect("ingest");
    let state = store.latest("dates").expect("latest");
    assert_eq!(state.get("Seen"), Some(&s("2026-06-01T12:30:00Z")));
}

#[test]
fn malformed_events_are_rejected_with_line_and_field() {
    let (_dir, store) = temp_store(Options::default());
    let good = cloud_event("ok", "2026-07-01T00:00:00Z", r#"[{"op":"add","path":"/A","value":1}]"#);
    let cases: Vec<(String, Option<&str>, Option<&str>)> = vec![
        // not JSON
        ("{\"type\":".into(), None, None),
        // not an object
        ("42".into(), None, None),
        // no subject
        (
            format!(r#"{{"type":"{UPDATE}","time":"2026-07-01T00:00:00Z","data":{{"patch":[]}}}}"#),
            None,
            Some("subject"),
        ),
        // bad time
        (
            cloud_event("bad-time", "not a time", r#"[{"op":"add","path":"/A","value":1}]"#),
            Some("bad-time"),
            Some("time"),
        ),
        // no patch
        (
            format!(r#"{{"type":"{UPDATE}","subject":"no-patch","time":"2026-07-01T00:00:00Z","data":{{}}}}"#),
            Some("no-patch"),
            Some("patch"),
        ),
        // a path that is not a JSON Pointer
        (
            cloud_event(
                "bad-path",
                "2026-07-01T00:00:00Z",
                r#"[{"op":"add","path":"A","value":1}]"#,
            ),
            Some("bad-path"),
            Some("patch[0].path"),
        ),
        // an invalid ~ escape
        (
            cloud_event(
                "bad-escape",
                "2026-07-01T00:00:00Z",
                r#"[{"op":"add","path":"/A~2","value":1}]"#,
            ),
            Some("bad-escape"),
            Some("patch[0].path"),
        ),
        // an add without a value
        (
            cloud_event("no-value", "2026-07-01T00:00:00Z", r#"[{"op":"add","path":"/A"}]"#),
            Some("no-value"),
            Some("patch[0].value"),
        ),
        // an integer beyond the Long range
        (
            cloud_event(
                "huge",
                "2026-07-01T00:00:00Z",
                r#"[{"op":"add","path":"/A","value":9223372036854775808}]"#,
            ),
            Some("huge"),
            Some("A"),
        ),
    ];
    let mut input = String::new();
    for (bad, _, _) in &cases {
        input.push_str(&good);
        input.push('\n');
        input.push_str(bad);
        input.push('\n');
    }
    let report = store.ingest_adt(input.as_bytes()).expect("ingest");
    assert_eq!(report.records, cases.len() as u64, "every good line kept");
    assert_eq!(report.rejected.len(), cases.len(), "{:#?}", report.rejected);
    for (i, ((bad, twin, field), error)) in cases.iter().zip(&report.rejected).enumerate() {
        assert_eq!(error.line, 2 * i as u64 + 2, "{bad}: {error}");
        assert_eq!(error.twin.as_deref(), *twin, "{bad}: {error}");
        assert_eq!(error.field.as_deref(), *field, "{bad}: {error}");
        assert!(!error.reason.is_empty());
    }
    // Strict: the same input is refused as a whole.
    let strict = IngestOptions {
        format: InputFormat::Adt,
        strict: Some(true),
        first_line: 1,
    };
    let before = store.events(&EventsQuery::new("ok")).expect("events").len();
    match store.ingest(input.as_bytes(), &strict) {
        Err(Error::BatchRejected { errors }) => assert_eq!(errors.len(), cases.len()),
        other => panic!("expected BatchRejected, got {other:?}"),
    }
    assert_eq!(store.events(&EventsQuery::new("ok")).expect("events").len(), before);
}

#[test]
fn model_ids_follow_the_latest_event_and_set_model() {
    let (dir, store) = temp_store(Options::default());
    // A twin known only through set_model exists, with no events.
    store.set_model("hall", "dtmi:example:Hall;1").expect("set model");
    let info = store.twin_info("hall").expect("info");
    assert_eq!(
        (info.model.as_deref(), info.records, info.time_range),
        (Some("dtmi:example:Hall;1"), 0, None)
    );
    assert!(store.events(&EventsQuery::new("hall")).expect("events").is_empty());
    assert!(store.latest("hall").expect("latest").properties.is_empty());

    // An event with another model id replaces it; the last event of a call wins.
    let event = |time: &str, model: &str| {
        format!(
            r#"{{"type":"{UPDATE}","subject":"hall","time":"{time}","data":{{"modelId":"{model}","patch":[{{"op":"add","path":"/Lights","value":true}}]}}}}"#
        )
    };
    let input = [
        event("2026-08-01T00:00:00Z", "dtmi:example:Hall;2"),
        event("2026-08-01T00:01:00Z", "dtmi:example:Hall;3"),
    ]
    .join("\n");
    store.ingest_adt(input.as_bytes()).expect("ingest");
    assert_eq!(
        store.twin_info("hall").expect("info").model.as_deref(),
        Some("dtmi:example:Hall;3")
    );
    // A twin first seen in an event gets that event's model; set_model overrides it.
    store
        .ingest_adt(
            cloud_event(
                "lobby",
                "2026-08-01T00:00:00Z",
                r#"[{"op":"add","path":"/Lights","value":false}]"#,
            )
            .as_bytes(),
        )
        .expect("ingest");
    assert_eq!(
        store.twin_info("lobby").expect("info").model.as_deref(),
        Some("dtmi:example:T;1")
    );
    store.set_model("lobby", "dtmi:example:Lobby;9").expect("set model");
    // An empty twin id is refused.
    assert!(matches!(store.set_model("", "dtmi:x;1"), Err(Error::InvalidRecord(_))));

    let check = |store: &Store| {
        let models: Vec<(String, Option<String>)> = store
            .twins()
            .expect("twins")
            .into_iter()
            .map(|t| (t.id, t.model))
            .collect();
        assert_eq!(
            models,
            vec![
                ("hall".to_string(), Some("dtmi:example:Hall;3".to_string())),
                ("lobby".to_string(), Some("dtmi:example:Lobby;9".to_string())),
            ]
        );
        assert_eq!(store.events(&EventsQuery::new("hall")).expect("events").len(), 2);
    };
    check(&store);
    drop(store);
    check(&reopen(dir.path(), Options::default()));
}

#[test]
fn nesting_limit_applies_to_object_values() {
    let (_dir, store) = temp_store(Options::default());
    // `/A` plus nine nested keys: ten levels, allowed; plus ten nested keys: rejected.
    let value = |levels: usize| format!("{}1{}", r#"{"k":"#.repeat(levels), "}".repeat(levels));
    let lines = [
        cloud_event(
            "nest",
            "2026-09-01T00:00:00Z",
            &format!(r#"[{{"op":"add","path":"/A","value":{}}}]"#, value(9)),
        ),
        cloud_event(
            "nest",
            "2026-09-01T00:00:01Z",
            &format!(r#"[{{"op":"add","path":"/B","value":{}}}]"#, value(10)),
        ),
    ];
    let report = store.ingest_adt(lines.join("\n").as_bytes()).expect("ingest");
    assert_eq!(report.records, 1);
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
    let error = &report.rejected[0];
    assert_eq!((error.line, error.twin.as_deref()), (2, Some("nest")));
    assert!(error.field.as_deref().is_some_and(|f| f.starts_with("B.k")), "{error}");
    let name = format!("A{}", ".k".repeat(9));
    assert_eq!(store.latest("nest").expect("latest").get(&name), Some(&Value::Long(1)));
}
