//! Crash and damage tests for the cold tier (segment files and the manifest).
//!
//! `kill -9` during flush and compaction: the test re-runs its own binary as a child
//! (`child_writer`, ignored and a no-op unless `TWINSTORE_COLD_CRASH_DIR` is set) that
//! writes numbered batches of records over several twins, prints `ack:BATCH:end` after each
//! acknowledged batch, and calls `Store::flush` every few batches and `Store::compact` every
//! few flushes, with or without the background maintenance thread (which, given a tiny warm
//! budget and window, flushes and compacts on its own, racing with the kill). The parent
//! SIGKILLs it after a random delay, many times on the same store, and after each kill
//! reopens the store and checks that every acknowledged batch is there exactly once, the
//! batch in flight entirely or not at all, nothing else; that the counts agree; that flush
//! and compaction of the recovered store keep everything and leave no stray files.
//! `TWINSTORE_COLD_CRASH_SEED` replays a run's kill delays.
//!
//! The mix (`child_mixer`, `kill_during_a_random_mix_with_deletes_and_retention_matches_the_model`):
//! a seeded random mix of typed and NDJSON writes, flush, compaction, `delete_range`,
//! `delete_twin` and retention, killed at random moments; the parent replays the acknowledged
//! operations on a model of the store and checks that queries see exactly its state with or
//! without the operation in flight (see the section below for what exactly is modelled and
//! checked). `TWINSTORE_CRASH_ROUNDS=N` sets the number of kills of every kill test here (10
//! by default, 8 for the mix); with `--nocapture` the mix prints its kills by operation in
//! flight and the operations acknowledged.
//!
//! Damage: a byte flipped in one segment file's data makes queries of the twin stored there
//! fail with `Error::Corruption` while other twins still answer; a truncated or missing
//! segment file is confined to itself: the store opens, reads that need the file fail naming
//! it, and `verify` reports it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::mix::*;
use twinstore::{Clock, Durability, Error, EventsQuery, Options, Record, Store, Timestamp, Value};

const ENV_DIR: &str = "TWINSTORE_COLD_CRASH_DIR";
const ENV_START: &str = "TWINSTORE_COLD_CRASH_START";
const ENV_MODE: &str = "TWINSTORE_COLD_CRASH_MODE";
const ENV_SEED: &str = "TWINSTORE_COLD_CRASH_SEED";

/// The child flushes after every this many batches...
const FLUSH_EVERY: u64 = 4;
/// ...and compacts after every this many flushes.
const COMPACT_EVERY: u64 = 3;

fn ts_of(n: u64) -> Timestamp {
    Timestamp::from_millis(BASE_MS + n as i64 * 10).expect("time")
}

fn record(n: u64) -> Record {
    Record::new(twin_of(n), ts_of(n))
        .with("n", n as i64)
        .with("v", v_of(n))
        .with("tag", tag_of(n))
}

/// Maintenance settings of the two variants.
fn child_options(mode: &str) -> Options {
    match mode {
        // Only the child's own flush and compact calls move data.
        "manual" => Options::default().background_maintenance(false),
        // A tiny warm budget and window: the background thread flushes (and compacts, once
        // four files accumulate) all the time, concurrently with the writes and with the
        // child's own flush and compact calls.
        "background" => Options::default()
            .durability(Durability::GroupCommit {
                interval: Duration::from_millis(5),
            })
            .background_maintenance(true)
            .warm_budget_bytes(64 << 10)
            .warm_window(Duration::from_millis(30)),
        other => panic!("unknown mode {other}"),
    }
}

/// The child: writes batches from `TWINSTORE_COLD_CRASH_START` on, flushing and compacting
/// as it goes, until killed.
#[test]
#[ignore = "the cold crash tests' child process, spawned by its parent; fails when run on its own"]
fn child_writer() {
    let run_by_parent = "child_writer is the cold crash tests' child: run by those tests only";
    let dir = std::env::var(ENV_DIR).expect(run_by_parent);
    let start = std::env::var(ENV_START).expect(run_by_parent);
    let mode = std::env::var(ENV_MODE).expect(run_by_parent);
    let store = common::open_retrying(&dir, child_options(&mode)).expect("child: open");
    let start: u64 = start.parse().expect("start batch");
    let mut stdout = std::io::stdout().lock();
    // End the test harness's "test child_writer ... " line.
    stdout.write_all(b"\n").expect("stdout");
    let mut say = |line: String| {
        // One write of the whole line, flushed at once.
        stdout.write_all(line.as_bytes()).expect("stdout");
        stdout.flush().expect("flush stdout");
    };
    let started = Instant::now();
    let mut flushes = 0u64;
    // A safety net: a child whose parent vanished stops on its own.
    for b in start.. {
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        let records: Vec<Record> = batch_numbers(b).map(record).collect();
        let report = store.write(&records).expect("child: write");
        assert_eq!(report.records, BATCH_LEN, "{:?}", report.rejected);
        // Acknowledged: the call returned Ok.
        say(format!("ack:{b}:end\n"));
        if (b + 1).is_multiple_of(FLUSH_EVERY) {
            say("flush-start\n".into());
            store.flush().expect("child: flush");
            say("flush-end\n".into());
            flushes += 1;
            if flushes.is_multiple_of(COMPACT_EVERY) {
                say("compact-start\n".into());
                store.compact().expect("child: compact");
                say("compact-end\n".into());
            }
        }
        if let Some(e) = store.maintenance_error() {
            panic!("child: background maintenance failed: {e}");
        }
    }
}

