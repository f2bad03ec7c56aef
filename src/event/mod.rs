//! The normalized event: the one shape every format is mapped into, and the
//! field mapping (`[fields]` in the config) that does the mapping.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod decode;
pub use decode::{decode, wants_marks};

use crate::format::positions::Positions;
pub use crate::format::record::{Key, Record, SlotNames};
use crate::time::{Micros, TsCache};

/// A normalized field. The config's `[fields]` table is keyed by these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Timestamp,
    ClientIp,
    ClientId,
    User,
    Method,
    Path,
    Status,
    Bytes,
    UserAgent,
    ClientApp,
    ClientVersion,
    TokenState,
    Latency,
    /// A bearer token or JWT (`Authorization` header); decoded for `exp`, never printed.
    Token,
    /// An explicit retry marker (attempt number), e.g. `x-envoy-attempt-count`.
    Attempt,
    /// What an error description adds to the token state: RFC 6750's
    /// `invalid_token` covers expired tokens, and its description says so.
    TokenDetail,
}

pub const FIELDS: [Field; 16] = [
    Field::Timestamp,
    Field::ClientIp,
    Field::ClientId,
    Field::User,
    Field::Method,
    Field::Path,
    Field::Status,
    Field::Bytes,
    Field::UserAgent,
    Field::ClientApp,
    Field::ClientVersion,
    Field::TokenState,
    Field::Latency,
    Field::Token,
    Field::Attempt,
    Field::TokenDetail,
];

impl Field {
    /// Whether a blank value (`-`, empty) of this field is still a value:
    /// for the auth fields `-` is information ("checked, no error" / "no
    /// token"); elsewhere it means empty.
    fn blank_is_value(self) -> bool {
        matches!(self, Field::TokenState | Field::Token)
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::Timestamp => "timestamp",
            Field::ClientIp => "client_ip",
            Field::ClientId => "client_id",
            Field::User => "user",
            Field::Method => "method",
            Field::Path => "path",
            Field::Status => "status",
            Field::Bytes => "bytes",
            Field::UserAgent => "user_agent",
            Field::ClientApp => "client_app",
            Field::ClientVersion => "client_version",
            Field::TokenState => "token_state",
            Field::Latency => "latency",
            Field::Token => "token",
            Field::Attempt => "attempt",
            Field::TokenDetail => "token_detail",
        }
    }

    pub fn from_name(s: &str) -> Option<Field> {
        FIELDS.iter().copied().find(|f| f.name() == s)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Unit of a latency source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencyUnit {
    S,
    Ms,
    Us,
    Ns,
}

impl LatencyUnit {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "s" => Some(LatencyUnit::S),
            "ms" => Some(LatencyUnit::Ms),
            "us" | "µs" => Some(LatencyUnit::Us),
            "ns" => Some(LatencyUnit::Ns),
            _ => None,
        }
    }

    fn to_ms(self, v: f64) -> f64 {
        match self {
            LatencyUnit::S => v * 1000.0,
            LatencyUnit::Ms => v,
            LatencyUnit::Us => v / 1000.0,
            LatencyUnit::Ns => v / 1_000_000.0,
        }
    }
}

/// One place a source key feeds: a field, its rank among the field's
/// candidates (lower wins), and the latency unit of that source.
#[derive(Debug, Clone, Copy)]
struct Target {
    field: Field,
    rank: u8,
    unit: Option<LatencyUnit>,
}

#[derive(Debug, Clone)]
struct Source {
    key: String,
    unit: Option<LatencyUnit>,
}

/// Where each normalized field comes from: a list of candidate source keys,
/// tried in order; the first non-empty one wins.
#[derive(Debug, Clone)]
pub struct FieldMap {
    /// Tells maps apart, so that plans made for one are never used with
    /// another (clones, equal, share it).
    id: u64,
    /// What the map was built from: the user's `[fields]`, and a mapped
    /// latency's unit.
    mapped: BTreeMap<Field, String>,
    latency_unit: Option<LatencyUnit>,
    sources: Vec<Vec<Source>>,
    /// Source key → the fields it feeds (the inverse of `sources`).
    index: rustc_hash::FxHashMap<Box<str>, Vec<Target>>,
    /// Per fixed slot of the combined/common format, the fields it feeds.
    clf_slots: Vec<Vec<Target>>,
    /// Whether any source is an unnamed field (`extra_1`...).
    numbered: bool,
}

/// Default source names, per field, covering the formats and the common
/// naming conventions (nginx variables, Caddy, Cloudflare, IIS, ECS-ish JSON).
fn default_sources(f: Field) -> &'static [(&'static str, Option<LatencyUnit>)] {
    use LatencyUnit::*;
    match f {
        Field::Timestamp => &[
            ("time_local", None),
            ("time_iso8601", None),
            ("msec", None),
            ("timestamp", None),
            ("time", None),
            ("ts", None),
            ("@timestamp", None),
            ("datetime", None),
            ("date_time", None),
            ("EdgeStartTimestamp", None),
            ("start_time", None),
        ],
        Field::ClientIp => &[
            ("remote_addr", None),
            ("client_ip", None),
            ("request.client_ip", None),
            ("remote_ip", None),
            ("request.remote_ip", None),
            ("ClientIP", None),
            ("c-ip", None),
            ("ip", None),
            ("http.client_ip", None),
            ("src_ip", None),
        ],
        Field::ClientId => &[
            ("device_id", None),
            ("device", None),
            // nginx's name for an `X-Device-Id` request header.
            ("http_x_device_id", None),
            ("client_id", None),
            ("deviceId", None),
            ("installation_id", None),
            ("install_id", None),
            ("session_id", None),
        ],
        Field::User => &[
            ("user", None),
            ("user_id", None),
            ("userId", None),
            ("username", None),
            ("usr.id", None),
            ("remote_user", None),
            ("cs-username", None),
        ],
        Field::Method => &[
            ("method", None),
            ("request.method", None),
            ("http.method", None),
            ("http.request.method", None),
            ("cs-method", None),
            ("ClientRequestMethod", None),
            ("request_method", None),
        ],
        Field::Path => &[
            ("path", None),
            ("uri", None),
            ("request.uri", None),
            ("request_uri", None),
            ("url", None),
            ("http.path", None),
            ("http.url", None),
            ("url.path", None),
            ("cs-uri-stem", None),
            ("ClientRequestURI", None),
            // nginx's `$request` in a JSON log_format: `GET /path HTTP/1.1`.
            ("request", None),
        ],
        Field::Status => &[
            ("status", None),
            ("http.status", None),
            ("status_code", None),
            ("statusCode", None),
            ("response.status", None),
            ("http.status_code", None),
            ("http.response.status_code", None),
            ("sc-status", None),
            ("EdgeResponseStatus", None),
            ("response_code", None),
        ],
        Field::Bytes => &[
            ("body_bytes_sent", None),
            ("bytes", None),
            ("bytes_sent", None),
            ("size", None),
            ("response_size", None),
            ("sc-bytes", None),
            ("EdgeResponseBytes", None),
        ],
        Field::UserAgent => &[
            ("http_user_agent", None),
            ("user_agent", None),
            ("ua", None),
            ("userAgent", None),
            ("http.user_agent", None),
            ("user_agent.original", None),
            ("request.headers.User-Agent", None),
            ("cs(User-Agent)", None),
            ("ClientRequestUserAgent", None),
            ("agent", None),
        ],
        Field::ClientApp => &[("client_app", None), ("app", None), ("app_name", None)],
        Field::ClientVersion => &[
            ("client_version", None),
            ("app_version", None),
            ("version", None),
        ],
        Field::TokenState => &[
            ("token_state", None),
            ("auth_error", None),
            ("token_status", None),
            ("auth_result", None),
            ("auth.error", None),
            ("authn.error", None),
            ("error_code", None),
            ("error", None),
        ],
        Field::Latency => &[
            ("request_time", Some(S)),
            ("duration_ms", Some(Ms)),
            ("latency_ms", Some(Ms)),
            ("response_time_ms", Some(Ms)),
            ("took_ms", Some(Ms)),
            ("elapsed_ms", Some(Ms)),
            ("duration_us", Some(Us)),
            ("took_us", Some(Us)),
            ("time-taken", Some(Ms)),
            ("duration", Some(S)),
            ("latency", Some(Ms)),
            ("upstream_response_time", Some(S)),
            ("OriginResponseDurationMs", Some(Ms)),
        ],
        Field::Token => &[
            ("authorization", None),
            ("http_authorization", None),
            ("token", None),
            ("access_token", None),
            ("jwt", None),
        ],
        Field::TokenDetail => &[
            ("auth_error_description", None),
            ("error_description", None),
            ("www_authenticate", None),
            ("http_www_authenticate", None),
        ],
        Field::Attempt => &[
            ("attempt", None),
            ("retry_attempt", None),
            ("x_envoy_attempt_count", None),
            ("grpc_previous_rpc_attempts", None),
            ("amz_sdk_request", None),
        ],
    }
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap::new(&BTreeMap::new(), None)
    }
}

