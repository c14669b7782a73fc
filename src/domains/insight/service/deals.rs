//! Deals: list (filtered, newest first), one, create, update, move between stages, close.
//! Every change records its event (`deal.created`, `deal.updated`, `deal.closed`) through the
//! outbox in its transaction.

use chrono::Utc;
use entity::{deal, deal_stage, membership};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Select, TransactionTrait,
};
use uuid::Uuid;

use super::{money, pipelines};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        insight::types::{CreateDealInput, Deal, DealFilter, DealStatus, UpdateDealInput},
        leads,
    },
    error::{AppError, AppResult, FieldError},
    events::{outbox, DealChanged, DomainEvent, EventEnvelope},
    graphql::pagination::{keyset_rows, newest_first, IdConnection, PageArgs, TotalCount},
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Every deal query starts here.
pub fn scoped(viewer: &Viewer) -> Select<deal::Entity> {
    deal::Entity::find().filter(deal::Column::OrgId.eq(viewer.org_id))
}

/// A deal of the viewer's organization, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, viewer: &Viewer, id: Uuid) -> AppResult<deal::Model> {
    scoped(viewer)
        .filter(deal::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("deal"))
}

/// A stage of the viewer's organization, or NOT_FOUND.
async fn stage(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<deal_stage::Model> {
    deal_stage::Entity::find()
        .filter(deal_stage::Column::OrgId.eq(viewer.org_id))
        .filter(deal_stage::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("stage"))
}

/// The object of one deal (its stage read with it).
pub async fn node(conn: &impl ConnectionTrait, viewer: &Viewer, m: deal::Model) -> AppResult<Deal> {
    let s = stage(conn, viewer, m.stage_id).await?;
    Ok(Deal::new(m, s))
}

fn filter_id(id: &Option<async_graphql::ID>, field: &str) -> AppResult<Option<Uuid>> {
    id.as_ref()
        .map(|i| parse_id(i).map_err(|_| AppError::invalid(field, "is not a valid id")))
        .transpose()
}

/// A page of deals, newest first: two statements at any page size (deals, their stages).
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: DealFilter,
    args: PageArgs,
) -> AppResult<IdConnection<Deal>> {
    viewer.require(Permission::ReadDeals)?;
    let mut q = scoped(viewer);
    if let Some(s) = filter.status {
        q = q.filter(deal::Column::Status.eq(s.as_str()));
    }
    for (id, field, col) in [
        (
            &filter.pipeline_id,
            "filter.pipelineId",
            deal::Column::PipelineId,
        ),
        (&filter.stage_id, "filter.stageId", deal::Column::StageId),
        (&filter.owner_id, "filter.ownerId", deal::Column::OwnerId),
        (&filter.lead_id, "filter.leadId", deal::Column::LeadId),
    ] {
        if let Some(u) = filter_id(id, field)? {
            q = q.filter(col.eq(u));
        }
    }
    let total = TotalCount::of(state.db.clone(), q.clone());
    let order = newest_first::<deal::Entity>(deal::Column::Id, |m| m.id);
    let page = keyset_rows(&state.db, q, &order, &args).await?;
    let stage_ids: Vec<Uuid> = page.rows.iter().map(|m| m.stage_id).collect();
    let stages: std::collections::HashMap<Uuid, deal_stage::Model> = if stage_ids.is_empty() {
        Default::default()
    } else {
        deal_stage::Entity::find()
            .filter(deal_stage::Column::OrgId.eq(viewer.org_id))
            .filter(deal_stage::Column::Id.is_in(stage_ids))
            .order_by_asc(deal_stage::Column::Id)
            .all(&state.db)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect()
    };
    Ok(page.into_connection_batch(
        total,
        |m| m.id,
        |rows| {
            rows.into_iter()
                .filter_map(|m| stages.get(&m.stage_id).cloned().map(|s| Deal::new(m, s)))
                .collect::<Vec<_>>()
        },
    ))
}

fn check_title(title: &str, errors: &mut Vec<FieldError>) -> String {
    let t = title.trim();
    if t.is_empty() || t.chars().count() > 200 {
        errors.push(FieldError {
            field: "input.title".into(),
            message: "must be 1–200 characters".into(),
        });
    }
    t.to_string()
}

