//! Apache/nginx common and combined formats, with nginx-style trailing
//! extras after the user agent: `key=value`, `key="quoted value"` and
//! unkeyed quoted fields (addressed as `extra_1`, `extra_2`, ...).

use std::borrow::Cow;

use super::SkipReason;
use crate::event::{Key, Record, SlotNames};

pub struct ClfRecord<'a> {
    pub remote_addr: Cow<'a, str>,
    pub ident: Cow<'a, str>,
    pub remote_user: Cow<'a, str>,
    pub time: Cow<'a, str>,
    pub request: Cow<'a, str>,
    pub status: Cow<'a, str>,
    pub bytes: Cow<'a, str>,
    pub referer: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    /// Trailing fields: `(Some(key), value)` or `(None, value)`. Inline
    /// up to a typical nginx line's count: no allocation per line.
    pub extras: smallvec::SmallVec<[(Option<&'a str>, Cow<'a, str>); 6]>,
}

impl ClfRecord<'_> {
    /// Method, target and protocol of the request line.
    fn request_parts(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        request_parts(self.request.as_ref())
    }
}

/// Method, target and protocol of a request line.
fn request_parts(r: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let b = r.as_bytes();
    let m = memchr::memchr(b' ', b).unwrap_or(b.len());
    let method = &r[..m];
    // A request line that is not `METHOD target [PROTO]` (scanners send
    // raw TLS bytes) has no method or path.
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
        return (None, None, None);
    }
    if m == b.len() {
        return (Some(method), None, None);
    }
    let rest = &r[m + 1..];
    match memchr::memchr(b' ', rest.as_bytes()) {
        Some(p) => (Some(method), Some(&rest[..p]), Some(&rest[p + 1..])),
        None => (Some(method), Some(rest), None),
    }
}

/// The fixed slots of a combined line and the names each answers to, in
/// the order [`ClfRecord::visit`] offers them.
pub const SLOTS: SlotNames = &[
    &["remote_addr", "client_ip"],
    &["remote_user"],
    &["ident"],
    &["time_local", "time", "timestamp"],
    &["request"],
    &["method", "request_method"],
    &["path", "uri", "request_uri"],
    &["protocol", "server_protocol"],
    &["status"],
    &["body_bytes_sent", "bytes"],
    &["http_referer", "referer"],
    &["http_user_agent", "user_agent"],
];

