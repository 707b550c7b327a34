//! A twin's directory: its columns, its groups and, per group, where each block is and the
//! statistics of each column block. Implements docs/FORMAT.md, "Segment files" → "Chunk"
//! (Directory and Block ref); the statistics inside it are [`super::stats`].

use super::codec::{CodecError, Reader, put_ivarint, put_uvarint};
use super::stats::{BlockStats, get_stats};
use super::{ColumnRows, GROUP_ROWS, TwinRef};
use crate::model::ColumnId;
use crate::model::ValueType;

/// A parsed directory: the columns and the groups.
#[derive(Debug)]
pub(crate) struct Directory {
    /// `(column id, type)` of each column the chunk holds.
    pub columns: Vec<(ColumnId, ValueType)>,
    pub groups: Vec<Group>,
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
    pub(super) ts_block: BlockRef,
    pub blocks: Vec<ColumnBlock>,
}

/// One column's block in a group.
#[derive(Clone, Debug)]
pub(crate) struct ColumnBlock {
    /// Index into [`Directory::columns`].
    pub slot: usize,
    pub(super) block: BlockRef,
    pub stats: BlockStats,
    /// Its hour summaries (format version 2; numeric blocks over two or more hours).
    pub(super) windows: Option<BlockRef>,
}

// ---------------------------------------------------------------------------------------
// Writing.

/// The directory's column list: how many, then each one's id and type tag.
pub(super) fn put_columns(dir: &mut Vec<u8>, columns: &[ColumnRows]) {
    put_uvarint(dir, columns.len() as u64);
    for c in columns {
        put_uvarint(dir, u64::from(c.column));
        dir.push(c.ty.tag());
    }
}

/// A group's entry up to its timestamp block's ref: rows, first time, and the span to the
/// last time.
pub(super) fn put_group_head(dir: &mut Vec<u8>, rows: usize, first_ts: i64, last_ts: i64) {
    put_uvarint(dir, rows as u64);
    put_ivarint(dir, first_ts);
    put_uvarint(dir, last_ts.wrapping_sub(first_ts) as u64);
}

/// The ref of the block `blocks[start..]` (the block just appended): offset from the end
/// of the directory, length, checksum.
pub(super) fn put_block_ref(dir: &mut Vec<u8>, start: usize, blocks: &[u8]) {
    put_uvarint(dir, start as u64);
    put_uvarint(dir, (blocks.len() - start) as u64);
    dir.extend_from_slice(&crc32c::crc32c(&blocks[start..]).to_le_bytes());
}

// ---------------------------------------------------------------------------------------
// Reading.

/// A column block's hour summaries entry (version 2): 0 for none, or 1 and the ref of the
/// summary block `blocks[start..]` (the block just appended).
pub(super) fn put_windows_ref(dir: &mut Vec<u8>, summary: Option<(usize, &[u8])>) {
    match summary {
        None => dir.push(0),
        Some((start, blocks)) => {
            dir.push(1);
            put_block_ref(dir, start, blocks);
        }
    }
}

/// Parses directory bytes `dir` of the twin `r` describes, in a file of format `version`;
/// block offsets are made absolute by adding `data_start` (the end of the directory in the
/// file).
pub(super) fn parse_directory(
    dir: &[u8],
    r: &TwinRef,
    data_start: usize,
    version: u32,
) -> Result<Directory, CodecError> {
    let mut rd = Reader::new(dir);
    let columns = get_columns(&mut rd, dir.len())?;
    let ngroups = rd.len(dir.len())?;
    let mut groups = Vec::with_capacity(ngroups);
    let mut total_rows = 0u64;
    for _ in 0..ngroups {
        let group = get_group(&mut rd, &columns, dir.len(), data_start, version)?;
        total_rows += group.rows as u64;
        groups.push(group);
    }
    if total_rows != u64::from(r.rows) {
        return Err(CodecError(format!(
            "groups hold {total_rows} rows, the footer says {}",
            r.rows
        )));
    }
    Ok(Directory { columns, groups })
}

/// The column list; `dir_len` bounds its count.
fn get_columns(rd: &mut Reader<'_>, dir_len: usize) -> Result<Vec<(ColumnId, ValueType)>, CodecError> {
    let ncols = rd.len(dir_len)?;
    let mut columns = Vec::with_capacity(ncols);
    for _ in 0..ncols {
        let id = u32::try_from(rd.uvarint()?).map_err(|_| CodecError("column id over u32".into()))?;
        let tag = rd.u8()?;
        let ty = ValueType::from_tag(tag).ok_or_else(|| CodecError(format!("unknown type tag {tag}")))?;
        columns.push((id, ty));
    }
    Ok(columns)
}

