//! Personal Access Tokens (API.md 2.3, 2.4 and 4) and the credential rules (2.1).

use serde_json::json;

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(
    key_is_stored_as_a_digest_and_shown_once,
    key_input_is_validated,
    credential_precedence_has_no_fallback,
    scopes_are_enforced_with_the_documented_codes,
    a_key_never_grants_more_than_it_holds,
    key_lifecycle_takes_effect_on_the_next_request,
    keys_of_other_users_are_not_found,
    last_used_at_is_recorded_and_throttled,
);

async fn key_is_stored_as_a_digest_and_shown_once(app: TestApp) {
    let (c, _) = app.user("digest@example.com").await;
    let r = c.post("/api/auth/api-key/create", json!({ "name": "bot", "scopes": ["user:read"] })).await;
    r.assert(200, "OK");
    let d = r.data();
    let key = d["key"].as_str().unwrap();
    assert_eq!(d["start"].as_str().unwrap(), &key[..8]);
    assert!(d["expiresAt"].is_null());
    assert_eq!(d["enabled"], true);
    assert!(d["organizationId"].is_null());
    assert_eq!(d["metadata"], json!({}));
    let stored = app.sql_strings("SELECT key_hash FROM api_keys").await;
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].as_deref(), Some(key));
    assert!(
        app.sql_count(&format!("SELECT COUNT(*) FROM api_keys WHERE key_hash = '{key}' OR start = '{key}'")).await == 0
    );
    // List and get never show the key.
    let list = c.get("/api/auth/api-key/list").await;
    list.assert(200, "OK");
    assert_eq!(list.body["meta"]["total"], 1);
    assert!(list.data()[0].get("key").is_none());
    assert!(list.data()[0].get("lastUsedAt").is_some());
    assert!(!list.text.contains(key));
    let got = c.get(&format!("/api/auth/api-key/get?id={}", d["id"].as_str().unwrap())).await;
    got.assert(200, "OK");
    assert!(got.data().get("key").is_none());
}

async fn key_input_is_validated(app: TestApp) {
    let (c, _) = app.user("kv@example.com").await;
    let r = c
        .post(
            "/api/auth/api-key/create",
            json!({ "name": "", "expiresIn": 59, "scopes": ["user:read", "admin:everything"] }),
        )
        .await;
    r.assert(400, "VALIDATION_ERROR");
    let mut f = r.error_fields();
    f.sort();
    assert_eq!(f, vec!["expiresIn", "name", "scopes"], "{}", r.text);
    c.post("/api/auth/api-key/create", json!({ "name": "x", "expiresIn": 31_536_001 }))
        .await
        .assert(400, "VALIDATION_ERROR");
    c.post("/api/auth/api-key/create", json!({ "name": "x".repeat(65) })).await.assert(400, "VALIDATION_ERROR");
    c.post("/api/auth/api-key/create", json!({ "name": "x", "scopes": "user:read" }))
        .await
        .assert(400, "VALIDATION_ERROR");
    c.post("/api/auth/api-key/create", json!({ "name": "x", "metadata": { "blob": "y".repeat(5000) } }))
        .await
        .assert(400, "VALIDATION_ERROR");
    c.post("/api/auth/api-key/create", json!({ "name": "x", "metadata": { "organizationId": 7 } }))
        .await
        .assert(400, "VALIDATION_ERROR");
    c.post("/api/auth/api-key/create", json!({ "name": "x", "expiresIn": 60, "scopes": [] })).await.assert(200, "OK");
}

