//! A twin's values at an instant: per property, its newest value at or before it over every
//! source (ranked by [`Rank`]), with the latest state cached per twin while the cold files
//! and the warm rows allow.

use std::sync::Arc;

use crate::cold::ColdState;
use crate::cold::segment::Chunk;
use crate::error::Result;
use crate::model::{ColumnId, Timestamp, TwinId, Value};

use super::{Rank, TwinView, column_names};

/// A property's value and when it was set.
#[derive(Clone, Debug, PartialEq)]
pub struct PropertyValue {
    /// Flattened property name.
    pub name: Arc<str>,
    /// The value.
    pub value: Value,
    /// When this value was written.
    pub ts: Timestamp,
}

/// Each property's last value at or before an instant (removed properties left out).
#[derive(Clone, Debug, PartialEq)]
pub struct TwinState {
    /// The twin id.
    pub twin: Arc<str>,
    /// The instant (`None`: the latest state).
    pub at: Option<Timestamp>,
    /// Properties by name, sorted by name. Shared: a latest state served from the cache is
    /// not copied.
    pub properties: Arc<[PropertyValue]>,
}

impl TwinState {
    /// The value of `name`, if the twin had one.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties.iter().find(|p| &*p.name == name).map(|p| &p.value)
    }
}

/// Per column, the newest value the cold files hold: (column, time, source, row, value).
#[derive(Debug)]
pub(crate) struct ColdLatest {
    pub generation: u64,
    /// How many cold files there were (warm sources are numbered after them).
    pub sources: usize,
    pub values: Vec<ColdValue>,
}

/// Per column of a cold chunk, its last value at or before `at`, with its row index.
fn cold_last_values(chunk: &Chunk<'_>, at: i64) -> Result<Vec<(ColumnId, i64, usize, Value)>> {
    let mut out = Vec::new();
    let mut unresolved: Vec<usize> = (0..chunk.columns.len()).collect();
    let mut ts = Vec::new();
    let mut base = chunk.twin_ref.rows as usize;
    // Newest group first; each group's timestamps are decoded once for all its columns.
    for g in chunk.groups.iter().rev() {
        base -= g.rows;
        if unresolved.is_empty() {
            break;
        }
        if g.first_ts > at {
            continue;
        }
        let mut decoded = false;
        let mut still = Vec::with_capacity(unresolved.len());
        for slot in unresolved {
            let block = g.blocks.iter().find(|b| b.slot == slot);
            let Some(b) = block.filter(|b| b.stats.first_ts <= at) else {
                still.push(slot);
                continue;
            };
            if b.stats.last_ts <= at {
                // The block's last value is the one: it is in the directory.
                let s = &b.stats;
                out.push((chunk.columns[slot].0, s.last_ts, base + s.last_row, s.last.clone()));
                continue;
            }
            if !decoded {
                chunk.timestamps(g, &mut ts)?;
                decoded = true;
            }
            let (present, values) = chunk.column(g, b)?;
            // Rows are in time order: the last present row at or before `at`.
            let n = present.partition_point(|&r| ts[r as usize] <= at);
            if n == 0 {
                still.push(slot);
                continue;
            }
            let r = present[n - 1] as usize;
            out.push((chunk.columns[slot].0, ts[r], base + r, values.get(n - 1)));
        }
        unresolved = still;
    }
    Ok(out)
}

/// Per cold file holding `twin` (its index in `cold.files` is its source number), each
/// column's last value at or before `limit`: (column, time, source, row, value), enough to
/// find every column's newest cold value among. Files are read newest first (by their last
/// time); once each of the twin's `columns` has a value, a file whose rows all come before
/// the oldest of those values cannot hold a newer one, nor can any after it, and reading
/// stops before the twin's chunk in it is even looked up. With time partitions, a twin's
/// state at an instant is found in the last few days' files whatever the history's length.
/// Also returns the number of cold sources (warm sources are numbered after them).
fn newest_cold_values(cold: &ColdState, twin: TwinId, limit: i64, columns: usize) -> Result<(Vec<ColdValue>, usize)> {
    let files = &cold.files;
    let bound = |i: usize| files[i].meta.max_ts.min(limit);
    let mut order: Vec<usize> = (0..files.len()).filter(|&i| files[i].meta.min_ts <= limit).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(bound(i)));
    let mut newest: Vec<Option<i64>> = vec![None; columns];
    let mut out = Vec::new();
    for source in order {
        // Strictly older than every column's newest value: neither this file nor any later
        // one in the order can win (a tie in time could, by source order: it is read).
        let oldest_newest = newest.iter().try_fold(i64::MAX, |m, t| t.map(|t| m.min(t)));
        if oldest_newest.is_some_and(|t| bound(source) < t) {
            break;
        }
        let file = &files[source];
        let Some((index, r)) = file.segment.find(twin)? else {
            continue;
        };
        if r.min_ts > limit {
            continue;
        }
        let mut chunk = file.segment.chunk_at(index, &r)?;
        chunk.file_id = file.meta.id;
        for (c, ts, row, value) in cold_last_values(&chunk, limit)? {
            if let Some(slot) = newest.get_mut(c as usize) {
                *slot = Some(slot.map_or(ts, |t: i64| t.max(ts)));
            }
            out.push((c, ts, source, row, value));
        }
    }
    Ok((out, files.len()))
}

