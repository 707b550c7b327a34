//! A power cut: a [`Vfs`] that remembers what a machine crash would leave on disk.
//!
//! [`PowerCutVfs`] passes every operation to another file layer (the real one) so that a
//! store runs as usual, and keeps a record of what is *durable*: per file (by identity, so
//! that a record follows renames), its contents as of its last `sync_data`/`sync_all` (or a
//! [`Vfs::truncate`], which syncs); per directory, its entries as of its last
//! [`Vfs::sync_dir`]. A created file, a rename or a deletion not followed by a sync of its
//! directory is not durable; nor is a byte appended after the file's last sync.
//!
//! [`PowerCutVfs::cut`] (or a cut planned with [`PowerCutVfs::cut_after`]) is the power
//! failing: from then on every operation fails with EIO, so that a store still running (its
//! threads, its `Drop`) changes nothing. [`PowerCutVfs::write_durable_state`] then writes
//! the durable state into a directory, where the real file system can reopen it: the disk as
//! the machine finds it when it boots again.
//!
//! The model is the strict one of SQLite's crash VFS and redb's crash backend: unsynced
//! bytes are all lost, synced ones all kept. It does not model a disk that persists some
//! unsynced pages and not others (reordered writes), nor torn sectors.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::{FileBytes, FileLock, FileStat, Vfs, VfsFile, std_vfs};

/// One file sync (or a truncation, which syncs) as [`PowerCutVfs`] recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRecord {
    /// The file's path when it was synced.
    pub path: PathBuf,
    /// The number of operations before it (its position in [`PowerCutVfs::operations`]'
    /// count): everything a caller saw complete while the count was at most this is covered.
    pub operation: u64,
    /// When it was made.
    pub at: Instant,
}

/// An entry of the namespace: a file (by identity) or a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    File(u64),
    Dir,
}

/// A file's contents: as written, and as of its last sync.
#[derive(Debug, Default)]
struct Contents {
    live: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug)]
struct State {
    root: PathBuf,
    /// Operations made (failed ones after the cut included).
    operations: u64,
    /// The operation with this number fails, and every one after it.
    cut_at: Option<u64>,
    /// When the cut happened.
    cut: Option<(u64, Instant)>,
    next_id: u64,
    files: HashMap<u64, Contents>,
    /// What a process sees.
    live: BTreeMap<PathBuf, Node>,
    /// What a reboot finds: entries made durable by a sync of their directory.
    durable: BTreeMap<PathBuf, Node>,
    syncs: Vec<SyncRecord>,
}

impl State {
    /// Counts an operation; fails it once the power is cut.
    fn gate(&mut self, path: &Path) -> io::Result<u64> {
        let n = self.operations;
        self.operations += 1;
        if self.cut.is_none() && self.cut_at.is_some_and(|at| n >= at) {
            self.cut = Some((n, Instant::now()));
        }
        match self.cut {
            Some(_) => Err(io::Error::other(format!(
                "input/output error (power cut, operation {n} on {})",
                path.display()
            ))),
            None => Ok(n),
        }
    }

    fn new_file(&mut self, contents: Contents) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.files.insert(id, contents);
        id
    }

    fn tracked(&self, path: &Path) -> bool {
        path.starts_with(&self.root) && path != self.root
    }

    fn sync_file(&mut self, id: u64, path: &Path, operation: u64) {
        if let Some(file) = self.files.get_mut(&id) {
            file.durable.clone_from(&file.live);
        }
        self.syncs.push(SyncRecord {
            path: path.to_path_buf(),
            operation,
            at: Instant::now(),
        });
    }

    /// The live entry of `path` as a file, adopting a file this layer has not seen (one
    /// made behind its back) as durable with its current contents.
    fn file_at(&mut self, inner: &dyn Vfs, path: &Path) -> Option<u64> {
        match self.live.get(path) {
            Some(Node::File(id)) => Some(*id),
            Some(Node::Dir) => None,
            None => {
                let bytes = inner.read(path).ok()?;
                let id = self.new_file(Contents {
                    live: bytes.clone(),
                    durable: bytes,
                });
                self.live.insert(path.to_path_buf(), Node::File(id));
                self.durable.insert(path.to_path_buf(), Node::File(id));
                Some(id)
            }
        }
    }
}

