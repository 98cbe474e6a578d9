//! The tenant-isolation matrix (API.md 2.3-2.5): two users in two organizations plus one shared
//! organization with different roles; every tenant route called across tenants with a session,
//! an unpinned PAT, a pinned PAT and a PAT lacking the scope.

use serde_json::json;

use crate::db_tests;
use crate::helpers::{Api, Resp, TestApp};

db_tests!(tenant_isolation_matrix, roles_decide_tenant_permissions, cross_tenant_project_ids);

const ALL: &[&str] = &[
    "user:read",
    "user:write",
    "projects:read",
    "projects:write",
    "api-keys:read",
    "api-keys:write",
    "api-keys:delete",
];

struct World {
    a_session: Api,
    a_pat: Api,
    a_pinned: Api,
    a_no_scope: Api,
    b_session: Api,
    org_a: String,
    org_b: String,
    shared: String,
    project_a: String,
    project_b: String,
}

async fn world(app: &TestApp) -> World {
    let (a, org_a) = app.user("alice@example.com").await;
    let (b, org_b) = app.user("bob@example.com").await;
    let shared = a.post("/api/user/organizations", json!({ "name": "Shared Space" })).await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Bob joins the shared organization as a member, through an emailed invitation.
    a.post(
        &format!("/api/user/organizations/{shared}/invites"),
        json!({ "emails": ["bob@example.com"], "role": "member" }),
    )
    .await
    .assert(201, "OK");
    let token = crate::helpers::token_from(&app.email_to("bob@example.com", "/invites/").await, "/invites/");
    b.post(&format!("/api/user/invites/{token}/accept"), json!({})).await.assert(200, "OK");
    let project_a =
        a.post(&format!("/api/user/organizations/{org_a}/projects"), json!({ "name": "Alpha Secret" })).await.data()
            ["id"]
            .as_str()
            .unwrap()
            .to_string();
    let project_b =
        b.post(&format!("/api/user/organizations/{org_b}/projects"), json!({ "name": "Bravo Secret" })).await.data()
            ["id"]
            .as_str()
            .unwrap()
            .to_string();
    let (pat, _) = a.create_key(ALL, None).await;
    let (pinned, _) = a.create_key(ALL, Some(&org_a)).await;
    let (no_scope, _) = a.create_key(&["user:read"], None).await;
    World {
        a_pat: app.with_key(&pat),
        a_pinned: app.with_key(&pinned),
        a_no_scope: app.with_key(&no_scope),
        a_session: a,
        b_session: b,
        org_a,
        org_b,
        shared,
        project_a,
        project_b,
    }
}

/// Every tenant route of an organization: (name, scope it needs, call).
async fn call(api: &Api, route: &str, org: &str, project: &str) -> Resp {
    let base = format!("/api/user/organizations/{org}");
    match route {
        "get org" => api.get(&base).await,
        "update org" => api.put(&base, json!({ "name": "Hijacked" })).await,
        "list projects" => api.get(&format!("{base}/projects")).await,
        "create project" => api.post(&format!("{base}/projects"), json!({ "name": "Injected" })).await,
        "get project" => api.get(&format!("{base}/projects/{project}")).await,
        "update project" => api.put(&format!("{base}/projects/{project}"), json!({ "name": "Hijacked" })).await,
        "delete project" => api.delete(&format!("{base}/projects/{project}")).await,
        other => panic!("unknown route {other}"),
    }
}

const ROUTES: &[&str] =
    &["get org", "update org", "list projects", "create project", "get project", "update project", "delete project"];

/// Nothing of Bob's organization may appear in an answer to Alice.
fn assert_no_leak(r: &Resp, w: &World, route: &str) {
    for secret in ["Bravo Secret", "bob@example.com", w.project_b.as_str()] {
        assert!(!r.text.contains(secret), "{route}: {secret} leaked in {}", r.text);
    }
}

