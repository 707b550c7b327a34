//! Segment files: many twins' rows, column by column, in compressed blocks, with a footer
//! index. Written once by [`SegmentWriter`], then only read, through a memory map.
//!
//! ```text
//! [header 16 B] [chunk of twin a] [chunk of twin b] ... [pad to 8] [footer: TwinRef × n] [trailer 32 B]
//! chunk = [directory (varints, checksummed)] [blocks]
//! ```
//!
//! A twin's rows are cut into groups of up to [`GROUP_ROWS`] rows. Each group has one
//! timestamp block and one block per column with values in the group; a column block holds
//! which rows have a value (presence) and the values. The directory lists every block with
//! its offset, length, checksum and statistics (count, min, max, sum, first and last with
//! their times), so aggregates over whole blocks need no decoding.
//!
//! The footer is an array of fixed-size [`TwinRef`] sorted by twin id, viewed in place with
//! `bytemuck`; a lookup is a binary search. docs/FORMAT.md ("Segment files") has every byte.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytemuck::{Pod, Zeroable};

use super::cache::{BlockCache, NumericBlock};
use super::codec::{self, CodecError, Reader, put_ivarint, put_uvarint};
use crate::catalog::{ColumnId, TwinId};
use crate::error::{Error, Result};
use crate::model::{Timestamp, Value, ValueType};
use crate::vfs::{FileBytes, Vfs, VfsWriter};

/// Magic bytes at the start of a segment file.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"TWINSEG\0";
/// Magic bytes at the end of a segment file.
pub(crate) const TRAILER_MAGIC: &[u8; 8] = b"TWSEGEND";
/// The segment format version this build writes and reads.
pub(crate) const SEGMENT_VERSION: u32 = 1;
const HEADER_LEN: usize = 16;
const TRAILER_LEN: usize = 32;
/// Rows per group: a query decodes whole groups, so this bounds the work of a short range.
pub(crate) const GROUP_ROWS: usize = 2048;

/// A twin's entry in the footer. Little-endian on disk; twinstore builds only for
/// little-endian targets (see `lib.rs`), so the struct is the disk layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct TwinRef {
    pub twin: u32,
    pub dir_len: u32,
    pub dir_offset: u64,
    pub dir_crc: u32,
    pub rows: u32,
    pub points: u64,
    pub min_ts: i64,
    pub max_ts: i64,
}

const TWIN_REF_LEN: usize = std::mem::size_of::<TwinRef>();
const _: () = assert!(TWIN_REF_LEN == 48);

/// One twin's rows for the writer, in the table's order.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct TwinRows {
    pub twin: TwinId,
    pub ts: Vec<i64>,
    /// Columns with at least one value, by column id.
    pub columns: Vec<ColumnRows>,
}

/// One column of [`TwinRows`]: the rows that have a value, and the values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnRows {
    pub column: ColumnId,
    pub ty: ValueType,
    /// Row indices, ascending.
    pub rows: Vec<u32>,
    pub values: Vec<Value>,
}

impl TwinRows {
    /// Property values held.
    pub(crate) fn points(&self) -> u64 {
        self.columns.iter().map(|c| c.rows.len() as u64).sum()
    }
}

/// Where the bytes of the cold tier go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizeBreakdown {
    /// Timestamp blocks.
    pub timestamps: u64,
    /// Value parts of column blocks.
    pub values: u64,
    /// Presence parts of column blocks (which rows have a value).
    pub presence: u64,
    /// Directories with block statistics, footers, headers, trailers.
    pub index: u64,
}

impl SizeBreakdown {
    pub(crate) fn add(&mut self, other: &SizeBreakdown) {
        self.timestamps += other.timestamps;
        self.values += other.values;
        self.presence += other.presence;
        self.index += other.index;
    }
}

/// What a finished segment holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SegmentSummary {
    pub bytes: u64,
    pub twins: u64,
    pub rows: u64,
    pub points: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub sizes: SizeBreakdown,
}

/// Writes one segment file. Twins must be added in ascending id order.
pub(crate) struct SegmentWriter {
    path: PathBuf,
    out: BufWriter<VfsWriter>,
    offset: u64,
    refs: Vec<TwinRef>,
    summary: SegmentSummary,
}

impl SegmentWriter {
    /// Creates the file through the real file system.
    #[cfg(test)]
    pub(crate) fn create(path: &Path) -> Result<Self> {
        Self::create_in(&crate::vfs::StdVfs, path)
    }

