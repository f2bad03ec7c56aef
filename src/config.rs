//! The config file (`--config FILE`, TOML) and its validation into the
//! pieces the pipeline uses. Every key is documented in docs/config.md.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::classify::{AppRule, Classifier, HealthRules, TokenState, TokenVocabulary};
use crate::detect::DetectConfig;
use crate::error::{Error, Result, SettingError};
use crate::event::{FIELDS, Field, FieldMap, LatencyUnit};
use crate::format::FormatKind;
use crate::format::regex::RegexFormat;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub format: FormatSection,
    /// normalized field → source field; plus `latency_unit`.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub apps: Vec<AppSection>,
    /// token state → extra vocabulary (`expired = ["E401X"]`).
    #[serde(default)]
    pub token_states: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub health: Option<HealthSection>,
    #[serde(default)]
    pub analysis: AnalysisSection,
    #[serde(default)]
    pub detect: DetectSection,
}

/// `[detect]`: the retry window plus every detection threshold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectSection {
    pub retry_window: Option<String>,
    /// Requests a chain or resend run needs to be a loop.
    pub loop_attempts: Option<u32>,
    /// The longest median gap of a loop.
    pub loop_gap: Option<String>,
    #[serde(flatten)]
    pub thresholds: Option<DetectConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatSection {
    pub name: Option<String>,
    pub regex: Option<String>,
    /// The headers of HAProxy's capture blocks, in order.
    pub haproxy_request_headers: Option<Vec<String>>,
    pub haproxy_response_headers: Option<Vec<String>>,
    /// A pasted nginx `log_format` (or its format string).
    pub nginx: Option<String>,
    /// A pasted Apache `LogFormat` (or its format string).
    pub apache: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// Regex on the user agent; optional `app` / `version` named captures.
    pub pattern: String,
    /// App name when the pattern has no `app` capture (or it is empty).
    pub app: Option<String>,
    /// The numbered group (from 1) that holds the version, for patterns
    /// with plain groups instead of a `version` named capture.
    pub version_group: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub user_agents: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSection {
    pub bucket: Option<String>,
    pub version_depth: Option<usize>,
    pub tz: Option<String>,
}

/// A list of header names (HAProxy's captures), checked: each a header
/// name, so a typo such as a value pasted in is caught here.
fn header_names(
    names: &Option<Vec<String>>,
    key: &str,
) -> Result<Option<std::sync::Arc<[String]>>, SettingError> {
    let Some(names) = names else { return Ok(None) };
    for n in names {
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if n.is_empty() || !n.chars().all(token) {
            return Err(SettingError::value(format!("{n:?} is not a header name")).at(key));
        }
    }
    Ok(Some(names.clone().into()))
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|inner| Error::Config {
            path: path.into(),
            inner,
        })
    }

    /// Parses and validates every section, so that errors name the file.
    pub fn parse(text: &str) -> Result<Self, SettingError> {
        let c: FileConfig = toml::from_str(text)?;
        c.format_kind()?;
        c.custom_formats()?;
        c.field_map()?;
        c.classifier(None)?;
        c.detect_config()?;
        c.retry_config()?;
        if let Some(tz) = &c.analysis.tz {
            crate::time::DisplayTz::parse(tz).map_err(|e| e.at("[analysis] tz"))?;
        }
        if let Some(b) = &c.analysis.bucket {
            crate::time::parse_duration(b).map_err(|e| e.at("[analysis] bucket"))?;
        }
        Ok(c)
    }

    pub fn detect_config(&self) -> Result<DetectConfig, SettingError> {
        let d = self.detect.thresholds.clone().unwrap_or_default();
        d.validate()?;
        Ok(d)
    }

    /// The retry stage's settings: `[detect]` `retry_window`,
    /// `loop_attempts` and `loop_gap`.
    pub fn retry_config(&self) -> Result<crate::retry::RetryConfig, SettingError> {
        let mut r = crate::retry::RetryConfig::default();
        let positive = |name: &str, v: &Option<String>| -> Result<Option<i64>, SettingError> {
            let Some(v) = v else { return Ok(None) };
            let key = || format!("[detect] {name}");
            let d = crate::time::parse_duration(v).map_err(|e| e.at(key()))?;
            if d.is_zero() {
                return Err(SettingError::value("must be positive").at(key()));
            }
            Ok(Some(d.as_micros() as i64))
        };
        if let Some(w) = positive("retry_window", &self.detect.retry_window)? {
            r.window_us = w;
        }
        if let Some(g) = positive("loop_gap", &self.detect.loop_gap)? {
            r.loop_gap_us = g;
        }
        if let Some(n) = self.detect.loop_attempts {
            if n < 2 {
                return Err(SettingError::value("must be at least 2").at("[detect] loop_attempts"));
            }
            r.loop_attempts = n;
        }
        Ok(r)
    }

    pub fn format_kind(&self) -> Result<Option<FormatKind>, SettingError> {
        self.format
            .name
            .as_deref()
            .map(|n| {
                FormatKind::from_name(n).ok_or_else(|| {
                    SettingError::Unknown {
                        what: "format",
                        name: n.into(),
                        expected: FormatKind::names().iter().map(|k| k.to_string()).collect(),
                    }
                    .at("[format] name")
                })
            })
            .transpose()
    }

    /// The formats `[format]` defines, compiled.
    pub fn custom_formats(&self) -> Result<crate::format::Custom, SettingError> {
        use crate::format::template::{apache, nginx};
        let compile = |text: &Option<String>,
                       key: &str,
                       f: fn(
            &str,
        ) -> Result<
            std::sync::Arc<crate::format::template::Template>,
            SettingError,
        >| {
            text.as_deref()
                .map(|t| f(t).map_err(|e: SettingError| e.at(key)))
                .transpose()
        };
        Ok(crate::format::Custom {
            regex: self.regex_format()?,
            haproxy_request_headers: header_names(
                &self.format.haproxy_request_headers,
                "[format] haproxy_request_headers",
            )?,
            haproxy_response_headers: header_names(
                &self.format.haproxy_response_headers,
                "[format] haproxy_response_headers",
            )?,
            nginx: compile(&self.format.nginx, "[format] nginx", nginx::compile)?,
            apache: compile(&self.format.apache, "[format] apache", apache::compile)?,
        })
    }

    pub fn regex_format(&self) -> Result<Option<RegexFormat>, SettingError> {
        self.format
            .regex
            .as_deref()
            .map(|r| RegexFormat::new(r).map_err(|e| e.at("[format] regex")))
            .transpose()
    }

    pub fn field_map(&self) -> Result<FieldMap, SettingError> {
        let mut mapped = BTreeMap::new();
        let mut unit = None;
        for (k, v) in &self.fields {
            if k == "latency_unit" {
                unit = Some(LatencyUnit::parse(v).ok_or_else(|| {
                    SettingError::Unknown {
                        what: "latency unit",
                        name: v.clone(),
                        expected: vec!["s".into(), "ms".into(), "us".into()],
                    }
                    .at("[fields] latency_unit")
                })?);
                continue;
            }
            let f = Field::from_name(k).ok_or_else(|| {
                SettingError::Unknown {
                    what: "normalized field",
                    name: k.clone(),
                    expected: FIELDS.iter().map(|f| f.name().to_string()).collect(),
                }
                .at("[fields]")
            })?;
            mapped.insert(f, v.clone());
        }
        Ok(FieldMap::new(&mapped, unit))
    }

    pub fn classifier(&self, version_depth: Option<usize>) -> Result<Classifier, SettingError> {
        let app_rules = self
            .apps
            .iter()
            .enumerate()
            .map(|(i, a)| {
                AppRule::new(&a.pattern, a.app.as_deref(), a.version_group)
                    .map_err(|e| e.at(format!("[[apps]] #{} ({:?})", i + 1, a.pattern)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut vocabulary = TokenVocabulary::default();
        for (state, words) in &self.token_states {
            let s = TokenState::from_name(state).ok_or_else(|| {
                SettingError::Unknown {
                    what: "token state",
                    name: state.clone(),
                    expected: TokenState::ALL
                        .iter()
                        .map(|t| t.name().to_string())
                        .collect(),
                }
                .at("[token_states]")
            })?;
            vocabulary
                .extra
                .extend(words.iter().map(|w| (w.clone(), s)));
        }
        let health = match &self.health {
            Some(h) => HealthRules {
                paths: h.paths.clone(),
                user_agents: h.user_agents.clone(),
            },
            None => HealthRules::default(),
        };
        Ok(Classifier {
            app_rules,
            version_depth: version_depth.or(self.analysis.version_depth),
            vocabulary,
            health,
            auth_routes: self
                .detect
                .thresholds
                .as_ref()
                .map(|d| d.login_routes.clone())
                .unwrap_or_else(crate::classify::default_auth_routes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_config() {
        let c = FileConfig::parse(
            r#"
[format]
regex = '^(?P<ts>\S+) (?P<status>\d+)$'
[fields]
timestamp = "ts"
latency = "took_us"
latency_unit = "us"
[[apps]]
pattern = '^Acme (?P<version>\S+)'
app = "desktop"
[token_states]
expired = ["E401X"]
[health]
paths = ["/up"]
[analysis]
bucket = "5m"
version_depth = 2
"#,
        )
        .unwrap();
        assert!(c.regex_format().unwrap().is_some());
        c.field_map().unwrap();
        let cl = c.classifier(None).unwrap();
        assert_eq!(cl.version_depth, Some(2));
        assert_eq!(cl.health.paths, vec!["/up"]);
    }

    #[test]
    fn haproxy_capture_names() {
        let c =
            FileConfig::parse("[format]\nhaproxy_request_headers = [\"Host\", \"User-Agent\"]\n")
                .unwrap();
        let custom = c.custom_formats().unwrap();
        assert_eq!(
            custom.haproxy_request_headers.as_deref(),
            Some(&["Host".to_string(), "User-Agent".to_string()][..])
        );
        assert!(custom.haproxy_response_headers.is_none());
        let e = FileConfig::parse("[format]\nhaproxy_response_headers = [\"Cache Control\"]\n")
            .map_err(|e| crate::error::chain(&e))
            .unwrap_err();
        assert!(
            e.contains("[format] haproxy_response_headers") && e.contains("not a header name"),
            "{e}"
        );
    }

    #[test]
    fn errors_are_specific() {
        assert!(
            FileConfig::parse("[nope]\n")
                .map_err(|e| crate::error::chain(&e))
                .unwrap_err()
                .contains("nope")
        );
        assert!(
            FileConfig::parse("[fields]\nbogus = \"x\"\n")
                .map_err(|e| crate::error::chain(&e))
                .unwrap_err()
                .contains("bogus")
        );
        assert!(FileConfig::parse("[fields]\nlatency_unit = \"h\"\n").is_err());
        assert!(FileConfig::parse("[token_states]\nweird = [\"x\"]\n").is_err());
        assert!(FileConfig::parse("[[apps]]\npattern = \"(\"\n").is_err());
        assert!(FileConfig::parse("[format]\nname = \"xml\"\n").is_err());
        let tz = FileConfig::parse("[analysis]\ntz = \"Mars/Olympus\"\n").unwrap_err();
        assert!(
            crate::error::chain(&tz).starts_with("[analysis] tz: unknown time zone"),
            "{tz}"
        );
    }

    /// `[[apps]]` rules: named captures and `version_group`, in order,
    /// before the built-in names.
    #[test]
    fn app_rules() {
        let c = FileConfig::parse(
            r#"
[[apps]]
pattern = '^acme-(?P<app>desktop|mobile)/(?P<version>\d+\.\d+\.\d+)'
[[apps]]
pattern = '^Dalvik/\S+ \(.*\) (AcmeVoice)/([\d.]+)'
app = "voice"
version_group = 2
[[apps]]
pattern = 'AcmeVoice'
app = "voice-any"
"#,
        )
        .unwrap();
        let cl = c.classifier(None).unwrap();
        assert_eq!(cl.app_rules.len(), 3);
        let name = |ua: &str| {
            let (a, v) = crate::classify::client::from_user_agent(ua, &cl.app_rules);
            (a.into_owned(), v.into_owned())
        };
        assert_eq!(
            name("acme-desktop/4.2.1 (Windows NT 10.0; x64)"),
            ("desktop".into(), "4.2.1".into())
        );
        assert_eq!(
            name("Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7) AcmeVoice/6.9.8"),
            ("voice".into(), "6.9.8".into())
        );
        assert_eq!(
            name("AcmeVoice/1234 CFNetwork/1490.0.4 Darwin/23.2.0"),
            ("voice-any".into(), "".into())
        );
        assert_eq!(name("okhttp/4.12.0"), ("okhttp".into(), "4.12.0".into()));
    }

    #[test]
    fn app_rule_errors_name_the_rule() {
        let err = |apps: &str| {
            FileConfig::parse(apps)
                .map_err(|e| crate::error::chain(&e))
                .unwrap_err()
        };
        let ok = "[[apps]]\npattern = 'ok/(\\S+)'\napp = \"ok\"\n";
        let e = err(&format!("{ok}[[apps]]\npattern = '('\napp = \"a\"\n"));
        assert!(
            e.contains("[[apps]] #2") && e.contains("invalid regex"),
            "{e}"
        );
        let e = err("[[apps]]\npattern = '^acme/(\\S+)'\n");
        assert!(
            e.contains("[[apps]] #1") && e.contains("no app name"),
            "{e}"
        );
        let e = err("[[apps]]\npattern = '^acme/(\\S+)'\napp = \"acme\"\nversion_group = 2\n");
        assert!(
            e.contains("version_group = 2, but the pattern has 1 capture group"),
            "{e}"
        );
        let e = err("[[apps]]\npattern = 'x'\napp = \"x\"\nversion = 1\n");
        assert!(e.contains("version"), "unknown key: {e}");
    }
}
