//! A column block's statistics, stored in the twin directory after the block's ref:
//! count, times of the first and last value, the type's summary (min, max, sum, first,
//! last; or trues), the last value's row and, for text, the last value. Implements
//! docs/FORMAT.md, "Segment files" → "Chunk" ("Statistics of a column block" and "Compact
//! double").

use super::codec::{self, CodecError, Reader, put_ivarint, put_uvarint};
use super::values::{stored_double, stored_integer};
use crate::model::{Timestamp, Value, ValueType};

/// Statistics of one column block.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BlockStats {
    pub count: u64,
    pub first_ts: i64,
    pub last_ts: i64,
    /// Row (within the group) of the last value.
    pub last_row: usize,
    /// The last value.
    pub last: Value,
    pub summary: StatsSummary,
}

/// The type-specific part of [`BlockStats`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StatsSummary {
    /// Doubles: min, max, sum, first, last.
    Double {
        min: f64,
        max: f64,
        sum: f64,
        first: f64,
        last: f64,
    },
    /// Longs and date-times (nanoseconds): min, max, first, last exactly, and the sum.
    Integer {
        min: i64,
        max: i64,
        sum: f64,
        first: i64,
        last: i64,
    },
    /// Bools: how many are true, the first and the last.
    Bool { trues: u64, first: bool, last: bool },
    /// Strings, dynamic values, removals.
    None,
}

