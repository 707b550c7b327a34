//! Helpers shared by the integration tests: instants computed by hand (not by the crate's
//! own parser), temporary stores, and order-independent views of query results.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub mod mix;

use twinstore::{Event, Options, Store, Timestamp, TwinState, Value};

/// Days from 1970-01-01 to the civil date `y-m-d` (proleptic Gregorian), H. Hinnant's
/// algorithm: an independent computation the crate's parser is checked against.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nanoseconds since the epoch of a UTC civil time.
pub fn utc_nanos(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, nanos: i64) -> i64 {
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3_600 + mi * 60 + s;
    secs * 1_000_000_000 + nanos
}

/// The instant of a UTC civil time.
pub fn utc(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, nanos: i64) -> Timestamp {
    Timestamp::from_nanos(utc_nanos(y, mo, d, h, mi, s, nanos))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z` by hand (the only form the fixtures use).
pub fn parse_utc(text: &str) -> Timestamp {
    let b = text.as_bytes();
    assert!(b.len() >= 20 && b[b.len() - 1] == b'Z', "unexpected time {text:?}");
    let num = |r: std::ops::Range<usize>| -> i64 { text[r].parse().unwrap_or_else(|_| panic!("bad time {text:?}")) };
    let (y, mo, d, h, mi, s) = (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19));
    let mut nanos = 0;
    if b[19] == b'.' {
        let digits = &text[20..text.len() - 1];
        assert!(!digits.is_empty() && digits.len() <= 9, "bad fraction in {text:?}");
        let value: i64 = digits.parse().unwrap_or_else(|_| panic!("bad fraction in {text:?}"));
        nanos = value * 10i64.pow(9 - digits.len() as u32);
    }
    utc(y, mo, d, h, mi, s, nanos)
}

/// Opens a store in a fresh temporary directory.
pub fn temp_store(options: Options) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), options).expect("open store");
    (dir, store)
}

/// Reopens the store at `dir` (the old handle must have been dropped).
pub fn reopen(dir: &Path, options: Options) -> Store {
    Store::open(dir, options).expect("reopen store")
}

/// An event as `(time, values sorted by name)`: the order of values inside an event is not
/// part of the contract.
pub fn event_view(event: &Event) -> (Timestamp, Vec<(String, Value)>) {
    let mut values: Vec<(String, Value)> = event.values.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    (event.ts, values)
}

/// Events as views.
pub fn events_view(events: &[Event]) -> Vec<(Timestamp, Vec<(String, Value)>)> {
    events.iter().map(event_view).collect()
}

/// A twin state as `name -> (value, time set)`.
pub fn state_view(state: &TwinState) -> BTreeMap<String, (Value, Timestamp)> {
    let mut out = BTreeMap::new();
    for p in state.properties.iter() {
        let previous = out.insert(p.name.to_string(), (p.value.clone(), p.ts));
        assert!(previous.is_none(), "property {} listed twice in {state:?}", p.name);
    }
    out
}

/// Builds a values list from `(name, value)` pairs, sorted by name.
pub fn values(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = pairs.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A String value.
pub fn s(text: &str) -> Value {
    Value::String(text.into())
}

/// A Dynamic value.
pub fn dynamic(text: &str) -> Value {
    Value::Dynamic(text.into())
}

/// Starts this test binary again as a child running only the ignored test `child_test`,
/// with `env` set and stdout/stderr piped: the crash tests' writer, which the parent kills.
pub fn spawn_child(child_test: &str, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("test binary");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            child_test,
            "--include-ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("spawn the child")
}

/// A run's seed: the number in the environment variable `var`, else one from the clock (the
/// tests print it, so that a failure can be repeated).
pub fn seed_from_env(var: &str) -> u64 {
    std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    })
}

/// A copy of the directory tree `from` (a fixture store) in a temporary directory: opening a
/// store writes to it (a new WAL segment, the LOCK file), and fixtures must stay as committed.
pub fn copy_tree_to_temp(from: &Path) -> tempfile::TempDir {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create a directory of the copy");
        for entry in std::fs::read_dir(from).expect("the fixture exists") {
            let entry = entry.expect("a directory entry");
            if entry.file_type().expect("its type").is_dir() {
                copy_dir(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a file");
            }
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(from, dir.path());
    dir
}

/// `Store::open`, retried for a while when the store is locked: a child process that another
/// test of the same binary spawns at that moment holds a copy of every open descriptor, the
/// store's lock file's too, between its fork and its exec (they close on exec), and on a
/// loaded machine that can outlast the drop of the store and its reopening.
pub fn open_retrying(dir: impl AsRef<Path>, options: Options) -> twinstore::Result<Store> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(dir.as_ref(), options.clone()) {
            Err(twinstore::Error::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            other => return other,
        }
    }
}
