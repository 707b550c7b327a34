//! The Time Series Model at fleet size: 100,000 instances in a 6-level hierarchy (campus /
//! building / floor / wing / room / rack, 10 x 10 x 10 x 10 x 5 x 2 leaves holding one
//! instance each). Measures a text search over every instance, a node expansion deep in
//! the tree, an expansion at the root, suggest, a search right after a change (which
//! rebuilds the index), and reports the model file's bytes per instance.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use twinstore::tsm::{DEFAULT_TYPE_ID, Expand, Hierarchy, Instance, InstanceSearch};
use twinstore::{Durability, Options, Store, Value};

const LEVELS: [&str; 6] = ["Campus", "Building", "Floor", "Wing", "Room", "Rack"];
const FAN_OUT: [usize; 6] = [10, 10, 10, 10, 5, 2];

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(
        dir.path(),
        Options::default()
            .durability(Durability::NoSync)
            .background_maintenance(false),
    )
    .expect("open");
    store
        .put_hierarchies(vec![Hierarchy {
            id: "h-site".into(),
            name: "Site".into(),
            instance_field_names: LEVELS.iter().map(|s| s.to_string()).collect(),
        }])
        .expect("hierarchy");
    let total: usize = FAN_OUT.iter().product();
    let mut instances = Vec::with_capacity(total);
    for n in 0..total {
        let mut rest = n;
        let mut fields = BTreeMap::new();
        for (level, fan) in LEVELS.iter().zip(FAN_OUT).rev() {
            fields.insert(
                level.to_string(),
                Value::String(format!("{level} {}", rest % fan).into()),
            );
            rest /= fan;
        }
        let mut i = Instance::new(format!("sensor-{n:06}"), DEFAULT_TYPE_ID);
        i.name = Some(format!("Sensor {n}"));
        i.hierarchy_ids = vec!["h-site".into()];
        i.instance_fields = fields;
        instances.push(i);
    }
    let answers = store.put_instances(instances).expect("instances");
    assert!(answers.iter().all(Result::is_ok));
    let bytes = std::fs::metadata(dir.path().join("MODEL"))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "model file: {bytes} bytes for {total} instances, {:.0} bytes per instance",
        bytes as f64 / total as f64
    );
    (dir, store)
}

fn model(c: &mut Criterion) {
    let (_dir, store) = store();
    let mut group = c.benchmark_group("model_100k_instances");
    group.measurement_time(Duration::from_secs(3));
    let deep: Vec<String> = ["Site", "Campus 3", "Building 4", "Floor 5", "Wing 6"]
        .iter()
        .map(|s| s.to_string())
        .collect();
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
