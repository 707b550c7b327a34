//! # twinstore
//!
//! An embedded time-series storage engine for the history of digital twins: the job Azure
//! Time Series Insights did for Azure Digital Twins, inside your own process.
//!
//! Every twin update (a flattened record like `{"$dtId": "thermostat67", "Temperature": 20.5}`,
//! a raw ADT Twin.Update event, or a typed [`Record`]) is appended to a write-ahead log and to
//! a columnar in-memory warm tier, where it is queryable the moment the write returns.
//!
//! ```
//! use twinstore::{EventsQuery, Options, Store, Timestamp, Value};
//!
//! # fn main() -> twinstore::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path(), Options::default())?;
//!
//! let report = store.ingest_ndjson(br#"
//! {"$dtId":"thermostat67","$ts":"2026-01-01T08:00:00Z","Temperature":20.5,"Mode":"heat"}
//! {"$dtId":"thermostat67","$ts":"2026-01-01T08:01:00Z","Temperature":21.0}
//! "#)?;
//! assert_eq!((report.records, report.points), (2, 3));
//!
//! // Raw events in a range, oldest first.
//! let events = store.events(&EventsQuery::new("thermostat67").properties(["Temperature"]))?;
//! assert_eq!(events.len(), 2);
//! assert_eq!(events[1].values[0].1, Value::Double(21.0));
//!
//! // The state of the twin at an instant: each property's last value at or before it.
//! let at = Timestamp::parse("2026-01-01T08:00:30Z").unwrap();
//! let state = store.state_at("thermostat67", at)?;
//! assert_eq!(state.get("Temperature"), Some(&Value::Double(20.5)));
//! assert_eq!(state.get("Mode"), Some(&Value::String("heat".into())));
//!
//! // Bucketed aggregates (epoch-aligned buckets, here of one minute).
//! use twinstore::{AggregateQuery, Aggregation};
//! let day = Timestamp::parse("2026-01-01T08:00:00Z").unwrap();
//! let q = AggregateQuery::new("thermostat67", "Temperature", day, day.saturating_add_nanos(120_000_000_000),
//!     std::time::Duration::from_secs(60))
//!     .aggregations([Aggregation::Avg, Aggregation::Count]);
//! let series = store.aggregate(&q)?;
//! assert_eq!(series.timestamps.len(), 2);
//! assert_eq!(series.column(Aggregation::Avg), Some(&[Some(20.5), Some(21.0)][..]));
//!
//! // Everything warm to the compressed cold tier (a background thread does this on its own).
//! store.flush()?;
//! assert_eq!(store.events(&EventsQuery::new("thermostat67"))?.len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! ## Time Series Insights queries
//!
//! TSI's `getEvents`, `getSeries` and `aggregateSeries` request bodies are answered unchanged
//! by [`Store::query_json`], and the same engine is open to Rust through
//! [`Store::get_events`], [`Store::get_series`] and [`Store::aggregate_series`], with TSX
//! expressions, numeric, categorical and aggregate [`Variable`]s, interpolation, and fleets
//! (a list of twins, a prefix, a model id; per twin or merged). `docs/QUERIES.md` gives
//! every rule and every choice made where TSI's documentation is silent.
//!
//! ```
//! use std::time::Duration;
//! use twinstore::{AggregateSeriesQuery, Interpolation, Options, Store, Timestamp, TwinSelector, Variable};
//!
//! # fn main() -> twinstore::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let store = Store::open(dir.path(), Options::default())?;
//! store.ingest_ndjson(br#"
//! {"$dtId":"thermostat1","$ts":"2026-01-01T00:00:00Z","Temperature":20.0}
//! {"$dtId":"thermostat1","$ts":"2026-01-01T00:30:00Z","Temperature":22.0}
//! {"$dtId":"thermostat2","$ts":"2026-01-01T00:10:00Z","Temperature":18.0}
//! "#)?;
//! let from = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
//! let to = Timestamp::parse("2026-01-01T01:00:00Z").unwrap();
//!
//! // The hourly average over every thermostat, and the time-weighted average of one.
//! let fleet = AggregateSeriesQuery::new(TwinSelector::Prefix("thermostat".into()), from, to, Duration::from_secs(3600))
//!     .variable("avg", Variable::numeric("$event.Temperature.Double", "avg($value)"))
//!     .merged();
//! assert_eq!(store.aggregate_series(&fleet)?[0].frame.doubles("avg"), Some(vec![Some(20.0)]));
//! let one = AggregateSeriesQuery::new("thermostat1", from, to, Duration::from_secs(3600)).variable(
//!     "twavg",
//!     Variable::numeric("$event.Temperature.Double", "twavg($value)").interpolation(Interpolation::Step, Duration::ZERO),
//! );
//! // 20 for 30 minutes, then 22 (held to the end of the span) for 30 minutes.
//! assert_eq!(store.aggregate_series(&one)?[0].frame.doubles("twavg"), Some(vec![Some(21.0)]));
//!
//! // The same engine behind a TSI request body.
//! let answer = store.query_json(br#"{"getEvents": {"timeSeriesId": ["thermostat1"],
//!     "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"},
//!     "filter": {"tsx": "$event.Temperature.Double > 21"}}}"#)?;
//! assert_eq!(answer["properties"][0]["values"], serde_json::json!([22.0]));
//! # Ok(())
//! # }
//! ```
//!
//! ## Semantics in brief
//!
//! - Types follow TSI: a JSON integer is a `Long`, a number with a fraction a `Double`, an
//!   ISO 8601 string a `DateTime`, arrays `Dynamic`. A property arriving with a second type
//!   gets a second column; nothing is coerced.
//! - Nested objects flatten with `.`; a literal dotted key and the same nested path name the
//!   same property (a record carrying both is rejected).
//! - Times are stored as nanoseconds since the Unix epoch, UTC.
//! - ADT `remove` operations (and JSON `null` in flat records) are stored as
//!   [`Value::Removed`] markers: the state at a later instant no longer has the property.
//! - What an acknowledged write survives is set by [`Durability`].
//!
//! ## Bad input
//!
//! Every write call validates each record: a line that is not JSON, a record without
//! `$dtId`, an empty or over-long twin id, a timestamp that does not parse, a non-finite
//! number, an empty or over-long property name, nesting deeper than [`Limits::max_depth`], a
//! line over [`Limits::max_record_bytes`], an integer outside the `Long` range, a property
//! named twice. Each bad record becomes a [`RecordError`] naming its line, twin, field and
//! reason; by default the good records of the call are written and the bad ones listed in
//! [`IngestReport::rejected`]; with [`Options::strict`] the call fails with
//! [`Error::BatchRejected`] and writes nothing. Either way the store stays usable and nothing
//! written before is touched.
//!
//! ## Concurrency and visibility
//!
//! [`Store`] is `Clone + Send + Sync`; share it between threads. Each write call is one unit:
//! one WAL frame, made visible to readers all at once after it is applied, in the order the
//! calls reached the log. A query reads a snapshot: it sees every call acknowledged before it
//! started and nothing of calls still being applied. Writers of different twins share no
//! lock but the short WAL queue lock; each twin's rows have their own lock.
//!
//! ## Storage
//!
//! The store directory holds a `LOCK` file (one process at a time), the write-ahead log
//! (`wal/`), the cold tier's segment files (`cold/`) and the `MANIFEST` naming them.
//!
//! - Writes go to the WAL and the warm tier. A background thread flushes the warm tier to a
//!   new segment file when its oldest write reaches the age [`Options::warm_window`] or it
//!   passes [`Options::warm_budget_bytes`] (writers are slowed, not failed, past twice the
//!   budget); [`Store::flush`] does it on demand. Once the file and the manifest are
//!   durable, the WAL log files it covers are deleted.
//! - Segment files are immutable and memory-mapped: per twin, groups of up to 2,048 rows,
//!   a compressed timestamp block and one block per column (presence and values), each with
//!   a checksum and statistics (count, min, max, sum, first, last). Doubles with few
//!   decimals are stored as small integers (an ALP-style decimal encoding).
//! - Queries merge the cold files, the tables a flush is writing and the warm rows by time;
//!   rows of equal time keep the order they were written in. Late rows go through the warm
//!   tier and land in a newer file.
//! - Queries keep decoded blocks in a bounded cache ([`Options::block_cache_bytes`]); after
//!   an open and after each flush or compaction the background thread computes every twin's
//!   latest state and maps the newest files into memory ([`Options::preload_cold_bytes`]).
//! - Compaction merges small neighbouring files in the background; replaced files are
//!   deleted when the last reader lets go of them. [`Options::cold_retention`] drops old
//!   data; [`Store::delete_twin`] and [`Store::delete_range`] remove rows for good.
//! - Recovery: a torn last WAL frame left by a crash is cut off; damage anywhere else in the
//!   WAL fails the open with [`Error::Corruption`]. Files the manifest does not name (an
//!   interrupted flush or compaction) are removed on open. A damaged block fails the queries
//!   that read it, with the file and offset, and leaves the rest of the store readable.
//!
//! `docs/FORMAT.md` describes every byte. [`Store::verify`] (and `twinstore check`) reads
//! every one of them and reports every problem with its file and offset.

