//! Library error types. Every variant that concerns input names the file
//! (and line, where there is one); a bad setting names its key. The binary
//! adds context with `anyhow`.
//!
//! One convention: an error that wraps another returns it from `source()`
//! and leaves it out of its own message, so a reader of the chain sees
//! each reason once; [`chain`] prints the whole chain on one line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A config file that cannot be used, and why.
    #[error("config {}", path.display())]
    Config {
        path: PathBuf,
        #[source]
        inner: SettingError,
    },
    /// A setting given on the command line or through the API.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// Cubes of different bucket widths cannot be merged.
    #[error("cannot merge cubes with bucket widths {a}s and {b}s")]
    BucketMismatch { a: u64, b: u64 },
    /// A file that is not an authstorm cube, or of another schema.
    #[error("{}: not an authstorm cube: {reason}", path.display())]
    NotACube { path: PathBuf, reason: String },
    /// An error about one file (a cube to merge, an output to write).
    #[error("{}", path.display())]
    File {
        path: PathBuf,
        #[source]
        inner: Box<Error>,
    },
    /// An output file's encoder (CSV, Parquet, JSON) failed.
    #[error("{}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A plot could not be drawn.
    #[error("drawing {what}: {reason}")]
    Plot { what: String, reason: String },
    #[error("cannot start worker threads")]
    Threads(#[from] rayon::ThreadPoolBuildError),
    #[error("no readable input: {0}")]
    NoInput(String),
    /// A state directory (`--state`) that cannot be used, and why.
    #[error("state {}: {reason}", path.display())]
    State { path: PathBuf, reason: String },
    /// Inputs were read but not one request could be analysed.
    #[error("nothing analysed: {0}")]
    NothingAnalysed(String),
}

impl Error {
    /// The encoder error `source` writing `path`.
    pub fn write(
        path: impl Into<PathBuf>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Write {
            path: path.into(),
            source: source.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// A setting (a config key, a flag's value) that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    /// The config file is not TOML, or not of the expected shape.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// A regular expression that does not compile.
    #[error("invalid regex")]
    Regex(#[from] regex::Error),
    /// A duration such as `90s` or `1h30m` that cannot be read.
    #[error("invalid duration {input:?}")]
    Duration {
        input: String,
        #[source]
        reason: humantime::DurationError,
    },
    /// A name that is none of the accepted ones.
    #[error("unknown {what} {name:?}{}", expected_list(expected))]
    Unknown {
        what: &'static str,
        name: String,
        expected: Vec<String>,
    },
    /// A value the setting does not allow, and why.
    #[error("{0}")]
    Value(String),
    /// The key or flag an error is about (`[detect] loop_gap`, `--bucket`).
    #[error("{key}")]
    At {
        key: String,
        #[source]
        inner: Box<SettingError>,
    },
}

impl SettingError {
    /// This error, about `key`.
    pub fn at(self, key: impl Into<String>) -> Self {
        SettingError::At {
            key: key.into(),
            inner: Box::new(self),
        }
    }

    pub fn value(why: impl Into<String>) -> Self {
        SettingError::Value(why.into())
    }
}

fn expected_list(expected: &[String]) -> String {
    if expected.is_empty() {
        String::new()
    } else {
        format!("; expected one of: {}", expected.join(", "))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `e` and its causes on one line, `outer: inner: ...`. A cause is left out
/// when the text before it already ends with it: errors of other crates
/// may show their source in their own message too.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = String::new();
    let mut next = Some(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !msg.ends_with(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
        next = cause.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_once_in_the_chain() {
        let e = Error::Config {
            path: "a.toml".into(),
            inner: SettingError::value("must be positive")
                .at("[detect] min_clients")
                .at("outer"),
        };
        assert_eq!(e.to_string(), "config a.toml");
        assert_eq!(
            chain(&e),
            "config a.toml: outer: [detect] min_clients: must be positive"
        );
        let io = Error::io("x.log", std::io::Error::other("disk on fire"));
        assert_eq!(chain(&io), "x.log: disk on fire");
        let unclosed = String::from("(");
        let regex = SettingError::from(regex::Regex::new(&unclosed).unwrap_err());
        let text = chain(&regex);
        assert!(text.starts_with("invalid regex: "), "{text}");
        assert_eq!(text.matches("unclosed group").count(), 1, "{text}");
    }
}
