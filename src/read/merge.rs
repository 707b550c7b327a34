//! The one merge of a twin's sources: every read that combines cold files, the tables a
//! flush is writing out and the warm table (range reads, series, compaction) goes through
//! [`Merger`], so rows of equal time come out in the same order everywhere.

use super::Row;

/// Walks sources (oldest first, each given by its rows' times, already in the read's order)
/// in merged order, yielding `(source, row)`. Ascending: by time, rows of equal time in source order, so an older
/// source's row comes before a newer one's ([`super::Rank`]). Descending: the exact reverse
/// (each source then lists its rows newest first).
pub(crate) struct Merger<'a> {
    sources: Vec<&'a [i64]>,
    next: Vec<usize>,
    descending: bool,
}

impl<'a> Merger<'a> {
    pub(crate) fn new(sources: impl IntoIterator<Item = &'a [i64]>, descending: bool) -> Self {
        let sources: Vec<&[i64]> = sources.into_iter().collect();
        Merger {
            next: vec![0; sources.len()],
            sources,
            descending,
        }
    }
}

impl Iterator for Merger<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        // Sources are few (the cold files a range meets, plus two tables): a linear scan
        // over their heads beats a heap.
        let mut best: Option<(usize, i64)> = None;
        for (k, source) in self.sources.iter().enumerate() {
            let Some(&t) = source.get(self.next[k]) else {
                continue;
            };
            let better = match best {
                None => true,
                // Ascending: strictly earlier wins, so the older source wins ties.
                Some((_, b)) if !self.descending => t < b,
                // Descending: later wins, and the newer source wins ties.
                Some((_, b)) => t >= b,
            };
            if better {
                best = Some((k, t));
            }
        }
        let (k, _) = best?;
        let row = self.next[k];
        self.next[k] += 1;
        Some((k, row))
    }
}

/// Merges owned sources of rows (each in the read's order) into one list in merged order
/// (see [`Merger`]), leaving out rows `keep` rejects, at most `limit` rows.
pub(crate) fn merge_rows(
    sources: Vec<Vec<Row>>,
    descending: bool,
    limit: usize,
    keep: impl Fn(&Row) -> bool,
) -> Vec<Row> {
    let mut sources: Vec<Vec<Row>> = sources.into_iter().filter(|s| !s.is_empty()).collect();
    if sources.len() <= 1 {
        let mut only = sources.pop().unwrap_or_default();
        only.retain(&keep);
        only.truncate(limit);
        return only;
    }
    // The merger reads the times; the rows themselves are moved out as it picks them.
    let times: Vec<Vec<i64>> = sources.iter().map(|s| s.iter().map(|r| r.0).collect()).collect();
    let total: usize = times.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total.min(limit));
    for (k, row) in Merger::new(times.iter().map(Vec::as_slice), descending) {
        if out.len() >= limit {
            break;
        }
        let row = std::mem::take(&mut sources[k][row]);
        if keep(&row) {
            out.push(row);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(times: &[i64], tag: i64) -> Vec<Row> {
        times
            .iter()
            .map(|&t| (t, vec![(0, crate::model::Value::Long(tag))]))
            .collect()
    }

    fn tags(rows: &[Row]) -> Vec<(i64, i64)> {
        rows.iter()
            .map(|(t, v)| match v[0].1 {
                crate::model::Value::Long(tag) => (*t, tag),
                _ => (*t, -1),
            })
            .collect()
    }

    #[test]
    fn ascending_orders_by_time_then_older_source_first() {
        let a = [1i64, 3, 3, 7];
        let b = [2i64, 3, 7, 8];
        let order: Vec<_> = Merger::new([&a[..], &b[..]], false).collect();
        // Hand-merged: at 3, both of source 0's rows precede source 1's; at 7, source 0 first.
        assert_eq!(
            order,
            vec![(0, 0), (1, 0), (0, 1), (0, 2), (1, 1), (0, 3), (1, 2), (1, 3)]
        );
    }

    #[test]
    fn descending_is_the_exact_reverse_of_ascending() {
        let a = [1i64, 3, 3, 7];
        let b = [2i64, 3, 7, 8];
        let up = merge_rows(vec![rows(&a, 0), rows(&b, 1)], false, usize::MAX, |_| true);
        let down_a: Vec<i64> = a.iter().rev().copied().collect();
        let down_b: Vec<i64> = b.iter().rev().copied().collect();
        let mut down = merge_rows(vec![rows(&down_a, 0), rows(&down_b, 1)], true, usize::MAX, |_| true);
        down.reverse();
        assert_eq!(tags(&up), tags(&down));
        assert_eq!(
            tags(&up),
            vec![(1, 0), (2, 1), (3, 0), (3, 0), (3, 1), (7, 0), (7, 1), (8, 1)]
        );
    }

    #[test]
    fn limit_and_keep_apply_to_the_merged_order() {
        let merged = merge_rows(vec![rows(&[1, 4, 6], 0), rows(&[2, 4, 5], 1)], false, 3, |r| r.0 != 2);
        assert_eq!(tags(&merged), vec![(1, 0), (4, 0), (4, 1)]);
        let one = merge_rows(vec![Vec::new(), rows(&[1, 2, 3], 5)], false, 2, |r| r.0 != 1);
        assert_eq!(tags(&one), vec![(2, 5), (3, 5)]);
    }
}
