//! A column block's presence: which of its group's rows have a value. Written as the
//! smallest of a row list, a bitmap and alternating runs (or one byte when every row has a
//! value). Implements docs/FORMAT.md, "Segment files" → "Column block" (the presence form
//! and stream).

use super::codec::{self, CodecError, Reader, put_uvarint};

pub(super) const PRESENCE_ALL: u8 = 0;
pub(super) const PRESENCE_ROWS: u8 = 1;
pub(super) const PRESENCE_BITMAP: u8 = 2;
pub(super) const PRESENCE_RUNS: u8 = 3;

/// Which of a group's `n` rows have a value: all of them, their row numbers, or a 0/1 per
/// row, whichever is smallest.
pub(super) fn encode_presence(rows: &[i64], n: usize, out: &mut Vec<u8>) {
    if rows.len() == n {
        out.push(PRESENCE_ALL);
        return;
    }
    let mut list = vec![PRESENCE_ROWS];
    codec::encode_ints(rows, &mut list);
    let mut bits = vec![0i64; n];
    for &r in rows {
        bits[r as usize] = 1;
    }
    let mut bitmap = vec![PRESENCE_BITMAP];
    codec::encode_ints(&bits, &mut bitmap);
    // Alternating run lengths, absent first (a leading run may be 0): sparse updates come
    // in stretches (a sensor quiet at night, a setpoint held for hours).
    let mut runs = Vec::new();
    let mut current = 0i64;
    let mut length = 0i64;
    for &b in &bits {
        if b == current {
            length += 1;
        } else {
            runs.push(length);
            current = b;
            length = 1;
        }
    }
    runs.push(length);
    let mut run_bytes = vec![PRESENCE_RUNS];
    put_uvarint(&mut run_bytes, runs.len() as u64);
    codec::encode_ints(&runs, &mut run_bytes);
    let best = [list, bitmap, run_bytes]
        .into_iter()
        .min_by_key(Vec::len)
        .unwrap_or_default();
    out.extend_from_slice(&best);
}

