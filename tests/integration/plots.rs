//! The plots as a reader sees them, read from the SVG the report writes:
//! every drawn element stays inside its plot area (or, for axis text and
//! titles, outside all of them), no two labels cover each other, and no
//! episode mark line runs through a label. Checked for the shapes of
//! incident that broke them: two storms, an outage, three normal days and
//! a sparse log, with each case's report and terminal output.

use std::path::{Path, PathBuf};

use crate::common::{bin, simulate};

/// A plot area in SVG pixels: left, top, right, bottom.
#[derive(Debug, Clone, Copy)]
struct Area(f64, f64, f64, f64);

impl Area {
    fn holds(&self, (x, y): (f64, f64), slack: f64) -> bool {
        x >= self.0 - slack && x <= self.2 + slack && y >= self.1 - slack && y <= self.3 + slack
    }

    /// Does the box overlap this area's inside (two pixels in from its
    /// edges, where axis lines and tick marks are)?
    fn meets(&self, b: &Bbox) -> bool {
        b.0 < self.2 - 2.0 && b.2 > self.0 + 2.0 && b.1 < self.3 - 2.0 && b.3 > self.1 + 2.0
    }
}

/// A box: left, top, right, bottom.
#[derive(Debug, Clone, Copy)]
struct Bbox(f64, f64, f64, f64);

impl Bbox {
    fn overlaps(&self, o: &Bbox) -> bool {
        self.0 < o.2 - 1.0 && o.0 < self.2 - 1.0 && self.1 < o.3 - 1.0 && o.1 < self.3 - 1.0
    }
}

fn num(n: roxmltree::Node, a: &str) -> f64 {
    n.attribute(a)
        .and_then(|v| v.trim_end_matches("px").parse().ok())
        .unwrap_or(0.0)
}

fn points(n: roxmltree::Node) -> Vec<(f64, f64)> {
    n.attribute("points")
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|p| {
            let (x, y) = p.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect()
}

/// The box a text takes, estimated from its font size and length: 0.6 em
/// a character (DejaVu Sans's digits and lower-case letters are narrower),
/// from 0.76 em above the baseline to 0.24 em below, placed by its anchor
/// and `dy` as SVG does, and turned by a `rotate(270, x, y)`.
fn text_box(n: roxmltree::Node) -> Option<(String, Bbox)> {
    let text: String = n.text()?.trim().to_string();
    if text.is_empty() {
        return None;
    }
    let s = num(n, "font-size");
    let (x, y) = (num(n, "x"), num(n, "y"));
    let w = 0.6 * s * text.chars().count() as f64;
    let (x0, x1) = match n.attribute("text-anchor") {
        Some("middle") => (x - w / 2.0, x + w / 2.0),
        Some("end") => (x - w, x),
        _ => (x, x + w),
    };
    let ex = 0.55 * s;
    let base = y + match n.attribute("dy") {
        Some("0.76em") => 0.76 * s,
        Some("0.5ex") => 0.5 * ex,
        Some("-0.5ex") => -0.5 * ex,
        _ => 0.0,
    };
    let mut b = Bbox(x0, base - 0.76 * s, x1, base + 0.24 * s);
    if let Some(t) = n.attribute("transform") {
        let args: Vec<f64> = t
            .trim_start_matches("rotate(")
            .trim_end_matches(')')
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        assert_eq!(args.first(), Some(&270.0), "unexpected transform {t}");
        let (cx, cy) = (args[1], args[2]);
        let turn = |(px, py): (f64, f64)| (cx + (py - cy), cy - (px - cx));
        let (a, c) = (turn((b.0, b.1)), turn((b.2, b.3)));
        b = Bbox(a.0.min(c.0), a.1.min(c.1), a.0.max(c.0), a.1.max(c.1));
    }
    Some((text, b))
}

/// The plot areas: where a vertical and a horizontal axis line (black,
/// one pixel, two points, as plotters draws a chart's left and bottom
/// axes) meet at the bottom left.
fn plot_areas(doc: &roxmltree::Document) -> Vec<Area> {
    let axes: Vec<((f64, f64), (f64, f64))> = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("polyline")
                && n.attribute("stroke") == Some("#000000")
                && n.attribute("opacity") == Some("1")
                && n.attribute("stroke-width") == Some("1")
        })
        .filter_map(|n| match points(n)[..] {
            [a, b] => Some((a, b)),
            _ => None,
        })
        .filter(|(a, b)| (a.0 - b.0).abs() + (a.1 - b.1).abs() >= 30.0)
        .collect();
    let mut out = Vec::new();
    for (a, b) in axes.iter().filter(|(a, b)| a.0 == b.0) {
        let (top, bottom) = (a.1.min(b.1), a.1.max(b.1));
        let x = a.0;
        if let Some((c, d)) = axes.iter().find(|(c, d)| {
            c.1 == d.1 && (c.1 - bottom).abs() <= 1.0 && (c.0.min(d.0) - x).abs() <= 1.0
        }) {
            out.push(Area(x, top, c.0.max(d.0), bottom));
        }
    }
    out
}

