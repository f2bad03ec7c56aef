//! Plots for postmortems (plotters, PNG and SVG): the incident timeline,
//! the cohorts, and the retry behaviour of each storm's culprit against
//! the rest. Text is drawn with an embedded open-licence font (DejaVu
//! Sans), so images render the same on machines without any system fonts.
//! Colours are the Okabe–Ito palette, which stays distinct for colour-blind
//! readers.
//!
//! Everything drawn stays inside its plot area: series break where a
//! bucket has no data, the y range holds every value drawn (the baseline's
//! band too), and the episodes' mark labels have rows of their own above
//! the data, placed so that no label covers another or is crossed by a
//! mark line.

use std::ops::Range;
use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use chrono::{DateTime, Utc};
use plotters::coord::Shift;
use plotters::coord::types::{RangedCoordf64, RangedDateTime};
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendTextStyle, DrawingErrorKind};

use crate::aggregate::{CellKey, Cube};
use crate::classify::TokenState;
use crate::detect::{Culprit, DetectConfig, Storm, StormKind, baseline};
use crate::error::{Error, Result};
use crate::report::{BucketRow, Report};
use crate::time::{DisplayTz, MICROS_PER_SEC, Micros};

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The name plotters looks the embedded font up by, which the SVG files
/// also carry as their CSS font list: DejaVu Sans where it is installed
/// (the metrics the labels were placed with), any sans-serif elsewhere.
const FAMILY: &str = "DejaVu Sans, sans-serif";

pub const SIZE: (u32, u32) = (1400, 900);

const ORANGE: RGBColor = RGBColor(230, 159, 0);
const SKY: RGBColor = RGBColor(86, 180, 233);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const BLUE: RGBColor = RGBColor(0, 114, 178);
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const GREY: RGBColor = RGBColor(120, 120, 120);
/// Reference lines (the retry budget): dark enough to read on white, and
/// not a data colour.
const REFERENCE: RGBColor = RGBColor(60, 60, 60);

/// The episodes' colours in their order (shading, marks, culprit series),
/// repeated past the fourth; the episodes' numbers tell repeats apart.
const EPISODE: [RGBColor; 4] = [VERMILLION, PURPLE, GREEN, BLUE];

fn episode_colour(i: usize) -> RGBColor {
    EPISODE[i % EPISODE.len()]
}

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
    if ok && glyphs().is_some() {
        Ok(())
    } else {
        Err(Error::Plot {
            what: "text".into(),
            reason: "the embedded font cannot be loaded".into(),
        })
    }
}

fn glyphs() -> Option<&'static FontRef<'static>> {
    static FONT_REF: std::sync::OnceLock<Option<FontRef<'static>>> = std::sync::OnceLock::new();
    FONT_REF
        .get_or_init(|| FontRef::try_from_slice(FONT).ok())
        .as_ref()
}

fn err<E: std::fmt::Debug>(what: &str) -> impl Fn(E) -> Error + '_ {
    move |e| Error::Plot {
        what: what.into(),
        reason: format!("{e:?}"),
    }
}

/// The width `text` is given room for at plotters font size `size`:
/// 0.6 em a character (the em is `size / 1.24`, as plotters sizes text in
/// SVG). DejaVu Sans's digits and lower-case letters are at most that
/// wide, so text takes no more room than this.
fn text_width(size: f64, text: &str) -> i32 {
    (text.chars().count() as f64 * 0.6 * size / 1.24).ceil() as i32
}

/// The bitmap backend with text and wide lines drawn as the SVG files show
/// them. plotters' own raster text drops each glyph's left side bearing
/// (letters bunch up and spread out: "dients", "tim e"), and its wide
/// lines are one polygon whose inner corners are not limited, so a spike
/// in a dense series sends a sliver far below the axis.
struct Raster<'a>(BitMapBackend<'a>);

type RasterError<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

impl<'a> DrawingBackend for Raster<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> std::result::Result<(), RasterError<'a>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> std::result::Result<(), RasterError<'a>> {
        self.0.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> std::result::Result<(), RasterError<'a>> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> std::result::Result<(), RasterError<'a>> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), RasterError<'a>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    /// A wide line as one polygon per segment (each a plain rectangle),
    /// rounded at the joints.
    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> std::result::Result<(), RasterError<'a>> {
        if style.stroke_width() <= 1 {
            return self.0.draw_path(path, style);
        }
        let pts: Vec<BackendCoord> = path.into_iter().collect();
        for w in pts.windows(2) {
            self.0.draw_path(w.iter().copied(), style)?;
        }
        let r = style.stroke_width() / 2;
        for p in pts.iter().skip(1).take(pts.len().saturating_sub(2)) {
            self.0.draw_circle(*p, r, style, true)?;
        }
        Ok(())
    }

    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), RasterError<'a>> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> std::result::Result<(), RasterError<'a>> {
        self.0.fill_polygon(vert, style)
    }

    /// Text in the embedded font at the size and anchor the SVG files give
    /// it (an em of `size / 1.24`; the baseline 0.76 em below a top anchor,
    /// half an x-height below a centre one), each glyph at its advance,
    /// kerning and side bearing.
    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> std::result::Result<(), RasterError<'a>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let Some(font) = glyphs() else {
            return self.0.draw_text(text, style, pos);
        };
        let em = style.size() as f32 / 1.24;
        let units = font.units_per_em().unwrap_or(2048.0);
        let scaled = font.as_scaled(PxScale::from(em * font.height_unscaled() / units));
        let mut placed = Vec::new();
        let mut caret = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            placed.push(id.with_scale_and_position(scaled.scale(), point(caret, 0.0)));
            caret += scaled.h_advance(id);
            prev = Some(id);
        }
        let x_height = scaled
            .outline_glyph(scaled.glyph_id('x').with_scale(scaled.scale()))
            .map_or(em * 0.55, |o| o.px_bounds().height());
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -caret / 2.0,
            HPos::Right => -caret,
        };
        let baseline = match style.anchor().v_pos {
            VPos::Top => 0.76 * em,
            VPos::Center => 0.5 * x_height,
            VPos::Bottom => -0.5 * x_height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        for g in placed {
            let Some(o) = scaled.outline_glyph(g) else {
                continue;
            };
            let b = o.px_bounds();
            // One rounding per glyph: rounding each row on its own sends
            // rows whose offset ends near .5 two ways (a seam in the text).
            let (ox, oy) = (
                (b.min.x + dx).round() as i32,
                (b.min.y + baseline).round() as i32,
            );
            let mut px = Vec::new();
            o.draw(|gx, gy, cov| px.push((gx, gy, cov)));
            for (gx, gy, cov) in px {
                let (rx, ry) = (ox + gx as i32, oy + gy as i32);
                let (tx, ty) = trans.transform(rx, ry);
                let (x, y) = (pos.0 + tx, pos.1 + ty);
                if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                    self.0.draw_pixel(
                        (x, y),
                        BackendColor {
                            alpha: color.alpha * f64::from(cov.min(1.0)),
                            rgb: color.rgb,
                        },
                    )?;
                }
            }
        }
        Ok(())
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> std::result::Result<(), RasterError<'a>> {
        self.0.blit_bitmap(pos, size, src)
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
            let index = row_index(input.cube, rows);
            let mut per: std::collections::BTreeMap<(&str, &str, TokenState), Vec<f64>> =
                Default::default();
            for (k, c) in &input.cube.cells {
                if let Some(&i) = index.get(&k.bucket) {
                    per.entry((&k.app, &k.version, k.token_state))
                        .or_insert_with(|| vec![0.0; rows.len()])[i] += c.requests as f64;
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
                    out.push((shorten(&name, 40), palette[i], v));
                } else {
                    rest.iter_mut().zip(&v).for_each(|(r, x)| *r += x);
                }
            }
            out.push(("everything else".into(), GREY, rest));
            out
        }
    }
}

