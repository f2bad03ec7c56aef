//! Input: finding the files (discovery), undoing compression (decompress)
//! and cutting byte streams into line-aligned chunks (chunk).

pub mod chunk;
pub mod decompress;
pub mod discovery;

pub use decompress::Compression;
pub use discovery::{Discovered, Source, discover};
