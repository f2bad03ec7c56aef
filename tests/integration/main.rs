//! The one integration test binary. Unit tests live beside their module
//! (`src/**/tests.rs` or `mod tests`); what crosses modules goes here:

/// The binary end to end: flags, exit codes, config errors, stdin, cubes.
mod cli;
/// Helpers shared by the others.
mod common;
/// `compare`: two periods, cohorts and endpoints, change beyond noise.
mod compare;
/// A log directory as found: files that are not access logs set aside.
mod dirs;
/// Every format's sample files, field by field (`tests/data/formats`).
mod format_cases;
/// Every format and compression gives the same analysis.
mod formats;
/// Hostile and broken input: clear errors and counted skips, never a panic.
mod hardening;
/// Modules in pipeline order, imports only going back down it.
mod layers;
/// One client across files: nodes, rotation, compression, one thread.
mod layout;
/// Detection against simulated incidents with ground truth.
mod matrix;
/// `nightly --state`: incremental runs, rotations, kills, history baselines.
mod nightly;
/// Report files, exports and plots.
mod outputs;
/// Threads and chunk sizes never change a result.
mod parallel;
/// The plots as drawn: inside their areas, labels apart, series broken
/// at gaps, for several shapes of incident.
mod plots;
/// The real public logs in `tests/data/real`.
mod real_logs;
/// `--since`/`--until` seeking in time-ordered files.
mod seek;
