//! Command-line definition (clap) and the translation of flags into the
//! library's validated configuration.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use authstorm::aggregate::ByField;
use authstorm::analyze::{AnalyzeConfig, analyze};
use authstorm::config::FileConfig;
use authstorm::detect::StormKind;
use authstorm::format::FormatKind;
use authstorm::output::table::{TableOptions, render, render_storms};
use authstorm::scan::ScanOptions;
use authstorm::simulate::{
    self, Behaviour, Scenario, Severity, SimFormat, SimOptions, SimTz, UaStyle,
};
use authstorm::time::{DisplayTz, parse_duration, parse_time_bound};

use crate::Exit;

#[derive(Parser)]
#[command(
    name = "authstorm",
    version,
    about = "Forensics for auth-service access logs: cohorts, timelines and retry storms",
    after_long_help = MAIN_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Analyze access logs: cohort tables, timeline, endpoints, JSON report.
    #[command(after_long_help = ANALYZE_EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// Only the retry storms, surges and outages (fast summary for alerting).
    #[command(after_long_help = STORMS_EXAMPLES)]
    Storms(AnalyzeArgs),
    /// Write the postmortem files (plots, report.html/.md, CSV, Parquet) to --out.
    #[command(after_long_help = REPORT_EXAMPLES)]
    Report(AnalyzeArgs),
    /// Write every request, normalized and classified, to Parquet or CSV.
    #[command(after_long_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// Write synthetic auth-service access logs with ground truth.
    #[command(after_long_help = SIMULATE_EXAMPLES)]
    Simulate(SimulateArgs),
    /// Compare two periods: per cohort and endpoint, what changed beyond noise.
    #[command(after_long_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// For cron: add what is new in a log archive to a --state directory.
    ///
    /// Reads only what is new since the last run (files are known by content:
    /// rotated and compressed copies are not read twice), stores one cube per
    /// day, and judges each day against the stored days before it.
    #[command(after_long_help = NIGHTLY_EXAMPLES)]
    Nightly(AnalyzeArgs),
    /// List the days stored in a --state directory.
    #[command(after_long_help = HISTORY_EXAMPLES)]
    History(HistoryArgs),
    /// List the log formats, or show how a file's first lines are read.
    #[command(after_long_help = FORMATS_EXAMPLES)]
    Formats(FormatsArgs),
    /// Print the shell completion script for SHELL to stdout.
    #[command(after_long_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout, or write every page to --out DIR.
    #[command(after_long_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

// The sections after the options in `--help` (not `-h`), and in the man
// pages. Each example runs as written in a directory where the simulate
// examples ran first, with `authstorm.toml` from samples/ beside them
// (tests/integration/cli.rs runs them all). Lines stay under 80 columns:
// clap wraps this text to the terminal's width.

const MAIN_HELP: &str = "\
Examples:
  authstorm simulate -o access.log
  authstorm analyze access.log
  authstorm help analyze

Exit status:
  0  success; findings do not change it unless asked
  1  a retry storm was found and --fail-on-storm was given
  2  unusable arguments or config, no readable input, nothing analysed,
     or (--state) nothing new
  3  --strict: a line was skipped or an input could not be read whole";

const ANALYZE_EXAMPLES: &str = "\
Examples:
  # Storms, cohorts, timeline and endpoints as tables on the terminal
  authstorm analyze access.log
  # Every file under a directory (gzip, zstd, bzip2 too), 5-minute buckets
  authstorm analyze logs/ --bucket 5m --tz Europe/Berlin
  # One morning as a JSON report, grouped by app and status
  authstorm analyze access.log --since 2026-03-03T06:00:00Z \\
      --until 2026-03-03T12:00:00Z --by app,status --json report.json
  # Field mapping and app rules from a config file; the log on stdin
  authstorm analyze --config authstorm.toml - < access.log";

const STORMS_EXAMPLES: &str = "\
Examples:
  # The retry storms, surges and outages with their event timeline
  authstorm storms access.log
  # For a nightly job or an alert: exit status 1 when a storm is found
  authstorm storms logs/ --fail-on-storm || echo \"retry storm\"";

const REPORT_EXAMPLES: &str = "\
Examples:
  # Plots, report.html, report.md, CSV, storms.json and cube.parquet
  authstorm report access.log --out postmortem/
  # Plots stacked by the top cohorts, New York time, client IPs truncated
  authstorm report logs/ --out postmortem/ --stack cohort \\
      --tz America/New_York --anonymize-ip";

const EXPORT_EXAMPLES: &str = "\
Examples:
  # Every request, normalized and classified, to Parquet
  authstorm export access.log --to requests.parquet
  # One hour as CSV on stdout
  authstorm export access.log --to - --since 2026-03-03T09:00:00Z \\
      --until 2026-03-03T10:00:00Z > hour.csv";

const SIMULATE_EXAMPLES: &str = "\
Examples:
  # Two days with a retry storm on the second, and the ground truth
  authstorm simulate --days 2 --lines 50000 -o access.log --truth truth.json
  # An outage as JSON lines, gzip-compressed
  authstorm simulate --scenario outage --format json --gzip -o outage.json.gz
  # Three load-balancer nodes (logs/node1.log ...), two behaviours, junk
  authstorm simulate --behaviours restart,decoys --nodes 3 --junk 0.01 \\
      --lines 30000 -o logs/";

const COMPARE_EXAMPLES: &str = "\
Examples:
  # the period before and the period after: logs, or cubes saved with
  # --cube (a day kept from last week, say)
  authstorm compare outage.json.gz access.log
  authstorm analyze outage.json.gz --cube before.json
  authstorm compare before.json access.log --top 5 --plot changes.png
  authstorm compare before.json access.log --json - | jq '.cohorts[0]'
  # stored days (see `authstorm nightly --help`): --state DIR --a DAY --b DAY
  # with dates, weekdays, last-WEEKDAY or FROM..TO";

