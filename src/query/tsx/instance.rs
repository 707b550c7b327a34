//! `$instance.<field>` in a query's filter: each reference is replaced by the value of that
//! instance field of the twin queried, written as a TSX literal, before the filter is
//! parsed; so `$instance.Building = 'B1' AND $event.Temperature > 20` filters the events of
//! the twins in building B1. A field the instance does not have is `null`.

use super::TsxError;
use super::lexer::{Lexer, Tok};
use crate::model::Value;

/// `text` with every `$instance.<field>` replaced by `field(name)` as a literal (`None`:
/// `null`); the text itself when it reads no instance field.
pub fn bind_instance_fields<'v>(text: &str, field: impl Fn(&str) -> Option<&'v Value>) -> Result<String, TsxError> {
    let refs = references(text)?;
    if refs.is_empty() {
        return Ok(text.to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (start, end, name) in refs {
        out.extend(&chars[at..start]);
        out.push_str(&literal(field(&name)));
        at = end;
    }
    out.extend(&chars[at..]);
    Ok(out)
}

/// Where each `$instance` reference is (character positions) and the field it names.
fn references(text: &str) -> Result<Vec<(usize, usize, String)>, TsxError> {
    if !text.contains('$') {
        return Ok(Vec::new());
    }
    let mut lexer = Lexer::new(text);
    let mut out = Vec::new();
    loop {
        let token = lexer.next_token()?;
        match token.tok {
            Tok::Eof => return Ok(out),
            Tok::Instance(name) => out.push((token.pos, token.end, name)),
            _ => {}
        }
    }
}

/// A value as a TSX literal, in parentheses where it has a sign.
fn literal(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Long(n)) if *n == i64::MIN => "(-9223372036854775807 - 1)".into(),
        Some(Value::Long(n)) if *n < 0 => format!("(-{})", n.unsigned_abs()),
        Some(Value::Long(n)) => n.to_string(),
        Some(Value::Double(d)) if d.is_finite() && *d < 0.0 => format!("(-{:?})", -d),
        Some(Value::Double(d)) if d.is_finite() => format!("{d:?}"),
        _ => "null".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_literals() {
        let fields = |name: &str| -> Option<&'static Value> {
            static B1: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| Value::String("B'1".into()));
            static FLOOR: Value = Value::Long(-3);
            static AREA: Value = Value::Double(-12.5);
            static ON: Value = Value::Bool(true);
            match name {
                "Building" => Some(&B1),
                "Floor" => Some(&FLOOR),
                "Area m2" => Some(&AREA),
                "On" => Some(&ON),
                _ => None,
            }
        };
        let bound = bind_instance_fields(
            "$instance.Building = 'x' AND $instance['Floor'] < 0 AND $INSTANCE['Area m2'] = -12.5 \
             AND $instance.On AND $instance.Nope = null AND $event.s.String = '$instance.Building'",
            fields,
        )
        .expect("binds");
        assert_eq!(
            bound,
            "'B\\'1' = 'x' AND (-3) < 0 AND (-12.5) = -12.5 AND true AND null = null AND \
             $event.s.String = '$instance.Building'"
        );
        assert_eq!(
            bind_instance_fields("$event.a > 1", fields).expect("none"),
            "$event.a > 1"
        );
        assert!(bind_instance_fields("$instance.a.b = 1", fields).is_err());
        assert!(bind_instance_fields("$instance = 1", fields).is_err());
        assert_eq!(literal(Some(&Value::Long(i64::MIN))), "(-9223372036854775807 - 1)");
        assert_eq!(literal(Some(&Value::Double(1e300))), "1e300");
    }
}
