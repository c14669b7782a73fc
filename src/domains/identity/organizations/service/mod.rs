//! Organizations: settings, members and roles, invitations, switching.

pub mod teams;

use chrono::{Duration, Utc};
use entity::{invitation, membership, organization, refresh_token, team_member, user};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait,
    QueryFilter, Select, TransactionTrait,
};
use uuid::Uuid;

use crate::domains::identity::{
    service::images::{image_change, ImagePurpose},
    service::{self, check_password, clean_name, normalize_email},
    types::AuthPayload,
};
use crate::{
    auth::{secrets, Permission, Role, Viewer, ViewerVia},
    error::{AppError, AppResult},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    platform::{mail_job, mailer::OutgoingEmail},
    state::AppState,
    state::Wakes,
};

/// Invitations live this long.
pub const INVITE_TTL: Duration = Duration::days(7);

/// Memberships of the viewer's organization.
pub fn members_scoped(viewer: &Viewer) -> Select<membership::Entity> {
    membership::Entity::find().filter(membership::Column::OrgId.eq(viewer.org_id))
}

/// Renames the organization, changes its time zone or its logo (ADMIN+); returns (before,
/// after).
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    name: Option<String>,
    timezone: Option<String>,
    logo: async_graphql::MaybeUndefined<async_graphql::ID>,
) -> AppResult<(organization::Model, organization::Model)> {
    viewer.require(Permission::UpdateOrganization)?;
    let before = service::organization(state, viewer).await?;
    let mut active: organization::ActiveModel = before.clone().into();
    if let Some(name) = name {
        active.name = Set(clean_name("input.name", &name)?);
    }
    if let Some(tz) = timezone {
        active.timezone = Set(parse_timezone("input.timezone", &tz)?.name().to_string());
    }
    let field = "input.logoFileId";
    if let Some(logo) = image_change(state, viewer, logo, ImagePurpose::Logo, field).await? {
        active.logo_file_id = Set(logo);
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(&state.db).await?;
    Ok((before, after))
}

/// An IANA time-zone name (`Europe/Berlin`), or BAD_USER_INPUT naming `field`.
pub fn parse_timezone(field: &str, name: &str) -> AppResult<chrono_tz::Tz> {
    name.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| AppError::invalid(field, "is not an IANA time zone (e.g. Europe/Berlin)"))
}

/// The time zone of organization `org_id` (UTC when unset or unknown).
pub async fn org_timezone(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: Uuid,
) -> AppResult<chrono_tz::Tz> {
    use sea_orm::QuerySelect;
    let name: Option<String> = organization::Entity::find_by_id(org_id)
        .select_only()
        .column(organization::Column::Timezone)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(name
        .and_then(|n| n.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(chrono_tz::UTC))
}

/// A page of members, newest first.
pub async fn members<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
    to_node: impl Fn(membership::Model) -> N,
) -> AppResult<IdConnection<N>> {
    viewer.require(Permission::ReadMembers)?;
    page_by_id_desc(
        &state.db,
        members_scoped(viewer),
        membership::Column::Id,
        &args,
        |m| m.id,
        to_node,
    )
    .await
}

async fn membership_of(
    conn: &impl sea_orm::ConnectionTrait,
    viewer: &Viewer,
    user_id: Uuid,
) -> AppResult<membership::Model> {
    members_scoped(viewer)
        .filter(membership::Column::UserId.eq(user_id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("member"))
}

/// Invites `email` with `role` (ADMIN+; only an OWNER may invite an OWNER). Mails the link.
pub async fn invite(
    state: &AppState,
    viewer: &Viewer,
    email: &str,
    role: Role,
) -> AppResult<invitation::Model> {
    viewer.require(Permission::ManageMembers)?;
    let email = normalize_email("input.email", email)?;
    if role > viewer.role {
        return Err(AppError::invalid(
            "input.role",
            "cannot exceed your own role",
        ));
    }
    let existing_user = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    if let Some(u) = &existing_user {
        if members_scoped(viewer)
            .filter(membership::Column::UserId.eq(u.id))
            .one(&state.db)
            .await?
            .is_some()
        {
            return Err(AppError::Conflict("this person is already a member".into()));
        }
    }
    let org = service::organization(state, viewer).await?;
    let token = secrets::generate("");
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let inv = invitation::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        email: Set(email.clone()),
        role: Set(role.as_str().into()),
        token_hash: Set(secrets::digest(&token)),
        invited_by: Set(viewer.user_id),
        expires_at: Set(now + INVITE_TTL),
        accepted_at: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let link = format!(
        "{}/accept-invitation?token={token}",
        state.config.public_url
    );
    mail_job::enqueue(
        &txn,
        &OutgoingEmail {
            to: email,
            to_name: None,
            from: None,
            reply_to: None,
            subject: format!("You are invited to {} on Leadgraph", org.name),
            text: format!(
                "You have been invited to join {} on Leadgraph as {}.\n\nAccept the invitation:\n\n{link}\n\nThe link is valid for 7 days.\n",
                org.name,
                role.as_str().to_lowercase()
            ),
            html: None,
        },
    )
    .await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(inv)
}

fn invitations_scoped(viewer: &Viewer) -> Select<invitation::Entity> {
    invitation::Entity::find().filter(invitation::Column::OrgId.eq(viewer.org_id))
}

/// Pending invitations (not accepted, not expired), newest first (ADMIN+).
pub async fn invitations<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
    to_node: impl Fn(invitation::Model) -> N,
) -> AppResult<IdConnection<N>> {
    viewer.require(Permission::ManageMembers)?;
    page_by_id_desc(
        &state.db,
        invitations_scoped(viewer)
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(Utc::now())),
        invitation::Column::Id,
        &args,
        |m| m.id,
        to_node,
    )
    .await
}

