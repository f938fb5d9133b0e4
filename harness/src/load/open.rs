//! The open model's offered load (docs/guide.md): transfers arrive on a schedule of their own, whatever the answers,
//! spread over a pool of websockets and accounts. Each is measured from its intended send time, so a stall counts
//! against every transfer scheduled during it (no coordinated omission), and how late bench itself sent it is
//! recorded beside.
//!
//! The transfers form a ring: transfer `k` moves 1 cent from account `k mod n` to the next account, so every account
//! sends as much as it receives and no balance drifts towards its limit whatever order the bank applies them in;
//! every tenth round of the ring carries a wrong token and must fail with `invalid token`. Every outcome is known in advance, so a
//! wrong answer is an error.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::SeedableRng;
use statrs::distribution::Exp;
use tokio::time::Instant;
use uuid::Uuid;

use super::bank::{Account, Answer, Bank, Transfer};
use crate::experiment::Arrivals;

/// An answer may take as long as the endpoint's own limit (30 s) and a little more; the audit wants it even when the
/// step that sent it judged it a timeout long before.
pub const ANSWER_LIMIT: Duration = Duration::from_secs(35);

/// tokio's timer ticks every millisecond and wakes at the first tick at or after a deadline; waking for a transfer
/// half a tick early and sending what is due within half a tick puts every send within half a tick of its
/// schedule instead of up to a whole tick late.
const HALF_TICK: Duration = Duration::from_micros(500);

/// Transfers in flight above this are never sent, whatever the rate: bench's memory stays bounded.
pub const MAX_IN_FLIGHT: usize = 50_000;

/// What a transfer must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Success,
    /// A failure with this reason.
    Refused(&'static str),
}

impl Expect {
    pub fn is_met_by(self, answer: &Answer) -> bool {
        match self {
            Expect::Success => answer.success,
            Expect::Refused(reason) => !answer.success && answer.reason.as_deref() == Some(reason),
        }
    }
}

/// The ring of transfers between the pool's accounts.
#[derive(Debug, Clone)]
pub struct Ring {
    accounts: Vec<Account>,
}

impl Ring {
    /// # Panics
    /// With fewer than two accounts (the experiment file is validated against that).
    pub fn new(accounts: Vec<Account>) -> Ring {
        assert!(accounts.len() >= 2, "a ring needs two accounts");
        Ring { accounts }
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// Transfer `k` and what it must produce.
    pub fn transfer(&self, k: u64) -> (Transfer, Expect) {
        let n = self.accounts.len() as u64;
        let from = &self.accounts[(k % n) as usize];
        let to = &self.accounts[((k + 1) % n) as usize];
        // Every tenth round of the ring, not every tenth transfer: a whole round skips, so no account sends less
        // than it receives.
        let bogus = (k / n) % 10 == 9;
        let transfer = Transfer {
            username: from.username.clone(),
            token: if bogus { "bogus-token".to_string() } else { from.token.clone() },
            amount: 1,
            from: from.iban.clone(),
            to: to.iban.clone(),
            descr: "offered".into(),
        };
        (transfer, if bogus { Expect::Refused("invalid token") } else { Expect::Success })
    }
}

/// Intended send times at one rate: evenly spaced, or a Poisson process.
pub struct Schedule {
    kind: Arrivals,
    rate: f64,
    next: Instant,
    rng: StdRng,
}

impl Schedule {
    /// `seed` makes a run's Poisson gaps repeatable.
    pub fn new(kind: Arrivals, seed: u64) -> Schedule {
        Schedule { kind, rate: 0.0, next: Instant::now(), rng: StdRng::seed_from_u64(seed) }
    }

    /// Offers `rate` from `from` on, the first transfer at `from` (a new rate starts afresh: no catching up on the
    /// old one's schedule).
    pub fn set_rate(&mut self, rate: f64, from: Instant) {
        self.rate = rate;
        self.next = from;
    }