/// What the parent read from the child's stdout.
#[derive(Debug, Default)]
struct ChildLog {
    /// Acknowledged batches, in order.
    acks: Vec<u64>,
    flushes: u64,
    compactions: u64,
    /// The last line was a `*-start` without its `*-end`: the kill hit that call.
    killed_in: Option<&'static str>,
}

/// Runs the ignored test `child_test` as a child with `env`, hands its stdout to `read` (on
/// a thread; `read` sends on `first_ack` once the child acknowledged something), SIGKILLs the
/// child `delay` after that first acknowledgement and returns what `read` made of the output.
fn run_and_kill<T: Send + 'static>(
    child_test: &str,
    env: &[(&str, String)],
    delay: Duration,
    read: impl FnOnce(std::process::ChildStdout, mpsc::Sender<()>) -> T + Send + 'static,
) -> T {
    let mut child = common::spawn_child(child_test, env);
    let stdout = child.stdout.take().expect("child stdout");
    let mut stderr = child.stderr.take().expect("child stderr");
    let (first_ack, first_ack_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || read(stdout, first_ack));
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let acked = first_ack_rx.recv_timeout(Duration::from_secs(20));
    if acked.is_ok() {
        std::thread::sleep(delay);
    }
    // SIGKILL on Unix. The child exits on its own only if something failed.
    let killed = child.kill();
    let status = child.wait().expect("reap the child");
    let log = reader.join().expect("stdout reader");
    let errors = errors.join().expect("stderr reader");
    assert!(
        acked.is_ok() && killed.is_ok(),
        "the child acknowledged nothing or exited early ({status}); its stderr:\n{errors}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL; stderr:\n{errors}");
    }
    log
}

/// Runs one child from batch `start`, waits for its first acknowledgement, kills it
/// `delay` later and returns what it reported.
fn crash_child(dir: &Path, mode: &str, start: u64, delay: Duration) -> ChildLog {
    let env = [
        (ENV_DIR, dir.display().to_string()),
        (ENV_START, start.to_string()),
        (ENV_MODE, mode.to_string()),
    ];
    run_and_kill("child_writer", &env, delay, |stdout, first_ack| {
        let mut log = ChildLog::default();
        let mut first_ack = Some(first_ack);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let line = line.trim();
            // Partial lines (cut by the kill) match nothing.
            if let Some(b) = line.strip_prefix("ack:").and_then(|r| r.strip_suffix(":end")) {
                log.acks.push(b.parse().expect("batch number"));
                if let Some(tx) = first_ack.take() {
                    let _ = tx.send(());
                }
                log.killed_in = None;
            } else {
                match line {
                    "flush-start" => log.killed_in = Some("flush"),
                    "compact-start" => log.killed_in = Some("compact"),
                    "flush-end" => {
                        log.flushes += 1;
                        log.killed_in = None;
                    }
                    "compact-end" => {
                        log.compactions += 1;
                        log.killed_in = None;
                    }
                    _ => {}
                }
            }
        }
        log
    })
}

/// How many times each number is stored, checking every record's twin, time and values
/// against its number.
fn stored_numbers(store: &Store) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for twin in store.twins().expect("twins") {
        for event in store.events(&EventsQuery::new(twin.id.as_str())).expect("events") {
            let get = |name: &str| event.values.iter().find(|(p, _)| &**p == name).map(|(_, v)| v);
            let n = match get("n") {
                Some(Value::Long(n)) if *n >= 0 => *n as u64,
                other => panic!("{}: an event without its number: {other:?}", twin.id),
            };
            assert_eq!(twin.id, twin_of(n), "n {n} stored under the wrong twin");
            assert_eq!(event.ts, ts_of(n), "time of n {n}");
            assert_eq!(get("v"), Some(&Value::Double(v_of(n))), "v of n {n}");
            assert_eq!(get("tag"), Some(&Value::String(tag_of(n).into())), "tag of n {n}");
            assert_eq!(event.values.len(), 3, "n {n}: {:?}", event.values);
            *seen.entry(n).or_insert(0) += 1;
        }
    }
    seen
}

/// Checks the store holds exactly the batches in `want` (sorted, distinct), each record
/// once, and that its counts agree.
fn check_contents(store: &Store, want: &[u64], context: &str) {
    let seen = stored_numbers(store);
    let duplicated: Vec<_> = seen.iter().filter(|&(_, &count)| count != 1).take(20).collect();
    assert!(
        duplicated.is_empty(),
        "{context}: stored more than once: {duplicated:?}"
    );
    let want_numbers: Vec<u64> = want.iter().flat_map(|&b| batch_numbers(b)).collect();
    let lost: Vec<u64> = want_numbers
        .iter()
        .copied()
        .filter(|n| !seen.contains_key(n))
        .take(20)
        .collect();
    assert!(
        lost.is_empty(),
        "{context}: acknowledged numbers lost (first 20): {lost:?}"
    );
    assert_eq!(
        seen.len(),
        want_numbers.len(),
        "{context}: numbers stored that were never written or acknowledged"
    );
    let stats = store.stats();
    assert_eq!(
        stats.records,
        seen.len() as u64,
        "{context}: stats().records vs records found"
    );
    assert_eq!(stats.points, 3 * seen.len() as u64, "{context}: stats().points");
}