impl Record for ClfRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        let b = Cow::Borrowed;
        for (k, v) in &self.extras {
            if let Some(k) = k {
                f(Key::Name(k), b(v.as_ref()));
            }
        }
        f(Key::Slot(0), b(&self.remote_addr));
        f(Key::Slot(1), b(&self.remote_user));
        f(Key::Slot(2), b(&self.ident));
        f(Key::Slot(3), b(&self.time));
        f(Key::Slot(4), b(self.request.as_ref()));
        let (method, path, proto) = self.request_parts();
        for (i, v) in [(5, method), (6, path), (7, proto)] {
            if let Some(v) = v {
                f(Key::Slot(i), b(v));
            }
        }
        f(Key::Slot(8), b(&self.status));
        f(Key::Slot(9), b(&self.bytes));
        if let Some(r) = &self.referer {
            f(Key::Slot(10), b(r.as_ref()));
        }
        if let Some(ua) = &self.user_agent {
            f(Key::Slot(11), b(ua.as_ref()));
        }
        for (n, (_, v)) in self.extras.iter().filter(|(k, _)| k.is_none()).enumerate() {
            f(Key::Extra(n + 1), b(v.as_ref()));
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        if let Some((_, v)) = self.extras.iter().find(|(k, _)| *k == Some(key)) {
            return Some(Cow::Borrowed(v));
        }
        let b = Cow::Borrowed;
        match key {
            "remote_addr" | "client_ip" => Some(b(&self.remote_addr)),
            "remote_user" => Some(b(&self.remote_user)),
            "ident" => Some(b(&self.ident)),
            "time_local" | "time" | "timestamp" => Some(b(&self.time)),
            "request" => Some(b(&self.request)),
            "method" | "request_method" => self.request_parts().0.map(b),
            "path" | "uri" | "request_uri" => self.request_parts().1.map(b),
            "protocol" | "server_protocol" => self.request_parts().2.map(b),
            "status" => Some(b(&self.status)),
            "body_bytes_sent" | "bytes" => Some(b(&self.bytes)),
            "http_referer" | "referer" => self.referer.as_deref().map(b),
            "http_user_agent" | "user_agent" => self.user_agent.as_deref().map(b),
            _ => {
                let n: usize = key.strip_prefix("extra_")?.parse().ok()?;
                self.extras
                    .iter()
                    .filter(|(k, _)| k.is_none())
                    .nth(n.checked_sub(1)?)
                    .map(|(_, v)| b(v.as_ref()))
            }
        }
    }
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn skip_spaces(&mut self) {
        while self.s.as_bytes().get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    /// A bare token up to the next space.
    fn token(&mut self) -> Option<&'a str> {
        self.skip_spaces();
        let start = self.i;
        let rest = &self.s.as_bytes()[start..];
        // Tokens are short (an address, `-`, a status): a plain loop beats
        // the setup of a vectorized search.
        let n = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
        self.i += n;
        (n > 0).then(|| &self.s[start..start + n])
    }

    /// `[...]`
    fn bracketed(&mut self) -> Option<&'a str> {
        self.skip_spaces();
        if self.peek() != Some(b'[') {
            return None;
        }
        let start = self.i + 1;
        let n = memchr::memchr(b']', &self.s.as_bytes()[start..])?;
        self.i = start + n + 1;
        Some(&self.s[start..start + n])
    }

    /// `"..."` with `\"` and `\\` escapes. An unterminated string at the end
    /// of the line takes the rest of it (truncated lines are common and
    /// GoAccess accepts them too).
    fn quoted(&mut self) -> Option<Cow<'a, str>> {
        self.skip_spaces();
        if self.peek() != Some(b'"') {
            return None;
        }
        self.i += 1;
        let start = self.i;
        let bytes = self.s.as_bytes();
        let mut escaped = false;
        let mut j = start;
        loop {
            match memchr::memchr2(b'"', b'\\', bytes.get(j..).unwrap_or_default()) {
                None => {
                    j = bytes.len();
                    break;
                }
                Some(k) if bytes[j + k] == b'"' => {
                    j += k;
                    break;
                }
                Some(k) => {
                    escaped = true;
                    j += k + 2;
                }
            }
        }
        let end = j.min(bytes.len());
        self.i = (end + 1).min(bytes.len());
        let raw = &self.s[start..end];
        Some(if escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        })
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a line into a [`ClfRecord`] (format detection, `get`, tests).
pub fn parse(line: &str) -> Result<ClfRecord<'_>, SkipReason> {
    let e = Cow::Borrowed("");
    let mut rec = ClfRecord {
        remote_addr: e.clone(),
        ident: e.clone(),
        remote_user: e.clone(),
        time: e.clone(),
        request: e.clone(),
        status: e.clone(),
        bytes: e,
        referer: None,
        user_agent: None,
        extras: Default::default(),
    };
    parse_with(line, |key, v| match key {
        Key::Slot(0) => rec.remote_addr = v,
        Key::Slot(1) => rec.remote_user = v,
        Key::Slot(2) => rec.ident = v,
        Key::Slot(3) => rec.time = v,
        Key::Slot(4) => rec.request = v,
        Key::Slot(8) => rec.status = v,
        Key::Slot(9) => rec.bytes = v,
        Key::Slot(10) => rec.referer = Some(v),
        Key::Slot(11) => rec.user_agent = Some(v),
        Key::Slot(_) => {} // request parts: derived from `request` on demand
        Key::Name(k) => rec.extras.push((Some(k), v)),
        Key::Extra(_) => rec.extras.push((None, v)),
    })?;
    Ok(rec)
}

/// Tokenizes a line and hands each field to `f` as it is met: the fixed
/// [`SLOTS`] in order (request parts right after the request), then the
/// trailing extras, named (`Key::Name`) or numbered (`Key::Extra`, from 1).
/// The scan's hot path maps these straight into the normalized event,
/// without building a record first. On a malformed line, `f` may have
/// seen some fields before the error.
pub fn parse_with<'a>(
    line: &'a str,
    mut f: impl FnMut(Key<'a>, Cow<'a, str>),
) -> Result<(), SkipReason> {
    let bad = SkipReason::Unparsable;
    let mut c = Cursor { s: line, i: 0 };
    let remote_addr = c.token().ok_or(bad)?;
    let ident = c.token().ok_or(bad)?;
    let remote_user = c.token().ok_or(bad)?;
    let time = c.bracketed().ok_or(bad)?;
    let request = c.quoted().ok_or(bad)?;
    let status = c.token().ok_or(bad)?;
    if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    let bytes = c.token().ok_or(bad)?;
    if bytes != "-" && !bytes.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    let b = Cow::Borrowed;
    f(Key::Slot(0), b(remote_addr));
    f(Key::Slot(1), b(remote_user));
    f(Key::Slot(2), b(ident));
    f(Key::Slot(3), b(time));
    match &request {
        Cow::Borrowed(r) => {
            let (method, path, proto) = request_parts(r);
            f(Key::Slot(4), b(r));
            for (i, v) in [(5, method), (6, path), (7, proto)] {
                if let Some(v) = v {
                    f(Key::Slot(i), b(v));
                }
            }
        }
        Cow::Owned(r) => {
            let (method, path, proto) = request_parts(r);
            for (i, v) in [(5, method), (6, path), (7, proto)] {
                if let Some(v) = v {
                    f(Key::Slot(i), Cow::Owned(v.to_string()));
                }
            }
            f(Key::Slot(4), request);
        }
    }
    f(Key::Slot(8), b(status));
    f(Key::Slot(9), b(bytes));
    c.skip_spaces();
    if c.peek() == Some(b'"') {
        if let Some(r) = c.quoted() {
            f(Key::Slot(10), r);
        }
        c.skip_spaces();
        if c.peek() == Some(b'"')
            && let Some(ua) = c.quoted()
        {
            f(Key::Slot(11), ua);
        }
    }
    let mut unnamed = 0;
    loop {
        c.skip_spaces();
        if c.at_end() {
            break;
        }
        if c.peek() == Some(b'"') {
            let v = c.quoted().ok_or(bad)?;
            unnamed += 1;
            f(Key::Extra(unnamed), v);
            continue;
        }
        let start = c.i;
        let rest = &line.as_bytes()[start..];
        // The key's length: key bytes up to `=` (anything else: no key).
        let k = rest
            .iter()
            .position(|b| !is_key_byte(*b))
            .unwrap_or(rest.len());
        match rest.get(k) {
            Some(b'=') if k > 0 => {
                let key = &line[start..start + k];
                c.i = start + k + 1;
                let v = if c.peek() == Some(b'"') {
                    c.quoted().ok_or(bad)?
                } else {
                    Cow::Borrowed(c.token().unwrap_or(""))
                };
                f(Key::Name(key), v);
            }
            _ => {
                let v = c.token().ok_or(bad)?;
                unnamed += 1;
                f(Key::Extra(unnamed), Cow::Borrowed(v));
            }
        }
    }
    Ok(())
}

