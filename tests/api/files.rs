//! Files on object storage: upload → list → download (whole and byte ranges) → delete on the
//! local backend and on a real S3-compatible server (moto's server mode, started here), the
//! checks that run before anything is stored (sniffed type against kind and extension, size
//! limits, a 60 MB avatar, anonymous uploads), other organizations' files and links, roles,
//! events and the statement count of the list.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use chrono::Utc;
use leadgraph::{
    auth::{Role, Viewer, ViewerVia},
    domains::places::files::service::link::signed_url,
    events::{DomainEvent, EventEnvelope, FileChanged},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, member, ok, org_named},
    helpers::{code, raw_exchange, Options, TestApp},
};

pub(crate) const UPLOAD: &str = "mutation($f: Upload!, $kind: FileKind!) { uploadFile(input: {kind: $kind, file: $f}) { id kind name contentType size sha256 ownerId createdAt } }";
pub(crate) const LIST: &str = "query($f: FileFilter, $n: Int) { files(filter: $f, first: $n) { totalCount nodes { id kind name } } }";
pub(crate) const ONE: &str = "query($id: ID!) { file(id: $id) { id name size } }";
const URL: &str = "query($id: ID!, $s: Int) { fileDownloadUrl(id: $id, expiresInSeconds: $s) }";
pub(crate) const DELETE: &str = "mutation($id: ID!) { deleteFile(id: $id) }";

/// Bytes that sniff as PNG, `len` long.
pub(crate) fn png(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    b.extend((0..len.saturating_sub(b.len())).map(|i| (i * 7 % 251) as u8));
    b
}

/// Bytes that sniff as PDF, `len` long.
pub(crate) fn pdf(len: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    b.extend((0..len.saturating_sub(b.len())).map(|i| (i * 13 % 256) as u8));
    b
}

/// A Windows executable's first bytes.
pub(crate) const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8\0\0\0\0\0\0\0@\0\0\0";

