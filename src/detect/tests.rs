//! Detection on hand-built cubes: what makes a storm and what does not.

use super::*;
use TokenState::*;

const T0: i64 = 1_772_409_600; // a Monday, 00:00 UTC, in seconds

/// A cube of `minutes` one-minute buckets with steady background traffic
/// (40 clients of `web`, one request each a minute).
fn background(minutes: i64) -> Cube {
    let mut cube = Cube::new(60);
    for m in 0..minutes {
        add(
            &mut cube,
            m,
            "web",
            "Chrome 120",
            Valid,
            "GET /v1/session",
            40,
            0..40,
            0,
            &[],
            None,
        );
    }
    cube
}

/// Adds `requests` requests (and `loops` loop requests by `loopers`) to a
/// cell of minute `m`.
#[allow(clippy::too_many_arguments)]
fn add(
    cube: &mut Cube,
    m: i64,
    app: &str,
    version: &str,
    t: TokenState,
    endpoint: &str,
    requests: u64,
    clients: std::ops::Range<u64>,
    loops: u64,
    loopers: &[u64],
    first_loop: Option<i64>,
) {
    let bucket = T0 / 60 + m;
    let key = CellKey {
        bucket,
        app: app.into(),
        version: version.into(),
        token_state: t,
        endpoint: endpoint.into(),
    };
    let mut cell = Cell {
        requests,
        retries: loops,
        resends: loops,
        loop_requests: loops,
        loopers: loopers.to_vec(),
        first_loop,
        clients: clients.collect(),
        ..Default::default()
    };
    cell.status
        .insert(if t == Valid { 200 } else { 401 }, requests);
    cube.cells.entry(key).or_default().merge(&cell);
    cube.requests += requests;
    let ts = bucket * 60_000_000;
    cube.time_min = cube::min_opt(cube.time_min, Some(ts));
    cube.time_max = cube::max_opt(cube.time_max, Some(ts + 59_000_000));
}

use crate::aggregate::cube;

fn storms(cube: &Cube) -> Vec<Storm> {
    detect(cube, &DetectConfig::default())
        .into_iter()
        .filter(|s| s.kind == StormKind::Storm)
        .collect()
}

/// `clients` clients of `app` `versions` loop over `endpoints` from minute
/// `from` to `to`, each sending `rate` loop requests a minute.
#[allow(clippy::too_many_arguments)]
fn looping(
    cube: &mut Cube,
    app: &str,
    versions: &[&str],
    t: TokenState,
    endpoints: &[&str],
    clients: u64,
    rate: u64,
    from: i64,
    to: i64,
) {
    for m in from..to {
        for c in 0..clients {
            let v = versions[c as usize % versions.len()];
            let e = endpoints[(c + m as u64) as usize % endpoints.len()];
            let id = 1000 + c;
            let first = (m == from).then_some((T0 + m * 60 + 17) * 1_000_000 + c as i64);
            add(cube, m, app, v, t, e, rate, id..id + 1, rate, &[id], first);
        }
    }
}

#[test]
fn a_loop_storm_names_app_versions_and_state() {
    let mut cube = background(120);
    for v in ["4.1.0", "4.2.0", "4.2.1", "4.3.0"] {
        for m in 0..120 {
            add(
                &mut cube,
                m,
                "acme-desktop",
                v,
                Valid,
                "GET /v1/me",
                5,
                0..5,
                0,
                &[],
                None,
            );
        }
    }
    let eps = ["GET /v1/me", "GET /v1/contacts", "GET /v1/presence"];
    looping(
        &mut cube,
        "acme-desktop",
        &["4.2.0", "4.2.1"],
        Expired,
        &eps,
        20,
        60,
        60,
        90,
    );
    // A tenth of their loop requests were answered 429 under no state:
    // the carried state makes them expired; a stray unknown share stays.
    looping(
        &mut cube,
        "acme-desktop",
        &["4.2.0", "4.2.1"],
        Unknown,
        &eps,
        20,
        5,
        60,
        90,
    );
    let found = storms(&cube);
    assert_eq!(found.len(), 1, "{found:#?}");
    let s = &found[0];
    let c = &s.culprits[0];
    assert_eq!(c.app.as_deref(), Some("acme-desktop"));
    assert_eq!(c.versions, vec!["4.2.0".to_string(), "4.2.1".into()]);
    assert_eq!(c.token_state, Some(Expired), "over 80% of the loops");
    assert_eq!(c.endpoint, None, "the loop spans three endpoints");
    assert_eq!(c.looping_clients, 20);
    // The first repeat of the first looping client, to the microsecond.
    assert_eq!(s.times.start, (T0 + 60 * 60 + 17) * 1_000_000);
    assert_eq!(s.start, "2026-03-02T01:00:17Z");
    assert_eq!(s.times.end, (T0 + 90 * 60) * 1_000_000);
}

