//! Accounts and sessions: register, verify, login, refresh rotation with reuse detection, logout.

pub mod api_keys;
pub mod images;
pub mod members;
pub mod password;

use chrono::{DateTime, Duration, Utc};
use entity::{email_token, membership, organization, refresh_token, user};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use crate::domains::identity::types::{AuthPayload, LoginInput, RegisterInput, RegisterPayload};
use crate::{
    auth::{secrets, Role, Viewer},
    error::{AppError, AppResult, FieldError},
    events::{outbox, AccessRevoked, DomainEvent, EventEnvelope},
    platform::{mail_job, mailer::OutgoingEmail},
    state::AppState,
    state::Wakes,
};

/// Refresh tokens live this long.
pub const REFRESH_TTL: Duration = Duration::days(30);
/// Verification links live this long.
pub const VERIFY_TTL: Duration = Duration::hours(48);
const PURPOSE_VERIFY: &str = "verify_email";

/// Lowercased, validated email.
pub fn normalize_email(field: &str, raw: &str) -> AppResult<String> {
    let email = raw.trim().to_lowercase();
    if email.len() > 320 || !email_address::EmailAddress::is_valid(&email) {
        return Err(AppError::invalid(field, "is not a valid email address"));
    }
    Ok(email)
}

/// The password policy: at least 10 characters, at most 256, not the email.
pub fn check_password(field: &str, password: &str, email: &str) -> Option<FieldError> {
    let n = password.chars().count();
    let message = if n < 10 {
        "must be at least 10 characters"
    } else if n > 256 {
        "must be at most 256 characters"
    } else if password.trim().eq_ignore_ascii_case(email) {
        "must not be the email address"
    } else {
        return None;
    };
    Some(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

fn required(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    let len = value.trim().chars().count();
    if len == 0 || len > max {
        errors.push(FieldError {
            field: field.into(),
            message: format!("must be 1–{max} characters"),
        });
    }
}

fn slugify(name: &str) -> String {
    let mut slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while slug.contains("--") {
        slug = slug.replace("--", "-");
    }
    let base = slug.trim_matches('-');
    let base: String = base.chars().take(60).collect();
    let suffix = &Uuid::now_v7().simple().to_string()[24..];
    if base.is_empty() {
        format!("org-{suffix}")
    } else {
        format!("{base}-{suffix}")
    }
}

/// Creates a user, their organization (as OWNER) and mails a verification link. Also returns
/// the new (user, organization) ids for the audit log, which the payload may not show.
pub async fn register(
    state: &AppState,
    input: RegisterInput,
) -> AppResult<(RegisterPayload, Option<(Uuid, Uuid)>)> {
    let email = check_registration(&input)?;
    let password_hash = state.passwords.hash(input.password).await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    if let Some(existing) = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&txn)
        .await?
    {
        if !state.config.require_email_verification {
            // Without verification the new account would be usable at once, so a taken address
            // cannot be hidden: this mode is for development (docs/ARCHITECTURE.md).
            return Err(AppError::Conflict(
                "an account with this email already exists".into(),
            ));
        }
        // The same answer as for a new address; the owner of the address learns of the attempt.
        mail_taken_address(state, &txn, &existing).await?;
        state.commit(txn, Wakes::Jobs).await?;
        let payload = RegisterPayload {
            user: None,
            organization: None,
            verification_required: true,
        };
        return Ok((payload, None));
    }
    let org = organization::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(input.organization_name.trim().to_string()),
        slug: Set(slugify(&input.organization_name)),
        timezone: Set("UTC".into()),
        logo_file_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let verified = (!state.config.require_email_verification).then_some(now);
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.clone()),
        name: Set(input.name.trim().to_string()),
        password_hash: Set(password_hash),
        email_verified_at: Set(verified),
        avatar_file_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org.id),
        user_id: Set(user.id),
        role: Set(Role::Owner.as_str().into()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    if state.config.require_email_verification {
        mail_verification_link(state, &txn, &user).await?;
    }
    state.commit(txn, Wakes::Jobs).await?;
    // With verification on, the answer must not differ from the one for a taken address.
    let shown = !state.config.require_email_verification;
    let ids = Some((user.id, org.id));
    let payload = RegisterPayload {
        user: shown.then(|| user.into()),
        organization: shown.then(|| org.into()),
        verification_required: state.config.require_email_verification,
    };
    Ok((payload, ids))
}

