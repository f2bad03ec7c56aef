//! One analysis run: discover inputs, scan them on a thread pool of the
//! requested size, and build the report. The CLI calls this; so can tests.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::aggregate::Cube;
use crate::detect::{DetectConfig, detect};
use crate::error::{Error, Result};
use crate::input::{Source, discover};
use crate::report::{InputError, Report};
use crate::scan::{RowSink, ScanOptions, ScanResult, scan};

#[derive(Clone)]
pub struct AnalyzeConfig {
    pub inputs: Vec<String>,
    pub scan: ScanOptions,
    /// Worker threads; `None` means all cores.
    pub threads: Option<usize>,
    pub detect: DetectConfig,
}

pub struct Analysis {
    pub report: Report,
    pub cube: Cube,
}

fn progress_bar(sources: &[Source], enabled: bool) -> ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total: u64 = sources
        .iter()
        .filter_map(|s| match s {
            Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Stdin => None,
        })
        .sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_bar}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub fn analyze(cfg: &AnalyzeConfig) -> Result<Analysis> {
    run(cfg, None)
}

/// Merges cube files (from earlier runs, other machines or other engines)
/// and analyzes the result: the same report, detection and outputs, with
/// no log lines read. Bucket widths must match.
pub fn analyze_cubes(paths: &[String], detect_cfg: &DetectConfig) -> Result<Analysis> {
    let mut merged: Option<Cube> = None;
    for p in paths {
        let cube = load_cube(p)?;
        match &mut merged {
            None => merged = Some(cube),
            Some(m) => m.merge(&cube).map_err(|e| Error::File {
                path: p.into(),
                inner: Box::new(e),
            })?,
        }
    }
    let cube = merged.ok_or_else(|| Error::NoInput("no cube files given".into()))?;
    if cube.requests == 0 {
        return Err(Error::NothingAnalysed(format!(
            "the cubes ({}) hold no request",
            paths.join(", ")
        )));
    }
    let storms = detect(&cube, detect_cfg);
    let report = Report::build(Vec::new(), Vec::new(), &cube, None, storms);
    Ok(Analysis { report, cube })
}

/// Reads a cube file (`--cube`), checking its schema.
pub fn load_cube(p: &str) -> Result<Cube> {
    let text = std::fs::read(p).map_err(|e| Error::io(p, e))?;
    let cube: Cube = serde_json::from_slice(&text).map_err(|e| Error::NotACube {
        path: p.into(),
        reason: e.to_string(),
    })?;
    if cube.schema != crate::aggregate::cube::CUBE_SCHEMA {
        return Err(Error::NotACube {
            path: p.into(),
            reason: format!(
                "schema {:?}, expected {:?}",
                cube.schema,
                crate::aggregate::cube::CUBE_SCHEMA
            ),
        });
    }
    Ok(cube)
}

/// Whether `path` is a cube file: a file whose first bytes name the cube
/// schema (a JSON log is not one).
pub fn is_cube_file(path: &str) -> bool {
    use std::io::Read;
    let mut head = [0u8; 256];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    memchr::memmem::find(&head[..n], b"\"authstorm/cube/").is_some()
}

/// The cube of one side of `authstorm compare`: a cube file as it is, or
/// the logs at `path` (a file, directory or glob) scanned with `cfg`.
pub fn cube_of(path: &str, cfg: &AnalyzeConfig) -> Result<Cube> {
    if is_cube_file(path) {
        return load_cube(path);
    }
    let cfg = AnalyzeConfig {
        inputs: vec![path.to_string()],
        ..cfg.clone()
    };
    Ok(analyze(&cfg)?.cube)
}

/// As [`analyze`], also handing every request to `sink`, in time order
/// across files (`authstorm export`).
pub fn export(cfg: &AnalyzeConfig, sink: &mut dyn RowSink) -> Result<Analysis> {
    run(cfg, Some(sink))
}

