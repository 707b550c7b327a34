//! The catalog: twin ids to dense numeric ids, and per twin its columns, one per
//! (property name, type) ever seen, plus its model id.
//!
//! Ids are interned once and written to the WAL with the first batch that uses them (a
//! definition travels in every batch until one batch carrying it has reached the log, so a
//! replay always meets a definition before its first use).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use foldhash::HashMap;
use parking_lot::{Mutex, RwLock};

// The ids live in the shared model; re-exported so that `catalog::{TwinId, ColumnId}` keeps
// compiling for code that still imports them from here.
use crate::model::ValueType;
use crate::model::{ColumnId, TwinId};

/// How far past the twins known a replayed twin id may be. Ids are handed out in order, so
/// a legitimate gap comes only from twins that calls which failed before logging them
/// created since the last flush (at most `Limits::max_records_per_call` per call); a damaged
/// id past it would size the id index (8 bytes per id) to it.
const MAX_TWIN_ID_GAP: usize = 1 << 24;

/// `(name, type)` of every column of a twin, indexed by column id.
pub(crate) type ColumnNames = Arc<[(Arc<str>, ValueType)]>;

/// A column's identity.
#[derive(Clone, Debug)]
pub(crate) struct ColumnMeta {
    pub name: Arc<str>,
    pub ty: ValueType,
    /// A WAL frame carrying this column's definition has been appended.
    pub logged: bool,
}

/// A hash of a property name, for quick rejection in column lookups.
fn name_hash(name: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x7457_696e).hash_one(name)
}

/// Up to this many columns, a twin's columns are found by a linear scan.
const LINEAR_LOOKUP_MAX: usize = 16;

/// A twin's columns and model id.
#[derive(Default, Debug)]
pub(crate) struct TwinMeta {
    /// The model id set by the logged frame with the highest sequence number, so that the
    /// model in memory is the one a replay of the log ends with.
    pub model: Option<Arc<str>>,
    model_seq: u64,
    pub columns: Vec<ColumnMeta>,
    /// `(hash of name, type)` of each column, for the linear lookup.
    keys: Vec<(u64, ValueType)>,
    by_name: HashMap<Arc<str>, Vec<(ValueType, ColumnId)>>,
    /// `(name, type)` of every column, built on first use after a column is added: readers
    /// take one reference instead of cloning every name.
    names: Option<ColumnNames>,
}

impl TwinMeta {
    /// `(name, type)` of every column, indexed by column id.
    pub(crate) fn names(&mut self) -> ColumnNames {
        self.names
            .get_or_insert_with(|| self.columns.iter().map(|c| (c.name.clone(), c.ty)).collect())
            .clone()
    }

    /// The column for `(name, ty)`, created when new; the flag says whether its definition
    /// still has to be logged.
    pub(crate) fn resolve(&mut self, name: &str, ty: ValueType) -> (ColumnId, bool) {
        if let Some(id) = self.find(name, ty) {
            return (id, !self.columns[id as usize].logged);
        }
        let id = self.columns.len() as ColumnId;
        self.insert(id, name.into(), ty, false);
        (id, true)
    }

    /// The column of property `name` with type `ty`, if the twin has one.
    pub(crate) fn find(&self, name: &str, ty: ValueType) -> Option<ColumnId> {
        // Twins have few columns: a scan of (hash, type) keys held inline beats a map, and
        // touches a name's bytes only to confirm a match.
        if self.columns.len() <= LINEAR_LOOKUP_MAX {
            let key = (name_hash(name), ty);
            self.keys
                .iter()
                .enumerate()
                .filter(|(_, k)| **k == key)
                .map(|(i, _)| i)
                .find(|&i| *self.columns[i].name == *name)
                .map(|i| i as ColumnId)
        } else {
            self.by_name
                .get(name)
                .and_then(|cols| cols.iter().find(|(t, _)| *t == ty))
                .map(|&(_, id)| id)
        }
    }

    /// Number of properties (distinct name and type) the twin has.
    pub(crate) fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// Sequence number of the frame that set the model.
    pub(crate) fn model_seq(&self) -> u64 {
        self.model_seq
    }

    /// Records that frame `seq` set the model to `model`; an older frame's model (a
    /// concurrent writer that appended first but got here last) does not replace it.
    pub(crate) fn set_model(&mut self, model: Arc<str>, seq: u64) {
        if seq >= self.model_seq {
            self.model = Some(model);
            self.model_seq = seq;
        }
    }

    /// Defines column `id` (replay). Returns false when `id` is taken by another column.
    pub(crate) fn define(&mut self, id: ColumnId, name: &str, ty: ValueType) -> bool {
        match self.columns.get(id as usize) {
            Some(existing) => &*existing.name == name && existing.ty == ty,
            None if id as usize == self.columns.len() => {
                self.insert(id, name.into(), ty, true);
                true
            }
            None => false,
        }
    }

    fn insert(&mut self, id: ColumnId, name: Arc<str>, ty: ValueType, logged: bool) {
        self.names = None;
        self.keys.push((name_hash(&name), ty));
        self.columns.push(ColumnMeta {
            name: name.clone(),
            ty,
            logged,
        });
        self.by_name.entry(name).or_default().push((ty, id));
    }
}

