//! Hour summaries of a numeric column block (format version 2): per hour of UTC the block's
//! values fall in, their count, sum, minimum and maximum. A block of 2,048 rows spans many
//! hours of a slow sensor; with these an aggregate in buckets of whole hours (hourly,
//! daily) reads a few numbers per hour instead of decoding every value. Implements
//! docs/FORMAT.md, "Segment files" → "Hour summaries of a column block (version 2)".

use super::codec::{self, CodecError, Reader, put_ivarint, put_uvarint};
use super::stats::decimal_sum;
use super::values::{stored_double, stored_integer};
use crate::model::{Value, ValueType};

/// The width of a summary window: one hour, from the Unix epoch.
pub(crate) const WINDOW_NANOS: i64 = 3_600_000_000_000;

/// The window of time `ts`.
pub(crate) fn window_of(ts: i64) -> i64 {
    ts.div_euclid(WINDOW_NANOS)
}

/// Whether a column block of type `ty` whose values run from `first_ts` to `last_ts` gets
/// hour summaries: numeric, and over more than one window (a block inside one window is
/// summarised by its statistics already).
pub(super) fn summarised(ty: ValueType, first_ts: i64, last_ts: i64) -> bool {
    matches!(ty, ValueType::Double | ValueType::Long) && window_of(first_ts) != window_of(last_ts)
}

/// The hour summaries of a column block, one entry per window with values.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct HourSummaries {
    /// Window number (`ts.div_euclid(WINDOW_NANOS)`) of each entry, ascending.
    pub windows: Vec<i64>,
    pub counts: Vec<u64>,
    pub sums: Vec<f64>,
    pub mins: Vec<f64>,
    pub maxs: Vec<f64>,
}

/// Appends the summary block of `values` (at times `times`, ascending) of a column of type
/// `ty` (Double or Long) to `out`.
pub(super) fn encode_windows(ty: ValueType, times: &[i64], values: &[Value], out: &mut Vec<u8>) {
    let first = window_of(times[0]);
    let last = window_of(times[times.len() - 1]);
    put_ivarint(out, first);
    put_uvarint(out, (last - first + 1) as u64);
    // Per window (every one from first to last, empty ones counted 0), then per non-empty
    // window its values' sum, minimum and maximum.
    let mut counts = vec![0i64; (last - first + 1) as usize];
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < times.len() {
        let w = window_of(times[i]);
        let mut j = i + 1;
        while j < times.len() && window_of(times[j]) == w {
            j += 1;
        }
        counts[(w - first) as usize] = (j - i) as i64;
        runs.push((i, j));
        i = j;
    }
    put_part(out, |o| codec::encode_ints(&counts, o));
    match ty {
        ValueType::Double => {
            let v: Vec<f64> = values.iter().filter_map(stored_double).collect();
            let sums: Vec<f64> = runs
                .iter()
                .map(|&(a, b)| decimal_sum(&v[a..b]).unwrap_or_else(|| v[a..b].iter().sum()))
                .collect();
            let fold = |f: fn(f64, f64) -> f64| -> Vec<f64> {
                runs.iter()
                    .map(|&(a, b)| v[a..b].iter().copied().reduce(f).unwrap_or(0.0))
                    .collect()
            };
            put_part(out, |o| codec::encode_doubles(&sums, o));
            put_part(out, |o| codec::encode_doubles(&fold(f64::min), o));
            put_part(out, |o| codec::encode_doubles(&fold(f64::max), o));
        }
        _ => {
            let v: Vec<i64> = values.iter().filter_map(stored_integer).collect();
            let sums: Vec<f64> = runs
                .iter()
                .map(|&(a, b)| v[a..b].iter().map(|&x| i128::from(x)).sum::<i128>() as f64)
                .collect();
            let fold = |f: fn(i64, i64) -> i64| -> Vec<i64> {
                runs.iter()
                    .map(|&(a, b)| v[a..b].iter().copied().reduce(f).unwrap_or(0))
                    .collect()
            };
            put_part(out, |o| codec::encode_doubles(&sums, o));
            put_part(out, |o| codec::encode_ints(&fold(i64::min), o));
            put_part(out, |o| codec::encode_ints(&fold(i64::max), o));
        }
    }
}

/// Appends what `write` writes, preceded by its length.
fn put_part(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let mut part = Vec::new();
    write(&mut part);
    put_uvarint(out, part.len() as u64);
    out.extend_from_slice(&part);
}

