//! The Time Series Model (TSM): model settings, types, hierarchies and instances, as TSI
//! Gen2 has them, kept beside the catalog (docs/MODEL.md).
//!
//! - [`entity`]: the entities and their TSI JSON shapes.
//! - `log`: the durable model file (a snapshot and the changes logged since).
//! - `batch`: TSI's `$batch` bodies and lists (get, put, update, delete; per-item errors).
//! - [`graph`]: the twin graph from ADT's relationship events, and containment paths.
//! - [`search`]: instance search and hierarchy navigation (TSI's `search` and `suggest`).
//! - [`mod@derive`]: the model as readers see it: what was put, plus the types, the "ADT"
//!   hierarchy and the instances derived from the data and the graph.
//!
//! Every twin has an instance: the one put for it, or, until one is, an implied instance of
//! the default type with no name, hierarchies or fields. Changes are checked whole against
//! the model before any is applied (a change is never half applied), logged, then applied.

pub(crate) mod batch;
pub mod derive;
pub mod entity;
pub mod graph;
pub(crate) mod log;
pub mod search;
mod search_text;

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::model::Value;
use crate::query::check_variable;

pub use derive::{ADT_HIERARCHY_ID, ADT_HIERARCHY_NAME, Derivation, adt_level_field};
pub use entity::{DEFAULT_TYPE_ID, Hierarchy, Instance, ModelSettings, TimeSeriesType};
pub use graph::{Containment, Relationship};
pub use search::{Expand, InstanceHit, InstanceOrder, InstanceSearch, NodeHit, NodeOrder, SearchResult};

use derive::Lens;
use graph::{Graph, GraphChange};

/// At most this many variables in a type (TSI's limit).
pub const MAX_TYPE_VARIABLES: usize = 100;
/// Longest id, name, instance field name or time series id accepted, in characters
/// (TSI's limit).
pub const MAX_NAME_CHARS: usize = 1024;
/// At most this many types put in a model (TSI's limit; types derived from DTDL models are
/// not counted).
pub const MAX_TYPES: usize = 1000;
/// At most this many hierarchies put in a model (TSI's limit; also the most one instance
/// can be in), and the most levels one hierarchy has.
pub const MAX_HIERARCHIES: usize = 32;
/// At most this many levels in a hierarchy (TSI's limit).
pub const MAX_HIERARCHY_DEPTH: usize = 32;
/// At most this many instance fields in an instance (TSI's limit).
pub const MAX_INSTANCE_FIELDS: usize = 100;
/// Largest instance, as its TSI JSON, in bytes (TSI's limit: 16 KB).
pub const MAX_INSTANCE_BYTES: usize = 16 * 1024;

/// Why a model item was refused: TSI's error code and a message naming the item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError {
    /// TSI's error code: `InvalidInput` (the item is refused) or `ResourceNotFound` (it
    /// names an item that does not exist), as TSI's servers answer.
    pub code: &'static str,
    /// TSI's `innerError` code that narrows the cause (`TypeNotFound`, `InstanceNotFound`,
    /// `HierarchyNotFound`, `NameAlreadyExists`, `CannotDeleteInstance`, `CannotDeleteType`,
    /// `CannotDeleteHierarchy`, `NameExceededLimit`, `ObjectSizeExceededLimit`,
    /// `NumberOfTypesExceededLimit`, ...), when there is one.
    pub inner: Option<&'static str>,
    /// What is wrong, naming the item and the field.
    pub message: String,
}

impl ModelError {
    /// `InvalidInput` without a narrower cause.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ModelError {
            code: "InvalidInput",
            inner: None,
            message: message.into(),
        }
    }

    /// `InvalidInput` with the inner code `inner`.
    pub(crate) fn invalid_because(inner: &'static str, message: impl Into<String>) -> Self {
        ModelError {
            code: "InvalidInput",
            inner: Some(inner),
            message: message.into(),
        }
    }

    /// `ResourceNotFound` with the inner code `inner` (`TypeNotFound`, ...).
    pub(crate) fn not_found(inner: &'static str, message: impl Into<String>) -> Self {
        ModelError {
            code: "ResourceNotFound",
            inner: Some(inner),
            message: message.into(),
        }
    }

    /// A name another item of the kind already has: `InvalidInput` / `NameAlreadyExists`.
    pub(crate) fn name_taken(message: impl Into<String>) -> Self {
        Self::invalid_because("NameAlreadyExists", message)
    }
}

impl From<ModelError> for Error {
    fn from(e: ModelError) -> Self {
        Error::Model {
            code: e.code,
            inner: e.inner,
            message: e.message,
        }
    }
}

