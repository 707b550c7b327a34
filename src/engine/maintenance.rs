//! Moving data between tiers: flush (warm -> cold, one file per day), compaction (a day's
//! files -> one, see `partition`), retention and deletion (rewrite or drop files), and the
//! background threads running them.
//!
//! Two lanes, each its own mutex and its own thread, so that a flush never waits for a
//! compaction: the flush lane (`Inner::flush_lane`: flushes) and the compaction lane
//! (`Inner::compaction_lane`: compaction, sealing, retention, deletes). Each writes its new
//! files without holding anything the other needs; only the install is shared, under the
//! short `Inner::manifest` lock: the live file list is read, changed (a flush appends, a
//! compaction replaces the files it merged), written as the manifest and swapped in for
//! readers. Only the compaction lane removes files, so the files it merged are still in the
//! list when it installs, whatever the flush lane appended meanwhile. Readers change what
//! they see only at that swap, under the `ColdState` lock, briefly. Writers are held back
//! only while a flush swaps the warm tables out (the `gate`), never while files are written.
//!
//! Crash safety comes from the order of durable steps: a segment file is written and
//! synced, then the manifest naming it is replaced atomically, then the WAL log files
//! it covers are deleted. A crash before the manifest leaves an orphan file (removed on open)
//! and a WAL that still holds the rows; after it, replay skips frames up to the manifest's
//! checkpoint, so every row is loaded exactly once. Every manifest lists the whole state (the
//! other lane's installed files and checkpoint included), so the lanes' writes can come in
//! any order.
//!
//! A failed step (a full disk, an I/O error) changes nothing a reader sees: the new file is
//! deleted, the warm rows stay in memory and in the WAL, and the next round retries. The one
//! ambiguous failure is a manifest renamed into place whose directory sync failed: the new
//! state is used, but neither the files it replaces nor the WAL it covers are deleted, since
//! after a machine crash the old manifest may be the one found.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::metrics::Counters;
use super::partition::{self, partition_of, partition_span};
use super::{Catalog, Inner};
use crate::cold::manifest::{ManifestWriteError, TwinDef};
use crate::cold::{self, COLD_DIR, ColdFile, FileMeta, Frozen, Manifest, Segment, SegmentWriter, to_twin_rows};
use crate::error::{Error, Result};
use crate::model::TwinId;
use crate::read::chunk::all_chunk_rows;
use crate::read::{Row, merge_rows};
use crate::vfs::Vfs;

/// The flush lane's state (`Inner::flush_lane`).
pub(crate) struct FlushLane {
    /// A flush in progress or failed: its frozen tables hold the WAL frames up to `.0`, and
    /// the WAL log files below `.1` can go once they are installed.
    pub pending_wal_cut: Option<(u64, u64)>,
}

/// What the manifest records besides the files and the catalog (`Inner::manifest`). Its
/// lock is held only to install a new file list, never while files are written.
pub(crate) struct ManifestState {
    /// Every WAL frame up to here is in the cold tier.
    pub checkpoint: u64,
    pub next_file_id: u64,
}

/// The background threads, one per lane.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lane {
    Flush = 0,
    Compaction = 1,
}

/// Segment files below this size are merged by compaction.
const COMPACT_BELOW_BYTES: u64 = 256 << 20;
/// Background compaction starts when this many small files of similar size follow each
/// other...
const COMPACT_MIN_RUN: usize = 4;
/// ... within this factor of each other's size.
const COMPACT_SIZE_RATIO: u64 = 4;

/// The catalog as the manifest stores it.
pub(crate) fn export_catalog(catalog: &Catalog) -> Vec<TwinDef> {
    catalog
        .all()
        .iter()
        .map(|e| {
            let meta = e.meta.lock();
            TwinDef {
                id: e.id,
                name: e.name.to_string(),
                model: meta.model.as_ref().map(|m| (m.to_string(), meta.model_seq())),
                columns: meta.columns.iter().map(|c| (c.name.to_string(), c.ty)).collect(),
            }
        })
        .collect()
}

