//! GRAPHQL.md: the same users, organizations, projects and keys under the same auth context.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::db_tests;
use crate::helpers::{Backend, TestApp, PASSWORD};

db_tests!(
    me_and_credentials_give_rest_codes,
    sign_up_sign_in_and_sign_out_through_graphql,
    keys_through_graphql_work_on_rest,
    tenant_matrix_through_graphql,
    validation_errors_list_fields,
    projects_and_organizations_mutations,
    nested_lists_cost_the_same_statements_for_1_and_30_organizations,
    limits_are_enforced_before_any_resolver_runs,
    get_requests_run_queries_only,
    batches_run_every_operation,
    members_invitations_and_audit_through_graphql,
    nested_pages_count_every_organization_at_any_offset,
    a_remembered_document_still_takes_its_own_variables_and_errors,
);

#[test]
fn schema_file_matches_the_code() {
    let sdl = gatehouse::graphql::sdl();
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap_or_default();
    assert!(
        file == sdl,
        "schema.graphql is out of date with the code; regenerate it with:\n    cargo run -- print-schema > schema.graphql"
    );
}

async fn me_and_credentials_give_rest_codes(app: TestApp) {
    let (c, _) = app.user("gme@example.com").await;
    let r = c
        .gql("{ me { email fullName organizationCount emailPreferences { marketingOptOut } createdAt } }", json!({}))
        .await;
    let me = &r.gql_data()["me"];
    assert_eq!(me["email"], "gme@example.com");
    assert_eq!(me["organizationCount"], 1);
    assert_eq!(me["createdAt"].as_str().unwrap().len(), 24);
    // No credential, a bad one, a PAT without the scope: the REST codes and statuses.
    app.client().gql("{ me { email } }", json!({})).await.gql_error("AUTHENTICATION_REQUIRED", 401);
    app.with_key("ba_nope").gql("{ me { email } }", json!({})).await.gql_error("INVALID_API_KEY", 401);
    app.with_header("authorization", "Bearer ")
        .gql("{ me { email } }", json!({}))
        .await
        .gql_error("NO_TOKEN_PROVIDED", 401);
    let (projects_only, _) = c.create_key(&["projects:read"], None).await;
    let r = app.with_key(&projects_only).gql("{ me { email } }", json!({})).await;
    let e = r.gql_error("API_KEY_MISSING_SCOPES", 403);
    assert_eq!(e["extensions"]["missingScopes"], json!(["user:read"]));
    let (empty, _) = c.create_key(&[], None).await;
    app.with_key(&empty).gql("{ me { email } }", json!({})).await.gql_error("NO_SCOPES_AVAILABLE", 403);
    // The session query: null without a session.
    let (key, _) = c.create_key(&["user:read"], None).await;
    assert_eq!(app.with_key(&key).gql("{ session { id } }", json!({})).await.gql_data()["session"], Value::Null);
    assert_eq!(c.gql("{ session { current } }", json!({})).await.gql_data()["session"]["current"], true);
}

