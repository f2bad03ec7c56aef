//! `authstorm compare A B`: the culprit cohort of a storm first against a
//! normal period, nothing raised against itself, cubes and logs alike.

use serde_json::Value;

use crate::common::{bin, simulate};

fn compare(args: &[&str]) -> Value {
    let out = bin()
        .args(["compare", "--no-progress", "--json", "-"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_storm_cohort_comes_first_and_noise_is_not_news() {
    let dir = tempfile::tempdir().unwrap();
    let before = simulate(
        dir.path(),
        "before.log",
        &["--scenario", "normal", "--lines", "40000"],
    );
    let after = simulate(
        dir.path(),
        "after.log",
        &["--scenario", "storm", "--lines", "40000"],
    );
    let (b, a) = (before.to_str().unwrap(), after.to_str().unwrap());
    let c = compare(&[b, a]);
    assert_eq!(c["schema"], "authstorm/compare/v1");
    let first = &c["cohorts"][0];
    assert_eq!(first["app"], "acme-desktop", "{first}");
    assert_eq!(first["token_state"], "expired", "{first}");
    assert_eq!(first["significant"], true);
    assert!(first["b"]["resends"].as_u64().unwrap() > 1000, "{first}");
    // The same period against itself: no change is news.
    let same = compare(&[b, b]);
    for list in ["cohorts", "endpoints"] {
        for row in same[list].as_array().unwrap() {
            assert_eq!(row["significant"], false, "{row}");
            assert_eq!(row["presence"], "both");
        }
    }
    // A cube of the period before reads as the logs it came from.
    let cube = dir.path().join("before.json");
    let out = bin()
        .args(["analyze", "--no-progress", b, "--cube"])
        .arg(&cube)
        .output()
        .unwrap();
    assert!(out.status.success());
    let from_cube = compare(&[cube.to_str().unwrap(), a]);
    assert_eq!(from_cube["cohorts"], c["cohorts"]);
    assert_eq!(from_cube["endpoints"], c["endpoints"]);
    // And the tables say it for people.
    let out = bin()
        .args(["compare", "--no-progress", "--top", "3", b, a])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("acme-desktop"), "{text}");
    assert!(text.contains("cohorts, most changed first"), "{text}");
    // And the plot of the largest changes, the culprit's bar first, drawn
    // inside its area with labels apart.
    let plot = dir.path().join("changes.svg");
    let out = bin()
        .args(["compare", "--no-progress", "--top", "6", "--plot"])
        .arg(&plot)
        .args([b, a])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert_eq!(crate::plots::problems(&svg), Vec::<String>::new());
    let texts = crate::plots::texts_of(&svg);
    let first = texts
        .iter()
        .position(|t| *t == c["cohorts"][0]["name"])
        .unwrap_or_else(|| panic!("{texts:?}"));
    let second = texts
        .iter()
        .position(|t| t.starts_with(c["cohorts"][1]["name"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("{texts:?}"));
    assert!(first < second, "{texts:?}");
}

#[test]
fn an_empty_side_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let after = simulate(dir.path(), "after.log", &["--lines", "5000"]);
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let out = bin()
        .args(["compare", "--no-progress"])
        .arg(&empty)
        .arg(&after)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