fn is_key_byte(b: u8) -> bool {
    // A table lookup: this runs on every byte of every key of every line.
    const KEY: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            t[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'@');
            b += 1;
        }
        t
    };
    KEY[b as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_with_extras() {
        let l = r#"10.0.0.1 - - [01/May/2024:10:00:00 +0000] "POST /oauth/token HTTP/1.1" 401 53 "-" "acme-desktop/4.2.1 (Windows NT 10.0)" request_time=0.012 user=u-4821 device=d-99c1 auth_error="token expired" "1.2.3.4""#;
        let r = parse(l).unwrap();
        assert_eq!(r.get("method").as_deref(), Some("POST"));
        assert_eq!(r.get("path").as_deref(), Some("/oauth/token"));
        assert_eq!(r.get("status").as_deref(), Some("401"));
        assert_eq!(
            r.get("http_user_agent").as_deref(),
            Some("acme-desktop/4.2.1 (Windows NT 10.0)")
        );
        assert_eq!(r.get("request_time").as_deref(), Some("0.012"));
        assert_eq!(
            r.get("user").as_deref(),
            Some("u-4821"),
            "extras win over remote_user"
        );
        assert_eq!(r.get("auth_error").as_deref(), Some("token expired"));
        assert_eq!(r.get("extra_1").as_deref(), Some("1.2.3.4"));
        assert_eq!(r.get("extra_2"), None);
        assert_eq!(r.get("extra_0"), None);
    }

    #[test]
    fn request_line_parts() {
        for line in [
            "GET /a HTTP/1.1",
            "GET /a",
            "GET",
            "GET  /a",
            "GET /a b c",
            "",
            "get /",
            " /",
        ] {
            let mut r = parse(r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "x" 200 5"#).unwrap();
            r.request = Cow::Borrowed(line);
            let mut p = line.splitn(3, ' ');
            let m = p
                .next()
                .filter(|m| !m.is_empty() && m.bytes().all(|c| c.is_ascii_uppercase()));
            let want = match m {
                Some(m) => (Some(m), p.next(), p.next()),
                None => (None, None, None),
            };
            assert_eq!(r.request_parts(), want, "{line:?}");
        }
    }

    #[test]
    fn common_and_escapes() {
        let r = parse(r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#).unwrap();
        assert!(r.user_agent.is_none());
        assert_eq!(r.get("remote_user").as_deref(), Some("frank"));
        let r = parse(r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 - "-" "say \"hi\" \\ bye""#).unwrap();
        assert_eq!(r.user_agent.as_deref(), Some(r#"say "hi" \ bye"#));
    }

    #[test]
    fn lenient_and_rejects() {
        // Unterminated user agent (a real truncated line) still parses.
        let r = parse(r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (compatible; Googlebot/2.1"#).unwrap();
        assert_eq!(
            r.user_agent.as_deref(),
            Some("Mozilla/5.0 (compatible; Googlebot/2.1")
        );
        // Garbage request line: parsed, but no method or path.
        let r = parse(r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01" 400 0 "-" "-""#)
            .unwrap();
        assert_eq!(r.get("method"), None);
        for bad in [
            "",
            "hello",
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /" 2000 5"#,
            r#"1.1.1.1 - - 10/Oct/2000 "GET /" 200 5"#,
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /" 200 abc"#,
            r#"1.1.1.1 - - [10/Oct/2000:13:55:36 -0700"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
