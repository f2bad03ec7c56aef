//! Timestamp parsing and formatting. Everything inside authstorm is UTC
//! microseconds since the Unix epoch (`i64`); zones only matter on display.

use crate::error::SettingError;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

pub const MICROS_PER_SEC: i64 = 1_000_000;

/// Parses the timestamp shapes access logs use: CLF (`10/Oct/2000:13:55:36 -0700`,
/// brackets optional), RFC 3339 / ISO 8601 with or without fraction and zone
/// (no zone means UTC), `YYYY-MM-DD HH:MM:SS`, and epoch seconds or
/// milliseconds (with an optional fraction).
pub fn parse_timestamp(s: &str) -> Option<Micros> {
    let s = unbracket(s);
    let b = s.as_bytes();
    match shape(b)? {
        Shape::Clf => parse_clf(b),
        Shape::Iso => parse_iso(b),
        Shape::Epoch => parse_epoch(s),
    }
}

enum Shape {
    Clf,
    Iso,
    Epoch,
}

/// Which parser a timestamp (unbracketed) is for; `None`: no timestamp.
fn shape(b: &[u8]) -> Option<Shape> {
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    Some(if b.len() >= 11 && b[2] == b'/' {
        Shape::Clf
    } else if b.len() >= 19 && b[4] == b'-' {
        Shape::Iso
    } else {
        Shape::Epoch
    })
}

fn unbracket(s: &str) -> &str {
    // A timestamp as most lines hold it: nothing to cut.
    if let (Some(f), Some(l)) = (s.as_bytes().first(), s.as_bytes().last())
        && f.is_ascii_alphanumeric()
        && l.is_ascii_alphanumeric()
    {
        return s;
    }
    // Byte loops, not char-pattern searches: this runs once per line.
    let t = crate::text::trim(s);
    let b = t.as_bytes();
    let start = b.iter().take_while(|c| **c == b'[').count();
    let end = b.len() - b[start..].iter().rev().take_while(|c| **c == b']').count();
    // Both cuts are next to ASCII brackets: char boundaries.
    &t[start..end]
}

/// [`parse_timestamp`] for a stream of lines: the lines of one minute
/// share the date, hour and minute, so the last minute is kept and only the
/// seconds, fraction and zone of the next timestamp are read.
#[derive(Debug, Clone)]
pub struct TsCache {
    /// The bytes before the seconds of the last CLF/ISO timestamp parsed.
    prefix: [u8; CLF_SECONDS],
    len: usize,
    minute: Micros,
    /// The bytes after its seconds (fraction and zone; most logs write the
    /// same zone, and often the same fraction, on every line), and what
    /// they add to the time; `tail_len` is `usize::MAX` for none.
    tail: [u8; TAIL],
    tail_len: usize,
    tail_us: Micros,
}

/// The longest tail kept by [`TsCache`]: `.123456+05:30` and ` +0000` fit.
const TAIL: usize = 16;

impl Default for TsCache {
    fn default() -> Self {
        TsCache {
            prefix: [0; CLF_SECONDS],
            len: 0,
            minute: 0,
            tail: [0; TAIL],
            tail_len: usize::MAX,
            tail_us: 0,
        }
    }
}

impl TsCache {
    /// Same result as [`parse_timestamp`].
    pub fn parse(&mut self, s: &str) -> Option<Micros> {
        let b = unbracket(s).as_bytes();
        // The same minute as the last timestamp: its shape was read then
        // (`shape` looks only at bytes of the prefix). Compared at a
        // constant length: inline loads, not a `memcmp` call per line.
        let hit = match self.len {
            CLF_SECONDS => {
                b.len() >= CLF_SECONDS + 2 && crate::text::eq_bytes(&b[..CLF_SECONDS], &self.prefix)
            }
            ISO_SECONDS => {
                b.len() >= ISO_SECONDS + 2
                    && crate::text::eq_bytes(&b[..ISO_SECONDS], &self.prefix[..ISO_SECONDS])
            }
            _ => false,
        };
        if hit {
            let (s, tail) = (&b[self.len..self.len + 2], &b[self.len + 2..]);
            if tail.len() == self.tail_len && crate::text::eq_bytes(tail, &self.tail[..tail.len()])
            {
                return Some(self.minute + whole_seconds(s)? + self.tail_us);
            }
            return Some(self.minute + self.seconds(s, tail, self.len == ISO_SECONDS)?);
        }
        let (n, iso) = match shape(b)? {
            Shape::Clf => (CLF_SECONDS, false),
            Shape::Iso => (ISO_SECONDS, true),
            Shape::Epoch => return parse_timestamp(s),
        };
        // Two digits of seconds at least, as `parse_clf`/`parse_iso` require.
        if b.len() < n + 2 {
            return None;
        }
        let minute = if iso { iso_minute(b) } else { clf_minute(b) }?;
        self.prefix[..n].copy_from_slice(&b[..n]);
        self.len = n;
        self.minute = minute;
        // A tail read for the other shape may not mean the same here.
        self.tail_len = usize::MAX;
        Some(self.minute + self.seconds(&b[n..n + 2], &b[n + 2..], iso)?)
    }

