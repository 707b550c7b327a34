//! Time Series Insights queries over the typed API: `getEvents` (raw events with a filter and
//! a projection), `getSeries` (variables computed at each event) and `aggregateSeries`
//! (variables aggregated over epoch-aligned buckets, for one twin, many twins, or a whole
//! fleet merged), plus `availability` and `eventSchema`.
//!
//! A query is compiled once: every TSX expression is parsed and type-checked, every property
//! it reads gets a slot, and each variable's aggregation is split into its aggregate calls
//! (`max($value) - min($value)` is two calls and the arithmetic over their results). Then per
//! twin:
//!
//! - a numeric variable whose value is a plain property (`$event.Temperature.Double`) and
//!   whose calls are plain aggregations of `$value`, with no filter, is answered straight from
//!   the column: cold blocks inside one bucket from their statistics (see `aggregate`);
//! - everything else reads the twin's merged rows (cold, being flushed, warm; in write order),
//!   fills the slots of each row, evaluates the filters and values, and folds the results into
//!   per-bucket accumulators, or into the points an interpolation needs.
//!
//! # Rules TSI's documentation states (docs/QUERIES.md cites each)
//!
//! - `first`, `last` and `median` are `$value` of the first, last and middle *event* of the
//!   bucket by event time, and do not avoid nulls (the TSX syntax reference): every event of
//!   the twin in the bucket that passes the query's and the variable's filters counts, with or
//!   without the property. The middle of an even count is the earlier of the two middle events.
//! - Categorical Step fractions are time in the category over the whole interval, so a bucket
//!   the search span clips, or that starts before the signal, adds up to less than 1 (TSI's
//!   example `QueryAggregateSeriesWithCategoricalInterpolatedVariable.json`).
//! - `getEvents` returns every event in the span that passes the filter; a projected property
//!   that no returned event has is left out, but an event without any projected property is
//!   returned with nulls.
//!
//! # Choices where TSI's documentation is silent
//!
//! - Twin updates carry only the properties that changed, so an event without a variable's
//!   property is not a null reading: events whose value is null are skipped by the other
//!   aggregations (`min`, `max`, `sum`, `avg`, `stdev`, the interpolated ones) and by
//!   categorical variables.
//! - An empty bucket gives null; `count()` gives 0; a categorical variable gives 0 events.
//! - Interpolated aggregations (`left`, `right`, `twavg`, `twsum`) see the points in the
//!   search span plus the last point before `from` and the first at or after `to` within the
//!   boundary span (none without one). Inside the span, interpolation bridges any gap.
//!   `twsum` is in value × seconds. See `interpolate` for the exact definitions.
//! - A fleet merged into one series folds every twin's values into the same buckets (the
//!   hourly average is over all readings of all twins; `first`, `last` and `median` pick among
//!   the events of all twins, equal times ordered by the twins' order in the selection);
//!   interpolated aggregations are averaged over the twins that have a value (`twsum`
//!   summed), categorical counts added and fractions averaged.
//! - `getEvents` does not return removal markers (TSI has no such type); `getSeries` leaves out
//!   events where every projected variable is null.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::catalog::{ColumnId, TwinEntry};
use crate::error::{Error, Result};
use crate::model::{Timestamp, Value, ValueType};
use crate::warm::ScanRange;

use super::aggregate::{Accumulators, Buckets, fold_property};
use super::interpolate::{self, Grid, Interpolation, Wanted};
use super::tsx::{self, AggFn, Expr, Scalar, TsxType};
use super::{Aggregation, TwinView, column_names, merged_rows};

/// Default `take` of `getEvents` and `getSeries` (TSI's default).
pub const DEFAULT_TAKE: usize = 10_000;
/// Largest `take` accepted (TSI's limit).
pub const MAX_TAKE: usize = 250_000;
/// At most this many property values per page; a longer answer gets a continuation token.
pub const PAGE_VALUES: usize = 100_000;
/// At most this many projected variables per query (TSI's limit).
pub const MAX_VARIABLES: usize = 50;

/// How a variable's values are drawn between events, and how far outside the search span to
/// look for neighbours.
#[derive(Clone, Debug, PartialEq)]
pub struct InterpolationSpec {
    /// Linear or Step.
    pub kind: Interpolation,
    /// The boundary span: how far before `from` and after `to` to look for a neighbour.
    pub boundary: Duration,
}

/// A labelled set of values of a categorical variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Category {
    /// The label; the result column is `Variable[Label]`.
    pub label: String,
    /// The values (Long or String) that fall in this category.
    pub values: Vec<Value>,
}

/// A TSI variable: what to compute from a twin's events.
#[derive(Clone, Debug, PartialEq)]
pub enum Variable {
    /// A number per event (`value`, TSX of type Double or Long), aggregated per bucket with
    /// `aggregation` (TSX over `$value`, e.g. `avg($value)` or `max($value) - min($value)`).
    Numeric {
        /// TSX value expression.
        value: String,
        /// TSX aggregation expression over `$value`.
        aggregation: String,
        /// Required by `left`, `right`, `twavg` and `twsum`; not allowed with the others.
        interpolation: Option<InterpolationSpec>,
        /// TSX predicate: only events it accepts count.
        filter: Option<String>,
    },
    /// A Long or String per event, mapped to labelled categories; per bucket, per category,
    /// the number of events (or with Step interpolation the fraction of the bucket's time).
    Categorical {
        /// TSX value expression (Long or String).
        value: String,
        /// The categories.
        categories: Vec<Category>,
        /// The label of values in no category.
        default_category: String,
        /// Only Step is allowed.
        interpolation: Option<InterpolationSpec>,
        /// TSX predicate.
        filter: Option<String>,
    },
    /// Aggregations over `$event` properties: `count()`, `max($event.Speed.Double) -
    /// min($event.Speed.Double)`.
    Aggregate {
        /// TSX aggregation expression.
        aggregation: String,
        /// TSX predicate.
        filter: Option<String>,
    },
}

