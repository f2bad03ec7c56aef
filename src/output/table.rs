//! Terminal rendering with comfy-table: overview, cohorts, a compact
//! timeline, top endpoints, ad-hoc groups and input problems. Every string
//! that came from a log is neutralized (control characters and escape
//! sequences cannot reach the terminal).

use std::io::{self, Write};

use comfy_table::{
    Attribute, Cell, CellAlignment, ContentArrangement, LineStyle, Table, TableStyle,
};

use crate::detect::{Culprit, Storm, StormKind};
use crate::report::{BucketRow, Report};
use crate::retry::Backoff;
use crate::time::{DisplayTz, parse_timestamp};

pub struct TableOptions {
    pub color: bool,
    pub width: Option<u16>,
    pub tz: DisplayTz,
    pub top: usize,
    /// Maximum rows of the compact timeline.
    pub timeline_rows: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            color: false,
            width: None,
            tz: DisplayTz::Utc,
            top: 15,
            timeline_rows: 24,
        }
    }
}

/// Replaces control characters (ESC, BEL, CR...) so log content cannot
/// move the cursor, recolour or retitle the engineer's terminal.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.1}"),
    }
}

/// A rule under the header and nothing else: compact, and pastes cleanly.
pub const STYLE: TableStyle =
    TableStyle::new().header_separator(LineStyle::none().fill('─').junction(' '));

struct Styler<'a> {
    o: &'a TableOptions,
}

impl Styler<'_> {
    fn table(&self, headers: &[&str]) -> Table {
        let mut t = Table::new();
        t.load_style(STYLE);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        if let Some(w) = self.o.width {
            t.set_width(w);
        }
        if self.o.color {
            t.enforce_styling();
        } else {
            t.force_no_tty();
        }
        t.set_header(headers.iter().map(|h| {
            let c = Cell::new(h);
            if self.o.color {
                c.add_attribute(Attribute::Bold)
            } else {
                c
            }
        }));
        for (i, _) in headers.iter().enumerate().skip(1) {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        t
    }

    /// Keeps every word of `t` whole: each column at least as wide as its
    /// longest word (header or cell), so a narrow terminal wraps between
    /// words, never inside one (`acme-mob` / `ile`). When that is still too
    /// wide for the terminal, the columns after the first lose their left
    /// padding.
    fn fit(&self, t: &mut Table) {
        let longest_word = |text: &str| {
            text.split_whitespace()
                .map(|w| w.chars().count())
                .max()
                .unwrap_or(0)
        };
        let n = t.column_count();
        let mut min = vec![0usize; n];
        let rows = t.header().into_iter().chain(t.row_iter());
        for row in rows {
            for (i, c) in row.cell_iter().enumerate().take(n) {
                min[i] = min[i].max(longest_word(&c.content()));
            }
        }
        // Two characters of padding and one of separation per column.
        let need: usize = min.iter().sum::<usize>() + 3 * n;
        let tight = self.o.width.is_some_and(|w| need > usize::from(w));
        // Words too long for the terminal even then (a 19-letter app name
        // beside eight columns in 80): the longest give way first, and only
        // they are cut.
        if let Some(w) = self.o.width.map(usize::from) {
            let room = w.saturating_sub(2 * n + 1);
            while min.iter().sum::<usize>() > room {
                let Some(widest) = (0..n).max_by_key(|&i| min[i]) else {
                    break;
                };
                if min[widest] <= 6 {
                    break;
                }
                min[widest] -= 1;
            }
        }
        for (i, m) in min.iter().enumerate() {
            if let Some(col) = t.column_mut(i) {
                let pad = if tight && i > 0 { 0 } else { 1 };
                col.set_padding((pad, 1));
                col.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(
                    comfy_table::Width::Fixed((*m + pad as usize + 1) as u16),
                ));
            }
        }
    }

    fn title(&self, w: &mut dyn Write, s: &str) -> io::Result<()> {
        if self.o.color {
            writeln!(w, "\n\x1b[1m{s}\x1b[0m")
        } else {
            writeln!(w, "\n{s}")
        }
    }
}

