//! The Time Series Model on the store: typed get, put, update, delete and list of model
//! settings, types, hierarchies and instances, each change checked whole, logged to the
//! model file and synced before it is applied and acknowledged.
//!
//! Lock order: `log` (held for a whole change: check, append, apply), then `model`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::Store;
use crate::error::Result;
use crate::ingest::GraphEvent;
use crate::model::Value;
use crate::query::TwinSelector;
use crate::tsm::derive::{Lens, TwinSummary, View};
use crate::tsm::graph::GraphChange;
use crate::tsm::log::{self, ModelLog};
use crate::tsm::search::SearchIndex;
use crate::tsm::{Change, Hierarchy, Instance, Model, ModelError, ModelSettings, Relationship, TimeSeriesType};
use crate::tsm::{InstanceSearch, SearchResult};
use crate::vfs::Vfs;

/// Per-item outcomes of a model call: the item as stored, or why it was refused.
pub type ItemResults<T> = Vec<Result<T, ModelError>>;

/// The model and its file.
#[derive(Debug)]
pub(crate) struct TsmState {
    pub model: RwLock<Model>,
    log: Mutex<ModelLog>,
    /// The derived view and the (model's derived version, catalog changes) it was built at.
    view: Mutex<Option<(u64, u64, Arc<View>)>>,
    /// The search index and what it was built from.
    search: Mutex<Option<BuiltIndex>>,
}

/// A search index with the model version and the view it was built from.
type BuiltIndex = (u64, Arc<View>, Arc<SearchIndex>);

impl TsmState {
    /// Reads the store's model file (or starts the default model) and rewrites it as one
    /// snapshot, open for appends.
    pub(crate) fn open(vfs: &dyn Vfs, dir: &Path) -> Result<Self> {
        let loaded = log::read(vfs, dir)?;
        if let Some((offset, reason)) = &loaded.torn_tail {
            tracing::warn!(
                offset,
                reason = %reason,
                "model file: cut a torn last frame (an unacknowledged model change)"
            );
        }
        let log = ModelLog::create(vfs, dir, &loaded.model)?;
        Ok(TsmState {
            model: RwLock::new(loaded.model),
            log: Mutex::new(log),
            view: Mutex::new(None),
            search: Mutex::new(None),
        })
    }
}

impl TsmState {
    /// Reads the model file as it is on disk (with no change in flight): the frames read, or
    /// the damage found.
    pub(crate) fn verify(&self, vfs: &dyn Vfs, dir: &Path) -> Result<usize> {
        let _log = self.log.lock();
        let loaded = log::read(vfs, dir)?;
        match loaded.torn_tail {
            // Appends are synced before they are acknowledged and none is in flight: a torn
            // frame here is damage, not an interrupted append.
            Some((offset, reason)) => Err(crate::error::Error::corruption(
                dir.join(log::MODEL_FILE),
                offset,
                reason,
            )),
            None => Ok(loaded.frames),
        }
    }

    /// Writes the model, as one snapshot, as the model file of the store in `dest`.
    pub(crate) fn copy_to(&self, vfs: &dyn Vfs, dest: &Path) -> Result<()> {
        let _log = self.log.lock();
        let model = self.model.read();
        ModelLog::create(vfs, dest, &model).map(drop)
    }
}

impl Store {
    /// The model as readers see it (put and derived), rebuilt when the model or the catalog
    /// changed since it was last built.
    pub(crate) fn model_view(&self) -> Arc<View> {
        let tsm = &self.inner.tsm;
        let mut cached = tsm.view.lock();
        let catalog = self.inner.catalog.changes();
        let model = tsm.model.read();
        if let Some((version, changes, view)) = cached.as_ref()
            && *version == model.derived_version
            && *changes == catalog
        {
            return view.clone();
        }
        let twins: Vec<TwinSummary> = self
            .inner
            .catalog
            .all()
            .iter()
            .map(|e| {
                let meta = e.meta.lock();
                TwinSummary {
                    name: e.name.to_string(),
                    model: meta.model.as_deref().map(str::to_string),
                    columns: meta.columns.iter().map(|c| (c.name.to_string(), c.ty)).collect(),
                }
            })
            .collect();
        let view = Arc::new(View::build(&model, &twins, &self.inner.options.derivation));
        *cached = Some((model.derived_version, catalog, view.clone()));
        view
    }

