//! Incoming lead hooks: an organization's intake URL `POST /hooks/in/{id}` for forms, Zapier or
//! n8n, signed per the Standard Webhooks spec with the hook's secret (shown once, sealed like
//! endpoint secrets).
//!
//! A request is checked in this order, and every refusal writes nothing: unknown or disabled
//! hook 404; missing `webhook-id`/`webhook-timestamp`/`webhook-signature` 400; timestamp more
//! than [`TOLERANCE_SECS`] away from now 401; no matching `v1` signature 401; body not a JSON
//! object 400; no valid email (or another invalid field) 400 with `fields`; a `webhook-id`
//! already accepted by this hook within [`REPLAY_WINDOW_SECS`] 409. Then, in one transaction,
//! the id is stored (the UNIQUE key makes two concurrent replays one acceptance), the lead is
//! created or merged into the organization's lead with the same email (leads' dedupe rules,
//! `MERGE`: empty fields filled, tags added) with provenance `webhook:<hook name>`, and the
//! leads' events are recorded. 201 `{leadId, status: "created"}` or 200 `"merged"`.
//!
//! A hook of kind WORKFLOW_COMPLETE takes n8n's completion callback instead of leads: after
//! the same signature, timestamp and replay checks, the body names an execution of the hook's
//! organization (else 404) and workflows records it finished in the receipt's transaction
//! (`workflows::record_completion`, fenced like the poll job): 200
//! `{executionId, status, recorded}`.

use axum::{
    body::Bytes,
    extract::{Path, State},
    response::{IntoResponse, Response},
    Json,
};
use chrono::{DateTime, Utc};
use entity::{incoming_hook, incoming_hook_receipt};
use http::{HeaderMap, StatusCode};
use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, Select, TransactionTrait,
};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{endpoints::Checks, signing};
use crate::{
    auth::{Permission, Role, Viewer, ViewerVia},
    domains::{
        leads::{
            create_in,
            types::{CreateLeadInput, LeadSource, OnConflict as LeadConflict},
            Created, Origin,
        },
        webhooks::{
            types::{CreateIncomingWebhookInput, IncomingWebhook, IncomingWebhookKind},
            workflows::{completion_execution, parse_completion, record_completion},
        },
    },
    error::{AppError, AppResult, FieldError},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    platform::secrets_box,
    state::{AppState, Wakes},
};

/// Accepted distance between `webhook-timestamp` and now (the spec's advice: 5 minutes).
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// How long an accepted `webhook-id` is remembered (covers the tolerance both ways).
pub const REPLAY_WINDOW_SECS: i64 = 2 * TOLERANCE_SECS;
/// Longest name.
const MAX_NAME: usize = 200;
/// Most default tags.
const MAX_TAGS: usize = 20;

/// Every query starts here.
fn scoped(viewer: &Viewer) -> Select<incoming_hook::Entity> {
    incoming_hook::Entity::find().filter(incoming_hook::Column::OrgId.eq(viewer.org_id))
}

/// The encryption context of a hook's secret.
fn secret_context(id: Uuid) -> String {
    secrets_box::context("incoming_hooks", "secret", id)
}

/// The API object of `row`.
pub fn object(state: &AppState, row: incoming_hook::Model) -> IncomingWebhook {
    IncomingWebhook {
        row,
        base_url: state.config.public_url.clone(),
    }
}

/// A page of the organization's incoming hooks, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<IncomingWebhook>> {
    viewer.require(Permission::ManageWebhooks)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        incoming_hook::Column::Id,
        &args,
        |m| m.id,
        |m| object(state, m),
    )
    .await
}

