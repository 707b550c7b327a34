//! TSX, the Time Series Expression language of Azure Time Series Insights Gen2: the filters,
//! values and aggregations of time series queries.
//!
//! [`parse`] turns text into an [`Expr`] (and binds its property slots), [`Expr::check`]
//! type-checks it for one use (filter, value or aggregation), [`Expr::eval`] computes it on one
//! row. The query engine computes aggregate calls itself (see [`Expr::aggregates`] and
//! [`Expr::eval_with_aggregates`]).
//!
//! # The language
//!
//! - **Property references**: `$event.Temperature.Double`; a type-less `$event.Temperature`
//!   means Double; nested `$event.a.b.Long` names the property `a.b`; special names go in
//!   brackets, `$event['Front.Temperature'].Double`, where `\` and `'` are escaped with `\`;
//!   brackets may follow any segment (`$event.a['b.c'].Long` is `a.b.c`, `$event.['x']` is
//!   `x`). The quotes may be left out, as TSI's 2020-07-31 Query API examples do
//!   (`$event.[Status].String`): a bare bracketed name runs to the first `]`, holds no `[`,
//!   `]`, `'`, `\` or control character, and does not start or end with whitespace. The last segment is the type when it is one of the TSI type names `Double`, `Long`,
//!   `Bool`, `String`, `DateTime`, `Dynamic` (any case) and not in brackets; otherwise the
//!   type is Double. A single segment is always a name (`$event.Long` is the Double property
//!   `Long`). Unbracketed segments are `[A-Za-z_][A-Za-z0-9_]*`; anything else, `-` included
//!   (as in TSI's own `$event['Temperature-Celsius']`), needs brackets. No whitespace inside
//!   a reference. A Dynamic property reads as its JSON text, a String.
//! - `$event.$ts` is the event time (DateTime); `$value` is the variable's value inside an
//!   aggregation expression.
//! - **Literals**: `42` (Long; beyond the `i64` range is an error), `1.5`, `1e3` (Double),
//!   `'text'` (escapes `\'` and `\\` only), `TRUE`, `FALSE`, `NULL`,
//!   `dt'2026-01-01T00:00:00Z'` (RFC 3339), `ts'PT1H30M'` (ISO 8601 duration; a week is 7
//!   days, a day 24 hours, a month 30 days, a year 365 days).
//! - **Operators**, loosest first: `OR`; `AND`; prefix `NOT`; comparisons `=` (or `==`), `!=`
//!   (or `<>`), `<`, `<=`, `>`, `>=` and the Gen1 extensions `x IN (a, b, ...)` and
//!   `x HAS 'text'`; `+ -`; `* /`; prefix `-`. Binary operators associate to the left.
//!   Keywords and function names are case-insensitive; property names are case-sensitive.
//! - **Scalar functions** (see [`Func`]): `coalesce`, `iff`, `round`, `floor`, `ceiling`,
//!   `cos`, `sin`, `tan`, `acos`, `asin`, `atan`, `atan2`, `log`, `log2`, `log10`,
//!   `monthOfYear`, `dayOfMonth`, `hourOfDay`, `utcNow`, `toDouble`, `toLong`, `toString`,
//!   `toUpper`, `toLower`, `strLen`, `strCat`, `subString`, `trim`, `indexOf`, `replace`, and
//!   the Gen1 extensions `startsWith`, `endsWith`, `contains`. The math functions take a
//!   Double or a Long and give a Double (angles in radians); `monthOfYear` (1-12),
//!   `dayOfMonth` (1-31) and `hourOfDay` (0-23) give the Long field of a DateTime in UTC;
//!   `utcNow()` is the system clock's time, read when evaluated; `subString`'s start and length are Doubles (truncated towards
//!   zero) or Longs.
//! - **Aggregate functions**: `min`, `max`, `sum`, `avg`, `stdev`, `first`, `last`, `median`,
//!   `left`, `right`, `twavg`, `twsum` of one Double or Long argument, and `count()`.
//!
//! # Types
//!
//! Strong typing, as in TSI: comparing a String with a Double, `AND` on a Double, arithmetic
//! on strings, ordering Bools or Strings are errors from [`Expr::check`], not silent FALSE.
//! Long and Double mix in arithmetic and comparisons (the Long is widened). `DateTime -
//! DateTime` is a TimeSpan, `DateTime ± TimeSpan` a DateTime. `Long / Long` is a Long
//! (truncated). The `NULL` literal fits every type. `coalesce` and `iff` need arguments of
//! exactly one type: a Long and a Double do not mix there (convert with `toDouble`).
//! Aggregate calls: `count()` is a Long; `min`, `max`, `first`, `last`, `sum` have their
//! argument's type; the others are Double. In an aggregation expression every row reference
//! (`$event...`, `$value`) must be inside an aggregate call, and aggregates do not nest.
//!
//! # Nulls and failures at run time
//!
//! Evaluation never panics and never fails: a missing property is NULL, and so is the result
//! of any operation with a NULL operand, of a Long overflow or a division of Longs by zero,
//! and of a Double operation whose result is not finite (`log(0)`, `log(-1)`, `acos(2)`:
//! TSI's reference does not say, and JSON has no NaN or infinity). The exceptions: `AND`/`OR` use
//! three-valued logic (`FALSE AND NULL` is FALSE, `TRUE OR NULL` is TRUE); `x = NULL` is TRUE
//! exactly when `x` is NULL (and `!=` the opposite), so `=` and `!=` never give NULL; `IN` is
//! the `OR` of such `=` tests; `coalesce` returns its first non-NULL argument; `iff` takes the
//! else branch on a NULL condition. A filter keeps a row only when it evaluates to TRUE.
//! String comparisons and `indexOf`, `replace`, `startsWith`, `endsWith`, `contains` are
//! ordinal (case-sensitive); `HAS` is a case-insensitive substring test. String results over
//! 1 MiB are NULL. `toString` writes a Double in its shortest round-trip form (`21.0`,
//! `1e-7`), a Bool as `true`/`false`, a DateTime as RFC 3339 in UTC, a TimeSpan as an ISO 8601
//! duration (`P1DT2H`).
//!
//! # Limits
//!
//! Text over 64 KiB, more than 64 levels of parentheses, calls or prefix operators, and
//! operator chains that make the tree deeper than 256 levels are parse errors.

