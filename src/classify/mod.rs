//! Classification: turns a normalized [`Event`] into the dimensions the
//! analysis groups by — client app and version, token state, endpoint —
//! plus the client key and the health-check flag.

pub mod client;
pub mod route;
pub mod token;

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

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
    fn is_health_path(&self, p: &str) -> bool {
        let p = route::strip_query(p);
        self.paths.iter().any(|h| h == p)
    }

    fn is_health_ua(&self, ua: &str) -> bool {
        self.user_agents.iter().any(|h| ua.contains(h.as_str()))
    }
}

/// What classification derives from a user agent alone.
#[derive(Debug)]
struct UaInfo {
    app: Box<str>,
    version: Box<str>,
    health: bool,
}

/// A worker's memo of classification work that depends on one string only
/// (the user agent → app, version, probe; the path → route), because a
/// fleet sends few distinct user agents and paths. Bounded: it starts over
/// when full, so hostile input costs time, never memory.
#[derive(Debug)]
pub struct Memo {
    ua_ids: FxHashMap<Box<str>, u32>,
    uas: Vec<UaInfo>,
    route_ids: FxHashMap<Box<str>, u32>,
    routes: Vec<RouteInfo>,
    /// The last path looked up and its slot: most requests to an auth
    /// service go to one or two endpoints, so the next path is often the
    /// same, and comparing it costs less than hashing it.
    last_path: String,
    last_route: Option<u32>,
    /// Per token-state field value: what the vocabulary makes of it.
    token_ids: FxHashMap<Box<str>, u32>,
    tokens: Vec<Option<TokenState>>,
    /// This memo, among all (so a cache keyed by its slots cannot be fed
    /// by another memo's), and a count bumped whenever a slot comes to mean
    /// another string.
    id: u64,
    epoch: u32,
}

impl Default for Memo {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Memo {
            ua_ids: Default::default(),
            uas: Default::default(),
            route_ids: Default::default(),
            routes: Default::default(),
            last_path: String::new(),
            last_route: None,
            token_ids: Default::default(),
            tokens: Default::default(),
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            epoch: 0,
        }
    }
}

/// What classification derives from a path alone.
#[derive(Debug)]
struct RouteInfo {
    route: Box<str>,
    health: bool,
    /// A login or token route.
    auth: bool,
}

/// Where a request's user agent and path sit in the worker's [`Memo`], so
/// later stages can keep their own per-string work by index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoSlots {
    /// The memo's identity and epoch (0 for none: no slots).
    pub memo: (u64, u32),
    /// Set only when both app and version came from the user agent.
    pub ua: Option<u32>,
    pub route: Option<u32>,
}

const MEMO_ENTRIES: usize = 16 * 1024;

/// Index of `key`'s memo entry, computing it with `make` on a miss.
fn memo_id<T>(
    ids: &mut FxHashMap<Box<str>, u32>,
    vals: &mut Vec<T>,
    epoch: &mut u32,
    key: &str,
    make: impl FnOnce() -> T,
) -> usize {
    if let Some(&i) = ids.get(key) {
        return i as usize;
    }
    if vals.len() >= MEMO_ENTRIES {
        ids.clear();
        vals.clear();
        *epoch = epoch.wrapping_add(1);
    }
    vals.push(make());
    ids.insert(key.into(), (vals.len() - 1) as u32);
    vals.len() - 1
}

/// Everything classification needs, validated.
#[derive(Debug, Clone)]
pub struct Classifier {
    pub app_rules: Vec<AppRule>,
    /// Group versions by their first N numeric components.
    pub version_depth: Option<usize>,
    pub vocabulary: TokenVocabulary,
    pub health: HealthRules,
    /// Route substrings that mark login and token endpoints (a refresh or
    /// a sign-in is how a client recovers from a rejected token).
    pub auth_routes: Vec<String>,
}

