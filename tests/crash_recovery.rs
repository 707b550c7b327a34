//! Every write acknowledged with `Ok` survives a `kill -9` of the writing process, exactly
//! once; the one call in flight at the kill is there entirely or not at all; nothing that
//! was never written appears; and the recovered store accepts new writes that survive the
//! next crash. This holds with the default `Durability::SyncEachWrite` and also with
//! `GroupCommit` and `NoSync`, whose acknowledged writes have reached the operating system
//! (a process kill, unlike a machine crash, loses nothing the OS holds).
//!
//! The test re-runs its own binary as a child (`child_writer`, a no-op unless
//! `TWINSTORE_CRASH_DIR` is set) that writes numbered records (property `n`, over a handful
//! of twins, by NDJSON and typed calls in turn) and prints `ack:FIRST:LAST:end` after each
//! `Ok`. The parent kills it at a random moment, reopens the store, checks every record, and
//! writes some more itself; several rounds continue the same store, so each recovery runs on
//! top of earlier ones. `TWINSTORE_CRASH_SEED` replays a run's kill delays.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use twinstore::{Durability, EventsQuery, Options, Record, Store, Timestamp, Value};

const ENV_DIR: &str = "TWINSTORE_CRASH_DIR";
const ENV_START: &str = "TWINSTORE_CRASH_START";
const ENV_MODE: &str = "TWINSTORE_CRASH_MODE";
const ENV_SEED: &str = "TWINSTORE_CRASH_SEED";
const TWINS: u64 = 5;
const BASE_MS: i64 = 1_767_225_600_000;

fn durability(mode: &str) -> Durability {
    match mode {
        "sync" => Durability::SyncEachWrite,
        "group" => Durability::GroupCommit {
            interval: Duration::from_millis(5),
        },
        "nosync" => Durability::NoSync,
        other => panic!("unknown mode {other}"),
    }
}

fn twin_of(n: u64) -> String {
    format!("twin-{}", n % TWINS)
}

fn ts_of(n: u64) -> Timestamp {
    Timestamp::from_millis(BASE_MS + n as i64).expect("time")
}

fn v_of(n: u64) -> f64 {
    n as f64 * 0.5 + 0.25
}

/// The call that starts at `first` writes `first..first + call_len(first)`: every process
/// (child or parent) cuts the numbers into the same calls.
fn call_len(first: u64) -> u64 {
    1 + first % 5
}

/// Writes the call starting at `first` (NDJSON for even `first`, typed otherwise); returns
/// its last number.
fn write_call(store: &Store, first: u64) -> u64 {
    let last = first + call_len(first) - 1;
    if first.is_multiple_of(2) {
        let mut input = String::new();
        for n in first..=last {
            input.push_str(&format!(
                "{{\"$dtId\":\"{}\",\"$ts\":{},\"n\":{n},\"v\":{:?},\"tag\":\"r{n}\"}}\n",
                twin_of(n),
                BASE_MS + n as i64,
                v_of(n)
            ));
        }
        let report = store.ingest_ndjson(input.as_bytes()).expect("ingest");
        assert_eq!(report.records, last - first + 1, "{:?}", report.rejected);
    } else {
        let records: Vec<Record> = (first..=last)
            .map(|n| {
                Record::new(twin_of(n), ts_of(n))
                    .with("n", n as i64)
                    .with("v", v_of(n))
                    .with("tag", format!("r{n}"))
            })
            .collect();
        store.write(&records).expect("write");
    }
    last
}

/// The child: writes calls from `TWINSTORE_CRASH_START` on until killed.
#[test]
#[ignore = "the crash tests' child process; does nothing without TWINSTORE_CRASH_DIR"]
fn child_writer() {
    let (Ok(dir), Ok(start), Ok(mode)) = (
        std::env::var(ENV_DIR),
        std::env::var(ENV_START),
        std::env::var(ENV_MODE),
    ) else {
        return;
    };
    let options = if mode == "sync" {
        Options::default()
    } else {
        Options::default().durability(durability(&mode))
    };
    let store = common::open_retrying(&dir, options).expect("child: open");
    let mut first: u64 = start.parse().expect("start number");
    let mut stdout = std::io::stdout().lock();
    // End the test harness's "test child_writer ... " line.
    stdout.write_all(b"\n").expect("stdout");
    let started = Instant::now();
    // A safety net: a child whose parent vanished stops on its own.
    while started.elapsed() < Duration::from_secs(60) {
        let last = write_call(&store, first);
        // Acknowledged: the call returned Ok. One write of the whole line.
        stdout
            .write_all(format!("ack:{first}:{last}:end\n").as_bytes())
            .expect("stdout");
        stdout.flush().expect("flush");
        first = last + 1;
    }
}

/// An `ack:FIRST:LAST:end` line (anywhere in the line; partial lines are ignored).
fn parse_ack(line: &str) -> Option<(u64, u64)> {
    let rest = &line[line.find("ack:")? + 4..];
    let mut parts = rest.split(':');
    let first = parts.next()?.parse().ok()?;
    let last = parts.next()?.parse().ok()?;
    (parts.next()? == "end").then_some((first, last))
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

/// How many times each `n` is stored, checking every record's
/// twin, time and values against its number.
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
            assert_eq!(get("tag"), Some(&Value::String(format!("r{n}").into())), "tag of n {n}");
            assert_eq!(event.values.len(), 3, "n {n}: {:?}", event.values);
            *seen.entry(n).or_insert(0) += 1;
        }
    }
    seen
}

