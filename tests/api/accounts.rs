//! API.md section 3: sign-up, sign-in, email verification, password reset and change.

use std::collections::HashMap;

use serde_json::json;

use crate::db_tests;
use crate::helpers::{token_from, Backend, TestApp, PASSWORD};

db_tests!(
    sign_up_creates_user_org_membership_and_verification_email,
    sign_up_rejects_taken_email_case_insensitively,
    concurrent_sign_ups_with_one_email_make_one_account,
    password_length_counts_characters,
    sign_in_sets_the_documented_cookie_and_stores_only_a_digest,
    sign_in_failures_share_one_code_and_are_recorded,
    sign_in_ignores_credentials_and_always_issues_a_fresh_token,
    deactivated_user_cannot_sign_in,
    verify_email_is_single_use_and_expires,
    send_verification_email_answers_the_same_for_unknown_accounts,
    password_reset_by_email_revokes_every_session,
    change_password_needs_a_session_and_the_current_password,
    delivered_mail_body_is_erased,
);

async fn sign_up_creates_user_org_membership_and_verification_email(app: TestApp) {
    let r = app
        .client()
        .post(
            "/api/auth/sign-up/email",
            json!({ "email": "  New.User@Example.COM ", "password": PASSWORD, "name": " New User " }),
        )
        .await;
    r.assert(201, "OK");
    assert_eq!(r.body["message"], "Account created successfully");
    let user = &r.data()["user"];
    assert_eq!(user["email"], "new.user@example.com");
    assert_eq!(user["fullName"], "New User");
    assert_eq!(user["handle"], "new-user");
    assert_eq!(user["isVerified"], false);
    assert_eq!(user["isActive"], true);
    assert_eq!(user["role"], "user");
    assert_eq!(user["organizationCount"], 1);
    assert_eq!(user["twoFactorEnabled"], false);
    assert_eq!(user["emailPreferences"], json!({ "marketingOptOut": false }));
    let org = &r.data()["organization"];
    assert_eq!(org["role"], "owner");
    assert_eq!(org["slug"], "new-user");
    assert_eq!(org["memberCount"], 1);
    let uid = user["id"].as_str().unwrap();
    assert_eq!(
        app.sql_count(&format!("SELECT COUNT(*) FROM memberships WHERE user_id = '{uid}' AND role = 'owner'")).await,
        1
    );
    // Argon2id with the OWASP parameters, as a PHC string.
    let hash =
        app.sql_strings(&format!("SELECT password_hash FROM password_credentials WHERE user_id = '{uid}'")).await;
    assert!(hash[0].as_deref().unwrap().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash:?}");
    // The verification email, with its link in plain text.
    let mail = app.email_to("new.user@example.com", "verify-email?token=").await;
    assert!(mail.contains("Subject: Verify your email address"));
    let token = token_from(&mail, "verify-email?token=");
    assert!(token.len() >= 43);
    // Only the digest is stored.
    assert_eq!(app.sql_count(&format!("SELECT COUNT(*) FROM email_tokens WHERE token_hash = '{token}'")).await, 0);
    // Sign-up does not sign in.
    assert!(r.set_cookies().is_empty());
}

async fn sign_up_rejects_taken_email_case_insensitively(app: TestApp) {
    app.sign_up("taken@example.com", PASSWORD, "First").await;
    let r = app
        .client()
        .post(
            "/api/auth/sign-up/email",
            json!({ "email": "TAKEN@example.com", "password": PASSWORD, "name": "Second" }),
        )
        .await;
    r.assert(409, "USER_ALREADY_EXISTS");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM organizations").await, 1);
}

async fn concurrent_sign_ups_with_one_email_make_one_account(app: TestApp) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = app.client();
        tasks.push(tokio::spawn(async move {
            c.post(
                "/api/auth/sign-up/email",
                json!({ "email": "race@example.com", "password": PASSWORD, "name": format!("Racer {i}") }),
            )
            .await
        }));
    }
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 409 {
            assert_eq!(r.code(), "USER_ALREADY_EXISTS");
        }
        *by_status.entry(r.status).or_default() += 1;
    }
    assert_eq!(by_status.get(&201), Some(&1), "{by_status:?}");
    assert_eq!(by_status.get(&409), Some(&19), "{by_status:?}");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM organizations").await, 1);
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM memberships").await, 1);
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM mail_outbox").await, 1);
}

