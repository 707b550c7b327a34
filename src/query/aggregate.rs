//! Bucketed aggregates of one numeric property of one twin (TSI `aggregateSeries` without
//! interpolation): min, max, sum, avg, stdev, first, last, median and count over
//! epoch-aligned buckets.
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

use crate::catalog::ColumnId;
use crate::error::{Error, Result};
use crate::model::{Timestamp, ValueType};
use crate::warm::RowPos;

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
    /// The earliest value (ties: the first written).
    First,
    /// The latest value (ties: the last written).
    Last,
    /// The middle value; of an even count, the lower middle one.
    Median,
}

impl Aggregation {
    /// Needs every value, not just running totals (no answer from block statistics).
    fn needs_values(self) -> bool {
        matches!(self, Aggregation::Stdev | Aggregation::Median)
    }
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

/// Running state of one bucket.
#[derive(Clone, Debug)]
struct Acc {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// (time, source, place in the source) and value of the earliest and latest values.
    first: Option<(Key, f64)>,
    last: Option<(Key, f64)>,
    values: Vec<f64>,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first: None,
            last: None,
            values: Vec::new(),
        }
    }
}

/// Where a value sits in the order of all rows: time, source (oldest first), place.
type Key = (i64, usize, RowPos);

impl Acc {
    fn add(&mut self, key: Key, v: f64, keep: bool) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if self.first.is_none_or(|(k, _)| key < k) {
            self.first = Some((key, v));
        }
        if self.last.is_none_or(|(k, _)| key > k) {
            self.last = Some((key, v));
        }
        if keep {
            self.values.push(v);
        }
    }

    fn result(&mut self, aggregation: Aggregation) -> Option<f64> {
        if self.count == 0 {
            return (aggregation == Aggregation::Count).then_some(0.0);
        }
        let n = self.count as f64;
        Some(match aggregation {
            Aggregation::Count => n,
            Aggregation::Min => self.min,
            Aggregation::Max => self.max,
            Aggregation::Sum => self.sum,
            Aggregation::Avg => self.sum / n,
            Aggregation::First => self.first?.1,
            Aggregation::Last => self.last?.1,
            Aggregation::Stdev => {
                if self.count < 2 {
                    0.0
                } else {
                    // Two passes over the kept values: exact enough, and no cancellation.
                    let mean = self.values.iter().sum::<f64>() / n;
                    let squares: f64 = self.values.iter().map(|v| (v - mean) * (v - mean)).sum();
                    (squares / (n - 1.0)).sqrt()
                }
            }
            Aggregation::Median => {
                self.values.sort_by(f64::total_cmp);
                self.values[(self.values.len() - 1) / 2]
            }
        })
    }
}

/// Epoch-aligned buckets of `[from, to)`.
struct Buckets {
    first_start: i64,
    interval: i64,
    from: i64,
    to: i64,
    count: usize,
}

