//! Line-aligned chunks. Plain files are split into byte ranges that workers
//! map or read independently (a chunk owns the lines that *start* inside
//! its range); streams are cut into blocks at line ends. Lines longer than the
//! limit are cut to `max_line + 1` bytes so they are counted as too long
//! without ever being held whole in memory.

use std::fs::File;
use std::io::{self, Read};

/// Byte ranges of about `chunk` bytes covering `start..len`, the last
/// `tail` chunks' worth of bytes cut into quarter chunks so that workers
/// run out of work together: a whole last chunk on one worker leaves the
/// others idle while it finishes.
pub fn ranges(start: u64, len: u64, chunk: u64, tail: u64) -> Vec<(u64, u64)> {
    let chunk = chunk.max(1);
    let fine = len.saturating_sub(tail.saturating_mul(chunk)).max(start);
    let mut v = Vec::new();
    let mut s = start;
    while s < len {
        let step = if s >= fine { (chunk / 4).max(1) } else { chunk };
        let e = (s + step).min(len);
        // A whole chunk that would cross into the tail stops where it starts.
        let e = if s < fine && e > fine { fine } else { e };
        v.push((s, e));
        s = e;
    }
    v
}

/// Reads at `off` without moving a shared cursor, so workers can share one
/// open file. Holding the handle (not the path) also means a file that is
/// deleted or rotated away mid-run is still read whole.
fn read_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    loop {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::read_at(f, buf, off);
        #[cfg(windows)]
        let r = std::os::windows::fs::FileExt::seek_read(f, buf, off);
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Reads up to `len` bytes at `off` (fewer if the file ends first).
pub fn read_exact_at(f: &File, off: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let got = fill_at(f, off, &mut buf)?;
    buf.truncate(got);
    Ok(buf)
}

/// Fills `buf` from `off`; returns how much was read (less at end of file).
fn fill_at(f: &File, off: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = read_at(f, &mut buf[got..], off + got as u64)?;
        if n == 0 {
            break; // truncated since it was measured: read what is there
        }
        got += n;
    }
    Ok(got)
}

/// Reads the lines of `f` that start in `start..end`.
pub fn read_range(f: &File, start: u64, end: u64, max_line: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let span = read_range_into(f, start, end, max_line, &mut buf)?;
    buf.truncate(span.end);
    buf.drain(..span.start);
    Ok(buf)
}

/// Like [`read_range`], into `buf` (reused across calls: a worker keeps
/// one buffer, so an 8 MiB chunk costs no allocation, zeroing, page
/// faults or copies); returns where the lines are in `buf`.
pub fn read_range_into(
    f: &File,
    start: u64,
    end: u64,
    max_line: usize,
    buf: &mut Vec<u8>,
) -> io::Result<std::ops::Range<usize>> {
    let begin = start.saturating_sub(1);
    let want = (end - begin) as usize;
    if buf.len() < want {
        buf.resize(want, 0);
    }
    let got = fill_at(f, begin, &mut buf[..want])?;
    let skip = if start == 0 {
        0
    } else {
        match memchr::memchr(b'\n', &buf[..got]) {
            Some(i) => i + 1,
            None => return Ok(0..0), // inside one long line that began earlier
        }
    };
    if got == skip || buf[got - 1] == b'\n' || got < want {
        return Ok(skip..got);
    }
    // Finish the last line, which may run past `end`.
    let last_start = memchr::memrchr(b'\n', &buf[skip..got]).map_or(skip, |i| skip + i + 1);
    let mut len = got;
    let mut off = end;
    const PIECE: usize = 64 * 1024;
    loop {
        if buf.len() < len + PIECE {
            buf.resize(len + PIECE, 0);
        }
        let n = read_at(f, &mut buf[len..len + PIECE], off)?;
        if n == 0 {
            break;
        }
        off += n as u64;
        let (take, done) = match memchr::memchr(b'\n', &buf[len..len + n]) {
            Some(i) => (i + 1, true),
            None => (n, false),
        };
        let room = (max_line + 1).saturating_sub(len - last_start);
        len += take.min(room);
        if done {
            if take > room {
                buf[len] = b'\n';
                len += 1;
            }
            break;
        }
    }
    Ok(skip..len)
}

/// A read-only memory map of the part of a file holding some chunk's
/// lines; the lines are `map[lines]`.
pub struct Mapped {
    map: memmap2::Mmap,
    lines: std::ops::Range<usize>,
}

impl std::ops::Deref for Mapped {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.map[self.lines.clone()]
    }
}

/// How far past its range a chunk's map reaches for the end of its last
/// line; a longer line is read instead (and cut as [`read_range`] cuts it).
const MAP_REACH: u64 = 64 * 1024;

