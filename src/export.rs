//! Files for postmortems and for other tools, written into one directory:
//! plots (PNG + SVG), `report.html`, `report.md`, `timeline.csv`,
//! `cohorts.csv`, `storms.json` and `cube.parquet` (polars), so DuckDB,
//! pandas, Spark or a BI tool can continue the analysis.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::aggregate::Cube;
use crate::error::{Error, Result};
use crate::plot::{self, PlotInput};
use crate::report::{Report, postmortem};
use crate::time::{DisplayTz, rfc3339};

/// Guards a CSV cell against formula injection: a cell that a spreadsheet
/// would evaluate (`=`, `+`, `-`, `@`, tab, CR at the start) gets a `'`.
pub fn csv_cell(s: &str) -> std::borrow::Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if s.parse::<f64>().is_err() => {
            format!("'{s}").into()
        }
        _ => s.into(),
    }
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(p, e)
}

fn csv_writer(p: &Path) -> Result<csv::Writer<File>> {
    csv::Writer::from_path(p).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))
}

fn csv_err(p: &Path) -> impl Fn(csv::Error) -> Error + '_ {
    move |e| Error::Invalid(format!("{}: {e}", p.display()))
}

pub fn timeline_csv(r: &Report, p: &Path) -> Result<()> {
    let mut w = csv_writer(p)?;
    w.write_record([
        "start",
        "requests",
        "clients",
        "errors",
        "retries",
        "retry_ratio",
        "requests_per_client",
        "health_checks",
        "status_2xx",
        "status_3xx",
        "status_4xx",
        "status_5xx",
        "status_401",
        "status_429",
        "timeouts",
        "valid",
        "expired",
        "invalid",
        "missing",
        "unknown",
        "p95_latency_ms",
    ])
    .map_err(csv_err(p))?;
    for b in &r.timeline.buckets {
        let sc = |k: &str| b.by_status_class.get(k).copied().unwrap_or(0).to_string();
        let ts = |t: crate::classify::TokenState| {
            b.by_token_state.get(&t).copied().unwrap_or(0).to_string()
        };
        use crate::classify::TokenState::*;
        w.write_record([
            b.start.clone(),
            b.requests.to_string(),
            b.clients.to_string(),
            b.errors.to_string(),
            b.retries.to_string(),
            b.retry_ratio.to_string(),
            b.requests_per_client.to_string(),
            b.health_checks.to_string(),
            sc("2xx"),
            sc("3xx"),
            sc("4xx"),
            sc("5xx"),
            b.status_401.to_string(),
            b.status_429.to_string(),
            b.timeouts.to_string(),
            ts(Valid),
            ts(Expired),
            ts(Invalid),
            ts(Missing),
            ts(Unknown),
            b.p95_latency_ms.map(|v| v.to_string()).unwrap_or_default(),
        ])
        .map_err(csv_err(p))?;
    }
    w.flush().map_err(io(p))
}

pub fn cohorts_csv(r: &Report, p: &Path) -> Result<()> {
    let mut w = csv_writer(p)?;
    w.write_record([
        "app",
        "version",
        "token_state",
        "requests",
        "clients",
        "errors",
        "retries",
        "p50_latency_ms",
        "p95_latency_ms",
        "p99_latency_ms",
    ])
    .map_err(csv_err(p))?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for c in &r.cohorts {
        w.write_record([
            csv_cell(&c.app).into_owned(),
            csv_cell(&c.version).into_owned(),
            c.token_state.name().to_string(),
            c.requests.to_string(),
            c.clients.to_string(),
            c.errors.to_string(),
            c.retries.to_string(),
            opt(c.p50_latency_ms),
            opt(c.p95_latency_ms),
            opt(c.p99_latency_ms),
        ])
        .map_err(csv_err(p))?;
    }
    w.flush().map_err(io(p))
}

fn polars_err(p: &Path) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::Invalid(format!("{}: {e}", p.display()))
}

