//! Workflow execution completion, retries, stats and validation against the local fake n8n
//! (`tests/api/workflows.rs`), which now also speaks `GET /api/v1/executions` and
//! `GET /api/v1/executions/{id}`: the poll job finds n8n's execution, records SUCCEEDED or
//! FAILED with n8n's stoppedAt, duration and error, and emits `workflow.completed` /
//! `workflow.failed` (to the outbox, so to subscriptions and outgoing webhooks); a repeated
//! poll job records nothing twice; `retryWorkflowExecution` only for FAILED ones;
//! `workflowStats` over a range; `validateWorkflow`'s field errors; roles, other
//! organizations, no credentials.

use std::time::Duration;

use leadgraph::{
    auth::Role,
    jobs::{queue, NewJob},
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::{
    fixtures::{field_errors, member, ok},
    helpers::{code, TestApp},
    workflows::{
        admin, app_for, configure, create_workflow, events, fake_n8n, nodes, FakeN8n, N8N_KEY,
    },
};

const EXECUTE: &str =
    "mutation($id: ID!, $in: JSON) { executeWorkflow(id: $id, input: $in) { id status retryOf } }";
const EXECUTIONS: &str = "query($id: ID!) { workflowExecutions(workflowId: $id, first: 20) { nodes { id status input error finishedAt remoteExecutionId durationMs retryOf } } }";
const RETRY: &str =
    "mutation($id: ID!) { retryWorkflowExecution(id: $id) { id status input retryOf error } }";
const STATS: &str = "query($r: DateRangeInput, $w: ID) { workflowStats(range: $r, workflowId: $w) { total running succeeded failed successRate meanDurationMs } }";
const VALIDATE: &str =
    "query($d: JSON!) { validateWorkflow(definition: $d) { valid nodeCount triggerNodes } }";

/// An active workflow on the fake with a POST webhook trigger on `path`: its registry id.
pub(crate) async fn active_workflow(
    app: &TestApp,
    token: &str,
    who: &crate::fixtures::Person,
    path: &str,
) -> String {
    let w = create_workflow(app, who, &format!("Flow {path}"), Some(path)).await;
    let id = w["id"].as_str().unwrap().to_string();
    ok(
        app,
        token,
        "mutation($id: ID!) { activateWorkflow(id: $id) { active } }",
        json!({"id": id}),
    )
    .await;
    id
}

/// The executions of workflow `id`, newest first.
pub(crate) async fn executions(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    ok(app, token, EXECUTIONS, json!({"id": id})).await["workflowExecutions"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (up to 20 s) until execution `exec` of workflow `id` satisfies `f`.
pub(crate) async fn wait_for(
    app: &TestApp,
    token: &str,
    id: &str,
    exec: &str,
    f: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        let all = executions(app, token, id).await;
        if let Some(e) = all.iter().find(|e| e["id"] == exec).filter(|e| f(e)) {
            return e.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "execution {exec} never matched: {:?}",
        executions(app, token, id).await
    );
}

/// Executes workflow `id`; the execution id.
pub(crate) async fn execute(app: &TestApp, token: &str, id: &str, input: Value) -> String {
    let v = ok(app, token, EXECUTE, json!({"id": id, "in": input})).await;
    assert_eq!(v["executeWorkflow"]["status"], "RUNNING", "{v}");
    v["executeWorkflow"]["id"].as_str().unwrap().to_string()
}

fn remote(e: &Value) -> u64 {
    e["remoteExecutionId"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn polling_records_success_and_failure_once_with_their_events() {
    let (fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    configure(&app, &ada, &base, N8N_KEY).await;
    ok(
        &app,
        &ada.token,
        "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
        json!({"i": {"url": format!("{base}/sink"), "eventTypes": ["WORKFLOW_COMPLETED", "WORKFLOW_FAILED"]}}),
    )
    .await;
    let id = active_workflow(&app, &ada.token, &ada, "runs").await;
    let mia = member(&app, org, Role::Member, "Mia").await;

    // Success: the poll finds n8n's execution while it runs and keeps RUNNING.
    let first = execute(&app, &mia.token, &id, json!({"n": 1})).await;
    let e = wait_for(&app, &mia.token, &id, &first, |e| {
        e["remoteExecutionId"].is_string()
    })
    .await;
    assert_eq!(e["status"], "RUNNING");
    assert_eq!(vec![remote(&e)], fake.execution_ids());
    assert!(fake.calls("GET /executions") >= 1);
    fake.finish(remote(&e), "success", None, 1500);
    let e = wait_for(&app, &mia.token, &id, &first, |e| e["status"] != "RUNNING").await;
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["durationMs"], 1500);
    assert!(e["finishedAt"].is_string() && e["error"].is_null());

    // Failure: a second execution claims the other n8n execution, and n8n's error is kept.
    let second = execute(&app, &mia.token, &id, json!({"n": 2})).await;
    let e2 = wait_for(&app, &mia.token, &id, &second, |e| {
        e["remoteExecutionId"].is_string()
    })
    .await;
    assert_ne!(
        remote(&e2),
        remote(&e),
        "two rows claimed one n8n execution"
    );
    fake.finish(
        remote(&e2),
        "error",
        Some("Slack node: channel_not_found"),
        400,
    );
    let e2 = wait_for(&app, &mia.token, &id, &second, |e| e["status"] != "RUNNING").await;
    assert_eq!(e2["status"], "FAILED");
    assert_eq!(e2["error"], "Slack node: channel_not_found");

    let done = events(&app, org, "workflow.completed").await;
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0]["executionId"].as_str(), done[0]["status"].as_str()),
        (Some(first.as_str()), Some("SUCCEEDED"))
    );
    assert_eq!(done[0]["durationMs"], 1500);
    let failed = events(&app, org, "workflow.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["error"], "Slack node: channel_not_found");
    assert_eq!(failed[0]["remoteExecutionId"], e2["remoteExecutionId"]);

    // A repeated poll job of a finished execution records nothing and calls nothing.
    let gets = fake.calls("GET /executions/{id}");
    let uuid = uuid::Uuid::parse_str(&first).unwrap();
    let job = queue::enqueue(
        &app.state.db,
        NewJob::new("workflow.poll", json!({"executionId": uuid, "round": 3})),
    )
    .await
    .unwrap();
    let mut result = Value::Null;
    for _ in 0..100 {
        let j = entity::job::Entity::find_by_id(job.id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        if j.state == "succeeded" {
            result = j.result.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(result, json!({"already": "SUCCEEDED"}));
    assert_eq!(fake.calls("GET /executions/{id}"), gets);
    assert_eq!(events(&app, org, "workflow.completed").await.len(), 1);

    // Both events went to the outgoing webhook endpoint subscribed to them.
    let delivered = entity::webhook_delivery::Entity::find()
        .filter(entity::webhook_delivery::Column::OrgId.eq(org))
        .filter(
            entity::webhook_delivery::Column::EventType
                .is_in(["workflow.completed", "workflow.failed"]),
        )
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(delivered, 2);

    // Stats over the executions: one each, half succeeded, the mean of n8n's durations.
    let now = chrono::Utc::now();
    let range = json!({"from": (now - chrono::Duration::hours(1)).to_rfc3339(), "to": (now + chrono::Duration::hours(1)).to_rfc3339()});
    let s = ok(&app, &mia.token, STATS, json!({"r": range, "w": id})).await;
    assert_eq!(
        s["workflowStats"],
        json!({"total": 2, "running": 0, "succeeded": 1, "failed": 1, "successRate": 0.5, "meanDurationMs": 950.0})
    );
    // A range that excludes them counts none.
    let past = json!({"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"});
    let s = ok(&app, &mia.token, STATS, json!({"r": past})).await;
    assert_eq!(s["workflowStats"]["total"], 0);
    assert!(s["workflowStats"]["successRate"].is_null());
    assert_eq!(fake.0.lock().unwrap().refused, 0);
}

/// Deactivates the workflow in the fake only, so its trigger 404s.
fn unplug(fake: &FakeN8n) {
    for w in fake.0.lock().unwrap().workflows.values_mut() {
        w["active"] = json!(false);
    }
}

#[tokio::test]
async fn retry_only_failed_executions_in_the_viewers_organization() {
    let (fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    configure(&app, &ada, &base, N8N_KEY).await;
    let id = active_workflow(&app, &ada.token, &ada, "again").await;
    let mia = member(&app, org, Role::Member, "Mia").await;

    unplug(&fake);
    let v = ok(
        &app,
        &mia.token,
        EXECUTE,
        json!({"id": id, "in": {"lead": 7}}),
    )
    .await;
    assert_eq!(v["executeWorkflow"]["status"], "FAILED");
    let failed = v["executeWorkflow"]["id"].as_str().unwrap().to_string();

    // Still unplugged: the retry is recorded FAILED too, naming the first.
    let r =
        ok(&app, &mia.token, RETRY, json!({"id": failed})).await["retryWorkflowExecution"].clone();
    assert_eq!(
        (r["status"].as_str(), r["retryOf"].as_str()),
        (Some("FAILED"), Some(failed.as_str()))
    );
    assert_eq!(r["input"], json!({"lead": 7}));

    // Plugged back in: the retry runs with the same input.
    fake.0
        .lock()
        .unwrap()
        .workflows
        .values_mut()
        .for_each(|w| w["active"] = json!(true));
    let r =
        ok(&app, &mia.token, RETRY, json!({"id": failed})).await["retryWorkflowExecution"].clone();
    assert_eq!(r["status"], "RUNNING", "{r}");
    assert_eq!(r["retryOf"], failed.as_str());
    let posted = fake.0.lock().unwrap().triggered.clone();
    assert_eq!(posted, vec![("again".to_string(), json!({"lead": 7}))]);
    assert_eq!(events(&app, org, "workflow.started").await.len(), 1);

    // A RUNNING execution cannot be retried.
    let v = app
        .gql(Some(&mia.token), RETRY, json!({"id": r["id"]}))
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");

    // Another organization, a viewer, no credentials, a malformed id.
    let (_, eve) = admin(&app).await;
    let v = app
        .gql(Some(&eve.token), RETRY, json!({"id": failed}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let vic = member(&app, org, Role::Viewer, "Vic").await;
    let v = app
        .gql(Some(&vic.token), RETRY, json!({"id": failed}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(None, RETRY, json!({"id": failed})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app
        .gql(Some(&mia.token), RETRY, json!({"id": "nope"}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    assert_eq!(executions(&app, &mia.token, &id).await.len(), 3);
}

#[tokio::test]
async fn stats_are_scoped_validated_and_guarded() {
    let (_fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    configure(&app, &ada, &base, N8N_KEY).await;
    let id = active_workflow(&app, &ada.token, &ada, "counted").await;
    execute(&app, &ada.token, &id, json!({})).await;

    let s = ok(&app, &ada.token, STATS, json!({})).await;
    assert_eq!(s["workflowStats"]["total"], 1);
    assert_eq!(s["workflowStats"]["running"], 1);
    // Another organization: its stats do not count ours; our workflow is NOT_FOUND to it.
    let (_, eve) = admin(&app).await;
    let s = ok(&app, &eve.token, STATS, json!({})).await;
    assert_eq!(s["workflowStats"]["total"], 0);
    let v = app.gql(Some(&eve.token), STATS, json!({"w": id})).await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    // A backwards range.
    let bad = json!({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"});
    let v = app.gql(Some(&ada.token), STATS, json!({"r": bad})).await;
    assert_eq!(field_errors(&v), ["range.to"]);
    let vic = member(&app, org, Role::Viewer, "Vic").await;
    let v = app.gql(Some(&vic.token), STATS, json!({})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(None, STATS, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
}

#[tokio::test]
async fn validate_workflow_names_every_structural_problem() {
    let app = TestApp::spawn().await;
    let (org, _ada) = admin(&app).await;
    let mia = member(&app, org, Role::Member, "Mia").await;

    let good = json!({"nodes": nodes(Some("in")), "connections": {
        "Webhook": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}}});
    let v = ok(&app, &mia.token, VALIDATE, json!({"d": good})).await;
    assert_eq!(
        v["validateWorkflow"],
        json!({"valid": true, "nodeCount": 2, "triggerNodes": ["Webhook"]})
    );

    // No trigger, a duplicate name, a connection from and to nodes that do not exist.
    let mut n = nodes(None);
    let dup = n[0].clone();
    n.as_array_mut().unwrap().push(dup);
    let bad = json!({"nodes": n, "connections": {
        "Set": {"main": [[{"node": "Ghost", "type": "main", "index": 0}]]},
        "Nowhere": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}}});
    let v = app.gql(Some(&mia.token), VALIDATE, json!({"d": bad})).await;
    let mut fields = field_errors(&v);
    fields.sort();
    assert_eq!(
        fields,
        [
            "definition.connections.Nowhere",
            "definition.connections.Set.main[0][0].node",
            "definition.nodes",
            "definition.nodes[1].name",
        ]
    );
    // Not a definition at all.
    let v = app
        .gql(Some(&mia.token), VALIDATE, json!({"d": [1, 2]}))
        .await;
    assert_eq!(field_errors(&v), ["definition"]);
    let v = app
        .gql(
            Some(&mia.token),
            VALIDATE,
            json!({"d": {"nodes": [{"name": "x"}], "connections": {}}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["definition"]);

    // Roles and credentials: nothing is saved or sent, but a viewer may not probe it either.
    let vic = member(&app, org, Role::Viewer, "Vic").await;
    let v = app
        .gql(Some(&vic.token), VALIDATE, json!({"d": good}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(None, VALIDATE, json!({"d": good})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    assert_eq!(
        entity::workflow::Entity::find()
            .filter(entity::workflow::Column::OrgId.eq(org))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}
