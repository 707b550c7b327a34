//! The crate's one error type.
//!
//! Every fallible public call returns [`Result`]. Variants say what happened and where:
//! bad input names the line, twin and field; damage on disk names the file and offset, and a
//! torn tail (an interrupted append, expected after a crash) is kept apart from corruption in
//! the middle of a file.
//!
//! [`RecordError`], one bad input record, lives here too, beside the variants that carry it,
//! so that this module depends on nothing else in the crate and every layer can use it.

use std::fmt;
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in twinstore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed on `path`.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file's bytes are not what the format says they must be.
    #[error("corrupt data in {path} at byte {offset}: {reason}")]
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damaged structure.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file of another program's format (Parquet) could not be written, or read as what
    /// twinstore expects (the TSI cold-store layout).
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What went wrong, and where in the file.
        reason: String,
    },
    /// A file was written by a format version this build cannot read.
    #[error("{path}: unsupported format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The newest version this build reads (the one it writes).
        supported: u32,
    },
    /// The store directory is already opened by another process (or another `Store`): its
    /// `LOCK` file stayed locked for [`vfs::LOCK_RETRY`](crate::vfs::LOCK_RETRY).
    #[error("store {path} is locked by another process or handle")]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// One record of a batch is invalid (only returned for single-record calls).
    #[error("{0}")]
    InvalidRecord(RecordError),
    /// A strict ingest refused the whole batch because some records were invalid; nothing
    /// of the batch was written.
    #[error("batch refused: {} invalid record(s); first: {}", .errors.len(), .errors.first().map(|e| e.to_string()).unwrap_or_default())]
    BatchRejected {
        /// Every invalid record, in input order.
        errors: Vec<RecordError>,
    },
    /// A caller-supplied argument is out of its documented domain.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A Time Series Model item was refused: TSI's error code (`InvalidInput`,
    /// `ResourceNotFound`), its inner code and what is wrong with which item.
    #[error("{code}: {message}")]
    Model {
        /// TSI's error code.
        code: &'static str,
        /// TSI's `innerError` code, when one narrows the cause (`TypeNotFound`, ...).
        inner: Option<&'static str>,
        /// What is wrong, naming the item.
        message: String,
    },
    /// The twin has never been written to this store.
    #[error("unknown twin {0:?}")]
    UnknownTwin(String),
    /// A write-ahead-log failure the store could not undo (a failed sync of acknowledged
    /// writes, or a failed write it could not cut off the log) left it unable to accept
    /// writes; reads still work. Reopening the store recovers it (docs/RELIABILITY.md,
    /// "Faults"). The call whose own write caused it is told whether a reopen may find that
    /// write (whole, never in part).
    #[error("store is read-only after a write failure: {0}")]
    ReadOnly(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A corruption error at `offset` of `path`.
    pub(crate) fn corruption(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        Error::Corruption {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}

/// What was wrong with one input record, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    /// 1-based line number in the input (for typed records: 1-based index in the slice).
    pub line: u64,
    /// The twin id, when it could be read.
    pub twin: Option<String>,
    /// The offending field (a flattened property name, `$dtId`, the timestamp property...).
    pub field: Option<String>,
    /// Why the record was rejected.
    pub reason: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(twin) = &self.twin {
            write!(f, ", twin {twin:?}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field {field:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for RecordError {}
