//! Plots for postmortems (plotters, PNG and SVG): the incident timeline,
//! the cohorts, and the retry behaviour of the culprit against the rest.
//! Text is drawn with an embedded open-licence font (DejaVu Sans), so
//! images render the same on machines without any system fonts. Colours
//! are the Okabe–Ito palette, which stays distinct for colour-blind readers.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use plotters::coord::Shift;
use plotters::coord::types::RangedDateTime;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::aggregate::{CellKey, Cube};
use crate::classify::TokenState;
use crate::detect::{Culprit, DetectConfig, Storm, StormKind, baseline};
use crate::error::{Error, Result};
use crate::report::{BucketRow, Report};
use crate::time::{DisplayTz, MICROS_PER_SEC, Micros};

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

pub const SIZE: (u32, u32) = (1400, 900);

const ORANGE: RGBColor = RGBColor(230, 159, 0);
const SKY: RGBColor = RGBColor(86, 180, 233);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const YELLOW: RGBColor = RGBColor(240, 228, 66);
const BLUE: RGBColor = RGBColor(0, 114, 178);
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const GREY: RGBColor = RGBColor(120, 120, 120);

fn token_colour(t: TokenState) -> RGBColor {
    match t {
        TokenState::Valid => BLUE,
        TokenState::Expired => VERMILLION,
        TokenState::Invalid => ORANGE,
        TokenState::Missing => PURPLE,
        TokenState::Unknown => GREY,
    }
}

fn register_font() -> Result<()> {
    static ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *ONCE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Plot {
            what: "text".into(),
            reason: "the embedded font cannot be loaded".into(),
        })
    }
}

fn err<E: std::fmt::Debug>(what: &str) -> impl Fn(E) -> Error + '_ {
    move |e| Error::Plot {
        what: what.into(),
        reason: format!("{e:?}"),
    }
}

/// What the plots are drawn from.
pub struct PlotInput<'a> {
    pub report: &'a Report,
    pub cube: &'a Cube,
    /// The run's detection settings: the plotted baseline is the one the
    /// verdict was reached with.
    pub detect: &'a DetectConfig,
    pub tz: DisplayTz,
    pub stack: Stack,
}

/// What the timeline's request areas are stacked by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stack {
    #[default]
    TokenState,
    /// The five busiest app × version × token state cohorts, and the rest.
    Cohort,
}

/// Per-bucket series (label, colour, values) for the stacked areas.
fn stack_series(input: &PlotInput, rows: &[&BucketRow]) -> Vec<(String, RGBColor, Vec<f64>)> {
    match input.stack {
        Stack::TokenState => TokenState::ALL
            .iter()
            .map(|t| {
                (
                    t.name().to_string(),
                    token_colour(*t),
                    rows.iter()
                        .map(|b| *b.by_token_state.get(t).unwrap_or(&0) as f64)
                        .collect(),
                )
            })
            .collect(),
        Stack::Cohort => {
            let bu = input.cube.bucket_us();
            let first = rows.first().map(|b| b.start_us / bu).unwrap_or(0);
            let mut per: std::collections::BTreeMap<(&str, &str, TokenState), Vec<f64>> =
                Default::default();
            for (k, c) in &input.cube.cells {
                let i = k.bucket - first;
                if i >= 0 && (i as usize) < rows.len() {
                    per.entry((&k.app, &k.version, k.token_state))
                        .or_insert_with(|| vec![0.0; rows.len()])[i as usize] += c.requests as f64;
                }
            }
            let mut ranked: Vec<_> = per.into_iter().collect();
            ranked.sort_by(|a, b| {
                b.1.iter()
                    .sum::<f64>()
                    .total_cmp(&a.1.iter().sum::<f64>())
                    .then(a.0.cmp(&b.0))
            });
            let palette = [VERMILLION, BLUE, ORANGE, GREEN, PURPLE];
            let mut out: Vec<(String, RGBColor, Vec<f64>)> = Vec::new();
            let mut rest = vec![0.0; rows.len()];
            for (i, ((app, version, t), v)) in ranked.into_iter().enumerate() {
                if i < palette.len() {
                    let name = format!(
                        "{} {} · {}",
                        super::table::sanitize(app),
                        super::table::sanitize(version),
                        t.name()
                    );
                    out.push((name, palette[i], v));
                } else {
                    rest.iter_mut().zip(&v).for_each(|(r, x)| *r += x);
                }
            }
            out.push(("everything else".into(), GREY, rest));
            out
        }
    }
}

