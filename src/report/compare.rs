//! Two periods side by side (`authstorm compare A B`): per cohort (app ×
//! version × token state) and per endpoint, requests per hour, clients,
//! error share, retry share, resends and p95 latency in each, the change,
//! and whether the change is more than noise. Built from two cubes, so A
//! and B may be logs, cube files or (later) days from a stored history.
//!
//! Noise is judged on counts. Requests: under "no change", B's share of a
//! cohort's requests follows B's share of the time (a binomial), and the
//! change is significant when its z-score passes `z` (3.3 by default: a
//! two-sided p of 0.001, so that a table of dozens of rows raises no false
//! news). Error and retry shares: a two-proportion z-test between A and B.
//! A cohort present on one side only is new or vanished.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aggregate::{Cell, CellKey, Cube, SketchSum, cube::union};
use crate::classify::TokenState;
use crate::time::{MICROS_PER_SEC, rfc3339};

pub const COMPARE_SCHEMA: &str = "authstorm/compare/v1";
/// Two-sided p < 0.001.
pub const DEFAULT_Z: f64 = 3.29;

/// One side's label and time span.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub label: String,
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(skip)]
    pub start_us: Option<crate::time::Micros>,
    #[serde(skip)]
    pub end_us: Option<crate::time::Micros>,
    /// Hours covered: the buckets from the first to the last request.
    pub hours: f64,
    pub requests: u64,
}

/// A cohort's or endpoint's numbers in one period.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Measures {
    pub requests: u64,
    pub requests_per_hour: f64,
    pub clients: u64,
    pub errors: u64,
    pub error_share: f64,
    pub retries: u64,
    pub retry_share: f64,
    pub resends: u64,
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Both,
    /// Only in B.
    New,
    /// Only in A.
    Vanished,
}

/// One row: what it is, its numbers in A and B, the change and its weight.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `app version token` for a cohort, `METHOD /route` for an endpoint.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_state: Option<TokenState>,
    pub a: Measures,
    pub b: Measures,
    pub presence: Presence,
    /// B's rate over A's (`None` when A had none).
    pub rate_ratio: Option<f64>,
    /// Requests in B above (or below) what A's rate predicts for B's time.
    pub excess_requests: f64,
    /// z-scores of the changes in request rate, error share, retry share.
    pub z_requests: f64,
    pub z_errors: f64,
    pub z_retries: f64,
    /// Some change passes the threshold.
    pub significant: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub schema: &'static str,
    pub a: Side,
    pub b: Side,
    /// The z-score a change must pass to count.
    pub z: f64,
    /// Most changed first: significant before not, then by the size of the
    /// largest z-score.
    pub cohorts: Vec<Change>,
    pub endpoints: Vec<Change>,
}

/// Sums of cells for one cohort or endpoint.
#[derive(Default)]
struct Acc {
    requests: u64,
    errors: u64,
    retries: u64,
    resends: u64,
    clients: Vec<u64>,
    latency: SketchSum,
}

impl Acc {
    fn add(&mut self, c: &Cell) {
        self.requests += c.requests;
        self.errors += c.errors;
        self.retries += c.retries;
        self.resends += c.resends;
        self.clients = union(&self.clients, &c.clients);
        self.latency.add(&c.latency);
    }

    fn measures(&self, hours: f64) -> Measures {
        let share = |n: u64| {
            if self.requests == 0 {
                0.0
            } else {
                n as f64 / self.requests as f64
            }
        };
        Measures {
            requests: self.requests,
            requests_per_hour: if hours > 0.0 {
                self.requests as f64 / hours
            } else {
                0.0
            },
            clients: self.clients.len() as u64,
            errors: self.errors,
            error_share: share(self.errors),
            retries: self.retries,
            retry_share: share(self.retries),
            resends: self.resends,
            p95_ms: self.latency.quantile(0.95),
        }
    }
}

type CohortKey = (String, String, TokenState);

fn side(label: &str, cube: &Cube) -> Side {
    Side {
        label: label.to_string(),
        start: cube.time_min.map(rfc3339),
        end: cube.time_max.map(rfc3339),
        start_us: cube.time_min,
        end_us: cube.time_max,
        hours: hours(cube),
        requests: cube.cells.values().map(|c| c.requests).sum(),
    }
}

/// The span of the buckets from the first request to the last, in hours
/// (at least one bucket).
fn hours(cube: &Cube) -> f64 {
    let Some((lo, hi)) = cube.bucket_range() else {
        return 0.0;
    };
    let us = (hi - lo + 1) as f64 * cube.bucket_us() as f64;
    us / (3600.0 * MICROS_PER_SEC as f64)
}

