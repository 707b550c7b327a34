//! Recursive descent over the tokens, one function per precedence level:
//!
//! ```text
//! or      := and (OR and)*
//! and     := not (AND not)*
//! not     := NOT not | cmp
//! cmp     := add ((= | != | < | <= | > | >=) add | IN '(' or (',' or)* ')' | HAS add)*
//! add     := mul ((+ | -) mul)*
//! mul     := unary ((* | /) unary)*
//! unary   := - unary | primary
//! primary := literal | $event... | $value | '(' or ')' | name '(' [or (',' or)*] ')'
//! ```
//!
//! Each function returns the node and its height, so that long operator chains are refused
//! before they make a tree too deep to walk recursively; nesting (parentheses, calls, prefix
//! operators) is counted apart, as it bounds the parser's own recursion.

use super::lexer::{Lexer, Segment, Tok, Token};
use super::{AggFn, BinaryOp, Expr, Func, MAX_HEIGHT, MAX_INPUT_BYTES, MAX_NESTING, Scalar, TsxError, UnaryOp};
use crate::model::{Timestamp, ValueType};

/// A node and the height of its tree (a leaf is 1).
type Parsed = (Expr, usize);

/// Parses a whole text (without binding property slots).
pub(super) fn parse(text: &str) -> Result<Expr, TsxError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(TsxError::new(
            0,
            format!("expression too long: {} bytes, at most {MAX_INPUT_BYTES}", text.len()),
        ));
    }
    let mut lexer = Lexer::new(text);
    let cur = lexer.next_token()?;
    let mut p = Parser { lexer, cur, depth: 0 };
    let (expr, _) = p.or()?;
    if p.cur.tok != Tok::Eof {
        return Err(p.expected("an operator or end of input"));
    }
    Ok(expr)
}

struct Parser {
    lexer: Lexer,
    /// The current (not yet consumed) token.
    cur: Token,
    /// Open parentheses, calls and prefix operators around the cursor.
    depth: usize,
}

/// Keywords are identifiers, matched case-insensitively.
fn is_keyword(tok: &Tok, keyword: &str) -> bool {
    matches!(tok, Tok::Ident(w) if w.eq_ignore_ascii_case(keyword))
}

const KEYWORDS: [&str; 8] = ["AND", "OR", "NOT", "TRUE", "FALSE", "NULL", "IN", "HAS"];

