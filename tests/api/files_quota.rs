//! Storage quotas: `storageUsage` and QUOTA_EXCEEDED. Usage counts the bytes actually stored
//! (identical files once); a refused upload stores nothing; a delete gives its bytes back;
//! concurrent uploads cannot both pass the limit; other organizations are unaffected.

use leadgraph::auth::Role;
use serde_json::{json, Value};

use crate::{
    files::{pdf, png, stored_keys, upload, uploaded, DELETE},
    fixtures::{member, ok, org_named},
    helpers::{code, Options, TestApp},
};

const USAGE: &str = "{ storageUsage { bytesUsed limitBytes fileCount } }";

/// The quota every organization of these tests has.
const LIMIT: i64 = 10_000;

async fn app() -> TestApp {
    TestApp::spawn_with(Options::with_env(&[(
        "STORAGE_QUOTA_BYTES",
        &LIMIT.to_string(),
    )]))
    .await
}

async fn usage(app: &TestApp, token: &str) -> (i64, i64, i64) {
    let u = ok(app, token, USAGE, json!({})).await["storageUsage"].clone();
    let n = |k: &str| u[k].as_i64().unwrap_or_else(|| panic!("{k}: {u}"));
    (n("bytesUsed"), n("limitBytes"), n("fileCount"))
}

fn quota_error(v: &Value) -> (i64, i64) {
    assert_eq!(code(v), Some("QUOTA_EXCEEDED"), "{v}");
    let ext = &v["errors"][0]["extensions"];
    (
        ext["used"].as_i64().unwrap(),
        ext["limit"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn uploads_past_the_quota_are_refused_and_deletes_free_their_bytes() {
    let app = app().await;
    let org = org_named(&app, "Quota Co").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    assert_eq!(usage(&app, &mel.token).await, (0, LIMIT, 0));

    let a = uploaded(&app, &mel.token, "ATTACHMENT", "a.png", png(6_000)).await;
    assert_eq!(usage(&app, &mel.token).await, (6_000, LIMIT, 1));

    // 6 000 + 5 000 > 10 000: refused before storage, nothing charged.
    let keys = stored_keys(&app).await;
    let (status, v) = upload(&app, &mel.token, "ATTACHMENT", "b.pdf", pdf(5_000)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(quota_error(&v), (6_000, LIMIT));
    assert_eq!(
        stored_keys(&app).await,
        keys,
        "a refused upload stores nothing"
    );
    assert_eq!(usage(&app, &mel.token).await, (6_000, LIMIT, 1));

    // The same bytes again are stored once: a second file costs nothing, even near the limit.
    let dup = uploaded(&app, &mel.token, "ATTACHMENT", "copy.png", png(6_000)).await;
    assert_eq!(usage(&app, &mel.token).await, (6_000, LIMIT, 2));

    // Exactly up to the limit is allowed.
    uploaded(&app, &mel.token, "ATTACHMENT", "c.pdf", pdf(4_000)).await;
    assert_eq!(usage(&app, &mel.token).await, (LIMIT, LIMIT, 3));

    // Deleting one of two files with the same bytes frees nothing; the last one frees them.
    ok(&app, &mel.token, DELETE, json!({ "id": a["id"] })).await;
    assert_eq!(usage(&app, &mel.token).await, (LIMIT, LIMIT, 2));
    ok(&app, &mel.token, DELETE, json!({ "id": dup["id"] })).await;
    assert_eq!(usage(&app, &mel.token).await, (4_000, LIMIT, 1));
    uploaded(&app, &mel.token, "ATTACHMENT", "b.pdf", pdf(5_000)).await;
    assert_eq!(usage(&app, &mel.token).await, (9_000, LIMIT, 2));

    // Another organization has its own quota and sees none of this.
    let other = org_named(&app, "Other Co").await;
    let oz = member(&app, other, Role::Member, "Oz").await;
    assert_eq!(usage(&app, &oz.token).await, (0, LIMIT, 0));
    uploaded(
        &app,
        &oz.token,
        "ATTACHMENT",
        "big.png",
        png(LIMIT as usize),
    )
    .await;
    assert_eq!(usage(&app, &oz.token).await, (LIMIT, LIMIT, 1));
    assert_eq!(usage(&app, &mel.token).await, (9_000, LIMIT, 2));
}

#[tokio::test]
async fn a_batch_past_the_quota_stores_none_of_its_files() {
    let app = app().await;
    let org = org_named(&app, "Batch Quota").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let (_, v) = crate::files_refs::upload_many(
        &app,
        Some(&mel.token),
        "ATTACHMENT",
        vec![("a.png", png(6_000)), ("b.pdf", pdf(6_000))],
    )
    .await;
    assert_eq!(quota_error(&v), (6_000, LIMIT));
    assert!(stored_keys(&app).await.is_empty());
    assert_eq!(usage(&app, &mel.token).await, (0, LIMIT, 0));
}

#[tokio::test]
async fn concurrent_uploads_cannot_both_pass_the_quota() {
    let app = app().await;
    let org = org_named(&app, "Race Quota").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let (a, b) = tokio::join!(
        upload(&app, &mel.token, "ATTACHMENT", "a.png", png(7_000)),
        upload(&app, &mel.token, "ATTACHMENT", "b.pdf", pdf(7_000)),
    );
    let refused = [&a.1, &b.1]
        .iter()
        .filter(|v| code(v) == Some("QUOTA_EXCEEDED"))
        .count();
    let stored = [&a.1, &b.1]
        .iter()
        .filter(|v| v["errors"].is_null())
        .count();
    assert_eq!((refused, stored), (1, 1), "{a:?} {b:?}");
    assert_eq!(usage(&app, &mel.token).await, (7_000, LIMIT, 1));
    assert_eq!(stored_keys(&app).await.len(), 1);
}

#[tokio::test]
async fn storage_usage_needs_a_viewer() {
    let app = app().await;
    let v = app.gql(None, USAGE, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
}

#[tokio::test]
async fn an_organizations_own_quota_overrides_the_default() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let app = app().await;
    let org = org_named(&app, "Big Quota").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let first = uploaded(&app, &mel.token, "ATTACHMENT", "a.png", png(6_000)).await;
    assert_eq!(first["size"], 6_000);
    let row = entity::storage_usage::Entity::find_by_id(org)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut row: entity::storage_usage::ActiveModel = row.into();
    row.quota_bytes = Set(Some(3 * LIMIT));
    row.update(&app.state.db).await.unwrap();
    uploaded(
        &app,
        &mel.token,
        "ATTACHMENT",
        "b.pdf",
        pdf(2 * LIMIT as usize),
    )
    .await;
    assert_eq!(
        usage(&app, &mel.token).await,
        (6_000 + 2 * LIMIT, 3 * LIMIT, 2)
    );
    let (_, v) = upload(&app, &mel.token, "ATTACHMENT", "c.pdf", pdf(5_000)).await;
    assert_eq!(quota_error(&v), (6_000 + 2 * LIMIT, 3 * LIMIT));
}