/// Route substrings of login and token endpoints, unless configured.
pub fn default_auth_routes() -> Vec<String> {
    ["/token", "login", "signin", "sign-in", "authorize"]
        .map(String::from)
        .to_vec()
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
    /// A login or token route ([`Classifier::auth_routes`]).
    pub auth_route: bool,
    pub attempt: Option<u32>,
    pub slots: MemoSlots,
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

impl Default for Classifier {
    fn default() -> Self {
        Classifier {
            app_rules: Vec::new(),
            version_depth: None,
            vocabulary: TokenVocabulary::default(),
            health: HealthRules::default(),
            auth_routes: default_auth_routes(),
        }
    }
}

impl Classifier {
    fn is_auth_route(&self, route: &str) -> bool {
        self.auth_routes.iter().any(|r| route.contains(r.as_str()))
    }

    /// `version` cut to `--version-depth` components, if set.
    fn to_depth<'v>(&self, version: Cow<'v, str>) -> Cow<'v, str> {
        match self
            .version_depth
            .and_then(|d| client::truncate_version(&version, d))
        {
            Some(v) => Cow::Owned(v),
            None => version,
        }
    }

    /// Classifies one request; the work that depends on one string only is
    /// memoized in `memo` (one per worker).
    pub fn classify<'x>(&self, e: &Event<'x>, memo: &'x mut Memo) -> Classified<'x> {
        let ua = match e.user_agent {
            Some(ua) => {
                let i = memo_id(&mut memo.ua_ids, &mut memo.uas, &mut memo.epoch, ua, || {
                    let (app, version) = client::from_user_agent(ua, &self.app_rules);
                    UaInfo {
                        app: app.into(),
                        version: self.to_depth(version).into(),
                        health: self.health.is_health_ua(ua),
                    }
                });
                Some(i)
            }
            None => None,
        };
        let route = e.path.map(|p| match memo.last_route {
            // Set after every lookup of a path, so never stale: the paths
            // start over only inside a lookup.
            Some(i) if crate::text::eq(p, &memo.last_path) => i as usize,
            _ => {
                let i = memo_id(
                    &mut memo.route_ids,
                    &mut memo.routes,
                    &mut memo.epoch,
                    p,
                    || {
                        let route = route::collapse(p);
                        RouteInfo {
                            auth: self.is_auth_route(&route),
                            route: route.into(),
                            health: self.health.is_health_path(p),
                        }
                    },
                );
                memo.last_path.clear();
                memo.last_path.push_str(p);
                memo.last_route = Some(i as u32);
                i
            }
        });
        let token_state = token::token_state_by(e, |raw| {
            if let Some(state) = self.vocabulary.blank(raw) {
                return state;
            }
            let i = memo_id(
                &mut memo.token_ids,
                &mut memo.tokens,
                &mut memo.epoch,
                raw,
                || self.vocabulary.normalize(raw),
            );
            memo.tokens[i]
        });
        let memo: &'x Memo = memo;
        let ua_slot = ua.map(|i| i as u32);
        let ua = ua.map(|i| &memo.uas[i]);
        let app = match (e.client_app, ua) {
            (Some(a), _) => a,
            (None, Some(u)) => &u.app,
            (None, _) => "unknown",
        };
        let version = match (e.client_version, ua) {
            (Some(v), _) => self.to_depth(Cow::Borrowed(v)),
            (None, Some(u)) => Cow::Borrowed(&*u.version),
            (None, None) => Cow::Borrowed(""),
        };
        Classified {
            ts: e.ts,
            app: Cow::Borrowed(app),
            version,
            token_state,
            method: e.method.unwrap_or("-"),
            route: Cow::Borrowed(route.map_or("-", |i| &memo.routes[i].route)),
            status: e.status,
            latency_ms: e.latency_ms,
            client: client_key(e),
            health: route.is_some_and(|i| memo.routes[i].health) || ua.is_some_and(|u| u.health),
            auth_route: route.is_some_and(|i| memo.routes[i].auth),
            attempt: e.attempt,
            slots: MemoSlots {
                memo: (memo.id, memo.epoch),
                ua: ua_slot.filter(|_| e.client_app.is_none() && e.client_version.is_none()),
                route: route.map(|i| i as u32),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path taken from the last-path slot gives what a lookup gives,
    /// also when the memo's paths start over between two requests to one
    /// path.
    #[test]
    fn repeated_paths_keep_their_route() {
        let classifier = Classifier::default();
        let mut memo = Memo::default();
        for i in 0..5 * MEMO_ENTRIES {
            // One path in four is new: the paths fill the memo, which
            // starts over once, between two requests to /v1/session.
            let path = match i % 4 {
                0 | 1 => "/v1/session".to_string(),
                2 => format!("/x/{i}"),
                _ => "/healthz".to_string(),
            };
            let e = Event {
                client_ip: Some("10.0.0.1"),
                method: Some("GET"),
                path: Some(&path),
                status: Some(200),
                user_agent: Some("app/1.0"),
                ..Default::default()
            };
            let c = classifier.classify(&e, &mut memo);
            assert_eq!(c.route, route::collapse(&path), "{i}");
            assert_eq!(c.health, path == "/healthz", "{i}");
            let slot = c.slots.route.expect("a path has a slot") as usize;
            assert_eq!(c.slots.memo.1, memo.epoch);
            assert_eq!(*memo.routes[slot].route, *route::collapse(&path), "{i}");
        }
        assert_eq!(memo.epoch, 1);
    }
}
