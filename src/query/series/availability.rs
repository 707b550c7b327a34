//! `availability` and `eventSchema`: where a selection has events, and what properties.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::ColumnId;
use crate::model::{Timestamp, Value, ValueType};
use crate::query::aggregate::Buckets;
use crate::read::{Twin, TwinView, column_names, merged_rows};

use crate::warm::ScanRange;

use super::compile::duration_nanos;
use super::events::check_span;
use super::frame::{Availability, SchemaProperty};
use super::run::StoreView;

/// Bucket widths `availability` picks from when none is given: the smallest that gives at
/// most 200 buckets over the range.
pub(super) const AVAILABILITY_SIZES: [u64; 14] = [
    1,
    10,
    60,
    5 * 60,
    15 * 60,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86_400,
    7 * 86_400,
    30 * 86_400,
    365 * 86_400,
    10 * 365 * 86_400,
];

/// Event counts of `twins` over `[from, to)` (`span`; `None`: everything). Two passes over
/// the twins, the range first (to pick the width), then the counts; a cold group inside
/// the span answers from its directory (rows, first and last time) when it lies in one
/// bucket, and only the others have their times decoded: over a day of 10,000 twins that
/// reads a few thousand directories instead of millions of times.
pub(crate) fn availability(
    store: &StoreView<'_>,
    twins: &[Arc<Twin>],
    span: Option<(Timestamp, Timestamp)>,
    interval: Option<Duration>,
) -> Result<Availability> {
    let (from, to) = span.map_or((i64::MIN, i64::MAX), |(a, b)| (a.as_nanos(), b.as_nanos()));
    if from > to {
        return Err(Error::InvalidArgument("the availability range is reversed".into()));
    }
    let mut range: Option<(i64, i64)> = None;
    for entry in twins {
        store.with_twin(entry, |view| {
            visit_times(view, from, to, &|_, _| true, &mut |first, last, _| {
                range = Some(range.map_or((first, last), |(a, b)| (a.min(first), b.max(last))));
            })
        })?;
    }
    let Some((min, max)) = range else {
        return Ok(Availability {
            range: None,
            interval: interval.unwrap_or(Duration::from_secs(3600)),
            distribution: Vec::new(),
        });
    };
    let interval = match interval {
        Some(i) => i,
        None => {
            let width = (i128::from(max) - i128::from(min)) as f64 / 1e9;
            let secs = AVAILABILITY_SIZES
                .iter()
                .copied()
                .find(|&s| width / s as f64 <= 200.0)
                .unwrap_or(10 * 365 * 86_400);
            Duration::from_secs(secs)
        }
    };
    let width = duration_nanos(interval, "the interval")?;
    if width <= 0 {
        return Err(Error::InvalidArgument("the interval must be positive".into()));
    }
    let first_bucket = min.div_euclid(width);
    let buckets = (i128::from(max.div_euclid(width)) - i128::from(first_bucket)) + 1;
    if buckets > i128::from(crate::query::MAX_BUCKETS) {
        return Err(Error::InvalidArgument(format!(
            "{buckets} availability buckets: the limit is {}",
            crate::query::MAX_BUCKETS
        )));
    }
    let mut counts = vec![0u64; buckets as usize];
    let slot = |t: i64| (t.div_euclid(width) - first_bucket) as usize;
    for entry in twins {
        store.with_twin(entry, |view| {
            // A group within one bucket counts whole; the others' times one by one.
            visit_times(
                view,
                from,
                to,
                &|first, last| slot(first) == slot(last),
                &mut |first, _, events| counts[slot(first)] += events as u64,
            )
        })?;
    }
    Ok(Availability {
        range: Some((Timestamp::from_nanos(min), Timestamp::from_nanos(max))),
        interval,
        distribution: counts
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(i, &n)| {
                (
                    Timestamp::from_nanos((first_bucket + i as i64).saturating_mul(width)),
                    n,
                )
            })
            .collect(),
    })
}

