//! The Time Series Model through the typed API: what each call stores and refuses, that
//! every acknowledged change survives a reopen and a power cut, and that a damaged model file
//! is refused with its place named. Expectations are written out by hand.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use twinstore::tsm::{DEFAULT_TYPE_ID, Hierarchy, Instance, TimeSeriesType};
use twinstore::vfs::PowerCutVfs;
use twinstore::{Error, Options, Record, Store, Timestamp, Value, Variable};

fn quiet() -> Options {
    Options::default().background_maintenance(false)
}

fn thermostat_type() -> TimeSeriesType {
    TimeSeriesType {
        id: "t-thermostat".into(),
        name: "Thermostat".into(),
        description: Some("a room thermostat".into()),
        variables: vec![
            (
                "Temperature".into(),
                Variable::numeric("$event.Temperature.Double", "avg($value)"),
            ),
            (
                "Readings".into(),
                Variable::Aggregate {
                    aggregation: "count()".into(),
                    filter: None,
                },
            ),
        ],
    }
}

fn building_hierarchy() -> Hierarchy {
    Hierarchy {
        id: "h-building".into(),
        name: "Location".into(),
        instance_field_names: vec!["Building".into(), "Floor".into()],
    }
}

fn placed(twin: &str, building: &str, floor: &str) -> Instance {
    let mut i = Instance::new(twin, "t-thermostat");
    i.name = Some(format!("{twin} (display)"));
    i.hierarchy_ids = vec!["h-building".into()];
    i.instance_fields = BTreeMap::from([
        ("Building".into(), Value::String(building.into())),
        ("Floor".into(), Value::String(floor.into())),
    ]);
    i
}

fn write_one(store: &Store, twin: &str) {
    store
        .write(&[Record::new(twin, Timestamp::from_nanos(1_000)).with("Temperature", 20.5)])
        .expect("write");
}

#[test]
fn a_new_store_has_tsis_default_type_and_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    let settings = store.model_settings();
    assert_eq!(settings.name, "DefaultModel");
    assert_eq!(settings.default_type_id, "1be09af9-f089-4d6b-9f0b-48018b5f7393");
    let types = store.time_series_types();
    assert_eq!(types.len(), 1);
    assert_eq!(types[0].id, DEFAULT_TYPE_ID);
    assert_eq!(types[0].name, "DefaultType");
    assert_eq!(
        types[0].variables,
        vec![(
            "EventCount".to_string(),
            Variable::Aggregate {
                aggregation: "count()".into(),
                filter: None
            }
        )]
    );
    assert!(store.hierarchies().is_empty());
    assert!(store.instances().is_empty());
}

#[test]
fn a_twin_seen_for_the_first_time_has_an_instance_of_the_default_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    assert_eq!(store.instance("thermostat67"), None);
    write_one(&store, "thermostat67");
    let expected = Instance {
        twin: "thermostat67".into(),
        type_id: DEFAULT_TYPE_ID.into(),
        name: None,
        description: None,
        hierarchy_ids: vec![],
        instance_fields: BTreeMap::new(),
    };
    assert_eq!(store.instance("thermostat67"), Some(expected.clone()));
    assert_eq!(store.instances(), vec![expected]);
}

