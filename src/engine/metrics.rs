//! Counters of what the store has done since it was opened, for [`Store::metrics`]
//! (crate::Store::metrics), and the slow-query log.
//!
//! Every counter is a relaxed atomic: cheap on the hot paths, and a snapshot is a set of
//! independent reads (not one instant across counters).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The kinds of query counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QueryKind {
    /// [`Store::events`](crate::Store::events).
    Events,
    /// [`Store::aggregate`](crate::Store::aggregate).
    Aggregate,
    /// [`Store::get_events`](crate::Store::get_events).
    GetEvents,
    /// [`Store::get_series`](crate::Store::get_series).
    GetSeries,
    /// [`Store::aggregate_series`](crate::Store::aggregate_series).
    AggregateSeries,
    /// [`Store::availability`](crate::Store::availability) and
    /// [`Store::event_schema`](crate::Store::event_schema).
    Catalog,
    /// [`Store::latest`](crate::Store::latest), [`Store::latest_many`](crate::Store::latest_many),
    /// [`Store::state_at`](crate::Store::state_at), [`Store::last_known`](crate::Store::last_known).
    State,
    /// [`Store::query_json`](crate::Store::query_json) (whatever the body asks).
    Json,
}

const KINDS: [QueryKind; 8] = [
    QueryKind::Events,
    QueryKind::Aggregate,
    QueryKind::GetEvents,
    QueryKind::GetSeries,
    QueryKind::AggregateSeries,
    QueryKind::Catalog,
    QueryKind::State,
    QueryKind::Json,
];

/// Count, total and worst time of one kind of query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Queries answered or failed.
    pub count: u64,
    /// Their total time.
    pub total: Duration,
    /// The slowest one.
    pub max: Duration,
    /// Those slower than [`Options::slow_query`](crate::Options::slow_query).
    pub slow: u64,
}

/// A snapshot of the counters ([`Store::metrics`](crate::Store::metrics)), since the store
/// was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Records (events) written, by every write path.
    pub records_ingested: u64,
    /// Property values written.
    pub points_ingested: u64,
    /// Records rejected (bad input, limits).
    pub records_rejected: u64,
    /// Bytes appended to the write-ahead log.
    pub wal_bytes_written: u64,
    /// Bytes of segment files written (flushes, compactions, rewrites).
    pub segment_bytes_written: u64,
    /// Bytes of segment files written by flushes (`segment_bytes_written` over this is the
    /// write amplification of compaction, retention and deletes).
    pub flushed_bytes: u64,
    /// Flushes completed.
    pub flushes: u64,
    /// Compactions completed.
    pub compactions: u64,
    /// Rewrites by deletes and retention completed.
    pub rewrites: u64,
    /// Failed background maintenance rounds.
    pub maintenance_failures: u64,
    /// Write calls that waited for a flush because the warm tier was past twice
    /// [`Options::warm_budget_bytes`](crate::Options::warm_budget_bytes) (the feed is faster
    /// than flushing; each wait is also logged).
    pub write_waits: u64,
    /// Their total wait.
    pub write_waited: Duration,
    /// Queries, by kind.
    pub queries: Vec<(QueryKind, QueryStats)>,
}

#[derive(Default)]
struct QueryCounters {
    count: AtomicU64,
    total_nanos: AtomicU64,
    max_nanos: AtomicU64,
    slow: AtomicU64,
}

/// The live counters, in the store.
#[derive(Default)]
pub(crate) struct Counters {
    pub records_ingested: AtomicU64,
    pub points_ingested: AtomicU64,
    pub records_rejected: AtomicU64,
    pub segment_bytes_written: AtomicU64,
    pub flushed_bytes: AtomicU64,
    pub flushes: AtomicU64,
    pub compactions: AtomicU64,
    pub rewrites: AtomicU64,
    pub maintenance_failures: AtomicU64,
    pub write_waits: AtomicU64,
    pub write_wait_nanos: AtomicU64,
    queries: [QueryCounters; KINDS.len()],
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Runs a query, counting it, and logs it (a `tracing` warning) when slower than `slow`.
    pub(crate) fn timed<T>(
        &self,
        kind: QueryKind,
        slow: Duration,
        what: &dyn Fn() -> String,
        f: impl FnOnce() -> T,
    ) -> T {
        let started = Instant::now();
        let out = f();
        let took = started.elapsed();
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        // `KINDS` lists the kinds in declaration order, so a kind's discriminant is its slot.
        let c = &self.queries[kind as usize];
        c.count.fetch_add(1, Ordering::Relaxed);
        c.total_nanos.fetch_add(nanos, Ordering::Relaxed);
        c.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        if took >= slow {
            c.slow.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(kind = ?kind, millis = took.as_millis() as u64, query = %what(), "slow query");
        }
        out
    }

    pub(crate) fn snapshot(&self, wal_bytes_written: u64) -> Metrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Metrics {
            records_ingested: get(&self.records_ingested),
            points_ingested: get(&self.points_ingested),
            records_rejected: get(&self.records_rejected),
            wal_bytes_written,
            segment_bytes_written: get(&self.segment_bytes_written),
            flushed_bytes: get(&self.flushed_bytes),
            flushes: get(&self.flushes),
            compactions: get(&self.compactions),
            rewrites: get(&self.rewrites),
            maintenance_failures: get(&self.maintenance_failures),
            write_waits: get(&self.write_waits),
            write_waited: Duration::from_nanos(get(&self.write_wait_nanos)),
            queries: KINDS
                .iter()
                .zip(&self.queries)
                .map(|(kind, c)| {
                    (
                        *kind,
                        QueryStats {
                            count: get(&c.count),
                            total: Duration::from_nanos(get(&c.total_nanos)),
                            max: Duration::from_nanos(get(&c.max_nanos)),
                            slow: get(&c.slow),
                        },
                    )
                })
                .collect(),
        }
    }
}