impl FieldMap {
    /// `mapped` overrides the defaults field by field; `latency_unit` applies
    /// to a mapped latency source.
    pub fn new(mapped: &BTreeMap<Field, String>, latency_unit: Option<LatencyUnit>) -> Self {
        Self::build(mapped, latency_unit, &[], &[])
    }

    /// This map for a format whose records name fields their own way
    /// (`format::FormatDef::sources`, a parser's own): those names come
    /// before the general ones, after the user's `[fields]`.
    pub fn with_sources(&self, own: &[crate::format::Source]) -> FieldMap {
        self.with_sources_renamed(own, &[])
    }

    /// [`FieldMap::with_sources`], for records that hold some source names
    /// under other keys (`renames`: name → key; a pasted nginx format read
    /// by the combined path has `$http_x_device_id` under `dev` for
    /// `dev=$http_x_device_id`): every source, the user's included, is
    /// looked up under its key.
    pub fn with_sources_renamed(
        &self,
        own: &[crate::format::Source],
        renames: &[(Box<str>, Box<str>)],
    ) -> FieldMap {
        if own.is_empty() && renames.is_empty() {
            return self.clone();
        }
        Self::build(&self.mapped, self.latency_unit, own, renames)
    }

    fn build(
        mapped: &BTreeMap<Field, String>,
        latency_unit: Option<LatencyUnit>,
        own: &[crate::format::Source],
        renames: &[(Box<str>, Box<str>)],
    ) -> Self {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let sources = FIELDS
            .iter()
            .map(|&f| match mapped.get(&f) {
                Some(key) => vec![Source {
                    key: key.clone(),
                    unit: if f == Field::Latency {
                        Some(latency_unit.unwrap_or(LatencyUnit::Ms))
                    } else {
                        None
                    },
                }],
                None => (own.iter().filter(|s| s.field == f.name()))
                    .map(|s| Source {
                        key: s.key.to_string(),
                        unit: s.unit.and_then(LatencyUnit::parse),
                    })
                    .chain(default_sources(f).iter().map(|(k, u)| Source {
                        key: (*k).to_string(),
                        unit: *u,
                    }))
                    .collect(),
            })
            .map(|mut list: Vec<Source>| {
                for src in &mut list {
                    if let Some((_, to)) = renames.iter().find(|(from, _)| **from == *src.key) {
                        src.key = to.to_string();
                    }
                }
                list
            })
            .collect::<Vec<Vec<Source>>>();
        let mut index: rustc_hash::FxHashMap<Box<str>, Vec<Target>> = Default::default();
        for (f, list) in FIELDS.iter().zip(&sources) {
            for (rank, src) in list.iter().enumerate() {
                index
                    .entry(src.key.as_str().into())
                    .or_default()
                    .push(Target {
                        field: *f,
                        rank: rank.min(u8::MAX as usize - 1) as u8,
                        unit: src.unit,
                    });
            }
        }
        let slots = |names: SlotNames| -> Vec<Vec<Target>> {
            names
                .iter()
                .map(|aliases| {
                    // One target per field, the best-ranked alias's: the
                    // others could never win, so they are not offered.
                    let mut best: Vec<Target> = Vec::new();
                    for t in aliases.iter().filter_map(|a| index.get(*a)).flatten() {
                        match best.iter_mut().find(|b| b.field == t.field) {
                            Some(b) if t.rank < b.rank => *b = *t,
                            Some(_) => {}
                            None => best.push(*t),
                        }
                    }
                    best
                })
                .collect()
        };
        let clf_slots = slots(crate::format::clf::SLOTS);
        let numbered = index.keys().any(|k| k.starts_with("extra_"));
        FieldMap {
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            mapped: mapped.clone(),
            latency_unit,
            sources,
            index,
            clf_slots,
            numbered,
        }
    }

    /// The fields a source key feeds.
    #[inline]
    fn targets(&self, key: Key<'_>) -> &[Target] {
        match key {
            Key::Slot(i) => self.clf_slots.get(i).map_or(&[], Vec::as_slice),
            Key::Name(n) => self.index.get(n).map_or(&[], Vec::as_slice),
            Key::Extra(n) if self.numbered => self
                .index
                .get(format!("extra_{n}").as_str())
                .map_or(&[], Vec::as_slice),
            Key::Extra(_) => &[],
        }
    }

