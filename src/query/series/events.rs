//! `getEvents` and `getSeries`: rows in pages, with the continuation token.

use crate::error::{Error, Result};
use crate::model::ColumnId;
use crate::model::{Timestamp, Value, ValueType};
use crate::query::tsx::Scalar;

use crate::read::{TwinView, column_names, merged_rows};
use crate::warm::ScanRange;

use super::compile::{Compiled, Slots, compile, compile_filter};
use super::frame::{Frame, FrameColumn};
use super::gather::{column_slots, fill, slot_columns};
use super::{GetEventsQuery, GetSeriesQuery, MAX_TAKE, PAGE_VALUES};

/// Where the next page starts: at time `ts`, after skipping `skip` rows of that time, with
/// `returned` values already sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cursor {
    pub(super) ts: i64,
    pub(super) skip: usize,
    pub(super) returned: usize,
}

impl Cursor {
    pub(super) fn encode(self) -> String {
        format!("tw1.{}.{}.{}", self.ts, self.skip, self.returned)
    }

    pub(super) fn decode(token: &str) -> Result<Cursor> {
        let bad = || Error::InvalidArgument(format!("malformed continuation token {token:?}"));
        let mut parts = token.split('.');
        if parts.next() != Some("tw1") {
            return Err(bad());
        }
        let mut next = || parts.next().ok_or_else(bad);
        let ts = next()?.parse().map_err(|_| bad())?;
        let skip = next()?.parse().map_err(|_| bad())?;
        let returned = next()?.parse().map_err(|_| bad())?;
        Ok(Cursor { ts, skip, returned })
    }
}

pub(super) fn check_span(from: Timestamp, to: Timestamp) -> Result<()> {
    if from > to {
        return Err(Error::InvalidArgument(format!(
            "the search span is reversed: from {from} is after to {to}"
        )));
    }
    Ok(())
}

pub(super) fn check_take(take: usize) -> Result<()> {
    if take > MAX_TAKE {
        return Err(Error::InvalidArgument(format!(
            "take {take} is over the limit of {MAX_TAKE}"
        )));
    }
    Ok(())
}

/// A page being built from rows in order: the values so far, the `take` and page limits,
/// and the position (time, rows read at that time) the next page starts from.
pub(super) struct PageBuilder {
    pub(super) timestamps: Vec<Timestamp>,
    pub(super) columns: Vec<Vec<Option<Value>>>,
    pub(super) values: usize,
    /// Values this page may hold.
    pub(super) limit: usize,
    /// Values the whole answer may still hold (`take` minus earlier pages).
    pub(super) remaining: usize,
    pub(super) cursor: Cursor,
    /// Rows at the cursor's time skipped so far (they were on earlier pages).
    pub(super) skipped: usize,
    pub(super) last_ts: Option<i64>,
    pub(super) rows_at_last_ts: usize,
    pub(super) more: bool,
}

/// Where a page starts: the token's position, or the query's start.
pub(super) type Position = (Option<i64>, usize);

impl PageBuilder {
    pub(super) fn new(columns: usize, continuation: Option<&str>, from: Timestamp, take: usize) -> Result<Self> {
        let cursor = match continuation {
            Some(t) => Cursor::decode(t)?,
            None => Cursor {
                ts: from.as_nanos(),
                skip: 0,
                returned: 0,
            },
        };
        let remaining = take.saturating_sub(cursor.returned);
        Ok(PageBuilder {
            timestamps: Vec::new(),
            columns: vec![Vec::new(); columns],
            values: 0,
            limit: remaining.min(PAGE_VALUES),
            remaining,
            cursor,
            skipped: 0,
            last_ts: None,
            rows_at_last_ts: 0,
            more: false,
        })
    }

    /// Counts a row read at `ts` (kept or filtered out) in the position; `None` when the row
    /// was on an earlier page.
    pub(super) fn enter(&mut self, ts: i64) -> Option<Position> {
        if ts == self.cursor.ts && self.skipped < self.cursor.skip {
            self.skipped += 1;
            return None;
        }
        let before = (self.last_ts, self.rows_at_last_ts);
        if self.last_ts == Some(ts) {
            self.rows_at_last_ts += 1;
        } else {
            self.last_ts = Some(ts);
            self.rows_at_last_ts = 1 + if ts == self.cursor.ts { self.cursor.skip } else { 0 };
        }
        Some(before)
    }

