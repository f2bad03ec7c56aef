//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub fn bin() -> Command {
    let mut c = Command::cargo_bin("authstorm").expect("binary builds");
    c.env_remove("COLUMNS").env("NO_COLOR", "1");
    c
}

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

pub fn run_json(args: &[&str]) -> Value {
    let out = bin()
        .args(["analyze", "--json", "-"])
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "authstorm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON report")
}

/// Writes a simulated log and returns its path.
pub fn simulate(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let p = dir.join(name);
    let out: Output = bin()
        .args(["simulate", "-o"])
        .arg(&p)
        .args(args)
        .output()
        .expect("simulate runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

/// `lines == parsed + skipped`, for the total and every file.
pub fn assert_accounting(r: &Value) {
    let i = &r["input"];
    let n = |v: &Value| v.as_u64().expect("count");
    assert_eq!(
        n(&i["lines"]),
        n(&i["parsed"]) + n(&i["skipped"]),
        "input totals"
    );
    let mut reasons = 0;
    for (_, v) in i["skipped_by_reason"].as_object().expect("map") {
        reasons += n(v);
    }
    assert_eq!(reasons, n(&i["skipped"]));
    for f in i["files"].as_array().expect("files") {
        assert_eq!(
            n(&f["lines"]),
            n(&f["parsed"]) + n(&f["skipped"]),
            "{}",
            f["path"]
        );
    }
    let by_status: u64 = r["totals"]["by_status"]
        .as_object()
        .expect("map")
        .values()
        .map(n)
        .sum();
    assert!(by_status <= n(&r["totals"]["requests"]));
    assert_eq!(
        n(&r["totals"]["requests"]),
        n(&i["parsed"]) - n(&i["filtered"])
    );
}
