//! Apache/nginx common and combined formats, with nginx-style trailing
//! extras after the user agent: `key=value`, `key="quoted value"` and
//! unkeyed quoted fields (addressed as `extra_1`, `extra_2`, ...).

mod diagnose;

use std::borrow::Cow;

use super::SkipReason;
use super::marks::{Class, Marks};
use super::positions::{POSITIONS, Positions};
use crate::format::record::{Key, Record, SlotNames};
pub use diagnose::diagnose;

/// nginx's and Apache's `combined`: common plus referer and user agent
/// (and nginx-style trailing extras).
pub static COMBINED: super::FormatDef = super::FormatDef {
    name: "combined",
    title: "nginx / Apache combined (with nginx-style trailing extras)",
    detection: "`host ident user [time] \"request\" status bytes \"referer\" \"agent\"`; \
                most lines have the user agent",
    example: r#"203.0.113.9 - - [02/Mar/2026:08:00:01 +0000] "POST /oauth/token HTTP/1.1" 401 43 "-" "acme-desktop/4.2.1 (Windows NT 10.0)" request_time=0.004"#,
    sources: &[],
    stateful: false,
    sniff: |lines, _| sniff_clf(lines, true),
    parser: |_| Ok(super::LineParser::Clf),
};

/// The common log format (NCSA): no referer, no user agent.
pub static COMMON: super::FormatDef = super::FormatDef {
    name: "common",
    title: "NCSA common log format (Apache `common`)",
    detection: "`host ident user [time] \"request\" status bytes`; most lines end there",
    example: r#"203.0.113.9 - frank [02/Mar/2026:08:00:01 +0000] "GET /v1/me HTTP/1.1" 401 43"#,
    sources: &[],
    stateful: false,
    sniff: |lines, _| sniff_clf(lines, false),
    parser: |_| Ok(super::LineParser::Clf),
};

/// The lines of `lines` that parse, when most of them have a user agent
/// (`combined`) or most do not; else 0.
fn sniff_clf(lines: &[&str], combined: bool) -> usize {
    let parsed: Vec<_> = lines.iter().filter_map(|l| parse(l).ok()).collect();
    let with_agent = parsed.iter().filter(|r| r.has_slot(USER_AGENT)).count();
    if (with_agent * 2 >= parsed.len()) == combined {
        parsed.len()
    } else {
        0
    }
}

/// A parsed line: byte ranges into it, turned into strings only when asked
/// for (most fields of most lines are never read).
pub struct ClfRecord<'a> {
    line: &'a str,
    /// The fixed fields, by [`SLOTS`] index. The request's method, target
    /// and protocol (5–7), the referer and the user agent may be absent;
    /// the others are always there.
    slots: [Option<Span>; SLOTS.len()],
    /// Bit `i`: slot `i` is a quoted string with escapes;
    /// [`EXTRA_ESCAPED`]: some trailing field is.
    escaped: u16,
    /// Trailing fields in line order: key (none for an unkeyed field),
    /// value, and whether the value has escapes. Inline up to a typical
    /// nginx line's count: no allocation per line.
    extras: smallvec::SmallVec<[(Option<Span>, Span, bool); 6]>,
    /// Whether the trailing keys are exactly the hint's (see
    /// [`parse_hinted`]).
    hinted: bool,
    /// The hint's address, so a record is never taken for having the keys
    /// of another hint.
    hint: usize,
}

/// A byte range of the line (lines are far below 4 GiB: longer ones are
/// rejected before parsing).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    #[inline]
    fn of(self, line: &str) -> &str {
        &line[self.start as usize..self.end as usize]
    }
}

/// [`SLOTS`] indexes of the request line and of the user agent (whose
/// presence tells combined from common).
const REQUEST: usize = 4;
pub const USER_AGENT: usize = 11;
/// Bit of `ClfRecord::escaped` set when a trailing field has escapes (the
/// bits below it are the fixed slots').
const EXTRA_ESCAPED: u16 = 1 << 15;

impl<'a> ClfRecord<'a> {
    /// A record of `line` with no fields yet, for [`parse_into`].
    pub fn empty(line: &'a str) -> Self {
        ClfRecord {
            line,
            slots: [None; SLOTS.len()],
            escaped: 0,
            extras: Default::default(),
            hinted: false,
            hint: 0,
        }
    }

