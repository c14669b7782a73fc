//! Identity queries and mutations.

use std::time::Duration;

use async_graphql::{Context, Object, ID};

use super::{
    organizations::{OrgMutation, OrgQuery},
    service::{self, api_keys, password},
    types::{
        ApiKey, AuthMethod, AuthPayload, CreateApiKeyInput, CreateApiKeyPayload, LoginInput,
        Organization, RegisterInput, RegisterPayload, UpdateMeInput, User, ViewerInfo,
    },
};
use crate::{
    auth::ViewerVia,
    domains::audit::{self, AuditNote},
    error::{AppError, AppResult},
    graphql::{
        context::{client_ip, rate_limit},
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
    platform::ratelimit::Limit,
};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// [`rate_limit`] to `max` calls of `name` an hour per `key`.
async fn per_hour(ctx: &Context<'_>, name: &'static str, max: u32, key: &str) -> AppResult<()> {
    rate_limit(
        ctx,
        Limit {
            name,
            max,
            per: HOUR,
        },
        key,
    )
    .await
}

/// Account and session queries.
#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The authenticated principal, or null for anonymous requests.
    async fn viewer(&self, ctx: &Context<'_>) -> Option<ViewerInfo> {
        ctx.viewer().ok().map(|v| ViewerInfo {
            user_id: ID(v.user_id.to_string()),
            organization_id: ID(v.org_id.to_string()),
            role: v.role,
            auth_method: match v.via {
                ViewerVia::Jwt => AuthMethod::AccessToken,
                ViewerVia::ApiKey => AuthMethod::ApiKey,
            },
        })
    }

    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> AppResult<User> {
        let (state, viewer) = ctx.state_and_person()?;
        service::me(state, viewer).await.map(User::from)
    }

    /// The viewer's organization.
    async fn organization(&self, ctx: &Context<'_>) -> AppResult<Organization> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::organization(state, viewer)
            .await
            .map(Organization::from)
    }

    /// API keys of the organization, newest first (ADMIN+).
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ApiKey>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        api_keys::list(state, viewer, args, ApiKey::of).await
    }
}

