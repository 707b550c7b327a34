//! Bucketed aggregates: hand-computed expectations on a small series, and a property test
//! against a naive model over random data, random buckets and random warm/cold splits.

use std::time::Duration;

use proptest::prelude::*;
use twinstore::{AggregateQuery, Aggregation, Durability, Options, Record, Store, Timestamp, ValueType};

/// One bucket: its start and a value per requested aggregation.
struct Row {
    start: Timestamp,
    values: Vec<Option<f64>>,
}

/// The columnar answer as rows, for comparisons bucket by bucket.
fn rows_of(store: &Store, q: &AggregateQuery) -> twinstore::Result<Vec<Row>> {
    let result = store.aggregate(q)?;
    assert_eq!(result.columns.len(), q.aggregations.len());
    Ok(result
        .timestamps
        .iter()
        .enumerate()
        .map(|(i, &start)| Row {
            start,
            values: result.columns.iter().map(|(_, v)| v[i]).collect(),
        })
        .collect())
}

const S: i64 = 1_000_000_000;
const ALL: [Aggregation; 9] = [
    Aggregation::Count,
    Aggregation::Min,
    Aggregation::Max,
    Aggregation::Sum,
    Aggregation::Avg,
    Aggregation::Stdev,
    Aggregation::First,
    Aggregation::Last,
    Aggregation::Median,
];

fn at(nanos: i64) -> Timestamp {
    Timestamp::from_nanos(nanos)
}

fn quiet() -> Options {
    Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false)
}

fn store_with(records: &[Record], flush_after: Option<usize>) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), quiet()).expect("open");
    let split = flush_after.unwrap_or(records.len()).min(records.len());
    store.write(&records[..split]).expect("write");
    if flush_after.is_some() {
        store.flush().expect("flush");
    }
    if split < records.len() {
        store.write(&records[split..]).expect("write");
    }
    (dir, store)
}

/// Values 1, 3 at 0 s and 4 s; nothing in [10 s, 20 s); 2, 8, 5, 5 at 20, 21, 21, 29 s; a
/// lone 7 at 30 s. A Long of the same name at 1 s must not mix in.
fn series() -> Vec<Record> {
    vec![
        Record::new("t", at(0)).with("T", 1.0),
        Record::new("t", at(S)).with("T", 100i64),
        Record::new("t", at(4 * S)).with("T", 3.0),
        Record::new("t", at(20 * S)).with("T", 2.0),
        Record::new("t", at(21 * S)).with("T", 8.0),
        Record::new("t", at(21 * S)).with("T", 5.0), // same time: written later
        Record::new("t", at(29 * S)).with("T", 5.0),
        Record::new("t", at(30 * S)).with("T", 7.0),
    ]
}

#[test]
fn hand_computed_buckets_warm_and_cold() {
    for flush in [None, Some(0), Some(4), Some(8)] {
        let (_dir, store) = store_with(&series(), flush);
        // Buckets of 10 s over [0 s, 40 s): four buckets.
        let q = AggregateQuery::new("t", "T", at(0), at(40 * S), Duration::from_secs(10)).aggregations(ALL);
        let rows = rows_of(&store, &q).expect("aggregate");
        let starts: Vec<i64> = rows.iter().map(|r| r.start.as_nanos()).collect();
        assert_eq!(starts, [0, 10 * S, 20 * S, 30 * S]);
        // [0, 10): 1, 3. count 2, min 1, max 3, sum 4, avg 2, stdev sqrt(2), first 1, last 3,
        // median (lower middle) 1.
        let sqrt2 = 2f64.sqrt();
        let expect = [
            vec![
                Some(2.0),
                Some(1.0),
                Some(3.0),
                Some(4.0),
                Some(2.0),
                Some(sqrt2),
                Some(1.0),
                Some(3.0),
                Some(1.0),
            ],
            // Empty: count 0, everything else null.
            vec![Some(0.0), None, None, None, None, None, None, None, None],
            // [20, 30): 2, 8, 5, 5: sum 20, avg 5, sample variance (9+9+0+0)/3 = 6, first 2,
            // last 5 (29 s), median of 2 5 5 8 -> 5.
            vec![
                Some(4.0),
                Some(2.0),
                Some(8.0),
                Some(20.0),
                Some(5.0),
                Some(6f64.sqrt()),
                Some(2.0),
                Some(5.0),
                Some(5.0),
            ],
            // [30, 40): one value 7: stdev 0.
            vec![
                Some(1.0),
                Some(7.0),
                Some(7.0),
                Some(7.0),
                Some(7.0),
                Some(0.0),
                Some(7.0),
                Some(7.0),
                Some(7.0),
            ],
        ];
        for (row, want) in rows.iter().zip(expect) {
            for ((got, want), agg) in row.values.iter().zip(want).zip(ALL) {
                match (got, want) {
                    (Some(g), Some(w)) => assert!(
                        (g - w).abs() < 1e-12,
                        "{agg:?} at {}: {g} != {w} ({flush:?})",
                        row.start
                    ),
                    _ => assert_eq!(*got, want, "{agg:?} at {} ({flush:?})", row.start),
                }
            }
        }
        // Ties at 21 s: the later write is the last of [21 s, 22 s).
        let q = AggregateQuery::new("t", "T", at(21 * S), at(22 * S), Duration::from_secs(1))
            .aggregations([Aggregation::First, Aggregation::Last]);
        let rows = rows_of(&store, &q).expect("aggregate");
        assert_eq!(rows[0].values, [Some(8.0), Some(5.0)], "{flush:?}");
        // The Long column is separate.
        let q = AggregateQuery::new("t", "T", at(0), at(40 * S), Duration::from_secs(40))
            .value_type(ValueType::Long)
            .aggregations([Aggregation::Count, Aggregation::Sum]);
        assert_eq!(
            rows_of(&store, &q).expect("aggregate")[0].values,
            [Some(1.0), Some(100.0)]
        );
    }
}

