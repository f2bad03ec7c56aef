//! Apache's `LogFormat` (mod_log_config), pasted as is (`[format] apache`):
//! the format string (with `\"` for quotes, as in httpd.conf) or the whole
//! `LogFormat "..." nickname` line. Each directive is the record key nginx
//! gives the same value (`%h` → `remote_addr`, `%{User-Agent}i` →
//! `http_user_agent`), or a latency key in its unit (`%D` → `duration_us`).
//! With `LogFormat "%h %l %u %t \"%r\" %>s %b \"%{User-Agent}i\" %D"`:
//!
//! `203.0.113.9 - - [02/Mar/2026:08:00:01 +0000] "POST /oauth/token HTTP/1.1" 401 43 "acme-desktop/4.2.1 (Windows NT 10.0)" 4120`

use std::sync::Arc;

use super::{Builder, Template};
use crate::error::SettingError;

pub static APACHE: crate::format::FormatDef = crate::format::FormatDef {
    name: "apache",
    title: "your Apache `LogFormat`, pasted into the config (`[format] apache`)",
    detection: "the config's `LogFormat` reads the line (preferred over every built-in format)",
    example: r#"203.0.113.9 - - [02/Mar/2026:08:00:01 +0000] "POST /oauth/token HTTP/1.1" 401 43 "acme-desktop/4.2.1 (Windows NT 10.0)" 4120"#,
    sources: &[],
    stateful: false,
    sniff: |lines, custom| {
        custom
            .apache
            .as_ref()
            .map_or(0, |t| crate::format::count_read(lines, |l| t.reads(l)))
    },
    parser: |custom| {
        custom.apache.as_ref().map(Template::parser).ok_or_else(|| {
            SettingError::value(
                "format `apache` needs `[format] apache = '%h %l ...'` in the config",
            )
        })
    },
};

/// The directives known, for the error on an unknown one.
const KNOWN: &[&str] = &[
    "%%",
    "%a",
    "%{c}a",
    "%A",
    "%b",
    "%B",
    "%{X}C",
    "%D",
    "%{X}e",
    "%f",
    "%h",
    "%H",
    "%{X}i",
    "%I",
    "%k",
    "%l",
    "%L",
    "%m",
    "%{X}n",
    "%{X}o",
    "%O",
    "%p",
    "%{format}p",
    "%P",
    "%{format}P",
    "%q",
    "%r",
    "%R",
    "%s",
    "%>s",
    "%S",
    "%t",
    "%{format}t",
    "%T",
    "%{unit}T",
    "%u",
    "%U",
    "%v",
    "%V",
    "%X",
];

/// `X-Device-Id` → `x_device_id`: a header's name as nginx's variables
/// spell it.
fn header_key(h: &str) -> String {
    h.to_ascii_lowercase().replace('-', "_")
}

