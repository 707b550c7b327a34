//! Queries that use the Time Series Model: a `getSeries` or `aggregateSeries` projected
//! variable that is not an inline variable is the variable of that name of the twin's
//! instance's type (inline wins, as in TSI).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Store, Twin};
use crate::error::{Error, Result};
use crate::query::tsx::bind_instance_fields;
use crate::query::{AggregateSeriesQuery, GetEventsQuery, GetSeriesQuery, TwinFrame, Variable};

/// A query's variables.
type Variables = Vec<(String, Variable)>;

impl Store {
    /// The projected names that are not inline variables; empty when all are (or when the
    /// query projects nothing: then it returns its inline variables only).
    fn from_the_model<'q>(variables: &[(String, Variable)], projected: Option<&'q [String]>) -> Vec<&'q String> {
        projected
            .unwrap_or_default()
            .iter()
            .filter(|n| !variables.iter().any(|(v, _)| v == *n))
            .collect()
    }

    /// `variables` plus, for each of `missing`, the variable of that name of the type with
    /// id `type_id` (of `twin`'s instance).
    fn with_type_variables(
        &self,
        variables: &[(String, Variable)],
        missing: &[&String],
        type_id: &str,
        twin: &str,
    ) -> Result<Variables> {
        self.with_model(|model| {
            let ty = model.type_by_id(type_id).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "instance {twin:?} is of type {type_id:?}, which does not exist"
                ))
            })?;
            let mut out = variables.to_vec();
            for name in missing {
                let v = ty.variable(name).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "projected variable {name:?} is neither an inline variable nor a variable of type {:?} \
                         (the type of instance {twin:?})",
                        ty.name
                    ))
                })?;
                out.push(((*name).clone(), v.clone()));
            }
            Ok(out)
        })
    }

    fn type_of(&self, twin: &str) -> String {
        self.with_model(|model| {
            model
                .instance(twin)
                .map_or_else(|| model.settings().default_type_id.clone(), |i| i.type_id.clone())
        })
    }

    /// `query` with its projected variables resolved against its twin's type.
    pub(super) fn resolve_series<'q>(&self, query: &'q GetSeriesQuery) -> Result<Cow<'q, GetSeriesQuery>> {
        let missing = Self::from_the_model(&query.variables, query.projected.as_deref());
        if missing.is_empty() {
            return Ok(Cow::Borrowed(query));
        }
        let variables =
            self.with_type_variables(&query.variables, &missing, &self.type_of(&query.twin), &query.twin)?;
        Ok(Cow::Owned(GetSeriesQuery {
            variables,
            ..query.clone()
        }))
    }

    /// Runs an `aggregateSeries` whose projected variables come (in part) from the model:
    /// the twins are grouped by their instance's type, each group runs with its type's
    /// variables (all in `run`'s one snapshot), and the frames come back in the selection's
    /// order. A merged series needs one definition per variable over all the twins.
    pub(super) fn aggregate_by_type(
        &self,
        twins: &[Arc<Twin>],
        query: &AggregateSeriesQuery,
        run: impl Fn(&[Arc<Twin>], &AggregateSeriesQuery) -> Result<Vec<TwinFrame>>,
    ) -> Result<Vec<TwinFrame>> {
        let missing = Self::from_the_model(&query.variables, query.projected.as_deref());
        if missing.is_empty() {
            return run(twins, query);
        }
        let mut groups: BTreeMap<String, Vec<Arc<Twin>>> = BTreeMap::new();
        for t in twins {
            groups.entry(self.type_of(&t.name)).or_default().push(t.clone());
        }
        let mut resolved: Vec<(Variables, Vec<Arc<Twin>>)> = Vec::new();
        for (type_id, members) in groups {
            let variables = self.with_type_variables(&query.variables, &missing, &type_id, &members[0].name)?;
            resolved.push((variables, members));
        }
        if query.merge {
            let Some((first, _)) = resolved.first() else {
                return run(twins, query);
            };
            if let Some((other, members)) = resolved.iter().find(|(v, _)| v != first) {
                let name = missing
                    .iter()
                    .find(|n| first.iter().find(|(v, _)| v == **n) != other.iter().find(|(v, _)| v == **n))
                    .map_or("", |n| n.as_str());
                return Err(Error::InvalidArgument(format!(
                    "a merged series needs one definition of each variable: {name:?} differs between the types of \
                     {:?} and {:?}",
                    resolved[0].1[0].name, members[0].name
                )));
            }
            let q = AggregateSeriesQuery {
                variables: first.clone(),
                ..query.clone()
            };
            return run(twins, &q);
        }
        let groups = resolved.into_iter().map(|(variables, members)| {
            let q = AggregateSeriesQuery {
                variables,
                ..query.clone()
            };
            (q, members)
        });
        run_groups(twins, groups, run)
    }
}

