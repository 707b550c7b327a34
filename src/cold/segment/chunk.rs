//! One twin's chunk as a reader sees it: its parsed directory, and its blocks checked
//! against their refs (bounds, checksum) before decoding, directly or through the block
//! cache. Implements the block side of docs/FORMAT.md, "Segment files" → "Chunk" and
//! "What a reader checks, and when".

use std::sync::Arc;

use super::directory::{BlockRef, ColumnBlock, Directory, Group};
use super::reader::Segment;
use super::values::{NumericScratch, Values, decode_column, decode_numeric};
use super::windows::{HourSummaries, decode_windows};
use super::{TwinRef, codec};
use crate::cold::cache::{BlockCache, NumericBlock};
use crate::error::Result;

/// One twin's directory in a segment, ready to decode blocks.
pub(crate) struct Chunk<'s> {
    pub(super) segment: &'s Segment,
    /// The file's id in the manifest (0 when read outside a store): the block cache key.
    pub file_id: u64,
    pub twin_ref: TwinRef,
    /// The parsed directory (shared with the segment's cache of them).
    pub(super) dir: Arc<Directory>,
}

impl std::ops::Deref for Chunk<'_> {
    type Target = Directory;

    fn deref(&self) -> &Directory {
        &self.dir
    }
}

impl Chunk<'_> {
    pub(super) fn block(&self, b: &BlockRef) -> Result<&[u8]> {
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

    /// The hour summaries of column block `b`, if it has them (format version 2, a numeric
    /// block over two or more hours).
    pub(crate) fn hour_summaries(&self, b: &ColumnBlock) -> Result<Option<HourSummaries>> {
        let Some(w) = &b.windows else {
            return Ok(None);
        };
        let bytes = self.block(w)?;
        let ty = self.columns[b.slot].1;
        decode_windows(bytes, ty, b.stats.count, b.stats.first_ts, b.stats.last_ts)
            .map(Some)
            .map_err(|e| self.segment.corrupt(w.start, e.0))
    }

    /// The rows (within group `g`) and values of column block `b`.
    pub(crate) fn column(&self, g: &Group, b: &ColumnBlock) -> Result<(Vec<u32>, Values)> {
        let bytes = self.block(&b.block)?;
        let ty = self.columns[b.slot].1;
        decode_column(bytes, g.rows, b.stats.count as usize, ty).map_err(|e| self.segment.corrupt(b.block.start, e.0))
    }
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