#[test]
fn puts_are_checked_item_by_item_and_the_accepted_ones_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    let mut bad_tsx = thermostat_type();
    bad_tsx.id = "t-bad".into();
    bad_tsx.name = "Bad".into();
    bad_tsx.variables = vec![(
        "Broken".into(),
        Variable::numeric("$event.Temperature.Double +", "avg($value)"),
    )];
    let mut same_name = thermostat_type();
    same_name.id = "t-other".into();
    let answers = store
        .put_time_series_types(vec![thermostat_type(), bad_tsx, same_name])
        .expect("logged");
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0].as_ref().expect("first accepted").id, "t-thermostat");
    let refused = answers[1].as_ref().expect_err("a variable that does not parse");
    assert_eq!(refused.code, "InvalidInput");
    assert!(
        refused.message.contains("t-bad") && refused.message.contains("Broken"),
        "{}",
        refused.message
    );
    let clash = answers[2].as_ref().expect_err("a second type named Thermostat");
    assert_eq!((clash.code, clash.inner), ("InvalidInput", Some("NameAlreadyExists")));
    assert!(clash.message.contains("t-thermostat"), "{}", clash.message);
    let ids: Vec<String> = store.time_series_types().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![DEFAULT_TYPE_ID.to_string(), "t-thermostat".to_string()]);

    let no_levels = Hierarchy {
        id: "h-empty".into(),
        name: "Empty".into(),
        instance_field_names: vec![],
    };
    let answers = store
        .put_hierarchies(vec![building_hierarchy(), no_levels])
        .expect("logged");
    assert!(answers[0].is_ok());
    assert_eq!(answers[1].as_ref().expect_err("no levels").code, "InvalidInput");

    let mut wrong_type = placed("thermostat1", "B1", "F2");
    wrong_type.type_id = "no-such-type".into();
    let mut numeric_level = placed("thermostat2", "B1", "F2");
    numeric_level.instance_fields.insert("Floor".into(), Value::Long(2));
    let answers = store
        .put_instances(vec![placed("thermostat0", "B1", "F1"), wrong_type, numeric_level])
        .expect("logged");
    assert!(answers[0].is_ok());
    let e = answers[1].as_ref().expect_err("unknown type");
    assert!(e.message.contains("no-such-type"), "{}", e.message);
    let e = answers[2].as_ref().expect_err("a level field that is not a string");
    assert!(e.message.contains("Floor"), "{}", e.message);
    assert_eq!(store.instance("thermostat0"), Some(placed("thermostat0", "B1", "F1")));
    assert_eq!(store.instance("thermostat1"), None);
}

#[test]
fn deleting_a_type_or_hierarchy_in_use_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    store.put_time_series_types(vec![thermostat_type()]).expect("types");
    store.put_hierarchies(vec![building_hierarchy()]).expect("hierarchies");
    store
        .put_instances(vec![placed("thermostat0", "B1", "F1")])
        .expect("instances");

    let answers = store
        .delete_time_series_types(&["t-thermostat", DEFAULT_TYPE_ID, "nothing"])
        .expect("logged");
    assert_eq!(answers[0].as_ref().expect_err("in use").code, "InvalidInput");
    assert!(
        answers[1]
            .as_ref()
            .expect_err("the default type")
            .message
            .contains("default")
    );
    let unknown = answers[2].as_ref().expect_err("unknown");
    assert_eq!(
        (unknown.code, unknown.inner),
        ("ResourceNotFound", Some("TypeNotFound"))
    );
    assert_eq!(store.time_series_types().len(), 2);
    let answers = store.delete_hierarchies(&["h-building"]).expect("logged");
    assert!(answers[0].is_err());

    // Once the instance no longer uses them, both can go.
    assert!(store.delete_instances(&["thermostat0"]).expect("logged")[0].is_ok());
    assert!(store.delete_time_series_types(&["t-thermostat"]).expect("logged")[0].is_ok());
    assert!(store.delete_hierarchies(&["h-building"]).expect("logged")[0].is_ok());
    assert_eq!(store.time_series_types().len(), 1);
    assert!(store.hierarchies().is_empty());
}

