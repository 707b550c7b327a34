//! `twinstore`: the command-line tool for a twinstore database.
//!
//! Ingest NDJSON twin updates (flattened records or raw ADT events), read a twin's history
//! back as NDJSON, show its latest values, and report the store's sizes.

use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use twinstore::{Durability, Error, EventsQuery, IngestOptions, IngestReport, InputFormat, Options, Store, Timestamp};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Input is read and ingested in pieces of about this size, cut at line ends.
const CHUNK_BYTES: usize = 16 << 20;
/// Inputs larger than this get a progress bar when stderr is a terminal.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// twinstore: an embedded history store for digital twins.
///
/// It keeps every update of every twin (Azure Digital Twins Twin.Update events, or the
/// flattened records a Time Series Insights pipeline sends) and answers history queries in
/// microseconds. A database is a directory; every command takes it with --db.
///
/// Example:
///   twinstore ingest --db twins.db --format adt events.ndjson
///   twinstore events --db twins.db --twin thermostat67 --from 2026-01-01T08:00:00Z
#[derive(Parser)]
#[command(name = "twinstore", version, about, long_about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Ingest(IngestArgs),
    Events(EventsArgs),
    Latest(LatestArgs),
    Stats(StatsArgs),
}

/// The database directory (created by `ingest` when missing).
#[derive(Args)]
struct Db {
    /// Database directory.
    #[arg(long, value_name = "DIR")]
    db: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Flattened records: {"$dtId": "thermostat67", "$ts": "...", "Temperature": 20.5}
    Flat,
    /// Azure Digital Twins change notifications (CloudEvents or Event Grid envelopes).
    Adt,
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// Sync every write call (safest, slowest for many small writes).
    Sync,
    /// Sync every 10 ms in the background; the command syncs once more before exiting.
    Group,
    /// Never sync until the end of the command.
    None,
}

/// Ingest NDJSON from files (or stdin) into the database.
///
/// Each line is one record (--format flat) or one ADT event (--format adt). Bad lines are
/// reported on stderr as FILE:LINE: reason and skipped; the rest is stored. With --strict
/// the whole input is refused when any line is bad.
///
/// Exit code: 0 when every line was accepted, 2 when some were rejected, 1 on other errors.
///
/// Example:
///   twinstore ingest --db twins.db --format adt adt-twin-updates.ndjson
///   zstd -dc data.ndjson.zst | twinstore ingest --db twins.db
#[derive(Args)]
struct IngestArgs {
    #[command(flatten)]
    db: Db,
    /// Input format.
    #[arg(long, value_enum, default_value = "flat")]
    format: Format,
    /// Refuse the whole input if any line is invalid (nothing is written).
    #[arg(long)]
    strict: bool,
    /// When a write counts as done (the data is always synced before the command exits).
    #[arg(long, value_enum, default_value = "group")]
    durability: DurabilityArg,
    /// The property holding the event time in flat records.
    #[arg(long, default_value = "$ts", value_name = "NAME")]
    timestamp_property: String,
    /// Input files; stdin when none is given or for "-".
    files: Vec<PathBuf>,
}

/// Print the events of one twin as NDJSON, oldest first.
///
/// Each line has $dtId, $ts (RFC 3339, UTC) and the properties the event carried, under
/// their flattened names. A removed property shows as null.
///
/// Example:
///   twinstore events --db twins.db --twin thermostat67 --from 2026-01-01T08:00:00Z --props Temperature
#[derive(Args)]
struct EventsArgs {
    #[command(flatten)]
    db: Db,
    /// Twin id ($dtId).
    #[arg(long)]
    twin: String,
    /// Start of the range, inclusive (RFC 3339, or epoch milliseconds).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// End of the range, exclusive (RFC 3339, or epoch milliseconds).
    #[arg(long, value_name = "TIME")]
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

/// Show the latest value of each property of a twin.
///
/// Example:
///   twinstore latest --db twins.db --twin thermostat67 --json
#[derive(Args)]
struct LatestArgs {
    #[command(flatten)]
    db: Db,
    /// Twin id ($dtId).
    #[arg(long)]
    twin: String,
    /// Print JSON: {"$dtId": ..., "properties": {"Name": {"value", "type", "$ts"}}}.
    #[arg(long)]
    json: bool,
}

/// Show the database's sizes: twins, records, points, bytes in memory and on disk.
///
/// Example:
///   twinstore stats --db twins.db --json
#[derive(Args)]
struct StatsArgs {
    #[command(flatten)]
    db: Db,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ingest(args) => ingest(args),
        Command::Events(args) => events(args),
        Command::Latest(args) => latest(args),
        Command::Stats(args) => stats(args),
    };
    match result {
        Ok(code) => code,
        Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(CliError::Message(message)) => {
            eprintln!("twinstore: {message}");
            ExitCode::from(1)
        }
    }
}

