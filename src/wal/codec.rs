//! The payload of a WAL batch frame: catalog definitions followed by records, every value
//! tagged with its type so a frame decodes on its own (docs/FORMAT.md, "WAL batch payload").

use std::borrow::Cow;

use crate::model::{ColumnId, FieldValue, Timestamp, TwinId, ValueType};

/// Payload kind of a batch frame.
const KIND_BATCH: u8 = 1;
const DEF_TWIN: u8 = 1;
const DEF_COLUMN: u8 = 2;
const DEF_MODEL: u8 = 3;

/// A catalog definition carried by a batch.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Definition<'a> {
    Twin {
        twin: TwinId,
        name: Cow<'a, str>,
    },
    Column {
        twin: TwinId,
        column: ColumnId,
        ty: ValueType,
        name: Cow<'a, str>,
    },
    Model {
        twin: TwinId,
        model: Cow<'a, str>,
    },
}

/// One record of a batch.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LoggedRecord<'a> {
    pub twin: TwinId,
    pub ts: Timestamp,
    pub values: Vec<(ColumnId, FieldValue<'a>)>,
}

/// A decoded batch payload.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct LoggedBatch<'a> {
    pub definitions: Vec<Definition<'a>>,
    pub records: Vec<LoggedRecord<'a>>,
}

/// Writes a batch payload. Definitions must all be added before the first record.
pub(crate) struct BatchEncoder {
    buf: Vec<u8>,
    definitions: Vec<u8>,
    def_count: u64,
    records: Vec<u8>,
    record_count: u64,
    prev_ts: i64,
}

impl BatchEncoder {
    /// `header` bytes are reserved at the front of the finished buffer for the frame header.
    pub(crate) fn new(header: usize, records_hint: usize) -> Self {
        BatchEncoder {
            buf: vec![0; header],
            definitions: Vec::new(),
            def_count: 0,
            records: Vec::with_capacity(records_hint * 24),
            record_count: 0,
            prev_ts: 0,
        }
    }

    pub(crate) fn define(&mut self, def: &Definition<'_>) {
        let out = &mut self.definitions;
        match def {
            Definition::Twin { twin, name } => {
                out.push(DEF_TWIN);
                put_varint(out, u64::from(*twin));
                put_bytes(out, name.as_bytes());
            }
            Definition::Column { twin, column, ty, name } => {
                out.push(DEF_COLUMN);
                put_varint(out, u64::from(*twin));
                put_varint(out, u64::from(*column));
                out.push(ty.tag());
                put_bytes(out, name.as_bytes());
            }
            Definition::Model { twin, model } => {
                out.push(DEF_MODEL);
                put_varint(out, u64::from(*twin));
                put_bytes(out, model.as_bytes());
            }
        }
        self.def_count += 1;
    }

    /// Starts a record of `count` values; follow with exactly `count` calls to `value`.
    pub(crate) fn record(&mut self, twin: TwinId, ts: Timestamp, count: usize) {
        let out = &mut self.records;
        put_varint(out, u64::from(twin));
        // Times of one batch are close: store the zigzag delta from the previous record.
        put_varint(out, zigzag(ts.as_nanos().wrapping_sub(self.prev_ts)));
        self.prev_ts = ts.as_nanos();
        put_varint(out, count as u64);
        self.record_count += 1;
    }

    pub(crate) fn value(&mut self, column: ColumnId, value: &FieldValue<'_>) {
        let out = &mut self.records;
        put_varint(out, u64::from(column));
        out.push(value.value_type().tag());
        match value {
            FieldValue::Double(v) => out.extend_from_slice(&v.to_le_bytes()),
            FieldValue::Long(v) => put_varint(out, zigzag(*v)),
            FieldValue::DateTime(t) => put_varint(out, zigzag(t.as_nanos())),
            FieldValue::Bool(v) => out.push(u8::from(*v)),
            FieldValue::Str(s) | FieldValue::Dynamic(s) => put_bytes(out, s.as_bytes()),
            FieldValue::Removed => {}
        }
    }

