//! The probe (2019's "interaction"): a cycle of ten actions on one account, each measured from its
//! intended start until the transaction shows up on the account's `stream_transactions` subscription.
//!
//! A transaction on the feed carries no command id, only amount, description and direction; the description is the
//! client's free text, so each loop's carries its loop number (`drinks #17`, 2019's word first) and a loop takes
//! only its own. A late arrival of an earlier, timed-out loop is counted as a stray and never completes a later
//! loop, even one of the same action ten loops on.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::bank::{Account, Answer, Bank, Transaction, Transfer};
use super::client::ClientError;
use topology::iban::HOUSE_IBAN;
use topology::money::euros;

/// (cents, description): five deposits from `cash`, then five transfers to the house account.
const CYCLE: [(i64, &str); 10] = [
    (1000, "deposit"),
    (2000, "deposit"),
    (5000, "deposit"),
    (10000, "deposit"),
    (20000, "deposit"),
    (1111, "drinks"),
    (2323, "parking"),
    (3489, "groceries"),
    (9999, "present"),
    (21078, "fine"),
];

/// How one probe loop ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The transaction arrived this long after the loop's intended start.
    Arrived(Duration),
    /// No transaction within the timeout, or an error on the way.
    Timeout(Cause),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    TooSlow,
    Refused(Option<String>),
    Failed(ClientError),
}

/// The probe's transfer answer, kept for the audit.
pub type Answered = Option<(Uuid, Answer)>;

pub struct Probe<B> {
    bank: B,
    account: Account,
    transactions: mpsc::Receiver<Result<Transaction, ClientError>>,
    timeout: Duration,
    strays: u64,
}

/// Loop `k`'s action: (cents, description, whether it is a deposit from `cash`).
pub fn cycle(k: u32) -> (i64, &'static str, bool) {
    let (amount, descr) = CYCLE[(k % 10) as usize];
    (amount, descr, k % 10 < 5)
}

/// The description loop `k` sends, unique within a run: `descr` followed by the loop number.
pub fn description(k: u32, descr: &str) -> String {
    format!("{descr} #{k}")
}

/// The transfer of loop `k` (counting from 0) for `account`.
pub fn action(k: u32, account: &Account) -> Transfer {
    let (amount, descr, deposit) = cycle(k);
    Transfer {
        username: account.username.clone(),
        token: if deposit { "cash".into() } else { account.token.clone() },
        amount,
        from: if deposit { "cash".into() } else { account.iban.clone() },
        to: if deposit { account.iban.clone() } else { HOUSE_IBAN.into() },
        descr: description(k, descr),
    }
}

impl<B: Bank> Probe<B> {
    pub fn new(
        bank: B,
        account: Account,
        transactions: mpsc::Receiver<Result<Transaction, ClientError>>,
        timeout: Duration,
    ) -> Self {
        Probe { bank, account, transactions, timeout, strays: 0 }
    }

    /// Transactions that arrived during a loop but were another loop's (late arrivals of timed-out loops).
    pub fn strays(&self) -> u64 {
        self.strays
    }

