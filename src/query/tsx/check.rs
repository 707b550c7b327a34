//! The type checker: the static type of an expression, or the first type error in text order.

use super::{AggFn, BinaryOp, Expr, Func, TsxError, TsxType, UnaryOp};

/// Where an expression is checked.
#[derive(Clone, Copy)]
struct Ctx {
    /// The type of `$value`, when it may appear.
    value_type: Option<TsxType>,
    /// An aggregation expression: aggregate calls are allowed, row references only inside them.
    allow_aggregates: bool,
    /// Inside an aggregate call's argument.
    in_aggregate: bool,
}

impl Expr {
    /// The static type of this expression, checking every operand. `value_type` is the type of
    /// `$value` where it is allowed (`None`: `$value` is an error). With `allow_aggregates` this
    /// is an aggregation expression: aggregate calls are allowed (not nested), and property
    /// references, `$event.$ts` and `$value` must be inside one. Without it aggregate calls are
    /// errors.
    pub fn check(&self, value_type: Option<TsxType>, allow_aggregates: bool) -> Result<TsxType, TsxError> {
        let cx = Ctx {
            value_type,
            allow_aggregates,
            in_aggregate: false,
        };
        check(self, cx)
    }
}

fn is_numeric(t: TsxType) -> bool {
    matches!(t, TsxType::Double | TsxType::Long)
}

/// May `=` compare these? Same type, two numbers, or NULL with anything.
fn comparable(a: TsxType, b: TsxType) -> bool {
    a == b || a == TsxType::Null || b == TsxType::Null || (is_numeric(a) && is_numeric(b))
}

fn orderable(t: TsxType) -> bool {
    matches!(
        t,
        TsxType::Double | TsxType::Long | TsxType::DateTime | TsxType::TimeSpan | TsxType::Null
    )
}

/// A Long and a Double make a Double.
fn widen(a: TsxType, b: TsxType) -> TsxType {
    if a == TsxType::Double || b == TsxType::Double {
        TsxType::Double
    } else {
        TsxType::Long
    }
}

/// Refuses a row reference outside an aggregate call in an aggregation expression.
fn row_reference(cx: Ctx, pos: usize, what: &str) -> Result<(), TsxError> {
    if cx.allow_aggregates && !cx.in_aggregate {
        return Err(TsxError::new(
            pos,
            format!("{what} must be inside an aggregate function in an aggregation expression, e.g. avg(...)"),
        ));
    }
    Ok(())
}