async fn password_length_counts_characters(app: TestApp) {
    let c = app.client();
    let sign_up = |email: &str, password: String| json!({ "email": email, "password": password, "name": "P" });
    c.post("/api/auth/sign-up/email", sign_up("p1@example.com", "1234567".into()))
        .await
        .assert(400, "VALIDATION_ERROR");
    c.post("/api/auth/sign-up/email", sign_up("p2@example.com", "x".repeat(129))).await.assert(400, "VALIDATION_ERROR");
    // 8 two-byte characters are 8 characters; 128 three-byte characters are 128.
    c.post("/api/auth/sign-up/email", sign_up("p3@example.com", "é".repeat(8))).await.assert(201, "OK");
    let long = "€".repeat(128);
    c.post("/api/auth/sign-up/email", sign_up("p4@example.com", long.clone())).await.assert(201, "OK");
    // No truncation: a password that differs only in its last character is a different password.
    let mut other = "€".repeat(127);
    other.push('x');
    c.sign_in("p4@example.com", &other).await.assert(401, "INVALID_CREDENTIALS");
    c.sign_in("p4@example.com", &long).await.assert(200, "OK");
}

async fn sign_in_sets_the_documented_cookie_and_stores_only_a_digest(app: TestApp) {
    app.sign_up("cookie@example.com", PASSWORD, "Cookie").await;
    let c = app.client();
    let r = c.sign_in("cookie@example.com", PASSWORD).await;
    r.assert(200, "OK");
    assert_eq!(r.body["message"], "Signed in successfully");
    assert_eq!(r.data()["user"]["email"], "cookie@example.com");
    assert!(r.data()["user"]["lastLoginAt"].is_string());
    assert!(r.data()["session"]["id"].is_string() && r.data()["session"]["expiresAt"].is_string());
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    let attrs: Vec<&str> = cookie.split("; ").collect();
    let (name, value) = attrs[0].split_once('=').unwrap();
    assert_eq!(name, "gatehouse_session");
    assert!(value.len() >= 43, "256 bits of token: {value}");
    for want in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(attrs.contains(&want), "{want} missing from {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http base URL: {cookie}");
    // The database holds the SHA-256 of the token, never the token.
    let hashes = app.sql_strings("SELECT token_hash FROM sessions").await;
    assert_eq!(hashes.len(), 1);
    assert_ne!(hashes[0].as_deref(), Some(value));
    assert_eq!(hashes[0].as_deref().unwrap().len(), 64);
    // The cookie works.
    c.get("/api/user/me").await.assert(200, "OK");
    // rememberMe: false gives a cookie that ends with the browser session.
    let r = app
        .client()
        .post(
            "/api/auth/sign-in/email",
            json!({ "email": "cookie@example.com", "password": PASSWORD, "rememberMe": false }),
        )
        .await;
    r.assert(200, "OK");
    assert!(!r.set_cookies()[0].contains("Max-Age"), "{:?}", r.set_cookies());
    // An https base URL gives a Secure, __Host- cookie (checked once, on SQLite).
    if app.backend == Backend::Sqlite {
        let secure = TestApp::spawn_with(
            Backend::Sqlite,
            None,
            HashMap::from([("GATEHOUSE_BASE_URL".into(), "https://auth.example.com".into())]),
        )
        .await;
        secure.sign_up("s@example.com", PASSWORD, "S").await;
        let r = secure.client().sign_in("s@example.com", PASSWORD).await;
        let cookie = &r.set_cookies()[0];
        assert!(cookie.starts_with("__Host-gatehouse_session="), "{cookie}");
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert_eq!(r.header("strict-transport-security"), Some("max-age=31536000"));
    }
}