/// Withdraws a pending invitation (ADMIN+; not one for a role above the viewer's): its link
/// stops working. Returns it as it was.
pub async fn revoke_invitation(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<invitation::Model> {
    viewer.require(Permission::ManageMembers)?;
    let inv = invitations_scoped(viewer)
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("invitation"))?;
    if Role::parse(&inv.role).unwrap_or(Role::Owner) > viewer.role {
        return Err(AppError::forbidden(
            "you cannot revoke an invitation above your own role",
        ));
    }
    invitation::Entity::delete_many()
        .filter(invitation::Column::Id.eq(inv.id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(&state.db)
        .await?;
    Ok(inv)
}

/// Whether the inviter may still grant the invitation: still a member with the right to invite
/// and a role at least the invitation's. An invitation dies with its inviter's right.
async fn inviter_still_entitled(
    conn: &impl sea_orm::ConnectionTrait,
    inv: &invitation::Model,
) -> AppResult<bool> {
    let role = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(inv.org_id))
        .filter(membership::Column::UserId.eq(inv.invited_by))
        .one(conn)
        .await?
        .and_then(|m| Role::parse(&m.role));
    let invited = Role::parse(&inv.role).unwrap_or(Role::Owner);
    Ok(role.is_some_and(|r| r >= Permission::ManageMembers.minimum_role() && r >= invited))
}

/// Accepts an invitation. A new person gives `name` and `password` and gets an account
/// (verified: the link came by email). An existing account (same email) joins only with proof
/// that it is theirs: its `password`, or a session of that account (`viewer`); the link alone
/// is not enough. Returns a session in the new organization.
pub async fn accept(
    state: &AppState,
    viewer: Option<&Viewer>,
    token: &str,
    name: Option<String>,
    password: Option<String>,
) -> AppResult<AuthPayload> {
    let now = Utc::now();
    let invalid = || AppError::invalid("token", "invalid or expired invitation");
    let inv = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(secrets::digest(token.trim())))
        .one(&state.db)
        .await?
        .filter(|i| i.accepted_at.is_none() && i.expires_at > now)
        .ok_or_else(invalid)?;
    if !inviter_still_entitled(&state.db, &inv).await? {
        return Err(invalid());
    }
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(&inv.email))
        .one(&state.db)
        .await?;
    let new_hash = invitee_proof(state, viewer, existing.as_ref(), &inv.email, password).await?;
    let txn = state.db.begin().await?;
    let claimed = invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(inv.id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(AppError::invalid("token", "invalid or expired invitation"));
    }
    let user = match existing {
        Some(u) => u,
        None => {
            let name = name
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty() && n.chars().count() <= 200);
            let name = name.ok_or_else(|| AppError::invalid("name", "must be 1–200 characters"))?;
            user::ActiveModel {
                id: Set(Uuid::now_v7()),
                email: Set(inv.email.clone()),
                name: Set(name),
                password_hash: Set(new_hash.unwrap_or_default()),
                email_verified_at: Set(Some(now)),
                avatar_file_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
        }
    };
    let m = membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(inv.org_id),
        user_id: Set(user.id),
        role: Set(inv.role.clone()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let payload = service::start_session(state, &txn, user, &m).await?;
    txn.commit().await?;
    Ok(payload)
}

