//! Every format's sample files, as data: `tests/data/formats/<format>/`
//! holds logs (`*.log`, `*.log.gz`...) each with `<file>.expected.json`
//! beside it:
//!
//! ```json
//! {"format": "combined", "lines": 3, "parsed": 2, "skipped": {"unparsable": 1},
//!  "events": [
//!    {"line": 1, "fields": {"timestamp": "...", "status": "401", ...},
//!     "request": {"time": "2026-03-02T08:00:01Z", "endpoint": "GET /v1/me", ...}},
//!    {"line": 3, "skipped": "unparsable"}]}
//! ```
//!
//! The file must be detected as its folder's format; its line accounting
//! must match the analysis (`analyze --json`); every non-blank line has an
//! entry, and each line's normalized fields (`formats test --json`) must be
//! exactly those listed, and what it became exactly `request`.
//!
//! A new sample's expectations can be drafted with `AUTHSTORM_DRAFT=1
//! cargo test format_cases`: it writes the missing `.expected.json` files
//! from what the code does now (never over an existing one). A draft is
//! checked by hand against the format's documentation before it is kept.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{bin, data, run_json};

fn cases() -> Vec<(String, PathBuf)> {
    let root = data("formats");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).expect("tests/data/formats") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let format = dir.file_name().unwrap().to_string_lossy().into_owned();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".expected.json") || name.ends_with(".toml") || name.ends_with(".md")
            {
                continue;
            }
            out.push((format.clone(), f));
        }
    }
    out.sort();
    out
}

fn expected_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".expected.json");
    PathBuf::from(p)
}

/// The config beside a case (`<folder>/authstorm.toml`), for formats a
/// user defines.
fn config(log: &Path) -> Option<PathBuf> {
    let c = log.parent().unwrap().join("authstorm.toml");
    c.exists().then_some(c)
}

/// What the code does with `log` now, in the expected files' shape.
fn actual(log: &Path) -> Value {
    let path = log.to_str().unwrap();
    let mut args = vec!["--no-progress", path];
    let cfg = config(log);
    if let Some(c) = &cfg {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    let r = run_json(&args);
    let file = &r["input"]["files"][0];
    let mut cmd = bin();
    cmd.args(["formats", "test", path, "--lines", "100000", "--json"]);
    if let Some(c) = &cfg {
        cmd.arg("--config").arg(c);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{path}: formats test failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    let events: Vec<Value> = t["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let mut e = json!({"line": l["number"]});
            if !l["skipped"].is_null() {
                e["skipped"] = l["skipped"].clone();
                return e;
            }
            let fields: serde_json::Map<String, Value> = l["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["field"].as_str().unwrap().to_string(), p["value"].clone()))
                .collect();
            e["fields"] = Value::Object(fields);
            e["request"] = l["request"].clone();
            e
        })
        .collect();
    json!({
        "format": file["format"],
        "lines": file["lines"],
        "parsed": file["parsed"],
        "skipped": file["skipped_by_reason"],
        "events": events,
    })
}

#[test]
fn every_sample_reads_as_expected() {
    let cases = cases();
    assert!(!cases.is_empty(), "no cases in tests/data/formats");
    let draft = std::env::var_os("AUTHSTORM_DRAFT").is_some();
    let mut failures = Vec::new();
    for (format, log) in &cases {
        let exp_path = expected_path(log);
        let got = actual(log);
        if !exp_path.exists() {
            if draft {
                let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
                std::fs::write(&exp_path, text).unwrap();
                eprintln!("drafted {} (check it by hand)", exp_path.display());
            } else {
                failures.push(format!("{}: no {}", log.display(), exp_path.display()));
            }
            continue;
        }
        let exp: Value = serde_json::from_str(&std::fs::read_to_string(&exp_path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", exp_path.display()));
        let name = log.display();
        if got["format"] != json!(format) || exp["format"] != json!(format) {
            failures.push(format!(
                "{name}: read as {}, expected {} (the folder's format)",
                got["format"], exp["format"]
            ));
        }
        for k in ["lines", "parsed", "skipped"] {
            if got[k] != exp[k] {
                failures.push(format!("{name}: {k} {} != expected {}", got[k], exp[k]));
            }
        }
        let ge = got["events"].as_array().unwrap();
        let ee = exp["events"].as_array().unwrap();
        let lines = |v: &[Value]| v.iter().map(|e| e["line"].clone()).collect::<Vec<_>>();
        if lines(ge) != lines(ee) {
            failures.push(format!(
                "{name}: lines inspected {:?} != expected {:?}",
                lines(ge),
                lines(ee)
            ));
            continue;
        }
        for (g, e) in ge.iter().zip(ee) {
            if g != e {
                failures.push(format!(
                    "{name} line {}:\n  got      {g}\n  expected {e}",
                    e["line"]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every format of the registry has sample files (a format without them is
/// untested).
#[test]
fn every_format_has_samples() {
    let out = bin().args(["formats"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .filter_map(|l| l.split("  ").next())
        .filter(|n| !n.contains(' ') && !n.contains('`'))
        .collect();
    assert!(names.contains(&"combined"), "{names:?}");
    let have: Vec<String> = cases().into_iter().map(|(f, _)| f).collect();
    for n in names {
        assert!(
            have.iter().any(|h| h == n),
            "format {n}: no sample in tests/data/formats/{n}/"
        );
    }
}

/// A file no format reads: `formats test` names the closest format and
/// where each line departs from it, and fails (exit 2).
#[test]
fn an_unreadable_file_is_explained() {
    let path = data("unreadable/broken.log");
    let out = bin().args(["formats", "test"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "format    none",
        "closest   combined, 0 of 3 lines",
        "line 1: no closing quote after the request's protocol, at column 66",
        "line 2: expected `[` (the time) at column 17",
        "line 3: the line ends at column 22 before the time",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
}

/// The README's format table, and docs/formats.md's with the examples,
/// have a row for every format of the registry.
#[test]
fn the_readme_lists_every_format() {
    let read = |p: &str| {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(p)).unwrap()
    };
    let (readme, docs) = (read("README.md"), read("docs/formats.md"));
    let out = bin().args(["formats"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for name in text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .filter_map(|l| l.split("  ").next())
        .filter(|n| !n.contains(' ') && !n.contains('`'))
    {
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "README.md: no row for format {name}"
        );
        assert!(
            docs.contains(&format!("| `{name}` |")),
            "docs/formats.md: no row for format {name}"
        );
    }
}
