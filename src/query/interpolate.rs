//! Interpolated, time-weighted bucket aggregates: the pure math behind TSI `aggregateSeries`
//! with an interpolation (`left`, `right`, `twavg`, `twsum`, and the fractions of a categorical
//! series), over the same epoch-aligned bucket grid as the plain aggregates.
//!
//! # The signal
//!
//! The points of one property, sorted by time, are turned into a signal `s(t)`. Points of equal
//! time are writes of the same instant in write order: the last one wins, and an earlier write of
//! the same instant is superseded entirely — it changes neither instant values nor integrals
//! (the line arrives at and leaves from the winning value). Below, "point" means the winning
//! point of its instant.
//!
//! - `Step`: for `t` at or after the first point, `s(t)` is the value of the last point at or
//!   before `t`; undefined before the first point. After the last point it holds: as an instant
//!   value (`left`, `right`) for ever, for the time-weighted aggregates up to the end of the
//!   search span (`to`), since every window is clipped to the search span.
//! - `Linear`: defined on `[first point, last point]`; between consecutive points `p`, `q`
//!   (`p.t < q.t`), `s(t) = p.v + (q.v - p.v) * (t - p.t) / (q.t - p.t)`, and at a point's own
//!   time its value. Undefined outside; a single point defines `s` at that instant only (a set
//!   of measure zero: its buckets get no time-weighted aggregates).
//!
//! Interpolation bridges any gap between points, however long: the boundary span limits how far
//! outside the search span we look (the caller passes the points inside the search span plus at
//! most one before `from` and at most one at or after `to`); inside it, gaps are bridged.
//!
//! # The aggregates of bucket `i` = `[start, end)`, `end = start + interval`
//!
//! - `left = s(start)`, `right = s(end)` (the instant `end`, though the bucket excludes it), or
//!   `None` where `s` is undefined. They ignore the search span: the boundary points give the
//!   `left` of a first bucket that starts before `from` and the `right` of the last bucket.
//! - The time-weighted window is the bucket clipped to the search span,
//!   `W = [max(start, from), min(end, to))`, and `D` is the part of `W` where `s` is defined.
//!   `twsum` is the integral of `s` over `D` in value × seconds; `twavg` is that integral divided
//!   by the length of `D`. Both are `None` when `D` has length zero (including an empty `W`).
//! - `step_fractions` (categorical series, always `Step`): for every category, the time in `D`
//!   during which the signal is in that category, divided by the whole bucket's `interval`
//!   (not by the length of `W` or `D`). This is what TSI's published example answers
//!   (`QueryAggregateSeriesWithCategoricalInterpolatedVariable.json` in the Query API
//!   2020-07-31 examples: a search span from 23:41:04.021 with PT2S buckets gives a first row
//!   adding up to 0.9895 = 1.979 s / 2 s). So the shares of a bucket add up to the defined part
//!   of the bucket: 1 for a bucket wholly inside the span and the signal, less for a bucket the
//!   span clips or that starts before the first point (that time is in no category, not in
//!   the default one). All are `None` when `D` has length zero.
//!
//! # Numerics and robustness
//!
//! Times are `i64` nanoseconds; all time arithmetic is done in `i128` (bucket boundaries past
//! `i64::MAX` included), and only differences of times are converted to `f64`, so large absolute
//! times never cancel. Integrals are summed per piece of the signal: a `Step` piece contributes
//! `v * (b - a)`, a `Linear` piece over `[a, b]` contributes `(b - a) * (s(a) + s(b)) / 2`.
//!
//! One sweep over points and buckets: `O(points + buckets)` time (plus `O(categories)` per bucket
//! for the fractions, the size of the answer). Nothing panics on bad input: an `interval <= 0`
//! gives all-`None` vectors, unsorted points give unspecified (but finite-time, non-panicking)
//! results, and a category index `>= categories` counts as undefined time (so the shares still
//! add up to 1).

use std::ops::Range;

/// Nanoseconds per second, to express integrals in value × seconds.
const NANOS_PER_SECOND: f64 = 1e9;

/// How values are drawn between points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    /// A straight line between consecutive points; undefined outside the first and last point.
    Linear,
    /// Each point's value holds until the next point (and after the last one).
    Step,
}

/// The bucket grid of a query: buckets `[first_start + i*interval, first_start + (i+1)*interval)` for i in 0..count,
/// all times in i64 nanoseconds; `from`/`to` is the search span (from inclusive, to exclusive); first_start <= from
/// (epoch-aligned, so the first bucket may start before `from`), first_start + count*interval >= to.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    /// Start of the first bucket (at or before `from`).
    pub first_start: i64,
    /// Bucket length in nanoseconds (must be positive; otherwise every aggregate is `None`).
    pub interval: i64,
    /// Number of buckets.
    pub count: usize,
    /// Inclusive start of the search span.
    pub from: i64,
    /// Exclusive end of the search span.
    pub to: i64,
}

impl Grid {
    /// Boundary `k` of the grid: the start of bucket `k`, or for `k = count` the end of the last
    /// bucket. In `i128`, so it cannot overflow for any `i64` start and interval.
    fn boundary(&self, k: usize) -> i128 {
        let offset = i128::try_from(k)
            .unwrap_or(i128::MAX)
            .saturating_mul(i128::from(self.interval));
        i128::from(self.first_start).saturating_add(offset)
    }
}

