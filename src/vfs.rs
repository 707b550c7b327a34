//! The file layer. Every file operation the library makes goes through a [`Vfs`], so that
//! it can be swapped: [`StdVfs`] is the real file system, [`FaultyVfs`] wraps another one and
//! fails on demand, so tests can show what the store does when a disk fills up, a sector
//! cannot be read or an `fsync` fails (docs/RELIABILITY.md, "Faults"), and [`PowerCutVfs`]
//! records what is durable so tests can see what a machine crash leaves (docs/RELIABILITY.md,
//! "Crashes").
//!
//! That is: the store's `LOCK` file ([`Vfs::lock`]), the WAL, segment files, the manifest,
//! backups, the sizing of the store directory ([`Vfs::read_dir`], [`Vfs::stat`]), and Parquet
//! export and import (written through [`Vfs::create`], read whole with [`Vfs::read`]). A
//! store uses the [`Vfs`] of its [`Options`](crate::Options), for files inside and outside
//! its directory alike.
//!
//! Outside it: the command-line tool (`src/bin/twinstore/`) reads its input files and
//! standard input with `std` (they are the user's files, not the store's); the chart writer
//! (`plot::plot`, feature `plot`) lets its drawing library create the SVG or PNG file, which
//! is an output of the user's choosing and never read back by the store; and unit tests
//! build segment files on [`StdVfs`] directly (`SegmentWriter::create`, `Segment::open`,
//! compiled only for tests).
//!
//! The interface is the handful of calls the store needs, not a general file system: whole
//! files are read at once (WAL log files on replay, the manifest, a Parquet file to import),
//! segment files are mapped, and files are written by appending.

use std::any::Any;
use std::fmt;
use std::io::{self, IoSlice, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};

mod power_cut;
pub use power_cut::{PowerCutVfs, SyncRecord};

/// The file operations the store makes. Implementations must be usable from several
/// threads at once.
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Creates a directory and its parents (no error if it exists).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The paths of a directory's entries, in no particular order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    /// A whole file's contents.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// A read-only view of a whole file that is never written again (a segment file).
    fn map(&self, path: &Path) -> io::Result<FileBytes>;
    /// Creates a file that must not exist yet, for appending.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>>;
    /// Creates a file for appending, emptying it if it exists.
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>>;
    /// Cuts a file to `len` bytes and syncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames a file, replacing `to` atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Deletes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes a directory's entries (created, renamed or deleted files) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// The size and kind of a file or directory (following symbolic links).
    fn stat(&self, path: &Path) -> io::Result<FileStat>;
    /// Creates `path` if it does not exist and takes an exclusive lock on it, held until the
    /// returned [`FileLock`] is dropped. Fails with [`io::ErrorKind::WouldBlock`] when
    /// another holder has it: another process, or another handle in this one (the store
    /// relies on this to refuse a second open of its directory). [`StdVfs`] first retries
    /// for up to [`LOCK_RETRY`], see there.
    fn lock(&self, path: &Path) -> io::Result<FileLock>;
}

/// The size and kind of a file or directory ([`Vfs::stat`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// Bytes in the file (for a directory, whatever the file system reports).
    pub len: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// An exclusive lock taken by [`Vfs::lock`]; dropping it releases the lock.
pub struct FileLock {
    _holder: Box<dyn Any + Send + Sync>,
}

impl FileLock {
    /// A lock held for as long as `holder` lives (for a [`Vfs`] implementation: an open
    /// locked file, or a guard of its own).
    pub fn new(holder: impl Any + Send + Sync) -> FileLock {
        FileLock {
            _holder: Box::new(holder),
        }
    }
}

impl fmt::Debug for FileLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileLock")
    }
}