/// The time window plotted: around the episodes when there are any.
fn window(r: &Report) -> Vec<&BucketRow> {
    let span = r.storms.iter().fold(None, |acc: Option<(i64, i64)>, s| {
        let (a, b) = (
            s.times.start - 2 * 3600 * MICROS_PER_SEC,
            s.times.end + 3600 * MICROS_PER_SEC,
        );
        Some(acc.map_or((a, b), |(x, y)| (x.min(a), y.max(b))))
    });
    r.timeline
        .buckets
        .iter()
        .filter(|b| span.is_none_or(|(a, z)| b.start_us >= a && b.start_us < z))
        .collect()
}

fn int_label(v: &f64) -> String {
    if v.abs() >= 1000.0 {
        super::table::thousands(v.round() as u64)
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn time_fmt(span_us: i64) -> &'static str {
    if span_us <= 36 * 3600 * MICROS_PER_SEC {
        "%H:%M"
    } else if span_us <= 8 * 86_400 * MICROS_PER_SEC {
        "%m-%d %H:%M"
    } else {
        "%Y-%m-%d"
    }
}

/// Writes timeline, cohorts and retries as PNG and SVG into `dir`.
pub fn write_plots(dir: &Path, input: &PlotInput) -> Result<Vec<PathBuf>> {
    register_font()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for name in ["timeline", "cohorts", "retries"] {
        let png = dir.join(format!("{name}.png"));
        let svg = dir.join(format!("{name}.svg"));
        {
            let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
            draw(name, &root, input)?;
            root.present().map_err(err(name))?;
        }
        {
            let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
            draw(name, &root, input)?;
            root.present().map_err(err(name))?;
        }
        out.push(png);
        out.push(svg);
    }
    Ok(out)
}

/// One plot as an SVG string (for inlining in the HTML report).
pub fn svg_string(name: &str, input: &PlotInput) -> Result<String> {
    register_font()?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        draw(name, &root, input)?;
        root.present().map_err(err(name))?;
    }
    Ok(s)
}

fn draw<DB: DrawingBackend>(
    name: &str,
    root: &DrawingArea<DB, Shift>,
    input: &PlotInput,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err(name))?;
    match name {
        "timeline" => timeline(root, input),
        "cohorts" => cohorts(root, input),
        _ => retries(root, input),
    }
    .map_err(err(name))
}

type DResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn dt(t: Micros) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(t).unwrap_or_default()
}

fn title_range(input: &PlotInput, rows: &[&BucketRow]) -> String {
    match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => format!(
            "{} – {} {}",
            input.tz.format(a.start_us, "%Y-%m-%d %H:%M"),
            input.tz.format(
                b.start_us + input.report.timeline.bucket_seconds as i64 * MICROS_PER_SEC,
                if a.start_us / 86_400_000_000 == b.start_us / 86_400_000_000 {
                    "%H:%M"
                } else {
                    "%Y-%m-%d %H:%M"
                }
            ),
            input.tz.name()
        ),
        _ => "no data".into(),
    }
}

type TimeAxis = RangedDateTime<DateTime<Utc>>;

fn shade_storms<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<TimeAxis, plotters::coord::types::RangedCoordf64>>,
    storms: &[Storm],
    ymax: f64,
    labels: bool,
    tz: DisplayTz,
) -> DResult<DB> {
    for s in storms {
        let colour = match s.kind {
            StormKind::Storm => VERMILLION,
            StormKind::Outage => PURPLE,
            StormKind::Surge => ORANGE,
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(dt(s.times.start), 0.0), (dt(s.times.end), ymax)],
            colour.mix(0.10).filled(),
        )))?;
        let mut marks = vec![
            ("start", s.times.start),
            ("peak", s.times.peak),
            ("end", s.times.end),
        ];
        if let Some(m) = s.times.mitigation {
            marks.push(("mitigation", m));
        }
        marks.sort_by_key(|m| m.1);
        for (i, (label, t)) in marks.iter().enumerate() {
            let x = dt(*t);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, ymax)],
                colour.stroke_width(2),
            )))?;
            if labels {
                // Staggered rows, so markers minutes apart stay readable.
                let y = ymax * (0.97 - 0.065 * (i % 4) as f64);
                let text = format!("{label} {}", tz.format(*t, "%H:%M"));
                let style = (FAMILY, 17).into_font().color(&colour);
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x, y)) + Text::new(text, (5, 0), style),
                ))?;
            }
        }
    }
    Ok(())
}

