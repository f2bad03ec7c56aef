//! Apache/nginx common and combined formats, with nginx-style trailing
//! extras after the user agent: `key=value`, `key="quoted value"` and
//! unkeyed quoted fields (addressed as `extra_1`, `extra_2`, ...).

use std::borrow::Cow;

use super::SkipReason;
use crate::event::{Key, Record, SlotNames};

pub struct ClfRecord<'a> {
    pub remote_addr: &'a str,
    pub ident: &'a str,
    pub remote_user: &'a str,
    pub time: &'a str,
    pub request: Cow<'a, str>,
    pub status: &'a str,
    pub bytes: &'a str,
    pub referer: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    /// Trailing fields: `(Some(key), value)` or `(None, value)`. Inline
    /// up to a typical nginx line's count: no allocation per line.
    pub extras: smallvec::SmallVec<[(Option<&'a str>, Cow<'a, str>); 6]>,
}

impl ClfRecord<'_> {
    /// Method, target and protocol of the request line.
    fn request_parts(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        let r = self.request.as_ref();
        let mut parts = r.splitn(3, ' ');
        let method = parts.next().unwrap_or("");
        // A request line that is not `METHOD target [PROTO]` (scanners send
        // raw TLS bytes) has no method or path.
        if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
            return (None, None, None);
        }
        (Some(method), parts.next(), parts.next())
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
        f(Key::Slot(0), b(self.remote_addr));
        f(Key::Slot(1), b(self.remote_user));
        f(Key::Slot(2), b(self.ident));
        f(Key::Slot(3), b(self.time));
        f(Key::Slot(4), b(self.request.as_ref()));
        let (method, path, proto) = self.request_parts();
        for (i, v) in [(5, method), (6, path), (7, proto)] {
            if let Some(v) = v {
                f(Key::Slot(i), b(v));
            }
        }
        f(Key::Slot(8), b(self.status));
        f(Key::Slot(9), b(self.bytes));
        if let Some(r) = &self.referer {
            f(Key::Slot(10), b(r.as_ref()));
        }
        if let Some(ua) = &self.user_agent {
            f(Key::Slot(11), b(ua.as_ref()));
        }
        let mut name = String::new();
        for (n, (_, v)) in self.extras.iter().filter(|(k, _)| k.is_none()).enumerate() {
            use std::fmt::Write;
            name.clear();
            let _ = write!(name, "extra_{}", n + 1);
            f(Key::Name(&name), b(v.as_ref()));
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        if let Some((_, v)) = self.extras.iter().find(|(k, _)| *k == Some(key)) {
            return Some(Cow::Borrowed(v));
        }
        let b = Cow::Borrowed;
        match key {
            "remote_addr" | "client_ip" => Some(b(self.remote_addr)),
            "remote_user" => Some(b(self.remote_user)),
            "ident" => Some(b(self.ident)),
            "time_local" | "time" | "timestamp" => Some(b(self.time)),
            "request" => Some(b(&self.request)),
            "method" | "request_method" => self.request_parts().0.map(b),
            "path" | "uri" | "request_uri" => self.request_parts().1.map(b),
            "protocol" | "server_protocol" => self.request_parts().2.map(b),
            "status" => Some(b(self.status)),
            "body_bytes_sent" | "bytes" => Some(b(self.bytes)),
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
        let n = memchr::memchr(b' ', rest).unwrap_or(rest.len());
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

pub fn parse(line: &str) -> Result<ClfRecord<'_>, SkipReason> {
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
    let mut rec = ClfRecord {
        remote_addr,
        ident,
        remote_user,
        time,
        request,
        status,
        bytes,
        referer: None,
        user_agent: None,
        extras: Default::default(),
    };
    c.skip_spaces();
    if c.peek() == Some(b'"') {
        rec.referer = c.quoted();
        c.skip_spaces();
        if c.peek() == Some(b'"') {
            rec.user_agent = c.quoted();
        }
    }
    loop {
        c.skip_spaces();
        if c.at_end() {
            break;
        }
        if c.peek() == Some(b'"') {
            let v = c.quoted().ok_or(bad)?;
            rec.extras.push((None, v));
            continue;
        }
        let start = c.i;
        let rest = &line.as_bytes()[start..];
        let eq = memchr::memchr2(b'=', b' ', rest);
        match eq {
            Some(k) if rest[k] == b'=' && k > 0 && is_key(&rest[..k]) => {
                let key = &line[start..start + k];
                c.i = start + k + 1;
                let v = if c.peek() == Some(b'"') {
                    c.quoted().ok_or(bad)?
                } else {
                    Cow::Borrowed(c.token().unwrap_or(""))
                };
                rec.extras.push((Some(key), v));
            }
            _ => {
                let v = c.token().ok_or(bad)?;
                rec.extras.push((None, Cow::Borrowed(v)));
            }
        }
    }
    Ok(rec)
}

fn is_key(k: &[u8]) -> bool {
    // A table lookup per byte: this runs on every key of every line.
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
    k.iter().all(|b| KEY[*b as usize])
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
