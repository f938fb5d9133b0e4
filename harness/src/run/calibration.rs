//! The machine's fingerprint in a results header: the CPU, the kernel, and a fixed workload timed on one core before
//! the stack comes up. Two runs whose calibrations differ ran on machines (or days) that differ, whatever their
//! settings; the report says by how much.

use std::hint::black_box;
use std::time::Instant;

use bench_results::Calibration;

/// Timings per figure; the median is kept, so one preempted round does not move it.
const ROUNDS: u32 = 5;
/// Steps of the integer workload: about 40 ms a round on a 2020s server core.
const CPU_STEPS: u64 = 40_000_000;
/// 64 MiB of `u32` slots: far beyond any cache, so each dependent read goes to memory.
const MEMORY_SLOTS: usize = 16 << 20;
/// Dependent reads per round: about 50 ms at 100 ns each.
const MEMORY_READS: usize = 500_000;

/// Times the fixed work [`ROUNDS`] times: under a second in all.
pub fn calibrate() -> Calibration {
    let cycle = memory_cycle();
    let cpu_ms = median(|| timed(|| cpu_work(CPU_STEPS)));
    let memory_ms = median(|| timed(|| walk(&cycle, MEMORY_READS)));
    Calibration { cpu_ms, memory_ms, rounds: ROUNDS }
}

fn timed(work: impl FnOnce() -> u64) -> f64 {
    let start = Instant::now();
    black_box(work());
    start.elapsed().as_secs_f64() * 1000.0
}

fn median(mut round: impl FnMut() -> f64) -> f64 {
    let mut times: Vec<f64> = (0..ROUNDS).map(|_| round()).collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// xorshift64 steps folded into a sum: a chain of dependent integer operations the compiler cannot skip.
fn cpu_work(steps: u64) -> u64 {
    let (mut x, mut sum) = (black_box(0x9E37_79B9_7F4A_7C15_u64), 0_u64);
    for _ in 0..steps {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum = sum.wrapping_add(x);
    }
    sum
}

/// One cycle through every slot in a fixed pseudo-random order (Sattolo's shuffle with a fixed generator), so
/// the hardware cannot prefetch the next read.
fn memory_cycle() -> Vec<u32> {
    let mut next: Vec<u32> = (0..MEMORY_SLOTS as u32).collect();
    let mut x = 0x2545_F491_4F6C_DD1D_u64;
    for i in (1..MEMORY_SLOTS).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % i as u64) as usize;
        next.swap(i, j);
    }
    next
}

fn walk(cycle: &[u32], reads: usize) -> u64 {
    let mut at = 0_u32;
    for _ in 0..reads {
        at = cycle[at as usize];
    }
    u64::from(at)
}

/// The `model name` of /proc/cpuinfo's first processor.
pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string()).filter(|m| !m.is_empty())
}

pub fn kernel() -> Option<String> {
    Some(std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?.trim().to_string()).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cycle_visits_every_slot_once() {
        // Sattolo's shuffle makes one cycle: following it from 0 returns to 0 after exactly every slot.
        let cycle = memory_cycle();
        let (mut at, mut steps) = (cycle[0], 1_usize);
        while at != 0 {
            at = cycle[at as usize];
            steps += 1;
        }
        assert_eq!(steps, MEMORY_SLOTS);
    }

    #[test]
    fn the_work_is_fixed() {
        // The same work on every machine: five steps of xorshift64 (13, 7, 17) from the golden-ratio seed, summed,
        // as worked out apart from this code (Python's integers masked to 64 bits).
        assert_eq!(cpu_work(5), 1_827_987_446_663_816_889);
        let c = calibrate();
        assert!(c.cpu_ms > 0.0 && c.memory_ms > 0.0 && c.rounds == ROUNDS, "{c:?}");
    }

    #[test]
    fn the_machine_names_its_cpu_and_kernel() {
        assert!(cpu_model().is_some_and(|m| !m.contains(':')), "{:?}", cpu_model());
        assert!(kernel().is_some_and(|k| k.chars().next().is_some_and(|c| c.is_ascii_digit())), "{:?}", kernel());
    }
}