/// What is wrong with one SVG plot, as sentences (none when it is fine).
pub(crate) fn problems(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("SVG parses");
    let root = doc.root_element();
    let canvas = Area(0.0, 0.0, num(root, "width"), num(root, "height"));
    let areas = plot_areas(&doc);
    let mut out = Vec::new();
    if areas.is_empty() {
        out.push("no plot area found".to_string());
    }
    let mut texts: Vec<(String, Bbox, Option<usize>)> = Vec::new();
    let mut marks: Vec<(f64, f64, f64)> = Vec::new();
    let mut legends: Vec<Bbox> = Vec::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        let tag = n.tag_name().name();
        let pts: Vec<(f64, f64)> = match tag {
            "polyline" | "polygon" => points(n),
            "line" => vec![(num(n, "x1"), num(n, "y1")), (num(n, "x2"), num(n, "y2"))],
            "rect" => {
                let (x, y) = (num(n, "x"), num(n, "y"));
                let (w, h) = (num(n, "width"), num(n, "height"));
                if x == 0.0 && y == 0.0 && w == canvas.2 && h == canvas.3 {
                    continue; // the background
                }
                if n.attribute("fill") == Some("#FFFFFF") {
                    legends.push(Bbox(x, y, x + w, y + h));
                }
                vec![(x, y), (x + w, y + h)]
            }
            "circle" => vec![(num(n, "cx"), num(n, "cy"))],
            "text" => {
                let Some((text, b)) = text_box(n) else {
                    continue;
                };
                let corners = [(b.0, b.1), (b.2, b.3)];
                if !corners.iter().all(|p| canvas.holds(*p, 0.0)) {
                    out.push(format!("text {text:?} leaves the image: {b:?}"));
                }
                let centre = ((b.0 + b.2) / 2.0, (b.1 + b.3) / 2.0);
                let home = areas.iter().position(|a| a.holds(centre, -2.0));
                match home {
                    Some(i) if !corners.iter().all(|p| areas[i].holds(*p, 1.0)) => {
                        out.push(format!("text {text:?} leaves its plot area: {b:?}"))
                    }
                    None if areas.iter().any(|a| a.meets(&b)) => {
                        out.push(format!("text {text:?} reaches into a plot area: {b:?}"))
                    }
                    _ => {}
                }
                texts.push((text, b, home));
                continue;
            }
            _ => continue,
        };
        if pts.is_empty() {
            continue;
        }
        if !pts.iter().all(|p| canvas.holds(*p, 1.0)) {
            out.push(format!("<{tag}> leaves the image"));
        }
        // An element with a point well inside an area belongs to it and
        // must stay in it; the rest (axes, ticks) only touch areas.
        if let Some(a) = areas.iter().find(|a| pts.iter().any(|p| a.holds(*p, -2.0)))
            && let Some(p) = pts.iter().find(|p| !a.holds(**p, 1.0))
        {
            out.push(format!("<{tag}> leaves its plot area {a:?} at {p:?}"));
        }
        let wide = n
            .attribute("stroke-width")
            .and_then(|w| w.parse::<f64>().ok())
            .is_some_and(|w| w >= 2.0);
        if tag == "polyline"
            && wide
            && let [a, b] = pts[..]
            && a.0 == b.0
            && (a.1 - b.1).abs() >= 10.0
        {
            marks.push((a.0, a.1.min(b.1), a.1.max(b.1)));
        }
    }
    for (i, (t, b, _)) in texts.iter().enumerate() {
        for (u, c, _) in &texts[i + 1..] {
            if b.overlaps(c) {
                out.push(format!("labels {t:?} and {u:?} overlap: {b:?} {c:?}"));
            }
        }
    }
    // Vertical lines two pixels or wider are episode marks: none may run
    // through text in a plot (a mark label, or a legend over the data).
    for (t, b, home) in &texts {
        if home.is_none() {
            continue;
        }
        let in_legend = legends
            .iter()
            .any(|l| b.0 >= l.0 && b.2 <= l.2 && b.1 >= l.1 - 2.0 && b.3 <= l.3 + 2.0);
        for &(x, y0, y1) in &marks {
            let through = x > b.0 + 1.0 && x < b.2 - 1.0 && y0 < b.3 - 1.0 && y1 > b.1 + 1.0;
            if through {
                let what = if in_legend { "legend entry" } else { "label" };
                out.push(format!(
                    "a mark line at x={x} runs through the {what} {t:?}"
                ));
            }
        }
    }
    out
}

