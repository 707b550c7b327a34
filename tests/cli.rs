//! The `twinstore` command line on the real fixtures: what it prints and its exit codes.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twinstore"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run twinstore")
}

fn lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect()
}

fn db(dir: &Path) -> String {
    dir.join("db").display().to_string()
}

#[test]
fn adt_events_ingest_and_read_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db(dir.path());
    let adt = fixture("adt-twin-updates.ndjson");
    let out = run(&["ingest", "--db", &db, "--format", "adt", adt.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("records 6") && summary.contains("skipped 1"),
        "{summary}"
    );

    let out = run(&["events", "--db", &db, "--twin", "thermostat67"]);
    assert_eq!(out.status.code(), Some(0));
    let events = lines(&out);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["$dtId"], "thermostat67");
    assert_eq!(events[0]["$ts"], "2026-01-01T08:00:00.1234567Z");
    assert_eq!(events[0]["Temperature"], 20.5);
    assert_eq!(events[1]["$ts"], "2026-01-01T08:01:00.5Z");
    assert_eq!(events[1]["Temperature"], 21);
    assert_eq!(events[1]["Mode"], "Heat");

    let out = run(&["events", "--db", &db, "--twin", "room-12", "--desc", "--limit", "1"]);
    let events = lines(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["$ts"], "2026-01-01T08:04:00Z");
    assert_eq!(
        events[0]["Occupied"],
        serde_json::Value::Null,
        "a removal shows as null"
    );

    let out = run(&[
        "events",
        "--db",
        &db,
        "--twin",
        "room-12",
        "--props",
        "Front.Temperature,Sensors/CO2",
    ]);
    let events = lines(&out);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["Front.Temperature"], 19.25);
    assert_eq!(events[1]["Sensors/CO2"], 415);

    let out = run(&["latest", "--db", &db, "--twin", "thermostat67", "--json"]);
    let latest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(latest["properties"]["Temperature"]["value"], 21);
    assert_eq!(latest["properties"]["Temperature"]["type"], "Long");
    assert_eq!(latest["properties"]["Mode"]["$ts"], "2026-01-01T08:01:00.5Z");

    let out = run(&["stats", "--db", &db, "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(stats["twins"], 3);
    assert_eq!(stats["records"], 6);
    for key in ["points", "warm_bytes", "cold_bytes", "files", "bytes_per_point"] {
        assert!(stats.get(key).is_some(), "stats has {key}");
    }
}

#[test]
fn rejected_lines_are_named_and_set_the_exit_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db(dir.path());
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(
        &bad,
        "{\"$dtId\":\"t1\",\"$ts\":\"2026-01-01T00:00:00Z\",\"T\":1}\n{\"$dtId\":\"t1\",\"T\":\n{\"$ts\":\"2026-01-01T00:00:02Z\",\"T\":3}\n",
    )
    .expect("write");
    let bad = bad.to_str().expect("path");

    // Strict: everything refused, nothing written.
    let out = run(&["ingest", "--db", &db, "--strict", bad]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["events", "--db", &db, "--twin", "t1"]);
    assert_eq!(out.status.code(), Some(1), "t1 must not exist after a strict refusal");

    let out = run(&["ingest", "--db", &db, bad]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.ndjson:2: ") && stderr.contains("bad.ndjson:3: "),
        "{stderr}"
    );
    assert!(stderr.contains("$dtId"), "line 3 names the missing field: {stderr}");
    let out = run(&["events", "--db", &db, "--twin", "t1"]);
    assert_eq!(lines(&out).len(), 1, "the good line is kept");

    // Stdin works too.
    let mut child = bin()
        .args(["ingest", "--db", &db])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"{\"$dtId\":\"t2\",\"$ts\":1767225600000,\"T\":2.5}\n")
            .expect("write");
    }
    assert_eq!(child.wait_with_output().expect("wait").status.code(), Some(0));
    let out = run(&["events", "--db", &db, "--twin", "t2"]);
    assert_eq!(lines(&out)[0]["$ts"], "2026-01-01T00:00:00Z");
}

#[test]
fn errors_exit_with_one_and_say_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db(dir.path());
    let out = run(&["events", "--db", &db, "--twin", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"));
    run(&[
        "ingest",
        "--db",
        &db,
        fixture("adt-twin-updates.ndjson").to_str().expect("path"),
        "--format",
        "adt",
    ]);
    let out = run(&["events", "--db", &db, "--twin", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown twin"));
    let out = run(&["events", "--db", &db, "--twin", "thermostat67", "--from", "noon"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from"));
    let out = run(&["ingest", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Example"));
}
