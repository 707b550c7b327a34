//! Block encodings of the cold tier: integers, timestamps, doubles, strings.
//!
//! Every column type is reduced to integer streams, and one integer codec chooses, per
//! block, by measuring:
//!
//! - a transform: none (frame of reference), delta, or delta of delta, whichever leaves the
//!   narrowest residuals (sorted timestamps and counters want deltas; jittered sample times
//!   want plain deltas; random values want none);
//! - a layout: residuals bit-packed at their exact width, or byte-aligned and compressed with
//!   zstd (which wins when residuals are small but skewed, as sensor deltas are).
//!
//! Doubles use a decimal encoding in the spirit of ALP (Afroozeh et al., SIGMOD 2023): a
//! block of values with at most `e` decimals is stored as the integers `v * 10^e`, and each
//! value must decode bit for bit (`int as f64 / 10^e == v`) or it is kept aside as an
//! exception. Sensor readings such as 20.5 or 68.37 become small integers with small deltas,
//! where XOR schemes (Gorilla) spend most of 64 bits on the noise of the binary fraction.
//!
//! Timestamps are nanoseconds, but sources send milliseconds: the largest unit dividing every
//! value of a block (1 s, 1 ms, 1 µs, 1 ns) is divided out first.
//!
//! The byte layout of each encoding is in docs/FORMAT.md ("Block encodings").

use std::cell::RefCell;

/// A block that does not decode: the reason, for an `Error::Corruption`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodecError(pub String);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T> = std::result::Result<T, CodecError>;

fn bad<T>(reason: impl Into<String>) -> Result<T> {
    Err(CodecError(reason.into()))
}

/// zstd level for blocks. Measured on the medium workload: level 3 flushes in 2.4 s at 2.93
/// bytes/point, level 9 in 4.8 s at 2.91, level 19 in 15.8 s at 2.88.
const ZSTD_LEVEL: i32 = 3;
/// Below this many values zstd's frame overhead (about 10 bytes) rarely pays.
const ZSTD_MIN_VALUES: usize = 24;

// ---------------------------------------------------------------------------------------
// Byte-level helpers: LEB128 varints and zigzag.

pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads values from a byte slice, failing (not panicking) when it runs out.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.pos) else {
                return bad("varint runs past the end");
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        bad("varint longer than 10 bytes")
    }

    pub(crate) fn ivarint(&mut self) -> Result<i64> {
        self.uvarint().map(unzigzag)
    }

    /// A varint that counts something in memory: bounded by `max`.
    pub(crate) fn len(&mut self, max: usize) -> Result<usize> {
        let v = self.uvarint()?;
        if v > max as u64 {
            return bad(format!("length {v} exceeds {max}"));
        }
        Ok(v as usize)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let Some(&b) = self.bytes.get(self.pos) else {
            return bad("byte runs past the end");
        };
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.bytes_n(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        let b = self.bytes_n(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn bytes_n(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return bad(format!("{n} bytes run past the end"));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The rest of the input.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.pos.min(self.bytes.len())..];
        self.pos = self.bytes.len();
        out
    }
}

// ---------------------------------------------------------------------------------------
// Bit packing: values of `width` bits, least significant bit first, little-endian.

fn pack(values: impl Iterator<Item = u64>, n: usize, width: u32, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let start = out.len();
    let total_bytes = (n * width as usize).div_ceil(8);
    out.resize(start + total_bytes, 0);
    let buf = &mut out[start..];
    let mut acc: u128 = 0;
    let mut bits = 0u32;
    let mut pos = 0usize;
    for v in values {
        acc |= u128::from(v) << bits;
        bits += width;
        while bits >= 8 {
            buf[pos] = acc as u8;
            pos += 1;
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        buf[pos] = acc as u8;
    }
}

fn unpack(bytes: &[u8], n: usize, width: u32, mut emit: impl FnMut(u64)) -> Result<()> {
    if width == 0 {
        (0..n).for_each(|_| emit(0));
        return Ok(());
    }
    if width > 64 {
        return bad(format!("bit width {width} over 64"));
    }
    let needed = (n * width as usize).div_ceil(8);
    if bytes.len() < needed {
        return bad(format!("bit-packed data is {} of {needed} bytes", bytes.len()));
    }
    let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
    let w = width as usize;
    // Fast path: one unaligned 8-byte load per value while 8 bytes remain and the value fits
    // in the load (width <= 56 leaves room for the bit offset within the first byte).
    let mut i = 0usize;
    if width <= 56 {
        while i < n {
            let bit = i * w;
            let byte = bit >> 3;
            let Some(chunk) = bytes.get(byte..byte + 8) else { break };
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            emit((word >> (bit & 7)) & mask);
            i += 1;
        }
    }
    for i in i..n {
        let bit = i * w;
        let byte = bit >> 3;
        let mut word = [0u8; 16];
        let end = (byte + 16).min(bytes.len());
        word[..end - byte].copy_from_slice(&bytes[byte..end]);
        let word = u128::from_le_bytes(word);
        emit(((word >> (bit & 7)) as u64) & mask);
    }
    Ok(())
}

fn width_of(v: u64) -> u32 {
    64 - v.leading_zeros()
}

// ---------------------------------------------------------------------------------------
// zstd with reused contexts (creating one costs more than decoding a small block).

thread_local! {
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

fn zstd_compress(data: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut slot = c.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        slot.as_mut()?.compress(data).ok()
    })
}

fn zstd_decompress(data: &[u8], size: usize, out: &mut Vec<u8>) -> Result<()> {
    DECOMPRESSOR.with(|d| {
        let mut slot = d.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Decompressor::new().ok();
        }
        let Some(decompressor) = slot.as_mut() else {
            return bad("zstd decompressor unavailable");
        };
        out.clear();
        out.reserve(size);
        match decompressor.decompress_to_buffer(data, out) {
            Ok(n) if n == size => Ok(()),
            Ok(n) => bad(format!("zstd block decodes to {n} bytes, expected {size}")),
            Err(e) => bad(format!("zstd block does not decode: {e}")),
        }
    })
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

// ---------------------------------------------------------------------------------------
// Integers.

/// Transform applied before packing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transform {
    None = 0,
    Delta = 1,
    DeltaOfDelta = 2,
}

const LAYOUT_PACKED: u8 = 0;
const LAYOUT_PLANES: u8 = 1;

