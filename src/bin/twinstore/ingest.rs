//! `twinstore ingest`: files or stdin into the store, in chunks, with rejected lines and a
//! progress bar on stderr.

use std::io::{BufWriter, IsTerminal, Read, StderrLock, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use twinstore::{Durability, Error, IngestOptions, IngestReport, InputFormat, Options, RecordError, Store};

use super::{CliError, Db, DurabilityArg, EXIT_REJECTED, Format, open};

/// Input is read and ingested in pieces of about this size, cut at line ends.
pub(super) const CHUNK_BYTES: usize = 64 << 20;

/// Inputs larger than this get a progress bar when stderr is a terminal.
pub(super) const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// Ingest NDJSON from files (or stdin) into the database
///
/// Each line is one record (--format flat) or one ADT event (--format adt). Bad lines are
/// reported on stderr as FILE:LINE: what is wrong, and skipped; the rest is stored. With
/// --strict the whole input (every file) is refused when any line is bad, and nothing is
/// written. A summary (records, points, rejected, skipped, model events, time) goes to stdout.
///
/// Exit code: 0 when every line was accepted, 2 when some were rejected, 1 on other errors.
///
/// Examples:
///   twinstore ingest --db twins.db --format adt adt-twin-updates.ndjson
///   zstd -dc data.ndjson.zst | twinstore ingest --db twins.db
///   twinstore ingest --db twins.db --strict --timestamp-property time a.ndjson b.ndjson
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub(super) struct IngestArgs {
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

pub(super) fn parse_chunk_bytes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a positive number of bytes".into()),
    }
}

/// One input: a file, or stdin.
pub(super) struct Source {
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
pub(super) struct Reporter {
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
pub(super) struct Progress {
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

/// A rejected record's error without its line number (printed before it, with the file).
pub(super) fn describe(e: &RecordError) -> String {
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

pub(super) fn ingest(args: IngestArgs) -> Result<ExitCode, CliError> {
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
        "records {}  points {}  rejected {}  skipped {}  model events {}  elapsed {:.2} s  {:.0} records/s",
        total.records,
        total.points,
        total.rejected.len(),
        total.skipped,
        total.model_events,
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
pub(super) fn ingest_chunked(
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
pub(super) fn ingest_strict(
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
        // A chunk at a time, for the progress bar; a short chunk is the end of the input.
        loop {
            let read = (&mut reader)
                .take(CHUNK_BYTES as u64)
                .read_to_end(&mut all)
                .map_err(|e| CliError::Message(format!("cannot read {}: {e}", source.name)))?;
            reporter.progress.advance(read as u64);
            if read < CHUNK_BYTES {
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
