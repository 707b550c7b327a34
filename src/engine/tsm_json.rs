//! The Time Series Model through TSI's Model API bodies: `$batch` of types, hierarchies and
//! instances, model settings, and paged lists (docs/MODEL.md). Each call reads its body
//! whole first; a malformed body is refused as a whole (`Err`), and within a well-formed
//! one each item is answered on its own, in request order.

use serde_json::{Value as Json, json};

use super::Store;
use crate::error::{Error, Result};
use crate::tsm::batch::{self, BatchOp, Kind};
use crate::tsm::{Hierarchy, Instance, ModelError, TimeSeriesType};

/// Runs `run` on the items that parsed and puts its answers back among the parse errors,
/// in request order.
fn in_order<T, R>(
    parsed: Vec<Result<T, ModelError>>,
    run: impl FnOnce(Vec<T>) -> Result<Vec<Result<R, ModelError>>>,
) -> Result<Vec<Result<R, ModelError>>> {
    let mut valid = Vec::new();
    let mut slots = Vec::with_capacity(parsed.len());
    for p in parsed {
        match p {
            Ok(item) => {
                valid.push(item);
                slots.push(None);
            }
            Err(e) => slots.push(Some(e)),
        }
    }
    let mut answers = run(valid)?.into_iter();
    slots
        .into_iter()
        .map(|slot| match slot {
            Some(e) => Ok(Err(e)),
            None => answers
                .next()
                .ok_or_else(|| Error::InvalidArgument("internal: fewer answers than items".into())),
        })
        .collect()
}

fn entries<T: batch::ToJson>(kind: &Kind, answers: &[Result<T, ModelError>]) -> Vec<Json> {
    answers
        .iter()
        .map(|a| batch::item_json(kind, a.as_ref().map(batch::ToJson::to_json)))
        .collect()
}

/// `{"error": null}` or `{"error": {...}}` per item.
fn errors_only<T>(answers: &[Result<T, ModelError>]) -> Vec<Json> {
    answers
        .iter()
        .map(|a| json!({ "error": a.as_ref().err().map(batch::error_json) }))
        .collect()
}

/// `what` (`type`, `hierarchy`, `instance`, maybe followed by `named`) `key` does not exist,
/// with TSI's inner code for the kind.
fn not_found(what: &str, key: &str) -> ModelError {
    let inner = match what.split(' ').next() {
        Some("type") => "TypeNotFound",
        Some("hierarchy") => "HierarchyNotFound",
        _ => "InstanceNotFound",
    };
    ModelError::not_found(inner, format!("{what} {key:?} does not exist"))
}

/// Names resolved to ids (`find`), then ids: each an id, or the error of a name not found.
fn resolve(
    ids: Vec<String>,
    names: Vec<String>,
    what: &str,
    find: impl Fn(&str) -> Option<String>,
) -> Vec<Result<String, ModelError>> {
    ids.into_iter()
        .map(Ok)
        .chain(
            names
                .into_iter()
                .map(|n| find(&n).ok_or_else(|| not_found(&format!("{what} named"), &n))),
        )
        .collect()
}

/// How the `$batch` of a named entity (types, hierarchies) reads and changes the store.
struct NamedKind<T> {
    kind: &'static Kind,
    what: &'static str,
    parse: fn(Json) -> Result<T>,
    get: fn(&Store, &str) -> Option<T>,
    named: fn(&Store, &str) -> Option<T>,
    id: fn(&T) -> String,
    put: fn(&Store, Vec<T>) -> Result<crate::engine::ItemResults<T>>,
    delete: fn(&Store, &[&str]) -> Result<crate::engine::ItemResults<()>>,
}

impl Store {
    /// TSI's `POST timeseries/types/$batch`: `{"get": {"typeIds", "names"}}`, `{"put":
    /// [type...]}` or `{"delete": {"typeIds", "names"}}`, answered `{"get": [{"timeSeriesType",
    /// "error"}...]}`, `{"put": [...]}` or `{"delete": [null or error...]}`.
    pub fn types_batch_json(&self, body: &[u8]) -> Result<Json> {
        self.named_batch_json(
            body,
            &NamedKind {
                kind: &batch::TYPES,
                what: "type",
                parse: TimeSeriesType::from_json,
                get: Store::time_series_type,
                named: Store::time_series_type_named,
                id: |t| t.id.clone(),
                put: Store::put_time_series_types,
                delete: Store::delete_time_series_types,
            },
        )
    }

