//! The success envelope (API.md 1.2): `{ success, status, code: "OK", message, data, meta? }`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::Page;
use crate::error::AppError;

pub fn envelope<T: Serialize>(status: StatusCode, message: &str, data: T, meta: Option<Value>) -> Response {
    let data = match serde_json::to_value(data) {
        Ok(v) => v,
        Err(e) => return AppError::internal(e).into_response(),
    };
    let mut body = json!({
        "success": true,
        "status": status.as_u16(),
        "code": "OK",
        "message": message,
        "data": data,
    });
    if let Some(meta) = meta {
        body["meta"] = meta;
    }
    (status, axum::Json(body)).into_response()
}

/// 200 with `data`.
pub fn ok<T: Serialize>(message: &str, data: T) -> Response {
    envelope(StatusCode::OK, message, data, None)
}

/// 201 with the created resource.
pub fn created<T: Serialize>(message: &str, data: T) -> Response {
    envelope(StatusCode::CREATED, message, data, None)
}

/// 200 with a page: `data: [...]`, `meta: { total, offset, limit, hasMore }`.
pub fn page<T: Serialize>(message: &str, page: Page<T>) -> Response {
    let meta = page.meta();
    envelope(StatusCode::OK, message, page.items, Some(meta))
}

/// 200 for a deletion: `data: { id }`.
pub fn deleted(message: &str, id: String) -> Response {
    ok(message, json!({ "id": id }))
}
