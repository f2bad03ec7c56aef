//! The state of incremental runs over a log archive (`authstorm nightly
//! --state DIR`): which files were read how far, and one cube per UTC day.
//!
//! Files are known by content, never by path or inode: a fingerprint of
//! their first [`FINGERPRINT_BYTES`] decompressed bytes. A renamed or
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

/// Bytes of decompressed content that identify a file. A shorter file waits
/// for the next run.
pub const FINGERPRINT_BYTES: usize = 1024;

/// A file's content identity: a hash of its first [`FINGERPRINT_BYTES`]
/// decompressed bytes, as 16 hex digits.
pub fn fingerprint(path: &Path) -> io::Result<Option<String>> {
    let mut stream = open_decompressed(path)?.0;
    let mut head = vec![0u8; FINGERPRINT_BYTES];
    let mut got = 0;
    while got < head.len() {
        match stream.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((got == FINGERPRINT_BYTES).then(|| format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&head))))
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