/// The incident timeline: requests (stacked, with the baseline), failures
/// and p95 latency, one panel each over the same time axis, the episodes
/// shaded in all three.
fn timeline<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DResult<DB> {
    let r = input.report;
    let rows = window(r);
    let bucket = r.timeline.bucket_seconds;
    let by = match input.stack {
        Stack::TokenState => "token state",
        Stack::Cohort => "cohort",
    };
    let title = format!(
        "Requests per {} by {by}, errors and latency — {}",
        per_label(bucket),
        title_range(input, &rows)
    );
    let root = root.titled(&title, (FAMILY, 26))?;
    let (top, rest) = root.split_vertically((55).percent());
    let (mid, bottom) = rest.split_vertically((50).percent());
    let (x, xfmt) = time_axis(&rows, bucket, input.tz);
    requests_panel(&top, input, &rows, x, &xfmt)?;
    failures_panel(&mid, input, &rows, x, &xfmt)?;
    latency_panel(&bottom, input, &rows, x, &xfmt)
}

/// Requests stacked by token state (or cohort), the baseline the run's
/// detection settings give with its band, and the episodes with their
/// marks labelled.
fn requests_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &PlotInput,
    rows: &[&BucketRow],
    x: TimeRange,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> DResult<DB> {
    let bucket = input.report.timeline.bucket_seconds;
    let total: Vec<f64> = rows.iter().map(|b| b.requests as f64).collect();
    let grid = baseline::Grid {
        observed: rows
            .iter()
            .map(|b| b.requests + b.health_checks > 0)
            .collect(),
        day: None,
    };
    let scan = baseline::scan(&total, &grid, &input.detect.params());
    let ymax = total.iter().cloned().fold(1.0, f64::max) * 1.15;
    let mut chart = time_panel(
        area,
        x,
        ymax,
        &format!("requests / {}", per_label(bucket)),
        None,
        xfmt,
    )?;
    draw_stack(&mut chart, input, rows)?;
    draw_baseline(&mut chart, rows, &scan, input.detect.z)?;
    shade_storms(&mut chart, &input.report.storms, ymax, true, input.tz)?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// The stacked request areas, bottom to top in [`stack_series`] order;
/// series with no requests in the window are left out.
fn draw_stack<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    input: &PlotInput,
    rows: &[&BucketRow],
) -> DResult<DB> {
    let mut below = vec![0.0; rows.len()];
    for (name, c, vals) in stack_series(input, rows) {
        if vals.iter().all(|v| *v == 0.0) {
            continue;
        }
        let upper: Vec<f64> = below.iter().zip(&vals).map(|(a, b)| a + b).collect();
        let pts: Vec<(DateTime<Utc>, f64)> = rows
            .iter()
            .enumerate()
            .map(|(i, b)| (dt(b.start_us), upper[i]))
            .chain(
                rows.iter()
                    .enumerate()
                    .rev()
                    .map(|(i, b)| (dt(b.start_us), below[i])),
            )
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(pts, c.mix(0.75).filled())))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], c.filled()));
        below = upper;
    }
    Ok(())
}

/// The baseline and its band at the run's `z` scales above (what a bucket
/// must pass to be anomalous).
fn draw_baseline<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    rows: &[&BucketRow],
    scan: &baseline::Scan,
    z: f64,
) -> DResult<DB> {
    let band: Vec<(DateTime<Utc>, f64)> = rows
        .iter()
        .enumerate()
        .map(|(i, b)| (dt(b.start_us), scan.forecast[i] + z * scan.scale[i]))
        .collect();
    chart
        .draw_series(LineSeries::new(
            rows.iter()
                .enumerate()
                .map(|(i, b)| (dt(b.start_us), scan.forecast[i])),
            BLACK.stroke_width(2),
        ))?
        .label("baseline")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(band, BLACK.mix(0.5).stroke_width(1)))?
        .label(format!("baseline + {z} σ"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.5)));
    Ok(())
}

