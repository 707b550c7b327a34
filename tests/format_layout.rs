//! The golden store `tests/fixtures/v1/store-full` read byte by byte as docs/FORMAT.md
//! describes it, without the crate's own readers: an independent check of the document,
//! and of the claim that the store exercises every form the version 1 writer can choose
//! (presence forms, integer transforms and layouts, byte planes raw and zstd, timestamp
//! units, decimal doubles with and without exceptions, raw doubles, plain and zstd string
//! dictionaries, both compact-double tags, every value type, a twin of two groups), that the
//! deletions are in the files, and that the WAL tail holds the unflushed batch. The version 2
//! store `tests/fixtures/v2/store-full` is read the same way, with its hour summaries decoded
//! and checked against the values of their blocks, hour by hour.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The golden store written with segment format `version`.
fn store_dir(version: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/v{version}/store-full"))
}

/// One hour, in nanoseconds.
const HOUR: i64 = 3600 * SEC;

/// 2026-01-01T00:00:00Z, in nanoseconds.
const T0: i64 = 1_767_225_600_000_000_000;
const SEC: i64 = 1_000_000_000;

/// A reader over bytes with the primitives of FORMAT.md.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        out
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().expect("4 bytes"))
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().expect("8 bytes"))
    }
    /// Unsigned LEB128, at most 10 bytes.
    fn varint(&mut self) -> u64 {
        let mut value = 0u64;
        for i in 0..10 {
            let b = self.u8();
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return value;
            }
        }
        panic!("varint over 10 bytes at {}", self.pos);
    }
    fn zigzag(&mut self) -> i64 {
        let v = self.varint();
        (v >> 1) as i64 ^ -((v & 1) as i64)
    }
    fn text(&mut self) -> String {
        let len = self.varint() as usize;
        String::from_utf8(self.take(len).to_vec()).expect("UTF-8")
    }
    fn rest(&mut self) -> &'a [u8] {
        self.take(self.bytes.len() - self.pos)
    }
    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// The forms and codecs met while reading, by name.
type Seen = BTreeSet<String>;

/// "Integer stream": n signed integers.
fn int_stream(c: &mut Cursor<'_>, n: usize, seen: &mut Seen) -> Vec<i64> {
    let kind = c.u8();
    if n == 0 {
        assert_eq!(kind, 0, "an empty stream is the single byte 00");
        return Vec::new();
    }
    let (transform, layout) = (kind & 0x0f, kind >> 4);
    seen.insert(format!("integer transform {transform}"));
    seen.insert(format!("integer layout {layout}"));
    let first = c.zigzag();
    let first_delta = if transform == 2 && n >= 2 { c.zigzag() } else { 0 };
    let lo = c.zigzag();
    let w = c.u8() as usize;
    assert!(w <= 64);
    let m = n.saturating_sub(transform as usize);
    let residuals: Vec<u64> = match layout {
        0 => {
            let packed = c.take((m * w).div_ceil(8));
            (0..m)
                .map(|j| {
                    (0..w).fold(0u64, |acc, b| {
                        acc | (u64::from(packed[(j * w + b) / 8] >> ((j * w + b) % 8)) & 1) << b
                    })
                })
                .collect()
        }
        1 => {
            let mut acc = vec![0u64; m];
            for p in 0..w.div_ceil(8) {
                let tag = c.varint();
                let stored = c.take((tag >> 1) as usize);
                let plane = if tag & 1 == 1 {
                    seen.insert("byte plane zstd".into());
                    zstd::bulk::decompress(stored, m).expect("a zstd frame")
                } else {
                    seen.insert("byte plane raw".into());
                    stored.to_vec()
                };
                assert_eq!(plane.len(), m, "a plane holds one byte per residual");
                for (a, &b) in acc.iter_mut().zip(&plane) {
                    *a |= u64::from(b) << (8 * p);
                }
            }
            acc
        }
        other => panic!("unknown layout {other}"),
    };
    let residuals = residuals.into_iter().map(|r| lo.wrapping_add(r as i64));
    let mut out = Vec::with_capacity(n);
    match transform {
        0 => out.extend(residuals),
        1 => {
            out.push(first);
            for r in residuals {
                out.push(out[out.len() - 1].wrapping_add(r));
            }
        }
        2 => {
            out.push(first);
            if n >= 2 {
                out.push(first.wrapping_add(first_delta));
            }
            let mut delta = first_delta;
            for r in residuals {
                delta = delta.wrapping_add(r);
                out.push(out[out.len() - 1].wrapping_add(delta));
            }
        }
        other => panic!("unknown transform {other}"),
    }
    out
}

