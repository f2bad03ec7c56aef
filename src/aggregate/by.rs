//! Ad-hoc grouping (`--by app,status`): requests, errors and distinct
//! clients per combination of any normalized or classified field.

use crate::error::SettingError;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use crate::classify::Classified;
use crate::event::Event;
use crate::privacy::Privacy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ByField {
    App,
    Version,
    TokenState,
    Endpoint,
    Route,
    Method,
    Status,
    StatusClass,
    ClientIp,
    ClientId,
    User,
    UserAgent,
}

impl ByField {
    pub const ALL: [ByField; 12] = [
        ByField::App,
        ByField::Version,
        ByField::TokenState,
        ByField::Endpoint,
        ByField::Route,
        ByField::Method,
        ByField::Status,
        ByField::StatusClass,
        ByField::ClientIp,
        ByField::ClientId,
        ByField::User,
        ByField::UserAgent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ByField::App => "app",
            ByField::Version => "version",
            ByField::TokenState => "token_state",
            ByField::Endpoint => "endpoint",
            ByField::Route => "route",
            ByField::Method => "method",
            ByField::Status => "status",
            ByField::StatusClass => "status_class",
            ByField::ClientIp => "client_ip",
            ByField::ClientId => "client_id",
            ByField::User => "user",
            ByField::UserAgent => "user_agent",
        }
    }

    pub fn parse(s: &str) -> Result<Self, SettingError> {
        let s = s.trim();
        let alias = match s {
            "client_app" => "app",
            "client_version" => "version",
            "path" => "route",
            other => other,
        };
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.name() == alias)
            .ok_or_else(|| SettingError::Unknown {
                what: "--by field",
                name: s.into(),
                expected: Self::ALL.iter().map(|f| f.name().to_string()).collect(),
            })
    }

    fn value(self, e: &Event<'_>, c: &Classified<'_>, p: &Privacy) -> String {
        let opt = |v: Option<&str>| p.text(v.unwrap_or("-")).into_owned();
        match self {
            ByField::App => c.app.to_string(),
            ByField::Version => c.version.to_string(),
            ByField::TokenState => c.token_state.name().into(),
            ByField::Endpoint => c.endpoint(),
            ByField::Route => c.route.to_string(),
            ByField::Method => c.method.to_string(),
            ByField::Status => c.status.map(|s| s.to_string()).unwrap_or("-".into()),
            ByField::StatusClass => crate::status::status_class(c.status).into(),
            ByField::ClientIp => p.ip(e.client_ip.unwrap_or("-")),
            ByField::ClientId => p.id(e.client_id.unwrap_or("-")),
            ByField::User => p.id(e.user.unwrap_or("-")),
            ByField::UserAgent => opt(e.user_agent),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ByCell {
    pub requests: u64,
    pub errors: u64,
    pub clients: FxHashSet<u64>,
}

#[derive(Debug, Clone)]
pub struct ByAgg {
    pub fields: Vec<ByField>,
    pub groups: FxHashMap<Vec<String>, ByCell>,
    privacy: Privacy,
}

impl ByAgg {
    pub fn new(fields: Vec<ByField>, privacy: Privacy) -> Self {
        ByAgg {
            fields,
            groups: FxHashMap::default(),
            privacy,
        }
    }

    pub fn add(&mut self, e: &Event<'_>, c: &Classified<'_>) {
        let key: Vec<String> = self
            .fields
            .iter()
            .map(|f| f.value(e, c, &self.privacy))
            .collect();
        let g = self.groups.entry(key).or_default();
        g.requests += 1;
        if c.status.is_some_and(|s| s >= 400) {
            g.errors += 1;
        }
        g.clients.insert(c.client);
    }

    pub fn merge(&mut self, o: ByAgg) {
        for (k, v) in o.groups {
            let g = self.groups.entry(k).or_default();
            g.requests += v.requests;
            g.errors += v.errors;
            g.clients.extend(v.clients);
        }
    }
}
