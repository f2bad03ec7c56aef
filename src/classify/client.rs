//! Client app and version: from mapped fields, configurable regex rules on
//! the user agent, or the user agent's own product tokens.
//!
//! The order (docs/user-agents.md): `[[apps]]` rules; crawlers (app `bot`,
//! the crawler as version); the most specific product token that is not a
//! platform, browser or library token (`Dalvik/2.1.0 (...) AcmeVoice/6.9.8`
//! is `AcmeVoice 6.9.8`, an Electron client's `acme-desktop/4.2.1` among
//! `Chrome/...` and `Electron/...` is `acme-desktop 4.2.1`); a browser (app
//! `web`, the browser family and major version as version); the most
//! specific library or platform token (`okhttp 4.12.0`); else `other`
//! (garbage, never a cohort of its own), or `unknown` for an empty or `-`
//! user agent.

use crate::error::SettingError;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};
use rustc_hash::FxHashMap;

/// A user-agent rule from the config: a regex with an optional `app` named
/// capture and/or a fixed app name, and the version from the `version`
/// named capture or from the numbered group `version_group`. Built with
/// [`AppRule::new`], which validates it.
#[derive(Debug, Clone)]
pub struct AppRule {
    pub pattern: Regex,
    pub app: Option<String>,
    pub version_group: Option<usize>,
}

impl AppRule {
    /// Compiles and checks a rule: the pattern must compile, name an app
    /// (a fixed `app` or an `(?P<app>...)` capture), and `version_group`
    /// must be one of its groups (counted from 1, as in the regex).
    pub fn new(
        pattern: &str,
        app: Option<&str>,
        version_group: Option<usize>,
    ) -> Result<AppRule, SettingError> {
        let re = RegexBuilder::new(pattern).size_limit(10 << 20).build()?;
        let named = |name: &str| re.capture_names().position(|n| n == Some(name));
        match app {
            Some(a) if a.trim().is_empty() => return Err(SettingError::value("`app` is empty")),
            None if named("app").is_none() => {
                return Err(SettingError::value(
                    "no app name: set `app = \"...\"` or capture it with `(?P<app>...)`",
                ));
            }
            _ => {}
        }
        if let Some(g) = version_group {
            let groups = re.captures_len() - 1;
            if g == 0 {
                return Err(SettingError::value(
                    "version_group counts from 1 (group 0 would be the whole match)",
                ));
            }
            if g > groups {
                return Err(SettingError::value(format!(
                    "version_group = {g}, but the pattern has {groups} capture group{}",
                    if groups == 1 { "" } else { "s" }
                )));
            }
            if let Some(v) = named("version").filter(|&v| v != g) {
                return Err(SettingError::value(format!(
                    "version_group = {g}, but the `version` capture is group {v}: keep one"
                )));
            }
        }
        Ok(AppRule {
            pattern: re,
            app: app.map(str::to_string),
            version_group,
        })
    }

    /// (app, version) when the rule matches. A match whose `app` capture is
    /// empty or did not take part falls back to the fixed name; without one
    /// the rule does not apply.
    fn apply<'u>(&self, ua: &'u str) -> Option<(Cow<'u, str>, Cow<'u, str>)> {
        let c = self.pattern.captures(ua)?;
        let app = match c.name("app").map(|m| m.as_str().trim()) {
            Some(a) if !a.is_empty() => Cow::Borrowed(a),
            _ => Cow::Owned(self.app.clone()?),
        };
        let version = match self.version_group {
            Some(g) => c.get(g),
            None => c.name("version"),
        };
        Some((
            app,
            Cow::Borrowed(version.map_or("", |m| m.as_str().trim())),
        ))
    }
}

/// What a product token's name says about the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Not a known token: the app's own (the most specific there is).
    App,
    /// A browser brand or engine: with platform tokens only, a browser.
    Browser,
    /// OS, network stack, build metadata: allowed in a browser's user
    /// agent; names the app only when nothing else does.
    Platform,
    /// A runtime (1), framework or shell (2), HTTP library or tool (3):
    /// names the app only when nothing else does, the highest rank first.
    Library(u8),
}

