//! Reading the log back on open.
//!
//! Frames are handed to the caller in order. The last log file may end in a torn frame (the
//! process or machine died mid-append): it is detected by its length or checksum, cut off,
//! and reported; every complete frame before it is kept. Damage anywhere else is corruption
//! and fails the open with the file and offset.

use std::path::{Path, PathBuf};

use super::{
    FORMAT_VERSION, FRAME_HEADER_LEN, LOG_FILE_HEADER_LEN, LOG_FILE_MAGIC, MAX_FRAME_PAYLOAD, log_file_number,
    log_file_path,
};
use crate::error::{Error, Result};
use crate::vfs::Vfs;

/// What a replay found.
#[derive(Debug, Default)]
pub(crate) struct ReplayOutcome {
    /// Sequence number for the next frame.
    pub next_seq: u64,
    /// Number for the next log file.
    pub next_log_file: u64,
    /// Frames replayed.
    pub frames: u64,
    /// Where a torn tail was cut off, and why it was recognised as one.
    pub torn_tail: Option<(PathBuf, u64, String)>,
}

/// Replays every log file in `dir` in order, calling `apply(seq, payload)` for each frame.
pub(crate) fn replay(
    vfs: &dyn Vfs,
    dir: &Path,
    mut apply: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<ReplayOutcome> {
    let numbers = log_file_numbers(vfs, dir)?;
    let mut outcome = ReplayOutcome {
        next_seq: 1,
        next_log_file: numbers.last().map_or(1, |n| n + 1),
        ..Default::default()
    };
    for (i, &number) in numbers.iter().enumerate() {
        let is_last = i + 1 == numbers.len();
        let path = log_file_path(dir, number);
        let bytes = vfs.read(&path).map_err(|e| Error::io(&path, e))?;
        if let Some((offset, reason)) = replay_log_file(&path, number, &bytes, is_last, &mut outcome, &mut apply)? {
            if offset < LOG_FILE_HEADER_LEN as u64 {
                // Not even the header made it: the log file holds nothing.
                vfs.remove_file(&path).map_err(|e| Error::io(&path, e))?;
                crate::vfs::sync_dir(vfs, dir)?;
            } else {
                vfs.truncate(&path, offset).map_err(|e| Error::io(&path, e))?;
            }
            outcome.torn_tail = Some((path, offset, reason));
        }
    }
    Ok(outcome)
}

/// Replays one log file; returns where to cut a torn tail, if any.
fn replay_log_file(
    path: &Path,
    number: u64,
    bytes: &[u8],
    is_last: bool,
    outcome: &mut ReplayOutcome,
    apply: &mut impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<Option<(u64, String)>> {
    let next_seq = outcome.next_seq;
    let damaged = |offset: usize, reason: String| -> Result<Option<(u64, String)>> {
        if !is_last {
            return Err(Error::corruption(path, offset as u64, reason));
        }
        // A torn append is the last thing in the log. A complete frame after the damage
        // means acknowledged data follows it: cutting there would lose it.
        match next_valid_frame(bytes, offset.max(LOG_FILE_HEADER_LEN), next_seq) {
            Some(found) => Err(Error::corruption(
                path,
                offset as u64,
                format!("{reason}, but a complete frame follows at offset {found}"),
            )),
            None => Ok(Some((offset as u64, reason))),
        }
    };
    if bytes.len() < LOG_FILE_HEADER_LEN {
        // A crash between creating the file and writing its header.
        return damaged(
            0,
            format!("segment header is {} of {LOG_FILE_HEADER_LEN} bytes", bytes.len()),
        );
    }
    let header = &bytes[..LOG_FILE_HEADER_LEN];
    if &header[..8] != LOG_FILE_MAGIC {
        return Err(Error::corruption(path, 0, "not a twinstore WAL segment (bad magic)"));
    }
    let stored_crc = u32::from_le_bytes([header[20], header[21], header[22], header[23]]);
    if crc32c::crc32c(&header[..20]) != stored_crc {
        return Err(Error::corruption(path, 20, "segment header checksum mismatch"));
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let header_number = u64::from_le_bytes(header[12..20].try_into().unwrap_or_default());
    if header_number != number {
        return Err(Error::corruption(
            path,
            12,
            format!("segment number {header_number} does not match its file name"),
        ));
    }
    let mut pos = LOG_FILE_HEADER_LEN;
    while pos < bytes.len() {
        let Some(head) = bytes.get(pos..pos + FRAME_HEADER_LEN) else {
            return damaged(pos, "frame header cut short".into());
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let seq_bytes: [u8; 8] = head[8..16].try_into().unwrap_or_default();
        let seq = u64::from_le_bytes(seq_bytes);
        let body_start = pos + FRAME_HEADER_LEN;
        if len > MAX_FRAME_PAYLOAD || body_start + len > bytes.len() {
            return damaged(pos, format!("frame of {len} bytes runs past the end of the segment"));
        }
        let payload = &bytes[body_start..body_start + len];
        let actual = crc32c::crc32c_append(crc32c::crc32c(&seq_bytes), payload);
        if actual != crc {
            return damaged(pos, "frame checksum mismatch".into());
        }
        if seq < outcome.next_seq {
            return Err(Error::corruption(
                path,
                pos as u64,
                format!("frame sequence {seq} is not after {}", outcome.next_seq - 1),
            ));
        }
        apply(seq, payload).map_err(|e| match e {
            Error::InvalidArgument(reason) => Error::corruption(path, pos as u64, reason),
            other => other,
        })?;
        outcome.next_seq = seq + 1;
        outcome.frames += 1;
        pos = body_start + len;
    }
    Ok(None)
}

/// The offset of the first complete, checksummed frame that starts after `damage` and has a
/// plausible sequence number (at least `next_seq`), if any.
fn next_valid_frame(bytes: &[u8], damage: usize, next_seq: u64) -> Option<usize> {
    // Frames are not aligned, so every offset is a candidate; the length and sequence checks
    // reject almost all of them before a checksum is computed.
    (damage + 1..bytes.len().saturating_sub(FRAME_HEADER_LEN - 1)).find(|&pos| {
        let head = &bytes[pos..pos + FRAME_HEADER_LEN];
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let seq_bytes: [u8; 8] = head[8..16].try_into().unwrap_or_default();
        let seq = u64::from_le_bytes(seq_bytes);
        let body = pos + FRAME_HEADER_LEN;
        len <= MAX_FRAME_PAYLOAD
            && body + len <= bytes.len()
            && seq >= next_seq
            && seq - next_seq < 1 << 32
            && crc32c::crc32c_append(crc32c::crc32c(&seq_bytes), &bytes[body..body + len]) == crc
    })
}

/// The numbers of the log files in `dir`, ascending.
fn log_file_numbers(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<u64>> {
    let mut numbers: Vec<u64> = vfs
        .read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .iter()
        .filter_map(|p| log_file_number(p))
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// Reads every log file in `dir` without changing anything and checks every frame (header,
/// checksum, sequence order, payload structure). Returns the frames checked and, per damaged
/// log file, the first problem found in it (a torn tail counts: on a live store there is none).
pub(crate) fn verify(vfs: &dyn Vfs, dir: &Path) -> Result<(u64, Vec<Error>)> {
    let numbers = log_file_numbers(vfs, dir)?;
    let mut outcome = ReplayOutcome {
        next_seq: 1,
        ..Default::default()
    };
    let mut problems = Vec::new();
    for number in numbers {
        let path = log_file_path(dir, number);
        let bytes = match vfs.read(&path) {
            Ok(b) => b,
            Err(e) => {
                problems.push(Error::io(&path, e));
                continue;
            }
        };
        let mut check = |_seq: u64, payload: &[u8]| {
            super::codec::decode_batch(payload)
                .map(|_| ())
                .map_err(|e| Error::InvalidArgument(format!("frame payload does not decode: {e}")))
        };
        // Every log file as if it were not the last: damage anywhere is reported.
        match replay_log_file(&path, number, &bytes, false, &mut outcome, &mut check) {
            Ok(Some((offset, reason))) => problems.push(Error::corruption(&path, offset, reason)),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    Ok((outcome.frames, problems))
}
