//! Generators (docs/guide.md): background load, each on its own websocket with two accounts of its own, running
//! the 2019 chain ([`super::chain`]) with transfers at least `transfer_pause_ms` apart.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::bank::{self, Account, Answer, Bank, Transfer};
use super::chain::Step;
use super::client::{Client, ClientError};
use super::schedule::Schedule;
use crate::experiment::Protocol;

/// A generator's answers may take as long as the endpoint's own limit (30 s) and a little more.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(35);

/// One transfer of one generator, or a failure to get going.
#[derive(Debug, Clone)]
pub struct Reply {
    pub generator: u32,
    /// From the transfer's intended start to its answer; `None` when there was no answer.
    pub latency: Option<Duration>,
    /// A wrong answer, no answer, or a connection that failed.
    pub error: bool,
    pub answered: Option<(Uuid, Answer)>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: super::client::Endpoint,
    pub protocol: Protocol,
    pub pause: Duration,
}

/// Starts generator `n` (from 1): connects, opens `account-first|n` and `account-second|n`, then runs the chain
/// until `cancel`. Failing to connect, or losing the connection (the endpoint restarted), is reported as an
/// error and the generator connects again after a pause; its accounts are the same ones again.
pub fn spawn(
    n: u32,
    settings: Settings,
    replies: mpsc::Sender<Reply>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let error = Reply { generator: n, latency: None, error: true, answered: None };
        loop {
            let ready = async {
                let client = Client::connect(&settings.endpoint, settings.protocol).await?;
                let first =
                    bank::open_account(&client, &format!("account-first|{n}"), &format!("account-first|{n}")).await?;
                let second =
                    bank::open_account(&client, &format!("account-second|{n}"), &format!("account-second|{n}")).await?;
                Ok::<_, super::client::ClientError>((client, first, second))
            };
            let started = tokio::select! {
                () = cancel.cancelled() => return,
                started = ready => started,
            };
            match started {
                Ok((client, first, second)) => {
                    match run_chain(n, &client, (&first, &second), settings.pause, &replies, &cancel).await {
                        Ended::Stopped => return,
                        Ended::Disconnected => tracing::debug!(generator = n, "connection lost; connecting again"),
                    }
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(settings.pause.max(Duration::from_secs(1))) => {}
                    }
                }
                Err(e) => {
                    tracing::debug!(generator = n, "cannot start: {e}");
                    if replies.send(error.clone()).await.is_err() {
                        return;
                    }
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(settings.pause.max(Duration::from_secs(1))) => {}
                    }
                }
            }
        }
    })
}

/// Why [`run_chain`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Cancelled, or nobody listens to replies any more.
    Stopped,
    /// The connection is gone: connect again.
    Disconnected,
}

/// The chain, one transfer per free slot of a `pause` grid, until `cancel`, until nobody listens, or until the
/// connection is lost. A reply waits for room in `replies` (bounded: the driver takes them as they come, so a full
/// channel means bench itself is behind); the wait ends on the grid's next free slot, never in a burst.
pub async fn run_chain<B: Bank>(
    n: u32,
    bank: &B,
    (first, second): (&Account, &Account),
    pause: Duration,
    replies: &mpsc::Sender<Reply>,
    cancel: &CancellationToken,
) -> Ended {
    let mut schedule = Schedule::new(Instant::now(), pause);
    let mut step = Step::FIRST;
    loop {
        let slot = schedule.next_slot(Instant::now());
        tokio::select! {
            () = cancel.cancelled() => return Ended::Stopped,
            () = tokio::time::sleep_until(slot) => {}
        }
        let (forward, amount, token) = step.route();
        let (from, to) = if forward { (first, second) } else { (second, first) };
        let transfer = Transfer {
            username: from.username.clone(),
            token: token.map_or_else(|| from.token.clone(), String::from),
            amount,
            from: from.iban.clone(),
            to: to.iban.clone(),
            descr: "generated".into(),
        };
        let id = Uuid::new_v4();
        let answer = tokio::select! {
            () = cancel.cancelled() => return Ended::Stopped,
            answer = tokio::time::timeout(ANSWER_TIMEOUT, bank.transfer(id, &transfer)) => answer,
        };
        let lost = matches!(answer, Ok(Err(ClientError::Closed | ClientError::Connect { .. })));
        let reply = match answer {
            Ok(Ok(a)) => Reply {
                generator: n,
                latency: Some(Instant::now() - slot),
                error: !step.is_expected(a.success, a.reason.as_deref()),
                answered: Some((id, a)),
            },
            Ok(Err(_)) | Err(_) => Reply { generator: n, latency: None, error: true, answered: None },
        };
        if replies.send(reply).await.is_err() {
            return Ended::Stopped;
        }
        if lost {
            return Ended::Disconnected;
        }
        step = step.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Answers after a fixed delay; refuses everything when `refuse`, otherwise follows the chain's expectations.
    #[derive(Clone)]
    struct Scripted {
        delay: Duration,
        refuse: bool,
        sent: Arc<Mutex<Vec<Instant>>>,
    }

    impl Bank for Scripted {
        async fn transfer(&self, _id: Uuid, t: &Transfer) -> Result<Answer, super::super::client::ClientError> {
            self.sent.lock().unwrap().push(Instant::now());
            tokio::time::sleep(self.delay).await;
            let reason = if self.refuse {
                Some("insufficient funds")
            } else if t.token == "bogus-token" {
                Some("invalid token")
            } else if t.amount == 100_000 {
                Some("insufficient funds")
            } else {
                None
            };
            Ok(Answer { success: reason.is_none(), reason: reason.map(String::from) })
        }
    }

    async fn drive(delay_ms: u64, refuse: bool, for_ms: u64) -> (Vec<Instant>, Vec<Reply>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let bank = Scripted { delay: Duration::from_millis(delay_ms), refuse, sent: sent.clone() };
        let a = Account { username: "a".into(), iban: "A".into(), token: "ta".into() };
        let b = Account { username: "b".into(), iban: "B".into(), token: "tb".into() };
        let (tx, mut rx) = mpsc::channel(1024);
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(for_ms)).await;
            stop.cancel();
        });
        run_chain(1, &bank, (&a, &b), Duration::from_millis(250), &tx, &cancel).await;
        drop(tx);
        let mut replies = Vec::new();
        while let Some(r) = rx.recv().await {
            replies.push(r);
        }
        let sent = sent.lock().unwrap().clone();
        (sent, replies)
    }

    #[tokio::test(start_paused = true)]
    async fn fast_answers_keep_the_pause_and_count_no_errors() {
        let (sent, replies) = drive(20, false, 30_000).await;
        assert!(sent.windows(2).all(|w| w[1] - w[0] == Duration::from_millis(250)));
        assert_eq!(replies.len(), 120);
        assert!(replies.iter().all(|r| !r.error && r.latency == Some(Duration::from_millis(20))), "{replies:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn slow_answers_skip_slots_instead_of_bursting() {
        let (sent, replies) = drive(600, false, 10_000).await;
        // 600 ms answers on a 250 ms grid: every transfer starts on the first free slot after the last answer.
        assert!(sent.windows(2).all(|w| w[1] - w[0] == Duration::from_millis(750)), "{sent:?}");
        assert!(replies.iter().all(|r| r.latency == Some(Duration::from_millis(600))));
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_answers_are_errors_and_the_chain_goes_on() {
        let (_, replies) = drive(10, true, 5_000).await;
        assert_eq!(replies.len(), 20);
        assert!(replies.iter().all(|r| r.error && r.answered.is_some()));
    }
}
