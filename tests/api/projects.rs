//! Projects (API.md 7).

use serde_json::json;

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(
    project_crud_and_status,
    project_validation,
    project_list_filters_and_pages,
    project_slugs_are_unique_per_organization
);

async fn project_crud_and_status(app: TestApp) {
    let (c, org) = app.user("proj@example.com").await;
    let base = format!("/api/user/organizations/{org}/projects");
    let r = c
        .post(&base, json!({ "name": "Site Watch", "description": "d", "website": "https://example.com", "timezone": "Europe/Berlin", "businessContext": "b", "monitoringIntent": "m" }))
        .await;
    r.assert(201, "OK");
    assert_eq!(r.body["message"], "Project created successfully");
    let p = r.data().clone();
    assert_eq!(p["status"], "draft");
    assert_eq!(p["frequency"], "weekly");
    assert_eq!(p["slug"], "site-watch");
    assert_eq!(p["organizationId"], org.as_str());
    assert!(p["nextRunAt"].is_null() && p["lastRunAt"].is_null());
    assert_eq!(p["createdByUser"]["fullName"], "Test User");
    assert_eq!(p["createdByUserId"], p["createdByUser"]["id"]);
    let id = p["id"].as_str().unwrap();
    let one = format!("{base}/{id}");
    c.get(&one).await.assert(200, "OK");
    let r = c.put(&one, json!({ "status": "active" })).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["status"], "active");
    assert!(r.data()["nextRunAt"].is_string());
    assert_eq!(r.data()["name"], "Site Watch", "partial update keeps other fields");
    let r = c.put(&one, json!({ "status": "paused", "description": null, "name": "Renamed" })).await;
    assert!(r.data()["nextRunAt"].is_null());
    assert!(r.data()["description"].is_null());
    assert_eq!(r.data()["name"], "Renamed");
    assert_eq!(r.data()["website"], "https://example.com");
    let r = c.delete(&one).await;
    r.assert(200, "OK");
    assert_eq!(r.data(), &json!({ "id": id }));
    c.get(&one).await.assert(404, "NOT_FOUND");
    c.delete(&one).await.assert(404, "NOT_FOUND");
    c.get(&format!("{base}/not-a-ulid")).await.assert(404, "NOT_FOUND");
    // Created active: nextRunAt is set at once.
    let r = c.post(&base, json!({ "name": "Live", "status": "active" })).await;
    assert!(r.data()["nextRunAt"].is_string());
}

async fn project_validation(app: TestApp) {
    let (c, org) = app.user("projval@example.com").await;
    let base = format!("/api/user/organizations/{org}/projects");
    let r =
        c.post(&base, json!({ "website": "ftp://example.com", "timezone": "Mars/Olympus", "status": "running" })).await;
    r.assert(400, "VALIDATION_ERROR");
    let mut f = r.error_fields();
    f.sort();
    assert_eq!(f, vec!["name", "status", "timezone", "website"], "{}", r.text);
    let website =
        r.body["meta"]["errors"].as_array().unwrap().iter().find(|e| e["field"] == "website").unwrap().clone();
    assert_eq!(website["error"], "Invalid url");
    c.post(&base, json!({ "name": "x".repeat(121) })).await.assert(400, "VALIDATION_ERROR");
    c.post(&base, json!({ "name": "ok", "website": "example.com" })).await.assert(400, "VALIDATION_ERROR");
    let r = c.post(&base, json!({ "name": "ok" })).await;
    assert_eq!(r.data()["timezone"], "UTC");
    let id = r.data()["id"].as_str().unwrap();
    c.put(&format!("{base}/{id}"), json!({ "name": "" })).await.assert(400, "VALIDATION_ERROR");
    c.put(&format!("{base}/{id}"), json!({ "status": "deleted" })).await.assert(400, "VALIDATION_ERROR");
}

async fn project_list_filters_and_pages(app: TestApp) {
    let (c, org) = app.user("projlist@example.com").await;
    let base = format!("/api/user/organizations/{org}/projects");
    for (name, status) in [("Alpha One", "active"), ("alpha two", "draft"), ("Beta", "paused"), ("100%_sure", "draft")]
    {
        c.post(&base, json!({ "name": name, "status": status })).await.assert(201, "OK");
    }
    let r = c.get(&format!("{base}?q=ALPHA")).await;
    assert_eq!(r.body["meta"]["total"], 2);
    let r = c.get(&format!("{base}?status=paused")).await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(r.data()[0]["name"], "Beta");
    // LIKE wildcards in q are literal.
    assert_eq!(c.get(&format!("{base}?q=%25_")).await.body["meta"]["total"], 1);
    let r = c.get(&format!("{base}?limit=3")).await;
    assert_eq!(r.body["meta"], json!({ "total": 4, "offset": 0, "limit": 3, "hasMore": true }));
    assert_eq!(r.data()[0]["name"], "100%_sure", "newest first");
    let r = c.get(&format!("{base}?limit=3&offset=3")).await;
    assert_eq!(r.data().as_array().unwrap().len(), 1);
    assert_eq!(r.data()[0]["name"], "Alpha One");
    let r = c.get(&format!("{base}?status=gone&limit=0")).await;
    r.assert(400, "VALIDATION_ERROR");
    let mut f = r.error_fields();
    f.sort();
    assert_eq!(f, vec!["limit", "status"]);
}

async fn project_slugs_are_unique_per_organization(app: TestApp) {
    let (c, org) = app.user("slugs@example.com").await;
    let base = format!("/api/user/organizations/{org}/projects");
    let a = c.post(&base, json!({ "name": "Same" })).await;
    let b = c.post(&base, json!({ "name": "Same" })).await;
    assert_eq!(a.data()["slug"], "same");
    assert_ne!(b.data()["slug"], "same");
    c.post(&base, json!({ "name": "Other", "slug": "same" })).await.assert(409, "CONFLICT");
    let id = b.data()["id"].as_str().unwrap();
    c.put(&format!("{base}/{id}"), json!({ "slug": "same" })).await.assert(409, "CONFLICT");
    // Another organization may use the slug.
    let (d, org2) = app.user("slugs2@example.com").await;
    d.post(&format!("/api/user/organizations/{org2}/projects"), json!({ "name": "Other", "slug": "same" }))
        .await
        .assert(201, "OK");
}
