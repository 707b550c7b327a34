//! Per-bucket state of each variable, its merge across twins, and the result columns made
//! from it.

use crate::model::{Timestamp, Value, ValueType};
use crate::query::Aggregation;
use crate::query::aggregate::Accumulators;
use crate::query::tsx::{AggFn, Expr, Scalar};

use super::compile::{Call, Compiled, Plan, basic_aggregation, picks_an_event};
use super::frame::FrameColumn;

/// Which state of a [`State`] an aggregate call folds into. The kind is chosen by the
/// compiler from the call's function and carries the state's index among those of its
/// kind, so a call can only ever reach a state of its own kind.
#[derive(Clone, Copy, Debug)]
pub(super) enum CallSink {
    /// Plain aggregations (`min`, `avg`, `count`, ...): running totals.
    Totals(usize),
    /// `first`, `last`, `median`: the events they pick from.
    Events(usize),
    /// `left`, `right`, `twavg`, `twsum`: the per-twin results of an interpolation.
    Interpolated(usize),
}

/// Which state of a [`State`] a categorical variable folds into: event counts, or (with
/// Step interpolation, whose boundary span it carries) time fractions.
#[derive(Clone, Copy, Debug)]
pub(super) enum CategorySink {
    Counts(usize),
    Fractions { state: usize, boundary: i64 },
}

/// What states a plan needs, by kind, in index order: filled in by the compiler as it hands
/// out sinks, and turned into a [`State`] per fold.
#[derive(Default, Debug)]
pub(super) struct StateSpec {
    totals: Vec<Aggregation>,
    events: Vec<AggFn>,
    interpolated: Vec<AggFn>,
    /// Per categorical variable, its number of categories (the default included).
    counts: Vec<usize>,
    fractions: Vec<usize>,
}

impl StateSpec {
    /// A new state for aggregate call `func`.
    pub(super) fn call(&mut self, func: AggFn) -> CallSink {
        match basic_aggregation(func) {
            _ if picks_an_event(func) => {
                self.events.push(func);
                CallSink::Events(self.events.len() - 1)
            }
            Some(a) => {
                self.totals.push(a);
                CallSink::Totals(self.totals.len() - 1)
            }
            None => {
                self.interpolated.push(func);
                CallSink::Interpolated(self.interpolated.len() - 1)
            }
        }
    }

    /// A new state for a categorical variable of `categories` categories (the default
    /// included); fractions when it has a Step interpolation of span `step`.
    pub(super) fn categories(&mut self, categories: usize, step: Option<i64>) -> CategorySink {
        match step {
            None => {
                self.counts.push(categories);
                CategorySink::Counts(self.counts.len() - 1)
            }
            Some(boundary) => {
                self.fractions.push(categories);
                CategorySink::Fractions {
                    state: self.fractions.len() - 1,
                    boundary,
                }
            }
        }
    }
}

/// Per bucket, the sum of the twins' interpolated results and how many twins gave one.
pub(super) struct InterpolatedSums {
    pub(super) func: AggFn,
    pub(super) sum: Vec<f64>,
    pub(super) n: Vec<u32>,
}

impl InterpolatedSums {
    /// Adds one twin's results.
    pub(super) fn add(&mut self, column: Vec<Option<f64>>) {
        for (b, x) in column.into_iter().enumerate() {
            if let (Some(x), Some(s), Some(k)) = (x, self.sum.get_mut(b), self.n.get_mut(b)) {
                *s += x;
                *k += 1;
            }
        }
    }

    /// The sum (`twsum`) or the mean over twins (the others); null where no twin gave one.
    fn column(&self) -> Vec<Option<f64>> {
        self.sum
            .iter()
            .zip(&self.n)
            .map(|(&s, &n)| match (n, self.func) {
                (0, _) => None,
                (_, AggFn::Twsum) => Some(s),
                (n, _) => Some(s / f64::from(n)),
            })
            .collect()
    }
}

/// Per category (the default last), per bucket: the sum of the twins' time fractions, and
/// per bucket how many twins gave one (fractions are over the whole interval).
pub(super) struct CategoryFractions {
    pub(super) sums: Vec<Vec<f64>>,
    pub(super) n: Vec<u32>,
}