/// Encodes `values` (the count is kept by the caller).
///
/// Layout: `[kind u8: transform | layout << 4]`, then the transform's leading values
/// (zigzag varints: the first value; for delta of delta also the first delta), then the
/// residual minimum (zigzag varint) and bit width (u8), then the residuals minus the minimum:
/// bit-packed, or as byte planes (the lowest byte of every residual, then the next byte, ...,
/// `ceil(width / 8)` planes), each prefixed by a varint `length << 1 | compressed` and
/// stored raw or as a zstd frame.
pub(crate) fn encode_ints(values: &[i64], out: &mut Vec<u8>) {
    let n = values.len();
    if n == 0 {
        out.push(0);
        return;
    }
    // Residual ranges of the three transforms, in one pass.
    let mut ranges = [(i64::MAX, i64::MIN); 3];
    let mut prev = values[0];
    let mut prev_delta = 0i64;
    for (i, &v) in values.iter().enumerate() {
        let r = &mut ranges[0];
        *r = (r.0.min(v), r.1.max(v));
        if i >= 1 {
            let d = v.wrapping_sub(prev);
            let r = &mut ranges[1];
            *r = (r.0.min(d), r.1.max(d));
            if i >= 2 {
                let dd = d.wrapping_sub(prev_delta);
                let r = &mut ranges[2];
                *r = (r.0.min(dd), r.1.max(dd));
            }
            prev_delta = d;
        }
        prev = v;
    }
    let width = |(lo, hi): (i64, i64)| {
        if lo > hi {
            0
        } else {
            width_of(hi.wrapping_sub(lo) as u64)
        }
    };
    let candidates = [
        (Transform::None, width(ranges[0])),
        (Transform::Delta, width(ranges[1])),
        (Transform::DeltaOfDelta, width(ranges[2])),
    ];
    // Narrowest residuals; on a tie the simpler transform (cheaper to decode).
    let (transform, bits) = candidates
        .iter()
        .copied()
        .min_by_key(|&(t, w)| (w, t as u8))
        .unwrap_or((Transform::None, 64));
    let (lo, _) = ranges[transform as usize];
    let residuals = residuals(values, transform);
    let head_start = out.len();
    out.push(transform as u8 | (LAYOUT_PACKED << 4));
    put_ivarint(out, values[0]);
    if transform == Transform::DeltaOfDelta && n >= 2 {
        put_ivarint(out, values[1].wrapping_sub(values[0]));
    }
    let count = n.saturating_sub(transform_skip(transform));
    let lo = if count == 0 { 0 } else { lo };
    put_ivarint(out, lo);
    out.push(bits as u8);
    let body_start = out.len();
    pack(residuals.clone().map(|r| r.wrapping_sub(lo) as u64), count, bits, out);
    if count >= ZSTD_MIN_VALUES && bits > 0 {
        // Byte planes: every value's lowest byte, then every value's next byte, ... each
        // stored raw or zstd-compressed, whichever is smaller. Compressed apart, the skewed
        // high planes of small residuals code well; interleaved, or in one zstd frame with
        // one Huffman table, they would hide among near-random low bytes (sample jitter).
        let planes = bits.div_ceil(8) as usize;
        let packed_len = out.len() - body_start;
        let mut body = Vec::with_capacity(packed_len);
        let mut plane = vec![0u8; count];
        for p in 0..planes {
            for (slot, r) in plane.iter_mut().zip(residuals.clone()) {
                *slot = (r.wrapping_sub(lo) as u64 >> (8 * p)) as u8;
            }
            match zstd_compress(&plane).filter(|z| z.len() < plane.len()) {
                Some(z) => {
                    put_uvarint(&mut body, ((z.len() as u64) << 1) | 1);
                    body.extend_from_slice(&z);
                }
                None => {
                    put_uvarint(&mut body, (count as u64) << 1);
                    body.extend_from_slice(&plane);
                }
            }
        }
        if body.len() < packed_len {
            out.truncate(body_start);
            out.extend_from_slice(&body);
            out[head_start] = transform as u8 | (LAYOUT_PLANES << 4);
        }
    }
}

/// How many leading values a transform stores before its residuals.
fn transform_skip(transform: Transform) -> usize {
    match transform {
        Transform::None => 0,
        Transform::Delta => 1,
        Transform::DeltaOfDelta => 2,
    }
}

/// The residuals of `values` under `transform` (after the leading values it stores).
fn residuals(values: &[i64], transform: Transform) -> impl Iterator<Item = i64> + Clone + '_ {
    (transform_skip(transform)..values.len()).map(move |i| match transform {
        Transform::None => values[i],
        Transform::Delta => values[i].wrapping_sub(values[i - 1]),
        Transform::DeltaOfDelta => values[i]
            .wrapping_sub(values[i - 1])
            .wrapping_sub(values[i - 1].wrapping_sub(values[i - 2])),
    })
}

