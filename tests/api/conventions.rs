//! API.md section 1: envelope, errors, ids, timestamps, request ids, body rules.

use serde_json::json;

use crate::db_tests;
use crate::helpers::TestApp;

db_tests!(
    unknown_route_and_wrong_method_are_enveloped,
    non_json_write_is_415,
    oversized_body_is_refused_by_length_and_while_streaming,
    malformed_json_and_every_bad_field_are_listed,
    request_id_is_echoed_or_generated,
    health_and_readiness,
    ids_and_timestamps_have_the_documented_format,
);

async fn unknown_route_and_wrong_method_are_enveloped(app: TestApp) {
    let c = app.client();
    let r = c.get("/api/nope").await;
    r.assert(404, "NOT_FOUND");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = c.request(reqwest::Method::PATCH, "/api/user/me").send().await.unwrap();
    assert_eq!(r.status(), 405);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(body["success"], false);
    // A protected route without credentials.
    c.get("/api/user/me").await.assert(401, "AUTHENTICATION_REQUIRED");
}

async fn non_json_write_is_415(app: TestApp) {
    let c = app.client();
    let r = c
        .send(
            c.request(reqwest::Method::POST, "/api/auth/sign-up/email")
                .header("content-type", "text/plain")
                .body("email=a@b.c"),
        )
        .await;
    r.assert(415, "UNSUPPORTED_MEDIA_TYPE");
    let r = c.send(c.request(reqwest::Method::POST, "/api/auth/sign-in/email").body("{}")).await;
    r.assert(415, "UNSUPPORTED_MEDIA_TYPE");
    // A charset parameter is fine.
    let r = c
        .send(
            c.request(reqwest::Method::POST, "/api/auth/sign-in/email")
                .header("content-type", "application/json; charset=utf-8")
                .body(r#"{"email":"nobody@example.com","password":"whatever-password"}"#),
        )
        .await;
    r.assert(401, "INVALID_CREDENTIALS");
    // A write without a body needs no content type.
    let r = c.send(c.request(reqwest::Method::POST, "/api/auth/sign-out")).await;
    r.assert(200, "OK");
}

/// Sends a request over a raw socket, writing `total` body bytes in 1 MiB pieces from a separate
/// task (ignoring write errors: the server may answer and close before the body is done), and
/// returns the response text. `chunked` sends no length; otherwise `Content-Length: total`.
async fn raw_post(app: &TestApp, path: &str, total: usize, chunked: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let length = if chunked { "Transfer-Encoding: chunked".to_string() } else { format!("Content-Length: {total}") };
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{length}\r\nConnection: close\r\n\r\n");
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let piece = vec![b' '; 1024 * 1024];
        let mut sent = 0;
        while sent < total {
            let n = piece.len().min(total - sent);
            if chunked {
                write.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                write.write_all(&piece[..n]).await?;
                write.write_all(b"\r\n").await?;
            } else {
                write.write_all(&piece[..n]).await?;
            }
            sent += n;
        }
        if chunked {
            write.write_all(b"0\r\n\r\n").await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut response = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(20), read.read_to_end(&mut response)).await;
    writer.abort();
    String::from_utf8_lossy(&response).to_string()
}

async fn oversized_body_is_refused_by_length_and_while_streaming(app: TestApp) {
    // Declared too large: refused before the body is read.
    let r = raw_post(&app, "/api/auth/sign-up/email", 10 * 1024 * 1024 + 1, false).await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(r.contains("\"code\":\"PAYLOAD_TOO_LARGE\""), "{r}");
    // 50 MiB streamed without a length: refused once 10 MiB have been read.
    let r = raw_post(&app, "/api/auth/sign-up/email", 50 * 1024 * 1024, true).await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(r.contains("\"code\":\"PAYLOAD_TOO_LARGE\""), "{r}");
    // Exactly at the cap is read (and then judged on its content).
    let c = app.client();
    let mut at_cap = b"{}".to_vec();
    at_cap.resize(10 * 1024 * 1024, b' ');
    let r = c
        .send(
            c.request(reqwest::Method::POST, "/api/auth/sign-up/email")
                .header("content-type", "application/json")
                .body(at_cap),
        )
        .await;
    r.assert(400, "VALIDATION_ERROR");
}

async fn malformed_json_and_every_bad_field_are_listed(app: TestApp) {
    let c = app.client();
    let r = c
        .send(
            c.request(reqwest::Method::POST, "/api/auth/sign-up/email")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    r.assert(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["body"]);
    let r = c.post("/api/auth/sign-up/email", json!([1, 2])).await;
    r.assert(400, "VALIDATION_ERROR");
    // Every failing field, with its location.
    let r = c.post("/api/auth/sign-up/email", json!({ "email": 5, "password": "short", "extra": true })).await;
    r.assert(400, "VALIDATION_ERROR");
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "name", "password"], "{}", r.text);
    for e in r.body["meta"]["errors"].as_array().unwrap() {
        assert_eq!(e["location"], "body");
        assert!(e["error"].as_str().is_some_and(|s| !s.is_empty()));
    }
    assert!(r.body["message"].as_str().unwrap().starts_with("Validation failed for fields: "));
}

async fn request_id_is_echoed_or_generated(app: TestApp) {
    let c = app.client();
    let r = c.send(c.request(reqwest::Method::GET, "/healthz").header("x-request-id", "my-trace-42")).await;
    assert_eq!(r.header("x-request-id"), Some("my-trace-42"));
    let r = c.get("/api/nope").await;
    let generated = r.header("x-request-id").unwrap();
    assert_eq!(generated.len(), 26, "a ULID: {generated}");
    let too_long = "x".repeat(129);
    let r = c.send(c.request(reqwest::Method::GET, "/healthz").header("x-request-id", too_long.as_str())).await;
    assert_ne!(r.header("x-request-id"), Some(too_long.as_str()));
}

async fn health_and_readiness(app: TestApp) {
    let c = app.client();
    c.get("/healthz").await.assert(200, "OK");
    let r = c.get("/readyz").await;
    r.assert(200, "OK");
    assert_eq!(r.data()["database"], "ok");
}

async fn ids_and_timestamps_have_the_documented_format(app: TestApp) {
    let data = app.sign_up("format@example.com", crate::helpers::PASSWORD, "Format").await;
    let is_ulid =
        |v: &serde_json::Value| v.as_str().is_some_and(|s| s.len() == 26 && ulid::Ulid::from_string(s).is_ok());
    assert!(is_ulid(&data["user"]["id"]));
    assert!(is_ulid(&data["organization"]["id"]));
    let created = data["user"]["createdAt"].as_str().unwrap();
    // 2026-04-05T10:00:00.000Z
    assert_eq!(created.len(), 24, "{created}");
    assert!(created.ends_with('Z') && created.as_bytes()[19] == b'.', "{created}");
    assert!(data["user"]["verifiedAt"].is_null());
    assert!(data["user"]["lastLoginAt"].is_null());
}
