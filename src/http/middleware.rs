//! Middleware every request passes through: request context (id, client address, tracing span,
//! cookies, security headers), the write guard (415, body cap), panics, unknown routes.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::extract::{payload_too_large, ClientIp, ResponseCookies, MAX_BODY_BYTES};
use crate::error::{AppError, Code, REQUEST_ID};
use std::sync::Arc;

use crate::config::Config;
use crate::ratelimit::{rejection, Bucket, Limiter};

/// A client's `X-Request-Id` is kept when it is 1..=128 visible ASCII characters.
fn valid_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())).then(|| s.to_string())
}

/// The client address: the socket peer, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` address that is not itself a trusted proxy (API.md 8).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return peer;
    }
    let mut forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    if forwarded.is_empty() {
        // RFC 7239: `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"`.
        forwarded = headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    if !k.trim().eq_ignore_ascii_case("for") {
                        return None;
                    }
                    let v = v.trim().trim_matches('"');
                    let host = if let Some(rest) = v.strip_prefix('[') {
                        rest.split(']').next()?
                    } else {
                        v.split(':').next()?
                    };
                    host.parse::<IpAddr>().ok()
                })
            })
            .map(|ip| ip.to_canonical())
            .collect();
    }
    forwarded.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
}

/// The path as logged: invitation tokens travel in the path (`/invites/{token}`,
/// `/api/user/invites/{token}[/accept]`) and are replaced by `{token}`.
pub fn loggable_path(path: &str) -> String {
    for prefix in ["/invites/", "/api/user/invites/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}{{token}}{tail}");
        }
    }
    path.to_string()
}

/// Sets up the request: id, client address, cookie sink, span; after the handler, adds the
/// request id, cookies and security headers, and logs one line.
pub async fn request_context(State(config): State<Arc<Config>>, mut req: Request, next: Next) -> Response {
    let request_id =
        req.headers().get("x-request-id").and_then(valid_request_id).unwrap_or_else(|| ulid::Ulid::new().to_string());
    let peer =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let ip = client_ip(peer, req.headers(), &config.trusted_proxies);
    let cookies = ResponseCookies::default();
    req.extensions_mut().insert(ClientIp(ip));
    req.extensions_mut().insert(cookies.clone());

    let method = req.method().clone();
    // The path only: query strings can carry email tokens, which never reach a log line.
    let path = loggable_path(req.uri().path());
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %path, client = %ip);
    let started = Instant::now();
    let mut response = REQUEST_ID.scope(request_id.clone(), next.run(req).instrument(span.clone())).await;

    let headers = response.headers_mut();
    for c in cookies.take() {
        if let Ok(v) = HeaderValue::from_str(&c) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    security_headers(headers, &path, config.is_https());
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, latency_ms = format!("{latency_ms:.2}"), "request"));
    response
}

fn security_headers(h: &mut HeaderMap, path: &str, https: bool) {
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if (path.starts_with("/api/") || path == "/graphql") && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        h.insert("strict-transport-security", HeaderValue::from_static("max-age=31536000"));
    }
}

/// Writes must be JSON (415 otherwise), and a declared body over the cap is refused before a
/// byte of it is read. Bodies without a length are capped while they are read.
pub async fn write_guard(req: Request, next: Next) -> Response {
    let is_write = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    if is_write {
        let headers = req.headers();
        let length =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if length.is_some_and(|l| l > MAX_BODY_BYTES as u64) {
            return payload_too_large().into_response();
        }
        let has_body = length.is_some_and(|l| l > 0) || headers.contains_key(header::TRANSFER_ENCODING);
        if has_body && !is_json(headers) {
            return AppError::new(Code::UnsupportedMediaType, "Content-Type must be application/json").into_response();
        }
    }
    next.run(req).await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Rate limits (API.md 8): every request counts against the global bucket and, for the paths that
/// have one, against its own. Over either: 429. Otherwise the response carries the `RateLimit-*`
/// headers of the bucket with the least left.
pub async fn rate_limit(State(limiter): State<Limiter>, req: Request, next: Next) -> Response {
    if !limiter.enabled() {
        return next.run(req).await;
    }
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let mut decisions = Vec::with_capacity(2);
    decisions.extend(limiter.hit(Bucket::Global, ip, 1).await);
    if let Some(bucket) = Bucket::for_path(req.uri().path()) {
        decisions.extend(limiter.hit(bucket, ip, 1).await);
    }
    if let Some(exceeded) = decisions.iter().filter(|d| !d.allowed()).max_by_key(|d| d.reset_in) {
        return rejection(exceeded).into_response();
    }
    let mut response = next.run(req).await;
    if let Some(tightest) = decisions.iter().min_by_key(|d| d.remaining()) {
        let headers = response.headers_mut();
        for (name, value) in tightest.headers() {
            if !headers.contains_key(name) {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            }
        }
    }
    response
}

/// A request that takes longer than the configured timeout is answered 503.
pub async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => AppError::new(Code::ServiceUnavailable, "The request took too long").into_response(),
    }
}

/// CORS for the trusted origins only (the base URL's and `GATEHOUSE_TRUSTED_ORIGINS`), with
/// credentials, so a trusted front end may call the API with the session cookie.
pub fn cors(config: &Config) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> =
        config.trusted_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-api-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("ratelimit-limit"),
            header::HeaderName::from_static("ratelimit-remaining"),
            header::HeaderName::from_static("ratelimit-reset"),
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600))
}

/// A panic becomes a 500 in the envelope, with no internals.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    AppError::internal(format!("handler panicked: {detail}")).into_response()
}

pub async fn not_found(uri: axum::http::Uri) -> AppError {
    // `/api/user/organizations//...`: a tenant route with an empty organization segment.
    if uri.path().starts_with("/api/user/organizations//") {
        return AppError::new(Code::TenantContextMissing, "The organization id in the path is missing or malformed");
    }
    AppError::new(Code::NotFound, "Route not found")
}

pub async fn method_not_allowed() -> AppError {
    AppError::new(Code::MethodNotAllowed, "Method not allowed")
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn invitation_tokens_never_reach_the_log() {
        assert_eq!(loggable_path("/invites/SeCrEt123"), "/invites/{token}");
        assert_eq!(loggable_path("/api/user/invites/SeCrEt123/accept"), "/api/user/invites/{token}/accept");
        assert_eq!(loggable_path("/api/user/invites/SeCrEt123"), "/api/user/invites/{token}");
        assert_eq!(loggable_path("/api/user/me"), "/api/user/me");
    }
}
