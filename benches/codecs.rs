//! Block decode speed of the cold tier's codecs, in decoded bytes per second (8 bytes per
//! timestamp or double), on workload-like blocks of 2,048 values: jittered millisecond
//! sample times, and 2-decimal sensor values drifting slowly.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use twinstore::codecs;

const N: usize = 2048;

fn timestamps() -> Vec<i64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut t = 1_767_225_600_000i64;
    (0..N)
        .map(|_| {
            t += rng.random_range(21_000..39_000);
            t * 1_000_000
        })
        .collect()
}

/// As the workload's: a record only when a value changed, so some intervals span two or
/// three sample periods.
fn timestamps_with_skips() -> Vec<i64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let mut t = 1_767_225_600_000i64;
    (0..N)
        .map(|_| {
            let periods = [1, 1, 1, 1, 2, 2, 3][rng.random_range(0..7usize)];
            for _ in 0..periods {
                t += rng.random_range(21_000..39_000);
            }
            t * 1_000_000
        })
        .collect()
}

fn temperatures() -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut v = 2050i64;
    (0..N)
        .map(|_| {
            v += rng.random_range(-3..=3);
            v as f64 / 100.0
        })
        .collect()
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes((N * 8) as u64));
    let ts = codecs::encode_timestamps(&timestamps());
    group.bench_function("timestamps", |b| {
        let mut out = Vec::with_capacity(N);
        b.iter(|| {
            out.clear();
            codecs::decode_timestamps(black_box(&ts), N, &mut out).expect("decode");
            black_box(out.len())
        })
    });
    let skips = codecs::encode_timestamps(&timestamps_with_skips());
    group.bench_function("timestamps_with_skips", |b| {
        let mut out = Vec::with_capacity(N);
        b.iter(|| {
            out.clear();
            codecs::decode_timestamps(black_box(&skips), N, &mut out).expect("decode");
            black_box(out.len())
        })
    });
    let doubles = codecs::encode_doubles(&temperatures());
    group.bench_function("decimal_doubles", |b| {
        let mut out = Vec::with_capacity(N);
        b.iter(|| {
            out.clear();
            codecs::decode_doubles(black_box(&doubles), N, &mut out).expect("decode");
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