    /// The search index of the model as it is now, rebuilt when the model or the view
    /// changed since it was built.
    fn search_index(&self) -> Arc<SearchIndex> {
        let view = self.model_view();
        let tsm = &self.inner.tsm;
        let mut cached = tsm.search.lock();
        let model = tsm.model.read();
        if let Some((version, built_from, index)) = cached.as_ref()
            && *version == model.version
            && Arc::ptr_eq(built_from, &view)
        {
            return index.clone();
        }
        let lens = Lens {
            model: &model,
            view: &view,
        };
        let index = Arc::new(SearchIndex::build(
            &lens,
            self.inner.options.derivation.deleted_in_search,
        ));
        *cached = Some((model.version, view.clone(), index.clone()));
        index
    }

    /// Instances and hierarchy nodes matching `search` (TSI's `timeseries/instances/search`;
    /// see [`InstanceSearch`]). An unknown hierarchy in the path or a token this store did
    /// not give is an error.
    pub fn search_instances(&self, search: &InstanceSearch) -> Result<SearchResult> {
        let index = self.search_index();
        self.with_model(|model| index.search(search, &model))
            .map_err(crate::error::Error::InvalidArgument)
    }

    /// Ids, names, type names and instance field values starting with `prefix`
    /// (case-insensitive), sorted, at most `take`: each with the prefix marked `<hit>`
    /// (TSI's `timeseries/instances/suggest`).
    pub fn suggest_instances(&self, prefix: &str, take: usize) -> Vec<(String, String)> {
        self.search_index().suggest(prefix, take)
    }

