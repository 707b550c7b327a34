//! Bucketed aggregates of one numeric property of one twin: min, max, sum, avg, stdev, first,
//! last, median and count over epoch-aligned buckets, the same buckets as TSI
//! `aggregateSeries`. `Store::aggregate` is twinstore's own one-property API, not a TSI body:
//! every aggregation here is over the property's *values* (an event without the property does
//! not count), so `first` and `last` are its first and last value and `median` is the
//! statistical median. TSI bodies define `first`, `last` and `median` by event instead
//! (`series::EventValues`; docs/QUERIES.md); they use these accumulators for the others.
//!
//! Rows come from every source of the twin (cold chunks, tables being flushed, warm rows) in
//! one pass per source; a cold block that lies inside one bucket is folded in from its
//! statistics without decoding when no requested aggregation needs the values themselves.
//!
//! Choices where TSI's documentation is silent (SEMANTICS.md section 4): an empty bucket
//! gives `None` for every aggregation and 0 for `count`; `stdev` is the sample standard
//! deviation (n - 1 in the denominator; 0 for a single value), as Kusto's `stdev()`; `median`
//! of an even number of values is the lower of the two middle values (the nearest-rank 50th
//! percentile: always a value that occurred); `first` and `last` break ties of equal time by
//! write order, as raw events are ordered.

use crate::cold::segment::{WINDOW_NANOS, window_of};
use crate::error::{Error, Result};
use crate::model::ColumnId;
use crate::model::{Timestamp, ValueType};
use crate::read::Rank;
use crate::warm::WarmTable;

use super::TwinView;

/// At most this many buckets per query (TSI's limit is 200,000 intervals per response).
pub const MAX_BUCKETS: u64 = 200_000;

/// An aggregation over the values of a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregation {
    /// Number of values (0 for an empty bucket).
    Count,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum of the values.
    Sum,
    /// Mean of the values.
    Avg,
    /// Sample standard deviation (n - 1); 0 for one value.
    Stdev,
    /// The earliest value (ties: the first written). Over the property's values: unlike TSX
    /// `first($value)`, which is the first event's value or null.
    First,
    /// The latest value (ties: the last written). Over the property's values, as `First`.
    Last,
    /// The statistical median: the middle of the sorted values; of an even count, the lower
    /// middle one. Not TSX `median($value)`, which is the middle event's value by time.
    Median,
}

/// A bucketed aggregate query over one property of one twin.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateQuery {
    /// The twin id.
    pub twin: String,
    /// The flattened property name.
    pub property: String,
    /// Which typed column of the property: `Double` (the default, TSX's `$event.p` or
    /// `$event.p.Double`) or `Long`.
    pub value_type: ValueType,
    /// Inclusive start of the search span.
    pub from: Timestamp,
    /// Exclusive end of the search span.
    pub to: Timestamp,
    /// Bucket width in nanoseconds; buckets are aligned to the Unix epoch.
    pub interval_nanos: i64,
    /// The aggregations, in output order.
    pub aggregations: Vec<Aggregation>,
}

impl AggregateQuery {
    /// Avg, min, max and count of `property` of `twin` over `[from, to)` in buckets of
    /// `interval`.
    pub fn new(
        twin: impl Into<String>,
        property: impl Into<String>,
        from: Timestamp,
        to: Timestamp,
        interval: std::time::Duration,
    ) -> Self {
        AggregateQuery {
            twin: twin.into(),
            property: property.into(),
            value_type: ValueType::Double,
            from,
            to,
            interval_nanos: i64::try_from(interval.as_nanos()).unwrap_or(i64::MAX),
            aggregations: vec![Aggregation::Avg, Aggregation::Min, Aggregation::Max, Aggregation::Count],
        }
    }

    /// Sets the aggregations.
    pub fn aggregations(mut self, aggregations: impl IntoIterator<Item = Aggregation>) -> Self {
        self.aggregations = aggregations.into_iter().collect();
        self
    }

    /// Reads the property's `Long` column instead of its `Double` column.
    pub fn value_type(mut self, value_type: ValueType) -> Self {
        self.value_type = value_type;
        self
    }
}

/// The answer to an aggregate query, by column as TSI returns it: the buckets' left edges,
/// and per requested aggregation one value per bucket (`None` for an empty bucket; `Count`
/// gives 0 there).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SeriesResult {
    /// Left edge of each bucket.
    pub timestamps: Vec<Timestamp>,
    /// Per requested aggregation, in order: its value in each bucket.
    pub columns: Vec<(Aggregation, Vec<Option<f64>>)>,
}

