//! Limits on properties per twin and records per call, and memory under a flood of writes
//! (docs/RELIABILITY.md, "Limits"). Expected outcomes are written out by hand.

use std::time::Duration;

use twinstore::{Error, EventsQuery, Limits, Options, Record, Store, Timestamp, Value};

const BASE_MS: i64 = 1_767_225_600_000;

fn ts(i: i64) -> Timestamp {
    Timestamp::from_millis(BASE_MS + i * 1000).expect("time")
}

fn options(limits: Limits) -> Options {
    let mut options = Options::default().background_maintenance(false);
    options.limits = limits;
    options
}

fn names(store: &Store, twin: &str) -> Vec<String> {
    let mut names: Vec<String> = store
        .schema(twin)
        .expect("schema")
        .iter()
        .map(|p| format!("{}:{:?}", p.name, p.value_type))
        .collect();
    names.sort();
    names
}

#[test]
fn a_twin_cannot_grow_past_its_property_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits {
        max_properties_per_twin: 5,
        ..Limits::default()
    };
    let store = Store::open(dir.path(), options(limits.clone())).expect("open");
    store
        .write(&[Record::new("t", ts(0)).with("a", 1.0).with("b", 2.0).with("c", 3.0)])
        .expect("three properties");

    let report = store
        .write(&[
            // Line 1: two new properties, reaching the limit of 5.
            Record::new("t", ts(1)).with("d", 4.0).with("e", 5.0),
            // Line 2: a sixth property: rejected.
            Record::new("t", ts(2)).with("a", 6.0).with("f", 7.0),
            // Line 3: a known name with a new type is a new property too: rejected.
            Record::new("t", ts(3)).with("a", "text"),
            // Line 4: known properties only: kept.
            Record::new("t", ts(4)).with("e", 8.0),
            // Line 5: another twin is not affected.
            Record::new("u", ts(5)).with("f", 9.0),
        ])
        .expect("the write keeps the good records");
    assert_eq!(report.records, 3);
    let rejected: Vec<(u64, Option<String>, Option<String>)> = report
        .rejected
        .iter()
        .map(|e| (e.line, e.twin.clone(), e.field.clone()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (2, Some("t".to_string()), Some("f".to_string())),
            (3, Some("t".to_string()), Some("a".to_string())),
        ]
    );
    assert!(
        report.rejected[0].reason.contains("more than 5 properties"),
        "{}",
        report.rejected[0]
    );
    assert_eq!(
        names(&store, "t"),
        ["a:Double", "b:Double", "c:Double", "d:Double", "e:Double"]
    );
    let times: Vec<Timestamp> = store
        .events(&EventsQuery::new("t"))
        .expect("events")
        .iter()
        .map(|e| e.ts)
        .collect();
    assert_eq!(times, vec![ts(0), ts(1), ts(4)]);

    // Strict: the whole call is refused, nothing of it is written.
    let mut strict = options(limits.clone()).strict(true);
    strict.limits = limits.clone();
    drop(store);
    let store = Store::open(dir.path(), strict).expect("reopen strict");
    match store.write(&[
        Record::new("t", ts(6)).with("a", 1.0),
        Record::new("t", ts(7)).with("g", 1.0),
    ]) {
        Err(Error::BatchRejected { errors }) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].line, 2);
        }
        other => panic!("wanted BatchRejected, got {other:?}"),
    }
    assert_eq!(store.events(&EventsQuery::new("t")).expect("events").len(), 3);

    // The limit holds after a flush and a reopen (the count comes from the catalog).
    store.flush().expect("flush");
    drop(store);
    let store = Store::open(dir.path(), options(limits)).expect("reopen");
    let report = store
        .ingest_ndjson(br#"{"$dtId":"t","$ts":"2026-01-01T00:01:00Z","h":1.0}"#)
        .expect("ingest");
    assert_eq!(report.records, 0);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].field.as_deref(), Some("h"));
}