/// Decodes `n` integers written by [`encode_ints`], appending them to `out`. Returns the
/// bytes consumed.
pub(crate) fn decode_ints(bytes: &[u8], n: usize, out: &mut Vec<i64>) -> Result<usize> {
    let mut r = Reader::new(bytes);
    let kind = r.u8()?;
    if n == 0 {
        return Ok(r.pos);
    }
    let transform = match kind & 0x0f {
        0 => Transform::None,
        1 => Transform::Delta,
        2 => Transform::DeltaOfDelta,
        t => return bad(format!("unknown integer transform {t}")),
    };
    let layout = kind >> 4;
    let first = r.ivarint()?;
    let first_delta = if transform == Transform::DeltaOfDelta && n >= 2 {
        r.ivarint()?
    } else {
        0
    };
    let lo = r.ivarint()?;
    let bits = u32::from(r.u8()?);
    if bits > 64 {
        return bad(format!("bit width {bits} over 64"));
    }
    let skip = transform_skip(transform).min(n);
    let count = n - skip;
    let start = out.len();
    out.reserve(n);
    match transform {
        Transform::None => {}
        Transform::Delta => out.push(first),
        Transform::DeltaOfDelta => {
            out.push(first);
            if n >= 2 {
                out.push(first.wrapping_add(first_delta));
            }
        }
    }
    let consumed = match layout {
        LAYOUT_PACKED => {
            let rest = r.rest();
            let used = (count * bits as usize).div_ceil(8);
            // Into a sized slice: no capacity check per value.
            let base = out.len();
            out.resize(base + count, lo);
            let mut slots = out[base..].iter_mut();
            unpack(rest, count, bits, |u| {
                if let Some(slot) = slots.next() {
                    *slot = lo.wrapping_add(u as i64);
                }
            })?;
            bytes.len() - rest.len() + used
        }
        LAYOUT_PLANES => {
            let planes = bits.div_ceil(8) as usize;
            let start_values = out.len();
            out.resize(start_values + count, lo);
            let mut acc = vec![0u64; count];
            SCRATCH.with(|s| {
                let mut buf = s.borrow_mut();
                for p in 0..planes {
                    let tag = r.uvarint()?;
                    let len = usize::try_from(tag >> 1).map_err(|_| CodecError("plane length overflows".into()))?;
                    let stored = r.bytes_n(len)?;
                    let plane: &[u8] = if tag & 1 == 1 {
                        zstd_decompress(stored, count, &mut buf)?;
                        &buf
                    } else if len == count {
                        stored
                    } else {
                        return bad(format!("raw byte plane of {len} bytes for {count} values"));
                    };
                    let shift = 8 * p as u32;
                    for (a, &b) in acc.iter_mut().zip(plane) {
                        *a |= u64::from(b) << shift;
                    }
                }
                Ok::<(), CodecError>(())
            })?;
            for (slot, a) in out[start_values..].iter_mut().zip(acc) {
                *slot = lo.wrapping_add(a as i64);
            }
            r.pos
        }
        l => return bad(format!("unknown integer layout {l}")),
    };
    // Undo the transform in place.
    let values = &mut out[start..];
    match transform {
        Transform::None => {}
        Transform::Delta => {
            for i in 1..values.len() {
                values[i] = values[i].wrapping_add(values[i - 1]);
            }
        }
        Transform::DeltaOfDelta => {
            let mut delta = first_delta;
            for i in 2..values.len() {
                delta = delta.wrapping_add(values[i]);
                values[i] = values[i - 1].wrapping_add(delta);
            }
        }
    }
    Ok(consumed)
}

// ---------------------------------------------------------------------------------------
// Timestamps.

const UNITS: [i64; 4] = [1_000_000_000, 1_000_000, 1_000, 1];

/// Encodes nanosecond timestamps: `[unit index u8]` then the integer stream of `ts / unit`.
pub(crate) fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) {
    let unit = UNITS
        .iter()
        .position(|&u| ts.iter().all(|t| t % u == 0))
        .unwrap_or(UNITS.len() - 1);
    out.push(unit as u8);
    let scaled: Vec<i64> = ts.iter().map(|t| t / UNITS[unit]).collect();
    encode_ints(&scaled, out);
}

