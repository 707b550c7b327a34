//! Whole-file tests of the segment format: writer and reader together, byte for byte
//! against docs/FORMAT.md ("Segment files"), and damage.

use std::path::Path;

use super::*;
use crate::error::Result;

pub(crate) fn sample_rows(twin: TwinId, n: usize) -> TwinRows {
    let ts: Vec<i64> = (0..n as i64).map(|i| 1_000_000_000_000 + i * 10_000_000_000).collect();
    let every: Vec<u32> = (0..n as u32).collect();
    let odd: Vec<u32> = (0..n as u32).filter(|r| r % 2 == 1).collect();
    TwinRows {
        twin,
        ts,
        columns: vec![
            ColumnRows {
                column: 0,
                ty: ValueType::Double,
                rows: every.clone(),
                values: every
                    .iter()
                    .map(|&i| Value::Double(20.0 + f64::from(i % 50) / 10.0))
                    .collect(),
            },
            ColumnRows {
                column: 2,
                ty: ValueType::String,
                rows: odd.clone(),
                values: odd
                    .iter()
                    .map(|&i| Value::String(format!("m{}", i % 3).into()))
                    .collect(),
            },
        ],
    }
}

#[test]
fn write_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("1.seg");
    let mut w = SegmentWriter::create(&path).unwrap();
    let a = sample_rows(3, 5000);
    let b = sample_rows(9, 10);
    w.add(&a).unwrap();
    w.add(&b).unwrap();
    let summary = w.finish().unwrap();
    assert_eq!(summary.twins, 2);
    assert_eq!(summary.points, a.points() + b.points());
    assert_eq!(summary.bytes, std::fs::metadata(&path).unwrap().len());
    let seg = Segment::open(&path).unwrap();
    assert!(seg.chunk(4).unwrap().is_none());
    let chunk = seg.chunk(3).unwrap().unwrap();
    assert_eq!(chunk.groups.len(), 3);
    let mut ts = Vec::new();
    let mut all_ts = Vec::new();
    let mut doubles = Vec::new();
    let mut strings = Vec::new();
    for (gi, g) in chunk.groups.iter().enumerate() {
        chunk.timestamps(g, &mut ts).unwrap();
        all_ts.extend_from_slice(&ts);
        for b in &g.blocks {
            let (rows, values) = chunk.column(g, b).unwrap();
            for (r, i) in rows.iter().zip(0..) {
                let row = gi * GROUP_ROWS + *r as usize;
                match chunk.columns[b.slot].0 {
                    0 => doubles.push((row as u32, values.get(i))),
                    _ => strings.push((row as u32, values.get(i))),
                }
            }
        }
    }
    assert_eq!(all_ts, a.ts);
    let expect = |c: &ColumnRows| c.rows.iter().copied().zip(c.values.iter().cloned()).collect::<Vec<_>>();
    assert_eq!(doubles, expect(&a.columns[0]));
    assert_eq!(strings, expect(&a.columns[1]));
    let stats = &chunk.groups[0].blocks[0].stats;
    assert_eq!(stats.count, 2048);
    assert_eq!(stats.first_ts, a.ts[0]);
    assert_eq!(stats.last_ts, a.ts[2047]);
    // Values cycle 20.0..24.9 by 0.1: 40 full cycles plus 48 values in the first group.
    let expected_sum: f64 = (0..2048).map(|i| 20.0 + f64::from(i % 50) / 10.0).sum();
    assert_eq!(stats.last_row, 2047);
    assert_eq!(stats.last, Value::Double(20.0 + f64::from(2047 % 50) / 10.0));
    match &stats.summary {
        StatsSummary::Double {
            min,
            max,
            sum,
            first,
            last,
        } => {
            assert_eq!((*min, *max, *first), (20.0, 24.9, 20.0));
            assert_eq!(*last, 20.0 + f64::from(2047 % 50) / 10.0);
            assert!((sum - expected_sum).abs() < 1e-6);
        }
        other => panic!("{other:?}"),
    }
}