mod check;
mod eval;
mod func;
mod instance;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_reference;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::model::{Timestamp, Value, ValueType};

pub use func::Func;
pub use instance::bind_instance_fields;

/// The longest expression text accepted, in bytes.
pub(crate) const MAX_INPUT_BYTES: usize = 64 * 1024;
/// The deepest nesting of parentheses, function calls and prefix operators accepted.
pub(crate) const MAX_NESTING: usize = 64;
/// The deepest expression tree accepted (long operator chains make deep trees too).
pub(crate) const MAX_HEIGHT: usize = 256;
/// String results longer than this (in bytes) are NULL.
pub(crate) const MAX_STRING_BYTES: usize = 1 << 20;

/// A parse or type error: the 0-based character position in the source text and a message
/// that says what was expected and what was found.
#[derive(Clone, Debug, PartialEq)]
pub struct TsxError {
    /// 0-based position in characters (not bytes) of the offending token or operator.
    pub position: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl TsxError {
    /// An error at `position`.
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        TsxError {
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for TsxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for TsxError {}

/// A run-time value of an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// No value: a missing property, the `NULL` literal, or a failed operation.
    Null,
    /// A finite double.
    Double(f64),
    /// A long.
    Long(i64),
    /// A bool.
    Bool(bool),
    /// A string.
    String(Arc<str>),
    /// An instant, in nanoseconds since the Unix epoch.
    DateTime(i64),
    /// A duration, in nanoseconds.
    TimeSpan(i64),
}

impl Scalar {
    /// The value of a stored property: a Dynamic value becomes the String of its JSON text, a
    /// removed marker becomes NULL.
    pub fn from_value(v: &Value) -> Scalar {
        match v {
            Value::Double(x) => Scalar::Double(*x),
            Value::Long(x) => Scalar::Long(*x),
            Value::Bool(x) => Scalar::Bool(*x),
            Value::String(s) | Value::Dynamic(s) => Scalar::String(s.clone()),
            Value::DateTime(t) => Scalar::DateTime(t.as_nanos()),
            Value::Removed => Scalar::Null,
        }
    }

    /// This value's type ([`TsxType::Null`] for NULL).
    pub fn tsx_type(&self) -> TsxType {
        match self {
            Scalar::Null => TsxType::Null,
            Scalar::Double(_) => TsxType::Double,
            Scalar::Long(_) => TsxType::Long,
            Scalar::Bool(_) => TsxType::Bool,
            Scalar::String(_) => TsxType::String,
            Scalar::DateTime(_) => TsxType::DateTime,
            Scalar::TimeSpan(_) => TsxType::TimeSpan,
        }
    }

    /// The value as a double for the numeric types (a Long widened), else `None`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::Double(v) => Some(v),
            Scalar::Long(v) => Some(v as f64),
            _ => None,
        }
    }
}