async fn tenant_isolation_matrix(app: TestApp) {
    let w = world(&app).await;
    // Alice's credentials on Bob's organization.
    for route in ROUTES {
        for (who, api) in [("session", &w.a_session), ("pat", &w.a_pat), ("pinned", &w.a_pinned)] {
            let r = call(api, route, &w.org_b, &w.project_b).await;
            r.assert(403, "FORBIDDEN");
            assert_no_leak(&r, &w, &format!("{who} {route}"));
        }
        // Lacking the scope: the scope check comes first on scoped routes.
        let r = call(&w.a_no_scope, route, &w.org_b, &w.project_b).await;
        let expected = if *route == "get org" { "FORBIDDEN" } else { "API_KEY_MISSING_SCOPES" };
        r.assert(403, expected);
        assert_no_leak(&r, &w, &format!("no-scope {route}"));
        // A malformed organization id.
        let r = call(&w.a_session, route, "not-an-org", &w.project_a).await;
        r.assert(403, "TENANT_CONTEXT_MISSING");
    }
    // The pinned key on the shared organization, where Alice is owner: still refused.
    for route in ROUTES {
        call(&w.a_pinned, route, &w.shared, &w.project_a).await.assert(403, "FORBIDDEN");
    }
    // On her own organization every credential works (the no-scope key only where no scope is needed).
    for api in [&w.a_session, &w.a_pat, &w.a_pinned] {
        call(api, "get org", &w.org_a, "").await.assert(200, "OK");
        call(api, "list projects", &w.org_a, "").await.assert(200, "OK");
        call(api, "get project", &w.org_a, &w.project_a).await.assert(200, "OK");
    }
    call(&w.a_no_scope, "get org", &w.org_a, "").await.assert(200, "OK");
    call(&w.a_no_scope, "list projects", &w.org_a, "").await.assert(403, "API_KEY_MISSING_SCOPES");
    // Bob's data is untouched.
    let r = w.b_session.get(&format!("/api/user/organizations/{}/projects/{}", w.org_b, w.project_b)).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["name"], "Bravo Secret");
    let r = w.b_session.get(&format!("/api/user/organizations/{}/projects", w.org_b)).await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(
        w.b_session.get(&format!("/api/user/organizations/{}", w.org_b)).await.data()["name"],
        "Test User's organization"
    );
    // Alice's organization list shows none of Bob's.
    let list = w.a_session.get("/api/user/organizations").await;
    assert!(!list.text.contains(&w.org_b));
}

async fn roles_decide_tenant_permissions(app: TestApp) {
    let w = world(&app).await;
    // Bob is a member of the shared organization: he reads it and works on projects, but may
    // not change the organization's profile.
    let r = w.b_session.get(&format!("/api/user/organizations/{}", w.shared)).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["role"], "member");
    assert_eq!(r.data()["memberCount"], 2);
    w.b_session
        .put(&format!("/api/user/organizations/{}", w.shared), json!({ "name": "Mine now" }))
        .await
        .assert(403, "INSUFFICIENT_PERMISSIONS");
    let p =
        w.b_session.post(&format!("/api/user/organizations/{}/projects", w.shared), json!({ "name": "Joint" })).await;
    p.assert(201, "OK");
    // Alice, the owner, sees Bob's project in the shared organization and may rename it.
    let id = p.data()["id"].as_str().unwrap();
    w.a_session
        .put(&format!("/api/user/organizations/{}/projects/{id}", w.shared), json!({ "name": "Joint 2" }))
        .await
        .assert(200, "OK");
    w.a_session
        .put(&format!("/api/user/organizations/{}", w.shared), json!({ "name": "Shared 2" }))
        .await
        .assert(200, "OK");
    // Bob's organization list shows his role in each.
    let list = w.b_session.get("/api/user/organizations").await;
    let roles: Vec<(&str, &str)> = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o["role"].as_str().unwrap()))
        .collect();
    assert!(roles.contains(&(w.shared.as_str(), "member")));
    assert!(roles.contains(&(w.org_b.as_str(), "owner")));
}

async fn cross_tenant_project_ids(app: TestApp) {
    let w = world(&app).await;
    // Bob's project id under Alice's organization: it exists, but elsewhere.
    for route in ["get project", "update project", "delete project"] {
        for api in [&w.a_session, &w.a_pat, &w.a_pinned] {
            let r = call(api, route, &w.org_a, &w.project_b).await;
            r.assert(403, "TENANT_VIOLATION");
            assert_no_leak(&r, &w, route);
        }
        // An id that exists nowhere.
        call(&w.a_session, route, &w.org_a, &ulid::Ulid::new().to_string()).await.assert(404, "NOT_FOUND");
    }
    let r = w.b_session.get(&format!("/api/user/organizations/{}/projects/{}", w.org_b, w.project_b)).await;
    assert_eq!(r.data()["name"], "Bravo Secret", "not renamed, not deleted");
}