    /// The next intended send time (not yet handed out).
    pub fn peek(&self) -> Instant {
        self.next
    }

    /// Hands out the next intended send time.
    pub fn take(&mut self) -> Instant {
        let at = self.next;
        self.advance();
        at
    }

    fn advance(&mut self) {
        let gap = match self.kind {
            Arrivals::Uniform => 1.0 / self.rate,
            Arrivals::Poisson => match Exp::new(self.rate) {
                Ok(exp) => rand::distributions::Distribution::sample(&exp, &mut self.rng),
                Err(_) => 1.0 / self.rate,
            },
        };
        self.next += Duration::from_secs_f64(gap.clamp(0.0, 3600.0));
    }
}

/// Which measurement a transfer belongs to: step `step` (0: the initial warm-up or a drain's canaries), and whether
/// it was scheduled in that step's dwell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub step: u32,
    pub judged: bool,
}

/// How one offered transfer ended.
#[derive(Debug, Clone)]
pub enum Fate {
    /// Answered this long after its intended send time (or after it was sent, when that was up to half a timer
    /// tick earlier: never shorter than the real wait); `right` when the answer was the expected one.
    Answered { latency: Duration, right: bool, id: Uuid, answer: Answer },
    /// No answer within [`ANSWER_LIMIT`].
    NoAnswer,
    /// The connection failed it.
    Lost,
    /// Not sent at all: too many in flight.
    NotSent,
}

/// One offered transfer, done.
#[derive(Debug, Clone)]
pub struct Done {
    pub tag: Tag,
    pub intended: Instant,
    /// How late bench sent it behind its intended time.
    pub lag: Duration,
    pub fate: Fate,
}

/// Offers transfers over a pool of connections and keeps them in flight until each is done.
pub struct Offerer<B> {
    banks: Arc<[B]>,
    ring: Arc<Ring>,
    next: u64,
    in_flight: FuturesUnordered<BoxFuture<'static, Done>>,
    cap: usize,
}

