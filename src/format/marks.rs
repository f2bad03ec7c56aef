//! Where a line's spaces and quotes are: one bit per byte, built 64, 32 or
//! 16 bytes at a time (AVX-512BW or AVX2 where the CPU has it, else SSE2,
//! on x86_64; a plain loop elsewhere). A tokenizer then finds the end of a
//! field with a shift and a trailing-zeros count instead of testing bytes
//! one by one (the technique of simdjson's structural index, at the scale
//! of one line). The combined tokenizer uses both classes; the JSON scanner
//! the quotes, on lines with neither a backslash nor a control byte (both
//! are flagged in the same pass). [`Marks::line`] marks a line while
//! finding its end, and flags a byte above 0x7f as well: a line with none,
//! and no control byte, is valid UTF-8 with no NUL, so the scan need not
//! check it again.
//! [`plain_line`] is that newline search and check alone, for the formats
//! whose lines are not marked.

/// Lines up to this many bytes get marks; longer ones (rare) are left to
/// the byte-at-a-time tokenizer.
pub const MAX_LEN: usize = 64 * WORDS;
const WORDS: usize = 8;

/// The byte classes marked.
#[derive(Clone, Copy)]
pub enum Class {
    Space = 0,
    Quote = 1,
}

pub struct Marks {
    /// `bits[w][class]`: bit `i` set when byte `64 w + i` is of that class.
    bits: [[u64; 2]; WORDS],
    len: usize,
    /// Whether the line has a backslash (an escape in a quoted string:
    /// quotes are then not all delimiters).
    backslash: bool,
    /// Whether the line has a control byte (below 0x20): JSON's
    /// whitespace other than spaces, or a byte no JSON string may hold.
    control: bool,
}

/// A line's marks, 64 bytes at a time by `$classify`.
macro_rules! build {
    ($b:expr, $classify:ident) => {{
        let b: &[u8] = $b;
        let mut bits = [[0u64; 2]; WORDS];
        let (mut backslash, mut control) = (false, false);
        let mut words = b.chunks_exact(64);
        for (w, word) in words.by_ref().enumerate() {
            let (m, bs, ctl) = $classify(word.try_into().expect("64 bytes"));
            bits[w] = m;
            backslash |= bs;
            control |= ctl;
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            // Padding with a plain byte matches no class.
            let mut last = [b'a'; 64];
            last[..rest.len()].copy_from_slice(rest);
            let (m, bs, ctl) = $classify(&last);
            bits[b.len() / 64] = m;
            backslash |= bs;
            control |= ctl;
        }
        Marks {
            bits,
            len: b.len(),
            backslash,
            control,
        }
    }};
}

/// [`Marks::line`] with 64-byte words classified by `$classify`.
macro_rules! line {
    ($m:expr, $body:expr, $start:expr, $classify:ident) => {{
        let (m, body, start): (&mut Marks, &[u8], usize) = ($m, $body, $start);
        m.bits = [[0; 2]; WORDS];
        // Odd bytes of the words before the last two, of the one before
        // the last, and of the last: the line's end decides which bits of
        // the last two count.
        let (mut odd_before, mut odd_prev, mut odd_last) = (0u64, 0u64, 0u64);
        let mut w = 0;
        let end = loop {
            if w == WORDS {
                break None;
            }
            let at = start + 64 * w;
            let (bits, nl, o) = match body.get(at..at + 64) {
                Some(word) => $classify(word.try_into().expect("64 bytes")),
                None => {
                    // The end of the body ends the line, as a newline would.
                    let mut last = [b'\n'; 64];
                    last[..body.len() - at].copy_from_slice(&body[at..]);
                    $classify(&last)
                }
            };
            m.bits[w] = bits;
            odd_before |= odd_prev;
            odd_prev = odd_last;
            odd_last = o;
            if nl != 0 {
                break Some(at + nl.trailing_zeros() as usize);
            }
            w += 1;
        };
        match end {
            // Longer than marks go: every word was whole, so the line
            // goes on at `start + MAX_LEN`, within the body.
            None => {
                let from = start + MAX_LEN;
                let end = memchr::memchr(b'\n', &body[from..]).map_or(body.len(), |i| from + i);
                (end, false)
            }
            Some(end) => {
                let len = end - start;
                let n = if len > 0 && body[end - 1] == b'\r' {
                    len - 1
                } else {
                    len
                };
                // Bits from `n` on belong to the `\r`, the newline or the
                // next line: cleared. `n` is in the last word, or (after a
                // `\r` ending a word) just past the one before.
                let keep = |word: usize| match n.checked_sub(64 * word) {
                    Some(r) if r < 64 => (1u64 << r) - 1,
                    Some(_) => !0,
                    None => 0,
                };
                let any = odd_before
                    | odd_last & keep(w)
                    | if w > 0 { odd_prev & keep(w - 1) } else { 0 };
                m.bits[w] = m.bits[w].map(|b| b & keep(w));
                if w > 0 {
                    m.bits[w - 1] = m.bits[w - 1].map(|b| b & keep(w - 1));
                }
                m.len = n;
                m.backslash = false;
                m.control = false;
                (end, any == 0)
            }
        }
    }};
}

