//! The Time Series Model against a naive model: random sequences of type, hierarchy and
//! instance puts and deletes, ADT relationship and lifecycle events, reopens and torn model
//! file tails; after every step the store's types, hierarchies, instances, relationships and
//! each call's per-item outcome equal the naive model's.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use twinstore::tsm::{DEFAULT_TYPE_ID, Hierarchy, Instance, Relationship, TimeSeriesType};
use twinstore::{Options, Store, Value, Variable};

const TYPE_IDS: [&str; 3] = ["ta", "tb", "tc"];
const NAMES: [&str; 3] = ["Alpha", "Beta", "Gamma"];
const HIERARCHY_IDS: [&str; 2] = ["ha", "hb"];
const TWINS: [&str; 4] = ["w", "x", "y", "z"];
const REL_NAMES: [&str; 3] = ["contains", "isPartOf", "feeds"];

#[derive(Clone, Debug)]
enum Op {
    PutType {
        id: usize,
        name: usize,
        valid: bool,
    },
    DeleteType(usize),
    PutHierarchy {
        id: usize,
        name: usize,
        levels: usize,
    },
    DeleteHierarchy(usize),
    PutInstance {
        twin: usize,
        ty: Option<usize>,
        hierarchy: Option<usize>,
        numeric_level: bool,
    },
    DeleteInstance(usize),
    Relate {
        id: usize,
        source: usize,
        target: usize,
        name: usize,
    },
    Unrelate {
        id: usize,
        source: usize,
    },
    Reopen,
    TornTail,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..3usize, prop::bool::weighted(0.8)).prop_map(|(id, name, valid)| Op::PutType { id, name, valid }),
        1 => (0..4usize).prop_map(Op::DeleteType),
        2 => (0..2usize, 0..3usize, 0..3usize).prop_map(|(id, name, levels)| Op::PutHierarchy { id, name, levels }),
        1 => (0..2usize).prop_map(Op::DeleteHierarchy),
        4 => (0..4usize, prop::option::of(0..3usize), prop::option::of(0..2usize), prop::bool::weighted(0.2))
            .prop_map(|(twin, ty, hierarchy, numeric_level)| Op::PutInstance { twin, ty, hierarchy, numeric_level }),
        1 => (0..4usize).prop_map(Op::DeleteInstance),
        3 => (0..3usize, 0..4usize, 0..4usize, 0..3usize).prop_map(|(id, source, target, name)| Op::Relate { id, source, target, name }),
        1 => (0..3usize, 0..4usize).prop_map(|(id, source)| Op::Unrelate { id, source }),
        1 => Just(Op::Reopen),
        1 => Just(Op::TornTail),
    ]
}

/// What the naive model keeps: only what was put, and the graph.
#[derive(Default)]
struct Naive {
    types: BTreeMap<String, String>,
    hierarchies: BTreeMap<String, (String, usize)>,
    instances: BTreeMap<String, Instance>,
    /// (source, id) -> (target, name, age)
    relationships: BTreeMap<(String, String), (String, String, u64)>,
    next_age: u64,
}

fn type_of(id: usize, name: usize, valid: bool) -> TimeSeriesType {
    let value = if valid { "$event.T.Double" } else { "$event.T.String" };
    TimeSeriesType {
        id: TYPE_IDS[id].into(),
        name: NAMES[name].into(),
        description: None,
        variables: vec![("V".into(), Variable::numeric(value, "avg($value)"))],
    }
}

fn levels(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("L{i}")).collect()
}

fn instance_of(twin: usize, ty: Option<usize>, hierarchy: Option<usize>, numeric_level: bool) -> Instance {
    let mut i = Instance::new(TWINS[twin], ty.map_or(DEFAULT_TYPE_ID, |t| TYPE_IDS[t]));
    if let Some(h) = hierarchy {
        i.hierarchy_ids = vec![HIERARCHY_IDS[h].into()];
        let v = if numeric_level {
            Value::Long(1)
        } else {
            Value::String("v".into())
        };
        i.instance_fields = BTreeMap::from([("L0".to_string(), v)]);
    }
    i
}

impl Naive {
    fn type_names(&self) -> BTreeMap<String, String> {
        let mut all = self.types.clone();
        all.entry(DEFAULT_TYPE_ID.into())
            .or_insert_with(|| "DefaultType".into());
        all
    }

