//! Table tests of the TSX language: every literal, operator, function and property form, the
//! type rules, the NULL rules, and the positions of errors. Expected values are written by
//! hand from the language's rules, not taken from the code's output.

use super::*;
use crate::model::{Timestamp, Value, ValueType};

/// 2026-01-01T00:00:00Z in nanoseconds.
const T0: i64 = 1_767_225_600_000_000_000;
const SECOND: i64 = 1_000_000_000;
const HOUR: i64 = 3600 * SECOND;
const DAY: i64 = 24 * HOUR;

fn s(text: &str) -> Scalar {
    Scalar::String(text.into())
}

fn parse_ok(text: &str) -> Expr {
    parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

/// Evaluates `text` on a row with these property values (in slot order), at T0.
fn eval_row(text: &str, values: &[Scalar]) -> Scalar {
    parse_ok(text).eval(values, T0, &Scalar::Null)
}

/// Evaluates a text that reads no properties.
fn ev(text: &str) -> Scalar {
    eval_row(text, &[])
}

/// The parse error of `text`.
fn parse_err(text: &str) -> TsxError {
    match parse(text) {
        Ok(e) => panic!("{text:?} should not parse, got {e:?}"),
        Err(e) => e,
    }
}

/// The type of `text` as a filter or value (no `$value`, no aggregates).
fn ty(text: &str) -> TsxType {
    parse_ok(text)
        .check(None, false)
        .unwrap_or_else(|e| panic!("{text:?} should type-check: {e}"))
}

/// The type error of `text` in a context.
fn check_err(text: &str, value_type: Option<TsxType>, allow_aggregates: bool) -> TsxError {
    match parse_ok(text).check(value_type, allow_aggregates) {
        Ok(t) => panic!("{text:?} should not type-check, got {t}"),
        Err(e) => e,
    }
}

/// Character index of the first `needle` in `text` (for positions in long texts).
fn char_pos(text: &str, needle: &str) -> usize {
    let byte = text.find(needle).expect("needle in text");
    text[..byte].chars().count()
}

#[test]
fn literals() {
    let cases: &[(&str, Scalar, TsxType)] = &[
        ("1.5", Scalar::Double(1.5), TsxType::Double),
        ("42", Scalar::Long(42), TsxType::Long),
        ("0", Scalar::Long(0), TsxType::Long),
        ("1e3", Scalar::Double(1000.0), TsxType::Double),
        ("2.5E-1", Scalar::Double(0.25), TsxType::Double),
        ("1e+2", Scalar::Double(100.0), TsxType::Double),
        ("-3", Scalar::Long(-3), TsxType::Long),
        ("-2.5", Scalar::Double(-2.5), TsxType::Double),
        ("9223372036854775807", Scalar::Long(i64::MAX), TsxType::Long),
        ("-9223372036854775808", Scalar::Long(i64::MIN), TsxType::Long),
        ("'text'", s("text"), TsxType::String),
        ("''", s(""), TsxType::String),
        (r"'it\'s'", s("it's"), TsxType::String),
        (r"'a\\b'", s(r"a\b"), TsxType::String),
        ("'héllo wörld'", s("héllo wörld"), TsxType::String),
        ("TRUE", Scalar::Bool(true), TsxType::Bool),
        ("true", Scalar::Bool(true), TsxType::Bool),
        ("FALSE", Scalar::Bool(false), TsxType::Bool),
        ("False", Scalar::Bool(false), TsxType::Bool),
        ("NULL", Scalar::Null, TsxType::Null),
        ("null", Scalar::Null, TsxType::Null),
        ("dt'2026-01-01T00:00:00Z'", Scalar::DateTime(T0), TsxType::DateTime),
        ("dt'2026-01-01T01:00:00+01:00'", Scalar::DateTime(T0), TsxType::DateTime),
        (
            "DT'2026-01-01T00:00:00.5Z'",
            Scalar::DateTime(T0 + 500_000_000),
            TsxType::DateTime,
        ),
        ("ts'P1D'", Scalar::TimeSpan(DAY), TsxType::TimeSpan),
        ("ts'PT1H30M'", Scalar::TimeSpan(90 * 60 * SECOND), TsxType::TimeSpan),
        ("ts'PT0.5S'", Scalar::TimeSpan(SECOND / 2), TsxType::TimeSpan),
        ("ts'PT2S'", Scalar::TimeSpan(2 * SECOND), TsxType::TimeSpan),
        ("ts'P1W'", Scalar::TimeSpan(7 * DAY), TsxType::TimeSpan),
        ("ts'P1M'", Scalar::TimeSpan(30 * DAY), TsxType::TimeSpan),
        ("ts'P1Y'", Scalar::TimeSpan(365 * DAY), TsxType::TimeSpan),
        ("ts'P1DT1H'", Scalar::TimeSpan(DAY + HOUR), TsxType::TimeSpan),
        ("ts'-PT1S'", Scalar::TimeSpan(-SECOND), TsxType::TimeSpan),
        ("  7  ", Scalar::Long(7), TsxType::Long),
    ];
    for (text, value, t) in cases {
        assert_eq!(&ev(text), value, "{text}");
        assert_eq!(ty(text), *t, "{text}");
    }
}

#[test]
fn bad_literals_are_errors_at_their_position() {
    let cases: &[(&str, usize, &str)] = &[
        ("9223372036854775808", 0, "out of the range of Long"),
        ("1 + 99999999999999999999", 4, "out of the range of Long"),
        ("-9223372036854775809", 0, "out of the range of Long"),
        ("1e400", 0, "out of the range of Double"),
        ("dt'2026-13-01T00:00:00Z'", 0, "invalid date-time literal"),
        ("$event.$ts > dt'yesterday'", 13, "invalid date-time literal"),
        ("ts'1 day'", 0, "invalid time span literal"),
        ("ts'P'", 0, "invalid time span literal"),
        ("'abc", 0, "unterminated string literal"),
        ("1 + 'abc", 4, "unterminated string literal"),
        (r"'abc\", 0, "unterminated string literal"),
        (r"'a\nb'", 2, "invalid escape sequence"),
        ("1.", 2, "expected a digit after the decimal point"),
        ("1.x", 2, "expected a digit after the decimal point"),
        ("1e", 2, "exponent"),
        ("12abc", 2, "after a number"),
        ("1.5.2", 3, "after a number"),
        ("\"text\"", 0, "single quotes"),
    ];
    for (text, pos, what) in cases {
        let e = parse_err(text);
        assert_eq!(e.position, *pos, "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }
}

#[test]
fn property_forms() {
    use ValueType::*;
    let cases: &[(&str, &str, ValueType)] = &[
        ("$event.Temperature.Double", "Temperature", Double),
        ("$event.Temperature", "Temperature", Double),
        ("$event.Energy.Long", "Energy", Long),
        ("$event.On.Bool", "On", Bool),
        ("$event.Mode.String", "Mode", String),
        ("$event.Seen.DateTime", "Seen", DateTime),
        ("$event.Tags.Dynamic", "Tags", Dynamic),
        ("$event.x.string", "x", String),
        ("$event.x.DATETIME", "x", DateTime),
        ("$event.a.b.Long", "a.b", Long),
        ("$event.a.b", "a.b", Double),
        ("$event.a.b.c.Bool", "a.b.c", Bool),
        ("$event['Front.Temperature'].Double", "Front.Temperature", Double),
        ("$event['Front.Temperature']", "Front.Temperature", Double),
        ("$event['Temperature-Celsius']", "Temperature-Celsius", Double),
        (
            "$event.Temperature['Celsius-C'].Double",
            "Temperature.Celsius-C",
            Double,
        ),
        ("$event['Temperature']['Celsius'].Double", "Temperature.Celsius", Double),
        ("$event.a['b.c'].Long", "a.b.c", Long),
        ("$event.['x'].String", "x", String),
        (r"$event['it\'s \\ here'].Bool", r"it's \ here", Bool),
        ("$event['with space'].Long", "with space", Long),
        ("$event.Long", "Long", Double),
        ("$event.a['Long']", "a.Long", Double),
        ("$event.p.Removed", "p.Removed", Double),
        ("$event._snake_case9.Double", "_snake_case9", Double),
    ];
    for (text, name, t) in cases {
        match parse_ok(text) {
            Expr::Property {
                name: n,
                ty,
                slot: 0,
                pos: 0,
            } => assert_eq!((n.as_str(), ty), (*name, *t), "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert_eq!(parse_ok("$event.$ts"), Expr::Timestamp { pos: 0 });
    assert_eq!(parse_ok("$value"), Expr::Value { pos: 0 });
    // A Dynamic property reads as its JSON text.
    assert_eq!(ty("$event.Tags.Dynamic"), TsxType::String);
    assert_eq!(ty("$event.Seen.DateTime"), TsxType::DateTime);
    assert_eq!(ty("$event.$ts"), TsxType::DateTime);
    // Property names are case-sensitive: two properties.
    assert_eq!(parse_ok("$event.a.Long = $event.A.Long").bind_properties().len(), 2);
}

#[test]
fn bad_property_references() {
    let cases: &[(&str, usize, &str)] = &[
        ("$event", 6, "expected '.' or '[' after $event but found end of input"),
        ("$event > 1", 6, "expected '.' or '['"),
        (
            "$event.",
            7,
            "expected a property name after '.' but found end of input",
        ),
        ("$event.1a", 7, "expected a property name"),
        ("$event.a.$ts", 9, "expected a property name"),
        ("$event.$dtId", 7, "unknown built-in property '$dtId'"),
        ("$event.$ts.x", 10, "nothing may follow $event.$ts"),
        ("$event['a'", 10, "expected ']'"),
        ("$event['a'.Double", 10, "expected ']'"),
        ("$event[a", 6, "unterminated property name"),
        (
            "$event[a'b]",
            8,
            "unexpected character '\\'' in a bracketed property name",
        ),
        ("$event['']", 6, "empty property name"),
        ("$event['a", 7, "unterminated string literal"),
        ("$foo", 0, "unknown name '$foo'"),
        ("$event.a-b", 9, "unexpected name 'b'"),
    ];
    for (text, pos, what) in cases {
        let e = parse_err(text);
        assert_eq!(e.position, *pos, "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }
}

#[test]
fn timestamp_comparisons() {
    let expr = parse_ok("$event.$ts >= dt'2026-01-01T00:00:00Z'");
    assert!(expr.matches(&[], T0, &Scalar::Null));
    assert!(expr.matches(&[], T0 + 1, &Scalar::Null));
    assert!(!expr.matches(&[], T0 - 1, &Scalar::Null));
    let window = parse_ok("$event.$ts - ts'PT1H' < dt'2026-01-01T00:00:00Z'");
    assert!(window.matches(&[], T0 + HOUR - 1, &Scalar::Null));
    assert!(!window.matches(&[], T0 + HOUR, &Scalar::Null));
    assert_eq!(
        parse_ok("$event.$ts").eval(&[], 42, &Scalar::Null),
        Scalar::DateTime(42)
    );
}

#[test]
#[allow(clippy::approx_constant)] // 3.14 is the TSI documentation's example, not pi.
fn filters_on_properties() {
    let good = || s("Good");
    let cases: &[(&str, Vec<Scalar>, Scalar)] = &[
        (
            "$event.Temperature.Double > 20",
            vec![Scalar::Double(21.5)],
            Scalar::Bool(true),
        ),
        (
            "$event.Temperature.Double > 20",
            vec![Scalar::Double(20.0)],
            Scalar::Bool(false),
        ),
        ("$event.Temperature.Double > 20", vec![Scalar::Null], Scalar::Null),
        ("$event.Temperature.Double > 20", vec![], Scalar::Null),
        (
            "$event.Status.String = 'Good' AND NOT ($event.Speed.Double < 0)",
            vec![good(), Scalar::Double(5.0)],
            Scalar::Bool(true),
        ),
        (
            "$event.Status.String = 'Good' AND NOT ($event.Speed.Double < 0)",
            vec![good(), Scalar::Double(-1.0)],
            Scalar::Bool(false),
        ),
        (
            "$event.Status.String = 'Good' AND NOT ($event.Speed.Double < 0)",
            vec![s("Bad"), Scalar::Double(5.0)],
            Scalar::Bool(false),
        ),
        (
            "$event.Status.String = 'Good' AND NOT ($event.Speed.Double < 0)",
            vec![good(), Scalar::Null],
            Scalar::Null,
        ),
        // Examples from the TSI documentation.
        ("$event.Status.String='Good'", vec![good()], Scalar::Bool(true)),
        ("$event.Status.String='Good'", vec![s("good")], Scalar::Bool(false)),
        (
            "$event.Value.Double != null",
            vec![Scalar::Double(1.0)],
            Scalar::Bool(true),
        ),
        ("$event.Value.Double != null", vec![Scalar::Null], Scalar::Bool(false)),
        (
            "$event.Temperature.Double > 70.0 AND $event.Building.String = 'B1'",
            vec![Scalar::Double(71.0), s("B1")],
            Scalar::Bool(true),
        ),
        (
            "$event.Temperature.Double > 70.0 AND $event.Building.String = 'B1'",
            vec![Scalar::Double(71.0), s("B2")],
            Scalar::Bool(false),
        ),
        (
            "$event.PointValue.Double = 3.14",
            vec![Scalar::Double(3.14)],
            Scalar::Bool(true),
        ),
        (
            "$event.PointValue > 3.14 AND $event.Status.String = 'Good'",
            vec![Scalar::Double(4.0), good()],
            Scalar::Bool(true),
        ),
        (
            "$event.PointEval.Bool = true",
            vec![Scalar::Bool(true)],
            Scalar::Bool(true),
        ),
        ("$event.p.Long = 3", vec![Scalar::Long(3)], Scalar::Bool(true)),
        ("$event.p.Long > 2.5", vec![Scalar::Long(3)], Scalar::Bool(true)),
        ("$event.x.Double = NULL", vec![Scalar::Null], Scalar::Bool(true)),
        (
            "$event.x.Double = $event.y.Double",
            vec![Scalar::Null, Scalar::Null],
            Scalar::Bool(true),
        ),
        (
            "$event.x.Double = $event.y.Double",
            vec![Scalar::Null, Scalar::Double(1.0)],
            Scalar::Bool(false),
        ),
    ];
    for (text, values, expected) in cases {
        assert_eq!(&eval_row(text, values), expected, "{text} on {values:?}");
        let e = parse_ok(text);
        assert_eq!(e.check(None, false), Ok(TsxType::Bool), "{text}");
        assert_eq!(
            e.matches(values, T0, &Scalar::Null),
            *expected == Scalar::Bool(true),
            "{text}"
        );
    }
}

#[test]
fn arithmetic_and_comparisons() {
    use Scalar::{Bool, DateTime, Double, Long, Null, TimeSpan};
    let cases: &[(&str, Scalar)] = &[
        ("1 + 2 * 3", Long(7)),
        ("(1 + 2) * 3", Long(9)),
        ("1 - 2 - 3", Long(-4)),
        ("2 * 3 / 4", Long(1)),
        ("7 / 2", Long(3)),
        ("-7 / 2", Long(-3)),
        ("7.0 / 2", Double(3.5)),
        ("7 / 2.0", Double(3.5)),
        ("1 + 2.5", Double(3.5)),
        ("0.5 * 4", Double(2.0)),
        ("-2 * 3", Long(-6)),
        ("2 * -3", Long(-6)),
        ("1 - -1", Long(2)),
        ("- 5", Long(-5)),
        ("--5", Long(5)),
        ("-(2 + 3)", Long(-5)),
        ("-(1.5)", Double(-1.5)),
        ("1 / 0", Null),
        ("1.0 / 0", Null),
        ("0.0 / 0.0", Null),
        ("1e308 * 10", Null),
        ("9223372036854775807 + 1", Null),
        ("-9223372036854775808 - 1", Null),
        ("4611686018427387904 * 2", Null),
        ("-9223372036854775808 / -1", Null),
        ("-(-9223372036854775808)", Null),
        ("NULL + 1", Null),
        ("2 * NULL", Null),
        ("-NULL", Null),
        ("1 < 2", Bool(true)),
        ("2 <= 2", Bool(true)),
        ("3 > 2.5", Bool(true)),
        ("2 >= 3", Bool(false)),
        ("1 = 1.0", Bool(true)),
        ("1 == 1", Bool(true)),
        ("1 <> 2", Bool(true)),
        ("1 != 1", Bool(false)),
        ("'a' = 'a'", Bool(true)),
        ("'a' != 'A'", Bool(true)),
        ("TRUE = FALSE", Bool(false)),
        ("1 + 2 = 3", Bool(true)),
        ("1 < 2 = TRUE", Bool(true)),
        // A Long and a Double compare exactly: 2^53 + 1 is not 2^53.
        ("9007199254740993 > 9007199254740992.0", Bool(true)),
        ("9007199254740993 = 9007199254740992.0", Bool(false)),
        ("9007199254740992 = 9007199254740992.0", Bool(true)),
        ("2.5 > 2", Bool(true)),
        ("-2.5 < -2", Bool(true)),
        ("9223372036854775807 < 1e19", Bool(true)),
        ("dt'2026-01-02T00:00:00Z' - dt'2026-01-01T00:00:00Z'", TimeSpan(DAY)),
        ("dt'2026-01-01T00:00:00Z' + ts'PT1H'", DateTime(T0 + HOUR)),
        ("ts'PT1H' + dt'2026-01-01T00:00:00Z'", DateTime(T0 + HOUR)),
        ("dt'2026-01-02T00:00:00Z' - ts'P1D'", DateTime(T0)),
        ("ts'PT1H' - ts'PT30M'", TimeSpan(30 * 60 * SECOND)),
        ("ts'PT1H' + ts'PT30M'", TimeSpan(90 * 60 * SECOND)),
        ("-ts'PT1H'", TimeSpan(-HOUR)),
        ("dt'2026-01-01T00:00:00Z' < dt'2026-01-01T00:00:01Z'", Bool(true)),
        ("ts'PT1H' > ts'PT30M'", Bool(true)),
        ("ts'PT60M' = ts'PT1H'", Bool(true)),
        ("dt'2262-04-11T00:00:00Z' + ts'P1Y'", Null),
    ];
    for (text, expected) in cases {
        assert_eq!(&ev(text), expected, "{text}");
    }
    let types: &[(&str, TsxType)] = &[
        ("1 + 2", TsxType::Long),
        ("1 + 2.0", TsxType::Double),
        ("7 / 2", TsxType::Long),
        ("1 < 2.0", TsxType::Bool),
        ("dt'2026-01-02T00:00:00Z' - dt'2026-01-01T00:00:00Z'", TsxType::TimeSpan),
        ("dt'2026-01-01T00:00:00Z' + ts'PT1H'", TsxType::DateTime),
        ("ts'PT1H' - ts'PT30M'", TsxType::TimeSpan),
        ("NULL + 1", TsxType::Long),
        ("NULL + NULL", TsxType::Null),
        ("$event.$ts - NULL", TsxType::Null),
        ("$event.$ts + NULL", TsxType::DateTime),
        ("-ts'PT1H'", TsxType::TimeSpan),
        ("$event.x.Long = $event.y.Double", TsxType::Bool),
        ("$event.x.Long + 1.5", TsxType::Double),
        ("$event.s.Dynamic = 'x'", TsxType::Bool),
        ("NULL = 1", TsxType::Bool),
        ("NULL < dt'2026-01-01T00:00:00Z'", TsxType::Bool),
    ];
    for (text, t) in types {
        assert_eq!(ty(text), *t, "{text}");
    }
}

#[test]
fn three_valued_logic_and_null_equality() {
    use Scalar::{Bool, Null};
    let cases: &[(&str, Scalar)] = &[
        ("FALSE AND NULL", Bool(false)),
        ("NULL AND FALSE", Bool(false)),
        ("TRUE AND NULL", Null),
        ("NULL AND TRUE", Null),
        ("NULL AND NULL", Null),
        ("TRUE AND TRUE", Bool(true)),
        ("TRUE AND FALSE", Bool(false)),
        ("TRUE OR NULL", Bool(true)),
        ("NULL OR TRUE", Bool(true)),
        ("FALSE OR NULL", Null),
        ("NULL OR FALSE", Null),
        ("FALSE OR FALSE", Bool(false)),
        ("NOT NULL", Null),
        ("NOT TRUE", Bool(false)),
        ("not false", Bool(true)),
        ("NULL = NULL", Bool(true)),
        ("1 = NULL", Bool(false)),
        ("NULL = 'a'", Bool(false)),
        ("NULL != NULL", Bool(false)),
        ("1 != NULL", Bool(true)),
        ("NULL < 1", Null),
        ("NULL >= NULL", Null),
        // Precedence: AND binds tighter than OR, NOT tighter than AND, comparisons tighter
        // than NOT.
        ("TRUE OR FALSE AND FALSE", Bool(true)),
        ("NOT FALSE AND FALSE", Bool(false)),
        ("NOT 1 = 2", Bool(true)),
        ("NOT NOT TRUE", Bool(true)),
        ("TRUE and not FALSE or FALSE", Bool(true)),
    ];
    for (text, expected) in cases {
        assert_eq!(&ev(text), expected, "{text}");
    }
    // A filter keeps only TRUE.
    assert!(!parse_ok("TRUE AND NULL").matches(&[], 0, &Scalar::Null));
    assert!(!parse_ok("1 + 1").matches(&[], 0, &Scalar::Null));
    assert!(parse_ok("TRUE OR NULL").matches(&[], 0, &Scalar::Null));
}

#[test]
fn scalar_functions() {
    use Scalar::{Bool, Double, Long, Null};
    let cases: &[(&str, Scalar)] = &[
        ("coalesce(NULL, 2)", Long(2)),
        ("coalesce(1, 2)", Long(1)),
        ("coalesce(NULL, NULL)", Null),
        ("coalesce('a', 'b', 'c')", s("a")),
        ("coalesce(NULL, NULL, 3.5)", Double(3.5)),
        ("iff(TRUE, 1, 2)", Long(1)),
        ("iff(FALSE, 1, 2)", Long(2)),
        ("iff(NULL, 1, 2)", Long(2)),
        ("iff(1 < 2, 'yes', NULL)", s("yes")),
        ("round(2.5)", Double(3.0)),
        ("round(-2.5)", Double(-3.0)),
        ("round(2.4)", Double(2.0)),
        ("round(7)", Long(7)),
        ("floor(-1.5)", Double(-2.0)),
        ("floor(1.9)", Double(1.0)),
        ("floor(3)", Long(3)),
        ("ceiling(1.2)", Double(2.0)),
        ("ceiling(-1.5)", Double(-1.0)),
        ("round(NULL)", Null),
        ("toDouble(3)", Double(3.0)),
        ("toDouble(2.5)", Double(2.5)),
        ("toDouble('2.5')", Double(2.5)),
        ("toDouble(' 2.5 ')", Double(2.5)),
        ("toDouble('1e3')", Double(1000.0)),
        ("toDouble('abc')", Null),
        ("toDouble('NaN')", Null),
        ("toDouble('inf')", Null),
        ("toDouble(TRUE)", Double(1.0)),
        ("toDouble(FALSE)", Double(0.0)),
        ("toDouble(NULL)", Null),
        ("toLong(2.9)", Long(2)),
        ("toLong(-2.9)", Long(-2)),
        ("toLong(1e19)", Null),
        ("toLong(-9223372036854775808.0)", Long(i64::MIN)),
        ("toLong('42')", Long(42)),
        ("toLong(' -42 ')", Long(-42)),
        ("toLong('4.7')", Long(4)),
        ("toLong('x')", Null),
        ("toLong(TRUE)", Long(1)),
        ("toLong(7)", Long(7)),
        ("toString(1.5)", s("1.5")),
        ("toString(21.0)", s("21.0")),
        ("toString(0.1)", s("0.1")),
        ("toString(1e-7)", s("1e-7")),
        ("toString(42)", s("42")),
        ("toString(-42)", s("-42")),
        ("toString(TRUE)", s("true")),
        ("toString(dt'2026-01-01T00:00:00.5Z')", s("2026-01-01T00:00:00.5Z")),
        ("toString(dt'2026-01-01T01:00:00+01:00')", s("2026-01-01T00:00:00Z")),
        ("toString(ts'PT1H30M')", s("PT1H30M")),
        ("toString(ts'P1DT2H')", s("P1DT2H")),
        ("toString(ts'P2D')", s("P2D")),
        ("toString(ts'PT0.5S')", s("PT0.5S")),
        ("toString(ts'PT0S')", s("PT0S")),
        ("toString(-ts'PT1S')", s("-PT1S")),
        ("toString('x')", s("x")),
        ("toString(NULL)", Null),
        ("toUpper('héllo')", s("HÉLLO")),
        ("toLower('ÀB')", s("àb")),
        ("toUpper(NULL)", Null),
        ("strLen('héllo')", Long(5)),
        ("strLen('')", Long(0)),
        ("strLen('日本')", Long(2)),
        ("strCat('a', 'b')", s("ab")),
        ("strCat('a', 'b', 'c')", s("abc")),
        ("strCat('a', NULL)", Null),
        ("subString('héllo', 1, 3)", s("éll")),
        ("subString('héllo', 2)", s("llo")),
        ("subString('abc', 0, 0)", s("")),
        ("subString('abc', 5)", s("")),
        ("subString('abc', 1, 99)", s("bc")),
        ("subString('abc', -1, 2)", Null),
        ("subString('abc', 0, -1)", Null),
        ("trim('  a b  ')", s("a b")),
        ("trim('')", s("")),
        ("indexOf('héllo', 'l')", Long(2)),
        ("indexOf('abc', 'z')", Long(-1)),
        ("indexOf('abc', '')", Long(0)),
        ("indexOf('abcabc', 'c')", Long(2)),
        ("replace('a-b-c', '-', '+')", s("a+b+c")),
        ("replace('abc', '', 'x')", s("abc")),
        ("replace('ééé', 'é', 'e')", s("eee")),
        ("replace('aaa', 'aa', 'b')", s("ba")),
        ("startsWith('Hello', 'He')", Bool(true)),
        ("startsWith('Hello', 'he')", Bool(false)),
        ("endsWith('Hello', 'lo')", Bool(true)),
        ("endsWith('Hello', 'He')", Bool(false)),
        ("contains('Hello', 'ell')", Bool(true)),
        ("contains('Hello', 'xyz')", Bool(false)),
        ("contains(NULL, 'x')", Null),
        // Function names are case-insensitive.
        ("TODOUBLE(1)", Double(1.0)),
        ("todouble(1)", Double(1.0)),
        ("StrLen('ab')", Long(2)),
        ("COALESCE(NULL, 1)", Long(1)),
        ("round(toDouble(strLen('abc')) / 2)", Double(2.0)),
        (
            "toString(dt'2026-01-01T00:00:00Z' + ts'P1D')",
            s("2026-01-02T00:00:00Z"),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(&ev(text), expected, "{text}");
    }
}

#[test]
fn scalar_function_result_types() {
    let types: &[(&str, TsxType)] = &[
        ("coalesce(NULL, 2)", TsxType::Long),
        ("coalesce(NULL, NULL)", TsxType::Null),
        ("iff(TRUE, 'a', 'b')", TsxType::String),
        ("iff(TRUE, NULL, 1.5)", TsxType::Double),
        ("round(1.5)", TsxType::Double),
        ("floor(1)", TsxType::Long),
        ("toDouble('1')", TsxType::Double),
        ("toLong(TRUE)", TsxType::Long),
        ("toString($event.$ts)", TsxType::String),
        ("toString(ts'P1D')", TsxType::String),
        ("strLen('a')", TsxType::Long),
        ("indexOf('a', 'b')", TsxType::Long),
        ("subString('a', 0, 1)", TsxType::String),
        ("replace('a', 'b', 'c')", TsxType::String),
        ("startsWith('a', 'b')", TsxType::Bool),
        ("endsWith('a', NULL)", TsxType::Bool),
        ("contains('a', 'b')", TsxType::Bool),
    ];
    for (text, t) in types {
        assert_eq!(ty(text), *t, "{text}");
    }
}

#[test]
fn coalesce_and_iff_on_properties() {
    let text = "coalesce($event.p.Double, toDouble($event.p.Long))";
    let mut e = parse_ok(text);
    assert_eq!(
        e.bind_properties(),
        vec![("p".to_owned(), ValueType::Double), ("p".to_owned(), ValueType::Long)]
    );
    assert_eq!(e.check(None, false), Ok(TsxType::Double));
    let run = |values: &[Scalar]| e.eval(values, T0, &Scalar::Null);
    assert_eq!(run(&[Scalar::Null, Scalar::Long(4)]), Scalar::Double(4.0));
    assert_eq!(run(&[Scalar::Double(1.5), Scalar::Long(4)]), Scalar::Double(1.5));
    assert_eq!(run(&[Scalar::Null, Scalar::Null]), Scalar::Null);

    let text = "iff($event.x.Long > 0, 'pos', 'neg')";
    assert_eq!(ty(text), TsxType::String);
    assert_eq!(eval_row(text, &[Scalar::Long(5)]), s("pos"));
    assert_eq!(eval_row(text, &[Scalar::Long(-1)]), s("neg"));
    assert_eq!(eval_row(text, &[Scalar::Null]), s("neg"));
}

#[test]
fn in_and_has() {
    use Scalar::{Bool, Null};
    let cases: &[(&str, Scalar)] = &[
        ("2 IN (1, 2, 3)", Bool(true)),
        ("4 IN (1, 2, 3)", Bool(false)),
        ("2 in (2)", Bool(true)),
        ("2 IN (1.0, 2.0)", Bool(true)),
        ("'b' IN ('a', 'b')", Bool(true)),
        ("'B' IN ('a', 'b')", Bool(false)),
        ("NULL IN (1, NULL)", Bool(true)),
        ("NULL IN (1)", Bool(false)),
        ("1 + 1 IN (2)", Bool(true)),
        ("NOT 3 IN (1, 2)", Bool(true)),
        ("'Hello World' HAS 'world'", Bool(true)),
        ("'Hello' HAS 'xyz'", Bool(false)),
        ("'ÉCOLE' HAS 'école'", Bool(true)),
        ("'a' has 'A'", Bool(true)),
        ("'abc' HAS ''", Bool(true)),
        ("NULL HAS 'a'", Null),
        ("'a' HAS NULL", Null),
    ];
    for (text, expected) in cases {
        assert_eq!(&ev(text), expected, "{text}");
        assert_eq!(ty(text), TsxType::Bool, "{text}");
    }
    let text = "$event.Mode.String IN ('heat', 'cool') AND $event.Name.String HAS 'room'";
    assert!(parse_ok(text).matches(&[s("cool"), s("Living Room")], 0, &Scalar::Null));
    assert!(!parse_ok(text).matches(&[s("off"), s("Living Room")], 0, &Scalar::Null));
    match parse_ok("$event.x.Long IN (1, 2)") {
        Expr::In { list, pos, .. } => assert_eq!((list.len(), pos), (2, 14)),
        other => panic!("{other:?}"),
    }
    match parse_ok("'a' HAS 'b'") {
        Expr::Has { pos, .. } => assert_eq!(pos, 4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn aggregation_expressions() {
    let text = "max($event.Speed.Double) - min($event.Speed.Double)";
    let mut e = parse_ok(text);
    assert_eq!(e.bind_properties(), vec![("Speed".to_owned(), ValueType::Double)]);
    assert_eq!(e.check(None, true), Ok(TsxType::Double));
    let err = e.check(None, false).unwrap_err();
    assert_eq!(err.position, 0);
    assert!(err.message.contains("'max'"), "{err}");
    let calls = e.aggregates();
    assert_eq!(calls.len(), 2);
    assert!(matches!(
        calls[0],
        Expr::Aggregate {
            func: AggFn::Max,
            pos: 0,
            arg: Some(_)
        }
    ));
    assert!(matches!(
        calls[1],
        Expr::Aggregate {
            func: AggFn::Min,
            pos: 27,
            arg: Some(_)
        }
    ));
    assert!(e.has_aggregates());
    // The engine computes aggregate calls; plain evaluation gives NULL.
    assert_eq!(e.eval(&[Scalar::Double(1.0)], 0, &Scalar::Null), Scalar::Null);
    let combined = e.eval_with_aggregates(&[], 0, &Scalar::Null, &|call| match call {
        Expr::Aggregate { func: AggFn::Max, .. } => Scalar::Double(10.0),
        _ => Scalar::Double(3.0),
    });
    assert_eq!(combined, Scalar::Double(7.0));

    let count = parse_ok("count()");
    assert_eq!(
        count,
        Expr::Aggregate {
            func: AggFn::Count,
            arg: None,
            pos: 0
        }
    );
    assert_eq!(count.check(None, true), Ok(TsxType::Long));
    assert_eq!(parse_ok("COUNT( )").check(None, true), Ok(TsxType::Long));
    assert_eq!(check_err("count()", None, false).position, 0);

    let avg = parse_ok("avg($value)");
    assert_eq!(avg.check(Some(TsxType::Double), true), Ok(TsxType::Double));
    assert_eq!(avg.check(Some(TsxType::Long), true), Ok(TsxType::Double));
    let err = avg.check(None, true).unwrap_err();
    assert_eq!(err.position, 4);
    assert!(err.message.contains("$value"), "{err}");

    let types: &[(&str, TsxType, TsxType)] = &[
        ("sum($value)", TsxType::Long, TsxType::Long),
        ("sum($value)", TsxType::Double, TsxType::Double),
        ("min($value)", TsxType::Long, TsxType::Long),
        ("max($value)", TsxType::Double, TsxType::Double),
        ("first($value)", TsxType::Long, TsxType::Long),
        ("last($value)", TsxType::Double, TsxType::Double),
        ("median($value)", TsxType::Long, TsxType::Double),
        ("stdev($value)", TsxType::Long, TsxType::Double),
        ("left($value)", TsxType::Long, TsxType::Double),
        ("right($value)", TsxType::Double, TsxType::Double),
        ("twavg($value)", TsxType::Double, TsxType::Double),
        ("twsum($value)", TsxType::Long, TsxType::Double),
        ("avg($value) * 2", TsxType::Double, TsxType::Double),
        ("max($value) - min($value)", TsxType::Long, TsxType::Long),
        ("Avg($value * 2)", TsxType::Long, TsxType::Double),
        ("count() + 1", TsxType::Double, TsxType::Long),
    ];
    for (text, value, result) in types {
        assert_eq!(parse_ok(text).check(Some(*value), true), Ok(*result), "{text}");
    }

    let errors: &[(&str, Option<TsxType>, usize, &str)] = &[
        ("avg(max($value))", Some(TsxType::Double), 4, "nested"),
        ("avg('a')", None, 4, "Double or Long"),
        ("avg($event.s.String)", None, 4, "Double or Long"),
        (
            "$event.x.Double + avg($value)",
            Some(TsxType::Double),
            0,
            "inside an aggregate",
        ),
        ("$value + avg($value)", Some(TsxType::Double), 0, "inside an aggregate"),
        (
            "avg($value) + $event.$ts",
            Some(TsxType::Double),
            14,
            "inside an aggregate",
        ),
    ];
    for (text, value, pos, what) in errors {
        let e = check_err(text, *value, true);
        assert_eq!(e.position, *pos, "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }

    let parse_errors: &[(&str, usize, &str)] = &[
        ("count(1)", 0, "count"),
        ("avg()", 0, "'avg' takes exactly 1 argument"),
        ("avg($value, 1)", 0, "'avg' takes exactly 1 argument"),
        ("1 + twsum()", 4, "'twsum' takes exactly 1 argument"),
    ];
    for (text, pos, what) in parse_errors {
        let e = parse_err(text);
        assert_eq!(e.position, *pos, "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }
}

#[test]
fn value_outside_aggregations() {
    let e = check_err("$value", None, false);
    assert_eq!(e.position, 0);
    assert!(e.message.contains("$value is not allowed here"), "{e}");
    assert_eq!(check_err("1 + $value", None, false).position, 4);
    assert_eq!(
        parse_ok("$value * 2").check(Some(TsxType::Double), false),
        Ok(TsxType::Double)
    );
    assert_eq!(
        parse_ok("$value * 2").eval(&[], 0, &Scalar::Double(1.5)),
        Scalar::Double(3.0)
    );
    assert_eq!(parse_ok("$value * 2").eval(&[], 0, &Scalar::Null), Scalar::Null);
}

#[test]
fn type_errors_name_the_operator_position() {
    let cases: &[(&str, usize, &str)] = &[
        ("'a' = 1.5", 4, "cannot compare String with Double"),
        ("1.5 != 'a'", 4, "cannot compare Double with String"),
        ("TRUE = 1", 5, "cannot compare Bool with Long"),
        (
            "1.5 AND TRUE",
            4,
            "AND needs Bool operands but the left operand is Double",
        ),
        (
            "TRUE OR 'x'",
            5,
            "OR needs Bool operands but the right operand is String",
        ),
        ("'a' + 'b'", 4, "strCat"),
        ("'a' * 2", 4, "cannot be applied to String and Long"),
        ("TRUE < FALSE", 5, "cannot order Bool and Bool"),
        ("'a' < 'b'", 4, "cannot order String and String"),
        ("1 <= 'b'", 2, "cannot compare Long with String using '<='"),
        ("ts'PT1H' > 1", 9, "cannot compare TimeSpan with Long"),
        ("NOT 1", 0, "NOT needs a Bool operand but found Long"),
        ("-'a'", 0, "prefix '-'"),
        (
            "$event.Temperature.Double > 'hot'",
            26,
            "cannot compare Double with String",
        ),
        (
            "dt'2026-01-01T00:00:00Z' + dt'2026-01-01T00:00:00Z'",
            25,
            "cannot be applied to DateTime and DateTime",
        ),
        ("ts'PT1H' - dt'2026-01-01T00:00:00Z'", 9, "TimeSpan and DateTime"),
        ("$event.$ts * 2", 11, "DateTime and Long"),
        ("$event.a.Double = 1 AND $event.b.String", 20, "right operand is String"),
        ("(1 + 2) AND TRUE", 8, "left operand is Long"),
        ("'é' = 'é' AND 'ü' + 1", 18, "String and Long"),
    ];
    for (text, pos, what) in cases {
        let e = check_err(text, None, false);
        assert_eq!(e.position, *pos, "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }
}

#[test]
fn function_errors_name_the_function_and_position() {
    let check_cases: &[(&str, usize, &str)] = &[
        (
            "coalesce(1, 2.0)",
            12,
            "function 'coalesce': argument 2 is Double but an earlier one is Long",
        ),
        ("coalesce(NULL, 'a', 1)", 20, "coalesce"),
        ("iff(1, 2, 3)", 4, "function 'iff': argument 1 must be Bool but is Long"),
        ("iff(TRUE, 1, 'a')", 13, "iff"),
        ("iff(TRUE, 1, 2.5)", 13, "iff"),
        (
            "strLen(5)",
            7,
            "function 'strLen': argument 1 must be String but is Long",
        ),
        ("toUpper(TRUE)", 8, "toUpper"),
        (
            "round('a')",
            6,
            "function 'round': argument 1 must be Double or Long but is String",
        ),
        ("floor(TRUE)", 6, "floor"),
        (
            "subString('abc', TRUE)",
            17,
            "function 'subString': argument 2 must be Double or Long",
        ),
        ("subString('abc', 0, '2')", 20, "argument 3 must be Double or Long"),
        ("toDouble(dt'2026-01-01T00:00:00Z')", 9, "toDouble"),
        ("toLong(ts'PT1S')", 7, "toLong"),
        ("strCat('a', 1)", 12, "strCat"),
        ("indexOf(1, 'a')", 8, "indexOf"),
        ("replace('a', 'b', 3)", 18, "replace"),
        ("startsWith('a', 1 + 2)", 16, "startsWith"),
        ("contains(TRUE, 'a')", 9, "contains"),
        ("1 IN ('a')", 6, "IN at position 2 cannot compare Long with String"),
        ("1 IN (1, 2, TRUE)", 12, "cannot compare Long with Bool"),
        ("1 HAS 'a'", 2, "HAS needs String operands but the left operand is Long"),
        ("'a' HAS 1", 4, "right operand is Long"),
    ];
    for (text, pos, what) in check_cases {
        let e = check_err(text, None, false);
        assert_eq!(e.position, *pos, "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }
    let many = format!("coalesce({})", vec!["1"; 65].join(", "));
    let parse_cases: &[(&str, usize, &str)] = &[
        ("foo(1)", 0, "unknown function 'foo'"),
        ("1 + bar()", 4, "unknown function 'bar'"),
        ("1 + foo", 4, "unexpected name 'foo'"),
        ("round 1", 6, "expected '(' after the function name 'round'"),
        (
            "round(1, 2)",
            0,
            "function 'round' takes exactly 1 argument but was given 2",
        ),
        (
            "round()",
            0,
            "function 'round' takes exactly 1 argument but was given 0",
        ),
        (
            "coalesce(1)",
            0,
            "function 'coalesce' takes 2 to 64 arguments but was given 1",
        ),
        (&many, 0, "function 'coalesce' takes 2 to 64 arguments but was given 65"),
        ("iff(TRUE, 1)", 0, "function 'iff' takes exactly 3 arguments"),
        ("strCat('a')", 0, "function 'strCat' takes at least 2 arguments"),
        ("subString('a')", 0, "function 'subString' takes 2 to 3 arguments"),
        (
            "iff(TRUE, 1 2)",
            12,
            "expected ',' or ')' after a function argument but found '2'",
        ),
        (
            "round(1",
            7,
            "expected ',' or ')' after a function argument but found end of input",
        ),
        ("round(1,)", 8, "expected an expression but found ')'"),
    ];
    for (text, pos, what) in parse_cases {
        let e = parse_err(text);
        assert_eq!(e.position, *pos, "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }
    // 64 arguments are fine.
    let most = format!("coalesce({})", vec!["NULL"; 64].join(", "));
    assert_eq!(ev(&most), Scalar::Null);
}

#[test]
fn syntax_errors_say_what_was_expected_where() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "expected an expression but found end of input"),
        ("   ", 3, "expected an expression but found end of input"),
        ("(1 + 2", 6, "expected ')' but found end of input"),
        ("(1 2)", 3, "expected ')' but found '2'"),
        (
            "($event.a.Double > 1 AND",
            24,
            "expected an expression but found end of input",
        ),
        (
            "($event.x.Double > 1) AND $event.y.Double < 2) OR TRUE",
            45,
            "found ')'",
        ),
        ("1 +", 3, "expected an expression but found end of input"),
        ("1 2", 2, "expected an operator or end of input but found '2'"),
        (
            "$event.a.Double > 1 extra",
            20,
            "expected an operator or end of input but found 'extra'",
        ),
        ("TRUE TRUE", 5, "found 'TRUE'"),
        ("1 # 2", 2, "unexpected character '#'"),
        ("1 ! 2", 2, "unexpected character '!'"),
        ("a.b", 0, "unexpected name 'a'"),
        ("1 IN 2", 5, "expected '(' after IN but found '2'"),
        (
            "1 IN (1, 2",
            10,
            "expected ',' or ')' in the IN list but found end of input",
        ),
        ("1 IN ()", 6, "expected an expression but found ')'"),
        ("AND", 0, "expected an expression but found 'AND'"),
        ("1 AND", 5, "expected an expression but found end of input"),
        ("1 = = 2", 4, "expected an expression but found '='"),
        ("1 + NOT TRUE", 4, "expected an expression but found 'NOT'"),
        ("()", 1, "expected an expression but found ')'"),
        // Positions count characters, not bytes.
        ("'héllo' = 'wörld' +", 19, "end of input"),
        ("'日本' 1", 5, "found '1'"),
    ];
    for (text, pos, what) in cases {
        let e = parse_err(text);
        assert_eq!(e.position, *pos, "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }
    let text = "$event.a.Double > 1 AND ($event.b.String = 'x' OR) AND TRUE";
    let e = parse_err(text);
    assert_eq!(e.position, char_pos(text, "OR)") + 2, "{e}");
    assert_eq!(
        e.to_string(),
        format!("at position {}: expected an expression but found ')'", e.position)
    );
}

#[test]
fn limits_are_errors() {
    // 64 levels of parentheses are fine, 65 are not.
    let ok = format!("{}1{}", "(".repeat(64), ")".repeat(64));
    assert_eq!(ev(&ok), Scalar::Long(1));
    let deep = format!("{}1{}", "(".repeat(65), ")".repeat(65));
    let e = parse_err(&deep);
    assert_eq!(e.position, 64);
    assert!(e.message.contains("nested too deeply"), "{e}");
    // Prefix operators and calls count too.
    let e = parse_err(&format!("{}TRUE", "NOT ".repeat(70)));
    assert_eq!(e.position, 64 * 4);
    let e = parse_err(&format!("{}x", "-".repeat(70)));
    assert_eq!(e.position, 64);
    let e = parse_err(&format!("{}1{}", "round(".repeat(65), ")".repeat(65)));
    assert!(e.message.contains("nested too deeply"), "{e}");
    // Long operator chains: 255 additions make a tree 256 deep, 256 additions one too deep.
    let chain = |n: usize| format!("1{}", " + 1".repeat(n));
    assert_eq!(ev(&chain(255)), Scalar::Long(256));
    let e = parse_err(&chain(256));
    assert!(e.message.contains("too deep"), "{e}");
    assert_eq!(e.position, 2 + 4 * 255);
    // A long flat IN list is not deep.
    let list = format!(
        "5 IN ({})",
        (0..2000).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
    );
    assert_eq!(ev(&list), Scalar::Bool(true));
    // Text over 64 KiB.
    let long = format!("1{}", " ".repeat(MAX_INPUT_BYTES));
    let e = parse_err(&long);
    assert_eq!(e.position, 0);
    assert!(e.message.contains("too long"), "{e}");
    // String results over 1 MiB are NULL, and are not built first.
    let a = "a".repeat(30_000);
    assert_eq!(ev(&format!("replace('{a}', 'a', '{a}')")), Scalar::Null);
    assert_eq!(ev(&format!("strLen(replace('{a}', 'a', 'bb'))")), Scalar::Long(60_000));
}

#[test]
fn bind_properties_gives_one_slot_per_distinct_property() {
    let text = "$event.a.Double + $event.a.Double + toDouble($event.b.Long) + toDouble($event.a.Long) \
                + $event.a.b.Double + $event['a.b'].Double + $event['a.b']";
    let mut e = parse_ok(text);
    let list = e.bind_properties();
    let expected: Vec<(String, ValueType)> = vec![
        ("a".into(), ValueType::Double),
        ("b".into(), ValueType::Long),
        ("a".into(), ValueType::Long),
        ("a.b".into(), ValueType::Double),
    ];
    assert_eq!(list, expected);
    // Binding again gives the same list and slots.
    assert_eq!(e.bind_properties(), expected);
    let mut slots = Vec::new();
    e.walk(&mut |n| {
        if let Expr::Property { slot, .. } = n {
            slots.push(*slot);
        }
    });
    assert_eq!(slots, [0, 0, 1, 2, 3, 3, 3]);
    // 1 + 1 + 2 + 3 + 4 + 4 + 4.
    let values = [
        Scalar::Double(1.0),
        Scalar::Long(2),
        Scalar::Long(3),
        Scalar::Double(4.0),
    ];
    assert_eq!(e.eval(&values, 0, &Scalar::Null), Scalar::Double(19.0));
    assert!(parse_ok("1 + 2").bind_properties().is_empty());
    assert!(
        parse_ok("$event.$ts > dt'2026-01-01T00:00:00Z'")
            .bind_properties()
            .is_empty()
    );
}

#[test]
fn nodes_carry_their_positions() {
    let e = parse_ok("$event.a.Double > 1 AND NOT round(-2.5) = 3");
    let mut seen = Vec::new();
    e.walk(&mut |n| seen.push(n.pos()));
    // AND, >, $event, 1, NOT, =, round, -2.5, 3.
    assert_eq!(seen, [20, 16, 0, 18, 24, 40, 28, 34, 42]);
    assert_eq!(e.start(), 0);
}

#[test]
fn printing_gives_canonical_text_that_parses_back() {
    let cases: &[(&str, &str)] = &[
        ("1 + 2 * 3", "1 + 2 * 3"),
        ("(1 + 2) * 3", "(1 + 2) * 3"),
        ("1 - (2 - 3)", "1 - (2 - 3)"),
        ("((1 - 2)) - 3", "1 - 2 - 3"),
        ("not (true and false)", "NOT (TRUE AND FALSE)"),
        ("NOT a_b = 1 OR FALSE", ""),
        ("$event.Temperature > 2.50", "$event.Temperature.Double > 2.5"),
        ("$event['a-b'].long = -3", "$event['a-b'].Long = -3"),
        ("$event['a.b']", "$event.a.b.Double"),
        (r"$event['it\'s'].String", r"$event['it\'s'].String"),
        (
            "$event.$ts >= dt'2026-01-01T01:00:00+01:00'",
            "$event.$ts >= dt'2026-01-01T00:00:00Z'",
        ),
        ("ts'PT90M'", "ts'PT1H30M'"),
        (
            "todouble(1) + COUNT() + avg($value)",
            "toDouble(1) + count() + avg($value)",
        ),
        ("x in (1,2) and 'a' has 'b'", ""),
        (
            "$event.x.Long IN (1,2) and 'a' has 'b'",
            "$event.x.Long IN (1, 2) AND 'a' HAS 'b'",
        ),
        ("-(1 + 2)", "-(1 + 2)"),
        ("1 - -2", "1 - -2"),
        ("- -2", "- -2"),
        ("--0", "--0"),
        ("-(0)", "--0"),
        ("-(1.5)", "-(1.5)"),
        ("-(-1.5)", "- -1.5"),
        ("---0.0", "-- -0.0"),
        ("- - x_y", ""),
        ("-(-(1 + 2))", "--(1 + 2)"),
        ("1e21", "1e21"),
        ("1 = (2 = 3)", "1 = (2 = 3)"),
        ("(1 = 2) = 3", "1 = 2 = 3"),
    ];
    for (text, printed) in cases {
        if printed.is_empty() {
            assert!(parse(text).is_err(), "{text}");
            continue;
        }
        let e = parse_ok(text);
        assert_eq!(e.to_string(), *printed, "{text}");
        let again = parse_ok(printed);
        assert!(
            again.same_tree(&e),
            "{text}: {printed} parses to\n{again:?}, not\n{e:?}"
        );
    }
}

#[test]
fn same_tree_compares_structure_not_positions() {
    // Positions, spacing, parentheses and keyword case do not count.
    assert!(parse_ok("1+2").same_tree(&parse_ok(" ( 1 + 2 ) ")));
    assert!(parse_ok("NOT TRUE").same_tree(&parse_ok("not   true")));
    // Everything else does: operator, operand order, literal value and type, sign of zero,
    // property name and type, function, grouping.
    let differ = [
        ("1 + 2", "1 - 2"),
        ("1 + 2", "2 + 1"),
        ("1 + 2", "1 + 3"),
        ("1 + 2", "1 + 2.0"),
        ("0.0", "-0.0"),
        ("$event.a.Double", "$event.b.Double"),
        ("$event.a.Double", "$event.a.Long"),
        ("floor(1.5)", "round(1.5)"),
        ("(1 - 2) - 3", "1 - (2 - 3)"),
        ("min($value)", "max($value)"),
        ("1 IN (1, 2)", "1 IN (1)"),
        ("'ab' HAS 'a'", "'ab' HAS 'b'"),
    ];
    for (a, b) in differ {
        assert!(!parse_ok(a).same_tree(&parse_ok(b)), "{a} vs {b}");
        assert!(parse_ok(a).same_tree(&parse_ok(a)), "{a}");
    }
}

#[test]
fn scalars_from_stored_values() {
    let t = Timestamp::from_nanos(T0);
    let cases = [
        (Value::Double(1.5), Scalar::Double(1.5), TsxType::Double),
        (Value::Long(-2), Scalar::Long(-2), TsxType::Long),
        (Value::Bool(true), Scalar::Bool(true), TsxType::Bool),
        (Value::String("x".into()), s("x"), TsxType::String),
        (Value::DateTime(t), Scalar::DateTime(T0), TsxType::DateTime),
        (Value::Dynamic("[1,2]".into()), s("[1,2]"), TsxType::String),
        (Value::Removed, Scalar::Null, TsxType::Null),
    ];
    for (value, scalar, t) in cases {
        let got = Scalar::from_value(&value);
        assert_eq!(got, scalar, "{value:?}");
        assert_eq!(got.tsx_type(), t, "{value:?}");
    }
    assert_eq!(Scalar::TimeSpan(1).tsx_type(), TsxType::TimeSpan);
    assert_eq!(Scalar::Long(3).as_f64(), Some(3.0));
    assert_eq!(Scalar::Double(0.5).as_f64(), Some(0.5));
    assert_eq!(s("3").as_f64(), None);
    assert_eq!(Scalar::Null.as_f64(), None);
}

#[test]
fn unchecked_expressions_evaluate_to_null_not_panics() {
    // Ill-typed expressions still evaluate (to NULL) if a caller skips the check.
    for text in [
        "'a' + 1",
        "TRUE < 1",
        "NOT 'x'",
        "strLen(1)",
        "round('a')",
        "subString('abc', 'x')",
        "1 HAS 'a'",
        "'a' AND TRUE",
        "-TRUE",
        "$event.$ts * 2",
    ] {
        assert!(parse_ok(text).check(None, false).is_err(), "{text}");
        let v = ev(text);
        assert!(matches!(v, Scalar::Null | Scalar::Bool(false)), "{text}: {v:?}");
    }
    // A property value of an unexpected type, or a short row.
    assert_eq!(eval_row("$event.x.Double + 1", &[s("1")]), Scalar::Null);
    assert_eq!(
        eval_row("$event.x.Double + $event.y.Double", &[Scalar::Double(1.0)]),
        Scalar::Null
    );
}

#[test]
fn fuzz_entry_accepts_everything_tested_here() {
    for text in [
        "",
        "$event.a.Double > 1 AND NOT ($event.b.String HAS 'x')",
        "max($event.Speed.Double) - min($event.Speed.Double)",
        "avg($value) * 2",
        "coalesce($event.p.Double, toDouble($event.p.Long))",
        "$event['a.b'].DateTime - $event.$ts > ts'PT1H'",
        "strCat(toString($event.x.Long), '-', toUpper($event.s.String))",
        "((((",
        "'\u{0}' = '\u{10FFFF}'",
        "-9223372036854775808 / -1",
    ] {
        fuzz_parse_and_check(text);
    }
    // Found by the fuzzer: printing must not add nesting the source did not have.
    fuzz_parse_and_check("--0");
    fuzz_parse_and_check(&format!("1{}5", "-".repeat(66)));
    assert!(parse(&format!("1{}5", "-".repeat(66))).is_ok());
}
