//! TSI's Model API request and response bodies: `$batch` of types, hierarchies and
//! instances (one of get, put, update, delete, answered item by item in request order),
//! the model settings, and lists with continuation tokens.
//!
//! A body is read whole before anything is done: a body that is not JSON, names no
//! operation or two, or has a field of the wrong shape is refused as a whole (the caller's
//! `Err`). Inside a well-formed body, each item succeeds or fails on its own, and a failed
//! item's entry carries TSI's error object (`code`, `message`) naming the item.

use serde_json::{Map, Value as Json, json};

use super::ModelError;
use super::entity::{Hierarchy, Instance, TimeSeriesType, time_series_id};
use crate::error::{Error, Result};

/// The operation of a `$batch` body.
#[derive(Debug)]
pub(crate) enum BatchOp<T> {
    /// Ids and names to look up.
    Get {
        ids: Vec<String>,
        names: Vec<String>,
    },
    Put(Vec<Result<T, ModelError>>),
    Update(Vec<Result<T, ModelError>>),
    /// Ids and names to delete.
    Delete {
        ids: Vec<String>,
        names: Vec<String>,
    },
}

/// Which entity a `$batch` is about: its JSON names.
pub(crate) struct Kind {
    /// The response key of one item (`timeSeriesType`, `hierarchy`, `instance`).
    pub item: &'static str,
    /// The request key of ids in get and delete (`typeIds`, `hierarchyIds`, `timeSeriesIds`).
    pub ids: &'static str,
    /// Whether `update` is an operation (instances only).
    pub update: bool,
}

pub(crate) const TYPES: Kind = Kind {
    item: "timeSeriesType",
    ids: "typeIds",
    update: false,
};
pub(crate) const HIERARCHIES: Kind = Kind {
    item: "hierarchy",
    ids: "hierarchyIds",
    update: false,
};
pub(crate) const INSTANCES: Kind = Kind {
    item: "instance",
    ids: "timeSeriesIds",
    update: true,
};

fn bad(message: impl Into<String>) -> Error {
    Error::InvalidArgument(message.into())
}

/// At most this many items in one `$batch` request (TSI's limit: 10,000 objects).
pub const MAX_BATCH_ITEMS: usize = 10_000;
/// The largest `$batch` body, in bytes (TSI's limit: 8 MB).
pub const MAX_BATCH_BYTES: usize = 8 << 20;

fn too_big(message: String) -> Error {
    ModelError::invalid_because("BatchRequestSizeExceededLimit", message).into()
}

fn check_count(items: usize, op: &str) -> Result<()> {
    if items > MAX_BATCH_ITEMS {
        return Err(too_big(format!(
            "{op} holds {items} items; a $batch request holds at most {MAX_BATCH_ITEMS}"
        )));
    }
    Ok(())
}

/// Reads a `$batch` body; `item` reads one put or update item (its JSON errors become that
/// item's error, not the body's).
pub(crate) fn parse_batch<T>(body: &[u8], kind: &Kind, mut item: impl FnMut(Json) -> Result<T>) -> Result<BatchOp<T>> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(too_big(format!(
            "the body is {} bytes; a $batch request holds at most {MAX_BATCH_BYTES}",
            body.len()
        )));
    }
    let json: Json = serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let Json::Object(map) = json else {
        return Err(bad("the body must be a JSON object"));
    };
    let ops = if kind.update {
        "get, put, update or delete"
    } else {
        "get, put or delete"
    };
    let mut entries = map.into_iter();
    let (Some((op, value)), None) = (entries.next(), entries.next()) else {
        return Err(bad(format!("the body must hold exactly one operation: {ops}")));
    };
    let mut items = |value: Json| -> Result<Vec<Result<T, ModelError>>> {
        let Json::Array(list) = value else {
            return Err(bad(format!("{op} must be an array")));
        };
        check_count(list.len(), &op)?;
        Ok(list.into_iter().map(|v| item(v).map_err(ModelError::from)).collect())
    };
    match op.as_str() {
        "get" => {
            let (ids, names) = ids_and_names(value, kind, "get")?;
            Ok(BatchOp::Get { ids, names })
        }
        "delete" => {
            let (ids, names) = ids_and_names(value, kind, "delete")?;
            Ok(BatchOp::Delete { ids, names })
        }
        "put" => Ok(BatchOp::Put(items(value)?)),
        "update" if kind.update => Ok(BatchOp::Update(items(value)?)),
        other => Err(bad(format!("unknown operation {other:?}: the body holds one of {ops}"))),
    }
}