const NIGHTLY_EXAMPLES: &str = "\
Examples:
  # every night (cron): what is new since the last run, one cube per day;
  # exit 0 done, 1 an incident with --fail-on-storm, 2 nothing new could
  # be analysed, 3 lines skipped with --strict
  authstorm nightly logs/ --state state/ --keep-days 90 --prom nightly.prom
  # the days stored so far
  authstorm history --state state/";

const HISTORY_EXAMPLES: &str = "\
Examples:
  # the stored days: lines, requests, incidents, what each was judged against
  authstorm history --state state/
  authstorm history --state state/ --json - | jq 'keys'";

const FORMATS_EXAMPLES: &str = "\
Examples:
  # every format: what writes it, how it is detected, an example line
  authstorm formats
  # which format access.log is read as and why; its first lines, field
  # by field, and what each normalized field came from
  authstorm formats test access.log
  authstorm formats test access.log --lines 1 --json";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  # bash: for this shell, or for every new one
  source <(authstorm completions bash)
  authstorm completions bash \\
      > ~/.local/share/bash-completion/completions/authstorm
  # zsh: into a directory on $fpath, then start a new shell
  authstorm completions zsh > ~/.zfunc/_authstorm
  # fish
  authstorm completions fish > ~/.config/fish/completions/authstorm.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  # Read the page without installing it
  authstorm man | man -l -
  # Packagers: authstorm.1 and authstorm-analyze.1 ... into one directory,
  # then install them into man1 (e.g. /usr/share/man/man1)
  authstorm man --out man/";

