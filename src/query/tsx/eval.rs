//! Evaluation on one row. Total: every input gives a value (NULL for failures), never a panic,
//! also for expressions that were never type-checked.

use std::cmp::Ordering;
use std::sync::Arc;

use super::{BinaryOp, Expr, Func, MAX_STRING_BYTES, Scalar, UnaryOp, format_timespan};
use crate::model::Timestamp;

/// One row: what the leaves of an expression read.
struct Row<'a> {
    values: &'a [Scalar],
    ts: i64,
    value: &'a Scalar,
    aggregate: &'a dyn Fn(&Expr) -> Scalar,
}

impl Expr {
    /// Evaluates on one row: `values[slot]` are the row's property values (NULL when absent),
    /// `ts` the row time in nanoseconds, `value` the current `$value`. Aggregate calls give
    /// NULL (the engine computes them; see [`Expr::eval_with_aggregates`]).
    pub fn eval(&self, values: &[Scalar], ts: i64, value: &Scalar) -> Scalar {
        self.eval_with_aggregates(values, ts, value, &|_| Scalar::Null)
    }

    /// [`Expr::eval`], with each aggregate call's value taken from `aggregate`, which gets the
    /// `Expr::Aggregate` node (one of [`Expr::aggregates`]).
    pub fn eval_with_aggregates(
        &self,
        values: &[Scalar],
        ts: i64,
        value: &Scalar,
        aggregate: &dyn Fn(&Expr) -> Scalar,
    ) -> Scalar {
        let row = Row {
            values,
            ts,
            value,
            aggregate,
        };
        eval(self, &row)
    }

    /// Evaluates as a predicate: true only when the result is TRUE (not FALSE, not NULL).
    pub fn matches(&self, values: &[Scalar], ts: i64, value: &Scalar) -> bool {
        self.eval(values, ts, value) == Scalar::Bool(true)
    }
}

fn eval(e: &Expr, row: &Row<'_>) -> Scalar {
    match e {
        Expr::Literal { value, .. } => value.clone(),
        Expr::Property { slot, .. } => row.values.get(*slot).cloned().unwrap_or(Scalar::Null),
        Expr::Timestamp { .. } => Scalar::DateTime(row.ts),
        Expr::Value { .. } => row.value.clone(),
        Expr::Unary { op, arg, .. } => match (op, eval(arg, row)) {
            (UnaryOp::Not, Scalar::Bool(b)) => Scalar::Bool(!b),
            (UnaryOp::Neg, Scalar::Long(v)) => v.checked_neg().map_or(Scalar::Null, Scalar::Long),
            (UnaryOp::Neg, Scalar::Double(v)) => Scalar::Double(-v),
            (UnaryOp::Neg, Scalar::TimeSpan(v)) => v.checked_neg().map_or(Scalar::Null, Scalar::TimeSpan),
            _ => Scalar::Null,
        },
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
            ..
        } => {
            let l = eval(left, row);
            if l == Scalar::Bool(false) {
                return l;
            }
            match (l, eval(right, row)) {
                (_, Scalar::Bool(false)) => Scalar::Bool(false),
                (Scalar::Bool(true), Scalar::Bool(true)) => Scalar::Bool(true),
                _ => Scalar::Null,
            }
        }
        Expr::Binary {
            op: BinaryOp::Or,
            left,
            right,
            ..
        } => {
            let l = eval(left, row);
            if l == Scalar::Bool(true) {
                return l;
            }
            match (l, eval(right, row)) {
                (_, Scalar::Bool(true)) => Scalar::Bool(true),
                (Scalar::Bool(false), Scalar::Bool(false)) => Scalar::Bool(false),
                _ => Scalar::Null,
            }
        }
        Expr::Binary { op, left, right, .. } => {
            let l = eval(left, row);
            let r = eval(right, row);
            match op {
                BinaryOp::Eq => equals(&l, &r).map_or(Scalar::Null, Scalar::Bool),
                BinaryOp::Ne => equals(&l, &r).map_or(Scalar::Null, |eq| Scalar::Bool(!eq)),
                BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => match compare(&l, &r) {
                    Some(o) => Scalar::Bool(match op {
                        BinaryOp::Lt => o == Ordering::Less,
                        BinaryOp::Le => o != Ordering::Greater,
                        BinaryOp::Gt => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    }),
                    None => Scalar::Null,
                },
                _ => arithmetic(*op, &l, &r),
            }
        }
        Expr::Call { func, args, .. } => call(*func, args, row),
        Expr::Aggregate { .. } => (row.aggregate)(e),
        Expr::In { arg, list, .. } => {
            let x = eval(arg, row);
            let found = list.iter().any(|item| equals(&x, &eval(item, row)) == Some(true));
            Scalar::Bool(found)
        }
        Expr::Has { arg, needle, .. } => match (eval(arg, row), eval(needle, row)) {
            (Scalar::String(s), Scalar::String(n)) => Scalar::Bool(s.to_lowercase().contains(&n.to_lowercase())),
            _ => Scalar::Null,
        },
    }
}

