//! Query results as Arrow record batches: types, nulls and values checked by hand.
#![cfg(feature = "parquet")]

use std::time::Duration;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
use arrow_schema::{DataType, TimeUnit};
use twinstore::{
    AggregateSeriesQuery, GetEventsQuery, Options, Record, Store, Timestamp, TwinSelector, Value, ValueType, Variable,
};

fn t(s: u64) -> Timestamp {
    Timestamp::from_millis(1_767_225_600_000 + s as i64 * 1000).expect("time")
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
    store
        .write(&[
            Record::new("a", t(0)).with("T", 1.5).with("Mode", "on"),
            Record::new("a", t(10)).with("T", 2.5).with("n", 7i64),
            Record::new("a", t(70))
                .with("T", 4.0)
                .with("Since", Value::DateTime(t(3))),
            Record::new("b", t(5)).with("T", 10.0),
        ])
        .expect("write");
    (dir, store)
}

#[test]
fn get_events_frame_as_a_record_batch() {
    let (_dir, store) = store();
    let query = GetEventsQuery::new("a", t(0), t(100)).project([
        ("T", ValueType::Double),
        ("Mode", ValueType::String),
        ("n", ValueType::Long),
        ("Since", ValueType::DateTime),
    ]);
    let batch = store
        .get_events(&query)
        .expect("events")
        .to_record_batch()
        .expect("batch");
    let names: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["timestamp", "T", "Mode", "n", "Since"]);
    assert_eq!(batch.num_rows(), 3);
    assert_eq!(
        batch.column(0).data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    );
    let times = batch.column(0).as_primitive::<TimestampNanosecondType>();
    assert_eq!(
        times.values().to_vec(),
        vec![t(0).as_nanos(), t(10).as_nanos(), t(70).as_nanos()]
    );
    let temps = batch.column(1).as_primitive::<Float64Type>();
    assert_eq!(temps.values().to_vec(), vec![1.5, 2.5, 4.0]);
    let modes = batch.column(2).as_string::<i32>();
    assert_eq!((modes.value(0), modes.is_null(1), modes.is_null(2)), ("on", true, true));
    let n = batch.column(3).as_primitive::<Int64Type>();
    assert_eq!((n.is_null(0), n.value(1), n.is_null(2)), (true, 7, true));
    let since = batch.column(4).as_primitive::<TimestampNanosecondType>();
    assert_eq!(
        (since.is_null(0), since.is_null(1), since.value(2)),
        (true, true, t(3).as_nanos())
    );
}

#[test]
fn fleet_series_as_record_batches_with_the_twin() {
    let (_dir, store) = store();
    let query = AggregateSeriesQuery::new(
        TwinSelector::Prefix(String::new()),
        t(0),
        t(120),
        Duration::from_secs(60),
    )
    .variable("avg", Variable::numeric("$event.T.Double", "avg($value)"));
    let frames = store.aggregate_series(&query).expect("series");
    assert_eq!(frames.len(), 2);
    let a = frames[0].to_record_batch().expect("batch");
    let names: Vec<&str> = a.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["timestamp", "$dtId", "avg"]);
    assert_eq!(a.column(1).as_string::<i32>().value(0), "a");
    // Twin a: minute 0 holds 1.5 and 2.5, minute 1 holds 4.0.
    let avg = a.column(2).as_primitive::<Float64Type>();
    assert_eq!(avg.values().to_vec(), vec![2.0, 4.0]);
    let b = frames[1].to_record_batch().expect("batch");
    let avg = b.column(2).as_primitive::<Float64Type>();
    assert_eq!((avg.value(0), avg.is_null(1)), (10.0, true));
}
