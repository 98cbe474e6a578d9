//! The success envelope (API.md 1.2): `{ success, status, code: "OK", message, data, meta? }`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::Page;
use crate::error::AppError;

/// `capacity`: a guess at the body's size, so that a page is written without growing its buffer
/// from serde_json's default of 128 bytes through seven reallocations.
fn envelope<T: Serialize>(
    status: StatusCode,
    message: &str,
    data: T,
    meta: Option<Value>,
    capacity: usize,
) -> Response {
    /// Serialized straight to bytes: no intermediate `serde_json::Value` of the data.
    #[derive(Serialize)]
    struct Envelope<'a, T> {
        success: bool,
        status: u16,
        code: &'static str,
        message: &'a str,
        data: T,
        #[serde(skip_serializing_if = "Option::is_none")]
        meta: Option<Value>,
    }
    let body = Envelope { success: true, status: status.as_u16(), code: "OK", message, data, meta };
    let mut bytes = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut bytes, &body) {
        Ok(()) => {
            (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response()
        }
        Err(e) => AppError::internal(e).into_response(),
    }
}

/// 200 with `data`.
pub fn ok<T: Serialize>(message: &str, data: T) -> Response {
    envelope(StatusCode::OK, message, data, None, 1024)
}

/// 201 with the created resource.
pub fn created<T: Serialize>(message: &str, data: T) -> Response {
    envelope(StatusCode::CREATED, message, data, None, 1024)
}

/// 200 with a page: `data: [...]`, `meta: { total, offset, limit, hasMore }`.
pub fn page<T: Serialize>(message: &str, page: Page<T>) -> Response {
    let meta = page.meta();
    let capacity = 512 + 1024 * page.items.len(); // a project is about 600 bytes of JSON
    envelope(StatusCode::OK, message, page.items, Some(meta), capacity)
}

/// 200 for a deletion: `data: { id }`.
pub fn deleted(message: &str, id: String) -> Response {
    ok(message, json!({ "id": id }))
}
