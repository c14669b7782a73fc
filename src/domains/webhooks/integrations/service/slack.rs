//! Slack incoming webhooks: `POST <url>` with `{"text", "blocks"}`; Slack answers `200 ok`, or
//! an HTTP error whose plain-text body is a code (`invalid_payload`, `no_service`, …).

use entity::integration;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::store::{self, record_outcome};
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::integrations::types::{
        IntegrationKind, SendSlackMessageInput, SlackMessageResult,
    },
    error::{AppError, AppResult, FieldError},
    state::AppState,
};

/// Slack truncates text past this.
const MAX_TEXT: usize = 40_000;
/// Slack's limit of blocks per message.
const MAX_BLOCKS: usize = 50;
/// Codes that mean the message itself is wrong, and the field to blame.
const MESSAGE_FAULTS: &[(&str, &str)] = &[
    ("invalid_payload", "input.blocks"),
    ("invalid_blocks", "input.blocks"),
    ("invalid_blocks_format", "input.blocks"),
    ("too_many_attachments", "input.blocks"),
    ("no_text", "input.text"),
];

/// The JSON body, or the fields at fault.
fn body(input: &SendSlackMessageInput) -> AppResult<Value> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    let text = input
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if text.is_some_and(|t| t.chars().count() > MAX_TEXT) {
        fail(
            "input.text",
            &format!("must be at most {MAX_TEXT} characters"),
        );
    }
    let blocks = input.blocks.as_ref().map(|b| &b.0);
    match blocks {
        Some(Value::Array(a)) if a.len() > MAX_BLOCKS => {
            fail("input.blocks", &format!("at most {MAX_BLOCKS} blocks"))
        }
        Some(Value::Array(a)) if a.iter().any(|b| !b.is_object()) => {
            fail("input.blocks", "every block must be a JSON object")
        }
        Some(Value::Array(_)) | None => {}
        Some(_) => fail("input.blocks", "must be a JSON array of blocks"),
    }
    if text.is_none() && blocks.is_none() {
        fail("input.text", "give text, blocks or both");
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let mut out = Map::new();
    if let Some(t) = text {
        out.insert("text".into(), json!(t));
    }
    if let Some(b) = blocks {
        out.insert("blocks".into(), b.clone());
    }
    Ok(Value::Object(out))
}

/// The error for Slack's answer `status` / `code`.
fn refusal(status: u16, code: &str) -> AppError {
    match MESSAGE_FAULTS.iter().find(|(c, _)| *c == code) {
        Some((c, field)) => AppError::invalid(*field, format!("Slack refused the message: {c}")),
        None => AppError::Unavailable(format!("Slack refused the message: {code} (HTTP {status})")),
    }
}

/// Posts a message through a Slack integration (MEMBER+).
pub async fn send(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: SendSlackMessageInput,
) -> AppResult<SlackMessageResult> {
    viewer.require(Permission::SendSlackMessages)?;
    let payload = body(&input)?;
    let row: integration::Model = store::get(state, viewer, id).await?;
    if row.kind != IntegrationKind::Slack.as_str() {
        return Err(AppError::invalid(
            "input.integrationId",
            "is not a Slack integration",
        ));
    }
    let url = store::open(state, &row)?;
    let sent = match state.http.request(reqwest::Method::POST, &url) {
        Ok(b) => state.http.execute(b.json(&payload)).await,
        Err(e) => Err(e),
    };
    let r = match sent {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("Slack is unreachable: {e}");
            record_outcome(state, row.id, Err(&msg)).await;
            return Err(AppError::Unavailable(msg));
        }
    };
    let text = r.text_lossy();
    let code: String = text.trim().chars().take(100).collect();
    if r.is_success() {
        record_outcome(state, row.id, Ok(())).await;
        return Ok(SlackMessageResult {
            ok: true,
            status_code: i32::from(r.status),
        });
    }
    let code = if code.is_empty() {
        "no body".to_string()
    } else {
        code
    };
    record_outcome(state, row.id, Err(&format!("{code} (HTTP {})", r.status))).await;
    Err(refusal(r.status, &code))
}