    /// Whether the line's trailing keys are, in order, the keys of
    /// `hint`, the hint it was parsed with ([`parse_hinted`]).
    #[inline]
    pub fn matches_hint(&self, hint: &[Option<Box<str>>]) -> bool {
        self.hinted && self.hint == hint.as_ptr() as usize
    }

    /// The value of fixed slot `i`, unescaped.
    #[inline(always)]
    pub fn slot(&self, i: usize) -> Option<Cow<'a, str>> {
        if self.escaped != 0 {
            return self.slot_escaped(i);
        }
        self.slot_text(i).map(Cow::Borrowed)
    }

    #[cold]
    fn slot_escaped(&self, i: usize) -> Option<Cow<'a, str>> {
        if self.escaped & (1 << REQUEST) != 0 && (REQUEST + 1..=REQUEST + 3).contains(&i) {
            // The parts of an escaped request line come from its unescaped text.
            let request = self.slot(REQUEST)?;
            let (m, p, v) = request_parts(&request);
            return [m, p, v][i - REQUEST - 1].map(|s| Cow::Owned(s.to_string()));
        }
        let raw = self.slots.get(i).copied().flatten()?.of(self.line);
        Some(if self.escaped & (1 << i) != 0 {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        })
    }

    /// Whether some field of the line has escapes (its value is not the
    /// line's text as it stands).
    #[inline]
    pub fn has_escapes(&self) -> bool {
        self.escaped != 0
    }

    /// The text of fixed slot `i` as it stands on the line: its value when
    /// the line has no escapes.
    #[inline(always)]
    pub fn slot_text(&self, i: usize) -> Option<&'a str> {
        Some(self.slots.get(i).copied().flatten()?.of(self.line))
    }

    /// The text of trailing field `j`'s value as it stands on the line.
    #[inline(always)]
    pub fn extra_text(&self, j: usize) -> &'a str {
        self.extras[j].1.of(self.line)
    }

    /// Whether fixed slot `i` has a value.
    pub fn has_slot(&self, i: usize) -> bool {
        if self.escaped & (1 << REQUEST) != 0 && (REQUEST + 1..=REQUEST + 3).contains(&i) {
            return self.slot(i).is_some();
        }
        self.slots.get(i).is_some_and(Option::is_some)
    }

    /// Number of trailing fields.
    pub fn extras_len(&self) -> usize {
        self.extras.len()
    }

    /// Key of trailing field `j` (none for an unkeyed field).
    pub fn extra_key(&self, j: usize) -> Option<&'a str> {
        self.extras[j].0.map(|k| k.of(self.line))
    }

    /// Value of trailing field `j`, unescaped.
    #[inline(always)]
    pub fn extra_value(&self, j: usize) -> Cow<'a, str> {
        let (_, v, escaped) = self.extras[j];
        let raw = v.of(self.line);
        if escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        }
    }
}

/// Method, target and protocol of a request line.
fn request_parts(r: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let b = r.as_bytes();
    // The method: upper-case letters up to the first space. A request line
    // that is not `METHOD target [PROTO]` (scanners send raw TLS bytes)
    // has no method or path.
    let m = b
        .iter()
        .position(|c| !c.is_ascii_uppercase())
        .unwrap_or(b.len());
    if m == 0 || b.get(m).is_some_and(|c| *c != b' ') {
        return (None, None, None);
    }
    let method = &r[..m];
    if m == b.len() {
        return (Some(method), None, None);
    }
    let rest = &r[m + 1..];
    match memchr::memchr(b' ', rest.as_bytes()) {
        Some(p) => (Some(method), Some(&rest[..p]), Some(&rest[p + 1..])),
        None => (Some(method), Some(rest), None),
    }
}

/// The fixed slots of a combined line and the names each answers to, in
/// the order [`ClfRecord::visit`] offers them.
pub const SLOTS: SlotNames = &[
    &["remote_addr", "client_ip"],
    &["remote_user"],
    &["ident"],
    &["time_local", "time", "timestamp"],
    &["request"],
    &["method", "request_method"],
    &["path", "uri", "request_uri"],
    &["protocol", "server_protocol"],
    &["status"],
    &["body_bytes_sent", "bytes"],
    &["http_referer", "referer"],
    &["http_user_agent", "user_agent"],
];