/// The static type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsxType {
    /// 64-bit float.
    Double,
    /// 64-bit integer.
    Long,
    /// Boolean.
    Bool,
    /// Text (also the type of Dynamic properties, read as JSON text).
    String,
    /// An instant.
    DateTime,
    /// A duration.
    TimeSpan,
    /// The type of the `NULL` literal: compatible with every type.
    Null,
}

impl TsxType {
    /// The type of a property column of type `ty`.
    pub fn of_value_type(ty: ValueType) -> TsxType {
        match ty {
            ValueType::Double => TsxType::Double,
            ValueType::Long => TsxType::Long,
            ValueType::Bool => TsxType::Bool,
            ValueType::String | ValueType::Dynamic => TsxType::String,
            ValueType::DateTime => TsxType::DateTime,
            ValueType::Removed => TsxType::Null,
        }
    }

    /// The name used in messages (`Double`, ..., `NULL`).
    pub fn name(self) -> &'static str {
        match self {
            TsxType::Double => "Double",
            TsxType::Long => "Long",
            TsxType::Bool => "Bool",
            TsxType::String => "String",
            TsxType::DateTime => "DateTime",
            TsxType::TimeSpan => "TimeSpan",
            TsxType::Null => "NULL",
        }
    }
}

impl fmt::Display for TsxType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The aggregate functions of aggregation expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggFn {
    /// Smallest value in the bucket, nulls skipped.
    Min,
    /// Largest value in the bucket, nulls skipped.
    Max,
    /// Sum of the bucket's values, nulls skipped.
    Sum,
    /// Mean of the bucket's values, nulls skipped.
    Avg,
    /// Standard deviation of the bucket's values, nulls skipped.
    Stdev,
    /// Earliest value in the bucket.
    First,
    /// Latest value in the bucket.
    Last,
    /// Median value of the bucket.
    Median,
    /// Number of events in the bucket (`count()`, no argument).
    Count,
    /// Interpolated value at the bucket's start.
    Left,
    /// Interpolated value at the bucket's end.
    Right,
    /// Time-weighted average over the bucket.
    Twavg,
    /// Time-weighted integral over the bucket.
    Twsum,
}

impl AggFn {
    /// Every aggregate function.
    pub const ALL: [AggFn; 13] = [
        AggFn::Min,
        AggFn::Max,
        AggFn::Sum,
        AggFn::Avg,
        AggFn::Stdev,
        AggFn::First,
        AggFn::Last,
        AggFn::Median,
        AggFn::Count,
        AggFn::Left,
        AggFn::Right,
        AggFn::Twavg,
        AggFn::Twsum,
    ];

    /// The TSX spelling (lowercase).
    pub fn name(self) -> &'static str {
        match self {
            AggFn::Min => "min",
            AggFn::Max => "max",
            AggFn::Sum => "sum",
            AggFn::Avg => "avg",
            AggFn::Stdev => "stdev",
            AggFn::First => "first",
            AggFn::Last => "last",
            AggFn::Median => "median",
            AggFn::Count => "count",
            AggFn::Left => "left",
            AggFn::Right => "right",
            AggFn::Twavg => "twavg",
            AggFn::Twsum => "twsum",
        }
    }

    /// The function of a name, case-insensitively.
    pub fn from_name(name: &str) -> Option<AggFn> {
        AggFn::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for AggFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `NOT b`.
    Not,
    /// `-x`.
    Neg,
}

impl fmt::Display for UnaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Not => "NOT",
            UnaryOp::Neg => "-",
        })
    }
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `=` (also `==`).
    Eq,
    /// `!=` (also `<>`).
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
}