/// Every series line of `colour` in `svg` (two pixels wide: axes are
/// one, legend keys three), as its points.
fn lines_of(svg: &str, colour: &str) -> Vec<Vec<(f64, f64)>> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(colour))
        .filter(|n| n.attribute("stroke-width") == Some("2"))
        .map(points)
        .collect()
}

pub(crate) fn texts_of(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

/// The three plots of a report directory: files and the HTML's inline
/// copies are all checked. Returns (name, SVG) of the files.
fn checked_plots(out: &Path) -> Vec<(&'static str, String)> {
    let mut plots = Vec::new();
    for name in ["timeline", "cohorts", "retries"] {
        let svg = std::fs::read_to_string(out.join(format!("{name}.svg"))).unwrap();
        let bad = problems(&svg);
        assert!(bad.is_empty(), "{name}.svg:\n{}", bad.join("\n"));
        plots.push((name, svg));
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let inline: Vec<&str> = html
        .split("<svg")
        .skip(1)
        .map(|s| &s[..s.find("</svg>").unwrap() + 6])
        .collect();
    assert_eq!(inline.len(), 3);
    for s in inline {
        let svg = format!("<svg{s}");
        let bad = problems(&svg);
        assert!(bad.is_empty(), "report.html:\n{}", bad.join("\n"));
    }
    plots
}

/// `report --out` on `log`; the directory written.
fn report(dir: &Path, log: &Path) -> PathBuf {
    let out = dir.join("pm");
    let r = bin()
        .args(["report", "--no-progress", "--out"])
        .arg(&out)
        .arg(log)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    out
}

/// `authstorm SUBCOMMAND log` at 80 columns: its tables fit (the storm
/// table of `storms`, the cohort and timeline tables of `analyze`).
fn terminal(sub: &str, log: &Path) -> String {
    let r = bin()
        .env("COLUMNS", "80")
        .args([sub, "--no-progress"])
        .arg(log)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = String::from_utf8(r.stdout).unwrap();
    let tables: Vec<&str> = if sub == "storms" {
        text.lines()
            .take_while(|l| !l.starts_with("Event"))
            .collect()
    } else {
        let mut out = Vec::new();
        let mut inside = false;
        for l in text.lines() {
            inside =
                (inside && !l.is_empty()) || l.starts_with("Cohorts") || l.starts_with("Timeline");
            if inside {
                out.push(l);
            }
        }
        out
    };
    assert!(tables.len() > 3, "{sub}: {text}");
    for l in tables {
        assert!(l.chars().count() <= 80, "{sub}: wider than 80: {l:?}");
    }
    text
}

fn get<'a>(plots: &'a [(&str, String)], name: &str) -> &'a str {
    &plots.iter().find(|p| p.0 == name).unwrap().1
}

