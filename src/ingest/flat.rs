//! Flattened twin-update records, one JSON object per line: the shape the
//! ProcessDTUpdatetoTSI function emits (`{"$dtId": "thermostat67", "Temperature": 20.5}`).
//!
//! Lines are parsed with a streaming serde visitor that writes typed fields straight into the
//! batch, borrowing names and strings from the input: no per-record JSON tree, no per-record
//! allocation unless a string needs unescaping.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::typing::{
    flatten_json, join_name, maybe_overflowed_integer, overflowing_integer_literal, type_string, type_u64,
};
use super::{FieldValue, Limits, ParsedBatch, lines};
use crate::error::RecordError;
use crate::model::Timestamp;

/// Settings of the flat parser.
pub(crate) struct FlatSettings<'s> {
    pub limits: &'s Limits,
    pub timestamp_property: &'s str,
    pub infer_datetime: bool,
}

/// Parses every line of `input` into `batch`; bad lines become errors in `batch.errors`.
pub(crate) fn parse_flat_lines<'a>(
    input: &'a [u8],
    first_line: u64,
    settings: &FlatSettings<'_>,
    batch: &mut ParsedBatch<'a>,
) {
    for (line_no, line) in lines(input, first_line) {
        parse_line(line_no, line, settings, batch);
    }
}

fn parse_line<'a>(line_no: u64, line: &'a [u8], settings: &FlatSettings<'_>, batch: &mut ParsedBatch<'a>) {
    let reject = |batch: &mut ParsedBatch<'a>, twin: Option<String>, field: Option<String>, reason: String| {
        batch.errors.push(RecordError {
            line: line_no,
            twin,
            field,
            reason,
        })
    };
    if line.len() > settings.limits.max_record_bytes {
        let reason = format!(
            "record of {} bytes exceeds the limit of {} bytes",
            line.len(),
            settings.limits.max_record_bytes
        );
        return reject(batch, None, None, reason);
    }
    let start = batch.fields.len();
    let mut head = RecordHead::default();
    let mut de = serde_json::Deserializer::from_slice(line);
    let parsed = de
        .deserialize_map(RecordVisitor {
            settings,
            head: &mut head,
            fields: &mut batch.fields,
        })
        .and_then(|()| de.end());
    if let Err(e) = parsed {
        batch.fields.truncate(start);
        let twin = head.twin.map(Cow::into_owned);
        return match head.problem {
            Some((field, reason)) => reject(batch, twin, Some(field), reason),
            None if e.is_syntax() || e.is_eof() => reject(batch, twin, None, format!("not valid JSON: {e}")),
            None => reject(batch, twin, None, format!("not a JSON object: {e}")),
        };
    }
    let Some(twin) = head.twin else {
        batch.fields.truncate(start);
        return reject(batch, None, Some("$dtId".into()), "record has no $dtId".into());
    };
    if let Some(field) = head.big_double.take()
        && let Some(literal) = overflowing_integer_literal(line)
    {
        batch.fields.truncate(start);
        let reason = format!("integer {literal} is outside the Long range");
        return reject(batch, Some(twin.into_owned()), Some(field), reason);
    }
    batch.commit_record(settings.limits, line_no, twin, head.ts, None, start);
}

/// The non-property parts of a record, and the first problem met while reading it.
#[derive(Default)]
struct RecordHead<'a> {
    twin: Option<Cow<'a, str>>,
    ts: Option<Timestamp>,
    /// `(field, reason)` of a semantic problem; takes precedence over serde's message.
    problem: Option<(String, String)>,
    /// The first field whose Double may have been integer text beyond the Long range.
    big_double: Option<String>,
}

struct RecordVisitor<'h, 'a, 's> {
    settings: &'s FlatSettings<'s>,
    head: &'h mut RecordHead<'a>,
    fields: &'h mut Vec<(Cow<'a, str>, FieldValue<'a>)>,
}

impl<'de> Visitor<'de> for RecordVisitor<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            if key == "$dtId" {
                if self.head.twin.is_some() {
                    return Err(problem(self.head, "$dtId", "duplicate $dtId"));
                }
                match map.next_value::<ScalarText<'de>>()? {
                    ScalarText::Text(id) => self.head.twin = Some(id),
                    ScalarText::Other(kind) => {
                        return Err(problem(
                            self.head,
                            "$dtId",
                            &format!("$dtId must be a string, found {kind}"),
                        ));
                    }
                }
            } else if key == self.settings.timestamp_property {
                if self.head.ts.is_some() {
                    return Err(problem(self.head, &key, "duplicate timestamp property"));
                }
                let ts = match map.next_value::<TimeValue<'de>>()? {
                    TimeValue::Text(text) => Timestamp::parse(&text).map_err(|e| e.to_string()),
                    TimeValue::Millis(ms) => {
                        Timestamp::from_millis(ms).ok_or_else(|| format!("epoch milliseconds {ms} out of range"))
                    }
                    TimeValue::MillisF64(ms) => Timestamp::from_millis_f64(ms).map_err(|e| e.to_string()),
                    TimeValue::Other(kind) => Err(format!(
                        "timestamp must be an RFC 3339 string or epoch milliseconds, found {kind}"
                    )),
                };
                match ts {
                    Ok(ts) => self.head.ts = Some(ts),
                    Err(reason) => return Err(problem(self.head, &key, &reason)),
                }
            } else {
                map.next_value_seed(FieldSeed {
                    name: key,
                    depth: 1,
                    settings: self.settings,
                    head: &mut *self.head,
                    fields: &mut *self.fields,
                })?;
            }
        }
        Ok(())
    }
}

