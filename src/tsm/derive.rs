//! The model as readers see it: what was put, plus what is derived from the data and the ADT
//! event stream (docs/MODEL.md, "Derived from ADT").
//!
//! - A type per DTDL model id the twins report, its id and name the model id: `EventCount`,
//!   a numeric variable per Double or Long property and a categorical one per String or
//!   Bool property that twins of the model have reported. A type put with that id replaces
//!   the derived one whole (a user's edits are never overwritten).
//! - A hierarchy "ADT" (id `adt`) whose levels are the containment path of each twin.
//! - An instance per twin: the one put, or an implied one of the twin's derived type (or
//!   the default type when the twin reports no model id), in the ADT hierarchy under its
//!   containment path when it has one.
//!
//! Nothing derived is stored: it is recomputed from the catalog and the graph when either
//! changed.

use std::collections::{BTreeMap, BTreeSet};

use super::graph::Containment;
use super::{Hierarchy, Instance, Model, ModelSettings, TimeSeriesType};
use crate::model::{Value, ValueType};
use crate::query::{Category, Variable};

/// Id of the derived hierarchy.
pub const ADT_HIERARCHY_ID: &str = "adt";
/// Name of the derived hierarchy.
pub const ADT_HIERARCHY_NAME: &str = "ADT";

/// The instance field of level `n` (1-based) of the ADT hierarchy.
pub fn adt_level_field(n: usize) -> String {
    format!("ADT level {n}")
}

/// What derivation reads of one twin.
pub(crate) struct TwinSummary {
    pub name: String,
    pub model: Option<String>,
    pub columns: Vec<(String, ValueType)>,
}

/// Whether and how the model is derived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derivation {
    /// Derive types, the ADT hierarchy and implied instances (on by default).
    pub enabled: bool,
    /// Which relationship names mean containment.
    pub containment: Containment,
    /// Whether instances of twins ADT deleted are still found by searches (off by default:
    /// they stay queryable and listed, but navigation leaves them out).
    pub deleted_in_search: bool,
}

impl Default for Derivation {
    fn default() -> Self {
        Derivation {
            enabled: true,
            containment: Containment::default(),
            deleted_in_search: false,
        }
    }
}

/// What is derived from the catalog and the graph (nothing here is stored). Readers see it
/// through a [`Lens`], under what was put.
#[derive(Debug, Default)]
pub(crate) struct View {
    /// A type per model id the twins report.
    pub types: BTreeMap<String, TimeSeriesType>,
    /// The "ADT" hierarchy, when some twin has a containment path.
    pub adt: Option<Hierarchy>,
    /// An instance per twin of the store.
    pub implied: BTreeMap<String, Instance>,
}

/// The model as readers see it: what was put, and under it what is derived.
#[derive(Clone, Copy)]
pub(crate) struct Lens<'a> {
    pub model: &'a Model,
    pub view: &'a View,
}

/// `$event['name'].Type`, with `'` and `\` escaped.
fn property_ref(name: &str, ty: ValueType) -> String {
    let escaped = name.replace('\\', "\\\\").replace('\'', "\\'");
    format!("$event['{escaped}'].{ty}")
}

/// The variable of one reported property, if its type has one.
fn derived_variable(name: &str, ty: ValueType) -> Option<Variable> {
    match ty {
        ValueType::Double | ValueType::Long => Some(Variable::numeric(property_ref(name, ty), "avg($value)")),
        ValueType::String => Some(Variable::Categorical {
            value: property_ref(name, ty),
            categories: Vec::new(),
            default_category: "Other".into(),
            interpolation: None,
            filter: None,
        }),
        ValueType::Bool => Some(Variable::Categorical {
            value: format!("toLong({})", property_ref(name, ty)),
            categories: vec![
                Category {
                    label: "True".into(),
                    values: vec![Value::Long(1)],
                },
                Category {
                    label: "False".into(),
                    values: vec![Value::Long(0)],
                },
            ],
            default_category: "Unknown".into(),
            interpolation: None,
            filter: None,
        }),
        _ => None,
    }
}

/// The type derived for model id `model` from the properties its twins reported.
fn derived_type(model: &str, properties: &BTreeSet<(String, ValueType)>) -> TimeSeriesType {
    let mut variables = vec![("EventCount".to_string(), Variable::aggregate("count()"))];
    let types_of = |name: &str| properties.iter().filter(|(n, _)| n == name).count();
    for (name, ty) in properties {
        let Some(v) = derived_variable(name, *ty) else { continue };
        // A property reported with two types gets one variable per type, named by it.
        let var_name = if types_of(name) > 1 || name == "EventCount" {
            format!("{name} ({ty})")
        } else {
            name.clone()
        };
        variables.push((var_name, v));
    }
    TimeSeriesType {
        id: model.to_string(),
        name: model.to_string(),
        description: Some(format!(
            "Derived from DTDL model {model}: the properties its twins reported"
        )),
        variables,
    }
}

