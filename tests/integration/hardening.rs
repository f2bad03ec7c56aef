//! Broken and hostile input through the binary: keep working, lose nothing
//! silently, say where the problem is.

use std::io::Write;

use predicates::prelude::*;

use crate::common::{assert_accounting, bin, run_json, simulate};

#[test]
fn truncated_compressed_files_are_analyzed_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let plain = simulate(d.path(), "p.log", &["--lines", "20000"]);
    let text = std::fs::read(&plain).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    let gz = gz.finish().unwrap();
    let zs = zstd::encode_all(&text[..], 3).unwrap();
    for (name, data) in [("cut.log.gz", &gz), ("cut.log.zst", &zs)] {
        let p = d.path().join(name);
        std::fs::write(&p, &data[..data.len() * 2 / 3]).unwrap();
        let r = run_json(&[p.to_str().unwrap()]);
        assert_accounting(&r);
        let f = &r["input"]["files"][0];
        let parsed = f["parsed"].as_u64().unwrap();
        assert!(
            parsed > 5_000,
            "{name}: the readable part is analyzed ({parsed})"
        );
        assert!(
            f["error"].as_str().unwrap().contains("ended early"),
            "{name}: {}",
            f["error"]
        );
        // Not strict: success. Strict: exit 3, naming the file.
        bin().arg("analyze").arg(&p).assert().success();
        bin()
            .arg("analyze")
            .arg(&p)
            .arg("--strict")
            .assert()
            .code(3)
            .stderr(predicate::str::contains("--strict"));
    }
    bin()
        .arg("analyze")
        .arg(&plain)
        .arg("--strict")
        .assert()
        .success();
}

#[test]
fn empty_files_symlink_loops_and_odd_clocks() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("logs");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("empty.log"), b"").unwrap();
    std::fs::write(dir.join("blank.log"), b"\n\n\n").unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("sub/loop")).unwrap();
    let line = |ts: &str| format!(r#"10.0.0.1 - - [{ts}] "GET /a HTTP/1.1" 200 5 "-" "curl/8.0""#);
    std::fs::write(
        dir.join("clocks.log"),
        [
            line("02/Mar/2026:08:00:00 +0000"),
            line("01/Jan/1970:00:00:01 +0000"),
            line("01/Jan/2999:00:00:00 +0000"),
            line("02/Mar/2026:07:59:00 +0000"),
        ]
        .join("\n"),
    )
    .unwrap();
    let r = run_json(&[dir.to_str().unwrap()]);
    assert_accounting(&r);
    assert!(
        r["input"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["error"].as_str().unwrap().contains("loop"))
    );
    assert_eq!(r["input"]["skipped_by_reason"]["implausible_timestamp"], 2);
    assert_eq!(r["input"]["skipped_by_reason"]["empty"], 3);
    assert_eq!(r["totals"]["requests"], 2);
    assert_eq!(
        r["input"]["time_range"]["start"], "2026-03-02T07:59:00Z",
        "out of order is fine"
    );
    assert_eq!(
        r["timeline"]["buckets"].as_array().unwrap().len(),
        2,
        "no decades-long axis"
    );
}

