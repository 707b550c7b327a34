//! `availability` against a naive reference: random events of a few twins, split between
//! cold segment files (flushed, sometimes compacted) and the warm tier, random spans and
//! bucket widths. The reference counts each event in the bucket its time falls in, and
//! picks the width as the crate docs say: the smallest of 1 s, 10 s, 1 min, 5 min, 15 min,
//! 1 h, 3 h, 6 h, 12 h, 1 d, 7 d, 30 d, 365 d, 3650 d giving at most 200 buckets over the
//! events' range.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use twinstore::{Options, Record, Store, Timestamp, TwinSelector};

const S: i64 = 1_000_000_000;
const WIDTHS: [i64; 14] = [
    1,
    10,
    60,
    300,
    900,
    3_600,
    10_800,
    21_600,
    43_200,
    86_400,
    604_800,
    2_592_000,
    31_536_000,
    315_360_000,
];

#[derive(Clone, Debug)]
struct Case {
    /// Per twin, its event times in nanoseconds (distinct within a twin).
    twins: Vec<Vec<i64>>,
    /// After which write (batch of 5 events) to flush, and whether to compact then.
    flushes: Vec<(usize, bool)>,
    /// Inclusive span, in nanoseconds.
    span: Option<(i64, i64)>,
    /// Bucket width in seconds.
    interval: Option<i64>,
}

fn cases() -> impl Strategy<Value = Case> {
    let unit = prop::sample::select(vec![S / 1000, S, 60 * S, 3_600 * S]);
    (
        unit,
        prop::collection::vec(prop::collection::btree_set(0i64..3_000, 1..80), 1..4),
        prop::collection::vec((0usize..40, any::<bool>()), 0..4),
        prop::option::of((0i64..3_000, 0i64..3_000)),
        prop::option::of(prop::sample::select(vec![1i64, 7, 60, 3_600, 86_400])),
    )
        .prop_map(|(unit, twins, flushes, span, interval)| Case {
            twins: twins
                .into_iter()
                .map(|set: BTreeSet<i64>| set.into_iter().map(|t| 1_767_225_600 * S + t * unit).collect())
                .collect(),
            flushes,
            span: span.map(|(a, b)| {
                let (a, b) = (a.min(b), a.max(b));
                (1_767_225_600 * S + a * unit, 1_767_225_600 * S + b * unit)
            }),
            interval,
        })
}

/// The expected answer: the events' range, the width in seconds, the count per bucket
/// start.
struct Expected {
    range: Option<(i64, i64)>,
    width: i64,
    counts: BTreeMap<i64, u64>,
}

/// The reference: `None` when the query must be refused (too many buckets).
fn expected(case: &Case) -> Option<Expected> {
    let (from, to) = case.span.unwrap_or((i64::MIN, i64::MAX));
    let times: Vec<i64> = case
        .twins
        .iter()
        .flatten()
        .copied()
        .filter(|&t| t >= from && t <= to)
        .collect();
    let (Some(&min), Some(&max)) = (times.iter().min(), times.iter().max()) else {
        return Some(Expected {
            range: None,
            width: case.interval.unwrap_or(3_600),
            counts: BTreeMap::new(),
        });
    };
    let width = case.interval.unwrap_or_else(|| {
        let seconds = (max - min) as f64 / 1e9;
        WIDTHS
            .iter()
            .copied()
            .find(|&w| seconds / w as f64 <= 200.0)
            .unwrap_or(315_360_000)
    });
    let nanos = width * S;
    if max.div_euclid(nanos) - min.div_euclid(nanos) + 1 > 200_000 {
        return None;
    }
    let mut counts = BTreeMap::new();
    for t in times {
        *counts.entry(t.div_euclid(nanos) * nanos).or_insert(0u64) += 1;
    }
    Some(Expected {
        range: Some((min, max)),
        width,
        counts,
    })
}

fn run(case: &Case) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Options::default().background_maintenance(false)).expect("open");
    // Every twin's events, interleaved, written five at a time.
    let mut records: Vec<Record> = case
        .twins
        .iter()
        .enumerate()
        .flat_map(|(i, times)| {
            times
                .iter()
                .map(move |&t| Record::new(format!("twin{i}"), Timestamp::from_nanos(t)).with("v", 1.0))
        })
        .collect();
    records.sort_by_key(|r| (r.ts, r.twin.clone()));
    for (n, batch) in records.chunks(5).enumerate() {
        store.write(batch).expect("write");
        for &(at, compact) in &case.flushes {
            if at == n {
                store.flush().expect("flush");
                if compact {
                    store.compact().expect("compact");
                }
            }
        }
    }
    let twins: Vec<String> = (0..case.twins.len()).map(|i| format!("twin{i}")).collect();
    let span = case
        .span
        .map(|(a, b)| (Timestamp::from_nanos(a), Timestamp::from_nanos(b)));
    let interval = case.interval.map(|s| Duration::from_secs(s as u64));
    let answer = store.availability(&TwinSelector::Ids(twins), span, interval);
    match expected(case) {
        None => prop_assert!(answer.is_err(), "{answer:?}"),
        Some(Expected { range, width, counts }) => {
            let answer = answer.expect("availability");
            let got_range = answer.range.map(|(a, b)| (a.as_nanos(), b.as_nanos()));
            prop_assert_eq!(got_range, range);
            prop_assert_eq!(answer.interval, Duration::from_secs(width as u64));
            let got: BTreeMap<i64, u64> = answer.distribution.iter().map(|(t, n)| (t.as_nanos(), *n)).collect();
            prop_assert_eq!(got, counts);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn availability_matches_the_reference(case in cases()) {
        run(&case)?;
    }
}
