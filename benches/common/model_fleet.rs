//! The Time Series Model fleet of the model benchmarks (benches/model.rs and the bench
//! report): 100,000 instances in a 6-level hierarchy (campus / building / floor / wing / room
//! / rack, 10 x 10 x 10 x 10 x 5 x 2 leaves holding one instance each, with a name and six
//! instance fields), put in one call.

use std::collections::BTreeMap;

use twinstore::tsm::{DEFAULT_TYPE_ID, Hierarchy, Instance};
use twinstore::{Durability, Options, Store, Value};

const LEVELS: [&str; 6] = ["Campus", "Building", "Floor", "Wing", "Room", "Rack"];
const FAN_OUT: [usize; 6] = [10, 10, 10, 10, 5, 2];

/// The path of a node five levels down: what the expansion benchmark opens.
pub fn deep_path() -> Vec<String> {
    ["Site", "Campus 3", "Building 4", "Floor 5", "Wing 6"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// A store in `dir` holding the fleet's model; returns it with the model file's size and
/// the number of instances.
pub fn fleet_store(dir: &std::path::Path) -> (Store, u64, usize) {
    let store = Store::open(
        dir,
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
    let bytes = std::fs::metadata(dir.join("MODEL")).map(|m| m.len()).unwrap_or(0);
    (store, bytes, total)
}
