//! The binary end to end: exit codes, outputs, bad input.

use std::io::Write;

use predicates::prelude::*;

use crate::common::{assert_accounting, bin, data, run_json, simulate};

const LINE: &str = r#"10.0.0.1 - - [02/Mar/2026:08:00:00 +0000] "GET /v1/session HTTP/1.1" 200 12 "-" "acme-desktop/4.2.1 (Windows)" request_time=0.010 user=u-1 device=d-1 auth_error="-""#;

#[test]
fn usage_errors_exit_2() {
    bin().assert().code(2);
    bin().args(["analyze"]).assert().code(2);
    bin()
        .args(["analyze", "/no/such/file"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/file"));
    let f = data("real/zanbil-nginx-combined/shop_access.log");
    let f = f.to_str().unwrap();
    for bad in [
        vec!["--bucket", "0s"],
        vec!["--bucket", "1.5s"],
        vec!["--bucket", "soon"],
        vec!["--since", "yesterday-ish"],
        vec!["--tz", "Mars/Olympus"],
        vec!["--by", "nonsense"],
        vec!["--threads", "0"],
        vec!["--format", "regex"],
        vec![
            "--since",
            "2026-01-02T00:00:00Z",
            "--until",
            "2026-01-01T00:00:00Z",
        ],
    ] {
        bin()
            .arg("analyze")
            .arg(f)
            .args(&bad)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("error"));
    }
}

#[test]
fn config_errors_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("bad.toml");
    std::fs::write(&cfg, "[fields]\nstatuz = \"x\"\n").unwrap();
    let f = data("real/zanbil-nginx-combined/shop_access.log");
    bin()
        .arg("analyze")
        .arg(&f)
        .arg("--config")
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml").and(predicate::str::contains("statuz")));
}

#[test]
fn unreadable_among_readable_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("good.log");
    std::fs::write(&good, format!("{LINE}\n")).unwrap();
    let r = run_json(&[good.to_str().unwrap(), "/no/such/file.log"]);
    assert_eq!(r["totals"]["requests"], 1);
    assert_eq!(r["input"]["errors"][0]["path"], "/no/such/file.log");
    // A file in an unrecognised format is reported with its name, the rest analyzed.
    let junk = d.path().join("junk.txt");
    std::fs::write(&junk, "hello\nworld\n").unwrap();
    let r = run_json(&[good.to_str().unwrap(), junk.to_str().unwrap()]);
    let files = r["input"]["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("junk.txt")
                && f["error"].as_str().unwrap().contains("format"))
    );
    // Only unusable input: exit 2.
    bin()
        .arg("analyze")
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("junk.txt"));
}

#[test]
fn tables_when_piped_have_no_escapes() {
    let f = data("real/zanbil-nginx-combined/shop_access.log");
    let out = bin().arg("analyze").arg(&f).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(!s.contains('\x1b'), "no colour when piped");
    for section in ["Overview", "Cohorts", "Timeline", "Top endpoints"] {
        assert!(s.contains(section), "{section}");
    }
    assert!(s.contains("1,000"), "line count with separators");
}

#[test]
fn tables_fit_the_given_width() {
    let f = data("real/elastic-apache-combined/apache_logs.log");
    let out = bin()
        .arg("analyze")
        .arg(&f)
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    let widest = s.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 80, "widest line {widest}");
}

#[test]
fn hostile_fields_cannot_reach_the_terminal() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("evil.log");
    let line = LINE.replace(
        "acme-desktop/4.2.1 (Windows)",
        "evil\x1b]0;pwned\x07\x1b[31m/1.0",
    );
    std::fs::write(&f, format!("{line}\n")).unwrap();
    let out = bin().arg("analyze").arg(&f).output().unwrap();
    assert!(out.status.success());
    assert!(!out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07));
}

