//! The formats and their registry. A format is one folder (its parser,
//! its fast path if it has one, its tests) exporting a [`FormatDef`], its
//! `pub mod` line and one line in [`FORMATS`]; detection, `--format`,
//! `[format] name`, `authstorm formats` and the README's table all read
//! the registry.

pub mod marks;
pub mod not_access;
pub mod positions;
pub mod record;

use crate::error::SettingError;
use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::format::record::{Key, Record};

// The formats, one folder each. (Declared here rather than by a macro
// with the registry, so that rustfmt and other tools see them.)
pub mod alb;
pub mod caddy;
pub mod clf;
pub mod cloudfront;
pub mod envoy;
pub mod haproxy;
pub mod istio;
pub mod json;
pub mod logfmt;
pub mod regex;
pub mod template;
pub mod traefik;
pub mod w3c;

/// The registry: every format, in the order detection prefers them when
/// two read the same number of sample lines, the more specific first (a
/// user's own format before any built-in one; a proxy's JSON before plain
/// JSON; a CDN's `#Fields` before plain W3C).
pub static FORMATS: &[&FormatDef] = &[
    &template::NGINX,
    &template::APACHE,
    &regex::FORMAT,
    &cloudfront::FORMAT,
    &w3c::FORMAT,
    &alb::FORMAT,
    &istio::FORMAT,
    &caddy::FORMAT,
    &traefik::FORMAT,
    &json::FORMAT,
    &haproxy::FORMAT,
    &envoy::FORMAT,
    &clf::COMBINED,
    &clf::COMMON,
    &logfmt::FORMAT,
];

/// What the registry knows of a format.
pub struct FormatDef {
    /// Its name for `--format` and `[format] name`.
    pub name: &'static str,
    /// What writes it.
    pub title: &'static str,
    /// How detection recognises it (for `authstorm formats`).
    pub detection: &'static str,
    /// A line of it.
    pub example: &'static str,
    /// Its own names for normalized fields, tried before the general ones
    /// (`event::FieldMap`).
    pub sources: &'static [Source],
    /// Its lines depend on earlier lines (W3C `#Fields:` headers): each
    /// input is read as one sequential stream, and a header seen in the
    /// sample decides detection.
    pub stateful: bool,
    /// How many of the sample's lines (non-blank) are this format's: 0 when
    /// it is not the format (or is never detected, only chosen).
    pub sniff: fn(&[&str], &Custom) -> usize,
    /// A parser for one input.
    pub parser: fn(&Custom) -> Result<LineParser, SettingError>,
}

impl std::fmt::Debug for FormatDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A format's own name for a normalized field: `field` (a normalized
/// field's name, as in `[fields]`) comes from the record's `key`; a
/// latency's `unit` is `s`, `ms`, `us` or `ns`.
#[derive(Debug, Clone)]
pub struct Source {
    pub field: &'static str,
    pub key: Cow<'static, str>,
    pub unit: Option<&'static str>,
}

impl Source {
    pub const fn new(field: &'static str, key: &'static str) -> Source {
        Source {
            field,
            key: Cow::Borrowed(key),
            unit: None,
        }
    }

    /// A latency source in `unit`.
    pub const fn latency(key: &'static str, unit: &'static str) -> Source {
        Source {
            field: "latency",
            key: Cow::Borrowed(key),
            unit: Some(unit),
        }
    }
}

/// Formats the user defines in the config (`[format]`), compiled once.
#[derive(Clone, Default)]
pub struct Custom {
    pub regex: Option<regex::RegexFormat>,
    /// `[format] haproxy_request_headers`: the headers HAProxy's request
    /// capture block holds, in order (its `capture request header` lines).
    pub haproxy_request_headers: Option<Arc<[String]>>,
    /// `[format] haproxy_response_headers`, likewise for responses.
    pub haproxy_response_headers: Option<Arc<[String]>>,
    /// `[format] nginx`: a pasted `log_format`.
    pub nginx: Option<Arc<template::Template>>,
    /// `[format] apache`: a pasted `LogFormat`.
    pub apache: Option<Arc<template::Template>>,
}

/// A format: a handle on its [`FormatDef`] in the registry. Compared,
/// ordered and serialized by name.
#[derive(Clone, Copy)]
pub struct FormatKind(&'static FormatDef);

impl FormatKind {
    pub fn def(self) -> &'static FormatDef {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn from_name(s: &str) -> Option<Self> {
        FORMATS.iter().find(|d| d.name == s).map(|d| FormatKind(d))
    }

    /// Every format, in the registry's order.
    pub fn all() -> impl Iterator<Item = FormatKind> {
        FORMATS.iter().map(|d| FormatKind(d))
    }

    /// Every format's name, in the registry's order.
    pub fn names() -> Vec<&'static str> {
        FORMATS.iter().map(|d| d.name).collect()
    }

    /// See [`FormatDef::stateful`].
    pub fn is_stateful(self) -> bool {
        self.0.stateful
    }

    /// A parser for one input (a user-defined format needs its definition
    /// in `custom`).
    pub fn parser(self, custom: &Custom) -> Result<LineParser, SettingError> {
        (self.0.parser)(custom)
    }
}