    /// TSI's `POST timeseries/hierarchies/$batch`, as [`Store::types_batch_json`] with
    /// `hierarchyIds` and `hierarchy`.
    pub fn hierarchies_batch_json(&self, body: &[u8]) -> Result<Json> {
        self.named_batch_json(
            body,
            &NamedKind {
                kind: &batch::HIERARCHIES,
                what: "hierarchy",
                parse: Hierarchy::from_json,
                get: Store::hierarchy,
                named: Store::hierarchy_named,
                id: |h| h.id.clone(),
                put: Store::put_hierarchies,
                delete: Store::delete_hierarchies,
            },
        )
    }

    /// The `$batch` of types or hierarchies: entities with an id and a unique name.
    fn named_batch_json<T: batch::ToJson>(&self, body: &[u8], k: &NamedKind<T>) -> Result<Json> {
        match batch::parse_batch(body, k.kind, k.parse)? {
            BatchOp::Get { ids, names } => {
                let answers: Vec<Result<T, ModelError>> = ids
                    .iter()
                    .map(|id| (k.get)(self, id).ok_or_else(|| not_found(k.what, id)))
                    .chain(
                        names
                            .iter()
                            .map(|n| (k.named)(self, n).ok_or_else(|| not_found(&format!("{} named", k.what), n))),
                    )
                    .collect();
                Ok(json!({ "get": entries(k.kind, &answers) }))
            }
            BatchOp::Put(items) | BatchOp::Update(items) => {
                let answers = in_order(items, |valid| (k.put)(self, valid))?;
                Ok(json!({ "put": entries(k.kind, &answers) }))
            }
            BatchOp::Delete { ids, names } => {
                let targets = resolve(ids, names, k.what, |n| (k.named)(self, n).map(|e| (k.id)(&e)));
                let answers = in_order(targets, |ids| {
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    (k.delete)(self, &ids)
                })?;
                Ok(json!({ "delete": answers.iter().map(batch::delete_json).collect::<Vec<_>>() }))
            }
        }
    }

    /// TSI's `POST timeseries/instances/$batch`: get (`timeSeriesIds`, each `["twin"]`, and
    /// `names`), put, update (instances that exist only) or delete, each item answered
    /// `{"instance", "error"}` (delete: `null` or the error).
    pub fn instances_batch_json(&self, body: &[u8]) -> Result<Json> {
        let kind = &batch::INSTANCES;
        let default_type = self.model_settings().default_type_id;
        let op = batch::parse_batch(body, kind, |json| Instance::from_json(json, &default_type))?;
        let named = |name: &str| {
            let model = self.inner.tsm.model.read();
            model
                .instances
                .values()
                .find(|i| i.name.as_deref() == Some(name))
                .map(|i| i.twin.clone())
        };
        match op {
            BatchOp::Get { ids, names } => {
                let answers: Vec<Result<Instance, ModelError>> = resolve(ids, names, "instance", named)
                    .into_iter()
                    .map(|twin| twin.and_then(|t| self.instance(&t).ok_or_else(|| not_found("instance", &t))))
                    .collect();
                Ok(json!({ "get": entries(kind, &answers) }))
            }
            // TSI answers an instance put or update with the error only (null when stored).
            BatchOp::Put(items) => {
                let answers = in_order(items, |valid| self.put_instances(valid))?;
                Ok(json!({ "put": errors_only(&answers) }))
            }
            BatchOp::Update(items) => {
                let answers = in_order(items, |valid| self.update_instances(valid))?;
                Ok(json!({ "update": errors_only(&answers) }))
            }
            BatchOp::Delete { ids, names } => {
                // TSI: null when the instance was deleted "or did not exist", a name too.
                let targets: Vec<Result<String, ModelError>> = resolve(ids, names, "instance", named)
                    .into_iter()
                    .map(|t| Ok(t.unwrap_or_default()))
                    .collect();
                let answers = in_order(targets, |twins| {
                    let twins: Vec<&str> = twins.iter().map(String::as_str).collect();
                    self.delete_instances(&twins)
                })?;
                Ok(json!({ "delete": answers.iter().map(batch::delete_json).collect::<Vec<_>>() }))
            }
        }
    }