/// The owner, a member of the viewer's organization (a field error otherwise).
async fn check_owner(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &async_graphql::ID,
    errors: &mut Vec<FieldError>,
) -> AppResult<Option<Uuid>> {
    let member = match parse_id(id) {
        Ok(u) => membership::Entity::find()
            .filter(membership::Column::OrgId.eq(viewer.org_id))
            .filter(membership::Column::UserId.eq(u))
            .count(conn)
            .await?
            .gt(&0)
            .then_some(u),
        Err(_) => None,
    };
    if member.is_none() {
        errors.push(FieldError {
            field: "input.ownerId".into(),
            message: "is not a member of the organization".into(),
        });
    }
    Ok(member)
}

/// The event payload of a deal as it is now.
fn changed(m: &deal::Model, reason: &str) -> DealChanged {
    DealChanged {
        deal_id: m.id,
        pipeline_id: m.pipeline_id,
        stage_id: m.stage_id,
        status: m.status.clone(),
        amount_minor: m.amount_minor,
        currency: m.currency.clone(),
        reason: reason.into(),
    }
}

async fn record(conn: &impl ConnectionTrait, viewer: &Viewer, event: DomainEvent) -> AppResult<()> {
    outbox::record(
        conn,
        &EventEnvelope::new(viewer.org_id, Some(viewer.user_id), event),
    )
    .await
}

/// The stage a new deal starts in: `stage_id` (a stage of the pipeline) or the first.
async fn start_stage(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    pipeline_id: Uuid,
    stage_id: Option<&async_graphql::ID>,
    errors: &mut Vec<FieldError>,
) -> AppResult<Option<deal_stage::Model>> {
    let stages = pipelines::stages_of(conn, viewer, &[pipeline_id])
        .await?
        .remove(&pipeline_id)
        .unwrap_or_default();
    let found = match stage_id {
        None => stages.into_iter().next(),
        Some(id) => {
            let wanted = parse_id(id).ok();
            stages.into_iter().find(|s| Some(s.id) == wanted)
        }
    };
    if found.is_none() {
        errors.push(FieldError {
            field: "input.stageId".into(),
            message: "is not a stage of the pipeline".into(),
        });
    }
    Ok(found)
}

/// `createDeal` (MEMBER+): the lead and pipeline must be the organization's (NOT_FOUND).
pub async fn create(state: &AppState, viewer: &Viewer, input: CreateDealInput) -> AppResult<Deal> {
    viewer.require(Permission::WriteDeals)?;
    let lead = leads::get(&state.db, viewer, parse_id(&input.lead_id)?).await?;
    let pipeline = pipelines::get(&state.db, viewer, parse_id(&input.pipeline_id)?).await?;
    let mut errors = Vec::new();
    let title = check_title(&input.title, &mut errors);
    money::amount("input.amountMinor", input.amount_minor, &mut errors);
    let currency = money::currency("input.currency", &input.currency, &mut errors);
    let stage = start_stage(
        &state.db,
        viewer,
        pipeline.id,
        input.stage_id.as_ref(),
        &mut errors,
    )
    .await?;
    let owner = match &input.owner_id {
        Some(id) => check_owner(&state.db, viewer, id, &mut errors).await?,
        None => None,
    };
    let Some(stage) = stage.filter(|_| errors.is_empty()) else {
        return Err(AppError::invalid_fields(errors));
    };
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let m = deal::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        pipeline_id: Set(pipeline.id),
        stage_id: Set(stage.id),
        lead_id: Set(Some(lead.id)),
        title: Set(title),
        amount_minor: Set(input.amount_minor),
        currency: Set(currency),
        status: Set(DealStatus::Open.as_str().into()),
        lost_reason: Set(None),
        owner_id: Set(owner),
        expected_close_date: Set(input.expected_close_date),
        closed_at: Set(None),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    record(
        &txn,
        viewer,
        DomainEvent::DealCreated(changed(&m, "created")),
    )
    .await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(Deal::new(m, stage))
}

