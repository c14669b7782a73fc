//! Security review, sessions and roles (S1, S2, S3, S5, S19, S20, S22, S26): every credential
//! is checked against the live session, membership and role on every request and operation.

use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    helpers::{code, extract_after, wait_for_mail, wait_for_mail_containing, Frame, TestApp},
    identity::signed_up,
};

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken refreshToken role organization { id } } }";
const SWITCH: &str =
    "mutation($id: ID!) { switchOrganization(id: $id) { accessToken refreshToken role } }";
const ME: &str = "{ me { id } }";
const PASSWORD: &str = "correct horse battery";

fn s(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

/// A signed-up account with a live session, a second organization it belongs to (as MEMBER),
/// and its ids: (email, access, refresh, user id, second org id).
async fn two_org_account(app: &TestApp) -> (String, String, String, Uuid, Uuid) {
    let (email, login) = signed_up(app).await;
    let access = s(&login["accessToken"]);
    let refresh = s(&login["refreshToken"]);
    let me = app.gql(Some(&access), ME, json!({})).await;
    let user: Uuid = s(&me["data"]["me"]["id"]).parse().unwrap();
    let other = Uuid::now_v7();
    app.ensure_org(other).await;
    entity::membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(other),
        user_id: Set(user),
        role: Set("MEMBER".into()),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    (email, access, refresh, user, other)
}

/// S1 + S19: after logout, the still-unexpired access token can neither mint a new session
/// through `switchOrganization` nor be used at all.
#[tokio::test]
async fn s1_switch_organization_needs_a_live_session() {
    let app = TestApp::spawn().await;
    let (_, access, refresh, _, other) = two_org_account(&app).await;
    // While the session lives, switching works.
    let v = app.gql(Some(&access), SWITCH, json!({"id": other})).await;
    assert_eq!(v["data"]["switchOrganization"]["role"], "MEMBER", "{v}");

    app.gql(
        None,
        "mutation($t: String!) { logout(refreshToken: $t) }",
        json!({"t": refresh}),
    )
    .await;
    let v = app.gql(Some(&access), SWITCH, json!({"id": other})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(Some(&access), ME, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
}

/// S1 + S19: a password change ends the other sessions, and their access tokens stop at once.
#[tokio::test]
async fn s1_s19_password_change_stops_other_sessions_tokens() {
    let app = TestApp::spawn().await;
    let (email, first, _, _, other) = two_org_account(&app).await;
    let second = app
        .gql(None, LOGIN, json!({"e": email, "p": PASSWORD}))
        .await;
    let second = s(&second["data"]["login"]["accessToken"]);
    assert!(app.gql(Some(&second), ME, json!({})).await["errors"].is_null());
    let v = app
        .gql(
            Some(&first),
            "mutation { changePassword(currentPassword: \"correct horse battery\", newPassword: \"a brand new passphrase\") }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["changePassword"], true, "{v}");
    assert!(app.gql(Some(&first), ME, json!({})).await["errors"].is_null());
    for v in [
        app.gql(Some(&second), ME, json!({})).await,
        app.gql(Some(&second), SWITCH, json!({"id": other})).await,
    ] {
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    }
}

/// S1 + S19: refresh-token reuse revokes the family; the family's access token stops too.
#[tokio::test]
async fn s1_s19_reuse_detection_stops_the_access_token() {
    let app = TestApp::spawn().await;
    let (_, access, refresh, _, other) = two_org_account(&app).await;
    let refresh_q =
        "mutation($t: String!) { refreshAccessToken(refreshToken: $t) { accessToken } }";
    let v = app.gql(None, refresh_q, json!({"t": refresh})).await;
    let rotated = s(&v["data"]["refreshAccessToken"]["accessToken"]);
    // The retired token again: reuse, the whole session ends.
    let v = app.gql(None, refresh_q, json!({"t": refresh})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    for token in [&access, &rotated] {
        let v = app.gql(Some(token), SWITCH, json!({"id": other})).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    }
}

/// S1 + S19: a removed member's token stops working in that organization at once, and cannot
/// switch to another one it still belongs to (it must sign in again).
#[tokio::test]
async fn s1_s19_removed_member_token_stops() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let owner = app.token(org, Role::Owner).await;
    let (member_id, member) = app.member(org, Role::Member, "Mia").await;
    let other = Uuid::now_v7();
    app.ensure_org(other).await;
    entity::membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(other),
        user_id: Set(member_id),
        role: Set("ADMIN".into()),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    // Warm the cache of the member's session: the removal must not wait for it to expire.
    assert!(app.gql(Some(&member), ME, json!({})).await["errors"].is_null());
    let v = app
        .gql(
            Some(&owner),
            "mutation($u: ID!) { removeMember(userId: $u) { role } }",
            json!({"u": member_id}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let v = app.gql(Some(&member), ME, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(Some(&member), SWITCH, json!({"id": other})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
}

/// S19: a token naming no session (the server never issues one) is refused.
#[tokio::test]
async fn s19_token_without_session_is_refused() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let (user, _) = {
        app.ensure_org(org).await;
        app.member(org, Role::Owner, "Sid").await
    };
    let bare = app
        .state
        .tokens
        .issue(user, org, Role::Owner, None)
        .unwrap()
        .0;
    let v = app.gql(Some(&bare), "{ viewer { role } }", json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
}

/// S2: a role change takes effect at once: the old token (old role) stops, a refresh gives the
/// new role, and the member's open WebSocket closes with 4403.
#[tokio::test]
async fn s2_role_change_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let (_, owner_login) = signed_up(&app).await;
    let owner = s(&owner_login["accessToken"]);
    let invitee = format!("rita+{}@example.com", Uuid::now_v7().simple());
    app.gql(
        Some(&owner),
        "mutation($e: String!) { inviteMember(input: {email: $e, role: ADMIN}) { id } }",
        json!({"e": invitee}),
    )
    .await;
    let token = extract_after(
        &wait_for_mail(&app, &invitee).await,
        "/accept-invitation?token=",
    );
    let v = app
        .gql(
            None,
            "mutation($t: String!) { acceptInvitation(token: $t, name: \"Rita\", password: \"rita's good password\") { accessToken refreshToken user { id } } }",
            json!({"t": token}),
        )
        .await;
    let acc = &v["data"]["acceptInvitation"];
    let (rita, rita_refresh, rita_id) = (
        s(&acc["accessToken"]),
        s(&acc["refreshToken"]),
        s(&acc["user"]["id"]),
    );
    let v = app.gql(Some(&rita), "{ viewer { role } }", json!({})).await;
    assert_eq!(v["data"]["viewer"]["role"], "ADMIN");
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&rita).await;

    let v = app
        .gql(
            Some(&owner),
            "mutation($u: ID!) { updateMemberRole(userId: $u, role: VIEWER) { role } }",
            json!({"u": rita_id}),
        )
        .await;
    assert_eq!(v["data"]["updateMemberRole"]["role"], "VIEWER", "{v}");
    // The ADMIN token is refused at once (it still has minutes to live).
    let v = app
        .gql(
            Some(&rita),
            "{ apiKeys(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    assert_eq!(ws.expect_close(10).await, 4403);
    // A refresh carries the new role.
    let v = app
        .gql(
            None,
            "mutation($t: String!) { refreshAccessToken(refreshToken: $t) { accessToken role } }",
            json!({"t": rita_refresh}),
        )
        .await;
    assert_eq!(v["data"]["refreshAccessToken"]["role"], "VIEWER", "{v}");
    let fresh = s(&v["data"]["refreshAccessToken"]["accessToken"]);
    let v = app
        .gql(
            Some(&fresh),
            "{ apiKeys(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
}

/// S2: operations sent over an open WebSocket get the same checks as HTTP requests: after
/// logout, a mutation over the socket is refused and the socket closes with 4403.
#[tokio::test]
async fn s2_websocket_operations_are_checked_like_http() {
    let app = TestApp::spawn().await;
    let (_, login) = signed_up(&app).await;
    let (access, refresh) = (s(&login["accessToken"]), s(&login["refreshToken"]));
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&access).await;
    ws.send(json!({"type": "subscribe", "id": "1", "payload": {"query": "mutation { updateMe(input: {name: \"Before\"}) { name } }"}}))
        .await;
    let v = ws.next_json(5).await;
    assert_eq!(v["payload"]["data"]["updateMe"]["name"], "Before", "{v}");
    app.gql(
        None,
        "mutation($t: String!) { logout(refreshToken: $t) }",
        json!({"t": refresh}),
    )
    .await;
    // The logout's `access.revoked` event may close the socket first (4403) or the re-check of
    // this operation refuses it (4403); if the close wins, the send below can also meet a reset
    // connection. Either way the socket ends without a result for operation 2.
    use futures::{SinkExt, StreamExt};
    let _ = ws
        .stream
        .send(tokio_tungstenite::tungstenite::Message::Text(
            json!({"type": "subscribe", "id": "2", "payload": {"query": "mutation { updateMe(input: {name: \"After\"}) { name } }"}})
                .to_string()
                .into(),
        ))
        .await;
    // How the socket ended: its close code, or None for a reset after the server closed.
    let ended: Option<u16> = loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.stream.next())
            .await
            .expect("the socket must end, not stay open");
        match msg {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                assert_ne!(v["id"], "2", "operation 2 must not run: {v}");
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => {
                break f.map(|f| u16::from(f.code));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break None,
        }
    };
    assert!(matches!(ended, None | Some(4403)), "{ended:?}");
    let name: String = entity::user::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .find(|n| n == "After")
        .unwrap_or_default();
    assert_eq!(name, "", "the mutation after logout must not run");
}

/// S2: a WebSocket closes (4403) when its access token expires, unless the client sends a fresh
/// token first (a `ping` whose payload carries it).
#[tokio::test]
async fn s2_websocket_closes_when_its_token_expires_unless_reauthenticated() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    app.ensure_org(org).await;
    let (user, fresh) = app.member(org, Role::Member, "Exp").await;
    let short = || app.session_token_for(user, org, Role::Member, chrono::Duration::seconds(2));

    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&short().await).await;
    assert_eq!(ws.expect_close(8).await, 4403);

    // Re-authenticated before expiry with a long-lived token: still open after the short one's
    // expiry, and it answers a ping.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&short().await).await;
    ws.send(json!({"type": "ping", "payload": {"authorization": format!("Bearer {fresh}")}}))
        .await;
    assert_eq!(ws.next_json(5).await["type"], "pong");
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    ws.send(json!({"type": "ping"})).await;
    match ws.next_frame(5).await {
        Some(Frame::Json(v)) => assert_eq!(v["type"], "pong", "{v}"),
        _ => panic!("the re-authenticated socket closed"),
    }
    // Re-authenticating as somebody else closes it.
    let (_, stranger) = app.member(org, Role::Member, "Other").await;
    ws.send(json!({"type": "ping", "payload": {"authorization": format!("Bearer {stranger}")}}))
        .await;
    assert_eq!(ws.expect_close(5).await, 4403);
}

async fn create_key(app: &TestApp, token: &str, role: &str) -> (String, String) {
    let v = app
        .gql(
            Some(token),
            "mutation($r: Role!) { createApiKey(input: {name: \"Zapier\", role: $r}) { secret apiKey { id } } }",
            json!({"r": role}),
        )
        .await;
    let p = &v["data"]["createApiKey"];
    (s(&p["secret"]), s(&p["apiKey"]["id"]))
}

/// S3: an API key acts at most with its creator's current role, stops when the creator leaves,
/// is listed as orphaned, and works again once reassigned.
#[tokio::test]
async fn s3_api_keys_follow_their_creator() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let owner = app.token(org, Role::Owner).await;
    let (admin_id, admin) = app.member(org, Role::Admin, "Ada").await;
    let (key, key_id) = create_key(&app, &admin, "ADMIN").await;
    let role_of = |v: &Value| v["data"]["viewer"]["role"].clone();
    let v = app.gql(Some(&key), "{ viewer { role } }", json!({})).await;
    assert_eq!(role_of(&v), "ADMIN", "{v}");

    let set_role =
        "mutation($u: ID!, $r: Role!) { updateMemberRole(userId: $u, role: $r) { role } }";
    app.gql(
        Some(&owner),
        set_role,
        json!({"u": admin_id, "r": "MEMBER"}),
    )
    .await;
    let v = app.gql(Some(&key), "{ viewer { role } }", json!({})).await;
    assert_eq!(role_of(&v), "MEMBER", "capped by the creator's role: {v}");
    let v = app
        .gql(
            Some(&key),
            "{ apiKeys(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");

    app.gql(
        Some(&owner),
        "mutation($u: ID!) { removeMember(userId: $u) { role } }",
        json!({"u": admin_id}),
    )
    .await;
    let v = app.gql(Some(&key), "{ viewer { role } }", json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");

    let v = app
        .gql(
            Some(&owner),
            "{ apiKeys(first: 10) { nodes { id createdById creatorIsMember } } }",
            json!({}),
        )
        .await;
    let node = &v["data"]["apiKeys"]["nodes"][0];
    assert_eq!(node["id"], key_id.as_str(), "{v}");
    assert_eq!(node["creatorIsMember"], false, "{v}");
    assert_eq!(node["createdById"], admin_id.to_string().as_str());

    // Reassigned to a member below the key's role: refused; to the owner: works again.
    let (viewer_id, _) = app.member(org, Role::Viewer, "Vic").await;
    let reassign =
        "mutation($k: ID!, $u: ID!) { reassignApiKey(id: $k, userId: $u) { creatorIsMember } }";
    let v = app
        .gql(Some(&owner), reassign, json!({"k": key_id, "u": viewer_id}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    let owner_id = s(&app.gql(Some(&owner), ME, json!({})).await["data"]["me"]["id"]);
    let v = app
        .gql(Some(&owner), reassign, json!({"k": key_id, "u": owner_id}))
        .await;
    assert_eq!(v["data"]["reassignApiKey"]["creatorIsMember"], true, "{v}");
    let v = app.gql(Some(&key), "{ viewer { role } }", json!({})).await;
    assert_eq!(role_of(&v), "ADMIN", "{v}");
}

/// S22: an API key is no person: no `me`, no personal inbox, no password change.
#[tokio::test]
async fn s22_api_keys_have_no_personal_account() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let owner = app.token(org, Role::Owner).await;
    let (key, _) = create_key(&app, &owner, "ADMIN").await;
    for q in [
        "{ me { id } }",
        "{ notifications(first: 5) { totalCount } }",
        "{ unreadNotificationCount }",
        "mutation { markAllNotificationsRead }",
        "mutation { changePassword(currentPassword: \"x\", newPassword: \"long enough password\") }",
    ] {
        let v = app.gql(Some(&key), q, json!({})).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{q}: {v}");
    }
    // Organization data stays available to the key.
    let v = app
        .gql(Some(&key), "{ leads(first: 1) { totalCount } }", json!({}))
        .await;
    assert!(v["errors"].is_null(), "{v}");
}

/// S5: pending invitations are listed and can be revoked; an invitation dies when its inviter
/// loses the right to invite.
#[tokio::test]
async fn s5_invitations_listed_revoked_and_bound_to_the_inviter() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let owner = app.token(org, Role::Owner).await;
    let (admin_id, admin) = app.member(org, Role::Admin, "Ina").await;
    let invite = "mutation($e: String!) { inviteMember(input: {email: $e, role: MEMBER}) { id } }";
    let a = format!("a+{}@example.com", Uuid::now_v7().simple());
    let b = format!("b+{}@example.com", Uuid::now_v7().simple());
    let a_id =
        s(&app.gql(Some(&owner), invite, json!({"e": a})).await["data"]["inviteMember"]["id"]);
    app.gql(Some(&admin), invite, json!({"e": b})).await;
    let list = "{ invitations(first: 10) { totalCount nodes { email } } }";
    let v = app.gql(Some(&owner), list, json!({})).await;
    assert_eq!(v["data"]["invitations"]["totalCount"], 2, "{v}");
    let (_, member) = app.member(org, Role::Member, "Mo").await;
    assert_eq!(
        code(&app.gql(Some(&member), list, json!({})).await),
        Some("FORBIDDEN")
    );

    let v = app
        .gql(
            Some(&owner),
            "mutation($i: ID!) { revokeInvitation(id: $i) { email } }",
            json!({"i": a_id}),
        )
        .await;
    assert_eq!(v["data"]["revokeInvitation"]["email"], a.as_str(), "{v}");
    let v = app.gql(Some(&owner), list, json!({})).await;
    assert_eq!(v["data"]["invitations"]["totalCount"], 1, "{v}");
    let accept = "mutation($t: String!) { acceptInvitation(token: $t, name: \"New\", password: \"a fine password\") { role } }";
    let token_a = extract_after(&wait_for_mail(&app, &a).await, "/accept-invitation?token=");
    assert_eq!(
        code(&app.gql(None, accept, json!({"t": token_a})).await),
        Some("BAD_USER_INPUT")
    );

    // The admin who invited b is demoted: b's link is dead.
    app.gql(
        Some(&owner),
        "mutation($u: ID!) { updateMemberRole(userId: $u, role: MEMBER) { role } }",
        json!({"u": admin_id}),
    )
    .await;
    let token_b = extract_after(&wait_for_mail(&app, &b).await, "/accept-invitation?token=");
    let v = app.gql(None, accept, json!({"t": token_b})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
}

/// S26: `register` answers the same for a taken address (its owner is mailed instead), and an
/// invitation to an existing account needs that account's password or session.
#[tokio::test]
async fn s26_register_hides_accounts_and_invitations_need_the_account() {
    let app = TestApp::spawn().await;
    let (email, login) = signed_up(&app).await;
    let register = "mutation($e: String!) { register(input: {email: $e, password: \"another password\", name: \"Eve\", organizationName: \"Eve Inc\"}) { verificationRequired user { id } organization { id } } }";
    let fresh = format!("new+{}@example.com", Uuid::now_v7().simple());
    let taken = app.gql(None, register, json!({"e": email})).await;
    let new = app.gql(None, register, json!({"e": fresh})).await;
    assert!(taken["errors"].is_null(), "{taken}");
    assert_eq!(
        taken["data"], new["data"],
        "same answer for a taken address"
    );
    wait_for_mail_containing(&app, &email, "already has one").await;

    // Invited into another organization: the link alone does not join the existing account.
    let org = Uuid::now_v7();
    let owner = app.token(org, Role::Owner).await;
    app.gql(
        Some(&owner),
        "mutation($e: String!) { inviteMember(input: {email: $e, role: MEMBER}) { id } }",
        json!({"e": email}),
    )
    .await;
    let mail = wait_for_mail_containing(&app, &email, "/accept-invitation?token=").await;
    let token = extract_after(&mail, "/accept-invitation?token=");
    let accept =
        "mutation($t: String!, $p: String) { acceptInvitation(token: $t, password: $p) { role } }";
    let v = app.gql(None, accept, json!({"t": token})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app
        .gql(None, accept, json!({"t": token, "p": "not the password"}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    // Signed in as that account, it works.
    let access = s(&login["accessToken"]);
    let v = app.gql(Some(&access), accept, json!({"t": token})).await;
    assert_eq!(v["data"]["acceptInvitation"]["role"], "MEMBER", "{v}");
}

/// S20: sign-in is throttled per account across IPs, and failed attempts on an existing account
/// are audited in its organization.
#[tokio::test]
async fn s20_login_throttled_per_account_and_failures_audited() {
    let app = TestApp::spawn_with(crate::helpers::Options {
        env: [(
            "RATE_LIMIT_LOGIN_PER_ACCOUNT_PER_HOUR".to_string(),
            "3".to_string(),
        )]
        .into(),
        ..Default::default()
    })
    .await;
    let (email, login) = signed_up(&app).await; // one attempt used
    let org = s(&login["organization"]["id"]);
    let mut codes = Vec::new();
    // The per-IP budget (20 a minute) is far away; the account's (3 an hour) is what stops the
    // third failure, whatever the case of the address.
    for _ in 0..3 {
        let v = app
            .gql(
                None,
                LOGIN,
                json!({"e": email.to_uppercase(), "p": "wrong password!"}),
            )
            .await;
        codes.push(code(&v).unwrap_or("none").to_string());
    }
    assert_eq!(
        codes,
        ["UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]
    );

    let admin = app
        .session_token(
            s(&app
                .gql(Some(&s(&login["accessToken"])), ME, json!({}))
                .await["data"]["me"]["id"])
            .parse()
            .unwrap(),
            org.parse().unwrap(),
            Role::Owner,
        )
        .await;
    let v = app
        .gql(
            Some(&admin),
            "{ auditLogs(first: 20) { nodes { action outcome } } }",
            json!({}),
        )
        .await;
    let failed = v["data"]["auditLogs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["action"] == "login" && n["outcome"] == "UNAUTHENTICATED")
        .count();
    assert_eq!(failed, 2, "{v}");
}

/// S19's cost: the session check asks the database on a cache miss only (two statements), not
/// on every request.
#[tokio::test]
async fn session_checks_are_cached() {
    let app = TestApp::spawn_with(crate::helpers::Options {
        env: [("RECORD_SQL".to_string(), "true".to_string())].into(),
        ..Default::default()
    })
    .await;
    let org = Uuid::now_v7();
    let token = app.token(org, Role::Member).await;
    let checks = |log: Vec<String>| {
        log.iter()
            .filter(|s| s.contains("\"refresh_tokens\"") || s.contains("\"memberships\""))
            .count()
    };
    app.state.sql_log.take();
    app.gql(Some(&token), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(
        checks(app.state.sql_log.take()),
        2,
        "first request: a cache miss"
    );
    app.gql(Some(&token), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(
        checks(app.state.sql_log.take()),
        0,
        "second request: cached"
    );
}
