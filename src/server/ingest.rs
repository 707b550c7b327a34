//! Event delivery over HTTP: `POST /ingest/adt` takes what an Azure Digital Twins event
//! route delivers through Event Grid (the Event Grid schema, with its subscription
//! validation handshake, and CloudEvents 1.0 in structured, batched and binary mode, with
//! the webhook abuse-protection `OPTIONS` handshake); `POST /ingest/ndjson` takes flattened
//! records. Deliveries are at least once: an event (source and id) seen within the dedupe
//! window is counted as a duplicate and not stored again.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value as Json, json};

use super::AppState;
use super::error::ApiError;
use super::routes::{content_type, read_body, respond, run};
use crate::engine::{IngestReport, Store};

/// Event ids delivered in the last `window`, at most `capacity` of them (the oldest
/// forgotten first).
pub(crate) struct RecentIds {
    seen: HashSet<String>,
    order: VecDeque<(Instant, String)>,
    window: Duration,
    capacity: usize,
}

impl RecentIds {
    pub(crate) fn new(window: Duration, capacity: usize) -> Self {
        RecentIds {
            seen: HashSet::new(),
            order: VecDeque::new(),
            window,
            capacity,
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) <= self.window && self.order.len() <= self.capacity {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.seen.remove(&id);
            }
        }
    }

    fn contains(&mut self, id: &str) -> bool {
        self.expire(Instant::now());
        self.seen.contains(id)
    }

    fn insert(&mut self, id: String) {
        if self.seen.insert(id.clone()) {
            self.order.push_back((Instant::now(), id));
        }
        self.expire(Instant::now());
    }
}

/// What a delivered event is remembered by: its source and its id.
fn dedupe_key(source: &str, id: &str) -> String {
    format!("{source}\u{1f}{id}")
}

/// The answer to a delivery: what was stored, what was a repeat, and each rejected item
/// with its place (1-based, in delivery order) and reason.
fn report_json(report: &IngestReport, duplicates: usize) -> Json {
    json!({
        "records": report.records,
        "points": report.points,
        "modelEvents": report.model_events,
        "skipped": report.skipped,
        "duplicates": duplicates,
        "rejected": report.rejected.iter().map(|r| json!({
            "item": r.line,
            "twin": r.twin,
            "field": r.field,
            "reason": r.reason,
        })).collect::<Vec<_>>(),
    })
}

/// The events of a delivery and its ids, or the validation handshake's answer.
enum Delivery {
    /// `{"validationResponse": code}` to Event Grid's subscription validation.
    Validation(String),
    /// Events, each one NDJSON line for ADT ingest, with their ids (when they have one).
    Events(Vec<(Option<String>, Vec<u8>)>),
}

fn parse_delivery(body: &[u8], content_type: &str) -> Result<Delivery, ApiError> {
    let not_json = |e: serde_json::Error| ApiError::invalid(format!("the delivery is not JSON ({content_type}): {e}"));
    // Each event is kept as the text it came in (ADT ingest parses it once, there), and
    // only its envelope is read here.
    let events: Vec<&RawValue> = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice(body).map_err(not_json)?,
        Some(b'{') => vec![serde_json::from_slice(body).map_err(not_json)?],
        _ => {
            serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(not_json)?;
            return Err(ApiError::invalid("a delivery is an event object or an array of events"));
        }
    };
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        // An item that is not an event object has no envelope: ADT ingest rejects it,
        // naming its place, and the rest of the delivery is stored.
        let envelope: Envelope<'_> = serde_json::from_str(event.get()).unwrap_or_default();
        if envelope.event_type.or(envelope.kind).as_deref() == Some("Microsoft.EventGrid.SubscriptionValidationEvent") {
            let code = envelope
                .data
                .and_then(|data| serde_json::from_str::<ValidationData>(data.get()).ok())
                .and_then(|data| data.validation_code)
                .ok_or_else(|| ApiError::invalid("a SubscriptionValidationEvent without data.validationCode"))?;
            return Ok(Delivery::Validation(code));
        }
        // Event ids are unique per source (CloudEvents `source`, Event Grid `topic`).
        let source = envelope.source.or(envelope.topic).unwrap_or_default();
        let id = envelope.id.map(|id| dedupe_key(&source, &id));
        // One NDJSON line: a newline outside a string is only whitespace (inside one it
        // is escaped).
        let line = event
            .get()
            .bytes()
            .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b })
            .collect();
        out.push((id, line));
    }
    Ok(Delivery::Events(out))
}

/// The fields of an event's envelope the server reads (the rest is ADT ingest's).
#[derive(serde::Deserialize, Default)]
struct Envelope<'a> {
    #[serde(borrow, default, deserialize_with = "string_or_none")]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "eventType", deserialize_with = "string_or_none")]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type", deserialize_with = "string_or_none")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "string_or_none")]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "string_or_none")]
    topic: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct ValidationData {
    #[serde(default, rename = "validationCode", deserialize_with = "string_or_none")]
    validation_code: Option<String>,
}