impl Record for ClfRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        for j in 0..self.extras.len() {
            if let Some(k) = self.extra_key(j) {
                f(Key::Name(k), self.extra_value(j));
            }
        }
        for i in 0..SLOTS.len() {
            if let Some(v) = self.slot(i) {
                f(Key::Slot(i), v);
            }
        }
        let unnamed = (0..self.extras.len()).filter(|&j| self.extras[j].0.is_none());
        for (n, j) in unnamed.enumerate() {
            f(Key::Extra(n + 1), self.extra_value(j));
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        if let Some(j) = (0..self.extras.len()).find(|&j| self.extra_key(j) == Some(key)) {
            return Some(self.extra_value(j));
        }
        if let Some(i) = SLOTS.iter().position(|names| names.contains(&key)) {
            return self.slot(i);
        }
        let n: usize = key.strip_prefix("extra_")?.parse().ok()?;
        let j = (0..self.extras.len())
            .filter(|&j| self.extras[j].0.is_none())
            .nth(n.checked_sub(1)?)?;
        Some(self.extra_value(j))
    }
}

/// A position in a line being tokenized.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn skip_spaces(&mut self) {
        while self.b.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// A bare token up to the next space.
    fn token(&mut self) -> Option<Span> {
        self.skip_spaces();
        let start = self.i;
        let rest = &self.b[start..];
        // Tokens are short (an address, `-`, a status): a plain loop beats
        // the setup of a vectorized search.
        let n = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
        self.i += n;
        (n > 0).then(|| Span::new(start, start + n))
    }

    /// `[...]`
    fn bracketed(&mut self) -> Option<Span> {
        self.skip_spaces();
        if self.peek() != Some(b'[') {
            return None;
        }
        let start = self.i + 1;
        let n = memchr::memchr(b']', &self.b[start..])?;
        self.i = start + n + 1;
        Some(Span::new(start, start + n))
    }

    /// `"..."` with `\"` and `\\` escapes, and whether it has any. An
    /// unterminated string at the end of the line takes the rest of it
    /// (truncated lines are common and GoAccess accepts them too).
    fn quoted(&mut self) -> Option<(Span, bool)> {
        self.skip_spaces();
        if self.peek() != Some(b'"') {
            return None;
        }
        self.i += 1;
        let start = self.i;
        let bytes = self.b;
        let mut escaped = false;
        let mut j = start;
        // `"-"` and `""` (an empty referer or field) are the most common
        // strings of all: no search for them.
        match bytes.get(start..start + 2) {
            Some([b'"', ..]) | Some([b'-', b'"']) => {
                let end = start + (bytes[start] == b'-') as usize;
                self.i = end + 1;
                return Some((Span::new(start, end), false));
            }
            _ => {}
        }
        loop {
            match memchr::memchr2(b'"', b'\\', bytes.get(j..).unwrap_or_default()) {
                None => {
                    j = bytes.len();
                    break;
                }
                Some(k) if bytes[j + k] == b'"' => {
                    j += k;
                    break;
                }
                Some(k) => {
                    escaped = true;
                    j += k + 2;
                }
            }
        }
        let end = j.min(bytes.len());
        self.i = (end + 1).min(bytes.len());
        Some((Span::new(start, end), escaped))
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a line into a [`ClfRecord`]: the fixed [`SLOTS`], then the
/// trailing extras, keyed (`key=value`, `key="value"`) or not.
pub fn parse(line: &str) -> Result<ClfRecord<'_>, SkipReason> {
    let mut rec = ClfRecord::empty(line);
    parse_into(&mut rec)?;
    Ok(rec)
}

/// [`parse`] into a record made by the caller: the scan's path, which
/// fills one record in place rather than move a few hundred bytes for
/// every line.
pub fn parse_into(rec: &mut ClfRecord<'_>) -> Result<(), SkipReason> {
    parse_hinted(rec, None)
}

