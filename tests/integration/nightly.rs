//! `nightly --state`: night-by-night runs over rotated archives give what
//! one run over everything gives; rotations, reruns and kills lose and
//! double nothing; each day is judged against the stored days before it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use authstorm::aggregate::Cube;
use serde_json::Value;

use super::common::{bin, simulate};

/// The lines of `log`, by UTC date (`YYYY-MM-DD`), in log order.
fn lines_by_day(log: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut days: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in text.lines() {
        let ts = l
            .split('[')
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap();
        let t = chrono::DateTime::parse_from_str(ts, "%d/%b/%Y:%H:%M:%S %z").unwrap();
        days.entry(t.format("%Y-%m-%d").to_string())
            .or_default()
            .push(l.to_string());
    }
    days
}

fn gzip(path: &Path, lines: &[String]) {
    let f = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    for l in lines {
        writeln!(gz, "{l}").unwrap();
    }
    gz.finish().unwrap();
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Runs `nightly` over `archive`; its exit code and JSON document.
fn night(archive: &Path, state: &Path, extra: &[&str]) -> (i32, Value) {
    let out = bin()
        .arg("nightly")
        .arg(archive)
        .arg("--state")
        .arg(state)
        .args(["--no-progress", "--json", "-"])
        .args(extra)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 2,
        "nightly failed ({code}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("authstorm nightly: "),
        "the one-line summary leads stderr: {stderr}"
    );
    (code, serde_json::from_slice(&out.stdout).unwrap())
}

/// Every stored day merged.
fn stored(state: &Path) -> Cube {
    let m = authstorm::state::read_manifest(state).unwrap();
    let mut cube = Cube::new(m.bucket_seconds);
    for d in m.days.values() {
        cube.merge(&authstorm::state::read_cube(&state.join(&d.cube)).unwrap())
            .unwrap();
    }
    cube
}

