//! The model file, `MODEL`: a snapshot of the model followed by the changes made since, each
//! a checksummed frame appended and synced before the change is acknowledged
//! (docs/FORMAT.md, "Model file").
//!
//! Opening a store reads the file and rewrites it as one snapshot (written beside it,
//! synced, renamed over it, the directory synced), so it never grows across opens; while the
//! store is open it is rewritten the same way once its changes outweigh its snapshot. A
//! frame cut short or failing its checksum at the very end of the file is a torn append (a
//! crash during it: the change was never acknowledged) and is dropped; damage anywhere else
//! is corruption and refuses the open.

use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use super::entity::{Hierarchy, Instance, ModelSettings, TimeSeriesType};
use super::graph::{GraphChange, Relationship};
use super::{Change, Model};
use crate::error::{Error, Result};
use crate::vfs::{Vfs, VfsFile};

/// File name of the model file in a store directory.
pub(crate) const MODEL_FILE: &str = "MODEL";
const MODEL_TMP: &str = "MODEL.tmp";
/// Magic bytes at the start of the model file.
pub(crate) const MODEL_MAGIC: &[u8; 8] = b"TWSMODEL";
/// The version this build writes and reads.
pub(crate) const MODEL_VERSION: u32 = 1;
/// Magic, version, header checksum.
const HEADER_LEN: usize = 16;
/// Payload length, payload checksum.
const FRAME_HEADER_LEN: usize = 8;
/// Largest frame payload accepted when reading (a damaged length must not size a buffer).
const MAX_FRAME: usize = 1 << 30;
/// Rewrite the file once the changes appended since the snapshot pass this many bytes and
/// the snapshot's own size.
const REWRITE_MIN_BYTES: u64 = 1 << 20;

/// What reading the model file found.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub model: Model,
    /// A torn append that was dropped: its offset and why it was recognised as one.
    pub torn_tail: Option<(u64, String)>,
    /// Frames read (the snapshot included).
    pub frames: usize,
}

/// The open model file: appends changes, rewrites itself when they outweigh the snapshot.
#[derive(Debug)]
pub(crate) struct ModelLog {
    dir: PathBuf,
    file: Option<Box<dyn VfsFile>>,
    snapshot_bytes: u64,
    appended_bytes: u64,
}

fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MODEL_MAGIC);
    h[8..12].copy_from_slice(&MODEL_VERSION.to_le_bytes());
    let crc = crc32c::crc32c(&h[..12]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// A change as the file logs it: one JSON object with one key naming the change.
pub(crate) fn change_json(change: &Change) -> Json {
    let ids = |ids: &[String]| json!(ids);
    match change {
        Change::Settings(s) => json!({ "settings": s.to_json() }),
        Change::PutTypes(t) => json!({ "putTypes": t.iter().map(TimeSeriesType::to_json).collect::<Vec<_>>() }),
        Change::DeleteTypes(i) => json!({ "deleteTypes": ids(i) }),
        Change::PutHierarchies(h) => json!({ "putHierarchies": h.iter().map(Hierarchy::to_json).collect::<Vec<_>>() }),
        Change::DeleteHierarchies(i) => json!({ "deleteHierarchies": ids(i) }),
        Change::PutInstances(i) => json!({ "putInstances": i.iter().map(Instance::to_json).collect::<Vec<_>>() }),
        Change::DeleteInstances(i) => json!({ "deleteInstances": ids(i) }),
        Change::Graph(changes) => json!({ "graph": changes.iter().map(graph_change_json).collect::<Vec<_>>() }),
    }
}

fn relationship_json(r: &Relationship) -> Json {
    json!({
        "$relationshipId": r.id,
        "$sourceId": r.source,
        "$targetId": r.target,
        "$relationshipName": r.name,
    })
}

fn graph_change_json(change: &GraphChange) -> Json {
    match change {
        GraphChange::Relate(r) => json!({ "relate": relationship_json(r) }),
        GraphChange::Unrelate { source, id } => {
            json!({ "unrelate": { "$sourceId": source, "$relationshipId": id } })
        }
        GraphChange::TwinCreated { twin, model } => json!({ "twinCreated": { "$dtId": twin, "$model": model } }),
        GraphChange::TwinDeleted(twin) => json!({ "twinDeleted": twin }),
    }
}

fn field(map: &mut serde_json::Map<String, Json>, key: &str) -> Result<String> {
    match map.remove(key) {
        Some(Json::String(s)) => Ok(s),
        _ => Err(Error::InvalidArgument(format!("{key} must be a string"))),
    }
}

fn relationship_from_json(value: Json) -> Result<Relationship> {
    let Json::Object(mut map) = value else {
        return Err(Error::InvalidArgument("a relationship must be an object".into()));
    };
    Ok(Relationship {
        id: field(&mut map, "$relationshipId")?,
        source: field(&mut map, "$sourceId")?,
        target: field(&mut map, "$targetId")?,
        name: field(&mut map, "$relationshipName")?,
    })
}

fn graph_change_from_json(value: Json) -> Result<GraphChange> {
    let Json::Object(map) = value else {
        return Err(Error::InvalidArgument("a graph change must be an object".into()));
    };
    let mut entries = map.into_iter();
    let (Some((key, value)), None) = (entries.next(), entries.next()) else {
        return Err(Error::InvalidArgument("a graph change has exactly one key".into()));
    };
    let text = |v: Json| match v {
        Json::String(s) => Ok(s),
        _ => Err(Error::InvalidArgument(format!("{key} must name a twin"))),
    };
    match key.as_str() {
        "relate" => Ok(GraphChange::Relate(relationship_from_json(value)?)),
        "unrelate" => {
            let Json::Object(mut map) = value else {
                return Err(Error::InvalidArgument("unrelate must be an object".into()));
            };
            Ok(GraphChange::Unrelate {
                source: field(&mut map, "$sourceId")?,
                id: field(&mut map, "$relationshipId")?,
            })
        }
        "twinCreated" => {
            let Json::Object(mut map) = value else {
                return Err(Error::InvalidArgument("twinCreated must be an object".into()));
            };
            let model = match map.remove("$model") {
                Some(Json::String(m)) => Some(m),
                None | Some(Json::Null) => None,
                Some(_) => return Err(Error::InvalidArgument("twinCreated.$model must be a string".into())),
            };
            Ok(GraphChange::TwinCreated {
                twin: field(&mut map, "$dtId")?,
                model,
            })
        }
        "twinDeleted" => Ok(GraphChange::TwinDeleted(text(value)?)),
        other => Err(Error::InvalidArgument(format!("unknown graph change {other:?}"))),
    }
}

/// The whole model as one snapshot frame's JSON.
pub(crate) fn snapshot_json(model: &Model) -> Json {
    json!({ "snapshot": {
        "settings": model.settings.to_json(),
        "types": model.types.values().map(TimeSeriesType::to_json).collect::<Vec<_>>(),
        "hierarchies": model.hierarchies.values().map(Hierarchy::to_json).collect::<Vec<_>>(),
        "instances": model.instances.values().map(Instance::to_json).collect::<Vec<_>>(),
        "relationships": model.graph.relationships().into_iter().map(relationship_json).collect::<Vec<_>>(),
        "deleted": model.graph.deleted.iter().collect::<Vec<_>>(),
        "createdModels": model.graph.models,
    }})
}

fn array(value: Json, what: &str) -> Result<Vec<Json>> {
    match value {
        Json::Array(items) => Ok(items),
        other => Err(Error::InvalidArgument(format!("{what} must be an array, not {other}"))),
    }
}

fn strings(value: Json, what: &str) -> Result<Vec<String>> {
    array(value, what)?
        .into_iter()
        .map(|v| match v {
            Json::String(s) => Ok(s),
            other => Err(Error::InvalidArgument(format!("{what} must hold strings, not {other}"))),
        })
        .collect()
}

fn settings_from_json(value: Json) -> Result<ModelSettings> {
    let Json::Object(mut map) = value else {
        return Err(Error::InvalidArgument("settings must be an object".into()));
    };
    let mut text = |key: &str| match map.remove(key) {
        Some(Json::String(s)) => Ok(s),
        _ => Err(Error::InvalidArgument(format!("settings.{key} must be a string"))),
    };
    Ok(ModelSettings {
        name: text("name")?,
        default_type_id: text("defaultTypeId")?,
    })
}

/// Reads one logged frame's JSON into the model (a snapshot replaces it whole).
fn apply_frame(model: &mut Model, json: Json) -> Result<()> {
    let Json::Object(map) = json else {
        return Err(Error::InvalidArgument("a frame must hold a JSON object".into()));
    };
    let mut entries = map.into_iter();
    let (Some((key, value)), None) = (entries.next(), entries.next()) else {
        return Err(Error::InvalidArgument("a frame must hold exactly one change".into()));
    };
    let default_type = model.settings.default_type_id.clone();
    let types = |v: Json| -> Result<Vec<TimeSeriesType>> {
        array(v, "types")?.into_iter().map(TimeSeriesType::from_json).collect()
    };
    let hierarchies = |v: Json| -> Result<Vec<Hierarchy>> {
        array(v, "hierarchies")?.into_iter().map(Hierarchy::from_json).collect()
    };
    let instances = |v: Json, default_type: &str| -> Result<Vec<Instance>> {
        array(v, "instances")?
            .into_iter()
            .map(|i| Instance::from_json(i, default_type))
            .collect()
    };
    let change = match key.as_str() {
        "snapshot" => {
            let Json::Object(mut s) = value else {
                return Err(Error::InvalidArgument("snapshot must be an object".into()));
            };
            let mut take = |k: &str| s.remove(k).unwrap_or(Json::Array(Vec::new()));
            let settings = settings_from_json(take("settings"))?;
            let mut fresh = Model {
                types: Default::default(),
                ..Model::default()
            };
            fresh.apply(Change::PutTypes(types(take("types"))?));
            fresh.apply(Change::PutHierarchies(hierarchies(take("hierarchies"))?));
            fresh.apply(Change::PutInstances(instances(
                take("instances"),
                &settings.default_type_id,
            )?));
            // Relationships in age order, then the models twins were created with, then the
            // deletion marks.
            let mut graph: Vec<GraphChange> = array(take("relationships"), "relationships")?
                .into_iter()
                .map(|r| relationship_from_json(r).map(GraphChange::Relate))
                .collect::<Result<_>>()?;
            match s.remove("createdModels") {
                None | Some(Json::Null) => {}
                Some(Json::Object(map)) => {
                    for (twin, m) in map {
                        let Json::String(model) = m else {
                            return Err(Error::InvalidArgument("createdModels values must be strings".into()));
                        };
                        graph.push(GraphChange::TwinCreated {
                            twin,
                            model: Some(model),
                        });
                    }
                }
                Some(_) => return Err(Error::InvalidArgument("createdModels must be an object".into())),
            }
            let deleted = match s.remove("deleted") {
                None => Vec::new(),
                Some(v) => strings(v, "deleted")?,
            };
            graph.extend(deleted.into_iter().map(GraphChange::TwinDeleted));
            fresh.apply(Change::Graph(graph));
            fresh.settings = settings;
            *model = fresh;
            return Ok(());
        }
        "settings" => Change::Settings(settings_from_json(value)?),
        "putTypes" => Change::PutTypes(types(value)?),
        "deleteTypes" => Change::DeleteTypes(strings(value, "deleteTypes")?),
        "putHierarchies" => Change::PutHierarchies(hierarchies(value)?),
        "deleteHierarchies" => Change::DeleteHierarchies(strings(value, "deleteHierarchies")?),
        "putInstances" => Change::PutInstances(instances(value, &default_type)?),
        "deleteInstances" => Change::DeleteInstances(strings(value, "deleteInstances")?),
        "graph" => Change::Graph(
            array(value, "graph")?
                .into_iter()
                .map(graph_change_from_json)
                .collect::<Result<_>>()?,
        ),
        other => return Err(Error::InvalidArgument(format!("unknown change {other:?}"))),
    };
    model.apply(change);
    Ok(())
}

/// Decodes a model file's bytes (`path` names it in errors).
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Loaded> {
    let corrupt = |offset: usize, reason: String| Error::corruption(path, offset as u64, reason);
    if bytes.len() < HEADER_LEN {
        // Only a crash while the file was first written leaves it this short, and that
        // file is written beside the real one and renamed only when complete.
        return Err(corrupt(0, format!("header is {} of {HEADER_LEN} bytes", bytes.len())));
    }
    if &bytes[..8] != MODEL_MAGIC {
        return Err(corrupt(0, "not a twinstore model file (bad magic)".into()));
    }
    if crc32c::crc32c(&bytes[..12]) != u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) {
        return Err(corrupt(12, "header checksum mismatch".into()));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != MODEL_VERSION {
        return Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: MODEL_VERSION,
        });
    }
    let mut loaded = Loaded::default();
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        let Some(head) = bytes.get(pos..pos + FRAME_HEADER_LEN) else {
            loaded.torn_tail = Some((pos as u64, "frame header cut short".into()));
            break;
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let start = pos + FRAME_HEADER_LEN;
        if len > MAX_FRAME || start + len > bytes.len() {
            loaded.torn_tail = Some((
                pos as u64,
                format!("frame of {len} bytes runs past the end of the file"),
            ));
            break;
        }
        let payload = &bytes[start..start + len];
        if crc32c::crc32c(payload) != crc {
            if start + len == bytes.len() {
                loaded.torn_tail = Some((pos as u64, "the last frame's checksum does not match".into()));
                break;
            }
            return Err(corrupt(pos, "frame checksum mismatch (not the last frame)".into()));
        }
        let json: Json =
            serde_json::from_slice(payload).map_err(|e| corrupt(pos, format!("frame is not JSON: {e}")))?;
        if loaded.frames == 0 && json.get("snapshot").is_none() {
            return Err(corrupt(pos, "the first frame is not a snapshot".into()));
        }
        apply_frame(&mut loaded.model, json).map_err(|e| corrupt(pos, format!("frame: {e}")))?;
        loaded.frames += 1;
        pos = start + len;
    }
    if loaded.frames == 0 {
        return Err(corrupt(HEADER_LEN, "the file holds no snapshot".into()));
    }
    Ok(loaded)
}

