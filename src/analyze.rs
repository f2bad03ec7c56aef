//! One analysis run: discover inputs, scan them on a thread pool of the
//! requested size, and build the report. The CLI calls this; so can tests.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::aggregate::Cube;
use crate::detect::{DetectConfig, detect};
use crate::error::{Error, Result};
use crate::input::{Source, discover};
use crate::report::{InputError, Report};
use crate::scan::{RowSink, ScanOptions, scan, scan_rows};

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
        let text = std::fs::read(p).map_err(|e| Error::io(p, e))?;
        let cube: Cube = serde_json::from_slice(&text)
            .map_err(|e| Error::Invalid(format!("{p}: not an authstorm cube: {e}")))?;
        if cube.schema != crate::aggregate::cube::CUBE_SCHEMA {
            return Err(Error::Invalid(format!(
                "{p}: cube schema {:?}, expected {:?}",
                cube.schema,
                crate::aggregate::cube::CUBE_SCHEMA
            )));
        }
        match &mut merged {
            None => merged = Some(cube),
            Some(m) => m
                .merge(&cube)
                .map_err(|e| Error::Invalid(format!("{p}: {e}")))?,
        }
    }
    let cube = merged.ok_or_else(|| Error::NoInput("no cube files given".into()))?;
    let storms = detect(&cube, detect_cfg);
    let report = Report::build(Vec::new(), Vec::new(), &cube, None, storms);
    Ok(Analysis { report, cube })
}

/// As [`analyze`], also handing every request to `sink` in file and line
/// order (`authstorm export`). Files are read one after another.
pub fn export(cfg: &AnalyzeConfig, sink: &mut dyn RowSink) -> Result<Analysis> {
    run(cfg, Some(sink))
}

fn run(cfg: &AnalyzeConfig, sink: Option<&mut dyn RowSink>) -> Result<Analysis> {
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
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = cfg.threads {
        pool = pool.num_threads(n.max(1));
    }
    let pool = pool
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start worker threads: {e}")))?;
    let bar = progress_bar(&found.sources, cfg.scan.progress);
    let result = match sink {
        Some(sink) => pool.install(|| scan_rows(&found.sources, &cfg.scan, &bar, sink)),
        None => pool.install(|| scan(&found.sources, &cfg.scan, &bar)),
    };
    bar.finish_and_clear();
    if result
        .files
        .iter()
        .all(|f| f.error.is_some() && f.lines == 0)
    {
        let detail: Vec<String> = result
            .files
            .iter()
            .map(|f| format!("{}: {}", f.path, f.error.as_deref().unwrap_or("")))
            .chain(errors.iter().map(|e| format!("{}: {}", e.path, e.error)))
            .collect();
        return Err(Error::NoInput(detail.join("; ")));
    }
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