/// Browser brands and engines. `Mozilla`, `Version`, `Mobile` and the
/// engines are here; so are `Chrome`, `Safari` and the rest, which are
/// platform tokens when an app token is present (Electron apps).
#[rustfmt::skip]
const BROWSER_TOKENS: &[&str] = &[
    "Mozilla", "AppleWebKit", "WebKit", "KHTML", "Gecko", "Presto", "Trident", "Version",
    "Mobile", "Safari", "MobileSafari", "Chrome", "Chromium", "HeadlessChrome", "CriOS",
    "Firefox", "FxiOS", "Edg", "EdgA", "EdgiOS", "Edge", "OPR", "OPT", "OPiOS", "OPX", "Opera",
    "SamsungBrowser", "YaBrowser", "Yowser", "UCBrowser", "UCWEB", "Vivaldi", "Brave",
    "DuckDuckGo", "Ddg", "Silk", "MiuiBrowser", "XiaoMi", "HuaweiBrowser", "HeyTapBrowser",
    "VivoBrowser", "QQBrowser", "MQQBrowser", "Whale", "Puffin", "GSA", "Iceweasel", "IceCat",
    "PaleMoon", "Waterfox", "SeaMonkey", "Midori", "Epiphany", "Konqueror", "rekonq", "Falkon",
    "QupZilla", "Maxthon", "CoolNovo", "conkeror", "FlyFlow", "Lynx", "Links", "ELinks", "w3m",
    "Dillo", "NetSurf", "Camino", "K-Meleon", "Sleipnir", "Avast", "AvastSecureBrowser",
    "OculusBrowser", "BonEcho", "Minefield", "UP.Browser", "Openwave", "SEMC-Browser",
    "Profile", "Configuration", "MMP",
];

/// OS, network stack, TLS and compression libraries, distributions, and
/// the metadata keys of the AWS SDKs' user agents (`md/...`, `os/...`).
#[rustfmt::skip]
const PLATFORM_TOKENS: &[&str] = &[
    "CFNetwork", "Darwin", "Linux", "Windows", "Windows_NT", "Android", "iOS", "iPadOS",
    "macOS", "Ubuntu", "CentOS", "Fedora", "Debian", "OpenSSL", "LibreSSL", "BoringSSL",
    "SSL-MM", "libwww-FM", "zlib", "GnuTLS", "NSS", "libidn", "libidn2", "nghttp2", "libssh2",
    "libpsl", "librtmp", "brotli", "zstd", "md", "ua", "os", "lang", "cfg", "api", "exec-env",
    "feat", "m", "io", "http", "vendor",
];

/// Runtimes: the least specific libraries.
#[rustfmt::skip]
const RUNTIME_TOKENS: &[&str] = &[
    "Dalvik", "Java", "Python", "CPython", "PyPy", "node", "Node.js", "nodejs", "Deno", "Bun",
    "Dart", "Ruby", "PHP", "Go", "Perl", "Mono",
];

/// Frameworks, shells and embedded engines.
#[rustfmt::skip]
const FRAMEWORK_TOKENS: &[&str] = &[
    "Electron", "ReactNative", "react-native", "Expo", "Flutter", "Capacitor", "Cordova",
    "Xamarin", "Unity", "UnityPlayer", "Qt", "QtWebEngine", "PhantomJS",
];

/// HTTP client libraries, SDKs and command-line tools.
#[rustfmt::skip]
const HTTP_LIBRARY_TOKENS: &[&str] = &[
    "okhttp", "curl", "libcurl", "Wget", "HTTPie", "aria2", "python-requests", "python-httpx",
    "python-urllib3", "Python-urllib", "urllib3", "aiohttp", "httpx", "httplib2", "Scrapy",
    "axios", "node-fetch", "undici", "got", "superagent", "needle", "Go-http-client",
    "go-resty", "resty", "fasthttp", "Apache-HttpClient", "Java-http-client", "AHC",
    "ReactorNetty", "Vert.x-WebClient", "Jersey", "Apache-CXF", "feign", "Ktor", "ktor-client",
    "Retrofit", "Alamofire", "AFNetworking", "URLSession", "Moya", "Dio", "RestSharp",
    "WinHttp", "Faraday", "HTTParty", "rest-client", "Typhoeus", "Excon", "Guzzle",
    "GuzzleHttp", "reqwest", "hyper", "ureq", "isahc", "libsoup", "LWP::Simple", "libwww-perl",
    "HTTP-Tiny", "Mojolicious", "HTTP_Request", "HTTP_Request2", "PowerShell",
    "WindowsPowerShell", "Boto3", "Botocore",
];

