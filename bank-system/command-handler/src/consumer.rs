//! The consume loop. Partitions are spread over workers (partition mod workers), so each partition stays in
//! order while the database work of different partitions overlaps. A message's offset is stored only after its
//! events are acknowledged; a transient failure retries the same message, a poison record is logged and skipped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use tokio::sync::mpsc;

use crate::handler::{HandleError, Handler};
use crate::stats::Stats;

/// Consumes until `shutdown` resolves, then finishes the messages already handed to workers and commits.
pub async fn run(handler: Arc<Handler>, consumer: Arc<StreamConsumer>, workers: usize, shutdown: impl Future<Output = ()>) {
    let workers = workers.max(1);
    let mut senders = Vec::with_capacity(workers);
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, rx) = mpsc::channel::<OwnedMessage>(32);
        senders.push(tx);
        tasks.push(tokio::spawn(worker(handler.clone(), consumer.clone(), rx)));
    }

    tokio::pin!(shutdown);
    let mut stream = consumer.stream();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            message = stream.next() => match message {
                Some(Ok(m)) => {
                    let slot = m.partition().unsigned_abs() as usize % workers;
                    if senders[slot].send(m.detach()).await.is_err() {
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

async fn worker(handler: Arc<Handler>, consumer: Arc<StreamConsumer>, mut rx: mpsc::Receiver<OwnedMessage>) {
    while let Some(m) = rx.recv().await {
        let mut backoff = Duration::from_millis(50);
        loop {
            match handler.handle(m.key(), m.payload()).await {
                Ok(()) => break,
                Err(HandleError::Poison(why)) => {
                    Stats::count(&handler.stats.poison);
                    tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), "skipping record: {why}");
                    break;
                }
                Err(HandleError::Transient(why)) => {
                    Stats::count(&handler.stats.retries);
                    tracing::warn!(partition = m.partition(), offset = m.offset(), "retrying in {backoff:?}: {why}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        if let Err(e) = consumer.store_offset(m.topic(), m.partition(), m.offset()) {
            tracing::warn!(partition = m.partition(), offset = m.offset(), "storing offset: {e}");
        }
    }
}
