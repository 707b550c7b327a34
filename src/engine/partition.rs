//! Cold files are partitioned by time. Every file a flush writes holds the rows of one
//! partition (a UTC day), and compaction merges files of one partition only, so:
//!
//! - a compaction rewrites one day, never the whole history, and late rows into an old day
//!   rewrite that day only;
//! - retention drops whole files (a day at a time);
//! - no block straddles a day boundary, so daily buckets are answered from block statistics.
//!
//! Files written before partitioning (or spanning days for any other reason) are "mixed":
//! they are compacted only with mixed neighbours, as before.
//!
//! Row order: rows of equal time are ordered by file order (see `read::Rank`), and only files
//! whose time ranges overlap can hold rows of equal time. A run merged here is contiguous
//! among the files that overlap its partition, and the merged file takes the place of the
//! run's last file, so the order of every pair of overlapping files is kept.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::cold::{ColdFile, FileMeta};

/// Length of a partition: a UTC day. A week was measured against it on the 30-day feed
/// (docs/bench/2026-12-05-partition-window.md): as fast to write, but more rewriting, more
/// memory and daily buckets read from values instead of block statistics.
pub(crate) const PARTITION_NANOS: i64 = 86_400_000_000_000;

/// The partition of time `ts`.
pub(crate) fn partition_of(ts: i64) -> i64 {
    ts.div_euclid(PARTITION_NANOS)
}

/// The time range `[from, to)` of partition `p`.
pub(crate) fn partition_span(p: i64) -> (i64, i64) {
    let from = p.saturating_mul(PARTITION_NANOS);
    (from, from.saturating_add(PARTITION_NANOS))
}

/// The partition a file lies in; `None` for a mixed file (spanning partitions).
pub(crate) fn file_partition(meta: &FileMeta) -> Option<i64> {
    let p = partition_of(meta.min_ts);
    (p == partition_of(meta.max_ts)).then_some(p)
}

/// Whether the file's time range meets partition `p`.
fn overlaps(meta: &FileMeta, p: i64) -> bool {
    let (from, to) = partition_span(p);
    meta.min_ts < to && meta.max_ts >= from
}

/// Which files a compaction merges, as indices into `files` (ascending): the longest run of
/// `member` files within `lane` (indices in file order), at least `min_run` long, each below
/// `below_bytes`, not damaged, and with `max_ratio`, within that factor of each other's size
/// (tiered: a merged file waits for peers of its size instead of being rewritten at every
/// merge). A lane file that is not a member ends a run.
fn longest_run(
    files: &[Arc<ColdFile>],
    lane: &[usize],
    member: impl Fn(&FileMeta) -> bool,
    min_run: usize,
    max_ratio: Option<u64>,
    below_bytes: u64,
) -> Option<Vec<usize>> {
    let mut best: Option<(usize, usize)> = None;
    for start in 0..lane.len() {
        let (mut lo, mut hi) = (u64::MAX, 0u64);
        let mut end = start;
        while end < lane.len() {
            let f = &files[lane[end]];
            let bytes = f.meta.bytes.max(1);
            // A damaged file cannot be read, so runs go around it instead of failing on it.
            if !member(&f.meta) || bytes >= below_bytes || f.segment.is_damaged() {
                break;
            }
            let (l, h) = (lo.min(bytes), hi.max(bytes));
            if max_ratio.is_some_and(|r| h > l.saturating_mul(r)) {
                break;
            }
            (lo, hi) = (l, h);
            end += 1;
        }
        if end - start >= min_run.max(2) && best.is_none_or(|(a, b)| end - start > b - a) {
            best = Some((start, end));
        }
    }
    best.map(|(a, b)| lane[a..b].to_vec())
}

/// One run per partition (the longest of its lane, as [`pick_run`] chooses) and one of the
/// mixed files: disjoint, so one rewrite can merge them all at once.
pub(crate) fn pick_runs(
    files: &[Arc<ColdFile>],
    min_run: usize,
    max_ratio: Option<u64>,
    below_bytes: u64,
) -> Vec<Vec<usize>> {
    let partitions: BTreeSet<i64> = files.iter().filter_map(|f| file_partition(&f.meta)).collect();
    let mut runs = Vec::new();
    for p in partitions {
        let lane: Vec<usize> = (0..files.len()).filter(|&i| overlaps(&files[i].meta, p)).collect();
        runs.extend(longest_run(
            files,
            &lane,
            |m| file_partition(m) == Some(p),
            min_run,
            max_ratio,
            below_bytes,
        ));
    }
    let all: Vec<usize> = (0..files.len()).collect();
    runs.extend(longest_run(
        files,
        &all,
        |m| file_partition(m).is_none(),
        min_run,
        max_ratio,
        below_bytes,
    ));
    runs
}

/// The run that seals a finished partition: all its files (two or more, each below
/// `below_bytes`), for a partition older than the newest one holding files. Live data goes to
/// the newest partition; an older one only gets late rows, so once sealed it stays one file
/// until late rows arrive, and then only that day is rewritten.
pub(crate) fn pick_sealed_run(files: &[Arc<ColdFile>], below_bytes: u64) -> Option<Vec<usize>> {
    let partitions: BTreeSet<i64> = files.iter().filter_map(|f| file_partition(&f.meta)).collect();
    let newest = *partitions.last()?;
    partitions.range(..newest).find_map(|&p| {
        let lane: Vec<usize> = (0..files.len()).filter(|&i| overlaps(&files[i].meta, p)).collect();
        longest_run(files, &lane, |m| file_partition(m) == Some(p), 2, None, below_bytes)
    })
}

