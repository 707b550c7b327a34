//! Queries over one twin: raw events in a range, the latest values, the state at an instant,
//! the schema. They read a consistent snapshot (see `engine::snapshot`).

mod aggregate;
pub(crate) mod interpolate;
pub(crate) mod series;
pub(crate) mod tsi;
pub(crate) mod tsx;

pub(crate) use aggregate::aggregate;
pub use aggregate::{AggregateQuery, Aggregation, MAX_BUCKETS, SeriesResult};
pub use interpolate::Interpolation;
pub use series::{
    AggregateSeriesQuery, Availability, Category, DEFAULT_TAKE, Frame, FrameColumn, GetEventsQuery, GetSeriesQuery,
    InterpolationSpec, MAX_TAKE, MAX_VARIABLES, PAGE_VALUES, SchemaProperty, TwinFrame, TwinSelector, Variable,
};

use std::sync::Arc;

use crate::catalog::{ColumnId, TwinEntry};
use crate::cold::segment::Chunk;
use crate::error::Result;
use crate::model::{Timestamp, Value, ValueType};
use crate::read::Rank;
pub(crate) use crate::read::TwinView;
pub(crate) use crate::read::merged_rows;
use crate::warm::ScanRange;

/// Order of returned events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first (the default).
    #[default]
    Ascending,
    /// Newest first.
    Descending,
}

/// A raw-events query over one twin: `[from, to)`, optional projection and limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsQuery {
    /// The twin id.
    pub twin: String,
    /// Inclusive start; `None` = from the beginning.
    pub from: Option<Timestamp>,
    /// Exclusive end; `None` = to the end.
    pub to: Option<Timestamp>,
    /// Property names to return (every type of each); `None` = all. Events that carry none
    /// of them are skipped.
    pub properties: Option<Vec<String>>,
    /// At most this many events.
    pub limit: Option<usize>,
    /// Ascending or descending by time.
    pub order: Order,
}

impl EventsQuery {
    /// Every event of `twin`, oldest first.
    pub fn new(twin: impl Into<String>) -> Self {
        EventsQuery {
            twin: twin.into(),
            from: None,
            to: None,
            properties: None,
            limit: None,
            order: Order::Ascending,
        }
    }

    /// Only events at or after `from`.
    pub fn from(mut self, from: Timestamp) -> Self {
        self.from = Some(from);
        self
    }

    /// Only events before `to`.
    pub fn to(mut self, to: Timestamp) -> Self {
        self.to = Some(to);
        self
    }

    /// Only these properties.
    pub fn properties<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.properties = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// At most `limit` events.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Newest first.
    pub fn descending(mut self) -> Self {
        self.order = Order::Descending;
        self
    }
}

/// One stored event (record) of a twin.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Event time.
    pub ts: Timestamp,
    /// Property values, under their flattened names. A name appears once; `Value::Removed`
    /// marks a removal.
    pub values: Vec<(Arc<str>, Value)>,
}

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

/// One column of a twin's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyInfo {
    /// Flattened property name.
    pub name: Arc<str>,
    /// Its type (a name with two types has two entries).
    pub value_type: ValueType,
    /// Number of values stored.
    pub count: u64,
}

/// A twin and what the store holds of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwinInfo {
    /// The twin id (`$dtId`).
    pub id: String,
    /// Its model id (DTMI), when known.
    pub model: Option<String>,
    /// Events stored.
    pub records: u64,
    /// Property values stored.
    pub points: u64,
    /// Time of the oldest and newest event.
    pub time_range: Option<(Timestamp, Timestamp)>,
}

/// Column names of a twin, indexed by column id.
pub(crate) fn column_names(entry: &TwinEntry) -> crate::catalog::ColumnNames {
    entry.meta.lock().names()
}

