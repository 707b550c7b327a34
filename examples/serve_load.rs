//! Load on `twinstore serve` over loopback: aggregateSeries of one twin over a day in
//! 1-minute buckets from keep-alive clients, and ADT deliveries (Event Grid arrays) to
//! `/ingest/adt` from concurrent senders; first each alone, then both at once. Prints
//! requests per second, latency percentiles and events per second.
//!
//! ```sh
//! cargo run --release --features server --example serve_load -- [--seconds 10] \
//!     [--query-clients 4] [--ingest-clients 2] [--batch 500] [--ingest-rate EVENTS_A_SECOND]
//! ```

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

// The allocator a service should use (the `twinstore` binary's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use twinstore::server::{ServerOptions, serve};
use twinstore::{Options, Record, Store, Timestamp};

struct Args {
    seconds: u64,
    query_clients: usize,
    ingest_clients: usize,
    batch: usize,
    /// Events a second over all senders; 0: as fast as they can.
    ingest_rate: u64,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 10,
        query_clients: 4,
        ingest_clients: 2,
        batch: 500,
        ingest_rate: 0,
    };
    let list: Vec<String> = std::env::args().skip(1).collect();
    for pair in list.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        match pair[0].as_str() {
            "--seconds" => a.seconds = value.max(1),
            "--query-clients" => a.query_clients = value as usize,
            "--ingest-clients" => a.ingest_clients = value as usize,
            "--batch" => a.batch = (value as usize).max(1),
            "--ingest-rate" => a.ingest_rate = value,
            other => eprintln!("ignored: {other}"),
        }
    }
    a
}

const DAY: &str = "2026-01-01T00:00:00Z";

fn query_body() -> Vec<u8> {
    serde_json::to_vec(&json!({ "aggregateSeries": {
        "timeSeriesId": ["thermostat67"],
        "searchSpan": { "from": DAY, "to": "2026-01-02T00:00:00Z" },
        "interval": "PT1M",
        "inlineVariables": { "Avg": { "kind": "numeric", "value": { "tsx": "$event.Temperature.Double" },
            "aggregation": { "tsx": "avg($value)" } } },
        "projectedVariables": ["Avg"] } }))
    .unwrap_or_default()
}

/// Keep-alive clients sending the query until `stop`; each latency in microseconds.
fn query_clients(addr: SocketAddr, clients: usize, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<Vec<u64>>> {
    (0..clients)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                let url = format!("http://{addr}/timeseries/query?api-version=2020-07-31");
                let body = query_body();
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    // A 200 with its whole body read counts (the body streamed, not kept:
                    // the generator should not take the server's cores); any other answer
                    // is an error and stops the run.
                    let answered = agent
                        .post(&url)
                        .header("content-type", "application/json")
                        .send(&body[..])
                        .and_then(|mut r| {
                            let status = r.status().as_u16();
                            std::io::copy(&mut r.body_mut().as_reader(), &mut std::io::sink())?;
                            Ok(status)
                        });
                    match answered {
                        Ok(200) => {}
                        other => panic!("a query was answered {other:?}"),
                    }
                    {
                        latencies.push(start.elapsed().as_micros() as u64);
                    }
                }
                latencies
            })
        })
        .collect()
}