/// Name prefixes of library families (`grpc-java-okhttp/1.59.0`,
/// `aws-sdk-go-v2/1.24.0`, `azsdk-net-Identity/1.10.4`).
const LIBRARY_PREFIXES: &[(&str, Kind)] = &[
    ("grpc-", Kind::Library(3)),
    ("aws-sdk-", Kind::Library(3)),
    ("azsdk-", Kind::Library(3)),
    ("google-api-", Kind::Library(3)),
    ("openjdk", Kind::Platform),
];

/// Words that are never a product: what broken clients send for "none"
/// (`Unknown/Unknown` is what Alamofire sends when it cannot read the
/// app's bundle).
#[rustfmt::skip]
const NOT_PRODUCTS: &[&str] = &[
    "null", "undefined", "none", "nil", "unknown", "user-agent", "useragent",
];

static KINDS: LazyLock<FxHashMap<String, Kind>> = LazyLock::new(|| {
    let mut m = FxHashMap::default();
    for (list, kind) in [
        (BROWSER_TOKENS, Kind::Browser),
        (PLATFORM_TOKENS, Kind::Platform),
        (RUNTIME_TOKENS, Kind::Library(1)),
        (FRAMEWORK_TOKENS, Kind::Library(2)),
        (HTTP_LIBRARY_TOKENS, Kind::Library(3)),
    ] {
        for t in list {
            m.insert(t.to_ascii_lowercase(), kind);
        }
    }
    m
});

fn kind_of(name: &str) -> Kind {
    let lower = name.to_ascii_lowercase();
    if let Some(&k) = KINDS.get(&lower) {
        return k;
    }
    LIBRARY_PREFIXES
        .iter()
        .find(|(p, _)| lower.starts_with(p))
        .map_or(Kind::App, |&(_, k)| k)
}

/// Crawler markers, matched in the lowercased user agent. `bot` counts at
/// the end of a word only (`Googlebot/2.1`, `archive.org_bot`, `.../bots`),
/// so `Boto3`, `botocore` and the `Cubot` phone brand are not crawlers.
const BOT_MARKERS: [&str; 13] = [
    "bot",
    "crawl",
    "spider",
    "slurp",
    "externalhit",
    "scanner",
    "fetcher",
    "archiver",
    "bingpreview",
    "mediapartners-google",
    "google-inspectiontool",
    "googleother",
    "nutch",
];

/// The first crawler marker in `lower` (an ASCII-lowercased string).
fn bot_marker(lower: &str) -> Option<&'static str> {
    BOT_MARKERS.iter().copied().find(|&m| {
        if m != "bot" {
            return lower.contains(m);
        }
        lower.match_indices(m).any(|(i, _)| {
            let after = &lower.as_bytes()[i + 3..];
            let word_end = match after {
                [] => true,
                [b's', rest @ ..] => rest.first().is_none_or(|c| !c.is_ascii_alphabetic()),
                [c, ..] => !c.is_ascii_alphabetic(),
            };
            let cubot = lower[..i].ends_with("cu")
                && lower[..i - 2]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric());
            word_end && !cubot
        })
    })
}

/// The crawler's name when `ua` is a crawler's: the first word carrying a
/// marker that is no address (`Googlebot/2.1`), else the first product
/// token that is no browser token, else the marker.
fn crawler(ua: &str) -> Option<&str> {
    let marker = bot_marker(&ua.to_ascii_lowercase())?;
    let address = |t: &str| {
        let l = t.to_ascii_lowercase();
        l.contains("://") || l.starts_with("http") || l.starts_with("www.") || l.contains('@')
    };
    let mut words = ua
        .split([' ', ';', '(', ')', '+', ',', '[', ']'])
        .filter(|t| !t.is_empty() && !address(t));
    let product = |t: &&str| {
        t.split_once('/')
            .is_some_and(|(n, _)| is_name(n) && kind_of(n) != Kind::Browser)
    };
    Some(
        words
            .clone()
            .find(|t| bot_marker(&t.to_ascii_lowercase()).is_some())
            .or_else(|| words.find(product))
            .unwrap_or(marker),
    )
}