impl BinaryOp {
    /// The TSX spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }

    /// Binding strength, loosest first (used by the printer; the parser mirrors it).
    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
        }
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A parsed expression. Every node carries the 0-based character position it was written at:
/// the start of a literal, reference or function name, or the operator (keyword) of an
/// operator node.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal {
        /// Its value.
        value: Scalar,
        /// Where it starts (the `-` of a negative number).
        pos: usize,
    },
    /// A property of the event: `$event.Temperature.Double`, `$event['Front.Temperature']`.
    Property {
        /// The dotted property name (`a.b` for `$event.a.b.Long`).
        name: String,
        /// The column type read (Double when not written).
        ty: ValueType,
        /// Index of this (name, type) in the list from [`Expr::bind_properties`].
        slot: usize,
        /// Where `$event` starts.
        pos: usize,
    },
    /// `$event.$ts`, the event time.
    Timestamp {
        /// Where `$event` starts.
        pos: usize,
    },
    /// `$value`, the variable's value inside aggregation expressions.
    Value {
        /// Where `$value` starts.
        pos: usize,
    },
    /// A prefix operator.
    Unary {
        /// `NOT` or `-`.
        op: UnaryOp,
        /// The operand.
        arg: Box<Expr>,
        /// Where the operator is.
        pos: usize,
    },
    /// An infix operator.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
        /// Where the operator is.
        pos: usize,
    },
    /// A scalar function call.
    Call {
        /// The function.
        func: Func,
        /// Its arguments (the count is checked by the parser).
        args: Vec<Expr>,
        /// Where the function name starts.
        pos: usize,
    },
    /// An aggregate call: `avg($value)`, `count()`, `max($event.Speed.Double)`.
    Aggregate {
        /// The function.
        func: AggFn,
        /// The argument (`None` only for `count()`).
        arg: Option<Box<Expr>>,
        /// Where the function name starts.
        pos: usize,
    },
    /// Gen1 extension `x IN (a, b, c)`: TRUE when `x = a OR x = b OR x = c`.
    In {
        /// The tested value.
        arg: Box<Expr>,
        /// The candidates (at least one).
        list: Vec<Expr>,
        /// Where `IN` is.
        pos: usize,
    },
    /// Gen1 extension `x HAS 'text'`: case-insensitive substring test on strings.
    Has {
        /// The searched string.
        arg: Box<Expr>,
        /// The string searched for.
        needle: Box<Expr>,
        /// Where `HAS` is.
        pos: usize,
    },
}

/// Parses TSX text. The property slots are bound (see [`Expr::bind_properties`], which may be
/// called again to get the property list: it gives the same slots). The result is not yet
/// type-checked: call [`Expr::check`] for the context it is used in.
pub fn parse(text: &str) -> Result<Expr, TsxError> {
    let mut expr = parser::parse(text)?;
    expr.bind_properties();
    Ok(expr)
}

impl Expr {
    /// Every distinct (name, type) property this expression reads, in first-appearance order,
    /// and sets each Property node's `slot` to its index in that list (evaluation reads
    /// `values[slot]`). Idempotent; [`parse`] already calls it.
    pub fn bind_properties(&mut self) -> Vec<(String, ValueType)> {
        let mut list: Vec<(String, ValueType)> = Vec::new();
        let mut index: HashMap<(String, ValueType), usize> = HashMap::new();
        self.walk_mut(&mut |e| {
            if let Expr::Property { name, ty, slot, .. } = e {
                *slot = *index.entry((name.clone(), *ty)).or_insert_with(|| {
                    list.push((name.clone(), *ty));
                    list.len() - 1
                });
            }
        });
        list
    }

    /// Where this node was written (see [`Expr`]).
    pub fn pos(&self) -> usize {
        match self {
            Expr::Literal { pos, .. }
            | Expr::Property { pos, .. }
            | Expr::Timestamp { pos }
            | Expr::Value { pos }
            | Expr::Unary { pos, .. }
            | Expr::Binary { pos, .. }
            | Expr::Call { pos, .. }
            | Expr::Aggregate { pos, .. }
            | Expr::In { pos, .. }
            | Expr::Has { pos, .. } => *pos,
        }
    }