/// [`parse_into`], told the trailing keys the line most likely has (those
/// of the last line, in a log where they repeat): a key found where the
/// hint expects it is taken without reading it byte by byte, and
/// [`ClfRecord::matches_hint`] then says whether all were the hint's, so
/// the caller knows the line's key sequence without comparing it again.
/// `hint` keys must be keys this tokenizer made (runs of key bytes).
// Not inlined into the scan loop: there it costs more than the call.
#[inline(never)]
pub fn parse_hinted(
    rec: &mut ClfRecord<'_>,
    hint: Option<&[Option<Box<str>>]>,
) -> Result<(), SkipReason> {
    if parse_marked(rec, hint) {
        return Ok(());
    }
    *rec = ClfRecord::empty(rec.line);
    parse_bytewise(rec)
}

/// Where [`tokenize_marked`] puts the fields it finds: a [`ClfRecord`],
/// or the flat [`Positions`] of [`tokenize_direct`]. One tokenizer for
/// both, so both read every line alike.
trait Sink {
    fn slot(&mut self, i: usize, sp: Span);
    /// Trailing field number `j` (from 0); `None` stops the tokenizer.
    fn extra(&mut self, j: usize, key: Option<Span>, v: Span) -> Option<()>;
}

impl Sink for ClfRecord<'_> {
    #[inline(always)]
    fn slot(&mut self, i: usize, sp: Span) {
        self.slots[i] = Some(sp);
    }

    #[inline(always)]
    fn extra(&mut self, _: usize, key: Option<Span>, v: Span) -> Option<()> {
        self.extras.push((key, v, false));
        Some(())
    }
}

/// The common shape of a line, tokenized with [`Marks`]: fields one space
/// apart, no backslash, at most [`super::marks::MAX_LEN`] bytes. Returns false,
/// with `rec` partly filled, for anything else (including lines that are
/// not valid), which [`parse_bytewise`] then takes; where it returns
/// true, the record is the one `parse_bytewise` makes (checked by a unit
/// test and the `parsers` fuzz target).
fn parse_marked(rec: &mut ClfRecord<'_>, hint: Option<&[Option<Box<str>>]>) -> bool {
    let Some(m) = Marks::new(rec.line.as_bytes()) else {
        return false;
    };
    let Some(hinted) = tokenize_marked(rec.line, &m, hint, rec) else {
        return false;
    };
    rec.hinted = hinted;
    rec.hint = hint.unwrap_or_default().as_ptr() as usize;
    true
}

