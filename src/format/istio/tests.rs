use super::*;

const LINE: &str = r#"{"start_time":"2026-03-02T08:20:00.702Z","method":"POST","path":"/oauth/token","response_code":0,"response_flags":"RL","duration":3,"x_forwarded_for":null,"user_agent":"AcmeVoice-Mobile/6.9.8","upstream_host":null,"downstream_remote_address":"10.42.0.9:40118"}"#;

fn record(line: &str) -> IstioRecord<'_> {
    IstioRecord::new(crate::format::json::parse(line).unwrap())
}

#[test]
fn derived_values() {
    let r = record(LINE);
    assert_eq!(r.get("response_code").as_deref(), Some("429"), "RL");
    assert_eq!(r.get("client_ip").as_deref(), Some("10.42.0.9"));
    let mut seen = Vec::new();
    r.visit(&mut |k, v| {
        if let Key::Name(n) = k {
            seen.push((n.to_string(), v.into_owned()));
        }
    });
    assert!(seen.contains(&("response_code".into(), "429".into())));
    assert!(!seen.contains(&("response_code".into(), "0".into())));
    let line = LINE
        .replace(r#""RL""#, r#""DC""#)
        .replace("null,\"user", "\"203.0.113.9, 10.0.0.1\",\"user");
    let r = record(&line);
    assert_eq!(r.get("response_code"), None, "0 without RL: no status");
    assert_eq!(r.get("client_ip").as_deref(), Some("203.0.113.9"));
}

#[test]
fn detection() {
    let none = crate::format::Custom::default();
    let other = r#"{"level":"info","time":"2026-03-02T08:19:59Z","msg":"starting"}"#;
    assert_eq!(
        sniff(&[LINE, LINE, other], &none),
        3,
        "mostly Istio: every JSON line"
    );
    assert_eq!(sniff(&[LINE, other, other], &none), 1);
    assert_eq!(sniff(&[other, "not json"], &none), 0);
    assert_eq!(
        crate::format::detect(&[LINE, other], &none).map(|k| k.name()),
        Some("istio")
    );
}
