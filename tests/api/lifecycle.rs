//! The account lifecycle (API.md 5): delete, export, login history.

use serde_json::json;

use crate::db_tests;
use crate::helpers::{TestApp, PASSWORD};

db_tests!(
    deleting_an_account,
    last_owner_of_a_shared_organization_cannot_delete,
    export_holds_everything_but_secrets,
    login_history_is_paginated
);

async fn deleting_an_account(app: TestApp) {
    let (leaver, own_org) = app.user("leaver@example.com").await;
    let (owner, shared) = app.user("keeper@example.com").await;
    let (_, membership) = {
        // The leaver joins the keeper's organization as an admin.
        owner
            .post(
                &format!("/api/user/organizations/{shared}/invites"),
                json!({ "emails": ["leaver@example.com"], "role": "admin" }),
            )
            .await
            .assert(201, "OK");
        let token = crate::helpers::token_from(&app.email_to("leaver@example.com", "/invites/").await, "/invites/");
        let r = leaver.post(&format!("/api/user/invites/{token}/accept"), json!({})).await;
        r.assert(200, "OK");
        ((), r.id())
    };
    leaver
        .post(&format!("/api/user/organizations/{shared}/projects"), json!({ "name": "Left behind" }))
        .await
        .assert(201, "OK");
    let (key, _) = leaver.create_key(&["user:read"], None).await;
    let other_session = app.client();
    other_session.sign_in("leaver@example.com", PASSWORD).await.assert(200, "OK");
    let uid = leaver.get("/api/user/me").await.id();

    app.with_key(&key)
        .send(
            app.with_key(&key).request(reqwest::Method::DELETE, "/api/user/me").json(&json!({ "password": PASSWORD })),
        )
        .await
        .assert(403, "SESSION_REQUIRED");
    let wrong = leaver
        .send(leaver.request(reqwest::Method::DELETE, "/api/user/me").json(&json!({ "password": "not-it-at-all" })))
        .await;
    wrong.assert(400, "VALIDATION_ERROR");
    assert_eq!(wrong.error_fields(), vec!["password"]);
    let r = leaver
        .send(leaver.request(reqwest::Method::DELETE, "/api/user/me").json(&json!({ "password": PASSWORD })))
        .await;
    r.assert(200, "OK");
    assert_eq!(r.data(), &json!({ "id": uid }));
    assert!(r.set_cookies().join("").contains("Max-Age=0"));
    // Gone: the user, their sessions and keys; their own organization (they were its only member).
    assert_eq!(app.sql_count(&format!("SELECT COUNT(*) FROM users WHERE id = '{uid}'")).await, 0);
    for table in ["sessions", "api_keys", "memberships", "login_history", "password_credentials"] {
        assert_eq!(app.sql_count(&format!("SELECT COUNT(*) FROM {table} WHERE user_id = '{uid}'")).await, 0, "{table}");
    }
    assert_eq!(app.sql_count(&format!("SELECT COUNT(*) FROM organizations WHERE id = '{own_org}'")).await, 0);
    other_session.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    app.with_key(&key).get("/api/user/me").await.assert(401, "INVALID_API_KEY");
    app.client().sign_in("leaver@example.com", PASSWORD).await.assert(401, "INVALID_CREDENTIALS");
    // The shared organization stays, with its project, and its log says the member left.
    let projects = owner.get(&format!("/api/user/organizations/{shared}/projects")).await;
    assert_eq!(projects.data()[0]["name"], "Left behind");
    assert!(projects.data()[0]["createdByUserId"].is_null());
    let log = owner.get(&format!("/api/user/organizations/{shared}/audit-logs?action=member.left")).await;
    assert_eq!(log.data()[0]["targetId"], membership.as_str());
    assert_eq!(log.data()[0]["metadata"]["reason"], "account_deleted");
    // The address is free again.
    app.sign_up("leaver@example.com", PASSWORD, "Back").await;
}

async fn last_owner_of_a_shared_organization_cannot_delete(app: TestApp) {
    let (owner, org) = app.user("lastowner@example.com").await;
    app.join(&owner, &org, "staying@example.com", "member").await;
    let r =
        owner.send(owner.request(reqwest::Method::DELETE, "/api/user/me").json(&json!({ "password": PASSWORD }))).await;
    r.assert(409, "CONFLICT");
    assert_eq!(r.body["meta"]["organizationIds"], json!([org]));
    // Nothing changed.
    owner.get("/api/user/me").await.assert(200, "OK");
    assert_eq!(app.sql_count(&format!("SELECT COUNT(*) FROM memberships WHERE organization_id = '{org}'")).await, 2);
}

async fn export_holds_everything_but_secrets(app: TestApp) {
    let (c, org) = app.user("export@example.com").await;
    app.client().sign_in("export@example.com", "wrong-password").await;
    let (key, _) = c.create_key(&["user:read"], None).await;
    let r = app.with_key(&key).get("/api/user/me/export").await;
    r.assert(200, "OK");
    let d = r.data();
    assert_eq!(d["profile"]["email"], "export@example.com");
    assert_eq!(d["memberships"][0]["organizationId"], org.as_str());
    assert_eq!(d["memberships"][0]["role"], "owner");
    assert_eq!(d["apiKeys"].as_array().unwrap().len(), 1);
    assert_eq!(d["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(d["loginHistory"].as_array().unwrap().len(), 2);
    for secret in ["$argon2", &key, "password", "tokenHash", "keyHash", "token_hash", "key_hash"] {
        assert!(!r.text.contains(secret), "{secret} in the export");
    }
    let stored = app.sql_strings("SELECT key_hash FROM api_keys").await;
    assert!(!r.text.contains(stored[0].as_deref().unwrap()));
}

async fn login_history_is_paginated(app: TestApp) {
    let (c, _) = app.user("hist2@example.com").await;
    for _ in 0..2 {
        app.client().sign_in("hist2@example.com", "wrong-password").await.assert(401, "INVALID_CREDENTIALS");
    }
    let r = c.get("/api/user/me/login-history?limit=2").await;
    r.assert(200, "OK");
    assert_eq!(r.body["meta"], json!({ "total": 3, "offset": 0, "limit": 2, "hasMore": true }));
    let first = &r.data()[0];
    assert_eq!(first["success"], false, "newest first");
    for k in ["success", "method", "ipAddress", "userAgent", "createdAt"] {
        assert!(first.get(k).is_some(), "{k}");
    }
    assert_eq!(first["method"], "email");
    let (nope, _) = c.create_key(&["projects:read"], None).await;
    app.with_key(&nope).get("/api/user/me/login-history").await.assert(403, "API_KEY_MISSING_SCOPES");
}
