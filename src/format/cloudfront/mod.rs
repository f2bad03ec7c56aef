//! Amazon CloudFront standard logs (access logs): W3C-style `#Version:`
//! and `#Fields:` headers, then TAB-separated, URL-encoded values. This
//! module owns reading them: the columns named by the last `#Fields:`
//! (which may change mid-file), `-` as empty, the values decoded (the user
//! agent until it is plain: CloudFront often encodes it twice), and the
//! separate UTC `date` and `time` joined into `timestamp`, the stem and
//! query into `path`.
//!
//! ```text
//! (TABs shown as →)
//! #Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query ...
//! 2026-03-02→08:00:01→FRA56-P1→512→203.0.113.9→GET→d111111abcdef8.cloudfront.net→/v1/me→401→-→acme-desktop/4.2.1%2520(Windows%2520NT%252010.0)→-→...
//! ```
//!
//! `time-taken` is in seconds (IIS writes milliseconds under the same
//! name). Records are not in time order and files arrive late: nothing
//! here assumes an order.

use std::borrow::Cow;
use std::sync::Arc;

use super::{IndexedRecord, Parsed, SkipReason, Source};

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "cloudfront",
    title: "Amazon CloudFront standard log (access log)",
    detection: "a `#Fields:` directive naming CloudFront's fields (`x-edge-location`, \
                `x-edge-request-id`, ...) in the first lines",
    example: "#Version: 1.0\n\
              #Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken\n\
              2026-03-02\t08:00:01\tFRA56-P1\t512\t203.0.113.9\tGET\td111111abcdef8.cloudfront.net\t/v1/me\t401\t-\tacme-desktop/4.2.1%2520(Windows%2520NT%252010.0)\t-\t-\tError\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\tauth.example.com\thttps\t389\t0.012",
    sources: &[Source::latency("time-taken", "s")],
    stateful: true,
    sniff: |lines, _| {
        if lines.iter().any(|l| is_cloudfront_header(l)) {
            lines.len()
        } else {
            0
        }
    },
    parser: |_| {
        Ok(super::LineParser::Other(Box::new(
            CloudFrontParser::default(),
        )))
    },
};

/// A `#Fields:` directive with a field only CloudFront writes.
fn is_cloudfront_header(line: &str) -> bool {
    line.strip_prefix("#Fields:").is_some_and(|f| {
        f.split_whitespace()
            .any(|n| n.starts_with("x-edge-") || n == "x-host-header")
    })
}

/// The synthetic columns added after the header's: `date` and `time`
/// joined, and `cs-uri-stem` with `cs-uri-query`.
const TIMESTAMP: &str = "timestamp";
const PATH: &str = "path";

/// How many times a value is decoded at most: CloudFront encodes once,
/// and the user agent often arrives encoded already.
const MAX_DECODES: usize = 3;

/// The columns of the last `#Fields:` seen, and where the ones this
/// module combines are.
#[derive(Clone, Default)]
pub struct CloudFrontParser {
    header: Option<Header>,
}

#[derive(Clone)]
struct Header {
    /// The header's names, then [`TIMESTAMP`] and [`PATH`].
    names: Arc<[String]>,
    /// The header's own column count.
    columns: usize,
    date: Option<usize>,
    time: Option<usize>,
    stem: Option<usize>,
    query: Option<usize>,
    user_agent: Option<usize>,
}

impl Header {
    fn new(fields: &str) -> Header {
        let mut names: Vec<String> = fields.split_whitespace().map(str::to_string).collect();
        let at = |n: &str| names.iter().position(|x| x == n);
        let (date, time, stem, query, user_agent) = (
            at("date"),
            at("time"),
            at("cs-uri-stem"),
            at("cs-uri-query"),
            at("cs(User-Agent)"),
        );
        let columns = names.len();
        names.push(TIMESTAMP.into());
        names.push(PATH.into());
        Header {
            names: names.into(),
            columns,
            date,
            time,
            stem,
            query,
            user_agent,
        }
    }
}

impl super::FormatParser for CloudFrontParser {
    fn parse<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, SkipReason> {
        self.parse_line(line).map(Parsed::Indexed)
    }

    fn clone_box(&self) -> Box<dyn super::FormatParser> {
        Box::new(self.clone())
    }
}

impl CloudFrontParser {
    pub fn parse_line<'a>(&mut self, line: &'a str) -> Result<IndexedRecord<'a>, SkipReason> {
        if let Some(d) = line.strip_prefix('#') {
            if let Some(f) = d.strip_prefix("Fields:") {
                self.header = Some(Header::new(f));
            }
            return Err(SkipReason::Comment);
        }
        let h = self.header.as_ref().ok_or(SkipReason::Unparsable)?;
        // AWS's own sample ends a line with a stray TAB.
        let line = line.trim_end_matches(['\t', '\r', ' ']);
        let cols: Vec<&str> = line.split('\t').map(|c| c.trim_matches(' ')).collect();
        if cols.len() != h.columns {
            return Err(SkipReason::Unparsable);
        }
        let mut values: Vec<Option<Cow<'a, str>>> = Vec::with_capacity(h.names.len());
        for (i, v) in cols.iter().enumerate() {
            values.push(if is_empty(v) {
                None
            } else if Some(i) == h.user_agent {
                Some(decode(v, MAX_DECODES))
            } else {
                Some(decode(v, 1))
            });
        }
        let col = |i: Option<usize>| i.and_then(|i| cols.get(i)).filter(|v| !is_empty(v));
        values.push(match (col(h.date), col(h.time)) {
            (Some(d), Some(t)) => Some(Cow::Owned(format!("{d} {t}"))),
            _ => None,
        });
        let stem = h.stem.and_then(|i| values[i].as_deref());
        let query = h.query.and_then(|i| values[i].as_deref());
        values.push(match (stem, query) {
            (Some(s), Some(q)) => Some(Cow::Owned(format!("{s}?{q}"))),
            (Some(s), None) => Some(Cow::Owned(s.to_string())),
            _ => None,
        });
        Ok(IndexedRecord {
            names: h.names.clone(),
            values,
        })
    }
}

fn is_empty(v: &str) -> bool {
    v.is_empty() || v == "-"
}

/// `v` URL-decoded up to `rounds` times, stopping once it has no escape
/// left. Only `%XX` with two hex digits is an escape: a lone `%` stays. A
/// round whose bytes are not UTF-8 is not taken (the value stays as it was
/// before it), so no input makes invalid text.
fn decode(v: &str, rounds: usize) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(v);
    for _ in 0..rounds {
        match decode_once(&out) {
            Some(s) => out = Cow::Owned(s),
            None => break,
        }
    }
    out
}

/// One round of `%XX` decoding; `None` when there is no escape or the
/// result is not UTF-8.
fn decode_once(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut any = false;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h << 4) | l);
            any = true;
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if !any {
        return None;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