/// Runs one child until it has acknowledged at least one call, kills it after `delay`, and
/// returns the calls it acknowledged.
fn crash_child(dir: &Path, mode: &str, start: u64, delay: Duration) -> Vec<(u64, u64)> {
    let env = [
        (ENV_DIR, dir.display().to_string()),
        (ENV_START, start.to_string()),
        (ENV_MODE, mode.to_string()),
    ];
    let mut child = common::spawn_child("child_writer", &env);
    let stdout = child.stdout.take().expect("child stdout");
    let mut stderr = child.stderr.take().expect("child stderr");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(ack) = parse_ack(&line) {
                let _ = tx.send(ack);
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let first = rx.recv_timeout(Duration::from_secs(20));
    if first.is_ok() {
        std::thread::sleep(delay);
    }
    // SIGKILL on Unix. The child may have exited on its own only if something failed.
    let killed = child.kill();
    let status = child.wait().expect("reap the child");
    reader.join().expect("stdout reader");
    let errors = errors.join().expect("stderr reader");
    assert!(
        first.is_ok() && killed.is_ok(),
        "the child acknowledged nothing or exited early ({status}); its stderr:\n{errors}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL; stderr:\n{errors}");
    }
    let mut acks = vec![first.expect("checked")];
    acks.extend(rx.try_iter());
    acks
}

fn kill_rounds(mode: &str, rounds: u32) {
    let seed = common::seed_from_env(ENV_SEED);
    eprintln!("{mode}: {ENV_SEED}={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    // Every number acknowledged so far, by the children or the parent.
    let mut acked: Vec<(u64, u64)> = Vec::new();
    let mut next = 0u64;
    for round in 0..rounds {
        let delay = Duration::from_millis(rng.next() % 45);
        let acks = crash_child(dir.path(), mode, next, delay);
        // The child acknowledged consecutive calls from where it started.
        let mut expect_first = next;
        for &(first, last) in &acks {
            assert_eq!(
                (first, last),
                (expect_first, expect_first + call_len(expect_first) - 1),
                "round {round}"
            );
            expect_first = last + 1;
        }
        acked.extend(&acks);
        let in_flight = expect_first..expect_first + call_len(expect_first);

        // Recovery: every acknowledged number exactly once; of the call in flight all or
        // nothing; nothing else.
        let store = common::open_retrying(dir.path(), Options::default()).expect("reopen after the kill");
        let seen = stored_numbers(&store);
        let duplicated: Vec<_> = seen.iter().filter(|&(_, &count)| count != 1).collect();
        assert!(
            duplicated.is_empty(),
            "round {round}: stored more than once: {duplicated:?}"
        );
        let mut want: Vec<u64> = acked.iter().flat_map(|&(first, last)| first..=last).collect();
        want.sort_unstable();
        let got: Vec<u64> = seen.keys().copied().collect();
        let with_in_flight: Vec<u64> = want.iter().copied().chain(in_flight.clone()).collect();
        let lost: Vec<&u64> = want.iter().filter(|n| !seen.contains_key(n)).collect();
        assert!(
            lost.is_empty(),
            "round {round} ({mode}): acknowledged numbers lost: {lost:?}"
        );
        assert!(
            got == want || got == with_in_flight,
            "round {round} ({mode}): stored numbers are neither the acknowledged ones nor those \
             plus the whole call in flight ({in_flight:?}); extra: {:?}",
            got.iter().filter(|n| !want.contains(n)).collect::<Vec<_>>()
        );
        let survived = got.len() > want.len();
        if survived {
            // It reached the log before the kill: it is part of the store from now on.
            acked.push((in_flight.start, in_flight.end - 1));
        }
        eprintln!(
            "{mode} round {round}: killed after {delay:?}, {} calls acknowledged, the call in \
             flight {}",
            acks.len(),
            if survived { "survived" } else { "was lost" }
        );

        // The recovered store takes new writes, visible at once.
        let first = in_flight.start + if survived { call_len(in_flight.start) } else { 0 };
        let last = write_call(&store, first);
        acked.push((first, last));
        let seen = stored_numbers(&store);
        assert!((first..=last).all(|n| seen.get(&n) == Some(&1)), "round {round}");
        drop(store);
        next = last + 1;
    }
    // A last check after a clean reopen.
    let store = common::open_retrying(dir.path(), Options::default()).expect("final reopen");
    let seen = stored_numbers(&store);
    let mut want: Vec<u64> = acked.iter().flat_map(|&(first, last)| first..=last).collect();
    want.sort_unstable();
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), want);
    assert!(seen.values().all(|&c| c == 1));
    assert_eq!(store.stats().records, want.len() as u64);
    eprintln!(
        "{mode}: {rounds} kills, {} numbers stored, {:?}",
        want.len(),
        started.elapsed()
    );
}

#[test]
fn acknowledged_writes_survive_kill_9_with_sync_each_write() {
    kill_rounds("sync", 8);
}

#[test]
fn acknowledged_writes_survive_kill_9_with_group_commit() {
    // GroupCommit hands each frame to the OS before acknowledging it; only a machine crash
    // may lose the last interval.
    kill_rounds("group", 6);
}

#[test]
fn acknowledged_writes_survive_kill_9_with_no_sync() {
    kill_rounds("nosync", 5);
}
