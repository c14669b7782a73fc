//! Inbound webhooks: provider event feeds (SendGrid Event Webhook, Mailgun webhooks) and inbound
//! email (replies matched by In-Reply-To/References, delivery status notifications parsed as
//! bounces). Events find their recipient by the Message-ID we set.
//!
//! Signatures: SendGrid's Signed Event Webhook (ECDSA P-256 over timestamp + body, key from
//! `SENDGRID_WEBHOOK_PUBLIC_KEY`) and Mailgun's HMAC-SHA256 over timestamp + token
//! (`MAILGUN_WEBHOOK_SIGNING_KEY`); the inbound-email endpoint takes a shared secret
//! (`INBOUND_EMAIL_SECRET`, `?secret=` or `X-Webhook-Secret`).
//!
//! A route is *enabled* when its key is configured. In production (`LEADGRAPH_ENV=production`)
//! a route whose key is not configured answers 404: nothing unsigned is ever accepted there. In
//! development an unconfigured route accepts unsigned events (local testing).
//!
//! With a key, an event must be (401 otherwise) correctly signed and *fresh*: the provider's
//! signed timestamp (Mailgun `signature.timestamp`, SendGrid
//! `X-Twilio-Email-Event-Webhook-Timestamp`) within [`MAX_AGE_SECS`] of our clock, either way.
//! And it must be *new* (409 otherwise): each accepted request claims a row in
//! `webhook_receipts` keyed by provider + Mailgun's signature token / a SHA-256 of SendGrid's
//! signed timestamp and body / a SHA-256 of the inbound message. The primary key makes the claim
//! one `INSERT … ON CONFLICT DO NOTHING`, so it holds across instances. A claim is given back
//! when processing fails (500), so the provider's retry is accepted; receipts are pruned after
//! [`RECEIPT_TTL_SECS`], longer than any event stays fresh.

use axum::{
    body::Bytes,
    extract::{Path, State},
    response::{IntoResponse, Response},
    Json,
};
use base64::Engine;
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;

use super::record::{recipient_by_message_id, record, Activity};
use crate::{config::Environment, error::AppResult, http::HttpState, state::AppState};

/// How far a signed event's timestamp may be from our clock (either way).
pub const MAX_AGE_SECS: i64 = 300;
/// How long accepted events are remembered (longer than any event stays fresh: 2 × 5 minutes).
pub const RECEIPT_TTL_SECS: i64 = 15 * 60;

pub(super) fn answer(status: StatusCode, v: Value) -> Response {
    (status, Json(v)).into_response()
}

/// The answer of a route whose key is not configured in production.
pub(super) fn not_enabled() -> Response {
    answer(StatusCode::NOT_FOUND, json!({"error": "not enabled"}))
}

pub(super) fn production(state: &AppState) -> bool {
    state.config.environment == Environment::Production
}

/// Whether a provider's signed timestamp (seconds since the epoch) is within [`MAX_AGE_SECS`].
pub fn is_fresh(timestamp: &str, now: i64) -> bool {
    timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|ts| (now - ts).abs() <= MAX_AGE_SECS)
}

pub(super) fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// Claims `(provider, key)` for this request: false when it was already claimed (a replay).
/// Prunes receipts older than [`RECEIPT_TTL_SECS`] first.
async fn claim(state: &AppState, provider: &str, key: &str) -> Result<bool, sea_orm::DbErr> {
    use entity::webhook_receipt;
    use sea_orm::{sea_query::OnConflict, ColumnTrait, EntityTrait, QueryFilter, Set};
    let now = chrono::Utc::now();
    webhook_receipt::Entity::delete_many()
        .filter(
            webhook_receipt::Column::ReceivedAt
                .lt(now - chrono::Duration::seconds(RECEIPT_TTL_SECS)),
        )
        .exec(&state.db)
        .await?;
    let inserted = webhook_receipt::Entity::insert(webhook_receipt::ActiveModel {
        provider: Set(provider.to_string()),
        event_key: Set(key.to_string()),
        received_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            webhook_receipt::Column::Provider,
            webhook_receipt::Column::EventKey,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&state.db)
    .await?;
    Ok(inserted == 1)
}

/// Gives a claim back (processing failed; the provider will retry).
pub(super) async fn release(state: &AppState, provider: &str, key: &str) {
    use entity::webhook_receipt;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let res = webhook_receipt::Entity::delete_many()
        .filter(webhook_receipt::Column::Provider.eq(provider))
        .filter(webhook_receipt::Column::EventKey.eq(key))
        .exec(&state.db)
        .await;
    if let Err(e) = res {
        tracing::error!(error = ?e, provider, "releasing a webhook receipt failed");
    }
}

/// Claims the receipt or answers: 409 for a replay, 500 when the database fails.
pub(super) async fn claim_or_refuse(
    state: &AppState,
    provider: &str,
    key: &str,
) -> Result<(), Response> {
    match claim(state, provider, key).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(answer(
            StatusCode::CONFLICT,
            json!({"error": "already received"}),
        )),
        Err(e) => {
            tracing::error!(error = ?e, provider, "claiming a webhook receipt failed");
            Err(answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "try again"}),
            ))
        }
    }
}

