//! The warm tier: each twin's recent rows in memory, columnar, queryable the moment a write
//! returns.
//!
//! A [`WarmTable`] holds one twin. Rows are kept in the order of [`RowPos`]: by time, then
//! by batch sequence number, then by place in the batch. Rows arrive mostly in that order
//! and are appended to the *main run*. A row older than the main run's last
//! row goes to the small, sorted *late* list instead, so an out-of-order row costs a short
//! insertion, not a rewrite; when the late list grows past a fraction of the main run it is
//! merged in. Queries merge both.
//!
//! Visibility: every row carries the sequence number of the batch that wrote it until every
//! reader can see that batch ("settled"); settled rows need no per-row bookkeeping. A reader
//! with snapshot `s` sees exactly the rows of batches `<= s` (see `engine::snapshot`).

mod chunked;
mod column;

use std::collections::VecDeque;
use std::ops::{ControlFlow, Range};

pub(crate) use column::ColumnData;

use self::chunked::Chunked;
use crate::model::{ColumnId, FieldValue, Timestamp, Value};

/// Late rows are merged into the main run once there are more than this many plus
/// `main / LATE_FRACTION`.
const LATE_MERGE_MIN: usize = 256;
const LATE_FRACTION: usize = 8;

/// A row that arrived older than the main run's newest row, or at the same time as newer
/// batches' rows (concurrent writers of one twin).
#[derive(Debug)]
struct LateRow {
    ts: i64,
    seq: u64,
    /// How many main rows precede this row in the table's order. Main rows appended later
    /// always follow it, so this stays true until the next merge.
    main_before: usize,
    /// Late rows inserted before this one, plus one.
    arrival: u64,
    values: Box<[(ColumnId, Value)]>,
}

/// A row's place in the table's order: by time, then by the batch that wrote it, then by
/// its place in that batch. This is the order a replay of the WAL recreates (frames in
/// sequence order), so rows of equal time keep their order across a reopen even when
/// concurrent writers applied them in another order.
///
/// Comparable across main and late rows of one table (late rows sit in the gap before main
/// row `gap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RowPos {
    gap: usize,
    is_main: bool,
    seq: u64,
    arrival: u64,
}

impl RowPos {
    /// The place of main row `row` (also used for a cold chunk's row `row`: rows of one
    /// source compare only with each other).
    pub(crate) fn main(row: usize) -> Self {
        RowPos {
            gap: row,
            is_main: true,
            seq: 0,
            arrival: 0,
        }
    }

    fn late(row: &LateRow) -> Self {
        RowPos {
            gap: row.main_before,
            is_main: false,
            seq: row.seq,
            arrival: row.arrival,
        }
    }
}

/// The next row of a scan: a main row index or a late list index.
#[derive(Clone, Copy)]
enum Source {
    Main(usize),
    Late(usize),
}

/// Which rows of a twin a scan reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScanRange {
    /// Inclusive lower bound.
    pub from: i64,
    /// Exclusive upper bound.
    pub to: i64,
    pub descending: bool,
}

/// One twin's warm rows.
#[derive(Default, Debug)]
pub(crate) struct WarmTable {
    ts: Chunked<i64>,
    columns: Vec<ColumnData>,
    /// The unsettled main rows, `[settled, ts.len())`, as runs `(batch seq, end row)`: rows
    /// from the previous run's end (or `settled`) up to `end` were written by batch `seq`.
    /// A batch appends its rows of one twin together, so this is one run per batch and twin.
    tail: VecDeque<(u64, usize)>,
    /// Main rows below this index are settled: visible to every reader.
    settled: usize,
    late: Vec<LateRow>,
    points: u64,
    /// Per column, where its newest value is: `latest()` reads this instead of searching.
    latest: Vec<Option<Latest>>,
    /// Late rows inserted so far; orders late values of equal time by arrival.
    late_arrivals: u64,
}

/// The newest value of a column, written by batch `seq`.
#[derive(Clone, Debug)]
struct Latest {
    ts: i64,
    seq: u64,
    pos: RowPos,
    /// The value when it sits in a late row; main values are read from the column.
    late_value: Option<Value>,
}

impl WarmTable {
    /// Rows (events) held, visible or not.
    pub(crate) fn rows(&self) -> usize {
        self.ts.len() + self.late.len()
    }

    /// Property values held.
    pub(crate) fn points(&self) -> u64 {
        self.points
    }

