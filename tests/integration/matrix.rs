//! Detection against simulated incidents with ground truth, over the
//! behaviours of real fleets (loops over several endpoints, refresh
//! storms, short capped backoff, loops that stop when the app restarts,
//! small cohorts that never overload the service, outages with jittered
//! backoff, decoys), every format, real user agents, several nodes, time
//! zones, junk lines, compression and days with morning peaks.
//!
//! Every storm of the truth (at least three looping clients: one client is
//! never a storm) must be found once, starting no later than two minutes
//! after its first looping client's first repeat and never before it, with
//! the culprit's app, versions, token state and endpoint exact where the
//! format shows them; no other storm may be reported; an outage must be
//! reported as one; normal days raise nothing. Then the invariants: the
//! same traffic in another format, over several nodes, compressed, in
//! another time zone or on one thread gives the same verdict.

use std::path::PathBuf;

use authstorm::analyze::{AnalyzeConfig, analyze};
use authstorm::detect::{Storm, StormKind};
use authstorm::scan::ScanOptions;
use authstorm::simulate::{
    Behaviour, Scenario, Severity, SimFormat, SimOptions, SimTz, Truth, UaStyle, simulate_nodes,
};
use authstorm::time::parse_timestamp;

use Scenario::*;

#[derive(Clone)]
struct Case {
    scenario: Scenario,
    behaviours: &'static [Behaviour],
    seed: u64,
    days: u32,
    lines: u64,
    format: SimFormat,
    severity: Severity,
    ua: UaStyle,
    nodes: u8,
    tz: Option<&'static str>,
    junk: f64,
    gzip: bool,
    quiet_weekends: bool,
}

const fn case(scenario: Scenario, seed: u64) -> Case {
    Case {
        scenario,
        behaviours: &[],
        seed,
        days: 1,
        lines: 50_000,
        format: SimFormat::Combined,
        severity: Severity::Severe,
        ua: UaStyle::Simple,
        nodes: 1,
        tz: None,
        junk: 0.0,
        gzip: false,
        quiet_weekends: false,
    }
}

/// The case's files, its truth, and what authstorm found in them.
fn run(c: &Case, threads: usize) -> (Truth, Vec<Storm>) {
    let d = tempfile::tempdir().unwrap();
    let o = SimOptions {
        scenario: c.scenario,
        behaviours: c.behaviours.to_vec(),
        seed: c.seed,
        days: c.days,
        lines: c.lines,
        format: c.format,
        severity: c.severity,
        ua: c.ua,
        nodes: c.nodes,
        tz: c.tz.and_then(|z| SimTz::parse(z).unwrap()),
        junk: c.junk,
        quiet_weekends: c.quiet_weekends,
        force_truth_v2: true,
        ..SimOptions::default()
    };
    let paths: Vec<PathBuf> = (1..=c.nodes)
        .map(|n| {
            d.path()
                .join(format!("node{n}.log{}", if c.gzip { ".gz" } else { "" }))
        })
        .collect();
    let files: Vec<std::fs::File> = paths
        .iter()
        .map(|p| std::fs::File::create(p).unwrap())
        .collect();
    let mut writers: Vec<Box<dyn std::io::Write>> = files
        .into_iter()
        .map(|f| -> Box<dyn std::io::Write> {
            if c.gzip {
                Box::new(flate2::write::GzEncoder::new(
                    f,
                    flate2::Compression::fast(),
                ))
            } else {
                Box::new(std::io::BufWriter::new(f))
            }
        })
        .collect();
    let truth = {
        let mut outs: Vec<&mut dyn std::io::Write> = writers
            .iter_mut()
            .map(|w| -> &mut dyn std::io::Write { w.as_mut() })
            .collect();
        simulate_nodes(&o, &mut outs).unwrap()
    };
    drop(writers);
    let cfg = AnalyzeConfig {
        inputs: paths
            .iter()
            .map(|p| p.to_str().unwrap().to_string())
            .collect(),
        scan: ScanOptions {
            progress: false,
            ..ScanOptions::default()
        },
        threads: Some(threads),
        detect: Default::default(),
    };
    (truth, analyze(&cfg).unwrap().report.storms)
}

fn us(t: &str) -> i64 {
    parse_timestamp(t).unwrap()
}