async fn sign_up_sign_in_and_sign_out_through_graphql(app: TestApp) {
    let anon = app.client();
    let r = anon
        .gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { user { email handle } organization { role slug } } }",
            json!({ "i": { "email": "gql@example.com", "password": PASSWORD, "name": "Gee" } }),
        )
        .await;
    let d = r.gql_data();
    assert_eq!(d["signUp"]["user"]["email"], "gql@example.com");
    assert_eq!(d["signUp"]["organization"]["role"], "OWNER");
    app.email_to("gql@example.com", "verify-email?token=").await;
    let again = anon
        .gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { user { id } } }",
            json!({ "i": { "email": "GQL@example.com", "password": PASSWORD, "name": "Gee" } }),
        )
        .await;
    again.gql_error("USER_ALREADY_EXISTS", 409);

    let c = app.client();
    let bad = c.gql("mutation { signIn(input: { email: \"gql@example.com\", password: \"wrong-password\" }) { session { id } } }", json!({})).await;
    bad.gql_error("INVALID_CREDENTIALS", 401);
    assert!(bad.set_cookies().is_empty());
    let r = c.gql("mutation { signIn(input: { email: \"gql@example.com\", password: \"a-long-secure-passphrase\" }) { user { email } session { id expiresAt } } }", json!({})).await;
    assert_eq!(r.gql_data()["signIn"]["user"]["email"], "gql@example.com");
    let cookie = r.set_cookies().join(" | ");
    for want in ["gatehouse_session=", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(want), "{want} in {cookie}");
    }
    // The cookie works on REST and GraphQL.
    c.get("/api/user/me").await.assert(200, "OK");
    assert_eq!(c.gql("{ me { email } }", json!({})).await.gql_data()["me"]["email"], "gql@example.com");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM login_history WHERE success = true").await, 1);
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM login_history WHERE success = false").await, 1);
    let r = c.gql("mutation { signOut }", json!({})).await;
    assert_eq!(r.gql_data()["signOut"], true);
    assert!(r.set_cookies().join("").contains("Max-Age=0"));
    c.get("/api/user/me").await.assert(401, "AUTHENTICATION_REQUIRED");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM sessions").await, 0);
}

async fn keys_through_graphql_work_on_rest(app: TestApp) {
    let (c, org) = app.user("gkeys@example.com").await;
    let r = c
        .gql(
            "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key apiKey { id start scopes organizationId expiresAt enabled } } }",
            json!({ "i": { "name": "bot", "scopes": ["USER_READ", "PROJECTS_READ"], "expiresIn": 3600, "organizationId": org } }),
        )
        .await;
    let p = &r.gql_data()["createApiKey"];
    let key = p["key"].as_str().unwrap().to_string();
    assert_eq!(p["apiKey"]["start"].as_str().unwrap(), &key[..8]);
    assert_eq!(p["apiKey"]["scopes"], json!(["USER_READ", "PROJECTS_READ"]));
    assert_eq!(p["apiKey"]["organizationId"], org.as_str());
    let id = p["apiKey"]["id"].as_str().unwrap().to_string();
    // The key works on REST, with the scopes it was given.
    app.with_key(&key).get("/api/user/me").await.assert(200, "OK");
    app.with_key(&key).put("/api/user/me", json!({ "fullName": "x" })).await.assert(403, "API_KEY_MISSING_SCOPES");
    // Listing shows no secret; the key reads its own list only with api-keys:read.
    let list = c.gql("{ apiKeys { total items { id name } } }", json!({})).await;
    assert_eq!(list.gql_data()["apiKeys"]["total"], 1);
    assert!(!list.text.contains(&key));
    app.with_key(&key).gql("{ apiKeys { total } }", json!({})).await.gql_error("API_KEY_MISSING_SCOPES", 403);
    // A PAT can't mint a wider one through GraphQL either.
    let (maker, _) = c.create_key(&["api-keys:write", "user:read"], None).await;
    app.with_key(&maker)
        .gql("mutation { createApiKey(input: { name: \"w\", scopes: [PROJECTS_WRITE] }) { key } }", json!({}))
        .await
        .gql_error("API_KEY_MISSING_SCOPES", 403);
    // Disable, then delete: effective at once.
    let r = c
        .gql(
            "mutation($i: UpdateApiKeyInput!) { updateApiKey(input: $i) { enabled } }",
            json!({ "i": { "id": id, "enabled": false } }),
        )
        .await;
    assert_eq!(r.gql_data()["updateApiKey"]["enabled"], false);
    app.with_key(&key).get("/api/user/me").await.assert(401, "INVALID_API_KEY");
    let r = c.gql("mutation($id: String!) { deleteApiKey(id: $id) }", json!({ "id": id })).await;
    assert_eq!(r.gql_data()["deleteApiKey"], id.as_str());
    c.gql("{ apiKey(id: \"nope\") { id } }", json!({})).await.gql_error("NOT_FOUND", 404);
}