    /// Parses a combined/common line into its fields: the same result as
    /// [`FieldMap::resolve`] of [`crate::format::clf::parse`], for a stream
    /// of lines. The lines of one log share a few sequences of trailing
    /// keys; `plans` keeps, per sequence, which source each field takes, so
    /// a line costs no key lookups and no ranking.
    pub fn resolve_clf_with<'r>(
        &self,
        line: &'r str,
        plans: &mut Plans,
    ) -> Result<RawEvent<'r>, crate::format::SkipReason> {
        let mut rec = crate::format::clf::ClfRecord::empty(line);
        crate::format::clf::parse_into(&mut rec)?;
        Ok(self.resolve_clf_record(&rec, plans))
    }

    /// [`FieldMap::resolve_clf_with`] of a parsed line: its values
    /// unescaped, owned where they had escapes.
    pub fn resolve_clf_record<'r>(
        &self,
        rec: &crate::format::clf::ClfRecord<'r>,
        plans: &mut Plans,
    ) -> RawEvent<'r> {
        let mut ev = RawEvent::default();
        let plan = plans.find(self, true, rec.extras_len(), |j| rec.extra_key(j));
        apply(plan, &mut ev, |src| match src {
            Src::Slot(i) => rec.slot(i as usize),
            Src::Extra(j) => Some(rec.extra_value(j as usize)),
        });
        ev
    }

    /// The fields of a combined/common line without escapes, taken by the
    /// plan for its keys (as [`FieldMap::resolve_clf_with`]) and borrowed
    /// from the line: the scan's path, with no owned text to make or drop.
    /// `None` for a line with escapes, whose unescaped values
    /// [`FieldMap::resolve_clf_record`] makes.
    // Inlined into the scan's loop: returned, the fields were copied.
    #[inline(always)]
    pub fn clf_fields<'r>(
        &self,
        rec: &crate::format::clf::ClfRecord<'r>,
        plans: &mut Plans,
    ) -> Option<Fields<'r>> {
        if rec.has_escapes() {
            return None;
        }
        let plan = plans.find_hinted(
            self,
            true,
            |hint| rec.matches_hint(hint),
            rec.extras_len(),
            |j| rec.extra_key(j),
        );
        Some(take(plan, |src| match src {
            Src::Slot(i) => rec.slot_text(i as usize),
            Src::Extra(j) => Some(rec.extra_text(j as usize)),
        }))
    }

    /// [`FieldMap::resolve`] of a JSON record, by a plan per sequence of
    /// keys as in [`FieldMap::resolve_clf_with`], borrowed from the record.
    #[inline(always)]
    pub fn json_fields<'r>(
        &self,
        rec: &'r crate::format::json::JsonRecord<'_>,
        plans: &mut Plans,
    ) -> Fields<'r> {
        let plan = plans.find_hinted(
            self,
            false,
            |hint| rec.matches_hint(hint),
            rec.len(),
            |j| Some(rec.key(j)),
        );
        take(plan, |src| match src {
            Src::Extra(j) => Some(rec.value(j as usize)),
            Src::Slot(_) => None,
        })
    }

    /// Every source a line with these keys offers each field, best first,
    /// as [`FieldMap::resolve`] ranks them: by rank, then named keys before
    /// the fixed CLF slots (with `slots`) before unnamed fields, then in line
    /// order.
    fn plan(&self, keys: &[Option<&str>], slots: bool) -> Plan {
        let mut found: Vec<(Field, u8, u8, usize, Src, Option<LatencyUnit>)> = Vec::new();
        let mut unnamed = 0;
        for (j, k) in keys.iter().enumerate() {
            let (class, targets) = match k {
                Some(k) => (0, self.targets(Key::Name(k))),
                None => {
                    unnamed += 1;
                    (2, self.targets(Key::Extra(unnamed)))
                }
            };
            for t in targets {
                found.push((t.field, t.rank, class, j, Src::Extra(j as u32), t.unit));
            }
        }
        for (i, targets) in self.clf_slots.iter().enumerate().filter(|_| slots) {
            for t in targets {
                found.push((t.field, t.rank, 1, i, Src::Slot(i as u8), t.unit));
            }
        }
        found.sort_by_key(|c| (c.0, c.1, c.2, c.3));
        let mut plan: Plan = Vec::new();
        for (field, _, _, _, src, unit) in found {
            match plan.last_mut() {
                Some((f, list)) if *f == field => list.push((src, unit)),
                _ => plan.push((field, vec![(src, unit)])),
            }
        }
        plan
    }

    /// Resolves every normalized field from a record.
    pub fn resolve<'r>(&self, rec: &'r dyn Record) -> RawEvent<'r> {
        let mut ev = RawEvent::default();
        let listed = rec.visit(&mut |key, v| {
            for t in self.targets(key) {
                ev.offer(t, v.clone());
            }
        });
        if listed {
            return ev;
        }
        for f in FIELDS {
            for src in &self.sources[f.index()] {
                if let Some(v) = rec.get(&src.key) {
                    if !f.blank_is_value() && is_blank(&v) {
                        continue;
                    }
                    ev.values[f.index()] = Some(v);
                    if f == Field::Latency {
                        ev.latency_unit = latency_unit(src.unit);
                    }
                    break;
                }
            }
        }
        ev
    }
}

/// One normalized field of a line and where it came from, for
/// `authstorm formats test`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    pub field: Field,
    /// The record's key (a fixed slot's first name; `extra_n` for an
    /// unkeyed trailing field).
    pub key: String,
    pub value: String,
}

impl FieldMap {
    /// The fields [`FieldMap::resolve`] takes from `rec`, each with the key
    /// it came from, in [`FIELDS`] order. A slow path, for explaining.
    pub fn explain(&self, rec: &dyn Record) -> Vec<Provenance> {
        let mut best: [Option<(u8, String, String)>; FIELDS.len()] = Default::default();
        let name = |key: Key<'_>| match key {
            Key::Name(n) => n.to_string(),
            Key::Slot(i) => crate::format::clf::SLOTS
                .get(i)
                .and_then(|n| n.first())
                .map_or_else(|| format!("slot_{i}"), |n| n.to_string()),
            Key::Extra(n) => format!("extra_{n}"),
        };
        let listed = rec.visit(&mut |key, v| {
            for t in self.targets(key) {
                let i = t.field.index();
                let blank = !t.field.blank_is_value() && is_blank(&v);
                if !blank && best[i].as_ref().is_none_or(|b| t.rank < b.0) {
                    best[i] = Some((t.rank, name(key), v.to_string()));
                }
            }
        });
        if !listed {
            for f in FIELDS {
                for src in &self.sources[f.index()] {
                    if let Some(v) = rec.get(&src.key)
                        && (f.blank_is_value() || !is_blank(&v))
                    {
                        best[f.index()] = Some((0, src.key.clone(), v.to_string()));
                        break;
                    }
                }
            }
        }
        FIELDS
            .iter()
            .zip(best)
            .filter_map(|(f, b)| {
                b.map(|(_, key, value)| Provenance {
                    field: *f,
                    key,
                    value,
                })
            })
            .collect()
    }
}

/// Where a field's value is on a combined line.
#[derive(Debug, Clone, Copy)]
enum Src {
    /// A fixed slot of a combined line.
    Slot(u8),
    /// Position among the keyed (and unkeyed) fields.
    Extra(u32),
}

/// Per field, its sources on the line, best first, with the latency unit
/// of each.
type Plan = Vec<(Field, Vec<(Src, Option<LatencyUnit>)>)>;

/// Hands `put` each field of the plan with its first non-blank source's
/// value and latency unit (`-` counts for the auth fields, where it is
/// information). One choice for owned and for borrowed values.
#[inline(always)]
fn pick<V: std::ops::Deref<Target = str>>(
    plan: &Plan,
    value: impl Fn(Src) -> Option<V>,
    mut put: impl FnMut(Field, V, Option<LatencyUnit>),
) {
    for (field, sources) in plan {
        let auth = field.blank_is_value();
        let found = sources.iter().find_map(|&(src, unit)| {
            let v = value(src)?;
            (auth || !is_blank(&v)).then_some((v, unit))
        });
        if let Some((v, unit)) = found {
            put(*field, v, unit);
        }
    }
}

/// The unit of a latency taken from a source with `unit`.
fn latency_unit(unit: Option<LatencyUnit>) -> Option<LatencyUnit> {
    Some(unit.unwrap_or(LatencyUnit::Ms))
}

