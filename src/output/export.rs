//! Files for postmortems and for other tools, written into one directory:
//! plots (PNG + SVG), `report.html`, `report.md`, `timeline.csv`,
//! `cohorts.csv`, `storms.json` and `cube.parquet` (polars), so DuckDB,
//! pandas, Spark or a BI tool can continue the analysis.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::plot::{self, PlotInput};
use super::postmortem;
use crate::aggregate::Cube;
use crate::detect::DetectConfig;
use crate::error::{Error, Result};
use crate::report::Report;
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
    csv::Writer::from_path(p).map_err(|e| Error::write(p, e))
}

fn csv_err(p: &Path) -> impl Fn(csv::Error) -> Error + '_ {
    move |e| Error::write(p, e)
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
    move |e| Error::write(p, e)
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
    let (mut resends, mut loops, mut loopers) = (
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
        resends.push(c.resends);
        loops.push(c.loop_requests);
        loopers.push(c.loopers.len() as u64);
        clients.push(c.clients.len() as u64);
        for (i, f) in [
            &(|s: u16| (200..300).contains(&s)) as &dyn Fn(u16) -> bool,
            &|s| (300..400).contains(&s),
            &|s| (400..500).contains(&s),
            &|s| (500..600).contains(&s),
            &|s| s == 401,
            &|s| s == 429,
            &crate::status::is_timeout,
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
        Column::new("resends".into(), resends),
        Column::new("loop_requests".into(), loops),
        Column::new("looping_clients".into(), loopers),
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
    detect: &DetectConfig,
    tz: DisplayTz,
    stack: plot::Stack,
    command: &str,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let input = PlotInput {
        report,
        cube,
        detect,
        tz,
        stack,
    };
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
    .map_err(|e| Error::write(&p, e))?;
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

/// Per-request export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    Parquet,
    Csv,
}

impl EventFormat {
    /// From the file name: `.parquet` / `.pq` is Parquet, anything else CSV.
    pub fn from_path(p: &str) -> Self {
        if p.ends_with(".parquet") || p.ends_with(".pq") {
            EventFormat::Parquet
        } else {
            EventFormat::Csv
        }
    }
}

const EVENT_HEADERS: [&str; 16] = [
    "timestamp",
    "client",
    "app",
    "version",
    "token_state",
    "token_state_named",
    "method",
    "route",
    "status",
    "latency_ms",
    "retry",
    "resend",
    "looping",
    "health_check",
    "file",
    "line",
];
/// Rows buffered per Parquet row group.
const BATCH: usize = 64 * 1024;

/// Streams rows to CSV (formula-guarded cells).
pub struct CsvSink<W: Write> {
    w: csv::Writer<W>,
}

impl<W: Write> CsvSink<W> {
    pub fn new(w: W) -> std::io::Result<Self> {
        let mut w = csv::Writer::from_writer(w);
        w.write_record(EVENT_HEADERS).map_err(csv_io)?;
        Ok(CsvSink { w })
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

impl<W: Write + Send> crate::scan::RowSink for CsvSink<W> {
    fn write(&mut self, file: &str, rows: &[crate::scan::Row]) -> std::io::Result<()> {
        for r in rows {
            self.w
                .write_record([
                    rfc3339_micros(r.ts),
                    format!("{:016x}", r.client),
                    csv_cell(&r.app).into_owned(),
                    csv_cell(&r.version).into_owned(),
                    r.token_state.name().to_string(),
                    r.named_token_state.name().to_string(),
                    csv_cell(&r.method).into_owned(),
                    csv_cell(&r.route).into_owned(),
                    r.status.map(|s| s.to_string()).unwrap_or_default(),
                    r.latency_ms.map(|l| l.to_string()).unwrap_or_default(),
                    r.retry.to_string(),
                    r.resend.to_string(),
                    r.looping.to_string(),
                    r.health.to_string(),
                    csv_cell(file).into_owned(),
                    r.line.to_string(),
                ])
                .map_err(csv_io)?;
        }
        Ok(())
    }
}

/// A CSV error as the I/O error it is when it is one: a closed pipe stays
/// a closed pipe (which ends the program quietly), not "other error".
fn csv_io(e: csv::Error) -> std::io::Error {
    if !e.is_io_error() {
        return std::io::Error::other(e);
    }
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

fn rfc3339_micros(t: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(t)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// Streams rows to Parquet in row groups of 64k rows.
pub struct ParquetSink {
    file: Option<File>,
    writer: Option<polars::io::parquet::write::BatchedWriter<File>>,
    rows: Vec<(crate::scan::Row, String)>,
}

impl ParquetSink {
    pub fn new(file: File) -> Self {
        ParquetSink {
            file: Some(file),
            writer: None,
            rows: Vec::with_capacity(BATCH),
        }
    }

    fn flush_batch(&mut self) -> PolarsResult<()> {
        if self.rows.is_empty() && self.writer.is_some() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let n = rows.len();
        let ts = Column::new(
            "timestamp".into(),
            rows.iter().map(|(r, _)| r.ts).collect::<Vec<_>>(),
        )
        .cast(&DataType::Datetime(
            TimeUnit::Microseconds,
            Some(TimeZone::UTC),
        ))?;
        let cols = vec![
            ts,
            Column::new(
                "client".into(),
                rows.iter()
                    .map(|(r, _)| format!("{:016x}", r.client))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "app".into(),
                rows.iter().map(|(r, _)| r.app.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "version".into(),
                rows.iter()
                    .map(|(r, _)| r.version.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "token_state".into(),
                rows.iter()
                    .map(|(r, _)| r.token_state.name())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "token_state_named".into(),
                rows.iter()
                    .map(|(r, _)| r.named_token_state.name())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "method".into(),
                rows.iter()
                    .map(|(r, _)| r.method.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "route".into(),
                rows.iter()
                    .map(|(r, _)| r.route.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "status".into(),
                rows.iter()
                    .map(|(r, _)| r.status.map(u32::from))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "latency_ms".into(),
                rows.iter().map(|(r, _)| r.latency_ms).collect::<Vec<_>>(),
            ),
            Column::new(
                "retry".into(),
                rows.iter().map(|(r, _)| r.retry).collect::<Vec<_>>(),
            ),
            Column::new(
                "resend".into(),
                rows.iter().map(|(r, _)| r.resend).collect::<Vec<_>>(),
            ),
            Column::new(
                "looping".into(),
                rows.iter().map(|(r, _)| r.looping).collect::<Vec<_>>(),
            ),
            Column::new(
                "health_check".into(),
                rows.iter().map(|(r, _)| r.health).collect::<Vec<_>>(),
            ),
            Column::new(
                "file".into(),
                rows.iter().map(|(_, f)| f.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "line".into(),
                rows.iter().map(|(r, _)| r.line).collect::<Vec<_>>(),
            ),
        ];
        let df = DataFrame::new(n, cols)?;
        if self.writer.is_none() {
            let f = self
                .file
                .take()
                .ok_or_else(|| PolarsError::ComputeError("parquet sink already finished".into()))?;
            self.writer = Some(ParquetWriter::new(f).batched(df.schema())?);
        }
        if n > 0
            && let Some(w) = &mut self.writer
        {
            w.write_batch(&df)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.flush_batch().map_err(std::io::Error::other)?;
        if let Some(w) = &self.writer {
            w.finish().map_err(std::io::Error::other)?;
        }
        Ok(())
    }
}

impl crate::scan::RowSink for ParquetSink {
    fn write(&mut self, file: &str, rows: &[crate::scan::Row]) -> std::io::Result<()> {
        for r in rows {
            self.rows.push((r.clone(), file.to_string()));
            if self.rows.len() >= BATCH {
                self.flush_batch().map_err(std::io::Error::other)?;
            }
        }
        Ok(())
    }
}
