//! Compiling a query: parsing and type-checking its TSX, giving each property it reads a
//! slot, and splitting each variable's aggregation into its aggregate calls.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::{Value, ValueType};
use crate::query::Aggregation;
use crate::query::interpolate::Interpolation;
use crate::query::tsx::{self, AggFn, Expr, Scalar, TsxType};
use crate::read::{Twin, column_names};

use super::state::{CallSink, CategorySink, StateSpec};
use super::{Category, InterpolationSpec, MAX_VARIABLES, Variable};

pub(super) fn tsx_error(what: &str, text: &str, e: tsx::TsxError) -> Error {
    Error::InvalidArgument(format!("{what} {text:?}: {e}"))
}

/// Parses a filter: must be a predicate.
pub(super) fn compile_filter(text: &str, slots: &mut Slots) -> Result<Expr> {
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
pub(super) struct Slots {
    pub(super) list: Vec<(String, ValueType)>,
}

impl Slots {
    /// Gives every property reference of `expr` its slot in the query-wide list.
    pub(super) fn bind(&mut self, expr: &mut Expr) {
        let local = expr.bind_properties();
        let map: Vec<usize> = local.into_iter().map(|p| self.slot(p)).collect();
        remap_slots(expr, &map);
    }

    pub(super) fn slot(&mut self, property: (String, ValueType)) -> usize {
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
    pub(super) fn check_types(&self, twins: &[&Twin]) -> Result<()> {
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

/// Renumbers the slots `expr` reads: slot `k` becomes `map[k]`.
pub(super) fn remap_slots(expr: &mut Expr, map: &[usize]) {
    expr.walk_mut(&mut |e| {
        if let Expr::Property { slot, .. } = e
            && let Some(&global) = map.get(*slot)
        {
            *slot = global;
        }
    });
}

/// One aggregate call of an aggregation expression.
pub(super) struct Call {
    pub(super) func: AggFn,
    /// Its argument (`None` for `count()`).
    pub(super) arg: Option<Expr>,
    /// Plain: the argument is `$value` of a numeric variable whose value is a plain property.
    pub(super) column: Option<(String, ValueType)>,
    /// The state it folds into.
    pub(super) sink: CallSink,
}

/// Takes the aggregate calls out of `top`, leaving the arithmetic over them: call `k`
/// becomes a read of slot `k`, so that a bucket's value is `top.eval(results)`.
pub(super) fn collect_calls(top: &mut Expr, spec: &mut StateSpec) -> Vec<Call> {
    let mut calls = Vec::new();
    top.walk_mut(&mut |e| {
        if let Expr::Aggregate { func, arg, pos } = e {
            calls.push(Call {
                func: *func,
                arg: arg.as_deref().cloned(),
                column: None,
                sink: spec.call(*func),
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
pub(super) fn reads_properties(expr: &Expr) -> bool {
    let mut any = false;
    expr.walk(&mut |e| any |= matches!(e, Expr::Property { .. }));
    any
}

pub(super) fn is_interpolated(f: AggFn) -> bool {
    matches!(f, AggFn::Left | AggFn::Right | AggFn::Twavg | AggFn::Twsum)
}

/// `first`, `last` and `median`: TSI's TSX reference defines them by event ("`$value` of the
/// first / last event by event time", "of the middle event in the interval by event time
/// stamp"; they "do not avoid null values"), so they look at every event of the bucket, not
/// only at those with a value.
pub(super) fn picks_an_event(f: AggFn) -> bool {
    matches!(f, AggFn::First | AggFn::Last | AggFn::Median)
}

pub(super) fn basic_aggregation(f: AggFn) -> Option<Aggregation> {
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

pub(super) enum Compiled {
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
        sink: CategorySink,
    },
    Aggregate {
        filter: Option<Expr>,
        top: Expr,
        calls: Vec<Call>,
    },
}

impl Compiled {
    pub(super) fn filter(&self) -> Option<&Expr> {
        match self {
            Compiled::Numeric { filter, .. }
            | Compiled::Categorical { filter, .. }
            | Compiled::Aggregate { filter, .. } => filter.as_ref(),
        }
    }

    /// Largest boundary span, in nanoseconds.
    pub(super) fn boundary(&self) -> i64 {
        match self {
            Compiled::Numeric {
                interpolation: Some((_, b)),
                ..
            } => *b,
            Compiled::Categorical {
                sink: CategorySink::Fractions { boundary, .. },
                ..
            } => *boundary,
            _ => 0,
        }
    }
}

pub(super) fn duration_nanos(d: Duration, what: &str) -> Result<i64> {
    i64::try_from(d.as_nanos()).map_err(|_| Error::InvalidArgument(format!("{what} {d:?} is too long")))
}

/// A compiled query: the slots and the projected variables.
pub(super) struct Plan {
    pub(super) slots: Slots,
    pub(super) filter: Option<Expr>,
    pub(super) vars: Vec<(String, Compiled)>,
    /// Some expression needs every event, not only those with a value in a slot.
    pub(super) all_rows: bool,
    /// The states a fold of this plan gathers (see `Compiled`'s sinks).
    pub(super) spec: StateSpec,
}

pub(super) fn compile(
    filter: Option<&str>,
    variables: &[(String, Variable)],
    projected: Option<&[String]>,
    aggregated: bool,
) -> Result<Plan> {
    let mut slots = Slots::default();
    let mut spec = StateSpec::default();
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
                let numeric = NumericDef {
                    value,
                    aggregation,
                    interpolation: interpolation.as_ref(),
                    filter: filter.as_deref(),
                };
                compile_numeric(numeric, &ctx, &mut slots, &mut spec, aggregated, &mut all_rows)?
            }
            Variable::Categorical {
                value,
                categories,
                default_category,
                interpolation,
                filter,
            } => {
                let categorical = CategoricalDef {
                    value,
                    categories,
                    default_category,
                    interpolation: interpolation.as_ref(),
                    filter: filter.as_deref(),
                };
                compile_categorical(categorical, &ctx, &mut slots, &mut spec)?
            }
            Variable::Aggregate { aggregation, filter } => compile_aggregate(
                aggregation,
                filter.as_deref(),
                &ctx,
                &mut slots,
                &mut spec,
                aggregated,
                &mut all_rows,
            )?,
        };
        vars.push((name.clone(), compiled));
    }
    Ok(Plan {
        slots,
        filter,
        vars,
        all_rows,
        spec,
    })
}

/// Parses and type-checks one variable as a query would (its value, aggregation, filter,
/// categories and interpolation), without data: a type's variables are checked when the
/// type is stored, not when a query first uses them.
pub(crate) fn check_variable(name: &str, variable: &Variable) -> Result<()> {
    compile(None, &[(name.to_string(), variable.clone())], None, true).map(drop)
}

/// A numeric variable's definition, borrowed from the query.
struct NumericDef<'q> {
    value: &'q str,
    aggregation: &'q str,
    interpolation: Option<&'q InterpolationSpec>,
    filter: Option<&'q str>,
}

/// A categorical variable's definition, borrowed from the query.
struct CategoricalDef<'q> {
    value: &'q str,
    categories: &'q [Category],
    default_category: &'q String,
    interpolation: Option<&'q InterpolationSpec>,
    filter: Option<&'q str>,
}

/// Parses and type-checks a variable's value, which must have one of the `allowed` types
/// (`needs` says which, for the error).
fn compile_value(
    value: &str,
    ctx: &dyn Fn(&str) -> String,
    allowed: &[TsxType],
    needs: &str,
) -> Result<(Expr, TsxType)> {
    let expr = tsx::parse(value).map_err(|e| tsx_error(&ctx("value"), value, e))?;
    let ty = expr
        .check(None, false)
        .map_err(|e| tsx_error(&ctx("value"), value, e))?;
    if !allowed.contains(&ty) {
        return Err(Error::InvalidArgument(format!(
            "{}: the value {value:?} is {ty:?}; {needs}",
            ctx("type error")
        )));
    }
    Ok((expr, ty))
}

fn compile_numeric(
    def: NumericDef<'_>,
    ctx: &dyn Fn(&str) -> String,
    slots: &mut Slots,
    spec: &mut StateSpec,
    aggregated: bool,
    all_rows: &mut bool,
) -> Result<Compiled> {
    let NumericDef {
        value,
        aggregation,
        interpolation,
        filter,
    } = def;
    let (mut value_expr, ty) = compile_value(
        value,
        ctx,
        &[TsxType::Double, TsxType::Long],
        "a numeric variable needs Double or Long",
    )?;
    let plain = match &value_expr {
        Expr::Property { name, ty, .. } => Some((name.clone(), *ty)),
        _ => None,
    };
    slots.bind(&mut value_expr);
    let filter = filter.map(|f| compile_filter(f, slots)).transpose()?;
    let interpolation = interpolation
        .as_ref()
        .map(|i| Ok::<_, Error>((i.kind, duration_nanos(i.boundary, "the boundary span")?)))
        .transpose()?;
    let (top, mut calls) = if aggregated {
        let mut top = tsx::parse(aggregation).map_err(|e| tsx_error(&ctx("aggregation"), aggregation, e))?;
        top.check(Some(ty), true)
            .map_err(|e| tsx_error(&ctx("aggregation"), aggregation, e))?;
        if reads_properties(&top) {
            return Err(Error::InvalidArgument(format!(
                "{}: a numeric variable's aggregation reads $value, not $event properties",
                ctx("aggregation")
            )));
        }
        let calls = collect_calls(&mut top, spec);
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
            *all_rows = true;
        } else if filter.is_none() && matches!(c.arg, Some(Expr::Value { .. })) && !is_interpolated(c.func) {
            c.column = plain.clone();
        }
    }
    Ok(Compiled::Numeric {
        value: value_expr,
        filter,
        top,
        calls,
        interpolation,
    })
}

fn compile_categorical(
    def: CategoricalDef<'_>,
    ctx: &dyn Fn(&str) -> String,
    slots: &mut Slots,
    spec: &mut StateSpec,
) -> Result<Compiled> {
    let CategoricalDef {
        value,
        categories,
        default_category,
        interpolation,
        filter,
    } = def;
    let (mut value_expr, ty) = compile_value(
        value,
        ctx,
        &[TsxType::Long, TsxType::String],
        "a categorical variable needs Long or String",
    )?;
    slots.bind(&mut value_expr);
    let filter = filter.map(|f| compile_filter(f, slots)).transpose()?;
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
    Ok(Compiled::Categorical {
        value: value_expr,
        filter,
        categories: compiled_categories,
        default: default_category.clone(),
        sink: spec.categories(categories.len() + 1, step),
    })
}

fn compile_aggregate(
    aggregation: &str,
    filter: Option<&str>,
    ctx: &dyn Fn(&str) -> String,
    slots: &mut Slots,
    spec: &mut StateSpec,
    aggregated: bool,
    all_rows: &mut bool,
) -> Result<Compiled> {
    if !aggregated {
        return Err(Error::InvalidArgument(format!(
            "{}: aggregate variables are for aggregateSeries",
            ctx("kind")
        )));
    }
    let filter = filter.map(|f| compile_filter(f, slots)).transpose()?;
    let mut top = tsx::parse(aggregation).map_err(|e| tsx_error(&ctx("aggregation"), aggregation, e))?;
    top.check(None, true)
        .map_err(|e| tsx_error(&ctx("aggregation"), aggregation, e))?;
    slots.bind(&mut top);
    let calls = collect_calls(&mut top, spec);
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
        *all_rows = true;
    }
    Ok(Compiled::Aggregate { filter, top, calls })
}
