//! Machine crashes: the crash mix (`tests/common/mix.rs`: typed and NDJSON writes, flush,
//! compaction, `delete_range`, `delete_twin`, retention, and here also `Store::sync`) runs
//! in process over a `PowerCutVfs`, which cuts the power after a seeded random number of file
//! operations and then leaves only what was made durable by a sync: file bytes as of each
//! file's last `fdatasync`/`fsync`, directory entries (creates, renames, deletions) as of
//! their directory's last sync. The store is reopened on that state with the real file
//! system and compared with the model of the acknowledged operations.
//!
//! What each durability setting promises (README, "Durability") and what is checked:
//! - `SyncEachWrite`: nothing acknowledged is lost. The store is exactly the model after the
//!   acknowledged operations, with the operation in flight entirely or not at all.
//! - `GroupCommit`: only writes acknowledged within the interval before the cut may be lost.
//!   Checked deterministically, without a clock: every write acknowledged before the start
//!   of the last sync of the newest WAL segment the layer recorded before the cut (or before
//!   a `Store::sync` that returned), survives; the writes lost are the last ones (whole batches, a suffix); every
//!   other operation is as acknowledged. How long before the cut the lost writes were
//!   acknowledged (the layer's record of sync times against the cut) is printed, not
//!   asserted: the project keeps wall-clock assertions out of tests.
//! - `NoSync`: a machine crash may lose any write since the last `Store::sync`. Checked: the
//!   store opens, `verify` finds nothing, and it holds every write acknowledged before the last
//!   `Store::sync` that returned and then a prefix of the later ones, in whole batches (if
//!   batch k survives, every batch before it does), with every other operation as
//!   acknowledged.
//!
//! Each round continues the previous round's recovered store, or (one in four) starts a new
//! one. A run goes on past the
//! requested rounds until a cut has landed in every kind of operation (and asserts it).
//! `TWINSTORE_POWER_CUT_ROUNDS=N` sets the rounds per durability setting (default 12);
//! `TWINSTORE_POWER_CUT_SEED` replays a run (exactly for `SyncEachWrite` and `NoSync`; with
//! `GroupCommit` the background thread's syncs count among the operations, so where the cut
//! lands depends on its timing).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};

use common::mix::*;
use twinstore::vfs::PowerCutVfs;
use twinstore::{Durability, Options, Store};

const ENV_ROUNDS: &str = "TWINSTORE_POWER_CUT_ROUNDS";
const ENV_SEED: &str = "TWINSTORE_POWER_CUT_SEED";
/// The cut comes after 1 to this many file operations of a round.
const MAX_CUT_OPERATIONS: u64 = 400;
/// Rounds past the requested ones that a run makes to land a cut in every kind of operation.
const MAX_EXTRA_ROUNDS: u32 = 300;
const PHASES: [&str; 6] = ["write", "flush", "compact", "delete_range", "delete_twin", "retention"];

/// An operation that returned before the cut, with the layer's operation count then.
#[derive(Clone, Copy, Debug)]
struct Acked {
    op: MixOp,
    /// `PowerCutVfs::operations` right after it returned: a sync numbered at least this
    /// started after it.
    ack_point: u64,
    at: Instant,
}

/// What a round did before the power went.
struct Round {
    acked: Vec<Acked>,
    /// The operation the cut interrupted (`None`: between operations, or in a `Store::sync`).
    in_flight: Option<MixOp>,
    /// The acknowledged writes before the last `Store::sync` that returned.
    writes_synced_by_call: usize,
    phase: &'static str,
}

/// The run's seed: `TWINSTORE_POWER_CUT_SEED`, else the clock.
fn run_seed() -> u64 {
    common::seed_from_env(ENV_SEED)
}

