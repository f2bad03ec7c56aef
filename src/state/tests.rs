use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;

fn line(i: usize) -> String {
    format!(
        "10.0.0.{} - - [02/Mar/2026:06:{:02}:{:02} +0000] \"GET /v1/me HTTP/1.1\" 200 12 \"-\" \"acme/1.0\"\n",
        i % 250,
        (i / 60) % 60,
        i % 60
    )
}

fn write(path: &Path, lines: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in lines {
        f.write_all(line(i).as_bytes()).unwrap();
    }
}

fn gzip_copy(from: &Path, to: &Path) {
    let data = std::fs::read(from).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&data).unwrap();
    gz.finish().unwrap();
}

/// The manifest after reading `paths` through their planned windows.
fn read_all(plans: &[FilePlan], m: &mut Manifest) {
    for p in plans {
        if let (Some(fp), Some(w), Some(start)) = (&p.fingerprint, p.window, &p.start) {
            let e = m.files.entry(fp.clone()).or_default();
            e.head.clone_from(&start.head);
            (e.prefix_len, e.prefix) = start.prefix();
            e.offset = w.end.unwrap_or_else(|| decompressed_len(&p.path).unwrap());
            e.seen_as.push(p.seen_as());
        }
    }
}

fn actions(plans: &[FilePlan]) -> Vec<(String, FileAction)> {
    plans
        .iter()
        .map(|p| {
            (
                p.path.file_name().unwrap().to_string_lossy().into_owned(),
                p.action.clone(),
            )
        })
        .collect()
}

#[test]
fn files_are_known_by_content_across_renames_compression_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    write(&log, 0..40);
    let mut m = Manifest::default();
    let paths: Vec<PathBuf> = vec![log.clone()];
    let plans = plan_files(&paths, &m);
    assert_eq!(actions(&plans), [("access.log".into(), FileAction::New)]);
    read_all(&plans, &mut m);

    // Nothing new; then appended, with a line still being written.
    assert_eq!(actions(&plan_files(&paths, &m))[0].1, FileAction::Unchanged);
    let size = std::fs::metadata(&log).unwrap().len();
    write(&log, 40..50);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"10.0.0.9 - - [02/Mar")
        .unwrap();
    let plans = plan_files(&paths, &m);
    assert_eq!(plans[0].action, FileAction::Appended { from: size });
    let w = plans[0].window.unwrap();
    assert_eq!(w.start, size);
    assert_eq!(
        w.end,
        Some(std::fs::metadata(&log).unwrap().len() - 20),
        "the partial line waits"
    );
    read_all(&plans, &mut m);

    // Rotated: renamed and compressed, with nothing new in it, beside a new
    // file too short to know yet.
    let rotated = dir.path().join("access.log.1.gz");
    gzip_copy(&log, &rotated);
    std::fs::remove_file(&log).unwrap();
    std::fs::write(&log, line(99)).unwrap();
    let paths = vec![log.clone(), rotated.clone()];
    let plans = plan_files(&paths, &m);
    assert_eq!(
        actions(&plans),
        [
            ("access.log".into(), FileAction::Waiting),
            // The partial line, completed in the copy, is what is new.
            (
                "access.log.1.gz".into(),
                FileAction::Appended {
                    from: w.end.unwrap()
                }
            )
        ]
    );
}

#[test]
fn a_shorter_file_is_read_again_and_two_copies_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    write(&a, 0..60);
    let mut m = Manifest::default();
    read_all(&plan_files(std::slice::from_ref(&a), &m), &mut m);
    // Truncated to its first 30 lines (same first KiB).
    let text = std::fs::read_to_string(&a).unwrap();
    let cut: String = text.lines().take(30).map(|l| format!("{l}\n")).collect();
    std::fs::write(&a, &cut).unwrap();
    let was = text.len() as u64;
    assert_eq!(
        plan_files(std::slice::from_ref(&a), &m)[0].action,
        FileAction::Truncated { was }
    );
    // A plain copy and a compressed copy of a new file: one is read.
    let b = dir.path().join("b.log");
    write(&b, 100..160);
    let bgz = dir.path().join("b.log.gz");
    gzip_copy(&b, &bgz);
    let plans = plan_files(&[b.clone(), bgz.clone()], &Manifest::default());
    let read: Vec<_> = plans.iter().filter(|p| p.reads()).collect();
    assert_eq!(read.len(), 1, "{:?}", actions(&plans));
    assert!(
        plans
            .iter()
            .any(|p| matches!(p.action, FileAction::Duplicate { .. }))
    );
}

#[test]
fn days_split_and_merge_back() {
    use crate::aggregate::Cube;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("two-days.log");
    let opts = crate::simulate::SimOptions {
        days: 2,
        lines: 8000,
        ..Default::default()
    };
    crate::simulate::simulate(&opts, &mut std::fs::File::create(&log).unwrap()).unwrap();
    let cfg = crate::analyze::AnalyzeConfig {
        inputs: vec![log.display().to_string()],
        scan: Default::default(),
        threads: Some(1),
        detect: Default::default(),
    };
    let cube = crate::analyze::analyze(&cfg).unwrap().cube;
    assert!(!cube.retry_clients.is_empty() && !cube.health.is_empty());
    let days = cube.split_days();
    assert!(days.len() >= 2, "{}", days.len());
    let mut merged = Cube::new(cube.bucket_seconds);
    for d in days.values() {
        merged.merge(d).unwrap();
    }
    assert_eq!(merged.requests, cube.requests);
    assert_eq!(merged.cells, cube.cells);
    assert_eq!(merged.chains, cube.chains);
    assert_eq!(merged.health, cube.health);
    assert_eq!(merged.retry_clients, cube.retry_clients);
    assert_eq!(merged.status, cube.status);
    assert_eq!(merged.token_states, cube.token_states);
    assert_eq!(merged.time_min, cube.time_min);
    assert_eq!(merged.time_max, cube.time_max);
}

#[test]
fn files_that_begin_alike_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    // Two nodes' logs that open with the same 40 lines (health checks at
    // the same seconds), then differ.
    let (a, b) = (dir.path().join("node1.log"), dir.path().join("node2.log"));
    write(&a, 0..40);
    write(&b, 0..40);
    write(&a, 100..140);
    write(&b, 200..240);
    let mut m = Manifest::default();
    let plans = plan_files(&[a.clone(), b.clone()], &m);
    assert_eq!(
        actions(&plans),
        [
            ("node1.log".into(), FileAction::New),
            ("node2.log".into(), FileAction::New)
        ]
    );
    assert_ne!(plans[0].fingerprint, plans[1].fingerprint);
    read_all(&plans[..1], &mut m);
    // node2 on a later night is new, not node1 shortened; node1 grown is
    // read on from its own offset.
    let size = std::fs::metadata(&a).unwrap().len();
    write(&a, 300..310);
    let plans = plan_files(&[a.clone(), b.clone()], &m);
    assert_eq!(
        actions(&plans),
        [
            ("node1.log".into(), FileAction::Appended { from: size }),
            ("node2.log".into(), FileAction::New)
        ]
    );
}
