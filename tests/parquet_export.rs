//! Parquet export in the TSI cold-store layout, read back with the parquet crate's own reader
//! and checked cell by cell against the records written; then imported into a fresh store,
//! which must hold the same events.
#![cfg(feature = "parquet")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use twinstore::{Error, EventsQuery, ExportOptions, Options, Record, Store, Timestamp, TwinSelector, Value};

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("time")
}

/// Events over two months, every type, some properties missing.
fn records() -> Vec<Record> {
    vec![
        Record::new("thermostat67", ts("2026-01-31T23:59:59.123Z"))
            .with("Temperature", 20.5)
            .with("Mode", "heat")
            .with("Count", 3i64),
        Record::new("thermostat67", ts("2026-02-01T00:00:00Z"))
            .with("Temperature", 21.0)
            .with("On", true),
        Record::new("room-1", ts("2026-01-15T08:00:00.5Z"))
            .with("Since", Value::DateTime(ts("2025-12-24T18:00:00Z")))
            .with("Tags", Value::Dynamic("[1,\"a\"]".into())),
        Record::new("room-1", ts("2026-02-10T12:00:00Z")).with("Temperature", -1.25),
    ]
}

fn store_with(dir: &Path) -> Store {
    let store = Store::open(dir, Options::default().background_maintenance(false)).expect("open");
    store.write(&records()).expect("write");
    store
}

/// Every row of a Parquet file: column name -> cell as text ("" for null), in file order.
fn read_rows(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let file = std::fs::File::open(path).expect("open parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader");
    let mut names = Vec::new();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        names = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        for row in 0..batch.num_rows() {
            let mut cells = BTreeMap::new();
            for (i, name) in names.iter().enumerate() {
                let col = batch.column(i);
                let text = if col.is_null(row) {
                    String::new()
                } else if let Some(a) = col.as_primitive_opt::<Float64Type>() {
                    a.value(row).to_string()
                } else if let Some(a) = col.as_primitive_opt::<Int64Type>() {
                    a.value(row).to_string()
                } else if let Some(a) = col.as_primitive_opt::<TimestampMicrosecondType>() {
                    format!("{}us", a.value(row))
                } else if let Some(a) = col.as_boolean_opt() {
                    a.value(row).to_string()
                } else if let Some(a) = col.as_string_opt::<i32>() {
                    a.value(row).to_string()
                } else {
                    panic!("{name}: unexpected type {}", col.data_type());
                };
                cells.insert(name.clone(), text);
            }
            rows.push(cells);
        }
    }
    (names, rows)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn micros(text: &str) -> String {
    format!("{}us", ts(text).as_nanos() / 1000)
}

#[test]
fn export_writes_the_cold_store_layout_and_every_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(&dir.path().join("db"));
    let out = dir.path().join("export");
    let report = store.export_parquet(&out, &ExportOptions::default()).expect("export");
    assert_eq!(report.rows, 4);
    assert_eq!(report.values, 8);
    let files = files_under(&out);
    assert_eq!(files, report.files);
    assert_eq!(files.len(), 2);
    // Folders by event month; names `<written>_<min>_<max>_twinstore.parquet`.
    let rel: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&out).expect("under").display().to_string())
        .collect();
    assert!(rel[0].starts_with("V=1/PT=Time/Y=2026/M=01/"), "{}", rel[0]);
    assert!(rel[1].starts_with("V=1/PT=Time/Y=2026/M=02/"), "{}", rel[1]);
    let name = |i: usize| files[i].file_name().expect("name").to_string_lossy().into_owned();
    let jan: Vec<String> = name(0)
        .trim_end_matches(".parquet")
        .split('_')
        .map(str::to_string)
        .collect();
    assert_eq!(jan.len(), 4, "{jan:?}");
    assert_eq!(jan[0].len(), 17);
    assert_eq!(jan[1], "20260115080000500");
    assert_eq!(jan[2], "20260131235959123");
    assert_eq!(jan[3], "twinstore");
    assert!(
        name(1).contains("_20260201000000000_20260210120000000_twinstore.parquet"),
        "{}",
        name(1)
    );

    let (names, jan_rows) = read_rows(&files[0]);
    assert_eq!(
        names,
        [
            "timestamp",
            "$dtId_string",
            "Count_long",
            "Mode_string",
            "On_bool",
            "Since_datetime",
            "Tags_dynamic",
            "Temperature_double"
        ]
    );
    let row = |pairs: &[(&str, String)]| -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = names.iter().map(|n| (n.clone(), String::new())).collect();
        for (k, v) in pairs {
            m.insert(k.to_string(), v.clone());
        }
        m
    };
    // Rows by twin (in name order), then time.
    assert_eq!(
        jan_rows,
        vec![
            row(&[
                ("timestamp", micros("2026-01-15T08:00:00.5Z")),
                ("$dtId_string", "room-1".into()),
                ("Since_datetime", micros("2025-12-24T18:00:00Z")),
                ("Tags_dynamic", "[1,\"a\"]".into()),
            ]),
            row(&[
                ("timestamp", micros("2026-01-31T23:59:59.123Z")),
                ("$dtId_string", "thermostat67".into()),
                ("Temperature_double", "20.5".into()),
                ("Mode_string", "heat".into()),
                ("Count_long", "3".into()),
            ]),
        ]
    );
    let (_, feb_rows) = read_rows(&files[1]);
    assert_eq!(
        feb_rows,
        vec![
            row(&[
                ("timestamp", micros("2026-02-10T12:00:00Z")),
                ("$dtId_string", "room-1".into()),
                ("Temperature_double", "-1.25".into()),
            ]),
            row(&[
                ("timestamp", micros("2026-02-01T00:00:00Z")),
                ("$dtId_string", "thermostat67".into()),
                ("Temperature_double", "21".into()),
                ("On_bool", "true".into()),
            ]),
        ]
    );
}

