//! Prints twinstore's headline figures on the benchmark workload (../shared/WORKLOAD.md),
//! in the layout of the peers' table there, so the comparison is direct.
//!
//! ```text
//! cargo run --release --example generate -- --size medium --out /tmp/medium.ndjson
//! cargo run --release --example bench_report -- --input /tmp/medium.ndjson
//! ```
//!
//! Knobs (environment): `CHUNK_MB` (NDJSON bytes per ingest call, default 16),
//! `TYPED_BATCH` (records per typed write call, default 100,000), `INGEST_ONLY=1` (stop after
//! the NDJSON loads; with `TYPED=1` also run the typed load).
//!
//! Figures: NDJSON ingest (WAL on, group commit) on one core and on all cores, typed-API
//! ingest, warm-tier bytes per point, and the latency of each query kind (medians), on the
//! warm tier and again after a full flush and reopen (the cold tier), with the cold tier's
//! size, its breakdown, open times, resident memory and the real station data's size.
//! Q2 uses `Store::aggregate` (and again the TSI JSON body); Q3 is one merged fleet
//! `aggregate_series` over every thermostat (both cores); Q4 is one `latest_many` call.

/// The allocator matters for bulk loads (see README, "Allocator"); measure with a good one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::error::Error;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use twinstore::{
    AggregateQuery, AggregateSeriesQuery, Durability, EventsQuery, IngestOptions, Options, Record, Store, Timestamp,
    TwinSelector, Variable,
};

