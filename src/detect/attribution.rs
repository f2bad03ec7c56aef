//! Attribution: which combination of app × version set × token state ×
//! endpoint explains an episode's excess.
//!
//! In the spirit of Adtributor (Bhagwan et al., NSDI 2014) extended to
//! combinations as in Squeeze / RiskLoc: every leaf (app, version, token
//! state, endpoint) has an observed count `v` and a forecast `f`. A
//! candidate fixes any subset of app, token state and endpoint, and either
//! all versions or the set of versions whose own relative deviation
//! 2(v−f)/(v+f) is at least 0.5 (the "generalized ripple effect": a root
//! cause moves all its leaves by a similar, large relative amount) and
//! whose excess is at least 1% of the group's; version sets are only
//! formed within one app. Its explanatory power EP is its
//! share of the total excess; its purity is the part of its traffic that is
//! excess. As in Adtributor, the whole is the anomaly, not an explanation:
//! a candidate must be markedly purer than all traffic (purity ≥ P0 +
//! 0.3·(1 − P0), P0 the overall purity); when none is — the excess is spread
//! evenly, as in an outage — the culprit is everything. Score = EP × purity;
//! among candidates within 10% of the best score the most specific wins, so
//! culprits name app, versions and token state. The top three are taken
//! greedily, each removing its leaves before the next search. Surprise
//! (Jensen–Shannon between forecast and observed shares) is reported.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::classify::{TokenState, Version};

#[derive(Debug, Clone)]
pub struct Leaf {
    pub app: String,
    pub version: String,
    pub token_state: TokenState,
    pub endpoint: String,
    pub v: f64,
    pub f: f64,
}

/// A combination of dimension values; `None` means any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Combo {
    pub app: Option<String>,
    pub versions: Option<Vec<String>>,
    pub token_state: Option<TokenState>,
    pub endpoint: Option<String>,
}

impl Combo {
    pub fn matches(&self, app: &str, version: &str, token: TokenState, endpoint: &str) -> bool {
        self.app.as_deref().is_none_or(|a| a == app)
            && self
                .versions
                .as_ref()
                .is_none_or(|vs| vs.iter().any(|v| v == version))
            && self.token_state.is_none_or(|t| t == token)
            && self.endpoint.as_deref().is_none_or(|e| e == endpoint)
    }

    fn specificity(&self) -> usize {
        self.app.is_some() as usize
            + self.versions.is_some() as usize
            + self.token_state.is_some() as usize
            + self.endpoint.is_some() as usize
    }
}

#[derive(Debug, Clone)]
pub struct Scored {
    pub combo: Combo,
    pub v: f64,
    pub f: f64,
    pub share_of_excess: f64,
    pub surprise: f64,
    score: f64,
}

/// Fixed (app, token state, endpoint) of a candidate; `None` is any.
type GroupKey<'a> = (Option<&'a str>, Option<TokenState>, Option<&'a str>);

/// Adtributor's per-element explanatory-power threshold, within a group.
const MIN_VERSION_SHARE: f64 = 0.01;

pub(crate) fn js(p: f64, q: f64) -> f64 {
    let term = |a: f64, b: f64| {
        if a > 0.0 {
            a * (2.0 * a / (a + b)).ln()
        } else {
            0.0
        }
    };
    0.5 * (term(p, q) + term(q, p))
}

fn deviation(v: f64, f: f64) -> f64 {
    if v + f > 0.0 {
        2.0 * (v - f) / (v + f)
    } else {
        0.0
    }
}

/// Top `k` culprits explaining the positive excess of `leaves`.
pub fn attribute(leaves: &[Leaf], k: usize) -> Vec<Scored> {
    let total_excess: f64 = leaves.iter().map(|l| l.v - l.f).sum();
    let (tv, tf): (f64, f64) = leaves
        .iter()
        .fold((0.0, 0.0), |(a, b), l| (a + l.v, b + l.f));
    if total_excess <= 0.0 {
        return Vec::new();
    }
    let p0 = total_excess / tv;
    let min_purity = p0 + 0.3 * (1.0 - p0);
    let mut live: Vec<bool> = vec![true; leaves.len()];
    let mut out: Vec<Scored> = Vec::new();
    while out.len() < k {
        let best = match best_combo(leaves, &live, total_excess, tv, tf, min_purity) {
            Some(b) => b,
            None if out.is_empty() => {
                // Nothing stands out: the whole traffic moved.
                return vec![Scored {
                    combo: Combo {
                        app: None,
                        versions: None,
                        token_state: None,
                        endpoint: None,
                    },
                    v: tv,
                    f: tf,
                    share_of_excess: 1.0,
                    surprise: 0.0,
                    score: p0,
                }];
            }
            None => break,
        };
        if best.share_of_excess < if out.is_empty() { 0.1 } else { 0.05 } {
            break;
        }
        for (i, l) in leaves.iter().enumerate() {
            if best
                .combo
                .matches(&l.app, &l.version, l.token_state, &l.endpoint)
            {
                live[i] = false;
            }
        }
        out.push(best);
    }
    out
}

