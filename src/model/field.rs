//! [`FieldValue`], one property value as it travels from ingest through the write-ahead log
//! into the warm tier: typed like [`Value`], but borrowing its text from the input where it
//! can. Ingest produces it, and the WAL and the warm tier store it, so it belongs to the
//! model they share rather than to ingest.

use std::borrow::Cow;

use super::{Timestamp, Value, ValueType};

/// A field value as parsed, borrowing from the input where it can.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FieldValue<'a> {
    Double(f64),
    Long(i64),
    Bool(bool),
    Str(Cow<'a, str>),
    DateTime(Timestamp),
    Dynamic(Cow<'a, str>),
    Removed,
}

impl FieldValue<'_> {
    pub(crate) fn value_type(&self) -> ValueType {
        match self {
            FieldValue::Double(_) => ValueType::Double,
            FieldValue::Long(_) => ValueType::Long,
            FieldValue::Bool(_) => ValueType::Bool,
            FieldValue::Str(_) => ValueType::String,
            FieldValue::DateTime(_) => ValueType::DateTime,
            FieldValue::Dynamic(_) => ValueType::Dynamic,
            FieldValue::Removed => ValueType::Removed,
        }
    }

    /// The owned public value.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            FieldValue::Double(v) => Value::Double(*v),
            FieldValue::Long(v) => Value::Long(*v),
            FieldValue::Bool(v) => Value::Bool(*v),
            FieldValue::Str(s) => Value::String(s.as_ref().into()),
            FieldValue::DateTime(t) => Value::DateTime(*t),
            FieldValue::Dynamic(s) => Value::Dynamic(s.as_ref().into()),
            FieldValue::Removed => Value::Removed,
        }
    }

    /// The same value, owning its text.
    pub(crate) fn into_static(self) -> FieldValue<'static> {
        match self {
            FieldValue::Double(v) => FieldValue::Double(v),
            FieldValue::Long(v) => FieldValue::Long(v),
            FieldValue::Bool(v) => FieldValue::Bool(v),
            FieldValue::Str(s) => FieldValue::Str(Cow::Owned(s.into_owned())),
            FieldValue::DateTime(t) => FieldValue::DateTime(t),
            FieldValue::Dynamic(s) => FieldValue::Dynamic(Cow::Owned(s.into_owned())),
            FieldValue::Removed => FieldValue::Removed,
        }
    }

    pub(crate) fn from_value(value: &Value) -> FieldValue<'_> {
        match value {
            Value::Double(v) => FieldValue::Double(*v),
            Value::Long(v) => FieldValue::Long(*v),
            Value::Bool(v) => FieldValue::Bool(*v),
            Value::String(s) => FieldValue::Str(Cow::Borrowed(s)),
            Value::DateTime(t) => FieldValue::DateTime(*t),
            Value::Dynamic(s) => FieldValue::Dynamic(Cow::Borrowed(s)),
            Value::Removed => FieldValue::Removed,
        }
    }
}
