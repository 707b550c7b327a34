//! Azure Digital Twins Twin.Update notifications, flattened like ProcessDTUpdatetoTSI.
//!
//! Accepted forms (SEMANTICS.md section 1):
//! - a CloudEvents envelope: `subject`, `time`, `type`, `data: {modelId, patch}`;
//! - an Event Grid envelope: `subject`, `eventTime`, `eventType`, `data`;
//! - a JSON array of either (Event Grid delivers batches that way);
//! - a body (`{modelId, patch}`) plus its `cloudEvents:*` application properties, through
//!   [`parse_adt_message`].
//!
//! Flattening rules: `add` and `replace` keep their value under the path turned into a dotted
//! name (`/Front/Temperature` -> `Front.Temperature`, `~1` -> `/`, `~0` -> `~`); object values
//! flatten further; `remove` records a [`FieldValue::Removed`] marker; `move`, `copy`, `test`
//! are ignored; operations apply in order, so a later operation on the same path wins.
//!
//! Twin.Create, Twin.Delete and Relationship.Create/Update/Delete events become
//! [`GraphEvent`]s (the twin's model id; the twin graph), from which the Time Series Model is
//! derived; they write no record. Events of other types (telemetry, ...) are skipped and
//! counted, not rejected.

use std::borrow::Cow;

use serde_json::{Map, Value as J};

use super::typing::{flatten_json, maybe_overflowed_integer, overflowing_integer_literal};
use super::{FieldValue, GraphEvent, Limits, ParsedBatch, lines};
use crate::error::RecordError;
use crate::model::Timestamp;

/// The CloudEvents `type` of a twin update notification.
pub(crate) const TWIN_UPDATE_TYPE: &str = "Microsoft.DigitalTwins.Twin.Update";
const TWIN_CREATE_TYPE: &str = "Microsoft.DigitalTwins.Twin.Create";
const TWIN_DELETE_TYPE: &str = "Microsoft.DigitalTwins.Twin.Delete";
const RELATIONSHIP_CREATE_TYPE: &str = "Microsoft.DigitalTwins.Relationship.Create";
const RELATIONSHIP_UPDATE_TYPE: &str = "Microsoft.DigitalTwins.Relationship.Update";
const RELATIONSHIP_DELETE_TYPE: &str = "Microsoft.DigitalTwins.Relationship.Delete";

/// Whether events of CloudEvents type `kind` become graph events.
fn is_graph_event(kind: &str) -> bool {
    matches!(
        kind,
        TWIN_CREATE_TYPE
            | TWIN_DELETE_TYPE
            | RELATIONSHIP_CREATE_TYPE
            | RELATIONSHIP_UPDATE_TYPE
            | RELATIONSHIP_DELETE_TYPE
    )
}

/// The graph event of a lifecycle or relationship event of type `kind` about `subject`, from
/// its `data`; the error names the field.
fn graph_event(kind: &str, subject: &str, data: Option<&J>) -> Result<Option<GraphEvent>, (String, String)> {
    // A relationship event's subject is `<source twin>/relationships/<relationship id>`;
    // ADT's documented examples leave `$sourceId` out of the body, so the subject gives
    // what the body does not.
    let from_subject = subject.split_once("/relationships/");
    let text = |key: &str| -> Result<String, (String, String)> {
        match data.and_then(|d| d.get(key)) {
            Some(J::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => match (key, from_subject) {
                ("$sourceId", Some((source, _))) if !source.is_empty() => Ok(source.to_string()),
                ("$relationshipId", Some((_, id))) if !id.is_empty() => Ok(id.to_string()),
                _ => Err((format!("data.{key}"), format!("a {kind} event needs a string {key}"))),
            },
        }
    };
    // Relationship.Update carries a JSON Patch of the relationship's properties: its
    // endpoints cannot change, so it changes nothing in the graph.
    if kind == RELATIONSHIP_UPDATE_TYPE && data.is_some_and(|d| d.get("$targetId").is_none()) {
        return Ok(None);
    }
    Ok(Some(match kind {
        TWIN_CREATE_TYPE => GraphEvent::TwinCreated {
            twin: subject.to_string(),
            model: data
                .and_then(|d| d.get("$metadata"))
                .and_then(|m| m.get("$model"))
                .and_then(J::as_str)
                .map(str::to_string),
        },
        TWIN_DELETE_TYPE => GraphEvent::TwinDeleted {
            twin: subject.to_string(),
        },
        RELATIONSHIP_DELETE_TYPE => GraphEvent::Unrelated {
            id: text("$relationshipId")?,
            source: text("$sourceId")?,
        },
        _ => GraphEvent::Related {
            id: text("$relationshipId")?,
            source: text("$sourceId")?,
            target: text("$targetId")?,
            name: text("$relationshipName")?,
        },
    }))
}

/// The notification body of an event's `data`. In the Event Grid schema ADT wraps it:
/// `data` is `{"data": <body>, "contenttype": "application/json", "traceparent": ...}`;
/// in CloudEvents `data` is the body itself.
fn payload(data: &J) -> &J {
    match data.get("data") {
        Some(inner @ J::Object(_))
            if ["patch", "modelId", "$relationshipId", "$dtId", "$metadata"]
                .iter()
                .all(|k| data.get(k).is_none()) =>
        {
            inner
        }
        _ => data,
    }
}

/// Records a graph event, or the error naming its field.
fn push_graph(line: u64, kind: &str, subject: &str, data: Option<&J>, batch: &mut ParsedBatch<'_>) {
    match graph_event(kind, subject, data.map(payload)) {
        Ok(Some(event)) => batch.graph.push(event),
        Ok(None) => batch.skipped += 1,
        Err((field, reason)) => batch.errors.push(RecordError {
            line,
            twin: Some(subject.to_string()),
            field: Some(field),
            reason,
        }),
    }
}

/// Settings of the ADT parser.
#[derive(Clone, Copy)]
pub(crate) struct AdtSettings<'s> {
    pub limits: &'s Limits,
    pub infer_datetime: bool,
    /// The text being parsed holds an integer literal beyond the Long range (see
    /// `typing::overflowing_integer_literal`); set per line.
    pub big_integer: bool,
}

