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
    let cfg = AnalyzeConfig {
        inputs: vec![path.to_string()],
        scan: ScanOptions {
            chunk_size: chunk,
            progress: false,
            ..ScanOptions::default()
        },
        threads: Some(threads),
        detect: Default::default(),
    };
    let a = analyze(&cfg).map_err(|e| e.to_string())?;
    Ok(serde_json::to_string(&a.report).expect("serializes"))
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
