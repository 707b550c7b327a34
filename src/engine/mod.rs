//! The store: ties ingest, catalog, WAL, warm tier and queries together.

mod backup;
mod ingest_reader;
mod maintenance;
mod metrics;
mod options;
mod partition;
mod snapshot;
mod staging;
mod tsm;
mod tsm_json;
mod tsm_query;
mod verify;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};

use parking_lot::{Condvar, Mutex, RwLock};

pub use backup::BackupReport;
pub use ingest_reader::READER_CHUNK_BYTES;
pub use metrics::{Metrics, QueryKind, QueryStats};
pub use options::{Clock, Options};
use snapshot::Snapshots;
pub use tsm::ItemResults;
pub use verify::{Problem, VerifyReport};

use crate::read::{Twin, TwinData};

/// The catalog as the engine keeps it: each twin with its warm rows and read caches.
pub(crate) type Catalog = crate::catalog::Catalog<TwinData>;
use crate::cold::{ColdState, Manifest};
use crate::error::RecordError;
use crate::error::{Error, Result};
use crate::ingest::{InputFormat, ParsedBatch};
use crate::model::{Record, Timestamp};
use crate::query::tsi_answer::TsiAnswer;
use crate::query::{self, Event, EventsQuery, PropertyInfo, TwinInfo, TwinState};
use crate::wal::{self, Wal};

/// The pages of a `getEvents` query ([`Store::get_events_pages`]).
pub struct EventPages {
    store: Store,
    query: crate::query::GetEventsQuery,
    done: bool,
}

impl Iterator for EventPages {
    type Item = Result<crate::query::Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let page = self.store.get_events(&self.query);
        match &page {
            Ok(frame) => match &frame.continuation_token {
                Some(token) => self.query.continuation = Some(token.clone()),
                None => self.done = true,
            },
            Err(_) => self.done = true,
        }
        Some(page)
    }
}

/// Per-call ingest settings for [`Store::ingest`].
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// The input format.
    pub format: InputFormat,
    /// Override the store's [`Options::strict`] for this call.
    pub strict: Option<bool>,
    /// Line number of the input's first line (for error messages when a file is fed in
    /// chunks); 0 is read as 1.
    pub first_line: u64,
}

/// What one write call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Records (events) written.
    pub records: u64,
    /// Property values written.
    pub points: u64,
    /// Inputs skipped by design (ADT events of types twinstore does not use, patches with
    /// no kept operation).
    pub skipped: u64,
    /// ADT lifecycle and relationship events (Twin.Create, Twin.Delete,
    /// Relationship.Create/Update/Delete) applied to the Time Series Model.
    pub model_events: u64,
    /// Rejected records, in input order (empty in strict mode, which fails instead).
    pub rejected: Vec<RecordError>,
}

impl IngestReport {
    /// Adds another report's counts to this one.
    pub fn merge(&mut self, other: IngestReport) {
        self.records += other.records;
        self.points += other.points;
        self.skipped += other.skipped;
        self.model_events += other.model_events;
        self.rejected.extend(other.rejected);
    }
}

/// Sizes of the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Twins known.
    pub twins: u64,
    /// Events held.
    pub records: u64,
    /// Property values held.
    pub points: u64,
    /// Heap bytes of the warm tier (rows, columns and their indexes).
    pub warm_bytes: u64,
    /// Bytes of the cold tier's segment files.
    pub cold_bytes: u64,
    /// Live segment files.
    pub files: u64,
    /// Bytes of decoded blocks in the block cache (at most about
    /// [`Options::block_cache_bytes`]). With `warm_bytes`, the memory the store itself
    /// holds; the segment files are mapped, and the OS keeps what is read of them resident
    /// as page cache.
    pub block_cache_bytes: u64,
    /// Bytes of the store directory on disk (WAL, manifest, segment files); 0 when it could
    /// not be listed or sized (the error is logged; [`Store::disk_bytes`] returns it).
    pub disk_bytes: u64,
}

impl Stats {
    /// On-disk bytes of the whole store directory per point held (0 when empty).
    pub fn bytes_per_point(&self) -> f64 {
        if self.points == 0 {
            0.0
        } else {
            self.disk_bytes as f64 / self.points as f64
        }
    }
}

/// Directory names inside a store.
const WAL_DIR: &str = "wal";
const LOCK_FILE: &str = "LOCK";

