//! The `twinstore` command line on the real fixtures: what it prints and its exit codes.
//!
//! Every expected value here is read off `tests/fixtures/adt-twin-updates.ndjson` (or the
//! small inputs written by the tests) by hand.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const ADT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/adt-twin-updates.ndjson");

/// Line 2 is cut-off JSON, line 3 has no `$dtId`; line 1 is good.
const BAD: &str = concat!(
    r#"{"$dtId":"t1","$ts":"2026-01-01T00:00:00Z","T":1}"#,
    "\n",
    r#"{"$dtId":"t1","$ts":"2026-01-01T00:00:01Z","T":"#,
    "\n",
    r#"{"$ts":"2026-01-01T00:00:02Z","T":3}"#,
    "\n",
);

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twinstore"))
}

/// Runs twinstore in `cwd`.
fn run_in(cwd: &Path, args: &[&str]) -> Output {
    bin().current_dir(cwd).args(args).output().expect("run twinstore")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run twinstore")
}

fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn twinstore");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait for twinstore")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, showing stderr when it is not the one expected.
fn assert_code(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "stderr: {}", stderr(output));
}

fn ndjson(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A fresh store directory (not yet created) inside `dir`.
fn db_in(dir: &Path) -> String {
    dir.join("db").display().to_string()
}

/// A store holding the ADT fixture.
fn adt_store() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_in(dir.path());
    let out = run(&["ingest", "--db", &db, "--format", "adt", ADT]);
    assert_code(&out, 0);
    (dir, db)
}

#[test]
fn adt_ingest_prints_a_summary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_in(dir.path());
    let out = run(&["ingest", "--db", &db, "--format", "adt", ADT]);
    assert_code(&out, 0);
    // Seven lines: six Twin.Update events and one Twin.Create (a model event: no record).
    let summary = stdout(&out);
    for part in [
        "records 6 ",
        "rejected 0 ",
        "skipped 0 ",
        "model events 1 ",
        "elapsed ",
        "records/s",
    ] {
        assert!(summary.contains(part), "summary lacks {part:?}: {summary}");
    }
    assert!(stderr(&out).is_empty(), "quiet when all is well: {}", stderr(&out));
}