#[test]
fn one_looping_client_is_never_a_storm() {
    let mut cube = background(120);
    // A tiny cohort whose only client loops hard: a retry ratio of
    // hundreds on a small denominator.
    looping(
        &mut cube,
        "curl",
        &["8.4.0"],
        Invalid,
        &["POST /oauth/token"],
        1,
        120,
        60,
        90,
    );
    assert!(storms(&cube).is_empty());
    // Two clients are not "several" either (the default is three).
    looping(
        &mut cube,
        "curl",
        &["8.4.0"],
        Invalid,
        &["POST /oauth/token"],
        2,
        120,
        60,
        90,
    );
    assert!(storms(&cube).is_empty());
}

#[test]
fn loops_too_small_against_all_traffic_are_no_storm() {
    let mut cube = Cube::new(60);
    for m in 0..120 {
        add(
            &mut cube,
            m,
            "web",
            "Chrome 120",
            Valid,
            "GET /v1/session",
            4000,
            0..4000,
            0,
            &[],
            None,
        );
    }
    // Five clients, two loop requests a minute each: 0.25% of traffic.
    looping(
        &mut cube,
        "acme-desktop",
        &["4.2.0"],
        Expired,
        &["GET /v1/me"],
        5,
        2,
        60,
        90,
    );
    assert!(storms(&cube).is_empty());
}

#[test]
fn the_token_state_is_named_only_when_it_carries_the_loops() {
    let mut cube = background(120);
    looping(
        &mut cube,
        "mobile",
        &["5.0.1"],
        Expired,
        &["GET /v1/me"],
        10,
        30,
        60,
        90,
    );
    looping(
        &mut cube,
        "mobile",
        &["5.0.1"],
        Invalid,
        &["GET /v1/me"],
        10,
        20,
        60,
        90,
    );
    let found = storms(&cube);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].culprits[0].token_state, None,
        "60/40: any token state"
    );
    assert_eq!(found[0].culprits[0].endpoint.as_deref(), Some("GET /v1/me"));
}

#[test]
fn loops_that_recur_daily_are_the_baseline() {
    let day = 1440;
    let mut cube = background(2 * day);
    // A job whose clients loop at the same time every day: news the first
    // day (nothing to compare with), the baseline the second.
    for d in 0..2 {
        looping(
            &mut cube,
            "batch",
            &["1.0"],
            Missing,
            &["GET /v1/me"],
            4,
            12,
            d * day + 600,
            d * day + 630,
        );
    }
    let found = storms(&cube);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].times.start < (T0 + day * 60) * 1_000_000);
}

#[test]
fn two_apps_looping_are_two_storms() {
    let mut cube = background(200);
    looping(
        &mut cube,
        "acme-desktop",
        &["4.2.0"],
        Expired,
        &["GET /v1/session"],
        10,
        60,
        40,
        70,
    );
    looping(
        &mut cube,
        "acme-mobile",
        &["5.0.1"],
        Invalid,
        &["GET /v1/session"],
        10,
        60,
        120,
        150,
    );
    let found = storms(&cube);
    let apps: Vec<_> = found
        .iter()
        .map(|s| s.culprits[0].app.clone().unwrap())
        .collect();
    assert_eq!(apps, vec!["acme-desktop".to_string(), "acme-mobile".into()]);
}
