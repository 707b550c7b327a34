//! `aggregateSeries` against a naive reference: random series, random bucket sizes and
//! spans, random warm/cold splits, every aggregation (plain and interpolated, Step and
//! Linear, with and without a boundary span), and a query filter.
//!
//! The reference computes each bucket on its own straight from the definitions in the crate
//! docs: the values of the events in the bucket, and for interpolation a piecewise signal
//! integrated between consecutive breakpoints. `first`, `last` and `median` are by event, as
//! TSI's TSX syntax reference defines them ("`$value` of the first / last event by event
//! time", "of the middle event in the interval by event time stamp", not avoiding nulls): the
//! event's value, null when that event carries no `v`.

use std::time::Duration;

use proptest::prelude::*;
use twinstore::{AggregateSeriesQuery, Interpolation, Options, Record, Store, Timestamp, Value, Variable};

const S: i64 = 1_000_000_000;

#[derive(Clone, Debug)]
struct Event {
    /// Seconds.
    t: i64,
    /// The value (None: the event carries only the other property).
    v: Option<f64>,
    /// The other property, used by the filter.
    flag: bool,
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        (
            0i64..400,
            prop::option::weighted(0.85, (-50i32..50).prop_map(|x| f64::from(x) / 4.0)),
            any::<bool>(),
        )
            .prop_map(|(t, v, flag)| Event { t, v, flag }),
        0..60,
    )
}

/// The value of the event `first`, `last` or `median` picks among the bucket's events (by
/// time, equal times in write order): the first, the last, or the earlier middle one.
fn picked(name: &str, events: &[Option<f64>]) -> Option<f64> {
    let i = match name {
        "first" => 0,
        "last" => events.len().checked_sub(1)?,
        "median" => events.len().checked_sub(1)? / 2,
        _ => unreachable!(),
    };
    events.get(i).copied().flatten()
}

/// Plain aggregation of the values of a bucket (events in write order).
fn plain(name: &str, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    Some(match name {
        "min" => values.iter().copied().fold(f64::INFINITY, f64::min),
        "max" => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "sum" => values.iter().sum(),
        "avg" => values.iter().sum::<f64>() / n,
        "stdev" => {
            if values.len() == 1 {
                0.0
            } else {
                let mean = values.iter().sum::<f64>() / n;
                (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            }
        }
        _ => unreachable!(),
    })
}

/// The interpolated signal over points (seconds, value) in write order.
struct Signal {
    /// Distinct times, each with the value of its last write.
    points: Vec<(f64, f64)>,
    step: bool,
}

impl Signal {
    fn new(mut raw: Vec<(i64, f64)>, step: bool) -> Self {
        raw.sort_by_key(|p| p.0); // stable: write order within a time
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (t, v) in raw {
            let t = t as f64;
            match points.last_mut() {
                Some(last) if last.0 == t => last.1 = v,
                _ => points.push((t, v)),
            }
        }
        Signal { points, step }
    }

    fn at(&self, t: f64) -> Option<f64> {
        let first = self.points.first()?;
        if t < first.0 {
            return None;
        }
        let i = self.points.partition_point(|p| p.0 <= t) - 1;
        if self.step {
            return Some(self.points[i].1);
        }
        let (t0, v0) = self.points[i];
        if t0 == t {
            return Some(v0);
        }
        let (t1, v1) = *self.points.get(i + 1)?;
        Some(v0 + (v1 - v0) * (t - t0) / (t1 - t0))
    }

    /// Integral and defined length over [a, b).
    fn integral(&self, a: f64, b: f64) -> (f64, f64) {
        let mut cuts: Vec<f64> = vec![a, b];
        cuts.extend(self.points.iter().map(|p| p.0).filter(|&t| t > a && t < b));
        cuts.sort_by(f64::total_cmp);
        let mut area = 0.0;
        let mut length = 0.0;
        for w in cuts.windows(2) {
            let (x, y) = (w[0], w[1]);
            if y <= x {
                continue;
            }
            let defined = match (self.points.first(), self.points.last()) {
                (Some(f), Some(l)) => x >= f.0 && (self.step || y <= l.0),
                _ => false,
            };
            if !defined {
                continue;
            }
            let (Some(sx), end) = (self.at(x), if self.step { self.at(x) } else { self.at(y) }) else {
                continue;
            };
            let Some(sy) = end else { continue };
            area += (y - x) * (sx + sy) / 2.0;
            length += y - x;
        }
        (area, length)
    }
}

#[derive(Clone, Debug)]
struct Case {
    events: Vec<Event>,
    /// Events before this index are flushed to the cold tier before the rest are written.
    split: usize,
    from: i64,
    len: i64,
    interval: i64,
    boundary: i64,
    filter: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        events(),
        0usize..60,
        -20i64..300,
        0i64..300,
        prop::sample::select(vec![1i64, 7, 30, 60, 90, 250]),
        prop::sample::select(vec![0i64, 10, 60, 1000]),
        any::<bool>(),
    )
        .prop_map(|(events, split, from, len, interval, boundary, filter)| Case {
            split: split.min(events.len()),
            events,
            from,
            len,
            interval,
            boundary,
            filter,
        })
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        (None, None) => true,
        _ => false,
    }
}

