//! Queries over one twin: raw events in a range, the latest values, the state at an instant,
//! the schema. They read a consistent snapshot (see `engine::snapshot`).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::catalog::{ColumnId, TwinEntry};
use crate::model::{Timestamp, Value, ValueType};
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
    pub twin: String,
    /// The instant (`None`: the latest state).
    pub at: Option<Timestamp>,
    /// Properties by name.
    pub properties: Vec<PropertyValue>,
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
fn column_names(entry: &TwinEntry) -> Vec<(Arc<str>, ValueType)> {
    entry
        .meta
        .lock()
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.ty))
        .collect()
}

pub(crate) fn events(entry: &TwinEntry, query: &EventsQuery, snapshot: u64) -> Vec<Event> {
    let table = entry.table.read();
    // Read names after the table: every column in the table is already in the catalog.
    let names = column_names(entry);
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
    let mut out = Vec::new();
    if limit == 0 || range.from >= range.to {
        return out;
    }
    table.scan(range, projection.as_deref(), snapshot, |ts, values| {
        out.push(Event {
            ts,
            values: values
                .iter()
                .map(|(c, v)| (names[*c as usize].0.clone(), v.clone()))
                .collect(),
        });
        if out.len() >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    out
}

pub(crate) fn state_at(entry: &TwinEntry, at: Option<Timestamp>, snapshot: u64) -> TwinState {
    let table = entry.table.read();
    let names = column_names(entry);
    let last = match at {
        None => table
            .latest_values(snapshot)
            .unwrap_or_else(|| table.last_values(Timestamp::MAX, snapshot)),
        Some(at) => table.last_values(at, snapshot),
    };
    // Per name, the newest value over all its typed columns; ties go to the later arrival.
    let mut by_name: BTreeMap<Arc<str>, (Timestamp, crate::warm::RowPos, Value)> = BTreeMap::new();
    for (c, slot) in last.into_iter().enumerate() {
        let Some((ts, pos, value)) = slot else { continue };
        let name = names[c].0.clone();
        match by_name.get(&name) {
            Some((t, p, _)) if (*t, *p) >= (ts, pos) => {}
            _ => {
                by_name.insert(name, (ts, pos, value));
            }
        }
    }
    TwinState {
        twin: entry.name.to_string(),
        at,
        properties: by_name
            .into_iter()
            .filter(|(_, (_, _, v))| *v != Value::Removed)
            .map(|(name, (ts, _, value))| PropertyValue { name, value, ts })
            .collect(),
    }
}

pub(crate) fn schema(entry: &TwinEntry) -> Vec<PropertyInfo> {
    let table = entry.table.read();
    let names = column_names(entry);
    let counts = table.column_counts();
    let mut out: Vec<PropertyInfo> = names
        .into_iter()
        .enumerate()
        .filter(|(_, (_, ty))| *ty != ValueType::Removed)
        .map(|(c, (name, value_type))| PropertyInfo {
            name,
            value_type,
            count: counts.get(c).copied().unwrap_or(0),
        })
        .collect();
    out.sort_by(|a, b| (&a.name, a.value_type).cmp(&(&b.name, b.value_type)));
    out
}

pub(crate) fn twin_info(entry: &TwinEntry) -> TwinInfo {
    let table = entry.table.read();
    TwinInfo {
        id: entry.name.to_string(),
        model: entry.meta.lock().model.as_deref().map(str::to_string),
        records: table.rows() as u64,
        points: table.points(),
        time_range: table.time_range(),
    }
}
