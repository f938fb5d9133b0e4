//! The consume loop. Partitions are spread over workers (partition mod workers), so each partition stays in
//! order while the database work of different partitions overlaps. librdkafka hands out messages a partition
//! batch at a time, so worker queues are unbounded and a global limit of messages in flight bounds memory instead:
//! a bounded queue per worker would stall every partition behind the busiest one. Within a worker, the next command is applied
//! while the previous one's events are still being acknowledged; offsets are stored in order, each only after its
//! message's events are acknowledged. A transient failure retries the same message, a poison record is logged and
//! skipped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::handler::{HandleError, Handler};
use crate::stats::Stats;

/// Consumes until `shutdown` resolves, then finishes the messages already handed to workers and commits.
pub async fn run(handler: Arc<Handler>, consumer: Arc<StreamConsumer>, workers: usize, shutdown: impl Future<Output = ()>) {
    let workers = workers.max(1);
    let mut senders = Vec::with_capacity(workers);
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, rx) = mpsc::unbounded_channel::<InFlight>();
        senders.push(tx);
        tasks.push(tokio::spawn(worker(handler.clone(), consumer.clone(), rx)));
    }
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));

    tokio::pin!(shutdown);
    let mut stream = consumer.stream();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            message = stream.next() => match message {
                Some(Ok(m)) => {
                    let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                    let slot = m.partition().unsigned_abs() as usize % workers;
                    if senders[slot].send((m.detach(), permit)).is_err() {
                        break;
                    }
                }
                Some(Err(e)) => tracing::warn!("consume error: {e}"),
                None => break,
            }
        }
    }
    drop(stream);
    drop(senders);
    for task in tasks {
        let _ = task.await;
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::warn!("final offset commit: {e}");
    }
}

/// Applies a partition's messages in order; their acknowledgements are awaited by [`acker`], so the next
/// command's database work overlaps the previous command's produce round trip.
async fn worker(handler: Arc<Handler>, consumer: Arc<StreamConsumer>, mut rx: mpsc::UnboundedReceiver<InFlight>) {
    let (acks, pending) = mpsc::unbounded_channel();
    let acker = tokio::spawn(acker(handler.clone(), consumer, pending));
    while let Some((m, permit)) = rx.recv().await {
        let mut backoff = Duration::from_millis(50);
        let delivery = loop {
            let sent = async { handler.send(handler.apply(m.key(), m.payload()).await?).await }.await;
            match sent {
                Ok(delivery) => break Some(delivery),
                Err(HandleError::Poison(why)) => {
                    Stats::count(&handler.stats.poison);
                    tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), "skipping record: {why}");
                    break None;
                }
                Err(HandleError::Transient(why)) => backoff = retry_pause(&handler, &m, &why, backoff).await,
            }
        };
        let delivery: Pending = match delivery {
            Some(d) => Box::pin(d),
            None => Box::pin(async { Ok(()) }),
        };
        if acks.send((m, delivery, permit)).is_err() {
            break;
        }
    }
    drop(acks);
    let _ = acker.await;
}

type Pending = std::pin::Pin<Box<dyn Future<Output = Result<(), HandleError>> + Send>>;
/// A message and its place in the in-flight limit, released once its offset is stored.
type InFlight = (OwnedMessage, OwnedSemaphorePermit);

/// Messages taken from librdkafka but not yet acknowledged and stored (about 300 bytes each).
const MAX_IN_FLIGHT: usize = 4096;

/// Waits for each message's acknowledgements in order and then stores its offset. A failed delivery handles
/// the message again: the command is answered from its stored outcome, so its events are re-sent, not re-applied.
async fn acker(
    handler: Arc<Handler>,
    consumer: Arc<StreamConsumer>,
    mut pending: mpsc::UnboundedReceiver<(OwnedMessage, Pending, OwnedSemaphorePermit)>,
) {
    while let Some((m, delivery, _permit)) = pending.recv().await {
        if let Err(HandleError::Transient(why)) = delivery.await {
            let mut backoff = retry_pause(&handler, &m, &why, Duration::from_millis(50)).await;
            while let Err(HandleError::Transient(why)) = handler.handle(m.key(), m.payload()).await {
                backoff = retry_pause(&handler, &m, &why, backoff).await;
            }
        }
        if let Err(e) = consumer.store_offset(m.topic(), m.partition(), m.offset()) {
            tracing::warn!(partition = m.partition(), offset = m.offset(), "storing offset: {e}");
        }
    }
}

async fn retry_pause(handler: &Handler, m: &OwnedMessage, why: &str, backoff: Duration) -> Duration {
    Stats::count(&handler.stats.retries);
    tracing::warn!(partition = m.partition(), offset = m.offset(), "retrying in {backoff:?}: {why}");
    tokio::time::sleep(backoff).await;
    (backoff * 2).min(Duration::from_secs(2))
}
