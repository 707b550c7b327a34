//! The Time Series Model's entities (model settings, types, hierarchies, instances) and their
//! TSI JSON shapes, read and written the way TSI's Model API reads and writes them.
//!
//! JSON is read strictly: an unknown field, a field of the wrong JSON type or a missing
//! required field is an error naming the field. Reading checks the shape only; whether an
//! entity fits the model (its type exists, its variables type-check) is `tsm::Model`'s job.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use crate::error::{Error, Result};
use crate::model::Value;
use crate::query::Variable;
use crate::query::tsi::{variable, variable_json};

/// TSI's built-in default type: its id, as every TSI environment has it.
pub const DEFAULT_TYPE_ID: &str = "1be09af9-f089-4d6b-9f0b-48018b5f7393";
/// The name of the built-in default type.
pub const DEFAULT_TYPE_NAME: &str = "DefaultType";
/// The one time series id property of a twinstore model: the twin id, a String.
pub const TIME_SERIES_ID_PROPERTY: &str = "$dtId";

/// The model's settings. Its time series id is always the twin id (`$dtId`, a String).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSettings {
    /// The model's display name.
    pub name: String,
    /// The type of instances that do not name one: every twin has an instance of it until
    /// the instance is put with another type.
    pub default_type_id: String,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            name: "DefaultModel".into(),
            default_type_id: DEFAULT_TYPE_ID.into(),
        }
    }
}

/// A time series type: a named set of variables an instance of it can be queried for.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSeriesType {
    /// The type id (TSI uses GUIDs; any non-empty text is accepted).
    pub id: String,
    /// The display name, unique among types.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The variables, by name, in the order given.
    pub variables: Vec<(String, Variable)>,
}

impl TimeSeriesType {
    /// TSI's default type: one aggregate variable, `EventCount` (`count()`).
    pub fn default_type() -> Self {
        TimeSeriesType {
            id: DEFAULT_TYPE_ID.into(),
            name: DEFAULT_TYPE_NAME.into(),
            description: Some("Default type".into()),
            variables: vec![(
                "EventCount".into(),
                Variable::Aggregate {
                    aggregation: "count()".into(),
                    filter: None,
                },
            )],
        }
    }

    /// The variable called `name`.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A hierarchy: a tree over instances, whose levels are the values of instance fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Hierarchy {
    /// The hierarchy id.
    pub id: String,
    /// The display name, unique among hierarchies.
    pub name: String,
    /// The instance fields whose values name the levels, from the root down.
    pub instance_field_names: Vec<String>,
}

/// An instance: the model's view of one time series (one twin).
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// The twin id (the time series id).
    pub twin: String,
    /// Its type.
    pub type_id: String,
    /// A display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// The hierarchies it appears in.
    pub hierarchy_ids: Vec<String>,
    /// Named values (String, Double, Long or Bool); those a hierarchy names are its path.
    pub instance_fields: BTreeMap<String, Value>,
}

impl Instance {
    /// An instance of `type_id` with nothing else set.
    pub fn new(twin: impl Into<String>, type_id: impl Into<String>) -> Self {
        Instance {
            twin: twin.into(),
            type_id: type_id.into(),
            name: None,
            description: None,
            hierarchy_ids: Vec::new(),
            instance_fields: BTreeMap::new(),
        }
    }
}

/// How an entity is named in errors before its id is known.
fn given_what(kind: &str, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{kind} {id:?}"),
        None => format!("{kind} (no id)"),
    }
}

/// An id for an entity created without one, in TSI's GUID form: 32 hex digits from the name,
/// the time and a counter of this process (unique in practice; TSI's server generates one
/// the same way, unseen by the client until the answer).
pub(crate) fn generated_id(name: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h = foldhash::quality::RandomState::default().build_hasher();
    h.write(name.as_bytes());
    h.write_u128(nanos);
    h.write_u64(n);
    let a = h.finish();
    h.write_u64(a);
    let b = h.finish();
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn bad(what: &str, message: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("{what}: {message}"))
}