impl Variable {
    /// A numeric variable.
    pub fn numeric(value: impl Into<String>, aggregation: impl Into<String>) -> Self {
        Variable::Numeric {
            value: value.into(),
            aggregation: aggregation.into(),
            interpolation: None,
            filter: None,
        }
    }

    /// A categorical variable.
    pub fn categorical(
        value: impl Into<String>,
        categories: impl IntoIterator<Item = Category>,
        default_category: impl Into<String>,
    ) -> Self {
        Variable::Categorical {
            value: value.into(),
            categories: categories.into_iter().collect(),
            default_category: default_category.into(),
            interpolation: None,
            filter: None,
        }
    }

    /// An aggregate variable.
    pub fn aggregate(aggregation: impl Into<String>) -> Self {
        Variable::Aggregate {
            aggregation: aggregation.into(),
            filter: None,
        }
    }

    /// Sets the variable's filter.
    pub fn filter(mut self, predicate: impl Into<String>) -> Self {
        let predicate = Some(predicate.into());
        match &mut self {
            Variable::Numeric { filter, .. }
            | Variable::Categorical { filter, .. }
            | Variable::Aggregate { filter, .. } => *filter = predicate,
        }
        self
    }

    /// Sets the interpolation (numeric and categorical variables; an aggregate variable
    /// refuses it when the query runs).
    pub fn interpolation(mut self, kind: Interpolation, boundary: Duration) -> Self {
        let spec = Some(InterpolationSpec { kind, boundary });
        match &mut self {
            Variable::Numeric { interpolation, .. } | Variable::Categorical { interpolation, .. } => {
                *interpolation = spec
            }
            Variable::Aggregate { .. } => {}
        }
        self
    }
}

/// Which twins a fleet query covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TwinSelector {
    /// These twins (an unknown id is an error).
    Ids(Vec<String>),
    /// Every twin whose id starts with this prefix.
    Prefix(String),
    /// Every twin of this model id (DTMI).
    Model(String),
    /// Every twin.
    All,
}

impl From<&str> for TwinSelector {
    fn from(id: &str) -> Self {
        TwinSelector::Ids(vec![id.to_string()])
    }
}

impl From<String> for TwinSelector {
    fn from(id: String) -> Self {
        TwinSelector::Ids(vec![id])
    }
}

/// `aggregateSeries`: variables per epoch-aligned bucket over `[from, to)`.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateSeriesQuery {
    /// The twins.
    pub twins: TwinSelector,
    /// Inclusive start.
    pub from: Timestamp,
    /// Exclusive end.
    pub to: Timestamp,
    /// Bucket width.
    pub interval: Duration,
    /// TSX predicate applied to every event, AND-ed with each variable's own filter.
    pub filter: Option<String>,
    /// Variables by name, in output order (unless `projected` says otherwise).
    pub variables: Vec<(String, Variable)>,
    /// The variables to return, in order (`None`: all).
    pub projected: Option<Vec<String>>,
    /// One series for all the twins instead of one per twin.
    pub merge: bool,
}

impl AggregateSeriesQuery {
    /// A query with no variables yet.
    pub fn new(twins: impl Into<TwinSelector>, from: Timestamp, to: Timestamp, interval: Duration) -> Self {
        AggregateSeriesQuery {
            twins: twins.into(),
            from,
            to,
            interval,
            filter: None,
            variables: Vec::new(),
            projected: None,
            merge: false,
        }
    }

    /// Adds a variable.
    pub fn variable(mut self, name: impl Into<String>, variable: Variable) -> Self {
        self.variables.push((name.into(), variable));
        self
    }

    /// Sets the query-wide filter.
    pub fn filter(mut self, predicate: impl Into<String>) -> Self {
        self.filter = Some(predicate.into());
        self
    }

    /// Returns only these variables, in this order.
    pub fn project<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.projected = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Merges all selected twins into one series.
    pub fn merged(mut self) -> Self {
        self.merge = true;
        self
    }
}

/// `getSeries`: variables computed at each event of one twin.
#[derive(Clone, Debug, PartialEq)]
pub struct GetSeriesQuery {
    /// The twin.
    pub twin: String,
    /// Inclusive start.
    pub from: Timestamp,
    /// Exclusive end.
    pub to: Timestamp,
    /// TSX predicate.
    pub filter: Option<String>,
    /// Variables by name (numeric or categorical).
    pub variables: Vec<(String, Variable)>,
    /// The variables to return (`None`: all).
    pub projected: Option<Vec<String>>,
    /// At most this many values over all pages.
    pub take: usize,
    /// The token of the page before, to get the next one.
    pub continuation: Option<String>,
}

impl GetSeriesQuery {
    /// A query with no variables yet.
    pub fn new(twin: impl Into<String>, from: Timestamp, to: Timestamp) -> Self {
        GetSeriesQuery {
            twin: twin.into(),
            from,
            to,
            filter: None,
            variables: Vec::new(),
            projected: None,
            take: DEFAULT_TAKE,
            continuation: None,
        }
    }

    /// Adds a variable.
    pub fn variable(mut self, name: impl Into<String>, variable: Variable) -> Self {
        self.variables.push((name.into(), variable));
        self
    }

    /// Sets the filter.
    pub fn filter(mut self, predicate: impl Into<String>) -> Self {
        self.filter = Some(predicate.into());
        self
    }
}