/// Input is fed in chunks of this size, as the CLI does.
const CHUNK: usize = 16 << 20;
fn chunk() -> usize {
    std::env::var("CHUNK_MB")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .map_or(CHUNK, |m| m << 20)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(dir) = arg("--rss-probe") {
        return rss_probe(&dir);
    }
    let input_path = arg("--input").unwrap_or_else(|| "/tmp/medium.ndjson".into());
    let input =
        std::fs::read(&input_path).map_err(|e| format!("{input_path}: {e} (make it with the generate example)"))?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "workload: {input_path} ({:.0} MB), {cores} cores\n",
        input.len() as f64 / 1e6
    );

    let group = Durability::GroupCommit {
        interval: Duration::from_millis(10),
    };
    // 1. NDJSON ingest, one core then all cores (median of runs for the single core).
    let one = ingest_file(&input, Options::default().durability(group).ingest_threads(1))?;
    let all = ingest_file(&input, Options::default().durability(group).ingest_threads(cores))?;
    if std::env::var("INGEST_ONLY").is_ok() {
        println!(
            "1 core {:.2} M/s ({:.2} s), {cores} cores {:.2} M/s ({:.2} s)",
            one.records as f64 / one.secs / 1e6,
            one.secs,
            all.records as f64 / all.secs / 1e6,
            all.secs
        );
        if std::env::var("TYPED").is_err() {
            return Ok(());
        }
    }
    let store = all.store;
    let stats = store.stats();

    // 2. Typed API: the same rows, read back and rewritten as Records.
    let records = read_back(&store)?;
    let typed_points: u64 = records.iter().map(|r| r.values.len() as u64).sum();
    let typed_dir = tempfile::tempdir()?;
    let typed = Store::open(typed_dir.path(), Options::default().durability(group))?;
    let started = Instant::now();
    for batch in records.chunks(typed_batch()) {
        typed.write(batch)?;
    }
    typed.sync()?;
    let typed_secs = started.elapsed().as_secs_f64();
    drop(records);
    drop(typed);
    if std::env::var("INGEST_ONLY").is_ok() {
        println!("typed {:.2} M points/s", typed_points as f64 / typed_secs / 1e6);
        return Ok(());
    }

    // 3. Queries on the warm tier.
    let twins: Vec<String> = store.twins()?.into_iter().map(|t| t.id).collect();
    let warm = measure_queries(&store, &twins)?;

    // 4. The cold tier: flush everything, reopen, query again.
    let started = Instant::now();
    store.flush()?;
    let flush_secs = started.elapsed().as_secs_f64();
    let cold_stats = store.stats();
    let sizes = store.cold_size_breakdown()?;
    let store_path = store.path().to_path_buf();
    drop(store);
    // Resident memory is measured in a fresh process: this one holds the allocator's cache
    // of everything loaded so far.
    let probe = std::process::Command::new(std::env::current_exe()?)
        .args(["--rss-probe", &store_path.display().to_string()])
        .output()?;
    let probe = String::from_utf8_lossy(&probe.stdout).into_owned();
    let rss: Vec<f64> = probe.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let (rss_start, rss_open, rss_queried) = (
        rss.first().copied().unwrap_or(0.0),
        rss.get(1).copied().unwrap_or(0.0),
        rss.get(2).copied().unwrap_or(0.0),
    );
    let started = Instant::now();
    let store = Store::open(&store_path, Options::default())?;
    let open_secs = started.elapsed().as_secs_f64();
    let cold = measure_queries(&store, &twins)?;
    drop(store);

    // 5. The real station data.
    let station = station_figures(&arg("--station").unwrap_or_else(|| STATION.into()))?;
    // 6. Opening a store of 100,000 twins in 1,000 files.
    let (many_build, many_open) = many_files()?;

    let points = stats.points as f64;
    let cold_points = cold_stats.points as f64;
    println!("| figure | twinstore | target |");
    println!("|---|---|---|");
    println!("| records / points ingested | {} / {} | |", stats.records, stats.points);
    println!(
        "| NDJSON ingest, 1 core (records/s) | {:.2} M ({:.2} M points/s, {:.2} s) | >= 1.0 M |",
        one.records as f64 / one.secs / 1e6,
        one.points as f64 / one.secs / 1e6,
        one.secs
    );
    println!(
        "| NDJSON ingest, {cores} cores (records/s) | {:.2} M ({:.2} M points/s, {:.2} s) | >= 1.5 M |",
        all.records as f64 / all.secs / 1e6,
        all.points as f64 / all.secs / 1e6,
        all.secs
    );
    println!(
        "| typed API ingest, {} records per call (points/s) | {:.2} M ({:.2} s) | >= 10 M |",
        typed_batch(),
        typed_points as f64 / typed_secs / 1e6,
        typed_secs
    );
    println!(
        "| warm tier bytes per point | {:.2} | <= 24 |",
        stats.warm_bytes as f64 / points
    );
    println!(
        "| disk bytes per point before flush (WAL) | {:.2} | |",
        stats.disk_bytes as f64 / points
    );
    println!(
        "| latest values of one twin (median) | {:.1} us | microseconds |",
        warm.latest_one
    );
    println!(
        "| state of one twin at an instant (median) | {:.1} us | |",
        warm.state_one
    );
    println!(
        "| Q1 one property, one twin, one hour (median of 50) | {:.1} us | <= 5.6 us (issue 4) |",
        warm.q1
    );
    println!(
        "| Q2 one twin, 1-minute avg/min/max/count over a day (aggregation engine, median of 50) | {:.1} us | <= 22 us (issue 4) |",
        warm.q2
    );
    println!(
        "| Q2 through the TSI aggregateSeries JSON body (parse, query, response JSON) | {:.1} us | |",
        warm.q2_json
    );
    println!(
        "| Q3 hourly avg Temperature over all thermostats (one merged fleet query, both cores; first run / median of 7) | {:.1} / {:.1} ms | < 20.5 ms, then < 10 ms (issue 4) |",
        warm.q3_first / 1000.0,
        warm.q3 / 1000.0
    );
    println!(
        "| Q3 throughput (values folded per second) vs the floor (summing f64 from memory on one core, 11-15 GB/s = 1.4-1.9 G values/s) | {:.0} M values/s ({} values) | |",
        warm.q3_values as f64 / (warm.q3 / 1e6) / 1e6,
        warm.q3_values
    );
    println!(
        "| Q4 latest values of 100 twins in one call (median of 20) | {:.1} us | <= 44 us (issue 4) |",
        warm.q4
    );
    println!();
    println!("Cold tier (after a full flush):\n");
    println!("| figure | twinstore | target |");
    println!("|---|---|---|");
    println!("| flush of the whole warm tier | {flush_secs:.2} s | |");
    println!(
        "| disk bytes per point, whole store directory | {:.2} ({} bytes, {} files) | <= 1.9 |",
        cold_stats.bytes_per_point(),
        cold_stats.disk_bytes,
        cold_stats.files
    );
    println!(
        "| share of segment bytes: timestamps / values / presence / index | {:.0} % / {:.0} % / {:.0} % / {:.0} % ({:.2} / {:.2} / {:.2} / {:.2} bytes per point) | |",
        share(sizes.timestamps, &sizes),
        share(sizes.values, &sizes),
        share(sizes.presence, &sizes),
        share(sizes.index, &sizes),
        sizes.timestamps as f64 / cold_points,
        sizes.values as f64 / cold_points,
        sizes.presence as f64 / cold_points,
        sizes.index as f64 / cold_points,
    );
    println!(
        "| Payerne station data ({} points), disk bytes per point | {:.2} (timestamps / values / presence / index {:.2} / {:.2} / {:.2} / {:.2}) | <= 1.05 |",
        station.points,
        station.bytes_per_point,
        station.sizes.timestamps as f64 / station.points as f64,
        station.sizes.values as f64 / station.points as f64,
        station.sizes.presence as f64 / station.points as f64,
        station.sizes.index as f64 / station.points as f64,
    );
    println!("| open the flushed medium store | {:.0} ms | |", open_secs * 1000.0);
    println!(
        "| open a store of 100,000 twins in 1,000 files (built in {many_build:.1} s) | {:.0} ms | < 1000 ms |",
        many_open * 1000.0
    );
    println!(
        "| RSS of a fresh process: before open / after opening the flushed store / after reading every event of every twin | {rss_start:.0} / {rss_open:.0} / {rss_queried:.0} MiB (segment files {:.0} MiB, mapped) | little beyond the page cache |",
        cold_stats.cold_bytes as f64 / 1048576.0
    );
    println!("| Q1 cold (median of 50) | {:.1} us | <= 5.6 us |", cold.q1);
    println!("| Q2 cold (aggregation engine) | {:.1} us | <= 22 us |", cold.q2);
    println!("| Q2 cold, TSI JSON body | {:.1} us | |", cold.q2_json);
    println!(
        "| Q3 cold (one merged fleet query, both cores; first run after open / median of 7) | {:.1} / {:.1} ms | < 20.5 ms, then < 10 ms |",
        cold.q3_first / 1000.0,
        cold.q3 / 1000.0
    );
    println!(
        "| Q3 cold throughput vs the one-core memory floor (1.4-1.9 G values/s) | {:.0} M values/s | |",
        cold.q3_values as f64 / (cold.q3 / 1e6) / 1e6
    );
    println!("| Q4 cold (median of 20) | {:.1} us | <= 44 us |", cold.q4);
    println!("| latest values of one twin, cold | {:.1} us | |", cold.latest_one);
    println!("| state of one twin at an instant, cold | {:.1} us | |", cold.state_one);
    println!();
    println!("In the layout of ../shared/WORKLOAD.md (warm tier; load = NDJSON to a durable store, {cores} cores):\n");
    println!("| peer | NDJSON load s | records/s | bytes/point on disk | Q1 ms | Q2 ms | Q3 ms | Q4 ms |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| twinstore (this run) | {:.1} | {:.2} M | {:.2} (WAL) | {:.4} | {:.4} | {:.1} | {:.3} |",
        all.secs,
        all.records as f64 / all.secs / 1e6,
        stats.disk_bytes as f64 / points,
        warm.q1 / 1000.0,
        warm.q2 / 1000.0,
        warm.q3 / 1000.0,
        warm.q4 / 1000.0
    );
    println!(
        "| twinstore cold tier (this run, after flush and reopen) | | | {:.2} | {:.4} | {:.4} | {:.1} | {:.3} |",
        cold_stats.bytes_per_point(),
        cold.q1 / 1000.0,
        cold.q2 / 1000.0,
        cold.q3 / 1000.0,
        cold.q4 / 1000.0
    );
    for row in [
        "| DuckDB 2.0 | 10.6 | 880 k | 7.91 | 4.2 | 4.6 | 20.5 | 17.7 |",
        "| chDB 4.4 | 8.0 | 1.15 M | 5.02 | 3.1 | 4.0 | 65.7 | 23.4 |",
        "| SQLite 3.40 | 46.6 | 199 k | 24.1 | 0.030 | 0.63 | 809 | 0.44 |",
        "| Parquet (pyarrow 26, zstd) | 19.0 | 490 k | 3.77 | 7.1 | 7.6 | 143 | 449 |",
        "| ArcticDB 6.28 | 46.2 | 201 k | 15.7 | 1.2 | 1.9 | 1961 | 63 |",
        "| tsink 0.10 | 80.3 | 116 k | 6.45 | 0.028 | 0.11 | 643 | 22 |",
    ] {
        println!("{row}");
    }
    Ok(())
}

