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
//! Damage: a byte flipped in one segment file's data makes queries of the twin stored there
//! fail with `Error::Corruption` while other twins still answer; a truncated or missing
//! segment file makes `Store::open` fail (not panic).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use twinstore::{Clock, Durability, Error, EventsQuery, Options, Record, Store, Timestamp, Value};

const ENV_DIR: &str = "TWINSTORE_COLD_CRASH_DIR";
const ENV_START: &str = "TWINSTORE_COLD_CRASH_START";
const ENV_MODE: &str = "TWINSTORE_COLD_CRASH_MODE";
const ENV_SEED: &str = "TWINSTORE_COLD_CRASH_SEED";

const TWINS: u64 = 6;
/// Records per batch (one write call): spread over every twin.
const BATCH_LEN: u64 = 24;
/// The child flushes after every this many batches...
const FLUSH_EVERY: u64 = 4;
/// ...and compacts after every this many flushes.
const COMPACT_EVERY: u64 = 3;
const BASE_MS: i64 = 1_767_225_600_000;

// ---------------------------------------------------------------------------------------
// What record `n` holds: everything derives from its number, so any damage, mix-up or
// duplicate is visible.

fn twin_of(n: u64) -> String {
    format!("twin-{}", n % TWINS)
}

fn ts_of(n: u64) -> Timestamp {
    Timestamp::from_millis(BASE_MS + n as i64 * 10).expect("time")
}

fn v_of(n: u64) -> f64 {
    n as f64 * 0.5 + 0.25
}

fn tag_of(n: u64) -> String {
    format!("r{n}")
}

fn record(n: u64) -> Record {
    Record::new(twin_of(n), ts_of(n))
        .with("n", n as i64)
        .with("v", v_of(n))
        .with("tag", tag_of(n))
}

/// The numbers of batch `b`.
fn batch_numbers(b: u64) -> std::ops::Range<u64> {
    b * BATCH_LEN..(b + 1) * BATCH_LEN
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
#[ignore = "the cold crash tests' child process; does nothing without TWINSTORE_COLD_CRASH_DIR"]
fn child_writer() {
    let (Ok(dir), Ok(start), Ok(mode)) = (
        std::env::var(ENV_DIR),
        std::env::var(ENV_START),
        std::env::var(ENV_MODE),
    ) else {
        return;
    };
    let store = Store::open(&dir, child_options(&mode)).expect("child: open");
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

/// SplitMix64: kill delays without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Runs one child from batch `start`, waits for its first acknowledgement, kills it
/// `delay` later and returns what it reported.
fn crash_child(dir: &Path, mode: &str, start: u64, delay: Duration) -> ChildLog {
    let env = [
        (ENV_DIR, dir.display().to_string()),
        (ENV_START, start.to_string()),
        (ENV_MODE, mode.to_string()),
    ];
    let mut child = common::spawn_child("child_writer", &env);
    let stdout = child.stdout.take().expect("child stdout");
    let mut stderr = child.stderr.take().expect("child stderr");
    let (first_ack, first_ack_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
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
    });
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

/// Segment files in the store's `cold/` directory.
fn seg_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("cold"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "seg"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn kill_rounds(mode: &str, rounds: u32) {
    let seed = std::env::var(ENV_SEED)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("{mode}: {ENV_SEED}={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    // Every batch known to be in the store (acknowledged, or in flight and found there).
    let mut stored: Vec<u64> = Vec::new();
    let mut next = 0u64;
    let mut kills_in = BTreeMap::<&str, u32>::new();
    for round in 0..rounds {
        // 20-400 ms, spread over the range round by round (ten positions, repeated on a long
        // run), jittered.
        let positions = rounds.clamp(1, 10);
        let span = 380 / u64::from(positions);
        let delay = Duration::from_millis(20 + span * u64::from(round % positions) + rng.next() % span.max(1));
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
        let store = Store::open(dir.path(), Options::default().background_maintenance(false))
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
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("final reopen");
    check_contents(&store, &stored, &format!("{mode}: final reopen"));
    store
        .write(&batch_numbers(next).map(record).collect::<Vec<_>>())
        .expect("write after recovery");
    stored.push(next);
    check_contents(&store, &stored, &format!("{mode}: after a last write"));
    eprintln!(
        "{mode}: {rounds} kills ({kills_in:?}), {} batches stored, {:?}",
        stored.len(),
        started.elapsed()
    );
}

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
    let store = Store::open(dir, Options::default().background_maintenance(false)).expect("open");
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
        let _ = store.latest(&name);
        let _ = store.schema(&name);
        let _ = store.twin_info(&name);
        let _ = store.twins();
        let _ = store.state_at(&name, Timestamp::from_millis(BASE_MS + 1_000_000).expect("time"));
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
fn truncated_or_missing_segment_fails_the_open() {
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
    for cut in cuts {
        std::fs::write(victim, &pristine[..cut]).expect("truncate");
        match Store::open(dir.path(), Options::default().background_maintenance(false)) {
            Err(Error::Corruption { path, .. }) => assert_eq!(&path, victim, "cut at {cut}"),
            Err(Error::Io { .. }) if cut == 0 => {}
            Err(other) => panic!("cut at {cut} of {len}: expected Error::Corruption, got {other}"),
            Ok(_) => panic!("cut at {cut} of {len}: the open succeeded"),
        }
    }
    std::fs::remove_file(victim).expect("remove");
    assert!(
        Store::open(dir.path(), Options::default().background_maintenance(false)).is_err(),
        "open without a segment file the manifest names"
    );
    // The failed opens changed nothing: with the file back, everything is there.
    std::fs::write(victim, &pristine).expect("restore");
    assert_eq!(seg_files(dir.path()), files);
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open restored");
    for k in 0..DAMAGE_TWINS {
        check_damage_twin(&store, k);
    }
    assert_eq!(store.stats().records, DAMAGE_TWINS * DAMAGE_ROWS);
}

/// A kill between creating `MANIFEST.tmp` and renaming it over `MANIFEST` leaves the
/// temporary file behind. When that write was a compaction's (all rows already flushed),
/// reopening and flushing the store should not keep it.
#[test]
fn stale_manifest_tmp_is_cleaned_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
    store
        .write(&batch_numbers(0).map(record).collect::<Vec<_>>())
        .expect("write");
    store.flush().expect("flush");
    drop(store);
    // What the killed process left: a partly written manifest.
    let manifest = std::fs::read(dir.path().join("MANIFEST")).expect("manifest");
    std::fs::write(dir.path().join("MANIFEST.tmp"), &manifest[..manifest.len() / 2]).expect("tmp");
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("reopen");
    check_contents(&store, &[0], "after reopen with a stale MANIFEST.tmp");
    store.flush().expect("flush");
    assert!(
        !dir.path().join("MANIFEST.tmp").exists(),
        "MANIFEST.tmp left after a successful reopen and flush"
    );
}

/// A delete or a retention whose rows lie in several files, failing on the last one (a
/// damaged block), changes nothing: the files it rewrote before are not installed (nor left
/// behind), so what queries see is never half of it. (A kill part-way is the same case.)
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
        let store = Store::open(dir.path(), options()).expect("open");
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

        let store = Store::open(dir.path(), options()).expect("open with a damaged block");
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
        let store = Store::open(dir.path(), options()).expect("reopen");
        assert_eq!(store.stats().records, 3 * DAMAGE_ROWS, "{op}: after a reopen");
    }
}
