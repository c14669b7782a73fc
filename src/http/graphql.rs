//! GraphQL over HTTP: `POST /graphql` (JSON, batches) and `GET /graphql` (queries only).
//!
//! Content negotiation follows GraphQL-over-HTTP: clients that accept
//! `application/graphql-response+json` get it, with 4xx statuses for requests that fail before
//! execution (parse, validation); others get `application/json` with 200. Requests with a
//! CORS-simple content type must carry `Apollo-Require-Preflight` or `X-Apollo-Operation-Name`
//! (CSRF protection, as Apollo does).

use std::net::SocketAddr;

use async_graphql::{BatchRequest, BatchResponse, Response as GqlResponse};
use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    response::{IntoResponse, Response},
};
use http::{header, HeaderMap, HeaderValue, StatusCode};

use super::{HttpState, REQUEST_ID};
use crate::{
    auth::{credentials::viewer_from_headers, Viewer, ViewerVia},
    error::{AppError, ErrorCode},
    graphql::{extension, prepare_request, RequestMeta},
    platform::ratelimit::Limit,
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// Which response media type the client gets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/graphql-response+json`.
    GraphqlResponseJson,
    /// Legacy `application/json`.
    Json,
}

/// The response media type the client accepts.
pub fn negotiate(headers: &HeaderMap) -> Media {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains(GRAPHQL_RESPONSE_JSON) {
        Media::GraphqlResponseJson
    } else {
        Media::Json
    }
}

fn content_type(media: Media) -> HeaderValue {
    match media {
        Media::GraphqlResponseJson => {
            HeaderValue::from_static("application/graphql-response+json; charset=utf-8")
        }
        Media::Json => HeaderValue::from_static("application/json; charset=utf-8"),
    }
}

/// The client IP: the socket peer, unless the peer is a trusted proxy (`TRUSTED_PROXIES`); then
/// `X-Forwarded-For` is read (see [`select_client_ip`]).
pub fn client_ip(
    headers: &HeaderMap,
    extensions: &http::Extensions,
    trusted_proxies: &[ipnet::IpNet],
) -> Option<String> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    select_client_ip(peer, &forwarded, trusted_proxies).map(|ip| ip.to_string())
}

/// Picks the client address. A peer that is not a trusted proxy is the client, whatever it
/// claims in `X-Forwarded-For`. Behind a trusted proxy the entries are walked from the right
/// (each proxy appends the address it saw): the first one that is not itself a trusted proxy is
/// the client. Everything left of it was written by the client and is ignored. An entry that is
/// not an IP address stops the walk at the last trusted hop; if every entry is trusted, the
/// leftmost one is the client.
pub fn select_client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded: &[&str],
    trusted_proxies: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let trusted = |ip: &std::net::IpAddr| trusted_proxies.iter().any(|n| n.contains(ip));
    let mut client = peer?.to_canonical();
    if !trusted(&client) {
        return Some(client);
    }
    for entry in forwarded.iter().rev() {
        let entry = entry.trim();
        let parsed = entry
            .parse::<std::net::IpAddr>()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()));
        let Some(ip) = parsed.map(|ip| ip.to_canonical()) else {
            break;
        };
        client = ip;
        if !trusted(&ip) {
            break;
        }
    }
    Some(client)
}

fn meta_from(
    parts: &http::request::Parts,
    is_get: bool,
    trusted_proxies: &[ipnet::IpNet],
) -> RequestMeta {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    RequestMeta {
        request_id: header(REQUEST_ID.as_str()).unwrap_or_default(),
        ip: client_ip(&parts.headers, &parts.extensions, trusted_proxies),
        user_agent: header(header::USER_AGENT.as_str()),
        is_get,
    }
}

/// A transport-level error response in GraphQL shape.
pub fn error_response(status: StatusCode, media: Media, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, content_type(media));
    res
}

fn app_error_response(err: &AppError, media: Media) -> Response {
    let status = match (err.code(), media) {
        (ErrorCode::Unauthenticated, Media::GraphqlResponseJson) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::OK,
    };
    error_response(status, media, err.code().as_str(), &err.public_message())
}

