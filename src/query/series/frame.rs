//! What series queries return: frames of named, typed columns.

use std::time::Duration;

use crate::model::{Timestamp, Value, ValueType};

/// One result column: a property or variable, its type and one value per timestamp (`None`
/// is null).
#[derive(Clone, Debug, PartialEq)]
pub struct FrameColumn {
    /// Property or variable name (`Var[Label]` for a category).
    pub name: String,
    /// The values' type.
    pub value_type: ValueType,
    /// One per timestamp.
    pub values: Vec<Option<Value>>,
}

/// A TSI response page: timestamps and columns of values.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Frame {
    /// Event times, or bucket left edges.
    pub timestamps: Vec<Timestamp>,
    /// The columns.
    pub properties: Vec<FrameColumn>,
    /// Present when there is more: pass it back in the query to get the next page.
    pub continuation_token: Option<String>,
}

impl Frame {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&FrameColumn> {
        self.properties.iter().find(|c| c.name == name)
    }

    /// The values of column `name` as doubles (Long widened; null and other types `None`).
    pub fn doubles(&self, name: &str) -> Option<Vec<Option<f64>>> {
        self.column(name)
            .map(|c| c.values.iter().map(|v| v.as_ref().and_then(Value::as_f64)).collect())
    }
}

/// The series of one twin, or of a merged fleet (`twin` is `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct TwinFrame {
    /// The twin id; `None` for a merged series.
    pub twin: Option<String>,
    /// Its series.
    pub frame: Frame,
}

/// `availability`: how many events there are over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Availability {
    /// Time of the first and last event (inclusive), if any.
    pub range: Option<(Timestamp, Timestamp)>,
    /// Width of the distribution's buckets.
    pub interval: Duration,
    /// Bucket left edge and event count, for non-empty buckets, in time order.
    pub distribution: Vec<(Timestamp, u64)>,
}

/// A property seen in a span, and its type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaProperty {
    /// Flattened name.
    pub name: String,
    /// Type.
    pub value_type: ValueType,
}