#[test]
fn update_needs_an_existing_instance_and_delete_spares_a_twin_with_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    store.put_time_series_types(vec![thermostat_type()]).expect("types");
    store.put_hierarchies(vec![building_hierarchy()]).expect("hierarchies");
    write_one(&store, "thermostat9");
    let answers = store
        .update_instances(vec![placed("thermostat9", "B2", "F3"), placed("ghost", "B2", "F3")])
        .expect("logged");
    assert!(answers[0].is_ok(), "a twin with data has an instance to update");
    let never = answers[1].as_ref().expect_err("never seen");
    assert_eq!(
        (never.code, never.inner),
        ("ResourceNotFound", Some("InstanceNotFound"))
    );
    assert_eq!(store.instance("thermostat9"), Some(placed("thermostat9", "B2", "F3")));
    // As TSI: the instance of a time series with events cannot be deleted.
    let refused = store.delete_instances(&["thermostat9"]).expect("logged");
    assert_eq!(
        refused[0].as_ref().expect_err("has events").inner,
        Some("CannotDeleteInstance")
    );
    assert!(
        refused[0]
            .as_ref()
            .expect_err("has events")
            .message
            .contains("has events")
    );
    assert_eq!(store.instance("thermostat9"), Some(placed("thermostat9", "B2", "F3")));
    // An instance without events goes; one that does not exist is no error.
    store.put_instances(vec![placed("spare", "B2", "F3")]).expect("put");
    let answers = store.delete_instances(&["spare", "never-put"]).expect("logged");
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(store.instance("spare"), None);
}

#[test]
fn settings_name_an_existing_default_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    let e = store
        .update_model_settings(None, Some("missing".into()))
        .expect_err("no such type");
    assert!(
        matches!(
            e,
            Error::Model {
                code: "InvalidInput",
                inner: Some("TypeNotFound"),
                ..
            }
        ),
        "{e}"
    );
    store.put_time_series_types(vec![thermostat_type()]).expect("types");
    let s = store
        .update_model_settings(Some("Plant".into()), Some("t-thermostat".into()))
        .expect("settings");
    assert_eq!((s.name.as_str(), s.default_type_id.as_str()), ("Plant", "t-thermostat"));
    write_one(&store, "pump1");
    assert_eq!(store.instance("pump1").map(|i| i.type_id), Some("t-thermostat".into()));
}

#[test]
fn the_model_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path(), quiet()).expect("open");
        store.put_time_series_types(vec![thermostat_type()]).expect("types");
        store.put_hierarchies(vec![building_hierarchy()]).expect("hierarchies");
        store
            .put_instances(vec![placed("a", "B1", "F1"), placed("b", "B1", "F2")])
            .expect("instances");
        store.delete_instances(&["a"]).expect("delete");
        store
            .update_model_settings(Some("Plant".into()), None)
            .expect("settings");
    }
    for _ in 0..2 {
        let store = Store::open(dir.path(), quiet()).expect("reopen");
        assert_eq!(store.model_settings().name, "Plant");
        assert_eq!(store.time_series_type("t-thermostat"), Some(thermostat_type()));
        assert_eq!(store.hierarchies(), vec![building_hierarchy()]);
        assert_eq!(store.instances(), vec![placed("b", "B1", "F2")]);
    }
}

#[test]
fn many_changes_rewrite_the_model_file_and_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    store.put_time_series_types(vec![thermostat_type()]).expect("types");
    store.put_hierarchies(vec![building_hierarchy()]).expect("hierarchies");
    // About 200 bytes per instance change: well past the 1 MiB at which the file is rewritten.
    for i in 0..8_000 {
        let floor = format!("F{}", i % 7);
        let answers = store
            .put_instances(vec![placed(&format!("twin{:05}", i % 3_000), "B1", &floor)])
            .expect("logged");
        assert!(answers[0].is_ok());
    }
    let file = std::fs::metadata(dir.path().join("MODEL")).expect("model file").len();
    assert!(file < 3 << 20, "the file was rewritten as it grew: {file} bytes");
    drop(store);
    let store = Store::open(dir.path(), quiet()).expect("reopen");
    let instances = store.instances();
    assert_eq!(instances.len(), 3_000);
    // twin00005 was last put by change 5 + 2 * 3000 = 6005: floor 6005 % 7 = 6.
    assert_eq!(store.instance("twin00005"), Some(placed("twin00005", "B1", "F6")));
    // twin02999 was last put by change 5999: floor 5999 % 7 = 0.
    assert_eq!(store.instance("twin02999"), Some(placed("twin02999", "B1", "F0")));
}

