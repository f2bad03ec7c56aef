//! authstorm: forensics for authentication-service access logs.
//!
//! The modules follow the data: [`input`] (discovery, decompression,
//! chunking) → [`format`] (detection, parsers) → [`event`] (the normalized
//! event) → [`classify`] → [`aggregate`] (the mergeable cohort × time
//! [`aggregate::Cube`]) → [`report`]. [`scan`] runs the first stages in
//! parallel; [`simulate`] writes synthetic logs with ground truth.

pub mod aggregate;
pub mod analyze;
pub mod classify;
pub mod config;
pub mod detect;
pub mod error;
pub mod event;
pub mod export;
pub mod format;
pub mod input;
pub mod plot;
pub mod privacy;
pub mod report;
pub mod retry;
pub mod scan;
pub mod simulate;
pub mod text;
pub mod time;

pub use error::{Error, Result};
