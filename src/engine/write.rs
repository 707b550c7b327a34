//! The write path: parsed batch -> catalog ids -> one WAL frame -> warm tier -> visible.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use foldhash::{HashMap, HashSet};

use super::snapshot::PublishOnDrop;
use super::{IngestReport, Inner, Options};
use crate::catalog::{Catalog, ColumnId, TwinEntry, TwinId};
use crate::error::{Error, Result};
use crate::ingest::{FieldValue, InputFormat, ParsedBatch, parse_adt_lines, parse_flat_lines};
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

/// Writes parsed batches as one WAL frame and one visible unit.
///
/// Records are grouped by twin first (a counting sort on a per-call twin slot), so each
/// twin's catalog entry, column metadata and warm table are looked up and locked once per
/// call rather than once per record; the order of one twin's records is kept.
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

    // 1. The call's distinct twins, and each record's slot among them.
    let mut slot_by_name: HashMap<&str, u32> = HashMap::default();
    let mut twins: Vec<Arc<TwinEntry>> = Vec::new();
    let mut slots: Vec<u32> = Vec::with_capacity(total);
    for batch in &batches {
        for record in &batch.records {
            let slot = *slot_by_name.entry(record.twin.as_ref()).or_insert_with(|| {
                twins.push(inner.catalog.get_or_create(&record.twin));
                (twins.len() - 1) as u32
            });
            slots.push(slot);
        }
    }
    // 2. Group record references (batch, record) by slot, keeping input order per twin.
    let mut group_start = vec![0usize; twins.len() + 1];
    for &slot in &slots {
        group_start[slot as usize + 1] += 1;
    }
    for i in 1..group_start.len() {
        group_start[i] += group_start[i - 1];
    }
    let mut fill = group_start.clone();
    let mut grouped: Vec<(u32, u32)> = vec![(0, 0); total];
    let mut next_slot = slots.iter();
    for (b, batch) in batches.iter().enumerate() {
        for r in 0..batch.records.len() {
            let slot = next_slot.next().copied().unwrap_or(0) as usize;
            grouped[fill[slot]] = (b as u32, r as u32);
            fill[slot] += 1;
        }
    }
    let group = |slot: usize| &grouped[group_start[slot]..group_start[slot + 1]];

    // 3. Resolve columns and encode the frame, twin by twin.
    let now = inner.options.clock.now();
    let mut encoder = BatchEncoder::new(FRAME_HEADER_LEN, total);
    let mut defs = NewDefinitions::default();
    let mut column_ids: Vec<Vec<ColumnId>> = batches.iter().map(|b| vec![0; b.fields.len()]).collect();
    for (slot, entry) in twins.iter().enumerate() {
        if !entry.logged.load(Ordering::Acquire) {
            encoder.define(&Definition::Twin {
                twin: entry.id,
                name: (*entry.name).into(),
            });
            defs.entries.push(entry.clone());
        }
        let mut meta = entry.meta.lock();
        for &(b, r) in group(slot) {
            let batch = &batches[b as usize];
            let record = &batch.records[r as usize];
            if let Some(model) = &record.model
                && meta.model.as_deref() != Some(model)
            {
                let model: Arc<str> = model.as_ref().into();
                meta.model = Some(model.clone());
                meta.model_logged = false;
                encoder.define(&Definition::Model {
                    twin: entry.id,
                    model: (*model).into(),
                });
                defs.models.push((entry.clone(), model));
            }
            let fields = batch.fields_of(record);
            let ids = &mut column_ids[b as usize][record.fields.clone()];
            for ((name, value), id) in fields.iter().zip(ids.iter_mut()) {
                let ty = value.value_type();
                let (column, unlogged) = meta.resolve(name, ty);
                if unlogged && defs.columns.insert((entry.id, column)) {
                    defs.column_entries.push((entry.clone(), column));
                    encoder.define(&Definition::Column {
                        twin: entry.id,
                        column,
                        ty,
                        name: name.as_ref().into(),
                    });
                }
                *id = column;
            }
            encoder.record(entry.id, record.ts.unwrap_or(now), fields.len());
            for (column, (_, value)) in ids.iter().zip(fields) {
                encoder.value(*column, value);
            }
            report.points += fields.len() as u64;
        }
    }
    report.records = total as u64;

    // 4. The log.
    let seq = inner.wal.append(encoder.finish())?;
    // From here the batch is durable: it must become visible whatever happens.
    let _publish = PublishOnDrop {
        snapshots: &inner.snapshots,
        seq,
    };
    mark_logged(&defs);

    // 5. The warm tier, one lock per twin.
    let min_active = inner.snapshots.min_active();
    for (slot, entry) in twins.iter().enumerate() {
        let mut table = entry.table.write();
        table.settle(min_active);
        for &(b, r) in group(slot) {
            let batch = &batches[b as usize];
            let record = &batch.records[r as usize];
            let ids = &column_ids[b as usize][record.fields.clone()];
            let values = ids.iter().copied().zip(batch.fields_of(record).iter().map(|(_, v)| v));
            table.insert(record.ts.unwrap_or(now), seq, values, min_active);
        }
    }
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
