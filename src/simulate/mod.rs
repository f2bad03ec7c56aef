//! Synthetic auth-service access logs with ground truth, for demos, tests
//! and benchmarks. A discrete-event simulation of a client fleet (desktop,
//! mobile, web; several versions) with hourly access tokens, a business-hours
//! day with a morning login peak, a service with finite capacity, and three
//! scenarios:
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
//! `--severity` sets how much of the buggy versions' fleet has the bug.
//!
//! Seeded and deterministic: the same options give the same bytes.

mod render;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::time::{MICROS_PER_SEC, Micros, rfc3339};

pub use render::SimFormat;

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
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthCulprit {
    pub app: String,
    pub versions: Vec<String>,
    pub token_state: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthEpisode {
    pub kind: String,
    pub start: String,
    pub peak: Option<String>,
    pub mitigation: Option<String>,
    pub end: String,
    pub culprit: Option<TruthCulprit>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Truth {
    pub scenario: Scenario,
    pub seed: u64,
    pub days: u32,
    pub clients: usize,
    pub lines: u64,
    pub corrupted: u64,
    pub health_checks: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub episodes: Vec<TruthEpisode>,
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

pub const BUGGY_VERSIONS: [&str; 4] = ["4.2.0", "4.2.1", "4.2.2", "4.2.3"];
/// The mobile version that loops on an invalid-token 401.
pub const BUGGY_MOBILE: &str = "5.0.1";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bug {
    /// Resends the same request with the same expired token.
    Expired,
    /// Resends the same request with a token the server no longer accepts.
    Invalid,
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

fn plans(s: Scenario) -> Vec<Plan> {
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
    /// Index of the storm plan whose bug this client has.
    bug: Option<usize>,
    token_expires: Micros,
    token_issued: Micros,
    /// Tight-loop state (storm scenario).
    looping: bool,
    /// Retry attempt within an outage backoff.
    attempt: u32,
    session_end: Micros,
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

struct Sim<'w> {
    o: SimOptions,
    rng: ChaCha8Rng,
    clients: Vec<Client>,
    heap: BinaryHeap<Reverse<(Micros, usize, Action)>>,
    out: Option<&'w mut dyn Write>,
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
}

impl<'w> Sim<'w> {
    fn new(o: &SimOptions, fleet: usize, out: Option<&'w mut dyn Write>) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
        let plans = plans(o.scenario);
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
                    plan_of(Bug::Expired)
                }
                Kind::Mobile if version == BUGGY_MOBILE && has_bug => plan_of(Bug::Invalid),
                _ => None,
            };
            clients.push(Client {
                kind,
                // The 4.2 desktop line never refreshes proactively, bug or not.
                relies_on_401: kind == Kind::Desktop && BUGGY_VERSIONS.contains(&version),
                version,
                bug,
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
                looping: false,
                attempt: 0,
                session_end: 0,
            });
        }
        // Capacity: comfortably above the normal peak (about half the
        // fleet active at once, one request a minute each, plus logins).
        let capacity = (fleet as f64 / 60.0 * 3.0).max(5.0);
        Sim {
            o: o.clone(),
            rng,
            clients,
            heap: BinaryHeap::new(),
            out,
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
        }
    }

    fn schedule(&mut self, t: Micros, c: usize, a: Action) {
        self.heap.push(Reverse((t, c, a)));
    }

    fn day_start(&self) -> Micros {
        EPOCH_DAY0 + self.day as i64 * DAY
    }

    fn last_day(&self) -> bool {
        self.day + 1 == self.o.days
    }

    fn plan_day(&mut self) {
        let d0 = self.day_start();
        for i in 0..self.clients.len() {
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
            self.schedule(login, i, Action::Login);
        }
        let mut t = d0 + WINDOW_START;
        while t < d0 + WINDOW_END {
            self.schedule(t, usize::MAX, Action::Health);
            t += 10 * SEC;
        }
    }

    fn run(&mut self) -> io::Result<()> {
        for day in 0..self.o.days {
            self.day = day;
            self.plan_day();
            let end = self.day_start() + WINDOW_END;
            while let Some(Reverse((t, c, a))) = self.heap.pop() {
                if t >= end {
                    break;
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

    fn step(&mut self, t: Micros, ci: usize, a: Action) -> io::Result<()> {
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
        if a == Action::Health {
            let lat = 0.001 + self.rng.random::<f64>() * 0.002;
            return self.emit(t, usize::MAX, "GET", "/healthz", 200, lat, "-");
        }
        let d0 = self.day_start();
        let last_day = self.last_day();
        let in_outage = self.o.scenario == Scenario::Outage
            && self.last_day()
            && (d0 + OUTAGE_START..d0 + OUTAGE_END).contains(&t);
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
        // The rate limit rolls out over ten minutes, client by client.
        let rollout = (ci as i64).wrapping_mul(7_919) % 600 * SEC;
        let rate_limited = plan.is_some_and(|(_, _, _, m)| t >= d0 + m + rollout);
        let loops_on = |bug: Bug| plan.is_some_and(|(_, b, tr, _)| b == bug && t >= d0 + tr);

        if t >= c.session_end && a != Action::Retry {
            return Ok(());
        }
        match a {
            Action::Login | Action::Refresh => {
                let (status, l) = if in_outage {
                    (503, 0.002)
                } else if rate_limited && a == Action::Login && looping {
                    (429, 0.001)
                } else if self.rng.random_bool(shed.min(0.95)) {
                    (499, 10.0) // the login hangs until the client gives up
                } else {
                    (200, lat * 3.0)
                };
                self.emit(t, ci, "POST", "/oauth/token", status, l, "-")?;
                if status == 200 {
                    let c = &mut self.clients[ci];
                    c.token_expires = t + TOKEN_LIFETIME;
                    c.token_issued = t;
                    c.looping = false;
                    c.attempt = 0;
                    // Healthy clients refresh proactively; the buggy
                    // versions rely on the 401 instead.
                    let jitter = self.rng.random_range(0..60 * SEC);
                    if !relies_on_401 && kind != Kind::Web {
                        self.schedule(t + TOKEN_LIFETIME - 5 * MIN + jitter, ci, Action::Refresh);
                    }
                    self.schedule(t + 2 * SEC + jitter / 10, ci, Action::Heartbeat);
                } else {
                    self.backoff(t, ci, a)?;
                }
                Ok(())
            }
            Action::Heartbeat | Action::Profile | Action::Retry => {
                let is_profile = a == Action::Profile;
                if rate_limited && looping {
                    self.emit(t, ci, "GET", "/v1/session", 429, 0.001, "-")?;
                    if let Some((p, ..)) = plan {
                        self.plans[p].first_limit.get_or_insert(t);
                    }
                    // The buggy client retries 429s on a fixed 5 s gap a few
                    // times, then surfaces an error; the user signs in later.
                    let c = &mut self.clients[ci];
                    c.attempt += 1;
                    if c.attempt < 6 {
                        self.schedule(t + 5 * SEC, ci, Action::Retry);
                    } else {
                        c.looping = false;
                        c.attempt = 0;
                        let back = self.rng.random_range(5 * MIN..20 * MIN);
                        self.schedule(t + back, ci, Action::Login);
                    }
                    return Ok(());
                }
                if in_outage {
                    self.emit(t, ci, "GET", "/v1/session", 503, 0.002, "-")?;
                    return self.backoff(t, ci, a);
                }
                if invalid || expired {
                    let (err, bug) = if invalid {
                        ("invalid_token", Bug::Invalid)
                    } else {
                        ("token_expired", Bug::Expired)
                    };
                    self.emit(t, ci, "GET", "/v1/session", 401, 0.004, err)?;
                    if loops_on(bug) {
                        let c = &mut self.clients[ci];
                        if !c.looping {
                            c.looping = true;
                            c.attempt = 0;
                        }
                        let version = self.clients[ci].version;
                        let p = &mut self.plans[plan.map(|(p, ..)| p).unwrap_or(0)];
                        p.first_loop.get_or_insert(t);
                        *p.looped.entry(version).or_default() += 1;
                        *p.loop_minutes.entry(t.div_euclid(MIN)).or_default() += 1;
                        let gap = self.rng.random_range(300_000..900_000);
                        self.schedule(t + gap, ci, Action::Retry);
                    } else if invalid {
                        // Well-behaved: sign in again, then carry on.
                        self.schedule(t + 300_000, ci, Action::Login);
                    } else {
                        // Well-behaved: refresh, then resend once.
                        self.schedule(t + 200_000, ci, Action::Refresh);
                    }
                    return Ok(());
                }
                if self.rng.random_bool((shed * 0.5).min(0.9)) {
                    self.emit(t, ci, "GET", "/v1/session", 503, lat, "-")?;
                    return self.backoff(t, ci, a);
                }
                if is_profile {
                    let uid = 10_000 + ci;
                    self.path_buf = format!("/v1/users/{uid}/profile");
                    let p = std::mem::take(&mut self.path_buf);
                    self.emit(t, ci, "GET", &p, 200, lat, "-")?;
                    self.path_buf = p;
                } else {
                    self.emit(t, ci, "GET", "/v1/session", 200, lat, "-")?;
                }
                self.clients[ci].attempt = 0;
                let next = HEARTBEAT / 2 + self.rng.random_range(0..HEARTBEAT);
                let act = if self.rng.random_bool(0.1) {
                    Action::Profile
                } else {
                    Action::Heartbeat
                };
                self.schedule(t + next, ci, act);
                Ok(())
            }
            Action::Health => unreachable!("handled above"),
        }
    }

    /// Exponential backoff with full jitter (1 s base, 60 s cap), as
    /// well-behaved clients do on 5xx and timeouts.
    fn backoff(&mut self, t: Micros, ci: usize, a: Action) -> io::Result<()> {
        let c = &mut self.clients[ci];
        c.attempt += 1;
        let cap = (SEC << c.attempt.min(6)).min(60 * SEC);
        let wait = cap / 2 + self.rng.random_range(0..cap / 2 + 1);
        let next = if a == Action::Login || a == Action::Refresh {
            a
        } else {
            Action::Retry
        };
        self.schedule(t + wait, ci, next);
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
        let Some(out) = self.out.as_deref_mut() else {
            return Ok(());
        };
        if self.o.corrupt > 0.0 && self.rng.random_bool(self.o.corrupt) {
            self.corrupted += 1;
            *self.by_status.entry(status).or_default() -= 1;
            return render::corrupt_line(&mut self.rng, out);
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
        render::write(self.o.format, &req, out)
    }
}

/// Fleet size that produces about `lines` lines: a pilot run on a small
/// fleet measures lines per client for these options.
fn fleet_for(o: &SimOptions) -> usize {
    const PILOT: usize = 300;
    let mut sim = Sim::new(o, PILOT, None);
    let _ = sim.run();
    let per_client = (sim.lines as f64 / PILOT as f64).max(1.0);
    ((o.lines as f64 / per_client).round() as usize).max(20)
}

pub fn simulate(o: &SimOptions, out: &mut dyn Write) -> io::Result<Truth> {
    let fleet = fleet_for(o);
    let mut sim = Sim::new(o, fleet, Some(out));
    sim.run()?;
    if let Some(w) = sim.out.as_deref_mut() {
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
                    Bug::Expired => ("acme-desktop", "expired"),
                    Bug::Invalid => ("acme-mobile", "invalid"),
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
                        endpoint: "GET /v1/session".into(),
                    }),
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
        }),
        Scenario::Normal => {}
    }
    Ok(Truth {
        scenario: o.scenario,
        seed: o.seed,
        days: o.days,
        clients: fleet,
        lines: sim.lines,
        corrupted: sim.corrupted,
        health_checks: sim.health,
        by_status: sim.by_status,
        episodes,
    })
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
