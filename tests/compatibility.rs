//! Format compatibility: stores written by every format version open and read the same
//! forever.
//!
//! `tests/fixtures/v1/` holds a store written by version 1 (two WAL segments), a copy with
//! one flipped byte in the first segment, and `store-full` (a MANIFEST, segment files and a
//! WAL tail; see below). `tests/fixtures/v2/store-full` is the same store written with
//! segment format version 2 (hour summaries), plus a twin whose blocks span hours. The
//! clean stores must answer exactly as worked out by hand from the records below; the
//! damaged one must be refused with a corruption error naming the file. Regenerate only the
//! files of a new format version: `cargo test --test compatibility -- --ignored
//! write_full_golden_store` writes `v2/store-full`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use twinstore::{
    AggregateQuery, Aggregation, Durability, Error, EventsQuery, Options, PropertyValue, Record, Store, Timestamp,
    Value, ValueType,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

/// The records of the golden store, by segment.
fn golden_records() -> [Vec<Record>; 2] {
    let t = |s: &str| Timestamp::parse(s).expect("valid time");
    [
        vec![
            Record::new("thermostat67", t("2026-01-01T08:00:00.1234567Z"))
                .with("Temperature", 20.5)
                .with("Mode", "heat"),
            Record::new("room-12", t("2026-01-01T08:00:30Z"))
                .with("Occupied", true)
                .with("CO2", 455i64)
                .with("Front.Temperature", 19.25),
        ],
        vec![
            Record::new("thermostat67", t("2026-01-01T08:01:00.5Z")).with("Temperature", 21i64),
            Record::new("room-12", t("2026-01-01T08:04:00Z"))
                .with("Occupied", Value::Removed)
                .with("Since", Value::DateTime(t("2026-01-01T07:00:00Z")))
                .with("Zones", Value::Dynamic("[1,2,3]".into())),
        ],
    ]
}

/// A copy of the fixture store `name` in a temporary directory.
fn copy_store(name: &str) -> tempfile::TempDir {
    common::copy_tree_to_temp(&fixtures().join(name))
}

/// The segment format version this build writes: its golden store is `v{N}/store-full`.
const CURRENT_SEGMENT_VERSION: u32 = 2;

fn store_full(version: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/v{version}/store-full"))
}

#[test]
fn version_1_store_replays_exactly() {
    let dir = copy_store("store");
    let store = Store::open(dir.path(), Options::default()).expect("golden store opens");
    let t = |s: &str| Timestamp::parse(s).expect("valid time");

    let thermostat = store.events(&EventsQuery::new("thermostat67")).expect("events");
    assert_eq!(thermostat.len(), 2);
    assert_eq!(thermostat[0].ts, t("2026-01-01T08:00:00.1234567Z"));
    assert_eq!(
        thermostat[0].values,
        vec![
            ("Temperature".into(), Value::Double(20.5)),
            ("Mode".into(), Value::String("heat".into()))
        ]
    );
    assert_eq!(thermostat[1].values, vec![("Temperature".into(), Value::Long(21))]);

    let room = store.events(&EventsQuery::new("room-12")).expect("events");
    assert_eq!(room.len(), 2);
    assert_eq!(
        room[1].values,
        vec![
            ("Occupied".into(), Value::Removed),
            ("Since".into(), Value::DateTime(t("2026-01-01T07:00:00Z"))),
            ("Zones".into(), Value::Dynamic("[1,2,3]".into())),
        ]
    );
    let latest = store.latest("room-12").expect("latest");
    assert_eq!(latest.get("Occupied"), None, "removed by the second segment");
    assert_eq!(latest.get("CO2"), Some(&Value::Long(455)));
    assert_eq!(store.stats().records, 4);
}

#[test]
fn version_1_store_with_a_flipped_byte_is_refused_with_the_file() {
    let dir = copy_store("store-corrupt");
    match Store::open(dir.path(), Options::default()) {
        Err(Error::Corruption { path, offset, .. }) => {
            assert!(path.ends_with("00000000000000000001.wal"), "{path:?}");
            assert!(offset >= 24, "damage is in a frame, not the header: {offset}");
        }
        Err(other) => panic!("expected corruption, got {other}"),
        Ok(_) => panic!("a damaged first segment must not open"),
    }
}

