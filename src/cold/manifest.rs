//! The manifest: which segment files make up the store, up to which WAL frame they hold the
//! data, and the catalog (twins, their columns and models).
//!
//! It is replaced atomically: written to `MANIFEST.tmp`, synced, renamed over `MANIFEST`,
//! and the directory synced. A crash leaves either the old or the new manifest; segment files
//! the surviving manifest does not name are removed on open. docs/FORMAT.md ("Manifest") has
//! the bytes.

use std::path::Path;

use super::codec::{Reader, put_ivarint, put_uvarint};
use crate::error::{Error, Result};
use crate::model::ValueType;
use crate::vfs::Vfs;

pub(crate) const MANIFEST_FILE: &str = "MANIFEST";
pub(crate) const MANIFEST_TMP: &str = "MANIFEST.tmp";
const MAGIC: &[u8; 8] = b"TWINMAN\0";
pub(crate) const MANIFEST_VERSION: u32 = 1;
const HEADER_LEN: usize = 24;

/// One live segment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileMeta {
    pub id: u64,
    pub bytes: u64,
    pub twins: u64,
    pub rows: u64,
    pub points: u64,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// One twin of the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TwinDef {
    pub id: u32,
    pub name: String,
    pub model: Option<(String, u64)>,
    /// Columns in id order (ids are dense).
    pub columns: Vec<(String, ValueType)>,
}

/// The manifest's content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// Every WAL frame up to this sequence number is in the files.
    pub checkpoint: u64,
    /// Id for the next segment file.
    pub next_file_id: u64,
    /// Live files, oldest first: rows of equal time are ordered by file, then within it.
    pub files: Vec<FileMeta>,
    pub twins: Vec<TwinDef>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn get_str(r: &mut Reader<'_>, max: usize) -> std::result::Result<String, String> {
    let len = r.len(max).map_err(|e| e.0)?;
    let bytes = r.bytes_n(len).map_err(|e| e.0)?;
    String::from_utf8(bytes.to_vec()).map_err(|e| format!("name is not UTF-8: {e}"))
}