/// `uploadFile` as a GraphQL multipart request; the response status and body.
pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    kind: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let ops = json!({"query": UPLOAD, "variables": {"f": null, "kind": kind}});
    let form = reqwest::multipart::Form::new()
        .text("operations", ops.to_string())
        .text("map", json!({"0": ["variables.f"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str("application/octet-stream")
                .unwrap(),
        );
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn uploaded(
    app: &TestApp,
    token: &str,
    kind: &str,
    name: &str,
    bytes: Vec<u8>,
) -> Value {
    let (status, v) = upload(app, token, kind, name, bytes).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["uploadFile"].clone()
}

/// The path and query of a signed URL (its origin is `PUBLIC_URL`), on this app.
fn local(app: &TestApp, url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    app.url(&format!("{}?{}", u.path(), u.query().unwrap_or("")))
}

pub(crate) async fn get(app: &TestApp, url: &str, range: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(local(app, url));
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.unwrap()
}

pub(crate) async fn download_url(app: &TestApp, token: &str, id: &str) -> String {
    let v = ok(app, token, URL, json!({ "id": id })).await;
    v["fileDownloadUrl"].as_str().unwrap().to_string()
}

/// Every object key in the app's storage.
pub(crate) async fn stored_keys(app: &TestApp) -> Vec<String> {
    app.state.storage.keys("").await.unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// The suite both backends run: upload (one object in one PUT, one as a multipart upload),
/// list, read, download whole and in ranges, delete.
async fn round_trip(app: &TestApp) {
    let org = org_named(app, "Acme Files").await;
    let mel = member(app, org, Role::Member, "Mel").await;
    let avatar = png(200 * 1024);
    let a = uploaded(app, &mel.token, "OTHER", "me/avatar.PNG", avatar.clone()).await;
    assert_eq!(a["kind"], "OTHER");
    assert_eq!(a["name"], "avatar.PNG", "directories are dropped");
    assert_eq!(a["contentType"], "image/png");
    assert_eq!(a["size"], avatar.len());
    assert_eq!(a["sha256"], hex::encode(Sha256::digest(&avatar)));
    assert_eq!(a["ownerId"], mel.id.to_string());
    // 9 MiB: past one PUT, so it streams as a multipart upload.
    let big = pdf(9 * 1024 * 1024 + 123);
    let b = uploaded(
        app,
        &mel.token,
        "ATTACHMENT",
        "Report \"Q4\".pdf",
        big.clone(),
    )
    .await;
    assert_eq!(b["contentType"], "application/pdf");
    assert_eq!(b["sha256"], hex::encode(Sha256::digest(&big)));
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    assert_eq!(stored_keys(app).await.len(), 2);

    let v = ok(app, &mel.token, LIST, json!({})).await;
    assert_eq!(v["files"]["totalCount"], 2);
    let ids: Vec<&str> = v["files"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [b_id, a_id], "newest first");
    let v = ok(app, &mel.token, LIST, json!({"f": {"kind": "OTHER"}})).await;
    assert_eq!(v["files"]["nodes"][0]["id"], a_id);
    assert_eq!(v["files"]["totalCount"], 1);
    let v = ok(
        app,
        &mel.token,
        LIST,
        json!({"f": {"ownerId": Uuid::now_v7()}}),
    )
    .await;
    assert_eq!(v["files"]["totalCount"], 0);
    let v = ok(app, &mel.token, ONE, json!({ "id": a_id })).await;
    assert_eq!(v["file"]["size"], avatar.len());

    // Whole, then ranges.
    let url = download_url(app, &mel.token, a_id).await;
    let res = get(app, &url, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "image/png");
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert_eq!(header(&res, "accept-ranges"), "bytes");
    assert!(header(&res, "content-disposition").starts_with("inline;"));
    assert_eq!(res.bytes().await.unwrap(), avatar);
    let res = get(app, &url, Some("bytes=10-19")).await;
    assert_eq!(res.status(), 206);
    assert_eq!(
        header(&res, "content-range"),
        format!("bytes 10-19/{}", avatar.len())
    );
    assert_eq!(res.bytes().await.unwrap(), avatar[10..20]);
    let res = get(app, &url, Some("bytes=-5")).await;
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap(), avatar[avatar.len() - 5..]);
    let res = get(app, &url, Some(&format!("bytes={}-", avatar.len()))).await;
    assert_eq!(res.status(), 416);
    assert_eq!(
        header(&res, "content-range"),
        format!("bytes */{}", avatar.len())
    );
    let big_url = download_url(app, &mel.token, b_id).await;
    let res = get(app, &big_url, Some("bytes=5242870-5242889")).await;
    assert_eq!(res.status(), 206, "a range across the first part boundary");
    assert_eq!(res.bytes().await.unwrap(), big[5_242_870..5_242_890]);
    let res = get(app, &big_url, None).await;
    assert!(header(&res, "content-disposition").starts_with("attachment;"));
    assert_eq!(res.bytes().await.unwrap(), big);

    let v = ok(app, &mel.token, DELETE, json!({ "id": a_id })).await;
    assert_eq!(v["deleteFile"], a_id);
    let v = ok(app, &mel.token, ONE, json!({ "id": a_id })).await;
    assert!(v["file"].is_null());
    assert_eq!(get(app, &url, None).await.status(), 404, "its link is dead");
    let v = app.gql(Some(&mel.token), URL, json!({ "id": a_id })).await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let keys = stored_keys(app).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].contains(b["sha256"].as_str().unwrap()), "{keys:?}");
}

#[tokio::test]
async fn files_round_trip_on_local_storage() {
    let app = TestApp::spawn().await;
    assert_eq!(app.state.storage.backend(), "local");
    round_trip(&app).await;
    // The bytes are under DATA_DIR/files.
    assert!(app.dir.join("files/orgs").is_dir());
}

/// A moto S3 server on a loopback port, killed on drop.
pub(crate) struct Moto {
    child: Child,
    pub(crate) endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `moto_server` (PyPI `moto[server]`, which scripts/test installs) with bucket
/// `bucket`. Without it the test fails under CI and is skipped, loudly, elsewhere.
pub(crate) async fn moto(bucket: &str) -> Option<Moto> {
    let found = Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "moto_server is missing: scripts/test installs it (pip install 'moto[server]')"
        );
        eprintln!("SKIPPED: moto_server is not installed (pip install 'moto[server]')");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    let http = reqwest::Client::new();
    loop {
        // moto accepts unsigned requests: the bucket is made with a plain PUT.
        match http
            .put(format!("{}/{bucket}", server.endpoint))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Some(server),
            _ if started.elapsed() > Duration::from_secs(90) => {
                panic!("moto_server did not answer on {}", server.endpoint)
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

#[tokio::test]
async fn files_round_trip_on_s3_compatible_storage() {
    let Some(s3) = moto("lg-files").await else {
        return;
    };
    let url = format!("s3://lg-files?endpoint={}&region=us-east-1", s3.endpoint);
    let app = TestApp::spawn_with(Options::with_env(&[
        ("STORAGE_URL", &url),
        ("AWS_ACCESS_KEY_ID", "lg-test"),
        ("AWS_SECRET_ACCESS_KEY", "lg-test-secret"),
    ]))
    .await;
    assert_eq!(app.state.storage.backend(), "s3");
    round_trip(&app).await;
    // The object is in the bucket (listed by the server itself), not on local disk.
    let listing = reqwest::get(format!("{}/lg-files?list-type=2", s3.endpoint))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys = stored_keys(&app).await;
    assert!(
        listing.contains(&format!("<Key>{}</Key>", keys[0])),
        "{listing}"
    );
    assert!(!app.dir.join("files/orgs").exists());
}

/// A multipart `uploadFile` whose file part is `len` bytes of a PNG, written on a raw socket
/// while the answer is read: the server may answer (and close) before taking it all.
async fn raw_upload(app: &TestApp, token: Option<&str>, len: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let b = "lgfilesboundary";
    let ops = json!({"query": UPLOAD, "variables": {"f": null, "kind": "AVATAR"}});
    let parts = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{ops}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.f\"]}}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"huge.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    );
    let tail = format!("\r\n--{b}--\r\n");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: multipart/form-data; boundary={b}\r\n\
         Apollo-Require-Preflight: true\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{parts}",
        app.addr,
        parts.len() + len + tail.len()
    );
    let sock = tokio::net::TcpStream::connect(&app.addr).await.unwrap();
    let (mut rd, mut wr) = sock.into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = png(1024 * 1024);
        let mut sent = 0;
        while sent < len {
            let n = chunk.len().min(len - sent);
            wr.write_all(&chunk[..n]).await?;
            sent += n;
        }
        wr.write_all(tail.as_bytes()).await
    });
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(120), rd.read_to_end(&mut got)).await;
    writer.abort();
    assert!(read.is_ok(), "no answer to a {len}-byte upload");
    String::from_utf8_lossy(&got).to_string()
}

