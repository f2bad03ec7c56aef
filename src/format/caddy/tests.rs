use super::*;
use crate::event::{Field, FieldMap};
use crate::format::{Custom, FormatKind, detect};

/// The entry of Caddy's "Structured logging" page, on one line (its
/// `tls` and `resp_headers` shortened).
const DOCS: &str = r#"{"level":"info","ts":1646861401.5241024,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"41342","client_ip":"127.0.0.1","proto":"HTTP/2.0","method":"GET","host":"localhost","uri":"/","headers":{"User-Agent":["curl/7.82.0"],"Accept":["*/*"],"Accept-Encoding":["gzip, deflate, br"]},"tls":{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h2","server_name":"example.com"}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":10900,"status":200,"resp_headers":{"Server":["Caddy"],"Content-Encoding":["gzip"],"Content-Type":["text/html; charset=utf-8"],"Vary":["Accept-Encoding"]}}"#;

fn map() -> FieldMap {
    FieldMap::default().with_sources(FORMAT.sources)
}

/// `DOCS` with `from` replaced by `to`.
fn docs_with(from: &str, to: &str) -> String {
    assert!(DOCS.contains(from), "{from}");
    DOCS.replacen(from, to, 1)
}

#[test]
fn reads_the_docs_entry() {
    let rec = parse(DOCS).unwrap();
    let ev = map().resolve(&rec);
    let e = ev.normalize().unwrap();
    assert_eq!(e.ts, 1_646_861_401_524_102);
    assert_eq!(e.client_ip, Some("127.0.0.1"));
    assert_eq!((e.method, e.path), (Some("GET"), Some("/")));
    assert_eq!(e.status, Some(200));
    assert_eq!(e.user_agent, Some("curl/7.82.0"));
    assert_eq!(e.user, None, "an empty user_id is no user");
    assert!((e.latency_ms.unwrap() - 0.929675).abs() < 1e-9);
    assert_eq!(ev.get(Field::Bytes), Some("10900"));
    assert_eq!(e.token, None);
}

