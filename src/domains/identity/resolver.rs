//! Identity queries and mutations.

use std::time::Duration;

use async_graphql::{Context, Object, SimpleObject, ID};

use super::{
    api_keys, service,
    types::{
        ApiKey, AuthPayload, CreateApiKeyInput, CreateApiKeyPayload, LoginInput, Organization,
        RegisterInput, RegisterPayload, User,
    },
};
use crate::{
    auth::{Role, ViewerVia},
    error::AppResult,
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

/// How the current request authenticated.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A JWT access token from `login`.
    AccessToken,
    /// A partner API key.
    ApiKey,
}

/// The authenticated principal of this request.
#[derive(SimpleObject, Debug, Clone)]
pub struct ViewerInfo {
    /// The user id.
    pub user_id: ID,
    /// The organization every query is scoped to.
    pub organization_id: ID,
    /// The role in that organization.
    pub role: Role,
    /// How the request authenticated.
    pub auth_method: AuthMethod,
}

/// Identity queries.
#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
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
        let (state, viewer) = ctx.state_and_viewer()?;
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
        api_keys::list(state, viewer, args, ApiKey::from).await
    }
}

/// Identity mutations.
#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Creates an account and its organization (the user is OWNER) and emails a verification
    /// link (`{PUBLIC_URL}/verify-email?token=…`). CONFLICT when the email is taken.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> AppResult<RegisterPayload> {
        let state = ctx.state()?;
        let limit = Limit {
            name: "register",
            max: state.config.rate_limits.register_per_hour,
            per: HOUR,
        };
        rate_limit(ctx, limit, &client_ip(ctx)).await?;
        service::register(state, input).await
    }

    /// Confirms an email address with the token from the verification email.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> AppResult<User> {
        let state = ctx.state()?;
        // Keyed by client IP: a token names its email only after a lookup, and guessing tokens
        // is what this limit must stop.
        let limit = Limit {
            name: "verify_email",
            max: state.config.rate_limits.verify_email_per_hour,
            per: HOUR,
        };
        rate_limit(ctx, limit, &client_ip(ctx)).await?;
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
        service::login(state, input).await
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
        Ok(CreateApiKeyPayload {
            api_key: key.into(),
            secret,
        })
    }

    /// Revokes an API key (ADMIN+). It stops working immediately, open WebSockets included.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> AppResult<ApiKey> {
        let (state, viewer) = ctx.state_and_viewer()?;
        api_keys::revoke(state, viewer, parse_id(&id)?)
            .await
            .map(ApiKey::from)
    }
}