pub fn render(r: &Report, o: &TableOptions, w: &mut dyn Write) -> io::Result<()> {
    let st = Styler { o };
    overview(r, o, &st, w)?;
    storms(r, o, &st, w)?;
    cohorts(r, o, &st, w)?;
    timeline(r, o, &st, w)?;
    endpoints(r, o, &st, w)?;
    groups(r, o, &st, w)?;
    not_access_logs(r, &st, w)?;
    problems(r, &st, w)?;
    Ok(())
}

fn fmt_time(o: &TableOptions, rfc: &Option<String>) -> String {
    rfc.as_deref()
        .and_then(parse_timestamp)
        .map(|t| o.tz.format(t, "%Y-%m-%d %H:%M:%S"))
        .unwrap_or_else(|| "-".into())
}

/// Only the episodes: for `authstorm storms` and alerting.
pub fn render_storms(r: &Report, o: &TableOptions, w: &mut dyn Write) -> io::Result<()> {
    let st = Styler { o };
    storms(r, o, &st, w)
}

fn overview(r: &Report, o: &TableOptions, st: &Styler, w: &mut dyn Write) -> io::Result<()> {
    let i = &r.input;
    st.title(w, "Overview")?;
    let mut formats: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in &i.files {
        *formats
            .entry(match (f.format, f.not_access_log) {
                (Some(k), _) => k.name(),
                (None, Some(_)) => "not an access log",
                (None, None) => "unreadable",
            })
            .or_default() += 1;
    }
    let formats: Vec<String> = formats.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    let skipped = if i.skipped == 0 {
        "0".to_string()
    } else {
        let reasons: Vec<String> = i
            .skipped_by_reason
            .iter()
            .map(|(k, v)| format!("{} {}", k.name(), thousands(*v)))
            .collect();
        format!("{} ({})", thousands(i.skipped), reasons.join(", "))
    };
    let mut lines: Vec<(&str, String)> = Vec::new();
    let mut row = |k: &'static str, v: String| lines.push((k, v));
    row(
        "files",
        format!("{} ({})", i.files.len(), formats.join(", ")),
    );
    row("lines", thousands(i.lines));
    row(
        "parsed",
        format!("{} ({})", thousands(i.parsed), pct(i.parsed, i.lines)),
    );
    row("skipped", skipped);
    if i.filtered > 0 {
        row("outside --since/--until", thousands(i.filtered));
    }
    let unread: u64 = i.files.iter().map(|f| f.unread_bytes).sum();
    if unread > 0 {
        row(
            "not read",
            format!(
                "{:.1} MiB outside the window (time-ordered files: seeked past)",
                unread as f64 / (1 << 20) as f64
            ),
        );
    }
    row(
        "time range",
        format!(
            "{} → {} ({})",
            fmt_time(o, &i.time_range.start),
            fmt_time(o, &i.time_range.end),
            o.tz.name()
        ),
    );
    row("requests", thousands(r.totals.requests));
    row("clients", thousands(r.totals.clients));
    row("health checks", thousands(r.totals.health_checks));
    let states: Vec<String> = r
        .totals
        .by_token_state
        .iter()
        .map(|(k, v)| format!("{} {}", k.name(), pct(*v, r.totals.requests)))
        .collect();
    row("token states", states.join(", "));
    for (k, v) in lines {
        hanging(w, &format!("  {k:<24} "), &v, o.width)?;
    }
    Ok(())
}

