//! The suppression list API: `suppressions(filter)` (a connection, newest first),
//! `addSuppression(email, reason)` and `removeSuppression(email)`. Entries also come from
//! tracking (unsubscribes, hard bounces, complaints); the send job checks the list before every
//! batch, so an address added while a campaign runs is not sent to.
//!
//! Roles: reading is `ReadOutreach` (VIEWER), adding `WriteOutreach` (MEMBER; suppressing can
//! only send less mail), removing is ADMIN (`UpdateOrganization`): it makes an address that
//! unsubscribed or bounced reachable again.

use chrono::Utc;
use entity::email_suppression;
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    db::{contains_pattern, search_text},
    domains::outreach::settings::types::{Suppression, SuppressionFilter, SuppressionReason},
    error::{AppError, AppResult},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::AppState,
};

/// Who may remove an entry.
pub const REMOVE_PERMISSION: Permission = Permission::UpdateOrganization;

/// A normalised address, or BAD_USER_INPUT on `field`.
fn address(field: &str, email: &str) -> AppResult<String> {
    let e = email.trim().to_lowercase();
    if e.chars().count() > 320 || !email_address::EmailAddress::is_valid(&e) {
        return Err(AppError::invalid(field, "is not a valid email address"));
    }
    Ok(e)
}

/// A page of the organization's suppression list, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: SuppressionFilter,
    args: PageArgs,
) -> AppResult<IdConnection<Suppression>> {
    viewer.require(Permission::ReadOutreach)?;
    let mut q = email_suppression::Entity::find()
        .filter(email_suppression::Column::OrgId.eq(viewer.org_id));
    if let Some(r) = filter.reason.filter(|r| !r.is_empty()) {
        q = q.filter(email_suppression::Column::Reason.is_in(r.iter().map(|x| x.as_str())));
    }
    if let Some(s) = search_text(filter.search.as_deref(), 320)? {
        // Addresses are stored lowercase.
        q = q.filter(email_suppression::Column::Email.like(contains_pattern(s)));
    }
    page_by_id_desc(
        &state.db,
        q,
        email_suppression::Column::Id,
        &args,
        |m| m.id,
        Suppression,
    )
    .await
}

/// Puts a lowercase `email` on `org_id`'s list in `conn` (idempotent: an address already listed
/// keeps its entry and reason). Tracking adds unsubscribes, hard bounces and complaints this way.
pub async fn insert(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    email: &str,
    reason: SuppressionReason,
    data: Value,
) -> AppResult<()> {
    email_suppression::Entity::insert(email_suppression::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        email: Set(email.to_string()),
        reason: Set(reason.as_str().into()),
        data: Set(data),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            email_suppression::Column::OrgId,
            email_suppression::Column::Email,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Adds `email` (idempotent: an address already on the list keeps its entry and reason).
pub async fn add(
    state: &AppState,
    viewer: &Viewer,
    email: &str,
    reason: Option<SuppressionReason>,
) -> AppResult<email_suppression::Model> {
    viewer.require(Permission::WriteOutreach)?;
    let email = address("email", email)?;
    let reason = reason.unwrap_or(SuppressionReason::Manual);
    let data = json!({"addedBy": viewer.user_id});
    insert(&state.db, viewer.org_id, &email, reason, data).await?;
    email_suppression::Entity::find()
        .filter(email_suppression::Column::OrgId.eq(viewer.org_id))
        .filter(email_suppression::Column::Email.eq(email))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("suppression"))
}

/// Removes `email` from the list; NOT_FOUND when it is not on it. Returns the removed entry.
pub async fn remove(
    state: &AppState,
    viewer: &Viewer,
    email: &str,
) -> AppResult<email_suppression::Model> {
    viewer.require(REMOVE_PERMISSION)?;
    let email = address("email", email)?;
    let row = email_suppression::Entity::find()
        .filter(email_suppression::Column::OrgId.eq(viewer.org_id))
        .filter(email_suppression::Column::Email.eq(email))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("suppression"))?;
    email_suppression::Entity::delete_by_id(row.id)
        .exec(&state.db)
        .await?;
    Ok(row)
}