/// Runs each group of twins with its own query and returns the frames in the order of
/// `twins`, the selection.
fn run_groups(
    twins: &[Arc<Twin>],
    groups: impl Iterator<Item = (AggregateSeriesQuery, Vec<Arc<Twin>>)>,
    run: impl Fn(&[Arc<Twin>], &AggregateSeriesQuery) -> Result<Vec<TwinFrame>>,
) -> Result<Vec<TwinFrame>> {
    let mut frames: BTreeMap<String, TwinFrame> = BTreeMap::new();
    for (q, members) in groups {
        for frame in run(&members, &q)? {
            frames.insert(frame.twin.clone().unwrap_or_default(), frame);
        }
    }
    Ok(twins.iter().filter_map(|t| frames.remove(&*t.name)).collect())
}

impl Store {
    /// TSI's projection of a `getSeries` or `aggregateSeries` body without
    /// `projectedVariables`: "all the variables from inlineVariables and time series type in
    /// the model". Used for bodies without inline variables (with some, twinstore projects
    /// those alone: docs/MODEL.md). The type's variables follow the inline ones (an inline
    /// variable of the same name wins); when the twins are of several types, only the variables every one of
    /// them has (by name); aggregate variables only for `aggregateSeries` (`aggregated`).
    pub(super) fn tsi_default_projection(
        &self,
        inline: &[(String, Variable)],
        twins: &[&str],
        aggregated: bool,
    ) -> Vec<String> {
        let mut names: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
        let types: std::collections::BTreeSet<String> = twins.iter().map(|t| self.type_of(t)).collect();
        let from_types: Vec<String> = self.with_model(|model| {
            let types: Vec<_> = types.iter().filter_map(|id| model.type_by_id(id)).collect();
            let Some((first, others)) = types.split_first() else {
                return Vec::new();
            };
            first
                .variables
                .iter()
                .filter(|(name, v)| {
                    (aggregated || !matches!(v, Variable::Aggregate { .. }))
                        && others.iter().all(|t| t.variable(name).is_some())
                })
                .map(|(name, _)| name.clone())
                .collect()
        });
        for name in from_types {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

impl Store {
    /// `filter` with `twin`'s instance fields in place of `$instance.<field>` (docs/MODEL.md).
    pub(super) fn bind_filter<'f>(&self, filter: &'f Option<String>, twin: &str) -> Result<Cow<'f, Option<String>>> {
        let Some(text) = filter else {
            return Ok(Cow::Borrowed(filter));
        };
        // Most filters read no instance field: tell without parsing or allocating.
        if !text.as_bytes().windows(9).any(|w| w.eq_ignore_ascii_case(b"$instance")) {
            return Ok(Cow::Borrowed(filter));
        }
        let bound = self.with_model(|model| {
            let instance = model.instance(twin);
            bind_instance_fields(text, |name| instance.and_then(|i| i.instance_fields.get(name)))
        });
        let bound = bound.map_err(|e| Error::InvalidArgument(format!("filter {text:?}: {e}")))?;
        Ok(Cow::Owned(Some(bound)))
    }

    /// `query` with its filter bound to its twin's instance fields.
    pub(super) fn bind_events_filter<'q>(&self, query: &'q GetEventsQuery) -> Result<Cow<'q, GetEventsQuery>> {
        Ok(match self.bind_filter(&query.filter, &query.twin)? {
            Cow::Borrowed(_) => Cow::Borrowed(query),
            Cow::Owned(filter) => Cow::Owned(GetEventsQuery {
                filter,
                ..query.clone()
            }),
        })
    }

    /// `query` with its filter bound to its twin's instance fields.
    pub(super) fn bind_series_filter(&self, query: Cow<'_, GetSeriesQuery>) -> Result<GetSeriesQuery> {
        let filter = self.bind_filter(&query.filter, &query.twin)?.into_owned();
        Ok(GetSeriesQuery {
            filter,
            ..query.into_owned()
        })
    }

    /// Runs an `aggregateSeries` whose filter reads instance fields: twins whose fields give
    /// the same filter run together, and the frames come back in the selection's order. A
    /// merged series needs one filter for all its twins.
    pub(super) fn aggregate_by_instance_filter(
        &self,
        twins: &[Arc<Twin>],
        query: &AggregateSeriesQuery,
        run: impl Fn(&[Arc<Twin>], &AggregateSeriesQuery) -> Result<Vec<TwinFrame>>,
    ) -> Result<Vec<TwinFrame>> {
        let mut groups: BTreeMap<Option<String>, Vec<Arc<Twin>>> = BTreeMap::new();
        for t in twins {
            let filter = self.bind_filter(&query.filter, &t.name)?;
            if let Cow::Borrowed(_) = filter {
                return run(twins, query);
            }
            groups.entry(filter.into_owned()).or_default().push(t.clone());
        }
        if query.merge && groups.len() > 1 {
            return Err(Error::InvalidArgument(
                "a merged series whose filter reads $instance fields needs twins whose fields give one filter: \
                 select them by hierarchy path or type, or leave the series unmerged"
                    .into(),
            ));
        }
        if groups.len() == 1 {
            let (filter, _) = groups.into_iter().next().unwrap_or_default();
            return run(
                twins,
                &AggregateSeriesQuery {
                    filter,
                    ..query.clone()
                },
            );
        }
        let groups = groups.into_iter().map(|(filter, members)| {
            let q = AggregateSeriesQuery {
                filter,
                ..query.clone()
            };
            (q, members)
        });
        run_groups(twins, groups, run)
    }
}
