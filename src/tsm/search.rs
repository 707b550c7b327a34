//! Instance search and hierarchy navigation, as TSI's `timeseries/instances/search` and
//! `suggest` answer them (docs/MODEL.md, "Search").
//!
//! An index is built from the model as readers see it (every instance, put or implied) and
//! kept until the model or the catalog changes: per instance a lower-cased text of its
//! searchable fields, and per hierarchy a tree of nodes, each with the instances directly at
//! it. A search scans the texts (a substring test per term) and walks one node's subtree.

use std::collections::BTreeMap;

use super::derive::Lens;
use super::search_text::{Occur, Term, TextQuery, highlight};
use super::{Hierarchy, Instance};
use crate::model::Value;

/// How far below the searched path hierarchy nodes are returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expand {
    /// No hierarchy nodes.
    None,
    /// The nodes one level below the path (TSI's `OneLevel`; the typed API's default).
    #[default]
    OneLevel,
    /// Those nodes, and while a level holds a single node, that node's children in turn,
    /// down to the first level with several (TSI's `UntilChildren`, its JSON default).
    UntilChildren,
}

/// How hierarchy nodes are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NodeOrder {
    /// Most instances first (TSI's `CumulativeInstanceCount`, the default), then by name.
    #[default]
    Count,
    /// By name.
    Name,
}

/// How instances are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InstanceOrder {
    /// Best match first (TSI's `Rank`, the default): the search text equal to the id or the
    /// name, then in the id or the name, then elsewhere; then by display name.
    #[default]
    Rank,
    /// By display name (the name, or the id when there is none).
    DisplayName,
}

/// A search of instances and hierarchy nodes. The default follows TSI's: every instance
/// under the path (recursive), by rank, 10 a page, hierarchy nodes one level below the path;
/// no highlights (TSI's JSON asks for them by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceSearch {
    /// Words that must all occur (case-insensitive) in an instance's id, name, description,
    /// type name, hierarchy names or instance field names and values; a trailing `*` is
    /// allowed and ignored. Empty: every instance.
    pub text: String,
    /// `[hierarchy name, level value, ...]`; empty: the root, where the nodes are the
    /// hierarchies.
    pub path: Vec<String>,
    /// Instances anywhere under the path (true, the default), or only directly at it (false;
    /// at the root: instances in no hierarchy).
    pub recursive: bool,
    /// Whether instances are returned at all (false: hierarchy nodes only).
    pub instances: bool,
    /// Instances per page (0 is read as TSI's default, 10; at most 1,000 here, 100 in TSI's
    /// JSON).
    pub page_size: usize,
    /// The token of the previous page of instances.
    pub continuation: Option<String>,
    /// Instance order.
    pub order: InstanceOrder,
    /// Mark matched text in the hits' fields with `<hit>` and `</hit>`.
    pub highlights: bool,
    /// Hierarchy nodes to return.
    pub expand: Expand,
    /// Hierarchy node order.
    pub node_order: NodeOrder,
    /// Nodes per page (0: TSI's default, 10).
    pub node_page_size: usize,
    /// The token of the previous page of nodes.
    pub node_continuation: Option<String>,
}

impl Default for InstanceSearch {
    fn default() -> Self {
        InstanceSearch {
            text: String::new(),
            path: Vec::new(),
            recursive: true,
            instances: true,
            page_size: 0,
            continuation: None,
            order: InstanceOrder::default(),
            highlights: false,
            expand: Expand::default(),
            node_order: NodeOrder::default(),
            node_page_size: 0,
            node_continuation: None,
        }
    }
}

/// One instance found, with its fields highlighted when asked.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceHit {
    /// The instance.
    pub instance: Instance,
    /// `(field, text with <hit> marks)` for each searchable field, when highlights were asked.
    pub highlights: Option<BTreeMap<String, serde_json::Value>>,
}

/// A hierarchy node (or, at the root, a hierarchy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeHit {
    /// The level value (the hierarchy's name at the root).
    pub name: String,
    /// Matching instances at or below it.
    pub cumulative_instance_count: usize,
    /// Its children, with `Expand::UntilChildren`.
    pub children: Vec<NodeHit>,
}