/// `updateDeal` (MEMBER+): the fields present change.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateDealInput,
) -> AppResult<Deal> {
    viewer.require(Permission::WriteDeals)?;
    let d = get(&state.db, viewer, id).await?;
    let mut errors = Vec::new();
    let mut a: deal::ActiveModel = d.clone().into();
    if let Some(t) = &input.title {
        a.title = Set(check_title(t, &mut errors));
    }
    if let Some(n) = input.amount_minor {
        money::amount("input.amountMinor", n, &mut errors);
        a.amount_minor = Set(n);
    }
    if let Some(c) = &input.currency {
        a.currency = Set(money::currency("input.currency", c, &mut errors));
    }
    if let Some(o) = &input.owner_id {
        a.owner_id = Set(check_owner(&state.db, viewer, o, &mut errors).await?);
    }
    if let Some(date) = input.expected_close_date {
        a.expected_close_date = Set(Some(date));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    a.updated_at = Set(Utc::now());
    save(state, viewer, a, "updated").await
}

/// Saves a changed deal and records `deal.updated` (`deal.closed` for won / lost) with
/// `reason`, in one transaction.
async fn save(
    state: &AppState,
    viewer: &Viewer,
    a: deal::ActiveModel,
    reason: &str,
) -> AppResult<Deal> {
    let txn = state.db.begin().await?;
    let m = a.update(&txn).await?;
    let payload = changed(&m, reason);
    let event = match reason {
        "won" | "lost" => DomainEvent::DealClosed(payload),
        _ => DomainEvent::DealUpdated(payload),
    };
    record(&txn, viewer, event).await?;
    state.commit(txn, Wakes::Events).await?;
    node(&state.db, viewer, m).await
}

/// `moveDealStage` (MEMBER+): to another stage of the deal's pipeline; only open deals move
/// (CONFLICT otherwise).
pub async fn move_stage(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    stage_id: &async_graphql::ID,
) -> AppResult<Deal> {
    viewer.require(Permission::WriteDeals)?;
    let d = get(&state.db, viewer, id).await?;
    let s = match parse_id(stage_id).ok() {
        Some(t) => stage(&state.db, viewer, t).await.ok(),
        None => None,
    };
    let Some(s) = s.filter(|s| s.pipeline_id == d.pipeline_id) else {
        return Err(AppError::invalid(
            "stageId",
            "is not a stage of the deal's pipeline",
        ));
    };
    if d.status != DealStatus::Open.as_str() {
        return Err(AppError::Conflict(
            "only open deals move between stages".into(),
        ));
    }
    let mut a: deal::ActiveModel = d.into();
    a.stage_id = Set(s.id);
    a.updated_at = Set(Utc::now());
    save(state, viewer, a, "stage_moved").await
}

/// `closeDeal` (MEMBER+): WON or LOST (with a reason, 1–500 characters); an already closed deal
/// is CONFLICT.
pub async fn close(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    status: DealStatus,
    reason: Option<String>,
) -> AppResult<Deal> {
    viewer.require(Permission::WriteDeals)?;
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    match (status, &reason) {
        (DealStatus::Open, _) => return Err(AppError::invalid("status", "must be WON or LOST")),
        (DealStatus::Lost, None) => {
            return Err(AppError::invalid("reason", "say why the deal was lost"))
        }
        (_, Some(r)) if r.chars().count() > 500 => {
            return Err(AppError::invalid(
                "reason",
                "must be at most 500 characters",
            ))
        }
        _ => {}
    }
    let d = get(&state.db, viewer, id).await?;
    if d.status != DealStatus::Open.as_str() {
        return Err(AppError::Conflict("the deal is already closed".into()));
    }
    let now = Utc::now();
    let mut a: deal::ActiveModel = d.into();
    a.status = Set(status.as_str().into());
    a.lost_reason = Set(reason.filter(|_| status == DealStatus::Lost));
    a.closed_at = Set(Some(now));
    a.updated_at = Set(now);
    let why = if status == DealStatus::Won {
        "won"
    } else {
        "lost"
    };
    save(state, viewer, a, why).await
}