    /// Adds a row of `n` values (taking them from `row`); false when it does not fit: the
    /// page ends before it (`before` is the position `enter` returned for it).
    pub(super) fn push(&mut self, ts: i64, row: &mut [Option<Value>], n: usize, before: Position) -> bool {
        if self.values + n > self.limit {
            (self.last_ts, self.rows_at_last_ts) = before;
            // Full before `take` is reached: there is a next page.
            self.more = self.limit < self.remaining || self.values == 0;
            return false;
        }
        self.values += n;
        self.timestamps.push(Timestamp::from_nanos(ts));
        for (column, v) in self.columns.iter_mut().zip(row.iter_mut()) {
            column.push(v.take());
        }
        true
    }

    /// The token of the next page, if there is one.
    pub(super) fn token(&self) -> Option<String> {
        (self.more && self.values > 0).then(|| {
            Cursor {
                ts: self.last_ts.unwrap_or(self.cursor.ts),
                skip: self.rows_at_last_ts,
                returned: self.cursor.returned + self.values,
            }
            .encode()
        })
    }
}

pub(crate) fn get_events(view: &TwinView<'_>, query: &GetEventsQuery) -> Result<Frame> {
    check_span(query.from, query.to)?;
    check_take(query.take)?;
    let mut slots = Slots::default();
    let filter = query
        .filter
        .as_deref()
        .map(|f| compile_filter(f, &mut slots))
        .transpose()?;
    slots.check_types(&[view.entry])?;
    let names = column_names(view.entry);
    // Output columns: the projection (types as asked), else every column but removals.
    let out_cols: Vec<ColumnId> = match &query.projected {
        Some(list) => list
            .iter()
            .filter_map(|(n, t)| names.iter().position(|(cn, ct)| **cn == **n && ct == t))
            .map(|c| c as ColumnId)
            .collect(),
        None => (0..names.len() as ColumnId)
            .filter(|&c| names[c as usize].1 != ValueType::Removed)
            .collect(),
    };
    let slot_cols = slot_columns(view, &slots);
    let col_slot = column_slots(&slot_cols);
    let mut page = PageBuilder::new(out_cols.len(), query.continuation.as_deref(), query.from, query.take)?;
    let start = page.cursor.ts;
    if page.limit > 0 && start < query.to.as_nanos() {
        // Every event, with or without a projected property: the specification drops
        // projected *properties* that appear in no event ("These properties must appear in the
        // events; otherwise, they are not returned"), not events. A row holding only removal
        // markers is not an event (TSI has no such type), so the scan asks for every other
        // column, which leaves those rows out.
        let mut wanted: Vec<ColumnId> = (0..names.len() as ColumnId)
            .filter(|&c| names[c as usize].1 != ValueType::Removed)
            .chain(slot_cols.iter().flatten().copied())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let range = ScanRange {
            from: start.max(query.from.as_nanos()),
            to: query.to.as_nanos(),
            descending: false,
        };
        // Every kept row counts at least one value: without a filter, the page needs at most
        // this many.
        let row_limit = if filter.is_none() {
            page.cursor.skip.saturating_add(page.limit).saturating_add(1)
        } else {
            usize::MAX
        };
        let rows = merged_rows(view, range, Some(&wanted), row_limit)?;
        let mut buf = vec![Scalar::Null; slots.list.len()];
        let mut row_vals: Vec<Option<Value>> = vec![None; out_cols.len()];
        for (ts, values) in &rows {
            let ts = *ts;
            let Some(before) = page.enter(ts) else { continue };
            if let Some(f) = &filter {
                fill(&mut buf, &col_slot, values);
                if !f.matches(&buf, ts, &Scalar::Null) {
                    continue;
                }
            }
            row_vals.iter_mut().for_each(|v| *v = None);
            let mut n = 0;
            for (c, v) in values {
                if let Some(i) = out_cols.iter().position(|o| o == c) {
                    row_vals[i] = Some(v.clone());
                    n += 1;
                }
            }
            // An event with no projected value is returned with nulls; it counts as one value
            // towards `take` and the page size, so that pages of such events stay bounded.
            if !page.push(ts, &mut row_vals, n.max(1), before) {
                break;
            }
        }
    }
    let continuation_token = page.token();
    let properties = out_cols
        .iter()
        .zip(page.columns)
        .filter(|(_, values)| values.iter().any(Option::is_some))
        .map(|(&c, values)| FrameColumn {
            name: names[c as usize].0.to_string(),
            value_type: names[c as usize].1,
            values,
        })
        .collect();
    Ok(Frame {
        timestamps: page.timestamps,
        properties,
        continuation_token,
    })
}