/// Writes the fixtures (run by hand, only when a new format version is introduced).
#[test]
#[ignore = "writes tests/fixtures/v1; run only to create fixtures for a new format version"]
fn write_golden_files() {
    let root = fixtures();
    let store_dir = root.join("store");
    // Only this generator's stores: `store-full` has its own.
    let _ = std::fs::remove_dir_all(&store_dir);
    let _ = std::fs::remove_dir_all(root.join("store-corrupt"));
    for records in golden_records() {
        // Each open that writes starts a new segment.
        let store = Store::open(&store_dir, Options::default().durability(Durability::SyncEachWrite)).expect("open");
        store.write(&records).expect("write");
    }
    std::fs::remove_file(store_dir.join("LOCK")).expect("lock file");
    let corrupt = root.join("store-corrupt/wal");
    std::fs::create_dir_all(&corrupt).expect("dir");
    for entry in std::fs::read_dir(store_dir.join("wal")).expect("wal") {
        let entry = entry.expect("entry");
        let mut bytes = std::fs::read(entry.path()).expect("read");
        if entry.file_name() == "00000000000000000001.wal" {
            // A bit flip in the middle of the first segment's frame payload.
            let middle = 24 + (bytes.len() - 24) / 2;
            bytes[middle] ^= 0x10;
        }
        std::fs::write(corrupt.join(entry.file_name()), bytes).expect("write");
    }
}

// ---------------------------------------------------------------------------------------
// `v1/store-full`: a store with a MANIFEST, segment files and a WAL tail.
//
// The generator writes the records below in phases: set A, flush (file 1); set B, flush
// (file 2); compaction (files 1 and 2 merged into file 3); `delete_range` of the boiler's
// row at T0+10 s (file 3 rewritten as file 4); `delete_twin("scratch")` (file 4 rewritten as
// file 5); set C, flush (file 6); set D, written but not flushed (the WAL tail). The
// expectations in `version_1_full_store_answers_exactly` are worked out by hand from these
// records.

/// 2026-01-01T00:00:00Z, in nanoseconds.
const T0: i64 = 1_767_225_600_000_000_000;
const SEC: i64 = 1_000_000_000;

fn at(nanos: i64) -> Timestamp {
    Timestamp::from_nanos(T0 + nanos)
}

/// The boiler's service date, a DateTime value.
fn serviced() -> Value {
    Value::DateTime(Timestamp::parse("2025-12-01T00:00:00Z").expect("valid time"))
}

