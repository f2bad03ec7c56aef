//! String helpers for the per-line hot path.

/// `s.trim()`, with a fast path: most values start and end with a visible
/// ASCII byte and need no Unicode-aware scan. Same result as `str::trim`.
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

#[cfg(test)]
mod tests {
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
