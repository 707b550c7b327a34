//! The Time Series Model at fleet size: 100,000 instances in a 6-level hierarchy (campus /
//! building / floor / wing / room / rack, 10 x 10 x 10 x 10 x 5 x 2 leaves holding one
//! instance each). Measures a text search over every instance, a node expansion deep in
//! the tree, an expansion at the root, suggest, a search right after a change (which
//! rebuilds the index), and reports the model file's bytes per instance.

#[path = "common/model_fleet.rs"]
mod model_fleet;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use twinstore::tsm::{DEFAULT_TYPE_ID, Expand, Instance, InstanceSearch};

fn model(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, bytes, total) = model_fleet::fleet_store(dir.path());
    eprintln!(
        "model file: {bytes} bytes for {total} instances, {:.0} bytes per instance",
        bytes as f64 / total as f64
    );
    let mut group = c.benchmark_group("model_100k_instances");
    group.measurement_time(Duration::from_secs(3));
    let deep = model_fleet::deep_path();
    // The first search builds the index; the rest read it.
    black_box(store.search_instances(&InstanceSearch::default()).expect("search"));
    group.bench_function("search_text_everywhere", |b| {
        let q = InstanceSearch {
            text: "sensor 4242".into(),
            recursive: true,
            ..InstanceSearch::default()
        };
        b.iter(|| black_box(store.search_instances(&q).expect("search")));
    });
    group.bench_function("search_text_both_required", |b| {
        let q = InstanceSearch {
            text: "sensor AND 4242".into(),
            recursive: true,
            ..InstanceSearch::default()
        };
        b.iter(|| black_box(store.search_instances(&q).expect("search")));
    });
    group.bench_function("expand_node_level_5", |b| {
        let q = InstanceSearch {
            path: deep.clone(),
            ..InstanceSearch::default()
        };
        b.iter(|| black_box(store.search_instances(&q).expect("search")));
    });
    group.bench_function("expand_root", |b| {
        let q = InstanceSearch {
            path: vec!["Site".into()],
            expand: Expand::OneLevel,
            ..InstanceSearch::default()
        };
        b.iter(|| black_box(store.search_instances(&q).expect("search")));
    });
    group.bench_function("suggest", |b| {
        b.iter(|| black_box(store.suggest_instances("sensor 99", 10)));
    });
    group.finish();
    // After a change the next search rebuilds the view and the index: the cost a change
    // puts on the first search after it.
    let mut rebuild = c.benchmark_group("model_100k_instances_after_a_change");
    rebuild.sample_size(10);
    rebuild.bench_function("put_one_instance_then_search", |b| {
        let q = InstanceSearch {
            path: deep.clone(),
            ..InstanceSearch::default()
        };
        b.iter(|| {
            let mut i = Instance::new("sensor-000001", DEFAULT_TYPE_ID);
            i.name = Some("renamed".into());
            store.put_instances(vec![i]).expect("put");
            black_box(store.search_instances(&q).expect("search"))
        });
    });
    rebuild.finish();
}

criterion_group!(benches, model);
criterion_main!(benches);
