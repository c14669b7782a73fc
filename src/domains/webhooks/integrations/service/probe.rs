//! `testIntegration(id)`: one harmless live call with the stored credential, recorded on the
//! integration (`lastTestedAt`, and `lastSuccessAt` or `lastError` like every other call).
//!
//! - **n8n**: `GET {base}/api/v1/workflows?limit=1` with `X-N8N-API-KEY` (reads one workflow,
//!   changes nothing); 2xx with a JSON body passes; 401/403 is "n8n refused the API key".
//! - **Slack**: POSTs `{"text": "Leadgraph: test message …"}` to the incoming-webhook URL;
//!   Slack's `200 ok` passes, any other answer fails with Slack's plain-text code.
//!
//! A failed test is an answer (`ok: false` with the error), not a GraphQL error. The key and
//! the Slack URL (which is the credential) appear in no answer and no stored error.

use chrono::Utc;
use entity::integration;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use super::store::{self, record_outcome};
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::integrations::types::{IntegrationKind, IntegrationTestResult},
    error::AppResult,
    platform::outbound::OutboundResponse,
    state::AppState,
};

/// The text of Slack's test message.
pub const SLACK_TEST_TEXT: &str =
    "Leadgraph: test message. This Slack integration works; no action is needed.";

/// What one live call said: Ok(status) or Err((status if any, why)).
type Verdict = Result<u16, (Option<u16>, String)>;

/// `text` with every occurrence of `secret` masked.
fn masked(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    text.replace(secret, "[credential]")
}

/// The start of an answer's body.
fn excerpt(r: &OutboundResponse) -> String {
    r.text_lossy().trim().chars().take(200).collect()
}

async fn n8n(state: &AppState, row: &integration::Model, key: &str) -> Verdict {
    let base = row.base_url.as_deref().unwrap_or_default();
    let url = format!("{base}/api/v1/workflows?limit=1");
    let b = state
        .http
        .request(reqwest::Method::GET, &url)
        .map_err(|e| (None, format!("n8n is unreachable: {e}")))?
        .header("X-N8N-API-KEY", key)
        .header(http::header::ACCEPT, "application/json");
    let r = state
        .http
        .execute(b)
        .await
        .map_err(|e| (None, format!("n8n is unreachable: {e}")))?;
    match r.status {
        200..=299
            if serde_json::from_slice::<Value>(&r.body).is_ok_and(|v| v["data"].is_array()) =>
        {
            Ok(r.status)
        }
        200..=299 => Err((Some(r.status), "n8n's answer is not a workflow list".into())),
        401 | 403 => Err((
            Some(r.status),
            format!("n8n refused the API key (HTTP {})", r.status),
        )),
        s => Err((Some(s), format!("n8n answered HTTP {s}: {}", excerpt(&r)))),
    }
}

async fn slack(state: &AppState, url: &str) -> Verdict {
    let b = state
        .http
        .request(reqwest::Method::POST, url)
        .map_err(|e| (None, format!("Slack is unreachable: {e}")))?
        .json(&json!({ "text": SLACK_TEST_TEXT }));
    let r = state
        .http
        .execute(b)
        .await
        .map_err(|e| (None, format!("Slack is unreachable: {e}")))?;
    if r.is_success() {
        return Ok(r.status);
    }
    let code = excerpt(&r);
    let code = if code.is_empty() {
        "no body".into()
    } else {
        code
    };
    Err((
        Some(r.status),
        format!("Slack refused the message: {code} (HTTP {})", r.status),
    ))
}

/// Tests integration `id` of the viewer's organization (ADMIN+): one live call, recorded.
pub async fn run(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<IntegrationTestResult> {
    viewer.require(Permission::ManageIntegrations)?;
    let row = store::get(state, viewer, id).await?;
    let secret = store::open(state, &row)?;
    let verdict = match IntegrationKind::parse(&row.kind) {
        Some(IntegrationKind::N8n) => n8n(state, &row, &secret).await,
        _ => slack(state, &secret).await,
    };
    let verdict = verdict.map_err(|(s, e)| (s, masked(&e, &secret)));
    record_outcome(
        state,
        row.id,
        verdict.as_ref().map(|_| ()).map_err(|(_, e)| e.as_str()),
    )
    .await;
    let now = Utc::now();
    integration::Entity::update_many()
        .col_expr(integration::Column::LastTestedAt, Expr::value(Some(now)))
        .filter(integration::Column::Id.eq(row.id))
        .exec(&state.db)
        .await?;
    let row = store::get(state, viewer, id).await?;
    Ok(match verdict {
        Ok(status) => IntegrationTestResult::new(row, true, Some(status), None),
        Err((status, e)) => IntegrationTestResult::new(row, false, status, Some(e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_in_errors() {
        let url = "https://hooks.slack.com/services/T/B/sekrit";
        assert_eq!(
            masked(&format!("error sending request for url ({url})"), url),
            "error sending request for url ([credential])"
        );
        assert_eq!(masked("plain", ""), "plain");
    }
}