#[test]
fn events_of_thermostat67() {
    let (_dir, db) = adt_store();
    let out = run(&["events", "--db", &db, "--twin", "thermostat67"]);
    assert_code(&out, 0);
    assert_eq!(
        ndjson(&out),
        vec![
            json!({"$dtId": "thermostat67", "$ts": "2026-01-01T08:00:00.1234567Z", "Temperature": 20.5}),
            json!({"$dtId": "thermostat67", "$ts": "2026-01-01T08:01:00.5Z", "Temperature": 21, "Mode": "Heat"}),
        ]
    );
    // The flat shape: $dtId, then $ts, then the properties.
    let first = stdout(&out).lines().next().map(str::to_string).unwrap_or_default();
    assert!(first.starts_with(r#"{"$dtId":"thermostat67","$ts":"#), "{first}");
    // 21 is a Long in the patch: it stays an integer, 20.5 a double.
    assert!(stdout(&out).contains(r#""Temperature":21,"#), "{}", stdout(&out));
}

#[test]
fn events_of_room_12_are_flattened_and_unescaped() {
    let (_dir, db) = adt_store();
    let out = run(&["events", "--db", &db, "--twin", "room-12"]);
    assert_code(&out, 0);
    assert_eq!(
        ndjson(&out),
        vec![
            json!({"$dtId": "room-12", "$ts": "2026-01-01T08:02:00Z",
                   "Front.Temperature": 19.25, "Front.Humidity": 41, "Occupied": true, "Zones": [1, 2, 3]}),
            json!({"$dtId": "room-12", "$ts": "2026-01-01T08:03:00Z", "Sensors/CO2": 415, "Label~Name": "a~b"}),
            json!({"$dtId": "room-12", "$ts": "2026-01-01T08:04:00Z", "Occupied": null}),
        ]
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
    assert_code(&out, 0);
    assert_eq!(
        ndjson(&out),
        vec![
            json!({"$dtId": "room-12", "$ts": "2026-01-01T08:02:00Z", "Front.Temperature": 19.25}),
            json!({"$dtId": "room-12", "$ts": "2026-01-01T08:03:00Z", "Sensors/CO2": 415}),
        ]
    );
}

#[test]
fn events_desc_limit_and_time_range() {
    let (_dir, db) = adt_store();
    let out = run(&["events", "--db", &db, "--twin", "room-12", "--desc", "--limit", "1"]);
    assert_code(&out, 0);
    assert_eq!(
        ndjson(&out),
        vec![json!({"$dtId": "room-12", "$ts": "2026-01-01T08:04:00Z", "Occupied": null})]
    );

    // 2026-01-01T08:01:00Z is 1767254460000 ms after the epoch; the range start is inclusive.
    let out = run(&[
        "events",
        "--db",
        &db,
        "--twin",
        "thermostat67",
        "--from",
        "1767254460000",
    ]);
    assert_code(&out, 0);
    let events = ndjson(&out);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["$ts"], "2026-01-01T08:01:00.5Z");

    // The end is exclusive.
    let out = run(&[
        "events",
        "--db",
        &db,
        "--twin",
        "thermostat67",
        "--from",
        "2026-01-01T08:00:00Z",
        "--to",
        "2026-01-01T08:01:00.5Z",
    ]);
    assert_code(&out, 0);
    let events = ndjson(&out);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["$ts"], "2026-01-01T08:00:00.1234567Z");
}

#[test]
fn latest_as_json_and_as_a_table() {
    let (_dir, db) = adt_store();
    let out = run(&["latest", "--db", &db, "--twin", "thermostat67", "--json"]);
    assert_code(&out, 0);
    let latest: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        latest,
        json!({
            "$dtId": "thermostat67",
            "properties": {
                "Temperature": {"value": 21, "type": "Long", "$ts": "2026-01-01T08:01:00.5Z"},
                "Mode": {"value": "Heat", "type": "String", "$ts": "2026-01-01T08:01:00.5Z"},
            }
        })
    );

    // room-12: Occupied was removed at 08:04, so it is not shown.
    let out = run(&["latest", "--db", &db, "--twin", "room-12"]);
    assert_code(&out, 0);
    let table = stdout(&out);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["property", "value", "type", "time"], "{table}");
    let mut body = rows[1..].to_vec();
    body.sort();
    assert_eq!(
        body,
        [
            ["Front.Humidity", "41", "Long", "2026-01-01T08:02:00Z"],
            ["Front.Temperature", "19.25", "Double", "2026-01-01T08:02:00Z"],
            ["Label~Name", "\"a~b\"", "String", "2026-01-01T08:03:00Z"],
            ["Sensors/CO2", "415", "Long", "2026-01-01T08:03:00Z"],
            ["Zones", "[1,2,3]", "Dynamic", "2026-01-01T08:02:00Z"],
        ],
        "{table}"
    );
    // Aligned: every row's value column starts where the header's does.
    let value_at = table.lines().next().and_then(|h| h.find("value")).expect("header");
    for line in table.lines().skip(1) {
        assert_ne!(line.as_bytes()[value_at], b' ', "{table}");
        assert_eq!(line.as_bytes()[value_at - 1], b' ', "{table}");
    }
}

#[test]
fn stats_as_json_and_as_a_table() {
    let (_dir, db) = adt_store();
    let out = run(&["stats", "--db", &db, "--json"]);
    assert_code(&out, 0);
    let stats: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut keys: Vec<&str> = stats.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "bytes_per_point",
            "cold_bytes",
            "disk_bytes",
            "files",
            "points",
            "records",
            "twins",
            "warm_bytes"
        ]
    );
    // thermostat67, floor4, room-12 (room-13 only has a Twin.Create).
    assert_eq!(stats["twins"], 3);
    assert_eq!(stats["records"], 6);
    // 1 + 2 + 3 (a remove is stored as a marker) + 4 + 2 + 1.
    assert_eq!(stats["points"], 13);
    assert_eq!(stats["cold_bytes"], 0);
    assert_eq!(stats["files"], 0);
    assert!(stats["warm_bytes"].as_u64().is_some_and(|b| b > 0), "{stats}");
    let disk = stats["disk_bytes"].as_f64().expect("disk_bytes");
    assert!(disk > 0.0, "{stats}");
    let per_point = stats["bytes_per_point"].as_f64().expect("bytes_per_point");
    assert!((per_point - disk / 13.0).abs() < 1e-6, "{stats}");

    let out = run(&["stats", "--db", &db]);
    assert_code(&out, 0);
    let table = stdout(&out);
    for row in ["twins            3", "records          6", "points           13"] {
        assert!(table.contains(row), "{table}");
    }
}

#[test]
fn rejected_lines_are_named_with_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("bad.ndjson"), BAD).expect("write");
    let out = run_in(dir.path(), &["ingest", "--db", "db", "bad.ndjson"]);
    assert_code(&out, 2);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "one line per rejected record: {err}");
    assert!(lines[0].starts_with("bad.ndjson:2: "), "{err}");
    assert!(lines[1].starts_with("bad.ndjson:3: "), "{err}");
    assert!(lines[1].contains("$dtId"), "line 3 names the missing field: {err}");
    assert!(
        !err.contains("line 2") && !err.contains("line 3"),
        "the place is said once: {err}"
    );
    let summary = stdout(&out);
    assert!(
        summary.contains("records 1 ") && summary.contains("rejected 2 "),
        "{summary}"
    );

    let out = run_in(dir.path(), &["events", "--db", "db", "--twin", "t1"]);
    assert_code(&out, 0);
    assert_eq!(
        ndjson(&out),
        vec![json!({"$dtId": "t1", "$ts": "2026-01-01T00:00:00Z", "T": 1})],
        "the good line is kept"
    );
}

