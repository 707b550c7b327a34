//! The write-ahead log: every batch is appended here, as one checksummed frame, before it
//! reaches the warm tier. A write is acknowledged once its frame is as durable as the
//! [`Durability`] setting promises.
//!
//! Layout (docs/FORMAT.md, "WAL"): a directory of segment files `NNNNNNNNNNNNNNNNNNNN.wal`,
//! each a 24-byte header then frames `[len u32][crc32c u32][seq u64][payload]`. Concurrent
//! writers queue their frames and one of them writes the whole queue with one `write` and, in
//! [`Durability::SyncEachWrite`], one `fdatasync` (group commit).

pub(crate) mod codec;
mod replay;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

pub(crate) use replay::{replay, verify};

use crate::error::{Error, Result};

/// Magic bytes at the start of every WAL segment.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"TWINWAL\0";
/// The WAL format version this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Segment header: magic, version u32, segment number u64, crc32c u32 of the first 20 bytes.
pub(crate) const SEGMENT_HEADER_LEN: usize = 24;
/// Frame header: payload length u32, crc32c u32 of (seq, payload), seq u64.
pub(crate) const FRAME_HEADER_LEN: usize = 16;
/// A new segment is started once the current one passes this size.
const SEGMENT_TARGET_BYTES: u64 = 64 << 20;
/// Frames larger than this are refused on write and treated as damage on replay.
pub(crate) const MAX_FRAME_PAYLOAD: usize = 1 << 30;

/// What a successful write promises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// The default. A write returns after its WAL frame is on stable storage (`fdatasync`):
    /// it survives a crash of the process and of the machine. Concurrent writers share one
    /// sync (group commit), so throughput grows with the number of writers and batch size.
    #[default]
    SyncEachWrite,
    /// A write returns after its frame is handed to the operating system (it survives a crash
    /// of the process, e.g. `kill -9`); a background thread syncs every `interval`, so a crash
    /// of the machine loses at most the last `interval` of acknowledged writes.
    GroupCommit {
        /// Time between two syncs.
        interval: Duration,
    },
    /// A write returns after its frame is handed to the operating system; twinstore syncs
    /// only on [`Store::sync`](crate::Store::sync) and on close. Survives a process crash;
    /// a machine crash may lose any write since the last sync.
    NoSync,
}

/// Path of segment `number` in `dir`.
pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}.wal"))
}