#![deny(missing_docs)]
// The one `unsafe` is the memory map of segment files, allowed where it is (`vfs::StdVfs::map`).
#![deny(unsafe_code)]
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

// Segment footers are read in place; their layout is little-endian.
#[cfg(target_endian = "big")]
compile_error!("twinstore's on-disk formats are read in place and need a little-endian target");

mod catalog;
mod cold;
mod engine;
mod error;
#[cfg(any(feature = "parquet", feature = "plot"))]
mod export;
mod ingest;
mod model;
mod query;
mod read;
#[cfg(feature = "server")]
pub mod server;
pub mod tsm;
pub mod vfs;
mod wal;
mod warm;

pub use cold::segment::SizeBreakdown;

/// The cold tier's block codecs, for the codec benchmarks and the bench report. Not a
/// stable API.
#[doc(hidden)]
pub mod codecs {
    /// Encodes nanosecond timestamps into a block.
    pub fn encode_timestamps(ts: &[i64]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::cold::codec::encode_timestamps(ts, &mut out);
        out
    }

    /// Decodes `n` timestamps, appending to `out`.
    pub fn decode_timestamps(bytes: &[u8], n: usize, out: &mut Vec<i64>) -> Result<(), String> {
        crate::cold::codec::decode_timestamps(bytes, n, out).map_err(|e| e.0)
    }