struct Loaded {
    store: Store,
    records: u64,
    points: u64,
    secs: f64,
    _dir: tempfile::TempDir,
}

/// Loads the whole input into a new store, in chunks, and syncs: NDJSON to durable store.
fn ingest_file(input: &[u8], options: Options) -> Result<Loaded, Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options)?;
    let started = Instant::now();
    let (mut records, mut points, mut line) = (0, 0, 1);
    let mut rest = input;
    while !rest.is_empty() {
        let chunk = chunk();
        let cut = if rest.len() <= chunk {
            rest.len()
        } else {
            rest[chunk..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |p| chunk + p + 1)
        };
        let (chunk, tail) = rest.split_at(cut);
        let report = store.ingest(
            chunk,
            &IngestOptions {
                first_line: line,
                ..Default::default()
            },
        )?;
        records += report.records;
        points += report.points;
        line += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        rest = tail;
    }
    store.sync()?;
    let secs = started.elapsed().as_secs_f64();
    Ok(Loaded {
        store,
        records,
        points,
        secs,
        _dir: dir,
    })
}

/// Every event of the store as typed records.
fn read_back(store: &Store) -> Result<Vec<Record>, Box<dyn Error>> {
    let mut out = Vec::new();
    for twin in store.twins()? {
        for e in store.events(&EventsQuery::new(twin.id.as_str()))? {
            out.push(Record {
                twin: twin.id.clone(),
                ts: e.ts,
                values: e.values.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
            });
        }
    }
    // Interleave twins by time, as a live feed would, and rebuild each record in that order
    // so its strings are laid out as a service receiving the feed would allocate them.
    out.sort_by_key(|r| r.ts);
    Ok(out
        .iter()
        .map(|r| Record {
            twin: r.twin.clone(),
            ts: r.ts,
            values: r.values.iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
        })
        .collect())
}

