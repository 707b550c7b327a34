//! `twinstore flush`, `compact`, `backup` and `delete`: maintenance on demand.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use twinstore::Timestamp;

use super::{CliError, Db, busy, open_existing, parse_time};

/// Merge small segment files into one (what the background thread does on its own)
///
/// Rows of equal time keep their order; rows past the cold retention are dropped on the way.
/// Prints what is left. Example:
///   twinstore compact --db twins.db
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub(super) struct CompactArgs {
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
pub(super) struct BackupArgs {
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
pub(super) struct FlushArgs {
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
pub(super) struct DeleteArgs {
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

pub(super) fn flush(args: FlushArgs) -> Result<ExitCode, CliError> {
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

pub(super) fn compact(args: CompactArgs) -> Result<ExitCode, CliError> {
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

pub(super) fn backup(args: BackupArgs) -> Result<ExitCode, CliError> {
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

pub(super) fn delete(args: DeleteArgs) -> Result<ExitCode, CliError> {
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