impl PartialEq for FormatKind {
    fn eq(&self, o: &Self) -> bool {
        self.name() == o.name()
    }
}

impl Eq for FormatKind {}

impl std::hash::Hash for FormatKind {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name().hash(h)
    }
}

impl PartialOrd for FormatKind {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for FormatKind {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.name().cmp(o.name())
    }
}

impl std::fmt::Debug for FormatKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for FormatKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for FormatKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for FormatKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        FormatKind::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown format `{name}` (known: {})",
                FormatKind::names().join(", ")
            ))
        })
    }
}

/// Why a line was not counted as a request. Every skipped line has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Empty,
    NulBytes,
    TooLong,
    /// Directive or comment lines (`#Fields:` in W3C).
    Comment,
    Unparsable,
    NoTimestamp,
    BadTimestamp,
    /// Before 1990 or more than a day after now: a broken clock, not traffic.
    ImplausibleTimestamp,
    BadStatus,
    /// A well-formed line that is not an HTTP request (no status, method
    /// or path: application messages mixed into an access log).
    NotARequest,
}

impl SkipReason {
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::Empty => "empty",
            SkipReason::NulBytes => "nul_bytes",
            SkipReason::TooLong => "too_long",
            SkipReason::Comment => "comment",
            SkipReason::Unparsable => "unparsable",
            SkipReason::NoTimestamp => "no_timestamp",
            SkipReason::BadTimestamp => "bad_timestamp",
            SkipReason::ImplausibleTimestamp => "implausible_timestamp",
            SkipReason::BadStatus => "bad_status",
            SkipReason::NotARequest => "not_a_request",
        }
    }
}

