//! Ingest: turn input (flattened NDJSON records, ADT Twin.Update events, typed [`Record`]s)
//! into a [`ParsedBatch`] of validated, typed field values.
//!
//! This stage knows nothing of storage. It applies the TSI typing rules (a JSON integer is a
//! Long, a number with a fraction a Double, an ISO 8601 string a DateTime, arrays Dynamic),
//! flattens nested objects with `.`, enforces the [`Limits`], and reports every bad record
//! with its line, twin, field and reason, keeping the good ones.

mod adt;
pub(crate) mod flat;
mod limits;
mod typing;

use std::borrow::Cow;
use std::ops::Range;

pub(crate) use adt::{AdtSettings, parse_adt_lines, parse_adt_message};
pub(crate) use flat::parse_flat_lines;
pub use limits::Limits;
pub(crate) use typing::overflowing_integer_literal;

use crate::error::RecordError;
// `FieldValue` lives in the shared model (the WAL and the warm tier store it); re-exported
// so that `ingest::FieldValue` keeps compiling for code that still imports it from here.
pub(crate) use crate::model::FieldValue;
use crate::model::{Record, Timestamp};

/// The input formats `Store::ingest` understands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// Flattened twin-update records, one JSON object per line:
    /// `{"$dtId": "thermostat67", "$ts": "...", "Temperature": 20.5}`.
    #[default]
    Flat,
    /// Azure Digital Twins change notifications, one per line (or a JSON array of them per
    /// line), in the CloudEvents or the Event Grid envelope.
    Adt,
}

/// One parsed record; its fields are `ParsedBatch::fields[fields]`.
#[derive(Clone, Debug)]
pub(crate) struct ParsedRecord<'a> {
    pub twin: Cow<'a, str>,
    /// `None`: stamp with the store's clock when written.
    pub ts: Option<Timestamp>,
    /// The twin's model id, when the input carries one (ADT events).
    pub model: Option<Cow<'a, str>>,
    pub fields: Range<usize>,
    /// 1-based line (or index, for typed records) in the input, for errors found later.
    pub line: u64,
}

/// An ADT lifecycle or relationship event: what the Time Series Model derives the twin graph
/// and the twins' models from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GraphEvent {
    /// Twin.Create, with the twin's model id (`$metadata.$model`).
    TwinCreated { twin: String, model: Option<String> },
    /// Twin.Delete.
    TwinDeleted { twin: String },
    /// Relationship.Create or .Update.
    Related {
        id: String,
        source: String,
        target: String,
        name: String,
    },
    /// Relationship.Delete.
    Unrelated { id: String, source: String },
}

/// The output of this stage: valid records (field values in one shared arena, so a batch of
/// a million records makes a handful of allocations), the rejected ones, the ADT lifecycle
/// and relationship events, and a count of input items skipped by design (ADT events of
/// other types).
#[derive(Debug, Default)]
pub(crate) struct ParsedBatch<'a> {
    pub records: Vec<ParsedRecord<'a>>,
    pub fields: Vec<(Cow<'a, str>, FieldValue<'a>)>,
    pub errors: Vec<RecordError>,
    pub graph: Vec<GraphEvent>,
    pub skipped: u64,
}

impl<'a> ParsedBatch<'a> {
    /// The field values of `record`.
    pub(crate) fn fields_of(&self, record: &ParsedRecord<'a>) -> &[(Cow<'a, str>, FieldValue<'a>)] {
        &self.fields[record.fields.clone()]
    }

    /// Validates the fields pushed since `start` and commits them as one record, or rolls
    /// them back and records the error.
    pub(crate) fn commit_record(
        &mut self,
        limits: &Limits,
        line: u64,
        twin: Cow<'a, str>,
        ts: Option<Timestamp>,
        model: Option<Cow<'a, str>>,
        start: usize,
    ) {
        let checked = match ts {
            // Ranges are half-open, so a query "to the end" is `< Timestamp::MAX`; a row at
            // that instant could never be returned.
            Some(Timestamp::MAX) => Err((
                None,
                "time 2262-04-11T23:47:16.854775807Z (the largest timestamp) is reserved as the end of time"
                    .to_string(),
            )),
            _ => limits.check_record(&twin, &self.fields[start..]),
        };
        match checked {
            Ok(()) => self.records.push(ParsedRecord {
                twin,
                ts,
                model,
                fields: start..self.fields.len(),
                line,
            }),
            Err((field, reason)) => {
                self.fields.truncate(start);
                self.errors.push(RecordError {
                    line,
                    twin: Some(twin.into_owned()),
                    field,
                    reason,
                });
            }
        }
    }

    /// Adds typed records (the `Store::write` path), validating each.
    pub(crate) fn push_typed(&mut self, limits: &Limits, records: &'a [Record]) {
        // Sized once: grown record by record, these arenas were copied, and fresh pages
        // faulted in, several times per call.
        self.records.reserve(records.len());
        self.fields.reserve(records.iter().map(|r| r.values.len()).sum());
        for (index, record) in records.iter().enumerate() {
            let start = self.fields.len();
            self.fields.extend(
                record
                    .values
                    .iter()
                    .map(|(name, value)| (Cow::Borrowed(name.as_str()), FieldValue::from_value(value))),
            );
            self.commit_record(
                limits,
                index as u64 + 1,
                Cow::Borrowed(&record.twin),
                Some(record.ts),
                None,
                start,
            );
        }
    }
}

/// Splits `input` into lines, yielding `(1-based line number, line without its line
/// terminator)` for every line that is not blank.
pub(crate) fn lines(input: &[u8], first_line: u64) -> impl Iterator<Item = (u64, &[u8])> {
    let mut rest = input;
    let mut number = first_line;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            let this = number;
            number += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some((this, line));
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_from_one_and_blank_lines_skipped() {
        let got: Vec<_> = lines(b"a\r\n\n  \nb\nc", 1).collect();
        assert_eq!(got, vec![(1, &b"a"[..]), (4, &b"b"[..]), (5, &b"c"[..])]);
    }
}