/// `--format`: the registry's names (`authstorm formats` lists them).
fn format_arg(s: &str) -> Result<FormatKind, String> {
    FormatKind::from_name(s).ok_or_else(|| {
        format!(
            "unknown format `{s}`; one of: {} (see `authstorm formats`)",
            FormatKind::names().join(", ")
        )
    })
}

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Files, directories (recursive), glob patterns, or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// Read every input as this format instead of detecting it per file
    /// (`authstorm formats` lists them).
    #[arg(long, value_name = "FORMAT", value_parser = format_arg)]
    pub format: Option<FormatKind>,
    /// TOML config: field mapping, app rules, token vocabulary, health checks.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Time bucket width (e.g. 1m, 30s, 5m, 1h).
    #[arg(long, value_name = "DURATION")]
    pub bucket: Option<String>,
    /// Extra grouping by fields, e.g. `app,status_class`.
    #[arg(long, value_name = "FIELD,...", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Only requests at or after this time (RFC 3339, or relative: -2h, 30m).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Only requests before this time.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Display time zone (IANA name, e.g. Europe/Berlin); output data stays UTC.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Group versions by their first N components (2: 4.2.1 → 4.2).
    #[arg(long, value_name = "N")]
    pub version_depth: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Write the JSON report to FILE (`-` for stdout, replacing the tables).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Write the cohort × time cube (JSON) to FILE, for merging runs later.
    #[arg(long, value_name = "FILE")]
    pub cube: Option<PathBuf>,
    /// Stack the timeline plot's requests by token state or by top cohorts.
    #[arg(long, value_enum, default_value = "token")]
    pub stack: StackArg,
    /// The paths are cube files (from --cube): merge them and analyze.
    #[arg(long, conflicts_with_all = ["format", "since", "until", "by"])]
    pub from_cube: bool,
    /// Rows per table.
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub top: usize,
    /// Lines longer than this many bytes are skipped as too long.
    #[arg(long, default_value_t = authstorm::scan::DEFAULT_MAX_LINE, value_name = "BYTES")]
    pub max_line: usize,
    /// Read files with plain reads, never through memory maps. Use it on
    /// a log that may be truncated while it is read (copytruncate
    /// rotation): a mapped file cut short can end the process.
    #[arg(long)]
    pub no_mmap: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Exit with status 1 when a retry storm is found.
    #[arg(long)]
    pub fail_on_storm: bool,
    /// Truncate client IP addresses in every output (IPv4 /24, IPv6 /48).
    #[arg(long)]
    pub anonymize_ip: bool,
    /// Replace client ids and users with a keyed hash in every output.
    #[arg(long)]
    pub hash_clients: bool,
    /// Key for --hash-clients (default: a new key each run).
    #[arg(long, value_name = "N", requires = "hash_clients")]
    pub hash_key: Option<u64>,
    /// Exit with status 3 when any line was skipped or any input could not
    /// be read whole (for pipelines that must not lose a line).
    #[arg(long)]
    pub strict: bool,
    /// Write plots (PNG, SVG), report.html, report.md, CSV, storms.json and
    /// cube.parquet into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write Prometheus metrics of the run to FILE (for node_exporter's
    /// textfile collector; written aside and renamed; on failure the last
    /// success time is kept).
    #[arg(long, value_name = "FILE")]
    pub prom: Option<PathBuf>,
    /// Incremental: read only what is new in the inputs since the last run
    /// with this state directory, store it by day, judge each day against
    /// the stored days before it, and show the days this run added to.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// With --state: keep this many days, counted back from the newest.
    #[arg(long, value_name = "N", requires = "state")]
    pub keep_days: Option<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum StackArg {
    Token,
    Cohort,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub analyze: AnalyzeArgs,
    /// Output file: `.parquet` for Parquet, anything else (or `-`) for CSV.
    #[arg(long, value_name = "FILE")]
    pub to: String,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ScenarioArg {
    Normal,
    Storm,
    Outage,
    Rotation,
    TwoStorms,
    MultiEndpoint,
    RefreshStorm,
    CappedBackoff,
    Restart,
    SmallCohort,
    OutageJitter,
    Decoys,
    /// The behaviours of --behaviours together (all of them without it).
    Mixed,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum BehaviourArg {
    MultiEndpoint,
    RefreshStorm,
    CappedBackoff,
    Restart,
    SmallCohort,
    OutageJitter,
    Decoys,
}

impl From<BehaviourArg> for Behaviour {
    fn from(b: BehaviourArg) -> Self {
        match b {
            BehaviourArg::MultiEndpoint => Behaviour::MultiEndpoint,
            BehaviourArg::RefreshStorm => Behaviour::RefreshStorm,
            BehaviourArg::CappedBackoff => Behaviour::CappedBackoff,
            BehaviourArg::Restart => Behaviour::Restart,
            BehaviourArg::SmallCohort => Behaviour::SmallCohort,
            BehaviourArg::OutageJitter => Behaviour::OutageJitter,
            BehaviourArg::Decoys => Behaviour::Decoys,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum UaArg {
    /// `acme-desktop/4.2.1 (Windows NT 10.0; Win64; x64)` and the like.
    Simple,
    /// Electron, Android (Dalvik/okhttp), iOS (CFNetwork) and browsers.
    Real,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SeverityArg {
    Mild,
    Moderate,
    Severe,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SimFormatArg {
    Combined,
    Common,
    Json,
    Logfmt,
}

#[derive(Args)]
pub struct SimulateArgs {
    /// What happens in the simulated traffic [default: storm; mixed with
    /// --behaviours]. See docs/simulator.md.
    #[arg(long, value_enum)]
    pub scenario: Option<ScenarioArg>,
    /// Behaviours to combine (comma-separated), for --scenario mixed.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub behaviours: Vec<BehaviourArg>,
    /// Random seed; the same seed and options give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Approximate number of lines to write.
    #[arg(long, default_value_t = 100_000)]
    pub lines: u64,
    /// Number of simulated days (the scenario happens on the last one).
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Output format.
    #[arg(long, value_enum, default_value = "combined")]
    pub format: SimFormatArg,
    /// Compress the output with gzip.
    #[arg(long)]
    pub gzip: bool,
    /// How much of the buggy versions' fleet has the bug.
    #[arg(long, value_enum, default_value = "severe")]
    pub severity: SeverityArg,
    /// Fraction of lines to corrupt (0.0-1.0), for testing skips.
    #[arg(long, default_value_t = 0.0)]
    pub corrupt: f64,
    /// Fraction of junk lines added between the requests (0.0-0.5):
    /// truncated lines, binary garbage, blank lines, other programs' lines.
    #[arg(long, default_value_t = 0.0)]
    pub junk: f64,
    /// User agents the clients send.
    #[arg(long, value_enum, default_value = "simple")]
    pub ua: UaArg,
    /// Load-balancer nodes (1-16): with more than one, --output is a
    /// directory that receives node1.log, node2.log, ...
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub nodes: u8,
    /// Write timestamps in this zone: a fixed offset (+05:30, -0800) or an
    /// IANA name (America/New_York). The truth stays in UTC.
    #[arg(long, value_name = "ZONE", allow_hyphen_values = true)]
    pub tz: Option<String>,
    /// Saturdays and Sundays only a quarter of the fleet signs in.
    #[arg(long)]
    pub quiet_weekends: bool,
    /// Ground truth in contract 2 even for a historical scenario (whose
    /// log stays the same).
    #[arg(long)]
    pub truth_v2: bool,
    /// Output file (`-` for stdout); a directory with --nodes.
    #[arg(long, short, default_value = "-")]
    pub output: String,
    /// Write the ground truth as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
}

#[derive(Args)]
pub struct HistoryArgs {
    /// The state directory.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Write the stored days as JSON to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
}

#[derive(Args)]
pub struct CompareArgs {
    /// The period before: a log file, directory or glob, or a cube file.
    #[arg(
        value_name = "A",
        required_unless_present = "state",
        conflicts_with = "state"
    )]
    pub a: Option<String>,
    /// The period after, compared with A.
    #[arg(
        value_name = "B",
        required_unless_present = "state",
        conflicts_with = "state"
    )]
    pub b: Option<String>,
    /// Compare stored days of this state directory (`authstorm nightly`).
    #[arg(long, value_name = "DIR", requires_all = ["day_a", "day_b"])]
    pub state: Option<PathBuf>,
    /// With --state: the period before: a date (`YYYY-MM-DD`), `FROM..TO`,
    /// a weekday (its latest date up to the newest stored day) or
    /// `last-WEEKDAY` (a week before that).
    #[arg(long = "a", value_name = "DAY", requires = "state")]
    pub day_a: Option<String>,
    /// With --state: the period after, as for --a.
    #[arg(long = "b", value_name = "DAY", requires = "state")]
    pub day_b: Option<String>,
    /// Read the logs as this format instead of detecting it per file.
    #[arg(long, value_name = "FORMAT", value_parser = format_arg)]
    pub format: Option<FormatKind>,
    /// TOML config: field mapping, app rules, token vocabulary.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Group versions by their first N components.
    #[arg(long, value_name = "N")]
    pub version_depth: Option<usize>,
    /// Display time zone (JSON stays UTC).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Rows per table.
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub top: usize,
    /// The z-score a change must pass to be more than noise.
    #[arg(long, default_value_t = authstorm::report::compare::DEFAULT_Z, value_name = "Z")]
    pub z: f64,
    /// Write the comparison as JSON to FILE (`-` for stdout, then no tables).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Plot the --top largest cohort changes to FILE (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Args)]
pub struct FormatsArgs {
    #[command(subcommand)]
    pub action: Option<FormatsAction>,
}

#[derive(Subcommand)]
pub enum FormatsAction {
    /// Show how FILE's first lines are read: the format (detected, and
    /// why), each line's fields, and what each normalized field came from.
    Test(FormatsTestArgs),
}

#[derive(Args)]
pub struct FormatsTestArgs {
    /// The file (plain or compressed), or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub path: String,
    /// Read it as this format instead of detecting it.
    #[arg(long, value_name = "FORMAT", value_parser = format_arg)]
    pub format: Option<FormatKind>,
    /// TOML config: field mapping, your own formats, app rules.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How many lines to show.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub lines: usize,
    /// Write it as JSON to stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct ManArgs {
    /// Write authstorm.1 and one page per subcommand (authstorm-analyze.1,
    /// ...) into DIR, printing their paths, instead of authstorm.1 to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn build_config(a: &AnalyzeArgs, file: &FileConfig) -> Result<(AnalyzeConfig, DisplayTz)> {
    let bucket_str = a
        .bucket
        .clone()
        .or_else(|| file.analysis.bucket.clone())
        .unwrap_or("1m".into());
    let bucket = parse_duration(&bucket_str).context("--bucket")?;
    if bucket.as_secs() == 0 || bucket.subsec_nanos() != 0 {
        bail!("--bucket must be a whole number of seconds, at least 1s (got {bucket_str:?})");
    }
    let now = chrono::Utc::now().timestamp_micros();
    let since = a
        .since
        .as_deref()
        .map(|s| parse_time_bound(s, now))
        .transpose()
        .context("--since")?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_time_bound(s, now))
        .transpose()
        .context("--until")?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        bail!("--since must be before --until");
    }
    let tz_name = a.tz.clone().or_else(|| file.analysis.tz.clone());
    let tz = tz_name
        .as_deref()
        .map(DisplayTz::parse)
        .transpose()
        .context("--tz")?
        .unwrap_or_default();
    let by =
        a.by.iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| ByField::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
    if a.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    if a.max_line < 64 {
        bail!("--max-line must be at least 64 bytes");
    }
    let format = match a.format {
        Some(f) => Some(f),
        None => file.format_kind()?,
    };
    let custom = file.custom_formats()?;
    if let Some(f) = format
        && let Err(e) = f.parser(&custom)
    {
        bail!("--format {f}: {}", authstorm::error::chain(&e));
    }
    let scan = ScanOptions {
        format,
        custom,
        fields: file.field_map()?,
        classifier: file.classifier(a.version_depth)?,
        bucket_us: bucket.as_micros() as i64,
        since,
        until,
        by,
        max_line: a.max_line,
        mmap: !a.no_mmap,
        progress: !a.no_progress,
        retry: file.retry_config()?,
        privacy: authstorm::privacy::Privacy {
            anonymize_ip: a.anonymize_ip,
            hash_key: a.hash_clients.then(|| {
                a.hash_key.unwrap_or_else(|| {
                    let t = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos() as u64)
                        .unwrap_or(0);
                    t ^ (u64::from(std::process::id()) << 32)
                })
            }),
        },
        ..ScanOptions::default()
    };
    Ok((
        AnalyzeConfig {
            inputs: a.paths.clone(),
            scan,
            threads: a.threads,
            detect: file.detect_config()?,
        },
        tz,
    ))
}

/// `--config FILE`, or the defaults without it. A file that cannot be read
/// is named as the config file, with the reason once.
fn load_config(path: Option<&Path>) -> Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    FileConfig::load(path).map_err(|e| {
        let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<io::Error>());
        match io {
            Some(io) => anyhow!("cannot read config file {}: {io}", path.display()),
            None => e.into(),
        }
    })
}