/// Validates a registration; the normalised email.
fn check_registration(input: &RegisterInput) -> AppResult<String> {
    let mut errors = Vec::new();
    let email = match normalize_email("input.email", &input.email) {
        Ok(e) => e,
        Err(AppError::BadUserInput { fields, .. }) => {
            errors.extend(fields);
            input.email.trim().to_lowercase()
        }
        Err(e) => return Err(e),
    };
    errors.extend(check_password("input.password", &input.password, &email));
    required("input.name", &input.name, 200, &mut errors);
    required(
        "input.organizationName",
        &input.organization_name,
        200,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok(email)
}

/// Tells the owner of an address already registered that someone tried to sign up with it.
async fn mail_taken_address(
    state: &AppState,
    txn: &sea_orm::DatabaseTransaction,
    existing: &user::Model,
) -> AppResult<()> {
    mail_job::enqueue(
        txn,
        &OutgoingEmail {
            to: existing.email.clone(),
            to_name: Some(existing.name.clone()),
            from: None,
            reply_to: None,
            subject: "Someone tried to sign up with your email".into(),
            text: format!(
                "Hello {},\n\nSomeone tried to create a Leadgraph account with this address, which already has one. If it was you, sign in at {}/login or reset your password there. If it was not you, you can ignore this email: nothing changed.\n",
                existing.name, state.config.public_url
            ),
            html: None,
        },
    )
    .await?;
    Ok(())
}

/// Mails the new user their email verification link.
async fn mail_verification_link(
    state: &AppState,
    txn: &sea_orm::DatabaseTransaction,
    user: &user::Model,
) -> AppResult<()> {
    let token = issue_email_token(txn, user.id, PURPOSE_VERIFY, VERIFY_TTL).await?;
    let link = format!("{}/verify-email?token={token}", state.config.public_url);
    mail_job::enqueue(
        txn,
        &OutgoingEmail {
            to: user.email.clone(),
            to_name: Some(user.name.clone()),
            from: None,
            reply_to: None,
            subject: "Verify your email for Leadgraph".into(),
            text: format!(
                "Hello {},\n\nConfirm your email address to start using Leadgraph:\n\n{link}\n\nThe link is valid for 48 hours.\n",
                user.name
            ),
            html: None,
        },
    )
    .await?;
    Ok(())
}

/// Stores a new single-use email token for `user_id` (only its digest) and returns the secret.
pub async fn issue_email_token(
    txn: &DatabaseTransaction,
    user_id: Uuid,
    purpose: &str,
    ttl: Duration,
) -> AppResult<String> {
    let token = secrets::generate("");
    let now = Utc::now();
    email_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        purpose: Set(purpose.into()),
        token_hash: Set(secrets::digest(&token)),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(token)
}

/// A display name: trimmed, 1–200 characters.
pub fn clean_name(field: &str, name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid(field, "must be 1–200 characters"));
    }
    Ok(name.to_string())
}

/// Marks the email verified. Single use; expired or unknown tokens are BAD_USER_INPUT.
pub async fn verify_email(state: &AppState, token: &str) -> AppResult<user::Model> {
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let row = live_email_token(&txn, token, PURPOSE_VERIFY, "verification", now).await?;
    use_email_token(&txn, &row, "verification", now).await?;
    let mut user: user::ActiveModel = user::Entity::find_by_id(row.user_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("user"))?
        .into();
    user.email_verified_at = Set(Some(now));
    user.updated_at = Set(now);
    let user = user.update(&txn).await?;
    txn.commit().await?;
    Ok(user)
}

