//! The functions and the bracket syntax of TSI's Time Series Expression syntax reference
//! (learn.microsoft.com/rest/api/time-series-insights/reference-time-series-expression-syntax,
//! "Supported scalar functions" and "Value expressions"), and the unquoted brackets of TSI's
//! 2020-07-31 Query API examples. Expected values are worked out by hand (angles, logarithms of
//! powers, calendar fields of chosen instants), not taken from the code.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use super::*;
use crate::model::{Timestamp, ValueType};

/// 2026-01-01T00:00:00Z in nanoseconds.
const T0: i64 = 1_767_225_600_000_000_000;

fn parse_ok(text: &str) -> Expr {
    parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn ev(text: &str) -> Scalar {
    parse_ok(text).eval(&[], T0, &Scalar::Null)
}

fn ty(text: &str) -> TsxType {
    parse_ok(text)
        .check(None, false)
        .unwrap_or_else(|e| panic!("{text:?} should type-check: {e}"))
}

fn assert_close(text: &str, expected: f64) {
    match ev(text) {
        Scalar::Double(v) => assert!((v - expected).abs() <= 1e-15, "{text}: {v} is not {expected}"),
        other => panic!("{text}: {other:?} is not the Double {expected}"),
    }
}

#[test]
fn trigonometric_functions_take_radians_and_give_doubles() {
    // Reference, "Trigonometric functions": `Double cos(value:Double)` ... `Double
    // atan2(value1:Double, value2:Double)`, angles in radians.
    let cases: &[(&str, f64)] = &[
        ("cos(0.0)", 1.0),
        ("cos(3.141592653589793)", -1.0),
        ("sin(0.0)", 0.0),
        ("sin(1.5707963267948966)", 1.0),
        ("tan(0.0)", 0.0),
        ("tan(0.7853981633974483)", 1.0),
        ("acos(1.0)", 0.0),
        ("acos(-1.0)", PI),
        ("acos(0.0)", FRAC_PI_2),
        ("asin(1.0)", FRAC_PI_2),
        ("asin(-1.0)", -FRAC_PI_2),
        ("atan(1.0)", FRAC_PI_4),
        ("atan(-1.0)", -FRAC_PI_4),
        // The tangent of the angle is value1 / value2: value1 is y, value2 is x.
        ("atan2(1.0, 0.0)", FRAC_PI_2),
        ("atan2(0.0, 1.0)", 0.0),
        ("atan2(1.0, -1.0)", 3.0 * FRAC_PI_4),
        ("atan2(-1.0, -1.0)", -3.0 * FRAC_PI_4),
        // A Long is widened, as in arithmetic.
        ("cos(0)", 1.0),
        ("atan2(1, 1)", FRAC_PI_4),
    ];
    for (text, expected) in cases {
        assert_close(text, *expected);
        assert_eq!(ty(text), TsxType::Double, "{text}");
    }
    // Outside the domain the result is not a number: NULL (the reference is silent; JSON has
    // no NaN).
    for text in [
        "acos(1.5)",
        "asin(-2.0)",
        "acos(NULL)",
        "atan2(NULL, 1.0)",
        "sin(1e308 * 10.0)",
    ] {
        assert_eq!(ev(text), Scalar::Null, "{text}");
    }
}

#[test]
fn logarithms_of_positive_numbers_and_null_otherwise() {
    // Reference, "Logarithmic functions": `Double log(value:Double)` natural, `log2`, `log10`.
    let cases: &[(&str, f64)] = &[
        ("log(1.0)", 0.0),
        ("log(2.718281828459045)", 1.0),
        ("log(1)", 0.0),
        ("log2(8.0)", 3.0),
        ("log2(0.5)", -1.0),
        ("log2(1024)", 10.0),
        ("log10(1000.0)", 3.0),
        ("log10(0.01)", -2.0),
    ];
    for (text, expected) in cases {
        assert_close(text, *expected);
        assert_eq!(ty(text), TsxType::Double, "{text}");
    }
    // The reference does not say what the logarithm of zero or a negative number is: NULL
    // here (minus infinity and NaN have no JSON form).
    for text in ["log(0.0)", "log(-1.0)", "log2(0)", "log10(-5.0)", "log(NULL)"] {
        assert_eq!(ev(text), Scalar::Null, "{text}");
    }
}

#[test]
fn calendar_fields_of_a_datetime_in_utc() {
    // Reference, "DateTime Functions": `Long monthOfYear(value:DateTime)`, `Long
    // dayOfMonth(value:DateTime)`, `Long hourOfDay(value:DateTime)`.
    let cases: &[(&str, [i64; 3])] = &[
        ("dt'2016-08-01T23:59:59Z'", [8, 1, 23]),
        ("dt'2024-02-29T12:30:00Z'", [2, 29, 12]),
        ("dt'2019-10-10T23:42:00.000Z'", [10, 10, 23]),
        // An offset is converted: 00:30 at +01:00 is 23:30 UTC, the day (and year) before.
        ("dt'2026-01-01T00:30:00+01:00'", [12, 31, 23]),
        ("dt'1969-12-31T23:00:00Z'", [12, 31, 23]),
        // The row time of `ev`, T0 = 2026-01-01T00:00:00Z.
        ("$event.$ts", [1, 1, 0]),
    ];
    for (arg, [month, day, hour]) in cases {
        for (func, expected) in [("monthOfYear", month), ("dayOfMonth", day), ("hourOfDay", hour)] {
            let text = format!("{func}({arg})");
            assert_eq!(ev(&text), Scalar::Long(*expected), "{text}");
            assert_eq!(ty(&text), TsxType::Long, "{text}");
        }
    }
    assert_eq!(ev("hourOfDay(NULL)"), Scalar::Null);
    assert_eq!(
        ev("monthOfYear($event.$ts) = 1 AND dayOfMonth($event.$ts) = 1"),
        Scalar::Bool(true)
    );
    let e = parse_ok("monthOfYear(1.0)").check(None, false).unwrap_err();
    assert_eq!(e.position, 12, "{e}");
    assert!(
        e.message
            .contains("function 'monthOfYear': argument 1 must be DateTime but is Double"),
        "{e}"
    );
}

#[test]
fn utc_now_is_the_current_time() {
    // Reference: `DateTime utcNow()`, "Returns current time in UTC format".
    assert_eq!(ty("utcNow()"), TsxType::DateTime);
    let before = Timestamp::now().as_nanos();
    let now = ev("UTCNOW()");
    let after = Timestamp::now().as_nanos();
    match now {
        Scalar::DateTime(n) => assert!(before <= n && n <= after, "{before} <= {n} <= {after}"),
        other => panic!("utcNow() gave {other:?}"),
    }
    // Usable in a filter: every event is before now plus a day.
    assert!(parse_ok("$event.$ts < utcNow() + ts'P1D'").matches(&[], before, &Scalar::Null));
    let e = parse("utcNow(1)").unwrap_err();
    assert!(
        e.message
            .contains("function 'utcNow' takes exactly 0 arguments but was given 1"),
        "{e}"
    );
}

#[test]
fn substring_takes_double_positions() {
    // Reference, "String functions": `String subString(value:String, startIndex:Double,
    // length:Double)`, example `subString($event.value.String, 2.0, 4.0)`.
    let s = |t: &str| Scalar::String(t.into());
    let row = [s("Millenium")];
    let e = parse_ok("subString($event.value.String, 2.0, 4.0)");
    assert_eq!(e.check(None, false), Ok(TsxType::String));
    assert_eq!(e.eval(&row, T0, &Scalar::Null), s("llen"));
    let cases: &[(&str, Scalar)] = &[
        ("subString('abcdefgh', 2.0, 4.0)", s("cdef")),
        ("subString('abcdefgh', 2, 4)", s("cdef")),
        ("subString('abcdefgh', 2.0, 4)", s("cdef")),
        ("subString('abcdefgh', 6.0)", s("gh")),
        // A fraction is truncated towards zero, like toLong.
        ("subString('abcdefgh', 1.9, 2.99)", s("bc")),
        ("subString('abc', -1.0, 2.0)", Scalar::Null),
        ("subString('abc', 0.0, -1.0)", Scalar::Null),
        ("subString('abc', 1e300)", Scalar::Null),
        ("subString('abc', 1.0, NULL)", Scalar::Null),
    ];
    for (text, expected) in cases {
        assert_eq!(&ev(text), expected, "{text}");
    }
}

#[test]
fn brackets_without_quotes_name_a_property() {
    // TSI's 2020-07-31 examples (QueryAggregateSeriesWithCategoricalVariable.json) write
    // `$event.[Status].String` and `tolong($event.[Status].Double)`.
    use ValueType::*;
    let cases: &[(&str, &str, ValueType)] = &[
        ("$event.[Status].String", "Status", String),
        ("$event.[Status].Double", "Status", Double),
        ("$event[Status]", "Status", Double),
        ("$event.[Status]", "Status", Double),
        ("$event.[Temperature-Celsius].Long", "Temperature-Celsius", Long),
        ("$event.[Front Temperature].Double", "Front Temperature", Double),
        ("$event.[a.b].Long", "a.b", Long),
        ("$event.Temperature.[Celsius-C].Double", "Temperature.Celsius-C", Double),
        ("$event[Temperature][Celsius].Double", "Temperature.Celsius", Double),
        // In brackets a type name is a name, as with quotes.
        ("$event.[Double]", "Double", Double),
        ("$event.a.[Long]", "a.Long", Double),
        ("$event.[°C/µs]", "°C/µs", Double),
    ];
    for (text, name, t) in cases {
        match parse_ok(text) {
            Expr::Property {
                name: n, ty, pos: 0, ..
            } => assert_eq!((n.as_str(), ty), (*name, *t), "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert_eq!(ty("toLong($event.[Status].Double)"), TsxType::Long);
    let errors: &[(&str, usize, &str)] = &[
        ("$event.[]", 7, "empty property name"),
        ("$event.[ a]", 8, "may not start or end with whitespace"),
        ("$event.[a ]", 8, "may not start or end with whitespace"),
        ("$event.[a", 7, "unterminated property name"),
        ("$event.[a[b]", 9, "unexpected character '['"),
        (r"$event.[a\b]", 9, "unexpected character '\\\\'"),
        ("$event.[a\tb]", 9, "unexpected character '\\t'"),
    ];
    for (text, pos, what) in errors {
        let e = parse(text).unwrap_err();
        assert_eq!(e.position, *pos, "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }
}

#[test]
fn new_forms_print_and_parse_back_to_the_same_tree() {
    let cases: &[(&str, &str)] = &[
        ("$event.[Status].String", "$event.Status.String"),
        ("tolong($event.[Status].Double)", "toLong($event.Status.Double)"),
        ("$event.[a-b].Long", "$event['a-b'].Long"),
        ("$event.[Double]", "$event.Double.Double"),
        ("COS(1.0) + Sin(2) * tan(-0.5)", "cos(1.0) + sin(2) * tan(-0.5)"),
        ("acos(x_) ", ""),
        (
            "ACOS(0.5) - asin(0.5) + atan(1) + ATAN2(1, 2.0)",
            "acos(0.5) - asin(0.5) + atan(1) + atan2(1, 2.0)",
        ),
        ("log(2.0) + LOG2(4) + log10(100.0)", "log(2.0) + log2(4) + log10(100.0)"),
        (
            "monthofyear($event.$ts) + DAYOFMONTH($event.$ts) + hourofday(utcnow())",
            "monthOfYear($event.$ts) + dayOfMonth($event.$ts) + hourOfDay(utcNow())",
        ),
        ("substring('abc', 2.0, 4.0)", "subString('abc', 2.0, 4.0)"),
    ];
    for (text, printed) in cases {
        if printed.is_empty() {
            assert!(parse(text).is_err(), "{text}");
            continue;
        }
        let e = parse_ok(text);
        assert_eq!(e.to_string(), *printed, "{text}");
        assert!(parse_ok(printed).same_tree(&e), "{text}: {printed}");
        fuzz_parse_and_check(text);
    }
}