/// The largest step in x between neighbouring points of any line of
/// `colour`: a series that joins across a gap makes a long one.
fn longest_step(svg: &str, colour: &str) -> f64 {
    lines_of(svg, colour)
        .iter()
        .flat_map(|l| l.windows(2).map(|w| (w[1].0 - w[0].0).abs()))
        .fold(0.0, f64::max)
}

const VERMILLION: &str = "#D55E00";
const PURPLE: &str = "#CC79A7";
const SKY: &str = "#56B4E9";

#[test]
fn two_storms_each_have_their_culprit_marks_and_colour() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(
        d.path(),
        "two.log",
        &["--scenario", "two-storms", "--lines", "80000"],
    );
    let plots = checked_plots(&report(d.path(), &log));
    let timeline = texts_of(get(&plots, "timeline"));
    for n in ["#1", "#2"] {
        for mark in ["start", "peak", "end"] {
            assert!(
                timeline
                    .iter()
                    .any(|t| t.starts_with(n) && t.contains(mark)),
                "{n} {mark}: {timeline:?}"
            );
        }
        assert!(timeline.iter().any(|t| t == &format!("{n} retry storm")));
    }
    // Rate limiting has a panel of its own, where it shows.
    assert!(timeline.iter().any(|t| t == "429 rate limited"));
    let retries = get(&plots, "retries");
    let title = &texts_of(retries)[0];
    assert!(
        title.starts_with("Retries: the culprits of 2 retry storms"),
        "{title}"
    );
    // Each culprit its own series, in its episode's colour.
    assert!(!lines_of(retries, VERMILLION).is_empty());
    assert!(!lines_of(retries, PURPLE).is_empty());
    let legend = texts_of(retries);
    assert!(legend.iter().any(|t| t.starts_with("#1 acme-desktop")));
    assert!(legend.iter().any(|t| t.starts_with("#2 acme-mobile")));

    let storms = terminal("storms", &log);
    let (a, b) = (
        storms.find("acme-desktop").unwrap(),
        storms.find("acme-mobile").unwrap(),
    );
    assert!(a < b, "{storms}");
}

#[test]
fn outage_is_marked_with_one_label_for_start_and_peak() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(
        d.path(),
        "outage.log",
        &["--scenario", "outage", "--lines", "40000"],
    );
    let out = report(d.path(), &log);
    let plots = checked_plots(&out);
    let timeline = texts_of(get(&plots, "timeline"));
    assert!(
        timeline.iter().any(|t| t.starts_with("start, peak ")),
        "{timeline:?}"
    );
    let retries = texts_of(get(&plots, "retries"));
    assert!(
        retries[0].starts_with("Retries of all client traffic (no retry storm found)"),
        "{}",
        retries[0]
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("outage"), "{md}");
    // The title names the outage, not just the time range.
    assert!(
        md.starts_with("# Outage 2026-"),
        "{}",
        md.lines().next().unwrap()
    );
    let storms = terminal("storms", &log);
    assert!(storms.contains("outage"), "{storms}");
}

#[test]
fn normal_days_break_their_lines_at_night() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(
        d.path(),
        "normal.log",
        &["--scenario", "normal", "--days", "3", "--lines", "30000"],
    );
    let out = report(d.path(), &log);
    let plots = checked_plots(&out);
    let timeline = get(&plots, "timeline");
    // Three days over some 1,300 pixels: a bucket is well under a pixel,
    // the nights hundreds of pixels. No line may join across one.
    assert!(!lines_of(timeline, SKY).is_empty());
    assert!(
        longest_step(timeline, SKY) < 20.0,
        "p95 joins across a night"
    );
    assert!(
        longest_step(timeline, "#000000") < 20.0,
        "baseline joins across a night"
    );
    let retries = get(&plots, "retries");
    assert!(texts_of(retries)[0].contains("no retry storm found"));
    assert!(
        longest_step(retries, "#0072B2") < 20.0,
        "retries join across a night"
    );
    let analyze = terminal("analyze", &log);
    assert!(analyze.contains("none found"), "{analyze}");
}