impl View {
    /// What `model`'s graph and settings and the store's `twins` derive. Depends on the
    /// model only through its graph and its default type (see `Model::derived_version`).
    pub(crate) fn build(model: &Model, twins: &[TwinSummary], derivation: &Derivation) -> View {
        let default_type = &model.settings.default_type_id;
        let mut view = View::default();
        if !derivation.enabled {
            for t in twins {
                view.implied
                    .insert(t.name.clone(), Instance::new(&t.name, default_type.clone()));
            }
            return view;
        }
        // A twin's model id: the one its updates carry, else the one it was created with.
        let model_of = |t: &'_ TwinSummary| t.model.clone().or_else(|| model.graph.models.get(&t.name).cloned());
        let mut properties: BTreeMap<String, BTreeSet<(String, ValueType)>> = BTreeMap::new();
        for t in twins {
            if let Some(m) = model_of(t) {
                properties.entry(m).or_default().extend(t.columns.iter().cloned());
            }
        }
        for (m, props) in &properties {
            view.types.insert(m.clone(), derived_type(m, props));
        }
        let paths = model.graph.paths(&derivation.containment);
        let depth = paths.values().map(Vec::len).max().unwrap_or(0);
        if depth > 0 {
            view.adt = Some(Hierarchy {
                id: ADT_HIERARCHY_ID.into(),
                name: ADT_HIERARCHY_NAME.into(),
                instance_field_names: (1..=depth).map(adt_level_field).collect(),
            });
        }
        for t in twins {
            let type_id = model_of(t).unwrap_or_else(|| default_type.clone());
            let mut instance = Instance::new(&t.name, type_id);
            if let Some(path) = paths.get(&t.name).filter(|p| !p.is_empty()) {
                instance.hierarchy_ids = vec![ADT_HIERARCHY_ID.into()];
                for (i, node) in path.iter().enumerate() {
                    instance
                        .instance_fields
                        .insert(adt_level_field(i + 1), Value::String(node.as_str().into()));
                }
            }
            view.implied.insert(t.name.clone(), instance);
        }
        view
    }
}

impl<'a> Lens<'a> {
    pub(crate) fn settings(&self) -> &'a ModelSettings {
        &self.model.settings
    }

    /// The type with id `id`: the one put, else the derived one.
    pub(crate) fn type_by_id(&self, id: &str) -> Option<&'a TimeSeriesType> {
        self.model.types.get(id).or_else(|| self.view.types.get(id))
    }

    /// Whether type `id` is derived (not put).
    pub(crate) fn is_derived_type(&self, id: &str) -> bool {
        !self.model.types.contains_key(id) && self.view.types.contains_key(id)
    }

    /// Every type, by id.
    pub(crate) fn types(&self) -> Vec<&'a TimeSeriesType> {
        let mut all: BTreeMap<&str, &TimeSeriesType> = self.view.types.iter().map(|(k, v)| (k.as_str(), v)).collect();
        all.extend(self.model.types.iter().map(|(k, v)| (k.as_str(), v)));
        all.into_values().collect()
    }

    /// The type called `name` (names are unique).
    pub(crate) fn type_named(&self, name: &str) -> Option<&'a TimeSeriesType> {
        self.types().into_iter().find(|t| t.name == name)
    }

    /// The hierarchy with id `id`: the one put, else the derived one.
    pub(crate) fn hierarchy(&self, id: &str) -> Option<&'a Hierarchy> {
        self.model
            .hierarchies
            .get(id)
            .or_else(|| self.view.adt.as_ref().filter(|h| h.id == id))
    }

    /// Every hierarchy, by id.
    pub(crate) fn hierarchies(&self) -> Vec<&'a Hierarchy> {
        let mut all: BTreeMap<&str, &Hierarchy> = self.view.adt.iter().map(|h| (h.id.as_str(), h)).collect();
        all.extend(self.model.hierarchies.iter().map(|(k, v)| (k.as_str(), v)));
        all.into_values().collect()
    }

    /// The hierarchy called `name` (names are unique).
    pub(crate) fn hierarchy_named(&self, name: &str) -> Option<&'a Hierarchy> {
        self.hierarchies().into_iter().find(|h| h.name == name)
    }

    /// The instance of `twin`: the one put, else the implied one.
    pub(crate) fn instance(&self, twin: &str) -> Option<&'a Instance> {
        self.model.instances.get(twin).or_else(|| self.view.implied.get(twin))
    }

    /// Every instance, by twin id: the two sorted maps merged, the one put winning.
    pub(crate) fn instances(&self) -> Vec<&'a Instance> {
        let mut out = Vec::with_capacity(self.view.implied.len().max(self.model.instances.len()));
        let mut put = self.model.instances.iter().peekable();
        let mut implied = self.view.implied.iter().peekable();
        loop {
            match (put.peek(), implied.peek()) {
                (Some((p, _)), Some((i, _))) if p == i => {
                    out.extend(put.next().map(|(_, v)| v));
                    implied.next();
                }
                (Some((p, _)), Some((i, _))) if p < i => out.extend(put.next().map(|(_, v)| v)),
                (_, Some(_)) => out.extend(implied.next().map(|(_, v)| v)),
                (Some(_), None) => out.extend(put.next().map(|(_, v)| v)),
                (None, None) => return out,
            }
        }
    }

    /// The type ids instances use (put or implied).
    pub(crate) fn used_types(&self) -> BTreeSet<&'a str> {
        self.instances().into_iter().map(|i| i.type_id.as_str()).collect()
    }

    /// The hierarchy ids instances use (put or implied).
    pub(crate) fn used_hierarchies(&self) -> BTreeSet<&'a str> {
        self.instances()
            .into_iter()
            .flat_map(|i| i.hierarchy_ids.iter().map(String::as_str))
            .collect()
    }

    /// Twins deleted in ADT and not created again.
    pub(crate) fn deleted(&self) -> &'a BTreeSet<String> {
        &self.model.graph.deleted
    }
}
