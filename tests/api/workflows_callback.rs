//! The signed WORKFLOW_COMPLETE callback against the local fake n8n: an incoming hook of kind
//! WORKFLOW_COMPLETE, signed per the Standard Webhooks spec (signed here with the
//! `hmac`/`sha2`/`base64` crates, not the server's code), marks an execution finished with
//! `workflow.completed` / `workflow.failed`, once: a second callback, a replayed one and the
//! poll job racing it record nothing more. A bad signature, a stale timestamp, a body naming
//! no execution and another organization's execution are refused and change nothing.

use std::time::Duration;

use leadgraph::jobs::{queue, NewJob};
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{ok, Person},
    helpers::TestApp,
    webhooks_incoming::{post, signature, signed},
    workflows::{admin, app_for, configure, events, fake_n8n, N8N_KEY},
    workflows_runs::{active_workflow, execute, executions, wait_for},
};

const CREATE: &str = "mutation($i: CreateIncomingWebhookInput!) { createIncomingWebhook(input: $i) { secret hook { id kind url } } }";

/// A WORKFLOW_COMPLETE hook of `who`'s organization: (path of its URL, secret).
async fn callback_hook(app: &TestApp, who: &Person) -> (String, String) {
    let v = ok(
        app,
        &who.token,
        CREATE,
        json!({"i": {"name": "n8n done", "kind": "WORKFLOW_COMPLETE"}}),
    )
    .await;
    let p = &v["createIncomingWebhook"];
    assert_eq!(p["hook"]["kind"], "WORKFLOW_COMPLETE");
    let id = p["hook"]["id"].as_str().unwrap();
    (
        format!("/hooks/in/{id}"),
        p["secret"].as_str().unwrap().to_string(),
    )
}

/// Execution `exec` of workflow `wf` as `workflowExecutions` shows it.
async fn state_of(app: &TestApp, who: &Person, wf: &str, exec: &str) -> Value {
    executions(app, &who.token, wf)
        .await
        .into_iter()
        .find(|e| e["id"] == exec)
        .unwrap()
}

#[tokio::test]
async fn a_signed_callback_records_the_execution_once_with_its_event() {
    let (fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    configure(&app, &ada, &base, N8N_KEY).await;
    let wf = active_workflow(&app, &ada.token, &ada, "done").await;
    let (path, secret) = callback_hook(&app, &ada).await;

    // The trigger was told our execution id, as a workflow's last node would send it back.
    let exec = execute(&app, &ada.token, &wf, json!({"n": 1})).await;
    let told = fake.0.lock().unwrap().leadgraph_ids.clone();
    assert_eq!(told, vec![exec.clone()]);
    let body = json!({"executionId": told[0], "status": "success",
        "startedAt": "2026-12-06T10:00:00.000Z", "stoppedAt": "2026-12-06T10:00:01.250Z"});
    let (status, v) = signed(&app, &path, &secret, &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"executionId": exec, "status": "SUCCEEDED", "recorded": true})
    );
    let e = state_of(&app, &ada, &wf, &exec).await;
    assert_eq!(
        (e["status"].as_str(), e["durationMs"].as_i64()),
        (Some("SUCCEEDED"), Some(1250))
    );
    assert_eq!(e["finishedAt"], "2026-12-06T10:00:01.250+00:00");
    let done = events(&app, org, "workflow.completed").await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["executionId"], exec.as_str());

    // Reported again (a fresh message): answered, not recorded twice; a failure report cannot
    // overturn it either.
    let again = json!({"executionId": exec, "status": "error", "error": "late"});
    let (status, v) = signed(&app, &path, &secret, &again).await;
    assert_eq!((status, v["recorded"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(events(&app, org, "workflow.completed").await.len(), 1);
    assert!(events(&app, org, "workflow.failed").await.is_empty());

    // A failure named by n8n's own execution id once the poll claimed it.
    let second = execute(&app, &ada.token, &wf, json!({"n": 2})).await;
    let e = wait_for(&app, &ada.token, &wf, &second, |e| {
        e["remoteExecutionId"].is_string()
    })
    .await;
    let body = json!({"n8nExecutionId": e["remoteExecutionId"], "status": "error",
        "error": {"message": "HTTP Request node: 500"}});
    let (status, v) = signed(&app, &path, &secret, &body).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("FAILED")), "{v}");
    let e = state_of(&app, &ada, &wf, &second).await;
    assert_eq!(e["error"], "HTTP Request node: 500");
    let failed = events(&app, org, "workflow.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["executionId"], second.as_str());
}

#[tokio::test]
async fn refused_callbacks_change_nothing() {
    let (_fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    configure(&app, &ada, &base, N8N_KEY).await;
    let wf = active_workflow(&app, &ada.token, &ada, "guarded").await;
    let (path, secret) = callback_hook(&app, &ada).await;
    let exec = execute(&app, &ada.token, &wf, json!({})).await;
    let body = json!({"executionId": exec, "status": "success"}).to_string();
    let now = chrono::Utc::now().timestamp();
    let send = |id: &str, ts: i64, sig: String, body: String| {
        let (app, path) = (&app, path.clone());
        let id = id.to_string();
        async move {
            post(
                app,
                &path,
                [Some(id), Some(ts.to_string()), Some(sig)],
                body.as_bytes(),
            )
            .await
        }
    };

    // Signed with another secret; a tampered body; a stale timestamp.
    let (_, other_secret) = callback_hook(&app, &ada).await;
    let sig = signature(&other_secret, "msg_a", now, body.as_bytes());
    let (status, v) = send("msg_a", now, sig, body.clone()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("BAD_SIGNATURE"))
    );
    let sig = signature(&secret, "msg_b", now, body.as_bytes());
    let tampered = body.replace("success", "error");
    let (status, _) = send("msg_b", now, sig, tampered).await;
    assert_eq!(status, 401);
    let old = now - 6 * 60;
    let sig = signature(&secret, "msg_c", old, body.as_bytes());
    let (status, v) = send("msg_c", old, sig, body.clone()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("TIMESTAMP_OUT_OF_TOLERANCE"))
    );

    // A body that names no execution, or a status that is not an end.
    let (status, v) = signed(&app, &path, &secret, &json!({"status": "running"})).await;
    assert_eq!(status, 400, "{v}");
    let mut fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["executionId", "status"]);
    let (status, _) = signed(
        &app,
        &path,
        &secret,
        &json!({"executionId": Uuid::now_v7(), "status": "success"}),
    )
    .await;
    assert_eq!(status, 404);

    // Another organization's hook, correctly signed, naming our execution: missing to it.
    let (_, eve) = admin(&app).await;
    let (eve_path, eve_secret) = callback_hook(&app, &eve).await;
    let (status, v) = signed(
        &app,
        &eve_path,
        &eve_secret,
        &json!({"executionId": exec, "status": "success"}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{v}"
    );

    let e = state_of(&app, &ada, &wf, &exec).await;
    assert_eq!(e["status"], "RUNNING");
    assert!(events(&app, org, "workflow.completed").await.is_empty());

    // The same message twice: the second is a replay, refused even though the first worked.
    let sig = signature(&secret, "msg_once", now, body.as_bytes());
    let (status, v) = send("msg_once", now, sig.clone(), body.clone()).await;
    assert_eq!((status, v["recorded"].as_bool()), (200, Some(true)), "{v}");
    let (status, v) = send("msg_once", now, sig, body.clone()).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("REPLAYED"))
    );
    assert_eq!(events(&app, org, "workflow.completed").await.len(), 1);
}