/// The marked tokenizer of [`parse_marked`], into `out`. Returns whether
/// every trailing key was the one `hint` expects at its place (not yet
/// whether the line has as many as the hint).
#[inline(always)]
fn tokenize_marked<S: Sink>(
    line: &str,
    m: &Marks,
    hint: Option<&[Option<Box<str>>]>,
    out: &mut S,
) -> Option<bool> {
    let b = line.as_bytes();
    let n = b.len();
    if m.backslash() {
        return None;
    }
    // `Fields`' steps are inlined methods, not closures: a closure's
    // (span, next) result goes back through the stack, and reading it right
    // after the call stalls the tokenizer (the load spans two smaller
    // stores).
    let f = Fields { b, m, n };
    let mut i = 0;
    for slot in [0, 2, 1] {
        let (sp, next) = f.token(i)?;
        out.slot(slot, sp);
        i = next;
    }
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let close = crate::text::find_near(b, i + 1, b']')?;
    out.slot(3, Span::new(i + 1, close));
    i = f.sep(close + 1)?;
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let (request, next) = f.quoted(i)?;
    i = next;
    out.slot(REQUEST, request);
    let (start, end) = (request.start as usize, request.end as usize);
    // Method (upper-case letters up to a space), target, protocol:
    // as `request_parts`, with the space found by the marks.
    let k = b[start..end]
        .iter()
        .position(|c| !c.is_ascii_uppercase())
        .unwrap_or(end - start);
    if k > 0 && (start + k == end || b[start + k] == b' ') {
        out.slot(5, Span::new(start, start + k));
        if start + k < end {
            let r = start + k + 1;
            let p = m.next(Class::Space, r);
            if p < end {
                out.slot(6, Span::new(r, p));
                out.slot(7, Span::new(p + 1, end));
            } else {
                out.slot(6, Span::new(r, end));
            }
        }
    }
    let (status, next) = f.token(i)?;
    i = next;
    if !matches!(&b[status.start as usize..status.end as usize], [a, b, c] if [a, b, c].iter().all(|d| d.is_ascii_digit()))
    {
        return None;
    }
    let (bytes, next) = f.token(i)?;
    i = next;
    let t = &b[bytes.start as usize..bytes.end as usize];
    if t != b"-" && !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    out.slot(8, status);
    out.slot(9, bytes);
    for slot in [10, USER_AGENT] {
        if b.get(i) != Some(&b'"') {
            break;
        }
        let (v, next) = f.quoted(i)?;
        out.slot(slot, v);
        i = next;
    }
    let mut hinted = hint.is_some();
    let hint = hint.unwrap_or_default();
    let mut j = 0;
    while i < n {
        let expected = hint.get(j);
        if b[i] == b'"' {
            let (v, next) = f.quoted(i)?;
            hinted &= matches!(expected, Some(None));
            out.extra(j, None, v)?;
            j += 1;
            i = next;
            continue;
        }
        // The key the hint expects, followed by `=`, is the run of key
        // bytes the scan below would find (`=` ends a run).
        let (k, as_hinted) = match expected.and_then(Option::as_deref) {
            Some(e)
                if b.get(i + e.len()) == Some(&b'=')
                    && crate::text::eq_bytes(&b[i..i + e.len()], e.as_bytes()) =>
            {
                (e.len(), true)
            }
            _ => {
                let k = b[i..]
                    .iter()
                    .position(|c| !is_key_byte(*c))
                    .unwrap_or(n - i);
                (k, false)
            }
        };
        if k > 0 && b.get(i + k) == Some(&b'=') {
            hinted &= as_hinted;
            let key = Span::new(i, i + k);
            let v0 = i + k + 1;
            let (v, next) = match b.get(v0) {
                None => (Span::new(n, n), n),
                Some(b'"') => f.quoted(v0)?,
                // `key= next`: left to the byte-wise tokenizer, whose
                // reading of it (the next token as the value) stands.
                Some(b' ') => return None,
                Some(_) => f.token(v0)?,
            };
            out.extra(j, Some(key), v)?;
            i = next;
        } else {
            let (v, next) = f.token(i)?;
            hinted &= matches!(expected, Some(None));
            out.extra(j, None, v)?;
            i = next;
        }
        j += 1;
    }
    Some(hinted && j == hint.len())
}

/// Field boundaries of a marked line, for [`tokenize_marked`].
#[derive(Clone, Copy)]
struct Fields<'a> {
    b: &'a [u8],
    m: &'a Marks,
    n: usize,
}

impl Fields<'_> {
    /// After a field ending at `e`: the end of the line, or one space and
    /// the next field.
    #[inline(always)]
    fn sep(self, e: usize) -> Option<usize> {
        match self.b.get(e..e + 2) {
            None if e >= self.n => Some(self.n),
            Some([b' ', c]) if *c != b' ' => Some(e + 1),
            _ => None,
        }
    }

    /// A bare token starting at `i` (not a space), and where the next
    /// field starts.
    #[inline(always)]
    fn token(self, i: usize) -> Option<(Span, usize)> {
        let (b, n) = (self.b, self.n);
        if i >= n || b[i] == b' ' {
            return None;
        }
        let e = self.m.next(Class::Space, i);
        // `sep(e)`, knowing `e` is the end of the line or a space.
        let next = match b.get(e + 1) {
            _ if e >= n => n,
            Some(c) if *c != b' ' => e + 1,
            _ => return None,
        };
        Some((Span::new(i, e), next))
    }

    /// A quoted string starting at `i` (a quote), and where the next field
    /// starts. Unterminated, it takes the rest of the line.
    #[inline(always)]
    fn quoted(self, i: usize) -> Option<(Span, usize)> {
        let e = self.m.next(Class::Quote, i + 1);
        Some((Span::new(i + 1, e), self.sep(e + 1)?))
    }
}

