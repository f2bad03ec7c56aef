//! Client app and version: from mapped fields, configurable regex rules on
//! the user agent, or the user agent's `Product/1.2.3` token. Browsers are
//! app `web` with the browser family as version; crawlers are app `bot`.

use std::borrow::Cow;
use std::cmp::Ordering;

use regex::Regex;

/// A user-agent rule from the config: a regex with optional `app` and
/// `version` named captures, and/or a fixed app name.
#[derive(Debug, Clone)]
pub struct AppRule {
    pub pattern: Regex,
    pub app: Option<String>,
}

const BOT_MARKERS: [&str; 6] = [
    "bot",
    "crawler",
    "spider",
    "slurp",
    "externalhit",
    "scanner",
];

pub fn from_user_agent<'u>(ua: &'u str, rules: &[AppRule]) -> (Cow<'u, str>, Cow<'u, str>) {
    for r in rules {
        if let Some(c) = r.pattern.captures(ua) {
            let app = c
                .name("app")
                .map(|m| Cow::Owned(m.as_str().to_string()))
                .or_else(|| r.app.clone().map(Cow::Owned))
                .unwrap_or(Cow::Borrowed("unknown"));
            let ver = c
                .name("version")
                .map(|m| Cow::Owned(m.as_str().to_string()))
                .unwrap_or(Cow::Borrowed(""));
            return (app, ver);
        }
    }
    let lower = ua.to_ascii_lowercase();
    if let Some(m) = BOT_MARKERS.iter().find(|m| lower.contains(*m)) {
        // Name the crawler by the token that carries the marker.
        let name = ua
            .split([' ', ';', '(', ')', '+'])
            .find(|t| t.to_ascii_lowercase().contains(m))
            .unwrap_or(m);
        return (Cow::Borrowed("bot"), Cow::Borrowed(name));
    }
    let first = ua.split_whitespace().next().unwrap_or("");
    if first.starts_with("Mozilla/") || first.starts_with("Opera/") {
        return (Cow::Borrowed("web"), Cow::Owned(browser_family(ua)));
    }
    match first.split_once('/') {
        Some((p, v)) if !p.is_empty() => (Cow::Borrowed(p), Cow::Borrowed(v)),
        _ if !first.is_empty() => (Cow::Borrowed(first), Cow::Borrowed("")),
        _ => (Cow::Borrowed("unknown"), Cow::Borrowed("")),
    }
}

/// `Chrome 120`, `Firefox 115`, `Safari 17`, `Edge 120`... major version only.
fn browser_family(ua: &str) -> String {
    let major = |tok: &str| -> Option<String> {
        let i = ua.find(tok)? + tok.len();
        let v: String = ua[i..].chars().take_while(|c| c.is_ascii_digit()).collect();
        Some(v)
    };
    for (tok, name) in [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
    ] {
        if let Some(v) = major(tok) {
            return format!("{name} {v}").trim_end().to_string();
        }
    }
    if ua.contains("Safari/") {
        if let Some(v) = major("Version/") {
            return format!("Safari {v}");
        }
        return "Safari".into();
    }
    if ua.contains("MSIE") || ua.contains("Trident/") {
        return "IE".into();
    }
    "other".into()
}

/// Keeps the first `depth` dot-separated components (`4.2.1`, 2 → `4.2`).
pub fn truncate_version(v: &str, depth: usize) -> Option<String> {
    let parts: Vec<&str> = v.split('.').collect();
    (parts.len() > depth && depth > 0).then(|| parts[..depth].join("."))
}

/// A version that compares semantically: numeric components as numbers
/// (4.10.0 > 4.9.2), others as text; a missing component sorts first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version<'a>(pub &'a str);

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let split = |s: &'_ str| -> Vec<String> {
            s.split(['.', '-', '+', '_', ' '])
                .map(str::to_string)
                .collect()
        };
        let (a, b) = (split(self.0), split(other.0));
        for i in 0..a.len().max(b.len()) {
            let o = match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(p), Ok(q)) => p.cmp(&q),
                    (Ok(_), Err(_)) => Ordering::Greater,
                    (Err(_), Ok(_)) => Ordering::Less,
                    _ => x.cmp(y),
                },
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (None, None) => Ordering::Equal,
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(s: &str) -> (String, String) {
        let (a, v) = from_user_agent(s, &[]);
        (a.into_owned(), v.into_owned())
    }

    #[test]
    fn user_agents() {
        assert_eq!(
            ua("acme-desktop/4.2.1 (Windows NT 10.0; x64)"),
            ("acme-desktop".into(), "4.2.1".into())
        );
        assert_eq!(ua("curl/8.4.0"), ("curl".into(), "8.4.0".into()));
        assert_eq!(
            ua(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"
            ),
            ("web".into(), "Chrome 32".into())
        );
        assert_eq!(
            ua(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
            ),
            ("web".into(), "Safari 17".into())
        );
        assert_eq!(
            ua("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
            ("bot".into(), "Googlebot/2.1".into())
        );
        assert_eq!(ua("okhttp"), ("okhttp".into(), "".into()));
        assert_eq!(ua(""), ("unknown".into(), "".into()));
    }

    #[test]
    fn rules_win() {
        let rules = vec![AppRule {
            pattern: Regex::new(r"^AcmeAuth (?P<version>[\d.]+)").unwrap(),
            app: Some("desktop".into()),
        }];
        let (a, v) = from_user_agent("AcmeAuth 4.2.0 win", &rules);
        assert_eq!((a.as_ref(), v.as_ref()), ("desktop", "4.2.0"));
    }

    #[test]
    fn versions() {
        assert!(Version("4.10.0") > Version("4.9.2"));
        assert!(Version("4.2") < Version("4.2.1"));
        assert!(Version("4.2.0-beta") < Version("4.2.0-rc"));
        assert_eq!(Version("1.0").cmp(&Version("1.0")), Ordering::Equal);
        assert_eq!(truncate_version("4.2.1", 2).as_deref(), Some("4.2"));
        assert_eq!(truncate_version("4.2", 2), None);
    }
}
