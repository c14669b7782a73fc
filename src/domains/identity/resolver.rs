//! Identity queries.

use async_graphql::{Context, Object, SimpleObject, ID};

use crate::{
    auth::{Role, ViewerVia},
    graphql::ContextExt,
};

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
}