/// The bytes of a tiny file, written out by hand from docs/FORMAT.md (only checksums are
/// computed, over the hand-written bytes): twin 7, rows at 1 s, 2 s and 4 s, one Long
/// column (id 0) with 5 in row 0 and 9 in row 2.
#[test]
fn a_tiny_file_is_byte_for_byte_what_the_format_says() {
    let ts_block: &[u8] = &[
        0x00, // unit: 1 s
        0x02, // integer stream: transform 2 (delta of delta), bit-packed
        0x02, // first value zigzag(1)
        0x02, // first delta zigzag(1)
        0x02, // residual minimum zigzag(1): the one delta of delta, 4-2 - (2-1)
        0x00, // width 0: no packed bits
    ];
    let column_block: &[u8] = &[
        0x01, // presence form 1: a row list
        0x01, 0x00, 0x04, 0x00, // rows [0, 2]: delta, first 0, minimum zigzag(2), width 0
        0x01, 0x0a, 0x08, 0x00, // values [5, 9]: delta, first zigzag(5), minimum zigzag(4), width 0
    ];
    let crc = |b: &[u8]| crc32c::crc32c(b).to_le_bytes();
    let mut dir: Vec<u8> = vec![
        0x01, // one column
        0x00, 0x02, // column id 0, type Long
        0x01, // one group
        0x03, // 3 rows
        0x80, 0xa8, 0xd6, 0xb9, 0x07, // first_ts zigzag(1e9)
        0x80, 0xbc, 0xc1, 0x96, 0x0b, // last_ts - first_ts = 3e9
        0x00, 0x06, // timestamp block at 0, 6 bytes
    ];
    dir.extend_from_slice(&crc(ts_block));
    dir.extend_from_slice(&[
        0x01, // one column block
        0x00, 0x06, 0x09, // slot 0, at 6, 9 bytes
    ]);
    dir.extend_from_slice(&crc(column_block));
    dir.extend_from_slice(&[
        0x02, // 2 values
        0x00, 0x00, // first value at the group's first time, last at its last
        0x0a, 0x12, 0x0a, 0x12, // min 5, max 9, first 5, last 9 (zigzag)
        0x00, 0x1c, // sum: compact double, exponent 0, zigzag(14)
        0x02, // last value in row 2
        0x00, // no hour summaries: every value is in the hour from 0 s
    ]);
    let mut file: Vec<u8> = b"TWINSEG\0".to_vec();
    file.extend_from_slice(&[0x02, 0, 0, 0]); // version 2
    let header_crc = crc(&file);
    file.extend_from_slice(&header_crc);
    file.extend_from_slice(&dir);
    file.extend_from_slice(ts_block);
    file.extend_from_slice(column_block);
    while !file.len().is_multiple_of(8) {
        file.push(0);
    }
    let footer_offset = file.len() as u64;
    let mut footer: Vec<u8> = Vec::new();
    footer.extend_from_slice(&7u32.to_le_bytes()); // twin
    footer.extend_from_slice(&(dir.len() as u32).to_le_bytes()); // directory length
    footer.extend_from_slice(&16u64.to_le_bytes()); // directory offset
    footer.extend_from_slice(&crc(&dir)); // directory checksum
    footer.extend_from_slice(&3u32.to_le_bytes()); // rows
    footer.extend_from_slice(&2u64.to_le_bytes()); // points
    footer.extend_from_slice(&1_000_000_000i64.to_le_bytes()); // min_ts
    footer.extend_from_slice(&4_000_000_000i64.to_le_bytes()); // max_ts
    assert_eq!(footer.len(), 48);
    file.extend_from_slice(&footer);
    let mut trailer: Vec<u8> = Vec::new();
    trailer.extend_from_slice(&footer_offset.to_le_bytes());
    trailer.extend_from_slice(&1u32.to_le_bytes()); // twins
    trailer.extend_from_slice(&crc(&footer));
    trailer.extend_from_slice(&2u32.to_le_bytes()); // version
    let trailer_crc = crc(&trailer);
    trailer.extend_from_slice(&trailer_crc);
    trailer.extend_from_slice(b"TWSEGEND");
    file.extend_from_slice(&trailer);

    let dir_path = tempfile::tempdir().unwrap();
    let path = dir_path.path().join("tiny.seg");
    let mut w = SegmentWriter::create(&path).unwrap();
    w.add(&TwinRows {
        twin: 7,
        ts: vec![1_000_000_000, 2_000_000_000, 4_000_000_000],
        columns: vec![ColumnRows {
            column: 0,
            ty: ValueType::Long,
            rows: vec![0, 2],
            values: vec![Value::Long(5), Value::Long(9)],
        }],
    })
    .unwrap();
    let summary = w.finish().unwrap();
    let written = std::fs::read(&path).unwrap();
    assert_eq!(written, file);
    assert_eq!(summary.bytes, file.len() as u64);
    // And the reader gives back the rows.
    let seg = Segment::open(&path).unwrap();
    let chunk = seg.chunk(7).unwrap().unwrap();
    let mut ts = Vec::new();
    chunk.timestamps(&chunk.groups[0], &mut ts).unwrap();
    assert_eq!(ts, [1_000_000_000, 2_000_000_000, 4_000_000_000]);
    let (rows, values) = chunk.column(&chunk.groups[0], &chunk.groups[0].blocks[0]).unwrap();
    assert_eq!(rows, [0, 2]);
    assert_eq!(values, Values::Long(vec![5, 9]));
}
#[test]
fn a_retired_file_is_deleted_when_its_last_reader_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("1.seg");
    let mut w = SegmentWriter::create(&path).unwrap();
    w.add(&sample_rows(1, 10)).unwrap();
    w.finish().unwrap();
    let live = Segment::open(&path).unwrap();
    let reader = live.clone(); // a query in progress
    live.retire();
    drop(live);
    assert!(path.exists(), "deleted under a reader");
    assert_eq!(reader.chunk(1).unwrap().unwrap().twin_ref.rows, 10);
    drop(reader);
    assert!(!path.exists(), "the last reader's drop deletes it");
    // A file that is not retired stays.
    let mut w = SegmentWriter::create(&path).unwrap();
    w.add(&sample_rows(1, 10)).unwrap();
    w.finish().unwrap();
    drop(Segment::open(&path).unwrap());
    assert!(path.exists());
}

