//! TSI's search string (`searchString` of instances `search`): terms and `'quoted phrases'`,
//! `?` and `*` wildcards within a term, and the Boolean operators TSI documents, `AND`
//! (`&&`), `OR` (`||`, also between terms with no operator), `NOT` (`!` before a term), `+`
//! (required) and `-` (prohibited). Operators are written in capitals and stand apart from
//! the terms. How a string matches is in docs/MODEL.md; here it is parsed and matched
//! against one field's lower-cased text.

/// How a term counts in a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Occur {
    /// One of the optional terms must match (when no term is required).
    Should,
    /// The term must match (`+term`, or next to `AND`).
    Must,
    /// The term must not match (`-term`, `!term`, `NOT term`).
    MustNot,
}

/// One term of a search string, lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Term {
    /// The text sought: a word, a phrase, or a pattern with `?` and `*`.
    pub(crate) text: String,
    /// `text` holds wildcards (phrases never do: TSI has no wildcards in phrases).
    pub(crate) wildcard: bool,
    pub(crate) occur: Occur,
}

impl Term {
    /// The longest run of `text` without wildcards: every match contains it.
    pub(crate) fn literal_core(&self) -> &str {
        if !self.wildcard {
            return &self.text;
        }
        self.text
            .split(['*', '?'])
            .max_by_key(|piece| piece.len())
            .unwrap_or_default()
    }

    /// Where the term first matches in `field` (lower-cased, one field: no `\n`), as byte
    /// offsets; the shortest match at the leftmost place.
    pub(crate) fn find(&self, field: &str) -> Option<(usize, usize)> {
        if !self.wildcard {
            return memchr::memmem::find(field.as_bytes(), self.text.as_bytes()).map(|at| (at, at + self.text.len()));
        }
        let pattern: Vec<char> = self.text.chars().collect();
        let starts = field.char_indices().map(|(i, _)| i).chain(std::iter::once(field.len()));
        for start in starts {
            if let Some(len) = match_at(&field[start..], &pattern) {
                return Some((start, start + len));
            }
        }
        None
    }
}

/// The byte length of the shortest prefix of `text` that `pattern` matches (`?` one
/// character, `*` any run), if one does. Backtracks to the last `*` only, which suffices
/// for these patterns.
fn match_at(text: &str, pattern: &[char]) -> Option<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p == pattern.len() {
            return Some(chars.get(t).map_or(text.len(), |(i, _)| *i));
        }
        if pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
            continue;
        }
        if t < chars.len() && (pattern[p] == '?' || pattern[p] == chars[t].1) {
            t += 1;
            p += 1;
            continue;
        }
        match star {
            Some((sp, st)) if st < chars.len() => {
                star = Some((sp, st + 1));
                p = sp + 1;
                t = st + 1;
            }
            _ => return None,
        }
    }
}

/// A parsed search string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TextQuery {
    pub(crate) terms: Vec<Term>,
    /// The string matches nothing (it starts with `NOT`: TSI documents that `NOT dryer
    /// washer` returns no results).
    pub(crate) nothing: bool,
}