#[test]
fn sparse_log_is_drawn_as_points() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("sparse.log");
    let line = |t: &str, status: u16| {
        format!("1.2.3.4 - - [{t} +0000] \"GET /v1/me HTTP/1.1\" {status} 5 \"-\" \"acme/1.0\"\n")
    };
    let text: String = [
        ("02/Mar/2026:08:00:01", 200),
        ("02/Mar/2026:10:00:01", 401),
        ("03/Mar/2026:12:00:01", 200),
    ]
    .iter()
    .map(|(t, s)| line(t, *s))
    .collect();
    std::fs::write(&log, text).unwrap();
    let plots = checked_plots(&report(d.path(), &log));
    let timeline = get(&plots, "timeline");
    // Three lone buckets: dots, no line between them.
    assert!(longest_step(timeline, VERMILLION) < 1.0);
    let doc = roxmltree::Document::parse(timeline).unwrap();
    let dots = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some(VERMILLION))
        .count();
    assert_eq!(dots, 3, "one 401 dot per bucket with data");
    let analyze = terminal("analyze", &log);
    assert!(
        analyze.contains("stretches without traffic left out"),
        "{analyze}"
    );
}

/// The checks fail where they should: on an SVG with a line out of its
/// plot area, two labels on each other, a mark through a label and axis
/// text inside a plot.
#[test]
fn the_checks_catch_what_they_look_for() {
    let axes = r##"<polyline fill="none" opacity="1" stroke="#000000" stroke-width="1" points="100,50 100,400 "/>
<polyline fill="none" opacity="1" stroke="#000000" stroke-width="1" points="100,400 900,400 "/>"##;
    let svg = |body: &str| {
        format!(
            r##"<svg width="1000" height="500" viewBox="0 0 1000 500" xmlns="http://www.w3.org/2000/svg">
<rect x="0" y="0" width="1000" height="500" opacity="1" fill="#FFFFFF" stroke="none"/>
{axes}
{body}
</svg>"##
        )
    };
    let text = |x: i32, y: i32, s: &str| {
        format!(
            r##"<text x="{x}" y="{y}" dy="0.76em" text-anchor="start" font-family="sans-serif" font-size="13" opacity="1" fill="#000000">{s}</text>"##
        )
    };
    let fine = svg(&format!(
        r##"<polyline fill="none" opacity="1" stroke="#D55E00" stroke-width="2" points="120,300 500,200 880,390 "/>
{}{}
<polyline fill="none" opacity="1" stroke="#D55E00" stroke-width="2" points="300,400 300,120 "/>"##,
        text(300, 60, "start 08:42"),
        text(300, 90, "peak 09:22"),
    ));
    assert_eq!(problems(&fine), Vec::<String>::new());

    let spill = svg(
        r##"<polyline fill="none" opacity="1" stroke="#D55E00" stroke-width="2" points="120,300 500,200 600,460 "/>"##,
    );
    let bad = problems(&spill);
    assert!(
        bad.len() == 1 && bad[0].contains("leaves its plot area"),
        "{bad:?}"
    );

    let on_top = svg(&format!(
        "{}{}",
        text(300, 60, "start 08:42"),
        text(340, 66, "peak 08:43")
    ));
    let bad = problems(&on_top);
    assert!(bad.len() == 1 && bad[0].contains("overlap"), "{bad:?}");

    let through = svg(&format!(
        r##"{}<polyline fill="none" opacity="1" stroke="#D55E00" stroke-width="2" points="320,400 320,55 "/>"##,
        text(300, 60, "peak 09:22")
    ));
    let bad = problems(&through);
    assert!(
        bad.len() == 1 && bad[0].contains("runs through the label"),
        "{bad:?}"
    );

    let straddles = svg(&text(20, 200, "1,000 requests"));
    let bad = problems(&straddles);
    assert!(bad.len() == 1 && bad[0].contains("reaches into"), "{bad:?}");
}
