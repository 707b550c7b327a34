//! A query's answer in TSI's response shape, written by one serializer: into a
//! `serde_json::Value` for `Store::query_json`, or straight into bytes for the server, where
//! building a `Value` first (an allocation per timestamp and value) was a large part of an
//! aggregateSeries request's cost.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value as Json;

use crate::model::{RFC3339_MAX_LEN, Rfc3339Printer, Timestamp, Value};

use super::series::{Frame, FrameColumn, TwinFrame};

/// The answer to one TSI query body.
pub(crate) enum TsiAnswer {
    /// getEvents, getSeries: `{"timestamps", "properties", "continuationToken"?, "progress"}`.
    Frame(Frame),
    /// aggregateSeries: one frame when `single` (one twin, or merged) and one was made;
    /// else `{"series": [{"timeSeriesId"?, ...frame}], "progress"}`.
    Series { frames: Vec<TwinFrame>, single: bool },
    /// The other calls (availability, eventSchema), already JSON.
    Json(Json),
}

impl TsiAnswer {
    /// The token of the next page, when there is one.
    #[cfg(any(feature = "server", test))]
    pub(crate) fn continuation_token(&self) -> Option<&str> {
        match self {
            TsiAnswer::Frame(frame) => frame.continuation_token.as_deref(),
            TsiAnswer::Series { .. } => None,
            TsiAnswer::Json(json) => json.get("continuationToken").and_then(Json::as_str),
        }
    }

    /// The answer's JSON text ([`TsiAnswer::write_json`]) in a buffer sized for it: about
    /// 24 bytes a time or value, so grown once or not at all.
    #[cfg(feature = "server")]
    pub(crate) fn json_bytes(&self) -> serde_json::Result<Vec<u8>> {
        let size = |f: &Frame| f.timestamps.len() * (1 + f.properties.len());
        let values = match self {
            TsiAnswer::Frame(frame) => size(frame),
            TsiAnswer::Series { frames, .. } => frames.iter().map(|f| size(&f.frame)).sum(),
            TsiAnswer::Json(_) => 0,
        };
        let mut out = Vec::with_capacity(256 + values * 24);
        self.write_json(&mut out)?;
        Ok(out)
    }

    /// Appends the answer's JSON text to `out`: the bytes `serde_json::to_writer` would
    /// write, with the times and values, nearly all of it, written directly (no escaping
    /// pass over text that needs none, no check that it is UTF-8).
    #[cfg(any(feature = "server", test))]
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            TsiAnswer::Frame(frame) => write_frame(None, frame, out),
            TsiAnswer::Series { frames, single } if *single && frames.len() == 1 => {
                write_frame(None, &frames[0].frame, out)
            }
            TsiAnswer::Series { frames, .. } => {
                out.extend_from_slice(b"{\"series\":[");
                for (i, f) in frames.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_frame(f.twin.as_deref(), &f.frame, out)?;
                }
                out.extend_from_slice(b"],\"progress\":100.0}");
                Ok(())
            }
            TsiAnswer::Json(json) => serde_json::to_writer(out, json),
        }
    }

    /// As a JSON value (the serializer cannot fail on these types: keys are strings).
    pub(crate) fn into_value(self) -> Json {
        match self {
            TsiAnswer::Json(json) => json,
            other => serde_json::to_value(&other).unwrap_or(Json::Null),
        }
    }
}

impl Serialize for TsiAnswer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TsiAnswer::Frame(frame) => FrameFields { twin: None, frame }.serialize(s),
            TsiAnswer::Series { frames, single } if *single && frames.len() == 1 => FrameFields {
                twin: None,
                frame: &frames[0].frame,
            }
            .serialize(s),
            TsiAnswer::Series { frames, .. } => {
                let mut map = s.serialize_map(Some(2))?;
                let series: Vec<FrameFields<'_>> = frames
                    .iter()
                    .map(|f| FrameFields {
                        twin: f.twin.as_deref(),
                        frame: &f.frame,
                    })
                    .collect();
                map.serialize_entry("series", &series)?;
                map.serialize_entry("progress", &100.0)?;
                map.end()
            }
            TsiAnswer::Json(json) => json.serialize(s),
        }
    }
}

/// A frame's fields, after the twin's `timeSeriesId` when it has one.
struct FrameFields<'a> {
    twin: Option<&'a str>,
    frame: &'a Frame,
}

impl Serialize for FrameFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(twin) = self.twin {
            map.serialize_entry("timeSeriesId", &[twin])?;
        }
        map.serialize_entry("timestamps", &Timestamps(&self.frame.timestamps))?;
        map.serialize_entry("properties", &Columns(&self.frame.properties))?;
        if let Some(token) = &self.frame.continuation_token {
            map.serialize_entry("continuationToken", token)?;
        }
        map.serialize_entry("progress", &100.0)?;
        map.end()
    }
}