impl Manifest {
    /// The manifest's bytes: header (magic, version u32, body length u64, body crc32c u32),
    /// then the body.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        put_uvarint(&mut body, self.checkpoint);
        put_uvarint(&mut body, self.next_file_id);
        put_uvarint(&mut body, self.files.len() as u64);
        for f in &self.files {
            for v in [f.id, f.bytes, f.twins, f.rows, f.points] {
                put_uvarint(&mut body, v);
            }
            put_ivarint(&mut body, f.min_ts);
            put_ivarint(&mut body, f.max_ts);
        }
        put_uvarint(&mut body, self.twins.len() as u64);
        for t in &self.twins {
            put_uvarint(&mut body, u64::from(t.id));
            put_str(&mut body, &t.name);
            match &t.model {
                Some((model, seq)) => {
                    body.push(1);
                    put_str(&mut body, model);
                    put_uvarint(&mut body, *seq);
                }
                None => body.push(0),
            }
            put_uvarint(&mut body, t.columns.len() as u64);
            for (name, ty) in &t.columns {
                put_str(&mut body, name);
                body.push(ty.tag());
            }
        }
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Manifest> {
        let corrupt = |offset: usize, reason: String| Error::corruption(path, offset as u64, reason);
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(corrupt(0, "not a twinstore manifest (bad magic or too short)".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
        if version != MANIFEST_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: MANIFEST_VERSION,
            });
        }
        let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or_default());
        let crc = u32::from_le_bytes(bytes[20..24].try_into().unwrap_or_default());
        let body = &bytes[HEADER_LEN..];
        if body.len() as u64 != len {
            return Err(corrupt(12, format!("body is {} bytes, header says {len}", body.len())));
        }
        if crc32c::crc32c(body) != crc {
            return Err(corrupt(20, "manifest checksum mismatch".into()));
        }
        Self::decode_body(body).map_err(|reason| corrupt(HEADER_LEN, reason))
    }

    fn decode_body(body: &[u8]) -> std::result::Result<Manifest, String> {
        let mut r = Reader::new(body);
        let e = |e: super::codec::CodecError| e.0;
        let checkpoint = r.uvarint().map_err(e)?;
        let next_file_id = r.uvarint().map_err(e)?;
        let nfiles = r.len(body.len()).map_err(e)?;
        let mut files = Vec::with_capacity(nfiles);
        for _ in 0..nfiles {
            let mut v = [0u64; 5];
            for x in &mut v {
                *x = r.uvarint().map_err(e)?;
            }
            files.push(FileMeta {
                id: v[0],
                bytes: v[1],
                twins: v[2],
                rows: v[3],
                points: v[4],
                min_ts: r.ivarint().map_err(e)?,
                max_ts: r.ivarint().map_err(e)?,
            });
        }
        let ntwins = r.len(body.len()).map_err(e)?;
        let mut twins = Vec::with_capacity(ntwins);
        for _ in 0..ntwins {
            let id = u32::try_from(r.uvarint().map_err(e)?).map_err(|_| "twin id over u32".to_string())?;
            let name = get_str(&mut r, body.len())?;
            let model = match r.u8().map_err(e)? {
                0 => None,
                1 => Some((get_str(&mut r, body.len())?, r.uvarint().map_err(e)?)),
                b => return Err(format!("bad model flag {b}")),
            };
            let ncols = r.len(body.len()).map_err(e)?;
            let mut columns = Vec::with_capacity(ncols);
            for _ in 0..ncols {
                let name = get_str(&mut r, body.len())?;
                let tag = r.u8().map_err(e)?;
                let ty = ValueType::from_tag(tag).ok_or_else(|| format!("unknown type tag {tag}"))?;
                columns.push((name, ty));
            }
            twins.push(TwinDef {
                id,
                name,
                model,
                columns,
            });
        }
        if !r.rest().is_empty() {
            return Err("trailing bytes after the catalog".into());
        }
        Ok(Manifest {
            checkpoint,
            next_file_id,
            files,
            twins,
        })
    }

    /// Reads the manifest in `dir`, if there is one.
    pub(crate) fn read(vfs: &dyn Vfs, dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST_FILE);
        match vfs.read(&path) {
            Ok(bytes) => Self::decode(&path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Replaces the manifest in `dir` atomically and durably: written to a temporary file,
    /// synced, renamed over the old one, and the directory synced.
    pub(crate) fn write(&self, vfs: &dyn Vfs, dir: &Path) -> std::result::Result<(), ManifestWriteError> {
        let tmp = dir.join(MANIFEST_TMP);
        let path = dir.join(MANIFEST_FILE);
        let written = vfs
            .create(&tmp)
            .and_then(|file| {
                crate::vfs::write_all(&*file, &self.encode())?;
                file.sync_all()
            })
            .map_err(|e| Error::io(&tmp, e))
            .and_then(|()| vfs.rename(&tmp, &path).map_err(|e| Error::io(&path, e)));
        if let Err(e) = written {
            // The old manifest is intact; the temporary file is removed here or on open.
            let _ = vfs.remove_file(&tmp);
            return Err(ManifestWriteError::NotWritten(e));
        }
        crate::vfs::sync_dir(vfs, dir).map_err(ManifestWriteError::NotDurable)
    }
}

/// How replacing the manifest failed.
#[derive(Debug)]
pub(crate) enum ManifestWriteError {
    /// The old manifest is in place, unchanged.
    NotWritten(Error),
    /// The new manifest is in place, but syncing the directory failed: after a machine crash
    /// either one may be found, so the files of both must be kept.
    NotDurable(Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            checkpoint: 77,
            next_file_id: 4,
            files: vec![FileMeta {
                id: 3,
                bytes: 4096,
                twins: 2,
                rows: 10,
                points: 14,
                min_ts: -5,
                max_ts: 1_700_000_000_000_000_000,
            }],
            twins: vec![
                TwinDef {
                    id: 0,
                    name: "thermostat67".into(),
                    model: Some(("dtmi:com:example:Thermostat;1".into(), 12)),
                    columns: vec![
                        ("Temperature".into(), ValueType::Double),
                        ("Mode".into(), ValueType::String),
                    ],
                },
                TwinDef {
                    id: 5,
                    name: "room-1".into(),
                    model: None,
                    columns: vec![],
                },
            ],
        }
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let m = sample();
        let bytes = m.encode();
        let path = Path::new("MANIFEST");
        assert_eq!(Manifest::decode(path, &bytes).unwrap(), m);
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(Manifest::decode(path, &bad).is_err(), "flip at {at}");
            assert!(Manifest::decode(path, &bytes[..at]).is_err(), "cut at {at}");
        }
    }

    #[test]
    fn write_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::read(&crate::vfs::StdVfs, dir.path()).unwrap(), None);
        let mut m = sample();
        m.write(&crate::vfs::StdVfs, dir.path()).unwrap();
        m.checkpoint = 99;
        m.write(&crate::vfs::StdVfs, dir.path()).unwrap();
        assert_eq!(Manifest::read(&crate::vfs::StdVfs, dir.path()).unwrap(), Some(m));
        assert!(!dir.path().join(MANIFEST_TMP).exists());
    }
}