/// The run's seed: `TWINSTORE_COLD_CRASH_SEED`, else the clock.
fn run_seed() -> u64 {
    common::seed_from_env(ENV_SEED)
}

fn kill_rounds(mode: &str, rounds: u32) {
    let seed = run_seed();
    eprintln!("{mode}: {ENV_SEED}={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    // Every batch known to be in the store (acknowledged, or in flight and found there).
    let mut stored: Vec<u64> = Vec::new();
    let mut next = 0u64;
    let mut kills_in = BTreeMap::<&str, u32>::new();
    // At least `rounds` kills, more (up to `MAX_EXTRA_ROUNDS`) until one landed in each phase.
    let phases = ["write", "flush", "compact"];
    let all_hit = |kills: &BTreeMap<&str, u32>| phases.iter().all(|p| kills.contains_key(p));
    for round in 0.. {
        if round >= rounds && (all_hit(&kills_in) || round >= rounds + MAX_EXTRA_ROUNDS) {
            break;
        }
        // 20-400 ms after the first acknowledgement, spread over the range round by round
        // (ten positions, repeated on a long run), jittered; every tenth round (and every
        // round past the requested ones while no kill has landed in a write) 0-10 ms: on a
        // fast machine the child's writes are all acknowledged within 20 ms, and only an
        // early kill lands in one.
        let positions = rounds.clamp(1, 10);
        let span = 380 / u64::from(positions);
        let early = round % positions == 0 || (round >= rounds && !kills_in.contains_key("write"));
        let delay = if early {
            Duration::from_millis(rng.next() % 11)
        } else {
            Duration::from_millis(20 + span * u64::from(round % positions) + rng.next() % span.max(1))
        };
        let log = crash_child(dir.path(), mode, next, delay);
        let context = format!("{mode} round {round} (killed after {delay:?}, {ENV_SEED}={seed})");
        // The child acknowledged consecutive batches from where it started.
        let expected: Vec<u64> = (next..next + log.acks.len() as u64).collect();
        assert_eq!(log.acks, expected, "{context}: acknowledgements out of order");
        stored.extend(&log.acks);
        let in_flight = next + log.acks.len() as u64;
        *kills_in.entry(log.killed_in.unwrap_or("write")).or_default() += 1;

        // Recovery: every acknowledged batch exactly once; the one in flight all or
        // nothing; nothing else.
        let store = common::open_retrying(dir.path(), Options::default().background_maintenance(false))
            .unwrap_or_else(|e| panic!("{context}: reopen after the kill: {e}"));
        // Every byte left behind reads back sound, and nothing stray is left.
        let report = store.verify().unwrap_or_else(|e| panic!("{context}: verify: {e}"));
        assert!(report.is_ok() && report.notes.is_empty(), "{context}: {report:?}");
        let seen = stored_numbers(&store);
        let survived = batch_numbers(in_flight).filter(|n| seen.contains_key(n)).count() as u64;
        assert!(
            survived == 0 || survived == BATCH_LEN,
            "{context}: {survived} of the {BATCH_LEN} records of the batch in flight survived"
        );
        if survived == BATCH_LEN {
            stored.push(in_flight);
        }
        check_contents(&store, &stored, &format!("{context}, after reopen"));

        // The recovered store flushes and compacts without losing anything, and keeps only
        // the files it uses.
        store
            .flush()
            .unwrap_or_else(|e| panic!("{context}: flush after reopen: {e}"));
        // Reopening removes what an interrupted manifest write left.
        assert!(
            !dir.path().join("MANIFEST.tmp").exists(),
            "{context}: MANIFEST.tmp left after reopen and flush"
        );
        store
            .compact()
            .unwrap_or_else(|e| panic!("{context}: compact after reopen: {e}"));
        assert!(
            !dir.path().join("MANIFEST.tmp").exists(),
            "{context}: MANIFEST.tmp left after reopen, flush and compact"
        );
        check_contents(&store, &stored, &format!("{context}, after flush and compact"));
        let stats = store.stats();
        let files = seg_files(dir.path());
        assert_eq!(
            files.len() as u64,
            stats.files,
            "{context}: cold/ holds files the store does not use: {files:?}"
        );
        assert!(stats.files <= 1, "{context}: compact left {} files", stats.files);
        assert_eq!(stats.warm_bytes, 0, "{context}: rows left warm after a flush");
        drop(store);
        eprintln!(
            "{context}: {} batches acknowledged, {} flushes and {} compactions completed, killed \
             during {}, batch in flight {}",
            log.acks.len(),
            log.flushes,
            log.compactions,
            log.killed_in.unwrap_or("a write"),
            if survived > 0 { "survived" } else { "lost" },
        );
        next = in_flight + 1;
    }
    // A last check after a clean reopen, which also takes new writes.
    let store =
        common::open_retrying(dir.path(), Options::default().background_maintenance(false)).expect("final reopen");
    check_contents(&store, &stored, &format!("{mode}: final reopen"));
    store
        .write(&batch_numbers(next).map(record).collect::<Vec<_>>())
        .expect("write after recovery");
    stored.push(next);
    check_contents(&store, &stored, &format!("{mode}: after a last write"));
    eprintln!(
        "{mode}: {} kills ({kills_in:?}), {} batches stored, {:?}",
        kills_in.values().sum::<u32>(),
        stored.len(),
        started.elapsed()
    );
    assert_every_phase_hit(&kills_in, &phases, &format!("{mode} ({ENV_SEED}={seed})"));
}

/// Kills past the requested number that a run makes to land one in every phase.
const MAX_EXTRA_ROUNDS: u32 = 150;

/// Kill rounds per test: 10 in CI; `TWINSTORE_CRASH_ROUNDS=N` for a long run (the count of
/// kills is printed with `--nocapture`).
fn rounds() -> u32 {
    std::env::var("TWINSTORE_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
}

#[test]
fn kill_during_manual_flush_and_compaction_keeps_every_acknowledged_batch() {
    kill_rounds("manual", rounds());
}

#[test]
fn kill_during_background_flush_and_compaction_keeps_every_acknowledged_batch() {
    kill_rounds("background", rounds());
}

// ---------------------------------------------------------------------------------------
// The crash mix (tests/common/mix.rs: the operations, the model and what is checked), killed
// at random moments. The child (`child_mixer`) prints `op:N:KIND:PARAMS` before it starts
// operation N and `ack:N` after it returned Ok; the parent replays the acknowledged
// operations on the model and checks the store after each kill is exactly the model with or
// without the operation in flight. Each child writes with `SyncEachWrite` or (one in three)
// `GroupCommit`, and continues the same store.

const MIX_DIR: &str = "TWINSTORE_MIX_DIR";
const MIX_BATCH: &str = "TWINSTORE_MIX_BATCH";
const MIX_OP: &str = "TWINSTORE_MIX_OP";
const MIX_CLOCK: &str = "TWINSTORE_MIX_CLOCK";
const MIX_SEED: &str = "TWINSTORE_MIX_SEED";
const MIX_DURABILITY: &str = "TWINSTORE_MIX_DURABILITY";

/// The mix child: a seeded random sequence of operations from operation `TWINSTORE_MIX_OP`
/// and batch `TWINSTORE_MIX_BATCH` on, the clock at `TWINSTORE_MIX_CLOCK`, until killed.
#[test]
#[ignore = "the crash mix test's child process, spawned by its parent; fails when run on its own"]
fn child_mixer() {
    let dir = std::env::var(MIX_DIR).expect("child_mixer is the mix test's child: run by that test only");
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("child: {name} unset"));
    let num = |name: &str| -> i64 { var(name).parse().unwrap_or_else(|_| panic!("child: {name}")) };
    let mut batch = num(MIX_BATCH) as u64;
    let start_op = num(MIX_OP) as u64;
    let mut now = num(MIX_CLOCK);
    let mut rng = Rng(var(MIX_SEED).parse().expect("child: seed"));
    let clock = Arc::new(AtomicI64::new(now));
    let options = mix_options(&clock, mix_durability(&var(MIX_DURABILITY)));
    let store = common::open_retrying(&dir, options).expect("child: open");
    let mut stdout = std::io::stdout().lock();
    // End the test harness's "test child_mixer ... " line.
    stdout.write_all(b"\n").expect("stdout");
    let mut say = |line: String| {
        // One write of the whole line (shorter than a pipe's atomic write), flushed at once.
        stdout.write_all(line.as_bytes()).expect("stdout");
        stdout.flush().expect("flush stdout");
    };
    let started = Instant::now();
    for n in start_op.. {
        // A safety net: a child whose parent vanished stops on its own.
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        let op = MixOp::pick(&mut rng, n == start_op, batch, &mut now);
        say(op.line(n));
        op.run(&store, &clock)
            .unwrap_or_else(|e| panic!("child: {} failed: {e}", op.kind()));
        if let MixOp::Write { .. } = op {
            batch += 1;
        }
        // Acknowledged: the call returned Ok.
        say(format!("ack:{n}\n"));
    }
}

/// What the parent read from a mix child: the operations it started, in order, each with
/// whether it was acknowledged (only the last may not be), or what broke the protocol.
#[derive(Debug, Default)]
struct MixLog {
    ops: Vec<(u64, MixOp, bool)>,
    protocol: Option<String>,
}

fn mix_child(
    dir: &Path,
    start_batch: u64,
    start_op: u64,
    clock: i64,
    seed: u64,
    durability: &str,
    delay: Duration,
) -> MixLog {
    let env = [
        (MIX_DIR, dir.display().to_string()),
        (MIX_BATCH, start_batch.to_string()),
        (MIX_OP, start_op.to_string()),
        (MIX_CLOCK, clock.to_string()),
        (MIX_SEED, seed.to_string()),
        (MIX_DURABILITY, durability.to_string()),
    ];
    run_and_kill("child_mixer", &env, delay, |stdout, first_ack| {
        let mut log = MixLog::default();
        let mut first_ack = Some(first_ack);
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // A line the kill cut short has no newline: its operation never started.
            let Some(text) = line.strip_suffix(b"\n").and_then(|l| std::str::from_utf8(l).ok()) else {
                break;
            };
            let text = text.trim();
            if let Some((n, op)) = MixOp::parse(text) {
                if let Some((last, _, false)) = log.ops.last() {
                    log.protocol
                        .get_or_insert(format!("op {n} started before op {last} was acknowledged"));
                }
                log.ops.push((n, op, false));
            } else if let Some(n) = text.strip_prefix("ack:").and_then(|n| n.parse::<u64>().ok()) {
                match log.ops.last_mut() {
                    Some((last, _, acked)) if *last == n && !*acked => *acked = true,
                    _ => {
                        log.protocol.get_or_insert(format!("ack:{n} of no operation in flight"));
                    }
                }
                if let Some(tx) = first_ack.take() {
                    let _ = tx.send(());
                }
            } else if text.starts_with("op:") || text.starts_with("ack:") {
                log.protocol.get_or_insert(format!("unreadable line {text:?}"));
            }
        }
        log
    })
}

