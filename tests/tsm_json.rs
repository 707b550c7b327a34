//! The Time Series Model through TSI's Model API bodies: `$batch` answers item by item in
//! request order with TSI's error objects, lists page with continuation tokens, and a
//! malformed body is refused whole. Expected answers are written out by hand as JSON.

use serde_json::{Value as Json, json};
use twinstore::{Error, Options, Record, Store, Timestamp};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
    (dir, store)
}

fn body(json: Json) -> Vec<u8> {
    serde_json::to_vec(&json).expect("body")
}

fn thermostat_type() -> Json {
    json!({
        "id": "9b84e946-7b36-4aa0-9d26-71bf48cb2aff",
        "name": "Thermostat",
        "description": "room thermostat",
        "variables": {
            "Temperature": {
                "kind": "numeric",
                "value": { "tsx": "$event.Temperature.Double" },
                "aggregation": { "tsx": "avg($value)" }
            },
            "Readings": {
                "kind": "aggregate",
                "aggregation": { "tsx": "count()" }
            }
        }
    })
}

#[test]
fn types_batch_put_get_and_delete_answer_item_by_item() {
    let (_dir, store) = store();
    let bad_variable = json!({
        "id": "bad",
        "name": "Bad",
        "variables": { "X": { "kind": "numeric", "value": { "tsx": "$event.X.String" }, "aggregation": { "tsx": "avg($value)" } } }
    });
    let no_name = json!({ "id": "anonymous" });
    let answer = store
        .types_batch_json(&body(json!({ "put": [thermostat_type(), bad_variable, no_name] })))
        .expect("a well-formed body");
    let put = answer["put"].as_array().expect("put answers");
    assert_eq!(put.len(), 3);
    assert_eq!(put[0]["error"], Json::Null);
    assert_eq!(put[0]["timeSeriesType"], thermostat_type(), "the type as stored");
    assert_eq!(put[1]["timeSeriesType"], Json::Null);
    assert_eq!(put[1]["error"]["code"], "InvalidInput");
    let message = put[1]["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("\"bad\"") && message.contains("$event.X.String"),
        "{message}"
    );
    assert_eq!(put[2]["error"]["code"], "InvalidInput");
    assert!(
        put[2]["error"]["message"]
            .as_str()
            .expect("message")
            .contains("name is required")
    );

    let answer = store
        .types_batch_json(&body(json!({ "get": {
            "typeIds": ["9b84e946-7b36-4aa0-9d26-71bf48cb2aff", "missing"]
        } })))
        .expect("get");
    assert_eq!(
        answer,
        json!({ "get": [
            { "timeSeriesType": thermostat_type(), "error": null },
            { "timeSeriesType": null, "error": { "code": "ResourceNotFound", "message": "type \"missing\" does not exist",
                "innerError": { "code": "TypeNotFound" } } }
        ] })
    );
    // Ids or names, exactly one of them (TSI).
    assert!(
        store
            .types_batch_json(&body(json!({ "get": { "typeIds": ["x"], "names": ["y"] } })))
            .is_err()
    );
    let answer = store
        .types_batch_json(&body(json!({ "get": { "names": ["DefaultType"] } })))
        .expect("get");
    assert_eq!(
        answer,
        json!({ "get": [
            { "timeSeriesType": {
                "id": "1be09af9-f089-4d6b-9f0b-48018b5f7393",
                "name": "DefaultType",
                "description": "Default type",
                "variables": { "EventCount": { "kind": "aggregate", "aggregation": { "tsx": "count()" } } }
            }, "error": null }
        ] })
    );

    let answer = store
        .types_batch_json(&body(json!({ "delete": { "names": ["Thermostat", "Nothing"] } })))
        .expect("delete");
    let delete = answer["delete"].as_array().expect("delete answers");
    assert_eq!(delete[0], Json::Null);
    assert_eq!(delete[1]["code"], "ResourceNotFound");
    assert_eq!(delete[1]["innerError"]["code"], "TypeNotFound");
    assert_eq!(store.time_series_types().len(), 1);
}