impl SeriesResult {
    /// The values of `aggregation`, if it was requested.
    pub fn column(&self, aggregation: Aggregation) -> Option<&[Option<f64>]> {
        self.columns
            .iter()
            .find(|(a, _)| *a == aggregation)
            .map(|(_, v)| v.as_slice())
    }
}

/// Running state of every bucket, by column: only the arrays the requested aggregations
/// need are kept (a day of 1-minute buckets is more buckets than a twin has values).
pub(super) struct Accumulators {
    count: Vec<u64>,
    sum: Option<Vec<f64>>,
    min: Option<Vec<f64>>,
    max: Option<Vec<f64>>,
    first: Option<Vec<Option<(Rank, f64)>>>,
    last: Option<Vec<Option<(Rank, f64)>>>,
    /// Every value, for stdev and median.
    values: Option<Vec<Vec<f64>>>,
}

impl Accumulators {
    pub(super) fn new(buckets: usize, aggregations: &[Aggregation]) -> Self {
        use Aggregation::*;
        let wants = |list: &[Aggregation]| aggregations.iter().any(|a| list.contains(a));
        Accumulators {
            count: vec![0; buckets],
            sum: wants(&[Sum, Avg]).then(|| vec![0.0; buckets]),
            min: wants(&[Min]).then(|| vec![f64::INFINITY; buckets]),
            max: wants(&[Max]).then(|| vec![f64::NEG_INFINITY; buckets]),
            first: wants(&[First]).then(|| vec![None; buckets]),
            last: wants(&[Last]).then(|| vec![None; buckets]),
            values: wants(&[Stdev, Median]).then(|| vec![Vec::new(); buckets]),
        }
    }

    /// Whether first or last is kept (they need each value's place).
    pub(super) fn needs_keys(&self) -> bool {
        self.first.is_some() || self.last.is_some()
    }

    /// Adds a bucket's running totals (totals only: no first, last or kept values).
    pub(super) fn add_totals(&mut self, b: usize, count: u64, sum: f64, min: f64, max: f64) {
        self.count[b] += count;
        if let Some(s) = &mut self.sum {
            s[b] += sum;
        }
        if let Some(m) = &mut self.min {
            m[b] = m[b].min(min);
        }
        if let Some(m) = &mut self.max {
            m[b] = m[b].max(max);
        }
    }

    /// Whether every value is kept (stdev, median).
    pub(super) fn needs_values(&self) -> bool {
        self.values.is_some()
    }

    /// Adds values in time order, all inside `buckets`' span, one at a time (totals only:
    /// no first, last or kept values).
    pub(super) fn add_sparse(&mut self, buckets: &Buckets, ts: &[i64], values: &[f64]) {
        let inverse = 1.0 / buckets.interval as f64;
        let last = self.count.len().saturating_sub(1);
        for (&t, &v) in ts.iter().zip(values) {
            // Offsets within a query span are far below 2^53: the product is within one of
            // the bucket, and the integer check corrects it.
            let offset = t.wrapping_sub(buckets.first_start);
            let mut b = (offset as f64 * inverse) as i64;
            let start = b.wrapping_mul(buckets.interval);
            if offset < start {
                b -= 1;
            } else if offset >= start + buckets.interval {
                b += 1;
            }
            let b = (b.max(0) as usize).min(last);
            self.count[b] += 1;
            if let Some(sum) = &mut self.sum {
                sum[b] += v;
            }
            if let Some(min) = &mut self.min {
                min[b] = min[b].min(v);
            }
            if let Some(max) = &mut self.max {
                max[b] = max[b].max(v);
            }
        }
    }

    /// Whether only running totals are kept (whole blocks can come from their statistics).
    fn totals_only(&self) -> bool {
        self.values.is_none()
    }

    #[inline]
    pub(super) fn add(&mut self, b: usize, key: Rank, v: f64) {
        self.add_totals(b, 1, v, v, v);
        self.offer_ends(b, (key, v), (key, v));
        if let Some(values) = &mut self.values {
            values[b].push(v);
        }
    }

