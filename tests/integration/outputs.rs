//! Postmortem outputs: plots, HTML, Markdown, CSV, JSON and Parquet.

use std::io::Write;
use std::path::Path;

use crate::common::{bin, simulate};

fn decode_png(p: &Path) -> (u32, u32, Vec<u8>, png::ColorType) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type)
}

/// Share of pixels in rows `y0..y1` that are not white.
fn ink(w: u32, buf: &[u8], ct: png::ColorType, y0: u32, y1: u32) -> f64 {
    let ch = match ct {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        _ => 1,
    };
    let row = w as usize * ch;
    let mut dark = 0;
    let mut all = 0;
    for y in y0..y1 {
        for px in buf[y as usize * row..(y as usize + 1) * row].chunks(ch) {
            all += 1;
            if px.iter().take(3).any(|v| *v < 200) {
                dark += 1;
            }
        }
    }
    dark as f64 / all as f64
}

#[test]
fn report_directory_is_complete_and_valid() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(d.path(), "storm.log", &["--lines", "40000"]);
    let out = d.path().join("pm");
    bin()
        .arg("report")
        .arg(&log)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    for name in ["timeline", "cohorts", "retries"] {
        let (w, h, buf, ct) = decode_png(&out.join(format!("{name}.png")));
        assert_eq!((w, h), (1400, 900), "{name}");
        assert!(ink(w, &buf, ct, 0, h) > 0.02, "{name} is not blank");
        // The title is text: it must have been drawn from the embedded font.
        assert!(
            ink(w, &buf, ct, 0, 30) > 0.01,
            "{name}: title text rendered"
        );
        let svg = std::fs::read_to_string(out.join(format!("{name}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("SVG parses");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(
            doc.descendants().any(|n| n.has_tag_name("text")),
            "{name}.svg has text"
        );
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("Storms, surges and outages") && html.contains("acme-desktop 4.2.0–4.2.3")
    );
    assert_eq!(html.matches("<svg").count(), 3, "plots inline");
    for external in [
        "<script",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
        "<link",
    ] {
        assert!(
            !html.contains(external),
            "report.html references {external}"
        );
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for target in md.split("](").skip(1).map(|s| &s[..s.find(')').unwrap()]) {
        assert!(out.join(target).exists(), "report.md links {target}");
    }
    let storms: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("storms.json")).unwrap()).unwrap();
    assert_eq!(storms["storms"].as_array().unwrap().len(), 1);
    assert_eq!(storms["storms"][0]["kind"], "storm");
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    assert!(csv.starts_with("start,requests,clients"));
    assert!(csv.lines().count() > 300);

    // Parquet reads back with the rows of the cube.
    let cube_json = d.path().join("cube.json");
    bin()
        .arg("analyze")
        .arg(&log)
        .arg("--cube")
        .arg(&cube_json)
        .assert()
        .success();
    let cube: authstorm::aggregate::Cube =
        serde_json::from_slice(&std::fs::read(&cube_json).unwrap()).unwrap();
    use polars::prelude::*;
    let df = ParquetReader::new(std::fs::File::open(out.join("cube.parquet")).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height(), cube.cells.len());
    let req: u64 = df.column("requests").unwrap().u64().unwrap().sum().unwrap();
    assert_eq!(req, cube.cells.values().map(|c| c.requests).sum::<u64>());
    assert!(matches!(
        df.column("bucket_start").unwrap().dtype(),
        DataType::Datetime(_, _)
    ));
}

#[test]
fn hostile_strings_are_escaped_in_every_output() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("evil.log");
    let mut f = std::fs::File::create(&log).unwrap();
    // User agents that are garbage name no app of their own (app `other`),
    // so the hostile app names come in a mapped `app` field too.
    for i in 0..50 {
        writeln!(
            f,
            r#"10.0.0.{} - - [02/Mar/2026:08:{:02}:00 +0000] "GET /x/<img src=x onerror=alert(1)> HTTP/1.1" 200 5 "-" "<script>alert(1)</script>/1.0" auth_error="-" app="<script>alert(1)</script>""#,
            i % 7,
            i % 60
        )
        .unwrap();
        writeln!(f, r#"10.0.1.{} - - [02/Mar/2026:08:{:02}:00 +0000] "GET /y HTTP/1.1" 200 5 "-" "=HYPERLINK(\"http://evil\")/2 | *bold* [x](http://evil)" auth_error="-" app="=HYPERLINK(\"http://evil\") | *bold* [x](http://evil)""#, i % 5, i % 60).unwrap();
    }
    drop(f);
    let out = d.path().join("pm");
    bin()
        .arg("report")
        .arg(&log)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script>alert"), "no script from the log");
    assert!(!html.contains("<img src=x"), "no markup from the log");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "shown as text");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("<script>") && md.contains("&lt;script&gt;"));
    assert!(
        !md.contains("[x](http://evil)"),
        "no live links from the log"
    );
    let csv = std::fs::read_to_string(out.join("cohorts.csv")).unwrap();
    assert!(
        !csv.lines()
            .any(|l| l.starts_with('=') || l.starts_with("\"=")),
        "formula guarded:\n{csv}"
    );
    assert!(csv.contains("'=HYPERLINK"));
    for name in ["timeline", "cohorts", "retries"] {
        let svg = std::fs::read_to_string(out.join(format!("{name}.svg"))).unwrap();
        roxmltree::Document::parse(&svg).expect("SVG still parses with hostile labels");
        assert!(!svg.contains("<script"));
    }
}

