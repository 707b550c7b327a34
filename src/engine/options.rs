//! Store settings.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::ingest::Limits;
use crate::model::Timestamp;
use crate::vfs::Vfs;
use crate::wal::Durability;

/// The clock that stamps records without a timestamp (TSI uses the event source's enqueue
/// time; twinstore uses this clock at ingest).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(Timestamp::now))
    }

    /// A clock that always reads `at` (for tests and replays of recorded input).
    pub fn fixed(at: Timestamp) -> Self {
        Clock(Arc::new(move || at))
    }

    /// A clock driven by a function.
    pub fn from_fn(f: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    /// The current reading.
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Settings for [`Store::open`](crate::Store::open). `Options::default()` is safe: every
/// acknowledged write is synced, bad records are reported and skipped.
#[derive(Clone, Debug)]
pub struct Options {
    /// What an acknowledged write survives. Default: [`Durability::SyncEachWrite`].
    pub durability: Durability,
    /// The flat-record property holding the event time. Default `$ts`.
    pub timestamp_property: String,
    /// Type strings that parse as ISO 8601 date-times as DateTime (TSI's inference).
    /// Default true; false keeps them as String.
    pub infer_datetime: bool,
    /// Refuse a whole batch when any record is invalid (default false: keep the good ones
    /// and report the bad ones).
    pub strict: bool,
    /// Input limits.
    pub limits: Limits,
    /// The store's wall clock: it stamps records without a time, measures the warm window
    /// ([`Options::warm_window`]) and the cold retention ([`Options::cold_retention`]), and
    /// bounds `"WarmStore"` queries. Default: the system clock. With [`Clock::fixed`] time
    /// does not pass, so the warm window never elapses (only the memory budget and
    /// [`Store::flush`](crate::Store::flush) move rows to the cold tier).
    pub clock: Clock,
    /// Threads used to parse one large NDJSON input (default: the machine's cores).
    pub ingest_threads: usize,
    /// The warm tier is flushed to the cold tier once its oldest unflushed write is this old:
    /// time on [`Options::clock`] since that write call reached the warm tier (not the
    /// records' event times, and not the time since the last flush, so after an idle period
    /// a new write still stays warm for the whole window). Every row in the warm tier goes
    /// with that flush, including younger ones. Rows replayed from the log when the store
    /// opens count as written at the open. The background thread checks every half second;
    /// without it, [`Store::run_maintenance`](crate::Store::run_maintenance) does the same
    /// check. Default 15 min.
    pub warm_window: Duration,
    /// Memory budget of the warm tier, in (estimated) bytes. Past it a flush starts; past
    /// twice it, writes wait for the flush (they slow down, they do not fail). Default 512 MiB.
    pub warm_budget_bytes: u64,
    /// Cold data older than this (by event time, against [`Options::clock`]) is dropped by
    /// the background maintenance, by whole files or while compacting. Default: kept forever.
    pub cold_retention: Option<Duration>,
    /// Run flush, compaction and retention on two background threads (default true): one
    /// flushes, the other compacts and applies retention, so a flush never waits for a
    /// compaction. Without them, data moves only when the application calls
    /// [`Store::run_maintenance`](crate::Store::run_maintenance) (one round of what the
    /// threads do), [`Store::flush`](crate::Store::flush) or
    /// [`Store::compact`](crate::Store::compact).
    pub background_maintenance: bool,
    /// Memory for decoded cold blocks (timestamps and numeric columns), so that repeated
    /// queries over the same data skip decompression. Default 256 MiB; 0 disables it.
    pub block_cache_bytes: u64,
    /// After an open and each flush or compaction, the background thread reads up to this
    /// many bytes of the newest segment files into memory and maps their pages, so that first
    /// queries do not wait on page faults. Default 1 GiB; 0 disables it.
    pub preload_cold_bytes: u64,
    /// The file layer every file operation goes through. Default: the real file system
    /// ([`StdVfs`](crate::vfs::StdVfs)); tests swap in [`FaultyVfs`](crate::vfs::FaultyVfs).
    pub vfs: Arc<dyn Vfs>,
    /// Queries slower than this are counted in [`Store::metrics`](crate::Store::metrics) and
    /// logged as a `tracing` warning. Default 1 s.
    pub slow_query: Duration,
    /// Whether the Time Series Model derives types, the "ADT" hierarchy and instances from
    /// the data and ADT's relationship events, and which relationship names mean
    /// containment. Default: on; `contains`, and `isPartOf` / `locatedIn` read the other way.
    pub derivation: crate::tsm::Derivation,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::default(),
            timestamp_property: "$ts".to_string(),
            infer_datetime: true,
            strict: false,
            limits: Limits::default(),
            clock: Clock::system(),
            ingest_threads: std::thread::available_parallelism().map_or(1, usize::from),
            warm_window: Duration::from_secs(15 * 60),
            warm_budget_bytes: 512 << 20,
            cold_retention: None,
            background_maintenance: true,
            block_cache_bytes: 256 << 20,
            preload_cold_bytes: 1 << 30,
            vfs: crate::vfs::std_vfs(),
            slow_query: Duration::from_secs(1),
            derivation: crate::tsm::Derivation::default(),
        }
    }
}

impl Options {
    /// Sets how the Time Series Model is derived (see [`Options::derivation`]).
    pub fn derivation(mut self, derivation: crate::tsm::Derivation) -> Self {
        self.derivation = derivation;
        self
    }

    /// Sets the durability.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the timestamp property of flat records.
    pub fn timestamp_property(mut self, name: impl Into<String>) -> Self {
        self.timestamp_property = name.into();
        self
    }

    /// Sets strict batches.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the warm window (see [`Options::warm_window`]).
    pub fn warm_window(mut self, window: Duration) -> Self {
        self.warm_window = window;
        self
    }

    /// Sets the warm-tier memory budget.
    pub fn warm_budget_bytes(mut self, bytes: u64) -> Self {
        self.warm_budget_bytes = bytes;
        self
    }

    /// Sets the decoded-block cache size (0 disables it).
    pub fn block_cache_bytes(mut self, bytes: u64) -> Self {
        self.block_cache_bytes = bytes;
        self
    }

    /// Sets how many bytes of segment files are preloaded (0 disables it).
    pub fn preload_cold_bytes(mut self, bytes: u64) -> Self {
        self.preload_cold_bytes = bytes;
        self
    }

    /// Sets the slow-query threshold.
    pub fn slow_query(mut self, threshold: Duration) -> Self {
        self.slow_query = threshold;
        self
    }

    /// Sets the file layer.
    pub fn vfs(mut self, vfs: Arc<dyn Vfs>) -> Self {
        self.vfs = vfs;
        self
    }

    /// Sets the cold retention.
    pub fn cold_retention(mut self, retention: Option<Duration>) -> Self {
        self.cold_retention = retention;
        self
    }

    /// Turns the background flush/compaction thread on or off.
    pub fn background_maintenance(mut self, on: bool) -> Self {
        self.background_maintenance = on;
        self
    }

    /// Sets the number of parse threads.
    pub fn ingest_threads(mut self, threads: usize) -> Self {
        self.ingest_threads = threads.max(1);
        self
    }
}
