//! JSON lines. Fields are addressed by key or dotted path (`http.status`);
//! arrays yield their first element (Caddy writes headers as arrays).

use std::borrow::Cow;

use serde::Deserialize;

use super::SkipReason;
use super::marks::{Class, Marks};
use super::positions::Positions;
use crate::format::record::{Key, Record};

/// A JSON line whose format reads some values its own way (a proxy's
/// redacted credential, a status 0 that means none): the pairs as parsed,
/// each offered through `value`, which may rewrite or drop it.
pub struct Reread<'a> {
    pub json: JsonRecord<'a>,
    pub value: for<'s> fn(&str, &'s str) -> Option<Cow<'s, str>>,
}

impl Record for Reread<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        for j in 0..self.json.len() {
            let k = self.json.key(j);
            if let Some(v) = (self.value)(k, self.json.value(j)) {
                f(Key::Name(k), v);
            }
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        // The first pair of that key, as `visit` offers it first.
        let j = (0..self.json.len()).find(|&j| self.json.key(j) == key)?;
        (self.value)(key, self.json.value(j))
    }
}

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "json",
    title: "JSON lines (any keys: nginx `escape=json`, ECS, Cloudflare, app logs)",
    detection: "each line is a JSON object",
    example: r#"{"time":"2026-03-02T08:00:01Z","client_ip":"203.0.113.9","method":"GET","path":"/v1/me","status":401,"user_agent":"AcmeVoice-Mobile/6.9.8","auth_error":"token_expired","duration_ms":3.1}"#,
    sources: &[],
    stateful: false,
    sniff: |lines, _| super::count_read(lines, |l| parse(l).is_ok()),
    parser: |_| Ok(super::LineParser::Json),
};

/// A JSON object flattened to `(dotted path, scalar text)` pairs. Strings
/// without escapes and numbers borrow from the line: no tree is built.
/// A level's own keys come before nested ones, so a literal `"a.b"` key
/// shadows `{"a":{"b":..}}`.
#[derive(Default)]
pub struct JsonRecord<'a> {
    pairs: Pairs<'a>,
    /// Whether the pairs' keys are exactly the hint's, and the hint's
    /// address (see [`parse_hinted`]).
    hinted: bool,
    hint: usize,
}

/// A key or string value with escapes: unescaped by `serde_json` (a
/// rare, cold path), which also rejects what JSON does not allow (a lone
/// surrogate).
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[cold]
fn unescape(quoted: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Text>(quoted).ok().map(|t| t.0)
}

/// Objects nested deeper than this are not flattened (the line is
/// unparsable): no log nests that far, and it bounds the recursion.
const MAX_DEPTH: usize = 128;

/// A validating one-pass scanner over a JSON text. It accepts what
/// `serde_json` accepts (objects nested past [`MAX_DEPTH`] aside; checked
/// by the `reference` tests and the `parsers` fuzz target) and takes each
/// scalar's text where it is: deserializing member by member, as
/// [`reference`] does, costs more than twice as much per line.
struct Scanner<'a, 'h> {
    t: &'a str,
    i: usize,
    /// Keys the top level's pairs most likely have, in order, and whether
    /// every pair so far had them.
    hint: &'h [Option<Box<str>>],
    hinted: bool,
}

/// Bytes that end a run of plain string content: quote, backslash and
/// the control characters JSON forbids in strings.
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether `key` has no [`STOP`] byte: taken as it stands between quotes,
/// it is the whole string and its own text (see [`parse_hinted`]).
pub fn plain_key(key: &str) -> bool {
    !key.bytes().any(|c| STOP[c as usize])
}

/// Where the first [`STOP`] byte of `b` is: sixteen bytes at a time with
/// SSE2 (every x86-64 CPU has it), the rest eight at a time.
#[inline]
fn plain_run(b: &[u8]) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use std::arch::x86_64::*;
        let mut i = 0;
        while let Some(block) = b.get(i..i + 16) {
            // SAFETY: SSE2 is enabled (the cfg above: every x86-64 target
            // has it), and `block` holds the 16 bytes loaded (unaligned).
            let hits = unsafe {
                let x = _mm_loadu_si128(block.as_ptr().cast());
                // Below 0x20 unsigned: the byte is its own minimum with 0x1f.
                let ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
                let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
                let bs = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
                _mm_movemask_epi8(_mm_or_si128(ctl, _mm_or_si128(quote, bs)))
            };
            if hits != 0 {
                return Some(i + hits.trailing_zeros() as usize);
            }
            i += 16;
        }
        swar_run(&b[i..]).map(|k| i + k)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    swar_run(b)
}

/// [`plain_run`] eight bytes at a time: a byte below 0x20, a quote or a
/// backslash sets the top bit of its lane (the borrow trick of Mycroft's
/// zero-byte test, as `serde_json` does; false hits only land above a
/// true one, so the lowest is exact).
#[inline]
fn swar_run(b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    let lane = |x: u64, c: u8| {
        let y = x ^ (ONES * c as u64);
        y.wrapping_sub(ONES) & !y
    };
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let hits = (x.wrapping_sub(ONES * 0x20) & !x) | lane(x, b'"') | lane(x, b'\\');
        let hits = hits & (ONES << 7);
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..].iter().position(|&c| STOP[c as usize]).map(|k| i + k)
}