    /// Encodes doubles into a block.
    pub fn encode_doubles(values: &[f64]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::cold::codec::encode_doubles(values, &mut out);
        out
    }

    /// Decodes `n` doubles, appending to `out`.
    pub fn decode_doubles(bytes: &[u8], n: usize, out: &mut Vec<f64>) -> Result<(), String> {
        crate::cold::codec::decode_doubles(bytes, n, out).map_err(|e| e.0)
    }

    /// Runs every block and directory decoder on `data` (the fuzz target's entry point):
    /// each must return an error or a value, never panic.
    pub fn decode_everything(data: &[u8]) {
        crate::cold::segment::fuzz_decoders(data);
    }
}

/// The TSX expression language, for its fuzz target. Not a stable API.
#[doc(hidden)]
pub mod tsx_fuzz {
    /// Parses arbitrary text as TSX and, when it parses, re-parses its printed form,
    /// type-checks it in every context and evaluates it on sample rows: each step must return
    /// a value or an error, never panic, hang or exhaust memory.
    pub fn parse_and_check(text: &str) {
        crate::query::tsx::fuzz_parse_and_check(text);
    }
}
pub use engine::{
    BackupReport, Clock, EventPages, IngestOptions, IngestReport, ItemResults, Metrics, Options, Problem, QueryKind,
    QueryStats, READER_CHUNK_BYTES, Stats, Store, VerifyReport,
};
pub use error::{Error, RecordError, Result};
#[cfg(feature = "parquet")]
pub use export::parquet::{ExportOptions, ExportReport};
#[cfg(feature = "plot")]
pub use export::plot;
pub use ingest::{InputFormat, Limits};
pub use model::{Record, Timestamp, TimestampError, Value, ValueType};
pub use query::{
    AggregateQuery, AggregateSeriesQuery, Aggregation, Availability, Category, DEFAULT_TAKE, Event, EventsQuery, Frame,
    FrameColumn, GetEventsQuery, GetSeriesQuery, Interpolation, InterpolationSpec, MAX_BUCKETS, MAX_TAKE,
    MAX_VARIABLES, Order, PAGE_VALUES, PropertyInfo, PropertyValue, SchemaProperty, SeriesResult, TwinFrame, TwinInfo,
    TwinSelector, TwinState, Variable,
};
pub use wal::Durability;

/// The README's Rust examples, compiled by `cargo test` (the quick start is `no_run`: it
/// writes a store in the working directory), so that the first code a user copies builds.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
