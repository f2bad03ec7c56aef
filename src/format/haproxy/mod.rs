//! HAProxy's `option httplog` lines (configuration manual, 8.2.3 "HTTP log
//! format"), with or without a syslog header (RFC 3164 or RFC 5424) before
//! them:
//!
//! `Feb  6 12:14:14 lb1 haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"`
//!
//! This module owns reading one such line into named values: the accept
//! date (the timestamp; no zone, so UTC), the timers (`Ta`, the total, is
//! the latency), the captured headers (named by `[format]
//! haproxy_request_headers` / `haproxy_response_headers`, else guessed)
//! and the request line.

use std::borrow::Cow;
use std::sync::Arc;

use super::SkipReason;
use crate::format::record::{Key, Record};

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "haproxy",
    title: "HAProxy `option httplog` (syslog or stdout)",
    detection: "`ip:port [dd/Mon/yyyy:hh:mm:ss.mmm] frontend backend/server TR/Tw/Tc/Tr/Ta status bytes ...`, \
                after any syslog header",
    example: r#"Mar  2 08:00:01 lb1 haproxy[14389]: 203.0.113.9:51234 [02/Mar/2026:08:00:01.123] https-in~ auth/auth1 0/0/1/12/13 401 230 - - ---- 12/12/3/1/0 0/0 {auth.acme.example|acme-desktop/4.2.1 (Windows NT 10.0)} "POST /oauth/token HTTP/1.1""#,
    sources: &[
        super::Source::new("timestamp", "accept_date"),
        super::Source::new("client_ip", "client_ip"),
        super::Source::new("method", "http_method"),
        super::Source::new("path", "http_uri"),
        super::Source::new("status", "status_code"),
        super::Source::new("bytes", "bytes_read"),
        super::Source::latency("Ta", "ms"),
        super::Source::new("user_agent", "req.user-agent"),
        super::Source::new("token", "req.authorization"),
        super::Source::new("token_detail", "res.www-authenticate"),
    ],
    stateful: false,
    sniff: |lines, custom| {
        let names = Names::new(custom);
        super::count_read(lines, |l| parse(l, &names).is_ok())
    },
    parser: |custom| {
        Ok(super::LineParser::Other(Box::new(HaproxyParser {
            names: Names::new(custom),
        })))
    },
};

/// What the user said the capture blocks hold (`[format]
/// haproxy_request_headers` / `haproxy_response_headers`), as record keys
/// (`req.user-agent`).
#[derive(Clone, Default)]
pub struct Names {
    request: Option<Arc<[Arc<str>]>>,
    response: Option<Arc<[Arc<str>]>>,
}

impl Names {
    fn new(custom: &super::Custom) -> Names {
        let keys = |prefix: &str, names: &Option<Arc<[String]>>| {
            names.as_ref().map(|n| {
                n.iter()
                    .map(|h| Arc::from(format!("{prefix}.{}", h.to_ascii_lowercase())))
                    .collect::<Arc<[Arc<str>]>>()
            })
        };
        Names {
            request: keys("req", &custom.haproxy_request_headers),
            response: keys("res", &custom.haproxy_response_headers),
        }
    }
}

#[derive(Clone)]
struct HaproxyParser {
    names: Names,
}

impl super::FormatParser for HaproxyParser {
    fn parse<'a>(&mut self, line: &'a str) -> Result<super::Parsed<'a>, SkipReason> {
        parse(line, &self.names).map(|r| super::Parsed::Other(Box::new(r)))
    }

    fn clone_box(&self) -> Box<dyn super::FormatParser> {
        Box::new(self.clone())
    }
}

/// A record key: one of the fixed fields, or a capture's.
#[derive(Clone)]
enum Name {
    Fixed(&'static str),
    Shared(Arc<str>),
}

impl Name {
    fn as_str(&self) -> &str {
        match self {
            Name::Fixed(s) => s,
            Name::Shared(s) => s,
        }
    }
}

/// A parsed line: its values by name, in line order.
pub struct HaproxyRecord<'a> {
    pairs: Vec<(Name, Cow<'a, str>)>,
}

impl Record for HaproxyRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        for (k, v) in &self.pairs {
            f(Key::Name(k.as_str()), Cow::Borrowed(v.as_ref()));
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        self.pairs
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| Cow::Borrowed(v.as_ref()))
    }
}

/// The names of the `/`-separated numbers of the timers, connection counts
/// and queues fields.
const TIMERS: [&str; 5] = ["TR", "Tw", "Tc", "Tr", "Ta"];
const CONNS: [&str; 5] = ["actconn", "feconn", "beconn", "srv_conn", "retries"];
const QUEUES: [&str; 2] = ["srv_queue", "backend_queue"];

