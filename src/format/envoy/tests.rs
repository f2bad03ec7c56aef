use super::*;
use crate::format::record::Record;

const DOC: &str = r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80""#;

fn record(line: &str) -> Option<IndexedRecord<'_>> {
    let mut p = EnvoyParser {
        names: NAMES.iter().map(|n| n.to_string()).collect(),
    };
    match super::super::FormatParser::parse(&mut p, line).ok()? {
        super::super::Parsed::Indexed(r) => Some(r),
        _ => None,
    }
}

fn get(r: &IndexedRecord<'_>, k: &str) -> Option<String> {
    r.get(k).map(|v| v.into_owned())
}

/// The documentation's example line, field by field.
#[test]
fn the_documented_example() {
    let r = record(DOC).unwrap();
    let want = [
        ("start_time", "2016-04-15T20:17:00.310Z"),
        ("method", "POST"),
        ("path", "/api/v1/locations"),
        ("protocol", "HTTP/2"),
        ("response_code", "204"),
        ("bytes_received", "154"),
        ("bytes_sent", "0"),
        ("duration", "226"),
        ("upstream_service_time", "100"),
        ("x_forwarded_for", "10.0.35.28"),
        ("client_ip", "10.0.35.28"),
        ("user_agent", "nsq2http"),
        ("authority", "locations"),
        ("upstream_host", "tcp://10.0.2.1:80"),
    ];
    for (k, v) in want {
        assert_eq!(get(&r, k).as_deref(), Some(v), "{k}");
    }
    assert_eq!(get(&r, "response_flags"), None, "`-` is none");
}

#[test]
fn istios_longer_default_and_trailing_fields() {
    let l = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;
    let r = record(l).unwrap();
    assert_eq!(get(&r, "response_code").as_deref(), Some("418"));
    assert_eq!(
        get(&r, "response_code_details").as_deref(),
        Some("via_upstream")
    );
    assert_eq!(get(&r, "duration").as_deref(), Some("4"));
    assert_eq!(get(&r, "user_agent").as_deref(), Some("curl/7.73.0-DEV"));
    assert_eq!(get(&r, "route_name").as_deref(), Some("default"));
    // No X-Forwarded-For: the downstream peer, without its port.
    assert_eq!(get(&r, "client_ip").as_deref(), Some("10.44.1.23"));
    // IPv6 addresses at the end are bare words.
    let v6 = l.replace("10.44.1.23:46520", "[2001:db8::23]:46520");
    assert_eq!(
        get(&record(&v6).unwrap(), "client_ip").as_deref(),
        Some("2001:db8::23")
    );
    // Fields a longer format adds after the default ones are ignored.
    assert!(record(&format!("{DOC} \"extra\" 12 more")).is_some());
}

#[test]
fn rate_limited_and_reset_requests() {
    assert_eq!(status(Some("429"), Some("RL")), Some("429"));
    assert_eq!(status(Some("0"), Some("RL")), Some("429"));
    assert_eq!(status(None, Some("UF,RL")), Some("429"));
    assert_eq!(status(Some("0"), Some("DC")), None);
    assert_eq!(status(Some("503"), Some("UF,URX")), Some("503"));
    let l = DOC.replace("204 -", "0 RL");
    assert_eq!(
        get(&record(&l).unwrap(), "response_code").as_deref(),
        Some("429")
    );
    let l = DOC.replace("204 -", "0 DC");
    assert_eq!(get(&record(&l).unwrap(), "response_code"), None);
}

#[test]
fn client_addresses() {
    assert_eq!(
        client_ip(Some("203.0.113.9, 10.0.0.2"), None),
        Some("203.0.113.9")
    );
    assert_eq!(
        client_ip(Some("-"), Some("10.0.0.9:4000")),
        Some("10.0.0.9")
    );
    assert_eq!(
        client_ip(None, Some("[2001:db8::7]:443")),
        Some("2001:db8::7")
    );
    assert_eq!(client_ip(None, Some("2001:db8::7")), Some("2001:db8::7"));
    assert_eq!(client_ip(None, None), None);
}

#[test]
fn other_lines_are_not_envoys() {
    for l in [
        "[2026-03-02 08:00:00.412][1][info][main] [source/server/server.cc:932] starting main dispatch loop",
        r#"203.0.113.9 - - [02/Mar/2026:08:00:01 +0000] "POST /oauth/token HTTP/1.1" 401 43 "-" "curl/8.0""#,
        r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http""#,
        r#"[2016-04-15T20:17:00.310Z] "POST /a HTTP/2" abc - 154 0 226 100 "a" "b" "c" "d" "e""#,
        "[unterminated",
        "",
    ] {
        assert!(parse_fields(l).is_none(), "{l}");
    }
}
