//! String helpers for the per-line hot path.

/// A line known to be ASCII, so that every byte offset up to its length is
/// a char boundary: ranges of it need no boundary check to be `str`s.
#[derive(Debug, Clone, Copy)]
pub struct Ascii<'a>(&'a str);

impl<'a> Ascii<'a> {
    /// `s`, when it is ASCII.
    pub fn new(s: &'a str) -> Option<Self> {
        s.is_ascii().then_some(Ascii(s))
    }

    /// `s`, known to be ASCII by a check the caller made (the scan's line
    /// finder looks at every byte anyway).
    ///
    /// # Safety
    /// `s` must be ASCII: [`Ascii`]'s users read ranges of it unchecked.
    #[inline(always)]
    pub unsafe fn new_unchecked(s: &'a str) -> Self {
        debug_assert!(s.is_ascii());
        Ascii(s)
    }

    #[inline(always)]
    pub fn as_str(self) -> &'a str {
        self.0
    }
}

/// `s.trim()`, with a fast path: most values start and end with a visible
/// ASCII byte and need no Unicode-aware scan. Same result as `str::trim`.
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// `a == b`, inline for the short strings the hot path compares (keys,
/// methods): overlapping words instead of a `memcmp` call.
#[inline]
pub fn eq(a: &str, b: &str) -> bool {
    eq_bytes(a.as_bytes(), b.as_bytes())
}

/// [`eq`] of bytes. Always inlined: a call costs as much as the compare
/// of a short key.
#[inline(always)]
pub fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        17..=24 => {
            word(a, 0) == word(b, 0) && word(a, 8) == word(b, 8) && word(a, n - 8) == word(b, n - 8)
        }
        _ => a == b,
    }
}

/// The first position at or after `at` holding `byte`, as `memchr` finds
/// it, looked for inline in the 32 bytes from `at` first: the end of a
/// short field (a timestamp's `]`) without a call and its setup.
#[inline]
pub fn find_near(hay: &[u8], at: usize, byte: u8) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(w) = hay.get(at..at + 32) {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86_64 baseline, and the two
        // unaligned loads read the 32 bytes of `w`.
        let m = unsafe {
            let c = _mm_set1_epi8(byte as i8);
            let lo = _mm_loadu_si128(w.as_ptr().cast());
            let hi = _mm_loadu_si128(w.as_ptr().add(16).cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(lo, c)) as u32 as u16 as u32
                | (_mm_movemask_epi8(_mm_cmpeq_epi8(hi, c)) as u32) << 16
        };
        if m != 0 {
            return Some(at + m.trailing_zeros() as usize);
        }
    }
    memchr::memchr(byte, hay.get(at..)?).map(|i| at + i)
}

#[cfg(test)]
mod tests {
    #[test]
    fn eq_is_str_eq() {
        let words = [
            "",
            "a",
            "b",
            "ab",
            "abc",
            "abd",
            "user",
            "usex",
            "xser",
            "usr",
            "device",
            "devicf",
            "eevice",
            "abcdefg",
            "abcdefh",
            "bbcdefg",
            "abcdefgh",
            "abcdefgi",
            "bbcdefgh",
            "request_time",
            "request_timf",
            "sequest_time",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "abcdefghijklmnopq",
            "abcdefghijklmnopr",
            "02/Mar/2026:06:00:",
            "02/Mar/2026:06:01:",
            "02/Mar/2026:06:00;",
            "12/Mar/2026:06:00:",
            "02/Mar/2026:06:00:00 +0000",
            "02/Mar/2026:06:00:00 +0001",
            "é",
            "e",
        ];
        for a in words {
            for b in words {
                assert_eq!(super::eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn find_near_is_memchr() {
        let hay: Vec<u8> = (0..100u8)
            .map(|i| if i % 37 == 5 { b']' } else { b'a' + i % 26 })
            .collect();
        for at in 0..=hay.len() + 1 {
            let want = hay
                .get(at..)
                .and_then(|h| memchr::memchr(b']', h))
                .map(|i| at + i);
            assert_eq!(super::find_near(&hay, at, b']'), want, "at {at}");
        }
    }

    #[test]
    fn trim_is_str_trim() {
        for s in [
            "",
            " ",
            "-",
            "a",
            " a",
            "a ",
            "\u{a0}x\u{2003}",
            "x\u{2003}",
            "\t200\r",
            "é",
            "ü ",
        ] {
            assert_eq!(super::trim(s), s.trim(), "{s:?}");
        }
    }
}