/// Fills the empty `ev` by `plan`.
fn apply<'r>(plan: &Plan, ev: &mut RawEvent<'r>, value: impl Fn(Src) -> Option<Cow<'r, str>>) {
    pick(plan, value, |field, v, unit| {
        ev.values[field.index()] = Some(v);
        if field == Field::Latency {
            ev.latency_unit = latency_unit(unit);
        }
    });
}

/// [`apply`] into borrowed [`Fields`].
#[inline]
fn take<'r>(plan: &Plan, value: impl Fn(Src) -> Option<&'r str>) -> Fields<'r> {
    let mut f = Fields {
        values: [None; FIELDS.len()],
        latency_unit: None,
    };
    pick(plan, value, |field, v, unit| {
        f.values[field.index()] = Some(v);
        if field == Field::Latency {
            f.latency_unit = latency_unit(unit);
        }
    });
    f
}

/// One sequence of keys and its plan.
#[derive(Debug)]
struct Shape {
    slots: bool,
    keys: Vec<Option<Box<str>>>,
    plan: Plan,
    /// Every key is named and plain (no quote, backslash or control
    /// character): usable as a JSON hint.
    plain: bool,
    /// The plan by line position, for a combined shape (or a JSON one of
    /// plain keys) whose sources all have one.
    direct: Option<Direct>,
}

/// A shape's plan by [`Positions`] position, so a line of the shape goes
/// from its positions to its fields with no record in between
/// ([`Plans::clf_direct`], [`Plans::json_direct`]). Most fields have one source:
/// those are set from `at` and dropped when blank; the few with more are
/// picked source by source.
#[derive(Debug)]
struct Direct {
    /// Per field, its position when it has one source.
    at: [u8; FIELDS.len()],
    /// The fields of one source where a blank value means none.
    single: Vec<(Field, u8)>,
    /// The fields of several sources.
    picks: Vec<Pick>,
    /// The latency unit, when latency has one source.
    latency_unit: Option<LatencyUnit>,
    /// [`Picked::present_mask`] before any field is found blank.
    present: u32,
}

#[derive(Debug, Clone, Copy)]
struct Pick {
    field: Field,
    /// [`Field::blank_is_value`].
    auth: bool,
    n: u8,
    at: [u8; Pick::MAX],
    unit: [Option<LatencyUnit>; Pick::MAX],
}

impl Pick {
    const MAX: usize = 4;
}

impl Direct {
    /// The plan of a shape whose trailing field (or JSON pair) `j` is at
    /// position `extras + j`.
    fn new(plan: &Plan, extras: usize) -> Option<Direct> {
        use crate::format::positions::POSITIONS;
        let mut d = Direct {
            at: [Picked::NONE; FIELDS.len()],
            single: Vec::new(),
            picks: Vec::new(),
            latency_unit: None,
            present: 0,
        };
        for (field, sources) in plan {
            if sources.len() > Pick::MAX {
                return None;
            }
            let mut p = Pick {
                field: *field,
                auth: field.blank_is_value(),
                n: sources.len() as u8,
                at: [0; Pick::MAX],
                unit: [None; Pick::MAX],
            };
            for (k, (src, unit)) in sources.iter().enumerate() {
                let at = match *src {
                    Src::Slot(i) => i as usize,
                    Src::Extra(j) => extras + j as usize,
                };
                if at >= POSITIONS - 1 {
                    return None;
                }
                p.at[k] = at as u8;
                p.unit[k] = *unit;
            }
            match sources.len() {
                1 => {
                    d.at[*field as usize] = p.at[0];
                    if *field == Field::Latency {
                        d.latency_unit = latency_unit(p.unit[0]);
                    }
                    if !p.auth {
                        d.single.push((*field, p.at[0]));
                    }
                }
                _ => d.picks.push(p),
            }
        }
        d.present = mask(d.at.iter().map(|&p| p != Picked::NONE));
        Some(d)
    }

    /// The fields of a line of this shape, from its positions.
    #[inline(always)]
    fn pick<'p, 'r>(&self, pos: &'p Positions<'r>) -> Picked<'p, 'r> {
        let mut f = Picked {
            pos,
            at: self.at,
            latency_unit: self.latency_unit,
            present: self.present,
        };
        for &(field, at) in &self.single {
            if pos.get(at).is_none_or(is_blank) {
                f.at[field as usize] = Picked::NONE;
                f.present &= !(1 << field as u32);
                if field == Field::Latency {
                    f.latency_unit = None;
                }
            }
        }
        for p in &self.picks {
            for k in 0..p.n as usize {
                let Some(v) = pos.get(p.at[k]) else {
                    continue;
                };
                if p.auth || !is_blank(v) {
                    f.at[p.field as usize] = p.at[k];
                    f.present |= 1 << p.field as u32;
                    if p.field == Field::Latency {
                        f.latency_unit = latency_unit(p.unit[k]);
                    }
                    break;
                }
            }
        }
        f
    }
}

/// A worker's mapping plans, one per sequence of keys met (see
/// [`FieldMap::resolve_clf_with`]). Bounded: a log whose keys vary from
/// line to line costs planning time, not memory.
#[derive(Debug, Default)]
pub struct Plans {
    shapes: Vec<Shape>,
    /// The shape [`Plans::find`] found last.
    last: usize,
    /// The map the plans were made for.
    map: u64,
}

impl Plans {
    const MAX: usize = 16;

    /// Forgets the plans when they were made for another map than `map`
    /// (a worker's plans go from file to file, and files of different
    /// formats have different maps).
    #[inline(always)]
    pub fn bind(&mut self, map: &FieldMap) {
        if self.map != map.id {
            self.shapes.clear();
            self.last = 0;
            self.map = map.id;
        }
    }