/// A [`Vfs`] that can lose power. See the module documentation.
///
/// ```
/// use std::sync::Arc;
/// use twinstore::vfs::PowerCutVfs;
/// use twinstore::{Durability, Options, Record, Store, Timestamp};
///
/// let dir = tempfile::tempdir().unwrap();
/// let vfs = Arc::new(PowerCutVfs::new(dir.path()).unwrap());
/// let options = Options::default().durability(Durability::SyncEachWrite).vfs(vfs.clone());
/// let store = Store::open(dir.path(), options).unwrap();
/// let ts = Timestamp::from_millis(1_767_225_600_000).unwrap();
/// store.write(&[Record::new("t1", ts).with("v", 1.0)]).unwrap();
/// vfs.cut();
/// drop(store);
/// // What a reboot finds: the acknowledged write.
/// let after = tempfile::tempdir().unwrap();
/// vfs.write_durable_state(after.path()).unwrap();
/// let store = Store::open(after.path(), Options::default()).unwrap();
/// assert_eq!(store.stats().records, 1);
/// ```
#[derive(Clone, Debug)]
pub struct PowerCutVfs {
    inner: Arc<dyn Vfs>,
    state: Arc<Mutex<State>>,
}

impl PowerCutVfs {
    /// Over the real file system, for the files under `root`; what `root` already holds is
    /// taken as durable.
    pub fn new(root: &Path) -> io::Result<PowerCutVfs> {
        PowerCutVfs::over(std_vfs(), root)
    }