fn first_code(resp: &GqlResponse) -> Option<String> {
    let err = resp.errors.first()?;
    match err.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn status_for(resp: &GqlResponse, media: Media) -> StatusCode {
    let code = first_code(resp);
    if code.as_deref() == Some(extension::METHOD_NOT_ALLOWED) {
        return StatusCode::METHOD_NOT_ALLOWED;
    }
    if media == Media::Json || resp.data != async_graphql::Value::Null {
        return StatusCode::OK;
    }
    match code.as_deref() {
        Some(extension::PARSE_FAILED | extension::VALIDATION_FAILED | "BAD_REQUEST") => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    }
}

fn graphql_response(batch: BatchResponse, media: Media) -> Response {
    let status = match &batch {
        BatchResponse::Single(r) => status_for(r, media),
        BatchResponse::Batch(_) => StatusCode::OK,
    };
    let mut headers = HeaderMap::new();
    if let BatchResponse::Single(r) = &batch {
        if let Some(cc) = r.cache_control.value() {
            if let Ok(v) = HeaderValue::from_str(&cc) {
                headers.insert(header::CACHE_CONTROL, v);
            }
        }
        for (k, v) in r.http_headers.iter() {
            headers.insert(k.clone(), v.clone());
        }
    }
    let body = match serde_json::to_vec(&batch) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "serializing a GraphQL response failed");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                media,
                "INTERNAL",
                "internal error",
            );
        }
    };
    let mut res = (status, Body::from(body)).into_response();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    res.headers_mut().extend(headers);
    res.headers_mut()
        .insert(header::CONTENT_TYPE, content_type(media));
    res
}

/// Whose budget a viewer spends: their API key's, or their user's (every session together).
/// WebSocket connections and operations count against the same key.
pub(crate) fn viewer_key(viewer: &Viewer) -> String {
    match (viewer.via, viewer.session_id) {
        (ViewerVia::ApiKey, Some(id)) => format!("key:{id}"),
        _ => format!("user:{}", viewer.user_id),
    }
}

/// The general per-user / per-key budget (`RATE_LIMIT_VIEWER_PER_MINUTE`).
pub(crate) fn viewer_limit(config: &crate::config::Config) -> Limit {
    Limit {
        name: "viewer",
        max: config.rate_limits.viewer_per_minute,
        per: std::time::Duration::from_secs(60),
    }
}

/// The general per-user / per-key budget. `Some(response)` when exhausted (429).
async fn viewer_budget(s: &HttpState, viewer: Option<&Viewer>, media: Media) -> Option<Response> {
    let viewer = viewer?;
    let d = s
        .app
        .limiter
        .check(&viewer_limit(&s.app.config), &viewer_key(viewer))
        .await;
    if d.allowed {
        return None;
    }
    let body = serde_json::json!({"errors": [{
        "message": format!("too many requests; retry after {} s", d.retry_after_secs),
        "extensions": {"code": "RATE_LIMITED", "retryAfter": d.retry_after_secs}
    }]});
    let mut res = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type(media));
    for (k, v) in [
        ("retry-after", d.retry_after_secs.to_string()),
        ("x-ratelimit-limit", d.limit.to_string()),
        ("x-ratelimit-remaining", "0".to_string()),
        ("x-ratelimit-reset", d.reset_secs.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    Some(res)
}

fn has_preflight_header(headers: &HeaderMap) -> bool {
    ["apollo-require-preflight", "x-apollo-operation-name"]
        .iter()
        .any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()))
}

/// Refuses a content type this endpoint does not take, or a CORS-simple one without a
/// preflight header.
fn refuse_content_type(ct: Option<&str>, headers: &HeaderMap, media: Media) -> Option<Response> {
    match ct {
        Some("application/json") | Some("application/graphql-response+json") => {}
        None
        | Some("text/plain")
        | Some("application/x-www-form-urlencoded")
        | Some("multipart/form-data") => {
            if !has_preflight_header(headers) {
                return Some(error_response(
                    StatusCode::BAD_REQUEST,
                    media,
                    "BAD_REQUEST",
                    "this request has a CORS-simple content type; send Content-Type: application/json \
                     or an Apollo-Require-Preflight header",
                ));
            }
            if ct == Some("application/x-www-form-urlencoded") {
                return Some(error_response(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    media,
                    "BAD_REQUEST",
                    "unsupported content type; use application/json (or multipart for uploads)",
                ));
            }
        }
        Some(_) => {
            return Some(error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                media,
                "BAD_REQUEST",
                "unsupported content type; use application/json",
            ))
        }
    }
    None
}