async fn credential_precedence_has_no_fallback(app: TestApp) {
    let (c, _) = app.user("prec@example.com").await;
    let (key, _) = c.create_key(&["user:read"], None).await;
    // Cookie wins over a bad key.
    let r = c.send(c.request(reqwest::Method::GET, "/api/user/me").header("x-api-key", "ba_bad")).await;
    r.assert(200, "OK");
    // A bad cookie does not fall back to a good key.
    let bad_cookie = app.with_header("cookie", "gatehouse_session=not-a-session");
    let r = bad_cookie
        .send(bad_cookie.request(reqwest::Method::GET, "/api/user/me").header("x-api-key", key.as_str()))
        .await;
    r.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    // A bad key does not fall back to a good bearer key.
    let bad_key = app.with_key("ba_0000000000000000000000000000000000000000000000");
    let r = bad_key
        .send(bad_key.request(reqwest::Method::GET, "/api/user/me").header("authorization", format!("Bearer {key}")))
        .await;
    r.assert(401, "INVALID_API_KEY");
    // Authorization header forms.
    app.with_header("authorization", "").get("/api/user/me").await.assert(401, "NO_TOKEN_PROVIDED");
    app.with_header("authorization", "Bearer ").get("/api/user/me").await.assert(401, "NO_TOKEN_PROVIDED");
    app.with_header("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")
        .get("/api/user/me")
        .await
        .assert(401, "INVALID_OR_EXPIRED_TOKEN");
    app.with_header("authorization", "Basic dTpw").get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    app.with_header("authorization", &format!("Bearer {key}")).get("/api/user/me").await.assert(200, "OK");
    app.with_key("nonsense").get("/api/user/me").await.assert(401, "INVALID_API_KEY");
    app.with_key("").get("/api/user/me").await.assert(401, "INVALID_API_KEY");
}

async fn scopes_are_enforced_with_the_documented_codes(app: TestApp) {
    let (c, org) = app.user("scopes@example.com").await;
    let (projects_only, _) = c.create_key(&["projects:read"], None).await;
    let r = app.with_key(&projects_only).get("/api/user/me").await;
    r.assert(403, "API_KEY_MISSING_SCOPES");
    assert_eq!(r.body["meta"]["requiredScopes"], json!(["user:read"]));
    assert_eq!(r.body["meta"]["missingScopes"], json!(["user:read"]));
    app.with_key(&projects_only).get(&format!("/api/user/organizations/{org}/projects")).await.assert(200, "OK");
    let r = app
        .with_key(&projects_only)
        .post(&format!("/api/user/organizations/{org}/projects"), json!({ "name": "p" }))
        .await;
    r.assert(403, "API_KEY_MISSING_SCOPES");
    assert_eq!(r.body["meta"]["missingScopes"], json!(["projects:write"]));
    let (empty, _) = c.create_key(&[], None).await;
    app.with_key(&empty).get("/api/user/me").await.assert(403, "NO_SCOPES_AVAILABLE");
    app.with_key(&empty).get("/api/auth/api-key/list").await.assert(403, "NO_SCOPES_AVAILABLE");
    // Key management scopes.
    let (read_keys, _) = c.create_key(&["api-keys:read"], None).await;
    app.with_key(&read_keys).get("/api/auth/api-key/list").await.assert(200, "OK");
    let r = app.with_key(&read_keys).post("/api/auth/api-key/create", json!({ "name": "x" })).await;
    r.assert(403, "API_KEY_MISSING_SCOPES");
    assert_eq!(r.body["meta"]["missingScopes"], json!(["api-keys:write"]));
    let r = app.with_key(&read_keys).post("/api/auth/api-key/delete", json!({ "keyId": "ak_x" })).await;
    assert_eq!(r.body["meta"]["missingScopes"], json!(["api-keys:delete"]));
}

async fn a_key_never_grants_more_than_it_holds(app: TestApp) {
    let (c, _) = app.user("grant@example.com").await;
    let (maker, maker_id) = c.create_key(&["api-keys:write", "user:read"], None).await;
    let m = app.with_key(&maker);
    let r =
        m.post("/api/auth/api-key/create", json!({ "name": "wider", "scopes": ["user:read", "projects:write"] })).await;
    r.assert(403, "API_KEY_MISSING_SCOPES");
    assert_eq!(r.body["meta"]["missingScopes"], json!(["projects:write"]));
    let r = m.post("/api/auth/api-key/create", json!({ "name": "narrower", "scopes": ["user:read"] })).await;
    r.assert(200, "OK");
    let child = r.data()["id"].as_str().unwrap().to_string();
    // Widening through update is refused too.
    let r = m.post("/api/auth/api-key/update", json!({ "keyId": child, "scopes": ["user:write"] })).await;
    r.assert(403, "API_KEY_MISSING_SCOPES");
    m.post(
        "/api/auth/api-key/update",
        json!({ "keyId": maker_id, "scopes": ["api-keys:write", "user:read", "user:write"] }),
    )
    .await
    .assert(403, "API_KEY_MISSING_SCOPES");
    // A session may grant any user-facing scope.
    c.post("/api/auth/api-key/update", json!({ "keyId": child, "scopes": ["user:write"] })).await.assert(200, "OK");
}

