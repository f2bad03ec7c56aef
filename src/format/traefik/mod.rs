//! Traefik's JSON access log (`accessLog.format=json`, v2 and v3): one flat
//! object per request, keys as in Traefik's field table (sorted, as
//! logrus writes them), kept headers as `request_<Name>`,
//! `origin_<Name>` and `downstream_<Name>`:
//!
//! ```text
//! {"ClientAddr":"203.0.113.9:52114","ClientHost":"203.0.113.9","ClientPort":"52114","ClientUsername":"-","DownstreamContentSize":57,"DownstreamStatus":401,"Duration":3188460,"OriginContentSize":57,"OriginDuration":2901220,"OriginStatus":401,"Overhead":287240,"RequestAddr":"api.acme.test","RequestContentSize":0,"RequestCount":1841,"RequestHost":"api.acme.test","RequestMethod":"GET","RequestPath":"/v1/me","RequestPort":"-","RequestProtocol":"HTTP/2.0","RequestScheme":"https","RetryAttempts":0,"RouterName":"api@docker","ServiceAddr":"10.0.4.12:8080","ServiceName":"api@docker","ServiceURL":"http://10.0.4.12:8080","StartLocal":"2026-03-02T08:00:01.250431170Z","StartUTC":"2026-03-02T08:00:01.250431170Z","entryPointName":"websecure","level":"info","msg":"","request_Authorization":"REDACTED","request_User-Agent":"acme-desktop/4.2.1 (Windows NT 10.0)","time":"2026-03-02T08:00:01Z"}
//! ```
//!
//! This module owns what plain JSON cannot say about such a line, so it
//! reads lines through a thin wrapper over the JSON scanner rather than
//! the JSON fast path:
//! - `RetryAttempts` counts Traefik's own retries of the request to the
//!   backend: a line with one or more is marked as attempt
//!   `RetryAttempts + 1`; a line with none has no attempt number at all,
//!   since an explicit attempt of 1 would stop the retry stage from
//!   finding the client's own retries (`retry::label_of`);
//! - a header kept with `redact` is logged as `REDACTED`: no token;
//! - `ClientHost` is the whole `X-Forwarded-For` value when the request
//!   had one (`203.0.113.9, 10.0.0.2`): the client is its first address;
//! - `DownstreamStatus` 0 (a hijacked connection, a WebSocket) is no
//!   status.
//!
//! Traefik's default access log (`common`, a combined-like line) is not
//! this format: the `combined` format reads it.

use std::borrow::Cow;

use super::{Parsed, SkipReason, Source};
use crate::format::json::{self, JsonRecord};

#[cfg(test)]
mod tests;

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "traefik",
    title: "Traefik JSON access log (`accessLog.format=json`)",
    detection: "JSON lines with Traefik's keys (`DownstreamStatus`, `OriginStatus`, \
                `RouterName`, `StartUTC`...)",
    example: r#"{"ClientAddr":"203.0.113.9:52114","ClientHost":"203.0.113.9","ClientPort":"52114","ClientUsername":"-","DownstreamContentSize":57,"DownstreamStatus":401,"Duration":3188460,"OriginContentSize":57,"OriginDuration":2901220,"OriginStatus":401,"Overhead":287240,"RequestAddr":"api.acme.test","RequestContentSize":0,"RequestCount":1841,"RequestHost":"api.acme.test","RequestMethod":"GET","RequestPath":"/v1/me","RequestPort":"-","RequestProtocol":"HTTP/2.0","RequestScheme":"https","RetryAttempts":0,"RouterName":"api@docker","ServiceAddr":"10.0.4.12:8080","ServiceName":"api@docker","ServiceURL":"http://10.0.4.12:8080","StartLocal":"2026-03-02T08:00:01.250431170Z","StartUTC":"2026-03-02T08:00:01.250431170Z","entryPointName":"websecure","level":"info","msg":"","request_Authorization":"REDACTED","request_User-Agent":"acme-desktop/4.2.1 (Windows NT 10.0)","time":"2026-03-02T08:00:01Z"}"#,
    sources: &[
        // `StartLocal` when `StartUTC` is dropped (the docs' way to log
        // local time); `time` is when the line was written.
        Source::new("timestamp", "StartUTC"),
        Source::new("timestamp", "StartLocal"),
        Source::new("client_ip", CLIENT_HOST),
        Source::new("user", "ClientUsername"),
        Source::new("method", "RequestMethod"),
        Source::new("path", "RequestPath"),
        // What the client got; `OriginStatus` is the backend's (0 when
        // Traefik answered itself).
        Source::new("status", DOWNSTREAM_STATUS),
        Source::new("bytes", "DownstreamContentSize"),
        Source::new("user_agent", "request_User-Agent"),
        Source::new("token", AUTHORIZATION),
        // Go canonicalizes header names: `WWW-Authenticate` is logged so.
        Source::new("token_detail", "downstream_Www-Authenticate"),
        Source::new("token_detail", "origin_Www-Authenticate"),
        Source::latency("Duration", "ns"),
        Source::new("attempt", RETRY_ATTEMPTS),
    ],
    stateful: false,
    sniff,
    parser: |_| Ok(super::LineParser::Other(Box::new(TraefikParser))),
};