/// "Timestamps": a unit, then the scaled integers.
fn timestamps(c: &mut Cursor<'_>, n: usize, seen: &mut Seen) -> Vec<i64> {
    let unit = c.u8();
    seen.insert(format!("timestamp unit {unit}"));
    let scale = [1_000_000_000, 1_000_000, 1_000, 1][unit as usize];
    int_stream(c, n, seen).into_iter().map(|v| v * scale).collect()
}

/// "Doubles": decimal (with or without exceptions) or raw.
fn doubles(c: &mut Cursor<'_>, n: usize, seen: &mut Seen) -> Vec<f64> {
    match c.u8() {
        0 => {
            let e = c.u8();
            assert!(e <= 14);
            let exceptions = c.varint() as usize;
            let mut values: Vec<f64> = int_stream(c, n, seen)
                .into_iter()
                .map(|i| i as f64 / 10f64.powi(i32::from(e)))
                .collect();
            if exceptions == 0 {
                seen.insert("doubles decimal".into());
            } else {
                seen.insert("doubles decimal with exceptions".into());
                let len = c.varint() as usize;
                let positions = int_stream(&mut Cursor::new(c.take(len)), exceptions, seen);
                let raw = int_stream(c, exceptions, seen);
                for (p, bits) in positions.into_iter().zip(raw) {
                    values[p as usize] = f64::from_bits(bits as u64);
                }
            }
            values
        }
        1 => {
            seen.insert("doubles raw".into());
            int_stream(c, n, seen)
                .into_iter()
                .map(|b| f64::from_bits(b as u64))
                .collect()
        }
        other => panic!("unknown double form {other}"),
    }
}

/// "Strings": a per-block dictionary, plain or zstd.
fn strings(c: &mut Cursor<'_>, n: usize, seen: &mut Seen) -> Vec<String> {
    let form = c.u8();
    let entries = c.varint() as usize;
    let len = c.varint() as usize;
    let indices = int_stream(&mut Cursor::new(c.take(len)), n, seen);
    let len = c.varint() as usize;
    let lengths = int_stream(&mut Cursor::new(c.take(len)), entries, seen);
    let text = match form {
        0 => {
            seen.insert("strings plain".into());
            c.rest().to_vec()
        }
        1 => {
            seen.insert("strings zstd".into());
            let size = c.varint() as usize;
            zstd::bulk::decompress(c.rest(), size).expect("a zstd frame")
        }
        other => panic!("unknown string form {other}"),
    };
    let mut dictionary = Vec::new();
    let mut start = 0;
    for l in lengths {
        dictionary.push(String::from_utf8(text[start..start + l as usize].to_vec()).expect("UTF-8"));
        start += l as usize;
    }
    assert_eq!(start, text.len());
    indices.into_iter().map(|i| dictionary[i as usize].clone()).collect()
}

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    F(f64),
    I(i64),
    B(bool),
    S(String),
    Removed,
}

/// A compact double of the directory.
fn compact_f64(c: &mut Cursor<'_>, seen: &mut Seen) -> f64 {
    match c.u8() {
        0xff => {
            seen.insert("compact double raw".into());
            f64::from_bits(c.u64())
        }
        e @ 0..=9 => {
            seen.insert("compact double decimal".into());
            c.zigzag() as f64 / 10f64.powi(i32::from(e))
        }
        other => panic!("bad compact double tag {other}"),
    }
}

/// Statistics of a column block; returns N. Checks the count, first and last against the
/// decoded values later.
fn stats(c: &mut Cursor<'_>, ty: u8, seen: &mut Seen) -> (usize, Option<Val>) {
    let n = c.varint() as usize;
    let _first_gap = c.varint();
    let _last_gap = c.varint();
    match ty {
        1 => {
            for _ in 0..5 {
                compact_f64(c, seen);
            }
        }
        2 | 5 => {
            for _ in 0..4 {
                c.zigzag();
            }
            compact_f64(c, seen);
        }
        3 => {
            c.varint();
            assert!(c.u8() <= 1 && c.u8() <= 1);
        }
        _ => {}
    }
    let _last_row = c.varint();
    let last = matches!(ty, 4 | 6).then(|| Val::S(c.text()));
    (n, last)
}

