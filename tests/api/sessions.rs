//! Sessions: sign-out, get-session, list and revoke (API.md 2.2 and 3).

use serde_json::{json, Value};

use crate::db_tests;
use crate::helpers::{TestApp, PASSWORD};

db_tests!(
    sign_out_clears_the_cookie_and_kills_the_session,
    get_session_answers_null_without_a_session,
    list_and_revoke_sessions,
    sliding_session_is_extended_and_capped,
);

/// The `name=value` of the session cookie a response set.
/// The `Max-Age` of the session cookie a response set.
fn max_age(r: &crate::helpers::Resp) -> i64 {
    let resent = r.set_cookies().join(" | ");
    assert!(resent.contains("gatehouse_session=") && resent.contains("Max-Age="), "cookie re-sent: {resent}");
    resent.split("Max-Age=").nth(1).unwrap().split(';').next().unwrap().trim().parse().unwrap()
}

fn cookie_pair(r: &crate::helpers::Resp) -> String {
    r.set_cookies().iter().find(|c| c.contains("gatehouse_session=")).unwrap().split(';').next().unwrap().to_string()
}

async fn sign_out_clears_the_cookie_and_kills_the_session(app: TestApp) {
    app.sign_up("out@example.com", PASSWORD, "Out").await;
    let c = app.client();
    let pair = cookie_pair(&c.sign_in("out@example.com", PASSWORD).await);
    let r = c.post("/api/auth/sign-out", json!({})).await;
    r.assert(200, "OK");
    let cleared = r.set_cookies().join(" | ");
    assert!(cleared.contains("gatehouse_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM sessions").await, 0);
    // The old token, replayed by hand, is dead.
    let replay = app.with_header("cookie", &pair);
    replay.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    c.get("/api/user/me").await.assert(401, "AUTHENTICATION_REQUIRED");
}

async fn get_session_answers_null_without_a_session(app: TestApp) {
    let anon = app.client();
    let r = anon.get("/api/auth/get-session").await;
    r.assert(200, "OK");
    assert_eq!(r.data(), &Value::Null);
    let (c, _) = app.user("gs@example.com").await;
    let r = c.get("/api/auth/get-session").await;
    r.assert(200, "OK");
    assert_eq!(r.data()["user"]["email"], "gs@example.com");
    assert_eq!(r.data()["session"]["current"], true);
    // A dead cookie is just "no session" here.
    let r = app.with_header("cookie", "gatehouse_session=bogus").get("/api/auth/get-session").await;
    r.assert(200, "OK");
    assert_eq!(r.data(), &Value::Null);
}

async fn list_and_revoke_sessions(app: TestApp) {
    let (a1, _) = app.user("multi@example.com").await;
    let a2 = app.client();
    a2.sign_in("multi@example.com", PASSWORD).await;
    let a3 = app.client();
    a3.sign_in("multi@example.com", PASSWORD).await;
    let (b, _) = app.user("stranger@example.com").await;

    let r = a1.get("/api/auth/list-sessions").await;
    r.assert(200, "OK");
    let list = r.data().as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    for s in list {
        for k in ["id", "createdAt", "expiresAt", "ipAddress", "userAgent", "current"] {
            assert!(s.get(k).is_some(), "{k} in {s}");
        }
        assert_eq!(s["ipAddress"], "127.0.0.1");
    }
    let a2_id = a2.get("/api/auth/get-session").await.data()["session"]["id"].as_str().unwrap().to_string();
    // Another user cannot revoke it.
    b.post("/api/auth/revoke-session", json!({ "id": a2_id })).await.assert(404, "NOT_FOUND");
    a2.get("/api/user/me").await.assert(200, "OK");
    a1.post("/api/auth/revoke-session", json!({})).await.assert(400, "VALIDATION_ERROR");
    a1.post("/api/auth/revoke-session", json!({ "id": a2_id })).await.assert(200, "OK");
    a2.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    // Revoke the others: a3 dies, a1 lives.
    a1.post("/api/auth/revoke-other-sessions", json!({})).await.assert(200, "OK");
    a3.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    a1.get("/api/user/me").await.assert(200, "OK");
    // Revoke all, the current one included.
    let a4 = app.client();
    a4.sign_in("multi@example.com", PASSWORD).await;
    a1.post("/api/auth/revoke-sessions", json!({})).await.assert(200, "OK");
    a1.get("/api/user/me").await.assert(401, "AUTHENTICATION_REQUIRED");
    a4.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    b.get("/api/user/me").await.assert(200, "OK");
}

async fn sliding_session_is_extended_and_capped(app: TestApp) {
    let (c, _) = app.user("slide@example.com").await;
    // Pretend the session was last refreshed two days ago and expires in five.
    app.sql_exec(&shift_session_sql(&app, 2, 5, 28)).await;
    let r = c.get("/api/user/me").await;
    r.assert(200, "OK");
    let age = max_age(&r);
    assert!((604_700..=604_800).contains(&age), "extended to 7 days: {age}");
    // A second request within a day sends no cookie.
    assert!(c.get("/api/user/me").await.set_cookies().is_empty());
    // Near the 30-day cap the extension stops at the cap.
    app.sql_exec(&shift_session_sql(&app, 2, 5, 1)).await;
    let age = max_age(&c.get("/api/user/me").await);
    assert!(age <= 86_400, "capped at the absolute expiry: {age}");
    // Past the cap the session is dead.
    app.sql_exec(&shift_session_sql(&app, 2, 5, -1)).await;
    c.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
}

/// SQL that sets every session's refresh time `refreshed_days_ago` days back, its expiry
/// `expires_in_days` ahead, and its absolute expiry `absolute_in_days` ahead.
pub fn shift_session_sql(
    app: &TestApp,
    refreshed_days_ago: i64,
    expires_in_days: i64,
    absolute_in_days: i64,
) -> String {
    let t = chrono::Utc::now();
    let f = |d: chrono::TimeDelta| {
        let v = t + d;
        match app.backend {
            crate::helpers::Backend::Postgres => format!("'{}'", v.to_rfc3339()),
            // SQLite stores what sqlx writes for a DateTime<Utc>.
            crate::helpers::Backend::Sqlite => format!("'{}'", v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)),
        }
    };
    format!(
        "UPDATE sessions SET refreshed_at = {}, expires_at = {}, absolute_expires_at = {}",
        f(chrono::TimeDelta::days(-refreshed_days_ago)),
        f(chrono::TimeDelta::days(expires_in_days)),
        f(chrono::TimeDelta::days(absolute_in_days)),
    )
}