/// Reads one line. The syslog header, if any, is whatever comes before the
/// client address: the body is recognised by its own shape, so RFC 3164,
/// RFC 5424 and no header at all read the same.
pub fn parse<'a>(line: &'a str, names: &Names) -> Result<HaproxyRecord<'a>, SkipReason> {
    let (client, rest) = body(line).ok_or(SkipReason::Unparsable)?;
    let (ip, port) = client.rsplit_once(':').ok_or(SkipReason::Unparsable)?;
    if ip.is_empty() || port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
        return Err(SkipReason::Unparsable);
    }
    let mut pairs: Vec<(Name, Cow<'a, str>)> = Vec::with_capacity(32);
    let mut put = |k: &'static str, v: &'a str| pairs.push((Name::Fixed(k), Cow::Borrowed(v)));
    put("client_ip", ip);
    put("client_port", port);
    // `[06/Feb/2009:12:14:14.655] `: checked by `body`.
    let close = rest.find("] ").ok_or(SkipReason::Unparsable)?;
    put("accept_date", &rest[1..close]);
    let mut rest = &rest[close + 2..];
    let mut field = || -> Result<&'a str, SkipReason> {
        let (f, r) = rest.split_once(' ').ok_or(SkipReason::Unparsable)?;
        rest = r;
        Ok(f)
    };
    let frontend = field()?;
    let (backend, server) = field()?.split_once('/').ok_or(SkipReason::Unparsable)?;
    let timers = field()?;
    let status = field()?;
    let bytes = field()?;
    let req_cookie = field()?;
    let res_cookie = field()?;
    let termination = field()?;
    let conns = field()?;
    let queues = field()?;
    put("frontend_name", frontend);
    put("backend_name", backend);
    put("server_name", server);
    // `-1` marks a phase that never happened (aborted, or denied before
    // it): no time, so left out. `+` (with `option logasap`) marks a total
    // still running when logged: the time so far.
    numbers(timers, &TIMERS, true, |k, v| {
        if v != "-1" {
            put(k, v.trim_start_matches('+'));
        }
    })?;
    // `-1` (or 0): the client went away before any response, so there is
    // no status; the request is still kept (a client that gives up is part
    // of a storm).
    match status {
        "-1" | "0" => {}
        s if s.len() == 3 && s.bytes().all(|c| c.is_ascii_digit()) => put("status_code", s),
        _ => return Err(SkipReason::Unparsable),
    }
    let b = bytes.trim_start_matches('+');
    if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
        return Err(SkipReason::Unparsable);
    }
    put("bytes_read", b);
    put("captured_request_cookie", req_cookie);
    put("captured_response_cookie", res_cookie);
    if !(2..=4).contains(&termination.len()) {
        return Err(SkipReason::Unparsable);
    }
    put("termination_state", termination);
    // `retries` is HAProxy's own retries to a server, not the client's:
    // it is kept under its own name, never as an attempt.
    numbers(conns, &CONNS, false, &mut put)?;
    numbers(queues, &QUEUES, false, &mut put)?;
    // Rest: `{request captures} {response captures} "request line"`, each
    // capture block there only when captures of its kind are configured.
    let mut blocks: Vec<&'a str> = Vec::new();
    while let Some(r) = rest.strip_prefix('{') {
        // `{`, `|`, `}` and `"` inside a capture are written `#XX`: the
        // first `}` closes the block.
        let end = r.find('}').ok_or(SkipReason::Unparsable)?;
        blocks.push(&r[..end]);
        rest = r[end + 1..].strip_prefix(' ').unwrap_or(&r[end + 1..]);
        if blocks.len() > 2 {
            return Err(SkipReason::Unparsable);
        }
    }
    let request = rest.strip_prefix('"').ok_or(SkipReason::Unparsable)?;
    // HAProxy cuts a long request line (`tune.http.logurilen`) and the
    // closing quote with it: what is there is still the method and the
    // start of the URI.
    let request = request.strip_suffix('"').unwrap_or(request);
    let (req_block, res_block) = match (blocks.as_slice(), &names.request, &names.response) {
        ([], _, _) => (None, None),
        ([one], None, Some(_)) => (None, Some(*one)),
        ([one], _, _) => (Some(*one), None),
        ([req, res, ..], _, _) => (Some(*req), Some(*res)),
    };
    if let Some(b) = req_block {
        captures(b, names.request.as_deref(), "req", true, &mut pairs);
    }
    if let Some(b) = res_block {
        captures(b, names.response.as_deref(), "res", false, &mut pairs);
    }
    request_line(request, &mut pairs);
    Ok(HaproxyRecord { pairs })
}

/// Finds the body: the client `ip:port` (an IPv6 address is written bare,
/// `2001:db8::7:51234`) before ` [dd/Mon/yyyy:hh:mm:ss...] `. Returns the
/// client and the rest from the `[`.
fn body(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(i) = line[from..].find(" [").map(|i| i + from) {
        let d = &b[i + 2..];
        let date = d.len() > 21
            && d[0].is_ascii_digit()
            && d[1].is_ascii_digit()
            && d[2] == b'/'
            && d[3..6].iter().all(u8::is_ascii_alphabetic)
            && d[6] == b'/'
            && d[7..11].iter().all(u8::is_ascii_digit)
            && d[11] == b':';
        if date {
            let start = line[..i].rfind(' ').map_or(0, |s| s + 1);
            return Some((&line[start..i], &line[i + 1..]));
        }
        from = i + 2;
    }
    None
}

