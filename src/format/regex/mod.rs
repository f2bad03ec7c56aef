//! User-defined formats: a regex with named captures, from the config.
//! The regex crate runs in linear time; the compiled size is capped so a
//! hostile or careless pattern cannot exhaust memory.

use crate::error::SettingError;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use super::{IndexedRecord, SkipReason};

pub static FORMAT: super::FormatDef = super::FormatDef {
    name: "regex",
    title: "your own regex with named captures (`[format] regex` in the config)",
    detection: "the config's regex matches the line (preferred over every built-in format)",
    example: "2026-03-02T08:00:01Z 401 /v1/me",
    sources: &[],
    stateful: false,
    sniff: |lines, custom| {
        custom
            .regex
            .as_ref()
            .map_or(0, |r| super::count_read(lines, |l| r.parse(l).is_ok()))
    },
    parser: |custom| {
        custom
            .regex
            .clone()
            .map(super::LineParser::Regex)
            .ok_or_else(|| {
                SettingError::value("format `regex` needs `[format] regex = \"...\"` in the config")
            })
    },
};

#[derive(Clone, Debug)]
pub struct RegexFormat {
    re: Regex,
    names: Arc<[String]>,
}

impl RegexFormat {
    pub fn new(pattern: &str) -> Result<Self, SettingError> {
        let re = RegexBuilder::new(pattern)
            .size_limit(10 << 20)
            .dfa_size_limit(10 << 20)
            .build()?;
        let names: Vec<String> = re
            .capture_names()
            .map(|n| n.unwrap_or("").to_string())
            .collect();
        if names.iter().all(|n| n.is_empty()) {
            return Err(SettingError::value(
                "no named captures (use (?P<status>...))",
            ));
        }
        Ok(RegexFormat {
            re,
            names: names.into(),
        })
    }

    pub fn parse<'a>(&self, line: &'a str) -> Result<IndexedRecord<'a>, SkipReason> {
        let caps = self.re.captures(line).ok_or(SkipReason::Unparsable)?;
        let values = (0..self.names.len())
            .map(|i| caps.get(i).map(|m| std::borrow::Cow::Borrowed(m.as_str())))
            .collect();
        Ok(IndexedRecord {
            names: self.names.clone(),
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::Record;

    #[test]
    fn captures() {
        let f = RegexFormat::new(r"^(?P<ts>\S+) (?P<status>\d{3}) (?P<path>\S+)").unwrap();
        let r = f.parse("2024-05-01T10:00:00Z 401 /login").unwrap();
        assert_eq!(r.get("status").as_deref(), Some("401"));
        assert_eq!(r.get("path").as_deref(), Some("/login"));
        assert!(f.parse("nope").is_err());
        assert!(RegexFormat::new(r"(\d+)").is_err());
        assert!(RegexFormat::new(r"(?P<a>").is_err());
        assert!(
            RegexFormat::new(r"(?P<a>\w{1000}){1000}").is_err(),
            "size limit"
        );
    }
}
