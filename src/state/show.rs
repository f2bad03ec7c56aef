//! What a nightly run and a history print: the files and days, as tables
//! and as JSON (`authstorm/nightly/v1`).

use std::io::{self, Write};

use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use super::nightly::Nightly;
use super::plan::{FileAction, FilePlan};
use super::store::Manifest;
use crate::detect::Storm;
use crate::output::table::{STYLE, TableOptions, thousands};

pub const NIGHTLY_SCHEMA: &str = "authstorm/nightly/v1";

#[derive(Serialize)]
pub struct NightlyDoc<'a> {
    pub schema: &'static str,
    pub files: &'a [FilePlan],
    pub days: Vec<DayDoc<'a>>,
    pub dropped_days: &'a [String],
    /// Days this run read requests for that are older than `--keep-days`
    /// keeps: not stored.
    pub past_retention_days: &'a [String],
}

#[derive(Serialize)]
pub struct DayDoc<'a> {
    pub date: &'a str,
    pub requests_added: u64,
    pub requests: u64,
    /// The stored days this day was judged against.
    pub baseline_days: &'a [String],
    pub storms: &'a [Storm],
}

pub fn doc(n: &Nightly) -> NightlyDoc<'_> {
    NightlyDoc {
        schema: NIGHTLY_SCHEMA,
        files: &n.plans,
        days: n
            .days
            .iter()
            .map(|d| DayDoc {
                date: &d.date,
                requests_added: d.requests_added,
                requests: d.entry.requests,
                baseline_days: &d.entry.baseline_days,
                storms: &d.storms,
            })
            .collect(),
        dropped_days: &n.dropped,
        past_retention_days: &n.past_retention,
    }
}

fn action_word(a: &FileAction) -> String {
    match a {
        FileAction::New => "new: read whole".into(),
        FileAction::Appended { from } => format!("appended: read from byte {}", thousands(*from)),
        FileAction::Unchanged => "unchanged".into(),
        FileAction::Truncated { was } => format!(
            "shorter than the {} bytes read before: read again from the start",
            thousands(*was)
        ),
        FileAction::Duplicate { of } => format!("same content as {of}"),
        FileAction::Waiting => "under 1 KiB: waits for the next run".into(),
        FileAction::Unreadable { reason } => format!("unreadable: {reason}"),
    }
}

/// What the baseline of a day was, in words.
pub fn baseline_words(date: &str, days: &[String]) -> String {
    if days.is_empty() {
        return "no earlier day stored: the day itself".into();
    }
    let weekday = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(|x| chrono::Datelike::weekday(&x))
            .ok()
    };
    let same = days.iter().filter(|d| weekday(d) == weekday(date)).count();
    let range = match days {
        [one] => one.clone(),
        _ => format!("{}..{}", days[0], days[days.len() - 1]),
    };
    format!(
        "{} earlier day{} ({range}), {same} of them the same weekday",
        days.len(),
        if days.len() == 1 { "" } else { "s" },
    )
}

fn incident_words(storms: &[Storm]) -> String {
    if storms.is_empty() {
        return "none".into();
    }
    storms
        .iter()
        .map(|s| s.kind.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The files that were not simply unchanged, and the days added to.
pub fn render(n: &Nightly, o: &TableOptions, w: &mut dyn Write) -> io::Result<()> {
    let notable: Vec<&FilePlan> = n
        .plans
        .iter()
        .filter(|p| p.action != FileAction::Unchanged)
        .collect();
    if !notable.is_empty() {
        let mut t = Table::new();
        t.load_style(STYLE);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        if let Some(width) = o.width {
            t.set_width(width);
        }
        t.set_header(vec!["file", "this run"]);
        for p in notable {
            t.add_row(vec![p.path.display().to_string(), action_word(&p.action)]);
        }
        let unchanged = n
            .plans
            .iter()
            .filter(|p| p.action == FileAction::Unchanged)
            .count();
        match unchanged {
            0 => writeln!(w, "Files")?,
            u => writeln!(w, "Files ({u} unchanged not listed)")?,
        }
        writeln!(w, "{t}\n")?;
    }
    let mut t = Table::new();
    t.load_style(STYLE);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(width) = o.width {
        t.set_width(width);
    }
    t.set_header(vec![
        "day (UTC)",
        "requests added",
        "requests",
        "incidents",
        "judged against",
    ]);
    for d in &n.days {
        t.add_row(vec![
            d.date.clone(),
            thousands(d.requests_added),
            thousands(d.entry.requests),
            incident_words(&d.storms),
            baseline_words(&d.date, &d.entry.baseline_days),
        ]);
    }
    writeln!(w, "Days")?;
    writeln!(w, "{t}\n")?;
    if !n.dropped.is_empty() {
        writeln!(w, "Dropped (--keep-days): {}\n", n.dropped.join(", "))?;
    }
    if !n.past_retention.is_empty() {
        writeln!(
            w,
            "Not stored, older than --keep-days keeps: {}\n",
            n.past_retention.join(", ")
        )?;
    }
    Ok(())
}

/// The stored days, oldest first.
pub fn render_history(m: &Manifest, w: &mut dyn Write) -> io::Result<()> {
    let mut t = Table::new();
    t.load_style(STYLE);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec![
        "day (UTC)",
        "lines",
        "requests",
        "incidents",
        "judged against",
    ]);
    for (date, d) in &m.days {
        let incidents = if d.incidents.is_empty() {
            "none".to_string()
        } else {
            d.incidents
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        t.add_row(vec![
            date.clone(),
            thousands(d.lines),
            thousands(d.requests),
            incidents,
            baseline_words(date, &d.baseline_days),
        ]);
    }
    writeln!(
        w,
        "{} days stored, {} files read",
        m.days.len(),
        m.files.len()
    )?;
    writeln!(w, "{t}")
}
