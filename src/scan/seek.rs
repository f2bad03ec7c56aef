//! Seeking by timestamp in time-ordered plain files, so that `--since -1h`
//! on a large log reads the last hour instead of the whole file (as `look`
//! and `hl` do). A file counts as time-ordered when probes spread over it
//! are in order; otherwise, or when anything is unclear, the whole file is
//! read.

use std::fs::File;
use std::io;

use super::Reader;
use super::ScanOptions;
use crate::input::chunk;
use crate::time::Micros;

/// Lines may be out of order by this much (a log line is written when a
/// request ends but stamped when it started); the window is widened by it.
pub const SLACK_US: i64 = 15 * 60 * 1_000_000;
/// Probes that must be in order before a file is trusted to be sorted.
const PROBES: u64 = 32;
/// Bytes read at a probe to find one timestamped line.
const PROBE_BYTES: u64 = 64 * 1024;
/// Below this the search stops: reading it is cheaper than seeking.
const GRANULE: u64 = 1 << 20;

/// The first timestamp of a line starting at or after `off`, and where
/// that line starts.
fn probe(f: &File, off: u64, reader: &Reader) -> io::Result<Option<(u64, Micros)>> {
    let begin = off.saturating_sub(1);
    let buf = chunk::read_exact_at(f, begin, PROBE_BYTES as usize)?;
    let mut pos = if off == 0 {
        0
    } else {
        match memchr::memchr(b'\n', &buf) {
            Some(i) => i + 1,
            None => return Ok(None),
        }
    };
    let mut parser = reader.parser.clone();
    while let Some(n) = memchr::memchr(b'\n', &buf[pos..]) {
        let line = &buf[pos..pos + n];
        if let Ok(text) = std::str::from_utf8(line)
            && let Ok(parsed) = parser.parse(text.trim_end_matches('\r'))
            && let Ok(ev) = reader.fields.resolve(parsed.record()).normalize()
        {
            return Ok(Some((begin + pos as u64, ev.ts)));
        }
        pos += n + 1;
    }
    Ok(None)
}

/// The byte range of `f` (`0..len`) that can hold lines inside
/// `--since`/`--until`, both ends at line starts; `None` to read it all.
pub fn window(
    f: &File,
    len: u64,
    reader: &Reader,
    o: &ScanOptions,
) -> io::Result<Option<(u64, u64)>> {
    if o.since.is_none() && o.until.is_none() {
        return Ok(None);
    }
    let mut last: Option<Micros> = None;
    let mut seen = 0;
    for i in 0..PROBES {
        if let Some((_, ts)) = probe(f, len / PROBES * i, reader)? {
            if last.is_some_and(|l| ts + SLACK_US < l) {
                return Ok(None);
            }
            last = Some(last.map_or(ts, |l| l.max(ts)));
            seen += 1;
        }
    }
    if seen < PROBES / 2 {
        return Ok(None);
    }
    let start = match o.since {
        Some(since) => bound(f, len, reader, |ts| ts < since - SLACK_US)?.0,
        None => 0,
    };
    let end = match o.until {
        Some(until) => bound(f, len, reader, |ts| ts <= until + SLACK_US)?.1,
        None => len,
    };
    Ok((start > 0 || end < len).then_some((start, end.max(start))))
}

/// Binary search over probes for the boundary of `before` in a sorted
/// file: returns (a line start with every line before it `before`, a line
/// start with it and every line after it not `before`; `len` if none).
/// Both err towards reading more.
fn bound(
    f: &File,
    len: u64,
    reader: &Reader,
    before: impl Fn(Micros) -> bool,
) -> io::Result<(u64, u64)> {
    let (mut lo, mut hi) = (0u64, len);
    let (mut lo_at, mut hi_at) = (0u64, len);
    while hi - lo > GRANULE {
        let mid = lo + (hi - lo) / 2;
        match probe(f, mid, reader)? {
            Some((at, ts)) if before(ts) => {
                lo = mid;
                lo_at = at;
            }
            Some((at, _)) => {
                hi = mid;
                hi_at = at;
            }
            None => break,
        }
    }
    Ok((lo_at, hi_at))
}
