//! Synthetic auth-service access logs with ground truth, for demos, tests
//! and benchmarks. A discrete-event simulation of a client fleet (desktop,
//! mobile, web; several versions) with hourly access tokens, a business-hours
//! day with a morning login peak, a service with finite capacity, and
//! scenarios. `docs/simulator.md` is the user's guide; this is the contract.
//!
//! The historical scenarios (their output, truth and random sequence are
//! frozen: benchmarks and snapshots depend on them byte for byte):
//!
//! - `normal`: nothing goes wrong.
//! - `storm`: from the trigger on, desktop 4.2.0–4.2.3 answer an
//!   expired-token 401 by resending the same request with the same token in
//!   a tight loop. The service saturates (latency, 503s, login timeouts as
//!   499). Rate limiting of those versions (429) later ends it.
//! - `outage`: a short upstream outage (503 for everyone); clients back off
//!   exponentially with jitter.
//! - `rotation`: at 10:30 a signing-key rotation invalidates every token
//!   issued before; acme-mobile 5.0.1 loops on the invalid-token 401 until
//!   a rate limit from 11:00.
//! - `two-storms`: both storms in one log.
//!
//! The behaviours of real fleets ([`Behaviour`]), each a scenario of its
//! own and combinable with `mixed` (`--behaviours a,b,c`):
//!
//! - `multi-endpoint`: the apps make background calls (`/v1/session`,
//!   `/v1/presence`, `/v1/me`, `/v1/contacts`, `/v1/settings`,
//!   `/v1/notifications`); from 08:40 the buggy desktop cohort whose token
//!   expired resends every failing call, rotating over the endpoints, so no
//!   two consecutive requests of one client hit the same endpoint.
//! - `refresh-storm`: at 10:30 the service revokes every refresh token
//!   issued before; the buggy Android 5.0.1 cohort answers `400
//!   invalid_grant` on `POST /oauth/token` by refreshing again, in a loop,
//!   until a rate limit from 11:00. Others sign in again.
//! - `capped-backoff`: the loop waits 0.5 s, 1 s, then 1–2 s forever.
//! - `restart`: each looping client stops after 2–7 minutes (the user
//!   restarts the app; a login follows), so the loop population churns.
//! - `small-cohort`: only a few clients have the bug (one in 250 of the
//!   fleet, at least 6: about 20 on a 1M-line fleet, 60 on 3M; the loop is
//!   a fifth to a quarter of all traffic at its peak, more on small fleets,
//!   above a tenth); the service has
//!   four times the usual capacity and never overloads (no 5xx, no 499);
//!   the rate limit comes 65 minutes after the trigger.
//! - `outage-jitter`: an upstream outage of 10–20 minutes from 10:00 (503
//!   for everyone); desktop and web clients retry with full jitter
//!   (`random(0, min(30 s, 0.5 s·2^n))`), mobile clients with decorrelated
//!   jitter (`min(60 s, random(1 s, 3·previous))`). Never a storm.
//! - `decoys`: alarming traffic that is no incident (an uptime monitor, a
//!   scanner, a scripted burst, a nightly batch job, one stuck client; see
//!   [`decoys`]).
//!
//! The modifiers (`capped-backoff`, `restart`, `small-cohort`) change
//! every storm of the mix; without `multi-endpoint` or `refresh-storm` they
//! act on the classic loop on `GET /v1/session`.
//!
//! Fleet realism, with every scenario: `--ua real` (Electron, Android,
//! iOS and browser user agents, [`ua`]), `--nodes N` (one file per
//! load-balancer node; a client's connections spread over the nodes),
//! `--tz` (timestamps in a zone; the truth stays UTC), `--junk F` (junk
//! lines between the requests), `--quiet-weekends`.
//!
//! Seeded and deterministic: the same options give the same bytes. The
//! options that only change how traffic is written (`--ua`, `--nodes`,
//! `--tz`, `--junk`) draw from random streams of their own: the requests
//! are the same with or without them.
//!
//! # Ground truth
//!
//! The historical scenarios with the historical options keep their truth
//! (contract 1, below). Any behaviour or realism option, or
//! `force_truth_v2`, gives contract 2 (`"truth_version": 2`), computed from
//! the lines actually written ([`truth`] defines runs and loops):
//!
//! - Storm episodes (`kind: "storm"`), one per buggy cohort whose clients
//!   looped (at least two clients, and one version for a minute or more):
//!   `start`, the first repeat of the first client of the cohort to loop
//!   (never the trigger, never the first 401); `peak`, the minute with the
//!   most loop requests; `mitigation`, the first 429 written to the cohort
//!   (or null); `end`, the end of the last minute with at least a tenth of
//!   the peak minute's loop requests; `trigger`; `peak_loop_requests` and
//!   `peak_loop_share` (of all lines written in that minute); `culprit`:
//!   `app` (the user agent's app token), `versions` (those with a client
//!   that looped for a minute or more, sorted semantically),
//!   `token_state` (what the server named on the failures driving the
//!   loop: `expired` or `invalid`), `endpoint` (`"GET /v1/session"` when
//!   every loop request hit one endpoint, null when they span several),
//!   `looping_clients`, `loop_requests`, `cohort_clients` (clients with
//!   the bug).
//! - Outage episodes (`kind: "outage"`): the first and the last 503 of the
//!   outage written.
//! - No episode on normal days and for decoys.
//! - `visible_token_state` / `visible_user_agent`: false for `common`,
//!   which has neither; the truth still says what happened.
//! - `other_looping_clients` (loops that are no storm), `decoys`, `nodes`
//!   (lines per file), `junk_lines`, `format`, `user_agents`, `tz`.
//!
//! Instants are RFC 3339 UTC with milliseconds.
//!
//! Contract 1 (historical): `start` is the first loop 401, `versions` those
//! with 60 loop 401s or more, `end` counts loop 401s only, times in whole
//! seconds, outages by their planned window.

pub mod decoys;
mod render;
pub mod truth;
pub mod ua;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::time::{MICROS_PER_SEC, Micros, rfc3339};

pub use decoys::DecoyKind;
pub use render::{SimFormat, SimTz};
use truth::{Told, Tracker, Who, rfc3339_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    Normal,
    Storm,
    Outage,
    /// A signing-key rotation invalidates old tokens; a mobile version
    /// loops on the invalid-token 401.
    Rotation,
    /// The expired-token storm, then later the rotation storm.
    TwoStorms,
    #[serde(rename = "multi-endpoint")]
    MultiEndpoint,
    #[serde(rename = "refresh-storm")]
    RefreshStorm,
    #[serde(rename = "capped-backoff")]
    CappedBackoff,
    Restart,
    #[serde(rename = "small-cohort")]
    SmallCohort,
    #[serde(rename = "outage-jitter")]
    OutageJitter,
    Decoys,
    /// The behaviours of [`SimOptions::behaviours`] together.
    Mixed,
}

impl Scenario {
    /// The historical scenarios, whose output is frozen.
    pub fn is_historical(self) -> bool {
        matches!(
            self,
            Scenario::Normal
                | Scenario::Storm
                | Scenario::Outage
                | Scenario::Rotation
                | Scenario::TwoStorms
        )
    }

    /// The behaviour a single-behaviour scenario stands for.
    pub fn behaviour(self) -> Option<Behaviour> {
        Some(match self {
            Scenario::MultiEndpoint => Behaviour::MultiEndpoint,
            Scenario::RefreshStorm => Behaviour::RefreshStorm,
            Scenario::CappedBackoff => Behaviour::CappedBackoff,
            Scenario::Restart => Behaviour::Restart,
            Scenario::SmallCohort => Behaviour::SmallCohort,
            Scenario::OutageJitter => Behaviour::OutageJitter,
            Scenario::Decoys => Behaviour::Decoys,
            _ => return None,
        })
    }
}