/// `getEvents`: raw events of one twin.
#[derive(Clone, Debug, PartialEq)]
pub struct GetEventsQuery {
    /// The twin.
    pub twin: String,
    /// Inclusive start.
    pub from: Timestamp,
    /// Exclusive end.
    pub to: Timestamp,
    /// TSX predicate.
    pub filter: Option<String>,
    /// The properties to return, by name and type (`None`: all).
    pub projected: Option<Vec<(String, ValueType)>>,
    /// At most this many values over all pages.
    pub take: usize,
    /// The token of the page before, to get the next one.
    pub continuation: Option<String>,
}

impl GetEventsQuery {
    /// Every event of `twin` in `[from, to)`, up to the default `take`.
    pub fn new(twin: impl Into<String>, from: Timestamp, to: Timestamp) -> Self {
        GetEventsQuery {
            twin: twin.into(),
            from,
            to,
            filter: None,
            projected: None,
            take: DEFAULT_TAKE,
            continuation: None,
        }
    }

    /// Sets the filter.
    pub fn filter(mut self, predicate: impl Into<String>) -> Self {
        self.filter = Some(predicate.into());
        self
    }

    /// Returns only these properties.
    pub fn project<S: Into<String>>(mut self, properties: impl IntoIterator<Item = (S, ValueType)>) -> Self {
        self.projected = Some(properties.into_iter().map(|(n, t)| (n.into(), t)).collect());
        self
    }

    /// At most `take` values over all pages.
    pub fn take(mut self, take: usize) -> Self {
        self.take = take;
        self
    }
}

/// One result column: a property or variable, its type and one value per timestamp (`None`
/// is null).
#[derive(Clone, Debug, PartialEq)]
pub struct FrameColumn {
    /// Property or variable name (`Var[Label]` for a category).
    pub name: String,
    /// The values' type.
    pub value_type: ValueType,
    /// One per timestamp.
    pub values: Vec<Option<Value>>,
}

/// A TSI response page: timestamps and columns of values.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Frame {
    /// Event times, or bucket left edges.
    pub timestamps: Vec<Timestamp>,
    /// The columns.
    pub properties: Vec<FrameColumn>,
    /// Present when there is more: pass it back in the query to get the next page.
    pub continuation_token: Option<String>,
}

impl Frame {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&FrameColumn> {
        self.properties.iter().find(|c| c.name == name)
    }

    /// The values of column `name` as doubles (Long widened; null and other types `None`).
    pub fn doubles(&self, name: &str) -> Option<Vec<Option<f64>>> {
        self.column(name)
            .map(|c| c.values.iter().map(|v| v.as_ref().and_then(Value::as_f64)).collect())
    }
}

/// The series of one twin, or of a merged fleet (`twin` is `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct TwinFrame {
    /// The twin id; `None` for a merged series.
    pub twin: Option<String>,
    /// Its series.
    pub frame: Frame,
}

/// `availability`: how many events there are over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Availability {
    /// Time of the first and last event (inclusive), if any.
    pub range: Option<(Timestamp, Timestamp)>,
    /// Width of the distribution's buckets.
    pub interval: Duration,
    /// Bucket left edge and event count, for non-empty buckets, in time order.
    pub distribution: Vec<(Timestamp, u64)>,
}

/// A property seen in a span, and its type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaProperty {
    /// Flattened name.
    pub name: String,
    /// Type.
    pub value_type: ValueType,
}

// ---------------------------------------------------------------------------------------
// Compilation

fn tsx_error(what: &str, text: &str, e: tsx::TsxError) -> Error {
    Error::InvalidArgument(format!("{what} {text:?}: {e}"))
}

/// Parses a filter: must be a predicate.
fn compile_filter(text: &str, slots: &mut Slots) -> Result<Expr> {
    let mut expr = tsx::parse(text).map_err(|e| tsx_error("filter", text, e))?;
    let ty = expr.check(None, false).map_err(|e| tsx_error("filter", text, e))?;
    if !matches!(ty, TsxType::Bool | TsxType::Null) {
        return Err(Error::InvalidArgument(format!(
            "filter {text:?} is of type {ty:?}: a filter must be a predicate (Bool)"
        )));
    }
    slots.bind(&mut expr);
    Ok(expr)
}

/// The properties every expression of a query reads, as one list of slots.
#[derive(Default)]
struct Slots {
    list: Vec<(String, ValueType)>,
}

impl Slots {
    /// Gives every property reference of `expr` its slot in the query-wide list.
    fn bind(&mut self, expr: &mut Expr) {
        let local = expr.bind_properties();
        let map: Vec<usize> = local.into_iter().map(|p| self.slot(p)).collect();
        remap_slots(expr, &map);
    }

    fn slot(&mut self, property: (String, ValueType)) -> usize {
        match self.list.iter().position(|p| *p == property) {
            Some(i) => i,
            None => {
                self.list.push(property);
                self.list.len() - 1
            }
        }
    }
}

