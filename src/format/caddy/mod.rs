//! Caddy v2's JSON access log (the `log` directive with `format json`, the
//! default when not writing to a terminal): one zap entry per request from
//! a logger named `http.log.access` (`http.log.access.log0`...), with the
//! request as a nested object and headers as lists:
//!
//! ```text
//! {"level":"info","ts":1772438401.5241024,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"203.0.113.9","remote_port":"41342","client_ip":"203.0.113.9","proto":"HTTP/2.0","method":"GET","host":"api.acme.test","uri":"/v1/me","headers":{"User-Agent":["AcmeVoice-Mobile/6.9.8"],"Authorization":["REDACTED"]}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":88,"status":401,"resp_headers":{"Www-Authenticate":["Bearer error=\"invalid_token\", error_description=\"The access token expired\""]}}
//! ```
//!
//! This module owns what plain JSON cannot say about such a line, so it
//! reads lines through a thin wrapper over the JSON scanner rather than
//! the JSON fast path:
//! - entries of Caddy's other loggers (`http.handlers.reverse_proxy`,
//!   `http.log.error`, `tls`...) land in the same stream when stderr is
//!   captured, and carry the `request` object (method, uri) too: they are
//!   `not_a_request`, not requests without a status;
//! - `Authorization` is logged as `["REDACTED"]` since v2.8 (as `[]`
//!   before) unless `log_credentials` is on: a redacted (or empty) value is
//!   no token, while a real `Bearer eyJ...` is one;
//! - `duration` is seconds by default, but `duration_format` may make it
//!   integer nanoseconds or Go's duration text (`6.31ms`): both are turned
//!   into seconds (`ms` floats cannot be told from seconds: map the field
//!   with `latency_unit = "ms"` for those);
//! - `status` 0 ("nothing written by Caddy") is no status.

use std::borrow::Cow;

use super::{Parsed, SkipReason, Source};
use crate::format::json::{self, JsonRecord};
use crate::format::record::Record;

#[cfg(test)]
mod tests;

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "caddy",
    title: "Caddy v2 JSON access log (`log` directive)",
    detection: "JSON lines with Caddy's nested `request` (`remote_ip`/`client_ip`) and a \
                `status`, or an `http.log.access` logger; Caddy's other log entries around \
                them count too",
    example: r#"{"level":"info","ts":1772438401.5241024,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"203.0.113.9","remote_port":"41342","client_ip":"203.0.113.9","proto":"HTTP/2.0","method":"GET","host":"api.acme.test","uri":"/v1/me","headers":{"User-Agent":["AcmeVoice-Mobile/6.9.8"],"Authorization":["REDACTED"]}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":88,"status":401,"resp_headers":{"Www-Authenticate":["Bearer error=\"invalid_token\", error_description=\"The access token expired\""]}}"#,
    sources: &[
        Source::new("timestamp", "ts"),
        // The "real" client behind `trusted_proxies` (v2.7+) first.
        Source::new("client_ip", "request.client_ip"),
        Source::new("client_ip", "request.remote_ip"),
        Source::new("user", "user_id"),
        Source::new("method", "request.method"),
        Source::new("path", "request.uri"),
        Source::new("status", "status"),
        Source::new("bytes", "size"),
        Source::new("user_agent", "request.headers.User-Agent"),
        Source::new("token", AUTHORIZATION),
        // Go canonicalizes header names: `WWW-Authenticate` is logged so.
        Source::new("token_detail", "resp_headers.Www-Authenticate"),
        Source::latency("duration", "s"),
    ],
    stateful: false,
    sniff,
    parser: |_| Ok(super::LineParser::Other(Box::new(CaddyParser))),
};

const AUTHORIZATION: &str = "request.headers.Authorization";

/// The prefix of the access loggers' names (`http.log.access`, and
/// `http.log.access.<name>` for a named `log`).
const ACCESS_LOGGER: &str = "http.log.access";

#[derive(Clone)]
struct CaddyParser;

impl super::FormatParser for CaddyParser {
    fn parse<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, SkipReason> {
        parse(line).map(|r| Parsed::Other(Box::new(r)))
    }

    fn clone_box(&self) -> Box<dyn super::FormatParser> {
        Box::new(self.clone())
    }
}

/// Parses one line: an access entry, or `NotARequest` for an entry of
/// another logger. An entry without a `logger` (renamed `name_key`) is
/// taken as an access entry.
pub fn parse(line: &str) -> Result<json::Reread<'_>, SkipReason> {
    let json = json::parse(line)?;
    if json.get("logger").is_some_and(|l| !is_access_logger(&l)) {
        return Err(SkipReason::NotARequest);
    }
    Ok(json::Reread { json, value })
}

fn is_access_logger(name: &str) -> bool {
    name.strip_prefix(ACCESS_LOGGER)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The value of pair `key` as the mapping should see it: `None` for a
/// value that says nothing (a redacted credential, status 0).
fn value<'s>(key: &str, v: &'s str) -> Option<Cow<'s, str>> {
    match key {
        AUTHORIZATION if is_redacted(v) => None,
        "duration" => seconds(v),
        "status" if v == "0" => None,
        _ => Some(Cow::Borrowed(v)),
    }
}

/// What Caddy writes for a credential header it does not log: `REDACTED`
/// (v2.8+, and the docs' `filter` examples), nothing (`[]`, before), or
/// an empty string.
fn is_redacted(v: &str) -> bool {
    let t = v.trim();
    t.is_empty() || t.eq_ignore_ascii_case("redacted")
}

/// A `duration` in seconds: zap's default float as it stands; integer
/// nanoseconds (`duration_format ns`; a float in seconds is never a whole
/// number of seconds to the nanosecond, 0 aside); Go's duration text
/// (`duration_format string`). `None` for anything else.
fn seconds(v: &str) -> Option<Cow<'_, str>> {
    let b = v.as_bytes();
    if b.first().is_some_and(u8::is_ascii_digit) && b.iter().all(|&c| c.is_ascii_digit()) {
        if v.bytes().all(|c| c == b'0') {
            return Some(Cow::Borrowed(v));
        }
        let ns: u64 = v.parse().ok()?;
        return Some(Cow::Owned((ns as f64 / 1e9).to_string()));
    }
    if v.parse::<f64>().is_ok() {
        return Some(Cow::Borrowed(v));
    }
    go_duration(v).map(|s| Cow::Owned(s.to_string()))
}

/// Go's `time.Duration.String()` (`1h2m3.5s`, `6.31ms`, `850µs`, `0s`) in
/// seconds; negative durations are no latency.
fn go_duration(v: &str) -> Option<f64> {
    let mut rest = v;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let (scale, len) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("μs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, s)| (*s, u.len()))?;
        total += value * scale;
        rest = &rest[len..];
    }
    Some(total)
}

/// Whether `rec` is an access entry by its own keys: an access logger's
/// name, or the nested request's address with a status.
fn is_access_entry(rec: &JsonRecord<'_>) -> bool {
    let mut request = false;
    let mut status = false;
    for j in 0..rec.len() {
        match rec.key(j) {
            "logger" if is_access_logger(rec.value(j)) => return true,
            "request.remote_ip" | "request.client_ip" => request = true,
            "status" => status = true,
            _ => {}
        }
    }
    request && status
}

/// The access entries of the sample, and its other JSON lines (Caddy's
/// other loggers, in the same stream) when access entries are at least
/// half of them: a JSON log of something else with a Caddy-like line or
/// two stays plain JSON.
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
