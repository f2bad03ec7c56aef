//! The same simulated traffic in every format and compression gives the
//! same analysis; corrupt lines are counted, not lost.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::Value;

use crate::common::{assert_accounting, run_json, simulate};

fn core(r: &Value) -> (Value, Value, Value) {
    (
        r["totals"]["requests"].clone(),
        r["totals"]["by_status"].clone(),
        r["totals"]["health_checks"].clone(),
    )
}

/// Each storm's kind, start minute, end and culprit.
fn storms(r: &Value) -> Vec<Value> {
    r["storms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let c = &s["culprits"][0];
            serde_json::json!([
                s["kind"],
                s["start"].as_str().unwrap()[..16],
                s["end"],
                c["app"],
                c["versions"],
                c["token_state"],
                c["endpoint"]
            ])
        })
        .collect()
}

#[test]
fn every_format_same_counts() {
    let d = tempfile::tempdir().unwrap();
    let base = simulate(
        d.path(),
        "c.log",
        &["--lines", "8000", "--format", "combined"],
    );
    let want = run_json(&[base.to_str().unwrap()]);
    for (fmt, name) in [("json", "j.log"), ("logfmt", "l.log"), ("common", "m.log")] {
        let p = simulate(d.path(), name, &["--lines", "8000", "--format", fmt]);
        let r = run_json(&[p.to_str().unwrap()]);
        assert_accounting(&r);
        assert_eq!(r["input"]["files"][0]["format"], fmt);
        if fmt == "common" {
            // No user agent: health checks and apps cannot be told apart.
            assert_eq!(r["totals"]["by_status"], want["totals"]["by_status"]);
        } else {
            assert_eq!(core(&r), core(&want), "{fmt}");
            assert_eq!(storms(&r), storms(&want), "{fmt}: same storms");
            // Latency precision differs by format (seconds with 3 decimals
            // vs tenths of ms), so compare the counts. Per app and version
            // they are exact; between token states they may differ by a
            // few requests: a state carried over an answer that names none
            // depends on the order of a client's requests, which one-second
            // timestamps leave open within a second.
            let apps = |r: &Value| -> BTreeMap<String, (u64, u64)> {
                let mut m = BTreeMap::new();
                for c in r["cohorts"].as_array().unwrap() {
                    let e = m
                        .entry(format!("{} {}", c["app"], c["version"]))
                        .or_insert((0, 0));
                    e.0 += c["requests"].as_u64().unwrap();
                    e.1 += c["errors"].as_u64().unwrap();
                }
                m
            };
            assert_eq!(apps(&r), apps(&want), "{fmt}: same cohorts");
            let states = |r: &Value| -> BTreeMap<String, u64> {
                r["cohorts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        let k = format!("{} {} {}", c["app"], c["version"], c["token_state"]);
                        (k, c["requests"].as_u64().unwrap())
                    })
                    .collect()
            };
            let (a, b) = (states(&r), states(&want));
            for k in a.keys().chain(b.keys()) {
                let (x, y) = (
                    a.get(k).copied().unwrap_or(0),
                    b.get(k).copied().unwrap_or(0),
                );
                assert!(
                    x.abs_diff(y) <= 3 + x.max(y) / 200,
                    "{fmt}: {k}: {x} vs {y}"
                );
            }
        }
    }
}

#[test]
fn compressed_inputs_by_magic_not_name() {
    let d = tempfile::tempdir().unwrap();
    let plain = simulate(d.path(), "access.log", &["--lines", "6000"]);
    let text = std::fs::read(&plain).unwrap();
    let want = run_json(&[plain.to_str().unwrap()]);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    std::fs::write(d.path().join("access.log.3.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(
        d.path().join("misnamed.txt"),
        zstd::encode_all(&text[..], 3).unwrap(),
    )
    .unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&text).unwrap();
    std::fs::write(d.path().join("rotated.1"), bz.finish().unwrap()).unwrap();

    for (name, comp) in [
        ("access.log.3.gz", "gzip"),
        ("misnamed.txt", "zstd"),
        ("rotated.1", "bzip2"),
    ] {
        let r = run_json(&[d.path().join(name).to_str().unwrap()]);
        assert_eq!(r["input"]["files"][0]["compression"], comp);
        assert_eq!(r["totals"], want["totals"], "{name}");
        assert_eq!(r["cohorts"], want["cohorts"], "{name}");
        assert_eq!(r["timeline"], want["timeline"], "{name}");
    }
    // A directory of all four: four times the traffic, same clients.
    let all = run_json(&[d.path().to_str().unwrap()]);
    assert_eq!(
        all["totals"]["requests"].as_u64().unwrap(),
        4 * want["totals"]["requests"].as_u64().unwrap()
    );
    assert_eq!(all["totals"]["clients"], want["totals"]["clients"]);
}

