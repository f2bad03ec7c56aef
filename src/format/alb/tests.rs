use super::*;
use crate::event::FieldMap;
use crate::format::FormatKind;
use crate::format::record::Record;

const HTTPS: &str = r#"https 2026-03-02T08:00:01.214903Z app/auth-prod/50dc6c495c0c9188 203.0.113.9:52144 10.0.1.17:8080 0.001 0.012 0.000 401 401 512 298 "GET https://auth.example.com:443/v1/me?x=1 HTTP/1.1" "acme-desktop/4.2.1 (Windows NT 10.0)" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/auth-api/73e2d6bc24d8a067 "Root=1-65e2dc01-1d84f3d73c47ec4e58577259" "auth.example.com" "session-reused" 1 2026-03-02T08:00:01.201000Z "forward" "-" "-" "10.0.1.17:8080" "401" "-" "-" TID_4e1f2a"#;

fn event_of(
    line: &str,
) -> (
    Option<String>,
    Option<String>,
    Option<u16>,
    Option<f64>,
    String,
) {
    let rec = parse(line).unwrap();
    let map = FieldMap::default().with_sources(FormatKind::from_name("alb").unwrap().def().sources);
    let raw = map.resolve(&rec);
    let e = raw.normalize().unwrap();
    (
        e.client_ip.map(String::from),
        e.path.map(String::from),
        e.status,
        e.latency_ms,
        crate::time::rfc3339_exact(e.ts),
    )
}

#[test]
fn maps_the_documented_fields() {
    let r = parse(HTTPS).unwrap();
    assert_eq!(r.get("type").as_deref(), Some("https"));
    assert_eq!(r.get("client_ip").as_deref(), Some("203.0.113.9"));
    assert_eq!(
        r.get("user_agent").as_deref(),
        Some("acme-desktop/4.2.1 (Windows NT 10.0)")
    );
    assert_eq!(r.get("redirect_url"), None, "`-` is absent");
    assert_eq!(r.get("conn_trace_id").as_deref(), Some("TID_4e1f2a"));
    assert_eq!(r.get("processing_time").as_deref(), Some("0.013"));
    let (ip, path, status, latency, ts) = event_of(HTTPS);
    assert_eq!(ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(path.as_deref(), Some("/v1/me?x=1"), "no scheme, no host");
    assert_eq!(status, Some(401));
    assert!((latency.unwrap() - 13.0).abs() < 1e-9);
    assert!(
        ts.starts_with("2026-03-02T08:00:01.201"),
        "request_creation_time: {ts}"
    );
}

#[test]
fn no_latency_when_no_target_answered() {
    let line = HTTPS
        .replace("0.001 0.012 0.000 401 401", "-1 -1 -1 504 -")
        .replace("10.0.1.17:8080 -1", "- -1");
    let r = parse(&line).unwrap();
    assert_eq!(r.get("processing_time"), None);
    assert_eq!(r.get("target:port"), None);
    let (_, _, status, latency, _) = event_of(&line);
    assert_eq!((status, latency), (Some(504), None));
}

#[test]
fn ipv6_clients_lose_only_their_port() {
    let line = HTTPS.replace(
        "203.0.113.9:52144",
        "2001:db8:4538:1:bcf4:5264:e01c:f215:50718",
    );
    assert_eq!(
        parse(&line).unwrap().get("client_ip").as_deref(),
        Some("2001:db8:4538:1:bcf4:5264:e01c:f215")
    );
    assert_eq!(client_address("[2001:db8::7]:443"), Some("2001:db8::7"));
    assert_eq!(client_address("-"), None);
}

#[test]
fn trailing_fields_come_and_go() {
    // AWS appends fields: unknown ones are ignored.
    let newer = format!(r#"{HTTPS} "auth.example.com" "/v1/me" "-" some-future-field "x y""#);
    assert!(parse(&newer).is_ok());
    // An older line ends at `request_creation_time` or a little later.
    let cut = HTTPS.find(r#" "forward""#).unwrap();
    let older = &HTTPS[..cut];
    let r = parse(older).unwrap();
    assert_eq!(r.get("actions_executed"), None);
    assert_eq!(event_of(older).2, Some(401));
    // Without `request_creation_time` it is not a whole ALB line.
    let shorter = &HTTPS[..HTTPS.find(" 1 2026-03-02T08:00:01.201000Z").unwrap()];
    assert_eq!(parse(shorter).err(), Some(SkipReason::Unparsable));
}

#[test]
fn odd_lines_are_skips_not_panics() {
    for line in [
        "",
        "https",
        "\"",
        "https 2026-03-02T08:00:01.214903Z \"",
        "http 2026-03-02T08:00:01Z a b c d e f g h i j \"unterminated",
        "203.0.113.9 - - [02/Mar/2026:08:00:01 +0000] \"GET / HTTP/1.1\" 200 5",
        "tcp 2026-03-02T08:00:01.214903Z net/x/y 1.2.3.4:5 6.7.8.9:10 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
        "é 2026-03-02T08:00:01.214903Z \"é\" \"",
    ] {
        assert!(parse(line).is_err(), "{line}");
    }
    // The client never sent a whole request: no method, no path.
    let line = HTTPS.replace(
        "GET https://auth.example.com:443/v1/me?x=1 HTTP/1.1",
        "- https://auth.example.com:443- -",
    );
    let r = parse(&line).unwrap();
    assert_eq!(r.get("request"), None);
    let (_, path, status, _, _) = event_of(&line);
    assert_eq!((path, status), (None, Some(401)));
}

#[test]
fn a_quote_inside_the_user_agent() {
    let line = HTTPS.replace("acme-desktop/4.2.1 (Windows NT 10.0)", r#"odd "agent"/1.0"#);
    assert_eq!(
        parse(&line).unwrap().get("user_agent").as_deref(),
        Some(r#"odd "agent"/1.0"#)
    );
}
