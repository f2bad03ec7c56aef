//! logfmt: `key=value key="quoted value" flag`.

use std::borrow::Cow;

use super::SkipReason;
use crate::format::record::{Key, Record};

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "logfmt",
    title: "logfmt (`key=value` pairs)",
    detection: "at least two `key=value` pairs per line",
    example: "time=2026-03-02T08:00:01Z ip=203.0.113.9 method=GET path=/v1/me status=401 ua=\"acme-desktop/4.2.1\" duration_ms=3.1",
    sources: &[],
    stateful: false,
    sniff: |lines, _| super::count_read(lines, |l| parse(l).is_ok()),
    parser: |_| Ok(super::LineParser::Logfmt),
};

pub struct KvRecord<'a> {
    pub pairs: Vec<(&'a str, Cow<'a, str>)>,
}

impl Record for KvRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        for (k, v) in &self.pairs {
            f(Key::Name(k), Cow::Borrowed(v.as_ref()));
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| Cow::Borrowed(v.as_ref()))
    }
}

/// Requires at least two `key=value` pairs, so prose is not mistaken for logfmt.
pub fn parse(line: &str) -> Result<KvRecord<'_>, SkipReason> {
    let b = line.as_bytes();
    let mut pairs = Vec::new();
    let mut with_value = 0;
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            if b[i] == b'"' {
                return Err(SkipReason::Unparsable);
            }
            i += 1;
        }
        let key = &line[ks..i];
        if i < b.len() && b[i] == b'=' {
            i += 1;
            with_value += 1;
            if i < b.len() && b[i] == b'"' {
                i += 1;
                let vs = i;
                let mut escaped = false;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        escaped = true;
                        i += 1;
                    }
                    i += 1;
                }
                if i > b.len() {
                    return Err(SkipReason::Unparsable);
                }
                let raw = &line[vs..i.min(b.len())];
                i += 1;
                let v = if escaped {
                    Cow::Owned(raw.replace("\\\"", "\"").replace("\\\\", "\\"))
                } else {
                    Cow::Borrowed(raw)
                };
                pairs.push((key, v));
            } else {
                let vs = i;
                while i < b.len() && b[i] != b' ' {
                    i += 1;
                }
                pairs.push((key, Cow::Borrowed(&line[vs..i])));
            }
        } else {
            pairs.push((key, Cow::Borrowed("")));
        }
    }
    if with_value < 2 {
        return Err(SkipReason::Unparsable);
    }
    Ok(KvRecord { pairs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        let r = parse(r#"time="2021-09-15T21:17:10Z" level=error msg="a \"b\" c: d" reason= flag status=Pending"#).unwrap();
        assert_eq!(r.get("time").as_deref(), Some("2021-09-15T21:17:10Z"));
        assert_eq!(r.get("msg").as_deref(), Some(r#"a "b" c: d"#));
        assert_eq!(r.get("reason").as_deref(), Some(""));
        assert_eq!(r.get("flag").as_deref(), Some(""));
        assert_eq!(r.get("status").as_deref(), Some("Pending"));
        assert!(parse("just some words").is_err());
        assert!(parse("a=1").is_err());
        assert!(parse(r#"a=1 b="unterminated"#).is_ok());
    }
}