/// The header of segment `number`.
pub(crate) fn segment_header(number: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&number.to_le_bytes());
    let crc = crc32c::crc32c(&h[..20]);
    h[20..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Frames waiting to be written, in sequence order.
struct Queue {
    frames: Vec<Vec<u8>>,
    next_seq: u64,
}

/// The open segment.
struct Segment {
    /// Shared so the GroupCommit syncer can sync without holding the writers' lock.
    file: Arc<File>,
    path: PathBuf,
    len: u64,
}

/// The segment being written; created on the first write, so that opening a store to read
/// it leaves no empty segment behind.
struct Active {
    segment: Option<Segment>,
    next_number: u64,
}

/// Highest sequence numbers written to the OS and synced, and the first failure.
struct Progress {
    written: AtomicU64,
    synced: AtomicU64,
    failure: Mutex<Option<String>>,
}

/// The log writer.
pub(crate) struct Wal {
    dir: PathBuf,
    durability: Durability,
    queue: Mutex<Queue>,
    segment: Arc<Mutex<Active>>,
    progress: Arc<Progress>,
    syncer: Option<(crossbeam_channel::Sender<()>, JoinHandle<()>)>,
}

impl Wal {
    /// Opens a writer that starts segment `segment_number` and numbers frames from
    /// `next_seq`.
    pub(crate) fn create(dir: &Path, durability: Durability, segment_number: u64, next_seq: u64) -> Result<Wal> {
        let segment = Arc::new(Mutex::new(Active {
            segment: None,
            next_number: segment_number,
        }));
        let last = next_seq.saturating_sub(1);
        let progress = Arc::new(Progress {
            written: AtomicU64::new(last),
            synced: AtomicU64::new(last),
            failure: Mutex::new(None),
        });
        let syncer = match durability {
            Durability::GroupCommit { interval } => Some(spawn_syncer(interval, segment.clone(), progress.clone())?),
            _ => None,
        };
        Ok(Wal {
            dir: dir.to_path_buf(),
            durability,
            queue: Mutex::new(Queue {
                frames: Vec::new(),
                next_seq,
            }),
            segment,
            progress,
            syncer,
        })
    }

    /// Fails when an earlier write failed.
    pub(crate) fn check_writable(&self) -> Result<()> {
        match &*self.progress.failure.lock() {
            Some(reason) => Err(Error::ReadOnly(reason.clone())),
            None => Ok(()),
        }
    }

    /// Appends a frame (`FRAME_HEADER_LEN` reserved bytes, then the payload) and waits until
    /// it is as durable as the setting promises. Returns the frame's sequence number.
    pub(crate) fn append(&self, mut frame: Vec<u8>) -> Result<u64> {
        self.check_writable()?;
        let payload_len = frame.len() - FRAME_HEADER_LEN;
        if payload_len > MAX_FRAME_PAYLOAD {
            return Err(Error::InvalidArgument(format!(
                "batch of {payload_len} bytes exceeds the WAL frame limit of {MAX_FRAME_PAYLOAD}; split it"
            )));
        }
        // The payload checksum is computed outside the lock and combined with the sequence
        // number's inside it.
        let payload_crc = crc32c::crc32c(&frame[FRAME_HEADER_LEN..]);
        let seq = {
            let mut queue = self.queue.lock();
            let seq = queue.next_seq;
            queue.next_seq += 1;
            let seq_bytes = seq.to_le_bytes();
            let crc = crc32c::crc32c_combine(crc32c::crc32c(&seq_bytes), payload_crc, payload_len);
            frame[0..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
            frame[4..8].copy_from_slice(&crc.to_le_bytes());
            frame[8..16].copy_from_slice(&seq_bytes);
            queue.frames.push(frame);
            seq
        };
        self.commit(seq)?;
        Ok(seq)
    }

    /// Makes sure frame `seq` is written (and synced, in SyncEachWrite), writing every queued
    /// frame if nobody else has.
    fn commit(&self, seq: u64) -> Result<()> {
        let sync = self.durability == Durability::SyncEachWrite;
        let done = |p: &Progress| {
            p.written.load(Ordering::Acquire) >= seq && (!sync || p.synced.load(Ordering::Acquire) >= seq)
        };
        if done(&self.progress) {
            return Ok(());
        }
        let mut segment = self.segment.lock();
        if done(&self.progress) {
            return Ok(());
        }
        self.check_writable()?;
        let (frames, last) = {
            let mut queue = self.queue.lock();
            (std::mem::take(&mut queue.frames), queue.next_seq - 1)
        };
        let result = self.write_frames(&mut segment, &frames, sync);
        match result {
            Ok(()) => {
                self.progress.written.store(last, Ordering::Release);
                if sync {
                    self.progress.synced.store(last, Ordering::Release);
                }
                Ok(())
            }
            Err(e) => {
                *self.progress.failure.lock() = Some(e.to_string());
                Err(e)
            }
        }
    }

    fn write_frames(&self, active: &mut Active, frames: &[Vec<u8>], sync: bool) -> Result<()> {
        if let Some(full) = active.segment.take_if(|s| s.len >= SEGMENT_TARGET_BYTES) {
            // Rotation happens between writes, so a frame never spans two segments.
            sync_file(&full)?;
        }
        let segment = match &mut active.segment {
            Some(segment) => segment,
            None => {
                let segment = new_segment(&self.dir, active.next_number)?;
                active.next_number += 1;
                active.segment.insert(segment)
            }
        };
        let mut slices: Vec<std::io::IoSlice<'_>> = frames.iter().map(|f| std::io::IoSlice::new(f)).collect();
        let total: usize = frames.iter().map(Vec::len).sum();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            let n = segment
                .file
                .write_vectored(slices)
                .map_err(|e| Error::io(&segment.path, e))?;
            if n == 0 {
                return Err(Error::io(&segment.path, std::io::ErrorKind::WriteZero.into()));
            }
            std::io::IoSlice::advance_slices(&mut slices, n);
        }
        segment.len += total as u64;
        if sync {
            sync_file(segment)?;
        }
        Ok(())
    }

    /// Sequence number of the last frame appended.
    pub(crate) fn last_seq(&self) -> u64 {
        self.queue.lock().next_seq - 1
    }

    /// Closes the current segment (synced), so the next frame starts a new one. Returns the
    /// number of that next segment: every older segment holds only frames appended before
    /// this call. Call when no append is in flight.
    pub(crate) fn rotate(&self) -> Result<u64> {
        let mut active = self.segment.lock();
        if let Some(segment) = active.segment.take() {
            sync_file(&segment)?;
        }
        Ok(active.next_number)
    }

    /// Deletes the segments numbered below `number` (their frames are in the cold tier).
    pub(crate) fn remove_segments_before(&self, number: u64) -> Result<()> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut removed = false;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let n = name
                .to_str()
                .and_then(|n| n.strip_suffix(".wal"))
                .and_then(|n| n.parse::<u64>().ok());
            if n.is_some_and(|n| n < number) {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Syncs everything written so far.
    pub(crate) fn sync(&self) -> Result<()> {
        let active = self.segment.lock();
        let written = self.progress.written.load(Ordering::Acquire);
        if let Some(segment) = &active.segment {
            sync_file(segment)?;
        }
        self.progress.synced.fetch_max(written, Ordering::AcqRel);
        Ok(())
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.syncer.take() {
            drop(stop);
            let _ = handle.join();
        }
        // Best effort: a close makes NoSync and GroupCommit writes durable too.
        let _ = self.sync();
    }
}

fn sync_file(segment: &Segment) -> Result<()> {
    segment.file.sync_data().map_err(|e| Error::io(&segment.path, e))
}

/// Creates segment `number` with its header, durably (file and directory entry).
fn new_segment(dir: &Path, number: u64) -> Result<Segment> {
    let path = segment_path(dir, number);
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    file.write_all(&segment_header(number))
        .map_err(|e| Error::io(&path, e))?;
    file.sync_all().map_err(|e| Error::io(&path, e))?;
    sync_dir(dir)?;
    Ok(Segment {
        file: Arc::new(file),
        path,
        len: SEGMENT_HEADER_LEN as u64,
    })
}

/// Makes a directory's entries (new or renamed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// The GroupCommit background thread: syncs what was written, every `interval`, until the
/// sender is dropped.
fn spawn_syncer(
    interval: Duration,
    segment: Arc<Mutex<Active>>,
    progress: Arc<Progress>,
) -> Result<(crossbeam_channel::Sender<()>, JoinHandle<()>)> {
    // A zero interval would spin; a millisecond is already far below a sync's cost.
    let interval = interval.max(Duration::from_millis(1));
    let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
    let handle = std::thread::Builder::new()
        .name("twinstore-wal-sync".into())
        .spawn(move || {
            while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                let written = progress.written.load(Ordering::Acquire);
                if progress.synced.load(Ordering::Acquire) >= written {
                    continue;
                }
                // Sync outside the lock: writers keep appending meanwhile. A rotation between
                // here and the sync already synced the segment it closed.
                let Some((file, path)) = segment
                    .lock()
                    .segment
                    .as_ref()
                    .map(|s| (s.file.clone(), s.path.clone()))
                else {
                    continue;
                };
                match file.sync_data().map_err(|e| Error::io(&path, e)) {
                    Ok(()) => {
                        progress.synced.fetch_max(written, Ordering::AcqRel);
                    }
                    Err(e) => {
                        *progress.failure.lock() = Some(e.to_string());
                    }
                }
            }
        })
        .map_err(|e| Error::io("wal sync thread", e))?;
    Ok((stop, handle))
}