    /// Creates the file (which must not exist) through `vfs`.
    pub(crate) fn create_in(vfs: &dyn Vfs, path: &Path) -> Result<Self> {
        let file = vfs.create_new(path).map_err(|e| Error::io(path, e))?;
        let mut writer = SegmentWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, VfsWriter(file)),
            offset: 0,
            refs: Vec::new(),
            summary: SegmentSummary {
                min_ts: i64::MAX,
                max_ts: i64::MIN,
                ..Default::default()
            },
        };
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(SEGMENT_MAGIC);
        header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
        let crc = crc32c::crc32c(&header[..12]);
        header[12..].copy_from_slice(&crc.to_le_bytes());
        writer.write(&header)?;
        writer.summary.sizes.index += HEADER_LEN as u64;
        Ok(writer)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|e| Error::io(&self.path, e))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Appends one twin's chunk.
    pub(crate) fn add(&mut self, rows: &TwinRows) -> Result<()> {
        if rows.ts.is_empty() {
            return Ok(());
        }
        if self.refs.last().is_some_and(|r| r.twin >= rows.twin) {
            return Err(Error::InvalidArgument(format!(
                "segment writer: twin {} added out of order",
                rows.twin
            )));
        }
        let mut dir = Vec::new();
        let mut blocks = Vec::new();
        let sizes = &mut self.summary.sizes;
        put_uvarint(&mut dir, rows.columns.len() as u64);
        for c in &rows.columns {
            put_uvarint(&mut dir, u64::from(c.column));
            dir.push(c.ty.tag());
        }
        let groups = rows.ts.len().div_ceil(GROUP_ROWS);
        put_uvarint(&mut dir, groups as u64);
        // Per column, the next of its entries to place in a group.
        let mut cursors = vec![0usize; rows.columns.len()];
        for g in 0..groups {
            let lo = g * GROUP_ROWS;
            let hi = (lo + GROUP_ROWS).min(rows.ts.len());
            let ts = &rows.ts[lo..hi];
            let (first, last) = (ts[0], ts[ts.len() - 1]);
            put_uvarint(&mut dir, ts.len() as u64);
            put_ivarint(&mut dir, first);
            put_uvarint(&mut dir, last.wrapping_sub(first) as u64);
            let start = blocks.len();
            codec::encode_timestamps(ts, &mut blocks);
            sizes.timestamps += (blocks.len() - start) as u64;
            put_block_ref(&mut dir, start, &blocks);
            let present: Vec<usize> = (0..rows.columns.len())
                .filter(|&i| rows.columns[i].rows.get(cursors[i]).is_some_and(|&r| (r as usize) < hi))
                .collect();
            put_uvarint(&mut dir, present.len() as u64);
            for slot in present {
                let column = &rows.columns[slot];
                let begin = cursors[slot];
                let end = begin + column.rows[begin..].partition_point(|&r| (r as usize) < hi);
                cursors[slot] = end;
                let local: Vec<i64> = column.rows[begin..end]
                    .iter()
                    .map(|&r| i64::from(r) - lo as i64)
                    .collect();
                let values = &column.values[begin..end];
                let start = blocks.len();
                encode_presence(&local, ts.len(), &mut blocks);
                let mid = blocks.len();
                sizes.presence += (mid - start) as u64;
                encode_values(column.ty, values, &mut blocks);
                sizes.values += (blocks.len() - mid) as u64;
                put_uvarint(&mut dir, slot as u64);
                put_block_ref(&mut dir, start, &blocks);
                let first_ts = ts[local[0] as usize];
                let last_row = local[local.len() - 1];
                let last_ts = ts[last_row as usize];
                put_stats(&mut dir, column.ty, values, first_ts - first, last - last_ts);
                // Where the last value sits, and for text types the value itself: the latest
                // value of a column needs no block decoding.
                put_uvarint(&mut dir, last_row as u64);
                if let Some(Value::String(text) | Value::Dynamic(text)) = values.last() {
                    put_uvarint(&mut dir, text.len() as u64);
                    dir.extend_from_slice(text.as_bytes());
                }
            }
        }
        sizes.index += dir.len() as u64 + TWIN_REF_LEN as u64;
        let points = rows.points();
        let (min_ts, max_ts) = rows
            .ts
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        self.refs.push(TwinRef {
            twin: rows.twin,
            dir_len: u32::try_from(dir.len())
                .map_err(|_| Error::InvalidArgument("segment writer: directory over 4 GiB".into()))?,
            dir_offset: self.offset,
            dir_crc: crc32c::crc32c(&dir),
            rows: u32::try_from(rows.ts.len())
                .map_err(|_| Error::InvalidArgument("segment writer: over 2^32 rows of one twin".into()))?,
            points,
            min_ts,
            max_ts,
        });
        self.summary.twins += 1;
        self.summary.rows += rows.ts.len() as u64;
        self.summary.points += points;
        self.summary.min_ts = self.summary.min_ts.min(min_ts);
        self.summary.max_ts = self.summary.max_ts.max(max_ts);
        self.write(&dir)?;
        self.write(&blocks)
    }

    /// Writes the footer and trailer and syncs the file.
    pub(crate) fn finish(mut self) -> Result<SegmentSummary> {
        let pad = (8 - (self.offset % 8) as usize) % 8;
        self.write(&[0u8; 8][..pad])?;
        let footer_offset = self.offset;
        let footer: &[u8] = bytemuck::cast_slice(&self.refs);
        let footer_crc = crc32c::crc32c(footer);
        let footer = footer.to_vec();
        self.write(&footer)?;
        let mut trailer = [0u8; TRAILER_LEN];
        trailer[..8].copy_from_slice(&footer_offset.to_le_bytes());
        trailer[8..12].copy_from_slice(&(self.refs.len() as u32).to_le_bytes());
        trailer[12..16].copy_from_slice(&footer_crc.to_le_bytes());
        trailer[16..20].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
        let crc = crc32c::crc32c(&trailer[..20]);
        trailer[20..24].copy_from_slice(&crc.to_le_bytes());
        trailer[24..].copy_from_slice(TRAILER_MAGIC);
        self.write(&trailer)?;
        self.summary.sizes.index += (pad + TRAILER_LEN) as u64;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.0.sync_all().map_err(|e| Error::io(&self.path, e))?;
        let mut summary = self.summary;
        summary.bytes = self.offset;
        if summary.twins == 0 {
            summary.min_ts = 0;
            summary.max_ts = 0;
        }
        Ok(summary)
    }
}