/// A reader that goes away (`| head -1`) ends every subcommand quietly,
/// with success: the export's rows, the JSON, the tables, the lists.
#[test]
fn closed_pipe_is_not_an_error() {
    let f = data("real/elastic-apache-combined/apache_logs.log");
    let f = f.to_str().unwrap();
    let runs: [&[&str]; 7] = [
        &["analyze", "--no-progress", "--json", "-", f],
        &["analyze", "--no-progress", f],
        &["storms", "--no-progress", "--json", "-", f],
        &["export", "--no-progress", "--to", "-", f],
        &["compare", "--no-progress", f, f],
        &["formats"],
        &["simulate", "--lines", "200000", "-o", "-"],
    ];
    for args in runs {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("authstorm"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away at once
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `storms --json` writes the episodes (`authstorm/storms/v1`), not the
/// whole report.
#[test]
fn storms_json_is_the_storms() {
    let d = tempfile::tempdir().unwrap();
    let log = crate::common::simulate(d.path(), "s.log", &["--lines", "20000"]);
    let out = bin()
        .args(["storms", "--no-progress", "--json", "-"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "authstorm/storms/v1");
    assert_eq!(v["input"]["files"], 1);
    assert!(v["input"]["lines"].as_u64().unwrap() > 0);
    assert_eq!(v["storms"][0]["kind"], "storm");
    assert!(v.get("cohorts").is_none() && v.get("timeline").is_none());
}

#[test]
fn bad_lines_are_counted_with_examples() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("mixed.log");
    let mut w = std::fs::File::create(&f).unwrap();
    writeln!(w, "{LINE}").unwrap();
    w.write_all(b"\n").unwrap(); // empty
    w.write_all(b"\xff\xfe garbage \xc3\x28\n").unwrap(); // invalid UTF-8
    w.write_all(b"nul\x00byte\n").unwrap();
    writeln!(w, "{}", "x".repeat(100_000)).unwrap(); // too long
    writeln!(
        w,
        "{}",
        LINE.replace("02/Mar/2026:08:00:00", "99/Mar/2026:08:00:00")
    )
    .unwrap();
    writeln!(w, "{LINE}").unwrap();
    write!(w, "{LINE}").unwrap(); // no final newline
    drop(w);
    let r = run_json(&[f.to_str().unwrap()]);
    assert_accounting(&r);
    let i = &r["input"];
    assert_eq!(i["lines"], 8);
    assert_eq!(i["parsed"], 3);
    let reasons = &i["skipped_by_reason"];
    assert_eq!(reasons["empty"], 1);
    assert_eq!(reasons["unparsable"], 1);
    assert_eq!(reasons["nul_bytes"], 1);
    assert_eq!(reasons["too_long"], 1);
    assert_eq!(reasons["bad_timestamp"], 1);
    let ex = i["files"][0]["skip_examples"].as_array().unwrap();
    let lines: Vec<u64> = ex.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6], "file line numbers");
    assert!(
        ex[3]["text"].as_str().unwrap().len() < 1000,
        "examples are truncated"
    );
}

#[test]
fn non_ascii_and_invalid_bytes_are_read_not_dropped() {
    // Plain ASCII lines skip the UTF-8 and NUL checks (their tokenizer's
    // marks vouch for them); these lines must still take the checked path.
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("bytes.log");
    let mut w = std::fs::File::create(&f).unwrap();
    writeln!(w, "{}", LINE.replace("/v1/session", "/v1/café")).unwrap();
    w.write_all(LINE.replace("/v1/session", "/v1/caf\u{1}").as_bytes())
        .unwrap();
    w.write_all(b"\n").unwrap();
    let mut invalid = LINE.replace("/v1/session", "/v1/caf#").into_bytes();
    let at = invalid.iter().position(|b| *b == b'#').unwrap();
    invalid[at] = 0xff;
    w.write_all(&invalid).unwrap();
    w.write_all(b"\n").unwrap();
    w.write_all(LINE.replace("/v1/session", "/v1/caf\u{0}").as_bytes())
        .unwrap();
    w.write_all(b"\n").unwrap();
    drop(w);
    let r = run_json(&[f.to_str().unwrap()]);
    assert_accounting(&r);
    assert_eq!(r["input"]["parsed"], 3);
    assert_eq!(r["input"]["skipped_by_reason"]["nul_bytes"], 1);
    let mut endpoints: Vec<&str> = r["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["endpoint"].as_str().unwrap())
        .collect();
    endpoints.sort_unstable();
    assert_eq!(
        endpoints,
        ["GET /v1/caf\u{1}", "GET /v1/café", "GET /v1/caf\u{fffd}"]
    );
}

#[test]
fn json_report_schema() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(d.path(), "s.log", &["--lines", "20000"]);
    let out = d.path().join("r.json");
    bin()
        .arg("analyze")
        .arg(&log)
        .arg("--json")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("Cohorts"));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(r["schema"], "authstorm/report/v2");
    assert_accounting(&r);
    for k in [
        "input",
        "totals",
        "cohorts",
        "timeline",
        "storms",
        "endpoints",
    ] {
        assert!(!r[k].is_null(), "{k}");
    }
    let c = &r["cohorts"][0];
    for k in [
        "app",
        "version",
        "token_state",
        "requests",
        "clients",
        "errors",
        "p95_latency_ms",
    ] {
        assert!(!c[k].is_null(), "cohort.{k}");
    }
    let b = &r["timeline"]["buckets"][0];
    for k in [
        "start",
        "requests",
        "clients",
        "by_status_class",
        "by_token_state",
    ] {
        assert!(!b[k].is_null(), "bucket.{k}");
    }
    assert_eq!(r["timeline"]["bucket_seconds"], 60);
    assert!(b["start"].as_str().unwrap().ends_with('Z'));
    // Health checks count in totals, not as clients or cohorts.
    let health = r["totals"]["health_checks"].as_u64().unwrap();
    assert!(health > 0);
    let cohort_sum: u64 = r["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(
        cohort_sum + health,
        r["totals"]["requests"].as_u64().unwrap()
    );
    assert!(
        r["cohorts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["app"].as_str().unwrap().contains("ELB"))
    );
    // The buggy versions show up as expired-token cohorts.
    assert!(
        r["cohorts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["app"] == "acme-desktop"
                && c["version"] == "4.2.1"
                && c["token_state"] == "expired")
    );
}

#[test]
fn since_until_and_by() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(d.path(), "s.log", &["--lines", "20000"]);
    let all = run_json(&[log.to_str().unwrap()]);
    let some = run_json(&[
        log.to_str().unwrap(),
        "--since",
        "2026-03-02T09:00:00Z",
        "--until",
        "2026-03-02T10:00:00Z",
    ]);
    assert_accounting(&some);
    assert!(
        some["totals"]["requests"].as_u64().unwrap() < all["totals"]["requests"].as_u64().unwrap()
    );
    assert_eq!(some["input"]["time_range"]["start"], "2026-03-02T09:00:00Z");
    assert!(some["input"]["time_range"]["end"].as_str().unwrap() < "2026-03-02T10:00:00Z");
    // Relative bounds are relative to now: the 2026-03 log is entirely
    // before -1h, and nothing analysed is no success.
    bin()
        .args(["storms", "--fail-on-storm", "--since", "-1h"])
        .arg(&log)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing analysed"))
        .stderr(predicate::str::contains("outside --since/--until"));

    let by = run_json(&[log.to_str().unwrap(), "--by", "app,status"]);
    let g = &by["groups"];
    assert_eq!(g["fields"], serde_json::json!(["app", "status"]));
    let sum: u64 = g["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(
        sum + by["totals"]["health_checks"].as_u64().unwrap(),
        by["totals"]["requests"].as_u64().unwrap()
    );
}