/// A behaviour real fleets show; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    MultiEndpoint,
    RefreshStorm,
    CappedBackoff,
    Restart,
    SmallCohort,
    OutageJitter,
    Decoys,
}

impl Behaviour {
    pub const ALL: [Behaviour; 7] = [
        Behaviour::MultiEndpoint,
        Behaviour::RefreshStorm,
        Behaviour::CappedBackoff,
        Behaviour::Restart,
        Behaviour::SmallCohort,
        Behaviour::OutageJitter,
        Behaviour::Decoys,
    ];
}

/// How much of the buggy versions' fleet actually has the bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
}

impl Severity {
    fn share(self) -> f64 {
        match self {
            Severity::Mild => 0.25,
            Severity::Moderate => 0.6,
            Severity::Severe => 1.0,
        }
    }
}

/// The user agents clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UaStyle {
    /// `acme-desktop/4.2.1 (Windows NT 10.0; Win64; x64)`, `acme-mobile/5.0.1 (iOS 17.5)`.
    #[default]
    Simple,
    /// What the apps really send: Electron, Dalvik/okhttp, iOS, CFNetwork.
    Real,
}

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub scenario: Scenario,
    pub seed: u64,
    /// Approximate number of lines.
    pub lines: u64,
    /// Simulated days; the scenario happens on the last.
    pub days: u32,
    pub format: SimFormat,
    /// Fraction of lines replaced by corrupt ones.
    pub corrupt: f64,
    pub severity: Severity,
    /// With [`Scenario::Mixed`], the behaviours together (empty: all).
    pub behaviours: Vec<Behaviour>,
    pub ua: UaStyle,
    /// Load-balancer nodes, one output each (1 to 16).
    pub nodes: u8,
    /// The zone of written timestamps (`None`: UTC as always).
    pub tz: Option<SimTz>,
    /// Fraction of all lines that are junk (0 to 0.5), added between the
    /// requests.
    pub junk: f64,
    /// Saturdays and Sundays, a quarter of the fleet signs in.
    pub quiet_weekends: bool,
    /// Contract-2 truth even for a historical scenario with historical
    /// options (whose output stays the same).
    pub force_truth_v2: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            scenario: Scenario::Storm,
            seed: 1,
            lines: 100_000,
            days: 1,
            format: SimFormat::Combined,
            corrupt: 0.0,
            severity: Severity::Severe,
            behaviours: Vec::new(),
            ua: UaStyle::Simple,
            nodes: 1,
            tz: None,
            junk: 0.0,
            quiet_weekends: false,
            force_truth_v2: false,
        }
    }
}

impl SimOptions {
    /// The behaviours in effect, sorted.
    pub fn active_behaviours(&self) -> Vec<Behaviour> {
        let mut v = match self.scenario {
            Scenario::Mixed if self.behaviours.is_empty() => Behaviour::ALL.to_vec(),
            Scenario::Mixed => self.behaviours.clone(),
            s => s.behaviour().into_iter().collect(),
        };
        v.sort();
        v.dedup();
        v
    }