/// Writes `text` after `prefix`, wrapped between words to `width` (when
/// known) with the lines after the first indented under its start.
fn hanging(w: &mut dyn Write, prefix: &str, text: &str, width: Option<u16>) -> io::Result<()> {
    let indent = prefix.chars().count();
    let Some(width) = width.map(usize::from).filter(|w| *w > indent + 20) else {
        return writeln!(w, "{prefix}{text}");
    };
    let room = width - indent;
    let mut line = String::new();
    let mut first = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > room {
            let lead = if first {
                prefix.to_string()
            } else {
                " ".repeat(indent)
            };
            writeln!(w, "{lead}{line}")?;
            first = false;
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let lead = if first {
        prefix.to_string()
    } else {
        " ".repeat(indent)
    };
    writeln!(w, "{lead}{line}")
}

fn backoff_words(c: &Culprit) -> &'static str {
    match c
        .backoff
        .iter()
        .filter(|(b, _)| **b != Backoff::Single)
        .max_by_key(|(_, n)| **n)
    {
        Some((Backoff::None, _)) => "no backoff",
        Some((Backoff::Fixed, _)) => "fixed-interval retries",
        Some((Backoff::Exponential, _)) => "exponential backoff",
        Some((Backoff::ExponentialJitter, _)) => "exponential backoff with jitter",
        Some((Backoff::Capped, _)) => "capped backoff",
        _ => "no retry chains",
    }
}

/// `acme-desktop 4.2.0–4.2.3`, or `all apps`.
fn app_label(c: &Culprit) -> String {
    match &c.app {
        Some(a) if c.versions.is_empty() => sanitize(a),
        Some(a) => format!("{} {}", sanitize(a), sanitize(&c.versions_display)),
        None => "all apps".to_string(),
    }
}

/// `acme-desktop 4.2.0–4.2.3 · expired · GET /v1/session`
pub fn culprit_name(c: &Culprit) -> String {
    let mut parts = vec![app_label(c)];
    if let Some(t) = c.token_state {
        parts.push(format!("{} token", t.name()));
    }
    if let Some(e) = &c.endpoint {
        parts.push(sanitize(e));
    }
    parts.join(" · ")
}

/// One line per event: start, peak, mitigation, end, and the impact.
pub fn event_lines(s: &Storm) -> Vec<(i64, String)> {
    let mut v = Vec::new();
    let kind = match s.kind {
        StormKind::Storm => "retry storm",
        StormKind::Surge => "surge",
        StormKind::Outage => "outage",
    };
    if let Some(c) = s.culprits.first() {
        let what = match c.token_state {
            Some(t) if c.retry_ratio >= 0.1 => format!("{}-token retries", t.name()),
            Some(t) => format!("{}-token requests", t.name()),
            None if c.retry_ratio >= 0.1 => "retries".to_string(),
            None => "requests".to_string(),
        };
        let app = app_label(c);
        let on = c
            .endpoint
            .as_deref()
            .map(|e| format!(" on {}", sanitize(e)))
            .unwrap_or_default();
        v.push((
            s.times.start,
            format!(
                "{kind} starts — {app}, {what}{on}, {}, {:.2} req/s per client",
                backoff_words(c),
                c.rps_per_client
            ),
        ));
    } else {
        v.push((s.times.start, format!("{kind} starts")));
    }
    let x = if s.baseline_rps > 0.0 {
        format!(
            " ({:.1}x baseline {:.1} req/s)",
            s.peak_rps / s.baseline_rps,
            s.baseline_rps
        )
    } else {
        String::new()
    };
    v.push((
        s.times.peak,
        format!("peak {} req/s{x}", fmt_rate(s.peak_rps)),
    ));
    if let Some(m) = s.times.mitigation {
        v.push((
            m,
            "mitigation: 429/403 answers begin for the culprit cohort".into(),
        ));
    }
    v.push((
        s.times.end,
        if s.ongoing {
            "still going when the logs end".into()
        } else {
            "end".into()
        },
    ));
    v
}

fn fmt_rate(r: f64) -> String {
    if r >= 100.0 {
        thousands(r.round() as u64)
    } else {
        format!("{r:.1}")
    }
}

fn storms(r: &Report, o: &TableOptions, st: &Styler, w: &mut dyn Write) -> io::Result<()> {
    if r.storms.is_empty() {
        st.title(w, "Retry storms")?;
        return writeln!(w, "  none found");
    }
    st.title(w, "Retry storms, surges and outages")?;
    let multi_day = r.input.time_range.start.as_deref().map(|s| &s[..10])
        != r.input.time_range.end.as_deref().map(|s| &s[..10]);
    let tf = if multi_day { "%m-%d %H:%M" } else { "%H:%M" };
    writeln!(w, "{}", storms_table(r, o, st, tf))?;
    st.title(w, &format!("Event timeline ({})", o.tz.name()))?;
    for s in &r.storms {
        storm_events(s, o, tf, w)?;
    }
    Ok(())
}