/// Loads a manifest's catalog into an empty catalog.
pub(crate) fn import_catalog(catalog: &Catalog, twins: &[TwinDef]) -> std::result::Result<(), String> {
    for t in twins {
        catalog.define(t.id, &t.name)?;
        let entry = catalog.by_id(t.id).ok_or("twin vanished")?;
        let mut meta = entry.meta.lock();
        for (i, (name, ty)) in t.columns.iter().enumerate() {
            if !meta.define(i as u32, name, *ty) {
                return Err(format!("column {i} of twin {:?} conflicts", t.name));
            }
        }
        if let Some((model, seq)) = &t.model {
            meta.set_model(model.as_str().into(), *seq);
        }
    }
    Ok(())
}

/// Opens the files a manifest lists and removes segment files it does not list.
pub(crate) fn open_files(
    vfs: &Arc<dyn Vfs>,
    inner_dir: &std::path::Path,
    manifest: &Manifest,
) -> Result<Vec<Arc<ColdFile>>> {
    let cold_dir = inner_dir.join(COLD_DIR);
    vfs.create_dir_all(&cold_dir).map_err(|e| Error::io(&cold_dir, e))?;
    // A manifest write interrupted before its rename: the old manifest is the valid one.
    let tmp = inner_dir.join(cold::manifest::MANIFEST_TMP);
    match vfs.remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&tmp, e)),
    }
    let live: BTreeSet<u64> = manifest.files.iter().map(|f| f.id).collect();
    for path in vfs.read_dir(&cold_dir).map_err(|e| Error::io(&cold_dir, e))? {
        // A file of an interrupted flush or compaction: its rows are still in the WAL or in
        // the files it was to replace.
        if cold::segment_file_id(&path).is_some_and(|id| !live.contains(&id)) {
            vfs.remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    manifest
        .files
        .iter()
        .map(|meta| {
            let path = cold::segment_path(inner_dir, meta.id);
            let segment = match Segment::open_in(vfs.clone(), &path) {
                Ok(segment) => segment,
                // Damage that a retry cannot fix is confined to the file: the store opens,
                // reads that need the file fail naming it, `verify` reports it.
                Err(e) if is_lasting_damage(&e) => Segment::damaged(vfs.clone(), &path, &e),
                // Anything else (EIO, permissions) may pass: the open fails, to be retried.
                Err(e) => return Err(e),
            };
            Ok(Arc::new(ColdFile {
                meta: meta.clone(),
                segment,
            }))
        })
        .collect()
}

/// A failure to open a segment file that a retry cannot fix: damage, an unknown version, or
/// a missing file.
fn is_lasting_damage(e: &Error) -> bool {
    match e {
        Error::Corruption { .. } | Error::UnsupportedVersion { .. } => true,
        Error::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// Writes rows twin by twin into a new segment file; `None` when there was nothing to write.
fn write_segment(
    inner: &Inner,
    twins: impl Iterator<Item = Result<(TwinId, Vec<Row>)>>,
) -> Result<Option<Arc<ColdFile>>> {
    let id = {
        let mut manifest = inner.manifest.lock();
        manifest.next_file_id += 1;
        manifest.next_file_id - 1
    };
    let path = cold::segment_path(&inner.dir, id);
    let vfs = &inner.options.vfs;
    let mut writer = SegmentWriter::create_in(&**vfs, &path)?;
    let result = (|| {
        for twin in twins {
            let (twin, rows) = twin?;
            if !rows.is_empty() {
                writer.add(&to_twin_rows(twin, &rows))?;
            }
        }
        writer.finish()
    })();
    let opened = result.and_then(|summary| {
        if summary.twins == 0 {
            vfs.remove_file(&path).map_err(|e| Error::io(&path, e))?;
            return Ok(None);
        }
        crate::vfs::sync_dir(&**vfs, &inner.dir.join(COLD_DIR))?;
        Ok(Some((summary, Segment::open_in(vfs.clone(), &path)?)))
    });
    let (summary, segment) = match opened {
        Ok(Some(opened)) => {
            Counters::add(&inner.metrics.segment_bytes_written, opened.0.bytes);
            opened
        }
        Ok(None) => return Ok(None),
        Err(e) => {
            // Best effort: a file left behind is not in the manifest, so the next open
            // removes it.
            let _ = vfs.remove_file(&path);
            return Err(e);
        }
    };
    Ok(Some(Arc::new(ColdFile {
        meta: FileMeta {
            id,
            bytes: summary.bytes,
            twins: summary.twins,
            rows: summary.rows,
            points: summary.points,
            min_ts: summary.min_ts,
            max_ts: summary.max_ts,
        },
        segment,
    })))
}

/// Writes the manifest for `files` and the catalog. `new` are the files made for this
/// change: when the old manifest stays in place, they are deleted and the error returned. `Ok(None)`:
/// the new manifest is durable. `Ok(Some(error))`: it is in place but not known durable
/// (see the module docs), so the caller installs it but deletes nothing it replaces.
fn write_manifest(
    inner: &Inner,
    state: &ManifestState,
    checkpoint: u64,
    files: &[Arc<ColdFile>],
    new: &[Arc<ColdFile>],
) -> Result<Option<Error>> {
    let written = Manifest {
        checkpoint,
        next_file_id: state.next_file_id,
        files: files.iter().map(|f| f.meta.clone()).collect(),
        twins: export_catalog(&inner.catalog),
    }
    .write(&*inner.options.vfs, &inner.dir);
    match written {
        Ok(()) => Ok(None),
        Err(ManifestWriteError::NotDurable(e)) => Ok(Some(e)),
        Err(ManifestWriteError::NotWritten(e)) => {
            for file in new {
                file.segment.retire();
            }
            Err(e)
        }
    }
}

/// Maps the live file list to the next one.
type NextFiles<'a> = &'a dyn Fn(&[Arc<ColdFile>]) -> Vec<Arc<ColdFile>>;

/// What a lane installs: the files it made, how the live list changes, and, for a flush,
/// the new checkpoint (its frozen tables are then dropped).
struct Change<'a> {
    new: &'a [Arc<ColdFile>],
    next: NextFiles<'a>,
    flushed_to: Option<u64>,
}

/// Installs a change under the manifest lock: reads the live file list, maps it with
/// `change.next`, writes the manifest and swaps the list in for readers. Returns as
/// [`write_manifest`] does.
fn commit(inner: &Inner, change: Change<'_>) -> Result<Option<Error>> {
    let mut state = inner.manifest.lock();
    let files = (change.next)(&inner.cold.read().files);
    let checkpoint = change.flushed_to.unwrap_or(state.checkpoint);
    let not_durable = write_manifest(inner, &state, checkpoint, &files, change.new)?;
    {
        let mut cold = inner.cold.write();
        cold.files = files;
        if change.flushed_to.is_some() {
            cold.frozen = None;
        }
        cold.generation += 1;
    }
    state.checkpoint = checkpoint;
    Ok(not_durable)
}

/// Moves every warm row written before the call to the cold tier, durably, and truncates
/// the WAL.
pub(crate) fn flush(inner: &Inner) -> Result<()> {
    let mut lane = inner.flush_lane.lock();
    // A flush that failed after its swap left its tables frozen: finish that one first,
    // then flush what was written since.
    if lane.pending_wal_cut.is_some() {
        flush_frozen(inner, &mut lane)?;
    }
    {
        let _gate = inner.gate.write();
        // No writer is between its append and its staging now: the tables get every row.
        inner.fold_staging();
        let seq = inner.wal.last_seq();
        // Rotate before the swap: if it fails, nothing has moved.
        let cut = inner.wal.rotate()?;
        let mut cold = inner.cold.write();
        let mut tables = foldhash::HashMap::default();
        for entry in inner.catalog.all() {
            let mut table = entry.data.table.write();
            if table.rows() > 0 {
                tables.insert(entry.id, Arc::new(std::mem::take(&mut *table)));
            }
        }
        cold.frozen = Some(Arc::new(Frozen { tables }));
        inner.warm_estimate.store(0, Ordering::Release);
        // Every write made so far is in the frozen tables (writers hold the gate until their
        // rows are visible): the warm tier is empty, so its window starts at the next write.
        inner.oldest_warm_write.store(NO_WARM_WRITE, Ordering::Release);
        lane.pending_wal_cut = Some((seq, cut));
    }
    flush_frozen(inner, &mut lane)
}

/// Writes the frozen tables to segment files, one per time partition their rows fall in
/// (ascending), and returns them (none when there were no rows). On an error the files
/// written so far are retired.
fn write_partitions(inner: &Inner, frozen: &Frozen) -> Result<Vec<Arc<ColdFile>>> {
    // Per partition, the twins with rows in it (ascending): a table within one partition
    // (the live feed's case) is one lookup; a table spanning several is probed partition by
    // partition.
    let twins: BTreeSet<TwinId> = frozen.tables.keys().copied().collect();
    let mut partitions: BTreeMap<i64, Vec<TwinId>> = BTreeMap::new();
    for &twin in &twins {
        let table = &frozen.tables[&twin];
        let Some((first, last)) = table.time_range() else {
            continue;
        };
        let (first, last) = (partition_of(first.as_nanos()), partition_of(last.as_nanos()));
        for p in first..=last {
            let (from, to) = partition_span(p);
            if first == last || table.has_rows_in(from, to) {
                partitions.entry(p).or_default().push(twin);
            }
        }
    }
    let mut written = Vec::new();
    for (p, twins) in partitions {
        let (from, to) = partition_span(p);
        let rows = twins.into_iter().map(|t| Ok((t, frozen.tables[&t].rows_in(from, to))));
        match write_segment(inner, rows) {
            Ok(file) => written.extend(file),
            Err(e) => {
                for f in &written {
                    f.segment.retire();
                }
                return Err(e);
            }
        }
    }
    Ok(written)
}

/// Writes the frozen tables to segment files (one per partition), installs them and cuts
/// the WAL.
fn flush_frozen(inner: &Inner, lane: &mut FlushLane) -> Result<()> {
    let Some((seq, wal_cut)) = lane.pending_wal_cut else {
        return Ok(());
    };
    let started = Instant::now();
    let _span = tracing::info_span!("flush", seq).entered();
    let frozen = inner.cold.read().frozen.clone().unwrap_or_default();
    if frozen.tables.is_empty() && seq == inner.manifest.lock().checkpoint {
        inner.cold.write().frozen = None;
        lane.pending_wal_cut = None;
        return Ok(());
    }
    let written = write_partitions(inner, &frozen)?;
    let not_durable = commit(
        inner,
        Change {
            new: &written,
            next: &|files| files.iter().chain(&written).cloned().collect(),
            flushed_to: Some(seq),
        },
    )?;
    lane.pending_wal_cut = None;
    drop(frozen);
    Counters::add(&inner.metrics.flushes, 1);
    let bytes: u64 = written.iter().map(|f| f.meta.bytes).sum();
    Counters::add(&inner.metrics.flushed_bytes, bytes);
    tracing::info!(
        millis = started.elapsed().as_millis() as u64,
        bytes,
        rows = written.iter().map(|f| f.meta.rows).sum::<u64>(),
        files = written.len(),
        "flushed"
    );
    {
        let _waiters = inner.flushed_lock.lock();
        inner.flushed.notify_all();
    }
    match not_durable {
        // The old manifest may be the one a machine crash leaves: keep the WAL it needs.
        Some(e) => Err(e),
        None => inner.wal.remove_log_files_before(wal_cut),
    }
}

/// Writes, for each run of `files` (ascending indices; runs disjoint), one file merging the
/// run's files without the rows `drop(twin, ts)` selects (no file when nothing is left), in
/// the place of the run's last file, removes the files at `removed`, and installs it all
/// with one manifest write: a crash or an error leaves either every rewrite or none, so a
/// delete or a retention spanning several files is never half visible. Called in the
/// compaction lane, which alone removes files: `files` are still live at the install,
/// followed by whatever the flush lane appended meanwhile.
fn rewrite(
    inner: &Inner,
    files: &[Arc<ColdFile>],
    runs: &[Vec<usize>],
    removed: &[usize],
    drop: &dyn Fn(TwinId, i64) -> bool,
) -> Result<()> {
    let mut old: Vec<Arc<ColdFile>> = removed.iter().map(|&i| files[i].clone()).collect();
    let mut written: Vec<Arc<ColdFile>> = Vec::new();
    // The fate of each file changed, by file id; the others are kept.
    let mut places: HashMap<u64, Place> = removed.iter().map(|&i| (files[i].meta.id, Place::Merged)).collect();
    for run in runs {
        let inputs: Vec<Arc<ColdFile>> = run.iter().map(|&i| files[i].clone()).collect();
        match merge_files(inner, &inputs, drop) {
            Ok(file) => {
                written.extend(file.iter().cloned());
                for f in &inputs {
                    places.insert(f.meta.id, Place::Merged);
                }
                if let (Some(last), Some(file)) = (inputs.last(), file) {
                    places.insert(last.meta.id, Place::MergedInto(file));
                }
            }
            Err(e) => {
                // Nothing names the files written so far: they go when dropped.
                for f in &written {
                    f.segment.retire();
                }
                return Err(e);
            }
        }
        old.extend(inputs);
    }
    let next = |live: &[Arc<ColdFile>]| -> Vec<Arc<ColdFile>> {
        live.iter()
            .filter_map(|f| match places.get(&f.meta.id) {
                None => Some(f.clone()),
                Some(Place::Merged) => None,
                Some(Place::MergedInto(merged)) => Some(merged.clone()),
            })
            .collect()
    };
    let not_durable = commit(
        inner,
        Change {
            new: &written,
            next: &next,
            flushed_to: None,
        },
    )?;
    // A manifest in place but not known durable: the old one may be what a machine crash
    // leaves, so its files stay.
    if not_durable.is_none() {
        for f in &old {
            f.segment.retire();
        }
    }
    not_durable.map_or(Ok(()), Err)
}

/// What becomes of a file when runs are rewritten.
enum Place {
    /// Merged away (or, for a run that left nothing, gone).
    Merged,
    /// The last file of a run: its merged file takes its place.
    MergedInto(Arc<ColdFile>),
}

/// Merges `inputs` into one new segment file without the rows `drop(twin, ts)` selects;
/// `None` when nothing is left.
fn merge_files(
    inner: &Inner,
    inputs: &[Arc<ColdFile>],
    drop: &dyn Fn(TwinId, i64) -> bool,
) -> Result<Option<Arc<ColdFile>>> {
    let mut twins = BTreeSet::new();
    for f in inputs {
        twins.extend(f.segment.footer()?.iter().map(|r| r.twin));
    }
    let merged = twins.into_iter().map(|twin| {
        let mut sources = Vec::new();
        for f in inputs {
            if let Some(chunk) = f.segment.chunk(twin)? {
                sources.push(all_chunk_rows(&chunk)?);
            }
        }
        Ok((twin, merge_rows(sources, false, usize::MAX, |row| !drop(twin, row.0))))
    });
    write_segment(inner, merged)
}

/// Merges runs of small files of one partition. `min_run` is how many files it takes;
/// `max_ratio` bounds the size spread within a run (see [`partition::pick_run`]).
pub(crate) fn compact(inner: &Inner, min_run: usize, max_ratio: Option<u64>) -> Result<bool> {
    compact_run(inner, "compaction", |files| {
        partition::pick_run(files, min_run, max_ratio, COMPACT_BELOW_BYTES)
    })
}

/// Merges, in one rewrite (one manifest write: all or nothing after a crash), the longest
/// run of every partition and of the mixed files (see [`partition::pick_runs`]).
pub(crate) fn compact_all(inner: &Inner, min_run: usize, max_ratio: Option<u64>) -> Result<bool> {
    let _lane = inner.compaction_lane.lock();
    let files = inner.cold.read().files.clone();
    let runs = partition::pick_runs(&files, min_run, max_ratio, COMPACT_BELOW_BYTES);
    if runs.is_empty() {
        return Ok(false);
    }
    let cutoff = retention_cutoff(inner);
    let started = Instant::now();
    let _span = tracing::info_span!("compaction", runs = runs.len()).entered();
    rewrite(inner, &files, &runs, &[], &|_, ts| ts < cutoff)?;
    Counters::add(&inner.metrics.compactions, 1);
    tracing::info!(
        millis = started.elapsed().as_millis() as u64,
        "compacted every partition"
    );
    Ok(true)
}

/// Seals a finished partition: merges all its files into one (see
/// [`partition::pick_sealed_run`]).
pub(crate) fn seal(inner: &Inner) -> Result<bool> {
    compact_run(inner, "seal", |files| {
        partition::pick_sealed_run(files, COMPACT_BELOW_BYTES)
    })
}

/// Merges the run `pick` chooses, if any.
fn compact_run(
    inner: &Inner,
    what: &'static str,
    pick: impl FnOnce(&[Arc<ColdFile>]) -> Option<Vec<usize>>,
) -> Result<bool> {
    let _lane = inner.compaction_lane.lock();
    let files = inner.cold.read().files.clone();
    let Some(run) = pick(&files) else {
        return Ok(false);
    };
    let cutoff = retention_cutoff(inner);
    let started = Instant::now();
    let _span = tracing::info_span!("compaction", what, files = run.len()).entered();
    rewrite(inner, &files, &[run], &[], &|_, ts| ts < cutoff)?;
    Counters::add(&inner.metrics.compactions, 1);
    tracing::info!(millis = started.elapsed().as_millis() as u64, what, "compacted");
    Ok(true)
}

fn retention_cutoff(inner: &Inner) -> i64 {
    match inner.options.cold_retention {
        Some(keep) => {
            let keep = i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX);
            inner.options.clock.now().as_nanos().saturating_sub(keep)
        }
        None => i64::MIN,
    }
}

/// Drops whole files older than the retention, and rewrites files that straddle it, all with
/// one manifest write.
pub(crate) fn apply_retention(inner: &Inner) -> Result<()> {
    if inner.options.cold_retention.is_none() {
        return Ok(());
    }
    let cutoff = retention_cutoff(inner);
    let _lane = inner.compaction_lane.lock();
    let files = inner.cold.read().files.clone();
    let expired: Vec<usize> = (0..files.len()).filter(|&i| files[i].meta.max_ts < cutoff).collect();
    // Files holding some expired rows are rewritten each on its own.
    let runs: Vec<Vec<usize>> = (0..files.len())
        .filter(|&i| files[i].meta.min_ts < cutoff && files[i].meta.max_ts >= cutoff)
        .map(|i| vec![i])
        .collect();
    if expired.is_empty() && runs.is_empty() {
        return Ok(());
    }
    let _span = tracing::info_span!("retention", cutoff).entered();
    rewrite(inner, &files, &runs, &expired, &|_, ts| ts < cutoff)?;
    Counters::add(&inner.metrics.rewrites, 1);
    Ok(())
}

/// Removes `twin`'s rows in `[from, to)` written before the call, from every tier, for good.
pub(crate) fn delete_range(inner: &Inner, twin: TwinId, from: i64, to: i64) -> Result<()> {
    // Everything written so far goes cold (and out of the WAL), then the files holding the
    // twin's rows in the range are rewritten without them.
    flush(inner)?;
    let _lane = inner.compaction_lane.lock();
    let files = inner.cold.read().files.clone();
    let mut runs = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if has_rows_in(&f.segment, twin, from, to)? {
            runs.push(vec![i]);
        }
    }
    if runs.is_empty() {
        return Ok(());
    }
    let _span = tracing::info_span!("delete", twin, from, to).entered();
    rewrite(inner, &files, &runs, &[], &|t, ts| t == twin && ts >= from && ts < to)?;
    Counters::add(&inner.metrics.rewrites, 1);
    Ok(())
}

