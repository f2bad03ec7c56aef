//! Privacy for reports that leave the team. Secrets found in log text —
//! JWTs, bearer tokens, API keys, passwords in query strings or key=value
//! fields — are redacted in every output, always. `--anonymize-ip`
//! truncates addresses (IPv4 to /24, IPv6 to /48) and `--hash-clients`
//! replaces client ids and users with a keyed hash, with a key made for the
//! run (or given), so the same client stays the same within a report.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, Default)]
pub struct Privacy {
    pub anonymize_ip: bool,
    /// Key for `--hash-clients`; `None` leaves ids as they are.
    pub hash_key: Option<u64>,
}

static SECRETS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // JWTs anywhere (header.payload.signature, base64url).
        (r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", "[REDACTED-JWT]"),
        // Authorization schemes.
        (r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}", "$1 [REDACTED]"),
        // key=value secrets in query strings, logfmt and nginx extras.
        (
            r#"(?i)\b((?:access_|refresh_|id_)?token|api[_-]?key|apikey|key|secret|client_secret|password|passwd|pwd|auth|authorization|session|sessionid|sig|signature|code)=("[^"]*"|[^&\s"]+)"#,
            "$1=[REDACTED]",
        ),
    ]
    .into_iter()
    .map(|(p, r)| (Regex::new(p).expect("valid secret pattern"), r))
    .collect()
});

static IPV4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}\b").expect("valid"));

/// Redacts secrets in free text (skip examples, paths, user agents).
pub fn redact(s: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(s);
    for (re, rep) in SECRETS.iter() {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, *rep).into_owned());
        }
    }
    out
}

impl Privacy {
    /// `10.1.2.3` → `10.1.2.0`; `2001:db8:1:2::5` → `2001:db8:1::`.
    pub fn ip(&self, ip: &str) -> String {
        if !self.anonymize_ip {
            return ip.to_string();
        }
        match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(v)) => {
                let o = v.octets();
                format!("{}.{}.{}.0", o[0], o[1], o[2])
            }
            Ok(std::net::IpAddr::V6(v)) => {
                let s = v.segments();
                std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string()
            }
            Err(_) => "[ip]".into(),
        }
    }

    /// Free text: secrets always, IPv4 addresses when anonymizing.
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let r = redact(s);
        if self.anonymize_ip && IPV4.is_match(&r) {
            return Cow::Owned(IPV4.replace_all(&r, "$1.$2.$3.0").into_owned());
        }
        r
    }

    /// A client id or user, hashed under `--hash-clients`.
    pub fn id(&self, s: &str) -> String {
        match self.hash_key {
            Some(k) => {
                let mut h = rustc_hash::FxHasher::default();
                (k, s).hash(&mut h);
                format!("h-{:012x}", h.finish() & 0xffff_ffff_ffff)
            }
            None => s.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let line = r#"GET /cb?code=abc123&state=x&access_token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig HTTP/1.1 "Bearer abcdefghijk123" password=hunter2 api_key="k-123""#;
        let r = redact(line);
        for secret in [
            "abc123",
            "eyJhbGciOiJIUzI1NiJ9",
            "abcdefghijk123",
            "hunter2",
            "k-123",
        ] {
            assert!(!r.contains(secret), "{secret} in {r}");
        }
        assert!(r.contains("state=x"), "other parameters stay");
        assert!(matches!(redact("GET /v1/session"), Cow::Borrowed(_)));
    }

    #[test]
    fn ips_and_ids() {
        let p = Privacy {
            anonymize_ip: true,
            hash_key: Some(7),
        };
        assert_eq!(p.ip("10.1.2.3"), "10.1.2.0");
        assert_eq!(p.ip("2001:db8:1:2::5"), "2001:db8:1::");
        assert_eq!(p.text("from 192.168.7.9 at"), "from 192.168.7.0 at");
        assert_eq!(p.id("u-1"), p.id("u-1"));
        assert_ne!(p.id("u-1"), p.id("u-2"));
        assert!(!p.id("u-1").contains("u-1"));
        assert_eq!(Privacy::default().ip("10.1.2.3"), "10.1.2.3");
    }
}