/// What a search found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchResult {
    /// One page of instances.
    pub instances: Vec<InstanceHit>,
    /// Matching instances in all pages.
    pub instance_count: usize,
    /// Present when more instances follow.
    pub continuation: Option<String>,
    /// One page of nodes.
    pub nodes: Vec<NodeHit>,
    /// Nodes in all pages.
    pub node_count: usize,
    /// Present when more nodes follow.
    pub node_continuation: Option<String>,
}

/// Largest page accepted.
pub const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 10;

/// A hierarchy node. Once the tree is built, its instances are laid out depth first in the
/// hierarchy's `order`: a node's subtree is `order[start..end]`, its direct instances the
/// first `direct.len()` of them, so counting a subtree is one pass over a slice.
#[derive(Debug, Default)]
struct Node {
    children: BTreeMap<String, Node>,
    /// Instances (indices) directly at this node.
    direct: Vec<u32>,
    start: u32,
    end: u32,
}

impl Node {
    fn at(&self, path: &[String]) -> Option<&Node> {
        match path.split_first() {
            None => Some(self),
            Some((first, rest)) => self.children.get(first)?.at(rest),
        }
    }

    /// Lays the subtree out in `order`, depth first.
    fn lay_out(&mut self, order: &mut Vec<u32>) {
        self.start = order.len() as u32;
        order.extend(&self.direct);
        for c in self.children.values_mut() {
            c.lay_out(order);
        }
        self.end = order.len() as u32;
    }

    fn subtree<'o>(&self, order: &'o [u32]) -> &'o [u32] {
        &order[self.start as usize..self.end as usize]
    }

    fn count(&self, order: &[u32], matches: Option<&[bool]>) -> usize {
        let all = self.subtree(order);
        match matches {
            None => all.len(),
            Some(m) => all.iter().filter(|&&i| m[i as usize]).count(),
        }
    }
}

/// The searchable form of every instance and the hierarchies' trees.
#[derive(Debug, Default)]
pub(crate) struct SearchIndex {
    /// Each instance's twin id, in order (instances themselves are read from the model
    /// for the hits of a page only).
    twins: Vec<String>,
    /// Each instance's place among all in display-name order (its name, or its id when it
    /// has none; ties by id): sorting by it is sorting by display name.
    display_rank: Vec<u32>,
    /// Lower-cased searchable text of every instance, one after the other, fields and
    /// instances separated by `\n` (a search word never holds one): one buffer to scan.
    text: Vec<u8>,
    /// Where each instance's text starts in `text`. Its id and name come first: a hit
    /// before `key_ends[i]` is in the id or the name.
    starts: Vec<usize>,
    /// Where each instance's id and name end in `text`.
    key_ends: Vec<usize>,
    /// Distinct suggestible values (ids, names, type names, String field values), sorted.
    suggestions: Vec<String>,
    /// Every word start of every suggestible value: the value lower-cased from that word
    /// on, and the value's index; sorted, so the values with a word starting with a prefix
    /// are one range.
    word_starts: Vec<(String, u32)>,
    /// Lower-cased id and name of each instance, for ranking.
    keys: Vec<(String, String)>,
    type_names: Vec<String>,
    /// Per hierarchy name: its definition, tree and depth-first order of instances.
    trees: BTreeMap<String, (Hierarchy, Node, Vec<u32>)>,
    /// Instances in no hierarchy.
    unparented: Vec<u32>,
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => other.to_json().to_string(),
    }
}

