//! Deadlines for what the endpoint must answer before the load can start: the websocket handshake, the
//! `connection_ack`, the probe's and the open model's accounts. An endpoint that accepts connections and never
//! speaks would otherwise hold `bench run` for ever, its stack running, with no line saying what it waits for.

use std::future::Future;
use std::time::Duration;

use super::wire::ClientError;

/// How long one step may wait for the endpoint's answer. Locally each takes milliseconds; an account's password
/// hash ~50 ms. Ten seconds is far above that on a loaded machine and still short enough to be told promptly.
pub const FIRST_ANSWER: Duration = Duration::from_secs(10);
/// How long a first command (an account's `get_account`) may wait: it goes through Kafka and the command
/// handler, which on a cold stack may still be joining its consumer group, and the endpoint itself answers
/// every command within its `COMMAND_TIMEOUT_MS` (30 s by default), so this waits a little longer than that.
pub const FIRST_COMMAND: Duration = Duration::from_secs(45);

/// `step`, or [`ClientError::NoAnswer`] naming `what` did not answer from `url` within `limit`.
///
/// # Errors
/// The step's own error, or [`ClientError::NoAnswer`].
pub async fn within<T>(
    limit: Duration,
    url: &str,
    what: impl FnOnce() -> String,
    step: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    match tokio::time::timeout(limit, step).await {
        Ok(done) => done,
        Err(_) => Err(ClientError::NoAnswer { url: url.to_string(), what: what(), waited: limit }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_step_without_an_answer_is_named_after_the_limit() {
        let started = tokio::time::Instant::now();
        let silent = std::future::pending::<Result<(), ClientError>>();
        let err =
            within(FIRST_ANSWER, "ws://h:1/graphql", || "get_account(testuser)".into(), silent).await.unwrap_err();
        assert_eq!(started.elapsed(), FIRST_ANSWER);
        assert_eq!(err.to_string(), "ws://h:1/graphql did not answer get_account(testuser) within 10 s");
        let done = within(FIRST_ANSWER, "u", String::new, async { Ok(7) }).await;
        assert_eq!(done, Ok(7));
    }
}
