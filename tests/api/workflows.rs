//! n8n workflows against a local fake n8n (axum on loopback) that speaks the public REST API
//! v1 (`/api/v1/workflows`, activate/deactivate, `{data, nextCursor}` pages of two, the key in
//! `X-N8N-API-KEY`, 401 `{message}` otherwise, 400 on extra properties) and production webhook
//! triggers (`/webhook/{path}` of active workflows): create → the fake holds it; activate →
//! execute records an execution and `workflow.started`; sync picks up workflows created,
//! changed and deleted on the fake; a wrong key is a clear error recorded on the integration;
//! the key is in no answer; another organization, no credentials, roles, invalid input; the
//! statement counts of the lists.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, member, ok, org_named, Person},
    helpers::{code, host_of, Options, TestApp},
};

pub const N8N_KEY: &str = "n8n-api-KEY-secret-0042";

/// What the fake holds and saw.
#[derive(Default)]
pub struct FakeState {
    /// Workflows by id.
    pub workflows: BTreeMap<String, Value>,
    /// Calls per `METHOD path` (API calls with the right key only).
    pub calls: BTreeMap<String, usize>,
    /// Bodies posted to webhook triggers, per path.
    pub triggered: Vec<(String, Value)>,
    /// Calls refused for the key.
    pub refused: usize,
    /// Executions by id, as `GET /api/v1/executions/{id}` answers them.
    pub executions: BTreeMap<u64, Value>,
    /// The `X-Leadgraph-Execution-Id` each trigger call carried, in order.
    pub leadgraph_ids: Vec<String>,
    next: u32,
}

#[derive(Clone, Default)]
pub struct FakeN8n(pub Arc<Mutex<FakeState>>);

impl FakeN8n {
    /// Adds a workflow as if made in n8n's editor; returns its id.
    pub fn add(&self, name: &str, path: Option<&str>) -> String {
        let mut s = self.0.lock().unwrap();
        s.next += 1;
        let id = format!("wf{:014}", s.next);
        let w = json!({"id": id, "name": name, "active": false, "nodes": nodes(path),
                       "connections": {}, "settings": {}, "createdAt": "2026-12-06T10:00:00.000Z",
                       "updatedAt": "2026-12-06T10:00:00.000Z"});
        s.workflows.insert(id.clone(), w);
        id
    }

    pub fn calls(&self, key: &str) -> usize {
        self.0.lock().unwrap().calls.get(key).copied().unwrap_or(0)
    }

    pub fn get(&self, id: &str) -> Option<Value> {
        self.0.lock().unwrap().workflows.get(id).cloned()
    }

    /// Ids of the executions the triggers started, in order.
    pub fn execution_ids(&self) -> Vec<u64> {
        self.0.lock().unwrap().executions.keys().copied().collect()
    }

    /// Ends execution `id` as n8n would: `success`, or `error` with n8n's error data.
    pub fn finish(&self, id: u64, status: &str, error: Option<&str>, ms: i64) {
        let mut s = self.0.lock().unwrap();
        let e = s.executions.get_mut(&id).unwrap();
        let started =
            chrono::DateTime::parse_from_rfc3339(e["startedAt"].as_str().unwrap()).unwrap();
        let stopped = started + chrono::Duration::milliseconds(ms);
        e["status"] = json!(status);
        e["finished"] = json!(status == "success");
        e["stoppedAt"] = json!(stopped.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        if let Some(m) = error {
            e["data"] =
                json!({"resultData": {"error": {"message": m, "name": "NodeOperationError"}}});
        }
    }
}

/// A webhook trigger node on `path` (POST) and a no-op, or just the no-op.
pub fn nodes(path: Option<&str>) -> Value {
    let mut n = vec![
        json!({"id": "b", "name": "Set", "type": "n8n-nodes-base.set",
                            "typeVersion": 3, "position": [400, 0], "parameters": {}}),
    ];
    if let Some(p) = path {
        n.insert(
            0,
            json!({"id": "a", "name": "Webhook", "type": "n8n-nodes-base.webhook",
                           "typeVersion": 2, "position": [0, 0],
                           "parameters": {"path": p, "httpMethod": "POST"}}),
        );
    }
    Value::from(n)
}

fn refused(f: &FakeN8n, headers: &HeaderMap) -> Option<Response> {
    if headers.get("x-n8n-api-key").and_then(|v| v.to_str().ok()) == Some(N8N_KEY) {
        return None;
    }
    f.0.lock().unwrap().refused += 1;
    Some(
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "unauthorized"})),
        )
            .into_response(),
    )
}