/// Trailing fields go to [`Positions`] after the fixed slots: field `j` at
/// `SLOTS.len() + j`.
impl Sink for Positions<'_> {
    #[inline(always)]
    fn slot(&mut self, i: usize, sp: Span) {
        const { assert!(SLOTS.len() < POSITIONS - 1) };
        self.put(i, sp.start as usize, sp.end as usize);
    }

    #[inline(always)]
    fn extra(&mut self, j: usize, _: Option<Span>, v: Span) -> Option<()> {
        self.set(SLOTS.len() + j, v.start as usize, v.end as usize)
            .then_some(())
    }
}

/// The fields of `out`'s line, when its trailing keys are exactly `keys`
/// (the keys of the lines before it, in a log where they repeat), by
/// position: what [`parse_hinted`] finds, without building a record.
/// False for any other line, including one the marked tokenizer leaves
/// (escapes, odd spacing), which the caller then parses the general way.
/// `marks` are the line's, when the caller has built them already.
#[inline(never)]
pub fn tokenize_direct(
    out: &mut Positions<'_>,
    keys: &[Option<Box<str>>],
    marks: Option<&Marks>,
) -> bool {
    let line = out.line();
    let built;
    let m = match marks {
        Some(m) => m,
        None => match Marks::new(line.as_bytes()) {
            Some(m) => {
                built = m;
                &built
            }
            None => return false,
        },
    };
    debug_assert_eq!(m.line_len(), line.len());
    tokenize_marked(line, m, Some(keys), out) == Some(true)
}

/// Whether the two tokenizers agree on `line`: [`parse_marked`] either
/// leaves it or makes the record [`parse_bytewise`] makes. For tests and
/// the `parsers` fuzz target; returns which one took the line too.
#[doc(hidden)]
pub fn tokenizers_agree(line: &str, hint: Option<&[Option<Box<str>>]>) -> (bool, bool) {
    let mut fast = ClfRecord::empty(line);
    let marked = parse_marked(&mut fast, hint);
    let mut slow = ClfRecord::empty(line);
    let ok = parse_bytewise(&mut slow).is_ok();
    let keys: Vec<Option<Box<str>>> = (0..slow.extras_len())
        .map(|j| slow.extra_key(j).map(Box::from))
        .collect();
    let same = !marked
        || (ok
            && fast.slots == slow.slots
            && fast.escaped == slow.escaped
            && fast.extras[..] == slow.extras[..]
            && fast.hinted == (hint == Some(&keys[..])));
    (same, marked)
}

/// The byte-at-a-time tokenizer: any line, including those
/// [`parse_marked`] leaves.
fn parse_bytewise(rec: &mut ClfRecord<'_>) -> Result<(), SkipReason> {
    let bad = SkipReason::Unparsable;
    let line = rec.line;
    if line.len() > u32::MAX as usize {
        return Err(SkipReason::TooLong);
    }
    let b = line.as_bytes();
    let mut c = Cursor { b, i: 0 };
    rec.slots[0] = Some(c.token().ok_or(bad)?);
    rec.slots[2] = Some(c.token().ok_or(bad)?);
    rec.slots[1] = Some(c.token().ok_or(bad)?);
    rec.slots[3] = Some(c.bracketed().ok_or(bad)?);
    let (request, escaped) = c.quoted().ok_or(bad)?;
    let status = c.token().ok_or(bad)?;
    let text = |sp: Span| &b[sp.start as usize..sp.end as usize];
    if !matches!(text(status), [a, b, c] if [a, b, c].iter().all(|d| d.is_ascii_digit())) {
        return Err(bad);
    }
    let bytes = c.token().ok_or(bad)?;
    if text(bytes) != b"-" && !text(bytes).iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    rec.slots[REQUEST] = Some(request);
    if escaped {
        rec.escaped |= 1 << REQUEST;
    } else {
        let r = request.of(line);
        let (m, p, v) = request_parts(r);
        // The parts are sub-slices of the request: their offsets in the line.
        let at = |part: &str| {
            let s = request.start as usize + (part.as_ptr() as usize - r.as_ptr() as usize);
            Span::new(s, s + part.len())
        };
        rec.slots[5] = m.map(at);
        rec.slots[6] = p.map(at);
        rec.slots[7] = v.map(at);
    }
    rec.slots[8] = Some(status);
    rec.slots[9] = Some(bytes);
    c.skip_spaces();
    if c.peek() == Some(b'"') {
        for slot in [10, USER_AGENT] {
            c.skip_spaces();
            if c.peek() != Some(b'"') {
                break;
            }
            let (v, esc) = c.quoted().ok_or(bad)?;
            rec.slots[slot] = Some(v);
            rec.escaped |= (esc as u16) << slot;
        }
    }
    loop {
        c.skip_spaces();
        if c.at_end() {
            break;
        }
        if c.peek() == Some(b'"') {
            let (v, esc) = c.quoted().ok_or(bad)?;
            rec.extras.push((None, v, esc));
            rec.escaped |= if esc { EXTRA_ESCAPED } else { 0 };
            continue;
        }
        let start = c.i;
        let rest = &b[start..];
        // The key's length: key bytes up to `=` (anything else: no key).
        let k = rest
            .iter()
            .position(|b| !is_key_byte(*b))
            .unwrap_or(rest.len());
        match rest.get(k) {
            Some(b'=') if k > 0 => {
                let key = Span::new(start, start + k);
                c.i = start + k + 1;
                let (v, esc) = if c.peek() == Some(b'"') {
                    c.quoted().ok_or(bad)?
                } else {
                    (c.token().unwrap_or(Span::new(c.i, c.i)), false)
                };
                rec.extras.push((Some(key), v, esc));
                rec.escaped |= if esc { EXTRA_ESCAPED } else { 0 };
            }
            _ => {
                let v = c.token().ok_or(bad)?;
                rec.extras.push((None, v, false));
            }
        }
    }
    Ok(())
}