/// The fields of a JSON object, refusing any not in `allowed`.
fn object(body: Json, what: &str, allowed: &[&str]) -> Result<Map<String, Json>> {
    let Json::Object(map) = body else {
        return Err(bad(what, "must be a JSON object"));
    };
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(
            what,
            format!("unknown field {key:?} (allowed: {})", allowed.join(", ")),
        ));
    }
    Ok(map)
}

fn text(map: &mut Map<String, Json>, key: &str, what: &str) -> Result<Option<String>> {
    match map.remove(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(other) => Err(bad(what, format!("{key} must be a string, not {other}"))),
    }
}

fn required_text(map: &mut Map<String, Json>, key: &str, what: &str) -> Result<String> {
    text(map, key, what)?.ok_or_else(|| bad(what, format!("{key} is required")))
}

fn texts(map: &mut Map<String, Json>, key: &str, what: &str) -> Result<Vec<String>> {
    match map.remove(key) {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Json::String(s) => Ok(s),
                other => Err(bad(what, format!("{key} must hold strings, not {other}"))),
            })
            .collect(),
        Some(other) => Err(bad(what, format!("{key} must be an array of strings, not {other}"))),
    }
}

/// A time series id: `["twin"]` (TSI's array form) or `"twin"`.
pub(crate) fn time_series_id(body: Json, what: &str) -> Result<String> {
    match body {
        Json::String(s) => Ok(s),
        Json::Array(mut items) if items.len() == 1 => match items.pop() {
            Some(Json::String(s)) => Ok(s),
            other => Err(bad(
                what,
                format!("timeSeriesId must hold one string (the twin id), not {other:?}"),
            )),
        },
        other => Err(bad(
            what,
            format!("timeSeriesId must be [\"<twin id>\"] (the one id property is $dtId), not {other}"),
        )),
    }
}

/// An instance field's value: a JSON string, number or boolean.
pub(crate) fn field_value(json: Json, what: &str) -> Result<Value> {
    match json {
        Json::String(s) => Ok(Value::String(s.into())),
        Json::Bool(b) => Ok(Value::Bool(b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Ok(Value::Long(i)),
            None => n
                .as_f64()
                .map(Value::Double)
                .ok_or_else(|| bad(what, format!("{n} is not a representable number"))),
        },
        other => Err(bad(
            what,
            format!("an instance field is a string, number or boolean, not {other}"),
        )),
    }
}

impl ModelSettings {
    /// `{"name", "timeSeriesIdProperties": [{"name": "$dtId", "type": "String"}], "defaultTypeId"}`.
    pub fn to_json(&self) -> Json {
        json!({
            "name": self.name,
            "timeSeriesIdProperties": [{ "name": TIME_SERIES_ID_PROPERTY, "type": "String" }],
            "defaultTypeId": self.default_type_id,
        })
    }
}

impl TimeSeriesType {
    /// TSI's JSON shape of a type.
    pub fn to_json(&self) -> Json {
        let variables: Map<String, Json> = self
            .variables
            .iter()
            .map(|(name, v)| (name.clone(), variable_json(v)))
            .collect();
        let mut out = json!({ "id": self.id, "name": self.name, "variables": variables });
        if let Some(d) = &self.description {
            out["description"] = json!(d);
        }
        out
    }

    /// A type from TSI's JSON shape (`id`, `name`, `description`, `variables`, and `kind`
    /// `"TimeSeriesType"`, TSI's optional tag). Errors name the type and the field.
    pub fn from_json(body: Json) -> Result<Self> {
        let what = "type";
        let mut map = object(body, what, &["id", "name", "description", "variables", "kind"])?;
        let given = text(&mut map, "id", what)?;
        let name = required_text(&mut map, "name", &given_what("type", given.as_deref()))?;
        // TSI: an id left out on create is generated by the server.
        let id = given.unwrap_or_else(|| generated_id(&name));
        let what = &format!("type {id:?}");
        let description = text(&mut map, "description", what)?;
        let variables = match map.remove("variables") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Object(vars)) => vars
                .into_iter()
                .map(|(name, body)| {
                    let v = variable(&name, body).map_err(|e| bad(what, e))?;
                    Ok((name, v))
                })
                .collect::<Result<_>>()?,
            Some(other) => return Err(bad(what, format!("variables must be an object, not {other}"))),
        };
        Ok(TimeSeriesType {
            id,
            name,
            description,
            variables,
        })
    }
}