    /// Keeps `first` and `last` (key and value) when they come before / after what bucket
    /// `b` holds.
    #[inline]
    fn offer_ends(&mut self, b: usize, first: (Rank, f64), last: (Rank, f64)) {
        if let Some(f) = &mut self.first
            && f[b].is_none_or(|(k, _)| first.0 < k)
        {
            f[b] = Some(first);
        }
        if let Some(l) = &mut self.last
            && l[b].is_none_or(|(k, _)| last.0 > k)
        {
            l[b] = Some(last);
        }
    }

    /// Adds a run of values of bucket `b`, in time order; `first` and `last` are the keys of
    /// its first and last value.
    pub(super) fn add_run(&mut self, b: usize, values: &[f64], first: Rank, last: Rank) {
        let (Some(&v0), Some(&vn)) = (values.first(), values.last()) else {
            return;
        };
        let sum = if self.sum.is_some() { values.iter().sum() } else { 0.0 };
        let min = if self.min.is_some() {
            values.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            0.0
        };
        let max = if self.max.is_some() {
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        } else {
            0.0
        };
        self.add_totals(b, values.len() as u64, sum, min, max);
        self.offer_ends(b, (first, v0), (last, vn));
        if let Some(all) = &mut self.values {
            all[b].extend_from_slice(values);
        }
    }

    /// Adds `other`'s buckets (same bucket count and aggregations) into these: the fleet
    /// merge, and the join of per-thread partial results.
    pub(super) fn merge(&mut self, other: Accumulators) {
        fn zip<T>(a: &mut Option<Vec<T>>, b: Option<Vec<T>>, f: impl Fn(&mut T, T)) {
            if let (Some(a), Some(b)) = (a.as_mut(), b) {
                for (x, y) in a.iter_mut().zip(b) {
                    f(x, y);
                }
            }
        }
        for (x, y) in self.count.iter_mut().zip(other.count) {
            *x += y;
        }
        zip(&mut self.sum, other.sum, |x, y| *x += y);
        zip(&mut self.min, other.min, |x, y| *x = x.min(y));
        zip(&mut self.max, other.max, |x, y| *x = x.max(y));
        zip(&mut self.first, other.first, |x, y| {
            if let Some((k, v)) = y
                && x.is_none_or(|(xk, _)| k < xk)
            {
                *x = Some((k, v));
            }
        });
        zip(&mut self.last, other.last, |x, y| {
            if let Some((k, v)) = y
                && x.is_none_or(|(xk, _)| k > xk)
            {
                *x = Some((k, v));
            }
        });
        zip(&mut self.values, other.values, |x, y| x.extend(y));
    }

    /// Folds a whole block's statistics into bucket `b`.
    #[allow(clippy::too_many_arguments)]
    fn add_block(&mut self, b: usize, count: u64, sum: f64, min: f64, max: f64, first: (Rank, f64), last: (Rank, f64)) {
        self.add_totals(b, count, sum, min, max);
        self.offer_ends(b, first, last);
    }

    /// The values of `aggregation` in every bucket.
    pub(super) fn column(&mut self, aggregation: Aggregation) -> Vec<Option<f64>> {
        let count = &self.count;
        // Empty and full buckets alternate unpredictably: select without branching (a
        // mispredicted branch per bucket cost more than the rest of a 1-minute query).
        let pick = |n: u64, v: f64| if n > 0 { Some(v) } else { None };
        let from = |v: &Option<Vec<f64>>| -> Vec<Option<f64>> {
            let v = v.as_deref().unwrap_or_default();
            count.iter().zip(v).map(|(&n, &x)| pick(n, x)).collect()
        };
        match aggregation {
            Aggregation::Count => count.iter().map(|&n| Some(n as f64)).collect(),
            Aggregation::Sum => from(&self.sum),
            Aggregation::Min => from(&self.min),
            Aggregation::Max => from(&self.max),
            Aggregation::Avg => {
                let sum = self.sum.as_deref().unwrap_or_default();
                count.iter().zip(sum).map(|(&n, &s)| pick(n, s / n as f64)).collect()
            }
            Aggregation::First | Aggregation::Last => {
                let ends = if aggregation == Aggregation::First {
                    &self.first
                } else {
                    &self.last
                };
                let ends = ends.as_deref().unwrap_or_default();
                (0..count.len())
                    .map(|b| ends.get(b).copied().flatten().map(|(_, v)| v))
                    .collect()
            }
            Aggregation::Stdev => {
                let values = self.values.as_deref().unwrap_or_default();
                values
                    .iter()
                    .map(|v| match v.len() {
                        0 => None,
                        1 => Some(0.0),
                        n => {
                            // Two passes: exact enough, and no cancellation.
                            let mean = v.iter().sum::<f64>() / n as f64;
                            let squares: f64 = v.iter().map(|x| (x - mean) * (x - mean)).sum();
                            Some((squares / (n as f64 - 1.0)).sqrt())
                        }
                    })
                    .collect()
            }
            Aggregation::Median => {
                let values = self.values.as_deref_mut().unwrap_or_default();
                values
                    .iter_mut()
                    .map(|v| {
                        v.sort_by(f64::total_cmp);
                        v.get(v.len().wrapping_sub(1) / 2).copied()
                    })
                    .collect()
            }
        }
    }
}