/// The cube's bucket index → the index of its row in `rows` (which may
/// leave empty stretches out).
fn row_index(cube: &Cube, rows: &[&BucketRow]) -> std::collections::HashMap<i64, usize> {
    let bu = cube.bucket_us();
    rows.iter()
        .enumerate()
        .map(|(i, b)| (b.start_us.div_euclid(bu), i))
        .collect()
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
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

/// Maximal runs of `rows` where `has` holds for every bucket and each
/// bucket follows the one before: a series is drawn over each run and
/// breaks between them, rather than joining across buckets without data.
fn runs(rows: &[&BucketRow], bucket_us: i64, has: impl Fn(usize) -> bool) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for i in (0..rows.len()).filter(|&i| has(i)) {
        match out.last_mut() {
            Some(r) if r.end == i && rows[i].start_us - rows[i - 1].start_us == bucket_us => {
                r.end = i + 1
            }
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// Did the log say anything in this bucket (a request or a health check)?
fn observed(b: &BucketRow) -> bool {
    b.requests + b.health_checks > 0
}

fn int_label(v: &f64) -> String {
    if v.abs() >= 1000.0 {
        super::table::thousands(v.round() as u64)
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
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
            let root = Raster(BitMapBackend::new(&png, SIZE)).into_drawing_area();
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

/// The title, at `size` when it fits the width, else at the size that does.
fn title_size(text: &str, size: f64) -> f64 {
    let room = SIZE.0 as f64 - 40.0;
    let w = text_width(size, text) as f64;
    if w <= room {
        size
    } else {
        (size * room / w).floor()
    }
}

type TimeAxis = RangedDateTime<DateTime<Utc>>;
type TimeChart<'a, DB, Y> = ChartContext<'a, DB, Cartesian2d<TimeAxis, Y>>;

/// The episodes as drawn: number (from 1, in the report's order), colour,
/// what kind.
struct Episode<'r> {
    n: usize,
    colour: RGBColor,
    storm: &'r Storm,
}

fn episodes(r: &Report) -> Vec<Episode<'_>> {
    r.storms
        .iter()
        .enumerate()
        .map(|(i, s)| Episode {
            n: i + 1,
            colour: episode_colour(i),
            storm: s,
        })
        .collect()
}

fn kind_name(k: StormKind) -> &'static str {
    match k {
        StormKind::Storm => "retry storm",
        StormKind::Outage => "outage",
        StormKind::Surge => "surge",
    }
}

/// Each episode's span shaded in its colour over `(y0, y1)`.
fn shade_episodes<DB: DrawingBackend, Y>(
    chart: &mut TimeChart<'_, DB, Y>,
    eps: &[Episode],
    (y0, y1): (f64, f64),
) -> DResult<DB>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    for e in eps {
        let s = e.storm;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(dt(s.times.start), y0), (dt(s.times.end), y1)],
            e.colour.mix(0.12).filled(),
        )))?;
    }
    Ok(())
}

/// One mark label: the episode's marks at one spot (marks closer than a
/// few pixels share a label), the lines drawn for them, and where the
/// label went.
struct MarkLabel {
    colour: RGBColor,
    text: String,
    /// The marks' x pixels, in time order, and their times.
    xs: Vec<(i32, Micros)>,
    row: usize,
    /// The label's x span in pixels.
    span: (i32, i32),
    /// Right of the last line, or else left of the first.
    right: bool,
    /// Do its lines rise to the label? They stop under the lowest row of
    /// labels when they would cross another label on the way.
    reach: bool,
}

