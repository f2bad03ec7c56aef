//! The retry stage on hand-written request sequences: loops and backoff,
//! resends, the token state carried, late and same-timestamp requests,
//! and the memory bound.

use super::*;
use TokenState::*;

const S: i64 = MICROS_PER_SEC;

/// Chains as they close: (client, key, stats).
#[derive(Default)]
struct Chains(Vec<(u64, u32, ChainStats)>);

impl ChainSink<u32> for Chains {
    fn chain(&mut self, client: u64, key: u32, stats: &ChainStats) {
        self.0.push((client, key, stats.clone()));
    }
}

impl Chains {
    fn total(&self) -> ChainStats {
        let mut t = ChainStats::default();
        for (_, _, c) in &self.0 {
            t.merge(c);
        }
        t
    }
}

fn req(client: u64, ts: i64, op: u64, status: u16, token: TokenState) -> Request {
    Request {
        ts,
        client,
        op,
        status: Some(status),
        token,
        auth_route: false,
        attempt: None,
    }
}

const SESSION: u64 = 1;
const ME: u64 = 2;
const CONTACTS: u64 = 3;
const PRESENCE: u64 = 4;
const TOKEN: u64 = 9;

fn auth(mut r: Request) -> Request {
    r.auth_route = true;
    r
}

/// Labels every request (keys are the request's index) and closes all.
fn run(reqs: &[Request]) -> (Vec<Label>, Chains) {
    run_with(reqs, RetryConfig::default())
}

fn run_with(reqs: &[Request], cfg: RetryConfig) -> (Vec<Label>, Chains) {
    let mut stage = RetryStage::new(cfg);
    let mut chains = Chains::default();
    let labels = reqs
        .iter()
        .enumerate()
        .map(|(i, r)| stage.label(r, |_| i as u32, &mut chains))
        .collect();
    stage.finish(&mut chains);
    (labels, chains)
}

fn count(labels: &[Label], f: impl Fn(&Label) -> bool) -> usize {
    labels.iter().filter(|l| f(l)).count()
}

#[test]
fn tight_loop_on_one_endpoint() {
    // Ten expired-token 401s 400 ms apart, then a refresh and a success.
    let mut reqs: Vec<Request> = (0..10)
        .map(|i| req(1, 1000 * S + i * 400_000, SESSION, 401, Expired))
        .collect();
    reqs.push(auth(req(1, 1005 * S, TOKEN, 200, Valid)));
    reqs.push(req(1, 1006 * S, SESSION, 200, Valid));
    let (labels, chains) = run(&reqs);
    assert_eq!(count(&labels, |l| l.retry), 10, "9 resends + the success");
    assert_eq!(count(&labels, |l| l.resend), 9);
    // The sixth request of the chain is the first loop request.
    assert_eq!(count(&labels, |l| l.looping), 5);
    assert_eq!(
        labels[5].loop_start,
        Some(1000 * S + 400_000),
        "the first repeat"
    );
    assert_eq!(count(&labels, |l| l.loop_start.is_some()), 1);
    let t = chains.total();
    assert_eq!((t.chains, t.attempts, t.loops), (1, 11, 1));
    assert_eq!(t.by_backoff.get(&Backoff::None), Some(&1));
    assert!(labels.iter().take(10).all(|l| l.token == Expired));
}

#[test]
fn a_loop_over_several_endpoints_retries_each() {
    // One request a second, cycling over three endpoints, each answered
    // 401 expired: no two consecutive requests share an endpoint.
    let ops = [ME, CONTACTS, PRESENCE];
    let reqs: Vec<Request> = (0..60)
        .map(|i| req(7, 2000 * S + i * S, ops[i as usize % 3], 401, Expired))
        .collect();
    let (labels, chains) = run(&reqs);
    assert_eq!(count(&labels, |l| l.retry), 57, "all but each op's first");
    assert_eq!(count(&labels, |l| l.resend), 59, "all but the first");
    assert!(count(&labels, |l| l.looping) >= 50);
    // The resend run loops first: its first repeat is the second request.
    let starts: Vec<i64> = labels.iter().filter_map(|l| l.loop_start).collect();
    assert_eq!(starts.iter().min(), Some(&(2001 * S)));
    let t = chains.total();
    assert_eq!((t.chains, t.loops), (3, 3));
}