/// `POST /graphql`.
pub async fn post_handler(State(s): State<HttpState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let media = negotiate(&parts.headers);
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if let Some(res) = refuse_content_type(ct.as_deref(), &parts.headers, media) {
        return res;
    }
    // Credentials and the viewer's budget come before any of the body is read.
    let viewer = match viewer_from_headers(&s.app, &parts.headers).await {
        Ok(v) => v,
        Err(e) => return app_error_response(&e, media),
    };
    if let Some(res) = viewer_budget(&s, viewer.as_ref(), media).await {
        return res;
    }
    let batch = if ct.as_deref() == Some("multipart/form-data") {
        match super::upload::read_checked(&s, &parts.headers, body, viewer.as_ref(), media).await {
            Ok(b) => b,
            Err(res) => return res,
        }
    } else {
        match read_json(
            &parts.headers,
            body,
            s.app.config.limits.max_body_bytes,
            media,
        )
        .await
        {
            Ok(b) => b,
            Err(res) => return res,
        }
    };
    let max_batch = s.app.config.limits.max_batch_size;
    if let BatchRequest::Batch(items) = &batch {
        if items.is_empty() || items.len() > max_batch {
            return error_response(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_REQUEST",
                &format!("a batch must hold between 1 and {max_batch} operations"),
            );
        }
    }
    graphql_batch(&s, &parts, batch, media, viewer).await
}

async fn read_json(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    media: Media,
) -> Result<BatchRequest, Response> {
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            "BAD_REQUEST",
            &format!("request body larger than {limit} bytes"),
        )
    };
    // A declared length over the limit is refused before any of the body is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return Err(too_large()),
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        error_response(
            StatusCode::BAD_REQUEST,
            media,
            "BAD_REQUEST",
            &format!("malformed GraphQL request body: {e}"),
        )
    })
}

async fn graphql_batch(
    s: &HttpState,
    parts: &http::request::Parts,
    batch: BatchRequest,
    media: Media,
    viewer: Option<Viewer>,
) -> Response {
    let meta = meta_from(parts, false, &s.app.config.trusted_proxies);
    let batch = match batch {
        BatchRequest::Single(mut r) => {
            if let Some(res) = compiled(s, &mut r, viewer.as_ref(), media).await {
                return res;
            }
            let r = prepare_request(r, &s.app, viewer, meta.clone());
            BatchResponse::Single(execute(s, r, &meta).await)
        }
        BatchRequest::Batch(rs) => BatchResponse::Batch(
            futures::future::join_all(rs.into_iter().map(|r| {
                let r = prepare_request(r, &s.app, viewer.clone(), meta.clone());
                execute(s, r, &meta)
            }))
            .await,
        ),
    };
    graphql_response(batch, media)
}

/// Answers `request` through a compiled read (`graphql::compiled`) when it is one; `None` when
/// the resolvers must run it (also when the statement failed: they report the error). A read
/// that failed because the database could not be reached is answered SERVICE_UNAVAILABLE at
/// once: the resolvers would only wait for a connection a second time (two acquire timeouts
/// per request while PostgreSQL is down: the fault suite's postgres/down).
async fn compiled(
    s: &HttpState,
    request: &mut async_graphql::Request,
    viewer: Option<&Viewer>,
    media: Media,
) -> Option<Response> {
    let plan = crate::graphql::compiled::plan(&s.app, request, viewer)?;
    let started = std::time::Instant::now();
    match plan.execute(&s.app).await {
        Ok(body) => {
            extension::record_metrics(
                plan.operation_name(),
                &GqlResponse::new(async_graphql::Value::Null),
                started,
            );
            let mut res = (StatusCode::OK, Body::from(body)).into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, content_type(media));
            Some(res)
        }
        Err(e) if crate::error::is_connection_loss(&e) => {
            let path = plan
                .first_key()
                .map(|k| async_graphql::PathSegment::Field(k.into()));
            let mut err = async_graphql::Error::from(AppError::from(e))
                .into_server_error(async_graphql::Pos::default());
            err.path.extend(path);
            err.locations.clear();
            let response = GqlResponse::from_errors(vec![err]);
            extension::record_metrics(plan.operation_name(), &response, started);
            Some(graphql_response(BatchResponse::Single(response), media))
        }
        Err(e) => {
            tracing::warn!(error = %e, "compiled read failed; running the resolvers");
            None
        }
    }
}