impl Parser {
    /// Consumes the current token and returns it.
    fn advance(&mut self) -> Result<Token, TsxError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.cur, next))
    }

    /// "expected {what} but found {current token}", at the current token.
    fn expected(&self, what: &str) -> TsxError {
        TsxError::new(
            self.cur.pos,
            format!("expected {what} but found {}", self.lexer.describe(&self.cur)),
        )
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), TsxError> {
        if self.cur.tok != tok {
            return Err(self.expected(what));
        }
        self.advance()?;
        Ok(())
    }

    /// One more level of nesting at `pos`.
    fn enter(&mut self, pos: usize) -> Result<(), TsxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(TsxError::new(
                pos,
                format!(
                    "expression nested too deeply: more than {MAX_NESTING} levels of parentheses, calls or prefix operators"
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// A node over children of height `below`, refused when the tree gets too deep.
    fn node(expr: Expr, below: usize) -> Result<Parsed, TsxError> {
        let height = below + 1;
        if height > MAX_HEIGHT {
            return Err(TsxError::new(
                expr.pos(),
                format!("expression too deep: more than {MAX_HEIGHT} levels of operators and calls"),
            ));
        }
        Ok((expr, height))
    }

    fn binary(op: BinaryOp, (left, hl): Parsed, (right, hr): Parsed, pos: usize) -> Result<Parsed, TsxError> {
        let expr = Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            pos,
        };
        Parser::node(expr, hl.max(hr))
    }

    fn or(&mut self) -> Result<Parsed, TsxError> {
        let mut left = self.and()?;
        while is_keyword(&self.cur.tok, "OR") {
            let pos = self.advance()?.pos;
            let right = self.and()?;
            left = Parser::binary(BinaryOp::Or, left, right, pos)?;
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Parsed, TsxError> {
        let mut left = self.not()?;
        while is_keyword(&self.cur.tok, "AND") {
            let pos = self.advance()?.pos;
            let right = self.not()?;
            left = Parser::binary(BinaryOp::And, left, right, pos)?;
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Parsed, TsxError> {
        if !is_keyword(&self.cur.tok, "NOT") {
            return self.comparison();
        }
        let pos = self.advance()?.pos;
        self.enter(pos)?;
        let (arg, h) = self.not()?;
        self.leave();
        let expr = Expr::Unary {
            op: UnaryOp::Not,
            arg: Box::new(arg),
            pos,
        };
        Parser::node(expr, h)
    }

    fn comparison(&mut self) -> Result<Parsed, TsxError> {
        let mut left = self.additive()?;
        loop {
            let op = match &self.cur.tok {
                Tok::Eq => BinaryOp::Eq,
                Tok::Ne => BinaryOp::Ne,
                Tok::Lt => BinaryOp::Lt,
                Tok::Le => BinaryOp::Le,
                Tok::Gt => BinaryOp::Gt,
                Tok::Ge => BinaryOp::Ge,
                t if is_keyword(t, "IN") => {
                    left = self.in_list(left)?;
                    continue;
                }
                t if is_keyword(t, "HAS") => {
                    let pos = self.advance()?.pos;
                    let (arg, ha) = left;
                    let (needle, hn) = self.additive()?;
                    let expr = Expr::Has {
                        arg: Box::new(arg),
                        needle: Box::new(needle),
                        pos,
                    };
                    left = Parser::node(expr, ha.max(hn))?;
                    continue;
                }
                _ => return Ok(left),
            };
            let pos = self.advance()?.pos;
            let right = self.additive()?;
            left = Parser::binary(op, left, right, pos)?;
        }
    }

    /// `IN (a, b, ...)` after `arg`.
    fn in_list(&mut self, (arg, mut height): Parsed) -> Result<Parsed, TsxError> {
        let pos = self.advance()?.pos;
        let open = self.cur.pos;
        self.expect(Tok::LParen, "'(' after IN")?;
        self.enter(open)?;
        let mut list = Vec::new();
        loop {
            let (item, h) = self.or()?;
            list.push(item);
            height = height.max(h);
            if self.cur.tok != Tok::Comma {
                break;
            }
            self.advance()?;
        }
        self.expect(Tok::RParen, "',' or ')' in the IN list")?;
        self.leave();
        let expr = Expr::In {
            arg: Box::new(arg),
            list,
            pos,
        };
        Parser::node(expr, height)
    }

    fn additive(&mut self) -> Result<Parsed, TsxError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.cur.tok {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => return Ok(left),
            };
            let pos = self.advance()?.pos;
            let right = self.multiplicative()?;
            left = Parser::binary(op, left, right, pos)?;
        }
    }

    fn multiplicative(&mut self) -> Result<Parsed, TsxError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.cur.tok {
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                _ => return Ok(left),
            };
            let pos = self.advance()?.pos;
            let right = self.unary()?;
            left = Parser::binary(op, left, right, pos)?;
        }
    }

    fn unary(&mut self) -> Result<Parsed, TsxError> {
        if self.cur.tok != Tok::Minus {
            return self.primary();
        }
        let pos = self.advance()?.pos;
        // A minus before a number is part of the literal: that is how i64::MIN is written.
        if let Tok::Number { text, float } = &self.cur.tok {
            let value = number(&format!("-{text}"), *float, pos)?;
            self.advance()?;
            return Ok((Expr::Literal { value, pos }, 1));
        }
        self.enter(pos)?;
        let (arg, h) = self.unary()?;
        self.leave();
        let expr = Expr::Unary {
            op: UnaryOp::Neg,
            arg: Box::new(arg),
            pos,
        };
        Parser::node(expr, h)
    }

    fn primary(&mut self) -> Result<Parsed, TsxError> {
        let pos = self.cur.pos;
        let leaf = |expr: Expr| Ok((expr, 1));
        match &self.cur.tok {
            Tok::Number { text, float } => {
                let value = number(text, *float, pos)?;
                self.advance()?;
                leaf(Expr::Literal { value, pos })
            }
            Tok::Str(s) => {
                let value = Scalar::String(s.as_str().into());
                self.advance()?;
                leaf(Expr::Literal { value, pos })
            }
            Tok::DateTime(text) => {
                let t = Timestamp::parse(text)
                    .map_err(|e| TsxError::new(pos, format!("invalid date-time literal: {e}")))?;
                self.advance()?;
                leaf(Expr::Literal {
                    value: Scalar::DateTime(t.as_nanos()),
                    pos,
                })
            }
            Tok::TimeSpan(text) => {
                let nanos = parse_timespan(text).map_err(|e| TsxError::new(pos, e))?;
                self.advance()?;
                leaf(Expr::Literal {
                    value: Scalar::TimeSpan(nanos),
                    pos,
                })
            }
            Tok::Property(segments) => {
                let (name, ty) = property_name(segments);
                self.advance()?;
                leaf(Expr::Property { name, ty, slot: 0, pos })
            }
            Tok::EventTs => {
                self.advance()?;
                leaf(Expr::Timestamp { pos })
            }
            Tok::Value => {
                self.advance()?;
                leaf(Expr::Value { pos })
            }
            Tok::Instance(name) => Err(TsxError::new(
                pos,
                format!(
                    "$instance.{name}: instance fields are read in a query's filter only (a type's \
                     variables cannot use them)"
                ),
            )),
            Tok::LParen => {
                self.advance()?;
                self.enter(pos)?;
                let inner = self.or()?;
                self.expect(Tok::RParen, "')'")?;
                self.leave();
                Ok(inner)
            }
            Tok::Ident(word) => {
                let value = if word.eq_ignore_ascii_case("TRUE") {
                    Some(Scalar::Bool(true))
                } else if word.eq_ignore_ascii_case("FALSE") {
                    Some(Scalar::Bool(false))
                } else if word.eq_ignore_ascii_case("NULL") {
                    Some(Scalar::Null)
                } else {
                    None
                };
                if let Some(value) = value {
                    self.advance()?;
                    return leaf(Expr::Literal { value, pos });
                }
                if KEYWORDS.iter().any(|k| word.eq_ignore_ascii_case(k)) {
                    return Err(self.expected("an expression"));
                }
                self.call()
            }
            _ => Err(self.expected("an expression")),
        }
    }

    /// A function call at the current identifier.
    fn call(&mut self) -> Result<Parsed, TsxError> {
        let pos = self.cur.pos;
        let Tok::Ident(name) = self.cur.tok.clone() else {
            return Err(self.expected("a function name"));
        };
        let scalar = Func::from_name(&name);
        let aggregate = AggFn::from_name(&name);
        if scalar.is_none() && aggregate.is_none() {
            // Decided before reading on, so that this is the error reported, not one further on.
            return Err(if self.lexer.next_char() == Some('(') {
                TsxError::new(pos, format!("unknown function '{name}'"))
            } else {
                TsxError::new(
                    pos,
                    format!("unexpected name '{name}': property references are written $event.{name}"),
                )
            });
        }
        self.advance()?;
        if self.cur.tok != Tok::LParen {
            return Err(self.expected(&format!("'(' after the function name '{name}'")));
        }
        let open = self.advance()?.pos;
        self.enter(open)?;
        let mut args = Vec::new();
        let mut height = 0;
        if self.cur.tok != Tok::RParen {
            loop {
                let (arg, h) = self.or()?;
                args.push(arg);
                height = height.max(h);
                if self.cur.tok != Tok::Comma {
                    break;
                }
                self.advance()?;
            }
        }
        self.expect(Tok::RParen, "',' or ')' after a function argument")?;
        self.leave();
        if let Some(func) = scalar {
            let (min, max) = func.arity();
            if args.len() < min || args.len() > max {
                let wanted = match (min, max) {
                    (1, 1) => "exactly 1 argument".to_owned(),
                    (a, b) if a == b => format!("exactly {a} arguments"),
                    (a, usize::MAX) => format!("at least {a} arguments"),
                    (a, b) => format!("{a} to {b} arguments"),
                };
                return Err(TsxError::new(
                    pos,
                    format!("function '{func}' takes {wanted} but was given {}", args.len()),
                ));
            }
            return Parser::node(Expr::Call { func, args, pos }, height);
        }
        let Some(func) = aggregate else {
            return Err(TsxError::new(pos, format!("unknown function '{name}'")));
        };
        let mut args = args.into_iter();
        let arg = args.next().map(Box::new);
        match (func, &arg, args.next()) {
            (AggFn::Count, None, _) => Parser::node(Expr::Aggregate { func, arg, pos }, height),
            (AggFn::Count, Some(_), _) => Err(TsxError::new(
                pos,
                "aggregate function 'count' takes no argument: write count()",
            )),
            (_, Some(_), None) => Parser::node(Expr::Aggregate { func, arg, pos }, height),
            _ => Err(TsxError::new(
                pos,
                format!("aggregate function '{func}' takes exactly 1 argument"),
            )),
        }
    }
}

/// A number literal's value (`text` includes the sign of a negative literal).
fn number(text: &str, float: bool, pos: usize) -> Result<Scalar, TsxError> {
    if float {
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Scalar::Double(v)),
            _ => Err(TsxError::new(
                pos,
                format!("number {text} is out of the range of Double"),
            )),
        }
    } else {
        text.parse::<i64>()
            .map(Scalar::Long)
            .map_err(|_| TsxError::new(pos, format!("integer {text} is out of the range of Long")))
    }
}

