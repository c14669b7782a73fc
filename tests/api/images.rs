//! Avatars and logos: uploads of kind AVATAR and LOGO are decoded, re-encoded without their
//! metadata or trailing payloads and resized to the standard sizes; `updateMe(avatarFileId)`
//! and `updateOrganization(logoFileId)` take them (checked against the organization and the
//! kind), `User.avatarUrl` / `Organization.logoUrl` download them, and `deleteFile` refuses a
//! file in use unless `force`. The downloads are decoded here to check what was stored.

use std::collections::HashMap;

use image::{codecs::jpeg::JpegEncoder, DynamicImage, GenericImageView, ImageFormat};
use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    files::{get, stored_keys, upload, uploaded},
    fixtures::{field_errors, member, ok, org_named},
    helpers::{code, Options, TestApp},
    sequences::wait_until,
};

const UPDATE_ME: &str =
    "mutation($f: ID) { updateMe(input: {avatarFileId: $f}) { id avatarUrl small: avatarUrl(size: 64) } }";
const ME: &str = "query($s: Int) { me { avatarUrl(size: $s) } }";
const UPDATE_ORG: &str =
    "mutation($f: ID) { updateOrganization(input: {logoFileId: $f}) { id logoUrl } }";
const ORG: &str = "query { organization { logoUrl small: logoUrl(size: 128) \
    mid: logoUrl(size: 129) } }";
const DELETE: &str = "mutation($id: ID!, $force: Boolean) { deleteFile(id: $id, force: $force) }";

/// A `w` × `h` JPEG with an EXIF segment naming the camera, and a script after its end.
fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut plain = Vec::new();
    JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&img)
        .unwrap();
    // TIFF header, one IFD entry (Make, ASCII, 10 bytes at offset 26), no next IFD.
    let mut exif =
        b"Exif\0\0II*\0\x08\0\0\0\x01\0\x0f\x01\x02\0\x0a\0\0\0\x1a\0\0\0\0\0\0\0".to_vec();
    exif.extend(b"SecretCam\0");
    let mut out = plain[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(u16::try_from(exif.len() + 2).unwrap().to_be_bytes());
    out.extend(exif);
    out.extend(&plain[2..]);
    out.extend(b"<script>alert(1)</script>");
    out
}