/// Account and session mutations.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and its organization (the user is OWNER) and emails a verification
    /// link (`{PUBLIC_URL}/verify-email?token=…`). A taken address gets the same answer and its
    /// owner a notice (CONFLICT only when `REQUIRE_EMAIL_VERIFICATION=false`).
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> AppResult<RegisterPayload> {
        let state = ctx.state()?;
        let max = state.config.rate_limits.register_per_hour;
        per_hour(ctx, "register", max, &client_ip(ctx)).await?;
        let (payload, created) = service::register(state, input).await?;
        if let Some((user_id, org_id)) = created {
            audit::note(
                ctx,
                AuditNote {
                    org_id: Some(org_id),
                    actor_user_id: Some(user_id),
                    resource_type: "user",
                    resource_id: user_id.to_string(),
                    changes: None,
                },
            );
        }
        Ok(payload)
    }

    /// Confirms an email address with the token from the verification email.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> AppResult<User> {
        let state = ctx.state()?;
        // Keyed by client IP: a token names its email only after a lookup, and guessing tokens
        // is what this limit must stop.
        let max = state.config.rate_limits.verify_email_per_hour;
        per_hour(ctx, "verify_email", max, &client_ip(ctx)).await?;
        service::verify_email(state, &token).await.map(User::from)
    }

    /// Signs in. UNAUTHENTICATED for a wrong email or password; FORBIDDEN with
    /// `extensions.reason = "EMAIL_NOT_VERIFIED"` before verification.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> AppResult<AuthPayload> {
        let state = ctx.state()?;
        let per_minute = state.config.rate_limits.login_per_minute;
        rate_limit(
            ctx,
            Limit {
                name: "login",
                max: per_minute,
                per: MINUTE,
            },
            &client_ip(ctx),
        )
        .await?;
        // Per account as well: many addresses spread over many IPs must not guess one password.
        // (The X-RateLimit-* headers keep describing the per-IP budget.)
        let email = input.email.trim().to_lowercase();
        let account = Limit {
            name: "login_account",
            max: state.config.rate_limits.login_per_account_per_hour,
            per: HOUR,
        };
        let d = state.limiter.check(&account, &email).await;
        if !d.allowed {
            ctx.insert_http_header("retry-after", d.retry_after_secs.to_string());
            return Err(AppError::RateLimited {
                retry_after_secs: d.retry_after_secs,
            });
        }
        let payload = match service::login(state, input).await {
            Ok(p) => p,
            Err(e) => {
                // A failed sign-in to an existing account is audited in each of its
                // organizations (an unknown address has no organization to tell).
                for (user_id, org_id) in service::memberships_of_email(state, &email).await? {
                    audit::note(
                        ctx,
                        AuditNote {
                            org_id: Some(org_id),
                            actor_user_id: Some(user_id),
                            resource_type: "session",
                            resource_id: String::new(),
                            changes: None,
                        },
                    );
                }
                return Err(e);
            }
        };
        audit::note(
            ctx,
            AuditNote {
                org_id: parse_id(&payload.organization.id).ok(),
                actor_user_id: parse_id(&payload.user.id).ok(),
                resource_type: "session",
                resource_id: String::new(),
                changes: None,
            },
        );
        Ok(payload)
    }

    /// Exchanges a refresh token for a new pair; the old token is retired. Presenting a retired
    /// token again revokes the whole session.
    async fn refresh_access_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> AppResult<AuthPayload> {
        service::refresh(ctx.state()?, &refresh_token).await
    }

    /// Ends the session of this refresh token (all its rotations). Always true.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> AppResult<bool> {
        service::logout(ctx.state()?, &refresh_token).await
    }

    /// Creates an API key (ADMIN+); the secret is returned once.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> AppResult<CreateApiKeyPayload> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (key, secret) = api_keys::create(state, viewer, input).await?;
        audit::note_ref(ctx, "api_key", key.id);
        Ok(CreateApiKeyPayload {
            api_key: key.into(),
            secret,
        })
    }

    /// Revokes an API key (ADMIN+). It stops working immediately, open WebSockets included.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> AppResult<ApiKey> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let key = api_keys::revoke(state, viewer, parse_id(&id)?).await?;
        audit::note_ref(ctx, "api_key", key.id);
        Ok(key.into())
    }

    /// Makes another member (whose role is at least the key's) the member an API key acts for
    /// (ADMIN+): for keys whose creator left (`creatorIsMember: false`).
    async fn reassign_api_key(&self, ctx: &Context<'_>, id: ID, user_id: ID) -> AppResult<ApiKey> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let key = api_keys::reassign(state, viewer, parse_id(&id)?, parse_id(&user_id)?).await?;
        audit::note_ref(ctx, "api_key", key.id);
        Ok(key.into())
    }

    /// Emails a password-reset link (`{PUBLIC_URL}/reset-password?token=…`, valid 1 h) when the
    /// account exists. Always true, so it cannot be used to discover accounts.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> AppResult<bool> {
        let state = ctx.state()?;
        let max = state.config.rate_limits.password_reset_per_hour;
        per_hour(ctx, "password_reset", max, &email.trim().to_lowercase()).await?;
        password::request_reset(state, &email).await
    }

    /// Sets a new password with a reset token (single use). Every session of the account ends.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> AppResult<User> {
        let user = password::reset(ctx.state()?, &token, new_password).await?;
        Ok(user.into())
    }

    /// Changes the viewer's password; every other session ends.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_person()?;
        password::change(state, viewer, current_password, new_password).await
    }

    /// Updates the viewer's profile: the name, the avatar (an AVATAR file of the viewer's
    /// organization; null removes it).
    async fn update_me(&self, ctx: &Context<'_>, input: UpdateMeInput) -> AppResult<User> {
        let (state, viewer) = ctx.state_and_person()?;
        let (before, after) =
            password::update_me(state, viewer, input.name, input.avatar_file_id).await?;
        let snapshot = |u: &entity::user::Model| serde_json::json!({"name": u.name, "avatarFileId": u.avatar_file_id});
        audit::note(
            ctx,
            AuditNote {
                resource_type: "user",
                resource_id: after.id.to_string(),
                changes: audit::diff(&snapshot(&before), &snapshot(&after)),
                ..Default::default()
            },
        );
        Ok(after.into())
    }
}

/// Identity queries.
#[derive(async_graphql::MergedObject, Default)]
pub struct IdentityQuery(AccountQuery, OrgQuery);

/// Identity mutations.
#[derive(async_graphql::MergedObject, Default)]
pub struct IdentityMutation(AccountMutation, OrgMutation);