#[test]
fn strict_refuses_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A good file without a final newline, then the bad one: its lines keep their numbers.
    std::fs::write(
        dir.path().join("good.ndjson"),
        concat!(
            r#"{"$dtId":"g","$ts":"2026-01-01T00:00:00Z","T":1}"#,
            "\n",
            r#"{"$dtId":"g","$ts":"2026-01-01T00:00:01Z","T":2}"#
        ),
    )
    .expect("write");
    std::fs::write(dir.path().join("bad.ndjson"), BAD).expect("write");

    let out = run_in(
        dir.path(),
        &["ingest", "--db", "db", "--strict", "good.ndjson", "bad.ndjson"],
    );
    assert_code(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("bad.ndjson:2: ") && err.contains("bad.ndjson:3: "),
        "{err}"
    );
    assert!(!err.contains("good.ndjson:"), "{err}");
    assert!(stdout(&out).contains("records 0 "), "{}", stdout(&out));

    for twin in ["g", "t1"] {
        let out = run_in(dir.path(), &["events", "--db", "db", "--twin", twin]);
        assert_code(&out, 1);
        assert!(
            stderr(&out).contains("unknown twin"),
            "{twin} was written: {}",
            stderr(&out)
        );
    }
    let out = run_in(dir.path(), &["stats", "--db", "db", "--json"]);
    let stats: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (stats["records"].clone(), stats["points"].clone()),
        (json!(0), json!(0))
    );

    // The good file alone passes.
    let out = run_in(dir.path(), &["ingest", "--db", "db", "--strict", "good.ndjson"]);
    assert_code(&out, 0);
}

#[test]
fn line_numbers_stay_right_across_chunks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_in(dir.path());
    let mut input = String::new();
    for line in 1..=50 {
        match line {
            7 | 23 => input.push_str("{not json\n"),
            // Longer than a chunk: read on to its end, do not cut it.
            30 => input.push_str(&format!(
                "{{\"$dtId\":\"c\",\"$ts\":{},\"Note\":\"{}\"}}\n",
                1_767_225_600_000u64 + line,
                "x".repeat(300)
            )),
            50 => input.push_str("{\"T\":1}"), // no $dtId, no final newline
            _ => input.push_str(&format!(
                "{{\"$dtId\":\"c\",\"$ts\":{},\"T\":{line}}}\n",
                1_767_225_600_000u64 + line
            )),
        }
    }
    let path = dir.path().join("chunked.ndjson");
    std::fs::write(&path, &input).expect("write");
    let path = path.to_str().expect("path");
    let out = run(&["ingest", "--db", &db, "--chunk-bytes", "64", path]);
    assert_code(&out, 2);
    let err = stderr(&out);
    let located: Vec<&str> = err
        .lines()
        .map(|l| {
            l.strip_prefix(path)
                .and_then(|rest| rest.split(": ").next())
                .unwrap_or(l)
        })
        .collect();
    assert_eq!(located, [":7", ":23", ":50"], "{err}");
    assert!(stdout(&out).contains("records 47 "), "{}", stdout(&out));

    let out = run(&["events", "--db", &db, "--twin", "c", "--props", "Note"]);
    assert_code(&out, 0);
    let events = ndjson(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["Note"].as_str().map(str::len), Some(300));
}

#[test]
fn stdin_is_read_when_no_file_or_dash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_in(dir.path());
    let out = run_with_stdin(
        &["ingest", "--db", &db],
        b"{\"$dtId\":\"t2\",\"$ts\":1767225600000,\"T\":2.5}\n",
    );
    assert_code(&out, 0);
    let out = run_with_stdin(
        &["ingest", "--db", &db, "-"],
        b"{\"$dtId\":\"t2\",\"$ts\":\"2026-01-01T00:00:01Z\",\"T\":\n",
    );
    assert_code(&out, 2);
    assert!(stderr(&out).starts_with("<stdin>:1: "), "{}", stderr(&out));

    let out = run(&["events", "--db", &db, "--twin", "t2"]);
    assert_eq!(
        ndjson(&out),
        vec![json!({"$dtId": "t2", "$ts": "2026-01-01T00:00:00Z", "T": 2.5})]
    );
}