/// A column block's presence (after its form byte): the rows with a value, and the bytes
/// it took.
pub(super) fn decode_presence(
    rest: &[u8],
    form: u8,
    rows: usize,
    count: usize,
) -> Result<(Vec<u32>, usize), CodecError> {
    Ok(match form {
        PRESENCE_ALL if count == rows => ((0..rows as u32).collect(), 0),
        PRESENCE_ROWS => {
            let mut list = Vec::with_capacity(count);
            let used = codec::decode_ints(rest, count, &mut list)?;
            let mut prev = -1i64;
            for &r in &list {
                if r <= prev || r >= rows as i64 {
                    return Err(CodecError(format!("presence row {r} out of order or range")));
                }
                prev = r;
            }
            (list.into_iter().map(|r| r as u32).collect(), used)
        }
        PRESENCE_RUNS => {
            let mut rd = Reader::new(rest);
            let nruns = rd.len(rows.max(1))?;
            let head = rest.len() - rd.rest().len();
            let mut runs = Vec::with_capacity(nruns);
            let used = codec::decode_ints(&rest[head..], nruns, &mut runs)?;
            let mut present = Vec::with_capacity(count);
            let mut row = 0usize;
            for (i, &len) in runs.iter().enumerate() {
                let len = usize::try_from(len).ok().filter(|&l| row + l <= rows);
                let Some(len) = len else {
                    return Err(CodecError("presence run past the group's end".into()));
                };
                if i % 2 == 1 {
                    present.extend(row as u32..(row + len) as u32);
                }
                row += len;
            }
            if row != rows || present.len() != count {
                return Err(CodecError(format!(
                    "presence runs cover {row} rows with {} values; expected {rows} and {count}",
                    present.len()
                )));
            }
            (present, head + used)
        }
        PRESENCE_BITMAP => {
            thread_local! {
                static BITS: std::cell::RefCell<Vec<i64>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            // Branch-free (present rows are unpredictable): write every row, advance past
            // the present ones. The bits are decoded into a reused buffer.
            let mut present = vec![0u32; rows + 1];
            let mut k = 0usize;
            let used = BITS.with(|b| {
                let mut bits = b.borrow_mut();
                bits.clear();
                let used = codec::decode_ints(rest, rows, &mut bits)?;
                for (i, &bit) in bits.iter().enumerate() {
                    present[k] = i as u32;
                    k += usize::from(bit != 0);
                }
                Ok::<usize, CodecError>(used)
            })?;
            present.truncate(k);
            if present.len() != count {
                return Err(CodecError(format!(
                    "presence has {} rows, stats say {count}",
                    present.len()
                )));
            }
            (present, used)
        }
        f => {
            return Err(CodecError(format!(
                "unknown presence form {f} for {count} of {rows} rows"
            )));
        }
    })
}

/// Bytes of a column block's presence part.
pub(super) fn presence_len(bytes: &[u8], rows: usize, count: usize) -> Result<usize, CodecError> {
    let mut rd = Reader::new(bytes);
    let form = rd.u8()?;
    let rest = rd.rest();
    Ok(1 + decode_presence(rest, form, rows, count)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_presence_form_round_trips_and_the_smallest_is_kept() {
        let n = 2048;
        // (rows, the form that must win; None: a random half, where a row list and a bitmap
        // cost about the same)
        let patterns: Vec<(Vec<i64>, Option<u8>)> = vec![
            ((0..n as i64).collect(), Some(PRESENCE_ALL)),
            (vec![5, 900], Some(PRESENCE_ROWS)),
            (
                (0..n as i64).filter(|r| (r / 300) % 2 == 1).collect(),
                Some(PRESENCE_RUNS),
            ),
            (
                (0..n as i64)
                    .filter(|&r| {
                        (r as u64)
                            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                            .rotate_left(17)
                            .is_multiple_of(2)
                    })
                    .collect(),
                None,
            ),
            ((1..n as i64).collect(), None),
        ];
        for (rows, form) in patterns {
            let mut bytes = Vec::new();
            encode_presence(&rows, n, &mut bytes);
            assert!(
                form.is_none_or(|f| f == bytes[0]),
                "form {} for {} rows",
                bytes[0],
                rows.len()
            );
            let form = bytes[0];
            let (present, used) = decode_presence(&bytes[1..], bytes[0], n, rows.len()).unwrap();
            assert_eq!(used + 1, bytes.len());
            assert_eq!(present, rows.iter().map(|&r| r as u32).collect::<Vec<_>>());
            // A count that disagrees is corruption (a row list holds no count of its own:
            // its count comes from the checksummed directory).
            if form != PRESENCE_ROWS {
                assert!(decode_presence(&bytes[1..], bytes[0], n, rows.len() + 1).is_err());
            }
        }
    }

    /// Encodes `rows` of a group of `n` rows and decodes them back.
    fn round_trip(rows: &[i64], n: usize) -> (u8, Vec<u32>) {
        let mut bytes = Vec::new();
        encode_presence(rows, n, &mut bytes);
        let (present, used) = decode_presence(&bytes[1..], bytes[0], n, rows.len()).expect("decodes");
        assert_eq!(
            used + 1,
            bytes.len(),
            "presence of {rows:?} in {n} rows: bytes left over"
        );
        (bytes[0], present)
    }

    #[test]
    fn edge_cases_round_trip() {
        // An empty group: every one of its zero rows has a value, in the one-byte form.
        assert_eq!(round_trip(&[], 0), (PRESENCE_ALL, vec![]));
        // One row, present.
        assert_eq!(round_trip(&[0], 1), (PRESENCE_ALL, vec![0]));
        // No row has a value (a writer never writes such a block, the format allows it).
        for n in [1, 5, 2048] {
            let (form, present) = round_trip(&[], n);
            assert_ne!(form, PRESENCE_ALL);
            assert_eq!(present, Vec::<u32>::new());
        }
        // Only the first row, only the last row, all but the first, all but the last.
        assert_eq!(round_trip(&[0], 2048).1, vec![0]);
        assert_eq!(round_trip(&[2047], 2048).1, vec![2047]);
        let tail: Vec<i64> = (1..7).collect();
        assert_eq!(round_trip(&tail, 7).1, vec![1, 2, 3, 4, 5, 6]);
        let head: Vec<i64> = (0..6).collect();
        assert_eq!(round_trip(&head, 7).1, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn the_all_rows_form_is_one_byte_and_an_unknown_form_is_refused() {
        let mut bytes = Vec::new();
        encode_presence(&[0, 1, 2], 3, &mut bytes);
        assert_eq!(bytes, [PRESENCE_ALL]);
        assert_eq!(presence_len(&bytes, 3, 3).expect("length"), 1);
        // Form 0 claims every row: a count below the group's rows is corruption.
        assert!(decode_presence(&[], PRESENCE_ALL, 3, 2).is_err());
        assert!(decode_presence(&[], 4, 3, 3).is_err());
    }
}
