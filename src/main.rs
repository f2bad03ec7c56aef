//! The `authstorm` binary: parses arguments, builds a validated config and
//! calls the library. Exit codes: 0 success, 1 findings when asked to fail
//! on them, 2 unusable arguments or no readable input, 3 input problems
//! under `--strict`.

mod cli;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

// Each chunk's partial (hash maps, per-cell client sets, the retry
// events) is built and dropped on its worker, so a scan makes many
// short-lived allocations on several threads at once; mimalloc's
// per-thread heaps cost less per call than glibc's malloc and free (see
// `keep_freed_memory` for its one setting; measurements in
// docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells mimalloc to keep memory that is freed for reuse rather than hand
/// it back to the OS a second later: each chunk's partial is freed as the
/// next is built, and pages handed back return as fresh ones the kernel
/// must zero, which can take a large share of a scan's time. Kept, freed
/// memory still bounds peak RSS by the working set, as glibc's heap does:
/// peak RSS is no higher than with mimalloc's default.
fn keep_freed_memory() {
    // `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (libmimalloc-sys
    // leaves it out of its constants); -1 means never purge. The number is
    // mimalloc v3's (libmimalloc-sys 0.1.49); to check it after an upgrade,
    // run with `MIMALLOC_PURGE_DELAY=77` in the environment: option 15
    // must read 77.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a plain integer option; mimalloc reads it when it
    // next considers purging.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
}

/// Turns transparent huge pages off for this process. The kernel zeroes
/// memory a process touches for the first time, and on a virtual machine
/// that hands freed memory back to its host each first touch also costs
/// the host a fault, so a run started after a few idle seconds can spend
/// much of its time there. A huge page is zeroed whole, 2 MiB for the
/// first byte used of it; without them only the pages used are, which
/// also lowers peak RSS. The price is a little more user time, so runs
/// back to back (memory still backed) gain nothing; `scripts/bench.py`
/// starts every command after an idle pause to measure the case of a
/// command run once (docs/benchmarks.md, "first-touched memory").
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: `prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)` takes plain integers
    // and only sets a flag of this process (checked when memory is
    // faulted in); a failure (an old kernel) leaves huge pages on.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Typed exit codes (documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Findings = 1,
    Usage = 2,
    /// `--strict`: lines were skipped or an input could not be read whole.
    Strict = 3,
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
    })
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(a) => cli::run_analyze(a, cli::View::All),
        Command::Storms(a) => cli::run_analyze(a, cli::View::Storms),
        Command::Report(a) => cli::run_analyze(a, cli::View::Report),
        Command::Export(e) => cli::run_export(e),
        Command::Simulate(s) => cli::run_simulate(s),
        Command::Compare(c) => cli::run_compare(c),
        Command::Nightly(n) => cli::run_nightly(n),
        Command::History(h) => cli::run_history(h),
        Command::Formats(f) => cli::run_formats(f),
        Command::Completions(c) => cli::run_completions(c),
        Command::Man(m) => cli::run_man(m),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = io::stdout().flush();
            eprintln!("authstorm: error: {}", cli::error_message(&e));
            ExitCode::from(Exit::Usage as u8)
        }
    }
}