/// 401, 429, 5xx and timeouts per bucket.
fn failures_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &PlotInput,
    rows: &[&BucketRow],
    x: TimeRange,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> DResult<DB> {
    type Count = Box<dyn Fn(&BucketRow) -> u64>;
    let lines: [(&str, RGBColor, Count); 4] = [
        ("401", VERMILLION, Box::new(|b| b.status_401)),
        ("429", GREEN, Box::new(|b| b.status_429)),
        (
            "5xx",
            PURPLE,
            Box::new(|b| *b.by_status_class.get("5xx").unwrap_or(&0)),
        ),
        ("timeouts (408/499/504)", ORANGE, Box::new(|b| b.timeouts)),
    ];
    let emax = rows
        .iter()
        .map(|b| lines.iter().map(|(_, _, f)| f(b)).max().unwrap_or(0))
        .max()
        .unwrap_or(0) as f64
        * 1.15
        + 1.0;
    let mut chart = time_panel(
        area,
        x,
        emax,
        &format!(
            "responses / {}",
            per_label(input.report.timeline.bucket_seconds)
        ),
        None,
        xfmt,
    )?;
    for (name, c, f) in &lines {
        let c = *c;
        chart
            .draw_series(LineSeries::new(
                rows.iter().map(|b| (dt(b.start_us), f(b) as f64)),
                c.stroke_width(2),
            ))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(3)));
    }
    shade_storms(&mut chart, &input.report.storms, emax, false, input.tz)?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// p95 latency per bucket, over all client traffic.
fn latency_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &PlotInput,
    rows: &[&BucketRow],
    x: TimeRange,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> DResult<DB> {
    let lmax = rows
        .iter()
        .filter_map(|b| b.p95_latency_ms)
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = time_panel(
        area,
        x,
        lmax,
        "p95 latency (ms)",
        Some(&format!("time ({})", input.tz.name())),
        xfmt,
    )?;
    chart
        .draw_series(LineSeries::new(
            rows.iter()
                .filter_map(|b| b.p95_latency_ms.map(|l| (dt(b.start_us), l))),
            SKY.stroke_width(2),
        ))?
        .label("p95 latency, all client traffic")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], SKY.stroke_width(3)));
    shade_storms(&mut chart, &input.report.storms, lmax, false, input.tz)?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// A time axis's range: from, to.
type TimeRange = (DateTime<Utc>, DateTime<Utc>);

/// The x range covered by `rows` and the tick label format for it.
fn time_axis(
    rows: &[&BucketRow],
    bucket: u64,
    tz: DisplayTz,
) -> (TimeRange, impl Fn(&DateTime<Utc>) -> String) {
    let (t0, t1) = match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => (a.start_us, b.start_us + bucket as i64 * MICROS_PER_SEC),
        _ => (0, MICROS_PER_SEC),
    };
    let fmt = time_fmt(t1 - t0);
    ((dt(t0), dt(t1)), move |x: &DateTime<Utc>| {
        tz.format(x.timestamp_micros(), fmt)
    })
}

type TimeChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<TimeAxis, plotters::coord::types::RangedCoordf64>>;

/// A time panel: linear y from 0 to `ymax`, time ticks in the display zone.
fn time_panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    (x0, x1): (DateTime<Utc>, DateTime<Utc>),
    ymax: f64,
    y_desc: &str,
    x_desc: Option<&str>,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> std::result::Result<TimeChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(if x_desc.is_some() { 35 } else { 30 })
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, 0.0..ymax)?;
    time_mesh(&mut chart, y_desc, x_desc, xfmt)?;
    Ok(chart)
}

/// The axes of a time panel, linear or log: time ticks in the display
/// zone, integer values, no minor grid.
fn time_mesh<DB: DrawingBackend, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<TimeAxis, Y>>,
    y_desc: &str,
    x_desc: Option<&str>,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(xfmt)
        .y_label_formatter(&int_label)
        .y_desc(y_desc)
        .label_style((FAMILY, 15))
        .light_line_style(WHITE.mix(0.0));
    if let Some(d) = x_desc {
        mesh.x_desc(d);
    }
    mesh.draw()
}

/// The legend, in the same place and style on every panel.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 15))
        .draw()
}

fn per_label(bucket: u64) -> String {
    match bucket {
        60 => "minute".into(),
        3600 => "hour".into(),
        s => humantime::format_duration(std::time::Duration::from_secs(s)).to_string(),
    }
}