/// The live (unused, unexpired) email token `raw` of `purpose`; BAD_USER_INPUT on `token`
/// ("invalid or expired {kind} token") otherwise.
pub(crate) async fn live_email_token(
    conn: &impl ConnectionTrait,
    raw: &str,
    purpose: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> AppResult<email_token::Model> {
    email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(secrets::digest(raw.trim())))
        .filter(email_token::Column::Purpose.eq(purpose))
        .one(conn)
        .await?
        .filter(|t| t.used_at.is_none() && t.expires_at > now)
        .ok_or_else(|| token_invalid(kind))
}

/// Uses up `token` (single use): of two requests presenting it at once, only one gets `Ok`;
/// the other gets the same BAD_USER_INPUT as for an unknown token.
pub(crate) async fn use_email_token(
    conn: &impl ConnectionTrait,
    token: &email_token::Model,
    kind: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let used = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(now))
        .filter(email_token::Column::Id.eq(token.id))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    if used.rows_affected != 1 {
        return Err(token_invalid(kind));
    }
    Ok(())
}

fn token_invalid(kind: &str) -> AppError {
    AppError::invalid("token", format!("invalid or expired {kind} token"))
}

async fn issue_session(
    state: &AppState,
    txn: &DatabaseTransaction,
    user: user::Model,
    m: &membership::Model,
    family_id: Uuid,
) -> AppResult<(AuthPayload, Uuid)> {
    let now = Utc::now();
    let raw = secrets::generate("");
    let id = Uuid::now_v7();
    refresh_token::ActiveModel {
        id: Set(id),
        family_id: Set(family_id),
        user_id: Set(user.id),
        org_id: Set(m.org_id),
        token_hash: Set(secrets::digest(&raw)),
        replaced_by: Set(None),
        expires_at: Set(now + REFRESH_TTL),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    let role =
        Role::parse(&m.role).ok_or_else(|| AppError::internal("unknown role in membership"))?;
    let (access, exp) = state
        .tokens
        .issue(user.id, m.org_id, role, Some(family_id))?;
    let org = organization::Entity::find_by_id(m.org_id)
        .one(txn)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    Ok((
        AuthPayload {
            access_token: access,
            refresh_token: raw,
            access_token_expires_at: exp,
            user: user.into(),
            organization: org.into(),
            role,
        },
        id,
    ))
}

/// Email + password → tokens. Unknown email and wrong password cost the same and read the same.
pub async fn login(state: &AppState, input: LoginInput) -> AppResult<AuthPayload> {
    let email = input.email.trim().to_lowercase();
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    let ok = state
        .passwords
        .verify(
            input.password,
            found.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
    let user = match (ok, found) {
        (true, Some(u)) => u,
        _ => {
            return Err(AppError::Unauthenticated(
                "invalid email or password".into(),
            ))
        }
    };
    if user.email_verified_at.is_none() && state.config.require_email_verification {
        return Err(AppError::Forbidden {
            message: "verify your email address before signing in".into(),
            reason: Some("EMAIL_NOT_VERIFIED"),
        });
    }
    let txn = state.db.begin().await?;
    let m = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user.id))
        .order_by_asc(membership::Column::CreatedAt)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::forbidden("this account belongs to no organization"))?;
    let payload = start_session(state, &txn, user, &m).await?;
    txn.commit().await?;
    Ok(payload)
}

/// `(user id, organization id)` for every membership of the account with this (normalised)
/// email; empty for an unknown address.
pub async fn memberships_of_email(state: &AppState, email: &str) -> AppResult<Vec<(Uuid, Uuid)>> {
    let Some(user) = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&state.db)
        .await?
    else {
        return Ok(Vec::new());
    };
    Ok(membership::Entity::find()
        .filter(membership::Column::UserId.eq(user.id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|m| (user.id, m.org_id))
        .collect())
}

