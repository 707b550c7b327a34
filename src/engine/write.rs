//! The write path: parsed batch -> catalog ids -> one WAL frame -> warm tier -> visible.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use foldhash::{HashMap, HashSet};

use super::Catalog;
use super::metrics::Counters;
use super::snapshot::PublishOnDrop;
use super::staging::StagedCall;
use super::{IngestReport, Inner, Options};
use crate::error::RecordError;
use crate::error::{Error, Result};
use crate::ingest::{InputFormat, ParsedBatch, ParsedRecord, parse_adt_lines, parse_flat_lines};
use crate::model::{ColumnId, FieldValue, Timestamp, TwinId, ValueType};
use crate::read::Twin;
use crate::wal::FRAME_HEADER_LEN;
use crate::wal::codec::{BatchEncoder, Definition, decode_batch};

/// Parses one piece of NDJSON input.
pub(super) fn parse_input<'a>(
    options: &Options,
    format: InputFormat,
    input: &'a [u8],
    first_line: u64,
) -> ParsedBatch<'a> {
    let mut batch = ParsedBatch::default();
    match format {
        InputFormat::Flat => {
            let settings = crate::ingest::flat::FlatSettings {
                limits: &options.limits,
                timestamp_property: &options.timestamp_property,
                infer_datetime: options.infer_datetime,
            };
            parse_flat_lines(input, first_line, &settings, &mut batch);
        }
        InputFormat::Adt => {
            let settings = crate::ingest::AdtSettings {
                limits: &options.limits,
                infer_datetime: options.infer_datetime,
                big_integer: false,
            };
            parse_adt_lines(input, first_line, &settings, &mut batch);
        }
    }
    batch
}

/// Catalog definitions a batch carries, remembered so they can be marked logged once the
/// frame is appended.
#[derive(Default)]
struct NewDefinitions {
    twins: HashSet<TwinId>,
    columns: HashSet<(TwinId, ColumnId)>,
    column_entries: Vec<(Arc<Twin>, ColumnId)>,
    models: Vec<(Arc<Twin>, Arc<str>)>,
    /// The last model in `models` of each twin.
    last_model: HashMap<TwinId, Arc<str>>,
    entries: Vec<Arc<Twin>>,
}

impl NewDefinitions {
    fn any(&self) -> bool {
        !(self.entries.is_empty() && self.column_entries.is_empty() && self.models.is_empty())
    }
}

/// Below this many records a write call encodes on the calling thread alone.
const PARALLEL_MIN_RECORDS: usize = 20_000;

/// The records of one write call, each assigned to a twin slot and a partition.
///
/// Records are processed in input order: the parsed batch is read sequentially, while the
/// per-twin structures (a few cache lines per twin) are what is accessed at random. A
/// partition owns a disjoint set of twins, so partitions encode in parallel.
struct Plan<'p, 'a> {
    batches: &'p [ParsedBatch<'a>],
    /// The call's distinct twins, in order of first appearance.
    twins: Vec<Arc<Twin>>,
    /// Twin slot of each record, in input order (batch by batch).
    slots: Vec<u32>,
    /// Fields per twin slot in the call: a bound on the properties the call may add.
    fields: Vec<usize>,
    parts: usize,
}

