//! Opening a segment file: map it, check its header and trailer at open and its footer on
//! first use, find a twin's directory by binary search and parse it once. Also the whole-file
//! walks (verify, size breakdown). Implements docs/FORMAT.md, "Segment files" → "Header",
//! "Footer", "Trailer" and "What a reader checks, and when". Versions 1 and 2 are read.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::chunk::Chunk;
use super::directory::{Directory, parse_directory};
use super::presence::presence_len;
use super::{
    HEADER_LEN, OLDEST_SEGMENT_VERSION, SEGMENT_MAGIC, SEGMENT_VERSION, SizeBreakdown, TRAILER_LEN, TRAILER_MAGIC,
    TWIN_REF_LEN, TwinRef,
};
use crate::error::{Error, Result};
use crate::model::TwinId;
use crate::vfs::{FileBytes, Vfs};

// Reading.

/// An open segment file.
pub(crate) struct Segment {
    path: PathBuf,
    pub(super) map: FileBytes,
    /// The file layer, to delete the file once retired.
    vfs: Arc<dyn Vfs>,
    /// Why the file could not be opened, when the store opened without it: every read of it
    /// fails with this, and other files stay readable.
    damage: Option<Damage>,
    pub(super) footer_offset: usize,
    /// The format version the file was written in.
    version: u32,
    twins: usize,
    footer_crc: u32,
    /// The footer is checked on first use, not at open: opening a store maps many files.
    footer_checked: OnceLock<std::result::Result<(), String>>,
    /// Parsed twin directories, by footer index: parsed and checksummed once, then shared by
    /// every query.
    dirs: Box<[OnceLock<Arc<Directory>>]>,
    /// The file has been read into memory and its pages mapped (see [`Segment::preload`]).
    preloaded: std::sync::atomic::AtomicBool,
    /// Set when the file is no longer part of the store: it is deleted once the last reader
    /// drops it.
    retired: std::sync::atomic::AtomicBool,
}

/// Why a file the manifest names could not be opened.
#[derive(Clone, Debug)]
enum Damage {
    /// Its bytes are not a segment file, or it is missing: offset and reason.
    Corrupt(u64, String),
    /// It was written by a format version this build does not read (the version found):
    /// reads fail with [`Error::UnsupportedVersion`], as docs/FORMAT.md promises, not with a
    /// corruption error.
    Version(u32),
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("path", &self.path).finish()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.retired.load(std::sync::atomic::Ordering::Acquire) {
            // Best effort: a file left behind is removed as an orphan on the next open.
            let _ = self.vfs.remove_file(&self.path);
        }
    }
}

impl Segment {
    /// Maps `path` through the real file system and checks its header and trailer.
    #[cfg(test)]
    pub(crate) fn open(path: &Path) -> Result<Arc<Segment>> {
        Self::open_in(crate::vfs::std_vfs(), path)
    }

