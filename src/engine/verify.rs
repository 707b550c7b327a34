//! `Store::verify`: reads every byte the store depends on and reports every problem, with
//! the file and offset, instead of stopping at the first (the basis of `twinstore check`).
//!
//! - The write-ahead log: every frame's header, checksum, sequence order and payload
//!   structure (read while writers are paused, so no frame is half-written).
//! - The manifest: its checksum and structure, read from disk again.
//! - The model file: its header and every frame's checksum and content.
//! - Each segment file of the manifest: the footer, every twin directory, every timestamp and
//!   column block (checksum and full decode), and that each block's row and value counts
//!   agree with its directory entry.
//! - Files in the store's directories that nothing names (left by a crash, removed at the
//!   next open) are listed as notes, not problems.

use std::path::PathBuf;

use crate::cold::{COLD_DIR, Manifest};
use crate::error::{Error, Result};

use super::{Inner, WAL_DIR};

/// A problem `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// Byte offset of the damaged structure, when known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{} at byte {offset}: {}", self.path.display(), self.what),
            None => write!(f, "{}: {}", self.path.display(), self.what),
        }
    }
}

impl Problem {
    fn from_error(e: Error, fallback: &std::path::Path) -> Problem {
        match e {
            Error::Corruption { path, offset, reason } => Problem {
                path,
                offset: Some(offset),
                what: reason,
            },
            Error::Io { path, source } => Problem {
                path,
                offset: None,
                what: source.to_string(),
            },
            other => Problem {
                path: fallback.to_path_buf(),
                offset: None,
                what: other.to_string(),
            },
        }
    }
}

/// What `verify` read and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// WAL frames checked.
    pub wal_frames: u64,
    /// Model file frames checked (its snapshot and the changes since).
    pub model_frames: usize,
    /// Segment files checked.
    pub segment_files: usize,
    /// Timestamp and column blocks checked.
    pub blocks: u64,
    /// Every problem found.
    pub problems: Vec<Problem>,
    /// Files nothing names (removed on the next open); not damage.
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// No problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub(crate) fn verify(inner: &Inner) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    // The log, with writers paused between append and visibility.
    {
        let _gate = inner.gate.write();
        let wal_dir = inner.dir.join(WAL_DIR);
        let (frames, problems) = crate::wal::verify(&*inner.options.vfs, &wal_dir)?;
        report.wal_frames = frames;
        report
            .problems
            .extend(problems.into_iter().map(|e| Problem::from_error(e, &wal_dir)));
    }
    // The manifest as it is on disk.
    let manifest_path = inner.dir.join(crate::cold::manifest::MANIFEST_FILE);
    let named: Vec<u64> = match Manifest::read(&*inner.options.vfs, &inner.dir) {
        Ok(m) => m.map(|m| m.files.iter().map(|f| f.id).collect()).unwrap_or_default(),
        Err(e) => {
            report.problems.push(Problem::from_error(e, &manifest_path));
            Vec::new()
        }
    };
    // The model file.
    match inner.tsm.verify(&*inner.options.vfs, &inner.dir) {
        Ok(frames) => report.model_frames = frames,
        Err(e) => report
            .problems
            .push(Problem::from_error(e, &inner.dir.join(crate::tsm::log::MODEL_FILE))),
    }
    // Every block of every live file.
    let cold = inner.cold.read();
    for f in &cold.files {
        report.segment_files += 1;
        let path = crate::cold::segment_path(&inner.dir, f.meta.id);
        if let Err(e) = f.segment.verify(&mut report.blocks, &mut |e| {
            report.problems.push(Problem::from_error(e, &path));
        }) {
            report.problems.push(Problem::from_error(e, &path));
        }
    }
    // Files nothing names.
    let cold_dir = inner.dir.join(COLD_DIR);
    if let Ok(entries) = inner.options.vfs.read_dir(&cold_dir) {
        for path in entries {
            let id = crate::cold::segment_file_id(&path);
            let live = id.is_some_and(|id| cold.files.iter().any(|f| f.meta.id == id) || named.contains(&id));
            if !live {
                report
                    .notes
                    .push(format!("{} is not named by the manifest", path.display()));
            }
        }
    }
    Ok(report)
}