/// The shared state of one open store. Its fields are private to the engine: other
/// stages get what they need through the engine's calls (queries get a `read::TwinView`).
///
/// Lock order (docs/DESIGN.md, "Lock order"): `flush_lane` or `compaction_lane` (never
/// both) → `manifest` → `gate` → `cold` → a twin's table → `flushed_lock`. A flush takes
/// them in that order; a writer holds `gate` (shared) then tables; a reader holds `cold`
/// (shared) then one table. No code path takes an earlier lock while holding a later one.
pub(crate) struct Inner {
    dir: PathBuf,
    options: Options,
    catalog: Catalog,
    wal: Wal,
    snapshots: Snapshots,
    /// The cold tier as readers see it. Readers hold the read lock while they read a twin's
    /// warm rows too, so a flush's swap of warm tables is atomic for them.
    cold: RwLock<ColdState>,
    /// Writers hold it (shared) from WAL append to visibility; a flush takes it exclusively
    /// to cut the warm tier at a sequence number.
    gate: RwLock<()>,
    /// Rows of recent write calls not yet in the warm tables (see the `staging` module).
    staging: staging::Staging,
    /// The flush lane: one flush at a time (see the `maintenance` module).
    flush_lane: Mutex<maintenance::FlushLane>,
    /// The compaction lane: compaction, sealing, retention and deletes, one at a time.
    compaction_lane: Mutex<()>,
    /// Held while a lane installs a new file list and writes the manifest.
    manifest: Mutex<maintenance::ManifestState>,
    /// Counters for [`Store::metrics`].
    metrics: metrics::Counters,
    /// Per lane, the last background maintenance failure, cleared by a successful round.
    maintenance_errors: [Mutex<Option<String>>; 2],
    /// Estimated bytes written to the warm tier since the last flush.
    warm_estimate: AtomicU64,
    /// When (nanoseconds on [`Options::clock`]) the oldest write still in the warm tier was
    /// made; [`maintenance::NO_WARM_WRITE`] when it is empty. The warm window runs from here.
    oldest_warm_write: AtomicI64,
    /// One more than the cold generation whose latest states the background thread has
    /// computed for every twin (0: none yet).
    latest_done: AtomicU64,
    /// Signalled after each flush, for writers waiting on the memory budget.
    flushed: Condvar,
    flushed_lock: Mutex<()>,
    /// Wakes the flush lane's thread.
    wake: Option<crossbeam_channel::Sender<()>>,
    /// Wakes the compaction lane's thread.
    wake_compaction: Option<crossbeam_channel::Sender<()>>,
    /// Wakes the thread that folds staged rows into the warm tables.
    wake_fold: Option<crossbeam_channel::Sender<()>>,
    /// The Time Series Model and its file.
    tsm: tsm::TsmState,
    /// The `LOCK` file's lock, held for the store's lifetime.
    _lock: crate::vfs::FileLock,
}

impl Inner {
    /// Moves the staged rows of recent writes into the warm tables (see the `staging`
    /// module). Readers call it after taking their snapshot, flushes before their cut.
    fn fold_staging(&self) {
        self.staging.fold(|| self.snapshots.min_active());
    }
}

