use super::*;
use crate::event::FieldMap;
use crate::format::FormatKind;
use crate::format::record::Record;

const FIELDS: &str = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken";

fn row(cols: &[&str]) -> String {
    cols.join("\t")
}

fn line() -> String {
    row(&[
        "2026-03-02",
        "08:00:01",
        "FRA56-P1",
        "512",
        "203.0.113.9",
        "POST",
        "d111111abcdef8.cloudfront.net",
        "/oauth/token",
        "429",
        "-",
        "acme-desktop/4.2.1%2520(Windows%2520NT%252010.0)",
        "grant_type=refresh_token&client_id=acme%2520desktop",
        "-",
        "LimitExceeded",
        "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
        "auth.example.com",
        "https",
        "389",
        "0.012",
    ])
}

#[test]
fn header_then_rows() {
    let mut p = CloudFrontParser::default();
    assert_eq!(
        p.parse_line(&line()).err(),
        Some(SkipReason::Unparsable),
        "no header yet"
    );
    assert_eq!(
        p.parse_line("#Version: 1.0").err(),
        Some(SkipReason::Comment)
    );
    assert_eq!(p.parse_line(FIELDS).err(), Some(SkipReason::Comment));
    let l = line();
    let r = p.parse_line(&l).unwrap();
    assert_eq!(r.get("timestamp").as_deref(), Some("2026-03-02 08:00:01"));
    assert_eq!(
        r.get("cs(User-Agent)").as_deref(),
        Some("acme-desktop/4.2.1 (Windows NT 10.0)"),
        "decoded twice"
    );
    assert_eq!(
        r.get("path").as_deref(),
        Some("/oauth/token?grant_type=refresh_token&client_id=acme%20desktop"),
        "the query decoded once: as the client sent it"
    );
    assert_eq!(r.get("cs(Referer)"), None, "`-` is empty");

    let map = FieldMap::default()
        .with_sources(FormatKind::from_name("cloudfront").unwrap().def().sources);
    let raw = map.resolve(&r);
    let e = raw.normalize().unwrap();
    assert_eq!(e.latency_ms, Some(12.0), "time-taken is in seconds");
    assert_eq!(e.status, Some(429));
    assert_eq!(e.client_ip, Some("203.0.113.9"));
    assert_eq!(
        e.path,
        Some("/oauth/token?grant_type=refresh_token&client_id=acme%20desktop")
    );

    // A wrong number of columns is a counted skip.
    let short = l.rsplit_once('\t').unwrap().0;
    assert_eq!(p.parse_line(short).err(), Some(SkipReason::Unparsable));
    // A stray TAB at the end (as in AWS's own sample) is not a column.
    assert!(p.parse_line(&format!("{l}\t")).is_ok());
}

#[test]
fn fields_can_change_mid_file() {
    let mut p = CloudFrontParser::default();
    p.parse_line(FIELDS).unwrap_err();
    assert!(p.parse_line(&line()).is_ok());
    p.parse_line("#Fields: date time c-ip cs-method cs-uri-stem sc-status x-edge-result-type")
        .unwrap_err();
    let r = p
        .parse_line("2026-03-02\t08:00:02\t2001:db8::7\tGET\t/v1/me\t502\tError")
        .unwrap();
    assert_eq!(r.get("c-ip").as_deref(), Some("2001:db8::7"));
    assert_eq!(r.get("path").as_deref(), Some("/v1/me"));
    assert!(
        p.parse_line(&line()).is_err(),
        "the old layout no longer fits"
    );
}

#[test]
fn decoding_is_safe() {
    assert_eq!(decode("100%", 3), "100%");
    assert_eq!(decode("a%zz%2", 3), "a%zz%2");
    assert_eq!(decode("50%25%2520off", 1), "50%%20off");
    assert_eq!(decode("Mozilla/5.0%2520(X11)", 3), "Mozilla/5.0 (X11)");
    assert_eq!(decode("caf%C3%A9", 3), "café");
    // Not UTF-8 once decoded: the round is not taken.
    assert_eq!(decode("%FF%FE", 3), "%FF%FE");
    assert_eq!(decode("ok%2520%FF", 3), "ok%2520%FF");
    assert_eq!(decode("%", 3), "%");
    assert_eq!(decode("", 3), "");
    assert!(matches!(decode("plain", 3), Cow::Borrowed(_)));
}

#[test]
fn detection_wants_cloudfront_fields() {
    assert!(is_cloudfront_header(FIELDS));
    assert!(!is_cloudfront_header(
        "#Fields: date time s-ip cs-method cs-uri-stem sc-status time-taken"
    ));
    assert!(!is_cloudfront_header("2026-03-02 x-edge-location"));
    let none = crate::format::Custom::default();
    let l = line();
    let sample = ["#Version: 1.0", FIELDS, l.as_str()];
    assert_eq!(
        crate::format::detect(&sample, &none),
        FormatKind::from_name("cloudfront")
    );
    let iis = [
        "#Software: Microsoft Internet Information Services 10.0",
        "#Fields: date time c-ip sc-status",
    ];
    assert_eq!(
        crate::format::detect(&iis, &none),
        FormatKind::from_name("w3c")
    );
}