impl Buckets {
    fn new(query: &AggregateQuery) -> Result<Self> {
        let (from, to, interval) = (query.from.as_nanos(), query.to.as_nanos(), query.interval_nanos);
        if interval <= 0 {
            return Err(Error::InvalidArgument("the interval must be positive".into()));
        }
        if from > to {
            return Err(Error::InvalidArgument(format!(
                "the search span is reversed: from {} is after to {}",
                query.from, query.to
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
                "{count} buckets of {interval} ns between {} and {}: the limit is {MAX_BUCKETS}",
                query.from, query.to
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

    /// The bucket of time `t`, if `t` is in the span.
    fn of(&self, t: i64) -> Option<usize> {
        (t >= self.from && t < self.to)
            .then(|| ((i128::from(t) - i128::from(self.first_start)) / i128::from(self.interval)) as usize)
    }
}

pub(crate) fn aggregate(view: &TwinView<'_>, query: &AggregateQuery) -> Result<SeriesResult> {
    if !matches!(query.value_type, ValueType::Double | ValueType::Long) {
        return Err(Error::InvalidArgument(format!(
            "{} is not numeric: aggregations take Double or Long",
            query.value_type.name()
        )));
    }
    let buckets = Buckets::new(query)?;
    let mut accs = vec![Acc::default(); buckets.count];
    let keep = query.aggregations.iter().any(|a| a.needs_values());
    let column: Option<ColumnId> = {
        let meta = view.entry.meta.lock();
        meta.columns
            .iter()
            .position(|c| *c.name == *query.property && c.ty == query.value_type)
            .map(|c| c as ColumnId)
    };
    if let Some(column) = column
        && buckets.count > 0
    {
        let chunks = view.cold.chunks(view.entry.id, buckets.from, buckets.to)?;
        for (source, chunk) in chunks.iter().enumerate() {
            fold_chunk(chunk, column, source, &buckets, keep, &mut accs)?;
        }
        for (source, table) in (chunks.len()..).zip(view.frozen.into_iter().chain([view.warm])) {
            table.fold_numeric(buckets.from, buckets.to, column, view.snapshot, |t, pos, v| {
                if let Some(b) = buckets.of(t) {
                    accs[b].add((t, source, pos), v, keep);
                }
            });
        }
    }
    Ok(SeriesResult {
        timestamps: (0..buckets.count)
            .map(|i| Timestamp::from_nanos(buckets.first_start + i as i64 * buckets.interval))
            .collect(),
        columns: query
            .aggregations
            .iter()
            .map(|&a| (a, accs.iter_mut().map(|acc| acc.result(a)).collect()))
            .collect(),
    })
}

/// Folds one cold chunk's values of `column` into the buckets.
fn fold_chunk(
    chunk: &crate::cold::Chunk<'_>,
    column: ColumnId,
    source: usize,
    buckets: &Buckets,
    keep: bool,
    accs: &mut [Acc],
) -> Result<()> {
    use crate::cold::segment::StatsSummary;
    let Some(slot) = chunk.columns.iter().position(|&(c, _)| c == column) else {
        return Ok(());
    };
    let mut ts = Vec::new();
    let mut base = 0usize;
    for g in &chunk.groups {
        let group_base = base;
        base += g.rows;
        let Some(b) = g.blocks.iter().find(|b| b.slot == slot) else {
            continue;
        };
        let s = &b.stats;
        if s.last_ts < buckets.from || s.first_ts >= buckets.to {
            continue;
        }
        // The whole block in one bucket: its statistics answer, unless values are needed.
        if !keep
            && let (Some(first_bucket), Some(last_bucket)) = (buckets.of(s.first_ts), buckets.of(s.last_ts))
            && first_bucket == last_bucket
        {
            let (min, max, sum, first, last) = match s.summary {
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
            let acc = &mut accs[first_bucket];
            acc.count += s.count;
            acc.sum += sum;
            acc.min = acc.min.min(min);
            acc.max = acc.max.max(max);
            let first_key = (s.first_ts, source, RowPos::main(group_base));
            if acc.first.is_none_or(|(k, _)| first_key < k) {
                acc.first = Some((first_key, first));
            }
            let last_key = (s.last_ts, source, RowPos::main(group_base + s.last_row));
            if acc.last.is_none_or(|(k, _)| last_key > k) {
                acc.last = Some((last_key, last));
            }
            continue;
        }
        chunk.timestamps(g, &mut ts)?;
        let (present, values) = chunk.column(g, b)?;
        for (i, &r) in present.iter().enumerate() {
            let t = ts[r as usize];
            let Some(bucket) = buckets.of(t) else { continue };
            let v = match &values {
                crate::cold::segment::Values::Double(v) => v[i],
                crate::cold::segment::Values::Long(v) => v[i] as f64,
                _ => continue,
            };
            accs[bucket].add((t, source, RowPos::main(group_base + r as usize)), v, keep);
        }
    }
    Ok(())
}
