//! `POST /graphql` (one operation or a batch), `GET /graphql?query=` (queries only) and the
//! explorer for browsers. The credential is resolved by the same code as REST; size, batch,
//! depth and complexity limits are checked before any resolver runs.

use std::sync::Arc;

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{BatchRequest, BatchResponse, ServerError};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::loaders::Loaders;
use super::{explorer, RequestCtx, MAX_BATCH, MAX_QUERY_BYTES};
use crate::http::extract::{client_info, read_body, resolve_principal, QueryMap, ResponseCookies};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route("/graphql/assets/{name}", get(explorer::asset))
}

/// A GraphQL-shaped error answer for requests refused before execution.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body =
        json!({ "errors": [ { "message": message, "extensions": { "code": code, "status": status.as_u16() } } ] });
    (status, axum::Json(body)).into_response()
}

async fn post_graphql(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let batch: BatchRequest = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", &format!("Not a GraphQL request: {e}")),
    };
    execute(&state, &mut parts, batch, false).await
}

async fn get_graphql(State(state): State<AppState>, query: QueryMap, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let wants_html =
        parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if wants_html {
        return explorer::page();
    }
    let Some(text) = query.get("query") else {
        return refuse(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Missing the `query` parameter");
    };
    let mut request = async_graphql::Request::new(text);
    if let Some(name) = query.get("operationName") {
        request = request.operation_name(name);
    }
    if let Some(vars) = query.get("variables") {
        match serde_json::from_str::<serde_json::Value>(vars) {
            Ok(v) => request = request.variables(async_graphql::Variables::from_json(v)),
            Err(_) => return refuse(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "`variables` is not JSON"),
        }
    }
    execute(&state, &mut parts, BatchRequest::Single(request), true).await
}

/// Checks what can be checked without running anything, then executes with the request data.
async fn execute(
    state: &AppState,
    parts: &mut axum::http::request::Parts,
    mut batch: BatchRequest,
    queries_only: bool,
) -> Response {
    // Documents parsed here for the first time; remembered only if they then run cleanly.
    let mut fresh: Vec<Option<(String, ExecutableDocument)>> = Vec::new();
    if batch.iter().all(|r| r.query.len() <= MAX_QUERY_BYTES) {
        fresh = batch.iter_mut().take(MAX_BATCH).map(parse_once).collect();
    }
    let requests: Vec<&async_graphql::Request> = batch.iter().collect();
    if requests.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Empty batch");
    }
    if requests.len() > MAX_BATCH {
        return refuse(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            &format!("A batch holds at most {MAX_BATCH} operations"),
        );
    }
    if requests.iter().any(|r| r.query.len() > MAX_QUERY_BYTES) {
        return refuse(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "A query may be at most 100 KiB");
    }
    // A mutation's top-level fields are operations of their own (aliases included): each counts
    // against the global budget, and one document may hold at most MAX_BATCH of them.
    let mutation_fields: Vec<usize> = requests.iter().map(|r| mutation_fields(r)).collect();
    if mutation_fields.iter().any(|n| *n > MAX_BATCH) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            &format!("A mutation may invoke at most {MAX_BATCH} fields"),
        );
    }
    let operations: usize = mutation_fields.iter().map(|n| (*n).max(1)).sum();
    if queries_only && requests.iter().any(|r| is_mutation(r)) {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "Mutations need POST");
    }
    if !state.config.graphql_introspection && requests.iter().any(|r| asks_introspection(r)) {
        return refuse(StatusCode::FORBIDDEN, "FORBIDDEN", "Introspection is disabled on this server");
    }

    // Every operation counts against the global budget; the HTTP request already counted one.
    if operations > 1 {
        let ip = parts
            .extensions
            .get::<crate::http::extract::ClientIp>()
            .map(|c| c.0)
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        if let Some(d) = state.limiter.hit(crate::ratelimit::Bucket::Global, ip, operations as u64 - 1).await {
            if !d.allowed() {
                return crate::ratelimit::rejection(&d).into_response();
            }
        }
    }
    let auth = resolve_principal(parts, state).await;
    let ctx = Arc::new(RequestCtx {
        state: state.clone(),
        loaders: Loaders::new(state, auth.as_ref().ok().cloned().flatten()),
        auth,
        client: client_info(parts),
        cookies: parts.extensions.get::<ResponseCookies>().cloned().unwrap_or_default(),
    });
    let batch = match batch {
        BatchRequest::Single(r) => BatchRequest::Single(r.data(ctx)),
        BatchRequest::Batch(rs) => BatchRequest::Batch(rs.into_iter().map(|r| r.data(ctx.clone())).collect()),
    };
    let response: BatchResponse = state.schema.execute_batch(batch).await;
    let clean: Vec<bool> = match &response {
        BatchResponse::Single(r) => vec![r.errors.is_empty()],
        BatchResponse::Batch(rs) => rs.iter().map(|r| r.errors.is_empty()).collect(),
    };
    remember(fresh.into_iter().zip(clean).filter(|(_, ok)| *ok).filter_map(|(doc, _)| doc));
    let mut res = axum::Json(label_errors(response)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    res
}

