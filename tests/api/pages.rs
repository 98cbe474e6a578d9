//! The account pages (PAGES.md) as HTTP sees them; the browser flows are in browser/run.mjs.

use crate::helpers::{Backend, TestApp};

const PAGES: &[&str] =
    &["/sign-up", "/sign-in", "/verify-email", "/forgot-password", "/reset-password?token=x", "/invites/some-token"];
const PRIVATE: &[&str] = &[
    "/account",
    "/account/sessions",
    "/account/api-keys",
    "/account/organizations",
    "/orgs/01HZ3K5R4X9Y2V6QF8TJ7W0CDN",
];

fn html(app: &TestApp) -> crate::helpers::Api {
    app.with_header("accept", "text/html")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_local_strict_and_need_a_session_where_they_should() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let c = html(&app);
    for path in PAGES {
        let r = c.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"), "{path}");
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"), "{path}: {csp}");
        assert!(!r.text.contains("<script>") && !r.text.contains(" onclick="), "{path}: no inline script");
        assert!(!r.text.contains("http://") && !r.text.contains("https://"), "{path}: nothing from elsewhere");
        assert!(r.text.contains("/assets/app.js") && r.text.contains("/assets/app.css"));
        // Every input sits in a label (these pages have no other labelled controls).
        assert_eq!(r.text.matches("<input").count(), r.text.matches("<label").count(), "{path}");
    }
    for asset in ["/assets/app.js", "/assets/app.css"] {
        assert_eq!(c.get(asset).await.status, 200, "{asset}");
    }
    // Without a session: to sign in, and back.
    for path in PRIVATE {
        let r = c.get(path).await;
        assert_eq!(r.status, 303, "{path}");
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(r.header("location"), Some(format!("/sign-in?next={next}").as_str()), "{path}");
    }
    // A PAT is not a person at a browser.
    let (owner, _) = app.user("pages@example.com").await;
    let (key, _) = owner.create_key(&["user:read"], None).await;
    let k = app.with_key(&key);
    assert_eq!(k.send(k.request(reqwest::Method::GET, "/account").header("accept", "text/html")).await.status, 303);
    // With a session: the page, with the person's address in it.
    let r = owner.send(owner.request(reqwest::Method::GET, "/account").header("accept", "text/html")).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("pages@example.com"));
    // Template escaping: a name with markup is shown as text.
    owner.put("/api/user/me", serde_json::json!({ "fullName": "<script>alert(1)</script>" })).await.assert(200, "OK");
    let r = owner.send(owner.request(reqwest::Method::GET, "/account").header("accept", "text/html")).await;
    assert!(!r.text.contains("<script>alert(1)</script>") && r.text.contains("&lt;script&gt;"), "escaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_link_sends_browsers_to_the_page_and_api_clients_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.sign_up("link@example.com", crate::helpers::PASSWORD, "Link").await;
    let mail = app.email_to("link@example.com", "verify-email?token=").await;
    let token = crate::helpers::token_from(&mail, "verify-email?token=");
    let bad = html(&app).get("/api/auth/verify-email?token=nope").await;
    assert_eq!(bad.status, 303);
    assert_eq!(bad.header("location"), Some("/verify-email?status=invalid"));
    let good = html(&app).get(&format!("/api/auth/verify-email?token={token}")).await;
    assert_eq!(good.status, 303);
    assert_eq!(good.header("location"), Some("/verify-email?status=verified"));
    let page = html(&app).get("/verify-email?status=verified").await;
    assert!(page.text.contains("Your email address is verified."));
    // An API client gets JSON (and the token is used up).
    app.client().get(&format!("/api/auth/verify-email?token={token}")).await.assert(400, "INVALID_TOKEN");
}