/// Runs the mix on the store in `dir` over `vfs` until the power is cut.
fn run_until_cut(
    dir: &Path,
    vfs: &Arc<PowerCutVfs>,
    durability: Durability,
    rng: &mut Rng,
    next_batch: &mut u64,
    now: &mut i64,
    context: &str,
) -> Round {
    let clock = Arc::new(AtomicI64::new(*now));
    let options = mix_options(&clock, durability).vfs(vfs.clone());
    let store = Store::open(dir, options).unwrap_or_else(|e| panic!("{context}: open: {e}"));
    vfs.cut_after(1 + rng.next() % MAX_CUT_OPERATIONS);
    let mut round = Round {
        acked: Vec::new(),
        in_flight: None,
        writes_synced_by_call: 0,
        phase: "idle",
    };
    let mut writes = 0;
    for n in 0u64.. {
        if rng.next().is_multiple_of(20) {
            let synced = store.sync();
            if vfs.is_cut() {
                round.phase = "sync";
                break;
            }
            synced.unwrap_or_else(|e| panic!("{context}: Store::sync failed without a cut: {e}"));
            round.writes_synced_by_call = writes;
        }
        let op = MixOp::pick(rng, n == 0, *next_batch, now);
        if let MixOp::Write { .. } = op {
            // Batch numbers are never reused, whether the write in flight made it or not.
            *next_batch += 1;
        }
        let result = op.run(&store, &clock);
        if vfs.is_cut() {
            // Interrupted, whatever it returned.
            round.in_flight = Some(op);
            round.phase = op.kind();
            break;
        }
        result.unwrap_or_else(|e| panic!("{context}: {op:?} failed without a cut: {e}"));
        if let MixOp::Write { .. } = op {
            writes += 1;
        }
        round.acked.push(Acked {
            op,
            ack_point: vfs.operations(),
            at: Instant::now(),
        });
    }
    // The store's own shutdown meets a dead disk: it changes nothing.
    drop(store);
    round
}

/// The model after the acknowledged operations with only the first `writes` acknowledged
/// writes kept (the later ones lost), and the operation in flight applied or not.
fn model_with(start: &MixModel, round: &Round, writes: usize, in_flight: bool) -> MixModel {
    let mut model = start.clone();
    let mut seen_writes = 0;
    for acked in &round.acked {
        if let MixOp::Write { .. } = acked.op {
            seen_writes += 1;
            if seen_writes > writes {
                continue;
            }
        }
        model.apply(&acked.op);
    }
    if let (true, Some(op)) = (in_flight, round.in_flight) {
        model.apply(&op);
    }
    model
}

/// Run-wide figures.
#[derive(Debug, Default)]
struct Tally {
    cut_in: BTreeMap<&'static str, u32>,
    acked: u64,
    writes_lost: u64,
    rounds_with_writes_lost: u32,
    /// The longest time from the last recorded WAL sync to the cut in a round that lost
    /// writes.
    longest_unsynced: Duration,
    /// The longest time from the acknowledgement of the first lost write to the cut.
    longest_loss_window: Duration,
}

