//! The HTTP surface: GraphQL over HTTP and WebSocket, GraphiQL, health and metrics.

pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod landing;
pub mod upload;
pub mod ws;
pub mod ws_slots;
mod ws_writer;

use std::time::Duration;

use axum::{
    extract::{DefaultBodyLimit, Request, State},
    middleware::Next,
    response::Response,
    routing::{get, post},
    Router,
};
use http::{HeaderName, HeaderValue, Method};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{graphql::AppSchema, state::AppState};
// The incoming lead hooks (`POST /hooks/in/{id}`).
use crate::domains::webhooks::receive_incoming_hook;

/// Header carrying the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Shared by handlers.
#[derive(Clone)]
pub struct HttpState {
    /// Application state.
    pub app: AppState,
    /// The schema.
    pub schema: AppSchema,
    /// The same schema without extensions, for plain queries over HTTP
    /// (`graphql::build_query_schema`).
    pub query_schema: AppSchema,
    /// WebSocket connections held per viewer in this process.
    pub ws_slots: std::sync::Arc<ws_slots::Slots>,
    /// Flips to true on shutdown: WebSocket connections close with 1001 (going away).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// Handlers that need only the application state take `State<AppState>`.
impl axum::extract::FromRef<HttpState> for AppState {
    fn from_ref(s: &HttpState) -> AppState {
        s.app.clone()
    }
}

/// Builds the router.
pub fn router(
    app: AppState,
    schema: AppSchema,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let max_body = app.config.limits.max_body_bytes;
    let request_timeout = app.config.request_timeout;
    let graphiql_enabled = app.config.graphiql_enabled;
    let landing = app.config.environment == crate::config::Environment::Development;
    let sdl: Option<std::sync::Arc<str>> = app
        .config
        .introspection_enabled
        .then(|| schema.sdl().into());
    let cors = cors_layer(&app.config.cors_allowed_origins);
    let query_schema = crate::graphql::schema::build_query_schema(app.clone());
    let state = HttpState {
        app,
        schema,
        query_schema,
        ws_slots: std::sync::Arc::default(),
        shutdown,
    };
    let mut router = Router::new()
        .route(
            "/graphql",
            get(graphql::get_handler).post(graphql::post_handler),
        )
        .route("/graphql/ws", get(ws::handler))
        .route(
            "/exports/leads",
            get(crate::domains::leads::download_export),
        )
        .route("/files/{id}", get(crate::domains::places::files::download))
        .route(
            "/t/o/{token}",
            get(crate::domains::outreach::tracking::open),
        )
        .route(
            "/t/c/{token}",
            get(crate::domains::outreach::tracking::click),
        )
        .route(
            "/u/{token}",
            get(crate::domains::outreach::tracking::unsubscribe_page)
                .post(crate::domains::outreach::tracking::unsubscribe),
        )
        .route(
            "/webhooks/email/{provider}",
            post(crate::domains::outreach::tracking::provider),
        )
        .route(
            "/webhooks/inbound-email",
            post(crate::domains::outreach::tracking::inbound),
        )
        .route("/hooks/in/{id}", post(receive_incoming_hook))
        .route("/health", get(health::health))
        .route("/readyz", get(health::health))
        .route("/livez", get(health::livez))
        .route("/metrics", get(health::metrics))
        .merge(landing::router(landing, graphiql_enabled, sdl))
        .with_state(state);
    if graphiql_enabled {
        router = router.merge(graphiql::router());
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            timeout_layer,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
                let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// `REQUEST_TIMEOUT_MS`: a handler still running after the limit is dropped (its futures are
/// cancelled, an open transaction rolls back) and the client gets 504 with `TIMEOUT`. Covers
/// reading the body and producing the response head; a streamed body (exports) and an upgraded
/// WebSocket run on after the head is sent.
async fn timeout_layer(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let media = graphql::negotiate(req.headers());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            metrics::counter!("http_request_timeouts_total").increment(1);
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            graphql::error_response(
                http::StatusCode::GATEWAY_TIMEOUT,
                media,
                crate::error::ErrorCode::Timeout.as_str(),
                &format!(
                    "the request took longer than {} ms and was stopped",
                    limit.as_millis()
                ),
            )
        }
    }
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
        ])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(600))
}