/// A file open for appending. Methods take `&self` so that one thread can sync while
/// another writes (the WAL's group commit does).
pub trait VfsFile: Send + Sync + fmt::Debug {
    /// Appends bytes; like [`std::io::Write::write`], it may write fewer than given.
    fn write(&self, buf: &[u8]) -> io::Result<usize>;
    /// Appends from several buffers, in order; may write fewer bytes than given.
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => self.write(buf),
            None => Ok(0),
        }
    }
    /// Makes the data written so far durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Makes the data and metadata durable (`fsync`).
    fn sync_all(&self) -> io::Result<()>;
    /// Cuts the file to `len` bytes; later appends start there.
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// Makes a directory's entries (new or renamed files) durable, naming the directory in the
/// error. The WAL, the cold tier's manifest and files, backups and the store's open all need
/// this, so it lives in the file layer they share rather than in any one of them.
pub(crate) fn sync_dir(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    vfs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// Appends every byte of `buf`, retrying short writes.
pub(crate) fn write_all(file: &dyn VfsFile, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match file.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// [`std::io::Write`] over a [`VfsFile`], for `BufWriter`.
pub(crate) struct VfsWriter(pub(crate) Box<dyn VfsFile>);

impl Write for VfsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The bytes of a file: memory-mapped, or read into memory.
pub struct FileBytes(Bytes);

enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl FileBytes {
    /// Bytes already in memory (for a [`Vfs`] that does not map files).
    pub fn from_vec(bytes: Vec<u8>) -> FileBytes {
        FileBytes(Bytes::Owned(bytes))
    }

    /// Asks the OS to read a mapped file's pages in now (best effort; nothing for owned bytes).
    pub(crate) fn populate(&self) {
        if let Bytes::Mapped(map) = &self.0 {
            #[cfg(target_os = "linux")]
            let advice = memmap2::Advice::PopulateRead;
            #[cfg(not(target_os = "linux"))]
            let advice = memmap2::Advice::WillNeed;
            let _ = map.advise(advice);
        }
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Bytes::Mapped(map) => map,
            Bytes::Owned(bytes) => bytes,
        }
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBytes").field("len", &self.len()).finish()
    }
}

/// The real file system (`std::fs`), with segment files memory-mapped.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdVfs;

/// How long [`StdVfs::lock`](Vfs::lock) retries a lock held elsewhere before it fails. The
/// lock is an `flock` on the open `LOCK` file, which belongs to the open file, not to the
/// process: a child process being started by any thread of this one holds a copy of every
/// descriptor from its fork until its `exec` closes them, and with them the lock. A store
/// dropped and reopened in that window would be refused although nothing else has it open;
/// a store really open elsewhere is still refused, this much later.
pub const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// The default file layer, shared.
pub(crate) fn std_vfs() -> Arc<dyn Vfs> {
    Arc::new(StdVfs)
}

impl Vfs for StdVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::read_dir(path)?.map(|entry| entry.map(|e| e.path())).collect()
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn map(&self, path: &Path) -> io::Result<FileBytes> {
        let file = std::fs::File::open(path)?;
        // SAFETY: the store maps only segment files, which are immutable once written and
        // renamed into the manifest; twinstore never writes to a mapped file, and the
        // store's LOCK keeps other twinstore processes out. Another program truncating the
        // file would make reads of the map fault; that is outside what an embedded store can
        // defend against (every mmap-based store shares this caveat), and it is documented
        // in docs/FORMAT.md. Exercised by every cold-tier test (tests/cold_tier.rs).
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        Ok(FileBytes(Bytes::Mapped(map)))
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let file = std::fs::OpenOptions::new().create_new(true).append(true).open(path)?;
        Ok(Box::new(StdFile(file)))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?;
        Ok(Box::new(StdFile(file)))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::File::open(path)?.sync_all()
    }

    fn stat(&self, path: &Path) -> io::Result<FileStat> {
        let meta = std::fs::metadata(path)?;
        Ok(FileStat {
            len: meta.len(),
            is_dir: meta.is_dir(),
        })
    }

    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                // The lock lives as long as the open file.
                Ok(()) => return Ok(FileLock::new(file)),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_RETRY => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::WouldBlock) => return Err(io::ErrorKind::WouldBlock.into()),
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

/// A file of [`StdVfs`].
#[derive(Debug)]
struct StdFile(std::fs::File);

impl VfsFile for StdFile {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }

    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&self.0).write_vectored(bufs)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

// ---------------------------------------------------------------------------------------
// Fault injection.

/// A kind of file operation, as [`FaultyVfs`] matches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Reading a whole file (WAL log files on open, the manifest, a Parquet file to import).
    Read,
    /// Mapping a segment file.
    Map,
    /// Listing a directory.
    ReadDir,
    /// Creating a file or directory.
    Create,
    /// Appending to a file.
    Write,
    /// Syncing a file (`fdatasync`/`fsync`).
    Sync,
    /// Syncing a directory.
    SyncDir,
    /// Cutting a file's length.
    Truncate,
    /// Renaming a file.
    Rename,
    /// Deleting a file.
    Remove,
    /// Reading a file's or directory's size and kind.
    Stat,
    /// Taking a file lock (the store's `LOCK` at open).
    Lock,
}

