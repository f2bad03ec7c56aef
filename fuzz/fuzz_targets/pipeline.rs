//! The whole scan on an arbitrary file: parse, classify, retry chains,
//! aggregate, then detection and the report, with small chunks.
#![no_main]
use std::io::Write;

use authstorm::analyze::{AnalyzeConfig, analyze};
use authstorm::scan::ScanOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile_dir() else { return };
    let path = dir.join("input.log");
    if std::fs::File::create(&path).and_then(|mut f| f.write_all(data)).is_err() {
        return;
    }
    let cfg = AnalyzeConfig {
        inputs: vec![path.to_string_lossy().into_owned()],
        scan: ScanOptions { chunk_size: 97, max_line: 512, ..ScanOptions::default() },
        threads: Some(1),
        detect: Default::default(),
    };
    if let Ok(a) = analyze(&cfg) {
        let i = &a.report.input;
        assert_eq!(i.lines, i.parsed + i.skipped, "every line parsed or skipped");
    }
});

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("authstorm-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