/// Decodes `n` timestamps, appending them to `out`.
pub(crate) fn decode_timestamps(bytes: &[u8], n: usize, out: &mut Vec<i64>) -> Result<()> {
    let Some((&unit, rest)) = bytes.split_first() else {
        return bad("empty timestamp block");
    };
    let Some(&unit) = UNITS.get(unit as usize) else {
        return bad(format!("unknown timestamp unit {unit}"));
    };
    let start = out.len();
    decode_ints(rest, n, out)?;
    if unit != 1 {
        for t in &mut out[start..] {
            *t = t
                .checked_mul(unit)
                .ok_or_else(|| CodecError("timestamp overflows".into()))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Doubles.

const POW10: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
];
/// Decimal exponents tried for a block of doubles.
const MAX_EXPONENT: usize = 14;
const DOUBLE_DECIMAL: u8 = 0;
const DOUBLE_RAW: u8 = 1;

/// `v` as an integer at exponent `e`, when `int / 10^e` gives back `v` exactly.
pub(crate) fn to_decimal(v: f64, e: usize) -> Option<i64> {
    let scaled = (v * POW10[e]).round();
    // Integers beyond 2^53 are not all representable; keep well inside.
    // (NaN fails this comparison too.)
    if scaled.abs().partial_cmp(&9.0e15) != Some(std::cmp::Ordering::Less) {
        return None;
    }
    let int = scaled as i64;
    ((int as f64 / POW10[e]).to_bits() == v.to_bits()).then_some(int)
}

/// Encodes doubles.
///
/// Decimal form: `[0][exponent u8][exception count varint]`, the integer stream of the
/// scaled values (an exception takes its predecessor's integer, keeping deltas small), then
/// for exceptions the integer stream of their positions and that of their raw bits.
/// Raw form (when more than an eighth of the values would be exceptions): `[1]` then the
/// integer stream of the values' bits.
pub(crate) fn encode_doubles(values: &[f64], out: &mut Vec<u8>) {
    let limit = values.len() / 8;
    let mut best: Option<(usize, usize)> = None; // (exceptions, exponent)
    for e in 0..=MAX_EXPONENT {
        let mut exceptions = 0;
        for &v in values {
            if to_decimal(v, e).is_none() {
                exceptions += 1;
                if exceptions > limit || best.is_some_and(|(b, _)| exceptions >= b) {
                    break;
                }
            }
        }
        if exceptions <= limit && best.is_none_or(|(b, _)| exceptions < b) {
            best = Some((exceptions, e));
            if exceptions == 0 {
                break;
            }
        }
    }
    let Some((_, e)) = best else {
        out.push(DOUBLE_RAW);
        let bits: Vec<i64> = values.iter().map(|v| v.to_bits() as i64).collect();
        encode_ints(&bits, out);
        return;
    };
    let mut ints = Vec::with_capacity(values.len());
    let mut positions = Vec::new();
    let mut raw = Vec::new();
    let mut prev = 0i64;
    for (i, &v) in values.iter().enumerate() {
        match to_decimal(v, e) {
            Some(int) => {
                ints.push(int);
                prev = int;
            }
            None => {
                ints.push(prev);
                positions.push(i as i64);
                raw.push(v.to_bits() as i64);
            }
        }
    }
    out.push(DOUBLE_DECIMAL);
    out.push(e as u8);
    put_uvarint(out, positions.len() as u64);
    encode_ints(&ints, out);
    if !positions.is_empty() {
        // The integer streams are self-delimiting only at the end of a block: prefix lengths.
        let mut tail = Vec::new();
        encode_ints(&positions, &mut tail);
        put_uvarint(out, tail.len() as u64);
        out.extend_from_slice(&tail);
        encode_ints(&raw, out);
    }
}

/// Decodes `n` doubles, appending them to `out`.
pub(crate) fn decode_doubles(bytes: &[u8], n: usize, out: &mut Vec<f64>) -> Result<()> {
    let mut r = Reader::new(bytes);
    match r.u8()? {
        DOUBLE_RAW => {
            let mut bits = Vec::with_capacity(n);
            decode_ints(r.rest(), n, &mut bits)?;
            out.extend(bits.into_iter().map(|b| f64::from_bits(b as u64)));
            Ok(())
        }
        DOUBLE_DECIMAL => {
            let e = r.u8()? as usize;
            if e > MAX_EXPONENT {
                return bad(format!("decimal exponent {e} out of range"));
            }
            let exceptions = r.len(n)?;
            let rest = r.rest();
            let start = out.len();
            INTS.with(|s| {
                let mut ints = s.borrow_mut();
                ints.clear();
                let used = decode_ints(rest, n, &mut ints)?;
                let scale = POW10[e];
                out.extend(ints.iter().map(|&i| i as f64 / scale));
                if exceptions > 0 {
                    let mut r = Reader::new(rest.get(used..).unwrap_or_default());
                    let len = r.len(rest.len())?;
                    let mut positions = Vec::with_capacity(exceptions);
                    decode_ints(r.bytes_n(len)?, exceptions, &mut positions)?;
                    let mut raw = Vec::with_capacity(exceptions);
                    decode_ints(r.rest(), exceptions, &mut raw)?;
                    for (p, b) in positions.into_iter().zip(raw) {
                        let Some(slot) = usize::try_from(p).ok().and_then(|p| out.get_mut(start + p)) else {
                            return bad(format!("exception position {p} out of range"));
                        };
                        *slot = f64::from_bits(b as u64);
                    }
                }
                Ok(())
            })
        }
        m => bad(format!("unknown double encoding {m}")),
    }
}

thread_local! {
    static INTS: RefCell<Vec<i64>> = const { RefCell::new(Vec::new()) };
}

// ---------------------------------------------------------------------------------------
// Strings (and Dynamic JSON text).

const STRINGS_PLAIN: u8 = 0;
const STRINGS_ZSTD: u8 = 1;

/// Encodes strings as a block dictionary: `[form u8][dictionary size varint]`, the integer
/// stream of each value's dictionary index (prefixed by its byte length as a varint), then
/// the dictionary: the integer stream of entry lengths (length-prefixed) and the entries'
/// bytes, concatenated; with form 1 the bytes are zstd-compressed (prefixed by their
/// uncompressed length).
pub(crate) fn encode_strings<'s>(values: impl Iterator<Item = &'s str>, out: &mut Vec<u8>) {
    let mut dictionary: Vec<&str> = Vec::new();
    let mut lookup: foldhash::HashMap<&str, i64> = foldhash::HashMap::default();
    let mut indices = Vec::new();
    for v in values {
        let next = dictionary.len() as i64;
        let index = *lookup.entry(v).or_insert_with(|| {
            dictionary.push(v);
            next
        });
        indices.push(index);
    }
    let mut index_bytes = Vec::new();
    encode_ints(&indices, &mut index_bytes);
    let lengths: Vec<i64> = dictionary.iter().map(|s| s.len() as i64).collect();
    let mut length_bytes = Vec::new();
    encode_ints(&lengths, &mut length_bytes);
    let text: Vec<u8> = dictionary.iter().flat_map(|s| s.bytes()).collect();
    let compressed = if text.len() >= 64 {
        zstd_compress(&text).filter(|c| c.len() + 4 < text.len())
    } else {
        None
    };
    out.push(if compressed.is_some() {
        STRINGS_ZSTD
    } else {
        STRINGS_PLAIN
    });
    put_uvarint(out, dictionary.len() as u64);
    put_uvarint(out, index_bytes.len() as u64);
    out.extend_from_slice(&index_bytes);
    put_uvarint(out, length_bytes.len() as u64);
    out.extend_from_slice(&length_bytes);
    match compressed {
        Some(c) => {
            put_uvarint(out, text.len() as u64);
            out.extend_from_slice(&c);
        }
        None => out.extend_from_slice(&text),
    }
}

/// Decodes `n` strings, calling `emit` with each (borrowed from a scratch buffer).
pub(crate) fn decode_strings(bytes: &[u8], n: usize, mut emit: impl FnMut(&str)) -> Result<()> {
    let mut r = Reader::new(bytes);
    let form = r.u8()?;
    let entries = r.len(n)?;
    let len = r.len(bytes.len())?;
    let mut indices = Vec::with_capacity(n);
    decode_ints(r.bytes_n(len)?, n, &mut indices)?;
    let len = r.len(bytes.len())?;
    let mut lengths = Vec::with_capacity(entries);
    decode_ints(r.bytes_n(len)?, entries, &mut lengths)?;
    let owned;
    let text: &[u8] = match form {
        STRINGS_PLAIN => r.rest(),
        STRINGS_ZSTD => {
            let size = r.len(64 << 20)?;
            let mut buf = Vec::new();
            zstd_decompress(r.rest(), size, &mut buf)?;
            owned = buf;
            &owned
        }
        f => return bad(format!("unknown string form {f}")),
    };
    let text = std::str::from_utf8(text).map_err(|e| CodecError(format!("dictionary is not UTF-8: {e}")))?;
    let mut bounds = Vec::with_capacity(entries);
    let mut at = 0usize;
    for len in lengths {
        let end = usize::try_from(len).ok().and_then(|l| at.checked_add(l));
        match end {
            Some(end) if end <= text.len() && text.is_char_boundary(end) => {
                bounds.push((at, end));
                at = end;
            }
            _ => return bad("dictionary entry runs past the end"),
        }
    }
    for i in indices {
        let Some(&(a, b)) = usize::try_from(i).ok().and_then(|i| bounds.get(i)) else {
            return bad(format!("dictionary index {i} out of range"));
        };
        emit(&text[a..b]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ints_round_trip(values: &[i64]) {
        let mut bytes = Vec::new();
        encode_ints(values, &mut bytes);
        let mut out = vec![42]; // decoding appends
        let used = decode_ints(&bytes, values.len(), &mut out).unwrap();
        assert_eq!(&out[1..], values);
        assert_eq!(used, bytes.len());
    }

    #[test]
    fn integer_extremes_and_shapes() {
        ints_round_trip(&[]);
        ints_round_trip(&[7]);
        ints_round_trip(&[i64::MIN, i64::MAX, 0, -1, i64::MIN, i64::MAX]);
        ints_round_trip(&(0..1000).map(|i| i * 1000 + (i % 7)).collect::<Vec<_>>());
        ints_round_trip(&(0..1000).map(|i| (i % 3) - 1).collect::<Vec<_>>());
        ints_round_trip(&[5; 300]);
    }

    #[test]
    fn a_constant_stream_costs_a_few_bytes() {
        let mut bytes = Vec::new();
        encode_ints(&[1_700_000_000_000; 1000], &mut bytes);
        assert!(bytes.len() < 16, "{} bytes", bytes.len());
        // Regular 10 s samples in ms: delta of delta is zero.
        let mut bytes = Vec::new();
        let ts: Vec<i64> = (0..1000).map(|i| 1_700_000_000_000 + i * 10_000).collect();
        encode_ints(&ts, &mut bytes);
        assert!(bytes.len() < 20, "{} bytes", bytes.len());
    }

    #[test]
    fn sensor_doubles_take_a_few_bits() {
        // A slow random walk in hundredths, as thermostats report it.
        let mut v = 2050i64;
        let mut seed = 1u64;
        let values: Vec<f64> = (0..2000)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                v += (seed >> 61) as i64 - 3;
                v as f64 / 100.0
            })
            .collect();
        let mut bytes = Vec::new();
        encode_doubles(&values, &mut bytes);
        let mut out = Vec::new();
        decode_doubles(&bytes, values.len(), &mut out).unwrap();
        assert_eq!(
            out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // Deltas are in [-3, 4]: 3 bits packed; Gorilla spends well over 10.
        assert!(bytes.len() * 8 < values.len() * 4, "{} bytes", bytes.len());
    }

    #[test]
    fn timestamps_in_ms_are_divided_out() {
        let ts: Vec<i64> = (0..500)
            .map(|i| 1_767_225_600_000_000_000 + i * 5_013_000_000)
            .collect();
        let mut bytes = Vec::new();
        encode_timestamps(&ts, &mut bytes);
        let mut out = Vec::new();
        decode_timestamps(&bytes, ts.len(), &mut out).unwrap();
        assert_eq!(out, ts);
        assert_eq!(bytes[0], 1, "unit is the millisecond");
    }

    #[test]
    fn strings_round_trip_with_a_dictionary() {
        let values = ["auto", "heat", "auto", "", "é☃", "auto"];
        let mut bytes = Vec::new();
        encode_strings(values.iter().copied(), &mut bytes);
        let mut out = Vec::new();
        decode_strings(&bytes, values.len(), |s| out.push(s.to_string())).unwrap();
        assert_eq!(out, values);
        let huge = "x".repeat(100_000);
        let mut bytes = Vec::new();
        encode_strings([huge.as_str(), "y"].into_iter(), &mut bytes);
        let mut out = Vec::new();
        decode_strings(&bytes, 2, |s| out.push(s.to_string())).unwrap();
        assert_eq!(out, [huge.as_str(), "y"]);
    }

    fn doubles_round_trip(values: &[f64]) {
        let mut bytes = Vec::new();
        encode_doubles(values, &mut bytes);
        let mut out = Vec::new();
        decode_doubles(&bytes, values.len(), &mut out).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&out), bits(values));
    }

    #[test]
    fn adversarial_doubles() {
        doubles_round_trip(&[0.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5]);
        doubles_round_trip(&[
            f64::from_bits(0x7ff8_dead_beef_0001),
            20.5,
            20.5,
            20.5,
            20.5,
            20.5,
            20.5,
            20.5,
            20.5,
        ]);
        doubles_round_trip(&[f64::MIN_POSITIVE, f64::MAX, f64::MIN, 5e-324]);
        doubles_round_trip(&[0.1, 0.2, 0.30000000000000004]);
    }

    proptest! {
        #[test]
        fn any_ints_round_trip(values in prop::collection::vec(any::<i64>(), 0..300)) {
            ints_round_trip(&values);
        }

        #[test]
        fn small_ints_round_trip(values in prop::collection::vec(-40i64..40, 0..3000)) {
            ints_round_trip(&values);
        }

        #[test]
        fn any_doubles_round_trip(bits in prop::collection::vec(any::<u64>(), 0..200)) {
            let values: Vec<f64> = bits.into_iter().map(f64::from_bits).collect();
            doubles_round_trip(&values);
        }

        #[test]
        fn decimal_doubles_with_exceptions_round_trip(
            ints in prop::collection::vec(-100_000i64..100_000, 1..500),
            e in 0usize..6,
            odd in prop::collection::vec((0usize..500, any::<u64>()), 0..20),
        ) {
            let mut values: Vec<f64> = ints.iter().map(|&i| i as f64 / POW10[e]).collect();
            for (at, bits) in odd {
                let n = values.len();
                values[at % n] = f64::from_bits(bits);
            }
            doubles_round_trip(&values);
        }

        #[test]
        fn any_strings_round_trip(values in prop::collection::vec(".{0,12}", 0..200)) {
            let mut bytes = Vec::new();
            encode_strings(values.iter().map(String::as_str), &mut bytes);
            let mut out = Vec::new();
            decode_strings(&bytes, values.len(), |s| out.push(s.to_string())).unwrap();
            prop_assert_eq!(out, values);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), n in 0usize..300) {
            let _ = decode_ints(&bytes, n, &mut Vec::new());
            let _ = decode_doubles(&bytes, n, &mut Vec::new());
            let _ = decode_timestamps(&bytes, n, &mut Vec::new());
            let _ = decode_strings(&bytes, n, |_| {});
        }
    }
}