/// Everything one fold gathers, per bucket, by kind of state; compiled calls and variables
/// reach theirs through their sinks.
pub(super) struct State {
    pub(super) totals: Vec<(Accumulators, Aggregation)>,
    pub(super) events: Vec<EventValues>,
    pub(super) interpolated: Vec<InterpolatedSums>,
    /// Per categorical variable, per category, per bucket: events.
    pub(super) counts: Vec<Vec<Vec<u64>>>,
    pub(super) fractions: Vec<CategoryFractions>,
}

impl State {
    pub(super) fn new(spec: &StateSpec, buckets: usize) -> Self {
        State {
            totals: spec
                .totals
                .iter()
                .map(|&a| (Accumulators::new(buckets, &[a]), a))
                .collect(),
            events: spec.events.iter().map(|&f| EventValues::new(f, buckets)).collect(),
            interpolated: spec
                .interpolated
                .iter()
                .map(|&func| InterpolatedSums {
                    func,
                    sum: vec![0.0; buckets],
                    n: vec![0; buckets],
                })
                .collect(),
            counts: spec.counts.iter().map(|&n| vec![vec![0; buckets]; n]).collect(),
            fractions: spec
                .fractions
                .iter()
                .map(|&n| CategoryFractions {
                    sums: vec![vec![0.0; buckets]; n],
                    n: vec![0; buckets],
                })
                .collect(),
        }
    }

    /// Adds what `other` (made from the same spec) gathered.
    pub(super) fn merge(&mut self, other: State) {
        for ((x, _), (y, _)) in self.totals.iter_mut().zip(other.totals) {
            x.merge(y);
        }
        for (x, y) in self.events.iter_mut().zip(other.events) {
            x.merge(y);
        }
        for (x, y) in self.interpolated.iter_mut().zip(other.interpolated) {
            add_into(&mut x.sum, y.sum);
            add_into(&mut x.n, y.n);
        }
        for (x, y) in self.counts.iter_mut().zip(other.counts) {
            for (a, b) in x.iter_mut().zip(y) {
                add_into(a, b);
            }
        }
        for (x, y) in self.fractions.iter_mut().zip(other.fractions) {
            for (a, b) in x.sums.iter_mut().zip(y.sums) {
                add_into(a, b);
            }
            add_into(&mut x.n, y.n);
        }
    }

    /// A call's result per bucket (`count` as a whole number); `None` where it has none.
    pub(super) fn call_values(&mut self, sink: CallSink) -> Vec<Option<f64>> {
        match sink {
            CallSink::Totals(i) => {
                let (acc, a) = &mut self.totals[i];
                acc.column(*a)
            }
            CallSink::Events(i) => self.events[i].column(),
            CallSink::Interpolated(i) => self.interpolated[i].column(),
        }
    }

    /// [`State::call_values`] as TSX values: Long for `count`, else Double; null where none.
    pub(super) fn call_column(&mut self, sink: CallSink, func: AggFn) -> Vec<Scalar> {
        let count = func == AggFn::Count;
        self.call_values(sink)
            .into_iter()
            .map(|v| match v {
                Some(v) if count => Scalar::Long(v as i64),
                Some(v) => Scalar::Double(v),
                None => Scalar::Null,
            })
            .collect()
    }
}

fn add_into<T: std::ops::AddAssign>(into: &mut [T], from: Vec<T>) {
    into.iter_mut().zip(from).for_each(|(a, b)| *a += b);
}

/// Where an event sits among every event of a query: its time, its twin's place in the
/// selection, its row in the twin's merged rows (equal times: write order). So in a fleet
/// merged into one series, events of equal time are ordered by twin, in the selection's order.
pub(super) type EventKey = (i64, usize, usize);

/// The events `first`, `last` or `median` pick from, per bucket, each with its value (`None`
/// where the event has none: TSI's first, last and median "do not avoid null values").
pub(super) struct EventValues {
    pub(super) func: AggFn,
    /// `first` / `last`: the earliest / latest event so far; `median`: every event.
    pub(super) buckets: Vec<Vec<(EventKey, Option<f64>)>>,
}

impl EventValues {
    pub(super) fn new(func: AggFn, buckets: usize) -> Self {
        EventValues {
            func,
            buckets: vec![Vec::new(); buckets],
        }
    }

