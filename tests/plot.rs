//! Charts: a PNG whose signature and size are checked, an SVG that holds every series.
#![cfg(feature = "plot")]

use twinstore::plot::{PlotSpec, plot};
use twinstore::{Error, Options, Record, Store, Timestamp};

fn t(s: i64) -> Timestamp {
    Timestamp::from_millis(1_767_225_600_000 + s * 1000).expect("time")
}

fn store(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, Options::default().background_maintenance(false)).expect("open");
    let mut records = Vec::new();
    for i in 0..3_000i64 {
        // 3,000 points per line: more than four per pixel column of a 400-pixel chart.
        records.push(Record::new("a", t(i)).with("T", 20.0 + (i as f64 / 100.0).sin()));
        records.push(Record::new("b", t(i)).with("T", 18.0 + (i % 7) as f64));
    }
    records.push(Record::new("c", t(10)).with("T", 25i64));
    store.write(&records).expect("write");
    store
}

fn spec(twins: &[&str], width: u32, height: u32) -> PlotSpec {
    PlotSpec {
        twins: twins.iter().map(|s| s.to_string()).collect(),
        properties: vec!["T".into()],
        from: t(0),
        to: t(3_000),
        units: vec![("T".into(), "°C".into())],
        title: Some("Temperature".into()),
        width,
        height,
    }
}

#[test]
fn png_has_the_requested_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir.path().join("db"));
    let out = dir.path().join("chart.png");
    let report = plot(&store, &spec(&["a", "b"], 640, 360), &out).expect("plot");
    assert_eq!(report.series, ["a · T", "b · T"]);
    // Reduced to at most 4 points per pixel column (and at least the shape's points).
    assert!(report.points <= 2 * 4 * 640 && report.points > 100, "{}", report.points);
    let bytes = std::fs::read(&out).expect("read png");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().expect("4 bytes"));
    let height = u32::from_be_bytes(bytes[20..24].try_into().expect("4 bytes"));
    assert_eq!((width, height), (640, 360));
}

#[test]
fn svg_holds_every_series_and_the_axis_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir.path().join("db"));
    let out = dir.path().join("chart.svg");
    let report = plot(&store, &spec(&["a", "b", "c"], 400, 300), &out).expect("plot");
    assert_eq!(report.series, ["a · T", "b · T", "c · T"]);
    let svg = std::fs::read_to_string(&out).expect("read svg");
    assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
    for text in ["a · T", "b · T", "c · T", "T (°C)", "time (UTC)", "Temperature"] {
        assert!(svg.contains(text), "the SVG lacks {text:?}");
    }
    // One polyline per series with many points; c's single value is drawn as a mark.
    let lines = svg.matches("<polyline").count();
    assert!(lines >= 2, "{lines} polylines");
    assert!(svg.contains("<circle"), "no point marks");
}

#[test]
fn bad_specs_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir.path().join("db"));
    let out = dir.path().join("chart.gif");
    assert!(matches!(
        plot(&store, &spec(&["a"], 400, 300), &out),
        Err(Error::InvalidArgument(_))
    ));
    let mut empty = spec(&["a"], 400, 300);
    empty.to = empty.from;
    assert!(matches!(
        plot(&store, &empty, &dir.path().join("x.svg")),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        plot(&store, &spec(&["nobody"], 400, 300), &dir.path().join("x.svg")),
        Err(Error::UnknownTwin(_))
    ));
}