    fn put_type(&mut self, t: &TimeSeriesType, valid: bool) -> bool {
        let clash = self
            .type_names()
            .iter()
            .any(|(id, name)| *name == t.name && *id != t.id);
        if !valid || clash {
            return false;
        }
        self.types.insert(t.id.clone(), t.name.clone());
        true
    }

    fn delete_type(&mut self, id: &str) -> bool {
        let used = self.instances.values().any(|i| i.type_id == id);
        if id == DEFAULT_TYPE_ID || used || !self.types.contains_key(id) {
            return false;
        }
        self.types.remove(id);
        true
    }

    fn put_hierarchy(&mut self, id: &str, name: &str, levels: usize) -> bool {
        let clash = self.hierarchies.iter().any(|(i, (n, _))| n == name && i != id);
        if clash || levels == 0 {
            return false;
        }
        self.hierarchies.insert(id.into(), (name.into(), levels));
        true
    }

    fn delete_hierarchy(&mut self, id: &str) -> bool {
        let used = self.instances.values().any(|i| i.hierarchy_ids.iter().any(|h| h == id));
        if used || !self.hierarchies.contains_key(id) {
            return false;
        }
        self.hierarchies.remove(id);
        true
    }

    fn put_instance(&mut self, i: &Instance) -> bool {
        if !self.type_names().contains_key(&i.type_id) {
            return false;
        }
        for h in &i.hierarchy_ids {
            let Some((_, levels)) = self.hierarchies.get(h) else {
                return false;
            };
            let numeric = matches!(i.instance_fields.get("L0"), Some(Value::Long(_)));
            // Every level field is set, as a string: the instance sets only L0.
            if numeric || *levels > 1 {
                return false;
            }
        }
        self.instances.insert(i.twin.clone(), i.clone());
        true
    }

    /// The deepest containment path (oldest parent; a walk stops before a repeat).
    fn depth(&self) -> usize {
        let mut parent: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
        for ((source, _), (target, name, age)) in &self.relationships {
            let (child, up) = match name.as_str() {
                "contains" => (target.as_str(), source.as_str()),
                "isPartOf" => (source.as_str(), target.as_str()),
                _ => continue,
            };
            if child == up {
                continue;
            }
            let e = parent.entry(child).or_insert((*age, up));
            if *age < e.0 {
                *e = (*age, up);
            }
        }
        parent
            .keys()
            .map(|&c| {
                let mut seen = BTreeSet::from([c]);
                let mut at = c;
                let mut n = 0;
                while let Some(&(_, up)) = parent.get(at) {
                    if !seen.insert(up) {
                        break;
                    }
                    n += 1;
                    at = up;
                }
                n
            })
            .max()
            .unwrap_or(0)
    }

    fn hierarchies(&self) -> Vec<Hierarchy> {
        let mut all: BTreeMap<String, Hierarchy> = self
            .hierarchies
            .iter()
            .map(|(id, (name, n))| {
                (
                    id.clone(),
                    Hierarchy {
                        id: id.clone(),
                        name: name.clone(),
                        instance_field_names: levels(*n),
                    },
                )
            })
            .collect();
        let depth = self.depth();
        if depth > 0 {
            all.insert(
                "adt".into(),
                Hierarchy {
                    id: "adt".into(),
                    name: "ADT".into(),
                    instance_field_names: (1..=depth).map(twinstore::tsm::adt_level_field).collect(),
                },
            );
        }
        all.into_values().collect()
    }

    fn relationships(&self) -> Vec<Relationship> {
        let mut all: Vec<(&u64, Relationship)> = self
            .relationships
            .iter()
            .map(|((source, id), (target, name, age))| {
                (
                    age,
                    Relationship {
                        id: id.clone(),
                        source: source.clone(),
                        target: target.clone(),
                        name: name.clone(),
                    },
                )
            })
            .collect();
        all.sort_by_key(|(age, _)| **age);
        all.into_iter().map(|(_, r)| r).collect()
    }
}

fn event(kind: &str, source: &str, id: &str, target: &str, name: &str) -> String {
    format!(
        r#"{{"type":"Microsoft.DigitalTwins.Relationship.{kind}","subject":"{source}/relationships/{id}","time":"2026-01-01T00:00:00Z","data":{{"$relationshipId":"{id}","$sourceId":"{source}","$targetId":"{target}","$relationshipName":"{name}"}}}}"#
    )
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Options::default().background_maintenance(false)).expect("open")
}

