//! `--prom FILE`: a Prometheus textfile for a scheduled run (node_exporter's
//! textfile collector reads it). Written aside and renamed into place, so
//! the collector never reads half a file. Cardinality is bounded: the
//! cohort series are the ten largest cohorts only, whatever the logs hold.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::detect::StormKind;
use crate::report::Report;

/// Cohorts given their own series.
pub const TOP_COHORTS: usize = 10;

/// What a run reports when it could not analyse anything: the time of the
/// last success is kept from the file it replaces (so an alert on its age
/// still fires), with `authstorm_last_run_success 0`.
pub fn failure(previous: Option<&str>, run_seconds: f64) -> String {
    let mut out = String::new();
    let last = previous.and_then(last_success);
    gauge(
        &mut out,
        "authstorm_last_run_success",
        "1 when the last run analysed its input, 0 when it failed.",
        &[(&[], 0.0)],
    );
    if let Some(t) = last {
        gauge(
            &mut out,
            "authstorm_last_success_timestamp_seconds",
            "When a run last analysed its input (Unix time).",
            &[(&[], t)],
        );
    }
    gauge(
        &mut out,
        "authstorm_run_duration_seconds",
        "How long the last run took.",
        &[(&[], run_seconds)],
    );
    out
}

/// The metrics of a successful run that finished at `now` (Unix seconds).
pub fn success(r: &Report, run_seconds: f64, now: f64) -> String {
    let mut out = String::new();
    gauge(
        &mut out,
        "authstorm_last_run_success",
        "1 when the last run analysed its input, 0 when it failed.",
        &[(&[], 1.0)],
    );
    gauge(
        &mut out,
        "authstorm_last_success_timestamp_seconds",
        "When a run last analysed its input (Unix time).",
        &[(&[], now)],
    );
    gauge(
        &mut out,
        "authstorm_run_duration_seconds",
        "How long the last run took.",
        &[(&[], run_seconds)],
    );
    let i = &r.input;
    let mut lines: Vec<(Vec<(&str, String)>, f64)> = vec![
        (vec![("result", "parsed".into())], i.parsed as f64),
        (vec![("result", "filtered".into())], i.filtered as f64),
    ];
    for (reason, n) in &i.skipped_by_reason {
        lines.push((
            vec![
                ("result", "skipped".into()),
                ("reason", reason.name().into()),
            ],
            *n as f64,
        ));
    }
    series(
        &mut out,
        "authstorm_lines",
        "Lines read in the last run, by what became of them.",
        &lines,
    );
    let (mut read, mut not_access, mut failed) = (0, 0, 0);
    for f in &i.files {
        if f.not_access_log.is_some() {
            not_access += 1;
        } else if f.error.is_some() {
            failed += 1;
        } else {
            read += 1;
        }
    }
    failed += i.errors.len();
    series(
        &mut out,
        "authstorm_files",
        "Inputs of the last run: read, not access logs (skipped), or unreadable.",
        &[
            (vec![("state", "read".into())], read as f64),
            (vec![("state", "not_access_log".into())], not_access as f64),
            (vec![("state", "unreadable".into())], failed as f64),
        ],
    );
    gauge(
        &mut out,
        "authstorm_requests",
        "Requests analysed in the last run, health checks included.",
        &[(&[], r.totals.requests as f64)],
    );
    let kinds = [StormKind::Storm, StormKind::Outage, StormKind::Surge];
    let storms: Vec<(Vec<(&str, String)>, f64)> = kinds
        .iter()
        .map(|k| {
            let n = r.storms.iter().filter(|s| s.kind == *k).count();
            (vec![("kind", k.name().to_string())], n as f64)
        })
        .collect();
    series(
        &mut out,
        "authstorm_episodes",
        "Episodes found in the last run, by kind.",
        &storms,
    );
    let mut cohorts: Vec<_> = r.cohorts.iter().collect();
    cohorts.sort_by_key(|c| std::cmp::Reverse(c.requests));
    let top: Vec<(Vec<(&str, String)>, f64)> = cohorts
        .iter()
        .take(TOP_COHORTS)
        .map(|c| {
            (
                vec![
                    ("app", c.app.clone()),
                    ("version", c.version.clone()),
                    ("token_state", c.token_state.name().to_string()),
                ],
                c.requests as f64,
            )
        })
        .collect();
    series(
        &mut out,
        "authstorm_cohort_requests",
        "Requests of the ten largest cohorts (app, version, token state) in the last run.",
        &top,
    );
    out
}

fn gauge(out: &mut String, name: &str, help: &str, values: &[(&[(&str, &str)], f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, v) in values {
        let _ = writeln!(
            out,
            "{name}{} {}",
            label_text(labels.iter().copied()),
            number(*v)
        );
    }
}

fn series(out: &mut String, name: &str, help: &str, values: &[(Vec<(&str, String)>, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, v) in values {
        let l = label_text(labels.iter().map(|(k, v)| (*k, v.as_str())));
        let _ = writeln!(out, "{name}{l} {}", number(*v));
    }
}

fn label_text<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = labels
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// A label value as the text format wants it: backslash, quote and newline
/// escaped (log text is untrusted).
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// The last success time in a textfile this module wrote.
fn last_success(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix("authstorm_last_success_timestamp_seconds "))
        .and_then(|v| v.trim().parse().ok())
}

/// Writes `text` to `path` through a temporary file beside it, renamed
/// into place.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_failures_keep_the_last_success() {
        assert_eq!(escape("a\"b\\c\nd\x1b"), "a\\\"b\\\\c\\nd\u{FFFD}");
        let ok = "authstorm_last_success_timestamp_seconds 1765000000\n";
        let f = failure(Some(ok), 1.5);
        assert!(f.contains("authstorm_last_run_success 0"));
        assert!(f.contains("authstorm_last_success_timestamp_seconds 1765000000"));
        assert!(!failure(None, 1.5).contains("last_success_timestamp"));
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.250");
    }
}
