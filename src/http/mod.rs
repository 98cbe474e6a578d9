//! The REST door: routes per resource, thin handlers, shared extractors and middleware.

pub mod auth;
pub mod extract;
pub mod health;
pub mod keys;
pub mod middleware;
pub mod projects;
pub mod respond;
pub mod users;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use crate::state::AppState;

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(auth::routes())
        .merge(keys::routes())
        .merge(users::routes())
        .merge(projects::routes())
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    middleware::request_context,
                ))
                .layer(CatchPanicLayer::custom(middleware::panic_response))
                .layer(axum::middleware::from_fn(middleware::write_guard))
                // Our own reader enforces the cap (with our error); axum's default 2 MB is off.
                .layer(DefaultBodyLimit::disable()),
        )
        .with_state(state)
}
