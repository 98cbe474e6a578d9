//! The GraphiQL explorer (`GET /graphql` from a browser): the page and its assets, compiled into
//! the binary from `assets/` (GraphiQL and React are vendored from npm; see
//! `assets/vendor/graphiql/README.md`). Nothing is loaded from elsewhere; the page runs under a
//! Content-Security-Policy that allows only this origin's scripts.

use crate::http::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

const INDEX: &str = include_str!("../../assets/explorer/index.html");

/// (name, content type, bytes)
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/graphiql/graphiql.min.js"),
    ),
    ("graphiql.min.css", "text/css; charset=utf-8", include_bytes!("../../assets/vendor/graphiql/graphiql.min.css")),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/graphiql/react-dom.production.min.js"),
    ),
    ("explorer.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/explorer/explorer.js")),
    ("explorer.css", "text/css; charset=utf-8", include_bytes!("../../assets/explorer/explorer.css")),
];

/// Scripts and connections from this origin only. GraphiQL sets inline `style` attributes and
/// embeds its fonts as `data:` URLs, hence those two allowances.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn page() -> Response {
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response();
    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

pub async fn asset(Path(name): Path<String>) -> Result<Response, AppError> {
    let (_, content_type, bytes) =
        ASSETS.iter().find(|(n, _, _)| *n == name).ok_or_else(|| AppError::not_found("Asset"))?;
    Ok(([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "public, max-age=3600")], *bytes)
        .into_response())
}