    /// TSI's `GET timeseries/modelSettings`: `{"modelSettings": {...}}`.
    pub fn model_settings_json(&self) -> Json {
        json!({ "modelSettings": self.model_settings().to_json() })
    }

    /// TSI's `PATCH timeseries/modelSettings`: a body `{"name"?, "defaultTypeId"?}`; answers
    /// the settings as [`Store::model_settings_json`] does.
    pub fn update_model_settings_json(&self, body: &[u8]) -> Result<Json> {
        let bad = |m: String| Error::InvalidArgument(m);
        let json: Json = serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
        let Json::Object(mut map) = json else {
            return Err(bad("the body must be a JSON object".into()));
        };
        if let Some(key) = map.keys().find(|k| *k != "name" && *k != "defaultTypeId") {
            return Err(bad(format!(
                "modelSettings: {key:?} cannot be changed (name and defaultTypeId can)"
            )));
        }
        let mut text = |key: &str| match map.remove(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(other) => Err(bad(format!("modelSettings.{key} must be a string, not {other}"))),
        };
        let (name, default_type) = (text("name")?, text("defaultTypeId")?);
        if name.is_none() && default_type.is_none() {
            return Err(bad("modelSettings: one of name and defaultTypeId must be set".into()));
        }
        let settings = self.update_model_settings(name, default_type)?;
        Ok(json!({ "modelSettings": settings.to_json() }))
    }

    /// TSI's `GET timeseries/types`: a page of types, `{"types": [...],
    /// "continuationToken"?}`; pass the token back for the next page.
    pub fn types_list_json(&self, continuation: Option<&str>) -> Result<Json> {
        batch::list_page("types", &self.time_series_types(), continuation)
    }

    /// TSI's `GET timeseries/hierarchies`, paged as [`Store::types_list_json`].
    pub fn hierarchies_list_json(&self, continuation: Option<&str>) -> Result<Json> {
        batch::list_page("hierarchies", &self.hierarchies(), continuation)
    }

    /// TSI's `GET timeseries/instances` (put and implied), paged as
    /// [`Store::types_list_json`].
    pub fn instances_list_json(&self, continuation: Option<&str>) -> Result<Json> {
        batch::list_page("instances", &self.instances(), continuation)
    }
}

/// The entity lists of an imported model: `[...]`, or a `$batch` body `{"put": [...]}`.
fn put_list(value: Json, what: &str) -> Result<Vec<Json>> {
    match value {
        Json::Array(items) => Ok(items),
        Json::Object(mut map) if map.len() == 1 && map.contains_key("put") => {
            put_list(map.remove("put").unwrap_or_default(), what)
        }
        Json::Null => Ok(Vec::new()),
        other => Err(Error::InvalidArgument(format!(
            "{what} must be an array or {{\"put\": [...]}}, not {}",
            short(&other)
        ))),
    }
}

