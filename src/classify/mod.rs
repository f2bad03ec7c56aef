//! Classification: turns a normalized [`Event`] into the dimensions the
//! analysis groups by — client app and version, token state, endpoint —
//! plus the client key and the health-check flag.

pub mod client;
pub mod route;
pub mod token;

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;

pub use client::{AppRule, Version};
pub use token::{TokenState, TokenVocabulary};

use crate::event::Event;
use crate::time::Micros;

/// Health-check and monitor traffic, counted apart from clients.
#[derive(Debug, Clone)]
pub struct HealthRules {
    pub paths: Vec<String>,
    pub user_agents: Vec<String>,
}

impl Default for HealthRules {
    fn default() -> Self {
        HealthRules {
            paths: [
                "/healthz", "/health", "/ping", "/livez", "/readyz", "/status", "/_health",
            ]
            .map(String::from)
            .to_vec(),
            user_agents: [
                "ELB-HealthChecker",
                "kube-probe",
                "GoogleHC",
                "Pingdom",
                "UptimeRobot",
                "Consul Health Check",
                "Envoy/HC",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl HealthRules {
    pub fn is_health(&self, path: Option<&str>, ua: Option<&str>) -> bool {
        if let Some(p) = path {
            let p = route::strip_query(p);
            if self.paths.iter().any(|h| h == p) {
                return true;
            }
        }
        if let Some(ua) = ua {
            return self.user_agents.iter().any(|h| ua.contains(h.as_str()));
        }
        false
    }
}

/// Everything classification needs, validated.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    pub app_rules: Vec<AppRule>,
    /// Group versions by their first N numeric components.
    pub version_depth: Option<usize>,
    pub vocabulary: TokenVocabulary,
    pub health: HealthRules,
}

/// The dimensions of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified<'e> {
    pub ts: Micros,
    pub app: Cow<'e, str>,
    pub version: Cow<'e, str>,
    pub token_state: TokenState,
    pub method: &'e str,
    pub route: Cow<'e, str>,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    pub client: u64,
    pub health: bool,
    pub attempt: Option<u32>,
}

impl Classified<'_> {
    /// `METHOD /route` as shown in reports.
    pub fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.route)
    }
}

/// Stable 64-bit hash of the client key: mapped client id, else user, else
/// IP + user agent. Each kind is tagged so a user and a device with the
/// same string stay apart.
pub fn client_key(e: &Event<'_>) -> u64 {
    let mut h = FxHasher::default();
    if let Some(id) = e.client_id {
        ("d", id).hash(&mut h);
    } else if let Some(u) = e.user {
        ("u", u).hash(&mut h);
    } else {
        ("i", e.client_ip.unwrap_or(""), e.user_agent.unwrap_or("")).hash(&mut h);
    }
    h.finish()
}

impl Classifier {
    pub fn classify<'e>(&self, e: &Event<'e>) -> Classified<'e> {
        let (app, version) = client::app_version(e, &self.app_rules);
        let version = match self.version_depth {
            Some(d) => match client::truncate_version(&version, d) {
                Some(v) => Cow::Owned(v),
                None => version,
            },
            None => version,
        };
        Classified {
            ts: e.ts,
            app,
            version,
            token_state: token::token_state(e, &self.vocabulary),
            method: e.method.unwrap_or("-"),
            route: e.path.map(route::collapse).unwrap_or(Cow::Borrowed("-")),
            status: e.status,
            latency_ms: e.latency_ms,
            client: client_key(e),
            health: self.health.is_health(e.path, e.user_agent),
            attempt: e.attempt,
        }
    }
}