/// The marks of every episode, grouped into labels: start, peak,
/// mitigation and end in time order; marks of one episode less than
/// eight pixels apart share a label ("start, peak 09:00").
fn mark_labels(
    eps: &[Episode],
    px: &dyn Fn(Micros) -> i32,
    tz: DisplayTz,
    numbered: bool,
) -> Vec<MarkLabel> {
    const CLOSE: i32 = 8;
    let mut out = Vec::new();
    for e in eps {
        let s = e.storm;
        let mut marks = vec![
            ("start", s.times.start),
            ("peak", s.times.peak),
            ("end", s.times.end),
        ];
        if let Some(m) = s.times.mitigation {
            marks.push(("mitigation", m));
        }
        marks.sort_by_key(|m| m.1);
        let mut groups: Vec<Vec<(&str, Micros)>> = Vec::new();
        for m in marks {
            match groups.last_mut() {
                Some(g) if px(m.1) - px(g.last().expect("non-empty").1) < CLOSE => g.push(m),
                _ => groups.push(vec![m]),
            }
        }
        for g in groups {
            let mut parts: Vec<String> = Vec::new();
            for (i, (name, t)) in g.iter().enumerate() {
                let hm = tz.format(*t, "%H:%M");
                let same_as_next = g.get(i + 1).is_some_and(|n| tz.format(n.1, "%H:%M") == hm);
                parts.push(if same_as_next {
                    name.to_string()
                } else {
                    format!("{name} {hm}")
                });
            }
            let text = if numbered {
                format!("#{} {}", e.n, parts.join(", "))
            } else {
                parts.join(", ")
            };
            out.push(MarkLabel {
                colour: e.colour,
                text,
                xs: g.iter().map(|(_, t)| (px(*t), *t)).collect(),
                row: 0,
                span: (0, 0),
                right: true,
                reach: true,
            });
        }
    }
    out.sort_by_key(|l| l.xs[0].0);
    out
}

/// Places the labels in rows from the top of the plot, `(left, right)`
/// the plot's x pixels: each label beside its lines, no two labels in a
/// row overlapping, and where it can be, no mark line (which rises to
/// just under its own label) crossing another label. A line that would
/// cross one stops under the lowest row instead ([`MarkLabel::reach`]).
/// Returns the number of rows used.
fn place_labels(labels: &mut [MarkLabel], (left, right): (i32, i32), size: f64) -> usize {
    const GAP: i32 = 6;
    const PAD: i32 = 4;
    let crosses = |x: i32, s: (i32, i32)| x >= s.0 - GAP && x <= s.1 + GAP;
    for i in 0..labels.len() {
        let w = text_width(size, &labels[i].text);
        let (done, rest) = labels.split_at_mut(i);
        let me = &mut rest[0];
        let xs: Vec<i32> = me.xs.iter().map(|&(x, _)| x).collect();
        let (first, last) = (xs[0], xs[xs.len() - 1]);
        let sides = [
            ((last + PAD, last + PAD + w), true),
            ((first - PAD - w, first - PAD), false),
        ];
        let free = |row: usize, span: (i32, i32)| {
            span.0 >= left
                && span.1 <= right
                && done
                    .iter()
                    .all(|p| p.row != row || span.0 >= p.span.1 + GAP || p.span.0 >= span.1 + GAP)
        };
        let clear = |row: usize, span: (i32, i32)| {
            done.iter().all(|p| {
                let above = p.row < row && p.xs.iter().any(|&(x, _)| crosses(x, span));
                let below = p.row > row && xs.iter().any(|&x| crosses(x, p.span));
                !above && !below
            })
        };
        let rows = done.iter().map(|p| p.row + 1).max().unwrap_or(0);
        let pick = |strict: bool| {
            (0..=rows).find_map(|row| {
                sides
                    .iter()
                    .find(|(span, _)| free(row, *span) && (!strict || clear(row, *span)))
                    .map(|&(span, right)| (row, span, right))
            })
        };
        let (row, span, right) = pick(true)
            .or_else(|| pick(false))
            .unwrap_or((rows, sides[0].0, true));
        (me.row, me.span, me.right) = (row, span, right);
    }
    for i in 0..labels.len() {
        let me = &labels[i];
        let blocked = labels
            .iter()
            .any(|p| p.row > me.row && me.xs.iter().any(|&(x, _)| crosses(x, p.span)));
        labels[i].reach = !blocked;
    }
    labels.iter().map(|l| l.row + 1).max().unwrap_or(0)
}

/// Font sizes (as plotters takes them: the em is `size / 1.24`).
const TITLE: f64 = 26.0;
const MARK: f64 = 17.0;
const AXIS: f64 = 15.0;
const LEGEND: f64 = 15.0;
/// A row of mark labels, pixels.
const MARK_ROW: i32 = 22;

/// The incident timeline: requests (stacked, with the baseline), 401 and
/// 5xx answers, rate limiting (429 and 403, the evidence of mitigation,
/// on a scale of its own) and timeouts, and p95 latency, one panel each
/// over the same time axis, the episodes shaded in all of them.
fn timeline<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DResult<DB> {
    let r = input.report;
    let rows = window(r);
    let bucket = r.timeline.bucket_seconds;
    let per = per_label(bucket);
    let by = match input.stack {
        Stack::TokenState => "token state",
        Stack::Cohort => "cohort",
    };
    let title = format!(
        "Requests per {per} by {by}, failures, rate limiting and latency — {}",
        title_range(input, &rows)
    );
    let root = root.titled(&title, (FAMILY, title_size(&title, TITLE)))?;
    let h = root.dim_in_pixel().1 as i32;
    let panels =
        root.split_by_breakpoints([] as [i32; 0], [h * 46 / 100, h * 64 / 100, h * 82 / 100]);
    let (x, xfmt) = time_axis(&rows, bucket, input.tz);
    let eps = episodes(r);
    let count = |f: &dyn Fn(&BucketRow) -> u64| -> Vec<Option<f64>> {
        rows.iter()
            .map(|b| observed(b).then(|| f(b) as f64))
            .collect()
    };
    requests_panel(&panels[0], input, &rows, &eps, x, &xfmt)?;
    let failures = [
        ("401", VERMILLION, count(&|b| b.status_401), true),
        (
            "5xx",
            PURPLE,
            count(&|b| *b.by_status_class.get("5xx").unwrap_or(&0)),
            true,
        ),
    ];
    counts_panel(
        &panels[1],
        input,
        (&rows, &eps),
        &failures,
        (&format!("401, 5xx / {per}"), None),
        x,
        &xfmt,
    )?;
    let forbidden = status_per_row(input.cube, &rows, 403);
    let limiting = [
        ("429 rate limited", GREEN, count(&|b| b.status_429), true),
        (
            "403 forbidden",
            BLUE,
            rows.iter()
                .zip(&forbidden)
                .map(|(b, n)| observed(b).then_some(*n as f64))
                .collect(),
            false,
        ),
        (
            "timeouts (408/499/504)",
            ORANGE,
            count(&|b| b.timeouts),
            false,
        ),
    ];
    counts_panel(
        &panels[2],
        input,
        (&rows, &eps),
        &limiting,
        (&format!("429, 403 / {per}"), None),
        x,
        &xfmt,
    )?;
    latency_panel(&panels[3], input, &rows, &eps, x, &xfmt)
}