fn check(e: &Expr, cx: Ctx) -> Result<TsxType, TsxError> {
    match e {
        Expr::Literal { value, .. } => Ok(value.tsx_type()),
        Expr::Property { ty, pos, .. } => {
            row_reference(cx, *pos, "a property reference")?;
            Ok(TsxType::of_value_type(*ty))
        }
        Expr::Timestamp { pos } => {
            row_reference(cx, *pos, "$event.$ts")?;
            Ok(TsxType::DateTime)
        }
        Expr::Value { pos } => {
            let Some(t) = cx.value_type else {
                return Err(TsxError::new(
                    *pos,
                    "$value is not allowed here: it stands for a variable's value in its aggregation expression",
                ));
            };
            row_reference(cx, *pos, "$value")?;
            Ok(t)
        }
        Expr::Unary { op, arg, pos } => {
            let t = check(arg, cx)?;
            match op {
                UnaryOp::Not if matches!(t, TsxType::Bool | TsxType::Null) => Ok(TsxType::Bool),
                UnaryOp::Not => Err(TsxError::new(*pos, format!("NOT needs a Bool operand but found {t}"))),
                UnaryOp::Neg if is_numeric(t) || matches!(t, TsxType::TimeSpan | TsxType::Null) => Ok(t),
                UnaryOp::Neg => Err(TsxError::new(
                    *pos,
                    format!("prefix '-' needs a Double, Long or TimeSpan operand but found {t}"),
                )),
            }
        }
        Expr::Binary { op, left, right, pos } => {
            let l = check(left, cx)?;
            let r = check(right, cx)?;
            binary(*op, l, r).map_err(|message| TsxError::new(*pos, message))
        }
        Expr::Call { func, args, .. } => {
            let mut types = Vec::with_capacity(args.len());
            for a in args {
                types.push(check(a, cx)?);
            }
            call(*func, args, &types)
        }
        Expr::Aggregate { func, arg, pos } => {
            if !cx.allow_aggregates {
                return Err(TsxError::new(
                    *pos,
                    format!(
                        "aggregate function '{func}' is not allowed here: aggregates belong in a variable's aggregation"
                    ),
                ));
            }
            if cx.in_aggregate {
                return Err(TsxError::new(
                    *pos,
                    format!("aggregate function '{func}' cannot be nested inside another aggregate function"),
                ));
            }
            let Some(arg) = arg else {
                return Ok(TsxType::Long);
            };
            let inner = Ctx {
                in_aggregate: true,
                ..cx
            };
            let t = check(arg, inner)?;
            if !is_numeric(t) && t != TsxType::Null {
                return Err(TsxError::new(
                    arg.start(),
                    format!("aggregate function '{func}' needs a Double or Long argument but found {t}"),
                ));
            }
            Ok(match func {
                AggFn::Min | AggFn::Max | AggFn::First | AggFn::Last | AggFn::Sum if t != TsxType::Null => t,
                AggFn::Count => TsxType::Long,
                _ => TsxType::Double,
            })
        }
        Expr::In { arg, list, pos } => {
            let t = check(arg, cx)?;
            for item in list {
                let ti = check(item, cx)?;
                if !comparable(t, ti) {
                    return Err(TsxError::new(
                        item.start(),
                        format!("IN at position {pos} cannot compare {t} with {ti}"),
                    ));
                }
            }
            Ok(TsxType::Bool)
        }
        Expr::Has { arg, needle, pos } => {
            for (side, operand) in [("left", arg), ("right", needle)] {
                let t = check(operand, cx)?;
                if !matches!(t, TsxType::String | TsxType::Null) {
                    return Err(TsxError::new(
                        *pos,
                        format!("HAS needs String operands but the {side} operand is {t}"),
                    ));
                }
            }
            Ok(TsxType::Bool)
        }
    }
}

/// The type of `l op r`, or the error message.
fn binary(op: BinaryOp, l: TsxType, r: TsxType) -> Result<TsxType, String> {
    use TsxType::{Bool, DateTime, Null, TimeSpan};
    match op {
        BinaryOp::And | BinaryOp::Or => {
            for (side, t) in [("left", l), ("right", r)] {
                if !matches!(t, Bool | Null) {
                    return Err(format!("{op} needs Bool operands but the {side} operand is {t}"));
                }
            }
            Ok(Bool)
        }
        _ if op.precedence() == 4 && !comparable(l, r) => Err(format!("cannot compare {l} with {r} using '{op}'")),
        BinaryOp::Eq | BinaryOp::Ne => Ok(Bool),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            if orderable(l) && orderable(r) {
                Ok(Bool)
            } else {
                Err(format!(
                    "operator '{op}' cannot order {l} and {r}: it needs two numbers, two DateTimes or two TimeSpans"
                ))
            }
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
            let additive = matches!(op, BinaryOp::Add | BinaryOp::Sub);
            let t = match (l, r) {
                (a, b) if is_numeric(a) && is_numeric(b) => Some(widen(a, b)),
                (Null, Null) => Some(Null),
                (Null, t) | (t, Null) if is_numeric(t) => Some(t),
                (TimeSpan, TimeSpan) if additive => Some(TimeSpan),
                (DateTime, TimeSpan) if additive => Some(DateTime),
                (TimeSpan, DateTime) if op == BinaryOp::Add => Some(DateTime),
                (DateTime, DateTime) if op == BinaryOp::Sub => Some(TimeSpan),
                // NULL next to a time: the result's type when only one reading of NULL fits,
                // NULL when two do (`ts + NULL` may be a TimeSpan or a DateTime).
                (DateTime, Null) | (Null, DateTime) if op == BinaryOp::Add => Some(DateTime),
                (Null, DateTime) | (TimeSpan, Null) if op == BinaryOp::Sub => Some(TimeSpan),
                (TimeSpan, Null) | (Null, TimeSpan) | (DateTime, Null) if additive => Some(Null),
                _ => None,
            };
            t.ok_or_else(|| {
                let hint = if l == TsxType::String && r == TsxType::String && op == BinaryOp::Add {
                    " (join strings with strCat)"
                } else {
                    ""
                };
                format!("operator '{op}' cannot be applied to {l} and {r}{hint}")
            })
        }
    }
}

