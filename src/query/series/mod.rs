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

mod availability;
mod compile;
mod events;
mod fold;
mod frame;
mod gather;
mod run;
mod state;

pub(crate) use availability::{availability, event_schema, last_known};
pub(crate) use compile::check_variable;
pub(crate) use events::{get_events, get_series};
pub use frame::{Availability, Frame, FrameColumn, SchemaProperty, TwinFrame};
pub(crate) use run::{StoreView, aggregate_series};

use std::time::Duration;

use crate::model::{Timestamp, Value, ValueType};

use super::interpolate::Interpolation;

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
    /// Every twin whose Time Series Model instance lies under `path` in a hierarchy (named by
    /// its name or id): its instance is in the hierarchy and its instance fields for the
    /// hierarchy's first levels equal `path`, in order. An empty path selects every instance
    /// in the hierarchy.
    Hierarchy {
        /// The hierarchy's name or id.
        hierarchy: String,
        /// Level values from the root down.
        path: Vec<String>,
    },
    /// Every twin whose Time Series Model instance is of this type (named by its name or id).
    Type(String),
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

    /// Returns only these variables, in this order; a name that is not a variable of the
    /// query is the variable of that name of the twin's Time Series Model type.
    pub fn project<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.projected = Some(names.into_iter().map(Into::into).collect());
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
