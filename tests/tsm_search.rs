//! Instance search and hierarchy navigation against hand-counted expectations: nodes with
//! cumulative counts, instances at or under a path, search text, highlights, ordering,
//! paging, suggest, and deleted twins left out; through the typed API and TSI's bodies.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use twinstore::tsm::{Expand, Hierarchy, Instance, InstanceOrder, InstanceSearch, NodeOrder};
use twinstore::{Options, Record, Store, Timestamp, Value};

/// Hierarchy "Location" (Building / Floor / Room):
/// - B1/F1/R101: sensor-a ("Boiler room sensor"), sensor-b
/// - B1/F1/R102: sensor-c
/// - B1/F2/R201: sensor-d
/// - B2/F1/R101: sensor-e ("Lobby sensor")
/// - no hierarchy: sensor-f; sensor-g has data only (implied instance, no hierarchy)
fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
    store
        .put_hierarchies(vec![Hierarchy {
            id: "h-loc".into(),
            name: "Location".into(),
            instance_field_names: vec!["Building".into(), "Floor".into(), "Room".into()],
        }])
        .expect("hierarchy");
    let placed = |twin: &str, name: Option<&str>, path: &[&str]| {
        let mut i = Instance::new(twin, twinstore::tsm::DEFAULT_TYPE_ID);
        i.name = name.map(str::to_string);
        i.hierarchy_ids = vec!["h-loc".into()];
        i.instance_fields = ["Building", "Floor", "Room"]
            .iter()
            .zip(path)
            .map(|(k, v)| (k.to_string(), Value::String((*v).into())))
            .collect::<BTreeMap<_, _>>();
        i
    };
    let mut f = Instance::new("sensor-f", twinstore::tsm::DEFAULT_TYPE_ID);
    f.description = Some("spare".into());
    let answers = store
        .put_instances(vec![
            placed("sensor-a", Some("Boiler room sensor"), &["B1", "F1", "R101"]),
            placed("sensor-b", None, &["B1", "F1", "R101"]),
            placed("sensor-c", None, &["B1", "F1", "R102"]),
            placed("sensor-d", None, &["B1", "F2", "R201"]),
            placed("sensor-e", Some("Lobby sensor"), &["B2", "F1", "R101"]),
            f,
        ])
        .expect("instances");
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    store
        .write(&[Record::new("sensor-g", Timestamp::from_nanos(1)).with("X", 1.0)])
        .expect("write");
    (dir, store)
}

fn names(r: &twinstore::tsm::SearchResult) -> Vec<String> {
    r.instances.iter().map(|h| h.instance.twin.clone()).collect()
}

fn nodes(r: &twinstore::tsm::SearchResult) -> Vec<(String, usize)> {
    r.nodes
        .iter()
        .map(|n| (n.name.clone(), n.cumulative_instance_count))
        .collect()
}

#[test]
fn navigation_counts_and_places_instances() {
    let (_dir, store) = store();
    let search = |path: &[&str], recursive: bool| {
        store
            .search_instances(&InstanceSearch {
                path: path.iter().map(|s| s.to_string()).collect(),
                recursive,
                order: InstanceOrder::DisplayName,
                page_size: 100,
                ..InstanceSearch::default()
            })
            .expect("search")
    };
    // The root: one hierarchy with 5 instances; directly at the root, the two in none.
    let root = search(&[], false);
    assert_eq!(nodes(&root), [("Location".to_string(), 5)]);
    assert_eq!(names(&root), ["sensor-f", "sensor-g"]);
    assert_eq!(search(&[], true).instance_count, 7);

    let b1 = search(&["Location", "B1"], false);
    assert_eq!(nodes(&b1), [("F1".to_string(), 3), ("F2".to_string(), 1)]);
    assert!(names(&b1).is_empty(), "no instance stops at a building");
    let f1 = search(&["Location", "B1", "F1"], false);
    assert_eq!(nodes(&f1), [("R101".to_string(), 2), ("R102".to_string(), 1)]);
    assert!(
        names(&f1).is_empty(),
        "every instance sets every level: none stops at a floor"
    );
    assert_eq!(names(&search(&["Location", "B1", "F1", "R102"], false)), ["sensor-c"]);
    // Recursive under B1, by display name: "Boiler room sensor" (sensor-a) sorts first.
    assert_eq!(
        names(&search(&["Location", "B1"], true)),
        ["sensor-a", "sensor-b", "sensor-c", "sensor-d"]
    );
    assert!(
        store
            .search_instances(&InstanceSearch {
                path: vec!["Nowhere".into()],
                ..InstanceSearch::default()
            })
            .is_err()
    );
}