impl From<Error> for ModelError {
    fn from(e: Error) -> Self {
        match e {
            Error::Model { code, inner, message } => ModelError { code, inner, message },
            Error::InvalidArgument(message) => ModelError::invalid(message),
            other => ModelError {
                code: "InternalError",
                inner: None,
                message: other.to_string(),
            },
        }
    }
}

/// A change to the model, checked before it is made. What the model file logs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Change {
    Settings(ModelSettings),
    PutTypes(Vec<TimeSeriesType>),
    DeleteTypes(Vec<String>),
    PutHierarchies(Vec<Hierarchy>),
    DeleteHierarchies(Vec<String>),
    PutInstances(Vec<Instance>),
    DeleteInstances(Vec<String>),
    /// Relationship and twin life events of one ADT ingest call, in order.
    Graph(Vec<GraphChange>),
}

/// The model in memory.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Model {
    pub settings: ModelSettings,
    pub types: BTreeMap<String, TimeSeriesType>,
    pub hierarchies: BTreeMap<String, Hierarchy>,
    /// Instances that were put, by twin id (every other twin has the implied one).
    pub instances: BTreeMap<String, Instance>,
    /// The twin graph and deleted twins, from ADT events.
    pub graph: Graph,
    /// Bumped by every change to what derivation reads (the graph, the settings; not
    /// stored): keys the derived view.
    pub derived_version: u64,
    /// Bumped by every change (not stored): keys the search index.
    pub version: u64,
}

impl Default for Model {
    fn default() -> Self {
        let default_type = TimeSeriesType::default_type();
        Model {
            settings: ModelSettings::default(),
            types: BTreeMap::from([(default_type.id.clone(), default_type)]),
            hierarchies: BTreeMap::new(),
            instances: BTreeMap::new(),
            graph: Graph::default(),
            derived_version: 0,
            version: 0,
        }
    }
}

fn check_id(what: &str, field: &str, id: &str) -> Result<(), ModelError> {
    if id.trim().is_empty() {
        return Err(ModelError::invalid(format!("{what}: {field} must not be empty")));
    }
    // Counting characters is only needed when the byte length could exceed the limit.
    if id.len() > MAX_NAME_CHARS && id.chars().count() > MAX_NAME_CHARS {
        return Err(ModelError::invalid_because(
            "NameExceededLimit",
            format!(
                "{what}: {field} is {} characters long; the limit is {MAX_NAME_CHARS}",
                id.chars().count()
            ),
        ));
    }
    Ok(())
}

/// Checks an entity's id and name, and that no other entity of its `kind` has the name:
/// neither one of `existing` (ids and names, those replaced in this batch excepted) nor one
/// accepted earlier in the batch (`taken`: names by id).
fn check_named<'a>(
    what: &str,
    kind: &str,
    (id, name): (&str, &str),
    existing: impl Iterator<Item = (&'a str, &'a str)>,
    taken: &'a BTreeMap<String, String>,
) -> Result<(), ModelError> {
    check_id(what, "id", id)?;
    check_id(what, "name", name)?;
    let clash = existing
        .filter(|(other, _)| !taken.contains_key(*other))
        .chain(taken.iter().map(|(i, n)| (i.as_str(), n.as_str())))
        .find(|(other, other_name)| *other_name == name && *other != id);
    if let Some((other, _)) = clash {
        return Err(ModelError::name_taken(format!(
            "{what}: the name {name:?} is already the name of {kind} {other:?}"
        )));
    }
    Ok(())
}

/// How many entities of a kind there would be with `id` put: those stored (`existing`), those
/// accepted earlier in the batch (`taken`) and `id`, each once.
fn count_after<T>(existing: &BTreeMap<String, T>, taken: &BTreeMap<String, String>, id: &str) -> usize {
    let new_in_batch = taken.keys().filter(|k| !existing.contains_key(*k)).count();
    let this = usize::from(!existing.contains_key(id) && !taken.contains_key(id));
    existing.len() + new_in_batch + this
}