#[test]
fn every_acknowledged_model_change_survives_a_power_cut() {
    for cut_after in [0u64, 1, 3, 5, 8, 13, 21, 34, 55] {
        let dir = tempfile::tempdir().expect("tempdir");
        let vfs = Arc::new(PowerCutVfs::new(dir.path()).expect("vfs"));
        let opened = Store::open(dir.path(), quiet().vfs(vfs.clone()));
        let mut acknowledged = Vec::new();
        if let Ok(store) = opened {
            vfs.cut_after(cut_after);
            let _ = store.put_time_series_types(vec![thermostat_type()]);
            let _ = store.put_hierarchies(vec![building_hierarchy()]);
            for i in 0..20 {
                let twin = format!("twin{i}");
                if let Ok(answers) = store.put_instances(vec![placed(&twin, "B1", "F1")])
                    && answers[0].is_ok()
                {
                    acknowledged.push(twin);
                }
            }
        }
        let after = tempfile::tempdir().expect("tempdir");
        vfs.write_durable_state(after.path()).expect("durable state");
        let store = Store::open(after.path(), quiet()).expect("reopen after the cut");
        for twin in &acknowledged {
            assert_eq!(
                store.instance(twin),
                Some(placed(twin, "B1", "F1")),
                "cut after {cut_after} operations: acknowledged instance {twin} lost"
            );
        }
        let put = store.instances().len();
        assert!(
            put <= acknowledged.len() + 1,
            "cut after {cut_after}: {put} instances, {} acknowledged (one more may have been logged)",
            acknowledged.len()
        );
    }
}

#[test]
fn a_damaged_model_file_is_refused_with_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path(), quiet()).expect("open");
        store.put_time_series_types(vec![thermostat_type()]).expect("types");
    }
    let path = dir.path().join("MODEL");
    let mut bytes = std::fs::read(&path).expect("read");
    // Byte 30 lies in the snapshot frame's JSON (16-byte header, 8-byte frame header).
    bytes[30] ^= 0x20;
    std::fs::write(&path, &bytes).expect("write");
    let Err(e) = Store::open(dir.path(), quiet()) else {
        panic!("a damaged model file was accepted");
    };
    match e {
        Error::Corruption { path: p, offset, .. } => {
            assert!(p.ends_with("MODEL"));
            assert_eq!(offset, 16, "the first frame starts after the 16-byte header");
        }
        other => panic!("expected corruption, got {other}"),
    }
}

#[test]
fn a_torn_last_model_frame_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path(), quiet()).expect("open");
        store.put_time_series_types(vec![thermostat_type()]).expect("types");
        store.put_hierarchies(vec![building_hierarchy()]).expect("hierarchies");
    }
    let path = dir.path().join("MODEL");
    // The open rewrites the file as one snapshot; the change after it is the last frame.
    let store = Store::open(dir.path(), quiet()).expect("open");
    store.put_instances(vec![placed("a", "B1", "F1")]).expect("instance");
    drop(store);
    let grown = std::fs::read(&path).expect("read");
    std::fs::write(&path, &grown[..grown.len() - 5]).expect("tear");
    let store = Store::open(dir.path(), quiet()).expect("a torn tail is not corruption");
    assert_eq!(store.instance("a"), None, "the torn change is gone");
    assert_eq!(store.hierarchies(), vec![building_hierarchy()]);
}