    /// Maps `path` through `vfs` and checks its header and trailer.
    pub(crate) fn open_in(vfs: Arc<dyn Vfs>, path: &Path) -> Result<Arc<Segment>> {
        let map = vfs.map(path).map_err(|e| Error::io(path, e))?;
        let corrupt = |offset: usize, reason: &str| Error::corruption(path, offset as u64, reason);
        if map.len() < HEADER_LEN + TRAILER_LEN {
            return Err(corrupt(0, "file shorter than a segment header and trailer"));
        }
        if &map[..8] != SEGMENT_MAGIC {
            return Err(corrupt(0, "not a twinstore segment (bad magic)"));
        }
        let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if crc32c::crc32c(&map[..12]) != le32(&map[12..16]) {
            return Err(corrupt(12, "segment header checksum mismatch"));
        }
        let version = le32(&map[8..12]);
        if !(OLDEST_SEGMENT_VERSION..=SEGMENT_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: SEGMENT_VERSION,
            });
        }
        let t = map.len() - TRAILER_LEN;
        let trailer = &map[t..];
        if &trailer[24..] != TRAILER_MAGIC {
            return Err(corrupt(t + 24, "segment trailer missing (file truncated?)"));
        }
        if crc32c::crc32c(&trailer[..20]) != le32(&trailer[20..24]) {
            return Err(corrupt(t + 20, "segment trailer checksum mismatch"));
        }
        if le32(&trailer[16..20]) != version {
            return Err(corrupt(t + 16, "segment trailer version differs from the header's"));
        }
        let footer_offset = u64::from_le_bytes(trailer[..8].try_into().unwrap_or_default());
        let twins = le32(&trailer[8..12]) as usize;
        let footer_end = usize::try_from(footer_offset)
            .ok()
            .and_then(|o| o.checked_add(twins.checked_mul(TWIN_REF_LEN)?));
        if footer_end != Some(t) || footer_offset % 8 != 0 {
            return Err(corrupt(t, "segment footer position does not match the file size"));
        }
        Ok(Arc::new(Segment {
            path: path.to_path_buf(),
            footer_offset: footer_offset as usize,
            version,
            twins,
            footer_crc: le32(&trailer[12..16]),
            map,
            vfs,
            damage: None,
            footer_checked: OnceLock::new(),
            dirs: (0..twins).map(|_| OnceLock::new()).collect(),
            preloaded: Default::default(),
            retired: Default::default(),
        }))
    }

    /// Reads the whole file into memory and maps its pages (once), so that the first query
    /// touching a twin does not wait for page faults. Best effort: errors are ignored.
    pub(crate) fn preload(&self) {
        if self.preloaded.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        self.map.populate();
    }

    /// Checks every twin directory and block of the file (checksums, full decodes, counts
    /// against the directory), handing each problem to `problem` and going on; counts the
    /// blocks read in `blocks`. An unreadable footer ends the check (it is the error).
    pub(crate) fn verify(&self, blocks: &mut u64, problem: &mut dyn FnMut(Error)) -> Result<()> {
        let refs = self.footer()?.to_vec();
        let mut ts = Vec::new();
        for r in &refs {
            let chunk = match self.chunk_of(r) {
                Ok(c) => c,
                Err(e) => {
                    problem(e);
                    continue;
                }
            };
            for g in &chunk.groups {
                *blocks += 1;
                match chunk.timestamps(g, &mut ts) {
                    Err(e) => problem(e),
                    Ok(()) => {
                        let sorted = ts.windows(2).all(|w| w[0] <= w[1]);
                        if ts.len() != g.rows
                            || !sorted
                            || ts.first() != Some(&g.first_ts)
                            || ts.last() != Some(&g.last_ts)
                        {
                            problem(self.corrupt(
                                g.ts_block.start,
                                format!(
                                    "timestamp block of twin {} disagrees with its directory (rows, order or range)",
                                    r.twin
                                ),
                            ));
                        }
                    }
                }
                for b in &g.blocks {
                    if b.windows.is_some() {
                        *blocks += 1;
                        // Decoding checks the summaries against the block's statistics.
                        if let Err(e) = chunk.hour_summaries(b) {
                            problem(e);
                        }
                    }
                    *blocks += 1;
                    match chunk.column(g, b) {
                        Err(e) => problem(e),
                        Ok((present, _)) => {
                            if present.len() as u64 != b.stats.count {
                                problem(self.corrupt(
                                    b.block.start,
                                    format!(
                                        "column block of twin {} has {} values, its directory says {}",
                                        r.twin,
                                        present.len(),
                                        b.stats.count
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The file's size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Marks the file for deletion when the last reader lets go of it.
    pub(crate) fn retire(&self) {
        self.retired.store(true, std::sync::atomic::Ordering::Release);
    }

    pub(super) fn corrupt(&self, offset: usize, reason: impl Into<String>) -> Error {
        Error::corruption(&self.path, offset as u64, reason)
    }

    /// A file the manifest names but that cannot be opened (its header or trailer is
    /// damaged, it is cut short, or it is missing): it holds no readable rows, and every read
    /// of it fails with `error`'s file, offset and reason, so that the rest of the store can
    /// open and answer. `verify` reports it.
    pub(crate) fn damaged(vfs: Arc<dyn Vfs>, path: &Path, error: &Error) -> Arc<Segment> {
        let damage = match error {
            Error::Corruption { offset, reason, .. } => Damage::Corrupt(*offset, reason.clone()),
            Error::UnsupportedVersion { found, .. } => Damage::Version(*found),
            other => Damage::Corrupt(0, other.to_string()),
        };
        Arc::new(Segment {
            path: path.to_path_buf(),
            footer_offset: 0,
            version: 0,
            twins: 0,
            footer_crc: 0,
            map: FileBytes::from_vec(Vec::new()),
            vfs,
            damage: Some(damage),
            footer_checked: OnceLock::new(),
            dirs: Box::new([]),
            preloaded: Default::default(),
            retired: Default::default(),
        })
    }

    /// The whole file, as mapped (empty for a damaged file).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Whether the file could not be opened (see [`Segment::damaged`]).
    pub(crate) fn is_damaged(&self) -> bool {
        self.damage.is_some()
    }

    /// The footer, checksummed on first use.
    pub(crate) fn footer(&self) -> Result<&[TwinRef]> {
        match &self.damage {
            Some(Damage::Corrupt(offset, reason)) => {
                return Err(Error::corruption(&self.path, *offset, reason.clone()));
            }
            Some(Damage::Version(found)) => {
                return Err(Error::UnsupportedVersion {
                    path: self.path.clone(),
                    found: *found,
                    supported: SEGMENT_VERSION,
                });
            }
            None => {}
        }
        let bytes = &self.map[self.footer_offset..self.footer_offset + self.twins * TWIN_REF_LEN];
        let checked = self.footer_checked.get_or_init(|| {
            if crc32c::crc32c(bytes) != self.footer_crc {
                return Err("segment footer checksum mismatch".into());
            }
            let refs: &[TwinRef] = bytemuck::try_cast_slice(bytes).map_err(|e| format!("footer: {e}"))?;
            if refs.windows(2).any(|w| w[0].twin >= w[1].twin) {
                return Err("segment footer is not sorted by twin".into());
            }
            Ok(())
        });
        if let Err(reason) = checked {
            return Err(self.corrupt(self.footer_offset, reason.clone()));
        }
        bytemuck::try_cast_slice(bytes).map_err(|e| self.corrupt(self.footer_offset, format!("footer: {e}")))
    }

    /// Where this file's bytes go: timestamps, values, presence, index (directories,
    /// footer, header, trailer and padding).
    pub(crate) fn size_breakdown(&self) -> Result<SizeBreakdown> {
        let mut sizes = SizeBreakdown::default();
        for r in self.footer()? {
            let chunk = self.chunk_of(r)?;
            for g in &chunk.groups {
                sizes.timestamps += g.ts_block.len as u64;
                for b in &g.blocks {
                    let bytes = chunk.block(&b.block)?;
                    let presence = presence_len(bytes, g.rows, b.stats.count as usize)
                        .map_err(|e| self.corrupt(b.block.start, e.0))?;
                    sizes.presence += presence as u64;
                    sizes.values += (b.block.len - presence) as u64;
                    sizes.summaries += b.windows.map_or(0, |w| w.len as u64);
                }
            }
        }
        let total = self.map.len() as u64;
        sizes.index = total - sizes.timestamps - sizes.values - sizes.presence - sizes.summaries;
        Ok(sizes)
    }

    /// The footer entry of `twin`, if the file holds it.
    pub(crate) fn twin_ref(&self, twin: TwinId) -> Result<Option<TwinRef>> {
        Ok(self.find(twin)?.map(|(_, r)| r))
    }

    /// The footer index and entry of `twin`, if the file holds it.
    pub(crate) fn find(&self, twin: TwinId) -> Result<Option<(usize, TwinRef)>> {
        let refs = self.footer()?;
        Ok(refs.binary_search_by_key(&twin, |r| r.twin).ok().map(|i| (i, refs[i])))
    }

    /// Reads `twin`'s directory.
    pub(crate) fn chunk(&self, twin: TwinId) -> Result<Option<Chunk<'_>>> {
        let Some((index, r)) = self.find(twin)? else {
            return Ok(None);
        };
        self.chunk_at(index, &r).map(Some)
    }

    /// Reads the directory of footer entry `r`.
    pub(crate) fn chunk_of(&self, r: &TwinRef) -> Result<Chunk<'_>> {
        match self.find(r.twin)? {
            Some((index, _)) => self.chunk_at(index, r),
            None => Err(self.corrupt(self.footer_offset, format!("twin {} is not in the footer", r.twin))),
        }
    }

    /// Reads the directory of footer entry `r`, at `index` of the footer (as [`Segment::find`]
    /// returned them): parsed once, then shared.
    pub(crate) fn chunk_at(&self, index: usize, r: &TwinRef) -> Result<Chunk<'_>> {
        let slot = self.dirs.get(index);
        let dir = match slot.and_then(OnceLock::get) {
            Some(dir) => dir.clone(),
            None => {
                let dir = Arc::new(self.parse_dir(r)?);
                if let Some(slot) = slot {
                    let _ = slot.set(dir.clone());
                }
                dir
            }
        };
        Ok(Chunk {
            segment: self,
            file_id: 0,
            twin_ref: *r,
            dir,
        })
    }

    fn parse_dir(&self, r: &TwinRef) -> Result<Directory> {
        let start = r.dir_offset as usize;
        let end = start
            .checked_add(r.dir_len as usize)
            .filter(|&e| e <= self.footer_offset);
        let Some(end) = end else {
            return Err(self.corrupt(start, "twin directory runs past the footer"));
        };
        let dir = &self.map[start..end];
        if crc32c::crc32c(dir) != r.dir_crc {
            return Err(self.corrupt(start, format!("directory checksum mismatch (twin {})", r.twin)));
        }
        parse_directory(dir, r, end, self.version)
            .map_err(|e| self.corrupt(start, format!("twin {} directory: {e}", r.twin)))
    }
}