fn short(json: &Json) -> String {
    let text = json.to_string();
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

impl Store {
    /// The model as TSI's Model API returns it, in one document: `{"modelSettings",
    /// "types", "hierarchies", "instances"}`. With `derived`, also the derived types, the
    /// ADT hierarchy and every implied instance; without, only what was put (a store that
    /// imports it derives the rest from its own data).
    pub fn export_model_json(&self, derived: bool) -> Json {
        self.with_model(|m| {
            let (types, hierarchies, instances): (Vec<Json>, Vec<Json>, Vec<Json>) = if derived {
                (
                    m.types().iter().map(|t| t.to_json()).collect(),
                    m.hierarchies().iter().map(|h| h.to_json()).collect(),
                    m.instances().iter().map(|i| i.to_json()).collect(),
                )
            } else {
                (
                    m.model.types.values().map(TimeSeriesType::to_json).collect(),
                    m.model.hierarchies.values().map(Hierarchy::to_json).collect(),
                    m.model.instances.values().map(Instance::to_json).collect(),
                )
            };
            json!({
                "modelSettings": m.settings().to_json(),
                "types": types,
                "hierarchies": hierarchies,
                "instances": instances,
            })
        })
    }

    /// Imports a model exported by TSI or by [`Store::export_model_json`]: a document with
    /// any of `modelSettings`, `types`, `hierarchies` and `instances` (each list as an array
    /// or as a `$batch` body `{"put": [...]}`). Types are put first, then hierarchies, then
    /// instances, then the settings, each item on its own; the answer lists each kind's
    /// per-item results as the `$batch` calls do (`{"types": {"put": [...]}, ...,
    /// "modelSettings": {...} or {"error": ...}}`). A document that is not of that shape is
    /// refused whole.
    pub fn import_model_json(&self, body: &[u8]) -> Result<Json> {
        let json: Json =
            serde_json::from_slice(body).map_err(|e| Error::InvalidArgument(format!("the model is not JSON: {e}")))?;
        let Json::Object(mut map) = json else {
            return Err(Error::InvalidArgument("a model document is a JSON object".into()));
        };
        const KEYS: [&str; 4] = ["modelSettings", "types", "hierarchies", "instances"];
        if let Some(key) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(Error::InvalidArgument(format!(
                "unknown key {key:?} in a model document (allowed: {})",
                KEYS.join(", ")
            )));
        }
        let types = put_list(map.remove("types").unwrap_or_default(), "types")?;
        let hierarchies = put_list(map.remove("hierarchies").unwrap_or_default(), "hierarchies")?;
        let instances = put_list(map.remove("instances").unwrap_or_default(), "instances")?;
        let settings = match map.remove("modelSettings") {
            // TSI's GET answer wraps it: {"modelSettings": {...}}; a bare one is accepted.
            Some(Json::Object(mut s)) if s.len() == 1 && s.contains_key("modelSettings") => s.remove("modelSettings"),
            other => other,
        };
        let batch = |list: Vec<Json>| -> Result<Vec<u8>> {
            serde_json::to_vec(&json!({ "put": list })).map_err(|e| Error::InvalidArgument(e.to_string()))
        };
        let mut answer = serde_json::Map::new();
        answer.insert("types".into(), self.types_batch_json(&batch(types)?)?);
        answer.insert("hierarchies".into(), self.hierarchies_batch_json(&batch(hierarchies)?)?);
        answer.insert("instances".into(), self.instances_batch_json(&batch(instances)?)?);
        if let Some(Json::Object(mut s)) = settings {
            // Only what can be changed; the id properties must be $dtId's, as ours are.
            let ids_ok = match s.remove("timeSeriesIdProperties") {
                None => true,
                Some(ids) => ids == json!([{ "name": "$dtId", "type": "String" }]),
            };
            let result = if ids_ok {
                let body = serde_json::to_vec(&json!({
                    "name": s.get("name").cloned().unwrap_or(Json::Null),
                    "defaultTypeId": s.get("defaultTypeId").cloned().unwrap_or(Json::Null),
                }))
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                match self.update_model_settings_json(&body) {
                    Ok(settings) => settings,
                    Err(e) => json!({ "error": batch::error_json(&ModelError::from(e)) }),
                }
            } else {
                json!({ "error": { "code": "InvalidInput", "message":
                    "timeSeriesIdProperties must be [{\"name\": \"$dtId\", \"type\": \"String\"}]: a twinstore model's time series id is the twin id" } })
            };
            answer.insert("modelSettings".into(), result);
        }
        Ok(Json::Object(answer))
    }
}

/// The fields of a JSON object, refusing unknown ones; `what` names it in errors.
fn fields(value: Json, what: &str, allowed: &[&str]) -> Result<serde_json::Map<String, Json>> {
    let Json::Object(map) = value else {
        return Err(Error::InvalidArgument(format!("{what} must be an object")));
    };
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::InvalidArgument(format!(
            "{what}: unknown field {k:?} (allowed: {})",
            allowed.join(", ")
        )));
    }
    Ok(map)
}

