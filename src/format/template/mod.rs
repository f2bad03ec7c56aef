//! Pasted server log formats (`[format] nginx`, `[format] apache`): the
//! compiled template both share, its line parser, and its compilation to
//! the built-in combined path when the template is the combined layout.
//!
//! A template is literal text and variables. A line is read left to right:
//! a variable ends where the next literal begins (a quoted variable at its
//! closing quote), with no backtracking. Each variable is a record key
//! named as nginx names it (`$http_user_agent` → `http_user_agent`; Apache
//! directives get the nginx name of the same value, see `apache.rs`), so
//! the general names of `event::default_sources` map them. For
//! `'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time'`
//! a line reads:
//!
//! `203.0.113.9 - - [02/Mar/2026:08:00:01 +0000] "POST /oauth/token HTTP/1.1" 401 43 "-" "acme-desktop/4.2.1 (Windows NT 10.0)" rt=0.004`

pub mod apache;
pub mod nginx;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;

use super::record::{Key, Record};
use super::{LineParser, Parsed, SkipReason};
use crate::error::SettingError;

pub use apache::APACHE;
pub use nginx::NGINX;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Text the line has as is.
    Lit(Box<str>),
    /// A variable: its index in [`Template::names`].
    Var(usize),
}

/// A compiled template: literals and variables, never two variables side
/// by side (nothing would tell where one ends), literals merged.
#[derive(Debug, Clone)]
pub struct Template {
    items: Vec<Item>,
    /// Per variable (in line order), its record key.
    names: Arc<[Box<str>]>,
    /// Per variable, whether it sits between double quotes (then it ends
    /// at the closing quote, and `\"` inside does not end it).
    quoted: Vec<bool>,
}

/// Builds a [`Template`] from pieces, merging adjacent literals.
#[derive(Default)]
pub(crate) struct Builder {
    items: Vec<Item>,
    names: Vec<Box<str>>,
}

impl Builder {
    pub fn lit(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        match self.items.last_mut() {
            Some(Item::Lit(l)) => *l = format!("{l}{s}").into(),
            _ => self.items.push(Item::Lit(s.into())),
        }
    }

    pub fn var(&mut self, name: &str) -> Result<(), SettingError> {
        if let Some(Item::Var(prev)) = self.items.last() {
            return Err(SettingError::value(format!(
                "`{}` and `{name}` have nothing between them: a line cannot say where one ends",
                self.names[*prev]
            )));
        }
        self.items.push(Item::Var(self.names.len()));
        self.names.push(name.into());
        Ok(())
    }

    pub fn build(self) -> Result<Template, SettingError> {
        if self.names.is_empty() {
            return Err(SettingError::value("the format has no variables"));
        }
        let quoted = (0..self.items.len())
            .filter(|&i| matches!(self.items[i], Item::Var(_)))
            .map(|i| {
                let before = i.checked_sub(1).map(|j| &self.items[j]);
                let after = self.items.get(i + 1);
                matches!(before, Some(Item::Lit(l)) if l.ends_with('"'))
                    && matches!(after, Some(Item::Lit(l)) if l.starts_with('"'))
            })
            .collect();
        Ok(Template {
            items: self.items,
            names: self.names.into(),
            quoted,
        })
    }
}

/// A value's byte range on the line, and whether it has backslash escapes.
type Span = (u32, u32, bool);