pub(crate) fn get_series(view: &TwinView<'_>, query: &GetSeriesQuery) -> Result<Frame> {
    check_span(query.from, query.to)?;
    check_take(query.take)?;
    let plan = compile(
        query.filter.as_deref(),
        &query.variables,
        query.projected.as_deref(),
        false,
    )?;
    plan.slots.check_types(&[view.entry])?;
    let mut page = PageBuilder::new(plan.vars.len(), query.continuation.as_deref(), query.from, query.take)?;
    let start = page.cursor.ts;
    let slot_cols = slot_columns(view, &plan.slots);
    let col_slot = column_slots(&slot_cols);
    let mut wanted: Vec<ColumnId> = slot_cols.iter().flatten().copied().collect();
    wanted.sort_unstable();
    wanted.dedup();
    let types: Vec<ValueType> = plan
        .vars
        .iter()
        .map(|(_, v)| match v {
            Compiled::Categorical { .. } => ValueType::String,
            _ => ValueType::Double,
        })
        .collect();
    if page.limit > 0 && !wanted.is_empty() && start < query.to.as_nanos() {
        let range = ScanRange {
            from: start.max(query.from.as_nanos()),
            to: query.to.as_nanos(),
            descending: false,
        };
        let rows = merged_rows(view, range, Some(&wanted), usize::MAX)?;
        let mut buf = vec![Scalar::Null; plan.slots.list.len()];
        let mut row_vals: Vec<Option<Value>> = vec![None; plan.vars.len()];
        for (ts, values) in &rows {
            let ts = *ts;
            let Some(before) = page.enter(ts) else { continue };
            fill(&mut buf, &col_slot, values);
            if let Some(f) = &plan.filter
                && !f.matches(&buf, ts, &Scalar::Null)
            {
                continue;
            }
            let mut n = 0;
            for (slot, (_, var)) in row_vals.iter_mut().zip(&plan.vars) {
                *slot = None;
                if let Some(f) = var.filter()
                    && !f.matches(&buf, ts, &Scalar::Null)
                {
                    continue;
                }
                *slot = match var {
                    Compiled::Numeric { value, .. } => value.eval(&buf, ts, &Scalar::Null).as_f64().map(Value::Double),
                    Compiled::Categorical {
                        value,
                        categories,
                        default,
                        ..
                    } => {
                        let x = value.eval(&buf, ts, &Scalar::Null);
                        (x != Scalar::Null).then(|| {
                            let label = categories
                                .iter()
                                .find(|(_, values)| values.contains(&x))
                                .map_or(default, |(l, _)| l);
                            Value::String(label.as_str().into())
                        })
                    }
                    Compiled::Aggregate { .. } => None,
                };
                n += usize::from(slot.is_some());
            }
            if n > 0 && !page.push(ts, &mut row_vals, n, before) {
                break;
            }
        }
    }
    let continuation_token = page.token();
    Ok(Frame {
        timestamps: page.timestamps,
        properties: plan
            .vars
            .iter()
            .zip(types)
            .zip(page.columns)
            .map(|(((name, _), value_type), values)| FrameColumn {
                name: name.clone(),
                value_type,
                values,
            })
            .collect(),
        continuation_token,
    })
}
