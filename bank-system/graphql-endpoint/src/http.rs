//! GraphQL over HTTP POST, bounded: JSON bodies only (the schema takes no uploads, so no multipart and no temp
//! files), at most [`MAX_BODY_BYTES`] read within [`BODY_TIMEOUT`], and batches of at most [`MAX_BATCH`]
//! operations run one after another, so one request's work is that of its operations added up.

use std::time::Duration;

use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The largest body taken: far above any document of the bank's schema (a transfer with the longest
/// description is under 8 KiB, GraphiQL's introspection under 4 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Operations one batch may hold.
pub const MAX_BATCH: usize = 16;
/// How long a client may take to send its body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// A body over [`MAX_BODY_BYTES`] is still read (and dropped) up to this size, so its client gets the 413 rather
/// than a connection closed under its feet; a larger one is answered at once.
pub const DRAINED_BYTES: usize = 1 << 20;

fn refuse(status: StatusCode, reason: String) -> Response {
    (status, reason).into_response()
}

/// The body if it has at most [`MAX_BODY_BYTES`]; else `None`, once up to [`DRAINED_BYTES`] of it were dropped.
/// A body that breaks off is `None` too (its client is gone or lying about its length).
async fn read(body: Body) -> Option<Vec<u8>> {
    use futures_util::StreamExt;
    let mut chunks = body.into_data_stream();
    let (mut kept, mut seen) = (Vec::new(), 0usize);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.ok()?;
        seen += chunk.len();
        if seen > DRAINED_BYTES {
            return None;
        }
        if seen <= MAX_BODY_BYTES {
            kept.extend_from_slice(&chunk);
        }
    }
    (seen <= MAX_BODY_BYTES).then_some(kept)
}

pub async fn handler(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().starts_with("application/json"));
    if !json {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "POST /graphql takes Content-Type: application/json".into());
    }
    let too_large =
        || refuse(StatusCode::PAYLOAD_TOO_LARGE, format!("a request body may have at most {MAX_BODY_BYTES} bytes"));
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAINED_BYTES) {
        return too_large();
    }
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, read(body)).await {
        Err(_) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {BODY_TIMEOUT:?}"),
            )
        }
        Ok(None) => return too_large(),
        Ok(Some(bytes)) => bytes,
    };
    let request: BatchRequest = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("the body is not a GraphQL request: {e}")),
    };
    let response = match request {
        BatchRequest::Single(one) => BatchResponse::Single(state.schema.execute(one).await),
        BatchRequest::Batch(many) if many.len() > MAX_BATCH => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("a batch may hold at most {MAX_BATCH} operations, this one has {}", many.len()),
            );
        }
        BatchRequest::Batch(many) => {
            let mut answers = Vec::with_capacity(many.len());
            for one in many {
                answers.push(state.schema.execute(one).await);
            }
            BatchResponse::Batch(answers)
        }
    };
    axum::Json(response).into_response()
}
