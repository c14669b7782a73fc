//! Marketing costs: what an organization spent on a campaign or a lead source (`setCost`),
//! the denominator of `roi`. One row per organization, kind and subject; setting it again
//! replaces the amount. Each change records `cost.updated` in its transaction.

use chrono::Utc;
use entity::{campaign, marketing_cost};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use super::money;
use crate::{
    auth::{Permission, Viewer},
    domains::insight::types::{CostKind, MarketingCost, SetCostInput},
    error::{AppError, AppResult, FieldError},
    events::{outbox, CostChanged, DomainEvent, EventEnvelope},
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Longest source name.
const MAX_SOURCE: usize = 100;

/// The validated subject: kind, subject text, campaign id.
async fn subject(
    state: &AppState,
    viewer: &Viewer,
    input: &SetCostInput,
    errors: &mut Vec<FieldError>,
) -> AppResult<(CostKind, String, Option<Uuid>)> {
    match (&input.campaign_id, &input.source) {
        (Some(id), None) => {
            let id = parse_id(id).map_err(|_| AppError::NotFound("campaign"))?;
            campaign::Entity::find_by_id(id)
                .filter(campaign::Column::OrgId.eq(viewer.org_id))
                .one(&state.db)
                .await?
                .ok_or(AppError::NotFound("campaign"))?;
            Ok((CostKind::Campaign, id.to_string(), Some(id)))
        }
        (None, Some(s)) => {
            let s = s.trim().to_string();
            if s.is_empty() || s.chars().count() > MAX_SOURCE {
                errors.push(FieldError {
                    field: "input.source".into(),
                    message: format!("must be 1 to {MAX_SOURCE} characters"),
                });
            }
            Ok((CostKind::Source, s, None))
        }
        _ => {
            errors.push(FieldError {
                field: "input.campaignId".into(),
                message: "give either campaignId or source".into(),
            });
            Ok((CostKind::Campaign, String::new(), None))
        }
    }
}

/// `setCost` (MANAGER+): sets the cost of a campaign of the organization or of a source.
pub async fn set(
    state: &AppState,
    viewer: &Viewer,
    input: SetCostInput,
) -> AppResult<MarketingCost> {
    viewer.require(Permission::ManagePipelines)?;
    let mut errors = Vec::new();
    let (kind, subject, campaign_id) = subject(state, viewer, &input, &mut errors).await?;
    money::amount("input.amountMinor", input.amount_minor, &mut errors);
    let currency = money::currency("input.currency", &input.currency, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let existing = marketing_cost::Entity::find()
        .filter(marketing_cost::Column::OrgId.eq(viewer.org_id))
        .filter(marketing_cost::Column::Kind.eq(kind.as_str()))
        .filter(marketing_cost::Column::Subject.eq(subject.as_str()))
        .one(&txn)
        .await?;
    let m = match existing {
        Some(e) => {
            let mut a: marketing_cost::ActiveModel = e.into();
            a.amount_minor = Set(input.amount_minor);
            a.currency = Set(currency);
            a.updated_by = Set(Some(viewer.user_id));
            a.updated_at = Set(now);
            a.update(&txn).await?
        }
        None => {
            marketing_cost::ActiveModel {
                id: Set(Uuid::now_v7()),
                org_id: Set(viewer.org_id),
                kind: Set(kind.as_str().into()),
                subject: Set(subject),
                campaign_id: Set(campaign_id),
                amount_minor: Set(input.amount_minor),
                currency: Set(currency),
                updated_by: Set(Some(viewer.user_id)),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
        }
    };
    let event = DomainEvent::CostUpdated(CostChanged {
        cost_id: m.id,
        kind: m.kind.clone(),
        subject: m.subject.clone(),
        amount_minor: m.amount_minor,
        currency: m.currency.clone(),
    });
    outbox::record(
        &txn,
        &EventEnvelope::new(viewer.org_id, Some(viewer.user_id), event),
    )
    .await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(MarketingCost::from_model(m, kind))
}
