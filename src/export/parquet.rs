//! Parquet in the layout of Time Series Insights' cold store (docs/SEMANTICS.md, "Warm and
//! cold"), so that Spark, DuckDB, DataFusion or Trino read an export unchanged, and a TSI
//! user's cold store can be imported.
//!
//! Layout: `V=1/PT=Time/Y=YYYY/M=MM/<written>_<min event time>_<max event time>_<suffix>.parquet`
//! (times as `YYYYMMDDHHMMSSfff`), one row per event, a `timestamp` column (UTC,
//! microseconds), `$dtId_string`, and one `<name>_<type>` column per property and type
//! (`double`, `long`, `bool`, `string`, `datetime`, `dynamic`; a dynamic value is its JSON
//! text). TSI partitions by ingestion time; an export partitions by event time, which is what
//! readers filter on. Rows are ordered by twin id (as text), then time.
//!
//! What does not survive a round trip: sub-microsecond digits of times, and property
//! removals (`Value::Removed`), which Parquet cells cannot tell from absent values.
//!
//! Files go through the store's [`Vfs`]: an export is written with [`Vfs::create`] (then
//! synced and renamed into place), an import lists folders with [`Vfs::read_dir`] and
//! [`Vfs::stat`] and reads each file whole with [`Vfs::read`], so an import holds one file
//! in memory at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use crate::engine::IngestReport;
use crate::engine::Store;
use crate::error::{Error, Result};
use crate::model::{Record, Timestamp, Value, ValueType};
use crate::query::EventsQuery;
use crate::query::TwinSelector;
use crate::vfs::{Vfs, VfsWriter};

/// The name of the time column.
pub const TIMESTAMP_COLUMN: &str = "timestamp";
/// The name of the twin id column.
pub const TWIN_COLUMN: &str = "$dtId_string";
/// Rows per Parquet row group (and per Arrow batch while writing).
const ROWS_PER_GROUP: usize = 65_536;
/// Records per write call while importing.
const IMPORT_BATCH: usize = 65_536;

/// What to export: which twins, which time range.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The twins; every twin when `None`.
    pub twins: Option<TwinSelector>,
    /// Events from here (inclusive).
    pub from: Timestamp,
    /// Events up to here (exclusive).
    pub to: Timestamp,
}

// The store's Parquet calls live here, with what they call: the engine stands before
// export in the data flow and does not know this module.
impl Store {
    /// Writes the selected twins' events in `options`' range as Parquet files laid out like
    /// Time Series Insights' cold store, under `dir`:
    /// `V=1/PT=Time/Y=YYYY/M=MM/<written>_<min event time>_<max event time>_twinstore.parquet`,
    /// one row per event, columns `timestamp` (UTC, microseconds), `$dtId_string` and one
    /// `<name>_<type>` per property and type. Spark, DuckDB, DataFusion and Trino read them
    /// as they are, e.g. in DuckDB:
    /// `SELECT * FROM read_parquet('DIR/V=1/PT=Time/*/*/*.parquet', hive_partitioning = true)`.
    /// Months are by event time (TSI uses ingestion time). Needs the `parquet` feature.
    pub fn export_parquet(&self, dir: impl AsRef<Path>, options: &ExportOptions) -> Result<ExportReport> {
        export(self, dir.as_ref(), options)
    }

    /// Imports Parquet files in the TSI cold-store layout: one file, or every `*.parquet`
    /// below a folder (a TSI cold store, or an export). Columns other than `timestamp`,
    /// `$dtId_string` and `<name>_<type>` are ignored; a row without a time or twin is
    /// reported as rejected (its row number counts as the line). Needs the `parquet` feature.
    pub fn import_parquet(&self, path: impl AsRef<Path>) -> Result<IngestReport> {
        import(self, path.as_ref())
    }
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            twins: None,
            from: Timestamp::MIN,
            to: Timestamp::MAX,
        }
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// The files written, one per month holding events.
    pub files: Vec<PathBuf>,
    /// Rows (events) written.
    pub rows: u64,
    /// Property values written (non-null cells other than time and twin).
    pub values: u64,
}