const AUTHORIZATION: &str = "request_Authorization";
const CLIENT_HOST: &str = "ClientHost";
const DOWNSTREAM_STATUS: &str = "DownstreamStatus";
const RETRY_ATTEMPTS: &str = "RetryAttempts";

/// Keys only Traefik's access log has (any of them may be dropped by
/// `accessLog.fields.names`, so one is enough).
const OWN_KEYS: [&str; 6] = [
    DOWNSTREAM_STATUS,
    "OriginStatus",
    "DownstreamContentSize",
    "RouterName",
    "StartUTC",
    "StartLocal",
];

#[derive(Clone)]
struct TraefikParser;

impl super::FormatParser for TraefikParser {
    fn parse<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, SkipReason> {
        parse(line).map(|r| Parsed::Other(Box::new(r)))
    }

    fn clone_box(&self) -> Box<dyn super::FormatParser> {
        Box::new(self.clone())
    }
}

/// Parses one line. Traefik's own JSON log lines (no request keys) are
/// left to the mapping, which finds no request in them (`not_a_request`).
pub fn parse(line: &str) -> Result<json::Reread<'_>, SkipReason> {
    Ok(json::Reread {
        json: json::parse(line)?,
        value,
    })
}

/// The value of pair `key` as the mapping should see it: `None` for a
/// value that says nothing.
fn value<'s>(key: &str, v: &'s str) -> Option<Cow<'s, str>> {
    match key {
        RETRY_ATTEMPTS => match v.parse::<u32>() {
            Ok(n @ 1..) => Some(Cow::Owned(n.saturating_add(1).to_string())),
            _ => None,
        },
        AUTHORIZATION if is_redacted(v) => None,
        CLIENT_HOST => v.split(',').next().map(|h| Cow::Borrowed(h.trim())),
        DOWNSTREAM_STATUS if v == "0" => None,
        _ => Some(Cow::Borrowed(v)),
    }
}

/// What `accessLog.fields.headers.names.<Name>=redact` writes, or an
/// empty header.
fn is_redacted(v: &str) -> bool {
    let t = v.trim();
    t.is_empty() || t == "REDACTED"
}

/// Whether the object has one of Traefik's own keys at its top level.
fn is_access_entry(rec: &JsonRecord<'_>) -> bool {
    (0..rec.len()).any(|j| OWN_KEYS.contains(&rec.key(j)))
}

/// The access entries of the sample, and its other JSON lines (Traefik's
/// own log, in the same stream) when access entries are at least half of
/// them: a JSON log of something else with a Traefik-like line or two
/// stays plain JSON.
fn sniff(lines: &[&str], _: &super::Custom) -> usize {
    let (mut access, mut json) = (0, 0);
    for l in lines {
        if let Ok(rec) = json::parse(l) {
            json += 1;
            access += is_access_entry(&rec) as usize;
        }
    }
    if access > 0 && access * 2 >= json {
        json
    } else {
        access
    }
}