/// Records a semantic problem and returns the serde error that aborts the parse.
fn problem<E: de::Error>(head: &mut RecordHead<'_>, field: &str, reason: &str) -> E {
    head.problem = Some((field.to_string(), reason.to_string()));
    E::custom(reason)
}

/// Deserializes a property value named `name` into typed fields.
struct FieldSeed<'h, 'a, 's> {
    name: Cow<'a, str>,
    depth: usize,
    settings: &'s FlatSettings<'s>,
    head: &'h mut RecordHead<'a>,
    fields: &'h mut Vec<(Cow<'a, str>, FieldValue<'a>)>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_, 'de, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> FieldSeed<'_, 'de, '_> {
    fn push(self, value: FieldValue<'de>) {
        self.fields.push((self.name, value));
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.push(FieldValue::Bool(v));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.push(FieldValue::Long(v));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        match type_u64(v) {
            Ok(value) => {
                self.push(value);
                Ok(())
            }
            Err(reason) => Err(problem(self.head, &self.name, &reason)),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if maybe_overflowed_integer(v) && self.head.big_double.is_none() {
            self.head.big_double = Some(self.name.to_string());
        }
        self.push(FieldValue::Double(v));
        Ok(())
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        let infer = self.settings.infer_datetime;
        self.push(type_string(Cow::Borrowed(v), infer));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.visit_string(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<(), E> {
        let infer = self.settings.infer_datetime;
        self.push(type_string(Cow::Owned(v), infer));
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.push(FieldValue::Removed);
        Ok(())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        // Arrays are rare: read them as a JSON tree and keep their text (Dynamic).
        let value: serde_json::Value = serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        let mut out = Vec::new();
        match flatten_json(
            self.name.to_string(),
            &value,
            self.depth,
            self.settings.limits,
            false,
            &mut out,
        ) {
            Ok(()) => {
                self.fields.extend(out);
                Ok(())
            }
            Err((field, reason)) => Err(problem(self.head, &field, &reason)),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.depth + 1 > self.settings.limits.max_depth {
            let reason = format!("nested deeper than {} levels", self.settings.limits.max_depth);
            return Err(problem(self.head, &self.name, &reason));
        }
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            map.next_value_seed(FieldSeed {
                name: Cow::Owned(join_name(&self.name, &key)),
                depth: self.depth + 1,
                settings: self.settings,
                head: &mut *self.head,
                fields: &mut *self.fields,
            })?;
        }
        Ok(())
    }
}

/// A JSON string that borrows from the input unless it had escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A value expected to be a string; anything else is named for the error message.
enum ScalarText<'a> {
    Text(Cow<'a, str>),
    Other(&'static str),
}

/// A timestamp property value: text, integer or fractional epoch milliseconds.
enum TimeValue<'a> {
    Text(Cow<'a, str>),
    Millis(i64),
    MillisF64(f64),
    Other(&'static str),
}

/// Implements `Deserialize` for a "what JSON kind is this" enum: strings map to `$text`,
/// every other kind to `$other(name)` unless listed.
macro_rules! kind_visitor {
    ($ty:ident, $text:path, $other:path $(, $method:ident($arg:ty) => $body:expr)*) => {
        impl<'de> serde::Deserialize<'de> for $ty<'de> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a JSON value")
                    }
                    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                        Ok($text(Cow::Borrowed(v)))
                    }
                    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                        Ok($text(Cow::Owned(v)))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                        Ok($text(Cow::Owned(v.to_string())))
                    }
                    $(fn $method<E: de::Error>(self, v: $arg) -> Result<Self::Value, E> {
                        #[allow(clippy::redundant_closure_call)]
                        Ok(($body)(v))
                    })*
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                        Ok($other("a bool"))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                        Ok($other("null"))
                    }
                    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                        Ok($other("an array"))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                        Ok($other("an object"))
                    }
                    kind_visitor!(@numbers $other $(, $method)*);
                }
                deserializer.deserialize_any(V)
            }
        }
    };
    (@numbers $other:path) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other("a number"))
        }
    };
    (@numbers $other:path $(, $method:ident)+) => {};
}

kind_visitor!(ScalarText, ScalarText::Text, ScalarText::Other);
kind_visitor!(
    TimeValue,
    TimeValue::Text,
    TimeValue::Other,
    visit_i64(i64) => TimeValue::Millis,
    visit_u64(u64) => |v: u64| i64::try_from(v).map(TimeValue::Millis).unwrap_or(TimeValue::MillisF64(v as f64)),
    visit_f64(f64) => TimeValue::MillisF64
);
