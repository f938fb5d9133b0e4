//! What every HTTP and websocket request of an endpoint shares.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use tokio_util::sync::CancellationToken;

use crate::schema::BankSchema;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub schema: BankSchema,
    pub shutdown: CancellationToken,
    /// Subscriptions one websocket may have open at once.
    pub max_subscriptions_per_socket: usize,
    /// The origins (`CORS_ORIGINS`) whose pages may open a websocket; a client that sends no `Origin` is not a
    /// browser page and may.
    pub origins: Arc<[HeaderValue]>,
    /// How long a new websocket may wait before its first message.
    pub connection_init_timeout: Duration,
    /// How long a websocket with nothing open may stay silent.
    pub idle_timeout: Duration,
}