/// Kills `rounds` mix children (more until a kill landed in every kind of operation),
/// checking the store against the model after each.
fn mix_rounds(rounds: u32) {
    let seed = run_seed();
    eprintln!("mix: {ENV_SEED}={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut model = MixModel {
        warm: BTreeSet::new(),
        files: Vec::new(),
        now: mix_base_ns(),
    };
    let (mut next_batch, mut next_op) = (0u64, 0u64);
    let mut tally = MixTally::default();
    let reopen_options = || Options::default().background_maintenance(false);
    // At least `rounds` kills, more until one landed in each kind of operation.
    let phases = ["write", "flush", "compact", "delete_range", "delete_twin", "retention"];
    let all_hit = |kills: &BTreeMap<&str, u32>| phases.iter().all(|p| kills.contains_key(p));
    let mut round = 0;
    loop {
        if round >= rounds && (all_hit(&tally.killed_in) || round >= rounds + MAX_EXTRA_ROUNDS) {
            break;
        }
        round += 1;
        let round = round - 1;
        let child_seed = rng.next();
        let durability = if rng.next().is_multiple_of(3) { "group" } else { "sync" };
        let delay = Duration::from_millis(5 + rng.next() % 300);
        let log = mix_child(
            dir.path(),
            next_batch,
            next_op,
            model.now,
            child_seed,
            durability,
            delay,
        );
        let context = format!(
            "mix round {round} (child seed {child_seed}, {durability}, killed {delay:?} after its first ack, \
             {ENV_SEED}={seed})"
        );
        if let Some(problem) = &log.protocol {
            panic!("{context}: the child's output: {problem}");
        }
        let numbers: Vec<u64> = log.ops.iter().map(|o| o.0).collect();
        let expected: Vec<u64> = (next_op..next_op + numbers.len() as u64).collect();
        assert_eq!(numbers, expected, "{context}: operations out of order");
        next_op += log.ops.len() as u64;
        // Batch numbers are never reused, whether the write in flight made it or not.
        for (_, op, _) in &log.ops {
            if let MixOp::Write { batch, .. } = op {
                assert_eq!(*batch, next_batch, "{context}: batches out of order");
                next_batch += 1;
            }
        }
        let mut in_flight = None;
        for (n, op, acked) in &log.ops {
            if *acked {
                model.apply(op);
                *tally.acked.entry(op.kind()).or_default() += 1;
            } else {
                in_flight = Some((*n, *op));
            }
        }
        *tally
            .killed_in
            .entry(in_flight.map_or("idle", |(_, op)| op.kind()))
            .or_default() += 1;

        let store = common::open_retrying(dir.path(), reopen_options())
            .unwrap_or_else(|e| panic!("{context}: reopen after the kill: {e}"));
        let report = store.verify().unwrap_or_else(|e| panic!("{context}: verify: {e}"));
        assert!(report.is_ok() && report.notes.is_empty(), "{context}: {report:?}");
        let seen = mix_stored(&store, &context);
        let doubled: Vec<_> = seen.iter().filter(|&(_, &c)| c != 1).take(12).collect();
        assert!(doubled.is_empty(), "{context}: stored more than once: {doubled:?}");
        let seen: BTreeSet<u64> = seen.into_keys().collect();
        let before = model.live();
        if let Some((n, op)) = in_flight {
            let mut after = model.clone();
            after.apply(&op);
            let after_live = after.live();
            let outcome = if after_live == before {
                &mut tally.invisible
            } else if seen == after_live {
                &mut tally.applied
            } else {
                &mut tally.not_applied
            };
            *outcome.entry(op.kind()).or_default() += 1;
            if seen == after_live {
                model = after;
            } else if seen != before {
                let describe = |want: &BTreeSet<u64>| {
                    format!(
                        "{} lost {:?}, {} extra {:?}",
                        want.difference(&seen).count(),
                        some(want.difference(&seen).copied()),
                        seen.difference(want).count(),
                        some(seen.difference(want).copied())
                    )
                };
                // What the operation in flight removes (or adds), and how much of it is seen.
                let touched: BTreeSet<u64> = before.symmetric_difference(&after_live).copied().collect();
                let touched_seen = touched.iter().filter(|n| seen.contains(n)).count();
                panic!(
                    "{context}: after the kill during op {n} {op:?} the store is neither before it ({}) nor \
                     after it ({}); of the {} records it changes, {touched_seen} are seen: part of the \
                     operation is visible",
                    describe(&before),
                    describe(&after_live),
                    touched.len(),
                );
            }
        } else {
            assert!(
                seen == before,
                "{context}: killed between operations: {} acknowledged records lost {:?}, {} records never \
                 acknowledged or deleted seen {:?}",
                before.difference(&seen).count(),
                some(before.difference(&seen).copied()),
                seen.difference(&before).count(),
                some(seen.difference(&before).copied()),
            );
        }
        let live = model.live();
        mix_check_queries(&store, &live, &mut rng, &format!("{context}, after reopen"));

        // The recovered store takes new writes, flushes and compacts without losing
        // anything, and keeps only the files it uses.
        mix_check_takes_work(&store, dir.path(), &mut model, next_batch, &mut rng, &context);
        next_batch += 1;
        let live = model.live();
        drop(store);
        if rounds <= 20 || (round + 1) % 100 == 0 {
            eprintln!(
                "{context}: {} operations, killed during {}; {} records live, {:?} so far",
                log.ops.len(),
                in_flight.map_or("nothing", |(_, op)| op.kind()),
                live.len(),
                started.elapsed()
            );
        }
    }
    let MixTally {
        killed_in,
        acked,
        applied,
        not_applied,
        invisible,
    } = &tally;
    eprintln!(
        "mix: {round} kills in {:?} ({ENV_SEED}={seed})\n  killed during: {killed_in:?}\n  in flight \
         and applied: {applied:?}\n  in flight and not applied: {not_applied:?}\n  in flight, no visible \
         effect: {invisible:?}\n  operations acknowledged: {} {acked:?}\n  batches {next_batch}, records \
         live at the end {}",
        started.elapsed(),
        acked.values().sum::<u64>(),
        model.live().len(),
    );
    assert_every_phase_hit(killed_in, &phases, &format!("mix ({ENV_SEED}={seed})"));
}

