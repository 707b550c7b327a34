//! The twin graph, as ADT's relationship events describe it, and the containment path of
//! each twin that the derived hierarchy "ADT" shows (docs/MODEL.md, "Derived from ADT").
//!
//! Rules: a relationship whose name is one of the forward containment names (`contains` by
//! default) makes its source the parent of its target; one of the reverse names (`isPartOf`,
//! `locatedIn`) makes its target the parent of its source. A twin with several parents takes
//! the oldest: the relationship this store received first. Walking up from a twin stops at a
//! twin without a parent (the root) or before a twin already on the path (a cycle is cut
//! there).

use std::collections::{BTreeMap, BTreeSet};

/// One relationship.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relationship {
    /// `$relationshipId`.
    pub id: String,
    /// `$sourceId`.
    pub source: String,
    /// `$targetId`.
    pub target: String,
    /// `$relationshipName`.
    pub name: String,
}

/// A change to the graph or to a twin's life, as ADT events make them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GraphChange {
    /// Relationship.Create or .Update: created, or its target and name replaced (keeping its
    /// age).
    Relate(Relationship),
    /// Relationship.Delete, by source and id.
    Unrelate { source: String, id: String },
    /// Twin.Create: the twin's model id, and clears an earlier deletion of the same id.
    TwinCreated { twin: String, model: Option<String> },
    /// Twin.Delete: the twin's instance is marked deleted; its history stays.
    TwinDeleted(String),
}

/// The relationships, by (source, id), with the order they were first received in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Graph {
    relationships: BTreeMap<(String, String), (u64, Relationship)>,
    next_order: u64,
    /// Twins deleted (Twin.Delete) and not created again since.
    pub deleted: BTreeSet<String>,
    /// The model id each twin was created with (Twin.Create), for twins whose updates do
    /// not carry it.
    pub models: BTreeMap<String, String>,
}

/// Which relationship names mean containment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Containment {
    /// The source contains the target (`contains`).
    pub forward: Vec<String>,
    /// The source is inside the target (`isPartOf`, `locatedIn`).
    pub reverse: Vec<String>,
}

impl Default for Containment {
    fn default() -> Self {
        Containment {
            forward: vec!["contains".into()],
            reverse: vec!["isPartOf".into(), "locatedIn".into()],
        }
    }
}

impl Graph {
    pub(crate) fn apply(&mut self, change: GraphChange) {
        match change {
            GraphChange::Relate(r) => {
                let key = (r.source.clone(), r.id.clone());
                match self.relationships.get_mut(&key) {
                    Some((_, existing)) => *existing = r,
                    None => {
                        self.relationships.insert(key, (self.next_order, r));
                        self.next_order += 1;
                    }
                }
            }
            GraphChange::Unrelate { source, id } => {
                self.relationships.remove(&(source, id));
            }
            GraphChange::TwinCreated { twin, model } => {
                self.deleted.remove(&twin);
                if let Some(model) = model {
                    self.models.insert(twin, model);
                }
            }
            GraphChange::TwinDeleted(twin) => {
                self.deleted.insert(twin);
            }
        }
    }

    /// Every relationship, oldest first.
    pub(crate) fn relationships(&self) -> Vec<&Relationship> {
        let mut all: Vec<&(u64, Relationship)> = self.relationships.values().collect();
        all.sort_by_key(|(order, _)| *order);
        all.into_iter().map(|(_, r)| r).collect()
    }

    /// Each twin's containment path: its ancestors from the root down to its parent. Twins
    /// with no parent are left out.
    pub(crate) fn paths(&self, containment: &Containment) -> BTreeMap<String, Vec<String>> {
        // The oldest containment relationship of each child names its parent.
        let mut parent: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
        for (order, r) in self.relationships.values() {
            let (child, up) = if containment.forward.contains(&r.name) {
                (r.target.as_str(), r.source.as_str())
            } else if containment.reverse.contains(&r.name) {
                (r.source.as_str(), r.target.as_str())
            } else {
                continue;
            };
            if child == up {
                continue;
            }
            let slot = parent.entry(child).or_insert((*order, up));
            if *order < slot.0 {
                *slot = (*order, up);
            }
        }
        let mut out = BTreeMap::new();
        for &child in parent.keys() {
            let mut path = Vec::new();
            let mut seen = BTreeSet::from([child]);
            let mut at = child;
            while let Some(&(_, up)) = parent.get(at) {
                if !seen.insert(up) {
                    break;
                }
                path.push(up.to_string());
                at = up;
            }
            path.reverse();
            out.insert(child.to_string(), path);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(id: &str, source: &str, name: &str, target: &str) -> GraphChange {
        GraphChange::Relate(Relationship {
            id: id.into(),
            source: source.into(),
            target: target.into(),
            name: name.into(),
        })
    }

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn containment_paths_follow_the_oldest_parent_and_cut_cycles() {
        let mut g = Graph::default();
        for change in [
            rel("r1", "building", "contains", "floor1"),
            rel("r2", "floor1", "contains", "room1"),
            rel("r3", "thermostat", "locatedIn", "room1"),
            // A second, younger parent of room1: the oldest (floor1) wins.
            rel("r4", "floor2", "contains", "room1"),
            // Not containment.
            rel("r5", "thermostat", "feeds", "building"),
            // A cycle: loopA contains loopB contains loopA.
            rel("r6", "loopA", "contains", "loopB"),
            rel("r7", "loopB", "contains", "loopA"),
        ] {
            g.apply(change);
        }
        let paths = g.paths(&Containment::default());
        assert_eq!(paths["floor1"], path(&["building"]));
        assert_eq!(paths["room1"], path(&["building", "floor1"]));
        assert_eq!(paths["thermostat"], path(&["building", "floor1", "room1"]));
        assert_eq!(paths["loopB"], path(&["loopA"]), "the walk stops before loopB repeats");
        assert_eq!(paths["loopA"], path(&["loopB"]));
        assert!(!paths.contains_key("building"), "a root has no path");

        // The thermostat moves: its old relationship deleted, a new one made.
        g.apply(GraphChange::Unrelate {
            source: "thermostat".into(),
            id: "r3".into(),
        });
        g.apply(rel("r8", "room2", "contains", "thermostat"));
        g.apply(rel("r9", "floor2", "contains", "room2"));
        let paths = g.paths(&Containment::default());
        assert_eq!(paths["thermostat"], path(&["floor2", "room2"]));
        // Deleting the oldest parent of room1 hands it to the next.
        g.apply(GraphChange::Unrelate {
            source: "floor1".into(),
            id: "r2".into(),
        });
        assert_eq!(g.paths(&Containment::default())["room1"], path(&["floor2"]));
    }

    #[test]
    fn an_update_keeps_a_relationships_age() {
        let mut g = Graph::default();
        g.apply(rel("a", "p1", "contains", "c"));
        g.apply(rel("b", "p2", "contains", "c"));
        // Updating the older relationship (same source and id) keeps it the oldest.
        g.apply(rel("a", "p1", "contains", "c"));
        assert_eq!(g.paths(&Containment::default())["c"], path(&["p1"]));
        assert_eq!(
            g.relationships().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
}
