//! The scalar functions of TSX: their names and argument counts. Their types are in
//! `check.rs`, their values in `eval.rs`. The list is the "Supported scalar functions" section
//! of TSI's Time Series Expression syntax reference
//! (learn.microsoft.com/rest/api/time-series-insights/reference-time-series-expression-syntax),
//! plus three documented Gen1 extensions.

use std::fmt;

/// The scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    /// `coalesce(a, b, ...)`: the first non-NULL argument (2 to 64 arguments of one type).
    Coalesce,
    /// `iff(cond, a, b)`: `a` when `cond` is TRUE, else `b`.
    Iff,
    /// `round(x)`: nearest whole number, halves away from zero.
    Round,
    /// `floor(x)`: largest whole number not above `x`.
    Floor,
    /// `ceiling(x)`: smallest whole number not below `x`.
    Ceiling,
    /// `cos(x)`: cosine of an angle in radians.
    Cos,
    /// `sin(x)`: sine of an angle in radians.
    Sin,
    /// `tan(x)`: tangent of an angle in radians.
    Tan,
    /// `acos(x)`: the angle in radians, in [0, π], whose cosine is `x` (NULL outside [-1, 1]).
    Acos,
    /// `asin(x)`: the angle in radians, in [-π/2, π/2], whose sine is `x` (NULL outside [-1, 1]).
    Asin,
    /// `atan(x)`: the angle in radians, in (-π/2, π/2), whose tangent is `x`.
    Atan,
    /// `atan2(y, x)`: the angle in radians, in (-π, π], of the point (x, y); the tangent of
    /// the angle is `y / x`.
    Atan2,
    /// `log(x)`: natural logarithm (NULL for `x <= 0`).
    Log,
    /// `log2(x)`: base-2 logarithm (NULL for `x <= 0`).
    Log2,
    /// `log10(x)`: base-10 logarithm (NULL for `x <= 0`).
    Log10,
    /// `monthOfYear(t)`: the month, 1 to 12, of a DateTime in UTC.
    MonthOfYear,
    /// `dayOfMonth(t)`: the day of the month, 1 to 31, of a DateTime in UTC.
    DayOfMonth,
    /// `hourOfDay(t)`: the hour, 0 to 23, of a DateTime in UTC.
    HourOfDay,
    /// `utcNow()`: the current time of the system clock, read when evaluated (the evaluator
    /// does not see the store's `Options::clock`; the query compiler would have to pass it).
    UtcNow,
    /// `toDouble(x)` from Double, Long, String (parsed; NULL if it does not parse) or Bool.
    ToDouble,
    /// `toLong(x)` from Double (truncated; NULL out of range), Long, String or Bool.
    ToLong,
    /// `toString(x)` of any value.
    ToString,
    /// `toUpper(s)`.
    ToUpper,
    /// `toLower(s)`.
    ToLower,
    /// `strLen(s)`: length in characters.
    StrLen,
    /// `strCat(a, b, ...)`: two or more strings joined.
    StrCat,
    /// `subString(s, start, length?)`: characters from a 0-based start; `start` and `length`
    /// are Double (as TSI writes them, truncated towards zero) or Long.
    SubString,
    /// `trim(s)`: without leading and trailing whitespace.
    Trim,
    /// `indexOf(s, needle)`: character index of the first occurrence, or -1.
    IndexOf,
    /// `replace(s, old, new)`: every occurrence of `old` replaced.
    Replace,
    /// `startsWith(s, prefix)` (Gen1 extension).
    StartsWith,
    /// `endsWith(s, suffix)` (Gen1 extension).
    EndsWith,
    /// `contains(s, needle)` (Gen1 extension).
    Contains,
}

impl Func {
    /// Every scalar function.
    pub const ALL: [Func; 33] = [
        Func::Coalesce,
        Func::Iff,
        Func::Round,
        Func::Floor,
        Func::Ceiling,
        Func::Cos,
        Func::Sin,
        Func::Tan,
        Func::Acos,
        Func::Asin,
        Func::Atan,
        Func::Atan2,
        Func::Log,
        Func::Log2,
        Func::Log10,
        Func::MonthOfYear,
        Func::DayOfMonth,
        Func::HourOfDay,
        Func::UtcNow,
        Func::ToDouble,
        Func::ToLong,
        Func::ToString,
        Func::ToUpper,
        Func::ToLower,
        Func::StrLen,
        Func::StrCat,
        Func::SubString,
        Func::Trim,
        Func::IndexOf,
        Func::Replace,
        Func::StartsWith,
        Func::EndsWith,
        Func::Contains,
    ];

    /// The TSX spelling.
    pub fn name(self) -> &'static str {
        match self {
            Func::Coalesce => "coalesce",
            Func::Iff => "iff",
            Func::Round => "round",
            Func::Floor => "floor",
            Func::Ceiling => "ceiling",
            Func::Cos => "cos",
            Func::Sin => "sin",
            Func::Tan => "tan",
            Func::Acos => "acos",
            Func::Asin => "asin",
            Func::Atan => "atan",
            Func::Atan2 => "atan2",
            Func::Log => "log",
            Func::Log2 => "log2",
            Func::Log10 => "log10",
            Func::MonthOfYear => "monthOfYear",
            Func::DayOfMonth => "dayOfMonth",
            Func::HourOfDay => "hourOfDay",
            Func::UtcNow => "utcNow",
            Func::ToDouble => "toDouble",
            Func::ToLong => "toLong",
            Func::ToString => "toString",
            Func::ToUpper => "toUpper",
            Func::ToLower => "toLower",
            Func::StrLen => "strLen",
            Func::StrCat => "strCat",
            Func::SubString => "subString",
            Func::Trim => "trim",
            Func::IndexOf => "indexOf",
            Func::Replace => "replace",
            Func::StartsWith => "startsWith",
            Func::EndsWith => "endsWith",
            Func::Contains => "contains",
        }
    }

    /// The function of a name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The least and the most number of arguments.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::UtcNow => (0, 0),
            Func::Coalesce => (2, 64),
            Func::Iff | Func::Replace => (3, 3),
            Func::Round
            | Func::Floor
            | Func::Ceiling
            | Func::Cos
            | Func::Sin
            | Func::Tan
            | Func::Acos
            | Func::Asin
            | Func::Atan
            | Func::Log
            | Func::Log2
            | Func::Log10
            | Func::MonthOfYear
            | Func::DayOfMonth
            | Func::HourOfDay
            | Func::ToDouble
            | Func::ToLong
            | Func::ToString
            | Func::ToUpper
            | Func::ToLower
            | Func::StrLen
            | Func::Trim => (1, 1),
            Func::StrCat => (2, usize::MAX),
            Func::SubString => (2, 3),
            Func::Atan2 | Func::IndexOf | Func::StartsWith | Func::EndsWith | Func::Contains => (2, 2),
        }
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