    /// Whether the truth follows contract 2.
    pub fn truth_v2(&self) -> bool {
        self.force_truth_v2
            || !self.scenario.is_historical()
            || self.ua != UaStyle::Simple
            || self.nodes > 1
            || self.tz.is_some()
            || self.junk > 0.0
            || self.quiet_weekends
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthCulprit {
    pub app: String,
    pub versions: Vec<String>,
    pub token_state: String,
    /// `None` (null) when the loop spans several endpoints.
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub looping_clients: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohort_clients: Option<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthEpisode {
    pub kind: String,
    pub start: String,
    pub peak: Option<String>,
    pub mitigation: Option<String>,
    pub end: String,
    pub culprit: Option<TruthCulprit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_loop_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_loop_share: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthNode {
    /// 1-based: the CLI writes it to `node{node}.log`.
    pub node: u8,
    /// Lines in that file (requests, corrupt and junk lines).
    pub lines: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthDecoy {
    pub kind: DecoyKind,
    pub ip: String,
    pub user_agent: String,
    pub first: String,
    pub last: String,
    pub requests: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Truth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth_version: Option<u32>,
    pub scenario: Scenario,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behaviours: Option<Vec<Behaviour>>,
    pub seed: u64,
    pub days: u32,
    pub clients: usize,
    pub lines: u64,
    pub corrupted: u64,
    pub health_checks: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub episodes: Vec<TruthEpisode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_token_state: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_user_agent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agents: Option<UaStyle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_weekends: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub junk_lines: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<TruthNode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_looping_clients: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoys: Option<Vec<TruthDecoy>>,
}

/// Day 0 starts Monday 2026-03-02 00:00 UTC.
const EPOCH_DAY0: Micros = 1_772_409_600 * MICROS_PER_SEC;
const DAY: Micros = 86_400 * MICROS_PER_SEC;
const MIN: Micros = 60 * MICROS_PER_SEC;
const SEC: Micros = MICROS_PER_SEC;
/// Each day's window: 06:00 to 12:00 UTC.
const WINDOW_START: Micros = 6 * 60 * MIN;
const WINDOW_END: Micros = 12 * 60 * MIN;
const TOKEN_LIFETIME: Micros = 60 * MIN;
const HEARTBEAT: Micros = 60 * SEC;
/// Storm timing on the last day (offsets from midnight).
const TRIGGER: Micros = (8 * 60 + 40) * MIN;
const MITIGATION: Micros = (9 * 60 + 25) * MIN;
const ROTATION: Micros = (10 * 60 + 30) * MIN;
const ROTATION_MITIGATION: Micros = (11 * 60) * MIN;
const OUTAGE_START: Micros = (9 * 60) * MIN;
const OUTAGE_END: Micros = (9 * 60 + 8) * MIN;
/// `refresh-storm`: refresh tokens issued before are revoked.
const REVOCATION: Micros = (10 * 60 + 30) * MIN;
const REVOCATION_MITIGATION: Micros = (11 * 60) * MIN;
/// `outage-jitter` starts then and lasts 10 to 20 minutes.
const JITTER_OUTAGE_START: Micros = (10 * 60) * MIN;
/// Share of the fleet that signs in on a quiet weekend day.
const WEEKEND_SHARE: f64 = 0.25;

pub const BUGGY_VERSIONS: [&str; 4] = ["4.2.0", "4.2.1", "4.2.2", "4.2.3"];
/// The mobile version that loops on an invalid-token 401 (and, on
/// Android, on an `invalid_grant` refresh).
pub const BUGGY_MOBILE: &str = "5.0.1";

/// The endpoints the apps call in the background with `multi-endpoint`,
/// and how often.
const BACKGROUND: [(&str, f64); 6] = [
    ("/v1/session", 0.35),
    ("/v1/presence", 0.25),
    ("/v1/me", 0.10),
    ("/v1/contacts", 0.12),
    ("/v1/settings", 0.08),
    ("/v1/notifications", 0.10),
];

/// The random streams besides the traffic's own (stream 0).
mod stream {
    pub const UA: u64 = 1;
    pub const NODES: u64 = 2;
    pub const JUNK: u64 = 3;
    pub const WEEKENDS: u64 = 4;
    pub const SCENARIO: u64 = 5;
    pub const DECOYS: u64 = 6;
}

fn rng_stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bug {
    /// Resends the same request with the same expired token.
    Expired,
    /// Resends the same request with a token the server no longer accepts.
    Invalid,
    /// Resends every failing background call with the expired token.
    Endpoints,
    /// Refreshes again with a revoked refresh token.
    Refresh,
}

impl Bug {
    fn told(self) -> Told {
        match self {
            Bug::Expired | Bug::Endpoints => Told::Expired,
            Bug::Invalid | Bug::Refresh => Told::Invalid,
        }
    }
}

/// The behaviours in effect, as the simulation reads them.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    multi: bool,
    refresh: bool,
    capped: bool,
    restart: bool,
    small: bool,
    outage_jitter: bool,
    decoys: bool,
    /// Any behaviour: the fleet's newer mechanics (one heartbeat chain per
    /// client, four tries after a 429).
    fleet2: bool,
}

impl Flags {
    fn of(o: &SimOptions) -> Self {
        let b = o.active_behaviours();
        let has = |x| b.contains(&x);
        Flags {
            multi: has(Behaviour::MultiEndpoint),
            refresh: has(Behaviour::RefreshStorm),
            capped: has(Behaviour::CappedBackoff),
            restart: has(Behaviour::Restart),
            small: has(Behaviour::SmallCohort),
            outage_jitter: has(Behaviour::OutageJitter),
            decoys: has(Behaviour::Decoys),
            fleet2: !b.is_empty(),
        }
    }
}

/// One storm on the last day: a bug, when it is triggered, when the rate
/// limit for its cohort starts to roll out; and its truth as it happens.
struct Plan {
    bug: Bug,
    trigger: Micros,
    mitigation: Micros,
    loop_minutes: BTreeMap<i64, u64>,
    first_loop: Option<Micros>,
    /// Loop requests by client version.
    looped: BTreeMap<&'static str, u64>,
    /// When the rate limit first answered a client of this cohort.
    first_limit: Option<Micros>,
}

fn plans(s: Scenario, f: Flags) -> Vec<Plan> {
    let plan = |bug, trigger, mitigation| Plan {
        bug,
        trigger,
        mitigation,
        loop_minutes: BTreeMap::new(),
        first_loop: None,
        looped: Default::default(),
        first_limit: None,
    };
    match s {
        Scenario::Storm => vec![plan(Bug::Expired, TRIGGER, MITIGATION)],
        Scenario::Rotation => vec![plan(Bug::Invalid, ROTATION, ROTATION_MITIGATION)],
        Scenario::TwoStorms => vec![
            plan(Bug::Expired, TRIGGER, MITIGATION),
            plan(Bug::Invalid, ROTATION, ROTATION_MITIGATION),
        ],
        Scenario::Normal | Scenario::Outage => Vec::new(),
        _ => {
            let mut v = Vec::new();
            if f.multi {
                v.push(plan(Bug::Endpoints, TRIGGER, MITIGATION));
            } else if (f.capped || f.restart || f.small) && !f.refresh {
                v.push(plan(Bug::Expired, TRIGGER, MITIGATION));
            }
            if f.refresh {
                v.push(plan(Bug::Refresh, REVOCATION, REVOCATION_MITIGATION));
            }
            if f.small {
                // A loop this small hurts nobody: it is rate-limited late.
                for p in v.iter_mut() {
                    p.mitigation = p.trigger + SMALL_COHORT_NOTICE;
                }
            }
            v
        }
    }
}
const DESKTOP_VERSIONS: [(&str, f64); 9] = [
    ("4.0.2", 0.05),
    ("4.1.0", 0.10),
    ("4.1.3", 0.14),
    ("4.2.0", 0.06),
    ("4.2.1", 0.08),
    ("4.2.2", 0.05),
    ("4.2.3", 0.07),
    ("4.3.0", 0.25),
    ("4.3.1", 0.20),
];
const MOBILE_VERSIONS: [(&str, f64); 3] = [("5.0.1", 0.2), ("5.1.0", 0.5), ("5.2.0", 0.3)];
const BROWSERS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Desktop,
    Mobile,
    Web,
}

struct Client {
    kind: Kind,
    ua: String,
    ip: String,
    device: String,
    user: String,
    relies_on_401: bool,
    version: &'static str,
    /// The app token of the user agent ("" for browsers).
    app: &'static str,
    android: bool,
    /// Index of the storm plan whose bug this client has.
    bug: Option<usize>,
    token_expires: Micros,
    token_issued: Micros,
    refresh_issued: Micros,
    /// Tight-loop state (storm scenario).
    looping: bool,
    /// Retry attempt within an outage backoff.
    attempt: u32,
    session_end: Micros,
    /// Resends in the current loop (capped backoff).
    loop_n: u32,
    /// When the user restarts the looping app (`restart`).
    loop_until: Micros,
    /// Index in [`BACKGROUND`] of the current call (`multi-endpoint`).
    ep: usize,
    /// Last decorrelated-jitter sleep.
    sleep: Micros,
    /// With the newer mechanics, the one pending heartbeat, refresh and
    /// login of the client: events at other times are stale.
    next_hb: Micros,
    next_refresh: Micros,
    next_login: Micros,
    /// The keep-alive connection (`--nodes`): node, requests left, idle
    /// deadline.
    conn_node: u8,
    conn_left: u16,
    conn_idle: Micros,
}

impl Client {
    fn new(i: usize, kind: Kind, version: &'static str, ua: String) -> Self {
        Client {
            kind,
            // The 4.2 desktop line never refreshes proactively, bug or not.
            relies_on_401: kind == Kind::Desktop && BUGGY_VERSIONS.contains(&version),
            version,
            app: "",
            android: false,
            bug: None,
            ua,
            ip: format!(
                "10.{}.{}.{}",
                20 + (i / 65536) % 200,
                (i / 256) % 256,
                i % 256
            ),
            device: format!("d-{:06x}", (i as u64).wrapping_mul(0x9E37_79B9) & 0xFF_FFFF),
            user: format!("u-{}", 10_000 + i),
            token_expires: 0,
            token_issued: 0,
            refresh_issued: 0,
            looping: false,
            attempt: 0,
            session_end: 0,
            loop_n: 0,
            loop_until: 0,
            ep: 0,
            sleep: 0,
            next_hb: 0,
            next_refresh: 0,
            next_login: 0,
            conn_node: 0,
            conn_left: 0,
            conn_idle: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Login,
    Heartbeat,
    Refresh,
    Profile,
    /// Resend after a failure.
    Retry,
    Health,
    /// The next request of a decoy actor.
    Decoy,
}

/// One request, ready to render.
pub struct Req<'a> {
    pub ts: Micros,
    pub ip: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub bytes: u32,
    pub ua: &'a str,
    pub latency_s: f64,
    pub user: &'a str,
    pub device: &'a str,
    pub auth_error: &'a str,
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (v, w) in items {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Clients with the bug in `small-cohort`, per cohort: one client in 250
/// (in 110 with capped backoff, whose loop is slower), at least 6 so that
/// several clients loop whatever the fleet. By the rate limit most of the
/// cohort loops (about 100 requests a minute each, 45 capped) against
/// about 0.85 requests a minute per client of the fleet: the loop is a
/// fifth to a quarter of all traffic at its peak on large fleets (0.23 at
/// 1M lines, 0.20 at 3M), more on small ones (the floor), always above a
/// tenth. With `restart` a client loops for 2–7 minutes only, so about one
/// in eight of the cohort loops at any time: the cohort is eight times
/// larger.
fn small_cohort_size(fleet: usize, f: Flags) -> usize {
    let mut per = if f.capped { 110.0 } else { 250.0 };
    if f.restart {
        per /= 8.0;
    }
    ((fleet as f64 / per).round() as usize).max(6)
}

/// With `small-cohort` the service has four times the usual capacity: a
/// well-provisioned service the small loop never overloads.
const SMALL_COHORT_HEADROOM: f64 = 4.0;
/// With `small-cohort` the rate limit comes 65 minutes after the trigger
/// (not 45): by then every cohort client online has had its hourly token
/// expire, and the ten-minute rollout is over five minutes before
/// `outage-jitter`'s outage.
const SMALL_COHORT_NOTICE: Micros = 65 * MIN;

struct Sim<'w> {
    o: SimOptions,
    f: Flags,
    rng: ChaCha8Rng,
    clients: Vec<Client>,
    /// Clients of the fleet; decoy actors follow them in `clients`.
    fleet: usize,
    heap: BinaryHeap<Reverse<(Micros, usize, Action)>>,
    outs: Vec<&'w mut dyn Write>,
    lines: u64,
    corrupted: u64,
    health: u64,
    by_status: BTreeMap<u16, u64>,
    capacity: f64,
    sec: i64,
    sec_count: u64,
    last_load: f64,
    day: u32,
    plans: Vec<Plan>,
    path_buf: String,
    /// The `outage-jitter` outage (offsets from the last day's midnight).
    outage: Option<(Micros, Micros)>,
    node_rng: ChaCha8Rng,
    junk_rng: ChaCha8Rng,
    week_rng: ChaCha8Rng,
    decoy_rng: ChaCha8Rng,
    node_lines: Vec<u64>,
    health_rr: usize,
    junk_lines: u64,
    /// The last request line rendered.
    scratch: Vec<u8>,
    /// Whether the last emitted request was written (not corrupted).
    last_written: bool,
    tracker: Option<Tracker>,
    decoys: Vec<decoys::Decoy>,
}

impl<'w> Sim<'w> {
    /// `pilot`: a sizing run (no decoys, no truth).
    fn new(o: &SimOptions, fleet: usize, outs: Vec<&'w mut dyn Write>, pilot: bool) -> Self {
        let f = Flags::of(o);
        let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
        let plans = plans(o.scenario, f);
        let plan_of = |bug: Bug| plans.iter().position(|p| p.bug == bug);
        let mut clients = Vec::with_capacity(fleet);
        for i in 0..fleet {
            let kind = pick(
                &mut rng,
                &[
                    (Kind::Desktop, 0.55),
                    (Kind::Mobile, 0.30),
                    (Kind::Web, 0.15),
                ],
            );
            let mut android = false;
            let (version, ua) = match kind {
                Kind::Desktop => {
                    let v = pick(&mut rng, &DESKTOP_VERSIONS);
                    (v, format!("acme-desktop/{v} (Windows NT 10.0; Win64; x64)"))
                }
                Kind::Mobile => {
                    let v = pick(&mut rng, &MOBILE_VERSIONS);
                    let os = if rng.random_bool(0.5) {
                        "iOS 17.5"
                    } else {
                        android = true;
                        "Android 14"
                    };
                    (v, format!("acme-mobile/{v} ({os})"))
                }
                Kind::Web => (
                    "",
                    BROWSERS[rng.random_range(0..BROWSERS.len())].to_string(),
                ),
            };
            let has_bug = rng.random_bool(o.severity.share());
            let bug = match kind {
                Kind::Desktop if BUGGY_VERSIONS.contains(&version) && has_bug => {
                    plan_of(Bug::Expired).or_else(|| plan_of(Bug::Endpoints))
                }
                Kind::Mobile if version == BUGGY_MOBILE && has_bug => {
                    plan_of(Bug::Invalid).or_else(|| plan_of(Bug::Refresh).filter(|_| android))
                }
                _ => None,
            };
            let mut c = Client::new(i, kind, version, ua);
            c.bug = bug;
            c.android = android;
            c.app = match kind {
                Kind::Desktop => ua::DESKTOP_APP,
                Kind::Mobile => ua::SIMPLE_MOBILE_APP,
                Kind::Web => "",
            };
            clients.push(c);
        }
        if f.small {
            // A few clients of each cohort have the bug, whatever the severity.
            let mut pick_rng = rng_stream(o.seed, stream::SCENARIO);
            let k = small_cohort_size(fleet, f);
            for (p, plan) in plans.iter().enumerate() {
                let mut eligible: Vec<usize> = (0..fleet)
                    .filter(|&i| {
                        let c = &clients[i];
                        match plan.bug {
                            Bug::Expired | Bug::Endpoints => {
                                c.kind == Kind::Desktop && BUGGY_VERSIONS.contains(&c.version)
                            }
                            Bug::Refresh | Bug::Invalid => {
                                c.kind == Kind::Mobile && c.version == BUGGY_MOBILE && c.android
                            }
                        }
                    })
                    .collect();
                for j in 0..eligible.len() {
                    let r = pick_rng.random_range(j..eligible.len());
                    eligible.swap(j, r);
                }
                for (j, &i) in eligible.iter().enumerate() {
                    clients[i].bug = (j < k).then_some(p);
                }
            }
        }
        if o.ua == UaStyle::Real {
            let mut ua_rng = rng_stream(o.seed, stream::UA);
            for c in clients.iter_mut() {
                match c.kind {
                    Kind::Desktop => c.ua = ua::desktop(&mut ua_rng, c.version),
                    Kind::Mobile if c.android => {
                        c.ua = ua::android(&mut ua_rng, c.version);
                        c.app = ua::ANDROID_APP;
                    }
                    Kind::Mobile => {
                        c.ua = ua::ios(&mut ua_rng, c.version);
                        c.app = ua::IOS_APP;
                    }
                    Kind::Web => {}
                }
            }
        }
        // Capacity: comfortably above the normal peak (about half the
        // fleet active at once, one request a minute each, plus logins).
        let mut capacity = (fleet as f64 / 60.0 * 3.0).max(5.0);
        if f.small {
            capacity *= SMALL_COHORT_HEADROOM;
        }
        let outage = f.outage_jitter.then(|| {
            let mut r = rng_stream(o.seed, stream::SCENARIO);
            r.set_word_pos(1 << 20);
            let len = r.random_range(10 * MIN..=20 * MIN);
            (JITTER_OUTAGE_START, JITTER_OUTAGE_START + len)
        });
        let n_out = outs.len().max(1);
        let mut sim = Sim {
            o: o.clone(),
            f,
            rng,
            clients,
            fleet,
            heap: BinaryHeap::new(),
            outs,
            lines: 0,
            corrupted: 0,
            health: 0,
            by_status: BTreeMap::new(),
            capacity,
            sec: i64::MIN,
            sec_count: 0,
            last_load: 0.0,
            day: 0,
            plans,
            path_buf: String::new(),
            outage,
            node_rng: rng_stream(o.seed, stream::NODES),
            junk_rng: rng_stream(o.seed, stream::JUNK),
            week_rng: rng_stream(o.seed, stream::WEEKENDS),
            decoy_rng: rng_stream(o.seed, stream::DECOYS),
            node_lines: vec![0; n_out],
            health_rr: 0,
            junk_lines: 0,
            scratch: Vec::new(),
            last_written: false,
            tracker: None,
            decoys: Vec::new(),
        };
        if f.decoys && !pilot {
            sim.add_decoys();
        }
        if o.truth_v2() && !pilot {
            let told = sim.plans.iter().map(|p| p.bug.told()).collect();
            sim.tracker = Some(Tracker::new(sim.clients.len(), told, o.days));
        }
        sim
    }

    fn schedule(&mut self, t: Micros, c: usize, a: Action) {
        self.heap.push(Reverse((t, c, a)));
    }

    /// Schedules a client's next action. With the newer mechanics a client
    /// has one pending heartbeat, refresh and login: the latest wins.
    fn sched(&mut self, t: Micros, ci: usize, a: Action) {
        if self.f.fleet2 && ci < self.fleet {
            let c = &mut self.clients[ci];
            match a {
                Action::Heartbeat | Action::Profile => c.next_hb = t,
                Action::Refresh => c.next_refresh = t,
                Action::Login => c.next_login = t,
                _ => {}
            }
        }
        self.schedule(t, ci, a);
    }

    /// An event superseded by a later [`Sim::sched`] (newer mechanics only).
    fn stale(&self, t: Micros, ci: usize, a: Action) -> bool {
        let Some(c) = self.clients.get(ci).filter(|_| ci < self.fleet) else {
            return false;
        };
        match a {
            Action::Heartbeat | Action::Profile => c.next_hb != t,
            Action::Refresh => c.next_refresh != t,
            Action::Login => c.next_login != t,
            _ => false,
        }
    }

    fn day_start(&self) -> Micros {
        EPOCH_DAY0 + self.day as i64 * DAY
    }

    fn last_day(&self) -> bool {
        self.day + 1 == self.o.days
    }

    fn plan_day(&mut self) {
        let d0 = self.day_start();
        let quiet = self.o.quiet_weekends && self.day % 7 >= 5;
        for i in 0..self.fleet {
            // 70% log in around the 08:15 peak, the rest through the morning.
            let login = if self.rng.random_bool(0.7) {
                d0 + (8 * 60 + 15) * MIN + (normal(&mut self.rng) * 35.0 * MIN as f64) as i64
            } else {
                d0 + WINDOW_START
                    + self
                        .rng
                        .random_range(0..(WINDOW_END - WINDOW_START - 30 * MIN))
            };
            let login = login.clamp(d0 + WINDOW_START, d0 + WINDOW_END - MIN);
            let c = &mut self.clients[i];
            c.session_end = login + self.rng.random_range(2 * 60 * MIN..5 * 60 * MIN);
            c.looping = false;
            c.attempt = 0;
            c.loop_n = 0;
            c.sleep = 0;
            if quiet && !self.week_rng.random_bool(WEEKEND_SHARE) {
                continue;
            }
            self.sched(login, i, Action::Login);
        }
        let mut t = d0 + WINDOW_START;
        while t < d0 + WINDOW_END {
            self.schedule(t, usize::MAX, Action::Health);
            t += 10 * SEC;
        }
        self.plan_decoys();
    }

    fn run(&mut self) -> io::Result<()> {
        for day in 0..self.o.days {
            self.day = day;
            self.plan_day();
            let fleet_end = self.day_start() + WINDOW_END;
            // Decoys run all day; the fleet's day ends with the window.
            let end = if self.decoys.is_empty() {
                fleet_end
            } else {
                self.day_start() + DAY
            };
            while let Some(Reverse((t, c, a))) = self.heap.pop() {
                if t >= end {
                    break;
                }
                if t >= fleet_end && a != Action::Decoy {
                    continue;
                }
                self.step(t, c, a)?;
            }
            self.heap.clear();
        }
        Ok(())
    }

    fn overload(&self) -> f64 {
        (self.last_load / self.capacity).max(1.0)
    }

    /// Counts the request in its second's load.
    fn count_load(&mut self, t: Micros) {
        let sec = t.div_euclid(SEC);
        if sec != self.sec {
            self.last_load = if sec == self.sec + 1 {
                self.sec_count as f64
            } else {
                0.0
            };
            self.sec = sec;
            self.sec_count = 0;
        }
        self.sec_count += 1;
    }

    fn step(&mut self, t: Micros, ci: usize, a: Action) -> io::Result<()> {
        if self.f.fleet2 && self.stale(t, ci, a) {
            return Ok(());
        }
        if a == Action::Decoy {
            // Decoys are small against the service: they add no load.
            return self.decoy_step(t, ci);
        }
        self.count_load(t);
        if a == Action::Health {
            let lat = 0.001 + self.rng.random::<f64>() * 0.002;
            return self.emit(t, usize::MAX, "GET", "/healthz", 200, lat, "-");
        }
        let d0 = self.day_start();
        let last_day = self.last_day();
        let in_outage = last_day
            && ((self.o.scenario == Scenario::Outage
                && (d0 + OUTAGE_START..d0 + OUTAGE_END).contains(&t))
                || self
                    .outage
                    .is_some_and(|(s, e)| (d0 + s..d0 + e).contains(&t)));
        let f = self.overload();
        let base_lat = 0.015 + self.rng.random::<f64>() * 0.03;
        let lat = (base_lat * f * f).min(10.0);
        // Share of requests the saturated service fails.
        let shed = 1.0 - 1.0 / f;
        let c = &self.clients[ci];
        let (kind, looping, relies_on_401) = (c.kind, c.looping, c.relies_on_401);
        // (plan index, bug, trigger, mitigation) of this client's bug.
        let plan = c.bug.filter(|_| last_day).map(|p| {
            (
                p,
                self.plans[p].bug,
                self.plans[p].trigger,
                self.plans[p].mitigation,
            )
        });
        let expired = c.token_expires <= t;
        // After a key rotation, tokens issued before it are rejected.
        let invalid = last_day
            && self.plans.iter().any(|p| {
                p.bug == Bug::Invalid && t >= d0 + p.trigger && c.token_issued < d0 + p.trigger
            });
        // After a revocation, refresh tokens issued before it are rejected.
        let revoked = last_day
            && self.f.refresh
            && self.plans.iter().any(|p| {
                p.bug == Bug::Refresh && t >= d0 + p.trigger && c.refresh_issued < d0 + p.trigger
            });
        // The rate limit rolls out over ten minutes, client by client.
        let rollout = (ci as i64).wrapping_mul(7_919) % 600 * SEC;
        let rate_limited = plan.is_some_and(|(_, _, _, m)| t >= d0 + m + rollout);
        let loops_on = |bug: Bug| plan.is_some_and(|(_, b, tr, _)| b == bug && t >= d0 + tr);

        // A looping client of the newer mechanics loops on after the user
        // would have left.
        if t >= c.session_end && a != Action::Retry && !(self.f.fleet2 && looping) {
            return Ok(());
        }
        match a {
            Action::Login | Action::Refresh => {
                let refresh_loop = self.f.refresh && a == Action::Refresh && looping;
                let (status, l, err) = if in_outage {
                    (503, 0.002, "-")
                } else if rate_limited && ((a == Action::Login && looping) || refresh_loop) {
                    (429, 0.001, "-")
                } else if self.rng.random_bool(shed.min(0.95)) {
                    (499, 10.0, "-") // the login hangs until the client gives up
                } else if a == Action::Refresh && revoked {
                    (400, lat * 2.0, "invalid_grant")
                } else {
                    (200, lat * 3.0, "-")
                };
                self.emit(t, ci, "POST", "/oauth/token", status, l, err)?;
                if in_outage {
                    self.outage_written(t);
                }
                if status == 200 {
                    let c = &mut self.clients[ci];
                    c.token_expires = t + TOKEN_LIFETIME;
                    c.token_issued = t;
                    c.refresh_issued = t;
                    c.looping = false;
                    c.attempt = 0;
                    c.loop_n = 0;
                    c.sleep = 0;
                    let hb_alive = c.next_hb > t;
                    // Healthy clients refresh proactively; the buggy
                    // versions rely on the 401 instead.
                    let jitter = self.rng.random_range(0..60 * SEC);
                    if !relies_on_401 && kind != Kind::Web {
                        self.sched(t + TOKEN_LIFETIME - 5 * MIN + jitter, ci, Action::Refresh);
                    }
                    if !self.f.fleet2 || a == Action::Login || !hb_alive {
                        self.sched(t + 2 * SEC + jitter / 10, ci, Action::Heartbeat);
                    }
                } else if status == 400 {
                    if loops_on(Bug::Refresh) {
                        self.loop_next(t, ci, Action::Refresh);
                    } else {
                        // Well-behaved: the user signs in again.
                        let wait = self.rng.random_range(3 * SEC..15 * SEC);
                        self.sched(t + wait, ci, Action::Login);
                    }
                } else if refresh_loop && status == 429 {
                    self.limited(t, ci, Action::Refresh);
                } else if refresh_loop {
                    // The buggy loop resends whatever the failure.
                    self.loop_next(t, ci, Action::Refresh);
                } else {
                    self.backoff(t, ci, a)?;
                }
                Ok(())
            }
            Action::Heartbeat | Action::Profile | Action::Retry => {
                let is_profile = a == Action::Profile;
                if self.f.multi && a == Action::Heartbeat {
                    let e = pick(&mut self.rng, &BACKGROUND_IDX);
                    self.clients[ci].ep = e;
                }
                let ep = if self.f.multi {
                    BACKGROUND[self.clients[ci].ep].0
                } else {
                    "/v1/session"
                };
                if rate_limited && looping {
                    self.emit(t, ci, "GET", ep, 429, 0.001, "-")?;
                    if let Some((p, ..)) = plan {
                        self.plans[p].first_limit.get_or_insert(t);
                    }
                    self.limited(t, ci, Action::Retry);
                    return Ok(());
                }
                if in_outage {
                    self.emit(t, ci, "GET", ep, 503, 0.002, "-")?;
                    self.outage_written(t);
                    return self.backoff(t, ci, a);
                }
                if invalid || expired {
                    let (err, bug) = if invalid {
                        ("invalid_token", Bug::Invalid)
                    } else {
                        ("token_expired", Bug::Expired)
                    };
                    self.emit(t, ci, "GET", ep, 401, 0.004, err)?;
                    if loops_on(bug) || (!invalid && loops_on(Bug::Endpoints)) {
                        let version = self.clients[ci].version;
                        let p = &mut self.plans[plan.map(|(p, ..)| p).unwrap_or(0)];
                        p.first_loop.get_or_insert(t);
                        *p.looped.entry(version).or_default() += 1;
                        *p.loop_minutes.entry(t.div_euclid(MIN)).or_default() += 1;
                        self.loop_next(t, ci, Action::Retry);
                    } else if invalid {
                        // Well-behaved: sign in again, then carry on.
                        self.sched(t + 300_000, ci, Action::Login);
                    } else {
                        // Well-behaved: refresh, then resend once.
                        self.sched(t + 200_000, ci, Action::Refresh);
                    }
                    return Ok(());
                }
                if self.rng.random_bool((shed * 0.5).min(0.9)) {
                    self.emit(t, ci, "GET", ep, 503, lat, "-")?;
                    return self.backoff(t, ci, a);
                }
                if is_profile {
                    let uid = 10_000 + ci;
                    self.path_buf = format!("/v1/users/{uid}/profile");
                    let p = std::mem::take(&mut self.path_buf);
                    self.emit(t, ci, "GET", &p, 200, lat, "-")?;
                    self.path_buf = p;
                } else {
                    self.emit(t, ci, "GET", ep, 200, lat, "-")?;
                }
                self.clients[ci].attempt = 0;
                self.clients[ci].sleep = 0;
                let next = HEARTBEAT / 2 + self.rng.random_range(0..HEARTBEAT);
                let act = if self.rng.random_bool(0.1) {
                    Action::Profile
                } else {
                    Action::Heartbeat
                };
                self.sched(t + next, ci, act);
                Ok(())
            }
            Action::Health | Action::Decoy => unreachable!("handled above"),
        }
    }

    /// The buggy client's next resend of its loop (`a`: `Retry`, or
    /// `Refresh` for the refresh loop), or its restart.
    fn loop_next(&mut self, t: Micros, ci: usize, a: Action) {
        let restart = self.f.restart;
        let c = &mut self.clients[ci];
        if !c.looping {
            c.looping = true;
            c.attempt = 0;
            c.loop_n = 0;
            if a == Action::Refresh {
                // The app holds its calls while it tries to refresh.
                c.next_hb = 0;
            }
            if restart {
                c.loop_until = t + self.rng.random_range(2 * MIN..7 * MIN);
            }
        }
        let c = &mut self.clients[ci];
        if restart && t >= c.loop_until {
            // The user restarts the app: the loop ends, a login follows.
            c.looping = false;
            c.loop_n = 0;
            let wait = self.rng.random_range(5 * SEC..20 * SEC);
            self.sched(t + wait, ci, Action::Login);
            return;
        }
        c.loop_n += 1;
        let gap = if self.f.capped {
            match c.loop_n {
                1 => 500_000,
                2 => SEC,
                _ => self.rng.random_range(SEC..=2 * SEC),
            }
        } else {
            self.rng.random_range(300_000..900_000)
        };
        if self.f.multi && a == Action::Retry {
            // The next failing background call: never the same twice.
            let c = &mut self.clients[ci];
            c.ep = (c.ep + 1) % BACKGROUND.len();
        }
        self.sched(t + gap, ci, a);
    }

    /// A looping client was answered 429: it retries on a fixed 5 s gap a
    /// few times (six historically, four with the newer mechanics), then
    /// surfaces an error; the user signs in later.
    fn limited(&mut self, t: Micros, ci: usize, a: Action) {
        let tries = if self.f.fleet2 { 4 } else { 6 };
        let multi = self.f.multi && a == Action::Retry;
        let c = &mut self.clients[ci];
        c.attempt += 1;
        if c.attempt < tries {
            if multi {
                c.ep = (c.ep + 1) % BACKGROUND.len();
            }
            self.sched(t + 5 * SEC, ci, a);
        } else {
            c.looping = false;
            c.attempt = 0;
            let back = self.rng.random_range(5 * MIN..20 * MIN);
            self.sched(t + back, ci, Action::Login);
        }
    }

    /// Exponential backoff with equal jitter (1 s base, 60 s cap), as
    /// well-behaved clients do on 5xx and timeouts. With `outage-jitter`,
    /// desktop and web clients use full jitter, mobile clients
    /// decorrelated jitter.
    fn backoff(&mut self, t: Micros, ci: usize, a: Action) -> io::Result<()> {
        let c = &mut self.clients[ci];
        c.attempt += 1;
        let wait = if !self.f.outage_jitter {
            let cap = (SEC << c.attempt.min(6)).min(60 * SEC);
            cap / 2 + self.rng.random_range(0..cap / 2 + 1)
        } else if c.kind == Kind::Mobile {
            // sleep = min(cap, random(base, 3 · sleep)), base 1 s, cap 60 s.
            let hi = (c.sleep.max(SEC) * 3).min(60 * SEC);
            c.sleep = self.rng.random_range(SEC..=hi);
            c.sleep
        } else {
            // random(0, min(cap, base · 2^n)), base 0.5 s, cap 30 s.
            let hi = (500_000 << c.attempt.min(10)).min(30 * SEC);
            self.rng.random_range(1_000..=hi)
        };
        let next = if a == Action::Login || a == Action::Refresh {
            a
        } else {
            Action::Retry
        };
        self.sched(t + wait, ci, next);
        Ok(())
    }

    /// An outage 503 was emitted: the truth notes it if it was written.
    fn outage_written(&mut self, t: Micros) {
        if self.last_written
            && let Some(tr) = self.tracker.as_mut()
        {
            tr.outage_503(t);
        }
    }

    /// The node of a client's request: its keep-alive connection's, a new
    /// one (a random node) after 75 s idle or 20–100 requests.
    fn node_for(&mut self, ci: usize, t: Micros) -> usize {
        let n = self.outs.len();
        if n <= 1 {
            return 0;
        }
        if ci == usize::MAX {
            self.health_rr += 1;
            return self.health_rr % n;
        }
        let c = &mut self.clients[ci];
        if c.conn_left == 0 || t > c.conn_idle {
            c.conn_node = self.node_rng.random_range(0..n) as u8;
            c.conn_left = self.node_rng.random_range(20..=100);
        }
        c.conn_left -= 1;
        c.conn_idle = t + 75 * SEC;
        c.conn_node as usize
    }

    fn maybe_junk(&mut self, node: usize) -> io::Result<()> {
        if self.o.junk <= 0.0 {
            return Ok(());
        }
        let p = (self.o.junk / (1.0 - self.o.junk)).min(1.0);
        if self.junk_rng.random_bool(p) {
            render::junk_line(
                &mut self.junk_rng,
                self.o.format,
                &self.scratch,
                &mut *self.outs[node],
            )?;
            self.junk_lines += 1;
            self.node_lines[node] += 1;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        t: Micros,
        ci: usize,
        method: &str,
        path: &str,
        status: u16,
        latency_s: f64,
        auth_error: &str,
    ) -> io::Result<()> {
        self.lines += 1;
        *self.by_status.entry(status).or_default() += 1;
        self.last_written = false;
        if self.outs.is_empty() {
            return Ok(());
        }
        let node = self.node_for(ci, t);
        if self.o.corrupt > 0.0 && self.rng.random_bool(self.o.corrupt) {
            self.corrupted += 1;
            *self.by_status.entry(status).or_default() -= 1;
            self.node_lines[node] += 1;
            render::corrupt_line(&mut self.rng, &mut *self.outs[node])?;
            return self.maybe_junk(node);
        }
        let req = if ci == usize::MAX {
            self.health += 1;
            Req {
                ts: t,
                ip: "10.0.0.2",
                method,
                path,
                status,
                bytes: 2,
                ua: "ELB-HealthChecker/2.0",
                latency_s,
                user: "-",
                device: "-",
                auth_error,
            }
        } else {
            let c = &self.clients[ci];
            let bytes = match status {
                200 => 180 + (ci % 40) as u32,
                _ => 53,
            };
            Req {
                ts: t,
                ip: &c.ip,
                method,
                path,
                status,
                bytes,
                ua: &c.ua,
                latency_s,
                user: &c.user,
                device: &c.device,
                auth_error,
            }
        };
        if self.o.junk > 0.0 {
            // Kept for a truncated copy.
            self.scratch.clear();
            render::write(self.o.format, self.o.tz.as_ref(), &req, &mut self.scratch)?;
            self.outs[node].write_all(&self.scratch)?;
        } else {
            // Straight into the writer, in the pieces the historical
            // output was written in: gzip's bytes depend on them.
            render::write(
                self.o.format,
                self.o.tz.as_ref(),
                &req,
                &mut *self.outs[node],
            )?;
        }
        self.node_lines[node] += 1;
        self.last_written = true;
        if let Some(tr) = self.tracker.as_mut() {
            match self.clients.get(ci) {
                Some(c) => {
                    let who = Who {
                        plan: c.bug,
                        version: c.version,
                        app: c.app,
                    };
                    tr.observe(ci, who, t, method, path, status, auth_error);
                }
                None => tr.count(t),
            }
        }
        if ci != usize::MAX && ci >= self.fleet {
            self.decoys[ci - self.fleet].written(t);
        }
        self.maybe_junk(node)
    }
}

/// [`BACKGROUND`] as weighted indices.
const BACKGROUND_IDX: [(usize, f64); 6] = [
    (0, BACKGROUND[0].1),
    (1, BACKGROUND[1].1),
    (2, BACKGROUND[2].1),
    (3, BACKGROUND[3].1),
    (4, BACKGROUND[4].1),
    (5, BACKGROUND[5].1),
];

/// Fleet size that produces about `lines` lines (decoys apart): a pilot
/// run on a small fleet measures lines per client for these options.
fn fleet_for(o: &SimOptions) -> usize {
    const PILOT: usize = 300;
    let mut sim = Sim::new(o, PILOT, Vec::new(), true);
    let _ = sim.run();
    let per_client = (sim.lines as f64 / PILOT as f64).max(1.0);
    let mut lines = o.lines as f64;
    let f = Flags::of(o);
    if f.decoys {
        lines = (lines - decoys::expected_lines(o.days) as f64).max(lines / 4.0);
    }
    let fleet = ((lines / per_client).round() as usize).max(20);
    if !f.small {
        return fleet;
    }
    // The pilot's small cohort is its floor, far more than one client in
    // 250 of a large fleet: measure again at the estimated size.
    let mut sim = Sim::new(o, fleet, Vec::new(), true);
    let _ = sim.run();
    let per_client = (sim.lines as f64 / fleet as f64).max(1.0);
    ((lines / per_client).round() as usize).max(20)
}

pub fn simulate(o: &SimOptions, out: &mut dyn Write) -> io::Result<Truth> {
    simulate_nodes(o, &mut [out])
}

/// Simulates into one output per load-balancer node (`o.nodes` of them).
pub fn simulate_nodes(o: &SimOptions, outs: &mut [&mut dyn Write]) -> io::Result<Truth> {
    if outs.len() != o.nodes.max(1) as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} outputs for {} nodes", outs.len(), o.nodes),
        ));
    }
    let fleet = fleet_for(o);
    let writers: Vec<&mut dyn Write> = outs
        .iter_mut()
        .map(|w| &mut **w as &mut dyn Write)
        .collect();
    let mut sim = Sim::new(o, fleet, writers, false);
    sim.run()?;
    for w in sim.outs.iter_mut() {
        w.flush()?;
    }
    let d0 = EPOCH_DAY0 + (o.days as i64 - 1) * DAY;
    let mut episodes = Vec::new();
    match o.scenario {
        Scenario::Storm | Scenario::Rotation | Scenario::TwoStorms => {
            for p in &sim.plans {
                let peak_n = p.loop_minutes.values().copied().max().unwrap_or(0);
                let peak = p
                    .loop_minutes
                    .iter()
                    .find(|(_, n)| **n == peak_n)
                    .map(|(m, _)| rfc3339(m * MIN));
                // The storm is over once loop traffic stays under a tenth of
                // its peak; stray single 401s later are not the storm.
                let end = p
                    .loop_minutes
                    .iter()
                    .filter(|(_, n)| **n * 10 >= peak_n)
                    .map(|(m, _)| (m + 1) * MIN)
                    .max();
                let (app, token_state) = match p.bug {
                    Bug::Expired | Bug::Endpoints => ("acme-desktop", "expired"),
                    Bug::Invalid | Bug::Refresh => ("acme-mobile", "invalid"),
                };
                // Versions that looped for real: a minute of looping or more.
                let mut versions: Vec<String> = p
                    .looped
                    .iter()
                    .filter(|(_, n)| **n >= 60)
                    .map(|(v, _)| v.to_string())
                    .collect();
                versions
                    .sort_by(|a, b| crate::classify::Version(a).cmp(&crate::classify::Version(b)));
                if versions.is_empty() {
                    continue; // the bug never took hold: no storm in this log
                }
                episodes.push(TruthEpisode {
                    kind: "storm".into(),
                    start: rfc3339(p.first_loop.unwrap_or(d0 + p.trigger)),
                    peak,
                    // What the logs can show: the first 429 to the cohort.
                    mitigation: Some(rfc3339(p.first_limit.unwrap_or(d0 + p.mitigation))),
                    end: rfc3339(end.unwrap_or(d0 + p.mitigation)),
                    culprit: Some(TruthCulprit {
                        app: app.into(),
                        versions,
                        token_state: token_state.into(),
                        endpoint: Some("GET /v1/session".into()),
                        looping_clients: None,
                        loop_requests: None,
                        cohort_clients: None,
                    }),
                    trigger: None,
                    peak_loop_requests: None,
                    peak_loop_share: None,
                });
            }
        }
        Scenario::Outage => episodes.push(TruthEpisode {
            kind: "outage".into(),
            start: rfc3339(d0 + OUTAGE_START),
            peak: None,
            mitigation: None,
            end: rfc3339(d0 + OUTAGE_END),
            culprit: None,
            trigger: None,
            peak_loop_requests: None,
            peak_loop_share: None,
        }),
        _ => {}
    }
    let mut truth = Truth {
        truth_version: None,
        scenario: o.scenario,
        behaviours: None,
        seed: o.seed,
        days: o.days,
        clients: fleet,
        lines: sim.lines,
        corrupted: sim.corrupted,
        health_checks: sim.health,
        by_status: std::mem::take(&mut sim.by_status),
        episodes,
        format: None,
        visible_token_state: None,
        visible_user_agent: None,
        user_agents: None,
        tz: None,
        quiet_weekends: None,
        junk_lines: None,
        nodes: None,
        other_looping_clients: None,
        decoys: None,
    };
    if let Some(tr) = sim.tracker.take() {
        sim.truth_v2(&tr, d0, &mut truth);
    }
    Ok(truth)
}

impl Sim<'_> {
    /// Replaces the episodes with contract-2 ones and fills its fields.
    fn truth_v2(&self, tr: &Tracker, d0: Micros, truth: &mut Truth) {
        let o = &self.o;
        let mut episodes = Vec::new();
        for (p, (plan, s)) in self.plans.iter().zip(&tr.storms).enumerate() {
            // One client is never a storm; nor is a loop nobody kept up.
            if s.clients < 2 || s.versions.is_empty() {
                continue;
            }
            let peak_n = s.minutes.values().copied().max().unwrap_or(0);
            let peak_m = s
                .minutes
                .iter()
                .find(|(_, n)| **n == peak_n)
                .map(|(m, _)| *m)
                .unwrap_or(0);
            let end_m = s
                .minutes
                .iter()
                .filter(|(_, n)| **n * 10 >= peak_n)
                .map(|(m, _)| *m)
                .max()
                .unwrap_or(peak_m);
            let mut versions: Vec<String> = s.versions.iter().map(|v| v.to_string()).collect();
            versions.sort_by(|a, b| crate::classify::Version(a).cmp(&crate::classify::Version(b)));
            let app = s
                .apps
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(a, _)| a.to_string())
                .unwrap_or_default();
            let token_state = s
                .told
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(k, _)| k.to_string())
                .unwrap_or_else(|| plan.bug.told().name().to_string());
            let total = tr.total_in(peak_m).max(1);
            episodes.push(TruthEpisode {
                kind: "storm".into(),
                start: rfc3339_ms(s.first_repeat.unwrap_or(d0 + plan.trigger)),
                peak: Some(rfc3339_ms(peak_m * MIN)),
                mitigation: s.first_limit.map(rfc3339_ms),
                end: rfc3339_ms((end_m + 1) * MIN),
                culprit: Some(TruthCulprit {
                    app,
                    versions,
                    token_state,
                    endpoint: s.endpoint(&tr.names),
                    looping_clients: Some(s.clients),
                    loop_requests: Some(s.loop_requests),
                    cohort_clients: Some(
                        self.clients[..self.fleet]
                            .iter()
                            .filter(|c| c.bug == Some(p))
                            .count() as u64,
                    ),
                }),
                trigger: Some(rfc3339_ms(d0 + plan.trigger)),
                peak_loop_requests: Some(peak_n),
                peak_loop_share: Some((peak_n as f64 / total as f64 * 1000.0).round() / 1000.0),
            });
        }
        if let (Some(first), Some(last)) = (tr.outage_first, tr.outage_last) {
            episodes.push(TruthEpisode {
                kind: "outage".into(),
                start: rfc3339_ms(first),
                peak: None,
                mitigation: None,
                end: rfc3339_ms(last),
                culprit: None,
                trigger: None,
                peak_loop_requests: None,
                peak_loop_share: None,
            });
        }
        episodes.sort_by(|a, b| a.start.cmp(&b.start));
        truth.truth_version = Some(2);
        truth.episodes = episodes;
        let b = o.active_behaviours();
        truth.behaviours = (!b.is_empty()).then_some(b);
        truth.format = Some(o.format.name().into());
        truth.visible_token_state = Some(o.format.shows_token_state());
        truth.visible_user_agent = Some(o.format.shows_token_state());
        truth.user_agents = Some(o.ua);
        truth.tz = Some(o.tz.as_ref().map_or("UTC".into(), |z| z.name()));
        truth.quiet_weekends = Some(o.quiet_weekends);
        truth.junk_lines = Some(self.junk_lines);
        truth.nodes = (self.node_lines.len() > 1).then(|| {
            self.node_lines
                .iter()
                .enumerate()
                .map(|(i, n)| TruthNode {
                    node: i as u8 + 1,
                    lines: *n,
                })
                .collect()
        });
        truth.other_looping_clients = Some(tr.other_looping_clients);
        truth.decoys = (!self.decoys.is_empty()).then(|| {
            self.decoys
                .iter()
                .map(|d| {
                    let c = &self.clients[d.ci];
                    TruthDecoy {
                        kind: d.kind,
                        ip: c.ip.clone(),
                        user_agent: c.ua.clone(),
                        first: d.first.map(rfc3339_ms).unwrap_or_default(),
                        last: rfc3339_ms(d.last),
                        requests: d.requests,
                    }
                })
                .collect()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(o: &SimOptions) -> (Vec<u8>, Truth) {
        let mut buf = Vec::new();
        let t = simulate(o, &mut buf).unwrap();
        (buf, t)
    }

    #[test]
    fn deterministic_and_sized() {
        let o = SimOptions {
            lines: 20_000,
            ..Default::default()
        };
        let (a, ta) = run(&o);
        let (b, _) = run(&o);
        assert_eq!(a, b);
        let n = a.iter().filter(|c| **c == b'\n').count() as u64;
        assert_eq!(n, ta.lines);
        assert!((10_000..40_000).contains(&n), "{n} lines for 20k asked");
        assert_eq!(ta.episodes.len(), 1);
        let (c, _) = run(&SimOptions { seed: 2, ..o });
        assert_ne!(a, c);
    }

    #[test]
    fn storm_has_loops_and_429s() {
        let (_, t) = run(&SimOptions {
            lines: 30_000,
            ..Default::default()
        });
        assert!(t.by_status.get(&429).copied().unwrap_or(0) > 0);
        assert!(t.by_status.get(&401).copied().unwrap_or(0) > 1000);
        let e = &t.episodes[0];
        assert!(
            e.start.as_str() >= "2026-03-02T08:40:00Z" && e.start.as_str() < "2026-03-02T08:50:00Z",
            "{}",
            e.start
        );
        assert!(
            e.end.as_str() > "2026-03-02T09:27:00Z" && e.end.as_str() < "2026-03-02T09:45:00Z",
            "{}",
            e.end
        );
    }

    #[test]
    fn normal_has_no_loops() {
        let (_, t) = run(&SimOptions {
            scenario: Scenario::Normal,
            lines: 10_000,
            ..Default::default()
        });
        assert!(t.episodes.is_empty());
        assert_eq!(t.by_status.get(&429), None);
    }
}

#[cfg(test)]
mod behaviour_tests;
