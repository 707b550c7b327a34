//! The Time Series Model derived from a realistic ADT event stream: a building with two
//! floors, three rooms and three thermostats, created, related, updated, one thermostat moved
//! to another room, one deleted. The derived types, the "ADT" hierarchy, the instances and a
//! hierarchy-path fleet aggregate are checked against expectations written out by hand, and
//! again after a reopen.

use std::collections::BTreeMap;
use std::time::Duration;

use twinstore::tsm::{ADT_HIERARCHY_ID, Derivation, Instance, TimeSeriesType, adt_level_field};
use twinstore::{AggregateSeriesQuery, Options, Store, Timestamp, TwinSelector, Value, Variable};

const THERMOSTAT: &str = "dtmi:example:Thermostat;1";
const ROOM: &str = "dtmi:example:Room;1";

fn envelope(kind: &str, subject: &str, minute: u32, data: &str) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"{subject}-{minute}-{kind}","source":"site.api.weu.digitaltwins.azure.net","type":"Microsoft.DigitalTwins.{kind}","subject":"{subject}","time":"2026-03-01T10:{minute:02}:00Z","data":{data}}}"#
    )
}

fn create(twin: &str, model: &str, minute: u32) -> String {
    envelope(
        "Twin.Create",
        twin,
        minute,
        &format!(r#"{{"$dtId":"{twin}","$metadata":{{"$model":"{model}"}}}}"#),
    )
}

fn relate(kind: &str, id: &str, source: &str, name: &str, target: &str, minute: u32) -> String {
    envelope(
        &format!("Relationship.{kind}"),
        &format!("{source}/relationships/{id}"),
        minute,
        &format!(
            r#"{{"$relationshipId":"{id}","$sourceId":"{source}","$relationshipName":"{name}","$targetId":"{target}"}}"#
        ),
    )
}

fn update(twin: &str, model: &str, minute: u32, patch: &str) -> String {
    envelope(
        "Twin.Update",
        twin,
        minute,
        &format!(r#"{{"modelId":"{model}","patch":{patch}}}"#),
    )
}

/// Minute 0-9: the building, floors, rooms and thermostats are created and related;
/// minutes 10-13: thermostats report; minute 20: t2 moves from room A to room B; minute 30:
/// t3 is deleted (its relationship first, as ADT requires).
///
/// Readings (Temperature, Double; Mode, String; Heating, Bool):
/// - t1 in room A (floor 1): 20.0 at 10, 22.0 at 11
/// - t2 in room A, then room B (floor 2): 18.0 at 12, 19.0 at 21
/// - t3 in room C (floor 2): 30.0 at 13, with Mode "eco" and Heating true
fn events() -> String {
    let mut e = vec![
        create("building", "dtmi:example:Building;1", 0),
        create("floor1", "dtmi:example:Floor;1", 0),
        create("floor2", "dtmi:example:Floor;1", 0),
        create("roomA", ROOM, 1),
        create("roomB", ROOM, 1),
        create("roomC", ROOM, 1),
        create("t1", THERMOSTAT, 2),
        create("t2", THERMOSTAT, 2),
        create("t3", THERMOSTAT, 2),
        relate("Create", "b-f1", "building", "contains", "floor1", 3),
        relate("Create", "b-f2", "building", "contains", "floor2", 3),
        relate("Create", "f1-a", "floor1", "contains", "roomA", 4),
        relate("Create", "f2-b", "floor2", "contains", "roomB", 4),
        // A room may say where it is the other way round.
        relate("Create", "c-in", "roomC", "isPartOf", "floor2", 4),
        relate("Create", "t1-in", "t1", "locatedIn", "roomA", 5),
        relate("Create", "t2-in", "t2", "locatedIn", "roomA", 5),
        relate("Create", "t3-in", "t3", "locatedIn", "roomC", 5),
        // Not containment: ignored by the hierarchy.
        relate("Create", "t1-feeds", "t1", "serves", "roomB", 6),
        update(
            "t1",
            THERMOSTAT,
            10,
            r#"[{"op":"add","path":"/Temperature","value":20.0}]"#,
        ),
        update(
            "t1",
            THERMOSTAT,
            11,
            r#"[{"op":"replace","path":"/Temperature","value":22.0}]"#,
        ),
        update(
            "t2",
            THERMOSTAT,
            12,
            r#"[{"op":"add","path":"/Temperature","value":18.0}]"#,
        ),
        update(
            "t3",
            THERMOSTAT,
            13,
            r#"[{"op":"add","path":"/Temperature","value":30.0},{"op":"add","path":"/Mode","value":"eco"},{"op":"add","path":"/Heating","value":true}]"#,
        ),
        update("roomA", ROOM, 14, r#"[{"op":"add","path":"/Occupied","value":true}]"#),
        // t2 moves: its relationship deleted, a new one made.
        relate("Delete", "t2-in", "t2", "locatedIn", "roomA", 20),
        relate("Create", "t2-in-b", "t2", "locatedIn", "roomB", 20),
        update(
            "t2",
            THERMOSTAT,
            21,
            r#"[{"op":"replace","path":"/Temperature","value":19.0}]"#,
        ),
        relate("Delete", "t3-in", "t3", "locatedIn", "roomC", 30),
        envelope("Twin.Delete", "t3", 30, r#"{"$dtId":"t3"}"#),
    ];
    e.push(String::new());
    e.join("\n")
}

fn path(p: &[&str]) -> BTreeMap<String, Value> {
    p.iter()
        .enumerate()
        .map(|(i, v)| (adt_level_field(i + 1), Value::String((*v).into())))
        .collect()
}

fn check(store: &Store) {
    // Types: one per model id of a twin with data, with the properties its twins reported.
    let thermostat = store.time_series_type(THERMOSTAT).expect("derived Thermostat type");
    let names: Vec<&str> = thermostat.variables.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["EventCount", "Heating", "Mode", "Temperature"]);
    assert_eq!(
        thermostat.variable("Temperature"),
        Some(&Variable::numeric("$event['Temperature'].Double", "avg($value)"))
    );
    assert!(
        matches!(thermostat.variable("Mode"), Some(Variable::Categorical { value, .. }) if value == "$event['Mode'].String")
    );
    let room = store.time_series_type(ROOM).expect("derived Room type");
    assert_eq!(
        room.variables.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["EventCount", "Occupied"]
    );
    // The building and floors have no data: no instance, so no type yet.
    assert_eq!(store.time_series_type("dtmi:example:Floor;1"), None);

    // The hierarchy: building / floor / room above each thermostat.
    let adt = store.hierarchy(ADT_HIERARCHY_ID).expect("ADT hierarchy");
    assert_eq!(adt.name, "ADT");
    assert_eq!(
        adt.instance_field_names,
        [adt_level_field(1), adt_level_field(2), adt_level_field(3)]
    );
    let instance = |twin: &str| store.instance(twin).expect("instance");
    let expected = |twin: &str, model: &str, p: &[&str]| Instance {
        twin: twin.into(),
        type_id: model.into(),
        name: None,
        description: None,
        hierarchy_ids: vec![ADT_HIERARCHY_ID.into()],
        instance_fields: path(p),
    };
    assert_eq!(
        instance("t1"),
        expected("t1", THERMOSTAT, &["building", "floor1", "roomA"])
    );
    assert_eq!(
        instance("t2"),
        expected("t2", THERMOSTAT, &["building", "floor2", "roomB"]),
        "t2 moved to room B"
    );
    assert_eq!(instance("roomA"), expected("roomA", ROOM, &["building", "floor1"]));
    // t3's containment relationship was deleted with it: no path; it is marked deleted, and
    // its history stays.
    let t3 = instance("t3");
    assert!(t3.hierarchy_ids.is_empty() && t3.instance_fields.is_empty(), "{t3:?}");
    assert!(store.is_deleted("t3") && !store.is_deleted("t1"));
    assert_eq!(
        store.events(&twinstore::EventsQuery::new("t3")).expect("history").len(),
        1
    );

    // A fleet aggregate by hierarchy path (an inline variable: rooms' type has no
    // Temperature). Under building / floor2 is t2 only (18, 19): rooms B and C have no data.
    let avg = |p: &[&str]| {
        let q = AggregateSeriesQuery::new(
            TwinSelector::Hierarchy {
                hierarchy: "ADT".into(),
                path: p.iter().map(|s| s.to_string()).collect(),
            },
            Timestamp::parse("2026-03-01T10:00:00Z").expect("time"),
            Timestamp::parse("2026-03-01T11:00:00Z").expect("time"),
            Duration::from_secs(3600),
        )
        .variable("T", Variable::numeric("$event.Temperature.Double", "avg($value)"))
        .merged();
        store.aggregate_series(&q).expect("fleet")[0]
            .frame
            .doubles("T")
            .expect("column")[0]
    };
    assert_eq!(avg(&["building", "floor2"]), Some(18.5));
    // Under floor 1: t1 (20, 22); roomA itself has no Temperature.
    assert_eq!(avg(&["building", "floor1"]), Some(21.0));
    // The whole building: t1 and t2 (t3 is no longer in it): (20 + 22 + 18 + 19) / 4.
    assert_eq!(avg(&["building"]), Some(19.75));
}

#[test]
fn an_adt_event_stream_derives_types_a_hierarchy_and_instances() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
        let report = store.ingest_adt(events().as_bytes()).expect("ingest");
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(report.records, 6, "the Twin.Update events");
        assert_eq!(report.model_events, 22, "9 creates, 12 relationship events, 1 delete");
        check(&store);
    }
    // The first reopen replays the change frames; the second reads the snapshot the first
    // wrote back.
    for _ in 0..2 {
        let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("reopen");
        check(&store);
    }
}

#[test]
fn a_users_edit_of_a_derived_type_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
    store.ingest_adt(events().as_bytes()).expect("ingest");
    let mut edited: TimeSeriesType = store.time_series_type(THERMOSTAT).expect("derived");
    edited.name = "Thermostat".into();
    edited.variables.retain(|(n, _)| n == "Temperature");
    assert!(store.put_time_series_types(vec![edited.clone()]).expect("put")[0].is_ok());
    // New properties reported later do not change the user's type.
    store
        .ingest_adt(
            update(
                "t1",
                THERMOSTAT,
                40,
                r#"[{"op":"add","path":"/Humidity","value":40.5}]"#,
            )
            .as_bytes(),
        )
        .expect("ingest");
    assert_eq!(store.time_series_type(THERMOSTAT), Some(edited));
    let e = store.delete_time_series_types(&[ROOM]).expect("logged");
    assert!(e[0].as_ref().expect_err("derived").message.contains("derived"));
}

#[test]
fn derivation_can_be_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options::default().background_maintenance(false).derivation(Derivation {
        enabled: false,
        ..Derivation::default()
    });
    let store = Store::open(dir.path(), options).expect("open");
    store.ingest_adt(events().as_bytes()).expect("ingest");
    assert_eq!(store.time_series_types().len(), 1, "the default type only");
    assert!(store.hierarchies().is_empty());
    assert_eq!(
        store.instance("t1").map(|i| i.type_id),
        Some(twinstore::tsm::DEFAULT_TYPE_ID.into())
    );
}
