//! The write path: parsed batch -> catalog ids -> one WAL frame -> warm tier -> visible.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use foldhash::{HashMap, HashSet};

use super::snapshot::PublishOnDrop;
use super::{IngestReport, Inner, Options};
use crate::catalog::{Catalog, ColumnId, TwinEntry, TwinId};
use crate::error::{Error, Result};
use crate::ingest::{FieldValue, InputFormat, ParsedBatch, ParsedRecord, parse_adt_lines, parse_flat_lines};
use crate::model::Timestamp;
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
    columns: HashSet<(TwinId, ColumnId)>,
    column_entries: Vec<(Arc<TwinEntry>, ColumnId)>,
    models: Vec<(Arc<TwinEntry>, Arc<str>)>,
    entries: Vec<Arc<TwinEntry>>,
}

/// Below this many records a write call runs on the calling thread alone.
const PARALLEL_MIN_RECORDS: usize = 20_000;

/// The records of one write call, grouped by twin.
struct Plan<'p, 'a> {
    batches: &'p [ParsedBatch<'a>],
    /// The call's distinct twins, in order of first appearance.
    twins: Vec<Arc<TwinEntry>>,
    /// `(batch, record)` references grouped by twin; twin `i`'s are
    /// `grouped[group_start[i]..group_start[i + 1]]`, in input order.
    grouped: Vec<(u32, u32)>,
    group_start: Vec<usize>,
}

impl<'p, 'a> Plan<'p, 'a> {
    /// Groups records by twin with a counting sort on a per-call twin slot, so each twin's
    /// catalog entry, metadata and table are looked up and locked once per call.
    fn new(catalog: &Catalog, batches: &'p [ParsedBatch<'a>], total: usize) -> Self {
        let mut slot_by_name: HashMap<&str, u32> = HashMap::default();
        let mut twins: Vec<Arc<TwinEntry>> = Vec::new();
        let mut slots: Vec<u32> = Vec::with_capacity(total);
        for batch in batches {
            for record in &batch.records {
                let slot = *slot_by_name.entry(record.twin.as_ref()).or_insert_with(|| {
                    twins.push(catalog.get_or_create(&record.twin));
                    (twins.len() - 1) as u32
                });
                slots.push(slot);
            }
        }
        let mut group_start = vec![0usize; twins.len() + 1];
        for &slot in &slots {
            group_start[slot as usize + 1] += 1;
        }
        for i in 1..group_start.len() {
            group_start[i] += group_start[i - 1];
        }
        let mut fill = group_start.clone();
        let mut grouped: Vec<(u32, u32)> = vec![(0, 0); total];
        let mut slot_of = slots.iter();
        for (b, batch) in batches.iter().enumerate() {
            for r in 0..batch.records.len() {
                let slot = slot_of.next().copied().unwrap_or(0) as usize;
                grouped[fill[slot]] = (b as u32, r as u32);
                fill[slot] += 1;
            }
        }
        Plan {
            batches,
            twins,
            grouped,
            group_start,
        }
    }

    /// Twin `slot`'s records, each with the batch holding its fields.
    fn records(&self, slot: usize) -> impl Iterator<Item = (&'p ParsedBatch<'a>, &'p ParsedRecord<'a>)> + '_ {
        self.grouped[self.group_start[slot]..self.group_start[slot + 1]]
            .iter()
            .map(|&(b, r)| {
                let batch = &self.batches[b as usize];
                (batch, &batch.records[r as usize])
            })
    }

    /// Splits the twin slots into at most `parts` contiguous ranges of about equal record
    /// counts.
    fn partition(&self, parts: usize) -> Vec<Range<usize>> {
        let total = self.grouped.len();
        let mut out = Vec::with_capacity(parts);
        let mut start = 0;
        for p in 1..=parts {
            let end = if p == parts {
                self.twins.len()
            } else {
                let target = total * p / parts;
                self.group_start
                    .partition_point(|&s| s < target)
                    .clamp(start, self.twins.len())
            };
            if end > start {
                out.push(start..end);
            }
            start = end;
        }
        out
    }
}

/// One thread's share of a write: its twins' records encoded, the definitions they carry,
/// and the column id of every field in the plan's grouped order (for the apply step).
struct EncodedPart {
    encoder: BatchEncoder,
    defs: NewDefinitions,
    column_ids: Vec<ColumnId>,
    points: u64,
}

/// Resolves columns and encodes the records of twins `slots`.
fn encode_part(plan: &Plan<'_, '_>, slots: Range<usize>, now: Timestamp) -> EncodedPart {
    let records = plan.group_start[slots.end] - plan.group_start[slots.start];
    let mut part = EncodedPart {
        encoder: BatchEncoder::new(0, records),
        defs: NewDefinitions::default(),
        column_ids: Vec::with_capacity(records * 2),
        points: 0,
    };
    for slot in slots {
        let entry = &plan.twins[slot];
        if !entry.logged.load(Ordering::Acquire) {
            part.encoder.define(&Definition::Twin {
                twin: entry.id,
                name: (*entry.name).into(),
            });
            part.defs.entries.push(entry.clone());
        }
        let mut meta = entry.meta.lock();
        for (batch, record) in plan.records(slot) {
            if let Some(model) = &record.model
                && meta.model.as_deref() != Some(model)
            {
                let model: Arc<str> = model.as_ref().into();
                meta.model = Some(model.clone());
                meta.model_logged = false;
                part.encoder.define(&Definition::Model {
                    twin: entry.id,
                    model: (*model).into(),
                });
                part.defs.models.push((entry.clone(), model));
            }
            let fields = batch.fields_of(record);
            let first_id = part.column_ids.len();
            for (name, value) in fields {
                let ty = value.value_type();
                let (column, unlogged) = meta.resolve(name, ty);
                if unlogged && part.defs.columns.insert((entry.id, column)) {
                    part.defs.column_entries.push((entry.clone(), column));
                    part.encoder.define(&Definition::Column {
                        twin: entry.id,
                        column,
                        ty,
                        name: name.as_ref().into(),
                    });
                }
                part.column_ids.push(column);
            }
            part.encoder.record(entry.id, record.ts.unwrap_or(now), fields.len());
            for (column, (_, value)) in part.column_ids[first_id..].iter().zip(fields) {
                part.encoder.value(*column, value);
            }
            part.points += fields.len() as u64;
        }
    }
    part
}