/// One row per episode; `tf` formats its start.
fn storms_table(r: &Report, o: &TableOptions, st: &Styler, tf: &str) -> Table {
    let mut t = st.table(&[
        "kind",
        "start",
        "peak",
        "mitigation",
        "end",
        "peak req/s",
        "per-client ×",
        "culprit (share of excess)",
    ]);
    for s in &r.storms {
        let culprit = s
            .culprits
            .first()
            .map(|c| format!("{} ({:.0}%)", culprit_name(c), c.share_of_excess * 100.0))
            .unwrap_or_else(|| "-".into());
        t.add_row(vec![
            Cell::new(format!("{:?}", s.kind).to_lowercase()),
            Cell::new(o.tz.format(s.times.start, tf)),
            Cell::new(o.tz.format(s.times.peak, "%H:%M")),
            Cell::new(
                s.times
                    .mitigation
                    .map(|m| o.tz.format(m, "%H:%M"))
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::new(if s.ongoing {
                "ongoing".into()
            } else {
                o.tz.format(s.times.end, "%H:%M")
            }),
            Cell::new(fmt_rate(s.peak_rps)),
            Cell::new(
                s.amplification
                    .map(|a| format!("{a:.1}"))
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::new(culprit),
        ]);
    }
    for i in [0, 7] {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Left);
        }
    }
    // A narrow terminal wraps the culprit between its words, never inside
    // one (a version range, an endpoint).
    st.fit(&mut t);
    t
}

/// An episode's events at their times (`tf`), then, indented under them,
/// its impact on everyone else and the culprits after the first.
fn storm_events(s: &Storm, o: &TableOptions, tf: &str, w: &mut dyn Write) -> io::Result<()> {
    for (ts, line) in event_lines(s) {
        hanging(w, &format!("  {}  ", o.tz.format(ts, tf)), &line, o.width)?;
    }
    let pad = format!(
        "  {}  ",
        " ".repeat(o.tz.format(s.times.start, tf).chars().count())
    );
    hanging(
        w,
        &pad,
        &format!("impact on everyone else: {}", impact(s)),
        o.width,
    )?;
    for c in s.culprits.iter().skip(1) {
        let also = format!(
            "also: {} ({:.0}% of the excess, {})",
            culprit_name(c),
            c.share_of_excess * 100.0,
            backoff_words(c)
        );
        hanging(w, &pad, &also, o.width)?;
    }
    Ok(())
}

/// Logins, 5xx share and p95 latency of everyone but the culprit, before
/// against during.
fn impact(s: &Storm) -> String {
    let i = &s.impact;
    let mut parts = Vec::new();
    if i.login_attempts > 0 {
        parts.push(format!(
            "{} of {} logins timed out, {} failed",
            thousands(i.login_timeouts),
            thousands(i.login_attempts),
            thousands(i.login_failures)
        ));
    }
    parts.push(format!(
        "5xx {:.1}% → {:.1}%",
        i.error_5xx_share_before * 100.0,
        i.error_5xx_share_during * 100.0
    ));
    if let (Some(b), Some(d)) = (i.p95_latency_ms_before, i.p95_latency_ms_during) {
        parts.push(format!("p95 {} → {} ms", ms(Some(b)), ms(Some(d))));
    }
    parts.join("; ")
}

