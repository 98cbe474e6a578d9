//! The one error type of Gatehouse. Every failure, from a bad field to a lost database, becomes an
//! `AppError` with a stable code from the spec (API.md 1.5). It is rendered twice: as the REST
//! envelope (`IntoResponse`) and as a GraphQL error with `extensions.code` (`crate::graphql`).
//! Internal causes are logged with the request id and never sent to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

/// The stable codes clients branch on. Messages may change; these may not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    ValidationError,
    PayloadTooLarge,
    InvalidToken,
    AuthenticationRequired,
    NoTokenProvided,
    InvalidOrExpiredToken,
    InvalidApiKey,
    UserNotActive,
    InvalidCredentials,
    InsufficientPermissions,
    NoScopesAvailable,
    NoPermissions,
    ApiKeyMissingScopes,
    Forbidden,
    SessionRequired,
    EmailNotVerified,
    TenantContextMissing,
    TenantViolation,
    NotFound,
    MethodNotAllowed,
    UserAlreadyExists,
    Conflict,
    AlreadyMember,
    UnsupportedMediaType,
    RateLimitError,
    InternalError,
    ServiceUnavailable,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            ValidationError => "VALIDATION_ERROR",
            PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            InvalidToken => "INVALID_TOKEN",
            AuthenticationRequired => "AUTHENTICATION_REQUIRED",
            NoTokenProvided => "NO_TOKEN_PROVIDED",
            InvalidOrExpiredToken => "INVALID_OR_EXPIRED_TOKEN",
            InvalidApiKey => "INVALID_API_KEY",
            UserNotActive => "USER_NOT_ACTIVE",
            InvalidCredentials => "INVALID_CREDENTIALS",
            InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            NoScopesAvailable => "NO_SCOPES_AVAILABLE",
            NoPermissions => "NO_PERMISSIONS",
            ApiKeyMissingScopes => "API_KEY_MISSING_SCOPES",
            Forbidden => "FORBIDDEN",
            SessionRequired => "SESSION_REQUIRED",
            EmailNotVerified => "EMAIL_NOT_VERIFIED",
            TenantContextMissing => "TENANT_CONTEXT_MISSING",
            TenantViolation => "TENANT_VIOLATION",
            NotFound => "NOT_FOUND",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            UserAlreadyExists => "USER_ALREADY_EXISTS",
            Conflict => "CONFLICT",
            AlreadyMember => "ALREADY_MEMBER",
            UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            RateLimitError => "RATE_LIMIT_ERROR",
            InternalError => "INTERNAL_ERROR",
            ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }

    pub fn status(self) -> StatusCode {
        use Code::*;
        match self {
            ValidationError | PayloadTooLarge | InvalidToken => StatusCode::BAD_REQUEST,
            AuthenticationRequired
            | NoTokenProvided
            | InvalidOrExpiredToken
            | InvalidApiKey
            | UserNotActive
            | InvalidCredentials => StatusCode::UNAUTHORIZED,
            InsufficientPermissions
            | NoScopesAvailable
            | NoPermissions
            | ApiKeyMissingScopes
            | Forbidden
            | SessionRequired
            | EmailNotVerified
            | TenantContextMissing
            | TenantViolation => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            UserAlreadyExists | Conflict | AlreadyMember => StatusCode::CONFLICT,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RateLimitError => StatusCode::TOO_MANY_REQUESTS,
            InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Where a bad field came from (API.md 1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Body,
    Query,
    Params,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub error: String,
    pub location: Location,
}

impl FieldError {
    pub fn new(field: impl Into<String>, error: impl Into<String>, location: Location) -> Self {
        Self { field: field.into(), error: error.into(), location }
    }
    pub fn body(field: impl Into<String>, error: impl Into<String>) -> Self {
        Self::new(field, error, Location::Body)
    }
    pub fn query(field: impl Into<String>, error: impl Into<String>) -> Self {
        Self::new(field, error, Location::Query)
    }
    pub fn params(field: impl Into<String>, error: impl Into<String>) -> Self {
        Self::new(field, error, Location::Params)
    }
}

/// Deliberately not `Display` (nor `std::error::Error`): async-graphql converts any `Display`
/// error into a GraphQL error with its text and no code, so `?` on an `AppResult` inside a
/// resolver would silently drop the code. Without `Display` that does not compile; resolvers
/// convert through `crate::graphql::GqlResult` instead.
#[derive(Clone, Debug)]
pub struct AppError {
    pub code: Code,
    pub message: String,
    pub meta: Option<Value>,
    /// Extra response headers (`Retry-After` on 429, for example).
    pub headers: Vec<(&'static str, String)>,
    /// The internal cause, for the log only.
    pub internal: Option<String>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), meta: None, headers: Vec::new(), internal: None }
    }

    pub fn with_meta(mut self, meta: Value) -> Self {
        self.meta = Some(meta);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// An unexpected failure: the cause goes to the log, the client sees `INTERNAL_ERROR`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(Code::InternalError, "Internal server error");
        e.internal = Some(cause.to_string());
        e
    }

    pub fn validation(mut errors: Vec<FieldError>) -> Self {
        errors.dedup_by(|a, b| a.field == b.field && a.location == b.location);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let message = format!("Validation failed for fields: {}", fields.join(", "));
        Self::new(Code::ValidationError, message).with_meta(json!({ "errors": errors }))
    }

    /// One bad field.
    pub fn invalid(field: impl Into<String>, error: impl Into<String>, location: Location) -> Self {
        Self::validation(vec![FieldError::new(field, error, location)])
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Code::Conflict, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, message)
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The field errors of a `VALIDATION_ERROR`, if any.
    pub fn field_errors(&self) -> Option<&Vec<Value>> {
        self.meta.as_ref()?.get("errors")?.as_array()
    }
}

