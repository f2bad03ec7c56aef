//! A line's field values by position, for the direct path: a combined
//! line's fixed slots and trailing fields, or a JSON line's top-level
//! values, as byte ranges of the line. A line of the shape its log repeats
//! goes from here straight to its fields (`event::Plans`), with
//! no record in between.

/// Positions held; the last one is never set, so any position from there
/// up reads as none.
pub const POSITIONS: usize = 32;

pub struct Positions<'a> {
    line: &'a str,
    /// Ranges ending at or below this are within the line on char
    /// boundaries: the line's length when it is ASCII (every offset is a
    /// boundary), else 0 (every read is checked).
    unchecked_to: usize,
    /// Each position's start and end, the start never past the end (a
    /// reversed range is stored empty).
    at: [(u32, u32); POSITIONS],
    /// Bit `p`: position `p` has a value. Never set from `POSITIONS - 1` up.
    present: u64,
}

impl<'a> Positions<'a> {
    /// No values yet.
    #[inline(always)]
    pub fn empty(line: &'a str) -> Self {
        Positions {
            line,
            unchecked_to: 0,
            at: [(0, 0); POSITIONS],
            present: 0,
        }
    }

    /// No values yet, of an ASCII line (reads are cheaper).
    #[inline(always)]
    pub fn ascii(line: crate::text::Ascii<'a>) -> Self {
        Positions {
            unchecked_to: line.as_str().len(),
            ..Positions::empty(line.as_str())
        }
    }

    pub fn line(&self) -> &'a str {
        self.line
    }

    /// Sets position `p` to bytes `start..end` of the line (char boundaries;
    /// a range past the line or off them reads as none, a reversed one as
    /// empty); false when `p` is past the last
    /// position.
    #[inline(always)]
    pub fn set(&mut self, p: usize, start: usize, end: usize) -> bool {
        if p >= POSITIONS - 1 {
            return false;
        }
        self.put(p, start, end);
        true
    }

    /// [`Positions::set`] of a position known to be below the last (a
    /// position past it panics).
    #[inline(always)]
    pub fn put(&mut self, p: usize, start: usize, end: usize) {
        assert!(p < POSITIONS - 1);
        let (start, end) = (start as u32, end as u32);
        self.at[p] = (start.min(end), end);
        self.present |= 1 << p;
    }

    /// The text at position `p`.
    #[inline(always)]
    pub fn get(&self, p: u8) -> Option<&'a str> {
        let p = p as usize;
        if p >= POSITIONS - 1 || self.present & (1 << p) == 0 {
            return None;
        }
        let (start, end) = self.at[p];
        let (start, end) = (start as usize, end as usize);
        // `set` and `put` take any range; one that is not within the line
        // on char boundaries reads as none. Callers cut at ASCII
        // delimiters, so the checks never fail: on an ASCII line only the
        // end is compared, other lines take `str::get`'s checks.
        if end <= self.unchecked_to {
            // SAFETY: `start <= end` (`put`), and `end <= unchecked_to`, which is the length of an
            // ASCII line, where every offset is a char boundary
            // (`Positions::ascii`), and 0 for any other line, where only
            // `0..0` passes.
            Some(unsafe { self.line.get_unchecked(start..end) })
        } else {
            self.line.get(start..end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_range_is_safe_and_only_char_boundaries_read() {
        let line = "ab é cd";
        let mut p = Positions::empty(line);
        assert!(p.set(0, 0, 2));
        p.put(1, 4, 5); // inside the two bytes of 'é'
        p.put(2, 5, 99); // past the end
        p.put(3, 5, 3); // reversed: empty
        p.put(5, 9, 4); // reversed, empty inside 'é'
        p.put(6, 7, 7); // empty
        assert!(!p.set(POSITIONS - 1, 0, 1));
        assert_eq!(p.get(0), Some("ab"));
        assert_eq!(p.get(1), None);
        assert_eq!(p.get(2), None);
        assert_eq!(p.get(3), Some(""));
        assert_eq!(p.get(4), None);
        assert_eq!(p.get(5), None);
        assert_eq!(p.get(6), Some(""));
        for q in [POSITIONS as u8 - 1, 40, 63, 64, 255] {
            assert_eq!(p.get(q), None, "{q}");
        }
    }

    #[test]
    fn ascii_lines_read_the_same_with_range_checks_only() {
        let line = "GET /v1/me 401";
        assert!(crate::text::Ascii::new("café").is_none());
        let mut p = Positions::ascii(crate::text::Ascii::new(line).unwrap());
        p.put(0, 0, 3);
        p.put(1, 4, 10);
        p.put(2, 11, 99);
        p.put(3, 5, 2);
        assert_eq!(p.get(0), Some("GET"));
        assert_eq!(p.get(1), Some("/v1/me"));
        assert_eq!(p.get(2), None);
        assert_eq!(p.get(3), Some(""));
    }

    proptest::proptest! {
        /// Whatever ranges a caller sets, a read is the line's own slice
        /// (`str::get`, a reversed range taken as empty at its end), on
        /// ASCII and other lines alike.
        #[test]
        fn reads_agree_with_str_get(
            line in "[a-z é€/\"]{0,24}",
            ranges in proptest::collection::vec((0usize..40, 0usize..40), 0..(POSITIONS + 2)),
        ) {
            let mut p = match crate::text::Ascii::new(&line) {
                Some(a) => Positions::ascii(a),
                None => Positions::empty(&line),
            };
            for (i, &(s, e)) in ranges.iter().enumerate() {
                proptest::prop_assert_eq!(p.set(i, s, e), i < POSITIONS - 1);
            }
            for (i, &(s, e)) in ranges.iter().enumerate() {
                let want = if i < POSITIONS - 1 { line.get(s.min(e)..e) } else { None };
                proptest::prop_assert_eq!(p.get(i as u8), want);
            }
        }
    }
}
