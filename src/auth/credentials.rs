//! Turning presented credentials (HTTP headers or a WebSocket `connection_init` payload) into a
//! viewer.

use http::HeaderMap;

use super::Viewer;
use crate::{
    error::{AppError, AppResult},
    state::AppState,
};

/// True while the credential behind a long-lived connection is still good: the API key is not
/// revoked or expired; for a session, the member still belongs to the organization and the
/// session (refresh-token family) was not ended. Used when revocation events may have been missed.
pub async fn still_valid(state: &AppState, viewer: &Viewer) -> AppResult<bool> {
    use entity::{membership, refresh_token};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

    let Some(session) = viewer.session_id else {
        return Ok(true);
    };
    if viewer.via == super::ViewerVia::ApiKey {
        return crate::domains::identity::api_keys::still_valid(state, session).await;
    }
    let member = membership::Entity::find()
        .filter(membership::Column::UserId.eq(viewer.user_id))
        .filter(membership::Column::OrgId.eq(viewer.org_id))
        .count(&state.db)
        .await?
        > 0;
    let live_session = refresh_token::Entity::find()
        .filter(refresh_token::Column::FamilyId.eq(session))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .count(&state.db)
        .await?
        > 0;
    Ok(member && live_session)
}

/// Prefix of partner API keys.
pub const API_KEY_PREFIX: &str = "lg_";

/// Authenticates a bearer credential: a JWT access token or an `lg_` API key.
pub async fn authenticate(state: &AppState, credential: &str) -> AppResult<Viewer> {
    let credential = credential.trim();
    if credential.starts_with(API_KEY_PREFIX) {
        return crate::domains::identity::api_keys::authenticate(state, credential).await;
    }
    state.tokens.verify(credential)
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