#[tokio::test]
async fn uploads_are_checked_before_anything_is_stored() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Files").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "ATTACHMENT",
            "slides.pdf",
            png(4096),
            "content is png but the name ends in .pdf",
        ),
        ("AVATAR", "photo.png", EXE.to_vec(), "executable"),
        ("OTHER", "setup.exe", EXE.to_vec(), "executable"),
        ("AVATAR", "doc.pdf", pdf(4096), "may not be"),
        ("AVATAR", "big.png", png(6 * 1024 * 1024), "at most 5242880"),
        (
            "IMPORT",
            "leads.csv",
            b"a,b\n\0\x01".to_vec(),
            "not UTF-8 text",
        ),
        ("AVATAR", "empty.png", Vec::new(), "is empty"),
        ("AVATAR", "noext", png(100), "no extension"),
    ];
    for (kind, name, bytes, why) in cases {
        let (status, v) = upload(&app, &mel.token, kind, name, bytes).await;
        assert_eq!(status, 200, "{name}: {v}");
        assert_eq!(field_errors(&v), ["input.file"], "{name}: {v}");
        let message = v["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(why), "{name}: {message}");
    }
    // 60 MB is past MAX_UPLOAD_BYTES (50 MB): refused while reading the multipart, cleanly.
    let answer = raw_upload(&app, Some(&mel.token), 60 * 1024 * 1024).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(400)]
    );
    assert!(answer.contains("BAD_REQUEST"), "{answer}");
    // Other arguments.
    let v = app
        .gql(Some(&mel.token), LIST, json!({"f": {"ownerId": "nobody"}}))
        .await;
    assert_eq!(field_errors(&v), ["filter.ownerId"]);
    let id = uploaded(
        &app,
        &mel.token,
        "IMPORT",
        "leads.csv",
        b"name\nZo\xc3\xab\n".to_vec(),
    )
    .await;
    assert_eq!(id["contentType"], "text/csv");
    for s in [0, 7 * 24 * 3600 + 1] {
        let v = app
            .gql(Some(&mel.token), URL, json!({"id": id["id"], "s": s}))
            .await;
        assert_eq!(field_errors(&v), ["expiresInSeconds"], "{s}: {v}");
    }
    // Nothing refused was stored: one object, one row, and the server is fine.
    assert_eq!(stored_keys(&app).await.len(), 1);
    let rows = entity::file::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    ok(&app, &mel.token, LIST, json!({})).await;
}