#[test]
fn search_text_filters_counts_and_highlights() {
    let (_dir, store) = store();
    let r = store
        .search_instances(&InstanceSearch {
            text: "R101".into(),
            recursive: true,
            highlights: true,
            expand: Expand::OneLevel,
            ..InstanceSearch::default()
        })
        .expect("search");
    // sensor-a, -b (B1/F1/R101) and -e (B2/F1/R101).
    assert_eq!(r.instance_count, 3);
    assert_eq!(nodes(&r), [("Location".to_string(), 3)]);
    let e = r
        .instances
        .iter()
        .find(|h| h.instance.twin == "sensor-e")
        .expect("sensor-e");
    let marks = e.highlights.as_ref().expect("highlights");
    assert_eq!(marks["instanceFieldValues"], json!(["B2", "F1", "<hit>R101</hit>"]));
    assert_eq!(marks["name"], json!("Lobby sensor"));

    // TSI's search string: terms are ORed unless AND, +, -, NOT or ! say otherwise.
    let count = |text: &str| {
        store
            .search_instances(&InstanceSearch {
                text: text.into(),
                recursive: true,
                ..InstanceSearch::default()
            })
            .expect("search")
            .instance_count
    };
    assert_eq!(count("lobby boiler"), 2, "a (Boiler) or e (Lobby)");
    assert_eq!(count("sensor b1"), 7, "every id says sensor");
    assert_eq!(count("sensor AND b1"), 4, "a, b, c, d are in B1 and say sensor");
    assert_eq!(count("sensor && b1"), 4);
    assert_eq!(count("+sensor +b1"), 4);
    assert_eq!(count("sensor -b1"), 3, "e, f, g");
    assert_eq!(count("sensor NOT b1"), 3);
    assert_eq!(count("sensor !b1 !spare"), 2, "e, g");
    assert_eq!(count("NOT b1 sensor"), 0, "TSI: NOT first matches nothing");
    assert_eq!(count("'room sensor'"), 1, "the phrase is in a's name only");
    assert_eq!(count("r1?1"), 3, "R101: a, b, e");
    assert_eq!(count("r*2"), 2, "R102 (c) and R201 (d)");
    assert_eq!(count("B1 AND r?0*"), 4);
    let r = store
        .search_instances(&InstanceSearch {
            text: "boiler*".into(),
            recursive: true,
            ..InstanceSearch::default()
        })
        .expect("search");
    assert_eq!(names(&r), ["sensor-a"]);
    // UntilChildren (TSI: "expanded recursively until there is more than one child"):
    // below Location two buildings, so nothing opens; below B2 one floor, opened down to
    // its one room; at the root one hierarchy, opened to its two buildings.
    let until = |path: &[&str]| {
        store
            .search_instances(&InstanceSearch {
                path: path.iter().map(|s| s.to_string()).collect(),
                expand: Expand::UntilChildren,
                node_order: NodeOrder::Name,
                ..InstanceSearch::default()
            })
            .expect("search")
            .nodes
    };
    let level = until(&["Location"]);
    assert_eq!(level.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["B1", "B2"]);
    assert!(level.iter().all(|n| n.children.is_empty()));
    let b2 = until(&["Location", "B2"]);
    assert_eq!((b2.len(), b2[0].name.as_str()), (1, "F1"));
    assert_eq!(b2[0].children.len(), 1);
    assert_eq!(b2[0].children[0].name, "R101");
    let root = until(&[]);
    assert_eq!(root.len(), 1);
    assert_eq!(
        root[0]
            .children
            .iter()
            .map(|n| (n.name.as_str(), n.cumulative_instance_count))
            .collect::<Vec<_>>(),
        [("B1", 4), ("B2", 1)]
    );
}