#[test]
fn instances_batch_uses_time_series_id_arrays_and_refuses_a_type_in_use() {
    let (_dir, store) = store();
    store
        .types_batch_json(&body(json!({ "put": [thermostat_type()] })))
        .expect("types");
    store
        .hierarchies_batch_json(&body(json!({ "put": [{
            "id": "h1", "name": "Location", "source": { "instanceFieldNames": ["Building", "Floor"] }
        }] })))
        .expect("hierarchies");
    let instance = json!({
        "timeSeriesId": ["thermostat67"],
        "typeId": "9b84e946-7b36-4aa0-9d26-71bf48cb2aff",
        "name": "Room 67",
        "hierarchyIds": ["h1"],
        "instanceFields": { "Building": "B1", "Floor": "F2", "SetPoint": 21.5 }
    });
    let answer = store
        .instances_batch_json(&body(
            json!({ "put": [instance.clone(), { "timeSeriesId": ["x", "y"] }] }),
        ))
        .expect("put");
    // TSI answers an instance put with the error only.
    assert_eq!(answer["put"][0], json!({ "error": null }));
    assert_eq!(
        store.instance("thermostat67").map(|i| i.to_json()),
        Some(instance.clone())
    );
    assert_eq!(answer["put"][1]["error"]["code"], "InvalidInput");

    // A twin with data has its implied instance, of the default type.
    store
        .write(&[Record::new("thermostat68", Timestamp::from_nanos(5)).with("Temperature", 19.0)])
        .expect("write");
    let answer = store
        .instances_batch_json(&body(json!({ "get": {
            "timeSeriesIds": [["thermostat67"], ["thermostat68"], ["nobody"]]
        } })))
        .expect("get");
    assert_eq!(
        answer,
        json!({ "get": [
            { "instance": instance.clone(), "error": null },
            { "instance": { "timeSeriesId": ["thermostat68"], "typeId": "1be09af9-f089-4d6b-9f0b-48018b5f7393" }, "error": null },
            { "instance": null, "error": { "code": "ResourceNotFound", "message": "instance \"nobody\" does not exist",
                "innerError": { "code": "InstanceNotFound" } } }
        ] })
    );
    let answer = store
        .instances_batch_json(&body(json!({ "get": { "names": ["Room 67"] } })))
        .expect("get by name");
    assert_eq!(
        answer,
        json!({ "get": [{ "instance": instance.clone(), "error": null }] })
    );

    let answer = store
        .types_batch_json(&body(
            json!({ "delete": { "typeIds": ["9b84e946-7b36-4aa0-9d26-71bf48cb2aff"] } }),
        ))
        .expect("delete");
    assert_eq!(answer["delete"][0]["code"], "InvalidInput", "{answer}");
    assert_eq!(
        answer["delete"][0]["innerError"]["code"], "CannotDeleteType",
        "{answer}"
    );
    assert!(
        answer["delete"][0]["message"]
            .as_str()
            .expect("message")
            .contains("used by instances")
    );

    let answer = store
        .instances_batch_json(&body(json!({ "update": [{
            "timeSeriesId": ["ghost"], "typeId": "9b84e946-7b36-4aa0-9d26-71bf48cb2aff"
        }] })))
        .expect("update");
    assert_eq!(answer["update"][0]["error"]["code"], "ResourceNotFound");
    assert_eq!(answer["update"][0]["error"]["innerError"]["code"], "InstanceNotFound");

    let answer = store
        .instances_batch_json(&body(json!({ "delete": { "timeSeriesIds": [["thermostat67"]] } })))
        .expect("delete");
    assert_eq!(answer, json!({ "delete": [null] }));
}

#[test]
fn model_settings_read_and_change() {
    let (_dir, store) = store();
    assert_eq!(
        store.model_settings_json(),
        json!({ "modelSettings": {
            "name": "DefaultModel",
            "timeSeriesIdProperties": [{ "name": "$dtId", "type": "String" }],
            "defaultTypeId": "1be09af9-f089-4d6b-9f0b-48018b5f7393"
        } })
    );
    let answer = store
        .update_model_settings_json(&body(json!({ "name": "Campus" })))
        .expect("rename");
    assert_eq!(answer["modelSettings"]["name"], "Campus");
    let refused = store
        .update_model_settings_json(&body(json!({ "timeSeriesIdProperties": [] })))
        .expect_err("the id properties are fixed");
    assert!(refused.to_string().contains("timeSeriesIdProperties"), "{refused}");
    let refused = store
        .update_model_settings_json(&body(json!({ "defaultTypeId": "nope" })))
        .expect_err("unknown type");
    assert!(
        matches!(
            refused,
            Error::Model {
                code: "InvalidInput",
                ..
            }
        ),
        "{refused}"
    );
}

