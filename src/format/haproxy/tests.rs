use super::*;

const DOC: &str = r#"Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1""#;

fn get(r: &HaproxyRecord<'_>, k: &str) -> Option<String> {
    r.get(k).map(|v| v.into_owned())
}

/// The manual's own example line, field by field.
#[test]
fn the_manuals_example() {
    let r = parse(DOC, &Names::default()).unwrap();
    let want = [
        ("client_ip", "10.0.1.2"),
        ("client_port", "33317"),
        ("accept_date", "06/Feb/2009:12:14:14.655"),
        ("frontend_name", "http-in"),
        ("backend_name", "static"),
        ("server_name", "srv1"),
        ("TR", "10"),
        ("Tw", "0"),
        ("Tc", "30"),
        ("Tr", "69"),
        ("Ta", "109"),
        ("status_code", "200"),
        ("bytes_read", "2750"),
        ("termination_state", "----"),
        ("retries", "0"),
        ("backend_queue", "0"),
        ("req.1", "1wt.eu"),
        ("http_method", "GET"),
        ("http_uri", "/index.html"),
        ("http_version", "HTTP/1.1"),
    ];
    for (k, v) in want {
        assert_eq!(get(&r, k).as_deref(), Some(v), "{k}");
    }
    assert_eq!(get(&r, "req.user-agent"), None);
}

#[test]
fn headers_rfc5424_and_none_read_the_same() {
    let body = DOC.split_once("]: ").unwrap().1;
    let rfc5424 = format!("<134>1 2009-02-06T12:14:14+00:00 lb1 haproxy 14389 - - {body}");
    for l in [body, rfc5424.as_str()] {
        let r = parse(l, &Names::default()).unwrap();
        assert_eq!(get(&r, "client_ip").as_deref(), Some("10.0.1.2"), "{l}");
        assert_eq!(get(&r, "Ta").as_deref(), Some("109"));
    }
}

#[test]
fn aborted_phases_status_and_odd_request_lines() {
    let n = Names::default();
    // Denied by `http-request deny deny_status 429`: no server, `-1` timers.
    let l = r#"198.51.100.23:40112 [02/Mar/2026:08:00:02.004] fe be/<NOSRV> 0/-1/-1/-1/0 429 212 - - PR-- 1/1/0/0/0 0/0 "POST /oauth/token HTTP/1.1""#;
    let r = parse(l, &n).unwrap();
    assert_eq!(get(&r, "status_code").as_deref(), Some("429"));
    assert_eq!(get(&r, "Tw"), None);
    assert_eq!(get(&r, "Ta").as_deref(), Some("0"));
    assert_eq!(get(&r, "termination_state").as_deref(), Some("PR--"));
    // The client left before any response: no status, no total time.
    let l = r#"203.0.113.41:33012 [02/Mar/2026:08:00:03.377] fe be/s1 0/0/1/-1/-1 -1 0 - - CH-- 1/1/1/1/0 0/0 "POST /oauth/token HTTP/1.1""#;
    let r = parse(l, &n).unwrap();
    assert_eq!(get(&r, "status_code"), None);
    assert_eq!(get(&r, "Ta"), None);
    assert_eq!(get(&r, "http_uri").as_deref(), Some("/oauth/token"));
    // `<BADREQ>`: no method, no URI.
    let l = r#"192.0.2.77:49152 [02/Mar/2026:08:00:04.510] fe fe/<NOSRV> -1/-1/-1/-1/0 400 187 - - PR-- 1/1/0/0/0 0/0 {|} "<BADREQ>""#;
    let r = parse(l, &n).unwrap();
    assert_eq!(get(&r, "status_code").as_deref(), Some("400"));
    assert_eq!(get(&r, "http_method"), None);
    assert_eq!(get(&r, "http_request").as_deref(), Some("<BADREQ>"));
    // Cut without its closing quote; an HTTP/2 absolute URI.
    let l = r#"192.0.2.7:1 [02/Mar/2026:08:00:05.099] fe be/s1 0/0/1/30/31 302 410 - - ---- 1/1/1/1/0 0/0 "GET /oauth/authorize?client_id=acme&state=af0"#;
    let r = parse(l, &n).unwrap();
    assert_eq!(
        get(&r, "http_uri").as_deref(),
        Some("/oauth/authorize?client_id=acme&state=af0")
    );
    let l = r#"2001:db8::17:60211 [02/Mar/2026:08:00:03.050] fe be/s1 2/0/1/25/28 200 1543 - - ---- 1/1/1/1/+1 0/0 "GET https://auth.acme.example/v1/me HTTP/2.0""#;
    let r = parse(l, &n).unwrap();
    assert_eq!(get(&r, "client_ip").as_deref(), Some("2001:db8::17"));
    assert_eq!(get(&r, "http_uri").as_deref(), Some("/v1/me"));
    assert_eq!(get(&r, "retries").as_deref(), Some("+1"));
}