/// Database failures: a lost connection is 503, a unique violation should have been mapped by
/// the caller (see [`is_unique_violation`]), anything else is a 500 whose text stays in the log.
impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::DbErr;
        match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                let mut e = AppError::new(Code::ServiceUnavailable, "The database is unavailable");
                e.internal = Some(err.to_string());
                e
            }
            _ if sqlstate(&err).as_deref() == Some("22021") => {
                // PostgreSQL refuses NUL (and other bytes its encoding cannot hold) in text.
                let mut e = AppError::invalid("body", "Text must not contain NUL characters", Location::Body);
                e.internal = Some(err.to_string());
                e
            }
            _ => AppError::internal(err),
        }
    }
}

/// The SQLSTATE of a database error, when the driver reported one.
pub fn sqlstate(err: &sea_orm::DbErr) -> Option<String> {
    use sea_orm::{DbErr, RuntimeErr};
    let runtime = match err {
        DbErr::Query(r) | DbErr::Exec(r) | DbErr::Conn(r) => r,
        _ => return None,
    };
    match runtime {
        RuntimeErr::SqlxError(e) => match e.as_ref() {
            sea_orm::sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// True when the database refused a row because a unique index already holds its value.
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// Maps a unique violation to the given error and anything else through `From<DbErr>`.
pub fn on_unique(err: sea_orm::DbErr, conflict: impl FnOnce() -> AppError) -> AppError {
    if is_unique_violation(&err) {
        conflict()
    } else {
        err.into()
    }
}

// The request id of the request being served, for `meta.requestId` of 500 answers.
tokio::task_local! {
    pub static REQUEST_ID: String;
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut meta = self.meta;
        if status.is_server_error() {
            let request_id = REQUEST_ID.try_with(|id| id.clone()).ok();
            tracing::error!(
                code = self.code.as_str(),
                cause = self.internal.as_deref().unwrap_or(""),
                "request failed"
            );
            let m = meta.get_or_insert_with(|| json!({}));
            if let (Some(obj), Some(id)) = (m.as_object_mut(), request_id) {
                obj.insert("requestId".into(), Value::String(id));
            }
        }
        let mut body = json!({
            "success": false,
            "status": status.as_u16(),
            "code": self.code.as_str(),
            "message": self.message,
        });
        if let Some(meta) = meta {
            body["meta"] = meta;
        }
        let mut response = (status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, v);
            }
        }
        response
    }
}