/// Parses every line of `input` (an envelope or an array of envelopes per line) into `batch`.
pub(crate) fn parse_adt_lines(input: &[u8], first_line: u64, settings: &AdtSettings<'_>, batch: &mut ParsedBatch<'_>) {
    for (line_no, line) in lines(input, first_line) {
        if line.len() > settings.limits.max_record_bytes {
            batch.errors.push(RecordError {
                line: line_no,
                twin: None,
                field: None,
                reason: format!(
                    "event of {} bytes exceeds the limit of {} bytes",
                    line.len(),
                    settings.limits.max_record_bytes
                ),
            });
            continue;
        }
        let settings = &AdtSettings {
            big_integer: overflowing_integer_literal(line).is_some(),
            ..*settings
        };
        match serde_json::from_slice::<J>(line) {
            Ok(J::Array(events)) => {
                for event in &events {
                    parse_envelope(line_no, event, settings, batch);
                }
            }
            Ok(event) => parse_envelope(line_no, &event, settings, batch),
            Err(e) => batch.errors.push(RecordError {
                line: line_no,
                twin: None,
                field: None,
                reason: format!("not valid JSON: {e}"),
            }),
        }
    }
}

/// Parses one message in the AMQP binding: `body` is the notification's `data` object and
/// `properties` its application properties (`cloudEvents:subject`, `cloudEvents:time`,
/// `cloudEvents:type`, ...). `time` overrides the event time when given.
pub(crate) fn parse_adt_message(
    body: &[u8],
    properties: &[(&str, &str)],
    time: Option<Timestamp>,
    settings: &AdtSettings<'_>,
    batch: &mut ParsedBatch<'_>,
) {
    let property = |name: &str| properties.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let reject = |batch: &mut ParsedBatch<'_>, twin: Option<&str>, field: &str, reason: String| {
        batch.errors.push(RecordError {
            line: 1,
            twin: twin.map(str::to_string),
            field: Some(field.to_string()),
            reason,
        })
    };
    let kind = property("cloudEvents:type");
    if let Some(kind) = kind
        && kind != TWIN_UPDATE_TYPE
        && !is_graph_event(kind)
    {
        batch.skipped += 1;
        return;
    }
    let Some(subject) = property("cloudEvents:subject") else {
        return reject(
            batch,
            None,
            "cloudEvents:subject",
            "message has no cloudEvents:subject property".into(),
        );
    };
    if let Some(kind) = kind.filter(|k| is_graph_event(k)) {
        if body.len() > settings.limits.max_record_bytes {
            let reason = format!("body of {} bytes exceeds the limit", body.len());
            return reject(batch, Some(subject), "data", reason);
        }
        return match serde_json::from_slice::<J>(body) {
            Ok(data) => push_graph(1, kind, subject, Some(&data), batch),
            Err(e) => reject(batch, Some(subject), "data", format!("not valid JSON: {e}")),
        };
    }
    let time = match (time, property("cloudEvents:time")) {
        (Some(t), _) => Some(t),
        (None, Some(text)) => match Timestamp::parse(text) {
            Ok(t) => Some(t),
            Err(e) => return reject(batch, Some(subject), "cloudEvents:time", e.to_string()),
        },
        (None, None) => None,
    };
    if body.len() > settings.limits.max_record_bytes {
        let reason = format!("body of {} bytes exceeds the limit", body.len());
        return reject(batch, Some(subject), "data", reason);
    }
    match serde_json::from_slice::<J>(body) {
        Ok(data) => push_update(1, subject, time, &data, settings, batch),
        Err(e) => reject(batch, Some(subject), "data", format!("not valid JSON: {e}")),
    }
}