impl<'p, 'a> Plan<'p, 'a> {
    fn new(catalog: &Catalog, batches: &'p [ParsedBatch<'a>], total: usize, parts: usize) -> Self {
        // Sized up front: a call of interleaved twins may name thousands of them.
        let mut slot_by_name: HashMap<&str, u32> =
            HashMap::with_capacity_and_hasher(total.min(1 << 16), Default::default());
        let mut twins: Vec<Arc<Twin>> = Vec::new();
        let mut slots: Vec<u32> = Vec::with_capacity(total);
        let mut fields: Vec<usize> = Vec::new();
        let mut last: Option<(&str, u32)> = None;
        for batch in batches {
            for record in &batch.records {
                let name = record.twin.as_ref();
                let slot = match last {
                    Some((n, s)) if n == name => s,
                    _ => *slot_by_name.entry(name).or_insert_with(|| {
                        twins.push(catalog.get_or_create(name));
                        fields.push(0);
                        (twins.len() - 1) as u32
                    }),
                };
                last = Some((name, slot));
                slots.push(slot);
                fields[slot as usize] += record.fields.len();
            }
        }
        Plan {
            batches,
            twins,
            slots,
            fields,
            parts: parts.max(1),
        }
    }

    /// The records that would give their twin more than `limit` properties (distinct name
    /// and type), as (batch, record) indexes with the error; records are taken in input
    /// order, so the first ones within the limit are kept. Empty (after one lock per twin)
    /// unless a twin of the call comes near the limit.
    fn over_property_limit(&self, limit: usize) -> Vec<(usize, usize, RecordError)> {
        let near: Vec<bool> = self
            .twins
            .iter()
            .zip(&self.fields)
            .map(|(entry, fields)| entry.meta.lock().column_count() + fields > limit)
            .collect();
        if !near.contains(&true) {
            return Vec::new();
        }
        let mut added: HashMap<u32, HashSet<(&str, ValueType)>> = HashMap::default();
        let mut over = Vec::new();
        let mut slots = self.slots.iter();
        for (b, batch) in self.batches.iter().enumerate() {
            for (r, record) in batch.records.iter().enumerate() {
                let Some(&slot) = slots.next() else { break };
                if !near[slot as usize] {
                    continue;
                }
                let entry = &self.twins[slot as usize];
                let meta = entry.meta.lock();
                let added = added.entry(slot).or_default();
                let mut new: Vec<(&str, ValueType)> = batch
                    .fields_of(record)
                    .iter()
                    .map(|(name, value)| (name.as_ref(), value.value_type()))
                    .filter(|&(name, ty)| meta.find(name, ty).is_none() && !added.contains(&(name, ty)))
                    .collect();
                new.sort_unstable();
                new.dedup();
                if meta.column_count() + added.len() + new.len() > limit {
                    over.push((
                        b,
                        r,
                        RecordError {
                            line: record.line,
                            twin: Some(entry.name.to_string()),
                            field: new.first().map(|(name, _)| name.to_string()),
                            reason: format!(
                                "the twin would have more than {limit} properties (Limits::max_properties_per_twin)"
                            ),
                        },
                    ));
                } else {
                    added.extend(new);
                }
            }
        }
        over
    }

    /// The partition owning twin `slot`.
    fn part_of(&self, slot: u32) -> usize {
        slot as usize % self.parts
    }

    /// Partition `part`'s records, in input order, with their batch and twin slot.
    fn records(&self, part: usize) -> impl Iterator<Item = (&'p ParsedBatch<'a>, &'p ParsedRecord<'a>, usize)> + '_ {
        let mut slots = self.slots.iter();
        self.batches
            .iter()
            .flat_map(|batch| batch.records.iter().map(move |record| (batch, record)))
            .filter_map(move |(batch, record)| {
                let slot = *slots.next()?;
                (self.part_of(slot) == part).then_some((batch, record, slot as usize))
            })
    }
}

/// One partition's share of a write: its records encoded, the definitions they carry, and
/// the column id of each of their fields in order (for the apply step).
struct EncodedPart {
    encoder: BatchEncoder,
    defs: NewDefinitions,
    column_ids: Vec<ColumnId>,
    points: u64,
}