#[test]
fn tsi_bodies_page_and_suggest() {
    let (_dir, store) = store();
    let body = |j: Json| serde_json::to_vec(&j).expect("body");
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut instances = json!({ "recursive": true, "pageSize": 3, "sort": { "by": "DisplayName" } });
        if let Some(t) = &token {
            instances["continuationToken"] = json!(t);
        }
        let answer = store
            .search_instances_json(&body(json!({ "searchString": "", "instances": instances })))
            .expect("search");
        assert_eq!(answer["instances"]["hitCount"], 7);
        assert!(answer["hierarchyNodes"].is_null(), "no hierarchies asked");
        for hit in answer["instances"]["hits"].as_array().expect("hits") {
            seen.push(hit["timeSeriesId"][0].as_str().expect("id").to_string());
        }
        match answer["instances"].get("continuationToken").and_then(Json::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "sensor-a", "sensor-e", "sensor-b", "sensor-c", "sensor-d", "sensor-f", "sensor-g"
        ],
        "by display name: Boiler..., Lobby..., then ids"
    );
    // Hierarchies asked without instances: nodes only (TSI: "only hierarchies with no
    // instances are returned").
    let answer = store
        .search_instances_json(&body(json!({
            "searchString": "",
            "path": ["Location"],
            "hierarchies": { "expand": { "kind": "OneLevel" }, "sort": { "by": "CumulativeInstanceCount" } }
        })))
        .expect("nodes");
    assert_eq!(
        answer["instances"],
        json!({ "hits": [], "hitCount": 0, "continuationToken": null })
    );
    assert_eq!(
        answer["hierarchyNodes"],
        json!({ "hits": [
            { "name": "B1", "cumulativeInstanceCount": 4, "hierarchyNodes": null },
            { "name": "B2", "cumulativeInstanceCount": 1, "hierarchyNodes": null }
        ], "hitCount": 2, "continuationToken": null })
    );
    // A word of a value starting with the text, as TSI suggests ("sensor" starts words of
    // two names and of every id).
    let answer = store
        .suggest_instances_json(&body(json!({ "searchString": "sens", "take": 3 })))
        .expect("suggest");
    assert_eq!(
        answer,
        json!({ "suggestions": [
            { "searchString": "Boiler room sensor", "highlightedSearchString": "Boiler room <hit>sens</hit>or" },
            { "searchString": "Lobby sensor", "highlightedSearchString": "Lobby <hit>sens</hit>or" },
            { "searchString": "sensor-a", "highlightedSearchString": "<hit>sens</hit>or-a" }
        ] })
    );
    let answer = store
        .suggest_instances_json(&body(json!({ "searchString": "lob", "take": 5 })))
        .expect("suggest");
    assert_eq!(
        answer,
        json!({ "suggestions": [
            { "searchString": "Lobby sensor", "highlightedSearchString": "<hit>Lob</hit>by sensor" }
        ] })
    );
    assert!(
        store
            .search_instances_json(&body(
                json!({ "searchString": "", "instances": { "sort": { "by": "Size" } } })
            ))
            .is_err()
    );
    assert!(
        store.search_instances_json(&body(json!({}))).is_err(),
        "searchString is required"
    );
    assert!(
        store
            .search_instances_json(&body(json!({ "searchString": "", "instances": { "pageSize": 101 } })))
            .is_err()
    );
    // TSI's defaults with only a search string: recursive from the root, highlighted.
    let answer = store
        .search_instances_json(&body(json!({ "searchString": "lobby" })))
        .expect("search");
    assert_eq!(answer["instances"]["hitCount"], 1);
    let hit = &answer["instances"]["hits"][0];
    assert_eq!(hit["timeSeriesId"], json!(["sensor-e"]));
    assert_eq!(hit["highlights"]["name"], json!("<hit>Lobby</hit> sensor"));
    assert_eq!(hit["highlights"]["hierarchyNames"], json!(["Location"]));
    assert!(answer["hierarchyNodes"].is_null());
}

#[test]
fn twins_deleted_in_adt_leave_searches() {
    let (_dir, store) = store();
    let delete = r#"{"type":"Microsoft.DigitalTwins.Twin.Delete","subject":"sensor-g","time":"2026-01-01T00:00:00Z","data":{"$dtId":"sensor-g"}}"#;
    store.ingest_adt(delete.as_bytes()).expect("ingest");
    let all = store
        .search_instances(&InstanceSearch {
            recursive: true,
            page_size: 100,
            ..InstanceSearch::default()
        })
        .expect("search");
    assert_eq!(all.instance_count, 6);
    assert!(!names(&all).contains(&"sensor-g".to_string()));
    assert!(
        store.instance("sensor-g").is_some(),
        "still an instance, still queryable"
    );
}