#[test]
fn kill_during_a_random_mix_with_deletes_and_retention_matches_the_model() {
    mix_rounds(std::env::var("TWINSTORE_CRASH_ROUNDS").map_or(8, |_| rounds()));
}

// ---------------------------------------------------------------------------------------
// Damaged segment files.

const SEG_HEADER_LEN: usize = 16;
const SEG_TRAILER_LEN: usize = 32;
const DAMAGE_TWINS: u64 = 4;
/// Rows per twin: more than one group of 2048 rows.
const DAMAGE_ROWS: u64 = 3000;

fn damage_twin(k: u64) -> String {
    format!("dev-{k}")
}

fn damage_record(k: u64, i: u64) -> Record {
    let n = k * 1_000_000 + i;
    Record::new(
        damage_twin(k),
        Timestamp::from_millis(BASE_MS + i as i64 * 1000).expect("time"),
    )
    .with("n", n as i64)
    .with("v", v_of(n))
    .with("tag", tag_of(n))
}

/// A store with one segment file per twin (one flush per twin), closed. Returns the files
/// in flush order, so file `k` holds twin `dev-k`.
fn store_with_one_file_per_twin(dir: &Path) -> Vec<PathBuf> {
    let store = common::open_retrying(dir, Options::default().background_maintenance(false)).expect("open");
    for k in 0..DAMAGE_TWINS {
        let records: Vec<Record> = (0..DAMAGE_ROWS).map(|i| damage_record(k, i)).collect();
        store.write(&records).expect("write");
        store.flush().expect("flush");
    }
    assert_eq!(store.stats().files, DAMAGE_TWINS);
    drop(store);
    let files = seg_files(dir);
    assert_eq!(files.len() as u64, DAMAGE_TWINS, "{files:?}");
    files
}

