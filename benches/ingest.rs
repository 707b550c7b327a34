//! Ingest throughput: NDJSON (flat records), ADT events and typed records into a store with
//! the WAL on (group commit).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use twinstore::{Durability, Options, Record, Store, Timestamp};

const TWINS: usize = 500;
const RECORDS: usize = 50_000;

/// NDJSON in the workload's shape: thermostats with a few changed properties per record.
fn flat_input() -> Vec<u8> {
    let mut out = String::new();
    for i in 0..RECORDS {
        let ms = i as i64 * 37;
        let ts = Timestamp::from_millis(1_767_225_600_000 + ms).unwrap_or_default();
        out.push_str(&format!(
            "{{\"$dtId\":\"thermostat-{:05}\",\"$ts\":\"{ts}\",\"Temperature\":{:.2},\"Humidity\":{:.1}}}\n",
            i % TWINS,
            19.0 + (i % 300) as f64 / 100.0,
            40.0 + (i % 70) as f64 / 10.0
        ));
    }
    out.into_bytes()
}

fn typed_input() -> Vec<Record> {
    (0..RECORDS)
        .map(|i| {
            let ts = Timestamp::from_millis(1_767_225_600_000 + i as i64 * 37).unwrap_or_default();
            Record::new(format!("thermostat-{:05}", i % TWINS), ts)
                .with("Temperature", 19.0 + (i % 300) as f64 / 100.0)
                .with("Humidity", 40.0 + (i % 70) as f64 / 10.0)
        })
        .collect()
}

fn options() -> Options {
    Options::default().durability(Durability::GroupCommit {
        interval: Duration::from_millis(10),
    })
}

fn ingest(c: &mut Criterion) {
    let flat = flat_input();
    let typed = typed_input();
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("ndjson_flat_records", |b| {
        b.iter_with_setup(
            || tempfile::tempdir().expect("temp dir"),
            |dir| {
                let store = Store::open(dir.path(), options().ingest_threads(1)).expect("open");
                black_box(store.ingest_ndjson(&flat).expect("ingest"));
            },
        )
    });
    group.bench_function("typed_records", |b| {
        b.iter_with_setup(
            || tempfile::tempdir().expect("temp dir"),
            |dir| {
                let store = Store::open(dir.path(), options()).expect("open");
                black_box(store.write(&typed).expect("write"));
            },
        )
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