/// The result of job `id` once it succeeded.
async fn job_result(app: &TestApp, id: Uuid) -> Value {
    for _ in 0..200 {
        let j = entity::job::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        if j.state == "succeeded" {
            return j.result.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never succeeded");
}

#[tokio::test]
async fn callbacks_racing_the_poll_record_the_completion_once() {
    let (fake, base) = fake_n8n().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    configure(&app, &ada, &base, N8N_KEY).await;
    let wf = active_workflow(&app, &ada.token, &ada, "race").await;
    let (path, secret) = callback_hook(&app, &ada).await;
    let exec = execute(&app, &ada.token, &wf, json!({})).await;
    let e = wait_for(&app, &ada.token, &wf, &exec, |e| {
        e["remoteExecutionId"].is_string()
    })
    .await;
    let remote: u64 = e["remoteExecutionId"].as_str().unwrap().parse().unwrap();

    // n8n finishes; a poll round and four callbacks (distinct messages) arrive at once.
    fake.finish(remote, "success", None, 700);
    let uuid = Uuid::parse_str(&exec).unwrap();
    let body = json!({"executionId": exec, "status": "success"});
    let (job, answers) = tokio::join!(
        queue::enqueue(
            &app.state.db,
            NewJob::new("workflow.poll", json!({"executionId": uuid, "round": 7})),
        ),
        futures::future::join_all((0..4).map(|_| signed(&app, &path, &secret, &body))),
    );
    app.state.jobs_enqueued();
    let polled = job_result(&app, job.unwrap().id).await;
    let mut recorded = usize::from(polled["recorded"] == true);
    for (status, v) in &answers {
        assert_eq!(
            (*status, v["status"].as_str()),
            (200, Some("SUCCEEDED")),
            "{v}"
        );
        recorded += usize::from(v["recorded"] == true);
    }
    assert!(
        recorded <= 1,
        "recorded {recorded} times: {polled} {answers:?}"
    );
    assert_eq!(events(&app, org, "workflow.completed").await.len(), 1);
    assert_eq!(
        state_of(&app, &ada, &wf, &exec).await["status"],
        "SUCCEEDED"
    );
}
