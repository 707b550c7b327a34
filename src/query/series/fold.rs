//! Folding one twin's rows into the per-bucket state of every variable.

use std::collections::HashMap;

use crate::catalog::ColumnId;
use crate::error::Result;
use crate::query::TwinView;
use crate::query::aggregate::{Buckets, fold_property};
use crate::query::interpolate::{self, Grid, Wanted};
use crate::query::tsx::{AggFn, Scalar};
use crate::warm::ScanRange;

use super::compile::{Compiled, Plan};
use super::gather::{column_slots, gather, slot_columns};
use super::state::{CallState, VarState};

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
    state: &mut [VarState],
) -> Result<()> {
    if buckets.count == 0 {
        return Ok(());
    }
    let global_filter = plan.filter.is_some();
    // Plain calls straight from their column.
    let mut generic = plan.all_rows;
    for ((_, var), st) in plan.vars.iter().zip(state.iter_mut()) {
        match (var, st) {
            (Compiled::Numeric { calls, .. }, VarState::Calls(states)) => {
                for (call, st) in calls.iter().zip(states.iter_mut()) {
                    match (&call.column, st) {
                        (Some((name, ty)), CallState::Acc(acc, _)) if !global_filter => {
                            fold_property(view, name, *ty, buckets, acc)?;
                        }
                        _ => generic = true,
                    }
                }
            }
            _ => generic = true,
        }
    }
    if !generic {
        return Ok(());
    }
    let boundary = plan.vars.iter().map(|(_, v)| v.boundary()).max().unwrap_or(0);
    let (from, to) = (buckets.from, buckets.to);
    let range = ScanRange {
        from: from.saturating_sub(boundary),
        to: to.saturating_add(boundary),
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
            return Ok(());
        }
        Some(w)
    };
    let col_slot = column_slots(&slot_cols);
    let rows = gather(view, range, &col_slot, plan.slots.list.len(), wanted.as_deref())?;
    let mut buf = vec![Scalar::Null; plan.slots.list.len()];
    // Interpolation input per (variable, call), and categorical Step input per variable.
    let mut points: HashMap<(usize, usize), Vec<(i64, f64)>> = HashMap::new();
    let mut cat_points: HashMap<usize, Vec<(i64, usize)>> = HashMap::new();
    for (i, &ts) in rows.ts.iter().enumerate() {
        for (slot, column) in buf.iter_mut().zip(&rows.cols) {
            *slot = column[i].clone();
        }
        if let Some(f) = &plan.filter
            && !f.matches(&buf, ts, &Scalar::Null)
        {
            continue;
        }
        let bucket = buckets.of(ts);
        let key = crate::read::Rank::of_row(ts, 0, i);
        for (v, ((_, var), st)) in plan.vars.iter().zip(state.iter_mut()).enumerate() {
            if let Some(f) = var.filter()
                && !f.matches(&buf, ts, &Scalar::Null)
            {
                continue;
            }
            match (var, st) {
                (Compiled::Numeric { value, calls, .. }, VarState::Calls(states)) => {
                    let x = value.eval(&buf, ts, &Scalar::Null);
                    for (c, (call, st)) in calls.iter().zip(states.iter_mut()).enumerate() {
                        if call.column.is_some() && !global_filter {
                            continue;
                        }
                        if let CallState::Events(events) = st {
                            // Every event counts, with or without a value.
                            if let Some(b) = bucket {
                                let y = call.arg.as_ref().and_then(|a| a.eval(&buf, ts, &x).as_f64());
                                events.offer(b, (ts, twin, i), y);
                            }
                            continue;
                        }
                        if x == Scalar::Null {
                            continue;
                        }
                        let arg = call.arg.as_ref().map(|a| a.eval(&buf, ts, &x));
                        let Some(y) = arg.as_ref().and_then(Scalar::as_f64) else {
                            continue;
                        };
                        match st {
                            CallState::Acc(acc, _) => {
                                if let Some(b) = bucket {
                                    acc.add(b, key, y);
                                }
                            }
                            CallState::Interp { .. } => points.entry((v, c)).or_default().push((ts, y)),
                            CallState::Events(_) => {}
                        }
                    }
                }
                (Compiled::Aggregate { calls, .. }, VarState::Calls(states)) => {
                    let Some(b) = bucket else { continue };
                    for (call, st) in calls.iter().zip(states.iter_mut()) {
                        if let CallState::Events(events) = st {
                            let y = call.arg.as_ref().and_then(|a| a.eval(&buf, ts, &Scalar::Null).as_f64());
                            events.offer(b, (ts, twin, i), y);
                            continue;
                        }
                        let CallState::Acc(acc, _) = st else { continue };
                        let y = match &call.arg {
                            None => 0.0,
                            Some(a) => match a.eval(&buf, ts, &Scalar::Null).as_f64() {
                                Some(y) => y,
                                None => continue,
                            },
                        };
                        acc.add(b, key, y);
                    }
                }
                (
                    Compiled::Categorical {
                        value,
                        categories,
                        step,
                        ..
                    },
                    st,
                ) => {
                    let x = value.eval(&buf, ts, &Scalar::Null);
                    if x == Scalar::Null {
                        continue;
                    }
                    let cat = categories
                        .iter()
                        .position(|(_, values)| values.contains(&x))
                        .unwrap_or(categories.len());
                    match (step, st) {
                        (None, VarState::Counts(counts)) => {
                            if let Some(b) = bucket {
                                counts[cat][b] += 1;
                            }
                        }
                        (Some(_), VarState::Fractions(..)) => cat_points.entry(v).or_default().push((ts, cat)),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    let grid = Grid {
        first_start: buckets.first_start,
        interval: buckets.interval,
        count: buckets.count,
        from,
        to,
    };
    for (v, ((_, var), st)) in plan.vars.iter().zip(state.iter_mut()).enumerate() {
        match (var, st) {
            (
                Compiled::Numeric {
                    calls,
                    interpolation: Some((kind, boundary)),
                    ..
                },
                VarState::Calls(states),
            ) => {
                for (c, (call, st)) in calls.iter().zip(states.iter_mut()).enumerate() {
                    let CallState::Interp { sum, n, .. } = st else { continue };
                    let all = points.remove(&(v, c)).unwrap_or_default();
                    let pts = interpolation_points(&all, from, to, *boundary);
                    let wanted = Wanted {
                        left: call.func == AggFn::Left,
                        right: call.func == AggFn::Right,
                        twavg: call.func == AggFn::Twavg,
                        twsum: call.func == AggFn::Twsum,
                    };
                    let r = interpolate::interpolate(&pts, *kind, &grid, wanted);
                    let column = match call.func {
                        AggFn::Left => r.left,
                        AggFn::Right => r.right,
                        AggFn::Twavg => r.twavg,
                        _ => r.twsum,
                    };
                    for (b, x) in column.into_iter().enumerate() {
                        if let (Some(x), Some(s), Some(k)) = (x, sum.get_mut(b), n.get_mut(b)) {
                            *s += x;
                            *k += 1;
                        }
                    }
                }
            }
            (
                Compiled::Categorical {
                    categories,
                    step: Some(boundary),
                    ..
                },
                VarState::Fractions(sums, n),
            ) => {
                let all = cat_points.remove(&v).unwrap_or_default();
                let pts = interpolation_points(&all, from, to, *boundary);
                let fractions = interpolate::step_fractions(&pts, categories.len() + 1, &grid);
                for (c, column) in fractions.into_iter().enumerate() {
                    for (b, x) in column.into_iter().enumerate() {
                        if let Some(x) = x {
                            sums[c][b] += x;
                            if c == 0 {
                                n[b] += 1;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}
