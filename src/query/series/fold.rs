//! Folding one twin's rows into the per-bucket state of every variable.

use std::collections::HashMap;

use crate::error::Result;
use crate::model::ColumnId;

use crate::query::aggregate::{Buckets, fold_property};
use crate::query::interpolate::{self, Grid, Wanted};
use crate::query::tsx::{AggFn, Expr, Scalar};
use crate::read::{Rank, TwinView};
use crate::warm::ScanRange;

use super::compile::{Call, Compiled, Plan};
use super::gather::{Rows, column_slots, gather, slot_columns};
use super::state::{CallSink, CategorySink, EventKey, State};

/// Reduces interpolation input to the points the definitions use: those in `[from, to)`,
/// the last before `from` and the first at or after `to`, within `boundary` of the span.
pub(super) fn interpolation_points<T: Copy>(points: &[(i64, T)], from: i64, to: i64, boundary: i64) -> Vec<(i64, T)> {
    let lo = points.partition_point(|p| p.0 < from);
    let hi = points.partition_point(|p| p.0 < to);
    let mut out = Vec::with_capacity(hi - lo + 2);
    if lo > 0 && points[lo - 1].0 >= from.saturating_sub(boundary) && boundary > 0 {
        out.push(points[lo - 1]);
    }
    out.extend_from_slice(&points[lo..hi]);
    if hi < points.len() && points[hi].0 < to.saturating_add(boundary) && boundary > 0 {
        out.push(points[hi]);
    }
    out
}

/// Folds one twin, the `twin`-th of the selection, into `state`.
pub(super) fn fold_twin(
    view: &TwinView<'_>,
    twin: usize,
    plan: &Plan,
    buckets: &Buckets,
    state: &mut State,
) -> Result<()> {
    if buckets.count == 0 {
        return Ok(());
    }
    if !fold_plain_calls(view, plan, buckets, state)? {
        return Ok(());
    }
    let Some(rows) = read_rows(view, plan, buckets)? else {
        return Ok(());
    };
    let points = fold_rows(&rows, twin, plan, buckets, state);
    let grid = Grid {
        first_start: buckets.first_start,
        interval: buckets.interval,
        count: buckets.count,
        from: buckets.from,
        to: buckets.to,
    };
    fold_interpolations(points, plan, &grid, state);
    Ok(())
}

/// Folds the plain calls (`avg($value)` of a numeric variable whose value is a property, no
/// filter) straight from their column. Returns whether anything needs the twin's rows.
fn fold_plain_calls(view: &TwinView<'_>, plan: &Plan, buckets: &Buckets, state: &mut State) -> Result<bool> {
    let global_filter = plan.filter.is_some();
    let mut generic = plan.all_rows;
    for (_, var) in &plan.vars {
        let Compiled::Numeric { calls, .. } = var else {
            generic = true;
            continue;
        };
        for call in calls {
            match (&call.column, call.sink) {
                (Some((name, ty)), CallSink::Totals(i)) if !global_filter => {
                    fold_property(view, name, *ty, buckets, &mut state.totals[i].0)?;
                }
                _ => generic = true,
            }
        }
    }
    Ok(generic)
}

/// The twin's rows the plan reads: the buckets' span widened by the largest boundary span,
/// with the slots' values; `None` when no row can matter.
fn read_rows(view: &TwinView<'_>, plan: &Plan, buckets: &Buckets) -> Result<Option<Rows>> {
    let boundary = plan.vars.iter().map(|(_, v)| v.boundary()).max().unwrap_or(0);
    let range = ScanRange {
        from: buckets.from.saturating_sub(boundary),
        to: buckets.to.saturating_add(boundary),
        descending: false,
    };
    let slot_cols = slot_columns(view, &plan.slots);
    let wanted: Option<Vec<ColumnId>> = if plan.all_rows {
        None
    } else {
        let mut w: Vec<ColumnId> = slot_cols.iter().flatten().copied().collect();
        w.sort_unstable();
        w.dedup();
        if w.is_empty() {
            return Ok(None);
        }
        Some(w)
    };
    let col_slot = column_slots(&slot_cols);
    gather(view, range, &col_slot, plan.slots.list.len(), wanted.as_deref()).map(Some)
}