impl TextQuery {
    /// Parses a search string. Never fails: an unclosed quote runs to the end, a lone
    /// operator is ignored.
    pub(crate) fn parse(text: &str) -> TextQuery {
        let mut query = TextQuery::default();
        let mut next_occur: Option<Occur> = None;
        let mut after_and = false;
        let mut rest = text.trim_start();
        let mut first = true;
        while !rest.is_empty() {
            // One token: a quoted phrase (with its prefix) or a run of non-space characters.
            let (prefix, body) = match rest.as_bytes()[0] {
                b'+' | b'-' | b'!' if rest.len() > 1 && !rest.as_bytes()[1].is_ascii_whitespace() => {
                    (Some(rest.as_bytes()[0]), &rest[1..])
                }
                _ => (None, rest),
            };
            let (word, phrase, remainder) = if let Some(quoted) = body.strip_prefix('\'') {
                match quoted.find('\'') {
                    Some(end) => (&quoted[..end], true, &quoted[end + 1..]),
                    None => (quoted, true, ""),
                }
            } else {
                let end = body.find(char::is_whitespace).unwrap_or(body.len());
                (&body[..end], false, &body[end..])
            };
            rest = remainder.trim_start();
            let was_first = std::mem::replace(&mut first, false);
            if prefix.is_none() && !phrase {
                match word {
                    "AND" | "&&" => {
                        // The terms on both sides are required.
                        if let Some(last) = query.terms.last_mut()
                            && last.occur == Occur::Should
                        {
                            last.occur = Occur::Must;
                        }
                        after_and = true;
                        continue;
                    }
                    "OR" | "||" => continue,
                    "NOT" => {
                        if was_first {
                            query.nothing = true;
                        }
                        next_occur = Some(Occur::MustNot);
                        continue;
                    }
                    _ => {}
                }
            }
            let occur = match prefix {
                Some(b'+') => Occur::Must,
                Some(_) => Occur::MustNot,
                None => next_occur
                    .take()
                    .unwrap_or(if after_and { Occur::Must } else { Occur::Should }),
            };
            after_and = false;
            let text = word.to_lowercase();
            if text.is_empty() || (!phrase && text.chars().all(|c| c == '*')) {
                // `*` alone matches everything: no constraint.
                continue;
            }
            query.terms.push(Term {
                wildcard: !phrase && text.contains(['*', '?']),
                text,
                occur,
            });
        }
        query
    }

    /// No term constrains the match: every instance matches.
    pub(crate) fn matches_everything(&self) -> bool {
        self.terms.is_empty() && !self.nothing
    }

    /// The terms that add to a match (required and optional), for ranking and highlights.
    pub(crate) fn positive(&self) -> impl Iterator<Item = &Term> {
        self.terms.iter().filter(|t| t.occur != Occur::MustNot)
    }

    /// Whether an instance whose term hits are `hit(term index)` matches: every required
    /// term, no prohibited one, and, when none is required, one of the optional ones (a
    /// string of prohibited terms only takes everything else).
    pub(crate) fn combine(&self, hit: impl Fn(usize) -> bool) -> bool {
        if self.nothing {
            return false;
        }
        let (mut any_must, mut any_should, mut should_hit) = (false, false, false);
        for (n, t) in self.terms.iter().enumerate() {
            match t.occur {
                Occur::Must => {
                    any_must = true;
                    if !hit(n) {
                        return false;
                    }
                }
                Occur::MustNot => {
                    if hit(n) {
                        return false;
                    }
                }
                Occur::Should => {
                    any_should = true;
                    should_hit = should_hit || hit(n);
                }
            }
        }
        any_must || !any_should || should_hit
    }
}