async fn key_lifecycle_takes_effect_on_the_next_request(app: TestApp) {
    let (c, _) = app.user("life@example.com").await;
    let (key, id) = c.create_key(&["user:read"], None).await;
    let k = app.with_key(&key);
    k.get("/api/user/me").await.assert(200, "OK");
    let r = c.post("/api/auth/api-key/update", json!({ "keyId": id, "enabled": false, "name": "renamed" })).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["enabled"], false);
    assert_eq!(r.data()["name"], "renamed");
    k.get("/api/user/me").await.assert(401, "INVALID_API_KEY");
    c.post("/api/auth/api-key/update", json!({ "keyId": id, "enabled": true })).await.assert(200, "OK");
    k.get("/api/user/me").await.assert(200, "OK");
    // Expired.
    app.sql_exec(&format!("UPDATE api_keys SET expires_at = created_at WHERE id = '{id}'")).await;
    k.get("/api/user/me").await.assert(401, "INVALID_API_KEY");
    app.sql_exec(&format!("UPDATE api_keys SET expires_at = NULL WHERE id = '{id}'")).await;
    k.get("/api/user/me").await.assert(200, "OK");
    // The user deactivated.
    app.sql_exec("UPDATE users SET is_active = false WHERE email = 'life@example.com'").await;
    k.get("/api/user/me").await.assert(401, "USER_NOT_ACTIVE");
    app.sql_exec("UPDATE users SET is_active = true WHERE email = 'life@example.com'").await;
    // Deleted.
    let r = c.post("/api/auth/api-key/delete", json!({ "keyId": id })).await;
    r.assert(200, "OK");
    assert_eq!(r.data(), &json!({ "id": id }));
    k.get("/api/user/me").await.assert(401, "INVALID_API_KEY");
    c.post("/api/auth/api-key/delete", json!({ "keyId": id })).await.assert(404, "NOT_FOUND");
    // A wrong key of the right shape.
    app.with_key(&format!("ba_{}", "Z".repeat(48))).get("/api/user/me").await.assert(401, "INVALID_API_KEY");
}

async fn keys_of_other_users_are_not_found(app: TestApp) {
    let (a, _) = app.user("owner-a@example.com").await;
    let (b, _) = app.user("owner-b@example.com").await;
    let (_, a_id) = a.create_key(&["user:read"], None).await;
    b.get(&format!("/api/auth/api-key/get?id={a_id}")).await.assert(404, "NOT_FOUND");
    b.post("/api/auth/api-key/update", json!({ "keyId": a_id, "enabled": false })).await.assert(404, "NOT_FOUND");
    b.post("/api/auth/api-key/delete", json!({ "keyId": a_id })).await.assert(404, "NOT_FOUND");
    let list = b.get("/api/auth/api-key/list").await;
    assert_eq!(list.body["meta"]["total"], 0);
    a.get(&format!("/api/auth/api-key/get?id={a_id}")).await.assert(200, "OK");
}

async fn last_used_at_is_recorded_and_throttled(app: TestApp) {
    let (c, _) = app.user("used@example.com").await;
    let (key, id) = c.create_key(&["user:read"], None).await;
    let get = || async { c.get(&format!("/api/auth/api-key/get?id={id}")).await.data()["lastUsedAt"].clone() };
    assert!(get().await.is_null());
    app.with_key(&key).get("/api/user/me").await.assert(200, "OK");
    let first = get().await;
    assert!(first.is_string());
    app.with_key(&key).get("/api/user/me").await.assert(200, "OK");
    assert_eq!(get().await, first, "written at most once a minute");
}