/// 1-minute avg, min, max, count of Temperature from raw events.
/// Q2 with the aggregation engine: 1-minute avg, min, max and count of Temperature.
fn minute_buckets(store: &Store, twin: &str, from: Timestamp, to: Timestamp) -> twinstore::SeriesResult {
    let q = AggregateQuery::new(twin, "Temperature", from, to, Duration::from_secs(60));
    store.aggregate(&q).unwrap_or_default()
}

/// Latencies of the query kinds, in microseconds (medians).
struct QueryFigures {
    q1: f64,
    q2: f64,
    q2_json: f64,
    q3: f64,
    q3_first: f64,
    q3_values: u64,
    q4: f64,
    latest_one: f64,
    state_one: f64,
}

/// Runs each query kind on `store` (the same random choices for every call).
fn measure_queries(store: &Store, twins: &[String]) -> Result<QueryFigures, Box<dyn Error>> {
    let store = store.clone();
    let thermostats: Vec<&String> = twins.iter().filter(|t| t.starts_with("thermostat")).collect();
    let (day_start, day_end) = day_span(&store);
    let mut rng = ChaCha8Rng::seed_from_u64(42);

    let q1 = median_micros(50, || {
        let twin = &twins[rng.random_range(0..twins.len())];
        let props = store.schema(twin).unwrap_or_default();
        let prop = props
            .get(rng.random_range(0..props.len().max(1)))
            .map(|p| p.name.to_string())
            .unwrap_or_default();
        let hour = rng.random_range(0..23i64);
        let from = day_start.saturating_add_nanos(hour * 3_600_000_000_000);
        let q = EventsQuery::new(twin.as_str())
            .from(from)
            .to(from.saturating_add_nanos(3_600_000_000_000))
            .properties([prop]);
        let t = Instant::now();
        let n = store.events(&q).map(|e| e.len()).unwrap_or(0);
        std::hint::black_box(n);
        t.elapsed()
    });
    let q2 = median_micros(50, || {
        let twin = thermostats[rng.random_range(0..thermostats.len())].as_str();
        let t = Instant::now();
        let buckets = minute_buckets(&store, twin, day_start, day_end);
        std::hint::black_box(buckets);
        t.elapsed()
    });
    // Q3: one fleet query, merged over every thermostat, on both cores. The first run after
    // open decodes every block (and fills the decoded-block cache); later runs read the cache.
    let fleet = AggregateSeriesQuery::new(
        TwinSelector::Prefix("thermostat".into()),
        day_start,
        day_end,
        Duration::from_secs(3600),
    )
    .variable("avg", Variable::numeric("$event.Temperature.Double", "avg($value)"))
    .merged();
    let started = Instant::now();
    std::hint::black_box(store.aggregate_series(&fleet)?);
    let q3_first = started.elapsed().as_secs_f64() * 1e6;
    let q3 = median_micros(7, || {
        let t = Instant::now();
        std::hint::black_box(store.aggregate_series(&fleet).map(|f| f.len()).unwrap_or(0));
        t.elapsed()
    });
    let q3_values: u64 = thermostats
        .iter()
        .flat_map(|t| store.schema(t).unwrap_or_default())
        .filter(|p| &*p.name == "Temperature" && p.value_type == twinstore::ValueType::Double)
        .map(|p| p.count)
        .sum();
    // Q2 through the TSI JSON body (the same engine, plus parsing and the response JSON).
    let q2_json = median_micros(50, || {
        let twin = thermostats[rng.random_range(0..thermostats.len())].as_str();
        let body = format!(
            r#"{{"aggregateSeries": {{"timeSeriesId": ["{twin}"], "searchSpan": {{"from": "{day_start}", "to": "{day_end}"}},
                "interval": "PT1M", "inlineVariables": {{
                  "avg": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double"}}, "aggregation": {{"tsx": "avg($value)"}}}},
                  "min": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double"}}, "aggregation": {{"tsx": "min($value)"}}}},
                  "max": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double"}}, "aggregation": {{"tsx": "max($value)"}}}},
                  "count": {{"kind": "aggregate", "aggregation": {{"tsx": "count()"}}}}}}}}}}"#
        );
        let t = Instant::now();
        std::hint::black_box(
            store
                .query_json(body.as_bytes())
                .map(|v| v.is_object())
                .unwrap_or(false),
        );
        t.elapsed()
    });
    let q4 = median_micros(20, || {
        let picks: Vec<&String> = (0..100).map(|_| &twins[rng.random_range(0..twins.len())]).collect();
        let t = Instant::now();
        std::hint::black_box(store.latest_many(&picks).map(|s| s.len()).unwrap_or(0));
        t.elapsed()
    });
    let latest_one = median_micros(200, || {
        let twin = &twins[rng.random_range(0..twins.len())];
        let t = Instant::now();
        std::hint::black_box(store.latest(twin).map(|s| s.properties.len()).unwrap_or(0));
        t.elapsed()
    });
    let state_one = median_micros(200, || {
        let twin = &twins[rng.random_range(0..twins.len())];
        let at = day_start.saturating_add_nanos(rng.random_range(0..86_400i64) * 1_000_000_000);
        let t = Instant::now();
        std::hint::black_box(store.state_at(twin, at).map(|s| s.properties.len()).unwrap_or(0));
        t.elapsed()
    });

    Ok(QueryFigures {
        q1,
        q2,
        q2_json,
        q3,
        q3_first,
        q3_values,
        q4,
        latest_one,
        state_one,
    })
}