/// A new session (refresh-token family) for `user` in the membership's organization.
pub async fn start_session(
    state: &AppState,
    txn: &DatabaseTransaction,
    user: user::Model,
    m: &membership::Model,
) -> AppResult<AuthPayload> {
    Ok(issue_session(state, txn, user, m, Uuid::now_v7()).await?.0)
}

/// Ends the session of `row` (its whole token family) and tells live connections using it.
async fn revoke_family(
    conn: &impl ConnectionTrait,
    row: &refresh_token::Model,
    reason: &str,
) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(row.family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    record_access_revoked(
        conn,
        row.org_id,
        AccessRevoked {
            session_id: Some(row.family_id),
            user_id: None,
            except_session_id: None,
            reason: reason.into(),
        },
    )
    .await
}

/// Records that every session of `user_id` in `org_id` (but `except_session`, when given) lost
/// its access for `reason`.
pub(crate) async fn record_user_access_revoked(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    user_id: Uuid,
    except_session: Option<Uuid>,
    reason: &str,
) -> AppResult<()> {
    record_access_revoked(
        conn,
        org_id,
        AccessRevoked {
            session_id: None,
            user_id: Some(user_id),
            except_session_id: except_session,
            reason: reason.into(),
        },
    )
    .await
}

/// Records `access.revoked` in `org_id` so WebSocket connections of those sessions are closed.
pub(crate) async fn record_access_revoked(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    revoked: AccessRevoked,
) -> AppResult<()> {
    let addressed = revoked.user_id;
    outbox::record(
        conn,
        &EventEnvelope::new(org_id, addressed, DomainEvent::AccessRevoked(revoked)),
    )
    .await
}

fn session_invalid() -> AppError {
    AppError::Unauthenticated("invalid or expired refresh token".into())
}

/// Rotates a refresh token. Presenting a token that was already rotated revokes the whole
/// family (every token of that login), as the refresh-token reuse-detection pattern prescribes.
pub async fn refresh(state: &AppState, raw: &str) -> AppResult<AuthPayload> {
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(secrets::digest(raw.trim())))
        .one(&txn)
        .await?
        .ok_or_else(session_invalid)?;
    if row.replaced_by.is_some() {
        tracing::warn!(family = %row.family_id, user = %row.user_id, "refresh token reuse; revoking session");
        revoke_family(&txn, &row, "token_reuse").await?;
        state.commit(txn, Wakes::Events).await?;
        state.sessions.forget_session(row.family_id);
        return Err(session_invalid());
    }
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(session_invalid());
    }
    let m = membership::Entity::find()
        .filter(membership::Column::UserId.eq(row.user_id))
        .filter(membership::Column::OrgId.eq(row.org_id))
        .one(&txn)
        .await?
        .ok_or_else(session_invalid)?;
    let user = user::Entity::find_by_id(row.user_id)
        .one(&txn)
        .await?
        .ok_or_else(session_invalid)?;
    let (payload, new_id) = issue_session(state, &txn, user, &m, row.family_id).await?;
    // Guarded: if a concurrent refresh rotated the same token first, this is reuse.
    let rotated = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::ReplacedBy, Expr::value(new_id))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::ReplacedBy.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if rotated.rows_affected != 1 {
        return Err(session_invalid());
    }
    txn.commit().await?;
    Ok(payload)
}

/// Revokes the session (token family) of `raw`. Always succeeds, so it cannot probe tokens.
pub async fn logout(state: &AppState, raw: &str) -> AppResult<bool> {
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(secrets::digest(raw.trim())))
        .one(&state.db)
        .await?;
    if let Some(row) = row {
        let txn = state.db.begin().await?;
        revoke_family(&txn, &row, "logout").await?;
        state.commit(txn, Wakes::Events).await?;
        state.sessions.forget_session(row.family_id);
    }
    Ok(true)
}

/// The viewer's user record.
pub async fn me(state: &AppState, viewer: &Viewer) -> AppResult<user::Model> {
    user::Entity::find_by_id(viewer.user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// The viewer's organization.
pub async fn organization(state: &AppState, viewer: &Viewer) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(viewer.org_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("organization"))
}