impl Model {
    /// Makes a change that was checked (or logged): never fails.
    pub(crate) fn apply(&mut self, change: Change) {
        self.version += 1;
        if matches!(change, Change::Settings(_) | Change::Graph(_)) {
            self.derived_version += 1;
        }
        match change {
            Change::Settings(s) => self.settings = s,
            Change::PutTypes(types) => {
                for t in types {
                    self.types.insert(t.id.clone(), t);
                }
            }
            Change::DeleteTypes(ids) => {
                for id in ids {
                    self.types.remove(&id);
                }
            }
            Change::PutHierarchies(hierarchies) => {
                for h in hierarchies {
                    self.hierarchies.insert(h.id.clone(), h);
                }
            }
            Change::DeleteHierarchies(ids) => {
                for id in ids {
                    self.hierarchies.remove(&id);
                }
            }
            Change::PutInstances(instances) => {
                for i in instances {
                    self.instances.insert(i.twin.clone(), i);
                }
            }
            Change::DeleteInstances(twins) => {
                for twin in twins {
                    self.instances.remove(&twin);
                }
            }
            Change::Graph(changes) => {
                for c in changes {
                    self.graph.apply(c);
                }
            }
        }
    }

    /// Checks new settings: the default type must exist.
    pub(crate) fn check_settings(&self, s: &ModelSettings, view: &Lens<'_>) -> Result<(), ModelError> {
        check_id("model settings", "name", &s.name)?;
        if view.type_by_id(&s.default_type_id).is_none() {
            return Err(ModelError::invalid_because(
                "TypeNotFound",
                format!(
                    "model settings: defaultTypeId {:?} is not a type of the model",
                    s.default_type_id
                ),
            ));
        }
        Ok(())
    }

    /// Checks a type to be put: id and name, a name no other type has (`taken`: names of
    /// types accepted earlier in the same batch, by id), and every variable type-checks.
    pub(crate) fn check_type(
        &self,
        t: &TimeSeriesType,
        taken: &BTreeMap<String, String>,
        view: &Lens<'_>,
    ) -> Result<(), ModelError> {
        let what = format!("type {:?}", t.id);
        let others = view.types().into_iter().map(|o| (o.id.as_str(), o.name.as_str()));
        check_named(&what, "type", (&t.id, &t.name), others, taken)?;
        if count_after(&self.types, taken, &t.id) > MAX_TYPES {
            return Err(ModelError::invalid_because(
                "NumberOfTypesExceededLimit",
                format!("{what}: the model has {MAX_TYPES} types, the limit"),
            ));
        }
        if t.variables.is_empty() {
            return Err(ModelError::invalid(format!(
                "{what}: a type needs at least one variable (TSI: variables are not empty)"
            )));
        }
        if t.variables.len() > MAX_TYPE_VARIABLES {
            return Err(ModelError::invalid(format!(
                "{what}: {} variables; the limit is {MAX_TYPE_VARIABLES}",
                t.variables.len()
            )));
        }
        let mut seen = BTreeSet::new();
        for (name, v) in &t.variables {
            check_id(&what, "a variable name", name)?;
            if !seen.insert(name.as_str()) {
                return Err(ModelError::invalid(format!(
                    "{what}: variable {name:?} is defined twice"
                )));
            }
            check_variable(name, v)
                .map_err(|e| ModelError::invalid(format!("{what}: {}", ModelError::from(e).message)))?;
        }
        Ok(())
    }

    /// Checks the deletion of type `id`: refused while an instance (one put, or the implied
    /// ones through the default type) is of it. `used`: the type ids instances use.
    pub(crate) fn check_type_delete(&self, id: &str, used: &BTreeSet<&str>, view: &Lens<'_>) -> Result<(), ModelError> {
        let what = format!("type {id:?}");
        if view.is_derived_type(id) {
            return Err(ModelError::invalid_because(
                "CannotDeleteType",
                format!(
                    "{what} is derived from the DTDL model its twins report and cannot be deleted; put a type \
                 with this id to replace it"
                ),
            ));
        }
        if !self.types.contains_key(id) {
            return Err(ModelError::not_found("TypeNotFound", format!("{what} does not exist")));
        }
        if id == self.settings.default_type_id {
            return Err(ModelError::invalid_because(
                "CannotDeleteType",
                format!(
                    "{what} is the model's default type (every instance not put with a type is of it): \
                 change the model settings' defaultTypeId first"
                ),
            ));
        }
        if used.contains(id) {
            return Err(ModelError::invalid_because(
                "CannotDeleteType",
                format!("{what} is used by instances: put them with another type first"),
            ));
        }
        Ok(())
    }

