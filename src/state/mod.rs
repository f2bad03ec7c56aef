//! The state of incremental runs over a log archive (`authstorm nightly
//! --state DIR`): which files were read how far, and one cube per UTC day.
//!
//! Files are known by content, never by path or inode: a fingerprint of
//! their first decompressed bytes ([`Fingerprint`]). A renamed or
//! compressed copy of a file already read is the same file; an appended one
//! is read from where the last run stopped (a line boundary); a file that
//! got shorter than that is read again from its start, and reported. The
//! manifest is the commit point: a run writes its day cubes under new
//! names, then replaces the manifest atomically, then removes what no
//! manifest names. A run killed at any point leaves the previous state
//! whole, and the next run counts nothing twice.

mod nightly;
mod plan;
pub mod show;
mod store;

pub use nightly::{
    Nightly, NightlyConfig, baseline_dates, day_range, history, nightly, period_cube,
};
pub use plan::{FileAction, FilePlan, plan_files};
pub use store::{
    DayEntry, FileEntry, LockedStore, Manifest, STATE_SCHEMA, read_cube, read_manifest,
};

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::input::Compression;

/// Bytes of decompressed content a file needs before it can be known. A
/// shorter file waits for the next run.
pub const FINGERPRINT_BYTES: usize = 1024;

/// How much of a file's start tells it apart from another that begins the
/// same way (two nodes' logs opening with the same health checks).
pub const PREFIX_BYTES: usize = 64 * 1024;

/// A file's content identity: a hash of its first [`FINGERPRINT_BYTES`]
/// decompressed bytes (`head`, to find candidates) and of its first
/// [`PREFIX_BYTES`] or fewer (`prefix_len`, `prefix`, to tell apart files
/// that begin alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub head: String,
    /// The start of the file, up to [`PREFIX_BYTES`].
    pub start: Vec<u8>,
    /// Read through a decompressor.
    pub compressed: bool,
}

impl Fingerprint {
    /// The hash of the first `n` bytes, if the file has that many.
    pub fn prefix_hash(&self, n: usize) -> Option<String> {
        (n <= self.start.len()).then(|| hash(&self.start[..n]))
    }

    pub fn prefix(&self) -> (u64, String) {
        (self.start.len() as u64, hash(&self.start))
    }

    /// An identity for a file first seen with this start.
    pub fn id(&self) -> String {
        format!("{}-{}", self.head, self.prefix().1)
    }
}

fn hash(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// The fingerprint of `path`, `None` when it is too short to have one.
pub fn fingerprint(path: &Path) -> io::Result<Option<Fingerprint>> {
    let (stream, compression) = open_decompressed(path)?;
    let mut start = Vec::with_capacity(PREFIX_BYTES);
    stream.take(PREFIX_BYTES as u64).read_to_end(&mut start)?;
    if start.len() < FINGERPRINT_BYTES {
        return Ok(None);
    }
    Ok(Some(Fingerprint {
        head: hash(&start[..FINGERPRINT_BYTES]),
        start,
        compressed: compression != Compression::None,
    }))
}

/// A hash of the settings that change results, given as their bytes.
pub fn settings_hash(parts: &[&[u8]]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    format!("{:016x}", h.digest())
}

/// `path` opened through its decompressor, and its compression.
pub fn open_decompressed(path: &Path) -> io::Result<(Box<dyn Read + Send>, Compression)> {
    use io::BufRead;
    let f = File::open(path)?;
    let mut raw = io::BufReader::with_capacity(1 << 16, f);
    let magic = raw.fill_buf()?.to_vec();
    let c = Compression::sniff(&magic);
    Ok((c.decoder(Box::new(raw))?, c))
}

/// The decompressed length of `path` (reads it whole when compressed).
pub fn decompressed_len(path: &Path) -> io::Result<u64> {
    let (mut s, c) = open_decompressed(path)?;
    if c == Compression::None {
        return Ok(std::fs::metadata(path)?.len());
    }
    io::copy(&mut s, &mut io::sink())
}

/// Where the last complete line of a plain file ends, at or after `from`
/// (`from` itself when no newline follows it): a line still being written
/// is left for the next run.
pub fn last_line_end(path: &Path, from: u64, len: u64) -> io::Result<u64> {
    const STEP: u64 = 64 * 1024;
    let f = File::open(path)?;
    let mut end = len;
    while end > from {
        let start = end.saturating_sub(STEP).max(from);
        let buf = crate::input::chunk::read_exact_at(&f, start, (end - start) as usize)?;
        if let Some(i) = memchr::memrchr(b'\n', &buf) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

#[cfg(test)]
mod tests;
