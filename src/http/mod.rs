//! The REST door: routes per resource, thin handlers, shared extractors and middleware.

pub mod auth;
pub mod extract;
pub mod health;
pub mod keys;
pub mod members;
pub mod middleware;
pub mod openapi;
pub mod projects;
pub mod respond;
pub mod users;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::Config;
use crate::ratelimit::Limiter;
use crate::state::AppState;
use std::sync::Arc;

/// Every REST route, with its OpenAPI description.
pub fn rest_routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::base())
        .merge(health::routes())
        .merge(auth::routes())
        .merge(keys::routes())
        .merge(users::routes())
        .merge(projects::routes())
        .merge(members::routes())
}

/// The OpenAPI 3.1 document of every REST route (what `GET /api/openapi.json` serves).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    use utoipa::Modify;
    let (_, mut doc) = rest_routes().split_for_parts();
    openapi::ErrorResponses.modify(&mut doc);
    doc
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (rest, _) = rest_routes().split_for_parts();
    let doc = openapi::Document(Arc::new(
        serde_json::to_string(&openapi_document()).expect("the OpenAPI document serializes"),
    ));
    let routes = Router::new()
        .merge(rest)
        .merge(crate::graphql::handler::routes())
        .merge(crate::pages::routes())
        .with_state(state.clone())
        .merge(Router::new().route("/api/openapi.json", axum::routing::get(openapi::serve)).with_state(doc));
    with_layers(routes, state.config.clone(), state.limiter.clone())
}

/// The conventions every route shares, around any router, outermost first: request context (id,
/// client address, cookies, security headers, log line), CORS, rate limits, the request timeout,
/// panics as 500 envelopes, the write guard (415, body cap), and 404/405 envelopes.
pub fn with_layers(routes: Router, config: Arc<Config>, limiter: Limiter) -> Router {
    let layers = ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(config.clone(), middleware::request_context))
        .layer(middleware::cors(&config))
        .layer(axum::middleware::from_fn_with_state(limiter, middleware::rate_limit))
        .layer(axum::middleware::from_fn_with_state(config.request_timeout, middleware::timeout))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::write_guard))
        // Our own reader enforces the cap (with our error); axum's default 2 MB is off.
        .layer(DefaultBodyLimit::disable());
    routes.fallback(middleware::not_found).method_not_allowed_fallback(middleware::method_not_allowed).layer(layers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    /// A handler that panics answers 500 in the envelope, with the request id and no internals.
    #[tokio::test]
    async fn panic_is_a_500_envelope_without_internals() {
        async fn boom() -> &'static str {
            panic!("secret internal detail /src/db.rs SELECT * FROM users")
        }
        let config = Arc::new(Config::from_values(&Default::default()).unwrap());
        let limiter = Limiter::new(false, Default::default(), crate::ratelimit::Store::memory());
        let app = with_layers(Router::new().route("/boom", axum::routing::get(boom)), config, limiter);
        let res = app
            .oneshot(Request::get("/boom").header("x-request-id", "req-123").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), 500);
        assert_eq!(res.headers()["x-request-id"], "req-123");
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["code"], "INTERNAL_ERROR");
        assert_eq!(v["success"], false);
        assert_eq!(v["status"], 500);
        assert_eq!(v["meta"]["requestId"], "req-123");
        assert!(!text.contains("secret") && !text.contains("SELECT") && !text.contains(".rs"), "{text}");
    }
}