    /// Where the text of this node starts: the position of its leftmost token, ignoring an
    /// opening parenthesis (for operators this is the left operand, not the operator).
    pub fn start(&self) -> usize {
        let mut e = self;
        loop {
            match e {
                Expr::Binary { left, .. } => e = left,
                Expr::In { arg, .. } | Expr::Has { arg, .. } => e = arg,
                _ => return e.pos(),
            }
        }
    }

    /// Calls `f` on this node and every node below it, in text order (parents first).
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Literal { .. } | Expr::Property { .. } | Expr::Timestamp { .. } | Expr::Value { .. } => {}
            Expr::Unary { arg, .. } => arg.walk(f),
            Expr::Binary { left, right, .. } => {
                left.walk(f);
                right.walk(f);
            }
            Expr::Call { args, .. } => args.iter().for_each(|a| a.walk(f)),
            Expr::Aggregate { arg, .. } => {
                if let Some(a) = arg {
                    a.walk(f);
                }
            }
            Expr::In { arg, list, .. } => {
                arg.walk(f);
                list.iter().for_each(|a| a.walk(f));
            }
            Expr::Has { arg, needle, .. } => {
                arg.walk(f);
                needle.walk(f);
            }
        }
    }

    /// Whether `other` is the same tree: the same nodes with the same operators, functions,
    /// literals, properties and children, wherever they were written (positions are not
    /// compared). Double literals compare bit for bit, so `0.0` and `-0.0` differ. Two texts
    /// that differ only in spacing, redundant parentheses or the spelling of keywords parse
    /// to the same tree.
    pub(crate) fn same_tree(&self, other: &Expr) -> bool {
        fn without_positions(e: &Expr) -> Expr {
            let mut e = e.clone();
            e.walk_mut(&mut |node| *node.pos_mut() = 0);
            e
        }
        fn double_bits(e: &Expr) -> Vec<u64> {
            let mut bits = Vec::new();
            e.walk(&mut |node| {
                if let Expr::Literal {
                    value: Scalar::Double(x),
                    ..
                } = node
                {
                    bits.push(x.to_bits());
                }
            });
            bits
        }
        // The derived `==` compares every field; with positions zeroed it compares structure
        // (literals are finite, so `==` on them only misses the sign of zero).
        without_positions(self) == without_positions(other) && double_bits(self) == double_bits(other)
    }

    fn pos_mut(&mut self) -> &mut usize {
        match self {
            Expr::Literal { pos, .. }
            | Expr::Property { pos, .. }
            | Expr::Timestamp { pos }
            | Expr::Value { pos }
            | Expr::Unary { pos, .. }
            | Expr::Binary { pos, .. }
            | Expr::Call { pos, .. }
            | Expr::Aggregate { pos, .. }
            | Expr::In { pos, .. }
            | Expr::Has { pos, .. } => pos,
        }
    }

    /// [`Expr::walk`] with mutable access: `f` sees a node before its children, and the
    /// children of what it leaves there (a node it replaces is not descended into).
    pub(crate) fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        f(self);
        match self {
            Expr::Literal { .. } | Expr::Property { .. } | Expr::Timestamp { .. } | Expr::Value { .. } => {}
            Expr::Unary { arg, .. } => arg.walk_mut(f),
            Expr::Binary { left, right, .. } => {
                left.walk_mut(f);
                right.walk_mut(f);
            }
            Expr::Call { args, .. } => args.iter_mut().for_each(|a| a.walk_mut(f)),
            Expr::Aggregate { arg, .. } => {
                if let Some(a) = arg {
                    a.walk_mut(f);
                }
            }
            Expr::In { arg, list, .. } => {
                arg.walk_mut(f);
                list.iter_mut().for_each(|a| a.walk_mut(f));
            }
            Expr::Has { arg, needle, .. } => {
                arg.walk_mut(f);
                needle.walk_mut(f);
            }
        }
    }

    /// The aggregate calls of this expression, outermost only, in text order: what the engine
    /// computes per bucket before [`Expr::eval_with_aggregates`] combines them. Each has a
    /// distinct [`Expr::pos`], usable as its key.
    pub fn aggregates(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        collect_aggregates(self, &mut out);
        out
    }

    /// True when this expression contains an aggregate call.
    pub fn has_aggregates(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| found |= matches!(e, Expr::Aggregate { .. }));
        found
    }
}

