//! One incremental run over an archive: read what is new, add it to its
//! days, judge each day it touched against the stored days before it, and
//! commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, NaiveDate};

use super::plan::{FileAction, FilePlan, plan_files};
use super::store::{DayEntry, LockedStore, Manifest, read_cube};
use crate::aggregate::Cube;
use crate::analyze::{AnalyzeConfig, pool, scan_checked};
use crate::detect::{Storm, detect};
use crate::error::{Error, Result};
use crate::input::{Source, discover};
use crate::report::{InputError, Report};
use crate::time::Micros;

/// Earlier days a day is compared with: the seven before it, and the same
/// weekday up to four weeks back.
pub const BASELINE_DAYS: u64 = 7;
pub const BASELINE_WEEKS: u64 = 4;

#[derive(Clone)]
pub struct NightlyConfig {
    /// The archive: files, directories or globs (`inputs` of `analyze` is
    /// ignored).
    pub archive: Vec<String>,
    pub state: PathBuf,
    pub analyze: AnalyzeConfig,
    /// A hash of what changes results (the config, bucket width, format).
    pub settings: String,
    /// Days kept, counted back from the newest stored day.
    pub keep_days: Option<u64>,
}

/// What a run did.
pub struct Nightly {
    pub plans: Vec<FilePlan>,
    /// Inputs that could not be found or read.
    pub problems: Vec<InputError>,
    /// The days this run added to, with what was found on each.
    pub days: Vec<DayResult>,
    /// The report over the days this run touched (their cubes merged, the
    /// files read, the incidents found on them).
    pub report: Option<Report>,
    /// Those days' cubes merged.
    pub cube: Option<Cube>,
    /// Days dropped by `keep_days`.
    pub dropped: Vec<String>,
    /// Days this run read requests for that are older than `keep_days`
    /// keeps: not stored.
    pub past_retention: Vec<String>,
}

pub struct DayResult {
    pub date: String,
    pub requests_added: u64,
    pub entry: DayEntry,
    pub storms: Vec<Storm>,
}

impl Nightly {
    pub fn files_read(&self) -> usize {
        self.plans.iter().filter(|p| p.reads()).count()
    }
}

