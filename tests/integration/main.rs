//! The one integration test binary: the CLI end to end, real logs, every
//! format, compression, and parallel == sequential.

mod cli;
mod common;
mod formats;
mod hardening;
mod layout;
mod outputs;
mod parallel;
mod real_logs;
mod scenarios;
mod seek;