    /// Checks a hierarchy to be put: id, name (unique, as for types) and at least one level,
    /// each a distinct, non-empty instance field name.
    pub(crate) fn check_hierarchy(
        &self,
        h: &Hierarchy,
        taken: &BTreeMap<String, String>,
        view: &Lens<'_>,
    ) -> Result<(), ModelError> {
        let what = format!("hierarchy {:?}", h.id);
        let others = view.hierarchies().into_iter().map(|o| (o.id.as_str(), o.name.as_str()));
        check_named(&what, "hierarchy", (&h.id, &h.name), others, taken)?;
        if count_after(&self.hierarchies, taken, &h.id) > MAX_HIERARCHIES {
            return Err(ModelError::invalid_because(
                "NumberOfHierarchiesExceededLimit",
                format!("{what}: the model has {MAX_HIERARCHIES} hierarchies, the limit"),
            ));
        }
        if h.instance_field_names.is_empty() {
            return Err(ModelError::invalid(format!(
                "{what}: source.instanceFieldNames is empty; a hierarchy needs at least one level"
            )));
        }
        if h.instance_field_names.len() > MAX_HIERARCHY_DEPTH {
            return Err(ModelError::invalid_because(
                "HierarchyDepthExceededLimit",
                format!(
                    "{what}: {} levels; the limit is {MAX_HIERARCHY_DEPTH}",
                    h.instance_field_names.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for field in &h.instance_field_names {
            check_id(&what, "an instance field name", field)?;
            if !seen.insert(field.as_str()) {
                return Err(ModelError::invalid(format!(
                    "{what}: instance field {field:?} names two levels"
                )));
            }
        }
        Ok(())
    }

    /// Checks the deletion of hierarchy `id`: refused while an instance is in it.
    pub(crate) fn check_hierarchy_delete(&self, id: &str, used: &BTreeSet<&str>) -> Result<(), ModelError> {
        let what = format!("hierarchy {id:?}");
        if !self.hierarchies.contains_key(id) {
            return Err(ModelError::not_found(
                "HierarchyNotFound",
                format!("{what} does not exist"),
            ));
        }
        if used.contains(id) {
            return Err(ModelError::invalid_because(
                "CannotDeleteHierarchy",
                format!("{what} is used by instances: put them without it first"),
            ));
        }
        Ok(())
    }

    /// Checks an instance to be put: its type and hierarchies exist, and the fields that name
    /// a level of one of its hierarchies are strings.
    pub(crate) fn check_instance(&self, i: &Instance, view: &Lens<'_>) -> Result<(), ModelError> {
        let what = format!("instance {:?}", i.twin);
        check_id(&what, "timeSeriesId", &i.twin)?;
        if view.type_by_id(&i.type_id).is_none() {
            return Err(ModelError::invalid_because(
                "TypeNotFound",
                format!("{what}: typeId {:?} is not a type of the model", i.type_id),
            ));
        }
        let mut seen = BTreeSet::new();
        for id in &i.hierarchy_ids {
            if !seen.insert(id.as_str()) {
                return Err(ModelError::invalid(format!("{what}: hierarchy {id:?} is listed twice")));
            }
            let Some(h) = view.hierarchy(id) else {
                return Err(ModelError::invalid_because(
                    "HierarchyNotFound",
                    format!("{what}: hierarchyIds names {id:?}, which is not a hierarchy of the model"),
                ));
            };
            for level in &h.instance_field_names {
                match i.instance_fields.get(level) {
                    Some(Value::String(_)) => {}
                    None => {
                        return Err(ModelError::invalid(format!(
                            "{what}: instance field {level:?} names a level of hierarchy {id:?} and is missing \
                             (TSI: every instance in a hierarchy sets all its level fields)"
                        )));
                    }
                    Some(other) => {
                        return Err(ModelError::invalid(format!(
                            "{what}: instance field {level:?} names a level of hierarchy {id:?} and must be a \
                             string, not the {} {}",
                            other.value_type(),
                            other.to_json()
                        )));
                    }
                }
            }
        }
        for name in i.instance_fields.keys() {
            check_id(&what, "an instance field name", name)?;
        }
        if i.instance_fields.len() > MAX_INSTANCE_FIELDS {
            return Err(ModelError::invalid_because(
                "NumberOfInstanceFieldsExceededLimit",
                format!(
                    "{what}: {} instance fields; the limit is {MAX_INSTANCE_FIELDS}",
                    i.instance_fields.len()
                ),
            ));
        }
        if i.hierarchy_ids.len() > MAX_HIERARCHIES {
            return Err(ModelError::invalid_because(
                "NumberOfHierarchiesExceededLimit",
                format!(
                    "{what}: in {} hierarchies; the limit is {MAX_HIERARCHIES}",
                    i.hierarchy_ids.len()
                ),
            ));
        }
        let size = i.to_json().to_string().len();
        if size > MAX_INSTANCE_BYTES {
            return Err(ModelError::invalid_because(
                "ObjectSizeExceededLimit",
                format!("{what}: {size} bytes as JSON; the limit is {MAX_INSTANCE_BYTES}"),
            ));
        }
        Ok(())
    }
}
