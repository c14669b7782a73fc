//! Per-request context: the viewer, request metadata and (per-request) loaders.
//!
//! The spine names no domain: [`Loaders`] is a registry keyed by loader type, filled on first
//! use from a [`RequestLoader`] impl the domain provides (e.g. `identity::loader::UserById`),
//! and per-request data a domain needs (the audit trail) is attached by that domain's schema
//! extension in its `prepare_request` hook.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::{dataloader::DataLoader, Context};

use crate::{
    auth::Viewer,
    error::{AppError, AppResult},
    platform::ratelimit::Limit,
    state::AppState,
};

/// Facts about the transport request, available to resolvers and extensions.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// `x-request-id` of the HTTP request (or WebSocket connection).
    pub request_id: String,
    /// Client IP.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// True for `GET /graphql`: only queries may run.
    pub is_get: bool,
}

/// A batch loader built per request from the database connection. Domains implement it for
/// their `DataLoader` types and reach them with [`Loaders::get`].
pub trait RequestLoader: Send + Sync + 'static {
    /// A fresh loader for one request.
    fn new(db: sea_orm::DatabaseConnection) -> Self;
}

/// Per-request batch loaders, keyed by type.
/// Built on first use: most operations (and every live subscription) never need one, and each
/// loader holds its own maps and locks.
pub struct Loaders {
    db: sea_orm::DatabaseConnection,
    built: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Loaders {
    fn new(state: &AppState) -> Self {
        Loaders {
            db: state.db.clone(),
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The request's loader of type `L`, built on first use.
    pub fn get<L: RequestLoader>(&self) -> Arc<DataLoader<L>> {
        let build = || Arc::new(DataLoader::new(L::new(self.db.clone()), tokio::spawn));
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        let any = built
            .entry(TypeId::of::<L>())
            .or_insert_with(|| build() as Arc<dyn Any + Send + Sync>)
            .clone();
        // The entry for `TypeId::of::<L>()` always holds a `DataLoader<L>`.
        any.downcast::<DataLoader<L>>().unwrap_or_else(|_| build())
    }
}

/// Attaches what every operation needs: viewer, request metadata and fresh loaders. HTTP,
/// WebSocket and tests all go through here.
pub fn prepare_request(
    request: async_graphql::Request,
    state: &AppState,
    viewer: Option<Viewer>,
    meta: RequestMeta,
) -> async_graphql::Request {
    let request = request.data(meta).data(Loaders::new(state));
    match viewer {
        Some(v) => request.data(v),
        None => request,
    }
}

/// Consumes one unit of `limit` for `key`; RATE_LIMITED (with `retryAfter`) when exhausted.
/// Sets `X-RateLimit-Limit/Remaining/Reset` on the HTTP response.
pub async fn rate_limit(ctx: &Context<'_>, limit: Limit, key: &str) -> AppResult<()> {
    let state = ctx.state()?;
    let d = state.limiter.check(&limit, key).await;
    ctx.insert_http_header("x-ratelimit-limit", d.limit.to_string());
    ctx.insert_http_header("x-ratelimit-remaining", d.remaining.to_string());
    ctx.insert_http_header("x-ratelimit-reset", d.reset_secs.to_string());
    if d.allowed {
        Ok(())
    } else {
        ctx.insert_http_header("retry-after", d.retry_after_secs.to_string());
        Err(AppError::RateLimited {
            retry_after_secs: d.retry_after_secs,
        })
    }
}

/// The client IP of the request (or `unknown`).
pub fn client_ip(ctx: &Context<'_>) -> String {
    ctx.data_opt::<RequestMeta>()
        .and_then(|m| m.ip.clone())
        .unwrap_or_else(|| "unknown".into())
}

/// Typed access to context data.
pub trait ContextExt {
    /// The application state.
    fn state(&self) -> AppResult<&AppState>;
    /// The viewer, or UNAUTHENTICATED.
    fn viewer(&self) -> AppResult<&Viewer>;
    /// The request's loaders.
    fn loaders(&self) -> AppResult<&Loaders>;
    /// Both at once.
    fn state_and_viewer(&self) -> AppResult<(&AppState, &Viewer)> {
        Ok((self.state()?, self.viewer()?))
    }
    /// Both, for operations on the viewer's own account or inbox: FORBIDDEN for API keys.
    fn state_and_person(&self) -> AppResult<(&AppState, &Viewer)> {
        let viewer = self.viewer()?;
        viewer.require_person()?;
        Ok((self.state()?, viewer))
    }
}

impl ContextExt for Context<'_> {
    fn state(&self) -> AppResult<&AppState> {
        self.data::<AppState>()
            .map_err(|_| AppError::internal("AppState missing from schema data"))
    }

    fn loaders(&self) -> AppResult<&Loaders> {
        self.data::<Loaders>()
            .map_err(|_| AppError::internal("loaders missing from request data"))
    }

    fn viewer(&self) -> AppResult<&Viewer> {
        self.data_opt::<Viewer>()
            .ok_or_else(|| AppError::Unauthenticated("authentication required".into()))
    }
}