fn png_of(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, _| image::Rgba([(x % 256) as u8, 40, 200, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A JPEG whose header claims 60000 × 60000 pixels (a decompression bomb's shape).
fn jpeg_bomb() -> Vec<u8> {
    let mut b = jpeg_with_exif(16, 16);
    let sof = b
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG has SOF0");
    b[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    b
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Downloads `url`: its content type and bytes.
async fn fetch(app: &TestApp, url: &Value) -> (String, Vec<u8>) {
    let res = get(app, url.as_str().expect("a URL"), None).await;
    assert_eq!(res.status(), 200, "{url}");
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    (ct, res.bytes().await.unwrap().to_vec())
}

fn decoded(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).unwrap()
}

#[tokio::test]
async fn an_avatar_is_stored_without_metadata_at_the_standard_sizes() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Images").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let f = uploaded(
        &app,
        &mel.token,
        "AVATAR",
        "me.jpeg",
        jpeg_with_exif(600, 400),
    )
    .await;
    assert_eq!(f["kind"], "AVATAR");
    assert_eq!(f["contentType"], "image/jpeg");
    assert_eq!(f["name"], "me.jpg");
    let id = f["id"].clone();

    let v = ok(&app, &mel.token, UPDATE_ME, json!({ "f": id })).await;
    let (ct, big) = fetch(&app, &v["updateMe"]["avatarUrl"]).await;
    assert_eq!(ct, "image/jpeg");
    assert_eq!(decoded(&big).dimensions(), (256, 256));
    assert_eq!(image::guess_format(&big).unwrap(), ImageFormat::Jpeg);
    for gone in [&b"Exif"[..], b"SecretCam", b"<script>"] {
        assert!(!contains(&big, gone), "{}", String::from_utf8_lossy(gone));
    }
    let (_, small) = fetch(&app, &v["updateMe"]["small"]).await;
    assert_eq!(decoded(&small).dimensions(), (64, 64));
    assert!(!contains(&small, b"SecretCam"));
    // `me` shows the same avatar; a size above 64 gets the 256 one.
    let v = ok(&app, &mel.token, ME, json!({ "s": 100 })).await;
    let (_, again) = fetch(&app, &v["me"]["avatarUrl"]).await;
    assert_eq!(again, big);
    let v = app.gql(Some(&mel.token), ME, json!({ "s": 0 })).await;
    assert_eq!(field_errors(&v), ["size"]);

    // The change is audited.
    wait_until("the avatar change in the audit log", || async {
        entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::ResourceType.eq("user"))
            .filter(entity::audit_log::Column::ResourceId.eq(mel.id.to_string()))
            .all(&app.state.db)
            .await
            .unwrap()
            .iter()
            .any(|r| {
                r.changes
                    .as_ref()
                    .is_some_and(|c| c.to_string().contains(id.as_str().unwrap()))
            })
    })
    .await;

    // In use: deleteFile refuses, unless forced (which removes the avatar and its sizes).
    let v = app.gql(Some(&mel.token), DELETE, json!({ "id": id })).await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    assert_eq!(
        stored_keys(&app).await.len(),
        2,
        "the 256 and 64 px objects"
    );
    ok(&app, &mel.token, DELETE, json!({ "id": id, "force": true })).await;
    let v = ok(&app, &mel.token, ME, json!({})).await;
    assert!(v["me"]["avatarUrl"].is_null(), "{v}");
    assert!(stored_keys(&app).await.is_empty());
    let u = entity::user::Entity::find_by_id(mel.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.avatar_file_id, None);
}

#[tokio::test]
async fn a_logo_is_fitted_and_only_admins_set_it() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Logos").await;
    let ada = member(&app, org, Role::Admin, "Ada").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let f = uploaded(&app, &ada.token, "LOGO", "logo.png", png_of(1200, 300)).await;
    assert_eq!(f["contentType"], "image/png");
    let v = app
        .gql(Some(&mel.token), UPDATE_ORG, json!({ "f": f["id"] }))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = ok(&app, &ada.token, UPDATE_ORG, json!({ "f": f["id"] })).await;
    let (ct, bytes) = fetch(&app, &v["updateOrganization"]["logoUrl"]).await;
    assert_eq!(ct, "image/png");
    assert_eq!(decoded(&bytes).dimensions(), (512, 128));
    let v = ok(&app, &mel.token, ORG, json!({})).await;
    assert_eq!(fetch(&app, &v["organization"]["logoUrl"]).await.1, bytes);
    // The 128 px variant serves sizes up to 128; above, the 512 px file.
    let (ct, small) = fetch(&app, &v["organization"]["small"]).await;
    assert_eq!(ct, "image/png");
    assert_eq!(decoded(&small).dimensions(), (128, 32));
    assert_eq!(fetch(&app, &v["organization"]["mid"]).await.1, bytes);
    assert_eq!(
        stored_keys(&app).await.len(),
        2,
        "the 512 and 128 px objects"
    );
    // A small logo is not enlarged; null removes the logo, and then the file may go.
    let small = uploaded(&app, &ada.token, "LOGO", "s.gif", gif_of(100, 40)).await;
    assert_eq!(small["name"], "s.png", "a GIF is stored as PNG");
    let v = ok(&app, &ada.token, UPDATE_ORG, json!({ "f": small["id"] })).await;
    let (_, b) = fetch(&app, &v["updateOrganization"]["logoUrl"]).await;
    assert_eq!(decoded(&b).dimensions(), (100, 40));
    // Its 128 px variant is the same bytes, stored once.
    let v = ok(&app, &mel.token, ORG, json!({})).await;
    assert_eq!(fetch(&app, &v["organization"]["small"]).await.1, b);
    assert_eq!(stored_keys(&app).await.len(), 3);
    let v = app
        .gql(Some(&ada.token), DELETE, json!({ "id": small["id"] }))
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    let v = ok(&app, &ada.token, UPDATE_ORG, json!({ "f": null })).await;
    assert!(v["updateOrganization"]["logoUrl"].is_null());
    ok(&app, &ada.token, DELETE, json!({ "id": small["id"] })).await;
}

fn gif_of(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 200, 30, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Gif).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn images_that_do_not_decode_or_are_too_large_are_refused_before_storage() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Bombs").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
    fake.extend(b"this is not a chunk stream at all".repeat(10));
    let cases: [(&str, &str, Vec<u8>, &str); 4] = [
        ("AVATAR", "bomb.jpg", jpeg_bomb(), "too large to decode"),
        ("LOGO", "bomb.jpg", jpeg_bomb(), "too large to decode"),
        (
            "AVATAR",
            "fake.png",
            fake,
            "not a readable image|not supported",
        ),
        (
            "AVATAR",
            "doc.png",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(),
            "may not be",
        ),
    ];
    for (kind, name, bytes, why) in cases {
        let (status, v) = upload(&app, &mel.token, kind, name, bytes).await;
        assert_eq!(status, 200);
        assert_eq!(field_errors(&v), ["input.file"], "{name}");
        let message = v["errors"][0]["extensions"]["fields"][0]["message"]
            .as_str()
            .unwrap();
        assert!(
            why.split('|').any(|w| message.contains(w)),
            "{name}: {message}"
        );
    }
    assert!(stored_keys(&app).await.is_empty());
    let rows = entity::file::Entity::find()
        .filter(entity::file::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn avatars_and_logos_must_be_the_organizations_files_of_their_kind() {
    let app = TestApp::spawn().await;
    let (acme, globex) = (
        org_named(&app, "Acme").await,
        org_named(&app, "Globex").await,
    );
    let ann = member(&app, acme, Role::Owner, "Ann").await;
    let gus = member(&app, globex, Role::Owner, "Gus").await;
    let theirs = uploaded(&app, &ann.token, "AVATAR", "a.png", png_of(80, 80)).await;
    let logo = uploaded(&app, &gus.token, "LOGO", "l.png", png_of(80, 80)).await;
    let avatar = uploaded(&app, &gus.token, "AVATAR", "g.png", png_of(90, 90)).await;
    let csv = uploaded(
        &app,
        &gus.token,
        "IMPORT",
        "l.csv",
        b"Email\na@x.io\n".to_vec(),
    )
    .await;

    // Another organization's file, or no file at all, is missing.
    for id in [theirs["id"].clone(), json!(Uuid::now_v7()), json!("nope")] {
        let v = app
            .gql(Some(&gus.token), UPDATE_ME, json!({ "f": id }))
            .await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
        let v = app
            .gql(Some(&gus.token), UPDATE_ORG, json!({ "f": id }))
            .await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    }
    // A file of another kind is invalid input.
    for id in [&csv["id"], &logo["id"]] {
        let v = app
            .gql(Some(&gus.token), UPDATE_ME, json!({ "f": id }))
            .await;
        assert_eq!(field_errors(&v), ["input.avatarFileId"]);
    }
    let v = app
        .gql(Some(&gus.token), UPDATE_ORG, json!({ "f": avatar["id"] }))
        .await;
    assert_eq!(field_errors(&v), ["input.logoFileId"]);
    // Nothing changed.
    let me = entity::user::Entity::find_by_id(gus.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(me.avatar_file_id, None);
    // Without a viewer: refused; with one, Ann's avatar is hers alone to set.
    let v = app.gql(None, UPDATE_ME, json!({ "f": avatar["id"] })).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(None, UPDATE_ORG, json!({ "f": logo["id"] })).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = ok(&app, &ann.token, UPDATE_ME, json!({ "f": theirs["id"] })).await;
    assert!(v["updateMe"]["avatarUrl"].is_string());
    let v = ok(&app, &gus.token, UPDATE_ME, json!({ "f": avatar["id"] })).await;
    let (_, bytes) = fetch(&app, &v["updateMe"]["avatarUrl"]).await;
    assert_eq!(
        decoded(&bytes).dimensions(),
        (256, 256),
        "a small avatar is enlarged to the standard size"
    );
    // The 64 px link is signed for its size: asking another size with it is a missing file.
    let small = v["updateMe"]["small"].as_str().unwrap();
    assert!(small.contains("&w=64"), "{small}");
    let res = get(&app, &small.replace("&w=64", "&w=256"), None).await;
    assert_eq!(res.status(), 404);
}

/// Issue 28: a page of members with avatars costs the same statements for 3 as for 12: the
/// avatar files of the whole page, with their sizes, are read at once.
#[tokio::test]
async fn member_pages_with_avatars_cost_the_same_statements_at_any_page_size() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let org = org_named(&app, "Acme Faces").await;
    let mut files = HashMap::new();
    let mut people = Vec::new();
    for i in 0..12 {
        let p = member(&app, org, Role::Member, &format!("Face{i}")).await;
        let f = uploaded(&app, &p.token, "AVATAR", "me.png", png_of(70 + i, 70)).await;
        ok(&app, &p.token, UPDATE_ME, json!({ "f": f["id"] })).await;
        files.insert(p.id.to_string(), f["id"].as_str().unwrap().to_string());
        people.push(p);
    }
    let q = "query($n: Int!) { members(first: $n) { nodes { user { id avatarUrl \
        small: avatarUrl(size: 64) } } } }";
    let mut counts = Vec::new();
    for n in [3, 12] {
        app.state.sql_log.take();
        let v = ok(&app, &people[0].token, q, json!({ "n": n })).await;
        let nodes = v["members"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n, "{v}");
        for node in nodes {
            let u = &node["user"];
            let file = &files[u["id"].as_str().unwrap()];
            let (big, small) = (
                u["avatarUrl"].as_str().unwrap(),
                u["small"].as_str().unwrap(),
            );
            assert!(
                big.contains(&format!("/files/{file}?")) && !big.contains("&w="),
                "{u}"
            );
            assert!(small.contains(&format!("/files/{file}?")) && small.contains("&w=64&"));
        }
        counts.push(app.request_statements().len());
        let (_, small) = fetch(&app, &nodes[n - 1]["user"]["small"]).await;
        assert_eq!(decoded(&small).dimensions(), (64, 64));
    }
    assert_eq!(counts[0], counts[1], "statements at first = 3 / 12");
}