fn cohorts(r: &Report, o: &TableOptions, st: &Styler, w: &mut dyn Write) -> io::Result<()> {
    if r.cohorts.is_empty() {
        return Ok(());
    }
    st.title(w, "Cohorts (app × version × token state)")?;
    let mut t = st.table(&[
        "app",
        "version",
        "token",
        "requests",
        "clients",
        "req per client",
        "errors",
        "p95 ms",
    ]);
    for c in r.cohorts.iter().take(o.top) {
        t.add_row(vec![
            Cell::new(sanitize(&c.app)),
            Cell::new(sanitize(if c.version.is_empty() {
                "-"
            } else {
                &c.version
            })),
            Cell::new(c.token_state.name()),
            Cell::new(thousands(c.requests)),
            Cell::new(thousands(c.clients)),
            Cell::new(if c.clients > 0 {
                format!("{:.1}", c.requests as f64 / c.clients as f64)
            } else {
                "-".into()
            }),
            Cell::new(pct(c.errors, c.requests)),
            Cell::new(ms(c.p95_latency_ms)),
        ]);
    }
    if let Some(col) = t.column_mut(2) {
        col.set_cell_alignment(CellAlignment::Left);
    }
    if let Some(col) = t.column_mut(1) {
        col.set_cell_alignment(CellAlignment::Left);
    }
    st.fit(&mut t);
    writeln!(w, "{t}")?;
    if r.cohorts.len() > o.top {
        writeln!(
            w,
            "… {} more cohorts in the JSON report (--json)",
            r.cohorts.len() - o.top
        )?;
    }
    Ok(())
}

/// Merges adjacent buckets so the table has at most `n` rows.
fn compact(buckets: &[BucketRow], n: usize) -> (usize, Vec<BucketRow>) {
    let per = buckets.len().div_ceil(n.max(1)).max(1);
    let rows = buckets
        .chunks(per)
        .map(|ch| {
            let mut r = ch[0].clone();
            for b in &ch[1..] {
                r.requests += b.requests;
                r.errors += b.errors;
                r.retries += b.retries;
                r.status_401 += b.status_401;
                r.status_429 += b.status_429;
                r.timeouts += b.timeouts;
                r.clients = r.clients.max(b.clients);
                r.health_checks += b.health_checks;
                for (k, v) in &b.by_token_state {
                    *r.by_token_state.entry(*k).or_default() += v;
                }
                for (k, v) in &b.by_status_class {
                    *r.by_status_class.entry(k).or_default() += v;
                }
                r.p95_latency_ms = match (r.p95_latency_ms, b.p95_latency_ms) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    (x, y) => x.or(y),
                };
            }
            r
        })
        .collect();
    (per, rows)
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn timeline(r: &Report, o: &TableOptions, st: &Styler, w: &mut dyn Write) -> io::Result<()> {
    let all = &r.timeline.buckets;
    // With episodes, show the hour around them; otherwise all traffic.
    let span = r.storms.iter().fold(None, |acc: Option<(i64, i64)>, s| {
        let (a, b) = (
            s.times.start - 3_600_000_000 / 2,
            s.times.end + 3_600_000_000 / 2,
        );
        Some(acc.map_or((a, b), |(x, y)| (x.min(a), y.max(b))))
    });
    let b: Vec<BucketRow> = all
        .iter()
        .filter(|r| span.is_none_or(|(a, z)| r.start_us >= a && r.start_us < z))
        .filter(|r| r.requests + r.health_checks > 0)
        .cloned()
        .collect();
    if b.is_empty() {
        return Ok(());
    }
    let (per, rows) = compact(&b, o.timeline_rows);
    let width = r.timeline.bucket_seconds * per as u64;
    let step = humantime::format_duration(std::time::Duration::from_secs(width)).to_string();
    let around = if span.is_some() {
        " around the episodes"
    } else {
        ""
    };
    // Buckets without traffic are left out: say so when that leaves gaps
    // between rows, rather than claim a spacing the rows do not have.
    let width_us = width as i64 * 1_000_000;
    let gaps = rows
        .windows(2)
        .any(|p| p[1].start_us - p[0].start_us > width_us);
    let spacing = if gaps {
        format!("rows of {step}, stretches without traffic left out")
    } else {
        format!("every {step}")
    };
    st.title(w, &format!("Timeline{around} ({spacing}, {})", o.tz.name()))?;
    let max = rows.iter().map(|r| r.requests).max().unwrap_or(1).max(1);
    let clients_h = if per > 1 { "clients¹" } else { "clients" };
    let p95_h = if per > 1 { "p95 ms²" } else { "p95 ms" };
    let headers = [
        "start", "requests", "", clients_h, "retries", "5xx", "401", "429", "timeout", p95_h,
    ];
    let mut t = st.table(&headers);
    let same_day = rows.first().map(|f| o.tz.format(f.start_us, "%F"))
        == rows.last().map(|l| o.tz.format(l.start_us, "%F"));
    let fmt = if same_day { "%H:%M" } else { "%m-%d %H:%M" };
    for row in &rows {
        let bar = BARS[((row.requests as f64 / max as f64) * 7.0).round() as usize];
        t.add_row(vec![
            Cell::new(o.tz.format(row.start_us, fmt)),
            Cell::new(thousands(row.requests)),
            Cell::new(bar),
            Cell::new(thousands(row.clients)),
            Cell::new(pct(row.retries, row.requests)),
            Cell::new(thousands(*row.by_status_class.get("5xx").unwrap_or(&0))),
            Cell::new(thousands(row.status_401)),
            Cell::new(thousands(row.status_429)),
            Cell::new(thousands(row.timeouts)),
            Cell::new(ms(row.p95_latency_ms)),
        ]);
    }
    st.fit(&mut t);
    writeln!(w, "{t}")?;
    if per > 1 {
        writeln!(
            w,
            "¹ busiest bucket  ² worst bucket; {}s buckets in --json",
            r.timeline.bucket_seconds
        )?;
    }
    Ok(())
}