/// Epoch-aligned buckets of `[from, to)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Buckets {
    pub first_start: i64,
    pub interval: i64,
    pub from: i64,
    pub to: i64,
    pub count: usize,
}

impl Buckets {
    /// The buckets of `[from, to)` of width `interval` (nanoseconds), or an error for a
    /// reversed span, a non-positive interval or more than [`MAX_BUCKETS`] buckets.
    pub(super) fn new(from: Timestamp, to: Timestamp, interval: i64) -> Result<Self> {
        let (query_from, query_to) = (from, to);
        let (from, to) = (from.as_nanos(), to.as_nanos());
        if interval <= 0 {
            return Err(Error::InvalidArgument("the interval must be positive".into()));
        }
        if from > to {
            return Err(Error::InvalidArgument(format!(
                "the search span is reversed: from {query_from} is after to {query_to}"
            )));
        }
        let first_start = from - from.rem_euclid(interval);
        let count = if from == to {
            0
        } else {
            (i128::from(to) - i128::from(first_start) + i128::from(interval) - 1) / i128::from(interval)
        };
        if count > i128::from(MAX_BUCKETS) {
            return Err(Error::InvalidArgument(format!(
                "{count} buckets of {interval} ns between {query_from} and {query_to}: the limit is {MAX_BUCKETS}"
            )));
        }
        Ok(Buckets {
            first_start,
            interval,
            from,
            to,
            count: count as usize,
        })
    }

    /// The left edge of every bucket.
    pub(super) fn starts(&self) -> Vec<Timestamp> {
        (0..self.count)
            .map(|i| Timestamp::from_nanos(self.first_start + i as i64 * self.interval))
            .collect()
    }

    /// The bucket of time `t`, if `t` is in the span.
    pub(super) fn of(&self, t: i64) -> Option<usize> {
        // t >= from >= first_start, so the difference is exact as a u64 (a 64-bit division:
        // the 128-bit one costs several times more, on every value).
        (t >= self.from && t < self.to)
            .then(|| (t.wrapping_sub(self.first_start) as u64 / self.interval as u64) as usize)
    }
}

pub(crate) fn aggregate(view: &TwinView<'_>, query: &AggregateQuery) -> Result<SeriesResult> {
    if !matches!(query.value_type, ValueType::Double | ValueType::Long) {
        return Err(Error::InvalidArgument(format!(
            "{} is not numeric: aggregations take Double or Long",
            query.value_type.name()
        )));
    }
    let buckets = Buckets::new(query.from, query.to, query.interval_nanos)?;
    let mut accs = Accumulators::new(buckets.count, &query.aggregations);
    fold_property(view, &query.property, query.value_type, &buckets, &mut accs)?;
    Ok(SeriesResult {
        timestamps: buckets.starts(),
        columns: query.aggregations.iter().map(|&a| (a, accs.column(a))).collect(),
    })
}

/// Folds every value of the `value_type` column of `property` in the buckets' span into
/// `accs`, from every source of the twin.
pub(super) fn fold_property(
    view: &TwinView<'_>,
    property: &str,
    value_type: ValueType,
    buckets: &Buckets,
    accs: &mut Accumulators,
) -> Result<()> {
    let column: Option<ColumnId> = {
        let meta = view.entry.meta.lock();
        meta.columns
            .iter()
            .position(|c| *c.name == *property && c.ty == value_type)
            .map(|c| c as ColumnId)
    };
    if let Some(column) = column
        && buckets.count > 0
    {
        let chunks = view.cold.chunks(view.entry.id, buckets.from, buckets.to)?;
        for (source, chunk) in chunks.iter().enumerate() {
            fold_chunk(chunk, &view.cold.cache, column, source, buckets, accs)?;
        }
        for (source, table) in (chunks.len()..).zip(view.frozen.into_iter().chain([view.warm])) {
            if accs.needs_keys() || accs.needs_values() {
                table.fold_numeric(buckets.from, buckets.to, column, view.snapshot, |t, pos, v| {
                    if let Some(b) = buckets.of(t) {
                        accs.add(
                            b,
                            Rank {
                                ts: t,
                                source,
                                within: pos,
                            },
                            v,
                        );
                    }
                });
                continue;
            }
            fold_warm_totals(table, column, view.snapshot, buckets, accs);
        }
    }
    Ok(())
}

