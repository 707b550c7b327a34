//! TSX tokens, read one at a time as the parser asks, so that the first error in the text is
//! the one reported. Positions are character indices.

use super::TsxError;

/// One segment of a `$event` property path.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Segment {
    /// The segment's text, escapes resolved.
    pub(super) text: String,
    /// Written in brackets (`['...']`): never a type name.
    pub(super) quoted: bool,
}

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// A number as written (without sign); `float` when it has a fraction or exponent.
    Number {
        text: String,
        float: bool,
    },
    /// `'text'`, escapes resolved.
    Str(String),
    /// `dt'...'`: the text between the quotes.
    DateTime(String),
    /// `ts'...'`: the text between the quotes.
    TimeSpan(String),
    /// A keyword or function name.
    Ident(String),
    /// `$event.a.b`, `$event['x'].Double`: the segments after `$event`.
    Property(Vec<Segment>),
    /// `$event.$ts`.
    EventTs,
    /// `$instance.Name` or `$instance['Name']`: an instance field of the twin queried,
    /// replaced by its value before the text is parsed (see `bind_instance_fields`).
    Instance(String),
    /// `$value`.
    Value,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    /// `=` or `==`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// End of the text.
    Eof,
}

/// A token and where it is.
#[derive(Clone, Debug)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// Position of its first character.
    pub(super) pos: usize,
    /// Position just after its last character.
    pub(super) end: usize,
}

/// Reads tokens from a text.
pub(super) struct Lexer {
    chars: Vec<char>,
    i: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Lexer {
    pub(super) fn new(text: &str) -> Self {
        Lexer {
            chars: text.chars().collect(),
            i: 0,
        }
    }

    /// How a token reads in a message: `'AND'`, `end of input`.
    pub(super) fn describe(&self, t: &Token) -> String {
        if t.tok == Tok::Eof {
            return "end of input".to_owned();
        }
        let end = t.end.min(self.chars.len());
        let text: String = self.chars[t.pos.min(end)..end].iter().take(40).collect();
        if end - t.pos > 40 {
            format!("'{text}...'")
        } else {
            format!("'{text}'")
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    /// The next character that is not whitespace, without moving.
    pub(super) fn next_char(&self) -> Option<char> {
        self.chars[self.i.min(self.chars.len())..]
            .iter()
            .copied()
            .find(|c| !c.is_whitespace())
    }

    /// The character at the cursor as a message word.
    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("'{c}'"),
            None => "end of input".to_owned(),
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_ident_char) {
            self.i += 1;
        }
        self.chars[start..self.i].iter().collect()
    }

    /// The next token.
    pub(super) fn next_token(&mut self) -> Result<Token, TsxError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
        let pos = self.i;
        let Some(c) = self.peek() else {
            return Ok(Token {
                tok: Tok::Eof,
                pos,
                end: pos,
            });
        };
        let tok = match c {
            '0'..='9' => self.number()?,
            '\'' => Tok::Str(self.quoted()?),
            '$' => self.dollar()?,
            c if is_ident_start(c) => {
                let word = self.ident();
                let literal = word.eq_ignore_ascii_case("dt") || word.eq_ignore_ascii_case("ts");
                if literal && self.peek() == Some('\'') {
                    let text = self.quoted()?;
                    if word.eq_ignore_ascii_case("dt") {
                        Tok::DateTime(text)
                    } else {
                        Tok::TimeSpan(text)
                    }
                } else {
                    Tok::Ident(word)
                }
            }
            _ => {
                self.i += 1;
                let next = self.peek();
                let mut two = |tok: Tok| {
                    self.i += 1;
                    tok
                };
                match (c, next) {
                    ('(', _) => Tok::LParen,
                    (')', _) => Tok::RParen,
                    (',', _) => Tok::Comma,
                    ('+', _) => Tok::Plus,
                    ('-', _) => Tok::Minus,
                    ('*', _) => Tok::Star,
                    ('/', _) => Tok::Slash,
                    ('=', Some('=')) => two(Tok::Eq),
                    ('=', _) => Tok::Eq,
                    ('!', Some('=')) => two(Tok::Ne),
                    ('<', Some('=')) => two(Tok::Le),
                    ('<', Some('>')) => two(Tok::Ne),
                    ('<', _) => Tok::Lt,
                    ('>', Some('=')) => two(Tok::Ge),
                    ('>', _) => Tok::Gt,
                    ('!', _) => {
                        return Err(TsxError::new(
                            pos,
                            "unexpected character '!' (write NOT, or != for 'not equal')",
                        ));
                    }
                    ('"', _) => {
                        return Err(TsxError::new(
                            pos,
                            "unexpected character '\"': strings are written in single quotes",
                        ));
                    }
                    _ => return Err(TsxError::new(pos, format!("unexpected character '{c}'"))),
                }
            }
        };
        Ok(Token { tok, pos, end: self.i })
    }

