//! Decoders and line blocks on arbitrary (usually corrupt) compressed bytes.
#![no_main]
use std::io::Read;

use authstorm::input::Compression;
use authstorm::input::chunk::Blocks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kind = Compression::sniff(data);
    let Ok(dec) = kind.decoder(Box::new(data)) else { return };
    // Bound the output: a small input can expand a lot.
    let mut blocks = Blocks::new(dec.take(1 << 22), 4096, 1024);
    while let Ok(Some(_)) = blocks.next_block() {}
});