    /// The plan for a line with `n` keys, `key(j)` (`None`: an unkeyed
    /// field); with `slots`, the line also has the fixed CLF slots.
    fn find<'k>(
        &mut self,
        map: &FieldMap,
        slots: bool,
        n: usize,
        key: impl Fn(usize) -> Option<&'k str>,
    ) -> &Plan {
        self.bind(map);
        let same = |s: &Shape| {
            s.slots == slots
                && s.keys.len() == n
                && (s.keys.iter().enumerate()).all(|(j, k)| match (k.as_deref(), key(j)) {
                    (Some(a), Some(b)) => crate::text::eq(a, b),
                    (a, b) => a.is_none() && b.is_none(),
                })
        };
        if let Some(i) = self.shapes.iter().position(same) {
            self.last = i;
            return &self.shapes[i].plan;
        }
        if self.shapes.len() >= Self::MAX {
            self.shapes.remove(0);
        }
        self.last = self.shapes.len();
        let keys: Vec<Option<&str>> = (0..n).map(key).collect();
        let plain = keys
            .iter()
            .all(|k| k.is_some_and(crate::format::json::plain_key));
        let plan = map.plan(&keys, slots);
        self.shapes.push(Shape {
            slots,
            direct: match (slots, plain) {
                (true, _) => Direct::new(&plan, crate::format::clf::SLOTS.len()),
                (false, true) => Direct::new(&plan, 0),
                (false, false) => None,
            },
            plan,
            keys: keys.iter().map(|k| k.map(Box::from)).collect(),
            plain,
        });
        &self.shapes.last().expect("just pushed").plan
    }

    /// [`Plans::find`], or straight the last plan found when the record
    /// was parsed with its keys as the hint ([`Plans::clf_hint`],
    /// [`Plans::json_hint`]) and had them all (`hinted`).
    #[inline]
    fn find_hinted<'k>(
        &mut self,
        map: &FieldMap,
        slots: bool,
        hinted: impl Fn(&[Option<Box<str>>]) -> bool,
        n: usize,
        key: impl Fn(usize) -> Option<&'k str>,
    ) -> &Plan {
        self.bind(map);
        let last = self.shapes.get(self.last);
        if last.is_some_and(|s| s.slots == slots && hinted(&s.keys)) {
            return &self.shapes[self.last].plan;
        }
        self.find(map, slots, n, key)
    }

    /// The trailing keys of the combined line whose plan was found last:
    /// the keys the next line most likely has, for
    /// [`crate::format::clf::parse_hinted`].
    #[inline]
    pub fn clf_hint(&self) -> Option<&[Option<Box<str>>]> {
        let s = self.shapes.get(self.last)?;
        s.slots.then_some(&s.keys[..])
    }

    /// The fields of a combined line (`pos`, still empty) with the
    /// trailing keys of the line before it, straight from its positions:
    /// the same as [`FieldMap::clf_fields`] of its record. `None` for a line
    /// of any other shape (or one the marked tokenizer leaves), which the
    /// caller then parses into a record. The caller owns the positions:
    /// returned, they were copied.
    #[inline(always)]
    pub fn clf_direct<'p, 'r>(
        &self,
        pos: &'p mut Positions<'r>,
        marks: Option<&crate::format::marks::Marks>,
    ) -> Option<Picked<'p, 'r>> {
        let s = self.shapes.get(self.last)?;
        let d = s.direct.as_ref().filter(|_| s.slots)?;
        if !crate::format::clf::tokenize_direct(pos, &s.keys, marks) {
            return None;
        }
        Some(d.pick(pos))
    }

    /// [`Plans::clf_direct`] for a JSON line (`pos`, still empty) with the
    /// keys of the line before it: the same as [`FieldMap::json_fields`] of
    /// its record.
    #[inline(always)]
    pub fn json_direct<'p, 'r>(&self, pos: &'p mut Positions<'r>) -> Option<Picked<'p, 'r>> {
        let s = self.shapes.get(self.last)?;
        let d = s.direct.as_ref().filter(|_| !s.slots)?;
        if !crate::format::json::scan_direct(pos, &s.keys) {
            return None;
        }
        Some(d.pick(pos))
    }

    /// The keys of the JSON line whose plan was found last, when they can
    /// hint [`crate::format::json::parse_hinted`].
    #[inline]
    pub fn json_hint(&self) -> Option<&[Option<Box<str>>]> {
        let s = self.shapes.get(self.last)?;
        (!s.slots && s.plain).then_some(&s.keys[..])
    }
}

/// Field values as strings, as found on the line.
#[derive(Debug)]
pub struct RawEvent<'r> {
    values: [Option<Cow<'r, str>>; FIELDS.len()],
    latency_unit: Option<LatencyUnit>,
    /// Rank of the source each offered value came from ([`FieldMap::resolve`]);
    /// `u8::MAX` when unset. A plan fills values without ranking them.
    ranks: [u8; FIELDS.len()],
}

impl Default for RawEvent<'_> {
    fn default() -> Self {
        RawEvent {
            values: Default::default(),
            latency_unit: None,
            ranks: [u8::MAX; FIELDS.len()],
        }
    }
}

impl<'r> RawEvent<'r> {
    /// Takes `v` for `t.field` if it beats the source seen so far (a lower
    /// rank; on equal rank the first offered stays).
    #[inline]
    fn offer(&mut self, t: &Target, v: Cow<'r, str>) {
        let i = t.field.index();
        if t.rank >= self.ranks[i] {
            return;
        }
        if !t.field.blank_is_value() && is_blank(&v) {
            return;
        }
        self.values[i] = Some(v);
        self.ranks[i] = t.rank;
        if t.field == Field::Latency {
            self.latency_unit = latency_unit(t.unit);
        }
    }

    pub fn get(&self, f: Field) -> Option<&str> {
        self.values[f.index()].as_deref()
    }

    /// Bit set of the fields that have a value, for "fields provided" reports.
    pub fn present_mask(&self) -> u32 {
        mask(self.values.iter().map(Option::is_some))
    }

    /// Types the fields. Errors are skip reasons.
    pub fn normalize(&self) -> Result<Event<'_>, crate::format::SkipReason> {
        self.normalize_with(&mut TsCache::default())
    }

    /// [`RawEvent::normalize`] for a stream of lines, which share the
    /// timestamp cache `ts`.
    pub fn normalize_with(&self, ts: &mut TsCache) -> Result<Event<'_>, crate::format::SkipReason> {
        typed(|f| self.get(f), self.latency_unit, ts)
    }
}

/// Field values borrowed from a line or a record, as a plan takes them
/// ([`FieldMap::clf_fields`], [`FieldMap::json_fields`]): a
/// [`RawEvent`] with no owned text, so nothing to make or drop per line.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'r> {
    values: [Option<&'r str>; FIELDS.len()],
    latency_unit: Option<LatencyUnit>,
}

impl<'r> Fields<'r> {
    pub fn get(&self, f: Field) -> Option<&'r str> {
        self.values[f.index()]
    }

    /// Bit set of the fields that have a value.
    pub fn present_mask(&self) -> u32 {
        mask(self.values.iter().map(Option::is_some))
    }

    /// Types the fields, as [`RawEvent::normalize_with`].
    pub fn normalize_with(&self, ts: &mut TsCache) -> Result<Event<'r>, crate::format::SkipReason> {
        typed(|f| self.get(f), self.latency_unit, ts)
    }
}

/// The fields [`Plans::clf_direct`] or [`Plans::json_direct`] picked, as
/// positions of the line.
pub struct Picked<'p, 'r> {
    pos: &'p Positions<'r>,
    /// Per field, its position ([`Picked::NONE`]: no value).
    at: [u8; FIELDS.len()],
    latency_unit: Option<LatencyUnit>,
    /// Bit `i` set when `at[i]` is a position (kept as `at` changes: the
    /// mask was a loop over `at` on every line).
    present: u32,
}

impl<'r> Picked<'_, 'r> {
    const NONE: u8 = u8::MAX;

    #[inline(always)]
    pub fn get(&self, f: Field) -> Option<&'r str> {
        self.pos.get(self.at[f as usize])
    }

    /// Bit set of the fields that have a value.
    pub fn present_mask(&self) -> u32 {
        debug_assert_eq!(self.present, mask(self.at.iter().map(|&p| p != Self::NONE)));
        self.present
    }

    /// Types the fields, as [`RawEvent::normalize_with`].
    pub fn normalize_with(&self, ts: &mut TsCache) -> Result<Event<'r>, crate::format::SkipReason> {
        typed(|f| self.get(f), self.latency_unit, ts)
    }

    /// [`Picked::normalize_with`] into `out`: on the scan's hot path, an
    /// event returned by value was copied (200 bytes) on its way out.
    #[inline(never)]
    pub fn normalize_into(
        &self,
        ts: &mut TsCache,
        out: &mut Event<'r>,
    ) -> Result<(), crate::format::SkipReason> {
        typed_into(|f| self.get(f), self.latency_unit, ts, out)
    }
}