/// `text` with each (case-insensitive) match of a positive term of `query` wrapped in
/// `<hit>` and `</hit>`.
pub(crate) fn highlight(text: &str, query: &TextQuery) -> String {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        // Lower-casing changed the byte length (rare scripts): no marks rather than wrong ones.
        return text.to_string();
    }
    let mut marked = vec![false; text.len()];
    for term in query.positive() {
        let mut from = 0;
        while from < lower.len() {
            let Some((start, end)) = term.find(&lower[from..]) else {
                break;
            };
            if end == start {
                break;
            }
            marked[from + start..from + end].iter_mut().for_each(|m| *m = true);
            from += end;
        }
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut inside = false;
    for (i, c) in text.char_indices() {
        if marked[i] != inside {
            out.push_str(if marked[i] { "<hit>" } else { "</hit>" });
            inside = marked[i];
        }
        out.push(c);
    }
    if inside {
        out.push_str("</hit>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurs(text: &str) -> Vec<(String, Occur)> {
        TextQuery::parse(text)
            .terms
            .into_iter()
            .map(|t| (t.text, t.occur))
            .collect()
    }

    #[test]
    fn operators_as_tsi_documents_them() {
        use Occur::*;
        assert_eq!(
            occurs("floor 100"),
            vec![("floor".into(), Should), ("100".into(), Should)]
        );
        assert_eq!(
            occurs("dryer washer AND foo bar"),
            vec![
                ("dryer".into(), Should),
                ("washer".into(), Must),
                ("foo".into(), Must),
                ("bar".into(), Should)
            ]
        );
        assert_eq!(
            occurs("dryer && washer"),
            vec![("dryer".into(), Must), ("washer".into(), Must)]
        );
        assert_eq!(
            occurs("+dryer washer"),
            vec![("dryer".into(), Must), ("washer".into(), Should)]
        );
        assert_eq!(
            occurs("dryer washer -foo !bar NOT baz"),
            vec![
                ("dryer".into(), Should),
                ("washer".into(), Should),
                ("foo".into(), MustNot),
                ("bar".into(), MustNot),
                ("baz".into(), MustNot)
            ]
        );
        assert_eq!(
            occurs("'dryer washer' OR Dryer"),
            vec![("dryer washer".into(), Should), ("dryer".into(), Should)]
        );
        // Lower-case words are terms, not operators; `! x` is no prefix.
        assert_eq!(
            occurs("a and b"),
            vec![("a".into(), Should), ("and".into(), Should), ("b".into(), Should)]
        );
        assert_eq!(
            occurs("a ! b"),
            vec![("a".into(), Should), ("!".into(), Should), ("b".into(), Should)]
        );
        assert!(TextQuery::parse("NOT dryer washer").nothing);
        assert!(TextQuery::parse("  ").matches_everything());
        assert!(TextQuery::parse("*").matches_everything());
    }

    #[test]
    fn combining_hits() {
        let q = TextQuery::parse("dryer washer AND foo bar");
        // washer and foo required; dryer and bar optional.
        let with = |words: &[&str]| q.combine(|n| words.contains(&q.terms[n].text.as_str()));
        assert!(with(&["washer", "foo"]));
        assert!(!with(&["dryer", "washer", "bar"]));
        let q = TextQuery::parse("dryer washer -foo");
        let with = |words: &[&str]| q.combine(|n| words.contains(&q.terms[n].text.as_str()));
        assert!(with(&["washer"]));
        assert!(!with(&["washer", "foo"]));
        assert!(!with(&[]));
        let q = TextQuery::parse("-foo");
        assert!(q.combine(|_| false));
        assert!(!q.combine(|_| true));
    }

    #[test]
    fn wildcards_match_within_a_field() {
        let term = |text: &str| TextQuery::parse(text).terms.remove(0);
        assert_eq!(term("te?t").find("a test here"), Some((2, 6)));
        assert_eq!(term("te?t").find("a tet here"), None);
        assert_eq!(term("dr*r").find("the dryer"), Some((4, 9)));
        assert_eq!(term("test*").find("testers"), Some((0, 4)));
        assert_eq!(term("*mostat6?").find("thermostat67"), Some((0, 12)));
        assert_eq!(term("ü?x").find("aüyx"), Some((1, 5)));
        assert_eq!(term("dr*r").literal_core(), "dr");
        assert_eq!(term("'te?t'").find("te?t"), Some((0, 4)), "no wildcards in phrases");
    }

    #[test]
    fn highlights_mark_every_match_case_insensitively() {
        let q = TextQuery::parse("floor f?x -room");
        assert_eq!(
            highlight("Floor 2, FLOOR 3", &q),
            "<hit>Floor</hit> 2, <hit>FLOOR</hit> 3"
        );
        assert_eq!(highlight("a fix, a room", &q), "a <hit>fix</hit>, a room");
        assert_eq!(highlight("nothing", &q), "nothing");
    }
}
