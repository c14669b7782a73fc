//! Files, part 2: identical bytes stored once per organization (kept while a file uses them,
//! removed with the last, race-free under concurrent uploads), `deleteFile` refused while an
//! unfinished import job reads the file (unless `force`), `importLeads(fileId)` run by the
//! worker of another instance over the same database and storage, and `uploadFiles` (all or
//! nothing). Storage-dependent parts run on the local backend and on moto's S3 server.

use std::time::Duration;

use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    files::{
        download_url, get, moto, pdf, png, stored_keys, upload, uploaded, Moto, DELETE, EXE, ONE,
    },
    fixtures::{field_errors, member, ok, org_named},
    helpers::{code, Options, TestApp},
};

const DELETE_FORCE: &str = "mutation($id: ID!) { deleteFile(id: $id, force: true) }";
const IMPORT: &str =
    "mutation($id: ID) { importLeads(fileId: $id, onConflict: SKIP) { id state } }";
const UPLOAD_MANY: &str = "mutation($kind: FileKind!, $files: [Upload!]!) { uploadFiles(input: {kind: $kind, files: $files}) { id name sha256 } }";

/// The storage settings of a backend: a shared local directory, or a moto bucket.
async fn storage_env(s3: Option<&Moto>, bucket: &str) -> Vec<(String, String)> {
    match s3 {
        None => {
            let dir = std::env::temp_dir().join(format!("lg-shared-{}", Uuid::now_v7().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            vec![(
                "STORAGE_URL".into(),
                url::Url::from_directory_path(&dir).unwrap().to_string(),
            )]
        }
        Some(m) => {
            reqwest::Client::new()
                .put(format!("{}/{bucket}", m.endpoint))
                .send()
                .await
                .unwrap();
            vec![
                (
                    "STORAGE_URL".into(),
                    format!("s3://{bucket}?endpoint={}&region=us-east-1", m.endpoint),
                ),
                ("AWS_ACCESS_KEY_ID".into(), "lg-test".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "lg-test-secret".into()),
            ]
        }
    }
}

fn options(env: &[(String, String)], extra: &[(&str, &str)], db: Option<String>) -> Options {
    let mut o = Options::with_env(extra);
    o.env
        .extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    o.db_url = db;
    o
}

async fn blobs(app: &TestApp, org: Uuid) -> Vec<entity::file_blob::Model> {
    entity::file_blob::Entity::find()
        .filter(entity::file_blob::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// Two uploads of the same bytes share one object; deleting one keeps it, deleting the last
/// removes it; another organization's identical bytes are its own object; concurrent first
/// uploads of new bytes meet on one object.
async fn dedupe(app: &TestApp) {
    let (acme, globex) = (org_named(app, "Acme").await, org_named(app, "Globex").await);
    let mel = member(app, acme, Role::Member, "Mel").await;
    let max = member(app, acme, Role::Member, "Max").await;
    let gus = member(app, globex, Role::Member, "Gus").await;
    let bytes = pdf(300 * 1024);
    let a = uploaded(app, &mel.token, "ATTACHMENT", "a.pdf", bytes.clone()).await;
    let b = uploaded(app, &max.token, "ATTACHMENT", "copy.pdf", bytes.clone()).await;
    assert_ne!(a["id"], b["id"], "two files");
    assert_eq!(a["sha256"], b["sha256"]);
    assert_eq!(stored_keys(app).await.len(), 1, "one object");
    let g = uploaded(app, &gus.token, "ATTACHMENT", "g.pdf", bytes.clone()).await;
    assert_eq!(stored_keys(app).await.len(), 2, "per organization");
    assert_eq!(blobs(app, acme).await[0].ref_count, 2);

    ok(app, &mel.token, DELETE, json!({"id": a["id"]})).await;
    assert_eq!(stored_keys(app).await.len(), 2, "b still uses the bytes");
    assert_eq!(blobs(app, acme).await[0].ref_count, 1);
    let url = download_url(app, &max.token, b["id"].as_str().unwrap()).await;
    assert_eq!(get(app, &url, None).await.bytes().await.unwrap(), bytes);
    ok(app, &max.token, DELETE, json!({"id": b["id"]})).await;
    assert!(blobs(app, acme).await.is_empty());
    let keys = stored_keys(app).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].contains(&globex.simple().to_string()), "{keys:?}");
    let url = download_url(app, &gus.token, g["id"].as_str().unwrap()).await;
    assert_eq!(get(app, &url, None).await.status(), 200);

    // Five concurrent first uploads of new bytes: one object, five references.
    let fresh = png(64 * 1024);
    let ups = (0..5).map(|i| {
        let (t, f) = (mel.token.clone(), fresh.clone());
        async move { uploaded(app, &t, "ATTACHMENT", &format!("p{i}.png"), f).await }
    });
    let made = futures::future::join_all(ups).await;
    assert_eq!(made.len(), 5);
    let acme_blobs = blobs(app, acme).await;
    assert_eq!(acme_blobs.len(), 1);
    assert_eq!(acme_blobs[0].ref_count, 5);
    assert_eq!(stored_keys(app).await.len(), 2);
    // After all are gone, the same bytes again make a new object under a new key.
    for f in &made {
        ok(app, &mel.token, DELETE, json!({"id": f["id"]})).await;
    }
    assert_eq!(stored_keys(app).await.len(), 1);
    uploaded(app, &mel.token, "ATTACHMENT", "again.png", fresh).await;
    let again = blobs(app, acme).await;
    assert_ne!(again[0].storage_key, acme_blobs[0].storage_key);
    assert_eq!(stored_keys(app).await.len(), 2);
}

#[tokio::test]
async fn identical_bytes_are_stored_once_on_local_storage() {
    dedupe(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn identical_bytes_are_stored_once_on_s3_compatible_storage() {
    let Some(s3) = moto("lg-dedupe").await else {
        return;
    };
    let env = storage_env(Some(&s3), "lg-dedupe").await;
    dedupe(&TestApp::spawn_with(options(&env, &[], None)).await).await;
}

/// Polls `job(id)` on `app` until `worker`'s worker ends it; its state and result.
async fn finished(app: &TestApp, worker: &TestApp, token: &str, id: &str) -> (String, Value) {
    for _ in 0..600 {
        worker.state.jobs_enqueued();
        let v = ok(
            app,
            token,
            "query($id: ID!) { job(id: $id) { state result lastError } }",
            json!({ "id": id }),
        )
        .await;
        let state = v["job"]["state"].as_str().unwrap_or_default().to_string();
        if state == "SUCCEEDED" || state == "FAILED" {
            return (state, v["job"].clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} did not finish");
}

/// Instance A (no worker) takes the uploads and enqueues the imports; while they wait, the
/// files are refused deletion (CONFLICT) unless forced; instance B (same database, same
/// storage) runs them.
async fn import_on_another_instance(s3: Option<&Moto>, bucket: &str) {
    let env = storage_env(s3, bucket).await;
    let a = TestApp::spawn_with(options(&env, &[("WORKER_ENABLED", "false")], None)).await;
    let org = org_named(&a, "Acme Imports").await;
    let mel = member(&a, org, Role::Manager, "Mel").await;
    let csv = "First Name,Email,Company\nAda,ada@x.io,Acme\nBob,bob@x.io,Bee\n";
    let f1 = uploaded(
        &a,
        &mel.token,
        "IMPORT",
        "leads.csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    let f2 = uploaded(
        &a,
        &mel.token,
        "IMPORT",
        "more.csv",
        b"Email\ncy@x.io\n".to_vec(),
    )
    .await;
    let job1 = ok(&a, &mel.token, IMPORT, json!({"id": f1["id"]})).await["importLeads"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job2 = ok(&a, &mel.token, IMPORT, json!({"id": f2["id"]})).await["importLeads"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for f in [&f1, &f2] {
        let v = a
            .gql(Some(&mel.token), DELETE, json!({"id": f["id"]}))
            .await;
        assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    }
    let v = ok(&a, &mel.token, ONE, json!({"id": f1["id"]})).await;
    assert_eq!(
        v["file"]["id"], f1["id"],
        "a refused delete changes nothing"
    );
    ok(&a, &mel.token, DELETE_FORCE, json!({"id": f2["id"]})).await;

    // B has its own DATA_DIR (and signing secret): it is asked nothing, its worker runs the jobs.
    let b = TestApp::spawn_with(options(&env, &[], Some(a.db_url.clone()))).await;
    let (state, job) = finished(&a, &b, &mel.token, &job1).await;
    assert_eq!(state, "SUCCEEDED", "{job}");
    assert_eq!(job["result"]["imported"], 2, "{job}");
    let (state, job) = finished(&a, &b, &mel.token, &job2).await;
    assert_eq!(state, "FAILED", "its file was deleted: {job}");
    let leads = entity::lead::Entity::find()
        .filter(entity::lead::Column::OrgId.eq(org))
        .all(&a.state.db)
        .await
        .unwrap();
    let mut emails: Vec<_> = leads.iter().filter_map(|l| l.email.clone()).collect();
    emails.sort();
    assert_eq!(emails, ["ada@x.io", "bob@x.io"]);
    // The import is over: the file may go, and its bytes with it.
    ok(&a, &mel.token, DELETE, json!({"id": f1["id"]})).await;
    assert!(stored_keys(&a).await.is_empty());
}

#[tokio::test]
async fn an_import_uploaded_on_one_instance_runs_on_another_over_local_storage() {
    import_on_another_instance(None, "").await;
}

#[tokio::test]
async fn an_import_uploaded_on_one_instance_runs_on_another_over_s3_compatible_storage() {
    let Some(s3) = moto("lg-imports").await else {
        return;
    };
    import_on_another_instance(Some(&s3), "lg-imports").await;
}

#[tokio::test]
async fn import_by_file_id_checks_its_file_and_its_caller() {
    let app = TestApp::spawn_with(Options::with_env(&[("WORKER_ENABLED", "false")])).await;
    let (acme, globex) = (
        org_named(&app, "Acme").await,
        org_named(&app, "Globex").await,
    );
    let mel = member(&app, acme, Role::Member, "Mel").await;
    let gus = member(&app, globex, Role::Member, "Gus").await;
    let csv = uploaded(
        &app,
        &mel.token,
        "IMPORT",
        "l.csv",
        b"Email\na@x.io\n".to_vec(),
    )
    .await;
    let pic = uploaded(&app, &mel.token, "ATTACHMENT", "a.png", png(500)).await;
    let v = app.gql(None, IMPORT, json!({"id": csv["id"]})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app
        .gql(Some(&gus.token), IMPORT, json!({"id": csv["id"]}))
        .await;
    assert_eq!(
        code(&v),
        Some("NOT_FOUND"),
        "another organization's file: {v}"
    );
    let v = app
        .gql(Some(&mel.token), IMPORT, json!({"id": pic["id"]}))
        .await;
    assert_eq!(field_errors(&v), ["fileId"], "not an IMPORT file: {v}");
    let v = app.gql(Some(&mel.token), IMPORT, json!({"id": null})).await;
    assert_eq!(field_errors(&v), ["fileId"], "neither file nor fileId: {v}");
    let v = app
        .gql(Some(&mel.token), IMPORT, json!({"id": "nope"}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    // A file used by another organization's job is not Globex's concern: Gus's own files
    // delete freely, and Mel's job holds only Mel's file.
    ok(&app, &mel.token, IMPORT, json!({"id": csv["id"]})).await;
    let theirs = uploaded(
        &app,
        &gus.token,
        "IMPORT",
        "l.csv",
        b"Email\na@x.io\n".to_vec(),
    )
    .await;
    ok(&app, &gus.token, DELETE, json!({"id": theirs["id"]})).await;
    let v = app
        .gql(Some(&mel.token), DELETE, json!({"id": csv["id"]}))
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    // Deleted files cannot be imported.
    ok(&app, &mel.token, DELETE, json!({"id": pic["id"]})).await;
    let v = app
        .gql(Some(&mel.token), IMPORT, json!({"id": pic["id"]}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
}

/// `uploadFiles` as a GraphQL multipart request of `files` (name, bytes).
pub(crate) async fn upload_many(
    app: &TestApp,
    token: Option<&str>,
    kind: &str,
    files: Vec<(&str, Vec<u8>)>,
) -> (u16, Value) {
    let nulls: Vec<Value> = files.iter().map(|_| Value::Null).collect();
    let ops = json!({"query": UPLOAD_MANY, "variables": {"kind": kind, "files": nulls}});
    let map: serde_json::Map<String, Value> = (0..files.len())
        .map(|i| (i.to_string(), json!([format!("variables.files.{i}")])))
        .collect();
    let mut form = reqwest::multipart::Form::new()
        .text("operations", ops.to_string())
        .text("map", Value::Object(map).to_string());
    for (i, (name, bytes)) in files.into_iter().enumerate() {
        form = form.part(
            i.to_string(),
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        );
    }
    let mut req = app
        .http
        .post(app.url("/graphql"))
        .header("apollo-require-preflight", "true")
        .multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn file_rows(app: &TestApp, org: Uuid) -> usize {
    entity::file::Entity::find()
        .filter(entity::file::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn upload_files_stores_all_of_them_or_none() {
    let app = TestApp::spawn_with(Options::with_env(&[("MAX_UPLOAD_FILES", "12")])).await;
    let org = org_named(&app, "Acme Files").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let (status, v) = upload_many(
        &app,
        Some(&mel.token),
        "ATTACHMENT",
        vec![
            ("a.pdf", pdf(2000)),
            ("b.png", png(3000)),
            ("same-as-a.pdf", pdf(2000)),
        ],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let got = v["data"]["uploadFiles"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    let names: Vec<&str> = got.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["a.pdf", "b.png", "same-as-a.pdf"],
        "in the order given"
    );
    assert_eq!(got[0]["sha256"], got[2]["sha256"]);
    assert_eq!(stored_keys(&app).await.len(), 2, "identical bytes once");
    let events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("file.uploaded"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 3);

    // One bad file refuses the call before a byte is stored.
    let (_, v) = upload_many(
        &app,
        Some(&mel.token),
        "ATTACHMENT",
        vec![("ok.pdf", pdf(900)), ("evil.pdf", EXE.to_vec())],
    )
    .await;
    assert_eq!(field_errors(&v), ["input.files.1"], "{v}");
    assert!(v["data"].is_null(), "{v}");
    let eleven: Vec<(&str, Vec<u8>)> = (0..11).map(|i| ("f.pdf", pdf(100 + i))).collect();
    let (_, v) = upload_many(&app, Some(&mel.token), "ATTACHMENT", eleven).await;
    assert_eq!(field_errors(&v), ["input.files"], "{v}");
    let (_, v) = upload_many(&app, Some(&mel.token), "ATTACHMENT", vec![]).await;
    assert_eq!(field_errors(&v), ["input.files"], "{v}");
    assert_eq!(stored_keys(&app).await.len(), 2);
    assert_eq!(file_rows(&app, org).await, 3);

    // Anonymous: refused before the body; a viewer may not upload.
    let (status, v) = upload_many(&app, None, "ATTACHMENT", vec![("a.pdf", pdf(100))]).await;
    assert_eq!(status, 401, "{v}");
    let vic = member(&app, org, Role::Viewer, "Vic").await;
    let (status, _) = upload_many(
        &app,
        Some(&vic.token),
        "ATTACHMENT",
        vec![("a.pdf", pdf(100))],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(file_rows(&app, org).await, 3);
    // Another organization does not see them.
    let other = org_named(&app, "Globex").await;
    let gus = member(&app, other, Role::Owner, "Gus").await;
    let v = ok(&app, &gus.token, ONE, json!({"id": got[0]["id"]})).await;
    assert!(v["file"].is_null());
    // The single upload shares the dedupe: a fourth copy of a.pdf adds no object.
    let (status, _) = upload(&app, &mel.token, "ATTACHMENT", "d.pdf", pdf(2000)).await;
    assert_eq!(status, 200);
    assert_eq!(stored_keys(&app).await.len(), 2);
}