/// `l = r`: NULL equals only NULL; values of types that cannot be compared give `None`.
fn equals(l: &Scalar, r: &Scalar) -> Option<bool> {
    match (l, r) {
        (Scalar::Null, r) => Some(*r == Scalar::Null),
        (_, Scalar::Null) => Some(false),
        _ => compare(l, r).map(|o| o == Ordering::Equal),
    }
}

/// The order of two non-NULL values of comparable types (numbers compare exactly, also a
/// Long with a Double).
fn compare(l: &Scalar, r: &Scalar) -> Option<Ordering> {
    match (l, r) {
        (Scalar::Long(a), Scalar::Long(b)) => Some(a.cmp(b)),
        (Scalar::Double(a), Scalar::Double(b)) => a.partial_cmp(b),
        (Scalar::Long(a), Scalar::Double(b)) => compare_long_double(*a, *b),
        (Scalar::Double(a), Scalar::Long(b)) => compare_long_double(*b, *a).map(Ordering::reverse),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        (Scalar::String(a), Scalar::String(b)) => Some(a.cmp(b)),
        (Scalar::DateTime(a), Scalar::DateTime(b)) | (Scalar::TimeSpan(a), Scalar::TimeSpan(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// 2^63, exactly representable as a double.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Exact comparison of a Long with a Double (no rounding of the Long to a Double).
fn compare_long_double(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= TWO_POW_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_POW_63 {
        return Some(Ordering::Greater);
    }
    // In range: the whole part converts exactly; the fraction breaks a tie.
    let whole = f.trunc();
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => (0.0).partial_cmp(&(f - whole)),
        o => Some(o),
    }
}

/// A double result; not finite is NULL.
fn finite(v: f64) -> Scalar {
    if v.is_finite() { Scalar::Double(v) } else { Scalar::Null }
}

fn arithmetic(op: BinaryOp, l: &Scalar, r: &Scalar) -> Scalar {
    use Scalar::{DateTime, Long, Null, TimeSpan};
    match (op, l, r) {
        (_, Long(a), Long(b)) => {
            let v = match op {
                BinaryOp::Add => a.checked_add(*b),
                BinaryOp::Sub => a.checked_sub(*b),
                BinaryOp::Mul => a.checked_mul(*b),
                // checked_div is None for a zero divisor and for i64::MIN / -1.
                _ => a.checked_div(*b),
            };
            v.map_or(Null, Long)
        }
        (BinaryOp::Add, DateTime(a), TimeSpan(b)) | (BinaryOp::Add, TimeSpan(b), DateTime(a)) => {
            a.checked_add(*b).map_or(Null, DateTime)
        }
        (BinaryOp::Sub, DateTime(a), TimeSpan(b)) => a.checked_sub(*b).map_or(Null, DateTime),
        (BinaryOp::Sub, DateTime(a), DateTime(b)) => a.checked_sub(*b).map_or(Null, TimeSpan),
        (BinaryOp::Add, TimeSpan(a), TimeSpan(b)) => a.checked_add(*b).map_or(Null, TimeSpan),
        (BinaryOp::Sub, TimeSpan(a), TimeSpan(b)) => a.checked_sub(*b).map_or(Null, TimeSpan),
        _ => match (l.as_f64(), r.as_f64()) {
            (Some(a), Some(b)) => finite(match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                _ => a / b,
            }),
            _ => Null,
        },
    }
}

/// A string result, NULL when over the size limit.
fn string(s: String) -> Scalar {
    if s.len() > MAX_STRING_BYTES {
        Scalar::Null
    } else {
        Scalar::String(s.into())
    }
}

/// A double truncated to a Long, NULL when out of range.
fn double_to_long(v: f64) -> Scalar {
    if v.is_finite() && (-TWO_POW_63..TWO_POW_63).contains(&v) {
        Scalar::Long(v.trunc() as i64)
    } else {
        Scalar::Null
    }
}

/// A Long argument as a count of characters (a value past `usize` clamps).
fn char_count(v: i64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// A Long, or a Double truncated towards zero (`subString(x, 2.0, 4.0)` in TSI's reference);
/// `None` for anything else, a Double out of the Long range included.
fn whole_number(v: &Scalar) -> Option<i64> {
    match v {
        Scalar::Long(n) => Some(*n),
        Scalar::Double(x) => match double_to_long(*x) {
            Scalar::Long(n) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// The one-argument math functions (angles in radians).
fn math(func: Func, x: f64) -> f64 {
    match func {
        Func::Cos => x.cos(),
        Func::Sin => x.sin(),
        Func::Tan => x.tan(),
        Func::Acos => x.acos(),
        Func::Asin => x.asin(),
        Func::Atan => x.atan(),
        Func::Log => x.ln(),
        Func::Log2 => x.log2(),
        Func::Log10 => x.log10(),
        _ => f64::NAN,
    }
}

/// The month (1-12), day of the month (1-31) or hour (0-23) of an instant, in UTC.
fn calendar_field(func: Func, nanos: i64) -> Option<i64> {
    let instant = jiff::Timestamp::from_nanosecond(i128::from(nanos)).ok()?;
    let civil = jiff::tz::Offset::UTC.to_datetime(instant);
    Some(i64::from(match func {
        Func::MonthOfYear => civil.month(),
        Func::DayOfMonth => civil.day(),
        Func::HourOfDay => civil.hour(),
        _ => return None,
    }))
}

fn call(func: Func, args: &[Expr], row: &Row<'_>) -> Scalar {
    // The two lazy functions first: NULL arguments are their business.
    match func {
        Func::UtcNow => return Scalar::DateTime(Timestamp::now().as_nanos()),
        Func::Coalesce => {
            return args
                .iter()
                .map(|a| eval(a, row))
                .find(|v| *v != Scalar::Null)
                .unwrap_or(Scalar::Null);
        }
        Func::Iff => {
            let pick = match args.first().map(|c| eval(c, row)) {
                Some(Scalar::Bool(true)) => 1,
                _ => 2,
            };
            return args.get(pick).map_or(Scalar::Null, |a| eval(a, row));
        }
        _ => {}
    }
    let mut values = Vec::with_capacity(args.len());
    for a in args {
        let v = eval(a, row);
        if v == Scalar::Null {
            return Scalar::Null;
        }
        values.push(v);
    }
    use Scalar::{Double, Long, Null};
    match (func, values.as_slice()) {
        (Func::Round, [Double(v)]) => Double(v.round()),
        (Func::Floor, [Double(v)]) => Double(v.floor()),
        (Func::Ceiling, [Double(v)]) => Double(v.ceil()),
        (Func::Round | Func::Floor | Func::Ceiling, [Long(v)]) => Long(*v),
        // A result that is not a finite number (log of 0 or less, acos outside [-1, 1]) is
        // NULL, as for every Double operation: JSON has no NaN or infinity.
        (Func::Atan2, [y, x]) => match (y.as_f64(), x.as_f64()) {
            (Some(y), Some(x)) => finite(y.atan2(x)),
            _ => Null,
        },
        (
            Func::Cos
            | Func::Sin
            | Func::Tan
            | Func::Acos
            | Func::Asin
            | Func::Atan
            | Func::Log
            | Func::Log2
            | Func::Log10,
            [x],
        ) => x.as_f64().map_or(Null, |x| finite(math(func, x))),
        (Func::MonthOfYear | Func::DayOfMonth | Func::HourOfDay, [Scalar::DateTime(n)]) => {
            calendar_field(func, *n).map_or(Null, Long)
        }
        (Func::ToDouble | Func::ToLong | Func::ToString, [v]) => convert(func, v),
        _ => string_function(func, &values),
    }
}

/// The conversions `toDouble`, `toLong` and `toString` of a non-NULL value.
fn convert(func: Func, v: &Scalar) -> Scalar {
    use Scalar::{Bool, Double, Long, Null, String as Str};
    match (func, v) {
        (Func::ToDouble, v) => match v {
            Double(_) => v.clone(),
            Long(x) => Double(*x as f64),
            Bool(b) => Double(if *b { 1.0 } else { 0.0 }),
            Str(s) => s.trim().parse::<f64>().map_or(Null, finite),
            _ => Null,
        },
        (Func::ToLong, v) => match v {
            Long(_) => v.clone(),
            Double(x) => double_to_long(*x),
            Bool(b) => Long(i64::from(*b)),
            Str(s) => {
                let s = s.trim();
                match s.parse::<i64>() {
                    Ok(x) => Long(x),
                    Err(_) => s.parse::<f64>().map_or(Null, double_to_long),
                }
            }
            _ => Null,
        },
        (Func::ToString, v) => match v {
            Str(_) => v.clone(),
            Double(x) => string(format!("{x:?}")),
            Long(x) => string(x.to_string()),
            Bool(b) => string(b.to_string()),
            Scalar::DateTime(n) => string(Timestamp::from_nanos(*n).to_string()),
            Scalar::TimeSpan(n) => string(format_timespan(*n)),
            Null => Null,
        },
        _ => Null,
    }
}

/// The string functions, of non-NULL arguments; NULL for any other call.
fn string_function(func: Func, values: &[Scalar]) -> Scalar {
    use Scalar::{Bool, Long, Null, String as Str};
    match (func, values) {
        (Func::ToUpper, [Str(s)]) => string(s.to_uppercase()),
        (Func::ToLower, [Str(s)]) => string(s.to_lowercase()),
        (Func::Trim, [Str(s)]) => Str(Arc::from(s.trim())),
        (Func::StrLen, [Str(s)]) => Long(i64::try_from(s.chars().count()).unwrap_or(i64::MAX)),
        (Func::StrCat, parts) => {
            let mut total = 0usize;
            for p in parts {
                let Str(s) = p else { return Null };
                total = total.saturating_add(s.len());
            }
            if total > MAX_STRING_BYTES {
                return Null;
            }
            let mut out = String::with_capacity(total);
            for p in parts {
                if let Str(s) = p {
                    out.push_str(s);
                }
            }
            Str(out.into())
        }
        (Func::SubString, [Str(s), start, rest @ ..]) => {
            let Some(start) = whole_number(start) else { return Null };
            let length = match rest {
                [] => None,
                [n] => match whole_number(n) {
                    Some(n) => Some(n),
                    None => return Null,
                },
                _ => return Null,
            };
            if start < 0 || length.is_some_and(|n| n < 0) {
                return Null;
            }
            let chars = s.chars().skip(char_count(start));
            let out: String = match length {
                Some(n) => chars.take(char_count(n)).collect(),
                None => chars.collect(),
            };
            Str(out.into())
        }
        (Func::IndexOf, [Str(s), Str(needle)]) => match s.find(&**needle) {
            Some(byte) => Long(i64::try_from(s[..byte].chars().count()).unwrap_or(i64::MAX)),
            None => Long(-1),
        },
        (Func::Replace, [Str(s), Str(old), Str(new)]) => {
            if old.is_empty() {
                return Str(s.clone());
            }
            let count = s.matches(&**old).count();
            let grown = count.saturating_mul(new.len()).saturating_add(s.len());
            if grown.saturating_sub(count.saturating_mul(old.len())) > MAX_STRING_BYTES {
                return Null;
            }
            Str(s.replace(&**old, new).into())
        }
        (Func::StartsWith, [Str(s), Str(p)]) => Bool(s.starts_with(&**p)),
        (Func::EndsWith, [Str(s), Str(p)]) => Bool(s.ends_with(&**p)),
        (Func::Contains, [Str(s), Str(p)]) => Bool(s.contains(&**p)),
        _ => Null,
    }
}