/// One product token: `Name/version` outside the comments, a leading
/// `Name version` (`Instagram 312.0.0.32.112 Android (...)`), or a user
/// agent that is one word (`okhttp`).
#[derive(Debug)]
struct Product<'u> {
    name: Cow<'u, str>,
    version: &'u str,
    kind: Kind,
}

/// The words outside `(...)` and `[...]` comments, split at whitespace,
/// `,` and `;`, and at `+` in a user agent without spaces that puts `+`
/// beside its comments (as W3C logs write spaces: `Mozilla/5.0+(...)`),
/// so `AcmeVoice/4.2.0+build.7` keeps its version.
fn top_level_words(ua: &str) -> Vec<&str> {
    let plus =
        !ua.contains(char::is_whitespace) && ["+(", ")+", ";+"].iter().any(|p| ua.contains(p));
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut start = None;
    for (i, c) in ua.char_indices() {
        let sep = match c {
            '(' | '[' => {
                depth += 1;
                true
            }
            ')' | ']' => {
                depth = depth.saturating_sub(1);
                true
            }
            _ => depth > 0 || c.is_whitespace() || c == ',' || c == ';' || (plus && c == '+'),
        };
        if sep {
            if let Some(s) = start.take() {
                words.push(&ua[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push(&ua[s..]);
    }
    words
}

/// A product name: starts with a letter, a digit or `%` (a percent-encoded
/// name), has a letter, and is made of letters, digits and `._-+%:`
/// (`LWP::Simple`, `Acme%20Voice`), not ending in `:` (`User-Agent:`,
/// `https:`), and no "none" word.
fn is_name(n: &str) -> bool {
    n.starts_with(|c: char| c.is_alphanumeric() || c == '%')
        && n.contains(char::is_alphabetic)
        && n.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '%' | ':'))
        && !n.ends_with(':')
        && !n.to_ascii_lowercase().starts_with("www.")
        && !NOT_PRODUCTS.iter().any(|w| n.eq_ignore_ascii_case(w))
}

/// A word that can name a product without a `/`: a name that starts with
/// a letter, has two characters or more, no `:`, `%` or `+`, and is no
/// version (`v2.7.12`).
fn is_word(w: &str) -> bool {
    w.starts_with(char::is_alphabetic)
        && w.chars().nth(1).is_some()
        && !w.contains([':', '%', '+'])
        && is_name(w)
        && !is_version_word(w)
}

/// A version standing alone after a name: `3.0.4`, `v2.7.12`.
fn is_version_word(w: &str) -> bool {
    let d = w.strip_prefix(['v', 'V']).unwrap_or(w);
    d.starts_with(|c: char| c.is_ascii_digit())
        && d.contains('.')
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The version as the token gives it, up to the first character that
/// cannot be part of one (`6.9.8;` → `6.9.8`, `537.36,gzip` → `537.36`,
/// `7.0.3/34.1244` → `7.0.3`), without trailing `.`, `-`, `_`, `+`.
fn trim_version(v: &str) -> &str {
    let end = v
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+')))
        .unwrap_or(v.len());
    v[..end].trim_end_matches(['.', '-', '_', '+'])
}

/// `Name/version` as a product: a valid name, and a version that is empty
/// or has a digit (`example.com/login`, `md/Botocore#...` are not).
fn split_product(w: &str) -> Option<(&str, &str)> {
    let (n, v) = w.split_once('/')?;
    let v = trim_version(v);
    (is_name(n) && (v.is_empty() || v.contains(|c: char| c.is_ascii_digit()))).then_some((n, v))
}

/// `Acme%20Voice` → `Acme Voice` (iOS percent-encodes the bundle name in
/// the CFNetwork user agent); the name as is when it does not decode to
/// letters, digits, spaces and `._-+` (`%3Cscript%3E` stays as it is).
fn decode_name(n: &str) -> Cow<'_, str> {
    if !n.contains('%') {
        return Cow::Borrowed(n);
    }
    let b = n.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = n
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(x)) => {
                out.push(x);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(d)
            if d.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '+')) =>
        {
            Cow::Owned(d)
        }
        _ => Cow::Borrowed(n),
    }
}

fn product<'u>(name: Cow<'u, str>, version: &'u str) -> Product<'u> {
    let kind = kind_of(&name);
    Product {
        name,
        version,
        kind,
    }
}

