//! A twin update as a typed Rust value.

use super::{Timestamp, Value};

/// One twin update: the twin's id (`$dtId`), the event time, and the properties that changed,
/// under their flattened names (`Front.Temperature`).
///
/// This is the typed write path: [`Store::write`](crate::Store::write) takes records without
/// any JSON. A property name may appear once per record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The twin id (`$dtId`): 1 to 1,024 characters, case-sensitive.
    pub twin: String,
    /// The event time.
    pub ts: Timestamp,
    /// The changed properties and their values.
    pub values: Vec<(String, Value)>,
}

impl Record {
    /// A record of `twin` at `ts` with no values yet.
    pub fn new(twin: impl Into<String>, ts: Timestamp) -> Self {
        Record {
            twin: twin.into(),
            ts,
            values: Vec::new(),
        }
    }

    /// Adds a property value (builder style).
    pub fn with(mut self, property: impl Into<String>, value: impl Into<Value>) -> Self {
        self.values.push((property.into(), value.into()));
        self
    }
}