/// The real station data in tests/fixtures (see its README).
const STATION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/payerne-bsrn-2016-06.ndjson.zst"
);

struct Station {
    points: u64,
    bytes_per_point: f64,
    sizes: twinstore::SizeBreakdown,
}

/// Loads the station data, flushes, and measures its size on disk.
fn station_figures(path: &str) -> Result<Station, Box<dyn Error>> {
    let compressed = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let input = zstd::decode_all(&compressed[..])?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), Options::default().background_maintenance(false))?;
    store.ingest_ndjson(&input)?;
    store.flush()?;
    let stats = store.stats();
    Ok(Station {
        points: stats.points,
        bytes_per_point: stats.bytes_per_point(),
        sizes: store.cold_size_breakdown()?,
    })
}

/// Builds a store of 100,000 twins spread over 1,000 segment files (100 twins per flush,
/// ten records each), closes it, and times opening it. Returns (build s, open s).
fn many_files() -> Result<(f64, f64), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    {
        let options = Options::default()
            .durability(Durability::NoSync)
            .background_maintenance(false);
        let store = Store::open(dir.path(), options)?;
        for file in 0..1000 {
            let records: Vec<Record> = (0..100)
                .flat_map(|t| {
                    let twin = format!("twin-{:06}", file * 100 + t);
                    (0..10).map(move |i| {
                        Record::new(
                            twin.clone(),
                            Timestamp::from_nanos(1_767_225_600_000_000_000 + i * 60_000_000_000),
                        )
                        .with("Temperature", 20.0 + i as f64 / 10.0)
                        .with("Mode", "auto")
                    })
                })
                .collect();
            store.write(&records)?;
            store.flush()?;
        }
    }
    let build = started.elapsed().as_secs_f64();
    let opens: Vec<f64> = (0..3)
        .map(|_| {
            let started = Instant::now();
            let store = Store::open(dir.path(), Options::default().background_maintenance(false));
            let secs = started.elapsed().as_secs_f64();
            drop(store);
            secs
        })
        .collect();
    let mut sorted = opens;
    sorted.sort_by(f64::total_cmp);
    Ok((build, sorted[1]))
}