/// `{"<ids>": [...], "names": [...]}` of get and delete. Instance ids are time series ids
/// (`["twin"]`); a get of types or hierarchies without either key gets nothing.
fn ids_and_names(value: Json, kind: &Kind, op: &str) -> Result<(Vec<String>, Vec<String>)> {
    // tsiclient's getTimeseriesInstances sends instance ids as a bare list,
    // `{"get": [["twin"], ...]}`: read as the list of `timeSeriesIds`.
    let value = match value {
        Json::Array(ids) if kind.update => {
            Json::Object([(kind.ids.to_string(), Json::Array(ids))].into_iter().collect())
        }
        other => other,
    };
    let Json::Object(mut map) = value else {
        return Err(bad(format!("{op} must be an object with {} and/or names", kind.ids)));
    };
    if let Some(key) = map.keys().find(|k| *k != kind.ids && *k != "names") {
        return Err(bad(format!(
            "{op}: unknown field {key:?} (allowed: {}, names)",
            kind.ids
        )));
    }
    let list = |value: Option<Json>, key: &str| -> Result<Vec<Json>> {
        match value {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => Ok(items),
            Some(other) => Err(bad(format!("{op}.{key} must be an array, not {other}"))),
        }
    };
    let (has_ids, has_names) = (
        map.get(kind.ids).is_some_and(|v| !v.is_null()),
        map.get("names").is_some_and(|v| !v.is_null()),
    );
    if has_ids == has_names {
        return Err(bad(format!("{op}: give exactly one of {} and names", kind.ids)));
    }
    let ids = list(map.remove(kind.ids), kind.ids)?;
    check_count(
        ids.len() + map.get("names").and_then(Json::as_array).map_or(0, Vec::len),
        op,
    )?;
    let ids = ids
        .into_iter()
        .map(|v| match (kind.update, v) {
            (true, v) => time_series_id(v, op),
            (false, Json::String(s)) => Ok(s),
            (false, other) => Err(bad(format!("{op}.{}: {other} is not a string", kind.ids))),
        })
        .collect::<Result<Vec<_>>>()?;
    let names = list(map.remove("names"), "names")?
        .into_iter()
        .map(|v| match v {
            Json::String(s) => Ok(s),
            other => Err(bad(format!("{op}.names: {other} is not a string"))),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((ids, names))
}

/// TSI's error object of one item.
pub(crate) fn error_json(e: &ModelError) -> Json {
    match e.inner {
        Some(inner) => json!({ "code": e.code, "message": e.message, "innerError": { "code": inner } }),
        None => json!({ "code": e.code, "message": e.message }),
    }
}

/// One get, put or update entry: `{"<item>": ..., "error": null}` or `{"<item>": null,
/// "error": {...}}`.
pub(crate) fn item_json(kind: &Kind, answer: Result<Json, &ModelError>) -> Json {
    let mut entry = Map::new();
    match answer {
        Ok(item) => {
            entry.insert(kind.item.into(), item);
            entry.insert("error".into(), Json::Null);
        }
        Err(e) => {
            entry.insert(kind.item.into(), Json::Null);
            entry.insert("error".into(), error_json(e));
        }
    }
    Json::Object(entry)
}

/// A delete entry: `null` when deleted, else the error object.
pub(crate) fn delete_json(answer: &Result<(), ModelError>) -> Json {
    match answer {
        Ok(()) => Json::Null,
        Err(e) => error_json(e),
    }
}

/// The JSON of a type, a hierarchy or an instance.
pub(crate) trait ToJson {
    fn to_json(&self) -> Json;
}

impl ToJson for TimeSeriesType {
    fn to_json(&self) -> Json {
        TimeSeriesType::to_json(self)
    }
}

impl ToJson for Hierarchy {
    fn to_json(&self) -> Json {
        Hierarchy::to_json(self)
    }
}

impl ToJson for Instance {
    fn to_json(&self) -> Json {
        Instance::to_json(self)
    }
}

/// Items per page of a list (TSI pages its lists too; the token is the offset).
pub const LIST_PAGE: usize = 1000;

/// One page of a list: `{"<key>": [...], "continuationToken": "..."}` (the token only when
/// more follow).
pub(crate) fn list_page<T: ToJson>(key: &str, items: &[T], token: Option<&str>) -> Result<Json> {
    let start = match token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|&s| s <= items.len())
            .ok_or_else(|| bad(format!("continuation token {t:?} is not one this store gave")))?,
    };
    let end = (start + LIST_PAGE).min(items.len());
    let page: Vec<Json> = items[start..end].iter().map(ToJson::to_json).collect();
    let mut out = Map::new();
    out.insert(key.into(), Json::Array(page));
    if end < items.len() {
        out.insert("continuationToken".into(), json!(end.to_string()));
    }
    Ok(Json::Object(out))
}