/// Checks argument `i` of `func` against the allowed types (NULL always fits).
fn expect(func: Func, args: &[Expr], types: &[TsxType], i: usize, allowed: &[TsxType]) -> Result<(), TsxError> {
    let t = types.get(i).copied().unwrap_or(TsxType::Null);
    if t == TsxType::Null || allowed.contains(&t) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
    let pos = args.get(i).map_or(0, Expr::start);
    Err(TsxError::new(
        pos,
        format!(
            "function '{func}': argument {} must be {} but is {t}",
            i + 1,
            names.join(" or ")
        ),
    ))
}

/// The one type of `types` (NULLs aside), or an error at the first argument that differs.
fn common_type(func: Func, args: &[Expr], types: &[TsxType], first: usize) -> Result<TsxType, TsxError> {
    let mut common = TsxType::Null;
    for (i, &t) in types.iter().enumerate().skip(first) {
        if t == TsxType::Null {
            continue;
        }
        if common == TsxType::Null {
            common = t;
        } else if t != common {
            let pos = args.get(i).map_or(0, Expr::start);
            return Err(TsxError::new(
                pos,
                format!(
                    "function '{func}': argument {} is {t} but an earlier one is {common}; the arguments must have one type (convert with toDouble, toLong or toString)",
                    i + 1
                ),
            ));
        }
    }
    Ok(common)
}

fn call(func: Func, args: &[Expr], types: &[TsxType]) -> Result<TsxType, TsxError> {
    use TsxType::{Bool, Double, Long, String};
    let all = |allowed: &[TsxType]| -> Result<(), TsxError> {
        (0..types.len()).try_for_each(|i| expect(func, args, types, i, allowed))
    };
    match func {
        Func::Coalesce => common_type(func, args, types, 0),
        Func::Iff => {
            expect(func, args, types, 0, &[Bool])?;
            common_type(func, args, types, 1)
        }
        Func::Round | Func::Floor | Func::Ceiling => {
            expect(func, args, types, 0, &[Double, Long])?;
            Ok(types.first().copied().unwrap_or(TsxType::Null))
        }
        Func::Cos
        | Func::Sin
        | Func::Tan
        | Func::Acos
        | Func::Asin
        | Func::Atan
        | Func::Atan2
        | Func::Log
        | Func::Log2
        | Func::Log10 => {
            // The reference's signatures take Doubles; a Long is widened, as in arithmetic.
            all(&[Double, Long])?;
            Ok(Double)
        }
        Func::MonthOfYear | Func::DayOfMonth | Func::HourOfDay => {
            expect(func, args, types, 0, &[TsxType::DateTime])?;
            Ok(Long)
        }
        Func::UtcNow => Ok(TsxType::DateTime),
        Func::ToDouble | Func::ToLong => {
            expect(func, args, types, 0, &[Double, Long, String, Bool])?;
            Ok(if func == Func::ToDouble { Double } else { Long })
        }
        Func::ToString => Ok(String),
        Func::ToUpper | Func::ToLower | Func::Trim | Func::StrCat | Func::Replace => {
            all(&[String])?;
            Ok(String)
        }
        Func::StrLen | Func::IndexOf => {
            all(&[String])?;
            Ok(Long)
        }
        Func::SubString => {
            expect(func, args, types, 0, &[String])?;
            // `subString(value:String, startIndex:Double, length:Double)` in the reference.
            (1..types.len()).try_for_each(|i| expect(func, args, types, i, &[Double, Long]))?;
            Ok(String)
        }
        Func::StartsWith | Func::EndsWith | Func::Contains => {
            all(&[String])?;
            Ok(Bool)
        }
    }
}
