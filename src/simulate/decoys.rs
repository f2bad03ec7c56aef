//! Traffic that looks alarming and is no incident (`decoys`). None of it
//! is an episode in the truth; the truth lists each decoy with its first
//! and last request.
//!
//! - `uptime-monitor`: one client every 30 s, all day, every day:
//!   `GET /v1/me` with a token that expired long ago, always 401
//!   `token_expired`.
//! - `scanner`: one IP probing 420 distinct paths, all 404, in about
//!   three and a half minutes (from 10:12 on the last day).
//! - `scripted-burst`: one user's script, 3000 successful
//!   `GET /v1/contacts?page=N` in two minutes (from 11:20 on the last day).
//! - `nightly-batch`: one client, about 2400 successful profile reads from
//!   02:00 to 02:20, every day.
//! - `stuck-client`: one desktop 4.2.1 client whose token expires at about
//!   11:09 on the last day and that resends `GET /v1/session` every
//!   0.3–0.9 s for half an hour, then restarts and signs in: one client
//!   looping is never a storm.
//!
//! Decoys use a random stream of their own and add no load to the
//! service (they are small against its capacity): no decoy makes the
//! fleet's requests fail.

use std::io;

use rand::RngExt;
use serde::Serialize;

use super::{Client, DAY, Kind, MIN, SEC, Sim, TOKEN_LIFETIME, UaStyle, ua};
use crate::time::Micros;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecoyKind {
    UptimeMonitor,
    Scanner,
    ScriptedBurst,
    NightlyBatch,
    StuckClient,
}

const MONITOR_EVERY: Micros = 30 * SEC;
const BATCH_START: Micros = 2 * 60 * MIN;
const BATCH_LEN: Micros = 20 * MIN;
const SCANNER_START: Micros = (10 * 60 + 12) * MIN;
const BURST_START: Micros = (11 * 60 + 20) * MIN;
const BURST_REQUESTS: u32 = 3000;
const BURST_LEN: Micros = 120 * SEC;
const STUCK_LOGIN: Micros = (10 * 60 + 9) * MIN;
const STUCK_LOOP: Micros = 30 * MIN;
const STUCK_END: Micros = (11 * 60 + 55) * MIN;

const PROBES: [&str; 42] = [
    ".env",
    ".git/config",
    ".git/HEAD",
    ".svn/entries",
    ".DS_Store",
    "wp-login.php",
    "wp-admin/setup-config.php",
    "xmlrpc.php",
    "phpmyadmin/index.php",
    "pma/index.php",
    "admin/login",
    "administrator/index.php",
    "server-status",
    "actuator/env",
    "actuator/health",
    "actuator/heapdump",
    "config.json",
    "config.yml",
    "backup.zip",
    "backup.sql",
    "db.sql",
    "dump.sql.gz",
    "id_rsa",
    "web.config",
    "cgi-bin/test.cgi",
    "console",
    "solr/admin/info/system",
    "jenkins/login",
    "manager/html",
    "telescope/requests",
    "_profiler/phpinfo",
    "phpinfo.php",
    "info.php",
    "debug/default/view",
    "graphql",
    "swagger.json",
    "api-docs",
    "vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "owa/auth/logon.aspx",
    "remote/login",
    "boaform/admin/formLogin",
    "HNAP1/",
];
const PREFIXES: [&str; 10] = [
    "/",
    "/api/",
    "/v1/",
    "/v2/",
    "/old/",
    "/static/",
    "/app/",
    "/backend/",
    "/test/",
    "/dev/",
];

/// Decoy lines on `days` days (the stuck client's loop approximately).
pub fn expected_lines(days: u32) -> u64 {
    let monitor = DAY / MONITOR_EVERY;
    let batch = BATCH_LEN / 500_000;
    let stuck = 60 + STUCK_LOOP / 600_000 + 50;
    ((monitor + batch) * days as i64 + 420 + BURST_REQUESTS as i64 + stuck) as u64
}

