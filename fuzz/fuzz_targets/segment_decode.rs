//! Arbitrary bytes through the cold tier's decoders: the manifest, the twin directory parser and every
//! block decoder (timestamps, integers, doubles, strings, column blocks of each type). Each
//! must return a value or an error, never panic or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    twinstore::codecs::decode_everything(data);
});