/// Answers with `status` in each of `rows`' buckets, from the cube.
fn status_per_row(cube: &Cube, rows: &[&BucketRow], status: u16) -> Vec<u64> {
    let index = row_index(cube, rows);
    let mut out = vec![0; rows.len()];
    for (k, c) in &cube.cells {
        if let Some(&i) = index.get(&k.bucket) {
            out[i] += c.status.get(&status).copied().unwrap_or(0);
        }
    }
    out
}

/// The chart of a time panel, before its y range is known: every time
/// panel is laid out alike, so the x pixels of a time do not depend on it.
fn panel_builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x_desc: bool,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    // The right margin holds half the last time tick's label.
    b.margin(10)
        .margin_right(30)
        .x_label_area_size(if x_desc { 38 } else { 28 })
        .y_label_area_size(80);
    b
}

/// Where a panel's legend goes, in pixels from its plot's top left: at
/// `top`, on the left unless an episode mark (x pixel in `marks`) runs
/// under it there and not on the right.
fn legend_spot(
    names: &[String],
    marks: &[i32],
    (left, right): (i32, i32),
    top: i32,
) -> SeriesLabelPosition {
    let w = legend_size(names).0;
    let free = |a: i32, b: i32| !marks.iter().any(|&m| m >= a - 4 && m <= b + 4);
    if !free(left + 5, left + 5 + w) && free(right - 5 - w, right - 5) {
        SeriesLabelPosition::Coordinate(right - left - 5 - w, top)
    } else {
        SeriesLabelPosition::Coordinate(5, top)
    }
}

/// The room a legend of `names` is given: the widest name as
/// [`text_width`] estimates it, plotters' 30 pixels for the key and 10 of
/// margin each side; a line of 1.25 em a name.
fn legend_size(names: &[String]) -> (i32, i32) {
    let w = names
        .iter()
        .map(|n| text_width(LEGEND, n))
        .max()
        .unwrap_or(0);
    let line = (1.25 * LEGEND / 1.24).ceil() as i32;
    (w + 30 + 2 * 10, names.len() as i32 * line + 2 * 10)
}

/// The x pixels of every episode mark.
fn mark_pixels(eps: &[Episode], px: &dyn Fn(Micros) -> i32) -> Vec<i32> {
    eps.iter()
        .flat_map(|e| {
            let t = &e.storm.times;
            [Some(t.start), Some(t.peak), t.mitigation, Some(t.end)]
        })
        .flatten()
        .map(px)
        .collect()
}

/// A panel plot's x pixels (left, right), y pixels (top, bottom), and
/// a time's x pixel on it.
type XPixels = ((i32, i32), (i32, i32), Box<dyn Fn(Micros) -> i32>);

/// The x pixels of a panel's plot, and a time's x pixel on it.
fn x_pixels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x_desc: bool,
    (x0, x1): TimeRange,
) -> std::result::Result<XPixels, DrawingAreaErrorKind<DB::ErrorType>> {
    let probe = panel_builder(area, x_desc).build_cartesian_2d(x0..x1, 0.0..1.0)?;
    let (xr, yr) = probe.plotting_area().get_pixel_range();
    let coord = probe.as_coord_spec().clone();
    Ok((
        (xr.start, xr.end - 1),
        (yr.start, yr.end - 1),
        Box::new(move |t: Micros| coord.translate(&(dt(t), 0.0)).0),
    ))
}

/// Requests stacked by token state (or cohort), the baseline the run's
/// detection settings give with its band, and the episodes with their
/// marks labelled in rows above the data.
fn requests_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &PlotInput,
    rows: &[&BucketRow],
    eps: &[Episode],
    x: TimeRange,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> DResult<DB> {
    let bucket = input.report.timeline.bucket_seconds;
    let bu = bucket as i64 * MICROS_PER_SEC;
    let total: Vec<f64> = rows.iter().map(|b| b.requests as f64).collect();
    let grid = baseline::Grid {
        observed: rows.iter().map(|b| observed(b)).collect(),
        day: None,
    };
    let scan = baseline::scan(&total, &grid, &input.detect.params());
    let z = input.detect.z;
    let band: Vec<f64> = (0..rows.len())
        .map(|i| scan.forecast[i] + z * scan.scale[i])
        .collect();
    let seen = runs(rows, bu, |i| observed(rows[i]));
    let data_max = seen
        .iter()
        .flat_map(|r| r.clone())
        .map(|i| total[i].max(band[i]).max(scan.forecast[i]))
        .fold(1.0, f64::max);

    let ((left, right), (top, bottom), px) = x_pixels(area, false, x)?;
    let mut labels = mark_labels(eps, &px, input.tz, eps.len() > 1);
    let nrows = place_labels(&mut labels, (left, right), MARK) as i32;
    let strip = if nrows > 0 {
        4 + nrows * MARK_ROW + 8
    } else {
        0
    };
    let height = (bottom - top).max(1) as f64;
    let ymax = if nrows > 0 {
        data_max / (1.0 - (f64::from(strip) / height).min(0.7))
    } else {
        data_max * 1.1
    };
    let mut chart = panel_builder(area, false).build_cartesian_2d(x.0..x.1, 0.0..ymax)?;
    time_mesh(
        &mut chart,
        &format!("requests / {}", per_label(bucket)),
        None,
        xfmt,
        10,
    )?;

    let mut names = draw_stack(&mut chart, input, rows, &seen)?;
    draw_baseline(&mut chart, (rows, bu), &seen, (&scan.forecast, &band), z)?;
    names.extend(["baseline".to_string(), format!("baseline + {z} σ")]);
    shade_episodes(&mut chart, eps, (0.0, ymax))?;
    for e in eps {
        let c = e.colour;
        let name = if eps.len() > 1 {
            format!("#{} {}", e.n, kind_name(e.storm.kind))
        } else {
            kind_name(e.storm.kind).to_string()
        };
        chart
            .draw_series(std::iter::empty::<Rectangle<(DateTime<Utc>, f64)>>())?
            .label(name.clone())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 16, y + 6)], c.mix(0.35).filled())
            });
        names.push(name);
    }
    // A value at pixel row `py` of the plot.
    let value_at = |py: i32| ymax * f64::from(bottom - py) / height;
    for l in &labels {
        let row_top = top + 4 + l.row as i32 * MARK_ROW;
        let line_top = if l.reach {
            value_at(row_top + MARK_ROW - 2)
        } else {
            value_at(top + 4 + nrows * MARK_ROW)
        };
        for &(_, t) in &l.xs {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(dt(t), 0.0), (dt(t), line_top)],
                l.colour.stroke_width(2),
            )))?;
        }
        let (anchor_t, dx, h) = if l.right {
            (l.xs[l.xs.len() - 1].1, 4, HPos::Left)
        } else {
            (l.xs[0].1, -4, HPos::Right)
        };
        let style = (FAMILY, MARK)
            .into_font()
            .color(&l.colour)
            .pos(Pos::new(h, VPos::Top));
        chart.draw_series(std::iter::once(
            EmptyElement::at((dt(anchor_t), value_at(row_top + 3)))
                + Text::new(l.text.clone(), (dx, 0), style),
        ))?;
    }
    let marks = mark_pixels(eps, &px);
    let pos = legend_spot(&names, &marks, (left, right), strip + 5);
    legend(&mut chart, pos)
}

