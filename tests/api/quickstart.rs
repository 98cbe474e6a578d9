//! The Quick Start (shared/seed/quick-start.txt), replayed as written: the same paths, bodies and
//! headers, a cookie jar between sign-in and key creation, and the response shapes it shows.
//! The one change: the page's sample address is Cloudflare's e-mail-obfuscation placeholder
//! (`[email protected]`), not an address, so a real one stands in for it.

use serde_json::{json, Value};

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(quick_start_end_to_end);

fn keys_of(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn quick_start_end_to_end(app: TestApp) {
    // Step 1: create an account (no cookie jar, like the first curl).
    let r = app
        .client()
        .post(
            "/api/auth/sign-up/email",
            json!({ "email": "you@example.com", "password": "a-long-secure-passphrase", "name": "Your Name" }),
        )
        .await;
    r.assert(201, "OK");

    // Step 2: sign in with a cookie jar (curl -c cookies.txt / requests.Session()).
    let session = app.client();
    let r = session
        .post("/api/auth/sign-in/email", json!({ "email": "you@example.com", "password": "a-long-secure-passphrase" }))
        .await;
    r.assert(200, "OK");
    assert!(!r.set_cookies().is_empty());

    // Step 3: issue a PAT with the cookie (curl -b cookies.txt).
    let r = session
        .post(
            "/api/auth/api-key/create",
            json!({ "name": "CI deploy bot", "expiresIn": 2592000, "scopes": ["user:read", "projects:read", "projects:write"] }),
        )
        .await;
    r.assert(200, "OK");
    assert_eq!(r.body["message"], "API key created");
    let data = r.data();
    assert!(data["id"].as_str().unwrap().starts_with("ak_"));
    assert_eq!(data["name"], "CI deploy bot");
    assert_eq!(data["scopes"], json!(["user:read", "projects:read", "projects:write"]));
    let key = data["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("ba_") && key.len() >= 43 && key[3..].chars().all(|c| c.is_ascii_alphanumeric()), "{key}");
    let expires = chrono::DateTime::parse_from_rfc3339(data["expiresAt"].as_str().unwrap()).unwrap();
    let in_30_days = chrono::Utc::now() + chrono::TimeDelta::seconds(2_592_000);
    assert!((expires.with_timezone(&chrono::Utc) - in_30_days).num_seconds().abs() < 60);
    // The envelope keys are exactly the documented ones.
    assert_eq!(keys_of(&r.body), vec!["code", "data", "message", "status", "success"]);

    // Step 4: the PAT on an account route and on a tenant route.
    let pat = app.with_key(&key);
    let me = pat.get("/api/user/me").await;
    me.assert(200, "OK");
    assert_eq!(me.body["message"], "User fetched successfully");
    let user = me.data();
    for field in [
        "id",
        "email",
        "fullName",
        "handle",
        "isVerified",
        "verifiedAt",
        "isActive",
        "lastLoginAt",
        "role",
        "organizationCount",
        "createdAt",
        "updatedAt",
    ] {
        assert!(user.get(field).is_some(), "user.{field} missing: {user}");
    }
    assert_eq!(user["email"], "you@example.com");
    assert_eq!(user["fullName"], "Your Name");
    assert_eq!(user["handle"], "you");
    assert_eq!(user["isActive"], true);
    assert_eq!(user["role"], "user");
    assert_eq!(user["organizationCount"], 1);
    assert!(user["lastLoginAt"].is_string());

    let orgs = pat.get("/api/user/organizations").await;
    orgs.assert(200, "OK");
    let org_id = orgs.data()[0]["id"].as_str().unwrap().to_string();
    assert_eq!(org_id.len(), 26);
    let projects = pat.get(&format!("/api/user/organizations/{org_id}/projects")).await;
    projects.assert(200, "OK");
    assert_eq!(projects.body["message"], "Projects fetched successfully");
    assert_eq!(projects.data(), &json!([]));
    assert_eq!(projects.body["meta"], json!({ "total": 0, "offset": 0, "limit": 20, "hasMore": false }));
    // projects:write lets the bot create one.
    let created =
        pat.post(&format!("/api/user/organizations/{org_id}/projects"), json!({ "name": "Deploy target" })).await;
    created.assert(201, "OK");
    // The same key as `Authorization: Bearer ba_...`.
    app.with_header("authorization", &format!("Bearer {key}")).get("/api/user/me").await.assert(200, "OK");
}
