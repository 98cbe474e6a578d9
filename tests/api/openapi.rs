//! The OpenAPI document (issue: generated from the code, every route in it).

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

/// Every REST route of the contract (API.md 3-7) plus health.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/auth/sign-up/email"),
    ("post", "/api/auth/sign-in/email"),
    ("post", "/api/auth/sign-out"),
    ("get", "/api/auth/get-session"),
    ("get", "/api/auth/list-sessions"),
    ("post", "/api/auth/revoke-session"),
    ("post", "/api/auth/revoke-other-sessions"),
    ("post", "/api/auth/revoke-sessions"),
    ("get", "/api/auth/verify-email"),
    ("post", "/api/auth/send-verification-email"),
    ("post", "/api/auth/request-password-reset"),
    ("post", "/api/auth/reset-password"),
    ("post", "/api/auth/change-password"),
    ("post", "/api/auth/api-key/create"),
    ("get", "/api/auth/api-key/list"),
    ("get", "/api/auth/api-key/get"),
    ("post", "/api/auth/api-key/update"),
    ("post", "/api/auth/api-key/delete"),
    ("get", "/api/user/me"),
    ("put", "/api/user/me"),
    ("delete", "/api/user/me"),
    ("get", "/api/user/me/export"),
    ("get", "/api/user/me/login-history"),
    ("get", "/api/user/organizations"),
    ("post", "/api/user/organizations"),
    ("post", "/api/user/invites/{token}/accept"),
    ("get", "/api/user/invites/{token}"),
    ("get", "/api/user/organizations/{org}"),
    ("put", "/api/user/organizations/{org}"),
    ("delete", "/api/user/organizations/{org}"),
    ("get", "/api/user/organizations/{org}/members"),
    ("put", "/api/user/organizations/{org}/members/{member}/role"),
    ("delete", "/api/user/organizations/{org}/members/{member}"),
    ("get", "/api/user/organizations/{org}/my-membership"),
    ("get", "/api/user/organizations/{org}/invites"),
    ("post", "/api/user/organizations/{org}/invites"),
    ("delete", "/api/user/organizations/{org}/invites/{invite}"),
    ("post", "/api/user/organizations/{org}/invites/{invite}/resend"),
    ("get", "/api/user/organizations/{org}/audit-logs"),
    ("get", "/api/user/organizations/{org}/audit-logs/export"),
    ("get", "/api/user/organizations/{org}/projects"),
    ("post", "/api/user/organizations/{org}/projects"),
    ("get", "/api/user/organizations/{org}/projects/{id}"),
    ("put", "/api/user/organizations/{org}/projects/{id}"),
    ("delete", "/api/user/organizations/{org}/projects/{id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
];

fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.push((method.to_string(), path.clone()));
            }
        }
    }
    ops.sort();
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_in_the_served_document_and_every_documented_route_answers() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let c = app.client();
    let r = c.get("/api/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc = &r.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc, &serde_json::to_value(gatehouse::http::openapi_document()).unwrap(), "served = generated");
    let ops = operations(doc);
    let mut contract: Vec<(String, String)> = CONTRACT.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    contract.sort();
    assert_eq!(ops, contract, "the document lists exactly the contract's routes");
    // Each documented operation is routed: no "Route not found", no 405.
    let id = ulid::Ulid::new().to_string();
    for (method, path) in &ops {
        let concrete = ["{org}", "{id}", "{member}", "{invite}", "{token}"]
            .iter()
            .fold(path.clone(), |p, param| p.replace(param, &id));
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = c.send(c.request(m, &concrete)).await;
        assert_ne!(r.status, 405, "{method} {path}");
        assert!(!(r.status == 404 && r.body["message"] == "Route not found"), "{method} {path} is not routed");
        // Every answer is in the documented error envelope or a success.
        assert!(r.body["success"].is_boolean(), "{method} {path}: {}", r.text);
        // Every operation documents its errors.
        let op = &doc["paths"][path][method];
        assert!(op["responses"]["4XX"]["content"]["application/json"].is_object(), "{method} {path}");
    }
    // The shapes the spec names are there.
    for schema in ["ErrorBody", "Envelope_UserView", "ListEnvelope_ProjectView", "CreateProject", "PageMeta"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