/// The cube of one run over `inputs`.
fn one_run(inputs: &[PathBuf], dir: &Path) -> Cube {
    let out = dir.join("one-run.cube.json");
    let status = bin()
        .arg("analyze")
        .args(inputs)
        .args(["--no-progress", "--cube"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    authstorm::analyze::load_cube(out.to_str().unwrap()).unwrap()
}

/// What the state must agree on with one run: every cell (counts, status
/// codes, latency, clients, retries, resends, loops), chain, health check
/// and request.
fn assert_same(a: &Cube, b: &Cube, what: &str) {
    assert_eq!(a.requests, b.requests, "{what}: requests");
    assert_eq!(a.health, b.health, "{what}: health checks");
    assert_eq!(a.cells.len(), b.cells.len(), "{what}: cells");
    for (k, c) in &a.cells {
        assert_eq!(Some(c), b.cells.get(k), "{what}: cell {k:?}");
    }
    assert_eq!(a.chains, b.chains, "{what}: chains");
    assert_eq!(
        a.retry_clients, b.retry_clients,
        "{what}: per-client retries"
    );
}

#[test]
fn ten_nights_of_rotated_gzip_files_equal_one_run_and_find_the_storm() {
    let dir = tempfile::tempdir().unwrap();
    let log = simulate(
        dir.path(),
        "all.log",
        &["--days", "10", "--lines", "120000"],
    );
    let days = lines_by_day(&log);
    assert_eq!(days.len(), 10);
    let whole = bin()
        .args(["storms", "--no-progress", "--json", "-"])
        .arg(&log)
        .output()
        .unwrap();
    let whole: Value = serde_json::from_slice(&whole.stdout).unwrap();
    let (archive, state) = (dir.path().join("archive"), dir.path().join("state"));
    std::fs::create_dir(&archive).unwrap();
    let mut files = Vec::new();
    let mut found = BTreeMap::new();
    for (i, (date, lines)) in days.iter().enumerate() {
        let f = archive.join(format!("access.log.{i:02}.gz"));
        gzip(&f, lines);
        files.push(f);
        let (code, doc) = night(&archive, &state, &[]);
        assert_eq!(code, 0);
        let d = &doc["days"][0];
        assert_eq!(d["date"], *date, "each night adds its own day");
        assert_eq!(doc["days"].as_array().unwrap().len(), 1);
        let read: Vec<&Value> = doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["action"] != "unchanged")
            .collect();
        assert_eq!(read.len(), 1, "only the new file is read: {read:?}");
        assert_eq!(
            d["baseline_days"].as_array().unwrap().len(),
            i.min(7),
            "judged against up to seven stored days before it"
        );
        found.insert(date.clone(), d["storms"].as_array().unwrap().clone());
    }
    // The storm of the last day, and nothing on the nine normal days.
    let last = days.keys().next_back().unwrap();
    for (date, storms) in &found {
        if date == last {
            assert_eq!(storms.len(), 1, "{date}: {storms:?}");
            assert_eq!(storms[0]["kind"], "storm");
            assert_eq!(storms[0]["culprits"][0]["app"], "acme-desktop");
            // The same verdict as one run over the ten days.
            let one = &whole["storms"][0];
            assert_eq!(storms[0]["start"], one["start"]);
            assert_eq!(storms[0]["end"], one["end"]);
            assert_eq!(storms[0]["culprits"], one["culprits"]);
        } else {
            assert!(storms.is_empty(), "{date}: {storms:?}");
        }
    }
    assert_same(&stored(&state), &one_run(&files, dir.path()), "ten nights");
    // Each day's cells also as Parquet, for other engines.
    let m = authstorm::state::read_manifest(&state).unwrap();
    for d in m.days.values() {
        let bytes = std::fs::read(state.join(&d.parquet)).unwrap();
        assert!(
            bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
            "{}",
            d.parquet
        );
    }

    // The same night again changes nothing and says so (exit 2).
    let before = std::fs::read(state.join("manifest.json")).unwrap();
    let (code, doc) = night(&archive, &state, &[]);
    assert_eq!(code, 2);
    assert!(doc["days"].as_array().unwrap().is_empty());
    assert_eq!(before, std::fs::read(state.join("manifest.json")).unwrap());

    // History lists the days; compare puts the culprit first for the storm
    // day against the same weekday a week before.
    let h = bin()
        .args(["history", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&h.stdout);
    assert!(
        h.status.success() && text.contains("10 days stored"),
        "{text}"
    );
    assert!(text.contains("1 storm"), "{text}");
    let c = bin()
        .args(["compare", "--state"])
        .arg(&state)
        .args(["--a", "last-wednesday", "--b", "wednesday", "--json", "-"])
        .output()
        .unwrap();
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    let cmp: Value = serde_json::from_slice(&c.stdout).unwrap();
    assert_eq!(cmp["b"]["label"], *last, "{}", cmp["b"]);
    let top = &cmp["cohorts"][0];
    assert_eq!(top["app"], "acme-desktop", "{top}");
    assert_eq!(top["token_state"], "expired", "{top}");
}

#[test]
fn rotations_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = simulate(
        dir.path(),
        "all.log",
        &["--days", "3", "--lines", "30000", "--scenario", "normal"],
    );
    let all: Vec<String> = lines_by_day(&log).into_values().flatten().collect();
    let parts: Vec<&[String]> = all.chunks(all.len() / 5 + 1).collect();
    for mode in ["rename-and-gzip", "copytruncate"] {
        let (archive, state) = (
            dir.path().join(mode),
            dir.path().join(format!("{mode}.state")),
        );
        std::fs::create_dir(&archive).unwrap();
        let live = archive.join("access.log");
        let mut seen = Vec::new();
        for (n, part) in parts.iter().enumerate() {
            // Half the part before the night's run, half after it; then
            // the rotation, with the rest still to be read from the copy.
            let (a, b) = part.split_at(part.len() / 2);
            append(&live, a);
            night(&archive, &state, &[]);
            append(&live, b);
            let rotated = archive.join(format!("access.log.{n}"));
            match mode {
                "rename-and-gzip" => {
                    let text = std::fs::read_to_string(&live).unwrap();
                    let lines: Vec<String> = text.lines().map(String::from).collect();
                    std::fs::remove_file(&live).unwrap();
                    gzip(&rotated.with_extension(format!("{n}.gz")), &lines);
                }
                _ => {
                    std::fs::copy(&live, &rotated).unwrap();
                    std::fs::File::create(&live).unwrap();
                }
            }
            seen.extend(part.iter().cloned());
        }
        night(&archive, &state, &[]);
        let whole = dir.path().join(format!("{mode}.log"));
        append(&whole, &seen);
        assert_same(&stored(&state), &one_run(&[whole], dir.path()), mode);
    }
}

#[test]
fn a_run_killed_anywhere_then_rerun_leaves_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let log = simulate(
        dir.path(),
        "all.log",
        &["--days", "3", "--lines", "20000", "--scenario", "normal"],
    );
    let days = lines_by_day(&log);
    let reference = dir.path().join("reference");
    let archive = dir.path().join("archive");
    std::fs::create_dir(&archive).unwrap();
    for (i, (_, lines)) in days.iter().enumerate() {
        gzip(&archive.join(format!("access.log.{i}.gz")), lines);
        night(&archive, &reference, &[]);
    }
    for point in ["after-a-day", "before-commit"] {
        let state = dir.path().join(point);
        std::fs::remove_dir_all(&archive).unwrap();
        std::fs::create_dir(&archive).unwrap();
        for (i, (_, lines)) in days.iter().enumerate() {
            gzip(&archive.join(format!("access.log.{i}.gz")), lines);
            let killed = bin()
                .arg("nightly")
                .arg(&archive)
                .arg("--state")
                .arg(&state)
                .arg("--no-progress")
                .env("AUTHSTORM_CRASH_AT", point)
                .output()
                .unwrap();
            assert!(
                !killed.status.success(),
                "{point}: the run was to be killed"
            );
            night(&archive, &state, &[]);
        }
        assert_same(&stored(&state), &stored(&reference), point);
        let days_of = |s: &Path| {
            let m = authstorm::state::read_manifest(s).unwrap();
            m.days
                .iter()
                .map(|(d, e)| (d.clone(), e.requests))
                .collect::<Vec<_>>()
        };
        assert_eq!(days_of(&state), days_of(&reference), "{point}");
        // Nothing left behind by the killed runs.
        let files = std::fs::read_dir(state.join("days")).unwrap().count();
        assert_eq!(files, 2 * days.len(), "{point}: a cube and a table per day");
    }
}

