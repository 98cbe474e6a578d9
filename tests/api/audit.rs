//! The audit log (API.md 6): one event per change, in the change's transaction, owners only.

use serde_json::{json, Value};

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(
    every_change_writes_an_event_in_its_own_tenant,
    audit_filters_pages_and_exports,
    failed_changes_leave_no_event
);

fn actions(r: &crate::helpers::Resp) -> Vec<String> {
    r.data().as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect()
}

async fn every_change_writes_an_event_in_its_own_tenant(app: TestApp) {
    let (owner, org) = app.user("ao@example.com").await;
    let (other, other_org) = app.user("ax@example.com").await;
    let base = format!("/api/user/organizations/{org}");
    owner.put(&base, json!({ "name": "Audited" })).await.assert(200, "OK");
    let p = owner.post(&format!("{base}/projects"), json!({ "name": "Tracked" })).await.id();
    owner.put(&format!("{base}/projects/{p}"), json!({ "status": "active" })).await.assert(200, "OK");
    owner.delete(&format!("{base}/projects/{p}")).await.assert(200, "OK");
    let (_, member_id) = app.join(&owner, &org, "am@example.com", "member").await;
    owner.put(&format!("{base}/members/{member_id}/role"), json!({ "role": "admin" })).await.assert(200, "OK");
    owner.delete(&format!("{base}/members/{member_id}")).await.assert(200, "OK");
    let inv = owner
        .post(&format!("{base}/invites"), json!({ "emails": ["later@example.com"], "role": "member" }))
        .await
        .data()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    owner.post(&format!("{base}/invites/{inv}/resend"), json!({})).await.assert(200, "OK");
    owner.delete(&format!("{base}/invites/{inv}")).await.assert(200, "OK");
    // A pinned key's life is in its organization's log; an unpinned key's is in none.
    let (key, key_id) = owner.create_key(&["projects:read", "projects:write"], Some(&org)).await;
    app.with_key(&key).post(&format!("{base}/projects"), json!({ "name": "By key" })).await.assert(201, "OK");
    owner.post("/api/auth/api-key/update", json!({ "keyId": key_id, "name": "renamed" })).await.assert(200, "OK");
    owner.post("/api/auth/api-key/delete", json!({ "keyId": key_id })).await.assert(200, "OK");
    owner.create_key(&["user:read"], None).await;
    // Something happens in the other tenant too.
    other
        .post(&format!("/api/user/organizations/{other_org}/projects"), json!({ "name": "Elsewhere" }))
        .await
        .assert(201, "OK");

    let r = owner.get(&format!("{base}/audit-logs?limit=100")).await;
    r.assert(200, "OK");
    let got = actions(&r);
    for want in [
        "organization.created",
        "organization.updated",
        "project.created",
        "project.updated",
        "project.deleted",
        "member.invited",
        "invitation.accepted",
        "member.joined",
        "member.role_changed",
        "member.removed",
        "invitation.resent",
        "invitation.canceled",
        "api_key.created",
        "api_key.updated",
        "api_key.deleted",
    ] {
        assert!(got.iter().any(|a| a == want), "{want} missing from {got:?}");
    }
    assert_eq!(got.iter().filter(|a| *a == "api_key.created").count(), 1, "unpinned keys are not in the log");
    assert!(!r.text.contains("Elsewhere") && !r.text.contains(&other_org), "another tenant's event leaked");
    // Shape and attribution.
    let by_key = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "project.created" && e["credential"] == "api_key")
        .expect("an event made with the key");
    for k in [
        "id",
        "action",
        "actorUserId",
        "credential",
        "targetType",
        "targetId",
        "ipAddress",
        "userAgent",
        "metadata",
        "createdAt",
    ] {
        assert!(by_key.get(k).is_some(), "{k}");
    }
    assert_eq!(by_key["targetType"], "project");
    assert_eq!(by_key["ipAddress"], "127.0.0.1");
    assert_eq!(by_key["metadata"]["name"], "By key");
    let owner_id = owner.get("/api/user/me").await.id();
    assert_eq!(by_key["actorUserId"], owner_id.as_str());
    let updated = r.data().as_array().unwrap().iter().find(|e| e["action"] == "project.updated").unwrap();
    assert_eq!(updated["credential"], "session");
    assert!(updated["metadata"]["changed"].as_array().unwrap().contains(&json!("status")), "{updated}");
    // The other tenant's log has only its own.
    let theirs = other.get(&format!("/api/user/organizations/{other_org}/audit-logs?limit=100")).await;
    assert!(!theirs.text.contains("Tracked") && !theirs.text.contains(&org));
    // Owners only.
    owner.get(&format!("/api/user/organizations/{other_org}/audit-logs")).await.assert(403, "FORBIDDEN");
}

