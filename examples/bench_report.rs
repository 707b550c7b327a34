//! Prints twinstore's headline figures on the benchmark workload (docs/WORKLOAD.md), and
//! the peers' figures quoted from that document beside them, in the same layout.
//!
//! ```text
//! cargo run --release --example generate -- --size medium --out /tmp/medium.ndjson
//! cargo run --release --example bench_report -- --input /tmp/medium.ndjson [--ingest-runs N]
//! ```
//!
//! Flags: `--input FILE` (the NDJSON workload, default /tmp/medium.ndjson), `--ingest-runs N`
//! (NDJSON loads per core count, the median is reported; default 1), `--station FILE` (the
//! real station data, default the fixture). Knobs (environment): `CHUNK_MB` (NDJSON bytes per
//! ingest call, default 16), `TYPED_BATCH` (records per typed write call, default 100,000),
//! `INGEST_ONLY=1` (stop after the NDJSON loads; with `TYPED=1` also run the typed load),
//! `MODEL_ONLY=1` (only the Time Series Model figures).
//!
//! Every figure says how many runs it is: a median of N samples, or one run. A failed query
//! or load stops the report with its error: no figure is made of a failure.
//!
//! Figures: NDJSON ingest (WAL on, group commit) with one ingest thread and with one per
//! core (the store's fold and WAL threads beside them), typed-API ingest, warm-tier bytes
//! per point, and the latency of each query kind (medians), on the
//! warm tier and again after a full flush and reopen (the cold tier), with the cold tier's
//! size, its breakdown, open times, resident memory and the real station data's size.
//! Q2 uses `Store::aggregate` (and again the TSI JSON body); Q3 is one merged fleet
//! `aggregate_series` over every thermostat (both cores); Q4 is one `latest_many` call. Last,
//! the Time Series Model at 100,000 instances in 6 levels (benches/model.rs's fleet):
//! search, expansion and suggest latency, the index build, and bytes per instance.

