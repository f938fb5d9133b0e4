//! The whole machine's CPU, from the aggregate `cpu` line of /proc/stat: what the stack, bench and anything else
//! on the machine used together. Against the samples of the containers and of bench over the same window it shows
//! interference: CPU another program took from the machine a run measures.

/// Cumulative CPU time of all cores since boot, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticks {
    busy: u64,
    total: u64,
    /// Time the hypervisor ran other guests while this one wanted the CPU.
    steal: u64,
}

impl Ticks {
    /// The aggregate line's first eight fields: user nice system idle iowait irq softirq steal. guest and
    /// guest_nice are left out because the kernel already counts them in user and nice. Busy is all but idle and
    /// iowait (a core waiting on the disk is free for any program).
    pub fn parse(stat: &str) -> Option<Ticks> {
        let line = stat.lines().find(|l| l.split_whitespace().next() == Some("cpu"))?;
        let fields: Vec<u64> =
            line.split_whitespace().skip(1).take(8).map(|f| f.parse().ok()).collect::<Option<_>>()?;
        let (idle, iowait) = (*fields.get(3)?, fields.get(4).copied().unwrap_or(0));
        let total: u64 = fields.iter().sum();
        let steal = fields.get(7).copied().unwrap_or(0);
        Some(Ticks { busy: total.saturating_sub(idle + iowait), total, steal })
    }

    /// The machine's ticks now; `None` without /proc (not Linux).
    pub fn read() -> Option<Ticks> {
        Ticks::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// Steal since `earlier`, in % of all cores' time; `None` when no tick passed.
    pub fn steal_pct_since(self, earlier: Ticks) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|&t| t > 0)?;
        Some(self.steal.saturating_sub(earlier.steal) as f64 / total as f64 * 100.0)
    }

    /// How busy the machine was since `earlier`, in % of all cores; `None` when no tick passed.
    pub fn busy_pct_since(self, earlier: Ticks) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|&t| t > 0)?;
        let busy = self.busy.saturating_sub(earlier.busy);
        Some(busy as f64 / total as f64 * 100.0)
    }
}

/// Processes of the container engine: they run the stack's containers (pulling stats, shims, the runtime) but
/// their CPU is in no container's cgroup, so without them an idle engine looks like another program.
const ENGINE: [&str; 5] = ["dockerd", "containerd", "containerd-shim", "runc", "docker-proxy"];

/// CPU time (user + system, clock ticks as in /proc/stat) the engine's processes used since they started.
pub fn engine_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| {
            process_ticks(&stat).filter(|(name, _)| ENGINE.iter().any(|e| name.starts_with(e))).map(|(_, t)| t)
        })
        .sum()
}

/// A /proc/<pid>/stat line's command name and utime + stime. The name is in parentheses and may hold spaces,
/// so fields are counted from the last `)`: utime and stime are the 14th and 15th fields of the line.
fn process_ticks(stat: &str) -> Option<(&str, u64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let name = stat.get(open + 1..close)?;
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    let (utime, stime) = (fields.get(11)?.parse::<u64>().ok()?, fields.get(12)?.parse::<u64>().ok()?);
    Some((name, utime + stime))
}

impl Ticks {
    /// Ticks that passed on all cores since `earlier` (the denominator of every share of the machine).
    pub fn total_since(self, earlier: Ticks) -> u64 {
        self.total.saturating_sub(earlier.total)
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
        assert_eq!(before, Ticks { busy: 1380, total: 9780, steal: 0 });
        assert_eq!(after, Ticks { busy: 1540, total: 10080, steal: 10 });
        let pct = after.busy_pct_since(before).unwrap();
        assert!((pct - 160.0 / 3.0).abs() < 1e-9, "{pct}");
        assert_eq!(before.busy_pct_since(before), None, "no tick passed");
        // Steal, the eighth field: 0 -> 10 of the 300 ticks.
        let steal = after.steal_pct_since(before).unwrap();
        assert!((steal - 10.0 / 3.0).abs() < 1e-9, "{steal}");
    }

    #[test]
    fn a_process_line_gives_its_name_and_cpu_ticks() {
        // From a real /proc/<pid>/stat, the name with a space and a parenthesis in it: utime 1234, stime 56.
        let line = "4242 (containerd-shim (x)) S 1 4242 4242 0 -1 4194560 1500 0 0 0 1234 56 0 0 20 0 11 0 777 0 0";
        assert_eq!(process_ticks(line), Some(("containerd-shim (x)", 1290)));
        assert_eq!(process_ticks("garbage"), None);
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
