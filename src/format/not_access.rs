//! Files that sit next to access logs but are not access logs: nginx and
//! Apache error logs, text documents (READMEs, licences, notes) and
//! checksum lists. Recognised by their lines; a file name only lowers the
//! share of lines needed, it never decides alone. Only consulted for a file
//! whose format parses fewer than half of the first lines, so a damaged
//! access log is never mistaken for one of these.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// What a file is, when it is not an access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum NotAccessLog {
    #[serde(rename = "nginx error log")]
    NginxError,
    #[serde(rename = "Apache error log")]
    ApacheError,
    #[serde(rename = "checksum list")]
    Checksums,
    #[serde(rename = "text document")]
    TextDocument,
}

impl NotAccessLog {
    pub fn name(self) -> &'static str {
        match self {
            NotAccessLog::NginxError => "nginx error log",
            NotAccessLog::ApacheError => "Apache error log",
            NotAccessLog::Checksums => "checksum list",
            NotAccessLog::TextDocument => "text document",
        }
    }
}

impl std::fmt::Display for NotAccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `2024/05/01 10:00:00 [error] 1234#0: *5 open() ...`
static NGINX_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[(?:debug|info|notice|warn|error|crit|alert|emerg)\] \d+#\d+: ",
    )
    .expect("valid pattern")
});

/// `[Wed May 01 10:00:00.123456 2024] [core:error] [pid 123] ...` (2.4) and
/// `[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] ...` (2.2).
static APACHE_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4}\] \[(?:[\w-]+:)?(?:emerg|alert|crit|error|warn|notice|info|debug|trace[1-8])\]",
    )
    .expect("valid pattern")
});

/// GNU (`<hex>  name`, `<hex> *name`, or the digest alone) and BSD
/// (`SHA256 (name) = <hex>`) checksum lines.
static CHECKSUM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:\\?(?P<gnu>[0-9a-fA-F]+)(?: [ *]\S.*)?|(?:MD5|SHA1|SHA224|SHA256|SHA384|SHA512|SHA3-\d+|BLAKE2b(?:-\d+)?) \(.+\) = (?P<bsd>[0-9a-fA-F]+))$",
    )
    .expect("valid pattern")
});

/// Digest lengths in hex digits: MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512.
const DIGEST_HEX: [usize; 6] = [32, 40, 56, 64, 96, 128];

fn is_checksum(line: &str) -> bool {
    CHECKSUM.captures(line).is_some_and(|c| {
        c.name("gnu")
            .or_else(|| c.name("bsd"))
            .is_some_and(|h| DIGEST_HEX.contains(&h.len()))
    })
}

/// A markdown heading, fence, rule or table row.
fn is_markup(line: &str) -> bool {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
        return true;
    }
    if line.starts_with("```") || line.starts_with("~~~") {
        return true;
    }
    let first = line.as_bytes()[0];
    if matches!(first, b'-' | b'*' | b'_' | b'=')
        && line.len() >= 3
        && line.bytes().all(|b| b == first || b == b' ')
    {
        return true;
    }
    line.len() >= 2 && line.starts_with('|') && line.ends_with('|')
}

/// Words: at least two, mostly letters, few digits. Access-log lines, even
/// cut short, are dense with digits and punctuation (addresses, times,
/// statuses, paths) and fail this.
fn is_prose(line: &str) -> bool {
    // `#Software: ...`: a W3C directive, not a heading.
    let directive = line.starts_with('#') && !line[1..].starts_with([' ', '#']);
    if directive || line.split_whitespace().nth(1).is_none() {
        return false;
    }
    let (mut chars, mut letters, mut digits) = (0usize, 0usize, 0usize);
    for c in line.chars().filter(|c| !c.is_whitespace()) {
        chars += 1;
        if c.is_alphabetic() {
            letters += 1;
        } else if c.is_ascii_digit() {
            digits += 1;
        }
    }
    letters * 100 >= chars * 65 && digits * 100 <= chars * 15
}

/// What the file's name suggests it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    ErrorLog,
    Text,
    Checksums,
}

fn hint(name: &str) -> Option<Hint> {
    let n = name.to_ascii_lowercase();
    let stem = n.split('.').next().unwrap_or("");
    let ext = n.rsplit_once('.').map(|(_, e)| e);
    if n.contains("error") && !n.contains("access") {
        return Some(Hint::ErrorLog);
    }
    if n.ends_with("sums") || matches!(ext, Some("md5" | "sha1" | "sha256" | "sha512" | "sum")) {
        return Some(Hint::Checksums);
    }
    if matches!(
        stem,
        "readme" | "license" | "licence" | "copying" | "notice" | "changelog" | "authors"
    ) || stem.starts_with("license-")
        || stem.starts_with("licence-")
        || matches!(ext, Some("md" | "txt" | "rst" | "adoc"))
    {
        return Some(Hint::Text);
    }
    None
}

/// What `lines` (a file's first lines) show the file to be, when that is
/// not an access log; `name` is its file name, if it has one. A kind needs
/// most of the non-blank lines (half; three in five for text documents),
/// or three in ten when the name suggests it.
pub fn recognise(name: Option<&str>, lines: &[&str]) -> Option<NotAccessLog> {
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return None;
    }
    let count = |f: &dyn Fn(&str) -> bool| lines.iter().filter(|l| f(l)).count();
    let hint = name.and_then(hint);
    let candidates = [
        (
            NotAccessLog::NginxError,
            count(&|l| NGINX_ERROR.is_match(l)),
            Hint::ErrorLog,
            50,
        ),
        (
            NotAccessLog::ApacheError,
            count(&|l| APACHE_ERROR.is_match(l)),
            Hint::ErrorLog,
            50,
        ),
        (
            NotAccessLog::Checksums,
            count(&is_checksum),
            Hint::Checksums,
            50,
        ),
        (
            NotAccessLog::TextDocument,
            count(&|l| is_markup(l) || is_prose(l)),
            Hint::Text,
            60,
        ),
    ];
    candidates
        .into_iter()
        .filter(|&(_, n, h, pct)| {
            let pct = if hint == Some(h) { 30 } else { pct };
            n > 0 && n * 100 >= lines.len() * pct
        })
        .max_by_key(|&(_, n, _, _)| n)
        .map(|(k, ..)| k)
}

#[cfg(test)]
mod tests;