/// The scan of a run, checked: an error when no input could be read or no
/// request analysed. Also the errors of inputs that could not be found.
pub fn scan_checked(
    cfg: &AnalyzeConfig,
    sink: Option<&mut dyn RowSink>,
    pool: &rayon::ThreadPool,
) -> Result<(ScanResult, Vec<InputError>)> {
    let found = discover(&cfg.inputs);
    let errors: Vec<InputError> = found
        .errors
        .iter()
        .map(|(p, e)| InputError {
            path: p.clone(),
            error: e.clone(),
        })
        .collect();
    if found.sources.is_empty() {
        let detail: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.error))
            .collect();
        return Err(Error::NoInput(if detail.is_empty() {
            "no input paths given".into()
        } else {
            detail.join("; ")
        }));
    }
    let bar = progress_bar(&found.sources, cfg.scan.progress);
    let result = scan(&found.sources, &cfg.scan, &bar, pool, sink)
        .map_err(|e| Error::io("the export output", e))?;
    bar.finish_and_clear();
    // Files that are not access logs are neither read nor a failure; when
    // they are all there is, nothing is analysed (below).
    let mut logs = result.files.iter().filter(|f| f.not_access_log.is_none());
    if logs.clone().next().is_some() && logs.all(|f| f.error.is_some() && f.lines == 0) {
        let detail: Vec<String> = result
            .files
            .iter()
            .map(|f| match f.not_access_log {
                Some(what) => format!("{}: not an access log ({what})", f.path),
                None => format!("{}: {}", f.path, f.error.as_deref().unwrap_or("")),
            })
            .chain(errors.iter().map(|e| format!("{}: {}", e.path, e.error)))
            .collect();
        return Err(Error::NoInput(detail.join("; ")));
    }
    if result.cube.requests == 0 {
        return Err(Error::NothingAnalysed(nothing_analysed(&result, cfg)));
    }
    Ok((result, errors))
}

/// A worker pool of the run's size.
pub fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        pool = pool.num_threads(n.max(1));
    }
    Ok(pool.build()?)
}

fn run(cfg: &AnalyzeConfig, sink: Option<&mut dyn RowSink>) -> Result<Analysis> {
    let pool = pool(cfg.threads)?;
    let (result, errors) = scan_checked(cfg, sink, &pool)?;
    // Detection (its per-cohort baselines spread over the workers) and the
    // report's tables are independent readers of the cube.
    let (storms, mut report) = pool.install(|| {
        rayon::join(
            || detect(&result.cube, &cfg.detect),
            || {
                Report::build(
                    result.files,
                    errors,
                    &result.cube,
                    result.by.as_ref(),
                    Vec::new(),
                )
            },
        )
    });
    report.storms = storms;
    Ok(Analysis {
        report,
        cube: result.cube,
    })
}

/// Why a scan that read its inputs analysed no request.
fn nothing_analysed(r: &ScanResult, cfg: &AnalyzeConfig) -> String {
    let lines: u64 = r.files.iter().map(|f| f.lines).sum();
    let skipped: u64 = r.files.iter().map(|f| f.skipped).sum();
    let filtered: u64 = r.files.iter().map(|f| f.filtered).sum();
    let unread: u64 = r.files.iter().map(|f| f.unread_bytes).sum();
    let mut why = Vec::new();
    let others: Vec<String> = r
        .files
        .iter()
        .filter_map(|f| Some(format!("{}: {}", f.path, f.not_access_log?)))
        .collect();
    if !others.is_empty() {
        let n = others.len();
        why.push(format!(
            "{}{n} {} ({})",
            if n == r.files.len() {
                "no access log among the inputs: "
            } else {
                ""
            },
            if n == 1 {
                "file is not an access log"
            } else {
                "files are not access logs"
            },
            others.join(", ")
        ));
        if n == r.files.len() {
            return why.join("; ");
        }
    }
    if lines == 0 && unread == 0 {
        why.push("the inputs hold no line".to_string());
    } else {
        why.push(format!("{lines} lines read"));
    }
    if skipped > 0 {
        let mut reasons: std::collections::BTreeMap<String, u64> = Default::default();
        for f in &r.files {
            for (k, v) in &f.skipped_by_reason {
                *reasons.entry(k.name().to_string()).or_default() += v;
            }
        }
        let list: Vec<String> = reasons.iter().map(|(k, v)| format!("{v} {k}")).collect();
        why.push(format!("{skipped} skipped ({})", list.join(", ")));
    }
    if filtered > 0 || unread > 0 || cfg.scan.since.is_some() || cfg.scan.until.is_some() {
        why.push(format!(
            "{filtered} outside --since/--until{}",
            if unread > 0 {
                format!(" (and {unread} bytes not read, before or after the window)")
            } else {
                String::new()
            }
        ));
    }
    for f in &r.files {
        if let Some(e) = &f.error {
            why.push(format!("{}: {e}", f.path));
        }
    }
    why.join("; ")
}