/// Which interpolated aggregates to compute.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wanted {
    /// The value at the start of each bucket.
    pub left: bool,
    /// The value at the end of each bucket.
    pub right: bool,
    /// The time-weighted average over each bucket's window.
    pub twavg: bool,
    /// The time-weighted sum (integral, value × seconds) over each bucket's window.
    pub twsum: bool,
}

/// Per bucket results (vectors of length grid.count, or empty when not wanted).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interpolated {
    /// `s(bucket start)` per bucket.
    pub left: Vec<Option<f64>>,
    /// `s(bucket end)` per bucket.
    pub right: Vec<Option<f64>>,
    /// Time-weighted average per bucket.
    pub twavg: Vec<Option<f64>>,
    /// Time-weighted sum per bucket, in value × seconds.
    pub twsum: Vec<Option<f64>>,
}

/// `points`: (time, value), sorted by time ascending; equal times allowed (the later element is the later write and
/// wins as the value at that instant). They are the points inside the search span plus at most one point before
/// `from` and at most one at/after `to` (the caller has already applied the boundary span).
///
/// Returns the wanted aggregates per bucket of `grid` as described in the module documentation.
pub fn interpolate(points: &[(i64, f64)], kind: Interpolation, grid: &Grid, wanted: Wanted) -> Interpolated {
    let nones = |want: bool| if want { vec![None; grid.count] } else { Vec::new() };
    let mut out = Interpolated {
        left: Vec::new(),
        right: Vec::new(),
        twavg: nones(wanted.twavg),
        twsum: nones(wanted.twsum),
    };
    let signal = last_writes(points);

    if (wanted.left || wanted.right) && grid.interval > 0 && grid.count > 0 {
        let mut values = boundary_values(&signal, kind, grid);
        if wanted.right {
            out.right = values.get(1..).map(<[_]>::to_vec).unwrap_or_default();
        }
        if wanted.left {
            values.truncate(grid.count);
            out.left = values;
        }
    } else {
        out.left = nones(wanted.left);
        out.right = nones(wanted.right);
    }

    if wanted.twavg || wanted.twsum {
        let pieces = match kind {
            Interpolation::Step => signal.len(),
            Interpolation::Linear => signal.len().saturating_sub(1),
        };
        let bounds = |k: usize| piece_bounds(&signal, k);
        for_each_window(grid, pieces, bounds, |bucket, a, b, range| {
            let mut integral = 0.0;
            let mut nanos: i128 = 0;
            for k in range {
                let (p0, p1) = bounds(k);
                let (lo, hi) = (a.max(p0), b.min(p1));
                if lo >= hi {
                    continue;
                }
                let seconds = (hi - lo) as f64 / NANOS_PER_SECOND;
                let (t0, v0) = signal[k];
                integral += match (kind, signal.get(k + 1)) {
                    (Interpolation::Linear, Some(&(t1, v1))) => {
                        seconds * (lerp(t0, v0, t1, v1, lo) + lerp(t0, v0, t1, v1, hi)) / 2.0
                    }
                    _ => v0 * seconds,
                };
                nanos += hi - lo;
            }
            if nanos > 0 {
                if let Some(slot) = out.twsum.get_mut(bucket) {
                    *slot = Some(integral);
                }
                if let Some(slot) = out.twavg.get_mut(bucket) {
                    *slot = Some(integral / (nanos as f64 / NANOS_PER_SECOND));
                }
            }
        });
    }
    out
}

/// Categorical Step interpolation: `points` are (time, category index < categories), sorted as above. Returns per
/// category a vector over buckets: the time spent in that category inside the bucket's window, divided by the bucket's
/// whole interval (the fractions of a bucket add up to the defined share of the bucket: 1 when it is wholly defined),
/// or None for every category of a bucket with no defined time.
///
/// Time in a category index `>= categories` (a caller bug) counts as undefined time.
pub fn step_fractions(points: &[(i64, usize)], categories: usize, grid: &Grid) -> Vec<Vec<Option<f64>>> {
    let mut out = vec![vec![None; grid.count]; categories];
    if categories == 0 {
        return out;
    }
    let signal = last_writes(points);
    let mut nanos = vec![0i128; categories];
    let bounds = |k: usize| piece_bounds(&signal, k);
    for_each_window(grid, signal.len(), bounds, |bucket, a, b, range| {
        let mut total: i128 = 0;
        for k in range {
            let (p0, p1) = bounds(k);
            let (lo, hi) = (a.max(p0), b.min(p1));
            if lo >= hi {
                continue;
            }
            if let Some(slot) = nanos.get_mut(signal[k].1) {
                *slot += hi - lo;
                total += hi - lo;
            }
        }
        if total > 0 {
            // Over the whole interval, not the defined time: TSI's example (module docs).
            let interval = i128::from(grid.interval);
            for (per_category, slot) in out.iter_mut().zip(nanos.iter_mut()) {
                if let Some(fraction) = per_category.get_mut(bucket) {
                    *fraction = Some(*slot as f64 / interval as f64);
                }
                *slot = 0;
            }
        }
    });
    out
}

/// The winning point of every instant: consecutive elements of equal time collapse into one that
/// carries the value of the last of them.
fn last_writes<T: Copy>(points: &[(i64, T)]) -> Vec<(i64, T)> {
    let mut out: Vec<(i64, T)> = Vec::with_capacity(points.len());
    for &(t, v) in points {
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = v,
            _ => out.push((t, v)),
        }
    }
    out
}