#[test]
fn a_call_over_the_record_limit_is_refused_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits {
        max_records_per_call: 10,
        ..Limits::default()
    };
    let store = Store::open(dir.path(), options(limits)).expect("open");
    let records: Vec<Record> = (0..11).map(|i| Record::new("t", ts(i)).with("v", i as f64)).collect();
    match store.write(&records) {
        Err(Error::InvalidArgument(reason)) => assert!(reason.contains("11 records"), "{reason}"),
        other => panic!("wanted InvalidArgument, got {other:?}"),
    }
    let lines: String = (0..11)
        .map(|i| format!("{{\"$dtId\":\"t\",\"$ts\":\"2026-01-01T00:00:{i:02}Z\",\"v\":{i}}}\n"))
        .collect();
    assert!(matches!(
        store.ingest_ndjson(lines.as_bytes()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(store.twins().expect("twins").iter().all(|t| t.id != "t"));
    assert_eq!(store.stats().records, 0);
    store.write(&records[..10]).expect("ten records are within the limit");
    assert_eq!(store.stats().records, 10);
}

/// Set in the child process that runs the measured flood (see
/// `memory_stays_bounded_under_a_flood`); its value is the warm budget in bytes.
const FLOOD_CHILD: &str = "TWINSTORE_FLOOD_CHILD_BUDGET";
/// Records written by the flood: 1,000 per call over 50 twins, two values each.
const FLOOD_RECORDS: i64 = 800_000;
/// The most the flood may grow the process's heap by with a 1 MiB warm budget.
const FLOOD_BOUND: u64 = 12 << 20;

/// A field of `/proc/self/status` (`VmRSS`, `VmHWM`, `RssAnon`), in bytes.
fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{line}: {e}"));
    kib * 1024
}

/// What the child process measured.
#[derive(Debug)]
struct Flood {
    /// Anonymous resident memory (heap; not the mapped segment files) after opening the store.
    anon_before: u64,
    /// Its largest value, sampled after every write call.
    anon_peak: u64,
    /// The engine's own estimate of the warm tier, largest value seen.
    warm_estimate_peak: u64,
    /// Segment files at the end.
    files: u64,
}

/// Runs the flood in a child process (a test binary runs its tests as threads of one
/// process, which share one resident set) and returns what it measured.
fn flood_in_a_child(budget: u64) -> Flood {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "flood_child_process", "--nocapture", "--test-threads=1"])
        .env(FLOOD_CHILD, budget.to_string())
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the flood child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("FLOOD ").map(|(_, numbers)| numbers))
        .unwrap_or_else(|| panic!("no FLOOD line from the child: {stdout}"));
    let numbers: Vec<u64> = line.split_whitespace().map(|w| w.parse().expect("a number")).collect();
    let [anon_before, anon_peak, warm_estimate_peak, files] = numbers[..] else {
        panic!("FLOOD line {line:?}");
    };
    Flood {
        anon_before,
        anon_peak,
        warm_estimate_peak,
        files,
    }
}

/// The measured part of `memory_stays_bounded_under_a_flood`; does nothing unless run as
/// its child process.
#[test]
fn flood_child_process() {
    let Ok(budget) = std::env::var(FLOOD_CHILD) else { return };
    let budget: u64 = budget.parse().expect("budget");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(
        dir.path(),
        Options::default()
            .durability(twinstore::Durability::NoSync)
            .warm_budget_bytes(budget)
            .warm_window(Duration::from_secs(3600)),
    )
    .expect("open");
    let records_of = |b: i64| -> Vec<Record> {
        (0..1000)
            .map(|i| {
                Record::new(format!("twin-{}", i % 50), ts(b * 1000 + i))
                    .with("v", i as f64)
                    .with("w", Value::Long(b))
            })
            .collect()
    };
    let anon_before = proc_status_bytes("RssAnon");
    let (mut anon_peak, mut warm_estimate_peak) = (anon_before, 0u64);
    for b in 0..FLOOD_RECORDS / 1000 {
        store.write(&records_of(b)).expect("write");
        anon_peak = anon_peak.max(proc_status_bytes("RssAnon"));
        warm_estimate_peak = warm_estimate_peak.max(store.stats().warm_bytes);
    }
    assert_eq!(store.stats().records, FLOOD_RECORDS as u64);
    println!(
        "FLOOD {anon_before} {anon_peak} {warm_estimate_peak} {}",
        store.stats().files
    );
}

