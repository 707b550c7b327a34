//! `twinstore export`, `import` and `plot`: Parquet in the TSI cold-store layout, and charts.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use twinstore::{IngestReport, Options, Timestamp, TwinSelector};

use super::{CliError, Db, busy, open, open_existing, parse_time};

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
pub(super) struct ExportArgs {
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
pub(super) struct PlotArgs {
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
pub(super) struct ImportArgs {
    #[command(flatten)]
    db: Db,
    /// Parquet files or folders.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

pub(super) fn export(args: ExportArgs) -> Result<ExitCode, CliError> {
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

pub(super) fn import(args: ImportArgs) -> Result<ExitCode, CliError> {
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

pub(super) fn plot(args: PlotArgs) -> Result<ExitCode, CliError> {
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
