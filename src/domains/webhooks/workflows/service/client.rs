//! n8n's public REST API v1 over the SSRF-guarded client, key in `X-N8N-API-KEY`.
//!
//! Wire format (n8n's OpenAPI, `packages/cli/src/public-api/v1`): a workflow is
//! `{id, name, active, nodes, connections, settings, createdAt, updatedAt, …}`; create and
//! update send only `{name, nodes, connections, settings}` (the schema refuses read-only
//! fields); the list is `{data: [workflow], nextCursor}` paged with `limit` and `cursor`.
//! An execution is `{id, finished, mode, retryOf, startedAt, stoppedAt, workflowId, status,
//! data?}` (`status`: new, running, waiting, success, error, crashed, canceled, unknown);
//! the list is `{data: [execution], nextCursor}` filtered by `workflowId`.
//! Errors are `{message}` with 400 (bad body), 401 (key), 404 (no such workflow).

use serde_json::{json, Value};

use crate::{
    domains::webhooks::integrations::{record_outcome, N8nConnection},
    error::{AppError, AppResult},
    platform::outbound::OutboundResponse,
    state::AppState,
};

/// Page size asked of `GET /api/v1/workflows` (n8n's maximum is 250).
const PAGE: usize = 100;
/// Most pages one sync reads.
const MAX_PAGES: usize = 50;

/// A call to one organization's n8n.
pub struct N8n<'a> {
    /// The app (its outbound client, the database for outcomes).
    pub state: &'a AppState,
    /// Base URL and key.
    pub conn: N8nConnection,
}

/// What n8n said about a call that did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// 404: no such workflow.
    Missing,
    /// Anything else, as the API error to return.
    Error(AppError),
}

impl From<Failure> for AppError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Missing => AppError::NotFound("n8n workflow"),
            Failure::Error(e) => e,
        }
    }
}

/// n8n's `{message}` (or the start of the body).
fn message_of(r: &OutboundResponse) -> String {
    let text = r.text_lossy();
    let m = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or(text);
    m.chars().take(300).collect()
}

impl N8n<'_> {
    /// `{base}/api/v1{path}`.
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.conn.base_url)
    }

    /// Sends one request and maps the answer; records the outcome on the integration.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let r = self.send(method, path, body).await;
        match &r {
            Err(Failure::Error(e)) => {
                record_outcome(self.state, self.conn.id, Err(&e.public_message())).await
            }
            _ => record_outcome(self.state, self.conn.id, Ok(())).await,
        }
        r
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let http = &self.state.http;
        let unreachable =
            |e: String| Failure::Error(AppError::Unavailable(format!("n8n is unreachable: {e}")));
        let mut b = http
            .request(method, &self.url(path))
            .map_err(|e| unreachable(e.to_string()))?
            .header("X-N8N-API-KEY", &self.conn.api_key)
            .header(http::header::ACCEPT, "application/json");
        if let Some(body) = body {
            b = b.json(body);
        }
        let r = http
            .execute(b)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        match r.status {
            200..=299 => serde_json::from_slice(&r.body).map_err(|_| {
                Failure::Error(AppError::Unavailable("n8n's answer is not JSON".into()))
            }),
            401 | 403 => Err(Failure::Error(AppError::Unavailable(format!(
                "n8n refused the API key (HTTP {}): {}",
                r.status,
                message_of(&r)
            )))),
            404 => Err(Failure::Missing),
            400 | 422 => Err(Failure::Error(AppError::invalid(
                "input.definition",
                format!("n8n refused the workflow: {}", message_of(&r)),
            ))),
            s => Err(Failure::Error(AppError::Unavailable(format!(
                "n8n answered HTTP {s}: {}",
                message_of(&r)
            )))),
        }
    }

    /// `POST /workflows`.
    pub async fn create(&self, body: &Value) -> Result<Value, Failure> {
        self.call(reqwest::Method::POST, "/workflows", Some(body))
            .await
    }

    /// `PUT /workflows/{id}`.
    pub async fn update(&self, id: &str, body: &Value) -> Result<Value, Failure> {
        let path = format!("/workflows/{}", urlencoding(id));
        self.call(reqwest::Method::PUT, &path, Some(body)).await
    }

    /// `DELETE /workflows/{id}`.
    pub async fn delete(&self, id: &str) -> Result<Value, Failure> {
        let path = format!("/workflows/{}", urlencoding(id));
        self.call(reqwest::Method::DELETE, &path, None).await
    }

    /// `POST /workflows/{id}/activate` or `/deactivate`.
    pub async fn set_active(&self, id: &str, active: bool) -> Result<Value, Failure> {
        let verb = if active { "activate" } else { "deactivate" };
        let path = format!("/workflows/{}/{verb}", urlencoding(id));
        self.call(reqwest::Method::POST, &path, None).await
    }

    /// `GET /executions/{id}?includeData=true` (the data carries the error of a failed one).
    pub async fn execution(&self, id: &str) -> Result<Value, Failure> {
        let path = format!("/executions/{}?includeData=true", urlencoding(id));
        self.call(reqwest::Method::GET, &path, None).await
    }

    /// The newest executions of workflow `remote_id` (`GET /executions?workflowId=…`, one
    /// page).
    pub async fn executions(&self, remote_id: &str) -> Result<Vec<Value>, Failure> {
        let path = format!("/executions?workflowId={}&limit=50", urlencoding(remote_id));
        let page = self.call(reqwest::Method::GET, &path, None).await?;
        Ok(page["data"].as_array().cloned().unwrap_or_default())
    }

    /// Every workflow n8n has (`GET /workflows`, following `nextCursor`).
    pub async fn all(&self) -> AppResult<Vec<Value>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut path = format!("/workflows?limit={PAGE}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", urlencoding(c)));
            }
            let page = self.call(reqwest::Method::GET, &path, None).await?;
            if let Some(data) = page["data"].as_array() {
                out.extend(data.iter().cloned());
            }
            cursor = page["nextCursor"]
                .as_str()
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            if cursor.is_none() {
                return Ok(out);
            }
        }
        Err(AppError::Unavailable(format!(
            "n8n has more than {} workflows; sync stopped",
            PAGE * MAX_PAGES
        )))
    }

    /// The POST body n8n's create and update accept.
    pub fn body(name: &str, definition: &Value) -> Value {
        json!({
            "name": name,
            "nodes": definition["nodes"],
            "connections": definition["connections"],
            "settings": definition.get("settings").filter(|s| s.is_object()).cloned().unwrap_or_else(|| json!({})),
        })
    }
}

/// Percent-encodes a path or query component.
fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