#[test]
fn timestamp_property_and_durability_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_in(dir.path());
    let out = run_with_stdin(
        &[
            "ingest",
            "--db",
            &db,
            "--durability",
            "sync",
            "--timestamp-property",
            "time",
        ],
        b"{\"$dtId\":\"t3\",\"time\":\"2026-01-01T00:00:05Z\",\"T\":1}\n",
    );
    assert_code(&out, 0);
    for durability in ["group", "none"] {
        let out = run_with_stdin(
            &["ingest", "--db", &db, "--durability", durability],
            b"{\"$dtId\":\"t3\",\"$ts\":\"2026-01-01T00:00:06Z\",\"T\":2}\n",
        );
        assert_code(&out, 0);
    }
    let out = run(&["events", "--db", &db, "--twin", "t3"]);
    let times: Vec<Value> = ndjson(&out).iter().map(|e| e["$ts"].clone()).collect();
    assert_eq!(
        times,
        ["2026-01-01T00:00:05Z", "2026-01-01T00:00:06Z", "2026-01-01T00:00:06Z"]
    );
    let out = run(&["ingest", "--db", &db, "--durability", "sometimes"]);
    assert_code(&out, 1); // a usage error; 2 is kept for rejected lines
    assert!(stderr(&out).contains("sometimes"), "{}", stderr(&out));
}

