//! One column of a twin's warm table: a presence bitmap over the twin's rows (updates are
//! sparse) and the present values packed densely, in row order.

use std::sync::Arc;

use foldhash::HashMap;

use super::chunked::Chunked;
use crate::model::{FieldValue, Timestamp, Value};

/// Words of presence bits per rank-directory entry (512 rows).
const RANK_STRIDE: usize = 8;

/// Presence bits plus a rank directory, so that "how many values precede row r" costs at most
/// eight popcounts however long the column is.
#[derive(Default, Debug)]
pub(crate) struct Presence {
    words: Vec<u64>,
    /// `ranks[k]` = number of set bits in `words[..k * RANK_STRIDE]`.
    ranks: Vec<u32>,
    count: u32,
}

impl Presence {
    /// Marks `row` present. Rows are only ever set in increasing order.
    fn set(&mut self, row: usize) {
        let word = row / 64;
        while self.words.len() <= word {
            if self.words.len().is_multiple_of(RANK_STRIDE) {
                self.ranks.push(self.count);
            }
            self.words.push(0);
        }
        self.words[word] |= 1 << (row % 64);
        self.count += 1;
    }

    pub(crate) fn get(&self, row: usize) -> bool {
        self.words.get(row / 64).is_some_and(|w| w & (1 << (row % 64)) != 0)
    }

    /// The number of present rows before `row`.
    pub(crate) fn rank(&self, row: usize) -> usize {
        let word = row / 64;
        if word >= self.words.len() {
            return self.count as usize;
        }
        let block = word / RANK_STRIDE;
        let mut rank = self.ranks[block] as usize;
        for w in &self.words[block * RANK_STRIDE..word] {
            rank += w.count_ones() as usize;
        }
        let below = (1u64 << (row % 64)) - 1;
        rank + (self.words[word] & below).count_ones() as usize
    }

    /// The last present row below `end`, if any.
    pub(crate) fn last_before(&self, end: usize) -> Option<usize> {
        if end == 0 {
            return None;
        }
        let last = end - 1;
        let mut word = (last / 64).min(self.words.len().checked_sub(1)?);
        let mut mask = if word == last / 64 {
            u64::MAX >> (63 - last % 64)
        } else {
            u64::MAX
        };
        loop {
            let bits = self.words[word] & mask;
            if bits != 0 {
                return Some(word * 64 + 63 - bits.leading_zeros() as usize);
            }
            word = word.checked_sub(1)?;
            mask = u64::MAX;
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.count as usize
    }

    fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8 + self.ranks.capacity() * 4
    }
}

/// Distinct strings of a column, each stored once; rows hold a `u32` code.
#[derive(Default, Debug)]
pub(crate) struct Dictionary {
    codes: Chunked<u32>,
    entries: Vec<Arc<str>>,
    lookup: HashMap<Arc<str>, u32>,
    entry_bytes: usize,
}

impl Dictionary {
    fn push(&mut self, text: &str) {
        let code = match self.lookup.get(text) {
            Some(&code) => code,
            None => {
                let code = self.entries.len() as u32;
                let entry: Arc<str> = text.into();
                self.entries.push(entry.clone());
                self.lookup.insert(entry, code);
                self.entry_bytes += text.len();
                code
            }
        };
        self.codes.push(code);
    }

    fn get(&self, index: usize) -> Arc<str> {
        self.entries[self.codes.get(index) as usize].clone()
    }

    fn heap_bytes(&self) -> usize {
        // Each entry: the text, an Arc header (16), a Vec slot (16) and a map slot (~24).
        self.codes.heap_bytes() + self.entry_bytes + self.entries.len() * 56
    }
}

/// The packed values of a column; the variant is fixed by the column's type.
#[derive(Debug, Default)]
pub(crate) enum Values {
    /// No value yet.
    #[default]
    Empty,
    Double(Chunked<f64>),
    Long(Chunked<i64>),
    /// Nanoseconds since the epoch.
    DateTime(Chunked<i64>),
    Bool(Chunked<bool>),
    String(Dictionary),
    Dynamic(Dictionary),
    /// Removal markers carry no value.
    Removed,
}

/// A column: which rows have a value, and the values.
#[derive(Default, Debug)]
pub(crate) struct ColumnData {
    pub(crate) presence: Presence,
    values: Values,
}

