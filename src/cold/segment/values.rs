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

#[cfg(test)]
mod tests {
    use super::super::presence::encode_presence;
    use super::*;

    /// A column block of type `ty` (presence of `rows` in a group of `n` rows, then
    /// `values`), decoded back.
    fn round_trip(ty: ValueType, n: usize, rows: &[i64], values: &[Value]) -> (Vec<u32>, Values) {
        let mut block = Vec::new();
        encode_presence(rows, n, &mut block);
        encode_values(ty, values, &mut block);
        decode_column(&block, n, values.len(), ty).expect("decodes")
    }

    #[test]
    fn values_of_every_type_round_trip() {
        let all = [0, 1, 2];
        let some = [1, 4, 6];
        assert_eq!(
            round_trip(
                ValueType::Double,
                3,
                &all,
                &[Value::Double(1.5), Value::Double(-2.25), Value::Double(f64::MAX)]
            ),
            (vec![0, 1, 2], Values::Double(vec![1.5, -2.25, f64::MAX]))
        );
        assert_eq!(
            round_trip(
                ValueType::Long,
                7,
                &some,
                &[Value::Long(i64::MIN), Value::Long(0), Value::Long(i64::MAX)]
            ),
            (vec![1, 4, 6], Values::Long(vec![i64::MIN, 0, i64::MAX]))
        );
        assert_eq!(
            round_trip(
                ValueType::Bool,
                7,
                &some,
                &[Value::Bool(true), Value::Bool(false), Value::Bool(true)]
            ),
            (vec![1, 4, 6], Values::Bool(vec![true, false, true]))
        );
        let times = [-5, 0, 1_700_000_000_123_456_789];
        assert_eq!(
            round_trip(
                ValueType::DateTime,
                3,
                &all,
                &times.map(|t| Value::DateTime(Timestamp::from_nanos(t)))
            ),
            (vec![0, 1, 2], Values::DateTime(times.to_vec()))
        );
        let texts = ["on", "", "on"];
        assert_eq!(
            round_trip(ValueType::String, 7, &some, &texts.map(|t| Value::String(t.into()))),
            (vec![1, 4, 6], Values::String(texts.map(Arc::from).to_vec()))
        );
        assert_eq!(
            round_trip(ValueType::Dynamic, 3, &all, &texts.map(|t| Value::Dynamic(t.into()))),
            (vec![0, 1, 2], Values::Dynamic(texts.map(Arc::from).to_vec()))
        );
        assert_eq!(
            round_trip(
                ValueType::Removed,
                7,
                &some,
                &[Value::Removed, Value::Removed, Value::Removed]
            ),
            (vec![1, 4, 6], Values::Removed(3))
        );
        // One value in one row.
        assert_eq!(
            round_trip(ValueType::Long, 1, &[0], &[Value::Long(42)]),
            (vec![0], Values::Long(vec![42]))
        );
    }

    #[test]
    fn numeric_blocks_decode_widened_to_doubles() {
        let mut block = Vec::new();
        encode_presence(&[0, 1, 2], 3, &mut block);
        encode_values(
            ValueType::Long,
            &[Value::Long(-7), Value::Long(0), Value::Long(9)],
            &mut block,
        );
        let mut s = NumericScratch::default();
        decode_numeric(&block, 3, 3, ValueType::Long, &mut s).expect("decodes");
        assert!(s.all_rows);
        assert_eq!(s.values, [-7.0, 0.0, 9.0]);

        let mut block = Vec::new();
        encode_presence(&[2, 5], 6, &mut block);
        encode_values(
            ValueType::Double,
            &[Value::Double(0.5), Value::Double(-1.0)],
            &mut block,
        );
        decode_numeric(&block, 6, 2, ValueType::Double, &mut s).expect("decodes");
        assert!(!s.all_rows);
        assert_eq!(s.rows, [2, 5]);
        assert_eq!(s.values, [0.5, -1.0]);

        let mut block = Vec::new();
        encode_presence(&[0], 1, &mut block);
        encode_values(ValueType::String, &[Value::String("x".into())], &mut block);
        assert!(decode_numeric(&block, 1, 1, ValueType::String, &mut s).is_err());
    }

    #[test]
    fn only_doubles_are_stored_in_a_double_column() {
        // Value::as_f64 widens a Long; a Double column's encoder does not.
        assert_eq!(stored_double(&Value::Double(2.5)), Some(2.5));
        assert_eq!(stored_double(&Value::Long(2)), None);
        assert_eq!(stored_integer(&Value::Bool(true)), Some(1));
        assert_eq!(stored_integer(&Value::DateTime(Timestamp::from_nanos(-3))), Some(-3));
        assert_eq!(stored_integer(&Value::Double(1.0)), None);
    }
}