const ALL: &[&str] = &[
    "user:read",
    "user:write",
    "projects:read",
    "projects:write",
    "api-keys:read",
    "api-keys:write",
    "api-keys:delete",
];

async fn tenant_matrix_through_graphql(app: TestApp) {
    let (a, org_a) = app.user("ga@example.com").await;
    let (b, org_b) = app.user("gb@example.com").await;
    let project_b =
        b.post(&format!("/api/user/organizations/{org_b}/projects"), json!({ "name": "Bravo Secret" })).await.id();
    let project_a = a.post(&format!("/api/user/organizations/{org_a}/projects"), json!({ "name": "Alpha" })).await.id();
    let second_a = a.post("/api/user/organizations", json!({ "name": "Second of A" })).await.id();
    let (pat, _) = a.create_key(ALL, None).await;
    let (pinned, _) = a.create_key(ALL, Some(&org_a)).await;
    let (no_projects, _) = a.create_key(&["user:read"], None).await;
    let vars = json!({ "a": org_a, "b": org_b, "pa": project_a, "pb": project_b, "s": second_a });
    for api in [a.clone(), app.with_key(&pat), app.with_key(&pinned)] {
        // Bob's organization, directly and nested.
        let r = api
            .gql("query($b: String!) { organization(id: $b) { name projects { items { name } } } }", vars.clone())
            .await;
        r.gql_error("FORBIDDEN", 403);
        assert!(!r.text.contains("Bravo"), "{}", r.text);
        api.gql("query($b: String!, $pb: String!) { project(organizationId: $b, id: $pb) { name } }", vars.clone())
            .await
            .gql_error("FORBIDDEN", 403);
        // Bob's project under Alice's organization.
        let r = api
            .gql("query($a: String!, $pb: String!) { project(organizationId: $a, id: $pb) { name } }", vars.clone())
            .await;
        r.gql_error("TENANT_VIOLATION", 403);
        assert!(!r.text.contains("Bravo"));
        // Writes across tenants.
        api.gql(
            "mutation($b: String!) { createProject(organizationId: $b, input: { name: \"x\" }) { id } }",
            vars.clone(),
        )
        .await
        .gql_error("FORBIDDEN", 403);
        api.gql("mutation($a: String!, $pb: String!) { deleteProject(organizationId: $a, id: $pb) }", vars.clone())
            .await
            .gql_error("TENANT_VIOLATION", 403);
        api.gql("mutation($b: String!) { updateOrganization(id: $b, input: { name: \"x\" }) { id } }", vars.clone())
            .await
            .gql_error("FORBIDDEN", 403);
        // Alice's own project, and its organization reference.
        let r = api.gql("query($a: String!, $pa: String!) { project(organizationId: $a, id: $pa) { name createdBy { email } organization { id role } } }", vars.clone()).await;
        let p = &r.gql_data()["project"];
        assert_eq!(p["createdBy"]["email"], "ga@example.com");
        assert_eq!(p["organization"]["role"], "OWNER");
    }
    // Malformed organization id.
    a.gql("{ organization(id: \"x\") { id } }", json!({})).await.gql_error("TENANT_CONTEXT_MISSING", 403);
    // The pinned key sees only its organization, and not the second one.
    let r = app.with_key(&pinned).gql("{ organizations { total items { id projects { total } } } }", json!({})).await;
    let d = r.gql_data();
    assert_eq!(d["organizations"]["total"], 1);
    assert_eq!(d["organizations"]["items"][0]["id"], org_a.as_str());
    app.with_key(&pinned)
        .gql("query($s: String!) { organization(id: $s) { id } }", vars.clone())
        .await
        .gql_error("FORBIDDEN", 403);
    // A key without projects:read: organizations resolve, their projects fail (partial data).
    let r = app.with_key(&no_projects).gql("{ organizations { items { name projects { total } } } }", json!({})).await;
    assert_eq!(r.status, 200);
    assert!(r.body["data"]["organizations"]["items"][0]["name"].is_string(), "{}", r.text);
    assert!(r.gql_codes().iter().all(|c| c == "API_KEY_MISSING_SCOPES"), "{}", r.text);
    assert_eq!(r.gql_codes().len(), 2, "one error per organization: {}", r.text);
    // Alice's list never includes Bob's organization or projects.
    let r = a
        .gql(
            "{ organizations { items { id projects { items { name } } members { items { user { email } } } } } }",
            json!({}),
        )
        .await;
    assert!(!r.text.contains(&org_b) && !r.text.contains("Bravo") && !r.text.contains("gb@example.com"), "{}", r.text);
}

