//! The documented limits on input, and the checks every record passes.

use std::borrow::Cow;

use super::FieldValue;

/// Limits on what one record may carry. Every limit violation rejects the record with an
/// error naming the field; the rest of the batch is unaffected.
///
/// The defaults follow TSI where it documents a limit (twin id 1,024 characters, property
/// name 512, nesting 10 levels) and are generous elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum length of a twin id in characters (TSI: 1,024).
    pub max_twin_id_chars: usize,
    /// Maximum length of a flattened property name in characters (TSI: 512).
    pub max_property_name_chars: usize,
    /// Maximum nesting depth of JSON objects in a record (TSI: 10).
    pub max_depth: usize,
    /// Maximum size of one input line (one record or event) in bytes.
    pub max_record_bytes: usize,
    /// Maximum size of one String or Dynamic value in bytes.
    pub max_value_bytes: usize,
    /// Maximum number of properties in one record.
    pub max_properties_per_record: usize,
    /// Maximum number of properties (distinct name and type) one twin may have. A record
    /// that would add properties past it is rejected, naming the twin and the property.
    pub max_properties_per_twin: usize,
    /// Maximum number of records one write call may carry (the WAL frame of a call is also
    /// capped at 1 GiB). A larger call is refused whole, before anything is written: split it.
    pub max_records_per_call: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_twin_id_chars: 1024,
            max_property_name_chars: 512,
            max_depth: 10,
            max_record_bytes: 1 << 20,
            max_value_bytes: 256 << 10,
            max_properties_per_record: 1000,
            max_properties_per_twin: 10_000,
            max_records_per_call: 10_000_000,
        }
    }
}

impl Limits {
    /// Checks a twin id.
    pub(crate) fn check_twin(&self, twin: &str) -> Result<(), String> {
        if twin.is_empty() {
            return Err("twin id is empty".into());
        }
        // Counting characters is only needed when the byte length could exceed the limit.
        let chars = if twin.len() <= self.max_twin_id_chars {
            0
        } else {
            twin.chars().count()
        };
        if chars > self.max_twin_id_chars {
            return Err(format!(
                "twin id has {chars} characters; the limit is {}",
                self.max_twin_id_chars
            ));
        }
        Ok(())
    }

    /// Checks one whole record; on failure returns the offending field (if any) and why.
    pub(crate) fn check_record(
        &self,
        twin: &str,
        fields: &[(Cow<'_, str>, FieldValue<'_>)],
    ) -> Result<(), (Option<String>, String)> {
        self.check_twin(twin).map_err(|e| (Some("$dtId".to_string()), e))?;
        if fields.is_empty() {
            return Err((None, "record has no properties".into()));
        }
        if fields.len() > self.max_properties_per_record {
            return Err((
                None,
                format!(
                    "record has {} properties; the limit is {}",
                    fields.len(),
                    self.max_properties_per_record
                ),
            ));
        }
        for (i, (name, value)) in fields.iter().enumerate() {
            let field = || Some(name.to_string());
            if name.is_empty() {
                return Err((Some(String::new()), "property name is empty".into()));
            }
            let chars = if name.len() <= self.max_property_name_chars {
                0
            } else {
                name.chars().count()
            };
            if chars > self.max_property_name_chars {
                return Err((
                    field(),
                    format!(
                        "property name has {chars} characters; the limit is {}",
                        self.max_property_name_chars
                    ),
                ));
            }
            match value {
                FieldValue::Double(v) if !v.is_finite() => {
                    return Err((field(), format!("{v} is not a finite number")));
                }
                FieldValue::Str(s) | FieldValue::Dynamic(s) if s.len() > self.max_value_bytes => {
                    return Err((
                        field(),
                        format!(
                            "value of {} bytes exceeds the limit of {}",
                            s.len(),
                            self.max_value_bytes
                        ),
                    ));
                }
                _ => {}
            }
            // Records are small; a quadratic scan beats hashing for the usual 1-10 fields.
            if fields[..i].iter().any(|(other, _)| other == name) {
                return Err((
                    field(),
                    "duplicate property (a dotted key and the same nested path name one property)".into(),
                ));
            }
        }
        Ok(())
    }
}
