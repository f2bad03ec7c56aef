//! Parallel equals sequential: any thread count and any chunking give the
//! same report, byte for byte.

use authstorm::analyze::{AnalyzeConfig, analyze};
use authstorm::scan::ScanOptions;
use proptest::prelude::*;

use crate::common::simulate;

fn report(path: &str, threads: usize, chunk: usize) -> String {
    try_report(path, threads, chunk).expect("analyzes")
}

/// The report as JSON, or the error (a sample of junk lines has no format).
fn try_report(path: &str, threads: usize, chunk: usize) -> Result<String, String> {
    report_with(path, threads, chunk, true)
}

fn report_with(path: &str, threads: usize, chunk: usize, mmap: bool) -> Result<String, String> {
    let cfg = AnalyzeConfig {
        inputs: vec![path.to_string()],
        scan: ScanOptions {
            chunk_size: chunk,
            progress: false,
            mmap,
            ..ScanOptions::default()
        },
        threads: Some(threads),
        detect: Default::default(),
    };
    let a = analyze(&cfg).map_err(|e| e.to_string())?;
    // The cube too: it holds what the report leaves out, such as each
    // retrying client's last app and version.
    Ok(serde_json::to_string(&(&a.report, &a.cube)).expect("serializes"))
}

#[test]
fn threads_and_chunks_do_not_change_results() {
    let d = tempfile::tempdir().unwrap();
    let plain = simulate(
        d.path(),
        "p.log",
        &["--lines", "30000", "--corrupt", "0.01"],
    );
    let gz = simulate(
        d.path(),
        "g.log.gz",
        &["--lines", "30000", "--corrupt", "0.01", "--gzip"],
    );
    for p in [plain, gz] {
        let p = p.to_str().unwrap();
        let want = report(p, 1, usize::MAX / 2);
        for (threads, chunk) in [(1, 4096), (2, 4096), (4, 50_000), (8, 1 << 20), (3, 777)] {
            assert_eq!(
                report(p, threads, chunk),
                want,
                "{p}: threads {threads}, chunk {chunk}"
            );
        }
    }
}

/// Chunks read through memory maps and chunks read with plain reads hold
/// the same lines, over-long ones included (a map leaves a line running
/// far past its chunk to the reader).
#[test]
fn mapped_and_read_chunks_agree() {
    let d = tempfile::tempdir().unwrap();
    let src = simulate(d.path(), "s.log", &["--lines", "20000"]);
    let text = std::fs::read_to_string(&src).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (at, len) in [(10, 70_000), (5_000, 300_000), (12_000, 65_000)] {
        lines.insert(at, format!("10.0.0.1 - - {}", "y".repeat(len)));
    }
    let p = d.path().join("long.log");
    std::fs::write(&p, lines.join("\n")).unwrap();
    let p = p.to_str().unwrap();
    let want = report(p, 1, usize::MAX / 2);
    assert!(want.contains("too_long"), "the long lines are counted");
    for chunk in [4096, 100_000, 1 << 20] {
        for mmap in [true, false] {
            assert_eq!(
                report_with(p, 2, chunk, mmap).unwrap(),
                want,
                "chunk {chunk}, mmap {mmap}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_lines_any_chunking(lines in proptest::collection::vec(line(), 1..120), chunk in 64usize..4096, threads in 1usize..5) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        std::fs::write(&p, lines.join("\n")).unwrap();
        let p = p.to_str().unwrap();
        prop_assert_eq!(try_report(p, threads, chunk), try_report(p, 1, usize::MAX / 2));
    }
}

/// Mostly valid combined lines, some broken ones.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0u8..255, 0u32..3600, prop::sample::select(vec![200u16, 401, 429, 503, 499]), prop::sample::select(vec!["4.2.0", "4.3.1", "5.0"]), prop::sample::select(vec!["-", "token_expired", "invalid_token"]))
            .prop_map(|(ip, s, st, v, e)| format!(
                r#"10.0.0.{ip} - - [02/Mar/2026:{:02}:{:02}:{:02} +0000] "GET /v1/session HTTP/1.1" {st} 10 "-" "acme/{v}" request_time=0.0{} auth_error="{e}""#,
                8 + s / 3600, (s / 60) % 60, s % 60, s % 9
            )),
        1 => "[ -~]{0,80}",
        1 => Just(String::new()),
    ]
}