/// Writers flooding a store with a small warm budget are slowed down while the background
/// thread flushes: the process's memory stays within a bound instead of growing with the
/// input. Measured as the process's anonymous resident memory (`RssAnon`, Linux), in a child
/// process that does nothing else.
#[test]
#[cfg(target_os = "linux")]
fn memory_stays_bounded_under_a_flood() {
    let budget: u64 = 1 << 20;
    let flood = flood_in_a_child(budget);
    println!("{flood:?}");
    let growth = flood.anon_peak.saturating_sub(flood.anon_before);
    // 800,000 records of two values grow resident memory by about 21 MB in a warm tier that
    // keeps them all (`warm_memory_grows_without_a_budget`). Here writers wait at twice the
    // budget, one call (about 60 KB) can land past it, and a flush holds the tables it writes
    // while new ones fill: under 5 MiB of tables. The rest of the bound is the flush's
    // buffers and the allocator's slack (measured: 7.1 MB of growth in all).
    let bound = FLOOD_BOUND;
    assert!(
        growth < bound,
        "resident memory grew by {growth} bytes during the flood (bound {bound}): {flood:?}"
    );
    assert!(
        flood.warm_estimate_peak < 3 * budget,
        "the engine's warm estimate peaked at {} against a budget of {budget}",
        flood.warm_estimate_peak
    );
    assert!(flood.files > 0, "no flush happened");
}

/// The contrast that shows the bound above can fail: with a budget larger than the flood,
/// nothing is flushed and resident memory grows with the input, past the bound.
#[test]
#[cfg(target_os = "linux")]
fn warm_memory_grows_without_a_budget() {
    let flood = flood_in_a_child(1 << 40);
    println!("{flood:?}");
    let growth = flood.anon_peak.saturating_sub(flood.anon_before);
    assert_eq!(flood.files, 0, "a flush happened");
    assert!(
        growth > FLOOD_BOUND,
        "resident memory grew by only {growth} bytes while the warm tier kept everything: {flood:?}"
    );
}

/// The README's warm-tier memory figure, measured as the process's heap: the growth of
/// `RssAnon` while an NDJSON file is ingested into a store that keeps everything warm (no
/// background flush), per point stored, against the README's figure. The input is
/// read and ingested in 64 MiB pieces, so it is not part of the figure. Run it alone, so
/// that no other test shares the process:
///
/// `TWINSTORE_WARM_INPUT=FILE cargo test --release --test limits warm_tier_bytes_per_point -- --ignored --exact --nocapture`
#[test]
#[ignore = "a measurement on a generated workload; see its doc comment"]
#[cfg(target_os = "linux")]
fn warm_tier_bytes_per_point() {
    use std::io::Read;
    let path = std::env::var("TWINSTORE_WARM_INPUT").expect("TWINSTORE_WARM_INPUT: an NDJSON file");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(
        dir.path(),
        Options::default()
            .durability(twinstore::Durability::NoSync)
            .background_maintenance(false),
    )
    .expect("open");
    let before = proc_status_bytes("RssAnon");
    let mut file = std::fs::File::open(&path).expect("open the input");
    let mut carry: Vec<u8> = Vec::new();
    let (mut records, mut points) = (0u64, 0u64);
    loop {
        let mut piece = std::mem::take(&mut carry);
        let start = piece.len();
        piece.resize(start + (64 << 20), 0);
        let n = file.read(&mut piece[start..]).expect("read");
        piece.truncate(start + n);
        let cut = if n == 0 {
            piece.len()
        } else {
            piece.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)
        };
        carry = piece.split_off(cut);
        if !piece.is_empty() {
            let report = store.ingest_ndjson(&piece).expect("ingest");
            records += report.records;
            points += report.points;
        }
        if n == 0 {
            break;
        }
    }
    drop(carry);
    let after = proc_status_bytes("RssAnon");
    let stats = store.stats();
    assert_eq!(stats.points, points);
    let measured = (after - before) as f64 / points as f64;
    println!(
        "{records} records, {points} points: heap grew by {} bytes, {measured:.1} bytes/point (engine estimate {:.1}); peak VmHWM {} bytes",
        after - before,
        stats.warm_bytes as f64 / points as f64,
        proc_status_bytes("VmHWM")
    );
    // README.md: 31.1 bytes/point on the medium workload (target 24, not reached); a
    // measurement past it by more than a tenth is a regression.
    assert!(
        measured <= 34.2,
        "{measured:.1} bytes/point, over the 31.1 the README gives"
    );
}
