//! Auto-responder rules: the list, create, update and delete (ManageAutoResponder), each with
//! its `auto_responder.rule` event in the change's transaction. What a rule does with inbound
//! mail is in [`respond`]; the AI_REPLY approval subject in [`subject`].

pub mod respond;
pub mod subject;

use async_graphql::{MaybeUndefined, ID};
use chrono::Utc;
use entity::auto_responder_rule;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    Select, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    domains::{
        conversations::types::{
            AutoResponderAction, AutoResponderRule, CreateAutoResponderRuleInput,
            UpdateAutoResponderRuleInput,
        },
        leads::Check,
        outreach::templates,
    },
    error::{AppError, AppResult, FieldError},
    events::{outbox, AutoResponderRuleChanged, DomainEvent, EventEnvelope},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Cooldown when the input names none: 24 hours.
pub const DEFAULT_COOLDOWN_MINUTES: i32 = 24 * 60;
/// Longest cooldown: a year.
const MAX_COOLDOWN_MINUTES: i32 = 525_600;
/// Keywords a rule may carry.
const MAX_KEYWORDS: usize = 50;
/// Highest priority value.
const MAX_PRIORITY: i32 = 10_000;

/// Every rule query starts here.
pub fn scoped(viewer: &Viewer) -> Select<auto_responder_rule::Entity> {
    auto_responder_rule::Entity::find().filter(auto_responder_rule::Column::OrgId.eq(viewer.org_id))
}

/// A rule of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<auto_responder_rule::Model> {
    scoped(viewer)
        .filter(auto_responder_rule::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("auto-responder rule"))
}

/// A page of the organization's rules, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<AutoResponderRule>> {
    viewer.require(Permission::ReadConversations)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        auto_responder_rule::Column::Id,
        &args,
        |m| m.id,
        AutoResponderRule::from,
    )
    .await
}

fn fail(c: &mut Check, field: &str, message: &str) {
    c.errors.push(FieldError {
        field: format!("input.{field}"),
        message: message.into(),
    });
}

/// Trimmed, lowercase, distinct keywords: 1–50 of them, each 1–100 characters.
fn keywords(c: &mut Check, v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if v.is_empty() || v.len() > MAX_KEYWORDS {
        fail(
            c,
            "keywords",
            &format!("between 1 and {MAX_KEYWORDS} keywords"),
        );
        return out;
    }
    for k in v {
        let k = k.trim().to_lowercase();
        if k.is_empty() || k.chars().count() > 100 {
            fail(c, "keywords", "each keyword has 1 to 100 characters");
            return out;
        }
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

fn name(c: &mut Check, v: &str) -> String {
    let n = c.text("name", Some(v), 200).unwrap_or_default();
    if n.is_empty() && !c.errors.iter().any(|e| e.field == "input.name") {
        fail(c, "name", "is required");
    }
    n
}

fn cooldown(c: &mut Check, v: i32) -> i32 {
    if !(1..=MAX_COOLDOWN_MINUTES).contains(&v) {
        fail(c, "cooldownMinutes", "between 1 and 525600 minutes");
    }
    v
}

fn priority(c: &mut Check, v: i32) -> i32 {
    if !(0..=MAX_PRIORITY).contains(&v) {
        fail(c, "priority", "between 0 and 10000");
    }
    v
}

/// The template a REPLY_WITH_TEMPLATE rule sends: one of the organization's (another
/// organization's reads as unknown). AI_REPLY keeps none.
async fn template_for(
    state: &AppState,
    viewer: &Viewer,
    action: AutoResponderAction,
    id: Option<&ID>,
) -> AppResult<Option<Uuid>> {
    if action == AutoResponderAction::AiReply {
        return Ok(None);
    }
    let unknown = || AppError::invalid("input.templateId", "no such template");
    let Some(id) = id else {
        return Err(AppError::invalid(
            "input.templateId",
            "REPLY_WITH_TEMPLATE needs a template",
        ));
    };
    let id = parse_id(id).map_err(|_| unknown())?;
    match templates::get(&state.db, viewer, id).await {
        Ok(t) => Ok(Some(t.id)),
        Err(AppError::NotFound(_)) => Err(unknown()),
        Err(e) => Err(e),
    }
}

/// Records `auto_responder.rule` (`kind`) for `r`.
async fn announce(
    conn: &impl ConnectionTrait,
    r: &auto_responder_rule::Model,
    kind: &str,
    user: Uuid,
) -> AppResult<()> {
    let event = DomainEvent::AutoResponderRule(AutoResponderRuleChanged {
        rule_id: r.id,
        kind: kind.into(),
        enabled: r.enabled,
    });
    outbox::record(conn, &EventEnvelope::new(r.org_id, Some(user), event)).await
}

/// Creates a rule.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateAutoResponderRuleInput,
) -> AppResult<auto_responder_rule::Model> {
    viewer.require(Permission::ManageAutoResponder)?;
    let mut c = Check::new("input.");
    let name = name(&mut c, &input.name);
    let keywords = keywords(&mut c, &input.keywords);
    let cooldown = cooldown(
        &mut c,
        input.cooldown_minutes.unwrap_or(DEFAULT_COOLDOWN_MINUTES),
    );
    let priority = priority(&mut c, input.priority.unwrap_or(0));
    c.finish()?;
    let template = template_for(state, viewer, input.action, input.template_id.as_ref()).await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let r = auto_responder_rule::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(name),
        keywords: Set(json!(keywords)),
        action: Set(input.action.as_str().into()),
        template_id: Set(template),
        cooldown_minutes: Set(cooldown),
        enabled: Set(input.enabled.unwrap_or(true)),
        priority: Set(priority),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    announce(&txn, &r, "created", viewer.user_id).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(r)
}

/// Changes the fields present in `input`.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateAutoResponderRuleInput,
) -> AppResult<auto_responder_rule::Model> {
    viewer.require(Permission::ManageAutoResponder)?;
    let r = get(&state.db, viewer, id).await?;
    let mut c = Check::new("input.");
    let mut a: auto_responder_rule::ActiveModel = r.clone().into();
    if let Some(n) = &input.name {
        a.name = Set(name(&mut c, n));
    }
    if let Some(k) = &input.keywords {
        a.keywords = Set(json!(keywords(&mut c, k)));
    }
    if let Some(m) = input.cooldown_minutes {
        a.cooldown_minutes = Set(cooldown(&mut c, m));
    }
    if let Some(p) = input.priority {
        a.priority = Set(priority(&mut c, p));
    }
    c.finish()?;
    if let Some(e) = input.enabled {
        a.enabled = Set(e);
    }
    let action = input
        .action
        .or_else(|| AutoResponderAction::parse(&r.action))
        .unwrap_or(AutoResponderAction::AiReply);
    let template = match &input.template_id {
        MaybeUndefined::Value(t) => Some(t.clone()),
        MaybeUndefined::Null => None,
        MaybeUndefined::Undefined => r.template_id.map(|t| ID(t.to_string())),
    };
    a.action = Set(action.as_str().into());
    a.template_id = Set(template_for(state, viewer, action, template.as_ref()).await?);
    a.updated_at = Set(Utc::now());
    let txn = state.db.begin().await?;
    let r = a.update(&txn).await?;
    announce(&txn, &r, "updated", viewer.user_id).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(r)
}

/// Deletes a rule (what it already did stays).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::ManageAutoResponder)?;
    let r = get(&state.db, viewer, id).await?;
    let txn = state.db.begin().await?;
    auto_responder_rule::Entity::delete_by_id(r.id)
        .exec(&txn)
        .await?;
    announce(&txn, &r, "deleted", viewer.user_id).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(())
}
