//! Ingest of a stream: newline-delimited input read in line-aligned chunks, one
//! [`Store::ingest`] call per chunk, so memory stays bounded whatever the input's size. The
//! command-line tool and the bench report feed files through it.

use std::io::Read;

use super::{IngestOptions, IngestReport, Store};
use crate::error::{Error, Result};

/// Bytes per ingest call of [`Store::ingest_reader`].
pub const READER_CHUNK_BYTES: usize = 16 << 20;

/// The name errors give to the input of [`Store::ingest_reader`] (it has no path).
const READER: &str = "<reader>";

impl Store {
    /// Ingests newline-delimited input (`options.format`) from `reader`, in line-aligned
    /// chunks of about [`READER_CHUNK_BYTES`], one [`Store::ingest`] call each. Rejected
    /// lines are numbered over the whole stream, from `options.first_line`.
    ///
    /// Not all-or-nothing: each chunk is written as it is read, bad lines are reported and
    /// the rest kept. So `options.strict == Some(true)` is refused with
    /// [`Error::InvalidArgument`] (read the input whole and call [`Store::ingest`] for
    /// that). If reading fails, the chunks ingested before stay written (whole lines only:
    /// the partial chunk at the failure is not) and the call fails with [`Error::Io`] on
    /// the path `<reader>`, saying after how many bytes.
    pub fn ingest_reader(&self, reader: impl Read, options: &IngestOptions) -> Result<IngestReport> {
        self.ingest_reader_chunked(reader, options, READER_CHUNK_BYTES, |_, _| {})
    }

    /// [`Store::ingest_reader`] with chunks of about `chunk_bytes` (at least 1), calling
    /// `each_chunk` after each chunk with that chunk's report and its size in bytes: for a
    /// progress bar, or to show rejected lines as they come.
    pub fn ingest_reader_chunked(
        &self,
        mut reader: impl Read,
        options: &IngestOptions,
        chunk_bytes: usize,
        mut each_chunk: impl FnMut(&IngestReport, usize),
    ) -> Result<IngestReport> {
        if options.strict == Some(true) {
            return Err(Error::InvalidArgument(
                "ingest_reader writes chunk by chunk and cannot refuse the whole input: strict is not available".into(),
            ));
        }
        let chunk_bytes = chunk_bytes.max(1);
        let mut total = IngestReport::default();
        let mut buffer: Vec<u8> = Vec::new();
        let mut next_line = options.first_line.max(1);
        let mut consumed = 0u64;
        let mut want = chunk_bytes;
        loop {
            let at_end = fill(&mut reader, &mut buffer, want).map_err(|e| {
                let read = consumed + buffer.len() as u64;
                let message = format!("{e} (after {read} bytes of input)");
                Error::io(READER, std::io::Error::new(e.kind(), message))
            })?;
            let cut = if at_end {
                buffer.len()
            } else {
                match memchr::memrchr(b'\n', &buffer) {
                    Some(i) => i + 1,
                    None => {
                        // One line longer than a chunk: read on until it ends.
                        want = buffer.len() + chunk_bytes;
                        continue;
                    }
                }
            };
            if cut > 0 {
                let piece = &buffer[..cut];
                let chunk_options = IngestOptions {
                    format: options.format,
                    strict: Some(false),
                    first_line: next_line,
                };
                let report = self.ingest(piece, &chunk_options)?;
                each_chunk(&report, cut);
                total.merge(report);
                next_line += memchr::memchr_iter(b'\n', piece).count() as u64;
                consumed += cut as u64;
            }
            buffer.drain(..cut);
            want = chunk_bytes;
            if at_end {
                return Ok(total);
            }
        }
    }
}

/// Appends from `reader` to `buffer` until it holds `want` bytes or the input ends; returns
/// whether the input ended.
fn fill(reader: &mut impl Read, buffer: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let missing = want.saturating_sub(buffer.len());
    if missing == 0 {
        return Ok(false);
    }
    buffer.reserve(missing);
    let read = reader.take(missing as u64).read_to_end(buffer)?;
    Ok(read < missing)
}
