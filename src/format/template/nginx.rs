//! nginx's `log_format`, pasted as is (`[format] nginx`): the whole
//! directive (`log_format NAME [escape=...] 'part' "part" ...;`) or just
//! its format string. Each `$name` / `${name}` is the record key `name`.
//! With `log_format main '$remote_addr [$time_iso8601] "$request" $status rt=$request_time';`:
//!
//! `203.0.113.9 [2026-03-02T08:00:01+00:00] "POST /oauth/token HTTP/1.1" 401 rt=0.004`

use std::sync::Arc;

use super::{Builder, Template};
use crate::error::SettingError;

pub static NGINX: crate::format::FormatDef = crate::format::FormatDef {
    name: "nginx",
    title: "your nginx `log_format`, pasted into the config (`[format] nginx`)",
    detection: "the config's `log_format` reads the line (preferred over every built-in format)",
    example: r#"203.0.113.9 [2026-03-02T08:00:01+00:00] "POST /oauth/token HTTP/1.1" 401 rt=0.004 urt="0.003" dev=d-7f3a"#,
    sources: &[],
    stateful: false,
    sniff: |lines, custom| {
        custom
            .nginx
            .as_ref()
            .map_or(0, |t| crate::format::count_read(lines, |l| t.reads(l)))
    },
    parser: |custom| {
        custom.nginx.as_ref().map(Template::parser).ok_or_else(|| {
            SettingError::value(
                "format `nginx` needs `[format] nginx = '''log_format ...;'''` in the config",
            )
        })
    },
};

/// Compiles a pasted `log_format` directive, or a bare format string.
pub fn compile(text: &str) -> Result<Arc<Template>, SettingError> {
    let format = format_string(text)?;
    let mut b = Builder::default();
    let s = format.as_bytes();
    let mut lit = 0;
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'$' {
            i += 1;
            continue;
        }
        let (name, end) = if s.get(i + 1) == Some(&b'{') {
            let close = format[i + 2..]
                .find('}')
                .ok_or_else(|| SettingError::value(format!("`${{` without `}}` at byte {i}")))?;
            (&format[i + 2..i + 2 + close], i + 3 + close)
        } else {
            let n = s[i + 1..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .unwrap_or(s.len() - i - 1);
            (&format[i + 1..i + 1 + n], i + 1 + n)
        };
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
            return Err(SettingError::value(format!(
                "invalid variable name at byte {i} of the format: {:?}",
                &format[i..end.min(format.len())]
            )));
        }
        b.lit(&format[lit..i]);
        b.var(name)?;
        i = end;
        lit = end;
    }
    b.lit(&format[lit..]);
    b.build().map(Arc::new)
}

/// The format string of a pasted directive: its quoted (or bare) parts
/// after the name and `escape=`, concatenated, as nginx does; or `text`
/// itself when it is no directive.
fn format_string(text: &str) -> Result<String, SettingError> {
    let t = text.trim();
    let directive = t
        .strip_prefix("log_format")
        .filter(|r| r.starts_with(|c: char| c.is_whitespace()));
    let Some(rest) = directive else {
        // Only quoted parts (`'...' '...'`): the parts, else the text.
        if t.starts_with(['\'', '"']) {
            let parts = words(t)?;
            return Ok(parts.concat());
        }
        return Ok(text.to_string());
    };
    let mut w = words(rest)?.into_iter();
    w.next()
        .ok_or_else(|| SettingError::value("`log_format` without a name"))?;
    let mut parts: Vec<String> = w.collect();
    if let Some(escape) = parts.first().and_then(|p| p.strip_prefix("escape=")) {
        if !["default", "json", "none"].contains(&escape) {
            return Err(SettingError::Unknown {
                what: "log_format escape",
                name: escape.into(),
                expected: vec!["default".into(), "json".into(), "none".into()],
            });
        }
        parts.remove(0);
    }
    if parts.is_empty() {
        return Err(SettingError::value("`log_format` without a format string"));
    }
    Ok(parts.concat())
}

/// The words of an nginx directive's arguments, as nginx's config reader
/// splits them: whitespace apart, `'...'` or `"..."` (with `\"`, `\'`,
/// `\\`, `\n`, `\t`, `\r`), up to a `;` that ends the directive.
fn words(s: &str) -> Result<Vec<String>, SettingError> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some(&(at, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        if c == ';' {
            it.next();
            if let Some((_, extra)) = it.find(|(_, c)| !c.is_whitespace()) {
                return Err(SettingError::value(format!(
                    "text after the directive's `;`: {extra:?}..."
                )));
            }
            break;
        }
        let mut word = String::new();
        if c == '\'' || c == '"' {
            it.next();
            let mut closed = false;
            while let Some((_, d)) = it.next() {
                match d {
                    '\\' => match it.next() {
                        Some((_, e @ ('"' | '\'' | '\\'))) => word.push(e),
                        Some((_, 'n')) => word.push('\n'),
                        Some((_, 't')) => word.push('\t'),
                        Some((_, 'r')) => word.push('\r'),
                        Some((_, e)) => {
                            word.push('\\');
                            word.push(e);
                        }
                        None => word.push('\\'),
                    },
                    d if d == c => {
                        closed = true;
                        break;
                    }
                    d => word.push(d),
                }
            }
            if !closed {
                return Err(SettingError::value(format!(
                    "unbalanced quote: the {c} at byte {at} is never closed"
                )));
            }
        } else {
            while let Some(&(_, d)) = it.peek() {
                if d.is_whitespace() || d == ';' {
                    break;
                }
                if d == '\'' || d == '"' {
                    return Err(SettingError::value(format!(
                        "unbalanced quote: a {d} inside the word at byte {at}"
                    )));
                }
                word.push(d);
                it.next();
            }
        }
        out.push(word);
    }
    Ok(out)
}
