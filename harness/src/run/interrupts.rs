//! Ctrl-C and SIGTERM during runs. The first signal ends the current phase early: bring-up is abandoned, the
//! wait for the probe's and the pool's first answers is given up (the run ends before its load, unaudited), the
//! load stops, an audit that was not itself started by an interrupted load is skipped. An interrupted load's
//! audit still runs (it checks the books the load left) unless a second signal comes. Teardown is never cut
//! short: it is what leaves nothing running.

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct Interrupts {
    /// Cancelled at the first signal.
    pub first: CancellationToken,
    /// Cancelled at the second.
    pub second: CancellationToken,
}

impl Interrupts {
    /// Records one more signal; returns how many there have been.
    pub fn signal(&self) -> u32 {
        if !self.first.is_cancelled() {
            self.first.cancel();
            1
        } else if !self.second.is_cancelled() {
            self.second.cancel();
            2
        } else {
            3
        }
    }

    pub fn interrupted(&self) -> bool {
        self.first.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_cancel_first_then_second() {
        let i = Interrupts::default();
        assert!(!i.interrupted());
        assert_eq!(i.signal(), 1);
        assert!(i.first.is_cancelled() && !i.second.is_cancelled());
        assert_eq!(i.signal(), 2);
        assert!(i.second.is_cancelled());
        assert_eq!(i.signal(), 3);
    }
}