fn endpoints(r: &Report, o: &TableOptions, st: &Styler, w: &mut dyn Write) -> io::Result<()> {
    if r.endpoints.is_empty() {
        return Ok(());
    }
    st.title(w, "Top endpoints")?;
    let mut t = st.table(&["endpoint", "requests", "clients", "errors", "p95 ms"]);
    for e in r.endpoints.iter().take(o.top.min(10)) {
        t.add_row(vec![
            Cell::new(sanitize(&e.endpoint)),
            Cell::new(thousands(e.requests)),
            Cell::new(thousands(e.clients)),
            Cell::new(pct(e.errors, e.requests)),
            Cell::new(ms(e.p95_latency_ms)),
        ]);
    }
    st.fit(&mut t);
    writeln!(w, "{t}")
}

fn groups(r: &Report, o: &TableOptions, st: &Styler, w: &mut dyn Write) -> io::Result<()> {
    let Some(g) = &r.groups else { return Ok(()) };
    st.title(w, &format!("By {}", g.fields.join(" × ")))?;
    let mut headers: Vec<&str> = g.fields.clone();
    headers.extend(["requests", "clients", "errors"]);
    let mut t = st.table(&headers);
    for row in g.rows.iter().take(o.top) {
        let mut cells: Vec<Cell> = row.key.iter().map(|k| Cell::new(sanitize(k))).collect();
        cells.push(Cell::new(thousands(row.requests)));
        cells.push(Cell::new(thousands(row.clients)));
        cells.push(Cell::new(pct(row.errors, row.requests)));
        t.add_row(cells);
    }
    for i in 0..g.fields.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Left);
        }
    }
    writeln!(w, "{t}")?;
    if g.rows.len() > o.top {
        writeln!(
            w,
            "… {} more groups in the JSON report",
            g.rows.len() - o.top
        )?;
    }
    Ok(())
}

/// Files skipped because they are something else (error logs, documents,
/// checksums): listed, not problems.
fn not_access_logs(r: &Report, st: &Styler, w: &mut dyn Write) -> io::Result<()> {
    let others: Vec<_> = r
        .input
        .files
        .iter()
        .filter_map(|f| Some((&f.path, f.not_access_log?)))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    st.title(w, "Not access logs (skipped)")?;
    for (path, what) in others {
        writeln!(w, "  {}: not an access log ({what})", sanitize(path))?;
    }
    Ok(())
}