impl SearchIndex {
    /// The index of `model`'s instances; those of deleted twins only `with_deleted`.
    pub(crate) fn build(model: &Lens<'_>, with_deleted: bool) -> SearchIndex {
        let mut index = SearchIndex::default();
        let hierarchies: Vec<&Hierarchy> = model.hierarchies();
        for h in &hierarchies {
            index
                .trees
                .insert(h.name.clone(), ((*h).clone(), Node::default(), Vec::new()));
        }
        let deleted = model.deleted();
        let instances = model
            .instances()
            .into_iter()
            .filter(|i| with_deleted || !deleted.contains(&i.twin));
        let mut suggestions: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut display: Vec<(&str, &str)> = Vec::new();
        for (n, instance) in instances.enumerate() {
            let type_name = model
                .type_by_id(&instance.type_id)
                .map_or_else(|| instance.type_id.clone(), |t| t.name.clone());
            // The searchable text, lower-cased straight into the shared buffer.
            index.starts.push(index.text.len());
            let mut push = |field: &str| {
                push_lower(&mut index.text, field);
                index.text.push(b'\n');
            };
            push(&instance.twin);
            instance.name.as_deref().map(&mut push);
            index.key_ends.push(index.text.len());
            let mut push = |field: &str| {
                push_lower(&mut index.text, field);
                index.text.push(b'\n');
            };
            push(&type_name);
            instance.description.as_deref().map(&mut push);
            for (k, v) in &instance.instance_fields {
                push(k);
                match v {
                    Value::String(s) => push(s),
                    other => push(&field_text(other)),
                }
            }
            let mut placed = false;
            for h in &hierarchies {
                if !instance.hierarchy_ids.contains(&h.id) {
                    continue;
                }
                push_lower(&mut index.text, &h.name);
                index.text.push(b'\n');
                placed = true;
                let Some((_, root, _)) = index.trees.get_mut(&h.name) else {
                    continue;
                };
                // The instance sits at the deepest level it has a (string) value for.
                let mut node = root;
                for level in &h.instance_field_names {
                    let Some(Value::String(v)) = instance.instance_fields.get(level) else {
                        break;
                    };
                    if !node.children.contains_key(&**v) {
                        node.children.insert(v.to_string(), Node::default());
                    }
                    let Some(child) = node.children.get_mut(&**v) else {
                        break;
                    };
                    node = child;
                }
                node.direct.push(n as u32);
            }
            if !placed {
                index.unparented.push(n as u32);
            }
            suggestions.insert(&instance.twin);
            if let Some(name) = &instance.name {
                suggestions.insert(name);
            }
            if let Some(t) = model.type_by_id(&instance.type_id) {
                suggestions.insert(&t.name);
            }
            suggestions.extend(instance.instance_fields.values().filter_map(|v| match v {
                Value::String(s) => Some(&**s),
                _ => None,
            }));
            index.keys.push((
                instance.twin.to_lowercase(),
                instance.name.as_deref().unwrap_or_default().to_lowercase(),
            ));
            index.type_names.push(type_name);
            index.twins.push(instance.twin.clone());
            display.push((instance.name.as_deref().unwrap_or(&instance.twin), &*instance.twin));
        }
        let mut by_display: Vec<u32> = (0..display.len() as u32).collect();
        by_display.sort_unstable_by_key(|&i| display[i as usize]);
        index.display_rank = vec![0; display.len()];
        for (place, &i) in by_display.iter().enumerate() {
            index.display_rank[i as usize] = place as u32;
        }
        let mut values: Vec<String> = suggestions.into_iter().map(str::to_string).collect();
        values.sort_unstable();
        for (n, value) in values.iter().enumerate() {
            let lower = value.to_lowercase();
            let mut at_start = true;
            for (i, c) in lower.char_indices() {
                if at_start && !c.is_whitespace() {
                    index.word_starts.push((lower[i..].to_string(), n as u32));
                }
                at_start = c.is_whitespace();
            }
        }
        index.word_starts.sort_unstable();
        index.suggestions = values;
        for (_, root, order) in index.trees.values_mut() {
            root.lay_out(order);
        }
        index
    }

    /// Each term's hits: per instance 0 (none), 1 (in a field other than the id and the
    /// name) or 2 (in the id or the name).
    fn hits(&self, query: &TextQuery) -> Vec<Vec<u8>> {
        query.terms.iter().map(|t| self.term_hits(t)).collect()
    }

