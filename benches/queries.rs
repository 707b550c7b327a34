//! Query latency on the warm tier: raw range, latest, state at an instant.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use twinstore::{Durability, EventsQuery, Options, Record, Store, Timestamp};

const TWINS: usize = 200;
/// One day at one record per 30 s per twin.
const PER_TWIN: i64 = 2880;
const DAY_START_MS: i64 = 1_767_225_600_000;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default().durability(Durability::NoSync)).expect("open");
    for step in 0..PER_TWIN {
        let ts = Timestamp::from_millis(DAY_START_MS + step * 30_000).unwrap_or_default();
        let batch: Vec<Record> = (0..TWINS)
            .map(|t| {
                Record::new(format!("thermostat-{t:05}"), ts)
                    .with("Temperature", 20.0 + (step % 100) as f64 / 100.0)
                    .with("Mode", if step % 500 < 250 { "heat" } else { "auto" })
            })
            .collect();
        store.write(&batch).expect("write");
    }
    (dir, store)
}

fn queries(c: &mut Criterion) {
    let (_dir, store) = store();
    let hour = |h: i64| Timestamp::from_millis(DAY_START_MS + h * 3_600_000).unwrap_or_default();
    let mut group = c.benchmark_group("warm_queries");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("one_hour_one_property", |b| {
        let q = EventsQuery::new("thermostat-00042")
            .from(hour(10))
            .to(hour(11))
            .properties(["Temperature"]);
        b.iter(|| black_box(store.events(&q).expect("events").len()))
    });
    group.bench_function("latest", |b| {
        b.iter(|| black_box(store.latest("thermostat-00042").expect("latest")))
    });
    group.bench_function("state_at", |b| {
        b.iter(|| black_box(store.state_at("thermostat-00042", hour(13)).expect("state")))
    });
    group.bench_function("full_day_scan_one_twin", |b| {
        let q = EventsQuery::new("thermostat-00042");
        b.iter(|| black_box(store.events(&q).expect("events").len()))
    });
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