#[test]
fn errors_exit_with_one_and_say_why() {
    let (dir, db) = adt_store();

    let out = run(&["events", "--db", &db, "--twin", "nobody"]);
    assert_code(&out, 1);
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains(r#"unknown twin "nobody""#), "{}", stderr(&out));
    let out = run(&["latest", "--db", &db, "--twin", "nobody"]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains("unknown twin"), "{}", stderr(&out));

    let out = run(&["events", "--db", &db, "--twin", "thermostat67", "--from", "noon"]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("--from") && stderr(&out).contains("noon"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "events",
        "--db",
        &db,
        "--twin",
        "thermostat67",
        "--to",
        "2026-13-01T00:00:00Z",
    ]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains("--to"), "{}", stderr(&out));

    // Reading commands do not create a store.
    let missing = dir.path().join("missing").display().to_string();
    for sub in ["events", "latest"] {
        let out = run(&[sub, "--db", &missing, "--twin", "x"]);
        assert_code(&out, 1);
        assert!(stderr(&out).contains("no database"), "{}", stderr(&out));
    }
    let out = run(&["stats", "--db", &missing]);
    assert_code(&out, 1);
    assert!(!dir.path().join("missing").exists());

    // An input that cannot be read: nothing happens.
    let out = run(&["ingest", "--db", &missing, "/nonexistent/input.ndjson"]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains("/nonexistent/input.ndjson"), "{}", stderr(&out));
}

#[test]
fn a_store_held_by_another_process_is_locked() {
    let (_dir, db) = adt_store();
    let held = twinstore::Store::open(&db, twinstore::Options::default()).expect("open");
    for args in [
        vec!["stats", "--db", &db],
        vec!["events", "--db", &db, "--twin", "thermostat67"],
        vec!["ingest", "--db", &db, "--format", "adt", ADT],
    ] {
        let out = run(&args);
        assert_code(&out, 1);
        assert!(stderr(&out).contains("locked"), "{args:?}: {}", stderr(&out));
    }
    drop(held);
    assert_code(&run(&["stats", "--db", &db]), 0);
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_in(dir.path());
    let mut input = String::new();
    for i in 0..20_000u64 {
        input.push_str(&format!(
            "{{\"$dtId\":\"many\",\"$ts\":{},\"Temperature\":{}.5}}\n",
            1_767_225_600_000 + i,
            i
        ));
    }
    assert_code(&run_with_stdin(&["ingest", "--db", &db], input.as_bytes()), 0);

    let mut child = bin()
        .args(["events", "--db", &db, "--twin", "many"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("read");
    assert!(
        first.starts_with(r#"{"$dtId":"many","$ts":"2026-01-01T00:00:00Z""#),
        "{first}"
    );
    drop(reader); // like `| head -1`
    let out = child.wait_with_output().expect("wait");
    assert_code(&out, 0);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn every_command_has_help_with_an_example() {
    let out = run(&["--help"]);
    assert_code(&out, 0);
    assert!(stdout(&out).contains("digital twins"), "{}", stdout(&out));
    for sub in [
        "ingest", "events", "latest", "stats", "flush", "delete", "query", "check",
    ] {
        let out = run(&[sub, "--help"]);
        assert_code(&out, 0);
        let help = stdout(&out);
        assert!(help.contains("Example"), "{sub}: {help}");
        assert!(help.contains(&format!("twinstore {sub} --db")), "{sub}: {help}");
        assert!(help.contains("--db <DIR>"), "{sub}: {help}");
    }
}

#[test]
fn flush_moves_everything_cold_and_events_stay_the_same() {
    let (_dir, db) = adt_store();
    let before = stdout(&run(&["events", "--db", &db, "--twin", "room-12"]));
    let out = run(&["flush", "--db", &db]);
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains("flushed: 6 records, 13 points in 1 files"),
        "{}",
        stderr(&out)
    );
    let stats: Value = serde_json::from_slice(&run(&["stats", "--db", &db, "--json"]).stdout).expect("JSON");
    assert_eq!(stats["files"], 1);
    assert_eq!(stats["warm_bytes"], 0);
    assert_eq!(stats["records"], 6);
    assert_eq!(stats["points"], 13);
    assert!(stats["cold_bytes"].as_u64().is_some_and(|b| b > 0), "{stats}");
    // Every WAL frame is in the segment file: the log is gone.
    let wal = Path::new(&db).join("wal");
    assert_eq!(std::fs::read_dir(&wal).expect("wal dir").count(), 0);
    assert_eq!(stdout(&run(&["events", "--db", &db, "--twin", "room-12"])), before);
}

#[test]
fn delete_removes_a_range_then_the_whole_twin() {
    let (_dir, db) = adt_store();
    // thermostat67 has events at 08:00:00 and 08:01:00.5 (the fixture).
    let out = run(&[
        "delete",
        "--db",
        &db,
        "--twin",
        "thermostat67",
        "--from",
        "2026-01-01T08:01:00Z",
    ]);
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains("deleted 1 records of thermostat67"),
        "{}",
        stderr(&out)
    );
    let events = ndjson(&run(&["events", "--db", &db, "--twin", "thermostat67"]));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["Temperature"], json!(20.5));
    let out = run(&["delete", "--db", &db, "--twin", "thermostat67"]);
    assert_code(&out, 0);
    assert!(ndjson(&run(&["events", "--db", &db, "--twin", "thermostat67"])).is_empty());
    // Other twins are untouched.
    assert_eq!(ndjson(&run(&["events", "--db", &db, "--twin", "room-12"])).len(), 3);
    let out = run(&["delete", "--db", &db, "--twin", "nobody"]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains("nobody"), "{}", stderr(&out));
}

#[test]
fn query_answers_tsi_bodies_from_a_file_or_stdin() {
    let (dir, db) = adt_store();
    // thermostat67: 20.5 (Double) at 08:00:00.12, 21 (Long) at 08:01:00.5: a variable that
    // reads both columns averages (20.5 + 21) / 2 = 20.75 in the 08:00 hour.
    let body = r#"{"aggregateSeries": {"timeSeriesId": ["thermostat67"],
        "searchSpan": {"from": "2026-01-01T08:00:00Z", "to": "2026-01-01T09:00:00Z"}, "interval": "PT1H",
        "inlineVariables": {
          "T": {"kind": "numeric", "value": {"tsx": "coalesce($event.Temperature.Double, toDouble($event.Temperature.Long))"},
                "aggregation": {"tsx": "avg($value)"}},
          "n": {"kind": "aggregate", "aggregation": {"tsx": "count()"}}}}}"#;
    let file = dir.path().join("q.json");
    std::fs::write(&file, body).expect("write body");
    let from_file = run(&["query", "--db", &db, &file.display().to_string()]);
    assert_code(&from_file, 0);
    let answer: Value = serde_json::from_slice(&from_file.stdout).expect("JSON answer");
    assert_eq!(
        answer,
        json!({
            "timestamps": ["2026-01-01T08:00:00Z"],
            "properties": [
                {"name": "T", "type": "Double", "values": [20.75]},
                {"name": "n", "type": "Long", "values": [2]}
            ],
            "progress": 100.0
        })
    );
    let from_stdin = run_with_stdin(&["query", "--db", &db, "--pretty"], body.as_bytes());
    assert_code(&from_stdin, 0);
    assert!(
        stdout(&from_stdin).contains("\n  \"timestamps\""),
        "{}",
        stdout(&from_stdin)
    );
    let again: Value = serde_json::from_slice(&from_stdin.stdout).expect("JSON answer");
    assert_eq!(again, answer);

    // getEvents with a filter: only the Mode event of thermostat67 says "Heat".
    let out = run_with_stdin(
        &["query", "--db", &db, "-"],
        br#"{"getEvents": {"timeSeriesId": ["thermostat67"],
            "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
            "filter": {"tsx": "$event.Mode.String = 'Heat'"}, "projectedProperties": [{"name": "Mode", "type": "String"}]}}"#,
    );
    assert_code(&out, 0);
    let events: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(events["timestamps"], json!(["2026-01-01T08:01:00.5Z"]));
    assert_eq!(
        events["properties"],
        json!([{"name": "Mode", "type": "String", "values": ["Heat"]}])
    );
}

