//! The model file against docs/FORMAT.md ("Model file"): the committed golden file of
//! version 1 is read byte by byte from the document alone, opens to the model it was written
//! with (checked by hand), and a newer version is refused naming the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use twinstore::tsm::{Hierarchy, Instance, TimeSeriesType};
use twinstore::{Category, Error, Interpolation, InterpolationSpec, Options, Store, Value, Variable};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model-v1")
}

fn quiet() -> Options {
    Options::default().background_maintenance(false)
}

fn pump_type() -> TimeSeriesType {
    TimeSeriesType {
        id: "6e3e3c1a-0000-4000-8000-000000000001".into(),
        name: "Pump".into(),
        description: Some("A circulation pump".into()),
        variables: vec![
            (
                "Flow".into(),
                Variable::Numeric {
                    value: "$event.Flow.Double".into(),
                    aggregation: "twavg($value)".into(),
                    interpolation: Some(InterpolationSpec {
                        kind: Interpolation::Linear,
                        boundary: std::time::Duration::from_secs(3600),
                    }),
                    filter: Some("$event.Flow.Double > 0.0".into()),
                },
            ),
            (
                "Mode".into(),
                Variable::Categorical {
                    value: "$event.Mode.String".into(),
                    categories: vec![
                        Category {
                            label: "Running".into(),
                            values: vec![Value::String("on".into()), Value::String("boost".into())],
                        },
                        Category {
                            label: "Stopped".into(),
                            values: vec![Value::String("off".into())],
                        },
                    ],
                    default_category: "Unknown".into(),
                    interpolation: None,
                    filter: None,
                },
            ),
            (
                "Spread".into(),
                Variable::Aggregate {
                    aggregation: "max($event.Flow.Double) - min($event.Flow.Double)".into(),
                    filter: None,
                },
            ),
        ],
    }
}

fn site_hierarchy() -> Hierarchy {
    Hierarchy {
        id: "6e3e3c1a-0000-4000-8000-000000000002".into(),
        name: "Site".into(),
        instance_field_names: vec!["Plant".into(), "Hall".into()],
    }
}

fn pump(twin: &str, hall: &str) -> Instance {
    Instance {
        twin: twin.into(),
        type_id: pump_type().id,
        name: Some(format!("Pump {twin}")),
        description: Some("primary loop".into()),
        hierarchy_ids: vec![site_hierarchy().id],
        instance_fields: BTreeMap::from([
            ("Plant".into(), Value::String("North".into())),
            ("Hall".into(), Value::String(hall.into())),
            ("RatedKw".into(), Value::Double(7.5)),
            ("Poles".into(), Value::Long(4)),
            ("Spare".into(), Value::Bool(false)),
        ]),
    }
}

/// ADT events of one ingest call: a twin created, two containment relationships, one of them
/// deleted, a twin deleted.
const GRAPH_EVENTS: &str = concat!(
    r#"{"type":"Microsoft.DigitalTwins.Twin.Create","subject":"hallA","time":"2026-01-01T00:00:00Z","data":{"$dtId":"hallA","$metadata":{"$model":"dtmi:example:Hall;1"}}}"#,
    "\n",
    r#"{"type":"Microsoft.DigitalTwins.Relationship.Create","subject":"hallA/relationships/r1","time":"2026-01-01T00:00:01Z","data":{"$relationshipId":"r1","$sourceId":"hallA","$targetId":"pump1","$relationshipName":"contains"}}"#,
    "\n",
    r#"{"type":"Microsoft.DigitalTwins.Relationship.Create","subject":"pump9/relationships/r2","time":"2026-01-01T00:00:02Z","data":{"$relationshipId":"r2","$sourceId":"pump9","$targetId":"hallA","$relationshipName":"locatedIn"}}"#,
    "\n",
    r#"{"type":"Microsoft.DigitalTwins.Relationship.Delete","subject":"pump9/relationships/r2","time":"2026-01-01T00:00:03Z","data":{"$relationshipId":"r2","$sourceId":"pump9","$targetId":"hallA","$relationshipName":"locatedIn"}}"#,
    "\n",
    r#"{"type":"Microsoft.DigitalTwins.Twin.Delete","subject":"pump9","time":"2026-01-01T00:00:04Z","data":{"$dtId":"pump9"}}"#,
    "\n",
);