/// Inline up to a typical log line's count of fields: no allocation (and
/// no free) per line.
type Pairs<'a> = smallvec::SmallVec<[(Cow<'a, str>, Cow<'a, str>); 16]>;

/// The end of the number that starts at `i`, as JSON's grammar has it
/// (no leading zeros, digits after a point and in an exponent). Index by
/// index, with no iterator or `Option` per byte: three numbers of a JSON
/// line cost ~200 instructions the other way.
#[inline(always)]
fn number_end(b: &[u8], mut i: usize) -> Option<usize> {
    let digit = |i: usize| i < b.len() && b[i].is_ascii_digit();
    let digits = |mut i: usize| {
        while digit(i) {
            i += 1;
        }
        i
    };
    if i < b.len() && b[i] == b'-' {
        i += 1;
    }
    match b.get(i)? {
        b'0' if digit(i + 1) => return None,
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(i + 1),
        _ => return None,
    }
    if i < b.len() && b[i] == b'.' {
        if !digit(i + 1) {
            return None;
        }
        i = digits(i + 1);
    }
    if i < b.len() && (b[i] | 0x20) == b'e' {
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        if !digit(i) {
            return None;
        }
        i = digits(i);
    }
    Some(i)
}

impl<'a> Scanner<'a, '_> {
    fn peek(&self) -> Option<u8> {
        self.t.as_bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string at its opening quote: the text between the quotes (past
    /// its closing one) and whether it has escapes.
    fn string(&mut self) -> Option<(&'a str, bool)> {
        let b = self.t.as_bytes();
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i += plain_run(&b[self.i..])?;
            match b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some((&self.t[start..self.i - 1], escaped));
                }
                b'\\' => {
                    escaped = true;
                    match *b.get(self.i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            let hex = b.get(self.i + 2..self.i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None, // a control character
            }
        }
    }

    /// A key: its text, unescaped.
    fn key(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        let (k, escaped) = self.string()?;
        if escaped {
            unescape(&self.t[start..self.i])
        } else {
            Some(Cow::Borrowed(k))
        }
    }

    /// A number, as JSON's grammar has it ([`number_end`]).
    #[inline]
    fn number(&mut self) -> Option<()> {
        self.i = number_end(self.t.as_bytes(), self.i)?;
        Some(())
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.i + word.len();
        (self.t.as_bytes().get(self.i..end)? == word.as_bytes()).then(|| self.i = end)
    }

    /// Any value, checked and passed over without recursion (arrays and
    /// objects keep a stack of the brackets open).
    fn skip(&mut self) -> Option<()> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            self.ws();
            // A value.
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'n' => self.literal("null")?,
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'-' | b'0'..=b'9' => self.number()?,
                c @ (b'[' | b'{') => {
                    self.i += 1;
                    self.ws();
                    let close = if c == b'[' { b']' } else { b'}' };
                    if self.eat(close).is_none() {
                        open.push(c);
                        if c == b'{' {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                _ => return None,
            }
            // After a value: the next one, or the end of enclosing ones.
            loop {
                let Some(&c) = open.last() else {
                    return Some(());
                };
                self.ws();
                if self.eat(b',').is_some() {
                    if c == b'{' {
                        self.ws();
                        self.member_key()?;
                    }
                    break;
                }
                self.eat(if c == b'[' { b']' } else { b'}' })?;
                open.pop();
            }
        }
    }

    /// At the top level, the key the hint expects for pair `j`, when it is
    /// the next string as it stands (quoted, nothing to unescape): taken
    /// without scanning it. The hint's keys are checked to be plain when
    /// their shape is made (`event::Plans::json_hint`).
    #[inline]
    fn hinted_key(&mut self, top: bool, j: usize) -> Option<&'a str> {
        let e = self.hint.get(j)?.as_deref()?.as_bytes();
        let b = self.t.as_bytes();
        let at = self.i + 1;
        let ok = top
            && b.get(self.i) == Some(&b'"')
            && b.get(at + e.len()) == Some(&b'"')
            && crate::text::eq_bytes(&b[at..at + e.len()], e);
        if !ok {
            return None;
        }
        self.i = at + e.len() + 1;
        // Between two quotes of the line, with no quote, backslash or
        // control byte inside: a whole string.
        Some(&self.t[at..at + e.len()])
    }

    /// `"key" :` inside an object being skipped.
    fn member_key(&mut self) -> Option<()> {
        self.string()?;
        self.ws();
        self.eat(b':')
    }

    /// The text of a scalar value (the first element's, for an array);
    /// `None` for null, objects and empty arrays. Leaves the scanner past
    /// the value.
    fn scalar(&mut self) -> Option<Option<Cow<'a, str>>> {
        let start = self.i;
        Some(match self.peek()? {
            b'"' => {
                let (s, escaped) = self.string()?;
                match escaped {
                    false => Some(Cow::Borrowed(s)),
                    // An escape that does not make text (a lone surrogate)
                    // leaves the field out, as if it were null.
                    true => unescape(&self.t[start..self.i]),
                }
            }
            b'[' => {
                self.skip()?;
                // The first element, through the arrays it opens (a loop:
                // arrays nest as deep as a line is long).
                let mut first = Scanner {
                    t: self.t,
                    i: start,
                    hint: &[],
                    hinted: false,
                };
                while first.eat(b'[').is_some() {
                    first.ws();
                }
                match first.peek()? {
                    b']' | b'{' | b'n' => None,
                    _ => first.scalar()?.map(|c| Cow::Owned(c.into_owned())),
                }
            }
            b'n' => {
                self.literal("null")?;
                None
            }
            _ => {
                self.skip()?;
                Some(Cow::Borrowed(&self.t[start..self.i]))
            }
        })
    }

    /// The whole text as one object whose pairs' keys are the hint's
    /// (plain), in order, each value a string without escapes, a number or a
    /// boolean (null members, which make no pair, aside): each value's
    /// range (offset by `at`) into `out` by pair number. Keys are compared
    /// where they stand and values scanned once, with no marks built:
    /// every byte of the text is checked on the way, so it takes what
    /// [`Scanner::object`] takes with these keys, and leaves the rest
    /// (escapes, nested objects, arrays, other keys).
    #[inline]
    fn top_direct(&mut self, at: usize, out: &mut Positions<'a>) -> Option<()> {
        let (b, keys) = (self.t.as_bytes(), self.hint);
        let n = b.len();
        // 0 past the end: no byte this scan looks for.
        let byte = |i: usize| if i < n { b[i] } else { 0 };
        // Most lines are compact: one test for "no space here".
        let ws = |mut i: usize| {
            if byte(i) > b' ' {
                return i;
            }
            while matches!(byte(i), b' ' | b'\n' | b'\t' | b'\r') {
                i += 1;
            }
            i
        };
        // The end of the plain string whose opening quote is at `i`.
        let string_end = |i: usize| {
            let e = i + 1 + plain_run(b.get(i + 1..)?)?;
            (b[e] == b'"').then_some(e)
        };
        let mut i = ws(self.i);
        if byte(i) != b'{' {
            return None;
        }
        i = ws(i + 1);
        let mut j = 0;
        // Members, unless the object is empty.
        let mut more = byte(i) != b'}';
        while more {
            if byte(i) != b'"' {
                return None;
            }
            let expected = keys.get(j).and_then(|k| k.as_deref()).map(str::as_bytes);
            let (e, as_hinted) = match expected {
                Some(key)
                    if byte(i + 1 + key.len()) == b'"'
                        && crate::text::eq_bytes(&b[i + 1..i + 1 + key.len()], key) =>
                {
                    (i + 1 + key.len(), true)
                }
                // Another key is taken only for a null value (no pair).
                _ => (string_end(i)?, false),
            };
            i = ws(e + 1);
            if byte(i) != b':' {
                return None;
            }
            i = ws(i + 1);
            let value = match byte(i) {
                b'"' => {
                    let e = string_end(i)?;
                    let s = std::mem::replace(&mut i, e + 1);
                    Some((s + 1, e))
                }
                b'-' | b'0'..=b'9' => {
                    let e = number_end(b, i)?;
                    Some((std::mem::replace(&mut i, e), e))
                }
                c @ (b't' | b'f' | b'n') => {
                    self.i = i;
                    match c {
                        b't' => self.literal("true")?,
                        b'f' => self.literal("false")?,
                        _ => self.literal("null")?,
                    }
                    let s = std::mem::replace(&mut i, self.i);
                    (c != b'n').then_some((s, i))
                }
                _ => return None,
            };
            if let Some((s, e)) = value {
                if !as_hinted {
                    return None;
                }
                out.set(j, at + s, at + e).then_some(())?;
                j += 1;
            }
            i = ws(i);
            match byte(i) {
                b',' => i = ws(i + 1),
                b'}' => more = false,
                _ => return None,
            }
        }
        self.i = ws(i + 1);
        (j == keys.len() && self.i == n).then_some(())
    }

    /// Reads the rest of the text as one object by [`Scanner::top_marked`],
    /// when the text's marks allow it; whether it did.
    #[inline]
    fn whole_marked(&mut self, out: &mut Pairs<'a>) -> bool {
        Marks::new(self.t.as_bytes())
            .filter(|m| !m.backslash() && !m.control())
            .and_then(|m| self.top_marked(&m, out))
            .is_some_and(|()| {
                self.ws();
                self.i == self.t.len()
            })
    }

    /// Reads the rest of the text as one object by [`Scanner::object`];
    /// whether it is one.
    #[inline]
    fn whole_object(&mut self, out: &mut Pairs<'a>) -> bool {
        self.object(None, 1, out).is_some() && {
            self.ws();
            self.i == self.t.len()
        }
    }

    /// [`Scanner::object`] for the top-level object, when its text has
    /// neither a backslash nor a control byte, as its marks `m` say: every
    /// top-level string then runs from a quote to the next, found in the
    /// marks instead of scanned. Nested objects are read by `object`.
    /// `None` for any other text (invalid ones included), which `object`
    /// then reads afresh. A loop of its own rather than marks used inside
    /// `string`: within `object`'s loop the marks save about a tenth of what
    /// they save here (2% of a JSON line's instructions against 20%).
    fn top_marked(&mut self, m: &Marks, out: &mut Pairs<'a>) -> Option<()> {
        let t = self.t;
        // The string whose opening quote is at `i`, and where it ends.
        let string = |i: usize| -> Option<(&'a str, usize)> {
            let e = m.next(Class::Quote, i + 1);
            (e < t.len()).then(|| (&t[i + 1..e], e + 1))
        };
        self.eat(b'{')?;
        self.ws();
        let mut nested = Vec::new();
        if self.eat(b'}').is_none() {
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                let (k, next) = string(self.i)?;
                self.i = next;
                self.ws();
                self.eat(b':')?;
                self.ws();
                let start = self.i;
                let v = match self.peek()? {
                    b'"' => {
                        let (v, next) = string(self.i)?;
                        self.i = next;
                        Some(Cow::Borrowed(v))
                    }
                    b'-' | b'0'..=b'9' => {
                        self.number()?;
                        Some(Cow::Borrowed(&t[start..self.i]))
                    }
                    b'{' => {
                        // Its pairs come after this level's, not as hinted.
                        self.hinted = false;
                        nested.push((k, start));
                        self.skip()?;
                        None
                    }
                    _ => self.scalar()?,
                };
                if let Some(v) = v {
                    let expected = self.hint.get(out.len()).and_then(Option::as_deref);
                    self.hinted &= expected.is_some_and(|h| crate::text::eq(h, k));
                    out.push((Cow::Borrowed(k), v));
                }
                self.ws();
                if self.eat(b',').is_none() {
                    self.eat(b'}')?;
                    break;
                }
                self.ws();
            }
        }
        let end = self.i;
        if !nested.is_empty() {
            for (k, at) in nested {
                self.i = at;
                self.object(Some(k), 2, out)?;
            }
        }
        self.i = end;
        Some(())
    }

    /// The members of the object at `self.i` (its `{`), flattened into
    /// `out` under `prefix`: this level's scalars first, then each nested
    /// object's, in order, so a literal `"a.b"` key shadows `{"a":{"b":..}}`.
    fn object(&mut self, prefix: Option<&str>, depth: usize, out: &mut Pairs<'a>) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let path = |k: Cow<'a, str>| match prefix {
            Some(p) => Cow::Owned(format!("{p}.{k}")),
            None => k,
        };
        self.eat(b'{')?;
        self.ws();
        let mut nested = Vec::new();
        if self.eat(b'}').is_none() {
            loop {
                self.ws();
                let (k, as_hinted) = match self.hinted_key(prefix.is_none(), out.len()) {
                    Some(k) => (Cow::Borrowed(k), true),
                    None => (self.key()?, false),
                };
                self.ws();
                self.eat(b':')?;
                self.ws();
                if self.peek()? == b'{' {
                    // Its pairs come after this level's, not as hinted.
                    self.hinted = false;
                    nested.push((k, self.i));
                    self.skip()?;
                } else if let Some(v) = self.scalar()? {
                    self.hinted &= as_hinted;
                    out.push((path(k), v));
                }
                self.ws();
                if self.eat(b',').is_none() {
                    self.eat(b'}')?;
                    break;
                }
            }
        }
        let end = self.i;
        for (k, at) in nested {
            self.i = at;
            let p = path(k);
            self.object(Some(&p), depth + 1, out)?;
        }
        self.i = end;
        Some(())
    }
}