/// One twin's chunk, decoded: row times and, per column id, (row, value).
#[derive(Debug, Default)]
struct Chunk {
    groups: usize,
    ts: Vec<i64>,
    columns: BTreeMap<u64, Vec<(usize, Val)>>,
}

/// A column block of a group of `rows` rows holding `n` values of type `ty`.
fn column_block(block: &[u8], ty: u8, rows: usize, n: usize, seen: &mut Seen) -> Vec<(usize, Val)> {
    let mut c = Cursor::new(block);
    let form = c.u8();
    seen.insert(format!("presence form {form}"));
    seen.insert(format!("value type {ty}"));
    let present: Vec<usize> = match form {
        0 => (0..rows).collect(),
        1 => int_stream(&mut c, n, seen).into_iter().map(|r| r as usize).collect(),
        2 => {
            let bits = int_stream(&mut c, rows, seen);
            (0..rows).filter(|&r| bits[r] == 1).collect()
        }
        3 => {
            let k = c.varint() as usize;
            let runs = int_stream(&mut c, k, seen);
            let (mut row, mut out) = (0usize, Vec::new());
            for (i, len) in runs.into_iter().enumerate() {
                if i % 2 == 1 {
                    out.extend(row..row + len as usize);
                }
                row += len as usize;
            }
            assert_eq!(row, rows, "runs add up to R");
            out
        }
        other => panic!("unknown presence form {other}"),
    };
    assert_eq!(present.len(), n, "presence agrees with the statistics' N");
    let values: Vec<Val> = match ty {
        1 => doubles(&mut c, n, seen).into_iter().map(Val::F).collect(),
        2 => int_stream(&mut c, n, seen).into_iter().map(Val::I).collect(),
        3 => int_stream(&mut c, n, seen)
            .into_iter()
            .map(|b| Val::B(b != 0))
            .collect(),
        4 | 6 => strings(&mut c, n, seen).into_iter().map(Val::S).collect(),
        5 => timestamps(&mut c, n, seen).into_iter().map(Val::I).collect(),
        7 => vec![Val::Removed; n],
        other => panic!("unknown type tag {other}"),
    };
    assert!(c.at_end(), "a block is consumed exactly");
    present.into_iter().zip(values).collect()
}