/// The property name and column type of a `$event` path: the last segment is the type when
/// it is an unbracketed TSI type name and not the only segment; the type is Double otherwise.
fn property_name(segments: &[Segment]) -> (String, ValueType) {
    let mut names = segments;
    let mut ty = ValueType::Double;
    if let [rest @ .., last] = segments
        && !rest.is_empty()
        && !last.quoted
        && let Some(t) = ValueType::from_name(&last.text).filter(|t| *t != ValueType::Removed)
    {
        names = rest;
        ty = t;
    }
    let name = names.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(".");
    (name, ty)
}

/// An ISO 8601 duration in nanoseconds: a week is 7 days, a day 24 hours, a month 30 days, a
/// year 365 days.
pub(super) fn parse_timespan(text: &str) -> Result<i64, String> {
    const SECOND: i128 = 1_000_000_000;
    const DAY: i128 = 86_400 * SECOND;
    let span = jiff::fmt::temporal::SpanParser::new()
        .parse_span(text.trim())
        .map_err(|e| format!("invalid time span literal '{text}': {e}"))?;
    let nanos = i128::from(span.get_years()) * 365 * DAY
        + i128::from(span.get_months()) * 30 * DAY
        + i128::from(span.get_weeks()) * 7 * DAY
        + i128::from(span.get_days()) * DAY
        + i128::from(span.get_hours()) * 3600 * SECOND
        + i128::from(span.get_minutes()) * 60 * SECOND
        + i128::from(span.get_seconds()) * SECOND
        + i128::from(span.get_milliseconds()) * 1_000_000
        + i128::from(span.get_microseconds()) * 1_000
        + i128::from(span.get_nanoseconds());
    i64::try_from(nanos).map_err(|_| format!("time span literal '{text}' is out of range (about 292 years at most)"))
}
