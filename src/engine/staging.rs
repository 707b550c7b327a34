//! Write-optimised staging: the rows of recent write calls, kept as they arrived and moved
//! into the per-twin warm tables in bulk.
//!
//! Inserting a call's rows straight into the tables visits every twin the call names. A live
//! feed of thousands of twins sends a few rows per twin per call, so each visit brings a
//! twin's table, columns and chunks into cache for a handful of rows: those cache misses were
//! most of a write's cost. Staged, the rows of several calls are folded together, sorted by
//! twin, with one visit per twin for all of them.
//!
//! Staged rows are durable (their WAL frame was appended first) and visible: a reader folds
//! the staging after it takes its snapshot and before it reads a table, and a flush folds it
//! before it swaps the tables out, so nothing can tell staged rows from inserted ones.
//! Staging happens under the writers' gate; a batch is published only once its rows are
//! staged, so a snapshot that includes a batch finds its rows staged or already folded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::model::{ColumnId, FieldValue, Timestamp, TwinId};
use crate::read::Twin;

/// Staged records past which the fold thread is woken to fold them: a few calls of
/// a large feed, so each twin's rows are folded several at a time, and a reader that folds
/// on arrival waits a fraction of a millisecond.
pub(super) const FOLD_WAKE: usize = 16_384;

/// Staged records past which a writer folds them itself: the folding thread is behind.
pub(super) const FOLD_RECORDS: usize = 8 * FOLD_WAKE;

/// The rows of one write call, in input order.
#[derive(Default)]
pub(super) struct StagedCall {
    /// The call's batch (WAL frame) sequence number.
    pub seq: u64,
    /// The call's twins, by slot.
    pub twins: Vec<Arc<Twin>>,
    /// Per record: its twin slot, its time and the end of its values in `columns`/`values`
    /// (a call's values fit in u32: its WAL frame, at least a byte per value, is capped at
    /// 1 GiB).
    pub slots: Vec<u32>,
    pub ts: Vec<Timestamp>,
    pub ends: Vec<u32>,
    /// Per value: its column and the value (owned: the caller's input is gone by the fold).
    pub columns: Vec<ColumnId>,
    pub values: Vec<FieldValue<'static>>,
}

impl StagedCall {
    fn records(&self) -> usize {
        self.slots.len()
    }

    /// Empties the call, keeping its buffers' capacity.
    fn clear(&mut self) {
        self.twins.clear();
        self.slots.clear();
        self.ts.clear();
        self.ends.clear();
        self.columns.clear();
        self.values.clear();
    }

    /// The values of record `r`.
    fn values_of<'s>(&'s self, r: usize) -> impl ExactSizeIterator<Item = (ColumnId, &'s FieldValue<'s>)> {
        let start = if r == 0 { 0 } else { self.ends[r - 1] as usize };
        let end = self.ends[r] as usize;
        self.columns[start..end]
            .iter()
            .copied()
            .zip(&self.values[start..end])
            .map(
                |(column, value): (ColumnId, &'s FieldValue<'static>)| -> (ColumnId, &'s FieldValue<'s>) {
                    (column, value)
                },
            )
    }
}

/// Calls whose buffers are kept for reuse after a fold. Fresh buffers of a few hundred
/// kilobytes per call cost more in page faults (the allocator returns freed memory to the
/// system, and the kernel zeroes it again on the next touch) than filling them does.
const SPARE_CALLS: usize = 8;

/// Calls staged and not yet taken by a fold, and spare calls.
#[derive(Default)]
struct Queue {
    calls: Vec<StagedCall>,
    spare: Vec<StagedCall>,
}

/// The fold's sort buffers, kept for the same reason as the spare calls.
#[derive(Default)]
struct SortBuffers {
    starts: Vec<usize>,
    order: Vec<(u32, u32)>,
}

/// The staged calls of a store.
///
/// Writers only touch the queue, briefly, so a fold (on the flush lane's thread, a reader's
/// or a writer's) never holds a writer back. A fold holds `folding` from taking the queued
/// calls until their rows are in the tables, and `records` counts them until then: a reader
/// that finds rows staged waits for a fold in progress, then folds what is left.
#[derive(Default)]
pub(super) struct Staging {
    queue: Mutex<Queue>,
    folding: Mutex<SortBuffers>,
    /// Records staged and not yet in the tables (read without a lock to skip an empty
    /// staging).
    records: AtomicUsize,
}

impl Staging {
    /// An empty call to fill, with buffers from an earlier one when there is one.
    pub(super) fn empty_call(&self) -> StagedCall {
        self.queue.lock().spare.pop().unwrap_or_default()
    }

    /// Stages a call's rows; returns the records now staged.
    pub(super) fn stage(&self, call: StagedCall) -> usize {
        let records = call.records();
        // Counted before the call is queued, under the queue's lock: a fold takes the call
        // (and subtracts its records) only after, so the count never goes below zero. (It
        // did when the count came after the push: a fold in between wrapped it around.)
        let mut queue = self.queue.lock();
        let staged = self.records.fetch_add(records, Ordering::AcqRel) + records;
        queue.calls.push(call);
        staged
    }

    /// Records staged and not yet in the tables.
    pub(super) fn records(&self) -> usize {
        self.records.load(Ordering::Acquire)
    }

