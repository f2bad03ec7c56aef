use super::*;
use crate::event::{Field, FieldMap};
use crate::format::record::Record;
use crate::format::{Custom, FormatKind, detect};

/// A v3 line with every default field and two kept headers, keys sorted
/// as logrus writes them.
const LINE: &str = r#"{"ClientAddr":"203.0.113.9:52114","ClientHost":"203.0.113.9","ClientPort":"52114","ClientUsername":"-","DownstreamContentSize":57,"DownstreamStatus":401,"Duration":3188460,"OriginContentSize":57,"OriginDuration":2901220,"OriginStatus":401,"Overhead":287240,"RequestAddr":"api.acme.test","RequestContentSize":0,"RequestCount":1841,"RequestHost":"api.acme.test","RequestMethod":"GET","RequestPath":"/v1/me?x=1","RequestPort":"-","RequestProtocol":"HTTP/2.0","RequestScheme":"https","RetryAttempts":0,"RouterName":"api@docker","ServiceAddr":"10.0.4.12:8080","ServiceName":"api@docker","ServiceURL":"http://10.0.4.12:8080","StartLocal":"2026-03-02T09:00:01.250431170+01:00","StartUTC":"2026-03-02T08:00:01.250431170Z","entryPointName":"websecure","level":"info","msg":"","request_Authorization":"REDACTED","request_User-Agent":"acme-desktop/4.2.1 (Windows NT 10.0)","time":"2026-03-02T09:00:01+01:00"}"#;

fn map() -> FieldMap {
    FieldMap::default().with_sources(FORMAT.sources)
}

fn with(from: &str, to: &str) -> String {
    assert!(LINE.contains(from), "{from}");
    LINE.replacen(from, to, 1)
}

#[test]
fn reads_a_line() {
    let rec = parse(LINE).unwrap();
    let ev = map().resolve(&rec);
    let e = ev.normalize().unwrap();
    assert_eq!(e.ts, 1_772_438_401_250_431);
    assert_eq!(e.client_ip, Some("203.0.113.9"));
    assert_eq!(e.user, None, "`-` is no user");
    assert_eq!((e.method, e.path), (Some("GET"), Some("/v1/me?x=1")));
    assert_eq!(e.status, Some(401));
    assert_eq!(e.user_agent, Some("acme-desktop/4.2.1 (Windows NT 10.0)"));
    assert_eq!(e.latency_ms, Some(3.18846));
    assert_eq!(ev.get(Field::Bytes), Some("57"));
    assert_eq!(e.token, None, "a redacted header is no token");
    assert_eq!(e.attempt, None, "no retry is no attempt number");
}

#[test]
fn the_start_is_the_time_in_any_zone() {
    let l = with(r#""StartUTC":"2026-03-02T08:00:01.250431170Z","#, "");
    let rec = parse(&l).unwrap();
    let e = map().resolve(&rec);
    assert_eq!(
        e.normalize().unwrap().ts,
        1_772_438_401_250_431,
        "StartLocal is the same instant"
    );
}

#[test]
fn retries_by_traefik_are_attempts() {
    for (n, want) in [
        ("0", None),
        ("1", Some(2)),
        ("3", Some(4)),
        (r#""x""#, None),
    ] {
        let l = with(r#""RetryAttempts":0"#, &format!(r#""RetryAttempts":{n}"#));
        let rec = parse(&l).unwrap();
        let e = map().resolve(&rec);
        assert_eq!(e.normalize().unwrap().attempt, want, "{n}");
    }
}

#[test]
fn headers_kept_as_sent_and_redacted() {
    let l = with(
        r#""request_Authorization":"REDACTED""#,
        r#""request_Authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln""#,
    );
    let rec = parse(&l).unwrap();
    assert_eq!(
        map().resolve(&rec).get(Field::Token),
        Some("Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln")
    );
    assert_eq!(parse(LINE).unwrap().get(AUTHORIZATION), None);
    let l = with(
        r#""msg":"""#,
        r#""downstream_Www-Authenticate":"Bearer error=\"invalid_token\", error_description=\"The access token expired\"","msg":"""#,
    );
    let rec = parse(&l).unwrap();
    assert_eq!(
        map().resolve(&rec).get(Field::TokenDetail),
        Some(r#"Bearer error="invalid_token", error_description="The access token expired""#)
    );
}

#[test]
fn the_client_is_the_first_forwarded_address() {
    let l = with(
        r#""ClientHost":"203.0.113.9""#,
        r#""ClientHost":"198.51.100.4, 10.0.0.2""#,
    );
    let rec = parse(&l).unwrap();
    assert_eq!(
        map().resolve(&rec).get(Field::ClientIp),
        Some("198.51.100.4")
    );
    assert_eq!(rec.get(CLIENT_HOST).as_deref(), Some("198.51.100.4"));
}

#[test]
fn what_the_client_got_is_the_status() {
    let l = with(r#""DownstreamStatus":401"#, r#""DownstreamStatus":502"#)
        .replace(r#""OriginStatus":401"#, r#""OriginStatus":0"#);
    let rec = parse(&l).unwrap();
    let e = map().resolve(&rec);
    assert_eq!(e.normalize().unwrap().status, Some(502));
    let l = with(r#""DownstreamStatus":401"#, r#""DownstreamStatus":0"#);
    let rec = parse(&l).unwrap();
    let e = map().resolve(&rec);
    let e = e.normalize().unwrap();
    assert_eq!((e.status, e.method), (None, Some("GET")));
}

#[test]
fn traefiks_own_log_lines_are_not_requests() {
    let own = r#"{"level":"error","entryPointName":"websecure","routerName":"api@docker","error":"service \"api@docker\" does not exist","time":"2026-03-02T08:00:02Z","message":"error while building router"}"#;
    let rec = parse(own).unwrap();
    assert_eq!(
        map().resolve(&rec).normalize().err(),
        Some(SkipReason::NotARequest)
    );
    assert_eq!(parse("{nope").err(), Some(SkipReason::Unparsable));
}

#[test]
fn detection_takes_traefik_logs_and_leaves_other_formats() {
    let none = Custom::default();
    let traefik = FormatKind::from_name("traefik");
    let own = r#"{"level":"warn","time":"2026-03-02T08:00:02Z","message":"Some dashboard routes are not reachable"}"#;
    assert_eq!(detect(&[LINE, LINE], &none), traefik);
    assert_eq!(detect(&[own, LINE, LINE], &none), traefik);
    let app = r#"{"time":"2026-03-02T08:00:01Z","method":"GET","path":"/v1/me","status":200}"#;
    assert_eq!(
        detect(&[app, app, LINE], &none),
        FormatKind::from_name("json")
    );
    // Traefik's default (`common`) access log is combined-like: read as
    // combined, with its request count, router, server URL and duration
    // as unnamed trailing fields.
    let clf = r#"203.0.113.9 - - [02/Mar/2026:08:00:01 +0000] "GET /v1/me HTTP/2.0" 401 57 "-" "acme-desktop/4.2.1 (Windows NT 10.0)" 1841 "api@docker" "http://10.0.4.12:8080" 3ms"#;
    assert_eq!(sniff(&[clf], &none), 0);
    assert_eq!(
        detect(&[clf, clf], &none),
        FormatKind::from_name("combined")
    );
}
