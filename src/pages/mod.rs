//! The account pages (PAGES.md): server-rendered shells from templates compiled into the binary
//! (minijinja, `assets/pages/`), one stylesheet and one script served from here, under a strict
//! Content-Security-Policy with no inline script. The pages hold no rules: their script calls the
//! REST API with the session cookie and shows its answers.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::{context, Environment, Value};

use crate::domain::access::{Principal, Scope};
use crate::error::AppError;
use crate::http::extract::{MaybeAuth, Path, QueryMap};
use crate::state::AppState;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../assets/pages/layout.html")),
    ("sign_up.html", include_str!("../../assets/pages/sign_up.html")),
    ("sign_in.html", include_str!("../../assets/pages/sign_in.html")),
    ("verify_email.html", include_str!("../../assets/pages/verify_email.html")),
    ("forgot_password.html", include_str!("../../assets/pages/forgot_password.html")),
    ("reset_password.html", include_str!("../../assets/pages/reset_password.html")),
    ("invite.html", include_str!("../../assets/pages/invite.html")),
    ("account.html", include_str!("../../assets/pages/account.html")),
    ("sessions.html", include_str!("../../assets/pages/sessions.html")),
    ("api_keys.html", include_str!("../../assets/pages/api_keys.html")),
    ("organizations.html", include_str!("../../assets/pages/organizations.html")),
    ("org.html", include_str!("../../assets/pages/org.html")),
];

/// (name, content type, bytes)
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../assets/pages/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/pages/app.js")),
];

/// Only this origin's script, style and connections; no inline script, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).expect("the page templates parse");
        }
        env
    })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/sign-up", get(sign_up))
        .route("/sign-in", get(sign_in))
        .route("/verify-email", get(verify_email))
        .route("/forgot-password", get(forgot_password))
        .route("/reset-password", get(reset_password))
        .route("/invites/{token}", get(invite))
        .route("/account", get(account))
        .route("/account/sessions", get(sessions))
        .route("/account/api-keys", get(api_keys))
        .route("/account/organizations", get(organizations))
        .route("/orgs/{id}", get(org))
        .route("/assets/{name}", get(asset))
}

/// The signed-in browser session, if any (a PAT is not a person at a browser).
fn session_user(p: &Option<std::sync::Arc<Principal>>) -> Option<&Principal> {
    p.as_deref().filter(|p| p.is_session())
}

fn user_context(p: Option<&Principal>) -> Value {
    match p {
        Some(p) => context! {
            email => p.user.email.clone(),
            full_name => p.user.full_name.clone(),
            handle => p.user.handle.clone(),
            is_verified => p.user.is_verified,
        },
        None => Value::from(()),
    }
}

fn render(template: &str, ctx: Value) -> Response {
    match templates().get_template(template).and_then(|t| t.render(ctx)) {
        Ok(html) => {
            let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => AppError::internal(format!("rendering {template}: {e}")).into_response(),
    }
}

/// A page for anyone (signed in or not).
fn public(template: &str, page: &str, title: &str, p: &Option<std::sync::Arc<Principal>>, extra: Value) -> Response {
    let ctx = context! { title, page, user => user_context(session_user(p)), ..extra };
    render(template, ctx)
}

/// A page that needs a signed-in session: without one, to `/sign-in?next=<this page>`.
fn private(
    template: &str,
    page: &str,
    section: &str,
    title: &str,
    p: &Option<std::sync::Arc<Principal>>,
    uri: &Uri,
    extra: Value,
) -> Response {
    let Some(user) = session_user(p) else {
        let here = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/account");
        let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
        return Redirect::to(&format!("/sign-in?next={next}")).into_response();
    };
    let ctx = context! { title, page, section, user => user_context(Some(user)), ..extra };
    render(template, ctx)
}

async fn sign_up(MaybeAuth(p): MaybeAuth) -> Response {
    public("sign_up.html", "sign-up", "Create your account", &p, context! {})
}

async fn sign_in(MaybeAuth(p): MaybeAuth) -> Response {
    public("sign_in.html", "sign-in", "Sign in", &p, context! {})
}

async fn verify_email(MaybeAuth(p): MaybeAuth, q: QueryMap) -> Response {
    let status = q.get("status").filter(|s| *s == "verified" || *s == "invalid").unwrap_or_default();
    let extra = context! { token => q.get("token").unwrap_or_default(), status };
    public("verify_email.html", "verify-email", "Email verification", &p, extra)
}

async fn forgot_password(MaybeAuth(p): MaybeAuth) -> Response {
    public("forgot_password.html", "forgot-password", "Forgot your password?", &p, context! {})
}

async fn reset_password(MaybeAuth(p): MaybeAuth, q: QueryMap) -> Response {
    let token = q.get("token").unwrap_or_default();
    public("reset_password.html", "reset-password", "Choose a new password", &p, context! { token })
}

async fn invite(MaybeAuth(p): MaybeAuth, Path(token): Path<String>, uri: Uri) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(uri.path().as_bytes()).collect();
    public("invite.html", "invite", "Invitation", &p, context! { token, next })
}

async fn account(MaybeAuth(p): MaybeAuth, uri: Uri) -> Response {
    private("account.html", "account", "account", "Your account", &p, &uri, context! {})
}

async fn sessions(MaybeAuth(p): MaybeAuth, uri: Uri) -> Response {
    private("sessions.html", "sessions", "sessions", "Sessions", &p, &uri, context! {})
}

async fn api_keys(MaybeAuth(p): MaybeAuth, uri: Uri) -> Response {
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    private("api_keys.html", "api-keys", "api-keys", "API keys", &p, &uri, context! { scopes })
}

async fn organizations(MaybeAuth(p): MaybeAuth, uri: Uri) -> Response {
    private("organizations.html", "organizations", "organizations", "Organizations", &p, &uri, context! {})
}

async fn org(MaybeAuth(p): MaybeAuth, Path(id): Path<String>, uri: Uri) -> Response {
    private("org.html", "org", "organizations", "Organization", &p, &uri, context! { org_id => id })
}

async fn asset(State(_): State<AppState>, Path(name): Path<String>) -> Result<Response, AppError> {
    let (_, content_type, bytes) =
        ASSETS.iter().find(|(n, _, _)| *n == name).ok_or_else(|| AppError::not_found("Asset"))?;
    Ok(([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *bytes).into_response())
}
