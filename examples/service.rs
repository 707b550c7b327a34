//! A service shape: one thread consumes Azure Digital Twins notifications from a channel (as
//! an Event Hubs or Service Bus consumer would hand them over: a body and its application
//! properties) and writes them; another thread answers TSI query bodies from a second
//! channel, while the writes go on. A store handle is cheap to clone and safe to share.
//!
//! Run with `cargo run --release --example service`.

use std::error::Error;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use twinstore::{Durability, Options, Store};

/// One notification as the messaging SDK delivers it.
struct Notification {
    body: String,
    properties: Vec<(String, String)>,
}

/// A query body and where to send the answer.
struct Request {
    body: String,
    reply: Sender<Result<serde_json::Value, twinstore::Error>>,
}

fn ingest_loop(store: Store, notifications: Receiver<Notification>) -> u64 {
    let mut written = 0;
    for n in notifications {
        let properties: Vec<(&str, &str)> = n.properties.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        match store.ingest_adt_message(n.body.as_bytes(), &properties, None) {
            Ok(report) => written += report.records,
            // A bad message is reported and the consumer goes on; a real service would
            // dead-letter it.
            Err(e) => eprintln!("rejected a notification: {e}"),
        }
    }
    written
}

fn query_loop(store: Store, requests: Receiver<Request>) {
    for r in requests {
        let answer = store.query_json(r.body.as_bytes());
        let _ = r.reply.send(answer);
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    // GroupCommit: a write returns once it is in the OS; a sync every 50 ms makes it durable.
    let options = Options::default().durability(Durability::GroupCommit {
        interval: Duration::from_millis(50),
    });
    let store = Store::open(dir.path(), options)?;

    let (notify, notifications) = bounded::<Notification>(1024);
    let (ask, requests) = bounded::<Request>(16);
    let ingester = {
        let store = store.clone();
        thread::spawn(move || ingest_loop(store, notifications))
    };
    let server = {
        let store = store.clone();
        thread::spawn(move || query_loop(store, requests))
    };

    // The producer: 10 thermostats, one Temperature update per simulated minute for an hour.
    let producer = thread::spawn(move || {
        for minute in 0..60 {
            for t in 0..10 {
                let temperature = 20.0 + f64::from(t) * 0.5 + (f64::from(minute) / 10.0).sin();
                let body = format!(
                    r#"{{"modelId":"dtmi:contosocom:DigitalTwins:Thermostat;1","patch":[{{"op":"replace","path":"/Temperature","value":{temperature:.3}}}]}}"#
                );
                let properties = vec![
                    (
                        "cloudEvents:type".to_string(),
                        "Microsoft.DigitalTwins.Twin.Update".to_string(),
                    ),
                    ("cloudEvents:subject".to_string(), format!("thermostat{t}")),
                    ("cloudEvents:time".to_string(), format!("2026-01-01T08:{minute:02}:00Z")),
                ];
                if notify.send(Notification { body, properties }).is_err() {
                    return;
                }
            }
            // Notifications arrive over time.
            thread::sleep(Duration::from_millis(3));
        }
    });

    // Meanwhile, a client asks for the fleet's average per 10 minutes, a few times.
    for round in 0..3 {
        thread::sleep(Duration::from_millis(40));
        let (reply, answer) = bounded(1);
        let body = r#"{"aggregateSeries": {"twinPrefix": "thermostat", "merge": true,
            "searchSpan": {"from": "2026-01-01T08:00:00Z", "to": "2026-01-01T09:00:00Z"},
            "interval": "PT10M",
            "inlineVariables": {"avg": {"kind": "numeric", "value": {"tsx": "$event.Temperature.Double"},
                                        "aggregation": {"tsx": "avg($value)"}},
                                "n": {"kind": "aggregate", "aggregation": {"tsx": "count()"}}},
            "projectedVariables": ["avg", "n"]}}"#;
        ask.send(Request {
            body: body.to_string(),
            reply,
        })?;
        let answer = answer.recv()??;
        let counts = &answer["properties"][1]["values"];
        println!("query {round} while writing: events per 10 minutes so far {counts}");
    }

    producer.join().map_err(|_| "producer panicked")?;
    // Closing the channel ends the ingest loop once it has written everything.
    let written = ingester.join().map_err(|_| "ingester panicked")?;
    let (reply, answer) = bounded(1);
    ask.send(Request {
        body: r#"{"getEvents": {"timeSeriesId": ["thermostat3"],
            "searchSpan": {"from": "2026-01-01T08:00:00Z", "to": "2026-01-01T08:03:00Z"}}}"#
            .to_string(),
        reply,
    })?;
    println!("thermostat3, first three minutes: {}", answer.recv()??);
    drop(ask);
    server.join().map_err(|_| "server panicked")?;

    let m = store.metrics();
    println!(
        "written {written} events; metrics: {} records ingested, {} WAL bytes, {} queries",
        m.records_ingested,
        m.wal_bytes_written,
        m.queries.iter().map(|(_, q)| q.count).sum::<u64>()
    );
    Ok(())
}