impl ColumnData {
    /// Appends `value` at `row` (rows strictly increase per column).
    pub(crate) fn push(&mut self, row: usize, value: &FieldValue<'_>) {
        self.presence.set(row);
        match (&mut self.values, value) {
            (Values::Double(v), FieldValue::Double(x)) => v.push(*x),
            (Values::Long(v), FieldValue::Long(x)) => v.push(*x),
            (Values::DateTime(v), FieldValue::DateTime(x)) => v.push(x.as_nanos()),
            (Values::Bool(v), FieldValue::Bool(x)) => v.push(*x),
            (Values::String(d), FieldValue::Str(x)) => d.push(x),
            (Values::Dynamic(d), FieldValue::Dynamic(x)) => d.push(x),
            (Values::Removed, FieldValue::Removed) => {}
            (values @ Values::Empty, value) => {
                fn one<T: Copy>(v: T) -> Chunked<T> {
                    let mut c = Chunked::default();
                    c.push(v);
                    c
                }
                *values = match value {
                    FieldValue::Double(x) => Values::Double(one(*x)),
                    FieldValue::Long(x) => Values::Long(one(*x)),
                    FieldValue::DateTime(x) => Values::DateTime(one(x.as_nanos())),
                    FieldValue::Bool(x) => Values::Bool(one(*x)),
                    FieldValue::Str(x) => {
                        let mut d = Dictionary::default();
                        d.push(x);
                        Values::String(d)
                    }
                    FieldValue::Dynamic(x) => {
                        let mut d = Dictionary::default();
                        d.push(x);
                        Values::Dynamic(d)
                    }
                    FieldValue::Removed => Values::Removed,
                }
            }
            // The catalog maps (name, type) to a column, so a column only sees one type.
            (values, value) => unreachable!("column of {values:?} got {value:?}"),
        }
    }

    /// The value with packed index `index` (the rank of its row).
    pub(crate) fn value(&self, index: usize) -> Value {
        match &self.values {
            Values::Double(v) => Value::Double(v.get(index)),
            Values::Long(v) => Value::Long(v.get(index)),
            Values::DateTime(v) => Value::DateTime(Timestamp::from_nanos(v.get(index))),
            Values::Bool(v) => Value::Bool(v.get(index)),
            Values::String(d) => Value::String(d.get(index)),
            Values::Dynamic(d) => Value::Dynamic(d.get(index)),
            Values::Removed | Values::Empty => Value::Removed,
        }
    }

    /// The value with packed index `index` as a double, for numeric columns.
    /// Values `range` (by index among the column's values) as slices, for a Double column.
    pub(crate) fn double_slices(&self, range: std::ops::Range<usize>) -> Option<impl Iterator<Item = &[f64]> + '_> {
        match &self.values {
            Values::Double(v) => Some(v.slices(range)),
            _ => None,
        }
    }

    pub(crate) fn numeric(&self, index: usize) -> Option<f64> {
        match &self.values {
            Values::Double(v) => Some(v.get(index)),
            Values::Long(v) => Some(v.get(index) as f64),
            _ => None,
        }
    }

    /// The value at `row`, if the row has one.
    pub(crate) fn value_at_row(&self, row: usize) -> Option<Value> {
        self.presence.get(row).then(|| self.value(self.presence.rank(row)))
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.presence.heap_bytes()
            + match &self.values {
                Values::Double(v) => v.heap_bytes(),
                Values::Long(v) | Values::DateTime(v) => v.heap_bytes(),
                Values::Bool(v) => v.heap_bytes(),
                Values::String(d) | Values::Dynamic(d) => d.heap_bytes(),
                Values::Empty | Values::Removed => 0,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_and_last_before_agree_with_a_naive_scan() {
        let rows: Vec<usize> = (0..3000).filter(|r| r % 7 == 0 || r % 11 == 3).collect();
        let mut p = Presence::default();
        for &r in &rows {
            p.set(r);
        }
        for probe in 0..3100 {
            let naive_rank = rows.iter().filter(|&&r| r < probe).count();
            assert_eq!(p.rank(probe), naive_rank, "rank({probe})");
            let naive_last = rows.iter().rev().find(|&&r| r < probe).copied();
            assert_eq!(p.last_before(probe), naive_last, "last_before({probe})");
            assert_eq!(p.get(probe), rows.contains(&probe));
        }
    }

    #[test]
    fn strings_share_dictionary_entries() {
        let mut c = ColumnData::default();
        for (row, s) in ["auto", "heat", "auto"].into_iter().enumerate() {
            c.push(row * 2, &FieldValue::Str(s.into()));
        }
        assert_eq!(c.value_at_row(4), Some(Value::String("auto".into())));
        assert_eq!(c.value_at_row(3), None);
        let Values::String(d) = &c.values else { panic!() };
        assert_eq!(d.entries.len(), 2);
    }
}