fn problems(r: &Report, st: &Styler, w: &mut dyn Write) -> io::Result<()> {
    let bad_files: Vec<_> = r
        .input
        .files
        .iter()
        .filter(|f| f.error.is_some() || f.skipped > 0)
        .collect();
    if bad_files.is_empty() && r.input.errors.is_empty() {
        return Ok(());
    }
    st.title(w, "Input problems")?;
    for e in &r.input.errors {
        writeln!(w, "  {}: {}", sanitize(&e.path), sanitize(&e.error))?;
    }
    for f in bad_files {
        if let Some(e) = &f.error {
            writeln!(w, "  {}: {}", sanitize(&f.path), sanitize(e))?;
        }
        if f.skipped > 0 {
            writeln!(
                w,
                "  {}: {} lines skipped",
                sanitize(&f.path),
                thousands(f.skipped)
            )?;
            for ex in &f.skip_examples {
                writeln!(
                    w,
                    "    line {} ({}): {}",
                    ex.line,
                    ex.reason.name(),
                    sanitize(&ex.text)
                )?;
            }
        }
    }
    Ok(())
}

/// `authstorm compare`: the two periods, then cohorts and endpoints, most
/// changed first (`o.top` rows each; changes within noise marked `~`).
pub fn render_comparison(
    c: &crate::report::compare::Comparison,
    o: &TableOptions,
    w: &mut dyn Write,
) -> io::Result<()> {
    use crate::report::compare::{Change, Presence};
    let st = Styler { o };
    let span = |s: &crate::report::compare::Side| {
        format!(
            "{}: {} to {}, {:.1} h, {} requests",
            sanitize(&s.label),
            s.start_us
                .map_or("-".into(), |t| o.tz.format(t, "%Y-%m-%d %H:%M")),
            s.end_us
                .map_or("-".into(), |t| o.tz.format(t, "%Y-%m-%d %H:%M")),
            s.hours,
            thousands(s.requests)
        )
    };
    writeln!(w, "A  {}", span(&c.a))?;
    writeln!(w, "B  {}", span(&c.b))?;
    let rate = |v: f64| {
        if v >= 100.0 {
            thousands(v.round() as u64)
        } else {
            format!("{v:.1}")
        }
    };
    let share = |v: f64| format!("{:.1}%", v * 100.0);
    let arrow = |a: String, b: String| format!("{a} → {b}");
    let change = |x: &Change| match (x.presence, x.rate_ratio) {
        (Presence::New, _) => "new".to_string(),
        (Presence::Vanished, _) => "gone".to_string(),
        (_, Some(r)) if r >= 1.995 => format!("×{r:.1}"),
        (_, Some(r)) => format!("{:+.0}%", (r - 1.0) * 100.0),
        (_, None) => "-".to_string(),
    };
    let rows = |title: &str, list: &[Change], w: &mut dyn Write| -> io::Result<()> {
        st.title(
            w,
            &format!(
                "{title}, most changed first (req/h; ~ within noise at z < {:.1})",
                c.z
            ),
        )?;
        let mut t = st.table(&[
            title.trim_end_matches('s'),
            "req/h A → B",
            "change",
            "clients A → B",
            "errors",
            "retries",
            "resends",
            "p95 ms",
        ]);
        for x in list.iter().take(o.top) {
            let mark = if x.significant { "" } else { " ~" };
            t.add_row(vec![
                sanitize(&x.name),
                arrow(rate(x.a.requests_per_hour), rate(x.b.requests_per_hour)),
                format!("{}{mark}", change(x)),
                arrow(thousands(x.a.clients), thousands(x.b.clients)),
                arrow(share(x.a.error_share), share(x.b.error_share)),
                arrow(share(x.a.retry_share), share(x.b.retry_share)),
                arrow(thousands(x.a.resends), thousands(x.b.resends)),
                arrow(ms(x.a.p95_ms), ms(x.b.p95_ms)),
            ]);
        }
        writeln!(w, "{t}")?;
        if list.len() > o.top {
            writeln!(w, "({} more; --top N shows more)", list.len() - o.top)?;
        }
        Ok(())
    };
    rows("cohorts", &c.cohorts, w)?;
    rows("endpoints", &c.endpoints, w)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100), "100");
        assert_eq!(sanitize("a\x1b[31mred\x07"), "a\u{FFFD}[31mred\u{FFFD}");
        assert_eq!(pct(1, 4), "25.0%");
        assert_eq!(pct(1, 0), "-");
    }
}
