//! Rate limits (API.md 8) and request hardening (API.md 1.1, 2.2; OPERATIONS.md).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp, PASSWORD};

fn settings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn limited(pairs: &[(&str, &str)]) -> TestApp {
    let mut s = settings(pairs);
    s.entry("GATEHOUSE_RATE_LIMIT".into()).or_insert_with(|| "on".into());
    TestApp::spawn_with(Backend::Sqlite, None, s).await
}

fn bad_sign_in() -> Value {
    json!({ "email": "nobody@example.com", "password": "wrong-password" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_bucket_and_the_429_answer() {
    let app = limited(&[]).await;
    let c = app.client();
    for i in 0..5 {
        let r = c.post("/api/auth/sign-in/email", bad_sign_in()).await;
        r.assert(401, "INVALID_CREDENTIALS");
        assert_eq!(r.header("ratelimit-limit"), Some("5"));
        assert_eq!(r.header("ratelimit-remaining"), Some((4 - i).to_string().as_str()));
    }
    let r = c.post("/api/auth/sign-in/email", bad_sign_in()).await;
    r.assert(429, "RATE_LIMIT_ERROR");
    assert_eq!(r.body["message"], "Too many requests from this IP, please try again later.");
    assert_eq!(r.body["meta"]["message"], r.body["message"]);
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let reset: u64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset));
    // Even the right password waits: the bucket counts attempts, not failures.
    app.sign_up("limited@example.com", PASSWORD, "L").await;
    c.sign_in("limited@example.com", PASSWORD).await.assert(429, "RATE_LIMIT_ERROR");
    // Other routes only feel the global budget, whose headers they carry.
    let r = c.get("/healthz").await;
    r.assert(200, "OK");
    assert_eq!(r.header("ratelimit-limit"), Some("500"));
    let r = c.get("/api/nope").await;
    r.assert(404, "NOT_FOUND");
    assert!(r.header("ratelimit-remaining").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_budget_covers_every_route_and_windows_reset() {
    let app = limited(&[("GATEHOUSE_RATE_LIMIT_GLOBAL", "4/2")]).await;
    let c = app.client();
    for _ in 0..4 {
        c.get("/healthz").await.assert(200, "OK");
    }
    c.get("/api/nope").await.assert(429, "RATE_LIMIT_ERROR");
    c.post("/graphql", json!({ "query": "{ __typename }" })).await.assert(429, "RATE_LIMIT_ERROR");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    c.get("/healthz").await.assert(200, "OK");
    // Off: no limits, no headers.
    let off = TestApp::spawn(Backend::Sqlite).await;
    let r = off.client().get("/healthz").await;
    assert!(r.header("ratelimit-limit").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // Untrusted peer: a forged X-Forwarded-For changes nothing.
    let app = limited(&[]).await;
    let c = app.client();
    for i in 0..5 {
        let r = c
            .send(
                c.request(reqwest::Method::POST, "/api/auth/sign-in/email")
                    .header("x-forwarded-for", format!("203.0.113.{i}"))
                    .json(&bad_sign_in()),
            )
            .await;
        r.assert(401, "INVALID_CREDENTIALS");
    }
    let r = c
        .send(
            c.request(reqwest::Method::POST, "/api/auth/sign-in/email")
                .header("x-forwarded-for", "198.51.100.77")
                .json(&bad_sign_in()),
        )
        .await;
    r.assert(429, "RATE_LIMIT_ERROR");
    // Behind a trusted proxy (the loopback peer), each forwarded client has its own budget: the
    // right-most address that is not a trusted proxy.
    let proxied = limited(&[("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8")]).await;
    let p = proxied.client();
    for _ in 0..5 {
        let r = p
            .send(
                p.request(reqwest::Method::POST, "/api/auth/sign-in/email")
                    .header("x-forwarded-for", "203.0.113.9, 10.1.2.3")
                    .json(&bad_sign_in()),
            )
            .await;
        r.assert(401, "INVALID_CREDENTIALS");
    }
    let r = p
        .send(
            p.request(reqwest::Method::POST, "/api/auth/sign-in/email")
                .header("x-forwarded-for", "203.0.113.9")
                .json(&bad_sign_in()),
        )
        .await;
    r.assert(429, "RATE_LIMIT_ERROR");
    let r = p
        .send(
            p.request(reqwest::Method::POST, "/api/auth/sign-in/email")
                .header("forwarded", "for=\"[2001:db8::7]:4711\";proto=https")
                .json(&bad_sign_in()),
        )
        .await;
    r.assert(401, "INVALID_CREDENTIALS");
    // The address recorded for the session is the forwarded one.
    proxied.sign_up("fwd@example.com", PASSWORD, "F").await;
    let r = p
        .send(
            p.request(reqwest::Method::POST, "/api/auth/sign-in/email")
                .header("x-forwarded-for", "192.0.2.44")
                .json(&json!({ "email": "fwd@example.com", "password": PASSWORD })),
        )
        .await;
    r.assert(200, "OK");
    assert_eq!(proxied.sql_strings("SELECT ip_address FROM sessions").await, vec![Some("192.0.2.44".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_cannot_sidestep_the_sign_in_bucket() {
    let app = limited(&[]).await;
    let c = app.client();
    // Ten aliased signIn fields in one request are ten sign-ins.
    let fields: Vec<String> = (0..10)
        .map(|i| format!("a{i}: signIn(input: {{ email: \"nobody@example.com\", password: \"wrong-password\" }}) {{ session {{ id }} }}"))
        .collect();
    let r = c.gql(&format!("mutation {{ {} }}", fields.join(" ")), json!({})).await;
    assert_eq!(r.status, 200);
    let mut codes = r.gql_codes();
    codes.sort();
    assert_eq!(codes.iter().filter(|c| *c == "INVALID_CREDENTIALS").count(), 5, "{}", r.text);
    assert_eq!(codes.iter().filter(|c| *c == "RATE_LIMIT_ERROR").count(), 5, "{}", r.text);
    let limited_error =
        r.body["errors"].as_array().unwrap().iter().find(|e| e["extensions"]["code"] == "RATE_LIMIT_ERROR").unwrap();
    assert_eq!(limited_error["extensions"]["status"], 429);
    // The REST route shares the bucket.
    c.post("/api/auth/sign-in/email", bad_sign_in()).await.assert(429, "RATE_LIMIT_ERROR");

    // Batched operations count one by one too (a fresh client address via a trusted proxy).
    let proxied = limited(&[("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let p = proxied.client();
    let op = json!({ "query": "mutation { signIn(input: { email: \"nobody@example.com\", password: \"wrong-password\" }) { session { id } } }" });
    let batch = Value::Array(vec![op.clone(); 6]);
    let r = p
        .send(p.request(reqwest::Method::POST, "/graphql").header("x-forwarded-for", "203.0.113.50").json(&batch))
        .await;
    let codes: Vec<String> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["errors"][0]["extensions"]["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.iter().filter(|c| *c == "RATE_LIMIT_ERROR").count(), 1, "{codes:?}");
    // signUp has its own bucket (3 a minute).
    let ups: Vec<String> = (0..4)
        .map(|i| format!("u{i}: signUp(input: {{ email: \"up{i}@example.com\", password: \"a-long-secure-passphrase\", name: \"U\" }}) {{ user {{ id }} }}"))
        .collect();
    let r = p
        .send(
            p.request(reqwest::Method::POST, "/graphql")
                .header("x-forwarded-for", "203.0.113.51")
                .json(&json!({ "query": format!("mutation {{ {} }}", ups.join(" ")) })),
        )
        .await;
    assert_eq!(r.gql_codes(), vec!["RATE_LIMIT_ERROR"], "{}", r.text);
}

/// The database store: every instance on one database shares one budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_store_shares_the_budget_between_instances() {
    let db_settings = settings(&[("GATEHOUSE_RATE_LIMIT", "on"), ("GATEHOUSE_RATE_LIMIT_STORE", "database")]);
    let (a, b) = match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) => {
            let url = crate::helpers::fresh_postgres_database(&admin).await;
            let a = TestApp::spawn_with(Backend::Postgres, Some(url.clone()), db_settings.clone()).await;
            let b = TestApp::spawn_with(Backend::Postgres, Some(url), db_settings).await;
            (a, b)
        }
        Err(_) => {
            // Without PostgreSQL: two instances on one SQLite file show the same property.
            let first = TestApp::spawn_with(Backend::Sqlite, None, db_settings.clone()).await;
            let url = first.state.config.database_url.clone();
            let second = TestApp::spawn_with(Backend::Sqlite, Some(url), db_settings).await;
            (first, second)
        }
    };
    for (i, app) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        let r = app.client().post("/api/auth/sign-in/email", bad_sign_in()).await;
        r.assert(401, "INVALID_CREDENTIALS");
        assert_eq!(r.header("ratelimit-remaining"), Some((4 - i).to_string().as_str()));
    }
    b.client().post("/api/auth/sign-in/email", bad_sign_in()).await.assert(429, "RATE_LIMIT_ERROR");
    a.client().post("/api/auth/sign-in/email", bad_sign_in()).await.assert(429, "RATE_LIMIT_ERROR");
    // Concurrent hits are counted exactly: 40 requests at once leave the global counter at 47.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = if i % 2 == 0 { a.client() } else { b.client() };
        tasks.push(tokio::spawn(async move { c.get("/healthz").await.status }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(a.sql_count("SELECT count FROM rate_limits WHERE key LIKE 'global|%'").await, 47);
    // Ended windows are cleaned up.
    a.sql_exec("UPDATE rate_limits SET reset_at_ms = 0 WHERE key LIKE 'sign-in|%'").await;
    gatehouse::ratelimit::Store::database(a.state.db.clone()).cleanup().await.unwrap();
    assert_eq!(a.sql_count("SELECT COUNT(*) FROM rate_limits WHERE key LIKE 'sign-in|%'").await, 0);
    a.client().post("/api/auth/sign-in/email", bad_sign_in()).await.assert(401, "INVALID_CREDENTIALS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_guard_on_cookie_writes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (c, org) = app.user("csrf@example.com").await;
    let (key, _) = c.create_key(&["projects:write"], None).await;
    let path = format!("/api/user/organizations/{org}/projects");
    let evil = c
        .send(
            c.request(reqwest::Method::POST, &path)
                .header("origin", "https://evil.example")
                .json(&json!({ "name": "x" })),
        )
        .await;
    evil.assert(403, "FORBIDDEN");
    let gql = c
        .send(
            c.request(reqwest::Method::POST, "/graphql")
                .header("origin", "https://evil.example")
                .json(&json!({ "query": "{ me { email } }" })),
        )
        .await;
    assert_eq!(gql.gql_codes(), vec!["FORBIDDEN"]);
    // The trusted origin (the base URL's), and no Origin at all (not a browser), are fine.
    c.send(
        c.request(reqwest::Method::POST, &path).header("origin", "http://localhost:3000").json(&json!({ "name": "y" })),
    )
    .await
    .assert(201, "OK");
    c.post(&path, json!({ "name": "z" })).await.assert(201, "OK");
    // Reads are not guarded; PATs are not cookies.
    c.send(c.request(reqwest::Method::GET, &path).header("origin", "https://evil.example")).await.assert(200, "OK");
    let k = app.with_key(&key);
    k.send(
        k.request(reqwest::Method::POST, &path).header("origin", "https://evil.example").json(&json!({ "name": "k" })),
    )
    .await
    .assert(201, "OK");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM projects").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_only_for_trusted_origins_and_security_headers() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        None,
        settings(&[("GATEHOUSE_TRUSTED_ORIGINS", "https://app.example.com")]),
    )
    .await;
    let c = app.client();
    let preflight = |origin: &'static str| {
        c.request(reqwest::Method::OPTIONS, "/api/user/me")
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type")
    };
    let ok = c.send(preflight("https://app.example.com")).await;
    assert_eq!(ok.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    let bad = c.send(preflight("https://evil.example")).await;
    assert!(bad.header("access-control-allow-origin").is_none(), "{:?}", bad.headers);
    let r = c.send(c.request(reqwest::Method::GET, "/healthz").header("origin", "https://app.example.com")).await;
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
    let r = c.post("/api/auth/sign-in/email", bad_sign_in()).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("referrer-policy").is_some());
    assert!(r.header("strict-transport-security").is_none(), "http base URL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Backend::Sqlite, None, settings(&[("GATEHOUSE_REQUEST_TIMEOUT_SECS", "1")])).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // A body that never finishes arriving.
    let head = format!("POST /api/auth/sign-up/email HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"em");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("SERVICE_UNAVAILABLE"));
    assert!(started.elapsed() < Duration::from_secs(5));
}
