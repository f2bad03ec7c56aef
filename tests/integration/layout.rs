//! One client across files: the same requests stored differently (spread
//! round-robin over three files as a load balancer spreads them over
//! nodes, split by hour as a rotation does, compressed, read on one thread)
//! give the same cube and the same storms: retry chains follow a client
//! across files in time order.

use std::io::Write;
use std::path::{Path, PathBuf};

use authstorm::analyze::{AnalyzeConfig, analyze};
use authstorm::scan::ScanOptions;

use crate::common::simulate;

fn run(inputs: &[PathBuf], threads: usize) -> String {
    let cfg = AnalyzeConfig {
        inputs: inputs
            .iter()
            .map(|p| p.to_str().unwrap().to_string())
            .collect(),
        scan: ScanOptions {
            progress: false,
            // Small chunks, so that chunk edges fall inside every file.
            chunk_size: 64 << 10,
            ..ScanOptions::default()
        },
        threads: Some(threads),
        detect: Default::default(),
    };
    let a = analyze(&cfg).expect("analyzes");
    let storms: Vec<_> = a
        .report
        .storms
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
    serde_json::to_string_pretty(&(storms, &a.cube)).unwrap()
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write(dir: &Path, name: &str, lines: &[&String], gzip: bool) -> PathBuf {
    let p = dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    let mut w: Box<dyn Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(
            f,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(std::io::BufWriter::new(f))
    };
    for l in lines {
        writeln!(w, "{l}").unwrap();
    }
    drop(w);
    p
}

/// `[02/Mar/2026:08:40:16 +0000]` → `08`.
fn hour(line: &str) -> String {
    let at = line.find('[').expect("a CLF time") + 13;
    line[at..at + 2].to_string()
}

fn check_layouts(log: &Path, what: &str) {
    let d = tempfile::tempdir().unwrap();
    let all = lines(log);
    let want = run(&[log.to_path_buf()], 2);
    assert!(want.contains("\"kind\""), "{what}: the log has a finding");
    let mut nodes = Vec::new();
    for n in 0..3 {
        let mine: Vec<&String> = all.iter().skip(n).step_by(3).collect();
        nodes.push(write(d.path(), &format!("node{n}.log"), &mine, n == 1));
    }
    // Listed in an order that is not time order.
    nodes.reverse();
    assert_eq!(run(&nodes, 2), want, "{what}: round-robin over three nodes");
    assert_eq!(run(&nodes, 1), want, "{what}: three nodes, one thread");
    let mut hours: std::collections::BTreeMap<String, Vec<&String>> = Default::default();
    for l in &all {
        hours.entry(hour(l)).or_default().push(l);
    }
    let rotated: Vec<PathBuf> = hours
        .iter()
        .rev()
        .map(|(h, ls)| write(d.path(), &format!("access.log.{h}.gz"), ls, true))
        .collect();
    assert!(rotated.len() > 3);
    assert_eq!(run(&rotated, 2), want, "{what}: split by hour, gzipped");
}

#[test]
fn storms_and_retries_do_not_depend_on_the_file_layout() {
    let d = tempfile::tempdir().unwrap();
    let storm = simulate(
        d.path(),
        "storm.log",
        &["--lines", "40000", "--scenario", "two-storms"],
    );
    check_layouts(&storm, "two storms");
    let outage = simulate(
        d.path(),
        "outage.log",
        &["--lines", "20000", "--scenario", "outage"],
    );
    check_layouts(&outage, "outage");
}