#[test]
fn healthy_refresh_is_one_retry_and_no_resend() {
    let reqs = vec![
        req(3, 10 * S, ME, 401, Expired),
        auth(req(3, 10 * S + 50_000, TOKEN, 200, Valid)),
        req(3, 10 * S + 90_000, ME, 200, Valid),
        req(3, 40 * S, ME, 200, Valid),
    ];
    let (labels, chains) = run(&reqs);
    let flags: Vec<(bool, bool, bool)> = labels
        .iter()
        .map(|l| (l.retry, l.resend, l.looping))
        .collect();
    assert_eq!(
        flags,
        vec![
            (false, false, false),
            (false, false, false),
            (true, false, false),
            (false, false, false)
        ]
    );
    assert_eq!(chains.total().by_backoff.get(&Backoff::Single), Some(&1));
}

#[test]
fn token_state_carries_over_answers_that_name_none() {
    let reqs = vec![
        req(4, 10 * S, SESSION, 401, Expired),
        req(4, 11 * S, SESSION, 429, Unknown),
        req(4, 12 * S, SESSION, 503, Unknown),
        req(4, 13 * S, SESSION, 401, Unknown),
        auth(req(4, 14 * S, TOKEN, 200, Valid)),
        req(4, 15 * S, SESSION, 503, Unknown),
        req(4, 16 * S, SESSION, 401, Unknown),
        req(4, 17 * S, SESSION, 503, Unknown),
    ];
    let (labels, _) = run(&reqs);
    let states: Vec<TokenState> = labels.iter().map(|l| l.token).collect();
    assert_eq!(
        states,
        vec![
            Expired, Expired, Expired, Expired, Valid,
            Valid,   // a bare 401 never carries `valid`
            Unknown, // and the reason of that rejection is not known
            Unknown
        ]
    );
    // A client never told anything stays unknown.
    let (labels, _) = run(&[req(5, 10 * S, SESSION, 503, Unknown)]);
    assert_eq!(labels[0].token, Unknown);
}

#[test]
fn exponential_backoff_retries_but_does_not_loop() {
    let mut t = 100 * S;
    let mut reqs = vec![req(9, t, SESSION, 503, Unknown)];
    for g in [1, 2, 4, 8, 16, 32, 61, 61] {
        t += g * S;
        reqs.push(req(9, t, SESSION, 503, Unknown));
    }
    let (labels, chains) = run(&reqs);
    assert_eq!(
        count(&labels, |l| l.retry),
        6,
        "gaps over the window break the chain"
    );
    assert_eq!(count(&labels, |l| l.looping), 0);
    assert!(
        chains
            .total()
            .by_backoff
            .keys()
            .all(|b| !matches!(b, Backoff::None))
    );
}

#[test]
fn a_short_capped_backoff_loops() {
    let mut t = 100 * S;
    let mut reqs = vec![req(9, t, SESSION, 401, Expired)];
    for g in [
        500_000, 1_000_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000,
    ] {
        t += g;
        reqs.push(req(9, t, SESSION, 401, Expired));
    }
    let (labels, chains) = run(&reqs);
    assert!(count(&labels, |l| l.looping) >= 1);
    assert_eq!(chains.total().by_backoff.get(&Backoff::Capped), Some(&1));
}

#[test]
fn a_refresh_storm_loops_on_the_token_route() {
    let reqs: Vec<Request> = (0..20)
        .map(|i| auth(req(11, 50 * S + i * 700_000, TOKEN, 400, Invalid)))
        .collect();
    let (labels, chains) = run(&reqs);
    assert_eq!(count(&labels, |l| l.retry), 19);
    assert_eq!(
        count(&labels, |l| l.resend),
        19,
        "the rejected token, again"
    );
    assert!(count(&labels, |l| l.looping) >= 14);
    assert_eq!(chains.total().loops, 1);
}

#[test]
fn explicit_attempt_numbers() {
    let mut reqs = vec![
        req(5, 0, SESSION, 200, Valid),
        req(5, 100_000, SESSION, 200, Valid),
        req(5, 200_000, SESSION, 200, Valid),
    ];
    reqs[1].attempt = Some(2);
    reqs[2].attempt = Some(3);
    let (labels, _) = run(&reqs);
    assert_eq!(count(&labels, |l| l.retry), 2);
}