#[test]
fn runs_killed_at_any_moment_leave_a_state_the_next_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let log = simulate(
        dir.path(),
        "all.log",
        &["--days", "3", "--lines", "30000", "--scenario", "normal"],
    );
    let days = lines_by_day(&log);
    let (archive, reference, state) = (
        dir.path().join("archive"),
        dir.path().join("reference"),
        dir.path().join("state"),
    );
    std::fs::create_dir(&archive).unwrap();
    for (i, (_, lines)) in days.iter().enumerate() {
        gzip(&archive.join(format!("access.log.{i}.gz")), lines);
    }
    night(&archive, &reference, &[]);
    let exe = assert_cmd::cargo::cargo_bin("authstorm");
    // SIGKILL after a spread of delays: before the scan, during it, while
    // the days are written, around the commit, after it.
    for ms in [0u64, 15, 40, 80, 130, 200, 300, 450, 700] {
        let mut child = std::process::Command::new(&exe)
            .arg("nightly")
            .arg(&archive)
            .arg("--state")
            .arg(&state)
            .arg("--no-progress")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        if state.join("manifest.json").exists() {
            // Whatever a killed run left, it is a whole state or none.
            authstorm::state::read_manifest(&state).unwrap();
        }
    }
    let (code, _) = night(&archive, &state, &[]);
    assert!(code == 0 || code == 2);
    assert_same(&stored(&state), &stored(&reference), "killed runs");
    let files = std::fs::read_dir(state.join("days")).unwrap().count();
    assert_eq!(files, 2 * days.len(), "a cube and a table per day");
}

