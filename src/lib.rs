//! authstorm: forensics for authentication-service access logs.
//!
//! The modules follow the data, and each imports only the ones before it:
//!
//! - vocabulary shared by every stage: [`time`], [`text`], [`status`],
//!   [`error`], [`privacy`];
//! - [`input`]: discovery, decompression, chunks, line finding;
//! - [`format`](mod@format): detection and parsers, each with its fast path;
//! - [`event`]: mapping a parsed line's fields to the normalized event;
//! - [`classify`]: client, app, version, token state, operation;
//! - [`retry`]: retry chains, resends and loops per client, in time order;
//! - [`aggregate`]: the mergeable cohort × time [`aggregate::Cube`];
//! - [`scan`]: runs the stages above over many files in parallel;
//! - [`detect`]: storms, outages and surges on the cube;
//! - [`report`]: the report model;
//! - [`output`]: tables, postmortem, plots and files;
//! - [`config`] and [`analyze`]: a whole run, as the CLI drives it.
//!
//! [`simulate`] writes synthetic logs with ground truth.

pub mod error;
pub mod privacy;
pub mod status;
pub mod text;
pub mod time;

pub mod input;

pub mod format;

pub mod event;

pub mod classify;

pub mod retry;

pub mod aggregate;

pub mod scan;

pub mod detect;

pub mod report;

pub mod output;

pub mod config;

pub mod analyze;

pub mod state;

pub mod simulate;

pub use error::{Error, Result};