#[test]
fn buckets_align_to_the_epoch_and_bad_queries_are_errors() {
    let (_dir, store) = store_with(&series(), None);
    // from = 23.5 s with 2 s buckets: the first bucket starts at 22 s (SEMANTICS.md).
    let q = AggregateQuery::new("t", "T", at(23 * S + S / 2), at(30 * S), Duration::from_secs(2))
        .aggregations([Aggregation::Count]);
    let rows = rows_of(&store, &q).expect("aggregate");
    let starts: Vec<i64> = rows.iter().map(|r| r.start.as_nanos() / S).collect();
    assert_eq!(starts, [22, 24, 26, 28]);
    // 29 s is in [28, 30); 21 s is before from.
    assert_eq!(
        rows.iter().map(|r| r.values[0]).collect::<Vec<_>>(),
        [Some(0.0), Some(0.0), Some(0.0), Some(1.0)]
    );
    let reversed = AggregateQuery::new("t", "T", at(10 * S), at(0), Duration::from_secs(1));
    assert!(rows_of(&store, &reversed).is_err());
    let too_many = AggregateQuery::new("t", "T", at(0), at(1_000_000 * S), Duration::from_secs(1));
    assert!(rows_of(&store, &too_many).is_err());
    let zero = AggregateQuery::new("t", "T", at(0), at(S), Duration::ZERO);
    assert!(rows_of(&store, &zero).is_err());
    let text = AggregateQuery::new("t", "T", at(0), at(S), Duration::from_secs(1)).value_type(ValueType::String);
    assert!(rows_of(&store, &text).is_err());
    assert!(matches!(
        store.aggregate(&AggregateQuery::new(
            "nobody",
            "T",
            at(0),
            at(S),
            Duration::from_secs(1)
        )),
        Err(twinstore::Error::UnknownTwin(_))
    ));
    // An unknown property: empty buckets.
    let q = AggregateQuery::new("t", "nothing", at(0), at(20 * S), Duration::from_secs(10));
    let rows = rows_of(&store, &q).expect("aggregate");
    assert_eq!(rows[0].values, [None, None, None, Some(0.0)]);
}