/// Resolves columns and encodes partition `part`'s records.
fn encode_part(plan: &Plan<'_, '_>, part: usize, now: Timestamp) -> EncodedPart {
    let estimate = plan.slots.len() / plan.parts + 1;
    let mut out = EncodedPart {
        encoder: BatchEncoder::new(0, estimate),
        defs: NewDefinitions::default(),
        column_ids: Vec::with_capacity(estimate * 2),
        points: 0,
    };
    for (batch, record, slot) in plan.records(part) {
        let entry = &plan.twins[slot];
        if !entry.logged.load(Ordering::Acquire) && out.defs.twins.insert(entry.id) {
            out.encoder.define(&Definition::Twin {
                twin: entry.id,
                name: (*entry.name).into(),
            });
            out.defs.entries.push(entry.clone());
        }
        let fields = batch.fields_of(record);
        let first_id = out.column_ids.len();
        {
            let mut meta = entry.meta.lock();
            if let Some(model) = &record.model {
                // The model this twin has once the batches before this one are applied: the
                // one this call set last, else the logged one.
                let current = out.defs.last_model.get(&entry.id).or(meta.model.as_ref());
                if current.map(|m| &**m) != Some(model.as_ref()) {
                    let model: Arc<str> = model.as_ref().into();
                    out.defs.last_model.insert(entry.id, model.clone());
                    out.encoder.define(&Definition::Model {
                        twin: entry.id,
                        model: (*model).into(),
                    });
                    out.defs.models.push((entry.clone(), model));
                }
            }
            for (name, value) in fields {
                let ty = value.value_type();
                let (column, unlogged) = meta.resolve(name, ty);
                if unlogged && !out.defs.columns.contains(&(entry.id, column)) {
                    // Concurrent writers of one twin may create columns 3 and 4 and append
                    // 4 first, or a failed append may leave 3 unlogged: every lower column
                    // not yet logged travels too, so a replay meets column ids densely.
                    for lower in 0..=column {
                        let lower_meta = &meta.columns[lower as usize];
                        if lower_meta.logged || !out.defs.columns.insert((entry.id, lower)) {
                            continue;
                        }
                        out.defs.column_entries.push((entry.clone(), lower));
                        out.encoder.define(&Definition::Column {
                            twin: entry.id,
                            column: lower,
                            ty: lower_meta.ty,
                            name: (*lower_meta.name).into(),
                        });
                    }
                }
                out.column_ids.push(column);
            }
        }
        out.encoder.record(entry.id, record.ts.unwrap_or(now), fields.len());
        for (column, (_, value)) in out.column_ids[first_id..].iter().zip(fields) {
            out.encoder.value(*column, value);
        }
        out.points += fields.len() as u64;
    }
    out
}

/// Partition `part`'s rows, owned, for the staging. `twins` is the plan's twins (moved
/// for the last partition, cloned for the others).
fn stage_part(
    inner: &Inner,
    plan: &Plan<'_, '_>,
    part: usize,
    twins: Vec<Arc<Twin>>,
    column_ids: &[ColumnId],
    seq: u64,
    now: Timestamp,
) -> StagedCall {
    let mut call = inner.staging.empty_call();
    call.seq = seq;
    call.twins = twins;
    call.columns.extend_from_slice(column_ids);
    for (batch, record, slot) in plan.records(part) {
        call.slots.push(slot as u32);
        call.ts.push(record.ts.unwrap_or(now));
        let fields = batch.fields_of(record);
        call.values.extend(fields.iter().map(|(_, v)| v.clone().into_static()));
        call.ends.push(call.values.len() as u32);
    }
    call
}

/// After a call of `records` records left `staged` records staged: the fold thread folds,
/// while the writer goes on; a writer folds only when the thread falls behind (past twice
/// its call, so that one large call can be folded while the next is parsed), or when
/// background maintenance, and with it the thread, is off.
fn fold_or_wake(inner: &Inner, staged: usize, records: usize) {
    use super::staging::{FOLD_RECORDS, FOLD_WAKE};
    if staged < FOLD_WAKE {
        return;
    }
    match &inner.wake_fold {
        Some(wake) if staged < FOLD_RECORDS.max(2 * records) => {
            let _ = wake.try_send(());
        }
        _ => inner.fold_staging(),
    }
}