async fn sign_in_failures_share_one_code_and_are_recorded(app: TestApp) {
    let data = app.sign_up("hist@example.com", PASSWORD, "Hist").await;
    let uid = data["user"]["id"].as_str().unwrap().to_string();
    let c = app.client();
    let wrong_pw = c.sign_in("hist@example.com", "not-the-password").await;
    wrong_pw.assert(401, "INVALID_CREDENTIALS");
    let unknown = c.sign_in("nobody@example.com", "not-the-password").await;
    unknown.assert(401, "INVALID_CREDENTIALS");
    assert_eq!(wrong_pw.body["message"], unknown.body["message"]);
    c.post("/api/auth/sign-in/email", json!({ "email": "hist@example.com" })).await.assert(400, "VALIDATION_ERROR");
    c.sign_in("HIST@example.com", PASSWORD).await.assert(200, "OK");
    assert_eq!(
        app.sql_count(&format!("SELECT COUNT(*) FROM login_history WHERE user_id = '{uid}' AND success = false")).await,
        1
    );
    assert_eq!(
        app.sql_count(&format!("SELECT COUNT(*) FROM login_history WHERE user_id = '{uid}' AND success = true")).await,
        1
    );
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM login_history").await, 2);
    assert_eq!(
        app.sql_count(&format!("SELECT COUNT(*) FROM users WHERE id = '{uid}' AND last_login_at IS NOT NULL")).await,
        1
    );
}

async fn sign_in_ignores_credentials_and_always_issues_a_fresh_token(app: TestApp) {
    app.sign_up("fresh@example.com", PASSWORD, "Fresh").await;
    let c = app.client();
    let first = c.sign_in("fresh@example.com", PASSWORD).await.set_cookies()[0].clone();
    // The cookie jar sends the first session back; sign-in still issues a new token.
    let second = c.sign_in("fresh@example.com", PASSWORD).await.set_cookies()[0].clone();
    assert_ne!(first.split(';').next(), second.split(';').next());
    // A bad credential sent with sign-in or sign-up is ignored.
    let bad = app.with_key("ba_doesnotexist0000000000000000000000000000000000");
    bad.sign_in("fresh@example.com", PASSWORD).await.assert(200, "OK");
    bad.post("/api/auth/sign-up/email", json!({ "email": "other@example.com", "password": PASSWORD, "name": "O" }))
        .await
        .assert(201, "OK");
}

async fn deactivated_user_cannot_sign_in(app: TestApp) {
    let (c, _) = app.user("inactive@example.com").await;
    app.sql_exec("UPDATE users SET is_active = false WHERE email = 'inactive@example.com'").await;
    app.client().sign_in("inactive@example.com", PASSWORD).await.assert(401, "USER_NOT_ACTIVE");
    // An existing session stops working too.
    c.get("/api/user/me").await.assert(401, "USER_NOT_ACTIVE");
    // A wrong password still says only INVALID_CREDENTIALS.
    app.client().sign_in("inactive@example.com", "wrong-password").await.assert(401, "INVALID_CREDENTIALS");
}

async fn verify_email_is_single_use_and_expires(app: TestApp) {
    app.sign_up("verify@example.com", PASSWORD, "Verify").await;
    let mail = app.email_to("verify@example.com", "verify-email?token=").await;
    let token = token_from(&mail, "verify-email?token=");
    let c = app.client();
    let r = c.get(&format!("/api/auth/verify-email?token={token}")).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["user"]["isVerified"], true);
    assert!(r.data()["user"]["verifiedAt"].is_string());
    c.get(&format!("/api/auth/verify-email?token={token}")).await.assert(400, "INVALID_TOKEN");
    c.get("/api/auth/verify-email?token=garbage").await.assert(400, "INVALID_TOKEN");
    c.get("/api/auth/verify-email").await.assert(400, "INVALID_TOKEN");
    // An expired token.
    app.sign_up("late@example.com", PASSWORD, "Late").await;
    let mail = app.email_to("late@example.com", "verify-email?token=").await;
    let token = token_from(&mail, "verify-email?token=");
    app.sql_exec("UPDATE email_tokens SET expires_at = created_at WHERE used_at IS NULL").await;
    c.get(&format!("/api/auth/verify-email?token={token}")).await.assert(400, "INVALID_TOKEN");
}

