//! Tests of the behaviours, the realism options and the contract-2 truth,
//! each checked against the lines written (JSON lines, parsed back), and
//! the pinned output of the historical scenarios.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::*;
use crate::time::parse_timestamp;

fn opts(scenario: Scenario, lines: u64) -> SimOptions {
    SimOptions {
        scenario,
        lines,
        format: SimFormat::Json,
        ..Default::default()
    }
}

fn run(o: &SimOptions) -> (Vec<u8>, Truth) {
    let mut buf = Vec::new();
    let t = simulate(o, &mut buf).unwrap();
    (buf, t)
}

/// One request parsed back from a JSON line.
#[derive(Debug, Clone)]
struct Line {
    t: Micros,
    ip: String,
    method: String,
    path: String,
    status: u16,
    ua: String,
    err: String,
}

fn parse(buf: &[u8]) -> Vec<Line> {
    buf.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .map(|v| Line {
            t: parse_timestamp(v["time"].as_str().unwrap()).unwrap(),
            ip: v["client_ip"].as_str().unwrap().into(),
            method: v["method"].as_str().unwrap().into(),
            path: v["path"].as_str().unwrap().into(),
            status: v["status"].as_u64().unwrap() as u16,
            ua: v["user_agent"].as_str().unwrap().into(),
            err: v["auth_error"].as_str().unwrap().into(),
        })
        .collect()
}

fn by_client(lines: &[Line]) -> HashMap<&str, Vec<&Line>> {
    let mut m: HashMap<&str, Vec<&Line>> = HashMap::new();
    for l in lines {
        m.entry(l.ip.as_str()).or_default().push(l);
    }
    m
}