fn run(case: &Case) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).unwrap();
    // Seconds since the epoch; not a multiple of most intervals, so buckets are unaligned to it.
    let base = 1_800_000_000i64;
    let record = |e: &Event| {
        let mut r = Record::new("tw", Timestamp::from_nanos((base + e.t) * S)).with("flag", e.flag);
        if let Some(v) = e.v {
            r = r.with("v", v);
        }
        r
    };
    for (i, e) in case.events.iter().enumerate() {
        if i == case.split && i > 0 {
            store.flush().unwrap();
        }
        store.write(&[record(e)]).unwrap();
    }
    if case.events.is_empty() {
        store
            .write(&[Record::new("tw", Timestamp::from_nanos(0)).with("flag", true)])
            .unwrap();
    }
    let from = base + case.from;
    let to = from + case.len;
    let plain_names = ["min", "max", "sum", "avg", "first", "last", "median", "stdev"];
    let interp_names = ["left", "right", "twavg", "twsum"];
    let mut q = AggregateSeriesQuery::new(
        "tw",
        Timestamp::from_nanos(from * S),
        Timestamp::from_nanos(to * S),
        Duration::from_secs(case.interval as u64),
    );
    for name in plain_names {
        q = q.variable(name, Variable::numeric("$event.v.Double", format!("{name}($value)")));
    }
    for kind in [Interpolation::Step, Interpolation::Linear] {
        for name in interp_names {
            q = q.variable(
                format!("{name}-{kind:?}"),
                Variable::numeric("$event.v.Double", format!("{name}($value)"))
                    .interpolation(kind, Duration::from_secs(case.boundary as u64)),
            );
        }
    }
    q = q.variable("count", Variable::aggregate("count()"));
    if case.filter {
        q = q.filter("$event.flag.Bool = TRUE");
    }
    let frames = store.aggregate_series(&q).unwrap();
    prop_assert_eq!(frames.len(), 1);
    let frame = &frames[0].frame;

    // The reference.
    let kept: Vec<&Event> = case.events.iter().filter(|e| !case.filter || e.flag).collect();
    let first_start = from.div_euclid(case.interval) * case.interval;
    let buckets = if case.len == 0 {
        0
    } else {
        (to - first_start + case.interval - 1) / case.interval
    };
    prop_assert_eq!(frame.timestamps.len() as i64, buckets);
    for b in 0..buckets {
        let start = first_start + b * case.interval;
        let end = start + case.interval;
        prop_assert_eq!(frame.timestamps[b as usize], Timestamp::from_nanos(start * S));
        let in_bucket: Vec<&&Event> = kept
            .iter()
            .filter(|e| {
                let t = base + e.t;
                t >= from && t < to && t >= start && t < end
            })
            .collect();
        // By time; equal times in write order (a stable sort).
        let mut in_time = in_bucket.clone();
        in_time.sort_by_key(|e| e.t);
        let values: Vec<f64> = in_time.iter().filter_map(|e| e.v).collect();
        let by_event: Vec<Option<f64>> = in_time.iter().map(|e| e.v).collect();
        for name in plain_names {
            let got = frame.doubles(name).unwrap()[b as usize];
            let want = match name {
                "first" | "last" | "median" => picked(name, &by_event),
                _ => plain(name, &values),
            };
            prop_assert!(close(got, want), "{} bucket {}: got {:?} want {:?}", name, b, got, want);
        }
        let count = frame.column("count").unwrap().values[b as usize].clone();
        prop_assert_eq!(count, Some(Value::Long(in_bucket.len() as i64)));
        // Interpolation input: values in the span plus the neighbours within the boundary.
        let all: Vec<(i64, f64)> = kept.iter().filter_map(|e| e.v.map(|v| (base + e.t, v))).collect();
        let before = all
            .iter()
            .filter(|p| p.0 < from && p.0 >= from - case.boundary && case.boundary > 0)
            .max_by_key(|p| p.0)
            .map(|p| p.0);
        let after = all
            .iter()
            .filter(|p| p.0 >= to && p.0 < to + case.boundary && case.boundary > 0)
            .min_by_key(|p| p.0)
            .map(|p| p.0);
        let mut input: Vec<(i64, f64)> = all.iter().copied().filter(|p| p.0 >= from && p.0 < to).collect();
        // The single nearest neighbour on each side: the last write before `from` (at its
        // latest time) and the first write at or after `to` (at its earliest).
        if let Some(t) = before {
            input.push(*all.iter().rfind(|p| p.0 == t).unwrap());
        }
        if let Some(t) = after {
            input.push(*all.iter().find(|p| p.0 == t).unwrap());
        }
        for kind in [Interpolation::Step, Interpolation::Linear] {
            let signal = Signal::new(input.clone(), kind == Interpolation::Step);
            let (wa, wb) = (start.max(from) as f64, end.min(to) as f64);
            let (area, length) = if wb > wa { signal.integral(wa, wb) } else { (0.0, 0.0) };
            let expected = [
                ("left", signal.at(start as f64)),
                ("right", signal.at(end as f64)),
                ("twavg", (length > 0.0).then(|| area / length)),
                ("twsum", (length > 0.0).then_some(area)),
            ];
            for (name, want) in expected {
                let col = format!("{name}-{kind:?}");
                let got = frame.doubles(&col).unwrap()[b as usize];
                prop_assert!(
                    close(got, want),
                    "{} bucket {} [{}, {}): got {:?} want {:?}",
                    col,
                    b,
                    start - base,
                    end - base,
                    got,
                    want
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn aggregate_series_matches_the_reference(case in cases()) {
        run(&case)?;
    }
}