fn power_cut_rounds(name: &str, durability: Durability, rounds: u32) {
    let seed = run_seed();
    eprintln!("{name}: {ENV_SEED}={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut dir = tempfile::tempdir().expect("temp dir");
    let mut model = MixModel {
        warm: BTreeSet::new(),
        files: Vec::new(),
        now: mix_base_ns(),
    };
    let mut next_batch = 0u64;
    let mut tally = Tally::default();
    let mut round_no = 0u32;
    loop {
        let all_hit = PHASES.iter().all(|p| tally.cut_in.contains_key(p));
        if round_no >= rounds && (all_hit || round_no >= rounds + MAX_EXTRA_ROUNDS) {
            break;
        }
        let context = format!("{name} round {round_no} ({ENV_SEED}={seed})");
        round_no += 1;
        // One round in four starts a new store: a cut before its first flush finds only
        // what opening it and the writes made durable.
        if rng.next().is_multiple_of(4) {
            dir = tempfile::tempdir().expect("temp dir");
            model = MixModel {
                warm: BTreeSet::new(),
                files: Vec::new(),
                now: model.now,
            };
        }
        let vfs = Arc::new(PowerCutVfs::new(dir.path()).expect("power-cut layer"));
        let mut now = model.now;
        let round = run_until_cut(
            dir.path(),
            &vfs,
            durability,
            &mut rng,
            &mut next_batch,
            &mut now,
            &context,
        );
        *tally.cut_in.entry(round.phase).or_default() += 1;
        tally.acked += round.acked.len() as u64;
        let context = format!("{context}, cut during {}", round.phase);

        // The disk as the machine finds it after the cut.
        let after = tempfile::tempdir().expect("temp dir");
        vfs.write_durable_state(after.path())
            .unwrap_or_else(|e| panic!("{context}: writing the durable state: {e}"));
        let store = Store::open(after.path(), Options::default().background_maintenance(false))
            .unwrap_or_else(|e| panic!("{context}: reopen after the power cut: {e}"));
        let report = store.verify().unwrap_or_else(|e| panic!("{context}: verify: {e}"));
        assert!(report.is_ok() && report.notes.is_empty(), "{context}: {report:?}");
        let stored = mix_stored(&store, &context);
        let doubled: Vec<_> = stored.iter().filter(|&(_, &c)| c != 1).take(12).collect();
        assert!(doubled.is_empty(), "{context}: stored more than once: {doubled:?}");
        let seen: BTreeSet<u64> = stored.into_keys().collect();

        // The writes that must survive.
        let writes: Vec<&Acked> = round
            .acked
            .iter()
            .filter(|a| matches!(a.op, MixOp::Write { .. }))
            .collect();
        let syncs = vfs.syncs();
        // The last sync of the newest WAL segment: a sync covers only its own file, and the
        // GroupCommit thread may sync a segment after a flush closed it (already synced) and
        // writes went on in the next one. Every older segment was synced when it was closed.
        let is_wal = |s: &&twinstore::vfs::SyncRecord| s.path.extension().is_some_and(|e| e == "wal");
        let newest_wal = syncs.iter().filter(is_wal).map(|s| s.path.file_name()).max();
        let last_wal_sync = syncs
            .iter()
            .rev()
            .find(|s| is_wal(s) && Some(s.path.file_name()) == newest_wal);
        let must_keep = match durability {
            Durability::SyncEachWrite => writes.len(),
            Durability::GroupCommit { .. } => {
                let before_wal_sync =
                    last_wal_sync.map_or(0, |s| writes.iter().filter(|w| w.ack_point <= s.operation).count());
                before_wal_sync.max(round.writes_synced_by_call)
            }
            Durability::NoSync => round.writes_synced_by_call,
        };
        // Candidates, most writes first; the operation in flight applied first.
        let mut found = None;
        'search: for kept in (must_keep..=writes.len()).rev() {
            for in_flight in [true, false] {
                let candidate = model_with(&model, &round, kept, in_flight);
                if candidate.live() == seen {
                    found = Some((kept, candidate));
                    break 'search;
                }
            }
        }
        let Some((kept, recovered)) = found else {
            let all = model_with(&model, &round, writes.len(), false).live();
            panic!(
                "{context}: the store matches no allowed state: {} acknowledged writes ({must_keep} must \
                 survive), in flight {:?}; against all acknowledged: {} lost {:?}, {} extra {:?}",
                writes.len(),
                round.in_flight,
                all.difference(&seen).count(),
                some(all.difference(&seen).copied()),
                seen.difference(&all).count(),
                some(seen.difference(&all).copied()),
            );
        };
        let lost = writes.len() - kept;
        if lost > 0 {
            tally.writes_lost += lost as u64;
            tally.rounds_with_writes_lost += 1;
            if let (Some((_, cut_at)), Some(sync)) = (vfs.cut_point(), last_wal_sync) {
                tally.longest_unsynced = tally.longest_unsynced.max(cut_at.saturating_duration_since(sync.at));
            }
            let first_lost = writes[kept];
            if let Some((_, cut_at)) = vfs.cut_point() {
                tally.longest_loss_window = tally
                    .longest_loss_window
                    .max(cut_at.saturating_duration_since(first_lost.at));
            }
            assert!(
                last_wal_sync.is_none_or(|s| first_lost.ack_point > s.operation) || durability == Durability::NoSync,
                "{context}: a write acknowledged before the last WAL sync was lost"
            );
        }
        model = recovered;
        mix_check_queries(&store, &model.live(), &mut rng, &format!("{context}, after reopen"));
        mix_check_takes_work(&store, after.path(), &mut model, next_batch, &mut rng, &context);
        next_batch += 1;
        drop(store);
        if rounds <= 20 || round_no.is_multiple_of(100) {
            eprintln!(
                "{context}: {} operations acknowledged, {lost} writes lost; {} records live, {:?} so far",
                round.acked.len(),
                model.live().len(),
                started.elapsed()
            );
        }
        dir = after;
    }
    eprintln!(
        "{name}: {round_no} power cuts in {:?} ({ENV_SEED}={seed})\n  cut during: {:?}\n  operations \
         acknowledged: {}\n  acknowledged writes lost: {} in {} rounds; longest time from the last WAL sync to \
         a cut that lost writes: {:?}; longest from the acknowledgement of a lost write to the cut: {:?}",
        started.elapsed(),
        tally.cut_in,
        tally.acked,
        tally.writes_lost,
        tally.rounds_with_writes_lost,
        tally.longest_unsynced,
        tally.longest_loss_window,
    );
    assert_every_phase_hit(&tally.cut_in, &PHASES, &format!("{name} ({ENV_SEED}={seed})"));
}