/// What a fold keeps for after the rows: the input of each interpolated call, by
/// (variable, call), and of each Step categorical variable.
#[derive(Default)]
struct Points {
    numeric: HashMap<(usize, usize), Vec<(i64, f64)>>,
    categories: HashMap<usize, Vec<(i64, usize)>>,
}

/// One row as the variables see it: its time, place and slot values, and its bucket.
struct Event<'a> {
    ts: i64,
    /// Its place among every event of the query (see `EventKey`).
    key: EventKey,
    /// Its place among the twin's rows, for the totals' `first` and `last`.
    rank: Rank,
    slots: &'a [Scalar],
    bucket: Option<usize>,
}

/// Folds every row that passes the query's filter into each variable it passes.
fn fold_rows(rows: &Rows, twin: usize, plan: &Plan, buckets: &Buckets, state: &mut State) -> Points {
    let mut points = Points::default();
    let mut buf = vec![Scalar::Null; plan.slots.list.len()];
    let global_filter = plan.filter.is_some();
    for (i, &ts) in rows.ts.iter().enumerate() {
        for (slot, column) in buf.iter_mut().zip(&rows.cols) {
            *slot = column[i].clone();
        }
        if let Some(f) = &plan.filter
            && !f.matches(&buf, ts, &Scalar::Null)
        {
            continue;
        }
        let event = Event {
            ts,
            key: (ts, twin, i),
            rank: Rank::of_row(ts, 0, i),
            slots: &buf,
            bucket: buckets.of(ts),
        };
        for (v, (_, var)) in plan.vars.iter().enumerate() {
            if let Some(f) = var.filter()
                && !f.matches(event.slots, ts, &Scalar::Null)
            {
                continue;
            }
            match var {
                Compiled::Numeric { value, calls, .. } => {
                    fold_numeric(&event, v, value, calls, global_filter, state, &mut points);
                }
                Compiled::Aggregate { calls, .. } => fold_aggregate(&event, calls, state),
                Compiled::Categorical {
                    value,
                    categories,
                    sink,
                    ..
                } => {
                    let x = value.eval(event.slots, ts, &Scalar::Null);
                    if x == Scalar::Null {
                        continue;
                    }
                    let cat = categories
                        .iter()
                        .position(|(_, values)| values.contains(&x))
                        .unwrap_or(categories.len());
                    match *sink {
                        CategorySink::Counts(k) => {
                            if let Some(b) = event.bucket {
                                state.counts[k][cat][b] += 1;
                            }
                        }
                        CategorySink::Fractions { .. } => points.categories.entry(v).or_default().push((ts, cat)),
                    }
                }
            }
        }
    }
    points
}

/// Folds one event into a numeric variable's calls (the plain ones were folded from their
/// column already, unless the query has a filter).
fn fold_numeric(
    event: &Event<'_>,
    v: usize,
    value: &Expr,
    calls: &[Call],
    global_filter: bool,
    state: &mut State,
    points: &mut Points,
) {
    let ts = event.ts;
    let x = value.eval(event.slots, ts, &Scalar::Null);
    for (c, call) in calls.iter().enumerate() {
        if call.column.is_some() && !global_filter {
            continue;
        }
        if let CallSink::Events(k) = call.sink {
            // Every event counts, with or without a value.
            if let Some(b) = event.bucket {
                let y = call.arg.as_ref().and_then(|a| a.eval(event.slots, ts, &x).as_f64());
                state.events[k].offer(b, event.key, y);
            }
            continue;
        }
        if x == Scalar::Null {
            continue;
        }
        let arg = call.arg.as_ref().map(|a| a.eval(event.slots, ts, &x));
        let Some(y) = arg.as_ref().and_then(Scalar::as_f64) else {
            continue;
        };
        match call.sink {
            CallSink::Totals(k) => {
                if let Some(b) = event.bucket {
                    state.totals[k].0.add(b, event.rank, y);
                }
            }
            CallSink::Interpolated(_) => points.numeric.entry((v, c)).or_default().push((ts, y)),
            CallSink::Events(_) => {}
        }
    }
}