impl Slots {
    /// Refuses references to a name none of whose referenced types any of `twins` has, while
    /// some have the name with another type (`$event.Mode.Double` where Mode is a String):
    /// almost always a mistake, and TSI's answer (nulls everywhere) would hide it. The idiom
    /// `coalesce($event.p.Double, toDouble($event.p.Long))` is fine when either exists; a
    /// name no twin has is fine too (the property may not have been written yet).
    fn check_types(&self, twins: &[&TwinEntry]) -> Result<()> {
        let mut checked: Vec<&str> = Vec::new();
        for (name, _) in &self.list {
            if checked.contains(&name.as_str()) {
                continue;
            }
            checked.push(name);
            let asked: Vec<ValueType> = self.list.iter().filter(|(n, _)| n == name).map(|(_, t)| *t).collect();
            let mut stored: Vec<ValueType> = Vec::new();
            // Usually the first twin has it: stop at the first that does.
            let found = twins.iter().any(|twin| {
                let mut hit = false;
                for (n, t) in column_names(twin).iter() {
                    if **n == **name && *t != ValueType::Removed {
                        hit |= asked.contains(t);
                        if !stored.contains(t) {
                            stored.push(*t);
                        }
                    }
                }
                hit
            });
            if found || stored.is_empty() {
                continue;
            }
            stored.sort_unstable();
            return Err(Error::InvalidArgument(format!(
                "no twin of the query has {name} as {}: it is stored as {} (write {})",
                asked.iter().map(|t| t.name()).collect::<Vec<_>>().join(" or "),
                stored.iter().map(|t| t.name()).collect::<Vec<_>>().join(" and "),
                stored
                    .iter()
                    .map(|t| format!("$event.{name}.{t}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        Ok(())
    }
}

/// Calls `f` on every node of `expr`, children first.
fn walk_mut(expr: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    match expr {
        Expr::Literal { .. } | Expr::Property { .. } | Expr::Timestamp { .. } | Expr::Value { .. } => {}
        Expr::Unary { arg, .. } => walk_mut(arg, f),
        Expr::Binary { left, right, .. } => {
            walk_mut(left, f);
            walk_mut(right, f);
        }
        Expr::Call { args, .. } => args.iter_mut().for_each(|a| walk_mut(a, f)),
        Expr::Aggregate { arg, .. } => {
            if let Some(a) = arg {
                walk_mut(a, f)
            }
        }
        Expr::In { arg, list, .. } => {
            walk_mut(arg, f);
            list.iter_mut().for_each(|a| walk_mut(a, f));
        }
        Expr::Has { arg, needle, .. } => {
            walk_mut(arg, f);
            walk_mut(needle, f);
        }
    }
    f(expr);
}

fn remap_slots(expr: &mut Expr, map: &[usize]) {
    walk_mut(expr, &mut |e| {
        if let Expr::Property { slot, .. } = e
            && let Some(&global) = map.get(*slot)
        {
            *slot = global;
        }
    });
}

/// One aggregate call of an aggregation expression.
struct Call {
    func: AggFn,
    /// Its argument (`None` for `count()`).
    arg: Option<Expr>,
    /// Plain: the argument is `$value` of a numeric variable whose value is a plain property.
    column: Option<(String, ValueType)>,
}

/// Takes the aggregate calls out of `top`, leaving the arithmetic over them: call `k`
/// becomes a read of slot `k`, so that a bucket's value is `top.eval(results)`.
fn collect_calls(top: &mut Expr) -> Vec<Call> {
    let mut calls = Vec::new();
    walk_mut(top, &mut |e| {
        if let Expr::Aggregate { func, arg, pos } = e {
            calls.push(Call {
                func: *func,
                arg: arg.as_deref().cloned(),
                column: None,
            });
            *e = Expr::Property {
                name: String::new(),
                ty: ValueType::Double,
                slot: calls.len() - 1,
                pos: *pos,
            };
        }
    });
    calls
}

/// Whether `expr` reads any `$event` property.
fn reads_properties(expr: &Expr) -> bool {
    let mut any = false;
    expr.walk(&mut |e| any |= matches!(e, Expr::Property { .. }));
    any
}

fn is_interpolated(f: AggFn) -> bool {
    matches!(f, AggFn::Left | AggFn::Right | AggFn::Twavg | AggFn::Twsum)
}

/// `first`, `last` and `median`: TSI's TSX reference defines them by event ("`$value` of the
/// first / last event by event time", "of the middle event in the interval by event time
/// stamp"; they "do not avoid null values"), so they look at every event of the bucket, not
/// only at those with a value.
fn picks_an_event(f: AggFn) -> bool {
    matches!(f, AggFn::First | AggFn::Last | AggFn::Median)
}

fn basic_aggregation(f: AggFn) -> Option<Aggregation> {
    Some(match f {
        AggFn::Min => Aggregation::Min,
        AggFn::Max => Aggregation::Max,
        AggFn::Sum => Aggregation::Sum,
        AggFn::Avg => Aggregation::Avg,
        AggFn::Stdev => Aggregation::Stdev,
        AggFn::First => Aggregation::First,
        AggFn::Last => Aggregation::Last,
        AggFn::Median => Aggregation::Median,
        AggFn::Count => Aggregation::Count,
        _ => return None,
    })
}

enum Compiled {
    Numeric {
        value: Expr,
        filter: Option<Expr>,
        top: Expr,
        calls: Vec<Call>,
        interpolation: Option<(Interpolation, i64)>,
    },
    Categorical {
        value: Expr,
        filter: Option<Expr>,
        categories: Vec<(String, Vec<Scalar>)>,
        default: String,
        step: Option<i64>,
    },
    Aggregate {
        filter: Option<Expr>,
        top: Expr,
        calls: Vec<Call>,
    },
}

impl Compiled {
    fn filter(&self) -> Option<&Expr> {
        match self {
            Compiled::Numeric { filter, .. }
            | Compiled::Categorical { filter, .. }
            | Compiled::Aggregate { filter, .. } => filter.as_ref(),
        }
    }

    /// Largest boundary span, in nanoseconds.
    fn boundary(&self) -> i64 {
        match self {
            Compiled::Numeric {
                interpolation: Some((_, b)),
                ..
            } => *b,
            Compiled::Categorical { step: Some(b), .. } => *b,
            _ => 0,
        }
    }
}

fn duration_nanos(d: Duration, what: &str) -> Result<i64> {
    i64::try_from(d.as_nanos()).map_err(|_| Error::InvalidArgument(format!("{what} {d:?} is too long")))
}

/// A compiled query: the slots and the projected variables.
struct Plan {
    slots: Slots,
    filter: Option<Expr>,
    vars: Vec<(String, Compiled)>,
    /// Some expression needs every event, not only those with a value in a slot.
    all_rows: bool,
}

fn compile(
    filter: Option<&str>,
    variables: &[(String, Variable)],
    projected: Option<&[String]>,
    aggregated: bool,
) -> Result<Plan> {
    let mut slots = Slots::default();
    let filter = filter.map(|f| compile_filter(f, &mut slots)).transpose()?;
    let chosen: Vec<&(String, Variable)> = match projected {
        None => variables.iter().collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                variables
                    .iter()
                    .find(|(v, _)| v == n)
                    .ok_or_else(|| Error::InvalidArgument(format!("projected variable {n:?} is not defined")))
            })
            .collect::<Result<_>>()?,
    };
    if chosen.is_empty() && aggregated {
        return Err(Error::InvalidArgument("the query projects no variables".into()));
    }
    if chosen.len() > MAX_VARIABLES {
        return Err(Error::InvalidArgument(format!(
            "{} projected variables: the limit is {MAX_VARIABLES}",
            chosen.len()
        )));
    }
    let mut all_rows = filter.as_ref().is_some_and(|f| !reads_properties(f));
    let mut vars = Vec::new();
    for (name, var) in chosen {
        let ctx = |what: &str| format!("variable {name:?}: {what}");
        let compiled = match var {
            Variable::Numeric {
                value,
                aggregation,
                interpolation,
                filter,
            } => {
                let mut value_expr = tsx::parse(value).map_err(|e| tsx_error(&ctx("value"), value, e))?;
                let ty = value_expr
                    .check(None, false)
                    .map_err(|e| tsx_error(&ctx("value"), value, e))?;
                if !matches!(ty, TsxType::Double | TsxType::Long) {
                    return Err(Error::InvalidArgument(format!(
                        "{}: the value {value:?} is {ty:?}; a numeric variable needs Double or Long",
                        ctx("type error")
                    )));
                }
                let plain = match &value_expr {
                    Expr::Property { name, ty, .. } => Some((name.clone(), *ty)),
                    _ => None,
                };
                slots.bind(&mut value_expr);
                let filter = filter.as_deref().map(|f| compile_filter(f, &mut slots)).transpose()?;
                let interpolation = interpolation
                    .as_ref()
                    .map(|i| Ok::<_, Error>((i.kind, duration_nanos(i.boundary, "the boundary span")?)))
                    .transpose()?;
                let (top, mut calls) = if aggregated {
                    let mut top =
                        tsx::parse(aggregation).map_err(|e| tsx_error(&ctx("aggregation"), aggregation, e))?;
                    top.check(Some(ty), true)
                        .map_err(|e| tsx_error(&ctx("aggregation"), aggregation, e))?;
                    if reads_properties(&top) {
                        return Err(Error::InvalidArgument(format!(
                            "{}: a numeric variable's aggregation reads $value, not $event properties",
                            ctx("aggregation")
                        )));
                    }
                    let calls = collect_calls(&mut top);
                    (top, calls)
                } else {
                    (value_expr.clone(), Vec::new())
                };
                if aggregated && calls.is_empty() {
                    return Err(Error::InvalidArgument(format!(
                        "{}: {aggregation:?} has no aggregation (e.g. avg($value))",
                        ctx("aggregation")
                    )));
                }
                for c in &mut calls {
                    if c.func == AggFn::Count {
                        return Err(Error::InvalidArgument(format!(
                            "{}: count() belongs to aggregate variables",
                            ctx("aggregation")
                        )));
                    }
                    match (is_interpolated(c.func), interpolation.is_some()) {
                        (true, false) => {
                            return Err(Error::InvalidArgument(format!(
                                "{}: {:?} needs an interpolation (Linear or Step)",
                                ctx("aggregation"),
                                c.func
                            )));
                        }
                        (false, true) => {
                            return Err(Error::InvalidArgument(format!(
                                "{}: {:?} takes no interpolation; left, right, twavg and twsum do",
                                ctx("aggregation"),
                                c.func
                            )));
                        }
                        _ => {}
                    }
                    if picks_an_event(c.func) {
                        // Events without the property count too: read every row.
                        all_rows = true;
                    } else if filter.is_none() && matches!(c.arg, Some(Expr::Value { .. })) && !is_interpolated(c.func)
                    {
                        c.column = plain.clone();
                    }
                }
                Compiled::Numeric {
                    value: value_expr,
                    filter,
                    top,
                    calls,
                    interpolation,
                }
            }
            Variable::Categorical {
                value,
                categories,
                default_category,
                interpolation,
                filter,
            } => {
                let mut value_expr = tsx::parse(value).map_err(|e| tsx_error(&ctx("value"), value, e))?;
                let ty = value_expr
                    .check(None, false)
                    .map_err(|e| tsx_error(&ctx("value"), value, e))?;
                if !matches!(ty, TsxType::Long | TsxType::String) {
                    return Err(Error::InvalidArgument(format!(
                        "{}: the value {value:?} is {ty:?}; a categorical variable needs Long or String",
                        ctx("type error")
                    )));
                }
                slots.bind(&mut value_expr);
                let filter = filter.as_deref().map(|f| compile_filter(f, &mut slots)).transpose()?;
                let step = match interpolation {
                    None => None,
                    Some(InterpolationSpec {
                        kind: Interpolation::Step,
                        boundary,
                    }) => Some(duration_nanos(*boundary, "the boundary span")?),
                    Some(_) => {
                        return Err(Error::InvalidArgument(format!(
                            "{}: only Step interpolation applies to categories",
                            ctx("interpolation")
                        )));
                    }
                };
                let mut compiled_categories = Vec::new();
                for c in categories {
                    let mut values = Vec::new();
                    for v in &c.values {
                        let s = match (v, ty) {
                            (Value::Long(x), TsxType::Long) => Scalar::Long(x.to_owned()),
                            (Value::String(x), TsxType::String) => Scalar::String(x.clone()),
                            _ => {
                                return Err(Error::InvalidArgument(format!(
                                    "{}: category {:?} value {v:?} is not of the value's type {ty:?}",
                                    ctx("type error"),
                                    c.label
                                )));
                            }
                        };
                        values.push(s);
                    }
                    compiled_categories.push((c.label.clone(), values));
                }
                Compiled::Categorical {
                    value: value_expr,
                    filter,
                    categories: compiled_categories,
                    default: default_category.clone(),
                    step,
                }
            }
            Variable::Aggregate { aggregation, filter } => {
                if !aggregated {
                    return Err(Error::InvalidArgument(format!(
                        "{}: aggregate variables are for aggregateSeries",
                        ctx("kind")
                    )));
                }
                let filter = filter.as_deref().map(|f| compile_filter(f, &mut slots)).transpose()?;
                let mut top = tsx::parse(aggregation).map_err(|e| tsx_error(&ctx("aggregation"), aggregation, e))?;
                top.check(None, true)
                    .map_err(|e| tsx_error(&ctx("aggregation"), aggregation, e))?;
                slots.bind(&mut top);
                let calls = collect_calls(&mut top);
                if calls.is_empty() {
                    return Err(Error::InvalidArgument(format!(
                        "{}: {aggregation:?} has no aggregation (e.g. count())",
                        ctx("aggregation")
                    )));
                }
                if let Some(c) = calls.iter().find(|c| is_interpolated(c.func)) {
                    return Err(Error::InvalidArgument(format!(
                        "{}: {:?} needs interpolation, which aggregate variables do not have",
                        ctx("aggregation"),
                        c.func
                    )));
                }
                if calls.iter().any(|c| c.func == AggFn::Count || picks_an_event(c.func)) {
                    all_rows = true;
                }
                Compiled::Aggregate { filter, top, calls }
            }
        };
        vars.push((name.clone(), compiled));
    }
    Ok(Plan {
        slots,
        filter,
        vars,
        all_rows,
    })
}

// ---------------------------------------------------------------------------------------
// Per-bucket state

/// What one aggregate call has gathered, per bucket.
enum CallState {
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
type EventKey = (i64, usize, usize);

/// The events `first`, `last` or `median` pick from, per bucket, each with its value (`None`
/// where the event has none: TSI's first, last and median "do not avoid null values").
struct EventValues {
    func: AggFn,
    /// `first` / `last`: the earliest / latest event so far; `median`: every event.
    buckets: Vec<Vec<(EventKey, Option<f64>)>>,
}

impl EventValues {
    fn new(func: AggFn, buckets: usize) -> Self {
        EventValues {
            func,
            buckets: vec![Vec::new(); buckets],
        }
    }

    fn offer(&mut self, bucket: usize, key: EventKey, value: Option<f64>) {
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

    fn merge(&mut self, other: EventValues) {
        for (bucket, events) in other.buckets.into_iter().enumerate() {
            for (key, value) in events {
                self.offer(bucket, key, value);
            }
        }
    }

    /// The value of the picked event of every bucket: null for an empty bucket and for an
    /// event without a value. The median of an even number of events is the earlier of the
    /// two middle ones (TSI does not say; this is always one of the bucket's events).
    fn column(self) -> Vec<Option<f64>> {
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

enum VarState {
    Calls(Vec<CallState>),
    /// Per category (the default last), per bucket: events, or the sum of fractions and the
    /// number of twins that gave one (fractions are over the whole interval).
    Counts(Vec<Vec<u64>>),
    Fractions(Vec<Vec<f64>>, Vec<u32>),
}

fn new_state(plan: &Plan, buckets: usize) -> Vec<VarState> {
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

fn merge_state(into: &mut [VarState], from: Vec<VarState>) {
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

fn scalar_to_value(s: Scalar) -> Option<Value> {
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
fn finish(plan: &Plan, states: Vec<VarState>, buckets: usize) -> Vec<FrameColumn> {
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

// ---------------------------------------------------------------------------------------
// Reading a twin

/// Per slot, the twin's column id (if it has that column).
fn slot_columns(view: &TwinView<'_>, slots: &Slots) -> Vec<Option<ColumnId>> {
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
fn fill(buf: &mut [Scalar], col_slot: &[Vec<usize>], values: &[(ColumnId, Value)]) {
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
fn column_slots(slot_cols: &[Option<ColumnId>]) -> Vec<Vec<usize>> {
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
struct Rows {
    ts: Vec<i64>,
    cols: Vec<Vec<Scalar>>,
}

impl Rows {
    fn new(slots: usize) -> Self {
        Rows {
            ts: Vec::new(),
            cols: vec![Vec::new(); slots],
        }
    }

    /// Appends `n` rows of nulls at `times`.
    fn extend_times(&mut self, times: &[i64]) -> usize {
        let base = self.ts.len();
        self.ts.extend_from_slice(times);
        for c in &mut self.cols {
            c.resize(self.ts.len(), Scalar::Null);
        }
        base
    }
}

/// The value `i` of a decoded cold block.
fn scalar_at(values: &crate::cold::segment::Values, i: usize) -> Scalar {
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

/// The rows of a twin in `range` (ascending) from every source, merged in order (equal times:
/// older source first), with the values of the slot columns. `wanted` (`None`: every row)
/// limits the warm rows to those with a value in one of the columns; cold rows are all
/// kept (a row without values evaluates to nulls, which no aggregation counts).
fn gather(
    view: &TwinView<'_>,
    range: ScanRange,
    col_slot: &[Vec<usize>],
    slots: usize,
    wanted: Option<&[ColumnId]>,
) -> Result<Rows> {
    let mut sources = Vec::new();
    for chunk in view.cold.chunks(view.entry.id, range.from, range.to)? {
        let mut rows = Rows::new(slots);
        for g in chunk
            .groups
            .iter()
            .filter(|g| g.first_ts < range.to && g.last_ts >= range.from)
        {
            let ts = chunk.cached_timestamps(g, &view.cold.cache)?;
            let lo = ts.partition_point(|&t| t < range.from);
            let hi = ts.partition_point(|&t| t < range.to);
            if lo >= hi {
                continue;
            }
            let base = rows.extend_times(&ts[lo..hi]);
            for b in &g.blocks {
                let column = chunk.columns[b.slot].0 as usize;
                let Some(targets) = col_slot.get(column).filter(|t| !t.is_empty()) else {
                    continue;
                };
                let (present, values) = chunk.column(g, b)?;
                let first = present.partition_point(|&r| (r as usize) < lo);
                for (i, &r) in present.iter().enumerate().skip(first) {
                    let r = r as usize;
                    if r >= hi {
                        break;
                    }
                    let value = scalar_at(&values, i);
                    for &slot in targets {
                        rows.cols[slot][base + r - lo] = value.clone();
                    }
                }
            }
        }
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
            std::ops::ControlFlow::Continue(())
        });
        sources.push(rows);
    }
    sources.retain(|s| !s.ts.is_empty());
    if sources.len() <= 1 {
        return Ok(sources.pop().unwrap_or_else(|| Rows::new(slots)));
    }
    // Merge by time; on equal times the older source first.
    let total = sources.iter().map(|s| s.ts.len()).sum();
    let mut out = Rows::new(slots);
    out.ts.reserve(total);
    let mut next = vec![0usize; sources.len()];
    loop {
        let mut best: Option<(usize, i64)> = None;
        for (k, s) in sources.iter().enumerate() {
            if let Some(&t) = s.ts.get(next[k])
                && best.is_none_or(|(_, b)| t < b)
            {
                best = Some((k, t));
            }
        }
        let Some((k, t)) = best else { break };
        let row = next[k];
        next[k] += 1;
        out.ts.push(t);
        for (o, c) in out.cols.iter_mut().zip(&sources[k].cols) {
            o.push(c[row].clone());
        }
    }
    Ok(out)
}

/// Reduces interpolation input to the points the definitions use: those in `[from, to)`,
/// the last before `from` and the first at or after `to`, within `boundary` of the span.
fn interpolation_points<T: Copy>(points: &[(i64, T)], from: i64, to: i64, boundary: i64) -> Vec<(i64, T)> {
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
fn fold_twin(view: &TwinView<'_>, twin: usize, plan: &Plan, buckets: &Buckets, state: &mut [VarState]) -> Result<()> {
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

/// A consistent view of the whole store for a query over many twins.
pub(crate) struct StoreView<'a> {
    pub cold: &'a crate::cold::ColdState,
    pub snapshot: u64,
}

impl StoreView<'_> {
    /// Runs `f` on the view of one twin.
    pub(crate) fn with_twin<T>(&self, entry: &TwinEntry, f: impl FnOnce(&TwinView<'_>) -> Result<T>) -> Result<T> {
        let warm = entry.table.read();
        let view = TwinView {
            entry,
            cold: self.cold,
            frozen: self.cold.frozen_table(entry.id),
            warm: &warm,
            snapshot: self.snapshot,
        };
        f(&view)
    }
}

/// Runs an `aggregateSeries` query over `twins` (already selected).
pub(crate) fn aggregate_series(
    store: &StoreView<'_>,
    twins: &[Arc<TwinEntry>],
    query: &AggregateSeriesQuery,
) -> Result<Vec<TwinFrame>> {
    let interval = duration_nanos(query.interval, "the interval")?;
    let buckets = Buckets::new(query.from, query.to, interval)?;
    let plan = compile(
        query.filter.as_deref(),
        &query.variables,
        query.projected.as_deref(),
        true,
    )?;
    if !twins.is_empty() {
        plan.slots
            .check_types(&twins.iter().map(|t| &**t).collect::<Vec<_>>())?;
    }
    let timestamps = buckets.starts();
    if !query.merge {
        return twins
            .iter()
            .map(|entry| {
                let mut state = new_state(&plan, buckets.count);
                store.with_twin(entry, |view| fold_twin(view, 0, &plan, &buckets, &mut state))?;
                Ok(TwinFrame {
                    twin: Some(entry.name.to_string()),
                    frame: Frame {
                        timestamps: timestamps.clone(),
                        properties: finish(&plan, state, buckets.count),
                        continuation_token: None,
                    },
                })
            })
            .collect();
    }
    // Merged: both cores, each over half of the twins, then one merge.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let per_thread = twins.len().div_ceil(threads.max(1)).max(1);
    let mut state = new_state(&plan, buckets.count);
    if threads <= 1 || twins.len() < 16 {
        for (twin, entry) in twins.iter().enumerate() {
            store.with_twin(entry, |view| fold_twin(view, twin, &plan, &buckets, &mut state))?;
        }
    } else {
        let partials: Vec<Result<Vec<VarState>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = twins
                .chunks(per_thread)
                .enumerate()
                .map(|(k, part)| {
                    let plan = &plan;
                    let buckets = &buckets;
                    scope.spawn(move || {
                        let mut state = new_state(plan, buckets.count);
                        for (j, entry) in part.iter().enumerate() {
                            let twin = k * per_thread + j;
                            store.with_twin(entry, |view| fold_twin(view, twin, plan, buckets, &mut state))?;
                        }
                        Ok(state)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::InvalidArgument("a query thread panicked".into())))
                })
                .collect()
        });
        for p in partials {
            merge_state(&mut state, p?);
        }
    }
    Ok(vec![TwinFrame {
        twin: None,
        frame: Frame {
            timestamps,
            properties: finish(&plan, state, buckets.count),
            continuation_token: None,
        },
    }])
}

// ---------------------------------------------------------------------------------------
// Pages: getEvents and getSeries

/// Where the next page starts: at time `ts`, after skipping `skip` rows of that time, with
/// `returned` values already sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    ts: i64,
    skip: usize,
    returned: usize,
}

impl Cursor {
    fn encode(self) -> String {
        format!("tw1.{}.{}.{}", self.ts, self.skip, self.returned)
    }

    fn decode(token: &str) -> Result<Cursor> {
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

fn check_span(from: Timestamp, to: Timestamp) -> Result<()> {
    if from > to {
        return Err(Error::InvalidArgument(format!(
            "the search span is reversed: from {from} is after to {to}"
        )));
    }
    Ok(())
}

fn check_take(take: usize) -> Result<()> {
    if take > MAX_TAKE {
        return Err(Error::InvalidArgument(format!(
            "take {take} is over the limit of {MAX_TAKE}"
        )));
    }
    Ok(())
}

/// A page being built from rows in order: the values so far, the `take` and page limits,
/// and the position (time, rows read at that time) the next page starts from.
struct PageBuilder {
    timestamps: Vec<Timestamp>,
    columns: Vec<Vec<Option<Value>>>,
    values: usize,
    /// Values this page may hold.
    limit: usize,
    /// Values the whole answer may still hold (`take` minus earlier pages).
    remaining: usize,
    cursor: Cursor,
    /// Rows at the cursor's time skipped so far (they were on earlier pages).
    skipped: usize,
    last_ts: Option<i64>,
    rows_at_last_ts: usize,
    more: bool,
}

/// Where a page starts: the token's position, or the query's start.
type Position = (Option<i64>, usize);

impl PageBuilder {
    fn new(columns: usize, continuation: Option<&str>, from: Timestamp, take: usize) -> Result<Self> {
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
    fn enter(&mut self, ts: i64) -> Option<Position> {
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
    fn push(&mut self, ts: i64, row: &mut [Option<Value>], n: usize, before: Position) -> bool {
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
    fn token(&self) -> Option<String> {
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

// ---------------------------------------------------------------------------------------
// Availability and event schema

/// Bucket widths `availability` picks from when none is given: the smallest that gives at
/// most 200 buckets over the range.
const AVAILABILITY_SIZES: [u64; 14] = [
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

/// Event times of one twin in `[from, to)`, every row once.
fn event_times(view: &TwinView<'_>, from: i64, to: i64, out: &mut Vec<i64>) -> Result<()> {
    let mut ts = Vec::new();
    for chunk in view.cold.chunks(view.entry.id, from, to)? {
        for g in chunk.groups.iter().filter(|g| g.first_ts < to && g.last_ts >= from) {
            chunk.timestamps(g, &mut ts)?;
            out.extend(ts.iter().copied().filter(|&t| t >= from && t < to));
        }
    }
    for table in view.frozen.into_iter().chain([view.warm]) {
        let range = ScanRange {
            from,
            to,
            descending: false,
        };
        table.scan(range, None, view.snapshot, |t, _| {
            out.push(t.as_nanos());
            std::ops::ControlFlow::Continue(())
        });
    }
    Ok(())
}

pub(crate) fn availability(
    store: &StoreView<'_>,
    twins: &[Arc<TwinEntry>],
    span: Option<(Timestamp, Timestamp)>,
    interval: Option<Duration>,
) -> Result<Availability> {
    let (from, to) = span.map_or((i64::MIN, i64::MAX), |(a, b)| (a.as_nanos(), b.as_nanos()));
    if from > to {
        return Err(Error::InvalidArgument("the availability range is reversed".into()));
    }
    let mut times = Vec::new();
    for entry in twins {
        store.with_twin(entry, |view| event_times(view, from, to, &mut times))?;
    }
    let (Some(&min), Some(&max)) = (times.iter().min(), times.iter().max()) else {
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
    let buckets = (i128::from(max.div_euclid(width)) - i128::from(min.div_euclid(width))) + 1;
    if buckets > i128::from(super::MAX_BUCKETS) {
        return Err(Error::InvalidArgument(format!(
            "{buckets} availability buckets: the limit is {}",
            super::MAX_BUCKETS
        )));
    }
    let mut counts: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    for t in times {
        *counts.entry(t.div_euclid(width)).or_default() += 1;
    }
    Ok(Availability {
        range: Some((Timestamp::from_nanos(min), Timestamp::from_nanos(max))),
        interval,
        distribution: counts
            .into_iter()
            .map(|(b, n)| (Timestamp::from_nanos(b.saturating_mul(width)), n))
            .collect(),
    })
}

/// Properties (name and type) with at least one value in `[from, to)` of one twin.
fn twin_schema(
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
    twins: &[Arc<TwinEntry>],
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
    let mut current = super::state_at(view, Some(first))?.get(name).cloned();
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