/// The stacked request areas over each run of buckets with data, bottom
/// to top in [`stack_series`] order; series with no requests in the
/// window are left out. Returns the legend's names.
fn draw_stack<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB, RangedCoordf64>,
    input: &PlotInput,
    rows: &[&BucketRow],
    seen: &[Range<usize>],
) -> std::result::Result<Vec<String>, DrawingAreaErrorKind<DB::ErrorType>> {
    let bu = input.report.timeline.bucket_seconds as i64 * MICROS_PER_SEC;
    let mut below = vec![0.0; rows.len()];
    let mut names = Vec::new();
    for (name, c, vals) in stack_series(input, rows) {
        if vals.iter().all(|v| *v == 0.0) {
            continue;
        }
        let upper: Vec<f64> = below.iter().zip(&vals).map(|(a, b)| a + b).collect();
        // Each bucket's value holds over the bucket: a run's area ends
        // where its last bucket does.
        let edge = |r: &Range<usize>, v: &[f64]| -> Vec<(DateTime<Utc>, f64)> {
            let mut pts: Vec<_> = r.clone().map(|i| (dt(rows[i].start_us), v[i])).collect();
            let last = r.end - 1;
            pts.push((dt(rows[last].start_us + bu), v[last]));
            pts
        };
        for r in seen {
            let mut pts = edge(r, &upper);
            pts.extend(edge(r, &below).into_iter().rev());
            chart.draw_series(std::iter::once(Polygon::new(pts, c.mix(0.75).filled())))?;
        }
        chart
            .draw_series(std::iter::empty::<Rectangle<(DateTime<Utc>, f64)>>())?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], c.filled()));
        names.push(name);
        below = upper;
    }
    Ok(names)
}

/// The baseline and its band at the run's `z` scales above (what a bucket
/// must pass to be anomalous), over the runs of buckets with data.
fn draw_baseline<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB, RangedCoordf64>,
    (rows, bu): (&[&BucketRow], i64),
    seen: &[Range<usize>],
    (forecast, band): (&[f64], &[f64]),
    z: f64,
) -> DResult<DB> {
    let only = |v: &[f64]| -> Vec<Option<f64>> {
        let mut out = vec![None; v.len()];
        for i in seen.iter().flat_map(|r| r.clone()) {
            out[i] = Some(v[i]);
        }
        out
    };
    draw_runs(chart, rows, bu, &only(forecast), BLACK.stroke_width(2))?;
    draw_runs(chart, rows, bu, &only(band), BLACK.mix(0.5).stroke_width(1))?;
    legend_line(chart, "baseline".into(), BLACK.stroke_width(3))?;
    legend_line(
        chart,
        format!("baseline + {z} σ"),
        BLACK.mix(0.5).stroke_width(1),
    )
}

/// A legend entry for a line, without drawing one.
fn legend_line<DB: DrawingBackend, Y>(
    chart: &mut TimeChart<'_, DB, Y>,
    name: String,
    style: ShapeStyle,
) -> DResult<DB>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    chart
        .draw_series(std::iter::empty::<PathElement<(DateTime<Utc>, f64)>>())?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
    Ok(())
}

/// A series over the buckets it has a value in: a line over each run of
/// consecutive ones, a dot for a run of one.
fn draw_runs<DB: DrawingBackend, Y>(
    chart: &mut TimeChart<'_, DB, Y>,
    rows: &[&BucketRow],
    bu: i64,
    vals: &[Option<f64>],
    style: ShapeStyle,
) -> DResult<DB>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    for r in runs(rows, bu, |i| vals[i].is_some()) {
        let pts: Vec<(DateTime<Utc>, f64)> = r
            .filter_map(|i| vals[i].map(|v| (dt(rows[i].start_us), v)))
            .collect();
        if let [p] = pts[..] {
            chart.draw_series(std::iter::once(Circle::new(p, 2, style.filled())))?;
        } else {
            chart.draw_series(LineSeries::new(pts, style))?;
        }
    }
    Ok(())
}