    /// Appends everything `other` encoded (a part of the same batch encoded on another
    /// thread) after this encoder's definitions and records. The first record of `other` was
    /// timed relative to 0; its delta is re-encoded relative to this encoder's last record.
    pub(crate) fn append(&mut self, other: BatchEncoder) {
        self.definitions.extend_from_slice(&other.definitions);
        self.def_count += other.def_count;
        if other.record_count == 0 {
            return;
        }
        let records = &other.records;
        let twin_len = varint_len(records);
        let ts_len = varint_len(&records[twin_len..]);
        let first_ts = Reader {
            buf: &records[twin_len..],
            pos: 0,
        }
        .varint()
        .map(unzigzag)
        .unwrap_or(0);
        self.records.extend_from_slice(&records[..twin_len]);
        put_varint(&mut self.records, zigzag(first_ts.wrapping_sub(self.prev_ts)));
        self.records.extend_from_slice(&records[twin_len + ts_len..]);
        self.record_count += other.record_count;
        self.prev_ts = other.prev_ts;
    }

    /// The frame buffer: reserved header bytes, then the payload.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.reserve(self.definitions.len() + self.records.len() + 24);
        self.buf.push(KIND_BATCH);
        put_varint(&mut self.buf, self.def_count);
        self.buf.extend_from_slice(&self.definitions);
        put_varint(&mut self.buf, self.record_count);
        self.buf.extend_from_slice(&self.records);
        self.buf
    }
}

/// Why a payload did not decode.
pub(crate) type DecodeError = String;

/// Decodes a batch payload; never panics on arbitrary bytes.
pub(crate) fn decode_batch(payload: &[u8]) -> Result<LoggedBatch<'_>, DecodeError> {
    let mut r = Reader { buf: payload, pos: 0 };
    let kind = r.byte()?;
    if kind != KIND_BATCH {
        return Err(format!("unknown payload kind {kind}"));
    }
    let def_count = r.varint()?;
    let mut batch = LoggedBatch::default();
    for _ in 0..def_count {
        let def = match r.byte()? {
            DEF_TWIN => Definition::Twin {
                twin: r.id()?,
                name: r.text()?,
            },
            DEF_COLUMN => Definition::Column {
                twin: r.id()?,
                column: r.id()?,
                ty: r.value_type()?,
                name: r.text()?,
            },
            DEF_MODEL => Definition::Model {
                twin: r.id()?,
                model: r.text()?,
            },
            other => return Err(format!("unknown definition kind {other} at byte {}", r.pos - 1)),
        };
        batch.definitions.push(def);
    }
    let record_count = r.varint()?;
    let mut prev_ts = 0i64;
    for _ in 0..record_count {
        let twin = r.id()?;
        let ts = prev_ts.wrapping_add(unzigzag(r.varint()?));
        prev_ts = ts;
        let count = r.varint()?;
        // Each value takes at least two bytes: bound the allocation by what is left.
        if count > (r.buf.len() - r.pos) as u64 / 2 + 1 {
            return Err(format!("record value count {count} exceeds the frame"));
        }
        let mut values = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let column = r.id()?;
            let value = match r.value_type()? {
                ValueType::Double => FieldValue::Double(f64::from_le_bytes(r.array()?)),
                ValueType::Long => FieldValue::Long(unzigzag(r.varint()?)),
                ValueType::DateTime => FieldValue::DateTime(Timestamp::from_nanos(unzigzag(r.varint()?))),
                ValueType::Bool => FieldValue::Bool(r.byte()? != 0),
                ValueType::String => FieldValue::Str(r.text()?),
                ValueType::Dynamic => FieldValue::Dynamic(r.text()?),
                ValueType::Removed => FieldValue::Removed,
            };
            values.push((column, value));
        }
        batch.records.push(LoggedRecord {
            twin,
            ts: Timestamp::from_nanos(ts),
            values,
        });
    }
    if r.pos != payload.len() {
        return Err(format!("{} trailing bytes after the batch", payload.len() - r.pos));
    }
    Ok(batch)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Length in bytes of the varint at the start of `bytes`.