fn config() -> Value {
    Value::Dynamic(r#"{"fan":1}"#.into())
}

/// `boiler`: every value type, in rows at whole seconds.
fn boiler_set_a() -> Vec<Record> {
    let row = |s: i64, temperature: f64, pressure: i64, on: bool, mode: &str| {
        Record::new("boiler", at(s * SEC))
            .with("Temperature", temperature)
            .with("Pressure", pressure)
            .with("On", on)
            .with("Mode", mode)
            .with("Serviced", serviced())
            .with("Config", config())
    };
    vec![
        row(0, 20.5, 1000, true, "auto").with("Note", "check valve"),
        row(10, 20.75, 1010, false, "heat"),
        row(20, 21.0, 1020, true, "auto").with("Note", Value::Removed),
        row(30, 21.25, 1030, true, "heat"),
    ]
}

/// `meter`: 2,100 rows 1.5 s apart (millisecond times), `Energy` = i²; half in set A, half
/// in set B, one twin chunk of two groups (2,048 + 52 rows) once compacted.
fn meter(rows: std::ops::Range<i64>) -> Vec<Record> {
    rows.map(|i| Record::new("meter", at(i * 1_500_000_000)).with("Energy", i * i))
        .collect()
}

/// A fixed pseudo-random byte per row (a 64-bit LCG, high byte).
fn noise(i: i64) -> i64 {
    let x = (i as u64 + 1)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (x >> 56) as i64
}

/// `noisy`: 512 rows 1,001 µs apart (microsecond times) from T0+1000 s. `Level` has random
/// low bytes and a high byte of 0 or 1 (byte planes: one raw, one zstd); `Jitter` is a
/// multiple of 0.25 except every 32nd row, i + 1/3 (decimal doubles with exceptions);
/// `Wave` = √i (raw doubles).
fn noisy() -> Vec<Record> {
    (0..512)
        .map(|i| {
            let jitter = if i % 32 == 31 {
                i as f64 + 1.0 / 3.0
            } else {
                (i % 50) as f64 * 0.25
            };
            Record::new("noisy", at(1000 * SEC + i * 1_001_000))
                .with("Level", noise(i) + 256 * i64::from(i % 3 == 0))
                .with("Jitter", jitter)
                .with("Wave", (i as f64).sqrt())
        })
        .collect()
}

/// The message of `display` row i: ten long, similar texts (a zstd-coded dictionary).
fn message(i: i64) -> String {
    format!(
        "zone {:02}: all systems nominal, no alarms pending, next check at 06:00",
        i % 10
    )
}

/// `display`: 40 rows 1 s + 1 ns apart (nanosecond times) from T0+2000 s.
fn display() -> Vec<Record> {
    (0..40)
        .map(|i| {
            Record::new("display", at(2000 * SEC + i * (SEC + 1)))
                .with("Message", message(i).as_str())
                .with("Payload", Value::Dynamic(format!(r#"{{"z":{}}}"#, i % 2).into()))
        })
        .collect()
}

/// Whether `sparse` row i has a `Half` value: the low bit of splitmix64(i), an irregular
/// half of the rows that no transform or zstd shortens (a bitmap).
fn half_present(i: i64) -> bool {
    let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & 1 == 1
}

/// `sparse`: 200 rows 1 s apart from T0+3000 s. `Tick` = i in every row; `Rare` = 1.5 and
/// 2.5 in rows 7 and 150 (a row list); `Half` = (i % 3 == 0) where `half_present(i)` (a
/// bitmap); `Burst` = i in rows 20..70 and 120..170 (runs).
fn sparse() -> Vec<Record> {
    (0..200)
        .map(|i| {
            let mut r = Record::new("sparse", at(3000 * SEC + i * SEC)).with("Tick", i);
            if i == 7 {
                r = r.with("Rare", 1.5);
            }
            if i == 150 {
                r = r.with("Rare", 2.5);
            }
            if half_present(i) {
                r = r.with("Half", i % 3 == 0);
            }
            if (20..70).contains(&i) || (120..170).contains(&i) {
                r = r.with("Burst", i);
            }
            r
        })
        .collect()
}

/// Set A: the boiler, the first half of the meter, and `scratch` (deleted later).
fn set_a() -> Vec<Record> {
    let mut records = boiler_set_a();
    records.extend(meter(0..1050));
    records.extend((1..=3).map(|i| Record::new("scratch", at(i * SEC)).with("Value", i)));
    records
}

/// Set B: a boiler row, the second half of the meter, and the codec twins.
fn set_b() -> Vec<Record> {
    let mut records = vec![
        Record::new("boiler", at(40 * SEC))
            .with("Temperature", 21.5)
            .with("Mode", "off"),
    ];
    records.extend(meter(1050..2100));
    records.extend(noisy());
    records.extend(display());
    records.extend(sparse());
    records
}

/// Set C, flushed after the deletions (file 6).
fn set_c() -> Vec<Record> {
    vec![
        Record::new("boiler", at(50 * SEC))
            .with("Temperature", 22.0)
            .with("Pressure", 1050i64),
    ]
}

/// Set D, left in the WAL: a new boiler column and a twin the manifest does not know.
fn set_d() -> Vec<Record> {
    vec![
        Record::new("boiler", at(60 * SEC))
            .with("Temperature", 22.5)
            .with("Mode", "eco")
            .with("Humidity", 40i64),
        Record::new("lobby", at(61 * SEC)).with("Occupied", true),
    ]
}

const BOILER_MODEL: &str = "dtmi:example:Boiler;1";

/// `hourly` (version 2 on): 300 rows a minute apart from T0+2 h, five whole hours:
/// `Temp` = 20 + (i mod 10) / 2, `Count` = i. Its blocks span hours, so they carry hour
/// summaries.
fn hourly() -> Vec<Record> {
    (0..300)
        .map(|i| {
            Record::new("hourly", at(2 * 3600 * SEC + i * 60 * SEC))
                .with("Temp", 20.0 + (i % 10) as f64 / 2.0)
                .with("Count", i)
        })
        .collect()
}

/// Writes `v{CURRENT_SEGMENT_VERSION}/store-full` (run by hand, only when a new format
/// version is introduced; older versions' stores stay as they were written).
#[test]
#[ignore = "writes tests/fixtures/v2/store-full; run only to create fixtures for a new format version"]
fn write_full_golden_store() {
    let dir = store_full(CURRENT_SEGMENT_VERSION);
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options::default()
        .durability(Durability::SyncEachWrite)
        .background_maintenance(false);
    let store = Store::open(&dir, options).expect("open");
    store.write(&set_a()).expect("set A");
    store.set_model("boiler", BOILER_MODEL).expect("model");
    store.flush().expect("flush A");
    store.write(&set_b()).expect("set B");
    store.flush().expect("flush B");
    assert!(store.compact().expect("compact"), "files 1 and 2 merge");
    store
        .delete_range("boiler", at(10 * SEC), at(11 * SEC))
        .expect("delete range");
    store.delete_twin("scratch").expect("delete twin");
    store.write(&set_c()).expect("set C");
    store.write(&hourly()).expect("hourly");
    store.flush().expect("flush C");
    store.write(&set_d()).expect("set D");
    drop(store);
    std::fs::remove_file(dir.join("LOCK")).expect("lock file");
}

fn values(pairs: &[(&str, Value)]) -> Vec<(std::sync::Arc<str>, Value)> {
    pairs.iter().map(|(n, v)| ((*n).into(), v.clone())).collect()
}

/// `(name, value, seconds after T0)`, sorted by name, as `TwinState::properties`.
fn state(props: &[(&str, Value, i64)]) -> Vec<PropertyValue> {
    props
        .iter()
        .map(|(name, value, s)| PropertyValue {
            name: (*name).into(),
            value: value.clone(),
            ts: at(s * SEC),
        })
        .collect()
}

#[test]
fn version_1_full_store_answers_exactly() {
    let dir = common::copy_tree_to_temp(&store_full(1));
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("golden store opens");
    check_full_store(&store);
    // Boiler 6, meter 2,100, noisy 512, display 40, sparse 200, lobby 1; scratch 0.
    assert_eq!(store.stats().records, 6 + 2100 + 512 + 40 + 200 + 1);
    assert_eq!(store.cold_size_breakdown().expect("sizes").summaries, 0);
}

#[test]
fn version_2_full_store_answers_exactly() {
    let dir = common::copy_tree_to_temp(&store_full(2));
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("golden store opens");
    check_full_store(&store);
    assert_eq!(store.stats().records, 6 + 2100 + 512 + 40 + 200 + 1 + 300);
    assert!(store.cold_size_breakdown().expect("sizes").summaries > 0);
    assert!(store.verify().expect("verify").is_ok());
    // Hour k (0..5) of `hourly` holds rows 60k..60k+59: Temp takes each of 20, 20.5, ..,
    // 24.5 six times (sum 6 × 222.5 = 1335); Count sums to 3600k + 1770.
    let hours = |property: &str, ty: ValueType| {
        let mut q = AggregateQuery::new(
            "hourly",
            property,
            at(2 * 3600 * SEC),
            at(7 * 3600 * SEC),
            Duration::from_secs(3600),
        );
        q.value_type = ty;
        q.aggregations = vec![
            Aggregation::Count,
            Aggregation::Min,
            Aggregation::Max,
            Aggregation::Sum,
            Aggregation::Avg,
        ];
        let result = store.aggregate(&q).expect("aggregate");
        assert_eq!(result.timestamps.len(), 5);
        (0..5)
            .map(|k| {
                result
                    .columns
                    .iter()
                    .map(|(_, v)| v[k].expect("a value"))
                    .collect::<Vec<f64>>()
            })
            .collect::<Vec<_>>()
    };
    for (k, row) in hours("Temp", ValueType::Double).iter().enumerate() {
        assert_eq!(row, &[60.0, 20.0, 24.5, 1335.0, 22.25], "Temp, hour {k}");
    }
    for (k, row) in hours("Count", ValueType::Long).iter().enumerate() {
        let k = k as f64;
        assert_eq!(
            row,
            &[60.0, 60.0 * k, 60.0 * k + 59.0, 3600.0 * k + 1770.0, 60.0 * k + 29.5],
            "Count, hour {k}"
        );
    }
}

/// What every version's `store-full` answers, worked out by hand from its records.
fn check_full_store(store: &Store) {
    check_boiler(store);
    check_meter(store);
    check_codec_twins(store);
    // Deleted for good; and a twin known only from the WAL tail.
    assert_eq!(store.events(&EventsQuery::new("scratch")).expect("events"), vec![]);
    assert!(store.latest("scratch").expect("latest").properties.is_empty());
    assert_eq!(
        &store.latest("lobby").expect("latest").properties[..],
        state(&[("Occupied", Value::Bool(true), 61)])
    );
}

/// The boiler: file 5 (compacted, the row at 10 s deleted), file 6, and the WAL tail.
fn check_boiler(store: &Store) {
    let s = |text: &str| Value::String(text.into());

    // The boiler: file 5 (compacted, the row at 10 s deleted), file 6, and the WAL tail.
    let boiler = store.events(&EventsQuery::new("boiler")).expect("events");
    let times: Vec<Timestamp> = boiler.iter().map(|e| e.ts).collect();
    assert_eq!(times, [0, 20, 30, 40, 50, 60].map(|s| at(s * SEC)));
    let common = [("Serviced", serviced()), ("Config", config())];
    let row = |t: f64, p: i64, on: bool, mode: &str, extra: &[(&str, Value)]| {
        let mut v = vec![
            ("Temperature", Value::Double(t)),
            ("Pressure", Value::Long(p)),
            ("On", Value::Bool(on)),
            ("Mode", s(mode)),
        ];
        v.extend(common.iter().cloned());
        v.extend(extra.iter().cloned());
        values(&v)
    };
    assert_eq!(
        boiler[0].values,
        row(20.5, 1000, true, "auto", &[("Note", s("check valve"))])
    );
    assert_eq!(
        boiler[1].values,
        row(21.0, 1020, true, "auto", &[("Note", Value::Removed)])
    );
    assert_eq!(boiler[2].values, row(21.25, 1030, true, "heat", &[]));
    assert_eq!(
        boiler[3].values,
        values(&[("Temperature", Value::Double(21.5)), ("Mode", s("off"))])
    );
    assert_eq!(
        boiler[4].values,
        values(&[("Temperature", Value::Double(22.0)), ("Pressure", Value::Long(1050))])
    );
    assert_eq!(
        boiler[5].values,
        values(&[
            ("Temperature", Value::Double(22.5)),
            ("Mode", s("eco")),
            ("Humidity", Value::Long(40))
        ])
    );
    let latest = store.latest("boiler").expect("latest");
    assert_eq!(
        &latest.properties[..],
        state(&[
            ("Config", config(), 30),
            ("Humidity", Value::Long(40), 60),
            ("Mode", s("eco"), 60),
            ("On", Value::Bool(true), 30),
            ("Pressure", Value::Long(1050), 50),
            ("Serviced", serviced(), 30),
            ("Temperature", Value::Double(22.5), 60),
        ])
    );
    // At 15 s the deleted row at 10 s (20.75, 1010, off, "heat") must not show.
    let early = store.state_at("boiler", at(15 * SEC)).expect("state at 15 s");
    assert_eq!(
        &early.properties[..],
        state(&[
            ("Config", config(), 0),
            ("Mode", s("auto"), 0),
            ("Note", s("check valve"), 0),
            ("On", Value::Bool(true), 0),
            ("Pressure", Value::Long(1000), 0),
            ("Serviced", serviced(), 0),
            ("Temperature", Value::Double(20.5), 0),
        ])
    );
    let later = store.state_at("boiler", at(45 * SEC)).expect("state at 45 s");
    assert_eq!(
        &later.properties[..],
        state(&[
            ("Config", config(), 30),
            ("Mode", s("off"), 40),
            ("On", Value::Bool(true), 30),
            ("Pressure", Value::Long(1030), 30),
            ("Serviced", serviced(), 30),
            ("Temperature", Value::Double(21.5), 40),
        ])
    );
    assert_eq!(
        store.twin_info("boiler").expect("info").model.as_deref(),
        Some(BOILER_MODEL)
    );
    // Temperature by minute: 20.5 + 21.0 + 21.25 + 21.5 + 22.0 = 106.25 over three sources.
    let q = AggregateQuery::new("boiler", "Temperature", at(0), at(120 * SEC), Duration::from_secs(60)).aggregations([
        Aggregation::Count,
        Aggregation::Min,
        Aggregation::Max,
        Aggregation::Sum,
        Aggregation::Avg,
    ]);
    let result = store.aggregate(&q).expect("aggregate");
    assert_eq!(result.timestamps, [at(0), at(60 * SEC)]);
    assert_eq!(result.column(Aggregation::Count), Some(&[Some(5.0), Some(1.0)][..]));
    assert_eq!(result.column(Aggregation::Min), Some(&[Some(20.5), Some(22.5)][..]));
    assert_eq!(result.column(Aggregation::Max), Some(&[Some(22.0), Some(22.5)][..]));
    assert_eq!(result.column(Aggregation::Sum), Some(&[Some(106.25), Some(22.5)][..]));
    assert_eq!(result.column(Aggregation::Avg), Some(&[Some(21.25), Some(22.5)][..]));
}

fn check_meter(store: &Store) {
    // The meter: 2,100 rows, i² at 1.5 s steps, across a group boundary at row 2048.
    let meter = store.events(&EventsQuery::new("meter")).expect("events");
    assert_eq!(meter.len(), 2100);
    let edge = store
        .events(
            &EventsQuery::new("meter")
                .from(at(3069 * SEC))
                .to(at(3073 * SEC + SEC / 2)),
        )
        .expect("events");
    let edge: Vec<(Timestamp, Vec<_>)> = edge.into_iter().map(|e| (e.ts, e.values)).collect();
    assert_eq!(
        edge,
        [
            (at(3069 * SEC), values(&[("Energy", Value::Long(4_186_116))])),
            (at(3070 * SEC + SEC / 2), values(&[("Energy", Value::Long(4_190_209))])),
            (at(3072 * SEC), values(&[("Energy", Value::Long(4_194_304))])),
        ]
    );
    // Half-hour buckets: rows 0..1200 and 1200..2100; Σi² = 575,280,200 and 2,509,515,150.
    let q = AggregateQuery::new("meter", "Energy", at(0), at(3600 * SEC), Duration::from_secs(1800))
        .value_type(ValueType::Long)
        .aggregations([
            Aggregation::Count,
            Aggregation::Min,
            Aggregation::Max,
            Aggregation::Sum,
            Aggregation::First,
            Aggregation::Last,
        ]);
    let result = store.aggregate(&q).expect("aggregate");
    assert_eq!(
        result.column(Aggregation::Count),
        Some(&[Some(1200.0), Some(900.0)][..])
    );
    assert_eq!(
        result.column(Aggregation::Min),
        Some(&[Some(0.0), Some(1_440_000.0)][..])
    );
    assert_eq!(
        result.column(Aggregation::Max),
        Some(&[Some(1_437_601.0), Some(4_405_801.0)][..])
    );
    assert_eq!(
        result.column(Aggregation::Sum),
        Some(&[Some(575_280_200.0), Some(2_509_515_150.0)][..])
    );
    assert_eq!(
        result.column(Aggregation::First),
        Some(&[Some(0.0), Some(1_440_000.0)][..])
    );
    assert_eq!(
        result.column(Aggregation::Last),
        Some(&[Some(1_437_601.0), Some(4_405_801.0)][..])
    );
}

/// The twins written for the codecs they make the writer choose.
fn check_codec_twins(store: &Store) {
    let s = |text: &str| Value::String(text.into());
    // The noisy twin: microsecond times; noise(0..4) = 108, 196, 28, 117; noise(511) = 183.
    let noisy = store.events(&EventsQuery::new("noisy")).expect("events");
    assert_eq!(noisy.len(), 512);
    assert_eq!(noisy[1].ts, at(1000 * SEC + 1_001_000));
    assert_eq!(
        noisy[0].values,
        values(&[
            ("Level", Value::Long(108 + 256)),
            ("Jitter", Value::Double(0.0)),
            ("Wave", Value::Double(0.0))
        ])
    );
    assert_eq!(noisy[2].values[0], ("Level".into(), Value::Long(28)));
    assert_eq!(noisy[3].values[0], ("Level".into(), Value::Long(117 + 256)));
    assert_eq!(noisy[31].values[1], ("Jitter".into(), Value::Double(31.0 + 1.0 / 3.0)));
    assert_eq!(noisy[33].values[1], ("Jitter".into(), Value::Double(8.25)));
    assert_eq!(
        noisy[511].values,
        values(&[
            ("Level", Value::Long(183)),
            ("Jitter", Value::Double(511.0 + 1.0 / 3.0)),
            ("Wave", Value::Double(511f64.sqrt())),
        ])
    );
    let q = AggregateQuery::new("noisy", "Level", at(0), at(3600 * SEC), Duration::from_secs(3600))
        .value_type(ValueType::Long)
        .aggregations([Aggregation::Count, Aggregation::Sum]);
    let result = store.aggregate(&q).expect("aggregate");
    assert_eq!(result.column(Aggregation::Count), Some(&[Some(512.0)][..]));
    assert_eq!(result.column(Aggregation::Sum), Some(&[Some(109_380.0)][..]));

    // The display: nanosecond times, a zstd dictionary of ten messages.
    let display = store.events(&EventsQuery::new("display")).expect("events");
    assert_eq!(display.len(), 40);
    assert_eq!(display[39].ts, at(2039 * SEC + 39));
    assert_eq!(
        display[39].values,
        values(&[
            (
                "Message",
                s("zone 09: all systems nominal, no alarms pending, next check at 06:00")
            ),
            ("Payload", Value::Dynamic(r#"{"z":1}"#.into())),
        ])
    );
    assert_eq!(
        display[12].values[0].1,
        s("zone 02: all systems nominal, no alarms pending, next check at 06:00")
    );

    // The sparse twin: Rare in rows 7 and 150, Half in 101 rows (splitmix64 low bits,
    // counted once by hand), Burst in rows 20..70 and
    // 120..170 (Σ = 2,225 + 7,225).
    let counts: Vec<(String, u64)> = store
        .schema("sparse")
        .expect("schema")
        .into_iter()
        .map(|p| (p.name.to_string(), p.count))
        .collect();
    let expected = [("Burst", 100), ("Half", 101), ("Rare", 2), ("Tick", 200)]; // by name
    assert_eq!(counts, expected.map(|(n, c)| (n.to_string(), c)));
    // Values come in column order, columns in order of first appearance: Half (row 0)
    // before Rare (row 7).
    let sparse = store.events(&EventsQuery::new("sparse")).expect("events");
    assert_eq!(
        sparse[7].values,
        values(&[
            ("Tick", Value::Long(7)),
            ("Half", Value::Bool(false)),
            ("Rare", Value::Double(1.5))
        ])
    );
    assert_eq!(
        sparse[21].values,
        values(&[
            ("Tick", Value::Long(21)),
            ("Half", Value::Bool(true)),
            ("Burst", Value::Long(21))
        ])
    );
    let q = AggregateQuery::new("sparse", "Burst", at(0), at(3600 * SEC), Duration::from_secs(3600))
        .value_type(ValueType::Long)
        .aggregations([Aggregation::Count, Aggregation::Sum, Aggregation::Min, Aggregation::Max]);
    let result = store.aggregate(&q).expect("aggregate");
    assert_eq!(result.column(Aggregation::Count), Some(&[Some(100.0)][..]));
    assert_eq!(result.column(Aggregation::Sum), Some(&[Some(9450.0)][..]));
    assert_eq!(result.column(Aggregation::Min), Some(&[Some(20.0)][..]));
    assert_eq!(result.column(Aggregation::Max), Some(&[Some(169.0)][..]));
}