/// Parsed documents by their text. Clients send the same few documents over and over, and parsing
/// (pest) cost about 7% of a small query's CPU; a clone of the parsed document is cheaper. The
/// executor still checks depth, complexity and validity on every request. Only documents up to
/// [`MEMO_QUERY_BYTES`] that ran without an error are kept (so their size is bounded by the
/// depth and complexity limits, and nobody can fill the memo with documents that fail), at most
/// [`MEMO_ENTRIES`] of them (the memo empties when full). It is process-wide because a parse
/// depends on the text alone.
static DOCUMENTS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, ExecutableDocument>>> =
    std::sync::LazyLock::new(Default::default);
const MEMO_QUERY_BYTES: usize = 4 * 1024;
const MEMO_ENTRIES: usize = 256;

fn documents() -> std::sync::MutexGuard<'static, std::collections::HashMap<String, ExecutableDocument>> {
    DOCUMENTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Gives `r` its parsed document, from the memo when it is there. Returns a document parsed here
/// for the first time (a candidate for the memo). A document that does not parse is left alone:
/// the executor reports its syntax error.
fn parse_once(r: &mut async_graphql::Request) -> Option<(String, ExecutableDocument)> {
    if r.query.len() > MEMO_QUERY_BYTES {
        return None;
    }
    let known = documents().get(&r.query).cloned();
    if let Some(doc) = known {
        r.set_parsed_query(doc);
        return None;
    }
    let doc = r.parsed_query().ok()?.clone();
    Some((r.query.clone(), doc))
}

/// Keeps documents that ran cleanly.
fn remember(docs: impl Iterator<Item = (String, ExecutableDocument)>) {
    let mut memo = documents();
    for (text, doc) in docs {
        if memo.len() >= MEMO_ENTRIES {
            memo.clear();
        }
        memo.insert(text, doc);
    }
}

/// How many top-level fields the mutations of a document invoke (0 for queries). Only documents
/// that mention `mutation` are looked at (from the memo, else parsed here).
fn mutation_fields(r: &async_graphql::Request) -> usize {
    if !r.query.contains("mutation") {
        return 0;
    }
    with_document(&r.query, |doc| {
        doc.operations
            .iter()
            .filter(|(_, op)| op.node.ty == OperationType::Mutation)
            .map(|(_, op)| op.node.selection_set.node.items.len())
            .max()
            .unwrap_or(0)
    })
    .unwrap_or(0)
}

/// `f` of the parsed document (from the memo, else parsed here); `None` when it does not parse.
fn with_document<T>(query: &str, f: impl FnOnce(&ExecutableDocument) -> T) -> Option<T> {
    if let Some(doc) = documents().get(query) {
        return Some(f(doc));
    }
    async_graphql::parser::parse_query(query).ok().map(|doc| f(&doc))
}

/// True when the operation that would run is a mutation (or a subscription).
fn is_mutation(r: &async_graphql::Request) -> bool {
    with_document(&r.query, |doc| {
        doc.operations.iter().any(|(name, op)| {
            let selected = match (&r.operation_name, name) {
                (Some(want), Some(n)) => want.as_str() == n.as_str(),
                (None, _) => true,
                (Some(_), None) => false,
            };
            selected && op.node.ty != OperationType::Query
        })
    })
    .unwrap_or(false)
}

/// True when the document selects `__schema` or `__type` anywhere (`__typename` is harmless).
fn asks_introspection(r: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::{Selection, SelectionSet};
    fn walk(set: &SelectionSet) -> bool {
        set.items.iter().any(|s| match &s.node {
            Selection::Field(f) => {
                matches!(f.node.name.node.as_str(), "__schema" | "__type") || walk(&f.node.selection_set.node)
            }
            Selection::InlineFragment(i) => walk(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    with_document(&r.query, |doc| {
        doc.operations.iter().any(|(_, op)| walk(&op.node.selection_set.node))
            || doc.fragments.values().any(|f| walk(&f.node.selection_set.node))
    })
    .unwrap_or(false)
}

/// Errors raised by GraphQL itself (parse, validation, depth and complexity limits) get the
/// `VALIDATION_ERROR` code too, so clients can branch on `extensions.code` for every error.
fn label_errors(mut response: BatchResponse) -> BatchResponse {
    fn label(errors: &mut [ServerError]) {
        for e in errors {
            let ext = e.extensions.get_or_insert_with(Default::default);
            if ext.get("code").is_none() {
                ext.set("code", "VALIDATION_ERROR");
                ext.set("status", 400);
            }
        }
    }
    match &mut response {
        BatchResponse::Single(r) => label(&mut r.errors),
        BatchResponse::Batch(rs) => rs.iter_mut().for_each(|r| label(&mut r.errors)),
    }
    response
}