impl Hierarchy {
    /// TSI's JSON shape: `{"id", "name", "source": {"instanceFieldNames": [...]}}`.
    pub fn to_json(&self) -> Json {
        json!({
            "id": self.id,
            "name": self.name,
            "source": { "instanceFieldNames": self.instance_field_names },
        })
    }

    /// A hierarchy from TSI's JSON shape.
    pub fn from_json(body: Json) -> Result<Self> {
        let what = "hierarchy";
        let mut map = object(body, what, &["id", "name", "source"])?;
        let given = text(&mut map, "id", what)?;
        let name = required_text(&mut map, "name", &given_what("hierarchy", given.as_deref()))?;
        let id = given.unwrap_or_else(|| generated_id(&name));
        let what = &format!("hierarchy {id:?}");
        let source = map
            .remove("source")
            .ok_or_else(|| bad(what, "source.instanceFieldNames is required"))?;
        let mut source = object(source, &format!("{what}: source"), &["instanceFieldNames"])?;
        let instance_field_names = texts(&mut source, "instanceFieldNames", what)?;
        Ok(Hierarchy {
            id,
            name,
            instance_field_names,
        })
    }
}

impl Instance {
    /// TSI's JSON shape of an instance.
    pub fn to_json(&self) -> Json {
        let fields: Map<String, Json> = self
            .instance_fields
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        let mut out = json!({
            "timeSeriesId": [self.twin],
            "typeId": self.type_id,
        });
        if let Some(name) = &self.name {
            out["name"] = json!(name);
        }
        if let Some(d) = &self.description {
            out["description"] = json!(d);
        }
        if !self.hierarchy_ids.is_empty() {
            out["hierarchyIds"] = json!(self.hierarchy_ids);
        }
        if !fields.is_empty() {
            out["instanceFields"] = Json::Object(fields);
        }
        out
    }

    /// An instance from TSI's JSON shape. Without `typeId` it takes `default_type_id`.
    pub fn from_json(body: Json, default_type_id: &str) -> Result<Self> {
        let what = "instance";
        let mut map = object(
            body,
            what,
            &[
                "timeSeriesId",
                "typeId",
                "name",
                "description",
                "hierarchyIds",
                "instanceFields",
            ],
        )?;
        let id = map
            .remove("timeSeriesId")
            .ok_or_else(|| bad(what, "timeSeriesId is required"))?;
        let twin = time_series_id(id, what)?;
        let what = &format!("instance {twin:?}");
        let type_id = text(&mut map, "typeId", what)?.unwrap_or_else(|| default_type_id.to_string());
        let name = text(&mut map, "name", what)?;
        let description = text(&mut map, "description", what)?;
        let hierarchy_ids = texts(&mut map, "hierarchyIds", what)?;
        let instance_fields = match map.remove("instanceFields") {
            None | Some(Json::Null) => BTreeMap::new(),
            Some(Json::Object(fields)) => fields
                .into_iter()
                .map(|(k, v)| {
                    let value = field_value(v, &format!("{what}: instance field {k:?}"))?;
                    Ok((k, value))
                })
                .collect::<Result<_>>()?,
            Some(other) => {
                return Err(bad(what, format!("instanceFields must be an object, not {other}")));
            }
        };
        Ok(Instance {
            twin,
            type_id,
            name,
            description,
            hierarchy_ids,
            instance_fields,
        })
    }
}
