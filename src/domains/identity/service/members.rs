//! Membership look-ups for work done on a member's behalf later (a schedule firing as the
//! member who created it) and for checking that addresses belong to an organization's members.

use entity::{membership, user};
use sea_orm::{sea_query::Query, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use std::collections::HashSet;
use uuid::Uuid;

use crate::{
    auth::{Role, Viewer, ViewerVia},
    error::AppResult,
};

/// `user` acting in `org` with their current role; None once they are no longer a member.
pub async fn member_viewer(
    conn: &impl ConnectionTrait,
    org: Uuid,
    user: Uuid,
) -> AppResult<Option<Viewer>> {
    let m = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(org))
        .filter(membership::Column::UserId.eq(user))
        .one(conn)
        .await?;
    Ok(m.and_then(|m| Role::parse(&m.role)).map(|role| Viewer {
        user_id: user,
        org_id: org,
        role,
        via: ViewerVia::Jwt,
        session_id: None,
    }))
}

/// Which of `emails` (compared case-insensitively) are not the address of a member of `org`:
/// their indexes, in order. One statement.
pub async fn non_member_emails(
    conn: &impl ConnectionTrait,
    org: Uuid,
    emails: &[String],
) -> AppResult<Vec<usize>> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<String> = emails.iter().map(|e| e.trim().to_lowercase()).collect();
    let of_org = Query::select()
        .column(membership::Column::UserId)
        .from(membership::Entity)
        .and_where(membership::Column::OrgId.eq(org))
        .to_owned();
    let members: HashSet<String> = user::Entity::find()
        .filter(user::Column::Id.in_subquery(of_org))
        .filter(user::Column::Email.is_in(wanted.clone()))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.email.to_lowercase())
        .collect();
    Ok(wanted
        .iter()
        .enumerate()
        .filter(|(_, e)| !members.contains(*e))
        .map(|(i, _)| i)
        .collect())
}