/// What lets the invitee in: for an existing account, a session of it or its password (then
/// `None`); for a new person, a valid password (its hash).
async fn invitee_proof(
    state: &AppState,
    viewer: Option<&Viewer>,
    existing: Option<&user::Model>,
    email: &str,
    password: Option<String>,
) -> AppResult<Option<String>> {
    let hash = match (existing, password) {
        (Some(u), _) if viewer.is_some_and(|v| v.via == ViewerVia::Jwt && v.user_id == u.id) => {
            None
        }
        (Some(u), Some(p)) => {
            if !state
                .passwords
                .verify(p, Some(u.password_hash.clone()))
                .await?
            {
                return Err(AppError::invalid(
                    "password",
                    "is not the password of the invited account",
                ));
            }
            None
        }
        (Some(_), None) => {
            return Err(AppError::Unauthenticated(
                "this address has an account: sign in, or give its password, to accept".into(),
            ))
        }
        (None, Some(p)) => {
            if let Some(e) = check_password("password", &p, email) {
                return Err(AppError::invalid_fields(vec![e]));
            }
            Some(state.passwords.hash(p).await?)
        }
        (None, None) => {
            return Err(AppError::invalid(
                "password",
                "required to create your account",
            ))
        }
    };
    Ok(hash)
}

fn owner_count(viewer: &Viewer) -> Select<membership::Entity> {
    members_scoped(viewer).filter(membership::Column::Role.eq(Role::Owner.as_str()))
}

/// Changes a member's role (ADMIN+). Only an OWNER may grant or take OWNER; the last OWNER
/// cannot be demoted. Returns (before, after).
pub async fn update_role(
    state: &AppState,
    viewer: &Viewer,
    user_id: Uuid,
    role: Role,
) -> AppResult<(membership::Model, membership::Model)> {
    viewer.require(Permission::ManageMembers)?;
    let txn = state.db.begin().await?;
    let before = membership_of(&txn, viewer, user_id).await?;
    let current = Role::parse(&before.role).unwrap_or(Role::Viewer);
    if role > viewer.role || current > viewer.role {
        return Err(AppError::forbidden(
            "you cannot change a role above your own",
        ));
    }
    if current == Role::Owner && role != Role::Owner && owner_count(viewer).count(&txn).await? <= 1
    {
        return Err(AppError::Conflict(
            "the organization must keep at least one owner".into(),
        ));
    }
    let mut active: membership::ActiveModel = before.clone().into();
    active.role = Set(role.as_str().into());
    let after = active.update(&txn).await?;
    if current != role {
        // The member's access tokens carry the old role: they stop working (the client refreshes
        // and gets the new one), and their live connections close.
        service::record_user_access_revoked(&txn, viewer.org_id, user_id, None, "role_changed")
            .await?;
    }
    state.commit(txn, Wakes::Events).await?;
    state.sessions.forget_user(Some(viewer.org_id), user_id);
    Ok((before, after))
}

/// Removes a member (ADMIN+): their memberships in teams and their sessions in this
/// organization end. The last OWNER cannot be removed.
pub async fn remove(
    state: &AppState,
    viewer: &Viewer,
    user_id: Uuid,
) -> AppResult<membership::Model> {
    viewer.require(Permission::ManageMembers)?;
    let txn = state.db.begin().await?;
    let m = membership_of(&txn, viewer, user_id).await?;
    let role = Role::parse(&m.role).unwrap_or(Role::Viewer);
    if role > viewer.role {
        return Err(AppError::forbidden(
            "you cannot remove a member above your own role",
        ));
    }
    if role == Role::Owner && owner_count(viewer).count(&txn).await? <= 1 {
        return Err(AppError::Conflict(
            "the organization must keep at least one owner".into(),
        ));
    }
    membership::Entity::delete_by_id(m.id).exec(&txn).await?;
    team_member::Entity::delete_many()
        .filter(team_member::Column::OrgId.eq(viewer.org_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::OrgId.eq(viewer.org_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    service::record_user_access_revoked(&txn, viewer.org_id, user_id, None, "member_removed")
        .await?;
    state.commit(txn, Wakes::Events).await?;
    state.sessions.forget_user(Some(viewer.org_id), user_id);
    Ok(m)
}

/// A new session in another organization the viewer belongs to (NOT_FOUND otherwise).
pub async fn switch(state: &AppState, viewer: &Viewer, org_id: Uuid) -> AppResult<AuthPayload> {
    if viewer.via == ViewerVia::ApiKey {
        return Err(AppError::forbidden(
            "API keys are bound to one organization",
        ));
    }
    // A new session only out of a live one: the caller's session (refresh-token family) must
    // still be active, for this user, with an unchanged role. Asked of the database, not the
    // cache, since this mints a 30-day session.
    if !crate::auth::sessions::still_valid(&state.db, viewer).await? {
        return Err(AppError::Unauthenticated(
            "the session has ended; sign in again".into(),
        ));
    }
    let txn = state.db.begin().await?;
    let m = membership::Entity::find()
        .filter(membership::Column::UserId.eq(viewer.user_id))
        .filter(membership::Column::OrgId.eq(org_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    let user = user::Entity::find_by_id(viewer.user_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let payload = service::start_session(state, &txn, user, &m).await?;
    txn.commit().await?;
    Ok(payload)
}