/// Inserts the records of twins `slots` into the warm tier, one table lock per twin.
fn apply_part(
    plan: &Plan<'_, '_>,
    slots: Range<usize>,
    column_ids: &[ColumnId],
    seq: u64,
    min_active: u64,
    now: Timestamp,
) {
    let mut ids = column_ids;
    for slot in slots {
        let mut table = plan.twins[slot].table.write();
        table.settle(min_active);
        for (batch, record) in plan.records(slot) {
            let (mine, rest) = ids.split_at(record.fields.len().min(ids.len()));
            ids = rest;
            let values = mine.iter().copied().zip(batch.fields_of(record).iter().map(|(_, v)| v));
            table.insert(record.ts.unwrap_or(now), seq, values, min_active);
        }
    }
}

/// Runs `work` on each range, on scoped threads when there are several.
fn run_parts<T: Send>(ranges: &[Range<usize>], work: impl Fn(usize, Range<usize>) -> T + Sync) -> Vec<T> {
    if ranges.len() <= 1 {
        return ranges.iter().enumerate().map(|(i, r)| work(i, r.clone())).collect();
    }
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = ranges
            .iter()
            .enumerate()
            .map(|(i, r)| scope.spawn(move || work(i, r.clone())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// Writes parsed batches as one WAL frame and one visible unit. Large calls encode and apply
/// on several threads, each owning a disjoint set of twins.
pub(super) fn write_batches(inner: &Inner, batches: Vec<ParsedBatch<'_>>, strict: bool) -> Result<IngestReport> {
    let mut report = IngestReport::default();
    for batch in &batches {
        report.skipped += batch.skipped;
        report.rejected.extend(batch.errors.iter().cloned());
    }
    report.rejected.sort_by_key(|e| e.line);
    if strict && !report.rejected.is_empty() {
        return Err(Error::BatchRejected {
            errors: std::mem::take(&mut report.rejected),
        });
    }
    let total: usize = batches.iter().map(|b| b.records.len()).sum();
    if total == 0 {
        return Ok(report);
    }
    inner.wal.check_writable()?;

    let plan = Plan::new(&inner.catalog, &batches, total);
    let threads = if total >= PARALLEL_MIN_RECORDS {
        inner.options.ingest_threads
    } else {
        1
    };
    let ranges = plan.partition(threads.max(1));
    let now = inner.options.clock.now();
    let parts = run_parts(&ranges, |_, slots| encode_part(&plan, slots, now));

    let mut frame = BatchEncoder::new(FRAME_HEADER_LEN, 0);
    let mut column_ids = Vec::with_capacity(parts.len());
    let mut defs = Vec::with_capacity(parts.len());
    for part in parts {
        frame.append(part.encoder);
        report.points += part.points;
        column_ids.push(part.column_ids);
        defs.push(part.defs);
    }
    report.records = total as u64;

    let seq = inner.wal.append(frame.finish())?;
    // From here the batch is durable: it must become visible whatever happens.
    let _publish = PublishOnDrop {
        snapshots: &inner.snapshots,
        seq,
    };
    defs.iter().for_each(mark_logged);
    let min_active = inner.snapshots.min_active();
    run_parts(&ranges, |i, slots| {
        apply_part(&plan, slots, &column_ids[i], seq, min_active, now)
    });
    Ok(report)
}

/// Marks definitions carried by an appended frame as logged, so later batches omit them.
fn mark_logged(defs: &NewDefinitions) {
    for entry in &defs.entries {
        entry.logged.store(true, Ordering::Release);
    }
    for (entry, column) in &defs.column_entries {
        entry.meta.lock().columns[*column as usize].logged = true;
    }
    for (entry, model) in &defs.models {
        let mut meta = entry.meta.lock();
        if meta.model.as_ref() == Some(model) {
            meta.model_logged = true;
        }
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
    entry.meta.lock().model = Some(model.into());
    let seq = inner.wal.append(encoder.finish())?;
    entry.logged.store(true, Ordering::Release);
    entry.meta.lock().model_logged = true;
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
                if !catalog.define(*twin, name) {
                    return Err(bad(format!(
                        "twin {twin} ({name:?}) conflicts with an earlier definition"
                    )));
                }
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
                let mut meta = entry.meta.lock();
                meta.model = Some(model.as_ref().into());
                meta.model_logged = true;
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
        entry.table.write().insert(record.ts, seq, values, u64::MAX);
    }
    Ok(())
}
