//! Reading one twin's rows at a snapshot, across its sources: the cold files a range meets
//! (oldest first), the tables a flush is writing out, and the warm table.
//!
//! - [`chunk`]: a cold chunk's rows in a range, decoded group by group.
//! - [`merge`]: the one merge of sources, used by queries and compaction alike.
//! - `latest`: a twin's values at an instant, and the caches of its latest state.
//!
//! Every reader orders rows the same way, by [`Rank`].

pub(crate) mod chunk;
mod latest;
pub(crate) mod merge;

use std::ops::ControlFlow;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

pub(crate) use latest::{ColdLatest, state_at};
pub use latest::{PropertyValue, TwinState};
pub(crate) use merge::{Merger, merge_rows};

use crate::catalog::{ColumnNames, TwinEntry};
use crate::cold::ColdState;
use crate::error::Result;
use crate::model::{ColumnId, Value};
use crate::warm::{RowPos, ScanRange, WarmTable};

/// One row, row-major: its time and its values by column.
pub(crate) type Row = (i64, Vec<(ColumnId, Value)>);

/// Where a row stands among every row of one twin: by time, then by source (the read's
/// sources oldest first: cold files, the table a flush is writing out, the warm table),
/// then by its place within the source (a cold row's index as a main row). Ascending reads
/// return rows in this order, descending reads in its reverse; `latest`, `first` and
/// `last` pick by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    pub ts: i64,
    pub source: usize,
    pub within: RowPos,
}

impl Rank {
    /// The rank of row `row` of a cold source (or of any source numbered by row).
    pub(crate) fn of_row(ts: i64, source: usize, row: usize) -> Self {
        Rank {
            ts,
            source,
            within: RowPos::main(row),
        }
    }
}

/// What the engine keeps per twin beside its catalog entry: its warm rows, and what reads
/// cache of it.
#[derive(Default)]
pub(crate) struct TwinData {
    pub table: RwLock<WarmTable>,
    /// The newest value of each column in the cold files, for the cold generation it was
    /// computed at (see `state_at`).
    pub cold_latest: Mutex<Option<Arc<ColdLatest>>>,
    /// The whole latest state and the cold generation it was computed at, when it was
    /// computed with no warm rows (then it is the answer as long as the twin has none). Kept
    /// inline: a fleet's latest values are a lookup per twin.
    pub latest_state: Mutex<Option<(u64, TwinState)>>,
}

/// A twin as the engine holds it.
pub(crate) type Twin = TwinEntry<TwinData>;

/// Column names of a twin, indexed by column id.
pub(crate) fn column_names(twin: &Twin) -> ColumnNames {
    twin.meta.lock().names()
}

/// Everything one query reads of a twin: its cold chunks, the tables a flush is writing
/// out, and its warm rows, at one snapshot. Sources are ordered oldest first; rows of equal
/// time are ordered by source, then within it.
pub(crate) struct TwinView<'a> {
    pub entry: &'a Twin,
    pub cold: &'a ColdState,
    pub frozen: Option<&'a WarmTable>,
    pub warm: &'a WarmTable,
    pub snapshot: u64,
}

/// The rows of a warm table in `range` visible at `snapshot`, at most `limit`.
fn warm_rows(
    table: &WarmTable,
    range: ScanRange,
    wanted: Option<&[ColumnId]>,
    snapshot: u64,
    limit: usize,
) -> Vec<Row> {
    let mut out = Vec::new();
    table.scan(range, wanted, snapshot, |ts, values| {
        out.push((ts.as_nanos(), values.to_vec()));
        if out.len() >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    out
}

/// The rows of a twin in `range` from every source, merged in order, with the values of the
/// `wanted` columns (all when `None`; rows without any of them are left out), at most `limit`.
pub(crate) fn merged_rows(
    view: &TwinView<'_>,
    range: ScanRange,
    wanted: Option<&[ColumnId]>,
    limit: usize,
) -> Result<Vec<Row>> {
    let mut sources = Vec::new();
    for c in view.cold.chunks(view.entry.id, range.from, range.to)? {
        sources.push(chunk::chunk_rows_in(&c, &view.cold.cache, range, wanted, limit)?);
    }
    if let Some(frozen) = view.frozen {
        sources.push(warm_rows(frozen, range, wanted, view.snapshot, limit));
    }
    sources.push(warm_rows(view.warm, range, wanted, view.snapshot, limit));
    Ok(merge_rows(sources, range.descending, limit, |_| true))
}