/// Runs one operation: plain queries on the extension-free query schema (with the policy
/// extension's error codes and metrics applied here), everything else on the full schema.
async fn execute(
    s: &HttpState,
    mut request: async_graphql::Request,
    meta: &RequestMeta,
) -> GqlResponse {
    let Some(operation_name) =
        extension::fast_path_eligible(&mut request, s.app.config.limits.max_aliases)
    else {
        return s.schema.execute(request).await;
    };
    let started = std::time::Instant::now();
    let mut response = s.query_schema.execute(request).await;
    extension::record_metrics(operation_name.as_deref(), &response, started);
    extension::finish_errors(&mut response, Some(meta), true);
    response
}

/// `GET /graphql?query=…&variables=…&operationName=…&extensions=…` — queries only.
pub async fn get_handler(State(s): State<HttpState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let media = negotiate(&parts.headers);
    let request = match async_graphql::http::parse_query_string(parts.uri.query().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_REQUEST",
                &format!("malformed GraphQL GET request: {e}"),
            )
        }
    };
    let viewer = match viewer_from_headers(&s.app, &parts.headers).await {
        Ok(v) => v,
        Err(e) => return app_error_response(&e, media),
    };
    if let Some(res) = viewer_budget(&s, viewer.as_ref(), media).await {
        return res;
    }
    let mut request = request;
    if let Some(res) = compiled(&s, &mut request, viewer.as_ref(), media).await {
        return res;
    }
    let meta = meta_from(&parts, true, &s.app.config.trusted_proxies);
    let request = prepare_request(request, &s.app, viewer, meta.clone());
    graphql_response(
        BatchResponse::Single(execute(&s, request, &meta).await),
        media,
    )
}

#[cfg(test)]
mod client_ip_tests {
    use super::select_client_ip;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_xff_says() {
        let got = select_client_ip(Some(ip("127.0.0.1")), &["203.0.113.9"], &[]);
        assert_eq!(got, Some(ip("127.0.0.1")));
    }

    #[test]
    fn an_untrusted_peer_cannot_spoof_its_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        let got = select_client_ip(Some(ip("198.51.100.7")), &["203.0.113.9"], &trusted);
        assert_eq!(got, Some(ip("198.51.100.7")));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // The client wrote "1.1.1.1" itself; the edge proxy appended the real address, then an
        // inner proxy appended the edge's.
        let got = select_client_ip(
            Some(ip("127.0.0.1")),
            &["1.1.1.1", " 203.0.113.9", "10.0.0.2 "],
            &trusted,
        );
        assert_eq!(got, Some(ip("203.0.113.9")));
        // No header: the proxy itself.
        assert_eq!(
            select_client_ip(Some(ip("10.1.2.3")), &[], &trusted),
            Some(ip("10.1.2.3"))
        );
        // Every entry trusted: the leftmost.
        assert_eq!(
            select_client_ip(Some(ip("10.1.2.3")), &["10.9.9.9", "10.0.0.1"], &trusted),
            Some(ip("10.9.9.9"))
        );
        // Garbage stops the walk at the last trusted hop, never becomes a key.
        assert_eq!(
            select_client_ip(
                Some(ip("10.1.2.3")),
                &["1.1.1.1", "junk", "10.0.0.1"],
                &trusted
            ),
            Some(ip("10.0.0.1"))
        );
        // Ports and IPv4-mapped IPv6 peers.
        assert_eq!(
            select_client_ip(
                Some(ip("::ffff:127.0.0.1")),
                &["[2001:db8::1]:4711"],
                &trusted
            ),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(select_client_ip(None, &["1.1.1.1"], &trusted), None);
    }
}
