//! The history benchmark: a live feed of many simulated days through `Store::write`, with
//! background maintenance on, and the query kinds measured as history grows.
//!
//! ```text
//! cargo run --release --example history -- [--twins 1000] [--days 30] [--period 30]
//!     [--batch 10000] [--warm-mib 64] [--query-every 1] [--seed 42] [--dir DIR]
//! ```
//!
//! Each twin (`thermostatNNNN`) sends one record every `--period` seconds (±30 % jitter,
//! millisecond times): `Temperature` (a random walk, two decimals) always, `Humidity` (one
//! decimal) in 40 % of them. Records are generated an hour at a time, in time order, then
//! written in calls of up to `--batch` records; only the write calls are timed. Per
//! simulated day it prints:
//!
//! - write throughput (records/s over the day's write calls), the slowest one-second
//!   window of writes (records in the slowest second of write-call time, as a rate) and the
//!   longest single write call;
//! - resident memory (all, and anonymous: without the mapped segment files), warm bytes, cold files, disk bytes and bytes per point;
//! - every `--query-every` days: Q1 (one hour of one property of one twin), Q2 (one twin, a
//!   day in 1-minute buckets), Q2L (one twin, the last 30 days in hourly buckets),
//!   `state_at` at a random instant, `latest`, and the fleet averages (every twin merged)
//!   over the last day hourly and the whole history daily, first run and median of 3.
//!
//! After the feed: write amplification, write waits, the store's own memory accounting and
//! the time to reopen; then, in the reopened store with nothing else running, `state_at`
//! and Q1 at random instants over the first five days and over the whole history (twice
//! each, alternating), so that what a longer history costs a point read is seen apart from
//! the feed.
//!
//! Query latencies are medians of the stated number of runs; each row is one run of the feed.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::error::Error;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use twinstore::{
    AggregateQuery, AggregateSeriesQuery, Durability, EventsQuery, Options, Record, Store, Timestamp, TwinSelector,
    Variable,
};

const MIB: f64 = 1024.0 * 1024.0;
const DAY_NANOS: i64 = 86_400_000_000_000;
const HOUR_NANOS: i64 = 3_600_000_000_000;

struct Args {
    twins: usize,
    days: usize,
    period_secs: f64,
    batch: usize,
    warm_mib: u64,
    query_every: usize,
    seed: u64,
    dir: Option<String>,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        twins: 1000,
        days: 30,
        period_secs: 30.0,
        batch: 10_000,
        warm_mib: 64,
        query_every: 1,
        seed: 42,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--twins" => args.twins = value()?.parse()?,
            "--days" => args.days = value()?.parse()?,
            "--period" => args.period_secs = value()?.parse()?,
            "--batch" => args.batch = value()?.parse()?,
            "--warm-mib" => args.warm_mib = value()?.parse()?,
            "--query-every" => args.query_every = value()?.parse()?,
            "--seed" => args.seed = value()?.parse()?,
            "--dir" => args.dir = Some(value()?),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if args.twins == 0 || args.days == 0 || args.batch == 0 || args.period_secs <= 0.0 {
        return Err("--twins, --days, --batch and --period must be positive".into());
    }
    Ok(args)
}

/// The feed's state: per twin, its next record time and its temperature.
struct Feed {
    rng: ChaCha8Rng,
    next: Vec<i64>,
    temperature: Vec<f64>,
    period_nanos: i64,
}

impl Feed {
    fn new(twins: usize, period_secs: f64, start: i64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let period_nanos = (period_secs * 1e9) as i64;
        let next = (0..twins)
            .map(|_| start + rng.random_range(0..period_nanos.max(1)))
            .collect();
        let temperature = (0..twins).map(|_| rng.random_range(15.0..25.0)).collect();
        Feed {
            rng,
            next,
            temperature,
            period_nanos,
        }
    }