pub(crate) fn is_key_byte(b: u8) -> bool {
    // A table lookup: this runs on every byte of every key of every line.
    const KEY: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            t[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'@');
            b += 1;
        }
        t
    };
    KEY[b as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_with_extras() {
        let l = r#"10.0.0.1 - - [01/May/2024:10:00:00 +0000] "POST /oauth/token HTTP/1.1" 401 53 "-" "acme-desktop/4.2.1 (Windows NT 10.0)" request_time=0.012 user=u-4821 device=d-99c1 auth_error="token expired" "1.2.3.4""#;
        let r = parse(l).unwrap();
        assert_eq!(r.get("method").as_deref(), Some("POST"));
        assert_eq!(r.get("path").as_deref(), Some("/oauth/token"));
        assert_eq!(r.get("status").as_deref(), Some("401"));
        assert_eq!(
            r.get("http_user_agent").as_deref(),
            Some("acme-desktop/4.2.1 (Windows NT 10.0)")
        );
        assert_eq!(r.get("request_time").as_deref(), Some("0.012"));
        assert_eq!(
            r.get("user").as_deref(),
            Some("u-4821"),
            "extras win over remote_user"
        );
        assert_eq!(r.get("auth_error").as_deref(), Some("token expired"));
        assert_eq!(r.get("extra_1").as_deref(), Some("1.2.3.4"));
        assert_eq!(r.get("extra_2"), None);
        assert_eq!(r.get("extra_0"), None);
    }

    #[test]
    fn marked_tokenizer_agrees_with_bytewise() {
        let base = r#"10.0.0.1 - - [01/May/2024:10:00:00 +0000] "POST /oauth/token HTTP/1.1" 401 53 "-" "acme-desktop/4.2.1 (Windows NT 10.0)" request_time=0.012 user=u-4821 device=d-99c1 auth_error="token expired" "1.2.3.4""#;
        let mut lines: Vec<String> = vec![
            base.into(),
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#.into(),
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (compatible; Googlebot/2.1"#.into(),
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "" 400 0 "" """#.into(),
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET" 200 - "-" "-" k= "#.into(),
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a b c" 200 - "-" "ua" k= v=1 =x é=1 kë=2 "q" bare"#.into(),
            r#"1.1.1.1 - - [x]y "G /" 200 1"#.into(),
            r#"1.1.1.1 - - [10/Oct/2000 "GET /" 200 1"#.into(),
            format!("{base} {}", "x".repeat(600)),
        ];
        // Every prefix and every one-byte change of the base line: double
        // and trailing spaces, lost quotes and brackets, escapes.
        let b = base.as_bytes();
        for i in 0..b.len() {
            lines.push(base[..i].into());
            for c in [b' ', b'"', b'\\', b'[', b']', b'=', b'a', b'\t'] {
                let mut v = b.to_vec();
                v[i] = c;
                lines.push(String::from_utf8(v).unwrap());
            }
        }
        // With no hint, the base line's keys, and hints that are near
        // misses (a key longer, shorter, missing, or unkeyed).
        let keys = |k: &[Option<&str>]| -> Vec<Option<Box<str>>> {
            k.iter().map(|k| k.map(Box::from)).collect()
        };
        let right = keys(&[
            Some("request_time"),
            Some("user"),
            Some("device"),
            Some("auth_error"),
            None,
        ]);
        let hints = [
            right.clone(),
            right[..4].to_vec(),
            keys(&[
                Some("request_tim"),
                Some("user"),
                Some("device"),
                Some("auth_error"),
                None,
            ]),
            keys(&[
                Some("request_time"),
                Some("users"),
                Some("device"),
                Some("auth_error"),
                None,
            ]),
            keys(&[
                Some("request_time"),
                None,
                Some("device"),
                Some("auth_error"),
                None,
            ]),
            Vec::new(),
        ];
        let mut taken = 0;
        for l in &lines {
            let (same, marked) = tokenizers_agree(l, None);
            assert!(same, "{l:?}");
            taken += marked as usize;
            for h in &hints {
                assert!(tokenizers_agree(l, Some(h)).0, "{l:?} hint {h:?}");
            }
        }
        // The fast path is the common one, not a path never taken.
        assert!(tokenizers_agree(base, None).1);
        let mut rec = ClfRecord::empty(base);
        parse_hinted(&mut rec, Some(&right)).unwrap();
        assert!(rec.matches_hint(&right));
        assert!(!rec.matches_hint(&hints[4]), "another hint");
        let mut rec = ClfRecord::empty(base);
        parse_hinted(&mut rec, Some(&right[..4])).unwrap();
        assert!(!rec.matches_hint(&right[..4]));
        assert!(taken > lines.len() / 2, "{taken} of {}", lines.len());
    }

    #[test]
    fn request_line_parts() {
        for line in [
            "GET /a HTTP/1.1",
            "GET /a",
            "GET",
            "GET  /a",
            "GET /a b c",
            "",
            "get /",
            " /",
            "GEt /a",
            "GET\t/a",
            "É /a",
            "G-ET /a",
            "POST",
            "PUT ",
        ] {
            let mut p = line.splitn(3, ' ');
            let m = p
                .next()
                .filter(|m| !m.is_empty() && m.bytes().all(|c| c.is_ascii_uppercase()));
            let want = match m {
                Some(m) => (Some(m), p.next(), p.next()),
                None => (None, None, None),
            };
            assert_eq!(request_parts(line), want, "{line:?}");
        }
    }

    #[test]
    fn common_and_escapes() {
        let r = parse(r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#).unwrap();
        assert!(r.slot(USER_AGENT).is_none());
        assert_eq!(r.get("remote_user").as_deref(), Some("frank"));
        let r = parse(r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 - "-" "say \"hi\" \\ bye""#).unwrap();
        assert_eq!(r.slot(USER_AGENT).as_deref(), Some(r#"say "hi" \ bye"#));
    }

    #[test]
    fn lenient_and_rejects() {
        // Unterminated user agent (a real truncated line) still parses.
        let r = parse(r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (compatible; Googlebot/2.1"#).unwrap();
        assert_eq!(
            r.slot(USER_AGENT).as_deref(),
            Some("Mozilla/5.0 (compatible; Googlebot/2.1")
        );
        // Garbage request line: parsed, but no method or path.
        let r = parse(r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01" 400 0 "-" "-""#)
            .unwrap();
        assert_eq!(r.get("method"), None);
        for bad in [
            "",
            "hello",
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /" 2000 5"#,
            r#"1.1.1.1 - - 10/Oct/2000 "GET /" 200 5"#,
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /" 200 abc"#,
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
