//! `/api/user/me` and organizations (API.md 5 and 6: GET/PUT {org}).

use serde_json::json;

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(update_me, create_and_list_organizations, get_and_update_an_organization, pinned_keys_see_one_organization);

async fn update_me(app: TestApp) {
    let (c, _) = app.user("me@example.com").await;
    app.user("taken-handle@example.com").await;
    let r = c.put("/api/user/me", json!({ "fullName": "  Renamed  ", "handle": "new-handle", "emailPreferences": { "marketingOptOut": true } })).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["fullName"], "Renamed");
    assert_eq!(r.data()["handle"], "new-handle");
    assert_eq!(r.data()["emailPreferences"]["marketingOptOut"], true);
    assert_eq!(c.get("/api/user/me").await.data()["handle"], "new-handle");
    c.put("/api/user/me", json!({ "handle": "taken-handle" })).await.assert(409, "CONFLICT");
    let r = c.put("/api/user/me", json!({ "handle": "Bad Handle!", "fullName": "" })).await;
    r.assert(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["fullName", "handle"]);
    let (read_only, _) = c.create_key(&["user:read"], None).await;
    app.with_key(&read_only)
        .put("/api/user/me", json!({ "fullName": "x" }))
        .await
        .assert(403, "API_KEY_MISSING_SCOPES");
}

async fn create_and_list_organizations(app: TestApp) {
    let (c, first) = app.user("orgs@example.com").await;
    let r = c.post("/api/user/organizations", json!({ "name": "Acme Corp" })).await;
    r.assert(201, "OK");
    assert_eq!(r.data()["slug"], "acme-corp");
    assert_eq!(r.data()["role"], "owner");
    assert_eq!(r.data()["memberCount"], 1);
    let acme = r.data()["id"].as_str().unwrap().to_string();
    let r = c.post("/api/user/organizations", json!({ "name": "Acme Corp" })).await;
    r.assert(201, "OK");
    assert_ne!(r.data()["slug"], "acme-corp");
    c.post("/api/user/organizations", json!({ "name": "Other", "slug": "acme-corp" })).await.assert(409, "CONFLICT");
    let r = c.post("/api/user/organizations", json!({ "name": "", "slug": "A!" })).await;
    r.assert(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["name", "slug"]);
    let r = c.get("/api/user/organizations?limit=2").await;
    r.assert(200, "OK");
    assert_eq!(r.body["meta"], json!({ "total": 3, "offset": 0, "limit": 2, "hasMore": true }));
    let r2 = c.get("/api/user/organizations?limit=2&offset=2").await;
    assert_eq!(r2.body["meta"]["hasMore"], false);
    let ids: Vec<&str> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .chain(r2.data().as_array().unwrap())
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2], first, "newest first");
    assert!(ids.contains(&acme.as_str()));
    for bad in ["limit=0", "limit=101", "offset=-1", "limit=abc"] {
        let r = c.get(&format!("/api/user/organizations?{bad}")).await;
        r.assert(400, "VALIDATION_ERROR");
        assert_eq!(r.body["meta"]["errors"][0]["location"], "query");
    }
    assert_eq!(c.get("/api/user/me").await.data()["organizationCount"], 3);
}

async fn get_and_update_an_organization(app: TestApp) {
    let (c, org) = app.user("orgget@example.com").await;
    let r = c.get(&format!("/api/user/organizations/{org}")).await;
    r.assert(200, "OK");
    for k in ["id", "name", "slug", "logoUrl", "memberCount", "role", "createdAt", "updatedAt"] {
        assert!(r.data().get(k).is_some(), "{k}");
    }
    let r = c
        .put(
            &format!("/api/user/organizations/{org}"),
            json!({ "name": "Renamed Org", "slug": "renamed-org", "logoUrl": "https://cdn.example.com/logo.png" }),
        )
        .await;
    r.assert(200, "OK");
    assert_eq!(r.data()["name"], "Renamed Org");
    assert_eq!(r.data()["slug"], "renamed-org");
    assert_eq!(r.data()["logoUrl"], "https://cdn.example.com/logo.png");
    let r = c.put(&format!("/api/user/organizations/{org}"), json!({ "logoUrl": null })).await;
    assert!(r.data()["logoUrl"].is_null());
    c.put(&format!("/api/user/organizations/{org}"), json!({ "logoUrl": "not a url" }))
        .await
        .assert(400, "VALIDATION_ERROR");
    let (other, _) = app.user("orgget2@example.com").await;
    let theirs = other.post("/api/user/organizations", json!({ "name": "Theirs", "slug": "theirs" })).await;
    theirs.assert(201, "OK");
    c.put(&format!("/api/user/organizations/{org}"), json!({ "slug": "theirs" })).await.assert(409, "CONFLICT");
}

async fn pinned_keys_see_one_organization(app: TestApp) {
    let (c, home) = app.user("pin@example.com").await;
    let second = c.post("/api/user/organizations", json!({ "name": "Second" })).await.id();
    let (_, stranger_org) = app.user("pin-stranger@example.com").await;
    // Pinning to an organization the creator is not in is refused.
    c.post("/api/auth/api-key/create", json!({ "name": "x", "metadata": { "organizationId": stranger_org } }))
        .await
        .assert(403, "FORBIDDEN");
    let r = c.post("/api/auth/api-key/create", json!({ "name": "pinned", "scopes": ["user:read", "user:write", "projects:read", "api-keys:write", "api-keys:read"], "metadata": { "organizationId": home } })).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["organizationId"], home.as_str());
    let pinned = app.with_key(r.data()["key"].as_str().unwrap());
    let list = pinned.get("/api/user/organizations").await;
    assert_eq!(list.body["meta"]["total"], 1);
    assert_eq!(list.data()[0]["id"], home.as_str());
    pinned.get(&format!("/api/user/organizations/{home}/projects")).await.assert(200, "OK");
    pinned.get(&format!("/api/user/organizations/{second}/projects")).await.assert(403, "FORBIDDEN");
    pinned.get(&format!("/api/user/organizations/{second}")).await.assert(403, "FORBIDDEN");
    pinned.post("/api/user/organizations", json!({ "name": "Escape" })).await.assert(403, "FORBIDDEN");
    // A key made by a pinned key is pinned to the same organization, and cannot leave it.
    let child = pinned.post("/api/auth/api-key/create", json!({ "name": "child", "scopes": ["user:read"] })).await;
    child.assert(200, "OK");
    assert_eq!(child.data()["organizationId"], home.as_str());
    pinned
        .post(
            "/api/auth/api-key/create",
            json!({ "name": "escape", "scopes": ["user:read"], "metadata": { "organizationId": second } }),
        )
        .await
        .assert(403, "FORBIDDEN");
    // The pinned key lists only keys of its organization.
    c.create_key(&["user:read"], None).await;
    let keys = pinned.get("/api/auth/api-key/list").await;
    assert!(keys.data().as_array().unwrap().iter().all(|k| k["organizationId"] == home.as_str()), "{}", keys.text);
}
