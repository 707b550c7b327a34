//! Reading a cold chunk's rows in a time range: the groups the range meets, their times,
//! and the decoded blocks of the wanted columns. Every reader of cold rows (range reads,
//! series, compaction) decodes through [`scan_groups`], then lays the values out as it needs.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::Row;
use crate::cold::cache::BlockCache;
use crate::cold::segment::{Chunk, Values};
use crate::error::Result;
use crate::model::ColumnId;
use crate::warm::ScanRange;

/// The rows of one group of a chunk that lie in a range.
pub(crate) struct GroupRows {
    /// Every time of the group (`lo..hi` are the rows in range).
    pub times: Arc<Vec<i64>>,
    pub lo: usize,
    pub hi: usize,
    /// Per wanted column present in the group: its id, the group rows that have a value
    /// (ascending), and those values.
    pub columns: Vec<(ColumnId, Vec<u32>, Values)>,
}

impl GroupRows {
    /// The times of the rows in range.
    pub(crate) fn times_in_range(&self) -> &[i64] {
        &self.times[self.lo..self.hi]
    }

    /// For column `k` of [`GroupRows::columns`]: `(row - lo, value index)` of each of its
    /// values in range, ascending.
    pub(crate) fn values_in_range(&self, k: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let present = &self.columns[k].1;
        let first = present.partition_point(|&r| (r as usize) < self.lo);
        let last = present.partition_point(|&r| (r as usize) < self.hi);
        (first..last).map(move |i| (present[i] as usize - self.lo, i))
    }
}

/// Visits the groups of `chunk` that hold rows in `range` (every row, ascending, when
/// `None`), in the range's order (newest group first when descending), with the blocks of
/// the `wanted` columns (all when `None`) decoded. Timestamps go through `cache` when given (queries), else are decoded afresh
/// (compaction, which reads each block once). Stops when `visit` breaks.
pub(crate) fn scan_groups(
    chunk: &Chunk<'_>,
    cache: Option<&BlockCache>,
    range: Option<ScanRange>,
    wanted: Option<&[ColumnId]>,
    mut visit: impl FnMut(GroupRows) -> ControlFlow<()>,
) -> Result<()> {
    let groups: Vec<_> = chunk
        .groups
        .iter()
        .filter(|g| range.is_none_or(|r| g.first_ts < r.to && g.last_ts >= r.from))
        .collect();
    let ordered: Box<dyn Iterator<Item = _>> = if range.is_some_and(|r| r.descending) {
        Box::new(groups.into_iter().rev())
    } else {
        Box::new(groups.into_iter())
    };
    for g in ordered {
        let times = match cache {
            Some(cache) => chunk.cached_timestamps(g, cache)?,
            None => {
                let mut ts = Vec::new();
                chunk.timestamps(g, &mut ts)?;
                Arc::new(ts)
            }
        };
        let (lo, hi) = match range {
            Some(r) => (
                times.partition_point(|&t| t < r.from),
                times.partition_point(|&t| t < r.to),
            ),
            None => (0, times.len()),
        };
        if lo >= hi {
            continue;
        }
        let mut columns = Vec::new();
        for b in &g.blocks {
            let column = chunk.columns[b.slot].0;
            if wanted.is_none_or(|w| w.contains(&column)) {
                let (present, values) = chunk.column(g, b)?;
                columns.push((column, present, values));
            }
        }
        if visit(GroupRows { times, lo, hi, columns }).is_break() {
            break;
        }
    }
    Ok(())
}

/// The rows of a group in range, row-major, ascending. Rows without a value in any wanted
/// column are kept only when `keep_empty` (compaction copies every row; reads skip them, as
/// the warm tier's scan does).
pub(crate) fn group_rows(group: GroupRows, keep_empty: bool) -> Vec<Row> {
    let times = group.times_in_range();
    if let [_] = group.columns[..]
        && !keep_empty
    {
        // One column (a projection): rows straight from its values.
        let column = group.columns[0].0;
        let values = &group.columns[0].2;
        return group
            .values_in_range(0)
            .map(|(r, i)| (times[r], vec![(column, values.get(i))]))
            .collect();
    }
    let mut per_row: Vec<Vec<(ColumnId, crate::model::Value)>> = vec![Vec::new(); times.len()];
    for k in 0..group.columns.len() {
        let (column, _, values) = &group.columns[k];
        for (r, i) in group.values_in_range(k) {
            per_row[r].push((*column, values.get(i)));
        }
    }
    per_row
        .into_iter()
        .zip(times)
        .filter(|(values, _)| keep_empty || !values.is_empty())
        .map(|(values, &t)| (t, values))
        .collect()
}

/// The rows of a cold chunk in `range`, with values of the `wanted` columns (all when
/// `None`; rows with none of them left out), in the range's order, at most `limit`.
pub(crate) fn chunk_rows_in(
    chunk: &Chunk<'_>,
    cache: &BlockCache,
    range: ScanRange,
    wanted: Option<&[ColumnId]>,
    limit: usize,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    scan_groups(chunk, Some(cache), Some(range), wanted, |group| {
        let mut rows = group_rows(group, false);
        if range.descending {
            rows.reverse();
        }
        let room = limit - out.len();
        rows.truncate(room);
        out.append(&mut rows);
        if out.len() >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(out)
}

/// Every row of a chunk, in order, rows without values included: what compaction copies.
pub(crate) fn all_chunk_rows(chunk: &Chunk<'_>) -> Result<Vec<Row>> {
    let mut out: Vec<Row> = Vec::with_capacity(chunk.twin_ref.rows as usize);
    scan_groups(chunk, None, None, None, |group| {
        out.append(&mut group_rows(group, true));
        ControlFlow::Continue(())
    })?;
    Ok(out)
}