/// A string, or nothing for any other JSON value (as the envelope was read before: a
/// field of another type counts as absent, and ADT ingest says what is wrong with it).
fn string_or_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: From<Cow<'de, str>>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum StringOrOther<'a> {
        String(#[serde(borrow)] Cow<'a, str>),
        Other(serde::de::IgnoredAny),
    }
    Ok(match StringOrOther::deserialize(d)? {
        StringOrOther::String(s) => Some(T::from(s)),
        StringOrOther::Other(_) => None,
    })
}

/// Binary-mode CloudEvents: the attributes in `ce-*` headers, the body the event's data.
fn binary_properties(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let attribute = name.as_str().strip_prefix("ce-")?;
            Some((format!("cloudEvents:{attribute}"), value.to_str().ok()?.to_string()))
        })
        .collect()
}

/// `POST /ingest/adt`.
pub(super) async fn adt(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let body = read_body(&state, body).await?;
        let kind = content_type(&headers);
        if headers.contains_key("ce-id") && headers.contains_key("ce-type") {
            // Binary mode: one event.
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let id = dedupe_key(header("ce-source"), header("ce-id"));
            if state.recent.lock().contains(&id) {
                return Ok(report_json(&IngestReport::default(), 1));
            }
            let properties = binary_properties(&headers);
            let recent = state.recent.clone();
            return run(&state, move |store| {
                let pairs: Vec<(&str, &str)> = properties.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let report = store.ingest_adt_message(&body, &pairs, None)?;
                recent.lock().insert(id);
                Ok(report_json(&report, 0))
            })
            .await;
        }
        // Reading the delivery is CPU work like the ingest (up to the body limit): on the
        // blocking pool too, not on a thread that serves other connections.
        let recent = state.recent.clone();
        run(&state, move |store| {
            Ok(match parse_delivery(&body, &kind) {
                Err(refusal) => Err(refusal),
                Ok(Delivery::Validation(code)) => Ok(json!({ "validationResponse": code })),
                Ok(Delivery::Events(events)) => ingest_events(store, events, &recent).map_err(ApiError::from),
            })
        })
        .await?
    }
    .await;
    respond(&headers, result)
}

/// Stores the events not seen before, as one batch, then remembers the ids of those stored
/// (a rejected event delivered again is rejected again, not called a duplicate).
fn ingest_events(
    store: &Store,
    events: Vec<(Option<String>, Vec<u8>)>,
    recent: &Mutex<RecentIds>,
) -> crate::error::Result<Json> {
    let mut duplicates = 0;
    let mut lines = Vec::new();
    // Per line sent: its place in the delivery (1-based) and its event id.
    let mut kept: Vec<(u64, Option<String>)> = Vec::new();
    {
        let mut seen = recent.lock();
        let mut in_delivery = HashSet::new();
        for (n, (id, line)) in events.into_iter().enumerate() {
            if let Some(id) = &id
                && (seen.contains(id) || !in_delivery.insert(id.clone()))
            {
                duplicates += 1;
                continue;
            }
            lines.extend_from_slice(&line);
            lines.push(b'\n');
            kept.push((n as u64 + 1, id));
        }
    }
    let mut report = store.ingest_adt(&lines)?;
    let mut rejected = vec![false; kept.len()];
    // Rejected lines are numbered among the lines sent: name them by their place in the
    // delivery.
    for r in &mut report.rejected {
        let index = usize::try_from(r.line).unwrap_or(0).wrapping_sub(1);
        if let Some((place, _)) = kept.get(index) {
            r.line = *place;
            rejected[index] = true;
        }
    }
    let mut seen = recent.lock();
    for ((_, id), rejected) in kept.into_iter().zip(rejected) {
        if let (Some(id), false) = (id, rejected) {
            seen.insert(id);
        }
    }
    Ok(report_json(&report, duplicates))
}

/// `OPTIONS /ingest/adt`: CloudEvents' webhook abuse protection. The sender names itself in
/// `WebHook-Request-Origin`; the answer allows it, at any rate.
pub(super) async fn adt_handshake(headers: HeaderMap) -> Response {
    let Some(origin) = headers.get("webhook-request-origin").cloned() else {
        return ApiError::invalid(
            "an OPTIONS request here is CloudEvents' handshake: WebHook-Request-Origin is missing",
        )
        .into_response();
    };
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert("webhook-allowed-origin", origin);
    response
        .headers_mut()
        .insert("webhook-allowed-rate", HeaderValue::from_static("*"));
    response
}

/// `POST /ingest/ndjson`: flattened records, one JSON object a line.
pub(super) async fn ndjson(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let body = read_body(&state, body).await?;
        run(&state, move |store| Ok(report_json(&store.ingest_ndjson(&body)?, 0))).await
    }
    .await;
    respond(&headers, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_forget_past_their_capacity() {
        let mut ids = RecentIds::new(Duration::from_secs(600), 2);
        ids.insert("a".into());
        ids.insert("b".into());
        assert!(ids.contains("a") && ids.contains("b"));
        ids.insert("c".into());
        assert!(!ids.contains("a"), "the oldest goes first");
        assert!(ids.contains("b") && ids.contains("c"));
        let mut short = RecentIds::new(Duration::ZERO, 10);
        short.insert("a".into());
        std::thread::sleep(Duration::from_millis(2));
        assert!(!short.contains("a"), "past the window");
    }
}