#[test]
fn query_errors_exit_with_one_and_say_why() {
    let (_dir, db) = adt_store();
    let out = run_with_stdin(&["query", "--db", &db], b"{\"getEvents\": ");
    assert_code(&out, 1);
    assert!(stderr(&out).contains("malformed query"), "{}", stderr(&out));
    let out = run_with_stdin(
        &["query", "--db", &db],
        br#"{"getEvents": {"timeSeriesId": ["thermostat67"],
            "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
            "filter": {"tsx": "$event.Mode.String > 3"}}}"#,
    );
    assert_code(&out, 1);
    assert!(stderr(&out).contains("position"), "{}", stderr(&out));
    let out = run_with_stdin(
        &["query", "--db", &db],
        br#"{"getEvents": {"timeSeriesId": ["nobody"],
            "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}}}"#,
    );
    assert_code(&out, 1);
    assert!(stderr(&out).contains("unknown twin"), "{}", stderr(&out));
    let out = run(&["query", "--db", &db, "/no/such/file.json"]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("cannot read /no/such/file.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_reports_every_problem_and_exits_one() {
    let (dir, db) = adt_store();
    let out = run(&["check", "--db", &db]);
    assert_code(&out, 0);
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));
    // The check's own open rewrote the model file (the ingest's Twin.Create in it) as one
    // snapshot: one frame.
    assert!(stdout(&out).contains(" 1 model file frames,"), "{}", stdout(&out));
    assert_code(&run(&["flush", "--db", &db]), 0);
    let seg = std::fs::read_dir(Path::new(&db).join("cold"))
        .expect("cold dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .expect("a segment file");
    let mut bytes = std::fs::read(&seg).expect("read segment");
    bytes[20] ^= 0xff;
    std::fs::write(&seg, bytes).expect("write segment");
    let out = run(&["check", "--db", &db]);
    assert_code(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains(&seg.display().to_string()) && text.contains("at byte"),
        "{text}"
    );
    assert!(text.contains("DAMAGED") && text.contains("1 problems"), "{text}");
    let json: Value = serde_json::from_slice(&run(&["check", "--db", &db, "--json"]).stdout).expect("JSON");
    assert_eq!(json["ok"], false);
    assert_eq!(json["problems"].as_array().map(Vec::len), Some(1));
    // Not a database at all: an error, exit 1.
    let out = run(&["check", "--db", &dir.path().join("nothing").display().to_string()]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains("no database"), "{}", stderr(&out));
}

#[test]
fn backup_copies_a_database_that_opens_with_the_same_events() {
    let (dir, db) = adt_store();
    let dest = dir.path().join("backup").display().to_string();
    let out = run(&["backup", "--db", &db, "--to", &dest, "--json"]);
    assert_code(&out, 0);
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // Six Twin.Update events of the ADT fixture, each one event.
    assert_eq!(json["records"], 6, "{json}");
    assert_eq!(json["files"], 1, "{json}");
    for twin in ["thermostat67", "room-12"] {
        let original = run(&["events", "--db", &db, "--twin", twin]);
        let copy = run(&["events", "--db", &dest, "--twin", twin]);
        assert_code(&copy, original.status.code().unwrap_or(-1));
        assert_eq!(stdout(&copy), stdout(&original), "{twin}");
    }
    assert_code(&run(&["check", "--db", &dest]), 0);
    // The destination is not empty any more: refused, exit 1, with a reason.
    let again = run(&["backup", "--db", &db, "--to", &dest]);
    assert_code(&again, 1);
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
}

#[test]
fn compact_merges_segment_files() {
    let (dir, db) = adt_store();
    assert_code(&run(&["flush", "--db", &db]), 0);
    let more = dir.path().join("more.ndjson");
    std::fs::write(&more, "{\"$dtId\":\"t9\",\"$ts\":\"2026-01-01T00:00:00Z\",\"T\":1.5}\n").expect("write input");
    assert_code(&run(&["ingest", "--db", &db, &more.display().to_string()]), 0);
    assert_code(&run(&["flush", "--db", &db]), 0);
    let out = run(&["compact", "--db", &db]);
    assert_code(&out, 0);
    assert!(stderr(&out).contains("2 -> 1 segment files"), "{}", stderr(&out));
    let stats: Value = serde_json::from_slice(&run(&["stats", "--db", &db, "--json"]).stdout).expect("JSON");
    assert_eq!(stats["files"], 1);
    assert_eq!(stats["records"], 7);
}