    pub(super) fn offer(&mut self, bucket: usize, key: EventKey, value: Option<f64>) {
        let Some(kept) = self.buckets.get_mut(bucket) else {
            return;
        };
        let replaces = match self.func {
            AggFn::First => kept.first().is_none_or(|(k, _)| key < *k),
            AggFn::Last => kept.first().is_none_or(|(k, _)| key > *k),
            _ => {
                kept.push((key, value));
                return;
            }
        };
        if replaces {
            kept.clear();
            kept.push((key, value));
        }
    }

    pub(super) fn merge(&mut self, other: EventValues) {
        for (bucket, events) in other.buckets.into_iter().enumerate() {
            for (key, value) in events {
                self.offer(bucket, key, value);
            }
        }
    }

    /// The value of the picked event of every bucket: null for an empty bucket and for an
    /// event without a value. The median of an even number of events is the earlier of the
    /// two middle ones (TSI does not say; this is always one of the bucket's events).
    pub(super) fn column(&mut self) -> Vec<Option<f64>> {
        let median = self.func == AggFn::Median;
        self.buckets
            .iter_mut()
            .map(|events| {
                if median {
                    events.sort_unstable_by_key(|(k, _)| *k);
                    events.get(events.len().wrapping_sub(1) / 2).and_then(|(_, v)| *v)
                } else {
                    events.first().and_then(|(_, v)| *v)
                }
            })
            .collect()
    }
}

pub(super) fn scalar_to_value(s: Scalar) -> Option<Value> {
    match s {
        Scalar::Null => None,
        Scalar::Double(v) => v.is_finite().then_some(Value::Double(v)),
        Scalar::Long(v) => Some(Value::Long(v)),
        Scalar::Bool(v) => Some(Value::Bool(v)),
        Scalar::String(v) => Some(Value::String(v)),
        Scalar::DateTime(v) => Some(Value::DateTime(Timestamp::from_nanos(v))),
        Scalar::TimeSpan(v) => Some(Value::Long(v)),
    }
}