/// Calls `visit(first, last, rows)` for each cold group of `view` inside `[from, to)` whose
/// times, `first` to `last`, `whole` accepts; and `visit(t, t, 1)` for each other event time
/// `t` in the span (the times of the other groups, decoded, and the warm rows).
fn visit_times(
    view: &TwinView<'_>,
    from: i64,
    to: i64,
    whole: &dyn Fn(i64, i64) -> bool,
    visit: &mut dyn FnMut(i64, i64, usize),
) -> Result<()> {
    let mut ts = Vec::new();
    for chunk in view.cold.chunks(view.entry.id, from, to)? {
        for g in chunk.groups.iter().filter(|g| g.first_ts < to && g.last_ts >= from) {
            if g.first_ts >= from && g.last_ts < to && g.rows > 0 && whole(g.first_ts, g.last_ts) {
                visit(g.first_ts, g.last_ts, g.rows);
                continue;
            }
            chunk.timestamps(g, &mut ts)?;
            for &t in ts.iter().filter(|&&t| t >= from && t < to) {
                visit(t, t, 1);
            }
        }
    }
    for table in view.frozen.into_iter().chain([view.warm]) {
        let range = ScanRange {
            from,
            to,
            descending: false,
        };
        table.scan(range, None, view.snapshot, |t, _| {
            let t = t.as_nanos();
            visit(t, t, 1);
            std::ops::ControlFlow::Continue(())
        });
    }
    Ok(())
}

/// Properties (name and type) with at least one value in `[from, to)` of one twin.
pub(super) fn twin_schema(
    view: &TwinView<'_>,
    from: i64,
    to: i64,
    out: &mut std::collections::BTreeSet<SchemaProperty>,
) -> Result<()> {
    let names = column_names(view.entry);
    let mut seen = vec![false; names.len()];
    let mut ts = Vec::new();
    for chunk in view.cold.chunks(view.entry.id, from, to)? {
        for g in chunk.groups.iter().filter(|g| g.first_ts < to && g.last_ts >= from) {
            let mut decoded = false;
            for b in &g.blocks {
                let c = chunk.columns[b.slot].0 as usize;
                if seen.get(c).copied().unwrap_or(true) {
                    continue;
                }
                let s = &b.stats;
                if s.last_ts < from || s.first_ts >= to {
                    continue;
                }
                let inside = s.first_ts >= from && s.last_ts < to;
                let hit = inside || {
                    if !decoded {
                        chunk.timestamps(g, &mut ts)?;
                        decoded = true;
                    }
                    let (present, _) = chunk.column(g, b)?;
                    present.iter().any(|&r| (from..to).contains(&ts[r as usize]))
                };
                if hit {
                    seen[c] = true;
                }
            }
        }
    }
    for table in view.frozen.into_iter().chain([view.warm]) {
        let range = ScanRange {
            from,
            to,
            descending: false,
        };
        table.scan(range, None, view.snapshot, |_, values| {
            for (c, _) in values {
                if let Some(s) = seen.get_mut(*c as usize) {
                    *s = true;
                }
            }
            std::ops::ControlFlow::Continue(())
        });
    }
    for (c, (name, ty)) in names.iter().enumerate() {
        if seen[c] && *ty != ValueType::Removed {
            out.insert(SchemaProperty {
                name: name.to_string(),
                value_type: *ty,
            });
        }
    }
    Ok(())
}

pub(crate) fn event_schema(
    store: &StoreView<'_>,
    twins: &[Arc<Twin>],
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<SchemaProperty>> {
    check_span(from, to)?;
    let mut out = std::collections::BTreeSet::new();
    for entry in twins {
        store.with_twin(entry, |view| {
            twin_schema(view, from.as_nanos(), to.as_nanos(), &mut out)
        })?;
    }
    Ok(out.into_iter().collect())
}

pub(crate) fn last_known(
    view: &TwinView<'_>,
    name: &str,
    from: Timestamp,
    to: Timestamp,
    interval: Duration,
) -> Result<Vec<(Timestamp, Option<Value>)>> {
    let buckets = Buckets::new(from, to, duration_nanos(interval, "the interval")?)?;
    let edges = buckets.starts();
    let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else {
        return Ok(Vec::new());
    };
    // The state at the first edge, then every change up to the last edge.
    let mut current = crate::read::state_at(view, Some(first))?.get(name).cloned();
    let names = column_names(view.entry);
    let columns: Vec<ColumnId> = (0..names.len() as ColumnId)
        .filter(|&c| *names[c as usize].0 == *name)
        .collect();
    let rows = if columns.is_empty() || first == last {
        Vec::new()
    } else {
        let range = ScanRange {
            from: first.as_nanos().saturating_add(1),
            to: last.as_nanos().saturating_add(1),
            descending: false,
        };
        merged_rows(view, range, Some(&columns), usize::MAX)?
    };
    let mut rows = rows.into_iter().peekable();
    let mut out = Vec::with_capacity(edges.len());
    for edge in edges {
        while let Some((_, values)) = rows.next_if(|(t, _)| *t <= edge.as_nanos()) {
            if let Some((_, v)) = values.into_iter().next() {
                current = (v != Value::Removed).then_some(v);
            }
        }
        out.push((edge, current.clone()));
    }
    Ok(out)
}
