//! The values of a column block, after its presence: one encoding per column type, and
//! their decoding (to [`Values`], or widened to f64 for aggregation). Implements
//! docs/FORMAT.md, "Segment files" → "Column block" (the values table), with the encodings
//! of "Block encodings".

use std::sync::Arc;

use super::codec::{self, CodecError, Reader};
use super::presence::{PRESENCE_ALL, decode_presence};
use crate::model::{Timestamp, Value, ValueType};

pub(super) fn encode_values(ty: ValueType, values: &[Value], out: &mut Vec<u8>) {
    match ty {
        ValueType::Double => {
            let v: Vec<f64> = values.iter().map(|v| stored_double(v).unwrap_or(0.0)).collect();
            codec::encode_doubles(&v, out);
        }
        ValueType::Long | ValueType::DateTime | ValueType::Bool => {
            let v: Vec<i64> = values.iter().map(|v| stored_integer(v).unwrap_or(0)).collect();
            if ty == ValueType::DateTime {
                codec::encode_timestamps(&v, out);
            } else {
                codec::encode_ints(&v, out);
            }
        }
        ValueType::String | ValueType::Dynamic => {
            codec::encode_strings(
                values.iter().map(|v| match v {
                    Value::String(s) | Value::Dynamic(s) => s.as_ref(),
                    _ => "",
                }),
                out,
            );
        }
        ValueType::Removed => {}
    }
}

/// The f64 a `Value::Double` holds; `None` for every other variant. Unlike
/// [`Value::as_f64`], a Long is not widened: a Double column stores only Doubles.
pub(super) fn stored_double(v: &Value) -> Option<f64> {
    match v {
        Value::Double(d) => Some(*d),
        _ => None,
    }
}

/// The i64 a Long, DateTime (nanoseconds) or Bool (0/1) column stores for `v`; `None` for
/// other variants.
pub(super) fn stored_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Long(l) => Some(*l),
        Value::DateTime(t) => Some(t.as_nanos()),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Decoded values of one column block.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Values {
    Double(Vec<f64>),
    Long(Vec<i64>),
    Bool(Vec<bool>),
    DateTime(Vec<i64>),
    String(Vec<Arc<str>>),
    Dynamic(Vec<Arc<str>>),
    Removed(usize),
}

impl Values {
    pub(crate) fn len(&self) -> usize {
        match self {
            Values::Double(v) => v.len(),
            Values::Long(v) | Values::DateTime(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::String(v) | Values::Dynamic(v) => v.len(),
            Values::Removed(n) => *n,
        }
    }

    pub(crate) fn get(&self, i: usize) -> Value {
        match self {
            Values::Double(v) => Value::Double(v[i]),
            Values::Long(v) => Value::Long(v[i]),
            Values::Bool(v) => Value::Bool(v[i]),
            Values::DateTime(v) => Value::DateTime(Timestamp::from_nanos(v[i])),
            Values::String(v) => Value::String(v[i].clone()),
            Values::Dynamic(v) => Value::Dynamic(v[i].clone()),
            Values::Removed(_) => Value::Removed,
        }
    }
}

/// Reusable buffers for reading numeric column blocks (the aggregation path): no
/// allocation per block once warmed up.
#[derive(Default)]
pub(crate) struct NumericScratch {
    /// Timestamps of the group.
    pub ts: Vec<i64>,
    /// Row (within the group) of each value; unused when `all_rows`.
    pub rows: Vec<u32>,
    /// Every row has a value: value `i` is row `i`.
    pub all_rows: bool,
    /// The values, widened to f64.
    pub values: Vec<f64>,
    ints: Vec<i64>,
}

/// Decodes a column block of type `ty`, of a group of `rows` rows holding `count` values:
/// the rows with a value and the values.
pub(super) fn decode_column(
    bytes: &[u8],
    rows: usize,
    count: usize,
    ty: ValueType,
) -> Result<(Vec<u32>, Values), CodecError> {
    let mut rd = Reader::new(bytes);
    let form = rd.u8()?;
    let rest = rd.rest();
    let (present, used) = decode_presence(rest, form, rows, count)?;
    let body = rest.get(used..).unwrap_or_default();
    let values = match ty {
        ValueType::Double => {
            let mut v = Vec::with_capacity(count);
            codec::decode_doubles(body, count, &mut v)?;
            Values::Double(v)
        }
        ValueType::Long => {
            let mut v = Vec::with_capacity(count);
            codec::decode_ints(body, count, &mut v)?;
            Values::Long(v)
        }
        ValueType::DateTime => {
            let mut v = Vec::with_capacity(count);
            codec::decode_timestamps(body, count, &mut v)?;
            Values::DateTime(v)
        }
        ValueType::Bool => {
            let mut v = Vec::with_capacity(count);
            codec::decode_ints(body, count, &mut v)?;
            Values::Bool(v.into_iter().map(|b| b != 0).collect())
        }
        ValueType::String | ValueType::Dynamic => {
            let mut v: Vec<Arc<str>> = Vec::with_capacity(count);
            // Repeated dictionary entries share one allocation.
            let mut last: Option<Arc<str>> = None;
            codec::decode_strings(body, count, |s| {
                let a = match &last {
                    Some(l) if **l == *s => l.clone(),
                    _ => Arc::from(s),
                };
                last = Some(a.clone());
                v.push(a);
            })?;
            if ty == ValueType::String {
                Values::String(v)
            } else {
                Values::Dynamic(v)
            }
        }
        ValueType::Removed => Values::Removed(count),
    };
    if values.len() != count {
        return Err(CodecError("value count mismatch".into()));
    }
    Ok((present, values))
}

/// Decodes a numeric (Double or Long) column block of a group of `rows` rows holding
/// `count` values into `s`.
pub(super) fn decode_numeric(
    bytes: &[u8],
    rows: usize,
    count: usize,
    ty: ValueType,
    s: &mut NumericScratch,
) -> Result<(), CodecError> {
    let mut rd = Reader::new(bytes);
    let form = rd.u8()?;
    let rest = rd.rest();
    s.rows.clear();
    s.values.clear();
    s.all_rows = false;
    let used = match form {
        PRESENCE_ALL if count == rows => {
            s.all_rows = true;
            0
        }
        _ => {
            let (present, used) = decode_presence(rest, form, rows, count)?;
            s.rows = present;
            used
        }
    };
    let body = rest.get(used..).unwrap_or_default();
    match ty {
        ValueType::Double => codec::decode_doubles(body, count, &mut s.values)?,
        ValueType::Long => {
            s.ints.clear();
            codec::decode_ints(body, count, &mut s.ints)?;
            s.values.extend(s.ints.iter().map(|&v| v as f64));
        }
        other => return Err(CodecError(format!("{other} is not numeric"))),
    }
    if s.values.len() != count {
        return Err(CodecError("value count mismatch".into()));
    }
    Ok(())
}