fn json_usize(map: &serde_json::Map<String, Json>, key: &str, what: &str) -> Result<usize> {
    match map.get(key) {
        None | Some(Json::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Error::InvalidArgument(format!("{what}.{key} must be a whole number, not {v}"))),
    }
}

fn json_text(map: &mut serde_json::Map<String, Json>, key: &str, what: &str) -> Result<Option<String>> {
    match map.remove(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(v) => Err(Error::InvalidArgument(format!(
            "{what}.{key} must be a string, not {v}"
        ))),
    }
}

/// `{"by": ...}` of a sort.
fn sort_by(map: &mut serde_json::Map<String, Json>, what: &str) -> Result<Option<String>> {
    match map.remove("sort") {
        None | Some(Json::Null) => Ok(None),
        Some(v) => json_text(&mut fields(v, &format!("{what}.sort"), &["by", "order"])?, "by", what),
    }
}

/// A `pageSize`: 1 to 100 (TSI's range); absent, TSI's default (10).
fn page_size(map: &serde_json::Map<String, Json>, what: &str) -> Result<usize> {
    match map.get("pageSize") {
        None | Some(Json::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=100).contains(n))
            .map(|n| n as usize)
            .ok_or_else(|| Error::InvalidArgument(format!("{what}.pageSize must be 1 to 100, not {v}"))),
    }
}

/// An `InstanceSearch` from TSI's search body, with TSI's defaults: instances recursive,
/// highlighted, by rank, 10 a page; hierarchy nodes only when asked, then expanded until
/// children, by count; hierarchies asked without instances return no instances.
fn parse_search(body: &[u8]) -> Result<crate::tsm::InstanceSearch> {
    use crate::tsm::{Expand, InstanceOrder, InstanceSearch, NodeOrder};
    let json: Json =
        serde_json::from_slice(body).map_err(|e| Error::InvalidArgument(format!("the body is not JSON: {e}")))?;
    let mut map = fields(json, "search", &["searchString", "path", "instances", "hierarchies"])?;
    let text = json_text(&mut map, "searchString", "search")?
        .ok_or_else(|| Error::InvalidArgument("search: searchString is required (it may be empty)".into()))?;
    let mut q = InstanceSearch {
        text,
        recursive: true,
        highlights: true,
        expand: Expand::None,
        ..InstanceSearch::default()
    };
    q.path = match map.remove("path") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Json::String(s) => Ok(s),
                other => Err(Error::InvalidArgument(format!("search.path: {other} is not a string"))),
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(Error::InvalidArgument(format!(
                "search.path must be an array, not {other}"
            )));
        }
    };
    let instances = map.remove("instances").filter(|v| !v.is_null());
    let hierarchies = map.remove("hierarchies").filter(|v| !v.is_null());
    q.instances = instances.is_some() || hierarchies.is_none();
    if let Some(v) = instances {
        let what = "search.instances";
        let mut i = fields(
            v,
            what,
            &["recursive", "sort", "highlights", "pageSize", "continuationToken"],
        )?;
        q.recursive = i.get("recursive").and_then(Json::as_bool).unwrap_or(true);
        q.highlights = i.get("highlights").and_then(Json::as_bool).unwrap_or(true);
        q.page_size = page_size(&i, what)?;
        q.continuation = json_text(&mut i, "continuationToken", what)?;
        q.order = match sort_by(&mut i, what)?.as_deref() {
            None | Some("Rank") => InstanceOrder::Rank,
            Some("DisplayName") => InstanceOrder::DisplayName,
            Some(other) => {
                return Err(Error::InvalidArgument(format!(
                    "{what}.sort.by {other:?} is not Rank or DisplayName"
                )));
            }
        };
    }
    if let Some(v) = hierarchies {
        let what = "search.hierarchies";
        let mut h = fields(v, what, &["expand", "sort", "pageSize", "continuationToken"])?;
        q.node_page_size = page_size(&h, what)?;
        q.node_continuation = json_text(&mut h, "continuationToken", what)?;
        q.expand = match h.remove("expand") {
            None | Some(Json::Null) => Expand::UntilChildren,
            Some(e) => {
                let mut e = fields(e, &format!("{what}.expand"), &["kind"])?;
                match json_text(&mut e, "kind", what)?.as_deref() {
                    None | Some("UntilChildren") => Expand::UntilChildren,
                    Some("OneLevel") => Expand::OneLevel,
                    Some(other) => {
                        return Err(Error::InvalidArgument(format!(
                            "{what}.expand.kind {other:?} is not OneLevel or UntilChildren"
                        )));
                    }
                }
            }
        };
        q.node_order = match sort_by(&mut h, what)?.as_deref() {
            None | Some("CumulativeInstanceCount") => NodeOrder::Count,
            Some("Name") => NodeOrder::Name,
            Some(other) => {
                return Err(Error::InvalidArgument(format!(
                    "{what}.sort.by {other:?} is not CumulativeInstanceCount or Name"
                )));
            }
        };
    }
    Ok(q)
}