impl Template {
    /// The record keys of the variables, in line order.
    pub fn names(&self) -> &[Box<str>] {
        &self.names
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Whether `line` is read by the template.
    pub fn reads(&self, line: &str) -> bool {
        let mut spans = smallvec::SmallVec::new();
        self.scan(line, &mut spans)
    }

    /// Reads `line` into `spans` (one per variable); false when the line is
    /// not the template's.
    fn scan(&self, line: &str, spans: &mut smallvec::SmallVec<[Span; 24]>) -> bool {
        if line.len() > u32::MAX as usize {
            return false;
        }
        let b = line.as_bytes();
        let mut i = 0;
        let mut var = 0;
        for (k, item) in self.items.iter().enumerate() {
            match item {
                Item::Lit(l) => {
                    if !b[i..].starts_with(l.as_bytes()) {
                        return false;
                    }
                    i += l.len();
                }
                Item::Var(_) => {
                    let next = match self.items.get(k + 1) {
                        Some(Item::Lit(l)) => Some(l.as_bytes()),
                        _ => None,
                    };
                    let (end, escaped) = if self.quoted[var] {
                        match closing_quote(b, i) {
                            Some(e) => e,
                            None => return false,
                        }
                    } else {
                        match next {
                            // The rest of the line (less a `\r` left by CRLF).
                            None => (line.trim_end_matches('\r').len().max(i), false),
                            Some(l) => match memchr::memmem::find(&b[i..], l) {
                                Some(p) => (i + p, false),
                                None => return false,
                            },
                        }
                    };
                    // Values are cut next to ASCII literals or quotes: on
                    // char boundaries.
                    spans.push((i as u32, end as u32, escaped));
                    i = end;
                    var += 1;
                }
            }
        }
        // A `\r` of CRLF line ends may follow the last literal.
        i == b.len() || (i + 1 == b.len() && b[i] == b'\r')
    }

    /// The names to read a combined-layout template's lines with the
    /// built-in combined parser (see [`combined_renames`]), or `None` when
    /// the template is another layout.
    pub fn combined_renames(&self) -> Option<Vec<(Box<str>, Box<str>)>> {
        combined_renames(self)
    }

    /// The parser for this template: the built-in combined path when the
    /// layout is combined (plus trailing extras), else the general one.
    pub fn parser(self: &Arc<Self>) -> LineParser {
        match self.combined_renames() {
            Some(r) => LineParser::ClfAs(r.into()),
            None => LineParser::Other(Box::new(TemplateParser(self.clone()))),
        }
    }

    /// Parses `line` with the general template parser.
    pub fn parse<'a>(&self, line: &'a str) -> Result<TemplateRecord<'a>, SkipReason> {
        let mut spans = smallvec::SmallVec::new();
        if !self.scan(line, &mut spans) {
            return Err(SkipReason::Unparsable);
        }
        Ok(TemplateRecord {
            line,
            names: self.names.clone(),
            spans,
        })
    }
}

/// The end of a quoted value starting at `i`: the next `"` not escaped by a
/// backslash (nginx writes `"` as `\x22`; Apache as `\"`), and whether the
/// value has a backslash.
fn closing_quote(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        let k = memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[i + k] == b'"' {
            return Some((i + k, escaped));
        }
        escaped = true;
        i += k + 2;
        if i > b.len() {
            return None;
        }
    }
}

/// The general template parser, for `LineParser::Other`.
#[derive(Clone)]
pub struct TemplateParser(pub Arc<Template>);

impl super::FormatParser for TemplateParser {
    fn parse<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, SkipReason> {
        self.0.parse(line).map(|r| Parsed::Other(Box::new(r)))
    }

    fn clone_box(&self) -> Box<dyn super::FormatParser> {
        Box::new(self.clone())
    }
}

/// A line read by a template: a byte range per variable, turned into text
/// (unescaped where it has escapes) only when asked for.
pub struct TemplateRecord<'a> {
    line: &'a str,
    names: Arc<[Box<str>]>,
    spans: smallvec::SmallVec<[Span; 24]>,
}

impl<'a> TemplateRecord<'a> {
    /// Variable `i`'s value, as written: `-` (both servers' "no value")
    /// is left to the mapping, for which it is a value of some fields
    /// ("checked, no error").
    fn value(&self, i: usize) -> Option<Cow<'a, str>> {
        let (s, e, escaped) = self.spans[i];
        let raw = &self.line[s as usize..e as usize];
        Some(if escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        })
    }
}

impl Record for TemplateRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        for (i, name) in self.names.iter().enumerate() {
            if let Some(v) = self.value(i) {
                if &**name == "request" {
                    // The request line's parts, as the combined format
                    // offers them (`$request_method` and `$request_uri`
                    // of the line itself, after any variable of those
                    // names: an earlier key shadows a later one).
                    if let Some((m, p, proto)) = request_parts(&v) {
                        f(Key::Name("method"), Cow::Owned(m.to_string()));
                        f(Key::Name("path"), Cow::Owned(p.to_string()));
                        if let Some(proto) = proto {
                            f(Key::Name("protocol"), Cow::Owned(proto.to_string()));
                        }
                    }
                }
                f(Key::Name(name), v);
            }
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        if let Some(i) = self.names.iter().position(|n| &**n == key) {
            return self.value(i);
        }
        // The request line's parts (see `visit`).
        let i = self.names.iter().position(|n| &**n == "request")?;
        let v = self.value(i)?;
        let (m, p, proto) = request_parts(&v)?;
        match key {
            "method" => Some(Cow::Owned(m.to_string())),
            "path" => Some(Cow::Owned(p.to_string())),
            "protocol" => proto.map(|x| Cow::Owned(x.to_string())),
            _ => None,
        }
    }
}