/// The error and its causes on one line, `outer: inner: ...`
/// ([`authstorm::error::chain`]).
pub fn error_message(e: &anyhow::Error) -> String {
    authstorm::error::chain(e.as_ref())
}

fn open_out(path: &str) -> Result<Box<dyn Write>> {
    if path == "-" {
        return Ok(Box::new(BufWriter::new(io::stdout().lock())));
    }
    let f = File::create(path).with_context(|| format!("cannot create {path}"))?;
    Ok(Box::new(BufWriter::new(f)))
}

fn terminal_width() -> Option<u16> {
    if let Some(c) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(c);
    }
    None
}

#[derive(Clone, Copy, PartialEq)]
pub enum View {
    All,
    Storms,
    Report,
}

pub fn run_analyze(a: AnalyzeArgs, view: View) -> Result<Exit> {
    if view == View::Report && a.out.is_none() {
        bail!("authstorm report needs --out DIR");
    }
    if a.state.is_some() {
        let command = match view {
            View::All => "analyze --state",
            View::Storms => "storms --state",
            View::Report => "report --state",
        };
        return run_state(a, view, command);
    }
    let started = std::time::Instant::now();
    let file = load_config(a.config.as_deref())?;
    let (cfg, tz) = build_config(&a, &file)?;
    let analysed = if a.from_cube {
        authstorm::analyze::analyze_cubes(&a.paths, &cfg.detect)
    } else {
        analyze(&cfg)
    };
    if let Some(path) = &a.prom {
        use authstorm::output::prom;
        let secs = started.elapsed().as_secs_f64();
        let text = match &analysed {
            Ok(an) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                prom::success(&an.report, secs, now.floor())
            }
            Err(_) => prom::failure(std::fs::read_to_string(path).ok().as_deref(), secs),
        };
        prom::write_atomic(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    let analysis = analysed?;
    if let Some(path) = &a.cube {
        let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        serde_json::to_writer(BufWriter::new(f), &analysis.cube)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(dir) = &a.out {
        let written = write_postmortem(&a, dir, &analysis.report, &analysis.cube, &cfg.detect, tz)?;
        if view == View::Report {
            for p in written {
                println!("{}", p.display());
            }
            return Ok(finding_exit(&a, &analysis.report));
        }
    }
    let json_to_stdout = a.json.as_deref() == Some("-");
    if let Some(path) = &a.json {
        let mut w = open_out(path)?;
        if view == View::Storms {
            serde_json::to_writer_pretty(&mut w, &analysis.report.storms_doc())
        } else {
            serde_json::to_writer_pretty(&mut w, &analysis.report)
        }
        .with_context(|| format!("writing {path}"))?;
        writeln!(w)?;
        w.flush().with_context(|| format!("writing {path}"))?;
    }
    if !json_to_stdout {
        let opts = table_options(&a, tz);
        let mut w = BufWriter::new(io::stdout().lock());
        if view == View::Storms {
            render_storms(&analysis.report, &opts, &mut w)?;
        } else {
            render(&analysis.report, &opts, &mut w)?;
        }
        w.flush()?;
    }
    let exit = finding_exit(&a, &analysis.report);
    // The process ends here: the OS reclaims the cube's many small
    // allocations at once, far faster than dropping them one by one.
    std::mem::forget(analysis);
    Ok(exit)
}

/// The terminal tables' options: colour on a terminal unless `NO_COLOR`,
/// its width, `--top`.
fn table_options(a: &AnalyzeArgs, tz: DisplayTz) -> TableOptions {
    TableOptions {
        color: io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        width: terminal_width(),
        tz,
        top: a.top.max(1),
        ..TableOptions::default()
    }
}

/// The postmortem files of `--out DIR`.
fn write_postmortem(
    a: &AnalyzeArgs,
    dir: &Path,
    report: &authstorm::report::Report,
    cube: &authstorm::aggregate::Cube,
    detect: &authstorm::detect::DetectConfig,
    tz: DisplayTz,
) -> Result<Vec<PathBuf>> {
    let command: Vec<String> = std::env::args().collect();
    let stack = match a.stack {
        StackArg::Token => authstorm::output::plot::Stack::TokenState,
        StackArg::Cohort => authstorm::output::plot::Stack::Cohort,
    };
    authstorm::output::export::write_all(dir, report, cube, detect, tz, stack, &command.join(" "))
        .with_context(|| format!("writing {}", dir.display()))
}

fn finding_exit(a: &AnalyzeArgs, r: &authstorm::report::Report) -> Exit {
    let problems = r.input.skipped > 0
        || !r.input.errors.is_empty()
        || r.input.files.iter().any(|f| f.error.is_some());
    if a.strict && problems {
        eprintln!(
            "authstorm: --strict: {} lines skipped, {} inputs with errors",
            r.input.skipped,
            r.input.errors.len() + r.input.files.iter().filter(|f| f.error.is_some()).count()
        );
        return Exit::Strict;
    }
    let storm = r.storms.iter().any(|s| s.kind == StormKind::Storm);
    if a.fail_on_storm && storm {
        Exit::Findings
    } else {
        Exit::Success
    }
}

pub fn run_export(e: ExportArgs) -> Result<Exit> {
    use authstorm::output::export::{CsvSink, EventFormat, ParquetSink};
    if e.analyze.state.is_some() {
        bail!(
            "export writes every request of its inputs; --state is for analyze, storms, report and nightly"
        );
    }
    let file = load_config(e.analyze.config.as_deref())?;
    let (cfg, _) = build_config(&e.analyze, &file)?;
    let analysis = match (EventFormat::from_path(&e.to), e.to.as_str()) {
        (_, "-") => {
            let mut sink = CsvSink::new(BufWriter::new(io::stdout()))?;
            let a = authstorm::analyze::export(&cfg, &mut sink)?;
            sink.finish()?;
            a
        }
        (EventFormat::Csv, path) => {
            let f = File::create(path).with_context(|| format!("cannot create {path}"))?;
            let mut sink = CsvSink::new(BufWriter::new(f))?;
            let a = authstorm::analyze::export(&cfg, &mut sink)
                .with_context(|| format!("writing {path}"))?;
            sink.finish().with_context(|| format!("writing {path}"))?;
            a
        }
        (EventFormat::Parquet, path) => {
            let f = File::create(path).with_context(|| format!("cannot create {path}"))?;
            let mut sink = ParquetSink::new(f);
            let a = authstorm::analyze::export(&cfg, &mut sink)
                .with_context(|| format!("writing {path}"))?;
            sink.finish().with_context(|| format!("writing {path}"))?;
            a
        }
    };
    let i = &analysis.report.input;
    eprintln!(
        "authstorm: exported {} requests from {} files ({} lines, {} skipped) to {}",
        i.parsed - i.filtered,
        i.files.len(),
        i.lines,
        i.skipped,
        e.to
    );
    Ok(Exit::Success)
}

pub fn run_simulate(s: SimulateArgs) -> Result<Exit> {
    if !(0.0..=1.0).contains(&s.corrupt) {
        bail!("--corrupt must be between 0 and 1");
    }
    if !(0.0..=0.5).contains(&s.junk) {
        bail!("--junk must be between 0 and 0.5");
    }
    if s.days == 0 {
        bail!("--days must be at least 1");
    }
    let scenario = match (s.scenario, s.behaviours.is_empty()) {
        (None, true) => ScenarioArg::Storm,
        (None | Some(ScenarioArg::Mixed), _) => ScenarioArg::Mixed,
        (Some(_), false) => bail!("--behaviours goes with --scenario mixed"),
        (Some(x), true) => x,
    };
    let tz =
        s.tz.as_deref()
            .map(SimTz::parse)
            .transpose()
            .context("--tz")?
            .flatten();
    if s.nodes > 1 && s.output == "-" {
        bail!(
            "--nodes {} writes one file per node: give --output DIR",
            s.nodes
        );
    }
    let opts = SimOptions {
        scenario: match scenario {
            ScenarioArg::Normal => Scenario::Normal,
            ScenarioArg::Storm => Scenario::Storm,
            ScenarioArg::Outage => Scenario::Outage,
            ScenarioArg::Rotation => Scenario::Rotation,
            ScenarioArg::TwoStorms => Scenario::TwoStorms,
            ScenarioArg::MultiEndpoint => Scenario::MultiEndpoint,
            ScenarioArg::RefreshStorm => Scenario::RefreshStorm,
            ScenarioArg::CappedBackoff => Scenario::CappedBackoff,
            ScenarioArg::Restart => Scenario::Restart,
            ScenarioArg::SmallCohort => Scenario::SmallCohort,
            ScenarioArg::OutageJitter => Scenario::OutageJitter,
            ScenarioArg::Decoys => Scenario::Decoys,
            ScenarioArg::Mixed => Scenario::Mixed,
        },
        severity: match s.severity {
            SeverityArg::Mild => Severity::Mild,
            SeverityArg::Moderate => Severity::Moderate,
            SeverityArg::Severe => Severity::Severe,
        },
        seed: s.seed,
        lines: s.lines,
        days: s.days,
        format: match s.format {
            SimFormatArg::Combined => SimFormat::Combined,
            SimFormatArg::Common => SimFormat::Common,
            SimFormatArg::Json => SimFormat::Json,
            SimFormatArg::Logfmt => SimFormat::Logfmt,
        },
        corrupt: s.corrupt,
        behaviours: s.behaviours.iter().map(|b| Behaviour::from(*b)).collect(),
        ua: match s.ua {
            UaArg::Simple => UaStyle::Simple,
            UaArg::Real => UaStyle::Real,
        },
        nodes: s.nodes,
        tz,
        junk: s.junk,
        quiet_weekends: s.quiet_weekends,
        force_truth_v2: s.truth_v2,
    };
    let truth = if s.nodes > 1 {
        simulate_to_dir(&opts, &s.output, s.gzip)?
    } else {
        let mut out = open_out(&s.output)?;
        if s.gzip {
            let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            let t = simulate::simulate(&opts, &mut gz);
            gz.finish()
                .and_then(|mut w| w.flush())
                .with_context(|| format!("writing {}", s.output))?;
            t
        } else {
            let t = simulate::simulate(&opts, &mut out);
            out.flush()?;
            t
        }
        .with_context(|| format!("writing {}", s.output))?
    };
    if let Some(p) = &s.truth {
        let f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
        serde_json::to_writer_pretty(BufWriter::new(f), &truth)?;
    }
    Ok(Exit::Success)
}

/// `--nodes N`: one file per node in `dir` (`node1.log`, ... or
/// `node1.log.gz` with gzip).
fn simulate_to_dir(opts: &SimOptions, dir: &str, gzip: bool) -> Result<simulate::Truth> {
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let ext = if gzip { "log.gz" } else { "log" };
    let paths: Vec<PathBuf> = (1..=opts.nodes)
        .map(|i| dir.join(format!("node{i}.{ext}")))
        .collect();
    let mut files = Vec::new();
    for p in &paths {
        let f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
        files.push(BufWriter::new(f));
    }
    if gzip {
        let mut gz: Vec<_> = files
            .into_iter()
            .map(|f| flate2::write::GzEncoder::new(f, flate2::Compression::default()))
            .collect();
        let mut outs: Vec<&mut dyn Write> = gz.iter_mut().map(|w| w as &mut dyn Write).collect();
        let t = simulate::simulate_nodes(opts, &mut outs)
            .with_context(|| format!("writing {}", dir.display()))?;
        for (g, p) in gz.into_iter().zip(&paths) {
            g.finish()
                .and_then(|mut w| w.flush())
                .with_context(|| format!("writing {}", p.display()))?;
        }
        Ok(t)
    } else {
        let mut outs: Vec<&mut dyn Write> = files.iter_mut().map(|w| w as &mut dyn Write).collect();
        let t = simulate::simulate_nodes(opts, &mut outs)
            .with_context(|| format!("writing {}", dir.display()))?;
        for (f, p) in files.iter_mut().zip(&paths) {
            f.flush()
                .with_context(|| format!("writing {}", p.display()))?;
        }
        Ok(t)
    }
}

/// Writes a generated text (completion script, man page) to stdout.
fn print_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// `authstorm compare A B`.
/// A period of stored days named on the command line: `YYYY-MM-DD`,
/// `FROM..TO`, a weekday (its latest date up to `newest`, the newest stored
/// day) or `last-WEEKDAY` (the one a week before).
fn day_period(s: &str, newest: &str) -> Result<(String, String)> {
    use chrono::{Datelike, NaiveDate};
    if let Some((a, b)) = s.split_once("..") {
        return Ok((day_period(a, newest)?.0, day_period(b, newest)?.1));
    }
    if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
        return Ok((s.to_string(), s.to_string()));
    }
    let (last, name) = match s.strip_prefix("last-") {
        Some(n) => (true, n),
        None => (false, s),
    };
    let weekday: chrono::Weekday = name
        .parse()
        .map_err(|_| anyhow!("{s:?}: not a date (YYYY-MM-DD), a weekday or last-WEEKDAY"))?;
    let mut d = NaiveDate::parse_from_str(newest, "%Y-%m-%d")
        .map_err(|_| anyhow!("no stored day to count {s:?} from"))?;
    while d.weekday() != weekday {
        d = d.pred_opt().ok_or_else(|| anyhow!("{s:?}: out of range"))?;
    }
    if last {
        d = d - chrono::Days::new(7);
    }
    let d = d.format("%Y-%m-%d").to_string();
    Ok((d.clone(), d))
}

pub fn run_compare(c: CompareArgs) -> Result<Exit> {
    let args = AnalyzeArgs {
        paths: c.a.iter().chain(c.b.iter()).cloned().collect(),
        format: c.format,
        config: c.config.clone(),
        bucket: None,
        by: Vec::new(),
        since: None,
        until: None,
        tz: c.tz.clone(),
        version_depth: c.version_depth,
        threads: c.threads,
        json: None,
        cube: None,
        stack: StackArg::Token,
        from_cube: false,
        top: c.top,
        max_line: authstorm::scan::DEFAULT_MAX_LINE,
        no_mmap: false,
        no_progress: c.no_progress,
        fail_on_storm: false,
        anonymize_ip: false,
        hash_clients: false,
        hash_key: None,
        strict: false,
        out: None,
        prom: None,
        state: None,
        keep_days: None,
    };
    let file = load_config(args.config.as_deref())?;
    let (cfg, tz) = build_config(&args, &file)?;
    let (name_a, a, name_b, b) = match &c.state {
        Some(dir) => {
            let m = authstorm::state::read_manifest(dir)?;
            let newest = m.days.keys().next_back().cloned().unwrap_or_default();
            let period = |s: &str| -> Result<(String, authstorm::aggregate::Cube)> {
                let (from, to) = day_period(s, &newest)?;
                let cube = authstorm::state::period_cube(dir, &from, &to)?;
                let name = if from == to {
                    from
                } else {
                    format!("{from}..{to}")
                };
                Ok((name, cube))
            };
            let (na, a) = period(c.day_a.as_deref().unwrap_or_default())?;
            let (nb, b) = period(c.day_b.as_deref().unwrap_or_default())?;
            (na, a, nb, b)
        }
        None => {
            let (pa, pb) = (
                c.a.clone().unwrap_or_default(),
                c.b.clone().unwrap_or_default(),
            );
            let side = |p: &str| {
                authstorm::analyze::cube_of(p, &cfg).with_context(|| format!("reading {p}"))
            };
            let (a, b) = (side(&pa)?, side(&pb)?);
            (pa, a, pb, b)
        }
    };
    let cmp = authstorm::report::compare::compare(&name_a, &a, &name_b, &b, c.z);
    if let Some(path) = &c.plot {
        authstorm::output::plot::write_comparison(path, &cmp, c.top)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &c.json {
        let mut w = open_out(path)?;
        serde_json::to_writer_pretty(&mut w, &cmp)?;
        writeln!(w)?;
        w.flush()?;
        if path == "-" {
            return Ok(Exit::Success);
        }
    }
    let opts = TableOptions {
        color: io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        width: terminal_width(),
        tz,
        top: c.top,
        ..TableOptions::default()
    };
    let mut out = Vec::new();
    authstorm::output::table::render_comparison(&cmp, &opts, &mut out)?;
    print_bytes(&out)?;
    Ok(Exit::Success)
}

/// `authstorm formats [test FILE]`.
pub fn run_formats(f: FormatsArgs) -> Result<Exit> {
    let Some(FormatsAction::Test(t)) = f.action else {
        print_bytes(authstorm::output::formats::list().as_bytes())?;
        return Ok(Exit::Success);
    };
    let file = load_config(t.config.as_deref())?;
    let format = match t.format {
        Some(f) => Some(f),
        None => file.format_kind()?,
    };
    let scan = ScanOptions {
        format,
        custom: file.custom_formats()?,
        fields: file.field_map()?,
        classifier: file.classifier(None)?,
        ..ScanOptions::default()
    };
    let src = match t.path.as_str() {
        "-" => authstorm::input::Source::Stdin,
        p => authstorm::input::Source::File(PathBuf::from(p)),
    };
    let found = authstorm::scan::inspect::inspect(&src, &scan, t.lines)
        .with_context(|| format!("cannot read {}", t.path))?;
    let text = if t.json {
        serde_json::to_string_pretty(&found)? + "\n"
    } else {
        authstorm::output::formats::render(&found)
    };
    print_bytes(text.as_bytes())?;
    // Read as no format: the file cannot be analysed as it is.
    Ok(
        if found.format.is_some() || found.not_access_log.is_some() {
            Exit::Success
        } else {
            Exit::Usage
        },
    )
}

pub fn run_completions(c: CompletionsArgs) -> Result<Exit> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(c.shell, &mut cmd, "authstorm", &mut script);
    print_bytes(&script)?;
    Ok(Exit::Success)
}

/// `authstorm man`: the page of the command (its subcommands listed as
/// `authstorm-analyze(1)` and so on) to stdout; with `--out DIR`, that page
/// and one per subcommand as files, as packagers install them.
pub fn run_man(m: ManArgs) -> Result<Exit> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = m.out else {
        print_bytes(&man_page(&cmd)?)?;
        return Ok(Exit::Success);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let pages = std::iter::once(&cmd).chain(cmd.get_subcommands().filter(|s| !s.is_hide_set()));
    for page in pages {
        let name = page.get_display_name().unwrap_or_else(|| page.get_name());
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, man_page(page)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(Exit::Success)
}

/// One man page: clap_mangen's sections, with the text after the options
/// in `--help` ("Examples:", "Exit status:") as sections of their own
/// whose lines are kept as they are (clap_mangen would fill them into one
/// paragraph), before VERSION.
fn man_page(cmd: &clap::Command) -> Result<Vec<u8>> {
    use clap_mangen::roff::{Roff, roman};
    let after = cmd.get_after_long_help().map(|s| s.to_string());
    let man = clap_mangen::Man::new(cmd.clone().after_long_help(None::<&str>))
        .source(format!("authstorm {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render(&mut page)?;
    let mut page = String::from_utf8(page)?;
    let mut extra = Roff::default();
    let mut open = false;
    for line in after.as_deref().unwrap_or("").lines() {
        if let Some(heading) = line.strip_suffix(':').filter(|_| !line.starts_with(' ')) {
            if open {
                extra.control("fi", []);
            }
            extra.control("SH", [heading.to_uppercase().as_str()]);
            extra.control("nf", []);
            open = true;
        } else if !line.trim().is_empty() {
            extra.text([roman(line.strip_prefix("  ").unwrap_or(line))]);
        }
    }
    if open {
        extra.control("fi", []);
    }
    let at = page.find("\n.SH VERSION\n").map_or(page.len(), |i| i + 1);
    page.insert_str(at, &extra.to_roff());
    Ok(page.into_bytes())
}

/// `authstorm nightly ARCHIVE... --state DIR`: the storms view of an
/// incremental run.
pub fn run_nightly(a: AnalyzeArgs) -> Result<Exit> {
    if a.state.is_none() {
        bail!("authstorm nightly needs --state DIR");
    }
    run_state(a, View::Storms, "nightly")
}

/// An incremental run (`--state`), shown as `view`.
fn run_state(a: AnalyzeArgs, view: View, command: &str) -> Result<Exit> {
    use authstorm::state::{FileAction, NightlyConfig};
    let state = a.state.clone().expect("checked by the callers");
    let a = &a;
    if a.since.is_some() || a.until.is_some() || a.from_cube || a.cube.is_some() || !a.by.is_empty()
    {
        bail!(
            "authstorm {command} reads what is new in its inputs: --since, --until, --by, --cube and --from-cube do not apply"
        );
    }
    let started = std::time::Instant::now();
    let file = load_config(a.config.as_deref())?;
    let (cfg, tz) = build_config(a, &file)?;
    let bucket_s = (cfg.scan.bucket_us / 1_000_000) as u64;
    if 86_400 % bucket_s != 0 {
        bail!("--bucket must divide a day for a state of daily cubes (got {bucket_s}s)");
    }
    let config_text = match &a.config {
        Some(p) => std::fs::read(p).unwrap_or_default(),
        None => Vec::new(),
    };
    let settings = authstorm::state::settings_hash(&[
        &config_text,
        bucket_s.to_string().as_bytes(),
        a.format.map(|f| f.name()).unwrap_or("detect").as_bytes(),
        a.version_depth
            .map(|d| d.to_string())
            .unwrap_or_default()
            .as_bytes(),
    ]);
    let ncfg = NightlyConfig {
        archive: a.paths.clone(),
        state: state.clone(),
        analyze: cfg.clone(),
        settings,
        keep_days: a.keep_days,
    };
    let result = authstorm::state::nightly(&ncfg);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let secs = started.elapsed().as_secs_f64();
    if let Some(path) = &a.prom {
        use authstorm::output::prom;
        let text = match result.as_ref().ok().and_then(|r| r.report.as_ref()) {
            Some(r) => prom::success(r, secs, now.floor()),
            None => prom::failure(std::fs::read_to_string(path).ok().as_deref(), secs),
        };
        prom::write_atomic(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    let night = result?;
    let report = night.report.as_ref();
    let count = |f: fn(&FileAction) -> bool| night.plans.iter().filter(|p| f(&p.action)).count();
    let lines: u64 = report.map_or(0, |r| r.input.lines);
    let skipped: u64 = report.map_or(0, |r| r.input.skipped);
    let incidents: usize = night.days.iter().map(|d| d.storms.len()).sum();
    let unreadable = if night.problems.is_empty() {
        String::new()
    } else {
        format!(", {} unreadable", night.problems.len())
    };
    let summary = format!(
        "authstorm {command}: {} files read ({} lines{}), {} unchanged, {} waiting{unreadable}; {}{} incident{}; state {}",
        night.files_read(),
        lines,
        if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        },
        count(|a| matches!(a, FileAction::Unchanged | FileAction::Duplicate { .. })),
        count(|a| matches!(a, FileAction::Waiting)),
        match (night.days.first(), night.days.last()) {
            (Some(f), Some(l)) if f.date != l.date => format!("days {}..{}, ", f.date, l.date),
            (Some(f), _) => format!("day {}, ", f.date),
            _ => String::new(),
        },
        incidents,
        if incidents == 1 { "" } else { "s" },
        state.display(),
    );
    if let Some(path) = &a.json {
        let mut w = open_out(path)?;
        serde_json::to_writer_pretty(&mut w, &authstorm::state::show::doc(&night))
            .with_context(|| format!("writing {path}"))?;
        writeln!(w)?;
        w.flush().with_context(|| format!("writing {path}"))?;
    }
    let Some(report) = night.report.as_ref() else {
        eprintln!("{summary}");
        for p in &night.problems {
            eprintln!("authstorm: cannot read {}: {}", p.path, p.error);
        }
        eprintln!("authstorm: nothing new to analyse in {}", a.paths.join(" "));
        return Ok(Exit::Usage);
    };
    if let (Some(dir), Some(cube)) = (&a.out, &night.cube) {
        let written = write_postmortem(a, dir, report, cube, &cfg.detect, tz)?;
        if view == View::Report {
            for p in written {
                println!("{}", p.display());
            }
        }
    }
    if a.json.as_deref() != Some("-") && view != View::Report {
        let opts = table_options(a, tz);
        let mut out = Vec::new();
        authstorm::state::show::render(&night, &opts, &mut out)?;
        if view == View::Storms {
            render_storms(report, &opts, &mut out)?;
        } else {
            render(report, &opts, &mut out)?;
        }
        print_bytes(&out)?;
    }
    eprintln!("{summary}");
    Ok(finding_exit(a, report))
}

/// `authstorm history --state DIR`.
pub fn run_history(h: HistoryArgs) -> Result<Exit> {
    let m = authstorm::state::history(&h.state)?;
    if let Some(path) = &h.json {
        let mut w = open_out(path)?;
        let doc = serde_json::json!({ "schema": "authstorm/history/v1", "days": &m.days });
        serde_json::to_writer_pretty(&mut w, &doc)?;
        writeln!(w)?;
        w.flush()?;
        if path == "-" {
            return Ok(Exit::Success);
        }
    }
    let mut out = Vec::new();
    authstorm::state::show::render_history(&m, &mut out)?;
    print_bytes(&out)?;
    Ok(Exit::Success)
}