/// What an injected fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The operation fails with EIO ("Input/output error").
    Eio,
    /// The operation fails with ENOSPC ("No space left on device").
    NoSpace,
    /// A write stores only the first half of its bytes and reports that (a legal short
    /// write, which the caller must continue); other operations are not affected.
    ShortWrite,
    /// A write stores the first half of its bytes, then fails with EIO: a torn write, as a
    /// power cut mid-write leaves it.
    TornWrite,
}

impl Fault {
    fn error(self, op: Op, path: &Path) -> io::Error {
        let (kind, what) = match self {
            Fault::NoSpace => (io::ErrorKind::StorageFull, "no space left on device"),
            _ => (io::ErrorKind::Other, "input/output error"),
        };
        io::Error::new(kind, format!("{what} (injected on {op:?} of {})", path.display()))
    }
}

/// When a fault fires: on operations of one kind, optionally only on paths containing a
/// text, after skipping some matching operations, for a number of times (or until cleared).
#[derive(Clone, Debug)]
pub struct FaultRule {
    op: Op,
    fault: Fault,
    path_contains: Option<String>,
    skip: u64,
    times: Option<u64>,
}

impl FaultRule {
    /// A rule failing every `op` with `fault`, until [`FaultyVfs::clear`].
    pub fn new(op: Op, fault: Fault) -> FaultRule {
        FaultRule {
            op,
            fault,
            path_contains: None,
            skip: 0,
            times: None,
        }
    }

    /// Only on paths whose text contains `text` (e.g. `".wal"`, `"MANIFEST"`, `".seg"`).
    pub fn path_contains(mut self, text: impl Into<String>) -> FaultRule {
        self.path_contains = Some(text.into());
        self
    }

    /// Lets the first `n` matching operations through.
    pub fn skip(mut self, n: u64) -> FaultRule {
        self.skip = n;
        self
    }

    /// Fires `n` times, then lets operations through again.
    pub fn times(mut self, n: u64) -> FaultRule {
        self.times = Some(n);
        self
    }

    fn matches(&self, op: Op, path: &Path) -> bool {
        self.op == op
            && self
                .path_contains
                .as_deref()
                .is_none_or(|text| path.to_string_lossy().contains(text))
    }
}

#[derive(Debug, Default)]
struct FaultState {
    rules: Vec<FaultRule>,
    /// Faults fired so far: operation, fault, path.
    injected: Vec<(Op, Fault, PathBuf)>,
}

/// The rule list, shared by a [`FaultyVfs`] and the files it opened.
#[derive(Clone, Debug, Default)]
struct Faults(Arc<Mutex<FaultState>>);

impl Faults {
    /// The fault to apply to `op` on `path`, if a rule fires (and counts it).
    fn check(&self, op: Op, path: &Path) -> Option<Fault> {
        let mut state = self.0.lock();
        let i = state.rules.iter().position(|r| r.matches(op, path))?;
        let rule = &mut state.rules[i];
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        let fault = rule.fault;
        if let Some(times) = &mut rule.times {
            *times = times.saturating_sub(1);
            if *times == 0 {
                state.rules.remove(i);
            }
        }
        state.injected.push((op, fault, path.to_path_buf()));
        Some(fault)
    }

    /// Fails `op` on `path` when a rule says so (write-only faults do not fail other
    /// operations).
    fn gate(&self, op: Op, path: &Path) -> io::Result<()> {
        match self.check(op, path) {
            Some(Fault::ShortWrite | Fault::TornWrite) | None => Ok(()),
            Some(fault) => Err(fault.error(op, path)),
        }
    }
}

/// A [`Vfs`] that passes every operation to another one, except those a [`FaultRule`]
/// selects, which fail (or are cut short) as the rule says. Rules can be added and cleared
/// while a store uses it, to start and lift a fault.
///
/// ```
/// use std::sync::Arc;
/// use twinstore::vfs::{Fault, FaultRule, FaultyVfs, Op};
/// use twinstore::{Options, Record, Store, Timestamp, Value};
///
/// let dir = tempfile::tempdir().unwrap();
/// let vfs = Arc::new(FaultyVfs::new());
/// let store = Store::open(dir.path(), Options::default().vfs(vfs.clone())).unwrap();
/// let ts = Timestamp::from_millis(1_767_225_600_000).unwrap();
/// // The disk is full: the write fails and nothing of it is stored.
/// vfs.inject(FaultRule::new(Op::Write, Fault::NoSpace).path_contains(".wal"));
/// assert!(store.write(&[Record::new("t1", ts).with("v", 1.0)]).is_err());
/// // Space is freed: writes go on, without a reopen.
/// vfs.clear();
/// store.write(&[Record::new("t1", ts).with("v", 2.0)]).unwrap();
/// assert_eq!(store.latest("t1").unwrap().get("v"), Some(&Value::Double(2.0)));
/// ```
#[derive(Debug)]
pub struct FaultyVfs {
    inner: Arc<dyn Vfs>,
    faults: Faults,
}