fn share(part: u64, sizes: &twinstore::SizeBreakdown) -> f64 {
    let total = sizes.timestamps + sizes.values + sizes.presence + sizes.index;
    100.0 * part as f64 / total.max(1) as f64
}

/// The child process of the RSS figure: prints RSS before opening the store in `dir`, after
/// opening it, and after reading every event of every twin.
fn rss_probe(dir: &str) -> Result<(), Box<dyn Error>> {
    let start = rss_mib();
    let store = Store::open(dir, Options::default().background_maintenance(false))?;
    let open = rss_mib();
    let mut events = 0usize;
    for twin in store.twins()? {
        events += store.events(&EventsQuery::new(twin.id.as_str()))?.len();
    }
    std::hint::black_box(events);
    println!("{start:.1} {open:.1} {:.1}", rss_mib());
    Ok(())
}

/// Resident memory of this process, MiB (Linux; 0 elsewhere).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The workload's day: from the earliest event, 24 hours.
fn day_span(store: &Store) -> (Timestamp, Timestamp) {
    let first = store
        .twins()
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t.time_range)
        .map(|r| r.0)
        .min()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let start = Timestamp::from_nanos(first.as_nanos() - first.as_nanos().rem_euclid(86_400_000_000_000));
    (start, start.saturating_add_nanos(86_400_000_000_000))
}

/// Runs `sample` `n` times and returns the median in microseconds.
fn median_micros(n: usize, mut sample: impl FnMut() -> Duration) -> f64 {
    let mut times: Vec<f64> = (0..n).map(|_| sample().as_secs_f64() * 1e6).collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Records per typed write call (`TYPED_BATCH` overrides).
fn typed_batch() -> usize {
    std::env::var("TYPED_BATCH")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100_000)
}