/// Folds one event into an aggregate variable's calls.
fn fold_aggregate(event: &Event<'_>, calls: &[Call], state: &mut State) {
    let Some(b) = event.bucket else { return };
    for call in calls {
        let y = call
            .arg
            .as_ref()
            .map(|a| a.eval(event.slots, event.ts, &Scalar::Null).as_f64());
        match call.sink {
            CallSink::Events(k) => state.events[k].offer(b, event.key, y.flatten()),
            CallSink::Totals(k) => {
                // `count()` has no argument; an argument without a value skips the event.
                let y = match y {
                    None => 0.0,
                    Some(Some(y)) => y,
                    Some(None) => continue,
                };
                state.totals[k].0.add(b, event.rank, y);
            }
            // Aggregate variables have no interpolation (the compiler refuses it).
            CallSink::Interpolated(_) => {}
        }
    }
}

/// Interpolates the kept points of each interpolated call and Step categorical variable and
/// adds the results to their state.
fn fold_interpolations(mut points: Points, plan: &Plan, grid: &Grid, state: &mut State) {
    let (from, to) = (grid.from, grid.to);
    for (v, (_, var)) in plan.vars.iter().enumerate() {
        match var {
            Compiled::Numeric {
                calls,
                interpolation: Some((kind, boundary)),
                ..
            } => {
                for (c, call) in calls.iter().enumerate() {
                    let CallSink::Interpolated(k) = call.sink else { continue };
                    let all = points.numeric.remove(&(v, c)).unwrap_or_default();
                    let pts = interpolation_points(&all, from, to, *boundary);
                    let wanted = Wanted {
                        left: call.func == AggFn::Left,
                        right: call.func == AggFn::Right,
                        twavg: call.func == AggFn::Twavg,
                        twsum: call.func == AggFn::Twsum,
                    };
                    let r = interpolate::interpolate(&pts, *kind, grid, wanted);
                    state.interpolated[k].add(match call.func {
                        AggFn::Left => r.left,
                        AggFn::Right => r.right,
                        AggFn::Twavg => r.twavg,
                        _ => r.twsum,
                    });
                }
            }
            Compiled::Categorical {
                categories,
                sink: CategorySink::Fractions { state: k, boundary },
                ..
            } => {
                let all = points.categories.remove(&v).unwrap_or_default();
                let pts = interpolation_points(&all, from, to, *boundary);
                let fractions = interpolate::step_fractions(&pts, categories.len() + 1, grid);
                let target = &mut state.fractions[*k];
                for (c, column) in fractions.into_iter().enumerate() {
                    for (b, x) in column.into_iter().enumerate() {
                        if let Some(x) = x {
                            target.sums[c][b] += x;
                            if c == 0 {
                                target.n[b] += 1;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_points_keep_the_span_and_one_neighbour_within_the_boundary() {
        let points = [
            (0, 'a'),
            (5, 'b'),
            (10, 'c'),
            (15, 'd'),
            (20, 'e'),
            (29, 'f'),
            (40, 'g'),
        ];
        // Span [10, 20), boundary 5: the last point before 10 at or after 5 (b), the points
        // in the span (c, d), the first at or after 20 before 25 (e).
        assert_eq!(
            interpolation_points(&points, 10, 20, 5),
            vec![(5, 'b'), (10, 'c'), (15, 'd'), (20, 'e')]
        );
        // Boundary 4: b (at 5) is 5 before the span, too far; e (at 20) is within 4 of 20.
        assert_eq!(
            interpolation_points(&points, 10, 20, 4),
            vec![(10, 'c'), (15, 'd'), (20, 'e')]
        );
        // No boundary: only the span.
        assert_eq!(interpolation_points(&points, 10, 20, 0), vec![(10, 'c'), (15, 'd')]);
        // Span [21, 29): neighbours e (at 20, within 5 of 21) and f (at 29, within 5 of 29).
        assert_eq!(interpolation_points(&points, 21, 29, 5), vec![(20, 'e'), (29, 'f')]);
    }
}
