//! The segment writer: header, one chunk per twin, footer and trailer, in file order.
//! Implements docs/FORMAT.md, "Segment files": "Header (version 1)", "Chunk" (the order of
//! a chunk's blocks), "Footer" and "Trailer (version 1)". The bytes of each structure are
//! written by the module that also reads them ([`super::directory`], [`super::stats`],
//! [`super::presence`], [`super::values`]).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::codec::{self, put_uvarint};
use super::directory::{put_block_ref, put_columns, put_group_head, put_windows_ref};
use super::presence::encode_presence;
use super::stats::put_stats;
use super::values::encode_values;
use super::windows::{encode_windows, summarised};
use super::{
    GROUP_ROWS, HEADER_LEN, SEGMENT_MAGIC, SEGMENT_VERSION, SegmentSummary, SizeBreakdown, TRAILER_LEN, TRAILER_MAGIC,
    TWIN_REF_LEN, TwinRef, TwinRows,
};
use crate::error::{Error, Result};
use crate::vfs::{Vfs, VfsWriter};

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
        let ChunkEncoder { dir, blocks, .. } = ChunkEncoder::encode(rows, &mut self.summary.sizes);
        let sizes = &mut self.summary.sizes;
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

/// One twin's chunk being encoded: its directory and its blocks, with the bytes of each
/// kind counted in `sizes` (docs/FORMAT.md, "Chunk").
struct ChunkEncoder<'s> {
    dir: Vec<u8>,
    blocks: Vec<u8>,
    sizes: &'s mut SizeBreakdown,
    /// Per column, the next of its entries to place in a group.
    cursors: Vec<usize>,
}

impl<'s> ChunkEncoder<'s> {
    /// Encodes every group of `rows` (which has at least one row).
    fn encode(rows: &TwinRows, sizes: &'s mut SizeBreakdown) -> Self {
        let mut chunk = ChunkEncoder {
            dir: Vec::new(),
            blocks: Vec::new(),
            sizes,
            cursors: vec![0usize; rows.columns.len()],
        };
        put_columns(&mut chunk.dir, &rows.columns);
        let groups = rows.ts.len().div_ceil(GROUP_ROWS);
        put_uvarint(&mut chunk.dir, groups as u64);
        for g in 0..groups {
            chunk.group(rows, g);
        }
        chunk
    }

    /// Group `g`: its directory entry, its timestamp block and a block for each column with
    /// a value in it.
    fn group(&mut self, rows: &TwinRows, g: usize) {
        let lo = g * GROUP_ROWS;
        let hi = (lo + GROUP_ROWS).min(rows.ts.len());
        let ts = &rows.ts[lo..hi];
        put_group_head(&mut self.dir, ts.len(), ts[0], ts[ts.len() - 1]);
        let start = self.blocks.len();
        codec::encode_timestamps(ts, &mut self.blocks);
        self.sizes.timestamps += (self.blocks.len() - start) as u64;
        put_block_ref(&mut self.dir, start, &self.blocks);
        let present: Vec<usize> = (0..rows.columns.len())
            .filter(|&i| {
                rows.columns[i]
                    .rows
                    .get(self.cursors[i])
                    .is_some_and(|&r| (r as usize) < hi)
            })
            .collect();
        put_uvarint(&mut self.dir, present.len() as u64);
        for slot in present {
            self.column_block(rows, slot, lo, hi);
        }
    }

    /// The block of column `slot` in the group of rows `lo..hi`: presence and values, and
    /// its directory entry (slot, block ref, statistics).
    fn column_block(&mut self, rows: &TwinRows, slot: usize, lo: usize, hi: usize) {
        let ts = &rows.ts[lo..hi];
        let column = &rows.columns[slot];
        let begin = self.cursors[slot];
        let end = begin + column.rows[begin..].partition_point(|&r| (r as usize) < hi);
        self.cursors[slot] = end;
        let local: Vec<i64> = column.rows[begin..end]
            .iter()
            .map(|&r| i64::from(r) - lo as i64)
            .collect();
        let values = &column.values[begin..end];
        let start = self.blocks.len();
        encode_presence(&local, ts.len(), &mut self.blocks);
        let mid = self.blocks.len();
        self.sizes.presence += (mid - start) as u64;
        encode_values(column.ty, values, &mut self.blocks);
        self.sizes.values += (self.blocks.len() - mid) as u64;
        put_uvarint(&mut self.dir, slot as u64);
        put_block_ref(&mut self.dir, start, &self.blocks);
        let first_ts = ts[local[0] as usize];
        let last_row = local[local.len() - 1] as usize;
        let last_ts = ts[last_row];
        put_stats(
            &mut self.dir,
            column.ty,
            values,
            first_ts - ts[0],
            ts[ts.len() - 1] - last_ts,
            last_row,
        );
        // Hour summaries of a numeric block over two or more hours (every value of a numeric
        // column is of its type; checked, as a summary of fewer values would be wrong).
        let numeric = values.iter().all(|v| v.value_type() == column.ty);
        if summarised(column.ty, first_ts, last_ts) && numeric {
            let times: Vec<i64> = local.iter().map(|&r| ts[r as usize]).collect();
            let start = self.blocks.len();
            encode_windows(column.ty, &times, values, &mut self.blocks);
            self.sizes.summaries += (self.blocks.len() - start) as u64;
            put_windows_ref(&mut self.dir, Some((start, &self.blocks)));
        } else {
            put_windows_ref(&mut self.dir, None);
        }
    }
}