fn varint_len(bytes: &[u8]) -> usize {
    bytes.iter().position(|b| b & 0x80 == 0).map_or(bytes.len(), |p| p + 1)
}

/// LEB128: seven bits per byte, low bits first, high bit set on all but the last byte.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn truncated(&self) -> DecodeError {
        format!("payload ends early at byte {}", self.pos)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| self.truncated())?;
        self.pos += 1;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.buf.get(self.pos..self.pos + N).ok_or_else(|| self.truncated())?;
        self.pos += N;
        bytes.try_into().map_err(|_| self.truncated())
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint longer than 10 bytes at byte {}", self.pos))
    }

    fn id(&mut self) -> Result<u32, DecodeError> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| format!("id {v} out of range at byte {}", self.pos))
    }

    fn value_type(&mut self) -> Result<ValueType, DecodeError> {
        let tag = self.byte()?;
        ValueType::from_tag(tag).ok_or_else(|| format!("unknown value type tag {tag} at byte {}", self.pos - 1))
    }

    fn text(&mut self) -> Result<Cow<'a, str>, DecodeError> {
        let len = self.varint()?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.pos.checked_add(len))
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.truncated())?;
        let text = std::str::from_utf8(&self.buf[self.pos..end])
            .map_err(|e| format!("invalid UTF-8 at byte {}: {e}", self.pos))?;
        self.pos = end;
        Ok(Cow::Borrowed(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LoggedBatch<'static> {
        LoggedBatch {
            definitions: vec![
                Definition::Twin {
                    twin: 7,
                    name: "thermostat67".into(),
                },
                Definition::Column {
                    twin: 7,
                    column: 0,
                    ty: ValueType::Double,
                    name: "Temperature".into(),
                },
                Definition::Model {
                    twin: 7,
                    model: "dtmi:x;1".into(),
                },
            ],
            records: vec![
                LoggedRecord {
                    twin: 7,
                    ts: Timestamp::from_nanos(1_767_225_600_000_000_000),
                    values: vec![
                        (0, FieldValue::Double(20.5)),
                        (1, FieldValue::Long(-3)),
                        (2, FieldValue::Str("Heat".into())),
                        (3, FieldValue::Bool(true)),
                        (4, FieldValue::DateTime(Timestamp::from_nanos(-5))),
                        (5, FieldValue::Dynamic("[1,2]".into())),
                        (6, FieldValue::Removed),
                    ],
                },
                LoggedRecord {
                    twin: 300,
                    ts: Timestamp::from_nanos(i64::MIN),
                    values: vec![(0, FieldValue::Double(-0.0))],
                },
            ],
        }
    }

    fn encode(batch: &LoggedBatch<'_>) -> Vec<u8> {
        let mut enc = BatchEncoder::new(0, 2);
        for d in &batch.definitions {
            enc.define(d);
        }
        for r in &batch.records {
            enc.record(r.twin, r.ts, r.values.len());
            for (c, v) in &r.values {
                enc.value(*c, v);
            }
        }
        enc.finish()
    }

    #[test]
    fn batches_round_trip() {
        let batch = sample();
        let bytes = encode(&batch);
        assert_eq!(decode_batch(&bytes).unwrap(), batch);
    }

    #[test]
    fn parts_encoded_apart_decode_as_one_batch() {
        let whole = sample();
        let mut first = BatchEncoder::new(0, 1);
        let mut second = BatchEncoder::new(0, 1);
        for (i, d) in whole.definitions.iter().enumerate() {
            if i == 0 { first.define(d) } else { second.define(d) }
        }
        for (i, r) in whole.records.iter().enumerate() {
            let enc = if i == 0 { &mut first } else { &mut second };
            enc.record(r.twin, r.ts, r.values.len());
            for (c, v) in &r.values {
                enc.value(*c, v);
            }
        }
        first.append(second);
        assert_eq!(decode_batch(&first.finish()).unwrap(), whole);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            assert!(decode_batch(&bytes[..len]).is_err(), "prefix of {len} bytes decoded");
        }
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(Reader { buf: &out, pos: 0 }.varint().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
