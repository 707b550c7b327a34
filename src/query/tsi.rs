//! The Time Series Insights query API's JSON request bodies, turned into the typed queries
//! of `series`, and the answers turned into TSI's response shapes.
//!
//! A body holds exactly one of `getEvents`, `getSeries`, `aggregateSeries` (TSI's Query API,
//! version 2020-07-31), or, as twinstore extensions for the other TSI calls, `availability`
//! or `eventSchema`. Expressions may be written `{"tsx": "..."}` (TSI) or as a plain string.
//!
//! Extensions for many twins (`aggregateSeries`, `availability`, `eventSchema`): instead of
//! `timeSeriesId`, `timeSeriesIds` (a list of ids), `twinPrefix`, `modelId`, `hierarchyPath`
//! (`{"hierarchy": name or id, "path": [level values]}`: the instances under a node of the
//! Time Series Model) or `typeId` (a type's id or name); and `merge: true` for one series
//! over all of them. A multi-twin answer is `{"series": [{"timeSeriesId":
//! [id], "timestamps", "properties"}, ...]}`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::error::{Error, Result};
use crate::model::{Timestamp, Value, ValueType};

use super::interpolate::Interpolation;
use super::series::{
    AggregateSeriesQuery, Availability, Category, DEFAULT_TAKE, GetEventsQuery, GetSeriesQuery, InterpolationSpec,
    SchemaProperty, TwinSelector, Variable,
};

/// A parsed request.
pub(crate) enum Request {
    Events(GetEventsQuery),
    Series(GetSeriesQuery),
    Aggregate(AggregateSeriesQuery),
    Availability {
        twins: TwinSelector,
        span: Option<(Timestamp, Timestamp)>,
        interval: Option<Duration>,
    },
    Schema {
        twins: TwinSelector,
        from: Timestamp,
        to: Timestamp,
    },
}

/// A TSX expression: `{"tsx": "..."}` or a plain string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Tsx {
    Object { tsx: String },
    Text(String),
}