/// Reads the model file of the store in `dir`; a store without one has the default model.
pub(crate) fn read(vfs: &dyn Vfs, dir: &Path) -> Result<Loaded> {
    let path = dir.join(MODEL_FILE);
    match vfs.read(&path) {
        Ok(bytes) => decode(&path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Loaded::default()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// The bytes of a model file holding `model` as one snapshot.
pub(crate) fn encode_snapshot(model: &Model) -> Vec<u8> {
    let mut out = header().to_vec();
    out.extend_from_slice(&frame(&snapshot_payload(model)));
    out
}

fn snapshot_payload(model: &Model) -> Vec<u8> {
    serde_json::to_vec(&snapshot_json(model)).unwrap_or_default()
}

/// Writes `bytes` as the model file of `dir`, atomically: beside it, synced, renamed over
/// it, the directory synced. Returns the file, open for appends.
fn replace(vfs: &dyn Vfs, dir: &Path, bytes: &[u8]) -> Result<Box<dyn VfsFile>> {
    let tmp = dir.join(MODEL_TMP);
    let path = dir.join(MODEL_FILE);
    let written = vfs
        .create(&tmp)
        .and_then(|file| {
            crate::vfs::write_all(&*file, bytes)?;
            file.sync_all()?;
            Ok(file)
        })
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|file| vfs.rename(&tmp, &path).map(|()| file).map_err(|e| Error::io(&path, e)));
    let file = match written {
        Ok(file) => file,
        Err(e) => {
            let _ = vfs.remove_file(&tmp);
            return Err(e);
        }
    };
    crate::vfs::sync_dir(vfs, dir)?;
    Ok(file)
}

impl ModelLog {
    /// Writes `model` as the store's model file (one snapshot) and keeps it open for appends.
    pub(crate) fn create(vfs: &dyn Vfs, dir: &Path, model: &Model) -> Result<Self> {
        let mut log = ModelLog {
            dir: dir.to_path_buf(),
            file: None,
            snapshot_bytes: 0,
            appended_bytes: 0,
        };
        log.rewrite(vfs, model)?;
        Ok(log)
    }

    fn rewrite(&mut self, vfs: &dyn Vfs, model: &Model) -> Result<()> {
        self.file = None;
        let bytes = encode_snapshot(model);
        self.file = Some(replace(vfs, &self.dir, &bytes)?);
        self.snapshot_bytes = bytes.len() as u64;
        self.appended_bytes = 0;
        Ok(())
    }

    /// Logs `change` durably, to be applied to `model` (which does not hold it yet) once this
    /// returns. After a failed append the file is rewritten before the next change, so a
    /// partial frame never stays in front of an acknowledged one.
    pub(crate) fn append(&mut self, vfs: &dyn Vfs, model: &Model, change: &Change) -> Result<()> {
        let payload = serde_json::to_vec(&change_json(change)).unwrap_or_default();
        let outgrown = self.appended_bytes + payload.len() as u64 > self.snapshot_bytes.max(REWRITE_MIN_BYTES);
        if self.file.is_none() || outgrown {
            let mut next = model.clone();
            next.apply(change.clone());
            return self.rewrite(vfs, &next);
        }
        let bytes = frame(&payload);
        let path = self.dir.join(MODEL_FILE);
        let Some(file) = &self.file else {
            return Err(Error::io(&path, std::io::Error::other("model file not open")));
        };
        let appended = crate::vfs::write_all(&**file, &bytes).and_then(|()| file.sync_data());
        if let Err(e) = appended {
            self.file = None;
            return Err(Error::io(&path, e));
        }
        self.appended_bytes += bytes.len() as u64;
        Ok(())
    }
}