/// Verifies a SendGrid signature: base64 DER ECDSA P-256/SHA-256 over `timestamp || body`.
pub fn sendgrid_signature_ok(
    public_key_b64: &str,
    signature_b64: &str,
    timestamp: &str,
    body: &[u8],
) -> bool {
    use p256::{
        ecdsa::{signature::Verifier, Signature, VerifyingKey},
        pkcs8::DecodePublicKey,
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let (Ok(key), Ok(sig)) = (
        b64.decode(public_key_b64.trim()),
        b64.decode(signature_b64.trim()),
    ) else {
        return false;
    };
    let (Ok(key), Ok(sig)) = (
        VerifyingKey::from_public_key_der(&key),
        Signature::from_der(&sig),
    ) else {
        return false;
    };
    let mut msg = timestamp.as_bytes().to_vec();
    msg.extend_from_slice(body);
    key.verify(&msg, &sig).is_ok()
}

/// Verifies a Mailgun signature: hex HMAC-SHA256(key, timestamp + token).
pub fn mailgun_signature_ok(key: &str, timestamp: &str, token: &str, signature: &str) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    let Ok(sig) = hex::decode(signature.trim()) else {
        return false;
    };
    mac.verify_slice(&sig).is_ok()
}

/// The recipient of a provider event: our Message-ID, or an `lg_recipient` custom argument.
async fn find(
    state: &AppState,
    message_id: Option<&str>,
    custom: Option<&str>,
) -> AppResult<Option<Uuid>> {
    if let Some(id) = message_id {
        if let Some(r) = recipient_by_message_id(state, id).await? {
            return Ok(Some(r));
        }
    }
    Ok(custom.and_then(|c| Uuid::parse_str(c).ok()))
}

/// SendGrid event → activity.
fn sendgrid_activity(e: &Value) -> Option<Activity> {
    let reason = e["reason"]
        .as_str()
        .or(e["response"].as_str())
        .unwrap_or("")
        .to_string();
    match e["event"].as_str()? {
        "bounce" => Some(Activity::Bounce {
            // `type: blocked` is a temporary refusal; `bounce` is permanent.
            hard: e["type"].as_str() != Some("blocked"),
            reason,
            source: "sendgrid".into(),
        }),
        "dropped" => Some(Activity::Bounce {
            hard: true,
            reason,
            source: "sendgrid".into(),
        }),
        "open" => Some(Activity::Open),
        "click" => e["url"].as_str().map(|u| Activity::Click(u.to_string())),
        "spamreport" => Some(Activity::Complaint("sendgrid".into())),
        "unsubscribe" | "group_unsubscribe" => Some(Activity::Unsubscribe("sendgrid".into())),
        _ => None,
    }
}

/// Mailgun `event-data` → activity.
fn mailgun_activity(e: &Value) -> Option<Activity> {
    let reason = e["delivery-status"]["description"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or(e["delivery-status"]["message"].as_str())
        .unwrap_or("")
        .to_string();
    match e["event"].as_str()? {
        "failed" => Some(Activity::Bounce {
            hard: e["severity"].as_str() != Some("temporary"),
            reason,
            source: "mailgun".into(),
        }),
        "opened" => Some(Activity::Open),
        "clicked" => e["url"].as_str().map(|u| Activity::Click(u.to_string())),
        "complained" => Some(Activity::Complaint("mailgun".into())),
        "unsubscribed" => Some(Activity::Unsubscribe("mailgun".into())),
        _ => None,
    }
}

/// Events of one provider request: (Message-ID, our custom recipient argument, activity).
type Events = Vec<(Option<String>, Option<String>, Activity)>;
/// The receipt a request claimed (provider, key), given back if processing fails.
type Receipt = Option<(&'static str, String)>;

fn stale() -> Response {
    answer(
        StatusCode::UNAUTHORIZED,
        json!({"error": "stale timestamp"}),
    )
}

fn bad_signature() -> Response {
    answer(StatusCode::UNAUTHORIZED, json!({"error": "bad signature"}))
}

/// `POST /webhooks/email/{provider}` (`sendgrid` | `mailgun`).
pub async fn provider(
    State(s): State<HttpState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &s.app;
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "body must be JSON"}),
        );
    };
    let now = chrono::Utc::now().timestamp();
    let parsed = match provider.as_str() {
        "sendgrid" => sendgrid(state, &headers, &body, &v, now).await,
        "mailgun" => mailgun(state, &v, now).await,
        _ => return answer(StatusCode::NOT_FOUND, json!({"error": "unknown provider"})),
    };
    match parsed {
        Ok((receipt, events)) => apply(state, receipt, events).await,
        Err(refused) => refused,
    }
}