/// Does `segment` hold rows of `twin` in `[from, to)`?
fn has_rows_in(segment: &Segment, twin: TwinId, from: i64, to: i64) -> Result<bool> {
    let Some(chunk) = segment.chunk(twin)? else {
        return Ok(false);
    };
    let mut ts = Vec::new();
    for g in chunk.groups.iter().filter(|g| g.first_ts < to && g.last_ts >= from) {
        chunk.timestamps(g, &mut ts)?;
        if ts.iter().any(|&t| t >= from && t < to) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Computes the latest state of every twin whose cached one is older than the cold files
/// (after an open, a flush, a compaction), so that `latest` is a cache read for every twin,
/// not only for those asked before. Stops when the files change under it (the next round
/// starts over).
pub(crate) fn refresh_latest(inner: &Inner) -> Result<()> {
    let generation = inner.cold.read().generation;
    if inner.latest_done.load(Ordering::Acquire) == generation + 1 {
        return Ok(());
    }
    // The newest files first: recent data is what is asked for most.
    let files = inner.cold.read().files.clone();
    let mut budget = inner.options.preload_cold_bytes;
    for f in files.iter().rev() {
        let len = f.segment.len() as u64;
        if len > budget {
            break;
        }
        budget -= len;
        f.segment.preload();
    }
    drop(files);

    for entry in inner.catalog.all() {
        let cold = inner.cold.read();
        if cold.generation != generation {
            return Ok(());
        }
        let fresh = entry
            .data
            .cold_latest
            .lock()
            .as_ref()
            .is_some_and(|c| c.generation == generation);
        if fresh {
            continue;
        }
        let snapshot = inner.snapshots.begin();
        inner.fold_staging();
        let warm = entry.data.table.read();
        let view = crate::read::TwinView {
            entry: &entry,
            cold: &cold,
            frozen: cold.frozen_table(entry.id),
            warm: &warm,
            snapshot: snapshot.seq,
        };
        crate::read::state_at(&view, None)?;
    }
    inner.latest_done.store(generation + 1, Ordering::Release);
    Ok(())
}

/// No unflushed write: the value of [`Inner::oldest_warm_write`] while the warm tier is empty.
pub(crate) const NO_WARM_WRITE: i64 = i64::MAX;

/// Records that a write reached the warm tier at `now` (on [`Options::clock`]): the warm
/// window runs from the oldest such write since the last flush. Called by writers while they
/// hold the gate, so a flush's swap sees either the write and its time, or neither.
///
/// [`Options::clock`]: crate::Options::clock
pub(crate) fn note_warm_write(inner: &Inner, now: crate::model::Timestamp) {
    inner.oldest_warm_write.fetch_min(now.as_nanos(), Ordering::AcqRel);
}

/// Has the oldest unflushed write reached the warm window (on [`Options::clock`])?
///
/// [`Options::clock`]: crate::Options::clock
fn warm_window_passed(inner: &Inner) -> bool {
    let oldest = inner.oldest_warm_write.load(Ordering::Acquire);
    if oldest == NO_WARM_WRITE {
        return false;
    }
    let window = i64::try_from(inner.options.warm_window.as_nanos()).unwrap_or(i64::MAX);
    inner.options.clock.now().as_nanos().saturating_sub(oldest) >= window
}

/// One round of maintenance, as [`Store::run_maintenance`](crate::engine::Store::run_maintenance)
/// runs it on demand: the flush lane's round, then the compaction lane's.
pub(crate) fn run_round(inner: &Inner) -> Result<()> {
    flush_round(inner)?;
    compaction_round(inner)
}

/// The flush lane's round: a flush when one is due (the oldest unflushed write has reached
/// the warm window, the warm tier is past its budget, or an earlier flush failed half-way).
fn flush_round(inner: &Inner) -> Result<()> {
    // A failed flush left frozen tables: retry it without waiting for new rows.
    let due = inner.flush_lane.lock().pending_wal_cut.is_some()
        || inner.warm_estimate.load(Ordering::Acquire) > inner.options.warm_budget_bytes
        || warm_window_passed(inner);
    if due {
        flush(inner)?;
        if let Some(wake) = &inner.wake_compaction {
            let _ = wake.try_send(());
        }
    }
    Ok(())
}

/// The compaction lane's round: compaction of runs of small files, sealing of finished
/// partitions, retention, and the refresh of cached latest states.
fn compaction_round(inner: &Inner) -> Result<()> {
    compact(inner, COMPACT_MIN_RUN, Some(COMPACT_SIZE_RATIO))?;
    seal(inner)?;
    apply_retention(inner)?;
    refresh_latest(inner)
}

/// Starts the thread that folds staged rows into the warm tables when a writer wakes it
/// (see the `staging` module), so that the fold is off the writers' path. Stops when the
/// store is dropped.
pub(crate) fn spawn_folder(
    inner: Weak<Inner>,
    wake: crossbeam_channel::Receiver<()>,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("twinstore-fold".into())
        .spawn(move || {
            for () in wake.iter() {
                let Some(inner) = inner.upgrade() else { return };
                inner.fold_staging();
            }
        })
        .map_err(|e| Error::io("twinstore-fold", e))
}

/// Starts a lane's background thread: a round at once (for the compaction lane, the latest
/// states of a reopened store), then every half second or when woken (the flush lane by a
/// writer past the memory budget, the compaction lane by a flush). Stops when the store is
/// dropped.
pub(crate) fn spawn(
    lane: Lane,
    inner: Weak<Inner>,
    wake: crossbeam_channel::Receiver<()>,
) -> Result<std::thread::JoinHandle<()>> {
    let (name, round): (&str, fn(&Inner) -> Result<()>) = match lane {
        Lane::Flush => ("twinstore-flush", flush_round),
        Lane::Compaction => ("twinstore-compaction", compaction_round),
    };
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut first = true;
            let mut failures = 0u32;
            loop {
                // After failures (a full disk), rounds back off up to 8 s.
                let pause = if first { 0 } else { 500u64 << failures.min(4) };
                match wake.recv_timeout(Duration::from_millis(pause)) {
                    Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                }
                let Some(inner) = inner.upgrade() else { return };
                let result = round(&inner);
                first = false;
                let mut error = inner.maintenance_errors[lane as usize].lock();
                if let Err(e) = result {
                    // Kept for `Store::maintenance_error`; data stays in the warm tier and the
                    // WAL, and the next round retries.
                    tracing::warn!(error = %e, failures, lane = ?lane, "background maintenance failed; rows stay in the WAL and memory");
                    Counters::add(&inner.metrics.maintenance_failures, 1);
                    *error = Some(e.to_string());
                    failures = failures.saturating_add(1);
                } else {
                    error.take();
                    failures = 0;
                }
            }
        })
        .map_err(|e| Error::io(name, e))
}