#[test]
fn export_then_import_through_the_command_line() {
    let (dir, db) = adt_store();
    let out = dir.path().join("export").display().to_string();
    let exported = run(&["export", "--db", &db, "--out", &out, "--json"]);
    assert_code(&exported, 0);
    let json: Value = serde_json::from_slice(&exported.stdout).expect("JSON");
    assert_eq!(json["rows"], 6, "{json}");
    let files = json["files"].as_array().expect("files");
    assert!(!files.is_empty());
    for f in files {
        let f = f.as_str().expect("path");
        assert!(
            f.contains("/V=1/PT=Time/Y=") && f.ends_with("_twinstore.parquet"),
            "{f}"
        );
        assert!(Path::new(f).is_file(), "{f}");
    }
    let copy = dir.path().join("copy").display().to_string();
    let imported = run(&["import", "--db", &copy, &out]);
    assert_code(&imported, 0);
    // Removals do not survive Parquet: room-12's event holding only a removal is a row of
    // nulls, skipped on import.
    assert!(
        stderr(&imported).contains("imported 5 records") && stderr(&imported).contains("1 rows without values skipped"),
        "{}",
        stderr(&imported)
    );
    // The same events, with times cut to microseconds (the fixture has 100 ns digits).
    let events = |db: &str, twin: &str| -> Vec<Value> {
        stdout(&run(&["events", "--db", db, "--twin", twin]))
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).expect("JSON line");
                let ts = twinstore::Timestamp::parse(v["$ts"].as_str().expect("$ts")).expect("time");
                v["$ts"] = Value::from(ts.as_nanos() / 1000);
                v
            })
            .collect()
    };
    for twin in ["thermostat67", "room-13"] {
        assert_eq!(events(&copy, twin), events(&db, twin), "{twin}");
    }
    // Not Parquet: exit 1, naming the file.
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, b"nope").expect("write");
    let out = run(&["import", "--db", &copy, &bad.display().to_string()]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains("bad.parquet"), "{}", stderr(&out));
}

#[test]
fn plot_writes_svg_and_png_charts() {
    let (dir, db) = adt_store();
    let svg = dir.path().join("chart.svg").display().to_string();
    let out = run(&[
        "plot",
        "--db",
        &db,
        "--twin",
        "thermostat67",
        "--twin",
        "room-12",
        "--prop",
        "Temperature",
        "--unit",
        "Temperature=°C",
        "--out",
        &svg,
        "--json",
    ]);
    assert_code(&out, 0);
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        json["series"],
        serde_json::json!(["thermostat67 · Temperature", "room-12 · Temperature"])
    );
    let text = std::fs::read_to_string(&svg).expect("svg");
    assert!(text.contains("thermostat67 · Temperature") && text.contains("Temperature (°C)"));
    let png = dir.path().join("chart.png").display().to_string();
    let out = run(&[
        "plot",
        "--db",
        &db,
        "--twin",
        "thermostat67",
        "--prop",
        "Temperature",
        "--out",
        &png,
        "--width",
        "500",
        "--height",
        "300",
    ]);
    assert_code(&out, 0);
    let bytes = std::fs::read(&png).expect("png");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().expect("width")), 500);
    // Not a chart format: exit 1 with the reason.
    let out = run(&[
        "plot",
        "--db",
        &db,
        "--twin",
        "thermostat67",
        "--prop",
        "T",
        "--out",
        "x.gif",
    ]);
    assert_code(&out, 1);
    assert!(stderr(&out).contains(".svg or .png"), "{}", stderr(&out));
}

#[test]
fn flush_compact_delete_and_import_print_json_for_scripts() {
    let (dir, db) = adt_store();
    let flushed: Value = serde_json::from_slice(&run(&["flush", "--db", &db, "--json"]).stdout).expect("flush JSON");
    assert_eq!(
        (flushed["records"].as_u64(), flushed["files"].as_u64()),
        (Some(6), Some(1))
    );
    let compacted: Value =
        serde_json::from_slice(&run(&["compact", "--db", &db, "--json"]).stdout).expect("compact JSON");
    assert_eq!(compacted["files"], 1);
    let deleted: Value =
        serde_json::from_slice(&run(&["delete", "--db", &db, "--twin", "thermostat67", "--json"]).stdout)
            .expect("delete JSON");
    assert_eq!(
        (deleted["deleted"].as_u64(), deleted["left"].as_u64()),
        (Some(2), Some(0))
    );
    let out = dir.path().join("export").display().to_string();
    assert_code(&run(&["export", "--db", &db, "--out", &out]), 0);
    let copy = dir.path().join("copy").display().to_string();
    let imported: Value =
        serde_json::from_slice(&run(&["import", "--db", &copy, &out, "--json"]).stdout).expect("import JSON");
    assert_eq!(imported["rejected"], 0);
    assert_eq!(imported["records"].as_u64(), Some(3), "{imported}");
}

