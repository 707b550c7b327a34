//! Arbitrary bytes as a WAL segment (after a valid header): opening the store never panics;
//! it either recovers (cutting a torn tail) or reports corruption (or an unsupported version)
//! naming the segment file. A recovered store answers every twin's latest state and events,
//! and opens again to the same contents.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/wal_replay.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

use twinstore::{Durability, Error, EventsQuery, Options, Store};

/// Header of segment 1, version 1 (docs/FORMAT.md).
fn header() -> Vec<u8> {
    let mut h = b"TWINWAL\0".to_vec();
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&1u64.to_le_bytes());
    let crc = crc32c::crc32c(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// Frame `seq` holding `payload`: length, checksum of (seq, payload), seq, payload.
fn frame(seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_le_bytes().to_vec();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), payload);
    f.extend_from_slice(&crc.to_le_bytes());
    f.extend_from_slice(&seq.to_le_bytes());
    f.extend_from_slice(payload);
    f
}

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary directory for the store");
    let wal = dir.path().join("wal");
    std::fs::create_dir_all(&wal).expect("create the wal directory");
    // Half the inputs get a valid header, so the fuzzer reaches the frames; of those, half
    // are one frame with a valid checksum, so it reaches the payload decoder and the replay.
    let first = data.first().copied().unwrap_or(1);
    let rest = data.get(1..).unwrap_or_default();
    let mut bytes = if first & 1 == 0 { header() } else { Vec::new() };
    if first & 3 == 2 {
        bytes.extend_from_slice(&frame(1, rest));
    } else {
        bytes.extend_from_slice(rest);
    }
    let segment = wal.join("00000000000000000001.wal");
    std::fs::write(&segment, &bytes).expect("write the WAL segment");
    let options = Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false);
    let store = match Store::open(dir.path(), options.clone()) {
        Ok(store) => store,
        Err(Error::Corruption { path, .. } | Error::UnsupportedVersion { path, .. }) => {
            assert_eq!(path, segment, "the refused open names another file");
            return;
        }
        Err(e) => panic!("the open failed other than as corruption of the log: {e}"),
    };
    for twin in store.twins().expect("twins") {
        store
            .latest(&twin.id)
            .unwrap_or_else(|e| panic!("latest of {:?}: {e}", twin.id));
        store
            .events(&EventsQuery::new(twin.id.as_str()))
            .unwrap_or_else(|e| panic!("events of {:?}: {e}", twin.id));
    }
    let before = store.stats();
    drop(store);
    let reopened = Store::open(dir.path(), options).expect("a recovered store opens again");
    let after = reopened.stats();
    assert_eq!(
        (before.records, before.points),
        (after.records, after.points),
        "reopened"
    );
}