#[test]
fn export_then_import_gives_the_same_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = store_with(&dir.path().join("db"));
    original.flush().expect("flush");
    let out = dir.path().join("export");
    original
        .export_parquet(&out, &ExportOptions::default())
        .expect("export");
    let copy = Store::open(dir.path().join("copy"), Options::default()).expect("open copy");
    let report = copy.import_parquet(&out).expect("import");
    assert_eq!(report.records, 4);
    assert!(report.rejected.is_empty());
    for twin in ["thermostat67", "room-1"] {
        let view = |s: &Store| {
            s.events(&EventsQuery::new(twin))
                .expect("events")
                .into_iter()
                .map(|e| {
                    let mut values: Vec<(String, Value)> =
                        e.values.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
                    values.sort_by(|a, b| a.0.cmp(&b.0));
                    (e.ts, values)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(view(&copy), view(&original), "{twin}");
    }
}

#[test]
fn export_selects_twins_and_a_time_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(&dir.path().join("db"));
    let out = dir.path().join("export");
    let options = ExportOptions {
        twins: Some(TwinSelector::Prefix("thermo".into())),
        from: ts("2026-02-01T00:00:00Z"),
        to: ts("2026-03-01T00:00:00Z"),
    };
    let report = store.export_parquet(&out, &options).expect("export");
    assert_eq!(report.rows, 1);
    assert_eq!(report.files.len(), 1);
    let (names, rows) = read_rows(&report.files[0]);
    // Columns come from the selected twins only.
    assert_eq!(
        names,
        [
            "timestamp",
            "$dtId_string",
            "Count_long",
            "Mode_string",
            "On_bool",
            "Temperature_double"
        ]
    );
    assert_eq!(rows[0]["$dtId_string"], "thermostat67");
    assert_eq!(rows[0]["timestamp"], micros("2026-02-01T00:00:00Z"));
}

#[test]
fn import_refuses_a_file_without_the_layout_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(&dir.path().join("db"));
    let not_parquet = dir.path().join("x.parquet");
    std::fs::write(&not_parquet, b"PAR1 not really").expect("write");
    match store.import_parquet(&not_parquet) {
        Err(Error::Format { path, .. }) => assert_eq!(path, not_parquet),
        other => panic!("wanted a Format error, got {other:?}"),
    }
}

/// A file as another program writes it (here with the arrow and parquet crates directly):
/// millisecond times, columns in another order, an extra column of no known type, and a row
/// without a twin. Import takes what it can and reports the rest.
#[test]
fn import_reads_a_cold_store_file_written_elsewhere() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray, TimestampMillisecondArray};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    use parquet::arrow::ArrowWriter;

    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("V=1/PT=Time/Y=2026/M=01");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let path = folder.join("20260102000000000_20260101000000000_20260101000200000_abc.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("Temperature_double", DataType::Float64, true),
        Field::new("$dtId_string", DataType::Utf8, true),
        Field::new("Mode_string", DataType::Utf8, true),
        Field::new("weird", DataType::Int32, true),
        Field::new("timestamp", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]));
    let base = ts("2026-01-01T00:00:00Z").as_nanos() / 1_000_000;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(vec![Some(20.5), None, Some(22.0)])),
        Arc::new(StringArray::from(vec![Some("t1"), Some("t1"), None])),
        Arc::new(StringArray::from(vec![None, Some("Cool"), Some("Heat")])),
        Arc::new(Int32Array::from(vec![1, 2, 3])),
        Arc::new(TimestampMillisecondArray::from(vec![
            base,
            base + 60_000,
            base + 120_000,
        ])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let mut writer = ArrowWriter::try_new(std::fs::File::create(&path).expect("create"), schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");

    let store = Store::open(dir.path().join("db"), Options::default()).expect("open");
    let report = store.import_parquet(dir.path().join("V=1")).expect("import");
    assert_eq!(report.records, 2);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, 3);
    let events = store.events(&EventsQuery::new("t1")).expect("events");
    let seen: Vec<(Timestamp, Vec<(String, Value)>)> = events
        .iter()
        .map(|e| (e.ts, e.values.iter().map(|(n, v)| (n.to_string(), v.clone())).collect()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                ts("2026-01-01T00:00:00Z"),
                vec![("Temperature".to_string(), Value::Double(20.5))]
            ),
            (
                ts("2026-01-01T00:01:00Z"),
                vec![("Mode".to_string(), Value::String("Cool".into()))]
            ),
        ]
    );
}