fn best_combo(
    leaves: &[Leaf],
    live: &[bool],
    total_excess: f64,
    tv: f64,
    tf: f64,
    min_purity: f64,
) -> Option<Scored> {
    let mut cands: Vec<Scored> = Vec::new();
    for mask in 0..8u8 {
        // Group live leaves by the fixed dimensions of this mask.
        let mut groups: BTreeMap<GroupKey, Vec<usize>> = BTreeMap::new();
        for (i, l) in leaves.iter().enumerate().filter(|(i, _)| live[*i]) {
            let key = (
                (mask & 1 != 0).then_some(l.app.as_str()),
                (mask & 2 != 0).then_some(l.token_state),
                (mask & 4 != 0).then_some(l.endpoint.as_str()),
            );
            groups.entry(key).or_default().push(i);
        }
        for ((app, token, endpoint), idx) in groups {
            let mut by_version: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
            for &i in &idx {
                let e = by_version.entry(leaves[i].version.as_str()).or_default();
                e.0 += leaves[i].v;
                e.1 += leaves[i].f;
            }
            // A version belongs to the set when it moved a lot relative to
            // itself and carries a real part of the group's excess (a single
            // stray error on an idle version is not a cause).
            let group_excess: f64 = by_version.values().map(|(v, f)| (v - f).max(0.0)).sum();
            let selected: BTreeSet<&str> = by_version
                .iter()
                .filter(|(_, (v, f))| {
                    v > f && deviation(*v, *f) >= 0.5 && (v - f) >= MIN_VERSION_SHARE * group_excess
                })
                .map(|(k, _)| *k)
                .collect();
            let mut options: Vec<Option<Vec<String>>> = if mask == 0 { vec![] } else { vec![None] };
            if app.is_some() && !selected.is_empty() && selected.len() < by_version.len() {
                let mut vs: Vec<&str> = selected.into_iter().collect();
                vs.sort_by(|a, b| Version(a).cmp(&Version(b)));
                options.push(Some(vs.into_iter().map(String::from).collect()));
            }
            for versions in options {
                let combo = Combo {
                    app: app.map(String::from),
                    versions,
                    token_state: token,
                    endpoint: endpoint.map(String::from),
                };
                let (v, f) = idx
                    .iter()
                    .filter(|&&i| {
                        combo.matches(
                            &leaves[i].app,
                            &leaves[i].version,
                            leaves[i].token_state,
                            &leaves[i].endpoint,
                        )
                    })
                    .fold((0.0, 0.0), |(a, b), &i| (a + leaves[i].v, b + leaves[i].f));
                let excess = v - f;
                if excess <= 0.0 || v <= 0.0 {
                    continue;
                }
                let ep = excess / total_excess;
                let purity = excess / v;
                if purity < min_purity {
                    continue;
                }
                let surprise = js(
                    if tf > 0.0 { f / tf } else { 0.0 },
                    if tv > 0.0 { v / tv } else { 0.0 },
                );
                cands.push(Scored {
                    combo,
                    v,
                    f,
                    share_of_excess: ep,
                    surprise,
                    score: ep * purity,
                });
            }
        }
    }
    let top = cands.iter().map(|c| c.score).fold(f64::MIN, f64::max);
    cands
        .into_iter()
        .filter(|c| c.score >= 0.9 * top)
        .max_by(|a, b| {
            a.combo
                .specificity()
                .cmp(&b.combo.specificity())
                .then(a.score.total_cmp(&b.score))
                .then_with(|| format!("{:?}", b.combo).cmp(&format!("{:?}", a.combo)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(app: &str, version: &str, t: TokenState, e: &str, v: f64, f: f64) -> Leaf {
        Leaf {
            app: app.into(),
            version: version.into(),
            token_state: t,
            endpoint: e.into(),
            v,
            f,
        }
    }

    #[test]
    fn finds_versions_token_and_endpoint() {
        use TokenState::*;
        let mut leaves = Vec::new();
        for v in ["4.1.0", "4.3.0", "4.3.1"] {
            leaves.push(leaf("desktop", v, Valid, "GET /s", 1100.0, 1000.0));
            leaves.push(leaf("desktop", v, Expired, "GET /s", 12.0, 10.0));
        }
        for v in ["4.2.0", "4.2.1", "4.2.3"] {
            leaves.push(leaf("desktop", v, Valid, "GET /s", 1050.0, 1000.0));
            leaves.push(leaf("desktop", v, Expired, "GET /s", 9000.0, 10.0));
            leaves.push(leaf("desktop", v, Expired, "POST /token", 5.0, 5.0));
        }
        leaves.push(leaf("mobile", "5.1", Valid, "GET /s", 2100.0, 2000.0));
        let top = attribute(&leaves, 3);
        let c = &top[0].combo;
        assert_eq!(c.app.as_deref(), Some("desktop"));
        assert_eq!(
            c.versions,
            Some(vec!["4.2.0".into(), "4.2.1".into(), "4.2.3".into()])
        );
        assert_eq!(c.token_state, Some(Expired));
        assert_eq!(c.endpoint.as_deref(), Some("GET /s"));
        assert!(top[0].share_of_excess > 0.9, "{}", top[0].share_of_excess);
        assert!(top[0].surprise > 0.1);
    }

    #[test]
    fn two_causes_and_nothing() {
        use TokenState::*;
        let leaves = vec![
            leaf("desktop", "4.2", Expired, "GET /s", 5000.0, 10.0),
            leaf("mobile", "5.0", Invalid, "POST /token", 3000.0, 10.0),
            leaf("web", "Chrome 1", Valid, "GET /s", 1000.0, 1000.0),
        ];
        let top = attribute(&leaves, 3);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].combo.app.as_deref(), Some("desktop"));
        assert_eq!(top[1].combo.app.as_deref(), Some("mobile"));
        assert_eq!(top[1].combo.token_state, Some(Invalid));
        assert!(attribute(&[leaf("a", "1", Valid, "x", 10.0, 20.0)], 3).is_empty());
        // Everything doubled: no cohort stands out.
        let even = vec![
            leaf("a", "1", Valid, "x", 200.0, 100.0),
            leaf("b", "2", Valid, "y", 400.0, 200.0),
        ];
        let top = attribute(&even, 3);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].combo.app, None);
    }
}
