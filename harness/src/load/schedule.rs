//! Slots on a fixed grid. Work that overran takes the next free slot instead of bursting through the missed
//! ones (2019 did burst), so the load does not grow exactly when the system is slow.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Schedule {
    start: Instant,
    interval: Duration,
    /// Index of the next slot not yet handed out.
    next: u32,
}

impl Schedule {
    pub fn new(start: Instant, interval: Duration) -> Schedule {
        Schedule { start, interval, next: 0 }
    }

    /// The next slot that is not in the past at `now` (the intended start of the next piece of work).
    pub fn next_slot(&mut self, now: Instant) -> Instant {
        let due = self.slot(self.next);
        if due >= now {
            self.next += 1;
            return due;
        }
        let elapsed = now.duration_since(self.start).as_nanos();
        let step = self.interval.as_nanos().max(1);
        let index = u32::try_from(elapsed.div_ceil(step)).unwrap_or(u32::MAX);
        self.next = index.saturating_add(1);
        self.slot(index)
    }

    fn slot(&self, index: u32) -> Instant {
        self.start + self.interval * index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_follow_the_grid_and_skip_missed_ones() {
        let start = Instant::now();
        let mut s = Schedule::new(start, Duration::from_millis(100));
        assert_eq!(s.next_slot(start), start);
        assert_eq!(s.next_slot(start + Duration::from_millis(10)), start + Duration::from_millis(100));
        // Work overran to 350 ms: slots 200 and 300 are skipped, not replayed.
        assert_eq!(s.next_slot(start + Duration::from_millis(350)), start + Duration::from_millis(400));
        assert_eq!(s.next_slot(start + Duration::from_millis(400)), start + Duration::from_millis(500));
        // Exactly on a slot boundary that is taken already: the one after it.
        assert_eq!(s.next_slot(start + Duration::from_millis(600)), start + Duration::from_millis(600));
    }
}
