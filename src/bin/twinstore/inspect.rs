//! `twinstore events`, `latest`, `stats` and `check`: reading a store back.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::Args;

use twinstore::EventsQuery;

use super::{CliError, Db, busy, open_existing, parse_time};

/// Read every byte of a database and report every problem
///
/// Checks the write-ahead log (every frame: checksum, order, structure), the manifest, and
/// every block of every segment file (checksum, full decode, counts against the twin's
/// directory). Prints one line per problem, `FILE at byte N: what`, and exits 1 when there
/// is any (also when the store cannot be opened at all), 0 when the store is sound.
///
/// Examples:
///   twinstore check --db twins.db
///   twinstore check --db twins.db --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub(super) struct CheckArgs {
    #[command(flatten)]
    db: Db,
    /// Print one JSON object (keys ok, wal_frames, model_frames, segment_files, blocks,
    /// problems, notes).
    #[arg(long)]
    json: bool,
}

/// Print the events of one twin as NDJSON, oldest first
///
/// Each line has $dtId, $ts (RFC 3339, UTC) and the properties the event carried, under
/// their flattened names: the shape `ingest --format flat` reads back. A removed property
/// shows as null. Times are RFC 3339 (2026-01-01T08:00:00Z) or epoch milliseconds.
///
/// Examples:
///   twinstore events --db twins.db --twin thermostat67
///   twinstore events --db twins.db --twin thermostat67 --from 2026-01-01T08:00:00Z --props Temperature
///   twinstore events --db twins.db --twin thermostat67 --desc --limit 1
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub(super) struct EventsArgs {
    #[command(flatten)]
    db: Db,
    /// Twin id ($dtId).
    #[arg(long)]
    twin: String,
    /// Start of the range, inclusive (RFC 3339, or epoch milliseconds).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    from: Option<String>,
    /// End of the range, exclusive (RFC 3339, or epoch milliseconds).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    to: Option<String>,
    /// Only these properties (comma-separated); events without any of them are skipped.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    props: Option<Vec<String>>,
    /// At most this many events.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Newest first.
    #[arg(long)]
    desc: bool,
}

/// Show the latest value of each property of a twin
///
/// A table of property, value (as JSON), type and the time it was set; removed properties
/// are left out. With --json, one object:
///   {"$dtId": "thermostat67", "properties": {"Temperature": {"value": 21, "type": "Long", "$ts": "..."}}}
///
/// Examples:
///   twinstore latest --db twins.db --twin thermostat67
///   twinstore latest --db twins.db --twin thermostat67 --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub(super) struct LatestArgs {
    #[command(flatten)]
    db: Db,
    /// Twin id ($dtId).
    #[arg(long)]
    twin: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Show the database's sizes: twins, records, points, bytes in memory and on disk
///
/// bytes_per_point is disk bytes / points (0 when there are no points).
///
/// Examples:
///   twinstore stats --db twins.db
///   twinstore stats --db twins.db --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub(super) struct StatsArgs {
    #[command(flatten)]
    db: Db,
    /// Print one JSON object (keys twins, records, points, warm_bytes, cold_bytes, files,
    /// disk_bytes, bytes_per_point) instead of a table.
    #[arg(long)]
    json: bool,
}

