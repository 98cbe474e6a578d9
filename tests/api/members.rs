//! Members and roles (API.md 6).

use serde_json::json;

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(
    members_are_listed_with_their_roles,
    role_changes_follow_the_owner_rules,
    removing_and_leaving,
    deleting_an_organization
);

async fn members_are_listed_with_their_roles(app: TestApp) {
    let (owner, org) = app.user("mo@example.com").await;
    app.join(&owner, &org, "ma@example.com", "admin").await;
    let (member, _) = app.join(&owner, &org, "mm@example.com", "member").await;
    let r = member.get(&format!("/api/user/organizations/{org}/members?limit=2")).await;
    r.assert(200, "OK");
    assert_eq!(r.body["meta"], json!({ "total": 3, "offset": 0, "limit": 2, "hasMore": true }));
    let all = owner.get(&format!("/api/user/organizations/{org}/members")).await;
    let roles: Vec<(String, String)> = all
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().to_string(), m["role"].as_str().unwrap().to_string()))
        .collect();
    assert!(roles.contains(&("mo@example.com".into(), "owner".into())));
    assert!(roles.contains(&("ma@example.com".into(), "admin".into())));
    assert!(roles.contains(&("mm@example.com".into(), "member".into())));
    for k in ["id", "userId", "email", "fullName", "role", "joinedAt"] {
        assert!(all.data()[0].get(k).is_some(), "{k}");
    }
    let mine = member.get(&format!("/api/user/organizations/{org}/my-membership")).await;
    mine.assert(200, "OK");
    assert_eq!(mine.data()["role"], "member");
    assert_eq!(mine.data()["permissions"], json!(["organization:read"]));
    let mine = owner.get(&format!("/api/user/organizations/{org}/my-membership")).await;
    assert_eq!(mine.data()["permissions"].as_array().unwrap().len(), 5);
    let (_, other_org) = app.user("mstranger@example.com").await;
    member.get(&format!("/api/user/organizations/{other_org}/members")).await.assert(403, "FORBIDDEN");
}

async fn role_changes_follow_the_owner_rules(app: TestApp) {
    let (owner, org) = app.user("ro@example.com").await;
    let owner_member = owner.get(&format!("/api/user/organizations/{org}/my-membership")).await.id();
    let (admin, admin_id) = app.join(&owner, &org, "ra@example.com", "admin").await;
    let (member, member_id) = app.join(&owner, &org, "rm@example.com", "member").await;
    let role = |id: &str| format!("/api/user/organizations/{org}/members/{id}/role");
    member.put(&role(&member_id), json!({ "role": "admin" })).await.assert(403, "INSUFFICIENT_PERMISSIONS");
    // An admin manages members but not owners.
    admin.put(&role(&member_id), json!({ "role": "admin" })).await.assert(200, "OK");
    admin.put(&role(&member_id), json!({ "role": "member" })).await.assert(200, "OK");
    admin.put(&role(&member_id), json!({ "role": "owner" })).await.assert(403, "INSUFFICIENT_PERMISSIONS");
    admin.put(&role(&owner_member), json!({ "role": "member" })).await.assert(403, "INSUFFICIENT_PERMISSIONS");
    // The last owner cannot be demoted.
    let r = owner.put(&role(&owner_member), json!({ "role": "admin" })).await;
    r.assert(409, "CONFLICT");
    // An owner grants owner; then the first owner may step down.
    let r = owner.put(&role(&admin_id), json!({ "role": "owner" })).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["role"], "owner");
    owner.put(&role(&owner_member), json!({ "role": "member" })).await.assert(200, "OK");
    owner.get(&format!("/api/user/organizations/{org}/audit-logs")).await.assert(403, "INSUFFICIENT_PERMISSIONS");
    // Bad input and ids.
    let r = admin.put(&role(&member_id), json!({ "role": "emperor" })).await;
    r.assert(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["role"]);
    admin.put(&role(&member_id), json!({})).await.assert(400, "VALIDATION_ERROR");
    admin.put(&role(&ulid::Ulid::new().to_string()), json!({ "role": "admin" })).await.assert(404, "NOT_FOUND");
    let (stranger, stranger_org) = app.user("rstranger@example.com").await;
    let stranger_member = stranger.get(&format!("/api/user/organizations/{stranger_org}/my-membership")).await.id();
    admin.put(&role(&stranger_member), json!({ "role": "admin" })).await.assert(403, "TENANT_VIOLATION");
    assert_eq!(
        stranger.get(&format!("/api/user/organizations/{stranger_org}/my-membership")).await.data()["role"],
        "owner"
    );
}

