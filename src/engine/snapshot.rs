//! Snapshot visibility: which batches a reader sees.
//!
//! Every WAL batch has a sequence number. A batch becomes *visible* after it is applied to the
//! warm tier, and batches become visible strictly in sequence order, so "visible up to `s`"
//! describes a consistent state of the whole store. A reader registers the current visible
//! sequence as its snapshot and sees exactly the batches `<= snapshot`, in every twin, even
//! while writers apply newer batches. Writers use the oldest registered snapshot to decide
//! which rows no reader can miss any more ("settled").

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};

#[derive(Default)]
pub(crate) struct Snapshots {
    visible: AtomicU64,
    /// Highest published sequence; guarded so that publishers can wait their turn.
    published: Mutex<u64>,
    turn: Condvar,
    /// Snapshot -> number of readers holding it.
    active: Mutex<BTreeMap<u64, usize>>,
}

impl Snapshots {
    pub(crate) fn new(visible: u64) -> Self {
        Snapshots {
            visible: AtomicU64::new(visible),
            published: Mutex::new(visible),
            ..Default::default()
        }
    }

    /// Registers a reader at the current visible sequence.
    pub(crate) fn begin(&self) -> Snapshot<'_> {
        let mut active = self.active.lock();
        let seq = self.visible.load(Ordering::Acquire);
        *active.entry(seq).or_default() += 1;
        Snapshot { owner: self, seq }
    }

    /// The oldest snapshot any reader holds (or the visible sequence when none).
    pub(crate) fn min_active(&self) -> u64 {
        let active = self.active.lock();
        active
            .keys()
            .next()
            .copied()
            .unwrap_or_else(|| self.visible.load(Ordering::Acquire))
    }

    /// Makes batch `seq` visible once every earlier batch is.
    pub(crate) fn publish(&self, seq: u64) {
        let mut published = self.published.lock();
        while *published + 1 < seq {
            self.turn.wait(&mut published);
        }
        if seq > *published {
            *published = seq;
            // Under the `active` lock, so a reader registers either before or after.
            let _active = self.active.lock();
            self.visible.store(seq, Ordering::Release);
        }
        self.turn.notify_all();
    }

    #[cfg(test)]
    pub(crate) fn visible(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }
}

/// A registered reader's view; unregisters on drop.
pub(crate) struct Snapshot<'a> {
    owner: &'a Snapshots,
    pub(crate) seq: u64,
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        let mut active = self.owner.active.lock();
        if let Some(count) = active.get_mut(&self.seq) {
            *count -= 1;
            if *count == 0 {
                active.remove(&self.seq);
            }
        }
    }
}

/// Publishes a batch's sequence number when dropped, so that a failure between the WAL
/// append and the end of the apply can never stall the writers behind it.
pub(crate) struct PublishOnDrop<'a> {
    pub(crate) snapshots: &'a Snapshots,
    pub(crate) seq: u64,
}

impl Drop for PublishOnDrop<'_> {
    fn drop(&mut self) {
        self.snapshots.publish(self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn batches_become_visible_in_sequence_order() {
        let s = Arc::new(Snapshots::new(0));
        let late = {
            let s = s.clone();
            std::thread::spawn(move || s.publish(2))
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(s.visible(), 0, "2 must wait for 1");
        s.publish(1);
        late.join().unwrap();
        assert_eq!(s.visible(), 2);
    }

    #[test]
    fn min_active_is_the_oldest_reader() {
        let s = Snapshots::new(5);
        let a = s.begin();
        s.publish(6);
        let b = s.begin();
        assert_eq!((a.seq, b.seq), (5, 6));
        assert_eq!(s.min_active(), 5);
        drop(a);
        assert_eq!(s.min_active(), 6);
        drop(b);
        assert_eq!(s.min_active(), 6);
    }
}