/// Stops and joins the maintenance threads when the last handle of a store is dropped
/// (dropping the senders disconnects their channels).
struct Background {
    stop: Vec<crossbeam_channel::Sender<()>>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.clear();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// An open twinstore database. Cheap to clone; every clone is the same store, and all
/// methods take `&self`: share it between threads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    _background: Arc<Background>,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, replaying its write-ahead log.
    ///
    /// Fails with [`Error::Locked`] when another process or handle has it open, and with
    /// [`Error::Corruption`] when the log is damaged other than by a torn last frame (which
    /// is cut off: the write it held was never acknowledged).
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        let wal_dir = dir.join(WAL_DIR);
        let vfs = options.vfs.clone();
        vfs.create_dir_all(&wal_dir).map_err(|e| Error::io(&wal_dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = match vfs.lock(&lock_path) {
            Ok(lock) => lock,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Err(Error::Locked { path: dir }),
            Err(e) => return Err(Error::io(&lock_path, e)),
        };
        let catalog = Catalog::default();
        let manifest = Manifest::read(&*vfs, &dir)?.unwrap_or_default();
        maintenance::import_catalog(&catalog, &manifest.twins)
            .map_err(|reason| Error::corruption(dir.join(crate::cold::manifest::MANIFEST_FILE), 0, reason))?;
        let files = maintenance::open_files(&vfs, &dir, &manifest)?;
        let tsm = tsm::TsmState::open(&*vfs, &dir)?;
        // `wal/` and `cold/` may have just been made: until the store's directory is synced
        // their entries are not durable, and a machine crash would take every file in them
        // (acknowledged writes included) with them. The directory holding the store is
        // synced too, for a store this call created; best effort, as it lies outside the
        // store and may not be readable.
        crate::vfs::sync_dir(&*vfs, &dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = vfs.sync_dir(parent);
        }
        let checkpoint = manifest.checkpoint;
        // Frames up to the checkpoint are in the cold files already.
        let outcome = wal::replay(&*vfs, &wal_dir, |seq, payload| {
            if seq <= checkpoint {
                return Ok(());
            }
            write::replay_frame(&catalog, seq, payload)
        })?;
        match &outcome.torn_tail {
            Some((path, offset, reason)) => tracing::warn!(
                frames = outcome.frames,
                path = %path.display(),
                offset,
                reason = %reason,
                "recovered: replayed the log and cut a torn last frame (an unacknowledged write)"
            ),
            None => tracing::info!(frames = outcome.frames, files = files.len(), "opened"),
        }
        let next_seq = outcome.next_seq.max(checkpoint + 1);
        // No reader exists yet: every replayed row is visible to all, so the tables need no
        // per-batch bookkeeping for them (reads of a replayed table skip a search per row).
        for entry in catalog.all() {
            entry.data.table.write().settle(next_seq - 1);
        }
        let wal = Wal::create(vfs, &wal_dir, options.durability, outcome.next_log_file, next_seq)?;
        let snapshots = Snapshots::new(next_seq - 1);
        let (wake, woken) = crossbeam_channel::bounded(1);
        let (wake_compaction, compaction_woken) = crossbeam_channel::bounded(1);
        let (wake_fold, fold_woken) = crossbeam_channel::bounded(1);
        let background = options.background_maintenance;
        let warm_estimate = catalog
            .all()
            .iter()
            .map(|e| e.data.table.read().heap_bytes() as u64)
            .sum::<u64>();
        // Rows replayed from the WAL count as written at the open: their original arrival
        // times are not logged, and a store reopened after a long stop should not flush
        // (and make a small file) at once.
        let oldest_warm_write = if warm_estimate > 0 {
            options.clock.now().as_nanos()
        } else {
            maintenance::NO_WARM_WRITE
        };
        let block_cache_bytes = usize::try_from(options.block_cache_bytes).unwrap_or(usize::MAX);
        let inner = Arc::new(Inner {
            dir,
            options,
            catalog,
            wal,
            snapshots,
            cold: RwLock::new(ColdState {
                files,
                frozen: None,
                cache: Arc::new(crate::cold::cache::BlockCache::new(block_cache_bytes)),
                generation: 0,
            }),
            gate: RwLock::new(()),
            staging: staging::Staging::default(),
            flush_lane: Mutex::new(maintenance::FlushLane { pending_wal_cut: None }),
            compaction_lane: Mutex::new(()),
            manifest: Mutex::new(maintenance::ManifestState {
                checkpoint,
                next_file_id: manifest.next_file_id.max(1),
            }),
            maintenance_errors: Default::default(),
            metrics: metrics::Counters::default(),
            warm_estimate: AtomicU64::new(warm_estimate),
            oldest_warm_write: AtomicI64::new(oldest_warm_write),
            latest_done: AtomicU64::new(0),
            flushed: Condvar::new(),
            flushed_lock: Mutex::new(()),
            wake: background.then(|| wake.clone()),
            wake_compaction: background.then(|| wake_compaction.clone()),
            wake_fold: background.then(|| wake_fold.clone()),
            tsm,
            _lock: lock,
        });
        let mut handles = Vec::new();
        if background {
            use maintenance::Lane;
            handles.push(maintenance::spawn(Lane::Flush, Arc::downgrade(&inner), woken)?);
            handles.push(maintenance::spawn(
                Lane::Compaction,
                Arc::downgrade(&inner),
                compaction_woken,
            )?);
            handles.push(maintenance::spawn_folder(Arc::downgrade(&inner), fold_woken)?);
        }
        Ok(Store {
            inner,
            _background: Arc::new(Background {
                stop: vec![wake, wake_compaction, wake_fold],
                handles,
            }),
        })
    }

    /// Copies a consistent snapshot of the store into `dest` (created if needed; it must be
    /// empty) while writes, flushes and compactions go on: every write acknowledged before
    /// the call is in it, and any later one either whole or not at all. The copy is a store
    /// directory: [`Store::open`] on it (or on a copy of it) restores. See
    /// `docs/RELIABILITY.md`.
    ///
    /// It flushes first, so the copy needs no log, then copies the segment files (which are
    /// never modified) and writes a manifest for them. A damaged segment file fails the
    /// backup with its file and offset.
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<BackupReport> {
        backup::backup(&self.inner, dest.as_ref())
    }

    /// Moves every row written so far to the cold tier, durably, and truncates the WAL.
    /// The background flush thread does this on its own (see [`Options::warm_window`] and
    /// [`Options::warm_budget_bytes`]); call it before a backup or at shutdown to leave a
    /// store that opens without replaying a log.
    pub fn flush(&self) -> Result<()> {
        maintenance::flush(&self.inner)
    }

    /// Runs one round of what the background threads do, now, on the calling thread: a
    /// flush if one is due (the oldest unflushed write has reached [`Options::warm_window`]
    /// on [`Options::clock`], the warm tier is past [`Options::warm_budget_bytes`], or an
    /// earlier flush failed half-way), compaction of runs of small files, retention
    /// ([`Options::cold_retention`]) and the refresh of cached latest states.
    ///
    /// With [`Options::background_maintenance`] off, call it periodically to get the same
    /// behaviour on your own schedule (the background threads run their rounds every half
    /// second); with a manual [`Clock`] it makes the warm window testable without waiting.
    /// Unlike the background threads, it returns a failure instead of recording it for
    /// [`Store::maintenance_error`].
    pub fn run_maintenance(&self) -> Result<()> {
        maintenance::run_round(&self.inner)
    }

    /// Merges small segment files until each time partition (a UTC day) has one, and files
    /// written before partitioning (which span days) have merged with their neighbours of
    /// the same kind; files of 256 MiB or more stay as they are. The background compaction
    /// merges a partition's files when four or more of similar size accumulate, and seals a
    /// finished day into one file. Files flushed while the call runs may be left for later.
    /// Returns whether files were merged.
    pub fn compact(&self) -> Result<bool> {
        let mut merged = false;
        // Each round merges every partition's files at once (all or nothing after a crash) and
        // leaves at least one file fewer; flushes running meanwhile (the flush lane)
        // add files, so the work is bounded by the files there at the call.
        let files = self.inner.cold.read().files.len();
        for _ in 0..files {
            if !maintenance::compact_all(&self.inner, 2, None)? {
                break;
            }
            merged = true;
        }
        Ok(merged)
    }

    /// Deletes every row of `twin` written before the call, from every tier, for good:
    /// the files holding them are rewritten and the WAL frames holding them removed.
    pub fn delete_twin(&self, twin: &str) -> Result<()> {
        self.delete_range(twin, Timestamp::MIN, Timestamp::MAX)
    }

    /// Deletes the rows of `twin` with times in `[from, to)` written before the call, for
    /// good (see [`Store::delete_twin`]).
    pub fn delete_range(&self, twin: &str, from: Timestamp, to: Timestamp) -> Result<()> {
        let entry = self.twin(twin)?;
        maintenance::delete_range(&self.inner, entry.id, from.as_nanos(), to.as_nanos())
    }

    /// Drops cold data older than [`Options::cold_retention`] now (the background thread
    /// does this on its own).
    pub fn apply_retention(&self) -> Result<()> {
        maintenance::apply_retention(&self.inner)
    }

    /// Where the bytes of the cold tier go (reads every file's directories).
    pub fn cold_size_breakdown(&self) -> Result<crate::cold::segment::SizeBreakdown> {
        let mut total = crate::cold::segment::SizeBreakdown::default();
        for f in &self.inner.cold.read().files {
            total.add(&f.segment.size_breakdown()?);
        }
        Ok(total)
    }

    /// The last error of the background maintenance, if its last round failed (a full disk,
    /// say). Nothing is lost meanwhile: unflushed rows stay in memory and in the WAL, and the
    /// thread retries, backing off up to 8 s between rounds; a successful round clears it.
    pub fn maintenance_error(&self) -> Option<String> {
        self.inner.maintenance_errors.iter().find_map(|e| e.lock().clone())
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Ingests NDJSON flattened twin-update records (see [`InputFormat::Flat`]).
    pub fn ingest_ndjson(&self, input: &[u8]) -> Result<IngestReport> {
        self.ingest(input, &IngestOptions::default())
    }

    /// Ingests NDJSON Azure Digital Twins change notifications (see [`InputFormat::Adt`]).
    pub fn ingest_adt(&self, input: &[u8]) -> Result<IngestReport> {
        self.ingest(
            input,
            &IngestOptions {
                format: InputFormat::Adt,
                ..Default::default()
            },
        )
    }

    /// Ingests NDJSON input. Bad lines are reported in the result (or, strict, refuse the
    /// whole call with [`Error::BatchRejected`]); everything else is written as one batch,
    /// visible to readers all at once.
    pub fn ingest(&self, input: &[u8], opts: &IngestOptions) -> Result<IngestReport> {
        let strict = opts.strict.unwrap_or(self.inner.options.strict);
        let batches = self.parse(input, opts);
        self.write_parsed(batches, strict)
    }

    /// Ingests one ADT notification in the AMQP form (Event Hubs, Service Bus): its body (the
    /// `{modelId, patch}` object) and its application properties (`cloudEvents:subject`,
    /// `cloudEvents:time`, `cloudEvents:type`, ...). `time`, when given, overrides the event
    /// time.
    pub fn ingest_adt_message(
        &self,
        body: &[u8],
        properties: &[(&str, &str)],
        time: Option<Timestamp>,
    ) -> Result<IngestReport> {
        let mut batch = ParsedBatch::default();
        let settings = crate::ingest::AdtSettings {
            limits: &self.inner.options.limits,
            infer_datetime: self.inner.options.infer_datetime,
            big_integer: crate::ingest::overflowing_integer_literal(body).is_some(),
        };
        crate::ingest::parse_adt_message(body, properties, time, &settings, &mut batch);
        self.write_parsed(vec![batch], self.inner.options.strict)
    }

    /// Writes typed records as one batch. Invalid records are reported in the result (strict:
    /// the call fails and nothing is written); their `line` is the 1-based index in `records`.
    pub fn write(&self, records: &[Record]) -> Result<IngestReport> {
        let mut batch = ParsedBatch::default();
        batch.push_typed(&self.inner.options.limits, records);
        self.write_parsed(vec![batch], self.inner.options.strict)
    }

    /// Sets a twin's model id (DTMI), creating the twin if new. ADT ingest sets it from each
    /// event's `modelId`.
    pub fn set_model(&self, twin: &str, model: &str) -> Result<()> {
        self.inner.options.limits.check_twin(twin).map_err(|reason| {
            Error::InvalidRecord(RecordError {
                line: 1,
                twin: Some(twin.to_string()),
                field: Some("$dtId".into()),
                reason,
            })
        })?;
        write::write_model(&self.inner, twin, model)
    }

    /// Raw events of one twin (see [`EventsQuery`]).
    pub fn events(&self, query: &EventsQuery) -> Result<Vec<Event>> {
        self.timed(
            QueryKind::Events,
            || format!("{query:?}"),
            || {
                let entry = self.twin(&query.twin)?;
                self.read(&entry, |view| query::events(view, query))
            },
        )
    }

    /// Bucketed aggregates of one numeric property of one twin (see [`AggregateQuery`](crate::query::AggregateQuery)).
    pub fn aggregate(&self, query: &crate::query::AggregateQuery) -> Result<crate::query::SeriesResult> {
        self.timed(
            QueryKind::Aggregate,
            || format!("{query:?}"),
            || {
                let entry = self.twin(&query.twin)?;
                self.read(&entry, |view| query::aggregate(view, query))
            },
        )
    }

    /// TSI `getEvents`: raw events of one twin with a TSX filter, a projection and `take`,
    /// one page at a time (see [`GetEventsQuery`](crate::query::GetEventsQuery)).
    pub fn get_events(&self, query: &crate::query::GetEventsQuery) -> Result<crate::query::Frame> {
        self.timed(
            QueryKind::GetEvents,
            || format!("{query:?}"),
            || {
                let entry = self.twin(&query.twin)?;
                let query = self.bind_events_filter(query)?;
                self.read(&entry, |view| query::series::get_events(view, &query))
            },
        )
    }

    /// Every page of a `getEvents` query, following the continuation tokens (up to the
    /// query's `take`).
    pub fn get_events_pages(&self, query: crate::query::GetEventsQuery) -> EventPages {
        EventPages {
            store: self.clone(),
            query,
            done: false,
        }
    }

    /// TSI `getSeries`: variables computed at each event of one twin.
    pub fn get_series(&self, query: &crate::query::GetSeriesQuery) -> Result<crate::query::Frame> {
        self.timed(
            QueryKind::GetSeries,
            || format!("{query:?}"),
            || {
                let entry = self.twin(&query.twin)?;
                let query = self.bind_series_filter(self.resolve_series(query)?)?;
                self.read(&entry, |view| query::series::get_series(view, &query))
            },
        )
    }

    /// TSI `aggregateSeries`: variables over epoch-aligned buckets, for one twin, many, or a
    /// merged fleet. One frame per selected twin, or one with `twin: None` when merged.
    pub fn aggregate_series(&self, query: &crate::query::AggregateSeriesQuery) -> Result<Vec<crate::query::TwinFrame>> {
        self.timed(
            QueryKind::AggregateSeries,
            || format!("{query:?}"),
            || {
                let twins = self.select(&query.twins)?;
                self.read_store(|store| {
                    self.aggregate_by_type(&twins, query, |twins, query| {
                        self.aggregate_by_instance_filter(twins, query, |twins, query| {
                            query::series::aggregate_series(store, twins, query)
                        })
                    })
                })
            },
        )
    }

    /// Event counts over time (TSI `availability`) of the selected twins: over `span`
    /// (inclusive; `None`: everything) in buckets of `interval` (`None`: a width giving at
    /// most 200 buckets).
    pub fn availability(
        &self,
        twins: &crate::query::TwinSelector,
        span: Option<(Timestamp, Timestamp)>,
        interval: Option<std::time::Duration>,
    ) -> Result<crate::query::Availability> {
        self.timed(
            QueryKind::Catalog,
            || format!("availability {twins:?} {span:?}"),
            || {
                let entries = self.select(twins)?;
                // TSI's availability range is inclusive at both ends.
                let span = span.map(|(a, b)| (a, b.saturating_add_nanos(1)));
                self.read_store(|store| query::series::availability(store, &entries, span, interval))
            },
        )
    }

    /// The properties and types seen in `[from, to)` (TSI `eventSchema`) of the selected twins.
    pub fn event_schema(
        &self,
        twins: &crate::query::TwinSelector,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<crate::query::SchemaProperty>> {
        self.timed(
            QueryKind::Catalog,
            || format!("eventSchema {twins:?} {from}..{to}"),
            || {
                let entries = self.select(twins)?;
                self.read_store(|store| query::series::event_schema(store, &entries, from, to))
            },
        )
    }

    /// The "last known value" of property `name` (any type) at the left edge of each bucket
    /// of `[from, to)`: the step series twin users want more than raw events. `None` before
    /// the first value and after a removal.
    pub fn last_known(
        &self,
        twin: &str,
        name: &str,
        from: Timestamp,
        to: Timestamp,
        interval: std::time::Duration,
    ) -> Result<Vec<(Timestamp, Option<crate::model::Value>)>> {
        self.timed(
            QueryKind::State,
            || format!("last_known {twin:?} {name:?} {from}..{to}"),
            || {
                let entry = self.twin(twin)?;
                self.read(&entry, |view| query::series::last_known(view, name, from, to, interval))
            },
        )
    }

    /// Answers a TSI Query API request body (`getEvents`, `getSeries`, `aggregateSeries`,
    /// and the extensions `availability` and `eventSchema`) with TSI's response JSON.
    pub fn query_json(&self, body: &[u8]) -> Result<serde_json::Value> {
        self.query_answer(body).map(TsiAnswer::into_value)
    }

    /// [`Store::query_json`]'s answer before it becomes a JSON value: the server writes it
    /// straight into the response's bytes.
    pub(crate) fn query_answer(&self, body: &[u8]) -> Result<TsiAnswer> {
        self.timed(
            QueryKind::Json,
            || String::from_utf8_lossy(&body[..body.len().min(2048)]).into_owned(),
            || self.answer(body),
        )
    }

    fn answer(&self, body: &[u8]) -> Result<TsiAnswer> {
        use query::tsi::{self, Request};
        let (request, store_type) = tsi::parse(body)?;
        // WarmStore: only what is younger than the warm window.
        let warm_from = (store_type.as_deref() == Some("warmstore")).then(|| {
            let window = i64::try_from(self.inner.options.warm_window.as_nanos()).unwrap_or(i64::MAX);
            Timestamp::from_nanos(self.inner.options.clock.now().as_nanos().saturating_sub(window))
        });
        let clamp = |from: &mut Timestamp, to: &Timestamp| {
            if let Some(w) = warm_from {
                *from = (*from).max(w).min(*to);
            }
        };
        Ok(match request {
            Request::Events(mut q) => {
                clamp(&mut q.from, &q.to);
                TsiAnswer::Frame(self.get_events(&q)?)
            }
            Request::Series(mut q) => {
                clamp(&mut q.from, &q.to);
                if q.projected.is_none() && q.variables.is_empty() {
                    q.projected = Some(self.tsi_default_projection(&q.variables, &[&q.twin], false));
                }
                TsiAnswer::Frame(self.get_series(&q)?)
            }
            Request::Aggregate(mut q) => {
                clamp(&mut q.from, &q.to);
                if q.projected.is_none() && q.variables.is_empty() {
                    let twins = self.select(&q.twins)?;
                    let names: Vec<&str> = twins.iter().map(|t| &*t.name).collect();
                    q.projected = Some(self.tsi_default_projection(&q.variables, &names, true));
                }
                let single = q.merge || matches!(&q.twins, crate::query::TwinSelector::Ids(ids) if ids.len() == 1);
                TsiAnswer::Series {
                    frames: self.aggregate_series(&q)?,
                    single,
                }
            }
            Request::Availability { twins, span, interval } => {
                TsiAnswer::Json(tsi::availability_json(&self.availability(&twins, span, interval)?))
            }
            Request::Schema { twins, from, to } => {
                TsiAnswer::Json(tsi::schema_json(&self.event_schema(&twins, from, to)?))
            }
        })
    }

    /// The latest value of each property of `twin` (removed properties left out).
    pub fn latest(&self, twin: &str) -> Result<TwinState> {
        self.timed(
            QueryKind::State,
            || format!("latest {twin:?}"),
            || {
                let entry = self.twin(twin)?;
                self.read(&entry, |view| query::state_at(view, None))
            },
        )
    }

    /// The latest value of each property of each of `twins`, at one snapshot.
    pub fn latest_many<S: AsRef<str>>(&self, twins: &[S]) -> Result<Vec<TwinState>> {
        self.timed(
            QueryKind::State,
            || format!("latest of {} twins", twins.len()),
            || {
                let entries = twins
                    .iter()
                    .map(|t| self.twin(t.as_ref()))
                    .collect::<Result<Vec<_>>>()?;
                self.read_store(|store| {
                    entries
                        .iter()
                        .map(|e| store.with_twin(e, |view| query::state_at(view, None)))
                        .collect()
                })
            },
        )
    }

    /// The state of `twin` at instant `at`: each property's last value at or before `at`.
    pub fn state_at(&self, twin: &str, at: Timestamp) -> Result<TwinState> {
        self.timed(
            QueryKind::State,
            || format!("state_at {twin:?} {at}"),
            || {
                let entry = self.twin(twin)?;
                self.read(&entry, |view| query::state_at(view, Some(at)))
            },
        )
    }

    /// The properties of `twin` and their types, with value counts.
    pub fn schema(&self, twin: &str) -> Result<Vec<PropertyInfo>> {
        let entry = self.twin(twin)?;
        self.read(&entry, query::schema)
    }

    /// Every twin, in order of first appearance.
    pub fn twins(&self) -> Result<Vec<TwinInfo>> {
        self.inner
            .catalog
            .all()
            .iter()
            .map(|e| self.read(e, query::twin_info))
            .collect()
    }

    /// One twin's summary.
    pub fn twin_info(&self, twin: &str) -> Result<TwinInfo> {
        let entry = self.twin(twin)?;
        self.read(&entry, query::twin_info)
    }

    /// Runs a query, counting it in [`Store::metrics`] and logging it when slow.
    fn timed<T>(&self, kind: QueryKind, what: impl Fn() -> String, f: impl FnOnce() -> T) -> T {
        self.inner.metrics.timed(kind, self.inner.options.slow_query, &what, f)
    }

    /// What the store has done since it was opened: records and bytes written, flushes,
    /// compactions, and per kind of query the count, total and worst time and how many were
    /// slower than [`Options::slow_query`] (each of those is also logged as a `tracing`
    /// warning). `query_json` counts as `Json` and as the kind of query its body runs.
    pub fn metrics(&self) -> Metrics {
        self.inner.metrics.snapshot(self.inner.wal.bytes_written())
    }

    /// Runs `f` on a consistent view of one twin: the cold files, the tables a flush is
    /// writing out, and the warm rows of the current snapshot.
    fn read<T>(&self, entry: &Twin, f: impl FnOnce(&crate::read::TwinView<'_>) -> Result<T>) -> Result<T> {
        // The cold lock first: a snapshot taken under it sees every batch in its files.
        let cold = self.inner.cold.read();
        let snapshot = self.inner.snapshots.begin();
        // After the snapshot: every batch it includes has its rows staged or in the tables.
        self.inner.fold_staging();
        let warm = entry.data.table.read();
        let view = crate::read::TwinView {
            entry,
            cold: &cold,
            frozen: cold.frozen_table(entry.id),
            warm: &warm,
            snapshot: snapshot.seq,
        };
        f(&view)
    }

    /// Runs `f` on a consistent view of the whole store (one snapshot for every twin).
    fn read_store<T>(&self, f: impl FnOnce(&query::series::StoreView<'_>) -> Result<T>) -> Result<T> {
        let cold = self.inner.cold.read();
        let snapshot = self.inner.snapshots.begin();
        self.inner.fold_staging();
        let view = query::series::StoreView {
            cold: &cold,
            snapshot: snapshot.seq,
        };
        f(&view)
    }

    /// The ids of the twins a selector names (see [`Store::select`]).
    #[cfg(feature = "parquet")]
    pub(crate) fn select_ids(&self, selector: &crate::query::TwinSelector) -> Result<Vec<String>> {
        Ok(self.select(selector)?.iter().map(|e| e.name.to_string()).collect())
    }

    /// The twins a selector names: unknown ids are an error; a prefix or model matching
    /// nothing selects nothing.
    fn select(&self, selector: &crate::query::TwinSelector) -> Result<Vec<Arc<Twin>>> {
        use crate::query::TwinSelector;
        Ok(match selector {
            TwinSelector::Ids(ids) => ids.iter().map(|id| self.twin(id)).collect::<Result<_>>()?,
            TwinSelector::Prefix(p) => self
                .inner
                .catalog
                .all()
                .into_iter()
                .filter(|e| e.name.starts_with(p.as_str()))
                .collect(),
            TwinSelector::Model(m) => self
                .inner
                .catalog
                .all()
                .into_iter()
                .filter(|e| e.meta.lock().model.as_deref() == Some(m.as_str()))
                .collect(),
            TwinSelector::Hierarchy { .. } | TwinSelector::Type(_) => {
                let matches = self.model_selection(selector)?;
                self.inner
                    .catalog
                    .all()
                    .into_iter()
                    .filter(|e| matches(&e.name))
                    .collect()
            }
            TwinSelector::All => self.inner.catalog.all(),
        })
    }

    /// Reads every byte the store depends on (the WAL, the manifest, every block of every
    /// segment file) and reports every problem with its file and offset, without stopping at
    /// the first. Writers pause while the WAL is read; queries go on. See `twinstore check`.
    pub fn verify(&self) -> Result<VerifyReport> {
        verify::verify(&self.inner)
    }

    /// Store sizes.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        let cold = self.inner.cold.read();
        self.inner.fold_staging();
        for entry in self.inner.catalog.all() {
            let table = entry.data.table.read();
            stats.twins += 1;
            stats.records += table.rows() as u64;
            stats.points += table.points();
            stats.warm_bytes += table.heap_bytes() as u64;
            if let Some(frozen) = cold.frozen_table(entry.id) {
                stats.records += frozen.rows() as u64;
                stats.points += frozen.points();
                stats.warm_bytes += frozen.heap_bytes() as u64;
            }
        }
        stats.block_cache_bytes = cold.cache.bytes() as u64;
        for f in &cold.files {
            stats.records += f.meta.rows;
            stats.points += f.meta.points;
            stats.cold_bytes += f.meta.bytes;
            stats.files += 1;
        }
        drop(cold);
        stats.disk_bytes = self.disk_bytes().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "store size unknown: Stats::disk_bytes reads 0");
            0
        });
        stats
    }

    /// Bytes of the store directory on disk: every file under it (WAL, manifest, segment
    /// files, `LOCK`), listed and sized through the store's [`Vfs`](crate::vfs::Vfs). A file
    /// deleted between the listing and its sizing (the WAL cut after a flush, a file replaced
    /// by a compaction) counts as gone; any other failure is an error naming the directory or
    /// file. [`Store::stats`] reports the same figure, or 0 when this fails.
    pub fn disk_bytes(&self) -> Result<u64> {
        dir_bytes(&*self.inner.options.vfs, &self.inner.dir)
    }

    /// Makes every acknowledged write durable now (meaningful with `GroupCommit`/`NoSync`).
    /// A failure makes the store read-only ([`Error::ReadOnly`]) until it is reopened: the
    /// writes it was to make durable may not be.
    pub fn sync(&self) -> Result<()> {
        self.inner.wal.sync()
    }

    fn twin(&self, twin: &str) -> Result<Arc<Twin>> {
        self.inner
            .catalog
            .get(twin)
            .ok_or_else(|| Error::UnknownTwin(twin.to_string()))
    }

    /// Parses `input`, on several threads when it is large.
    fn parse<'a>(&self, input: &'a [u8], opts: &IngestOptions) -> Vec<ParsedBatch<'a>> {
        let first_line = opts.first_line.max(1);
        let threads = self.inner.options.ingest_threads.max(1);
        // Below a few MB a second thread costs more than it saves.
        let chunks = if input.len() < (4 << 20) { 1 } else { threads };
        let pieces = split_lines(input, chunks, first_line);
        let parse_one =
            |(piece, line): (&'a [u8], u64)| write::parse_input(&self.inner.options, opts.format, piece, line);
        if pieces.len() == 1 {
            return pieces.into_iter().map(parse_one).collect();
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = pieces.into_iter().map(|p| scope.spawn(move || parse_one(p))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        })
    }