#[test]
fn lists_page_with_continuation_tokens() {
    let (_dir, store) = store();
    let records: Vec<Record> = (0..2_500)
        .map(|i| Record::new(format!("twin{i:04}"), Timestamp::from_nanos(i)).with("X", 1.0))
        .collect();
    store.write(&records).expect("write");
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.instances_list_json(token.as_deref()).expect("page");
        pages += 1;
        for i in page["instances"].as_array().expect("instances") {
            seen.push(i["timeSeriesId"][0].as_str().expect("id").to_string());
        }
        match page.get("continuationToken").and_then(Json::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3, "1,000 per page");
    let expected: Vec<String> = (0..2_500).map(|i| format!("twin{i:04}")).collect();
    assert_eq!(seen, expected);
    assert!(store.types_list_json(Some("garbage")).is_err());
}

#[test]
fn a_malformed_body_is_refused_whole_and_nothing_changes() {
    let (_dir, store) = store();
    for bad in [
        json!({}),
        json!({ "put": [thermostat_type()], "delete": { "typeIds": ["x"] } }),
        json!({ "update": [thermostat_type()] }),
        json!({ "put": thermostat_type() }),
        json!({ "get": { "typeIds": "x" } }),
    ] {
        let e = store.types_batch_json(&body(bad.clone())).expect_err("malformed");
        assert!(matches!(e, Error::InvalidArgument(_)), "{bad}: {e}");
    }
    assert!(store.types_batch_json(b"{not json").is_err());
    assert_eq!(store.time_series_types().len(), 1, "nothing was stored");
}

#[test]
fn tsi_rules_from_its_api_definition() {
    let (_dir, store) = store();
    // A type or hierarchy without an id gets one, in GUID form, returned in the answer.
    let answer = store
        .types_batch_json(&body(json!({ "put": [{
            "name": "NoId",
            "variables": { "N": { "kind": "aggregate", "aggregation": { "tsx": "count()" } } }
        }] })))
        .expect("put");
    let id = answer["put"][0]["timeSeriesType"]["id"]
        .as_str()
        .expect("generated id")
        .to_string();
    let parts: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
    assert_eq!(store.time_series_type(&id).map(|t| t.name), Some("NoId".into()));
    // A type needs at least one variable.
    let answer = store
        .types_batch_json(&body(
            json!({ "put": [{ "id": "empty", "name": "Empty", "variables": {} }] }),
        ))
        .expect("put");
    assert_eq!(answer["put"][0]["error"]["code"], "InvalidInput");
    // Instance names are unique; every level field of a hierarchy is set.
    store
        .hierarchies_batch_json(&body(json!({ "put": [{
            "id": "h1", "name": "Location", "source": { "instanceFieldNames": ["Building", "Floor"] }
        }] })))
        .expect("hierarchy");
    let answer = store
        .instances_batch_json(&body(json!({ "put": [
            { "timeSeriesId": ["a"], "typeId": "1be09af9-f089-4d6b-9f0b-48018b5f7393", "name": "Pump" },
            { "timeSeriesId": ["b"], "typeId": "1be09af9-f089-4d6b-9f0b-48018b5f7393", "name": "Pump" },
            { "timeSeriesId": ["c"], "typeId": "1be09af9-f089-4d6b-9f0b-48018b5f7393",
              "hierarchyIds": ["h1"], "instanceFields": { "Building": "B1" } }
        ] })))
        .expect("put");
    assert_eq!(answer["put"][0], json!({ "error": null }));
    assert_eq!(
        answer["put"][1]["error"],
        json!({ "code": "InvalidInput", "message": "instance \"b\": the name \"Pump\" is already the name of instance \"a\"",
                "innerError": { "code": "NameAlreadyExists" } })
    );
    assert!(
        answer["put"][2]["error"]["message"]
            .as_str()
            .expect("message")
            .contains("\"Floor\"")
    );
}

#[test]
fn a_batch_over_tsis_size_limits_is_refused_whole() {
    let (_dir, store) = store();
    let ids: Vec<Json> = (0..10_001).map(|n| json!([format!("twin{n}")])).collect();
    let refused = store
        .instances_batch_json(&body(json!({ "get": { "timeSeriesIds": ids } })))
        .expect_err("10,001 items");
    assert!(
        matches!(
            refused,
            Error::Model {
                code: "InvalidInput",
                inner: Some("BatchRequestSizeExceededLimit"),
                ..
            }
        ),
        "{refused}"
    );
    let ids: Vec<Json> = (0..10_000).map(|n| json!([format!("twin{n}")])).collect();
    let answer = store
        .instances_batch_json(&body(json!({ "get": { "timeSeriesIds": ids } })))
        .expect("10,000 items");
    assert_eq!(answer["get"].as_array().map(Vec::len), Some(10_000));
    let big = vec![b' '; (8 << 20) + 1];
    assert!(store.types_batch_json(&big).is_err(), "over 8 MB");
}
