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

/// The exact sum of `values` when all are decimals of one exponent (up to 9) and the sum
/// stays below 2^53 in that exponent.
pub(super) fn decimal_sum(values: &[f64]) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the statistics of `values` (first value 10 ns after the group's first time 1000,
    /// last 20 ns before its last time 5000, in row 7 of 8) and reads them back.
    fn round_trip(ty: ValueType, values: &[Value]) -> BlockStats {
        let mut dir = Vec::new();
        put_stats(&mut dir, ty, values, 10, 20, 7);
        let mut rd = Reader::new(&dir);
        let stats = get_stats(&mut rd, ty, 8, (1000, 5000), dir.len()).expect("reads back");
        assert!(rd.rest().is_empty(), "{ty}: bytes left after the statistics");
        stats
    }

    fn expected(count: u64, last: Value, summary: StatsSummary) -> BlockStats {
        BlockStats {
            count,
            first_ts: 1010,
            last_ts: 4980,
            last_row: 7,
            last,
            summary,
        }
    }

    #[test]
    fn statistics_of_every_type_round_trip() {
        let doubles = [Value::Double(20.5), Value::Double(19.25), Value::Double(21.0)];
        assert_eq!(
            round_trip(ValueType::Double, &doubles),
            expected(
                3,
                Value::Double(21.0),
                StatsSummary::Double {
                    min: 19.25,
                    max: 21.0,
                    sum: 60.75,
                    first: 20.5,
                    last: 21.0,
                }
            )
        );
        let longs = [Value::Long(5), Value::Long(-3), Value::Long(9)];
        assert_eq!(
            round_trip(ValueType::Long, &longs),
            expected(
                3,
                Value::Long(9),
                StatsSummary::Integer {
                    min: -3,
                    max: 9,
                    sum: 11.0,
                    first: 5,
                    last: 9,
                }
            )
        );
        let times = [
            Value::DateTime(Timestamp::from_nanos(3_000)),
            Value::DateTime(Timestamp::from_nanos(1_000)),
        ];
        assert_eq!(
            round_trip(ValueType::DateTime, &times),
            expected(
                2,
                Value::DateTime(Timestamp::from_nanos(1_000)),
                StatsSummary::Integer {
                    min: 1_000,
                    max: 3_000,
                    sum: 4_000.0,
                    first: 3_000,
                    last: 1_000,
                }
            )
        );
        let bools = [
            Value::Bool(false),
            Value::Bool(true),
            Value::Bool(true),
            Value::Bool(false),
        ];
        assert_eq!(
            round_trip(ValueType::Bool, &bools),
            expected(
                4,
                Value::Bool(false),
                StatsSummary::Bool {
                    trues: 2,
                    first: false,
                    last: false,
                }
            )
        );
        let strings = [Value::String("a".into()), Value::String("héllo".into())];
        assert_eq!(
            round_trip(ValueType::String, &strings),
            expected(2, Value::String("héllo".into()), StatsSummary::None)
        );
        let dynamic = [Value::Dynamic("{\"x\":1}".into())];
        assert_eq!(
            round_trip(ValueType::Dynamic, &dynamic),
            expected(1, Value::Dynamic("{\"x\":1}".into()), StatsSummary::None)
        );
        let removed = [Value::Removed, Value::Removed];
        assert_eq!(
            round_trip(ValueType::Removed, &removed),
            expected(2, Value::Removed, StatsSummary::None)
        );
    }

    #[test]
    fn a_block_without_values_or_with_more_values_than_rows_is_refused() {
        let mut dir = Vec::new();
        put_stats(&mut dir, ValueType::Long, &[Value::Long(1), Value::Long(2)], 0, 0, 1);
        // The statistics say 2 values: a group of 1 row cannot hold them.
        assert!(get_stats(&mut Reader::new(&dir), ValueType::Long, 1, (0, 0), dir.len()).is_err());
        // A count of 0.
        assert!(get_stats(&mut Reader::new(&[0, 0, 0]), ValueType::Removed, 4, (0, 0), 3).is_err());
    }

    #[test]
    fn compact_doubles_round_trip_bit_for_bit() {
        // docs/FORMAT.md's example: 20.5 is `01 9a 03`.
        let mut out = Vec::new();
        put_compact_f64(&mut out, 20.5);
        assert_eq!(out, [0x01, 0x9a, 0x03]);
        for v in [
            0.0,
            -0.0,
            1e-9,
            123_456.789,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NAN,
        ] {
            let mut out = Vec::new();
            put_compact_f64(&mut out, v);
            let mut rd = Reader::new(&out);
            let back = get_compact_f64(&mut rd).expect("reads back");
            assert_eq!(back.to_bits(), v.to_bits(), "{v}");
            assert!(rd.rest().is_empty());
        }
        assert!(get_compact_f64(&mut Reader::new(&[10, 0])).is_err());
    }
}