/// Bit `i` set for each present field `i`.
fn mask(present: impl Iterator<Item = bool>) -> u32 {
    present
        .enumerate()
        .fold(0, |m, (i, p)| m | ((p as u32) << i))
}

/// Types the fields that `get` gives. Errors are skip reasons.
#[inline(always)]
fn typed<'a>(
    get: impl Fn(Field) -> Option<&'a str>,
    latency_unit: Option<LatencyUnit>,
    ts: &mut TsCache,
) -> Result<Event<'a>, crate::format::SkipReason> {
    let mut e = Event::default();
    typed_into(get, latency_unit, ts, &mut e)?;
    Ok(e)
}

/// [`typed`] into `out`, which is left as it was on an error.
#[inline(always)]
fn typed_into<'a>(
    get: impl Fn(Field) -> Option<&'a str>,
    latency_unit: Option<LatencyUnit>,
    ts: &mut TsCache,
    out: &mut Event<'a>,
) -> Result<(), crate::format::SkipReason> {
    use crate::format::SkipReason;
    let ts_raw = get(Field::Timestamp).ok_or(SkipReason::NoTimestamp)?;
    let ts = ts.parse(ts_raw).ok_or(SkipReason::BadTimestamp)?;
    if !plausible(ts) {
        return Err(SkipReason::ImplausibleTimestamp);
    }
    let status = match get(Field::Status) {
        None => None,
        Some(s) => Some(parse_status(s).ok_or(SkipReason::BadStatus)?),
    };
    if status.is_none() && get(Field::Method).is_none() && get(Field::Path).is_none() {
        return Err(SkipReason::NotARequest);
    }
    let latency_ms = get(Field::Latency)
        .and_then(parse_f64)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| latency_unit.unwrap_or(LatencyUnit::Ms).to_ms(v));
    let attempt = get(Field::Attempt).and_then(parse_attempt);
    let (mut method, mut path) = (get(Field::Method), get(Field::Path));
    if method.is_none()
        && let Some((m, p)) = path.and_then(split_request_line)
    {
        (method, path) = (Some(m), Some(p));
    }
    let path = path.map(origin_form);
    *out = Event {
        ts,
        client_ip: get(Field::ClientIp),
        client_id: get(Field::ClientId),
        user: get(Field::User),
        method,
        path,
        status,
        user_agent: get(Field::UserAgent),
        client_app: get(Field::ClientApp),
        client_version: get(Field::ClientVersion),
        token_state: get(Field::TokenState),
        token_detail: get(Field::TokenDetail),
        latency_ms,
        token: get(Field::Token),
        attempt,
    };
    Ok(())
}

