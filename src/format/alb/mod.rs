//! AWS Application Load Balancer access logs: space-separated fields in a
//! fixed order, some of them quoted, new fields appended at the end over
//! the years (ignored here). This module owns the ALB line: its fields by
//! their documented names, plus the client address without its port and
//! the processing time the load balancer saw.
//!
//! ```text
//! https 2026-03-02T08:00:01.214903Z app/auth-prod/50dc6c495c0c9188 203.0.113.9:52144 10.0.1.17:8080 0.001 0.012 0.000 401 401 512 298 "GET https://auth.example.com:443/v1/me HTTP/1.1" "acme-desktop/4.2.1 (Windows NT 10.0)" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/auth-api/73e2d6bc24d8a067 "Root=1-65e2dc01-1d84f3d73c47ec4e58577259" "auth.example.com" "session-reused" 1 2026-03-02T08:00:01.201000Z "forward" "-" "-" "10.0.1.17:8080" "401" "-" "-" TID_4e1f2a
//! ```
//!
//! Mapping: the time is `request_creation_time` (when the request arrived:
//! retries are chained on arrivals; `time` is when the response left), the
//! status `elb_status_code` (what the client got), the bytes `sent_bytes`.
//! The latency is `processing_time`, the sum of the request, target and
//! response processing times: what the client waited for at the load
//! balancer, which is what makes a client time out and retry. ALB writes
//! `-1` for all three when no target answered (or the connection broke):
//! then there is no latency, not a negative one. The target's time alone
//! is `target_processing_time` (`[fields] latency = "target_processing_time"`
//! with `latency_unit = "s"`).

use std::borrow::Cow;

use super::{FormatParser, Parsed, SkipReason, Source};
use crate::format::record::{Key, Record};

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "alb",
    title: "AWS Application Load Balancer access log",
    detection: "a request type (`http`, `https`, `h2`, `grpcs`, `ws`, `wss`), an ISO-8601 time, \
                the load balancer, `client:port`, ... a quoted request: the 22 fields up to \
                `request_creation_time` at least",
    example: r#"https 2026-03-02T08:00:01.214903Z app/auth-prod/50dc6c495c0c9188 203.0.113.9:52144 10.0.1.17:8080 0.001 0.012 0.000 401 401 512 298 "GET https://auth.example.com:443/v1/me HTTP/1.1" "acme-desktop/4.2.1 (Windows NT 10.0)" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/auth-api/73e2d6bc24d8a067 "Root=1-65e2dc01-1d84f3d73c47ec4e58577259" "auth.example.com" "session-reused" 1 2026-03-02T08:00:01.201000Z "forward" "-" "-" "10.0.1.17:8080" "401" "-" "-" TID_4e1f2a"#,
    sources: &[
        Source::new("timestamp", "request_creation_time"),
        Source::new("client_ip", "client_ip"),
        Source::new("status", "elb_status_code"),
        Source::new("bytes", "sent_bytes"),
        Source::latency(PROCESSING_TIME, "s"),
    ],
    stateful: false,
    sniff: |lines, _| super::count_read(lines, |l| parse(l).is_ok()),
    parser: |_| Ok(super::LineParser::Other(Box::new(AlbParser))),
};

/// The documented fields, in their order on the line (the AWS guide's
/// "Access log entries"; `target:port_list` and later came after 2018,
/// `conn_trace_id` and the transform fields after 2023).
pub const FIELDS: &[&str] = &[
    "type",
    "time",
    "elb",
    "client:port",
    "target:port",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target:port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
    "transformed_host",
    "transformed_uri",
    "request_transform_status",
];

/// A line needs every field up to `request_creation_time`; older lines
/// stop there or a little later, newer ones have more.
const REQUIRED: usize = 22;

const TYPES: &[&str] = &["http", "https", "h2", "grpcs", "ws", "wss"];

const CLIENT: usize = 3;
const TIMES: [usize; 3] = [5, 6, 7];
const REQUEST: usize = 12;

/// The address of `client:port`, a key of the record.
const CLIENT_IP: &str = "client_ip";
/// The sum of the three processing times, in seconds, a key of the record.
const PROCESSING_TIME: &str = "processing_time";

#[derive(Clone)]
struct AlbParser;

impl FormatParser for AlbParser {
    fn parse<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, SkipReason> {
        parse(line).map(|r| Parsed::Other(Box::new(r)))
    }

    fn clone_box(&self) -> Box<dyn FormatParser> {
        Box::new(self.clone())
    }
}

/// One ALB line: its known fields (unquoted; `-` kept, answered as absent)
/// and the values made from them.
pub struct AlbRecord<'a> {
    fields: [&'a str; FIELDS.len()],
    /// How many of `fields` the line had.
    len: usize,
    client_ip: Option<&'a str>,
    /// The request line, unless the client never sent a whole one.
    request: Option<&'a str>,
    processing_time: Option<String>,
}