async fn validation_errors_list_fields(app: TestApp) {
    let (c, org) = app.user("gval@example.com").await;
    let r = c
        .gql(
            "mutation($o: String!) { createProject(organizationId: $o, input: { name: \"\", website: \"ftp://x\", timezone: \"Nowhere/City\" }) { id } }",
            json!({ "o": org }),
        )
        .await;
    let e = r.gql_error("VALIDATION_ERROR", 400);
    let mut fields: Vec<&str> =
        e["extensions"]["errors"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(fields, vec!["name", "timezone", "website"]);
    let website = e["extensions"]["errors"].as_array().unwrap().iter().find(|f| f["field"] == "website").unwrap();
    assert_eq!(website["error"], "Invalid url");
    c.gql("{ organizations(limit: 101) { total } }", json!({})).await.gql_error("VALIDATION_ERROR", 400);
    c.gql("{ organizations(offset: -1) { total } }", json!({})).await.gql_error("VALIDATION_ERROR", 400);
    // A GraphQL type error is labelled too.
    let r = c.gql("{ organizations(limit: \"ten\") { total } }", json!({})).await;
    assert!(!r.gql_codes().is_empty() && r.gql_codes().iter().all(|c| c == "VALIDATION_ERROR"), "{}", r.text);
}

async fn projects_and_organizations_mutations(app: TestApp) {
    let (c, org) = app.user("gmut@example.com").await;
    let r = c
        .gql(
            "mutation($o: String!) { createProject(organizationId: $o, input: { name: \"Watch\", status: ACTIVE, website: \"https://a.example\" }) { id slug status nextRunAt createdBy { email } } }",
            json!({ "o": org }),
        )
        .await;
    let p = r.gql_data()["createProject"].clone();
    assert_eq!(p["status"], "ACTIVE");
    assert!(p["nextRunAt"].is_string());
    let id = p["id"].as_str().unwrap();
    let r = c
        .gql(
            "mutation($o: String!, $id: String!) { updateProject(organizationId: $o, id: $id, input: { status: PAUSED, website: null }) { status website nextRunAt name } }",
            json!({ "o": org, "id": id }),
        )
        .await;
    let u = &r.gql_data()["updateProject"];
    assert_eq!(u["status"], "PAUSED");
    assert!(u["website"].is_null() && u["nextRunAt"].is_null());
    assert_eq!(u["name"], "Watch");
    // REST sees the same project.
    let rest = c.get(&format!("/api/user/organizations/{org}/projects/{id}")).await;
    assert_eq!(rest.data()["status"], "paused");
    let r = c.gql("{ organizations { items { projects(q: \"wat\", status: PAUSED) { total items { id } } myMembership { role user { email } } } } }", json!({})).await;
    let o = &r.gql_data()["organizations"]["items"][0];
    assert_eq!(o["projects"]["total"], 1);
    assert_eq!(o["myMembership"]["role"], "OWNER");
    assert_eq!(o["myMembership"]["user"]["email"], "gmut@example.com");
    let r = c
        .gql(
            "mutation($o: String!, $id: String!) { deleteProject(organizationId: $o, id: $id) }",
            json!({ "o": org, "id": id }),
        )
        .await;
    assert_eq!(r.gql_data()["deleteProject"], id);
    let r = c
        .gql("mutation { createOrganization(input: { name: \"Made Here\" }) { id slug role memberCount } }", json!({}))
        .await;
    let o = r.gql_data()["createOrganization"].clone();
    assert_eq!(o["slug"], "made-here");
    let r = c
        .gql("mutation($id: String!) { updateOrganization(id: $id, input: { name: \"Renamed\", logoUrl: \"https://l.example/x.png\" }) { name logoUrl } }", json!({ "id": o["id"] }))
        .await;
    assert_eq!(r.gql_data()["updateOrganization"]["name"], "Renamed");
    let r = c.gql("mutation { updateMe(input: { fullName: \"New Name\" }) { fullName } }", json!({})).await;
    assert_eq!(r.gql_data()["updateMe"]["fullName"], "New Name");
}

const NESTED: &str = "{ organizations(limit: 30) { items { projects { items { createdBy { email } } } members { items { user { email } } } } } }";

/// Runs the nested query and returns how many SQL statements it cost. The pool's counter also
/// sees the mail worker's polls, so the least of three runs is the query's own cost. Each run
/// follows a small query, so the session is in the credential cache and costs nothing.
async fn statements_for(app: &TestApp, api: &crate::helpers::Api) -> u64 {
    let mut least = u64::MAX;
    for _ in 0..3 {
        api.gql("{ me { id } }", json!({})).await.gql_data();
        let before = app.state.db.statement_count();
        let r = api.gql(NESTED, json!({})).await;
        r.gql_data();
        least = least.min(app.state.db.statement_count() - before);
    }
    least
}

async fn nested_lists_cost_the_same_statements_for_1_and_30_organizations(app: TestApp) {
    let (one, org) = app.user("one-org@example.com").await;
    one.post(&format!("/api/user/organizations/{org}/projects"), json!({ "name": "p" })).await.assert(201, "OK");
    let (many, _) = app.user("many-orgs@example.com").await;
    let (other, _) = app.user("other-member@example.com").await;
    let other_id = other.get("/api/user/me").await.data()["id"].as_str().unwrap().to_string();
    for i in 0..29 {
        let o = many.post("/api/user/organizations", json!({ "name": format!("Org {i}") })).await.id();
        for j in 0..3 {
            many.post(&format!("/api/user/organizations/{o}/projects"), json!({ "name": format!("P{j}") }))
                .await
                .assert(201, "OK");
        }
        app.sql_exec(&format!(
            "INSERT INTO memberships (id, organization_id, user_id, role, created_at, updated_at) VALUES ('{}', '{o}', '{other_id}', 'member', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
            ulid::Ulid::new()
        ))
        .await;
    }
    // The session check is one statement of its own either way; compare the whole request.
    let for_one = statements_for(&app, &one).await;
    let for_thirty = statements_for(&app, &many).await;
    let r = many.gql(NESTED, json!({})).await;
    assert_eq!(r.gql_data()["organizations"]["items"].as_array().unwrap().len(), 30);
    assert_eq!(for_one, for_thirty, "statements for 1 organization vs 30");
    assert!(for_thirty <= 16, "a bounded number: {for_thirty}");
}

async fn limits_are_enforced_before_any_resolver_runs(app: TestApp) {
    let (c, _) = app.user("glimits@example.com").await;
    // Depth 11.
    let deep = "{ organizations(limit: 1) { items { projects(limit: 1) { items { organization { projects(limit: 1) { items { organization { projects(limit: 1) { items { id } } } } } } } } } } }";
    let r = c.gql(deep, json!({})).await;
    assert_eq!(r.gql_codes(), vec!["VALIDATION_ERROR"], "{}", r.text);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().to_lowercase().contains("deep"), "{}", r.text);
    // Complexity: 100 organizations x 100 projects.
    let wide = "{ organizations(limit: 100) { items { projects(limit: 100) { items { id name slug } } } } }";
    let r = c.gql(wide, json!({})).await;
    assert!(r.body["errors"][0]["message"].as_str().unwrap().to_lowercase().contains("complex"), "{}", r.text);
    assert!(r.body["data"].is_null());
    // Nothing ran: with the session in the credential cache, the two requests cost no statement
    // at all (the least of three tries, as the mail worker's polls also count).
    let mut least = u64::MAX;
    for _ in 0..3 {
        let b = app.state.db.statement_count();
        assert!(c.gql(deep, json!({})).await.body["data"].is_null());
        assert!(c.gql(wide, json!({})).await.body["data"].is_null());
        least = least.min(app.state.db.statement_count() - b);
    }
    assert_eq!(least, 0, "resolvers ran");
    // Batch of 11.
    let batch: Vec<Value> = (0..11).map(|_| json!({ "query": "{ me { email } }" })).collect();
    let r = c.post("/graphql", Value::Array(batch)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.gql_codes(), vec!["VALIDATION_ERROR"]);
    // A query over 100 KiB.
    let big = format!("{{ me {{ email }} }} #{}", "x".repeat(100 * 1024));
    let r = c.gql(&big, json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.gql_codes(), vec!["VALIDATION_ERROR"]);
    // Introspection is on by default, off by setting.
    let intro = "{ __schema { queryType { name } } }";
    assert_eq!(c.gql(intro, json!({})).await.gql_data()["__schema"]["queryType"]["name"], "Query");
    if app.backend == Backend::Sqlite {
        let closed = TestApp::spawn_with(
            Backend::Sqlite,
            None,
            HashMap::from([("GATEHOUSE_GRAPHQL_INTROSPECTION".into(), "off".into())]),
        )
        .await;
        let r = closed.client().gql(intro, json!({})).await;
        assert!(r.body["errors"].is_array(), "{}", r.text);
        assert!(r.body["data"].is_null() || r.body["data"]["__schema"].is_null(), "{}", r.text);
    }
}

