//! JWT access tokens: HS256 with `iss`, `aud`, `exp`, `sub`, `org`, `role`.
//! Only HS256 is accepted; `alg: none` and other algorithms fail validation.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Role, Viewer, ViewerVia};
use crate::{config::Config, error::AppError};

/// Lifetime of an access token.
pub const ACCESS_TOKEN_TTL: chrono::Duration = chrono::Duration::minutes(15);

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: Uuid,
    /// Organization id.
    pub org: Uuid,
    /// Role in that organization.
    pub role: Role,
    /// Refresh-token family (session) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
}

/// Signs and verifies access tokens with the configured secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl TokenKeys {
    /// Keys from config.
    pub fn new(config: &Config) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.jwt_issuer.as_str()]);
        validation.set_audience(&[config.jwt_audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let key = super::keys::derive(&config.jwt_secret, super::keys::ACCESS_TOKEN);
        TokenKeys {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        }
    }

    /// Issues an access token; returns it with its expiry.
    pub fn issue(
        &self,
        user_id: Uuid,
        org_id: Uuid,
        role: Role,
        session_id: Option<Uuid>,
    ) -> Result<(String, DateTime<Utc>), AppError> {
        self.issue_for(user_id, org_id, role, session_id, ACCESS_TOKEN_TTL)
    }

    /// [`TokenKeys::issue`] with another lifetime (tests of expiry use seconds).
    pub fn issue_for(
        &self,
        user_id: Uuid,
        org_id: Uuid,
        role: Role,
        session_id: Option<Uuid>,
        ttl: chrono::Duration,
    ) -> Result<(String, DateTime<Utc>), AppError> {
        let now = Utc::now();
        let exp = now + ttl;
        let claims = AccessClaims {
            sub: user_id,
            org: org_id,
            role,
            sid: session_id,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok((token, exp))
    }

    /// Verifies a token and returns its viewer. Any failure is UNAUTHENTICATED.
    pub fn verify(&self, token: &str) -> Result<Viewer, AppError> {
        self.verify_with_expiry(token).map(|(v, _)| v)
    }

    /// [`TokenKeys::verify`], with the token's expiry (a WebSocket closes then).
    pub fn verify_with_expiry(&self, token: &str) -> Result<(Viewer, DateTime<Utc>), AppError> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                tracing::debug!(error = %e, "access token rejected");
                AppError::Unauthenticated("invalid or expired access token".into())
            })?;
        let c = data.claims;
        let exp = DateTime::from_timestamp(c.exp, 0).unwrap_or_else(Utc::now);
        let viewer = Viewer {
            user_id: c.sub,
            org_id: c.org,
            role: c.role,
            via: ViewerVia::Jwt,
            session_id: c.sid,
        };
        Ok((viewer, exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn keys() -> TokenKeys {
        TokenKeys::new(&Config::from_lookup(|_| None).unwrap())
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let (t, _) = k
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Admin, None)
            .unwrap();
        assert_eq!(k.verify(&t).unwrap().role, Role::Admin);
    }

    #[test]
    fn rejects_forged_none_and_wrong_audience() {
        let k = keys();
        let (t, _) = k
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Owner, None)
            .unwrap();
        // Tampered signature.
        let mut forged = t.clone();
        forged.push('x');
        assert!(k.verify(&forged).is_err());
        // alg: none with the same claims and no signature.
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = t.split('.').collect();
        let none = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert!(k.verify(&none).is_err());
        // Other audience, same secret.
        let other = TokenKeys::new(
            &Config::from_lookup(|k| (k == "JWT_AUDIENCE").then(|| "other".to_string())).unwrap(),
        );
        let (t2, _) = other
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Owner, None)
            .unwrap();
        assert!(k.verify(&t2).is_err());
        // The same claims signed with the configured secret itself (not the access-token key
        // derived from it) are refused: each token kind has its own key.
        let config = Config::from_lookup(|k| {
            (k == "JWT_SECRET").then(|| "a-test-secret-of-sufficient-length-0123456789".into())
        })
        .unwrap();
        let k = TokenKeys::new(&config);
        let (t, _) = k
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Owner, None)
            .unwrap();
        assert!(k.verify(&t).is_ok());
        let claims: AccessClaims = jsonwebtoken::decode(
            &t,
            &DecodingKey::from_secret(&crate::auth::keys::derive(
                &config.jwt_secret,
                crate::auth::keys::ACCESS_TOKEN,
            )),
            &k.validation,
        )
        .unwrap()
        .claims;
        let raw = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(config.jwt_secret.as_bytes()),
        )
        .unwrap();
        assert!(k.verify(&raw).is_err());
    }
}