#[path = "../benches/common/model_fleet.rs"]
mod model_fleet;

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
const CHUNK: usize = twinstore::READER_CHUNK_BYTES;
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
    if std::env::var("MODEL_ONLY").is_ok_and(|v| v == "1") {
        return model_figures();
    }
    let input_path = arg("--input").unwrap_or_else(|| "/tmp/medium.ndjson".into());
    let ingest_runs: usize = match arg("--ingest-runs") {
        Some(n) => n.parse().map_err(|e| format!("--ingest-runs {n}: {e}"))?,
        None => 1,
    };
    if ingest_runs == 0 {
        return Err("--ingest-runs must be at least 1".into());
    }
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
    // 1. NDJSON ingest, one ingest thread then one per core, each the median of `ingest_runs`
    // loads. The store's own threads (the fold thread, the WAL's group commit) run beside
    // the ingest threads; for one core in all, run the report under `taskset -c 0`.
    let one = ingest_median(
        &input,
        ingest_runs,
        Options::default().durability(group).ingest_threads(1),
    )?;
    let all = ingest_median(
        &input,
        ingest_runs,
        Options::default().durability(group).ingest_threads(cores),
    )?;
    let load_runs = runs_label(ingest_runs);
    if std::env::var("INGEST_ONLY").is_ok() {
        println!(
            "{load_runs}: 1 ingest thread {:.2} M/s ({:.2} s), {cores} ingest threads {:.2} M/s ({:.2} s)",
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
        println!(
            "typed (one run) {:.2} M points/s",
            typed_points as f64 / typed_secs / 1e6
        );
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
    if !probe.status.success() {
        return Err(format!(
            "the RSS probe failed ({}): {}",
            probe.status,
            String::from_utf8_lossy(&probe.stderr)
        )
        .into());
    }
    let printed = String::from_utf8_lossy(&probe.stdout).into_owned();
    let rss = printed
        .split_whitespace()
        .map(str::parse::<f64>)
        .collect::<Result<Vec<f64>, _>>()
        .map_err(|e| format!("the RSS probe printed {printed:?}: {e}"))?;
    let [rss_start, rss_open, rss_queried] = rss[..] else {
        return Err(format!("the RSS probe printed {printed:?}, not three figures").into());
    };
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
    println!(
        "| records / points ingested (rejected lines) | {} / {} ({}) | |",
        stats.records, stats.points, all.rejected
    );
    println!(
        "| NDJSON ingest, 1 ingest thread (records/s, {load_runs}) | {:.2} M ({:.2} M points/s, {:.2} s) | >= 1.0 M |",
        one.records as f64 / one.secs / 1e6,
        one.points as f64 / one.secs / 1e6,
        one.secs
    );
    println!(
        "| NDJSON ingest, {cores} ingest threads (records/s, {load_runs}) | {:.2} M ({:.2} M points/s, {:.2} s) | >= 1.5 M |",
        all.records as f64 / all.secs / 1e6,
        all.points as f64 / all.secs / 1e6,
        all.secs
    );
    println!(
        "| typed API ingest, {} records per call (points/s, one run) | {:.2} M ({:.2} s) | >= 10 M |",
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
        "| latest values of one twin (median of 200) | {:.1} us | microseconds |",
        warm.latest_one
    );
    println!(
        "| state of one twin at an instant (median of 200) | {:.1} us | |",
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
        "| Q2 through the TSI aggregateSeries JSON body (parse, query, response JSON; median of 50) | {:.1} us | |",
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
    println!("| flush of the whole warm tier (one run) | {flush_secs:.2} s | |");
    println!(
        "| disk bytes per point, whole store directory | {:.2} ({} bytes, {} files) | <= 1.9 |",
        cold_stats.bytes_per_point(),
        cold_stats.disk_bytes,
        cold_stats.files
    );
    println!(
        "| share of segment bytes: timestamps / values / presence / hour summaries / index | {:.0} % / {:.0} % / {:.0} % / {:.0} % / {:.0} % ({:.2} / {:.2} / {:.2} / {:.2} / {:.2} bytes per point) | |",
        share(sizes.timestamps, &sizes),
        share(sizes.values, &sizes),
        share(sizes.presence, &sizes),
        share(sizes.summaries, &sizes),
        share(sizes.index, &sizes),
        sizes.timestamps as f64 / cold_points,
        sizes.values as f64 / cold_points,
        sizes.presence as f64 / cold_points,
        sizes.summaries as f64 / cold_points,
        sizes.index as f64 / cold_points,
    );
    println!(
        "| Payerne station data ({} points), disk bytes per point | {:.2} (timestamps / values / presence / hour summaries / index {:.2} / {:.2} / {:.2} / {:.2} / {:.2}) | <= 1.05 |",
        station.points,
        station.bytes_per_point,
        station.sizes.timestamps as f64 / station.points as f64,
        station.sizes.values as f64 / station.points as f64,
        station.sizes.presence as f64 / station.points as f64,
        station.sizes.summaries as f64 / station.points as f64,
        station.sizes.index as f64 / station.points as f64,
    );
    println!("| open the flushed store (one run) | {:.0} ms | |", open_secs * 1000.0);
    println!(
        "| open a store of 100,000 twins in 1,000 files (built in {many_build:.1} s; median of 3 opens) | {:.0} ms | < 1000 ms |",
        many_open * 1000.0
    );
    println!(
        "| RSS of a fresh process (one run): before open / after opening the flushed store / after reading every event of every twin | {rss_start:.0} / {rss_open:.0} / {rss_queried:.0} MiB (segment files {:.0} MiB, mapped) | little beyond the page cache |",
        cold_stats.cold_bytes as f64 / 1048576.0
    );
    println!("| Q1 cold (median of 50) | {:.1} us | <= 5.6 us |", cold.q1);
    println!(
        "| Q2 cold (aggregation engine, median of 50) | {:.1} us | <= 22 us |",
        cold.q2
    );
    println!("| Q2 cold, TSI JSON body (median of 50) | {:.1} us | |", cold.q2_json);
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
    println!(
        "| latest values of one twin, cold (median of 200) | {:.1} us | |",
        cold.latest_one
    );
    println!(
        "| state of one twin at an instant, cold (median of 200) | {:.1} us | |",
        cold.state_one
    );
    println!();
    println!(
        "In the layout of docs/WORKLOAD.md (warm tier; load = NDJSON to a durable store, {cores} cores, {load_runs}; \
         queries are the medians above). This run: {} records from {input_path}.\n",
        stats.records
    );
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
    println!();
    println!(
        "Peers, QUOTED from docs/WORKLOAD.md (not measured by this run): their figures as that \
         document records them, measured in 2026-11 on the medium workload (10,000 twins, one day). \
         They compare with the rows above only when this run read the medium workload.\n"
    );
    println!(
        "| peer (quoted, 2026-11) | NDJSON load s | records/s | bytes/point on disk | Q1 ms | Q2 ms | Q3 ms | Q4 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in QUOTED_PEERS {
        println!("{row}");
    }
    model_figures()
}

/// The Time Series Model at fleet size (the fleet of benches/model.rs): search, expansion
/// and suggest latency over 100,000 instances in 6 levels, and the model file's bytes per
/// instance.
fn model_figures() -> Result<(), Box<dyn Error>> {
    use twinstore::tsm::{Expand, InstanceSearch};
    let dir = tempfile::tempdir()?;
    // Resident memory before the fleet is made and after the first search built the index:
    // what keeping the model and its index costs the process (an upper bound: the
    // allocator may keep pages that building them freed).
    let before = rss_mib()?;
    let (store, bytes, total) = model_fleet::fleet_store(dir.path());
    // The first search builds the index (timed once); the medians read it.
    let t = Instant::now();
    store.search_instances(&InstanceSearch::default())?;
    let build_ms = t.elapsed().as_secs_f64() * 1e3;
    let with_index = rss_mib()?;
    let search = |q: InstanceSearch| {
        median_micros(50, || {
            let t = Instant::now();
            std::hint::black_box(store.search_instances(&q)?);
            Ok(t.elapsed())
        })
    };
    let text = search(InstanceSearch {
        text: "sensor 4242".into(),
        ..InstanceSearch::default()
    })?;
    let deep = search(InstanceSearch {
        path: model_fleet::deep_path(),
        ..InstanceSearch::default()
    })?;
    let root = search(InstanceSearch {
        path: vec!["Site".into()],
        recursive: false,
        expand: Expand::OneLevel,
        ..InstanceSearch::default()
    })?;
    let suggest = median_micros(50, || {
        let t = Instant::now();
        std::hint::black_box(store.suggest_instances("sensor 99", 10));
        Ok(t.elapsed())
    })?;
    println!();
    println!("Time Series Model: {total} instances in a 6-level hierarchy (one run, medians of 50).\n");
    println!("| figure | twinstore | target (issue 16) |");
    println!("|---|---|---|");
    println!("| search text over every instance | {:.0} us | < 5 ms |", text);
    println!("| expand a node 5 levels down | {:.1} us | < 5 ms |", deep);
    println!("| expand the hierarchy's root, one level | {:.1} us | < 5 ms |", root);
    println!("| suggest, 10 values | {:.1} us | |", suggest);
    println!("| first search after a change (builds the index) | {build_ms:.0} ms | |");
    println!(
        "| model file bytes per instance | {:.0} | |",
        bytes as f64 / total as f64
    );
    println!(
        "| resident memory per instance, model and search index (upper bound) | {:.0} bytes | |",
        (with_index - before) * 1024.0 * 1024.0 / total as f64
    );
    Ok(())
}

/// The peers' rows of docs/WORKLOAD.md's results table, as that document gives them
/// (measured 2026-11 on the medium workload; not measured by this program).
const QUOTED_PEERS: [&str; 6] = [
    "| DuckDB 2.0 | 10.6 | 880 k | 7.91 | 4.2 | 4.6 | 20.5 | 17.7 |",
    "| chDB 4.4 | 8.0 | 1.15 M | 5.02 | 3.1 | 4.0 | 65.7 | 23.4 |",
    "| SQLite 3.40 | 46.6 | 199 k | 24.1 | 0.030 | 0.63 | 809 | 0.44 |",
    "| Parquet (pyarrow 26, zstd) | 19.0 | 490 k | 3.77 | 7.1 | 7.6 | 143 | 449 |",
    "| ArcticDB 6.28 | 46.2 | 201 k | 15.7 | 1.2 | 1.9 | 1961 | 63 |",
    "| tsink 0.10 | 80.3 | 116 k | 6.45 | 0.028 | 0.11 | 643 | 22 |",
];

/// "one run" or "median of N runs".
fn runs_label(runs: usize) -> String {
    if runs == 1 {
        "one run".to_string()
    } else {
        format!("median of {runs} runs")
    }
}

struct Loaded {
    store: Store,
    records: u64,
    points: u64,
    /// Lines the store rejected (they are not in `records`).
    rejected: u64,
    secs: f64,
    _dir: tempfile::TempDir,
}

/// Loads the input `runs` times, each into a new store, and reports the median time. The
/// report goes on with the last load's store (every load holds the same rows); each earlier
/// store is dropped before the next load, so loads do not share the machine's memory.
fn ingest_median(input: &[u8], runs: usize, options: Options) -> Result<Loaded, Box<dyn Error>> {
    let mut secs = Vec::with_capacity(runs);
    let mut last: Option<Loaded> = None;
    for _ in 0..runs {
        drop(last.take());
        let load = ingest_file(input, options.clone())?;
        secs.push(load.secs);
        last = Some(load);
    }
    let mut load = last.ok_or("no load was run")?;
    secs.sort_by(f64::total_cmp);
    load.secs = secs[secs.len() / 2];
    Ok(load)
}

/// Loads the whole input into a new store, in chunks (`Store::ingest_reader_chunked`, as the
/// CLI does), and syncs: NDJSON to durable store.
fn ingest_file(input: &[u8], options: Options) -> Result<Loaded, Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options)?;
    let started = Instant::now();
    let report = store.ingest_reader_chunked(input, &IngestOptions::default(), chunk(), |_, _| {})?;
    let (records, points, rejected) = (report.records, report.points, report.rejected.len() as u64);
    store.sync()?;
    let secs = started.elapsed().as_secs_f64();
    Ok(Loaded {
        store,
        records,
        points,
        rejected,
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

/// Q2 with the aggregation engine: 1-minute avg, min, max and count of Temperature.
fn minute_buckets(
    store: &Store,
    twin: &str,
    from: Timestamp,
    to: Timestamp,
) -> twinstore::Result<twinstore::SeriesResult> {
    let q = AggregateQuery::new(twin, "Temperature", from, to, Duration::from_secs(60));
    store.aggregate(&q)
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
    if twins.is_empty() {
        return Err("the store holds no twins to query".into());
    }
    let thermostats: Vec<&String> = twins.iter().filter(|t| t.starts_with("thermostat")).collect();
    if thermostats.is_empty() {
        return Err("the workload has no thermostat twins (Q2 and Q3 query them)".into());
    }
    let (day_start, day_end) = day_span(&store)?;
    let mut rng = ChaCha8Rng::seed_from_u64(42);

    let q1 = median_micros(50, || {
        let twin = &twins[rng.random_range(0..twins.len())];
        let props = store.schema(twin)?;
        if props.is_empty() {
            return Err(format!("twin {twin} has no properties to query").into());
        }
        let prop = props[rng.random_range(0..props.len())].name.to_string();
        let hour = rng.random_range(0..23i64);
        let from = day_start.saturating_add_nanos(hour * 3_600_000_000_000);
        let q = EventsQuery::new(twin.as_str())
            .from(from)
            .to(from.saturating_add_nanos(3_600_000_000_000))
            .properties([prop]);
        let t = Instant::now();
        std::hint::black_box(store.events(&q)?.len());
        Ok(t.elapsed())
    })?;
    let q2 = median_micros(50, || {
        let twin = thermostats[rng.random_range(0..thermostats.len())].as_str();
        let t = Instant::now();
        std::hint::black_box(minute_buckets(&store, twin, day_start, day_end)?);
        Ok(t.elapsed())
    })?;
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
        std::hint::black_box(store.aggregate_series(&fleet)?.len());
        Ok(t.elapsed())
    })?;
    let mut q3_values = 0u64;
    for twin in &thermostats {
        q3_values += store
            .schema(twin)?
            .iter()
            .filter(|p| &*p.name == "Temperature" && p.value_type == twinstore::ValueType::Double)
            .map(|p| p.count)
            .sum::<u64>();
    }
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
        std::hint::black_box(store.query_json(body.as_bytes())?);
        Ok(t.elapsed())
    })?;
    let q4 = median_micros(20, || {
        let picks: Vec<&String> = (0..100).map(|_| &twins[rng.random_range(0..twins.len())]).collect();
        let t = Instant::now();
        std::hint::black_box(store.latest_many(&picks)?.len());
        Ok(t.elapsed())
    })?;
    let latest_one = median_micros(200, || {
        let twin = &twins[rng.random_range(0..twins.len())];
        let t = Instant::now();
        std::hint::black_box(store.latest(twin)?.properties.len());
        Ok(t.elapsed())
    })?;
    let state_one = median_micros(200, || {
        let twin = &twins[rng.random_range(0..twins.len())];
        let at = day_start.saturating_add_nanos(rng.random_range(0..86_400i64) * 1_000_000_000);
        let t = Instant::now();
        std::hint::black_box(store.state_at(twin, at)?.properties.len());
        Ok(t.elapsed())
    })?;

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
    let mut opens = Vec::with_capacity(3);
    for _ in 0..3 {
        let started = Instant::now();
        let store = Store::open(dir.path(), Options::default().background_maintenance(false))?;
        opens.push(started.elapsed().as_secs_f64());
        drop(store);
    }
    opens.sort_by(f64::total_cmp);
    Ok((build, opens[1]))
}