/// Is this cohort part of the first storm's top culprit?
fn is_culprit(r: &Report, app: &str, version: &str, t: TokenState) -> bool {
    r.storms
        .iter()
        .filter(|s| s.kind == StormKind::Storm)
        .flat_map(|s| s.culprits.first())
        .any(|c| {
            c.app.as_deref().is_none_or(|a| a == app)
                && (c.versions.is_empty() || c.versions.iter().any(|v| v == version))
                && c.token_state.is_none_or(|x| x == t)
        })
}

fn cohorts<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DResult<DB> {
    let r = input.report;
    let top: Vec<_> = r.cohorts.iter().take(14).collect();
    let title = format!(
        "Requests and distinct clients per app × version × token state — {}",
        title_range(
            input,
            &r.timeline
                .buckets
                .iter()
                .filter(|b| b.requests > 0)
                .collect::<Vec<_>>()
        )
    );
    let root = root.titled(&title, (FAMILY, 26))?;
    let n = top.len().max(1) as f64;
    let xmax = top.iter().map(|c| c.requests).max().unwrap_or(1) as f64 * 1.25;
    let names: Vec<String> = top
        .iter()
        .map(|c| {
            format!(
                "{} {} · {}",
                super::table::sanitize(&c.app),
                super::table::sanitize(if c.version.is_empty() {
                    "-"
                } else {
                    &c.version
                }),
                c.token_state.name()
            )
        })
        .collect();
    let yfmt = |y: &f64| {
        let i = (n - 1.0 - y.round()) as isize;
        if i >= 0 && (i as usize) < names.len() && (y - y.round()).abs() < 0.01 {
            names[i as usize].clone()
        } else {
            String::new()
        }
    };
    let mut chart = ChartBuilder::on(&root)
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(330)
        .build_cartesian_2d(0.0..xmax, -0.6..(n - 0.4))?;
    chart
        .configure_mesh()
        .y_labels(top.len().max(1))
        .y_label_formatter(&yfmt)
        .x_desc("requests (bar) — distinct clients (label)")
        .x_label_formatter(&int_label)
        .label_style((FAMILY, 15))
        .light_line_style(WHITE.mix(0.0))
        .disable_y_mesh()
        .draw()?;
    let culprit_seen = top
        .iter()
        .any(|c| is_culprit(r, &c.app, &c.version, c.token_state));
    for (i, c) in top.iter().enumerate() {
        let y = n - 1.0 - i as f64;
        let hit = is_culprit(r, &c.app, &c.version, c.token_state);
        let colour = if hit { VERMILLION } else { BLUE };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y - 0.35), (c.requests as f64, y + 0.35)],
            colour.mix(if hit { 0.9 } else { 0.6 }).filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!(
                "{} req · {} clients",
                super::table::thousands(c.requests),
                super::table::thousands(c.clients)
            ),
            (c.requests as f64 + xmax * 0.01, y + 0.15),
            (FAMILY, 14).into_font(),
        )))?;
    }
    if culprit_seen {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, -10.0), (0.0, -10.0)],
                VERMILLION.filled(),
            )))?
            .label("storm culprit")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], VERMILLION.filled()));
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

/// Requests, retries and distinct client hashes of one side (the culprit,
/// or everyone else) in one bucket.
type Side = (u64, u64, Vec<u64>);