    /// Which instances match `query` (`hits`: [`Self::hits`]); `None`: all do.
    fn matches(&self, query: &TextQuery, hits: &[Vec<u8>]) -> Option<Vec<bool>> {
        if query.matches_everything() {
            return None;
        }
        Some(
            (0..self.twins.len())
                .map(|i| query.combine(|n| hits[n][i] > 0))
                .collect(),
        )
    }

    /// Where `term` matches each instance (see [`Self::hits`]). The term's literal core is
    /// found in the one text buffer; an instance's id and name come first in it, so its
    /// first hit tells whether one is in them, and the search goes on from the next
    /// instance. A wildcard term is then tried on the fields of those instances alone.
    fn term_hits(&self, term: &Term) -> Vec<u8> {
        let core = term.literal_core();
        let mut hit = vec![u8::from(core.is_empty()); self.twins.len()];
        if !core.is_empty() {
            let finder = memchr::memmem::Finder::new(core.as_bytes());
            let (mut from, mut i) = (0, 0);
            // Hits come in order, so the instance of each is found by walking forward.
            while let Some(at) = finder.find(&self.text[from..]) {
                let pos = from + at;
                while self.starts.get(i + 1).is_some_and(|&next| next <= pos) {
                    i += 1;
                }
                hit[i] = if pos < self.key_ends[i] { 2 } else { 1 };
                match self.starts.get(i + 1) {
                    Some(&next) => from = next,
                    None => break,
                }
            }
        }
        if term.wildcard {
            for (i, h) in hit.iter_mut().enumerate() {
                if *h > 0 {
                    let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
                    let field = |from: usize, to: usize| std::str::from_utf8(&self.text[from..to]).unwrap_or_default();
                    let found = |text: &str| text.split('\n').any(|f| term.find(f).is_some());
                    *h = if found(field(self.starts[i], self.key_ends[i])) {
                        2
                    } else {
                        u8::from(found(field(self.key_ends[i], end)))
                    };
                }
            }
        }
        hit
    }

    /// The order key of instance `i` for `Rank`: 0 best, the text equal to the id or the
    /// name; 1, a positive term in the id or the name; 2, elsewhere; then the display name.
    fn rank_key(&self, i: usize, text: &str, query: &TextQuery, hits: &[Vec<u8>]) -> u64 {
        let (id, name) = &self.keys[i];
        let rank: u64 = if !text.is_empty() && (id == text || name == text) {
            0
        } else if query
            .terms
            .iter()
            .zip(hits)
            .any(|(t, h)| t.occur != Occur::MustNot && h[i] == 2)
        {
            1
        } else {
            2
        };
        (rank << 32) | u64::from(self.display_rank[i])
    }