/// One group's entry: rows, times, timestamp block ref and its column blocks.
fn get_group(
    rd: &mut Reader<'_>,
    columns: &[(ColumnId, ValueType)],
    dir_len: usize,
    data_start: usize,
    version: u32,
) -> Result<Group, CodecError> {
    let ncols = columns.len();
    let rows = rd.len(GROUP_ROWS)?;
    if rows == 0 {
        return Err(CodecError("empty group".into()));
    }
    let first_ts = rd.ivarint()?;
    let last_ts = first_ts.wrapping_add(rd.uvarint()? as i64);
    let ts_block = get_block_ref(rd, data_start)?;
    let npresent = rd.len(ncols)?;
    let mut blocks = Vec::with_capacity(npresent);
    for _ in 0..npresent {
        let slot = rd.len(ncols.saturating_sub(1))?;
        let block = get_block_ref(rd, data_start)?;
        let ty = columns[slot].1;
        let stats = get_stats(rd, ty, rows, (first_ts, last_ts), dir_len)?;
        let windows = if version >= 2 {
            match rd.u8()? {
                0 => None,
                1 => Some(get_block_ref(rd, data_start)?),
                b => return Err(CodecError(format!("bad hour summaries tag {b}"))),
            }
        } else {
            None
        };
        blocks.push(ColumnBlock {
            slot,
            block,
            stats,
            windows,
        });
    }
    Ok(Group {
        rows,
        first_ts,
        last_ts,
        ts_block,
        blocks,
    })
}

fn get_block_ref(rd: &mut Reader<'_>, data_start: usize) -> Result<BlockRef, CodecError> {
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

#[cfg(test)]
mod tests {
    use bytemuck::Zeroable;

    use super::*;
    use crate::cold::segment::stats::{StatsSummary, put_stats};
    use crate::model::Value;

    /// Two groups: 3 rows with a Long block in slot 1, then 2 rows with no column block.
    /// Blocks are stand-in bytes (the directory only records where they are).
    fn sample_directory() -> Vec<u8> {
        let columns = [
            ColumnRows {
                column: 4,
                ty: ValueType::String,
                rows: vec![],
                values: vec![],
            },
            ColumnRows {
                column: 9,
                ty: ValueType::Long,
                rows: vec![],
                values: vec![],
            },
        ];
        let mut dir = Vec::new();
        let mut blocks = vec![1u8, 2, 3];
        put_columns(&mut dir, &columns);
        put_uvarint(&mut dir, 2);
        put_group_head(&mut dir, 3, -1_000, 2_000);
        put_block_ref(&mut dir, 0, &blocks);
        put_uvarint(&mut dir, 1);
        blocks.extend_from_slice(&[4, 5]);
        put_uvarint(&mut dir, 1);
        put_block_ref(&mut dir, 3, &blocks);
        put_stats(&mut dir, ValueType::Long, &[Value::Long(6), Value::Long(8)], 0, 500, 1);
        blocks.push(6);
        put_group_head(&mut dir, 2, 3_000, 3_000);
        put_block_ref(&mut dir, 5, &blocks);
        put_uvarint(&mut dir, 0);
        dir
    }

    #[test]
    fn a_directory_round_trips() {
        let dir = sample_directory();
        let twin = TwinRef {
            rows: 5,
            ..TwinRef::zeroed()
        };
        let parsed = parse_directory(&dir, &twin, 100, 1).expect("parses");
        assert_eq!(parsed.columns, [(4, ValueType::String), (9, ValueType::Long)]);
        assert_eq!(parsed.groups.len(), 2);
        let (g0, g1) = (&parsed.groups[0], &parsed.groups[1]);
        assert_eq!((g0.rows, g0.first_ts, g0.last_ts), (3, -1_000, 2_000));
        assert_eq!(
            g0.ts_block,
            BlockRef {
                start: 100,
                len: 3,
                crc: crc32c::crc32c(&[1, 2, 3]),
            }
        );
        assert_eq!(g0.blocks.len(), 1);
        let b = &g0.blocks[0];
        assert_eq!(b.slot, 1);
        assert_eq!(
            b.block,
            BlockRef {
                start: 103,
                len: 2,
                crc: crc32c::crc32c(&[4, 5]),
            }
        );
        assert_eq!(
            (b.stats.count, b.stats.first_ts, b.stats.last_ts, b.stats.last_row),
            (2, -1_000, 1_500, 1)
        );
        assert_eq!(b.stats.last, Value::Long(8));
        assert_eq!(
            b.stats.summary,
            StatsSummary::Integer {
                min: 6,
                max: 8,
                sum: 14.0,
                first: 6,
                last: 8,
            }
        );
        assert_eq!((g1.rows, g1.first_ts, g1.last_ts), (2, 3_000, 3_000));
        assert_eq!(
            g1.ts_block,
            BlockRef {
                start: 105,
                len: 1,
                crc: crc32c::crc32c(&[6]),
            }
        );
        assert!(g1.blocks.is_empty());
    }

    #[test]
    fn a_directory_that_disagrees_with_its_footer_or_is_cut_short_is_refused() {
        let dir = sample_directory();
        let twin = |rows| TwinRef {
            rows,
            ..TwinRef::zeroed()
        };
        assert!(
            parse_directory(&dir, &twin(6), 0, 1).is_err(),
            "row count differs from the footer's"
        );
        for cut in 0..dir.len() {
            assert!(parse_directory(&dir[..cut], &twin(5), 0, 1).is_err(), "cut at {cut}");
        }
        // An empty directory: no columns, no groups, no rows.
        let empty = parse_directory(&[0, 0], &twin(0), 0, 1).expect("parses");
        assert!(empty.columns.is_empty() && empty.groups.is_empty());
    }
}