    /// The time range of the rows held.
    pub(crate) fn time_range(&self) -> Option<(Timestamp, Timestamp)> {
        let first = [self.ts.first(), self.late.first().map(|r| r.ts)]
            .into_iter()
            .flatten()
            .min()?;
        let last = [self.ts.last(), self.late.last().map(|r| r.ts)]
            .into_iter()
            .flatten()
            .max()?;
        Some((Timestamp::from_nanos(first), Timestamp::from_nanos(last)))
    }

    /// Main rows written by batches a reader with `snapshot` does not see yet, as ranges
    /// (only unsettled rows can be).
    fn hidden_main_runs(&self, snapshot: u64) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let mut start = self.settled;
        self.tail.iter().filter_map(move |&(seq, end)| {
            let run = start..end;
            start = end;
            (seq > snapshot).then_some(run)
        })
    }

    /// Rows, property values and time range of the rows a reader with `snapshot` sees. Costs
    /// O(1) plus the rows of batches still being applied.
    pub(crate) fn visible_summary(&self, snapshot: u64) -> (u64, u64, Option<(Timestamp, Timestamp)>) {
        let mut rows = self.rows() as u64;
        let mut points = self.points;
        let mut hidden = false;
        for run in self.hidden_main_runs(snapshot) {
            hidden = true;
            rows -= run.len() as u64;
            for row in run {
                points -= self.columns.iter().filter(|c| c.presence.get(row)).count() as u64;
            }
        }
        for late in self.late.iter().filter(|r| r.seq > snapshot) {
            hidden = true;
            rows -= 1;
            points -= late.values.len() as u64;
        }
        if !hidden {
            return (rows, points, self.time_range());
        }
        // Main rows are in time order and late rows sorted by time: the first and last
        // visible of each bound the range.
        let main = 0..self.ts.len();
        let first_main = main.clone().find(|&r| self.main_visible(r, snapshot));
        let last_main = main.rev().find(|&r| self.main_visible(r, snapshot));
        let first_late = self.late.iter().find(|r| r.seq <= snapshot).map(|r| r.ts);
        let last_late = self.late.iter().rev().find(|r| r.seq <= snapshot).map(|r| r.ts);
        let first = [first_main.map(|r| self.ts.get(r)), first_late]
            .into_iter()
            .flatten()
            .min();
        let last = [last_main.map(|r| self.ts.get(r)), last_late]
            .into_iter()
            .flatten()
            .max();
        let range = first
            .zip(last)
            .map(|(a, b)| (Timestamp::from_nanos(a), Timestamp::from_nanos(b)));
        (rows, points, range)
    }

    /// Forgets per-row sequence numbers of batches that every reader sees.
    pub(crate) fn settle(&mut self, min_active: u64) {
        while let Some(&(seq, end)) = self.tail.front() {
            if seq > min_active {
                break;
            }
            self.settled = end;
            self.tail.pop_front();
        }
    }

    /// Appends one row written by batch `seq`. `values` are (column, value) pairs with
    /// distinct columns.
    pub(crate) fn insert<'v>(
        &mut self,
        ts: Timestamp,
        seq: u64,
        values: impl ExactSizeIterator<Item = (ColumnId, &'v FieldValue<'v>)>,
        min_active: u64,
    ) {
        let ts = ts.as_nanos();
        self.points += values.len() as u64;
        let goes_late = self.ts.last().is_some_and(|last| {
            // Unsettled main rows carry their batch; settled ones are older than any batch
            // still being applied.
            ts < last || (ts == last && self.tail.back().is_some_and(|&(last_seq, _)| seq < last_seq))
        });
        if goes_late {
            let values: Box<[(ColumnId, Value)]> = values.map(|(c, v)| (c, v.to_value())).collect();
            // Size the column list so every column id a late row names has a slot.
            if let Some(max) = values.iter().map(|(c, _)| *c).max() {
                self.column_mut(max);
            }
            self.late_arrivals += 1;
            let row = LateRow {
                ts,
                seq,
                main_before: self.main_rows_before(ts, seq),
                arrival: self.late_arrivals,
                values,
            };
            let pos = RowPos::late(&row);
            for (c, v) in row.values.iter() {
                let slot = &mut self.latest[*c as usize];
                // A late row is the newest of a column only if no value of the column follows it.
                if slot.as_ref().is_none_or(|l| (ts, pos) > (l.ts, l.pos)) {
                    *slot = Some(Latest {
                        ts,
                        seq,
                        pos,
                        late_value: Some(v.clone()),
                    });
                }
            }
            // After rows of equal time and batch, which arrived earlier.
            let at = self.late.partition_point(|r| (r.ts, r.seq) <= (ts, seq));
            self.late.insert(at, row);
            self.maybe_merge_late(min_active);
            return;
        }
        let row = self.ts.len();
        self.ts.push(ts);
        match self.tail.back_mut() {
            Some((last, end)) if *last == seq => *end = row + 1,
            _ => self.tail.push_back((seq, row + 1)),
        }
        for (column, value) in values {
            self.column_mut(column).push(row, value);
            // Main rows only grow in the table's order, so a main value is its column's newest.
            self.latest[column as usize] = Some(Latest {
                ts,
                seq,
                pos: RowPos::main(row),
                late_value: None,
            });
        }
    }

    /// The number of main rows that come before a row `(ts, seq)` in the table's order.
    fn main_rows_before(&self, ts: i64, seq: u64) -> usize {
        let mut end = self.ts.partition_point(|t| t <= ts);
        // Main rows of time `ts` written by later batches (only unsettled rows can be) follow.
        while end > self.settled && self.ts.get(end - 1) == ts && self.main_seq(end - 1).is_some_and(|s| s > seq) {
            end -= 1;
        }
        end
    }

    /// The batch of unsettled main row `row`.
    fn main_seq(&self, row: usize) -> Option<u64> {
        if row < self.settled {
            return None;
        }
        let run = self.tail.partition_point(|&(_, end)| end <= row);
        self.tail.get(run).map(|&(seq, _)| seq)
    }

    fn column_mut(&mut self, column: ColumnId) -> &mut ColumnData {
        let index = column as usize;
        if self.columns.len() <= index {
            self.columns.resize_with(index + 1, ColumnData::default);
            self.latest.resize(index + 1, None);
        }
        &mut self.columns[index]
    }

    /// Rebuilds the main run with the late rows merged in, once the late list is long and
    /// every row involved is settled (so no reader depends on the old row positions).
    fn maybe_merge_late(&mut self, min_active: u64) {
        if self.late.len() <= LATE_MERGE_MIN + self.ts.len() / LATE_FRACTION {
            return;
        }
        self.settle(min_active);
        if !self.tail.is_empty() || self.late.iter().any(|r| r.seq > min_active) {
            return;
        }
        let old_ts = std::mem::take(&mut self.ts);
        let old_columns = std::mem::take(&mut self.columns);
        let late = std::mem::take(&mut self.late);
        let mut late = late.into_iter().peekable();
        let mut row_values: Vec<(ColumnId, FieldValue<'static>)> = Vec::new();
        let append = |table: &mut WarmTable, ts: i64, values: &[(ColumnId, FieldValue<'static>)]| {
            let row = table.ts.len();
            table.ts.push(ts);
            for (column, value) in values {
                table.column_mut(*column).push(row, value);
            }
        };
        for (row, ts) in old_ts.iter().enumerate() {
            while let Some(l) = late.next_if(|l| l.main_before <= row) {
                let values: Vec<_> = l.values.iter().map(|(c, v)| (*c, field_value(v))).collect();
                append(self, l.ts, &values);
            }
            row_values.clear();
            for (column, data) in old_columns.iter().enumerate() {
                if let Some(v) = data.value_at_row(row) {
                    row_values.push((column as ColumnId, field_value(&v)));
                }
            }
            append(self, ts, &row_values);
        }
        for l in late {
            let values: Vec<_> = l.values.iter().map(|(c, v)| (*c, field_value(v))).collect();
            append(self, l.ts, &values);
        }
        // Every merged row was settled, so the rebuilt run is too.
        self.settled = self.ts.len();
        let end = self.ts.len();
        for (c, data) in self.columns.iter().enumerate() {
            self.latest[c] = data.presence.last_before(end).map(|row| Latest {
                ts: self.ts.get(row),
                seq: 0,
                pos: RowPos::main(row),
                late_value: None,
            });
        }
    }

    /// Is main row `row` visible to a reader with snapshot `snapshot`?
    fn main_visible(&self, row: usize, snapshot: u64) -> bool {
        if row < self.settled {
            return true;
        }
        let run = self.tail.partition_point(|&(_, end)| end <= row);
        self.tail.get(run).is_none_or(|&(seq, _)| seq <= snapshot)
    }

    /// Calls `visit` for each visible row in `range` that has a value in one of `columns`
    /// (all columns when `None`), in the table's order (see [`RowPos`]; reversed when
    /// descending), with that row's values. Stops when `visit` breaks.
    pub(crate) fn scan(
        &self,
        range: ScanRange,
        columns: Option<&[ColumnId]>,
        snapshot: u64,
        mut visit: impl FnMut(Timestamp, &[(ColumnId, Value)]) -> ControlFlow<()>,
    ) {
        let lo = self.ts.partition_point(|t| t < range.from);
        let hi = self.ts.partition_point(|t| t < range.to);
        let late_lo = self.late.partition_point(|r| r.ts < range.from);
        let late_hi = self.late.partition_point(|r| r.ts < range.to);
        let wanted: Vec<ColumnId> = match columns {
            Some(cols) => cols
                .iter()
                .copied()
                .filter(|&c| (c as usize) < self.columns.len())
                .collect(),
            None => (0..self.columns.len() as ColumnId).collect(),
        };
        let mut row_values: Vec<(ColumnId, Value)> = Vec::with_capacity(wanted.len());
        let emit_main = |row: usize, out: &mut Vec<(ColumnId, Value)>| {
            out.clear();
            if !self.main_visible(row, snapshot) {
                return false;
            }
            for &c in &wanted {
                if let Some(v) = self.columns[c as usize].value_at_row(row) {
                    out.push((c, v));
                }
            }
            !out.is_empty()
        };
        let emit_late = |i: usize, out: &mut Vec<(ColumnId, Value)>| {
            out.clear();
            let row = &self.late[i];
            if row.seq > snapshot {
                return false;
            }
            out.extend(row.values.iter().filter(|(c, _)| wanted.contains(c)).cloned());
            !out.is_empty()
        };
        let (mut m, mut l) = if range.descending { (hi, late_hi) } else { (lo, late_lo) };
        loop {
            // Pick the next row in the requested order from the two sorted sources.
            let next = if range.descending {
                match (m > lo, l > late_lo) {
                    (false, false) => break,
                    (true, false) => Source::Main(m - 1),
                    (false, true) => Source::Late(l - 1),
                    // The late row follows main row m - 1: it comes first.
                    (true, true) if self.late[l - 1].main_before >= m => Source::Late(l - 1),
                    (true, true) => Source::Main(m - 1),
                }
            } else {
                match (m < hi, l < late_hi) {
                    (false, false) => break,
                    (true, false) => Source::Main(m),
                    (false, true) => Source::Late(l),
                    // The late row precedes main row m.
                    (true, true) if self.late[l].main_before <= m => Source::Late(l),
                    (true, true) => Source::Main(m),
                }
            };
            let (ts, has_values) = match next {
                Source::Main(row) => {
                    if range.descending {
                        m -= 1
                    } else {
                        m += 1
                    }
                    (self.ts.get(row), emit_main(row, &mut row_values))
                }
                Source::Late(i) => {
                    if range.descending {
                        l -= 1
                    } else {
                        l += 1
                    }
                    (self.late[i].ts, emit_late(i, &mut row_values))
                }
            };
            if has_values && visit(Timestamp::from_nanos(ts), &row_values).is_break() {
                break;
            }
        }
    }

    /// Calls `visit(time, place, value)` for each visible value of numeric `column` with a
    /// time in `[from, to)`, main rows first, then late rows (the place orders them). Reads
    /// the column directly, without building rows: the aggregation path.
    pub(crate) fn fold_numeric(
        &self,
        from: i64,
        to: i64,
        column: ColumnId,
        snapshot: u64,
        mut visit: impl FnMut(i64, RowPos, f64),
    ) {
        let Some(data) = self.columns.get(column as usize) else {
            return;
        };
        let lo = self.ts.partition_point(|t| t < from);
        let hi = self.ts.partition_point(|t| t < to);
        self.fold_main_rows(data, lo..hi, snapshot, &mut visit);
        self.fold_late_rows(from, to, column, snapshot, visit);
    }

    /// [`WarmTable::fold_numeric`], with the settled main rows at the start of the range
    /// handed to `slices(times, values)` in runs instead of one by one, when the column is
    /// a Double with a value in every one of them: the usual case of a feed (a property in
    /// every record, rows settled once no reader holds an older snapshot). The other values
    /// go to `visit`, after the runs, in the same order as `fold_numeric`'s.
    pub(crate) fn fold_numeric_slices(
        &self,
        from: i64,
        to: i64,
        column: ColumnId,
        snapshot: u64,
        mut slices: impl FnMut(&[i64], &[f64]),
        mut visit: impl FnMut(i64, RowPos, f64),
    ) {
        let Some(data) = self.columns.get(column as usize) else {
            return;
        };
        let lo = self.ts.partition_point(|t| t < from);
        let hi = self.ts.partition_point(|t| t < to);
        let settled_end = hi.min(self.settled).max(lo);
        let first = data.presence.rank(lo);
        let dense = data.presence.rank(settled_end) - first == settled_end - lo;
        let mut rest = lo..hi;
        if dense && let Some(values) = data.double_slices(first..first + (settled_end - lo)) {
            zip_slices(self.ts.slices(lo..settled_end), values, &mut slices);
            rest.start = settled_end;
        }
        self.fold_main_rows(data, rest, snapshot, &mut visit);
        self.fold_late_rows(from, to, column, snapshot, visit);
    }

    /// `fold_numeric`'s visits of the visible main rows `rows` of `data`.
    fn fold_main_rows(
        &self,
        data: &ColumnData,
        rows: Range<usize>,
        snapshot: u64,
        visit: &mut impl FnMut(i64, RowPos, f64),
    ) {
        let mut rank = if rows.start < rows.end {
            data.presence.rank(rows.start)
        } else {
            0
        };
        for row in rows {
            if !data.presence.get(row) {
                continue;
            }
            let index = rank;
            rank += 1;
            if row >= self.settled && !self.main_visible(row, snapshot) {
                continue;
            }
            if let Some(v) = data.numeric(index) {
                visit(self.ts.get(row), RowPos::main(row), v);
            }
        }
    }

    /// `fold_numeric`'s visits of the visible late rows in `[from, to)` with a value of
    /// `column`.
    fn fold_late_rows(
        &self,
        from: i64,
        to: i64,
        column: ColumnId,
        snapshot: u64,
        mut visit: impl FnMut(i64, RowPos, f64),
    ) {
        let late_lo = self.late.partition_point(|r| r.ts < from);
        let late_hi = self.late.partition_point(|r| r.ts < to);
        for row in &self.late[late_lo..late_hi] {
            if row.seq > snapshot {
                continue;
            }
            if let Some((_, v)) = row.values.iter().find(|(c, _)| *c == column)
                && let Some(v) = v.as_f64()
            {
                visit(row.ts, RowPos::late(row), v);
            }
        }
    }

    /// Whether any row has a time in `[from, to)`.
    pub(crate) fn has_rows_in(&self, from: i64, to: i64) -> bool {
        self.ts.partition_point(|t| t < from) < self.ts.partition_point(|t| t < to)
            || self.late.partition_point(|r| r.ts < from) < self.late.partition_point(|r| r.ts < to)
    }

    /// Every row with a time in `[from, to)` and at least one value, in order (what a
    /// flush writes of one time partition).
    pub(crate) fn rows_in(&self, from: i64, to: i64) -> Vec<(i64, Vec<(ColumnId, Value)>)> {
        let mut out = Vec::new();
        let range = ScanRange {
            from,
            to,
            descending: false,
        };
        self.scan(range, None, u64::MAX, |ts, values| {
            out.push((ts.as_nanos(), values.to_vec()));
            ControlFlow::Continue(())
        });
        out
    }

    /// For each column, its last visible value at or before `at`, with the value's time and
    /// position (which orders values of equal time by arrival).
    pub(crate) fn last_values(&self, at: Timestamp, snapshot: u64) -> Vec<Option<(Timestamp, RowPos, Value)>> {
        let at = at.as_nanos();
        let mut out: Vec<Option<(Timestamp, RowPos, Value)>> = vec![None; self.columns.len()];
        let end = self.ts.partition_point(|t| t <= at);
        for (c, data) in self.columns.iter().enumerate() {
            let mut below = end;
            while let Some(row) = data.presence.last_before(below) {
                if self.main_visible(row, snapshot) {
                    let v = data.value(data.presence.rank(row));
                    out[c] = Some((Timestamp::from_nanos(self.ts.get(row)), RowPos::main(row), v));
                    break;
                }
                below = row;
            }
        }
        let late_end = self.late.partition_point(|r| r.ts <= at);
        for i in (0..late_end).rev() {
            let row = &self.late[i];
            if row.seq > snapshot {
                continue;
            }
            for (c, v) in row.values.iter() {
                let slot = &mut out[*c as usize];
                let key = (Timestamp::from_nanos(row.ts), RowPos::late(row));
                if slot.as_ref().is_none_or(|(t, p, _)| (*t, *p) < key) {
                    *slot = Some((key.0, key.1, v.clone()));
                }
            }
        }
        out
    }

    /// For each column its newest value, like `last_values(Timestamp::MAX, snapshot)` but
    /// from the cache kept on insert; `None` when a newest value belongs to a batch the
    /// snapshot does not see (then use `last_values`).
    pub(crate) fn latest_values(&self, snapshot: u64) -> Option<Vec<Option<(Timestamp, RowPos, Value)>>> {
        if self.latest.iter().flatten().any(|l| l.seq > snapshot) {
            return None;
        }
        let out = self
            .latest
            .iter()
            .enumerate()
            .map(|(c, slot)| {
                let l = slot.as_ref()?;
                let value = match &l.late_value {
                    Some(value) => value.clone(),
                    None => {
                        let data = &self.columns[c];
                        data.value(data.presence.rank(l.pos.gap))
                    }
                };
                Some((Timestamp::from_nanos(l.ts), l.pos, value))
            })
            .collect();
        Some(out)
    }

    /// Per column: how many values a reader with `snapshot` sees.
    pub(crate) fn column_counts(&self, snapshot: u64) -> Vec<u64> {
        let mut counts: Vec<u64> = self.columns.iter().map(|c| c.presence.count() as u64).collect();
        for run in self.hidden_main_runs(snapshot) {
            for row in run {
                for (c, data) in self.columns.iter().enumerate() {
                    if data.presence.get(row) {
                        counts[c] -= 1;
                    }
                }
            }
        }
        for row in self.late.iter().filter(|r| r.seq <= snapshot) {
            for (c, _) in row.values.iter() {
                counts[*c as usize] += 1;
            }
        }
        counts
    }

    /// Heap bytes used, for memory accounting.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.ts.heap_bytes()
            + self.tail.capacity() * 16
            + self.columns.capacity() * std::mem::size_of::<ColumnData>()
            + self.columns.iter().map(ColumnData::heap_bytes).sum::<usize>()
            + self
                .late
                .iter()
                .map(|r| std::mem::size_of::<LateRow>() + r.values.len() * std::mem::size_of::<(ColumnId, Value)>())
                .sum::<usize>()
    }
}