/// Turns the gathered state into result columns, one per variable (one per category of a
/// categorical variable).
pub(super) fn finish(plan: &Plan, mut state: State, buckets: usize) -> Vec<FrameColumn> {
    let mut out = Vec::new();
    for (name, var) in &plan.vars {
        match var {
            Compiled::Numeric { top, calls, .. } | Compiled::Aggregate { top, calls, .. } => {
                out.push(calls_column(name, top, calls, &mut state, buckets));
            }
            Compiled::Categorical {
                categories,
                default,
                sink,
                ..
            } => {
                let labels = categories.iter().map(|(l, _)| l).chain([default]);
                match *sink {
                    CategorySink::Counts(k) => {
                        for (label, c) in labels.zip(&state.counts[k]) {
                            out.push(FrameColumn {
                                name: format!("{name}[{label}]"),
                                value_type: ValueType::Long,
                                values: c.iter().map(|&n| Some(Value::Long(n as i64))).collect(),
                            });
                        }
                    }
                    CategorySink::Fractions { state: k, .. } => {
                        let f = &state.fractions[k];
                        for (label, sums) in labels.zip(&f.sums) {
                            out.push(FrameColumn {
                                name: format!("{name}[{label}]"),
                                value_type: ValueType::Double,
                                values: sums
                                    .iter()
                                    .zip(&f.n)
                                    .map(|(&s, &n)| (n > 0).then(|| Value::Double(s / f64::from(n))))
                                    .collect(),
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// The column of a numeric or aggregate variable: its calls' results per bucket, combined
/// by the arithmetic around them.
fn calls_column(name: &str, top: &Expr, calls: &[Call], state: &mut State, buckets: usize) -> FrameColumn {
    if let [call] = calls
        && matches!(top, Expr::Property { slot: 0, .. })
    {
        // One bare call: its results are the column (no expression to evaluate).
        let value_type = if call.func == AggFn::Count {
            ValueType::Long
        } else {
            ValueType::Double
        };
        let count = call.func == AggFn::Count;
        let values = state
            .call_values(call.sink)
            .into_iter()
            .map(|v| v.map(|v| if count { Value::Long(v as i64) } else { Value::Double(v) }))
            .collect();
        return FrameColumn {
            name: name.to_string(),
            value_type,
            values,
        };
    }
    let per_call: Vec<Vec<Scalar>> = calls.iter().map(|c| state.call_column(c.sink, c.func)).collect();
    // Arithmetic over calls reads their results as slots; the answer is a Double.
    let mut results = vec![Scalar::Null; calls.len()];
    let values: Vec<Option<Value>> = (0..buckets)
        .map(|b| {
            for (r, column) in results.iter_mut().zip(&per_call) {
                *r = column[b].clone();
            }
            match scalar_to_value(top.eval(&results, 0, &Scalar::Null)) {
                Some(Value::Long(x)) => Some(Value::Double(x as f64)),
                other => other,
            }
        })
        .collect();
    FrameColumn {
        name: name.to_string(),
        value_type: ValueType::Double,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Rank;

    #[test]
    fn event_picks_follow_event_order_and_keep_nulls() {
        let mut first = EventValues::new(AggFn::First, 2);
        let mut last = EventValues::new(AggFn::Last, 2);
        let mut median = EventValues::new(AggFn::Median, 2);
        // Bucket 0: events at 10 (twin 1), 10 (twin 0), 20 without a value, 5.
        let events = [
            ((10, 1, 0), Some(1.0)),
            ((10, 0, 3), Some(2.0)),
            ((20, 0, 4), None),
            ((5, 2, 0), Some(3.0)),
        ];
        for (key, value) in events {
            first.offer(0, key, value);
            last.offer(0, key, value);
            median.offer(0, key, value);
        }
        // First: time 5. Last: time 20, which has no value (null, not skipped). Median of
        // four events in order (5, 10/twin 0, 10/twin 1, 20): the earlier middle one.
        assert_eq!(first.column(), vec![Some(3.0), None]);
        assert_eq!(last.column(), vec![None, None]);
        assert_eq!(median.column(), vec![Some(2.0), None]);
    }

    #[test]
    fn merging_two_partial_states_adds_them_kind_by_kind() {
        let mut spec = StateSpec::default();
        let sum = spec.call(AggFn::Sum);
        let first = spec.call(AggFn::First);
        let twavg = spec.call(AggFn::Twavg);
        let counts = spec.categories(2, None);
        let fractions = spec.categories(2, Some(1));
        assert!(matches!(sum, CallSink::Totals(0)));
        assert!(matches!(first, CallSink::Events(0)));
        assert!(matches!(twavg, CallSink::Interpolated(0)));
        assert!(matches!(counts, CategorySink::Counts(0)));
        assert!(matches!(fractions, CategorySink::Fractions { state: 0, boundary: 1 }));

        let mut a = State::new(&spec, 2);
        let mut b = State::new(&spec, 2);
        a.totals[0].0.add(0, Rank::of_row(1, 0, 0), 1.5);
        b.totals[0].0.add(0, Rank::of_row(2, 0, 0), 2.0);
        b.totals[0].0.add(1, Rank::of_row(3, 0, 0), 4.0);
        a.events[0].offer(1, (30, 0, 0), Some(7.0));
        b.events[0].offer(1, (20, 1, 0), Some(8.0));
        a.interpolated[0].add(vec![Some(1.0), None]);
        b.interpolated[0].add(vec![Some(3.0), Some(5.0)]);
        a.counts[0][1][0] = 2;
        b.counts[0][1][0] = 3;
        a.fractions[0].sums[0][1] = 0.25;
        a.fractions[0].n[1] = 1;
        b.fractions[0].sums[0][1] = 0.75;
        b.fractions[0].n[1] = 1;
        a.merge(b);

        assert_eq!(
            a.call_column(sum, AggFn::Sum),
            vec![Scalar::Double(3.5), Scalar::Double(4.0)]
        );
        // The earlier event wins across the two states (time 20 from the second).
        assert_eq!(
            a.call_column(first, AggFn::First),
            vec![Scalar::Null, Scalar::Double(8.0)]
        );
        // twavg is averaged over the twins that gave a value: (1 + 3) / 2, then 5 / 1.
        assert_eq!(
            a.call_column(twavg, AggFn::Twavg),
            vec![Scalar::Double(2.0), Scalar::Double(5.0)]
        );
        assert_eq!(a.counts[0][1], vec![5, 0]);
        assert_eq!(a.fractions[0].sums[0], vec![0.0, 1.0]);
        assert_eq!(a.fractions[0].n, vec![0, 2]);
    }
}