fn collect_aggregates<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::Aggregate { .. } => out.push(e),
        Expr::Literal { .. } | Expr::Property { .. } | Expr::Timestamp { .. } | Expr::Value { .. } => {}
        Expr::Unary { arg, .. } => collect_aggregates(arg, out),
        Expr::Binary { left, right, .. } => {
            collect_aggregates(left, out);
            collect_aggregates(right, out);
        }
        Expr::Call { args, .. } => args.iter().for_each(|a| collect_aggregates(a, out)),
        Expr::In { arg, list, .. } => {
            collect_aggregates(arg, out);
            list.iter().for_each(|a| collect_aggregates(a, out));
        }
        Expr::Has { arg, needle, .. } => {
            collect_aggregates(arg, out);
            collect_aggregates(needle, out);
        }
    }
}

/// Precedence of a node as printed: an operand printed with a lower one gets parentheses.
fn node_precedence(e: &Expr) -> u8 {
    match e {
        Expr::Binary { op, .. } => op.precedence(),
        Expr::Unary { op: UnaryOp::Not, .. } => 3,
        Expr::In { .. } | Expr::Has { .. } => 4,
        Expr::Unary { op: UnaryOp::Neg, .. } => 7,
        // A negative number prints with its sign, like a prefix `-`.
        Expr::Literal {
            value: Scalar::Long(v), ..
        } if *v < 0 => 7,
        Expr::Literal {
            value: Scalar::Double(v),
            ..
        } if v.is_sign_negative() => 7,
        _ => 8,
    }
}

fn write_operand(e: &Expr, min_precedence: u8, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if node_precedence(e) < min_precedence {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn write_list(items: &[Expr], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, a) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{a}")?;
    }
    Ok(())
}

/// True for a name segment that needs no brackets.
fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `text` between single quotes, with `\` and `'` escaped.
fn write_quoted(text: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("'")?;
    for c in text.chars() {
        if c == '\\' || c == '\'' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("'")
}

/// A duration as ISO 8601 text: `P1DT2H3M4.5S`, `PT0S`, `-PT1S` (days of 24 hours).
pub(crate) fn format_timespan(nanos: i64) -> String {
    const SECOND: u64 = 1_000_000_000;
    const DAY: u64 = 86_400 * SECOND;
    let abs = nanos.unsigned_abs();
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    out.push('P');
    let days = abs / DAY;
    let rest = abs % DAY;
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rest > 0 || days == 0 {
        out.push('T');
        let (hours, minutes) = (rest / (3600 * SECOND), rest / (60 * SECOND) % 60);
        let (seconds, fraction) = (rest / SECOND % 60, rest % SECOND);
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || fraction > 0 || rest == 0 {
            out.push_str(&seconds.to_string());
            if fraction > 0 {
                let digits = format!("{fraction:09}");
                out.push('.');
                out.push_str(digits.trim_end_matches('0'));
            }
            out.push('S');
        }
    }
    out
}

impl fmt::Display for Scalar {
    /// As a TSX literal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => f.write_str("NULL"),
            Scalar::Double(v) => write!(f, "{v:?}"),
            Scalar::Long(v) => write!(f, "{v}"),
            Scalar::Bool(true) => f.write_str("TRUE"),
            Scalar::Bool(false) => f.write_str("FALSE"),
            Scalar::String(s) => write_quoted(s, f),
            Scalar::DateTime(n) => write!(f, "dt'{}'", Timestamp::from_nanos(*n)),
            Scalar::TimeSpan(n) => write!(f, "ts'{}'", format_timespan(*n)),
        }
    }
}