    /// Every record with a time before `end`, in time order.
    fn until(&mut self, end: i64) -> Vec<Record> {
        let mut out: Vec<(i64, usize)> = Vec::new();
        for twin in 0..self.next.len() {
            while self.next[twin] < end {
                out.push((self.next[twin], twin));
                let jitter = self.rng.random_range(0.7..1.3);
                let step = ((self.period_nanos as f64 * jitter) as i64 / 1_000_000).max(1) * 1_000_000;
                self.next[twin] += step;
            }
        }
        out.sort_unstable();
        out.into_iter()
            .map(|(ts, twin)| {
                let t = &mut self.temperature[twin];
                // Sensors report a few decimals, as real ones do.
                *t = ((*t + self.rng.random_range(-0.2..0.2)) * 100.0).round() / 100.0;
                let ts = ts / 1_000_000 * 1_000_000;
                let mut record =
                    Record::new(format!("thermostat{twin:04}"), Timestamp::from_nanos(ts)).with("Temperature", *t);
                if self.rng.random_bool(0.4) {
                    let humidity: f64 = self.rng.random_range(30.0..60.0);
                    record = record.with("Humidity", (humidity * 10.0).round() / 10.0);
                }
                record
            })
            .collect()
    }
}

/// Records in the slowest one-second window of write-call time among the windows ending at
/// `marks[from..]`, from the cumulative write time (seconds) and records after each call of
/// the whole run (windows reach back into earlier days); `None` before 1 s of writing.
fn slowest_window(marks: &[(f64, u64)], from: usize) -> Option<f64> {
    let mut slowest: Option<f64> = None;
    let mut lo = 0;
    for &(t, n) in marks[from..].iter().filter(|m| m.0 >= 1.0) {
        // Records written in (t - 1 s, t]: those after the last mark at or before t - 1 s.
        while lo + 1 < marks.len() && marks[lo + 1].0 <= t - 1.0 {
            lo += 1;
        }
        let before = if marks[lo].0 <= t - 1.0 { marks[lo].1 } else { 0 };
        let count = (n - before) as f64;
        slowest = Some(slowest.map_or(count, |s: f64| s.min(count)));
    }
    slowest
}

/// A line of /proc/self/status in MiB (`VmRSS`: all resident pages, mapped segment files
/// included; `RssAnon`: the process's own memory).
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Median of `runs` timings of `f`, in microseconds.
fn median_us(runs: usize, mut f: impl FnMut() -> Result<(), Box<dyn Error>>) -> Result<f64, Box<dyn Error>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

struct QueryRow {
    q1: f64,
    q2: f64,
    q2l: f64,
    state_at: f64,
    latest: f64,
    fleet_day: (f64, f64),
    fleet_all: (f64, f64),
}

fn fleet(store: &Store, from: Timestamp, to: Timestamp, interval: Duration) -> Result<(f64, f64), Box<dyn Error>> {
    let q = AggregateSeriesQuery::new(TwinSelector::Prefix("thermostat".into()), from, to, interval)
        .variable("avg", Variable::numeric("$event.Temperature.Double", "avg($value)"))
        .merged();
    let t = Instant::now();
    std::hint::black_box(store.aggregate_series(&q)?);
    let first = t.elapsed().as_secs_f64() * 1e3;
    let repeated = median_us(3, || {
        std::hint::black_box(store.aggregate_series(&q)?);
        Ok(())
    })? / 1e3;
    Ok((first, repeated))
}

/// Q1: one hour of `Temperature` of `twin` from `from`.
fn one_hour(store: &Store, twin: String, from: i64) -> Result<(), Box<dyn Error>> {
    let q = EventsQuery::new(twin)
        .from(Timestamp::from_nanos(from))
        .to(Timestamp::from_nanos(from + HOUR_NANOS))
        .properties(["Temperature"]);
    std::hint::black_box(store.events(&q)?);
    Ok(())
}