/// What is wrong with `found` against `truth`, if anything.
fn check(c: &Case, truth: &Truth, found: &[Storm]) -> Vec<String> {
    let mut wrong = Vec::new();
    let visible_ua = truth.visible_user_agent != Some(false);
    let visible_token = truth.visible_token_state != Some(false);
    let storms: Vec<_> = truth
        .episodes
        .iter()
        .filter(|e| e.kind == "storm")
        .filter(|e| {
            e.culprit
                .as_ref()
                .and_then(|c| c.looping_clients)
                .is_none_or(|n| n >= 3)
        })
        .collect();
    let reported: Vec<&Storm> = found
        .iter()
        .filter(|s| s.kind == StormKind::Storm)
        .collect();
    let mut matched = vec![false; reported.len()];
    for t in &storms {
        let (t0, t1) = (us(&t.start), us(&t.end));
        let hits: Vec<usize> = (0..reported.len())
            .filter(|&i| reported[i].times.start < t1 && t0 < reported[i].times.end)
            .collect();
        if hits.len() != 1 {
            wrong.push(format!(
                "storm {}: {} reported episodes",
                t.start,
                hits.len()
            ));
            continue;
        }
        matched[hits[0]] = true;
        let s = reported[hits[0]];
        let late = s.times.start - t0;
        if !(-1_000_000..=120_000_000).contains(&late) {
            wrong.push(format!(
                "storm {}: start {} ({} s late)",
                t.start,
                s.start,
                late / 1_000_000
            ));
        }
        if (s.times.end - t1).abs() > 300_000_000 {
            wrong.push(format!("storm {}: end {} vs {}", t.start, s.end, t.end));
        }
        // A rate limit that came after the loops had died out is in the
        // truth but is nothing the logs can tie to the storm.
        if let Some(m) = t.mitigation.as_ref().filter(|m| us(m) <= t1 + 300_000_000) {
            match s.times.mitigation {
                Some(sm) if (sm - us(m)).abs() <= 300_000_000 => {}
                other => wrong.push(format!("storm {}: mitigation {other:?} vs {m}", t.start)),
            }
        }
        let (tc, fc) = (t.culprit.as_ref().unwrap(), &s.culprits[0]);
        if visible_ua && (fc.app.as_deref() != Some(tc.app.as_str()) || fc.versions != tc.versions)
        {
            wrong.push(format!(
                "storm {}: culprit {:?} {:?} vs {} {:?}",
                t.start, fc.app, fc.versions, tc.app, tc.versions
            ));
        }
        let state = fc.token_state.map(|s| s.name());
        if visible_token && state != Some(tc.token_state.as_str()) {
            wrong.push(format!(
                "storm {}: token state {state:?} vs {}",
                t.start, tc.token_state
            ));
        }
        if !visible_token && state.is_some_and(|s| s != "unknown") {
            wrong.push(format!(
                "storm {}: token state {state:?} the format cannot show",
                t.start
            ));
        }
        if visible_ua && fc.endpoint != tc.endpoint {
            wrong.push(format!(
                "storm {}: endpoint {:?} vs {:?}",
                t.start, fc.endpoint, tc.endpoint
            ));
        }
    }
    for (s, m) in reported.iter().zip(&matched) {
        if !m {
            wrong.push(format!(
                "extra storm {}-{} {:?}",
                s.start, s.end, s.culprits[0].app
            ));
        }
    }
    for t in truth.episodes.iter().filter(|e| e.kind == "outage") {
        let (t0, t1) = (us(&t.start), us(&t.end));
        if !found.iter().any(|s| {
            s.kind == StormKind::Outage && s.times.start < t1 + 60_000_000 && t0 < s.times.end
        }) {
            wrong.push(format!("outage {} not reported as one", t.start));
        }
    }
    if c.scenario == Normal && !found.is_empty() {
        wrong.push(format!("normal traffic raised {} episodes", found.len()));
    }
    wrong
}

fn assert_case(name: &str, c: Case) {
    let (truth, found) = run(&c, 2);
    let wrong = check(&c, &truth, &found);
    assert!(
        wrong.is_empty(),
        "{name}:\n  {}\nfound: {:#?}\ntruth: {:#?}",
        wrong.join("\n  "),
        found
            .iter()
            .map(|s| (
                s.kind,
                &s.start,
                &s.end,
                &s.culprits[0].app,
                &s.culprits[0].versions
            ))
            .collect::<Vec<_>>(),
        truth.episodes
    );
}

macro_rules! cases {
    ($($name:ident: $case:expr;)*) => {
        $(
            #[test]
            fn $name() {
                assert_case(stringify!($name), $case);
            }
        )*
    };
}

