//! Campaign rules: CRUD, duplicate, and the lifecycle (launch through the approval gate,
//! schedule, pause, resume, stop). Every status change records `campaign.status` in the same
//! transaction; starting to send enqueues the `campaign.send` job in it too.
//!
//! Lifecycle: DRAFT → (gate) → RUNNING | PENDING_APPROVAL; DRAFT → SCHEDULED → RUNNING (the job
//! runs at `scheduleAt`); PENDING_APPROVAL → RUNNING | SCHEDULED ([`launch_approved`]) or DRAFT
//! ([`return_to_draft`]); RUNNING/SCHEDULED → PAUSED → RUNNING; RUNNING → COMPLETED | FAILED
//! (the job); anything not finished → STOPPED. FAILED → RUNNING through `resumeCampaign`.

use async_graphql::connection::{Connection, Edge};
use chrono::Utc;
use entity::{campaign, campaign_recipient, email_template};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    Select, TransactionTrait,
};
use uuid::Uuid;

pub mod ab;
pub mod by_template;
pub mod gate;
pub mod lifecycle;
pub mod recipients;
pub mod send_run;
pub mod stats;

use super::types::{
    Campaign, CampaignFilter, CampaignStatus, CampaignVariant, CreateCampaignInput,
    UpdateCampaignInput,
};
use crate::{
    auth::{Permission, Viewer},
    db::{lower_contains, search_text},
    domains::{
        leads::Check,
        outreach::{
            settings::check_from,
            templates::{self, Content},
        },
    },
    error::{AppError, AppResult, FieldError},
    events::{outbox, CampaignStatusChanged, DomainEvent, EventEnvelope},
    graphql::pagination::{keyset_rows, ByColumn, IdConnection, KeyCursor, PageArgs, TotalCount},
    ids::parse_id,
    state::AppState,
    state::Wakes,
};

pub use self::lifecycle::{
    launch, launch_approved, return_to_draft, schedule, transition, Approved, Move,
};

/// Highest `sendRatePerMinute`.
pub const MAX_RATE: i32 = 600_000;
/// Most A/B variants.
pub const MAX_VARIANTS: usize = 5;

/// Every campaign query starts here.
pub fn scoped(viewer: &Viewer) -> Select<campaign::Entity> {
    campaign::Entity::find().filter(campaign::Column::OrgId.eq(viewer.org_id))
}

/// A campaign of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<campaign::Model> {
    scoped(viewer)
        .filter(campaign::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("campaign"))
}

pub fn status_of(c: &campaign::Model) -> CampaignStatus {
    CampaignStatus::parse(&c.status).unwrap_or(CampaignStatus::Draft)
}

/// Records `campaign.status` with fresh counters in `conn` (the caller's transaction).
pub async fn record_status(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    user_id: Option<Uuid>,
    campaign_id: Uuid,
    status: CampaignStatus,
) -> AppResult<()> {
    record_status_with(conn, org_id, user_id, campaign_id, status, None).await
}

/// [`record_status`], carrying the A/B winner when one was just chosen.
pub async fn record_status_with(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    user_id: Option<Uuid>,
    campaign_id: Uuid,
    status: CampaignStatus,
    ab_winner: Option<String>,
) -> AppResult<()> {
    let counters = stats::counters(conn, &[campaign_id])
        .await?
        .remove(&campaign_id)
        .unwrap_or_default();
    outbox::record(
        conn,
        &EventEnvelope::new(
            org_id,
            user_id,
            DomainEvent::CampaignStatus(CampaignStatusChanged {
                campaign_id,
                status: status.as_str().into(),
                counters,
                ab_winner,
            }),
        ),
    )
    .await
}

/// Records `campaign.status` in its own transaction and wakes the relay: for progress events and
/// changes that were committed without one.
pub async fn announce_status(
    state: &AppState,
    org_id: Uuid,
    user_id: Option<Uuid>,
    campaign_id: Uuid,
    status: CampaignStatus,
) -> AppResult<()> {
    let txn = state.db.begin().await?;
    record_status(&txn, org_id, user_id, campaign_id, status).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(())
}

async fn template_in_org(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    field: &str,
    id: &async_graphql::ID,
) -> AppResult<email_template::Model> {
    let Ok(id) = parse_id(id) else {
        return Err(AppError::invalid(field, "no such template"));
    };
    templates::get(conn, viewer, id)
        .await
        .map_err(|_| AppError::invalid(field, "no such template"))
}