#[test]
fn damage_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("1.seg");
    let mut w = SegmentWriter::create(&path).unwrap();
    w.add(&sample_rows(1, 3000)).unwrap();
    w.add(&sample_rows(2, 300)).unwrap();
    w.finish().unwrap();
    let good = std::fs::read(&path).unwrap();
    let read_all = |p: &Path| -> Result<usize> {
        let seg = Segment::open(p)?;
        let mut n = 0;
        for twin in [1, 2] {
            let Some(chunk) = seg.chunk(twin)? else { continue };
            let mut ts = Vec::new();
            for g in &chunk.groups {
                chunk.timestamps(g, &mut ts)?;
                for b in &g.blocks {
                    n += chunk.column(g, b)?.0.len();
                    n += chunk.hour_summaries(b)?.map_or(0, |h| h.windows.len());
                }
            }
        }
        Ok(n)
    };
    let bad_path = dir.path().join("bad.seg");
    let step = (good.len() / 97).max(1);
    for at in (0..good.len()).step_by(step) {
        let mut bytes = good.clone();
        bytes[at] ^= 0x5a;
        std::fs::write(&bad_path, &bytes).unwrap();
        assert!(read_all(&bad_path).is_err(), "flip at {at} went unnoticed");
        std::fs::write(&bad_path, &good[..at]).unwrap();
        assert!(read_all(&bad_path).is_err(), "cut at {at} went unnoticed");
    }
}