/// A segment file of format `version`: header, trailer, footer, every directory and block.
/// Returns the chunks by twin id.
fn segment_file(bytes: &[u8], version: u32, seen: &mut Seen) -> BTreeMap<u32, Chunk> {
    let mut h = Cursor::new(&bytes[..16]);
    assert_eq!(h.take(8), b"TWINSEG\0");
    assert_eq!(h.u32(), version, "header version");
    assert_eq!(h.u32(), crc32c::crc32c(&bytes[..12]));
    let t = bytes.len() - 32;
    let mut tr = Cursor::new(&bytes[t..]);
    let (footer, n) = (tr.u64() as usize, tr.u32() as usize);
    let footer_crc = tr.u32();
    assert_eq!(tr.u32(), version, "trailer version");
    assert_eq!(tr.u32(), crc32c::crc32c(&bytes[t..t + 20]));
    assert_eq!(tr.take(8), b"TWSEGEND");
    assert_eq!(footer % 8, 0);
    assert_eq!(footer + 48 * n, t);
    assert_eq!(footer_crc, crc32c::crc32c(&bytes[footer..t]));
    let mut chunks = BTreeMap::new();
    let mut f = Cursor::new(&bytes[footer..t]);
    let mut chunk_end = 16;
    for _ in 0..n {
        let twin = f.u32();
        let dir_len = f.u32() as usize;
        let dir_offset = f.u64() as usize;
        let dir_crc = f.u32();
        let (rows, points) = (f.u32() as usize, f.u64() as usize);
        let (min_ts, max_ts) = (f.u64() as i64, f.u64() as i64);
        assert_eq!(dir_offset, chunk_end, "chunks are back to back");
        let dir = &bytes[dir_offset..dir_offset + dir_len];
        assert_eq!(dir_crc, crc32c::crc32c(dir));
        let base = dir_offset + dir_len;
        let mut d = Cursor::new(dir);
        let types: Vec<(u64, u8)> = (0..d.varint()).map(|_| (d.varint(), d.u8())).collect();
        let mut chunk = Chunk {
            groups: d.varint() as usize,
            ..Default::default()
        };
        let mut block = |d: &mut Cursor<'_>| {
            let (offset, len) = (d.varint() as usize, d.varint() as usize);
            let b = &bytes[base + offset..base + offset + len];
            assert_eq!(d.u32(), crc32c::crc32c(b), "block checksum");
            chunk_end = chunk_end.max(base + offset + len);
            b
        };
        for _ in 0..chunk.groups {
            let r = d.varint() as usize;
            assert!((1..=2048).contains(&r));
            let first_ts = d.zigzag();
            let last_ts = first_ts + d.varint() as i64;
            let row0 = chunk.ts.len();
            let ts = timestamps(&mut Cursor::new(block(&mut d)), r, seen);
            assert_eq!((ts[0], ts[r - 1]), (first_ts, last_ts));
            chunk.ts.extend(&ts);
            for _ in 0..d.varint() {
                let slot = d.varint() as usize;
                let (column, ty) = types[slot];
                let b = block(&mut d);
                let (count, last) = stats(&mut d, ty, seen);
                let values = column_block(b, ty, r, count, seen);
                if version >= 2 {
                    let timed: Vec<(i64, &Val)> = values.iter().map(|(row, v)| (ts[*row], v)).collect();
                    let summaries = match d.u8() {
                        0 => None,
                        1 => Some(block(&mut d)),
                        other => panic!("bad hour summaries tag {other}"),
                    };
                    check_hour_summaries(summaries, ty, &timed, seen);
                }
                if let Some(last) = last {
                    assert_eq!(
                        values.last().map(|(_, v)| v),
                        Some(&last),
                        "last value in the directory"
                    );
                }
                let out = chunk.columns.entry(column).or_default();
                out.extend(values.into_iter().map(|(row, v)| (row0 + row, v)));
            }
        }
        assert!(d.at_end(), "a directory is consumed exactly");
        assert_eq!(chunk.ts.len(), rows);
        assert_eq!(chunk.columns.values().map(Vec::len).sum::<usize>(), points);
        assert_eq!(
            (chunk.ts.iter().min(), chunk.ts.iter().max()),
            (Some(&min_ts), Some(&max_ts))
        );
        if chunk.groups > 1 {
            seen.insert("several groups".into());
        }
        chunks.insert(twin, chunk);
    }
    assert!(
        bytes[chunk_end..footer].iter().all(|&b| b == 0) && footer - chunk_end < 8,
        "zero padding"
    );
    chunks
}

/// A twin of the manifest's catalog: id, name, model, columns as (name, type tag).
type TwinDef = (u64, String, Option<String>, Vec<(String, u8)>);

/// The next part of a summaries block: a varint length, then that many bytes.
fn part<'a>(c: &mut Cursor<'a>) -> Cursor<'a> {
    let len = c.varint() as usize;
    Cursor::new(c.take(len))
}

