//! Password reset and change, profile updates.

use chrono::{Duration, Utc};
use entity::{membership, refresh_token, user};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::images::{image_change, ImagePurpose};
use super::{
    check_password, clean_name, issue_email_token, live_email_token, normalize_email,
    use_email_token,
};
use crate::{
    auth::Viewer,
    error::{AppError, AppResult},
    platform::{mail_job, mailer::OutgoingEmail},
    state::AppState,
    state::Wakes,
};

/// Reset links live this long.
pub const RESET_TTL: Duration = Duration::hours(1);
const PURPOSE_RESET: &str = "reset_password";

/// Mails a reset link when the account exists; answers the same either way.
pub async fn request_reset(state: &AppState, raw_email: &str) -> AppResult<bool> {
    let email = normalize_email("email", raw_email)?;
    let Some(user) = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db)
        .await?
    else {
        return Ok(true);
    };
    let txn = state.db.begin().await?;
    let token = issue_email_token(&txn, user.id, PURPOSE_RESET, RESET_TTL).await?;
    let link = format!("{}/reset-password?token={token}", state.config.public_url);
    mail_job::enqueue(
        &txn,
        &OutgoingEmail {
            to: email,
            to_name: Some(user.name.clone()),
            from: None,
            reply_to: None,
            subject: "Reset your Leadgraph password".into(),
            text: format!(
                "Hello {},\n\nSomeone asked to reset your Leadgraph password. If it was you, open:\n\n{link}\n\nThe link is valid for one hour. If it was not you, ignore this email.\n",
                user.name
            ),
            html: None,
        },
    )
    .await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(true)
}

async fn revoke_sessions(
    conn: &impl sea_orm::ConnectionTrait,
    user_id: Uuid,
    except_family: Option<Uuid>,
) -> AppResult<()> {
    let mut q = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null());
    if let Some(f) = except_family {
        q = q.filter(refresh_token::Column::FamilyId.ne(f));
    }
    q.exec(conn).await?;
    // Every organization the user is in: its live connections of this user close.
    let orgs: Vec<Uuid> = membership::Entity::find()
        .select_only()
        .column(membership::Column::OrgId)
        .filter(membership::Column::UserId.eq(user_id))
        .into_tuple()
        .all(conn)
        .await?;
    for org_id in orgs {
        super::record_user_access_revoked(conn, org_id, user_id, except_family, "password_changed")
            .await?;
    }
    Ok(())
}

/// Sets a new password with a reset token (single use, 1 h) and ends every session.
pub async fn reset(state: &AppState, token: &str, new_password: String) -> AppResult<user::Model> {
    let now = Utc::now();
    let row = live_email_token(&state.db, token, PURPOSE_RESET, "reset", now).await?;
    let user = user::Entity::find_by_id(row.user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if let Some(e) = check_password("newPassword", &new_password, &user.email) {
        return Err(AppError::invalid_fields(vec![e]));
    }
    let hash = state.passwords.hash(new_password).await?;
    let txn = state.db.begin().await?;
    use_email_token(&txn, &row, "reset", now).await?;
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(hash);
    // Following the emailed link proves control of the address.
    if active.email_verified_at.as_ref().is_none() {
        active.email_verified_at = Set(Some(now));
    }
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    revoke_sessions(&txn, user.id, None).await?;
    state.commit(txn, Wakes::Events).await?;
    state.sessions.forget_user(None, user.id);
    Ok(user)
}

/// Changes the password after checking the current one; ends every other session.
pub async fn change(
    state: &AppState,
    viewer: &Viewer,
    current: String,
    new_password: String,
) -> AppResult<bool> {
    let user = user::Entity::find_by_id(viewer.user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if !state
        .passwords
        .verify(current, Some(user.password_hash.clone()))
        .await?
    {
        return Err(AppError::invalid(
            "currentPassword",
            "is not your current password",
        ));
    }
    if let Some(e) = check_password("newPassword", &new_password, &user.email) {
        return Err(AppError::invalid_fields(vec![e]));
    }
    let hash = state.passwords.hash(new_password).await?;
    let txn = state.db.begin().await?;
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(hash);
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    revoke_sessions(&txn, viewer.user_id, viewer.session_id).await?;
    state.commit(txn, Wakes::Events).await?;
    state.sessions.forget_user(None, viewer.user_id);
    Ok(true)
}

/// Updates the viewer's profile (name, avatar); returns (before, after).
pub async fn update_me(
    state: &AppState,
    viewer: &Viewer,
    name: Option<String>,
    avatar: async_graphql::MaybeUndefined<async_graphql::ID>,
) -> AppResult<(user::Model, user::Model)> {
    let before = user::Entity::find_by_id(viewer.user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let mut active: user::ActiveModel = before.clone().into();
    if let Some(name) = name {
        active.name = Set(clean_name("input.name", &name)?);
    }
    let field = "input.avatarFileId";
    if let Some(avatar) = image_change(state, viewer, avatar, ImagePurpose::Avatar, field).await? {
        active.avatar_file_id = Set(avatar);
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(&state.db).await?;
    Ok((before, after))
}
