//! The credential cache (src/auth/cache.rs): a credential used again within the cache interval
//! costs no database read, a write on this instance is seen by the very next request, and a
//! revocation on one instance fails the credential on the very next request to any other
//! instance (two replicas on one database), whichever way it was revoked. The same holds for a
//! member's standing in an organization, remembered with the credential.

use serde_json::json;

use crate::db_tests;
use crate::helpers::{Api, TestApp, PASSWORD};

db_tests!(a_repeated_credential_costs_no_read_and_local_writes_show_at_once, revocations_reach_every_instance);

/// Statements the instance runs for one `GET path` by `api`: the least of three tries (the mail
/// worker's polls also count).
async fn statements_per_get(app: &TestApp, api: &Api, path: &str) -> u64 {
    let mut least = u64::MAX;
    for _ in 0..3 {
        let before = app.state.db.statement_count();
        let r = api.get(path).await;
        assert!(r.status < 300, "{path}: {}", r.text);
        least = least.min(app.state.db.statement_count() - before);
    }
    least
}

/// Uses `api` on `app` until its credential is cached there (asserting that it is).
async fn warm(app: &TestApp, api: &Api, path: &str) {
    api.get(path).await;
    assert_eq!(statements_per_get(app, api, path).await, 0, "{path} answered from the cache");
}

/// A cookie-only caller on `app` carrying the session that `sign_in` set.
async fn session_on(app: &TestApp, other: &TestApp, email: &str) -> (Api, Api) {
    let jar = app.client();
    let r = jar.sign_in(email, PASSWORD).await;
    r.assert(200, "OK");
    let cookie = r
        .set_cookies()
        .into_iter()
        .find_map(|c| c.split(';').next().filter(|kv| kv.contains("gatehouse_session=")).map(str::to_string))
        .expect("a session cookie");
    (jar, other.with_header("cookie", &cookie))
}

async fn a_repeated_credential_costs_no_read_and_local_writes_show_at_once(app: TestApp) {
    let (c, _) = app.user("cached@example.com").await;
    let (key, _) = c.create_key(&["user:read", "user:write"], None).await;
    let pat = app.with_key(&key);
    pat.get("/api/user/me").await.assert(200, "OK");
    assert_eq!(statements_per_get(&app, &pat, "/api/user/me").await, 0, "PAT /me from the cache");
    assert_eq!(statements_per_get(&app, &c, "/api/user/me").await, 0, "session /me from the cache");

    // A write on this instance shows on the next request, through either credential.
    c.put("/api/user/me", json!({ "fullName": "Renamed Once" })).await.assert(200, "OK");
    assert_eq!(pat.get("/api/user/me").await.data()["fullName"], "Renamed Once");
    pat.put("/api/user/me", json!({ "fullName": "Renamed Twice" })).await.assert(200, "OK");
    assert_eq!(c.get("/api/user/me").await.data()["fullName"], "Renamed Twice");
    assert_eq!(pat.get("/api/user/me").await.data()["fullName"], "Renamed Twice");
    c.post("/api/user/organizations", json!({ "name": "Second Org" })).await.assert(201, "OK");
    assert_eq!(pat.get("/api/user/me").await.data()["organizationCount"], 2);

    // The tenant check rides along: a repeated project list reads only its page.
    let (lister_owner, org) = app.user("tenant-memo@example.com").await;
    let projects = format!("/api/user/organizations/{org}/projects");
    lister_owner.post(&projects, json!({ "name": "Listed" })).await.assert(201, "OK");
    let (lister_key, _) = lister_owner.create_key(&["projects:read"], None).await;
    let lister = app.with_key(&lister_key);
    lister.get(&projects).await.assert(200, "OK");
    assert_eq!(statements_per_get(&app, &lister, &projects).await, 1, "the page, not the membership");

    // A bad credential is never cached: it is read, and refused, every time (each of three tries
    // costs a statement, which the mail worker's polls alone could not explain three times).
    let bad = app.with_key(&format!("ba_{}", "x".repeat(48)));
    let mut least = u64::MAX;
    for _ in 0..3 {
        let before = app.state.db.statement_count();
        bad.get("/api/user/me").await.assert(401, "INVALID_API_KEY");
        least = least.min(app.state.db.statement_count() - before);
    }
    assert!(least >= 1, "a refused key is looked up every time");

    // With the cache off, every request reads its credential.
    let mut off = std::collections::HashMap::new();
    off.insert("GATEHOUSE_CREDENTIAL_CACHE_MS".to_string(), "0".to_string());
    let uncached = TestApp::spawn_with(app.backend, Some(app.database_url.clone()), off).await;
    let pat_there = uncached.with_key(&key);
    assert!(statements_per_get(&uncached, &pat_there, "/api/user/me").await >= 1);
    assert!(statements_per_get(&uncached, &uncached.with_key(&lister_key), &projects).await >= 3);
}