cases! {
    storm_combined: case(Storm, 1);
    storm_json_moderate: Case { format: SimFormat::Json, severity: Severity::Moderate, ..case(Storm, 2) };
    storm_logfmt_mild_two_days: Case { format: SimFormat::Logfmt, severity: Severity::Mild, days: 2, lines: 80_000, ..case(Storm, 3) };
    storm_after_three_normal_days: Case { days: 4, lines: 80_000, ..case(Storm, 4) };
    storm_real_agents_india_junk: Case { ua: UaStyle::Real, tz: Some("+05:30"), junk: 0.01, ..case(Storm, 5) };
    storm_common_format: Case { format: SimFormat::Common, ..case(Storm, 1) };
    rotation_combined: case(Rotation, 1);
    rotation_json_three_nodes: Case { format: SimFormat::Json, nodes: 3, ..case(Rotation, 4) };
    two_storms_json_two_days: Case { format: SimFormat::Json, days: 2, lines: 80_000, ..case(TwoStorms, 2) };
    multi_endpoint_combined: case(MultiEndpoint, 1);
    multi_endpoint_json_real_agents: Case { format: SimFormat::Json, ua: UaStyle::Real, ..case(MultiEndpoint, 4) };
    multi_endpoint_logfmt_three_nodes: Case { format: SimFormat::Logfmt, nodes: 3, ..case(MultiEndpoint, 5) };
    multi_endpoint_common_format: Case { format: SimFormat::Common, ..case(MultiEndpoint, 2) };
    refresh_storm_combined: case(RefreshStorm, 1);
    refresh_storm_json_pacific: Case { format: SimFormat::Json, tz: Some("-08:00"), ..case(RefreshStorm, 2) };
    capped_backoff_combined: case(CappedBackoff, 1);
    capped_backoff_logfmt_real_agents: Case { format: SimFormat::Logfmt, ua: UaStyle::Real, ..case(CappedBackoff, 3) };
    restart_combined: case(Restart, 1);
    restart_json_two_nodes_gzip: Case { format: SimFormat::Json, nodes: 2, gzip: true, ..case(Restart, 2) };
    small_cohort_combined: Case { lines: 100_000, ..case(SmallCohort, 1) };
    mixed_multi_endpoint_capped_two_days: Case { behaviours: &[Behaviour::MultiEndpoint, Behaviour::CappedBackoff], days: 2, lines: 80_000, ..case(Mixed, 1) };
    mixed_refresh_restart_json: Case { behaviours: &[Behaviour::RefreshStorm, Behaviour::Restart], format: SimFormat::Json, days: 2, lines: 80_000, ..case(Mixed, 2) };
    mixed_multi_endpoint_outage_decoys_logfmt: Case { behaviours: &[Behaviour::MultiEndpoint, Behaviour::OutageJitter, Behaviour::Decoys], format: SimFormat::Logfmt, days: 2, lines: 80_000, ..case(Mixed, 3) };
    mixed_everything_like_a_real_fleet: Case {
        ua: UaStyle::Real, nodes: 3, tz: Some("Asia/Kolkata"), junk: 0.002, gzip: true,
        days: 3, lines: 120_000, quiet_weekends: true, ..case(Mixed, 4)
    };
    normal_five_days_of_peaks: Case { days: 5, lines: 100_000, ..case(Normal, 3) };
    normal_week_quiet_weekend_json: Case { days: 7, lines: 100_000, quiet_weekends: true, format: SimFormat::Json, ..case(Normal, 5) };
    normal_new_york_two_nodes_logfmt: Case { days: 2, nodes: 2, tz: Some("America/New_York"), format: SimFormat::Logfmt, ..case(Normal, 6) };
    normal_common_format: Case { days: 3, format: SimFormat::Common, ..case(Normal, 7) };
    outage_combined: case(Outage, 1);
    outage_jitter_json: Case { format: SimFormat::Json, ..case(OutageJitter, 2) };
    outage_jitter_real_agents_two_days: Case { ua: UaStyle::Real, days: 2, lines: 80_000, ..case(OutageJitter, 3) };
    decoys_combined_two_days: Case { days: 2, ..case(Decoys, 1) };
    decoys_json_three_nodes: Case { days: 2, nodes: 3, format: SimFormat::Json, ..case(Decoys, 2) };
}

/// A verdict as the invariants compare it: kinds, culprits, and times to
/// the second (formats with one-second timestamps cannot say more).
fn verdict(found: &[Storm]) -> Vec<String> {
    found
        .iter()
        .map(|s| {
            let c = &s.culprits[0];
            format!(
                "{:?} {} {} {:?} {:?} {:?} {:?}",
                s.kind,
                s.times.start / 1_000_000,
                s.end,
                c.app,
                c.versions,
                c.token_state,
                c.endpoint
            )
        })
        .collect()
}

#[test]
fn format_nodes_compression_zone_and_threads_never_change_the_verdict() {
    for base in [
        case(MultiEndpoint, 7),
        case(RefreshStorm, 8),
        case(OutageJitter, 9),
    ] {
        let (_, found) = run(&base, 2);
        let want = verdict(&found);
        assert!(
            !want.is_empty(),
            "{:?}: a verdict to compare",
            base.scenario
        );
        let variants = [
            (
                "json",
                Case {
                    format: SimFormat::Json,
                    ..base.clone()
                },
            ),
            (
                "logfmt",
                Case {
                    format: SimFormat::Logfmt,
                    ..base.clone()
                },
            ),
            (
                "three nodes",
                Case {
                    nodes: 3,
                    ..base.clone()
                },
            ),
            (
                "gzip",
                Case {
                    gzip: true,
                    ..base.clone()
                },
            ),
            (
                "+05:30",
                Case {
                    tz: Some("+05:30"),
                    ..base.clone()
                },
            ),
        ];
        for (what, v) in variants {
            assert_eq!(verdict(&run(&v, 2).1), want, "{:?}: {what}", base.scenario);
        }
        assert_eq!(
            verdict(&run(&base, 1).1),
            want,
            "{:?}: one thread",
            base.scenario
        );
    }
}