async fn get_requests_run_queries_only(app: TestApp) {
    let (c, _) = app.user("gget@example.com").await;
    let r = c.get("/graphql?query=%7B%20me%20%7B%20email%20%7D%20%7D").await;
    assert_eq!(r.gql_data()["me"]["email"], "gget@example.com");
    let r = c.get("/graphql?query=mutation%20%7B%20signOut%20%7D").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.gql_codes(), vec!["METHOD_NOT_ALLOWED"]);
    c.get("/api/user/me").await.assert(200, "OK");
    // A browser gets the explorer: local assets only, under a strict CSP.
    let page =
        c.send(c.request(reqwest::Method::GET, "/graphql").header("accept", "text/html,application/xhtml+xml")).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(
        !page.text.contains("http://") && !page.text.contains("https://") && !page.text.contains("//cdn"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("<script>"), "no inline script");
    let mut assets = 0;
    for attr in ["src=\"", "href=\""] {
        for part in page.text.split(attr).skip(1) {
            let url = part.split('"').next().unwrap();
            if url.starts_with("data:") {
                continue;
            }
            assert!(url.starts_with('/'), "local: {url}");
            let r = c.get(url).await;
            assert_eq!(r.status, 200, "{url}");
            assets += 1;
        }
    }
    assert_eq!(assets, 6, "{}", page.text);
    c.get("/graphql/assets/nope.js").await.assert(404, "NOT_FOUND");
}

