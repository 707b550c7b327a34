//! Property values and their types, as Time Series Insights types them.

use std::fmt;
use std::sync::Arc;

use super::Timestamp;

/// The type of a stored property value.
///
/// The first six are the TSI types. A property that arrives with two types is stored as two
/// columns, one per type, and nothing is converted. [`ValueType::Removed`] is twinstore's
/// marker for "this property was removed from the twin" (an ADT `remove` patch operation, or
/// a JSON `null` in a flattened record); it carries no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ValueType {
    /// 64-bit IEEE float; a JSON number with a fraction or exponent.
    Double = 1,
    /// 64-bit signed integer; a JSON number without a fraction.
    Long = 2,
    /// `true` / `false`.
    Bool = 3,
    /// UTF-8 text.
    String = 4,
    /// An instant; a string that parses as an ISO 8601 date-time.
    DateTime = 5,
    /// Anything else (arrays, mixed values), kept as JSON text.
    Dynamic = 6,
    /// Marker: the property was removed at this instant.
    Removed = 7,
}

impl ValueType {
    /// All types, in tag order.
    pub const ALL: [ValueType; 7] = [
        ValueType::Double,
        ValueType::Long,
        ValueType::Bool,
        ValueType::String,
        ValueType::DateTime,
        ValueType::Dynamic,
        ValueType::Removed,
    ];

    /// The TSI spelling (`Double`, `Long`, ...), as used in queries and results.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Double => "Double",
            ValueType::Long => "Long",
            ValueType::Bool => "Bool",
            ValueType::String => "String",
            ValueType::DateTime => "DateTime",
            ValueType::Dynamic => "Dynamic",
            ValueType::Removed => "Removed",
        }
    }

    /// The lowercase column suffix TSI uses in its cold store (`Temperature_double`).
    pub fn column_suffix(self) -> &'static str {
        match self {
            ValueType::Double => "double",
            ValueType::Long => "long",
            ValueType::Bool => "bool",
            ValueType::String => "string",
            ValueType::DateTime => "datetime",
            ValueType::Dynamic => "dynamic",
            ValueType::Removed => "removed",
        }
    }

    /// The on-disk tag (stable across versions).
    pub(crate) fn tag(self) -> u8 {
        self as u8
    }

    /// The type for an on-disk tag, or `None` for an unknown tag.
    pub(crate) fn from_tag(tag: u8) -> Option<ValueType> {
        ValueType::ALL.get(usize::from(tag).wrapping_sub(1)).copied()
    }

    /// Parses a TSI type name, case-insensitively (`double`, `Double`, `DOUBLE`).
    pub fn from_name(name: &str) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One property value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A double. NaN and infinities are refused at ingest (JSON cannot carry them and TSI
    /// does not store them).
    Double(f64),
    /// A long.
    Long(i64),
    /// A bool.
    Bool(bool),
    /// A string.
    String(Arc<str>),
    /// A date-time.
    DateTime(Timestamp),
    /// JSON text of an array or other value TSI calls dynamic.
    Dynamic(Arc<str>),
    /// The property was removed from the twin at this instant.
    Removed,
}

impl Value {
    /// This value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Double(_) => ValueType::Double,
            Value::Long(_) => ValueType::Long,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::DateTime(_) => ValueType::DateTime,
            Value::Dynamic(_) => ValueType::Dynamic,
            Value::Removed => ValueType::Removed,
        }
    }

    /// The value as a double, for numeric types (`Long` widened), else `None`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Double(v) => Some(v),
            Value::Long(v) => Some(v as f64),
            _ => None,
        }
    }

    /// The value as JSON, in the flat record shape: numbers as numbers (a Double always with
    /// a fraction or exponent so that it reads back as a Double), date-times as RFC 3339
    /// strings, dynamic values as the JSON they were, a removed property as `null`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Double(v) => serde_json::Number::from_f64(*v)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Long(v) => serde_json::Value::from(*v),
            Value::Bool(v) => serde_json::Value::Bool(*v),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::DateTime(t) => serde_json::Value::String(t.to_string()),
            Value::Dynamic(text) => {
                serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
            }
            Value::Removed => serde_json::Value::Null,
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Long(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.into())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v.into())
    }
}
impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::DateTime(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_unknown_tags_are_refused() {
        for t in ValueType::ALL {
            assert_eq!(ValueType::from_tag(t.tag()), Some(t));
        }
        assert_eq!(ValueType::from_tag(0), None);
        assert_eq!(ValueType::from_tag(8), None);
    }

    #[test]
    fn doubles_keep_a_fraction_in_json() {
        assert_eq!(Value::Double(21.0).to_json().to_string(), "21.0");
        assert_eq!(Value::Long(21).to_json().to_string(), "21");
        assert_eq!(Value::Dynamic("[1,2,3]".into()).to_json().to_string(), "[1,2,3]");
        assert_eq!(Value::Removed.to_json(), serde_json::Value::Null);
    }
}