/// One twin: identity and metadata, and `data`, what later stages keep per twin (the engine
/// keeps its warm rows and read caches there: `read::TwinData`). The metadata and the data
/// have separate locks so that resolving columns for the WAL never waits on a reader.
pub(crate) struct TwinEntry<D> {
    pub id: TwinId,
    pub name: Arc<str>,
    /// A WAL frame carrying this twin's definition has been appended.
    pub logged: AtomicBool,
    pub meta: Mutex<TwinMeta>,
    pub data: D,
}

/// Number of shards of the name index; writers of different twins rarely meet on one.
const SHARDS: usize = 32;

/// One shard of the twin-name index.
type NameIndex<D> = HashMap<Arc<str>, Arc<TwinEntry<D>>>;

/// All twins of a store.
pub(crate) struct Catalog<D> {
    shards: Box<[RwLock<NameIndex<D>>]>,
    by_id: RwLock<Vec<Option<Arc<TwinEntry<D>>>>>,
    next_id: AtomicU32,
    hasher: foldhash::fast::RandomState,
    /// Bumped whenever a twin, a column or a twin's model id is logged: keys what is derived
    /// from the catalog (the Time Series Model's derived types and implied instances).
    changes: std::sync::atomic::AtomicU64,
}

impl<D> Default for Catalog<D> {
    fn default() -> Self {
        Catalog {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            by_id: RwLock::default(),
            next_id: AtomicU32::new(0),
            hasher: foldhash::fast::RandomState::default(),
            changes: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl<D: Default> Catalog<D> {
    /// Records that twins, columns or model ids were added or changed.
    pub(crate) fn bump(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// How many times [`Catalog::bump`] was called.
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn shard(&self, name: &str) -> &RwLock<NameIndex<D>> {
        use std::hash::BuildHasher;
        &self.shards[self.hasher.hash_one(name) as usize % SHARDS]
    }

    /// The twin named `name`, if known.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<TwinEntry<D>>> {
        self.shard(name).read().get(name).cloned()
    }

    /// The twin with id `id`, if known.
    pub(crate) fn by_id(&self, id: TwinId) -> Option<Arc<TwinEntry<D>>> {
        self.by_id.read().get(id as usize).cloned().flatten()
    }

    /// The twin named `name`, created (unlogged) when new.
    pub(crate) fn get_or_create(&self, name: &str) -> Arc<TwinEntry<D>> {
        if let Some(entry) = self.get(name) {
            return entry;
        }
        let mut shard = self.shard(name).write();
        if let Some(entry) = shard.get(name) {
            return entry.clone();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.insert_locked(&mut shard, id, name, false)
    }

    /// Defines twin `id` named `name` (replay of the WAL or the manifest). Fails on a
    /// conflicting definition, and on an id so far past the twins known that it can only
    /// come from damage (ids are handed out in order; twins are never forgotten), which would
    /// otherwise size the id index to it.
    pub(crate) fn define(&self, id: TwinId, name: &str) -> Result<(), String> {
        let known = self.by_id.read().len();
        if id as usize > known.saturating_add(MAX_TWIN_ID_GAP) {
            return Err(format!(
                "twin id {id} ({name:?}) is out of range: {known} twins are defined so far"
            ));
        }
        let conflict = || Err(format!("twin {id} ({name:?}) conflicts with an earlier definition"));
        let mut shard = self.shard(name).write();
        if let Some(existing) = shard.get(name) {
            return if existing.id == id { Ok(()) } else { conflict() };
        }
        if self.by_id(id).is_some() {
            return conflict();
        }
        self.next_id.fetch_max(id.saturating_add(1), Ordering::Relaxed);
        self.insert_locked(&mut shard, id, name, true);
        Ok(())
    }

    fn insert_locked(&self, shard: &mut NameIndex<D>, id: TwinId, name: &str, logged: bool) -> Arc<TwinEntry<D>> {
        let name: Arc<str> = name.into();
        let entry = Arc::new(TwinEntry {
            id,
            name: name.clone(),
            logged: AtomicBool::new(logged),
            meta: Mutex::default(),
            data: D::default(),
        });
        shard.insert(name, entry.clone());
        let mut by_id = self.by_id.write();
        if by_id.len() <= id as usize {
            by_id.resize(id as usize + 1, None);
        }
        by_id[id as usize] = Some(entry.clone());
        entry
    }

    /// Every twin, in id order.
    pub(crate) fn all(&self) -> Vec<Arc<TwinEntry<D>>> {
        self.by_id.read().iter().flatten().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_two_types_gets_two_columns() {
        let mut meta = TwinMeta::default();
        assert_eq!(meta.resolve("T", ValueType::Double), (0, true));
        assert_eq!(meta.resolve("T", ValueType::Long), (1, true));
        assert_eq!(meta.resolve("T", ValueType::Double).0, 0);
        assert_eq!(meta.columns.len(), 2);
    }

    #[test]
    fn replayed_definitions_must_agree() {
        let catalog = Catalog::<()>::default();
        assert!(catalog.define(3, "a").is_ok());
        assert!(catalog.define(3, "a").is_ok());
        assert!(catalog.define(3, "b").is_err());
        assert!(catalog.define(4, "a").is_err());
        // A damaged file's huge id is refused instead of sizing the index to it.
        assert!(catalog.define(u32::MAX, "c").unwrap_err().contains("out of range"));
        assert_eq!(catalog.get_or_create("c").id, 4);
    }
}
