//! What every HTTP and websocket request of an endpoint shares.

use tokio_util::sync::CancellationToken;

use crate::schema::BankSchema;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub schema: BankSchema,
    pub shutdown: CancellationToken,
    /// Subscriptions one websocket may have open at once.
    pub max_subscriptions_per_socket: usize,
}