/// Episode mark lines over a whole panel (one without labels).
fn mark_lines<DB: DrawingBackend, Y>(
    chart: &mut TimeChart<'_, DB, Y>,
    eps: &[Episode],
    (y0, y1): (f64, f64),
) -> DResult<DB>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    for e in eps {
        let t = &e.storm.times;
        for m in [Some(t.start), Some(t.peak), t.mitigation, Some(t.end)]
            .into_iter()
            .flatten()
        {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(dt(m), y0), (dt(m), y1)],
                e.colour.stroke_width(2),
            )))?;
        }
    }
    Ok(())
}

/// Counts per bucket as lines, over the buckets with data, on a linear
/// scale of their own; a series marked optional is left out when zero all
/// through the window.
fn counts_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &PlotInput,
    (rows, eps): (&[&BucketRow], &[Episode]),
    lines: &[(&str, RGBColor, Vec<Option<f64>>, bool)],
    (y_desc, x_desc): (&str, Option<&str>),
    x: TimeRange,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> DResult<DB> {
    let shown: Vec<_> = lines
        .iter()
        .filter(|(_, _, v, always)| *always || v.iter().any(|x| x.is_some_and(|x| x > 0.0)))
        .collect();
    let ymax = shown
        .iter()
        .flat_map(|(_, _, v, _)| v.iter().flatten())
        .fold(0.0, |a: f64, b| a.max(*b))
        * 1.15
        + 1.0;
    draw_time_lines(
        area,
        input,
        (rows, eps),
        &shown,
        (y_desc, x_desc),
        x,
        ymax,
        xfmt,
    )
}

/// Lines (name, colour, values) on a linear panel from 0 to `ymax`, the
/// episodes shaded and marked, the legend where no mark runs under it.
#[allow(clippy::too_many_arguments)]
fn draw_time_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &PlotInput,
    (rows, eps): (&[&BucketRow], &[Episode]),
    lines: &[&(&str, RGBColor, Vec<Option<f64>>, bool)],
    (y_desc, x_desc): (&str, Option<&str>),
    x: TimeRange,
    ymax: f64,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> DResult<DB> {
    let bu = input.report.timeline.bucket_seconds as i64 * MICROS_PER_SEC;
    let ((left, right), _, px) = x_pixels(area, x_desc.is_some(), x)?;
    let mut chart =
        panel_builder(area, x_desc.is_some()).build_cartesian_2d(x.0..x.1, 0.0..ymax)?;
    time_mesh(&mut chart, y_desc, x_desc, xfmt, 4)?;
    shade_episodes(&mut chart, eps, (0.0, ymax))?;
    mark_lines(&mut chart, eps, (0.0, ymax))?;
    let mut names = Vec::new();
    for (name, c, vals, _) in lines {
        draw_runs(&mut chart, rows, bu, vals, c.stroke_width(2))?;
        legend_line(&mut chart, name.to_string(), c.stroke_width(3))?;
        names.push(name.to_string());
    }
    let pos = legend_spot(&names, &mark_pixels(eps, &px), (left, right), 5);
    legend(&mut chart, pos)
}

/// p95 latency per bucket, over all client traffic.
fn latency_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &PlotInput,
    rows: &[&BucketRow],
    eps: &[Episode],
    x: TimeRange,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> DResult<DB> {
    let p95: Vec<Option<f64>> = rows.iter().map(|b| b.p95_latency_ms).collect();
    let ymax = p95.iter().flatten().fold(1.0, |a: f64, b| a.max(*b)) * 1.15;
    let line = ("p95 latency, all client traffic", SKY, p95, true);
    draw_time_lines(
        area,
        input,
        (rows, eps),
        &[&line],
        (
            "p95 latency (ms)",
            Some(&format!("time ({})", input.tz.name())),
        ),
        x,
        ymax,
        xfmt,
    )
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

/// The axes of a time panel, linear or log: time ticks in the display
/// zone, about `y_ticks` integer values, no minor grid.
fn time_mesh<DB: DrawingBackend, Y>(
    chart: &mut TimeChart<'_, DB, Y>,
    y_desc: &str,
    x_desc: Option<&str>,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
    y_ticks: usize,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(xfmt)
        .y_label_formatter(&int_label)
        .y_labels(y_ticks)
        .x_labels(8)
        .y_desc(y_desc)
        .label_style((FAMILY, AXIS))
        .light_line_style(WHITE.mix(0.0));
    if let Some(d) = x_desc {
        mesh.x_desc(d);
    }
    mesh.draw()
}

/// The legend, in the same style on every panel.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, LEGEND))
        .draw()
}

fn per_label(bucket: u64) -> String {
    match bucket {
        60 => "minute".into(),
        3600 => "hour".into(),
        s => humantime::format_duration(std::time::Duration::from_secs(s)).to_string(),
    }
}

/// Does this cohort belong to the culprit `c`?
fn in_culprit(c: &Culprit, app: &str, version: &str, t: TokenState) -> bool {
    c.app.as_deref().is_none_or(|a| a == app)
        && (c.versions.is_empty() || c.versions.iter().any(|v| v == version))
        && c.token_state.is_none_or(|x| x == t)
}

/// The retry storms with a culprit: episode number, colour, top culprit.
fn storm_culprits<'r>(eps: &[Episode<'r>]) -> Vec<(usize, RGBColor, &'r Culprit)> {
    eps.iter()
        .filter(|e| e.storm.kind == StormKind::Storm)
        .filter_map(|e| e.storm.culprits.first().map(|c| (e.n, e.colour, c)))
        .collect()
}

