//! `twinstore`: the command-line tool for a twinstore database.
//!
//! Ingest NDJSON twin updates (flattened records or raw ADT events), read a twin's history
//! back as NDJSON, show its latest values, and report the store's sizes.

mod export;
mod ingest;
mod inspect;
mod maintain;
mod model;
mod query;
mod serve;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use twinstore::{Error, Options, Store, Timestamp};

use export::{ExportArgs, ImportArgs, PlotArgs, export, import, plot};
use ingest::{IngestArgs, ingest};
use inspect::{CheckArgs, EventsArgs, LatestArgs, StatsArgs, check, events, latest, stats};
use maintain::{BackupArgs, CompactArgs, DeleteArgs, FlushArgs, backup, compact, delete, flush};
use model::{ModelArgs, SearchArgs, model, search};
use query::{QueryArgs, query};
use serve::{ServeArgs, serve};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    Model(ModelArgs),
    Search(SearchArgs),
    /// Serve TSI's REST API over HTTP (docs/SERVER.md).
    Serve(ServeArgs),
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
        Command::Model(args) => model(args),
        Command::Search(args) => search(args),
        Command::Serve(args) => serve(args),
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

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut body = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut body)
        .map_err(|e| CliError::Message(format!("cannot read stdin: {e}")))?;
    Ok(body)
}
