use super::*;

use std::path::Path;

fn data(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The first 200 lines, as the scan samples them.
fn first_lines(text: &str) -> Vec<&str> {
    text.lines().take(200).collect()
}

fn of_file(rel: &str) -> Option<NotAccessLog> {
    let text = data(rel);
    let name = rel.rsplit('/').next();
    recognise(name, &first_lines(&text))
}

#[test]
fn the_directory_samples() {
    let dir = "dirs/auth-lb";
    for (file, want) in [
        ("error.log", Some(NotAccessLog::NginxError)),
        ("ssl_error_log", Some(NotAccessLog::ApacheError)),
        ("LICENSE", Some(NotAccessLog::TextDocument)),
        ("README.md", Some(NotAccessLog::TextDocument)),
        ("SHA256SUMS", Some(NotAccessLog::Checksums)),
        ("access.log", None),
    ] {
        assert_eq!(of_file(&format!("{dir}/{file}")), want, "{file}");
    }
    assert_eq!(
        of_file("dirs/PROVENANCE.md"),
        Some(NotAccessLog::TextDocument)
    );
}

#[test]
fn by_content_without_a_name() {
    let dir = "dirs/auth-lb";
    for (file, want) in [
        ("error.log", NotAccessLog::NginxError),
        ("ssl_error_log", NotAccessLog::ApacheError),
        ("LICENSE", NotAccessLog::TextDocument),
        ("README.md", NotAccessLog::TextDocument),
        ("SHA256SUMS", NotAccessLog::Checksums),
    ] {
        let text = data(&format!("{dir}/{file}"));
        assert_eq!(recognise(None, &first_lines(&text)), Some(want), "{file}");
    }
}

#[test]
fn the_licences_and_notes_of_the_real_samples() {
    for f in [
        "real/elastic-apache-combined/LICENSE-elastic-examples.txt",
        "real/elastic-apache-combined/PROVENANCE.md",
        "real/iis-w3c/LICENSE-lnav.txt",
        "real/iis-w3c/PROVENANCE.md",
        "real/json-access-small/PROVENANCE.md",
        "real/lnav-logfmt/PROVENANCE.md",
    ] {
        assert_eq!(of_file(f), Some(NotAccessLog::TextDocument), "{f}");
    }
}

#[test]
fn checksum_shapes() {
    let sha = "9421762da402a12e13f7aed31da578658c0c6e1ff3141648dfafb13d51d903d0";
    let md5 = "d41d8cd98f00b204e9800998ecf8427e";
    for (name, lines) in [
        // sha256sum -b, a lone digest in a .sha256 file, md5sum, BSD tags.
        ("SHA256SUMS", vec![format!("{sha} *access.log.gz")]),
        ("access.log.gz.sha256", vec![sha.to_string()]),
        ("access.log.md5", vec![format!("{md5}  access.log")]),
        (
            "CHECKSUMS",
            vec![
                format!("SHA256 (access.log) = {sha}"),
                format!("MD5 (access.log) = {md5}"),
            ],
        ),
    ] {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(
            recognise(Some(name), &refs),
            Some(NotAccessLog::Checksums),
            "{name}"
        );
    }
    // Hex of no digest's length is not a checksum.
    assert_eq!(recognise(Some("x.sha256"), &["abc123  access.log"]), None);
}

/// Lines of every access-log format the tool reads: the simulator's
/// (combined with extras, common, JSON, logfmt) and the README's examples.
const ACCESS_LINES: &[&str] = &[
    r#"10.0.0.1 - - [02/Mar/2026:08:00:00 +0000] "GET /v1/session HTTP/1.1" 401 53 "-" "acme-desktop/4.2.1" request_time=0.004 auth_error="token_expired""#,
    r#"10.0.0.1 - - [02/Mar/2026:08:00:00 +0000] "GET /v1/session HTTP/1.1" 200 12 "-" "acme-desktop/4.2.1 (Windows)" request_time=0.010 user=u-1 device=d-1 auth_error="-""#,
    r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
    r#"{"time":"2026-03-02T08:00:00.120Z","method":"GET","path":"/v1/session","status":401,"auth_error":"token_expired"}"#,
    r#"time=2026-03-02T08:00:00Z method=GET path=/v1/session status=200 duration_ms=3.1"#,
    "#Software: Microsoft Internet Information Services 8.5",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status time-taken",
    "2015-01-13 00:32:17 10.0.0.2 GET /api/login - 443 - 10.0.0.9 Mozilla/5.0+(Windows+NT+6.1) 200 15",
];

#[test]
fn access_lines_are_never_recognised() {
    for line in ACCESS_LINES {
        for name in [
            None,
            Some("access.log"),
            Some("README.md"),
            Some("error.log"),
        ] {
            assert_eq!(recognise(name, &[line]), None, "{name:?}: {line}");
        }
    }
    // All of them in one file, under names that suggest otherwise.
    for name in [None, Some("LICENSE"), Some("SHA256SUMS"), Some("error_log")] {
        assert_eq!(recognise(name, ACCESS_LINES), None, "{name:?}");
    }
}

#[test]
fn the_real_access_logs_are_never_recognised() {
    for f in [
        "real/elastic-apache-combined/apache_logs.log",
        "real/iis-w3c/u_ex150113.log",
        "real/json-access-small/caddy_access.jsonl",
        "real/json-access-small/caddy_compose_mixed.log",
        "real/json-access-small/cloudflare_logpush.jsonl",
        "real/lnav-logfmt/virtual_kubelet_logfmt.log",
        "real/zanbil-nginx-combined/shop_access.log",
        "dirs/auth-lb/access.log",
    ] {
        let text = data(f);
        assert_eq!(of_file(f), None, "{f}");
        // Nor under a misleading name.
        for name in ["README.md", "error.log", "SHA256SUMS"] {
            assert_eq!(
                recognise(Some(name), &first_lines(&text)),
                None,
                "{f} as {name}"
            );
        }
    }
}

#[test]
fn damaged_access_logs_are_not_recognised() {
    // Cut short, garbled, or interleaved with other programs' lines (the
    // simulator's `--corrupt` and `--junk` kinds): still access logs, whose
    // failures the scan reports.
    let lines = [
        "10.1.2.3 - - [02/Mar/2026:08:1",
        r#"10.0.0.1 - - [02/Mar/2026:08:00:00 +0000] "GET /v1/sess"#,
        r#""Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)""#,
        r#"{"time":"2026-03-02T08:00:00.120Z","method":"GET","path":"/v1/se"#,
        "time=2026-03-02T08:00:00Z ip",
        "<<<< not a log line >>>>",
        "\u{FFFD}\u{FFFD}garbage",
        "2026/03/02 08:41:07 [error] 2211#2211: *99182 upstream timed out (110: Connection timed out) while reading response header from upstream",
        "Mar  2 08:41:07 auth-lb-1 systemd[1]: Started Session 412 of user root.",
        "\tat com.acme.auth.TokenService.refresh(TokenService.java:214)",
        "==> /var/log/nginx/access.log <==",
    ];
    for name in [None, Some("access.log"), Some("access.log.1")] {
        assert_eq!(recognise(name, &lines), None, "{name:?}");
    }
    // Truncated lines alone, even under a document's name.
    let cut: Vec<&str> = ACCESS_LINES.iter().map(|l| &l[..l.len() / 2]).collect();
    for name in [None, Some("notes.txt")] {
        assert_eq!(recognise(name, &cut), None, "{name:?}");
    }
}

#[test]
fn names_are_hints_never_enough() {
    // Nothing to go on but the name.
    assert_eq!(recognise(Some("README.md"), &["x"]), None);
    assert_eq!(recognise(Some("error.log"), &["12 34 56"]), None);
    assert_eq!(recognise(Some("SHA256SUMS"), &["-"]), None);
    assert_eq!(recognise(Some("LICENSE"), &[]), None);
    // A name lowers the share needed: an error log a third of whose lines
    // are nginx's, the rest a backend's stack trace.
    let mixed = [
        "2024/05/01 10:00:00 [error] 1234#0: *5 FastCGI sent in stderr: \"PHP message: PHP Fatal error\"",
        "PHP Stack trace:",
        "PHP   1. {main}() /srv/index.php:0",
        "2024/05/01 10:00:01 [error] 1234#0: *6 FastCGI sent in stderr: \"PHP message: PHP Fatal error\"",
        "PHP Stack trace:",
        "PHP   1. {main}() /srv/index.php:0",
    ];
    assert_eq!(recognise(None, &mixed), None);
    assert_eq!(
        recognise(Some("error.log"), &mixed),
        Some(NotAccessLog::NginxError)
    );
}

#[test]
fn two_words_are_not_a_document() {
    // The CLI's test of an unrecognised file: reported as such, not skipped.
    assert_eq!(recognise(Some("junk.txt"), &["hello", "world"]), None);
    assert_eq!(
        recognise(None, &["Logs of the auth load balancer, as found."]),
        Some(NotAccessLog::TextDocument)
    );
}

#[test]
fn reasons_serialize_as_their_names() {
    for k in [
        NotAccessLog::NginxError,
        NotAccessLog::ApacheError,
        NotAccessLog::Checksums,
        NotAccessLog::TextDocument,
    ] {
        assert_eq!(
            serde_json::to_value(k).unwrap(),
            serde_json::Value::String(k.name().into())
        );
        assert_eq!(k.to_string(), k.name());
    }
}
