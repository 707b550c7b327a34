//! The cold tier: immutable, compressed, memory-mapped segment files, listed by a manifest.
//!
//! - [`codec`]: block encodings (integers, timestamps, decimal doubles, strings).
//! - [`segment`]: the segment file format, its writer and its memory-mapped reader.
//! - [`manifest`]: the atomically replaced list of live files plus the catalog.
//!
//! This module also holds what readers share: the list of live files and, during a flush,
//! the warm tables being written out ([`ColdState`]), and the conversion of rows into the
//! writer's column-major input. Reading rows back out is the next stage's job (`read`).

pub(crate) mod cache;
pub(crate) mod codec;
pub(crate) mod manifest;
pub(crate) mod segment;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use foldhash::HashMap;

pub(crate) use manifest::{FileMeta, Manifest};
pub(crate) use segment::{Chunk, ColumnRows, Segment, SegmentWriter, TwinRows};

use crate::error::Result;
use crate::model::{ColumnId, TwinId, Value};
use crate::warm::WarmTable;

/// Directory of segment files inside a store.
pub(crate) const COLD_DIR: &str = "cold";

/// Path of segment file `id`.
pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(COLD_DIR).join(format!("{id:016}.seg"))
}

/// The id of a segment file, from its name.
pub(crate) fn segment_file_id(path: &Path) -> Option<u64> {
    path.file_name()?.to_str()?.strip_suffix(".seg")?.parse().ok()
}

/// A live segment file.
#[derive(Debug)]
pub(crate) struct ColdFile {
    pub meta: FileMeta,
    pub segment: Arc<Segment>,
}

/// Warm tables taken out of the twins by a flush, readable until their file is installed.
#[derive(Default)]
pub(crate) struct Frozen {
    pub tables: HashMap<TwinId, Arc<WarmTable>>,
}

/// What readers see of the cold tier. Replaced as a whole (under the store's `cold` lock)
/// when a flush or compaction installs files.
#[derive(Default)]
pub(crate) struct ColdState {
    /// Oldest first.
    pub files: Vec<Arc<ColdFile>>,
    pub frozen: Option<Arc<Frozen>>,
    /// Decoded blocks, shared by every state of one store.
    pub cache: Arc<cache::BlockCache>,
    /// Bumped whenever `files` changes: keys per-twin caches of what the files hold.
    pub generation: u64,
}

impl ColdState {
    /// The chunks of `twin`, oldest file first, of files whose time range meets
    /// `[from, to)`.
    pub(crate) fn chunks(&self, twin: TwinId, from: i64, to: i64) -> Result<Vec<Chunk<'_>>> {
        let mut out = Vec::new();
        for f in &self.files {
            if f.meta.max_ts < from || f.meta.min_ts >= to {
                continue;
            }
            if let Some((index, r)) = f.segment.find(twin)?
                && r.max_ts >= from
                && r.min_ts < to
            {
                let mut chunk = f.segment.chunk_at(index, &r)?;
                chunk.file_id = f.meta.id;
                out.push(chunk);
            }
        }
        Ok(out)
    }

    pub(crate) fn frozen_table(&self, twin: TwinId) -> Option<&WarmTable> {
        self.frozen.as_ref().and_then(|f| f.tables.get(&twin)).map(|t| &**t)
    }
}

/// Column-major rows for the segment writer (a column holds values of one type), from rows
/// given row-major: each row's time and values by column.
pub(crate) fn to_twin_rows(twin: TwinId, rows: &[(i64, Vec<(ColumnId, Value)>)]) -> TwinRows {
    let mut columns: BTreeMap<ColumnId, ColumnRows> = BTreeMap::new();
    let mut ts = Vec::with_capacity(rows.len());
    for (i, (t, values)) in rows.iter().enumerate() {
        ts.push(*t);
        for (c, v) in values {
            let col = columns.entry(*c).or_insert_with(|| ColumnRows {
                column: *c,
                ty: v.value_type(),
                rows: Vec::new(),
                values: Vec::new(),
            });
            col.rows.push(i as u32);
            col.values.push(v.clone());
        }
    }
    TwinRows {
        twin,
        ts,
        columns: columns.into_values().collect(),
    }
}
