//! Format detection and the parser registry. Each format lives in its own
//! file and turns a line into a [`Record`]; adding a format means one new
//! file plus one arm in [`FormatKind`] and [`LineParser`].

pub mod clf;
pub mod json;
pub mod logfmt;
pub mod marks;
pub mod not_access;
pub mod positions;
pub mod record;
pub mod regex;
pub mod w3c;

use crate::error::SettingError;
use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::format::record::{Key, Record};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatKind {
    Combined,
    Common,
    Json,
    Logfmt,
    W3c,
    Regex,
}

impl FormatKind {
    pub const ALL: [FormatKind; 6] = [
        FormatKind::Combined,
        FormatKind::Common,
        FormatKind::Json,
        FormatKind::Logfmt,
        FormatKind::W3c,
        FormatKind::Regex,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FormatKind::Combined => "combined",
            FormatKind::Common => "common",
            FormatKind::Json => "json",
            FormatKind::Logfmt => "logfmt",
            FormatKind::W3c => "w3c",
            FormatKind::Regex => "regex",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == s)
    }

    /// Formats whose lines depend on earlier lines (W3C `#Fields:` headers)
    /// are read as one sequential stream per file.
    pub fn is_stateful(self) -> bool {
        self == FormatKind::W3c
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
}

impl Parsed<'_> {
    pub fn record(&self) -> &dyn Record {
        match self {
            Parsed::Clf(r) => r.as_ref(),
            Parsed::Json(r) => r.as_ref(),
            Parsed::Kv(r) => r,
            Parsed::Indexed(r) => r,
        }
    }
}

/// Values addressed by a shared list of names (regex captures, W3C fields).
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

/// A parser instance for one stream; stateful formats keep their state here.
#[derive(Clone)]
pub enum LineParser {
    Clf,
    Json,
    Logfmt,
    W3c(w3c::W3cParser),
    Regex(regex::RegexFormat),
}

impl LineParser {
    pub fn new(
        kind: FormatKind,
        custom: Option<&regex::RegexFormat>,
    ) -> Result<Self, SettingError> {
        Ok(match kind {
            FormatKind::Combined | FormatKind::Common => LineParser::Clf,
            FormatKind::Json => LineParser::Json,
            FormatKind::Logfmt => LineParser::Logfmt,
            FormatKind::W3c => LineParser::W3c(w3c::W3cParser::default()),
            FormatKind::Regex => LineParser::Regex(custom.cloned().ok_or_else(|| {
                SettingError::value("format `regex` needs `[format] regex = \"...\"` in the config")
            })?),
        })
    }

    /// Parses one line (without its newline).
    pub fn parse<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, SkipReason> {
        match self {
            LineParser::Clf => clf::parse(line).map(|r| Parsed::Clf(Box::new(r))),
            LineParser::Json => json::parse(line).map(|r| Parsed::Json(Box::new(r))),
            LineParser::Logfmt => logfmt::parse(line).map(Parsed::Kv),
            LineParser::W3c(p) => p.parse(line).map(Parsed::Indexed),
            LineParser::Regex(r) => r.parse(line).map(Parsed::Indexed),
        }
    }
}

/// Picks the format that parses the most of the sample (non-empty lines),
/// preferring a user-defined regex, then the more specific formats on ties.
/// Returns `None` when nothing parses at least a fifth of the sample (files
/// often start with junk: a truncated first line, a banner).
pub fn detect(sample: &[&str], custom: Option<&regex::RegexFormat>) -> Option<FormatKind> {
    let lines: Vec<&str> = sample
        .iter()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return None;
    }
    if lines
        .iter()
        .any(|l| l.starts_with("#Fields:") || l.starts_with("#Software:"))
    {
        return Some(FormatKind::W3c);
    }
    let mut best: Option<(FormatKind, usize)> = None;
    let mut consider = |kind: FormatKind, score: usize| {
        if score * 5 >= lines.len() && score > 0 && best.is_none_or(|(_, s)| score > s) {
            best = Some((kind, score));
        }
    };
    if let Some(c) = custom {
        consider(
            FormatKind::Regex,
            lines.iter().filter(|l| c.parse(l).is_ok()).count(),
        );
    }
    consider(
        FormatKind::Json,
        lines.iter().filter(|l| json::parse(l).is_ok()).count(),
    );
    let clf: Vec<_> = lines.iter().filter_map(|l| clf::parse(l).ok()).collect();
    let combined = clf.iter().filter(|r| r.has_slot(clf::USER_AGENT)).count();
    if combined * 2 >= clf.len() {
        consider(FormatKind::Combined, clf.len());
    } else {
        consider(FormatKind::Common, clf.len());
    }
    consider(
        FormatKind::Logfmt,
        lines.iter().filter(|l| logfmt::parse(l).is_ok()).count(),
    );
    best.map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        let combined =
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5 "-" "curl/8.0""#;
        let common = r#"1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326"#;
        let json = r#"{"time":"2024-05-01T10:00:00Z","status":200}"#;
        let logfmt = r#"time=2024-05-01T10:00:00Z method=GET path=/a status=200"#;
        assert_eq!(
            detect(&[combined, combined], None),
            Some(FormatKind::Combined)
        );
        assert_eq!(detect(&[common], None), Some(FormatKind::Common));
        assert_eq!(detect(&[json, "", json], None), Some(FormatKind::Json));
        assert_eq!(detect(&[logfmt], None), Some(FormatKind::Logfmt));
        assert_eq!(detect(&["#Fields: date time"], None), Some(FormatKind::W3c));
        assert_eq!(detect(&["hello world", "nothing here"], None), None);
        assert_eq!(detect(&[], None), None);
    }
}