fn count(f: &FakeN8n, key: String) {
    *f.0.lock().unwrap().calls.entry(key).or_default() += 1;
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response()
}

/// n8n's body schema for create and update: exactly name, nodes, connections, settings.
fn body_problem(b: &Value) -> Option<String> {
    let o = b.as_object()?;
    for k in o.keys() {
        if !["name", "nodes", "connections", "settings"].contains(&k.as_str()) {
            return Some("request/body must NOT have additional properties".into());
        }
    }
    for k in ["name", "nodes", "connections", "settings"] {
        if !o.contains_key(k) {
            return Some(format!("request/body must have required property '{k}'"));
        }
    }
    None
}

async fn list(
    State(f): State<FakeN8n>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&f, &headers) {
        return r;
    }
    count(&f, "GET /workflows".into());
    let s = f.0.lock().unwrap();
    // Pages of two whatever `limit` asks, so the client must follow `nextCursor`.
    let after = q.get("cursor").cloned().unwrap_or_default();
    let rest: Vec<&Value> = s
        .workflows
        .iter()
        .filter(|(id, _)| after.is_empty() || id.as_str() > after.as_str())
        .map(|(_, w)| w)
        .collect();
    let page: Vec<Value> = rest.iter().take(2).map(|w| (*w).clone()).collect();
    let next = (rest.len() > 2).then(|| page.last().unwrap()["id"].clone());
    Json(json!({"data": page, "nextCursor": next})).into_response()
}

async fn create(State(f): State<FakeN8n>, headers: HeaderMap, Json(b): Json<Value>) -> Response {
    if let Some(r) = refused(&f, &headers) {
        return r;
    }
    count(&f, "POST /workflows".into());
    if let Some(m) = body_problem(&b) {
        return (StatusCode::BAD_REQUEST, Json(json!({"message": m}))).into_response();
    }
    let id = f.add(b["name"].as_str().unwrap(), None);
    let mut s = f.0.lock().unwrap();
    let w = s.workflows.get_mut(&id).unwrap();
    w["nodes"] = b["nodes"].clone();
    w["connections"] = b["connections"].clone();
    w["settings"] = b["settings"].clone();
    Json(w.clone()).into_response()
}

async fn one(
    State(f): State<FakeN8n>,
    headers: HeaderMap,
    Path(id): Path<String>,
    method: axum::http::Method,
    body: Bytes,
) -> Response {
    if let Some(r) = refused(&f, &headers) {
        return r;
    }
    count(&f, format!("{method} /workflows/{{id}}"));
    let mut s = f.0.lock().unwrap();
    match method.as_str() {
        "DELETE" => s
            .workflows
            .remove(&id)
            .map_or_else(not_found, |w| Json(w).into_response()),
        "PUT" => {
            let b: Value = serde_json::from_slice(&body).unwrap();
            if let Some(m) = body_problem(&b) {
                return (StatusCode::BAD_REQUEST, Json(json!({"message": m}))).into_response();
            }
            let Some(w) = s.workflows.get_mut(&id) else {
                return not_found();
            };
            for k in ["name", "nodes", "connections", "settings"] {
                w[k] = b[k].clone();
            }
            Json(w.clone()).into_response()
        }
        _ => s
            .workflows
            .get(&id)
            .cloned()
            .map_or_else(not_found, |w| Json(w).into_response()),
    }
}

async fn toggle(
    State(f): State<FakeN8n>,
    headers: HeaderMap,
    Path((id, verb)): Path<(String, String)>,
) -> Response {
    if let Some(r) = refused(&f, &headers) {
        return r;
    }
    count(&f, format!("POST /workflows/{{id}}/{verb}"));
    let mut s = f.0.lock().unwrap();
    let Some(w) = s.workflows.get_mut(&id) else {
        return not_found();
    };
    w["active"] = json!(verb == "activate");
    Json(w.clone()).into_response()
}