pub fn parse(line: &str) -> Result<JsonRecord<'_>, SkipReason> {
    parse_hinted(line, None)
}

/// [`parse`], told the keys the line's pairs most likely have (those of
/// the last line, in a log where they repeat): a key found where the hint
/// expects it is not scanned, and [`JsonRecord::matches_hint`] then says
/// whether all pairs had the hint's keys, so the caller knows the line's
/// key sequence without comparing it again. `hint` keys must be plain
/// ([`plain_key`]).
pub fn parse_hinted<'a>(
    line: &'a str,
    hint: Option<&[Option<Box<str>>]>,
) -> Result<JsonRecord<'a>, SkipReason> {
    let mut rec = JsonRecord::default();
    parse_into(line, hint, &mut rec)?;
    Ok(rec)
}

/// [`parse_hinted`] into the empty `rec`, which the caller keeps in
/// place: a record holds its pairs inline (~800 bytes), and one returned
/// by value is copied twice per line.
#[inline]
pub fn parse_into<'a>(
    line: &'a str,
    hint: Option<&[Option<Box<str>>]>,
    rec: &mut JsonRecord<'a>,
) -> Result<(), SkipReason> {
    let t = strip_prefix(line)?;
    let mut s = Scanner {
        t,
        i: 0,
        hint: hint.unwrap_or_default(),
        hinted: hint.is_some(),
    };
    let pairs = &mut rec.pairs;
    s.ws();
    let at = s.i;
    if !s.whole_marked(pairs) {
        pairs.clear();
        s.i = at;
        s.hinted = hint.is_some();
        if !s.whole_object(pairs) {
            return Err(SkipReason::Unparsable);
        }
    }
    rec.hinted = s.hinted && rec.pairs.len() == s.hint.len();
    rec.hint = s.hint.as_ptr() as usize;
    Ok(())
}

