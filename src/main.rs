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
// events) is built and dropped on its worker: glibc's malloc spent ~5% of a
// 5M-line run in malloc/free and page faults. mimalloc's per-thread heaps
// cost less per call (see `keep_freed_memory` for its one setting).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells mimalloc to keep memory that is freed for reuse rather than hand
/// it back to the OS a second later: each chunk's partial is freed as the
/// next is built, and returned pages came back as fresh ones the kernel
/// zeroed (31% of a two-thread 1M-line JSON run's samples under `perf`).
/// Kept, they bound peak RSS by the working set, as glibc's heap does.
/// Measured with `MIMALLOC_PURGE_DELAY=-1` against the default: 6-9%
/// faster in one set of interleaved runs (1M JSON, 5M combined), equal
/// in another; under `perf`, 4-19x fewer page-zeroing samples and ~20%
/// fewer samples in all; peak RSS the same.
fn keep_freed_memory() {
    // `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (libmimalloc-sys
    // leaves it out of its constants); -1 means never purge. Checked for
    // libmimalloc-sys 0.1.49 (mimalloc v3): with `MIMALLOC_PURGE_DELAY=77`
    // in the environment, option 15 reads 77. Recheck on an upgrade.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a plain integer option; mimalloc reads it when it
    // next considers purging.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
}

/// Turns transparent huge pages off for this process. Memory a process
/// touches for the first time is zeroed by the kernel, and on a virtual
/// machine that hands freed memory back to its host (as the development
/// machine does, a few seconds after it is freed) each first touch also
/// costs the host a fault: a run started after a few idle seconds spent
/// up to a third of its time there. A huge page is zeroed in whole, 2 MiB
/// for the first byte used of it; without them only the pages used are.
/// Measured on 5M combined lines at -j2, three runs each after `sleep 3`:
/// 1.13-1.17 s -> 1.03-1.04 s, 0.44-0.48 -> 0.16-0.18 s of system time,
/// peak RSS 190-199 -> 146-164 MiB; on 1M lines at -j1, 0.51-0.61 s ->
/// 0.49-0.52 s (user time is ~5% higher without huge pages, which is why
/// back-to-back runs, with memory still backed, gain nothing).
/// `scripts/bench.py` now starts every command after such a pause.
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
