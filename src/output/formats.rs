//! The text of `authstorm formats` (the registry, one block per format)
//! and of `authstorm formats test FILE` (an [`Inspection`]).

use std::fmt::Write;

use crate::format::{FORMATS, FormatDef};
use crate::input::Compression;
use crate::scan::inspect::Inspection;

/// Every format of the registry: name, what writes it, how it is
/// detected, its own field names, an example line.
pub fn list() -> String {
    let mut out = String::new();
    for (i, d) in FORMATS.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        block(&mut out, d);
    }
    out.push_str(
        "\nEvery format also maps the usual names (nginx variables, ECS, IIS, \
         Cloudflare...); `[fields]` in the config maps any other.\n\
         `authstorm formats test FILE` shows how a file is read.\n",
    );
    out
}

fn block(out: &mut String, d: &FormatDef) {
    let _ = writeln!(out, "{}  {}", d.name, d.title);
    let _ = writeln!(out, "  detected: {}", d.detection);
    if !d.sources.is_empty() {
        let names: Vec<String> = d
            .sources
            .iter()
            .map(|s| match s.unit {
                Some(u) => format!("{} <- {} ({u})", s.field, s.key),
                None => format!("{} <- {}", s.field, s.key),
            })
            .collect();
        let _ = writeln!(out, "  fields:   {}", names.join(", "));
    }
    for (i, line) in d.example.lines().enumerate() {
        let label = if i == 0 { "example: " } else { "         " };
        let _ = writeln!(out, "  {label} {}", line.trim_start());
    }
}

/// `formats test`: the verdict, then each line inspected.
pub fn render(x: &Inspection) -> String {
    let mut out = String::new();
    let compression = match x.compression {
        Compression::None => String::new(),
        c => format!(" ({})", c.name()),
    };
    let _ = writeln!(out, "file      {}{compression}", x.path);
    let others: Vec<String> = x
        .scores
        .iter()
        .filter(|(k, _)| Some(*k) != x.format)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let score = |k| {
        x.scores
            .iter()
            .find(|(s, _)| *s == k)
            .map_or(0, |(_, n)| *n)
    };
    match (x.format, &x.not_access_log, &x.error) {
        (_, Some(what), _) => {
            let _ = writeln!(
                out,
                "format    none: not an access log ({what}); a scan lists it and skips it"
            );
        }
        (Some(k), _, _) if x.forced => {
            let _ = writeln!(
                out,
                "format    {k} (given; it reads {} of the {} sample lines)",
                score(k),
                x.sample_lines
            );
        }
        (Some(k), _, _) => {
            let _ = writeln!(
                out,
                "format    {k}, detected: it reads {} of the {} sample lines",
                score(k),
                x.sample_lines
            );
        }
        (None, _, Some(e)) => {
            let _ = writeln!(out, "format    none: {e}");
            if let Some(c) = &x.closest {
                let _ = writeln!(
                    out,
                    "closest   {}, {} of {} lines (detection needs a fifth)",
                    c.format, c.reads, x.sample_lines
                );
                for (n, why) in &c.misses {
                    let _ = writeln!(out, "  line {n}: {why}");
                }
            }
        }
        (None, _, None) => {
            let _ = writeln!(out, "format    none: no line but blank ones");
        }
    }
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "also read {} (sample lines each format reads)",
            others.join(", ")
        );
    }
    for l in &x.lines {
        let _ = writeln!(out, "\nline {}   {}", l.number, l.text);
        if let Some(reason) = l.skipped
            && l.record.is_empty()
        {
            let _ = writeln!(out, "  skipped: {}", reason.name());
            continue;
        }
        let _ = writeln!(out, "  record:");
        let width = l.record.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in &l.record {
            let _ = writeln!(out, "    {k:width$}  {v}");
        }
        let _ = writeln!(out, "  normalized fields (from):");
        for p in &l.fields {
            let _ = writeln!(out, "    {:14}  {}  ({})", p.field.name(), p.value, p.key);
        }
        match (&l.request, l.skipped) {
            (_, Some(reason)) => {
                let _ = writeln!(out, "  skipped: {}", reason.name());
            }
            (Some(r), None) => {
                let latency = r
                    .latency_ms
                    .map(|ms| format!(", {ms} ms"))
                    .unwrap_or_default();
                let status = r
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into());
                let _ = writeln!(
                    out,
                    "  request: {} {} -> {status}{latency}",
                    r.time, r.endpoint
                );
                let _ = writeln!(
                    out,
                    "           client {}; app {} {}; token {}{}",
                    r.client,
                    r.app,
                    r.version,
                    r.token_state,
                    if r.health_check {
                        "; a health check (not counted)"
                    } else {
                        ""
                    }
                );
            }
            (None, None) => {}
        }
    }
    out
}
