//! Organizations, members, invitations, teams, password flows, audit log, the role table and
//! tenant isolation.

use leadgraph::{
    auth::Role,
    jobs::{queue, NewJob},
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::token_of,
    helpers::{code, extract_after, wait_for_mail, wait_for_mail_containing, TestApp},
    identity::signed_up,
};

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken refreshToken role organization { id } } }";

#[tokio::test]
async fn invite_accept_roles_teams_and_switching() {
    let app = TestApp::spawn().await;
    let (_, owner_login) = signed_up(&app).await;
    let owner = token_of(&owner_login);
    let org_a = owner_login["organization"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Invite a new person as MEMBER; they accept with a name and password.
    let invitee = format!("grace+{}@example.com", Uuid::now_v7().simple());
    let v = app
        .gql(Some(&owner), "mutation($e: String!) { inviteMember(input: {email: $e, role: MEMBER}) { email role } }", json!({"e": invitee}))
        .await;
    assert_eq!(v["data"]["inviteMember"]["role"], "MEMBER", "{v}");
    let mail = wait_for_mail(&app, &invitee).await;
    let token = extract_after(&mail, "/accept-invitation?token=");
    let accept = "mutation($t: String!, $n: String, $p: String) { acceptInvitation(token: $t, name: $n, password: $p) { accessToken role organization { id } user { id email emailVerified } } }";
    let v = app
        .gql(None, accept, json!({"t": token, "n": "Grace Hopper"}))
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "password"
    );
    let v = app
        .gql(
            None,
            accept,
            json!({"t": token, "n": "Grace Hopper", "p": "another good password"}),
        )
        .await;
    let acc = &v["data"]["acceptInvitation"];
    assert_eq!(acc["role"], "MEMBER", "{v}");
    assert_eq!(acc["organization"]["id"], org_a.as_str());
    assert_eq!(acc["user"]["emailVerified"], true);
    let grace_id = acc["user"]["id"].as_str().unwrap().to_string();
    let grace = token_of(acc);
    // The token is single use.
    assert_eq!(
        code(
            &app.gql(
                None,
                accept,
                json!({"t": token, "n": "X", "p": "another good password"})
            )
            .await
        ),
        Some("BAD_USER_INPUT")
    );

    // Members list (users come through the batch loader).
    let v = app
        .gql(
            Some(&grace),
            "{ members { totalCount nodes { role user { email } } } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["members"]["totalCount"], 2);
    let emails: Vec<&str> = v["data"]["members"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["user"]["email"].as_str().unwrap())
        .collect();
    assert!(emails.contains(&invitee.as_str()));

    // Roles: a MEMBER cannot promote; the OWNER can; the last OWNER cannot step down.
    let set_role =
        "mutation($u: ID!, $r: Role!) { updateMemberRole(userId: $u, role: $r) { role } }";
    assert_eq!(
        code(
            &app.gql(Some(&grace), set_role, json!({"u": grace_id, "r": "ADMIN"}))
                .await
        ),
        Some("FORBIDDEN")
    );
    let v = app
        .gql(
            Some(&owner),
            set_role,
            json!({"u": grace_id, "r": "MANAGER"}),
        )
        .await;
    assert_eq!(v["data"]["updateMemberRole"]["role"], "MANAGER");
    let owner_id = app.gql(Some(&owner), "{ me { id } }", json!({})).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        code(
            &app.gql(Some(&owner), set_role, json!({"u": owner_id, "r": "ADMIN"}))
                .await
        ),
        Some("CONFLICT")
    );

    // Grace also owns an organization of her own: switching between them.
    let v = app
        .gql(
            None,
            "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }",
            json!({"i": {"email": invitee, "password": "x", "name": "G", "organizationName": "Y"}}),
        )
        .await;
    assert!(
        v["data"]["register"]["user"].is_null(),
        "an existing email cannot register again (and is not told so): {v}"
    );
    // Grace's token still says MEMBER: it stopped working with the role change (S2).
    let v = app.gql(Some(&grace), "{ me { id } }", json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    // Teams (MANAGER+ now that Grace is a manager — she signs in again for the new role).
    let v = app
        .gql(
            None,
            LOGIN,
            json!({"e": invitee, "p": "another good password"}),
        )
        .await;
    let grace = token_of(&v["data"]["login"]);
    let v = app
        .gql(
            Some(&grace),
            "mutation($id: ID!) { switchOrganization(id: $id) { role } }",
            json!({"id": Uuid::now_v7().to_string()}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"));
    let create = "mutation($n: String!) { createTeam(input: {name: $n, description: \"Outbound\"}) { id name members { email } } }";
    let v = app.gql(Some(&grace), create, json!({"n": "Sales"})).await;
    let team_id = v["data"]["createTeam"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        code(&app.gql(Some(&grace), create, json!({"n": "Sales"})).await),
        Some("CONFLICT")
    );
    let add = "mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, userId: $u) { members { email } } }";
    let v = app
        .gql(Some(&grace), add, json!({"t": team_id, "u": grace_id}))
        .await;
    assert_eq!(
        v["data"]["addTeamMember"]["members"][0]["email"],
        invitee.as_str()
    );
    assert_eq!(
        code(
            &app.gql(
                Some(&grace),
                add,
                json!({"t": team_id, "u": Uuid::now_v7().to_string()})
            )
            .await
        ),
        Some("NOT_FOUND")
    );
    let v = app
        .gql(Some(&grace), "mutation($t: ID!) { updateTeam(id: $t, input: {name: \"Sales EU\"}) { name description } }", json!({"t": team_id}))
        .await;
    assert_eq!(
        v["data"]["updateTeam"],
        json!({"name": "Sales EU", "description": "Outbound"})
    );

    // Removing Grace ends her membership (and her team membership).
    let v = app
        .gql(
            Some(&owner),
            "mutation($u: ID!) { removeMember(userId: $u) { role } }",
            json!({"u": grace_id}),
        )
        .await;
    assert_eq!(v["data"]["removeMember"]["role"], "MANAGER");
    let v = app
        .gql(
            Some(&owner),
            "{ teams { nodes { members { email } } } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["teams"]["nodes"][0]["members"], json!([]));
    let v = app
        .gql(
            None,
            LOGIN,
            json!({"e": invitee, "p": "another good password"}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "no organization left");

    // The audit log saw all of it, with origin and the team rename as a diff.
    let v = app
        .gql(Some(&owner), "{ auditLogs(first: 100) { totalCount nodes { action outcome resourceType ip requestId changes } } }", json!({}))
        .await;
    let nodes = v["data"]["auditLogs"]["nodes"].as_array().unwrap().clone();
    let find = |a: &str| {
        nodes
            .iter()
            .find(|n| n["action"] == a)
            .cloned()
            .unwrap_or_else(|| panic!("{a} missing: {v}"))
    };
    let rename = find("updateTeam");
    assert_eq!(
        rename["changes"],
        json!({"name": {"from": "Sales", "to": "Sales EU"}})
    );
    assert_eq!(rename["resourceType"], "team");
    // The socket peer (no trusted proxies in the test harness).
    assert_eq!(rename["ip"], "127.0.0.1");
    assert!(!rename["requestId"].as_str().unwrap().is_empty());
    let denied = nodes
        .iter()
        .find(|n| n["action"] == "updateMemberRole" && n["outcome"] == "FORBIDDEN");
    assert!(denied.is_some(), "failed attempts are recorded too");
    for a in [
        "register",
        "inviteMember",
        "acceptInvitation",
        "createTeam",
        "addTeamMember",
        "removeMember",
    ] {
        find(a);
    }
    // CSV export, and ADMIN+ only.
    let v = app
        .gql(
            Some(&owner),
            "{ exportAuditLogs(filter: {action: \"updateTeam\"}) }",
            json!({}),
        )
        .await;
    let csv = v["data"]["exportAuditLogs"].as_str().unwrap();
    assert!(csv.starts_with("id,created_at,action,outcome"));
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let member = app
        .token(Uuid::parse_str(&org_a).unwrap(), Role::Member)
        .await;
    assert_eq!(
        code(
            &app.gql(Some(&member), "{ auditLogs { totalCount } }", json!({}))
                .await
        ),
        Some("FORBIDDEN")
    );
}

#[tokio::test]
async fn password_reset_and_change() {
    let app = TestApp::spawn().await;
    let (email, login) = signed_up(&app).await;
    let old_refresh = login["refreshToken"].as_str().unwrap().to_string();
    let req = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    // Same answer for unknown addresses; invalid addresses are input errors.
    assert_eq!(
        app.gql(None, req, json!({"e": "nobody@example.com"})).await["data"]
            ["requestPasswordReset"],
        true
    );
    assert_eq!(
        code(&app.gql(None, req, json!({"e": "not an email"})).await),
        Some("BAD_USER_INPUT")
    );
    assert_eq!(
        app.gql(None, req, json!({"e": email})).await["data"]["requestPasswordReset"],
        true
    );
    let mail = wait_for_mail_containing(&app, &email, "reset-password").await;
    let token = extract_after(&mail, "/reset-password?token=");
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { email } }";
    assert_eq!(
        code(
            &app.gql(None, reset, json!({"t": token, "p": "short"}))
                .await
        ),
        Some("BAD_USER_INPUT")
    );
    let v = app
        .gql(None, reset, json!({"t": token, "p": "brand new password"}))
        .await;
    assert_eq!(v["data"]["resetPassword"]["email"], email.as_str(), "{v}");
    assert_eq!(
        code(
            &app.gql(
                None,
                reset,
                json!({"t": token, "p": "brand new password 2"})
            )
            .await
        ),
        Some("BAD_USER_INPUT")
    );
    // Every session ended; the new password works, the old one does not.
    let refresh = "mutation($t: String!) { refreshAccessToken(refreshToken: $t) { accessToken } }";
    assert_eq!(
        code(&app.gql(None, refresh, json!({"t": old_refresh})).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(
            &app.gql(
                None,
                LOGIN,
                json!({"e": email, "p": "correct horse battery"})
            )
            .await
        ),
        Some("UNAUTHENTICATED")
    );
    let v = app
        .gql(None, LOGIN, json!({"e": email, "p": "brand new password"}))
        .await;
    let access = token_of(&v["data"]["login"]);

    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let v = app
        .gql(
            Some(&access),
            change,
            json!({"c": "wrong current pw", "n": "third password!"}),
        )
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "currentPassword"
    );
    let v = app
        .gql(
            Some(&access),
            change,
            json!({"c": "brand new password", "n": "third password!"}),
        )
        .await;
    assert_eq!(v["data"]["changePassword"], true);
    let v = app
        .gql(
            Some(&access),
            "mutation { updateMe(input: {name: \"Ada King\"}) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["updateMe"]["name"], "Ada King");
    assert_eq!(
        code(
            &app.gql(
                Some(&access),
                "mutation { updateMe(input: {name: \"\"}) { name } }",
                json!({})
            )
            .await
        ),
        Some("BAD_USER_INPUT")
    );
}

/// Each role × each guarded operation: allowed (anything but FORBIDDEN) or FORBIDDEN, exactly as
/// the role table says. Objects are random ids, so allowed roles get NOT_FOUND and change nothing.
#[tokio::test]
async fn the_role_table_is_enforced_for_every_guarded_operation() {
    let app = TestApp::spawn().await;
    let (_, login) = signed_up(&app).await;
    let org = Uuid::parse_str(login["organization"]["id"].as_str().unwrap()).unwrap();
    let r = || Uuid::now_v7().to_string();
    let ops: Vec<(&str, String, Value, Role)> = vec![
        (
            "updateOrganization",
            "mutation { updateOrganization(input: {name: \"Renamed\"}) { id } }".into(),
            json!({}),
            Role::Admin,
        ),
        (
            "inviteMember",
            "mutation($e: String!) { inviteMember(input: {email: $e, role: VIEWER}) { id } }"
                .into(),
            json!({"e": format!("x{}@example.com", Uuid::now_v7().simple())}),
            Role::Admin,
        ),
        (
            "updateMemberRole",
            "mutation($u: ID!) { updateMemberRole(userId: $u, role: VIEWER) { id } }".into(),
            json!({"u": r()}),
            Role::Admin,
        ),
        (
            "removeMember",
            "mutation($u: ID!) { removeMember(userId: $u) { id } }".into(),
            json!({"u": r()}),
            Role::Admin,
        ),
        (
            "createApiKey",
            "mutation { createApiKey(input: {name: \"k\", role: VIEWER}) { secret } }".into(),
            json!({}),
            Role::Admin,
        ),
        (
            "revokeApiKey",
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }".into(),
            json!({"id": r()}),
            Role::Admin,
        ),
        (
            "apiKeys",
            "{ apiKeys { totalCount } }".into(),
            json!({}),
            Role::Admin,
        ),
        (
            "auditLogs",
            "{ auditLogs { totalCount } }".into(),
            json!({}),
            Role::Admin,
        ),
        (
            "exportAuditLogs",
            "{ exportAuditLogs }".into(),
            json!({}),
            Role::Admin,
        ),
        (
            "createTeam",
            "mutation($n: String!) { createTeam(input: {name: $n}) { id } }".into(),
            json!({"n": r()}),
            Role::Manager,
        ),
        (
            "updateTeam",
            "mutation($id: ID!) { updateTeam(id: $id, input: {name: \"n\"}) { id } }".into(),
            json!({"id": r()}),
            Role::Manager,
        ),
        (
            "deleteTeam",
            "mutation($id: ID!) { deleteTeam(id: $id) { id } }".into(),
            json!({"id": r()}),
            Role::Manager,
        ),
        (
            "addTeamMember",
            "mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, userId: $u) { id } }".into(),
            json!({"t": r(), "u": r()}),
            Role::Manager,
        ),
        (
            "removeTeamMember",
            "mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, userId: $u) { id } }".into(),
            json!({"t": r(), "u": r()}),
            Role::Manager,
        ),
        (
            "cancelJob",
            "mutation($id: ID!) { cancelJob(id: $id) { id } }".into(),
            json!({"id": r()}),
            Role::Manager,
        ),
        (
            "retryJob",
            "mutation($id: ID!) { retryJob(id: $id) { id } }".into(),
            json!({"id": r()}),
            Role::Manager,
        ),
        (
            "members",
            "{ members { totalCount } }".into(),
            json!({}),
            Role::Viewer,
        ),
        (
            "teams",
            "{ teams { totalCount } }".into(),
            json!({}),
            Role::Viewer,
        ),
        (
            "jobs",
            "{ jobs { totalCount } }".into(),
            json!({}),
            Role::Viewer,
        ),
        (
            "leads",
            "{ leads { totalCount } }".into(),
            json!({}),
            Role::Viewer,
        ),
        (
            "leadStats",
            "{ leadStats { total } }".into(),
            json!({}),
            Role::Viewer,
        ),
        (
            "createLead",
            "mutation { createLead(input: {company: \"Acme\"}) { id } }".into(),
            json!({}),
            Role::Member,
        ),
        (
            "updateLead",
            "mutation($id: ID!) { updateLead(id: $id, input: {company: \"B\"}) { id } }".into(),
            json!({"id": r()}),
            Role::Member,
        ),
        (
            "addLeadNote",
            "mutation($id: ID!) { addLeadNote(leadId: $id, body: \"b\") { id } }".into(),
            json!({"id": r()}),
            Role::Member,
        ),
        (
            "assignLead",
            "mutation($id: ID!) { assignLead(id: $id, userId: null) { id } }".into(),
            json!({"id": r()}),
            Role::Member,
        ),
        (
            "deleteLead",
            "mutation($id: ID!) { deleteLead(id: $id) }".into(),
            json!({"id": r()}),
            Role::Manager,
        ),
        (
            "deleteLeads",
            "mutation($id: ID!) { deleteLeads(ids: [$id]) { deleted } }".into(),
            json!({"id": r()}),
            Role::Manager,
        ),
        (
            "sendNotification",
            "mutation($u: ID!) { sendNotification(input: {userId: $u, title: \"t\"}) }".into(),
            json!({"u": r()}),
            Role::Admin,
        ),
        (
            "notificationStats(organizationWide)",
            "{ notificationStats(organizationWide: true) { sent } }".into(),
            json!({}),
            Role::Admin,
        ),
    ];
    for role in [
        Role::Viewer,
        Role::Member,
        Role::Manager,
        Role::Admin,
        Role::Owner,
    ] {
        let token = app.token(org, role).await;
        for (name, query, vars, min) in &ops {
            let v = app.gql(Some(&token), query, vars.clone()).await;
            let forbidden = code(&v) == Some("FORBIDDEN");
            assert_eq!(forbidden, role < *min, "{name} as {role:?}: {v}");
        }
    }
}

/// Every ID-taking operation, given another organization's id, answers exactly like a missing
/// id and changes nothing.
#[tokio::test]
async fn another_organizations_ids_read_as_missing() {
    let app = TestApp::spawn().await;
    let (_, a) = signed_up(&app).await;
    let (_, b) = signed_up(&app).await;
    let (a_tok, b_tok) = (token_of(&a), token_of(&b));
    let b_org = Uuid::parse_str(b["organization"]["id"].as_str().unwrap()).unwrap();
    // Objects of organization B.
    let team = app
        .gql(
            Some(&b_tok),
            "mutation { createTeam(input: {name: \"B team\"}) { id } }",
            json!({}),
        )
        .await["data"]["createTeam"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = app
        .gql(
            Some(&b_tok),
            "mutation { createApiKey(input: {name: \"b\", role: VIEWER}) { apiKey { id } } }",
            json!({}),
        )
        .await["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b_user = app.gql(Some(&b_tok), "{ me { id } }", json!({})).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = queue::enqueue(
        &app.state.db,
        NewJob {
            org_id: Some(b_org),
            ..NewJob::new("k", json!({}))
        },
    )
    .await
    .unwrap()
    .id
    .to_string();

    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "mutation($id: ID!) { updateTeam(id: $id, input: {name: \"hijack\"}) { id } }",
            json!({"id": team}),
            json!({"id": Uuid::now_v7().to_string()}),
        ),
        (
            "mutation($id: ID!) { deleteTeam(id: $id) { id } }",
            json!({"id": team}),
            json!({"id": Uuid::now_v7().to_string()}),
        ),
        (
            "mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, userId: $u) { id } }",
            json!({"t": team, "u": b_user}),
            json!({"t": Uuid::now_v7().to_string(), "u": b_user}),
        ),
        (
            "mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, userId: $u) { id } }",
            json!({"t": team, "u": b_user}),
            json!({"t": Uuid::now_v7().to_string(), "u": b_user}),
        ),
        (
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({"id": key}),
            json!({"id": Uuid::now_v7().to_string()}),
        ),
        (
            "mutation($u: ID!) { updateMemberRole(userId: $u, role: VIEWER) { id } }",
            json!({"u": b_user}),
            json!({"u": Uuid::now_v7().to_string()}),
        ),
        (
            "mutation($u: ID!) { removeMember(userId: $u) { id } }",
            json!({"u": b_user}),
            json!({"u": Uuid::now_v7().to_string()}),
        ),
        (
            "mutation($id: ID!) { switchOrganization(id: $id) { accessToken } }",
            json!({"id": b_org.to_string()}),
            json!({"id": Uuid::now_v7().to_string()}),
        ),
        (
            "mutation($id: ID!) { cancelJob(id: $id) { id } }",
            json!({"id": job}),
            json!({"id": Uuid::now_v7().to_string()}),
        ),
        (
            "mutation($id: ID!) { retryJob(id: $id) { id } }",
            json!({"id": job}),
            json!({"id": Uuid::now_v7().to_string()}),
        ),
        (
            "query($id: ID!) { team(id: $id) { id } }",
            json!({"id": team}),
            json!({"id": Uuid::now_v7().to_string()}),
        ),
        (
            "query($id: ID!) { job(id: $id) { id } }",
            json!({"id": job}),
            json!({"id": Uuid::now_v7().to_string()}),
        ),
    ];
    for (q, theirs, missing) in cases {
        let a_theirs = app.gql(Some(&a_tok), q, theirs).await;
        let a_missing = app.gql(Some(&a_tok), q, missing).await;
        assert_eq!(a_theirs["data"], a_missing["data"], "{q}");
        assert_eq!(
            a_theirs["errors"][0]["message"], a_missing["errors"][0]["message"],
            "{q}"
        );
        assert_eq!(code(&a_theirs), code(&a_missing), "{q}");
    }
    // Nothing of B changed.
    let v = app.gql(Some(&b_tok), "{ teams { nodes { name } } apiKeys { nodes { revokedAt } } members { nodes { role } } jobs { nodes { state } } }", json!({})).await;
    assert_eq!(v["data"]["teams"]["nodes"][0]["name"], "B team");
    assert!(v["data"]["apiKeys"]["nodes"][0]["revokedAt"].is_null());
    assert_eq!(v["data"]["members"]["nodes"][0]["role"], "OWNER");
    assert_eq!(v["data"]["jobs"]["nodes"][0]["state"], "QUEUED");
}
