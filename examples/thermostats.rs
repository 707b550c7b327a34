//! The thermostat walk-through: ingest, query, print.
//!
//! 1. `thermostat67` gets five Temperature updates as raw Azure Digital Twins Twin.Update
//!    events (flattened by twinstore itself).
//! 2. A few more twins arrive as flattened NDJSON records, the shape the ProcessDTUpdatetoTSI
//!    function emits.
//! 3. A live stream: a writer thread sends typed records for one minute of simulated time
//!    while the main thread reads the latest values as they land.
//! 4. Queries: thermostat67's history, its state at an instant, the latest values, and an
//!    aggregate over the stream; after a flush to the cold tier, the same answers, and a TSI
//!    `aggregateSeries` request body over the whole fleet.
//!
//! Run with `cargo run --release --example thermostats [-- --db DIR]` (a temporary directory
//! by default).

use std::error::Error;
use std::time::Duration;

use twinstore::{AggregateQuery, Aggregation, EventsQuery, Options, Record, Store, Timestamp};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let temp = tempfile::tempdir()?;
    let dir = match args.iter().position(|a| a == "--db") {
        Some(i) => args.get(i + 1).ok_or("--db needs a directory")?.into(),
        None => temp.path().to_path_buf(),
    };
    let store = Store::open(&dir, Options::default())?;
    println!("twinstore at {}\n", dir.display());

    // 1. Five ADT Twin.Update notifications for thermostat67.
    let temperatures = [20.5, 21.0, 21.25, 20.75, 22.0];
    let mut adt = String::new();
    for (minute, t) in temperatures.iter().enumerate() {
        adt.push_str(&format!(
            concat!(
                r#"{{"specversion":"1.0","id":"evt-{}","source":"contoso.api.wus2.digitaltwins.azure.net","#,
                r#""type":"Microsoft.DigitalTwins.Twin.Update","subject":"thermostat67","#,
                r#""time":"2026-01-01T08:0{}:00Z","data":{{"modelId":"dtmi:contosocom:DigitalTwins:Thermostat;1","#,
                r#""patch":[{{"op":"replace","path":"/Temperature","value":{:.2}}}]}}}}"#,
                "\n"
            ),
            minute, minute, t
        ));
    }
    let report = store.ingest_adt(adt.as_bytes())?;
    println!("ADT events: {} records, {} points", report.records, report.points);

    // 2. Flattened records for a few more twins.
    let flat =
        br#"{"$dtId":"thermostat68","$ts":"2026-01-01T08:00:00Z","Temperature":19.5,"Mode":"heat","Setpoint":21.0}
{"$dtId":"room-12","$ts":"2026-01-01T08:00:30Z","Occupied":true,"CO2":455,"Front.Temperature":19.25}
{"$dtId":"thermostat68","$ts":"2026-01-01T08:02:00Z","Temperature":20.0}
{"$dtId":"room-12","$ts":"2026-01-01T08:03:00Z","CO2":610}
"#;
    let report = store.ingest_ndjson(flat)?;
    println!("flat records: {} records, {} points", report.records, report.points);

    // 3. A live stream: one minute of simulated time, three twins reporting every second.
    let start = Timestamp::parse("2026-01-01T08:10:00Z")?;
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || -> twinstore::Result<u64> {
            let mut written = 0;
            for second in 0..60i64 {
                let ts = start.saturating_add_nanos(second * 1_000_000_000);
                let records: Vec<Record> = (0..3)
                    .map(|i| {
                        let drift = (second as f64 / 60.0 * std::f64::consts::PI).sin();
                        let temperature = (2000.0 + 100.0 * drift + 50.0 * i as f64).round() / 100.0;
                        Record::new(format!("stream-thermostat-{i}"), ts).with("Temperature", temperature)
                    })
                    .collect();
                written += store.write(&records)?.records;
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(written)
        })
    };
    // Reads run while the stream is written: every write is visible when it returns.
    let mut reads = 0;
    let mut newest = None;
    while !writer.is_finished() {
        if let Ok(latest) = store.latest("stream-thermostat-0") {
            reads += 1;
            newest = latest.properties.first().map(|p| p.ts);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let streamed = writer.join().map_err(|_| "stream writer panicked")??;
    println!(
        "live stream: {streamed} records written; {reads} reads meanwhile, the last saw data up to {}\n",
        newest.map(|t| t.to_string()).unwrap_or_default()
    );

    // 4. Queries.
    println!("thermostat67 history:");
    for event in store.events(&EventsQuery::new("thermostat67"))? {
        for (name, value) in &event.values {
            println!("  {}  {name} = {}", event.ts, value.to_json());
        }
    }
    let at = Timestamp::parse("2026-01-01T08:02:30Z")?;
    let state = store.state_at("thermostat67", at)?;
    println!("\nthermostat67 at {at}: Temperature = {:?}", state.get("Temperature"));
    let latest = store.latest("room-12")?;
    println!("room-12 latest:");
    for p in latest.properties.iter() {
        println!("  {:<18} {:<8} (set {})", p.name, p.value.to_json().to_string(), p.ts);
    }
    let model = store.twin_info("thermostat67")?.model.unwrap_or_default();
    println!("thermostat67 model: {model}");

    // 4. Aggregates: 20-second buckets of the stream, by the aggregation engine.
    println!("\nstream aggregate (Temperature, 20 s buckets):");
    println!(
        "  {:<20} {:>8} {:>6} {:>8} {:>8} {:>8}",
        "twin", "bucket", "count", "min", "avg", "max"
    );
    let aggregations = [Aggregation::Count, Aggregation::Min, Aggregation::Avg, Aggregation::Max];
    let print = |store: &Store| -> twinstore::Result<()> {
        for i in 0..3 {
            let twin = format!("stream-thermostat-{i}");
            let q = AggregateQuery::new(
                twin.as_str(),
                "Temperature",
                start,
                start.saturating_add_nanos(60_000_000_000),
                Duration::from_secs(20),
            )
            .aggregations(aggregations);
            let series = store.aggregate(&q)?;
            for (b, at) in series.timestamps.iter().enumerate() {
                let v = |a: Aggregation| series.column(a).and_then(|c| c[b]).unwrap_or(f64::NAN);
                let time = at.to_string();
                println!(
                    "  {twin:<20} {:>8} {:>6} {:>8.2} {:>8.2} {:>8.2}",
                    &time[11..19],
                    v(Aggregation::Count),
                    v(Aggregation::Min),
                    v(Aggregation::Avg),
                    v(Aggregation::Max)
                );
            }
        }
        Ok(())
    };
    print(&store)?;
    let stats = store.stats();
    println!(
        "\nstore: {} twins, {} records, {} points, {} bytes in memory",
        stats.twins, stats.records, stats.points, stats.warm_bytes
    );

    // 5. The cold tier: everything warm goes to a compressed, memory-mapped segment file
    // (a background thread does this on its own after `Options::warm_window`); every query
    // answers the same.
    store.flush()?;
    let stats = store.stats();
    println!(
        "after flush: {} segment file(s), {} bytes cold, {} bytes in memory, the same answers:",
        stats.files, stats.cold_bytes, stats.warm_bytes
    );
    print(&store)?;

    // 6. The same fleet through a Time Series Insights request body, unchanged from what a
    // TSI user sends: the time-weighted average Temperature (Step interpolation) and the
    // event count of every stream thermostat, merged, per 20 s.
    let body = format!(
        r#"{{"aggregateSeries": {{"twinPrefix": "stream-thermostat-", "merge": true,
            "searchSpan": {{"from": "{start}", "to": "{}"}}, "interval": "PT20S",
            "inlineVariables": {{
              "twavg": {{"kind": "numeric", "value": {{"tsx": "$event.Temperature.Double"}},
                        "interpolation": {{"kind": "Step", "boundary": {{"span": "PT1M"}}}},
                        "aggregation": {{"tsx": "twavg($value)"}}}},
              "events": {{"kind": "aggregate", "aggregation": {{"tsx": "count()"}}}}}}}}}}"#,
        start.saturating_add_nanos(60_000_000_000)
    );
    println!("\nTSI aggregateSeries over the fleet (twinstore query takes the same body):");
    println!("  {}", store.query_json(body.as_bytes())?);
    Ok(())
}