/// [`FrameFields`] written by hand (see [`TsiAnswer::write_json`]).
#[cfg(any(feature = "server", test))]
fn write_frame(twin: Option<&str>, frame: &Frame, out: &mut Vec<u8>) -> serde_json::Result<()> {
    out.push(b'{');
    if let Some(twin) = twin {
        out.extend_from_slice(b"\"timeSeriesId\":[");
        serde_json::to_writer(&mut *out, twin)?;
        out.extend_from_slice(b"],");
    }
    out.extend_from_slice(b"\"timestamps\":[");
    let mut printer = Rfc3339Printer::default();
    for (i, &t) in frame.timestamps.iter().enumerate() {
        out.extend_from_slice(if i > 0 { b",\"" } else { b"\"" });
        printer.append(t, out);
        out.push(b'"');
    }
    out.extend_from_slice(b"],\"properties\":[");
    for (i, column) in frame.properties.iter().enumerate() {
        out.extend_from_slice(if i > 0 { b",{\"name\":" } else { b"{\"name\":" });
        serde_json::to_writer(&mut *out, &column.name)?;
        out.extend_from_slice(b",\"type\":");
        serde_json::to_writer(&mut *out, column.value_type.name())?;
        out.extend_from_slice(b",\"values\":[");
        for (j, value) in column.values.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            match value {
                Some(Value::Double(v)) if v.is_finite() => serde_json::to_writer(&mut *out, v)?,
                None | Some(Value::Removed | Value::Double(_)) => out.extend_from_slice(b"null"),
                Some(Value::Long(v)) => serde_json::to_writer(&mut *out, v)?,
                Some(Value::Bool(v)) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
                Some(Value::String(text)) => serde_json::to_writer(&mut *out, &**text)?,
                Some(Value::DateTime(t)) => {
                    out.push(b'"');
                    printer.append(*t, out);
                    out.push(b'"');
                }
                Some(dynamic @ Value::Dynamic(_)) => serde_json::to_writer(&mut *out, &dynamic.to_json())?,
            }
        }
        out.extend_from_slice(b"]}");
    }
    out.push(b']');
    if let Some(token) = &frame.continuation_token {
        out.extend_from_slice(b",\"continuationToken\":");
        serde_json::to_writer(&mut *out, token)?;
    }
    out.extend_from_slice(b",\"progress\":100.0}");
    Ok(())
}

/// Times as RFC 3339 text, printed into a stack buffer (no allocation per time).
struct Timestamps<'a>(&'a [Timestamp]);

impl Serialize for Timestamps<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        let mut buffer = [0u8; RFC3339_MAX_LEN];
        let mut printer = Rfc3339Printer::default();
        for &t in self.0 {
            seq.serialize_element(printer.print(t, &mut buffer))?;
        }
        seq.end()
    }
}

/// `[{"name", "type", "values"}, ...]`.
struct Columns<'a>(&'a [FrameColumn]);

impl Serialize for Columns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for column in self.0 {
            seq.serialize_element(&Column(column))?;
        }
        seq.end()
    }
}

struct Column<'a>(&'a FrameColumn);

impl Serialize for Column<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("name", &self.0.name)?;
        map.serialize_entry("type", self.0.value_type.name())?;
        map.serialize_entry("values", &Values(&self.0.values))?;
        map.end()
    }
}