/// A number, with a fast path for plain decimals (`0.012`) that gives the
/// same, correctly rounded result as `str::parse`: a mantissa below 2^53
/// and a power of ten up to 10^22 are both exact, so one division rounds
/// once, correctly.
fn parse_f64(v: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let b = v.as_bytes();
    if !b.is_empty() && b.len() <= 16 {
        let (mut m, mut frac, mut dot, mut digits) = (0u64, 0usize, false, 0);
        let mut ok = true;
        for &c in b {
            match c {
                b'0'..=b'9' => {
                    m = m * 10 + (c - b'0') as u64;
                    digits += 1;
                    frac += dot as usize;
                }
                b'.' if !dot => dot = true,
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && (1..=15).contains(&digits) {
            // Through i64 (exact: below 10^16): x86 converts a signed
            // integer in one instruction, an unsigned one in several.
            return Some(m as i64 as f64 / POW10[frac]);
        }
    }
    v.trim().parse::<f64>().ok()
}

/// An HTTP status code (100 to 999), as `trim(s).parse::<u16>()` reads it,
/// with three plain digits (nearly every line) read straight.
#[inline]
fn parse_status(s: &str) -> Option<u16> {
    let code = match s.as_bytes() {
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            (a - b'0') as u16 * 100 + (b - b'0') as u16 * 10 + (c - b'0') as u16
        }
        _ => crate::text::trim(s).parse::<u16>().ok()?,
    };
    (100..=999).contains(&code).then_some(code)
}

/// Empty, whitespace or `-` (the "no value" of access logs).
#[inline]
fn is_blank(v: &str) -> bool {
    match v.as_bytes() {
        [] | [b'-'] => true,
        // Visible ends: nothing to trim, and longer than `-`.
        [c] if c.is_ascii_graphic() => false,
        [f, .., l] if f.is_ascii_graphic() && l.is_ascii_graphic() => false,
        _ => {
            let t = v.trim();
            t.is_empty() || t == "-"
        }
    }
}

/// 1990-01-01 to a day from now: outside it a clock is broken, and one such
/// line would stretch every time axis over decades.
fn plausible(ts: Micros) -> bool {
    use std::sync::OnceLock;
    static LATEST: OnceLock<Micros> = OnceLock::new();
    let latest = *LATEST.get_or_init(|| chrono::Utc::now().timestamp_micros() + 86_400 * 1_000_000);
    (631_152_000_000_000..=latest).contains(&ts)
}

/// A whole request line, `GET /path HTTP/1.1`, as method and target.
fn split_request_line(line: &str) -> Option<(&str, &str)> {
    let (m, rest) = line.split_once(' ')?;
    if m.is_empty() || m.len() > 16 || !m.bytes().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let target = match rest.rsplit_once(' ') {
        Some((t, proto)) if proto.starts_with("HTTP/") => t,
        _ => rest,
    };
    (!target.is_empty()).then_some((m, target))
}

/// A request target in absolute form (`https://auth.example.com:443/v1/me?x=1`,
/// as load balancers and forward proxies log it) as its path and query
/// (`/v1/me?x=1`): routes group by path, never by scheme and host. Any
/// other target is left as it is.
#[inline]
fn origin_form(target: &str) -> &str {
    // Nearly every target starts with `/`: one byte decides.
    if target.as_bytes().first().is_none_or(|c| *c == b'/') {
        return target;
    }
    let Some((scheme, rest)) = target.split_once("://") else {
        return target;
    };
    if !["http", "https", "ws", "wss"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
    {
        return target;
    }
    match rest.find(['/', '?', '#']) {
        Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
        // `https://host?x=1`, `https://host`: the root.
        _ => "/",
    }
}

/// `3`, or AWS SDK's `attempt=3; max=5`.
fn parse_attempt(s: &str) -> Option<u32> {
    let s = s.trim();
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    s.split(';')
        .filter_map(|p| p.trim().strip_prefix("attempt="))
        .find_map(|n| n.trim().parse().ok())
}

/// One request, typed. Strings borrow from the line.
#[derive(Debug, Clone, Default)]
pub struct Event<'r> {
    pub ts: Micros,
    pub client_ip: Option<&'r str>,
    pub client_id: Option<&'r str>,
    pub user: Option<&'r str>,
    pub method: Option<&'r str>,
    pub path: Option<&'r str>,
    pub status: Option<u16>,
    pub user_agent: Option<&'r str>,
    pub client_app: Option<&'r str>,
    pub client_version: Option<&'r str>,
    pub token_state: Option<&'r str>,
    /// An error description that may name the token state more exactly.
    pub token_detail: Option<&'r str>,
    pub latency_ms: Option<f64>,
    pub token: Option<&'r str>,
    pub attempt: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Kv(Vec<(&'static str, &'static str)>);
    impl Record for Kv {
        fn get(&self, key: &str) -> Option<Cow<'_, str>> {
            self.0
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| Cow::Borrowed(*v))
        }
    }

    #[test]
    fn a_whole_request_line_is_split() {
        let rec = Kv(vec![
            ("time_iso8601", "2025-01-21T04:00:46+05:30"),
            ("request", "GET /v1/me?x=1 HTTP/1.1"),
            ("status", "401"),
            ("auth_error", "invalid_token"),
            ("auth_error_description", "The access token expired"),
        ]);
        let ev = FieldMap::default().resolve(&rec);
        let e = ev.normalize().unwrap();
        assert_eq!((e.method, e.path), (Some("GET"), Some("/v1/me?x=1")));
        assert_eq!(e.token_state, Some("invalid_token"));
        assert_eq!(e.token_detail, Some("The access token expired"));
        assert_eq!(split_request_line("not a request"), None);
        assert_eq!(split_request_line("OPTIONS *"), Some(("OPTIONS", "*")));
        assert_eq!(split_request_line("GET  HTTP/1.1"), None);
    }

    #[test]
    fn an_absolute_target_becomes_its_path() {
        let rec = Kv(vec![
            ("time_iso8601", "2025-01-21T04:00:46+05:30"),
            (
                "request",
                "GET https://auth.example.com:443/v1/me?x=1 HTTP/1.1",
            ),
            ("status", "401"),
        ]);
        let ev = FieldMap::default().resolve(&rec);
        let e = ev.normalize().unwrap();
        assert_eq!((e.method, e.path), (Some("GET"), Some("/v1/me?x=1")));
        for (target, path) in [
            ("/v1/me", "/v1/me"),
            ("http://10.0.0.30:80/", "/"),
            ("HTTPS://auth.example.com/oauth/token", "/oauth/token"),
            ("wss://[2001:db8::1]:443/v1/events", "/v1/events"),
            ("https://auth.example.com:443", "/"),
            ("https://auth.example.com?x=1", "/"),
            ("ftp://files.example.com/a", "ftp://files.example.com/a"),
            ("*", "*"),
            ("auth.example.com:443", "auth.example.com:443"),
            ("", ""),
        ] {
            assert_eq!(origin_form(target), path, "{target}");
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let rec = Kv(vec![
            ("time", "2024-05-01T10:00:00Z"),
            ("status", "401"),
            ("duration_ms", "12.5"),
            ("authn.error", "token_expired"),
            ("took_us", "3000"),
            ("ua", "-"),
        ]);
        let ev = FieldMap::default().resolve(&rec);
        let e = ev.normalize().unwrap();
        assert_eq!(e.status, Some(401));
        assert_eq!(e.latency_ms, Some(12.5));
        assert_eq!(e.token_state, Some("token_expired"));
        assert_eq!(e.user_agent, None, "`-` is empty");

        let mut m = BTreeMap::new();
        m.insert(Field::Latency, "took_us".to_string());
        let ev = FieldMap::new(&m, Some(LatencyUnit::Us)).resolve(&rec);
        assert_eq!(ev.normalize().unwrap().latency_ms, Some(3.0));
    }

    #[test]
    fn skip_reasons() {
        use crate::format::SkipReason;
        let fm = FieldMap::default();
        let rec = Kv(vec![("status", "200")]);
        assert_eq!(
            fm.resolve(&rec).normalize().unwrap_err(),
            SkipReason::NoTimestamp
        );
        let rec = Kv(vec![("time", "yesterday"), ("status", "200")]);
        assert_eq!(
            fm.resolve(&rec).normalize().unwrap_err(),
            SkipReason::BadTimestamp
        );
        let rec = Kv(vec![("time", "1716723772"), ("status", "OK")]);
        assert_eq!(
            fm.resolve(&rec).normalize().unwrap_err(),
            SkipReason::BadStatus
        );
        let rec = Kv(vec![("time", "1970-01-02T00:00:00Z"), ("status", "200")]);
        assert_eq!(
            fm.resolve(&rec).normalize().unwrap_err(),
            SkipReason::ImplausibleTimestamp
        );
        let rec = Kv(vec![("time", "2999-01-01T00:00:00Z"), ("status", "200")]);
        assert_eq!(
            fm.resolve(&rec).normalize().unwrap_err(),
            SkipReason::ImplausibleTimestamp
        );
        let rec = Kv(vec![("time", "1716723772"), ("msg", "started")]);
        assert_eq!(
            fm.resolve(&rec).normalize().unwrap_err(),
            SkipReason::NotARequest
        );
    }

    /// A record seen only through `get`: the slow path, the reference.
    struct GetOnly<'a>(&'a dyn Record);
    impl Record for GetOnly<'_> {
        fn get(&self, key: &str) -> Option<Cow<'_, str>> {
            self.0.get(key)
        }
    }

    type Fields = ([Option<String>; FIELDS.len()], Option<LatencyUnit>, u32);

    fn fields_of(d: &Picked<'_, '_>) -> Fields {
        (
            FIELDS.map(|f| d.get(f).map(String::from)),
            d.latency_unit,
            d.present_mask(),
        )
    }

    fn fields_of_raw(e: &RawEvent<'_>) -> Fields {
        (
            FIELDS.map(|f| e.get(f).map(String::from)),
            e.latency_unit,
            e.present_mask(),
        )
    }

    #[test]
    fn visiting_keys_resolves_like_getting_them() {
        use crate::format::{clf, json, logfmt};
        let mut custom = BTreeMap::new();
        custom.insert(Field::ClientId, "extra_1".to_string());
        custom.insert(Field::TokenState, "req.auth.err".to_string());
        let maps = [FieldMap::default(), FieldMap::new(&custom, None)];
        let clf_lines = [
            r#"10.0.0.1 - bob [01/May/2024:10:00:00 +0000] "POST /oauth/token?x=1 HTTP/1.1" 401 53 "-" "acme/4.2.1" request_time=0.012 user=u-1 device=- auth_error="token expired" "d-9""#,
            r#"10.0.0.1 - - [01/May/2024:10:00:00 +0000] "\x16\x03" 400 0 "-" "-""#,
            r#"10.0.0.1 - frank [01/May/2024:10:00:00 +0000] "GET / HTTP/1.0" 200 -"#,
            r#"10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET / HTTP/1.0" 200 5 "-" "ua" remote_user=- status=503 time=1716723772"#,
            r#"10.0.0.1 - carol [01/May/2024:10:00:00 +0000] "GET /a\"b HTTP/1.0" 200 5 "-" "ua" "d-1" user=- remote_addr=10.9.9.9 extra_1=x client_ip=1.1.1.1 path="/p q""#,
            r#"10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET" 200 5 "r" "u a" a=1 = "x" b="" c"#,
            r#"10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /" 2000 5"#,
            r#"10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /x HTTP/1.1" 200 5 "-" " " request_time=- user=- device=d-1 auth_error=-"#,
        ];
        let json_lines = [
            r#"{"time":"2024-05-01T10:00:00Z","status":401,"req":{"auth":{"err":"expired"},"ua":["x/1"]},"duration_ms":3,"user":"-"}"#,
            r#"{"ts":1716723772,"http":{"status":200,"method":"GET"},"http.status":500,"a":null,"b":[]}"#,
            r#"{"time":"2024-05-01T10:00:00Z","status":401,"method":"GET","path":"/a","user":"-","auth_error":"-","duration_ms":3,"ok":true}"#,
            r#"  {"time":"2024-05-01T10:00:01Z","status":200,"method":"GET","path":"/b","user":"u","auth_error":"","duration_ms":"-","ok":false} "#,
            r#"{"time":"2024-05-01T10:00:02Z","status":200,"method":" ","path":"/c","user":"u","auth_error":"x","duration_ms":1e3,"ok":null}"#,
            r#"{"time":"2024-05-01T10:00:02Z","status":200,"method":"GET","path":"/c","user":"u","auth_error":"x","duration_ms":1,"ok":[1]}"#,
            "{ \"time\": \"2024-05-01T10:00:03Z\", \"status\":\t200 ,\"method\" : \"GET\", \"path\": \"/d\", \"duration_ms\": -1.5e-3, \"ok\": true }",
        ];
        let kv_lines = [
            r#"time=2024-05-01T10:00:00Z status=200 status=500 method=GET path=/a ua="x/1 y" auth_error="""#,
            r#"ts=1716723772 level=info msg=started took_us=12"#,
        ];
        for m in &maps {
            // One cache over all lines, as in a scan: key sequences recur.
            let mut plans = Plans::default();
            let check = |rec: &dyn Record, line: &str| {
                let fast = m.resolve(rec);
                let reference = GetOnly(rec);
                let slow = m.resolve(&reference);
                for f in FIELDS {
                    assert_eq!(fast.get(f), slow.get(f), "{f:?} of {line}");
                }
                assert_eq!(fast.latency_unit, slow.latency_unit, "{line}");
            };
            for (i, l) in clf_lines.iter().chain(&clf_lines).enumerate() {
                // The direct path, with the plan of the line before.
                let mut pos = Positions::empty(l);
                let before = plans.clf_direct(&mut pos, None).map(|d| fields_of(&d));
                let Ok(rec) = clf::parse(l) else {
                    assert!(before.is_none(), "{l}");
                    assert!(m.resolve_clf_with(l, &mut plans).is_err(), "{l}");
                    continue;
                };
                check(&rec, l);
                // The planned paths the scan uses give the same event:
                // borrowed from the line without escapes, owned with them.
                let fast = m.resolve_clf_with(l, &mut plans).unwrap();
                let slow = m.resolve(&rec);
                let borrowed = m.clf_fields(&rec, &mut plans);
                assert_eq!(borrowed.is_none(), l.contains('\\'), "{l}");
                for f in FIELDS {
                    assert_eq!(fast.get(f), slow.get(f), "planned {f:?} of {l}");
                    if let Some(b) = &borrowed {
                        assert_eq!(b.get(f), slow.get(f), "borrowed {f:?} of {l}");
                    }
                }
                assert_eq!(fast.latency_unit, slow.latency_unit, "{l}");
                if let Some(b) = &borrowed {
                    assert_eq!(b.latency_unit, slow.latency_unit, "{l}");
                    assert_eq!(b.present_mask(), slow.present_mask(), "{l}");
                }
                // And with the plan of its own keys, which the second pass
                // over the lines meets for every line.
                let mut pos = Positions::empty(l);
                let own = plans.clf_direct(&mut pos, None).map(|d| fields_of(&d));
                if [0, 2, 3, 7].contains(&(i % clf_lines.len())) {
                    assert!(own.is_some(), "the direct path takes {l}");
                }
                for d in [before, own].into_iter().flatten() {
                    assert_eq!(d, fields_of_raw(&slow), "direct path of {l}");
                }
            }
            for (i, l) in json_lines.iter().chain(&json_lines).enumerate() {
                let mut pos = Positions::empty(l);
                let before = plans.json_direct(&mut pos).map(|d| fields_of(&d));
                let rec = json::parse(l).unwrap();
                check(&rec, l);
                let fast = m.json_fields(&rec, &mut plans);
                let slow = m.resolve(&rec);
                for f in FIELDS {
                    assert_eq!(fast.get(f), slow.get(f), "planned {f:?} of {l}");
                }
                assert_eq!(fast.latency_unit, slow.latency_unit, "{l}");
                assert_eq!(fast.present_mask(), slow.present_mask(), "{l}");
                // The direct path, with the last line's keys and its own.
                let mut pos = Positions::empty(l);
                let own = plans.json_direct(&mut pos).map(|d| fields_of(&d));
                if [2, 3, 4, 6].contains(&(i % json_lines.len())) {
                    assert!(own.is_some(), "the direct path takes {l}");
                }
                for d in [before, own].into_iter().flatten() {
                    assert_eq!(d, fields_of_raw(&slow), "direct path of {l}");
                }
            }
            for l in kv_lines {
                check(&logfmt::parse(l).unwrap(), l);
            }
        }
    }

    #[test]
    fn decimals_parse_like_std() {
        for v in [
            "0.012",
            "0",
            "12",
            "1.5",
            "0.1",
            "0.3",
            "123456789.012345",
            "999999999999999",
            "0.000000000000001",
            "1.",
            ".5",
            "1e3",
            "-1",
            " 0.2 ",
            "1.2.3",
            "",
            ".",
            "nan",
            "9999999999999999",
            "0.30000000000000004",
        ] {
            let want = v.trim().parse::<f64>().ok();
            assert_eq!(
                parse_f64(v).map(f64::to_bits),
                want.map(f64::to_bits),
                "{v:?}"
            );
        }
        assert!(is_blank(" - ") && is_blank("-") && is_blank("") && is_blank("\u{a0}"));
        assert!(!is_blank("-1") && !is_blank("a"));
        for v in [
            "",
            " ",
            "-",
            " -",
            "- ",
            "--",
            "a",
            "ab",
            "a b",
            "\t-\t",
            "\u{a0}",
            "\u{a0}-",
            "é",
            "-é",
            "x\u{2003}",
            " x",
        ] {
            let t = v.trim();
            assert_eq!(is_blank(v), t.is_empty() || t == "-", "{v:?}");
        }
    }

    #[test]
    fn status_codes_parse_like_std() {
        let std = |s: &str| {
            crate::text::trim(s)
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=999).contains(c))
        };
        for s in [
            "200", "099", "100", "999", "1000", "20", "2", "", " 200", "200 ", "+200", "-200",
            "2x0", "0200", "65535", "65536", "abc", "٢٠٠",
        ] {
            assert_eq!(parse_status(s), std(s), "{s:?}");
        }
    }

    #[test]
    fn attempts() {
        assert_eq!(parse_attempt("3"), Some(3));
        assert_eq!(parse_attempt("attempt=2; max=5"), Some(2));
        assert_eq!(parse_attempt("x"), None);
    }
}