/// A production webhook: registered only while its workflow is active.
async fn trigger(
    State(f): State<FakeN8n>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = f.0.lock().unwrap();
    let ours = headers
        .get("x-leadgraph-execution-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let live = s.workflows.values().any(|w| {
        w["active"] == true
            && w["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n["parameters"]["path"] == path.as_str()))
    });
    if !live {
        let m = format!("The requested webhook \"POST {path}\" is not registered.");
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"code": 404, "message": m})),
        )
            .into_response();
    }
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let wf = s
        .workflows
        .values()
        .find(|w| {
            w["nodes"]
                .to_string()
                .contains(&format!("\"path\":\"{path}\""))
        })
        .map(|w| w["id"].clone())
        .unwrap();
    let id = s.executions.len() as u64 + 1000;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    s.executions.insert(
        id,
        json!({"id": id, "finished": false, "mode": "webhook", "retryOf": null,
               "retrySuccessId": null, "startedAt": now, "stoppedAt": null,
               "workflowId": wf, "waitTill": null, "status": "running"}),
    );
    s.leadgraph_ids.extend(ours);
    s.triggered.push((path, input));
    Json(json!({"message": "Workflow was started"})).into_response()
}

/// `GET /api/v1/executions?workflowId=…`: newest first, without `data`.
async fn executions(
    State(f): State<FakeN8n>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&f, &headers) {
        return r;
    }
    count(&f, "GET /executions".into());
    let s = f.0.lock().unwrap();
    let data: Vec<Value> = s
        .executions
        .values()
        .rev()
        .filter(|e| {
            q.get("workflowId")
                .is_none_or(|w| e["workflowId"] == w.as_str())
        })
        .map(|e| {
            let mut e = e.clone();
            e.as_object_mut().unwrap().remove("data");
            e
        })
        .collect();
    Json(json!({"data": data, "nextCursor": null})).into_response()
}

/// `GET /api/v1/executions/{id}` (`includeData=true` adds `data`).
async fn execution(
    State(f): State<FakeN8n>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&f, &headers) {
        return r;
    }
    count(&f, "GET /executions/{id}".into());
    let s = f.0.lock().unwrap();
    let Some(mut e) = id
        .parse::<u64>()
        .ok()
        .and_then(|i| s.executions.get(&i).cloned())
    else {
        return not_found();
    };
    if q.get("includeData").map(String::as_str) != Some("true") {
        e.as_object_mut().unwrap().remove("data");
    }
    Json(e).into_response()
}

/// Starts the fake: (state, base URL).
pub async fn fake_n8n() -> (FakeN8n, String) {
    let f = FakeN8n::default();
    let app = Router::new()
        .route("/api/v1/workflows", get(list).post(create))
        .route("/api/v1/workflows/{id}", get(one).put(one).delete(one))
        .route("/api/v1/workflows/{id}/{verb}", post(toggle))
        .route("/api/v1/executions", get(executions))
        .route("/api/v1/executions/{id}", get(execution))
        .route("/webhook/{path}", post(trigger))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (f, format!("http://{addr}"))
}

/// An app whose guarded client may reach `base` (and nothing else private).
pub async fn app_for(base: &str, env: &[(&str, &str)]) -> TestApp {
    let mut opts = Options::allowing(&[host_of(base)]);
    opts.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TestApp::spawn_with(opts).await
}

pub async fn admin(app: &TestApp) -> (Uuid, Person) {
    let org = org_named(app, &format!("Flows {}", Uuid::now_v7().simple())).await;
    (org, member(app, org, Role::Admin, "Ada").await)
}

const CONFIGURE: &str = "mutation($i: ConfigureN8nInput!) { configureN8n(input: $i) { id kind name baseUrl secretConfigured lastSuccessAt lastError } }";
const CREATE: &str = "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { id remoteId name definition active webhookPath status syncedAt } }";
const FIELDS: &str =
    "id remoteId name definition active webhookPath status syncedAt createdAt updatedAt";