impl fmt::Display for Expr {
    /// Canonical TSX text, with only the parentheses the structure needs: parsing it gives
    /// the same tree (positions aside).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal { value, .. } => write!(f, "{value}"),
            Expr::Property { name, ty, .. } => {
                if name.split('.').all(is_plain_identifier) {
                    write!(f, "$event.{name}.{ty}")
                } else {
                    f.write_str("$event[")?;
                    write_quoted(name, f)?;
                    write!(f, "].{ty}")
                }
            }
            Expr::Timestamp { .. } => f.write_str("$event.$ts"),
            Expr::Value { .. } => f.write_str("$value"),
            Expr::Unary {
                op: UnaryOp::Not, arg, ..
            } => {
                f.write_str("NOT ")?;
                write_operand(arg, 3, f)
            }
            Expr::Unary {
                op: UnaryOp::Neg, arg, ..
            } => match &**arg {
                // A minus right before a number is part of the literal, so a minus applied to
                // a number is written so as not to read as one literal, and without adding
                // parentheses the source may not have had (the nesting limit counts them).
                // `--0` parses as minus applied to the literal -0, which is 0.
                Expr::Literal {
                    value: Scalar::Long(0), ..
                } => f.write_str("--0"),
                Expr::Literal {
                    value: Scalar::Long(_) | Scalar::Double(_),
                    ..
                } if node_precedence(arg) == 7 => write!(f, "- {arg}"),
                Expr::Literal {
                    value: Scalar::Long(_) | Scalar::Double(_),
                    ..
                } => write!(f, "-({arg})"),
                _ => {
                    f.write_str("-")?;
                    write_operand(arg, 7, f)
                }
            },
            Expr::Binary { op, left, right, .. } => {
                let p = op.precedence();
                write_operand(left, p, f)?;
                write!(f, " {op} ")?;
                write_operand(right, p + 1, f)
            }
            Expr::Call { func, args, .. } => {
                write!(f, "{func}(")?;
                write_list(args, f)?;
                f.write_str(")")
            }
            Expr::Aggregate { func, arg, .. } => match arg {
                Some(a) => write!(f, "{func}({a})"),
                None => write!(f, "{func}()"),
            },
            Expr::In { arg, list, .. } => {
                write_operand(arg, 4, f)?;
                f.write_str(" IN (")?;
                write_list(list, f)?;
                f.write_str(")")
            }
            Expr::Has { arg, needle, .. } => {
                write_operand(arg, 4, f)?;
                f.write_str(" HAS ")?;
                write_operand(needle, 5, f)
            }
        }
    }
}

/// The fuzz target's entry point: parses `text` and, when it parses, prints and re-parses it,
/// type-checks it in every context and evaluates it on sample rows. Nothing may panic; the
/// printed form must parse to the same tree (compared node by node, not as text).
pub(crate) fn fuzz_parse_and_check(text: &str) {
    let Ok(mut expr) = parse(text) else { return };
    let properties = expr.bind_properties();
    let printed = expr.to_string();
    if printed.len() <= MAX_INPUT_BYTES {
        match parse(&printed) {
            Ok(again) => assert!(
                again.same_tree(&expr),
                "{text:?} printed as {printed:?} parses to another tree:\n{expr:?}\n{again:?}"
            ),
            Err(e) => panic!("printed form {printed:?} of {text:?} does not parse: {e}"),
        }
    }
    for value_type in [None, Some(TsxType::Double), Some(TsxType::Long)] {
        for allow_aggregates in [false, true] {
            let _ = expr.check(value_type, allow_aggregates);
        }
    }
    let nulls = vec![Scalar::Null; properties.len()];
    let samples: Vec<Scalar> = properties
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| match TsxType::of_value_type(*ty) {
            TsxType::Double => Scalar::Double(i as f64 * 1.5 - 2.0),
            TsxType::Long => Scalar::Long(i as i64 - 1),
            TsxType::Bool => Scalar::Bool(i % 2 == 0),
            TsxType::String => Scalar::String("Héllo wörld".into()),
            TsxType::DateTime => Scalar::DateTime(1_767_225_600_000_000_000),
            TsxType::TimeSpan => Scalar::TimeSpan(1_000_000_000),
            TsxType::Null => Scalar::Null,
        })
        .collect();
    let _ = expr.matches(&nulls, 0, &Scalar::Null);
    let _ = expr.eval(&samples, 1_767_225_600_000_000_000, &Scalar::Double(2.5));
    let _ = expr.eval_with_aggregates(&samples, 0, &Scalar::Long(7), &|e| match e {
        Expr::Aggregate { func: AggFn::Count, .. } => Scalar::Long(3),
        _ => Scalar::Double(1.25),
    });
    let _ = (expr.aggregates().len(), expr.has_aggregates(), expr.start());
}