/// The statistics of the column block holding `values` (at least one), whose first value
/// is `first_gap` after the group's first time and whose last value is `last_gap` before
/// the group's last time, in row `last_row` of the group.
pub(super) fn put_stats(
    dir: &mut Vec<u8>,
    ty: ValueType,
    values: &[Value],
    first_gap: i64,
    last_gap: i64,
    last_row: usize,
) {
    put_uvarint(dir, values.len() as u64);
    put_uvarint(dir, first_gap as u64);
    put_uvarint(dir, last_gap as u64);
    match ty {
        ValueType::Double => {
            let v: Vec<f64> = values.iter().filter_map(stored_double).collect();
            let (min, max) = v
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            // An exact decimal sum when every value is a decimal of one exponent: it is both
            // more accurate and smaller on disk.
            let sum = decimal_sum(&v).unwrap_or_else(|| v.iter().sum());
            for x in [min, max, sum, v[0], v[v.len() - 1]] {
                put_compact_f64(dir, x);
            }
        }
        ValueType::Long | ValueType::DateTime => {
            let v: Vec<i64> = values.iter().filter_map(stored_integer).collect();
            let (min, max) = v.iter().fold((i64::MAX, i64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let sum: i128 = v.iter().map(|&x| i128::from(x)).sum();
            for x in [min, max, v[0], v[v.len() - 1]] {
                put_ivarint(dir, x);
            }
            put_compact_f64(dir, sum as f64);
        }
        ValueType::Bool => {
            let trues = values.iter().filter(|v| matches!(v, Value::Bool(true))).count();
            put_uvarint(dir, trues as u64);
            dir.push(u8::from(matches!(values[0], Value::Bool(true))));
            dir.push(u8::from(matches!(values[values.len() - 1], Value::Bool(true))));
        }
        ValueType::String | ValueType::Dynamic | ValueType::Removed => {}
    }
    // Where the last value sits, and for text types the value itself: the latest value of
    // a column needs no block decoding.
    put_uvarint(dir, last_row as u64);
    if let Some(Value::String(text) | Value::Dynamic(text)) = values.last() {
        put_uvarint(dir, text.len() as u64);
        dir.extend_from_slice(text.as_bytes());
    }
}

fn decimal_sum(values: &[f64]) -> Option<f64> {
    let e = (0..=9).find(|&e| values.iter().all(|&v| codec::to_decimal(v, e).is_some()))?;
    let mut sum: i64 = 0;
    for &v in values {
        sum = sum.checked_add(codec::to_decimal(v, e)?)?;
    }
    (sum.unsigned_abs() < 1 << 53).then(|| sum as f64 / 10f64.powi(e as i32))
}

/// A double in the directory: `[e u8 (0..=9)][zigzag varint v * 10^e]` when that is exact,
/// else `[0xff][8 bytes]`.
fn put_compact_f64(out: &mut Vec<u8>, v: f64) {
    for e in 0..=9 {
        if let Some(int) = codec::to_decimal(v, e) {
            out.push(e as u8);
            put_ivarint(out, int);
            return;
        }
    }
    out.push(0xff);
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

fn get_compact_f64(r: &mut Reader<'_>) -> Result<f64, CodecError> {
    match r.u8()? {
        0xff => Ok(f64::from_bits(r.u64()?)),
        e @ 0..=9 => Ok(r.ivarint()? as f64 / 10f64.powi(i32::from(e))),
        b => Err(CodecError(format!("bad compact double tag {b}"))),
    }
}

/// Reads the statistics [`put_stats`] wrote for a block of type `ty` in a group of `rows`
/// rows spanning `group_times` (first, last); `dir_len` bounds the length of a text value.
pub(super) fn get_stats(
    rd: &mut Reader<'_>,
    ty: ValueType,
    rows: usize,
    group_times: (i64, i64),
    dir_len: usize,
) -> Result<BlockStats, CodecError> {
    let (group_first, group_last) = group_times;
    let count = rd.len(rows)?;
    if count == 0 {
        return Err(CodecError("column block without values".into()));
    }
    let first_ts = group_first.wrapping_add(rd.uvarint()? as i64);
    let last_ts = group_last.wrapping_sub(rd.uvarint()? as i64);
    let summary = get_summary(rd, ty, count)?;
    let last_row = rd.len(rows - 1)?;
    let last = get_last_value(rd, ty, &summary, dir_len)?;
    Ok(BlockStats {
        count: count as u64,
        first_ts,
        last_ts,
        last_row,
        last,
        summary,
    })
}

/// The type-specific part of the statistics, of a block of `count` values.
fn get_summary(rd: &mut Reader<'_>, ty: ValueType, count: usize) -> Result<StatsSummary, CodecError> {
    Ok(match ty {
        ValueType::Double => {
            let mut f = [0.0; 5];
            for x in &mut f {
                *x = get_compact_f64(rd)?;
            }
            StatsSummary::Double {
                min: f[0],
                max: f[1],
                sum: f[2],
                first: f[3],
                last: f[4],
            }
        }
        ValueType::Long | ValueType::DateTime => {
            let (min, max, first, last) = (rd.ivarint()?, rd.ivarint()?, rd.ivarint()?, rd.ivarint()?);
            StatsSummary::Integer {
                min,
                max,
                sum: get_compact_f64(rd)?,
                first,
                last,
            }
        }
        ValueType::Bool => StatsSummary::Bool {
            trues: rd.len(count)? as u64,
            first: rd.u8()? != 0,
            last: rd.u8()? != 0,
        },
        _ => StatsSummary::None,
    })
}

/// The block's last value: from the summary, or (text types) stored after the last row.
fn get_last_value(
    rd: &mut Reader<'_>,
    ty: ValueType,
    summary: &StatsSummary,
    dir_len: usize,
) -> Result<Value, CodecError> {
    Ok(match (summary, ty) {
        (StatsSummary::Double { last, .. }, _) => Value::Double(*last),
        (StatsSummary::Integer { last, .. }, ValueType::DateTime) => Value::DateTime(Timestamp::from_nanos(*last)),
        (StatsSummary::Integer { last, .. }, _) => Value::Long(*last),
        (StatsSummary::Bool { last, .. }, _) => Value::Bool(*last),
        (StatsSummary::None, ValueType::String | ValueType::Dynamic) => {
            let len = rd.len(dir_len)?;
            let text = std::str::from_utf8(rd.bytes_n(len)?)
                .map_err(|e| CodecError(format!("last value is not UTF-8: {e}")))?;
            if ty == ValueType::String {
                Value::String(text.into())
            } else {
                Value::Dynamic(text.into())
            }
        }
        (StatsSummary::None, _) => Value::Removed,
    })
}