const EXECUTE: &str = "mutation($id: ID!, $in: JSON) { executeWorkflow(id: $id, input: $in) { id workflowId status input responseStatus response error startedAt finishedAt } }";
const EXECUTIONS: &str = "query($id: ID!, $n: Int) { workflowExecutions(workflowId: $id, first: $n) { totalCount nodes { id workflowId status input responseStatus response error startedAt finishedAt } } }";
const SYNC: &str = "mutation { syncWorkflows { created updated removed unchanged } }";

pub async fn configure(app: &TestApp, who: &Person, base: &str, key: &str) -> Value {
    ok(
        app,
        &who.token,
        CONFIGURE,
        json!({"i": {"baseUrl": base, "apiKey": key}}),
    )
    .await["configureN8n"]
        .clone()
}

fn assert_no_key(v: &Value) {
    assert!(!v.to_string().contains(N8N_KEY), "the key came back: {v}");
}

/// Creates a workflow through the API: its registry id.
pub async fn create_workflow(app: &TestApp, who: &Person, name: &str, path: Option<&str>) -> Value {
    let v = ok(
        app,
        &who.token,
        CREATE,
        json!({"i": {"name": name, "definition": {"nodes": nodes(path), "connections": {}}}}),
    )
    .await;
    assert_no_key(&v);
    v["createWorkflow"].clone()
}

/// The data of the outbox rows of `org` of type `ty`.
pub async fn events(app: &TestApp, org: Uuid, ty: &str) -> Vec<Value> {
    entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq(ty))
        .order_by_asc(entity::outbox_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload["data"].clone())
        .collect()
}