#[test]
fn bucket_and_tz() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(d.path(), "s.log", &["--lines", "10000"]);
    let r = run_json(&[log.to_str().unwrap(), "--bucket", "5m"]);
    assert_eq!(r["timeline"]["bucket_seconds"], 300);
    let out = bin()
        .arg("analyze")
        .arg(&log)
        .args(["--tz", "Asia/Tokyo"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("Asia/Tokyo"));
    assert!(
        s.contains("2026-03-02 15:00:00"),
        "06:00Z shown as 15:00 JST"
    );
}

#[test]
fn stdin_and_cube_roundtrip() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(d.path(), "s.log", &["--lines", "5000"]);
    let text = std::fs::read(&log).unwrap();
    let out = bin()
        .args(["analyze", "--json", "-", "-"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert!(out.status.success());
    let from_stdin: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_file = run_json(&[log.to_str().unwrap()]);
    assert_eq!(from_stdin["totals"], from_file["totals"]);
    assert_eq!(from_stdin["cohorts"], from_file["cohorts"]);

    let cube = d.path().join("cube.json");
    bin()
        .arg("analyze")
        .arg(&log)
        .arg("--cube")
        .arg(&cube)
        .assert()
        .success();
    let c: authstorm::aggregate::Cube =
        serde_json::from_slice(&std::fs::read(&cube).unwrap()).unwrap();
    assert_eq!(c.schema, "authstorm/cube/v2");
    assert_eq!(
        serde_json::Value::from(c.requests),
        from_file["totals"]["requests"]
    );
}

#[test]
fn terminal_report_snapshot() {
    let f = data("real/zanbil-nginx-combined/shop_access.log");
    let out = bin()
        .arg("analyze")
        .arg(&f)
        .args(["--top", "5"])
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("zanbil_tables", s);
}

fn sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

#[test]
fn readme_main_command_shows_the_storm() {
    let s = sample();
    let out = bin()
        .arg("analyze")
        .arg(s.join("incident"))
        .arg("--config")
        .arg(s.join("authstorm.toml"))
        .env("COLUMNS", "160")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Retry storms",
        "storm ",
        "desktop 4.2.0–4.2.3",
        "expired-token retries on GET /v1/session, no backoff",
        "peak ",
        "mitigation: 429/403 answers begin",
        "impact on everyone else",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn storms_subcommand_and_fail_on_storm() {
    let s = sample().join("incident");
    // Findings do not change the exit code unless asked.
    bin().arg("storms").arg(&s).assert().success().stdout(
        predicate::str::contains("Event timeline").and(predicate::str::contains("Cohorts").not()),
    );
    bin()
        .arg("storms")
        .arg(&s)
        .arg("--fail-on-storm")
        .assert()
        .code(1);
    bin()
        .arg("analyze")
        .arg(&s)
        .arg("--fail-on-storm")
        .assert()
        .code(1);
    let normal = data("real/zanbil-nginx-combined/shop_access.log");
    bin()
        .arg("storms")
        .arg(&normal)
        .arg("--fail-on-storm")
        .assert()
        .success()
        .stdout(predicate::str::contains("none found"));

    let r = run_json(&[s.to_str().unwrap()]);
    let st = &r["storms"][0];
    assert_eq!(st["kind"], "storm");
    for k in [
        "start",
        "peak",
        "mitigation",
        "end",
        "peak_rps",
        "baseline_rps",
        "amplification",
        "culprits",
        "impact",
    ] {
        assert!(!st[k].is_null(), "storm.{k}");
    }
    let c = &st["culprits"][0];
    assert_eq!(c["app"], "acme-desktop");
    assert_eq!(
        c["versions"],
        serde_json::json!(["4.2.0", "4.2.1", "4.2.2", "4.2.3"])
    );
    assert_eq!(c["token_state"], "expired");
    for k in [
        "endpoint",
        "share_of_excess",
        "retry_ratio",
        "requests_per_client",
        "backoff",
    ] {
        assert!(!c[k].is_null(), "culprit.{k}");
    }
    // Per-bucket retry figures in the timeline.
    let b = r["timeline"]["buckets"].as_array().unwrap();
    assert!(b.iter().any(|b| b["retry_ratio"].as_f64().unwrap() > 1.0));
    assert!(b.iter().all(|b| !b["requests_per_client"].is_null()));
}

#[test]
fn detect_thresholds_from_config() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("c.toml");
    // An absurd z threshold: nothing is anomalous; the storm's loops stay.
    std::fs::write(&cfg, "[detect]\nz = 1000.0\nretry_window = \"30s\"\n").unwrap();
    let args = [
        sample().join("incident").to_str().unwrap().to_string(),
        "--config".into(),
        cfg.to_str().unwrap().into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let kinds = |r: &serde_json::Value| -> Vec<String> {
        r["storms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds(&run_json(&args)), vec!["storm"]);
    // More looping clients than the fleet has: no storm either.
    std::fs::write(&cfg, "[detect]\nz = 1000.0\nmin_clients = 100000\n").unwrap();
    assert!(kinds(&run_json(&args)).is_empty());
    std::fs::write(&cfg, "[detect]\nbogus = 1\n").unwrap();
    bin()
        .arg("analyze")
        .arg(sample().join("incident"))
        .arg("--config")
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bogus"));
}

#[test]
fn cubes_merge_and_analyze_like_the_logs() {
    // Two days in two files: cubes of each, merged, give the storm and the
    // same totals and cohorts as analyzing both logs at once.
    let d = tempfile::tempdir().unwrap();
    let log = simulate(
        d.path(),
        "two-days.log",
        &["--lines", "40000", "--days", "2"],
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let (day1, day2): (Vec<&str>, Vec<&str>) =
        text.lines().partition(|l| l.contains("02/Mar/2026"));
    std::fs::write(d.path().join("a.log"), day1.join("\n") + "\n").unwrap();
    std::fs::write(d.path().join("b.log"), day2.join("\n") + "\n").unwrap();
    for (name, cube) in [("a.log", "a.json"), ("b.log", "b.json")] {
        bin()
            .arg("analyze")
            .arg(d.path().join(name))
            .arg("--cube")
            .arg(d.path().join(cube))
            .assert()
            .success();
    }
    let merged = run_json(&[
        "--from-cube",
        d.path().join("a.json").to_str().unwrap(),
        d.path().join("b.json").to_str().unwrap(),
    ]);
    let direct = run_json(&[log.to_str().unwrap()]);
    assert_eq!(merged["totals"], direct["totals"]);
    assert_eq!(merged["cohorts"], direct["cohorts"]);
    assert_eq!(merged["storms"][0]["kind"], "storm");
    assert_eq!(merged["storms"][0]["start"], direct["storms"][0]["start"]);
    assert_eq!(
        merged["storms"][0]["culprits"][0]["versions"],
        direct["storms"][0]["culprits"][0]["versions"]
    );
    // Mismatched bucket widths are refused, naming the file.
    bin()
        .arg("analyze")
        .arg(d.path().join("a.log"))
        .args(["--bucket", "5m", "--cube"])
        .arg(d.path().join("c.json"))
        .assert()
        .success();
    bin()
        .args(["analyze", "--from-cube"])
        .arg(d.path().join("a.json"))
        .arg(d.path().join("c.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("c.json"));
}

/// `simulate` with the behaviours and the realism options: one file per
/// node (gzip per file), the contract-2 truth, and the usage errors.
#[test]
fn simulate_nodes_behaviours_and_zones() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("lb");
    let truth = d.path().join("truth.json");
    bin()
        .args(["simulate", "--behaviours", "multi-endpoint,decoys"])
        .args([
            "--lines", "8000", "--nodes", "3", "--gzip", "--tz", "+05:30",
        ])
        .args(["--ua", "real", "--junk", "0.01", "-o"])
        .arg(&dir)
        .arg("--truth")
        .arg(&truth)
        .assert()
        .success();
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    assert_eq!(t["truth_version"], 2);
    assert_eq!(t["scenario"], "mixed");
    assert_eq!(t["tz"], "+05:30");
    assert_eq!(t["behaviours"][1], "decoys");
    let mut lines = 0;
    for (i, node) in t["nodes"].as_array().unwrap().iter().enumerate() {
        let gz = std::fs::read(dir.join(format!("node{}.log.gz", i + 1))).unwrap();
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut s).unwrap();
        let n = s.iter().filter(|b| **b == b'\n').count() as u64;
        assert_eq!(n, node["lines"].as_u64().unwrap());
        lines += n;
    }
    let requests = t["lines"].as_u64().unwrap() + t["junk_lines"].as_u64().unwrap();
    assert_eq!(lines, requests);
    // The analyzer reads the node files together.
    let r = run_json(&[dir.join("node1.log.gz").to_str().unwrap()]);
    assert_accounting(&r);
    for bad in [
        vec!["--scenario", "storm", "--behaviours", "restart"],
        vec!["--nodes", "2"],
        vec!["--nodes", "17", "-o", "x"],
        vec!["--junk", "0.9"],
        vec!["--tz", "+99:00"],
        vec!["--behaviours", "nonsense"],
    ] {
        bin().arg("simulate").args(&bad).assert().code(2);
    }
}

/// Junk and corrupt lines never read as requests: the analyzer parses
/// exactly the requests the truth counts, in every format.
#[test]
fn simulate_junk_is_never_a_request() {
    let d = tempfile::tempdir().unwrap();
    for fmt in ["combined", "common", "json", "logfmt"] {
        let truth = d.path().join(format!("{fmt}.json"));
        let log = simulate(
            d.path(),
            &format!("{fmt}.log"),
            &[
                "--scenario",
                "refresh-storm",
                "--lines",
                "12000",
                "--format",
                fmt,
                "--junk",
                "0.05",
                "--corrupt",
                "0.01",
                "--tz",
                "-03:00",
                "--truth",
                truth.to_str().unwrap(),
            ],
        );
        let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
        let n = |k: &str| t[k].as_u64().unwrap();
        let r = run_json(&[log.to_str().unwrap()]);
        assert_accounting(&r);
        assert_eq!(
            r["input"]["parsed"].as_u64().unwrap(),
            n("lines") - n("corrupted"),
            "{fmt}"
        );
        assert_eq!(
            r["input"]["lines"].as_u64().unwrap(),
            n("lines") + n("junk_lines"),
            "{fmt}"
        );
    }
}

/// The subcommands as `authstorm --help` lists them (without `help`).
fn subcommands() -> Vec<String> {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(String::from)
        .collect();
    assert!(names.len() >= 7, "{names:?} in\n{help}");
    names
}

/// The "Examples:" section of a help text: one command per entry, its
/// `\` continuation lines joined, comments left out.
fn examples(help: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut pending = String::new();
    let section = help
        .lines()
        .skip_while(|l| *l != "Examples:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty());
    for line in section {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    assert!(pending.is_empty(), "continued past the end: {pending}");
    commands
}

fn long_help(sub: &str) -> String {
    let out = bin().args([sub, "--help"]).output().unwrap();
    assert!(out.status.success(), "{sub} --help");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_subcommand_help_ends_with_examples() {
    for sub in subcommands() {
        let help = long_help(&sub);
        let found = examples(&help);
        assert!(
            (2..=4).contains(&found.len()),
            "{sub}: {} examples in\n{help}",
            found.len()
        );
        assert!(
            found.iter().all(|c| c.contains("authstorm ")),
            "{sub}: {found:?}"
        );
        // The section is the last one; -h stays short, without it.
        let tail = &help[help.find("\nExamples:\n").unwrap()..];
        assert!(!tail.contains("Options:"), "{sub}");
        let short = bin().args([sub.as_str(), "-h"]).output().unwrap();
        let short = String::from_utf8(short.stdout).unwrap();
        assert!(!short.contains("Examples:"), "{sub} -h:\n{short}");
        assert!(short.lines().count() < help.lines().count(), "{sub}");
    }
}

/// Every example of every `--help` runs as written: the simulate examples
/// first, in a directory that they fill with the logs the others read.
#[test]
fn help_examples_run() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    for dir in [
        ".local/share/bash-completion/completions",
        ".zfunc",
        ".config/fish/completions",
    ] {
        std::fs::create_dir_all(home.join(dir)).unwrap();
    }
    std::fs::copy(
        sample().join("authstorm.toml"),
        d.path().join("authstorm.toml"),
    )
    .unwrap();
    let exe = assert_cmd::cargo::cargo_bin("authstorm");
    let path = format!(
        "{}:{}",
        exe.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let has_man = std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut subs = subcommands();
    subs.sort_by_key(|s| s != "simulate");
    let mut helps: Vec<(String, String)> = subs.iter().map(|s| (s.clone(), long_help(s))).collect();
    let top = bin().arg("--help").output().unwrap();
    helps.push(("(top)".into(), String::from_utf8(top.stdout).unwrap()));
    let mut ran = 0;
    for (sub, help) in &helps {
        for command in examples(help) {
            if command.contains("| man ") && !has_man {
                continue;
            }
            let out = std::process::Command::new("bash")
                .args(["-o", "pipefail", "-c", &command])
                .current_dir(d.path())
                .env("PATH", &path)
                .env("HOME", &home)
                .env("NO_COLOR", "1")
                .env_remove("COLUMNS")
                .output()
                .unwrap();
            // `|| echo` hides an exit status, not the message of an error.
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && !err.contains("error"),
                "{sub}: `{command}` failed:\n{err}"
            );
            ran += 1;
        }
    }
    assert!(ran >= 20, "{ran} examples ran");
    // What the examples say they write.
    for f in [
        "access.log",
        "truth.json",
        "outage.json.gz",
        "logs/node3.log",
        "report.json",
        "postmortem/report.html",
        "requests.parquet",
        "hour.csv",
        "man/authstorm-analyze.1",
        "home/.zfunc/_authstorm",
    ] {
        let len = std::fs::metadata(d.path().join(f)).unwrap().len();
        assert!(len > 0, "{f}");
    }
}

#[test]
fn completions_for_every_shell() {
    let subs = subcommands();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("authstorm"), "{shell}");
        if shell == "bash" {
            for sub in &subs {
                assert!(script.contains(sub.as_str()), "bash script lacks {sub}");
            }
            assert!(script.contains("complete -F _authstorm"));
        }
    }
    bin()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("possible values"));
}

/// The lines of a page before its `.TH`: only the roff crate's definition
/// of the `Aq` string (a straight apostrophe), which every page begins with.
fn assert_starts_with_th(page: &str, title: &str) {
    let at = page
        .lines()
        .position(|l| l.starts_with(".TH "))
        .expect(".TH header");
    for l in page.lines().take(at) {
        assert!(
            l.starts_with(".ie \\n(.g .ds Aq") || l.starts_with(".el .ds Aq"),
            "before .TH: {l:?}"
        );
    }
    let th = page.lines().nth(at).unwrap();
    assert!(th.starts_with(&format!(".TH {title} 1 ")), "{th}");
}

#[test]
fn man_pages() {
    let out = bin().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert_starts_with_th(&page, "authstorm");
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH EXAMPLES",
        ".SH \"EXIT STATUS\"",
    ] {
        assert!(page.contains(section), "{section}");
    }
    assert!(
        page.contains("authstorm\\-analyze(1)"),
        "subcommands are listed"
    );

    // --out DIR: one page per subcommand, as packagers install them.
    let d = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["man", "--out"])
        .arg(d.path().join("man"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed = String::from_utf8(out.stdout).unwrap();
    let mut names = vec!["authstorm".to_string()];
    names.extend(subcommands().iter().map(|s| format!("authstorm-{s}")));
    assert_eq!(listed.lines().count(), names.len(), "{listed}");
    for name in names {
        let path = d.path().join("man").join(format!("{name}.1"));
        assert!(listed.contains(path.to_str().unwrap()), "{name}");
        let page = std::fs::read_to_string(&path).unwrap();
        assert_starts_with_th(&page, &name);
        assert!(page.contains(".SH EXAMPLES\n.nf\n"), "{name}");
    }
}

/// A config file that cannot be read: one line, naming it, exit 2
/// ("unusable arguments or config" in the README's exit codes).
#[test]
fn missing_config_reported_once() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nonexistent.toml");
    let log = d.path().join("a.log");
    std::fs::write(&log, format!("{LINE}\n")).unwrap();
    for sub in [vec!["analyze"], vec!["storms"], vec!["export", "--to", "-"]] {
        let out = bin()
            .args(&sub)
            .arg("--config")
            .arg(&missing)
            .arg(&log)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub:?}");
        assert!(out.stdout.is_empty(), "{sub:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{sub:?}: {err}");
        assert!(
            err.starts_with("authstorm: error: cannot read config file "),
            "{err}"
        );
        assert_eq!(err.matches("nonexistent.toml").count(), 1, "{err}");
        assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    }
    // Any file the library cannot open: its reason once too.
    let out = bin()
        .args(["analyze", "--from-cube"])
        .arg(d.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// `--prom FILE`: the run's metrics for a textfile collector; a failed run
/// keeps the time of the last success and says it failed.
#[test]
fn prom_textfile_for_scheduled_runs() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::common::simulate(dir.path(), "a.log", &["--lines", "20000"]);
    let prom = dir.path().join("authstorm.prom");
    let out = bin()
        .args(["storms", "--no-progress", "--prom"])
        .arg(&prom)
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&prom).unwrap();
    for want in [
        "# TYPE authstorm_last_success_timestamp_seconds gauge",
        "authstorm_last_run_success 1",
        "authstorm_lines{result=\"parsed\"} ",
        "authstorm_files{state=\"read\"} 1",
        "authstorm_episodes{kind=\"storm\"} 1",
        "authstorm_cohort_requests{app=\"acme-desktop\",",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    let cohorts = text
        .lines()
        .filter(|l| l.starts_with("authstorm_cohort_requests{"))
        .count();
    assert!((1..=10).contains(&cohorts), "{cohorts}");
    let last = text
        .lines()
        .find(|l| l.starts_with("authstorm_last_success_timestamp_seconds "))
        .unwrap()
        .to_string();
    // Nothing to analyse: exit 2, and the file says so, keeping `last`.
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let out = bin()
        .args(["storms", "--no-progress", "--prom"])
        .arg(&prom)
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.contains("authstorm_last_run_success 0"), "{text}");
    assert!(text.contains(&last), "{text}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// On a sparse log the timeline leaves out empty buckets, and its title
/// says so instead of claiming rows "every 1m".
#[test]
fn sparse_timeline_says_rows_are_left_out() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("sparse.log");
    let line = |t: &str| {
        format!("1.2.3.4 - - [{t} +0000] \"GET /v1/me HTTP/1.1\" 200 5 \"-\" \"acme/1.0\"\n")
    };
    let text: String = [
        "02/Mar/2026:08:00:01",
        "02/Mar/2026:10:00:01",
        "03/Mar/2026:12:00:01",
    ]
    .iter()
    .map(|t| line(t))
    .collect();
    std::fs::write(&f, text).unwrap();
    let out = bin()
        .args(["analyze", "--no-progress"])
        .arg(&f)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Timeline (rows of 1m, stretches without traffic left out, UTC)"),
        "{text}"
    );
    let dense = data("real/elastic-apache-combined/apache_logs.log");
    let out = bin()
        .args(["analyze", "--no-progress"])
        .arg(&dense)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Timeline (every") || text.contains("Timeline (rows of"),
        "{text}"
    );
}

/// At 80 columns the storm table wraps the culprit between its words:
/// a version range or an endpoint is never cut in two.
#[test]
fn narrow_storm_table_keeps_words_whole() {
    let d = tempfile::tempdir().unwrap();
    let log = crate::common::simulate(
        d.path(),
        "two.log",
        &["--scenario", "two-storms", "--lines", "80000"],
    );
    let out = bin()
        .env("COLUMNS", "80")
        .args(["storms", "--no-progress"])
        .arg(&log)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let table: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Event"))
        .collect();
    assert!(table.iter().all(|l| l.chars().count() <= 80), "{text}");
    // The culprit column: the text after the last run of spaces of each row.
    let words: Vec<&str> = table
        .iter()
        .skip(5)
        .flat_map(|l| {
            l.split_whitespace()
                .skip_while(|w| !w.contains(char::is_alphabetic) || w.len() < 3)
        })
        .collect();
    let joined = words.join(" ");
    for word in [
        "acme-desktop",
        "/v1/session",
        "acme-mobile",
        "expired",
        "invalid",
    ] {
        assert!(joined.contains(word), "{word} cut:\n{text}");
    }
    for w in table.iter().flat_map(|l| l.split_whitespace()) {
        assert!(
            !w.ends_with('.') && !w.ends_with('–') && !w.ends_with('-'),
            "{w:?} cut:\n{text}"
        );
    }
}