#[test]
fn corrupt_lines_counted() {
    let d = tempfile::tempdir().unwrap();
    let truth = d.path().join("t.json");
    let p = simulate(
        d.path(),
        "c.log",
        &[
            "--lines",
            "8000",
            "--corrupt",
            "0.05",
            "--gzip",
            "--truth",
            truth.to_str().unwrap(),
        ],
    );
    let t: Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    let r = run_json(&[p.to_str().unwrap()]);
    assert_accounting(&r);
    assert_eq!(r["input"]["lines"], t["lines"]);
    assert_eq!(r["input"]["skipped"], t["corrupted"]);
    assert_eq!(
        r["totals"]["requests"].as_u64().unwrap() + t["corrupted"].as_u64().unwrap(),
        t["lines"].as_u64().unwrap()
    );
    let by: u64 = t["by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(r["totals"]["requests"].as_u64().unwrap(), by);
}

#[test]
fn user_defined_regex_and_mapping() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("custom.log");
    std::fs::write(
        &log,
        "2026-03-02T08:00:00Z|401|POST /oauth/token|app=desk v=4.2.1|E_EXP|12000\n\
         2026-03-02T08:00:01Z|200|GET /v1/session|app=desk v=4.10.0|OK|3000\n\
         not matching\n",
    )
    .unwrap();
    let cfg = d.path().join("c.toml");
    std::fs::write(
        &cfg,
        r#"
[format]
regex = '^(?P<ts>[^|]+)\|(?P<code>\d{3})\|(?P<verb>\S+) (?P<url>[^|]+)\|app=(?P<a>\S+) v=(?P<v>\S+)\|(?P<err>[^|]+)\|(?P<us>\d+)$'
[fields]
timestamp = "ts"
status = "code"
method = "verb"
path = "url"
client_app = "a"
client_version = "v"
token_state = "err"
latency = "us"
latency_unit = "us"
[token_states]
expired = ["E_EXP"]
"#,
    )
    .unwrap();
    let r = run_json(&[log.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_accounting(&r);
    assert_eq!(r["input"]["files"][0]["format"], "regex");
    assert_eq!(r["input"]["parsed"], 2);
    assert_eq!(r["input"]["skipped_by_reason"]["unparsable"], 1);
    let c = r["cohorts"].as_array().unwrap();
    let exp = c.iter().find(|c| c["version"] == "4.2.1").unwrap();
    assert_eq!(exp["token_state"], "expired");
    assert_eq!(exp["app"], "desk");
    assert_eq!(
        exp["p95_latency_ms"]
            .as_f64()
            .map(|v| (v - 12.0).abs() < 0.3),
        Some(true)
    );
    assert_eq!(
        c.iter().find(|c| c["version"] == "4.10.0").unwrap()["token_state"],
        "valid"
    );
}

/// The simulator's combined-with-extras layout, as an nginx `log_format`.
const SIM_LOG_FORMAT: &str = r#"log_format authstorm '$remote_addr - $remote_user [$time_local] "$request" '
                     '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
                     'request_time=$request_time user=$http_x_user_id device=$http_x_device_id '
                     'auth_error="$upstream_http_x_auth_error"';"#;

/// A pasted `log_format` that is the combined layout is read by the
/// built-in combined path, its extras under the template's variable names:
/// the same analysis as built-in detection, `[fields]` naming a variable
/// included; the same log read by a layout-equivalent template that is not
/// the combined shape (the general parser) gives it too.
#[test]
fn pasted_nginx_log_format_reads_like_builtin_combined() {
    let d = tempfile::tempdir().unwrap();
    let log = simulate(
        d.path(),
        "s.log",
        &["--lines", "20000", "--scenario", "storm"],
    );
    let log = log.to_str().unwrap();
    let builtin = run_json(&["--no-progress", log]);
    assert_eq!(builtin["input"]["files"][0]["format"], "combined");
    let write = |name: &str, text: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    // `[fields]` naming the template's variables: found under the keys
    // the line has them (`device=`, `user=`, `auth_error=`).
    let fields = "[fields]\nclient_id = \"http_x_device_id\"\nuser = \"http_x_user_id\"\n\
                  token_state = \"upstream_http_x_auth_error\"\n";
    let pasted = write(
        "nginx.toml",
        &format!("[format]\nnginx = '''{SIM_LOG_FORMAT}'''\n{fields}"),
    );
    // The same lines read by a template that is not the combined shape (a
    // variable where combined has the literal `-`): the general parser.
    let general = write(
        "general.toml",
        &format!(
            "[format]\nnginx = '''{}'''\n{fields}",
            SIM_LOG_FORMAT.replace("$remote_addr - ", "$remote_addr $x_ident ")
        ),
    );
    let a = run_json(&["--no-progress", log, "--config", &pasted]);
    assert_eq!(a["input"]["files"][0]["format"], "nginx");
    assert_accounting(&a);
    assert_eq!(core(&a), core(&builtin));
    assert_eq!(storms(&a), storms(&builtin));
    assert_eq!(a["totals"], builtin["totals"]);
    let g = run_json(&["--no-progress", log, "--config", &general]);
    assert_eq!(g["input"]["files"][0]["format"], "nginx");
    assert_eq!(g["totals"], builtin["totals"]);
    assert_eq!(storms(&g), storms(&builtin));
}