impl Marks {
    /// No line yet: marks to fill with [`Marks::line`].
    pub fn empty() -> Marks {
        Marks {
            bits: [[0; 2]; WORDS],
            len: 0,
            backslash: false,
            control: false,
        }
    }

    /// Finds the end of the line of `body` that starts at `start` (its
    /// `\n`, or the end of `body`), and marks the line in the same pass:
    /// the newline search a scan makes anyway also gives a line's marks.
    /// Returns the end, and whether `self` now holds the marks of the line
    /// (without a final `\r`), which it does when that is plain (ASCII,
    /// no control byte) with no backslash, and shorter than [`MAX_LEN`]
    /// bytes (its newline among the first `MAX_LEN`).
    #[inline]
    pub fn line(&mut self, body: &[u8], start: usize) -> (usize, bool) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: this CPU has AVX-512BW (checked just above; the
            // answer is cached by std).
            return unsafe { line_avx512(self, body, start) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: this CPU has AVX2 (checked just above; the answer is
            // cached by std).
            return unsafe { line_avx2(self, body, start) };
        }
        line!(self, body, start, classify_line64)
    }

    /// The marks of `b`, or `None` when it is longer than [`MAX_LEN`].
    #[inline(always)]
    pub fn new(b: &[u8]) -> Option<Marks> {
        if b.len() > MAX_LEN {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: this CPU has AVX2 (checked just above; the answer is
            // cached by std).
            return Some(unsafe { build_avx2(b) });
        }
        Some(build!(b, classify64))
    }

    /// The length of the line marked.
    #[inline]
    pub fn line_len(&self) -> usize {
        self.len
    }

    /// Whether the line has a backslash.
    #[inline]
    pub fn backslash(&self) -> bool {
        self.backslash
    }

    /// Whether the line has a byte below 0x20.
    #[inline]
    pub fn control(&self) -> bool {
        self.control
    }

    /// The first position at or after `from` whose byte is of class `c`,
    /// or the line's length when there is none.
    #[inline]
    pub fn next(&self, c: Class, from: usize) -> usize {
        let mut w = from / 64;
        if w >= WORDS {
            return self.len;
        }
        let m = self.bits[w][c as usize] >> (from % 64);
        if m != 0 {
            return from + m.trailing_zeros() as usize;
        }
        loop {
            w += 1;
            if w >= WORDS {
                return self.len;
            }
            let m = self.bits[w][c as usize];
            if m != 0 {
                return 64 * w + m.trailing_zeros() as usize;
            }
        }
    }
}

/// Masks of spaces and quotes in 64 bytes, and whether they hold a
/// backslash, and a control byte.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify64(word: &[u8; 64]) -> ([u64; 2], bool, bool) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline (every x86_64 CPU has
    // it), and each unaligned load reads 16 of the 64 bytes of `word`.
    unsafe {
        let p = word.as_ptr();
        let v = [0, 16, 32, 48].map(|o| _mm_loadu_si128(p.add(o).cast()));
        let masks = [b' ', b'"'].map(|c| {
            let c = _mm_set1_epi8(c as i8);
            let m = |x| _mm_movemask_epi8(_mm_cmpeq_epi8(x, c)) as u16 as u64;
            m(v[0]) | m(v[1]) << 16 | m(v[2]) << 32 | m(v[3]) << 48
        });
        let bs = _mm_set1_epi8(b'\\' as i8);
        let any = v.iter().fold(_mm_setzero_si128(), |acc, x| {
            _mm_or_si128(acc, _mm_cmpeq_epi8(*x, bs))
        });
        // A byte is below 0x20 when its unsigned minimum with 0x1f is itself.
        let low = _mm_set1_epi8(0x1f);
        let ctl = v.iter().fold(_mm_setzero_si128(), |acc, x| {
            _mm_or_si128(acc, _mm_cmpeq_epi8(_mm_min_epu8(*x, low), *x))
        });
        (
            masks,
            _mm_movemask_epi8(any) != 0,
            _mm_movemask_epi8(ctl) != 0,
        )
    }
}

/// [`Marks::new`] with 32-byte AVX2 compares: half as many compares and
/// mask moves as SSE2's 16-byte ones.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn build_avx2(b: &[u8]) -> Marks {
    build!(b, classify64_avx2)
}

