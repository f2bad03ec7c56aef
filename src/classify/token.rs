//! Token state: `valid`, `expired`, `invalid`, `missing` or `unknown`.
//!
//! Order of evidence: (1) a token-state field, normalized through a
//! vocabulary of common error codes; (2) a JWT in the token field, whose
//! `exp` is compared with the request time (the token is never stored or
//! printed); (3) the status code. The exact rules: docs/config.md.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::event::Event;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenState {
    Valid,
    Expired,
    Invalid,
    Missing,
    Unknown,
}

impl TokenState {
    /// A state the service answers with a rejection: the client must get a
    /// new token before a request can succeed.
    pub fn is_rejected(self) -> bool {
        matches!(
            self,
            TokenState::Expired | TokenState::Invalid | TokenState::Missing
        )
    }

    pub const ALL: [TokenState; 5] = [
        TokenState::Valid,
        TokenState::Expired,
        TokenState::Invalid,
        TokenState::Missing,
        TokenState::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TokenState::Valid => "valid",
            TokenState::Expired => "expired",
            TokenState::Invalid => "invalid",
            TokenState::Missing => "missing",
            TokenState::Unknown => "unknown",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Extra vocabulary from the config (`[token_states]`), matched exactly
/// (case-insensitive) before the built-in rules.
#[derive(Debug, Clone, Default)]
pub struct TokenVocabulary {
    pub extra: Vec<(String, TokenState)>,
}

/// Values that mean "checked, no error".
const NO_ERROR: [&str; 8] = [
    "",
    "-",
    "none",
    "ok",
    "valid",
    "success",
    "authenticated",
    "null",
];

impl TokenVocabulary {
    /// [`TokenVocabulary::normalize`] of the blank values most lines
    /// carry (`-`, empty), when it needs no work; `None` otherwise.
    #[inline]
    pub fn blank(&self, raw: &str) -> Option<Option<TokenState>> {
        (self.extra.is_empty() && matches!(raw, "-" | "")).then_some(None)
    }

    /// Normalizes a token-state field value. `None` means "no error reported".
    pub fn normalize(&self, raw: &str) -> Option<TokenState> {
        let t = crate::text::trim(raw).trim_matches('"');
        // The common case, "-", needs no lower-casing.
        if self.extra.is_empty() && (t.is_empty() || t == "-") {
            return None;
        }
        let v = t.to_ascii_lowercase();
        if let Some((_, s)) = self.extra.iter().find(|(k, _)| k.eq_ignore_ascii_case(&v)) {
            return Some(*s);
        }
        if NO_ERROR.contains(&v.as_str()) {
            return None;
        }
        let has = |w: &str| v.contains(w);
        if has("expired") || has("expiry") {
            // token_expired, expired_token, jwt expired, TokenExpiredError,
            // invalid_token "The access token expired", session_expired
            return Some(TokenState::Expired);
        }
        if has("missing")
            || has("no_credentials")
            || has("no credentials")
            || has("no_token")
            || has("no token")
            || has("not_provided")
            || has("credentials_required")
            || has("unauthenticated")
        {
            return Some(TokenState::Missing);
        }
        if has("invalid")
            || has("revoked")
            || has("malformed")
            || has("signature")
            || has("bad_token")
            || has("jsonwebtokenerror")
            || has("notbefore")
        {
            return Some(TokenState::Invalid);
        }
        Some(TokenState::Unknown)
    }
}

/// Decodes a JWT's `exp` claim (seconds), if the value looks like a JWT.
/// `Err(())` means it looks like a JWT but cannot be decoded.
#[allow(clippy::result_unit_err)]
pub fn jwt_exp(token: &str) -> Result<Option<i64>, ()> {
    let t = token.trim();
    let t = t
        .strip_prefix("Bearer ")
        .or_else(|| t.strip_prefix("bearer "))
        .unwrap_or(t)
        .trim();
    let mut parts = t.split('.');
    let (Some(h), Some(p), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    if !h.starts_with("eyJ") {
        return Ok(None);
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.decode(p.trim_end_matches('=')).map_err(|_| ())?;
    let v: serde_json::Value = serde_json::from_slice(&payload).map_err(|_| ())?;
    Ok(v.get("exp").and_then(|e| e.as_f64()).map(|e| e as i64))
}

/// What the status alone says: a success on a request that carried auth
/// information means the token was accepted. A 401 says it was turned
/// down but not why, so it is `unknown` (the retry stage may carry the
/// reason an earlier answer gave).
fn from_status(status: Option<u16>, auth_info: bool) -> TokenState {
    match status {
        Some(s) if auth_info && s < 400 => TokenState::Valid,
        _ => TokenState::Unknown,
    }
}

pub fn token_state(e: &Event<'_>, vocab: &TokenVocabulary) -> TokenState {
    token_state_by(e, |raw| vocab.normalize(raw))
}

/// [`token_state`], with the vocabulary lookup of a token-state field
/// value done by `normalize` (which may memoize it).
pub(crate) fn token_state_by(
    e: &Event<'_>,
    mut normalize: impl FnMut(&str) -> Option<TokenState>,
) -> TokenState {
    if let Some(raw) = e.token_state {
        let state = normalize(raw);
        // `invalid_token` (RFC 6750) covers expired tokens: its description
        // may say which; an expired token named there is the more exact.
        if matches!(state, Some(TokenState::Invalid | TokenState::Unknown))
            && let Some(detail) = e.token_detail
            && normalize(detail) == Some(TokenState::Expired)
        {
            return TokenState::Expired;
        }
        return state.unwrap_or_else(|| from_status(e.status, true));
    }
    if let Some(detail) = e.token_detail
        && let Some(state) = normalize(detail)
        && state != TokenState::Unknown
    {
        return state;
    }
    if let Some(tok) = e.token {
        let t = tok.trim();
        if t.is_empty() || t == "-" {
            return TokenState::Missing;
        }
        return match jwt_exp(t) {
            Ok(Some(exp)) if exp * 1_000_000 <= e.ts => TokenState::Expired,
            Ok(Some(_)) => match e.status {
                Some(401) => TokenState::Invalid,
                _ => TokenState::Valid,
            },
            Ok(None) => from_status(e.status, true),
            Err(()) => TokenState::Invalid,
        };
    }
    from_status(e.status, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary() {
        let v = TokenVocabulary::default();
        let n = |s| v.normalize(s);
        for s in [
            "token_expired",
            "expired_token",
            "jwt expired",
            "TokenExpiredError",
            "invalid_token: The access token expired",
        ] {
            assert_eq!(n(s), Some(TokenState::Expired), "{s}");
        }
        for s in ["-", "", "x", "\"-\""] {
            if let Some(quick) = v.blank(s) {
                assert_eq!(quick, n(s), "{s:?}");
            }
        }
        assert_eq!(v.blank("-"), Some(None));
        for s in [
            "invalid_token",
            "invalid_grant",
            "invalid_signature",
            "revoked",
            "JsonWebTokenError",
        ] {
            assert_eq!(n(s), Some(TokenState::Invalid), "{s}");
        }
        for s in ["no_credentials", "missing_token", "credentials_required"] {
            assert_eq!(n(s), Some(TokenState::Missing), "{s}");
        }
        assert_eq!(n("-"), None);
        assert_eq!(n("OK"), None);
        assert_eq!(n("account_locked"), Some(TokenState::Unknown));
        let v = TokenVocabulary {
            extra: vec![("E4011".into(), TokenState::Expired)],
        };
        assert_eq!(v.normalize("e4011"), Some(TokenState::Expired));
    }

    fn jwt(exp: i64) -> String {
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "Bearer {}.{}.sig",
            b.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            b.encode(format!(r#"{{"sub":"u1","exp":{exp}}}"#))
        )
    }

    #[test]
    fn jwt_claims() {
        assert_eq!(jwt_exp(&jwt(1000)), Ok(Some(1000)));
        assert_eq!(jwt_exp("opaque-token"), Ok(None));
        assert_eq!(jwt_exp("eyJhbGciOi.!!!.x"), Err(()));
    }

    fn ev(
        status: Option<u16>,
        token_state: Option<&'static str>,
        token: Option<&'static str>,
    ) -> Event<'static> {
        Event {
            ts: 2000 * 1_000_000,
            client_ip: None,
            client_id: None,
            user: None,
            method: None,
            path: None,
            status,
            user_agent: None,
            client_app: None,
            client_version: None,
            token_state,
            token_detail: None,
            latency_ms: None,
            token,
            attempt: None,
        }
    }

    #[test]
    fn a_description_names_an_expired_token() {
        let v = TokenVocabulary::default();
        let mut e = ev(Some(401), Some("invalid_token"), None);
        e.token_detail = Some("The access token expired");
        assert_eq!(token_state(&e, &v), TokenState::Expired);
        e.token_detail = Some("Session not active");
        assert_eq!(token_state(&e, &v), TokenState::Invalid, "the code stands");
        e.token_state = Some("invalid_grant");
        e.token_detail = Some("Token is not active");
        assert_eq!(token_state(&e, &v), TokenState::Invalid);
        let mut e = ev(Some(401), None, None);
        e.token_detail =
            Some("Bearer error=\"invalid_token\", error_description=\"The access token expired\"");
        assert_eq!(
            token_state(&e, &v),
            TokenState::Expired,
            "a WWW-Authenticate header alone"
        );
    }

    #[test]
    fn evidence_order() {
        let v = TokenVocabulary::default();
        assert_eq!(
            token_state(&ev(Some(401), Some("token_expired"), None), &v),
            TokenState::Expired
        );
        assert_eq!(
            token_state(&ev(Some(200), Some("-"), None), &v),
            TokenState::Valid
        );
        assert_eq!(
            token_state(&ev(Some(401), Some("-"), None), &v),
            TokenState::Unknown,
            "a 401 without a reason is never called invalid"
        );
        let expired: &'static str = Box::leak(jwt(1000).into_boxed_str());
        let live: &'static str = Box::leak(jwt(3000).into_boxed_str());
        assert_eq!(
            token_state(&ev(Some(401), None, Some(expired)), &v),
            TokenState::Expired
        );
        assert_eq!(
            token_state(&ev(Some(200), None, Some(live)), &v),
            TokenState::Valid
        );
        assert_eq!(
            token_state(&ev(Some(200), None, Some("-")), &v),
            TokenState::Missing
        );
        assert_eq!(
            token_state(&ev(Some(401), None, None), &v),
            TokenState::Unknown
        );
        assert_eq!(
            token_state(&ev(Some(200), None, None), &v),
            TokenState::Unknown
        );
    }
}
