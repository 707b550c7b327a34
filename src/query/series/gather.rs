//! Reading a twin's rows for a series query: its sources merged in order, laid out by slot.

use crate::model::ColumnId;
use std::ops::ControlFlow;

use crate::error::Result;
use crate::model::Value;
use crate::query::tsx::Scalar;

use crate::read::chunk::scan_groups;
use crate::read::{Merger, TwinView, column_names};
use crate::warm::ScanRange;

use super::compile::Slots;

/// Per slot, the twin's column id (if it has that column).
pub(super) fn slot_columns(view: &TwinView<'_>, slots: &Slots) -> Vec<Option<ColumnId>> {
    let names = column_names(view.entry);
    slots
        .list
        .iter()
        .map(|(name, ty)| {
            names
                .iter()
                .position(|(n, t)| **n == **name && t == ty)
                .map(|c| c as ColumnId)
        })
        .collect()
}

/// Fills `buf` from one row's values.
pub(super) fn fill(buf: &mut [Scalar], col_slot: &[Vec<usize>], values: &[(ColumnId, Value)]) {
    for s in buf.iter_mut() {
        *s = Scalar::Null;
    }
    for (c, v) in values {
        if let Some(slots) = col_slot.get(*c as usize) {
            for &s in slots {
                buf[s] = Scalar::from_value(v);
            }
        }
    }
}

/// For each column id of the twin, the slots it fills.
pub(super) fn column_slots(slot_cols: &[Option<ColumnId>]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (slot, c) in slot_cols.iter().enumerate() {
        if let Some(c) = c {
            let c = *c as usize;
            if out.len() <= c {
                out.resize(c + 1, Vec::new());
            }
            out[c].push(slot);
        }
    }
    out
}

/// A twin's rows in a range, by column: the time of each row and, per slot, its value
/// (null when the row has none). Read straight from the decoded blocks and the warm rows,
/// without a row object per row.
pub(super) struct Rows {
    pub(super) ts: Vec<i64>,
    pub(super) cols: Vec<Vec<Scalar>>,
}

impl Rows {
    pub(super) fn new(slots: usize) -> Self {
        Rows {
            ts: Vec::new(),
            cols: vec![Vec::new(); slots],
        }
    }

    /// Appends `n` rows of nulls at `times`.
    pub(super) fn extend_times(&mut self, times: &[i64]) -> usize {
        let base = self.ts.len();
        self.ts.extend_from_slice(times);
        for c in &mut self.cols {
            c.resize(self.ts.len(), Scalar::Null);
        }
        base
    }
}

/// The value `i` of a decoded cold block.
pub(super) fn scalar_at(values: &crate::cold::segment::Values, i: usize) -> Scalar {
    use crate::cold::segment::Values;
    match values {
        Values::Double(v) => Scalar::Double(v[i]),
        Values::Long(v) => Scalar::Long(v[i]),
        Values::Bool(v) => Scalar::Bool(v[i]),
        Values::DateTime(v) => Scalar::DateTime(v[i]),
        Values::String(v) | Values::Dynamic(v) => Scalar::String(v[i].clone()),
        Values::Removed(_) => Scalar::Null,
    }
}

/// The rows of a twin in `range` (ascending) from every source, merged in order (see
/// `read::Merger`), with the values of the slot columns. `wanted` (`None`: every row)
/// limits the warm rows to those with a value in one of the columns; cold rows are all
/// kept (a row without values evaluates to nulls, which no aggregation counts).
pub(super) fn gather(
    view: &TwinView<'_>,
    range: ScanRange,
    col_slot: &[Vec<usize>],
    slots: usize,
    wanted: Option<&[ColumnId]>,
) -> Result<Rows> {
    let mut sources = Vec::new();
    // Cold blocks are decoded only for columns that fill a slot.
    let slot_columns: Vec<ColumnId> = (0..col_slot.len())
        .filter(|&c| !col_slot[c].is_empty())
        .map(|c| c as ColumnId)
        .collect();
    for chunk in view.cold.chunks(view.entry.id, range.from, range.to)? {
        let mut rows = Rows::new(slots);
        scan_groups(
            &chunk,
            Some(&view.cold.cache),
            Some(range),
            Some(&slot_columns),
            |group| {
                let base = rows.extend_times(group.times_in_range());
                for (k, (column, _, values)) in group.columns.iter().enumerate() {
                    let targets = &col_slot[*column as usize];
                    for (r, i) in group.values_in_range(k) {
                        let value = scalar_at(values, i);
                        for &slot in targets {
                            rows.cols[slot][base + r] = value.clone();
                        }
                    }
                }
                ControlFlow::Continue(())
            },
        )?;
        sources.push(rows);
    }
    for table in view.frozen.into_iter().chain([view.warm]) {
        let mut rows = Rows::new(slots);
        table.scan(range, wanted, view.snapshot, |t, values| {
            let base = rows.extend_times(&[t.as_nanos()]);
            for (c, v) in values {
                for &slot in col_slot.get(*c as usize).map(Vec::as_slice).unwrap_or_default() {
                    rows.cols[slot][base] = Scalar::from_value(v);
                }
            }
            ControlFlow::Continue(())
        });
        sources.push(rows);
    }
    sources.retain(|s| !s.ts.is_empty());
    if sources.len() <= 1 {
        return Ok(sources.pop().unwrap_or_else(|| Rows::new(slots)));
    }
    let total = sources.iter().map(|s| s.ts.len()).sum();
    let mut out = Rows::new(slots);
    out.ts.reserve(total);
    for (k, row) in Merger::new(sources.iter().map(|s| s.ts.as_slice()), false) {
        out.ts.push(sources[k].ts[row]);
        for (o, c) in out.cols.iter_mut().zip(&sources[k].cols) {
            o.push(c[row].clone());
        }
    }
    Ok(out)
}