#[test]
fn captures_named_by_the_config_or_guessed() {
    let l = r#"198.51.100.8:41001 [02/Mar/2026:08:10:01.000] fe be/s2 1/0/0/11/12 401 230 - - ---- 4/4/2/1/0 0/0 {auth.acme.example|AcmeVoice-Mobile/6.9.8|Bearer abc.def.ghi} {Bearer error=#22invalid_token#22} "GET /v1/contacts HTTP/1.1""#;
    // Guessed: the user agent and the credential by their look.
    let r = parse(l, &Names::default()).unwrap();
    assert_eq!(
        get(&r, "req.user-agent").as_deref(),
        Some("AcmeVoice-Mobile/6.9.8")
    );
    assert_eq!(
        get(&r, "req.authorization").as_deref(),
        Some("Bearer abc.def.ghi")
    );
    assert_eq!(get(&r, "req.1").as_deref(), Some("auth.acme.example"));
    assert_eq!(
        get(&r, "res.1").as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
    // Named by the config.
    let custom = crate::format::Custom {
        haproxy_request_headers: Some(
            vec!["Host".into(), "User-Agent".into(), "Authorization".into()].into(),
        ),
        haproxy_response_headers: Some(vec!["WWW-Authenticate".into()].into()),
        ..Default::default()
    };
    let names = Names::new(&custom);
    let r = parse(l, &names).unwrap();
    assert_eq!(get(&r, "req.host").as_deref(), Some("auth.acme.example"));
    assert_eq!(
        get(&r, "req.user-agent").as_deref(),
        Some("AcmeVoice-Mobile/6.9.8")
    );
    assert_eq!(
        get(&r, "req.authorization").as_deref(),
        Some("Bearer abc.def.ghi")
    );
    assert_eq!(
        get(&r, "res.www-authenticate").as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
    // One block only, response captures configured only: it is theirs.
    let one = r#"198.51.100.8:41001 [02/Mar/2026:08:10:01.000] fe be/s2 1/0/0/11/12 401 230 - - ---- 4/4/2/1/0 0/0 {no-store} "GET /v1/me HTTP/1.1""#;
    let custom = crate::format::Custom {
        haproxy_response_headers: Some(vec!["Cache-Control".into()].into()),
        ..Default::default()
    };
    let r = parse(one, &Names::new(&custom)).unwrap();
    assert_eq!(get(&r, "res.cache-control").as_deref(), Some("no-store"));
}

#[test]
fn the_user_agent_guess() {
    for ua in [
        "acme-desktop/4.2.1 (Windows NT 10.0)",
        "Mozilla/5.0 (X11)",
        "okhttp/4.12.0",
        "AcmeVoice-Mobile/6.9.8",
    ] {
        assert!(looks_like_agent(ua), "{ua}");
    }
    for not in [
        "auth.acme.example",
        "203.0.113.9",
        "https://acme.example/x",
        "application/json",
        "Bearer a/1",
        "",
    ] {
        assert!(!looks_like_agent(not), "{not}");
    }
}

#[test]
fn other_lines_are_not_httplog() {
    let n = Names::default();
    for l in [
        "Mar  2 08:00:05 lb1 haproxy[14389]: Server auth/auth2 is DOWN, reason: Layer4 connection problem",
        r#"203.0.113.9 - - [02/Mar/2026:08:00:01 +0000] "POST /oauth/token HTTP/1.1" 401 43 "-" "curl/8.0""#,
        // tcplog: no status, no request.
        "10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0",
        r#"10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69 200 2750 - - ---- 1/1/1/1/0 0/0 "GET / HTTP/1.1""#,
        r#"10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 2x0 2750 - - ---- 1/1/1/1/0 0/0 "GET / HTTP/1.1""#,
        "",
    ] {
        assert!(parse(l, &n).is_err(), "{l}");
    }
}