#[tokio::test]
async fn create_activate_execute_against_the_fake_records_the_execution_and_the_event() {
    let (fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    let i = configure(&app, &ada, &base, N8N_KEY).await;
    assert_eq!(i["kind"], "N8N");
    assert_eq!(i["secretConfigured"], true);
    assert_no_key(&i);

    let w = create_workflow(&app, &ada, "Lead intake", Some("lead-in")).await;
    let remote = w["remoteId"].as_str().unwrap();
    let held = fake.get(remote).expect("the fake holds the workflow");
    assert_eq!(held["name"], "Lead intake");
    assert_eq!(held["nodes"][0]["parameters"]["path"], "lead-in");
    assert_eq!(w["webhookPath"], "lead-in");
    assert_eq!(
        (w["active"].clone(), w["status"].clone()),
        (json!(false), json!("SYNCED"))
    );
    let id = w["id"].as_str().unwrap().to_string();

    // Not active yet: n8n has no production webhook, nothing is called.
    let v = app.gql(Some(&ada.token), EXECUTE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    let v = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { activateWorkflow(id: $id) { active } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(v["activateWorkflow"]["active"], true);
    assert_eq!(fake.get(remote).unwrap()["active"], true);
    assert_eq!(fake.calls("POST /workflows/{id}/activate"), 1);

    // A MEMBER executes it with an input.
    let mia = member(&app, org, Role::Member, "Mia").await;
    let v = ok(
        &app,
        &mia.token,
        EXECUTE,
        json!({"id": id, "in": {"email": "a@example.com"}}),
    )
    .await;
    let e = &v["executeWorkflow"];
    assert_eq!(e["status"], "RUNNING", "{v}");
    assert_eq!(e["responseStatus"], 200);
    assert!(e["response"]
        .as_str()
        .unwrap()
        .contains("Workflow was started"));
    let triggered = fake.0.lock().unwrap().triggered.clone();
    assert_eq!(
        triggered,
        vec![("lead-in".to_string(), json!({"email": "a@example.com"}))]
    );
    let list = ok(&app, &mia.token, EXECUTIONS, json!({"id": id, "n": 10})).await;
    assert_eq!(list["workflowExecutions"]["totalCount"], 1);
    assert_eq!(list["workflowExecutions"]["nodes"][0]["id"], e["id"]);
    let started = events(&app, org, "workflow.started").await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["executionId"], e["id"]);
    assert_eq!(started[0]["workflowId"], id.as_str());
    let changed: Vec<Value> = events(&app, org, "workflow.changed")
        .await
        .into_iter()
        .map(|d| d["action"].clone())
        .collect();
    assert_eq!(changed, [json!("created"), json!("activated")]);

    // Update, deactivate, then a failed execution is recorded FAILED, without the event.
    let v = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { updateWorkflow(id: $id, input: {name: \"Renamed\"}) { name } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(v["updateWorkflow"]["name"], "Renamed");
    assert_eq!(fake.get(remote).unwrap()["name"], "Renamed");
    // Deactivated in n8n's editor, the registry still thinks it is active: the trigger 404s.
    fake.0.lock().unwrap().workflows.get_mut(remote).unwrap()["active"] = json!(false);
    let v = ok(&app, &mia.token, EXECUTE, json!({"id": id})).await;
    assert_eq!(v["executeWorkflow"]["status"], "FAILED");
    assert_eq!(v["executeWorkflow"]["responseStatus"], 404);
    assert!(v["executeWorkflow"]["finishedAt"].is_string());
    assert_eq!(events(&app, org, "workflow.started").await.len(), 1);

    // Delete: gone in n8n and in the registry.
    ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { deleteWorkflow(id: $id) }",
        json!({"id": id}),
    )
    .await;
    assert!(fake.get(remote).is_none());
    let v = ok(
        &app,
        &ada.token,
        &format!("query($id: ID!) {{ workflow(id: $id) {{ {FIELDS} }} }}"),
        json!({"id": id}),
    )
    .await;
    assert!(v["workflow"].is_null());
    assert_eq!(fake.0.lock().unwrap().refused, 0);
}

#[tokio::test]
async fn sync_picks_up_workflows_created_changed_and_deleted_on_n8n() {
    let (fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    configure(&app, &ada, &base, N8N_KEY).await;
    let mine = create_workflow(&app, &ada, "Mine", None).await;
    let remote = mine["remoteId"].as_str().unwrap().to_string();
    let a = fake.add("Made in n8n A", Some("a-hook"));
    fake.add("Made in n8n B", None);
    fake.0.lock().unwrap().workflows.get_mut(&remote).unwrap()["name"] = json!("Mine, edited");

    let v = ok(&app, &ada.token, SYNC, json!({})).await;
    assert_eq!(
        v["syncWorkflows"],
        json!({"created": 2, "updated": 1, "removed": 0, "unchanged": 0})
    );
    // Three workflows in pages of two: the client followed nextCursor.
    assert_eq!(fake.calls("GET /workflows"), 2);
    let q = format!("{{ workflows {{ nodes {{ {FIELDS} }} }} }}");
    let list = ok(&app, &ada.token, &q, json!({})).await;
    let names: Vec<&str> = list["workflows"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(
        names.contains(&"Mine, edited") && names.contains(&"Made in n8n A"),
        "{names:?}"
    );
    let synced_a = list["workflows"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["remoteId"] == a.as_str())
        .unwrap()
        .clone();
    assert_eq!(synced_a["webhookPath"], "a-hook");

    // Deleted in n8n: marked REMOVED; a second sync changes nothing else.
    fake.0.lock().unwrap().workflows.remove(&a);
    let v = ok(&app, &ada.token, SYNC, json!({})).await;
    assert_eq!(
        v["syncWorkflows"],
        json!({"created": 0, "updated": 0, "removed": 1, "unchanged": 2})
    );
    let v = ok(
        &app,
        &ada.token,
        &format!("query($id: ID!) {{ workflow(id: $id) {{ {FIELDS} }} }}"),
        json!({"id": synced_a["id"]}),
    )
    .await;
    assert_eq!(v["workflow"]["status"], "REMOVED");
    let v = ok(&app, &ada.token, SYNC, json!({})).await;
    assert_eq!(v["syncWorkflows"]["unchanged"], 2);
    let actions: Vec<String> = events(&app, org, "workflow.changed")
        .await
        .into_iter()
        .map(|d| d["action"].as_str().unwrap().to_string())
        .collect();
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!(
        (
            count("created"),
            count("synced"),
            count("updated"),
            count("removed")
        ),
        (1, 2, 1, 1)
    );
}

#[tokio::test]
async fn a_wrong_api_key_is_a_clear_error_recorded_on_the_integration_and_never_shown() {
    let (fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (_, ada) = admin(&app).await;
    // Not configured yet.
    let v = app.gql(Some(&ada.token), SYNC, json!({})).await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("configureN8n"));

    let wrong = "n8n-wrong-KEY-0000";
    configure(&app, &ada, &base, wrong).await;
    let v = app.gql(Some(&ada.token), SYNC, json!({})).await;
    assert_eq!(code(&v), Some("SERVICE_UNAVAILABLE"), "{v}");
    let msg = v["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("n8n refused the API key (HTTP 401)"), "{msg}");
    assert!(!v.to_string().contains(wrong));
    assert_eq!(fake.0.lock().unwrap().refused, 1);
    let v = app
        .gql(
            Some(&ada.token),
            CREATE,
            json!({"i": {"name": "X", "definition": {"nodes": [], "connections": {}}}}),
        )
        .await;
    assert_eq!(code(&v), Some("SERVICE_UNAVAILABLE"), "{v}");

    let s = ok(
        &app,
        &ada.token,
        "{ integrations { kind id name configured lastSuccessAt lastError } }",
        json!({}),
    )
    .await;
    assert!(!s.to_string().contains(wrong));
    let n8n = s["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "N8N")
        .unwrap()
        .clone();
    assert_eq!(n8n["configured"], true);
    assert!(
        n8n["lastError"]
            .as_str()
            .unwrap()
            .contains("refused the API key"),
        "{n8n}"
    );

    // The right key: the sync works and the success is recorded.
    configure(&app, &ada, &base, N8N_KEY).await;
    ok(&app, &ada.token, SYNC, json!({})).await;
    let s = ok(
        &app,
        &ada.token,
        "{ integrations { kind lastSuccessAt lastError } }",
        json!({}),
    )
    .await;
    let n8n = s["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "N8N")
        .unwrap()
        .clone();
    assert!(n8n["lastSuccessAt"].is_string(), "{n8n}");
    // The key is stored sealed.
    let row = entity::integration::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(row
        .iter()
        .all(|r| !r.secret.contains(N8N_KEY) && !r.secret.contains(wrong)));
}

#[tokio::test]
async fn isolation_credentials_roles_and_invalid_input() {
    let (fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    configure(&app, &ada, &base, N8N_KEY).await;
    let w = create_workflow(&app, &ada, "Ours", Some("ours")).await;
    let id = w["id"].as_str().unwrap();

    // Another organization (with its own n8n) sees nothing and can change nothing.
    let (_, eve) = admin(&app).await;
    configure(&app, &eve, &base, N8N_KEY).await;
    let v = ok(
        &app,
        &eve.token,
        &format!("query($id: ID!) {{ workflow(id: $id) {{ {FIELDS} }} }}"),
        json!({"id": id}),
    )
    .await;
    assert!(v["workflow"].is_null());
    let v = ok(
        &app,
        &eve.token,
        "{ workflows { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(v["workflows"]["nodes"], json!([]));
    for (q, vars) in [
        (
            "mutation($id: ID!) { updateWorkflow(id: $id, input: {name: \"x\"}) { id } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { deleteWorkflow(id: $id) }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { activateWorkflow(id: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { executeWorkflow(id: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "query($id: ID!) { workflowExecutions(workflowId: $id) { nodes { id } } }",
            json!({"id": id}),
        ),
    ] {
        let v = app.gql(Some(&eve.token), q, vars).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }
    assert_eq!(
        fake.calls("PUT /workflows/{id}") + fake.calls("DELETE /workflows/{id}"),
        0
    );

    // No credentials.
    for q in [
        "{ workflows { nodes { id } } }",
        SYNC,
        "{ integrations { kind } }",
    ] {
        let v = app.gql(None, q, json!({})).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{q}: {v}");
    }
    // A MEMBER reads and runs but does not manage.
    let mia = member(&app, org, Role::Member, "Mia").await;
    ok(
        &app,
        &mia.token,
        "{ workflows { nodes { id } } }",
        json!({}),
    )
    .await;
    for q in [
        SYNC,
        "mutation { createWorkflow(input: {name: \"x\", definition: {nodes: [], connections: {}}}) { id } }",
        "mutation { configureN8n(input: {baseUrl: \"https://n8n.example.com\", apiKey: \"k\"}) { id } }",
        "{ integrations { kind } }",
    ] {
        let v = app.gql(Some(&mia.token), q, json!({})).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{q}: {v}");
    }
    let viewer = member(&app, org, Role::Viewer, "Vic").await;
    let v = app
        .gql(
            Some(&viewer.token),
            "{ workflows { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");

    // Invalid input: nothing reaches n8n.
    let before = fake.calls("POST /workflows");
    for (input, fields) in [
        (
            json!({"name": "x", "definition": [1, 2]}),
            vec!["input.definition"],
        ),
        (
            json!({"name": "x", "definition": {"nodes": [{"name": "n"}], "connections": {}}}),
            vec!["input.definition"],
        ),
        (
            json!({"name": "x", "definition": {"nodes": [], "connections": []}}),
            vec!["input.definition"],
        ),
        (
            json!({"name": " ", "definition": "nope"}),
            vec!["input.name", "input.definition"],
        ),
    ] {
        let v = app.gql(Some(&ada.token), CREATE, json!({"i": input})).await;
        assert_eq!(field_errors(&v), fields, "{v}");
    }
    assert_eq!(fake.calls("POST /workflows"), before);
    let v = app
        .gql(
            Some(&ada.token),
            CONFIGURE,
            json!({"i": {"baseUrl": "ftp://x", "apiKey": " "}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.baseUrl", "input.apiKey"]);
    // Unknown ids.
    for bad in [Uuid::now_v7().to_string(), "nope".to_string()] {
        let v = app
            .gql(
                Some(&ada.token),
                "mutation($id: ID!) { activateWorkflow(id: $id) { id } }",
                json!({"id": bad}),
            )
            .await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    }
    // A workflow without a webhook trigger cannot be executed.
    let plain = create_workflow(&app, &ada, "No trigger", None).await;
    ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { activateWorkflow(id: $id) { id } }",
        json!({"id": plain["id"]}),
    )
    .await;
    let v = app
        .gql(Some(&ada.token), EXECUTE, json!({"id": plain["id"]}))
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("no Webhook trigger"));
}

#[tokio::test]
async fn the_lists_cost_the_same_statements_at_any_page_size() {
    let (fake, base) = fake_n8n().await;
    let app = app_for(&base, &[("RECORD_SQL", "true")]).await;
    let (_, ada) = admin(&app).await;
    configure(&app, &ada, &base, N8N_KEY).await;
    for i in 0..12 {
        fake.add(&format!("Flow {i}"), Some(&format!("p{i}")));
    }
    let first = fake.add("Busy", Some("busy"));
    ok(&app, &ada.token, SYNC, json!({})).await;
    fake.0.lock().unwrap().workflows.get_mut(&first).unwrap()["active"] = json!(true);
    ok(&app, &ada.token, SYNC, json!({})).await;
    let list = ok(
        &app,
        &ada.token,
        "{ workflows(first: 50) { nodes { id name active } } }",
        json!({}),
    )
    .await;
    let busy = list["workflows"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "Busy")
        .unwrap()
        .clone();
    assert_eq!(busy["active"], true);
    for _ in 0..12 {
        ok(
            &app,
            &ada.token,
            EXECUTE,
            json!({"id": busy["id"], "in": {"n": 1}}),
        )
        .await;
    }
    let lists = [
        format!("query($n: Int) {{ workflows(first: $n) {{ nodes {{ {FIELDS} }} }} }}"),
        format!("query($n: Int) {{ workflowExecutions(workflowId: \"{}\", first: $n) {{ nodes {{ id status input responseStatus }} }} }}", busy["id"].as_str().unwrap()),
    ];
    for q in lists {
        let mut counts = Vec::new();
        for n in [3, 10] {
            app.state.sql_log.take();
            let v = ok(&app, &ada.token, &q, json!({"n": n})).await;
            let nodes = v.as_object().unwrap().values().next().unwrap()["nodes"]
                .as_array()
                .unwrap()
                .len();
            assert_eq!(nodes, n);
            counts.push(app.request_statements().len());
        }
        assert_eq!(counts[0], counts[1], "{q}");
    }
}