fn put_block_ref(dir: &mut Vec<u8>, start: usize, blocks: &[u8]) {
    put_uvarint(dir, start as u64);
    put_uvarint(dir, (blocks.len() - start) as u64);
    dir.extend_from_slice(&crc32c::crc32c(&blocks[start..]).to_le_bytes());
}

const PRESENCE_ALL: u8 = 0;
const PRESENCE_ROWS: u8 = 1;
const PRESENCE_BITMAP: u8 = 2;
const PRESENCE_RUNS: u8 = 3;

/// Which of a group's `n` rows have a value: all of them, their row numbers, or a 0/1 per
/// row, whichever is smallest.
fn encode_presence(rows: &[i64], n: usize, out: &mut Vec<u8>) {
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

fn encode_values(ty: ValueType, values: &[Value], out: &mut Vec<u8>) {
    match ty {
        ValueType::Double => {
            let v: Vec<f64> = values.iter().map(|v| as_f64(v).unwrap_or(0.0)).collect();
            codec::encode_doubles(&v, out);
        }
        ValueType::Long | ValueType::DateTime | ValueType::Bool => {
            let v: Vec<i64> = values.iter().map(|v| as_i64(v).unwrap_or(0)).collect();
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

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Double(d) => Some(*d),
        _ => None,
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Long(l) => Some(*l),
        Value::DateTime(t) => Some(t.as_nanos()),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
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

fn get_compact_f64(r: &mut Reader<'_>) -> std::result::Result<f64, CodecError> {
    match r.u8()? {
        0xff => Ok(f64::from_bits(r.u64()?)),
        e @ 0..=9 => Ok(r.ivarint()? as f64 / 10f64.powi(i32::from(e))),
        b => Err(CodecError(format!("bad compact double tag {b}"))),
    }
}

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

fn put_stats(dir: &mut Vec<u8>, ty: ValueType, values: &[Value], first_gap: i64, last_gap: i64) {
    put_uvarint(dir, values.len() as u64);
    put_uvarint(dir, first_gap as u64);
    put_uvarint(dir, last_gap as u64);
    match ty {
        ValueType::Double => {
            let v: Vec<f64> = values.iter().filter_map(as_f64).collect();
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
            let v: Vec<i64> = values.iter().filter_map(as_i64).collect();
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
}

fn decimal_sum(values: &[f64]) -> Option<f64> {
    let e = (0..=9).find(|&e| values.iter().all(|&v| codec::to_decimal(v, e).is_some()))?;
    let mut sum: i64 = 0;
    for &v in values {
        sum = sum.checked_add(codec::to_decimal(v, e)?)?;
    }
    (sum.unsigned_abs() < 1 << 53).then(|| sum as f64 / 10f64.powi(e as i32))
}

// ---------------------------------------------------------------------------------------
// Reading.

/// An open segment file.
pub(crate) struct Segment {
    path: PathBuf,
    map: FileBytes,
    /// The file layer, to delete the file once retired.
    vfs: Arc<dyn Vfs>,
    /// Why the file could not be opened, when the store opened without it: every read of it
    /// fails with this, and other files stay readable.
    damage: Option<Damage>,
    footer_offset: usize,
    twins: usize,
    footer_crc: u32,
    /// The footer is checked on first use, not at open: opening a store maps many files.
    footer_checked: OnceLock<std::result::Result<(), String>>,
    /// Parsed twin directories, by footer index: parsed and checksummed once, then shared by
    /// every query.
    dirs: Box<[OnceLock<Arc<Directory>>]>,
    /// The file has been read into memory and its pages mapped (see [`Segment::preload`]).
    preloaded: std::sync::atomic::AtomicBool,
    /// Set when the file is no longer part of the store: it is deleted once the last reader
    /// drops it.
    retired: std::sync::atomic::AtomicBool,
}

/// Why a file the manifest names could not be opened.
#[derive(Clone, Debug)]
enum Damage {
    /// Its bytes are not a segment file, or it is missing: offset and reason.
    Corrupt(u64, String),
    /// It was written by a format version this build does not read (the version found):
    /// reads fail with [`Error::UnsupportedVersion`], as docs/FORMAT.md promises, not with a
    /// corruption error.
    Version(u32),
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("path", &self.path).finish()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.retired.load(std::sync::atomic::Ordering::Acquire) {
            // Best effort: a file left behind is removed as an orphan on the next open.
            let _ = self.vfs.remove_file(&self.path);
        }
    }
}

impl Segment {
    /// Maps `path` through the real file system and checks its header and trailer.
    #[cfg(test)]
    pub(crate) fn open(path: &Path) -> Result<Arc<Segment>> {
        Self::open_in(crate::vfs::std_vfs(), path)
    }

    /// Maps `path` through `vfs` and checks its header and trailer.
    pub(crate) fn open_in(vfs: Arc<dyn Vfs>, path: &Path) -> Result<Arc<Segment>> {
        let map = vfs.map(path).map_err(|e| Error::io(path, e))?;
        let corrupt = |offset: usize, reason: &str| Error::corruption(path, offset as u64, reason);
        if map.len() < HEADER_LEN + TRAILER_LEN {
            return Err(corrupt(0, "file shorter than a segment header and trailer"));
        }
        if &map[..8] != SEGMENT_MAGIC {
            return Err(corrupt(0, "not a twinstore segment (bad magic)"));
        }
        let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if crc32c::crc32c(&map[..12]) != le32(&map[12..16]) {
            return Err(corrupt(12, "segment header checksum mismatch"));
        }
        let version = le32(&map[8..12]);
        if version != SEGMENT_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: SEGMENT_VERSION,
            });
        }
        let t = map.len() - TRAILER_LEN;
        let trailer = &map[t..];
        if &trailer[24..] != TRAILER_MAGIC {
            return Err(corrupt(t + 24, "segment trailer missing (file truncated?)"));
        }
        if crc32c::crc32c(&trailer[..20]) != le32(&trailer[20..24]) {
            return Err(corrupt(t + 20, "segment trailer checksum mismatch"));
        }
        if le32(&trailer[16..20]) != SEGMENT_VERSION {
            return Err(corrupt(t + 16, "segment trailer version differs from the header's"));
        }
        let footer_offset = u64::from_le_bytes(trailer[..8].try_into().unwrap_or_default());
        let twins = le32(&trailer[8..12]) as usize;
        let footer_end = usize::try_from(footer_offset)
            .ok()
            .and_then(|o| o.checked_add(twins.checked_mul(TWIN_REF_LEN)?));
        if footer_end != Some(t) || footer_offset % 8 != 0 {
            return Err(corrupt(t, "segment footer position does not match the file size"));
        }
        Ok(Arc::new(Segment {
            path: path.to_path_buf(),
            footer_offset: footer_offset as usize,
            twins,
            footer_crc: le32(&trailer[12..16]),
            map,
            vfs,
            damage: None,
            footer_checked: OnceLock::new(),
            dirs: (0..twins).map(|_| OnceLock::new()).collect(),
            preloaded: Default::default(),
            retired: Default::default(),
        }))
    }

    /// Reads the whole file into memory and maps its pages (once), so that the first query
    /// touching a twin does not wait for page faults. Best effort: errors are ignored.
    pub(crate) fn preload(&self) {
        if self.preloaded.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        self.map.populate();
    }

    /// Checks every twin directory and block of the file (checksums, full decodes, counts
    /// against the directory), handing each problem to `problem` and going on; counts the
    /// blocks read in `blocks`. An unreadable footer ends the check (it is the error).
    pub(crate) fn verify(&self, blocks: &mut u64, problem: &mut dyn FnMut(Error)) -> Result<()> {
        let refs = self.footer()?.to_vec();
        let mut ts = Vec::new();
        for r in &refs {
            let chunk = match self.chunk_of(r) {
                Ok(c) => c,
                Err(e) => {
                    problem(e);
                    continue;
                }
            };
            for g in &chunk.groups {
                *blocks += 1;
                match chunk.timestamps(g, &mut ts) {
                    Err(e) => problem(e),
                    Ok(()) => {
                        let sorted = ts.windows(2).all(|w| w[0] <= w[1]);
                        if ts.len() != g.rows
                            || !sorted
                            || ts.first() != Some(&g.first_ts)
                            || ts.last() != Some(&g.last_ts)
                        {
                            problem(self.corrupt(
                                g.ts_block.start,
                                format!(
                                    "timestamp block of twin {} disagrees with its directory (rows, order or range)",
                                    r.twin
                                ),
                            ));
                        }
                    }
                }
                for b in &g.blocks {
                    *blocks += 1;
                    match chunk.column(g, b) {
                        Err(e) => problem(e),
                        Ok((present, _)) => {
                            if present.len() as u64 != b.stats.count {
                                problem(self.corrupt(
                                    b.block.start,
                                    format!(
                                        "column block of twin {} has {} values, its directory says {}",
                                        r.twin,
                                        present.len(),
                                        b.stats.count
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The file's size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Marks the file for deletion when the last reader lets go of it.
    pub(crate) fn retire(&self) {
        self.retired.store(true, std::sync::atomic::Ordering::Release);
    }

    fn corrupt(&self, offset: usize, reason: impl Into<String>) -> Error {
        Error::corruption(&self.path, offset as u64, reason)
    }

    /// A file the manifest names but that cannot be opened (its header or trailer is
    /// damaged, it is cut short, or it is missing): it holds no readable rows, and every read
    /// of it fails with `error`'s file, offset and reason, so that the rest of the store can
    /// open and answer. `verify` reports it.
    pub(crate) fn damaged(vfs: Arc<dyn Vfs>, path: &Path, error: &Error) -> Arc<Segment> {
        let damage = match error {
            Error::Corruption { offset, reason, .. } => Damage::Corrupt(*offset, reason.clone()),
            Error::UnsupportedVersion { found, .. } => Damage::Version(*found),
            other => Damage::Corrupt(0, other.to_string()),
        };
        Arc::new(Segment {
            path: path.to_path_buf(),
            footer_offset: 0,
            twins: 0,
            footer_crc: 0,
            map: FileBytes::from_vec(Vec::new()),
            vfs,
            damage: Some(damage),
            footer_checked: OnceLock::new(),
            dirs: Box::new([]),
            preloaded: Default::default(),
            retired: Default::default(),
        })
    }

    /// The whole file, as mapped (empty for a damaged file).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Whether the file could not be opened (see [`Segment::damaged`]).
    pub(crate) fn is_damaged(&self) -> bool {
        self.damage.is_some()
    }

    /// The footer, checksummed on first use.
    pub(crate) fn footer(&self) -> Result<&[TwinRef]> {
        match &self.damage {
            Some(Damage::Corrupt(offset, reason)) => {
                return Err(Error::corruption(&self.path, *offset, reason.clone()));
            }
            Some(Damage::Version(found)) => {
                return Err(Error::UnsupportedVersion {
                    path: self.path.clone(),
                    found: *found,
                    supported: SEGMENT_VERSION,
                });
            }
            None => {}
        }
        let bytes = &self.map[self.footer_offset..self.footer_offset + self.twins * TWIN_REF_LEN];
        let checked = self.footer_checked.get_or_init(|| {
            if crc32c::crc32c(bytes) != self.footer_crc {
                return Err("segment footer checksum mismatch".into());
            }
            let refs: &[TwinRef] = bytemuck::try_cast_slice(bytes).map_err(|e| format!("footer: {e}"))?;
            if refs.windows(2).any(|w| w[0].twin >= w[1].twin) {
                return Err("segment footer is not sorted by twin".into());
            }
            Ok(())
        });
        if let Err(reason) = checked {
            return Err(self.corrupt(self.footer_offset, reason.clone()));
        }
        bytemuck::try_cast_slice(bytes).map_err(|e| self.corrupt(self.footer_offset, format!("footer: {e}")))
    }

    /// Where this file's bytes go: timestamps, values, presence, index (directories,
    /// footer, header, trailer and padding).
    pub(crate) fn size_breakdown(&self) -> Result<SizeBreakdown> {
        let mut sizes = SizeBreakdown::default();
        for r in self.footer()? {
            let chunk = self.chunk_of(r)?;
            for g in &chunk.groups {
                sizes.timestamps += g.ts_block.len as u64;
                for b in &g.blocks {
                    let bytes = chunk.block(&b.block)?;
                    let presence = presence_len(bytes, g.rows, b.stats.count as usize)
                        .map_err(|e| self.corrupt(b.block.start, e.0))?;
                    sizes.presence += presence as u64;
                    sizes.values += (b.block.len - presence) as u64;
                }
            }
        }
        let total = self.map.len() as u64;
        sizes.index = total - sizes.timestamps - sizes.values - sizes.presence;
        Ok(sizes)
    }

    /// The footer entry of `twin`, if the file holds it.
    pub(crate) fn twin_ref(&self, twin: TwinId) -> Result<Option<TwinRef>> {
        let refs = self.footer()?;
        Ok(refs.binary_search_by_key(&twin, |r| r.twin).ok().map(|i| refs[i]))
    }

    /// Reads `twin`'s directory.
    pub(crate) fn chunk(&self, twin: TwinId) -> Result<Option<Chunk<'_>>> {
        let Some(r) = self.twin_ref(twin)? else {
            return Ok(None);
        };
        self.chunk_of(&r).map(Some)
    }

    pub(crate) fn chunk_of(&self, r: &TwinRef) -> Result<Chunk<'_>> {
        let slot = self
            .footer()?
            .binary_search_by_key(&r.twin, |x| x.twin)
            .ok()
            .and_then(|i| self.dirs.get(i));
        let dir = match slot.and_then(OnceLock::get) {
            Some(dir) => dir.clone(),
            None => {
                let dir = Arc::new(self.parse_dir(r)?);
                if let Some(slot) = slot {
                    let _ = slot.set(dir.clone());
                }
                dir
            }
        };
        Ok(Chunk {
            segment: self,
            file_id: 0,
            twin_ref: *r,
            dir,
        })
    }

    fn parse_dir(&self, r: &TwinRef) -> Result<Directory> {
        let start = r.dir_offset as usize;
        let end = start
            .checked_add(r.dir_len as usize)
            .filter(|&e| e <= self.footer_offset);
        let Some(end) = end else {
            return Err(self.corrupt(start, "twin directory runs past the footer"));
        };
        let dir = &self.map[start..end];
        if crc32c::crc32c(dir) != r.dir_crc {
            return Err(self.corrupt(start, format!("directory checksum mismatch (twin {})", r.twin)));
        }
        parse_directory(dir, r, end)
            .map_err(|e| self.corrupt(start, format!("twin {} directory: {e}", r.twin)))
            .map(|(columns, groups)| Directory { columns, groups })
    }
}

/// A parsed directory: the columns and the groups.
#[derive(Debug)]
pub(crate) struct Directory {
    /// `(column id, type)` of each column the chunk holds.
    pub columns: Vec<(ColumnId, ValueType)>,
    pub groups: Vec<Group>,
}

type ParsedDirectory = (Vec<(ColumnId, ValueType)>, Vec<Group>);

fn parse_directory(dir: &[u8], r: &TwinRef, data_start: usize) -> std::result::Result<ParsedDirectory, CodecError> {
    let mut rd = Reader::new(dir);
    let ncols = rd.len(dir.len())?;
    let mut columns = Vec::with_capacity(ncols);
    for _ in 0..ncols {
        let id = u32::try_from(rd.uvarint()?).map_err(|_| CodecError("column id over u32".into()))?;
        let tag = rd.u8()?;
        let ty = ValueType::from_tag(tag).ok_or_else(|| CodecError(format!("unknown type tag {tag}")))?;
        columns.push((id, ty));
    }
    let ngroups = rd.len(dir.len())?;
    let mut groups = Vec::with_capacity(ngroups);
    let mut total_rows = 0u64;
    for _ in 0..ngroups {
        let rows = rd.len(GROUP_ROWS)?;
        if rows == 0 {
            return Err(CodecError("empty group".into()));
        }
        total_rows += rows as u64;
        let first_ts = rd.ivarint()?;
        let last_ts = first_ts.wrapping_add(rd.uvarint()? as i64);
        let ts_block = get_block_ref(&mut rd, data_start)?;
        let npresent = rd.len(ncols)?;
        let mut blocks = Vec::with_capacity(npresent);
        for _ in 0..npresent {
            let slot = rd.len(ncols.saturating_sub(1))?;
            let block = get_block_ref(&mut rd, data_start)?;
            let ty = columns[slot].1;
            let count = rd.len(rows)?;
            if count == 0 {
                return Err(CodecError("column block without values".into()));
            }
            let first_ts_stat = first_ts.wrapping_add(rd.uvarint()? as i64);
            let last_ts_stat = last_ts.wrapping_sub(rd.uvarint()? as i64);
            let summary = match ty {
                ValueType::Double => {
                    let mut f = [0.0; 5];
                    for x in &mut f {
                        *x = get_compact_f64(&mut rd)?;
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
                        sum: get_compact_f64(&mut rd)?,
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
            };
            let last_row = rd.len(rows - 1)?;
            let last = match (&summary, ty) {
                (StatsSummary::Double { last, .. }, _) => Value::Double(*last),
                (StatsSummary::Integer { last, .. }, ValueType::DateTime) => {
                    Value::DateTime(Timestamp::from_nanos(*last))
                }
                (StatsSummary::Integer { last, .. }, _) => Value::Long(*last),
                (StatsSummary::Bool { last, .. }, _) => Value::Bool(*last),
                (StatsSummary::None, ValueType::String | ValueType::Dynamic) => {
                    let len = rd.len(dir.len())?;
                    let text = std::str::from_utf8(rd.bytes_n(len)?)
                        .map_err(|e| CodecError(format!("last value is not UTF-8: {e}")))?;
                    if ty == ValueType::String {
                        Value::String(text.into())
                    } else {
                        Value::Dynamic(text.into())
                    }
                }
                (StatsSummary::None, _) => Value::Removed,
            };
            let bstats = BlockStats {
                count: count as u64,
                first_ts: first_ts_stat,
                last_ts: last_ts_stat,
                last_row,
                last,
                summary,
            };
            blocks.push(ColumnBlock {
                slot,
                block,
                stats: bstats,
            });
        }
        groups.push(Group {
            rows,
            first_ts,
            last_ts,
            ts_block,
            blocks,
        });
    }
    if total_rows != u64::from(r.rows) {
        return Err(CodecError(format!(
            "groups hold {total_rows} rows, the footer says {}",
            r.rows
        )));
    }
    Ok((columns, groups))
}

fn get_block_ref(rd: &mut Reader<'_>, data_start: usize) -> std::result::Result<BlockRef, CodecError> {
    let offset = rd.uvarint()?;
    let len = rd.uvarint()?;
    let crc = rd.u32()?;
    let start = usize::try_from(offset)
        .ok()
        .and_then(|o| o.checked_add(data_start))
        .ok_or_else(|| CodecError("block offset overflows".into()))?;
    let len = usize::try_from(len).map_err(|_| CodecError("block length overflows".into()))?;
    Ok(BlockRef { start, len, crc })
}

/// A block's place in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockRef {
    pub start: usize,
    pub len: usize,
    pub crc: u32,
}

/// A group of rows of one twin.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub rows: usize,
    pub first_ts: i64,
    pub last_ts: i64,
    ts_block: BlockRef,
    pub blocks: Vec<ColumnBlock>,
}

/// One column's block in a group.
#[derive(Clone, Debug)]
pub(crate) struct ColumnBlock {
    /// Index into [`Chunk::columns`].
    pub slot: usize,
    block: BlockRef,
    pub stats: BlockStats,
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

/// One twin's directory in a segment, ready to decode blocks.
pub(crate) struct Chunk<'s> {
    segment: &'s Segment,
    /// The file's id in the manifest (0 when read outside a store): the block cache key.
    pub file_id: u64,
    pub twin_ref: TwinRef,
    /// The parsed directory (shared with the segment's cache of them).
    dir: Arc<Directory>,
}

impl std::ops::Deref for Chunk<'_> {
    type Target = Directory;

    fn deref(&self) -> &Directory {
        &self.dir
    }
}

impl Chunk<'_> {
    fn block(&self, b: &BlockRef) -> Result<&[u8]> {
        let map = &self.segment.map;
        let bytes = b
            .start
            .checked_add(b.len)
            .filter(|&e| e <= self.segment.footer_offset)
            .map(|e| &map[b.start..e]);
        let Some(bytes) = bytes else {
            return Err(self.segment.corrupt(b.start, "block runs past the footer"));
        };
        if crc32c::crc32c(bytes) != b.crc {
            return Err(self.segment.corrupt(
                b.start,
                format!("block checksum mismatch (twin {})", self.twin_ref.twin),
            ));
        }
        Ok(bytes)
    }

    /// The timestamps of group `g`.
    pub(crate) fn timestamps(&self, g: &Group, out: &mut Vec<i64>) -> Result<()> {
        let bytes = self.block(&g.ts_block)?;
        out.clear();
        codec::decode_timestamps(bytes, g.rows, out).map_err(|e| self.segment.corrupt(g.ts_block.start, e.0))
    }

    /// The rows (within group `g`) and values of column block `b`.
    pub(crate) fn column(&self, g: &Group, b: &ColumnBlock) -> Result<(Vec<u32>, Values)> {
        let bytes = self.block(&b.block)?;
        let ty = self.columns[b.slot].1;
        decode_column(bytes, g.rows, b.stats.count as usize, ty).map_err(|e| self.segment.corrupt(b.block.start, e.0))
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

impl Chunk<'_> {
    /// The group's timestamps, from `cache` or decoded (and cached).
    pub(crate) fn cached_timestamps(&self, g: &Group, cache: &BlockCache) -> Result<Arc<Vec<i64>>> {
        let decode = || {
            let mut ts = Vec::with_capacity(g.rows);
            self.timestamps(g, &mut ts).map(|()| ts)
        };
        if self.file_id == 0 {
            // Not read through a store's file list: no key to cache it under.
            return decode().map(Arc::new);
        }
        cache.timestamps((self.file_id, g.ts_block.start), decode)
    }

    /// Numeric column block `b` of group `g` with the time of each value, from `cache` or
    /// decoded (and cached).
    pub(crate) fn cached_numeric(&self, g: &Group, b: &ColumnBlock, cache: &BlockCache) -> Result<Arc<NumericBlock>> {
        let key = (self.file_id, b.block.start);
        let decode = || {
            let mut s = NumericScratch::default();
            self.timestamps(g, &mut s.ts)?;
            self.numeric_column(g, b, &mut s)?;
            let ts = if s.all_rows {
                s.ts
            } else {
                s.rows.iter().map(|&r| s.ts[r as usize]).collect()
            };
            Ok(NumericBlock {
                all_rows: s.all_rows,
                rows: s.rows,
                ts,
                values: s.values,
            })
        };
        if self.file_id == 0 {
            return decode().map(Arc::new);
        }
        cache.numeric(key, decode)
    }

    /// Decodes numeric (Double or Long) column block `b` of group `g` into `s` (rows and
    /// values; the group's timestamps are read separately). Other types are refused.
    pub(crate) fn numeric_column(&self, g: &Group, b: &ColumnBlock, s: &mut NumericScratch) -> Result<()> {
        let bytes = self.block(&b.block)?;
        let ty = self.columns[b.slot].1;
        decode_numeric(bytes, g.rows, b.stats.count as usize, ty, s)
            .map_err(|e| self.segment.corrupt(b.block.start, e.0))
    }
}

fn decode_numeric(
    bytes: &[u8],
    rows: usize,
    count: usize,
    ty: ValueType,
    s: &mut NumericScratch,
) -> std::result::Result<(), CodecError> {
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

/// Feeds `data` to the directory parser, every block decoder and the manifest parser (for
/// the fuzz target).
pub(crate) fn fuzz_decoders(data: &[u8]) {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let n = usize::from(selector) * 9 % (GROUP_ROWS + 1);
    let r = TwinRef {
        twin: 1,
        rows: n as u32,
        ..TwinRef::zeroed()
    };
    let _ = parse_directory(data, &r, 0);
    let _ = codec::decode_timestamps(data, n, &mut Vec::new());
    let _ = codec::decode_doubles(data, n, &mut Vec::new());
    let _ = codec::decode_ints(data, n, &mut Vec::new());
    let _ = codec::decode_strings(data, n, |_| {});
    for ty in ValueType::ALL {
        let _ = decode_column(data, n, n / 2, ty);
        let _ = decode_column(data, n, n, ty);
    }
    let _ = super::Manifest::decode(Path::new("MANIFEST"), data);
}

/// A column block's presence (after its form byte): the rows with a value, and the bytes
/// it took.
fn decode_presence(
    rest: &[u8],
    form: u8,
    rows: usize,
    count: usize,
) -> std::result::Result<(Vec<u32>, usize), CodecError> {
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
fn presence_len(bytes: &[u8], rows: usize, count: usize) -> std::result::Result<usize, CodecError> {
    let mut rd = Reader::new(bytes);
    let form = rd.u8()?;
    let rest = rd.rest();
    Ok(1 + decode_presence(rest, form, rows, count)?.1)
}

fn decode_column(
    bytes: &[u8],
    rows: usize,
    count: usize,
    ty: ValueType,
) -> std::result::Result<(Vec<u32>, Values), CodecError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        ]);
        let mut file: Vec<u8> = b"TWINSEG\0".to_vec();
        file.extend_from_slice(&[0x01, 0, 0, 0]);
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
        trailer.extend_from_slice(&1u32.to_le_bytes()); // version
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
}
