//! A search's first warm-up: `start_rate`, second by second, until the per-second mean latencies have settled
//! ([`steady`]), judged every [`BATCH`] seconds, at most `warmup_max_s`.

use std::time::Duration;

use tokio::time::Instant;

use super::steady::{self, BATCH};
use super::{in_flight_cap, Campaign, Drain};
use crate::load::bank::Bank;
use crate::load::open::{Done, Fate, Tag};
use bench_results::Warmup;

/// The transfers offered in each second since `start`: how many, and the answers within the timeout.
struct Seconds {
    start: Instant,
    timeout: Duration,
    sent: Vec<u64>,
    /// Per second: the sum of latencies (ms) answered within the timeout, and how many.
    answered: Vec<(f64, u64)>,
    /// Per second: transfers the connection failed.
    lost: Vec<u64>,
}

impl Seconds {
    fn new(start: Instant, timeout: Duration) -> Seconds {
        Seconds { start, timeout, sent: Vec::new(), answered: Vec::new(), lost: Vec::new() }
    }

    fn record(&mut self, done: &Done) {
        let second = done.intended.saturating_duration_since(self.start).as_secs() as usize;
        if self.answered.len() <= second {
            self.answered.resize(second + 1, (0.0, 0));
            self.lost.resize(second + 1, 0);
        }
        match done.fate {
            Fate::Answered { latency, .. } if latency <= self.timeout => {
                self.answered[second].0 += latency.as_secs_f64() * 1000.0;
                self.answered[second].1 += 1;
            }
            Fate::Lost => self.lost[second] += 1,
            _ => {}
        }
    }

    /// Of the last [`BATCH`] seconds judged by `now`: nothing answered and most transfers lost. A slow system
    /// times out; one that loses what it is sent has stopped answering (a part died), and waiting longer only
    /// measures that again.
    fn dead(&self, now: Instant) -> bool {
        let judged = now.saturating_duration_since(self.start + self.timeout).as_secs() as usize;
        let last = judged.saturating_sub(BATCH)..judged.min(self.sent.len());
        let sum = |v: &[u64]| v.get(last.clone()).map_or(0, |s| s.iter().sum::<u64>());
        let answered: u64 = self.answered.get(last.clone()).map_or(0, |s| s.iter().map(|a| a.1).sum());
        let sent = sum(&self.sent);
        sent > 0 && answered == 0 && sum(&self.lost) * 2 > sent
    }

    /// The mean latency (ms) of each second whose transfers have all had their timeout by `now`, from the first;
    /// whatever was not answered within it (late, lost, never sent) counts as the timeout.
    fn complete(&self, now: Instant) -> Vec<f64> {
        let timeout_ms = self.timeout.as_secs_f64() * 1000.0;
        let judged = now.saturating_duration_since(self.start + self.timeout).as_secs() as usize;
        self.sent
            .iter()
            .take(judged)
            .enumerate()
            .map(|(second, &sent)| {
                let (sum, n) = self.answered.get(second).copied().unwrap_or_default();
                if sent == 0 {
                    0.0
                } else {
                    (sum + timeout_ms * sent.saturating_sub(n) as f64) / sent as f64
                }
            })
            .collect()
    }
}

impl<B: Bank + 'static, D: Drain> Campaign<'_, B, D> {
    /// The first warm-up, while the brokers' JIT compiles under load and the caches fill: a cold first step would
    /// fail for the cold, not for the rate. With why the search cannot go on when the deployment stopped answering.
    pub(super) async fn warm_up(&mut self) -> (Warmup, Option<String>) {
        let (start, rate) = (Instant::now(), self.cfg.warmup_rate());
        self.offerer.set_cap(in_flight_cap(rate, self.cfg));
        self.schedule.set_rate(rate, start);
        let _ = self.progress.rate.send(rate);
        // A tenth of the SLO: a drift smaller than that would not change how a step is judged.
        let limits = steady::Limits {
            timeout_ms: self.cfg.timeout().as_secs_f64() * 1000.0,
            band_ms: self.cfg.slo_p99_ms / 10.0,
        };
        let mut seconds = Seconds::new(start, self.cfg.timeout());
        let tag = Tag { step: 0, judged: false };
        let mut next = start;
        while next + Duration::from_secs(1) <= start + self.cfg.warmup_max() {
            next += Duration::from_secs(1);
            let searched = &mut self.searched;
            let sent = self
                .offerer
                .offer(&mut self.schedule, next, tag, &mut |d| {
                    searched.book(&d);
                    seconds.record(&d);
                    false
                })
                .await;
            seconds.sent.push(sent);
            if !seconds.sent.len().is_multiple_of(BATCH) {
                continue;
            }
            let now = Instant::now();
            let elapsed = start.elapsed().as_secs_f64();
            if seconds.dead(now) {
                let why =
                    format!("no transfer of the warm-up's last {BATCH} s was answered: the endpoint stopped answering");
                return (Warmup { seconds: elapsed, settled: false, steady_from_s: None }, Some(why));
            }
            if let Some(dropped) = steady::settled_after(&seconds.complete(now), limits) {
                return (Warmup { seconds: elapsed, settled: true, steady_from_s: Some(dropped as f64) }, None);
            }
        }
        (Warmup { seconds: start.elapsed().as_secs_f64(), settled: false, steady_from_s: None }, None)
    }
}