/// Runs of consecutive failures of one client (a simpler reading of the
/// loop definition: failures in a row, no success between).
fn failure_runs<'a>(reqs: &[&'a Line]) -> Vec<Vec<&'a Line>> {
    let mut runs = Vec::new();
    let mut cur: Vec<&Line> = Vec::new();
    for l in reqs {
        if l.status < 400 {
            if !cur.is_empty() {
                runs.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(l);
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

fn ts(s: &str) -> Micros {
    parse_timestamp(s).unwrap()
}

/// The invariants every storm episode of contract 2 keeps, checked on
/// the written lines.
fn check_storms(lines: &[Line], t: &Truth) {
    assert_eq!(t.truth_version, Some(2));
    let clients = by_client(lines);
    for e in t.episodes.iter().filter(|e| e.kind == "storm") {
        let c = e.culprit.as_ref().unwrap();
        let start = ts(&e.start);
        let trigger = ts(e.trigger.as_ref().unwrap());
        assert!(start > trigger, "start {} before trigger", e.start);
        // The start is a failed request that was written, a repeat: the
        // same client failed just before it.
        let at: Vec<&Line> = lines.iter().filter(|l| l.t == start).collect();
        assert!(
            at.iter().any(|l| {
                l.status >= 400 && {
                    let reqs = &clients[l.ip.as_str()];
                    let i = reqs.iter().position(|r| std::ptr::eq(*r, *l)).unwrap();
                    i > 0 && reqs[i - 1].status >= 400
                }
            }),
            "no repeat written at {}",
            e.start
        );
        // No loop request before the start: no client of the app had 7
        // failures in a row (6 repeats) ending before it.
        for reqs in clients.values() {
            for run in failure_runs(reqs) {
                if run.len() >= 7 && run[0].ua.contains(&format!("{}/", c.app)) {
                    let state_run = run.iter().any(|l| !l.err.is_empty() && l.err != "-");
                    if state_run {
                        assert!(run[1].t >= start || run[0].t < trigger, "loop before start");
                    }
                }
            }
        }
        // Each version named really looped for a minute: a client of it
        // failed at least 7 times in a row over 60 s or more.
        for v in &c.versions {
            let tok = format!("{}/{v}", c.app);
            let looped = clients.values().any(|reqs| {
                reqs[0].ua.contains(&tok)
                    && failure_runs(reqs)
                        .iter()
                        .any(|r| r.len() >= 7 && r[r.len() - 1].t - r[1].t >= 60 * SEC)
            });
            assert!(looped, "version {v} named but no client of it looped");
        }
        assert!(c.looping_clients.unwrap() >= 2);
        assert!(c.loop_requests.unwrap() >= 6 * c.looping_clients.unwrap());
        assert!(ts(&e.end) > ts(e.peak.as_ref().unwrap()));
        if let Some(m) = &e.mitigation {
            let m = ts(m);
            assert!(
                lines.iter().any(|l| l.t == m && l.status == 429),
                "mitigation is a written 429"
            );
        }
    }
}

fn storms(t: &Truth) -> Vec<&TruthEpisode> {
    t.episodes.iter().filter(|e| e.kind == "storm").collect()
}

#[test]
fn behaviours_are_deterministic() {
    for s in [
        Scenario::MultiEndpoint,
        Scenario::RefreshStorm,
        Scenario::CappedBackoff,
        Scenario::Restart,
        Scenario::SmallCohort,
        Scenario::OutageJitter,
        Scenario::Decoys,
        Scenario::Mixed,
    ] {
        let o = SimOptions {
            ua: UaStyle::Real,
            junk: 0.01,
            ..opts(s, 8_000)
        };
        let (a, ta) = run(&o);
        let (b, tb) = run(&o);
        assert_eq!(a, b, "{s:?}");
        assert_eq!(ta, tb);
        let (c, _) = run(&SimOptions { seed: 9, ..o });
        assert_ne!(a, c);
    }
}

#[test]
fn multi_endpoint_interleaves_endpoints() {
    let (buf, t) = run(&opts(Scenario::MultiEndpoint, 30_000));
    let lines = parse(&buf);
    check_storms(&lines, &t);
    let s = storms(&t);
    assert_eq!(s.len(), 1, "{:#?}", t.episodes);
    let c = s[0].culprit.as_ref().unwrap();
    assert_eq!(c.endpoint, None);
    assert_eq!(c.token_state, "expired");
    assert_eq!(c.app, "acme-desktop");
    // Within every loop, consecutive requests hit different endpoints,
    // and several endpoints are hit.
    let mut paths = std::collections::BTreeSet::new();
    let mut checked = 0;
    for reqs in by_client(&lines).values() {
        for run in failure_runs(reqs) {
            if run.len() >= 7 && run.iter().all(|l| l.method == "GET") {
                for w in run.windows(2) {
                    assert_ne!(w[0].path, w[1].path, "{:?}", w);
                }
                paths.extend(run.iter().map(|l| l.path.clone()));
                checked += 1;
            }
        }
    }
    assert!(checked >= 2);
    assert!(paths.len() >= 5, "{paths:?}");
}

#[test]
fn refresh_storm_loops_on_the_token_endpoint() {
    let (buf, t) = run(&opts(Scenario::RefreshStorm, 30_000));
    let lines = parse(&buf);
    check_storms(&lines, &t);
    let s = storms(&t);
    assert_eq!(s.len(), 1, "{:#?}", t.episodes);
    let c = s[0].culprit.as_ref().unwrap();
    assert_eq!(c.endpoint.as_deref(), Some("POST /oauth/token"));
    assert_eq!(c.token_state, "invalid");
    assert_eq!(c.app, "acme-mobile");
    assert_eq!(c.versions, ["5.0.1"]);
    assert!(t.by_status[&400] > 1000);
    let start = ts(&s[0].start);
    assert!(lines.iter().any(|l| l.t == start
        && l.status == 400
        && l.err == "invalid_grant"
        && l.path == "/oauth/token"));
}

#[test]
fn capped_backoff_paces_the_loop() {
    let (buf, t) = run(&opts(Scenario::CappedBackoff, 30_000));
    let lines = parse(&buf);
    check_storms(&lines, &t);
    let s = storms(&t);
    assert_eq!(s.len(), 1);
    assert_eq!(
        s[0].culprit.as_ref().unwrap().endpoint.as_deref(),
        Some("GET /v1/session")
    );
    let mut gaps = Vec::new();
    for reqs in by_client(&lines).values() {
        for run in failure_runs(reqs) {
            // The loop's 401s, before any 429 of the rate limit.
            let n = run.iter().take_while(|l| l.status == 401).count();
            if n >= 8 {
                assert_eq!(run[1].t - run[0].t, 500_000);
                assert_eq!(run[2].t - run[1].t, SEC);
                for w in run[2..n].windows(2) {
                    gaps.push(w[1].t - w[0].t);
                }
            }
        }
    }
    assert!(gaps.len() > 100);
    assert!(gaps.iter().all(|g| (SEC..=2 * SEC).contains(g)));
}

#[test]
fn restart_churns_the_loop_population() {
    let (buf, t) = run(&opts(Scenario::Restart, 30_000));
    let lines = parse(&buf);
    check_storms(&lines, &t);
    let s = storms(&t);
    assert_eq!(s.len(), 1);
    let e = s[0];
    // Loops end within minutes and a login follows; the storm lasts until
    // the rate limit.
    let mut loops = 0;
    for reqs in by_client(&lines).values() {
        let mut i = 0;
        for run in failure_runs(reqs) {
            if run.len() >= 7 && run[0].status == 401 && run.iter().all(|l| l.status == 401) {
                let span = run[run.len() - 1].t - run[0].t;
                assert!(span <= 7 * MIN + 2 * SEC, "looped {span} µs");
                loops += 1;
                // The next request of this client is a login.
                let last = run[run.len() - 1];
                let pos = reqs[i..]
                    .iter()
                    .position(|r| std::ptr::eq(*r, last))
                    .unwrap();
                if let Some(next) = reqs.get(i + pos + 1) {
                    assert_eq!(next.path, "/oauth/token");
                }
                i += pos;
            }
        }
    }
    let c = e.culprit.as_ref().unwrap();
    assert!(loops >= 10 && c.looping_clients.unwrap() >= 10);
    assert!(ts(&e.end) >= ts(e.mitigation.as_ref().unwrap()));
}

#[test]
fn small_cohort_never_overloads() {
    for (seed, lines) in [(1, 30_000), (2, 60_000)] {
        let (buf, t) = run(&SimOptions {
            seed,
            ..opts(Scenario::SmallCohort, lines)
        });
        let parsed = parse(&buf);
        check_storms(&parsed, &t);
        let s = storms(&t);
        assert_eq!(s.len(), 1);
        assert!(
            t.by_status.keys().all(|s| *s < 500 && *s != 499),
            "{:?}",
            t.by_status
        );
        let c = s[0].culprit.as_ref().unwrap();
        assert_eq!(c.cohort_clients, Some(6), "the floor on small fleets");
        assert!(c.looping_clients.unwrap() >= 2);
        assert!(s[0].peak_loop_share.unwrap() >= 0.1, "{:?}", s[0]);
    }
}

#[test]
fn outage_jitter_is_an_outage_not_a_storm() {
    let (buf, t) = run(&opts(Scenario::OutageJitter, 30_000));
    assert_eq!(t.episodes.len(), 1, "{:#?}", t.episodes);
    let e = &t.episodes[0];
    assert_eq!(e.kind, "outage");
    let (s, end) = (ts(&e.start), ts(&e.end));
    assert!((10 * MIN - SEC..20 * MIN).contains(&(end - s)), "{e:?}");
    let lines = parse(&buf);
    assert!(lines.iter().any(|l| l.t == s && l.status == 503));
    // Full jitter: some retries come back within a second.
    assert!(t.other_looping_clients.unwrap() > 10);
}

#[test]
fn decoys_are_no_episode() {
    let o = SimOptions {
        days: 2,
        ..opts(Scenario::Decoys, 40_000)
    };
    let (buf, t) = run(&o);
    assert!(t.episodes.is_empty(), "{:#?}", t.episodes);
    let d = t.decoys.as_ref().unwrap();
    assert_eq!(d.len(), 5);
    let lines = parse(&buf);
    for x in d {
        let n = lines.iter().filter(|l| l.ip == x.ip).count() as u64;
        assert_eq!(n, x.requests, "{:?}", x.kind);
    }
    let get = |k: DecoyKind| d.iter().find(|x| x.kind == k).unwrap();
    assert_eq!(get(DecoyKind::UptimeMonitor).requests, 2 * 2880);
    assert_eq!(get(DecoyKind::Scanner).requests, 420);
    assert_eq!(get(DecoyKind::ScriptedBurst).requests, 3000);
    let stuck = get(DecoyKind::StuckClient);
    assert!(ts(&stuck.last) - ts(&stuck.first) > 90 * MIN);
    // Time order holds across the day (decoys run past the window).
    assert!(lines.windows(2).all(|w| w[0].t <= w[1].t));
    // The monitor and the stuck client loop; neither is a storm.
    assert!(t.other_looping_clients.unwrap() >= 2);
}

#[test]
fn mixed_combines_behaviours() {
    let o = SimOptions {
        behaviours: vec![
            Behaviour::MultiEndpoint,
            Behaviour::RefreshStorm,
            Behaviour::CappedBackoff,
            Behaviour::OutageJitter,
        ],
        days: 2,
        ..opts(Scenario::Mixed, 60_000)
    };
    let (buf, t) = run(&o);
    let lines = parse(&buf);
    check_storms(&lines, &t);
    let kinds: Vec<&str> = t.episodes.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["storm", "outage", "storm"], "{:#?}", t.episodes);
    assert_eq!(t.episodes[0].culprit.as_ref().unwrap().endpoint, None);
    assert_eq!(
        t.episodes[2].culprit.as_ref().unwrap().endpoint.as_deref(),
        Some("POST /oauth/token")
    );
    // All behaviours at once.
    let (_, all) = run(&SimOptions {
        behaviours: Vec::new(),
        days: 1,
        ..o
    });
    assert_eq!(all.behaviours.as_ref().unwrap().len(), 7);
    assert_eq!(storms(&all).len(), 2, "{:#?}", all.episodes);
    // The small cohorts, capped and restarting, still stand out.
    for e in storms(&all) {
        assert!(e.peak_loop_share.unwrap() >= 0.1, "{e:?}");
    }
}

#[test]
fn nodes_split_the_same_requests() {
    for s in [Scenario::Storm, Scenario::Mixed] {
        let one = SimOptions {
            format: SimFormat::Combined,
            ..opts(s, 10_000)
        };
        let (a, ta) = run(&one);
        let three = SimOptions { nodes: 3, ..one };
        let mut bufs = vec![Vec::new(), Vec::new(), Vec::new()];
        let tt = {
            let mut outs: Vec<&mut dyn Write> =
                bufs.iter_mut().map(|b| b as &mut dyn Write).collect();
            simulate_nodes(&three, &mut outs).unwrap()
        };
        let mut all: Vec<&[u8]> = Vec::new();
        for b in &bufs {
            let file: Vec<&[u8]> = b.split(|c| *c == b'\n').filter(|l| !l.is_empty()).collect();
            assert!(file.len() > 1000);
            // Each file in time order (the CLF stamp sorts within a day).
            let stamps: Vec<&[u8]> = file.iter().map(|l| stamp(l)).collect();
            assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
            all.extend(file);
        }
        let mut want: Vec<&[u8]> = a.split(|c| *c == b'\n').filter(|l| !l.is_empty()).collect();
        all.sort();
        want.sort();
        assert_eq!(all, want, "{s:?}");
        let nodes = tt.nodes.as_ref().unwrap();
        assert_eq!(nodes.iter().map(|n| n.lines).sum::<u64>(), ta.lines);
        assert_eq!(tt.episodes.len(), ta.episodes.len());
        assert_eq!(tt.by_status, ta.by_status);
        // One client's requests spread over the nodes.
        let ip = b"10.20.0.7 ";
        let on = bufs
            .iter()
            .filter(|b| b.split(|c| *c == b'\n').any(|l| l.starts_with(ip)))
            .count();
        assert!(on >= 2, "client on {on} nodes");
    }
}

fn stamp(l: &[u8]) -> &[u8] {
    let i = l.iter().position(|c| *c == b'[').unwrap();
    &l[i..i + 21]
}

#[test]
fn time_zones_keep_the_instants() {
    for fmt in [SimFormat::Json, SimFormat::Logfmt, SimFormat::Combined] {
        let utc = SimOptions {
            format: fmt,
            ..opts(Scenario::Storm, 4_000)
        };
        let (a, ta) = run(&utc);
        for zone in ["+05:30", "America/New_York", "-0800"] {
            let z = SimOptions {
                tz: SimTz::parse(zone).unwrap(),
                ..utc.clone()
            };
            let (b, tb) = run(&z);
            let (la, lb): (Vec<&[u8]>, Vec<&[u8]>) = (
                a.split(|c| *c == b'\n').collect(),
                b.split(|c| *c == b'\n').collect(),
            );
            assert_eq!(la.len(), lb.len());
            for (x, y) in la.iter().zip(&lb).filter(|(x, _)| !x.is_empty()) {
                let (tx, rx) = split_time(fmt, x);
                let (ty, ry) = split_time(fmt, y);
                assert_eq!(tx, ty, "{zone}");
                assert_eq!(rx, ry);
            }
            // The truth stays UTC.
            assert_eq!(tb.tz.as_deref(), Some(z.tz.unwrap().name().as_str()));
            assert_eq!(ta.by_status, tb.by_status);
            let s = |t: &Truth| {
                t.episodes
                    .iter()
                    .map(|e| e.start.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                s(&tb),
                s(&run(&SimOptions {
                    force_truth_v2: true,
                    ..utc.clone()
                })
                .1)
            );
        }
    }
}

/// The instant of a line and the line without its timestamp.
fn split_time(fmt: SimFormat, l: &[u8]) -> (Micros, Vec<u8>) {
    let s = std::str::from_utf8(l).unwrap();
    let (start, end) = match fmt {
        SimFormat::Json => {
            let i = s.find("\"time\":\"").unwrap() + 8;
            (i, i + s[i..].find('"').unwrap())
        }
        SimFormat::Logfmt => (5, s.find(" ip=").unwrap()),
        _ => (s.find('[').unwrap() + 1, s.find(']').unwrap()),
    };
    let stamp = &s[start..end];
    let t = parse_timestamp(stamp)
        .or_else(|| {
            chrono::DateTime::parse_from_str(stamp, "%d/%b/%Y:%H:%M:%S %z")
                .ok()
                .map(|d| d.timestamp_micros())
        })
        .unwrap_or_else(|| panic!("{stamp}"));
    let mut rest = s.as_bytes()[..start].to_vec();
    rest.extend_from_slice(&s.as_bytes()[end..]);
    (t, rest)
}

#[test]
fn real_user_agents_change_only_the_strings() {
    let o = opts(Scenario::MultiEndpoint, 30_000);
    let (a, ta) = run(&o);
    let (b, tb) = run(&SimOptions {
        ua: UaStyle::Real,
        ..o
    });
    let (la, lb) = (parse(&a), parse(&b));
    assert_eq!(la.len(), lb.len());
    let mut apps = BTreeMap::new();
    for (x, y) in la.iter().zip(&lb) {
        assert_eq!(
            (x.t, &x.ip, &x.path, x.status),
            (y.t, &y.ip, &y.path, y.status)
        );
        for app in [
            "acme-desktop/",
            "AcmeVoice-Mobile/",
            "AcmeVoice/",
            "Electron/",
            "okhttp/",
            "CFNetwork/",
            "Dalvik/",
        ] {
            if y.ua.contains(app) {
                *apps.entry(app).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(apps.len(), 7, "{apps:?}");
    let c = |t: &Truth| storms(t)[0].culprit.clone().unwrap();
    assert_eq!(c(&ta).versions, c(&tb).versions);
    assert_eq!(c(&tb).app, "acme-desktop");
    // The refresh storm's cohort is Android: AcmeVoice-Mobile.
    let (_, tr) = run(&SimOptions {
        ua: UaStyle::Real,
        ..opts(Scenario::RefreshStorm, 30_000)
    });
    assert_eq!(c(&tr).app, "AcmeVoice-Mobile");
}

#[test]
fn junk_lines_come_between_the_same_requests() {
    for fmt in [SimFormat::Combined, SimFormat::Json, SimFormat::Logfmt] {
        let o = SimOptions {
            format: fmt,
            ..opts(Scenario::RefreshStorm, 6_000)
        };
        let (a, _) = run(&o);
        let (b, tb) = run(&SimOptions { junk: 0.05, ..o });
        let want: Vec<&[u8]> = a.split(|c| *c == b'\n').collect();
        let got: Vec<&[u8]> = b.split(|c| *c == b'\n').collect();
        // The requests are a subsequence; everything else is junk.
        let mut i = 0;
        let mut junk = 0;
        for l in &got {
            if i < want.len() && *l == want[i] {
                i += 1;
            } else {
                junk += 1;
            }
        }
        assert_eq!(i, want.len());
        assert_eq!(junk, tb.junk_lines.unwrap());
        let share = junk as f64 / (got.len() - 1) as f64;
        assert!((0.035..0.065).contains(&share), "{share}");
    }
}

#[test]
fn common_format_flags_what_it_hides() {
    let (_, t) = run(&SimOptions {
        format: SimFormat::Common,
        ..opts(Scenario::RefreshStorm, 30_000)
    });
    assert_eq!(t.visible_token_state, Some(false));
    assert_eq!(t.visible_user_agent, Some(false));
    assert_eq!(
        storms(&t)[0].culprit.as_ref().unwrap().token_state,
        "invalid"
    );
}

#[test]
fn quiet_weekends_are_quieter() {
    let o = SimOptions {
        days: 7,
        quiet_weekends: true,
        ..opts(Scenario::Normal, 30_000)
    };
    let (buf, t) = run(&o);
    assert!(t.episodes.is_empty());
    let mut per_day = [0u64; 7];
    for l in parse(&buf) {
        per_day[((l.t - EPOCH_DAY0) / DAY) as usize] += 1;
    }
    assert!(per_day[5] * 2 < per_day[4], "{per_day:?}");
    assert!(per_day[6] * 2 < per_day[0], "{per_day:?}");
}

#[test]
fn historical_truth_v2_on_request() {
    let o = SimOptions {
        days: 2,
        seed: 2,
        ..opts(Scenario::TwoStorms, 60_000)
    };
    let (a, t1) = run(&o);
    let (b, t2) = run(&SimOptions {
        force_truth_v2: true,
        ..o
    });
    assert_eq!(a, b, "the log does not change");
    assert_eq!(t1.truth_version, None);
    check_storms(&parse(&b), &t2);
    assert!(!storms(&t2).is_empty());
    // Each contract-2 storm is one of contract 1 (which may also name a
    // single client's loop), starting at its first 401's repeat.
    for e in storms(&t2) {
        let c = e.culprit.as_ref().unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("GET /v1/session"));
        let v1 = storms(&t1)
            .into_iter()
            .find(|x| x.culprit.as_ref().unwrap().app == c.app)
            .unwrap();
        assert_eq!(v1.culprit.as_ref().unwrap().token_state, c.token_state);
        let d = ts(&e.start) - ts(&v1.start);
        assert!((0..2 * SEC).contains(&d), "{} vs {}", e.start, v1.start);
    }
}

/// FNV-1a over the log and the pretty truth, as `--truth` writes it.
fn fingerprint(o: &SimOptions) -> u64 {
    let (buf, t) = run(o);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in buf
        .iter()
        .chain(serde_json::to_vec_pretty(&t).unwrap().iter())
    {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The historical scenarios write what they wrote before the behaviours
/// existed (hashes from the binary of commit 5ab04ec).
#[test]
fn historical_output_is_pinned() {
    let base = SimOptions {
        lines: 5_000,
        format: SimFormat::Combined,
        ..Default::default()
    };
    let cases = [
        (SimOptions { ..base.clone() }, PIN_STORM),
        (
            SimOptions {
                scenario: Scenario::Outage,
                days: 2,
                format: SimFormat::Json,
                ..base.clone()
            },
            PIN_OUTAGE,
        ),
        (
            SimOptions {
                scenario: Scenario::Rotation,
                format: SimFormat::Logfmt,
                severity: Severity::Mild,
                seed: 7,
                ..base.clone()
            },
            PIN_ROTATION,
        ),
        (
            SimOptions {
                scenario: Scenario::TwoStorms,
                format: SimFormat::Common,
                corrupt: 0.01,
                days: 2,
                ..base.clone()
            },
            PIN_TWO_STORMS,
        ),
        (
            SimOptions {
                scenario: Scenario::Normal,
                severity: Severity::Moderate,
                seed: 3,
                ..base
            },
            PIN_NORMAL,
        ),
    ];
    for (o, want) in cases {
        assert_eq!(fingerprint(&o), want, "{:?} {:?}", o.scenario, o.format);
    }
}

const PIN_STORM: u64 = 0xa65e_e453_2ff2_5935;
const PIN_OUTAGE: u64 = 0x75c8_c83d_e531_dc9a;
const PIN_ROTATION: u64 = 0xf3e8_12bd_7449_7797;
const PIN_TWO_STORMS: u64 = 0x5065_079d_727f_c826;
const PIN_NORMAL: u64 = 0xbac5_c781_5239_ba41;