#[test]
fn export_events_parquet_and_csv() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(
        d.path(),
        "s.log.gz",
        &["--lines", "20000", "--gzip", "--corrupt", "0.01"],
    );
    let r = crate::common::run_json(&[log.to_str().unwrap()]);
    let requests = r["totals"]["requests"].as_u64().unwrap();
    let retries: u64 = r["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["retries"].as_u64().unwrap())
        .sum();
    assert!(retries > 0);

    let pq = d.path().join("events.parquet");
    bin()
        .arg("export")
        .arg(&log)
        .arg("--to")
        .arg(&pq)
        .assert()
        .success();
    use polars::prelude::*;
    let df = ParquetReader::new(std::fs::File::open(&pq).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height() as u64, requests);
    assert_eq!(
        df.column("retry").unwrap().bool().unwrap().sum().unwrap() as u64,
        retries
    );
    let lines = df.column("line").unwrap().u64().unwrap();
    assert!(
        lines
            .into_no_null_iter()
            .zip(lines.into_no_null_iter().skip(1))
            .all(|(a, b)| a < b),
        "file order"
    );

    let csv = d.path().join("events.csv");
    bin()
        .arg("export")
        .arg(&log)
        .arg("--to")
        .arg(&csv)
        .assert()
        .success();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count() as u64, requests + 1);
    // Line numbers point at the file's lines.
    let mut bytes = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(std::fs::File::open(&log).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let raw = String::from_utf8_lossy(&bytes);
    let raw: Vec<&str> = raw.lines().collect();
    for row in text.lines().skip(1).step_by(997) {
        let cols: Vec<&str> = row.split(',').collect();
        let line: usize = cols[15].parse().unwrap();
        assert!(
            raw[line - 1].contains(&format!("\" {} ", cols[8])),
            "line {line}: {row}"
        );
    }
}

/// The timeline's baseline is the one detection used: the run's `[detect]`
/// settings, not the defaults.
#[test]
fn timeline_baseline_follows_the_detect_settings() {
    use authstorm::analyze::{AnalyzeConfig, analyze};
    use authstorm::detect::DetectConfig;
    use authstorm::output::plot::{PlotInput, Stack, svg_string};

    let d = tempfile::tempdir().unwrap();
    let log = simulate(d.path(), "s.log", &["--lines", "20000"]);
    let cfg = AnalyzeConfig {
        inputs: vec![log.to_str().unwrap().into()],
        scan: authstorm::scan::ScanOptions {
            progress: false,
            ..Default::default()
        },
        threads: Some(1),
        detect: DetectConfig::default(),
    };
    let a = analyze(&cfg).unwrap();
    let draw = |detect: &DetectConfig| {
        svg_string(
            "timeline",
            &PlotInput {
                report: &a.report,
                cube: &a.cube,
                detect,
                tz: Default::default(),
                stack: Stack::TokenState,
            },
        )
        .unwrap()
    };
    let default = draw(&DetectConfig::default());
    assert_eq!(default, draw(&DetectConfig::default()), "deterministic");
    let short = DetectConfig {
        baseline_buckets: 4,
        ..DetectConfig::default()
    };
    assert_ne!(default, draw(&short), "the baseline ignores [detect]");
}

/// Two storms: the postmortem's title names both, in order, and its event
/// timeline is in time order.
#[test]
fn two_storms_are_both_named_and_events_in_order() {
    let d = tempfile::tempdir().unwrap();
    let log = crate::common::simulate(
        d.path(),
        "two.log",
        &["--scenario", "two-storms", "--lines", "80000"],
    );
    let out = d.path().join("pm");
    let r = crate::common::bin()
        .args(["report", "--no-progress", "--out"])
        .arg(&out)
        .arg(&log)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let title = md.lines().next().unwrap();
    assert!(title.starts_with("# 2 retry storms from"), "{title}");
    let (a, b) = (
        title.find("acme-desktop").unwrap(),
        title.find("acme-mobile").unwrap(),
    );
    assert!(a < b, "{title}");
    let times: Vec<&str> = md
        .split("## Event timeline")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("- **"))
        .map(|l| &l[..5])
        .collect();
    assert!(times.len() >= 8, "{times:?}");
    assert!(times.windows(2).all(|p| p[0] <= p[1]), "{times:?}");
}