/// The cube as Parquet: one row per cell, status codes folded into the
/// columns people query, distinct clients as a count.
pub fn cube_parquet(cube: &Cube, p: &Path) -> Result<usize> {
    let n = cube.cells.len();
    let mut start = Vec::with_capacity(n);
    let (mut app, mut version, mut token, mut endpoint) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut req, mut err, mut ret, mut clients) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut st: [Vec<u64>; 7] = Default::default();
    let (mut p50, mut p95, mut p99) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (k, c) in &cube.cells {
        start.push(cube.bucket_start(k.bucket));
        app.push(k.app.as_str());
        version.push(k.version.as_str());
        token.push(k.token_state.name());
        endpoint.push(k.endpoint.as_str());
        req.push(c.requests);
        err.push(c.errors);
        ret.push(c.retries);
        clients.push(c.clients.len() as u64);
        for (i, f) in [
            &(|s: u16| (200..300).contains(&s)) as &dyn Fn(u16) -> bool,
            &|s| (300..400).contains(&s),
            &|s| (400..500).contains(&s),
            &|s| (500..600).contains(&s),
            &|s| s == 401,
            &|s| s == 429,
            &crate::report::is_timeout,
        ]
        .iter()
        .enumerate()
        {
            st[i].push(c.count_status(f));
        }
        p50.push(c.latency.quantile(0.5));
        p95.push(c.latency.quantile(0.95));
        p99.push(c.latency.quantile(0.99));
    }
    let ts = Column::new("bucket_start".into(), start)
        .cast(&DataType::Datetime(
            TimeUnit::Microseconds,
            Some(TimeZone::UTC),
        ))
        .map_err(polars_err(p))?;
    let [s2, s3, s4, s5, s401, s429, sto] = st;
    let cols = vec![
        ts,
        Column::new("app".into(), app),
        Column::new("version".into(), version),
        Column::new("token_state".into(), token),
        Column::new("endpoint".into(), endpoint),
        Column::new("requests".into(), req),
        Column::new("errors".into(), err),
        Column::new("retries".into(), ret),
        Column::new("clients".into(), clients),
        Column::new("status_2xx".into(), s2),
        Column::new("status_3xx".into(), s3),
        Column::new("status_4xx".into(), s4),
        Column::new("status_5xx".into(), s5),
        Column::new("status_401".into(), s401),
        Column::new("status_429".into(), s429),
        Column::new("timeouts".into(), sto),
        Column::new("p50_latency_ms".into(), p50),
        Column::new("p95_latency_ms".into(), p95),
        Column::new("p99_latency_ms".into(), p99),
    ];
    let mut df = DataFrame::new(n, cols).map_err(polars_err(p))?;
    let f = File::create(p).map_err(io(p))?;
    ParquetWriter::new(f)
        .finish(&mut df)
        .map_err(polars_err(p))?;
    Ok(n)
}

/// Everything `--out DIR` writes. Returns the paths written.
pub fn write_all(
    dir: &Path,
    report: &Report,
    cube: &Cube,
    tz: DisplayTz,
    command: &str,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let input = PlotInput { report, cube, tz };
    let mut out = plot::write_plots(dir, &input)?;
    let doc = postmortem::build(report, tz, command);
    let svgs: Vec<(&str, String)> = ["timeline", "cohorts", "retries"]
        .into_iter()
        .map(|n| plot::svg_string(n, &input).map(|s| (n, s)))
        .collect::<Result<_>>()?;
    let write = |name: &str, text: &str, out: &mut Vec<PathBuf>| -> Result<()> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(io(&p))?;
        out.push(p);
        Ok(())
    };
    write("report.html", &postmortem::html(&doc, &svgs), &mut out)?;
    write("report.md", &postmortem::markdown(&doc), &mut out)?;
    let p = dir.join("timeline.csv");
    timeline_csv(report, &p)?;
    out.push(p);
    let p = dir.join("cohorts.csv");
    cohorts_csv(report, &p)?;
    out.push(p);
    let p = dir.join("storms.json");
    let mut w = BufWriter::new(File::create(&p).map_err(io(&p))?);
    serde_json::to_writer_pretty(
        &mut w,
        &serde_json::json!({
            "schema": "authstorm/storms/v1",
            "time_range": {"start": cube.time_min.map(rfc3339), "end": cube.time_max.map(rfc3339)},
            "storms": report.storms,
        }),
    )
    .map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
    w.flush().map_err(io(&p))?;
    out.push(p);
    let p = dir.join("cube.parquet");
    cube_parquet(cube, &p)?;
    out.push(p);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_guard() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("+1+1"), "'+1+1");
        assert_eq!(csv_cell("-12.5"), "-12.5", "numbers stay numbers");
        assert_eq!(csv_cell("acme"), "acme");
        assert_eq!(csv_cell(""), "");
    }
}