/// Reads a CloudEvents or Event Grid envelope.
fn parse_envelope(line_no: u64, event: &J, settings: &AdtSettings<'_>, batch: &mut ParsedBatch<'_>) {
    let reject = |batch: &mut ParsedBatch<'_>, twin: Option<&str>, field: Option<&str>, reason: String| {
        batch.errors.push(RecordError {
            line: line_no,
            twin: twin.map(str::to_string),
            field: field.map(str::to_string),
            reason,
        })
    };
    let Some(obj) = event.as_object() else {
        return reject(batch, None, None, "event is not a JSON object".into());
    };
    let text = |a: &str, b: &str| obj.get(a).or_else(|| obj.get(b)).and_then(J::as_str);
    // CloudEvents says `type`/`time`; the Event Grid schema says `eventType`/`eventTime`.
    match text("type", "eventType") {
        Some(TWIN_UPDATE_TYPE) => {}
        Some(kind) if is_graph_event(kind) => {
            let Some(subject) = obj.get("subject").and_then(J::as_str) else {
                return reject(batch, None, Some("subject"), "event has no subject".into());
            };
            return push_graph(line_no, kind, subject, obj.get("data"), batch);
        }
        Some(_) => {
            batch.skipped += 1;
            return;
        }
        None if obj.contains_key("patch") => {
            let reason = "a bare notification body: pass it with its cloudEvents:* properties".into();
            return reject(batch, None, Some("subject"), reason);
        }
        None => return reject(batch, None, Some("type"), "event has no type".into()),
    }
    let Some(subject) = obj.get("subject").and_then(J::as_str) else {
        return reject(
            batch,
            None,
            Some("subject"),
            "event has no subject (the twin id)".into(),
        );
    };
    let time = match text("time", "eventTime") {
        Some(t) => match Timestamp::parse(t) {
            Ok(t) => Some(t),
            Err(e) => return reject(batch, Some(subject), Some("time"), e.to_string()),
        },
        None => None,
    };
    match obj.get("data") {
        Some(data) => push_update(line_no, subject, time, payload(data), settings, batch),
        None => reject(batch, Some(subject), Some("data"), "event has no data".into()),
    }
}

/// Flattens one notification body (`{modelId, patch}`) into a record.
fn push_update(
    line_no: u64,
    twin: &str,
    time: Option<Timestamp>,
    data: &J,
    settings: &AdtSettings<'_>,
    batch: &mut ParsedBatch<'_>,
) {
    let reject = |batch: &mut ParsedBatch<'_>, field: &str, reason: String| {
        batch.errors.push(RecordError {
            line: line_no,
            twin: Some(twin.to_string()),
            field: Some(field.to_string()),
            reason,
        })
    };
    let Some(patch) = data.get("patch").and_then(J::as_array) else {
        return reject(batch, "patch", "data has no patch array".into());
    };
    let model = data
        .get("modelId")
        .and_then(J::as_str)
        .map(|m| Cow::Owned(m.to_string()));
    // Operations apply in order; a later one on the same name replaces the earlier value.
    let mut fields: Vec<(Cow<'static, str>, FieldValue<'static>)> = Vec::new();
    for (index, op) in patch.iter().enumerate() {
        let field = |name: &str| format!("patch[{index}].{name}");
        let (Some(kind), Some(path)) = (op.get("op").and_then(J::as_str), op.get("path").and_then(J::as_str)) else {
            return reject(
                batch,
                &field("op"),
                "patch operation needs string `op` and `path`".into(),
            );
        };
        let name = match pointer_to_name(path) {
            Ok(name) => name,
            Err(reason) => return reject(batch, &field("path"), reason),
        };
        let mut produced = Vec::new();
        match kind {
            "add" | "replace" => {
                let Some(value) = op.get("value") else {
                    return reject(batch, &field("value"), format!("`{kind}` of {path} has no value"));
                };
                let flattened = match (name.is_empty(), value) {
                    // A patch of the whole document: its members are the properties.
                    (true, J::Object(members)) => flatten_members(members, settings, &mut produced),
                    (true, _) => Err((String::new(), "a patch of the whole twin must be an object".into())),
                    (false, value) => {
                        flatten_json(name, value, 1, settings.limits, settings.infer_datetime, &mut produced)
                    }
                };
                if let Err((name, reason)) = flattened {
                    return reject(batch, &name, reason);
                }
            }
            "remove" if !name.is_empty() => produced.push((Cow::Owned(name), FieldValue::Removed)),
            _ => continue,
        }
        if settings.big_integer
            && let Some((name, _)) = produced
                .iter()
                .find(|(_, v)| matches!(v, FieldValue::Double(d) if maybe_overflowed_integer(*d)))
        {
            let reason = "integer is outside the Long range".to_string();
            return reject(batch, name, reason);
        }
        for (name, value) in produced {
            match fields.iter_mut().find(|(existing, _)| *existing == name) {
                Some(slot) => slot.1 = value,
                None => fields.push((name, value)),
            }
        }
    }
    if fields.is_empty() {
        // ProcessDTUpdatetoTSI emits nothing for a patch without kept operations.
        batch.skipped += 1;
        return;
    }
    let start = batch.fields.len();
    batch.fields.extend(fields);
    batch.commit_record(
        settings.limits,
        line_no,
        Cow::Owned(twin.to_string()),
        time,
        model,
        start,
    );
}