async fn removing_and_leaving(app: TestApp) {
    let (owner, org) = app.user("lo@example.com").await;
    let owner_member = owner.get(&format!("/api/user/organizations/{org}/my-membership")).await.id();
    let (admin, admin_id) = app.join(&owner, &org, "la@example.com", "admin").await;
    let (member, member_id) = app.join(&owner, &org, "lm@example.com", "member").await;
    let (_, other_id) = app.join(&owner, &org, "lx@example.com", "member").await;
    let path = |id: &str| format!("/api/user/organizations/{org}/members/{id}");
    member.delete(&path(&other_id)).await.assert(403, "INSUFFICIENT_PERMISSIONS");
    admin.delete(&path(&owner_member)).await.assert(403, "INSUFFICIENT_PERMISSIONS");
    let r = admin.delete(&path(&other_id)).await;
    r.assert(200, "OK");
    assert_eq!(r.data(), &json!({ "id": other_id }));
    // A member leaves on their own.
    member.delete(&path(&member_id)).await.assert(200, "OK");
    member.get(&format!("/api/user/organizations/{org}")).await.assert(403, "FORBIDDEN");
    // The last owner can neither leave nor be removed.
    owner.delete(&path(&owner_member)).await.assert(409, "CONFLICT");
    owner
        .put(&format!("/api/user/organizations/{org}/members/{admin_id}/role"), json!({ "role": "owner" }))
        .await
        .assert(200, "OK");
    owner.delete(&path(&owner_member)).await.assert(200, "OK");
    let r = admin.get(&format!("/api/user/organizations/{org}/members")).await;
    assert_eq!(r.body["meta"]["total"], 1);
    let events = admin.get(&format!("/api/user/organizations/{org}/audit-logs?limit=100")).await;
    let actions: Vec<&str> = events.data().as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "member.left").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "member.removed").count(), 1, "{actions:?}");
}

async fn deleting_an_organization(app: TestApp) {
    let (owner, org) = app.user("do@example.com").await;
    let (admin, _) = app.join(&owner, &org, "da@example.com", "admin").await;
    owner.post(&format!("/api/user/organizations/{org}/projects"), json!({ "name": "Doomed" })).await.assert(201, "OK");
    let (key, _) = owner.create_key(&["user:read", "user:write", "projects:read"], Some(&org)).await;
    app.with_key(&key).delete(&format!("/api/user/organizations/{org}")).await.assert(403, "SESSION_REQUIRED");
    admin.delete(&format!("/api/user/organizations/{org}")).await.assert(403, "INSUFFICIENT_PERMISSIONS");
    let r = owner.delete(&format!("/api/user/organizations/{org}")).await;
    r.assert(200, "OK");
    assert_eq!(r.data(), &json!({ "id": org }));
    owner.get(&format!("/api/user/organizations/{org}")).await.assert(403, "FORBIDDEN");
    admin.get(&format!("/api/user/organizations/{org}")).await.assert(403, "FORBIDDEN");
    for table in ["projects", "memberships", "invitations", "audit_events", "api_keys"] {
        assert_eq!(
            app.sql_count(&format!("SELECT COUNT(*) FROM {table} WHERE organization_id = '{org}'")).await,
            0,
            "{table}"
        );
    }
    app.with_key(&key).get("/api/user/me").await.assert(401, "INVALID_API_KEY");
    assert_eq!(owner.get("/api/user/me").await.data()["organizationCount"], 0);
}
