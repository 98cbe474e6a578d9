//! The GraphQL door (GRAPHQL.md). The schema declares types and limits only
//! ([`schema_builder`] needs no database); the handler adds the request's principal, client and
//! DataLoaders as request data. Resolvers call the same domain functions as REST and turn
//! `AppError` into GraphQL errors carrying the same stable codes.

pub mod explorer;
pub mod handler;
pub mod inputs;
pub mod loaders;
pub mod mutation;
pub mod prime;
pub mod query;
pub mod types;

use std::sync::Arc;

use async_graphql::{EmptySubscription, ErrorExtensions, Schema, SchemaBuilder};

use crate::domain::access::Principal;
use crate::domain::{ClientInfo, PageParams};
use crate::error::{AppError, AppResult, Code};
use crate::http::extract::ResponseCookies;
use crate::state::AppState;

pub use mutation::Mutation;
pub use query::Query;

pub type GatehouseSchema = Schema<Query, Mutation, EmptySubscription>;

pub const MAX_DEPTH: usize = 10;
pub const MAX_COMPLEXITY: usize = 5_000;
pub const MAX_BATCH: usize = 10;
pub const MAX_QUERY_BYTES: usize = 100 * 1024;

/// Types and limits, no I/O: what `print-schema` and the SDL test use.
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription).limit_depth(MAX_DEPTH).limit_complexity(MAX_COMPLEXITY)
}

/// The schema the server runs, with introspection on or off.
pub fn build_schema(introspection: bool) -> GatehouseSchema {
    let builder = schema_builder();
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The SDL of the schema, as `schema.graphql` holds it.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// What one HTTP request gives its resolvers.
pub struct RequestCtx {
    pub state: AppState,
    /// The credential as resolved by the REST resolver: `Ok(None)` when none was sent.
    pub auth: Result<Option<Arc<Principal>>, AppError>,
    pub client: ClientInfo,
    pub cookies: ResponseCookies,
    pub loaders: loaders::Loaders,
}

impl RequestCtx {
    /// The caller, or the credential's error (`AUTHENTICATION_REQUIRED` when there is none).
    pub fn principal(&self) -> async_graphql::Result<&Principal> {
        match &self.auth {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(to_gql(AppError::new(Code::AuthenticationRequired, "Authentication required"))),
            Err(e) => Err(to_gql(e.clone())),
        }
    }
}

pub fn request_ctx<'a>(ctx: &async_graphql::Context<'a>) -> &'a RequestCtx {
    ctx.data_unchecked::<Arc<RequestCtx>>()
}

/// An `AppError` as a GraphQL error: the REST code in `extensions.code`, the REST status in
/// `extensions.status`, field errors in `extensions.errors`. Internal causes are logged only.
pub fn to_gql(e: AppError) -> async_graphql::Error {
    if e.code.status().is_server_error() {
        tracing::error!(code = e.code.as_str(), cause = e.internal.as_deref().unwrap_or(""), "graphql resolver failed");
    }
    let fields: Option<Vec<serde_json::Value>> = e
        .field_errors()
        .map(|errs| errs.iter().map(|f| serde_json::json!({ "field": f["field"], "error": f["error"] })).collect());
    let meta = e.meta.clone();
    async_graphql::Error::new(e.message.clone()).extend_with(|_, ext| {
        ext.set("code", e.code.as_str());
        ext.set("status", e.code.status().as_u16());
        if let Some(fields) = &fields {
            if let Ok(v) = async_graphql::Value::from_json(serde_json::Value::Array(fields.clone())) {
                ext.set("errors", v);
            }
        }
        if let Some(meta) = meta.as_ref().filter(|_| fields.is_none()) {
            for key in ["requiredScopes", "missingScopes"] {
                if let Some(v) = meta.get(key).and_then(|v| async_graphql::Value::from_json(v.clone()).ok()) {
                    ext.set(key, v);
                }
            }
        }
    })
}

/// `.gql()` turns an `AppResult` into a resolver result (see `AppError` for why `?` can't).
pub trait GqlResult<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for AppResult<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(to_gql)
    }
}

/// Page arguments checked with the REST rules.
pub fn page_args(offset: Option<i32>, limit: Option<i32>) -> async_graphql::Result<PageParams> {
    PageParams::new(offset.map(i64::from), limit.map(i64::from)).map_err(|errs| to_gql(AppError::validation(errs)))
}

/// The complexity of a list field: its items count as many times as the page may hold.
pub fn list_complexity(limit: Option<i32>, child: usize) -> usize {
    let n = limit.unwrap_or(20).clamp(1, crate::domain::MAX_LIMIT as i32) as usize;
    n.saturating_mul(child).saturating_add(1)
}