fn measure(store: &Store, args: &Args, start: i64, now: i64, rng: &mut ChaCha8Rng) -> Result<QueryRow, Box<dyn Error>> {
    let day_from = now - DAY_NANOS;
    let mut twin = || format!("thermostat{:04}", rng.random_range(0..args.twins));
    let mut hours = ChaCha8Rng::seed_from_u64(7);
    let q1 = median_us(20, || {
        let from = day_from + hours.random_range(0..23) * HOUR_NANOS;
        one_hour(store, twin(), from)
    })?;
    let aggregate = |twin: String, from: i64, interval: u64| -> Result<(), Box<dyn Error>> {
        let q = AggregateQuery::new(
            twin,
            "Temperature",
            Timestamp::from_nanos(from),
            Timestamp::from_nanos(now),
            Duration::from_secs(interval),
        );
        std::hint::black_box(store.aggregate(&q)?);
        Ok(())
    };
    let q2 = median_us(20, || aggregate(twin(), day_from, 60))?;
    let q2l = median_us(10, || aggregate(twin(), start.max(now - 30 * DAY_NANOS), 3600))?;
    let mut instants = ChaCha8Rng::seed_from_u64(11);
    let state_at = median_us(50, || {
        let at = Timestamp::from_nanos(instants.random_range(start..now));
        std::hint::black_box(store.state_at(&twin(), at)?);
        Ok(())
    })?;
    let latest = median_us(50, || {
        std::hint::black_box(store.latest(&twin())?);
        Ok(())
    })?;
    let fleet_day = fleet(
        store,
        Timestamp::from_nanos(day_from),
        Timestamp::from_nanos(now),
        Duration::from_secs(3600),
    )?;
    let fleet_all = fleet(
        store,
        Timestamp::from_nanos(start),
        Timestamp::from_nanos(now),
        Duration::from_secs(86_400),
    )?;
    Ok(QueryRow {
        q1,
        q2,
        q2l,
        state_at,
        latest,
        fleet_day,
        fleet_all,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let temp = tempfile::tempdir()?;
    let dir = args.dir.clone().map_or_else(|| temp.path().to_path_buf(), Into::into);
    let options = Options::default()
        .durability(Durability::GroupCommit {
            interval: Duration::from_millis(10),
        })
        .warm_budget_bytes(args.warm_mib << 20);
    let store = Store::open(&dir, options)?;
    let start = Timestamp::parse("2026-01-01T00:00:00Z")?.as_nanos();
    let mut feed = Feed::new(args.twins, args.period_secs, start, args.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x5eed);
    println!(
        "history: {} twins, one record each {} s (±30 %), {} records per write call, warm budget {} MiB, {} days",
        args.twins, args.period_secs, args.batch, args.warm_mib, args.days
    );
    println!();
    println!(
        "| day | records/s | slowest 1 s window | longest call ms | RSS / anon MiB | warm MiB | files | disk MB | bytes/point | Q1 us | Q2 us | Q2L us | state_at us | latest us | fleet day ms (first / again) | fleet all days ms (first / again) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut all_windows = Vec::new();
    // (cumulative seconds inside write calls, cumulative records) after each call.
    let mut marks: Vec<(f64, u64)> = Vec::new();
    let (mut spent_total, mut written_total) = (0.0f64, 0u64);
    for day in 0..args.days {
        let end = start + (day as i64 + 1) * DAY_NANOS;
        let day_marks = marks.len();
        let (mut spent, mut written, mut longest) = (0.0f64, 0u64, 0.0f64);
        // Generated an hour at a time, so that the benchmark's own buffer stays small beside
        // the store's memory.
        for hour in 1..=24 {
            let records = feed.until(end - DAY_NANOS + hour * HOUR_NANOS);
            for batch in records.chunks(args.batch) {
                let t = Instant::now();
                store.write(batch)?;
                let secs = t.elapsed().as_secs_f64();
                spent += secs;
                longest = longest.max(secs);
                written += batch.len() as u64;
                spent_total += secs;
                written_total += batch.len() as u64;
                marks.push((spent_total, written_total));
            }
        }
        let slowest = slowest_window(&marks, day_marks);
        if let Some(s) = slowest {
            all_windows.push(s);
        }
        let stats = store.stats();
        let queries = if (day + 1) % args.query_every.max(1) == 0 || day + 1 == args.days {
            Some(measure(&store, &args, start, end, &mut rng)?)
        } else {
            None
        };
        let q = |f: fn(&QueryRow) -> String| queries.as_ref().map_or(String::new(), f);
        println!(
            "| {} | {:.2} M | {} | {:.1} | {:.0} / {:.0} | {:.1} | {} | {:.1} | {:.2} | {} | {} | {} | {} | {} | {} | {} |",
            day + 1,
            written as f64 / spent.max(1e-9) / 1e6,
            slowest.map_or("(under 1 s)".to_string(), |s| format!("{:.2} M", s / 1e6)),
            longest * 1e3,
            status_mib("VmRSS:"),
            status_mib("RssAnon:"),
            stats.warm_bytes as f64 / (1 << 20) as f64,
            stats.files,
            store.disk_bytes()? as f64 / 1e6,
            stats.bytes_per_point(),
            q(|r| format!("{:.1}", r.q1)),
            q(|r| format!("{:.1}", r.q2)),
            q(|r| format!("{:.1}", r.q2l)),
            q(|r| format!("{:.1}", r.state_at)),
            q(|r| format!("{:.1}", r.latest)),
            q(|r| format!("{:.1} / {:.1}", r.fleet_day.0, r.fleet_day.1)),
            q(|r| format!("{:.1} / {:.1}", r.fleet_all.0, r.fleet_all.1)),
        );
    }
    all_windows.sort_by(f64::total_cmp);
    if let (Some(min), Some(median)) = (all_windows.first(), all_windows.get(all_windows.len() / 2)) {
        println!();
        println!(
            "slowest one-second window over the run: {:.2} M records/s; median of the days' slowest windows: {:.2} M records/s",
            min / 1e6,
            median / 1e6
        );
    }
    let metrics = store.metrics();
    println!(
        "segment bytes written {} over {} flushed: write amplification {:.2}; {} flushes, {} compactions",
        metrics.segment_bytes_written,
        metrics.flushed_bytes,
        metrics.segment_bytes_written as f64 / metrics.flushed_bytes.max(1) as f64,
        metrics.flushes,
        metrics.compactions
    );
    println!(
        "writes that waited for a flush (warm tier past twice its budget): {} ({:.1} s in all)",
        metrics.write_waits,
        metrics.write_waited.as_secs_f64()
    );
    let stats = store.stats();
    println!(
        "memory the store accounts for: warm tier {:.1} MiB, block cache {:.1} MiB; segment files mapped: {:.1} MiB in {} files",
        stats.warm_bytes as f64 / MIB,
        stats.block_cache_bytes as f64 / MIB,
        stats.cold_bytes as f64 / MIB,
        stats.files
    );
    if let Some(e) = store.maintenance_error() {
        println!("maintenance error: {e}");
    }
    // Reopening: the store is flushed first, so the time is the open of the cold tier (the
    // manifest, every file's header and trailer), not a log replay.
    store.flush()?;
    drop(store);
    let mut opens = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let store = Store::open(&dir, Options::default().background_maintenance(false))?;
        opens.push(t.elapsed().as_secs_f64() * 1e3);
        drop(store);
    }
    opens.sort_by(f64::total_cmp);
    println!("reopen after a flush (median of 3): {:.1} ms", opens[1]);
    let store = Store::open(&dir, Options::default().background_maintenance(false))?;
    point_reads_by_span(&store, &args, start)?;
    Ok(())
}

/// Point reads in the reopened, quiet store at random instants over the first five days and
/// over the whole history, in that order and then again: whether a point read costs more
/// because the history is longer, with the feed and maintenance out of the way.
fn point_reads_by_span(store: &Store, args: &Args, start: i64) -> Result<(), Box<dyn Error>> {
    let days = i64::try_from(args.days)?;
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for span in [days.min(5), days, days.min(5), days] {
        let end = start + span * DAY_NANOS;
        let mut pick = || {
            let twin = format!("thermostat{:04}", rng.random_range(0..args.twins));
            (twin, rng.random_range(start..end - HOUR_NANOS))
        };
        let state_at = median_us(4000, || {
            let (twin, at) = pick();
            std::hint::black_box(store.state_at(&twin, Timestamp::from_nanos(at))?);
            Ok(())
        })?;
        let q1 = median_us(4000, || {
            let (twin, from) = pick();
            one_hour(store, twin, from)
        })?;
        println!(
            "quiet store, random instants over the first {span} days: state_at {state_at:.1} us, Q1 {q1:.1} us (medians of 4,000)"
        );
    }
    Ok(())
}