    fn write_parsed(&self, mut batches: Vec<ParsedBatch<'_>>, strict: bool) -> Result<IngestReport> {
        let graph: Vec<crate::ingest::GraphEvent> =
            batches.iter_mut().flat_map(|b| std::mem::take(&mut b.graph)).collect();
        let mut report = write::write_batches(&self.inner, batches, strict)?;
        if !graph.is_empty() {
            report.model_events = graph.len() as u64;
            self.apply_graph_events(graph)?;
        }
        Ok(report)
    }
}

/// Splits `input` into about `parts` pieces at line ends, each with its first line number.
fn split_lines(input: &[u8], parts: usize, first_line: u64) -> Vec<(&[u8], u64)> {
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    let mut line = first_line;
    for i in 1..=parts {
        let target = input.len() * i / parts;
        let end = if i == parts || target <= start {
            if i == parts { input.len() } else { continue }
        } else {
            memchr::memchr(b'\n', &input[target..]).map_or(input.len(), |p| target + p + 1)
        };
        if end <= start {
            continue;
        }
        out.push((&input[start..end], line));
        line += memchr::memchr_iter(b'\n', &input[start..end]).count() as u64;
        start = end;
    }
    if out.is_empty() {
        out.push((input, first_line));
    }
    out
}

/// Total size of the files under `dir`, through the file layer (see [`Store::disk_bytes`]).
fn dir_bytes(vfs: &dyn crate::vfs::Vfs, dir: &Path) -> Result<u64> {
    let mut total = 0;
    for path in vfs.read_dir(dir).map_err(|e| Error::io(dir, e))? {
        match vfs.stat(&path) {
            Ok(stat) if stat.is_dir => total += dir_bytes(vfs, &path)?,
            Ok(stat) => total += stat.len,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_keeps_every_byte_and_numbers_lines() {
        let input = b"a\nbb\nccc\ndddd\ne";
        for parts in 1..6 {
            let pieces = split_lines(input, parts, 1);
            let joined: Vec<u8> = pieces.iter().flat_map(|(p, _)| p.iter().copied()).collect();
            assert_eq!(joined, input, "parts={parts}");
            for (piece, line) in pieces {
                let before = &input[..piece.as_ptr() as usize - input.as_ptr() as usize];
                assert_eq!(line, 1 + before.iter().filter(|&&b| b == b'\n').count() as u64);
            }
        }
    }
}
