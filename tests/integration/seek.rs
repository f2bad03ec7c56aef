//! `--since`/`--until` on a large time-ordered file seek instead of reading
//! it all, and give exactly the answer of reading it all (piped on stdin,
//! which cannot seek). Unordered files are read whole.

use serde_json::Value;

use crate::common::{assert_accounting, bin, simulate};

fn analyze(path: &std::path::Path, stdin: bool, window: &[&str]) -> Value {
    let mut c = bin();
    c.args(["analyze", "--no-progress", "--json", "-"])
        .args(window);
    if stdin {
        c.arg("-").pipe_stdin(path).expect("opens");
    } else {
        c.arg(path);
    }
    let out = c.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_accounting(&r);
    r
}

fn same_answer(a: &Value, b: &Value, what: &str) {
    for k in ["totals", "cohorts", "endpoints", "timeline", "storms"] {
        assert_eq!(a[k], b[k], "{what}: {k}");
    }
}

#[test]
fn time_window_seeks_in_ordered_files_only() {
    let d = tempfile::tempdir().unwrap();
    // 3 days, ~30 MB: larger than a chunk, so the seek path is taken.
    let p = simulate(d.path(), "big.log", &["--lines", "160000", "--days", "3"]);
    let len = std::fs::metadata(&p).unwrap().len();
    let windows: [&[&str]; 3] = [
        &["--since", "2026-03-04T11:00:00Z"],
        &["--until", "2026-03-02T09:00:00Z"],
        &[
            "--since",
            "2026-03-04T08:00:00Z",
            "--until",
            "2026-03-04T10:00:00Z",
        ],
    ];
    for w in windows {
        let seeked = analyze(&p, false, w);
        let read_all = analyze(&p, true, w);
        same_answer(&seeked, &read_all, &format!("{w:?}"));
        let unread = seeked["input"]["files"][0]["unread_bytes"]
            .as_u64()
            .unwrap_or(0);
        assert!(
            unread > len / 2,
            "{w:?}: only {unread} of {len} bytes skipped"
        );
        assert!(
            seeked["input"]["lines"].as_u64() < read_all["input"]["lines"].as_u64(),
            "{w:?}"
        );
    }

    // Swap the halves: probes see time going backwards, so nothing is skipped.
    let text = std::fs::read(&p).unwrap();
    let mid = text[text.len() / 2..]
        .iter()
        .position(|b| *b == b'\n')
        .unwrap()
        + text.len() / 2
        + 1;
    let mut swapped = text[mid..].to_vec();
    swapped.extend_from_slice(&text[..mid]);
    let q = d.path().join("swapped.log");
    std::fs::write(&q, swapped).unwrap();
    let w = windows[0];
    let r = analyze(&q, false, w);
    assert_eq!(r["input"]["files"][0]["unread_bytes"], Value::Null);
    same_answer(&r, &analyze(&q, true, w), "swapped");
}