#[test]
fn a_100_mb_line_is_skipped_not_held() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("huge.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let ok = r#"10.0.0.1 - - [02/Mar/2026:08:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8.0""#;
    for _ in 0..100 {
        writeln!(f, "{ok}").unwrap();
    }
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        f.write_all(&chunk).unwrap();
    }
    writeln!(f).unwrap();
    for _ in 0..100 {
        writeln!(f, "{ok}").unwrap();
    }
    drop(f);
    let r = run_json(&[p.to_str().unwrap()]);
    assert_accounting(&r);
    assert_eq!(r["input"]["lines"], 201);
    assert_eq!(r["input"]["skipped_by_reason"]["too_long"], 1);
    assert_eq!(r["totals"]["requests"], 200);
    let ex = &r["input"]["files"][0]["skip_examples"][0];
    assert_eq!(ex["line"], 101);
    assert!(ex["text"].as_str().unwrap().len() < 1000);

    // The same through a compressed stream.
    let gz = d.path().join("huge.log.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut std::fs::File::open(&p).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    let r = run_json(&[gz.to_str().unwrap()]);
    assert_eq!(r["input"]["lines"], 201);
    assert_eq!(r["totals"]["requests"], 200);
}

#[test]
fn secrets_never_reach_an_output() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("secrets.log");
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEiLCJleHAiOjE3NzI0MzkyMDB9.c2lnbmF0dXJl";
    let mut f = std::fs::File::create(&log).unwrap();
    for i in 0..30 {
        writeln!(
            f,
            r#"10.9.8.{i} - - [02/Mar/2026:08:00:{:02} +0000] "GET /cb?code=SECRETCODE1&access_token={jwt}&state=ok HTTP/1.1" 401 5 "-" "acme/1.0" user=alice-{i} authorization="Bearer {jwt}" auth_error="token_expired""#,
            i % 60
        )
        .unwrap();
    }
    // A broken line full of secrets ends up in the skip examples.
    writeln!(
        f,
        "garbage password=hunter2 api_key=AKIASECRET token={jwt} from 10.9.8.77"
    )
    .unwrap();
    drop(f);
    let out = d.path().join("pm");
    let run = |extra: &[&str]| {
        let o = bin()
            .arg("analyze")
            .arg(&log)
            .args(["--json", "-", "--by", "client_ip,user,user_agent"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success());
        String::from_utf8(o.stdout).unwrap()
    };
    let json = run(&[]);
    bin()
        .arg("report")
        .arg(&log)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let tables =
        String::from_utf8(bin().arg("analyze").arg(&log).output().unwrap().stdout).unwrap();
    let export = d.path().join("e.csv");
    bin()
        .arg("export")
        .arg(&log)
        .arg("--to")
        .arg(&export)
        .assert()
        .success();
    let mut everything = vec![
        json.clone(),
        tables,
        std::fs::read_to_string(&export).unwrap(),
    ];
    for name in [
        "report.html",
        "report.md",
        "cohorts.csv",
        "timeline.csv",
        "storms.json",
        "timeline.svg",
        "cohorts.svg",
    ] {
        everything.push(std::fs::read_to_string(out.join(name)).unwrap());
    }
    for text in &everything {
        for secret in [
            "SECRETCODE1",
            "eyJhbGciOiJIUzI1NiJ9",
            "hunter2",
            "AKIASECRET",
            "c2lnbmF0dXJl",
        ] {
            assert!(!text.contains(secret), "{secret} leaked");
        }
    }
    assert!(json.contains("password=[REDACTED]"), "redaction is visible");
    // The JWT was still used: its exp claim says expired.
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(r["totals"]["by_token_state"]["expired"].as_u64().unwrap() > 0);

    let anon = run(&["--anonymize-ip", "--hash-clients", "--hash-key", "42"]);
    assert!(!anon.contains("10.9.8.7") && anon.contains("10.9.8.0"));
    assert!(!anon.contains("alice-"), "users hashed");
    assert_eq!(
        anon,
        run(&["--anonymize-ip", "--hash-clients", "--hash-key", "42"]),
        "a given key is stable"
    );
}

/// A file deleted after the run started is reported by name; the other
/// inputs are analyzed. A FIFO read first holds the run at a known point
/// (one worker reads inputs in order) while the file is deleted.
#[cfg(unix)]
#[test]
fn a_file_that_disappears_mid_run_is_reported() {
    use std::process::{Command as Std, Stdio};
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("live.pipe");
    assert!(Std::new("mkfifo").arg(&fifo).status().unwrap().success());
    let victim = simulate(d.path(), "victim.log", &["--lines", "2000"]);
    let other = simulate(d.path(), "other.log", &["--lines", "3000"]);
    let bin_path = assert_cmd::cargo::cargo_bin("authstorm");
    let child = Std::new(bin_path)
        .args(["analyze", "-j1", "--no-progress", "--json", "-"])
        .args([&fifo, &victim, &other])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening blocks until authstorm has opened the pipe: the run is on.
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::fs::remove_file(&victim).unwrap();
    let text = std::fs::read(&other).unwrap();
    let sent = &text[..text.len() / 3];
    w.write_all(sent).unwrap();
    drop(w);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_accounting(&r);
    let files = r["input"]["files"].as_array().unwrap();
    let gone = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("victim.log"))
        .expect("the deleted file is listed");
    assert!(
        gone["error"].as_str().unwrap().contains("No such file"),
        "{gone}"
    );
    assert_eq!(gone["lines"], 0);
    let n = |name: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap()["lines"]
            .as_u64()
            .unwrap()
    };
    // Every line sent down the pipe is counted, the cut last one included.
    let sent_lines =
        sent.iter().filter(|b| **b == b'\n').count() + usize::from(!sent.ends_with(b"\n"));
    assert_eq!(n("live.pipe"), sent_lines as u64);
    assert!(n("other.log") > 0);
}

/// Peak resident memory of a finished child, in MiB.
#[cfg(unix)]
fn wait_peak_rss_mib(child: std::process::Child) -> (std::process::ExitStatus, f64) {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(got, pid, "wait4");
    std::mem::forget(child); // already reaped
    (
        std::process::ExitStatus::from_raw(status),
        ru.ru_maxrss as f64 / 1024.0,
    )
}

/// A million distinct clients (one request each) stay within the bound the
/// README documents: memory follows clients and buckets, with a small
/// constant per client.
#[cfg(unix)]
#[test]
fn a_million_distinct_clients_stay_within_the_memory_bound() {
    use std::process::{Command as Std, Stdio};
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("fleet.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    for i in 0..1_000_000u32 {
        writeln!(
            f,
            r#"10.{}.{}.{} - - [02/Mar/2026:08:{:02}:{:02} +0000] "GET /v1/session HTTP/1.1" 401 5 "-" "acme/4.2.{}" device=d-{i}"#,
            i >> 16,
            (i >> 8) & 255,
            i & 255,
            (i / 16_667) % 60,
            (i / 278) % 60,
            i % 4
        )
        .unwrap();
    }
    drop(f);
    let child = Std::new(assert_cmd::cargo::cargo_bin("authstorm"))
        .args(["analyze", "--no-progress", "--json"])
        .arg(d.path().join("r.json"))
        .arg(&p)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (status, rss) = wait_peak_rss_mib(child);
    assert!(status.success());
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("r.json")).unwrap()).unwrap();
    assert_accounting(&r);
    assert_eq!(r["totals"]["clients"], 1_000_000);
    assert!(rss < 400.0, "peak RSS {rss:.0} MiB for 1M distinct clients");
    eprintln!("1M distinct clients: peak RSS {rss:.0} MiB");
}