/// Writes `tests/fixtures/model-v1/MODEL`: a snapshot (the default model, written by the
/// open) followed by seven change frames. Run only to regenerate it for a new version.
#[test]
#[ignore]
fn write_golden_model_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    store.put_time_series_types(vec![pump_type()]).expect("types");
    store.put_hierarchies(vec![site_hierarchy()]).expect("hierarchies");
    store
        .put_instances(vec![pump("pump1", "A"), pump("pump2", "B"), pump("pump3", "B")])
        .expect("instances");
    store
        .update_model_settings(Some("Plant model".into()), None)
        .expect("settings");
    store.delete_instances(&["pump3"]).expect("delete");
    let mut renamed = pump("pump2", "C");
    renamed.name = None;
    store.put_instances(vec![renamed]).expect("instance");
    store.ingest_adt(GRAPH_EVENTS.as_bytes()).expect("graph events");
    drop(store);
    std::fs::create_dir_all(golden_dir()).expect("mkdir");
    std::fs::copy(dir.path().join("MODEL"), golden_dir().join("MODEL")).expect("copy");
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

#[test]
fn golden_model_file_is_laid_out_as_documented() {
    let bytes = std::fs::read(golden_dir().join("MODEL")).expect("golden model file");
    assert_eq!(&bytes[..8], b"TWSMODEL");
    assert_eq!(u32_at(&bytes, 8), 1, "version");
    assert_eq!(u32_at(&bytes, 12), crc32c::crc32c(&bytes[..12]), "header checksum");
    let mut keys = Vec::new();
    let mut pos = 16;
    while pos < bytes.len() {
        let len = u32_at(&bytes, pos) as usize;
        let payload = &bytes[pos + 8..pos + 8 + len];
        assert_eq!(u32_at(&bytes, pos + 4), crc32c::crc32c(payload), "frame at {pos}");
        let json: serde_json::Value = serde_json::from_slice(payload).expect("JSON payload");
        let object = json.as_object().expect("an object");
        assert_eq!(object.len(), 1, "one key per frame");
        keys.extend(object.keys().cloned());
        pos += 8 + len;
    }
    assert_eq!(pos, bytes.len(), "frames end with the file");
    assert_eq!(
        keys,
        [
            "snapshot",
            "putTypes",
            "putHierarchies",
            "putInstances",
            "settings",
            "deleteInstances",
            "putInstances",
            "graph"
        ]
    );
}

#[test]
fn golden_model_file_opens_to_the_model_it_was_written_with() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(golden_dir().join("MODEL"), dir.path().join("MODEL")).expect("copy");
    for _ in 0..2 {
        // The second open reads the file the first one rewrote as one snapshot.
        let store = Store::open(dir.path(), quiet()).expect("open");
        assert_eq!(store.model_settings().name, "Plant model");
        assert_eq!(store.time_series_types().len(), 2, "the default type and Pump");
        assert_eq!(store.time_series_type(&pump_type().id), Some(pump_type()));
        // Site, and the derived ADT hierarchy: hallA contains pump1, one level.
        let adt = Hierarchy {
            id: "adt".into(),
            name: "ADT".into(),
            instance_field_names: vec!["ADT level 1".into()],
        };
        assert_eq!(store.hierarchies(), vec![site_hierarchy(), adt]);
        let mut pump2 = pump("pump2", "C");
        pump2.name = None;
        assert_eq!(store.instances(), vec![pump("pump1", "A"), pump2]);
        // The graph: hallA contains pump1 (r1); r2 was deleted; pump9 is deleted.
        assert_eq!(
            store.relationships(),
            vec![twinstore::tsm::Relationship {
                id: "r1".into(),
                source: "hallA".into(),
                target: "pump1".into(),
                name: "contains".into(),
            }]
        );
        assert!(store.is_deleted("pump9") && !store.is_deleted("hallA"));
    }
}

#[test]
fn a_newer_model_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = std::fs::read(golden_dir().join("MODEL")).expect("golden model file");
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[..12]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(dir.path().join("MODEL"), &bytes).expect("write");
    match Store::open(dir.path(), quiet()) {
        Err(Error::UnsupportedVersion { path, found, supported }) => {
            assert!(path.ends_with("MODEL"));
            assert_eq!((found, supported), (2, 1));
        }
        Err(other) => panic!("expected UnsupportedVersion, got {other}"),
        Ok(_) => panic!("a newer model file was opened"),
    }
    assert_eq!(
        std::fs::read(dir.path().join("MODEL")).expect("still there"),
        bytes,
        "the refused file is left alone"
    );
}