/// The values of `out`'s line (still empty), when its pairs' keys are
/// exactly `keys` (those of the lines before it), by pair number: what
/// [`parse_hinted`] finds, without building a record. False for any other
/// line, including one [`Scanner::top_direct`] leaves (escapes, nested
/// objects, arrays), which the caller then parses the general way. `keys`
/// must be plain ([`plain_key`]).
#[inline(never)]
pub fn scan_direct(out: &mut Positions<'_>, keys: &[Option<Box<str>>]) -> bool {
    let line = out.line();
    // Positions are 32-bit.
    let Some(t) = strip_prefix(line)
        .ok()
        .filter(|_| line.len() <= u32::MAX as usize)
    else {
        return false;
    };
    let mut s = Scanner {
        t,
        i: 0,
        hint: keys,
        hinted: true,
    };
    let at = t.as_ptr() as usize - line.as_ptr() as usize;
    s.top_direct(at, out).is_some()
}

/// Whether [`Scanner::top_marked`] either leaves `line` or makes the
/// pairs and hint the full scanner makes, and whether it took the line.
/// For tests and the `parsers` fuzz target.
#[doc(hidden)]
pub fn scanners_agree(line: &str, hint: Option<&[Option<Box<str>>]>) -> (bool, bool) {
    let Ok(t) = strip_prefix(line) else {
        return (true, false);
    };
    let scanner = || Scanner {
        t,
        i: 0,
        hint: hint.unwrap_or_default(),
        hinted: hint.is_some(),
    };
    let (mut fast, mut fast_pairs) = (scanner(), Pairs::new());
    let marked = fast.whole_marked(&mut fast_pairs);
    let (mut full, mut full_pairs) = (scanner(), Pairs::new());
    let ok = full.whole_object(&mut full_pairs);
    let same = !marked || (ok && fast_pairs == full_pairs && fast.hinted == full.hinted);
    (same, marked)
}