/// The column suffix of a type, as TSI writes it; removals have no column.
fn type_suffix(ty: ValueType) -> Option<&'static str> {
    (ty != ValueType::Removed).then(|| ty.column_suffix())
}

/// A column name's property and type: `Temperature_double` -> (`Temperature`, Double).
fn parse_column(name: &str) -> Option<(&str, ValueType)> {
    let (property, suffix) = name.rsplit_once('_')?;
    let ty = ValueType::ALL
        .into_iter()
        .find(|ty| type_suffix(*ty).is_some_and(|s| s.eq_ignore_ascii_case(suffix)))?;
    (!property.is_empty()).then_some((property, ty))
}

fn arrow_type(ty: ValueType) -> DataType {
    match ty {
        ValueType::Double => DataType::Float64,
        ValueType::Long => DataType::Int64,
        ValueType::Bool => DataType::Boolean,
        ValueType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        _ => DataType::Utf8,
    }
}

/// One column being filled.
enum Builder {
    Double(Float64Builder),
    Long(Int64Builder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
    Time(TimestampMicrosecondBuilder),
}

impl Builder {
    fn new(ty: ValueType) -> Builder {
        match ty {
            ValueType::Double => Builder::Double(Float64Builder::new()),
            ValueType::Long => Builder::Long(Int64Builder::new()),
            ValueType::Bool => Builder::Bool(BooleanBuilder::new()),
            ValueType::DateTime => Builder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
            _ => Builder::Text(StringBuilder::new()),
        }
    }

