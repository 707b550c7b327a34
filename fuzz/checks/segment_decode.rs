//! Arbitrary bytes through the cold tier's decoders: the manifest, the twin directory parser and every
//! block decoder (timestamps, integers, doubles, strings, column blocks of each type). Each
//! must return a value or an error, never panic or allocate without bound.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/segment_decode.rs` and the seed regression test
//! `tests/fuzz_seeds.rs`.

/// Runs the check on one input; panics on a finding.
pub fn run(data: &[u8]) {
    twinstore::codecs::decode_everything(data);
}
