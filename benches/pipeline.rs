//! Micro benchmarks of the pipeline stages, and of what detection adds to
//! a scan: `cargo bench`. Whole-process benchmarks against peer tools are
//! in `scripts/bench.py`.

use std::hint::black_box;
use std::io::Write;

use authstorm::aggregate::Aggregate;
use authstorm::analyze::{AnalyzeConfig, analyze};
use authstorm::classify::Memo;
use authstorm::detect::{DetectConfig, detect};
use authstorm::event::{Event, FieldMap, Plans};
use authstorm::format::{LineParser, clf};
use authstorm::scan::ScanOptions;
use authstorm::simulate::{SimOptions, simulate};
use authstorm::time::TsCache;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn sample(lines: u64) -> (tempfile::TempDir, String, Vec<u8>) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("storm.log");
    let mut buf = Vec::new();
    simulate(
        &SimOptions {
            lines,
            ..SimOptions::default()
        },
        &mut buf,
    )
    .unwrap();
    std::fs::File::create(&p).unwrap().write_all(&buf).unwrap();
    (d, p.to_str().unwrap().to_string(), buf)
}

/// The scan's path for a combined line: cut into byte ranges, fields taken
/// by the plan for its keys, typed with the minute cache. (The simulator
/// writes no escapes, which the scan maps through an owned `RawEvent`.)
fn event<'l>(
    fields: &FieldMap,
    l: &'l str,
    plans: &mut Plans,
    ts: &mut TsCache,
) -> Option<Event<'l>> {
    let mut rec = clf::ClfRecord::empty(l);
    clf::parse_into(&mut rec).ok()?;
    fields.clf_fields(&rec, plans)?.normalize_with(ts).ok()
}

fn stages(c: &mut Criterion) {
    let (_d, path, text) = sample(100_000);
    let lines: Vec<&str> = std::str::from_utf8(&text).unwrap().lines().collect();
    let fields = FieldMap::default();
    let classifier = authstorm::classify::Classifier::default();

    let mut g = c.benchmark_group("per_line");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse_combined", |b| {
        b.iter(|| {
            let mut p = LineParser::Clf;
            lines.iter().filter(|l| p.parse(l).is_ok()).count()
        })
    });
    // The scan's path: a plan per sequence of keys, the minute cache.
    g.bench_function("parse_map", |b| {
        b.iter(|| {
            let (mut plans, mut ts) = (Plans::default(), TsCache::default());
            lines
                .iter()
                .filter(|l| event(&fields, l, &mut plans, &mut ts).is_some())
                .count()
        })
    });
    // The general mapping every format can use, for comparison.
    g.bench_function("parse_map_general", |b| {
        b.iter(|| {
            let mut p = LineParser::Clf;
            lines
                .iter()
                .filter_map(|l| p.parse(l).ok())
                .filter(|rec| fields.resolve(rec.record()).normalize().is_ok())
                .count()
        })
    });
    g.bench_function("parse_map_classify", |b| {
        b.iter(|| {
            let (mut plans, mut ts) = (Plans::default(), TsCache::default());
            let mut memo = Memo::default();
            let mut n = 0;
            for l in &lines {
                if let Some(e) = event(&fields, l, &mut plans, &mut ts) {
                    n += classifier.classify(&e, &mut memo).client & 1;
                }
            }
            black_box(n)
        })
    });
    g.bench_function("parse_map_classify_aggregate", |b| {
        b.iter(|| {
            let (mut plans, mut ts) = (Plans::default(), TsCache::default());
            let mut agg = Aggregate::new(60_000_000, &[]);
            let mut memo = Memo::default();
            for l in &lines {
                if let Some(e) = event(&fields, l, &mut plans, &mut ts) {
                    let c = classifier.classify(&e, &mut memo);
                    agg.add(&e, &c, false);
                }
            }
            black_box(agg.requests())
        })
    });
    g.finish();

    // What detection adds: the whole run (scan with retry chains, detection,
    // report) vs detection alone on the cube that run produced.
    let cfg = AnalyzeConfig {
        inputs: vec![path.clone()],
        scan: ScanOptions::default(),
        threads: Some(1),
        detect: DetectConfig::default(),
    };
    let cube = analyze(&cfg).unwrap().cube;
    let mut g = c.benchmark_group("analysis");
    g.sample_size(10);
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("analyze_1_thread", |b| {
        b.iter(|| black_box(analyze(&cfg).unwrap().report.totals.requests))
    });
    g.bench_function("detect_on_cube", |b| {
        b.iter(|| black_box(detect(&cube, &DetectConfig::default()).len()))
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
