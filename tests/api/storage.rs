//! The storage layer seen from outside: on a SQLite file, reads outside a transaction run inline
//! (src/db/sqlite_reader.rs) while writes and transactions take the sqlx pool; what a client
//! reads back is the same whichever path produced it.

use serde_json::json;

use crate::db_tests;
use crate::helpers::{Backend, TestApp};

db_tests!(reads_run_inline_on_sqlite_and_writes_take_the_pool, both_read_paths_decode_rows_alike);

/// Statements (inline, through the pool) that one call of `f` costs: the least of three runs, as
/// the mail worker's polls also count.
async fn cost<F, Fut>(app: &TestApp, f: F) -> (u64, u64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut least = (u64::MAX, u64::MAX);
    for _ in 0..3 {
        let (all, inline) = (app.state.db.statement_count(), app.state.db.inline_statement_count());
        f().await;
        let inline = app.state.db.inline_statement_count() - inline;
        let pooled = app.state.db.statement_count() - all - inline;
        least = (least.0.min(inline), least.1.min(pooled));
    }
    least
}

async fn reads_run_inline_on_sqlite_and_writes_take_the_pool(app: TestApp) {
    let (c, org) = app.user("inline@example.com").await;
    let (key, _) = c.create_key(&["user:read", "projects:read", "projects:write"], None).await;
    let pat = app.with_key(&key);
    pat.get("/api/user/me").await.assert(200, "OK"); // the first use records lastUsedAt (a write)
    let projects = format!("/api/user/organizations/{org}/projects");
    pat.get(&projects).await.assert(200, "OK");
    // The credential comes from the cache (tests/api/credential_cache.rs); the page is one read.
    let (inline, pooled) = cost(&app, || async {
        pat.get(&projects).await.assert(200, "OK");
    })
    .await;
    match app.backend {
        Backend::Sqlite => assert!(inline >= 1 && pooled == 0, "the page's reads run inline: {inline}, {pooled}"),
        Backend::Postgres => assert!(inline == 0 && pooled >= 1, "{inline}, {pooled}"),
    }
    // A write goes through the pool, and the very next inline read sees it.
    let before = app.state.db.statement_count() - app.state.db.inline_statement_count();
    let id = pat.post(&projects, json!({ "name": "Fresh" })).await.assert(201, "OK").id();
    assert!(app.state.db.statement_count() - app.state.db.inline_statement_count() > before);
    let got = pat.get(&format!("{projects}/{id}")).await;
    got.assert(200, "OK");
    assert_eq!(got.data()["name"], "Fresh");
    pat.delete(&format!("{projects}/{id}")).await.assert(200, "OK");
    pat.get(&format!("{projects}/{id}")).await.assert(404, "NOT_FOUND");
}

/// A row written and returned by the pool (`RETURNING`) reads back identically through the
/// inline path: strings, absent values, booleans, timestamps, enums.
async fn both_read_paths_decode_rows_alike(app: TestApp) {
    let (c, org) = app.user("decode@example.com").await;
    let projects = format!("/api/user/organizations/{org}/projects");
    let created = c
        .post(
            &projects,
            json!({
                "name": "Décodé ✓", "description": "line one\nline two", "website": "https://example.com/x?y=1",
                "timezone": "Europe/Paris", "status": "active", "frequency": "weekly"
            }),
        )
        .await;
    created.assert(201, "OK");
    let id = created.id();
    let updated = c.put(&format!("{projects}/{id}"), json!({ "status": "paused" })).await;
    updated.assert(200, "OK");
    let got = c.get(&format!("{projects}/{id}")).await;
    assert_eq!(got.data(), updated.data(), "GET vs the update's answer");
    assert_eq!(got.data()["name"], "Décodé ✓");
    assert!(got.data()["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{}", got.text);
    assert!(got.data()["businessContext"].is_null());

    let r =
        c.post("/api/auth/api-key/create", json!({ "name": "k", "expiresIn": 3600, "scopes": ["user:read"] })).await;
    r.assert(200, "OK");
    let mut made = r.data().clone();
    made.as_object_mut().unwrap().remove("key");
    let got = c.get(&format!("/api/auth/api-key/get?id={}", made["id"].as_str().unwrap())).await;
    assert_eq!(got.data(), &made, "GET vs the create's answer");
    assert_eq!(got.data()["enabled"], true);
    assert!(got.data()["expiresAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{}", got.text);
}