/// The JSON text of a line: trimmed, without the `service  | ` prefix
/// that `docker compose logs` writes.
fn strip_prefix(line: &str) -> Result<&str, SkipReason> {
    // The usual line: nothing to trim (a Unicode trim looks at both ends).
    if line.starts_with('{') && line.ends_with('}') {
        return Ok(line);
    }
    let mut t = line.trim();
    if !t.starts_with('{') {
        match t.find("| {") {
            Some(i) if !t[..i].contains('{') => t = &t[i + 2..],
            _ => return Err(SkipReason::Unparsable),
        }
    }
    Ok(t)
}

impl JsonRecord<'_> {
    /// Whether the pairs' keys are, in order, the keys of `hint`, the hint
    /// the line was parsed with ([`parse_hinted`]).
    #[inline]
    pub fn matches_hint(&self, hint: &[Option<Box<str>>]) -> bool {
        self.hinted && self.hint == hint.as_ptr() as usize
    }

    /// Number of (path, value) pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Dotted path of pair `j`.
    pub fn key(&self, j: usize) -> &str {
        &self.pairs[j].0
    }

    /// Value of pair `j`.
    pub fn value(&self, j: usize) -> &str {
        &self.pairs[j].1
    }
}

impl Record for JsonRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        for (k, v) in &self.pairs {
            f(Key::Name(k), Cow::Borrowed(v.as_ref()));
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| Cow::Borrowed(v.as_ref()))
    }
}

/// The parser the scanner replaced, which deserializes member by member
/// with `serde_json`: the oracle the scanner is checked against.
#[cfg(any(test, fuzzing))]
pub mod reference {
    use std::borrow::Cow;

    use serde::Deserialize;
    use serde::de::{self, MapAccess, Visitor};
    use serde_json::value::RawValue;

    use super::{JsonRecord, SkipReason, Text};

    /// The members of one object, values left unparsed.
    struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