/// Calls `f` with equal-length pieces of two sequences of slices holding the same number of
/// elements in all (each cut where either sequence's slice ends), in order.
fn zip_slices<'a, A: 'a, B: 'a>(
    mut a: impl Iterator<Item = &'a [A]>,
    mut b: impl Iterator<Item = &'a [B]>,
    f: &mut impl FnMut(&[A], &[B]),
) {
    let (mut x, mut y): (&[A], &[B]) = (&[], &[]);
    loop {
        if x.is_empty() {
            match a.next() {
                Some(next) => x = next,
                None => return,
            }
        }
        if y.is_empty() {
            match b.next() {
                Some(next) => y = next,
                None => return,
            }
        }
        let n = x.len().min(y.len());
        f(&x[..n], &y[..n]);
        x = &x[n..];
        y = &y[n..];
    }
}

/// Borrows a stored value as a field value (for re-appending during a merge).
fn field_value(value: &Value) -> FieldValue<'static> {
    match value {
        Value::Double(v) => FieldValue::Double(*v),
        Value::Long(v) => FieldValue::Long(*v),
        Value::Bool(v) => FieldValue::Bool(*v),
        Value::String(s) => FieldValue::Str(s.to_string().into()),
        Value::DateTime(t) => FieldValue::DateTime(*t),
        Value::Dynamic(s) => FieldValue::Dynamic(s.to_string().into()),
        Value::Removed => FieldValue::Removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(n: i64) -> Timestamp {
        Timestamp::from_nanos(n)
    }

    fn insert(table: &mut WarmTable, t: i64, seq: u64, v: i64, min_active: u64) {
        let value = FieldValue::Long(v);
        table.insert(ts(t), seq, [(0, &value)].into_iter(), min_active);
    }

    fn scan_all(table: &WarmTable, snapshot: u64, descending: bool) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let range = ScanRange {
            from: i64::MIN,
            to: i64::MAX,
            descending,
        };
        table.scan(range, None, snapshot, |t, values| {
            if let [(_, Value::Long(v))] = values {
                out.push((t.as_nanos(), *v));
            }
            ControlFlow::Continue(())
        });
        out
    }

    /// What `fold_numeric_slices` hands over: (sliced (time, value)s, one-by-one ones).
    type Folded = (Vec<(i64, f64)>, Vec<(i64, f64)>);

    fn fold_in_slices(table: &WarmTable, from: i64, to: i64, column: ColumnId, snapshot: u64) -> Folded {
        let (mut sliced, mut single) = (Vec::new(), Vec::new());
        table.fold_numeric_slices(
            from,
            to,
            column,
            snapshot,
            |t, v| sliced.extend(t.iter().copied().zip(v.iter().copied())),
            |t, _, v| single.push((t, v)),
        );
        (sliced, single)
    }

    #[test]
    fn settled_rows_of_a_dense_double_column_fold_in_slices_and_the_rest_one_by_one() {
        let mut table = WarmTable::default();
        let double = |table: &mut WarmTable, t: i64, seq: u64, v: f64, min_active: u64| {
            let value = FieldValue::Double(v);
            table.insert(ts(t), seq, [(0, &value)].into_iter(), min_active);
        };
        // Batch 1: 1,000 rows at 0, 10, ..., settled; batch 2: three more rows, unsettled,
        // and a late row at 5.
        for i in 0..1000 {
            double(&mut table, i * 10, 1, i as f64, 0);
        }
        table.settle(1);
        for i in 1000..1003 {
            double(&mut table, i * 10, 2, i as f64, 1);
        }
        double(&mut table, 5, 2, -1.0, 1);
        let batch_1: Vec<(i64, f64)> = (0..1000).map(|i| (i * 10, i as f64)).collect();
        let (sliced, single) = fold_in_slices(&table, 0, 20_000, 0, 2);
        assert_eq!(sliced, batch_1);
        assert_eq!(
            single,
            [(10_000, 1000.0), (10_010, 1001.0), (10_020, 1002.0), (5, -1.0)]
        );
        // A snapshot before batch 2 sees none of it.
        assert_eq!(fold_in_slices(&table, 0, 20_000, 0, 1), (batch_1, Vec::new()));
        // A range inside batch 1, and one starting in it and ending past it.
        assert_eq!(
            fold_in_slices(&table, 95, 200, 0, 2),
            ((10..20).map(|i| (i * 10, i as f64)).collect(), Vec::new())
        );
        let (sliced, single) = fold_in_slices(&table, 9_985, 10_015, 0, 2);
        assert_eq!(
            (sliced, single),
            (vec![(9_990, 999.0)], vec![(10_000, 1000.0), (10_010, 1001.0)])
        );

        // A column without a value in every row, and a Long column: one by one.
        let mut table = WarmTable::default();
        for i in 0..100i64 {
            let (d, l) = (FieldValue::Double(i as f64), FieldValue::Long(i));
            let values: Vec<(ColumnId, &FieldValue<'_>)> = if i % 2 == 0 {
                vec![(0, &d), (1, &l)]
            } else {
                vec![(1, &l)]
            };
            table.insert(ts(i), 1, values.into_iter(), 0);
        }
        table.settle(1);
        let (sliced, single) = fold_in_slices(&table, 0, 100, 0, 1);
        assert!(sliced.is_empty());
        assert_eq!(single, (0..100).step_by(2).map(|i| (i, i as f64)).collect::<Vec<_>>());
        let (sliced, single) = fold_in_slices(&table, 0, 100, 1, 1);
        assert!(sliced.is_empty());
        assert_eq!(single, (0..100).map(|i| (i, i as f64)).collect::<Vec<_>>());
    }

    #[test]
    fn late_rows_merge_in_time_then_arrival_order() {
        let mut table = WarmTable::default();
        // Arrival order: values 0..n; times go backwards every third row, with ties.
        let mut expected = Vec::new();
        for i in 0..2000i64 {
            let t = if i % 3 == 0 { (i / 2) * 10 } else { i * 10 };
            insert(&mut table, t, 1, i, 1);
            expected.push((t, i));
        }
        // Stable sort by time keeps arrival order among equal times.
        expected.sort_by_key(|&(t, _)| t);
        assert_eq!(scan_all(&table, 1, false), expected);
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(scan_all(&table, 1, true), reversed);
        assert!(table.late.len() < 2000, "late rows were merged into the main run");
    }

    #[test]
    fn rows_of_unpublished_batches_are_invisible_to_older_snapshots() {
        let mut table = WarmTable::default();
        insert(&mut table, 10, 1, 1, 0);
        insert(&mut table, 20, 2, 2, 0);
        insert(&mut table, 5, 3, 3, 0); // late row of batch 3
        assert_eq!(scan_all(&table, 1, false), vec![(10, 1)]);
        assert_eq!(scan_all(&table, 2, false), vec![(10, 1), (20, 2)]);
        assert_eq!(scan_all(&table, 3, false), vec![(5, 3), (10, 1), (20, 2)]);
        // Once every reader sees batch 2, its rows settle and stay visible.
        table.settle(2);
        assert_eq!(scan_all(&table, 2, false), vec![(10, 1), (20, 2)]);
        let last = table.last_values(ts(i64::MAX), 2);
        assert_eq!(
            last[0].as_ref().map(|(t, _, v)| (t.as_nanos(), v.clone())),
            Some((20, Value::Long(2)))
        );
        let at = table.last_values(ts(7), 3);
        assert_eq!(
            at[0].as_ref().map(|(t, _, v)| (t.as_nanos(), v.clone())),
            Some((5, Value::Long(3)))
        );
    }

    #[test]
    fn the_latest_cache_agrees_with_a_search() {
        let mut table = WarmTable::default();
        // Two columns, sparse, with late rows that are newer than a column's last main value.
        for i in 0..3000i64 {
            let t = if i % 5 == 0 { i * 10 - 35 } else { i * 10 };
            let a = FieldValue::Long(i);
            let b = FieldValue::Double(i as f64);
            let values: Vec<(ColumnId, &FieldValue<'_>)> = match i % 3 {
                0 => vec![(0, &a)],
                1 => vec![(1, &b)],
                _ => vec![(0, &a), (1, &b)],
            };
            table.insert(ts(t), 1, values.into_iter(), 1);
            let cached: Vec<_> = table
                .latest_values(1)
                .unwrap()
                .into_iter()
                .map(|s| s.map(|(t, _, v)| (t, v)))
                .collect();
            let searched: Vec<_> = table
                .last_values(Timestamp::MAX, 1)
                .into_iter()
                .map(|s| s.map(|(t, _, v)| (t, v)))
                .collect();
            assert_eq!(cached, searched, "after row {i}");
        }
        assert!(table.late.len() < 600, "the late rows were merged at least once");
        // A newer, unpublished batch sends readers of older snapshots to the search.
        insert(&mut table, 1_000_000, 2, 7, 1);
        assert!(table.latest_values(1).is_none());
        assert!(table.latest_values(2).is_some());
    }

    /// Batches applied out of sequence order (concurrent writers) still end up ordered by
    /// (time, batch, place in batch), the order a replay produces.
    #[test]
    fn rows_of_equal_time_are_ordered_by_batch_not_by_arrival() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for round in 0..40 {
            let mut table = WarmTable::default();
            let mut model: Vec<(i64, u64, usize, i64)> = Vec::new();
            // Batches 1..=60 applied in an order where each is at most 3 places off.
            let mut order: Vec<u64> = (1..=60).collect();
            for i in 0..order.len() {
                let j = (i + next(3) as usize).min(order.len() - 1);
                order.swap(i, j);
            }
            let mut value = 0;
            let mut applied = std::collections::BTreeSet::new();
            for &seq in &order {
                // Readers see (and rows settle up to) the longest applied prefix of batches.
                let min_active = (1..).take_while(|s| applied.contains(s)).last().unwrap_or(0);
                for place in 0..1 + next(4) as usize {
                    let t = 100 + next(if round % 2 == 0 { 4 } else { 40 }) as i64 * 10;
                    insert(&mut table, t, seq, value, min_active);
                    model.push((t, seq, place, value));
                    value += 1;
                }
                applied.insert(seq);
            }
            model.sort_unstable();
            let expected: Vec<(i64, i64)> = model.iter().map(|&(t, _, _, v)| (t, v)).collect();
            assert_eq!(scan_all(&table, 60, false), expected, "round {round}");
            let mut reversed = expected.clone();
            reversed.reverse();
            assert_eq!(scan_all(&table, 60, true), reversed, "round {round}");
            let newest = expected.last().map(|&(_, v)| Value::Long(v));
            let cached = table.latest_values(60).unwrap();
            assert_eq!(cached[0].as_ref().map(|(_, _, v)| v.clone()), newest, "round {round}");
            let searched = table.last_values(Timestamp::MAX, 60);
            assert_eq!(searched[0].as_ref().map(|(_, _, v)| v.clone()), newest, "round {round}");
            for at in [100, 130, 250] {
                let want = expected
                    .iter()
                    .rev()
                    .find(|&&(t, _)| t <= at)
                    .map(|&(_, v)| Value::Long(v));
                let got = table.last_values(ts(at), 60);
                assert_eq!(
                    got[0].as_ref().map(|(_, _, v)| v.clone()),
                    want,
                    "round {round} at {at}"
                );
            }
        }
    }

    #[test]
    fn equal_times_prefer_the_later_arrival_for_last_values() {
        let mut table = WarmTable::default();
        insert(&mut table, 10, 1, 1, 1);
        insert(&mut table, 30, 1, 2, 1);
        insert(&mut table, 10, 1, 3, 1); // late, same time as the first row, arrived later
        let at = table.last_values(ts(15), 1);
        assert_eq!(at[0].as_ref().map(|(_, _, v)| v.clone()), Some(Value::Long(3)));
    }
}