/// `METHOD target [PROTOCOL]` of a request line, or `None` for `-` and
/// other lines with no target.
fn request_parts(line: &str) -> Option<(&str, &str, Option<&str>)> {
    let mut it = line.splitn(3, ' ');
    let method = it.next().filter(|m| !m.is_empty() && *m != "-")?;
    let target = it.next().filter(|t| !t.is_empty())?;
    Some((method, target, it.next()))
}

/// Undoes the escapes both servers write in values: `\xHH` (nginx's
/// `escape=default`, Apache's non-printables), `\"` and `\\`, and JSON's
/// `\n`, `\t`, `\r`, `\uXXXX` (nginx's `escape=json`). Bytes escaped one by
/// one (UTF-8 written as `\xC3\xA9`) are put back together; invalid UTF-8
/// becomes U+FFFD.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        match c {
            b'x' => match (
                b.get(i + 2).and_then(|&c| hex(c)),
                b.get(i + 3).and_then(|&c| hex(c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 4;
                    continue;
                }
                _ => out.push(b'\\'),
            },
            b'"' | b'\\' | b'/' => {
                out.push(c);
                i += 2;
                continue;
            }
            b'n' | b't' | b'r' => {
                out.push(match c {
                    b'n' => b'\n',
                    b't' => b'\t',
                    _ => b'\r',
                });
                i += 2;
                continue;
            }
            b'u' => {
                let code = s
                    .get(i + 2..i + 6)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32);
                match code {
                    Some(ch) => {
                        let mut buf = [0; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        i += 6;
                        continue;
                    }
                    None => out.push(b'\\'),
                }
            }
            _ => out.push(b'\\'),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The combined layout's fixed fields, as a template reads them, with the
/// literal before each (the built-in parser's slots, `clf::SLOTS`). The
/// ident (second field) may be a literal `-` (nginx) or a variable (`%l`).
const COMBINED: &[(&str, &str)] = &[
    ("", "remote_addr"),
    (" ", "ident"),
    (" ", "remote_user"),
    (" [", "time_local"),
    ("] \"", "request"),
    ("\" ", "status"),
    (" ", "body_bytes_sent"),
    (" \"", "http_referer"),
    ("\" \"", "http_user_agent"),
];

/// When `t` is the combined layout, optionally followed by trailing extras
/// of the shapes the built-in parser reads (` key=$var`, ` key="$var"`,
/// ` "$var"`), the renames that let the built-in combined path read its
/// lines: per extra whose variable is not its key on the line, (variable,
/// the key the built-in record has it under: the line's key, or `extra_N`
/// for the N-th unkeyed one). `None` for any other layout.
fn combined_renames(t: &Template) -> Option<Vec<(Box<str>, Box<str>)>> {
    // The template as text with each variable as `\0index\0`, so the
    // layout can be matched as a string.
    let mut text = String::new();
    for item in &t.items {
        match item {
            Item::Lit(l) => {
                if l.contains('\0') {
                    return None;
                }
                text.push_str(l);
            }
            Item::Var(i) => text.push_str(&format!("\0{i}\0")),
        }
    }
    let mut rest = text.as_str();
    fn var(rest: &mut &str) -> Option<usize> {
        let r = rest.strip_prefix('\0')?;
        let end = r.find('\0')?;
        let i: usize = r[..end].parse().ok()?;
        *rest = &r[end + 1..];
        Some(i)
    }
    for (lit, name) in COMBINED {
        rest = rest.strip_prefix(lit)?;
        if *name == "ident" && rest.starts_with('-') {
            rest = &rest[1..];
            continue;
        }
        let i = var(&mut rest)?;
        if &*t.names[i] != *name {
            return None;
        }
    }
    rest = rest.strip_prefix('"')?;
    let mut renames = Vec::new();
    let mut unkeyed = 0;
    while !rest.is_empty() {
        rest = rest.strip_prefix(' ')?;
        let (key, quoted) = if let Some(r) = rest.strip_prefix('"') {
            rest = r;
            (None, true)
        } else {
            let k = rest.find('=')?;
            let key = &rest[..k];
            if key.is_empty() || !key.bytes().all(super::clf::is_key_byte) {
                return None;
            }
            rest = &rest[k + 1..];
            let quoted = match rest.strip_prefix('"') {
                Some(r) => {
                    rest = r;
                    true
                }
                None => false,
            };
            (Some(key), quoted)
        };
        let i = var(&mut rest)?;
        if quoted {
            rest = rest.strip_prefix('"')?;
        } else if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        let on_line: Box<str> = match key {
            Some(k) => k.into(),
            None => {
                unkeyed += 1;
                format!("extra_{unkeyed}").into()
            }
        };
        if *on_line != *t.names[i] {
            renames.push((t.names[i].clone(), on_line));
        }
    }
    Some(renames)
}