/// Why a command failed.
enum CliError {
    /// Stdout was closed by the reader (`| head`): not an error.
    BrokenPipe,
    Message(String),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Message(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Message(e.to_string())
        }
    }
}

fn open(db: &Path, options: Options) -> Result<Store, CliError> {
    Store::open(db, options).map_err(|e| CliError::Message(format!("cannot open {}: {e}", db.display())))
}

/// Opens an existing database for reading (never creates one).
fn open_existing(db: &Path) -> Result<Store, CliError> {
    if !db.is_dir() {
        return Err(CliError::Message(format!("no database at {}", db.display())));
    }
    open(db, Options::default())
}

fn ingest(args: IngestArgs) -> Result<ExitCode, CliError> {
    let durability = match args.durability {
        DurabilityArg::Sync => Durability::SyncEachWrite,
        DurabilityArg::Group => Durability::GroupCommit {
            interval: Duration::from_millis(10),
        },
        DurabilityArg::None => Durability::NoSync,
    };
    let options = Options::default()
        .durability(durability)
        .timestamp_property(args.timestamp_property)
        .strict(args.strict);
    let store = open(&args.db.db, options)?;
    let format = match args.format {
        Format::Flat => InputFormat::Flat,
        Format::Adt => InputFormat::Adt,
    };
    let inputs: Vec<Option<PathBuf>> = if args.files.is_empty() {
        vec![None]
    } else {
        args.files
            .iter()
            .map(|f| (f.as_os_str() != "-").then(|| f.clone()))
            .collect()
    };
    let started = Instant::now();
    let mut total = IngestReport::default();
    let mut stderr = std::io::stderr().lock();
    for input in &inputs {
        let name = input
            .as_ref()
            .map_or("<stdin>".to_string(), |p| p.display().to_string());
        let report = match ingest_one(&store, input.as_deref(), format, args.strict) {
            Ok(report) => report,
            Err(IngestFailure::Refused(errors)) => {
                for e in &errors {
                    let _ = writeln!(stderr, "{name}:{}: {}", e.line, describe(e));
                }
                let _ = writeln!(
                    stderr,
                    "{name}: refused (--strict): {} invalid line(s), nothing written",
                    errors.len()
                );
                total.rejected.extend(errors);
                continue;
            }
            Err(IngestFailure::Other(e)) => return Err(CliError::Message(format!("{name}: {e}"))),
        };
        for e in &report.rejected {
            let _ = writeln!(stderr, "{name}:{}: {}", e.line, describe(e));
        }
        total.merge(report);
    }
    store.sync()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "records {}  points {}  rejected {}  skipped {}  elapsed {:.2} s  {:.0} records/s",
        total.records,
        total.points,
        total.rejected.len(),
        total.skipped,
        secs,
        total.records as f64 / secs.max(1e-9)
    );
    Ok(if total.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// What a rejected line's error says, without the line number (printed before it).
fn describe(e: &twinstore::RecordError) -> String {
    let mut out = String::new();
    if let Some(twin) = &e.twin {
        out.push_str(&format!("twin {twin:?}: "));
    }
    if let Some(field) = &e.field {
        out.push_str(&format!("field {field:?}: "));
    }
    out.push_str(&e.reason);
    out
}

enum IngestFailure {
    /// Strict mode refused the input.
    Refused(Vec<twinstore::RecordError>),
    Other(String),
}

/// Ingests one file (or stdin) in line-aligned chunks, with a progress bar on a terminal.
fn ingest_one(
    store: &Store,
    path: Option<&Path>,
    format: InputFormat,
    strict: bool,
) -> Result<IngestReport, IngestFailure> {
    let other = |e: std::io::Error| IngestFailure::Other(e.to_string());
    let (mut reader, size): (Box<dyn Read>, Option<u64>) = match path {
        Some(p) => {
            let file = std::fs::File::open(p).map_err(other)?;
            let size = file.metadata().map(|m| m.len()).ok();
            (Box::new(file), size)
        }
        None => (Box::new(std::io::stdin().lock()), None),
    };
    let call = |bytes: &[u8], first_line: u64| {
        let opts = IngestOptions {
            format,
            strict: Some(strict),
            first_line,
        };
        store.ingest(bytes, &opts).map_err(|e| match e {
            Error::BatchRejected { errors } => IngestFailure::Refused(errors),
            other => IngestFailure::Other(other.to_string()),
        })
    };
    if strict {
        // All or nothing: the whole input is one batch.
        let mut all = Vec::new();
        reader.read_to_end(&mut all).map_err(other)?;
        return call(&all, 1);
    }
    let progress = (std::io::stderr().is_terminal() && size.is_some_and(|s| s > PROGRESS_MIN_BYTES)).then(|| {
        let bar = indicatif::ProgressBar::new(size.unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut report = IngestReport::default();
    let mut buffer: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + (1 << 20));
    let mut next_line = 1u64;
    loop {
        // Fill up to a chunk, then cut after the last complete line.
        let start = buffer.len();
        buffer.resize(CHUNK_BYTES.max(start + (1 << 20)), 0);
        let mut filled = start;
        while filled < buffer.len() {
            match reader.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(other(e)),
            }
        }
        buffer.truncate(filled);
        let at_end = filled < CHUNK_BYTES.max(start + (1 << 20));
        let cut = if at_end {
            buffer.len()
        } else {
            memchr_last_newline(&buffer).map_or(buffer.len(), |i| i + 1)
        };
        if cut > 0 {
            report.merge(call(&buffer[..cut], next_line)?);
            next_line += buffer[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
            if let Some(bar) = &progress {
                bar.inc(cut as u64);
            }
        }
        buffer.drain(..cut);
        if at_end {
            break;
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(report)
}

fn memchr_last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
}

/// Parses a --from/--to value: RFC 3339, or integer epoch milliseconds.
fn parse_time(flag: &str, text: &str) -> Result<Timestamp, CliError> {
    if let Ok(ms) = text.trim().parse::<i64>() {
        return Timestamp::from_millis(ms).ok_or_else(|| CliError::Message(format!("{flag}: {ms} ms is out of range")));
    }
    Timestamp::parse(text).map_err(|e| CliError::Message(format!("{flag}: {e}")))
}

fn events(args: EventsArgs) -> Result<ExitCode, CliError> {
    let mut query = EventsQuery::new(&args.twin);
    query.from = args.from.as_deref().map(|t| parse_time("--from", t)).transpose()?;
    query.to = args.to.as_deref().map(|t| parse_time("--to", t)).transpose()?;
    query.properties = args.props;
    query.limit = args.limit;
    if args.desc {
        query = query.descending();
    }
    let store = open_existing(&args.db.db)?;
    let events = store.events(&query)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for event in events {
        let mut line = serde_json::Map::new();
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

fn latest(args: LatestArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    let state = store.latest(&args.twin)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.json {
        let mut properties = serde_json::Map::new();
        for p in &state.properties {
            let entry = serde_json::json!({
                "value": p.value.to_json(),
                "type": p.value.value_type().name(),
                "$ts": p.ts.to_string(),
            });
            properties.insert(p.name.to_string(), entry);
        }
        let doc = serde_json::json!({ "$dtId": state.twin, "properties": properties });
        writeln!(out, "{doc}")?;
    } else {
        let width = state
            .properties
            .iter()
            .map(|p| p.name.chars().count())
            .max()
            .unwrap_or(8)
            .max(8);
        writeln!(out, "{:<width$}  {:<24}  {:<8}  time", "property", "value", "type")?;
        for p in &state.properties {
            let value = p.value.to_json().to_string();
            writeln!(
                out,
                "{:<width$}  {:<24}  {:<8}  {}",
                p.name,
                value,
                p.value.value_type().name(),
                p.ts
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn stats(args: StatsArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    let s = store.stats();
    let bytes_per_point = if s.points == 0 {
        0.0
    } else {
        s.disk_bytes as f64 / s.points as f64
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = serde_json::json!({
            "twins": s.twins,
            "records": s.records,
            "points": s.points,
            "warm_bytes": s.warm_bytes,
            "cold_bytes": 0,
            "files": 0,
            "disk_bytes": s.disk_bytes,
            "bytes_per_point": bytes_per_point,
        });
        writeln!(out, "{doc}")?;
    } else {
        writeln!(out, "twins            {}", s.twins)?;
        writeln!(out, "records          {}", s.records)?;
        writeln!(out, "points           {}", s.points)?;
        writeln!(out, "warm bytes       {}", s.warm_bytes)?;
        writeln!(out, "disk bytes       {}", s.disk_bytes)?;
        writeln!(out, "bytes per point  {bytes_per_point:.2}")?;
    }
    Ok(ExitCode::SUCCESS)
}