    /// Runs loop `k` whose intended start is `start` (sending happens at once: the caller waited for the slot).
    pub async fn run(&mut self, k: u32, start: Instant) -> (Outcome, Answered) {
        let transfer = action(k, &self.account);
        let wanted =
            Transaction { changed_by: euros(transfer.amount), descr: transfer.descr.clone(), credit: k % 10 < 5 };
        let id = Uuid::new_v4();
        let deadline = start + self.timeout;
        let answer = self.bank.transfer(id, &transfer);
        tokio::pin!(answer);
        let mut answered: Answered = None;
        loop {
            tokio::select! {
                result = &mut answer, if answered.is_none() => match result {
                    Ok(a) if a.success => answered = Some((id, a)),
                    Ok(a) => return (Outcome::Timeout(Cause::Refused(a.reason.clone())), Some((id, a))),
                    Err(e) => return (Outcome::Timeout(Cause::Failed(e)), None),
                },
                arrival = self.transactions.recv() => match arrival {
                    Some(Ok(t)) if t == wanted => return (Outcome::Arrived(Instant::now() - start), answered),
                    Some(Ok(other)) => {
                        self.strays += 1;
                        tracing::debug!(k, descr = other.descr, "a transaction of another probe loop arrived late");
                    }
                    Some(Err(e)) => return (Outcome::Timeout(Cause::Failed(e)), answered),
                    None => return (Outcome::Timeout(Cause::Failed(ClientError::Closed)), answered),
                },
                () = tokio::time::sleep_until(deadline) => return (Outcome::Timeout(Cause::TooSlow), answered),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    /// Answers after `answer_after`; the n-th call's transaction is pushed `arrivals[n]` after the call (none when
    /// that is `None` or the script ran out).
    #[derive(Clone)]
    struct Scripted {
        answer_after: Duration,
        arrivals: Arc<Mutex<VecDeque<Option<Duration>>>>,
        refuse: bool,
        feed: mpsc::Sender<Result<Transaction, ClientError>>,
        sent: Arc<Mutex<Vec<(Instant, Transfer)>>>,
    }

    impl Bank for Scripted {
        async fn transfer(&self, _id: Uuid, t: &Transfer) -> Result<Answer, ClientError> {
            self.sent.lock().unwrap().push((Instant::now(), t.clone()));
            if let Some(after) = self.arrivals.lock().unwrap().pop_front().flatten() {
                let (feed, t) = (self.feed.clone(), t.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let credit = t.from == "cash";
                    let _ = feed.send(Ok(Transaction { changed_by: euros(t.amount), descr: t.descr, credit })).await;
                });
            }
            tokio::time::sleep(self.answer_after).await;
            Ok(Answer { success: !self.refuse, reason: self.refuse.then(|| "insufficient funds".to_string()) })
        }
    }

    type Sent = Arc<Mutex<Vec<(Instant, Transfer)>>>;

    fn probe(answer_ms: u64, arrivals_ms: &[Option<u64>], refuse: bool) -> (Probe<Scripted>, Sent) {
        let (feed, transactions) = mpsc::channel(16);
        let sent = Arc::new(Mutex::new(Vec::new()));
        let bank = Scripted {
            answer_after: Duration::from_millis(answer_ms),
            arrivals: Arc::new(Mutex::new(arrivals_ms.iter().map(|a| a.map(Duration::from_millis)).collect())),
            refuse,
            feed,
            sent: sent.clone(),
        };
        let account = Account { username: "testuser".into(), iban: "NL07OPEN0123456789".into(), token: "t".into() };
        (Probe::new(bank, account, transactions, Duration::from_millis(5000)), sent)
    }

    #[tokio::test(start_paused = true)]
    async fn latency_runs_from_the_intended_start_to_the_transaction() {
        let (mut p, _) = probe(30, &[Some(80)], false);
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(5)).await; // the harness was late by 5 ms
        let (outcome, answered) = p.run(0, start).await;
        assert_eq!(outcome, Outcome::Arrived(Duration::from_millis(85)));
        assert!(answered.is_some_and(|(_, a)| a.success));
    }

    #[tokio::test(start_paused = true)]
    async fn no_transaction_within_the_timeout_is_a_timeout() {
        let (mut p, _) = probe(30, &[Some(6000), None], false);
        let start = Instant::now();
        let (outcome, _) = p.run(7, start).await;
        assert_eq!(outcome, Outcome::Timeout(Cause::TooSlow));
        assert_eq!(Instant::now() - start, Duration::from_millis(5000));
        // Loop 7's transaction arrives late, while nobody waits for it; loop 17 (the same action) must not take it
        // for its own, which would read as an arrival after 0 ms.
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let (outcome, _) = p.run(17, Instant::now()).await;
        assert_eq!(outcome, Outcome::Timeout(Cause::TooSlow));
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_arrival_during_a_later_loop_is_not_that_loops() {
        // Loop 7 times out at 5 s; its transaction comes at 6 s, while loop 17 (the same groceries payment, sent at
        // 5 s) waits for its own, which comes at 8 s: loop 17 took 3 s, not the 1 s to loop 7's arrival.
        let (mut p, sent) = probe(30, &[Some(6000), Some(3000)], false);
        let start = Instant::now();
        assert_eq!(p.run(7, start).await.0, Outcome::Timeout(Cause::TooSlow));
        let (outcome, _) = p.run(17, Instant::now()).await;
        assert_eq!(outcome, Outcome::Arrived(Duration::from_millis(3000)));
        assert_eq!(p.strays(), 1, "loop 7's arrival is counted as another loop's");
        let sent = sent.lock().unwrap();
        assert_eq!((sent[0].1.amount, sent[1].1.amount), (3489, 3489), "both loops send the same payment");
        assert_eq!((sent[0].1.descr.as_str(), sent[1].1.descr.as_str()), ("groceries #7", "groceries #17"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_a_timeout_at_once() {
        let (mut p, _) = probe(40, &[None], true);
        let start = Instant::now();
        let (outcome, answered) = p.run(5, start).await;
        assert_eq!(outcome, Outcome::Timeout(Cause::Refused(Some("insufficient funds".into()))));
        assert_eq!(Instant::now() - start, Duration::from_millis(40));
        assert!(answered.is_some_and(|(_, a)| !a.success));
    }

    #[test]
    fn the_cycle_deposits_then_pays_the_house() {
        let account = Account { username: "u".into(), iban: "NL07OPEN0123456789".into(), token: "tok".into() };
        let deposit = action(12, &account);
        assert_eq!(
            (deposit.amount, deposit.from.as_str(), deposit.token.as_str(), deposit.to.as_str()),
            (5000, "cash", "cash", account.iban.as_str())
        );
        let fine = action(9, &account);
        assert_eq!(
            (fine.amount, fine.descr.as_str(), fine.to.as_str(), fine.token.as_str()),
            (21078, "fine #9", HOUSE_IBAN, "tok")
        );
        let total_in: i64 = (0..5).map(|k| action(k, &account).amount).sum();
        let total_out: i64 = (5..10).map(|k| action(k, &account).amount).sum();
        assert_eq!(total_in, total_out, "a cycle leaves the probe's balance where it was");
    }
}