fn clean_tags(tags: &[String]) -> Result<Vec<String>, String> {
    if tags.len() > MAX_TAGS {
        return Err(format!("at most {MAX_TAGS} tags"));
    }
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if t.is_empty() || t.chars().count() > 50 {
            return Err("each tag must have 1 to 50 characters".into());
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Creates a hook with a new secret; returns it and the secret in clear (shown once).
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateIncomingWebhookInput,
) -> AppResult<(incoming_hook::Model, String)> {
    viewer.require(Permission::ManageWebhooks)?;
    let mut checks = Checks(Vec::new());
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        checks.push("name", format!("must have 1 to {MAX_NAME} characters"));
    }
    let tags = checks.take(
        "defaultTags",
        clean_tags(input.default_tags.as_deref().unwrap_or_default()),
    );
    checks.finish()?;
    let tags = tags.unwrap_or_default();
    let id = Uuid::now_v7();
    let secret = signing::new_secret();
    let now = Utc::now();
    let row = incoming_hook::ActiveModel {
        id: Set(id),
        org_id: Set(viewer.org_id),
        name: Set(name),
        kind: Set(input.kind.unwrap_or_default().as_str().into()),
        secret: Set(state.secrets.seal(&secret, &secret_context(id))),
        default_tags: Set(Value::from(tags)),
        enabled: Set(true),
        created_by: Set(viewer.user_id),
        last_received_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok((row, secret))
}

/// Deletes a hook and its remembered ids.
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<bool> {
    viewer.require(Permission::ManageWebhooks)?;
    let row = scoped(viewer)
        .filter(incoming_hook::Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("incoming webhook"))?;
    let txn = state.db.begin().await?;
    incoming_hook_receipt::Entity::delete_many()
        .filter(incoming_hook_receipt::Column::HookId.eq(row.id))
        .exec(&txn)
        .await?;
    incoming_hook::Entity::delete_by_id(row.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}

/// A refused request: status, machine code, message, invalid fields.
pub struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: Vec<FieldError>,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
        fields: Vec::new(),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if !self.fields.is_empty() {
            error["fields"] = json!(self.fields);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

/// `POST /hooks/in/{id}` (see the module doc).
pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match accept(&state, &id, &headers, &body, Utc::now()).await {
        Ok(Accepted::Lead(lead_id, true)) => (
            StatusCode::CREATED,
            Json(json!({"leadId": lead_id, "status": "created"})),
        )
            .into_response(),
        Ok(Accepted::Lead(lead_id, false)) => (
            StatusCode::OK,
            Json(json!({"leadId": lead_id, "status": "merged"})),
        )
            .into_response(),
        Ok(Accepted::Completion(v)) => (StatusCode::OK, Json(v)).into_response(),
        Err(r) => r.into_response(),
    }
}

/// A header's value, or 400.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Refusal> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "MISSING_HEADER",
                format!("the {name} header is required (Standard Webhooks)"),
            )
        })
}

/// What an accepted request did.
pub enum Accepted {
    /// A lead hook: (lead id, created rather than merged).
    Lead(Uuid, bool),
    /// A WORKFLOW_COMPLETE hook: `{executionId, status, recorded}`.
    Completion(Value),
}

/// Checks the request and does what the hook's kind says.
pub async fn accept(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Accepted, Refusal> {
    let unknown = || refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "no such hook");
    let id = Uuid::parse_str(id).map_err(|_| unknown())?;
    let hook = incoming_hook::Entity::find_by_id(id)
        .one(&state.db)
        .await
        .map_err(internal)?
        .filter(|h| h.enabled)
        .ok_or_else(unknown)?;
    let msg_id = header(headers, "webhook-id")?;
    let ts = header(headers, "webhook-timestamp")?;
    let signature = header(headers, "webhook-signature")?;
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (now.timestamp() - t).abs() <= TOLERANCE_SECS);
    if !fresh {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "TIMESTAMP_OUT_OF_TOLERANCE",
            format!("webhook-timestamp must be Unix seconds within {TOLERANCE_SECS} s of now"),
        ));
    }
    let secret = state
        .secrets
        .open(&hook.secret, &secret_context(hook.id))
        .map_err(internal)?;
    if !signing::verify(&secret, msg_id, ts, body, signature) {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "BAD_SIGNATURE",
            "no webhook-signature matches the body",
        ));
    }
    match IncomingWebhookKind::parse(&hook.kind).unwrap_or_default() {
        IncomingWebhookKind::LeadCreated => {
            let input = lead_input(body, &hook)?;
            let (lead, created) = write(state, &hook, msg_id, &input, now).await?;
            Ok(Accepted::Lead(lead, created))
        }
        IncomingWebhookKind::WorkflowComplete => complete(state, &hook, msg_id, body, now)
            .await
            .map(Accepted::Completion),
    }
}

