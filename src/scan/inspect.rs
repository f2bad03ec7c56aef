//! `authstorm formats test`: how an input's first lines are read. Which
//! format detection chose and why (every format's count of sample lines
//! read), then each line: the record its format parsed, every normalized
//! field with the key it came from, and what the request became (time,
//! client, app, version, token state).
//!
//! It reads through the scan's own steps (opening, decompression,
//! detection, the format's field mapping), so what it shows is what a scan
//! does; only the per-line path is the reference one, not the fast one.

use std::io;

use serde::Serialize;

use super::{Choice, Reader, ScanOptions, choose_format, file_name, open_head, sample_lines};
use crate::event::Provenance;
use crate::format::not_access::NotAccessLog;
use crate::format::{self, FormatKind, SkipReason};
use crate::input::Source;
use crate::input::decompress::Compression;

/// What `formats test` found.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub path: String,
    pub compression: Compression,
    /// The format the lines are read as: given (`--format`, `[format]
    /// name`) or detected.
    pub format: Option<FormatKind>,
    pub forced: bool,
    /// Non-blank lines in the sample detection looked at.
    pub sample_lines: usize,
    /// Every format that read some sample line, most first.
    pub scores: Vec<(FormatKind, usize)>,
    /// Set when the input is no access log (and is skipped).
    pub not_access_log: Option<NotAccessLog>,
    /// Why the input could not be read, if it could not.
    pub error: Option<String>,
    /// When no format was chosen: the one that came closest, and why each
    /// of the first lines is not it.
    pub closest: Option<Closest>,
    pub lines: Vec<InspectedLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Closest {
    pub format: FormatKind,
    /// Sample lines it reads.
    pub reads: usize,
    /// (line number, why it is not this format), for the first lines it
    /// does not read.
    pub misses: Vec<(usize, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectedLine {
    /// 1-based, in the input.
    pub number: usize,
    pub text: String,
    /// Why the line is skipped, if it is.
    pub skipped: Option<SkipReason>,
    /// The record's keys and values, as its format parsed them.
    pub record: Vec<(String, String)>,
    /// Each normalized field found, with the key it came from.
    pub fields: Vec<Provenance>,
    pub request: Option<Request>,
}

/// What a line became.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    /// RFC 3339, UTC.
    pub time: String,
    pub client: String,
    pub app: String,
    pub version: String,
    pub token_state: String,
    pub endpoint: String,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    pub health_check: bool,
}

/// Inspects the first `max_lines` non-blank lines of `src`.
pub fn inspect(src: &Source, o: &ScanOptions, max_lines: usize) -> io::Result<Inspection> {
    let mut report = super::new_report(src);
    let bar = indicatif::ProgressBar::hidden();
    let head = open_head(src, &bar, &mut report)?;
    let lines = sample_lines(&head.head, head.complete);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let detection = format::explain(&refs, &o.custom);
    let mut out = Inspection {
        path: src.display(),
        compression: report.compression,
        format: None,
        forced: o.format.is_some(),
        sample_lines: detection.lines,
        scores: detection.scores,
        not_access_log: None,
        error: None,
        closest: None,
        lines: Vec::new(),
    };
    let name = file_name(src);
    let kind = match choose_format(&head.head, head.complete, name.as_deref(), o) {
        Ok(Choice::Format(kind)) => kind,
        Ok(Choice::Blank) => return Ok(out),
        Ok(Choice::NotAccessLog(what)) => {
            out.not_access_log = Some(what);
            return Ok(out);
        }
        Err(e) => {
            out.error = Some(crate::error::chain(&e));
            out.closest = closest(&out, &lines, o, max_lines);
            return Ok(out);
        }
    };
    out.format = Some(kind);
    let mut reader =
        Reader::new(kind, o).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut ts = crate::time::TsCache::default();
    let mut memo = crate::classify::Memo::default();
    for (i, text) in lines.iter().enumerate() {
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        if out.lines.len() >= max_lines {
            break;
        }
        out.lines
            .push(line(&mut reader, i + 1, text, o, &mut ts, &mut memo));
    }
    Ok(out)
}

/// The format that read the most sample lines (combined when none read
/// any: the most common access log), and why the first lines it misses
/// are not it.
fn closest(x: &Inspection, lines: &[String], o: &ScanOptions, max: usize) -> Option<Closest> {
    let (format, reads) = match x.scores.first() {
        Some(&(k, n)) => (k, n),
        None => (FormatKind::from_name("combined")?, 0),
    };
    let mut parser = format.parser(&o.custom).ok()?;
    let misses = (lines.iter().enumerate())
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
        .filter_map(|(n, l)| parser.why(l).map(|w| (n, w)))
        .take(max.max(1))
        .collect();
    Some(Closest {
        format,
        reads,
        misses,
    })
}

fn line(
    reader: &mut Reader,
    number: usize,
    text: &str,
    o: &ScanOptions,
    ts: &mut crate::time::TsCache,
    memo: &mut crate::classify::Memo,
) -> InspectedLine {
    let mut l = InspectedLine {
        number,
        text: text.to_string(),
        skipped: None,
        record: Vec::new(),
        fields: Vec::new(),
        request: None,
    };
    let parsed = match reader.parser.parse(text) {
        Ok(p) => p,
        Err(reason) => {
            l.skipped = Some(reason);
            return l;
        }
    };
    let rec = parsed.record();
    rec.visit(&mut |key, v| {
        let name = match key {
            format::record::Key::Name(n) => n.to_string(),
            format::record::Key::Slot(i) => format::clf::SLOTS
                .get(i)
                .and_then(|n| n.first())
                .map_or_else(|| format!("slot_{i}"), |n| n.to_string()),
            format::record::Key::Extra(n) => format!("extra_{n}"),
        };
        l.record.push((name, v.into_owned()));
    });
    l.fields = reader.fields.explain(rec);
    let raw = reader.fields.resolve(rec);
    match raw.normalize_with(ts) {
        Ok(ev) => {
            let c = o.classifier.classify(&ev, memo);
            let client = ev
                .client_id
                .or(ev.user)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!("{} + user agent", ev.client_ip.unwrap_or("(no address)"))
                });
            l.request = Some(Request {
                time: crate::time::rfc3339_exact(c.ts),
                client,
                app: c.app.to_string(),
                version: c.version.to_string(),
                token_state: c.token_state.name().to_string(),
                endpoint: c.endpoint(),
                status: c.status,
                latency_ms: c.latency_ms,
                health_check: c.health,
            });
        }
        Err(reason) => l.skipped = Some(reason),
    }
    l
}
