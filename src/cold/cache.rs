//! A bounded cache of decoded blocks (timestamps and numeric columns), shared by the
//! queries of one store: a repeated fleet aggregate reads decoded arrays instead of
//! decompressing every block again (RocksDB's block cache and ClickHouse's uncompressed
//! cache do the same).
//!
//! Keys are (file id, block offset): segment files are immutable and file ids are never
//! reused, so an entry can never be stale; entries of deleted files age out. When a shard
//! passes its share of the budget, its least recently used half is evicted.

use std::sync::Arc;

use foldhash::HashMap;
use parking_lot::Mutex;

/// A decoded numeric column block: its values (as f64), the time of each (so that a scan
/// streams two arrays and never looks up a row), and the row of each.
#[derive(Debug, Default)]
pub(crate) struct NumericBlock {
    /// Every row has a value: value `i` is row `i`, and `rows` is empty.
    pub all_rows: bool,
    pub rows: Vec<u32>,
    pub ts: Vec<i64>,
    pub values: Vec<f64>,
}

impl NumericBlock {
    /// The row of value `i`.
    #[inline]
    pub(crate) fn row(&self, i: usize) -> usize {
        if self.all_rows { i } else { self.rows[i] as usize }
    }
}

/// A cached decoded block.
#[derive(Debug)]
pub(crate) enum Decoded {
    Timestamps(Arc<Vec<i64>>),
    Numeric(Arc<NumericBlock>),
}

impl Decoded {
    fn bytes(&self) -> usize {
        64 + match self {
            Decoded::Timestamps(t) => t.len() * 8,
            Decoded::Numeric(n) => n.rows.len() * 4 + n.values.len() * 16,
        }
    }
}

struct Entry {
    value: Decoded,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct Shard {
    map: HashMap<(u64, usize), Entry>,
    bytes: usize,
    tick: u64,
}

const SHARDS: usize = 16;

/// The cache; a budget of 0 disables it.
pub(crate) struct BlockCache {
    shards: Box<[Mutex<Shard>]>,
    shard_budget: usize,
}

impl Default for BlockCache {
    fn default() -> Self {
        BlockCache::new(0)
    }
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("budget", &(self.shard_budget * SHARDS))
            .finish()
    }
}

impl BlockCache {
    /// A cache of at most about `budget` bytes.
    pub(crate) fn new(budget: usize) -> Self {
        BlockCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_budget: budget / SHARDS,
        }
    }

    /// Bytes of decoded blocks held now (the cache's own accounting: the vectors' lengths,
    /// not the allocator's overhead).
    pub(crate) fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }

    fn shard(&self, key: (u64, usize)) -> &Mutex<Shard> {
        // Block offsets are spread; mix in the file id.
        let h = (key.1 as u64 >> 4) ^ key.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.shards[(h as usize) % SHARDS]
    }

    fn get(&self, key: (u64, usize)) -> Option<Decoded> {
        if self.shard_budget == 0 {
            return None;
        }
        let mut shard = self.shard(key).lock();
        shard.tick += 1;
        let tick = shard.tick;
        let entry = shard.map.get_mut(&key)?;
        entry.used = tick;
        Some(match &entry.value {
            Decoded::Timestamps(t) => Decoded::Timestamps(t.clone()),
            Decoded::Numeric(n) => Decoded::Numeric(n.clone()),
        })
    }

    fn insert(&self, key: (u64, usize), value: Decoded) {
        let bytes = value.bytes();
        if self.shard_budget == 0 || bytes > self.shard_budget / 4 {
            return;
        }
        let mut shard = self.shard(key).lock();
        shard.tick += 1;
        let used = shard.tick;
        shard.bytes += bytes;
        if let Some(old) = shard.map.insert(key, Entry { value, bytes, used }) {
            shard.bytes -= old.bytes;
        }
        if shard.bytes > self.shard_budget {
            // Evict the least recently used half.
            let mut ticks: Vec<u64> = shard.map.values().map(|e| e.used).collect();
            let mid = ticks.len() / 2;
            let (_, &mut cut, _) = ticks.select_nth_unstable(mid);
            shard.map.retain(|_, e| e.used > cut);
            shard.bytes = shard.map.values().map(|e| e.bytes).sum();
        }
    }

    /// The decoded timestamps at `key`, decoding with `decode` on a miss.
    pub(crate) fn timestamps<E>(
        &self,
        key: (u64, usize),
        decode: impl FnOnce() -> Result<Vec<i64>, E>,
    ) -> Result<Arc<Vec<i64>>, E> {
        if let Some(Decoded::Timestamps(t)) = self.get(key) {
            return Ok(t);
        }
        let t = Arc::new(decode()?);
        self.insert(key, Decoded::Timestamps(t.clone()));
        Ok(t)
    }

    /// The decoded numeric block at `key`, decoding with `decode` on a miss.
    pub(crate) fn numeric<E>(
        &self,
        key: (u64, usize),
        decode: impl FnOnce() -> Result<NumericBlock, E>,
    ) -> Result<Arc<NumericBlock>, E> {
        if let Some(Decoded::Numeric(n)) = self.get(key) {
            return Ok(n);
        }
        let n = Arc::new(decode()?);
        self.insert(key, Decoded::Numeric(n.clone()));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_return_what_was_decoded_and_a_full_shard_evicts_the_oldest() {
        let cache = BlockCache::new(SHARDS * 4000);
        let calls = std::cell::Cell::new(0);
        let decode = |n: i64| {
            calls.set(calls.get() + 1);
            Ok::<_, ()>((0..n).collect::<Vec<i64>>())
        };
        let a = cache.timestamps((1, 0), || decode(10)).unwrap();
        let b = cache.timestamps((1, 0), || decode(99)).unwrap();
        assert_eq!(&*a, &*b);
        assert_eq!(calls.get(), 1);
        // Many blocks: the shard stays within its budget.
        for i in 0..1000 {
            cache.timestamps((2, i * 16), || decode(50)).unwrap();
        }
        for s in cache.shards.iter() {
            assert!(s.lock().bytes <= 4000, "{}", s.lock().bytes);
        }
        // A disabled cache decodes every time.
        let off = BlockCache::new(0);
        off.timestamps((1, 0), || decode(1)).unwrap();
        off.timestamps((1, 0), || decode(1)).unwrap();
        assert_eq!(calls.get(), 1003);
    }
}