    /// Appends `value` (of this column's type) or a null.
    fn push(&mut self, value: Option<&Value>) {
        match (self, value) {
            (Builder::Double(b), Some(Value::Double(x))) => b.append_value(*x),
            (Builder::Long(b), Some(Value::Long(x))) => b.append_value(*x),
            (Builder::Bool(b), Some(Value::Bool(x))) => b.append_value(*x),
            (Builder::Text(b), Some(Value::String(x) | Value::Dynamic(x))) => b.append_value(x),
            (Builder::Time(b), Some(Value::DateTime(t))) => b.append_value(t.as_nanos().div_euclid(1000)),
            (Builder::Double(b), _) => b.append_null(),
            (Builder::Long(b), _) => b.append_null(),
            (Builder::Bool(b), _) => b.append_null(),
            (Builder::Text(b), _) => b.append_null(),
            (Builder::Time(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Double(b) => Arc::new(b.finish()),
            Builder::Long(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
        }
    }
}

/// UTC civil fields of `t`: (year, month, day, hour, minute, second, millisecond).
fn civil(t: Timestamp) -> Result<(i16, i8, i8, i8, i8, i8, i16)> {
    let ts = jiff::Timestamp::from_nanosecond(i128::from(t.as_nanos()))
        .map_err(|e| Error::InvalidArgument(format!("time {t} cannot be exported: {e}")))?;
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    Ok((
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond(),
    ))
}

/// `YYYYMMDDHHMMSSfff`, as TSI names its files.
fn compact_time(t: Timestamp) -> Result<String> {
    let (y, mo, d, h, mi, s, ms) = civil(t)?;
    Ok(format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{ms:03}"))
}

/// The first instant of month (`year`, `month`), and of the month after it.
fn month_span(year: i16, month: i8) -> Result<(Timestamp, Timestamp)> {
    let start = |y: i16, m: i8| -> Result<Timestamp> {
        let date = jiff::civil::Date::new(y, m, 1).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let ts = date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?
            .timestamp();
        Ok(Timestamp::from_nanos(
            i64::try_from(ts.as_nanosecond()).unwrap_or(i64::MAX),
        ))
    };
    let next = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    Ok((start(year, month)?, start(next.0, next.1)?))
}

fn format_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// A Parquet writer's or reader's error on `path`: an I/O failure underneath (a full disk,
/// an injected fault) stays an I/O error; anything else is about the format.
fn parquet_error(path: &Path, e: ParquetError) -> Error {
    match e {
        ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => Error::io(path, *io),
            Err(other) => format_error(path, other),
        },
        other => format_error(path, other),
    }
}

/// One month's file: its rows go through Arrow batches into a Parquet writer.
struct MonthFile {
    path: PathBuf,
    writer: ArrowWriter<VfsWriter>,
    schema: Arc<Schema>,
    times: TimestampMicrosecondBuilder,
    twins: StringBuilder,
    columns: Vec<Builder>,
    pending: usize,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

impl MonthFile {
    fn flush(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(self.times.finish()), Arc::new(self.twins.finish())];
        arrays.extend(self.columns.iter_mut().map(Builder::finish));
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| format_error(&self.path, e))?;
        self.writer.write(&batch).map_err(|e| parquet_error(&self.path, e))?;
        self.pending = 0;
        Ok(())
    }
}

/// What every month file of one export shares.
struct Export<'a> {
    store: &'a Store,
    vfs: &'a dyn Vfs,
    /// The selected twins, by id.
    twins: Vec<String>,
    /// Property columns: name and type, in column order.
    columns: Vec<(String, ValueType)>,
    schema: Arc<Schema>,
    props: WriterProperties,
    /// When the export started, as file names carry it (`YYYYMMDDHHMMSSfff`).
    written: String,
}

pub(crate) fn export(store: &Store, dir: &Path, options: &ExportOptions) -> Result<ExportReport> {
    let mut twins: Vec<String> = match &options.twins {
        None => store.twins()?.into_iter().map(|t| t.id).collect(),
        Some(selector) => store.select_ids(selector)?,
    };
    twins.sort_unstable();
    // Columns: every property and type of the selected twins, by name.
    let mut columns: BTreeMap<(String, ValueType), ()> = BTreeMap::new();
    let mut span: Option<(Timestamp, Timestamp)> = None;
    for twin in &twins {
        for p in store.schema(twin)? {
            if p.count > 0 && type_suffix(p.value_type).is_some() {
                columns.insert((p.name.to_string(), p.value_type), ());
            }
        }
        if let Some((a, b)) = store.twin_info(twin)?.time_range {
            let (a, b) = (a.max(options.from), b.min(options.to.saturating_add_nanos(-1)));
            if a <= b {
                span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            }
        }
    }
    let columns: Vec<(String, ValueType)> = columns.into_keys().collect();
    let mut fields = vec![
        Field::new(TIMESTAMP_COLUMN, arrow_type(ValueType::DateTime), false),
        Field::new(TWIN_COLUMN, DataType::Utf8, false),
    ];
    for (name, ty) in &columns {
        let suffix = type_suffix(*ty).unwrap_or("dynamic");
        fields.push(Field::new(format!("{name}_{suffix}"), arrow_type(*ty), true));
    }
    let mut report = ExportReport::default();
    let Some((first, last)) = span else { return Ok(report) };
    let export = Export {
        store,
        vfs: &*store.options().vfs,
        twins,
        columns,
        schema: Arc::new(Schema::new(fields)),
        props: WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
            .build(),
        written: compact_time(Timestamp::now())?,
    };
    let (mut year, mut month, ..) = civil(first)?;
    loop {
        let (month_start, month_end) = month_span(year, month)?;
        if month_start > last {
            break;
        }
        let folder = dir.join(format!("V=1/PT=Time/Y={year:04}/M={month:02}"));
        let range = (month_start.max(options.from), month_end.min(options.to));
        if let Some(path) = export.month(&folder, range, &mut report)? {
            report.files.push(path);
        }
        (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    }
    Ok(report)
}

impl Export<'_> {
    /// Writes the events in `[from, to)` to one file in `folder`: under a temporary name,
    /// synced, then renamed to its final name (`None`, and no file, when there are none). On
    /// failure the temporary file is deleted (best effort) and the error names the file.
    fn month(
        &self,
        folder: &Path,
        range: (Timestamp, Timestamp),
        report: &mut ExportReport,
    ) -> Result<Option<PathBuf>> {
        self.vfs.create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
        let tmp = folder.join(format!("{}.parquet.tmp", self.written));
        let file = self.vfs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let written = self.write_rows(VfsWriter(file), &tmp, range, report).and_then(|span| {
            let Some((lo, hi)) = span else {
                self.vfs.remove_file(&tmp).map_err(|e| Error::io(&tmp, e))?;
                return Ok(None);
            };
            let path = folder.join(format!(
                "{}_{}_{}_twinstore.parquet",
                self.written,
                compact_time(lo)?,
                compact_time(hi)?
            ));
            self.vfs.rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
            Ok(Some(path))
        });
        if written.is_err() {
            // Best effort: the error says what failed; a leftover `.tmp` is not a Parquet file
            // to readers globbing `*.parquet`.
            let _ = self.vfs.remove_file(&tmp);
        }
        written
    }

    /// Writes the rows of `range` to `file` (at `tmp`), finishes and syncs it; returns the
    /// first and last event time written (`None` when none were).
    fn write_rows(
        &self,
        file: VfsWriter,
        tmp: &Path,
        (from, to): (Timestamp, Timestamp),
        report: &mut ExportReport,
    ) -> Result<Option<(Timestamp, Timestamp)>> {
        let index: BTreeMap<(&str, ValueType), usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, ty))| ((name.as_str(), *ty), i))
            .collect();
        let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(self.props.clone()))
            .map_err(|e| parquet_error(tmp, e))?;
        let mut out = MonthFile {
            path: tmp.to_path_buf(),
            writer,
            schema: self.schema.clone(),
            times: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            twins: StringBuilder::new(),
            columns: self.columns.iter().map(|(_, ty)| Builder::new(*ty)).collect(),
            pending: 0,
            first: None,
            last: None,
        };
        for twin in &self.twins {
            let events = self.store.events(&EventsQuery::new(twin.as_str()).from(from).to(to))?;
            let mut row: Vec<Option<&Value>> = vec![None; self.columns.len()];
            for event in &events {
                row.iter_mut().for_each(|cell| *cell = None);
                for (name, value) in &event.values {
                    if let Some(&i) = index.get(&(&**name, value.value_type())) {
                        row[i] = Some(value);
                        report.values += 1;
                    }
                }
                out.times.append_value(event.ts.as_nanos().div_euclid(1000));
                out.twins.append_value(twin);
                for (builder, cell) in out.columns.iter_mut().zip(&row) {
                    builder.push(*cell);
                }
                out.first = Some(out.first.map_or(event.ts, |f| f.min(event.ts)));
                out.last = Some(out.last.map_or(event.ts, |l| l.max(event.ts)));
                out.pending += 1;
                report.rows += 1;
                if out.pending == ROWS_PER_GROUP {
                    out.flush()?;
                }
            }
        }
        out.flush()?;
        // The footer, and every buffered byte, reach the file here.
        out.writer.finish().map_err(|e| parquet_error(tmp, e))?;
        out.writer.inner().0.sync_all().map_err(|e| Error::io(tmp, e))?;
        Ok(out.first.zip(out.last))
    }
}