fn cohorts<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DResult<DB> {
    let r = input.report;
    let eps = episodes(r);
    let culprits = storm_culprits(&eps);
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
    let root = root.titled(&title, (FAMILY, title_size(&title, TITLE)))?;
    let n = top.len().max(1) as f64;
    let xmax = top.iter().map(|c| c.requests).max().unwrap_or(1) as f64 * 1.3;
    let names: Vec<String> = top
        .iter()
        .map(|c| {
            let name = format!(
                "{} {} · {}",
                super::table::sanitize(&c.app),
                super::table::sanitize(if c.version.is_empty() {
                    "-"
                } else {
                    &c.version
                }),
                c.token_state.name()
            );
            shorten(&name, 40)
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
        .margin_right(40)
        .x_label_area_size(40)
        .y_label_area_size(340)
        .build_cartesian_2d(0.0..xmax, -0.6..(n - 0.4))?;
    chart
        .configure_mesh()
        .y_labels(top.len().max(1))
        .y_label_formatter(&yfmt)
        .x_labels(8)
        .x_desc("requests (bar) — distinct clients (label)")
        .x_label_formatter(&int_label)
        .label_style((FAMILY, AXIS))
        .light_line_style(WHITE.mix(0.0))
        .disable_y_mesh()
        .draw()?;
    let mut seen = vec![false; culprits.len()];
    for (i, c) in top.iter().enumerate() {
        let y = n - 1.0 - i as f64;
        let hit = culprits
            .iter()
            .position(|(_, _, k)| in_culprit(k, &c.app, &c.version, c.token_state));
        let colour = match hit {
            Some(j) => {
                seen[j] = true;
                culprits[j].1.mix(0.9)
            }
            None => BLUE.mix(0.6),
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y - 0.35), (c.requests as f64, y + 0.35)],
            colour.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!(
                "{} req · {} clients",
                super::table::thousands(c.requests),
                super::table::thousands(c.clients)
            ),
            (c.requests as f64 + xmax * 0.01, y),
            (FAMILY, 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        )))?;
    }
    let mut entries = Vec::new();
    for ((n, colour, _), shown) in culprits.iter().zip(&seen) {
        if *shown {
            let c = *colour;
            let name = if culprits.len() > 1 {
                format!("culprit of #{n} retry storm")
            } else {
                "retry storm culprit".into()
            };
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], c.filled()));
            entries.push(name);
        }
    }
    if !entries.is_empty() {
        // Lower right, where the shortest bars leave room, placed by the
        // room the names are given.
        let (w, h) = chart.plotting_area().dim_in_pixel();
        let (lw, lh) = legend_size(&entries);
        let pos = SeriesLabelPosition::Coordinate(w as i32 - lw - 5, h as i32 - lh - 5);
        legend(&mut chart, pos)?;
    }
    Ok(())
}

/// Requests, retries and distinct client hashes of one side (a culprit,
/// or everyone else) in one bucket.
type Side = (u64, u64, Vec<u64>);

/// The retry behaviour of each retry storm's culprit against everyone
/// else (of all clients, without a storm): the retry ratio on top,
/// requests per client below, the episodes shaded.
fn retries<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DResult<DB> {
    let r = input.report;
    let rows = window(r);
    let eps = episodes(r);
    let culprits = storm_culprits(&eps);
    let range = title_range(input, &rows);
    let title = match culprits.as_slice() {
        [] => format!("Retries of all client traffic (no retry storm found) — {range}"),
        [(_, _, c)] => format!(
            "Retries: {} vs everyone else — {range}",
            super::table::culprit_name(c)
        ),
        _ => format!(
            "Retries: the culprits of {} retry storms, each vs everyone else — {range}",
            culprits.len()
        ),
    };
    let root = root.titled(&title, (FAMILY, title_size(&title, 22.0)))?;
    let (top, bottom) = root.split_vertically((50).percent());
    let bu = r.timeline.bucket_seconds as i64 * MICROS_PER_SEC;
    let acc = sides_per_bucket(input.cube, &rows, &culprits);
    let (x, xfmt) = time_axis(&rows, r.timeline.bucket_seconds, input.tz);
    // (legend name, colour, index into a bucket's sides)
    let mut sides: Vec<(String, RGBColor, usize)> = culprits
        .iter()
        .enumerate()
        .map(|(i, (n, colour, c))| {
            let name = if culprits.len() > 1 {
                format!("#{n} {}", shorten(&super::table::culprit_name(c), 60))
            } else {
                "culprit".into()
            };
            (name, *colour, i)
        })
        .collect();
    sides.push((
        if culprits.is_empty() {
            "all clients".into()
        } else {
            "everyone else".into()
        },
        if culprits.is_empty() { BLUE } else { GREY },
        culprits.len(),
    ));

    // Both measures span orders of magnitude in a storm: log scales, and
    // buckets without traffic on a side are left out rather than drawn as 0.
    let ratio_floor = 0.01;
    let ymax = log_ymax(&acc, &sides, retry_ratio);
    let ((left, right), _, px) = x_pixels(&top, false, x)?;
    let mut chart = log_time_panel(
        &top,
        x,
        (ratio_floor, ymax),
        "retry ratio (retries / originals), log",
        None,
        &xfmt,
    )?;
    shade_episodes(&mut chart, &eps, (ratio_floor, ymax))?;
    let budget = ("retry budget 0.10 (Google SRE)", REFERENCE);
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(x.0, 0.1), (x.1, 0.1)],
        budget.1.stroke_width(2),
    )))?;
    draw_sides(
        &mut chart,
        &rows,
        bu,
        &acc,
        &sides,
        retry_ratio,
        ratio_floor,
    )?;
    legend_line(&mut chart, budget.0.into(), budget.1.stroke_width(3))?;
    let mut names: Vec<String> = sides.iter().map(|s| s.0.clone()).collect();
    names.push(budget.0.into());
    let marks = mark_pixels(&eps, &px);
    legend(&mut chart, legend_spot(&names, &marks, (left, right), 5))?;

    let floor = 0.5;
    let ymax = log_ymax(&acc, &sides, requests_per_client);
    let mut chart = log_time_panel(
        &bottom,
        x,
        (floor, ymax),
        "requests per client per bucket, log",
        Some(&format!("time ({})", input.tz.name())),
        &xfmt,
    )?;
    shade_episodes(&mut chart, &eps, (floor, ymax))?;
    draw_sides(
        &mut chart,
        &rows,
        bu,
        &acc,
        &sides,
        requests_per_client,
        floor,
    )?;
    names.pop();
    legend(&mut chart, legend_spot(&names, &marks, (left, right), 5))
}

