//! The warm window (`Options::warm_window`): the warm tier is flushed once its oldest
//! unflushed write is that old on the store's clock, measured from that write, whatever
//! happened before it (an idle hour, an earlier flush, a reopen).
//!
//! The clock is a manual one and rounds run through `Store::run_maintenance` with the
//! background thread off, so every edge is checked exactly, without sleeping. The last test
//! checks that the background thread runs the same rule on the same clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use twinstore::{Clock, Durability, EventsQuery, Options, Record, Store, Timestamp, Value};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000_000_000;
const SECOND: i64 = 1_000_000_000;
const HOUR: i64 = 3_600 * SECOND;
/// The window used by these tests: one minute.
const WINDOW: i64 = 60 * SECOND;

/// A clock the test sets by hand.
#[derive(Clone)]
struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    fn starting_at(nanos: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(nanos)))
    }

    fn set(&self, nanos: i64) {
        self.0.store(nanos, Ordering::SeqCst);
    }

    fn clock(&self) -> Clock {
        let now = self.0.clone();
        Clock::from_fn(move || Timestamp::from_nanos(now.load(Ordering::SeqCst)))
    }
}

fn options(clock: &ManualClock) -> Options {
    Options::default()
        .durability(Durability::NoSync)
        .background_maintenance(false)
        .clock(clock.clock())
        .warm_window(Duration::from_nanos(WINDOW as u64))
}

/// One record of twin `t` with event time `event` (event times are unrelated to the clock:
/// the window runs on arrival time).
fn write(store: &Store, event: i64, v: i64) {
    store
        .write(&[Record::new("t", Timestamp::from_nanos(event)).with("v", v)])
        .expect("write");
}

/// (segment files, whether the warm tier holds rows) after one maintenance round.
fn round(store: &Store) -> (u64, bool) {
    store.run_maintenance().expect("maintenance round");
    let stats = store.stats();
    (stats.files, stats.warm_bytes > 0)
}

fn values(store: &Store) -> Vec<Value> {
    store
        .events(&EventsQuery::new("t"))
        .expect("events")
        .into_iter()
        .map(|e| e.values[0].1.clone())
        .collect()
}

#[test]
fn the_warm_tier_goes_cold_when_its_oldest_write_reaches_the_window_not_before() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_at(T0);
    let store = Store::open(dir.path(), options(&clock)).expect("open");
    write(&store, 1_000, 1);
    clock.set(T0 + 30 * SECOND);
    write(&store, 2_000, 2);
    // One nanosecond short of the window since the first write: both rows stay warm.
    clock.set(T0 + WINDOW - 1);
    assert_eq!(round(&store), (0, true), "flushed before the window");
    // At the window: the whole warm tier goes, the younger row with it, into one file.
    clock.set(T0 + WINDOW);
    assert_eq!(round(&store), (1, false), "not flushed at the window");
    assert_eq!(values(&store), [Value::Long(1), Value::Long(2)]);
}

#[test]
fn after_an_idle_period_a_new_write_stays_warm_for_the_whole_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_at(T0);
    let store = Store::open(dir.path(), options(&clock)).expect("open");
    // Idle for an hour since the open, then a write.
    clock.set(T0 + HOUR);
    assert_eq!(round(&store), (0, false));
    write(&store, 1_000, 1);
    assert_eq!(
        round(&store),
        (0, true),
        "the first write after an idle hour went cold at once"
    );
    clock.set(T0 + HOUR + WINDOW - 1);
    assert_eq!(round(&store), (0, true));
    clock.set(T0 + HOUR + WINDOW);
    assert_eq!(round(&store), (1, false));
    // Idle for another hour since that flush, then a write: its window starts with it.
    let later = T0 + 2 * HOUR + WINDOW;
    clock.set(later);
    assert_eq!(round(&store), (1, false));
    write(&store, 2_000, 2);
    assert_eq!(
        round(&store),
        (1, true),
        "the first write after an idle hour went cold at once"
    );
    clock.set(later + WINDOW - 1);
    assert_eq!(round(&store), (1, true));
    clock.set(later + WINDOW);
    assert_eq!(round(&store), (2, false));
    assert_eq!(values(&store), [Value::Long(1), Value::Long(2)]);
}

#[test]
fn an_explicit_flush_restarts_the_window_at_the_next_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_at(T0);
    let store = Store::open(dir.path(), options(&clock)).expect("open");
    write(&store, 1_000, 1);
    clock.set(T0 + 30 * SECOND);
    store.flush().expect("flush");
    clock.set(T0 + 40 * SECOND);
    write(&store, 2_000, 2);
    // The window of the first write has passed, but that write is cold already.
    clock.set(T0 + WINDOW);
    assert_eq!(round(&store), (1, true));
    clock.set(T0 + 40 * SECOND + WINDOW - 1);
    assert_eq!(round(&store), (1, true));
    clock.set(T0 + 40 * SECOND + WINDOW);
    assert_eq!(round(&store), (2, false));
}

#[test]
fn rows_replayed_from_the_log_count_as_written_at_the_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_at(T0);
    {
        let store = Store::open(dir.path(), options(&clock).durability(Durability::SyncEachWrite)).expect("open");
        write(&store, 1_000, 1);
    }
    // Reopened ten hours later: the replayed row is warm, and its window starts now.
    let open = T0 + 10 * HOUR;
    clock.set(open);
    let store = Store::open(dir.path(), options(&clock)).expect("reopen");
    assert_eq!(round(&store), (0, true), "a replayed row went cold at the open");
    clock.set(open + WINDOW - 1);
    assert_eq!(round(&store), (0, true));
    clock.set(open + WINDOW);
    assert_eq!(round(&store), (1, false));
    assert_eq!(values(&store), [Value::Long(1)]);
}

#[test]
fn the_background_thread_applies_the_window_on_the_store_clock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_at(T0);
    let store = Store::open(dir.path(), options(&clock).background_maintenance(true)).expect("open");
    write(&store, 1_000, 1);
    // Only the store's clock moves the window: the thread must read it there (the test's
    // real time stays far below the one-minute window).
    clock.set(T0 + WINDOW);
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.stats().files == 0 {
        assert!(Instant::now() < deadline, "the background thread never flushed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(store.stats().warm_bytes, 0);
    assert_eq!(values(&store), [Value::Long(1)]);
}
