//! The postmortem document: one content model rendered to a self-contained
//! `report.html` (inline SVG and CSS, nothing fetched, no script) and to a
//! `report.md` that references the PNGs. Every string from a log is escaped
//! for its output, so a user agent like `<script>` stays text.

use std::fmt::Write as _;

use super::table::{culprit_name, event_lines, sanitize, thousands};
use crate::detect::{Storm, StormKind};
use crate::report::Report;
use crate::time::{DisplayTz, Micros};

/// A table: headers and rows of plain (unescaped) text.
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The postmortem's content, rendered by [`html`] and [`markdown`].
pub struct Doc {
    pub title: String,
    pub summary: Vec<String>,
    pub events: Vec<(String, String)>,
    pub storms: Table,
    pub cohorts: Table,
    pub endpoints: Table,
    pub quality: Table,
    pub examples: Vec<(String, u64, String, String)>,
    pub command: String,
    pub inputs: Vec<String>,
}

fn pct(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.1}%", a as f64 * 100.0 / b as f64)
    }
}

/// The document for `r`, times in `tz`; `command` is the command line
/// shown under "How this was produced".
pub fn build(r: &Report, tz: DisplayTz, command: &str) -> Doc {
    let start = r.input.time_range.start.clone().unwrap_or_default();
    let end = r.input.time_range.end.clone().unwrap_or_default();
    let storms: Vec<_> = r
        .storms
        .iter()
        .filter(|s| s.kind == StormKind::Storm)
        .collect();
    let others: Vec<&Storm> = r
        .storms
        .iter()
        .filter(|s| s.kind != StormKind::Storm)
        .collect();
    Doc {
        title: if storms.is_empty() && !others.is_empty() {
            other_title(&others, tz)
        } else {
            title(&storms, &start, &end, tz)
        },
        summary: summary(r, &storms, &start, &end, tz),
        events: event_timeline(r, &start, &end, tz),
        storms: storms_table(r, tz),
        cohorts: cohorts_table(r),
        endpoints: endpoints_table(r),
        quality: quality_table(r),
        examples: skip_examples(r),
        command: sanitize(command),
        inputs: r.input.files.iter().map(|f| sanitize(&f.path)).collect(),
    }
}

/// A time to the minute, with the date.
fn minute(tz: DisplayTz, t: Micros) -> String {
    tz.format(t, "%Y-%m-%d %H:%M")
}

/// Named for the retry storms, in time order (each with its start and
/// culprit), else for the time range.
fn title(storms: &[&Storm], start: &str, end: &str, tz: DisplayTz) -> String {
    let culprit = |s: &Storm| s.culprits.first().map(culprit_name).unwrap_or_default();
    let mut ordered: Vec<&Storm> = storms.to_vec();
    ordered.sort_by_key(|s| s.times.start);
    match ordered.as_slice() {
        [] => format!("Auth traffic {start} – {end}"),
        [s] => format!("Retry storm {} — {}", minute(tz, s.times.start), culprit(s)),
        all => {
            let parts: Vec<String> = all
                .iter()
                .map(|s| format!("{} {}", tz.format(s.times.start, "%H:%M"), culprit(s)))
                .collect();
            format!(
                "{} retry storms from {} — {}",
                all.len(),
                minute(tz, all[0].times.start),
                parts.join("; ")
            )
        }
    }
}

/// Named for the outages and surges, in time order, when there is no
/// retry storm.
fn other_title(episodes: &[&Storm], tz: DisplayTz) -> String {
    let mut ordered = episodes.to_vec();
    ordered.sort_by_key(|s| s.times.start);
    let name = |s: &Storm| {
        let kind = match s.kind {
            StormKind::Outage => "Outage",
            StormKind::Surge => "Surge",
            StormKind::Storm => "Retry storm",
        };
        match s.culprits.first() {
            Some(c) => format!("{kind} {} — {}", minute(tz, s.times.start), culprit_name(c)),
            None => format!("{kind} {}", minute(tz, s.times.start)),
        }
    };
    match ordered.as_slice() {
        [one] => name(one),
        all => all.iter().map(|s| name(s)).collect::<Vec<_>>().join("; "),
    }
}