/// A line parsed by some format.
pub enum Parsed<'a> {
    /// Boxed: the scan maps combined and JSON lines on its own path, not
    /// through `Parsed` (see `FieldMap::clf_fields` and
    /// `FieldMap::json_fields`), and the other variants stay small.
    Clf(Box<clf::ClfRecord<'a>>),
    Json(Box<json::JsonRecord<'a>>),
    Kv(logfmt::KvRecord<'a>),
    Indexed(IndexedRecord<'a>),
    /// A format's own record.
    Other(Box<dyn Record + 'a>),
}

impl Parsed<'_> {
    pub fn record(&self) -> &dyn Record {
        match self {
            Parsed::Clf(r) => r.as_ref(),
            Parsed::Json(r) => r.as_ref(),
            Parsed::Kv(r) => r,
            Parsed::Indexed(r) => r,
            Parsed::Other(r) => r.as_ref(),
        }
    }
}

/// Values addressed by a shared list of names (regex captures, W3C fields).
#[derive(Debug)]
pub struct IndexedRecord<'a> {
    pub names: Arc<[String]>,
    pub values: Vec<Option<Cow<'a, str>>>,
}

impl Record for IndexedRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        for (name, v) in self.names.iter().zip(&self.values) {
            if let Some(v) = v {
                f(Key::Name(name), Cow::Borrowed(v.as_ref()));
            }
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        let i = self.names.iter().position(|n| n == key)?;
        self.values.get(i)?.as_deref().map(Cow::Borrowed)
    }
}

/// A parser instance for one stream; stateful formats keep their state
/// here. The built-in fast paths (`event::decode`) know `Clf` and `Json`;
/// any other format can be `Other`.
#[derive(Clone)]
pub enum LineParser {
    Clf,
    /// Combined lines, read by the built-in path, whose trailing keys a
    /// pasted template names: (template variable, key the combined record
    /// has it under), so `[fields]` and the general names find them
    /// (`template::Template::combined_renames`).
    ClfAs(Arc<[(Box<str>, Box<str>)]>),
    Json,
    Logfmt,
    W3c(w3c::W3cParser),
    Regex(regex::RegexFormat),
    Other(Box<dyn FormatParser>),
}

/// A format's parser when it is none of the built-in variants of
/// [`LineParser`].
pub trait FormatParser: Send + Sync {
    /// Parses one line (without its newline).
    fn parse<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, SkipReason>;

    fn clone_box(&self) -> Box<dyn FormatParser>;

    /// Names for normalized fields known only once the parser is built
    /// (a pasted `log_format`'s variables), tried before the format's own.
    fn sources(&self) -> Vec<Source> {
        Vec::new()
    }

    /// Why `line` is not this format, where the parser can say more than
    /// its [`SkipReason`] (a column): for `authstorm formats test`.
    fn why(&self, _line: &str) -> Option<String> {
        None
    }
}

impl Clone for Box<dyn FormatParser> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

impl LineParser {
    /// Parses one line (without its newline).
    pub fn parse<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, SkipReason> {
        match self {
            LineParser::Clf | LineParser::ClfAs(_) => {
                clf::parse(line).map(|r| Parsed::Clf(Box::new(r)))
            }
            LineParser::Json => json::parse(line).map(|r| Parsed::Json(Box::new(r))),
            LineParser::Logfmt => logfmt::parse(line).map(Parsed::Kv),
            LineParser::W3c(p) => p.parse(line).map(Parsed::Indexed),
            LineParser::Regex(r) => r.parse(line).map(Parsed::Indexed),
            LineParser::Other(p) => p.parse(line),
        }
    }

    /// Why `line` does not parse, as exactly as the format can say (the
    /// column where it departs from the format); `None` when it parses.
    pub fn why(&mut self, line: &str) -> Option<String> {
        let reason = match self.parse(line) {
            Ok(_) => return None,
            Err(r) => r,
        };
        let exact = match self {
            LineParser::Clf | LineParser::ClfAs(_) => clf::diagnose(line),
            LineParser::Json => match serde_json::from_str::<serde::de::IgnoredAny>(line) {
                Err(e) => Some(format!("not JSON: {e}")),
                Ok(_) if !line.trim_start().starts_with('{') => Some("not a JSON object".into()),
                Ok(_) => None,
            },
            LineParser::Other(p) => p.why(line),
            _ => None,
        };
        Some(exact.unwrap_or_else(|| reason.name().replace('_', " ")))
    }

    /// The names this parser's records give normalized fields, best first:
    /// the parser's own, then its format's.
    pub fn sources(&self, kind: FormatKind) -> Vec<Source> {
        let mut all = match self {
            LineParser::Other(p) => p.sources(),
            _ => Vec::new(),
        };
        all.extend(kind.def().sources.iter().cloned());
        all
    }

    /// Source names this parser's records hold under another key
    /// (template variable → key on the line), for `FieldMap::with_sources`.
    pub fn renames(&self) -> &[(Box<str>, Box<str>)] {
        match self {
            LineParser::ClfAs(r) => r,
            _ => &[],
        }
    }
}

/// How many of `lines` `reads` says it reads: the usual [`FormatDef::sniff`].
pub fn count_read(lines: &[&str], reads: impl Fn(&str) -> bool) -> usize {
    lines.iter().filter(|l| reads(l)).count()
}

/// Detection's verdict on a sample, for `authstorm formats test`.
#[derive(Debug, Clone)]
pub struct Detection {
    /// The format chosen, if any reads at least a fifth of the sample.
    pub chosen: Option<FormatKind>,
    /// Every format that read some line, most lines first (registry order
    /// on ties), with how many.
    pub scores: Vec<(FormatKind, usize)>,
    /// Non-blank lines in the sample.
    pub lines: usize,
}

/// Picks the format that reads the most of the sample (non-blank lines),
/// the registry's order deciding ties. `None` when none reads at least a
/// fifth of it (files often start with junk: a truncated first line, a
/// banner).
pub fn detect(sample: &[&str], custom: &Custom) -> Option<FormatKind> {
    explain(sample, custom).chosen
}

/// [`detect`], with every format's score.
pub fn explain(sample: &[&str], custom: &Custom) -> Detection {
    let lines: Vec<&str> = sample
        .iter()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut scores: Vec<(FormatKind, usize)> = FormatKind::all()
        .map(|k| (k, (k.def().sniff)(&lines, custom)))
        .filter(|(_, n)| *n > 0)
        .collect();
    // Stable: the registry's order stays on ties.
    scores.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let chosen = scores
        .first()
        .filter(|(_, n)| n * 5 >= lines.len())
        .map(|(k, _)| *k);
    Detection {
        chosen,
        scores,
        lines: lines.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<FormatKind> {
        FormatKind::from_name(s)
    }

    #[test]
    fn detects_each_format() {
        let combined =
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5 "-" "curl/8.0""#;
        let common = r#"1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326"#;
        let json = r#"{"time":"2024-05-01T10:00:00Z","status":200}"#;
        let logfmt = r#"time=2024-05-01T10:00:00Z method=GET path=/a status=200"#;
        let none = Custom::default();
        assert_eq!(detect(&[combined, combined], &none), kind("combined"));
        assert_eq!(detect(&[common], &none), kind("common"));
        assert_eq!(detect(&[json, "", json], &none), kind("json"));
        assert_eq!(detect(&[logfmt], &none), kind("logfmt"));
        assert_eq!(detect(&["#Fields: date time"], &none), kind("w3c"));
        assert_eq!(detect(&["hello world", "nothing here"], &none), None);
        assert_eq!(detect(&[], &none), None);
    }

    #[test]
    fn the_registry_is_consistent() {
        let names = FormatKind::names();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "a name used twice: {names:?}");
        for d in FORMATS {
            assert!(!d.title.is_empty() && !d.detection.is_empty(), "{}", d.name);
            assert!(!d.example.is_empty(), "{}: no example line", d.name);
            for s in d.sources {
                assert!(
                    s.unit.is_none_or(|u| ["s", "ms", "us", "ns"].contains(&u)),
                    "{}: unit {:?}",
                    d.name,
                    s.unit
                );
            }
        }
        let k = kind("json").unwrap();
        let text = serde_json::to_string(&k).unwrap();
        assert_eq!(text, "\"json\"");
        assert_eq!(serde_json::from_str::<FormatKind>(&text).unwrap(), k);
        assert!(serde_json::from_str::<FormatKind>("\"nope\"").is_err());
    }
}