async fn audit_filters_pages_and_exports(app: TestApp) {
    let (owner, org) = app.user("af@example.com").await;
    let base = format!("/api/user/organizations/{org}");
    for i in 0..3 {
        owner.post(&format!("{base}/projects"), json!({ "name": format!("P{i}") })).await.assert(201, "OK");
    }
    let r = owner.get(&format!("{base}/audit-logs?action=project.created&limit=2")).await;
    assert_eq!(r.body["meta"], json!({ "total": 3, "offset": 0, "limit": 2, "hasMore": true }));
    assert!(actions(&r).iter().all(|a| a == "project.created"));
    let future = "2999-01-01T00:00:00Z";
    assert_eq!(owner.get(&format!("{base}/audit-logs?since={future}")).await.body["meta"]["total"], 0);
    assert_eq!(owner.get(&format!("{base}/audit-logs?until={future}")).await.body["meta"]["total"], 4);
    assert_eq!(owner.get(&format!("{base}/audit-logs?until=2000-01-01T00:00:00Z")).await.body["meta"]["total"], 0);
    let r = owner.get(&format!("{base}/audit-logs?since=yesterday&limit=0")).await;
    r.assert(400, "VALIDATION_ERROR");
    let mut f = r.error_fields();
    f.sort();
    assert_eq!(f, vec!["limit", "since"]);
    // Export as JSON (the envelope) and as CSV (a download).
    let r = owner.get(&format!("{base}/audit-logs/export?action=project.created")).await;
    r.assert(200, "OK");
    assert_eq!(r.data().as_array().unwrap().len(), 3);
    let r = owner.get(&format!("{base}/audit-logs/export?format=csv")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    assert!(r.header("content-disposition").unwrap().starts_with("attachment"));
    let lines: Vec<&str> = r.text.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 5, "a header and four events: {}", r.text);
    assert!(lines[0].starts_with("id,createdAt,action"));
    assert!(lines[1..].iter().all(|l| l.contains("\"project.created\"") || l.contains("\"organization.created\"")));
    owner.get(&format!("{base}/audit-logs/export?format=xml")).await.assert(400, "VALIDATION_ERROR");
    assert_eq!(r.body, Value::Null);
}

async fn failed_changes_leave_no_event(app: TestApp) {
    let (owner, org) = app.user("fail@example.com").await;
    let base = format!("/api/user/organizations/{org}");
    owner.post(&format!("{base}/projects"), json!({ "name": "One", "slug": "one" })).await.assert(201, "OK");
    let before = app.sql_count("SELECT COUNT(*) FROM audit_events").await;
    owner.post(&format!("{base}/projects"), json!({ "name": "Two", "slug": "one" })).await.assert(409, "CONFLICT");
    owner.post(&format!("{base}/projects"), json!({ "name": "" })).await.assert(400, "VALIDATION_ERROR");
    let (_, theirs) = app.user("fail2@example.com").await;
    owner.put(&format!("/api/user/organizations/{theirs}"), json!({ "name": "x" })).await.assert(403, "FORBIDDEN");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM audit_events").await,
        before + 1,
        "only the second sign-up's organization"
    );
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM projects").await, 1);
}