/// One decoy actor and what it wrote.
pub struct Decoy {
    pub kind: DecoyKind,
    /// Its index in the simulation's clients (after the fleet).
    pub ci: usize,
    /// Requests sent today.
    n: u32,
    /// Stuck client: 0 signed out, 1 heartbeats, 2 looping, 3 restarted.
    phase: u8,
    until: Micros,
    paths: Vec<String>,
    pub first: Option<Micros>,
    pub last: Micros,
    pub requests: u64,
}

impl Decoy {
    pub(super) fn written(&mut self, t: Micros) {
        self.first.get_or_insert(t);
        self.last = t;
        self.requests += 1;
    }
}

impl Sim<'_> {
    pub(super) fn add_decoys(&mut self) {
        let desktop_ua = match self.o.ua {
            UaStyle::Simple => "acme-desktop/4.2.1 (Windows NT 10.0; Win64; x64)".to_string(),
            UaStyle::Real => ua::desktop(&mut self.decoy_rng, "4.2.1"),
        };
        let actors: [(DecoyKind, &str, String, &str); 5] = [
            (
                DecoyKind::UptimeMonitor,
                "198.51.100.23",
                "UptimeRobot/2.0 (http://www.uptimerobot.com/)".into(),
                "svc-uptime",
            ),
            (
                DecoyKind::Scanner,
                "203.0.113.77",
                "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))".into(),
                "-",
            ),
            (
                DecoyKind::ScriptedBurst,
                "172.16.4.20",
                "python-requests/2.31.0".into(),
                "u-99001",
            ),
            (
                DecoyKind::NightlyBatch,
                "10.0.5.20",
                "acme-reports/1.3 (nightly-export)".into(),
                "svc-reports",
            ),
            (DecoyKind::StuckClient, "10.240.1.17", desktop_ua, "u-99002"),
        ];
        for (k, (kind, ip, agent, user)) in actors.into_iter().enumerate() {
            let ci = self.clients.len();
            let mut c = Client::new(ci, Kind::Web, "", agent);
            c.ip = ip.into();
            c.user = user.into();
            c.device = format!("d-decoy{k}");
            if kind == DecoyKind::StuckClient {
                c.kind = Kind::Desktop;
                c.version = "4.2.1";
                c.app = ua::DESKTOP_APP;
            }
            let mut paths = Vec::new();
            if kind == DecoyKind::Scanner {
                for p in PREFIXES {
                    for q in PROBES {
                        paths.push(format!("{p}{q}"));
                    }
                }
                for j in 0..paths.len() {
                    let r = self.decoy_rng.random_range(j..paths.len());
                    paths.swap(j, r);
                }
                paths.truncate(420);
            }
            self.clients.push(c);
            self.decoys.push(Decoy {
                kind,
                ci,
                n: 0,
                phase: 0,
                until: 0,
                paths,
                first: None,
                last: 0,
                requests: 0,
            });
        }
    }

    /// Today's first event of each decoy.
    pub(super) fn plan_decoys(&mut self) {
        let d0 = self.day_start();
        let last = self.last_day();
        for i in 0..self.decoys.len() {
            let d = &mut self.decoys[i];
            d.n = 0;
            d.phase = 0;
            let start = match d.kind {
                DecoyKind::UptimeMonitor => Some(d0 + 7 * SEC),
                DecoyKind::NightlyBatch => Some(d0 + BATCH_START),
                DecoyKind::Scanner if last => Some(d0 + SCANNER_START),
                DecoyKind::ScriptedBurst if last => Some(d0 + BURST_START),
                DecoyKind::StuckClient if last => Some(d0 + STUCK_LOGIN + 17 * SEC),
                _ => None,
            };
            if let Some(t) = start {
                let ci = d.ci;
                self.schedule(t, ci, super::Action::Decoy);
            }
        }
    }

    pub(super) fn decoy_step(&mut self, t: Micros, ci: usize) -> io::Result<()> {
        let i = ci - self.fleet;
        let d0 = self.day_start();
        let kind = self.decoys[i].kind;
        self.decoys[i].n += 1;
        let n = self.decoys[i].n;
        let lat = 0.01 + self.decoy_rng.random::<f64>() * 0.03;
        let next = match kind {
            DecoyKind::UptimeMonitor => {
                self.emit(t, ci, "GET", "/v1/me", 401, 0.004, "token_expired")?;
                Some(t + MONITOR_EVERY).filter(|n| *n < d0 + DAY)
            }
            DecoyKind::NightlyBatch => {
                let path = format!(
                    "/v1/users/{}/profile",
                    10_000 + (n as usize - 1) % self.fleet
                );
                self.emit(t, ci, "GET", &path, 200, lat, "-")?;
                let gap = self.decoy_rng.random_range(300_000..700_000);
                Some(t + gap).filter(|n| *n < d0 + BATCH_START + BATCH_LEN)
            }
            DecoyKind::Scanner => {
                let path = std::mem::take(&mut self.decoys[i].paths[n as usize - 1]);
                let method = if path.ends_with("xmlrpc.php") || path.ends_with("formLogin") {
                    "POST"
                } else {
                    "GET"
                };
                self.emit(t, ci, method, &path, 404, lat / 4.0, "-")?;
                self.decoys[i].paths[n as usize - 1] = path;
                let gap = self.decoy_rng.random_range(200_000..800_000);
                Some(t + gap).filter(|_| (n as usize) < self.decoys[i].paths.len())
            }
            DecoyKind::ScriptedBurst => {
                let path = format!("/v1/contacts?page={n}&per_page=50");
                self.emit(t, ci, "GET", &path, 200, lat, "-")?;
                let mean = BURST_LEN / BURST_REQUESTS as i64;
                let gap = self.decoy_rng.random_range(mean / 2..mean * 3 / 2);
                Some(t + gap).filter(|_| n < BURST_REQUESTS)
            }
            DecoyKind::StuckClient => self.stuck_step(t, i, lat)?,
        };
        if let Some(next) = next {
            self.schedule(next, ci, super::Action::Decoy);
        }
        Ok(())
    }

    /// The stuck client: signs in, heartbeats, loops on its expired token
    /// for half an hour, restarts, signs in, heartbeats.
    fn stuck_step(&mut self, t: Micros, i: usize, lat: f64) -> io::Result<Option<Micros>> {
        let ci = self.decoys[i].ci;
        let d0 = self.day_start();
        let phase = self.decoys[i].phase;
        let expires = self.clients[ci].token_expires;
        Ok(match phase {
            0 | 3 => {
                self.emit(t, ci, "POST", "/oauth/token", 200, lat * 3.0, "-")?;
                self.clients[ci].token_expires = t + TOKEN_LIFETIME;
                self.decoys[i].phase = 1;
                Some(t + 2 * SEC)
            }
            1 if t < expires => {
                self.emit(t, ci, "GET", "/v1/session", 200, lat, "-")?;
                let gap = self.decoy_rng.random_range(45 * SEC..75 * SEC);
                Some(t + gap).filter(|n| *n < d0 + STUCK_END)
            }
            1 | 2 => {
                if phase == 1 {
                    self.decoys[i].phase = 2;
                    self.decoys[i].until = t + STUCK_LOOP;
                }
                self.emit(t, ci, "GET", "/v1/session", 401, 0.004, "token_expired")?;
                if t >= self.decoys[i].until {
                    // The user restarts the app.
                    self.decoys[i].phase = 3;
                    Some(t + 12 * SEC)
                } else {
                    Some(t + self.decoy_rng.random_range(300_000..900_000))
                }
            }
            _ => None,
        })
    }
}