fn node_json(node: &crate::tsm::NodeHit) -> Json {
    let children = (!node.children.is_empty()).then(|| {
        json!({
            "hits": node.children.iter().map(node_json).collect::<Vec<_>>(),
            "hitCount": node.children.len(),
            "continuationToken": null,
        })
    });
    json!({
        "name": node.name,
        "cumulativeInstanceCount": node.cumulative_instance_count,
        "hierarchyNodes": children,
    })
}

impl Store {
    /// TSI's `POST timeseries/instances/search`: `{"searchString", "path", "instances":
    /// {"recursive", "sort": {"by"}, "highlights", "pageSize", "continuationToken"},
    /// "hierarchies": {"expand": {"kind"}, "sort": {"by"}, "pageSize", "continuationToken"}}`,
    /// answered `{"instances": {"hits", "hitCount", "continuationToken"?}, "hierarchyNodes":
    /// {"hits": [{"name", "cumulativeInstanceCount", "hierarchyNodes"?}], "hitCount",
    /// "continuationToken"?}}` (docs/MODEL.md, "Search").
    pub fn search_instances_json(&self, body: &[u8]) -> Result<Json> {
        let q = parse_search(body)?;
        let r = self.search_instances(&q)?;
        // A hit is TSI's InstanceHit: id, name, type, hierarchies and highlights (null
        // unless asked), not the whole instance.
        let hits: Vec<Json> = r
            .instances
            .iter()
            .map(|h| {
                let i = &h.instance;
                json!({
                    "timeSeriesId": [i.twin],
                    "name": i.name,
                    "typeId": i.type_id,
                    "hierarchyIds": i.hierarchy_ids,
                    "highlights": h.highlights,
                })
            })
            .collect();
        // Hierarchies asked without instances: an empty instances list, as TSI answers.
        let instances = json!({
            "hits": hits,
            "hitCount": r.instance_count,
            "continuationToken": r.continuation,
        });
        let nodes = (q.expand != crate::tsm::Expand::None).then(|| {
            json!({
                "hits": r.nodes.iter().map(node_json).collect::<Vec<_>>(),
                "hitCount": r.node_count,
                "continuationToken": r.node_continuation,
            })
        });
        Ok(json!({ "instances": instances, "hierarchyNodes": nodes }))
    }

    /// TSI's `POST timeseries/instances/suggest`: `{"searchString", "take"}` (take: default
    /// 10, at most 1,000), answered `{"suggestions": [{"searchString",
    /// "highlightedSearchString"}...]}`.
    pub fn suggest_instances_json(&self, body: &[u8]) -> Result<Json> {
        let json: Json =
            serde_json::from_slice(body).map_err(|e| Error::InvalidArgument(format!("the body is not JSON: {e}")))?;
        let mut map = fields(json, "suggest", &["searchString", "take"])?;
        let take = match json_usize(&map, "take", "suggest")? {
            0 => 10,
            n => n.min(crate::tsm::search::MAX_PAGE),
        };
        let prefix = json_text(&mut map, "searchString", "suggest")?.unwrap_or_default();
        let suggestions: Vec<Json> = self
            .suggest_instances(&prefix, take)
            .into_iter()
            .map(|(s, marked)| json!({ "searchString": s, "highlightedSearchString": marked }))
            .collect();
        Ok(json!({ "suggestions": suggestions }))
    }
}