fn flatten_members(
    members: &Map<String, J>,
    settings: &AdtSettings<'_>,
    out: &mut Vec<(Cow<'static, str>, FieldValue<'static>)>,
) -> Result<(), (String, String)> {
    for (key, value) in members {
        flatten_json(key.clone(), value, 1, settings.limits, settings.infer_datetime, out)?;
    }
    Ok(())
}

/// `/Front/Temperature` -> `Front.Temperature`, with JSON Pointer unescaping (`~1` is `/`,
/// `~0` is `~`). The empty pointer names the whole document and gives "".
fn pointer_to_name(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Ok(String::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("JSON Pointer {path:?} does not start with '/'"));
    };
    let mut name = String::with_capacity(rest.len());
    for (i, token) in rest.split('/').enumerate() {
        if i > 0 {
            name.push('.');
        }
        let mut chars = token.chars();
        while let Some(c) = chars.next() {
            if c != '~' {
                name.push(c);
                continue;
            }
            match chars.next() {
                Some('0') => name.push('~'),
                Some('1') => name.push('/'),
                _ => return Err(format!("JSON Pointer {path:?} has an invalid ~ escape")),
            }
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_grid_wraps_the_body_and_relationships_name_their_source_in_the_subject() {
        // As ADT's docs show an Event Grid-schema Twin.Update and Relationship.Create.
        let body = json_body(
            r#"{"data": {"modelId": "dtmi:m;1", "patch": []}, "contenttype": "application/json",
            "traceparent": "00-0af7-b7ad-01"}"#,
        );
        assert_eq!(payload(&body)["modelId"], "dtmi:m;1");
        let plain = json_body(r#"{"modelId": "dtmi:m;1", "patch": [], "data": {"x": 1}}"#);
        assert_eq!(
            payload(&plain)["modelId"],
            "dtmi:m;1",
            "a body with its own data field stays"
        );
        let created = json_body(r#"{"$relationshipId": "r1", "$targetId": "room1", "$relationshipName": "contains"}"#);
        assert_eq!(
            graph_event(RELATIONSHIP_CREATE_TYPE, "floor1/relationships/r1", Some(&created)),
            Ok(Some(GraphEvent::Related {
                id: "r1".into(),
                source: "floor1".into(),
                target: "room1".into(),
                name: "contains".into(),
            }))
        );
        assert_eq!(
            graph_event(
                RELATIONSHIP_DELETE_TYPE,
                "floor1/relationships/r1",
                Some(&json_body("{}"))
            ),
            Ok(Some(GraphEvent::Unrelated {
                id: "r1".into(),
                source: "floor1".into(),
            }))
        );
        let update =
            json_body(r#"{"modelId": "dtmi:m;1", "patch": [{"op": "replace", "path": "/since", "value": 1}]}"#);
        assert_eq!(
            graph_event(RELATIONSHIP_UPDATE_TYPE, "floor1/relationships/r1", Some(&update)),
            Ok(None)
        );
        assert!(
            graph_event(RELATIONSHIP_CREATE_TYPE, "floor1", Some(&created)).is_err(),
            "no source anywhere"
        );
    }

    fn json_body(text: &str) -> J {
        serde_json::from_str(text).expect("JSON")
    }

    #[test]
    fn pointers_become_dotted_names() {
        assert_eq!(pointer_to_name("/Temperature").unwrap(), "Temperature");
        assert_eq!(pointer_to_name("/Front/Temperature").unwrap(), "Front.Temperature");
        assert_eq!(pointer_to_name("/Sensors~1CO2").unwrap(), "Sensors/CO2");
        assert_eq!(pointer_to_name("/Label~0Name").unwrap(), "Label~Name");
        // `~01` is `~` followed by `1`, not `/` (RFC 6901 unescapes ~1 before ~0).
        assert_eq!(pointer_to_name("/a~01").unwrap(), "a~1");
        assert!(pointer_to_name("Temperature").is_err());
        assert!(pointer_to_name("/a~2").is_err());
    }
}