    /// Runs `q`; the hits of its page are read from `model`, the model the index was built
    /// from.
    pub(crate) fn search(&self, q: &InstanceSearch, model: &Lens<'_>) -> Result<SearchResult, String> {
        let text = q.text.trim().to_lowercase();
        let query = TextQuery::parse(&q.text);
        let hits = self.hits(&query);
        let matches = self.matches(&query, &hits);
        let matches = matches.as_deref();
        // The node searched, and which instances are "at" it or under it.
        let mut candidates: Vec<u32> = Vec::new();
        let mut nodes: Vec<NodeHit> = Vec::new();
        match q.path.split_first() {
            None => {
                if q.recursive {
                    candidates.extend(0..self.twins.len() as u32);
                } else {
                    candidates.extend(&self.unparented);
                }
                let mut single = None;
                for (name, (_, root, order)) in &self.trees {
                    let count = root.count(order, matches);
                    if count > 0 {
                        single = Some((root, order));
                        nodes.push(NodeHit {
                            name: name.clone(),
                            cumulative_instance_count: count,
                            children: Vec::new(),
                        });
                    }
                }
                // UntilChildren: a hierarchy alone at the root is opened.
                if let ([only], Some((root, order))) = (nodes.as_mut_slice(), single)
                    && q.expand == Expand::UntilChildren
                {
                    only.children = level(root, order, matches, q.node_order, true);
                }
            }
            Some((hierarchy, rest)) => {
                let (_, root, order) = self
                    .trees
                    .get(hierarchy)
                    .ok_or_else(|| format!("path: {hierarchy:?} is not the name of a hierarchy"))?;
                if let Some(node) = root.at(rest) {
                    if q.recursive {
                        candidates.extend(node.subtree(order));
                    } else {
                        candidates.extend(&node.direct);
                    }
                    nodes = level(node, order, matches, q.node_order, q.expand == Expand::UntilChildren);
                }
            }
        }
        if let Some(m) = matches {
            candidates.retain(|&i| m[i as usize]);
        }
        if !q.instances {
            candidates.clear();
        }
        if !candidates.is_sorted() {
            candidates.sort_unstable();
        }
        candidates.dedup();
        let key = |i: u32| match q.order {
            InstanceOrder::Rank => self.rank_key(i as usize, &text, &query, &hits),
            InstanceOrder::DisplayName => u64::from(self.display_rank[i as usize]),
        };
        let mut keyed: Vec<(u64, u32)> = candidates.iter().map(|&i| (key(i), i)).collect();
        sort_nodes(&mut nodes, q.node_order);
        if q.expand == Expand::None {
            nodes.clear();
        }
        let (start, end, continuation) = page(keyed.len(), q.page_size, q.continuation.as_deref())?;
        // Only the instances up to the page's end need their order: select them, sort those.
        if end < keyed.len() {
            keyed.select_nth_unstable(end);
            keyed.truncate(end);
        }
        keyed.sort_unstable();
        let (node_start, node_end, node_continuation) =
            page(nodes.len(), q.node_page_size, q.node_continuation.as_deref())?;
        let instances = keyed[start..end]
            .iter()
            .filter_map(|&(_, i)| {
                let instance = model.instance(&self.twins[i as usize])?;
                Some(InstanceHit {
                    instance: instance.clone(),
                    highlights: q.highlights.then(|| self.highlights(i as usize, instance, &query)),
                })
            })
            .collect();
        Ok(SearchResult {
            instances,
            instance_count: candidates.len(),
            continuation,
            node_count: nodes.len(),
            nodes: nodes.drain(node_start..node_end).collect(),
            node_continuation,
        })
    }

    fn highlights(&self, i: usize, inst: &Instance, terms: &TextQuery) -> BTreeMap<String, serde_json::Value> {
        use serde_json::json;
        let mark = |s: &str| json!(highlight(s, terms));
        let mut out = BTreeMap::new();
        out.insert("timeSeriesId".into(), json!([highlight(&inst.twin, terms)]));
        out.insert("typeName".into(), mark(&self.type_names[i]));
        if let Some(n) = &inst.name {
            out.insert("name".into(), mark(n));
        }
        if let Some(d) = &inst.description {
            out.insert("description".into(), mark(d));
        }
        out.insert(
            "hierarchyIds".into(),
            json!(
                inst.hierarchy_ids
                    .iter()
                    .map(|h| highlight(h, terms))
                    .collect::<Vec<_>>()
            ),
        );
        let names: Vec<String> = self
            .trees
            .values()
            .filter(|(h, _, _)| inst.hierarchy_ids.contains(&h.id))
            .map(|(h, _, _)| highlight(&h.name, terms))
            .collect();
        out.insert("hierarchyNames".into(), json!(names));
        out.insert(
            "instanceFieldNames".into(),
            json!(
                inst.instance_fields
                    .keys()
                    .map(|k| highlight(k, terms))
                    .collect::<Vec<_>>()
            ),
        );
        out.insert(
            "instanceFieldValues".into(),
            json!(
                inst.instance_fields
                    .values()
                    .map(|v| highlight(&field_text(v), terms))
                    .collect::<Vec<_>>()
            ),
        );
        out
    }

