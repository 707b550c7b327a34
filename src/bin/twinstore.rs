//! `twinstore`: the command-line tool for a twinstore database.
//!
//! Ingest NDJSON twin updates (flattened records or raw ADT events), read a twin's history
//! back as NDJSON, show its latest values, and report the store's sizes.

use std::io::{BufWriter, IsTerminal, Read, StderrLock, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use twinstore::{
    Durability, Error, EventsQuery, IngestOptions, IngestReport, InputFormat, Options, RecordError, Store, Timestamp,
    TwinSelector,
};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Input is read and ingested in pieces of about this size, cut at line ends.
const CHUNK_BYTES: usize = 64 << 20;
/// Inputs larger than this get a progress bar when stderr is a terminal.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;
/// Exit code when some input lines were rejected.
const EXIT_REJECTED: u8 = 2;

/// twinstore: an embedded history store for digital twins.
///
/// It keeps every update of every twin (Azure Digital Twins Twin.Update events, or the
/// flattened records a Time Series Insights pipeline sends) and answers history queries in
/// microseconds. A database is a directory; every command takes it with --db.
///
/// Example:
///   twinstore ingest --db twins.db --format adt events.ndjson
///   twinstore events --db twins.db --twin thermostat67 --from 2026-01-01T08:00:00Z
///   twinstore latest --db twins.db --twin thermostat67
#[derive(Parser)]
#[command(name = "twinstore", version, verbatim_doc_comment, max_term_width = 100)]
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
    Flush(FlushArgs),
    Delete(DeleteArgs),
    Query(QueryArgs),
    Check(CheckArgs),
    Compact(CompactArgs),
    Backup(BackupArgs),
    Export(ExportArgs),
    Import(ImportArgs),
    Plot(PlotArgs),
}

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
struct CheckArgs {
    #[command(flatten)]
    db: Db,
    /// Print one JSON object (keys ok, wal_frames, segment_files, blocks, problems, notes).
    #[arg(long)]
    json: bool,
}

/// Answer a Time Series Insights query body (getEvents, getSeries, aggregateSeries)
///
/// The request is read from FILE, or from stdin when FILE is absent or `-`; the response
/// (TSI's JSON shape: timestamps, properties with name/type/values, continuationToken when
/// there is more) goes to stdout. Also accepted: {"availability": {...}} and
/// {"eventSchema": {"searchSpan": ...}}, and for aggregateSeries the fleet extensions
/// timeSeriesIds, twinPrefix, modelId and "merge": true.
///
/// Examples:
///   echo '{"getEvents": {"timeSeriesId": ["thermostat67"],
///          "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
///          "filter": {"tsx": "$event.Temperature.Double > 20"}}}' | twinstore query --db twins.db
///   twinstore query --db twins.db hourly-average.json --pretty
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct QueryArgs {
    #[command(flatten)]
    db: Db,
    /// The request body (JSON); stdin when absent or `-`.
    file: Option<PathBuf>,
    /// Indent the response.
    #[arg(long)]
    pretty: bool,
}

/// Write events as Parquet files laid out like the TSI cold store
///
/// Files go to OUT/V=1/PT=Time/Y=YYYY/M=MM/<written>_<min time>_<max time>_twinstore.parquet,
/// one per month of event time; one row per event; columns `timestamp` (UTC, microseconds),
/// `$dtId_string`, and `<name>_<type>` per property (double, long, bool, string, datetime,
/// dynamic). Spark, DuckDB, DataFusion and Trino read them unchanged, e.g.
///   duckdb -c "SELECT \"$dtId_string\", avg(Temperature_double) FROM
///     read_parquet('OUT/V=1/PT=Time/*/*/*.parquet', hive_partitioning = true) GROUP BY 1"
///
/// Examples:
///   twinstore export --db twins.db --out export/
///   twinstore export --db twins.db --out export/ --twin thermostat67 --from 2026-01-01T00:00:00Z
///   twinstore export --db twins.db --out export/ --prefix thermostat --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct ExportArgs {
    #[command(flatten)]
    db: Db,
    /// The folder to write under (created if needed).
    #[arg(long, value_name = "OUT")]
    out: PathBuf,
    /// Only these twins (repeat the flag for several).
    #[arg(long, value_name = "ID", conflicts_with = "prefix")]
    twin: Vec<String>,
    /// Only twins whose id starts with this.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Start of the range, inclusive (RFC 3339, or epoch milliseconds).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    from: Option<String>,
    /// End of the range, exclusive (RFC 3339, or epoch milliseconds).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    to: Option<String>,
    /// Print one JSON object (keys files, rows, values).
    #[arg(long)]
    json: bool,
}

