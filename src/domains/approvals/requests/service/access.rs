//! Who may act on a request, and whom a request reaches: its assignees (named, or members at or
//! above its role, never the requester) and, when it is overdue, their managers.

use std::collections::HashSet;

use entity::{approval_request, membership, team_member};
use sea_orm::{
    sea_query::{Condition, Expr},
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::{Permission, Role, Viewer},
    domains::approvals::{requests::types::ApprovalRequest, types::ids_of},
    error::{AppError, AppResult},
};

/// Roles at or above `role` (the members a role-based assignment reaches).
pub fn roles_at_or_above(role: Role) -> Vec<&'static str> {
    roles_where(|r| r >= role)
}

fn roles_at_or_below(role: Role) -> Vec<&'static str> {
    roles_where(|r| r <= role)
}

fn roles_where(keep: impl Fn(Role) -> bool) -> Vec<&'static str> {
    [
        Role::Viewer,
        Role::Member,
        Role::Manager,
        Role::Admin,
        Role::Owner,
    ]
    .into_iter()
    .filter(|r| keep(*r))
    .map(Role::as_str)
    .collect()
}

/// Whether `viewer` may approve, reject, ask for changes or delegate a request with these
/// assignees: never their own request; otherwise named assignees, members at or above the
/// assignee role, and ADMIN+.
pub fn may_act_on(
    viewer: &Viewer,
    requested_by: Option<Uuid>,
    assignee_ids: &[Uuid],
    assignee_role: Option<Role>,
) -> AppResult<()> {
    viewer.require(Permission::ActOnApprovals)?;
    if requested_by == Some(viewer.user_id) {
        return Err(AppError::forbidden(
            "you cannot decide on your own approval request",
        ));
    }
    if viewer.role >= Role::Admin
        || assignee_ids.contains(&viewer.user_id)
        || assignee_role.is_some_and(|r| viewer.role >= r)
    {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the request's assignees (or ADMIN+) may act on it",
        ))
    }
}

/// [`may_act_on`] for a GraphQL request object.
pub fn may_act(viewer: &Viewer, r: &ApprovalRequest) -> AppResult<()> {
    may_act_on(viewer, r.requested_by, &r.assignee_ids, r.assignee_role)
}

pub(super) fn may_act_model(viewer: &Viewer, r: &approval_request::Model) -> AppResult<()> {
    may_act_on(
        viewer,
        r.requested_by,
        &ids_of(&r.assignee_ids),
        r.assignee_role.as_deref().and_then(Role::parse),
    )
}

pub(super) fn owner_or_admin(viewer: &Viewer, r: &approval_request::Model) -> AppResult<()> {
    if r.requested_by == Some(viewer.user_id) || viewer.role >= Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the requester (or ADMIN+) may change or withdraw a request",
        ))
    }
}

/// The people who may act on `r` (named assignees and members at or above its role), without
/// the requester.
pub async fn assignees(
    conn: &impl ConnectionTrait,
    r: &approval_request::Model,
) -> AppResult<Vec<Uuid>> {
    let mut out = ids_of(&r.assignee_ids);
    if let Some(role) = r.assignee_role.as_deref().and_then(Role::parse) {
        let by_role: Vec<Uuid> = membership::Entity::find()
            .select_only()
            .column(membership::Column::UserId)
            .filter(membership::Column::OrgId.eq(r.org_id))
            .filter(membership::Column::Role.is_in(roles_at_or_above(role)))
            .order_by_asc(membership::Column::Id)
            .into_tuple::<Uuid>()
            .all(conn)
            .await?;
        for u in by_role {
            if !out.contains(&u) {
                out.push(u);
            }
        }
    }
    out.retain(|u| Some(*u) != r.requested_by);
    Ok(out)
}

/// Requests `viewer` is an assignee of (named, or by role), not their own.
pub(super) fn assigned_to(backend: DatabaseBackend, viewer: &Viewer) -> Condition {
    let me = viewer.user_id.to_string();
    let named = match backend {
        DatabaseBackend::Postgres => Expr::cust_with_values(
            r#""approval_requests"."assignee_ids" @> CAST($1 AS jsonb)"#,
            [sea_orm::Value::from(json!([me]).to_string())],
        ),
        _ => Expr::cust_with_values(
            r#""approval_requests"."assignee_ids" LIKE ?"#,
            [sea_orm::Value::from(format!("%\"{me}\"%"))],
        ),
    };
    Condition::all()
        .add(
            Condition::any()
                .add(named)
                .add(approval_request::Column::AssigneeRole.is_in(roles_at_or_below(viewer.role))),
        )
        .add(
            Condition::any()
                .add(approval_request::Column::RequestedBy.is_null())
                .add(approval_request::Column::RequestedBy.ne(viewer.user_id)),
        )
}

/// Members of `org_id` among `ids` with a role at or above MANAGER who share a team with one of
/// `users`, plus the organization's ADMIN/OWNERs: who hears about an overdue request besides
/// its assignees.
pub async fn managers_of(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    users: &[Uuid],
) -> AppResult<Vec<Uuid>> {
    let teams: Vec<Uuid> = if users.is_empty() {
        Vec::new()
    } else {
        team_member::Entity::find()
            .select_only()
            .column(team_member::Column::TeamId)
            .filter(team_member::Column::OrgId.eq(org_id))
            .filter(team_member::Column::UserId.is_in(users.to_vec()))
            .into_tuple()
            .all(conn)
            .await?
    };
    let mates: HashSet<Uuid> = if teams.is_empty() {
        HashSet::new()
    } else {
        team_member::Entity::find()
            .select_only()
            .column(team_member::Column::UserId)
            .filter(team_member::Column::TeamId.is_in(teams))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?
            .into_iter()
            .collect()
    };
    let rows: Vec<(Uuid, String)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .column(membership::Column::Role)
        .filter(membership::Column::OrgId.eq(org_id))
        .filter(membership::Column::Role.is_in(roles_at_or_above(Role::Manager)))
        .order_by_asc(membership::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(u, role)| {
            Role::parse(role).is_some_and(|r| r >= Role::Admin) || mates.contains(u)
        })
        .map(|(u, _)| u)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(role: Role, user: Uuid) -> Viewer {
        Viewer {
            user_id: user,
            org_id: Uuid::nil(),
            role,
            via: crate::auth::ViewerVia::Jwt,
            session_id: None,
        }
    }

    #[test]
    fn who_may_act() {
        let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
        // Never on one's own request, whatever the role.
        assert!(may_act_on(&viewer(Role::Owner, me), Some(me), &[me], None).is_err());
        // Named assignee.
        assert!(may_act_on(&viewer(Role::Member, me), Some(other), &[me], None).is_ok());
        // By role.
        assert!(may_act_on(
            &viewer(Role::Manager, me),
            Some(other),
            &[],
            Some(Role::Manager)
        )
        .is_ok());
        assert!(may_act_on(
            &viewer(Role::Member, me),
            Some(other),
            &[],
            Some(Role::Manager)
        )
        .is_err());
        // ADMIN+ always; viewers never.
        assert!(may_act_on(&viewer(Role::Admin, me), Some(other), &[], None).is_ok());
        assert!(may_act_on(&viewer(Role::Viewer, me), Some(other), &[me], None).is_err());
    }
}