fn date_of_day(day: i64) -> String {
    DateTime::from_timestamp(day * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn parse_date(d: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

/// The stored days detection compares `date` with, oldest first.
pub fn baseline_dates(date: &str, stored: &BTreeMap<String, DayEntry>) -> Vec<String> {
    let Some(d) = parse_date(date) else {
        return Vec::new();
    };
    let back = |n: u64| {
        d.checked_sub_days(Days::new(n))
            .map(|x| x.format("%Y-%m-%d").to_string())
    };
    let mut v: Vec<String> = (1..=BASELINE_DAYS)
        .chain((2..=BASELINE_WEEKS).map(|w| w * 7))
        .filter_map(back)
        .filter(|x| stored.contains_key(x))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Reads what is new in `cfg.archive`, adds it to the state and commits.
/// `Ok` with no file read when nothing is new.
pub fn nightly(cfg: &NightlyConfig) -> Result<Nightly> {
    let mut store = LockedStore::open(&cfg.state)?;
    let bucket_seconds = (cfg.analyze.scan.bucket_us / 1_000_000) as u64;
    let m = &store.manifest;
    if !m.settings.is_empty() && (m.settings != cfg.settings || m.bucket_seconds != bucket_seconds)
    {
        return Err(Error::State {
            path: cfg.state.clone(),
            reason: "built with other settings (the config file, --bucket, --format or \
                     --version-depth); use a new state directory for these"
                .into(),
        });
    }
    let found = discover(&cfg.archive);
    // The state's own files are not logs, wherever it lives.
    let own = std::fs::canonicalize(&cfg.state).ok();
    let in_state = |p: &Path| {
        own.as_ref()
            .is_some_and(|s| std::fs::canonicalize(p).is_ok_and(|p| p.starts_with(s)))
    };
    if found.sources.iter().any(|s| matches!(s, Source::Stdin)) {
        return Err(Error::State {
            path: cfg.state.clone(),
            reason: "an incremental run reads files, not standard input".into(),
        });
    }
    let paths: Vec<PathBuf> = found
        .sources
        .iter()
        .filter_map(|s| match s {
            Source::File(p) if !in_state(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    if paths.is_empty() {
        let detail: Vec<String> = found
            .errors
            .iter()
            .map(|(p, e)| format!("{p}: {e}"))
            .collect();
        return Err(Error::NoInput(if detail.is_empty() {
            "no files in the archive".into()
        } else {
            detail.join("; ")
        }));
    }
    let plans = plan_files(&paths, m);
    let problems: Vec<InputError> = found
        .errors
        .iter()
        .map(|(p, e)| InputError {
            path: p.clone(),
            error: e.clone(),
        })
        .chain(plans.iter().filter_map(|p| match &p.action {
            FileAction::Unreadable { reason } => Some(InputError {
                path: p.path.display().to_string(),
                error: reason.clone(),
            }),
            _ => None,
        }))
        .collect();
    let mut out = Nightly {
        plans,
        problems,
        days: Vec::new(),
        report: None,
        cube: None,
        dropped: Vec::new(),
        past_retention: Vec::new(),
    };
    let reading: Vec<&FilePlan> = out.plans.iter().filter(|p| p.reads()).collect();
    if reading.is_empty() {
        return Ok(out);
    }
    let mut acfg = cfg.analyze.clone();
    acfg.inputs = reading
        .iter()
        .map(|p| p.path.display().to_string())
        .collect();
    acfg.scan.windows = reading
        .iter()
        .filter_map(|p| Some((p.path.clone(), p.window?)))
        .collect();
    let pool = pool(acfg.threads)?;
    let (result, mut errors) = scan_checked(&acfg, None, &pool)?;
    // What could not be read is an input problem of the run (`--strict`).
    errors.extend(out.problems.iter().cloned());

    let mut manifest: Manifest = store.manifest.clone();
    manifest.settings = cfg.settings.clone();
    manifest.bucket_seconds = bucket_seconds;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for p in &out.plans {
        let Some(fp) = &p.fingerprint else { continue };
        let read = result.files.iter().find(|f| Path::new(&f.path) == p.path);
        match (&p.action, read) {
            (
                FileAction::Waiting | FileAction::Unreadable { .. } | FileAction::Duplicate { .. },
                _,
            ) => {
                continue;
            }
            (_, Some(f)) if p.reads() => {
                let e = manifest.files.entry(fp.clone()).or_default();
                // The prefix that identifies it grows with the file (up to
                // 64 KiB), so a file that begins like it later is told apart.
                if let Some(start) = &p.start {
                    e.head.clone_from(&start.head);
                    let (len, hash) = start.prefix();
                    if len >= e.prefix_len {
                        (e.prefix_len, e.prefix) = (len, hash);
                    }
                }
                e.offset = f.read_to;
                e.lines += f.lines;
                e.last_read = now;
                e.last_request = e.last_request.max(f.last_ts);
            }
            _ => {}
        }
        if let Some(e) = manifest.files.get_mut(fp) {
            let s = p.seen_as();
            if !e.seen_as.contains(&s) {
                e.seen_as.push(s);
                // The latest few names are enough to skip unchanged files.
                let extra = e.seen_as.len().saturating_sub(8);
                e.seen_as.drain(..extra);
            }
        }
    }

    // Add the new requests to their days.
    let lines: u64 = result.files.iter().map(|f| f.lines).sum();
    let parts = result.cube.split_days();
    let mut cubes: BTreeMap<String, Cube> = BTreeMap::new();
    let mut added: BTreeMap<String, u64> = BTreeMap::new();
    // A run's lines go to its days in proportion to the requests it added
    // to each (the lines of a run that read one day are exact).
    let total: u64 = parts.values().map(|c| c.requests).sum();
    let mut lines_left = lines;
    let last_day = parts.keys().next_back().copied();
    for (day, part) in parts {
        let date = date_of_day(day);
        let mut cube = store
            .day_cube(&date)?
            .unwrap_or_else(|| Cube::new(bucket_seconds));
        cube.merge(&part)?;
        added.insert(date.clone(), part.requests);
        let entry = manifest.days.entry(date.clone()).or_default();
        entry.requests = cube.requests;
        entry.first = cube.time_min;
        entry.last = cube.time_max;
        let share = if Some(day) == last_day {
            lines_left
        } else {
            (lines as u128 * part.requests as u128 / total.max(1) as u128) as u64
        };
        lines_left -= share.min(lines_left);
        entry.lines += share;
        cubes.insert(date, cube);
    }

    // Retention, counted back from the newest day that holds real traffic
    // (a tenth of the median day or more): one line with a wrong date must
    // not decide which history is kept. Days past it are dropped, and new
    // data for them is not stored.
    if let Some(keep) = cfg.keep_days {
        let mut sizes: Vec<u64> = manifest.days.values().map(|d| d.requests).collect();
        sizes.sort_unstable();
        let median = sizes.get(sizes.len() / 2).copied().unwrap_or(0);
        let newest = manifest
            .days
            .iter()
            .rev()
            .find(|(_, d)| d.requests.saturating_mul(10) >= median)
            .and_then(|(d, _)| parse_date(d));
        if let Some(newest) = newest {
            let cutoff = newest
                .checked_sub_days(Days::new(keep.saturating_sub(1)))
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let old: Vec<String> = manifest
                .days
                .range(..cutoff)
                .map(|(d, _)| d.clone())
                .collect();
            for d in old {
                manifest.days.remove(&d);
                if cubes.remove(&d).is_some() && !store.manifest.days.contains_key(&d) {
                    out.past_retention.push(d);
                } else {
                    out.dropped.push(d);
                }
            }
        }
    }

    // Judge each day touched against the stored days before it, read in
    // parallel.
    let wanted: std::collections::BTreeSet<String> = cubes
        .keys()
        .flat_map(|d| baseline_dates(d, &manifest.days))
        .filter(|d| !cubes.contains_key(d))
        .filter(|d| store.manifest.days.contains_key(d))
        .collect();
    let read: Vec<(String, Result<Cube>)> = pool.install(|| {
        use rayon::prelude::*;
        wanted
            .into_par_iter()
            .map(|d| {
                let file = store.dir().join(&store.manifest.days[&d].cube);
                (d, read_cube(&file))
            })
            .collect()
    });
    let mut history: BTreeMap<String, Cube> = BTreeMap::new();
    for (d, c) in read {
        history.insert(d, c?);
    }
    let mut all_storms = Vec::new();
    for (date, cube) in &cubes {
        let base = baseline_dates(date, &manifest.days);
        let mut merged: Option<Cube> = None;
        let one_day = cubes.len() == 1;
        for b in &base {
            let add = |merged: &mut Option<Cube>, c: &Cube| match merged {
                Some(m) => m.merge(c),
                None => {
                    *merged = Some(c.clone());
                    Ok(())
                }
            };
            if let Some(c) = cubes.get(b) {
                add(&mut merged, c)?;
            } else if one_day && merged.is_none() {
                // The common night (one new day): the first stored day is
                // taken, not copied.
                merged = history.remove(b);
            } else if let Some(c) = history.get(b) {
                add(&mut merged, c)?;
            }
        }
        let merged = match merged {
            Some(mut m) => {
                m.merge(cube)?;
                m
            }
            None => cube.clone(),
        };
        let (lo, hi) = day_range(date);
        let storms: Vec<Storm> = pool
            .install(|| detect(&merged, &cfg.analyze.detect))
            .into_iter()
            .filter(|s| (lo..hi).contains(&s.times.start))
            .collect();
        let entry = manifest.days.get_mut(date).expect("inserted above");
        entry.incidents = BTreeMap::new();
        for s in &storms {
            *entry
                .incidents
                .entry(s.kind.name().to_string())
                .or_default() += 1;
        }
        entry.baseline_days = base;
        all_storms.extend(storms.iter().cloned());
        out.days.push(DayResult {
            date: date.clone(),
            requests_added: added[date],
            entry: entry.clone(),
            storms,
        });
    }

    for (date, cube) in &cubes {
        let (name, table) = store.write_day(date, cube)?;
        let entry = manifest.days.get_mut(date).expect("inserted above");
        entry.cube = name;
        entry.parquet = table;
        crash_point("after-a-day");
    }
    let mut touched = Cube::new(bucket_seconds);
    for c in cubes.values() {
        touched.merge(c)?;
    }
    let mut report = Report::build(result.files, errors, &touched, None, Vec::new());
    all_storms.sort_by_key(|s| s.times.start);
    report.storms = all_storms;
    out.report = Some(report);
    out.cube = Some(touched);
    crash_point("before-commit");
    store.commit(manifest)?;
    Ok(out)
}

/// The microseconds of a UTC date, `[start, end)`.
pub fn day_range(date: &str) -> (Micros, Micros) {
    let start = parse_date(date)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |t| t.and_utc().timestamp_micros());
    (start, start + 86_400 * 1_000_000)
}

/// For the crash tests: `AUTHSTORM_CRASH_AT=<point>` ends the process at
/// that point, as a kill would.
fn crash_point(point: &str) {
    if std::env::var("AUTHSTORM_CRASH_AT").is_ok_and(|p| p == point) {
        std::process::abort();
    }
}

/// The stored days, oldest first: the state a `history` lists.
pub fn history(dir: &Path) -> Result<Manifest> {
    if !dir.join("manifest.json").exists() {
        return Err(Error::State {
            path: dir.into(),
            reason: "no state here (no manifest.json): run `authstorm nightly --state` first"
                .into(),
        });
    }
    super::store::read_manifest(dir)
}

/// The merged cube of the stored days from `a` to `b` (dates, inclusive).
pub fn period_cube(dir: &Path, a: &str, b: &str) -> Result<Cube> {
    if a > b {
        return Err(Error::State {
            path: dir.into(),
            reason: format!("the period {a}..{b} ends before it starts"),
        });
    }
    let m = history(dir)?;
    let mut cube = Cube::new(m.bucket_seconds);
    let mut any = false;
    for d in m.days.range(a.to_string()..=b.to_string()).map(|(_, d)| d) {
        cube.merge(&read_cube(&dir.join(&d.cube))?)?;
        any = true;
    }
    if !any {
        return Err(Error::State {
            path: dir.into(),
            reason: format!("no stored day from {a} to {b}"),
        });
    }
    Ok(cube)
}
