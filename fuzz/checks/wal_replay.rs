//! Arbitrary bytes as a WAL segment (after a valid header): opening the store never panics;
//! it either recovers (cutting a torn tail) or reports corruption.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/wal_replay.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

use twinstore::{Durability, Options, Store};

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
    let Ok(dir) = tempfile::tempdir() else { return };
    let wal = dir.path().join("wal");
    if std::fs::create_dir_all(&wal).is_err() {
        return;
    }
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
    if std::fs::write(wal.join("00000000000000000001.wal"), &bytes).is_err() {
        return;
    }
    if let Ok(store) = Store::open(
        dir.path(),
        Options::default()
            .durability(Durability::NoSync)
            .background_maintenance(false),
    ) {
        for twin in store.twins().unwrap_or_default() {
            let _ = store.latest(&twin.id);
            let _ = store.events(&twinstore::EventsQuery::new(twin.id.as_str()));
        }
    }
}
