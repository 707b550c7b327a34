//! Segment files: many twins' rows, column by column, in compressed blocks, with a footer
//! index. Written once by [`SegmentWriter`], then only read, through a memory map.
//! Implements docs/FORMAT.md, "Segment files"; each submodule names the section it covers.
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
//!
//! Where each structure lives, its writer next to its reader:
//! - [`writer`]: header, chunks, footer and trailer, in file order.
//! - [`reader`]: open and map a file, check its header, trailer and footer.
//! - [`directory`]: a twin's directory (columns, groups, block refs).
//! - [`stats`]: a column block's statistics inside the directory.
//! - [`presence`]: which rows of a group a column block has values for.
//! - [`values`]: the values of a column block, by column type.
//! - [`windows`]: hour summaries of a numeric column block (version 2).
//! - [`chunk`]: one twin's chunk as a reader sees it: checked blocks, decoded and cached.

use std::path::Path;

use bytemuck::{Pod, Zeroable};

use super::codec;
use crate::model::{ColumnId, TwinId};
use crate::model::{Value, ValueType};

mod chunk;
mod directory;
mod presence;
mod reader;
mod stats;
#[cfg(test)]
mod tests;
mod values;
mod windows;
mod writer;

pub(crate) use chunk::Chunk;
pub(crate) use reader::Segment;
pub(crate) use stats::StatsSummary;
pub(crate) use values::Values;
pub(crate) use windows::{WINDOW_NANOS, window_of};
pub(crate) use writer::SegmentWriter;

/// Magic bytes at the start of a segment file.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"TWINSEG\0";
/// Magic bytes at the end of a segment file.
pub(crate) const TRAILER_MAGIC: &[u8; 8] = b"TWSEGEND";
/// The segment format version this build writes (and the newest it reads).
pub(crate) const SEGMENT_VERSION: u32 = 2;
/// The oldest segment format version this build reads. Version 2 added hour summaries.
pub(crate) const OLDEST_SEGMENT_VERSION: u32 = 1;
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
    /// Hour summaries of numeric column blocks (format version 2).
    pub summaries: u64,
    /// Directories with block statistics, footers, headers, trailers.
    pub index: u64,
}

impl SizeBreakdown {
    pub(crate) fn add(&mut self, other: &SizeBreakdown) {
        self.timestamps += other.timestamps;
        self.values += other.values;
        self.presence += other.presence;
        self.summaries += other.summaries;
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
    for version in OLDEST_SEGMENT_VERSION..=SEGMENT_VERSION {
        let _ = directory::parse_directory(data, &r, 0, version);
    }
    let _ = windows::decode_windows(data, ValueType::Double, n as u64, 0, i64::from(selector) * WINDOW_NANOS);
    let _ = windows::decode_windows(data, ValueType::Long, n as u64, -1, 0);
    let _ = codec::decode_timestamps(data, n, &mut Vec::new());
    let _ = codec::decode_doubles(data, n, &mut Vec::new());
    let _ = codec::decode_ints(data, n, &mut Vec::new());
    let _ = codec::decode_strings(data, n, |_| {});
    for ty in ValueType::ALL {
        let _ = values::decode_column(data, n, n / 2, ty);
        let _ = values::decode_column(data, n, n, ty);
    }
    let _ = super::Manifest::decode(Path::new("MANIFEST"), data);
}
