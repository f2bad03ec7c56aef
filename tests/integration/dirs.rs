//! A log directory as it is found: error logs, a README, a licence and
//! checksums next to the access log are listed as not access logs, not
//! failures; a damaged access log still is one.

use predicates::prelude::*;

use crate::common::{assert_accounting, bin, data, run_json, simulate};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn by_name<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["input"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(&format!("/{name}")))
        .unwrap_or_else(|| panic!("{name} listed"))
}

#[test]
fn the_access_log_is_analysed_the_rest_listed() {
    let dir = data("dirs/auth-lb");
    let dir = dir.to_str().unwrap();
    let r = run_json(&["--strict", dir]);
    assert_accounting(&r);
    assert_eq!(r["totals"]["requests"], 60);
    let log = by_name(&r, "access.log");
    assert_eq!(log["format"], "combined");
    assert!(log.get("not_access_log").is_none());
    for (name, why) in [
        ("error.log", "nginx error log"),
        ("ssl_error_log", "Apache error log"),
        ("LICENSE", "text document"),
        ("README.md", "text document"),
        ("SHA256SUMS", "checksum list"),
    ] {
        let f = by_name(&r, name);
        assert_eq!(f["not_access_log"], why, "{name}");
        assert!(f["error"].is_null(), "{name}");
        assert_eq!(f["lines"], 0, "{name}: not read");
        assert!(f["format"].is_null(), "{name}");
    }
    assert_eq!(r["input"]["skipped"], 0);
    // The tables say so too, and name no problem.
    let out = bin().args(["analyze", "--strict", dir]).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("combined ×1, not an access log ×5"), "{s}");
    assert!(s.contains("Not access logs (skipped)"), "{s}");
    assert!(
        s.contains("error.log: not an access log (nginx error log)"),
        "{s}"
    );
    assert!(
        s.contains("SHA256SUMS: not an access log (checksum list)"),
        "{s}"
    );
    assert!(!s.contains("Input problems"), "{s}");
    assert!(!s.contains("--format"), "{s}");
}

#[test]
fn a_damaged_access_log_is_still_a_failure() {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&data("dirs/auth-lb"), d.path());
    // Cut short mid-line, then garbled: no format reads it.
    let text = std::fs::read_to_string(d.path().join("access.log")).unwrap();
    let cut: String = text.lines().map(|l| format!("{}\n", &l[..30])).collect();
    std::fs::write(d.path().join("access.log.1"), cut).unwrap();
    let dir = d.path().to_str().unwrap();
    let r = run_json(&[dir]);
    let f = by_name(&r, "access.log.1");
    assert!(f.get("not_access_log").is_none());
    assert!(f["error"].as_str().unwrap().contains("--format"));
    bin()
        .args(["analyze", "--strict", dir])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("1 inputs with errors"));

    // Readable, but some lines damaged: skipped lines, a --strict failure.
    std::fs::remove_file(d.path().join("access.log.1")).unwrap();
    let mut some: Vec<String> = text.lines().map(String::from).collect();
    some[3].truncate(25);
    some[7] = "\u{1}\u{2}garbage".into();
    std::fs::write(d.path().join("access.log.1"), some.join("\n") + "\n").unwrap();
    let r = run_json(&[dir]);
    assert_eq!(by_name(&r, "access.log.1")["skipped"], 2);
    bin().args(["analyze", "--strict", dir]).assert().code(3);
}

#[test]
fn simulated_logs_are_never_set_aside() {
    // Every format the simulator writes, clean and with heavy corruption
    // and other programs' lines, under names that suggest otherwise.
    let d = tempfile::tempdir().unwrap();
    for fmt in ["combined", "common", "json", "logfmt"] {
        for (name, extra) in [
            ("README.md", vec![]),
            ("error.log", vec!["--corrupt", "0.3", "--junk", "0.3"]),
        ] {
            let name = format!("{fmt}-{name}");
            let mut args = vec!["--lines", "300", "--format", fmt];
            args.extend(extra);
            let p = simulate(d.path(), &name, &args);
            let out = bin()
                .args(["analyze", "--json", "-"])
                .arg(&p)
                .output()
                .unwrap();
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let f = &r["input"]["files"][0];
            assert!(f.get("not_access_log").is_none(), "{name}");
            assert_eq!(f["format"], fmt, "{name}");
        }
    }
}

#[test]
fn only_other_files_is_nothing_analysed() {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&data("dirs/auth-lb"), d.path());
    std::fs::remove_file(d.path().join("access.log")).unwrap();
    bin()
        .arg("analyze")
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "nothing analysed: no access log among the inputs: 5 files are not access logs",
        ))
        .stderr(predicate::str::contains("README.md: text document"));
}