    /// [`seconds`] of `s` and `tail`, keeping the tail and what it adds.
    fn seconds(&mut self, s: &[u8], tail: &[u8], iso: bool) -> Option<Micros> {
        let s = whole_seconds(s)?;
        let t = tail_micros(tail, iso)?;
        if tail.len() <= TAIL {
            self.tail[..tail.len()].copy_from_slice(tail);
            self.tail_len = tail.len();
            self.tail_us = t;
        }
        Some(s + t)
    }
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u32;
    }
    Some(n)
}

fn month(b: &[u8]) -> Option<u32> {
    const M: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    if b.len() != 3 {
        return None;
    }
    let l = [
        b[0].to_ascii_lowercase(),
        b[1].to_ascii_lowercase(),
        b[2].to_ascii_lowercase(),
    ];
    M.iter().position(|m| **m == l).map(|i| i as u32 + 1)
}

fn civil(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> Option<Micros> {
    // Leap second 60 is folded into 59 rather than rejected.
    if h > 23 || mi > 59 || s > 60 || micros > 999_999 || !(1..=12).contains(&mo) {
        return None;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, 28 + leap as u32, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d == 0 || d > month_days[mo as usize - 1] || !(-9999..=9999).contains(&y) {
        return None;
    }
    let days = days_from_civil(y as i64, mo as i64, d as i64);
    let secs = days * 86_400 + (h * 3600 + mi * 60 + s.min(59)) as i64;
    Some(secs * MICROS_PER_SEC + micros as i64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`): arithmetic only, no table or calendar object per line.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `10/Oct/2000:13:55:36 -0700`
fn parse_clf(b: &[u8]) -> Option<Micros> {
    if b.len() < 20 {
        return None;
    }
    Some(clf_minute(b)? + seconds(&b[CLF_SECONDS..], false)?)
}

/// Where the seconds start in a CLF and in an ISO timestamp: the bytes
/// before them are what the lines of one minute share.
const CLF_SECONDS: usize = 18;
const ISO_SECONDS: usize = 17;

/// The minute a CLF timestamp falls in (UTC before its zone is applied),
/// from the bytes before [`CLF_SECONDS`].
fn clf_minute(b: &[u8]) -> Option<Micros> {
    if b.len() < CLF_SECONDS || b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
        return None;
    }
    let d = num(&b[0..2])?;
    let mo = month(&b[3..6])?;
    let y = num(&b[7..11])? as i32;
    let h = num(&b[12..14])?;
    let mi = num(&b[15..17])?;
    civil(y, mo, d, h, mi, 0, 0)
}

/// `SS[.ffffff][ zone]` after the minute: what to add to it. A leap
/// second (60) folds into 59, as in [`civil`]. ISO also allows `,` before
/// the fraction.
fn seconds(b: &[u8], iso: bool) -> Option<Micros> {
    Some(whole_seconds(b.get(..2)?)? + tail_micros(&b[2..], iso)?)
}

/// The two digits of seconds, in microseconds.
#[inline]
fn whole_seconds(b: &[u8]) -> Option<Micros> {
    let s = num(b)?;
    if s > 60 {
        return None;
    }
    Some(s.min(59) as i64 * MICROS_PER_SEC)
}

/// What the fraction and zone after the seconds add to the time.
fn tail_micros(rest: &[u8], iso: bool) -> Option<Micros> {
    // Milliseconds in UTC, as JSON loggers write them: a tail that changes
    // on every line, so the cache of the last one does not help.
    if let [
        b'.',
        d @ (b'0'..=b'9'),
        e @ (b'0'..=b'9'),
        f @ (b'0'..=b'9'),
        b'Z' | b'z',
    ] = *rest
    {
        let ms = (d - b'0') as i64 * 100 + (e - b'0') as i64 * 10 + (f - b'0') as i64;
        return Some(ms * 1_000);
    }
    any_tail_micros(rest, iso)
}

/// [`tail_micros`] without its shortcut.
fn any_tail_micros(mut rest: &[u8], iso: bool) -> Option<Micros> {
    let mut frac = 0;
    if rest.first() == Some(&b'.') || (iso && rest.first() == Some(&b',')) {
        let (f, r) = fraction(&rest[1..]);
        frac = f;
        rest = r;
    }
    let off = zone(trim_start(rest))?;
    Some(frac as i64 - off)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| **c == b' ').count();
    &b[n..]
}

/// Parses `.123456` digits (already past the dot) into microseconds.
fn fraction(b: &[u8]) -> (u32, &[u8]) {
    // Scale of the digits read, by how many there were (up to 6).
    const SCALE: [u32; 7] = [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    let (mut n, mut micros) = (0, 0u32);
    while let Some(d) = b.get(n).filter(|d| d.is_ascii_digit()) {
        if n < 6 {
            micros = micros * 10 + (d - b'0') as u32;
        }
        n += 1;
    }
    (micros * SCALE[n.min(6)], &b[n..])
}

/// Zone suffix to an offset in microseconds east of UTC: empty / `Z` / `UTC`
/// mean UTC; `+hh:mm`, `+hhmm`, `+hh`.
fn zone(b: &[u8]) -> Option<i64> {
    match b {
        [] | [b'Z'] | [b'z'] | b"UTC" | b"GMT" => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (num(&[*h1, *h2])?, num(&[*m1, *m2])?),
                [h1, h2] => (num(&[*h1, *h2])?, 0),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h as i64 * 3600 + m as i64 * 60) * MICROS_PER_SEC;
            Some(if *sign == b'-' { -off } else { off })
        }
        _ => None,
    }
}

/// `2024-01-02T03:04:05.123+02:00`, `2024-01-02 03:04:05`, ...
fn parse_iso(b: &[u8]) -> Option<Micros> {
    Some(iso_minute(b)? + seconds(&b[ISO_SECONDS..], true)?)
}

/// The minute an ISO timestamp falls in, from the bytes before
/// [`ISO_SECONDS`].
fn iso_minute(b: &[u8]) -> Option<Micros> {
    if b.len() < ISO_SECONDS
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let y = num(&b[0..4])? as i32;
    let mo = num(&b[5..7])?;
    let d = num(&b[8..10])?;
    let h = num(&b[11..13])?;
    let mi = num(&b[14..16])?;
    civil(y, mo, d, h, mi, 0, 0)
}

/// Epoch seconds (10 digits) or milliseconds (13 digits), optional fraction.
fn parse_epoch(s: &str) -> Option<Micros> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() || !int.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: i64 = int.parse().ok()?;
    let (f, _) = fraction(frac.as_bytes());
    match int.len() {
        9 | 10 => Some(n * MICROS_PER_SEC + f as i64),
        12 | 13 => Some(n * 1000 + (f as i64) / 1000),
        15 | 16 => Some(n),
        _ => None,
    }
}

/// RFC 3339 in UTC with second precision (`2024-01-02T03:04:05Z`), the form
/// every machine-readable output uses.
pub fn rfc3339(t: Micros) -> String {
    match Utc.timestamp_micros(t).single() {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Secs, true),
        None => t.to_string(),
    }
}

/// As [`rfc3339`], with the fraction of a second when there is one
/// (milliseconds or microseconds).
pub fn rfc3339_exact(t: Micros) -> String {
    match Utc.timestamp_micros(t).single() {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => t.to_string(),
    }
}

/// A display zone: UTC (default), a fixed or named IANA zone via `--tz`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum DisplayTz {
    #[default]
    Utc,
    Named(chrono_tz::Tz),
}

impl DisplayTz {
    pub fn parse(s: &str) -> Result<Self, SettingError> {
        if s.eq_ignore_ascii_case("utc") || s == "Z" {
            return Ok(DisplayTz::Utc);
        }
        s.parse::<chrono_tz::Tz>()
            .map(DisplayTz::Named)
            .map_err(|_| SettingError::Unknown {
                what: "time zone",
                name: s.into(),
                expected: vec!["an IANA name like Europe/Berlin".into(), "UTC".into()],
            })
    }

    pub fn name(&self) -> String {
        match self {
            DisplayTz::Utc => "UTC".into(),
            DisplayTz::Named(tz) => tz.name().into(),
        }
    }

    /// Formats `t` with a chrono format string in this zone.
    pub fn format(&self, t: Micros, fmt: &str) -> String {
        let Some(utc) = DateTime::<Utc>::from_timestamp_micros(t) else {
            return t.to_string();
        };
        match self {
            DisplayTz::Utc => utc.format(fmt).to_string(),
            DisplayTz::Named(tz) => utc.with_timezone(tz).format(fmt).to_string(),
        }
    }
}

/// Parses a duration such as `1m`, `90s`, `1h30m` (humantime syntax).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, SettingError> {
    humantime::parse_duration(s.trim()).map_err(|reason| SettingError::Duration {
        input: s.into(),
        reason,
    })
}

/// Parses `--since`/`--until`: relative to `now` (`-2h`, `30m`: that long
/// before now) or an absolute timestamp in any supported shape.
pub fn parse_time_bound(s: &str, now: Micros) -> Result<Micros, SettingError> {
    let t = s.trim();
    if let Some(ts) = parse_timestamp(t) {
        return Ok(ts);
    }
    let rel = t.strip_prefix('-').unwrap_or(t);
    match parse_duration(rel) {
        Ok(d) => Ok(now - d.as_micros() as i64),
        Err(_) => Err(SettingError::value(format!(
            "invalid time {s:?}: expected RFC 3339 (2024-05-01T10:00:00Z), `YYYY-MM-DD HH:MM:SS`, epoch seconds, or a relative duration like -2h or 30m"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_gives_parse_timestamp() {
        let bases = [
            "02/Mar/2026:06:00:00 +0000",
            "[02/Mar/2026:06:00:00 -0700]",
            "02/Mar/2026:06:00:00.250 +01:00",
            "2026-03-02T06:00:00Z",
            "2026-03-02T06:00:00.123456+02:00",
            "2026-03-02 06:00:00,5",
            "1772431200",
            "1772431200123.5",
        ];
        let mut cache = TsCache::default();
        let mut n = 0;
        for base in bases {
            let b = base.as_bytes();
            // Every byte of every position replaced by a few others, in
            // one stream: hits, misses and bad input all go through the cache.
            for i in 0..b.len() {
                for c in [b'0', b'5', b'9', b'6', b':', b'/', b' ', b'x', b'.', b','] {
                    let mut v = b.to_vec();
                    v[i] = c;
                    let v = String::from_utf8(v).unwrap();
                    for s in [base, v.as_str(), &v[..i], base] {
                        assert_eq!(cache.parse(s), parse_timestamp(s), "{s:?}");
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 1000);
        // One tail, read for one shape and then met after the other's
        // prefix (`,` starts a fraction in ISO timestamps only), and tails
        // longer than the cache keeps.
        let mixed = [
            "2026-03-02T06:00:00,5Z",
            "02/Mar/2026:06:00:00.123456789012345 +0000",
            "02/Mar/2026:06:00:01,5Z",
            "02/Mar/2026:06:00:02 +0000",
            "02/Mar/2026:06:00:03,5Z",
            "02/Mar/2026:06:00:04.123456789012345 +0000",
            "02/Mar/2026:06:00:05 +0000",
            "02/Mar/2026:06:00:06 +0100",
            "2026-03-02T06:00:07,5Z",
            "2026-03-02T06:00:08,5Z",
        ];
        for s in mixed {
            assert_eq!(cache.parse(s), parse_timestamp(s), "{s:?}");
        }
    }

    fn utc(s: &str) -> Micros {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros()
    }

    #[test]
    fn civil_matches_chrono() {
        for y in [
            0, 1, 1600, 1899, 1900, 1970, 1999, 2000, 2023, 2024, 2100, 2400, 9999,
        ] {
            for mo in 1..=12 {
                for d in [0, 1, 15, 28, 29, 30, 31, 32] {
                    let want = chrono::NaiveDate::from_ymd_opt(y, mo, d)
                        .and_then(|dt| dt.and_hms_micro_opt(23, 59, 59, 999_999))
                        .map(|dt| dt.and_utc().timestamp_micros());
                    assert_eq!(civil(y, mo, d, 23, 59, 59, 999_999), want, "{y}-{mo}-{d}");
                }
            }
        }
        assert_eq!(civil(2024, 1, 1, 24, 0, 0, 0), None);
        assert_eq!(civil(2024, 13, 1, 0, 0, 0, 0), None);
        assert_eq!(
            civil(2016, 12, 31, 23, 59, 60, 0),
            civil(2016, 12, 31, 23, 59, 59, 0)
        );
    }

    #[test]
    fn clf() {
        assert_eq!(
            parse_timestamp("10/Oct/2000:13:55:36 -0700"),
            Some(utc("2000-10-10T20:55:36Z"))
        );
        assert_eq!(
            parse_timestamp("[22/Jan/2019:03:56:14 +0330]"),
            Some(utc("2019-01-22T00:26:14Z"))
        );
        assert_eq!(parse_timestamp("32/Oct/2000:13:55:36 -0700"), None);
        assert_eq!(parse_timestamp("10/Foo/2000:13:55:36 -0700"), None);
    }

    /// The millisecond shortcut reads what the general tail reading does.
    #[test]
    fn millisecond_tails_take_the_shortcut_unchanged() {
        for ms in 0..1000 {
            for zone in ["Z", "z"] {
                let tail = format!(".{ms:03}{zone}");
                for iso in [true, false] {
                    let fast = tail_micros(tail.as_bytes(), iso);
                    assert_eq!(fast, any_tail_micros(tail.as_bytes(), iso), "{tail}");
                    assert_eq!(fast, Some(ms * 1_000));
                }
            }
        }
        for tail in [
            ".12Z",
            ".1234Z",
            ".12xZ",
            ".123",
            ".123+01:00",
            ",123Z",
            ".123ZZ",
        ] {
            for iso in [true, false] {
                assert_eq!(
                    tail_micros(tail.as_bytes(), iso),
                    any_tail_micros(tail.as_bytes(), iso),
                    "{tail}"
                );
            }
        }
    }

    #[test]
    fn fractions_of_any_length() {
        for d in [
            "5",
            "25",
            "250",
            "2507",
            "25073",
            "250731",
            "2507319",
            "250731999",
        ] {
            let s = format!("2024-05-01T10:00:00.{d}Z");
            assert_eq!(parse_timestamp(&s), Some(utc(&s)), "{s}");
        }
        assert_eq!(
            parse_timestamp("2024-05-01T10:00:00.Z"),
            Some(utc("2024-05-01T10:00:00Z"))
        );
    }

    #[test]
    fn iso() {
        assert_eq!(
            parse_timestamp("2024-05-01T10:00:00Z"),
            Some(utc("2024-05-01T10:00:00Z"))
        );
        assert_eq!(
            parse_timestamp("2024-05-01T10:00:00.250+02:00"),
            Some(utc("2024-05-01T08:00:00.250Z"))
        );
        assert_eq!(
            parse_timestamp("2024-05-01 10:00:00"),
            Some(utc("2024-05-01T10:00:00Z"))
        );
        assert_eq!(
            parse_timestamp("2021-09-15T21:17:10.220731Z"),
            Some(utc("2021-09-15T21:17:10.220731Z"))
        );
        assert_eq!(parse_timestamp("2024-13-01T10:00:00Z"), None);
        assert_eq!(parse_timestamp("2024-05-01T10:00:00 bogus"), None);
    }

    #[test]
    fn epoch() {
        assert_eq!(parse_timestamp("1716723772"), Some(1_716_723_772_000_000));
        assert_eq!(
            parse_timestamp("1716723772.6014807"),
            Some(1_716_723_772_601_480)
        );
        assert_eq!(
            parse_timestamp("1716723772601"),
            Some(1_716_723_772_601_000)
        );
        assert_eq!(parse_timestamp("12"), None);
        assert_eq!(parse_timestamp("abc"), None);
    }

    #[test]
    fn bounds() {
        let now = utc("2024-05-01T12:00:00Z");
        assert_eq!(
            parse_time_bound("-2h", now).ok(),
            Some(utc("2024-05-01T10:00:00Z"))
        );
        assert_eq!(
            parse_time_bound("30m", now).ok(),
            Some(utc("2024-05-01T11:30:00Z"))
        );
        assert_eq!(
            parse_time_bound("2024-05-01T09:00:00Z", now).ok(),
            Some(utc("2024-05-01T09:00:00Z"))
        );
        assert!(parse_time_bound("yesterday-ish", now).is_err());
    }

    #[test]
    fn display() {
        let t = utc("2024-05-01T10:00:00Z");
        assert_eq!(rfc3339(t), "2024-05-01T10:00:00Z");
        let tz = DisplayTz::parse("Europe/Berlin").unwrap();
        assert_eq!(tz.format(t, "%H:%M"), "12:00");
        assert!(DisplayTz::parse("Mars/Base").is_err());
    }
}