/// [`classify64`] with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn classify64_avx2(word: &[u8; 64]) -> ([u64; 2], bool, bool) {
    use std::arch::x86_64::*;
    // SAFETY: each unaligned load reads 32 of the 64 bytes of `word`.
    let v = unsafe { [0, 32].map(|o| _mm256_loadu_si256(word.as_ptr().add(o).cast())) };
    let masks = [b' ', b'"'].map(|c| {
        let c = _mm256_set1_epi8(c as i8);
        let m = |x| _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, c)) as u32 as u64;
        m(v[0]) | m(v[1]) << 32
    });
    let bs = _mm256_set1_epi8(b'\\' as i8);
    let any = _mm256_or_si256(_mm256_cmpeq_epi8(v[0], bs), _mm256_cmpeq_epi8(v[1], bs));
    let low = _mm256_set1_epi8(0x1f);
    let ctl = |x| _mm256_cmpeq_epi8(_mm256_min_epu8(x, low), x);
    let ctl = _mm256_or_si256(ctl(v[0]), ctl(v[1]));
    (
        masks,
        _mm256_movemask_epi8(any) != 0,
        _mm256_movemask_epi8(ctl) != 0,
    )
}

/// [`Marks::line`] with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn line_avx2(m: &mut Marks, body: &[u8], start: usize) -> (usize, bool) {
    line!(m, body, start, classify_line64_avx2)
}

/// Masks of spaces and quotes in 64 bytes, of newlines, and of the bytes
/// that keep a line off the marked path: a backslash, a control byte, or
/// a byte above 0x7f.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify_line64(word: &[u8; 64]) -> ([u64; 2], u64, u64) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline (every x86_64 CPU has
    // it), and each unaligned load reads 16 of the 64 bytes of `word`.
    unsafe {
        let p = word.as_ptr();
        let v = [0, 16, 32, 48].map(|o| _mm_loadu_si128(p.add(o).cast()));
        let gather = |xs: [__m128i; 4]| {
            xs.iter().enumerate().fold(0u64, |acc, (i, x)| {
                acc | (_mm_movemask_epi8(*x) as u16 as u64) << (16 * i)
            })
        };
        let eq = |c: u8| {
            let c = _mm_set1_epi8(c as i8);
            gather(v.map(|x| _mm_cmpeq_epi8(x, c)))
        };
        // Signed, a byte above 0x7f is negative: below 0x20 with the
        // control bytes, in one compare.
        let (bs, below) = (_mm_set1_epi8(b'\\' as i8), _mm_set1_epi8(0x20));
        // Each mask through `black_box`, as in the AVX2 build.
        let odd = v.iter().enumerate().fold(0u64, |acc, (i, x)| {
            let o = _mm_or_si128(_mm_cmpeq_epi8(*x, bs), _mm_cmpgt_epi8(below, *x));
            acc | (std::hint::black_box(_mm_movemask_epi8(o)) as u16 as u64) << (16 * i)
        });
        ([eq(b' '), eq(b'"')], eq(b'\n'), odd)
    }
}

