//! Envoy's default access log format (and Istio's longer text default,
//! which adds response code details, termination details and the
//! transport failure reason after the flags, and addresses at the end):
//!
//! `[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"`
//!
//! This module owns reading such a line into named values, and the two
//! rules Envoy's logs share with Istio's JSON ones ([`client_ip`],
//! [`status`]): the client is X-Forwarded-For's first address, and a
//! request the rate limiter refused (`RL`) answers 429.

use std::borrow::Cow;
use std::sync::Arc;

use super::{IndexedRecord, SkipReason};

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "envoy",
    title: "Envoy default access log (and Istio's text default)",
    detection: "`[start time] \"METHOD path protocol\" code flags ... \"x-forwarded-for\" \"user-agent\" \"request-id\" \"authority\" \"upstream host\"`",
    example: r#"[2026-03-02T08:00:01.123Z] "POST /oauth/token HTTP/1.1" 429 RL 0 18 1 - "203.0.113.9" "AcmeVoice-Mobile/6.9.8" "5f0c8f0e-7d0a-4d7e-9d3a-1b2c3d4e5f60" "auth.acme.example" "-""#,
    sources: &[
        super::Source::new("timestamp", "start_time"),
        super::Source::new("client_ip", "client_ip"),
        super::Source::new("status", "response_code"),
        super::Source::new("bytes", "bytes_sent"),
        // Milliseconds: the general `duration` is taken as seconds.
        super::Source::latency("duration", "ms"),
        super::Source::new("user_agent", "user_agent"),
    ],
    stateful: false,
    sniff: |lines, _| super::count_read(lines, |l| parse_fields(l).is_some()),
    parser: |_| {
        Ok(super::LineParser::Other(Box::new(EnvoyParser {
            names: NAMES.iter().map(|n| n.to_string()).collect(),
        })))
    },
};

/// The record's keys, Istio's JSON names for the same operators: the
/// line's fields (by [`Layout`]) then the two derived ones.
const NAMES: [&str; 25] = [
    "start_time",
    "method",
    "path",
    "protocol",
    "response_code",
    "response_flags",
    "response_code_details",
    "connection_termination_details",
    "upstream_transport_failure_reason",
    "bytes_received",
    "bytes_sent",
    "duration",
    "upstream_service_time",
    "x_forwarded_for",
    "user_agent",
    "request_id",
    "authority",
    "upstream_host",
    "upstream_cluster",
    "upstream_local_address",
    "downstream_local_address",
    "downstream_remote_address",
    "requested_server_name",
    "route_name",
    // Derived by [`client_ip`].
    "client_ip",
];
const RESPONSE_CODE: usize = 4;
const RESPONSE_FLAGS: usize = 5;
const X_FORWARDED_FOR: usize = 13;
const DOWNSTREAM_REMOTE_ADDRESS: usize = 21;
const CLIENT_IP: usize = 24;

#[derive(Clone)]
struct EnvoyParser {
    names: Arc<[String]>,
}

/// The text a value borrows from the line (all of them do).
fn text<'a>(v: &Option<Cow<'a, str>>) -> Option<&'a str> {
    match v {
        Some(Cow::Borrowed(s)) => Some(*s),
        _ => None,
    }
}

impl super::FormatParser for EnvoyParser {
    fn parse<'a>(&mut self, line: &'a str) -> Result<super::Parsed<'a>, SkipReason> {
        let mut v = parse_fields(line).ok_or(SkipReason::Unparsable)?;
        v[CLIENT_IP] = client_ip(
            text(&v[X_FORWARDED_FOR]),
            text(&v[DOWNSTREAM_REMOTE_ADDRESS]),
        )
        .map(Cow::Borrowed);
        // The code as counted (the RL rule; 0 as none), under its own name.
        v[RESPONSE_CODE] =
            status(text(&v[RESPONSE_CODE]), text(&v[RESPONSE_FLAGS])).map(Cow::Borrowed);
        Ok(super::Parsed::Indexed(IndexedRecord {
            names: self.names.clone(),
            values: v,
        }))
    }

    fn clone_box(&self) -> Box<dyn super::FormatParser> {
        Box::new(self.clone())
    }
}

/// A token of a line: its text and whether it was quoted.
type Token<'a> = (&'a str, bool);

/// Splits a line into its tokens: the leading `[start time]`, `"..."`
/// (Envoy does not escape quotes inside values: a quote ends the token
/// only before a space or the line's end) and bare words (a later `[`
/// starts a bare IPv6 address, `[2001:db8::1]:443`).
fn tokens(line: &str) -> Option<Vec<Token<'_>>> {
    let mut out = Vec::with_capacity(24);
    let mut rest = line.trim_end();
    while !rest.is_empty() {
        let (tok, r) = match rest.as_bytes()[0] {
            b'[' if out.is_empty() => {
                let end = rest
                    .find("] ")
                    .or_else(|| rest.strip_suffix(']').map(|_| rest.len() - 1))?;
                ((&rest[1..end], false), &rest[end + 1..])
            }
            b'"' => {
                let body = &rest[1..];
                let end = body
                    .find("\" ")
                    .or_else(|| body.strip_suffix('"').map(|_| body.len() - 1))?;
                ((&body[..end], true), &body[end + 1..])
            }
            _ => match rest.find(' ') {
                Some(i) => ((&rest[..i], false), &rest[i..]),
                None => ((rest, false), ""),
            },
        };
        out.push(tok);
        rest = r.trim_start_matches(' ');
    }
    Some(out)
}

