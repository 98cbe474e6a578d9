//! The OpenAPI 3.1 document of the REST API, generated from the code: every handler carries a
//! `#[utoipa::path]` and is registered through `utoipa_axum::routes!`, so a route cannot exist in
//! the router without being in the document. Served at `GET /api/openapi.json`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The success envelope (API.md 1.2).
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub status: u16,
    /// Always `OK`.
    pub code: String,
    pub message: String,
    pub data: T,
}

/// Pagination of a list (API.md 1.4).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub has_more: bool,
}

/// A list in the envelope, with `meta`.
#[derive(Serialize, ToSchema)]
pub struct ListEnvelope<T> {
    pub success: bool,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub data: Vec<T>,
    pub meta: PageMeta,
}

/// One bad field of a `VALIDATION_ERROR`.
#[derive(Serialize, ToSchema)]
pub struct FieldErrorDoc {
    pub field: String,
    pub error: String,
    /// `body`, `query` or `params`.
    pub location: String,
}

/// Every error (API.md 1.2, 1.5): `success: false`, the HTTP status, a stable `code`.
/// `meta` carries `errors` (validation), `requiredScopes`/`missingScopes`, `requestId` (500),
/// `message` (429), and the like.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub success: bool,
    pub status: u16,
    pub code: String,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
}

/// `{ "id": ... }`, the answer to a deletion.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
}

/// A free-form JSON object (counts, flags).
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct Anything(pub serde_json::Value);

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("gatehouse_session"))),
        );
        components.add_security_scheme("apiKey", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse",
        description = "Accounts, sessions, scoped Personal Access Tokens, organizations, members, invitations, projects and audit logs. Every response is an envelope; errors carry a stable `code`.",
        license(name = "MIT")
    ),
    modifiers(&Security),
    security(("session" = []), ("apiKey" = []), ("bearer" = [])),
    components(schemas(ErrorBody, FieldErrorDoc, PageMeta))
)]
pub struct ApiDoc;

/// The document, for the router.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[derive(Clone)]
pub struct Document(pub std::sync::Arc<String>);

/// `GET /api/openapi.json`.
pub async fn serve(State(doc): State<Document>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], doc.0.as_str().to_owned()).into_response()
}

/// `offset` (default 0) and `limit` (1..=100, default 20).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

/// A project list: paging, `q` (name, case-insensitive) and `status`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    pub offset: Option<i64>,
    pub limit: Option<i64>,
    pub q: Option<String>,
    pub status: Option<crate::domain::projects::ProjectStatus>,
}

/// An invitation list: paging and `status`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InviteQuery {
    pub offset: Option<i64>,
    pub limit: Option<i64>,
    pub status: Option<crate::domain::invitations::InviteStatus>,
}

/// The audit log: paging, `action`, and a time range (RFC 3339).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub offset: Option<i64>,
    pub limit: Option<i64>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// The audit export: filters and `format` (`json`, the default, or `csv`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub format: Option<String>,
}

/// `?token=` of the verification link.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    pub token: Option<String>,
}

/// `?id=` of a key.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdQuery {
    pub id: Option<String>,
}

/// Adds the error answers every operation can give (`4XX`, `5XX`: the error envelope).
pub struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = ResponseBuilder::new()
            .description("An error in the envelope, with a stable `code`")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                for range in ["4XX", "5XX"] {
                    op.responses.responses.entry(range.to_string()).or_insert_with(|| error.clone().into());
                }
            }
        }
    }
}

/// `data` of sign-in: the user and the new session.
#[derive(Serialize, ToSchema)]
pub struct SignInDoc {
    pub user: crate::domain::users::UserView,
    pub session: crate::domain::accounts::SessionInfo,
}

/// `data` of get-session.
#[derive(Serialize, ToSchema)]
pub struct SessionDoc {
    pub session: crate::domain::sessions::SessionView,
    pub user: crate::domain::users::UserView,
}

/// `{ "user": ... }`.
#[derive(Serialize, ToSchema)]
pub struct UserDoc {
    pub user: crate::domain::users::UserView,
}
