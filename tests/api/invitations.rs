//! Invitations (API.md 5 and 6), accepted end to end through the emailed link.

use serde_json::json;

use crate::db_tests;
use crate::helpers::{token_from, TestApp};

db_tests!(
    invitation_accepted_end_to_end_through_the_email,
    only_the_invited_address_may_accept_once,
    cancel_and_resend_kill_the_old_link,
    expired_invitations,
    invitation_rules_and_validation,
);

async fn invitation_accepted_end_to_end_through_the_email(app: TestApp) {
    let (owner, org) = app.user("io@example.com").await;
    let r = owner
        .post(
            &format!("/api/user/organizations/{org}/invites"),
            json!({ "emails": ["Bob@Example.com ", "carol@example.com"], "role": "admin" }),
        )
        .await;
    r.assert(201, "OK");
    let invites = r.data().as_array().unwrap().clone();
    assert_eq!(invites.len(), 2);
    assert_eq!(invites[0]["email"], "bob@example.com");
    assert_eq!(invites[0]["status"], "pending");
    assert_eq!(invites[0]["role"], "admin");
    // One email each, with the link in plain text.
    let mail = app.email_to("bob@example.com", "/invites/").await;
    assert!(mail.contains("Subject: You are invited to join"), "{mail}");
    app.email_to("carol@example.com", "/invites/").await;
    let token = token_from(&mail, "/invites/");
    assert_eq!(
        app.sql_count(&format!("SELECT COUNT(*) FROM invitations WHERE token_hash = '{token}'")).await,
        0,
        "digest only"
    );
    // Bob signs up, signs in, sees what is offered, accepts.
    let (bob, _) = app.user("bob@example.com").await;
    let offer = bob.get(&format!("/api/user/invites/{token}")).await;
    offer.assert(200, "OK");
    assert_eq!(offer.data()["organization"]["id"], org.as_str());
    assert_eq!(offer.data()["role"], "admin");
    assert_eq!(offer.data()["status"], "pending");
    let r = bob.post(&format!("/api/user/invites/{token}/accept"), json!({})).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["role"], "admin");
    assert_eq!(r.data()["email"], "bob@example.com");
    assert_eq!(bob.get(&format!("/api/user/organizations/{org}")).await.data()["role"], "admin");
    let list = owner.get(&format!("/api/user/organizations/{org}/invites")).await;
    list.assert(200, "OK");
    let statuses: Vec<&str> = list.data().as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"accepted") && statuses.contains(&"pending"), "{statuses:?}");
    assert_eq!(
        owner.get(&format!("/api/user/organizations/{org}/invites?status=accepted")).await.body["meta"]["total"],
        1
    );
    // The audit log tells the story.
    let events = owner.get(&format!("/api/user/organizations/{org}/audit-logs?limit=100")).await;
    let actions: Vec<&str> = events.data().as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["member.invited", "invitation.accepted", "member.joined"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

async fn only_the_invited_address_may_accept_once(app: TestApp) {
    let (owner, org) = app.user("so@example.com").await;
    owner
        .post(
            &format!("/api/user/organizations/{org}/invites"),
            json!({ "emails": ["dave@example.com"], "role": "member" }),
        )
        .await
        .assert(201, "OK");
    let token = token_from(&app.email_to("dave@example.com", "/invites/").await, "/invites/");
    let (eve, _) = app.user("eve@example.com").await;
    eve.get(&format!("/api/user/invites/{token}")).await.assert(403, "FORBIDDEN");
    eve.post(&format!("/api/user/invites/{token}/accept"), json!({})).await.assert(403, "FORBIDDEN");
    let (dave, _) = app.user("dave@example.com").await;
    // Two accepts at once: exactly one wins.
    let accept = format!("/api/user/invites/{token}/accept");
    let (a, b) = tokio::join!(dave.post(&accept, json!({})), dave.post(&accept, json!({})));
    let mut statuses = vec![a.status, b.status];
    statuses.sort();
    assert_eq!(statuses[0], 200, "{} / {}", a.text, b.text);
    assert!(statuses[1] == 400 || statuses[1] == 409, "{} / {}", a.text, b.text);
    dave.post(&format!("/api/user/invites/{token}/accept"), json!({})).await.assert(400, "INVALID_TOKEN");
    dave.post("/api/user/invites/not-a-token/accept", json!({})).await.assert(400, "INVALID_TOKEN");
    assert_eq!(app.sql_count(&format!("SELECT COUNT(*) FROM memberships WHERE organization_id = '{org}'")).await, 2);
    // Already a member: refused at invitation time and at acceptance.
    let r = owner
        .post(
            &format!("/api/user/organizations/{org}/invites"),
            json!({ "emails": ["dave@example.com", "new@example.com"], "role": "member" }),
        )
        .await;
    r.assert(409, "ALREADY_MEMBER");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM invitations WHERE email = 'new@example.com'").await,
        0,
        "nothing was created"
    );
    app.sql_exec(&format!("UPDATE invitations SET status = 'pending' WHERE organization_id = '{org}'")).await;
    dave.post(&format!("/api/user/invites/{token}/accept"), json!({})).await.assert(409, "ALREADY_MEMBER");
    // An anonymous caller must sign in first.
    app.client()
        .post(&format!("/api/user/invites/{token}/accept"), json!({}))
        .await
        .assert(401, "AUTHENTICATION_REQUIRED");
}