/// Draw properties of twins over time, as SVG or PNG (by the file's extension)
///
/// One line per twin and property, a UTC time axis, a value axis labelled with the
/// properties and their units, and a legend. Without --from/--to, the twins' whole history.
/// Long series are reduced to each pixel column's first, lowest, highest and last point.
///
/// Examples:
///   twinstore plot --db twins.db --twin thermostat67 --prop Temperature --out temp.svg
///   twinstore plot --db twins.db --twin room-12 --twin room-13 --prop Temperature \
///     --unit Temperature=°C --from 2026-01-01T00:00:00Z --to 2026-01-02T00:00:00Z --out rooms.png
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct PlotArgs {
    #[command(flatten)]
    db: Db,
    /// A twin (repeat for several).
    #[arg(long, required = true, value_name = "ID")]
    twin: Vec<String>,
    /// A property (repeat for several).
    #[arg(long = "prop", required = true, value_name = "NAME")]
    props: Vec<String>,
    /// Start of the range, inclusive (RFC 3339, or epoch milliseconds).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    from: Option<String>,
    /// End of the range, exclusive (RFC 3339, or epoch milliseconds).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    to: Option<String>,
    /// The chart file: NAME.svg or NAME.png.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// A property's unit for the axis label, as NAME=UNIT (repeat for several).
    #[arg(long, value_name = "NAME=UNIT")]
    unit: Vec<String>,
    /// Chart title (default: the twins and the range).
    #[arg(long)]
    title: Option<String>,
    /// Width in pixels.
    #[arg(long, default_value_t = 1000)]
    width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 500)]
    height: u32,
    /// Print one JSON object (keys file, series, points).
    #[arg(long)]
    json: bool,
}