#[test]
fn a_repeat_after_the_window_is_not_a_retry() {
    let reqs = vec![
        req(2, 0, SESSION, 503, Unknown),
        req(2, 90 * S, SESSION, 200, Valid),
    ];
    let (labels, chains) = run(&reqs);
    assert_eq!(count(&labels, |l| l.retry), 0);
    assert!(chains.0.is_empty());
}

#[test]
fn a_late_line_changes_nothing() {
    let reqs = vec![
        req(2, 10 * S, SESSION, 401, Expired),
        req(2, 12 * S, SESSION, 401, Expired),
        req(2, 11 * S, SESSION, 200, Valid),
        req(2, 13 * S, SESSION, 401, Expired),
    ];
    let (labels, _) = run(&reqs);
    assert!(!labels[2].retry);
    assert!(labels[3].retry, "the late success did not end the chain");
}

/// Requests of one client with the same timestamp: any order gives the
/// same label to each and the same chains.
#[test]
fn order_within_one_timestamp_does_not_matter() {
    let base = vec![
        req(1, 10 * S, SESSION, 401, Expired),
        req(1, 11 * S, SESSION, 401, Expired),
        req(1, 11 * S, ME, 401, Expired),
        req(1, 11 * S, SESSION, 200, Valid),
        auth(req(1, 11 * S, TOKEN, 200, Valid)),
        req(1, 12 * S, SESSION, 503, Unknown),
        req(1, 12 * S, ME, 401, Expired),
        req(1, 13 * S, SESSION, 401, Expired),
        req(1, 13 * S, ME, 200, Valid),
    ];
    let (want, want_chains) = run(&base);
    let mut seed = 3u64;
    for _ in 0..200 {
        // Shuffle within each timestamp, keeping track of where each went.
        let mut idx: Vec<usize> = (0..base.len()).collect();
        let mut i = 0;
        while i < idx.len() {
            let j = (i..idx.len())
                .take_while(|&k| base[idx[k]].ts == base[idx[i]].ts)
                .last()
                .unwrap();
            for k in (i + 1..=j).rev() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                let m = i + (seed >> 33) as usize % (k - i + 1);
                idx.swap(k, m);
            }
            i = j + 1;
        }
        let shuffled: Vec<Request> = idx.iter().map(|&i| base[i]).collect();
        let (labels, chains) = run(&shuffled);
        for (pos, &orig) in idx.iter().enumerate() {
            assert_eq!(labels[pos], want[orig], "request {orig}");
        }
        let strip = |c: &Chains| {
            let mut v: Vec<ChainStats> = c.0.iter().map(|x| x.2.clone()).collect();
            v.sort_by_key(|s| (s.attempts, s.loops, format!("{:?}", s.by_backoff)));
            v
        };
        assert_eq!(strip(&chains), strip(&want_chains));
    }
}

#[test]
fn quiet_clients_are_folded_away() {
    let cfg = RetryConfig::default();
    let mut stage: RetryStage<u32> = RetryStage::new(cfg);
    let mut chains = Chains::default();
    // 20000 clients, each seen once, one a second.
    for client in 0..20_000u64 {
        let r = req(client, client as i64 * S, SESSION, 200, Valid);
        stage.label(&r, |_| 0, &mut chains);
    }
    // At most the clients of two memory horizons (folded at multiples of
    // it), plus one window.
    let bound = ((2 * cfg.memory_us + cfg.window_us) / S) as usize;
    assert!(
        stage.peak_clients <= bound,
        "{} > {bound}",
        stage.peak_clients
    );
}

#[test]
fn failures() {
    for s in [401, 403, 408, 429, 499, 500, 503] {
        assert!(is_failure(Some(s), Unknown), "{s}");
    }
    assert!(is_failure(Some(400), Invalid), "invalid_grant");
    for s in [200, 204, 304, 404, 400] {
        assert!(!is_failure(Some(s), Unknown), "{s}");
    }
    assert!(!is_failure(None, Unknown));
}

#[test]
fn client_state_stays_small() {
    // Every request looks its client up: the record's size is the stage's
    // speed (two cache lines at most, with the map's key).
    assert!(std::mem::size_of::<super::ClientState<u32>>() <= 104);
}