/// [`classify_line64`] with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn classify_line64_avx2(word: &[u8; 64]) -> ([u64; 2], u64, u64) {
    use std::arch::x86_64::*;
    // SAFETY: each unaligned load reads 32 of the 64 bytes of `word`.
    let (lo, hi) = unsafe {
        let p = word.as_ptr();
        (
            _mm256_loadu_si256(p.cast()),
            _mm256_loadu_si256(p.add(32).cast()),
        )
    };
    let (space, quote, nl) = (
        _mm256_set1_epi8(b' ' as i8),
        _mm256_set1_epi8(b'"' as i8),
        _mm256_set1_epi8(b'\n' as i8),
    );
    // The top bit of a byte (set above 0x7f), of the byte less 0x20 (set
    // below 0x20, wrapping) and of a backslash's compare: one move for all
    // three.
    let (bs, sub) = (_mm256_set1_epi8(b'\\' as i8), _mm256_set1_epi8(0x20));
    let odd = |x| {
        _mm256_or_si256(
            _mm256_or_si256(x, _mm256_sub_epi8(x, sub)),
            _mm256_cmpeq_epi8(x, bs),
        )
    };
    let (odd_lo, odd_hi) = (odd(lo), odd(hi));
    let join = |a: i32, b: i32| a as u32 as u64 | (b as u32 as u64) << 32;
    (
        [
            join(
                _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, space)),
                _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, space)),
            ),
            join(
                _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, quote)),
                _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, quote)),
            ),
        ],
        join(
            _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, nl)),
            _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, nl)),
        ),
        // Through `black_box`: joined as they are, LLVM took the two masks
        // for a 64-lane vector of bits and built the word bit by bit.
        join(
            std::hint::black_box(_mm256_movemask_epi8(odd_lo)),
            std::hint::black_box(_mm256_movemask_epi8(odd_hi)),
        ),
    )
}

/// [`Marks::line`] with AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
fn line_avx512(m: &mut Marks, body: &[u8], start: usize) -> (usize, bool) {
    line!(m, body, start, classify_line64_avx512)
}

/// [`classify_line64`] with AVX-512BW: one load, and each class compared
/// straight into a 64-bit mask (no byte-mask moves to join).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
#[inline]
fn classify_line64_avx512(word: &[u8; 64]) -> ([u64; 2], u64, u64) {
    use std::arch::x86_64::*;
    // SAFETY: the unaligned load reads the 64 bytes of `word`.
    let x = unsafe { _mm512_loadu_si512(word.as_ptr().cast()) };
    let eq = |c: u8| _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(c as i8));
    // Signed, a byte above 0x7f is negative: below 0x20 with the control
    // bytes, in one compare.
    let odd = _mm512_cmplt_epi8_mask(x, _mm512_set1_epi8(0x20)) | eq(b'\\');
    ([eq(b' '), eq(b'"')], eq(b'\n'), odd)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classify_line64(word: &[u8; 64]) -> ([u64; 2], u64, u64) {
    let (mut m, mut nl, mut odd) = ([0u64; 2], 0u64, 0u64);
    for (i, &b) in word.iter().enumerate() {
        m[0] |= ((b == b' ') as u64) << i;
        m[1] |= ((b == b'"') as u64) << i;
        nl |= ((b == b'\n') as u64) << i;
        odd |= ((b == b'\\' || b < 0x20 || b > 0x7f) as u64) << i;
    }
    (m, nl, odd)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classify64(word: &[u8; 64]) -> ([u64; 2], bool, bool) {
    let mut m = [0u64; 2];
    for (i, &b) in word.iter().enumerate() {
        m[0] |= ((b == b' ') as u64) << i;
        m[1] |= ((b == b'"') as u64) << i;
    }
    (m, word.contains(&b'\\'), word.iter().any(|&b| b < 0x20))
}

/// Finds the end of the line of `body` that starts at `start` (its `\n`,
/// or the end of `body`), and whether the line is plain: ASCII with no
/// NUL byte, so valid UTF-8 that the scan need not check again. For the
/// formats whose lines are not marked (JSON, logfmt, W3C, regex): one pass
/// instead of three (a UTF-8 check and a NUL search of the whole chunk,
/// then a newline search per line), which saves about 7% of a JSON scan's
/// time.
#[inline]
pub fn plain_line(body: &[u8], start: usize) -> (usize, bool) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: this CPU has AVX2 (checked just above; the answer is
        // cached by std).
        return unsafe { plain_line_avx2(body, start) };
    }
    plain_line_bytes(body, start)
}