pub(super) fn events(args: EventsArgs) -> Result<ExitCode, CliError> {
    let mut query = EventsQuery::new(&args.twin);
    query.from = args.from.as_deref().map(|t| parse_time("--from", t)).transpose()?;
    query.to = args.to.as_deref().map(|t| parse_time("--to", t)).transpose()?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err(CliError::Message(format!("--from {from} is after --to {to}")));
    }
    query.properties = args.props;
    query.limit = args.limit;
    if args.desc {
        query = query.descending();
    }
    let store = open_existing(&args.db.db)?;
    let events = store.events(&query)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for event in events {
        let mut line = serde_json::Map::with_capacity(event.values.len() + 2);
        line.insert("$dtId".into(), args.twin.clone().into());
        line.insert("$ts".into(), event.ts.to_string().into());
        for (name, value) in &event.values {
            line.insert(name.to_string(), value.to_json());
        }
        serde_json::to_writer(&mut out, &line).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn latest(args: LatestArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    let state = store.latest(&args.twin)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.json {
        let mut properties = serde_json::Map::new();
        for p in state.properties.iter() {
            let entry = serde_json::json!({
                "value": p.value.to_json(),
                "type": p.value.value_type().name(),
                "$ts": p.ts.to_string(),
            });
            properties.insert(p.name.to_string(), entry);
        }
        let doc = serde_json::json!({ "$dtId": &*state.twin, "properties": properties });
        writeln!(out, "{doc}")?;
    } else {
        let rows: Vec<[String; 4]> = state
            .properties
            .iter()
            .map(|p| {
                [
                    p.name.to_string(),
                    p.value.to_json().to_string(),
                    p.value.value_type().name().to_string(),
                    p.ts.to_string(),
                ]
            })
            .collect();
        let header = ["property", "value", "type", "time"].map(String::from);
        // Column widths; a very long value (a big array) is not worth widening the table for.
        let width = |i: usize, cap: usize| {
            rows.iter()
                .chain([&header])
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
                .min(cap)
        };
        let (w0, w1, w2) = (width(0, 60), width(1, 40), width(2, 10));
        for row in [&header].into_iter().chain(&rows) {
            writeln!(out, "{:<w0$}  {:<w1$}  {:<w2$}  {}", row[0], row[1], row[2], row[3])?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn check(args: CheckArgs) -> Result<ExitCode, CliError> {
    let report = match open_existing(&args.db.db) {
        Ok(store) => busy("checking", || store.verify())?,
        // A store that does not open is a problem to report, not a usage error.
        Err(CliError::Message(m)) if args.db.db.join("wal").is_dir() => twinstore::VerifyReport {
            problems: vec![twinstore::Problem {
                path: args.db.db.clone(),
                offset: None,
                what: m,
            }],
            ..Default::default()
        },
        Err(e) => return Err(e),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let problems: Vec<serde_json::Value> = report
            .problems
            .iter()
            .map(|p| serde_json::json!({"path": p.path.display().to_string(), "offset": p.offset, "what": p.what}))
            .collect();
        let doc = serde_json::json!({
            "ok": report.is_ok(),
            "wal_frames": report.wal_frames,
            "model_frames": report.model_frames,
            "segment_files": report.segment_files,
            "blocks": report.blocks,
            "problems": problems,
            "notes": report.notes,
        });
        writeln!(out, "{doc}")?;
    } else {
        for p in &report.problems {
            writeln!(out, "{p}")?;
        }
        for n in &report.notes {
            writeln!(out, "note: {n}")?;
        }
        writeln!(
            out,
            "{}: {} WAL frames, {} model file frames, {} segment files, {} blocks checked, {} problems",
            if report.is_ok() { "ok" } else { "DAMAGED" },
            report.wal_frames,
            report.model_frames,
            report.segment_files,
            report.blocks,
            report.problems.len()
        )?;
    }
    out.flush()?;
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) fn stats(args: StatsArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    let s = store.stats();
    let bytes_per_point = s.bytes_per_point();
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = serde_json::json!({
            "twins": s.twins,
            "records": s.records,
            "points": s.points,
            "warm_bytes": s.warm_bytes,
            "cold_bytes": s.cold_bytes,
            "files": s.files,
            "disk_bytes": s.disk_bytes,
            "bytes_per_point": bytes_per_point,
        });
        writeln!(out, "{doc}")?;
    } else {
        writeln!(out, "twins            {}", s.twins)?;
        writeln!(out, "records          {}", s.records)?;
        writeln!(out, "points           {}", s.points)?;
        writeln!(out, "warm bytes       {}", s.warm_bytes)?;
        writeln!(out, "cold bytes       {}", s.cold_bytes)?;
        writeln!(out, "files            {}", s.files)?;
        writeln!(out, "disk bytes       {}", s.disk_bytes)?;
        writeln!(out, "bytes per point  {bytes_per_point:.2}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