/// Runs `work(part)` for each partition, on scoped threads when there are several.
fn run_parts<T: Send>(parts: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if parts <= 1 {
        return vec![work(0)];
    }
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = (0..parts).map(|p| scope.spawn(move || work(p))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// Writes parsed batches as one WAL frame and one visible unit, staging their rows for the
/// warm tables (see the `staging` module). Large calls encode on several threads, each
/// owning a disjoint set of twins.
pub(super) fn write_batches(inner: &Inner, mut batches: Vec<ParsedBatch<'_>>, strict: bool) -> Result<IngestReport> {
    let mut report = IngestReport::default();
    for batch in &batches {
        report.skipped += batch.skipped;
        report.rejected.extend(batch.errors.iter().cloned());
    }
    report.rejected.sort_by_key(|e| e.line);
    Counters::add(&inner.metrics.records_rejected, report.rejected.len() as u64);
    if strict && !report.rejected.is_empty() {
        return Err(Error::BatchRejected {
            errors: std::mem::take(&mut report.rejected),
        });
    }
    let mut total: usize = batches.iter().map(|b| b.records.len()).sum();
    if total == 0 {
        return Ok(report);
    }
    let limits = &inner.options.limits;
    if total > limits.max_records_per_call {
        return Err(Error::InvalidArgument(format!(
            "a write of {total} records exceeds the limit of {} per call (Limits::max_records_per_call); split it",
            limits.max_records_per_call
        )));
    }
    inner.wal.check_writable()?;

    let parts = if total >= PARALLEL_MIN_RECORDS {
        inner.options.ingest_threads
    } else {
        1
    };
    let mut plan = Plan::new(&inner.catalog, &batches, total, parts);
    let over = plan.over_property_limit(limits.max_properties_per_twin);
    if !over.is_empty() {
        let mut dropped: Vec<(usize, usize)> = Vec::with_capacity(over.len());
        Counters::add(&inner.metrics.records_rejected, over.len() as u64);
        for (b, r, error) in over {
            report.rejected.push(error);
            dropped.push((b, r));
        }
        report.rejected.sort_by_key(|e| e.line);
        if strict {
            return Err(Error::BatchRejected {
                errors: std::mem::take(&mut report.rejected),
            });
        }
        drop(plan);
        for (b, batch) in batches.iter_mut().enumerate() {
            let mut r = 0;
            batch.records.retain(|_| {
                r += 1;
                dropped.binary_search(&(b, r - 1)).is_err()
            });
        }
        total = batches.iter().map(|b| b.records.len()).sum();
        if total == 0 {
            return Ok(report);
        }
        plan = Plan::new(&inner.catalog, &batches, total, parts);
    }
    let now = inner.options.clock.now();
    let encoded = run_parts(plan.parts, |part| encode_part(&plan, part, now));

    let mut frame = BatchEncoder::new(FRAME_HEADER_LEN, 0);
    let mut column_ids = Vec::with_capacity(encoded.len());
    let mut defs = Vec::with_capacity(encoded.len());
    for part in encoded {
        frame.append(part.encoder);
        report.points += part.points;
        column_ids.push(part.column_ids);
        defs.push(part.defs);
    }
    report.records = total as u64;

    {
        // Shared with other writers; a flush takes it exclusively to cut the warm tier at a
        // sequence number, so it must be held from the append until the batch is visible.
        let _gate = inner.gate.read();
        let seq = append(inner, frame.finish())?;
        // From here the batch is durable: it must become visible whatever happens.
        let _publish = PublishOnDrop {
            snapshots: &inner.snapshots,
            seq,
        };
        defs.iter().for_each(|d| mark_logged(d, seq));
        if defs.iter().any(NewDefinitions::any) {
            inner.catalog.bump();
        }
        // One staged call per partition, all of this sequence number: a twin is in one
        // partition, so each twin's rows stay in input order.
        let mut staged = 0;
        for (part, ids) in column_ids.iter().enumerate() {
            let twins = if part + 1 == plan.parts {
                std::mem::take(&mut plan.twins)
            } else {
                plan.twins.clone()
            };
            staged = inner
                .staging
                .stage(stage_part(inner, &plan, part, twins, ids, seq, now));
        }
        fold_or_wake(inner, staged, total);
        // Read again under the gate: a write that waited for a flush's swap arrived after it.
        super::maintenance::note_warm_write(inner, inner.options.clock.now());
    }
    Counters::add(&inner.metrics.records_ingested, report.records);
    Counters::add(&inner.metrics.points_ingested, report.points);
    throttle(inner, report.records * RECORD_BYTES + report.points * POINT_BYTES);
    Ok(report)
}

/// Appends a frame to the WAL. A failed frame's sequence number is published empty, so later
/// batches can become visible; nothing of it reaches the warm tier.
fn append(inner: &Inner, frame: Vec<u8>) -> Result<u64> {
    inner.wal.append(frame).map_err(|(seq, e)| {
        if let Some(seq) = seq {
            inner.snapshots.publish(seq);
        }
        e
    })
}

/// Estimated warm-tier bytes per record and per point (the bench report measures about
/// 20 bytes per point on the workload, index included).
const RECORD_BYTES: u64 = 8;
const POINT_BYTES: u64 = 20;

/// Counts `bytes` against the warm budget: past it the flush lane is woken; past twice it
/// the writer waits for a flush (bounded, so a failing flush slows writes down but does not
/// stop them). A wait is counted in [`Metrics::write_waits`] and logged: the feed is faster
/// than flushing.
///
/// [`Metrics::write_waits`]: super::Metrics::write_waits
fn throttle(inner: &Inner, bytes: u64) {
    let estimate = inner.warm_estimate.fetch_add(bytes, Ordering::AcqRel) + bytes;
    let budget = inner.options.warm_budget_bytes;
    let Some(wake) = &inner.wake else { return };
    if estimate <= budget {
        return;
    }
    let _ = wake.try_send(());
    let limit = budget.saturating_mul(2);
    if inner.warm_estimate.load(Ordering::Acquire) <= limit {
        return;
    }
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_secs(10);
    let mut guard = inner.flushed_lock.lock();
    let mut timed_out = false;
    while inner.warm_estimate.load(Ordering::Acquire) > limit {
        let _ = wake.try_send(());
        if inner.flushed.wait_until(&mut guard, deadline).timed_out() {
            timed_out = true;
            break;
        }
    }
    drop(guard);
    let waited = started.elapsed();
    Counters::add(&inner.metrics.write_waits, 1);
    Counters::add(
        &inner.metrics.write_wait_nanos,
        u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX),
    );
    tracing::info!(
        millis = waited.as_millis() as u64,
        budget,
        timed_out,
        "a write waited for a flush: the warm tier was past twice its budget"
    );
}

/// Marks definitions carried by appended frame `seq` as logged, so later batches omit them.
fn mark_logged(defs: &NewDefinitions, seq: u64) {
    for entry in &defs.entries {
        entry.logged.store(true, Ordering::Release);
    }
    for (entry, column) in &defs.column_entries {
        entry.meta.lock().columns[*column as usize].logged = true;
    }
    for (entry, model) in &defs.models {
        entry.meta.lock().set_model(model.clone(), seq);
    }
}

/// Sets a twin's model id through the WAL.
pub(super) fn write_model(inner: &Inner, twin: &str, model: &str) -> Result<()> {
    inner.wal.check_writable()?;
    let entry = inner.catalog.get_or_create(twin);
    let mut encoder = BatchEncoder::new(FRAME_HEADER_LEN, 0);
    if !entry.logged.load(Ordering::Acquire) {
        encoder.define(&Definition::Twin {
            twin: entry.id,
            name: (*entry.name).into(),
        });
    }
    encoder.define(&Definition::Model {
        twin: entry.id,
        model: model.into(),
    });
    let _gate = inner.gate.read();
    let seq = append(inner, encoder.finish())?;
    entry.logged.store(true, Ordering::Release);
    entry.meta.lock().set_model(model.into(), seq);
    inner.catalog.bump();
    inner.snapshots.publish(seq);
    Ok(())
}

/// Applies one replayed WAL frame to the catalog and the warm tier.
pub(super) fn replay_frame(catalog: &Catalog, seq: u64, payload: &[u8]) -> Result<()> {
    let batch = decode_batch(payload).map_err(Error::InvalidArgument)?;
    let bad = |reason: String| Error::InvalidArgument(reason);
    for def in &batch.definitions {
        match def {
            Definition::Twin { twin, name } => {
                catalog.define(*twin, name).map_err(bad)?;
            }
            Definition::Column { twin, column, ty, name } => {
                let entry = catalog
                    .by_id(*twin)
                    .ok_or_else(|| bad(format!("column of unknown twin {twin}")))?;
                if !entry.meta.lock().define(*column, name, *ty) {
                    return Err(bad(format!(
                        "column {column} of twin {twin} conflicts with an earlier definition"
                    )));
                }
            }
            Definition::Model { twin, model } => {
                let entry = catalog
                    .by_id(*twin)
                    .ok_or_else(|| bad(format!("model of unknown twin {twin}")))?;
                entry.meta.lock().set_model(model.as_ref().into(), seq);
            }
        }
    }
    for record in &batch.records {
        let entry = catalog
            .by_id(record.twin)
            .ok_or_else(|| bad(format!("record of unknown twin {}", record.twin)))?;
        {
            let meta = entry.meta.lock();
            for (column, value) in &record.values {
                match meta.columns.get(*column as usize) {
                    Some(c) if c.ty == value.value_type() => {}
                    _ => {
                        return Err(bad(format!(
                            "record of twin {} names undefined column {column}",
                            record.twin
                        )));
                    }
                }
            }
        }
        let values = record.values.iter().map(|(c, v): &(ColumnId, FieldValue<'_>)| (*c, v));
        entry.data.table.write().insert(record.ts, seq, values, u64::MAX);
    }
    Ok(())
}
