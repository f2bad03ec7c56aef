//! W3C extended log format (IIS): `#Fields:` directives name the
//! space-separated columns; directives may repeat mid-file.

use std::borrow::Cow;
use std::sync::Arc;

use super::{IndexedRecord, SkipReason};

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "w3c",
    title: "W3C extended log format (IIS)",
    detection: "a `#Fields:` or `#Software:` directive in the first lines",
    example: "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken\n\
              2026-03-02 08:00:01 10.0.0.5 GET /v1/me - 443 - 203.0.113.9 acme-desktop/4.2.1+(Windows+NT+10.0) 401 0 0 4",
    sources: &[],
    stateful: true,
    sniff: |lines, _| {
        let header = |l: &&str| l.starts_with("#Fields:") || l.starts_with("#Software:");
        if lines.iter().any(header) {
            lines.len()
        } else {
            0
        }
    },
    parser: |_| Ok(super::LineParser::W3c(W3cParser::default())),
};

#[derive(Clone, Default)]
pub struct W3cParser {
    names: Option<Arc<[String]>>,
}

impl W3cParser {
    pub fn parse<'a>(&mut self, line: &'a str) -> Result<IndexedRecord<'a>, SkipReason> {
        if let Some(d) = line.strip_prefix('#') {
            if let Some(f) = d.strip_prefix("Fields:") {
                let mut names: Vec<String> = f.split_whitespace().map(str::to_string).collect();
                // A synthetic `timestamp` joins the separate date and time columns.
                names.push("timestamp".into());
                self.names = Some(names.into());
            }
            return Err(SkipReason::Comment);
        }
        let names = self.names.clone().ok_or(SkipReason::Unparsable)?;
        let cols: Vec<&str> = line.split(' ').filter(|c| !c.is_empty()).collect();
        if cols.len() + 1 != names.len() {
            return Err(SkipReason::Unparsable);
        }
        let mut values: Vec<Option<Cow<'a, str>>> = cols
            .iter()
            .zip(names.iter())
            .map(|(v, n)| {
                if *v == "-" {
                    None
                } else if n.starts_with("cs(") || n.starts_with("sc(") {
                    // IIS writes spaces inside header values as `+`.
                    Some(Cow::Owned(v.replace('+', " ")))
                } else {
                    Some(Cow::Borrowed(*v))
                }
            })
            .collect();
        let at = |n: &str| names.iter().position(|x| x == n).and_then(|i| cols.get(i));
        let ts = match (at("date"), at("time")) {
            (Some(d), Some(t)) => Some(Cow::Owned(format!("{d} {t}"))),
            (None, Some(t)) => Some(Cow::Borrowed(*t)),
            _ => None,
        };
        values.push(ts);
        Ok(IndexedRecord { names, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::Record;

    #[test]
    fn header_then_rows() {
        let mut p = W3cParser::default();
        assert!(
            p.parse("2015-01-13 00:32:17 1.2.3.4").is_err(),
            "no header yet"
        );
        assert_eq!(
            p.parse("#Fields: date time c-ip cs(User-Agent) sc-status")
                .err(),
            Some(SkipReason::Comment)
        );
        let r = p
            .parse("2015-01-13 00:32:17 1.2.3.4 Mozilla/5.0+(x) 404")
            .unwrap();
        assert_eq!(r.get("timestamp").as_deref(), Some("2015-01-13 00:32:17"));
        assert_eq!(r.get("cs(User-Agent)").as_deref(), Some("Mozilla/5.0 (x)"));
        assert_eq!(r.get("sc-status").as_deref(), Some("404"));
        assert!(p.parse("2015-01-13 00:32:17 too few").is_err());
    }
}
