//! The crash mix, shared by the crash tests: a seeded random mix of typed and NDJSON writes,
//! flush, compaction, `delete_range`, `delete_twin` and retention, and a model of the store
//! it leaves. `tests/cold_crash.rs` runs it in a child that it kills (SIGKILL), and
//! `tests/power_cut.rs` in process over a `PowerCutVfs` that loses power.
//!
//! Each store runs without the background thread, with `cold_retention` of `MIX_RETENTION`
//! and a clock set only at a retention operation, so every cutoff is known to the checker:
//! the one of a retention operation, and the one compaction applies (the clock's reading at
//! the time).
//!
//! The model follows the tiers down to the segment files, as far as visibility depends on
//! them: a write adds warm rows; a flush makes the warm rows one new file (none when there
//! are none); `compact` (two or more files) merges every file into one and leaves out the
//! rows older than the cutoff; `delete_range` flushes, then removes the twin's rows in
//! `[from, to)` from every file; `delete_twin` is a `delete_range` over all time; retention
//! removes the rows older than the cutoff from every file and leaves warm rows alone (they
//! go at a later retention or compaction once flushed). A file left empty goes. Warm rows are
//! never dropped by anything but a delete. So what is verified of retention is exactly: once
//! `apply_retention` returned, no cold row older than its cutoff is left and every other row
//! is (warm rows older than the cutoff included); a compaction leaves out the merged rows
//! older than the clock's cutoff and nothing else; interrupted part-way, either is all or
//! nothing.
//!
//! After a crash the checker reopens the store (without retention or background thread) and
//! compares what the queries see with the model ([`mix_stored`], [`mix_check_queries`]):
//! every event once, with the values its number gives it; per twin its count and time
//! range, its latest values, its state at a time, a range query, and per-bucket count and
//! sum aggregates; the totals of `stats`; then ([`mix_check_takes_work`]) it writes a batch
//! of its own, flushes and compacts (one file holding everything, nothing warm, no stray
//! files) and checks again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use twinstore::{
    AggregateQuery, Aggregation, Clock, Durability, Error, EventsQuery, Options, Record, Store, Timestamp, Value,
};

pub const TWINS: u64 = 6;
/// Records per batch (one write call): spread over every twin.
pub const BATCH_LEN: u64 = 24;

pub const BASE_MS: i64 = 1_767_225_600_000;

// ---------------------------------------------------------------------------------------
// What record `n` holds: everything derives from its number, so any damage, mix-up or
// duplicate is visible.

pub fn twin_of(n: u64) -> String {
    format!("twin-{}", n % TWINS)
}

pub fn v_of(n: u64) -> f64 {
    n as f64 * 0.5 + 0.25
}

pub fn tag_of(n: u64) -> String {
    format!("r{n}")
}

/// The numbers of batch `b`.
pub fn batch_numbers(b: u64) -> std::ops::Range<u64> {
    b * BATCH_LEN..(b + 1) * BATCH_LEN
}

