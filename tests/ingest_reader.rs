//! `Store::ingest_reader`: a stream ingested in line-aligned chunks stores exactly what the
//! lines say, numbers rejected lines over the whole stream, and keeps what went in before a
//! read error. Expectations are written by hand from the input lines.

use std::io::Read;

use twinstore::{Error, EventsQuery, IngestOptions, Options, Store, Timestamp, Value};

const INPUT: &str = concat!(
    "{\"$dtId\":\"a\",\"$ts\":\"2026-01-01T00:00:00Z\",\"T\":1.5}\n",
    "{\"$dtId\":\"b\",\"$ts\":\"2026-01-01T00:00:01Z\",\"Mode\":\"heat\"}\n",
    "{\"$dtId\":\"a\",\"$ts\":\"2026-01-01T00:00:02Z\",\"T\":2.5}\n",
    "{\"$dtId\":\"b\",\"$ts\":\"2026-01-01T00:00:03Z\",\"Mode\":\"cool\",\"Fan\":3}\n",
    "{\"$dtId\":\"a\",\"$ts\":\"2026-01-01T00:00:04Z\",\"T\":-4.0}\n",
);

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("open");
    (dir, store)
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_nanos(1_767_225_600_000_000_000 + second * 1_000_000_000)
}

/// (second, name, value) of every stored event of `twin`, in order.
fn stored(store: &Store, twin: &str) -> Vec<(i64, String, Value)> {
    let mut out = Vec::new();
    for e in store.events(&EventsQuery::new(twin)).expect("events") {
        for (name, value) in e.values {
            let second = (e.ts.as_nanos() - at(0).as_nanos()) / 1_000_000_000;
            out.push((second, name.to_string(), value));
        }
    }
    out
}

fn expected_a() -> Vec<(i64, String, Value)> {
    vec![
        (0, "T".into(), Value::Double(1.5)),
        (2, "T".into(), Value::Double(2.5)),
        (4, "T".into(), Value::Double(-4.0)),
    ]
}

fn expected_b() -> Vec<(i64, String, Value)> {
    vec![
        (1, "Mode".into(), Value::String("heat".into())),
        (3, "Fan".into(), Value::Long(3)),
        (3, "Mode".into(), Value::String("cool".into())),
    ]
}

fn sorted(mut v: Vec<(i64, String, Value)>) -> Vec<(i64, String, Value)> {
    v.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
    v
}

#[test]
fn any_chunk_size_stores_exactly_the_lines() {
    for chunk in [1, 7, 64, 1 << 20] {
        let (_dir, store) = store();
        let mut chunks = 0;
        let report = store
            .ingest_reader_chunked(INPUT.as_bytes(), &IngestOptions::default(), chunk, |_, bytes| {
                assert!(bytes > 0);
                chunks += 1;
            })
            .expect("ingest");
        assert_eq!((report.records, report.points), (5, 6), "chunk {chunk}");
        assert!(report.rejected.is_empty());
        assert_eq!(stored(&store, "a"), expected_a(), "chunk {chunk}");
        assert_eq!(sorted(stored(&store, "b")), expected_b(), "chunk {chunk}");
        // Lines are 51, 57, 51, 65 and 52 bytes. A chunk smaller than a line still cuts at
        // line ends: one call per line. 64-byte chunks: line 1, line 2, line 3, then line 4
        // does not end within 64 bytes, so reading goes on to the end: lines 4 and 5.
        let expected_chunks = match chunk {
            1 | 7 => 5,
            64 => 4,
            _ => 1,
        };
        assert_eq!(chunks, expected_chunks, "chunk {chunk}");
    }
}

#[test]
fn a_final_line_without_a_newline_is_stored() {
    let (_dir, store) = store();
    let input = INPUT.trim_end_matches('\n');
    let report = store.ingest_reader_chunked(input.as_bytes(), &IngestOptions::default(), 7, |_, _| {});
    assert_eq!(report.expect("ingest").records, 5);
    assert_eq!(stored(&store, "a"), expected_a());
}

#[test]
fn rejected_lines_are_numbered_over_the_whole_stream() {
    let lines: Vec<&str> = INPUT.lines().collect();
    let input = format!(
        "{}\nnot json\n{}\n{}\n{{\"$dtId\":\"a\"}}\n{}\n",
        lines[0], lines[1], lines[2], lines[3]
    );
    for chunk in [7, 1 << 20] {
        let (_dir, store) = store();
        let report = store
            .ingest_reader_chunked(input.as_bytes(), &IngestOptions::default(), chunk, |_, _| {})
            .expect("ingest");
        let lines: Vec<u64> = report.rejected.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 5], "chunk {chunk}");
        assert_eq!(report.records, 4, "chunk {chunk}");
    }
    // Numbering starts at `first_line`.
    let (_dir, store) = store();
    let options = IngestOptions {
        first_line: 100,
        ..Default::default()
    };
    let report = store.ingest_reader(input.as_bytes(), &options).expect("ingest");
    let lines: Vec<u64> = report.rejected.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![101, 104]);
}

/// Yields `ok` bytes of its input, then fails.
struct FailingReader<'a> {
    data: &'a [u8],
    ok: usize,
}

impl Read for FailingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::other("the disk went away"));
        }
        let n = buf.len().min(self.ok).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn a_read_error_fails_the_call_and_keeps_the_whole_chunks_before_it() {
    let (_dir, store) = store();
    // The first two lines are 51 and 57 bytes; fail 20 bytes into the third line. With
    // 60-byte chunks, the first two chunks (one line each) are in before the failure.
    let first_two = INPUT.lines().take(2).map(|l| l.len() + 1).sum::<usize>();
    let reader = FailingReader {
        data: INPUT.as_bytes(),
        ok: first_two + 20,
    };
    let err = store
        .ingest_reader_chunked(reader, &IngestOptions::default(), 60, |_, _| {})
        .expect_err("the read fails");
    match &err {
        Error::Io { path, source } => {
            assert_eq!(path.to_str(), Some("<reader>"));
            let message = source.to_string();
            assert!(message.contains("the disk went away"), "{message}");
            assert!(
                message.contains(&format!("after {} bytes", first_two + 20)),
                "{message}"
            );
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert_eq!(stored(&store, "a"), vec![(0, "T".into(), Value::Double(1.5))]);
    assert_eq!(
        stored(&store, "b"),
        vec![(1, "Mode".into(), Value::String("heat".into()))]
    );
}

#[test]
fn strict_is_refused_before_anything_is_written() {
    let (_dir, store) = store();
    let options = IngestOptions {
        strict: Some(true),
        ..Default::default()
    };
    let err = store.ingest_reader(INPUT.as_bytes(), &options).expect_err("refused");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(store.twins().expect("twins").is_empty());
}
