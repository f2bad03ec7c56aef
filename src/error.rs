//! Library error type. Every variant that concerns input names the file (and
//! line, where there is one); the binary adds context with `anyhow`.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {}: {msg}", path.display())]
    Config { path: PathBuf, msg: String },
    #[error("{0}")]
    Invalid(String),
    #[error("no readable input: {0}")]
    NoInput(String),
    /// Inputs were read but not one request could be analysed.
    #[error("nothing analysed: {0}")]
    NothingAnalysed(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