impl Default for FaultyVfs {
    fn default() -> Self {
        FaultyVfs::new()
    }
}

impl FaultyVfs {
    /// Faults over the real file system.
    pub fn new() -> FaultyVfs {
        FaultyVfs::over(std_vfs())
    }

    /// Faults over another file layer.
    pub fn over(inner: Arc<dyn Vfs>) -> FaultyVfs {
        FaultyVfs {
            inner,
            faults: Faults::default(),
        }
    }

    /// Adds a rule; it applies from the next operation on, in files already open too.
    pub fn inject(&self, rule: FaultRule) {
        self.faults.0.lock().rules.push(rule);
    }

    /// Removes every rule: the fault is lifted.
    pub fn clear(&self) {
        self.faults.0.lock().rules.clear();
    }

    /// The faults fired so far: operation, fault and path, in order.
    pub fn injected(&self) -> Vec<(Op, Fault, PathBuf)> {
        self.faults.0.lock().injected.clone()
    }

    fn wrap(&self, file: Box<dyn VfsFile>, path: &Path) -> Box<dyn VfsFile> {
        Box::new(FaultyFile {
            inner: file,
            path: path.to_path_buf(),
            faults: self.faults.clone(),
        })
    }
}

impl Vfs for FaultyVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.faults.gate(Op::Create, path)?;
        self.inner.create_dir_all(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        self.faults.gate(Op::ReadDir, path)?;
        self.inner.read_dir(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.faults.gate(Op::Read, path)?;
        self.inner.read(path)
    }

    fn map(&self, path: &Path) -> io::Result<FileBytes> {
        self.faults.gate(Op::Map, path)?;
        self.inner.map(path)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        self.faults.gate(Op::Create, path)?;
        Ok(self.wrap(self.inner.create_new(path)?, path))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        self.faults.gate(Op::Create, path)?;
        Ok(self.wrap(self.inner.create(path)?, path))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.faults.gate(Op::Truncate, path)?;
        self.inner.truncate(path, len)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.gate(Op::Rename, to)?;
        self.inner.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.faults.gate(Op::Remove, path)?;
        self.inner.remove_file(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.faults.gate(Op::SyncDir, path)?;
        self.inner.sync_dir(path)
    }

    fn stat(&self, path: &Path) -> io::Result<FileStat> {
        self.faults.gate(Op::Stat, path)?;
        self.inner.stat(path)
    }

    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        self.faults.gate(Op::Lock, path)?;
        self.inner.lock(path)
    }
}

/// A file opened through a [`FaultyVfs`]: its writes, syncs and truncations consult the
/// same rules.
#[derive(Debug)]
struct FaultyFile {
    inner: Box<dyn VfsFile>,
    path: PathBuf,
    faults: Faults,
}

impl VfsFile for FaultyFile {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self.faults.check(Op::Write, &self.path) {
            None => self.inner.write(buf),
            Some(Fault::ShortWrite) => self.inner.write(&buf[..buf.len().div_ceil(2)]),
            Some(fault @ Fault::TornWrite) => {
                // Half the bytes land, then the device fails.
                write_all(&*self.inner, &buf[..buf.len() / 2])?;
                Err(fault.error(Op::Write, &self.path))
            }
            Some(fault) => Err(fault.error(Op::Write, &self.path)),
        }
    }

    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // One buffer at a time, so that a fault cuts exactly one write.
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => self.write(buf),
            None => Ok(0),
        }
    }

    fn sync_data(&self) -> io::Result<()> {
        self.faults.gate(Op::Sync, &self.path)?;
        self.inner.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.faults.gate(Op::Sync, &self.path)?;
        self.inner.sync_all()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.faults.gate(Op::Truncate, &self.path)?;
        self.inner.set_len(len)
    }
}