impl Tsx {
    fn text(self) -> String {
        match self {
            Tsx::Object { tsx } | Tsx::Text(tsx) => tsx,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchSpan {
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PropertyRef {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Boundary {
    span: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterpolationBody {
    kind: String,
    boundary: Option<Boundary>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryBody {
    label: String,
    values: Vec<Json>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultCategory {
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariableBody {
    kind: String,
    value: Option<Tsx>,
    aggregation: Option<Tsx>,
    filter: Option<Tsx>,
    interpolation: Option<InterpolationBody>,
    categories: Option<Vec<CategoryBody>>,
    #[serde(rename = "defaultCategory")]
    default_category: Option<DefaultCategory>,
}

/// `{"hierarchy": name or id, "path": [level values]}`: the instances under a node.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HierarchyPath {
    hierarchy: String,
    #[serde(default)]
    path: Vec<String>,
}

/// Fields shared by the three query kinds (each kind checks which it allows).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryBody {
    #[serde(rename = "timeSeriesId")]
    time_series_id: Option<Vec<Json>>,
    #[serde(rename = "timeSeriesIds")]
    time_series_ids: Option<Vec<Json>>,
    #[serde(rename = "twinPrefix")]
    twin_prefix: Option<String>,
    #[serde(rename = "modelId")]
    model_id: Option<String>,
    #[serde(rename = "hierarchyPath")]
    hierarchy_path: Option<HierarchyPath>,
    #[serde(rename = "typeId")]
    type_id: Option<String>,
    merge: Option<bool>,
    #[serde(rename = "searchSpan")]
    search_span: Option<SearchSpan>,
    filter: Option<Tsx>,
    #[serde(rename = "projectedProperties")]
    projected_properties: Option<Vec<PropertyRef>>,
    #[serde(rename = "inlineVariables")]
    inline_variables: Option<serde_json::Map<String, Json>>,
    #[serde(rename = "projectedVariables")]
    projected_variables: Option<Vec<String>>,
    interval: Option<String>,
    take: Option<usize>,
    #[serde(rename = "continuationToken")]
    continuation_token: Option<String>,
    #[serde(rename = "storeType")]
    store_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(rename = "getEvents")]
    get_events: Option<QueryBody>,
    #[serde(rename = "getSeries")]
    get_series: Option<QueryBody>,
    #[serde(rename = "aggregateSeries")]
    aggregate_series: Option<QueryBody>,
    availability: Option<QueryBody>,
    #[serde(rename = "eventSchema")]
    event_schema: Option<QueryBody>,
    /// TSI puts the token in a header; a body may carry it here too.
    #[serde(rename = "continuationToken")]
    continuation_token: Option<String>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::InvalidArgument(message.into())
}

/// Parses an ISO 8601 duration (`PT1M`, `P1D`, `PT0.5S`; a month counts as 30 days, a year
/// as 365, as TSI counts them).
pub(crate) fn parse_duration(text: &str) -> Result<Duration> {
    // jiff also reads its friendly format ("1 minute"); TSI takes ISO 8601 only.
    if !text.starts_with(['P', 'p']) {
        return Err(bad(format!("{text:?} is not an ISO 8601 duration (like PT1M or P1D)")));
    }
    let span: jiff::Span = text
        .parse()
        .map_err(|e| bad(format!("{text:?} is not an ISO 8601 duration: {e}")))?;
    if span.is_negative() {
        return Err(bad(format!("duration {text:?} is negative")));
    }
    let days = i128::from(span.get_years()) * 365
        + i128::from(span.get_months()) * 30
        + i128::from(span.get_weeks()) * 7
        + i128::from(span.get_days());
    let nanos = days * 86_400_000_000_000
        + i128::from(span.get_hours()) * 3_600_000_000_000
        + i128::from(span.get_minutes()) * 60_000_000_000
        + i128::from(span.get_seconds()) * 1_000_000_000
        + i128::from(span.get_milliseconds()) * 1_000_000
        + i128::from(span.get_microseconds()) * 1_000
        + i128::from(span.get_nanoseconds());
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| bad(format!("duration {text:?} is out of range")))
}

/// Formats a duration in ISO 8601 (`PT1H`, `P1D`, `PT0.5S`).
pub(crate) fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    let nanos = d.subsec_nanos();
    if secs == 0 && nanos == 0 {
        return "PT0S".into();
    }
    let days = secs / 86_400;
    secs %= 86_400;
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if secs > 0 || nanos > 0 {
        out.push('T');
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            out.push_str(&format!("{s}.{}S", frac.trim_end_matches('0')));
        } else if s > 0 {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

fn parse_time(text: &str, field: &str) -> Result<Timestamp> {
    Timestamp::parse(text).map_err(|e| bad(format!("searchSpan.{field} {text:?}: {e}")))
}

fn span_of(body: &QueryBody, kind: &str) -> Result<(Timestamp, Timestamp)> {
    let span = body
        .search_span
        .as_ref()
        .ok_or_else(|| bad(format!("{kind}: searchSpan is required")))?;
    let (from, to) = (parse_time(&span.from, "from")?, parse_time(&span.to, "to")?);
    if from > to {
        return Err(bad(format!(
            "{kind}: the search span is reversed: from {from} is after to {to}"
        )));
    }
    Ok((from, to))
}

fn id_of(key: &[Json], kind: &str) -> Result<String> {
    match key {
        [Json::String(id)] => Ok(id.clone()),
        _ => Err(bad(format!(
            "{kind}: timeSeriesId must be an array of one string (the $dtId), got {}",
            Json::Array(key.to_vec())
        ))),
    }
}

fn one_twin(body: &QueryBody, kind: &str) -> Result<String> {
    if body.time_series_ids.is_some() || body.twin_prefix.is_some() || body.model_id.is_some() {
        return Err(bad(format!("{kind}: takes one twin (timeSeriesId)")));
    }
    let key = body
        .time_series_id
        .as_deref()
        .ok_or_else(|| bad(format!("{kind}: timeSeriesId is required")))?;
    id_of(key, kind)
}

fn selector(body: &QueryBody, kind: &str, required: bool) -> Result<TwinSelector> {
    let given = [
        body.time_series_id.is_some(),
        body.time_series_ids.is_some(),
        body.twin_prefix.is_some(),
        body.model_id.is_some(),
        body.hierarchy_path.is_some(),
        body.type_id.is_some(),
    ];
    const SELECTORS: &str = "timeSeriesId, timeSeriesIds, twinPrefix, modelId, hierarchyPath, typeId";
    match given.iter().filter(|&&g| g).count() {
        0 if required => return Err(bad(format!("{kind}: one of {SELECTORS} is required"))),
        0 => return Ok(TwinSelector::All),
        1 => {}
        _ => return Err(bad(format!("{kind}: give only one of {SELECTORS}"))),
    }
    if let Some(h) = &body.hierarchy_path {
        return Ok(TwinSelector::Hierarchy {
            hierarchy: h.hierarchy.clone(),
            path: h.path.clone(),
        });
    }
    if let Some(t) = &body.type_id {
        return Ok(TwinSelector::Type(t.clone()));
    }
    if let Some(key) = &body.time_series_id {
        return Ok(TwinSelector::Ids(vec![id_of(key, kind)?]));
    }
    if let Some(keys) = &body.time_series_ids {
        let ids = keys
            .iter()
            .map(|k| match k {
                Json::String(s) => Ok(s.clone()),
                Json::Array(a) => id_of(a, kind),
                other => Err(bad(format!("{kind}: timeSeriesIds entry {other} is not an id"))),
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok(TwinSelector::Ids(ids));
    }
    if let Some(p) = &body.twin_prefix {
        return Ok(TwinSelector::Prefix(p.clone()));
    }
    Ok(TwinSelector::Model(body.model_id.clone().unwrap_or_default()))
}

fn refuse(kind: &str, present: bool, field: &str) -> Result<()> {
    if present {
        return Err(bad(format!("{kind}: {field} does not apply here")));
    }
    Ok(())
}

fn interpolation(body: Option<InterpolationBody>, name: &str) -> Result<Option<InterpolationSpec>> {
    let Some(i) = body else { return Ok(None) };
    let kind = match i.kind.to_ascii_lowercase().as_str() {
        "linear" => Interpolation::Linear,
        "step" => Interpolation::Step,
        _ => {
            return Err(bad(format!(
                "variable {name:?}: interpolation kind {:?} is not Linear or Step",
                i.kind
            )));
        }
    };
    let boundary = match i.boundary {
        Some(b) => parse_duration(&b.span)?,
        None => Duration::ZERO,
    };
    Ok(Some(InterpolationSpec { kind, boundary }))
}

/// A variable from its TSI JSON definition (`kind`, `value`, `aggregation`, `filter`,
/// `interpolation`, `categories`, `defaultCategory`); errors name the variable.
pub(crate) fn variable(name: &str, body: Json) -> Result<Variable> {
    let body: VariableBody = serde_json::from_value(body).map_err(|e| bad(format!("variable {name:?}: {e}")))?;
    let need = |t: Option<Tsx>, field: &str| {
        t.map(Tsx::text)
            .ok_or_else(|| bad(format!("variable {name:?}: {field} is required")))
    };
    let filter = body.filter.map(Tsx::text);
    match body.kind.to_ascii_lowercase().as_str() {
        "numeric" => Ok(Variable::Numeric {
            value: need(body.value, "value")?,
            aggregation: body.aggregation.map(Tsx::text).unwrap_or_else(|| "avg($value)".into()),
            interpolation: interpolation(body.interpolation, name)?,
            filter,
        }),
        "categorical" => {
            let categories = body
                .categories
                .unwrap_or_default()
                .into_iter()
                .map(|c| {
                    let values = c
                        .values
                        .into_iter()
                        .map(|v| match v {
                            Json::String(s) => Ok(Value::String(s.into())),
                            Json::Number(n) if n.is_i64() => Ok(Value::Long(n.as_i64().unwrap_or_default())),
                            other => Err(bad(format!(
                                "variable {name:?}: category {:?} value {other} is not a Long or a String",
                                c.label
                            ))),
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Ok(Category { label: c.label, values })
                })
                .collect::<Result<Vec<_>>>()?;
            let default_category = body
                .default_category
                .ok_or_else(|| bad(format!("variable {name:?}: defaultCategory is required")))?
                .label;
            if body.aggregation.is_some() {
                return Err(bad(format!(
                    "variable {name:?}: a categorical variable takes no aggregation (it counts events)"
                )));
            }
            Ok(Variable::Categorical {
                value: need(body.value, "value")?,
                categories,
                default_category,
                interpolation: interpolation(body.interpolation, name)?,
                filter,
            })
        }
        "aggregate" => {
            if body.value.is_some() || body.interpolation.is_some() {
                return Err(bad(format!(
                    "variable {name:?}: an aggregate variable takes only aggregation and filter"
                )));
            }
            Ok(Variable::Aggregate {
                aggregation: need(body.aggregation, "aggregation")?,
                filter,
            })
        }
        other => Err(bad(format!(
            "variable {name:?}: kind {other:?} is not numeric, categorical or aggregate"
        ))),
    }
}

/// A variable's TSI JSON definition: what [`variable`] reads back.
pub(crate) fn variable_json(var: &Variable) -> Json {
    let tsx = |text: &str| json!({ "tsx": text });
    let interpolation = |i: &Option<InterpolationSpec>| {
        i.as_ref().map(|i| {
            let kind = match i.kind {
                Interpolation::Linear => "Linear",
                Interpolation::Step => "Step",
            };
            json!({ "kind": kind, "boundary": { "span": format_duration(i.boundary) } })
        })
    };
    let mut out = serde_json::Map::new();
    let mut put = |key: &str, value: Option<Json>| {
        if let Some(value) = value {
            out.insert(key.into(), value);
        }
    };
    match var {
        Variable::Numeric {
            value,
            aggregation,
            interpolation: i,
            filter,
        } => {
            put("kind", Some("numeric".into()));
            put("value", Some(tsx(value)));
            put("filter", filter.as_deref().map(tsx));
            put("interpolation", interpolation(i));
            put("aggregation", Some(tsx(aggregation)));
        }
        Variable::Categorical {
            value,
            categories,
            default_category,
            interpolation: i,
            filter,
        } => {
            put("kind", Some("categorical".into()));
            put("value", Some(tsx(value)));
            put("filter", filter.as_deref().map(tsx));
            put("interpolation", interpolation(i));
            let categories = categories
                .iter()
                .map(|c| {
                    let values: Vec<Json> = c.values.iter().map(Value::to_json).collect();
                    json!({ "label": c.label, "values": values })
                })
                .collect::<Vec<_>>();
            put("categories", Some(Json::Array(categories)));
            put("defaultCategory", Some(json!({ "label": default_category })));
        }
        Variable::Aggregate { aggregation, filter } => {
            put("kind", Some("aggregate".into()));
            put("filter", filter.as_deref().map(tsx));
            put("aggregation", Some(tsx(aggregation)));
        }
    }
    Json::Object(out)
}

fn variables(body: &mut QueryBody) -> Result<Vec<(String, Variable)>> {
    body.inline_variables
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|(name, v)| Ok((name.clone(), variable(&name, v)?)))
        .collect()
}

fn parse_take(take: Option<usize>) -> usize {
    take.unwrap_or(DEFAULT_TAKE)
}

/// Parses a request body.
/// The `storeType` of a query body, lower-cased; `None` when absent.
fn store_type(b: &QueryBody) -> Result<Option<String>> {
    match b.store_type.as_deref() {
        None => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("warmstore") || s.eq_ignore_ascii_case("coldstore") => {
            Ok(Some(s.to_ascii_lowercase()))
        }
        Some(other) => Err(bad(format!("storeType {other:?} is not WarmStore or ColdStore"))),
    }
}

pub(crate) fn parse(body: &[u8]) -> Result<(Request, Option<String>)> {
    let body: Body = serde_json::from_slice(body).map_err(|e| bad(format!("malformed query: {e}")))?;
    let kinds = [
        body.get_events.is_some(),
        body.get_series.is_some(),
        body.aggregate_series.is_some(),
        body.availability.is_some(),
        body.event_schema.is_some(),
    ];
    if kinds.iter().filter(|&&k| k).count() != 1 {
        return Err(bad(
            "a query holds exactly one of getEvents, getSeries, aggregateSeries, availability, eventSchema",
        ));
    }
    let token = body.continuation_token.clone();
    if let Some(b) = body.get_events {
        return parse_get_events(b, token);
    }
    if let Some(b) = body.get_series {
        return parse_get_series(b, token);
    }
    if let Some(b) = body.aggregate_series {
        return parse_aggregate_series(b);
    }
    if let Some(b) = body.availability {
        let kind = "availability";
        let twins = selector(&b, kind, false)?;
        let span = match &b.search_span {
            Some(_) => Some(span_of(&b, kind)?),
            None => None,
        };
        let interval = b.interval.as_deref().map(parse_duration).transpose()?;
        return Ok((Request::Availability { twins, span, interval }, None));
    }
    let b = body.event_schema.ok_or_else(|| bad("no query"))?;
    let kind = "eventSchema";
    let twins = selector(&b, kind, false)?;
    let (from, to) = span_of(&b, kind)?;
    Ok((Request::Schema { twins, from, to }, None))
}

fn parse_get_events(mut b: QueryBody, token: Option<String>) -> Result<(Request, Option<String>)> {
    let kind = "getEvents";
    refuse(kind, b.inline_variables.is_some(), "inlineVariables")?;
    refuse(kind, b.projected_variables.is_some(), "projectedVariables")?;
    refuse(kind, b.interval.is_some(), "interval")?;
    refuse(kind, b.merge.is_some(), "merge")?;
    let twin = one_twin(&b, kind)?;
    let (from, to) = span_of(&b, kind)?;
    let projected = b
        .projected_properties
        .take()
        .map(|list| {
            list.into_iter()
                .map(|p| {
                    let ty = ValueType::from_name(&p.ty)
                        .filter(|t| *t != ValueType::Removed)
                        .ok_or_else(|| bad(format!("{kind}: property {:?} has unknown type {:?}", p.name, p.ty)))?;
                    Ok((p.name, ty))
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let st = store_type(&b)?;
    Ok((
        Request::Events(GetEventsQuery {
            twin,
            from,
            to,
            filter: b.filter.take().map(Tsx::text),
            projected,
            take: parse_take(b.take),
            continuation: b.continuation_token.take().or(token),
        }),
        st,
    ))
}

fn parse_get_series(mut b: QueryBody, token: Option<String>) -> Result<(Request, Option<String>)> {
    let kind = "getSeries";
    refuse(kind, b.projected_properties.is_some(), "projectedProperties")?;
    refuse(kind, b.interval.is_some(), "interval")?;
    refuse(kind, b.merge.is_some(), "merge")?;
    let twin = one_twin(&b, kind)?;
    let (from, to) = span_of(&b, kind)?;
    let st = store_type(&b)?;
    Ok((
        Request::Series(GetSeriesQuery {
            twin,
            from,
            to,
            filter: b.filter.take().map(Tsx::text),
            variables: variables(&mut b)?,
            projected: b.projected_variables.take(),
            take: parse_take(b.take),
            continuation: b.continuation_token.take().or(token),
        }),
        st,
    ))
}

fn parse_aggregate_series(mut b: QueryBody) -> Result<(Request, Option<String>)> {
    let kind = "aggregateSeries";
    refuse(kind, b.projected_properties.is_some(), "projectedProperties")?;
    refuse(kind, b.take.is_some(), "take")?;
    let twins = selector(&b, kind, true)?;
    let (from, to) = span_of(&b, kind)?;
    let interval = parse_duration(
        b.interval
            .as_deref()
            .ok_or_else(|| bad(format!("{kind}: interval is required")))?,
    )?;
    let st = store_type(&b)?;
    Ok((
        Request::Aggregate(AggregateSeriesQuery {
            twins,
            from,
            to,
            interval,
            filter: b.filter.take().map(Tsx::text),
            variables: variables(&mut b)?,
            projected: b.projected_variables.take(),
            merge: b.merge.unwrap_or(false),
        }),
        st,
    ))
}

pub(crate) fn availability_json(a: &Availability) -> Json {
    let mut distribution = serde_json::Map::new();
    for (t, n) in &a.distribution {
        distribution.insert(t.to_string(), json!(n));
    }
    let range = match a.range {
        Some((from, to)) => json!({ "from": from.to_string(), "to": to.to_string() }),
        None => Json::Null,
    };
    json!({
        "availability": {
            "range": range,
            "intervalSize": format_duration(a.interval),
            "distribution": distribution,
        }
    })
}

pub(crate) fn schema_json(properties: &[SchemaProperty]) -> Json {
    let list: Vec<Json> = properties
        .iter()
        .map(|p| json!({ "name": p.name, "type": p.value_type.name() }))
        .collect();
    json!({ "properties": list })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_tsi_units() {
        assert_eq!(parse_duration("PT1M").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("PT2S").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("P1D").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("PT0.5S").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("P1M").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_duration("P1Y").unwrap(), Duration::from_secs(365 * 86_400));
        assert!(parse_duration("1 minute").is_err());
        assert_eq!(format_duration(Duration::from_secs(3600)), "PT1H");
        assert_eq!(format_duration(Duration::from_secs(86_400 + 90)), "P1DT1M30S");
        assert_eq!(format_duration(Duration::from_millis(1500)), "PT1.5S");
    }

    #[test]
    fn a_body_needs_exactly_one_kind() {
        assert!(parse(b"{}").is_err());
        let e = parse(br#"{"getEvents": {"timeSeriesId": ["a"], "searchSpan": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}}, "getSeries": {}}"#);
        assert!(e.is_err());
        let e = parse(br#"{"getEvents": {"timeSeriesId": ["a"], "bogus": 1}}"#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