#[test]
fn the_client_behind_trusted_proxies_comes_first() {
    let l = docs_with(r#""client_ip":"127.0.0.1""#, r#""client_ip":"2001:db8::7""#);
    let rec = parse(&l).unwrap();
    assert_eq!(
        map().resolve(&rec).get(Field::ClientIp),
        Some("2001:db8::7")
    );
    let l = docs_with(r#","client_ip":"127.0.0.1""#, "");
    let rec = parse(&l).unwrap();
    assert_eq!(map().resolve(&rec).get(Field::ClientIp), Some("127.0.0.1"));
}

#[test]
fn a_credential_caddy_did_not_log_is_no_token() {
    let with_auth = |v: &str| {
        docs_with(
            r#""Accept":["*/*"]"#,
            &format!(r#""Accept":["*/*"],"Authorization":{v}"#),
        )
    };
    for v in [r#"["REDACTED"]"#, "[]", r#"[""]"#, r#"["  "]"#] {
        let l = with_auth(v);
        let rec = parse(&l).unwrap();
        let ev = map().resolve(&rec);
        assert_eq!(ev.get(Field::Token), None, "{v}");
        assert_eq!(rec.get(AUTHORIZATION), None, "{v}");
        assert_eq!(
            map().explain(&rec).iter().find(|p| p.field == Field::Token),
            None
        );
    }
    // `log_credentials` on: the header as sent.
    let l = with_auth(r#"["Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln"]"#);
    let rec = parse(&l).unwrap();
    assert_eq!(
        map().resolve(&rec).get(Field::Token),
        Some("Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln")
    );
}

#[test]
fn the_token_detail_is_the_answers_www_authenticate() {
    let l = docs_with(
        r#""Server":["Caddy"]"#,
        r#""Server":["Caddy"],"Www-Authenticate":["Bearer error=\"invalid_token\", error_description=\"The access token expired\""]"#,
    );
    let rec = parse(&l).unwrap();
    let ev = map().resolve(&rec);
    assert_eq!(
        ev.get(Field::TokenDetail),
        Some(r#"Bearer error="invalid_token", error_description="The access token expired""#)
    );
}

#[test]
fn other_loggers_are_not_requests() {
    let proxy = r#"{"level":"error","ts":1646861402.1,"logger":"http.handlers.reverse_proxy","msg":"aborting with incomplete response","upstream":"10.0.0.5:8080","duration":0.002,"request":{"remote_ip":"127.0.0.1","method":"GET","uri":"/v1/me"},"error":"reading: context canceled"}"#;
    assert_eq!(parse(proxy).err(), Some(SkipReason::NotARequest));
    let error = docs_with(
        r#""logger":"http.log.access""#,
        r#""logger":"http.log.error""#,
    );
    assert_eq!(parse(&error).err(), Some(SkipReason::NotARequest));
    let lookalike = docs_with(
        r#""logger":"http.log.access""#,
        r#""logger":"http.log.accessory""#,
    );
    assert_eq!(parse(&lookalike).err(), Some(SkipReason::NotARequest));
    let named = docs_with(
        r#""logger":"http.log.access""#,
        r#""logger":"http.log.access.log0""#,
    );
    assert!(parse(&named).is_ok());
    let unnamed = docs_with(r#""logger":"http.log.access","#, "");
    assert!(parse(&unnamed).is_ok());
    assert_eq!(parse("{not json").err(), Some(SkipReason::Unparsable));
}

#[test]
fn durations_in_every_duration_format() {
    let s = |v: &str| seconds(v).map(|c| c.into_owned());
    assert_eq!(s("0.000929675").as_deref(), Some("0.000929675"));
    assert_eq!(s("0").as_deref(), Some("0"));
    assert_eq!(s("929675").as_deref(), Some("0.000929675"));
    assert_eq!(s("1500000000").as_deref(), Some("1.5"));
    let close = |v: &str, want: f64| {
        let got: f64 = s(v).unwrap().parse().unwrap();
        assert!((got - want).abs() < 1e-12, "{v}: {got}");
    };
    close("6.31ms", 0.00631);
    close("850µs", 0.00085);
    close("850us", 0.00085);
    close("100ns", 1e-7);
    close("1m32.05s", 92.05);
    close("1h0m1s", 3601.0);
    close("0s", 0.0);
    for bad in ["", "ms", "5x", "1.2.3s", "-", "1m-2s", "s5"] {
        assert_eq!(s(bad), None, "{bad:?}");
    }
    // Through the mapping: nanoseconds become milliseconds.
    let l = docs_with(r#""duration":0.000929675"#, r#""duration":2500000"#);
    let rec = parse(&l).unwrap();
    let e = map().resolve(&rec).normalize().unwrap().latency_ms;
    assert_eq!(e, Some(2.5));
    let l = docs_with(r#""duration":0.000929675"#, r#""duration":"2.5ms""#);
    let rec = parse(&l).unwrap();
    let e = map().resolve(&rec).normalize().unwrap().latency_ms;
    assert!((e.unwrap() - 2.5).abs() < 1e-9);
}

#[test]
fn status_zero_is_no_status() {
    let l = docs_with(r#""status":200"#, r#""status":0"#);
    let rec = parse(&l).unwrap();
    let ev = map().resolve(&rec);
    let e = ev.normalize().unwrap();
    assert_eq!((e.status, e.path), (None, Some("/")));
}

#[test]
fn detection_takes_caddy_logs_and_leaves_other_json() {
    let none = Custom::default();
    let caddy = FormatKind::from_name("caddy");
    let json = FormatKind::from_name("json");
    let runtime = r#"{"level":"info","ts":1646861400.1,"logger":"tls","msg":"finished cleaning storage units"}"#;
    assert_eq!(detect(&[DOCS, DOCS], &none), caddy);
    // Caddy's runtime entries in the same stream count with the access
    // entries, so plain JSON does not read more of the sample.
    assert_eq!(detect(&[runtime, DOCS, runtime, DOCS], &none), caddy);
    assert_eq!(sniff(&[runtime, DOCS, runtime, DOCS], &none), 4);
    // Other JSON with a Caddy-like line stays JSON.
    let app = r#"{"time":"2026-03-02T08:00:01Z","method":"GET","path":"/v1/me","status":200}"#;
    assert_eq!(detect(&[app, app, DOCS], &none), json);
    assert_eq!(detect(&[app, app], &none), json);
    assert_eq!(sniff(&[app, runtime], &none), 0);
}