/// The span `[start, end)` of piece `k` of a signal from [`last_writes`]: from point `k` to the
/// next point, or for the last point (a `Step` signal only) to the end of time.
fn piece_bounds<T>(signal: &[(i64, T)], k: usize) -> (i128, i128) {
    let start = signal.get(k).map_or(i128::MAX, |p| i128::from(p.0));
    let end = signal.get(k + 1).map_or(i128::MAX, |p| i128::from(p.0));
    (start, end)
}

/// The value of the line from `(t0, v0)` to `(t1, v1)` at `t` (exactly the end values at the
/// ends). Only time differences are converted to `f64`.
fn lerp(t0: i64, v0: f64, t1: i64, v1: f64, t: i128) -> f64 {
    let (t0, t1) = (i128::from(t0), i128::from(t1));
    if t <= t0 || v0 == v1 {
        return v0;
    }
    if t >= t1 {
        return v1;
    }
    v0 + (v1 - v0) * ((t - t0) as f64 / (t1 - t0) as f64)
}

/// `s` at every grid boundary `0..=count` (the left of bucket `k` is entry `k`, its right entry
/// `k + 1`), in one sweep. Needs `interval > 0` so the boundaries increase.
fn boundary_values(signal: &[(i64, f64)], kind: Interpolation, grid: &Grid) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(grid.count.saturating_add(1));
    // Number of signal points at or before the current boundary.
    let mut at_or_before = 0;
    for k in 0..=grid.count {
        let t = grid.boundary(k);
        while signal.get(at_or_before).is_some_and(|p| i128::from(p.0) <= t) {
            at_or_before += 1;
        }
        out.push(value_at(signal, at_or_before, kind, t));
    }
    out
}

/// `s(t)`, given that the first `at_or_before` points of `signal` are those at or before `t`.
fn value_at(signal: &[(i64, f64)], at_or_before: usize, kind: Interpolation, t: i128) -> Option<f64> {
    let &(pt, pv) = signal.get(at_or_before.checked_sub(1)?)?;
    if kind == Interpolation::Step || i128::from(pt) == t {
        return Some(pv);
    }
    let &(qt, qv) = signal.get(at_or_before)?;
    Some(lerp(pt, pv, qt, qv, t))
}