/// The lines of `f` that start in `start..end`, as [`read_range`] gives
/// them, through a memory map of that part of the file: the kernel does
/// not copy them out of the page cache (`scripts/bench.py` times both).
/// The map lives as long as the chunk is parsed, so resident memory
/// stays at a few chunks whatever the file's size.
///
/// `None` when the lines cannot be had this way (no map on this
/// platform or file, the file has shrunk below `len`, the last line runs
/// past the reach): the caller reads them instead.
pub fn map_range(f: &File, start: u64, end: u64, len: u64) -> Option<Mapped> {
    const PAGE: u64 = 64 * 1024; // a multiple of every page size in use
    let begin = start.saturating_sub(1) / PAGE * PAGE;
    let stop = (end + MAP_REACH).min(len);
    // A file truncated while mapped faults (SIGBUS) on the pages past its
    // new end. Logs are appended to, not shrunk, except by copytruncate
    // rotation: a file found shorter than at the start is read, not mapped
    // (and `--no-mmap` never maps).
    if stop <= begin || f.metadata().ok()?.len() < stop {
        return None;
    }
    // SAFETY: the map is read-only and private; the one hazard, another
    // process truncating the file while this chunk is parsed, is narrowed
    // by the length check above and documented for `--no-mmap`.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(begin)
            .len((stop - begin) as usize)
            .map(f)
    }
    .ok()?;
    let at = |off: u64| (off - begin) as usize;
    // As in `read_range_into`: a line is the chunk's when it starts in
    // `start..end` (after a newline in `start - 1..end - 1`), and runs to
    // the first newline at or after `end - 1`.
    let first = match start {
        0 => 0,
        _ => match memchr::memchr(b'\n', &map[at(start - 1)..at(end - 1)]) {
            Some(i) => at(start) + i,
            None => return Some(Mapped { map, lines: 0..0 }),
        },
    };
    let last = match memchr::memchr(b'\n', &map[at(end - 1)..]) {
        Some(i) => at(end) + i,
        None if stop == len => map.len(),
        None => return None,
    };
    Some(Mapped {
        map,
        lines: first..last,
    })
}

/// Cuts a stream into blocks of about `size` bytes ending at line ends.
pub struct Blocks<R> {
    r: R,
    size: usize,
    max_line: usize,
    carry: Vec<u8>,
    /// Discarding the rest of an over-long line.
    discarding: bool,
    done: bool,
    pending_error: Option<io::Error>,
}

impl<R: Read> Blocks<R> {
    pub fn new(r: R, size: usize, max_line: usize) -> Self {
        Blocks {
            r,
            size: size.max(1024),
            max_line,
            carry: Vec::new(),
            discarding: false,
            done: false,
            pending_error: None,
        }
    }