    /// Over another file layer, for the files under `root` (which must exist); what `root`
    /// already holds is taken as durable. Paths must be given as `root` joined with names.
    pub fn over(inner: Arc<dyn Vfs>, root: &Path) -> io::Result<PowerCutVfs> {
        let mut state = State {
            root: root.to_path_buf(),
            operations: 0,
            cut_at: None,
            cut: None,
            next_id: 0,
            files: HashMap::new(),
            live: BTreeMap::new(),
            durable: BTreeMap::new(),
            syncs: Vec::new(),
        };
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for path in inner.read_dir(&dir)? {
                if inner.read_dir(&path).is_ok() {
                    state.live.insert(path.clone(), Node::Dir);
                    state.durable.insert(path.clone(), Node::Dir);
                    pending.push(path);
                } else {
                    state.file_at(&*inner, &path);
                }
            }
        }
        Ok(PowerCutVfs {
            inner,
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// Cuts the power now: every later operation fails.
    pub fn cut(&self) {
        let mut state = self.state.lock();
        if state.cut.is_none() {
            state.cut = Some((state.operations, Instant::now()));
        }
    }

    /// Plans the cut: the operation `n` operations from now fails, and every one after it.
    pub fn cut_after(&self, n: u64) {
        let mut state = self.state.lock();
        state.cut_at = Some(state.operations + n);
    }

    /// Whether the power is cut.
    pub fn is_cut(&self) -> bool {
        self.state.lock().cut.is_some()
    }

    /// The number of the first operation that failed for the cut and when it came, once cut.
    pub fn cut_point(&self) -> Option<(u64, Instant)> {
        self.state.lock().cut
    }

    /// Operations made so far (those failed by the cut included). A caller that reads it
    /// after a call returned knows the call's operations all came before this number.
    pub fn operations(&self) -> u64 {
        self.state.lock().operations
    }

    /// Every file sync made before the cut, in order.
    pub fn syncs(&self) -> Vec<SyncRecord> {
        self.state.lock().syncs.clone()
    }

    /// Writes the durable state (directories and files under the root, each file with its
    /// durable contents) into `dest`, an empty directory: the disk after a reboot.
    pub fn write_durable_state(&self, dest: &Path) -> io::Result<()> {
        let state = self.state.lock();
        // Sorted paths put a directory before its entries; an entry whose directory is not
        // durable itself is gone with it.
        let mut present: Vec<&Path> = vec![&state.root];
        for (path, node) in &state.durable {
            if !path.parent().is_some_and(|parent| present.contains(&parent)) {
                continue;
            }
            let Ok(relative) = path.strip_prefix(&state.root) else {
                continue;
            };
            let target = dest.join(relative);
            match node {
                Node::Dir => {
                    std::fs::create_dir_all(&target)?;
                    present.push(path);
                }
                Node::File(id) => {
                    let bytes = state.files.get(id).map_or(&[][..], |f| &f.durable);
                    std::fs::write(&target, bytes)?;
                }
            }
        }
        Ok(())
    }

    fn wrap(&self, id: u64, path: &Path, file: Box<dyn VfsFile>) -> Box<dyn VfsFile> {
        Box::new(PowerCutFile {
            inner: file,
            id,
            path: path.to_path_buf(),
            state: self.state.clone(),
        })
    }
}

impl Vfs for PowerCutVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.gate(path)?;
        self.inner.create_dir_all(path)?;
        let mut ancestors: Vec<&Path> = path.ancestors().filter(|a| state.tracked(a)).collect();
        ancestors.reverse();
        for dir in ancestors {
            state.live.entry(dir.to_path_buf()).or_insert(Node::Dir);
        }
        Ok(())
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        self.state.lock().gate(path)?;
        self.inner.read_dir(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.state.lock().gate(path)?;
        self.inner.read(path)
    }

    fn map(&self, path: &Path) -> io::Result<FileBytes> {
        self.state.lock().gate(path)?;
        self.inner.map(path)
    }

    fn stat(&self, path: &Path) -> io::Result<FileStat> {
        self.state.lock().gate(path)?;
        self.inner.stat(path)
    }

    /// The lock itself is not part of what a power cut keeps: a lock file holds no data, and
    /// the store takes it again (creating the file) when it reopens.
    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        self.state.lock().gate(path)?;
        self.inner.lock(path)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let mut state = self.state.lock();
        state.gate(path)?;
        let file = self.inner.create_new(path)?;
        let id = state.new_file(Contents::default());
        state.live.insert(path.to_path_buf(), Node::File(id));
        Ok(self.wrap(id, path, file))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let mut state = self.state.lock();
        state.gate(path)?;
        let file = self.inner.create(path)?;
        // An existing file is emptied (the same file, as `O_TRUNC` keeps it); else a new one.
        let id = match state.live.get(path) {
            Some(Node::File(id)) => *id,
            _ => {
                let id = state.new_file(Contents::default());
                state.live.insert(path.to_path_buf(), Node::File(id));
                id
            }
        };
        if let Some(contents) = state.files.get_mut(&id) {
            contents.live.clear();
        }
        Ok(self.wrap(id, path, file))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        let operation = state.gate(path)?;
        self.inner.truncate(path, len)?;
        if let Some(id) = state.file_at(&*self.inner, path) {
            if let Some(contents) = state.files.get_mut(&id) {
                contents.live.resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
            }
            state.sync_file(id, path, operation);
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.gate(to)?;
        state.file_at(&*self.inner, from);
        self.inner.rename(from, to)?;
        if let Some(node) = state.live.remove(from) {
            state.live.insert(to.to_path_buf(), node);
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.gate(path)?;
        state.file_at(&*self.inner, path);
        self.inner.remove_file(path)?;
        state.live.remove(path);
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state.lock();
        state.gate(path)?;
        // The real directory's durability does not matter: the durable state is this record.
        let in_dir = |p: &&PathBuf| p.parent() == Some(path);
        let live: Vec<(PathBuf, Node)> = state
            .live
            .iter()
            .filter(|(p, _)| in_dir(p))
            .map(|(p, n)| (p.clone(), *n))
            .collect();
        state.durable.retain(|p, _| !in_dir(&p));
        state.durable.extend(live);
        Ok(())
    }
}

/// A file opened through a [`PowerCutVfs`]: appends go to its live contents, syncs make
/// them durable.
#[derive(Debug)]
struct PowerCutFile {
    inner: Box<dyn VfsFile>,
    id: u64,
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

impl PowerCutFile {
    fn sync(&self) -> io::Result<()> {
        let mut state = self.state.lock();
        let operation = state.gate(&self.path)?;
        // The real file's durability does not matter: the durable state is this record.
        state.sync_file(self.id, &self.path, operation);
        Ok(())
    }
}

impl VfsFile for PowerCutFile {
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let mut state = self.state.lock();
        state.gate(&self.path)?;
        let n = self.inner.write(buf)?;
        if let Some(contents) = state.files.get_mut(&self.id) {
            contents.live.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.sync()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut state = self.state.lock();
        state.gate(&self.path)?;
        self.inner.set_len(len)?;
        if let Some(contents) = state.files.get_mut(&self.id) {
            contents.live.resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory with a power-cut layer over it, and a second one to write the
    /// durable state into.
    fn setup() -> (tempfile::TempDir, PowerCutVfs, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let vfs = PowerCutVfs::new(dir.path()).expect("power-cut layer");
        (dir, vfs, tempfile::tempdir().expect("temp dir"))
    }

    /// The files of `dir`, recursively, relative, with their contents.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(d) = pending.pop() {
            for entry in std::fs::read_dir(&d).expect("read_dir") {
                let path = entry.expect("entry").path();
                let name = path.strip_prefix(dir).expect("under dir").display().to_string();
                if path.is_dir() {
                    out.insert(format!("{name}/"), Vec::new());
                    pending.push(path);
                } else {
                    out.insert(name, std::fs::read(&path).expect("read"));
                }
            }
        }
        out
    }

    fn expect(entries: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        entries.iter().map(|(n, b)| (n.to_string(), b.to_vec())).collect()
    }

    fn after_cut(vfs: &PowerCutVfs, dest: &Path) -> BTreeMap<String, Vec<u8>> {
        vfs.cut();
        vfs.write_durable_state(dest).expect("write durable state");
        files(dest)
    }

    #[test]
    fn unsynced_append_is_forgotten_and_synced_bytes_kept() {
        let (dir, vfs, dest) = setup();
        let path = dir.path().join("a");
        let file = vfs.create_new(&path).expect("create");
        super::super::write_all(&*file, b"hello ").expect("write");
        file.sync_data().expect("sync");
        vfs.sync_dir(dir.path()).expect("sync dir");
        super::super::write_all(&*file, b"world").expect("write");
        // The process sees every byte; a reboot only the synced ones.
        assert_eq!(std::fs::read(&path).expect("read"), b"hello world");
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[("a", b"hello ")]));
    }

    #[test]
    fn file_created_without_a_directory_sync_is_forgotten() {
        let (dir, vfs, dest) = setup();
        let file = vfs.create_new(&dir.path().join("a")).expect("create");
        super::super::write_all(&*file, b"data").expect("write");
        file.sync_all().expect("sync");
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[]));
    }

    #[test]
    fn created_and_directory_synced_without_a_file_sync_is_empty() {
        let (dir, vfs, dest) = setup();
        let file = vfs.create_new(&dir.path().join("a")).expect("create");
        super::super::write_all(&*file, b"data").expect("write");
        vfs.sync_dir(dir.path()).expect("sync dir");
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[("a", b"")]));
    }

    #[test]
    fn rename_without_a_directory_sync_is_reverted() {
        let (dir, _, dest) = setup();
        std::fs::write(dir.path().join("old"), b"before").expect("write");
        let vfs = PowerCutVfs::new(dir.path()).expect("adopts what is there");
        let tmp = dir.path().join("tmp");
        let file = vfs.create(&tmp).expect("create");
        super::super::write_all(&*file, b"after").expect("write");
        file.sync_all().expect("sync");
        vfs.rename(&tmp, &dir.path().join("old")).expect("rename");
        assert_eq!(std::fs::read(dir.path().join("old")).expect("read"), b"after");
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[("old", b"before")]));
    }

    #[test]
    fn rename_with_a_directory_sync_is_kept_following_the_file() {
        let (dir, vfs, dest) = setup();
        let tmp = dir.path().join("tmp");
        let file = vfs.create(&tmp).expect("create");
        super::super::write_all(&*file, b"after").expect("write");
        file.sync_all().expect("sync");
        vfs.rename(&tmp, &dir.path().join("new")).expect("rename");
        vfs.sync_dir(dir.path()).expect("sync dir");
        // Written after the rename through the old handle, unsynced: forgotten.
        super::super::write_all(&*file, b" more").expect("write");
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[("new", b"after")]));
    }

    #[test]
    fn remove_without_a_directory_sync_is_undone() {
        let (dir, _, dest) = setup();
        std::fs::write(dir.path().join("a"), b"kept").expect("write");
        std::fs::write(dir.path().join("b"), b"gone").expect("write");
        let vfs = PowerCutVfs::new(dir.path()).expect("adopts what is there");
        vfs.remove_file(&dir.path().join("a")).expect("remove");
        assert!(!dir.path().join("a").exists());
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[("a", b"kept"), ("b", b"gone")]));
    }

    #[test]
    fn remove_with_a_directory_sync_is_kept() {
        let (dir, _, dest) = setup();
        std::fs::write(dir.path().join("a"), b"gone").expect("write");
        std::fs::write(dir.path().join("b"), b"kept").expect("write");
        let vfs = PowerCutVfs::new(dir.path()).expect("adopts what is there");
        vfs.remove_file(&dir.path().join("a")).expect("remove");
        vfs.sync_dir(dir.path()).expect("sync dir");
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[("b", b"kept")]));
    }

    #[test]
    fn directory_created_without_a_sync_of_its_parent_is_forgotten_with_its_files() {
        let (dir, vfs, dest) = setup();
        let sub = dir.path().join("sub");
        vfs.create_dir_all(&sub).expect("mkdir");
        let file = vfs.create_new(&sub.join("a")).expect("create");
        super::super::write_all(&*file, b"x").expect("write");
        file.sync_all().expect("sync");
        vfs.sync_dir(&sub).expect("sync sub");
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[]));

        let (dir, vfs, dest) = setup();
        let sub = dir.path().join("sub");
        vfs.create_dir_all(&sub).expect("mkdir");
        vfs.sync_dir(dir.path()).expect("sync root");
        let file = vfs.create_new(&sub.join("a")).expect("create");
        super::super::write_all(&*file, b"x").expect("write");
        file.sync_all().expect("sync");
        vfs.sync_dir(&sub).expect("sync sub");
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[("sub/", b""), ("sub/a", b"x")]));
    }

    #[test]
    fn truncate_syncs_and_set_len_does_not() {
        let (dir, _, dest) = setup();
        std::fs::write(dir.path().join("a"), b"0123456789").expect("write");
        std::fs::write(dir.path().join("b"), b"0123456789").expect("write");
        let vfs = PowerCutVfs::new(dir.path()).expect("adopts what is there");
        vfs.truncate(&dir.path().join("a"), 4).expect("truncate");
        let file = vfs.create(&dir.path().join("b")).expect("create empties it");
        super::super::write_all(&*file, b"abcdef").expect("write");
        file.sync_data().expect("sync");
        file.set_len(2).expect("set_len");
        assert_eq!(
            after_cut(&vfs, dest.path()),
            expect(&[("a", b"0123"), ("b", b"abcdef")])
        );
    }

    #[test]
    fn after_the_cut_every_operation_fails_and_changes_nothing() {
        let (dir, vfs, dest) = setup();
        let path = dir.path().join("a");
        let file = vfs.create_new(&path).expect("create");
        vfs.sync_dir(dir.path()).expect("sync dir");
        // Two operations so far; the one after the next is cut.
        assert_eq!(vfs.operations(), 2);
        vfs.cut_after(1);
        super::super::write_all(&*file, b"x").expect("the operation before the cut");
        assert!(!vfs.is_cut());
        assert!(file.sync_data().is_err(), "the cut operation fails");
        assert_eq!(vfs.cut_point().map(|c| c.0), Some(3));
        assert!(vfs.read(&path).is_err());
        assert!(vfs.create_new(&dir.path().join("b")).is_err());
        assert!(vfs.remove_file(&path).is_err());
        assert!(path.exists(), "a failed remove leaves the file");
        assert!(vfs.syncs().is_empty(), "no sync made it: {:?}", vfs.syncs());
        assert_eq!(after_cut(&vfs, dest.path()), expect(&[("a", b"")]));
    }
}
