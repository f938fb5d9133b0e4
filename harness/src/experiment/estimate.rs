//! How long a run takes: a bound from the settings, and what earlier runs of the same variant took.
//!
//! The load ends at `max_loops` at the latest, usually earlier by its timeouts; bring-up and the audit add
//! about a minute. Earlier runs (their header's bring-up time and end line's duration) say what is typical.

use std::time::Duration;

use super::{Experiment, Search};

/// Bring-up of one broker's stack on the reference machine (2 cores) took 10 s; each further broker adds
/// about 5 s (they start one after another so their logs stay readable).
const BRING_UP_FIRST: Duration = Duration::from_secs(10);
const BRING_UP_PER_BROKER: Duration = Duration::from_secs(5);
/// The audit waits at most 30 s for db-ge to catch up; teardown takes a few seconds more.
pub const AFTER_LOAD: Duration = Duration::from_secs(40);

/// The longest one run of these settings can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub bring_up: Duration,
    pub load: Duration,
    pub after: Duration,
}

impl Bound {
    pub fn of(e: &Experiment) -> Bound {
        let load = match &e.search {
            Some(search) => search_bound(search),
            None => e.load.probe_interval().saturating_mul(e.load.max_loops) + e.load.probe_timeout(),
        };
        Bound {
            bring_up: BRING_UP_FIRST + BRING_UP_PER_BROKER * e.stack.brokers.saturating_sub(1),
            load,
            after: AFTER_LOAD,
        }
    }

    pub fn total(&self) -> Duration {
        self.bring_up + self.load + self.after
    }
}

/// Opening the open model's connections and accounts (an account's password hash takes the endpoint ~50 ms,
/// two at a time).
pub const POOL_SETUP: Duration = Duration::from_secs(15);

/// The longest a search can take: the pool, the first warm-up (at most `warmup_max_s`), and at most `steps_bound` steps, each with its
/// warm-up, its dwell and waiting out its last answers (at most the timeout), with a drain between steps; at the
/// end, the answers still in flight (at most the timeout again).
pub fn search_bound(s: &Search) -> Duration {
    let steps = s.steps_bound();
    let step = s.warmup() + s.dwell() + s.timeout();
    // The first warm-up's last window may start just before its budget ends and wait out its timeout.
    let first_warmup = s.warmup_max() + s.timeout();
    POOL_SETUP + first_warmup + step * steps + s.drain_timeout() * steps.saturating_sub(1) + s.timeout()
}

/// Generators running when the load reaches `max_loops`: the most a run of these settings can sustain.
pub fn max_generators(e: &Experiment) -> u32 {
    (e.load.max_loops / e.load.loops_per_generator).saturating_mul(e.load.generators_per_step)
}

/// `1h 40m`, `2m 05s`, `40s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_2019_run_is_bounded_by_its_loops() {
        let e: Experiment = toml::from_str("name = \"linger\"").unwrap();
        let b = Bound::of(&e);
        assert_eq!(b.load, Duration::from_secs(6005));
        assert_eq!(b.bring_up, Duration::from_secs(20));
        assert_eq!(human(b.total()), "1h 41m");
        assert_eq!(max_generators(&e), 100);
    }

    #[test]
    fn a_search_is_bounded_by_its_steps() {
        let e: Experiment = toml::from_str(
            "name = \"s\"\n[load]\nmodel = \"open\"\n[search]\nstart_rate = 250\nmax_rate = 8000\nwarmup_s = 3\ndwell_s = 10\ntimeout_ms = 2000\ndrain_timeout_s = 15\nmax_steps = 12",
        )
        .unwrap();
        // 250 .. 8000 is 5 doublings: 6 steps growing; bisecting a doubling to 5 % takes 5, each may be confirmed: 12 at most.
        let search = e.search.as_ref().unwrap();
        assert_eq!(search.steps_bound(), 12);
        // The first warm-up: at most warmup_max_s (120 by default) and one timeout.
        assert_eq!(Bound::of(&e).load, Duration::from_secs(15 + (120 + 2) + 12 * (3 + 10 + 2) + 11 * 15 + 2));
    }

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(human(Duration::from_secs(40)), "40s");
        assert_eq!(human(Duration::from_secs(125)), "2m 05s");
        assert_eq!(human(Duration::from_secs(3600 * 66 + 60 * 40)), "66h 40m");
    }
}