/// A SendGrid Event Webhook request: signature, freshness and replay checks, then its events.
async fn sendgrid(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    v: &Value,
    now: i64,
) -> Result<(Receipt, Events), Response> {
    let receipt = match &state.config.sendgrid_webhook_public_key {
        Some(key) => {
            let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
            let ts = h("x-twilio-email-event-webhook-timestamp");
            if !sendgrid_signature_ok(key, h("x-twilio-email-event-webhook-signature"), ts, body) {
                return Err(bad_signature());
            }
            if !is_fresh(ts, now) {
                return Err(stale());
            }
            // The signed content itself (not the signature, which ECDSA lets a third party
            // re-encode): a replay carries the same timestamp and body.
            let key = sha256_hex(&[ts.as_bytes(), b"\n", body]);
            claim_or_refuse(state, "sendgrid", &key).await?;
            Some(("sendgrid", key))
        }
        None if production(state) => return Err(not_enabled()),
        None => None,
    };
    let Some(list) = v.as_array() else {
        return Err(answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "expected a JSON array"}),
        ));
    };
    let events = list
        .iter()
        .filter_map(|e| {
            let a = sendgrid_activity(e)?;
            let mid = e["smtp-id"].as_str().map(String::from);
            let custom = e["lg_recipient"].as_str().map(String::from);
            Some((mid, custom, a))
        })
        .collect();
    Ok((receipt, events))
}

/// A Mailgun webhook request: signature, freshness and replay checks, then its event.
async fn mailgun(state: &AppState, v: &Value, now: i64) -> Result<(Receipt, Events), Response> {
    let receipt = match &state.config.mailgun_webhook_signing_key {
        Some(key) => {
            let sig = &v["signature"];
            let (ts, token) = (
                sig["timestamp"].as_str().unwrap_or(""),
                sig["token"].as_str().unwrap_or(""),
            );
            let signature = sig["signature"].as_str().unwrap_or("");
            if token.is_empty() || !mailgun_signature_ok(key, ts, token, signature) {
                return Err(bad_signature());
            }
            if !is_fresh(ts, now) {
                return Err(stale());
            }
            // Mailgun's advice: remember the token, refuse it the second time.
            let key = sha256_hex(&[token.as_bytes()]);
            claim_or_refuse(state, "mailgun", &key).await?;
            Some(("mailgun", key))
        }
        None if production(state) => return Err(not_enabled()),
        None => None,
    };
    let e = &v["event-data"];
    let events = mailgun_activity(e)
        .map(|a| {
            let mid = e["message"]["headers"]["message-id"]
                .as_str()
                .map(String::from);
            let custom = e["user-variables"]["lg_recipient"]
                .as_str()
                .map(String::from);
            (mid, custom, a)
        })
        .into_iter()
        .collect();
    Ok((receipt, events))
}

/// Records the events of an accepted request; on a failure gives the receipt back (so the
/// provider's retry is accepted) and answers 500.
async fn apply(state: &AppState, receipt: Receipt, events: Events) -> Response {
    let mut matched = 0;
    for (mid, custom, activity) in events {
        let failed = match find(state, mid.as_deref(), custom.as_deref()).await {
            Ok(Some(rid)) => match record(state, rid, activity).await {
                Ok(true) => {
                    matched += 1;
                    None
                }
                Ok(false) => None,
                Err(e) => Some(("provider event failed", format!("{e:?}"))),
            },
            Ok(None) => None,
            Err(e) => Some(("provider event lookup failed", format!("{e:?}"))),
        };
        if let Some((what, error)) = failed {
            tracing::error!(error, "{what}");
            if let Some((provider, key)) = &receipt {
                release(state, provider, key).await;
            }
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "try again"}),
            );
        }
    }
    answer(StatusCode::OK, json!({"matched": matched}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_window_is_five_minutes_either_way() {
        let now = 1_800_000_000;
        assert!(is_fresh("1800000000", now));
        assert!(is_fresh("1799999700", now));
        assert!(is_fresh("1800000300", now));
        assert!(!is_fresh("1799999699", now));
        assert!(!is_fresh("1800000301", now));
        assert!(!is_fresh("", now));
        assert!(!is_fresh("soon", now));
    }

    #[test]
    fn mailgun_signatures() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key-1").unwrap();
        mac.update(b"1700000000tok");
        let sig = hex::encode(mac.finalize().into_bytes());
        assert!(mailgun_signature_ok("key-1", "1700000000", "tok", &sig));
        assert!(!mailgun_signature_ok("key-2", "1700000000", "tok", &sig));
        assert!(!mailgun_signature_ok("key-1", "1700000001", "tok", &sig));
    }

    #[test]
    fn sendgrid_signatures() {
        use p256::{
            ecdsa::{signature::Signer, Signature, SigningKey},
            pkcs8::EncodePublicKey,
        };
        let sk = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let pk = sk.verifying_key().to_public_key_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = br#"[{"event":"open"}]"#;
        let mut msg = b"1700000000".to_vec();
        msg.extend_from_slice(body);
        let sig: Signature = sk.sign(&msg);
        let (pk, sig) = (
            b64.encode(pk.as_bytes()),
            b64.encode(sig.to_der().as_bytes()),
        );
        assert!(sendgrid_signature_ok(&pk, &sig, "1700000000", body));
        assert!(!sendgrid_signature_ok(&pk, &sig, "1700000001", body));
        assert!(!sendgrid_signature_ok(&pk, &sig, "1700000000", b"[]"));
    }
}