/// Compiles a pasted `LogFormat` (or its format string).
pub fn compile(text: &str) -> Result<Arc<Template>, SettingError> {
    let format = format_string(text)?;
    // `%s` is the first request's status and `%>s` the final one: with
    // both, `%s` is kept apart.
    let has_final = format.contains("%>s");
    let mut b = Builder::default();
    let mut times = 0;
    let mut it = format.char_indices().peekable();
    let mut lit = String::new();
    while let Some((at, c)) = it.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        // `%!200,304{...}i`, `%400{...}i`, `%<s`, `%>s`: conditions and
        // which request of a redirect chain; the value's shape is the same.
        let mut final_ = false;
        while let Some(&(_, m)) = it.peek() {
            match m {
                '!' | ',' | '0'..='9' => {}
                '<' => {}
                '>' => final_ = true,
                _ => break,
            }
            it.next();
        }
        let mut arg = None;
        if it.peek().map(|p| p.1) == Some('{') {
            it.next();
            let mut a = String::new();
            let mut closed = false;
            for (_, d) in it.by_ref() {
                if d == '}' {
                    closed = true;
                    break;
                }
                a.push(d);
            }
            if !closed {
                return Err(SettingError::value(format!(
                    "`%{{` without `}}` at byte {at}"
                )));
            }
            arg = Some(a);
        }
        let Some((_, d)) = it.next() else {
            return Err(SettingError::value("a `%` at the end of the format"));
        };
        let unknown = |d: String| SettingError::Unknown {
            what: "Apache log directive",
            name: d,
            expected: KNOWN.iter().map(|k| k.to_string()).collect(),
        };
        let a = arg.as_deref();
        let key: String = match (d, a) {
            ('%', None) => {
                lit.push('%');
                continue;
            }
            ('a', None) => "client_ip".into(),
            ('a', Some("c")) => "realip_remote_addr".into(),
            ('A', None) => "server_addr".into(),
            ('b' | 'B', None) => "body_bytes_sent".into(),
            ('C', Some(x)) => format!("cookie_{}", header_key(x)),
            ('D', None) => "duration_us".into(),
            ('e', Some(x)) => header_key(x),
            ('f', None) => "request_filename".into(),
            ('h', None) => "remote_addr".into(),
            ('H', None) => "server_protocol".into(),
            ('i', Some(x)) => format!("http_{}", header_key(x)),
            ('I', None) => "request_length".into(),
            ('k', None) => "keepalive_requests".into(),
            ('l', None) => "ident".into(),
            ('L', None) => "request_log_id".into(),
            ('m', None) => "request_method".into(),
            ('n', Some(x)) => format!("note_{}", header_key(x)),
            ('o', Some(x)) => format!("sent_http_{}", header_key(x)),
            ('O', None) => "bytes_sent".into(),
            ('p', None | Some("canonical" | "local")) => "server_port".into(),
            ('p', Some("remote")) => "remote_port".into(),
            ('P', None | Some("pid")) => "pid".into(),
            ('P', Some("tid" | "hextid")) => "tid".into(),
            ('q', None) => "query_string".into(),
            ('r', None) => "request".into(),
            ('R', None) => "handler".into(),
            ('s', None) if final_ || !has_final => "status".into(),
            ('s', None) => "original_status".into(),
            ('S', None) => "bytes_transferred".into(),
            ('t', None) => {
                // `[10/Oct/2000:13:55:36 -0700]`: the brackets are part of
                // the value; as literals, the layout matches nginx's
                // `[$time_local]`.
                lit.push('[');
                b.lit(&std::mem::take(&mut lit));
                b.var("time_local")?;
                lit.push(']');
                continue;
            }
            ('t', Some(f)) => {
                let f = f
                    .strip_prefix("begin:")
                    .or_else(|| f.strip_prefix("end:"))
                    .unwrap_or(f);
                match f {
                    // Epoch seconds, milliseconds, microseconds: the
                    // timestamp parser tells them by their length.
                    "sec" | "msec" | "usec" => "msec".into(),
                    "msec_frac" | "usec_frac" => "time_frac".into(),
                    _ => {
                        times += 1;
                        if times == 1 {
                            "time".into()
                        } else {
                            format!("time_{times}")
                        }
                    }
                }
            }
            ('T', None | Some("s")) => "duration".into(),
            ('T', Some("ms")) => "duration_ms".into(),
            ('T', Some("us")) => "duration_us".into(),
            ('u', None) => "remote_user".into(),
            ('U', None) => "uri".into(),
            ('v', None) => "server_name".into(),
            ('V', None) => "host".into(),
            ('X', None) => "connection_status".into(),
            (d, a) => {
                let shown = match a {
                    Some(a) => format!("%{{{a}}}{d}"),
                    None => format!("%{d}"),
                };
                return Err(unknown(shown));
            }
        };
        b.lit(&std::mem::take(&mut lit));
        b.var(&key)?;
    }
    b.lit(&lit);
    b.build().map(Arc::new)
}

/// The format string: the first quoted argument of a pasted `LogFormat`
/// line, else `text` itself; `\"`, `\\`, `\t` and `\n` read as in
/// httpd.conf.
fn format_string(text: &str) -> Result<String, SettingError> {
    let t = text.trim();
    let quoted = match t.strip_prefix("LogFormat") {
        Some(rest) => Some(rest.trim_start()),
        None if t.starts_with('"') => Some(t),
        None => None,
    };
    let Some(q) = quoted else {
        let f = unescape_conf(t, None)?;
        if f.matches('"').count() % 2 == 1 {
            return Err(SettingError::value(
                "unbalanced quote: the format has an odd number of `\"`",
            ));
        }
        return Ok(f);
    };
    let body = q
        .strip_prefix('"')
        .ok_or_else(|| SettingError::value("`LogFormat` without a quoted format string"))?;
    unescape_conf(body, Some('"'))
}

/// Reads `s` with httpd.conf's backslash escapes, up to the closing
/// `close` quote when there is one (an unclosed one is an error).
fn unescape_conf(s: &str, close: Option<char>) -> Result<String, SettingError> {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(e @ ('"' | '\\')) => out.push(e),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            c if Some(c) == close => return Ok(out),
            c => out.push(c),
        }
    }
    match close {
        Some(q) => Err(SettingError::value(format!(
            "unbalanced quote: the `LogFormat` string's opening {q} is never closed"
        ))),
        None => Ok(out),
    }
}