/// Per bucket of `rows`: the [`Side`] of each culprit (a cell goes to the
/// first it belongs to), then of everyone else.
fn sides_per_bucket(
    cube: &Cube,
    rows: &[&BucketRow],
    culprits: &[(usize, RGBColor, &Culprit)],
) -> Vec<Vec<Side>> {
    let whose = |k: &CellKey| {
        culprits
            .iter()
            .position(|(_, _, c)| {
                in_culprit(c, &k.app, &k.version, k.token_state)
                    && c.endpoint.as_deref().is_none_or(|e| e == k.endpoint)
            })
            .unwrap_or(culprits.len())
    };
    let index = row_index(cube, rows);
    let mut acc = vec![vec![(0u64, 0u64, Vec::<u64>::new()); culprits.len() + 1]; rows.len()];
    for (k, c) in &cube.cells {
        let Some(&i) = index.get(&k.bucket) else {
            continue;
        };
        let side = &mut acc[i][whose(k)];
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
fn log_ymax(acc: &[Vec<Side>], sides: &[(String, RGBColor, usize)], f: fn(&Side) -> f64) -> f64 {
    acc.iter()
        .flat_map(|a| sides.iter().map(move |s| f(&a[s.2])))
        .fold(1.0, f64::max)
        * 2.0
}

type LogTimeChart<'a, DB> = TimeChart<'a, DB, plotters::coord::combinators::LogCoord<f64>>;

/// A time panel laid out as the linear ones, with a log-10 y axis over
/// `ylim` (from, to).
fn log_time_panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    (x0, x1): TimeRange,
    (floor, ymax): (f64, f64),
    y_desc: &str,
    x_desc: Option<&str>,
    xfmt: &dyn Fn(&DateTime<Utc>) -> String,
) -> std::result::Result<LogTimeChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = panel_builder(area, x_desc.is_some())
        .build_cartesian_2d(x0..x1, (floor..ymax).log_scale().base(10.0))?;
    // Fewer than ten ticks a decade: at ten, plotters also puts a minor
    // tick on the next decade, and its label is drawn twice.
    time_mesh(&mut chart, y_desc, x_desc, xfmt, 6)?;
    Ok(chart)
}

/// A line of `f` per side, over the runs of buckets where that side has
/// traffic, raised to `floor`.
fn draw_sides<DB: DrawingBackend>(
    chart: &mut LogTimeChart<'_, DB>,
    rows: &[&BucketRow],
    bu: i64,
    acc: &[Vec<Side>],
    sides: &[(String, RGBColor, usize)],
    f: fn(&Side) -> f64,
    floor: f64,
) -> DResult<DB> {
    for (name, c, side) in sides {
        let vals: Vec<Option<f64>> = acc
            .iter()
            .map(|a| (a[*side].0 > 0).then(|| f(&a[*side]).max(floor)))
            .collect();
        draw_runs(chart, rows, bu, &vals, c.stroke_width(2))?;
        legend_line(chart, name.clone(), c.stroke_width(3))?;
    }
    Ok(())
}

/// The largest changes of a comparison (`authstorm compare --plot FILE`,
/// PNG or SVG by its extension): one bar per cohort, the change in
/// requests per hour from A to B, pale when it is within noise.
pub fn write_comparison(
    path: &Path,
    cmp: &crate::report::compare::Comparison,
    top: usize,
) -> Result<()> {
    register_font()?;
    // A path that cannot be written is said as such, before any drawing.
    std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let svg = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    let rows: Vec<&crate::report::compare::Change> = cmp.cohorts.iter().take(top.max(1)).collect();
    let height = (160 + 34 * rows.len() as u32).max(300);
    let size = (SIZE.0, height);
    let what = "comparison";
    if svg {
        let root = SVGBackend::new(path, size).into_drawing_area();
        comparison(&root, cmp, &rows).map_err(err(what))?;
        root.present().map_err(err(what))?;
    } else {
        let root = Raster(BitMapBackend::new(path, size)).into_drawing_area();
        comparison(&root, cmp, &rows).map_err(err(what))?;
        root.present().map_err(err(what))?;
    }
    Ok(())
}

fn comparison<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    cmp: &crate::report::compare::Comparison,
    rows: &[&crate::report::compare::Change],
) -> DResult<DB> {
    root.fill(&WHITE)?;
    let title = format!(
        "Requests per hour by cohort, {} → {}: the {} largest changes",
        cmp.a.label,
        cmp.b.label,
        rows.len()
    );
    let root = root.titled(&title, (FAMILY, title_size(&title, TITLE)))?;
    let delta = |c: &crate::report::compare::Change| c.b.requests_per_hour - c.a.requests_per_hour;
    let most = rows.iter().map(|c| delta(c).abs()).fold(1.0f64, f64::max) * 1.08;
    let longest = rows
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(10)
        .min(48);
    let label_px = text_width(LEGEND, &"m".repeat(longest)) + 20;
    let n = rows.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .margin(20)
        .margin_left(label_px)
        .x_label_area_size(50)
        .y_label_area_size(4)
        .build_cartesian_2d(-most..most, 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("change in requests per hour (B − A)")
        .x_label_formatter(&|v| int_label(v))
        .label_style((FAMILY, LEGEND))
        .axis_desc_style((FAMILY, LEGEND))
        .draw()?;
    for (i, c) in rows.iter().enumerate() {
        let y = n - i as f64;
        let d = delta(c);
        let colour = if d >= 0.0 { VERMILLION } else { BLUE };
        let style = if c.significant {
            colour.filled()
        } else {
            colour.mix(0.3).filled()
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y - 0.8), (d, y - 0.2)],
            style,
        )))?;
        let name: String = c.name.chars().take(48).collect();
        // Beside the bar, in the titled area's own pixels.
        let (px, py) = chart.backend_coord(&(-most, y - 0.5));
        let (bx, by) = root.get_base_pixel();
        let label = if c.significant {
            name
        } else {
            format!("{name} ~")
        };
        root.draw(&Text::new(
            label,
            (px - bx - 10, py - by),
            (FAMILY, LEGEND)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 0.0), (0.0, n)],
        REFERENCE.stroke_width(1),
    )))?;
    Ok(())
}
