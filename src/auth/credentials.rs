//! Turning presented credentials (HTTP headers or a WebSocket `connection_init` payload) into a
//! viewer.

use http::HeaderMap;

use super::Viewer;
use crate::{
    error::{AppError, AppResult},
    state::AppState,
};

/// True while the credential behind a long-lived connection is still what it was: the API key
/// is live and its creator a member; the session was not ended and the role is unchanged. Asks
/// the database; used when revocation events may have been missed.
pub async fn still_valid(state: &AppState, viewer: &Viewer) -> AppResult<bool> {
    super::sessions::still_valid(&state.db, viewer).await
}

/// Prefix of partner API keys.
pub const API_KEY_PREFIX: &str = "lg_";

/// Authenticates a bearer credential: a JWT access token of a live session (`auth::sessions`)
/// or a live `lg_` API key.
pub async fn authenticate(state: &AppState, credential: &str) -> AppResult<Viewer> {
    authenticate_until(state, credential).await.map(|(v, _)| v)
}

/// [`authenticate`], with the access token's expiry (`None` for API keys): a WebSocket
/// authenticated by a token closes when it expires, unless the client re-authenticates.
pub async fn authenticate_until(
    state: &AppState,
    credential: &str,
) -> AppResult<(Viewer, Option<chrono::DateTime<chrono::Utc>>)> {
    let credential = credential.trim();
    if credential.starts_with(API_KEY_PREFIX) {
        let viewer = state
            .sessions
            .check_key(&state.db, &super::secrets::digest(credential))
            .await?;
        return Ok((viewer, None));
    }
    let (viewer, exp) = state.tokens.verify_with_expiry(credential)?;
    let viewer = state.sessions.check_token(&state.db, viewer).await?;
    Ok((viewer, Some(exp)))
}

/// The credential in `Authorization: Bearer …` or `X-API-Key`, if any.
pub fn credential_from_headers(headers: &HeaderMap) -> AppResult<Option<String>> {
    if let Some(v) = headers.get(http::header::AUTHORIZATION) {
        let v = v
            .to_str()
            .map_err(|_| AppError::Unauthenticated("malformed Authorization header".into()))?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .ok_or_else(|| {
                AppError::Unauthenticated("Authorization must be `Bearer <token>`".into())
            })?;
        return Ok(Some(token.trim().to_string()));
    }
    if let Some(v) = headers.get("x-api-key") {
        let v = v
            .to_str()
            .map_err(|_| AppError::Unauthenticated("malformed X-API-Key header".into()))?;
        return Ok(Some(v.trim().to_string()));
    }
    Ok(None)
}

/// The credential in a `connection_init` payload: `authorization` / `Authorization`
/// (`Bearer …`), `token`, `apiKey` or `x-api-key`.
pub fn credential_from_init(payload: &serde_json::Value) -> Option<String> {
    let obj = payload.as_object()?;
    for key in ["authorization", "Authorization"] {
        if let Some(v) = obj.get(key).and_then(|v| v.as_str()) {
            let v = v
                .strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v);
            return Some(v.trim().to_string());
        }
    }
    // Some clients nest headers: {"headers": {"Authorization": "Bearer …"}}.
    if let Some(h) = obj.get("headers") {
        if let Some(c) = credential_from_init(h) {
            return Some(c);
        }
    }
    ["token", "apiKey", "x-api-key", "X-API-Key"]
        .iter()
        .find_map(|k| {
            obj.get(*k)
                .and_then(|v| v.as_str())
                .map(|s| s.trim().to_string())
        })
}

/// The viewer for an HTTP request: anonymous without credentials, UNAUTHENTICATED with bad ones.
pub async fn viewer_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> AppResult<Option<Viewer>> {
    match credential_from_headers(headers)? {
        Some(c) => authenticate(state, &c).await.map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn init_payload_shapes() {
        assert_eq!(
            credential_from_init(&json!({"authorization": "Bearer abc"})).as_deref(),
            Some("abc")
        );
        assert_eq!(
            credential_from_init(&json!({"Authorization": "abc"})).as_deref(),
            Some("abc")
        );
        assert_eq!(
            credential_from_init(&json!({"headers": {"Authorization": "Bearer x"}})).as_deref(),
            Some("x")
        );
        assert_eq!(
            credential_from_init(&json!({"apiKey": "lg_k"})).as_deref(),
            Some("lg_k")
        );
        assert_eq!(credential_from_init(&json!({})), None);
        assert_eq!(credential_from_init(&json!(null)), None);
    }

    #[test]
    fn header_shapes() {
        let mut h = HeaderMap::new();
        assert_eq!(credential_from_headers(&h).unwrap(), None);
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert!(credential_from_headers(&h).is_err());
        h.insert("authorization", "Bearer t1".parse().unwrap());
        assert_eq!(credential_from_headers(&h).unwrap().as_deref(), Some("t1"));
    }
}
