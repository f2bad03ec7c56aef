//! What a run writes: terminal tables, the postmortem (Markdown and HTML),
//! plots, and the files of `export` (CSV, Parquet, JSON, the cube). It reads
//! the [`crate::report::Report`] model and never changes a verdict.

pub mod export;
pub mod formats;
pub mod plot;
pub mod postmortem;
pub mod prom;
pub mod table;