/// The run a compaction merges: the longest among every partition's files (in the lane of
/// files overlapping that partition) and the mixed files (in file order); on a tie, the
/// oldest partition's.
pub(crate) fn pick_run(
    files: &[Arc<ColdFile>],
    min_run: usize,
    max_ratio: Option<u64>,
    below_bytes: u64,
) -> Option<Vec<usize>> {
    let mut best: Option<Vec<usize>> = None;
    for run in pick_runs(files, min_run, max_ratio, below_bytes) {
        if best.as_ref().is_none_or(|b| run.len() > b.len()) {
            best = Some(run);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cold::{Segment, SegmentWriter, TwinRows};

    const DAY: i64 = PARTITION_NANOS;

    /// A file of `bytes` (as the manifest says) holding rows from `min_ts` to `max_ts`.
    fn file(bytes: u64, min_ts: i64, max_ts: i64) -> Arc<ColdFile> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.seg");
        let mut w = SegmentWriter::create(&path).unwrap();
        w.add(&TwinRows {
            twin: 1,
            ts: vec![min_ts],
            columns: vec![],
        })
        .unwrap();
        w.finish().unwrap();
        Arc::new(ColdFile {
            meta: FileMeta {
                id: 0,
                bytes,
                twins: 1,
                rows: 1,
                points: 0,
                min_ts,
                max_ts,
            },
            segment: Segment::open(&path).unwrap(),
        })
    }

    #[test]
    fn partitions_are_utc_days() {
        assert_eq!(partition_of(0), 0);
        assert_eq!(partition_of(DAY - 1), 0);
        assert_eq!(partition_of(DAY), 1);
        assert_eq!(partition_of(-1), -1);
        assert_eq!(partition_span(2), (2 * DAY, 3 * DAY));
        assert_eq!(file_partition(&file(1, DAY, 2 * DAY - 1).meta), Some(1));
        assert_eq!(file_partition(&file(1, DAY - 1, DAY).meta), None);
    }

    #[test]
    fn runs_of_small_neighbours_in_one_lane() {
        let big = 1000;
        let day = |bytes| file(bytes, 5, 6);
        let files: Vec<_> = [1, 1, big, 1, 1, 1, big, 1].into_iter().map(day).collect();
        assert_eq!(pick_run(&files, 2, None, big), Some(vec![3, 4, 5]));
        assert_eq!(pick_run(&files, 4, None, big), None);
        assert_eq!(pick_run(&files[..2], 2, None, big), Some(vec![0, 1]));
        // Tiered: a merged file of 400 does not join a run of 10s; four 10s do merge.
        let files: Vec<_> = [400, 10, 12, 10, 11].into_iter().map(day).collect();
        assert_eq!(pick_run(&files, 4, Some(4), big), Some(vec![1, 2, 3, 4]));
        assert_eq!(pick_run(&files, 2, None, big), Some(vec![0, 1, 2, 3, 4]));
        let files: Vec<_> = [400, 100, 10, 10, 10].into_iter().map(day).collect();
        assert_eq!(pick_run(&files, 4, Some(4), big), None);
    }

    #[test]
    fn a_partition_merges_its_own_files_across_other_days() {
        // Flushes alternate between day 0 and day 1 (late rows): each day's files merge
        // with each other, skipping the other day's files in between.
        let files = vec![
            file(10, 1, 2),
            file(10, DAY + 1, DAY + 2),
            file(10, 3, 4),
            file(10, DAY + 3, DAY + 4),
            file(10, 5, 6),
        ];
        assert_eq!(pick_run(&files, 3, Some(4), 1000), Some(vec![0, 2, 4]));
        assert_eq!(pick_run(&files, 2, Some(4), 1000), Some(vec![0, 2, 4]));
        assert_eq!(pick_runs(&files, 2, Some(4), 1000), vec![vec![0, 2, 4], vec![1, 3]]);
        // A mixed file overlapping day 0 sits between them: the order of its rows against
        // day 0's files must hold, so it ends the run.
        let files = vec![
            file(10, 1, 2),
            file(10, 3, 4),
            file(10, 5, DAY + 5),
            file(10, 7, 8),
            file(10, 9, 10),
            file(10, 11, 12),
        ];
        assert_eq!(pick_run(&files, 3, Some(4), 1000), Some(vec![3, 4, 5]));
        // Mixed files merge only with adjacent mixed files.
        let files = vec![
            file(10, 0, 2 * DAY),
            file(10, 0, 2 * DAY),
            file(10, 1, 2),
            file(10, 0, 2 * DAY),
        ];
        assert_eq!(pick_run(&files, 2, None, 1000), Some(vec![0, 1]));
    }

    #[test]
    fn finished_days_are_sealed_into_one_file_and_the_newest_day_is_not() {
        // Day 0: a big and a small file (no tiered run); day 1 (the newest): two files.
        let files = vec![
            file(500, 1, 2),
            file(10, DAY + 1, DAY + 2),
            file(10, 3, 4),
            file(10, DAY + 3, DAY + 4),
        ];
        assert_eq!(pick_run(&files, 2, Some(4), 1000), Some(vec![1, 3]));
        assert_eq!(pick_sealed_run(&files, 1000), Some(vec![0, 2]));
        // Once day 0 is one file, nothing is left to seal: day 1 is still being written.
        let files = vec![file(510, 1, 4), file(10, DAY + 1, DAY + 2), file(10, DAY + 3, DAY + 4)];
        assert_eq!(pick_sealed_run(&files, 1000), None);
        // Files at or over the size limit stay as they are.
        let files = vec![file(1000, 1, 2), file(10, 3, 4), file(10, DAY + 1, DAY + 2)];
        assert_eq!(pick_sealed_run(&files, 1000), None);
    }
}
