//! The TSI typing and flattening rules, shared by the flat and ADT parsers.

use std::borrow::Cow;

use super::{FieldValue, Limits};
use crate::model::Timestamp;

/// How to type a JSON string: a DateTime when it parses as one and inference is on,
/// else a String.
pub(super) fn type_string(text: Cow<'_, str>, infer_datetime: bool) -> FieldValue<'_> {
    if infer_datetime
        && Timestamp::looks_like_datetime(&text)
        && let Ok(ts) = Timestamp::parse(&text)
    {
        return FieldValue::DateTime(ts);
    }
    FieldValue::Str(text)
}

/// Types a JSON integer that arrived as unsigned: a Long when it fits.
pub(super) fn type_u64(v: u64) -> Result<FieldValue<'static>, String> {
    i64::try_from(v)
        .map(FieldValue::Long)
        .map_err(|_| format!("integer {v} is outside the Long range"))
}

/// Could `v` have come from integer text outside the Long range? serde reads such text as a
/// Double; only integral values of at least 2^63 in magnitude are candidates.
pub(super) fn maybe_overflowed_integer(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() >= 9_223_372_036_854_775_808.0
}

/// The first integer literal in JSON text `line` (outside strings) that does not fit a
/// Long. A JSON integer is a Long (SEMANTICS.md), so such a literal is an error, not a
/// Double; serde cannot tell `1e20` from `100000000000000000000`, the text can.
pub(crate) fn overflowing_integer_literal(line: &[u8]) -> Option<&str> {
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => {
                // Skip the string, honouring escapes.
                i += 1;
                while i < line.len() && line[i] != b'"' {
                    i += if line[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < line.len() && matches!(line[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                let token = std::str::from_utf8(&line[start..i]).ok()?;
                if !token.contains(['.', 'e', 'E']) && token.parse::<i64>().is_err() && token.len() > 1 {
                    return Some(token);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Joins a flattened name prefix and a key with `.`.
pub(super) fn join_name(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        let mut name = String::with_capacity(prefix.len() + 1 + key.len());
        name.push_str(prefix);
        name.push('.');
        name.push_str(key);
        name
    }
}

/// Nesting depth of a JSON value: scalars 0, `[1]` 1, `{"a":{"b":1}}` 2.
pub(super) fn json_depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Flattens a JSON value found under `name` at nesting `depth` into `out`: objects recurse
/// with dotted names, arrays become Dynamic JSON text, `null` a Removed marker.
/// On failure returns the field and the reason.
pub(super) fn flatten_json(
    name: String,
    value: &serde_json::Value,
    depth: usize,
    limits: &Limits,
    infer_datetime: bool,
    out: &mut Vec<(Cow<'static, str>, FieldValue<'static>)>,
) -> Result<(), (String, String)> {
    use serde_json::Value as J;
    if depth > limits.max_depth {
        return Err((name, format!("nested deeper than {} levels", limits.max_depth)));
    }
    let typed = match value {
        J::Null => FieldValue::Removed,
        J::Bool(b) => FieldValue::Bool(*b),
        J::Number(n) => {
            if let Some(v) = n.as_i64() {
                FieldValue::Long(v)
            } else if let Some(v) = n.as_u64() {
                type_u64(v).map_err(|e| (name.clone(), e))?
            } else {
                FieldValue::Double(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        J::String(s) => type_string(Cow::Owned(s.clone()), infer_datetime),
        J::Array(_) => {
            if depth + json_depth(value) > limits.max_depth {
                return Err((name, format!("nested deeper than {} levels", limits.max_depth)));
            }
            FieldValue::Dynamic(Cow::Owned(value.to_string()))
        }
        J::Object(map) => {
            for (key, inner) in map {
                flatten_json(join_name(&name, key), inner, depth + 1, limits, infer_datetime, out)?;
            }
            return Ok(());
        }
    };
    out.push((Cow::Owned(name), typed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_integer_literals_beyond_long_outside_strings() {
        assert_eq!(
            overflowing_integer_literal(br#"{"a":-9223372036854775809}"#),
            Some("-9223372036854775809")
        );
        assert_eq!(
            overflowing_integer_literal(br#"{"a":"99999999999999999999","b":1e20,"c":-9223372036854775808}"#),
            None
        );
        assert_eq!(
            overflowing_integer_literal(br#"{"s":"\"x","b":18446744073709551616}"#),
            Some("18446744073709551616")
        );
    }
}