/// Checks twin `dev-k` answers with exactly its rows.
fn check_damage_twin(store: &Store, k: u64) {
    let events = store
        .events(&EventsQuery::new(damage_twin(k)))
        .unwrap_or_else(|e| panic!("dev-{k} is intact but its query failed: {e}"));
    assert_eq!(events.len() as u64, DAMAGE_ROWS, "dev-{k}");
    for (i, event) in events.iter().enumerate() {
        let expected = damage_record(k, i as u64);
        assert_eq!(event.ts, expected.ts, "dev-{k} row {i}");
        let mut got: Vec<_> = event.values.iter().map(|(p, v)| (p.to_string(), v.clone())).collect();
        let mut want: Vec<_> = expected
            .values
            .iter()
            .map(|(p, v)| (p.to_string(), v.clone()))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want, "dev-{k} row {i}");
    }
    let latest = store.latest(&damage_twin(k)).expect("latest of an intact twin");
    let last = damage_record(k, DAMAGE_ROWS - 1);
    assert_eq!(
        latest.get("n"),
        last.values.iter().find(|(p, _)| &**p == "n").map(|(_, v)| v)
    );
}

/// Where a segment file's data (the twins' chunks) lies: after the header, before the
/// footer (whose offset is the trailer's first 8 bytes, docs/FORMAT.md), less the up to 7
/// padding bytes before it.
fn data_area(bytes: &[u8]) -> std::ops::Range<usize> {
    let trailer = &bytes[bytes.len() - SEG_TRAILER_LEN..];
    let footer_offset = u64::from_le_bytes(trailer[..8].try_into().expect("8 bytes")) as usize;
    assert!(
        footer_offset > SEG_HEADER_LEN + 64 && footer_offset < bytes.len() - SEG_TRAILER_LEN,
        "footer offset {footer_offset} of a {}-byte file",
        bytes.len()
    );
    SEG_HEADER_LEN..footer_offset - 8
}

