//! The write-ahead log: every batch is appended here, as one checksummed frame, before it
//! reaches the warm tier. A write is acknowledged once its frame is as durable as the
//! [`Durability`] setting promises.
//!
//! Layout (docs/FORMAT.md, "WAL"): a directory of log files `NNNNNNNNNNNNNNNNNNNN.wal`,
//! each a 24-byte header then frames `[len u32][crc32c u32][seq u64][payload]`. Concurrent
//! writers queue their frames and one of them writes the whole queue with one `write` and, in
//! [`Durability::SyncEachWrite`], one `fdatasync` (group commit).

pub(crate) mod codec;
mod replay;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

pub(crate) use replay::{replay, verify};

use crate::error::{Error, Result};
use crate::vfs::{Vfs, VfsFile, sync_dir};

/// Magic bytes at the start of every WAL log file.
pub(crate) const LOG_FILE_MAGIC: &[u8; 8] = b"TWINWAL\0";
/// The WAL format version this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Log file header: magic, version u32, log file number u64, crc32c u32 of the first 20 bytes.
pub(crate) const LOG_FILE_HEADER_LEN: usize = 24;
/// Frame header: payload length u32, crc32c u32 of (seq, payload), seq u64.
pub(crate) const FRAME_HEADER_LEN: usize = 16;
/// A new log file is started once the current one passes this size.
const LOG_FILE_TARGET_BYTES: u64 = 64 << 20;
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

/// Path of log file `number` in `dir`.
pub(crate) fn log_file_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}.wal"))
}

