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
    at: [(u32, u32); POSITIONS],
    /// Bit `p`: position `p` has a value. Bits 32 to 63 are never set, so
    /// any position from 32 up (modulo 64) reads as none.
    present: u64,
}

impl<'a> Positions<'a> {
    /// No values yet.
    #[inline(always)]
    pub fn empty(line: &'a str) -> Self {
        Positions {
            line,
            at: [(0, 0); POSITIONS],
            present: 0,
        }
    }

    pub fn line(&self) -> &'a str {
        self.line
    }

    /// Sets position `p` to bytes `start..end` of the line, where both are
    /// char boundaries; false when `p` is past the last position.
    #[inline(always)]
    pub fn set(&mut self, p: usize, start: usize, end: usize) -> bool {
        if p >= POSITIONS - 1 {
            return false;
        }
        debug_assert!(self.line.get(start..end).is_some());
        self.at[p] = (start as u32, end as u32);
        self.present |= 1 << p;
        true
    }

    /// [`Positions::set`] of a position known to be below the last.
    #[inline(always)]
    pub fn put(&mut self, p: usize, start: usize, end: usize) {
        debug_assert!(p < POSITIONS - 1 && self.line.get(start..end).is_some());
        self.at[p] = (start as u32, end as u32);
        self.present |= 1 << p;
    }

    /// The text at position `p`.
    #[inline(always)]
    pub fn get(&self, p: u8) -> Option<&'a str> {
        if self.present & (1 << (p & 63)) == 0 {
            return None;
        }
        let (start, end) = self.at[p as usize];
        // SAFETY: `set` takes only char boundaries within the line (its
        // callers cut at ASCII delimiters or the line's ends).
        Some(unsafe { self.line.get_unchecked(start as usize..end as usize) })
    }
}