#[test]
fn flipped_byte_in_a_segment_fails_only_that_twins_queries() {
    // Damage at several places of the data area: the twin's directory (its first bytes),
    // and blocks of timestamps and values further on.
    for fraction in [0.0, 0.1, 0.25, 0.5, 0.75, 0.999] {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = store_with_one_file_per_twin(dir.path());
        let damaged_twin = 2u64;
        let damaged = &files[damaged_twin as usize];
        let mut bytes = std::fs::read(damaged).expect("read segment");
        let area = data_area(&bytes);
        let at = area.start + ((area.len() - 1) as f64 * fraction) as usize;
        bytes[at] ^= 0x5a;
        std::fs::write(damaged, &bytes).expect("write damaged segment");
        let context = format!("byte {at} of {} ({fraction} of the data area)", bytes.len());

        // The open checks headers and trailers only: it succeeds.
        let store = Store::open(dir.path(), Options::default().background_maintenance(false))
            .unwrap_or_else(|e| panic!("{context}: open with a damaged block: {e}"));
        match store.events(&EventsQuery::new(damage_twin(damaged_twin))) {
            Err(Error::Corruption { path, .. }) => {
                assert_eq!(
                    path.file_name(),
                    damaged.file_name(),
                    "{context}: names the damaged file"
                );
            }
            other => panic!("{context}: the damaged twin's events: expected Error::Corruption, got {other:?}"),
        }
        // Other queries of the damaged twin may or may not need the damaged bytes; they must
        // not panic, and what they report must be an error or right.
        let name = damage_twin(damaged_twin);
        // The state after row `i`: its three values, set at its time.
        let state_after = |i: u64| {
            let record = damage_record(damaged_twin, i);
            let mut want: BTreeMap<String, (Value, Timestamp)> = BTreeMap::new();
            for (p, v) in record.values.iter() {
                want.insert(p.to_string(), (v.clone(), record.ts));
            }
            want
        };
        if let Ok(latest) = store.latest(&name) {
            assert_eq!(
                common::state_view(&latest),
                state_after(DAMAGE_ROWS - 1),
                "{context}: latest"
            );
        }
        // Row 1000 is at exactly BASE_MS + 1,000 s: the state at that instant is after it.
        if let Ok(state) = store.state_at(&name, Timestamp::from_millis(BASE_MS + 1_000_000).expect("time")) {
            assert_eq!(common::state_view(&state), state_after(1000), "{context}: state_at");
        }
        if let Ok(schema) = store.schema(&name) {
            let mut names: Vec<String> = schema.iter().map(|p| p.name.to_string()).collect();
            names.sort();
            assert_eq!(names, ["n", "tag", "v"], "{context}: schema");
        }
        if let Ok(info) = store.twin_info(&name) {
            assert_eq!(info.records, DAMAGE_ROWS, "{context}: twin_info records");
        }
        if let Ok(twins) = store.twins() {
            let mut ids: Vec<String> = twins.iter().map(|t| t.id.to_string()).collect();
            ids.sort();
            assert_eq!(
                ids,
                (0..DAMAGE_TWINS).map(damage_twin).collect::<Vec<_>>(),
                "{context}: twins"
            );
        }
        let tail = store.events(
            &EventsQuery::new(name.as_str())
                .from(Timestamp::from_millis(BASE_MS + 2_500_000).expect("time"))
                .properties(["v"]),
        );
        if let Ok(tail) = tail {
            assert_eq!(tail.len(), 500, "{context}: the tail of the damaged twin");
        }
        for k in (0..DAMAGE_TWINS).filter(|&k| k != damaged_twin) {
            check_damage_twin(&store, k);
        }
        // Compaction needs the damaged chunk: it fails and changes nothing.
        assert!(
            matches!(store.compact(), Err(Error::Corruption { .. })),
            "{context}: compacting over a damaged block"
        );
        assert_eq!(store.stats().files, DAMAGE_TWINS, "{context}");
        assert_eq!(
            seg_files(dir.path()),
            files,
            "{context}: files after a failed compaction"
        );
        assert_eq!(
            std::fs::read(damaged).expect("read"),
            bytes,
            "{context}: damaged file untouched"
        );
        // The store still takes writes, and the intact twins still answer.
        store
            .write(&[damage_record(0, DAMAGE_ROWS)])
            .expect("write after the damage");
        store.flush().expect("flush after the damage");
        assert_eq!(
            store.events(&EventsQuery::new(damage_twin(0))).expect("dev-0").len() as u64,
            DAMAGE_ROWS + 1
        );
        for k in (1..DAMAGE_TWINS).filter(|&k| k != damaged_twin) {
            check_damage_twin(&store, k);
        }
        assert!(store.events(&EventsQuery::new(name.as_str())).is_err(), "{context}");
    }
}

#[test]
fn truncated_or_missing_segment_is_confined_to_its_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = store_with_one_file_per_twin(dir.path());
    let victim = &files[1];
    let pristine = std::fs::read(victim).expect("read segment");
    let len = pristine.len();
    let cuts = [
        len - 1,
        len - SEG_TRAILER_LEN,
        len - SEG_TRAILER_LEN - 8,
        len / 2,
        SEG_HEADER_LEN + SEG_TRAILER_LEN,
        SEG_HEADER_LEN + 1,
        SEG_HEADER_LEN,
        5,
        0,
    ];
    let options = || Options::default().background_maintenance(false);
    let writes = std::cell::Cell::new(0u64);
    let check_confined = |context: &str| {
        // The store opens; reads that need the damaged file fail naming it (every twin here
        // shares its time range), reads of other times answer, `verify` reports the file,
        // and writes go on.
        let store = Store::open(dir.path(), options()).unwrap_or_else(|e| panic!("{context}: open: {e}"));
        match store.events(&EventsQuery::new(damage_twin(1))) {
            Err(Error::Corruption { path, .. }) => assert_eq!(&path, victim, "{context}"),
            other => panic!("{context}: expected Error::Corruption, got {other:?}"),
        }
        let later = Timestamp::from_millis(BASE_MS + 10_000_000).expect("time");
        let after = EventsQuery::new(damage_twin(0)).from(later);
        assert_eq!(store.events(&after).expect("a range without the damaged file").len(), 0);
        let report = store.verify().expect("verify");
        assert!(
            report.problems.iter().any(|p| &p.path == victim),
            "{context}: verify does not name the file: {:?}",
            report.problems
        );
        store.write(&[damage_record(9, writes.get())]).expect("write");
        writes.set(writes.get() + 1);
    };
    for cut in cuts {
        std::fs::write(victim, &pristine[..cut]).expect("truncate");
        check_confined(&format!("cut at {cut} of {len}"));
    }
    std::fs::remove_file(victim).expect("remove");
    check_confined("missing file");
    // Nothing was changed for good: with the file back, everything is there.
    std::fs::write(victim, &pristine).expect("restore");
    let store = Store::open(dir.path(), options()).expect("open restored");
    for k in 0..DAMAGE_TWINS {
        check_damage_twin(&store, k);
    }
    assert_eq!(store.stats().records, DAMAGE_TWINS * DAMAGE_ROWS + writes.get());
    assert_eq!(
        store.events(&EventsQuery::new(damage_twin(9))).expect("events").len() as u64,
        writes.get(),
        "the writes made while the file was damaged"
    );
    assert!(store.verify().expect("verify").is_ok());
}