fn check(store: &Store, naive: &Naive) {
    let types: BTreeMap<String, String> = store.time_series_types().into_iter().map(|t| (t.id, t.name)).collect();
    assert_eq!(types, naive.type_names());
    assert_eq!(store.hierarchies(), naive.hierarchies());
    assert_eq!(store.instances(), naive.instances.values().cloned().collect::<Vec<_>>());
    assert_eq!(store.relationships(), naive.relationships());
}

fn run(ops: &[Op]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(dir.path());
    let mut naive = Naive::default();
    for op in ops {
        match op {
            Op::PutType { id, name, valid } => {
                let t = type_of(*id, *name, *valid);
                let ok = store.put_time_series_types(vec![t.clone()]).expect("logged")[0].is_ok();
                assert_eq!(ok, naive.put_type(&t, *valid), "{op:?}");
            }
            Op::DeleteType(i) => {
                let id = TYPE_IDS.get(*i).copied().unwrap_or(DEFAULT_TYPE_ID);
                let ok = store.delete_time_series_types(&[id]).expect("logged")[0].is_ok();
                assert_eq!(ok, naive.delete_type(id), "{op:?}");
            }
            Op::PutHierarchy { id, name, levels: n } => {
                let h = Hierarchy {
                    id: HIERARCHY_IDS[*id].into(),
                    name: NAMES[*name].into(),
                    instance_field_names: levels(*n),
                };
                let ok = store.put_hierarchies(vec![h.clone()]).expect("logged")[0].is_ok();
                assert_eq!(ok, naive.put_hierarchy(&h.id, &h.name, *n), "{op:?}");
            }
            Op::DeleteHierarchy(i) => {
                let ok = store.delete_hierarchies(&[HIERARCHY_IDS[*i]]).expect("logged")[0].is_ok();
                assert_eq!(ok, naive.delete_hierarchy(HIERARCHY_IDS[*i]), "{op:?}");
            }
            Op::PutInstance {
                twin,
                ty,
                hierarchy,
                numeric_level,
            } => {
                let i = instance_of(*twin, *ty, *hierarchy, *numeric_level);
                let ok = store.put_instances(vec![i.clone()]).expect("logged")[0].is_ok();
                assert_eq!(ok, naive.put_instance(&i), "{op:?}");
            }
            Op::DeleteInstance(t) => {
                // No twin has events here: a delete always succeeds, a missing one too.
                let ok = store.delete_instances(&[TWINS[*t]]).expect("logged")[0].is_ok();
                assert!(ok, "{op:?}");
                naive.instances.remove(TWINS[*t]);
            }
            Op::Relate {
                id,
                source,
                target,
                name,
            } => {
                let (id, source, target, name) = (format!("r{id}"), TWINS[*source], TWINS[*target], REL_NAMES[*name]);
                let report = store
                    .ingest_adt(event("Create", source, &id, target, name).as_bytes())
                    .expect("ingest");
                assert_eq!(report.model_events, 1);
                let age = naive.next_age;
                let e = naive
                    .relationships
                    .entry((source.into(), id))
                    .or_insert((String::new(), String::new(), age));
                if e.2 == age {
                    naive.next_age += 1;
                }
                e.0 = target.into();
                e.1 = name.into();
            }
            Op::Unrelate { id, source } => {
                let id = format!("r{id}");
                store
                    .ingest_adt(event("Delete", TWINS[*source], &id, "any", "contains").as_bytes())
                    .expect("ingest");
                naive.relationships.remove(&(TWINS[*source].to_string(), id));
            }
            Op::Reopen => {
                drop(store);
                store = open(dir.path());
            }
            Op::TornTail => {
                // A crash in the middle of an append that was never acknowledged.
                drop(store);
                let path = dir.path().join("MODEL");
                let mut bytes = std::fs::read(&path).expect("read");
                bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, b'{', b'"']);
                std::fs::write(&path, bytes).expect("write");
                store = open(dir.path());
            }
        }
        check(&store, &naive);
    }
    drop(store);
    check(&open(dir.path()), &naive);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_model_matches_a_naive_one(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}