/// The Parquet files under `path` (the file itself, or every `*.parquet` below a folder), in
/// name order, listed through the file layer.
fn parquet_files(vfs: &dyn Vfs, path: &Path) -> Result<Vec<PathBuf>> {
    if !vfs.stat(path).map_err(|e| Error::io(path, e))?.is_dir {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for p in vfs.read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            if vfs.stat(&p).map_err(|e| Error::io(&p, e))?.is_dir {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one cell of a property column as a value of type `ty` (`None` for a null, or for
/// data of another type than the column's name says).
fn cell(array: &dyn Array, row: usize, ty: ValueType) -> Option<Value> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    if array.is_null(row) {
        return None;
    }
    Some(match (ty, array.data_type()) {
        (ValueType::Double, DataType::Float64) => Value::Double(array.as_primitive::<Float64Type>().value(row)),
        (ValueType::Long, DataType::Int64) => Value::Long(array.as_primitive::<Int64Type>().value(row)),
        (ValueType::Bool, DataType::Boolean) => Value::Bool(array.as_boolean().value(row)),
        (ValueType::String, DataType::Utf8) => Value::String(array.as_string::<i32>().value(row).into()),
        (ValueType::Dynamic, DataType::Utf8) => Value::Dynamic(array.as_string::<i32>().value(row).into()),
        (ValueType::DateTime, DataType::Timestamp(unit, _)) => Value::DateTime(timestamp_cell(array, row, *unit)?),
        _ => return None,
    })
}

/// A timestamp cell in any unit, as a time.
fn timestamp_cell(array: &dyn Array, row: usize, unit: TimeUnit) -> Option<Timestamp> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    };
    match unit {
        TimeUnit::Second => Timestamp::from_secs(array.as_primitive::<TimestampSecondType>().value(row)),
        TimeUnit::Millisecond => Timestamp::from_millis(array.as_primitive::<TimestampMillisecondType>().value(row)),
        TimeUnit::Microsecond => Timestamp::from_micros(array.as_primitive::<TimestampMicrosecondType>().value(row)),
        TimeUnit::Nanosecond => Some(Timestamp::from_nanos(
            array.as_primitive::<TimestampNanosecondType>().value(row),
        )),
    }
}

pub(crate) fn import(store: &Store, path: &Path) -> Result<IngestReport> {
    let mut report = IngestReport::default();
    let vfs = &*store.options().vfs;
    for file_path in parquet_files(vfs, path)? {
        let bytes = vfs.read(&file_path).map_err(|e| Error::io(&file_path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .and_then(|b| b.with_batch_size(IMPORT_BATCH).build())
            .map_err(|e| parquet_error(&file_path, e))?;
        let mut row_number = 0u64;
        for batch in reader {
            let batch = batch.map_err(|e| format_error(&file_path, e))?;
            let schema = batch.schema();
            let column = |name: &str| {
                schema
                    .index_of(name)
                    .map(|i| batch.column(i).clone())
                    .map_err(|_| format_error(&file_path, format!("no `{name}` column")))
            };
            let times = column(TIMESTAMP_COLUMN)?;
            let DataType::Timestamp(unit, _) = times.data_type().clone() else {
                return Err(format_error(
                    &file_path,
                    format!("`{TIMESTAMP_COLUMN}` is {}, not a timestamp", times.data_type()),
                ));
            };
            let twins = column(TWIN_COLUMN)?;
            let Some(twins) = arrow_array::cast::AsArray::as_string_opt::<i32>(twins.as_ref()) else {
                return Err(format_error(
                    &file_path,
                    format!("`{TWIN_COLUMN}` is not a string column"),
                ));
            };
            // Property columns: `<name>_<type>` with a type the column's data can hold.
            let properties: Vec<(String, ValueType, ArrayRef)> = schema
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| f.name() != TIMESTAMP_COLUMN && f.name() != TWIN_COLUMN)
                .filter_map(|(i, f)| {
                    let (name, ty) = parse_column(f.name())?;
                    Some((name.to_string(), ty, batch.column(i).clone()))
                })
                .collect();
            let mut records = Vec::with_capacity(batch.num_rows());
            for row in 0..batch.num_rows() {
                row_number += 1;
                let at = if times.is_null(row) {
                    None
                } else {
                    timestamp_cell(times.as_ref(), row, unit)
                };
                let (Some(at), false) = (at, twins.is_null(row)) else {
                    report.rejected.push(crate::error::RecordError {
                        line: row_number,
                        twin: None,
                        field: Some(TIMESTAMP_COLUMN.to_string()),
                        reason: format!("{}: row without a time or a twin", file_path.display()),
                    });
                    continue;
                };
                let mut record = Record::new(twins.value(row), at);
                for (name, ty, array) in &properties {
                    if let Some(value) = cell(array.as_ref(), row, *ty) {
                        record = record.with(name.as_str(), value);
                    }
                }
                if record.values.is_empty() {
                    // Every cell null: nothing to store (an exported removal looks like this).
                    report.skipped += 1;
                } else {
                    records.push(record);
                }
            }
            report.merge(store.write(&records)?);
        }
    }
    Ok(report)
}