async fn batches_run_every_operation(app: TestApp) {
    let (c, _) = app.user("gbatch@example.com").await;
    let r = c
        .post("/graphql", json!([{ "query": "{ me { email } }" }, { "query": "{ organizations { total } }" }, { "query": "{ nope }" }]))
        .await;
    assert_eq!(r.status, 200);
    let arr = r.body.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["data"]["me"]["email"], "gbatch@example.com");
    assert_eq!(arr[1]["data"]["organizations"]["total"], 1);
    assert_eq!(arr[2]["errors"][0]["extensions"]["code"], "VALIDATION_ERROR");
    let r = c
        .send(c.request(reqwest::Method::POST, "/graphql").header("content-type", "application/json").body("{nope"))
        .await;
    assert_eq!(r.status, 400);
}

async fn members_invitations_and_audit_through_graphql(app: TestApp) {
    let (owner, org) = app.user("gown@example.com").await;
    let r = owner
        .gql("mutation($o: String!) { inviteMembers(organizationId: $o, emails: [\"gjoin@example.com\"], role: ADMIN) { id email status role } }", json!({ "o": org }))
        .await;
    let invite = &r.gql_data()["inviteMembers"][0];
    assert_eq!(invite["status"], "PENDING");
    let token = crate::helpers::token_from(&app.email_to("gjoin@example.com", "/invites/").await, "/invites/");
    let (joiner, _) = app.user("gjoin@example.com").await;
    let offer = joiner
        .gql("query($t: String!) { invitation(token: $t) { role organization { id } } }", json!({ "t": token }))
        .await;
    assert_eq!(offer.gql_data()["invitation"]["organization"]["id"], org.as_str());
    let r = joiner
        .gql("mutation($t: String!) { acceptInvite(token: $t) { id role user { email } } }", json!({ "t": token }))
        .await;
    let m = r.gql_data()["acceptInvite"].clone();
    assert_eq!(m["role"], "ADMIN");
    assert_eq!(m["user"]["email"], "gjoin@example.com");
    joiner
        .gql("mutation($t: String!) { acceptInvite(token: $t) { id } }", json!({ "t": token }))
        .await
        .gql_error("INVALID_TOKEN", 400);
    // The admin may see invitations but not the audit log; the owner sees both.
    let q = "query($o: String!) { organization(id: $o) { invites { total items { email status } } auditLogs(action: \"member.joined\") { total items { action credential } } } }";
    let r = joiner.gql(q, json!({ "o": org })).await;
    assert_eq!(r.gql_codes(), vec!["INSUFFICIENT_PERMISSIONS"], "{}", r.text);
    assert_eq!(r.body["data"]["organization"]["invites"]["items"][0]["status"], "ACCEPTED", "{}", r.text);
    let r = owner.gql(q, json!({ "o": org })).await;
    let d = &r.gql_data()["organization"];
    assert_eq!(d["auditLogs"]["total"], 1);
    assert_eq!(d["auditLogs"]["items"][0]["credential"], "session");
    // Roles and removal, with the REST rules.
    let member_id = m["id"].as_str().unwrap();
    let owner_member = owner
        .gql("query($o: String!) { organization(id: $o) { myMembership { id } } }", json!({ "o": org }))
        .await
        .gql_data()["organization"]["myMembership"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    joiner
        .gql("mutation($o: String!, $m: String!) { updateMemberRole(organizationId: $o, memberId: $m, role: MEMBER) { role } }", json!({ "o": org, "m": owner_member }))
        .await
        .gql_error("INSUFFICIENT_PERMISSIONS", 403);
    owner
        .gql("mutation($o: String!, $m: String!) { updateMemberRole(organizationId: $o, memberId: $m, role: MEMBER) { role } }", json!({ "o": org, "m": owner_member }))
        .await
        .gql_error("CONFLICT", 409);
    let r = owner
        .gql(
            "mutation($o: String!, $m: String!) { removeMember(organizationId: $o, memberId: $m) }",
            json!({ "o": org, "m": member_id }),
        )
        .await;
    assert_eq!(r.gql_data()["removeMember"], member_id);
    // Login history and account deletion through GraphQL.
    let r = owner.gql("{ loginHistory(limit: 1) { total items { success method } } }", json!({})).await;
    assert_eq!(r.gql_data()["loginHistory"]["items"][0]["method"], "email");
    let (key, _) = joiner.create_key(&["user:read", "user:write"], None).await;
    app.with_key(&key)
        .gql("mutation { deleteMe(password: \"a-long-secure-passphrase\") }", json!({}))
        .await
        .gql_error("SESSION_REQUIRED", 403);
    let r = joiner.gql("mutation { deleteMe(password: \"a-long-secure-passphrase\") }", json!({})).await;
    assert!(r.gql_data()["deleteMe"].is_string());
    app.client().sign_in("gjoin@example.com", PASSWORD).await.assert(401, "INVALID_CREDENTIALS");
}

/// Nested pages are cut from one windowed statement that also counts each organization's rows:
/// the totals hold on a first page, a middle page, a page past the end and an empty organization.
async fn nested_pages_count_every_organization_at_any_offset(app: TestApp) {
    let (c, org) = app.user("pages@example.com").await;
    let empty = c.post("/api/user/organizations", json!({ "name": "Empty" })).await.id();
    for i in 0..3 {
        c.post(&format!("/api/user/organizations/{org}/projects"), json!({ "name": format!("P{i}") }))
            .await
            .assert(201, "OK");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await; // distinct createdAt
    }
    c.post(
        &format!("/api/user/organizations/{org}/invites"),
        json!({ "emails": ["a@example.com", "b@example.com"], "role": "member" }),
    )
    .await
    .assert(201, "OK");
    let query = |offset: u32| {
        format!(
            "{{ organizations {{ total items {{ id memberCount projects(offset: {offset}, limit: 2) {{ total items {{ name }} }} \
             members(offset: {offset}, limit: 2) {{ total items {{ role }} }} invites(offset: {offset}, limit: 2) {{ total items {{ email }} }} }} }} }}"
        )
    };
    for (offset, projects, invites, members) in [(0, 2, 2, 1), (2, 1, 0, 0), (5, 0, 0, 0)] {
        let r = c.gql(&query(offset), json!({})).await;
        let d = r.gql_data();
        assert_eq!(d["organizations"]["total"], 2, "{}", r.text);
        for o in d["organizations"]["items"].as_array().unwrap() {
            let full = o["id"] == org.as_str();
            assert!(full || o["id"] == empty.as_str());
            assert_eq!(o["memberCount"], 1);
            assert_eq!(o["projects"]["total"], if full { 3 } else { 0 }, "offset {offset}: {}", r.text);
            assert_eq!(o["projects"]["items"].as_array().unwrap().len(), if full { projects } else { 0 });
            if full {
                let names: Vec<&str> =
                    o["projects"]["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
                let newest_first = ["P2", "P1", "P0"];
                let at = offset as usize;
                assert_eq!(names, newest_first[at.min(3)..(at + 2).min(3)], "offset {offset}");
            }
            assert_eq!(o["invites"]["total"], if full { 2 } else { 0 }, "offset {offset}: {}", r.text);
            assert_eq!(o["invites"]["items"].as_array().unwrap().len(), if full { invites } else { 0 });
            assert_eq!(o["members"]["total"], 1);
            assert_eq!(o["members"]["items"].as_array().unwrap().len(), members);
        }
    }
    // The organization list itself, past its end: the total still comes back.
    let r = c.get("/api/user/organizations?offset=5").await;
    r.assert(200, "OK");
    assert_eq!(r.data().as_array().unwrap().len(), 0);
    assert_eq!(r.body["meta"]["total"], 2, "{}", r.text);
}

/// Parsed documents are remembered by their text (src/graphql/handler.rs): the same text with
/// other variables answers for those variables, and a document that does not parse keeps
/// failing the same way.
async fn a_remembered_document_still_takes_its_own_variables_and_errors(app: TestApp) {
    let (c, first) = app.user("memo@example.com").await;
    let second = c.post("/api/user/organizations", json!({ "name": "Memo Two" })).await.id();
    let q = "query($id: String!) { organization(id: $id) { id } }";
    for org in [&first, &second, &first] {
        let r = c.gql(q, json!({ "id": org })).await;
        assert_eq!(r.gql_data()["organization"]["id"], org.as_str());
    }
    for _ in 0..2 {
        let r = c.gql("{ me { email }", json!({})).await;
        assert!(r.body["data"].is_null(), "{}", r.text);
        assert!(!r.body["errors"][0]["message"].as_str().unwrap_or("").is_empty(), "{}", r.text);
    }
}