#[test]
fn backups_carry_the_model_and_verify_reads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    store.put_time_series_types(vec![thermostat_type()]).expect("types");
    store.put_hierarchies(vec![building_hierarchy()]).expect("hierarchies");
    store.put_instances(vec![placed("a", "B1", "F1")]).expect("instances");
    let report = store.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
    // The open's snapshot and three changes.
    assert_eq!(report.model_frames, 4);

    let copy = tempfile::tempdir().expect("tempdir");
    let target = copy.path().join("backup");
    store.backup(&target).expect("backup");
    let restored = Store::open(&target, quiet()).expect("open the backup");
    assert_eq!(restored.time_series_type("t-thermostat"), Some(thermostat_type()));
    assert_eq!(restored.hierarchies(), vec![building_hierarchy()]);
    assert_eq!(restored.instances(), vec![placed("a", "B1", "F1")]);

    // Damage in the middle of the file (the first change's frame) is reported with its place.
    let path = dir.path().join("MODEL");
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).expect("write");
    let report = store.verify().expect("verify");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].path.ends_with("MODEL"));
}

/// The inner code of item `n` of `answers`, which must be refused.
fn inner_code<T: std::fmt::Debug>(answers: &[Result<T, twinstore::tsm::ModelError>], n: usize) -> Option<&'static str> {
    answers[n].as_ref().expect_err("refused").inner
}

#[test]
fn tsis_model_limits_are_applied_with_its_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    // Names: 1,024 characters (not bytes: 1,024 two-byte characters pass), 1,025 do not.
    let named = |name: String| TimeSeriesType {
        name,
        ..thermostat_type()
    };
    let answers = store
        .put_time_series_types(vec![named("é".repeat(1024)), named("x".repeat(1025))])
        .expect("logged");
    assert!(answers[0].is_ok(), "{:?}", answers[0]);
    assert_eq!(inner_code(&answers, 1), Some("NameExceededLimit"));

    // Hierarchies: 32 levels pass, 33 do not.
    let levels = |n: usize, id: &str| Hierarchy {
        id: id.into(),
        name: id.into(),
        instance_field_names: (0..n).map(|l| format!("L{l}")).collect(),
    };
    let answers = store
        .put_hierarchies(vec![levels(32, "deep"), levels(33, "too-deep")])
        .expect("logged");
    assert!(answers[0].is_ok());
    assert_eq!(inner_code(&answers, 1), Some("HierarchyDepthExceededLimit"));
    // 32 hierarchies in a model: 31 more fit, the 33rd does not (also within one batch).
    let more: Vec<Hierarchy> = (0..32).map(|n| levels(1, &format!("h{n}"))).collect();
    let answers = store.put_hierarchies(more).expect("logged");
    assert!(answers[..31].iter().all(Result::is_ok));
    assert_eq!(inner_code(&answers, 31), Some("NumberOfHierarchiesExceededLimit"));

    // Instances: 100 fields pass, 101 do not; 16 KB of JSON at most.
    let with_fields = |twin: &str, n: usize, value: &str| {
        let mut i = Instance::new(twin, DEFAULT_TYPE_ID);
        i.instance_fields = (0..n).map(|f| (format!("f{f}"), Value::String(value.into()))).collect();
        i
    };
    let answers = store
        .put_instances(vec![
            with_fields("hundred", 100, "v"),
            with_fields("hundred-and-one", 101, "v"),
            with_fields("large", 20, &"v".repeat(1000)),
        ])
        .expect("logged");
    assert!(answers[0].is_ok());
    assert_eq!(inner_code(&answers, 1), Some("NumberOfInstanceFieldsExceededLimit"));
    assert_eq!(inner_code(&answers, 2), Some("ObjectSizeExceededLimit"));

    // 1,000 types in a model: the default type and the one above are two of them.
    let many: Vec<TimeSeriesType> = (0..999)
        .map(|n| TimeSeriesType {
            id: format!("t{n}"),
            ..named(format!("type {n}"))
        })
        .collect();
    let answers = store.put_time_series_types(many).expect("logged");
    assert!(answers[..998].iter().all(Result::is_ok));
    assert_eq!(inner_code(&answers, 998), Some("NumberOfTypesExceededLimit"));
    assert_eq!(store.time_series_types().len(), 1000);
    // Replacing a type is no new type.
    assert!(
        store
            .put_time_series_types(vec![named("renamed".into())])
            .expect("logged")[0]
            .is_ok()
    );
}