/// Calls `visit(bucket, a, b, pieces)` for every bucket whose window `[a, b)` (the bucket clipped
/// to the search span) is not empty, with the range of pieces that can overlap it, in one sweep.
/// `bounds(k)` is the span of piece `k`; pieces are sorted and do not overlap. Buckets are skipped
/// altogether when `interval <= 0`.
fn for_each_window(
    grid: &Grid,
    pieces: usize,
    bounds: impl Fn(usize) -> (i128, i128),
    mut visit: impl FnMut(usize, i128, i128, Range<usize>),
) {
    if grid.interval <= 0 {
        return;
    }
    let (from, to) = (i128::from(grid.from), i128::from(grid.to));
    // Pieces before `first` end at or before the current window.
    let mut first = 0;
    for bucket in 0..grid.count {
        let start = grid.boundary(bucket);
        if start >= to {
            break;
        }
        let (a, b) = (start.max(from), grid.boundary(bucket + 1).min(to));
        if a >= b {
            continue;
        }
        while first < pieces && bounds(first).1 <= a {
            first += 1;
        }
        let mut end = first;
        while end < pieces && bounds(end).0 < b {
            end += 1;
        }
        visit(bucket, a, b, first..end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One second in nanoseconds.
    const S: i64 = 1_000_000_000;

    /// Every aggregate.
    const ALL: Wanted = Wanted {
        left: true,
        right: true,
        twavg: true,
        twsum: true,
    };

    /// A grid of `count` one-minute buckets from `first_start`, searching `[from, to)` (seconds).
    fn minutes(first_start: i64, count: usize, from: i64, to: i64) -> Grid {
        Grid {
            first_start: first_start * S,
            interval: 60 * S,
            count,
            from: from * S,
            to: to * S,
        }
    }

    /// Points with times given in seconds.
    fn secs(points: &[(i64, f64)]) -> Vec<(i64, f64)> {
        points.iter().map(|&(t, v)| (t * S, v)).collect()
    }

    /// Whether two optional numbers are equal within a relative 1e-12.
    fn same(a: &[Option<f64>], b: &[Option<f64>]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
                (None, None) => true,
                _ => false,
            })
    }

    /// Asserts every vector of `got` against the expectation (within 1e-12).
    #[track_caller]
    fn check(
        got: &Interpolated,
        left: &[Option<f64>],
        right: &[Option<f64>],
        twavg: &[Option<f64>],
        twsum: &[Option<f64>],
    ) {
        assert!(same(&got.left, left), "left {:?} != {left:?}", got.left);
        assert!(same(&got.right, right), "right {:?} != {right:?}", got.right);
        assert!(same(&got.twavg, twavg), "twavg {:?} != {twavg:?}", got.twavg);
        assert!(same(&got.twsum, twsum), "twsum {:?} != {twsum:?}", got.twsum);
    }

    /// Three points over three one-minute buckets, both interpolations.
    #[test]
    fn three_points_three_buckets() {
        // Points at 0 s = 2, 90 s = 8, 150 s = 2; buckets [0,60) [60,120) [120,180), span [0,180).
        let points = secs(&[(0, 2.0), (90, 8.0), (150, 2.0)]);
        let grid = minutes(0, 3, 0, 180);

        // Step: 2 on [0,90), 8 on [90,150), 2 from 150.
        // left = s(0), s(60), s(120) = 2, 2, 8; right = s(60), s(120), s(180) = 2, 8, 2.
        // bucket 0: 2 * 60 s = 120 (avg 2); bucket 1: 2 * 30 + 8 * 30 = 300 (avg 5);
        // bucket 2: 8 * 30 + 2 * 30 = 300 (avg 5).
        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        check(
            &got,
            &[Some(2.0), Some(2.0), Some(8.0)],
            &[Some(2.0), Some(8.0), Some(2.0)],
            &[Some(2.0), Some(5.0), Some(5.0)],
            &[Some(120.0), Some(300.0), Some(300.0)],
        );

        // Linear: 2 -> 8 over [0,90] (slope 1/15 per s), 8 -> 2 over [90,150] (slope -1/10 per s).
        // s(60) = 2 + 4 = 6, s(120) = 8 - 3 = 5, s(180) undefined (after the last point).
        // bucket 0: 60 * (2 + 6) / 2 = 240 (avg 4);
        // bucket 1: 30 * (6 + 8) / 2 + 30 * (8 + 5) / 2 = 210 + 195 = 405 (avg 6.75);
        // bucket 2: defined on [120,150] only: 30 * (5 + 2) / 2 = 105 over 30 s (avg 3.5).
        let got = interpolate(&points, Interpolation::Linear, &grid, ALL);
        check(
            &got,
            &[Some(2.0), Some(6.0), Some(5.0)],
            &[Some(6.0), Some(5.0), None],
            &[Some(4.0), Some(6.75), Some(3.5)],
            &[Some(240.0), Some(405.0), Some(105.0)],
        );
    }

    /// A single point: Step holds it up to `to`; Linear defines only its instant.
    #[test]
    fn one_point() {
        // Point 30 s = 5; buckets [0,60) [60,120) [120,180), span [0,150).
        let points = secs(&[(30, 5.0)]);
        let grid = minutes(0, 3, 0, 150);

        // Step: defined from 30 s. bucket 0: [30,60) = 30 s -> 150; bucket 1: 60 s -> 300;
        // bucket 2: window [120,150) = 30 s -> 150. The average is 5 throughout.
        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        check(
            &got,
            &[None, Some(5.0), Some(5.0)],
            &[Some(5.0), Some(5.0), Some(5.0)],
            &[Some(5.0), Some(5.0), Some(5.0)],
            &[Some(150.0), Some(300.0), Some(150.0)],
        );

        // Linear: defined at 30 s only, which is no bucket boundary: everything None.
        let got = interpolate(&points, Interpolation::Linear, &grid, ALL);
        check(&got, &[None; 3], &[None; 3], &[None; 3], &[None; 3]);

        // Linear with the point exactly on the boundary 60 s: right of bucket 0 and left of bucket 1.
        let got = interpolate(&secs(&[(60, 5.0)]), Interpolation::Linear, &grid, ALL);
        check(
            &got,
            &[None, Some(5.0), None],
            &[Some(5.0), None, None],
            &[None; 3],
            &[None; 3],
        );
    }

    /// No points: every aggregate None, vectors of the grid's length.
    #[test]
    fn no_points() {
        let grid = minutes(0, 2, 0, 120);
        for kind in [Interpolation::Step, Interpolation::Linear] {
            let got = interpolate(&[], kind, &grid, ALL);
            check(&got, &[None; 2], &[None; 2], &[None; 2], &[None; 2]);
        }
        assert_eq!(step_fractions(&[], 2, &grid), vec![vec![None; 2]; 2]);
    }

    /// Points exactly on bucket boundaries.
    #[test]
    fn points_on_boundaries() {
        // Points 60 s = 1, 120 s = 3; buckets [0,60) [60,120) [120,180), span [0,180).
        let points = secs(&[(60, 1.0), (120, 3.0)]);
        let grid = minutes(0, 3, 0, 180);

        // Step: undefined in bucket 0; 1 over bucket 1 (60); 3 over bucket 2 (180).
        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        check(
            &got,
            &[None, Some(1.0), Some(3.0)],
            &[Some(1.0), Some(3.0), Some(3.0)],
            &[None, Some(1.0), Some(3.0)],
            &[None, Some(60.0), Some(180.0)],
        );

        // Linear: bucket 1 is the whole line 1 -> 3: 60 * (1 + 3) / 2 = 120 (avg 2); bucket 2 is
        // defined at the instant 120 s only (measure zero): None; s(180) undefined.
        let got = interpolate(&points, Interpolation::Linear, &grid, ALL);
        check(
            &got,
            &[None, Some(1.0), Some(3.0)],
            &[Some(1.0), Some(3.0), None],
            &[None, Some(2.0), None],
            &[None, Some(120.0), None],
        );
    }

    /// Equal-time points: the last write wins at the instant and the superseded writes change
    /// nothing, integrals included.
    #[test]
    fn equal_times_last_write_wins() {
        // Points 0 s = 0, then 60 s written three times (6, 100, 10), 120 s = 10;
        // buckets [0,60) [60,120), span [0,120).
        let points = secs(&[(0, 0.0), (60, 6.0), (60, 100.0), (60, 10.0), (120, 10.0)]);
        let winners = secs(&[(0, 0.0), (60, 10.0), (120, 10.0)]);
        let grid = minutes(0, 2, 0, 120);

        // Linear: 0 -> 10 over [0,60]: 60 * (0 + 10) / 2 = 300 (avg 5); then 10 over [60,120]: 600.
        let got = interpolate(&points, Interpolation::Linear, &grid, ALL);
        check(
            &got,
            &[Some(0.0), Some(10.0)],
            &[Some(10.0), Some(10.0)],
            &[Some(5.0), Some(10.0)],
            &[Some(300.0), Some(600.0)],
        );
        assert_eq!(got, interpolate(&winners, Interpolation::Linear, &grid, ALL));

        // Step: 0 over bucket 0, 10 over bucket 1.
        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        check(
            &got,
            &[Some(0.0), Some(10.0)],
            &[Some(10.0), Some(10.0)],
            &[Some(0.0), Some(10.0)],
            &[Some(0.0), Some(600.0)],
        );
        assert_eq!(got, interpolate(&winners, Interpolation::Step, &grid, ALL));
    }

    /// A bucket without points between neighbours: Linear bridges the gap.
    #[test]
    fn empty_bucket_bridged() {
        // Points 30 s = 0, 150 s = 12 (slope 0.1 per s); buckets [0,60) [60,120) [120,180).
        let points = secs(&[(30, 0.0), (150, 12.0)]);
        let grid = minutes(0, 3, 0, 180);

        // Linear bucket 1: s(60) = 3, s(120) = 9; twavg = 6 = s(90), the midpoint; twsum = 6 * 60 = 360.
        let got = interpolate(&points, Interpolation::Linear, &grid, ALL);
        assert_eq!(got.left[1], Some(3.0));
        assert_eq!(got.right[1], Some(9.0));
        assert!(same(&got.twavg[1..2], &[Some(6.0)]));
        assert!(same(&got.twsum[1..2], &[Some(360.0)]));
        // Around it: bucket 0 is [30,60]: 30 * (0 + 3) / 2 = 45 (avg 1.5); bucket 2 is [120,150]:
        // 30 * (9 + 12) / 2 = 315 (avg 10.5).
        assert!(same(&got.twsum, &[Some(45.0), Some(360.0), Some(315.0)]));
        assert!(same(&got.twavg, &[Some(1.5), Some(6.0), Some(10.5)]));

        // Step holds 0 over bucket 1.
        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        assert_eq!(got.twavg[1], Some(0.0));
        assert_eq!(got.twsum[1], Some(0.0));
    }

    /// The first bucket starts before `from`: its window is clipped; its left is still the
    /// instant value at the bucket start.
    #[test]
    fn first_bucket_before_from() {
        // Points 0 s = 0, 120 s = 12 (slope 0.1 per s); buckets [0,60) [60,120); span [20,120).
        let points = secs(&[(0, 0.0), (120, 12.0)]);
        let grid = minutes(0, 2, 20, 120);

        // Linear bucket 0: window [20,60): s(20) = 2, s(60) = 6 -> 40 * 4 = 160, avg 4.
        let got = interpolate(&points, Interpolation::Linear, &grid, ALL);
        check(
            &got,
            &[Some(0.0), Some(6.0)],
            &[Some(6.0), Some(12.0)],
            &[Some(4.0), Some(9.0)],
            &[Some(160.0), Some(540.0)],
        );

        // Step bucket 0: 0 over [20,60): 0, avg 0.
        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        check(
            &got,
            &[Some(0.0), Some(0.0)],
            &[Some(0.0), Some(12.0)],
            &[Some(0.0), Some(0.0)],
            &[Some(0.0), Some(0.0)],
        );
    }

    /// The last bucket ends after `to`: its window is clipped.
    #[test]
    fn last_bucket_after_to() {
        // Points 0 s = 0, 120 s = 12 (slope 0.1 per s); buckets [0,60) [60,120); span [0,90).
        let points = secs(&[(0, 0.0), (120, 12.0)]);
        let grid = minutes(0, 2, 0, 90);

        // Linear bucket 1: window [60,90): s(60) = 6, s(90) = 9 -> 30 * 7.5 = 225, avg 7.5.
        let got = interpolate(&points, Interpolation::Linear, &grid, ALL);
        check(
            &got,
            &[Some(0.0), Some(6.0)],
            &[Some(6.0), Some(12.0)],
            &[Some(3.0), Some(7.5)],
            &[Some(180.0), Some(225.0)],
        );

        // Step: the 12 at 120 s is past `to` and never weighs: bucket 1 is 0 over [60,90).
        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        check(
            &got,
            &[Some(0.0), Some(0.0)],
            &[Some(0.0), Some(12.0)],
            &[Some(0.0), Some(0.0)],
            &[Some(0.0), Some(0.0)],
        );
    }

    /// Boundary points before `from` and after `to` give the left of the first bucket and the
    /// right of the last, and shape the clipped windows.
    #[test]
    fn boundary_points() {
        // Points -30 s = 0 (before `from`), 30 s = 6, 150 s = 18 (after `to`): one line
        // s(t) = 0.1 * (t + 30). Buckets [0,60) [60,120); span [20,100).
        let points = secs(&[(-30, 0.0), (30, 6.0), (150, 18.0)]);
        let grid = minutes(0, 2, 20, 100);

        // Linear: left = s(0), s(60) = 3, 9; right = s(60), s(120) = 9, 15.
        // bucket 0 window [20,60): s = 5 .. 9 -> 40 * 7 = 280 (avg 7);
        // bucket 1 window [60,100): s = 9 .. 13 -> 40 * 11 = 440 (avg 11).
        let got = interpolate(&points, Interpolation::Linear, &grid, ALL);
        check(
            &got,
            &[Some(3.0), Some(9.0)],
            &[Some(9.0), Some(15.0)],
            &[Some(7.0), Some(11.0)],
            &[Some(280.0), Some(440.0)],
        );

        // Step: 0 on [-30,30), 6 on [30,150), 18 from 150. left = 0, 6; right = 6, s(120) = 6.
        // bucket 0 window [20,60): 0 * 10 + 6 * 30 = 180 (avg 4.5); bucket 1 [60,100): 240 (avg 6).
        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        check(
            &got,
            &[Some(0.0), Some(6.0)],
            &[Some(6.0), Some(6.0)],
            &[Some(4.5), Some(6.0)],
            &[Some(180.0), Some(240.0)],
        );

        // Without the boundary points, Linear has nothing at the bucket edges 0 s and 120 s.
        let inside = secs(&[(30, 6.0)]);
        let got = interpolate(&inside, Interpolation::Linear, &grid, ALL);
        check(&got, &[None; 2], &[None; 2], &[None; 2], &[None; 2]);
    }

    /// twsum is in value × seconds: a constant 2 over a 60 s bucket is 120.
    #[test]
    fn twsum_units() {
        let points = secs(&[(0, 2.0), (60, 2.0)]);
        let grid = minutes(0, 1, 0, 60);
        for kind in [Interpolation::Step, Interpolation::Linear] {
            let got = interpolate(&points, kind, &grid, ALL);
            assert_eq!(got.twsum, vec![Some(120.0)]);
            assert_eq!(got.twavg, vec![Some(2.0)]);
        }
    }

    /// Only the wanted vectors are filled.
    #[test]
    fn only_wanted() {
        let points = secs(&[(0, 2.0), (60, 2.0)]);
        let grid = minutes(0, 1, 0, 60);
        let got = interpolate(
            &points,
            Interpolation::Linear,
            &grid,
            Wanted {
                twsum: true,
                ..Wanted::default()
            },
        );
        assert_eq!(
            got,
            Interpolated {
                twsum: vec![Some(120.0)],
                ..Interpolated::default()
            }
        );
        let got = interpolate(
            &points,
            Interpolation::Linear,
            &grid,
            Wanted {
                right: true,
                ..Wanted::default()
            },
        );
        assert_eq!(
            got,
            Interpolated {
                right: vec![Some(2.0)],
                ..Interpolated::default()
            }
        );
    }

    /// Category fractions: 15 s of category 0 and 45 s of 1 in a minute give 0.25 / 0.75; a
    /// bucket before the first point is None for every category.
    #[test]
    fn fractions() {
        // Points 0 s = category 0, 15 s = category 1; buckets [-60,0) [0,60) [60,120); 3 categories.
        let points = [(0, 0), (15 * S, 1)];
        let grid = minutes(-60, 3, -60, 120);
        let got = step_fractions(&points, 3, &grid);
        assert_eq!(
            got,
            vec![
                vec![None, Some(0.25), Some(0.0)],
                vec![None, Some(0.75), Some(1.0)],
                vec![None, Some(0.0), Some(0.0)],
            ]
        );
        for bucket in 1..3 {
            let sum: f64 = got.iter().map(|c| c[bucket].unwrap_or(0.0)).sum();
            assert_eq!(sum, 1.0);
        }

        // Clipped windows: span [5,75) -> bucket 1 is [5,60): 10 s of 0, 45 s of 1; bucket 2 is
        // [60,75): 15 s of 1. Each over the whole 60 s interval, as TSI's example answers (the
        // clipped time is in no category).
        let got = step_fractions(&points, 2, &minutes(-60, 3, 5, 75));
        assert_eq!(got[0][1], Some(10.0 / 60.0));
        assert_eq!(got[1][1], Some(45.0 / 60.0));
        assert_eq!(got[0][2], Some(0.0));
        assert_eq!(got[1][2], Some(0.25));
        assert_eq!(got[0][0], None);

        // A signal starting mid-bucket: the time before its first point is in no category.
        let got = step_fractions(&[(45 * S, 0)], 2, &minutes(0, 1, 0, 60));
        assert_eq!(got, vec![vec![Some(0.25)], vec![Some(0.0)]]);

        // A category out of range counts as undefined time.
        let got = step_fractions(&[(0, 0), (30 * S, 7)], 1, &minutes(0, 2, 0, 120));
        assert_eq!(got, vec![vec![Some(0.5), None]]);

        // Equal times: the last write wins.
        let got = step_fractions(&[(0, 1), (0, 0)], 2, &minutes(0, 1, 0, 60));
        assert_eq!(got, vec![vec![Some(1.0)], vec![Some(0.0)]]);

        assert!(step_fractions(&points, 0, &grid).is_empty());
    }

    /// Degenerate grids: no buckets, a zero or negative interval, an empty span.
    #[test]
    fn degenerate_grids() {
        let points = secs(&[(0, 1.0), (60, 2.0)]);
        let none = minutes(0, 0, 0, 60);
        assert_eq!(
            interpolate(&points, Interpolation::Linear, &none, ALL),
            Interpolated::default()
        );
        for interval in [0, -60 * S, i64::MIN] {
            let grid = Grid {
                interval,
                ..minutes(0, 2, 0, 120)
            };
            for kind in [Interpolation::Step, Interpolation::Linear] {
                let got = interpolate(&points, kind, &grid, ALL);
                check(&got, &[None; 2], &[None; 2], &[None; 2], &[None; 2]);
            }
            assert_eq!(step_fractions(&[(0, 0)], 2, &grid), vec![vec![None; 2]; 2]);
        }
        // An empty span (to <= from): no time-weighted values, the instants are still there.
        let grid = minutes(0, 2, 60, 60);
        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        check(
            &got,
            &[Some(1.0), Some(2.0)],
            &[Some(2.0), Some(2.0)],
            &[None; 2],
            &[None; 2],
        );
    }

    /// Times at the ends of the i64 range: no overflow, sensible values.
    #[test]
    fn extreme_times() {
        // Buckets start at MIN, MIN + MAX = -1 and MAX - 1; the last ends past i64::MAX.
        let points = [(i64::MIN, 1.0), (i64::MAX, 3.0)];
        let grid = Grid {
            first_start: i64::MIN,
            interval: i64::MAX,
            count: 3,
            from: i64::MIN,
            to: i64::MAX,
        };
        let got = interpolate(&points, Interpolation::Linear, &grid, ALL);
        assert_eq!(got.left[0], Some(1.0));
        // s(-1) is half way (to within 2^-64).
        assert!((got.left[1].unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(got.right[2], None);
        // Bucket 0 goes from 1 to 2: average 1.5; bucket 2 is the single nanosecond [MAX - 1, MAX).
        assert!((got.twavg[0].unwrap() - 1.5).abs() < 1e-12);
        assert!((got.twavg[2].unwrap() - 3.0).abs() < 1e-12);
        let seconds = (i64::MAX as f64) / 1e9;
        assert!((got.twsum[0].unwrap() / (1.5 * seconds) - 1.0).abs() < 1e-12);

        let got = interpolate(&points, Interpolation::Step, &grid, ALL);
        assert_eq!(got.right, vec![Some(1.0), Some(1.0), Some(3.0)]);
        assert_eq!(got.twavg, vec![Some(1.0), Some(1.0), Some(1.0)]);
    }

    /// The reference signal at instant `x`, straight from the definitions, over the raw points.
    fn ref_instant(points: &[(i64, f64)], kind: Interpolation, x: i128) -> Option<f64> {
        // The last element at or before x: the winning write of its instant.
        let &(pt, pv) = points.iter().rev().find(|p| i128::from(p.0) <= x)?;
        if kind == Interpolation::Step || i128::from(pt) == x {
            return Some(pv);
        }
        let qt = points.iter().map(|p| i128::from(p.0)).filter(|&t| t > x).min()?;
        let qv = points.iter().rev().find(|p| i128::from(p.0) == qt)?.1;
        let pt = i128::from(pt);
        Some(pv + (qv - pv) * ((x - pt) as f64 / (qt - pt) as f64))
    }

    /// The reference integral (value × seconds) and defined length (ns) over the window
    /// `[a, b)`, looping over all raw points; Linear uses the closed form of the integral.
    fn ref_window(points: &[(i64, f64)], kind: Interpolation, a: i128, b: i128) -> (f64, i128) {
        let mut integral = 0.0;
        let mut nanos = 0;
        for (k, &(t0, v0)) in points.iter().enumerate() {
            let t0 = i128::from(t0);
            let next = points.get(k + 1).map(|p| i128::from(p.0));
            let (t1, v1) = match (kind, next) {
                // A superseded write (the next element has the same time) has an empty piece.
                (_, Some(t1)) => (t1, ref_instant(points, Interpolation::Step, t1).unwrap()),
                (Interpolation::Step, None) => (b, v0),
                (Interpolation::Linear, None) => continue,
            };
            let (lo, hi) = (a.max(t0), b.min(t1));
            if lo >= hi {
                continue;
            }
            nanos += hi - lo;
            let ns_integral = match kind {
                Interpolation::Step => v0 * (hi - lo) as f64,
                Interpolation::Linear => {
                    let slope = (v1 - v0) / (t1 - t0) as f64;
                    v0 * (hi - lo) as f64 + slope * ((hi - t0).pow(2) - (lo - t0).pow(2)) as f64 / 2.0
                }
            };
            integral += ns_integral / 1e9;
        }
        (integral, nanos)
    }

    /// The reference aggregates: every bucket computed on its own from all points.
    fn reference(points: &[(i64, f64)], kind: Interpolation, grid: &Grid) -> Interpolated {
        let mut out = Interpolated::default();
        for i in 0..grid.count {
            let start = i128::from(grid.first_start) + i as i128 * i128::from(grid.interval);
            let end = start + i128::from(grid.interval);
            out.left.push(ref_instant(points, kind, start));
            out.right.push(ref_instant(points, kind, end));
            let (a, b) = (start.max(grid.from.into()), end.min(grid.to.into()));
            let (integral, nanos) = if a < b {
                ref_window(points, kind, a, b)
            } else {
                (0.0, 0)
            };
            if nanos > 0 {
                out.twsum.push(Some(integral));
                out.twavg.push(Some(integral / (nanos as f64 / 1e9)));
            } else {
                out.twsum.push(None);
                out.twavg.push(None);
            }
        }
        out
    }

    /// The reference fractions: every bucket on its own from all points.
    fn ref_fractions(points: &[(i64, usize)], categories: usize, grid: &Grid) -> Vec<Vec<Option<f64>>> {
        let mut out = vec![vec![None; grid.count]; categories];
        for i in 0..grid.count {
            let start = i128::from(grid.first_start) + i as i128 * i128::from(grid.interval);
            let (a, b) = (
                start.max(grid.from.into()),
                (start + i128::from(grid.interval)).min(grid.to.into()),
            );
            let mut nanos = vec![0i128; categories];
            for (k, &(t0, c)) in points.iter().enumerate() {
                let t1 = points.get(k + 1).map_or(b, |p| i128::from(p.0));
                let (lo, hi) = (a.max(t0.into()), b.min(t1));
                if lo < hi {
                    nanos[c] += hi - lo;
                }
            }
            let total: i128 = nanos.iter().sum();
            if total > 0 {
                for (per_category, &n) in out.iter_mut().zip(&nanos) {
                    per_category[i] = Some(n as f64 / grid.interval as f64);
                }
            }
        }
        out
    }

    /// Whether `x` and `y` agree within a relative 1e-9 of the larger of them and `scale`.
    fn close(x: Option<f64>, y: Option<f64>, scale: f64) -> bool {
        match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(scale),
            (None, None) => true,
            _ => false,
        }
    }

    /// Random small integer-time series and grids, in nanoseconds or whole seconds.
    fn case() -> impl Strategy<Value = (Vec<(i64, f64)>, Grid)> {
        (
            prop::collection::vec((-20i64..140, -50i32..50), 0..12),
            -30i64..30,
            1i64..40,
            0usize..8,
            0i64..40,
            -10i64..300,
            prop_oneof![Just(1i64), Just(S)],
        )
            .prop_map(|(mut raw, first_start, interval, count, from_offset, span, unit)| {
                raw.sort_by_key(|p| p.0);
                let points = raw.into_iter().map(|(t, v)| (t * unit, f64::from(v))).collect();
                let from = first_start + from_offset % interval;
                let grid = Grid {
                    first_start: first_start * unit,
                    interval: interval * unit,
                    count,
                    from: from * unit,
                    to: (from + span) * unit,
                };
                (points, grid)
            })
    }

    proptest! {
        /// The sweep agrees with the per-bucket reference for both interpolations.
        #[test]
        fn matches_reference((points, grid) in case(), linear in any::<bool>()) {
            let kind = if linear { Interpolation::Linear } else { Interpolation::Step };
            let got = interpolate(&points, kind, &grid, ALL);
            let want = reference(&points, kind, &grid);
            let scale = points.iter().map(|p| p.1.abs()).fold(1.0, f64::max);
            prop_assert_eq!(got.left.len(), grid.count);
            prop_assert_eq!(got.right.len(), grid.count);
            prop_assert_eq!(got.twavg.len(), grid.count);
            prop_assert_eq!(got.twsum.len(), grid.count);
            for i in 0..grid.count {
                let seconds = grid.interval as f64 / 1e9;
                prop_assert!(close(got.left[i], want.left[i], scale), "left {i}: {:?} vs {:?}", got.left, want.left);
                prop_assert!(close(got.right[i], want.right[i], scale), "right {i}: {:?} vs {:?}", got.right, want.right);
                prop_assert!(close(got.twavg[i], want.twavg[i], scale), "twavg {i}: {:?} vs {:?}", got.twavg, want.twavg);
                prop_assert!(
                    close(got.twsum[i], want.twsum[i], scale * seconds),
                    "twsum {i}: {:?} vs {:?}", got.twsum, want.twsum
                );
            }
        }

        /// Category fractions agree with the per-bucket reference and add up to at most 1 (to
        /// exactly 1 in a bucket wholly inside the span and after the first point).
        #[test]
        fn fractions_match_reference((points, grid) in case(), categories in 1usize..4) {
            let points: Vec<(i64, usize)> =
                points.iter().map(|&(t, v)| (t, (v + 50.0) as usize % categories)).collect();
            let got = step_fractions(&points, categories, &grid);
            let want = ref_fractions(&points, categories, &grid);
            prop_assert_eq!(got.len(), categories);
            for i in 0..grid.count {
                for c in 0..categories {
                    prop_assert!(close(got[c][i], want[c][i], 1.0), "bucket {i}: {:?} vs {:?}", got, want);
                }
                if got[0][i].is_some() {
                    let sum: f64 = got.iter().map(|f| f[i].unwrap_or(0.0)).sum();
                    prop_assert!(sum <= 1.0 + 1e-12);
                    let start = grid.first_start + i as i64 * grid.interval;
                    let whole = start >= grid.from
                        && start + grid.interval <= grid.to
                        && points.first().is_some_and(|p| p.0 <= start);
                    if whole {
                        prop_assert!((sum - 1.0).abs() < 1e-12, "bucket {i}: {sum}");
                    }
                }
            }
        }

        /// Nothing panics, whatever the input (unsorted points, any times, any grid).
        #[test]
        fn never_panics(
            points in prop::collection::vec((any::<i64>(), any::<f64>()), 0..8),
            first_start in any::<i64>(),
            interval in any::<i64>(),
            count in 0usize..6,
            from in any::<i64>(),
            to in any::<i64>(),
            categories in 0usize..3,
        ) {
            let grid = Grid { first_start, interval, count, from, to };
            for kind in [Interpolation::Step, Interpolation::Linear] {
                let got = interpolate(&points, kind, &grid, ALL);
                prop_assert_eq!(got.left.len(), count);
                prop_assert_eq!(got.twsum.len(), count);
            }
            let categorical: Vec<(i64, usize)> = points.iter().map(|&(t, v)| (t, v.to_bits() as usize % 4)).collect();
            let got = step_fractions(&categorical, categories, &grid);
            prop_assert_eq!(got.len(), categories);
        }
    }
}
