use super::*;
use crate::event::FieldMap;
use crate::format::record::Record;

const SIM_LOG_FORMAT: &str = r#"log_format authstorm '$remote_addr - $remote_user [$time_local] "$request" '
    '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
    'request_time=$request_time user=$http_x_user_id device=$http_x_device_id '
    'auth_error="$upstream_http_x_auth_error"';"#;

fn get(r: &TemplateRecord<'_>, k: &str) -> Option<String> {
    r.get(k).map(|v| v.into_owned())
}

#[test]
fn nginx_directive_as_pasted() {
    let t = nginx::compile(
        "log_format main escape=default '$remote_addr [$time_iso8601] \"$request\" '\n    \"$status rt=${request_time}s \\\"$http_user_agent\\\"\";",
    )
    .unwrap();
    assert_eq!(
        t.names().iter().map(|n| &**n).collect::<Vec<_>>(),
        [
            "remote_addr",
            "time_iso8601",
            "request",
            "status",
            "request_time",
            "http_user_agent"
        ]
    );
    let r = t
        .parse(r#"203.0.113.9 [2026-03-02T08:00:01+00:00] "POST /oauth/token HTTP/1.1" 401 rt=0.004s "acme \x22x\x22 caf\xC3\xA9""#)
        .unwrap();
    assert_eq!(get(&r, "request_time").as_deref(), Some("0.004"));
    assert_eq!(
        get(&r, "http_user_agent").as_deref(),
        Some("acme \"x\" café")
    );
    assert_eq!(
        get(&r, "request").as_deref(),
        Some("POST /oauth/token HTTP/1.1")
    );
    // A bare format string, and only quoted parts, read the same.
    let bare = nginx::compile("$remote_addr [$time_iso8601]").unwrap();
    assert_eq!(bare.names().len(), 2);
    let parts = nginx::compile("'$remote_addr '\n '[$time_iso8601]'").unwrap();
    assert_eq!(parts.items(), bare.items());
}

#[test]
fn nginx_errors_name_the_problem() {
    let err = |s: &str| {
        nginx::compile(s)
            .map_err(|e| crate::error::chain(&e))
            .unwrap_err()
    };
    assert!(err("log_format main '$remote_addr \"$request\";").contains("unbalanced quote"));
    assert!(err("log_format main escape=xml '$status';").contains("escape"));
    assert!(err("$remote_addr$remote_user").contains("nothing between them"));
    assert!(err("no variables here").contains("no variables"));
    assert!(err("log_format main;").contains("without a format string"));
    assert!(err("a ${status").contains("without"));
    assert!(err("a $ b").contains("invalid variable name"));
    let e = crate::config::FileConfig::parse("[format]\nnginx = \"log_format x '$status\"\n")
        .map_err(|e| crate::error::chain(&e))
        .unwrap_err();
    assert!(e.starts_with("[format] nginx: unbalanced quote"), "{e}");
}

#[test]
fn apache_directives() {
    let t = apache::compile(
        r#"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D %{ms}T %{X-Device-Id}i %{c}a %v"#,
    )
    .unwrap();
    assert_eq!(
        t.names().iter().map(|n| &**n).collect::<Vec<_>>(),
        [
            "remote_addr",
            "ident",
            "remote_user",
            "time_local",
            "request",
            "status",
            "body_bytes_sent",
            "http_referer",
            "http_user_agent",
            "duration_us",
            "duration_ms",
            "http_x_device_id",
            "realip_remote_addr",
            "server_name"
        ]
    );
    let r = t
        .parse(r#"10.0.0.1 - bob [02/Mar/2026:08:00:01 +0000] "GET /v1/me HTTP/1.1" 401 - "-" "say \"hi\"" 4120 4 d-1 10.0.0.254 auth.example.com"#)
        .unwrap();
    assert_eq!(
        get(&r, "time_local").as_deref(),
        Some("02/Mar/2026:08:00:01 +0000")
    );
    assert_eq!(get(&r, "http_user_agent").as_deref(), Some("say \"hi\""));
    assert_eq!(get(&r, "body_bytes_sent").as_deref(), Some("-"));
    assert_eq!(get(&r, "duration_us").as_deref(), Some("4120"));
    // The whole LogFormat line, and conditions on a directive.
    let t = apache::compile(
        r#"LogFormat "%!200,304{Referer}i %<s %>s %{%Y-%m-%dT%H:%M:%S}t %{msec}t %%" x"#,
    )
    .unwrap();
    assert_eq!(
        t.names().iter().map(|n| &**n).collect::<Vec<_>>(),
        ["http_referer", "original_status", "status", "time", "msec"]
    );
    assert!(t.reads("- 302 200 2026-03-02T08:00:01 1772438401000 %"));
}

#[test]
fn apache_errors_name_the_problem() {
    let err = |s: &str| {
        apache::compile(s)
            .map_err(|e| crate::error::chain(&e))
            .unwrap_err()
    };
    let e = err("%h %Z");
    assert!(e.contains("unknown Apache log directive \"%Z\""), "{e}");
    assert!(err("%h %{Referer}z").contains("%{Referer}z"));
    assert!(err(r#"LogFormat "%h %r"#).contains("unbalanced quote"));
    assert!(err(r#"%h \"%r"#).contains("unbalanced quote"));
    assert!(err("%h %").contains("end of the format"));
    assert!(err("%{Referer i").contains("without"));
    let e = crate::config::FileConfig::parse("[format]\napache = '%h %J'\n")
        .map_err(|e| crate::error::chain(&e))
        .unwrap_err();
    assert!(
        e.starts_with("[format] apache: unknown Apache log directive"),
        "{e}"
    );
}

#[test]
fn odd_lines_are_skips() {
    let t = nginx::compile(r#"$remote_addr "$request" $status rt=$request_time"#).unwrap();
    for bad in [
        "",
        "junk",
        r#"1.2.3.4 "GET / HTTP/1.1" 200"#,
        r#"1.2.3.4 "GET / HTTP/1.1 200 rt=1"#,
        r#"1.2.3.4 "GET / \"#,
        "\"\"\"\"\\",
    ] {
        assert!(t.parse(bad).is_err(), "{bad:?}");
    }
    assert!(
        t.parse("1.2.3.4 \"GET / HTTP/1.1\" 200 rt=1\r").is_ok(),
        "CRLF"
    );
    assert_eq!(unescape(r"a\x4"), r"a\x4");
    assert_eq!(unescape(r"\u00e9\n\\"), "é\n\\");
    assert_eq!(unescape(r"\xFF"), "\u{FFFD}");
    assert_eq!(unescape("\\"), "\\");
}

#[test]
fn combined_layouts_compile_to_the_builtin_path() {
    let t = nginx::compile(SIM_LOG_FORMAT).unwrap();
    let renames = t.combined_renames().expect("combined plus extras");
    let r = |a: &str, b: &str| (Box::<str>::from(a), Box::<str>::from(b));
    assert_eq!(
        renames,
        [
            r("http_x_user_id", "user"),
            r("http_x_device_id", "device"),
            r("upstream_http_x_auth_error", "auth_error")
        ]
    );
    assert!(matches!(t.parser(), LineParser::ClfAs(_)));
    // nginx's own `combined`, Apache's, and unkeyed quoted extras.
    let combined = r#"'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'"#;
    assert_eq!(
        nginx::compile(combined).unwrap().combined_renames(),
        Some(vec![])
    );
    let apache = apache::compile(
        r#"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" \"%{X-Device-Id}i\""#,
    )
    .unwrap();
    assert_eq!(
        apache.combined_renames(),
        Some(vec![r("http_x_device_id", "extra_1")])
    );
    // Other layouts: the general parser.
    for other in [
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $bytes_sent "$http_referer" "$http_user_agent""#,
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#,
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time;x"#,
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#,
        r#"$time_iso8601 $remote_addr "$request" $status"#,
    ] {
        let t = nginx::compile(other).unwrap();
        assert_eq!(t.combined_renames(), None, "{other}");
        assert!(matches!(t.parser(), LineParser::Other(_)));
    }
}

/// A line read through the built-in combined path with the template's
/// renames gives every normalized field the general template parser
/// gives it, the user's `[fields]` included.
#[test]
fn both_paths_give_the_same_fields() {
    let t = nginx::compile(SIM_LOG_FORMAT).unwrap();
    let renames = t.combined_renames().unwrap();
    // The user's `[fields]` name the template's variables.
    use crate::event::Field;
    let mapped = [
        (Field::ClientId, "http_x_device_id"),
        (Field::User, "http_x_user_id"),
        (Field::TokenState, "upstream_http_x_auth_error"),
    ]
    .into_iter()
    .map(|(f, k)| (f, k.to_string()))
    .collect();
    {
        let base = FieldMap::new(&mapped, None);
        let general = base.clone();
        let fast = base.with_sources_renamed(&[], &renames);
        for line in [
            r#"203.0.113.9 - - [02/Mar/2026:08:00:01 +0000] "POST /oauth/token HTTP/1.1" 401 43 "-" "acme-desktop/4.2.1 (Windows NT 10.0)" request_time=0.004 user=u-4821 device=d-7f3a auth_error="token expired""#,
            r#"203.0.113.9 - alice [02/Mar/2026:08:00:02 +0000] "GET /v1/me HTTP/1.1" 200 512 "https://app.example.com/" "AcmeVoice-Mobile/6.9.8" request_time=0.018 user=- device=- auth_error="""#,
            r#"203.0.113.9 - - [02/Mar/2026:08:00:03 +0000] "GET /v1/me HTTP/1.1" 429 0 "-" "say \"hi\"" request_time=0.001 user=u-1 device=d-2 auth_error="rate \"limited\"""#,
        ] {
            let rec = t.parse(line).unwrap();
            let a = general.resolve(&rec);
            let b_rec = crate::format::clf::parse(line).unwrap();
            let b = fast.resolve(&b_rec);
            for f in crate::event::FIELDS {
                assert_eq!(a.get(f), b.get(f), "{f:?} of {line}");
            }
            assert_eq!(
                b.get(crate::event::Field::ClientId).is_some(),
                !line.contains("device=-")
            );
        }
    }
}