async fn revocations_reach_every_instance(a: TestApp) {
    let b = a.another_instance().await;
    let (owner, org) = a.user("revoker@example.com").await;
    let me = "/api/user/me";

    // A deleted key.
    let (key, id) = owner.create_key(&["user:read"], None).await;
    let on_b = b.with_key(&key);
    warm(&b, &on_b, me).await;
    owner.post("/api/auth/api-key/delete", json!({ "keyId": id })).await.assert(200, "OK");
    on_b.get(me).await.assert(401, "INVALID_API_KEY");

    // A disabled key.
    let (key, id) = owner.create_key(&["user:read"], None).await;
    let on_b = b.with_key(&key);
    warm(&b, &on_b, me).await;
    owner.post("/api/auth/api-key/update", json!({ "keyId": id, "enabled": false })).await.assert(200, "OK");
    on_b.get(me).await.assert(401, "INVALID_API_KEY");

    // A key whose scopes were narrowed.
    let projects = format!("/api/user/organizations/{org}/projects");
    let (key, id) = owner.create_key(&["user:read", "projects:read"], None).await;
    let on_b = b.with_key(&key);
    on_b.get(&projects).await.assert(200, "OK");
    warm(&b, &on_b, me).await; // the same entry serves every route
    let narrowed = json!({ "keyId": id, "scopes": ["user:read"] });
    owner.post("/api/auth/api-key/update", narrowed).await.assert(200, "OK");
    on_b.get(&projects).await.assert(403, "API_KEY_MISSING_SCOPES");

    // A member demoted, then removed, on A: the standing B remembered with the member's
    // credential is refused on B's next request.
    owner.post(&projects, json!({ "name": "Shared" })).await.assert(201, "OK");
    let audit = format!("/api/user/organizations/{org}/audit-logs");
    let (_, member_id) = a.join(&owner, &org, "member@example.com", "owner").await;
    let (_, member_on_b) = session_on(&a, &b, "member@example.com").await;
    member_on_b.get(&audit).await.assert(200, "OK");
    assert_eq!(statements_per_get(&b, &member_on_b, &projects).await, 1, "B remembers the standing");
    let member = format!("/api/user/organizations/{org}/members/{member_id}");
    owner.put(&format!("{member}/role"), json!({ "role": "member" })).await.assert(200, "OK");
    member_on_b.get(&audit).await.assert(403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(statements_per_get(&b, &member_on_b, &projects).await, 1, "B remembers the new standing");
    owner.delete(&member).await.assert(200, "OK");
    member_on_b.get(&projects).await.assert(403, "FORBIDDEN");

    // A signed-out session.
    let (jar, on_b) = session_on(&a, &b, "revoker@example.com").await;
    warm(&b, &on_b, me).await;
    jar.post("/api/auth/sign-out", json!({})).await.assert(200, "OK");
    on_b.get(me).await.assert(401, "INVALID_OR_EXPIRED_TOKEN");

    // Sessions revoked from another session.
    let (_, on_b) = session_on(&a, &b, "revoker@example.com").await;
    warm(&b, &on_b, me).await;
    owner.post("/api/auth/revoke-other-sessions", json!({})).await.assert(200, "OK");
    on_b.get(me).await.assert(401, "INVALID_OR_EXPIRED_TOKEN");

    // One session revoked by id from another.
    let (jar, on_b) = session_on(&a, &b, "revoker@example.com").await;
    let id = jar.get("/api/auth/get-session").await.data()["session"]["id"].as_str().unwrap().to_string();
    warm(&b, &on_b, me).await;
    owner.post("/api/auth/revoke-session", json!({ "id": id })).await.assert(200, "OK");
    on_b.get(me).await.assert(401, "INVALID_OR_EXPIRED_TOKEN");

    // A password change that signs the other sessions out (then the password goes back).
    let (_, on_b) = session_on(&a, &b, "revoker@example.com").await;
    warm(&b, &on_b, me).await;
    let new = "another-long-passphrase";
    let change = json!({ "currentPassword": PASSWORD, "newPassword": new, "revokeOtherSessions": true });
    owner.post("/api/auth/change-password", change).await.assert(200, "OK");
    on_b.get(me).await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    let back = json!({ "currentPassword": new, "newPassword": PASSWORD });
    owner.post("/api/auth/change-password", back).await.assert(200, "OK");

    // A key pinned to an organization that was deleted.
    let second = owner.post("/api/user/organizations", json!({ "name": "Doomed Org" })).await;
    second.assert(201, "OK");
    let doomed = second.id();
    let (key, _) = owner.create_key(&["user:read"], Some(&doomed)).await;
    let on_b = b.with_key(&key);
    warm(&b, &on_b, me).await;
    owner.delete(&format!("/api/user/organizations/{doomed}")).await.assert(200, "OK");
    on_b.get(me).await.assert(401, "INVALID_API_KEY");

    // A deleted account: its session and its key.
    let (key, _) = owner.create_key(&["user:read"], None).await;
    let key_on_b = b.with_key(&key);
    let (jar, session_on_b) = session_on(&a, &b, "revoker@example.com").await;
    warm(&b, &key_on_b, me).await;
    warm(&b, &session_on_b, me).await;
    let gone = jar.request(reqwest::Method::DELETE, me).json(&json!({ "password": PASSWORD }));
    jar.send(gone).await.assert(200, "OK");
    key_on_b.get(me).await.assert(401, "INVALID_API_KEY");
    session_on_b.get(me).await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    drop(b);
}