    /// Next block, `Ok(None)` at the end. On an error the data read so far
    /// has already been returned in earlier blocks; the caller reports it.
    pub fn next_block(&mut self) -> io::Result<Option<Vec<u8>>> {
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let mut buf = std::mem::take(&mut self.carry);
        let mut piece = vec![0u8; 256 * 1024];
        while buf.len() < self.size {
            let n = match self.r.read(&mut piece) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    if !buf.is_empty() {
                        // Hand out what we have; the error surfaces next call.
                        self.pending_error = Some(e);
                        return Ok(Some(buf));
                    }
                    return Err(e);
                }
            };
            if n == 0 {
                self.done = true;
                return Ok((!buf.is_empty()).then_some(buf));
            }
            self.push_piece(&mut buf, &piece[..n]);
        }
        match memchr::memrchr(b'\n', &buf) {
            Some(i) => {
                self.carry = buf.split_off(i + 1);
                Ok(Some(buf))
            }
            None => {
                // A block with no line end: one line longer than the block size.
                Ok(Some(buf))
            }
        }
    }

    fn push_piece(&mut self, buf: &mut Vec<u8>, mut p: &[u8]) {
        while !p.is_empty() {
            if self.discarding {
                match memchr::memchr(b'\n', p) {
                    Some(i) => {
                        buf.push(b'\n');
                        self.discarding = false;
                        p = &p[i + 1..];
                    }
                    None => return,
                }
                continue;
            }
            let line_start = memchr::memrchr(b'\n', buf).map_or(0, |i| i + 1);
            let cur = buf.len() - line_start;
            match memchr::memchr(b'\n', p) {
                Some(i) if cur + i <= self.max_line => {
                    buf.extend_from_slice(&p[..=i]);
                    p = &p[i + 1..];
                }
                found => {
                    let avail = found.unwrap_or(p.len());
                    let room = (self.max_line + 1).saturating_sub(cur);
                    if avail < room {
                        buf.extend_from_slice(&p[..avail]);
                        p = &p[avail..];
                        if found.is_none() {
                            return;
                        }
                    } else {
                        buf.extend_from_slice(&p[..room]);
                        p = &p[room..];
                        self.discarding = true;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` numbered lines of varying length, the last without a newline.
    fn numbered_lines(n: usize, widths: usize) -> Vec<u8> {
        let mut text = Vec::new();
        for i in 0..n {
            text.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % widths)).as_bytes());
        }
        text.extend_from_slice(b"last without newline");
        text
    }

    fn lines_of(data: &[u8]) -> Vec<Vec<u8>> {
        data.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| l.to_vec())
            .collect()
    }

    #[test]
    fn ranges_reassemble_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let text = numbered_lines(500, 37);
        std::fs::write(&p, &text).unwrap();
        for chunk in [1, 7, 64, 1000, 100_000] {
            let mut all = Vec::new();
            for (s, e) in ranges(0, text.len() as u64, chunk, 3) {
                all.extend(lines_of(
                    &read_range(&File::open(&p).unwrap(), s, e, 1 << 20).unwrap(),
                ));
            }
            assert_eq!(all, lines_of(&text), "chunk {chunk}");
        }
    }

    #[test]
    fn ranges_cover_the_span_and_end_fine() {
        for (start, len, chunk, tail) in [
            (0, 0, 8, 2),
            (5, 5, 8, 2),
            (0, 100, 8, 0),
            (0, 100, 8, 2),
            (3, 100, 8, 2),
            (0, 10, 8, 4),
            (0, 1000, 1, 3),
            (0, 1 << 30, 8 << 20, 2),
        ] {
            let v = ranges(start, len, chunk, tail);
            let mut at = start;
            for &(s, e) in &v {
                assert_eq!(s, at, "{v:?}");
                assert!(s < e && e - s <= chunk, "{v:?}");
                at = e;
            }
            assert_eq!(at, len.max(start), "{v:?}");
            // The last `tail` chunks' worth is in quarter chunks.
            let fine_from = len.saturating_sub(tail * chunk).max(start);
            for &(s, e) in v.iter().filter(|r| r.0 >= fine_from) {
                assert!(e - s <= (chunk / 4).max(1), "{v:?}");
            }
        }
        let v = ranges(0, 1 << 30, 8 << 20, 2);
        assert_eq!(v.len(), 126 + 8);
        assert_eq!(ranges(0, 100, 8, 0).len(), 13);
    }

    #[test]
    fn mapped_ranges_are_read_ranges() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let text = numbered_lines(3_000, 97);
        std::fs::write(&p, &text).unwrap();
        let f = File::open(&p).unwrap();
        let len = text.len() as u64;
        for chunk in [7, 61, 4096, 65_536, 1 << 20] {
            for (s, e) in ranges(0, len, chunk, 0) {
                let read = read_range(&f, s, e, 1 << 20).unwrap();
                match map_range(&f, s, e, len) {
                    Some(m) => assert_eq!(&m[..], &read[..], "chunk {chunk} at {s}..{e}"),
                    None => panic!("chunk {chunk} at {s}..{e} not mapped"),
                }
            }
        }
        // A line running far past its chunk is left to the reader.
        let mut long = b"a\n".to_vec();
        long.extend(std::iter::repeat_n(b'y', 200_000));
        long.extend_from_slice(b"\nb\n");
        std::fs::write(&p, &long).unwrap();
        let f = File::open(&p).unwrap();
        assert!(map_range(&f, 0, 1000, long.len() as u64).is_none());
        assert_eq!(
            &map_range(&f, 1000, 2000, long.len() as u64).unwrap()[..],
            b""
        );
        // A file shorter than the length its chunks were planned for is
        // not mapped.
        assert!(map_range(&f, 0, 1000, long.len() as u64 + 10).is_none());
    }

    #[test]
    fn long_lines_are_cut_not_held() {
        let mut text = b"short\n".to_vec();
        text.extend(std::iter::repeat_n(b'y', 10_000));
        text.extend_from_slice(b"\nafter\n");
        let mut blocks = Blocks::new(&text[..], 1024, 100);
        let mut got = Vec::new();
        while let Some(b) = blocks.next_block().unwrap() {
            got.extend(lines_of(&b));
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], b"short");
        assert_eq!(got[1].len(), 101, "cut to max_line + 1");
        assert_eq!(got[2], b"after");

        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, &text).unwrap();
        let mut all = Vec::new();
        for (s, e) in ranges(0, text.len() as u64, 512, 0) {
            all.extend(lines_of(
                &read_range(&File::open(&p).unwrap(), s, e, 100).unwrap(),
            ));
        }
        assert_eq!(all.len(), 3);
        assert!(all[1].len() > 100);
    }

    #[test]
    fn stream_error_after_data() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated"));
                }
                self.0 -= 1;
                b[..3].copy_from_slice(b"ab\n");
                Ok(3)
            }
        }
        let mut b = Blocks::new(Failing(2), 4096, 100);
        assert_eq!(b.next_block().unwrap().unwrap(), b"ab\nab\n");
        assert!(b.next_block().is_err());
        assert!(b.next_block().unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn an_open_file_is_read_whole_after_it_is_deleted() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.log");
        let text = "one\ntwo\nthree\n".repeat(1000);
        std::fs::write(&p, &text).unwrap();
        let f = File::open(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let mut all = Vec::new();
        for (s, e) in ranges(0, text.len() as u64, 777, 0) {
            all.extend(read_range(&f, s, e, 100).unwrap());
        }
        assert_eq!(all, text.as_bytes());
    }
}