impl AlbRecord<'_> {
    fn value(&self, i: usize) -> Option<&str> {
        let v = *self.fields[..self.len].get(i)?;
        match i {
            REQUEST => self.request,
            _ if v == "-" || v.is_empty() => None,
            _ => Some(v),
        }
    }
}

impl Record for AlbRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        for (i, name) in FIELDS.iter().enumerate().take(self.len) {
            if let Some(v) = self.value(i) {
                f(Key::Name(name), Cow::Borrowed(v));
            }
        }
        if let Some(ip) = self.client_ip {
            f(Key::Name(CLIENT_IP), Cow::Borrowed(ip));
        }
        if let Some(t) = &self.processing_time {
            f(Key::Name(PROCESSING_TIME), Cow::Borrowed(t.as_str()));
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            CLIENT_IP => self.client_ip.map(Cow::Borrowed),
            PROCESSING_TIME => self.processing_time.as_deref().map(Cow::Borrowed),
            _ => {
                let i = FIELDS.iter().position(|n| *n == key)?;
                self.value(i).map(Cow::Borrowed)
            }
        }
    }
}

/// Splits an ALB line into its fields. Quoted fields end at a quote
/// followed by a space or the end of the line (a user agent may hold a
/// quote). Fields past the known ones are ignored.
pub fn parse(line: &str) -> Result<AlbRecord<'_>, SkipReason> {
    let mut fields = [""; FIELDS.len()];
    let mut len = 0;
    // Bit `n`: field `n` was quoted.
    let mut quoted = 0u64;
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && len < FIELDS.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let (value, next) = if b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            loop {
                match line[j..].find('"') {
                    Some(k) => {
                        j += k;
                        if b.get(j + 1).is_none_or(|c| *c == b' ') {
                            break;
                        }
                        j += 1;
                    }
                    None => return Err(SkipReason::Unparsable),
                }
            }
            quoted |= 1 << len;
            (&line[start..j], j + 1)
        } else {
            let end = line[i..].find(' ').map_or(b.len(), |k| i + k);
            (&line[i..end], end)
        };
        fields[len] = value;
        len += 1;
        i = next;
    }
    if len < REQUIRED || !TYPES.contains(&fields[0]) || !iso_time(fields[1]) {
        return Err(SkipReason::Unparsable);
    }
    // `request` and `user_agent` are the first quoted fields: a line whose
    // request was not quoted is not ALB's (or is cut).
    if (quoted >> REQUEST) & 0b11 != 0b11 {
        return Err(SkipReason::Unparsable);
    }
    Ok(AlbRecord {
        client_ip: client_address(fields[CLIENT]),
        request: whole_request(fields[REQUEST]),
        processing_time: processing_time(&fields),
        fields,
        len,
    })
}

/// `2026-03-02T08:00:01.214903Z`, roughly: enough to tell ALB's second
/// field from anything else.
fn iso_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[..4].iter().all(u8::is_ascii_digit)
}

/// The address of `client:port`: IPv4 `203.0.113.9:52144`, and IPv6,
/// which ALB writes without brackets (`2001:db8::7:50718`): the port is
/// after the last colon either way. A bracketed `[2001:db8::7]:50718`
/// is taken too.
fn client_address(s: &str) -> Option<&str> {
    if s == "-" || s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest
            .split_once(']')
            .map(|(a, _)| a)
            .filter(|a| !a.is_empty());
    }
    match s.rsplit_once(':') {
        Some((addr, port)) if !addr.is_empty() && port.bytes().all(|c| c.is_ascii_digit()) => {
            Some(addr)
        }
        _ => Some(s),
    }
}

/// The request line, unless ALB wrote its placeholder for a request the
/// client never finished (`- http://auth.example.com:80- -`): that line
/// has no method and no path, only its status.
fn whole_request(s: &str) -> Option<&str> {
    if s.is_empty() || s == "-" || s.starts_with("- ") {
        None
    } else {
        Some(s)
    }
}

/// The sum of the three processing times in seconds; none when any is
/// `-1` (no target answered, or the connection broke) or unreadable.
fn processing_time(fields: &[&str; FIELDS.len()]) -> Option<String> {
    let mut sum = 0.0;
    for i in TIMES {
        let v: f64 = fields[i].parse().ok()?;
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        sum += v;
    }
    // Rounded to the microsecond: the inputs have millisecond precision,
    // and their binary sum would print as 0.013000000000000001.
    Some(format!("{}", (sum * 1e6).round() / 1e6))
}

#[cfg(test)]
mod tests;