/// The header of log file `number`.
pub(crate) fn log_file_header(number: u64) -> [u8; LOG_FILE_HEADER_LEN] {
    let mut h = [0u8; LOG_FILE_HEADER_LEN];
    h[..8].copy_from_slice(LOG_FILE_MAGIC);
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

/// The open log file.
struct LogFile {
    /// Shared so the GroupCommit syncer can sync without holding the writers' lock.
    file: Arc<dyn VfsFile>,
    path: PathBuf,
    len: u64,
}

/// The log file being written; created on the first write, so that opening a store to read
/// it leaves no empty log file behind.
struct Active {
    log_file: Option<LogFile>,
    next_number: u64,
}

/// Highest sequence numbers written to the OS and synced, the frames whose write failed,
/// and the failure that made the log read-only.
struct Progress {
    written: AtomicU64,
    /// Bytes appended to the log since it was opened.
    bytes: AtomicU64,
    synced: AtomicU64,
    /// Set once `lost` is not empty, so the common path skips its lock.
    any_lost: AtomicBool,
    /// Sequence ranges whose write failed (and was cut off the log), with the error: their
    /// writers get that error even if a later write succeeds before they look.
    lost: Mutex<Vec<LostFrames>>,
    failure: Mutex<Option<String>>,
}

/// Frames `first..=last` were not written: `error` says why.
struct LostFrames {
    first: u64,
    last: u64,
    error: LostError,
}

/// The error the writers of lost frames get (an [`Error`] is not `Clone`).
enum LostError {
    /// The write failed and was cut off the log: it is not stored.
    Io {
        path: PathBuf,
        kind: std::io::ErrorKind,
        message: String,
    },
    /// The write failed and could not be cut off: a reopen may find it, whole.
    ReadOnly(String),
}

impl LostError {
    fn of(e: &Error) -> LostError {
        match e {
            Error::Io { path, source } => LostError::Io {
                path: path.clone(),
                kind: source.kind(),
                message: source.to_string(),
            },
            other => LostError::ReadOnly(other.to_string()),
        }
    }

    fn to_error(&self) -> Error {
        match self {
            LostError::Io { path, kind, message } => Error::io(path, std::io::Error::new(*kind, message.clone())),
            LostError::ReadOnly(reason) => Error::ReadOnly(reason.clone()),
        }
    }
}

/// The log writer.
pub(crate) struct Wal {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    durability: Durability,
    queue: Mutex<Queue>,
    active: Arc<Mutex<Active>>,
    progress: Arc<Progress>,
    syncer: Option<(crossbeam_channel::Sender<()>, JoinHandle<()>)>,
}

impl Wal {
    /// Opens a writer that starts log file `log_file_number` and numbers frames from
    /// `next_seq`.
    pub(crate) fn create(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        durability: Durability,
        log_file_number: u64,
        next_seq: u64,
    ) -> Result<Wal> {
        let active = Arc::new(Mutex::new(Active {
            log_file: None,
            next_number: log_file_number,
        }));
        let last = next_seq.saturating_sub(1);
        let progress = Arc::new(Progress {
            written: AtomicU64::new(last),
            bytes: AtomicU64::new(0),
            synced: AtomicU64::new(last),
            any_lost: AtomicBool::new(false),
            lost: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
        });
        let syncer = match durability {
            Durability::GroupCommit { interval } => Some(spawn_syncer(interval, active.clone(), progress.clone())?),
            _ => None,
        };
        Ok(Wal {
            vfs,
            dir: dir.to_path_buf(),
            durability,
            queue: Mutex::new(Queue {
                frames: Vec::new(),
                next_seq,
            }),
            active,
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
    ///
    /// A failure after a sequence number was given out returns that number with the error:
    /// the caller must still publish it (as an empty batch), so later batches can become
    /// visible.
    pub(crate) fn append(&self, mut frame: Vec<u8>) -> std::result::Result<u64, (Option<u64>, Error)> {
        self.check_writable().map_err(|e| (None, e))?;
        let payload_len = frame.len() - FRAME_HEADER_LEN;
        if payload_len > MAX_FRAME_PAYLOAD {
            return Err((
                None,
                Error::InvalidArgument(format!(
                    "batch of {payload_len} bytes exceeds the WAL frame limit of {MAX_FRAME_PAYLOAD}; split it"
                )),
            ));
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
        self.commit(seq).map_err(|e| (Some(seq), e))?;
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
            return self.check_lost(seq);
        }
        let mut active = self.active.lock();
        if done(&self.progress) {
            return self.check_lost(seq);
        }
        // Our frame may have been in a group whose write failed while we waited.
        self.check_lost(seq)?;
        self.check_writable()?;
        let (frames, last) = {
            let mut queue = self.queue.lock();
            (std::mem::take(&mut queue.frames), queue.next_seq - 1)
        };
        let first = last + 1 - frames.len() as u64;
        let start = active.log_file.as_ref().map(|s| (s.path.clone(), s.len));
        let result = self.write_frames(&mut active, &frames, sync);
        match result {
            Ok(bytes) => {
                self.progress.bytes.fetch_add(bytes, Ordering::Relaxed);
                self.progress.written.store(last, Ordering::Release);
                if sync {
                    self.progress.synced.store(last, Ordering::Release);
                }
                Ok(())
            }
            Err(e) => Err(self.recover_from_failed_write(&mut active, start, first, last, e)),
        }
    }

    /// Fails when frame `seq` was in a group whose write failed.
    fn check_lost(&self, seq: u64) -> Result<()> {
        if !self.progress.any_lost.load(Ordering::Acquire) {
            return Ok(());
        }
        match self
            .progress
            .lost
            .lock()
            .iter()
            .find(|l| (l.first..=l.last).contains(&seq))
        {
            Some(l) => Err(l.error.to_error()),
            None => Ok(()),
        }
    }

    /// After a failed write of frames `first..=last`: cuts the log file back to where the
    /// write started (a torn frame there would read as corruption once a later log file
    /// follows it) and closes it, so that the next write starts a new log file; then records
    /// the frames as lost, with the error their writers get.
    ///
    /// If the cut fails, the log goes read-only and the error says that the write may be
    /// found, whole, after a reopen (whose replay keeps a complete frame and cuts a torn one).
    fn recover_from_failed_write(
        &self,
        active: &mut Active,
        start: Option<(PathBuf, u64)>,
        first: u64,
        last: u64,
        e: Error,
    ) -> Error {
        let e = match active.log_file.take() {
            // Creating the log file failed: `new_log_file` removed the file, or says (ReadOnly)
            // that it could not.
            None => e,
            Some(log_file) => {
                let len = match start {
                    Some((path, len)) if path == log_file.path => len,
                    // This write started the log file (after a rotation, or the first write):
                    // it holds only the failed frames.
                    _ => LOG_FILE_HEADER_LEN as u64,
                };
                let cut = log_file
                    .file
                    .set_len(len)
                    .and_then(|()| log_file.file.sync_data())
                    .map_err(|e| Error::io(&log_file.path, e));
                match cut {
                    Ok(()) => e,
                    Err(cut) => Error::ReadOnly(format!(
                        "{e}; cutting the failed write off the log failed too ({cut}), so a reopen \
                         may find the write, whole"
                    )),
                }
            }
        };
        if let Error::ReadOnly(reason) = &e {
            self.progress.failure.lock().get_or_insert_with(|| reason.clone());
        }
        let mut lost = self.progress.lost.lock();
        // Writers of old groups have long returned; a bounded list is enough.
        if lost.len() >= 1024 {
            lost.remove(0);
        }
        lost.push(LostFrames {
            first,
            last,
            error: LostError::of(&e),
        });
        self.progress.any_lost.store(true, Ordering::Release);
        e
    }

    /// Writes `frames` (synced when `sync`); returns the bytes written.
    fn write_frames(&self, active: &mut Active, frames: &[Vec<u8>], sync: bool) -> Result<u64> {
        if let Some(full) = active.log_file.take_if(|s| s.len >= LOG_FILE_TARGET_BYTES) {
            // Rotation happens between writes, so a frame never spans two log files. A failed
            // sync of acknowledged frames cannot be taken back: read-only.
            sync_file(&full).inspect_err(|e| self.fail(e))?;
        }
        let log_file = match &mut active.log_file {
            Some(log_file) => log_file,
            None => {
                // The number is used up even if the creation fails: a retry must not meet a
                // half-created file of the same name.
                let number = active.next_number;
                active.next_number += 1;
                let log_file = new_log_file(&*self.vfs, &self.dir, number)?;
                active.log_file.insert(log_file)
            }
        };
        let mut slices: Vec<std::io::IoSlice<'_>> = frames.iter().map(|f| std::io::IoSlice::new(f)).collect();
        let total: usize = frames.iter().map(Vec::len).sum();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            let n = match log_file.file.write_vectored(slices) {
                Ok(0) => return Err(Error::io(&log_file.path, std::io::ErrorKind::WriteZero.into())),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(&log_file.path, e)),
            };
            std::io::IoSlice::advance_slices(&mut slices, n);
        }
        log_file.len += total as u64;
        if sync {
            sync_file(log_file)?;
        }
        Ok(total as u64)
    }

    /// Bytes appended since the log was opened.
    pub(crate) fn bytes_written(&self) -> u64 {
        self.progress.bytes.load(Ordering::Relaxed)
    }

    /// Sequence number of the last frame appended.
    pub(crate) fn last_seq(&self) -> u64 {
        self.queue.lock().next_seq - 1
    }

    /// Closes the current log file (synced), so the next frame starts a new one. Returns the
    /// number of that next log file: every older log file holds only frames appended before
    /// this call. Call when no append is in flight.
    pub(crate) fn rotate(&self) -> Result<u64> {
        let mut active = self.active.lock();
        if let Some(log_file) = active.log_file.take() {
            sync_file(&log_file).inspect_err(|e| self.fail(e))?;
        }
        Ok(active.next_number)
    }

    /// Deletes the log files numbered below `number` (their frames are in the cold tier).
    pub(crate) fn remove_log_files_before(&self, number: u64) -> Result<()> {
        let entries = self.vfs.read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut removed = false;
        for path in entries {
            if log_file_number(&path).is_some_and(|n| n < number) {
                self.vfs.remove_file(&path).map_err(|e| Error::io(&path, e))?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&*self.vfs, &self.dir)?;
        }
        Ok(())
    }

    /// Syncs everything written so far. A failure makes the log read-only: writes already
    /// acknowledged may not be durable, and a later sync cannot be trusted to say so.
    pub(crate) fn sync(&self) -> Result<()> {
        let active = self.active.lock();
        let written = self.progress.written.load(Ordering::Acquire);
        if let Some(log_file) = &active.log_file {
            sync_file(log_file).inspect_err(|e| self.fail(e))?;
        }
        self.progress.synced.fetch_max(written, Ordering::AcqRel);
        Ok(())
    }

    /// Makes the log read-only (the first reason is kept).
    fn fail(&self, e: &Error) {
        self.progress.failure.lock().get_or_insert_with(|| e.to_string());
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

fn sync_file(log_file: &LogFile) -> Result<()> {
    log_file.file.sync_data().map_err(|e| Error::io(&log_file.path, e))
}

/// The number of a WAL log file file, from its name.
pub(crate) fn log_file_number(path: &Path) -> Option<u64> {
    path.file_name()?.to_str()?.strip_suffix(".wal")?.parse().ok()
}

/// Creates log file `number` with its header, durably (file and directory entry). On
/// failure the half-made file is removed (best effort: replay deletes a last log file
/// shorter than its header, and a failed removal leaves the log read-only).
fn new_log_file(vfs: &dyn Vfs, dir: &Path, number: u64) -> Result<LogFile> {
    let path = log_file_path(dir, number);
    let file = vfs.create_new(&path).map_err(|e| Error::io(&path, e))?;
    let made = crate::vfs::write_all(&*file, &log_file_header(number))
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&path, e))
        .and_then(|()| sync_dir(vfs, dir));
    if let Err(e) = made {
        drop(file);
        return match vfs.remove_file(&path) {
            Ok(()) => Err(e),
            Err(remove) => Err(Error::ReadOnly(format!(
                "{e}; removing the half-created segment failed too: {remove}"
            ))),
        };
    }
    Ok(LogFile {
        file: Arc::from(file),
        path,
        len: LOG_FILE_HEADER_LEN as u64,
    })
}

/// The GroupCommit background thread: syncs what was written, every `interval`, until the
/// sender is dropped.
fn spawn_syncer(
    interval: Duration,
    active: Arc<Mutex<Active>>,
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
                // here and the sync already synced the log file it closed.
                let Some((file, path)) = active
                    .lock()
                    .log_file
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
