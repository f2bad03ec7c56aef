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
    /// The line is ASCII: a range within it needs no boundary check.
    ascii: bool,
    at: [(u32, u32); POSITIONS],
    /// Bit `p`: position `p` has a value.
    present: u64,
}

impl<'a> Positions<'a> {
    /// No values yet.
    #[inline(always)]
    pub fn empty(line: &'a str) -> Self {
        Positions {
            line,
            ascii: false,
            at: [(0, 0); POSITIONS],
            present: 0,
        }
    }

    /// No values yet, of an ASCII line (reads are cheaper).
    #[inline(always)]
    pub fn ascii(line: crate::text::Ascii<'a>) -> Self {
        Positions {
            ascii: true,
            ..Positions::empty(line.as_str())
        }
    }

    pub fn line(&self) -> &'a str {
        self.line
    }

    /// Sets position `p` to bytes `start..end` of the line (char boundaries;
    /// any other range reads as none); false when `p` is past the last
    /// position.
    #[inline(always)]
    pub fn set(&mut self, p: usize, start: usize, end: usize) -> bool {
        if p >= POSITIONS - 1 {
            return false;
        }
        self.at[p] = (start as u32, end as u32);
        self.present |= 1 << p;
        true
    }

    /// [`Positions::set`] of a position known to be below the last (a
    /// position past it panics).
    #[inline(always)]
    pub fn put(&mut self, p: usize, start: usize, end: usize) {
        debug_assert!(p < POSITIONS - 1);
        self.at[p] = (start as u32, end as u32);
        self.present |= 1 << p;
    }

    /// The text at position `p`.
    #[inline(always)]
    pub fn get(&self, p: u8) -> Option<&'a str> {
        let (start, end) = *self.at.get(p as usize)?;
        if self.present & (1 << p) == 0 {
            return None;
        }
        let (start, end) = (start as usize, end as usize);
        // `set` and `put` take any range; one that is not within the line
        // on char boundaries reads as none. Callers cut at ASCII
        // delimiters, so the checks never fail, and on an ASCII line every
        // offset is a boundary: only the range itself is checked there.
        if self.ascii {
            if start <= end && end <= self.line.len() {
                // SAFETY: within the line (checked just above), and every
                // offset of an ASCII line is a char boundary (`Ascii`).
                Some(unsafe { self.line.get_unchecked(start..end) })
            } else {
                None
            }
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
        p.put(3, 5, 3); // reversed
        assert!(!p.set(POSITIONS - 1, 0, 1));
        assert_eq!(p.get(0), Some("ab"));
        assert_eq!(p.get(1), None);
        assert_eq!(p.get(2), None);
        assert_eq!(p.get(3), None);
        assert_eq!(p.get(4), None);
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
        assert_eq!(p.get(3), None);
    }
}
