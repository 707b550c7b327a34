//! Per-bucket state of each variable, its merge across twins, and the result columns made
//! from it.

use crate::model::{Timestamp, Value, ValueType};
use crate::query::Aggregation;
use crate::query::aggregate::Accumulators;
use crate::query::tsx::{AggFn, Expr, Scalar};

use super::compile::{Compiled, Plan, basic_aggregation, picks_an_event};
use super::frame::FrameColumn;

/// What one aggregate call has gathered, per bucket.
pub(super) enum CallState {
    /// Plain aggregations: shared running totals.
    Acc(Accumulators, Aggregation),
    /// `first`, `last`, `median`: the events they pick from.
    Events(EventValues),
    /// Interpolated: per bucket, the sum of the twins' values and how many twins gave one.
    Interp { sum: Vec<f64>, n: Vec<u32>, func: AggFn },
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
    pub(super) fn column(self) -> Vec<Option<f64>> {
        let median = self.func == AggFn::Median;
        self.buckets
            .into_iter()
            .map(|mut events| {
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

pub(super) enum VarState {
    Calls(Vec<CallState>),
    /// Per category (the default last), per bucket: events, or the sum of fractions and the
    /// number of twins that gave one (fractions are over the whole interval).
    Counts(Vec<Vec<u64>>),
    Fractions(Vec<Vec<f64>>, Vec<u32>),
}

pub(super) fn new_state(plan: &Plan, buckets: usize) -> Vec<VarState> {
    plan.vars
        .iter()
        .map(|(_, var)| match var {
            Compiled::Numeric { calls, .. } | Compiled::Aggregate { calls, .. } => VarState::Calls(
                calls
                    .iter()
                    .map(|c| match basic_aggregation(c.func) {
                        _ if picks_an_event(c.func) => CallState::Events(EventValues::new(c.func, buckets)),
                        Some(a) => CallState::Acc(Accumulators::new(buckets, &[a]), a),
                        None => CallState::Interp {
                            sum: vec![0.0; buckets],
                            n: vec![0; buckets],
                            func: c.func,
                        },
                    })
                    .collect(),
            ),
            Compiled::Categorical { categories, step, .. } => {
                let n = categories.len() + 1;
                match step {
                    None => VarState::Counts(vec![vec![0; buckets]; n]),
                    Some(_) => VarState::Fractions(vec![vec![0.0; buckets]; n], vec![0; buckets]),
                }
            }
        })
        .collect()
}

pub(super) fn merge_state(into: &mut [VarState], from: Vec<VarState>) {
    for (a, b) in into.iter_mut().zip(from) {
        match (a, b) {
            (VarState::Calls(a), VarState::Calls(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    match (x, y) {
                        (CallState::Acc(x, _), CallState::Acc(y, _)) => x.merge(y),
                        (CallState::Events(x), CallState::Events(y)) => x.merge(y),
                        (CallState::Interp { sum, n, .. }, CallState::Interp { sum: s2, n: n2, .. }) => {
                            sum.iter_mut().zip(s2).for_each(|(a, b)| *a += b);
                            n.iter_mut().zip(n2).for_each(|(a, b)| *a += b);
                        }
                        _ => {}
                    }
                }
            }
            (VarState::Counts(a), VarState::Counts(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
                }
            }
            (VarState::Fractions(a, n), VarState::Fractions(b, n2)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
                }
                n.iter_mut().zip(n2).for_each(|(a, b)| *a += b);
            }
            _ => {}
        }
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

/// Turns the gathered state into result columns.
pub(super) fn finish(plan: &Plan, states: Vec<VarState>, buckets: usize) -> Vec<FrameColumn> {
    let mut out = Vec::new();
    for ((name, var), state) in plan.vars.iter().zip(states) {
        match (var, state) {
            (Compiled::Numeric { top, calls, .. } | Compiled::Aggregate { top, calls, .. }, VarState::Calls(mut s))
                if s.len() == 1 && matches!(top, Expr::Property { slot: 0, .. }) =>
            {
                // One bare call: its results are the column (no expression to evaluate).
                let (value_type, values) = match s.pop() {
                    Some(CallState::Acc(mut acc, a)) => {
                        let column = acc.column(a);
                        if a == Aggregation::Count {
                            let values = column.into_iter().map(|v| v.map(|n| Value::Long(n as i64))).collect();
                            (ValueType::Long, values)
                        } else {
                            (
                                ValueType::Double,
                                column.into_iter().map(|v| v.map(Value::Double)).collect(),
                            )
                        }
                    }
                    Some(CallState::Events(events)) => (
                        ValueType::Double,
                        events.column().into_iter().map(|v| v.map(Value::Double)).collect(),
                    ),
                    Some(CallState::Interp { sum, n, func }) => (
                        ValueType::Double,
                        sum.into_iter()
                            .zip(n)
                            .map(|(s, n)| match (n, func) {
                                (0, _) => None,
                                (_, AggFn::Twsum) => Some(Value::Double(s)),
                                (n, _) => Some(Value::Double(s / f64::from(n))),
                            })
                            .collect(),
                    ),
                    None => (ValueType::Double, vec![None; buckets]),
                };
                out.push(FrameColumn {
                    name: name.clone(),
                    value_type,
                    values,
                });
            }
            (Compiled::Numeric { top, calls, .. } | Compiled::Aggregate { top, calls, .. }, VarState::Calls(s)) => {
                let mut per_call: Vec<Vec<Scalar>> = Vec::new();
                for state in s {
                    let values: Vec<Scalar> = match state {
                        CallState::Acc(mut acc, a) => acc
                            .column(a)
                            .into_iter()
                            .map(|v| match (v, a) {
                                (Some(v), Aggregation::Count) => Scalar::Long(v as i64),
                                (Some(v), _) => Scalar::Double(v),
                                (None, _) => Scalar::Null,
                            })
                            .collect(),
                        CallState::Events(events) => events
                            .column()
                            .into_iter()
                            .map(|v| v.map_or(Scalar::Null, Scalar::Double))
                            .collect(),
                        CallState::Interp { sum, n, func } => sum
                            .into_iter()
                            .zip(n)
                            .map(|(s, n)| match (n, func) {
                                (0, _) => Scalar::Null,
                                (_, AggFn::Twsum) => Scalar::Double(s),
                                (n, _) => Scalar::Double(s / f64::from(n)),
                            })
                            .collect(),
                    };
                    per_call.push(values);
                }
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
                out.push(FrameColumn {
                    name: name.clone(),
                    value_type: ValueType::Double,
                    values,
                });
            }
            (
                Compiled::Categorical {
                    categories, default, ..
                },
                VarState::Counts(counts),
            ) => {
                let labels = categories.iter().map(|(l, _)| l).chain([default]);
                for (label, c) in labels.zip(counts) {
                    out.push(FrameColumn {
                        name: format!("{name}[{label}]"),
                        value_type: ValueType::Long,
                        values: c.into_iter().map(|n| Some(Value::Long(n as i64))).collect(),
                    });
                }
            }
            (
                Compiled::Categorical {
                    categories, default, ..
                },
                VarState::Fractions(sums, n),
            ) => {
                let labels = categories.iter().map(|(l, _)| l).chain([default]);
                for (label, s) in labels.zip(sums) {
                    out.push(FrameColumn {
                        name: format!("{name}[{label}]"),
                        value_type: ValueType::Double,
                        values: s
                            .into_iter()
                            .zip(&n)
                            .map(|(s, &n)| (n > 0).then(|| Value::Double(s / f64::from(n))))
                            .collect(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}