/// SplitMix64: kill delays without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Segment files in the store's `cold/` directory.
pub fn seg_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("cold"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "seg"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Record `n` is nominally `n` steps after `BASE_MS`...
pub const MIX_STEP_NS: i64 = 10_000_000;
/// ... but one in five is back-dated by up to this many steps (30 s), so that later writes
/// land in ranges deleted before and below retention cutoffs.
pub const MIX_MAX_BACK: u64 = 3000;
pub const MIX_RETENTION: Duration = Duration::from_secs(60);
pub const SEC_NS: i64 = 1_000_000_000;

pub fn mix_base_ns() -> i64 {
    BASE_MS * 1_000_000
}

/// The time of mix record `n`: unique (the last six digits of the nanoseconds are `n`'s).
pub fn mix_ts_ns(n: u64) -> i64 {
    let h = Rng(n).next();
    let back = if h.is_multiple_of(5) {
        (h >> 16) % MIX_MAX_BACK
    } else {
        0
    };
    mix_base_ns() + (n as i64 - back as i64) * MIX_STEP_NS + (n % 1_000_000) as i64
}

pub fn mix_ts(n: u64) -> Timestamp {
    Timestamp::from_nanos(mix_ts_ns(n))
}

/// The nominal time of batch `b`'s first record: "now" for the child's choice of ranges.
pub fn mix_head_ns(b: u64) -> i64 {
    mix_base_ns() + (b * BATCH_LEN) as i64 * MIX_STEP_NS
}

pub fn mix_record(n: u64) -> Record {
    Record::new(twin_of(n), mix_ts(n))
        .with("n", n as i64)
        .with("v", v_of(n))
        .with("tag", tag_of(n))
}

/// The same record as a line of flat NDJSON.
pub fn mix_ndjson(n: u64) -> String {
    format!(
        "{{\"$dtId\":\"{}\",\"$ts\":\"{}\",\"n\":{n},\"v\":{},\"tag\":\"{}\"}}\n",
        twin_of(n),
        mix_ts(n),
        v_of(n),
        tag_of(n)
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixOp {
    Write {
        batch: u64,
        ndjson: bool,
    },
    Flush,
    Compact,
    /// Twin `twin-{twin}`, `[from, to)` in nanoseconds.
    DeleteRange {
        twin: u64,
        from: i64,
        to: i64,
    },
    DeleteTwin {
        twin: u64,
    },
    /// Sets the clock to `now` (nanoseconds), then applies retention.
    Retention {
        now: i64,
    },
}

impl MixOp {
    pub fn kind(&self) -> &'static str {
        match self {
            MixOp::Write { .. } => "write",
            MixOp::Flush => "flush",
            MixOp::Compact => "compact",
            MixOp::DeleteRange { .. } => "delete_range",
            MixOp::DeleteTwin { .. } => "delete_twin",
            MixOp::Retention { .. } => "retention",
        }
    }

    /// The line announcing operation `n`.
    pub fn line(&self, n: u64) -> String {
        match *self {
            MixOp::Write { batch, ndjson } => {
                format!("op:{n}:write:{batch}:{}\n", if ndjson { "ndjson" } else { "typed" })
            }
            MixOp::Flush => format!("op:{n}:flush\n"),
            MixOp::Compact => format!("op:{n}:compact\n"),
            MixOp::DeleteRange { twin, from, to } => format!("op:{n}:delete_range:twin-{twin}:{from}:{to}\n"),
            MixOp::DeleteTwin { twin } => format!("op:{n}:delete_twin:twin-{twin}\n"),
            MixOp::Retention { now } => format!("op:{n}:retention:{now}:{}\n", mix_cutoff(now)),
        }
    }

    /// Reads a line `line` wrote (without its newline): `(n, op)`.
    pub fn parse(text: &str) -> Option<(u64, MixOp)> {
        let fields: Vec<&str> = text.strip_prefix("op:")?.split(':').collect();
        let n = fields.first()?.parse().ok()?;
        let twin = |i: usize| fields.get(i)?.strip_prefix("twin-")?.parse::<u64>().ok();
        let num = |i: usize| fields.get(i)?.parse::<i64>().ok();
        let op = match (fields.get(1).copied()?, fields.len()) {
            ("write", 4) => MixOp::Write {
                batch: fields[2].parse().ok()?,
                ndjson: match fields[3] {
                    "ndjson" => true,
                    "typed" => false,
                    _ => return None,
                },
            },
            ("flush", 2) => MixOp::Flush,
            ("compact", 2) => MixOp::Compact,
            ("delete_range", 5) => MixOp::DeleteRange {
                twin: twin(2)?,
                from: num(3)?,
                to: num(4)?,
            },
            ("delete_twin", 3) => MixOp::DeleteTwin { twin: twin(2)? },
            ("retention", 4) => MixOp::Retention { now: num(2)? },
            _ => return None,
        };
        Some((n, op))
    }
}

/// Rows older than this go when the clock reads `now`.
pub fn mix_cutoff(now: i64) -> i64 {
    now.saturating_sub(MIX_RETENTION.as_nanos() as i64)
}

/// The options of a store running the mix: no background thread, retention of
/// `MIX_RETENTION` by `clock`, and `durability`.
pub fn mix_options(clock: &Arc<AtomicI64>, durability: Durability) -> Options {
    let clock = Arc::clone(clock);
    Options::default()
        .background_maintenance(false)
        .cold_retention(Some(MIX_RETENTION))
        .clock(Clock::from_fn(move || {
            Timestamp::from_nanos(clock.load(Ordering::SeqCst))
        }))
        .durability(durability)
}

/// The GroupCommit interval of the mix.
pub const MIX_GROUP_INTERVAL: Duration = Duration::from_millis(5);

/// A durability setting by name: `sync`, `group` or `nosync`.
pub fn mix_durability(name: &str) -> Durability {
    match name {
        "sync" => Durability::SyncEachWrite,
        "group" => Durability::GroupCommit {
            interval: MIX_GROUP_INTERVAL,
        },
        "nosync" => Durability::NoSync,
        other => panic!("unknown durability {other}"),
    }
}

/// The store the mix leaves: warm rows and segment files, by record number.
#[derive(Clone, Debug)]
pub struct MixModel {
    pub warm: BTreeSet<u64>,
    pub files: Vec<BTreeSet<u64>>,
    /// The clock's reading.
    pub now: i64,
}

impl MixModel {
    /// Every record a query sees.
    pub fn live(&self) -> BTreeSet<u64> {
        let mut live = self.warm.clone();
        for f in &self.files {
            live.extend(f);
        }
        live
    }

    /// A flush writes one file per time partition (UTC day) its rows fall in.
    pub fn flush(&mut self) {
        let warm = std::mem::take(&mut self.warm);
        self.files.extend(by_partition(warm).into_values());
    }

    /// Removes the cold rows `gone` selects; files left empty go.
    pub fn drop_cold(&mut self, gone: impl Fn(u64) -> bool) {
        for f in &mut self.files {
            f.retain(|&n| !gone(n));
        }
        self.files.retain(|f| !f.is_empty());
    }

    pub fn apply(&mut self, op: &MixOp) {
        match *op {
            MixOp::Write { batch, .. } => self.warm.extend(batch_numbers(batch)),
            MixOp::Flush => self.flush(),
            MixOp::Compact => {
                // Each partition with two or more files merges them into one, without the
                // rows past retention; a partition's single file stays as it is.
                let cutoff = mix_cutoff(self.now);
                let mut by_day: BTreeMap<i64, Vec<BTreeSet<u64>>> = BTreeMap::new();
                for f in self.files.drain(..) {
                    let day = f.first().map_or(0, |&n| partition(mix_ts_ns(n)));
                    by_day.entry(day).or_default().push(f);
                }
                for (_, files) in by_day {
                    if files.len() < 2 {
                        self.files.extend(files);
                        continue;
                    }
                    let merged: BTreeSet<u64> = files
                        .into_iter()
                        .flatten()
                        .filter(|&n| mix_ts_ns(n) >= cutoff)
                        .collect();
                    if !merged.is_empty() {
                        self.files.push(merged);
                    }
                }
            }
            MixOp::DeleteRange { twin, from, to } => {
                self.flush();
                self.drop_cold(|n| n % TWINS == twin && (from..to).contains(&mix_ts_ns(n)));
            }
            MixOp::DeleteTwin { twin } => {
                self.flush();
                self.drop_cold(|n| n % TWINS == twin && mix_ts_ns(n) < i64::MAX);
            }
            MixOp::Retention { now } => {
                self.now = now;
                let cutoff = mix_cutoff(now);
                self.drop_cold(|n| mix_ts_ns(n) < cutoff);
            }
        }
    }

    /// After the parent's own flush and compaction (without retention): one file per time
    /// partition holds everything.
    pub fn flushed_and_compacted(&mut self) {
        let live = self.live();
        self.warm.clear();
        self.files = by_partition(live).into_values().collect();
    }
}

/// The store's time partitions: UTC days.
pub fn partition(ts: i64) -> i64 {
    ts.div_euclid(86_400 * SEC_NS)
}

/// Record numbers grouped by the partition of their time.
fn by_partition(numbers: BTreeSet<u64>) -> BTreeMap<i64, BTreeSet<u64>> {
    let mut out: BTreeMap<i64, BTreeSet<u64>> = BTreeMap::new();
    for n in numbers {
        out.entry(partition(mix_ts_ns(n))).or_default().insert(n);
    }
    out
}

/// How many times each record number is stored, checking every event's twin, time and
/// values against its number, and that each twin's events come in time order.
pub fn mix_stored(store: &Store, context: &str) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for twin in store.twins().unwrap_or_else(|e| panic!("{context}: twins: {e}")) {
        let events = store
            .events(&EventsQuery::new(twin.id.as_str()))
            .unwrap_or_else(|e| panic!("{context}: events of {}: {e}", twin.id));
        let mut last = Timestamp::MIN;
        for event in events {
            let n = mix_check_event(&event, context);
            assert_eq!(twin.id, twin_of(n), "{context}: n {n} stored under the wrong twin");
            assert!(
                event.ts >= last,
                "{context}: {} events out of time order at n {n}",
                twin.id
            );
            last = event.ts;
            *seen.entry(n).or_insert(0) += 1;
        }
    }
    seen
}

/// Checks an event holds exactly what its number gives it; returns the number.
pub fn mix_check_event(event: &twinstore::Event, context: &str) -> u64 {
    let get = |name: &str| event.values.iter().find(|(p, _)| &**p == name).map(|(_, v)| v);
    let n = match get("n") {
        Some(Value::Long(n)) if *n >= 0 => *n as u64,
        other => panic!("{context}: an event without its number: {other:?}"),
    };
    assert_eq!(event.ts, mix_ts(n), "{context}: time of n {n}");
    assert_eq!(get("v"), Some(&Value::Double(v_of(n))), "{context}: v of n {n}");
    assert_eq!(
        get("tag"),
        Some(&Value::String(tag_of(n).into())),
        "{context}: tag of n {n}"
    );
    assert_eq!(event.values.len(), 3, "{context}: n {n}: {:?}", event.values);
    n
}

/// Up to 12 numbers of a set, for messages.
pub fn some(set: impl IntoIterator<Item = u64>) -> Vec<u64> {
    set.into_iter().take(12).collect()
}

/// Checks the store's queries against the records of `live` (the whole state, compared
/// event by event before): per twin its count and time range, latest values, a random range
/// query and 10-second count and sum aggregates; and the totals of `stats`.
pub fn mix_check_queries(store: &Store, live: &BTreeSet<u64>, rng: &mut Rng, context: &str) {
    let stats = store.stats();
    assert_eq!(stats.records, live.len() as u64, "{context}: stats().records");
    assert_eq!(stats.points, 3 * live.len() as u64, "{context}: stats().points");
    for k in 0..TWINS {
        let name = format!("twin-{k}");
        let mut rows: Vec<(i64, u64)> = live
            .iter()
            .filter(|&&n| n % TWINS == k)
            .map(|&n| (mix_ts_ns(n), n))
            .collect();
        rows.sort_unstable();
        let info = match store.twin_info(&name) {
            Ok(info) => info,
            Err(Error::UnknownTwin(_)) if rows.is_empty() => continue,
            Err(e) => panic!("{context}: twin_info({name}): {e}"),
        };
        assert_eq!(info.records, rows.len() as u64, "{context}: {name} records");
        let range = rows
            .first()
            .zip(rows.last())
            .map(|(a, b)| (Timestamp::from_nanos(a.0), Timestamp::from_nanos(b.0)));
        assert_eq!(info.time_range, range, "{context}: {name} time range");
        let latest = store
            .latest(&name)
            .unwrap_or_else(|e| panic!("{context}: latest({name}): {e}"));
        let want = mix_state(rows.last().map(|r| r.1));
        assert_eq!(super::state_view(&latest), want, "{context}: latest state of {name}");

        let (lo, hi) = range.map_or((mix_base_ns(), mix_base_ns()), |(a, b)| (a.as_nanos(), b.as_nanos()));
        // A range query over a random window around the twin's rows.
        let span = (hi - lo) as u64 + 2 * SEC_NS as u64;
        let a = lo - SEC_NS + (rng.next() % span) as i64;
        let b = a + (rng.next() % span) as i64;
        let got: Vec<u64> = store
            .events(
                &EventsQuery::new(name.as_str())
                    .from(Timestamp::from_nanos(a))
                    .to(Timestamp::from_nanos(b)),
            )
            .unwrap_or_else(|e| panic!("{context}: events of {name} in a window: {e}"))
            .iter()
            .map(|e| mix_check_event(e, context))
            .collect();
        let want: Vec<u64> = rows.iter().filter(|r| (a..b).contains(&r.0)).map(|r| r.1).collect();
        assert_eq!(got, want, "{context}: events of {name} in [{a}, {b})");
        // The state at the window's start: the last row at or before it (every record sets
        // every property).
        let state = store
            .state_at(&name, Timestamp::from_nanos(a))
            .unwrap_or_else(|e| panic!("{context}: state_at({name}, {a}): {e}"));
        let want = mix_state(rows.iter().take_while(|r| r.0 <= a).last().map(|r| r.1));
        assert_eq!(super::state_view(&state), want, "{context}: state of {name} at {a}");

        // Count and sum of v per 10-second bucket.
        let interval = 10 * SEC_NS;
        let from = lo.div_euclid(interval) * interval;
        let to = (hi.div_euclid(interval) + 1) * interval;
        let result = store
            .aggregate(
                &AggregateQuery::new(
                    name.as_str(),
                    "v",
                    Timestamp::from_nanos(from),
                    Timestamp::from_nanos(to),
                    Duration::from_nanos(interval as u64),
                )
                .aggregations([Aggregation::Count, Aggregation::Sum]),
            )
            .unwrap_or_else(|e| panic!("{context}: aggregate of {name}: {e}"));
        let buckets = ((to - from) / interval) as usize;
        let mut count = vec![0u64; buckets];
        let mut sum = vec![0f64; buckets];
        for &(ts, n) in &rows {
            let i = ((ts - from) / interval) as usize;
            count[i] += 1;
            // Sums of quarters below 2^40: exact in any order.
            sum[i] += v_of(n);
        }
        assert_eq!(result.timestamps.len(), buckets, "{context}: {name} buckets");
        let want_count: Vec<Option<f64>> = count.iter().map(|&c| Some(c as f64)).collect();
        let want_sum: Vec<Option<f64>> = count.iter().zip(&sum).map(|(&c, &s)| (c > 0).then_some(s)).collect();
        assert_eq!(
            result.column(Aggregation::Count),
            Some(&want_count[..]),
            "{context}: {name} counts"
        );
        assert_eq!(
            result.column(Aggregation::Sum),
            Some(&want_sum[..]),
            "{context}: {name} sums"
        );
    }
}

/// Run-wide tallies of the mix test.
#[derive(Debug, Default)]
pub struct MixTally {
    /// Kills by the operation in flight (`idle`: between an acknowledgement and the next
    /// operation's line).
    pub killed_in: BTreeMap<&'static str, u32>,
    /// Operations acknowledged, by kind.
    pub acked: BTreeMap<&'static str, u64>,
    /// Operations in flight found applied after the reopen, by kind...
    pub applied: BTreeMap<&'static str, u32>,
    /// ... found not applied...
    pub not_applied: BTreeMap<&'static str, u32>,
    /// ... and whose effect nothing visible tells (a flush; a delete of nothing).
    pub invisible: BTreeMap<&'static str, u32>,
}

/// The state a twin shows after record `n` (nothing before any record): its three values, set
/// at its time.
pub fn mix_state(n: Option<u64>) -> BTreeMap<String, (Value, Timestamp)> {
    let Some(n) = n else {
        return BTreeMap::new();
    };
    let ts = mix_ts(n);
    BTreeMap::from([
        ("n".to_string(), (Value::Long(n as i64), ts)),
        ("tag".to_string(), (Value::String(tag_of(n).into()), ts)),
        ("v".to_string(), (Value::Double(v_of(n)), ts)),
    ])
}

impl MixOp {
    /// The next operation of the mix: a write of `batch` for the first operation (so that
    /// every twin exists before a delete names one), else one drawn from `rng`. A retention
    /// moves `now` forward.
    pub fn pick(rng: &mut Rng, first: bool, batch: u64, now: &mut i64) -> MixOp {
        let head = mix_head_ns(batch);
        let pick = if first { 0 } else { rng.next() % 100 };
        match pick {
            0..56 => MixOp::Write {
                batch,
                ndjson: rng.next().is_multiple_of(2),
            },
            56..68 => MixOp::Flush,
            68..76 => MixOp::Compact,
            76..86 => {
                let from = head - (rng.next() % 50_000) as i64 * 1_000_000;
                let len = 1 + (rng.next() % 30_000) as i64 * 1_000_000;
                MixOp::DeleteRange {
                    twin: rng.next() % TWINS,
                    from,
                    to: from + len,
                }
            }
            86..88 => MixOp::DeleteTwin {
                twin: rng.next() % TWINS,
            },
            _ => {
                // A cutoff 15 to 45 s behind the newest nominal time (back-dated records
                // reach 30 s back), never moving back.
                let cutoff = head - 15 * SEC_NS - (rng.next() % 30_000) as i64 * 1_000_000;
                *now = (*now).max(cutoff + MIX_RETENTION.as_nanos() as i64);
                MixOp::Retention { now: *now }
            }
        }
    }

    /// Runs the operation on `store`, whose clock reads `clock`. A write that stores fewer
    /// than its records is an error too.
    pub fn run(&self, store: &Store, clock: &AtomicI64) -> twinstore::Result<()> {
        match *self {
            MixOp::Write { batch, ndjson } => {
                let report = if ndjson {
                    let text: String = batch_numbers(batch).map(mix_ndjson).collect();
                    store.ingest_ndjson(text.as_bytes())?
                } else {
                    store.write(&batch_numbers(batch).map(mix_record).collect::<Vec<_>>())?
                };
                assert_eq!(report.records, BATCH_LEN, "{:?}", report.rejected);
            }
            MixOp::Flush => store.flush()?,
            MixOp::Compact => {
                store.compact()?;
            }
            MixOp::DeleteRange { twin, from, to } => store.delete_range(
                &format!("twin-{twin}"),
                Timestamp::from_nanos(from),
                Timestamp::from_nanos(to),
            )?,
            MixOp::DeleteTwin { twin } => store.delete_twin(&format!("twin-{twin}"))?,
            MixOp::Retention { now } => {
                clock.store(now, Ordering::SeqCst);
                store.apply_retention()?;
            }
        }
        Ok(())
    }
}

/// After a recovery: the store in `dir` takes a write of batch `batch`, flushes and
/// compacts without losing anything, and keeps only the files it uses. `model` follows.
pub fn mix_check_takes_work(store: &Store, dir: &Path, model: &mut MixModel, batch: u64, rng: &mut Rng, context: &str) {
    store
        .write(&batch_numbers(batch).map(mix_record).collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{context}: write after reopen: {e}"));
    model.apply(&MixOp::Write { batch, ndjson: false });
    store
        .flush()
        .unwrap_or_else(|e| panic!("{context}: flush after reopen: {e}"));
    store
        .compact()
        .unwrap_or_else(|e| panic!("{context}: compact after reopen: {e}"));
    model.flushed_and_compacted();
    let context = format!("{context}, after a write, flush and compact");
    let live = model.live();
    let seen = mix_stored(store, &context);
    assert!(
        seen.values().all(|&c| c == 1) && seen.keys().copied().eq(live.iter().copied()),
        "{context}: the store differs from the model"
    );
    mix_check_queries(store, &live, rng, &context);
    let stats = store.stats();
    let files = seg_files(dir);
    assert_eq!(
        files.len() as u64,
        stats.files,
        "{context}: stray files in cold/: {files:?}"
    );
    assert_eq!(stats.files, model.files.len() as u64, "{context}: files");
    assert_eq!(stats.warm_bytes, 0, "{context}: rows left warm after a flush");
    assert!(!dir.join("MANIFEST.tmp").exists(), "{context}: MANIFEST.tmp left");
}

/// Asserts that every phase in `phases` was hit at least once according to `hits`.
pub fn assert_every_phase_hit<V: Copy + Into<u64>>(hits: &BTreeMap<&str, V>, phases: &[&str], what: &str) {
    let missed: Vec<&str> = phases
        .iter()
        .copied()
        .filter(|p| hits.get(p).is_none_or(|&n| n.into() == 0))
        .collect();
    assert!(
        missed.is_empty(),
        "{what}: no crash landed in {missed:?} (crashes by phase: {:?})",
        hits.iter().map(|(k, v)| (*k, (*v).into())).collect::<Vec<_>>()
    );
}