impl<B: Bank + 'static> Offerer<B> {
    /// # Panics
    /// Without any connection.
    pub fn new(banks: Vec<B>, ring: Ring) -> Offerer<B> {
        assert!(!banks.is_empty(), "an offerer needs a connection");
        Offerer {
            banks: banks.into(),
            ring: Arc::new(ring),
            next: 0,
            in_flight: FuturesUnordered::new(),
            cap: MAX_IN_FLIGHT,
        }
    }

    /// Sends nothing while `cap` transfers are in flight (at most [`MAX_IN_FLIGHT`]); what is not sent is done at
    /// once as [`Fate::NotSent`]. By Little's law, more in flight than rate × timeout means the mean wait is beyond
    /// the timeout, so each further transfer could only be a timeout; sending it anyway only piles work on a system
    /// that has already failed the step (the endpoint was killed for memory at 8,000 tx/s offered with 80,000 in
    /// flight).
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.clamp(1, MAX_IN_FLIGHT);
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    pub fn accounts(&self) -> usize {
        self.ring.accounts().len()
    }

    /// Offers transfers at `schedule`'s times until `until`, tagged `tag`; returns how many it handed out. Every
    /// transfer that finishes meanwhile (of this or an earlier phase) goes to `done`, which ends the phase early by
    /// returning `true`.
    pub async fn offer(
        &mut self,
        schedule: &mut Schedule,
        until: Instant,
        tag: Tag,
        done: &mut impl FnMut(Done) -> bool,
    ) -> u64 {
        let mut handed = 0;
        loop {
            let due = schedule.peek().min(until);
            tokio::select! {
                biased;
                () = tokio::time::sleep_until(due.checked_sub(HALF_TICK).unwrap_or(due)) => {
                    if due >= until {
                        return handed;
                    }
                    // Everything due by now (within half a tick) goes out at once: a late bench catches up, and
                    // its lag is recorded.
                    let now = Instant::now();
                    while schedule.peek() <= now + HALF_TICK && schedule.peek() < until {
                        let intended = schedule.take();
                        self.send(intended, now, tag, done);
                        handed += 1;
                    }
                }
                Some(finished) = self.in_flight.next() => {
                    if done(finished) {
                        return handed;
                    }
                }
            }
        }
    }

    /// Collects what finishes, sending nothing, until nothing is in flight or `until`; whether nothing is.
    pub async fn empty(&mut self, until: Instant, done: &mut impl FnMut(Done) -> bool) -> bool {
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return self.in_flight.is_empty(),
                finished = self.in_flight.next() => match finished {
                    Some(finished) => {
                        done(finished);
                    }
                    None => return true,
                },
            }
        }
    }

    /// One transfer from every account, sent now (a drain's canaries: each answer means the commands queued
    /// before it under that account's key were worked off).
    pub fn canaries(&mut self, done: &mut impl FnMut(Done) -> bool) {
        let now = Instant::now();
        for _ in 0..self.accounts() {
            self.send(now, now, Tag { step: 0, judged: false }, done);
        }
    }

    fn send(&mut self, intended: Instant, now: Instant, tag: Tag, done: &mut impl FnMut(Done) -> bool) {
        let lag = now.saturating_duration_since(intended);
        if self.in_flight.len() >= self.cap {
            done(Done { tag, intended, lag, fate: Fate::NotSent });
            return;
        }
        let k = self.next;
        self.next += 1;
        let (banks, ring) = (self.banks.clone(), self.ring.clone());
        self.in_flight.push(Box::pin(async move {
            let (transfer, expect) = ring.transfer(k);
            let bank = &banks[(k % banks.len() as u64) as usize];
            let id = Uuid::new_v4();
            let from = intended.min(now);
            let fate = match tokio::time::timeout_at(intended + ANSWER_LIMIT, bank.transfer(id, &transfer)).await {
                Ok(Ok(answer)) => {
                    Fate::Answered { latency: Instant::now() - from, right: expect.is_met_by(&answer), id, answer }
                }
                Ok(Err(_)) => Fate::Lost,
                Err(_) => Fate::NoAnswer,
            };
            Done { tag, intended, lag, fate }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(n: usize) -> Vec<Account> {
        (0..n)
            .map(|i| Account { username: format!("u{i}"), iban: format!("iban{i}"), token: format!("t{i}") })
            .collect()
    }

    #[test]
    fn the_ring_balances_every_account_and_knows_each_outcome() {
        let ring = Ring::new(accounts(4));
        let mut net = [0i64; 4];
        for k in 0..400 {
            let (t, expect) = ring.transfer(k);
            if expect == Expect::Success {
                net[t.from[4..].parse::<usize>().unwrap()] -= t.amount;
                net[t.to[4..].parse::<usize>().unwrap()] += t.amount;
            } else {
                assert_eq!((t.token.as_str(), expect), ("bogus-token", Expect::Refused("invalid token")));
            }
        }
        // 100 rounds of 4, every tenth refused: each account sends 90 cents and receives 90.
        assert_eq!(net, [0; 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn uniform_arrivals_are_evenly_spaced_and_poisson_ones_keep_the_rate() {
        let start = Instant::now();
        let mut uniform = Schedule::new(Arrivals::Uniform, 1);
        uniform.set_rate(100.0, start);
        let times: Vec<Instant> = (0..101).map(|_| uniform.take()).collect();
        assert_eq!(times[0], start);
        assert_eq!(times[1] - times[0], Duration::from_millis(10));
        assert_eq!(times[100] - start, Duration::from_secs(1));
        let mut poisson = Schedule::new(Arrivals::Poisson, 7);
        poisson.set_rate(1000.0, start);
        let mut n = 0;
        while poisson.take() < start + Duration::from_secs(10) {
            n += 1;
        }
        // 10,000 expected, sd 100: four sd either side.
        assert!((9_600..=10_400).contains(&n), "{n} arrivals in 10 s at 1,000/s");
    }
}