#[test]
fn a_normal_monday_after_a_quiet_weekend_raises_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Ten normal days from Monday 2 March; the weekend keeps a twentieth of
    // its traffic.
    let log = simulate(
        dir.path(),
        "all.log",
        &["--days", "10", "--lines", "60000", "--scenario", "normal"],
    );
    let (archive, state) = (dir.path().join("archive"), dir.path().join("state"));
    std::fs::create_dir(&archive).unwrap();
    for (i, (date, lines)) in lines_by_day(&log).iter().enumerate() {
        let quiet = date == "2026-03-07" || date == "2026-03-08";
        let kept: Vec<String> = lines
            .iter()
            .enumerate()
            .filter(|(j, _)| !quiet || j % 20 == 0)
            .map(|(_, l)| l.clone())
            .collect();
        gzip(&archive.join(format!("access.log.{i:02}.gz")), &kept);
        let (_, doc) = night(&archive, &state, &[]);
        let d = &doc["days"][0];
        assert!(
            d["storms"].as_array().unwrap().is_empty(),
            "{date}: {}",
            d["storms"]
        );
        if date == "2026-03-09" {
            // Monday is judged against the whole week before it, its own
            // weekday included, not against the weekend alone.
            let base: Vec<&str> = d["baseline_days"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(base.first(), Some(&"2026-03-02"), "{base:?}");
            assert_eq!(base.len(), 7, "{base:?}");
        }
    }
}

#[test]
fn hostile_archives_lose_no_history() {
    let dir = tempfile::tempdir().unwrap();
    let log = simulate(
        dir.path(),
        "all.log",
        &["--days", "4", "--lines", "12000", "--scenario", "normal"],
    );
    let days = lines_by_day(&log);
    // The state inside the archive it reads.
    let archive = dir.path().join("archive");
    let state = archive.join("state");
    std::fs::create_dir(&archive).unwrap();
    for (i, (_, lines)) in days.iter().enumerate() {
        gzip(&archive.join(format!("access.log.{i}.gz")), lines);
    }
    let (code, doc) = night(&archive, &state, &["--keep-days", "3"]);
    assert_eq!(code, 0);
    let files: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.iter().all(|f| !f.contains("/state/")), "{files:?}");
    // The oldest of the four days is past what --keep-days 3 keeps.
    assert_eq!(
        doc["past_retention_days"].as_array().unwrap().len(),
        1,
        "{doc}"
    );
    // One line with a date months ahead does not decide what is kept.
    let last = days.values().next_back().unwrap();
    let stray = last[0].replace("/Mar/2026", "/Jun/2026");
    append(
        &archive.join("clock.log"),
        &last[..20]
            .iter()
            .cloned()
            .chain([stray])
            .collect::<Vec<_>>(),
    );
    let (code, doc) = night(&archive, &state, &["--keep-days", "3"]);
    assert_eq!(code, 0);
    assert!(
        doc["dropped_days"].as_array().unwrap().is_empty(),
        "{}",
        doc["dropped_days"]
    );
    let m = authstorm::state::read_manifest(&state).unwrap();
    // The three days kept, and the stray line's own day.
    assert_eq!(m.days.len(), 4, "{:?}", m.days.keys().collect::<Vec<_>>());
    assert!(m.days.keys().any(|d| d.starts_with("2026-06")));
    // A reversed period and standard input are refused, not a crash.
    let out = bin()
        .args(["compare", "--state"])
        .arg(&state)
        .args(["--a", "2026-03-04..2026-03-02", "--b", "2026-03-05"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ends before it starts"));
    let out = bin()
        .args(["nightly", "-", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not standard input"));
}