/// A column's last value in one chunk: (column, time, source, row, value).
type ColdValue = (ColumnId, i64, usize, usize, Value);

pub(crate) fn state_at(view: &TwinView<'_>, at: Option<Timestamp>) -> Result<TwinState> {
    let limit = at.map_or(i64::MAX, Timestamp::as_nanos);
    // With no warm rows, the latest state is the cold one, cached whole.
    let cold_only = at.is_none() && view.frozen.is_none() && view.warm.rows() == 0;
    if cold_only
        && let Some((generation, state)) = view.entry.data.latest_state.lock().as_ref()
        && *generation == view.cold.generation
    {
        return Ok(state.clone());
    }
    let names = column_names(view.entry);
    // Per column: the rank and value of its newest value at or before `at`.
    let mut best: Vec<Option<(Rank, Value)>> = vec![None; names.len()];
    let mut offer = |c: ColumnId, rank: Rank, value: Value| {
        let Some(slot) = best.get_mut(c as usize) else { return };
        if slot.as_ref().is_none_or(|(r, _)| *r < rank) {
            *slot = Some((rank, value));
        }
    };
    let cold_sources = if at.is_none() {
        // The latest state: the cold part is cached per twin until the files change.
        let cached = view
            .entry
            .data
            .cold_latest
            .lock()
            .clone()
            .filter(|c| c.generation == view.cold.generation);
        let cold = match cached {
            Some(c) => c,
            None => {
                let (values, sources) = newest_cold_values(view.cold, view.entry.id, limit, names.len())?;
                let computed = Arc::new(ColdLatest {
                    generation: view.cold.generation,
                    sources,
                    values,
                });
                *view.entry.data.cold_latest.lock() = Some(computed.clone());
                computed
            }
        };
        for (c, ts, source, row, value) in &cold.values {
            offer(*c, Rank::of_row(*ts, *source, *row), value.clone());
        }
        cold.sources
    } else {
        let (values, sources) = newest_cold_values(view.cold, view.entry.id, limit, names.len())?;
        for (c, ts, source, row, value) in values {
            offer(c, Rank::of_row(ts, source, row), value);
        }
        sources
    };
    for (source, table) in (cold_sources..).zip(view.frozen.into_iter().chain([view.warm])) {
        let last = match at {
            None => table
                .latest_values(view.snapshot)
                .unwrap_or_else(|| table.last_values(Timestamp::MAX, view.snapshot)),
            Some(at) => table.last_values(at, view.snapshot),
        };
        for (c, slot) in last.into_iter().enumerate() {
            if let Some((ts, pos, value)) = slot {
                let rank = Rank {
                    ts: ts.as_nanos(),
                    source,
                    within: pos,
                };
                offer(c as ColumnId, rank, value);
            }
        }
    }
    // Per name, the newest value over all its typed columns (sorted by name).
    type Found = (Arc<str>, (Rank, Value));
    let mut found: Vec<Found> = best
        .into_iter()
        .enumerate()
        .filter_map(|(c, slot)| slot.map(|b| (names[c].0.clone(), b)))
        .collect();
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.0.cmp(&a.1.0)));
    found.dedup_by(|later, first| later.0 == first.0);
    let state = TwinState {
        twin: view.entry.name.clone(),
        at,
        properties: found
            .into_iter()
            .filter(|(_, (_, v))| *v != Value::Removed)
            .map(|(name, (rank, value))| PropertyValue {
                name,
                value,
                ts: Timestamp::from_nanos(rank.ts),
            })
            .collect(),
    };
    if cold_only {
        *view.entry.data.latest_state.lock() = Some((view.cold.generation, state.clone()));
    }
    Ok(state)
}