/// The naive reference: every value with its time and write order.
fn model(values: &[(i64, f64)], from: i64, to: i64, interval: i64) -> Vec<(i64, Vec<Option<f64>>)> {
    let start = from - from.rem_euclid(interval);
    let mut out = Vec::new();
    let mut b = start;
    while b < to {
        // Sorted by (time, write order): a stable sort by time.
        let mut inside: Vec<(i64, f64)> = values
            .iter()
            .copied()
            .filter(|&(t, _)| t >= from.max(b) && t < to.min(b + interval))
            .collect();
        inside.sort_by_key(|&(t, _)| t);
        let v: Vec<f64> = inside.iter().map(|&(_, v)| v).collect();
        let n = v.len() as f64;
        let row = if v.is_empty() {
            vec![Some(0.0), None, None, None, None, None, None, None, None]
        } else {
            let sum: f64 = v.iter().sum();
            let mean = sum / n;
            let stdev = if v.len() < 2 {
                0.0
            } else {
                (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            };
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            vec![
                Some(n),
                Some(sorted[0]),
                Some(sorted[sorted.len() - 1]),
                Some(sum),
                Some(mean),
                Some(stdev),
                Some(v[0]),
                Some(v[v.len() - 1]),
                Some(sorted[(sorted.len() - 1) / 2]),
            ]
        };
        out.push((b, row));
        b += interval;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn aggregates_match_a_naive_model(
        points in prop::collection::vec((0i64..5_000, -500i32..500, any::<bool>()), 1..3_000),
        flush_after in prop::option::of(0usize..3_000),
        second_flush in any::<bool>(),
        from in prop_oneof![0i64..2_000, Just(-20_000i64)],
        span in prop_oneof![1i64..6_000, Just(40_000i64)],
        interval in prop_oneof![1i64..1_500, 5_000i64..20_000],
    ) {
        // Times in ms; some points are Longs of the same name (never mixed in).
        let records: Vec<Record> = points
            .iter()
            .map(|&(t, v, long)| {
                let r = Record::new("t", at(t * 1_000_000));
                if long { r.with("T", i64::from(v)) } else { r.with("T", f64::from(v) / 4.0) }
            })
            .collect();
        let doubles: Vec<(i64, f64)> = points
            .iter()
            .filter(|p| !p.2)
            .map(|&(t, v, _)| (t * 1_000_000, f64::from(v) / 4.0))
            .collect();
        let (_dir, store) = store_with(&records, flush_after);
        if second_flush {
            store.flush().expect("flush");
        }
        let (from, to, interval) = (from * 1_000_000, (from + span) * 1_000_000, interval * 1_000_000);
        let expected = model(&doubles, from, to, interval);
        // Without stdev and median, whole cold blocks are answered from their statistics;
        // with them, every value is decoded. Both must agree with the model.
        let running = vec![
            Aggregation::Count,
            Aggregation::Min,
            Aggregation::Max,
            Aggregation::Sum,
            Aggregation::Avg,
            Aggregation::First,
            Aggregation::Last,
        ];
        for which in [running, ALL.to_vec()] {
        let mut q = AggregateQuery::new("t", "T", at(from), at(to), Duration::from_nanos(interval as u64));
        q.aggregations = which.clone();
        let got = rows_of(&store, &q).expect("aggregate");
        prop_assert_eq!(got.len(), expected.len());
        for (row, (start, want)) in got.iter().zip(&expected) {
            prop_assert_eq!(row.start.as_nanos(), *start);
            for (g, agg) in row.values.iter().zip(&which) {
                let w = want[ALL.iter().position(|a| a == agg).unwrap_or(0)];
                match (g, w) {
                    (Some(g), Some(w)) => prop_assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{:?} at {}: {} != {}", agg, start, g, w),
                    _ => prop_assert_eq!(*g, w, "{:?} at {}", agg, start),
                }
            }
        }
        }
    }
}

const HOUR_MS: i64 = 3_600_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Data over three days, flushed, in buckets of whole hours (and some not): the cold
    /// blocks span many hours, so counts, sums, minimums and maximums come from their hour
    /// summaries wherever a block's hours lie inside the span; they must agree with the
    /// model.
    #[test]
    fn hourly_aggregates_from_hour_summaries_match_a_naive_model(
        points in prop::collection::vec((0i64..72 * HOUR_MS, -500i32..500, any::<bool>()), 1..6_000),
        from in prop_oneof![Just(0i64), 0i64..72 * HOUR_MS, Just(-HOUR_MS / 2)],
        span in prop_oneof![Just(72 * HOUR_MS), 1i64..80 * HOUR_MS],
        interval in prop_oneof![Just(HOUR_MS), Just(2 * HOUR_MS), Just(24 * HOUR_MS), Just(6 * HOUR_MS), 1_000i64..HOUR_MS],
        longs in any::<bool>(),
    ) {
        // Either doubles or, for the Long summaries, integer values.
        let records: Vec<Record> = points
            .iter()
            .map(|&(t, v, _)| {
                let r = Record::new("t", at(t * 1_000_000));
                if longs { r.with("T", i64::from(v)) } else { r.with("T", f64::from(v) / 4.0) }
            })
            .collect();
        let values: Vec<(i64, f64)> = points
            .iter()
            .map(|&(t, v, _)| (t * 1_000_000, if longs { f64::from(v) } else { f64::from(v) / 4.0 }))
            .collect();
        let (_dir, store) = store_with(&records, Some(records.len()));
        // A flush writes a file per day; a day's block gets summaries when its values fall in
        // two or more hours.
        let mut hours_by_day: std::collections::BTreeMap<i64, std::collections::BTreeSet<i64>> = Default::default();
        for &(t, _, _) in &points {
            hours_by_day.entry(t / (24 * HOUR_MS)).or_default().insert(t / HOUR_MS);
        }
        let summarised = hours_by_day.values().any(|hours| hours.len() > 1);
        prop_assert_eq!(store.cold_size_breakdown().expect("sizes").summaries > 0, summarised);
        let (from, to, interval) = (from * 1_000_000, (from + span) * 1_000_000, interval * 1_000_000);
        let expected = model(&values, from, to, interval);
        let which = [Aggregation::Count, Aggregation::Min, Aggregation::Max, Aggregation::Sum, Aggregation::Avg];
        let mut q = AggregateQuery::new("t", "T", at(from), at(to), Duration::from_nanos(interval as u64));
        q.aggregations = which.to_vec();
        if longs {
            q.value_type = ValueType::Long;
        }
        let got = rows_of(&store, &q).expect("aggregate");
        prop_assert_eq!(got.len(), expected.len());
        for (row, (start, want)) in got.iter().zip(&expected) {
            prop_assert_eq!(row.start.as_nanos(), *start);
            for (k, g) in row.values.iter().enumerate() {
                match (g, want[k]) {
                    (Some(g), Some(w)) => prop_assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{:?} at {}: {} != {}", which[k], start, g, w),
                    (g, w) => prop_assert_eq!(*g, w, "{:?} at {}", which[k], start),
                }
            }
        }
    }
}