/// The retry behaviour of the first storm's culprit against everyone
/// else (or of all clients, without a storm): the retry ratio on top,
/// requests per client below.
fn retries<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DResult<DB> {
    let r = input.report;
    let rows = window(r);
    let lead = r
        .storms
        .iter()
        .find(|s| s.kind == StormKind::Storm)
        .and_then(|s| s.culprits.first());
    let who = lead
        .map(super::table::culprit_name)
        .unwrap_or_else(|| "all client traffic".into());
    let title = format!(
        "Retries: {who} vs everyone else — {}",
        title_range(input, &rows)
    );
    let root = root.titled(&title, (FAMILY, 22))?;
    let (top, bottom) = root.split_vertically((50).percent());
    let acc = culprit_and_rest(input.cube, &rows, lead);
    let (x, xfmt) = time_axis(&rows, r.timeline.bucket_seconds, input.tz);
    let sides: Vec<(&str, RGBColor, usize)> = if lead.is_some() {
        vec![("culprit", VERMILLION, 0), ("everyone else", BLUE, 1)]
    } else {
        vec![("all clients", BLUE, 1)]
    };

    // Both measures span orders of magnitude in a storm: log scales, and
    // buckets without traffic on a side are left out rather than drawn as 0.
    let floor = 0.01;
    let mut chart = log_time_panel(
        &top,
        x,
        (floor, log_ymax(&acc, &sides, retry_ratio)),
        "retry ratio (retries / originals), log",
        None,
        &xfmt,
    )?;
    draw_sides(&mut chart, &rows, &acc, &sides, retry_ratio, floor)?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(x.0, 0.1), (x.1, 0.1)],
            YELLOW.stroke_width(2),
        )))?
        .label("retry budget 0.10 (Google SRE)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], YELLOW.stroke_width(3)));
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;

    let floor = 0.5;
    let mut chart = log_time_panel(
        &bottom,
        x,
        (floor, log_ymax(&acc, &sides, requests_per_client)),
        "requests per client per bucket, log",
        Some(&format!("time ({})", input.tz.name())),
        &xfmt,
    )?;
    draw_sides(&mut chart, &rows, &acc, &sides, requests_per_client, floor)?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// Per bucket of `rows`: the [`Side`] of the culprit `lead` (first) and
/// of everyone else (second).
fn culprit_and_rest(cube: &Cube, rows: &[&BucketRow], lead: Option<&Culprit>) -> Vec<[Side; 2]> {
    let in_lead = |k: &CellKey| {
        lead.is_some_and(|c| {
            c.app.as_deref().is_none_or(|a| a == k.app)
                && (c.versions.is_empty() || c.versions.contains(&k.version))
                && c.token_state.is_none_or(|t| t == k.token_state)
                && c.endpoint.as_deref().is_none_or(|e| e == k.endpoint)
        })
    };
    let bu = cube.bucket_us();
    let first = rows.first().map(|b| b.start_us / bu).unwrap_or(0);
    let mut acc = vec![
        [
            (0u64, 0u64, Vec::<u64>::new()),
            (0u64, 0u64, Vec::<u64>::new())
        ];
        rows.len()
    ];
    for (k, c) in &cube.cells {
        let i = k.bucket - first;
        if i < 0 || i as usize >= rows.len() {
            continue;
        }
        let side = &mut acc[i as usize][usize::from(!in_lead(k))];
        side.0 += c.requests;
        side.1 += c.retries;
        side.2 = crate::aggregate::cube::union(&side.2, &c.clients);
    }
    acc
}

/// Retries per original request (retries alone when all were retries).
fn retry_ratio((req, ret, _): &Side) -> f64 {
    if req > ret {
        *ret as f64 / (*req - *ret) as f64
    } else if *ret > 0 {
        *ret as f64
    } else {
        0.0
    }
}

fn requests_per_client((req, _, cl): &Side) -> f64 {
    if cl.is_empty() {
        0.0
    } else {
        *req as f64 / cl.len() as f64
    }
}

/// The top of a log panel of `f` over the `sides` drawn: twice the
/// largest value, and at least 2.
fn log_ymax(acc: &[[Side; 2]], sides: &[(&str, RGBColor, usize)], f: fn(&Side) -> f64) -> f64 {
    acc.iter()
        .flat_map(|a| sides.iter().map(move |s| f(&a[s.2])))
        .fold(1.0, f64::max)
        * 2.0
}

type LogTimeChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<TimeAxis, plotters::coord::combinators::LogCoord<f64>>>;

/// A time panel as [`time_panel`] draws one, with a log-10 y axis over
/// `ylim` (from, to).
fn log_time_panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    (x0, x1): TimeRange,
    (floor, ymax): (f64, f64),
    y_desc: &str,
    x_desc: Option<&str>,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> std::result::Result<LogTimeChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, (floor..ymax).log_scale().base(10.0))?;
    time_mesh(&mut chart, y_desc, x_desc, xfmt)?;
    Ok(chart)
}

/// A line of `f` per side, over the buckets where that side has traffic,
/// raised to `floor`.
fn draw_sides<DB: DrawingBackend>(
    chart: &mut LogTimeChart<'_, DB>,
    rows: &[&BucketRow],
    acc: &[[Side; 2]],
    sides: &[(&str, RGBColor, usize)],
    f: fn(&Side) -> f64,
    floor: f64,
) -> DResult<DB> {
    for (name, c, side) in sides {
        let c = *c;
        let pts: Vec<(DateTime<Utc>, f64)> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| acc[*i][*side].0 > 0)
            .map(|(i, b)| (dt(b.start_us), f(&acc[i][*side]).max(floor)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(3)));
    }
    Ok(())
}
