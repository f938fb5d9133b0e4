//! How many operations (subscriptions, mostly) one websocket may have open at once. Each socket's operations run
//! through its own [`Limited`] executor: an operation takes a slot when its `subscribe` (`start`) is read, in
//! the order the client sent them, and its stream holds the slot, so the slot is free again whichever way the
//! operation ends (answered, completed by the client, or with its socket).

use std::sync::Arc;

use async_graphql::{BatchRequest, BatchResponse, Data, Executor, Request, Response, ServerError};
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::schema::BankSchema;

/// The operations a websocket may still open.
#[derive(Clone)]
pub struct SocketSlots {
    free: Arc<Semaphore>,
    limit: usize,
}

/// One open operation's slot, given back when dropped.
pub type Slot = OwnedSemaphorePermit;

impl SocketSlots {
    pub fn new(limit: usize) -> SocketSlots {
        SocketSlots { free: Arc::new(Semaphore::new(limit)), limit }
    }

    /// Operations open now.
    pub fn open(&self) -> usize {
        self.limit - self.free.available_permits()
    }

    /// A slot, or the reason a further operation is refused.
    pub fn take(&self) -> Result<Slot, String> {
        self.free.clone().try_acquire_owned().map_err(|_| {
            format!(
                "at most {} subscriptions may be open at once on one websocket (MAX_SUBSCRIPTIONS_PER_SOCKET): complete one first",
                self.limit
            )
        })
    }
}

/// The schema as one websocket's executor: every operation needs a slot of the socket's [`SocketSlots`].
#[derive(Clone)]
pub struct Limited {
    pub schema: BankSchema,
    pub slots: SocketSlots,
}

impl Executor for Limited {
    async fn execute(&self, request: Request) -> Response {
        Executor::execute(&self.schema, request).await
    }

    async fn execute_batch(&self, batch: BatchRequest) -> BatchResponse {
        Executor::execute_batch(&self.schema, batch).await
    }

    fn execute_stream(&self, request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        match self.slots.take() {
            Ok(slot) => {
                let responses = Executor::execute_stream(&self.schema, request, session_data);
                // The stream owns the slot: it is given back when async-graphql drops the finished stream.
                responses
                    .map(move |response| {
                        let _held = &slot;
                        response
                    })
                    .boxed()
            }
            // Answered like any failed operation (`next` with the error, then `complete`): the socket stays open.
            Err(reason) => {
                stream::once(async move { Response::from_errors(vec![ServerError::new(reason, None)]) }).boxed()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_given_back_can_be_taken_again() {
        let slots = SocketSlots::new(2);
        let first = slots.take().unwrap();
        let _second = slots.take().unwrap();
        let refused = slots.take().unwrap_err();
        assert!(
            refused.contains("at most 2 subscriptions") && refused.contains("MAX_SUBSCRIPTIONS_PER_SOCKET"),
            "{refused}"
        );
        drop(first);
        assert!(slots.take().is_ok(), "the slot of an ended subscription is free again");
    }
}