    /// Runs `f` on the model as readers see it (put, and under it derived).
    pub(crate) fn with_model<T>(&self, f: impl FnOnce(Lens<'_>) -> T) -> T {
        let view = self.model_view();
        let model = self.inner.tsm.model.read();
        f(Lens {
            model: &model,
            view: &view,
        })
    }

    /// Checks and makes one model change: `decide` sees the model and its view and returns
    /// the change to make (if any) and the call's answer. The change is logged and synced
    /// before it is applied; if logging fails, nothing is applied and the error is returned.
    pub(crate) fn change_model<R>(&self, decide: impl FnOnce(&Model, &Lens<'_>) -> (Option<Change>, R)) -> Result<R> {
        let tsm = &self.inner.tsm;
        let mut log = tsm.log.lock();
        let view = self.model_view();
        let model = tsm.model.read();
        let lens = Lens {
            model: &model,
            view: &view,
        };
        let (change, answer) = decide(&model, &lens);
        let Some(change) = change else {
            return Ok(answer);
        };
        log.append(&*self.inner.options.vfs, &model, &change)?;
        drop(model);
        tsm.model.write().apply(change);
        Ok(answer)
    }

    /// The model settings: its name, its time series id (`$dtId`) and its default type.
    pub fn model_settings(&self) -> ModelSettings {
        self.inner.tsm.model.read().settings.clone()
    }

    /// Changes the model's name and/or default type (which must exist).
    pub fn update_model_settings(
        &self,
        name: Option<String>,
        default_type_id: Option<String>,
    ) -> Result<ModelSettings> {
        self.change_model(|model, view| {
            let mut next = model.settings.clone();
            if let Some(name) = name {
                next.name = name;
            }
            if let Some(id) = default_type_id {
                next.default_type_id = id;
            }
            match model.check_settings(&next, view) {
                Ok(()) => (Some(Change::Settings(next.clone())), Ok(next)),
                Err(e) => (None, Err(e)),
            }
        })?
        .map_err(Into::into)
    }

    /// The type with id `id`.
    pub fn time_series_type(&self, id: &str) -> Option<TimeSeriesType> {
        self.with_model(|m| m.type_by_id(id).cloned())
    }

    /// The type called `name`.
    pub fn time_series_type_named(&self, name: &str) -> Option<TimeSeriesType> {
        self.with_model(|m| m.type_named(name).cloned())
    }

    /// Every type (put or derived), by id.
    pub fn time_series_types(&self) -> Vec<TimeSeriesType> {
        self.with_model(|m| m.types().into_iter().cloned().collect())
    }

    /// Creates or replaces types. Each is checked (id, a name no other type has, at most
    /// [`MAX_TYPE_VARIABLES`](crate::tsm::MAX_TYPE_VARIABLES) variables, each type-checking
    /// as a query would); those accepted are stored together, the others refused with the
    /// reason, in the order given. `Err` only when the change could not be logged (then
    /// none is stored).
    pub fn put_time_series_types(&self, types: Vec<TimeSeriesType>) -> Result<ItemResults<TimeSeriesType>> {
        self.put_named(
            types,
            |t| (t.id.clone(), t.name.clone()),
            |model, t, taken, view| model.check_type(t, taken, view),
            Change::PutTypes,
        )
    }

    /// Deletes types by id. A type an instance is of (one put with it, or, for the default
    /// type, every twin's implied instance) is refused, as TSI refuses it.
    pub fn delete_time_series_types(&self, ids: &[&str]) -> Result<ItemResults<()>> {
        self.delete_each(
            ids,
            |view| view.used_types(),
            |model, id, used, view| model.check_type_delete(id, used, view),
            Change::DeleteTypes,
        )
    }

    /// The hierarchy with id `id`.
    pub fn hierarchy(&self, id: &str) -> Option<Hierarchy> {
        self.with_model(|m| m.hierarchy(id).cloned())
    }

    /// The hierarchy called `name`.
    pub fn hierarchy_named(&self, name: &str) -> Option<Hierarchy> {
        self.with_model(|m| m.hierarchy_named(name).cloned())
    }

    /// Every hierarchy (put, and the derived "ADT" one), by id.
    pub fn hierarchies(&self) -> Vec<Hierarchy> {
        self.with_model(|m| m.hierarchies().into_iter().cloned().collect())
    }

    /// Creates or replaces hierarchies (a unique name, at least one level); per item, as
    /// [`Store::put_time_series_types`].
    pub fn put_hierarchies(&self, hierarchies: Vec<Hierarchy>) -> Result<ItemResults<Hierarchy>> {
        self.put_named(
            hierarchies,
            |h| (h.id.clone(), h.name.clone()),
            |model, h, taken, view| model.check_hierarchy(h, taken, view),
            Change::PutHierarchies,
        )
    }

    /// Deletes hierarchies by id; one an instance is in is refused.
    pub fn delete_hierarchies(&self, ids: &[&str]) -> Result<ItemResults<()>> {
        self.delete_each(
            ids,
            |view| view.used_hierarchies(),
            |model, id, used, _| model.check_hierarchy_delete(id, used),
            Change::DeleteHierarchies,
        )
    }

    /// The instance of `twin`: the one put, or, for a twin the store holds data of, the
    /// implied one (of its derived type, or the default type).
    pub fn instance(&self, twin: &str) -> Option<Instance> {
        self.with_model(|m| m.instance(twin).cloned())
    }

    /// Every instance (put or implied), by twin id.
    pub fn instances(&self) -> Vec<Instance> {
        self.with_model(|m| m.instances().into_iter().cloned().collect())
    }

    /// Whether ADT deleted `twin` (Twin.Delete) and has not created it again. Its history
    /// and its instance stay.
    pub fn is_deleted(&self, twin: &str) -> bool {
        self.with_model(|m| m.deleted().contains(twin))
    }

    /// Creates or replaces instances. Each is checked (its type and hierarchies exist, the
    /// fields naming a level of its hierarchies are strings); per item, as
    /// [`Store::put_time_series_types`]. An instance may be put before its twin has data.
    pub fn put_instances(&self, instances: Vec<Instance>) -> Result<ItemResults<Instance>> {
        self.write_instances(instances, false)
    }

    /// Replaces existing instances (put, or implied by the twin's data); an instance that
    /// does not exist is refused (`ResourceNotFound`).
    pub fn update_instances(&self, instances: Vec<Instance>) -> Result<ItemResults<Instance>> {
        self.write_instances(instances, true)
    }

    fn write_instances(&self, instances: Vec<Instance>, must_exist: bool) -> Result<ItemResults<Instance>> {
        self.change_model(|model, view| {
            let mut accepted: BTreeMap<String, Instance> = BTreeMap::new();
            let answers = instances
                .into_iter()
                .map(|i| {
                    if must_exist && view.instance(&i.twin).is_none() && !accepted.contains_key(&i.twin) {
                        return Err(ModelError::not_found(
                            "InstanceNotFound",
                            format!("instance {:?} does not exist (use put to create it)", i.twin),
                        ));
                    }
                    model.check_instance(&i, view)?;
                    if let Some(name) = &i.name {
                        let clash = model
                            .instances
                            .values()
                            .chain(accepted.values())
                            .find(|o| o.twin != i.twin && o.name.as_deref() == Some(name.as_str()));
                        if let Some(other) = clash {
                            return Err(ModelError::name_taken(format!(
                                "instance {:?}: the name {name:?} is already the name of instance {:?}",
                                i.twin, other.twin
                            )));
                        }
                    }
                    accepted.insert(i.twin.clone(), i.clone());
                    Ok(i)
                })
                .collect();
            let change = non_empty(accepted.into_values().collect()).map(Change::PutInstances);
            (change, answers)
        })
    }

    /// Deletes instances, as TSI does: the instance of a twin the store has events of is
    /// refused (its history and instance stay; [`Store::delete_twin`] deletes the events, not
    /// the twin); an instance that does not exist is no error.
    pub fn delete_instances(&self, twins: &[&str]) -> Result<ItemResults<()>> {
        let with_events: Vec<bool> = twins.iter().map(|t| self.inner.catalog.get(t).is_some()).collect();
        self.change_model(|model, _| {
            let mut accepted: Vec<String> = Vec::new();
            let answers = twins
                .iter()
                .zip(with_events)
                .map(|(twin, has_events)| {
                    if has_events {
                        return Err(ModelError::invalid_because(
                            "CannotDeleteInstance",
                            format!(
                                "instance {twin:?} has events: TSI keeps the instance of a time series with events"
                            ),
                        ));
                    }
                    if model.instances.contains_key(*twin) && !accepted.iter().any(|a| a == twin) {
                        accepted.push(twin.to_string());
                    }
                    Ok(())
                })
                .collect();
            (non_empty(accepted).map(Change::DeleteInstances), answers)
        })
    }
}

impl Store {
    /// Which twins a model selector (a hierarchy path or a type) takes, as a test on the twin
    /// id; an unknown hierarchy or type is an error.
    pub(super) fn model_selection(&self, selector: &TwinSelector) -> Result<impl Fn(&str) -> bool + use<>> {
        let chosen: HashSet<String> = self.with_model(|model| -> Result<HashSet<String>> {
            Ok(match selector {
                TwinSelector::Hierarchy { hierarchy, path } => {
                    let h = model
                        .hierarchy(hierarchy)
                        .or_else(|| model.hierarchy_named(hierarchy))
                        .ok_or_else(|| ModelError::not_found("HierarchyNotFound", format!("hierarchy {hierarchy:?} does not exist")))?;
                    if path.len() > h.instance_field_names.len() {
                        return Err(ModelError::invalid(format!(
                            "path {path:?} has {} levels; hierarchy {:?} has {}",
                            path.len(),
                            h.name,
                            h.instance_field_names.len()
                        ))
                        .into());
                    }
                    model
                        .instances()
                        .into_iter()
                        .filter(|i| i.hierarchy_ids.contains(&h.id))
                        .filter(|i| {
                            h.instance_field_names.iter().zip(path).all(
                                |(level, want)| matches!(i.instance_fields.get(level), Some(Value::String(v)) if **v == **want),
                            )
                        })
                        .map(|i| i.twin.clone())
                        .collect()
                }
                TwinSelector::Type(name) => {
                    let t = model
                        .type_by_id(name)
                        .or_else(|| model.type_named(name))
                        .ok_or_else(|| ModelError::not_found("TypeNotFound", format!("type {name:?} does not exist")))?;
                    model
                        .instances()
                        .into_iter()
                        .filter(|i| i.type_id == t.id)
                        .map(|i| i.twin.clone())
                        .collect()
                }
                _ => HashSet::new(),
            })
        })?;
        Ok(move |twin: &str| chosen.contains(twin))
    }
}

impl Store {
    /// Logs and applies the lifecycle and relationship events of one ADT ingest call, in
    /// order, as one change of the model.
    pub(super) fn apply_graph_events(&self, events: Vec<GraphEvent>) -> Result<()> {
        let changes: Vec<GraphChange> = events
            .into_iter()
            .map(|e| match e {
                GraphEvent::TwinCreated { twin, model } => GraphChange::TwinCreated { twin, model },
                GraphEvent::TwinDeleted { twin } => GraphChange::TwinDeleted(twin),
                GraphEvent::Related {
                    id,
                    source,
                    target,
                    name,
                } => GraphChange::Relate(Relationship {
                    id,
                    source,
                    target,
                    name,
                }),
                GraphEvent::Unrelated { id, source } => GraphChange::Unrelate { source, id },
            })
            .collect();
        // Graph changes need no check against the model: no derived view is built here, so
        // an ingest call that adds twins or properties does not pay for one.
        let tsm = &self.inner.tsm;
        let mut log = tsm.log.lock();
        let change = Change::Graph(changes);
        log.append(&*self.inner.options.vfs, &tsm.model.read(), &change)?;
        tsm.model.write().apply(change);
        Ok(())
    }

    /// Every relationship of the twin graph, oldest first.
    pub fn relationships(&self) -> Vec<Relationship> {
        self.inner
            .tsm
            .model
            .read()
            .graph
            .relationships()
            .into_iter()
            .cloned()
            .collect()
    }
}

/// Checks a named entity against the model and the names accepted before it in the batch.
type CheckNamed<T> = fn(&Model, &T, &BTreeMap<String, String>, &Lens<'_>) -> Result<(), ModelError>;
/// Checks the deletion of an id against the model and the ids in use.
type CheckDelete = fn(&Model, &str, &BTreeSet<&str>, &Lens<'_>) -> Result<(), ModelError>;

impl Store {
    /// Puts types or hierarchies: each checked (`key`: its id and name), the accepted ones
    /// made one change.
    fn put_named<T: Clone>(
        &self,
        items: Vec<T>,
        key: fn(&T) -> (String, String),
        check: CheckNamed<T>,
        change: fn(Vec<T>) -> Change,
    ) -> Result<ItemResults<T>> {
        self.change_model(|model, view| {
            let mut taken = BTreeMap::new();
            let mut accepted = Vec::new();
            let answers: ItemResults<T> = items
                .into_iter()
                .map(|item| {
                    check(model, &item, &taken, view)?;
                    let (id, name) = key(&item);
                    taken.insert(id, name);
                    accepted.push(item.clone());
                    Ok(item)
                })
                .collect();
            (non_empty(accepted).map(change), answers)
        })
    }

    /// Deletes types or hierarchies by id: each checked against the ids `used`, the accepted
    /// ones (once each) made one change.
    fn delete_each(
        &self,
        ids: &[&str],
        used: for<'v> fn(&Lens<'v>) -> BTreeSet<&'v str>,
        check: CheckDelete,
        change: fn(Vec<String>) -> Change,
    ) -> Result<ItemResults<()>> {
        self.change_model(|model, view| {
            let used = used(view);
            let mut accepted: Vec<String> = Vec::new();
            let answers = ids
                .iter()
                .map(|id| {
                    if !accepted.iter().any(|a| a == id) {
                        check(model, id, &used, view)?;
                        accepted.push(id.to_string());
                    }
                    Ok(())
                })
                .collect();
            (non_empty(accepted).map(change), answers)
        })
    }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}