/// Values as TSI writes them: numbers, booleans, strings; null for none (and for a double
/// JSON cannot hold, as `Value::to_json`).
struct Values<'a>(&'a [Option<Value>]);

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        let mut buffer = [0u8; RFC3339_MAX_LEN];
        for value in self.0 {
            match value {
                None | Some(Value::Removed) => seq.serialize_element(&())?,
                Some(Value::Double(v)) if v.is_finite() => seq.serialize_element(v)?,
                Some(Value::Double(_)) => seq.serialize_element(&())?,
                Some(Value::Long(v)) => seq.serialize_element(v)?,
                Some(Value::Bool(v)) => seq.serialize_element(v)?,
                Some(Value::String(text)) => seq.serialize_element(&**text)?,
                Some(Value::DateTime(t)) => seq.serialize_element(t.write_rfc3339(&mut buffer))?,
                Some(dynamic @ Value::Dynamic(_)) => seq.serialize_element(&dynamic.to_json())?,
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::model::ValueType;

    fn column(name: &str, value_type: ValueType, values: Vec<Option<Value>>) -> FrameColumn {
        FrameColumn {
            name: name.into(),
            value_type,
            values,
        }
    }

    /// Every kind of value, a page token, and both aggregateSeries shapes, against TSI's
    /// response shape written out by hand; the bytes and the value say the same.
    #[test]
    fn answers_in_tsis_shape() {
        // 2026-01-01T00:00:00Z and half a second later.
        let t0 = Timestamp::from_nanos(1_767_225_600_000_000_000);
        let t1 = Timestamp::from_nanos(1_767_225_600_500_000_000);
        let frame = Frame {
            timestamps: vec![t0, t1],
            properties: vec![
                column("d", ValueType::Double, vec![Some(Value::Double(20.5)), None]),
                column("l", ValueType::Long, vec![Some(Value::Long(-3)), Some(Value::Removed)]),
                column(
                    "s",
                    ValueType::String,
                    vec![Some(Value::String(Arc::from("a\"b"))), Some(Value::Bool(true))],
                ),
                column(
                    "t",
                    ValueType::DateTime,
                    vec![Some(Value::DateTime(t1)), Some(Value::Dynamic(Arc::from("[1,2]")))],
                ),
            ],
            continuation_token: Some("next".into()),
        };
        let expected = json!({
            "timestamps": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z"],
            "properties": [
                { "name": "d", "type": "Double", "values": [20.5, null] },
                { "name": "l", "type": "Long", "values": [-3, null] },
                { "name": "s", "type": "String", "values": ["a\"b", true] },
                { "name": "t", "type": "DateTime", "values": ["2026-01-01T00:00:00.5Z", [1, 2]] },
            ],
            "continuationToken": "next",
            "progress": 100.0,
        });
        let answer = TsiAnswer::Frame(frame.clone());
        assert_eq!(answer.continuation_token(), Some("next"));
        let bytes = serde_json::to_vec(&answer).expect("bytes");
        assert_eq!(serde_json::from_slice::<Json>(&bytes).expect("JSON"), expected);
        let mut written = Vec::new();
        answer.write_json(&mut written).expect("written");
        assert_eq!(String::from_utf8_lossy(&written), String::from_utf8_lossy(&bytes));
        assert_eq!(answer.into_value(), expected);

        let one = |twin: Option<&str>| TwinFrame {
            twin: twin.map(str::to_string),
            frame: Frame {
                timestamps: vec![t0],
                properties: vec![column("d", ValueType::Double, vec![Some(Value::Double(1.0))])],
                continuation_token: None,
            },
        };
        let single = TsiAnswer::Series {
            frames: vec![one(None)],
            single: true,
        };
        assert_eq!(
            single.into_value(),
            json!({ "timestamps": ["2026-01-01T00:00:00Z"],
                    "properties": [{ "name": "d", "type": "Double", "values": [1.0] }], "progress": 100.0 })
        );
        let many = TsiAnswer::Series {
            frames: vec![one(Some("a")), one(Some("b"))],
            single: false,
        };
        let series = |id: &str| {
            json!({ "timeSeriesId": [id], "timestamps": ["2026-01-01T00:00:00Z"],
                    "properties": [{ "name": "d", "type": "Double", "values": [1.0] }], "progress": 100.0 })
        };
        let mut written = Vec::new();
        many.write_json(&mut written).expect("written");
        assert_eq!(written, serde_json::to_vec(&many).expect("bytes"));
        assert_eq!(
            many.into_value(),
            json!({ "series": [series("a"), series("b")], "progress": 100.0 })
        );
    }

    /// The hand-written bytes against serde_json's, over random frames: doubles from every
    /// range of exponents, longs, strings that need escaping, times over the whole range.
    #[test]
    fn written_bytes_are_serde_jsons() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300 {
            let rows = (next() % 40) as usize;
            let timestamps = (0..rows).map(|_| Timestamp::from_nanos(next() as i64)).collect();
            let value = |r: u64, bits: u64| match r % 9 {
                0 => None,
                1 => Some(Value::Double(f64::from_bits(bits))),
                2 => Some(Value::Double((bits % 100_000) as f64 / 8.0)),
                3 => Some(Value::Long(bits as i64)),
                4 => Some(Value::Bool(bits.is_multiple_of(2))),
                5 => Some(Value::String(Arc::from(format!("q\"\\\n\u{1}é{}", bits % 7)))),
                6 => Some(Value::DateTime(Timestamp::from_nanos(bits as i64))),
                7 => Some(Value::Removed),
                _ => Some(Value::Dynamic(Arc::from("{\"a\": [1, \"x\"]}"))),
            };
            let properties = (0..(next() % 4))
                .map(|c| FrameColumn {
                    name: format!("p\"{c}"),
                    value_type: ValueType::ALL[(next() % 7) as usize],
                    values: (0..rows).map(|_| value(next(), next())).collect(),
                })
                .collect();
            let frame = Frame {
                timestamps,
                properties,
                continuation_token: next().is_multiple_of(2).then(|| "t\"k".to_string()),
            };
            for answer in [
                TsiAnswer::Frame(frame.clone()),
                TsiAnswer::Series {
                    frames: vec![
                        TwinFrame {
                            twin: Some("a\\b".into()),
                            frame: frame.clone(),
                        },
                        TwinFrame {
                            twin: None,
                            frame: frame.clone(),
                        },
                    ],
                    single: false,
                },
            ] {
                let mut written = Vec::new();
                answer.write_json(&mut written).expect("written");
                let expected = serde_json::to_vec(&answer).expect("bytes");
                assert_eq!(String::from_utf8_lossy(&written), String::from_utf8_lossy(&expected));
            }
        }
    }
}