fn rounds() -> u32 {
    std::env::var(ENV_ROUNDS)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12)
}

#[test]
fn power_cut_with_sync_each_write_loses_nothing_acknowledged() {
    power_cut_rounds("sync", Durability::SyncEachWrite, rounds());
}

#[test]
fn power_cut_with_group_commit_loses_only_writes_after_the_last_sync() {
    power_cut_rounds("group", mix_durability("group"), rounds());
}

#[test]
fn power_cut_with_no_sync_keeps_a_clean_prefix_of_whole_batches() {
    power_cut_rounds("nosync", Durability::NoSync, rounds());
}

/// The disk after a cut of `vfs`, opened with the real file system.
fn reboot(vfs: &PowerCutVfs) -> (tempfile::TempDir, Store) {
    vfs.cut();
    let after = tempfile::tempdir().expect("temp dir");
    vfs.write_durable_state(after.path()).expect("write the durable state");
    let store = Store::open(after.path(), Options::default().background_maintenance(false)).expect("reopen");
    (after, store)
}

/// Regression: `Store::open` made `wal/` and `cold/` without syncing the store's directory,
/// so until the first flush wrote a manifest (and synced it), a machine crash took the WAL
/// directory, and every acknowledged write in it, away.
#[test]
fn write_to_a_new_store_survives_a_power_cut_before_any_flush() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vfs = Arc::new(PowerCutVfs::new(dir.path()).expect("power-cut layer"));
    let options = Options::default()
        .durability(Durability::SyncEachWrite)
        .background_maintenance(false)
        .vfs(vfs.clone());
    let store = Store::open(dir.path(), options).expect("open");
    store
        .write(&batch_numbers(0).map(mix_record).collect::<Vec<_>>())
        .expect("write");
    let (_after, recovered) = reboot(&vfs);
    drop(store);
    let stored: Vec<u64> = mix_stored(&recovered, "after the cut").into_keys().collect();
    assert_eq!(stored, batch_numbers(0).collect::<Vec<_>>());
}

/// GroupCommit's background thread does sync: a write acknowledged without any sync of its
/// own is covered by a WAL sync the layer records later, and then survives a cut. The wait is
/// a liveness bound (30 s against an interval of 5 ms), not a measurement.
#[test]
fn group_commit_write_survives_once_the_background_sync_ran() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vfs = Arc::new(PowerCutVfs::new(dir.path()).expect("power-cut layer"));
    let options = Options::default()
        .durability(mix_durability("group"))
        .background_maintenance(false)
        .vfs(vfs.clone());
    let store = Store::open(dir.path(), options).expect("open");
    store
        .write(&batch_numbers(0).map(mix_record).collect::<Vec<_>>())
        .expect("write");
    let acked = vfs.operations();
    let deadline = Instant::now() + Duration::from_secs(30);
    let covered = || {
        vfs.syncs()
            .iter()
            .any(|s| s.operation >= acked && s.path.extension().is_some_and(|e| e == "wal"))
    };
    while !covered() {
        assert!(
            Instant::now() < deadline,
            "no WAL sync within 30 s of a GroupCommit write"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let (_after, recovered) = reboot(&vfs);
    drop(store);
    let stored: Vec<u64> = mix_stored(&recovered, "after the cut").into_keys().collect();
    assert_eq!(stored, batch_numbers(0).collect::<Vec<_>>());
}