async fn cancel_and_resend_kill_the_old_link(app: TestApp) {
    let (owner, org) = app.user("co@example.com").await;
    let r = owner
        .post(
            &format!("/api/user/organizations/{org}/invites"),
            json!({ "emails": ["fay@example.com", "gus@example.com"], "role": "member" }),
        )
        .await;
    let fay_invite = r.data()[0]["id"].as_str().unwrap().to_string();
    let gus_invite = r.data()[1]["id"].as_str().unwrap().to_string();
    let fay_token = token_from(&app.email_to("fay@example.com", "/invites/").await, "/invites/");
    let old_gus = token_from(&app.email_to("gus@example.com", "/invites/").await, "/invites/");
    // Cancel Fay's.
    let r = owner.delete(&format!("/api/user/organizations/{org}/invites/{fay_invite}")).await;
    r.assert(200, "OK");
    assert_eq!(r.data()["status"], "canceled");
    owner.delete(&format!("/api/user/organizations/{org}/invites/{fay_invite}")).await.assert(409, "CONFLICT");
    let (fay, _) = app.user("fay@example.com").await;
    fay.post(&format!("/api/user/invites/{fay_token}/accept"), json!({})).await.assert(400, "INVALID_TOKEN");
    // Resend Gus's: a new email with a new link; the old link is dead.
    owner
        .post(&format!("/api/user/organizations/{org}/invites/{gus_invite}/resend"), json!({}))
        .await
        .assert(200, "OK");
    let mut new_gus = String::new();
    for _ in 0..100 {
        if let Some(t) = app
            .emails()
            .iter()
            .filter(|m| m.contains("To: gus@example.com") && m.contains("/invites/"))
            .map(|m| token_from(m, "/invites/"))
            .find(|t| *t != old_gus)
        {
            new_gus = t;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!new_gus.is_empty(), "a second invitation email");
    let (gus, _) = app.user("gus@example.com").await;
    gus.post(&format!("/api/user/invites/{old_gus}/accept"), json!({})).await.assert(400, "INVALID_TOKEN");
    gus.post(&format!("/api/user/invites/{new_gus}/accept"), json!({})).await.assert(200, "OK");
    owner
        .post(&format!("/api/user/organizations/{org}/invites/{gus_invite}/resend"), json!({}))
        .await
        .assert(409, "CONFLICT");
    // Another organization's invitation id.
    let (other, other_org) = app.user("co2@example.com").await;
    let theirs = other
        .post(
            &format!("/api/user/organizations/{other_org}/invites"),
            json!({ "emails": ["x@example.com"], "role": "member" }),
        )
        .await;
    let their_id = theirs.data()[0]["id"].as_str().unwrap();
    owner.delete(&format!("/api/user/organizations/{org}/invites/{their_id}")).await.assert(403, "TENANT_VIOLATION");
}

async fn expired_invitations(app: TestApp) {
    let (owner, org) = app.user("eo@example.com").await;
    owner
        .post(
            &format!("/api/user/organizations/{org}/invites"),
            json!({ "emails": ["late@example.com"], "role": "member" }),
        )
        .await;
    let token = token_from(&app.email_to("late@example.com", "/invites/").await, "/invites/");
    app.sql_exec("UPDATE invitations SET expires_at = created_at").await;
    let list = owner.get(&format!("/api/user/organizations/{org}/invites?status=expired")).await;
    assert_eq!(list.body["meta"]["total"], 1);
    assert_eq!(list.data()[0]["status"], "expired");
    assert_eq!(
        owner.get(&format!("/api/user/organizations/{org}/invites?status=pending")).await.body["meta"]["total"],
        0
    );
    let (late, _) = app.user("late@example.com").await;
    late.post(&format!("/api/user/invites/{token}/accept"), json!({})).await.assert(400, "INVALID_TOKEN");
    owner.get(&format!("/api/user/organizations/{org}/invites?status=gone")).await.assert(400, "VALIDATION_ERROR");
}

async fn invitation_rules_and_validation(app: TestApp) {
    let (owner, org) = app.user("vo@example.com").await;
    let (admin, _) = app.join(&owner, &org, "va@example.com", "admin").await;
    let (member, _) = app.join(&owner, &org, "vm@example.com", "member").await;
    let path = format!("/api/user/organizations/{org}/invites");
    member
        .post(&path, json!({ "emails": ["a@example.com"], "role": "member" }))
        .await
        .assert(403, "INSUFFICIENT_PERMISSIONS");
    member.get(&path).await.assert(403, "INSUFFICIENT_PERMISSIONS");
    admin
        .post(&path, json!({ "emails": ["a@example.com"], "role": "owner" }))
        .await
        .assert(403, "INSUFFICIENT_PERMISSIONS");
    owner.post(&path, json!({ "emails": ["o2@example.com"], "role": "owner" })).await.assert(201, "OK");
    let r = admin.post(&path, json!({ "emails": [], "role": "member" })).await;
    r.assert(400, "VALIDATION_ERROR");
    let too_many: Vec<String> = (0..51).map(|i| format!("u{i}@example.com")).collect();
    admin.post(&path, json!({ "emails": too_many, "role": "member" })).await.assert(400, "VALIDATION_ERROR");
    let r = admin.post(&path, json!({ "emails": ["ok@example.com", "not-an-email"], "role": "guest" })).await;
    r.assert(400, "VALIDATION_ERROR");
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["emails[1]", "role"], "{}", r.text);
    // 50 at once is fine, one email each.
    let fifty: Vec<String> = (0..50).map(|i| format!("bulk{i}@example.com")).collect();
    let before = app.sql_count("SELECT COUNT(*) FROM mail_outbox").await;
    let r = admin.post(&path, json!({ "emails": fifty, "role": "member" })).await;
    r.assert(201, "OK");
    assert_eq!(r.data().as_array().unwrap().len(), 50);
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM mail_outbox").await - before, 50);
}