    /// Moves every staged row into its twin's table. `min_active` gives the oldest snapshot
    /// a reader holds (see `WarmTable::insert`).
    pub(super) fn fold(&self, min_active: impl FnOnce() -> u64) {
        if self.records() == 0 {
            return;
        }
        let mut buffers = self.folding.lock();
        let mut calls = std::mem::take(&mut self.queue.lock().calls);
        if calls.is_empty() {
            return;
        }
        let records: usize = calls.iter().map(StagedCall::records).sum();
        let min_active = min_active();
        // Concurrent writers may stage out of sequence order; a twin's rows are inserted in
        // batch order, as direct inserts would have been.
        calls.sort_by_key(|c| c.seq);
        let SortBuffers { starts, order } = &mut *buffers;
        sort_by_twin(&calls, starts, order);
        insert_rows(&calls, starts, order, min_active);
        self.records.fetch_sub(records, Ordering::AcqRel);
        drop(buffers);
        let mut queue = self.queue.lock();
        for mut call in calls {
            if queue.spare.len() < SPARE_CALLS {
                call.clear();
                queue.spare.push(call);
            }
        }
    }
}

/// Sorts every staged record by twin id (a counting sort, stable, so each twin's rows keep
/// their batch and input order): `order[starts[id]..starts[id + 1]]` are twin `id`'s
/// records, as (call, record) indexes.
fn sort_by_twin(calls: &[StagedCall], starts: &mut Vec<usize>, order: &mut Vec<(u32, u32)>) {
    // Twin id of each slot of each call: the sort then reads small arrays, not the twins.
    let ids: Vec<Vec<TwinId>> = calls.iter().map(|c| c.twins.iter().map(|t| t.id).collect()).collect();
    let max_id = ids.iter().flatten().max().copied().unwrap_or(0) as usize;
    starts.clear();
    starts.resize(max_id + 2, 0);
    for (call, ids) in calls.iter().zip(&ids) {
        for &slot in &call.slots {
            starts[ids[slot as usize] as usize + 1] += 1;
        }
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut cursor = starts[..=max_id].to_vec();
    order.clear();
    order.resize(starts[max_id + 1], (0, 0));
    for (c, (call, ids)) in calls.iter().zip(&ids).enumerate() {
        for (r, &slot) in call.slots.iter().enumerate() {
            let at = &mut cursor[ids[slot as usize] as usize];
            order[*at] = (c as u32, r as u32);
            *at += 1;
        }
    }
}

/// Inserts the sorted rows, one twin (one table lock) at a time.
fn insert_rows(calls: &[StagedCall], starts: &[usize], order: &[(u32, u32)], min_active: u64) {
    for bounds in starts.windows(2) {
        let rows = &order[bounds[0]..bounds[1]];
        let Some(&(c, r)) = rows.first() else { continue };
        let first = &calls[c as usize];
        let twin = &first.twins[first.slots[r as usize] as usize];
        let mut table = twin.data.table.write();
        table.settle(min_active);
        for &(c, r) in rows {
            let call = &calls[c as usize];
            let r = r as usize;
            table.insert(call.ts[r], call.seq, call.values_of(r), min_active);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    /// A call of (slot, time, value) rows, one Long column.
    fn call(seq: u64, twins: &[Arc<Twin>], rows: &[(u32, i64, i64)]) -> StagedCall {
        let mut call = StagedCall {
            seq,
            twins: twins.to_vec(),
            ..StagedCall::default()
        };
        for &(slot, t, v) in rows {
            call.slots.push(slot);
            call.ts.push(Timestamp::from_nanos(t));
            call.columns.push(0);
            call.values.push(FieldValue::Long(v));
            call.ends.push(call.values.len() as u32);
        }
        call
    }

    fn values(twin: &Twin) -> Vec<(i64, i64)> {
        twin.data
            .table
            .read()
            .rows_in(i64::MIN, i64::MAX)
            .into_iter()
            .map(|(t, values)| match values.as_slice() {
                [(0, Value::Long(v))] => (t, *v),
                other => panic!("unexpected row {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_fold_inserts_each_twins_rows_in_batch_order_then_input_order() {
        let catalog = super::super::Catalog::default();
        let (a, b) = (catalog.get_or_create("a"), catalog.get_or_create("b"));
        let staging = Staging::default();
        // Batch 2 staged before batch 1, as two concurrent writers may.
        staging.stage(call(2, &[a.clone(), b.clone()], &[(0, 5, 20), (1, 1, 21), (0, 5, 22)]));
        let staged = staging.stage(call(1, &[b.clone(), a.clone()], &[(1, 5, 10), (0, 1, 11)]));
        assert_eq!(staged, 5);
        assert!(values(&a).is_empty(), "nothing reaches a table before the fold");
        staging.fold(|| 0);
        assert_eq!(values(&a), vec![(5, 10), (5, 20), (5, 22)]);
        assert_eq!(values(&b), vec![(1, 11), (1, 21)]);
        // Folded once: a second fold adds nothing, and the calls' buffers are reused.
        staging.fold(|| 0);
        assert_eq!(values(&a).len(), 3);
        assert!(staging.empty_call().ts.capacity() >= 2);
    }
}