/// Compares B with A.
pub fn compare(a_label: &str, a: &Cube, b_label: &str, b: &Cube, z: f64) -> Comparison {
    let (ha, hb) = (hours(a), hours(b));
    let group = |cube: &Cube, key: &dyn Fn(&CellKey) -> String| {
        let mut m: BTreeMap<String, Acc> = BTreeMap::new();
        for (k, c) in &cube.cells {
            m.entry(key(k)).or_default().add(c);
        }
        m
    };
    let cohort_key =
        |k: &CellKey| -> CohortKey { (k.app.clone(), k.version.clone(), k.token_state) };
    let cohorts = {
        let by = |cube: &Cube| {
            let mut m: BTreeMap<CohortKey, Acc> = BTreeMap::new();
            for (k, c) in &cube.cells {
                m.entry(cohort_key(k)).or_default().add(c);
            }
            m
        };
        let (ma, mb) = (by(a), by(b));
        let keys: std::collections::BTreeSet<&CohortKey> = ma.keys().chain(mb.keys()).collect();
        let empty = Acc::default();
        let mut rows: Vec<Change> = keys
            .into_iter()
            .map(|k| {
                let mut c = change(
                    format!("{} {} {}", k.0, k.1, k.2.name()),
                    ma.get(k).unwrap_or(&empty),
                    mb.get(k).unwrap_or(&empty),
                    (ha, hb),
                    z,
                );
                c.app = Some(k.0.clone());
                c.version = Some(k.1.clone());
                c.token_state = Some(k.2);
                c
            })
            .collect();
        rank(&mut rows);
        rows
    };
    let endpoints = {
        let (ma, mb) = (
            group(a, &|k| k.endpoint.clone()),
            group(b, &|k| k.endpoint.clone()),
        );
        let keys: std::collections::BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
        let empty = Acc::default();
        let mut rows: Vec<Change> = keys
            .into_iter()
            .map(|k| {
                change(
                    k.clone(),
                    ma.get(k).unwrap_or(&empty),
                    mb.get(k).unwrap_or(&empty),
                    (ha, hb),
                    z,
                )
            })
            .collect();
        rank(&mut rows);
        rows
    };
    Comparison {
        schema: COMPARE_SCHEMA,
        a: side(a_label, a),
        b: side(b_label, b),
        z,
        cohorts,
        endpoints,
    }
}

fn change(name: String, a: &Acc, b: &Acc, (ha, hb): (f64, f64), z: f64) -> Change {
    let (ma, mb) = (a.measures(ha), b.measures(hb));
    let presence = match (a.requests, b.requests) {
        (0, _) => Presence::New,
        (_, 0) => Presence::Vanished,
        _ => Presence::Both,
    };
    let (z_requests, excess) = rate_z(a.requests, ha, b.requests, hb);
    let z_errors = share_z(a.errors, a.requests, b.errors, b.requests);
    let z_retries = share_z(a.retries, a.requests, b.retries, b.requests);
    let significant = [z_requests, z_errors, z_retries]
        .iter()
        .any(|v| v.abs() >= z);
    Change {
        name,
        app: None,
        version: None,
        token_state: None,
        rate_ratio: (ma.requests_per_hour > 0.0)
            .then(|| mb.requests_per_hour / ma.requests_per_hour),
        a: ma,
        b: mb,
        presence,
        excess_requests: excess,
        z_requests,
        z_errors,
        z_retries,
        significant,
    }
}

/// The z-score of B's count against what the pooled rate predicts for B's
/// time (B's count given the total is binomial with B's share of the
/// time), and B's count minus that prediction.
pub fn rate_z(xa: u64, ha: f64, xb: u64, hb: f64) -> (f64, f64) {
    let n = (xa + xb) as f64;
    if n == 0.0 || ha + hb <= 0.0 {
        return (0.0, 0.0);
    }
    let p = hb / (ha + hb);
    let expected = n * p;
    let var = n * p * (1.0 - p);
    let excess = xb as f64 - expected;
    if var <= 0.0 {
        return (0.0, excess);
    }
    (excess / var.sqrt(), excess)
}

/// The two-proportion z-score of `xb/nb` against `xa/na` (0 when either
/// side has no requests, or the pooled share is 0 or 1).
pub fn share_z(xa: u64, na: u64, xb: u64, nb: u64) -> f64 {
    if na == 0 || nb == 0 {
        return 0.0;
    }
    let (na, nb) = (na as f64, nb as f64);
    let pooled = (xa + xb) as f64 / (na + nb);
    let var = pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb);
    if var <= 0.0 {
        return 0.0;
    }
    (xb as f64 / nb - xa as f64 / na) / var.sqrt()
}

fn rank(rows: &mut [Change]) {
    let weight = |c: &Change| {
        c.z_requests
            .abs()
            .max(c.z_errors.abs())
            .max(c.z_retries.abs())
    };
    rows.sort_by(|x, y| {
        y.significant
            .cmp(&x.significant)
            .then(weight(y).total_cmp(&weight(x)))
            .then(x.name.cmp(&y.name))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_judge_noise() {
        // Same rate, twice the time: no change.
        let (z, e) = rate_z(100, 1.0, 200, 2.0);
        assert!(z.abs() < 1e-9 && e.abs() < 1e-9, "{z} {e}");
        // 100 vs 130 in equal time is within noise; 100 vs 300 is not.
        assert!(rate_z(100, 1.0, 130, 1.0).0.abs() < DEFAULT_Z);
        assert!(rate_z(100, 1.0, 300, 1.0).0 > DEFAULT_Z);
        // A handful is never news.
        assert!(rate_z(1, 1.0, 4, 1.0).0 < DEFAULT_Z);
        // Error share 1% -> 1.2% on 1,000 requests: noise; 1% -> 30%: not.
        assert!(share_z(10, 1000, 12, 1000).abs() < DEFAULT_Z);
        assert!(share_z(10, 1000, 300, 1000) > DEFAULT_Z);
        assert_eq!(share_z(0, 0, 5, 10), 0.0);
    }
}