fn share(part: u64, sizes: &twinstore::SizeBreakdown) -> f64 {
    let total = sizes.timestamps + sizes.values + sizes.presence + sizes.summaries + sizes.index;
    100.0 * part as f64 / total.max(1) as f64
}

/// The child process of the RSS figure: prints RSS before opening the store in `dir`, after
/// opening it, and after reading every event of every twin.
fn rss_probe(dir: &str) -> Result<(), Box<dyn Error>> {
    let start = rss_mib()?;
    let store = Store::open(dir, Options::default().background_maintenance(false))?;
    let open = rss_mib()?;
    let mut events = 0usize;
    for twin in store.twins()? {
        events += store.events(&EventsQuery::new(twin.id.as_str()))?.len();
    }
    std::hint::black_box(events);
    println!("{start:.1} {open:.1} {:.1}", rss_mib()?);
    Ok(())
}

/// Resident memory of this process, MiB (read from /proc: Linux only).
fn rss_mib() -> Result<f64, Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("/proc/self/status: {e}"))?;
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .ok_or("no VmRSS line in /proc/self/status")?
        .parse::<f64>()?;
    Ok(kb / 1024.0)
}

/// The workload's day: from the earliest event, 24 hours.
fn day_span(store: &Store) -> Result<(Timestamp, Timestamp), Box<dyn Error>> {
    let first = store
        .twins()?
        .iter()
        .filter_map(|t| t.time_range)
        .map(|r| r.0)
        .min()
        .ok_or("the store holds no events")?;
    let start = Timestamp::from_nanos(first.as_nanos() - first.as_nanos().rem_euclid(86_400_000_000_000));
    Ok((start, start.saturating_add_nanos(86_400_000_000_000)))
}

/// Runs `sample` `n` times and returns the median in microseconds; a failed sample stops it
/// with its error.
fn median_micros(
    n: usize,
    mut sample: impl FnMut() -> Result<Duration, Box<dyn Error>>,
) -> Result<f64, Box<dyn Error>> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        times.push(sample()?.as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Records per typed write call (`TYPED_BATCH` overrides).
fn typed_batch() -> usize {
    std::env::var("TYPED_BATCH")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100_000)
}