/// Reads a summary block of a column of type `ty` holding `count` values from `first_ts`
/// to `last_ts` (its statistics), checking it against them.
pub(crate) fn decode_windows(
    bytes: &[u8],
    ty: ValueType,
    count: u64,
    first_ts: i64,
    last_ts: i64,
) -> Result<HourSummaries, CodecError> {
    let bad = |what: &str| CodecError(format!("hour summaries: {what}"));
    let mut rd = Reader::new(bytes);
    let first = rd.ivarint()?;
    let n = rd.uvarint()?;
    if first != window_of(first_ts) || n != (window_of(last_ts) - first + 1) as u64 {
        return Err(bad("windows disagree with the block's first and last times"));
    }
    let n = n as usize;
    let mut counts = Vec::with_capacity(n);
    codec::decode_ints(get_part(&mut rd)?, n, &mut counts)?;
    if counts.iter().any(|&c| c < 0) || counts.iter().map(|&c| c as u64).sum::<u64>() != count {
        return Err(bad("counts do not add up to the block's values"));
    }
    let mut out = HourSummaries::default();
    for (k, &c) in counts.iter().enumerate() {
        if c > 0 {
            out.windows.push(first + k as i64);
            out.counts.push(c as u64);
        }
    }
    let m = out.windows.len();
    codec::decode_doubles(get_part(&mut rd)?, m, &mut out.sums)?;
    if ty == ValueType::Double {
        codec::decode_doubles(get_part(&mut rd)?, m, &mut out.mins)?;
        codec::decode_doubles(get_part(&mut rd)?, m, &mut out.maxs)?;
    } else {
        for target in [&mut out.mins, &mut out.maxs] {
            let mut ints = Vec::with_capacity(m);
            codec::decode_ints(get_part(&mut rd)?, m, &mut ints)?;
            target.extend(ints.iter().map(|&x| x as f64));
        }
    }
    if [&out.sums, &out.mins, &out.maxs].iter().any(|v| v.len() != m) {
        return Err(bad("fewer sums, minimums or maximums than windows with values"));
    }
    if !rd.rest().is_empty() {
        return Err(bad("bytes after the maximums"));
    }
    Ok(out)
}

fn get_part<'a>(rd: &mut Reader<'a>) -> Result<&'a [u8], CodecError> {
    let len = rd.uvarint()?;
    let len = usize::try_from(len).map_err(|_| CodecError("hour summaries: part length overflows".into()))?;
    rd.bytes_n(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = WINDOW_NANOS;

    #[test]
    fn doubles_summarised_by_hour_match_a_hand_count() {
        // Hour 10: 20.5, 19.25; hour 11: none; hour 12: 21.0, 22.5, 18.0.
        let times = [10 * H, 10 * H + 5, 12 * H, 12 * H + H / 2, 13 * H - 1];
        let values = [20.5, 19.25, 21.0, 22.5, 18.0].map(Value::Double);
        let mut out = Vec::new();
        encode_windows(ValueType::Double, &times, &values, &mut out);
        let s = decode_windows(&out, ValueType::Double, 5, times[0], times[4]).expect("decodes");
        assert_eq!(
            s,
            HourSummaries {
                windows: vec![10, 12],
                counts: vec![2, 3],
                sums: vec![39.75, 61.5],
                mins: vec![19.25, 18.0],
                maxs: vec![20.5, 22.5],
            }
        );
    }

    #[test]
    fn longs_before_the_epoch_fall_in_negative_hours() {
        let times = [-H - 1, -1, 0];
        let values = [Value::Long(-7), Value::Long(3), Value::Long(i64::MAX)];
        let mut out = Vec::new();
        encode_windows(ValueType::Long, &times, &values, &mut out);
        let s = decode_windows(&out, ValueType::Long, 3, -H - 1, 0).expect("decodes");
        assert_eq!(s.windows, vec![-2, -1, 0]);
        assert_eq!(s.counts, vec![1, 1, 1]);
        assert_eq!(s.sums, vec![-7.0, 3.0, i64::MAX as f64]);
        assert_eq!(s.mins, vec![-7.0, 3.0, i64::MAX as f64]);
        assert_eq!(s.maxs, s.mins);
    }

    #[test]
    fn summaries_that_disagree_with_their_block_or_are_cut_short_are_refused() {
        let times = [0, H, 2 * H];
        let values = [1.0, 2.0, 3.0].map(Value::Double);
        let mut out = Vec::new();
        encode_windows(ValueType::Double, &times, &values, &mut out);
        assert!(decode_windows(&out, ValueType::Double, 3, 0, 2 * H).is_ok());
        // Another value count, another first or last window.
        assert!(decode_windows(&out, ValueType::Double, 4, 0, 2 * H).is_err());
        assert!(decode_windows(&out, ValueType::Double, 3, H, 2 * H).is_err());
        assert!(decode_windows(&out, ValueType::Double, 3, 0, 3 * H).is_err());
        for cut in 0..out.len() {
            assert!(
                decode_windows(&out[..cut], ValueType::Double, 3, 0, 2 * H).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = out.clone();
        longer.push(0);
        assert!(decode_windows(&longer, ValueType::Double, 3, 0, 2 * H).is_err());
    }

    #[test]
    fn only_numeric_blocks_over_two_or_more_hours_are_summarised() {
        assert!(summarised(ValueType::Double, 0, H));
        assert!(summarised(ValueType::Long, -1, 0));
        assert!(!summarised(ValueType::Double, H, 2 * H - 1));
        assert!(!summarised(ValueType::String, 0, 5 * H));
        assert!(!summarised(ValueType::Bool, 0, 5 * H));
    }
}
