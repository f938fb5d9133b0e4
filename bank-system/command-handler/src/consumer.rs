//! The consume loop. Partitions are spread over workers (partition mod workers), so each partition stays in
//! order while the database work of different partitions overlaps. librdkafka hands out messages a partition
//! batch at a time, so worker queues are unbounded and a global limit of messages in flight bounds memory instead:
//! a bounded queue per worker would stall every partition behind the busiest one. A worker applies what is
//! queued for it as one batch (up to [`MAX_BATCH`] messages, one database transaction) and produces the batch's
//! events together: under load, fewer commits and fuller produce requests; when idle, a batch is one message.
//! The next batch is applied while the previous one's events are still being acknowledged; offsets are stored
//! in order, each only after its batch's events are acknowledged. A transient failure before anything of a batch
//! was produced retries the same batch; a poison record is logged and skipped.
//!
//! A batch whose events Kafka did not take is never sent again here: later batches were produced meanwhile, so a
//! re-send would put an account's events out of order. The producer retries by itself, in order (idempotent, no
//! message timeout), so such a failure is fatal for it; the handler stops with an error and a restart resumes at
//! the last stored offset, answering the commands already applied from their stored outcomes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::handler::{Handled, Handler, Incoming, Transient};
use crate::stats::Stats;

/// Kafka did not take a batch's events: the handler must stop (see the module's docs).
#[derive(Debug, thiserror::Error)]
#[error("Kafka did not take the events of the batch at partition {partition} offset {offset}: {why}; stopping so that a restart re-sends them in order")]
pub struct Undelivered {
    pub partition: i32,
    pub offset: i64,
    pub why: String,
}

/// Consumes until `shutdown` resolves, then finishes the messages already handed to workers and commits.
pub async fn run(
    handler: Arc<Handler>,
    consumer: Arc<StreamConsumer>,
    workers: usize,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Undelivered> {
    let workers = workers.max(1);
    let mut senders = Vec::with_capacity(workers);
    let mut tasks = Vec::with_capacity(workers);
    let (failed, mut failure) = mpsc::unbounded_channel::<Undelivered>();
    for _ in 0..workers {
        let (tx, rx) = mpsc::unbounded_channel::<InFlight>();
        senders.push(tx);
        tasks.push(tokio::spawn(worker(handler.clone(), consumer.clone(), rx, failed.clone())));
    }
    drop(failed);
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));

    tokio::pin!(shutdown);
    let mut stream = consumer.stream();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = failure.recv() => break,
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
    failure.try_recv().map_or(Ok(()), Err)
}

/// Applies its partitions' messages in order, a batch at a time; their acknowledgements are awaited by
/// [`acker`], so the next batch's database work overlaps the previous batch's produce round trip.
async fn worker(
    handler: Arc<Handler>,
    consumer: Arc<StreamConsumer>,
    mut rx: mpsc::UnboundedReceiver<InFlight>,
    failed: mpsc::UnboundedSender<Undelivered>,
) {
    let (acks, pending) = mpsc::unbounded_channel();
    let acker = tokio::spawn(acker(handler.clone(), consumer, pending, failed));
    while let Some(first) = rx.recv().await {
        if acks.is_closed() {
            break; // the acker stopped at a batch Kafka did not take: nothing after it may be produced
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut backoff = Duration::from_millis(50);
        let (delivery, poison) = loop {
            let sent = async {
                let mut events = Vec::new();
                let mut poison = Vec::new();
                for (n, handled) in handler.apply(&incoming(&batch)).await?.into_iter().enumerate() {
                    match handled {
                        Handled::Events(e) => events.extend(e),
                        Handled::Poison(why) => poison.push((n, why)),
                    }
                }
                Ok((handler.send(events).await?, poison))
            }
            .await;
            match sent {
                Ok(done) => break done,
                Err(Transient(why)) => backoff = retry_pause(&handler, &batch, &why, backoff).await,
            }
        };
        // Counted once the batch went through, so a retried batch does not count its poison twice.
        for (n, why) in poison {
            let m = &batch[n].0;
            Stats::count(&handler.stats.poison);
            tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), "skipping record: {why}");
        }
        if acks.send((batch, Box::pin(delivery) as Pending)).is_err() {
            break;
        }
    }
    drop(acks);
    let _ = acker.await;
}

fn incoming(batch: &[InFlight]) -> Vec<Incoming<'_>> {
    batch.iter().map(|(m, _)| Incoming { key: m.key(), payload: m.payload() }).collect()
}

type Pending = std::pin::Pin<Box<dyn Future<Output = Result<(), Transient>> + Send>>;
/// A message and its place in the in-flight limit, released once its offset is stored.
type InFlight = (OwnedMessage, OwnedSemaphorePermit);

/// Messages taken from librdkafka but not yet acknowledged and stored (about 300 bytes each).
const MAX_IN_FLIGHT: usize = 4096;
/// The most messages applied in one transaction: the 2019 handler's `max.poll.records`.
pub const MAX_BATCH: usize = 100;

/// Waits for each batch's acknowledgements in order and then stores its offsets. At the first batch Kafka did
/// not take, it stores nothing more and reports the failure (see the module's docs).
async fn acker(
    handler: Arc<Handler>,
    consumer: Arc<StreamConsumer>,
    mut pending: mpsc::UnboundedReceiver<(Vec<InFlight>, Pending)>,
    failed: mpsc::UnboundedSender<Undelivered>,
) {
    while let Some((batch, delivery)) = pending.recv().await {
        if let Err(Transient(why)) = delivery.await {
            let (partition, offset) = batch.first().map_or((-1, -1), |(m, _)| (m.partition(), m.offset()));
            let undelivered = Undelivered { partition, offset, why };
            tracing::error!("{undelivered}");
            let _ = failed.send(undelivered);
            // The rest is neither acknowledged nor stored; their permits go with them.
            pending.close();
            return;
        }
        for (m, _permit) in &batch {
            if let Err(e) = consumer.store_offset(m.topic(), m.partition(), m.offset()) {
                tracing::warn!(partition = m.partition(), offset = m.offset(), "storing offset: {e}");
            }
        }
        Stats::add(&handler.stats.acknowledged, batch.len());
    }
}

async fn retry_pause(handler: &Handler, batch: &[InFlight], why: &str, backoff: Duration) -> Duration {
    Stats::count(&handler.stats.retries);
    if let Some((m, _)) = batch.first() {
        tracing::warn!(
            partition = m.partition(),
            offset = m.offset(),
            messages = batch.len(),
            "retrying in {backoff:?}: {why}"
        );
    }
    tokio::time::sleep(backoff).await;
    (backoff * 2).min(Duration::from_secs(2))
}
