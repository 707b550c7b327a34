//! An append-only vector stored in chunks, so growing it never copies what is stored and
//! never leaves more than one chunk of slack.
//!
//! A plain `Vec` doubles: on average a quarter of its capacity is unused and every doubling
//! copies the whole column. Warm columns grow one value at a time for days, so the chunks
//! here start small (most columns of a twin change rarely) and grow to a fixed size.

/// Capacity of the first chunk.
const FIRST: usize = 8;
/// Number of doubling chunks before the size stays at `MAX` (8, 16, ..., 256).
const DOUBLINGS: usize = 6;
/// Capacity of every later chunk.
const MAX: usize = FIRST << DOUBLINGS;
/// Elements held by the doubling chunks together (8 + 16 + ... + 256).
const DOUBLING_TOTAL: usize = FIRST * ((1 << DOUBLINGS) - 1);

/// An append-only, chunked vector of `Copy` values.
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

/// (chunk, offset) of element `index`.
fn locate(index: usize) -> (usize, usize) {
    if index < DOUBLING_TOTAL {
        // Chunk k starts at FIRST * (2^k - 1).
        let k = (index / FIRST + 1).ilog2() as usize;
        (k, index - FIRST * ((1 << k) - 1))
    } else {
        let rest = index - DOUBLING_TOTAL;
        (DOUBLINGS + rest / MAX, rest % MAX)
    }
}

fn chunk_capacity(chunk: usize) -> usize {
    if chunk < DOUBLINGS { FIRST << chunk } else { MAX }
}

impl<T: Copy> Chunked<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < last.capacity() => last.push(value),
            _ => {
                let mut chunk = Vec::with_capacity(chunk_capacity(self.chunks.len()));
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// The element at `index`; panics when out of bounds, like slice indexing.
    pub(crate) fn get(&self, index: usize) -> T {
        let (chunk, offset) = locate(index);
        self.chunks[chunk][offset]
    }

    pub(crate) fn last(&self) -> Option<T> {
        self.len.checked_sub(1).map(|i| self.get(i))
    }

    pub(crate) fn first(&self) -> Option<T> {
        (self.len > 0).then(|| self.get(0))
    }

    /// The first index whose element fails `pred` (elements must be partitioned by it).
    pub(crate) fn partition_point(&self, mut pred: impl FnMut(T) -> bool) -> usize {
        // Find the chunk by its last element, then search inside it.
        let chunk = self.chunks.partition_point(|c| c.last().is_some_and(|&v| pred(v)));
        match self.chunks.get(chunk) {
            Some(c) => {
                let start = if chunk < DOUBLINGS {
                    FIRST * ((1 << chunk) - 1)
                } else {
                    DOUBLING_TOTAL + (chunk - DOUBLINGS) * MAX
                };
                start + c.partition_point(|&v| pred(v))
            }
            None => self.len,
        }
    }

    /// The elements of `range` (clamped to the length) as slices, in order: one per chunk
    /// the range touches.
    pub(crate) fn slices(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &[T]> + '_ {
        let (mut index, end) = (range.start, range.end.min(self.len));
        std::iter::from_fn(move || {
            if index >= end {
                return None;
            }
            let (chunk, offset) = locate(index);
            let stored = &self.chunks[chunk][offset..];
            let taken = &stored[..stored.len().min(end - index)];
            index += taken.len();
            Some(taken)
        })
    }

    /// Elements in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter().copied())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<T>>()
            + self
                .chunks
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<T>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec() {
        let mut chunked = Chunked::default();
        let mut plain = Vec::new();
        for i in 0..5000u32 {
            chunked.push(i * 3);
            plain.push(i * 3);
            assert_eq!(chunked.len(), plain.len());
        }
        for (i, v) in plain.iter().enumerate() {
            assert_eq!(chunked.get(i), *v);
        }
        assert!(chunked.iter().eq(plain.iter().copied()));
        for (from, to) in [
            (0, 0),
            (0, 5000),
            (3, 9),
            (7, 8),
            (500, 1511),
            (1511, 4000),
            (4990, 6000),
        ] {
            let sliced: Vec<u32> = chunked.slices(from..to).flatten().copied().collect();
            assert_eq!(sliced, plain[from.min(5000)..to.min(5000)], "{from}..{to}");
        }
        // One slice per chunk: a run inside one chunk is one slice, and 512-element chunks
        // follow the doubling ones (8 + 16 + ... + 256 = 504 elements).
        assert_eq!(chunked.slices(504..1016).count(), 1);
        assert_eq!(
            chunked.slices(503..1017).map(<[u32]>::len).collect::<Vec<_>>(),
            [1, 512, 1]
        );
        for probe in [0, 1, 2, 3, 7, 8, 500, 1511, 1512, 14_997, 14_998, 20_000] {
            assert_eq!(
                chunked.partition_point(|v| v < probe),
                plain.partition_point(|&v| v < probe),
                "probe {probe}"
            );
        }
        assert_eq!((chunked.first(), chunked.last()), (Some(0), Some(14_997)));
        let empty: Chunked<u32> = Chunked::default();
        assert_eq!(empty.partition_point(|_| true), 0);
    }

    #[test]
    fn chunk_boundaries_are_contiguous() {
        let mut expected = 0;
        for chunk in 0..DOUBLINGS + 3 {
            assert_eq!(locate(expected), (chunk, 0));
            expected += chunk_capacity(chunk);
            assert_eq!(locate(expected - 1), (chunk, chunk_capacity(chunk) - 1));
        }
    }
}