/// Splits `a/b/c...` into exactly `keys.len()` numbers and hands each to
/// `put`: `-1` allowed when `signed`; a leading `+` allowed anywhere (as
/// `option logasap` and redispatched retries write them).
fn numbers<'a>(
    field: &'a str,
    keys: &[&'static str],
    signed: bool,
    mut put: impl FnMut(&'static str, &'a str),
) -> Result<(), SkipReason> {
    let mut n = 0;
    for (i, v) in field.split('/').enumerate() {
        let k = keys.get(i).ok_or(SkipReason::Unparsable)?;
        let digits = v.strip_prefix('+').unwrap_or(v);
        let digits = if signed {
            digits.strip_prefix('-').unwrap_or(digits)
        } else {
            digits
        };
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(SkipReason::Unparsable);
        }
        put(k, v);
        n += 1;
    }
    if n != keys.len() {
        return Err(SkipReason::Unparsable);
    }
    Ok(())
}

/// The values of a capture block (`|`-separated), under the configured
/// names when there are some, else numbered (`req.1`); in the request
/// block, without names, a value that looks like a user agent is also
/// offered as `req.user-agent`, and one like a credential as
/// `req.authorization`.
fn captures<'a>(
    block: &'a str,
    names: Option<&[Arc<str>]>,
    prefix: &'static str,
    request: bool,
    pairs: &mut Vec<(Name, Cow<'a, str>)>,
) {
    let (mut agent, mut credential) = (false, false);
    for (i, v) in block.split('|').enumerate() {
        let v = unhash(v);
        if v.is_empty() {
            continue;
        }
        match names.and_then(|n| n.get(i)) {
            Some(n) => pairs.push((Name::Shared(n.clone()), v)),
            None => {
                if request && names.is_none() {
                    if !agent && looks_like_agent(&v) {
                        agent = true;
                        pairs.push((Name::Fixed("req.user-agent"), v.clone()));
                    } else if !credential && looks_like_credential(&v) {
                        credential = true;
                        pairs.push((Name::Fixed("req.authorization"), v.clone()));
                    }
                }
                pairs.push((Name::Shared(Arc::from(format!("{prefix}.{}", i + 1))), v));
            }
        }
    }
}

/// A user agent starts with a product token and its version: `name/1...`
/// (`acme-desktop/4.2.1 (...)`, `Mozilla/5.0 ...`, `okhttp/4.12.0`). A
/// host, an address, a URL (`https://`: `:` before the `/`), a media type
/// (`application/json`: no digit after the `/`) or a credential (`Bearer
/// ...`: a space first) does not.
fn looks_like_agent(v: &str) -> bool {
    let Some((name, version)) = v.split_once('/') else {
        return false;
    };
    !name.is_empty()
        && name.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && version.bytes().next().is_some_and(|c| c.is_ascii_digit())
}

/// An `Authorization` value: `Bearer <token>` or `Basic <...>`.
fn looks_like_credential(v: &str) -> bool {
    let scheme = v.split(' ').next().unwrap_or("");
    v.len() > scheme.len() + 1
        && (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("basic"))
}

/// Decodes HAProxy's `#XX` escapes (captures and request lines write `"`,
/// `#`, `{`, `|`, `}` and control bytes that way).
fn unhash(v: &str) -> Cow<'_, str> {
    if !v.contains('#') {
        return Cow::Borrowed(v);
    }
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'#'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Borrowed(v),
    }
}

/// `METHOD URI PROTOCOL` into `http_method`, `http_uri` (an HTTP/2
/// absolute URI, `https://host/p`, as its path) and `http_version`.
/// `<BADREQ>` (an invalid request) has none; a cut line has no protocol.
fn request_line<'a>(request: &'a str, pairs: &mut Vec<(Name, Cow<'a, str>)>) {
    pairs.push((Name::Fixed("http_request"), unhash(request)));
    let Some((method, rest)) = request.split_once(' ') else {
        return;
    };
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
        return;
    }
    let (uri, version) = match rest.rsplit_once(' ') {
        Some((u, v)) if v.starts_with("HTTP/") => (u, Some(v)),
        _ => (rest, None),
    };
    let uri = match uri.split_once("://") {
        Some((scheme, after))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            after.find('/').map_or("/", |i| &after[i..])
        }
        _ => uri,
    };
    if uri.is_empty() {
        return;
    }
    pairs.push((Name::Fixed("http_method"), Cow::Borrowed(method)));
    pairs.push((Name::Fixed("http_uri"), unhash(uri)));
    if let Some(v) = version {
        pairs.push((Name::Fixed("http_version"), Cow::Borrowed(v)));
    }
}

#[cfg(test)]
mod tests;