/// [`plain_line`] without SIMD of its own (memchr has its own).
fn plain_line_bytes(body: &[u8], start: usize) -> (usize, bool) {
    let end = memchr::memchr(b'\n', &body[start..]).map_or(body.len(), |i| start + i);
    let line = &body[start..end];
    (end, line.is_ascii() && memchr::memchr(0, line).is_none())
}

/// [`plain_line`] 32 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn plain_line_avx2(body: &[u8], start: usize) -> (usize, bool) {
    use std::arch::x86_64::*;
    let (nl, nul) = (_mm256_set1_epi8(b'\n' as i8), _mm256_setzero_si256());
    let mut at = start;
    let mut odd = false;
    while at + 32 <= body.len() {
        // SAFETY: reads the 32 bytes of `body` at `at` (checked above).
        let v = unsafe { _mm256_loadu_si256(body.as_ptr().add(at).cast()) };
        let newlines = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, nl)) as u32;
        // A byte above 0x7f has its top bit set; a NUL equals zero.
        let bad =
            (_mm256_movemask_epi8(v) | _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, nul))) as u32;
        if newlines != 0 {
            let i = newlines.trailing_zeros();
            return (at + i as usize, !odd && bad & ((1 << i) - 1) == 0);
        }
        odd |= bad != 0;
        at += 32;
    }
    let (end, plain) = plain_line_bytes(body, at);
    (end, !odd && plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_found_as_byte_by_byte() {
        // Lines of every length around the 32-byte steps, with a NUL, a
        // byte above 0x7f or a control byte at every place, and bodies
        // with and without a final newline.
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for len in 0..80 {
            let line: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            for tail in [&b""[..], b"\n", b"\nnext line\n", b"\r\n"] {
                bodies.push([&line[..], tail].concat());
                for at in 0..len {
                    for odd in [0u8, 0x80, 0xc3, 0xff, 0x01, b'\t'] {
                        let mut l = line.clone();
                        l[at] = odd;
                        bodies.push([&l[..], tail].concat());
                    }
                }
            }
        }
        for body in &bodies {
            let mut start = 0;
            while start <= body.len() {
                let got = super::plain_line(body, start);
                let end = body[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(body.len(), |i| start + i);
                let line = &body[start..end];
                let plain = line.iter().all(|&b| b != 0 && b < 0x80);
                assert_eq!(got, (end, plain), "{body:?} from {start}");
                assert_eq!(super::plain_line_bytes(body, start), (end, plain));
                start = end + 1;
            }
        }
    }

    /// Lines found by [`Marks::line`] are those of `split(b'\n')`, with
    /// the marks [`Marks::new`] gives each (less a final `\r`) when it is
    /// plain, for lines of every length around the word sizes, with and
    /// without odd bytes, and bodies ending anywhere.
    #[test]
    fn line_marks_are_each_lines_marks() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let lens = (0..140).chain(500..530).chain([700, 2000]);
        let mut bodies: Vec<Vec<u8>> = vec![b"".to_vec(), b"\n".to_vec(), b"\n\n".to_vec()];
        for len in lens {
            for variant in 0..6 {
                let mut body = Vec::new();
                for _ in 0..1 + rand(3) {
                    let n = if variant == 0 {
                        len
                    } else {
                        rand(len as u64 + 1) as usize
                    };
                    for _ in 0..n {
                        body.push(match rand(40) {
                            0..=5 => b' ',
                            6 => b'"',
                            7 if variant == 2 => b'\\',
                            8 if variant == 3 => b'\t',
                            9 if variant == 4 => 0xc3,
                            10 if variant == 5 => b'\r',
                            _ => b'a' + rand(26) as u8,
                        });
                    }
                    if variant % 2 == 1 {
                        body.push(b'\r');
                    }
                    body.push(b'\n');
                }
                if rand(2) == 0 {
                    body.pop();
                }
                bodies.push(body);
            }
        }
        for body in &bodies {
            let want: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
            let (mut m, mut sse2) = (Marks::empty(), Marks::empty());
            let mut got = Vec::new();
            let mut at = 0;
            while at <= body.len() {
                let (end, plain) = m.line(body, at);
                assert_eq!(line!(&mut sse2, body, at, classify_line64), (end, plain));
                // Each vector build this CPU has, whichever `line` took.
                #[cfg(target_arch = "x86_64")]
                for (has, build) in [
                    (
                        std::arch::is_x86_feature_detected!("avx2"),
                        line_avx2 as unsafe fn(&mut Marks, &[u8], usize) -> (usize, bool),
                    ),
                    (std::arch::is_x86_feature_detected!("avx512bw"), line_avx512),
                ] {
                    if has {
                        let mut v = Marks::empty();
                        // SAFETY: this CPU has the features `build` needs.
                        assert_eq!(unsafe { build(&mut v, body, at) }, (end, plain));
                        if plain {
                            assert_eq!((v.bits, v.len), (sse2.bits, sse2.len), "{body:?}");
                        }
                    }
                }
                let raw = &body[at..end];
                got.push(raw);
                let line = raw.strip_suffix(b"\r").unwrap_or(raw);
                let fresh = Marks::new(line);
                let want_plain = raw.len() < MAX_LEN
                    && line.is_ascii()
                    && fresh
                        .as_ref()
                        .is_some_and(|f| !f.control() && !f.backslash());
                assert_eq!(plain, want_plain, "{line:?}");
                if let (true, Some(f)) = (plain, fresh) {
                    assert_eq!((m.bits, m.len), (f.bits, f.len), "{line:?}");
                    assert_eq!((sse2.bits, sse2.len), (f.bits, f.len), "{line:?}");
                    assert!(!m.control() && !m.backslash());
                }
                at = end + 1;
            }
            assert_eq!(got, want);
        }
    }

    #[test]
    fn next_matches_a_byte_search() {
        let mut line = Vec::new();
        for n in [0usize, 1, 15, 16, 17, 63, 64, 65, 200, MAX_LEN] {
            for with_backslash in [false, true] {
                line.clear();
                for i in 0..n {
                    // A mix of classes at irregular places, and plain bytes.
                    line.push(b" \"]ab"[(i * 7 + i / 5) % 5]);
                }
                if with_backslash && n > 0 {
                    line[n * 2 / 3] = b'\\';
                }
                if n > 3 && n % 2 == 1 {
                    line[n / 3] = [b'\t', 0, 0x1f][n % 3];
                }
                if n > 5 && n % 5 == 0 {
                    line[n - 2] = [0x80, 0xff, 0xc3][n % 3];
                }
                let m = Marks::new(&line).unwrap();
                // The SSE2 build, whichever `new` took.
                let sse2 = build!(&line, classify64);
                assert_eq!(
                    (sse2.bits, sse2.backslash, sse2.control),
                    (m.bits, m.backslash, m.control)
                );
                assert_eq!(m.backslash(), line.contains(&b'\\'), "n {n}");
                assert_eq!(m.control(), line.iter().any(|&b| b < 0x20), "n {n}");
                for (c, byte) in [(Class::Space, b' '), (Class::Quote, b'"')] {
                    for from in 0..=n + 70 {
                        let want = line
                            .iter()
                            .skip(from)
                            .position(|b| *b == byte)
                            .map_or(n, |p| from + p);
                        assert_eq!(m.next(c, from), want, "n {n} from {from} byte {byte}");
                    }
                }
            }
        }
        assert!(Marks::new(&vec![b'a'; MAX_LEN + 1]).is_none());
    }
}
