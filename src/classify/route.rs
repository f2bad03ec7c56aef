//! Endpoint routes: the path without its query, with ids collapsed
//! (`/v1/users/4821/devices` → `/v1/users/:id/devices`) so that routes
//! group instead of exploding into one row per id.

use std::borrow::Cow;

pub fn strip_query(p: &str) -> &str {
    let end = p.find(['?', '#']).unwrap_or(p.len());
    &p[..end]
}

fn is_id(seg: &str) -> bool {
    let b = seg.as_bytes();
    if b.is_empty() {
        return false;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == b.len() {
        return true;
    }
    let hexish = b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-');
    if hexish && b.len() >= 8 && digits > 0 {
        return true; // uuids, hashes
    }
    if b.len() >= 16 && digits > 0 {
        return true; // opaque ids, tokens in paths
    }
    // Long percent-encoded segments (search terms, filters) are data, not routes.
    b.len() > 24 && seg.contains('%')
}

const MAX_ROUTE: usize = 120;

pub fn collapse(path: &str) -> Cow<'_, str> {
    let p = strip_query(path);
    let needs = p.len() != path.len() || p.len() > MAX_ROUTE || p.split('/').any(is_id);
    if !needs {
        return Cow::Borrowed(p);
    }
    let mut out = String::with_capacity(p.len().min(MAX_ROUTE + 4));
    for (i, seg) in p.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(if is_id(seg) { ":id" } else { seg });
        if out.len() > MAX_ROUTE {
            let mut cut = MAX_ROUTE;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push('…');
            break;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_ids() {
        assert_eq!(
            collapse("/v1/users/4821/devices?x=1"),
            "/v1/users/:id/devices"
        );
        assert_eq!(
            collapse("/s/550e8400-e29b-41d4-a716-446655440000"),
            "/s/:id"
        );
        assert_eq!(collapse("/oauth/token"), "/oauth/token");
        assert_eq!(collapse("/a/deadbeef12"), "/a/:id");
        assert_eq!(collapse("/static/app.js"), "/static/app.js");
        assert!(collapse(&"/x".repeat(200)).chars().count() <= MAX_ROUTE + 1);
        assert_eq!(strip_query("/healthz?full=1"), "/healthz");
    }
}
