//! Each format against real public logs (tests/data/real, see each
//! PROVENANCE.md). Expected counts are computed independently here (an
//! awk-style field split, no authstorm code) and cross-checked with the
//! GoAccess figures recorded in the provenance notes.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{assert_accounting, data, run_json};

fn statuses(r: &Value) -> BTreeMap<String, u64> {
    r["totals"]["by_status"]
        .as_object()
        .expect("by_status")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("n")))
        .collect()
}

/// awk -F'"' '{split($3, a, " "); print a[1]}' | sort | uniq -c
fn awk_status_counts(text: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        if let Some(s) = line
            .split('"')
            .nth(2)
            .and_then(|f| f.split_whitespace().next())
        {
            *m.entry(s.to_string()).or_default() += 1;
        }
    }
    m
}

fn expect(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn elastic_apache_combined() {
    let p = data("real/elastic-apache-combined/apache_logs.log");
    let r = run_json(&[p.to_str().unwrap()]);
    assert_accounting(&r);
    assert_eq!(r["input"]["files"][0]["format"], "combined");
    assert_eq!(r["input"]["lines"], 10_000);
    assert_eq!(
        r["input"]["parsed"], 10_000,
        "the truncated line 8899 parses, as in GoAccess"
    );
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(statuses(&r), awk_status_counts(&text));
    // GoAccess reference (PROVENANCE.md).
    assert_eq!(
        statuses(&r),
        expect(&[
            ("200", 9126),
            ("206", 45),
            ("301", 164),
            ("304", 445),
            ("403", 2),
            ("404", 213),
            ("416", 2),
            ("500", 3)
        ])
    );
    // Earliest and latest stamps (the file is not in time order; its first
    // and last lines are 10:05:03 and 21:05:15).
    assert_eq!(r["input"]["time_range"]["start"], "2015-05-17T10:05:00Z");
    assert_eq!(r["input"]["time_range"]["end"], "2015-05-20T21:05:59Z");
}

#[test]
fn zanbil_nginx_with_extra_field() {
    let p = data("real/zanbil-nginx-combined/shop_access.log");
    let r = run_json(&[p.to_str().unwrap()]);
    assert_accounting(&r);
    assert_eq!(r["input"]["parsed"], 1000);
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(statuses(&r), awk_status_counts(&text));
    assert_eq!(
        statuses(&r),
        expect(&[
            ("200", 938),
            ("301", 11),
            ("302", 20),
            ("304", 7),
            ("404", 24)
        ])
    );
    // +0330 converts to UTC: local 03:56 is 00:26Z.
    assert_eq!(r["input"]["time_range"]["start"], "2019-01-22T00:26:14Z");
}

#[test]
fn iis_w3c() {
    let p = data("real/iis-w3c/u_ex150113.log");
    let r = run_json(&[p.to_str().unwrap()]);
    assert_accounting(&r);
    assert_eq!(r["input"]["files"][0]["format"], "w3c");
    assert_eq!(r["input"]["lines"], 254);
    assert_eq!(r["input"]["parsed"], 210);
    assert_eq!(
        r["input"]["skipped_by_reason"]["comment"], 44,
        "11 directive blocks of 4 lines"
    );
    assert_eq!(statuses(&r), expect(&[("200", 8), ("404", 202)]));
    // Independent count of status column 12 on non-directive lines.
    let text = std::fs::read_to_string(&p).unwrap();
    let mut m = BTreeMap::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        *m.entry(l.split(' ').nth(11).unwrap().to_string())
            .or_insert(0u64) += 1;
    }
    assert_eq!(statuses(&r), m);
}

#[test]
fn caddy_and_cloudflare_json() {
    let r = run_json(&[data("real/json-access-small/caddy_access.jsonl")
        .to_str()
        .unwrap()]);
    assert_accounting(&r);
    // Caddy's own log, recognised as such (it was read as plain JSON).
    assert_eq!(r["input"]["files"][0]["format"], "caddy");
    assert_eq!(statuses(&r), expect(&[("200", 4)]));
    let fields = r["input"]["files"][0]["fields"].as_array().unwrap();
    assert!(
        fields.contains(&Value::from("user_agent")),
        "array-valued User-Agent header"
    );
    assert!(fields.contains(&Value::from("latency")));

    let r = run_json(&[data("real/json-access-small/cloudflare_logpush.jsonl")
        .to_str()
        .unwrap()]);
    assert_eq!(statuses(&r), expect(&[("301", 1)]));
    assert_eq!(r["input"]["time_range"]["start"], "2022-10-30T00:00:02Z");

    // docker compose output: 4 access entries among 39 lines.
    let r = run_json(&[data("real/json-access-small/caddy_compose_mixed.log")
        .to_str()
        .unwrap()]);
    assert_accounting(&r);
    assert_eq!(r["input"]["lines"], 39);
    assert_eq!(statuses(&r), expect(&[("200", 1), ("304", 3)]));
    assert_eq!(r["input"]["skipped_by_reason"]["not_a_request"], 35);
}

#[test]
fn logfmt_application_log_is_not_requests() {
    // Real logfmt, but a kubelet log: no line is an HTTP request, so
    // nothing is analysed, and that is said, not reported as "none found".
    crate::common::bin()
        .arg("storms")
        .arg(data("real/lnav-logfmt/virtual_kubelet_logfmt.log"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "nothing analysed: 5 lines read; 5 skipped",
        ))
        .stderr(predicates::str::contains("not_a_request"));
}

#[test]
fn whole_directory_mixed_formats() {
    let r = run_json(&[data("real").to_str().unwrap()]);
    assert_accounting(&r);
    let files = r["input"]["files"].as_array().unwrap();
    let logs: Vec<_> = files
        .iter()
        .filter(|f| {
            f["path"].as_str().unwrap().contains(".log")
                || f["path"].as_str().unwrap().ends_with(".jsonl")
        })
        .collect();
    assert_eq!(logs.len(), 7);
    // The licences and provenance notes beside them are set aside, unread.
    for f in files.iter().filter(|f| !logs.contains(f)) {
        assert_eq!(f["not_access_log"], "text document", "{}", f["path"]);
        assert!(f["error"].is_null());
    }
    assert_eq!(files.len(), 7 + 10);
    // Every request from every log is counted once.
    assert_eq!(r["totals"]["requests"], 10_000 + 1000 + 210 + 4 + 4 + 1);
}