/// Validates variants: unique names, weights 1–100, templates of the organization, subjects
/// that parse.
async fn check_variants(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    variants: &[CampaignVariant],
) -> AppResult<serde_json::Value> {
    let mut errors = Vec::new();
    if variants.len() > MAX_VARIANTS || variants.len() == 1 {
        errors.push(FieldError {
            field: "input.variants".into(),
            message: format!("give none, or 2–{MAX_VARIANTS} variants"),
        });
    }
    let mut names = std::collections::HashSet::new();
    for (i, v) in variants.iter().enumerate() {
        let f = |x: &str| format!("input.variants[{i}].{x}");
        let name = v.name.trim();
        if name.is_empty() || name.chars().count() > 32 || !names.insert(name.to_string()) {
            errors.push(FieldError {
                field: f("name"),
                message: "must be 1–32 characters and unique".into(),
            });
        }
        if !(1..=100).contains(&v.weight) {
            errors.push(FieldError {
                field: f("weight"),
                message: "must be between 1 and 100".into(),
            });
        }
        if let Some(t) = &v.template_id {
            if template_in_org(conn, viewer, &f("templateId"), t)
                .await
                .is_err()
            {
                errors.push(FieldError {
                    field: f("templateId"),
                    message: "no such template".into(),
                });
            }
        }
        if let Some(s) = &v.subject {
            let c = Content {
                subject: s.clone(),
                body_html: "x".into(),
                body_text: String::new(),
            };
            if let Some(issue) = templates::validate_content(&c).into_iter().next() {
                errors.push(FieldError {
                    field: f("subject"),
                    message: issue.message,
                });
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let trimmed: Vec<CampaignVariant> = variants
        .iter()
        .map(|v| CampaignVariant {
            name: v.name.trim().to_string(),
            ..v.clone()
        })
        .collect();
    Ok(serde_json::to_value(trimmed)?)
}

fn check_rate(c: &mut Check, rate: Option<i32>) -> Option<i32> {
    match rate {
        Some(r) if !(0..=MAX_RATE).contains(&r) => {
            c.errors.push(FieldError {
                field: "input.sendRatePerMinute".into(),
                message: format!("must be between 0 (unlimited) and {MAX_RATE}"),
            });
            None
        }
        Some(0) | None => None,
        Some(r) => Some(r),
    }
}

fn required(c: &mut Check, field: &str, v: Option<String>) -> String {
    match v {
        Some(v) => v,
        None => {
            c.errors.push(FieldError {
                field: format!("input.{field}"),
                message: "is required".into(),
            });
            String::new()
        }
    }
}

/// A valid `fromEmail` must be on a verified sending domain (S14, `sending_domains`).
async fn sender_domain(
    state: &AppState,
    viewer: &Viewer,
    c: &mut Check,
    from_email: &str,
) -> AppResult<()> {
    if from_email.is_empty() || c.errors.iter().any(|e| e.field == "input.fromEmail") {
        return Ok(());
    }
    if let Err(message) = check_from(&state.db, &state.config, viewer.org_id, from_email).await? {
        c.errors.push(FieldError {
            field: "input.fromEmail".into(),
            message,
        });
    }
    Ok(())
}

/// Creates a DRAFT campaign.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateCampaignInput,
) -> AppResult<campaign::Model> {
    viewer.require(Permission::WriteOutreach)?;
    let mut c = Check::new("input.");
    let name = c.text("name", Some(&input.name), 200);
    let name = required(&mut c, "name", name);
    let from_name = c.text("fromName", Some(&input.from_name), 200);
    let from_name = required(&mut c, "fromName", from_name);
    let from_email = c.email("fromEmail", Some(&input.from_email));
    let from_email = required(&mut c, "fromEmail", from_email);
    let reply_to = c.email("replyTo", input.reply_to.as_deref());
    let rate = check_rate(&mut c, input.send_rate_per_minute);
    sender_domain(state, viewer, &mut c, &from_email).await?;
    let template = template_in_org(&state.db, viewer, "input.templateId", &input.template_id).await;
    if let Err(AppError::BadUserInput { fields, .. }) = &template {
        c.errors.extend(fields.iter().cloned());
    }
    c.finish()?;
    let template = template?;
    let variants = check_variants(
        &state.db,
        viewer,
        input.variants.as_deref().unwrap_or_default(),
    )
    .await?;
    let ab_test = match &input.ab_test {
        Some(t) => {
            let n = input.variants.as_ref().map_or(0, Vec::len);
            let errors = ab::check("input.abTest", t, n);
            if !errors.is_empty() {
                return Err(AppError::invalid_fields(errors));
            }
            Some(serde_json::to_value(t)?)
        }
        None => None,
    };
    let settings = campaign::ActiveModel {
        org_id: Set(viewer.org_id),
        name: Set(name),
        template_id: Set(Some(template.id)),
        from_name: Set(from_name),
        from_email: Set(from_email),
        reply_to: Set(reply_to),
        send_rate_per_minute: Set(rate),
        schedule_at: Set(input.schedule_at),
        variants: Set(variants),
        ab_test: Set(ab_test),
        require_validated_recipients: Set(input.require_validated_recipients.unwrap_or(false)),
        ..Default::default()
    };
    Ok(new_draft(viewer, settings).insert(&state.db).await?)
}

/// What every new DRAFT starts with, whatever its settings came from (`createCampaign`,
/// `duplicateCampaign`): a new id, the viewer as creator, no run state (content, job, launch and
/// completion times, error) and no A/B winner.
fn new_draft(viewer: &Viewer, mut a: campaign::ActiveModel) -> campaign::ActiveModel {
    let now = Utc::now();
    a.id = Set(Uuid::now_v7());
    a.status = Set(CampaignStatus::Draft.as_str().into());
    a.content = Set(None);
    a.job_id = Set(None);
    a.created_by = Set(Some(viewer.user_id));
    a.launched_at = Set(None);
    a.completed_at = Set(None);
    a.last_error = Set(None);
    a.ab_winner = Set(None);
    a.created_at = Set(now);
    a.updated_at = Set(now);
    a
}

/// The variants and A/B test of `updateCampaign`: fixed once an A/B campaign has started, and an
/// A/B test needs at least 2 variants.
async fn update_ab(
    state: &AppState,
    viewer: &Viewer,
    existing: &campaign::Model,
    input: &UpdateCampaignInput,
    a: &mut campaign::ActiveModel,
) -> AppResult<()> {
    // Once an A/B campaign has started, its test is fixed: the test group has its variants.
    let started_ab = existing.ab_test.is_some() && existing.content.is_some();
    if started_ab && (input.variants.is_some() || !input.ab_test.is_undefined()) {
        return Err(AppError::Conflict(
            "the variants and A/B test of a started A/B campaign cannot change".into(),
        ));
    }
    if let Some(v) = &input.variants {
        a.variants = Set(check_variants(&state.db, viewer, v).await?);
    }
    let variant_count = match &input.variants {
        Some(v) => v.len(),
        None => ab::variants_of(existing).len(),
    };
    match &input.ab_test {
        async_graphql::MaybeUndefined::Value(t) => {
            let errors = ab::check("input.abTest", t, variant_count);
            if !errors.is_empty() {
                return Err(AppError::invalid_fields(errors));
            }
            a.ab_test = Set(Some(serde_json::to_value(t)?));
        }
        async_graphql::MaybeUndefined::Null => a.ab_test = Set(None),
        async_graphql::MaybeUndefined::Undefined => {
            if existing.ab_test.is_some() && variant_count < 2 {
                return Err(AppError::invalid(
                    "input.variants",
                    "an A/B test needs at least 2 variants (remove abTest first)",
                ));
            }
        }
    }
    Ok(())
}

/// Changes the fields present in `input`. Only while DRAFT, SCHEDULED or PAUSED (CONFLICT
/// otherwise); a new template takes effect at the next launch or resume. A SCHEDULED campaign
/// whose sender, template or variants change passes the approval gate again.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateCampaignInput,
) -> AppResult<campaign::Model> {
    viewer.require(Permission::WriteOutreach)?;
    let existing = get(&state.db, viewer, id).await?;
    if !matches!(
        status_of(&existing),
        CampaignStatus::Draft | CampaignStatus::Scheduled | CampaignStatus::Paused
    ) {
        return Err(AppError::Conflict(format!(
            "a {} campaign cannot be edited",
            existing.status
        )));
    }
    let mut c = Check::new("input.");
    let mut a: campaign::ActiveModel = existing.clone().into();
    if let Some(n) = &input.name {
        let n = c.text("name", Some(n), 200);
        a.name = Set(required(&mut c, "name", n));
    }
    if let Some(n) = &input.from_name {
        let n = c.text("fromName", Some(n), 200);
        a.from_name = Set(required(&mut c, "fromName", n));
    }
    if let Some(e) = &input.from_email {
        let e = c.email("fromEmail", Some(e));
        let e = required(&mut c, "fromEmail", e);
        sender_domain(state, viewer, &mut c, &e).await?;
        a.from_email = Set(e);
    }
    match &input.reply_to {
        async_graphql::MaybeUndefined::Value(v) => a.reply_to = Set(c.email("replyTo", Some(v))),
        async_graphql::MaybeUndefined::Null => a.reply_to = Set(None),
        async_graphql::MaybeUndefined::Undefined => {}
    }
    match &input.send_rate_per_minute {
        async_graphql::MaybeUndefined::Value(v) => {
            a.send_rate_per_minute = Set(check_rate(&mut c, Some(*v)))
        }
        async_graphql::MaybeUndefined::Null => a.send_rate_per_minute = Set(None),
        async_graphql::MaybeUndefined::Undefined => {}
    }
    match &input.schedule_at {
        async_graphql::MaybeUndefined::Value(v) => a.schedule_at = Set(Some(*v)),
        async_graphql::MaybeUndefined::Null => a.schedule_at = Set(None),
        async_graphql::MaybeUndefined::Undefined => {}
    }
    if let Some(t) = &input.template_id {
        match template_in_org(&state.db, viewer, "input.templateId", t).await {
            Ok(t) => a.template_id = Set(Some(t.id)),
            Err(AppError::BadUserInput { fields, .. }) => c.errors.extend(fields),
            Err(e) => return Err(e),
        }
    }
    if let Some(v) = input.require_validated_recipients {
        a.require_validated_recipients = Set(v);
    }
    c.finish()?;
    update_ab(state, viewer, &existing, &input, &mut a).await?;
    a.updated_at = Set(Utc::now());
    // A SCHEDULED campaign is cleared to send: a change to what it sends or from whom passes the
    // approval gate again, in the same transaction.
    let txn = state.db.begin().await?;
    let c = a.update(&txn).await?;
    let c = self::lifecycle::regate(&txn, viewer, c).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(c)
}

/// Deletes a campaign with its recipients and events. CONFLICT while it is sending.
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::DeleteOutreach)?;
    let c = get(&state.db, viewer, id).await?;
    if status_of(&c) == CampaignStatus::Running {
        return Err(AppError::Conflict(
            "pause or stop the campaign first".into(),
        ));
    }
    let txn = state.db.begin().await?;
    // Children first: SQLite may run without enforced foreign keys.
    entity::email_event::Entity::delete_many()
        .filter(entity::email_event::Column::CampaignId.eq(c.id))
        .exec(&txn)
        .await?;
    campaign_recipient::Entity::delete_many()
        .filter(campaign_recipient::Column::CampaignId.eq(c.id))
        .exec(&txn)
        .await?;
    campaign::Entity::delete_by_id(c.id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Copies the settings (not the recipients) into a new DRAFT "<name> (copy)".
pub async fn duplicate(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<campaign::Model> {
    viewer.require(Permission::WriteOutreach)?;
    let c = get(&state.db, viewer, id).await?;
    let name: String = format!("{} (copy)", c.name).chars().take(200).collect();
    let settings = campaign::ActiveModel {
        name: Set(name),
        ab_test: Set(c.ab_test.clone().map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("testSentAt");
            }
            v
        })),
        ..c.into()
    };
    Ok(new_draft(viewer, settings).insert(&state.db).await?)
}