/// The user agent's product tokens, in order.
fn products(ua: &str) -> Vec<Product<'_>> {
    let words = top_level_words(ua);
    let mut out = Vec::new();
    let lead = words.iter().take_while(|w| is_word(w)).count();
    if lead == words.len() {
        // Words only: one is a product without version (`okhttp`, `Ruby`),
        // more are prose or junk.
        if lead == 1 {
            out.push(product(Cow::Borrowed(words[0]), ""));
        }
        return out;
    }
    let mut rest = &words[..];
    // A name of a few words first: `Chef Client/10.18.2`, `Microsoft
    // Office/16.0 (...)`, `Instagram 312.0.0.32.112 Android (...)`.
    if (1..=3).contains(&lead) {
        let next = words[lead];
        if let Some((n, v)) = split_product(next).filter(|(n, _)| kind_of(n) == Kind::App) {
            let name = format!("{} {}", words[..lead].join(" "), decode_name(n));
            out.push(product(Cow::Owned(name), v));
            rest = &words[lead + 1..];
        } else if is_version_word(next) {
            let name = if lead == 1 {
                Cow::Borrowed(words[0])
            } else {
                Cow::Owned(words[..lead].join(" "))
            };
            out.push(product(name, next));
            rest = &words[lead + 1..];
        }
    }
    for w in rest {
        if let Some((n, v)) = split_product(w) {
            out.push(product(decode_name(n), v));
        }
    }
    out
}

/// Names the client that sent `ua`: (app, version). See the module doc
/// and docs/user-agents.md for the order.
pub fn from_user_agent<'u>(ua: &'u str, rules: &[AppRule]) -> (Cow<'u, str>, Cow<'u, str>) {
    if let Some(hit) = rules.iter().find_map(|r| r.apply(ua)) {
        return hit;
    }
    let ua = ua.trim().trim_matches(['"', '\'']).trim();
    if ua.is_empty() || ua == "-" {
        return (Cow::Borrowed("unknown"), Cow::Borrowed(""));
    }
    if let Some(name) = crawler(ua) {
        return (Cow::Borrowed("bot"), Cow::Borrowed(name));
    }
    let prods = products(ua);
    // The app's own token: the first that is no platform, browser or
    // library token. An iOS app's CFNetwork user agent gives the build
    // number (CFBundleVersion, `AcmeVoice/1234 CFNetwork/...`): it is kept
    // as the version, as the token gives it.
    if let Some(p) = prods.iter().find(|p| p.kind == Kind::App) {
        return (p.name.clone(), Cow::Borrowed(p.version));
    }
    let library = prods.iter().any(|p| matches!(p.kind, Kind::Library(_)));
    if !library && prods.iter().any(|p| p.kind == Kind::Browser) {
        return (Cow::Borrowed("web"), Cow::Owned(browser_family(ua, &prods)));
    }
    // Library and platform tokens: the most specific, the first of a rank.
    let rank = |k: Kind| match k {
        Kind::Library(r) => r,
        _ => 0,
    };
    let best = prods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind != Kind::Browser)
        .max_by_key(|&(i, p)| (rank(p.kind), std::cmp::Reverse(i)));
    match best {
        Some((_, p)) => (p.name.clone(), Cow::Borrowed(p.version)),
        None => (Cow::Borrowed("other"), Cow::Borrowed("")),
    }
}

/// Browser brands, ahead of the engines and browsers they build on, and
/// the name reports give them.
const FAMILIES: &[(&str, &str)] = &[
    ("Edg", "Edge"),
    ("EdgA", "Edge"),
    ("EdgiOS", "Edge"),
    ("Edge", "Edge"),
    ("OPR", "Opera"),
    ("OPT", "Opera"),
    ("OPiOS", "Opera"),
    ("OPX", "Opera"),
    ("SamsungBrowser", "Samsung Internet"),
    ("YaBrowser", "Yandex"),
    ("UCBrowser", "UC Browser"),
    ("Vivaldi", "Vivaldi"),
    ("DuckDuckGo", "DuckDuckGo"),
    ("Ddg", "DuckDuckGo"),
    ("MiuiBrowser", "MIUI Browser"),
    ("HuaweiBrowser", "Huawei Browser"),
    ("QQBrowser", "QQ Browser"),
    ("MQQBrowser", "QQ Browser"),
    ("Whale", "Whale"),
    ("Silk", "Silk"),
    ("GSA", "Google App"),
    ("AvastSecureBrowser", "Avast"),
    ("Avast", "Avast"),
    ("OculusBrowser", "Oculus Browser"),
    ("HeadlessChrome", "HeadlessChrome"),
    ("Firefox", "Firefox"),
    ("FxiOS", "Firefox"),
    ("CriOS", "Chrome"),
    ("Chromium", "Chromium"),
    ("Chrome", "Chrome"),
];