/// Whether `v` is a count or `-`.
fn count(v: &str) -> bool {
    v == "-" || (!v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()))
}

/// A value, `-` (Envoy's "not set") and empty as none.
fn value(v: &str) -> Option<Cow<'_, str>> {
    (!v.is_empty() && v != "-").then_some(Cow::Borrowed(v))
}

/// The line's fields, by [`NAMES`]; `None` when it is not Envoy's default
/// layout (the short one or Istio's long one; fields after them, as a
/// longer format adds, are ignored).
fn parse_fields(line: &str) -> Option<Vec<Option<Cow<'_, str>>>> {
    if !line.starts_with('[') {
        return None;
    }
    let t = tokens(line)?;
    let bare = |i: usize| t.get(i).filter(|t| !t.1).map(|t| t.0);
    let quoted = |i: usize| t.get(i).filter(|t| t.1).map(|t| t.0);
    // `2026-03-02T08:00:01.123Z`.
    let start = bare(0)?.as_bytes();
    if start.len() < 19 || start[4] != b'-' || start[10] != b'T' {
        return None;
    }
    let request = quoted(1)?;
    let code = bare(2)?;
    let flags = bare(3)?;
    if !count(code) {
        return None;
    }
    // The long layout has the code details, the termination details and a
    // quoted transport failure reason between the flags and the counts.
    let long = quoted(6).is_some();
    let base = if long { 7 } else { 4 };
    // Bytes received, bytes sent, duration, upstream service time.
    if !(base..base + 4).all(|i| bare(i).is_some_and(count)) {
        return None;
    }
    // X-Forwarded-For, user agent, request id, authority, upstream host.
    if !(base + 4..base + 9).all(|i| quoted(i).is_some()) {
        return None;
    }
    let mut v: Vec<Option<Cow<'_, str>>> = vec![None; NAMES.len()];
    v[0] = value(bare(0)?);
    // `METHOD PATH PROTOCOL`; `- - -` for a TCP connection.
    for (slot, part) in v[1..=3].iter_mut().zip(request.splitn(3, ' ')) {
        *slot = value(part);
    }
    v[4] = value(code);
    v[5] = value(flags);
    if long {
        v[6] = value(bare(4)?);
        v[7] = value(bare(5)?);
        v[8] = value(quoted(6)?);
    }
    for k in 0..4 {
        v[9 + k] = value(bare(base + k)?);
    }
    for k in 0..5 {
        v[13 + k] = value(quoted(base + 4 + k)?);
    }
    // Istio's long layout then names the cluster and the addresses.
    if long {
        for k in 0..6 {
            v[18 + k] = t.get(base + 9 + k).and_then(|t| value(t.0));
        }
    }
    Some(v)
}

/// The client's address: X-Forwarded-For's first (the client as the first
/// proxy saw it), else the downstream peer's address without its port.
pub fn client_ip<'a>(forwarded_for: Option<&'a str>, remote: Option<&'a str>) -> Option<&'a str> {
    let first = forwarded_for
        .and_then(|x| x.split(',').next())
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "-");
    first.or_else(|| remote.and_then(strip_port).filter(|a| !a.is_empty()))
}

/// `10.0.0.1:5432` → `10.0.0.1`, `[2001:db8::1]:443` → `2001:db8::1`; an
/// address without a port as it is.
fn strip_port(a: &str) -> Option<&str> {
    if let Some(r) = a.strip_prefix('[') {
        return r.split_once(']').map(|(ip, _)| ip);
    }
    match a.rsplit_once(':') {
        // One colon: IPv4 and port. More: a bare IPv6 address.
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|c| c.is_ascii_digit()) => {
            Some(ip)
        }
        _ => Some(a),
    }
}

/// The status to count: the response code, except that a request the
/// local rate limiter refused (flag `RL`) is a 429 even where the code is
/// missing or 0, as a rate limit is mitigation evidence; a code of 0 (no
/// response began: the client went away, or a reset) is no status, and
/// the request is kept.
pub fn status<'a>(code: Option<&'a str>, flags: Option<&str>) -> Option<&'a str> {
    let limited = flags.is_some_and(|f| f.split(',').any(|f| f.trim() == "RL"));
    match code.map(str::trim) {
        Some(c) if !c.is_empty() && c.bytes().any(|b| b != b'0') => Some(c),
        _ if limited => Some("429"),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