/// Read Parquet files in the TSI cold-store layout into a database
///
/// PATH is a file or a folder (every *.parquet below it: a TSI cold store or an export).
/// Columns other than `timestamp`, `$dtId_string` and `<name>_<type>` are ignored. Rows
/// without a time or a twin are reported on stderr; exit code 2 when there were any.
///
/// Example:
///   twinstore import --db twins.db /mnt/tsi-coldstore/V=1/PT=Time
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct ImportArgs {
    #[command(flatten)]
    db: Db,
    /// Parquet files or folders.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Merge small segment files into one (what the background thread does on its own)
///
/// Rows of equal time keep their order; rows past the cold retention are dropped on the way.
/// Prints what is left. Example:
///   twinstore compact --db twins.db
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct CompactArgs {
    #[command(flatten)]
    db: Db,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Copy a consistent snapshot of a database to a new directory, while it is in use
///
/// Every write acknowledged before the command starts is in the copy, and nothing half of
/// a later one. The copy is a database: open it (`--db DEST`) to restore, or copy it into
/// place. DEST must not exist or be empty. A second process cannot open a database that a
/// service has open; call `Store::backup` from the service for an online backup, and use
/// this command on a closed database or on a service-less one.
///
/// Examples:
///   twinstore backup --db twins.db --to /backups/twins-2026-11-29
///   twinstore backup --db twins.db --to /backups/today --json
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct BackupArgs {
    #[command(flatten)]
    db: Db,
    /// The backup directory (created; must be empty).
    #[arg(long, value_name = "DEST")]
    to: PathBuf,
    /// Print one JSON object (keys path, files, bytes, records).
    #[arg(long)]
    json: bool,
}

/// Move every warm row to the cold tier, durably, and truncate the write-ahead log
///
/// Afterwards the database opens without replaying a log, and its size on disk is that
/// of the compressed segment files.
///
/// Example:
///   twinstore flush --db twins.db
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct FlushArgs {
    #[command(flatten)]
    db: Db,
    /// Also merge small segment files into one.
    #[arg(long)]
    compact: bool,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Delete a twin's rows for good, all of them or those in [--from, --to)
///
/// The segment files holding them are rewritten and the log frames holding them removed.
///
/// Examples:
///   twinstore delete --db twins.db --twin thermostat67
///   twinstore delete --db twins.db --twin thermostat67 --from 2026-01-01T00:00:00Z --to 2026-01-02T00:00:00Z
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct DeleteArgs {
    #[command(flatten)]
    db: Db,
    /// The twin id ($dtId).
    #[arg(long)]
    twin: String,
    /// Inclusive start (RFC 3339); default: the beginning.
    #[arg(long)]
    from: Option<String>,
    /// Exclusive end (RFC 3339); default: the end.
    #[arg(long)]
    to: Option<String>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// The database directory.
#[derive(Args)]
struct Db {
    /// Database directory (`ingest` creates it when missing).
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

/// Ingest NDJSON from files (or stdin) into the database
///
/// Each line is one record (--format flat) or one ADT event (--format adt). Bad lines are
/// reported on stderr as FILE:LINE: what is wrong, and skipped; the rest is stored. With
/// --strict the whole input (every file) is refused when any line is bad, and nothing is
/// written. A summary (records, points, rejected, skipped, time) goes to stdout.
///
/// Exit code: 0 when every line was accepted, 2 when some were rejected, 1 on other errors.
///
/// Examples:
///   twinstore ingest --db twins.db --format adt adt-twin-updates.ndjson
///   zstd -dc data.ndjson.zst | twinstore ingest --db twins.db
///   twinstore ingest --db twins.db --strict --timestamp-property time a.ndjson b.ndjson
#[derive(Args)]
#[command(verbatim_doc_comment)]
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
    /// Bytes read and ingested per call (cut at a line end). For tests.
    #[arg(long, hide = true, default_value_t = CHUNK_BYTES, value_parser = parse_chunk_bytes)]
    chunk_bytes: usize,
    /// Input files; stdin when none is given or for "-".
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
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
struct EventsArgs {
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
struct LatestArgs {
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
struct StatsArgs {
    #[command(flatten)]
    db: Db,
    /// Print one JSON object (keys twins, records, points, warm_bytes, cold_bytes, files,
    /// disk_bytes, bytes_per_point) instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // A usage error is exit 1 like any other error: 2 means "some lines rejected".
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Ingest(args) => ingest(args),
        Command::Events(args) => events(args),
        Command::Latest(args) => latest(args),
        Command::Stats(args) => stats(args),
        Command::Flush(args) => flush(args),
        Command::Delete(args) => delete(args),
        Command::Query(args) => query(args),
        Command::Check(args) => check(args),
        Command::Compact(args) => compact(args),
        Command::Backup(args) => backup(args),
        Command::Export(args) => export(args),
        Command::Import(args) => import(args),
        Command::Plot(args) => plot(args),
    };
    match result {
        Ok(code) => code,
        Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(CliError::Message(message)) => {
            let _ = writeln!(std::io::stderr(), "twinstore: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command failed (exit code 1).
enum CliError {
    /// Stdout was closed by the reader (`| head`): not an error.
    BrokenPipe,
    /// Printed on stderr.
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

fn parse_chunk_bytes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a positive number of bytes".into()),
    }
}

fn open(db: &Path, options: Options) -> Result<Store, CliError> {
    Store::open(db, options).map_err(|e| match e {
        // Already names the directory.
        Error::Locked { .. } => CliError::from(e),
        e => CliError::Message(format!("cannot open {}: {e}", db.display())),
    })
}

/// Opens an existing database for reading (never creates one).
fn open_existing(db: &Path) -> Result<Store, CliError> {
    // Every store has its write-ahead-log directory (docs/FORMAT.md).
    if !db.join("wal").is_dir() {
        return Err(CliError::Message(format!("no database at {}", db.display())));
    }
    // A short command: no background flushing while it runs.
    open(db, Options::default().background_maintenance(false))
}

// ---------------------------------------------------------------------------------------
// ingest

/// One input: a file, or stdin.
struct Source {
    /// `None` for stdin.
    path: Option<PathBuf>,
    /// How errors name it.
    name: String,
}

impl Source {
    fn list(files: &[PathBuf]) -> Vec<Source> {
        if files.is_empty() {
            return vec![Source::stdin()];
        }
        files
            .iter()
            .map(|f| {
                if f.as_os_str() == "-" {
                    Source::stdin()
                } else {
                    Source {
                        path: Some(f.clone()),
                        name: f.display().to_string(),
                    }
                }
            })
            .collect()
    }

    fn stdin() -> Source {
        Source {
            path: None,
            name: "<stdin>".into(),
        }
    }

    /// Size in bytes, when known (files).
    fn size(&self) -> Option<u64> {
        let path = self.path.as_ref()?;
        std::fs::metadata(path).ok().map(|m| m.len())
    }

    fn open(&self) -> Result<Box<dyn Read>, CliError> {
        match &self.path {
            Some(path) => std::fs::File::open(path)
                .map(|f| Box::new(f) as Box<dyn Read>)
                .map_err(|e| CliError::Message(format!("cannot read {}: {e}", self.name))),
            None => Ok(Box::new(std::io::stdin().lock())),
        }
    }
}

/// What `ingest` prints while it works: rejected lines on stderr, and a progress bar on a
/// terminal for large inputs.
struct Reporter {
    stderr: BufWriter<StderrLock<'static>>,
    progress: Progress,
}

impl Reporter {
    /// Prints one line per rejected record: `FILE:LINE: twin "..", field "..": reason`.
    fn rejected<'a>(&mut self, errors: impl IntoIterator<Item = (&'a str, u64, &'a RecordError)>) {
        let Reporter { stderr, progress } = self;
        progress.suspend(|| {
            for (name, line, e) in errors {
                let _ = writeln!(stderr, "{name}:{line}: {}", describe(e));
            }
            let _ = stderr.flush();
        });
    }

    fn note(&mut self, message: &str) {
        let Reporter { stderr, progress } = self;
        progress.suspend(|| {
            let _ = writeln!(stderr, "twinstore: {message}");
            let _ = stderr.flush();
        });
    }
}

/// A progress bar on stderr, shown only when stderr is a terminal and the input is large.
/// When the size is not known (stdin) it appears once more than [`PROGRESS_MIN_BYTES`] have
/// been read.
struct Progress {
    enabled: bool,
    total: Option<u64>,
    done: u64,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(total: Option<u64>) -> Progress {
        let mut progress = Progress {
            enabled: std::io::stderr().is_terminal(),
            total,
            done: 0,
            bar: None,
        };
        if total.is_some_and(|t| t > PROGRESS_MIN_BYTES) {
            progress.show();
        }
        progress
    }

    fn show(&mut self) {
        if !self.enabled || self.bar.is_some() {
            return;
        }
        let bar = match self.total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {bytes} read, {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_position(self.done);
        self.bar = Some(bar);
    }

    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.total.is_none() && self.done > PROGRESS_MIN_BYTES {
            self.show();
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        }
    }

    fn suspend(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Runs a long operation of unknown length behind a spinner with `message` on stderr when it
/// is a terminal; nothing when piped.
fn busy<T>(message: &str, f: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return f();
    }
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message.to_string());
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let out = f();
    spinner.finish_and_clear();
    out
}

/// A rejected record's error without its line number (printed before it, with the file).
fn describe(e: &RecordError) -> String {
    let mut out = String::new();
    if let Some(twin) = &e.twin {
        out.push_str(&format!("twin {twin:?}, "));
    }
    if let Some(field) = &e.field {
        out.push_str(&format!("field {field:?}, "));
    }
    if out.ends_with(", ") {
        out.truncate(out.len() - 2);
        out.push_str(": ");
    }
    out.push_str(&e.reason);
    out
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
    let format = match args.format {
        Format::Flat => InputFormat::Flat,
        Format::Adt => InputFormat::Adt,
    };
    let sources = Source::list(&args.files);
    // Fail before writing anything when an input cannot be read.
    for source in &sources {
        source.open()?;
    }
    let store = open(&args.db.db, options)?;

    let total_size = sources.iter().map(Source::size).sum::<Option<u64>>();
    let mut reporter = Reporter {
        stderr: BufWriter::new(std::io::stderr().lock()),
        progress: Progress::new(total_size),
    };
    if sources.iter().any(|s| s.path.is_none()) && std::io::stdin().is_terminal() {
        reporter.note("reading NDJSON from stdin (end with Ctrl-D)");
    }
    let started = Instant::now();
    let mut total = IngestReport::default();
    let outcome = if args.strict {
        ingest_strict(&store, format, &sources, &mut reporter, &mut total)
    } else {
        ingest_chunked(&store, format, &sources, args.chunk_bytes, &mut reporter, &mut total)
    };
    reporter.progress.finish();
    // Make what was written durable even when a later input failed.
    let synced = store.sync();
    let secs = started.elapsed().as_secs_f64();
    // The summary is information only: a closed stdout does not change the exit code.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "records {}  points {}  rejected {}  skipped {}  elapsed {:.2} s  {:.0} records/s",
        total.records,
        total.points,
        total.rejected.len(),
        total.skipped,
        secs,
        total.records as f64 / secs.max(1e-9)
    );
    let _ = out.flush();
    outcome?;
    synced?;
    Ok(if total.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REJECTED)
    })
}

/// Ingests each source in line-aligned chunks of about `chunk_bytes`, one store call each
/// ([`Store::ingest_reader_chunked`]), reporting rejected lines and progress as chunks go in.
fn ingest_chunked(
    store: &Store,
    format: InputFormat,
    sources: &[Source],
    chunk_bytes: usize,
    reporter: &mut Reporter,
    total: &mut IngestReport,
) -> Result<(), CliError> {
    for source in sources {
        let reader = source.open()?;
        let opts = IngestOptions {
            format,
            strict: Some(false),
            first_line: 1,
        };
        // Totals are kept chunk by chunk: the summary counts what went in before a failure.
        store
            .ingest_reader_chunked(reader, &opts, chunk_bytes, |report, bytes| {
                reporter.rejected(report.rejected.iter().map(|e| (source.name.as_str(), e.line, e)));
                reporter.progress.advance(bytes as u64);
                total.merge(report.clone());
            })
            .map_err(|e| match e {
                Error::Io { path, source: io } if path == Path::new("<reader>") => {
                    CliError::Message(format!("cannot read {}: {io}", source.name))
                }
                e => CliError::Message(format!("{}: {e}", source.name)),
            })?;
    }
    Ok(())
}

/// Ingests every source as one all-or-nothing call: any bad line refuses the whole input.
fn ingest_strict(
    store: &Store,
    format: InputFormat,
    sources: &[Source],
    reporter: &mut Reporter,
    total: &mut IngestReport,
) -> Result<(), CliError> {
    let mut all = Vec::new();
    // (index into `sources`, line number in `all` of its first line)
    let mut starts: Vec<(usize, u64)> = Vec::with_capacity(sources.len());
    let mut line = 1u64;
    for (index, source) in sources.iter().enumerate() {
        let mut reader = source.open()?;
        let begin = all.len();
        loop {
            let before = all.len();
            let at_end = fill(&mut reader, &mut all, before + CHUNK_BYTES)
                .map_err(|e| CliError::Message(format!("cannot read {}: {e}", source.name)))?;
            reporter.progress.advance((all.len() - before) as u64);
            if at_end {
                break;
            }
        }
        // Keep the next file's first line apart from this file's last.
        if all.len() > begin && all.last() != Some(&b'\n') {
            all.push(b'\n');
        }
        starts.push((index, line));
        line += memchr::memchr_iter(b'\n', &all[begin..]).count() as u64;
    }
    let opts = IngestOptions {
        format,
        strict: Some(true),
        first_line: 1,
    };
    match store.ingest(&all, &opts) {
        Ok(report) => {
            total.merge(report);
            Ok(())
        }
        Err(Error::BatchRejected { errors }) => {
            let located = errors.iter().map(|e| {
                // The last source starting at or before the line (empty sources start where
                // the next one does, and hold no lines).
                let at = starts.partition_point(|&(_, first)| first <= e.line).saturating_sub(1);
                let (index, first) = starts.get(at).copied().unwrap_or((0, 1));
                let name = sources.get(index).map_or("<input>", |s| s.name.as_str());
                (name, e.line + 1 - first.min(e.line), e)
            });
            reporter.rejected(located);
            reporter.note(&format!(
                "refused (--strict): {} invalid line(s), nothing written",
                errors.len()
            ));
            total.rejected.extend(errors);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Appends from `reader` to `buffer` until it holds `want` bytes or the input ends; returns
/// whether the input ended.
fn fill(reader: &mut dyn Read, buffer: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let missing = want.saturating_sub(buffer.len());
    if missing == 0 {
        return Ok(false);
    }
    buffer.reserve(missing);
    let read = reader.take(missing as u64).read_to_end(buffer)?;
    Ok(read < missing)
}

// ---------------------------------------------------------------------------------------
// events, latest, stats

/// Parses a --from/--to value: RFC 3339, or integer epoch milliseconds.
fn parse_time(flag: &str, text: &str) -> Result<Timestamp, CliError> {
    if let Ok(ms) = text.trim().parse::<i64>() {
        return Timestamp::from_millis(ms).ok_or_else(|| {
            CliError::Message(format!(
                "{flag} {ms}: epoch milliseconds out of the supported range (years 1677-2262)"
            ))
        });
    }
    Timestamp::parse(text).map_err(|e| {
        CliError::Message(format!(
            "{flag}: {e}; expected RFC 3339 (e.g. 2026-01-01T08:00:00Z) or epoch milliseconds"
        ))
    })
}

fn events(args: EventsArgs) -> Result<ExitCode, CliError> {
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

fn latest(args: LatestArgs) -> Result<ExitCode, CliError> {
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

fn flush(args: FlushArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    busy("flushing", || store.flush())?;
    if args.compact {
        busy("compacting", || store.compact())?;
    }
    let s = store.stats();
    if args.json {
        let out = serde_json::json!({"records": s.records, "points": s.points, "files": s.files,
            "cold_bytes": s.cold_bytes, "bytes_per_point": s.bytes_per_point()});
        writeln!(std::io::stdout().lock(), "{out}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "flushed: {} records, {} points in {} files, {:.2} bytes per point on disk",
        s.records,
        s.points,
        s.files,
        s.bytes_per_point()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn export(args: ExportArgs) -> Result<ExitCode, CliError> {
    let time = |flag: &str, t: &Option<String>, default: Timestamp| {
        t.as_deref()
            .map(|t| parse_time(flag, t))
            .transpose()
            .map(|t| t.unwrap_or(default))
    };
    let options = twinstore::ExportOptions {
        twins: match (&args.prefix, args.twin.is_empty()) {
            (Some(prefix), _) => Some(TwinSelector::Prefix(prefix.clone())),
            (None, false) => Some(TwinSelector::Ids(args.twin.clone())),
            (None, true) => None,
        },
        from: time("--from", &args.from, Timestamp::MIN)?,
        to: time("--to", &args.to, Timestamp::MAX)?,
    };
    let store = open_existing(&args.db.db)?;
    let report = busy("exporting", || store.export_parquet(&args.out, &options))?;
    if args.json {
        let out = serde_json::json!({"files": report.files, "rows": report.rows, "values": report.values});
        writeln!(std::io::stdout().lock(), "{out}")?;
    } else {
        let mut err = std::io::stderr().lock();
        for f in &report.files {
            writeln!(err, "{}", f.display())?;
        }
        writeln!(
            err,
            "exported {} events ({} values) in {} files",
            report.rows,
            report.values,
            report.files.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn import(args: ImportArgs) -> Result<ExitCode, CliError> {
    let store = open(&args.db.db, Options::default())?;
    let mut total = IngestReport::default();
    let mut err = std::io::stderr().lock();
    for path in &args.paths {
        let report = busy(&format!("importing {}", path.display()), || store.import_parquet(path))?;
        for rejected in &report.rejected {
            writeln!(err, "{}: row {}: {}", path.display(), rejected.line, rejected.reason)?;
        }
        total.merge(report);
    }
    busy("flushing", || store.flush())?;
    if args.json {
        let out = serde_json::json!({"records": total.records, "points": total.points,
            "rejected": total.rejected.len(), "skipped": total.skipped});
        writeln!(std::io::stdout().lock(), "{out}")?;
    } else {
        writeln!(
            err,
            "imported {} records, {} points, {} rejected, {} rows without values skipped",
            total.records,
            total.points,
            total.rejected.len(),
            total.skipped
        )?;
    }
    Ok(if total.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn plot(args: PlotArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    let mut units = Vec::new();
    for u in &args.unit {
        let Some((name, unit)) = u.split_once('=') else {
            return Err(CliError::Message(format!("--unit {u}: expected NAME=UNIT")));
        };
        units.push((name.to_string(), unit.to_string()));
    }
    // The twins' whole history unless a range is given.
    let mut span: Option<(Timestamp, Timestamp)> = None;
    for twin in &args.twin {
        if let Some((a, b)) = store.twin_info(twin)?.time_range {
            span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        }
    }
    let (first, last) = span.unwrap_or((Timestamp::UNIX_EPOCH, Timestamp::UNIX_EPOCH));
    let from = match &args.from {
        Some(t) => parse_time("--from", t)?,
        None => first,
    };
    let to = match &args.to {
        Some(t) => parse_time("--to", t)?,
        None => last
            .saturating_add_nanos(1)
            .max(from.saturating_add_nanos(1_000_000_000)),
    };
    let spec = twinstore::plot::PlotSpec {
        twins: args.twin.clone(),
        properties: args.props.clone(),
        from,
        to,
        units,
        title: args.title.clone(),
        width: args.width,
        height: args.height,
    };
    let report = twinstore::plot::plot(&store, &spec, &args.out)?;
    if args.json {
        let out = serde_json::json!({"file": args.out, "series": report.series, "points": report.points});
        writeln!(std::io::stdout().lock(), "{out}")?;
    } else {
        writeln!(
            std::io::stderr().lock(),
            "drew {} series ({} points) to {}",
            report.series.len(),
            report.points,
            args.out.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn compact(args: CompactArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    let before = store.stats().files;
    // One call merges one run; repeat until nothing is left to merge.
    busy("compacting", || -> Result<(), twinstore::Error> {
        while store.compact()? {}
        Ok(())
    })?;
    let s = store.stats();
    if args.json {
        let out = serde_json::json!({"files_before": before, "files": s.files, "records": s.records,
            "bytes_per_point": s.bytes_per_point()});
        writeln!(std::io::stdout().lock(), "{out}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        std::io::stderr().lock(),
        "compacted: {before} -> {} segment files, {} records, {:.2} bytes per point on disk",
        s.files,
        s.records,
        s.bytes_per_point()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn backup(args: BackupArgs) -> Result<ExitCode, CliError> {
    let store = open_existing(&args.db.db)?;
    let report = busy("backing up", || store.backup(&args.to))?;
    if args.json {
        let out = serde_json::json!({
            "path": report.path,
            "files": report.files,
            "bytes": report.bytes,
            "records": report.records,
        });
        writeln!(std::io::stdout().lock(), "{out}")?;
    } else {
        writeln!(
            std::io::stderr().lock(),
            "backed up {} records in {} segment files ({} bytes) to {}",
            report.records,
            report.files,
            report.bytes,
            report.path.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn delete(args: DeleteArgs) -> Result<ExitCode, CliError> {
    let from = args
        .from
        .as_deref()
        .map(|t| parse_time("--from", t))
        .transpose()?
        .unwrap_or(Timestamp::MIN);
    let to = args
        .to
        .as_deref()
        .map(|t| parse_time("--to", t))
        .transpose()?
        .unwrap_or(Timestamp::MAX);
    let store = open_existing(&args.db.db)?;
    let before = store.twin_info(&args.twin)?.records;
    busy("deleting", || store.delete_range(&args.twin, from, to))?;
    let after = store.twin_info(&args.twin)?.records;
    if args.json {
        let out = serde_json::json!({"twin": args.twin, "deleted": before.saturating_sub(after), "left": after});
        writeln!(std::io::stdout().lock(), "{out}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        std::io::stderr().lock(),
        "deleted {} records of {}",
        before.saturating_sub(after),
        args.twin
    )?;
    Ok(ExitCode::SUCCESS)
}

fn query(args: QueryArgs) -> Result<ExitCode, CliError> {
    let body = match args.file.as_deref() {
        None => read_stdin()?,
        Some(p) if p == Path::new("-") => read_stdin()?,
        Some(p) => std::fs::read(p).map_err(|e| CliError::Message(format!("cannot read {}: {e}", p.display())))?,
    };
    let store = open_existing(&args.db.db)?;
    let response = store.query_json(&body)?;
    let text = if args.pretty {
        serde_json::to_string_pretty(&response)
    } else {
        serde_json::to_string(&response)
    }
    .map_err(|e| CliError::Message(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn check(args: CheckArgs) -> Result<ExitCode, CliError> {
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
            "{}: {} WAL frames, {} segment files, {} blocks checked, {} problems",
            if report.is_ok() { "ok" } else { "DAMAGED" },
            report.wal_frames,
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

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut body = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut body)
        .map_err(|e| CliError::Message(format!("cannot read stdin: {e}")))?;
    Ok(body)
}

fn stats(args: StatsArgs) -> Result<ExitCode, CliError> {
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