    /// Values (ids, names, type names, String field values) with a word starting with
    /// `prefix` (case-insensitive), sorted, at most `take`: `(value, value with the prefix
    /// marked <hit> at each word start)`.
    pub(crate) fn suggest(&self, prefix: &str, take: usize) -> Vec<(String, String)> {
        let lower = prefix.trim().to_lowercase();
        if lower.is_empty() {
            return Vec::new();
        }
        let first = self.word_starts.partition_point(|(w, _)| w.as_str() < lower.as_str());
        // Values are sorted, so the smallest indices are the first values in order.
        let mut found: std::collections::BinaryHeap<u32> = std::collections::BinaryHeap::new();
        for (_, n) in self.word_starts[first..]
            .iter()
            .take_while(|(w, _)| w.starts_with(&lower))
        {
            if found.iter().any(|f| f == n) {
                continue;
            }
            found.push(*n);
            if found.len() > take {
                found.pop();
            }
        }
        let mut found = found.into_sorted_vec();
        found.truncate(take);
        found
            .into_iter()
            .map(|n| {
                let value = &self.suggestions[n as usize];
                (value.clone(), highlight_word_starts(value, &lower))
            })
            .collect()
    }
}

/// The children of `node` that hold matching instances, with their counts, in `order`.
/// With `until_children` (TSI's `UntilChildren`), a child alone on its level is opened in
/// turn, down to the first level with several nodes.
fn level(node: &Node, order: &[u32], matches: Option<&[bool]>, sort: NodeOrder, until_children: bool) -> Vec<NodeHit> {
    let mut hits: Vec<(NodeHit, &Node)> = node
        .children
        .iter()
        .map(|(name, child)| {
            let hit = NodeHit {
                name: name.clone(),
                cumulative_instance_count: child.count(order, matches),
                children: Vec::new(),
            };
            (hit, child)
        })
        .filter(|(hit, _)| hit.cumulative_instance_count > 0)
        .collect();
    if let [(only, child)] = hits.as_mut_slice()
        && until_children
    {
        only.children = level(child, order, matches, sort, true);
    }
    let mut out: Vec<NodeHit> = hits.into_iter().map(|(hit, _)| hit).collect();
    sort_nodes(&mut out, sort);
    out
}

fn sort_nodes(nodes: &mut [NodeHit], sort: NodeOrder) {
    match sort {
        NodeOrder::Count => nodes.sort_by(|a, b| {
            b.cumulative_instance_count
                .cmp(&a.cumulative_instance_count)
                .then_with(|| a.name.cmp(&b.name))
        }),
        NodeOrder::Name => nodes.sort_by(|a, b| a.name.cmp(&b.name)),
    }
}

/// `text` with `prefix` marked `<hit>` wherever a word of it starts with it.
fn highlight_word_starts(text: &str, prefix: &str) -> String {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 11);
    let mut at_start = true;
    let mut rest = 0;
    for (i, c) in text.char_indices() {
        if i < rest {
            continue;
        }
        if at_start && !c.is_whitespace() && lower[i..].starts_with(prefix) {
            out.push_str("<hit>");
            out.push_str(&text[i..i + prefix.len()]);
            out.push_str("</hit>");
            rest = i + prefix.len();
            at_start = false;
            continue;
        }
        out.push(c);
        at_start = c.is_whitespace();
    }
    out
}

/// Appends `text` lower-cased (ASCII in place; other text through `to_lowercase`).
fn push_lower(out: &mut Vec<u8>, text: &str) {
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
    } else {
        out.extend_from_slice(text.to_lowercase().as_bytes());
    }
}

/// `[start, end)` of a page of `len` items and the next page's token.
fn page(len: usize, size: usize, token: Option<&str>) -> Result<(usize, usize, Option<String>), String> {
    let size = if size == 0 { DEFAULT_PAGE } else { size.min(MAX_PAGE) };
    let start = match token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|&s| s <= len)
            .ok_or_else(|| format!("continuation token {t:?} is not one this store gave"))?,
    };
    let end = (start + size).min(len);
    Ok((start, end, (end < len).then(|| end.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_tokens() {
        assert_eq!(page(25, 10, None), Ok((0, 10, Some("10".into()))));
        assert_eq!(page(25, 10, Some("20")), Ok((20, 25, None)));
        assert_eq!(page(5, 0, None), Ok((0, 5, None)));
        assert!(page(5, 10, Some("6")).is_err());
        assert!(page(5, 10, Some("x")).is_err());
    }
}
