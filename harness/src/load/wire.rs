//! What both websocket clients share: the socket type, the errors the load counts, a subscription's answers, and
//! the `data` of a GraphQL response. Below [`super::client`] and [`super::legacy`], so each imports it alone.

use futures_util::stream::BoxStream;
use serde_json::Value;

pub(super) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What can go wrong talking to the endpoint; all of it counts as an error or a timeout of the load, never a crash.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the websocket closed")]
    Closed,
    /// A step before the load (see [`super::deadline`]) that the endpoint did not answer in time.
    #[error("{url} did not answer {what} within {} s", waited.as_secs())]
    NoAnswer { url: String, what: String, waited: std::time::Duration },
    #[error("GraphQL errors: {0}")]
    Graphql(String),
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// The data payloads of one subscription, in order; dropping the stream stops the subscription.
pub type Answers = BoxStream<'static, Result<Value, ClientError>>;

/// The `data` of a GraphQL response, or its errors.
pub(super) fn data_of(mut payload: Value) -> Result<Value, ClientError> {
    if let Some(errors) = payload.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        let messages: Vec<String> = errors
            .iter()
            .map(|e| e.get("message").and_then(Value::as_str).map_or_else(|| e.to_string(), String::from))
            .collect();
        return Err(ClientError::Graphql(messages.join("; ")));
    }
    match payload.get_mut("data") {
        Some(data) if !data.is_null() => Ok(data.take()),
        _ => Err(ClientError::Unexpected(format!("no data in {payload}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn graphql_errors_become_client_errors() {
        let err = data_of(json!({"data": null, "errors": [{"message": "bad"}, {"message": "worse"}]})).unwrap_err();
        assert_eq!(err.to_string(), "GraphQL errors: bad; worse");
        assert_eq!(data_of(json!({"data": {"a": 1}})).unwrap(), json!({"a": 1}));
        assert!(matches!(data_of(json!({})), Err(ClientError::Unexpected(_))));
    }
}