/// The paragraphs on top: what was read, then one per retry storm (or a
/// line saying there was none).
fn summary(r: &Report, storms: &[&Storm], start: &str, end: &str, tz: DisplayTz) -> Vec<String> {
    let mut summary = Vec::new();
    summary.push(format!(
        "{} requests from {} clients in {}, {} to {} ({}); {} lines, {} skipped.",
        thousands(r.totals.requests),
        thousands(r.totals.clients),
        match r.input.files.len() {
            1 => "1 file".to_string(),
            n => format!("{n} files"),
        },
        start,
        end,
        "UTC",
        thousands(r.input.lines),
        thousands(r.input.skipped)
    ));
    if storms.is_empty() {
        summary.push(match r.storms.len() {
            0 => "No retry storm, surge or outage was found.".into(),
            n => format!("No retry storm was found; {n} other episode(s) are listed below."),
        });
    }
    for s in storms {
        summary.push(storm_paragraph(s, tz));
    }
    summary
}

/// One retry storm in prose: who, when, how big, when it was rate
/// limited, and what it did to everyone else.
fn storm_paragraph(s: &Storm, tz: DisplayTz) -> String {
    let who = s
        .culprits
        .first()
        .map(culprit_name)
        .unwrap_or_else(|| "an unknown cohort".into());
    let share = s
        .culprits
        .first()
        .map(|c| c.share_of_excess * 100.0)
        .unwrap_or(0.0);
    let mut p = format!(
        "A retry storm from {who} ran from {} to {} {}, peaking at {:.1} req/s ({:.1}× the baseline of {:.1} req/s) at {}; that cohort explains {share:.0}% of the excess traffic",
        minute(tz, s.times.start),
        if s.ongoing {
            "the end of the logs".to_string()
        } else {
            tz.format(s.times.end, "%H:%M")
        },
        tz.name(),
        s.peak_rps,
        if s.baseline_rps > 0.0 {
            s.peak_rps / s.baseline_rps
        } else {
            0.0
        },
        s.baseline_rps,
        tz.format(s.times.peak, "%H:%M"),
    );
    if let Some(a) = s.amplification {
        let _ = write!(
            p,
            ", and its clients sent {a:.1}× as many requests each as before"
        );
    }
    p.push('.');
    if let Some(m) = s.times.mitigation {
        let _ = write!(
            p,
            " Rate limiting (429/403) reached it at {}.",
            tz.format(m, "%H:%M")
        );
    }
    let i = &s.impact;
    let _ = write!(
        p,
        " Everyone else: {} of {} login attempts timed out and {} failed; 5xx went from {:.1}% to {:.1}%",
        thousands(i.login_timeouts),
        thousands(i.login_attempts),
        thousands(i.login_failures),
        i.error_5xx_share_before * 100.0,
        i.error_5xx_share_during * 100.0
    );
    if let (Some(b), Some(d)) = (i.p95_latency_ms_before, i.p95_latency_ms_during) {
        let _ = write!(p, " and p95 latency from {b:.0} ms to {d:.0} ms");
    }
    p.push('.');
    p
}

/// Every episode's events (start, peak, mitigation, end), the date shown
/// only when the logs span more than one.
fn event_timeline(r: &Report, start: &str, end: &str, tz: DisplayTz) -> Vec<(String, String)> {
    let tfmt = if start.get(..10) == end.get(..10) {
        "%H:%M"
    } else {
        "%m-%d %H:%M"
    };
    // In time order across episodes (an outage may begin before the storm
    // listed ahead of it ends); an episode's lines at one time keep theirs.
    let mut lines: Vec<(i64, String)> = r.storms.iter().flat_map(event_lines).collect();
    lines.sort_by_key(|(t, _)| *t);
    lines
        .into_iter()
        .map(|(t, l)| (tz.format(t, tfmt), l))
        .collect()
}