/// A kill between creating `MANIFEST.tmp` and renaming it over `MANIFEST` leaves the
/// temporary file behind. When that write was a compaction's (all rows already flushed),
/// reopening and flushing the store should not keep it.
#[test]
fn stale_manifest_tmp_is_cleaned_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open_retrying(dir.path(), Options::default().background_maintenance(false)).expect("open");
    store
        .write(&batch_numbers(0).map(record).collect::<Vec<_>>())
        .expect("write");
    store.flush().expect("flush");
    drop(store);
    // What the killed process left: a partly written manifest.
    let manifest = std::fs::read(dir.path().join("MANIFEST")).expect("manifest");
    std::fs::write(dir.path().join("MANIFEST.tmp"), &manifest[..manifest.len() / 2]).expect("tmp");
    let store = common::open_retrying(dir.path(), Options::default().background_maintenance(false)).expect("reopen");
    check_contents(&store, &[0], "after reopen with a stale MANIFEST.tmp");
    store.flush().expect("flush");
    assert!(
        !dir.path().join("MANIFEST.tmp").exists(),
        "MANIFEST.tmp left after a successful reopen and flush"
    );
}

/// A delete or a retention whose rows lie in several files, failing on the last one (a
/// damaged block), changes nothing: the files it rewrote before are not installed (nor left
/// behind), so what queries see is never half of it. (A kill part-way is the same case; the
/// mix test above covers it.)
#[test]
fn delete_or_retention_failing_part_way_changes_nothing() {
    for op in ["delete_twin", "delete_range", "retention"] {
        let dir = tempfile::tempdir().expect("temp dir");
        // Three files, each with rows of dev-0 over the whole span (times interleaved), so
        // that the retention below cuts through every file.
        let options = || {
            Options::default()
                .background_maintenance(false)
                .cold_retention(Some(Duration::from_secs(1)))
                .clock(Clock::fixed(
                    Timestamp::from_millis(BASE_MS + 3 * DAMAGE_ROWS as i64 / 2 + 1000).expect("time"),
                ))
        };
        let store = common::open_retrying(dir.path(), options()).expect("open");
        for f in 0..3u64 {
            let records: Vec<Record> = (0..DAMAGE_ROWS)
                .map(|i| {
                    let n = f * 1_000_000 + i;
                    Record::new(
                        damage_twin(0),
                        Timestamp::from_millis(BASE_MS + (i * 3 + f) as i64).expect("time"),
                    )
                    .with("n", n as i64)
                    .with("v", v_of(n))
                    .with("tag", tag_of(n))
                })
                .collect();
            store.write(&records).expect("write");
            store.flush().expect("flush");
        }
        drop(store);
        let files = seg_files(dir.path());
        assert_eq!(files.len(), 3);
        let last = &files[2];
        let mut bytes = std::fs::read(last).expect("read segment");
        let area = data_area(&bytes);
        bytes[area.start + area.len() / 2] ^= 0x5a;
        std::fs::write(last, &bytes).expect("write damaged segment");

        let store = common::open_retrying(dir.path(), options()).expect("open with a damaged block");
        let before = store.stats();
        assert_eq!(before.records, 3 * DAMAGE_ROWS);
        let result = match op {
            "delete_twin" => store.delete_twin(&damage_twin(0)),
            "delete_range" => store.delete_range(
                &damage_twin(0),
                Timestamp::from_millis(BASE_MS + 100).expect("time"),
                Timestamp::from_millis(BASE_MS + 5000).expect("time"),
            ),
            _ => store.apply_retention(),
        };
        assert!(
            matches!(result, Err(Error::Corruption { .. })),
            "{op} over a damaged file: {result:?}"
        );
        let after = store.stats();
        assert_eq!(
            (after.records, after.files),
            (before.records, before.files),
            "{op} failed part-way but changed what the store holds"
        );
        assert_eq!(seg_files(dir.path()), files, "{op}: files after the failed call");
        drop(store);
        let store = common::open_retrying(dir.path(), options()).expect("reopen");
        assert_eq!(store.stats().records, 3 * DAMAGE_ROWS, "{op}: after a reopen");
    }
}
