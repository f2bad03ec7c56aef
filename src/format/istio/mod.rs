//! Istio's JSON access log (`meshConfig.accessLogEncoding: JSON`): Envoy's
//! operators under Istio's default keys, one object a line:
//!
//! `{"start_time":"2026-03-02T08:00:01.123Z","method":"POST","path":"/oauth/token","protocol":"HTTP/1.1","response_code":429,"response_flags":"RL","duration":1,"x_forwarded_for":"203.0.113.9","user_agent":"AcmeVoice-Mobile/6.9.8","upstream_host":null,"downstream_remote_address":"10.42.0.7:51234"}`
//!
//! This module owns recognising those keys and the few values Istio's
//! keys need read their own way: `duration` in milliseconds, the client
//! from `x_forwarded_for` or `downstream_remote_address`, and the status
//! by Envoy's RL rule ([`super::envoy::status`]). The JSON itself is read
//! by the JSON format's parser.

use std::borrow::Cow;

use super::SkipReason;
use super::json::JsonRecord;
use crate::format::record::{Key, Record};

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "istio",
    title: "Istio / Envoy JSON access log (Istio's default keys)",
    detection: "JSON lines, most with `response_code`, `response_flags` and `start_time` or `upstream_host`",
    example: r#"{"start_time":"2026-03-02T08:00:01.123Z","method":"POST","path":"/oauth/token","protocol":"HTTP/1.1","response_code":429,"response_flags":"RL","response_code_details":"local_rate_limited","bytes_received":0,"bytes_sent":18,"duration":1,"upstream_service_time":null,"x_forwarded_for":"203.0.113.9","user_agent":"AcmeVoice-Mobile/6.9.8","request_id":"5f0c8f0e-7d0a-4d7e-9d3a-1b2c3d4e5f60","authority":"auth.acme.example","upstream_host":null,"downstream_remote_address":"10.42.0.7:51234"}"#,
    sources: &[
        super::Source::new("timestamp", "start_time"),
        super::Source::new("client_ip", CLIENT_IP),
        super::Source::new("status", "response_code"),
        super::Source::new("bytes", "bytes_sent"),
        // Milliseconds: plain JSON's `duration` is taken as seconds.
        super::Source::latency("duration", "ms"),
        super::Source::new("user_agent", "user_agent"),
    ],
    stateful: false,
    sniff,
    parser: |_| Ok(super::LineParser::Other(Box::new(IstioParser))),
};

/// The derived client address's key (not one of Istio's).
const CLIENT_IP: &str = "client_ip";

/// The JSON lines of the sample when most of them have Istio's keys (the
/// proxy's own JSON messages mix in: they are this format's lines too, to
/// skip), else those with the keys.
fn sniff(lines: &[&str], _: &super::Custom) -> usize {
    let (mut json, mut istio) = (0, 0);
    for l in lines {
        let Ok(r) = super::json::parse(l) else {
            continue;
        };
        json += 1;
        let has = |k: &str| r.get(k).is_some();
        istio += (has("response_code")
            && has("response_flags")
            && (has("start_time") || has("upstream_host"))) as usize;
    }
    if istio > 0 && istio * 2 >= json {
        json
    } else {
        istio
    }
}

#[derive(Clone)]
struct IstioParser;

impl super::FormatParser for IstioParser {
    fn parse<'a>(&mut self, line: &'a str) -> Result<super::Parsed<'a>, SkipReason> {
        let json = super::json::parse(line)?;
        Ok(super::Parsed::Other(Box::new(IstioRecord::new(json))))
    }

    fn clone_box(&self) -> Box<dyn super::FormatParser> {
        Box::new(self.clone())
    }
}

/// A JSON line with Istio's derived values: `response_code` after the RL
/// rule (absent for a code of 0), and `client_ip`.
struct IstioRecord<'a> {
    json: JsonRecord<'a>,
    status: Option<String>,
    client_ip: Option<String>,
}

impl<'a> IstioRecord<'a> {
    fn new(json: JsonRecord<'a>) -> Self {
        let status = {
            let code = json.get("response_code");
            let flags = json.get("response_flags");
            super::envoy::status(code.as_deref(), flags.as_deref()).map(str::to_string)
        };
        let client_ip = {
            let xff = json.get("x_forwarded_for");
            let remote = json.get("downstream_remote_address");
            super::envoy::client_ip(xff.as_deref(), remote.as_deref()).map(str::to_string)
        };
        IstioRecord {
            json,
            status,
            client_ip,
        }
    }
}

impl Record for IstioRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        let listed = self.json.visit(&mut |k, v| {
            // Replaced by the derived values below.
            if !matches!(k, Key::Name("response_code") | Key::Name(CLIENT_IP)) {
                f(k, v)
            }
        });
        if let Some(s) = &self.status {
            f(Key::Name("response_code"), Cow::Borrowed(s));
        }
        if let Some(c) = &self.client_ip {
            f(Key::Name(CLIENT_IP), Cow::Borrowed(c));
        }
        listed
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "response_code" => self.status.as_deref().map(Cow::Borrowed),
            CLIENT_IP => self.client_ip.as_deref().map(Cow::Borrowed),
            _ => self.json.get(key),
        }
    }
}

#[cfg(test)]
mod tests;
