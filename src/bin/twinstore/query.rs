//! `twinstore query`: a TSI query body in, the TSI response out.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{CliError, Db, open_existing, read_stdin};

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
pub(super) struct QueryArgs {
    #[command(flatten)]
    db: Db,
    /// The request body (JSON); stdin when absent or `-`.
    file: Option<PathBuf>,
    /// Indent the response.
    #[arg(long)]
    pretty: bool,
}

pub(super) fn query(args: QueryArgs) -> Result<ExitCode, CliError> {
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