    impl<'de> Deserialize<'de> for Members<'de> {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Members<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                    let mut v = Vec::with_capacity(m.size_hint().unwrap_or(16));
                    while let Some((k, val)) = m.next_entry::<Text<'de>, &'de RawValue>()? {
                        v.push((k.0, val));
                    }
                    Ok(Members(v))
                }
            }
            d.deserialize_map(V)
        }
    }

    /// The text of a scalar (first element of an array); `None` for null,
    /// objects and empty arrays.
    fn scalar(raw: &RawValue) -> Option<Cow<'_, str>> {
        let t = raw.get();
        match t.as_bytes().first()? {
            // `raw` is valid JSON already: a string without escapes is the text
            // between its quotes, with no second parse.
            b'"' if t.len() >= 2 && memchr::memchr(b'\\', t.as_bytes()).is_none() => {
                Some(Cow::Borrowed(&t[1..t.len() - 1]))
            }
            b'"' => serde_json::from_str::<Text>(t).ok().map(|s| s.0),
            b'[' => serde_json::from_str::<Vec<&RawValue>>(t)
                .ok()?
                .first()
                .and_then(|v| scalar(v).map(|c| Cow::Owned(c.into_owned()))),
            b'{' | b'n' => None,
            _ => Some(Cow::Borrowed(t)), // numbers and booleans, as written
        }
    }

    fn flatten<'a>(
        members: Members<'a>,
        prefix: Option<&str>,
        out: &mut super::Pairs<'a>,
    ) -> Result<(), SkipReason> {
        let path = |k: Cow<'a, str>| match prefix {
            Some(p) => Cow::Owned(format!("{p}.{k}")),
            None => k,
        };
        let mut nested = Vec::new();
        for (k, v) in members.0 {
            if v.get().starts_with('{') {
                nested.push((k, v));
            } else if let Some(s) = scalar(v) {
                out.push((path(k), s));
            }
        }
        for (k, v) in nested {
            let inner: Members<'a> =
                serde_json::from_str(v.get()).map_err(|_| SkipReason::Unparsable)?;
            let p = path(k);
            flatten(inner, Some(&p), out)?;
        }
        Ok(())
    }

    pub fn parse(line: &str) -> Result<JsonRecord<'_>, SkipReason> {
        let t = super::strip_prefix(line)?;
        let members: Members = serde_json::from_str(t).map_err(|_| SkipReason::Unparsable)?;
        let mut pairs = super::Pairs::with_capacity(members.0.len());
        flatten(members, None, &mut pairs)?;
        Ok(JsonRecord {
            pairs,
            hinted: false,
            hint: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner and the `serde_json` reference agree: both reject, or
    /// both give the same pairs.
    fn same_as_reference(line: &str) {
        match (parse(line), reference::parse(line)) {
            (Ok(a), Ok(b)) => assert_eq!(a.pairs, b.pairs, "{line:?}"),
            (Err(_), Err(_)) => {}
            (a, b) => panic!(
                "{line:?}: scanner {:?}, reference {:?}",
                a.map(|r| r.pairs),
                b.map(|r| r.pairs)
            ),
        }
    }

    #[test]
    fn scanner_is_serde_json() {
        for l in [
            r#"{}"#,
            r#" { } "#,
            r#"{"a":1}"#,
            r#"{"a":1,}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":01}"#,
            r#"{"a":-0.5e+7,"b":1E3,"c":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":true,"b":false,"c":null}"#,
            r#"{"a":nul}"#,
            r#"{"a":"\u00e9\ud83d\ude00","b":"\ud800","c":"\x"}"#,
            r#"{"a":"\u00e9\ud83d\ude00","b":"\ud800"}"#,
            r#"{"\ud800":1}"#,
            r#"{"a\"b":1,"c":{"\u0064":2}}"#,
            r#"{"a":[],"b":[[["x"]]],"c":[{"d":1}],"d":[null,2],"e":[1,]}"#,
            r#"{"a":[],"b":[[["x"]]],"c":[{"d":1}],"d":[null,2],"e":[" \"q"]}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":{"b":{"c":{}},"d":[{"e":[]}]},"a.b":3}"#,
            r#"{"a":{"b":1}"#,
            r#"{"a":1}}"#,
            r#"{"a":1} x"#,
            "{\"a\":\"tab\\there\"}",
            "{\"a\":\"raw\ttab\"}",
            "{\"a\":\"nl\\u000a\"}",
            "{\"a\":1}\n",
            "{\"a\"\t:\r1}",
            r#"{"a":"unterminated}"#,
            r#"{"a":"x\"#,
            r#"{"a":"\u12"}"#,
            r#"svc  | {"a":1}"#,
            r#"{1:2}"#,
            r#"{"a"}"#,
            r#"["a"]"#,
            "",
        ] {
            same_as_reference(l);
        }
        // Deep, but not too deep: flattened as the reference does.
        let deep = format!("{}1{}", r#"{"k":"#.repeat(100), "}".repeat(100));
        same_as_reference(&deep);
        let arrays = format!(r#"{{"a":{}1{}}}"#, "[".repeat(50), "]".repeat(50));
        same_as_reference(&arrays);
        // Arrays as deep as a line allows (the reference's recursion
        // would overflow the stack).
        let arrays = format!(r#"{{"a":{}1{}}}"#, "[".repeat(30_000), "]".repeat(30_000));
        assert_eq!(parse(&arrays).unwrap().pairs[0].1, "1");
        // Deeper objects than anyone logs are refused rather than recursed.
        let too_deep = format!("{}1{}", r#"{"k":"#.repeat(200), "}".repeat(200));
        assert!(parse(&too_deep).is_err());
    }

    #[test]
    fn plain_runs_stop_where_a_byte_loop_stops() {
        let stop = |b: &[u8]| b.iter().position(|&c| STOP[c as usize]);
        let mut bytes: Vec<u8> = (0u8..=255).collect();
        bytes.extend(b"abcdefghijklmnop\"qrs\\tuv");
        for len in 0..bytes.len() {
            for at in 0..len.min(40) {
                let b = &bytes[at..len];
                assert_eq!(plain_run(b), stop(b), "{b:?}");
            }
        }
        // Each byte at every place of one and of two blocks and a rest.
        for c in 0u8..=255 {
            for n in [20, 40] {
                for pos in 0..n {
                    let mut b = vec![b'x'; n];
                    b[pos] = c;
                    assert_eq!(plain_run(&b), stop(&b), "{c} at {pos} of {n}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn scanner_is_serde_json_on_any_text(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", "[", "]", ":", ",", " ", "\"", "\"a\"", "\"b\"", "\\", "\\u00e9",
                "\\ud800", "\\n", "0", "1", "-", ".", "e", "+", "true", "null", "fals", "x",
                "\t", "\u{1}",
            ]), 0..40),
        ) {
            same_as_reference(&parts.concat());
            same_as_reference(&format!("{{\"k\":{}}}", parts.concat()));
        }
    }

    /// A hint changes how keys are found, never what is found; the record
    /// matches it exactly when its keys are the hint's.
    #[test]
    fn hinted_parse_is_parse() {
        let lines = [
            r#"{"a":"1","b":2,"c":"x y"}"#,
            r#"{"a":"1","b":2}"#,
            r#"{"a":"1","b":2,"c":"x","d":4}"#,
            r#"{"a":null,"a":"1","b":2,"c":"x"}"#,
            r#"{"a":"1","b":{"c":3}}"#,
            r#"{"a":"1", "b" : 2 ,"c":"x"}"#,
            r#"{"a\u0041":"1","b":2,"c":"x"}"#,
            r#"{"ab":"1","b":2,"c":"x"}"#,
            r#"{"a":"1","b":2,"c":"x"#,
            r#"{"a":"1","b":[2,3],"c":"x"}"#,
            r#"{}"#,
            r#"{"a.b":1,"a":{"b":2}}"#,
        ];
        let keys = |k: &[&str]| -> Vec<Option<Box<str>>> {
            k.iter().map(|k| Some(Box::from(*k))).collect()
        };
        let hints = [
            keys(&["a", "b", "c"]),
            keys(&["a", "b"]),
            keys(&["a", "b", "c", "d"]),
            keys(&["a", "b.c"]),
            keys(&["a.b"]),
            keys(&[]),
        ];
        for l in lines {
            let plain = parse(l);
            for h in &hints {
                let hinted = parse_hinted(l, Some(h));
                match (&plain, &hinted) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.pairs, b.pairs, "{l} {h:?}");
                        let same: Vec<Option<Box<str>>> =
                            a.pairs.iter().map(|(k, _)| Some(Box::from(&**k))).collect();
                        // Conservative: nested pairs are never taken as
                        // hinted, whatever their keys.
                        if b.matches_hint(h) {
                            assert_eq!(same, *h, "{l} {h:?}");
                        }
                        assert!(!a.matches_hint(h));
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b),
                    _ => panic!("{l} {h:?}"),
                }
            }
        }
        for l in [lines[0], lines[3], lines[5]] {
            assert!(
                parse_hinted(l, Some(&hints[0]))
                    .unwrap()
                    .matches_hint(&hints[0]),
                "{l}"
            );
        }
        assert!(
            parse_hinted(lines[10], Some(&hints[5]))
                .unwrap()
                .matches_hint(&hints[5])
        );
    }

    /// The marked path takes a typical line, and on every prefix of it
    /// and every one-byte change to it either steps aside or agrees with
    /// the full scanner, hinted or not.
    #[test]
    fn marked_path_is_the_full_scanner() {
        let flat = r#"{"a":"1","bb":-2.5e3,"c":"x y","d":null,"e":true,"f":false, "g" : 0 }"#;
        let nested = r#"{"a":"1","r":{"s":2,"h":{"u":["x"]}},"b":[3,4],"c":"z","d":[]}"#;
        let keys = |k: &[&str]| -> Vec<Option<Box<str>>> {
            k.iter().map(|k| Some(Box::from(*k))).collect()
        };
        for (line, hint, hinted) in [
            (flat, keys(&["a", "bb", "c", "e", "f", "g"]), true),
            (nested, keys(&["a", "b", "c", "r.s", "r.h.u"]), false),
        ] {
            assert_eq!(scanners_agree(line, None), (true, true));
            assert_eq!(scanners_agree(line, Some(&hint)), (true, true));
            assert_eq!(
                parse_hinted(line, Some(&hint)).unwrap().matches_hint(&hint),
                hinted
            );
            let b = line.as_bytes();
            let mut took = 0;
            for n in 0..=b.len() {
                let prefix = std::str::from_utf8(&b[..n]).unwrap();
                for h in [None, Some(&hint[..])] {
                    assert!(scanners_agree(prefix, h).0, "{prefix}");
                }
            }
            for i in 0..b.len() {
                for c in *b" \"\\{}[],:-.0en\tx\x01" {
                    let mut m = b.to_vec();
                    m[i] = c;
                    let m = String::from_utf8(m).unwrap();
                    for h in [None, Some(&hint[..])] {
                        let (same, marked) = scanners_agree(&m, h);
                        assert!(same, "{m}");
                        took += marked as usize;
                    }
                }
            }
            assert!(took > b.len(), "{line}");
        }
    }

    /// The direct scan takes a typical line (spaces, null, booleans
    /// included), and on every prefix of it and every one-byte change to
    /// it either steps aside or finds what the hinted parse finds.
    #[test]
    fn direct_scan_is_the_hinted_parse() {
        let line = r#" {"a":"1","bb":-2.5e3, "c" : "x y","d":null,"e":true,"f":false,"g":0} "#;
        let keys: Vec<Option<Box<str>>> = ["a", "bb", "c", "e", "f", "g"]
            .iter()
            .map(|k| Some(Box::from(*k)))
            .collect();
        // Whether the direct scan took `l`; it must agree when it does.
        let direct = |l: &str| {
            let mut pos = Positions::empty(l);
            if !scan_direct(&mut pos, &keys) {
                return false;
            }
            let rec = parse_hinted(l, Some(&keys)).expect("the direct scan took an invalid line");
            assert!(rec.matches_hint(&keys), "{l}");
            for j in 0..=keys.len() {
                assert_eq!(
                    pos.get(j as u8),
                    (j < rec.len()).then(|| rec.value(j)),
                    "{l}"
                );
            }
            true
        };
        assert!(direct(line));
        assert!(direct(
            r#"{"a":"1","bb":2,"c":"","e":true,"f":false,"g":0}"#
        ));
        for l in [
            r#"{"a":"1","bb":2,"c":"","e":true,"f":false,"g":0,}"#,
            r#"{"a":"1","bb":2,"c":"","e":true,"f":false,"g":0,"h":1}"#,
            r#"{"a":"1","bb":2,"c":"\n","e":true,"f":false,"g":0}"#,
            r#"{"a":"1","bb":[2],"c":"","e":true,"f":false,"g":0}"#,
            r#"{"a":"1","bb":{"x":2},"c":"","e":true,"f":false,"g":0}"#,
            r#"{"a":"1","bb":2,"c":"","e":true,"f":false}"#,
        ] {
            assert!(!direct(l), "{l}");
        }
        let b = line.as_bytes();
        for n in 0..b.len() {
            direct(std::str::from_utf8(&b[..n]).unwrap());
        }
        let mut took = 0;
        for i in 0..b.len() {
            for c in *b" \"\\{}[],:-.0entx\t\x01" {
                let mut m = b.to_vec();
                m[i] = c;
                took += direct(&String::from_utf8(m).unwrap()) as usize;
            }
        }
        assert!(took > b.len(), "{took}");
    }

    #[test]
    fn paths() {
        let r = parse(r#"{"time":"t","req":{"status":401,"headers":{"User-Agent":["ua/1"]}},"a.b":{"c":true},"n":null}"#).unwrap();
        assert_eq!(r.get("req.status").as_deref(), Some("401"));
        assert_eq!(r.get("req.headers.User-Agent").as_deref(), Some("ua/1"));
        assert_eq!(r.get("a.b.c").as_deref(), Some("true"));
        assert_eq!(r.get("n"), None);
        assert_eq!(r.get("req"), None);
        assert_eq!(r.get("missing.path"), None);
        assert!(parse("[1,2]").is_err());
        let r = parse(r#"caddy  | {"status":304}"#).unwrap();
        assert_eq!(r.get("status").as_deref(), Some("304"));
        assert!(parse("{broken").is_err());
        let r = parse(r#"{"a":"x\"y\u00e9","b":"","c":["q\\"],"d":"plain é"}"#).unwrap();
        assert_eq!(r.get("a").as_deref(), Some("x\"yé"));
        assert_eq!(r.get("b").as_deref(), Some(""));
        assert_eq!(r.get("c").as_deref(), Some("q\\"));
        assert_eq!(r.get("d").as_deref(), Some("plain é"));
    }
}