/// Browser tokens that name no browser of their own.
#[rustfmt::skip]
const ENGINE_TOKENS: &[&str] = &[
    "Mozilla", "AppleWebKit", "WebKit", "KHTML", "Gecko", "Presto", "Trident", "Version",
    "Mobile", "Safari", "MobileSafari", "Opera", "Yowser", "XiaoMi", "Profile", "Configuration",
    "MMP",
];

/// `Chrome 120`, `Firefox 133`, `Safari 17`, `Edge 120`, `Samsung
/// Internet 23`... major version only; `other` when no browser is named.
fn browser_family(ua: &str, prods: &[Product<'_>]) -> String {
    let named = |family: &str, v: &str| {
        let major: String = v.chars().take_while(char::is_ascii_digit).collect();
        if major.is_empty() {
            family.to_string()
        } else {
            format!("{family} {major}")
        }
    };
    let find = |t: &str| prods.iter().find(|p| p.name.eq_ignore_ascii_case(t));
    if let Some(i) = ua.find("Opera Mini/") {
        return named("Opera Mini", &ua[i + "Opera Mini/".len()..]);
    }
    for (t, family) in FAMILIES {
        if let Some(p) = find(t) {
            return named(family, p.version);
        }
    }
    if let Some(p) = prods.iter().find(|p| {
        p.kind == Kind::Browser && !ENGINE_TOKENS.iter().any(|e| p.name.eq_ignore_ascii_case(e))
    }) {
        return named(&p.name, p.version);
    }
    let version = find("Version").map_or("", |p| p.version);
    if let Some(p) = find("Opera") {
        return named(
            "Opera",
            if version.is_empty() {
                p.version
            } else {
                version
            },
        );
    }
    if let Some(i) = ua.find("MSIE ") {
        return named("IE", &ua[i + "MSIE ".len()..]);
    }
    if ua.contains("Trident/") {
        return named("IE", ua.find("rv:").map_or("", |i| &ua[i + 3..]));
    }
    if find("Safari").or_else(|| find("MobileSafari")).is_some() {
        // Android's stock browser before Chrome: `Version/4.0 Mobile Safari`.
        let family = if ua.contains("Android") {
            "Android Browser"
        } else {
            "Safari"
        };
        return named(family, version);
    }
    if find("AppleWebKit").is_some() && find("Mobile").is_some() {
        // An iOS web view inside an app that adds no token of its own.
        return "WebView".into();
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

    fn ua_with(s: &str, rules: &[AppRule]) -> (String, String) {
        let (a, v) = from_user_agent(s, rules);
        (a.into_owned(), v.into_owned())
    }

    /// Every line of testdata/user_agents.tsv (`ua<TAB>app<TAB>version`),
    /// all misnamed ones reported at once.
    #[test]
    fn user_agent_table() {
        let table = include_str!("testdata/user_agents.tsv");
        let mut cases = 0;
        let mut wrong = Vec::new();
        for (i, line) in table.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(
                cols.len(),
                3,
                "user_agents.tsv:{}: want ua<TAB>app<TAB>version, got {line:?}",
                i + 1
            );
            cases += 1;
            let got = ua(cols[0]);
            if (got.0.as_str(), got.1.as_str()) != (cols[1], cols[2]) {
                wrong.push(format!(
                    "  line {}: {:?}\n    want ({:?}, {:?}), got ({:?}, {:?})",
                    i + 1,
                    cols[0],
                    cols[1],
                    cols[2],
                    got.0,
                    got.1
                ));
            }
        }
        assert!(cases >= 60, "only {cases} cases");
        assert!(
            wrong.is_empty(),
            "{} of {cases} user agents misnamed:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
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

    /// An Android app's Dalvik user agent and an Electron app's
    /// Chrome-like one: the app's own token names the client, not the
    /// platform's or the browser's.
    #[test]
    fn app_token_beats_platform_and_browser_tokens() {
        assert_eq!(
            ua("Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7) AcmeVoice-Mobile/6.9.8"),
            ("AcmeVoice-Mobile".into(), "6.9.8".into())
        );
        assert_eq!(
            ua(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) acme-desktop/4.2.1 Chrome/120.0.0.0 Electron/28.1.0 Safari/537.36"
            ),
            ("acme-desktop".into(), "4.2.1".into())
        );
    }

    /// A bare word is a product without version; a word with no letter, a
    /// `:` or a "none" word is not; several words without a version are
    /// prose.
    #[test]
    fn bare_words() {
        for (s, app) in [
            ("okhttp", "okhttp"),
            ("Ruby", "Ruby"),
            ("AcmeAgent", "AcmeAgent"),
            ("Links (2.7; Linux)", "web"),
            ("x", "other"),
            ("42", "other"),
            ("User-Agent:", "other"),
            ("undefined", "other"),
            ("hello world", "other"),
        ] {
            assert_eq!(ua(s).0, app, "{s:?}");
        }
    }

    #[test]
    fn version_keeps_the_token_but_not_trailing_junk() {
        for (s, v) in [
            ("AcmeVoice/6.9.8;", "6.9.8"),
            ("AcmeVoice/6.9.8)", "6.9.8"),
            ("AcmeVoice/6.9.8.", "6.9.8"),
            ("AcmeVoice/4.2.0-beta.1+build.7", "4.2.0-beta.1+build.7"),
            ("AcmeVoice/1.8.0_392", "1.8.0_392"),
            ("AcmeVoice/", ""),
        ] {
            assert_eq!(ua(s), ("AcmeVoice".into(), v.into()), "{s:?}");
        }
    }

    fn rule(pattern: &str, app: Option<&str>, version_group: Option<usize>) -> AppRule {
        AppRule::new(pattern, app, version_group).unwrap()
    }

    #[test]
    fn rules_win() {
        let rules = vec![rule(
            r"^AcmeAuth (?P<version>[\d.]+)",
            Some("desktop"),
            None,
        )];
        let (a, v) = from_user_agent("AcmeAuth 4.2.0 win", &rules);
        assert_eq!((a.as_ref(), v.as_ref()), ("desktop", "4.2.0"));
    }

    #[test]
    fn rule_captures() {
        // Named captures for both.
        let named = [rule(
            r"^acme-(?P<app>desktop|mobile)/(?P<version>\d+\.\d+\.\d+)",
            None,
            None,
        )];
        assert_eq!(
            ua_with("acme-mobile/5.1.0 (iOS 17.5)", &named),
            ("mobile".into(), "5.1.0".into())
        );
        // A numbered group, as a regex pasted with plain groups has.
        let numbered = [rule(r"^(\w+)-client v(\d+(\.\d+)*)", Some("acme"), Some(2))];
        assert_eq!(
            ua_with("voice-client v6.9.8 (Android)", &numbered),
            ("acme".into(), "6.9.8".into())
        );
        // The app from a capture, the version from a numbered group.
        let both = [rule(r"^(?P<app>[a-z]+)/(\S+) ", None, Some(2))];
        assert_eq!(
            ua_with("voice/6.9.8 (x)", &both),
            ("voice".into(), "6.9.8".into())
        );
        // No version capture: empty version.
        let none = [rule("AcmeKiosk", Some("kiosk"), None)];
        assert_eq!(
            ua_with("Mozilla/5.0 AcmeKiosk", &none),
            ("kiosk".into(), "".into())
        );
        // A version group that did not take part: empty version.
        let optional = [rule(r"^Acme(/(\d+))?", Some("acme"), Some(2))];
        assert_eq!(ua_with("Acme", &optional), ("acme".into(), "".into()));
    }

    #[test]
    fn rules_in_order_before_built_ins() {
        let rules = [
            rule(r"AcmeVoice/(?P<version>\S+)", Some("voice-first"), None),
            rule(r"AcmeVoice/(?P<version>\S+)", Some("voice-second"), None),
            // Built-ins would call these a crawler and a library.
            rule(
                r"^Mozilla/5\.0 \(compatible; AcmeMonitorBot",
                Some("monitor"),
                None,
            ),
            rule(r"^okhttp/(?P<version>\S+)", Some("android"), None),
        ];
        assert_eq!(
            ua_with(
                "Dalvik/2.1.0 (Linux; U; Android 14) AcmeVoice/6.9.8",
                &rules
            ),
            ("voice-first".into(), "6.9.8".into())
        );
        assert_eq!(
            ua_with("Mozilla/5.0 (compatible; AcmeMonitorBot/1.0)", &rules).0,
            "monitor"
        );
        assert_eq!(
            ua_with("okhttp/4.12.0", &rules),
            ("android".into(), "4.12.0".into())
        );
        // No rule matches: the built-ins.
        assert_eq!(
            ua_with("python-requests/2.31.0", &rules),
            ("python-requests".into(), "2.31.0".into())
        );
    }

    /// An `app` capture that is empty or did not take part falls back to
    /// the fixed name; without one the next rule is tried.
    #[test]
    fn rule_without_an_app_falls_through() {
        let rules = [
            rule(r"^(?:(?P<app>[a-z]+)-)?agent/(?P<version>\S+)", None, None),
            rule(r"agent/(?P<version>\S+)", Some("agent"), None),
        ];
        assert_eq!(
            ua_with("voice-agent/1.0", &rules),
            ("voice".into(), "1.0".into())
        );
        assert_eq!(ua_with("agent/2.0", &rules), ("agent".into(), "2.0".into()));
        let fixed = [rule(
            r"^(?:(?P<app>[a-z]+)-)?agent/(\S+)",
            Some("acme"),
            Some(2),
        )];
        assert_eq!(ua_with("agent/3.0", &fixed), ("acme".into(), "3.0".into()));
    }

    #[test]
    fn rule_errors() {
        let err = |p: &str, app: Option<&str>, g: Option<usize>| {
            AppRule::new(p, app, g)
                .map_err(|e| crate::error::chain(&e))
                .expect_err(p)
        };
        assert!(err("(", Some("a"), None).contains("invalid regex"));
        assert!(err(r"^acme/(\S+)", None, Some(1)).contains("no app name"));
        assert!(err(r"^acme/(\S+)", Some("  "), None).contains("`app` is empty"));
        let e = err(r"^acme/(\S+)", Some("acme"), Some(2));
        assert!(
            e.contains("version_group = 2") && e.contains("1 capture group"),
            "{e}"
        );
        assert!(err(r"^acme/\S+", Some("acme"), Some(1)).contains("0 capture groups"));
        assert!(err(r"^acme/(\S+)", Some("acme"), Some(0)).contains("counts from 1"));
        let e = err(r"^(\w+)/(?P<version>\S+)", Some("acme"), Some(1));
        assert!(e.contains("group 2"), "{e}");
        // The same group twice is fine.
        AppRule::new(r"^(\w+)/(?P<version>\S+)", Some("acme"), Some(2)).unwrap();
        AppRule::new(r"^(?P<app>\w+)/", None, None).unwrap();
    }

    proptest::proptest! {
        /// Any text: no panic, and a name from the user agent itself is
        /// made of name characters (no markup, quotes or control codes);
        /// only crawlers' tokens are shown as sent.
        #[test]
        fn any_user_agent_gets_a_clean_name(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "Mozilla/5.0", " ", "(", ")", "[", "]", ";", ",", "+", "/", "%", "%3C",
                "%20", "Acme", "okhttp", "Chrome/120.0", "Safari/537.36", "1.2.3", "v2",
                "bot", "Dalvik/2.1.0", "CFNetwork/1490", ":", "\"", "'", "<", "=", "é",
                "\u{1}", "\t", "-", "x", "Électron/1",
            ]), 0..24),
        ) {
            let s = parts.concat();
            let (app, version) = ua(&s);
            if !matches!(app.as_str(), "bot" | "web" | "other" | "unknown") {
                proptest::prop_assert!(
                    app.chars().all(|c| c.is_alphanumeric()
                        || matches!(c, ' ' | '.' | '_' | '-' | '+' | '%' | ':')),
                    "{s:?} -> app {app:?}"
                );
                proptest::prop_assert!(
                    version.chars().all(|c| c.is_ascii_alphanumeric()
                        || matches!(c, '.' | '_' | '-' | '+')),
                    "{s:?} -> version {version:?}"
                );
            }
        }
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