/// Senders posting Event Grid arrays of `batch` Twin.Update events (unique ids, 100 twins
/// per sender) until `stop`, together `rate` events a second (0: as fast as they can);
/// events accepted are added to `accepted`.
fn ingest_clients(
    addr: SocketAddr,
    clients: usize,
    batch: usize,
    rate: u64,
    phase: usize,
    stop: &Arc<AtomicBool>,
    accepted: &Arc<AtomicU64>,
) -> Vec<std::thread::JoinHandle<Vec<u64>>> {
    (0..clients)
        .map(|c| {
            let (stop, accepted) = (stop.clone(), accepted.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                let url = format!("http://{addr}/ingest/adt");
                let mut n: u64 = 0;
                let mut body = String::new();
                let started = Instant::now();
                // Each sender's share of the rate, in events a second.
                let share = rate as f64 / clients as f64;
                while !stop.load(Ordering::Relaxed) {
                    if share > 0.0 {
                        let due = started + Duration::from_secs_f64(n as f64 / share);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                    // Written as text: the generator's own JSON building should not take
                    // the server's cores.
                    body.clear();
                    body.push('[');
                    for i in 0..batch {
                        n += 1;
                        let _ = write!(
                            body,
                            r#"{}{{"id":"{phase}-{c}-{n}","subject":"sender{c}-twin{}","eventType":"Microsoft.DigitalTwins.Twin.Update","eventTime":"2026-01-02T00:{phase:02}:{:02}.{:06}Z","data":{{"modelId":"dtmi:example:Thermostat;1","patch":[{{"op":"replace","path":"/Temperature","value":{}.{}}}]}}}}"#,
                            if i == 0 { "" } else { "," },
                            n % 100,
                            (n / 1_000_000) % 60,
                            n % 1_000_000,
                            (n % 300) / 10,
                            (n % 300) % 10,
                        );
                    }
                    body.push(']');
                    if let Ok(mut r) = agent
                        .post(&url)
                        .header("content-type", "application/json")
                        .send(body.as_bytes())
                    {
                        let answer: serde_json::Value =
                            serde_json::from_slice(&r.body_mut().read_to_vec().unwrap_or_default()).unwrap_or_default();
                        accepted.fetch_add(answer["records"].as_u64().unwrap_or(0), Ordering::Relaxed);
                    }
                }
                Vec::new()
            })
        })
        .collect()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Phase `number` (its events' ids and times are its own, so no phase's events repeat
/// another's).
fn phase(number: usize, name: &str, addr: SocketAddr, a: &Args, queries: usize, senders: usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let q = query_clients(addr, queries, &stop);
    let i = ingest_clients(addr, senders, a.batch, a.ingest_rate, number, &stop, &accepted);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(a.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<u64> = q.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect();
    for h in i {
        let _ = h.join();
    }
    let secs = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let events = accepted.load(Ordering::Relaxed);
    println!(
        "{name:<22} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  | {:>9.0} events/s",
        latencies.len() as f64 / secs,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        events as f64 / secs
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), Options::default())?;
    // thermostat67: one reading every second of the day.
    let day = Timestamp::parse(DAY)?.as_nanos();
    let records: Vec<Record> = (0..86_400i64)
        .map(|s| {
            Record::new("thermostat67", Timestamp::from_nanos(day + s * 1_000_000_000))
                .with("Temperature", 20.0 + (s % 600) as f64 / 100.0)
        })
        .collect();
    store.write(&records)?;
    store.flush()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, addr) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime
            .block_on(serve(
                store,
                ServerOptions {
                    listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                    ..ServerOptions::default()
                },
                async {
                    let _ = stopped.await;
                },
                move |addr| {
                    let _ = bound.send(addr);
                },
            ))
            .map_err(|e| e.to_string())
    });
    let addr = addr.recv_timeout(Duration::from_secs(30))?;
    println!(
        "twinstore serve on {addr}: aggregateSeries of one twin over a day in 1-minute buckets ({} clients), \
         /ingest/adt arrays of {} events ({} senders, {}), {} s a phase",
        a.query_clients,
        a.batch,
        a.ingest_clients,
        match a.ingest_rate {
            0 => "as fast as they can".to_string(),
            r => format!("{r} events/s"),
        },
        a.seconds
    );
    phase(1, "queries alone", addr, &a, a.query_clients, 0);
    phase(2, "ingest alone", addr, &a, 0, a.ingest_clients);
    phase(3, "queries with ingest", addr, &a, a.query_clients, a.ingest_clients);
    let _ = stop.send(());
    server.join().map_err(|_| "the server thread panicked")??;
    Ok(())
}