/// Folds a warm table's values of `column` into totals-only accumulators: the current
/// bucket's totals are kept in locals and folded in when the bucket changes (rows come
/// mostly in time order). Runs of settled rows come as slices, each cut at bucket edges and
/// added in a tight loop, in the same order as one by one (so the same sums); both visitors
/// fold into the one run, one at a time.
fn fold_warm_totals(table: &WarmTable, column: ColumnId, snapshot: u64, buckets: &Buckets, accs: &mut Accumulators) {
    let state = std::cell::RefCell::new((Run::default(), &mut *accs));
    table.fold_numeric_slices(
        buckets.from,
        buckets.to,
        column,
        snapshot,
        |ts, values| {
            let (run, accs) = &mut *state.borrow_mut();
            run.add_sorted(ts, values, buckets, accs);
        },
        |t, _, v| {
            let (run, accs) = &mut *state.borrow_mut();
            if run.enter(t, buckets, accs) {
                run.add(v);
            }
        },
    );
    let (mut run, accs) = state.into_inner();
    run.fold_into(accs);
}

/// Running totals of one bucket (the warm path's fold).
struct Run {
    bucket: usize,
    start: i64,
    end: i64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            bucket: 0,
            start: 0,
            end: 0,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Run {
    fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Adds values in time order, bucket by bucket.
    fn add_sorted(&mut self, ts: &[i64], values: &[f64], buckets: &Buckets, accs: &mut Accumulators) {
        let mut i = 0;
        while i < ts.len() {
            if !self.enter(ts[i], buckets, accs) {
                i += 1;
                continue;
            }
            // A linear scan: buckets often hold a few values (minutes of a sensor reporting
            // twice a minute), where a search costs more.
            let mut j = i + 1;
            while j < ts.len() && ts[j] < self.end {
                j += 1;
            }
            values[i..j].iter().for_each(|&v| self.add(v));
            i = j;
        }
    }

    /// Makes the run the one of time `t`'s bucket, folding the current one into `accs` first
    /// if `t` is outside it; false when `t` is in no bucket.
    fn enter(&mut self, t: i64, buckets: &Buckets, accs: &mut Accumulators) -> bool {
        if (self.start..self.end).contains(&t) {
            return true;
        }
        self.fold_into(accs);
        let Some(b) = buckets.of(t) else { return false };
        self.bucket = b;
        self.start = buckets.first_start + b as i64 * buckets.interval;
        self.end = self.start + buckets.interval;
        true
    }

    /// Adds the totals to their bucket and starts empty.
    fn fold_into(&mut self, accs: &mut Accumulators) {
        if self.count > 0 {
            accs.add_totals(self.bucket, self.count, self.sum, self.min, self.max);
        }
        *self = Run {
            bucket: self.bucket,
            start: self.start,
            end: self.end,
            ..Run::default()
        };
    }
}

/// Folds values in time order, all inside `buckets`' span, into `accs`; `key(i)` is value
/// `i`'s place (read only when first or last is asked for).
fn fold_sorted(accs: &mut Accumulators, buckets: &Buckets, ts: &[i64], values: &[f64], key: impl Fn(usize) -> Rank) {
    let n = ts.len().min(values.len());
    if n == 0 {
        return;
    }
    // Fewer values than a few per bucket (1-minute buckets of a slow sensor): one value at a
    // time, buckets found by multiplication, totals only.
    let spanned = (ts[n - 1] - ts[0]) / buckets.interval + 1;
    if !accs.needs_keys() && !accs.needs_values() && (n as i64) < 4 * spanned {
        accs.add_sparse(buckets, &ts[..n], &values[..n]);
        return;
    }
    // Otherwise fold each bucket's run of values at once (one division per run, running
    // totals in registers, two arrays streamed).
    let mut i = 0;
    while i < n {
        let Some(bucket) = buckets.of(ts[i]) else { break };
        let edge = buckets.first_start + (bucket as i64 + 1) * buckets.interval;
        let mut j = i + 1;
        while j < n && ts[j] < edge {
            j += 1;
        }
        let (first, last) = if accs.needs_keys() {
            (key(i), key(j - 1))
        } else {
            let none = Rank::of_row(0, 0, 0);
            (none, none)
        };
        accs.add_run(bucket, &values[i..j], first, last);
        i = j;
    }
}

/// Whether the buckets are whole hours and every hour from the one of `first_ts` to the one
/// of `last_ts` lies inside their span: then each hour lies in one bucket.
fn whole_hours_inside(buckets: &Buckets, first_ts: i64, last_ts: i64) -> bool {
    let start = window_of(first_ts).checked_mul(WINDOW_NANOS);
    let end = window_of(last_ts)
        .checked_add(1)
        .and_then(|w| w.checked_mul(WINDOW_NANOS));
    buckets.interval % WINDOW_NANOS == 0
        && start.is_some_and(|s| s >= buckets.from)
        && end.is_some_and(|e| e <= buckets.to)
}

/// Folds one cold chunk's values of `column` into the buckets.
fn fold_chunk(
    chunk: &crate::cold::Chunk<'_>,
    cache: &crate::cold::cache::BlockCache,
    column: ColumnId,
    source: usize,
    buckets: &Buckets,
    accs: &mut Accumulators,
) -> Result<()> {
    use crate::cold::segment::StatsSummary;
    let Some(slot) = chunk.columns.iter().position(|&(c, _)| c == column) else {
        return Ok(());
    };
    {
        let mut base = 0usize;
        for g in &chunk.groups {
            let group_base = base;
            base += g.rows;
            let Some(b) = g.blocks.iter().find(|b| b.slot == slot) else {
                continue;
            };
            let st = &b.stats;
            if st.last_ts < buckets.from || st.first_ts >= buckets.to {
                continue;
            }
            // The whole block in one bucket: its statistics answer, unless values are needed.
            if accs.totals_only()
                && let (Some(first_bucket), Some(last_bucket)) = (buckets.of(st.first_ts), buckets.of(st.last_ts))
                && first_bucket == last_bucket
            {
                let (min, max, sum, first, last) = match st.summary {
                    StatsSummary::Double {
                        min,
                        max,
                        sum,
                        first,
                        last,
                    } => (min, max, sum, first, last),
                    StatsSummary::Integer {
                        min,
                        max,
                        sum,
                        first,
                        last,
                    } => (min as f64, max as f64, sum, first as f64, last as f64),
                    _ => continue,
                };
                let first_key = Rank::of_row(st.first_ts, source, group_base);
                let last_key = Rank::of_row(st.last_ts, source, group_base + st.last_row);
                accs.add_block(
                    first_bucket,
                    st.count,
                    sum,
                    min,
                    max,
                    (first_key, first),
                    (last_key, last),
                );
                continue;
            }
            // Buckets of whole hours, and every hour the block's values fall in inside the
            // span: its hour summaries answer (count, sum, minimum, maximum; first and last
            // need the values' places).
            if accs.totals_only()
                && !accs.needs_keys()
                && whole_hours_inside(buckets, st.first_ts, st.last_ts)
                && let Some(hours) = chunk.hour_summaries(b)?
            {
                for k in 0..hours.windows.len() {
                    if let Some(bucket) = buckets.of(hours.windows[k] * WINDOW_NANOS) {
                        accs.add_totals(bucket, hours.counts[k], hours.sums[k], hours.mins[k], hours.maxs[k]);
                    }
                }
                continue;
            }
            let s = chunk.cached_numeric(g, b, cache)?;
            let ts = &s.ts;
            // A group inside the span needs no search (each probe into a cold array is a
            // cache miss).
            let inside = g.first_ts >= buckets.from && g.last_ts < buckets.to;
            let (lo, hi) = if inside {
                (0, ts.len())
            } else {
                (
                    ts.partition_point(|&t| t < buckets.from),
                    ts.partition_point(|&t| t < buckets.to),
                )
            };
            if lo >= hi {
                continue;
            }
            fold_sorted(accs, buckets, &ts[lo..hi], &s.values[lo..hi], |i| {
                Rank::of_row(ts[lo + i], source, group_base + s.row(lo + i))
            });
        }
        Ok(())
    }
}