/// The rows `campaigns(filter)` lists (permission, organization, filter), before paging: the
/// one definition the resolvers and the compiled read path (`graphql::compiled::outreach`)
/// page newest first by id.
pub fn list_select(
    viewer: &Viewer,
    filter: &CampaignFilter,
) -> AppResult<Select<campaign::Entity>> {
    viewer.require(Permission::ReadOutreach)?;
    let mut q = scoped(viewer);
    if let Some(s) = filter.status.as_ref().filter(|s| !s.is_empty()) {
        q = q.filter(campaign::Column::Status.is_in(s.iter().map(|x| x.as_str())));
    }
    if let Some(t) = &filter.template_id {
        let t =
            parse_id(t).map_err(|_| AppError::invalid("filter.templateId", "is not a valid id"))?;
        q = q.filter(campaign::Column::TemplateId.eq(t));
    }
    if let Some(s) = search_text(filter.search.as_deref(), 200)? {
        q = q.filter(lower_contains(campaign::Column::Name, s));
    }
    Ok(q)
}

/// A page of campaigns, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: &CampaignFilter,
    args: PageArgs,
) -> AppResult<IdConnection<Campaign>> {
    let q = list_select(viewer, filter)?;
    // The page is wrapped together, so templates and counters load once for all of it.
    let total = TotalCount::of(state.db.clone(), q.clone());
    let order = ByColumn {
        column: campaign::Column::Id,
        desc: true,
        key_of: |c: &campaign::Model| c.id,
    };
    let page = keyset_rows(&state.db, q, &order, &args).await?;
    let ids: Vec<Uuid> = page.rows.iter().map(|r| r.id).collect();
    let mut out = Connection::with_additional_fields(page.has_prev, page.has_next, total);
    out.edges.extend(
        ids.into_iter()
            .zip(Campaign::wrap(page.rows))
            .map(|(id, n)| Edge::new(KeyCursor(id), n)),
    );
    Ok(out)
}
