//! Queries over one twin: raw events in a range, the latest values, the state at an instant,
//! the schema. They read a consistent snapshot (see `engine::snapshot`).

mod aggregate;
pub(crate) mod interpolate;
pub(crate) mod series;
pub(crate) mod tsi;
pub(crate) mod tsi_answer;
pub(crate) mod tsx;

pub(crate) use aggregate::aggregate;
pub use aggregate::{AggregateQuery, Aggregation, MAX_BUCKETS, SeriesResult};
pub use interpolate::Interpolation;
pub(crate) use series::check_variable;
pub use series::{
    AggregateSeriesQuery, Availability, Category, DEFAULT_TAKE, Frame, FrameColumn, GetEventsQuery, GetSeriesQuery,
    InterpolationSpec, MAX_TAKE, MAX_VARIABLES, PAGE_VALUES, SchemaProperty, TwinFrame, TwinSelector, Variable,
};

use std::sync::Arc;

use crate::error::Result;
use crate::model::{ColumnId, Timestamp, Value, ValueType};
pub use crate::read::{PropertyValue, TwinState};
pub(crate) use crate::read::{TwinView, column_names, merged_rows, state_at};
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
