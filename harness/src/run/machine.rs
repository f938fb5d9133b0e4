//! The whole machine's CPU, from the aggregate `cpu` line of /proc/stat: what the stack, bench and anything else
//! on the machine used together. Against the samples of the containers and of bench over the same window it shows
//! interference: CPU another program took from the machine a run measures.

/// Cumulative CPU time of all cores since boot, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticks {
    busy: u64,
    total: u64,
}

impl Ticks {
    /// The aggregate line's first eight fields: user nice system idle iowait irq softirq steal. guest and
    /// guest_nice are left out because the kernel already counts them in user and nice. Busy is all but idle and
    /// iowait (a core waiting on the disk is free for any program).
    pub fn parse(stat: &str) -> Option<Ticks> {
        let line = stat.lines().find(|l| l.split_whitespace().next() == Some("cpu"))?;
        let fields: Vec<u64> = line.split_whitespace().skip(1).take(8).map(|f| f.parse().ok()).collect::<Option<_>>()?;
        let (idle, iowait) = (*fields.get(3)?, fields.get(4).copied().unwrap_or(0));
        let total: u64 = fields.iter().sum();
        Some(Ticks { busy: total.saturating_sub(idle + iowait), total })
    }

    /// The machine's ticks now; `None` without /proc (not Linux).
    pub fn read() -> Option<Ticks> {
        Ticks::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// How busy the machine was since `earlier`, in % of all cores; `None` when no tick passed.
    pub fn busy_pct_since(self, earlier: Ticks) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|&t| t > 0)?;
        let busy = self.busy.saturating_sub(earlier.busy);
        Some(busy as f64 / total as f64 * 100.0)
    }
}

/// What neither the containers nor bench used of the machine's busy share (all in % of the machine). Never below
/// 0: the engine's readings and /proc/stat's cover nearly, not exactly, the same window.
pub fn interference_pct(machine_pct: f64, containers_pct: f64, bench_pct: f64) -> f64 {
    (machine_pct - containers_pct - bench_pct).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "cpu  1000 20 300 8000 400 10 50 0 90 0
cpu0 500 10 150 4000 200 5 25 0 45 0
cpu1 500 10 150 4000 200 5 25 0 45 0
intr 123456 0 0
ctxt 987654
";

    const AFTER: &str = "cpu  1100 20 340 8120 420 10 60 10 130 0
cpu0 550 10 170 4060 210 5 30 5 65 0
cpu1 550 10 170 4060 210 5 30 5 65 0
intr 123999 0 0
";

    #[test]
    fn busy_is_all_but_idle_and_iowait_over_the_aggregate_line() {
        let (before, after) = (Ticks::parse(BEFORE).unwrap(), Ticks::parse(AFTER).unwrap());
        // Totals without guest: 9780 before, 10080 after, so 300 ticks passed. Busy: 1380 before
        // (1000+20+300+10+50+0), 1540 after (1100+20+340+10+60+10): 160 of 300 = 53.33 %. Guest (90 -> 130)
        // is already in user and must not count twice.
        assert_eq!(before, Ticks { busy: 1380, total: 9780 });
        assert_eq!(after, Ticks { busy: 1540, total: 10080 });
        let pct = after.busy_pct_since(before).unwrap();
        assert!((pct - 160.0 / 3.0).abs() < 1e-9, "{pct}");
        assert_eq!(before.busy_pct_since(before), None, "no tick passed");
    }

    #[test]
    fn other_text_is_no_reading_and_interference_is_never_negative() {
        assert_eq!(Ticks::parse("cpu0 1 2 3 4\n"), None);
        assert_eq!(Ticks::parse("cpu  1 x 3 4\n"), None);
        assert!(Ticks::read().is_some(), "this machine has /proc/stat");
        assert!((interference_pct(60.0, 40.0, 5.0) - 15.0).abs() < 1e-9);
        assert_eq!(interference_pct(40.0, 38.0, 5.0), 0.0);
    }
}