/// Checks a column block's hour summaries entry against its values (time, value): a Double
/// or Long block whose first and last values fall in different hours has a summaries
/// block, any other has none; its counts, sums, minimums and maximums are those of the
/// values, hour by hour.
fn check_hour_summaries(block: Option<&[u8]>, ty: u8, values: &[(i64, &Val)], seen: &mut Seen) {
    let hour = |t: i64| t.div_euclid(HOUR);
    let spans_hours = matches!((values.first(), values.last()), (Some(a), Some(b)) if hour(a.0) != hour(b.0));
    let Some(block) = block else {
        assert!(
            !(spans_hours && matches!(ty, 1 | 2)),
            "a numeric block spanning hours has summaries"
        );
        return;
    };
    assert!(
        spans_hours && matches!(ty, 1 | 2),
        "summaries only for numeric blocks spanning hours"
    );
    seen.insert(format!("hour summaries of value type {ty}"));
    // The expectation: per hour, (count, sum, min, max) of the block's values.
    let number = |v: &Val| match v {
        Val::F(x) => *x,
        Val::I(x) => *x as f64,
        other => panic!("a numeric block holds {other:?}"),
    };
    let mut expected: BTreeMap<i64, (u64, f64, f64, f64)> = BTreeMap::new();
    for &(t, v) in values {
        let x = number(v);
        let e = expected
            .entry(hour(t))
            .or_insert((0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
        *e = (e.0 + 1, e.1 + x, e.2.min(x), e.3.max(x));
    }
    let mut c = Cursor::new(block);
    let h0 = c.zigzag();
    let hours = c.varint() as usize;
    assert_eq!(h0, hour(values[0].0), "h0 is the first value's hour");
    assert_eq!(
        h0 + hours as i64 - 1,
        hour(values[values.len() - 1].0),
        "H reaches the last value's hour"
    );
    let numbers = |c: &mut Cursor<'_>, n: usize, seen: &mut Seen| -> Vec<f64> {
        let out = if ty == 1 {
            doubles(c, n, seen)
        } else {
            int_stream(c, n, seen).into_iter().map(|x| x as f64).collect()
        };
        assert!(c.at_end(), "a summaries part is consumed exactly");
        out
    };
    let mut counts_part = part(&mut c);
    let counts = int_stream(&mut counts_part, hours, seen);
    assert!(counts_part.at_end());
    let want_counts: Vec<i64> = (h0..h0 + hours as i64)
        .map(|h| expected.get(&h).map_or(0, |e| e.0 as i64))
        .collect();
    assert_eq!(counts, want_counts, "values per hour");
    let m = expected.len();
    let mut sums_part = part(&mut c);
    let sums = doubles(&mut sums_part, m, seen);
    assert!(sums_part.at_end());
    let mins = numbers(&mut part(&mut c), m, seen);
    let maxes = numbers(&mut part(&mut c), m, seen);
    assert!(c.at_end(), "a summaries block is consumed exactly");
    for (i, (h, e)) in expected.iter().enumerate() {
        assert!(
            (sums[i] - e.1).abs() <= 1e-9 * e.1.abs().max(1.0),
            "sum of hour {h}: {} vs {}",
            sums[i],
            e.1
        );
        assert_eq!((mins[i], maxes[i]), (e.2, e.3), "min and max of hour {h}");
    }
}

/// The manifest's content that the checks below use.
#[derive(Debug)]
struct Manifest {
    checkpoint: u64,
    next_file_id: u64,
    /// (file id, size in bytes, twins, rows, points).
    files: Vec<(u64, u64, u64, u64, u64)>,
    twins: Vec<TwinDef>,
}

fn manifest(bytes: &[u8]) -> Manifest {
    let mut h = Cursor::new(&bytes[..24]);
    assert_eq!(h.take(8), b"TWINMAN\0");
    assert_eq!(h.u32(), 1, "manifest version");
    assert_eq!(h.u64() as usize, bytes.len() - 24);
    assert_eq!(h.u32(), crc32c::crc32c(&bytes[24..]));
    let mut c = Cursor::new(&bytes[24..]);
    let (checkpoint, next_file_id) = (c.varint(), c.varint());
    let files = (0..c.varint())
        .map(|_| {
            let f = (c.varint(), c.varint(), c.varint(), c.varint(), c.varint());
            let (min, max) = (c.zigzag(), c.zigzag());
            assert!(min <= max);
            f
        })
        .collect();
    let twins = (0..c.varint())
        .map(|_| {
            let (id, name) = (c.varint(), c.text());
            let model = match c.u8() {
                0 => None,
                1 => {
                    let model = c.text();
                    c.varint();
                    Some(model)
                }
                other => panic!("bad model flag {other}"),
            };
            let columns = (0..c.varint()).map(|_| (c.text(), c.u8())).collect();
            (id, name, model, columns)
        })
        .collect();
    assert!(c.at_end(), "no trailing bytes");
    Manifest {
        checkpoint,
        next_file_id,
        files,
        twins,
    }
}

/// A WAL segment: (sequence number, payload) per frame.
fn wal_segment(bytes: &[u8], number: u64) -> Vec<(u64, Vec<u8>)> {
    let mut c = Cursor::new(bytes);
    assert_eq!(c.take(8), b"TWINWAL\0");
    assert_eq!(c.u32(), 1, "WAL version");
    assert_eq!(c.u64(), number);
    assert_eq!(c.u32(), crc32c::crc32c(&bytes[..20]));
    let mut frames = Vec::new();
    while !c.at_end() {
        let len = c.u32() as usize;
        let crc = c.u32();
        let start = c.pos;
        let seq = c.u64();
        let payload = c.take(len).to_vec();
        assert_eq!(crc, crc32c::crc32c(&bytes[start..start + 8 + len]));
        frames.push((seq, payload));
    }
    frames
}

#[test]
fn golden_store_holds_every_form_it_claims() {
    let dir = store_dir(1);
    let m = manifest(&std::fs::read(dir.join("MANIFEST")).expect("manifest"));
    let names: Vec<&str> = m.twins.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(names, ["boiler", "meter", "scratch", "noisy", "display", "sparse"]);
    assert_eq!(m.twins.iter().map(|t| t.0).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    assert_eq!(m.twins[0].2.as_deref(), Some("dtmi:example:Boiler;1"));
    let boiler_columns: Vec<(&str, u8)> = m.twins[0].3.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    assert_eq!(
        boiler_columns,
        [
            ("Temperature", 1),
            ("Pressure", 2),
            ("On", 3),
            ("Mode", 4),
            ("Serviced", 5),
            ("Config", 6),
            ("Note", 4),
            ("Note", 7)
        ]
    );
    // Files 1 and 2 were compacted into 3, rewritten by the deletions as 4 then 5; 6 is
    // the last flush.
    assert_eq!(m.files.iter().map(|f| f.0).collect::<Vec<_>>(), [5, 6]);
    assert_eq!(m.next_file_id, 7);

    let mut seen = Seen::new();
    let files = check_segment_files(&dir, &m, 1, &mut seen);
    check_deletions_and_groups(&files);
    let expected: Vec<String> = [
        "presence form 0",
        "presence form 1",
        "presence form 2",
        "presence form 3",
        "integer transform 0",
        "integer transform 1",
        "integer transform 2",
        "integer layout 0",
        "integer layout 1",
        "byte plane raw",
        "byte plane zstd",
        "timestamp unit 0",
        "timestamp unit 1",
        "timestamp unit 2",
        "timestamp unit 3",
        "doubles decimal",
        "doubles decimal with exceptions",
        "doubles raw",
        "strings plain",
        "strings zstd",
        "compact double decimal",
        "compact double raw",
        "several groups",
    ]
    .into_iter()
    .map(String::from)
    .chain((1..=7).map(|t| format!("value type {t}")))
    .collect();
    let missing: Vec<&String> = expected.iter().filter(|f| !seen.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "forms missing from the golden segment files: {missing:?}"
    );

    check_wal_tail(&dir, m.checkpoint);
}

/// Reads every segment file the manifest names, checking its size and counts against the
/// manifest; returns each file's chunks by twin id.
fn check_segment_files(dir: &Path, m: &Manifest, version: u32, seen: &mut Seen) -> Vec<BTreeMap<u32, Chunk>> {
    let mut files = Vec::new();
    for &(id, size, twins, rows, points) in &m.files {
        let bytes = std::fs::read(dir.join(format!("cold/{id:016}.seg"))).expect("segment file");
        assert_eq!(bytes.len() as u64, size);
        let chunks = segment_file(&bytes, version, seen);
        assert_eq!(chunks.len() as u64, twins);
        assert_eq!(chunks.values().map(|c| c.ts.len() as u64).sum::<u64>(), rows);
        let held: usize = chunks.values().flat_map(|c| c.columns.values()).map(Vec::len).sum();
        assert_eq!(held as u64, points);
        files.push(chunks);
    }
    let cold: Vec<String> = std::fs::read_dir(dir.join("cold"))
        .expect("cold")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cold.len(), 2, "no file but the manifest's: {cold:?}");

    files
}

#[test]
fn golden_version_2_store_holds_hour_summaries_as_documented() {
    let dir = store_dir(2);
    let m = manifest(&std::fs::read(dir.join("MANIFEST")).expect("manifest"));
    let names: Vec<&str> = m.twins.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(
        names,
        ["boiler", "meter", "scratch", "noisy", "display", "sparse", "hourly"]
    );
    let mut seen = Seen::new();
    let files = check_segment_files(&dir, &m, 2, &mut seen);
    for form in ["hour summaries of value type 1", "hour summaries of value type 2"] {
        assert!(seen.contains(form), "no {form} in the golden version 2 store: {seen:?}");
    }
    // `hourly` (twin 6): 300 rows a minute apart from 02:00, in one group.
    let hourly = files.iter().find_map(|f| f.get(&6)).expect("hourly's chunk");
    assert_eq!(
        hourly.ts,
        (0..300).map(|i| T0 + 2 * HOUR + i * 60 * SEC).collect::<Vec<_>>()
    );
}

fn check_deletions_and_groups(files: &[BTreeMap<u32, Chunk>]) {
    // The deletions are in the file: no scratch chunk (twin 2), no boiler row at 10 s.
    assert_eq!(files[0].keys().copied().collect::<Vec<_>>(), [0, 1, 3, 4, 5]);
    assert_eq!(files[0][&0].ts, [0, 20, 30, 40].map(|s| T0 + s * SEC));
    assert_eq!(
        files[0][&0].columns[&1],
        [(0, Val::I(1000)), (1, Val::I(1020)), (2, Val::I(1030))]
    );
    assert_eq!(files[0][&0].columns[&7], [(1, Val::Removed)]);
    assert_eq!(files[1].keys().copied().collect::<Vec<_>>(), [0]);
    assert_eq!(files[1][&0].ts, [T0 + 50 * SEC]);
    // The compacted meter: one chunk of 2,048 + 52 rows, Energy = i² at 1.5 s steps.
    let meter = &files[0][&1];
    assert_eq!(meter.groups, 2);
    assert_eq!(meter.ts, (0..2100).map(|i| T0 + i * 1_500_000_000).collect::<Vec<_>>());
    assert_eq!(
        meter.columns[&0],
        (0..2100).map(|i| (i as usize, Val::I(i * i))).collect::<Vec<_>>()
    );
    let display = &files[0][&4];
    assert_eq!(
        display.columns[&0][13].1,
        Val::S("zone 03: all systems nominal, no alarms pending, next check at 06:00".into())
    );
}

fn check_wal_tail(dir: &Path, checkpoint: u64) {
    // The WAL tail: one segment with one frame, after the checkpoint, holding set D.
    let wal: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .expect("wal")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(wal.len(), 1);
    let number: u64 = wal[0]
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("number");
    let frames = wal_segment(&std::fs::read(&wal[0]).expect("wal"), number);
    assert_eq!(frames.len(), 1);
    assert!(frames[0].0 > checkpoint, "the tail is not flushed");
    let mut c = Cursor::new(&frames[0].1);
    assert_eq!(c.u8(), 1, "batch");
    let definitions: Vec<String> = (0..c.varint())
        .map(|_| match c.u8() {
            1 => format!("twin {} {}", c.varint(), c.text()),
            2 => format!("column {} {} {} {}", c.varint(), c.varint(), c.u8(), c.text()),
            3 => format!("model {} {}", c.varint(), c.text()),
            other => panic!("bad definition tag {other}"),
        })
        .collect();
    assert_eq!(
        definitions,
        ["column 0 8 2 Humidity", "twin 6 lobby", "column 6 0 3 Occupied"]
    );
    let mut previous = 0i64;
    let mut records = Vec::new();
    for _ in 0..c.varint() {
        let twin = c.varint();
        let ts = previous + c.zigzag();
        previous = ts;
        let values: Vec<(u64, u8, String)> = (0..c.varint())
            .map(|_| {
                let (column, ty) = (c.varint(), c.u8());
                let value = match ty {
                    1 => f64::from_le_bytes(c.take(8).try_into().expect("8 bytes")).to_string(),
                    2 => c.zigzag().to_string(),
                    3 => (c.u8() != 0).to_string(),
                    4 => c.text(),
                    other => panic!("set D has no type {other}"),
                };
                (column, ty, value)
            })
            .collect();
        records.push((twin, ts - T0, values));
    }
    assert!(c.at_end());
    let v = |column: u64, ty: u8, value: &str| (column, ty, value.to_string());
    assert_eq!(
        records,
        [
            (0, 60 * SEC, vec![v(0, 1, "22.5"), v(3, 4, "eco"), v(8, 2, "40")]),
            (6, 61 * SEC, vec![v(0, 3, "true")]),
        ]
    );
}