fn storms_table(r: &Report, tz: DisplayTz) -> Table {
    Table {
        title: "Storms, surges and outages".into(),
        headers: [
            "kind",
            "start",
            "peak",
            "mitigation",
            "end",
            "peak req/s",
            "baseline req/s",
            "per-client ×",
            "culprit",
            "share",
            "retry ratio",
            "backoff",
        ]
        .map(String::from)
        .to_vec(),
        rows: r.storms.iter().map(|s| storm_row(s, tz)).collect(),
    }
}

fn storm_row(s: &Storm, tz: DisplayTz) -> Vec<String> {
    let c = s.culprits.first();
    vec![
        format!("{:?}", s.kind).to_lowercase(),
        minute(tz, s.times.start),
        tz.format(s.times.peak, "%H:%M"),
        s.times
            .mitigation
            .map(|m| tz.format(m, "%H:%M"))
            .unwrap_or_else(|| "-".into()),
        if s.ongoing {
            "ongoing".into()
        } else {
            tz.format(s.times.end, "%H:%M")
        },
        format!("{:.1}", s.peak_rps),
        format!("{:.1}", s.baseline_rps),
        s.amplification
            .map(|a| format!("{a:.1}"))
            .unwrap_or_else(|| "-".into()),
        c.map(culprit_name).unwrap_or_else(|| "-".into()),
        c.map(|c| format!("{:.0}%", c.share_of_excess * 100.0))
            .unwrap_or_default(),
        c.map(|c| format!("{:.2}", c.retry_ratio))
            .unwrap_or_default(),
        c.map(|c| {
            c.backoff
                .iter()
                .map(|(k, v)| format!("{} {v}", k.name()))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default(),
    ]
}

/// The 30 busiest cohorts.
fn cohorts_table(r: &Report) -> Table {
    Table {
        title: "Cohorts (app × version × token state)".into(),
        headers: [
            "app",
            "version",
            "token",
            "requests",
            "clients",
            "req/client",
            "retries",
            "errors",
            "p95 ms",
        ]
        .map(String::from)
        .to_vec(),
        rows: r
            .cohorts
            .iter()
            .take(30)
            .map(|c| {
                vec![
                    sanitize(&c.app),
                    sanitize(&c.version),
                    c.token_state.name().into(),
                    thousands(c.requests),
                    thousands(c.clients),
                    if c.clients > 0 {
                        format!("{:.1}", c.requests as f64 / c.clients as f64)
                    } else {
                        "-".into()
                    },
                    thousands(c.retries),
                    pct(c.errors, c.requests),
                    c.p95_latency_ms
                        .map(|v| format!("{v:.1}"))
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect(),
    }
}

/// The 15 busiest endpoints.
fn endpoints_table(r: &Report) -> Table {
    Table {
        title: "Top endpoints".into(),
        headers: ["endpoint", "requests", "clients", "errors", "p95 ms"]
            .map(String::from)
            .to_vec(),
        rows: r
            .endpoints
            .iter()
            .take(15)
            .map(|e| {
                vec![
                    sanitize(&e.endpoint),
                    thousands(e.requests),
                    thousands(e.clients),
                    pct(e.errors, e.requests),
                    e.p95_latency_ms
                        .map(|v| format!("{v:.1}"))
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect(),
    }
}

/// Per input file: its format, what was read and skipped, and why.
fn quality_table(r: &Report) -> Table {
    Table {
        title: "Data quality".into(),
        headers: [
            "file",
            "format",
            "compression",
            "lines",
            "parsed",
            "skipped",
            "reasons",
            "problem",
        ]
        .map(String::from)
        .to_vec(),
        rows: r
            .input
            .files
            .iter()
            .map(|f| {
                vec![
                    sanitize(&f.path),
                    match (f.format, f.not_access_log) {
                        (Some(k), _) => k.name().into(),
                        (None, Some(what)) => format!("not an access log ({what})"),
                        (None, None) => "-".into(),
                    },
                    f.compression.name().into(),
                    thousands(f.lines),
                    thousands(f.parsed),
                    thousands(f.skipped),
                    f.skipped_by_reason
                        .iter()
                        .map(|(k, v)| format!("{} {v}", k.name()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    f.error.as_deref().map(sanitize).unwrap_or_default(),
                ]
            })
            .collect(),
    }
}

/// Up to 25 skipped lines: (file, line number, reason, text).
fn skip_examples(r: &Report) -> Vec<(String, u64, String, String)> {
    r.input
        .files
        .iter()
        .flat_map(|f| {
            f.skip_examples.iter().map(move |e| {
                (
                    sanitize(&f.path),
                    e.line,
                    e.reason.name().to_string(),
                    sanitize(&e.text),
                )
            })
        })
        .take(25)
        .collect()
}

pub fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Escapes Markdown (and inline HTML) so log text renders as itself, and
/// only where a character could start markup, so the Markdown still reads
/// as plain text: `(UTC)`, `token_expired` and `4.2.1` stay as they are.
/// Escaped: backslashes, code ticks, emphasis stars, underscores at a word's
/// edge, brackets (links), pipes (tables), `~~`, HTML's `<`, `>`, `&`, and
/// a heading, list or quote marker at the start.
pub fn md_escape(s: &str) -> String {
    let chars: Vec<char> = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let word = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphanumeric())
    };
    let mut o = String::with_capacity(s.len());
    // A block marker at the start: `# `, `- `, `+ `, `* `, `> `, `1. `.
    let lead = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    let numbered = lead > 0 && chars.get(lead) == Some(&'.') && chars.get(lead + 1) == Some(&' ');
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\\' | '`' | '*' | '[' | ']' | '|' => {
                o.push('\\');
                o.push(c);
            }
            '_' if !(word(i.checked_sub(1)) && word(Some(i + 1))) => o.push_str("\\_"),
            '~' if chars.get(i + 1) == Some(&'~') || (i > 0 && chars[i - 1] == '~') => {
                o.push_str("\\~")
            }
            '#' | '-' | '+' if i == 0 => {
                o.push('\\');
                o.push(c);
            }
            '.' if numbered && i == lead => o.push_str("\\."),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}\
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5rem 0;font-size:13px}\
th,td{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right}th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}\
.events li{font-family:ui-monospace,monospace;list-style:none}.meta{color:#666}svg{max-width:100%;height:auto;border:1px solid #eee}\
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto}";

fn html_table(t: &Table, o: &mut String) {
    let _ = write!(o, "<h2>{}</h2><table><thead><tr>", html_escape(&t.title));
    for h in &t.headers {
        let _ = write!(o, "<th>{}</th>", html_escape(h));
    }
    o.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        o.push_str("<tr>");
        for c in r {
            let _ = write!(o, "<td>{}</td>", html_escape(c));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>\n");
}

/// The HTML report; `svgs` are (name, inline SVG markup from plotters).
pub fn html(d: &Doc, svgs: &[(&str, String)]) -> String {
    let svg = |name: &str| {
        svgs.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| strip_xml_decl(s))
            .unwrap_or_default()
    };
    let mut o = String::new();
    let _ = write!(
        o,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        html_escape(&d.title),
        html_escape(&d.title)
    );
    o.push_str("<h2>Summary</h2>");
    for p in &d.summary {
        let _ = write!(o, "<p>{}</p>", html_escape(p));
    }
    if !d.events.is_empty() {
        o.push_str("<h2>Event timeline</h2><ul class=\"events\">");
        for (t, l) in &d.events {
            let _ = write!(o, "<li>{} &nbsp;{}</li>", html_escape(t), html_escape(l));
        }
        o.push_str("</ul>");
    }
    let _ = writeln!(o, "<h2>Timeline</h2>{}", svg("timeline"));
    if !d.storms.rows.is_empty() {
        html_table(&d.storms, &mut o);
    }
    let _ = writeln!(o, "<h2>Cohorts</h2>{}", svg("cohorts"));
    html_table(&d.cohorts, &mut o);
    let _ = writeln!(o, "<h2>Retries</h2>{}", svg("retries"));
    html_table(&d.endpoints, &mut o);
    html_table(&d.quality, &mut o);
    if !d.examples.is_empty() {
        o.push_str("<h3>Skipped lines (examples)</h3><table><thead><tr><th>file</th><th>line</th><th>reason</th><th>text</th></tr></thead><tbody>");
        for (f, l, r, t) in &d.examples {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{l}</td><td>{}</td><td style=\"text-align:left\"><code>{}</code></td></tr>",
                html_escape(f),
                html_escape(r),
                html_escape(t)
            );
        }
        o.push_str("</tbody></table>");
    }
    let _ = write!(
        o,
        "<h2>How this was produced</h2><pre>{}</pre><p class=\"meta\">Inputs:</p><ul>",
        html_escape(&d.command)
    );
    for i in &d.inputs {
        let _ = write!(o, "<li><code>{}</code></li>", html_escape(i));
    }
    let _ = writeln!(
        o,
        "</ul><p class=\"meta\">Generated by authstorm {}. Times in the tables are in the display zone; data files are UTC.</p></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    o
}

fn strip_xml_decl(s: &str) -> &str {
    match s.find("<svg") {
        Some(i) => &s[i..],
        None => s,
    }
}

fn md_table(t: &Table, o: &mut String) {
    let _ = writeln!(o, "\n## {}\n", md_escape(&t.title));
    let _ = writeln!(
        o,
        "| {} |",
        t.headers
            .iter()
            .map(|h| md_escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(o, "|{}", " --- |".repeat(t.headers.len()));
    for r in &t.rows {
        let _ = writeln!(
            o,
            "| {} |",
            r.iter()
                .map(|c| md_escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
}

/// The Markdown report, referencing the PNGs next to it.
pub fn markdown(d: &Doc) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", md_escape(&d.title));
    for p in &d.summary {
        let _ = writeln!(o, "{}\n", md_escape(p));
    }
    if !d.events.is_empty() {
        o.push_str("## Event timeline\n\n");
        for (t, l) in &d.events {
            let _ = writeln!(o, "- **{}** {}", md_escape(t), md_escape(l));
        }
    }
    o.push_str("\n## Timeline\n\n![Requests by token state, errors and latency](timeline.png)\n");
    if !d.storms.rows.is_empty() {
        md_table(&d.storms, &mut o);
    }
    o.push_str("\n![Cohorts](cohorts.png)\n");
    md_table(&d.cohorts, &mut o);
    o.push_str("\n## Retries\n\n![Retry ratio and requests per client](retries.png)\n");
    md_table(&d.endpoints, &mut o);
    md_table(&d.quality, &mut o);
    if !d.examples.is_empty() {
        o.push_str("\n### Skipped lines (examples)\n\n| file | line | reason | text |\n| --- | --- | --- | --- |\n");
        for (f, l, r, t) in &d.examples {
            let _ = writeln!(
                o,
                "| {} | {l} | {} | {} |",
                md_escape(f),
                md_escape(r),
                md_escape(t)
            );
        }
    }
    let _ = writeln!(
        o,
        "\n## How this was produced\n\n```text\n{}\n```\n",
        d.command.replace("```", "'''")
    );
    for i in &d.inputs {
        let _ = writeln!(o, "- {}", md_escape(i));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            html_escape("<script>alert('x')</script>&"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
        assert_eq!(
            md_escape("a|b*c_[x](y)<b>"),
            "a\\|b\\*c\\_\\[x\\](y)&lt;b&gt;"
        );
        assert_eq!(md_escape("line\nbreak"), "line break");
        // Plain text stays plain.
        for plain in [
            "08:00 to 09:30 (UTC)",
            "token_expired",
            "acme-desktop 4.2.1",
            "GET /v1/me",
        ] {
            assert_eq!(md_escape(plain), plain);
        }
        assert_eq!(md_escape("# not a heading"), "\\# not a heading");
        assert_eq!(md_escape("- not a list"), "\\- not a list");
        assert_eq!(md_escape("12. not a list"), "12\\. not a list");
        assert_eq!(md_escape("_x_ ~~y~~"), "\\_x\\_ \\~\\~y\\~\\~");
    }
}