async fn send_verification_email_answers_the_same_for_unknown_accounts(app: TestApp) {
    app.sign_up("again@example.com", PASSWORD, "Again").await;
    let first = token_from(&app.email_to("again@example.com", "verify-email?token=").await, "verify-email?token=");
    let c = app.client();
    let unknown = c.post("/api/auth/send-verification-email", json!({ "email": "ghost@example.com" })).await;
    unknown.assert(200, "OK");
    let known = c.post("/api/auth/send-verification-email", json!({ "email": "again@example.com" })).await;
    known.assert(200, "OK");
    assert_eq!(unknown.body, known.body);
    c.post("/api/auth/send-verification-email", json!({ "email": "not-an-email" }))
        .await
        .assert(400, "VALIDATION_ERROR");
    // A second email arrives; the new link works and the old one is dead.
    let mut second = String::new();
    for _ in 0..100 {
        let mails: Vec<String> = app.emails().into_iter().filter(|m| m.contains("To: again@example.com")).collect();
        if mails.len() == 2 {
            second = mails.iter().map(|m| token_from(m, "verify-email?token=")).find(|t| *t != first).unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!second.is_empty(), "second verification email");
    assert!(app.emails().iter().all(|m| !m.contains("ghost@example.com")));
    c.get(&format!("/api/auth/verify-email?token={first}")).await.assert(400, "INVALID_TOKEN");
    c.get(&format!("/api/auth/verify-email?token={second}")).await.assert(200, "OK");
}

async fn password_reset_by_email_revokes_every_session(app: TestApp) {
    let (c1, _) = app.user("reset@example.com").await;
    let c2 = app.client();
    c2.sign_in("reset@example.com", PASSWORD).await.assert(200, "OK");
    let anon = app.client();
    anon.post("/api/auth/request-password-reset", json!({ "email": "ghost@example.com" })).await.assert(200, "OK");
    anon.post("/api/auth/request-password-reset", json!({ "email": "reset@example.com" })).await.assert(200, "OK");
    let mail = app.email_to("reset@example.com", "/reset-password?token=").await;
    assert!(mail.contains("Subject: Reset your password"));
    let token = token_from(&mail, "/reset-password?token=");
    anon.post("/api/auth/reset-password", json!({ "token": token, "newPassword": "short" }))
        .await
        .assert(400, "VALIDATION_ERROR");
    anon.post("/api/auth/reset-password", json!({ "token": "nope", "newPassword": "brand-new-passphrase" }))
        .await
        .assert(400, "INVALID_TOKEN");
    anon.post("/api/auth/reset-password", json!({ "token": token, "newPassword": "brand-new-passphrase" }))
        .await
        .assert(200, "OK");
    anon.post("/api/auth/reset-password", json!({ "token": token, "newPassword": "another-passphrase" }))
        .await
        .assert(400, "INVALID_TOKEN");
    c1.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    c2.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM sessions").await, 0);
    anon.sign_in("reset@example.com", PASSWORD).await.assert(401, "INVALID_CREDENTIALS");
    anon.sign_in("reset@example.com", "brand-new-passphrase").await.assert(200, "OK");
}

async fn change_password_needs_a_session_and_the_current_password(app: TestApp) {
    let (c, _) = app.user("change@example.com").await;
    let other = app.client();
    other.sign_in("change@example.com", PASSWORD).await.assert(200, "OK");
    let (key, _) = c.create_key(&["user:read", "user:write"], None).await;
    let body = json!({ "currentPassword": PASSWORD, "newPassword": "changed-passphrase", "revokeOtherSessions": true });
    app.with_key(&key).post("/api/auth/change-password", body.clone()).await.assert(403, "SESSION_REQUIRED");
    let r = c
        .post(
            "/api/auth/change-password",
            json!({ "currentPassword": "wrong-password", "newPassword": "changed-passphrase" }),
        )
        .await;
    r.assert(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["currentPassword"]);
    c.post("/api/auth/change-password", body).await.assert(200, "OK");
    c.get("/api/user/me").await.assert(200, "OK");
    other.get("/api/user/me").await.assert(401, "INVALID_OR_EXPIRED_TOKEN");
    app.client().sign_in("change@example.com", PASSWORD).await.assert(401, "INVALID_CREDENTIALS");
    app.client().sign_in("change@example.com", "changed-passphrase").await.assert(200, "OK");
}

async fn delivered_mail_body_is_erased(app: TestApp) {
    app.sign_up("erase@example.com", PASSWORD, "Erase").await;
    app.email_to("erase@example.com", "verify-email?token=").await;
    for _ in 0..100 {
        if app.sql_count("SELECT COUNT(*) FROM mail_outbox WHERE delivered_at IS NOT NULL AND body IS NULL").await == 1
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the delivered message's body is still in the outbox");
}
