//! Fixes from review: edge cases that must not become 500s, leaks or races.

use serde_json::json;

use crate::db_tests;
use crate::helpers::{token_from, TestApp};

db_tests!(
    nul_characters_are_bad_input_not_a_500,
    malformed_paths_are_enveloped,
    reset_on_an_unverified_account_drops_earlier_keys,
    concurrent_owner_demotions_leave_an_owner,
    pinned_key_export_stays_in_its_organization,
    graphql_mutation_fields_are_capped_and_co_members_are_summaries,
);

async fn nul_characters_are_bad_input_not_a_500(app: TestApp) {
    let (c, org) = app.user("nul@example.com").await;
    let r = c.post("/api/auth/api-key/create", json!({ "name": "a\u{0}b" })).await;
    r.assert(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["name"]);
    c.post("/api/auth/sign-in/email", json!({ "email": "x\u{0}@example.com", "password": "whatever-pass" }))
        .await
        .assert(400, "VALIDATION_ERROR");
    c.get(&format!("/api/user/organizations/{org}/projects?q=a%00b")).await.assert(400, "VALIDATION_ERROR");
    c.get("/api/auth/api-key/get?id=ak_%00").await.assert(400, "VALIDATION_ERROR");
    // Through GraphQL too (the database's refusal is mapped, never a 500).
    let r = c.gql("mutation($o: String!, $n: String!) { createProject(organizationId: $o, input: { name: \"ok\", description: $n }) { id } }", json!({ "o": org, "n": "a\u{0}b" })).await;
    assert!(r.gql_codes().iter().all(|c| c != "INTERNAL_ERROR"), "{}", r.text);
}

async fn malformed_paths_are_enveloped(app: TestApp) {
    let (c, _) = app.user("paths@example.com").await;
    c.get("/api/user/organizations//projects").await.assert(403, "TENANT_CONTEXT_MISSING");
    let r = c.get("/api/user/organizations/%FF%FE/projects").await;
    assert!(r.body["success"] == false && r.status < 500, "{}", r.text);
}

async fn reset_on_an_unverified_account_drops_earlier_keys(app: TestApp) {
    // Someone signs up with an address they do not own and makes a key.
    let (squatter, _) = app.user("victim@example.com").await;
    let (key, _) = squatter.create_key(&["user:read"], None).await;
    // The address's owner takes the account back through the emailed reset link.
    app.client()
        .post("/api/auth/request-password-reset", json!({ "email": "victim@example.com" }))
        .await
        .assert(200, "OK");
    let token =
        token_from(&app.email_to("victim@example.com", "/reset-password?token=").await, "/reset-password?token=");
    app.client()
        .post("/api/auth/reset-password", json!({ "token": token, "newPassword": "the-real-owners-pass" }))
        .await
        .assert(200, "OK");
    app.with_key(&key).get("/api/user/me").await.assert(401, "INVALID_API_KEY");
    squatter.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    let owner = app.client();
    let r = owner.sign_in("victim@example.com", "the-real-owners-pass").await;
    r.assert(200, "OK");
    assert_eq!(r.data()["user"]["isVerified"], true, "the reset proved the address");
    // On a verified account a reset keeps the owner's keys.
    let (key2, _) = owner.create_key(&["user:read"], None).await;
    app.client()
        .post("/api/auth/request-password-reset", json!({ "email": "victim@example.com" }))
        .await
        .assert(200, "OK");
    let mut second = String::new();
    for _ in 0..100 {
        if let Some(t) = app
            .emails()
            .iter()
            .filter(|m| m.contains("/reset-password?token="))
            .map(|m| token_from(m, "/reset-password?token="))
            .find(|t| *t != token)
        {
            second = t;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.client()
        .post("/api/auth/reset-password", json!({ "token": second, "newPassword": "another-owner-pass" }))
        .await
        .assert(200, "OK");
    app.with_key(&key2).get("/api/user/me").await.assert(200, "OK");
    // A dead link is refused before any hashing.
    app.client()
        .post("/api/auth/reset-password", json!({ "token": "dead", "newPassword": "whatever-pass" }))
        .await
        .assert(400, "INVALID_TOKEN");
}

async fn concurrent_owner_demotions_leave_an_owner(app: TestApp) {
    let (first, org) = app.user("o1@example.com").await;
    let first_id = first.get(&format!("/api/user/organizations/{org}/my-membership")).await.id();
    let (second, second_id) = app.join(&first, &org, "o2@example.com", "owner").await;
    let role = |id: &str| format!("/api/user/organizations/{org}/members/{id}/role");
    let (demote_first, demote_second) = (role(&first_id), role(&second_id));
    let (a, b) = tokio::join!(
        second.put(&demote_first, json!({ "role": "member" })),
        first.put(&demote_second, json!({ "role": "member" }))
    );
    // One wins; the other is refused, as the last owner (409) or as no longer an owner (403).
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert!(statuses[0] == 200 && (statuses[1] == 403 || statuses[1] == 409), "{} / {}", a.text, b.text);
    assert_eq!(
        app.sql_count(&format!("SELECT COUNT(*) FROM memberships WHERE organization_id = '{org}' AND role = 'owner'"))
            .await,
        1
    );
}

async fn pinned_key_export_stays_in_its_organization(app: TestApp) {
    let (c, home) = app.user("pinexport@example.com").await;
    let other = c.post("/api/user/organizations", json!({ "name": "Elsewhere Inc" })).await.id();
    c.create_key(&["user:read"], None).await;
    let (pinned, _) = c.create_key(&["user:read"], Some(&home)).await;
    let r = app.with_key(&pinned).get("/api/user/me/export").await;
    r.assert(200, "OK");
    assert_eq!(r.data()["memberships"].as_array().unwrap().len(), 1);
    assert!(!r.text.contains(&other) && !r.text.contains("Elsewhere Inc"), "{}", r.text);
    assert!(r.data()["apiKeys"].as_array().unwrap().iter().all(|k| k["organizationId"] == home.as_str()));
}

async fn graphql_mutation_fields_are_capped_and_co_members_are_summaries(app: TestApp) {
    let (c, org) = app.user("gcap@example.com").await;
    let fields: Vec<String> = (0..11).map(|i| format!("a{i}: signOut")).collect();
    let r = c.gql(&format!("mutation {{ {} }}", fields.join(" ")), json!({})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.gql_codes(), vec!["VALIDATION_ERROR"]);
    c.get("/api/user/me").await.assert(200, "OK");
    c.post(&format!("/api/user/organizations/{org}/projects"), json!({ "name": "P" })).await.assert(201, "OK");
    // A co-member is who they are, nothing about their account.
    let r = c.gql("query($o: String!) { organization(id: $o) { projects { items { createdBy { email fullName organizationCount } } } } }", json!({ "o": org })).await;
    assert_eq!(r.gql_codes(), vec!["VALIDATION_ERROR"], "{}", r.text);
    let r = c.gql("query($o: String!) { organization(id: $o) { projects { items { createdBy { email fullName handle } } } } }", json!({ "o": org })).await;
    assert_eq!(r.gql_data()["organization"]["projects"]["items"][0]["createdBy"]["email"], "gcap@example.com");
}
