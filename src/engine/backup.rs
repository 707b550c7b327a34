//! Online backup: a consistent copy of the store, taken while writes go on.
//!
//! A backup is a flush followed by a copy of the segment files the manifest then names, a
//! manifest for the copy, and the Time Series Model. The flush makes every write acknowledged before the call part of
//! the cold tier, so the copy needs no WAL; the files are immutable, and holding them keeps
//! them on disk even if a compaction replaces them meanwhile, so the copy runs without
//! blocking writers, flushes or compactions. The backup directory is a store: open it with
//! [`Store::open`](crate::Store::open) (or copy it into place first) to restore.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Inner, WAL_DIR, maintenance};
use crate::cold::manifest::ManifestWriteError;
use crate::cold::{self, COLD_DIR, ColdFile, Manifest};
use crate::error::{Error, Result};

/// What [`Store::backup`](crate::Store::backup) copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupReport {
    /// The backup directory.
    pub path: PathBuf,
    /// Segment files copied.
    pub files: u64,
    /// Bytes of segment files copied.
    pub bytes: u64,
    /// Events in the backup.
    pub records: u64,
}

pub(crate) fn backup(inner: &Inner, dest: &Path) -> Result<BackupReport> {
    let vfs = &*inner.options.vfs;
    if dest == inner.dir {
        return Err(Error::InvalidArgument("a store cannot be backed up into itself".into()));
    }
    match vfs.read_dir(dest) {
        Ok(entries) if !entries.is_empty() => {
            return Err(Error::InvalidArgument(format!(
                "backup directory {} is not empty",
                dest.display()
            )));
        }
        _ => {}
    }
    for dir in [dest.to_path_buf(), dest.join(COLD_DIR), dest.join(WAL_DIR)] {
        vfs.create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    maintenance::flush(inner)?;
    // The state to copy, taken under the manifest lock so that it is one manifest's:
    // the files, the checkpoint and the catalog. The `Arc`s keep replaced files on disk
    // until the copy is done.
    let (manifest, files): (Manifest, Vec<Arc<ColdFile>>) = {
        let state = inner.manifest.lock();
        let files = inner.cold.read().files.clone();
        let manifest = Manifest {
            checkpoint: state.checkpoint,
            next_file_id: state.next_file_id,
            files: files.iter().map(|f| f.meta.clone()).collect(),
            twins: maintenance::export_catalog(&inner.catalog),
        };
        (manifest, files)
    };
    let mut report = BackupReport {
        path: dest.to_path_buf(),
        files: 0,
        bytes: 0,
        records: 0,
    };
    for f in &files {
        if f.segment.is_damaged() {
            // Surfaces the damage (file and offset) instead of copying a broken file.
            f.segment.footer()?;
        }
        let target = cold::segment_path(dest, f.meta.id);
        let file = vfs.create_new(&target).map_err(|e| Error::io(&target, e))?;
        crate::vfs::write_all(&*file, f.segment.bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io(&target, e))?;
        report.files += 1;
        report.bytes += f.segment.bytes().len() as u64;
        report.records += f.meta.rows;
    }
    crate::vfs::sync_dir(vfs, &dest.join(COLD_DIR))?;
    // The model as it is now: a model change made during the copy may be in it, data written
    // during the copy is not (as for a change made after the flush).
    inner.tsm.copy_to(vfs, dest)?;
    manifest.write(vfs, dest).map_err(|e| match e {
        ManifestWriteError::NotWritten(e) | ManifestWriteError::NotDurable(e) => e,
    })?;
    Ok(report)
}