pub(crate) fn events(view: &TwinView<'_>, query: &EventsQuery) -> Result<Vec<Event>> {
    // Read names after the tables: every column in them is already in the catalog.
    let names = column_names(view.entry);
    let projection: Option<Vec<ColumnId>> = query.properties.as_ref().map(|props| {
        (0..names.len() as ColumnId)
            .filter(|&c| props.iter().any(|p| *p == *names[c as usize].0))
            .collect()
    });
    let range = ScanRange {
        from: query.from.map_or(i64::MIN, Timestamp::as_nanos),
        to: query.to.map_or(i64::MAX, Timestamp::as_nanos),
        descending: query.order == Order::Descending,
    };
    let limit = query.limit.unwrap_or(usize::MAX);
    if limit == 0 || range.from >= range.to {
        return Ok(Vec::new());
    }
    Ok(merged_rows(view, range, projection.as_deref(), limit)?
        .into_iter()
        .map(|(ts, values)| Event {
            ts: Timestamp::from_nanos(ts),
            values: values
                .into_iter()
                .map(|(c, v)| (names[c as usize].0.clone(), v))
                .collect(),
        })
        .collect())
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

pub(crate) fn state_at(view: &TwinView<'_>, at: Option<Timestamp>) -> Result<TwinState> {
    let limit = at.map_or(i64::MAX, Timestamp::as_nanos);
    // With no warm rows, the latest state is the cold one, cached whole.
    let cold_only = at.is_none() && view.frozen.is_none() && view.warm.rows() == 0;
    if cold_only
        && let Some((generation, state)) = view.entry.latest_state.lock().as_ref()
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
            .cold_latest
            .lock()
            .clone()
            .filter(|c| c.generation == view.cold.generation);
        let cold = match cached {
            Some(c) => c,
            None => {
                let chunks = view.cold.chunks(view.entry.id, i64::MIN, i64::MAX)?;
                let mut values = Vec::new();
                for (source, chunk) in chunks.iter().enumerate() {
                    for (c, ts, row, value) in cold_last_values(chunk, limit)? {
                        values.push((c, ts, source, row, value));
                    }
                }
                let computed = Arc::new(crate::catalog::ColdLatest {
                    generation: view.cold.generation,
                    sources: chunks.len(),
                    values,
                });
                *view.entry.cold_latest.lock() = Some(computed.clone());
                computed
            }
        };
        for (c, ts, source, row, value) in &cold.values {
            offer(*c, Rank::of_row(*ts, *source, *row), value.clone());
        }
        cold.sources
    } else {
        let chunks = view.cold.chunks(view.entry.id, i64::MIN, limit.saturating_add(1))?;
        for (source, chunk) in chunks.iter().enumerate() {
            for (c, ts, row, value) in cold_last_values(chunk, limit)? {
                offer(c, Rank::of_row(ts, source, row), value);
            }
        }
        chunks.len()
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
        *view.entry.latest_state.lock() = Some((view.cold.generation, state.clone()));
    }
    Ok(state)
}

pub(crate) fn schema(view: &TwinView<'_>) -> Result<Vec<PropertyInfo>> {
    let names = column_names(view.entry);
    let mut counts = vec![0u64; names.len()];
    let mut add = |c: usize, n: u64| {
        if let Some(slot) = counts.get_mut(c) {
            *slot += n;
        }
    };
    for table in view.frozen.into_iter().chain([view.warm]) {
        for (c, n) in table.column_counts(view.snapshot).into_iter().enumerate() {
            add(c, n);
        }
    }
    for chunk in view.cold.chunks(view.entry.id, i64::MIN, i64::MAX)? {
        for g in &chunk.groups {
            for b in &g.blocks {
                add(chunk.columns[b.slot].0 as usize, b.stats.count);
            }
        }
    }
    let mut out: Vec<PropertyInfo> = names
        .iter()
        .enumerate()
        .filter(|(_, (_, ty))| *ty != ValueType::Removed)
        .map(|(c, (name, value_type))| PropertyInfo {
            name: name.clone(),
            value_type: *value_type,
            count: counts[c],
        })
        .collect();
    out.sort_by(|a, b| (&a.name, a.value_type).cmp(&(&b.name, b.value_type)));
    Ok(out)
}

pub(crate) fn twin_info(view: &TwinView<'_>) -> Result<TwinInfo> {
    let mut records = 0;
    let mut points = 0;
    let mut range: Option<(Timestamp, Timestamp)> = None;
    let mut widen = |r: Option<(Timestamp, Timestamp)>| {
        if let Some((a, b)) = r {
            range = Some(range.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        }
    };
    for table in view.frozen.into_iter().chain([view.warm]) {
        let (rows, values, range) = table.visible_summary(view.snapshot);
        records += rows;
        points += values;
        widen(range);
    }
    for f in &view.cold.files {
        if let Some(r) = f.segment.twin_ref(view.entry.id)? {
            records += u64::from(r.rows);
            points += r.points;
            widen(Some((Timestamp::from_nanos(r.min_ts), Timestamp::from_nanos(r.max_ts))));
        }
    }
    Ok(TwinInfo {
        id: view.entry.name.to_string(),
        model: view.entry.meta.lock().model.as_deref().map(str::to_string),
        records,
        points,
        time_range: range,
    })
}