#[tokio::test]
async fn anonymous_and_under_privileged_uploads_are_refused_before_the_body() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Files").await;
    // The head and 16 KiB of a 100 MB part: only a server that answers first returns here.
    let head = |token: Option<String>| {
        let b = "lgb";
        let ops = json!({"query": UPLOAD, "variables": {"f": null, "kind": "AVATAR"}});
        let parts = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{ops}\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.f\"]}}\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.png\"\r\n\r\n"
        );
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let mut bytes = format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={b}\r\n\
             Apollo-Require-Preflight: true\r\n{auth}Content-Length: {}\r\n\r\n{parts}",
            parts.len() + 100 * 1024 * 1024
        )
        .into_bytes();
        bytes.extend(png(16 * 1024));
        bytes
    };
    let answer = raw_exchange(&app.addr, &head(None), 10).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("UNAUTHENTICATED"), "{answer}");
    let viewer = member(&app, org, Role::Viewer, "Vic").await;
    let answer = raw_exchange(&app.addr, &head(Some(viewer.token.clone())), 10)
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(stored_keys(&app).await.is_empty());
    let spool = app.dir.join("uploads");
    assert!(!spool.exists() || std::fs::read_dir(&spool).unwrap().next().is_none());

    // Reads need a viewer; deleting someone else's file needs MANAGER.
    let v = app.gql(None, LIST, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let mel = member(&app, org, Role::Member, "Mel").await;
    let max = member(&app, org, Role::Member, "Max").await;
    let boss = member(&app, org, Role::Manager, "Bo").await;
    let f = uploaded(&app, &mel.token, "ATTACHMENT", "a.png", png(500)).await;
    let v = ok(&app, &viewer.token, ONE, json!({"id": f["id"]})).await;
    assert_eq!(v["file"]["id"], f["id"]);
    let v = app
        .gql(Some(&viewer.token), DELETE, json!({"id": f["id"]}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app
        .gql(Some(&max.token), DELETE, json!({"id": f["id"]}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "another member's file: {v}");
    ok(&app, &boss.token, DELETE, json!({"id": f["id"]})).await;
    assert!(stored_keys(&app).await.is_empty());
}

#[tokio::test]
async fn another_organizations_files_and_links_are_missing() {
    let app = TestApp::spawn().await;
    let (acme, globex) = (
        org_named(&app, "Acme").await,
        org_named(&app, "Globex").await,
    );
    let ann = member(&app, acme, Role::Owner, "Ann").await;
    let gus = member(&app, globex, Role::Owner, "Gus").await;
    let theirs = uploaded(&app, &ann.token, "ATTACHMENT", "a.png", png(300)).await;
    let mine = uploaded(&app, &gus.token, "ATTACHMENT", "g.png", png(300)).await;
    let id = theirs["id"].as_str().unwrap();
    let v = ok(&app, &gus.token, ONE, json!({ "id": id })).await;
    assert!(v["file"].is_null());
    let v = ok(&app, &gus.token, LIST, json!({})).await;
    assert_eq!(v["files"]["nodes"][0]["id"], mine["id"]);
    assert_eq!(v["files"]["totalCount"], 1);
    for q in [URL, DELETE] {
        let v = app.gql(Some(&gus.token), q, json!({ "id": id })).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }
    // Gus's own link with Ann's file id, or with a changed expiry, is a missing file.
    let url = download_url(&app, &gus.token, mine["id"].as_str().unwrap()).await;
    assert_eq!(get(&app, &url, None).await.status(), 200);
    let swapped = url.replace(mine["id"].as_str().unwrap(), id);
    assert_eq!(get(&app, &swapped, None).await.status(), 404);
    let u = url::Url::parse(&url).unwrap();
    let exp: i64 = u
        .query_pairs()
        .find(|(k, _)| k == "exp")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let later = url.replace(&format!("exp={exp}"), &format!("exp={}", exp + 10));
    assert_eq!(get(&app, &later, None).await.status(), 404);
    let unsigned = url.split("&sig=").next().unwrap().to_string();
    assert_eq!(get(&app, &unsigned, None).await.status(), 404);
    // An authentic link past its expiry is gone, not missing.
    let row = entity::file::Entity::find_by_id(Uuid::parse_str(id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let old = signed_url(&app.state.config, &row, Utc::now().timestamp() - 1);
    assert_eq!(get(&app, &old, None).await.status(), 410);
    let fresh = signed_url(&app.state.config, &row, Utc::now().timestamp() + 60);
    assert_eq!(get(&app, &fresh, None).await.status(), 200);
    // Ann's file is untouched.
    let v = ok(&app, &ann.token, ONE, json!({ "id": id })).await;
    assert_eq!(v["file"]["id"], id);
}

#[tokio::test]
async fn uploads_and_deletes_record_events_for_readers_of_the_organization() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Files").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let f = uploaded(&app, &mel.token, "ATTACHMENT", "a.pdf", pdf(1000)).await;
    ok(&app, &mel.token, DELETE, json!({"id": f["id"]})).await;
    let rows = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.is_in(["file.uploaded", "file.deleted"]))
        .order_by_asc(entity::outbox_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap();
    let got: Vec<(String, Value)> = rows
        .iter()
        .map(|r| (r.event_type.clone(), r.payload["data"].clone()))
        .collect();
    let data = json!({"fileId": f["id"], "kind": "ATTACHMENT", "name": "a.pdf", "size": 1000});
    assert_eq!(
        got,
        [
            ("file.uploaded".to_string(), data.clone()),
            ("file.deleted".to_string(), data)
        ]
    );
    assert_eq!(rows[0].user_id, Some(mel.id));
    // Who may receive them: VIEWER and up of the organization, nobody elsewhere.
    let ev = DomainEvent::FileUploaded(FileChanged {
        file_id: Uuid::nil(),
        kind: "AVATAR".into(),
        name: "a.png".into(),
        size: 1,
    });
    let env = EventEnvelope::new(org, None, ev.clone());
    let viewer = |org_id, role| Viewer {
        user_id: Uuid::now_v7(),
        org_id,
        role,
        via: ViewerVia::Jwt,
        session_id: None,
    };
    assert!(ev.visible_to(&env, &viewer(org, Role::Viewer)));
    assert!(!ev.visible_to(&env, &viewer(Uuid::now_v7(), Role::Owner)));
}

/// `files` costs the same statements at 2 and 10 per page.
#[tokio::test]
async fn the_file_list_costs_the_same_statements_at_any_page_size() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let org = org_named(&app, "Acme Files").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let rows: Vec<entity::file::ActiveModel> = (0..12)
        .map(|i| {
            let id = Uuid::now_v7();
            entity::file::ActiveModel {
                id: sea_orm::Set(id),
                org_id: sea_orm::Set(org),
                owner_id: sea_orm::Set(mel.id),
                kind: sea_orm::Set("OTHER".into()),
                name: sea_orm::Set(format!("f{i}.txt")),
                content_type: sea_orm::Set("text/plain".into()),
                size: sea_orm::Set(1),
                sha256: sea_orm::Set(String::new()),
                storage_key: sea_orm::Set(format!("k/{id}")),
                created_at: sea_orm::Set(Utc::now()),
                deleted_at: sea_orm::Set(None),
            }
        })
        .collect();
    entity::file::Entity::insert_many(rows)
        .exec(&app.state.db)
        .await
        .unwrap();
    // A first request warms the per-viewer caches (session, member), which are not the list's
    // cost.
    ok(&app, &mel.token, LIST, json!({ "n": 1 })).await;
    let mut counts = Vec::new();
    let mut seen = Vec::new();
    for n in [2, 10] {
        app.state.sql_log.take();
        let v = ok(&app, &mel.token, LIST, json!({ "n": n })).await;
        assert_eq!(v["files"]["nodes"].as_array().unwrap().len(), n as usize);
        let stmts = app.request_statements();
        counts.push(stmts.len());
        seen.push(stmts);
    }
    assert_eq!(
        counts[0], counts[1],
        "statements at 2 / 10 per page: {seen:#?}"
    );
    assert!(counts[0] <= 2, "{counts:?}: the page and its count");
}