    /// `digits [. digits] [e [+-] digits]`.
    fn number(&mut self) -> Result<Tok, TsxError> {
        let start = self.i;
        let mut float = false;
        let digits = |lx: &mut Lexer| {
            let from = lx.i;
            while lx.peek().is_some_and(|c| c.is_ascii_digit()) {
                lx.i += 1;
            }
            lx.i > from
        };
        digits(self);
        if self.peek() == Some('.') {
            self.i += 1;
            float = true;
            if !digits(self) {
                return Err(TsxError::new(
                    self.i,
                    format!("expected a digit after the decimal point but found {}", self.found()),
                ));
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.i += 1;
            float = true;
            if matches!(self.peek(), Some('+' | '-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(TsxError::new(
                    self.i,
                    format!("expected the digits of an exponent but found {}", self.found()),
                ));
            }
        }
        if let Some(c) = self.peek().filter(|&c| is_ident_char(c) || c == '.') {
            return Err(TsxError::new(
                self.i,
                format!("unexpected character '{c}' after a number"),
            ));
        }
        Ok(Tok::Number {
            text: self.chars[start..self.i].iter().collect(),
            float,
        })
    }

    /// A single-quoted text at the cursor; `\'` and `\\` are its escapes.
    fn quoted(&mut self) -> Result<String, TsxError> {
        let open = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(TsxError::new(open, "unterminated string literal: expected a closing '"));
            };
            self.i += 1;
            match c {
                '\'' => return Ok(out),
                '\\' => match self.peek() {
                    Some(e @ ('\\' | '\'')) => {
                        out.push(e);
                        self.i += 1;
                    }
                    Some(e) => {
                        return Err(TsxError::new(
                            self.i - 1,
                            format!("invalid escape sequence '\\{e}' in a quoted text: only \\\\ and \\' are escapes"),
                        ));
                    }
                    None => {
                        return Err(TsxError::new(open, "unterminated string literal: expected a closing '"));
                    }
                },
                c => out.push(c),
            }
        }
    }

    /// `$event...` or `$value`.
    fn dollar(&mut self) -> Result<Tok, TsxError> {
        let pos = self.i;
        self.i += 1;
        let word = self.ident();
        if word.eq_ignore_ascii_case("value") {
            return Ok(Tok::Value);
        }
        if word.eq_ignore_ascii_case("instance") {
            return self.instance_field();
        }
        if !word.eq_ignore_ascii_case("event") {
            return Err(TsxError::new(
                pos,
                format!("unknown name '${word}': expected $event, $value or $instance"),
            ));
        }
        let mut segments = Vec::new();
        loop {
            match self.peek() {
                Some('.') => {
                    self.i += 1;
                    match self.peek() {
                        Some('$') if segments.is_empty() => {
                            let at = self.i;
                            self.i += 1;
                            let name = self.ident();
                            if !name.eq_ignore_ascii_case("ts") {
                                return Err(TsxError::new(
                                    at,
                                    format!("unknown built-in property '${name}': expected $ts"),
                                ));
                            }
                            if matches!(self.peek(), Some('.' | '[')) {
                                return Err(TsxError::new(self.i, "nothing may follow $event.$ts"));
                            }
                            return Ok(Tok::EventTs);
                        }
                        _ => segments.push(self.name_after_dot(|found| {
                            format!(
                                "expected a property name after '.' but found {found} \
                                 (names with special characters go in brackets: $event['a-b'])"
                            )
                        })?),
                    }
                }
                Some('[') => segments.push(self.bracketed()?),
                _ => break,
            }
        }
        if segments.is_empty() {
            return Err(TsxError::new(
                self.i,
                format!("expected '.' or '[' after $event but found {}", self.found()),
            ));
        }
        Ok(Tok::Property(segments))
    }

    /// The name after a `.`: `['name']`, `[name]` or an identifier; else the error `message`
    /// makes of what was found.
    fn name_after_dot(&mut self, message: impl FnOnce(&str) -> String) -> Result<Segment, TsxError> {
        match self.peek() {
            Some('[') => self.bracketed(),
            Some(c) if is_ident_start(c) => Ok(Segment {
                text: self.ident(),
                quoted: false,
            }),
            _ => Err(TsxError::new(self.i, message(&self.found()))),
        }
    }

    /// The field name after `$instance`: `.Name` or `['Name']`, one segment.
    fn instance_field(&mut self) -> Result<Tok, TsxError> {
        let segment = match self.peek() {
            Some('[') => self.bracketed()?,
            Some('.') => {
                self.i += 1;
                self.name_after_dot(|found| {
                    format!("expected an instance field name after '$instance.' but found {found}")
                })?
            }
            _ => {
                return Err(TsxError::new(
                    self.i,
                    format!("expected '.' or '[' after $instance but found {}", self.found()),
                ));
            }
        };
        if matches!(self.peek(), Some('.' | '[')) {
            return Err(TsxError::new(
                self.i,
                "an instance field is one name: $instance.Building or $instance['Floor name']",
            ));
        }
        Ok(Tok::Instance(segment.text))
    }

    /// `['name']` or `[name]` at the cursor.
    fn bracketed(&mut self) -> Result<Segment, TsxError> {
        let open = self.i;
        self.i += 1;
        if self.peek() != Some('\'') {
            return self.bare_bracketed(open);
        }
        let text = self.quoted()?;
        if self.peek() != Some(']') {
            return Err(TsxError::new(
                self.i,
                format!("expected ']' after the quoted property name but found {}", self.found()),
            ));
        }
        self.i += 1;
        if text.is_empty() {
            return Err(TsxError::new(open, "empty property name"));
        }
        Ok(Segment { text, quoted: true })
    }

    /// `[name]` without quotes, as TSI's 2020-07-31 examples write `$event.[Status].String`;
    /// the cursor is after `[`. The name runs to the first `]` and may hold any character but
    /// `[`, `]`, `'`, `\` and control characters, and may not start or end with whitespace
    /// (names needing those are written quoted: `['a]b']`).
    fn bare_bracketed(&mut self, open: usize) -> Result<Segment, TsxError> {
        let start = self.i;
        let mut text = String::new();
        loop {
            match self.peek() {
                Some(']') => break,
                None => {
                    return Err(TsxError::new(
                        open,
                        "unterminated property name: '[' without a closing ']'",
                    ));
                }
                Some(c) if matches!(c, '[' | '\'' | '\\') || c.is_control() => {
                    return Err(TsxError::new(
                        self.i,
                        format!(
                            "unexpected character {c:?} in a bracketed property name: \
                             names with [ ] ' \\ or control characters are quoted, e.g. $event['a]b']"
                        ),
                    ));
                }
                Some(c) => {
                    text.push(c);
                    self.i += 1;
                }
            }
        }
        if text.is_empty() {
            return Err(TsxError::new(open, "empty property name"));
        }
        if text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
            return Err(TsxError::new(
                start,
                "a bracketed property name may not start or end with whitespace (quote it: $event[' a '])",
            ));
        }
        self.i += 1;
        Ok(Segment { text, quoted: true })
    }
}
