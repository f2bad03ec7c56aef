//! Detection against simulated incidents with ground truth: start within 2
//! buckets, mitigation and end within 5, the culprit's app, versions and
//! token state exact; nothing on normal days (morning peaks included) and
//! no storm on an outage.

use authstorm::analyze::{AnalyzeConfig, analyze};
use authstorm::detect::{Storm, StormKind};
use authstorm::scan::ScanOptions;
use authstorm::simulate::{Scenario, Severity, SimOptions, Truth, simulate};
use authstorm::time::parse_timestamp;

struct Case {
    name: &'static str,
    scenario: Scenario,
    seed: u64,
    days: u32,
    severity: Severity,
    lines: u64,
}

const fn case(
    name: &'static str,
    scenario: Scenario,
    seed: u64,
    days: u32,
    severity: Severity,
) -> Case {
    Case {
        name,
        scenario,
        seed,
        days,
        severity,
        lines: 60_000,
    }
}

const CASES: &[Case] = &[
    case(
        "storm severe seed 1",
        Scenario::Storm,
        1,
        1,
        Severity::Severe,
    ),
    case(
        "storm severe seed 2",
        Scenario::Storm,
        2,
        1,
        Severity::Severe,
    ),
    case(
        "storm moderate seed 3",
        Scenario::Storm,
        3,
        1,
        Severity::Moderate,
    ),
    case("storm mild seed 1", Scenario::Storm, 1, 1, Severity::Mild),
    Case {
        lines: 150_000,
        ..case(
            "storm mild seed 6, two days",
            Scenario::Storm,
            6,
            2,
            Severity::Mild,
        )
    },
    case(
        "storm after 3 normal days",
        Scenario::Storm,
        4,
        4,
        Severity::Severe,
    ),
    case(
        "rotation: invalid-token storm",
        Scenario::Rotation,
        1,
        1,
        Severity::Severe,
    ),
    case(
        "two storms in one log",
        Scenario::TwoStorms,
        2,
        2,
        Severity::Severe,
    ),
    case("normal seed 1", Scenario::Normal, 1, 1, Severity::Severe),
    case("normal seed 2", Scenario::Normal, 2, 1, Severity::Severe),
    case(
        "five normal days with morning peaks",
        Scenario::Normal,
        3,
        5,
        Severity::Severe,
    ),
    case("outage seed 1", Scenario::Outage, 1, 1, Severity::Severe),
    case(
        "outage seed 2 after a normal day",
        Scenario::Outage,
        2,
        2,
        Severity::Severe,
    ),
];

fn run(c: &Case) -> (Truth, Vec<Storm>) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    let o = SimOptions {
        scenario: c.scenario,
        seed: c.seed,
        days: c.days,
        severity: c.severity,
        lines: c.lines,
        ..SimOptions::default()
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let truth = simulate(&o, &mut f).unwrap();
    drop(f);
    let cfg = AnalyzeConfig {
        inputs: vec![p.to_str().unwrap().to_string()],
        scan: ScanOptions::default(),
        threads: None,
        detect: Default::default(),
    };
    (truth, analyze(&cfg).unwrap().report.storms)
}

fn minutes(a: &str, b: &str) -> i64 {
    (parse_timestamp(a).unwrap() - parse_timestamp(b).unwrap()).abs() / 60_000_000
}

#[test]
fn scenarios_match_ground_truth() {
    let mut failures = Vec::new();
    for c in CASES {
        let (truth, found) = run(c);
        let storms: Vec<&Storm> = found
            .iter()
            .filter(|s| s.kind == StormKind::Storm)
            .collect();
        let want: Vec<_> = truth
            .episodes
            .iter()
            .filter(|e| e.kind == "storm")
            .collect();
        let mut fail = |msg: String| failures.push(format!("{}: {msg}", c.name));
        if storms.len() != want.len() {
            fail(format!(
                "{} storms found, {} expected: {:#?}",
                storms.len(),
                want.len(),
                found
            ));
            continue;
        }
        if c.scenario == Scenario::Normal && !found.is_empty() {
            fail(format!("normal traffic raised {found:#?}"));
        }
        if c.scenario == Scenario::Outage && !found.iter().any(|s| s.kind == StormKind::Outage) {
            fail(format!("outage not reported as one: {found:#?}"));
        }
        for (s, t) in storms.iter().zip(&want) {
            let tc = t.culprit.as_ref().unwrap();
            let cu = &s.culprits[0];
            if minutes(&s.start, &t.start) > 2 {
                fail(format!("start {} vs {}", s.start, t.start));
            }
            if minutes(&s.end, &t.end) > 5 {
                fail(format!("end {} vs {}", s.end, t.end));
            }
            match (&s.mitigation, &t.mitigation) {
                (Some(m), Some(tm)) if minutes(m, tm) <= 5 => {}
                other => fail(format!("mitigation {other:?}")),
            }
            if cu.app.as_deref() != Some(tc.app.as_str())
                || cu.versions != tc.versions
                || cu.token_state.map(|t| t.name()) != Some(tc.token_state.as_str())
            {
                fail(format!(
                    "culprit {:?} {:?} {:?} vs {tc:?}",
                    cu.app, cu.versions, cu.token_state
                ));
            }
            if cu.endpoint.as_deref() != tc.endpoint.as_deref() {
                fail(format!("endpoint {:?}", cu.endpoint));
            }
            if cu.share_of_excess < 0.5 {
                fail(format!("share of excess {}", cu.share_of_excess));
            }
            if !cu.backoff.contains_key(&authstorm::retry::Backoff::None) {
                fail(format!("tight loop not seen: {:?}", cu.backoff));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
