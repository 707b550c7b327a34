//! How fast the explorer page draws charts of a 10,000-twin, one-day store: builds the store
//! from the benchmark workload (docs/WORKLOAD.md, `examples/generate.rs --size medium`), gives
//! it a model as ADT would (a Twin.Create naming each twin's DTDL model, and containment
//! relationships: 10 buildings of 10 floors of about 100 twins), serves it on loopback, and
//! runs tests/browser/explorer_bench.mjs in headless Chromium, which times the page from the
//! click on "Add" to the chart drawn. Prints every run and the medians.
//!
//! ```sh
//! cargo run --release --example generate -- --size medium --out /tmp/medium.ndjson
//! cargo run --release --features server --example explorer_bench -- --ndjson /tmp/medium.ndjson \
//!     [--db DIR] [--runs 7]
//! ```
//!
//! With `--db` the store is kept, and a later run with the same `--db` reuses it (no
//! `--ndjson` needed). Needs Chromium and `npm ci` in tests/browser, as the browser tests do.

#[path = "../tests/browser/harness.rs"]
mod harness;

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use twinstore::server::ServerOptions;
use twinstore::{IngestOptions, Options, Store};

// The allocator a service should use (the `twinstore` binary's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The DTDL model of each kind of twin in the workload, by the id's prefix.
const MODELS: [(&str, &str); 3] = [
    ("thermostat-", "dtmi:twinstore:workload:Thermostat;1"),
    ("meter-", "dtmi:twinstore:workload:Meter;1"),
    ("room-", "dtmi:twinstore:workload:Room;1"),
];

struct Args {
    ndjson: Option<PathBuf>,
    db: Option<PathBuf>,
    runs: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        ndjson: None,
        db: None,
        runs: 7,
    };
    let list: Vec<String> = std::env::args().skip(1).collect();
    for pair in list.chunks(2) {
        let value = pair.get(1).ok_or(format!("{} needs a value", pair[0]))?;
        match pair[0].as_str() {
            "--ndjson" => a.ndjson = Some(value.into()),
            "--db" => a.db = Some(value.into()),
            "--runs" => a.runs = value.parse().map_err(|e| format!("--runs: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Loads the workload and the model into an empty store, then moves everything to the
/// cold tier and compacts, as a store a day old would be.
fn build(store: &Store, ndjson: &PathBuf) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let file = std::io::BufReader::new(std::fs::File::open(ndjson)?);
    let report = store.ingest_reader(file, &IngestOptions::default())?;
    println!(
        "ingested {} records, {} points in {:.1} s",
        report.records,
        report.points,
        started.elapsed().as_secs_f64()
    );
    let mut twins: Vec<String> = store.twins()?.into_iter().map(|t| t.id).collect();
    twins.sort();
    let mut events = String::new();
    let mut floors = std::collections::BTreeSet::new();
    for (i, twin) in twins.iter().enumerate() {
        let model = MODELS
            .iter()
            .find(|(prefix, _)| twin.starts_with(prefix))
            .map_or("dtmi:twinstore:workload:Other;1", |(_, m)| m);
        // Consecutive ids go to different floors, so each floor holds every kind.
        let (building, floor) = (i % 100 / 10, i % 10);
        let floor = format!("floor-{building}-{floor}");
        events.push_str(&twin_create(twin, model));
        events.push_str(&contains(&floor, twin));
        floors.insert((building, floor));
    }
    for (building, floor) in &floors {
        events.push_str(&contains(&format!("building-{building}"), floor));
    }
    let report = store.ingest_adt(events.as_bytes())?;
    println!(
        "model: {} events, {} rejected",
        report.model_events,
        report.rejected.len()
    );
    store.flush()?;
    while store.compact()? {}
    println!("built in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn twin_create(twin: &str, model: &str) -> String {
    let event = json!({ "type": "Microsoft.DigitalTwins.Twin.Create", "subject": twin,
        "time": "2026-01-01T00:00:00Z", "data": { "$dtId": twin, "$metadata": { "$model": model } } });
    format!("{event}\n")
}

fn contains(source: &str, target: &str) -> String {
    let id = format!("contains-{target}");
    let event = json!({ "type": "Microsoft.DigitalTwins.Relationship.Create",
        "subject": format!("{source}/relationships/{id}"), "time": "2026-01-01T00:00:00Z",
        "data": { "$relationshipId": id, "$sourceId": source, "$targetId": target,
                  "$relationshipName": "contains" } });
    format!("{event}\n")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = args()?;
    let temp = tempfile::tempdir()?;
    let dir = args.db.clone().unwrap_or_else(|| temp.path().join("db"));
    let store = Store::open(&dir, Options::default())?;
    if store.stats().records == 0 {
        let ndjson = args
            .ndjson
            .as_ref()
            .ok_or("the store is empty: give the workload with --ndjson FILE")?;
        build(&store, ndjson)?;
    }
    let stats = store.stats();
    println!(
        "store {}: {} twins, {} records, {} points",
        dir.display(),
        stats.twins,
        stats.records,
        stats.points
    );
    let server = harness::start(store, ServerOptions::default());
    let config = json!({
        "url": format!("http://{}/", server.addr),
        "runs": args.runs,
        "typeId": MODELS[0].1,
        "day": ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"],
    });
    let Some(result) = harness::run_script("explorer_bench.mjs", &config) else {
        return Err("the browser tools are missing (see tests/browser/harness.rs)".into());
    };
    println!("{}", serde_json::to_string_pretty(&result)?);
    let pick = |list: &str, field: &str, inner: &str| -> Vec<f64> {
        result[list]
            .as_array()
            .map(|runs| {
                runs.iter()
                    .filter_map(|r| r[field][inner].as_f64().or(r[inner].as_f64()))
                    .collect()
            })
            .unwrap_or_default()
    };
    println!("medians over {} runs:", args.runs);
    println!(
        "  one twin's Temperature, a day: click to drawn {:.1} ms",
        median(pick("runs", "single", "ms"))
    );
    println!(
        "  its floor's merged series added: click to drawn {:.1} ms",
        median(pick("runs", "withFloor", "ms"))
    );
    println!(
        "  fleet-wide merged series from a bookmarked URL: navigation to drawn {:.1} ms",
        median(pick("fleet", "", "ms"))
    );
    if result["errors"].as_array().is_some_and(|e| !e.is_empty()) {
        return Err(format!("the page reported errors: {}", result["errors"]).into());
    }
    Ok(())
}