/// A WORKFLOW_COMPLETE request: the execution it names (in the hook's organization) is
/// recorded finished in the transaction that stores the `webhook-id`, unless the poll job
/// already recorded it (`recorded: false`).
async fn complete(
    state: &AppState,
    hook: &incoming_hook::Model,
    msg_id: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Value, Refusal> {
    let c = parse_completion(body).map_err(refusal_of)?;
    let row = completion_execution(state, hook.org_id, &c)
        .await
        .map_err(refusal_of)?;
    let txn = take_receipt(state, hook, msg_id, now).await?;
    let answer = record_completion(&txn, &row, c).await.map_err(refusal_of)?;
    touch(&txn, hook, now).await?;
    state.commit(txn, Wakes::Jobs).await.map_err(internal)?;
    Ok(answer)
}

/// Sets the hook's `last_received_at` in `txn`.
async fn touch(
    txn: &DatabaseTransaction,
    hook: &incoming_hook::Model,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    incoming_hook::Entity::update_many()
        .col_expr(
            incoming_hook::Column::LastReceivedAt,
            sea_orm::sea_query::Expr::value(Some(now)),
        )
        .filter(incoming_hook::Column::Id.eq(hook.id))
        .exec(txn)
        .await
        .map_err(internal)?;
    Ok(())
}

/// The body as a lead: a JSON object with `email` (required) and the usual lead fields.
fn lead_input(body: &[u8], hook: &incoming_hook::Model) -> Result<CreateLeadInput, Refusal> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!("the body is not JSON: {e}"),
        )
    })?;
    let Value::Object(o) = v else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "the body must be a JSON object (one lead)",
        ));
    };
    let text = |o: &Map<String, Value>, keys: &[&str]| {
        keys.iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let email = text(&o, &["email"]);
    if email.is_none() {
        let mut r = refuse(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "email: is required",
        );
        r.fields.push(FieldError {
            field: "email".into(),
            message: "is required".into(),
        });
        return Err(r);
    }
    let mut tags: Vec<String> = hook
        .default_tags
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if let Some(extra) = o.get("tags").and_then(Value::as_array) {
        tags.extend(extra.iter().filter_map(|t| t.as_str().map(String::from)));
    }
    Ok(CreateLeadInput {
        email,
        first_name: text(&o, &["firstName", "first_name"]),
        last_name: text(&o, &["lastName", "last_name"]),
        phone: text(&o, &["phone"]),
        company: text(&o, &["company"]),
        title: text(&o, &["title"]),
        website: text(&o, &["website"]),
        industry: text(&o, &["industry"]),
        source: Some(LeadSource::Api),
        tags: Some(tags),
        ..Default::default()
    })
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "incoming hook failed");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "the request could not be processed; retry it",
    )
}

/// An application error as a refusal (invalid fields are 400 with `fields`).
fn refusal_of(e: AppError) -> Refusal {
    match e {
        AppError::BadUserInput { message, fields } => Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_USER_INPUT",
            message,
            fields,
        },
        AppError::Conflict(m) => refuse(StatusCode::CONFLICT, "CONFLICT", m),
        AppError::NotFound(what) => refuse(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found"),
        ),
        other => internal(format!("{other:?}")),
    }
}

/// Forgets ids older than the replay window, then opens the transaction that stores
/// `msg_id` (409 REPLAYED when this hook already accepted it; the UNIQUE key makes two
/// concurrent replays one acceptance).
async fn take_receipt(
    state: &AppState,
    hook: &incoming_hook::Model,
    msg_id: &str,
    now: DateTime<Utc>,
) -> Result<DatabaseTransaction, Refusal> {
    incoming_hook_receipt::Entity::delete_many()
        .filter(incoming_hook_receipt::Column::HookId.eq(hook.id))
        .filter(
            incoming_hook_receipt::Column::ReceivedAt
                .lt(now - chrono::Duration::seconds(REPLAY_WINDOW_SECS)),
        )
        .exec(&state.db)
        .await
        .map_err(internal)?;
    let txn = state.db.begin().await.map_err(internal)?;
    let inserted = incoming_hook_receipt::Entity::insert(incoming_hook_receipt::ActiveModel {
        hook_id: Set(hook.id),
        message_id: Set(msg_id.chars().take(256).collect()),
        received_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            incoming_hook_receipt::Column::HookId,
            incoming_hook_receipt::Column::MessageId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await
    .map_err(internal)?;
    if inserted == 0 {
        return Err(refuse(
            StatusCode::CONFLICT,
            "REPLAYED",
            "this webhook-id was already accepted",
        ));
    }
    Ok(txn)
}

/// Stores the id and writes the lead in one transaction.
async fn write(
    state: &AppState,
    hook: &incoming_hook::Model,
    msg_id: &str,
    input: &CreateLeadInput,
    now: DateTime<Utc>,
) -> Result<(Uuid, bool), Refusal> {
    let txn = take_receipt(state, hook, msg_id, now).await?;
    // The hook acts for its creator, never above MEMBER.
    let viewer = Viewer {
        user_id: hook.created_by,
        org_id: hook.org_id,
        role: Role::Member,
        via: ViewerVia::ApiKey,
        session_id: None,
    };
    let origin = Origin {
        kind: "webhook",
        reference: format!("webhook:{}", hook.name),
    };
    let created = create_in(&txn, &viewer, "", input, LeadConflict::Merge, &origin)
        .await
        .map_err(refusal_of)?;
    touch(&txn, hook, now).await?;
    state.commit(txn, Wakes::Jobs).await.map_err(internal)?;
    Ok(match created {
        Created::New(m) => (m.id, true),
        Created::Merged(m) | Created::Skipped(m) => (m.id, false),
    })
}