#[test]
fn model_import_export_and_show() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_in(dir.path());
    assert_code(&run(&["ingest", "--db", &db, "--format", "adt", ADT]), 0);
    // A TSI export: one type, one hierarchy, one instance of a twin in the fixture, one
    // instance naming a type that does not exist.
    let tsi_model = serde_json::json!({
        "types": { "put": [{
            "id": "t-room", "name": "Room",
            "variables": { "CO2": { "kind": "numeric", "value": { "tsx": "$event['Sensors/CO2'].Long" }, "aggregation": { "tsx": "max($value)" } } }
        }] },
        "hierarchies": [{ "id": "h-site", "name": "Site", "source": { "instanceFieldNames": ["Floor"] } }],
        "instances": [
            { "timeSeriesId": ["room-12"], "typeId": "t-room", "name": "Room 12", "hierarchyIds": ["h-site"], "instanceFields": { "Floor": "4" } },
            { "timeSeriesId": ["ghost"], "typeId": "t-missing" }
        ]
    });
    let file = dir.path().join("model.json");
    std::fs::write(&file, serde_json::to_vec(&tsi_model).expect("json")).expect("write");
    let out = run(&["model", "import", "--db", &db, &file.display().to_string()]);
    assert_code(&out, 2);
    assert!(
        stdout(&out).contains("types 1  hierarchies 1  instances 2  refused 1"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("instances item 2: InvalidInput") && stderr(&out).contains("t-missing"),
        "{}",
        stderr(&out)
    );

    let out = run(&["model", "show", "--db", &db, "--twin", "room-12"]);
    assert_code(&out, 0);
    let instance: Value = serde_json::from_slice(&out.stdout).expect("instance JSON");
    assert_eq!(instance["name"], "Room 12");
    assert_eq!(instance["instanceFields"]["Floor"], "4");

    let out = run(&["model", "show", "--db", &db]);
    assert_code(&out, 0);
    assert!(
        stdout(&out).contains("type \"Room\" (t-room): 1 instance(s); variables: CO2"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("hierarchy \"Site\" (h-site): levels Floor; 1 instance(s)"),
        "{}",
        stdout(&out)
    );

    // Export what was put, and load it into a fresh store unchanged.
    let exported = dir.path().join("exported.json");
    assert_code(
        &run(&["model", "export", "--db", &db, "--out", &exported.display().to_string()]),
        0,
    );
    let model: Value = serde_json::from_slice(&std::fs::read(&exported).expect("read")).expect("JSON");
    assert_eq!(
        model["types"].as_array().map(Vec::len),
        Some(2),
        "the default type and Room"
    );
    assert_eq!(model["instances"].as_array().map(Vec::len), Some(1));
    let other = db_in(&dir.path().join("other"));
    assert_code(&run(&["ingest", "--db", &other, "--format", "adt", ADT]), 0);
    let out = run(&["model", "import", "--db", &other, &exported.display().to_string()]);
    assert_code(&out, 0);
    let out = run(&["model", "export", "--db", &other]);
    let again: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(again, model, "the round trip changes nothing");
}

#[test]
fn search_lists_nodes_and_instances() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_in(dir.path());
    assert_code(&run(&["ingest", "--db", &db, "--format", "adt", ADT]), 0);
    let model = serde_json::json!({
        "hierarchies": [{ "id": "h", "name": "Site", "source": { "instanceFieldNames": ["Floor"] } }],
        "instances": [
            { "timeSeriesId": ["room-12"], "name": "Room 12", "hierarchyIds": ["h"], "instanceFields": { "Floor": "4" } },
            { "timeSeriesId": ["floor4"], "hierarchyIds": ["h"], "instanceFields": { "Floor": "4" } }
        ]
    });
    let file = dir.path().join("model.json");
    std::fs::write(&file, serde_json::to_vec(&model).expect("json")).expect("write");
    assert_code(&run(&["model", "import", "--db", &db, &file.display().to_string()]), 0);
    let out = run(&["search", "--db", &db]);
    assert_code(&out, 0);
    // The hierarchy with its two instances, then the one in no hierarchy (of the type
    // derived from its model id).
    assert_eq!(
        stdout(&out),
        "Site/  (2 instances)\nthermostat67  type dtmi:contosocom:DigitalTwins:Thermostat;1\n"
    );
    let out = run(&["search", "--db", &db, "room", "--path", "Site/4"]);
    assert_code(&out, 0);
    assert_eq!(
        stdout(&out),
        "room-12  \"Room 12\"  type 1be09af9-f089-4d6b-9f0b-48018b5f7393\n"
    );
}
